/* Starting a rollout, for the admin commands that change where devices
 * go: 'network update' and 'device assign --network' (docs/server.md,
 * "Rollouts"). The bundles themselves are made by the running server, in
 * the answers to heartbeats (routes_heartbeat.c): only it holds the
 * signing key the pk suite needs. */
#ifndef OWB_SERVER_ROLLOUT_H
#define OWB_SERVER_ROLLOUT_H

#include <stddef.h>

#include "cli.h"

/* How the devices are released: --batch N a wave, or --percent P of them
 * a wave; neither: all at once. */
struct rollout_opts {
    unsigned batch, percent;
};

#define OWB_ROLLOUT_OPTS(st, f, verb)                                                              \
    OWB_OPT_UINT_("batch", "N", st, f.batch, 1, 10000000,                                          \
                  verb ": the rollout releases N devices at a time, the next wave once each of "   \
                       "these has applied or failed"),                                             \
        OWB_OPT_UINT_("percent", "P", st, f.percent, 1, 100,                                       \
                      verb ": the rollout releases P percent of the devices at a time")

/* Starts a rollout of kind ("network" or "assign") to network for the
 * devices ids names (n of them), or with ids NULL for every device on the
 * network; only devices already set up take part, and those set up
 * app-sealed are listed as needing a person. Prints what it started
 * (nothing when no device is set up). */
enum owb_err rollout_start(struct owb_srv *srv, const char *kind, const char *network,
                           const char *const *ids, size_t n,
                           const struct rollout_opts *o) OWB_MUST_CHECK;

#endif
