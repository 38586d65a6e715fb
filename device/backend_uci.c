/* The uci backend, OpenWRT's way. The station is wireless.<sta> (default
 * "sta"), the setup AP wireless.<ap> (default "ap"):
 *   uci set wireless.sta.ssid=... / .encryption=psk2|sae|none / .key=...
 *   uci set wireless.sta.hidden=0|1 / .disabled=0; uci commit wireless; wifi reload
 * Joined means `ubus call network.interface.<net> status` reports up with an
 * IPv4 address. Scans read `iwinfo <iface> scan`. The values replaced are
 * read with `uci -q get` first and put back on rollback. Each uci argument
 * is one argv element, so quotes, $(...) and backslashes in an SSID or PSK
 * reach uci as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "backend_i.h"
#include "owb/json.h"
#include "owb/mem.h"

static const char *const saved_opts[] = {"ssid", "encryption", "key", "hidden", "disabled"};
#define N_SAVED (sizeof saved_opts / sizeof saved_opts[0])

struct uci_backend {
    struct owb_backend base;
    /* Values replaced by apply, for rollback; in secret memory (a key). */
    struct saved {
        bool valid;
        bool present[N_SAVED];
        char value[N_SAVED][128];
    } * saved;
};

#define U(b) ((struct uci_backend *)(b))

static enum owb_err uci_set(struct owb_backend *b, const char *section, const char *opt,
                            const char *value)
{
    size_t cap = strlen(section) + strlen(opt) + strlen(value) + 16;
    char *arg = owb_secret_alloc(cap);
    enum owb_err rc;

    if (!arg)
        return OWB_ERR_NOMEM;
    snprintf(arg, cap, "wireless.%s.%s=%s", section, opt, value);
    char *argv[] = {"uci", "set", arg, NULL};
    rc = owb_backend_run_ok(b, argv);
    owb_secret_free(arg);
    return rc;
}

static enum owb_err uci_delete(struct owb_backend *b, const char *section, const char *opt)
{
    char arg[160];
    int code;
    snprintf(arg, sizeof arg, "wireless.%s.%s", section, opt);
    char *argv[] = {"uci", "-q", "delete", arg, NULL};
    /* Deleting what is not there is fine. */
    return owb_backend_run(b, argv, NULL, NULL, 0, &code);
}

static enum owb_err uci_commit_reload(struct owb_backend *b)
{
    char *commit[] = {"uci", "commit", "wireless", NULL};
    char *reload[] = {"wifi", "reload", NULL};
    enum owb_err rc = owb_backend_run_ok(b, commit);
    return rc == OWB_OK ? owb_backend_run_ok(b, reload) : rc;
}

static enum owb_err save_current(struct owb_backend *b)
{
    struct saved *s = U(b)->saved;

    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < N_SAVED; i++) {
        char arg[160];
        int code = -1;
        snprintf(arg, sizeof arg, "wireless.%s.%s", b->cfg.uci_sta, saved_opts[i]);
        char *argv[] = {"uci", "-q", "get", arg, NULL};
        enum owb_err rc = owb_backend_run(b, argv, NULL, s->value[i], sizeof s->value[i], &code);
        if (rc != OWB_OK)
            return rc;
        s->present[i] = code == 0;
        s->value[i][strcspn(s->value[i], "\n")] = '\0';
    }
    s->valid = true;
    return OWB_OK;
}

static const char *encryption_of(enum owb_security sec)
{
    switch (sec) {
    case OWB_SEC_WPA2_PSK:
        return "psk2";
    case OWB_SEC_WPA3_SAE:
        return "sae";
    case OWB_SEC_OPEN:
        break;
    }
    return "none";
}

static enum owb_err uci_apply(struct owb_backend *b, const struct owb_wifi *w, const char *hostname)
{
    const char *sta = b->cfg.uci_sta;
    enum owb_err rc = save_current(b);

    if (rc == OWB_OK)
        rc = uci_set(b, sta, "ssid", w->ssid);
    if (rc == OWB_OK)
        rc = uci_set(b, sta, "encryption", encryption_of(w->security));
    if (rc == OWB_OK)
        rc = w->security == OWB_SEC_OPEN ? uci_delete(b, sta, "key")
                                         : uci_set(b, sta, "key", w->psk);
    if (rc == OWB_OK)
        rc = uci_set(b, sta, "hidden", w->hidden ? "1" : "0");
    if (rc == OWB_OK)
        rc = uci_set(b, sta, "disabled", "0");
    if (rc == OWB_OK && hostname && *hostname) {
        char arg[128];
        snprintf(arg, sizeof arg, "system.@system[0].hostname=%s", hostname);
        char *set[] = {"uci", "set", arg, NULL};
        char *commit[] = {"uci", "commit", "system", NULL};
        rc = owb_backend_run_ok(b, set);
        if (rc == OWB_OK)
            rc = owb_backend_run_ok(b, commit);
    }
    if (rc == OWB_OK)
        rc = uci_commit_reload(b);
    return rc;
}

static enum owb_join uci_check(struct owb_backend *b, bool final)
{
    char obj[128], out[8192];
    cJSON *root = NULL;
    int code = -1;
    enum owb_join j = OWB_JOIN_ERROR;

    snprintf(obj, sizeof obj, "network.interface.%s", b->cfg.uci_net);
    char *argv[] = {"ubus", "call", obj, "status", NULL};
    if (owb_backend_run(b, argv, NULL, out, sizeof out, &code) != OWB_OK || code != 0)
        return final ? OWB_JOIN_ERROR : OWB_JOIN_PENDING;
    if (owb_json_parse(out, strlen(out), &root) != OWB_OK)
        return OWB_JOIN_ERROR;
    bool up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "up"));
    const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(root, "ipv4-address");
    bool has_ip = cJSON_IsArray(addrs) && cJSON_GetArraySize(addrs) > 0;
    if (up && has_ip)
        j = OWB_JOIN_OK;
    else if (!final)
        j = OWB_JOIN_PENDING;
    else
        j = up ? OWB_JOIN_NO_IP : OWB_JOIN_WRONG_PASSWORD;
    cJSON_Delete(root);
    return j;
}

static enum owb_err uci_rollback(struct owb_backend *b)
{
    struct saved *s = U(b)->saved;
    enum owb_err rc = OWB_OK;

    if (!s->valid)
        return OWB_OK;
    for (size_t i = 0; rc == OWB_OK && i < N_SAVED; i++)
        rc = s->present[i] ? uci_set(b, b->cfg.uci_sta, saved_opts[i], s->value[i])
                           : uci_delete(b, b->cfg.uci_sta, saved_opts[i]);
    if (rc == OWB_OK)
        rc = uci_commit_reload(b);
    sodium_memzero(s, sizeof *s);
    return rc;
}

static enum owb_err uci_ap_up(struct owb_backend *b, const char *ssid, const char *pass)
{
    const char *ap = b->cfg.uci_ap;
    enum owb_err rc = uci_set(b, ap, "ssid", ssid);
    if (rc == OWB_OK)
        rc = uci_set(b, ap, "encryption", "psk2");
    if (rc == OWB_OK)
        rc = uci_set(b, ap, "key", pass);
    if (rc == OWB_OK)
        rc = uci_set(b, ap, "disabled", "0");
    return rc == OWB_OK ? uci_commit_reload(b) : rc;
}

static enum owb_err uci_ap_down(struct owb_backend *b)
{
    enum owb_err rc = uci_set(b, b->cfg.uci_ap, "disabled", "1");
    return rc == OWB_OK ? uci_commit_reload(b) : rc;
}

/* iwinfo prints each cell's name as: ESSID: "name" */
static void uci_scan_line(const char *line, size_t len, size_t index,
                          char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    const char *essid = memmem(line, len, "ESSID: \"", 8), *start, *end;

    (void)index;
    if (!essid)
        return;
    start = essid + 8;
    end = line + len;
    while (end > start && end[-1] != '"')
        end--;
    if (end > start)
        owb_backend_add_ssid(ssids, n, start, (size_t)(end - 1 - start));
}

static enum owb_err uci_scan(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    char *argv[] = {"iwinfo", (char *)(uintptr_t)b->cfg.iface, "scan", NULL};
    return owb_backend_scan(b, argv, NULL, uci_scan_line, ssids, n);
}

static void uci_destroy(struct owb_backend *b)
{
    owb_secret_free(U(b)->saved);
    free(b);
}

static const struct owb_backend_ops uci_ops = {
    .name = "uci",
    .ap_with_station = true,
    .apply = uci_apply,
    .check = uci_check,
    .rollback = uci_rollback,
    .ap_up = uci_ap_up,
    .ap_down = uci_ap_down,
    .scan = uci_scan,
    .destroy = uci_destroy,
};

enum owb_err owb_backend_uci_create(const struct owb_backend_config *cfg, struct owb_backend **out,
                                    char *diag)
{
    struct uci_backend *b = calloc(1, sizeof *b);
    (void)diag;
    if (!b)
        return OWB_ERR_NOMEM;
    b->saved = owb_secret_alloc(sizeof *b->saved);
    if (!b->saved) {
        free(b);
        return OWB_ERR_NOMEM;
    }
    b->base.ops = &uci_ops;
    b->base.cfg = *cfg;
    *out = &b->base;
    return OWB_OK;
}
