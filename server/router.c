/* Routes a request to its handler; unknown paths 404, wrong methods 405. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "owb/base64.h"
#include "owb/id.h"

/* Copies the segment after prefix (up to suffix, which must end the path)
 * into out; false when the path does not have that shape. */
static bool match(const char *path, const char *prefix, const char *suffix, char *out,
                  size_t cap)
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

static bool method_is(const struct owb_http_request *req, const char *m,
                      struct owb_http_response *resp)
{
    if (strcmp(req->method, m) == 0)
        return true;
    owb_http_add_header(resp, "Allow", m);
    owb_http_error(resp, OWB_ERR_METHOD, NULL);
    return false;
}

static bool token_shape_ok(const char *t)
{
    size_t n = strlen(t);
    if (n != OWB_SESSION_SIZE - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

void owb_app_handle(void *ctx, const struct owb_http_request *req, struct owb_http_response *resp)
{
    struct owb_app *app = ctx;
    char seg[128];

    if (strcmp(req->path, "/healthz") == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        resp->route = "/healthz";
        if (method_is(req, "GET", resp))
            owb_http_set_static(resp, 200, "application/json", ok, sizeof ok - 1);
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        resp->route = "/metrics";
        if (method_is(req, "GET", resp)) {
            size_t len = 0;
            char *text = owb_metrics_render(app->metrics, &len);
            if (text)
                owb_http_set_body(resp, 200, "text/plain; version=0.0.4", text, len);
            else
                owb_http_error(resp, OWB_ERR_NOMEM, NULL);
        }
        return;
    }
    if (match(req->path, "/v1/setup/", "", seg, sizeof seg)) {
        resp->route = "/v1/setup/{id}";
        if (!method_is(req, "POST", resp))
            return;
        if (!owb_device_id_valid_str(seg))
            owb_http_error(resp, OWB_ERR_UNKNOWN_DEVICE, NULL);
        else
            route_setup(app, req, resp, seg);
        return;
    }
    if (match(req->path, "/v1/devices/", "/checkin", seg, sizeof seg)) {
        resp->route = "/v1/devices/{id}/checkin";
        if (!method_is(req, "POST", resp))
            return;
        if (!owb_device_id_valid_str(seg))
            owb_http_error(resp, OWB_ERR_UNKNOWN_DEVICE, NULL);
        else
            route_checkin(app, req, resp, seg);
        return;
    }
    if (match(req->path, "/v1/sessions/", "", seg, sizeof seg)) {
        resp->route = "/v1/sessions/{session}";
        if (!method_is(req, "GET", resp))
            return;
        if (!token_shape_ok(seg))
            owb_http_error(resp, OWB_ERR_NOT_FOUND, "No such session.");
        else
            route_session(app, req, resp, seg);
        return;
    }
    if (match(req->path, "/s/assets/", "", seg, sizeof seg)) {
        resp->route = "/s/assets/{name}";
        if (method_is(req, "GET", resp))
            route_asset(app, req, resp, seg);
        return;
    }
    if (match(req->path, "/s/", "", seg, sizeof seg)) {
        resp->route = "/s/{id}";
        if (!method_is(req, "GET", resp))
            return;
        if (!owb_device_id_valid_str(seg))
            owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
        else
            route_page(app, req, resp, seg);
        return;
    }
    resp->route = "(unknown)";
    owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
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

enum owb_err owb_app_device_key(const struct owb_app *app, const struct owb_device_row *row,
                                uint8_t key[static 32])
{
    size_t len = 0;
    enum owb_err rc =
        owb_atrest_open(app->master, "devices", row->id, &row->sealed_key, key, 32, &len);
    if (rc == OWB_OK && len != 32)
        rc = OWB_ERR_AUTH_FAILED;
    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: device %s: stored key does not open under the master key\n",
                row->id);
    return rc;
}
