/* The two AEAD layers (PROTOCOL.md, "Layers"), XChaCha20-Poly1305-IETF with
 * a 24-byte nonce per seal.
 *
 *   wifi_aad  = "OWB1" || "W" || id_len || device_id
 *   wifi_blob = nonce(24) || AEAD(key = A, aad = wifi_aad, msg = W)
 *
 *   header    = "OWB1" || "B" || id_len || device_id || counter(u64 BE)
 *   bundle    = header || nonce(24) || AEAD(key = Kb, aad = header, msg = P)
 *
 * Seal functions take an explicit nonce or NULL for a fresh random one
 * (explicit nonces exist for known-answer tests and for callers that draw
 * several nonces in one call). Open functions never read outside their
 * input and write nothing on failure except zeroes.
 *
 * Ownership: callers own every buffer; plaintext outputs are secrets the
 * caller wipes.
 */
#ifndef OWB_ENVELOPE_H
#define OWB_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"
#include "owb/id.h"
#include "owb/wifi.h"

#define OWB_APP_KEY_BYTES 32
#define OWB_NONCE_BYTES 24
#define OWB_TAG_BYTES 16
#define OWB_MAGIC_V1 "OWB1"
#define OWB_MAGIC_V2 "OWB2" /* the public-key suite (envelope_pk.h) */
#define OWB_MAGIC_LEN 4

/* Longest header: magic, type, id_len, 32-byte id, counter, and in the
 * pk suite the ephemeral public key. */
#define OWB_PK_EPHEMERAL_BYTES 32
#define OWB_PK_SIGNATURE_BYTES 64
#define OWB_PK_SECRET_KEY_BYTES 64 /* libsodium's Ed25519 secret key (seed || public key) */
#define OWB_PK_PUBLIC_KEY_BYTES 32
#define OWB_BUNDLE_HEADER_MAX                                                                      \
    (OWB_MAGIC_LEN + 1 + 1 + OWB_DEVICE_ID_MAX + 8 + OWB_PK_EPHEMERAL_BYTES)
#define OWB_WIFI_AAD_MAX (OWB_MAGIC_LEN + 1 + 1 + OWB_DEVICE_ID_MAX)
/* Bounds that keep every bundle inside the device's 8 KiB request. */
#define OWB_PAYLOAD_MAX 4096
#define OWB_BUNDLE_MAX                                                                             \
    (OWB_BUNDLE_HEADER_MAX + OWB_NONCE_BYTES + OWB_PAYLOAD_MAX + OWB_TAG_BYTES +                   \
     OWB_PK_SIGNATURE_BYTES)
#define OWB_WIFI_BLOB_MAX (OWB_NONCE_BYTES + OWB_WIFI_JSON_MAX + OWB_TAG_BYTES)

#define OWB_WIFI_BLOB_SIZE(wlen) (OWB_NONCE_BYTES + (wlen) + OWB_TAG_BYTES)

enum owb_suite {
    OWB_SUITE_SYM = 1, /* "OWB1": symmetric device key */
    OWB_SUITE_PK = 2,  /* "OWB2": Ed25519/X25519, no device secret on the server */
};

/* The suite's name in records, key files and the store: "sym" or "pk";
 * "unknown" for any other value. */
const char *owb_suite_name(enum owb_suite suite);
/* OWB_ERR_INVALID_ARG for a name that is neither (NULL included). */
enum owb_err owb_suite_parse(const char *name, enum owb_suite *out) OWB_MUST_CHECK;

struct owb_bundle_header {
    enum owb_suite suite;
    char device_id[OWB_DEVICE_ID_SIZE];
    size_t id_len;
    uint64_t counter;
    uint8_t eph_pk[OWB_PK_EPHEMERAL_BYTES]; /* pk suite: the bundle's X25519 public key E */
    size_t len;                             /* bytes of header at the start of the bundle */
};

/* --- inner layer --- */

/* Builds wifi_aad for device_id into aad (at least OWB_WIFI_AAD_MAX). */
enum owb_err owb_wifi_aad(const char *device_id, uint8_t *aad, size_t aad_cap,
                          size_t *aad_len) OWB_MUST_CHECK;

/* Seals W (w_len bytes) into blob, which needs OWB_WIFI_BLOB_SIZE(w_len). */
enum owb_err owb_wifi_blob_seal(const uint8_t app_key[static OWB_APP_KEY_BYTES],
                                const char *device_id, const uint8_t *w, size_t w_len,
                                const uint8_t *nonce, uint8_t *blob, size_t blob_cap,
                                size_t *blob_len) OWB_MUST_CHECK;

/* Opens a wifi blob: OWB_ERR_BAD_REQUEST when too short, OWB_ERR_SPACE when
 * w_cap is too small, OWB_ERR_APP_KEY_REJECTED when it does not open. */
enum owb_err owb_wifi_blob_open(const uint8_t app_key[static OWB_APP_KEY_BYTES],
                                const char *device_id, const uint8_t *blob, size_t blob_len,
                                uint8_t *w, size_t w_cap, size_t *w_len) OWB_MUST_CHECK;

/* --- outer layer --- */

/* Writes the header for (device_id, counter); OWB_ERR_INVALID_ARG for a bad id. */
enum owb_err owb_bundle_header_write(const char *device_id, uint64_t counter, uint8_t *out,
                                     size_t out_cap, size_t *out_len) OWB_MUST_CHECK;

/* Parses the header at the start of bundle, of either suite (h->suite).
 * OWB_ERR_BAD_REQUEST when the magic, type, id length or id is wrong, or
 * when fewer bytes than a header plus a nonce and a tag (and in the pk
 * suite a signature) follow. Never reads past bundle + len. */
enum owb_err owb_bundle_header_parse(const uint8_t *bundle, size_t len,
                                     struct owb_bundle_header *h) OWB_MUST_CHECK;

/* Seals payload P for (device_id, counter) under the bundle key Kb.
 * bundle needs header + 24 + p_len + 16 bytes (at most OWB_BUNDLE_MAX). */
enum owb_err owb_bundle_seal(const uint8_t bundle_key[static 32], const char *device_id,
                             uint64_t counter, const uint8_t *p, size_t p_len, const uint8_t *nonce,
                             uint8_t *bundle, size_t bundle_cap, size_t *bundle_len) OWB_MUST_CHECK;

/* Opens a symmetric-suite bundle whose header h was parsed from it:
 * OWB_ERR_AUTH_FAILED when the AEAD does not verify or h is of the pk
 * suite. p needs len - h->len - 40 bytes. */
enum owb_err owb_bundle_open(const uint8_t bundle_key[static 32], const struct owb_bundle_header *h,
                             const uint8_t *bundle, size_t len, uint8_t *p, size_t p_cap,
                             size_t *p_len) OWB_MUST_CHECK;

#endif
