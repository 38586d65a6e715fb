/* The command backend: a program of the user's runs each action, with the
 * settings in its environment (never on its command line, where other
 * users could read them):
 *   PROGRAM apply     OWB_SSID, OWB_SECURITY, OWB_PSK, OWB_HIDDEN (0/1), OWB_HOSTNAME
 *   PROGRAM check     exit 0 joined, 10 still trying, 11 wrong password,
 *                     12 network not found, 13 no IP address; else error
 *   PROGRAM rollback
 *   PROGRAM ap-up     OWB_AP_SSID, OWB_AP_PASSPHRASE
 *   PROGRAM ap-down
 *   PROGRAM scan      prints one SSID per line
 * check also gets OWB_FINAL=1 when the join time is up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "backend_i.h"
#include "owb/mem.h"

struct cmd_backend {
    struct owb_backend base;
};

/* Environment entries for one call, in secret memory. */
struct cmd_env {
    char ssid[16 + OWB_SSID_MAX + 1];
    char security[32];
    char psk[16 + OWB_PSK_MAX + 1];
    char hidden[16];
    char hostname[128];
    char *vec[6];
};

static enum owb_err run_action(struct owb_backend *b, const char *action, char *const *env,
                               char *out, size_t cap, int *code)
{
    char *argv[] = {(char *)(uintptr_t)b->cfg.command, (char *)(uintptr_t)action, NULL};
    return owb_backend_run(b, argv, env, out, cap, code);
}

static enum owb_err cmd_apply(struct owb_backend *b, const struct owb_wifi *w, const char *hostname)
{
    struct cmd_env *e = owb_secret_alloc(sizeof *e);
    int code = -1;
    enum owb_err rc;

    if (!e)
        return OWB_ERR_NOMEM;
    snprintf(e->ssid, sizeof e->ssid, "OWB_SSID=%s", w->ssid);
    snprintf(e->security, sizeof e->security, "OWB_SECURITY=%s", owb_security_name(w->security));
    snprintf(e->psk, sizeof e->psk, "OWB_PSK=%s", w->psk);
    snprintf(e->hidden, sizeof e->hidden, "OWB_HIDDEN=%d", w->hidden ? 1 : 0);
    snprintf(e->hostname, sizeof e->hostname, "OWB_HOSTNAME=%s", hostname ? hostname : "");
    e->vec[0] = e->ssid;
    e->vec[1] = e->security;
    e->vec[2] = e->psk;
    e->vec[3] = e->hidden;
    e->vec[4] = e->hostname;
    e->vec[5] = NULL;
    rc = run_action(b, "apply", e->vec, NULL, 0, &code);
    owb_secret_free(e);
    return rc == OWB_OK && code != 0 ? OWB_ERR_IO : rc;
}

static enum owb_join cmd_check(struct owb_backend *b, bool final)
{
    char *env[] = {final ? "OWB_FINAL=1" : "OWB_FINAL=0", NULL};
    int code = -1;

    if (run_action(b, "check", env, NULL, 0, &code) != OWB_OK)
        return OWB_JOIN_ERROR;
    switch (code) {
    case 0:
        return OWB_JOIN_OK;
    case 10:
        return OWB_JOIN_PENDING;
    case 11:
        return OWB_JOIN_WRONG_PASSWORD;
    case 12:
        return OWB_JOIN_NETWORK_NOT_FOUND;
    case 13:
        return OWB_JOIN_NO_IP;
    default:
        return OWB_JOIN_ERROR;
    }
}

static enum owb_err cmd_simple(struct owb_backend *b, const char *action)
{
    int code = -1;
    enum owb_err rc = run_action(b, action, NULL, NULL, 0, &code);
    return rc == OWB_OK && code != 0 ? OWB_ERR_IO : rc;
}

static enum owb_err cmd_rollback(struct owb_backend *b)
{
    return cmd_simple(b, "rollback");
}

static enum owb_err cmd_ap_up(struct owb_backend *b, const char *ssid, const char *pass)
{
    char e_ssid[16 + OWB_SSID_MAX + 1], e_pass[32 + 64];
    char *env[] = {e_ssid, e_pass, NULL};
    int code = -1;
    enum owb_err rc;

    snprintf(e_ssid, sizeof e_ssid, "OWB_AP_SSID=%s", ssid);
    snprintf(e_pass, sizeof e_pass, "OWB_AP_PASSPHRASE=%s", pass);
    rc = run_action(b, "ap-up", env, NULL, 0, &code);
    sodium_memzero(e_pass, sizeof e_pass);
    return rc == OWB_OK && code != 0 ? OWB_ERR_IO : rc;
}

static enum owb_err cmd_ap_down(struct owb_backend *b)
{
    return cmd_simple(b, "ap-down");
}

static void cmd_scan_line(const char *line, size_t len, size_t index,
                          char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    (void)index;
    owb_backend_add_ssid(ssids, n, line, len);
}

static enum owb_err cmd_scan(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    char *argv[] = {(char *)(uintptr_t)b->cfg.command, "scan", NULL};
    return owb_backend_scan(b, argv, NULL, cmd_scan_line, ssids, n);
}

static void cmd_destroy(struct owb_backend *b)
{
    free(b);
}

static const struct owb_backend_ops cmd_ops = {
    .name = "command",
    .ap_with_station = true,
    .apply = cmd_apply,
    .check = cmd_check,
    .rollback = cmd_rollback,
    .ap_up = cmd_ap_up,
    .ap_down = cmd_ap_down,
    .scan = cmd_scan,
    .destroy = cmd_destroy,
};

enum owb_err owb_backend_command_create(const struct owb_backend_config *cfg,
                                        struct owb_backend **out, char *diag)
{
    struct cmd_backend *b;

    if (!cfg->command || !*cfg->command) {
        owb_diagf(diag, "the command backend needs --wifi-command PROGRAM");
        return OWB_ERR_INVALID_ARG;
    }
    b = calloc(1, sizeof *b);
    if (!b)
        return OWB_ERR_NOMEM;
    b->base.ops = &cmd_ops;
    b->base.cfg = *cfg;
    *out = &b->base;
    return OWB_OK;
}
