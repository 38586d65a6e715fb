/* The worker thread: applies a job, waits for the join, and either takes
 * the setup AP down and checks in, or puts the previous settings back,
 * raises the setup AP again and reports why it failed. */
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

/* Sleeps up to ms, waking early when the agent stops; false when stopping. */
static bool nap(struct owb_agent *a, unsigned ms)
{
    struct timespec until;
    bool stopping;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
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

/* Waits for the join; OWB_REASON_NONE when joined. */
static enum owb_fail_reason wait_for_join(struct owb_agent *a, const struct owb_job *job)
{
    time_t deadline = time(NULL) + (time_t)a->cfg.join_timeout_s;
    enum owb_join j;

    for (;;) {
        j = a->backend->ops->check(a->backend, false);
        if (j == OWB_JOIN_OK)
            return OWB_REASON_NONE;
        if (j != OWB_JOIN_PENDING && j != OWB_JOIN_ERROR)
            return reason_of(j);
        if (time(NULL) >= deadline || !nap(a, JOIN_POLL_MS))
            break;
    }
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

/* Milliseconds since t0 (CLOCK_MONOTONIC): each log line of a job says
 * where its time went. */
static long since_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void fail(struct owb_agent *a, enum owb_fail_reason reason, const struct timespec *t0)
{
    if (a->backend->ops->rollback(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: rollback reported an error\n");
    owb_agent_raise_ap(a);
    pthread_mutex_lock(&a->mu);
    a->state = OWB_STATE_FAILED;
    a->reason = reason;
    a->setup_open = true;
    a->setup_deadline = a->cfg.setup_window_s ? time(NULL) + a->cfg.setup_window_s : 0;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: provisioning failed: %s; previous settings restored (%ld ms)\n",
            owb_reason_name(reason), since_ms(t0));
}

static void run_job(struct owb_agent *a, struct owb_job *job)
{
    enum owb_fail_reason reason;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    fprintf(stderr, "owb-device: applying bundle %llu (network \"%s\", %s, psk (hidden))\n",
            (unsigned long long)job->counter, job->wifi.ssid,
            owb_security_name(job->wifi.security));
    if (a->backend->ops->apply(a->backend, &job->wifi, job->hostname) != OWB_OK) {
        scan(a);
        fail(a, OWB_REASON_APPLY_FAILED, &t0);
        return;
    }
    /* Scan before waiting so a failure can tell "not found" apart. */
    scan(a);
    fprintf(stderr, "owb-device: applied and scanned (%ld ms, %zu networks seen)\n", since_ms(&t0),
            a->n_visible);
    reason = wait_for_join(a, job);
    if (reason != OWB_REASON_NONE) {
        fail(a, reason, &t0);
        return;
    }
    if (a->backend->ops->ap_down(a->backend) != OWB_OK)
        fprintf(stderr, "owb-device: could not take the setup AP down\n");
    pthread_mutex_lock(&a->mu);
    a->state = OWB_STATE_JOINED;
    a->setup_open = false;
    a->setup_deadline = 0;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: joined \"%s\" (%ld ms)\n", job->wifi.ssid, since_ms(&t0));

    if (job->checkin_url[0] && owb_checkin_send(a, job->checkin_url, job->counter) != OWB_OK) {
        fail(a, OWB_REASON_SERVER_UNREACHABLE, &t0);
        return;
    }
    if (owb_state_mark_provisioned(a->cfg.state_dir, a->cfg.state_hook, job->counter) != OWB_OK)
        fprintf(stderr, "owb-device: could not record the provisioned state\n");
    fprintf(stderr, "owb-device: provisioned with bundle %llu (%ld ms)\n",
            (unsigned long long)job->counter, since_ms(&t0));
}

void *owb_agent_worker(void *arg)
{
    struct owb_agent *a = arg;
    struct owb_job *job = owb_secret_alloc(sizeof *job);

    if (!job)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->job_pending && !a->stopping)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stopping) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        memcpy(job, a->job, sizeof *job);
        sodium_memzero(a->job, sizeof *a->job);
        a->job_pending = false;
        pthread_mutex_unlock(&a->mu);
        run_job(a, job);
        sodium_memzero(job, sizeof *job);
    }
    owb_secret_free(job);
    return NULL;
}
