/* POST /v1/devices/{id}/heartbeat (docs/protocol.md, "After setup:
 * heartbeats and rollouts"). The checks in the order the protocol gives:
 * the body (400), the device (404), the proof (401; nothing is stored
 * before it holds), counters above the highest issued (409 conflict), a
 * challenge that is not the device's current one (409 stale_challenge,
 * with the current one). The answer carries the next challenge, asks for
 * the interval and, when the device's rollout has a bundle due, carries
 * one made exactly like a server-sealed setup bundle (setup.h) with a
 * fresh app key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "rowmac.h"
#include "setup.h"
#include "owb/heartbeat.h"
#include "owb/mem.h"

/* The body's shape, before the device is known: a body that parses for
 * neither suite is malformed whoever sends it. */
static bool body_well_formed(const struct owb_http_request *req)
{
    struct owb_heartbeat hb;
    uint8_t proof[OWB_PK_SIGNATURE_BYTES];

    return owb_heartbeat_request_parse(req->body, req->body_len, OWB_SUITE_SYM, &hb, proof) ==
               OWB_OK ||
           owb_heartbeat_request_parse(req->body, req->body_len, OWB_SUITE_PK, &hb, proof) ==
               OWB_OK;
}

/* The proof the device's suite asks for: a signature by its own key
 * (pk), or a MAC under the check-in key Kc derived from its device key. */
static enum owb_err verify_proof(struct owb_app *app, const struct owb_device_row *dev,
                                 const struct owb_heartbeat *hb, const uint8_t *proof)
{
    uint8_t key[OWB_DEVICE_KEY_BYTES], kc[OWB_CHECKIN_KEY_BYTES];
    enum owb_err rc;

    if (dev->suite == OWB_SUITE_PK)
        return owb_pk_heartbeat_verify(dev->public_key, dev->id, hb, proof) == OWB_OK
                   ? OWB_OK
                   : OWB_ERR_AUTH_FAILED;
    if (owb_atrest_open_device_key(app->master, dev, key) != OWB_OK)
        return OWB_ERR_INTERNAL;
    owb_kdf_checkin_key(kc, key);
    sodium_memzero(key, sizeof key);
    rc = owb_heartbeat_verify(kc, dev->id, hb, proof);
    sodium_memzero(kc, sizeof kc);
    return rc == OWB_OK ? OWB_OK : OWB_ERR_AUTH_FAILED;
}

/* The body, the device and the proof; *why for the answer. */
static enum owb_err check_request(struct owb_app *app, const struct owb_http_request *req,
                                  const char *id, struct owb_device_row *dev,
                                  struct owb_heartbeat *hb, const char **why)
{
    uint8_t proof[OWB_PK_SIGNATURE_BYTES];
    enum owb_err rc;

    if (!body_well_formed(req)) {
        *why = "Send running, held, reason (when held > running), challenge and mac (or "
               "signature).";
        return OWB_ERR_BAD_REQUEST;
    }
    rc = owb_row_device_get(app->store, app->master, id, dev);
    if (rc == OWB_ERR_NOENT)
        return OWB_ERR_UNKNOWN_DEVICE;
    if (rc != OWB_OK)
        return rc;
    if (owb_heartbeat_request_parse(req->body, req->body_len, dev->suite, hb, proof) != OWB_OK) {
        *why = dev->suite == OWB_SUITE_PK ? "This device proves a heartbeat with a signature."
                                          : "This device proves a heartbeat with a mac.";
        return OWB_ERR_BAD_REQUEST;
    }
    rc = verify_proof(app, dev, hb, proof);
    if (rc == OWB_ERR_AUTH_FAILED)
        *why = dev->suite == OWB_SUITE_PK ? "The heartbeat signature is wrong."
                                          : "The heartbeat MAC is wrong.";
    return rc;
}

/* The bundle of the device's rollout, into a: W from its network as it is
 * now, a fresh app key, the next counter, claimed on the rollout row
 * before sealing. OWB_ERR_CONFLICT when another request (or another
 * instance) claimed this step first, or the rollout stopped meanwhile:
 * nothing is sent. */
static enum owb_err make_rollout(struct owb_app *app, const struct owb_device_row *dev,
                                 const struct owb_rollout_due *due, struct owb_heartbeat_answer *a)
{
    struct setup_secrets *s = owb_secret_scratch(sizeof *s);
    struct setup_work *w = calloc(1, sizeof *w);
    const char *why = NULL;
    enum owb_err rc = s && w ? OWB_OK : OWB_ERR_NOMEM;
    bool lost = false;

    if (rc != OWB_OK)
        goto out;
    w->id = dev->id;
    w->read.dev = *dev;
    w->pk = dev->suite == OWB_SUITE_PK;
    randombytes_buf(w->nonces, sizeof w->nonces);
    randombytes_buf(a->app_key, sizeof a->app_key);
    memcpy(s->app_key, a->app_key, sizeof s->app_key);
    rc = owb_setup_wifi(app, w, s, &why);
    if (rc == OWB_OK)
        rc = owb_setup_derive(app, w, s);
    if (rc == OWB_OK)
        rc = owb_setup_issue(app, "rollout", w);
    if (rc == OWB_OK)
        rc = app->store->ops->rollout_claim(app->store, due->rollout_id, dev->id, due->expected,
                                            w->counter, (int64_t)time(NULL));
    lost = rc == OWB_ERR_CONFLICT && w->counter;
    if (rc == OWB_OK)
        rc = owb_setup_seal(app, w, s);
    if (rc == OWB_OK) {
        a->has_rollout = true;
        a->counter = w->counter;
        memcpy(a->bundle, w->bundle, w->bundle_len);
        a->bundle_len = w->bundle_len;
    } else if (!lost) {
        fprintf(stderr, "owb-server: rollout %lld: no bundle for %s: %s\n",
                (long long)due->rollout_id, dev->id, why ? why : owb_strerror(rc));
    }
out:
    owb_secret_scratch_done(s, sizeof *s);
    if (w) {
        sodium_memzero(w, sizeof *w);
        free(w);
    }
    return rc;
}

/* {"heartbeat_s": S}, with the rollout's bundle when one is due; a bundle
 * that cannot be made leaves the heartbeat answered without one (it is
 * recorded already; the next heartbeat tries again). */
static enum owb_err answer(struct owb_app *app, const struct owb_device_row *dev,
                           const struct owb_rollout_due *due,
                           const uint8_t challenge[static OWB_HB_CHALLENGE_BYTES],
                           struct owb_http_response *resp)
{
    /* Not the thread's secret scratch: make_rollout takes that. */
    struct owb_heartbeat_answer *a = calloc(1, sizeof *a);
    char *out = malloc(OWB_HEARTBEAT_ANSWER_MAX);
    size_t len = 0;
    enum owb_err rc = a && out ? OWB_OK : OWB_ERR_NOMEM;

    if (rc != OWB_OK)
        goto out;
    a->heartbeat_s = app->cfg.heartbeat_s;
    memcpy(a->challenge, challenge, sizeof a->challenge);
    if (due->rollout_id && make_rollout(app, dev, due, a) == OWB_OK)
        owb_metrics_inc(app->metrics, OWB_M_BUNDLES_ROLLOUT);
    rc = owb_heartbeat_answer_write(a, out, OWB_HEARTBEAT_ANSWER_MAX, &len);
    if (rc == OWB_OK) {
        owb_http_set_body(resp, 200, "application/json", out, len);
        out = NULL;
    }
out:
    if (a)
        owb_heartbeat_answer_wipe(a);
    owb_clear_free(a, sizeof *a);
    free(out);
    return rc;
}

/* 409 stale_challenge, with the device's current challenge: the device
 * sends its heartbeat again at once with it. */
static void stale(struct owb_http_response *resp,
                  const uint8_t challenge[static OWB_HB_CHALLENGE_BYTES])
{
    size_t cap = 256, len = 0;
    char *out = malloc(cap);

    if (out && owb_heartbeat_stale_write(challenge, NULL, out, cap, &len) == OWB_OK) {
        owb_http_set_body(resp, 409, "application/json", out, len);
        out = NULL;
    } else {
        owb_route_error(resp, OWB_ERR_NOMEM, NULL);
    }
    free(out);
}

/* The next challenge: random, and never all zero (what a device without
 * one sends). */
static void draw_challenge(uint8_t c[static OWB_HB_CHALLENGE_BYTES])
{
    do
        randombytes_buf(c, OWB_HB_CHALLENGE_BYTES);
    while (owb_heartbeat_challenge_none(c));
}

/* The checked heartbeat recorded; current gets the next challenge, or the
 * device's current one when it sent another. */
static enum owb_err record(struct owb_app *app, const struct owb_http_request *req, const char *id,
                           const struct owb_heartbeat *hb, uint8_t *current,
                           struct owb_rollout_due *due)
{
    uint8_t next[OWB_HB_CHALLENGE_BYTES];
    int64_t now = (int64_t)time(NULL);

    draw_challenge(next);
    const struct owb_hb_in in = {
        .id = id,
        .running = hb->running,
        .held = hb->held,
        .reason = owb_hb_reason_name(hb->reason),
        .challenge = hb->challenge,
        .next = next,
        .from = req->client_addr,
        .now = now,
        /* One interval: a device that got the bundle says so in its
         * next heartbeat; one still without it then lost the answer. */
        .resend_before = now - (int64_t)app->cfg.heartbeat_s,
        .silent_before = owb_app_online_since(app),
    };
    return app->store->ops->heartbeat(app->store, &in, current, due);
}

void route_heartbeat(struct owb_app *app, const struct owb_http_request *req,
                     struct owb_http_response *resp, const char *id)
{
    struct owb_device_row dev;
    struct owb_heartbeat hb;
    struct owb_rollout_due due = {0};
    uint8_t current[OWB_HB_CHALLENGE_BYTES] = {0};
    const char *why = NULL;
    enum owb_err rc;

    _Static_assert(OWB_HB_CHALLENGE_BYTES == OWB_HEARTBEAT_CHALLENGE_BYTES, "challenge sizes");
    /* Check-ins and heartbeats share the per-device limit: a device sends
     * few of either. */
    if (owb_route_rate_limited(app, app->checkin_rl, id, resp,
                               "Too many heartbeats for this device; slow down."))
        return;
    rc = check_request(app, req, id, &dev, &hb, &why);
    if (rc == OWB_OK)
        rc = record(app, req, id, &hb, current, &due);
    if (rc == OWB_ERR_CONFLICT)
        why = "running or held is above every counter issued to this device.";
    else if (rc == OWB_ERR_NOENT)
        rc = OWB_ERR_UNKNOWN_DEVICE;
    if (rc == OWB_OK)
        rc = answer(app, &dev, &due, current, resp);
    if (rc == OWB_OK) {
        owb_metrics_inc(app->metrics, OWB_M_HEARTBEATS_OK);
        return;
    }
    owb_metrics_inc(app->metrics, OWB_M_HEARTBEATS_REJECTED);
    if (rc == OWB_ERR_STALE_CHALLENGE)
        stale(resp, current);
    else
        owb_route_error(resp, rc, why);
}
