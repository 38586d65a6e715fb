/* The public-key suite's bundle (PROTOCOL.md, "Public-key suite"):
 *
 *   header = "OWB2" || "B" || id_len || device_id || counter || E(32)
 *   k      = BLAKE2b-256(X25519(e, D) || E || D)
 *   body   = header || nonce(24) || AEAD(key = k, aad = header, msg = P)
 *   bundle = body || Ed25519 signature of body by the server (64)
 *
 * e/E is a fresh X25519 pair per bundle; D is the device's X25519 public
 * key, converted from its Ed25519 signing key. The server holds only the
 * device's public key; the device holds its secret key and the server's
 * public key(s), pinned at minting. The inner layer (wifi blob) is the
 * symmetric suite's.
 */
#ifndef OWB_ENVELOPE_PK_H
#define OWB_ENVELOPE_PK_H

#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"

/* k from one side's X25519 secret and the other side's public key: the
 * server passes (e, D), the device (d, E); both then E and D. */
enum owb_err owb_pk_bundle_key(const uint8_t x_sk[static 32], const uint8_t x_peer[static 32],
                               const uint8_t eph_pk[static 32],
                               const uint8_t device_x_pk[static 32],
                               uint8_t k[static 32]) OWB_MUST_CHECK;

/* The device's X25519 public key D from its Ed25519 public key;
 * OWB_ERR_INVALID_ARG for a key that is not a valid point. */
enum owb_err owb_pk_device_box_pk(const uint8_t sign_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                  uint8_t box_pk[static 32]) OWB_MUST_CHECK;

/* Server side: seals P for (device_id, counter) to the device's Ed25519
 * public key and signs it with the server's secret key. eph_sk and nonce
 * are NULL for fresh random ones (given only by known-answer tests). */
enum owb_err owb_pk_bundle_seal(const uint8_t server_sk[static OWB_PK_SECRET_KEY_BYTES],
                                const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                const char *device_id, uint64_t counter, const uint8_t *p,
                                size_t p_len, const uint8_t *eph_sk, const uint8_t *nonce,
                                uint8_t *bundle, size_t bundle_cap,
                                size_t *bundle_len) OWB_MUST_CHECK;

/* Device side, for a bundle whose header h (suite pk) was parsed from it:
 * the signature is checked first against each of the n pinned server keys
 * (any one may have signed: key rotation), then k is derived and P opened.
 * OWB_ERR_AUTH_FAILED when no key signed it, when it does not open, or
 * when h is of the symmetric suite. p needs len - h->len - 104 bytes. */
enum owb_err owb_pk_bundle_open(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                const uint8_t (*server_pks)[OWB_PK_PUBLIC_KEY_BYTES], size_t n,
                                const struct owb_bundle_header *h, const uint8_t *bundle,
                                size_t len, uint8_t *p, size_t p_cap, size_t *p_len) OWB_MUST_CHECK;

#endif
