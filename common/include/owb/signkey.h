/* Ed25519 key pairs of the pk suite (PROTOCOL.md, "Public-key suite"):
 * the server's signing key, derived from the 32-byte seed its key file
 * holds, and a pk device's own key, made fresh by owb-mint. A secret key
 * is libsodium's 64 bytes: the seed, then the public key.
 *
 * Ownership: the caller owns every buffer and wipes the secret key and
 * the seed (sodium_malloc memory or sodium_memzero).
 */
#ifndef OWB_SIGNKEY_H
#define OWB_SIGNKEY_H

#include <stdint.h>

#include "owb/envelope.h"

#define OWB_PK_SEED_BYTES 32

/* The key pair a seed stands for: the same seed, the same pair. */
void owb_signkey_from_seed(uint8_t pk[static OWB_PK_PUBLIC_KEY_BYTES],
                           uint8_t sk[static OWB_PK_SECRET_KEY_BYTES],
                           const uint8_t seed[static OWB_PK_SEED_BYTES]);

/* A fresh random key pair. */
void owb_signkey_generate(uint8_t pk[static OWB_PK_PUBLIC_KEY_BYTES],
                          uint8_t sk[static OWB_PK_SECRET_KEY_BYTES]);

/* The public half a secret key carries (a pointer into sk). */
const uint8_t *owb_signkey_public(const uint8_t sk[static OWB_PK_SECRET_KEY_BYTES]);

#endif
