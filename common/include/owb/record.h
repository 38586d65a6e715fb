/* Server records: what owb-mint appends to records.jsonl and what
 * owb-server device import reads, one JSON object per line, in the
 * symmetric suite
 *   {"device_id": "...", "device_key": "<base64url 32 bytes>",
 *    "claim_code": "<16 chars>"}
 * and in the pk suite (no device secret at all)
 *   {"suite": "pk", "device_id": "...",
 *    "device_public_key": "<base64url 32 bytes>", "ap_passphrase": "<22 chars>",
 *    "claim_code": "<16 chars>"}
 * claim_code is optional (a device minted without one).
 *
 * struct owb_record holds a device key: keep it in owb_secret_alloc()
 * memory or wipe it with sodium_memzero() after use.
 */
#ifndef OWB_RECORD_H
#define OWB_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/claim.h"
#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/kdf.h"

/* Longest line owb writes or reads, newline excluded. */
#define OWB_RECORD_LINE_MAX 512

struct owb_record {
    enum owb_suite suite; /* OWB_SUITE_PK, else symmetric (0 counts as symmetric) */
    char device_id[OWB_DEVICE_ID_SIZE];
    uint8_t device_key[OWB_DEVICE_KEY_BYTES];   /* symmetric */
    uint8_t device_pk[OWB_PK_PUBLIC_KEY_BYTES]; /* pk */
    char ap_passphrase[OWB_AP_PASSPHRASE_SIZE]; /* pk */
    char claim_code[OWB_CLAIM_SIZE];            /* "" when absent */
};

/* Parses one line (no newline). diag (OWB_DIAG_SIZE bytes, may be NULL)
 * says what is wrong. OWB_ERR_BAD_FILE on any problem; *r is wiped then. */
enum owb_err owb_record_parse(const char *line, size_t len, struct owb_record *r,
                              char *diag) OWB_MUST_CHECK;

/* Writes the record as one compact JSON line with a trailing newline into
 * out; *out_len excludes the NUL. The caller wipes out. */
enum owb_err owb_record_to_line(const struct owb_record *r, char *out, size_t out_cap,
                                size_t *out_len) OWB_MUST_CHECK;

#endif
