/* Heartbeats (docs/protocol.md, "After setup: heartbeats and rollouts"): a
 * provisioned agent whose bundle named a check-in URL tells that server,
 * every --heartbeat S seconds (each wait drawn from 0.75 S to 1.25 S),
 * which bundle's settings it runs and which newer one it holds, with the
 * challenge of the server's last answer. The answer carries the next
 * challenge and may carry a rollout (rollout.c). Runs on the worker
 * thread, so a heartbeat never overlaps a phone's job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "owb/heartbeat.h"
#include "owb/mem.h"

/* The agent's failure reasons are the heartbeat's reason byte. */
_Static_assert((int)OWB_REASON_WRONG_PASSWORD == (int)OWB_HB_WRONG_PASSWORD &&
                   (int)OWB_REASON_NETWORK_NOT_FOUND == (int)OWB_HB_NETWORK_NOT_FOUND &&
                   (int)OWB_REASON_NO_IP == (int)OWB_HB_NO_IP &&
                   (int)OWB_REASON_SERVER_UNREACHABLE == (int)OWB_HB_SERVER_UNREACHABLE &&
                   (int)OWB_REASON_APPLY_FAILED == (int)OWB_HB_APPLY_FAILED,
               "failure reasons and heartbeat reasons differ");
_Static_assert(sizeof((struct owb_agent *)0)->hb_challenge == OWB_HEARTBEAT_CHALLENGE_BYTES,
               "challenge sizes differ");

/* The whole HTTP answer: a rollout's bundle in base64url, headers around it. */
#define ANSWER_CAP (OWB_HEARTBEAT_ANSWER_MAX + 2048)

bool owb_heartbeat_url(const char *checkin_url, char *out, size_t cap)
{
    size_t end = strcspn(checkin_url, "?#"), seg = strlen("/checkin");

    out[0] = '\0';
    if (end < seg || strncmp(checkin_url + end - seg, "/checkin", seg) != 0)
        return false;
    int n =
        snprintf(out, cap, "%.*s/heartbeat%s", (int)(end - seg), checkin_url, checkin_url + end);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return false;
    }
    return true;
}

void owb_heartbeat_arm(struct owb_agent *a, unsigned s)
{
    /* Uniform in [0.75 S, 1.25 S]: a fleet that came back together (a
     * power cut) does not beat together. */
    uint64_t ms = (uint64_t)s * 750 + randombytes_uniform((uint32_t)s * 500 + 1);

    if (!a->hb_url[0] || !a->cfg.heartbeat_s || !s) {
        a->hb_armed = false;
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &a->hb_at);
    a->hb_at.tv_sec += (time_t)(ms / 1000);
    a->hb_at.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (a->hb_at.tv_nsec >= 1000000000L) {
        a->hb_at.tv_sec++;
        a->hb_at.tv_nsec -= 1000000000L;
    }
    a->hb_armed = true;
}

bool owb_heartbeat_due(const struct owb_agent *a)
{
    struct timespec now;

    if (!a->hb_armed)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > a->hb_at.tv_sec ||
           (now.tv_sec == a->hb_at.tv_sec && now.tv_nsec >= a->hb_at.tv_nsec);
}

/* The message's fields from the agent's state, and the URL. */
static void fill(struct owb_agent *a, struct owb_heartbeat *hb, char *url, size_t cap)
{
    pthread_mutex_lock(&a->mu);
    hb->running = a->running;
    hb->held = a->counter;
    /* The reason of the last failed try, a phone's bundle's as a
     * rollout's. None after a restart for settings that cannot be tried
     * again (a phone's bundle that failed is not kept, and its reason was
     * in memory only), or after a stop while applying: said as such, not
     * guessed. */
    hb->reason = hb->held == hb->running ? OWB_HB_RUNNING
                 : a->hb_reason          ? (enum owb_hb_reason)a->hb_reason
                                         : OWB_HB_NOT_RECORDED;
    memcpy(hb->challenge, a->hb_challenge, sizeof hb->challenge);
    snprintf(url, cap, "%s", a->hb_url);
    pthread_mutex_unlock(&a->mu);
}

static void set_challenge(struct owb_agent *a, const uint8_t *c)
{
    pthread_mutex_lock(&a->mu);
    memcpy(a->hb_challenge, c, sizeof a->hb_challenge);
    pthread_mutex_unlock(&a->mu);
}

/* The request body, proven with the check-in key (symmetric) or the
 * device's own key (pk). */
static enum owb_err request(struct owb_agent *a, const struct owb_heartbeat *hb, char *body,
                            size_t cap)
{
    uint8_t proof[OWB_PK_SIGNATURE_BYTES];
    bool pk = a->kf->suite == OWB_SUITE_PK;
    size_t len = 0;
    enum owb_err rc;

    rc = pk ? owb_pk_heartbeat_sign(a->kf->device_sk, a->kf->device_id, hb, proof)
            : owb_heartbeat_mac(a->keys->checkin_key, a->kf->device_id, hb, proof);
    if (rc == OWB_OK)
        rc = owb_heartbeat_request_write(a->kf->suite, hb, proof, body, cap, &len);
    return rc;
}

/* One heartbeat posted with the challenge the agent holds: the HTTP
 * status (negative: no answer), the answer in buf. */
static int post_once(struct owb_agent *a, struct owb_heartbeat *hb, char *buf, size_t *len)
{
    char url[OWB_URL_MAX + 1], body[OWB_HEARTBEAT_REQUEST_MAX];

    *len = 0;
    fill(a, hb, url, sizeof url);
    if (request(a, hb, body, sizeof body) != OWB_OK)
        return -1;
    return owb_post_json(a, url, body, buf, ANSWER_CAP, len);
}

/* A 409 stale_challenge (the agent restarted, or lost the server's last
 * answer) is sent again once, at once, with the challenge it carries. */
static int post(struct owb_agent *a, struct owb_heartbeat *hb, char *buf, size_t *len)
{
    uint8_t c[OWB_HEARTBEAT_CHALLENGE_BYTES];
    int status = post_once(a, hb, buf, len);

    if (status == 409 && owb_heartbeat_stale_parse(buf, *len, c) == OWB_OK) {
        fprintf(stderr, "owb-device: heartbeat challenge stale; sending again\n");
        set_challenge(a, c);
        status = post_once(a, hb, buf, len);
    }
    return status;
}

enum owb_err owb_heartbeat_send(struct owb_agent *a, struct owb_heartbeat_answer *ans)
{
    struct owb_heartbeat hb = {0};
    char *buf = owb_secret_alloc(ANSWER_CAP);
    size_t len = 0;
    int status = -1;
    enum owb_err rc = OWB_ERR_NOMEM;

    owb_heartbeat_answer_wipe(ans);
    if (!buf)
        goto out;
    status = post(a, &hb, buf, &len);
    rc = status < 0 || status >= 500 || status == 429 ? OWB_ERR_UNAVAILABLE
         : status != 200                              ? OWB_ERR_AUTH_FAILED
                                                      : OWB_OK;
    if (rc == OWB_OK)
        rc = owb_heartbeat_answer_parse(buf, len, a->kf->device_id, ans);
    fprintf(stderr, "owb-device: heartbeat (running %llu, held %llu%s%s): %s%d%s\n",
            (unsigned long long)hb.running, (unsigned long long)hb.held, hb.reason ? ", " : "",
            owb_hb_reason_name(hb.reason), status < 0 ? "no answer " : "HTTP ", status,
            rc == OWB_OK && ans->has_rollout ? ", with a rollout" : "");
    if (rc != OWB_OK)
        goto out;
    pthread_mutex_lock(&a->mu);
    memcpy(a->hb_challenge, ans->challenge, sizeof a->hb_challenge);
    a->hb_sent++;
    if (ans->heartbeat_s)
        a->hb_interval_s = ans->heartbeat_s;
    pthread_mutex_unlock(&a->mu);
out:
    if (buf)
        owb_secret_free(buf);
    return rc;
}

void owb_heartbeat_joined(struct owb_agent *a, const struct owb_job *job)
{
    char url[OWB_URL_MAX + 1];
    bool changed;

    /* No check-in URL, or one not ending in "checkin": no server to beat to. */
    (void)owb_heartbeat_url(job->checkin_url, url, sizeof url);
    pthread_mutex_lock(&a->mu);
    changed = strcmp(url, a->hb_url) != 0;
    pthread_mutex_unlock(&a->mu);
    /* Written only when it changed: each write may cost a flash erase. */
    if (changed && owb_state_store_server(a->cfg.state_dir, a->cfg.state_hook, url) != OWB_OK)
        fprintf(stderr, "owb-device: could not store the heartbeat URL; heartbeats stop at the "
                        "next restart\n");
    pthread_mutex_lock(&a->mu);
    snprintf(a->hb_url, sizeof a->hb_url, "%s", url);
    a->running = job->counter;
    a->hb_reason = OWB_REASON_NONE;
    a->hb_unreachable = 0;
    owb_heartbeat_arm(a, a->hb_interval_s);
    pthread_mutex_unlock(&a->mu);
}

/* The held bundle, checked again at start: kept only when it is the
 * bundle of the stored counter (an older one, or one whose counter a
 * crash kept from being stored, is never tried). */
static void load_held(struct owb_agent *a)
{
    struct owb_job *job = owb_secret_alloc(sizeof *job);
    char *body = NULL;
    size_t len = 0;
    enum owb_err rc = owb_state_load_held(a->cfg.state_dir, &body, &len);

    if (rc == OWB_OK && body && job && a->counter > a->running) {
        rc = owb_provision_check(a, body, len, a->counter - 1, job);
        a->has_held = rc == OWB_OK && job->counter == a->counter;
    }
    if (body && !a->has_held) {
        fprintf(stderr, "owb-device: dropping a held rollout bundle that is not the newest\n");
        if (owb_state_drop_held(a->cfg.state_dir, a->cfg.state_hook) != OWB_OK)
            fprintf(stderr, "owb-device: could not remove it\n");
    }
    if (body)
        owb_clear_free(body, len);
    if (job)
        owb_secret_free(job);
}

void owb_heartbeat_init(struct owb_agent *a)
{
    a->hb_interval_s = a->cfg.heartbeat_s;
    if (!owb_state_provisioned(a->cfg.state_dir))
        return;
    /* The running counter is information for the server: a damaged one
     * does not stop the agent, it runs what it holds. */
    if (owb_state_load_running(a->cfg.state_dir, &a->running) != OWB_OK ||
        a->running > a->counter) {
        fprintf(stderr, "owb-device: %s/provisioned holds no counter; taking %llu\n",
                a->cfg.state_dir, (unsigned long long)a->counter);
        a->running = a->counter;
    }
    if (owb_state_load_server(a->cfg.state_dir, a->hb_url, sizeof a->hb_url) != OWB_OK)
        fprintf(stderr, "owb-device: %s/server is damaged; no heartbeats\n", a->cfg.state_dir);
    load_held(a);
    owb_heartbeat_arm(a, a->hb_interval_s);
}
