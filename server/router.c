/* Routes a request to its handler; unknown paths 404, wrong methods 405. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "owb/base64.h"
#include "owb/id.h"

/* Copies the segment after prefix (up to suffix, which must end the path)
 * into out; false when the path does not have that shape. */
static bool match(const char *path, const char *prefix, const char *suffix, char *out, size_t cap)
{
    size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path), seg;

    if (len < plen + slen || strncmp(path, prefix, plen) != 0 ||
        strcmp(path + len - slen, suffix) != 0)
        return false;
    seg = len - plen - slen;
    if (seg == 0 || seg >= cap || memchr(path + plen, '/', seg))
        return false;
    memcpy(out, path + plen, seg);
    out[seg] = '\0';
    return true;
}

static bool token_shape_ok(const char *t)
{
    struct owb_session_key key;
    return owb_session_parse(t, &key);
}

static bool any_segment(const char *s)
{
    (void)s;
    return true;
}

static void route_healthz(struct owb_app *app, const struct owb_http_request *req,
                          struct owb_http_response *resp, const char *seg)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    (void)app;
    (void)req;
    (void)seg;
    owb_http_set_static(resp, 200, "application/json", ok, sizeof ok - 1);
}

/* Readiness, beside /healthz's liveness: whether the store would take a
 * setup now, within the same bound as one. */
static void route_readyz(struct owb_app *app, const struct owb_http_request *req,
                         struct owb_http_response *resp, const char *seg)
{
    static const char ready[] = "{\"status\":\"ready\"}";
    (void)req;
    (void)seg;
    if (app->store->ops->ping(app->store) == OWB_OK)
        owb_http_set_static(resp, 200, "application/json", ready, sizeof ready - 1);
    else
        owb_route_error(resp, OWB_ERR_UNAVAILABLE, "The database is not ready.");
}

static void route_metrics(struct owb_app *app, const struct owb_http_request *req,
                          struct owb_http_response *resp, const char *seg)
{
    size_t len = 0;
    uint64_t online, stale, never;
    char *text;
    (void)req;
    (void)seg;
    /* The fleet's counts are read at each scrape: a gauge, not a counter. */
    if (app->store->ops->fleet_counts(app->store, owb_app_online_since(app), &online, &stale,
                                      &never) == OWB_OK)
        owb_metrics_set_fleet(app->metrics, online, stale, never);
    text = owb_metrics_render(app->metrics, &len);
    if (text)
        owb_http_set_body(resp, 200, "text/plain; version=0.0.4", text, len);
    else
        owb_http_error(resp, OWB_ERR_NOMEM, NULL);
}

typedef void (*route_fn)(struct owb_app *app, const struct owb_http_request *req,
                         struct owb_http_response *resp, const char *seg);

/* Each route: a path prefix and suffix around one segment (none when both
 * make the whole path), the check that segment must pass, and the error
 * when it does not. Order matters: /s/assets/ before /s/. /setup is the
 * setup page without a device id, for a code typed by hand. */
/* `inline` marks a route whose answer never waits (no store, no crypto):
 * it is answered on the thread that read it, without the hand-over to a
 * handler thread and back, which would cost more than the answer. */
static const struct route {
    const char *method, *prefix, *suffix, *label;
    bool has_segment;
    bool (*valid)(const char *seg);
    enum owb_err invalid_err;
    route_fn fn;
    bool inline_ok;
} routes[] = {
    {"GET", "/healthz", "", "/healthz", false, any_segment, OWB_ERR_NOT_FOUND, route_healthz, true},
    {"GET", "/readyz", "", "/readyz", false, any_segment, OWB_ERR_NOT_FOUND, route_readyz, false},
    {"POST", "/v1/setup/", "", "/v1/setup/{id}", true, owb_device_id_valid_str,
     OWB_ERR_UNKNOWN_DEVICE, route_setup, false},
    {"POST", "/v1/devices/", "/checkin", "/v1/devices/{id}/checkin", true, owb_device_id_valid_str,
     OWB_ERR_UNKNOWN_DEVICE, route_checkin, false},
    {"GET", "/v1/devices/", "/setup-state", "/v1/devices/{id}/setup-state", true,
     owb_device_id_valid_str, OWB_ERR_UNKNOWN_DEVICE, route_setup_state, false},
    {"POST", "/v1/devices/", "/heartbeat", "/v1/devices/{id}/heartbeat", true,
     owb_device_id_valid_str, OWB_ERR_UNKNOWN_DEVICE, route_heartbeat, false},
    {"GET", "/v1/sessions/", "", "/v1/sessions/{session}", true, token_shape_ok, OWB_ERR_NOT_FOUND,
     route_session, false},
    {"GET", "/s/assets/", "", "/s/assets/{name}", true, any_segment, OWB_ERR_NOT_FOUND, route_asset,
     true},
    {"GET", "/s/", "", "/s/{id}", true, owb_device_id_valid_str, OWB_ERR_NOT_FOUND, route_page,
     true},
    {"GET", "/setup", "", "/setup", false, any_segment, OWB_ERR_NOT_FOUND, route_page, true},
    {"GET", "/favicon.ico", "", "/favicon.ico", false, any_segment, OWB_ERR_NOT_FOUND,
     route_favicon, true},
};

/* The metrics listener (--metrics-listen) serves GET /metrics and nothing
 * else; the public listener does not serve it at all. */
void owb_app_handle_metrics(void *ctx, const struct owb_http_request *req,
                            struct owb_http_response *resp)
{
    if (strcmp(req->path, "/metrics") != 0) {
        owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
        return;
    }
    resp->route = "/metrics";
    if (owb_http_method_is(req, "GET", resp))
        route_metrics(ctx, req, resp, "");
}

/* The route for a path (NULL: none), its segment copied into seg. */
static const struct route *find_route(const char *path, char *seg, size_t seg_size)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        if (r->has_segment ? match(path, r->prefix, r->suffix, seg, seg_size)
                           : strcmp(path, r->prefix) == 0)
            return r;
    }
    return NULL;
}

static void dispatch_to(struct owb_app *app, const struct route *r, const char *seg,
                        const struct owb_http_request *req, struct owb_http_response *resp)
{
    if (!r) {
        resp->route = "(unknown)";
        owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
        return;
    }
    resp->route = r->label;
    if (owb_http_method_is(req, r->method, resp)) {
        if (r->valid(seg))
            r->fn(app, req, resp, seg);
        else
            owb_http_error(resp, r->invalid_err, NULL);
    }
}

static void dispatch(struct owb_app *app, const struct owb_http_request *req,
                     struct owb_http_response *resp)
{
    char seg[128] = "";

    dispatch_to(app, find_route(req->path, seg, sizeof seg), seg, req, resp);
}

/* Called with the head only, on the thread that read it: answers what
 * never waits (liveness, the page and its assets, an unknown path or a
 * wrong method) there; everything else goes on to a handler thread. */
void owb_app_precheck(void *ctx, const struct owb_http_request *req, struct owb_http_response *resp)
{
    char seg[128] = "";
    const struct route *r = find_route(req->path, seg, sizeof seg);

    if (!r || r->inline_ok || strcmp(req->method, r->method) != 0)
        dispatch_to(ctx, r, seg, req, resp);
}

/* Every store call of a request is bounded from its arrival: the busy
 * timeout covers the wait in the queue for a worker, the store's own
 * waits and each statement, so a slow database is answered 503 in time. */
void owb_app_handle(void *ctx, const struct owb_http_request *req, struct owb_http_response *resp)
{
    struct owb_app *app = ctx;
    int64_t arrived = req->arrived.tv_sec || req->arrived.tv_nsec
                          ? (int64_t)req->arrived.tv_sec * 1000 + req->arrived.tv_nsec / 1000000
                          : owb_store_clock_ms();

    owb_store_bound_begin(app->store, arrived);
    dispatch(app, req, resp);
    owb_store_bound_end();
}

void owb_app_done(void *ctx, const struct owb_http_request *req,
                  const struct owb_http_response *resp, double millis)
{
    struct owb_app *app = ctx;
    const char *route = resp->route ? resp->route : "(none)";

    owb_metrics_request(app->metrics, route, resp->status, millis);
    /* The route label, never the raw path: a session path is a bearer secret. */
    if (!app->cfg.quiet)
        fprintf(stderr, "owb-server: %s %s %s %d %.2fms\n", req->client_addr, req->method, route,
                resp->status, millis);
}

void owb_route_error(struct owb_http_response *resp, enum owb_err rc, const char *why)
{
    if (rc == OWB_ERR_UNAVAILABLE)
        owb_http_add_header(resp, "Retry-After", "1");
    /* A local error's own text would tell a client about the server's
     * insides: every one is "internal". */
    owb_http_error(resp, owb_err_http_status(rc) == 500 ? OWB_ERR_INTERNAL : rc, why);
}

void owb_route_retry_after(struct owb_http_response *resp, unsigned secs)
{
    char retry[24];

    snprintf(retry, sizeof retry, "%u", secs ? secs : 1);
    owb_http_add_header(resp, "Retry-After", retry);
}

bool owb_route_rate_limited(struct owb_app *app, struct owb_ratelimit *rl, const char *key,
                            struct owb_http_response *resp, const char *why)
{
    double wait;

    if (!rl || owb_ratelimit_allow(rl, key, &wait))
        return false;
    owb_route_retry_after(resp, owb_ratelimit_retry_secs(wait));
    owb_http_error(resp, OWB_ERR_RATE_LIMITED, why);
    owb_metrics_inc(app->metrics, OWB_M_RATE_LIMITED);
    return true;
}

int64_t owb_app_online_since(const struct owb_app *app)
{
    return (int64_t)time(NULL) - 2 * (int64_t)app->cfg.heartbeat_s;
}
