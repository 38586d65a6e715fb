/* GET /s/{id} (the setup page the QR code opens), GET /setup (the same
 * page, for a code typed by hand), their assets and the favicon, all
 * embedded in the binary, and GET /v1/devices/{id}/setup-state (what the
 * page says at once on load). A strict Content-Security-Policy: own-origin
 * scripts, styles and fetches only; nothing inline, nothing from
 * elsewhere. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "owb/asset.h"
#include "rowmac.h"

extern const struct owb_asset setup_assets[];
extern const size_t setup_assets_count;

/* 'wasm-unsafe-eval' lets libsodium's WebAssembly compile; it allows no
 * JavaScript eval. */
static const char csp[] =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

static void serve(struct owb_http_response *resp, const struct owb_asset *a)
{
    if (!a) {
        owb_route_error(resp, OWB_ERR_NOT_FOUND, NULL);
        return;
    }
    owb_http_set_static(resp, 200, a->content_type, (const char *)a->data, a->len);
    owb_http_add_header(resp, "Content-Security-Policy", csp);
    owb_http_add_header(resp, "Referrer-Policy", "no-referrer");
}

void route_page(struct owb_app *app, const struct owb_http_request *req,
                struct owb_http_response *resp, const char *id)
{
    (void)app;
    (void)req;
    (void)id; /* the page reads the id from its own URL */
    serve(resp, owb_asset_find(setup_assets, setup_assets_count, "setup.html"));
}

void route_asset(struct owb_app *app, const struct owb_http_request *req,
                 struct owb_http_response *resp, const char *name)
{
    (void)app;
    (void)req;
    if (owb_asset_find(setup_assets, setup_assets_count, name) == NULL ||
        !strcmp(name, "setup.html") || !strcmp(name, "favicon.ico"))
        owb_route_error(resp, OWB_ERR_NOT_FOUND, NULL);
    else
        serve(resp, owb_asset_find(setup_assets, setup_assets_count, name));
}

void route_favicon(struct owb_app *app, const struct owb_http_request *req,
                   struct owb_http_response *resp, const char *seg)
{
    (void)app;
    (void)req;
    (void)seg;
    serve(resp, owb_asset_find(setup_assets, setup_assets_count, "favicon.ico"));
}

/* Tells the page at once what a setup attempt would: whether the server
 * knows the device, whether it needs a claim code, and until when wrong
 * claims have slowed it down. Nothing more (not how many wrong claims
 * were made), it counts nothing, and it spends the same per-address
 * budget as a setup, so a guesser learns nothing it could not learn from
 * the setup route itself, no faster. */
void route_setup_state(struct owb_app *app, const struct owb_http_request *req,
                       struct owb_http_response *resp, const char *id)
{
    struct owb_setup_read rd;
    int64_t now = (int64_t)time(NULL), next_at = 0;
    cJSON *o = NULL;
    enum owb_err rc;

    if (owb_route_rate_limited(app, app->rl, req->client_addr, resp, NULL))
        return;
    rc = owb_row_setup_read(app->store, app->master, id, now - (int64_t)app->cfg.claim_window_s,
                            NULL, &rd);
    if (rc == OWB_OK && rd.dev.has_claim && app->cfg.claim_max)
        next_at = rd.claim_next_at;
    if (rc == OWB_OK || rc == OWB_ERR_NOENT)
        o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "device_id", id);
        cJSON_AddBoolToObject(o, "known", rc == OWB_OK);
        if (rc == OWB_OK) {
            cJSON_AddBoolToObject(o, "claim_required", rd.dev.has_claim);
            owb_json_add_u64(o, "locked_until", next_at > now ? (uint64_t)next_at : 0);
        }
        owb_json_add_u64(o, "now", (uint64_t)now);
        owb_http_json(resp, 200, o);
    } else {
        owb_route_error(resp, rc == OWB_OK || rc == OWB_ERR_NOENT ? OWB_ERR_NOMEM : rc, NULL);
    }
    sodium_memzero(&rd, sizeof rd);
}
