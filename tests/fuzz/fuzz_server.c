/* libFuzzer: owb-server's router and handlers without a socket. The input
 * is "METHOD PATH\n" [ "Authorization: VALUE\n" ] then the body. A real
 * SQLite store in a temporary directory holds one device (the first vector
 * case's key and a known claim code), a network assigned to it and an
 * installer token, so setup, check-in and heartbeat requests can get deep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "rowmac.h"
#include "cli.h"
#include "owb/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct owb_app app;
static char token[OWB_TOKEN_SIZE];

static void setup(void)
{
    static char dir[] = "/tmp/owb-fuzz-server-XXXXXX";
    char db[256], key[256], diag[OWB_DIAG_SIZE];
    struct owb_store_config cfg = {0};
    struct owb_import *imp = NULL;
    struct owb_import_item item = {0};
    struct owb_import_result res = {0};
    struct owb_network_row net = {0};
    uint8_t k[32], hash[OWB_HASH_BYTES];
    int64_t tid;

    if (owb_init() != OWB_OK || !mkdtemp(dir))
        abort();
    snprintf(db, sizeof db, "%s/owb.db", dir);
    snprintf(key, sizeof key, "%s/master.key", dir);
    if (owb_master_create(key, diag) != OWB_OK || owb_master_load(key, &app.master, diag) != OWB_OK)
        abort();
    cfg.path = db;
    cfg.connections = 1;
    cfg.create = true;
    if (owb_store_sqlite_open(&cfg, &app.store, diag) != OWB_OK ||
        owb_master_check(app.master, app.store, true) != OWB_OK)
        abort();
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    strcpy(item.id, "Omega-2231");
    if (owb_atrest_seal(app.master, "devices", item.id, k, 32, &item.sealed_key) != OWB_OK ||
        owb_claim_hash(item.id, "0123456789ABCDEF", 16, item.claim_hash) != OWB_OK)
        abort();
    owb_key_fingerprint(app.master, k, 32, item.key_fp);
    item.has_claim = true;
    owb_row_mac_import(app.master, &item, item.row_mac);
    if (app.store->ops->import_begin(app.store, &imp) != OWB_OK ||
        app.store->ops->import_add(imp, &item, 1, &res) != OWB_OK ||
        app.store->ops->import_end(imp, true) != OWB_OK)
        abort();
    strcpy(net.name, "office");
    strcpy(net.ssid, "Office");
    net.security = OWB_SEC_WPA2_PSK;
    if (owb_atrest_seal(app.master, "networks", "office", (const uint8_t *)"office-psk", 10,
                        &net.sealed_psk) != OWB_OK)
        abort();
    owb_row_mac_network(app.master, &net, net.row_mac);
    if (app.store->ops->network_add(app.store, &net) != OWB_OK)
        abort();
    const char *ids[] = {"Omega-2231"};
    char missing[OWB_NETWORK_NAME_MAX + 1];
    struct owb_device_row dev;
    uint8_t mac[1][OWB_ROW_MAC_BYTES];
    if (app.store->ops->device_get(app.store, ids[0], &dev) != OWB_OK)
        abort();
    strcpy(dev.network, "office");
    owb_row_mac_device(app.master, &dev, mac[0]);
    if (app.store->ops->device_assign(app.store, ids, 1, "office",
                                      (const uint8_t(*)[OWB_ROW_MAC_BYTES])mac, missing) != OWB_OK)
        abort();
    owb_token_new(token, hash);
    if (app.store->ops->token_add(app.store, hash, "fuzz", 0, &tid) != OWB_OK)
        abort();
    app.metrics = owb_metrics_new();
    strcpy(app.cfg.public_url, "http://127.0.0.1:8080");
    app.cfg.device_ap_url = "http://192.168.3.1/";
    app.cfg.claim_max = 1000000; /* keep the device unlocked across inputs */
    app.cfg.claim_window_s = 3600;
    app.cfg.quiet = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char method[16] = "", path[512] = "", auth[256] = "";
    const char *headers[1][2] = {{"Authorization", auth}};
    struct owb_http_request req = {0};
    struct owb_http_response resp = {0};
    const uint8_t *p = data, *end = data + size, *nl;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size > OWB_SERVER_BODY_MAX)
        return 0;
    char first[600];
    nl = memchr(p, '\n', size);
    /* sscanf wants a terminated string: the input is not. */
    if (!nl || (size_t)(nl - p) >= sizeof first)
        return 0;
    memcpy(first, p, (size_t)(nl - p));
    first[nl - p] = '\0';
    if (sscanf(first, "%15s %511s", method, path) != 2)
        return 0;
    p = nl + 1;
    if (end - p > 15 && memcmp(p, "Authorization: ", 15) == 0) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p - 15);
        if (n >= sizeof auth)
            n = sizeof auth - 1;
        memcpy(auth, p + 15, n);
        /* The magic value "TOKEN" stands for the valid installer token. */
        if (strcmp(auth, "Bearer TOKEN") == 0)
            snprintf(auth, sizeof auth, "Bearer %s", token);
        p = nl ? nl + 1 : end;
        req.fake_headers = headers;
        req.n_fake_headers = 1;
    }
    char *body = malloc((size_t)(end - p) + 1);
    if (!body)
        return 0;
    memcpy(body, p, (size_t)(end - p));
    body[end - p] = '\0';
    req.method = method;
    req.path = path;
    req.body = body;
    req.body_len = (size_t)(end - p);
    strcpy(req.client_addr, "127.0.0.1");
    owb_app_handle(&app, &req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    owb_http_response_release(&resp);
    free(body);
    return 0;
}
