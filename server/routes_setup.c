/* POST /v1/setup/{id}: issue a bundle (PROTOCOL.md, "HTTP: provisioning
 * server"). Checks in order: rate limit, body shape, device, lock, claim,
 * then the mode's own needs (installer token and network for server-sealed;
 * a well-formed wifi blob for app-sealed). The app key is wiped as soon as
 * the inner layer is sealed and is never stored or logged. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "rowmac.h"
#include "setup.h"
#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/wifi.h"

/* The request's fields, pointing into its parsed body. */
struct setup_request {
    const char *claim, *app_key_b64, *wifi_b64;
    bool server_sealed;
};

/* Device-wide, claim attempts beyond --claim-max-failures in a window
 * wait a delay that doubles from 2 s up to this: a guesser gets about one
 * try a minute, and the owner waits a minute at worst, never an hour. */
#define CLAIM_DELAY_CAP_S 60

/* Lock and claim checks. A wrong claim is counted in the same statement
 * that lets it through (store.h claim_attempt), so a burst of guesses
 * cannot slip past the count; past the limit the device slows down
 * rather than locking, and while it waits a right claim waits too (else
 * a burst holding the right code would still get through). A right claim
 * only reads the state: the owner's setups never count. Each client
 * address also has a budget of wrong claims, so one noisy guesser is
 * stopped before it slows the device down for everyone. */
static enum owb_err check_claim(struct owb_app *app, const struct owb_http_request *req,
                                const struct owb_setup_read *rd, int64_t now, const char *claim,
                                struct owb_http_response *resp, const char **why)
{
    static const char slowed[] =
        "Too many wrong claim codes for this device: it takes one try at a time now. Wait for "
        "the time in Retry-After and try again, or ask the administrator (owb-server device "
        "unlock).";
    const struct owb_device_row *dev = &rd->dev;
    uint8_t hash[OWB_CLAIM_HASH_BYTES];
    unsigned attempts = 0;
    int64_t retry_at = 0;
    double wait;
    enum owb_err rc = OWB_OK;
    bool ok;

    if (!dev->has_claim)
        return OWB_OK;
    if (app->claim_rl && !owb_ratelimit_peek(app->claim_rl, req->client_addr, &wait)) {
        owb_route_retry_after(resp, owb_ratelimit_retry_secs(wait));
        owb_metrics_inc(app->metrics, OWB_M_RATE_LIMITED);
        *why = "Too many wrong claim codes from this address; wait and try again.";
        return OWB_ERR_RATE_LIMITED;
    }
    ok = claim && owb_claim_hash(dev->id, claim, strlen(claim), hash) == OWB_OK &&
         sodium_memcmp(hash, dev->claim_hash, sizeof hash) == 0;
    if (app->cfg.claim_max && ok) {
        attempts = rd->claim_attempts;
        retry_at = rd->claim_next_at;
    } else if (app->cfg.claim_max) {
        rc = app->store->ops->claim_attempt(app->store, dev->id, now, app->cfg.claim_window_s,
                                            app->cfg.claim_max, CLAIM_DELAY_CAP_S, &attempts,
                                            &retry_at);
    }
    if (rc == OWB_OK && ok && retry_at > now)
        rc = OWB_ERR_LOCKED;
    if (rc == OWB_ERR_LOCKED) {
        owb_route_retry_after(resp, retry_at - now > 0 ? (unsigned)(retry_at - now) : 1);
        owb_metrics_inc(app->metrics, OWB_M_CLAIM_LOCKED);
        *why = slowed;
        return rc;
    }
    if (rc != OWB_OK)
        return rc;
    if (ok)
        return attempts ? app->store->ops->claim_reset(app->store, dev->id) : OWB_OK;
    if (app->claim_rl)
        owb_ratelimit_allow(app->claim_rl, req->client_addr, &wait);
    owb_metrics_inc(app->metrics, OWB_M_CLAIM_REJECTED);
    return OWB_ERR_CLAIM_REJECTED;
}

/* The installer token's hash, looked up with the device (store.h
 * setup_read); false when the request holds none that could be one. */
static bool installer_hash(const struct owb_http_request *req, uint8_t hash[OWB_HASH_BYTES])
{
    const char *auth = owb_http_header(req, "Authorization");
    size_t n;

    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    n = strlen(auth);
    if (n == 0 || n > 128)
        return false;
    owb_token_hash(auth, n, hash);
    return true;
}

/* The mode's own input, decoded: the phone's app key (server-sealed) or
 * its wifi blob (app-sealed). */
static enum owb_err decode_input(const struct setup_request *r, struct setup_work *w,
                                 struct setup_secrets *s, const char **why)
{
    if (r->server_sealed) {
        if (owb_b64_decode_exact(r->app_key_b64, strlen(r->app_key_b64), s->app_key,
                                 sizeof s->app_key) != OWB_OK) {
            *why = "app_key must be 32 bytes of base64url.";
            return OWB_ERR_BAD_REQUEST;
        }
        return OWB_OK;
    }
    if (owb_b64_decode(r->wifi_b64, strlen(r->wifi_b64), w->payload.wifi_blob,
                       sizeof w->payload.wifi_blob, &w->payload.wifi_blob_len) != OWB_OK ||
        w->payload.wifi_blob_len < OWB_NONCE_BYTES + OWB_TAG_BYTES) {
        *why = "wifi must be a base64url wifi blob.";
        return OWB_ERR_BAD_REQUEST;
    }
    return OWB_OK;
}

static const char *mode_name(const struct setup_request *r)
{
    return r->server_sealed ? "server-sealed" : "app-sealed";
}

/* Where the store can (PostgreSQL), a setup that will pass reads and
 * issues in one statement: one round trip and one statement's start-up
 * instead of two. Only a request whose own parts are right tries it (a
 * claim its address may still send, a token for server-sealed, a
 * well-formed app key or wifi blob); anything else, and any setup the
 * statement turns down, goes the long way, which also says why. What
 * fails after it (a row that does not check, a PSK that does not open)
 * leaves a counter and a session no bundle went out under: harmless, a
 * device only needs its counters to grow. OWB_ERR_NOENT: not issued here. */
static enum owb_err read_and_issue(struct owb_app *app, const struct owb_http_request *req,
                                   const struct setup_request *r, const uint8_t *token_hash,
                                   int64_t now, struct setup_work *w, struct setup_secrets *s)
{
    struct owb_setup_ask ask = {
        w->id, NULL, now - (int64_t)app->cfg.claim_window_s, now, token_hash, NULL, mode_name(r)};
    uint8_t claim_hash[OWB_CLAIM_HASH_BYTES], session_hash[OWB_HASH_BYTES];
    char secret[OWB_SESSION_SECRET_SIZE];
    const char *why = NULL;
    double wait;
    enum owb_err rc;

    if (!app->store->ops->setup_issue || (r->server_sealed && !token_hash) ||
        (app->claim_rl && !owb_ratelimit_peek(app->claim_rl, req->client_addr, &wait)))
        return OWB_ERR_NOENT;
    if (r->claim) {
        if (owb_claim_hash(w->id, r->claim, strlen(r->claim), claim_hash) != OWB_OK)
            return OWB_ERR_NOENT;
        ask.claim_hash = claim_hash;
    }
    if (decode_input(r, w, s, &why) != OWB_OK)
        return OWB_ERR_NOENT;
    owb_session_new(secret, session_hash);
    ask.session_hash = session_hash;
    w->payload.has_issued_at = true;
    w->payload.issued_at = now;
    rc = owb_row_setup_issue(app->store, app->master, &ask, &w->read, &w->counter);
    if (rc == OWB_OK)
        owb_session_token(w->session, secret, w->counter, w->id);
    else
        w->payload.has_issued_at = false;
    sodium_memzero(secret, sizeof secret);
    return rc;
}

enum owb_err owb_setup_wifi(struct owb_app *app, struct setup_work *w, struct setup_secrets *s,
                            const char **why)
{
    struct owb_network_row *net = &w->read.net;
    size_t psk_len = 0, json_len = 0;
    enum owb_err rc;

    if (!w->read.dev.network[0]) {
        *why = "No network is assigned to this device; ask the administrator to assign one.";
        return OWB_ERR_CONFLICT;
    }
    rc = w->net_read ? owb_row_network_read(app->master, w->read.dev.network, w->read.net_rc, net)
                     : owb_row_network_get(app->store, app->master, w->read.dev.network, net);
    if (rc != OWB_OK)
        return rc == OWB_ERR_NOENT ? OWB_ERR_CONFLICT : rc;
    memcpy(s->wifi.ssid, net->ssid, sizeof net->ssid);
    s->wifi.ssid_len = strlen(net->ssid);
    s->wifi.security = net->security;
    s->wifi.hidden = net->hidden;
    if (net->security != OWB_SEC_OPEN) {
        rc = owb_atrest_open(app->master, "networks", net->name, &net->sealed_psk, s->psk,
                             OWB_PSK_MAX, &psk_len);
        if (rc != OWB_OK) {
            fprintf(stderr, "owb-server: network %s: stored PSK does not open\n", net->name);
            return OWB_ERR_INTERNAL;
        }
        memcpy(s->wifi.psk, s->psk, psk_len);
    }
    rc = owb_wifi_to_json(&s->wifi, s->wifi_json, sizeof s->wifi_json, &json_len);
    if (rc != OWB_OK)
        return OWB_ERR_INTERNAL;
    rc = owb_wifi_blob_seal(s->app_key, w->read.dev.id, (const uint8_t *)s->wifi_json, json_len,
                            w->nonces, w->payload.wifi_blob, sizeof w->payload.wifi_blob,
                            &w->payload.wifi_blob_len);
    sodium_memzero(s->app_key, sizeof s->app_key);
    return rc;
}

static cJSON *build_answer(struct owb_app *app, struct setup_work *w, uint64_t counter,
                           const struct setup_secrets *s)
{
    char ssid[OWB_AP_SSID_SIZE];
    cJSON *o = cJSON_CreateObject(), *ap;

    if (!o || owb_ap_ssid(ssid, w->read.dev.id) != OWB_OK)
        goto fail;
    cJSON_AddStringToObject(o, "device_id", w->read.dev.id);
    owb_json_add_u64(o, "counter", counter);
    cJSON_AddStringToObject(o, "bundle", w->bundle_b64);
    ap = cJSON_AddObjectToObject(o, "device_ap");
    if (!ap)
        goto fail;
    cJSON_AddStringToObject(ap, "ssid", ssid);
    cJSON_AddStringToObject(ap, "passphrase", s->ap_pass);
    cJSON_AddStringToObject(ap, "url", app->cfg.device_ap_url);
    if (!cJSON_AddStringToObject(o, "session", w->session))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Parse: a JSON object with a claim and exactly one of app_key
 * (server-sealed) or wifi (app-sealed); the strings point into *body. */
static enum owb_err parse_request(const struct owb_http_request *req, cJSON **body,
                                  struct setup_request *r, const char **why)
{
    cJSON *b;

    if (owb_json_parse(req->body, req->body_len, body) != OWB_OK || !cJSON_IsObject(*body)) {
        *why = "The body must be a JSON object.";
        return OWB_ERR_BAD_REQUEST;
    }
    b = *body;
    r->claim = owb_json_string(b, "claim");
    r->app_key_b64 = owb_json_string(b, "app_key");
    r->wifi_b64 = owb_json_string(b, "wifi");
    if ((cJSON_HasObjectItem(b, "claim") && !r->claim) ||
        (cJSON_HasObjectItem(b, "app_key") && !r->app_key_b64) ||
        (cJSON_HasObjectItem(b, "wifi") && !r->wifi_b64) || (!r->app_key_b64 == !r->wifi_b64)) {
        *why = "Send a claim with exactly one of app_key (server-sealed) or wifi (app-sealed).";
        return OWB_ERR_BAD_REQUEST;
    }
    r->server_sealed = r->app_key_b64 != NULL;
    return OWB_OK;
}

/* The device, its claim, and the mode's own needs, ending with the wifi
 * blob in the payload: sealed here from the assigned network
 * (server-sealed, behind the installer token), or as the phone sent it
 * (app-sealed). */
static enum owb_err authorize(struct owb_app *app, const struct owb_http_request *req,
                              const struct setup_request *r, struct setup_work *w,
                              struct setup_secrets *s, struct owb_http_response *resp,
                              const char **why)
{
    struct owb_setup_read *rd = &w->read;
    /* A server-sealed request without a token still reads the network
     * with the device (and a hash no token has): one statement either way. */
    uint8_t token_hash[OWB_HASH_BYTES] = {0};
    bool has_token = r->server_sealed && installer_hash(req, token_hash);
    int64_t now = (int64_t)time(NULL);
    enum owb_err rc;

    rc = read_and_issue(app, req, r, has_token ? token_hash : NULL, now, w, s);
    if (rc == OWB_ERR_NOENT) {
        rc = owb_row_setup_read(app->store, app->master, w->id,
                                now - (int64_t)app->cfg.claim_window_s,
                                r->server_sealed ? token_hash : NULL, rd);
        if (rc == OWB_ERR_NOENT)
            return OWB_ERR_UNKNOWN_DEVICE;
        if (rc == OWB_OK)
            rc = check_claim(app, req, rd, now, r->claim, resp, why);
        if (rc == OWB_OK && r->server_sealed && (!has_token || !rd->token_ok))
            rc = OWB_ERR_UNAUTHORIZED;
        if (rc == OWB_OK)
            rc = decode_input(r, w, s, why);
    }
    if (rc != OWB_OK)
        return rc;
    /* Only a request that may get a bundle draws its nonces. */
    randombytes_buf(w->nonces, sizeof w->nonces);
    if (!r->server_sealed)
        return OWB_OK;
    w->net_read = true;
    return owb_setup_wifi(app, w, s, why);
}

/* Derive: pk, the device's public key is all the bundle needs and its AP
 * passphrase was minted and is stored sealed; symmetric, both the bundle
 * key and the AP passphrase come from the device key. Then the payload
 * the bundle carries. */
enum owb_err owb_setup_derive(struct owb_app *app, struct setup_work *w, struct setup_secrets *s)
{
    enum owb_err rc;
    int n;

    if (w->pk && !app->signing) {
        fprintf(stderr, "owb-server: device %s is a pk device and this server has no signing key\n",
                w->id);
        return OWB_ERR_INTERNAL;
    }
    if (w->pk) {
        rc = owb_atrest_open_ap_passphrase(app->master, &w->read.dev, s->ap_pass);
    } else {
        rc = owb_atrest_open_device_key(app->master, &w->read.dev, s->device_key);
        if (rc == OWB_OK) {
            owb_kdf_bundle_key(s->bundle_key, s->device_key);
            owb_kdf_ap_passphrase(s->ap_pass, s->device_key);
        }
        sodium_memzero(s->device_key, sizeof s->device_key);
    }
    if (rc != OWB_OK)
        return OWB_ERR_INTERNAL;
    n = snprintf(w->payload.checkin_url, sizeof w->payload.checkin_url, "%s/v1/devices/%s/checkin",
                 app->cfg.public_url, w->id);
    if (n < 0 || (size_t)n >= sizeof w->payload.checkin_url)
        return OWB_ERR_INTERNAL;
    /* A setup that issued as it read has its time already. */
    if (!w->payload.has_issued_at) {
        w->payload.has_issued_at = true;
        w->payload.issued_at = (int64_t)time(NULL);
    }
    if (owb_payload_to_json(&w->payload, w->p_json, sizeof w->p_json, &w->p_len) != OWB_OK)
        return OWB_ERR_INTERNAL;
    return OWB_OK;
}

/* The counter is taken (and the session recorded) before sealing, so a
 * bundle is only ever handed out under a counter the database holds. */
enum owb_err owb_setup_issue(struct owb_app *app, const char *mode, struct setup_work *w)
{
    char secret[OWB_SESSION_SECRET_SIZE];
    uint8_t session_hash[OWB_HASH_BYTES];
    enum owb_err rc;

    owb_session_new(secret, session_hash);
    rc = app->store->ops->issue(app->store, w->id, session_hash, mode, w->payload.issued_at,
                                &w->counter);
    if (rc == OWB_OK)
        owb_session_token(w->session, secret, w->counter, w->id);
    sodium_memzero(secret, sizeof secret);
    return rc == OWB_ERR_NOENT ? OWB_ERR_UNKNOWN_DEVICE : rc;
}

enum owb_err owb_setup_seal(struct owb_app *app, struct setup_work *w,
                            const struct setup_secrets *s)
{
    enum owb_err rc;

    if (w->pk)
        rc = owb_pk_bundle_seal(app->signing->sk, w->read.dev.public_key, w->id, w->counter,
                                (const uint8_t *)w->p_json, w->p_len, NULL,
                                w->nonces + OWB_NONCE_BYTES, w->bundle, sizeof w->bundle,
                                &w->bundle_len);
    else
        rc = owb_bundle_seal(s->bundle_key, w->id, w->counter, (const uint8_t *)w->p_json, w->p_len,
                             w->nonces + OWB_NONCE_BYTES, w->bundle, sizeof w->bundle,
                             &w->bundle_len);
    if (rc == OWB_OK)
        rc = owb_b64_encode(w->bundle, w->bundle_len, w->bundle_b64, sizeof w->bundle_b64);
    return rc == OWB_OK ? OWB_OK : OWB_ERR_INTERNAL;
}

void route_setup(struct owb_app *app, const struct owb_http_request *req,
                 struct owb_http_response *resp, const char *id)
{
    struct setup_secrets *s = owb_secret_scratch(sizeof *s);
    struct setup_work *w = calloc(1, sizeof *w);
    struct setup_request r = {0};
    cJSON *body = NULL, *answer = NULL;
    const char *why = NULL;
    enum owb_err rc = OWB_ERR_NOMEM;

    if (!s || !w)
        goto out;
    rc = OWB_OK;
    if (owb_route_rate_limited(app, app->rl, req->client_addr, resp, NULL))
        goto out;
    w->id = id;
    rc = parse_request(req, &body, &r, &why);
    if (rc == OWB_OK)
        rc = authorize(app, req, &r, w, s, resp, &why);
    w->pk = w->read.dev.suite == OWB_SUITE_PK;
    if (rc == OWB_OK)
        rc = owb_setup_derive(app, w, s);
    if (rc == OWB_OK && !w->counter)
        rc = owb_setup_issue(app, mode_name(&r), w);
    if (rc == OWB_OK)
        rc = owb_setup_seal(app, w, s);
    if (rc != OWB_OK)
        goto out;
    answer = build_answer(app, w, w->counter, s);
    if (!answer) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    owb_metrics_inc(app->metrics,
                    r.server_sealed ? OWB_M_BUNDLES_SERVER_SEALED : OWB_M_BUNDLES_APP_SEALED);
    owb_http_json(resp, 200, answer);
out:
    if (rc != OWB_OK)
        owb_route_error(resp, rc, why);
    owb_json_free_secret(body);
    owb_secret_scratch_done(s, sizeof *s);
    if (w) {
        sodium_memzero(w, sizeof *w);
        free(w);
    }
}
