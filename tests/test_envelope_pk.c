/* The public-key suite in common/: every value of the pk vectors byte for
 * byte (keys, bundle key, wifi blob, header, bundle, signature, check-in),
 * then the same discipline as the symmetric suite: every bit flip and
 * every truncation refused, wrong keys refused, the suites kept apart.
 * Bundles sit in heap buffers of their exact size so that ASan catches any
 * read past the input. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/kdf.h"
#include "owb/mem.h"

static const char p_text[] = "{\"wifi\":\"x\",\"issued_at\":1}";

struct keys {
    uint8_t dev_pk[32], dev_sk[64], srv_pk[32], srv_sk[64];
};

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void b64(const char *text, uint8_t *out, size_t cap, size_t *len)
{
    assert_int_equal(owb_b64_decode(text, strlen(text), out, cap, len), OWB_OK);
}

static void test_vectors(void **state)
{
    (void)state;
    cJSON *root;
    const cJSON *cases = t_vector_cases("protocol-v1-pk.json", &root), *c;
    int n = 0;

    cJSON_ArrayForEach(c, cases)
    {
        struct keys k;
        uint8_t seed[32], want[OWB_BUNDLE_MAX], got[OWB_BUNDLE_MAX], e[32], E[32], D[32];
        uint8_t kb[32], want_kb[32], app_key[32], wnonce[24], bnonce[24], cnonce[16];
        uint8_t p[OWB_PAYLOAD_MAX], sig[64], want_sig[64], msg[OWB_CHECKIN_MSG_MAX];
        size_t want_len, got_len, p_len, msg_len, hdr_len = t_hex_len(t_str(c, "bundle_header"));
        const char *id = t_str(c, "device_id"), *bp = t_str(c, "bundle_plaintext");
        uint64_t counter = strtoull(t_str(c, "counter"), NULL, 10);
        struct owb_bundle_header h;

        /* Keys from the seeds, and the device's X25519 key. */
        t_hex(t_str(c, "device_seed"), seed, 32);
        crypto_sign_seed_keypair(k.dev_pk, k.dev_sk, seed);
        t_hex(t_str(c, "device_sign_pk"), got, 32);
        assert_memory_equal(k.dev_pk, got, 32);
        assert_int_equal(owb_pk_device_box_pk(k.dev_pk, D), OWB_OK);
        t_hex(t_str(c, "device_box_pk"), got, 32);
        assert_memory_equal(D, got, 32);
        t_hex(t_str(c, "server_seed"), seed, 32);
        crypto_sign_seed_keypair(k.srv_pk, k.srv_sk, seed);
        t_hex(t_str(c, "server_sign_pk"), got, 32);
        assert_memory_equal(k.srv_pk, got, 32);
        t_hex(t_str(c, "ephemeral_sk"), e, 32);
        crypto_scalarmult_base(E, e);
        t_hex(t_str(c, "ephemeral_pk"), got, 32);
        assert_memory_equal(E, got, 32);

        /* k from either side. */
        t_hex(t_str(c, "bundle_key"), want_kb, 32);
        assert_int_equal(owb_pk_bundle_key(e, D, E, D, kb), OWB_OK);
        assert_memory_equal(kb, want_kb, 32);
        uint8_t d[32];
        assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(d, k.dev_sk), 0);
        assert_int_equal(owb_pk_bundle_key(d, E, E, D, kb), OWB_OK);
        assert_memory_equal(kb, want_kb, 32);

        /* The inner layer is the symmetric suite's. */
        t_hex(t_str(c, "app_key"), app_key, 32);
        t_hex(t_str(c, "wifi_nonce"), wnonce, 24);
        const char *w = t_str(c, "wifi_plaintext");
        b64(t_str(c, "wifi_blob"), want, sizeof want, &want_len);
        assert_int_equal(owb_wifi_blob_seal(app_key, id, (const uint8_t *)w, strlen(w), wnonce, got,
                                            sizeof got, &got_len),
                         OWB_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);

        /* The bundle, byte for byte: header, body, signature. */
        t_hex(t_str(c, "bundle_nonce"), bnonce, 24);
        b64(t_str(c, "bundle"), want, sizeof want, &want_len);
        assert_int_equal(owb_pk_bundle_seal(k.srv_sk, k.dev_pk, id, counter, (const uint8_t *)bp,
                                            strlen(bp), e, bnonce, got, sizeof got, &got_len),
                         OWB_OK);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        uint8_t hdr[OWB_BUNDLE_HEADER_MAX];
        t_hex(t_str(c, "bundle_header"), hdr, hdr_len);
        assert_memory_equal(got, hdr, hdr_len);
        t_hex(t_str(c, "bundle_signature"), want_sig, 64);
        assert_memory_equal(got + got_len - 64, want_sig, 64);

        /* The device: parse, then open with its pinned keys (a rotated-out
         * key first: any one may have signed). */
        uint8_t pins[2][32];
        randombytes_buf(pins[0], 32);
        memcpy(pins[1], k.srv_pk, 32);
        assert_int_equal(owb_bundle_header_parse(want, want_len, &h), OWB_OK);
        assert_int_equal(h.suite, OWB_SUITE_PK);
        assert_string_equal(h.device_id, id);
        assert_true(h.counter == counter);
        assert_int_equal(h.len, hdr_len);
        assert_memory_equal(h.eph_pk, E, 32);
        assert_int_equal(owb_pk_bundle_open(k.dev_sk, (const uint8_t(*)[32])pins, 2, &h, want,
                                            want_len, p, sizeof p, &p_len),
                         OWB_OK);
        assert_int_equal(p_len, strlen(bp));
        assert_memory_equal(p, bp, p_len);

        /* The check-in message and signature. */
        t_hex(t_str(c, "checkin_nonce"), cnonce, 16);
        assert_int_equal(owb_pk_checkin_message(id, counter, cnonce, msg, sizeof msg, &msg_len),
                         OWB_OK);
        t_hex(t_str(c, "checkin_message"), got, msg_len);
        assert_int_equal(msg_len, t_hex_len(t_str(c, "checkin_message")));
        assert_memory_equal(msg, got, msg_len);
        assert_int_equal(owb_pk_checkin_sign(k.dev_sk, id, counter, cnonce, sig), OWB_OK);
        b64(t_str(c, "checkin_signature"), got, sizeof got, &got_len);
        assert_int_equal(got_len, 64);
        assert_memory_equal(sig, got, 64);
        assert_int_equal(owb_pk_checkin_verify(k.dev_pk, id, counter, cnonce, sig), OWB_OK);
        sig[17] ^= 4;
        assert_int_equal(owb_pk_checkin_verify(k.dev_pk, id, counter, cnonce, sig),
                         OWB_ERR_AUTH_FAILED);
        sig[17] ^= 4;
        assert_int_equal(owb_pk_checkin_verify(k.dev_pk, id, counter + 1, cnonce, sig),
                         OWB_ERR_AUTH_FAILED);
        assert_int_equal(owb_pk_checkin_verify(k.srv_pk, id, counter, cnonce, sig),
                         OWB_ERR_AUTH_FAILED);
        sodium_memzero(&k, sizeof k);
        n++;
    }
    assert_true(n >= 2);
    cJSON_Delete(root);
}

static void make_keys(struct keys *k)
{
    crypto_sign_keypair(k->dev_pk, k->dev_sk);
    crypto_sign_keypair(k->srv_pk, k->srv_sk);
}

/* A fresh bundle in a heap buffer of exactly its size. */
static uint8_t *seal_exact(const struct keys *k, const char *id, uint64_t counter, size_t *len)
{
    uint8_t tmp[OWB_BUNDLE_MAX], *out;
    assert_int_equal(owb_pk_bundle_seal(k->srv_sk, k->dev_pk, id, counter, (const uint8_t *)p_text,
                                        strlen(p_text), NULL, NULL, tmp, sizeof tmp, len),
                     OWB_OK);
    out = malloc(*len);
    assert_non_null(out);
    memcpy(out, tmp, *len);
    return out;
}

/* Parse then open as the device holding k; OWB_OK only when both succeed. */
static enum owb_err parse_open(const struct keys *k, const uint8_t *b, size_t len)
{
    struct owb_bundle_header h;
    uint8_t p[OWB_PAYLOAD_MAX];
    size_t p_len;
    enum owb_err rc = owb_bundle_header_parse(b, len, &h);
    if (rc != OWB_OK)
        return rc;
    rc = owb_pk_bundle_open(k->dev_sk, (const uint8_t(*)[32])k->srv_pk, 1, &h, b, len, p, sizeof p,
                            &p_len);
    if (rc == OWB_OK && (p_len != strlen(p_text) || memcmp(p, p_text, p_len) != 0))
        fail_msg("opened to the wrong plaintext");
    return rc;
}

static void test_every_bit_flip(void **state)
{
    (void)state;
    struct keys k;
    size_t len;
    make_keys(&k);
    uint8_t *b = seal_exact(&k, "flip-me", 7, &len);
    assert_int_equal(parse_open(&k, b, len), OWB_OK);
    for (size_t i = 0; i < len * 8; i++) {
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (parse_open(&k, b, len) == OWB_OK)
            fail_msg("bit %zu flipped was accepted", i);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    free(b);
}

static void test_every_truncation(void **state)
{
    (void)state;
    struct keys k;
    size_t len;
    make_keys(&k);
    uint8_t *full = seal_exact(&k, "cut-me", 9, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, full, n);
        if (parse_open(&k, cut, n) == OWB_OK)
            fail_msg("a bundle cut to %zu of %zu bytes was accepted", n, len);
        free(cut);
    }
    /* And one byte more. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, full, len);
    longer[len] = 0;
    assert_int_not_equal(parse_open(&k, longer, len + 1), OWB_OK);
    free(longer);
    free(full);
}

/* Another server's signature, another device's key, a bundle for another
 * id, and each suite's bundle given to the other's open. */
static void test_wrong_keys_and_suites(void **state)
{
    (void)state;
    struct keys k, other;
    size_t len, sym_len, p_len;
    uint8_t kb[32], sym[OWB_BUNDLE_MAX], p[OWB_PAYLOAD_MAX];
    struct owb_bundle_header h;
    make_keys(&k);
    make_keys(&other);
    uint8_t *b = seal_exact(&k, "dev-a", 3, &len);

    assert_int_equal(owb_bundle_header_parse(b, len, &h), OWB_OK);
    /* Signed by a key the device does not pin. */
    assert_int_equal(owb_pk_bundle_open(k.dev_sk, (const uint8_t(*)[32])other.srv_pk, 1, &h, b, len,
                                        p, sizeof p, &p_len),
                     OWB_ERR_AUTH_FAILED);
    /* No key pinned at all. */
    assert_int_equal(owb_pk_bundle_open(k.dev_sk, NULL, 0, &h, b, len, p, sizeof p, &p_len),
                     OWB_ERR_AUTH_FAILED);
    /* Rightly signed, but for another device's key: does not open. */
    assert_int_equal(owb_pk_bundle_open(other.dev_sk, (const uint8_t(*)[32])k.srv_pk, 1, &h, b, len,
                                        p, sizeof p, &p_len),
                     OWB_ERR_AUTH_FAILED);
    /* The symmetric open refuses a pk bundle, and the pk open a symmetric one. */
    randombytes_buf(kb, sizeof kb);
    assert_int_equal(owb_bundle_open(kb, &h, b, len, p, sizeof p, &p_len), OWB_ERR_AUTH_FAILED);
    assert_int_equal(owb_bundle_seal(kb, "dev-a", 3, (const uint8_t *)p_text, strlen(p_text), NULL,
                                     sym, sizeof sym, &sym_len),
                     OWB_OK);
    assert_int_equal(owb_bundle_header_parse(sym, sym_len, &h), OWB_OK);
    assert_int_equal(h.suite, OWB_SUITE_SYM);
    assert_int_equal(owb_pk_bundle_open(k.dev_sk, (const uint8_t(*)[32])k.srv_pk, 1, &h, sym,
                                        sym_len, p, sizeof p, &p_len),
                     OWB_ERR_AUTH_FAILED);
    /* A device key that is not a valid point cannot be sealed to. */
    uint8_t bad_pk[32] = {0}, out[OWB_BUNDLE_MAX];
    size_t out_len;
    bad_pk[0] = 1; /* the identity: a low-order point */
    assert_int_not_equal(owb_pk_bundle_seal(k.srv_sk, bad_pk, "dev-a", 1, (const uint8_t *)p_text,
                                            strlen(p_text), NULL, NULL, out, sizeof out, &out_len),
                         OWB_OK);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_wrong_keys_and_suites),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
