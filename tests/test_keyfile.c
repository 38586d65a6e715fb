/* The device key file: round trip, no overwrite, mode 0600, clear errors. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/fileio.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/record.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    if (owb_init() != OWB_OK)
        return -1;
    umask(022);
    dir = t_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_rmtree(dir);
    free(dir);
    return 0;
}

static struct owb_keyfile *sample(void)
{
    struct owb_keyfile *kf = owb_keyfile_new();
    assert_non_null(kf);
    strcpy(kf->device_id, "owb-TEST0001");
    randombytes_buf(kf->device_key, sizeof kf->device_key);
    strcpy(kf->server, "https://prov.example.com");
    owb_claim_generate(kf->claim_code);
    return kf;
}

static void path_of(char *out, const char *name)
{
    snprintf(out, 4096, "%s/%s", dir, name);
}

static void test_round_trip_and_mode(void **state)
{
    (void)state;
    char path[4096], diag[OWB_DIAG_SIZE];
    struct owb_keyfile *kf = sample(), *back = NULL;
    struct stat st;

    path_of(path, "rt.key");
    assert_int_equal(owb_keyfile_write(path, kf, false, diag), OWB_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_OK);
    assert_memory_equal(kf, back, sizeof *kf);
    owb_keyfile_free(back);
    back = NULL;

    /* Readable or writable by group or others: refused, and says so. */
    const mode_t loose[] = {0640, 0604, 0620, 0602, 0644, 0660};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        assert_int_equal(chmod(path, loose[i]), 0);
        assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_ERR_PERM);
        assert_null(back);
        assert_non_null(strstr(diag, "readable or writable by group or others"));
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_OK);
    owb_keyfile_free(back);
    assert_int_equal(chmod(path, 0600), 0);

    /* No temporary file is left beside it. */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c tmp) -eq 0", dir);
    assert_int_equal(system(cmd), 0);
    owb_keyfile_free(kf);
}

static void test_refuses_overwrite(void **state)
{
    (void)state;
    char path[4096], diag[OWB_DIAG_SIZE];
    struct owb_keyfile *kf = sample(), *other = sample(), *back = NULL;

    path_of(path, "once.key");
    assert_int_equal(owb_keyfile_write(path, kf, false, diag), OWB_OK);
    assert_int_equal(owb_keyfile_write(path, other, false, diag), OWB_ERR_EXISTS);
    assert_non_null(strstr(diag, path));
    assert_non_null(strstr(diag, "--force"));
    assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_OK);
    assert_memory_equal(back->device_key, kf->device_key, 32);
    owb_keyfile_free(back);

    /* force replaces it. */
    assert_int_equal(owb_keyfile_write(path, other, true, diag), OWB_OK);
    assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_OK);
    assert_memory_equal(back->device_key, other->device_key, 32);
    owb_keyfile_free(back);

    /* A symlink at the target is not followed, nor replaced without force. */
    char link_path[4096], target[4096];
    path_of(link_path, "link.key");
    path_of(target, "elsewhere");
    assert_int_equal(symlink(target, link_path), 0);
    assert_int_equal(owb_keyfile_write(link_path, kf, false, diag), OWB_ERR_EXISTS);
    struct stat st;
    assert_int_not_equal(stat(target, &st), 0);
    owb_keyfile_free(kf);
    owb_keyfile_free(other);
}

struct bad_case {
    const char *name;
    const char *text;
    const char *diag_part;
};

static void test_bad_files(void **state)
{
    (void)state;
    char good[1024];
    char key_b64[64];
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(key_b64, sizeof key_b64, key, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(good, sizeof good, "{\"device_id\":\"d1\",\"device_key\":\"%s\"}", key_b64);
    char truncated[1024];
    snprintf(truncated, sizeof truncated, "%.*s", (int)(strlen(good) - 5), good);
    char short_key[1024];
    snprintf(short_key, sizeof short_key, "{\"device_id\":\"d1\",\"device_key\":\"%.40s\"}",
             key_b64);

    const struct bad_case bad[] = {
        {"empty", "", "empty"},
        {"truncated", truncated, "not a JSON object"},
        {"garbage",
         "\x7f"
         "ELF\x02\x01\x01",
         "not a JSON object"},
        {"array", "[1,2]", "not a JSON object"},
        {"no id", "{\"device_key\":\"AAAA\"}", "device_id"},
        {"bad id", "{\"device_id\":\"a/b\",\"device_key\":\"AAAA\"}", "device_id"},
        {"short key", short_key, "device_key"},
        {"key number", "{\"device_id\":\"d1\",\"device_key\":5}", "device_key"},
        {"bad suite", "{\"suite\":\"rsa\",\"device_id\":\"d1\"}", "suite"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[4096], diag[OWB_DIAG_SIZE];
        struct owb_keyfile *kf = NULL;
        snprintf(path, sizeof path, "%s/bad-%zu.key", dir, i);
        assert_int_equal(
            owb_file_write_atomic(path, bad[i].text, strlen(bad[i].text), 0600, OWB_WRITE_REPLACE),
            OWB_OK);
        enum owb_err rc = owb_keyfile_read(path, &kf, diag);
        if (rc != OWB_ERR_BAD_FILE)
            fail_msg("case %s: got %s", bad[i].name, owb_err_code(rc));
        assert_null(kf);
        if (!strstr(diag, path) || !strstr(diag, bad[i].diag_part))
            fail_msg("case %s: diag '%s' lacks the path or '%s'", bad[i].name, diag,
                     bad[i].diag_part);
    }

    /* Optional fields checked when present. */
    struct owb_keyfile *kf = owb_keyfile_new();
    char text[1024], diag[OWB_DIAG_SIZE];
    snprintf(text, sizeof text,
             "{\"device_id\":\"d1\",\"device_key\":\"%s\",\"server\":\"gopher://x\"}", key_b64);
    assert_int_equal(owb_keyfile_parse(text, strlen(text), kf, diag), OWB_ERR_BAD_FILE);
    assert_non_null(strstr(diag, "server"));
    snprintf(text, sizeof text,
             "{\"device_id\":\"d1\",\"device_key\":\"%s\",\"claim_code\":\"short\"}", key_b64);
    assert_int_equal(owb_keyfile_parse(text, strlen(text), kf, diag), OWB_ERR_BAD_FILE);
    assert_non_null(strstr(diag, "claim_code"));
    assert_int_equal(owb_keyfile_parse(good, strlen(good), kf, diag), OWB_OK);
    assert_string_equal(kf->server, "");
    owb_keyfile_free(kf);

    /* Missing and oversized files. */
    char path[4096];
    struct owb_keyfile *none = NULL;
    path_of(path, "missing.key");
    assert_int_equal(owb_keyfile_read(path, &none, diag), OWB_ERR_NOENT);
    assert_non_null(strstr(diag, "no such file"));
    path_of(path, "huge.key");
    char *big = calloc(1, OWB_KEYFILE_MAX + 10);
    memset(big, ' ', OWB_KEYFILE_MAX + 9);
    assert_int_equal(owb_file_write_atomic(path, big, OWB_KEYFILE_MAX + 9, 0600, 0), OWB_OK);
    free(big);
    assert_int_equal(owb_keyfile_read(path, &none, diag), OWB_ERR_BAD_FILE);
    assert_non_null(strstr(diag, "larger than"));
}

/* A pk key file with n pinned server keys. */
static struct owb_keyfile *sample_pk(size_t n)
{
    struct owb_keyfile *kf = owb_keyfile_new();
    uint8_t pk[32], raw[16];
    assert_non_null(kf);
    kf->suite = OWB_SUITE_PK;
    strcpy(kf->device_id, "owb-PK000001");
    crypto_sign_keypair(pk, kf->device_sk);
    for (size_t i = 0; i < n; i++)
        randombytes_buf(kf->server_pks[i], 32);
    kf->n_server_pks = n;
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(kf->ap_passphrase, sizeof kf->ap_passphrase, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcpy(kf->server, "https://prov.example.com");
    owb_claim_generate(kf->claim_code);
    return kf;
}

/* The pk suite's key file (one pinned key, and several while the server
 * key is rotated) and record round-trip; broken ones are refused with the
 * member named. */
static void test_pk_files(void **state)
{
    (void)state;
    char path[4096], diag[OWB_DIAG_SIZE], *text;
    for (size_t n = 1; n <= OWB_PK_PINS_MAX; n += 2) {
        struct owb_keyfile *kf = sample_pk(n), *back = NULL;
        snprintf(path, sizeof path, "%s/pk-%zu.key", dir, n);
        assert_int_equal(owb_keyfile_write(path, kf, false, diag), OWB_OK);
        assert_int_equal(owb_keyfile_read(path, &back, diag), OWB_OK);
        assert_memory_equal(kf, back, sizeof *kf);
        owb_keyfile_free(back);
        owb_keyfile_free(kf);
    }

    /* Broken pk key files. */
    struct owb_keyfile *kf = sample_pk(1), *out = owb_keyfile_new();
    assert_int_equal(owb_keyfile_to_json(kf, &text), OWB_OK);
    const struct {
        const char *from, *to, *diag;
    } edits[] = {
        {"\"pk\"", "\"pq\"", "suite"},
        {"\"server_public_key\"", "\"server_public_keys\"", "server_public_key"},
        {"\"ap_passphrase\"", "\"ap_pass\"", "ap_passphrase"},
        {"\"device_secret_key\"", "\"device_key\"", "device_secret_key"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char buf[4096], *at = strstr(text, edits[i].from);
        assert_non_null(at);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - text), text, edits[i].to,
                 at + strlen(edits[i].from));
        assert_int_equal(owb_keyfile_parse(buf, strlen(buf), out, diag), OWB_ERR_BAD_FILE);
        if (!strstr(diag, edits[i].diag))
            fail_msg("edit %zu: diag '%s' lacks '%s'", i, diag, edits[i].diag);
    }
    owb_clear_free_str(text);
    /* A secret key whose public half is not its seed's. */
    kf->device_sk[40] ^= 1;
    assert_int_equal(owb_keyfile_to_json(kf, &text), OWB_OK);
    assert_int_equal(owb_keyfile_parse(text, strlen(text), out, diag), OWB_ERR_BAD_FILE);
    assert_non_null(strstr(diag, "public half"));
    owb_clear_free_str(text);
    /* More pinned keys than a device takes. */
    kf->device_sk[40] ^= 1;
    kf->n_server_pks = OWB_PK_PINS_MAX + 1;
    assert_int_not_equal(owb_keyfile_to_json(kf, &text), OWB_OK);
    owb_keyfile_free(kf);
    owb_keyfile_free(out);

    /* The record: public key and AP passphrase, no secret. */
    struct owb_record r = {.suite = OWB_SUITE_PK}, back;
    char line[OWB_RECORD_LINE_MAX + 2];
    uint8_t sk[64];
    size_t len;
    strcpy(r.device_id, "owb-PK000002");
    crypto_sign_keypair(r.device_pk, sk);
    strcpy(r.ap_passphrase, "AAAAAAAAAAAAAAAAAAAAAA");
    owb_claim_generate(r.claim_code);
    assert_int_equal(owb_record_to_line(&r, line, sizeof line, &len), OWB_OK);
    assert_non_null(strstr(line, "\"suite\":\"pk\""));
    assert_null(strstr(line, "device_key"));
    assert_int_equal(owb_record_parse(line, len - 1, &back, diag), OWB_OK);
    assert_memory_equal(&r, &back, sizeof r);
    /* Not a point on the curve. */
    memset(r.device_pk, 0xff, 32);
    assert_int_equal(owb_record_to_line(&r, line, sizeof line, &len), OWB_OK);
    assert_int_equal(owb_record_parse(line, len - 1, &back, diag), OWB_ERR_BAD_FILE);
    assert_non_null(strstr(diag, "device_public_key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_mode),
        cmocka_unit_test(test_refuses_overwrite),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_pk_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
