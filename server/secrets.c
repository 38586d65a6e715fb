#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/atrest.h"
#include "owb/fileio.h"
#include "owb/keyfile.h"
#include "owb/mem.h"

struct owb_master {
    uint8_t seal_key[OWB_ATREST_KEY_BYTES];
    uint8_t fp_key[32];
    uint8_t row_key[32]; /* rowmac.h */
};

static const char master_ctx[crypto_kdf_CONTEXTBYTES] = {'o', 'w', 'b', 'm', 'a', 's', 't', 'r'};
static const char check_plain[] = "owb master key check v1";

const char *owb_key_path(const char *flag, const char *env_name, const char *credential,
                         const char *fallback, char *buf, size_t cap)
{
    const char *env = getenv(env_name);
    const char *creds = getenv("CREDENTIALS_DIRECTORY");

    if (flag && *flag)
        return flag;
    if (env && *env)
        return env;
    if (creds && *creds) {
        snprintf(buf, cap, "%s/%s", creds, credential);
        return buf;
    }
    return fallback;
}

const char *owb_master_path(const char *flag, char *buf, size_t cap)
{
    return owb_key_path(flag, "OWB_MASTER_KEY_FILE", "owb-master-key", "owb-master.key", buf, cap);
}

enum owb_err owb_secret_file_create(const char *path, size_t len, char *diag)
{
    uint8_t key[64];
    enum owb_err rc;

    if (len > sizeof key)
        return OWB_ERR_INVALID_ARG;
    randombytes_buf(key, len);
    rc = owb_file_write_atomic(path, key, len, 0600, OWB_WRITE_NO_REPLACE);
    sodium_memzero(key, sizeof key);
    if (rc == OWB_ERR_EXISTS)
        owb_diagf(diag, "%s: already exists; not replaced", path);
    else if (rc != OWB_OK)
        owb_diagf(diag, "%s: cannot write: %s", path, strerror(errno));
    return rc;
}

enum owb_err owb_secret_file_read(const char *path, const char *what, uint8_t *raw, size_t len,
                                  char *diag)
{
    uint8_t *buf = NULL;
    struct stat st;
    ssize_t n = 0;
    size_t got = 0;
    int fd;
    enum owb_err rc = OWB_ERR_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        owb_diagf(diag, "%s: %s (create one with 'owb-server init')", path, strerror(errno));
        return errno == ENOENT ? OWB_ERR_NOENT : OWB_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        owb_diagf(diag, "%s: not a regular file", path);
        rc = OWB_ERR_BAD_FILE;
        goto out;
    }
    if (st.st_mode & 077) {
        owb_diagf(diag,
                  "%s: readable or writable by group or others (mode %04o); run chmod 600 on it",
                  path, (unsigned)(st.st_mode & 07777));
        rc = OWB_ERR_PERM;
        goto out;
    }
    buf = owb_secret_alloc(len + 1);
    if (!buf) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    /* One byte more than a key, to tell a longer file. */
    while (got < len + 1 && (n = read(fd, buf + got, len + 1 - got)) > 0)
        got += (size_t)n;
    if (n < 0 || got != len) {
        owb_diagf(diag, "%s: not a %s (must be exactly %zu bytes)", path, what, len);
        rc = OWB_ERR_BAD_FILE;
        goto out;
    }
    memcpy(raw, buf, len);
    rc = OWB_OK;
out:
    if (buf)
        owb_secret_free(buf);
    close(fd);
    return rc;
}

enum owb_err owb_master_create(const char *path, char *diag)
{
    return owb_secret_file_create(path, OWB_MASTER_KEY_BYTES, diag);
}

enum owb_err owb_master_load(const char *path, struct owb_master **out, char *diag)
{
    struct owb_master *m = owb_secret_alloc(sizeof *m);
    uint8_t *raw = owb_secret_alloc(OWB_MASTER_KEY_BYTES);
    enum owb_err rc = OWB_ERR_NOMEM;

    *out = NULL;
    if (m && raw)
        rc = owb_secret_file_read(path, "master key", raw, OWB_MASTER_KEY_BYTES, diag);
    if (rc == OWB_OK) {
        crypto_kdf_derive_from_key(m->seal_key, 32, 1, master_ctx, raw);
        crypto_kdf_derive_from_key(m->fp_key, 32, 2, master_ctx, raw);
        crypto_kdf_derive_from_key(m->row_key, 32, 3, master_ctx, raw);
        *out = m;
        m = NULL;
    }
    if (raw)
        owb_secret_free(raw);
    if (m)
        owb_secret_free(m);
    return rc;
}

void owb_master_free(struct owb_master *m)
{
    if (m)
        owb_secret_free(m);
}

enum owb_err owb_atrest_seal(const struct owb_master *m, const char *table, const char *row_id,
                             const uint8_t *plain, size_t len, struct owb_sealed *out)
{
    memset(out, 0, sizeof *out);
    return owb_atrest_encrypt(m->seal_key, table, row_id, plain, len, out->bytes, sizeof out->bytes,
                              &out->len);
}

enum owb_err owb_atrest_open(const struct owb_master *m, const char *table, const char *row_id,
                             const struct owb_sealed *in, uint8_t *plain, size_t cap, size_t *len)
{
    *len = 0;
    if (in->len > sizeof in->bytes)
        return OWB_ERR_AUTH_FAILED;
    return owb_atrest_decrypt(m->seal_key, table, row_id, in->bytes, in->len, plain, cap, len);
}

/* A sealed device secret of exactly len bytes; a failure is logged, as
 * it means the database and the master key do not belong together. */
static enum owb_err open_device_secret(const struct owb_master *m, const char *table,
                                       const struct owb_device_row *row,
                                       const struct owb_sealed *in, uint8_t *out, size_t len,
                                       const char *what)
{
    size_t got = 0;
    enum owb_err rc = owb_atrest_open(m, table, row->id, in, out, len, &got);

    if (rc == OWB_OK && got != len)
        rc = OWB_ERR_AUTH_FAILED;
    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: device %s: stored %s does not open under the master key\n",
                row->id, what);
    return rc;
}

enum owb_err owb_atrest_open_device_key(const struct owb_master *m,
                                        const struct owb_device_row *row,
                                        uint8_t key[static OWB_DEVICE_KEY_BYTES])
{
    return open_device_secret(m, "devices", row, &row->sealed_key, key, OWB_DEVICE_KEY_BYTES,
                              "key");
}

enum owb_err owb_atrest_open_ap_passphrase(const struct owb_master *m,
                                           const struct owb_device_row *row,
                                           char out[static OWB_AP_PASSPHRASE_SIZE])
{
    enum owb_err rc = open_device_secret(m, "devices-ap", row, &row->sealed_ap, (uint8_t *)out,
                                         OWB_AP_PASSPHRASE_LEN, "AP passphrase");

    out[rc == OWB_OK ? OWB_AP_PASSPHRASE_LEN : 0] = '\0';
    return rc;
}

enum owb_err owb_master_check(const struct owb_master *m, struct owb_store *store, bool create)
{
    struct owb_sealed check;
    uint8_t plain[sizeof check_plain];
    size_t len = 0;
    enum owb_err rc;

    rc = store->ops->meta_get(store, "master_check", check.bytes, sizeof check.bytes, &check.len);
    if (rc == OWB_ERR_NOENT && create) {
        rc = owb_atrest_seal(m, "meta", "master_check", (const uint8_t *)check_plain,
                             sizeof check_plain, &check);
        if (rc == OWB_OK)
            rc = store->ops->meta_put(store, "master_check", check.bytes, check.len);
        return rc;
    }
    if (rc == OWB_ERR_NOENT)
        return OWB_ERR_BAD_FILE; /* a database never initialised */
    if (rc != OWB_OK)
        return rc;
    rc = owb_atrest_open(m, "meta", "master_check", &check, plain, sizeof plain, &len);
    if (rc != OWB_OK || len != sizeof check_plain || memcmp(plain, check_plain, len) != 0)
        return OWB_ERR_AUTH_FAILED;
    return OWB_OK;
}

void owb_key_fingerprint(const struct owb_master *m, const uint8_t *key, size_t len,
                         uint8_t fp[static OWB_FP_BYTES])
{
    crypto_generichash(fp, OWB_FP_BYTES, key, len, m->fp_key, sizeof m->fp_key);
}

void owb_master_row_mac(const struct owb_master *m, const uint8_t *msg, size_t len,
                        uint8_t mac[static OWB_ROW_MAC_BYTES])
{
    crypto_generichash(mac, OWB_ROW_MAC_BYTES, msg, len, m->row_key, sizeof m->row_key);
}

void owb_token_hash(const char *token, size_t len, uint8_t hash[static OWB_HASH_BYTES])
{
    crypto_generichash(hash, OWB_HASH_BYTES, (const uint8_t *)token, len, NULL, 0);
}

void owb_session_new(char secret[static OWB_SESSION_SECRET_SIZE],
                     uint8_t hash[static OWB_HASH_BYTES])
{
    uint8_t raw[OWB_TOKEN_RAW_BYTES];

    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(secret, OWB_SESSION_SECRET_SIZE, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    owb_token_hash(secret, strlen(secret), hash);
}

void owb_session_token(char token[static OWB_SESSION_SIZE], const char *secret, uint64_t counter,
                       const char *id)
{
    snprintf(token, OWB_SESSION_SIZE, "%s.%" PRIu64 ".%s", secret, counter, id);
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool owb_session_parse(const char *token, struct owb_session_key *key)
{
    const size_t n = OWB_SESSION_SECRET_SIZE - 1;
    const char *p = token + n, *id;
    uint64_t counter = 0;

    memset(key, 0, sizeof *key);
    for (size_t i = 0; i < n; i++)
        if (!b64url_char(token[i]))
            return false;
    if (*p != '\0') {
        /* A decimal counter without leading zeros, below 2^53. */
        if (*p++ != '.' || *p < '1' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++) {
            counter = counter * 10 + (uint64_t)(*p - '0');
            if (counter >= (uint64_t)OWB_COUNTER_LIMIT)
                return false;
        }
        id = p + 1;
        if (*p != '.' || !owb_device_id_valid_str(id))
            return false;
        memcpy(key->device_id, id, strlen(id) + 1);
        key->counter = counter;
    }
    owb_token_hash(token, n, key->hash);
    return true;
}

void owb_token_new(char token[static OWB_TOKEN_SIZE], uint8_t hash[static OWB_HASH_BYTES])
{
    memcpy(token, OWB_TOKEN_PREFIX, 5);
    owb_session_new(token + 5, hash);
    owb_token_hash(token, strlen(token), hash);
}
