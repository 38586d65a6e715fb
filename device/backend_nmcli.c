/* The NetworkManager backend. Connections are keyfiles written atomically
 * (mode 0600) into the keyfile directory, then `nmcli connection reload`
 * and `nmcli connection up id NAME`: the PSK goes into a root-only file,
 * never onto a command line where other users could read it. The SSID is
 * written as a list of byte values, so no character in it needs escaping.
 *   owb-premises  the premises network (the previous keyfile is kept for rollback)
 *   owb-setup-ap  the setup access point (mode=ap, shared IPv4) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "backend_i.h"
#include "owb/fileio.h"
#include "owb/mem.h"

#define PREMISES "owb-premises"
#define SETUP_AP "owb-setup-ap"
#define KEYFILE_MAX 8192

struct nm_backend {
    struct owb_backend base;
    struct owb_saved_file saved; /* the previous owb-premises keyfile */
    enum owb_join refused;       /* why NetworkManager refused the last activation */
};

#define N(b) ((struct nm_backend *)(b))

/* A GKeyFile value: backslash and space escaped (\\ and \s), so leading
 * and trailing spaces survive. The PSK holds printable ASCII only. */
static bool cat_escaped(char *buf, size_t cap, const char *v)
{
    for (; *v; v++) {
        bool ok = *v == '\\'  ? owb_backend_cat(buf, cap, "\\\\")
                  : *v == ' ' ? owb_backend_cat(buf, cap, "\\s")
                              : owb_backend_cat(buf, cap, "%c", *v);
        if (!ok)
            return false;
    }
    return true;
}

static void keyfile_path(const struct owb_backend *b, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.nmconnection", b->cfg.nm_dir, name);
}

static bool keyfile_text(char *t, size_t cap, const char *name, const char *iface, const char *ssid,
                         size_t ssid_len, enum owb_security sec, const char *psk, bool hidden,
                         bool ap, const char *ap_address)
{
    bool ok =
        owb_backend_cat(t, cap,
                        "[connection]\nid=%s\ntype=wifi\ninterface-name=%s\nautoconnect=%s\n\n"
                        "[wifi]\nmode=%s\nssid=",
                        name, iface, ap ? "false" : "true", ap ? "ap" : "infrastructure");
    for (size_t i = 0; ok && i < ssid_len; i++)
        ok = owb_backend_cat(t, cap, "%u;", (unsigned)(unsigned char)ssid[i]);
    /* The setup AP on channel 6, allowed everywhere, as the wpa_supplicant
     * backend does: left to itself NetworkManager may pick channel 12 or
     * 13, where the world regulatory domain allows no beaconing, and the
     * hotspot never comes up. */
    ok = ok && owb_backend_cat(t, cap, "\n%s%s\n", hidden ? "hidden=true\n" : "",
                               ap ? "band=bg\nchannel=6\n" : "");
    if (ok && sec != OWB_SEC_OPEN) {
        ok = owb_backend_cat(t, cap, "[wifi-security]\nkey-mgmt=%s\npsk=",
                             sec == OWB_SEC_WPA3_SAE ? "sae" : "wpa-psk") &&
             cat_escaped(t, cap, psk) && owb_backend_cat(t, cap, "\n\n");
    }
    /* The setup AP: NetworkManager's own DHCP server (dnsmasq) on the
     * address the agent listens on. */
    if (ok && ap)
        return owb_backend_cat(
            t, cap, "[ipv4]\nmethod=shared\naddress1=%s\n\n[ipv6]\nmethod=ignore\n", ap_address);
    return ok && owb_backend_cat(t, cap, "[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n");
}

/* `nmcli connection up` waits for the activation (a little less than the
 * helper's own time limit) and says why it failed: "Secrets were
 * required" after a failed handshake, "could not be found" for an absent
 * network. *why gets the join result such a failure means, PENDING when
 * it only ran out of time. */
static enum owb_err nm_up(struct owb_backend *b, const char *name, enum owb_join *why)
{
    char wait[16], out[2048];
    unsigned secs = b->cfg.timeout_ms / 1000;
    int code = -1;

    snprintf(wait, sizeof wait, "%u", secs > 4 ? secs - 2 : 2);
    char *up[] = {"nmcli", "--wait", wait, "connection", "up", "id", (char *)(uintptr_t)name, NULL};
    *why = OWB_JOIN_PENDING;
    enum owb_err rc = owb_backend_run_merged(b, up, out, sizeof out, &code);
    if (rc != OWB_OK || code == 0)
        return rc;
    if (strstr(out, "Secrets were required")) {
        *why = OWB_JOIN_WRONG_PASSWORD;
        return OWB_OK;
    }
    if (strstr(out, "could not be found") || strstr(out, "No network with SSID")) {
        *why = OWB_JOIN_NETWORK_NOT_FOUND;
        return OWB_OK;
    }
    if (code == 3) /* NetworkManager still trying: check() goes on looking */
        return OWB_OK;
    fprintf(stderr, "owb-device: nmcli connection up %s: exit status %d\n", name, code);
    return OWB_ERR_IO;
}

static enum owb_err nm_reload_up(struct owb_backend *b, const char *name)
{
    char *reload[] = {"nmcli", "connection", "reload", NULL};
    enum owb_join why;
    enum owb_err rc = owb_backend_run_ok(b, reload);
    if (rc == OWB_OK)
        rc = nm_up(b, name, &why);
    if (rc == OWB_OK && strcmp(name, PREMISES) == 0)
        N(b)->refused = why;
    return rc;
}

static enum owb_err write_connection(struct owb_backend *b, const char *name, const char *iface,
                                     const char *ssid, size_t ssid_len, enum owb_security sec,
                                     const char *psk, bool hidden, bool ap)
{
    char path[4096];
    char *text = owb_secret_alloc(KEYFILE_MAX);
    enum owb_err rc = OWB_ERR_NOMEM;

    if (!text)
        return rc;
    keyfile_path(b, name, path, sizeof path);
    if (!keyfile_text(text, KEYFILE_MAX, name, iface, ssid, ssid_len, sec, psk, hidden, ap,
                      b->cfg.ap_address))
        rc = OWB_ERR_SPACE;
    else
        rc = owb_file_write_atomic(path, text, strlen(text), 0600, OWB_WRITE_REPLACE);
    owb_secret_free(text);
    return rc;
}

static enum owb_err nm_apply(struct owb_backend *b, const struct owb_wifi *w, const char *hostname)
{
    char path[4096];
    enum owb_err rc;

    keyfile_path(b, PREMISES, path, sizeof path);
    rc = owb_saved_file_take(&N(b)->saved, path, KEYFILE_MAX);
    if (rc != OWB_OK)
        return rc;
    rc = write_connection(b, PREMISES, b->cfg.iface, w->ssid, w->ssid_len, w->security, w->psk,
                          w->hidden, false);
    if (rc == OWB_OK && hostname && *hostname) {
        char *argv[] = {"nmcli", "general", "hostname", (char *)(uintptr_t)hostname, NULL};
        rc = owb_backend_run_ok(b, argv);
    }
    return rc == OWB_OK ? nm_reload_up(b, PREMISES) : rc;
}

static enum owb_join nm_check(struct owb_backend *b, bool final)
{
    char out[2048];
    int code = -1;

    if (N(b)->refused != OWB_JOIN_PENDING)
        return N(b)->refused;
    char *argv[] = {"nmcli", "-t",     "-g", "GENERAL.STATE,IP4.ADDRESS", "connection", "show",
                    "id",    PREMISES, NULL};

    if (owb_backend_run(b, argv, NULL, out, sizeof out, &code) != OWB_OK || code != 0)
        return final ? OWB_JOIN_WRONG_PASSWORD : OWB_JOIN_PENDING;
    bool activated = strncmp(out, "activated", 9) == 0;
    const char *nl = strchr(out, '\n');
    bool has_ip = nl && nl[1] && nl[1] != '\n';
    if (activated && has_ip)
        return OWB_JOIN_OK;
    if (!final)
        return OWB_JOIN_PENDING;
    return activated ? OWB_JOIN_NO_IP : OWB_JOIN_WRONG_PASSWORD;
}

static enum owb_err nm_rollback(struct owb_backend *b)
{
    char path[4096];
    char *down[] = {"nmcli", "connection", "down", "id", PREMISES, NULL};
    char *reload[] = {"nmcli", "connection", "reload", NULL};
    bool had_file;
    int code;
    enum owb_err rc;

    if (!N(b)->saved.taken)
        return OWB_OK;
    keyfile_path(b, PREMISES, path, sizeof path);
    /* Down first: it may not be up, which is fine. */
    if (owb_backend_run(b, down, NULL, NULL, 0, &code) != OWB_OK)
        fprintf(stderr, "owb-device: nmcli connection down did not run\n");
    rc = owb_saved_file_restore(&N(b)->saved, path, &had_file);
    if (rc == OWB_OK)
        rc = had_file ? nm_reload_up(b, PREMISES) : owb_backend_run_ok(b, reload);
    return rc;
}

static enum owb_err nm_ap_up(struct owb_backend *b, const char *ssid, const char *pass)
{
    enum owb_err rc = write_connection(b, SETUP_AP, b->cfg.ap_iface, ssid, strlen(ssid),
                                       OWB_SEC_WPA2_PSK, pass, false, true);
    return rc == OWB_OK ? nm_reload_up(b, SETUP_AP) : rc;
}

static enum owb_err nm_ap_down(struct owb_backend *b)
{
    char *argv[] = {"nmcli", "connection", "down", "id", SETUP_AP, NULL};
    return owb_backend_run_ok(b, argv);
}

/* Terse output escapes ':' and '\' with a backslash. */
static void nm_scan_line(const char *line, size_t len, size_t index, char ssids[][OWB_SSID_MAX + 1],
                         size_t *n)
{
    char ssid[2 * OWB_SSID_MAX + 2];
    size_t k = 0;

    (void)index;
    for (size_t i = 0; i < len && k < sizeof ssid - 1; i++) {
        if (line[i] == '\\' && i + 1 < len)
            i++;
        ssid[k++] = line[i];
    }
    owb_backend_add_ssid(ssids, n, ssid, k);
}

static enum owb_err nm_scan(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    char *argv[] = {"nmcli", "-t", "-f", "SSID", "device", "wifi", "list", "--rescan", "yes", NULL};
    return owb_backend_scan(b, argv, NULL, nm_scan_line, ssids, n);
}

static void nm_destroy(struct owb_backend *b)
{
    owb_saved_file_drop(&N(b)->saved);
    free(b);
}

static const struct owb_backend_ops nm_ops = {
    .name = "nmcli",
    .ap_with_station = true,
    .apply = nm_apply,
    .check = nm_check,
    .rollback = nm_rollback,
    .ap_up = nm_ap_up,
    .ap_down = nm_ap_down,
    .scan = nm_scan,
    .destroy = nm_destroy,
};

enum owb_err owb_backend_nmcli_create(const struct owb_backend_config *cfg,
                                      struct owb_backend **out, char *diag)
{
    struct nm_backend *b;

    struct in_addr net;

    if (!cfg->nm_dir || !cfg->iface || !cfg->ap_iface) {
        owb_diagf(diag, "the nmcli backend needs its keyfile directory and interfaces");
        return OWB_ERR_INVALID_ARG;
    }
    if (!cfg->ap_address || owb_backend_ap_net(cfg->ap_address, &net) != OWB_OK) {
        owb_diagf(diag, "--ap-address takes A.B.C.D/24 with D outside 100-199");
        return OWB_ERR_INVALID_ARG;
    }
    b = calloc(1, sizeof *b);
    if (!b)
        return OWB_ERR_NOMEM;
    b->base.ops = &nm_ops;
    b->base.cfg = *cfg;
    b->refused = OWB_JOIN_PENDING;
    *out = &b->base;
    return OWB_OK;
}
