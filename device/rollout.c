/* Rollouts (docs/protocol.md, "Rollouts: what the device does"): a bundle
 * in a heartbeat's answer goes through the same check table as a phone's
 * (provision.c), is made durable (the bundle in "held", then its counter),
 * then applied with the worker's join check. Joined and checked in over
 * the new network: it runs. Otherwise the settings that work are put back,
 * the bundle stays held, the next heartbeat says why, and it is tried
 * again after heartbeats (each failure doubling how many, up to every
 * eighth) and at once when the current network stops working. Setup mode
 * and a phone's job come first: no rollout is taken or tried while either
 * is under way. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "agent.h"
#include "owb/base64.h"
#include "owb/heartbeat.h"
#include "owb/mem.h"

/* Each try of settings that do not work takes the device off its working
 * network for up to the join timeout: after the n-th failure in a row the
 * next waits min(2^(n-1), 8) heartbeats (1, 2, 4, 8, 8, ...), so a device
 * whose new settings cannot work yet spends its time on the old network.
 * A network that stops working is not waited for (owb_heartbeat_beat). */
#define HELD_WAIT_MAX_LOG2 3

/* {"bundle":"...","app_key":"..."}: the bundle in base64url and room. */
#define HELD_BODY_MAX (OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX) + 128)

/* The Wi-Fi is the rollout's, or false when setup mode or a job has it. */
static bool claim(struct owb_agent *a)
{
    bool ok;

    pthread_mutex_lock(&a->mu);
    ok = !a->setup_open && !owb_agent_busy(a);
    if (ok)
        a->rolling = true;
    pthread_mutex_unlock(&a->mu);
    return ok;
}

static void release(struct owb_agent *a)
{
    pthread_mutex_lock(&a->mu);
    a->rolling = false;
    pthread_mutex_unlock(&a->mu);
}

/* The answer's rollout as the body a phone would post; secret (app key). */
static enum owb_err as_body(const struct owb_heartbeat_answer *ans, char *body, size_t cap,
                            size_t *len)
{
    char key[OWB_B64_ENCODED_SIZE(OWB_APP_KEY_BYTES)];
    size_t used;
    enum owb_err rc;

    *len = 0;
    used = (size_t)snprintf(body, cap, "{\"bundle\":\"");
    rc = owb_b64_encode(ans->bundle, ans->bundle_len, body + used, cap - used);
    if (rc == OWB_OK)
        rc = owb_b64_encode(ans->app_key, sizeof ans->app_key, key, sizeof key);
    if (rc == OWB_OK) {
        used += strlen(body + used);
        int n = snprintf(body + used, cap - used, "\",\"app_key\":\"%s\"}", key);
        rc = n < 0 || (size_t)n >= cap - used ? OWB_ERR_SPACE : OWB_OK;
        *len = used + (size_t)n;
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

/* The check table (the replay rule against held first), then the bundle
 * in "held", then its counter: a crash between the two leaves a held file
 * that start-up drops, and a counter that was never acted on. */
static enum owb_err accept_rollout(struct owb_agent *a, const struct owb_heartbeat_answer *ans,
                                   char *body, struct owb_job *job)
{
    size_t len = 0;
    enum owb_err rc = as_body(ans, body, HELD_BODY_MAX, &len);

    pthread_mutex_lock(&a->mu);
    uint64_t held = a->counter;
    pthread_mutex_unlock(&a->mu);
    if (rc == OWB_OK)
        rc = owb_provision_check(a, body, len, held, job);
    if (rc != OWB_OK) {
        fprintf(stderr, "owb-device: rollout bundle %llu refused: %s\n",
                (unsigned long long)ans->counter, owb_err_code(rc));
        return rc;
    }
    rc = owb_state_store_held(a->cfg.state_dir, a->cfg.state_hook, body, len);
    pthread_mutex_lock(&a->mu);
    if (rc == OWB_OK)
        rc = owb_state_store_counter(a->cfg.state_dir, a->cfg.state_hook, job->counter);
    if (rc == OWB_OK) {
        a->counter = job->counter;
        a->has_held = true;
        a->hb_reason = OWB_REASON_NONE;
        a->held_fails = 0;
        a->held_skip = 0;
    }
    pthread_mutex_unlock(&a->mu);
    if (rc != OWB_OK)
        fprintf(stderr, "owb-device: cannot store rollout bundle %llu in %s; not applied\n",
                (unsigned long long)job->counter, a->cfg.state_dir);
    return rc;
}

/* The held bundle from "held", through the check table again: it must be
 * the bundle of the stored counter. */
static enum owb_err load_held_job(struct owb_agent *a, char *body, struct owb_job *job)
{
    char *text = NULL;
    size_t len = 0;
    enum owb_err rc = owb_state_load_held(a->cfg.state_dir, &text, &len);

    pthread_mutex_lock(&a->mu);
    uint64_t held = a->counter;
    pthread_mutex_unlock(&a->mu);
    if (rc == OWB_OK && (!text || len >= HELD_BODY_MAX || held == 0))
        rc = OWB_ERR_NOENT;
    if (rc == OWB_OK) {
        memcpy(body, text, len);
        rc = owb_provision_check(a, body, len, held - 1, job);
    }
    if (rc == OWB_OK && job->counter != held)
        rc = OWB_ERR_REPLAYED;
    if (text)
        owb_clear_free(text, len);
    return rc;
}

/* Running the held settings: durable, then the agent's view. */
static void adopt(struct owb_agent *a, const struct owb_job *job, const struct timespec *t0)
{
    if (owb_state_mark_provisioned(a->cfg.state_dir, a->cfg.state_hook, job->counter) != OWB_OK)
        fprintf(stderr, "owb-device: could not record the running bundle\n");
    if (owb_state_drop_held(a->cfg.state_dir, a->cfg.state_hook) != OWB_OK)
        fprintf(stderr, "owb-device: could not remove the held rollout bundle\n");
    pthread_mutex_lock(&a->mu);
    a->has_held = false;
    a->held_fails = 0;
    a->held_skip = 0;
    a->state = OWB_STATE_JOINED;
    a->reason = OWB_REASON_NONE;
    pthread_mutex_unlock(&a->mu);
    owb_heartbeat_joined(a, job);
    fprintf(stderr, "owb-device: rollout: running bundle %llu (%ld ms)\n",
            (unsigned long long)job->counter, owb_since_ms(t0));
}

/* Applies the held settings with the join check and a check-in over the
 * new network; puts the working ones back when either fails. */
static void apply_held(struct owb_agent *a, struct owb_job *job)
{
    enum owb_fail_reason reason;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    reason = owb_worker_apply_join(a, job, &t0);
    if (reason == OWB_REASON_NONE && job->checkin_url[0] &&
        owb_checkin_send(a, job->checkin_url, job->counter) != OWB_OK)
        reason = OWB_REASON_SERVER_UNREACHABLE;
    if (reason == OWB_REASON_NONE) {
        adopt(a, job, &t0);
        return;
    }
    if (a->backend->ops->rollback(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: rollback reported an error\n");
    /* The next heartbeat must go over the working network, not race its
     * re-association: on real Wi-Fi that race made every heartbeat after a
     * failed try unanswered, and the held settings were tried again at
     * once, round and round, never back on the working network. */
    bool back = owb_worker_rejoin(a);
    pthread_mutex_lock(&a->mu);
    a->hb_reason = reason;
    a->held_fails++;
    unsigned log2 = a->held_fails - 1 < HELD_WAIT_MAX_LOG2 ? a->held_fails - 1 : HELD_WAIT_MAX_LOG2;
    a->held_skip = (1u << log2) - 1;
    unsigned wait = a->held_skip + 1;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr,
            "owb-device: rollout bundle %llu failed: %s; previous settings restored, %s "
            "(%ld ms); held, tried again after %u heartbeat%s or when the network stops "
            "working\n",
            (unsigned long long)job->counter, owb_reason_name(reason),
            back ? "joined again" : "not joined again", owb_since_ms(&t0), wait,
            wait == 1 ? "" : "s");
}

/* Tries the held bundle (or the answer's, accepted first); false when
 * nothing was tried. */
static bool try_rollout(struct owb_agent *a, const struct owb_heartbeat_answer *ans)
{
    char *body = owb_secret_alloc(HELD_BODY_MAX);
    struct owb_job *job = owb_secret_alloc(sizeof *job);
    bool tried = false;

    if (!body || !job)
        goto out;
    if (!claim(a)) {
        if (ans)
            fprintf(stderr, "owb-device: rollout bundle %llu left for later: setup mode is open\n",
                    (unsigned long long)ans->counter);
        goto out;
    }
    if (ans ? accept_rollout(a, ans, body, job) == OWB_OK : load_held_job(a, body, job) == OWB_OK) {
        apply_held(a, job);
        tried = true;
    } else if (!ans) {
        fprintf(stderr, "owb-device: the held rollout bundle is gone or damaged; dropped\n");
        pthread_mutex_lock(&a->mu);
        a->has_held = false;
        pthread_mutex_unlock(&a->mu);
    }
    release(a);
out:
    if (body)
        owb_secret_free(body);
    if (job)
        owb_secret_free(job);
    return tried;
}

/* Whether this heartbeat is one the held bundle waits for (HELD_WAIT_MAX_LOG2),
 * counting it when not. */
static bool held_due(struct owb_agent *a)
{
    bool due;

    pthread_mutex_lock(&a->mu);
    due = a->held_skip == 0;
    if (!due)
        a->held_skip--;
    pthread_mutex_unlock(&a->mu);
    return due;
}

/* Two heartbeats in a row went unanswered: is the device still on its
 * network (the server may be down), or did the network stop working? */
static bool network_down(struct owb_agent *a)
{
    enum owb_join j = a->backend->ops->check(a->backend, false);

    if (j != OWB_JOIN_OK)
        fprintf(stderr, "owb-device: heartbeats unanswered and the network is down\n");
    return j != OWB_JOIN_OK;
}

void owb_heartbeat_beat(struct owb_agent *a)
{
    struct owb_heartbeat_answer *ans = owb_secret_alloc(sizeof *ans);
    bool quick, held, down = false, tried = false;
    enum owb_err rc;
    unsigned missed;

    pthread_mutex_lock(&a->mu);
    quick = a->hb_quick;
    /* Not tried since the start (its reason is unknown): first, so that
     * this heartbeat can say why it does not run. */
    held = a->has_held && a->hb_reason == OWB_REASON_NONE;
    pthread_mutex_unlock(&a->mu);
    if (held)
        tried = try_rollout(a, NULL);
    rc = ans ? owb_heartbeat_send(a, ans) : OWB_ERR_NOMEM;
    pthread_mutex_lock(&a->mu);
    a->hb_unreachable = rc == OWB_ERR_UNAVAILABLE ? a->hb_unreachable + 1 : 0;
    missed = a->hb_unreachable;
    held = a->has_held;
    pthread_mutex_unlock(&a->mu);
    if (held && missed >= 2)
        down = network_down(a);
    /* A newer rollout replaces the held one; the same one sent again is
     * refused (replayed) and the held one is tried as usual. */
    if (rc == OWB_OK && ans->has_rollout)
        tried = try_rollout(a, ans) || tried;
    if (held && !tried && (down || (!quick && held_due(a))))
        (void)try_rollout(a, NULL);
    /* One unanswered heartbeat is asked again soon; while the network is
     * down the held settings are tried that often. */
    pthread_mutex_lock(&a->mu);
    a->hb_quick = missed == 1 || down;
    unsigned s = a->hb_interval_s / 8 ? a->hb_interval_s / 8 : 1;
    owb_heartbeat_arm(a, a->hb_quick ? s : a->hb_interval_s);
    pthread_mutex_unlock(&a->mu);
    if (ans)
        owb_secret_free(ans);
}
