/* Key material (owb/signkey.h, owb/devkey.h): Ed25519 pairs from a seed,
 * fresh device keys, and the fingerprint owb-mint inspect prints. */
#include "test_support.h"

#include <string.h>

#include <sodium.h>

#include "owb/devkey.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/signkey.h"

/* RFC 8032, section 7.1, test 1. */
static const char rfc8032_seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc8032_pk[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void test_signkey_from_seed(void **state)
{
    (void)state;
    uint8_t seed[OWB_PK_SEED_BYTES], want[OWB_PK_PUBLIC_KEY_BYTES];
    uint8_t pk[OWB_PK_PUBLIC_KEY_BYTES], sk[OWB_PK_SECRET_KEY_BYTES];

    t_hex(rfc8032_seed, seed, sizeof seed);
    t_hex(rfc8032_pk, want, sizeof want);
    owb_signkey_from_seed(pk, sk, seed);
    assert_memory_equal(pk, want, sizeof pk);
    assert_memory_equal(sk, seed, sizeof seed);
    assert_memory_equal(owb_signkey_public(sk), want, sizeof want);
}

static void test_signkey_generate(void **state)
{
    (void)state;
    uint8_t pk[OWB_PK_PUBLIC_KEY_BYTES], sk[OWB_PK_SECRET_KEY_BYTES];
    uint8_t pk2[OWB_PK_PUBLIC_KEY_BYTES], sk2[OWB_PK_SECRET_KEY_BYTES];

    owb_signkey_generate(pk, sk);
    assert_memory_equal(owb_signkey_public(sk), pk, sizeof pk);
    owb_signkey_from_seed(pk2, sk2, sk); /* the seed is the first half */
    assert_memory_equal(pk2, pk, sizeof pk);
    assert_memory_equal(sk2, sk, sizeof sk);
}

static void test_devkey_generate(void **state)
{
    (void)state;
    struct owb_keyfile *a = owb_keyfile_new(), *b = owb_keyfile_new();
    static const uint8_t zero[OWB_PK_SECRET_KEY_BYTES];

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(owb_devkey_generate(a, OWB_SUITE_SYM), OWB_OK);
    assert_int_equal(owb_devkey_generate(b, OWB_SUITE_SYM), OWB_OK);
    assert_int_equal(a->suite, OWB_SUITE_SYM);
    assert_memory_not_equal(a->device_key, b->device_key, sizeof a->device_key);
    assert_memory_equal(a->device_sk, zero, sizeof a->device_sk);

    assert_int_equal(owb_devkey_generate(a, OWB_SUITE_PK), OWB_OK);
    assert_int_equal(a->suite, OWB_SUITE_PK);
    assert_memory_not_equal(a->device_sk, zero, sizeof a->device_sk);
    /* A minted AP passphrase: 22 base64url characters. */
    assert_int_equal(strlen(a->ap_passphrase), OWB_AP_PASSPHRASE_LEN);
    owb_keyfile_free(a);
    owb_keyfile_free(b);
}

/* Known answers: the fingerprint owb-mint inspect has always printed. */
static void test_fingerprint(void **state)
{
    (void)state;
    struct owb_keyfile *kf = owb_keyfile_new();
    uint8_t seed[OWB_PK_SEED_BYTES], pk[OWB_PK_PUBLIC_KEY_BYTES];
    char fp[OWB_DEVKEY_FP_SIZE];

    assert_non_null(kf);
    kf->suite = OWB_SUITE_SYM;
    for (int i = 0; i < OWB_DEVICE_KEY_BYTES; i++)
        kf->device_key[i] = (uint8_t)i;
    owb_devkey_fingerprint(kf, fp);
    assert_string_equal(fp, "243f-11be-d654-a2c5");

    kf->suite = OWB_SUITE_PK;
    t_hex(rfc8032_seed, seed, sizeof seed);
    owb_signkey_from_seed(pk, kf->device_sk, seed);
    owb_devkey_fingerprint(kf, fp);
    assert_string_equal(fp, "18f1-eeec-b854-f3f9");
    owb_keyfile_free(kf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signkey_from_seed),
        cmocka_unit_test(test_signkey_generate),
        cmocka_unit_test(test_devkey_generate),
        cmocka_unit_test(test_fingerprint),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
