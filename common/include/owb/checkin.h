/* Check-in proof (PROTOCOL.md, "Check-in"):
 *   msg = "OWB1" || "C" || id_len || device_id || counter(u64 BE) || nonce(16)
 *   mac = crypto_auth(msg, Kc)          (HMAC-SHA-512-256)
 */
#ifndef OWB_CHECKIN_H
#define OWB_CHECKIN_H

#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"

#define OWB_CHECKIN_NONCE_BYTES 16
#define OWB_CHECKIN_MAC_BYTES 32
#define OWB_CHECKIN_MSG_MAX (4 + 1 + 1 + OWB_DEVICE_ID_MAX + 8 + OWB_CHECKIN_NONCE_BYTES)

enum owb_err owb_checkin_message(const char *device_id, uint64_t counter,
                                 const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES], uint8_t *msg,
                                 size_t msg_cap, size_t *msg_len) OWB_MUST_CHECK;

enum owb_err owb_checkin_mac(const uint8_t checkin_key[static 32], const char *device_id,
                             uint64_t counter, const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                             uint8_t mac[static OWB_CHECKIN_MAC_BYTES]) OWB_MUST_CHECK;

/* --- the pk suite: the device signs, the server verifies --- */

/* "OWB2" || "C" || id_len || device_id || counter || nonce(16) */
enum owb_err owb_pk_checkin_message(const char *device_id, uint64_t counter,
                                    const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                    uint8_t *msg, size_t msg_cap, size_t *msg_len) OWB_MUST_CHECK;
enum owb_err owb_pk_checkin_sign(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                 const char *device_id, uint64_t counter,
                                 const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                 uint8_t sig[static OWB_PK_SIGNATURE_BYTES]) OWB_MUST_CHECK;
/* OWB_ERR_AUTH_FAILED when the signature is not the device's. */
enum owb_err owb_pk_checkin_verify(const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                   const char *device_id, uint64_t counter,
                                   const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                   const uint8_t sig[static OWB_PK_SIGNATURE_BYTES]) OWB_MUST_CHECK;

/* Constant-time check: OWB_ERR_AUTH_FAILED when the MAC is wrong. */
enum owb_err owb_checkin_verify(const uint8_t checkin_key[static 32], const char *device_id,
                                uint64_t counter,
                                const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                const uint8_t mac[static OWB_CHECKIN_MAC_BYTES]) OWB_MUST_CHECK;

#endif
