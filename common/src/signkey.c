#include "owb/signkey.h"

#include <sodium.h>

_Static_assert(OWB_PK_SEED_BYTES == crypto_sign_SEEDBYTES, "a seed is an Ed25519 seed");
_Static_assert(OWB_PK_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES,
               "a pk secret key is libsodium's Ed25519 secret key");
_Static_assert(OWB_PK_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES,
               "a pk public key is an Ed25519 public key");
_Static_assert(OWB_PK_SECRET_KEY_BYTES == OWB_PK_SEED_BYTES + OWB_PK_PUBLIC_KEY_BYTES,
               "libsodium's secret key is the seed, then the public key");
_Static_assert(OWB_PK_SIGNATURE_BYTES == crypto_sign_BYTES, "an Ed25519 signature");

void owb_signkey_from_seed(uint8_t pk[static OWB_PK_PUBLIC_KEY_BYTES],
                           uint8_t sk[static OWB_PK_SECRET_KEY_BYTES],
                           const uint8_t seed[static OWB_PK_SEED_BYTES])
{
    crypto_sign_seed_keypair(pk, sk, seed);
}

void owb_signkey_generate(uint8_t pk[static OWB_PK_PUBLIC_KEY_BYTES],
                          uint8_t sk[static OWB_PK_SECRET_KEY_BYTES])
{
    crypto_sign_keypair(pk, sk);
}

const uint8_t *owb_signkey_public(const uint8_t sk[static OWB_PK_SECRET_KEY_BYTES])
{
    return sk + OWB_PK_SEED_BYTES;
}
