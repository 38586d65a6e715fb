/* GET /s/{id} (the setup page the QR code opens) and its assets, embedded
 * in the binary. A strict Content-Security-Policy: own-origin scripts,
 * styles and fetches only; nothing inline, nothing from elsewhere. */
#include "app.h"
#include "owb/asset.h"

#include <string.h>

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
        !strcmp(name, "setup.html"))
        owb_route_error(resp, OWB_ERR_NOT_FOUND, NULL);
    else
        serve(resp, owb_asset_find(setup_assets, setup_assets_count, name));
}
