#include "identity_i.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/json.h"

bool owb_identity_b64(const cJSON *root, const char *name, uint8_t *out, size_t n)
{
    const char *s = owb_json_string(root, name);
    return s && owb_b64_decode_exact(s, strlen(s), out, n) == OWB_OK;
}

enum owb_err owb_identity_parse(const cJSON *root, enum owb_suite *suite,
                                char id[static OWB_DEVICE_ID_SIZE],
                                uint8_t key[static OWB_DEVICE_KEY_BYTES],
                                char ap_passphrase[static OWB_AP_PASSPHRASE_SIZE],
                                char claim[static OWB_CLAIM_SIZE], char *diag)
{
    const char *s = owb_json_string(root, "suite");
    uint8_t raw[OWB_AP_PASSPHRASE_RAW_BYTES];

    claim[0] = '\0';
    ap_passphrase[0] = '\0';
    *suite = OWB_SUITE_SYM;
    if (cJSON_GetObjectItemCaseSensitive(root, "suite")) {
        if (owb_suite_parse(s, suite) != OWB_OK) {
            owb_diagf(diag, "suite: unsupported (this build knows \"sym\" and \"pk\")");
            return OWB_ERR_BAD_FILE;
        }
    }
    s = owb_json_string(root, "device_id");
    if (!s || !owb_device_id_valid_str(s)) {
        owb_diagf(diag, "device_id: missing or not 1-32 characters of [A-Za-z0-9._-]");
        return OWB_ERR_BAD_FILE;
    }
    memcpy(id, s, strlen(s) + 1);
    if (*suite == OWB_SUITE_SYM &&
        !owb_identity_b64(root, "device_key", key, OWB_DEVICE_KEY_BYTES)) {
        owb_diagf(diag, "device_key: missing or not 32 bytes of base64url");
        return OWB_ERR_BAD_FILE;
    }
    if (*suite == OWB_SUITE_PK) {
        /* Minted, not derived: 16 random bytes in base64url. */
        s = owb_json_string(root, "ap_passphrase");
        bool ok = s && strlen(s) == OWB_AP_PASSPHRASE_LEN &&
                  owb_identity_b64(root, "ap_passphrase", raw, sizeof raw);
        sodium_memzero(raw, sizeof raw); /* decoded only to check it */
        if (!ok) {
            owb_diagf(diag, "ap_passphrase: missing or not 16 bytes of base64url");
            return OWB_ERR_BAD_FILE;
        }
        memcpy(ap_passphrase, s, OWB_AP_PASSPHRASE_SIZE);
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
