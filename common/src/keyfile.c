#include "owb/keyfile.h"

#include "identity_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/fileio.h"
#include "owb/json.h"
#include "owb/mem.h"

struct owb_keyfile *owb_keyfile_new(void)
{
    struct owb_keyfile *kf = owb_secret_alloc(sizeof(struct owb_keyfile));
    if (kf)
        kf->suite = OWB_SUITE_SYM;
    return kf;
}

void owb_keyfile_free(struct owb_keyfile *kf)
{
    if (kf)
        owb_secret_free(kf);
}

/* device_secret_key (its public half must be the seed's) and the pinned
 * server key(s). */
static enum owb_err parse_pk(const cJSON *root, struct owb_keyfile *kf, char *diag)
{
    const cJSON *pins = cJSON_GetObjectItemCaseSensitive(root, "server_public_key"), *pin;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    bool ok;

    if (!owb_identity_b64(root, "device_secret_key", kf->device_sk, sizeof kf->device_sk)) {
        owb_diagf(diag, "device_secret_key: missing or not 64 bytes of base64url");
        return OWB_ERR_BAD_FILE;
    }
    crypto_sign_seed_keypair(pk, sk, kf->device_sk); /* the first 32 bytes are the seed */
    ok = sodium_memcmp(sk, kf->device_sk, sizeof sk) == 0;
    sodium_memzero(sk, sizeof sk);
    if (!ok) {
        owb_diagf(diag, "device_secret_key: its public half does not belong to its seed");
        return OWB_ERR_BAD_FILE;
    }
    if (cJSON_IsString(pins)) {
        ok = owb_identity_b64(root, "server_public_key", kf->server_pks[0], 32);
        kf->n_server_pks = 1;
    } else {
        ok = cJSON_IsArray(pins) && cJSON_GetArraySize(pins) >= 1 &&
             cJSON_GetArraySize(pins) <= OWB_PK_PINS_MAX;
        kf->n_server_pks = 0;
        cJSON_ArrayForEach(pin, pins)
        {
            const char *s = cJSON_IsString(pin) ? pin->valuestring : NULL;
            if (!ok || kf->n_server_pks >= OWB_PK_PINS_MAX || !s ||
                owb_b64_decode_exact(s, strlen(s), kf->server_pks[kf->n_server_pks], 32) != OWB_OK)
                ok = false;
            else
                kf->n_server_pks++;
        }
    }
    if (!ok) {
        owb_diagf(diag,
                  "server_public_key: missing, or not 32 bytes of base64url (or an array of "
                  "1-%d of them)",
                  OWB_PK_PINS_MAX);
        return OWB_ERR_BAD_FILE;
    }
    return OWB_OK;
}

enum owb_err owb_keyfile_parse(const char *text, size_t len, struct owb_keyfile *kf, char *diag)
{
    cJSON *root = NULL;
    const cJSON *item;
    const char *s;
    enum owb_err rc = OWB_ERR_BAD_FILE;

    sodium_memzero(kf, sizeof *kf);
    owb_diagf(diag, "ok");
    if (len == 0) {
        owb_diagf(diag, "file is empty");
        goto out;
    }
    if (owb_json_parse(text, len, &root) != OWB_OK || !cJSON_IsObject(root)) {
        owb_diagf(diag, "not a JSON object (truncated or not a key file?)");
        goto out;
    }
    if (owb_identity_parse(root, &kf->suite, kf->device_id, kf->device_key, kf->ap_passphrase,
                           kf->claim_code, diag) != OWB_OK)
        goto out;
    if (kf->suite == OWB_SUITE_PK && parse_pk(root, kf, diag) != OWB_OK)
        goto out;
    item = cJSON_GetObjectItemCaseSensitive(root, "server");
    if (item) {
        s = owb_json_string(root, "server");
        if (!s || !owb_http_url_valid(s, strlen(s))) {
            owb_diagf(diag, "server: not an http or https URL of at most %d bytes", OWB_URL_MAX);
            goto out;
        }
        memcpy(kf->server, s, strlen(s) + 1);
    }
    rc = OWB_OK;
out:
    if (rc != OWB_OK)
        sodium_memzero(kf, sizeof *kf);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_keyfile_read(const char *path, struct owb_keyfile **out, char *diag)
{
    struct owb_keyfile *kf = NULL;
    struct stat st;
    char *text = NULL;
    char why[OWB_DIAG_SIZE];
    size_t len = 0;
    enum owb_err rc;

    *out = NULL;
    /* The device's only secret: refused when anyone but its owner could
     * read or change it, as the server refuses such a master key. */
    if (stat(path, &st) == 0 && (st.st_mode & 077)) {
        owb_diagf(diag,
                  "%s: readable or writable by group or others (mode %04o); run chmod 600 on it",
                  path, (unsigned)(st.st_mode & 07777));
        return OWB_ERR_PERM;
    }
    rc = owb_file_read(path, OWB_KEYFILE_MAX, &text, &len);
    if (rc == OWB_ERR_NOENT) {
        owb_diagf(diag, "%s: no such file", path);
        goto out;
    } else if (rc == OWB_ERR_TOO_LARGE) {
        rc = OWB_ERR_BAD_FILE;
        owb_diagf(diag, "%s: larger than %d bytes, not a key file", path, OWB_KEYFILE_MAX);
        goto out;
    } else if (rc != OWB_OK) {
        owb_diagf(diag, "%s: cannot read: %m", path);
        goto out;
    }
    kf = owb_keyfile_new();
    if (!kf) {
        rc = OWB_ERR_NOMEM;
        owb_diagf(diag, "%s: out of secure memory", path);
        goto out;
    }
    rc = owb_keyfile_parse(text, len, kf, why);
    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: %s", path, why);
        goto out;
    }
    *out = kf;
    kf = NULL;
out:
    owb_keyfile_free(kf);
    if (text)
        owb_clear_free(text, len);
    return rc;
}

/* The pk members: secret key, pinned key(s), AP passphrase. */
static bool add_pk(cJSON *root, const struct owb_keyfile *kf, char *key_b64, size_t cap)
{
    char pin[OWB_B64_ENCODED_SIZE(OWB_PK_PUBLIC_KEY_BYTES)];
    cJSON *pins;

    if (kf->n_server_pks < 1 || kf->n_server_pks > OWB_PK_PINS_MAX ||
        owb_b64_encode(kf->device_sk, sizeof kf->device_sk, key_b64, cap) != OWB_OK ||
        !cJSON_AddStringToObject(root, "device_secret_key", key_b64))
        return false;
    if (kf->n_server_pks == 1) {
        if (owb_b64_encode(kf->server_pks[0], 32, pin, sizeof pin) != OWB_OK ||
            !cJSON_AddStringToObject(root, "server_public_key", pin))
            return false;
    } else {
        pins = cJSON_AddArrayToObject(root, "server_public_key");
        for (size_t i = 0; pins && i < kf->n_server_pks; i++)
            if (owb_b64_encode(kf->server_pks[i], 32, pin, sizeof pin) != OWB_OK ||
                !cJSON_AddItemToArray(pins, cJSON_CreateString(pin)))
                return false;
        if (!pins)
            return false;
    }
    return strlen(kf->ap_passphrase) == OWB_AP_PASSPHRASE_LEN &&
           cJSON_AddStringToObject(root, "ap_passphrase", kf->ap_passphrase);
}

enum owb_err owb_keyfile_to_json(const struct owb_keyfile *kf, char **out)
{
    char key_b64[OWB_B64_ENCODED_SIZE(OWB_PK_SECRET_KEY_BYTES)];
    cJSON *root = NULL;
    char *text = NULL, *nl = NULL;
    size_t n;
    bool pk = kf->suite == OWB_SUITE_PK;
    enum owb_err rc = OWB_ERR_INVALID_ARG;

    *out = NULL;
    if (!owb_device_id_valid_str(kf->device_id))
        goto out;
    rc = OWB_ERR_NOMEM;
    root = cJSON_CreateObject();
    if (!root || (pk && !cJSON_AddStringToObject(root, "suite", owb_suite_name(OWB_SUITE_PK))) ||
        !cJSON_AddStringToObject(root, "device_id", kf->device_id))
        goto out;
    if (pk && !add_pk(root, kf, key_b64, sizeof key_b64)) {
        rc = OWB_ERR_INVALID_ARG;
        goto out;
    }
    if (!pk &&
        (owb_b64_encode(kf->device_key, sizeof kf->device_key, key_b64, sizeof key_b64) != OWB_OK ||
         !cJSON_AddStringToObject(root, "device_key", key_b64)))
        goto out;
    if (kf->server[0] && !cJSON_AddStringToObject(root, "server", kf->server))
        goto out;
    if (kf->claim_code[0] && !cJSON_AddStringToObject(root, "claim_code", kf->claim_code))
        goto out;
    text = cJSON_Print(root);
    if (!text)
        goto out;
    n = strlen(text);
    nl = malloc(n + 2);
    if (!nl)
        goto out;
    memcpy(nl, text, n);
    nl[n] = '\n';
    nl[n + 1] = '\0';
    *out = nl;
    rc = OWB_OK;
out:
    sodium_memzero(key_b64, sizeof key_b64);
    owb_clear_free_str(text);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_keyfile_write(const char *path, const struct owb_keyfile *kf, bool force,
                               char *diag)
{
    char *text = NULL;
    enum owb_err rc = owb_keyfile_to_json(kf, &text);

    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: %s", path, owb_strerror(rc));
        goto out;
    }
    rc = owb_file_write_atomic(path, text, strlen(text), 0600,
                               force ? OWB_WRITE_REPLACE : OWB_WRITE_NO_REPLACE);
    if (rc == OWB_ERR_EXISTS)
        owb_diagf(diag, "%s: already exists (use --force to replace it)", path);
    else if (rc != OWB_OK)
        owb_diagf(diag, "%s: cannot write: %m", path);
out:
    owb_clear_free_str(text);
    return rc;
}
