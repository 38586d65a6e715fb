#include "identity_i.h"

#include <string.h>

#include "owb/base64.h"
#include "owb/json.h"

enum owb_err owb_identity_parse(const cJSON *root, char id[static OWB_DEVICE_ID_SIZE],
                                uint8_t key[static OWB_DEVICE_KEY_BYTES],
                                char claim[static OWB_CLAIM_SIZE], char *diag)
{
    const char *s = owb_json_string(root, "suite");

    claim[0] = '\0';
    if (cJSON_GetObjectItemCaseSensitive(root, "suite") && (!s || strcmp(s, "sym") != 0)) {
        owb_diagf(diag, "suite: unsupported (this build knows \"sym\")");
        return OWB_ERR_BAD_FILE;
    }
    s = owb_json_string(root, "device_id");
    if (!s || !owb_device_id_valid_str(s)) {
        owb_diagf(diag, "device_id: missing or not 1-32 characters of [A-Za-z0-9._-]");
        return OWB_ERR_BAD_FILE;
    }
    memcpy(id, s, strlen(s) + 1);
    s = owb_json_string(root, "device_key");
    if (!s || owb_b64_decode_exact(s, strlen(s), key, OWB_DEVICE_KEY_BYTES) != OWB_OK) {
        owb_diagf(diag, "device_key: missing or not 32 bytes of base64url");
        return OWB_ERR_BAD_FILE;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "claim_code")) {
        s = owb_json_string(root, "claim_code");
        if (!s || owb_claim_normalize(s, strlen(s), claim) != OWB_OK) {
            owb_diagf(diag, "claim_code: not 16 characters of Crockford base32");
            return OWB_ERR_BAD_FILE;
        }
    }
    return OWB_OK;
}
