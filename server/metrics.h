/* Prometheus counters for owb-server: requests by route and status, a
 * latency histogram, bundles by mode, check-ins, claim rejections, rows pruned. */
#ifndef OWB_SERVER_METRICS_H
#define OWB_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum owb_counter {
    OWB_M_BUNDLES_SERVER_SEALED,
    OWB_M_BUNDLES_APP_SEALED,
    OWB_M_CHECKINS_OK,
    OWB_M_CHECKINS_REJECTED,
    OWB_M_CLAIM_REJECTED,
    OWB_M_CLAIM_LOCKED,
    OWB_M_RATE_LIMITED,
    OWB_M_PRUNED_SESSIONS,
    OWB_M_PRUNED_NONCES,
    OWB_M_HEARTBEATS_OK,
    OWB_M_HEARTBEATS_REJECTED,
    OWB_M_BUNDLES_ROLLOUT,
    OWB_M__COUNT
};

struct owb_metrics;

struct owb_metrics *owb_metrics_new(void);
void owb_metrics_free(struct owb_metrics *m);
/* route must be a string that lives as long as m (a literal). */
void owb_metrics_request(struct owb_metrics *m, const char *route, int status, double millis);
void owb_metrics_inc(struct owb_metrics *m, enum owb_counter c);
void owb_metrics_add(struct owb_metrics *m, enum owb_counter c, uint64_t n);
/* The fleet's devices by their last heartbeat (gauges, read from the store
 * at each scrape). */
void owb_metrics_set_fleet(struct owb_metrics *m, uint64_t online, uint64_t stale, uint64_t never);
/* The exposition text in a new heap string (free()), or NULL. */
char *owb_metrics_render(struct owb_metrics *m, size_t *len);

#endif
