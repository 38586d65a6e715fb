#include "owb/record.h"

#include "identity_i.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/json.h"
#include "owb/keyfile.h"

enum owb_err owb_record_parse(const char *line, size_t len, struct owb_record *r, char *diag)
{
    cJSON *root = NULL;
    enum owb_err rc = OWB_ERR_BAD_FILE;

    sodium_memzero(r, sizeof *r);
    owb_diagf(diag, "ok");
    if (len > OWB_RECORD_LINE_MAX) {
        owb_diagf(diag, "line too long for a record");
        goto out;
    }
    if (owb_json_parse(line, len, &root) != OWB_OK || !cJSON_IsObject(root)) {
        owb_diagf(diag, "not a JSON object");
        goto out;
    }
    if (owb_identity_parse(root, &r->suite, r->device_id, r->device_key, r->ap_passphrase,
                           r->claim_code, diag) != OWB_OK)
        goto out;
    if (r->suite == OWB_SUITE_PK &&
        (!owb_identity_b64(root, "device_public_key", r->device_pk, sizeof r->device_pk) ||
         crypto_core_ed25519_is_valid_point(r->device_pk) != 1)) {
        owb_diagf(diag, "device_public_key: missing or not an Ed25519 public key in base64url");
        goto out;
    }
    rc = OWB_OK;
out:
    if (rc != OWB_OK)
        sodium_memzero(r, sizeof *r);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_record_to_line(const struct owb_record *r, char *out, size_t out_cap,
                                size_t *out_len)
{
    char key[OWB_B64_ENCODED_SIZE(OWB_DEVICE_KEY_BYTES)];
    char claim[OWB_CLAIM_SIZE], tail[64] = "";
    bool pk = r->suite == OWB_SUITE_PK;
    int n;

    *out_len = 0;
    if (!owb_device_id_valid_str(r->device_id) ||
        (r->claim_code[0] &&
         (owb_claim_normalize(r->claim_code, strlen(r->claim_code), claim) != OWB_OK ||
          strcmp(claim, r->claim_code) != 0)))
        return OWB_ERR_INVALID_ARG;
    if (pk && strlen(r->ap_passphrase) != OWB_AP_PASSPHRASE_LEN)
        return OWB_ERR_INVALID_ARG;
    if (owb_b64_encode(pk ? r->device_pk : r->device_key, 32, key, sizeof key) != OWB_OK)
        return OWB_ERR_INTERNAL;
    if (r->claim_code[0])
        snprintf(tail, sizeof tail, ",\"claim_code\":\"%s\"", r->claim_code);
    /* Every field is from a fixed safe alphabet, so no JSON escaping is needed. */
    if (pk)
        n = snprintf(out, out_cap,
                     "{\"suite\":\"pk\",\"device_id\":\"%s\",\"device_public_key\":\"%s\","
                     "\"ap_passphrase\":\"%s\"%s}\n",
                     r->device_id, key, r->ap_passphrase, tail);
    else
        n = snprintf(out, out_cap, "{\"device_id\":\"%s\",\"device_key\":\"%s\"%s}\n", r->device_id,
                     key, tail);
    sodium_memzero(key, sizeof key);
    if (n < 0 || (size_t)n >= out_cap) {
        sodium_memzero(out, out_cap);
        return OWB_ERR_SPACE;
    }
    *out_len = (size_t)n;
    return OWB_OK;
}
