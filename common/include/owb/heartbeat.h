/* Heartbeats and rollouts (docs/protocol.md, "After setup: heartbeats and
 * rollouts").
 *
 * A provisioned device tells the server, every few minutes, which bundle's
 * settings it runs and which newer one it holds but could not apply yet:
 *
 *   msg = magic || "H" || id_len || device_id || running(u64 BE) ||
 *         held(u64 BE) || reason(1) || challenge(16)
 *
 * proven like the check-in: crypto_auth(msg, Kc) in the symmetric suite
 * (the type byte "H" keeps it apart from a check-in's "C"), an Ed25519
 * signature by the device in the pk suite ("OWB2"). The challenge is the
 * one the server gave in its last answer: each is accepted once, so an
 * old heartbeat cannot be replayed however old it is, and the server keeps
 * one value per device rather than every nonce it saw. The server's
 * answer carries the next challenge and may carry a rollout: a newer
 * bundle and the app key of its inner layer.
 *
 * Ownership: struct owb_heartbeat_answer holds an app key; wipe it with
 * owb_heartbeat_answer_wipe().
 */
#ifndef OWB_HEARTBEAT_H
#define OWB_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"

#define OWB_HEARTBEAT_CHALLENGE_BYTES 16
#define OWB_HEARTBEAT_MAC_BYTES 32
#define OWB_HEARTBEAT_MSG_MAX                                                                      \
    (4 + 1 + 1 + OWB_DEVICE_ID_MAX + 8 + 8 + 1 + OWB_HEARTBEAT_CHALLENGE_BYTES)
/* The request body: numbers, a challenge, a reason and a signature. */
#define OWB_HEARTBEAT_REQUEST_MAX 512
/* The answer: a bundle in base64url and an app key, with room for JSON. */
#define OWB_HEARTBEAT_ANSWER_MAX (OWB_BUNDLE_MAX * 4 / 3 + 256)

/* Why the held bundle is not running yet; 0 when it is. The values are
 * the reason byte of the message. */
enum owb_hb_reason {
    OWB_HB_RUNNING = 0,
    OWB_HB_WRONG_PASSWORD = 1,
    OWB_HB_NETWORK_NOT_FOUND = 2,
    OWB_HB_NO_IP = 3,
    OWB_HB_SERVER_UNREACHABLE = 4,
    OWB_HB_APPLY_FAILED = 5,
    /* held > running for a reason the device did not record: it restarted
     * since (a phone's bundle that failed is not kept, nor its reason,
     * which lives in memory only), or it stopped while applying. */
    OWB_HB_NOT_RECORDED = 6,
};

/* "wrong_password", ... (the device's failure reasons); "" for RUNNING. */
const char *owb_hb_reason_name(enum owb_hb_reason r);
/* OWB_ERR_BAD_REQUEST for a name that is none of them (or ""). */
enum owb_err owb_hb_reason_parse(const char *name, enum owb_hb_reason *out) OWB_MUST_CHECK;

struct owb_heartbeat {
    uint64_t running;          /* the counter of the bundle whose settings the device runs */
    uint64_t held;             /* the highest counter it accepted: running, or a newer one */
    enum owb_hb_reason reason; /* OWB_HB_RUNNING exactly when held == running */
    /* The server's last challenge; all zero when the device has none (the
     * server never issues that value). */
    uint8_t challenge[OWB_HEARTBEAT_CHALLENGE_BYTES];
};

/* OWB_ERR_BAD_REQUEST when the fields break a rule: held < running, a
 * reason with held == running or none with held > running, a counter not
 * below 2^53. */
enum owb_err owb_heartbeat_check(const struct owb_heartbeat *hb) OWB_MUST_CHECK;

enum owb_err owb_heartbeat_message(enum owb_suite suite, const char *device_id,
                                   const struct owb_heartbeat *hb, uint8_t *msg, size_t cap,
                                   size_t *len) OWB_MUST_CHECK;

/* Symmetric suite: Kc is the check-in key (owb_kdf_checkin_key). */
enum owb_err owb_heartbeat_mac(const uint8_t checkin_key[static 32], const char *device_id,
                               const struct owb_heartbeat *hb,
                               uint8_t mac[static OWB_HEARTBEAT_MAC_BYTES]) OWB_MUST_CHECK;
/* Constant time; OWB_ERR_AUTH_FAILED when the MAC is wrong. */
enum owb_err owb_heartbeat_verify(const uint8_t checkin_key[static 32], const char *device_id,
                                  const struct owb_heartbeat *hb,
                                  const uint8_t mac[static OWB_HEARTBEAT_MAC_BYTES]) OWB_MUST_CHECK;

/* pk suite. */
enum owb_err owb_pk_heartbeat_sign(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                   const char *device_id, const struct owb_heartbeat *hb,
                                   uint8_t sig[static OWB_PK_SIGNATURE_BYTES]) OWB_MUST_CHECK;
enum owb_err
owb_pk_heartbeat_verify(const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                        const char *device_id, const struct owb_heartbeat *hb,
                        const uint8_t sig[static OWB_PK_SIGNATURE_BYTES]) OWB_MUST_CHECK;

/* The request body, {"running":N,"held":N[,"reason":"..."],"challenge":"...",
 * "mac"|"signature":"..."}: proof is the MAC (32 bytes, symmetric) or the
 * signature (64 bytes, pk). */
enum owb_err owb_heartbeat_request_write(enum owb_suite suite, const struct owb_heartbeat *hb,
                                         const uint8_t *proof, char *out, size_t cap,
                                         size_t *len) OWB_MUST_CHECK;
/* Parses and checks a request body for a device of this suite; proof gets
 * the 32 or 64 bytes. OWB_ERR_BAD_REQUEST for anything malformed (the
 * other suite's proof field included). Proof not verified here. */
enum owb_err
owb_heartbeat_request_parse(const char *body, size_t len, enum owb_suite suite,
                            struct owb_heartbeat *hb,
                            uint8_t proof[static OWB_PK_SIGNATURE_BYTES]) OWB_MUST_CHECK;

struct owb_heartbeat_answer {
    unsigned heartbeat_s; /* the server's wish for the next interval; 0 = keep yours */
    /* The challenge for the next heartbeat (every answer has one). */
    uint8_t challenge[OWB_HEARTBEAT_CHALLENGE_BYTES];
    bool has_rollout;
    uint64_t counter; /* the rollout bundle's counter (its header says the same) */
    uint8_t bundle[OWB_BUNDLE_MAX];
    size_t bundle_len;
    uint8_t app_key[OWB_APP_KEY_BYTES];
};

/* {"challenge":"..."} or {"heartbeat_s":S,"challenge":"..."}, and
 * "rollout":{"counter":N,"bundle":"...","app_key":"..."} when it has one. */
enum owb_err owb_heartbeat_answer_write(const struct owb_heartbeat_answer *a, char *out, size_t cap,
                                        size_t *len) OWB_MUST_CHECK;
/* OWB_ERR_BAD_REQUEST for a malformed answer (no challenge, or an all-zero
 * one), or a rollout whose bundle header does not name this device and
 * that counter. Wipes on failure. */
enum owb_err owb_heartbeat_answer_parse(const char *body, size_t len, const char *device_id,
                                        struct owb_heartbeat_answer *a) OWB_MUST_CHECK;
void owb_heartbeat_answer_wipe(struct owb_heartbeat_answer *a);

/* The 409 answer to a heartbeat whose challenge is not the current one:
 * {"error":"stale_challenge","message":"...","challenge":"..."} (message
 * NULL: the error table's). */
enum owb_err
owb_heartbeat_stale_write(const uint8_t challenge[static OWB_HEARTBEAT_CHALLENGE_BYTES],
                          const char *message, char *out, size_t cap, size_t *len) OWB_MUST_CHECK;
/* The current challenge from such an answer; OWB_ERR_BAD_REQUEST for any
 * other body (another error, or no challenge, or an all-zero one). */
enum owb_err
owb_heartbeat_stale_parse(const char *body, size_t len,
                          uint8_t challenge[static OWB_HEARTBEAT_CHALLENGE_BYTES]) OWB_MUST_CHECK;
/* True when c is all zero: no challenge. */
bool owb_heartbeat_challenge_none(const uint8_t c[static OWB_HEARTBEAT_CHALLENGE_BYTES]);

#endif
