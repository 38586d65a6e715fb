/* Internal: the proofs a device gives after setup (check-in, heartbeat):
 * a MAC under Kc in the symmetric suite, an Ed25519 signature in the pk
 * suite, made or checked over a message the caller built. */
#ifndef OWB_PROOF_I_H
#define OWB_PROOF_I_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

enum owb_proof_op {
    OWB_PROOF_MAC,        /* key: Kc (32); proof out: 32 bytes */
    OWB_PROOF_MAC_CHECK,  /* constant time */
    OWB_PROOF_SIGN,       /* key: the device's secret key (64); proof out: 64 bytes */
    OWB_PROOF_SIGN_CHECK, /* key: the device's public key (32) */
};

/* OWB_ERR_AUTH_FAILED when a check fails. */
enum owb_err owb_proof_run(enum owb_proof_op op, const uint8_t *key, const uint8_t *msg, size_t len,
                           uint8_t *proof) OWB_MUST_CHECK;

#endif
