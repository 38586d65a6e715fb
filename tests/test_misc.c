/* base64url, device ids, claim codes, strict JSON, UTF-8, errors, files. */
#include "test_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/claim.h"
#include "owb/err.h"
#include "owb/fileio.h"
#include "owb/id.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/mem.h"

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    char text[16];

    assert_int_equal(owb_b64_encode((const uint8_t *)"\xfb\xff", 2, text, sizeof text), OWB_OK);
    assert_string_equal(text, "-_8");
    assert_int_equal(OWB_B64_ENCODED_SIZE(2), 4);
    assert_int_equal(OWB_B64_ENCODED_SIZE(32), 44);
    assert_int_equal(owb_b64_encode((const uint8_t *)"ab", 2, text, 3), OWB_ERR_SPACE);
    assert_int_equal(owb_b64_decode("-_8", 3, out, sizeof out, &n), OWB_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    /* Padding, standard alphabet, white space, a lone final char, and
     * non-canonical final bits are all refused. */
    const char *bad[] = {"-_8=", "+/8", "-_ 8", "-_8\n", "A", "-_9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(owb_b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n),
                         OWB_ERR_BAD_REQUEST);
    /* Length decided before decoding. */
    assert_int_equal(owb_b64_decode("AAAAAAAAAAAA", 12, out, 8, &n), OWB_ERR_SPACE);
    assert_int_equal(owb_b64_decode_exact("AAAA", 4, out, 2), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_b64_decode_exact("AAAA", 4, out, 3), OWB_OK);
    assert_int_equal(owb_b64_decode("", 0, out, sizeof out, &n), OWB_OK);
    assert_int_equal(n, 0);
}

/* The encoder is owb's own: every 6-bit value and every length 0..300 of
 * random bytes give libsodium's text, and decode back. */
static void test_base64_encoder_matches_libsodium(void **state)
{
    (void)state;
    uint8_t bin[300], back[300], all[48] = {0};
    char ours[OWB_B64_ENCODED_SIZE(300)], theirs[OWB_B64_ENCODED_SIZE(300)];
    size_t n;

    for (int i = 0; i < 64; i++) { /* 64 values, 6 bits each, packed */
        unsigned bit = (unsigned)i * 6;
        for (unsigned b = 0; b < 6; b++)
            if ((i >> (5 - b)) & 1)
                all[(bit + b) / 8] |= (uint8_t)(0x80 >> ((bit + b) % 8));
    }
    assert_int_equal(owb_b64_encode(all, sizeof all, ours, sizeof ours), OWB_OK);
    assert_string_equal(ours, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    for (size_t len = 0; len <= sizeof bin; len++) {
        randombytes_buf(bin, len);
        assert_int_equal(owb_b64_encode(bin, len, ours, OWB_B64_ENCODED_SIZE(len)), OWB_OK);
        sodium_bin2base64(theirs, sizeof theirs, bin, len,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        assert_string_equal(ours, theirs);
        assert_int_equal(owb_b64_decode(ours, strlen(ours), back, sizeof back, &n), OWB_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, bin, len);
    }
}

static void test_device_ids(void **state)
{
    (void)state;
    assert_true(owb_device_id_valid_str("a"));
    assert_true(owb_device_id_valid_str("Omega-2231"));
    assert_true(owb_device_id_valid_str("a.b_c-D9"));
    assert_true(owb_device_id_valid_str("0123456789abcdef0123456789abcdef"));
    assert_false(owb_device_id_valid_str("0123456789abcdef0123456789abcdef0"));
    assert_false(owb_device_id_valid_str(""));
    assert_false(owb_device_id_valid_str(NULL));
    const char *bad[] = {"a b", "a/b", "..%00", "caf\xc3\xa9", "a\tb", "a:b", "a+b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(owb_device_id_valid_str(bad[i]));
    assert_false(owb_device_id_valid("ab\0c", 4));

    char ssid[OWB_AP_SSID_SIZE];
    assert_int_equal(owb_ap_ssid(ssid, "x"), OWB_OK);
    assert_string_equal(ssid, "OWB-x");
    assert_int_equal(owb_ap_ssid(ssid, "bad id"), OWB_ERR_INVALID_ARG);
    assert_string_equal(ssid, "");
}

static void test_claim_codes(void **state)
{
    (void)state;
    char code[OWB_CLAIM_SIZE], norm[OWB_CLAIM_SIZE], seen[64][OWB_CLAIM_SIZE];
    uint8_t h1[32], h2[32];

    for (int i = 0; i < 64; i++) {
        owb_claim_generate(code);
        assert_int_equal(strlen(code), OWB_CLAIM_LEN);
        assert_int_equal(owb_claim_normalize(code, strlen(code), norm), OWB_OK);
        assert_string_equal(norm, code);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], code);
        strcpy(seen[i], code);
    }
    /* Typed forms read the same: case, I/L/O, hyphens, spaces. */
    assert_int_equal(owb_claim_normalize("abcd-efgh-ijkl-mnop", 19, norm), OWB_OK);
    assert_string_equal(norm, "ABCDEFGH1JK1MN0P");
    assert_int_equal(owb_claim_normalize("ABCDEFGH11KMN0P", 15, norm), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_claim_normalize("ABCDEFGH11KMN0P00", 17, norm), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_claim_normalize("ABCDEFGH11KMN0PU", 16, norm), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_claim_normalize("ABCDEFGH11KMN0P!", 16, norm), OWB_ERR_BAD_REQUEST);

    assert_int_equal(owb_claim_hash("dev", "abcd-efgh-ijkl-mnop", 19, h1), OWB_OK);
    assert_int_equal(owb_claim_hash("dev", "ABCDEFGH1JK1MN0P", 16, h2), OWB_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(owb_claim_hash("dev2", "ABCDEFGH1JK1MN0P", 16, h2), OWB_OK);
    assert_memory_not_equal(h1, h2, 32);
    assert_int_equal(owb_claim_hash("dev", "ABCDEFGH1JK1MN0Q", 16, h2), OWB_OK);
    assert_memory_not_equal(h1, h2, 32);

    /* Every character of the alphabet turns up: the bits are spread. */
    char many[1601];
    owb_crockford_random(many, 1600);
    for (const char *a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; *a; a++)
        assert_non_null(strchr(many, *a));
}

static void test_strict_json(void **state)
{
    (void)state;
    cJSON *root;
    const char *bad[] = {
        "{\"a\":1,\"a\":2}",
        "{\"o\":{\"k\":1,\"k\":1}}",
        "[{\"k\":1,\"k\":1}]",
        "{\"a\":\"x\\u0000y\"}",
        "{\"a\":1} {}",
        "",
        "{",
        "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (owb_json_parse(bad[i], strlen(bad[i]), &root) != OWB_ERR_BAD_REQUEST)
            fail_msg("accepted: %s", bad[i]);
        assert_null(root);
    }
    /* Thousands of keys (the sorted check): all distinct is fine; one
     * repeat anywhere, first against last or in the middle, is not. */
    char *big = malloc(40000);
    for (int dup = -1; dup < 3; dup++) {
        size_t n = 0;
        n += (size_t)sprintf(big + n, "{");
        for (int k = 0; k < 2000; k++) {
            int key = k;
            if (dup == 0 && k == 1999)
                key = 0;
            if (dup == 1 && k == 1000)
                key = 999;
            if (dup == 2 && k == 17)
                key = 16;
            n += (size_t)sprintf(big + n, "%s\"k%d\":%d", k ? "," : "", key, k);
        }
        n += (size_t)sprintf(big + n, "}");
        enum owb_err want = dup < 0 ? OWB_OK : OWB_ERR_BAD_REQUEST;
        assert_int_equal(owb_json_parse(big, n, &root), want);
        if (root)
            cJSON_Delete(root);
    }
    free(big);
    /* Depth is counted on the text before parsing (the device parses on a
     * small stack): 16 levels pass, 17 do not, brackets and escaped quotes
     * in strings are not levels. */
    char deep[64];
    snprintf(deep, sizeof deep, "%.16s1%.16s", "[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]");
    assert_int_equal(owb_json_parse(deep, strlen(deep), &root), OWB_OK);
    cJSON_Delete(root);
    snprintf(deep, sizeof deep, "%.17s1%.17s", "[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]");
    assert_int_equal(owb_json_parse(deep, strlen(deep), &root), OWB_ERR_BAD_REQUEST);
    const char in_string[] = "{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[{{{{\"}";
    assert_int_equal(owb_json_parse(in_string, strlen(in_string), &root), OWB_OK);
    cJSON_Delete(root);
    const char nul[] = "{\"a\":1}\0";
    assert_int_equal(owb_json_parse(nul, sizeof nul - 1, &root), OWB_ERR_BAD_REQUEST);
    /* An escaped backslash before u0000 is text, not a NUL. */
    const char ok[] = "{\"a\":\"\\\\u0000\"}";
    assert_int_equal(owb_json_parse(ok, strlen(ok), &root), OWB_OK);
    assert_string_equal(owb_json_string(root, "a"), "\\u0000");
    cJSON_Delete(root);
    /* The parser stops at len even with more text after it. */
    const char longer[] = "{\"a\":1}GARBAGE";
    assert_int_equal(owb_json_parse(longer, 7, &root), OWB_OK);
    uint64_t v;
    assert_int_equal(owb_json_uint(root, "a", &v), OWB_OK);
    assert_true(v == 1);
    cJSON_Delete(root);
    const char nums[] = "{\"neg\":-1,\"frac\":1.5,\"big\":1e300,\"max\":9007199254740991,"
                        "\"two53\":9007199254740992,\"past\":9007199254740993,\"s\":\"1\"}";
    assert_int_equal(owb_json_parse(nums, strlen(nums), &root), OWB_OK);
    assert_int_equal(owb_json_uint(root, "neg", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "frac", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "big", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "s", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "none", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "max", &v), OWB_OK);
    assert_true(v == 9007199254740991ull);
    /* 2^53 + 1 reads as 2^53 in a double: both refused, never taken for
     * another number than the one sent. */
    assert_int_equal(owb_json_uint(root, "two53", &v), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_json_uint(root, "past", &v), OWB_ERR_BAD_REQUEST);
    owb_json_free_secret(root);
    /* Invalid UTF-8 anywhere, a member nobody reads included. */
    static const char *const not_utf8[] = {"{\"ignored\":\"\xff\"}", "{\"\xc0\xaf\":1}",
                                           "{\"s\":\"\xed\xa0\x80\"}"};
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++)
        assert_int_equal(owb_json_parse(not_utf8[i], strlen(not_utf8[i]), &root),
                         OWB_ERR_BAD_REQUEST);
    const char utf8[] = "{\"ssid\":\"Caf\xc3\xa9 \xf0\x9f\x93\xb6\"}";
    assert_int_equal(owb_json_parse(utf8, strlen(utf8), &root), OWB_OK);
    owb_json_free_secret(root);
}

static void test_utf8(void **state)
{
    (void)state;
    const char *good = "abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_true(owb_utf8_valid((const uint8_t *)good, strlen(good)));
    const char *bad[] = {"\x80",
                         "\xc3",
                         "\xc0\x80",
                         "\xe0\x80\x80",
                         "\xed\xa0\x80",
                         "\xf4\x90\x80\x80",
                         "\xf8\x88\x80\x80\x80",
                         "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(owb_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

static void test_errors(void **state)
{
    (void)state;
    const struct {
        enum owb_err e;
        int status;
        const char *code;
    } table[] = {
        {OWB_ERR_TOO_LARGE, 413, "too_large"},
        {OWB_ERR_BAD_REQUEST, 400, "bad_request"},
        {OWB_ERR_WRONG_DEVICE, 403, "wrong_device"},
        {OWB_ERR_REPLAYED, 409, "replayed"},
        {OWB_ERR_AUTH_FAILED, 401, "auth_failed"},
        {OWB_ERR_APP_KEY_REJECTED, 401, "app_key_rejected"},
        {OWB_ERR_INVALID_CONFIG, 422, "invalid_config"},
        {OWB_ERR_BUSY, 429, "busy"},
        {OWB_ERR_CLAIM_REJECTED, 403, "claim_rejected"},
        {OWB_ERR_LOCKED, 429, "locked"},
        {OWB_ERR_UNKNOWN_DEVICE, 404, "unknown_device"},
        {OWB_ERR_STALE_CHALLENGE, 409, "stale_challenge"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_int_equal(owb_err_http_status(table[i].e), table[i].status);
        assert_string_equal(owb_err_code(table[i].e), table[i].code);
    }
    for (int e = 0; e <= OWB_ERR__COUNT; e++) {
        assert_non_null(owb_strerror((enum owb_err)e));
        assert_true(strlen(owb_strerror((enum owb_err)e)) > 3);
    }
    assert_int_equal(owb_err_http_status((enum owb_err)9999), 500);
}

static void test_atomic_file(void **state)
{
    (void)state;
    char *dir = t_tmpdir(), path[4096], *data;
    size_t len;
    struct stat st;

    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(owb_file_write_atomic(path, "one", 3, 0640, OWB_WRITE_NO_REPLACE), OWB_OK);
    assert_int_equal(owb_file_write_atomic(path, "two", 3, 0640, OWB_WRITE_NO_REPLACE),
                     OWB_ERR_EXISTS);
    assert_int_equal(owb_file_write_atomic(path, "three", 5, 0600, OWB_WRITE_REPLACE), OWB_OK);
    assert_int_equal(owb_file_read(path, 100, &data, &len), OWB_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "three");
    free(data);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(owb_file_read(path, 4, &data, &len), OWB_ERR_TOO_LARGE);
    assert_null(data);
    assert_int_equal(owb_file_read(dir, 100, &data, &len), OWB_ERR_IO);
    snprintf(path, sizeof path, "%s/missing/f", dir);
    assert_int_equal(owb_file_write_atomic(path, "x", 1, 0600, 0), OWB_ERR_IO);
    assert_int_equal(errno, ENOENT);
    t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),      cmocka_unit_test(test_base64_encoder_matches_libsodium),
        cmocka_unit_test(test_device_ids),  cmocka_unit_test(test_claim_codes),
        cmocka_unit_test(test_strict_json), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_atomic_file),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
