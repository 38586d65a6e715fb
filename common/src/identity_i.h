/* Internal: the members a key file and a server record share (suite,
 * device_id, device_key, optional claim_code), read from a parsed object. */
#ifndef OWB_IDENTITY_I_H
#define OWB_IDENTITY_I_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "owb/claim.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/kdf.h"

/* OWB_ERR_BAD_FILE with diag saying which member is wrong. The outputs
 * are the caller's to wipe. */
enum owb_err owb_identity_parse(const cJSON *root, char id[static OWB_DEVICE_ID_SIZE],
                                uint8_t key[static OWB_DEVICE_KEY_BYTES],
                                char claim[static OWB_CLAIM_SIZE], char *diag) OWB_MUST_CHECK;

#endif
