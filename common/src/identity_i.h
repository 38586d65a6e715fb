/* Internal: the members a key file and a server record share, read from a
 * parsed object: suite, device_id, optional claim_code; for the symmetric
 * suite device_key; for the pk suite ap_passphrase (the keys differ: the
 * key file has the secret key, the record the public key). */
#ifndef OWB_IDENTITY_I_H
#define OWB_IDENTITY_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "owb/claim.h"
#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/kdf.h"

/* OWB_ERR_BAD_FILE with diag saying which member is wrong. The outputs
 * are the caller's to wipe. */
enum owb_err owb_identity_parse(const cJSON *root, enum owb_suite *suite,
                                char id[static OWB_DEVICE_ID_SIZE],
                                uint8_t key[static OWB_DEVICE_KEY_BYTES],
                                char ap_passphrase[static OWB_AP_PASSPHRASE_SIZE],
                                char claim[static OWB_CLAIM_SIZE], char *diag) OWB_MUST_CHECK;

/* A base64url member of exactly n bytes into out; false when it is
 * missing or another size. */
bool owb_identity_b64(const cJSON *root, const char *name, uint8_t *out, size_t n);

#endif
