#include "proof_i.h"

#include <sodium.h>

enum owb_err owb_proof_run(enum owb_proof_op op, const uint8_t *key, const uint8_t *msg, size_t len,
                           uint8_t *proof)
{
    switch (op) {
    case OWB_PROOF_MAC:
        crypto_auth(proof, msg, len, key);
        return OWB_OK;
    case OWB_PROOF_MAC_CHECK:
        /* crypto_auth_verify compares in constant time. */
        return crypto_auth_verify(proof, msg, len, key) == 0 ? OWB_OK : OWB_ERR_AUTH_FAILED;
    case OWB_PROOF_SIGN:
        crypto_sign_detached(proof, NULL, msg, len, key);
        return OWB_OK;
    case OWB_PROOF_SIGN_CHECK:
        return crypto_sign_verify_detached(proof, msg, len, key) == 0 ? OWB_OK
                                                                      : OWB_ERR_AUTH_FAILED;
    }
    return OWB_ERR_INVALID_ARG;
}
