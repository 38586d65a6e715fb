/* At-rest sealing (owb/atrest.h): the format, the binding to table and
 * row, and the refusals. */
#include "test_support.h"

#include <string.h>

#include <sodium.h>

#include "owb/atrest.h"
#include "owb/mem.h"

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t key[OWB_ATREST_KEY_BYTES], sealed[64], plain[32];
    static const uint8_t secret[] = "a premises psk";
    size_t len = 0, plain_len = 0;

    randombytes_buf(key, sizeof key);
    assert_int_equal(owb_atrest_encrypt(key, "networks", "office", secret, sizeof secret, sealed,
                                        sizeof sealed, &len),
                     OWB_OK);
    /* nonce || ciphertext || tag */
    assert_int_equal(len, OWB_ATREST_NONCE_BYTES + sizeof secret + OWB_ATREST_TAG_BYTES);
    assert_int_equal(
        owb_atrest_decrypt(key, "networks", "office", sealed, len, plain, sizeof plain, &plain_len),
        OWB_OK);
    assert_int_equal(plain_len, sizeof secret);
    assert_memory_equal(plain, secret, sizeof secret);
}

/* The sealing format is fixed: a value sealed by hand with
 * XChaCha20-Poly1305 and the documented associated data opens. */
static void test_format(void **state)
{
    (void)state;
    static const char aad[] = "owb-atrest-v1:devices:owb-7K3M9Q2XRT";
    uint8_t key[OWB_ATREST_KEY_BYTES], sealed[80], plain[32], secret[32];
    unsigned long long clen = 0;
    size_t plain_len = 0;

    randombytes_buf(key, sizeof key);
    randombytes_buf(secret, sizeof secret);
    randombytes_buf(sealed, OWB_ATREST_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + OWB_ATREST_NONCE_BYTES, &clen, secret,
                                               sizeof secret, (const uint8_t *)aad, sizeof aad - 1,
                                               NULL, sealed, key);
    assert_int_equal(owb_atrest_decrypt(key, "devices", "owb-7K3M9Q2XRT", sealed,
                                        OWB_ATREST_NONCE_BYTES + (size_t)clen, plain, sizeof plain,
                                        &plain_len),
                     OWB_OK);
    assert_memory_equal(plain, secret, sizeof secret);
}

/* Another table, another row, another key, a flipped bit: none opens. */
static void test_refusals(void **state)
{
    (void)state;
    uint8_t key[OWB_ATREST_KEY_BYTES], other[OWB_ATREST_KEY_BYTES], sealed[64], plain[32];
    static const uint8_t secret[16] = {1, 2, 3};
    size_t len = 0, plain_len = 99;

    randombytes_buf(key, sizeof key);
    randombytes_buf(other, sizeof other);
    assert_int_equal(
        owb_atrest_encrypt(key, "devices", "a", secret, sizeof secret, sealed, sizeof sealed, &len),
        OWB_OK);
    assert_int_equal(
        owb_atrest_decrypt(key, "devices-ap", "a", sealed, len, plain, sizeof plain, &plain_len),
        OWB_ERR_AUTH_FAILED);
    assert_int_equal(plain_len, 0);
    assert_int_equal(
        owb_atrest_decrypt(key, "devices", "b", sealed, len, plain, sizeof plain, &plain_len),
        OWB_ERR_AUTH_FAILED);
    assert_int_equal(
        owb_atrest_decrypt(other, "devices", "a", sealed, len, plain, sizeof plain, &plain_len),
        OWB_ERR_AUTH_FAILED);
    /* Too short to hold a nonce and a tag; too little room for the plaintext. */
    assert_int_equal(owb_atrest_decrypt(key, "devices", "a", sealed, OWB_ATREST_OVERHEAD - 1, plain,
                                        sizeof plain, &plain_len),
                     OWB_ERR_AUTH_FAILED);
    assert_int_equal(
        owb_atrest_decrypt(key, "devices", "a", sealed, len, plain, sizeof secret - 1, &plain_len),
        OWB_ERR_AUTH_FAILED);
    sealed[len - 1] ^= 1;
    assert_int_equal(
        owb_atrest_decrypt(key, "devices", "a", sealed, len, plain, sizeof plain, &plain_len),
        OWB_ERR_AUTH_FAILED);
    /* No room for the sealed form. */
    assert_int_equal(owb_atrest_encrypt(key, "devices", "a", secret, sizeof secret, sealed,
                                        sizeof secret + OWB_ATREST_OVERHEAD - 1, &len),
                     OWB_ERR_SPACE);
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
