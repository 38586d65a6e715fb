#include "metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 128

static const double buckets_ms[] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
#define N_BUCKETS (sizeof buckets_ms / sizeof buckets_ms[0])

static const struct {
    const char *name, *help, *labels;
} counter_info[OWB_M__COUNT] = {
    [OWB_M_BUNDLES_SERVER_SEALED] = {"owb_bundles_issued_total", "Bundles issued, by mode.",
                                     "{mode=\"server-sealed\"}"},
    [OWB_M_BUNDLES_APP_SEALED] = {"owb_bundles_issued_total", NULL, "{mode=\"app-sealed\"}"},
    [OWB_M_CHECKINS_OK] = {"owb_checkins_total", "Device check-ins, by result.",
                           "{result=\"accepted\"}"},
    [OWB_M_CHECKINS_REJECTED] = {"owb_checkins_total", NULL, "{result=\"rejected\"}"},
    [OWB_M_CLAIM_REJECTED] = {"owb_claim_rejections_total",
                              "Setup requests with a wrong claim code.", ""},
    [OWB_M_CLAIM_LOCKED] = {"owb_claim_locked_total",
                            "Setup requests refused while a device is locked.", ""},
    [OWB_M_RATE_LIMITED] = {"owb_rate_limited_total",
                            "Requests refused by the per-address rate limit.", ""},
    [OWB_M_PRUNED_SESSIONS] = {"owb_pruned_rows_total",
                               "Rows removed by pruning (--retention), by table.",
                               "{table=\"sessions\"}"},
    [OWB_M_PRUNED_NONCES] = {"owb_pruned_rows_total", NULL, "{table=\"checkin_nonces\"}"},
    [OWB_M_HEARTBEATS_OK] = {"owb_heartbeats_total", "Device heartbeats, by result.",
                             "{result=\"accepted\"}"},
    [OWB_M_HEARTBEATS_REJECTED] = {"owb_heartbeats_total", NULL, "{result=\"refused\"}"},
    [OWB_M_BUNDLES_ROLLOUT] = {"owb_rollout_bundles_total",
                               "Bundles sent in heartbeat answers for rollouts.", ""},
};

struct series {
    const char *route;
    int status;
    uint64_t count;
};

struct owb_metrics {
    pthread_mutex_t mu;
    struct series series[MAX_SERIES];
    size_t n_series;
    uint64_t bucket_counts[N_BUCKETS + 1];
    double latency_sum_ms;
    uint64_t latency_count;
    uint64_t counters[OWB_M__COUNT];
    uint64_t fleet[3]; /* online, stale, never heard */
    bool has_fleet;
};

struct owb_metrics *owb_metrics_new(void)
{
    struct owb_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void owb_metrics_free(struct owb_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void owb_metrics_request(struct owb_metrics *m, const char *route, int status, double millis)
{
    size_t i, b;

    pthread_mutex_lock(&m->mu);
    for (i = 0; i < m->n_series; i++)
        if (m->series[i].status == status && strcmp(m->series[i].route, route) == 0)
            break;
    if (i == m->n_series && i < MAX_SERIES) {
        m->series[i].route = route;
        m->series[i].status = status;
        m->n_series++;
    }
    if (i < MAX_SERIES)
        m->series[i].count++;
    for (b = 0; b < N_BUCKETS && millis > buckets_ms[b]; b++)
        ;
    m->bucket_counts[b]++;
    m->latency_sum_ms += millis;
    m->latency_count++;
    pthread_mutex_unlock(&m->mu);
}

void owb_metrics_inc(struct owb_metrics *m, enum owb_counter c)
{
    owb_metrics_add(m, c, 1);
}

void owb_metrics_add(struct owb_metrics *m, enum owb_counter c, uint64_t n)
{
    pthread_mutex_lock(&m->mu);
    m->counters[c] += n;
    pthread_mutex_unlock(&m->mu);
}

void owb_metrics_set_fleet(struct owb_metrics *m, uint64_t online, uint64_t stale, uint64_t never)
{
    pthread_mutex_lock(&m->mu);
    m->fleet[0] = online;
    m->fleet[1] = stale;
    m->fleet[2] = never;
    m->has_fleet = true;
    pthread_mutex_unlock(&m->mu);
}

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        char *np = realloc(b->p, b->cap * 2 + (size_t)n);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)n;
    }
}

char *owb_metrics_render(struct owb_metrics *m, size_t *len)
{
    struct buf b = {malloc(4096), 0, 4096, 0};
    uint64_t cum = 0;

    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    pthread_mutex_lock(&m->mu);
    add(&b, "# HELP owb_http_requests_total HTTP requests by route and status.\n"
            "# TYPE owb_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++)
        add(&b, "owb_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->series[i].route,
            m->series[i].status, (unsigned long long)m->series[i].count);
    add(&b, "# HELP owb_http_request_duration_seconds Time to answer a request.\n"
            "# TYPE owb_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cum += m->bucket_counts[i];
        if (i < N_BUCKETS)
            add(&b, "owb_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                buckets_ms[i] / 1000.0, (unsigned long long)cum);
        else
            add(&b, "owb_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    add(&b, "owb_http_request_duration_seconds_sum %.6f\n", m->latency_sum_ms / 1000.0);
    add(&b, "owb_http_request_duration_seconds_count %llu\n", (unsigned long long)m->latency_count);
    for (int c = 0; c < OWB_M__COUNT; c++) {
        if (counter_info[c].help)
            add(&b, "# HELP %s %s\n# TYPE %s counter\n", counter_info[c].name, counter_info[c].help,
                counter_info[c].name);
        add(&b, "%s%s %llu\n", counter_info[c].name, counter_info[c].labels,
            (unsigned long long)m->counters[c]);
    }
    if (m->has_fleet)
        add(&b,
            "# HELP owb_devices Devices by their last heartbeat (online: within two intervals).\n"
            "# TYPE owb_devices gauge\nowb_devices{heard=\"online\"} %llu\n"
            "owb_devices{heard=\"stale\"} %llu\nowb_devices{heard=\"never\"} %llu\n",
            (unsigned long long)m->fleet[0], (unsigned long long)m->fleet[1],
            (unsigned long long)m->fleet[2]);
    pthread_mutex_unlock(&m->mu);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
