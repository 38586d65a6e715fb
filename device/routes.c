/* The agent's HTTP surface on the setup AP: the hand-off page, its
 * assets, GET /v1/status and POST /v1/provision. */
#include <string.h>

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
    if (a->state == OWB_STATE_FAILED)
        cJSON_AddStringToObject(o, "reason", owb_reason_name(a->reason));
    if (a->have_scan && (list = cJSON_AddArrayToObject(o, "visible_networks")) != NULL)
        for (size_t i = 0; i < a->n_visible; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(a->visible[i]));
    cJSON_AddBoolToObject(o, "setup_open", a->setup_open);
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

void owb_agent_handle(void *ctx, const struct owb_http_request *req,
                      struct owb_http_response *resp)
{
    struct owb_agent *a = ctx;

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
    } else if (strcmp(req->path, "/handoff.js") == 0 || strcmp(req->path, "/handoff.css") == 0) {
        resp->route = "/assets";
        if (owb_http_method_is(req, "GET", resp))
            asset(resp, req->path + 1);
    } else {
        resp->route = "(unknown)";
        owb_http_error(resp, OWB_ERR_NOT_FOUND, NULL);
    }
}
