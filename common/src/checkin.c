#include "owb/checkin.h"

#include <string.h>

#include <sodium.h>

#include "bytes_i.h"
#include "owb/envelope.h"
#include "prefix_i.h"
#include "proof_i.h"

/* msg = magic || "C" || id_len || device_id || counter || nonce(16) */
static enum owb_err message(enum owb_suite suite, const char *device_id, uint64_t counter,
                            const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES], uint8_t *msg,
                            size_t msg_cap, size_t *msg_len)
{
    size_t n;
    enum owb_err rc;

    *msg_len = 0;
    rc = owb_prefix_write(suite, 'C', device_id, msg, msg_cap, &n);
    if (rc != OWB_OK)
        return rc;
    if (msg_cap - n < 8 + OWB_CHECKIN_NONCE_BYTES)
        return OWB_ERR_SPACE;
    owb_store_be64(msg + n, counter);
    memcpy(msg + n + 8, nonce, OWB_CHECKIN_NONCE_BYTES);
    *msg_len = n + 8 + OWB_CHECKIN_NONCE_BYTES;
    return OWB_OK;
}

enum owb_err owb_checkin_message(const char *device_id, uint64_t counter,
                                 const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES], uint8_t *msg,
                                 size_t msg_cap, size_t *msg_len)
{
    return message(OWB_SUITE_SYM, device_id, counter, nonce, msg, msg_cap, msg_len);
}

enum owb_err owb_pk_checkin_message(const char *device_id, uint64_t counter,
                                    const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                    uint8_t *msg, size_t msg_cap, size_t *msg_len)
{
    return message(OWB_SUITE_PK, device_id, counter, nonce, msg, msg_cap, msg_len);
}

/* The message for (suite, id, counter, nonce), then the proof op over it. */
static enum owb_err prove(enum owb_proof_op op, enum owb_suite suite, const uint8_t *key,
                          const char *device_id, uint64_t counter,
                          const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES], uint8_t *proof)
{
    uint8_t msg[OWB_CHECKIN_MSG_MAX];
    size_t len;
    enum owb_err rc = message(suite, device_id, counter, nonce, msg, sizeof msg, &len);

    return rc == OWB_OK ? owb_proof_run(op, key, msg, len, proof) : rc;
}

enum owb_err owb_pk_checkin_sign(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                 const char *device_id, uint64_t counter,
                                 const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                 uint8_t sig[static OWB_PK_SIGNATURE_BYTES])
{
    return prove(OWB_PROOF_SIGN, OWB_SUITE_PK, device_sk, device_id, counter, nonce, sig);
}

enum owb_err owb_pk_checkin_verify(const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                   const char *device_id, uint64_t counter,
                                   const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                   const uint8_t sig[static OWB_PK_SIGNATURE_BYTES])
{
    return prove(OWB_PROOF_SIGN_CHECK, OWB_SUITE_PK, device_pk, device_id, counter, nonce,
                 (uint8_t *)(uintptr_t)sig);
}

enum owb_err owb_checkin_mac(const uint8_t checkin_key[static 32], const char *device_id,
                             uint64_t counter, const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                             uint8_t mac[static OWB_CHECKIN_MAC_BYTES])
{
    return prove(OWB_PROOF_MAC, OWB_SUITE_SYM, checkin_key, device_id, counter, nonce, mac);
}

enum owb_err owb_checkin_verify(const uint8_t checkin_key[static 32], const char *device_id,
                                uint64_t counter,
                                const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                const uint8_t mac[static OWB_CHECKIN_MAC_BYTES])
{
    return prove(OWB_PROOF_MAC_CHECK, OWB_SUITE_SYM, checkin_key, device_id, counter, nonce,
                 (uint8_t *)(uintptr_t)mac);
}
