/* POST /v1/devices/{id}/checkin (PROTOCOL.md, "Check-in"): the device
 * proves it is online with a MAC under its check-in key (symmetric suite)
 * or a signature by its own key (pk suite). Either is checked before
 * anything is written, so a forger cannot fill the nonce table. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "rowmac.h"
#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/json.h"
#include "owb/kdf.h"

/* The proof the device's suite asks for: a signature by its own key (pk),
 * or a MAC under the check-in key derived from its device key. */
static enum owb_err verify_proof(struct owb_app *app, const cJSON *body, const char *id,
                                 const struct owb_device_row *dev, uint64_t counter,
                                 const uint8_t nonce[static OWB_CHECKIN_NONCE_BYTES],
                                 const char **why)
{
    uint8_t mac[OWB_CHECKIN_MAC_BYTES], sig[OWB_PK_SIGNATURE_BYTES];
    uint8_t key[OWB_DEVICE_KEY_BYTES], kc[OWB_CHECKIN_KEY_BYTES];
    const char *b64;
    enum owb_err rc;

    if (dev->suite == OWB_SUITE_PK) {
        b64 = owb_json_string(body, "signature");
        if (!b64 || owb_b64_decode_exact(b64, strlen(b64), sig, sizeof sig) != OWB_OK) {
            *why = "signature must be 64 bytes of base64url.";
            return OWB_ERR_BAD_REQUEST;
        }
        rc = owb_pk_checkin_verify(dev->public_key, id, counter, nonce, sig);
    } else {
        b64 = owb_json_string(body, "mac");
        if (!b64 || owb_b64_decode_exact(b64, strlen(b64), mac, sizeof mac) != OWB_OK) {
            *why = "mac must be 32 bytes of base64url.";
            return OWB_ERR_BAD_REQUEST;
        }
        if (owb_atrest_open_device_key(app->master, dev, key) != OWB_OK)
            return OWB_ERR_INTERNAL;
        owb_kdf_checkin_key(kc, key);
        sodium_memzero(key, sizeof key);
        rc = owb_checkin_verify(kc, id, counter, nonce, mac);
        sodium_memzero(kc, sizeof kc);
    }
    if (rc != OWB_OK) {
        *why = dev->suite == OWB_SUITE_PK ? "The check-in signature is wrong."
                                          : "The check-in MAC is wrong.";
        return OWB_ERR_AUTH_FAILED;
    }
    return OWB_OK;
}

void route_checkin(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *id)
{
    struct owb_device_row dev;
    cJSON *body = NULL, *answer;
    const char *nonce_b64, *why = NULL;
    uint8_t nonce[OWB_CHECKIN_NONCE_BYTES];
    uint64_t counter = 0;
    enum owb_err rc;

    /* Before anything is parsed or looked up: a flood for one device costs
     * a table lookup. */
    if (owb_route_rate_limited(app, app->checkin_rl, id, resp,
                               "Too many check-ins for this device; slow down."))
        return;
    rc = owb_json_parse(req->body, req->body_len, &body);
    if (rc != OWB_OK || !cJSON_IsObject(body) ||
        owb_json_uint(body, "counter", &counter) != OWB_OK) {
        rc = OWB_ERR_BAD_REQUEST;
        why = "Send counter, nonce and mac (or signature).";
        goto out;
    }
    nonce_b64 = owb_json_string(body, "nonce");
    if (!nonce_b64 ||
        owb_b64_decode_exact(nonce_b64, strlen(nonce_b64), nonce, sizeof nonce) != OWB_OK) {
        rc = OWB_ERR_BAD_REQUEST;
        why = "nonce must be 16 bytes of base64url.";
        goto out;
    }
    rc = owb_row_device_get(app->store, app->master, id, &dev);
    if (rc == OWB_ERR_NOENT)
        rc = OWB_ERR_UNKNOWN_DEVICE;
    if (rc == OWB_OK)
        rc = verify_proof(app, body, id, &dev, counter, nonce, &why);
    if (rc != OWB_OK)
        goto out;
    rc = app->store->ops->checkin(app->store, id, counter, nonce, (int64_t)time(NULL));
    if (rc == OWB_ERR_CONFLICT)
        why = "No bundle was issued with this counter.";
    else if (rc == OWB_ERR_REPLAYED)
        why = "This check-in nonce was already used.";
    if (rc != OWB_OK)
        goto out;
    answer = cJSON_CreateObject();
    if (answer) {
        cJSON_AddStringToObject(answer, "device_id", id);
        owb_json_add_u64(answer, "counter", counter);
        cJSON_AddStringToObject(answer, "state", "online");
    }
    owb_http_json(resp, 200, answer);
    owb_metrics_inc(app->metrics, OWB_M_CHECKINS_OK);
out:
    if (rc != OWB_OK) {
        owb_metrics_inc(app->metrics, OWB_M_CHECKINS_REJECTED);
        owb_route_error(resp, rc, why);
    }
    cJSON_Delete(body);
}
