/* POST /v1/provision (PROTOCOL.md, "HTTP: device agent"). The checks run
 * in the protocol's order and the first that fails decides the answer:
 * body size (413, enforced by the HTTP layer before buffering), shape (400),
 * device id (403), counter (409), outer layer (401 auth_failed), inner
 * layer (401 app_key_rejected), settings (422), busy (429). Only then is
 * the counter written durably and the job handed to the worker (202).
 * Work is ordered cheapest first: nothing is decrypted for a bundle whose
 * header already disqualifies it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent.h"
#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/json.h"
#include "owb/mem.h"

/* What a malformed request lacks, said for this endpoint; every other
 * refusal is answered with owb_strerror()'s text. */
static const char bad_request_why[] =
    "The request is malformed: send a bundle and a 32-byte app key in base64url.";

/* Scratch for one request; in secret memory (it holds the app key and W). */
struct prov_work {
    uint8_t bundle[OWB_BUNDLE_MAX];
    uint8_t app_key[OWB_APP_KEY_BYTES];
    uint8_t p[OWB_PAYLOAD_MAX + 1];
    uint8_t w[OWB_WIFI_JSON_MAX];
    struct owb_payload payload;
    struct owb_job job;
};

/* true (and answered 429) when this client's failed-attempt budget is
 * spent. Only a failure takes from it (count_failure): the phone's good
 * requests cost nothing. */
static bool over_fail_cap(struct owb_agent *a, const char *addr, struct owb_http_response *resp)
{
    double wait;
    char retry[24];

    if (!a->fail_rl || owb_ratelimit_peek(a->fail_rl, addr, &wait))
        return false;
    snprintf(retry, sizeof retry, "%u", owb_ratelimit_retry_secs(wait));
    owb_http_add_header(resp, "Retry-After", retry);
    owb_http_error(resp, OWB_ERR_RATE_LIMITED,
                   "Too many failed attempts from this address; wait a minute and try again.");
    return true;
}

static void count_failure(struct owb_agent *a, const char *addr)
{
    double wait;

    if (a->fail_rl)
        (void)owb_ratelimit_allow(a->fail_rl, addr, &wait);
}

/* The check table from the shape on; the counter must be above `above`
 * (the stored counter for a phone's bundle). */
static enum owb_err check_body(struct owb_agent *a, const char *body, size_t len, uint64_t above,
                               struct prov_work *pw)
{
    cJSON *root = NULL;
    const char *bundle_b64, *app_key_b64;
    struct owb_bundle_header h;
    size_t bundle_len = 0, p_len = 0, w_len = 0;
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    if (owb_json_parse(body, len, &root) != OWB_OK || !cJSON_IsObject(root))
        goto out;
    bundle_b64 = owb_json_string(root, "bundle");
    app_key_b64 = owb_json_string(root, "app_key");
    if (!bundle_b64 || !app_key_b64 ||
        owb_b64_decode(bundle_b64, strlen(bundle_b64), pw->bundle, sizeof pw->bundle,
                       &bundle_len) != OWB_OK ||
        owb_b64_decode_exact(app_key_b64, strlen(app_key_b64), pw->app_key, sizeof pw->app_key) !=
            OWB_OK ||
        owb_bundle_header_parse(pw->bundle, bundle_len, &h) != OWB_OK)
        goto out;
    rc = OWB_ERR_WRONG_DEVICE;
    if (strcmp(h.device_id, a->kf->device_id) != 0)
        goto out;
    rc = OWB_ERR_REPLAYED;
    if (h.counter <= above)
        goto out;
    /* Each suite's open refuses the other suite's bundle (401). */
    if (a->kf->suite == OWB_SUITE_PK)
        rc = owb_pk_bundle_open(a->kf->device_sk, (const uint8_t(*)[32])a->kf->server_pks,
                                a->kf->n_server_pks, &h, pw->bundle, bundle_len, pw->p,
                                sizeof pw->p - 1, &p_len);
    else
        rc = owb_bundle_open(a->keys->bundle_key, &h, pw->bundle, bundle_len, pw->p,
                             sizeof pw->p - 1, &p_len);
    if (rc != OWB_OK) {
        rc = rc == OWB_ERR_SPACE ? OWB_ERR_BAD_REQUEST : OWB_ERR_AUTH_FAILED;
        goto out;
    }
    rc = owb_payload_parse((const char *)pw->p, p_len, &pw->payload);
    if (rc != OWB_OK)
        goto out;
    rc = owb_wifi_blob_open(pw->app_key, a->kf->device_id, pw->payload.wifi_blob,
                            pw->payload.wifi_blob_len, pw->w, sizeof pw->w, &w_len);
    if (rc != OWB_OK) {
        rc = rc == OWB_ERR_APP_KEY_REJECTED ? rc : OWB_ERR_INVALID_CONFIG;
        goto out;
    }
    rc = owb_wifi_parse((const char *)pw->w, w_len, &pw->job.wifi);
    if (rc != OWB_OK)
        goto out;
    memcpy(pw->job.hostname, pw->payload.hostname, sizeof pw->job.hostname);
    memcpy(pw->job.checkin_url, pw->payload.checkin_url, sizeof pw->job.checkin_url);
    pw->job.counter = h.counter;
    rc = OWB_OK;
out:
    owb_json_free_secret(root);
    return rc;
}

static enum owb_err check_request(struct owb_agent *a, const struct owb_http_request *req,
                                  struct prov_work *pw)
{
    pthread_mutex_lock(&a->mu);
    uint64_t stored = a->counter;
    pthread_mutex_unlock(&a->mu);
    return check_body(a, req->body, req->body_len, stored, pw);
}

enum owb_err owb_provision_check(struct owb_agent *a, const char *body, size_t len, uint64_t above,
                                 struct owb_job *job)
{
    struct prov_work *pw = owb_secret_alloc(sizeof *pw);
    enum owb_err rc;

    if (!pw)
        return OWB_ERR_NOMEM;
    rc = check_body(a, body, len, above, pw);
    if (rc == OWB_OK)
        memcpy(job, &pw->job, sizeof *job);
    owb_secret_free(pw);
    return rc;
}

bool owb_agent_provision_gate(struct owb_agent *a, const struct owb_http_request *req,
                              struct owb_http_response *resp)
{
    pthread_mutex_lock(&a->mu);
    bool open = a->setup_open;
    pthread_mutex_unlock(&a->mu);
    if (!open) {
        owb_http_error(resp, OWB_ERR_SETUP_CLOSED, NULL);
        return false;
    }
    return !over_fail_cap(a, req->client_addr, resp);
}

void owb_agent_provision(struct owb_agent *a, const struct owb_http_request *req,
                         struct owb_http_response *resp)
{
    struct prov_work *pw = owb_secret_alloc(sizeof *pw);
    enum owb_err rc;
    cJSON *answer;

    if (!pw) {
        owb_http_error(resp, OWB_ERR_NOMEM, NULL);
        return;
    }
    if (!owb_agent_provision_gate(a, req, resp))
        goto done;
    rc = check_request(a, req, pw);
    if (rc != OWB_OK) {
        count_failure(a, req->client_addr);
        owb_http_error(resp, rc, rc == OWB_ERR_BAD_REQUEST ? bad_request_why : NULL);
        goto done;
    }

    pthread_mutex_lock(&a->mu);
    if (owb_agent_busy(a)) {
        pthread_mutex_unlock(&a->mu);
        owb_http_error(resp, OWB_ERR_BUSY, NULL);
        goto done;
    }
    /* Checked again under the lock: another request may have won. */
    if (pw->job.counter <= a->counter) {
        pthread_mutex_unlock(&a->mu);
        owb_http_error(resp, OWB_ERR_REPLAYED, NULL);
        goto done;
    }
    /* Replay rule: the counter is durable before anything is applied. */
    rc = owb_state_store_counter(a->cfg.state_dir, a->cfg.state_hook, pw->job.counter);
    if (rc != OWB_OK) {
        pthread_mutex_unlock(&a->mu);
        fprintf(stderr, "owb-device: cannot store the replay counter in %s\n", a->cfg.state_dir);
        owb_http_error(resp, OWB_ERR_INTERNAL,
                       "The device could not store its replay counter (is its storage full?); "
                       "nothing was changed.");
        goto done;
    }
    a->counter = pw->job.counter;
    /* A held rollout is older than this bundle now: never to be tried. */
    if (a->has_held && owb_state_drop_held(a->cfg.state_dir, a->cfg.state_hook) != OWB_OK)
        fprintf(stderr, "owb-device: could not remove the held rollout bundle\n");
    a->has_held = false;
    memcpy(a->job, &pw->job, sizeof *a->job);
    a->job_pending = true;
    a->state = OWB_STATE_APPLYING;
    a->reason = OWB_REASON_NONE;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);

    answer = cJSON_CreateObject();
    if (answer) {
        cJSON_AddStringToObject(answer, "status", "applying");
        owb_json_add_u64(answer, "counter", pw->job.counter);
    }
    owb_http_json(resp, 202, answer);
done:
    owb_secret_free(pw);
}
