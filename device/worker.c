/* The worker thread: applies a job, waits for the join, checks in, and
 * either reports joined and takes the setup AP down once the phone has had
 * time to read that, or puts the previous settings back and reports why it
 * failed. Where the backend can run the setup AP next to the station, the
 * AP stays up until the outcome is known: the phone on it learns the
 * outcome, whichever it is. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent.h"
#include "owb/mem.h"

/* How often the join is looked at: often enough that the agent adds
 * little to the join itself, seldom enough that its helper calls cost
 * nothing next to it. */
#define JOIN_POLL_MS 500
/* After the check-in the setup AP stays up this long, so that a phone
 * polling /v1/status every second reads "joined"... */
#define LINGER_MS 5000
/* ...or goes this long after the first answer that said "joined" (that
 * answer must reach the phone before its network goes). */
#define READ_GRACE_MS 1000

static enum owb_fail_reason reason_of(enum owb_join j)
{
    switch (j) {
    case OWB_JOIN_WRONG_PASSWORD:
        return OWB_REASON_WRONG_PASSWORD;
    case OWB_JOIN_NETWORK_NOT_FOUND:
        return OWB_REASON_NETWORK_NOT_FOUND;
    case OWB_JOIN_NO_IP:
        return OWB_REASON_NO_IP;
    default:
        return OWB_REASON_APPLY_FAILED;
    }
}

/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait() on
 * a->cv (agent.c sets its clock). */
static struct timespec deadline_in(unsigned ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

bool owb_agent_nap(struct owb_agent *a, unsigned ms)
{
    struct timespec until = deadline_in(ms);
    bool stopping;

    pthread_mutex_lock(&a->mu);
    if (!a->stopping)
        pthread_cond_timedwait(&a->cv, &a->mu, &until);
    stopping = a->stopping;
    pthread_mutex_unlock(&a->mu);
    return !stopping;
}

static bool ssid_visible(struct owb_agent *a, const char *ssid)
{
    for (size_t i = 0; i < a->n_visible; i++)
        if (strcmp(a->visible[i], ssid) == 0)
            return true;
    return false;
}

/* Polls the backend's join check until it is joined, fails for good, or
 * --join-timeout is up; its last answer. */
static enum owb_join poll_join(struct owb_agent *a)
{
    time_t deadline = owb_agent_now_s() + (time_t)a->cfg.join_timeout_s;
    enum owb_join j;

    for (;;) {
        j = a->backend->ops->check(a->backend, false);
        if (j != OWB_JOIN_PENDING && j != OWB_JOIN_ERROR)
            return j;
        if (owb_agent_now_s() >= deadline || !owb_agent_nap(a, JOIN_POLL_MS))
            return j;
    }
}

bool owb_worker_rejoin(struct owb_agent *a)
{
    return poll_join(a) == OWB_JOIN_OK;
}

/* Waits for the join; OWB_REASON_NONE when joined. */
static enum owb_fail_reason wait_for_join(struct owb_agent *a, const struct owb_job *job)
{
    enum owb_join j = poll_join(a);

    if (j == OWB_JOIN_OK)
        return OWB_REASON_NONE;
    if (j != OWB_JOIN_PENDING && j != OWB_JOIN_ERROR)
        return reason_of(j);
    j = a->backend->ops->check(a->backend, true);
    if (j == OWB_JOIN_OK)
        return OWB_REASON_NONE;
    /* A network the device cannot see is the most useful thing to say. */
    if (!job->wifi.hidden && a->have_scan && !ssid_visible(a, job->wifi.ssid))
        return OWB_REASON_NETWORK_NOT_FOUND;
    return reason_of(j);
}

static void scan(struct owb_agent *a)
{
    char ssids[OWB_SCAN_MAX][OWB_SSID_MAX + 1];
    size_t n = 0;
    enum owb_err rc = a->backend->ops->scan(a->backend, ssids, &n);

    pthread_mutex_lock(&a->mu);
    a->have_scan = rc == OWB_OK;
    a->n_visible = 0;
    /* The device's own setup AP is no network to offer the person. */
    for (size_t i = 0; rc == OWB_OK && i < n; i++)
        if (strcmp(ssids[i], a->ap_ssid) != 0)
            memcpy(a->visible[a->n_visible++], ssids[i], sizeof ssids[i]);
    pthread_mutex_unlock(&a->mu);
}

/* Each log line of a job says where its time went. */
long owb_since_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void fail(struct owb_agent *a, enum owb_fail_reason reason, const struct timespec *t0)
{
    bool raise;

    if (a->backend->ops->rollback(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: rollback reported an error\n");
    /* A setup AP kept up through the job (the backend runs it next to the
     * station) is not raised again: that would restart it under the phone
     * waiting on it for this very outcome. */
    pthread_mutex_lock(&a->mu);
    raise = !a->backend->ops->ap_with_station || a->ap_pending;
    pthread_mutex_unlock(&a->mu);
    if (raise)
        owb_agent_raise_ap(a);
    pthread_mutex_lock(&a->mu);
    a->state = OWB_STATE_FAILED;
    a->reason = reason;
    a->hb_reason = reason; /* the next heartbeat says why held is not running */
    a->setup_open = true;
    a->setup_deadline = a->cfg.setup_window_s ? owb_agent_now_s() + a->cfg.setup_window_s : 0;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: provisioning failed: %s; previous settings restored (%ld ms)\n",
            owb_reason_name(reason), owb_since_ms(t0));
}

/* Joined: the setup AP goes down LINGER_MS from now, or READ_GRACE_MS after
 * the first /v1/status that said "joined", whichever comes first; not when
 * the button has opened setup mode again in the meantime. */
static void linger_then_ap_down(struct owb_agent *a)
{
    struct timespec until = deadline_in(LINGER_MS);
    bool read, down;
    int rc = 0;

    pthread_mutex_lock(&a->mu);
    while (!a->stopping && !a->joined_read && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&a->cv, &a->mu, &until);
    read = a->joined_read;
    pthread_mutex_unlock(&a->mu);
    if (read)
        owb_agent_nap(a, READ_GRACE_MS);
    pthread_mutex_lock(&a->ap_mu);
    pthread_mutex_lock(&a->mu);
    a->ap_linger = false;
    down = a->state == OWB_STATE_JOINED && !a->setup_open && !a->ap_opening;
    pthread_mutex_unlock(&a->mu);
    if (down && a->backend->ops->ap_down(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: could not take the setup AP down\n");
    pthread_mutex_unlock(&a->ap_mu);
    if (down)
        fprintf(stderr, "owb-device: setup AP down (%s)\n",
                read ? "the phone read joined" : "nobody asked");
}

static void set_state(struct owb_agent *a, enum owb_agent_state state)
{
    pthread_mutex_lock(&a->mu);
    a->state = state;
    if (state == OWB_STATE_JOINED) {
        a->setup_open = false;
        a->setup_deadline = 0;
        a->ap_linger = a->backend->ops->ap_with_station;
        a->joined_read = false;
    }
    pthread_mutex_unlock(&a->mu);
}

/* On the premises network: check in (with the setup AP still up where the
 * backend allows), then joined or failed. */
static void check_in(struct owb_agent *a, struct owb_job *job, const struct timespec *t0)
{
    bool keep_ap = a->backend->ops->ap_with_station;

    if (!keep_ap && a->backend->ops->ap_down(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: could not take the setup AP down\n");
    fprintf(stderr, "owb-device: joined \"%s\" (%ld ms)%s\n", job->wifi.ssid, owb_since_ms(t0),
            !job->checkin_url[0] ? ""
            : keep_ap            ? "; checking in (setup AP still up)"
                                 : "; checking in");
    /* Without a check-in URL there is nothing to wait for: straight to joined. */
    if (job->checkin_url[0]) {
        set_state(a, OWB_STATE_CHECKING_IN);
        if (owb_checkin_send(a, job->checkin_url, job->counter) != OWB_OK) {
            fail(a, OWB_REASON_SERVER_UNREACHABLE, t0);
            return;
        }
    }
    if (owb_state_mark_provisioned(a->cfg.state_dir, a->cfg.state_hook, job->counter) != OWB_OK)
        fprintf(stderr, "owb-device: could not record the provisioned state\n");
    owb_heartbeat_joined(a, job);
    set_state(a, OWB_STATE_JOINED);
    fprintf(stderr, "owb-device: provisioned with bundle %llu (%ld ms)\n",
            (unsigned long long)job->counter, owb_since_ms(t0));
    /* The settings are no longer needed while the AP lingers. */
    sodium_memzero(job, sizeof *job);
    if (keep_ap)
        linger_then_ap_down(a);
}

enum owb_fail_reason owb_worker_apply_join(struct owb_agent *a, const struct owb_job *job,
                                           const struct timespec *t0)
{
    fprintf(stderr, "owb-device: applying bundle %llu (network \"%s\", %s, psk (hidden))\n",
            (unsigned long long)job->counter, job->wifi.ssid,
            owb_security_name(job->wifi.security));
    if (a->backend->ops->apply(a->backend, &job->wifi, job->hostname) != OWB_OK) {
        scan(a);
        return OWB_REASON_APPLY_FAILED;
    }
    /* Scan before waiting so a failure can tell "not found" apart. */
    scan(a);
    fprintf(stderr, "owb-device: applied and scanned (%ld ms, %zu networks seen)\n",
            owb_since_ms(t0), a->n_visible);
    return wait_for_join(a, job);
}

static void run_job(struct owb_agent *a, struct owb_job *job)
{
    enum owb_fail_reason reason;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    reason = owb_worker_apply_join(a, job, &t0);
    if (reason != OWB_REASON_NONE) {
        fail(a, reason, &t0);
        return;
    }
    check_in(a, job, &t0);
}

/* Waits for a job, a heartbeat that is due, or the stop; false on stop.
 * *beat says a heartbeat is due (no job was taken). */
static bool next_work(struct owb_agent *a, struct owb_job *job, bool *beat)
{
    bool run = true;

    *beat = false;
    pthread_mutex_lock(&a->mu);
    while (!a->job_pending && !a->stopping && !owb_heartbeat_due(a)) {
        if (a->hb_armed)
            pthread_cond_timedwait(&a->cv, &a->mu, &a->hb_at);
        else
            pthread_cond_wait(&a->cv, &a->mu);
    }
    if (a->stopping) {
        run = false;
    } else if (a->job_pending) {
        memcpy(job, a->job, sizeof *job);
        sodium_memzero(a->job, sizeof *a->job);
        a->job_pending = false;
    } else {
        *beat = true;
    }
    pthread_mutex_unlock(&a->mu);
    return run;
}

void *owb_agent_worker(void *arg)
{
    struct owb_agent *a = arg;
    struct owb_job *job = a->running_job;
    bool beat;

    while (next_work(a, job, &beat)) {
        if (beat) {
            owb_heartbeat_beat(a);
            continue;
        }
        run_job(a, job);
        sodium_memzero(job, sizeof *job);
    }
    return NULL;
}
