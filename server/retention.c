/* Ageing (retention.h): the period's parsing, one pass, and the thread
 * that runs them while serving. */
#include "retention.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SECONDS ((int64_t)100 * 365 * 86400)
/* The first pass waits this long (or the interval, when shorter): a
 * server starting is left to open its listeners and answer first. */
#define FIRST_PASS_S 10
#define MAX_INTERVAL_S 3600

static const struct {
    char unit;
    int64_t seconds;
} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

bool owb_retention_parse(const char *text, int64_t *seconds)
{
    int64_t n = 0, scale = 86400;
    const char *p = text;

    *seconds = 0;
    if (!text || *p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > MAX_SECONDS)
            return false;
    }
    if (*p) {
        size_t i;
        for (i = 0; i < sizeof units / sizeof units[0] && units[i].unit != *p; i++)
            ;
        if (i == sizeof units / sizeof units[0] || p[1])
            return false;
        scale = units[i].seconds;
    }
    if (n > MAX_SECONDS / scale)
        return false;
    *seconds = n * scale;
    return true;
}

void owb_retention_format(int64_t seconds, char *out, size_t cap)
{
    size_t i = 0;

    while (i + 1 < sizeof units / sizeof units[0] && seconds % units[i].seconds != 0)
        i++;
    snprintf(out, cap, "%lld%c", (long long)(seconds / units[i].seconds), units[i].unit);
}

enum owb_err owb_retention_pass(struct owb_store *s, int64_t now, int64_t retention_s,
                                struct owb_prune_result *res)
{
    return s->ops->prune(s, now - retention_s, OWB_PRUNE_BATCH, res);
}

struct owb_retention {
    struct owb_store *store;
    struct owb_metrics *metrics;
    int64_t retention_s, interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void run_pass(struct owb_retention *r)
{
    struct owb_prune_result res;
    struct timespec t0;
    char period[32];
    enum owb_err rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = owb_retention_pass(r->store, (int64_t)time(NULL), r->retention_s, &res);
    owb_retention_format(r->retention_s, period, sizeof period);
    if (r->metrics) {
        owb_metrics_add(r->metrics, OWB_M_PRUNED_SESSIONS, res.sessions);
        owb_metrics_add(r->metrics, OWB_M_PRUNED_NONCES, res.nonces);
    }
    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: pruning: %s (tried again in %llds)\n", owb_strerror(rc),
                (long long)r->interval_s);
    else if (res.sessions + res.nonces > 0)
        fprintf(stderr,
                "owb-server: pruned %llu session(s) and %llu check-in nonce(s) older than %s "
                "(%u transactions, %.0f ms)\n",
                (unsigned long long)res.sessions, (unsigned long long)res.nonces, period,
                res.batches, ms_since(&t0));
}

static void *retention_thread(void *arg)
{
    struct owb_retention *r = arg;
    int64_t wait_s = r->interval_s < FIRST_PASS_S ? r->interval_s : FIRST_PASS_S;
    struct timespec until;

    pthread_mutex_lock(&r->mu);
    clock_gettime(CLOCK_MONOTONIC, &until);
    while (!r->stop) {
        until.tv_sec += wait_s;
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
            ;
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->mu);
        run_pass(r);
        pthread_mutex_lock(&r->mu);
        /* The next pass an interval after this one ended, not started. */
        clock_gettime(CLOCK_MONOTONIC, &until);
        wait_s = r->interval_s;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

enum owb_err owb_retention_start(struct owb_store *s, struct owb_metrics *m, int64_t retention_s,
                                 struct owb_retention **out)
{
    struct owb_retention *r = calloc(1, sizeof *r);
    pthread_condattr_t attr;
    enum owb_err rc = r ? OWB_OK : OWB_ERR_NOMEM;

    *out = NULL;
    if (rc != OWB_OK)
        goto out;
    r->store = s;
    r->metrics = m;
    r->retention_s = retention_s;
    r->interval_s = retention_s / 4 < 1                ? 1
                    : retention_s / 4 > MAX_INTERVAL_S ? MAX_INTERVAL_S
                                                       : retention_s / 4;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&r->thread, NULL, retention_thread, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    *out = r;
    r = NULL;
out:
    free(r);
    return rc;
}

void owb_retention_stop(struct owb_retention *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
