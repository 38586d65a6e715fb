/* The wpa_supplicant backend, for an ordinary Linux box. The station's
 * config file gets one network block written atomically (mode 0600):
 *   ssid=<hex of the SSID bytes>          (no quoting to get wrong)
 *   psk="<passphrase>" | psk=<64 hex> | sae_password="<passphrase>"
 * then `wpa_cli -i IFACE reconfigure`. The lines before the first network
 * block (ctrl_interface and the like) are kept; the whole previous file is
 * kept in memory for rollback. The setup AP is a mode=2 network in its own
 * config file for the AP interface. Joined means `wpa_cli status` says
 * wpa_state=COMPLETED with an ip_address. */
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

#define CONFIG_MAX (64 * 1024)
#define DEFAULT_HEADER "ctrl_interface=/var/run/wpa_supplicant\nupdate_config=0\n"

struct wpa_backend {
    struct owb_backend base;
    struct owb_saved_file saved; /* the previous station config */
};

#define W(b) ((struct wpa_backend *)(b))

/* Appends fmt to buf (cap bytes, NUL-terminated); false when it does not fit. */
/* Writes the network block for w (or the AP when ap) into out. */
static bool network_block(char *out, size_t cap, const char *ssid, size_t ssid_len,
                          enum owb_security sec, const char *psk, bool hidden, bool ap)
{
    char hex[2 * OWB_SSID_MAX + 1];

    sodium_bin2hex(hex, sizeof hex, (const uint8_t *)ssid, ssid_len);
    if (!owb_backend_cat(out, cap, "network={\n\tssid=%s\n", hex))
        return false;
    if (ap && !owb_backend_cat(out, cap, "\tmode=2\n\tfrequency=2437\n"))
        return false;
    if (hidden && !owb_backend_cat(out, cap, "\tscan_ssid=1\n"))
        return false;
    switch (sec) {
    case OWB_SEC_OPEN:
        return owb_backend_cat(out, cap, "\tkey_mgmt=NONE\n}\n");
    case OWB_SEC_WPA2_PSK:
        /* A 64-hex PSK is written bare; a passphrase in quotes. The
         * passphrase is printable ASCII and wpa_supplicant reads up to the
         * last quote, so quotes inside it are safe. */
        if (strlen(psk) == 64)
            return owb_backend_cat(out, cap, "\tkey_mgmt=WPA-PSK\n\tpsk=%s\n}\n", psk);
        return owb_backend_cat(out, cap, "\tkey_mgmt=WPA-PSK\n\tpsk=\"%s\"\n}\n", psk);
    case OWB_SEC_WPA3_SAE:
        return owb_backend_cat(out, cap, "\tkey_mgmt=SAE\n\tieee80211w=2\n\tsae_password=\"%s\"\n}\n", psk);
    }
    return false;
}

/* The lines of an existing config before its first network block. */
static void header_of(const char *cfg, char *out, size_t cap)
{
    const char *net = cfg ? strstr(cfg, "network={") : NULL;
    size_t n;

    if (!cfg || !*cfg) {
        snprintf(out, cap, "%s", DEFAULT_HEADER);
        return;
    }
    /* Back up to the start of the line that opens the block. */
    while (net && net > cfg && net[-1] != '\n')
        net--;
    n = net ? (size_t)(net - cfg) : strlen(cfg);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, cfg, n);
    out[n] = '\0';
    if (n && out[n - 1] != '\n')
        owb_backend_cat(out, cap, "\n");
}

static enum owb_err reconfigure(struct owb_backend *b, const char *iface)
{
    char *argv[] = {"wpa_cli", "-i", (char *)(uintptr_t)iface, "reconfigure", NULL};
    return owb_backend_run_ok(b, argv);
}

static enum owb_err write_config(struct owb_backend *b, const char *path, const char *iface,
                                 const char *ssid, size_t ssid_len, enum owb_security sec,
                                 const char *psk, bool hidden, bool ap, bool with_network)
{
    char *old = NULL, *text = owb_secret_alloc(CONFIG_MAX);
    size_t old_len = 0;
    enum owb_err rc = OWB_ERR_NOMEM;

    if (!text)
        return rc;
    rc = owb_file_read(path, CONFIG_MAX - 1024, &old, &old_len);
    if (rc != OWB_OK && rc != OWB_ERR_NOENT)
        goto out;
    header_of(old, text, CONFIG_MAX / 2);
    if (with_network && !network_block(text, CONFIG_MAX, ssid, ssid_len, sec, psk, hidden, ap)) {
        rc = OWB_ERR_SPACE;
        goto out;
    }
    rc = owb_file_write_atomic(path, text, strlen(text), 0600, OWB_WRITE_REPLACE);
    if (rc == OWB_OK)
        rc = reconfigure(b, iface);
out:
    if (old)
        owb_clear_free(old, old_len);
    owb_secret_free(text);
    return rc;
}

static enum owb_err wpa_apply(struct owb_backend *b, const struct owb_wifi *w, const char *hostname)
{
    enum owb_err rc;

    (void)hostname; /* wpa_supplicant does not own the host name */
    rc = owb_saved_file_take(&W(b)->saved, b->cfg.wpa_config, CONFIG_MAX);
    if (rc != OWB_OK)
        return rc;
    return write_config(b, b->cfg.wpa_config, b->cfg.iface, w->ssid, w->ssid_len, w->security,
                        w->psk, w->hidden, false, true);
}

/* Reads "key=value" from wpa_cli status output. */
static bool status_value(const char *out, const char *key, char *val, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
            snprintf(val, cap, "%.*s", (int)(len - klen - 1), line + klen + 1);
            return true;
        }
        line += len;
        if (*line)
            line++;
    }
    return false;
}

static enum owb_join wpa_check(struct owb_backend *b, bool final)
{
    char out[4096], state[64] = "", ip[64] = "";
    int code = -1;
    char *argv[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "status", NULL};

    if (owb_backend_run(b, argv, NULL, out, sizeof out, &code) != OWB_OK || code != 0)
        return final ? OWB_JOIN_ERROR : OWB_JOIN_PENDING;
    status_value(out, "wpa_state", state, sizeof state);
    status_value(out, "ip_address", ip, sizeof ip);
    if (strcmp(state, "COMPLETED") == 0 && ip[0])
        return OWB_JOIN_OK;
    if (!final)
        return OWB_JOIN_PENDING;
    return strcmp(state, "COMPLETED") == 0 ? OWB_JOIN_NO_IP : OWB_JOIN_WRONG_PASSWORD;
}

static enum owb_err wpa_rollback(struct owb_backend *b)
{
    struct owb_saved_file *saved = &W(b)->saved;
    bool taken = saved->taken, had_file;
    enum owb_err rc = owb_saved_file_restore(saved, b->cfg.wpa_config, &had_file);

    return rc == OWB_OK && taken ? reconfigure(b, b->cfg.iface) : rc;
}

static enum owb_err wpa_ap_up(struct owb_backend *b, const char *ssid, const char *pass)
{
    return write_config(b, b->cfg.wpa_ap_config, b->cfg.ap_iface, ssid, strlen(ssid),
                        OWB_SEC_WPA2_PSK, pass, false, true, true);
}

static enum owb_err wpa_ap_down(struct owb_backend *b)
{
    return write_config(b, b->cfg.wpa_ap_config, b->cfg.ap_iface, "", 0, OWB_SEC_OPEN, "", false,
                        true, false);
}

/* scan_results: a header line, then bssid, frequency, signal, flags, ssid
 * separated by tabs. */
static void wpa_scan_line(const char *line, size_t len, size_t index,
                          char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    const char *f = line;
    int tabs = 0;

    if (index == 0)
        return;
    while (f < line + len && tabs < 4)
        if (*f++ == '\t')
            tabs++;
    if (tabs == 4)
        owb_backend_add_ssid(ssids, n, f, (size_t)(line + len - f));
}

static enum owb_err wpa_scan(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    int code = -1;
    char *scan[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "scan", NULL};
    char *results[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "scan_results", NULL};

    *n = 0;
    if (owb_backend_run(b, scan, NULL, NULL, 0, &code) != OWB_OK)
        return OWB_ERR_UNAVAILABLE;
    return owb_backend_scan(b, results, NULL, wpa_scan_line, ssids, n);
}

static void wpa_destroy(struct owb_backend *b)
{
    owb_saved_file_drop(&W(b)->saved);
    free(b);
}

static const struct owb_backend_ops wpa_ops = {
    .name = "wpa_supplicant",
    .apply = wpa_apply,
    .check = wpa_check,
    .rollback = wpa_rollback,
    .ap_up = wpa_ap_up,
    .ap_down = wpa_ap_down,
    .scan = wpa_scan,
    .destroy = wpa_destroy,
};

enum owb_err owb_backend_wpa_create(const struct owb_backend_config *cfg, struct owb_backend **out,
                                    char *diag)
{
    struct wpa_backend *b;

    if (!cfg->wpa_config || !cfg->wpa_ap_config || !cfg->iface || !cfg->ap_iface) {
        owb_diagf(diag, "the wpa_supplicant backend needs its config files and interfaces");
        return OWB_ERR_INVALID_ARG;
    }
    b = calloc(1, sizeof *b);
    if (!b)
        return OWB_ERR_NOMEM;
    b->base.ops = &wpa_ops;
    b->base.cfg = *cfg;
    *out = &b->base;
    return OWB_OK;
}
