/* Seal/open of both layers: round trips, every bit flip, every truncation,
 * wrong keys and ids, counter edges. Buffers are heap-allocated at their
 * exact size so that ASan catches any read past the input. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/envelope.h"
#include "owb/kdf.h"
#include "owb/mem.h"

static const char p_text[] = "{\"wifi\":\"x\",\"issued_at\":1}";
static const char w_text[] = "{\"ssid\":\"Net\",\"security\":\"open\"}";

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

/* A bundle in a heap buffer of exactly its size. */
static uint8_t *seal_exact(const uint8_t kb[32], const char *id, uint64_t counter, size_t *len)
{
    uint8_t tmp[OWB_BUNDLE_MAX];
    uint8_t *out;

    assert_int_equal(owb_bundle_seal(kb, id, counter, (const uint8_t *)p_text, strlen(p_text), NULL,
                                     tmp, sizeof tmp, len),
                     OWB_OK);
    out = malloc(*len);
    assert_non_null(out);
    memcpy(out, tmp, *len);
    return out;
}

/* Parse then open; OWB_OK only when both succeed. */
static enum owb_err parse_open(const uint8_t kb[32], const uint8_t *b, size_t len)
{
    struct owb_bundle_header h;
    uint8_t p[OWB_PAYLOAD_MAX];
    size_t p_len;
    enum owb_err rc = owb_bundle_header_parse(b, len, &h);

    if (rc != OWB_OK)
        return rc;
    return owb_bundle_open(kb, &h, b, len, p, sizeof p, &p_len);
}

static void test_bundle_round_trip(void **state)
{
    (void)state;
    uint8_t kb[32], p[OWB_PAYLOAD_MAX];
    size_t len, p_len;
    struct owb_bundle_header h;

    randombytes_buf(kb, sizeof kb);
    uint8_t *b = seal_exact(kb, "dev-1", 42, &len);
    assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_OK);
    assert_string_equal(h.device_id, "dev-1");
    assert_true(h.counter == 42);
    assert_int_equal(h.suite, OWB_SUITE_SYM);
    assert_int_equal(owb_bundle_open(kb, &h, b, len, p, sizeof p, &p_len), OWB_OK);
    assert_int_equal(p_len, strlen(p_text));
    assert_memory_equal(p, p_text, p_len);
    /* Too small an output buffer is refused before decrypting. */
    assert_int_equal(owb_bundle_open(kb, &h, b, len, p, p_len - 1, &p_len), OWB_ERR_SPACE);
    free(b);
}

static void test_bundle_every_bit_flip(void **state)
{
    (void)state;
    uint8_t kb[32];
    size_t len;

    randombytes_buf(kb, sizeof kb);
    uint8_t *b = seal_exact(kb, "flip-me", 7, &len);
    for (size_t i = 0; i < len * 8; i++) {
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        enum owb_err rc = parse_open(kb, b, len);
        if (rc == OWB_OK)
            fail_msg("bit %zu flipped was accepted", i);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_equal(parse_open(kb, b, len), OWB_OK);
    free(b);
}

static void test_bundle_every_truncation(void **state)
{
    (void)state;
    uint8_t kb[32];
    size_t len;

    randombytes_buf(kb, sizeof kb);
    uint8_t *b = seal_exact(kb, "owb-0123456789ABCDEFGHJKMNPQRSTV", 9, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, b, n);
        if (parse_open(kb, cut, n) == OWB_OK)
            fail_msg("bundle cut to %zu of %zu bytes was accepted", n, len);
        free(cut);
    }
    /* One extra byte is as bad as one missing. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    assert_int_equal(parse_open(kb, longer, len + 1), OWB_ERR_AUTH_FAILED);
    free(longer);
    free(b);
}

static void test_bundle_wrong_key_and_device(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], kb1[32], kb2[32];
    size_t len;
    struct owb_bundle_header h;

    randombytes_buf(k1, sizeof k1);
    randombytes_buf(k2, sizeof k2);
    owb_kdf_bundle_key(kb1, k1);
    owb_kdf_bundle_key(kb2, k2);
    uint8_t *b = seal_exact(kb1, "dev-A", 1, &len);
    assert_int_equal(parse_open(kb2, b, len), OWB_ERR_AUTH_FAILED);
    /* The device key itself is not the bundle key. */
    assert_int_equal(parse_open(k1, b, len), OWB_ERR_AUTH_FAILED);
    free(b);

    /* A bundle sealed for device B under B's key: its header names B, and
     * A's key does not open it even if the id check were skipped. */
    b = seal_exact(kb2, "dev-B", 1, &len);
    assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_OK);
    assert_string_equal(h.device_id, "dev-B");
    assert_int_equal(parse_open(kb1, b, len), OWB_ERR_AUTH_FAILED);
    free(b);

    /* Rewriting the header's id to A's breaks authentication. */
    b = seal_exact(kb1, "dev-B", 1, &len);
    b[10] = 'A';
    assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_OK);
    assert_string_equal(h.device_id, "dev-A");
    assert_int_equal(parse_open(kb1, b, len), OWB_ERR_AUTH_FAILED);
    free(b);
}

static void test_bundle_counter_edges(void **state)
{
    (void)state;
    uint8_t kb[32];
    size_t len;
    struct owb_bundle_header h;
    const uint64_t edges[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, UINT64_MAX};

    randombytes_buf(kb, sizeof kb);
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        uint8_t *b = seal_exact(kb, "c", edges[i], &len);
        assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_OK);
        assert_true(h.counter == edges[i]);
        assert_int_equal(parse_open(kb, b, len), OWB_OK);
        free(b);
    }
}

static void test_header_rejects(void **state)
{
    (void)state;
    uint8_t kb[32];
    size_t len;
    struct owb_bundle_header h;

    randombytes_buf(kb, sizeof kb);
    uint8_t *b = seal_exact(kb, "abc", 1, &len);
    /* Wrong magic, wrong layer type, id length 0 and 33, a bad id byte. */
    const struct {
        size_t at;
        uint8_t val;
    } bad[] = {{0, 'X'}, {3, '2'}, {4, 'W'}, {5, 0}, {5, 33}, {6, '/'}, {7, ' '}, {8, 0x80}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t saved = b[bad[i].at];
        b[bad[i].at] = bad[i].val;
        assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_ERR_BAD_REQUEST);
        assert_int_equal(h.len, 0);
        b[bad[i].at] = saved;
    }
    /* An id length pointing past the end of the input. */
    b[5] = 32;
    assert_int_equal(owb_bundle_header_parse(b, 6 + 32, &h), OWB_ERR_BAD_REQUEST);
    free(b);
    /* Invalid ids cannot be sealed for. */
    uint8_t out[OWB_BUNDLE_MAX];
    assert_int_equal(
        owb_bundle_seal(kb, "", 1, (const uint8_t *)"x", 1, NULL, out, sizeof out, &len),
        OWB_ERR_INVALID_ARG);
    assert_int_equal(owb_bundle_seal(kb, "owb-0123456789ABCDEFGHJKMNPQRSTVW", 1,
                                     (const uint8_t *)"x", 1, NULL, out, sizeof out, &len),
                     OWB_ERR_INVALID_ARG);
    assert_int_equal(
        owb_bundle_seal(kb, "a b", 1, (const uint8_t *)"x", 1, NULL, out, sizeof out, &len),
        OWB_ERR_INVALID_ARG);
    /* Output too small. */
    assert_int_equal(owb_bundle_seal(kb, "a", 1, (const uint8_t *)"xyz", 3, NULL, out, 40, &len),
                     OWB_ERR_SPACE);
}

static uint8_t *blob_exact(const uint8_t a[32], const char *id, size_t *len)
{
    uint8_t tmp[OWB_WIFI_BLOB_MAX];
    uint8_t *out;

    assert_int_equal(owb_wifi_blob_seal(a, id, (const uint8_t *)w_text, strlen(w_text), NULL, tmp,
                                        sizeof tmp, len),
                     OWB_OK);
    out = malloc(*len);
    assert_non_null(out);
    memcpy(out, tmp, *len);
    return out;
}

static void test_wifi_blob_flips_and_truncations(void **state)
{
    (void)state;
    uint8_t a[32], a2[32], w[OWB_WIFI_JSON_MAX];
    size_t len, w_len;

    randombytes_buf(a, sizeof a);
    uint8_t *b = blob_exact(a, "dev", &len);
    assert_int_equal(owb_wifi_blob_open(a, "dev", b, len, w, sizeof w, &w_len), OWB_OK);
    assert_memory_equal(w, w_text, w_len);
    for (size_t i = 0; i < len * 8; i++) {
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (owb_wifi_blob_open(a, "dev", b, len, w, sizeof w, &w_len) == OWB_OK)
            fail_msg("wifi blob bit %zu flipped was accepted", i);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, b, n);
        enum owb_err rc = owb_wifi_blob_open(a, "dev", cut, n, w, sizeof w, &w_len);
        assert_true(rc == OWB_ERR_BAD_REQUEST || rc == OWB_ERR_APP_KEY_REJECTED);
        free(cut);
    }
    /* Wrong app key; right key but another device's id (the aad binds it). */
    randombytes_buf(a2, sizeof a2);
    assert_int_equal(owb_wifi_blob_open(a2, "dev", b, len, w, sizeof w, &w_len),
                     OWB_ERR_APP_KEY_REJECTED);
    assert_int_equal(owb_wifi_blob_open(a, "dev2", b, len, w, sizeof w, &w_len),
                     OWB_ERR_APP_KEY_REJECTED);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_round_trip),
        cmocka_unit_test(test_bundle_every_bit_flip),
        cmocka_unit_test(test_bundle_every_truncation),
        cmocka_unit_test(test_bundle_wrong_key_and_device),
        cmocka_unit_test(test_bundle_counter_edges),
        cmocka_unit_test(test_header_rejects),
        cmocka_unit_test(test_wifi_blob_flips_and_truncations),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
