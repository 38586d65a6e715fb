/* The agent's HTTP surface on the setup AP: the hand-off page, its
 * assets, GET /v1/status and POST /v1/provision. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "owb/asset.h"
#include "owb/json.h"

extern const struct owb_asset handoff_assets[];
extern const size_t handoff_assets_count;

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                          "frame-ancestors 'none'";

static void status(struct owb_agent *a, struct owb_http_response *resp)
{
    cJSON *o = cJSON_CreateObject(), *list;

    if (!o) {
        owb_http_error(resp, OWB_ERR_NOMEM, NULL);
        return;
    }
    pthread_mutex_lock(&a->mu);
    cJSON_AddStringToObject(o, "device_id", a->kf->device_id);
    cJSON_AddStringToObject(o, "state", owb_state_name(a->state));
    owb_json_add_u64(o, "counter", a->counter);
    /* owb: what runs (below counter while a rollout is held), and how many
     * heartbeats the server answered. */
    if (a->running)
        owb_json_add_u64(o, "running", a->running);
    owb_json_add_u64(o, "heartbeats", a->hb_sent);
    if (a->state == OWB_STATE_FAILED)
        cJSON_AddStringToObject(o, "reason", owb_reason_name(a->reason));
    if (a->have_scan && (list = cJSON_AddArrayToObject(o, "visible_networks")) != NULL)
        for (size_t i = 0; i < a->n_visible; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(a->visible[i]));
    cJSON_AddBoolToObject(o, "setup_open", a->setup_open);
    /* The phone has the outcome: the worker may take the setup AP down. */
    if (a->state == OWB_STATE_JOINED && a->ap_linger && !a->joined_read) {
        a->joined_read = true;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    owb_http_json(resp, 200, o);
}

static void asset(struct owb_http_response *resp, const char *name)
{
    const struct owb_asset *as = owb_asset_find(handoff_assets, handoff_assets_count, name);
    if (!as) {
        owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
        return;
    }
    owb_http_set_static(resp, 200, as->content_type, (const char *)as->data, as->len);
    owb_http_add_header(resp, "Content-Security-Policy", csp);
    owb_http_add_header(resp, "Referrer-Policy", "no-referrer");
}

/* An IPv4 literal, or an IPv6 one in brackets, with an optional port. */
static bool ip_literal(const char *host)
{
    char buf[64];
    const char *end;

    if (host[0] == '[') {
        end = strchr(host, ']');
        if (!end || (size_t)(end - host - 1) >= sizeof buf || (end[1] && end[1] != ':'))
            return false;
        memcpy(buf, host + 1, (size_t)(end - host - 1));
        buf[end - host - 1] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, buf, &a6) == 1;
    }
    end = strchr(host, ':');
    size_t n = end ? (size_t)(end - host) : strlen(host);
    if (n >= sizeof buf)
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    struct in_addr a4;
    return inet_pton(AF_INET, buf, &a4) == 1;
}

/* The Host a request names must be the agent's own address, with or
 * without its port: a web page whose name an attacker made resolve to the
 * agent (DNS rebinding) names its own host instead. Listening on every
 * address, any IP literal will do (a rebinding page always has a name). */
static bool host_ok(struct owb_agent *a, const char *host)
{
    const char *listen = a->cfg.listen, *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    char with_port[96];

    if (!host || !*host)
        return false;
    if ((n == 7 && strncmp(listen, "0.0.0.0", 7) == 0) ||
        (n == 4 && strncmp(listen, "[::]", 4) == 0) || n == 0)
        return ip_literal(host);
    pthread_mutex_lock(&a->mu);
    snprintf(with_port, sizeof with_port, "%.*s:%u", (int)n, listen, a->port);
    pthread_mutex_unlock(&a->mu);
    return (strlen(host) == n && strncmp(host, listen, n) == 0) || strcmp(host, with_port) == 0;
}

/* A body must say it is JSON: a page elsewhere can post text/plain to the
 * agent without asking, but not application/json (the browser asks first,
 * with a preflight the agent never allows). A foreign Origin is refused. */
static enum owb_err post_ok(struct owb_agent *a, const struct owb_http_request *req)
{
    const char *ct = owb_http_header(req, "Content-Type");
    const char *origin = owb_http_header(req, "Origin");
    size_t jn = strlen("application/json");

    if (origin && (strncmp(origin, "http://", 7) != 0 || !host_ok(a, origin + 7)))
        return OWB_ERR_WRONG_HOST;
    if (!ct || strncasecmp(ct, "application/json", jn) != 0 || (ct[jn] && ct[jn] != ';'))
        return OWB_ERR_MEDIA_TYPE;
    return OWB_OK;
}

/* What the headers alone decide; true to go on. */
static bool gate(struct owb_agent *a, const struct owb_http_request *req,
                 struct owb_http_response *resp)
{
    enum owb_err rc;

    if (!host_ok(a, owb_http_header(req, "Host"))) {
        resp->route = "(wrong host)";
        owb_http_error(resp, OWB_ERR_WRONG_HOST, NULL);
        return false;
    }
    if (strcmp(req->path, "/v1/provision") != 0 || strcmp(req->method, "POST") != 0)
        return true;
    resp->route = "/v1/provision";
    rc = post_ok(a, req);
    if (rc != OWB_OK) {
        owb_http_error(resp, rc, NULL);
        return false;
    }
    return true;
}

/* The provision gate runs here, from the headers, and again in
 * owb_agent_provision once the body is in (setup may have closed, or the
 * budget been spent, meanwhile); the handler's own pass does not add a
 * third. */
void owb_agent_precheck(void *ctx, const struct owb_http_request *req,
                        struct owb_http_response *resp)
{
    struct owb_agent *a = ctx;

    if (gate(a, req, resp) && resp->route && strcmp(resp->route, "/v1/provision") == 0)
        (void)owb_agent_provision_gate(a, req, resp);
}

void owb_agent_handle(void *ctx, const struct owb_http_request *req, struct owb_http_response *resp)
{
    struct owb_agent *a = ctx;

    if (!gate(a, req, resp))
        return;
    if (strcmp(req->path, "/v1/provision") == 0) {
        resp->route = "/v1/provision";
        if (owb_http_method_is(req, "POST", resp))
            owb_agent_provision(a, req, resp);
    } else if (strcmp(req->path, "/v1/status") == 0) {
        resp->route = "/v1/status";
        if (owb_http_method_is(req, "GET", resp))
            status(a, resp);
    } else if (strcmp(req->path, "/") == 0) {
        resp->route = "/";
        if (owb_http_method_is(req, "GET", resp))
            asset(resp, "handoff.html");
    } else if (req->path[0] == '/' && strcmp(req->path, "/handoff.html") != 0 &&
               owb_asset_find(handoff_assets, handoff_assets_count, req->path + 1)) {
        /* The page's scripts, styles and icon, each at /<name>. */
        resp->route = "/assets";
        if (owb_http_method_is(req, "GET", resp))
            asset(resp, req->path + 1);
    } else {
        resp->route = "(unknown)";
        owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
    }
}
