/* The running provisioning server: configuration, store, master key,
 * metrics and rate limiter shared by every request handler. */
#ifndef OWB_SERVER_APP_H
#define OWB_SERVER_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "owb/httpd.h"
#include "owb/kdf.h"
#include "owb/payload.h"
#include "owb/ratelimit.h"
#include "secrets.h"
#include "signing.h"
#include "store.h"

#define OWB_SERVER_BODY_MAX (16 * 1024)
/* Keys each rate limiter remembers (owb/ratelimit.h): client addresses
 * for setups and wrong claims, device ids for check-ins. */
#define OWB_SERVER_RATELIMIT_SLOTS 4096

struct owb_app_config {
    const char *listen;
    char public_url[OWB_URL_MAX + 1]; /* no trailing slash */
    const char *device_ap_url;
    unsigned threads, conn_limit, per_ip_limit, timeout_s;
    double rate, burst;                 /* setup requests per second per address; 0 = off */
    double checkin_rate, checkin_burst; /* check-ins per second per device; 0 = off */
    unsigned claim_max;                 /* wrong claims before a device locks */
    unsigned claim_window_s;            /* how long failures count */
    unsigned heartbeat_s;               /* the heartbeat interval devices are asked for */
    bool quiet;                         /* no per-request log lines */
};

struct owb_app {
    struct owb_app_config cfg;
    struct owb_store *store;
    struct owb_master *master;
    struct owb_signing *signing; /* NULL without a key file: pk devices cannot be set up */
    struct owb_metrics *metrics;
    struct owb_ratelimit *rl; /* NULL when off */
    /* Check-ins, keyed by device id: a premises behind one address may hold
     * many devices, and each checks in seldom. NULL when off. */
    struct owb_ratelimit *checkin_rl;
    /* Wrong claims per client address: --claim-max-failures per window. */
    struct owb_ratelimit *claim_rl;
};

/* The router: owb_http_handler_fn and owb_http_done_fn for owb_httpd. */
void owb_app_handle(void *ctx, const struct owb_http_request *req, struct owb_http_response *resp);
/* The head-only hook of the public listener: answers the routes that never
 * wait on the reading thread (see owb_httpd_options.precheck). */
void owb_app_precheck(void *ctx, const struct owb_http_request *req,
                      struct owb_http_response *resp);
void owb_app_handle_metrics(void *ctx, const struct owb_http_request *req,
                            struct owb_http_response *resp);
void owb_app_done(void *ctx, const struct owb_http_request *req,
                  const struct owb_http_response *resp, double millis);

/* Routes, one file each. id and token are validated by the router. */
void route_setup(struct owb_app *app, const struct owb_http_request *req,
                 struct owb_http_response *resp, const char *id);
void route_checkin(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *id);
void route_heartbeat(struct owb_app *app, const struct owb_http_request *req,
                     struct owb_http_response *resp, const char *id);
void route_session(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *token);
void route_page(struct owb_app *app, const struct owb_http_request *req,
                struct owb_http_response *resp, const char *id);
void route_asset(struct owb_app *app, const struct owb_http_request *req,
                 struct owb_http_response *resp, const char *name);
void route_favicon(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *seg);
void route_setup_state(struct owb_app *app, const struct owb_http_request *req,
                       struct owb_http_response *resp, const char *id);

/* The routes' shared answers (router.c). owb_route_error is every
 * route's error tail: a 503 asks to retry in a second, and every local
 * error is answered 500 "internal". owb_route_rate_limited takes a token
 * for key from rl (NULL: off); when there is none it answers 429 with
 * Retry-After and why (NULL: the standard text), counts it, and returns
 * true. */
void owb_route_error(struct owb_http_response *resp, enum owb_err rc, const char *why);
void owb_route_retry_after(struct owb_http_response *resp, unsigned secs);
bool owb_route_rate_limited(struct owb_app *app, struct owb_ratelimit *rl, const char *key,
                            struct owb_http_response *resp, const char *why);
/* A device heard at or after this time is online: two heartbeat
 * intervals, so that one lost heartbeat does not make it stale. */
int64_t owb_app_online_since(const struct owb_app *app);

#endif
