/* GET /v1/sessions/{session}: the setup page polls this until the device
 * has checked in. The token is a bearer capability: its row is found by
 * the device and counter it names and the hash of its secret, and it
 * never appears in logs. */
#include "app.h"
#include "owb/json.h"

void route_session(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *token)
{
    struct owb_session_row row;
    struct owb_session_key key;
    cJSON *o;
    enum owb_err rc;
    (void)req;

    /* The router let only a token of either shape through. */
    rc = owb_session_parse(token, &key) ? app->store->ops->session_get(app->store, &key, &row)
                                        : OWB_ERR_NOENT;
    if (rc != OWB_OK) {
        owb_route_error(resp, rc == OWB_ERR_NOENT ? OWB_ERR_NOT_FOUND : OWB_ERR_UNAVAILABLE,
                        rc == OWB_ERR_NOENT ? "No such session." : NULL);
        return;
    }
    o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "device_id", row.device_id);
        owb_json_add_u64(o, "counter", row.counter);
        cJSON_AddStringToObject(o, "state", row.state);
        if (row.online_at)
            owb_json_add_u64(o, "online_at", (uint64_t)row.online_at);
        else
            cJSON_AddNullToObject(o, "online_at");
    }
    owb_http_json(resp, 200, o);
}
