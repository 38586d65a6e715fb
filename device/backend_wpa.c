/* The wpa_supplicant backend, for an ordinary Linux box. The station's
 * config file gets one network block written atomically (mode 0600):
 *   ssid=<hex of the SSID bytes>
 *   psk=<64 hex: PBKDF2 of the passphrase> | sae_password=<hex of it>
 * so no byte of an SSID or passphrase is ever quoted (wpa_supplicant cuts
 * a quoted value at a '#' after a '"'), then `wpa_cli -i IFACE
 * reconfigure`. The lines before the first network block (ctrl_interface
 * and the like) are kept; the whole previous file is kept in memory for
 * rollback. The setup AP is a mode=2 network in its own config file for
 * the AP interface.
 *
 * Addresses: wpa_supplicant does no DHCP, so this backend runs the
 * platform's busybox-style DHCP programs (docs/device.md): udhcpc on the
 * station after each change of network, and udhcpd on the setup AP, whose
 * address it sets with `ip`. Either can be "none" where the system already
 * runs its own.
 *
 * Joined means `wpa_cli status` says wpa_state=COMPLETED with an
 * ip_address; a network wpa_supplicant has marked TEMP-DISABLED after a
 * failed handshake is a wrong password, said at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backend.h"
#include "backend_i.h"
#include "owb/fileio.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/wpa_psk.h"
#include "spawn.h"

#define CONFIG_MAX (64 * 1024)
#define DEFAULT_HEADER "ctrl_interface=/var/run/wpa_supplicant\nupdate_config=0\n"
/* A scan takes 1-3 s on real radios; results are read as soon as any are in. */
#define SCAN_WAIT_MS 6000
#define SCAN_POLL_MS 250

struct wpa_backend {
    struct owb_backend base;
    struct owb_saved_file saved; /* the previous station config */
    pid_t dhcp_client, dhcp_server;
    char hostname[OWB_HOSTNAME_MAX + 1];
    struct in_addr ap_net; /* the setup AP's /24 */
};

#define W(b) ((struct wpa_backend *)(b))

static bool cat_hex(char *out, size_t cap, const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];

    if (len > 64)
        return false;
    sodium_bin2hex(hex, sizeof hex, bin, len);
    bool ok = owb_backend_cat(out, cap, "%s", hex);
    sodium_memzero(hex, sizeof hex);
    return ok;
}

/* The key lines for a passphrase (or a 64-hex PSK) on an SSID. */
static bool key_lines(char *out, size_t cap, const char *ssid, size_t ssid_len,
                      enum owb_security sec, const char *psk)
{
    uint8_t key[OWB_WPA_PSK_BYTES];
    bool ok;

    switch (sec) {
    case OWB_SEC_OPEN:
        return owb_backend_cat(out, cap, "\tkey_mgmt=NONE\n");
    case OWB_SEC_WPA2_PSK:
        if (strlen(psk) == 64)
            return owb_backend_cat(out, cap, "\tkey_mgmt=WPA-PSK\n\tpsk=%s\n", psk);
        if (owb_wpa_psk(psk, (const uint8_t *)ssid, ssid_len, key) != OWB_OK)
            return false;
        ok = owb_backend_cat(out, cap, "\tkey_mgmt=WPA-PSK\n\tpsk=") &&
             cat_hex(out, cap, key, sizeof key) && owb_backend_cat(out, cap, "\n");
        sodium_memzero(key, sizeof key);
        return ok;
    case OWB_SEC_WPA3_SAE:
        return owb_backend_cat(out, cap, "\tkey_mgmt=SAE\n\tieee80211w=2\n\tsae_password=") &&
               cat_hex(out, cap, (const uint8_t *)psk, strlen(psk)) &&
               owb_backend_cat(out, cap, "\n");
    }
    return false;
}

/* Writes the network block for w (or the AP when ap) into out. */
static bool network_block(char *out, size_t cap, const char *ssid, size_t ssid_len,
                          enum owb_security sec, const char *psk, bool hidden, bool ap)
{
    return owb_backend_cat(out, cap, "network={\n\tssid=") &&
           cat_hex(out, cap, (const uint8_t *)ssid, ssid_len) && owb_backend_cat(out, cap, "\n") &&
           (!ap || owb_backend_cat(out, cap, "\tmode=2\n\tfrequency=2437\n")) &&
           (!hidden || owb_backend_cat(out, cap, "\tscan_ssid=1\n")) &&
           key_lines(out, cap, ssid, ssid_len, sec, psk) && owb_backend_cat(out, cap, "}\n");
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

/* wpa_cli may exit 0 with the answer FAIL (a config wpa_supplicant
 * refused): that is a failure too. */
static enum owb_err reconfigure(struct owb_backend *b, const char *iface)
{
    char out[256];
    int code = -1;
    char *argv[] = {"wpa_cli", "-i", (char *)(uintptr_t)iface, "reconfigure", NULL};
    enum owb_err rc = owb_backend_run(b, argv, NULL, out, sizeof out, &code);

    if (rc == OWB_OK && (code != 0 || strncmp(out, "FAIL", 4) == 0)) {
        fprintf(stderr, "owb-device: wpa_cli reconfigure on %s failed (exit %d)\n", iface, code);
        rc = OWB_ERR_IO;
    }
    return rc;
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

static bool uses(const char *program)
{
    return program && *program && strcmp(program, "none") != 0;
}

/* The station's DHCP client: stopped, the old address dropped (it belongs
 * to the network just left, and would read as "joined"), started again
 * for the network now configured. */
static void restart_dhcp_client(struct owb_backend *b, bool start)
{
    char *flush[] = {"ip", "-4", "addr", "flush", "dev", (char *)(uintptr_t)b->cfg.iface, NULL};
    char host_opt[OWB_HOSTNAME_MAX + 16];

    if (!uses(b->cfg.dhcp_client))
        return;
    owb_spawn_stop(&W(b)->dhcp_client);
    if (owb_backend_run_ok(b, flush) != OWB_OK)
        fprintf(stderr, "owb-device: could not drop the old address of %s\n", b->cfg.iface);
    if (!start)
        return;
    /* Discover every second, forever, until the network answers; the
     * default script (Debian's udhcpc package, busybox elsewhere) sets the
     * address and the default route. */
    snprintf(host_opt, sizeof host_opt, "hostname:%s", W(b)->hostname);
    char *argv[] = {(char *)(uintptr_t)b->cfg.dhcp_client,
                    "-f",
                    "-i",
                    (char *)(uintptr_t)b->cfg.iface,
                    "-t",
                    "3",
                    "-T",
                    "1",
                    "-A",
                    "1",
                    W(b)->hostname[0] ? "-x" : NULL,
                    host_opt,
                    NULL};
    struct owb_spawn sp = {.argv = argv, .tool_dir = b->cfg.tool_dir};
    if (owb_spawn_start(&sp, &W(b)->dhcp_client) != OWB_OK)
        fprintf(stderr, "owb-device: cannot start %s\n", b->cfg.dhcp_client);
}

static bool has_network(const struct owb_saved_file *s)
{
    return s->data && memmem(s->data, s->len, "network={", 9);
}

static enum owb_err wpa_apply(struct owb_backend *b, const struct owb_wifi *w, const char *hostname)
{
    enum owb_err rc;

    snprintf(W(b)->hostname, sizeof W(b)->hostname, "%s", hostname ? hostname : "");
    rc = owb_saved_file_take(&W(b)->saved, b->cfg.wpa_config, CONFIG_MAX);
    if (rc != OWB_OK)
        return rc;
    rc = write_config(b, b->cfg.wpa_config, b->cfg.iface, w->ssid, w->ssid_len, w->security, w->psk,
                      w->hidden, false, true);
    restart_dhcp_client(b, rc == OWB_OK);
    return rc;
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

/* wpa_supplicant disables a network for a while after a handshake fails
 * (CTRL-EVENT-SSID-TEMP-DISABLED reason=WRONG_KEY or CONN_FAILED). */
static bool temp_disabled(struct owb_backend *b)
{
    char out[4096];
    int code = -1;
    char *argv[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "list_networks", NULL};

    return owb_backend_run(b, argv, NULL, out, sizeof out, &code) == OWB_OK && code == 0 &&
           strstr(out, "[TEMP-DISABLED]") != NULL;
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
    bool completed = strcmp(state, "COMPLETED") == 0;
    if (completed && ip[0])
        return OWB_JOIN_OK;
    if (!completed && temp_disabled(b))
        return OWB_JOIN_WRONG_PASSWORD;
    if (completed && uses(b->cfg.dhcp_client) && !owb_spawn_alive(W(b)->dhcp_client)) {
        W(b)->dhcp_client = -1; /* it exited (it never should): once more */
        restart_dhcp_client(b, true);
    }
    if (!final)
        return OWB_JOIN_PENDING;
    return completed ? OWB_JOIN_NO_IP : OWB_JOIN_WRONG_PASSWORD;
}

static enum owb_err wpa_rollback(struct owb_backend *b)
{
    struct owb_saved_file *saved = &W(b)->saved;
    bool taken = saved->taken, had_file, back_to_network = has_network(saved);
    enum owb_err rc = owb_saved_file_restore(saved, b->cfg.wpa_config, &had_file);

    if (rc == OWB_OK && taken)
        rc = reconfigure(b, b->cfg.iface);
    if (taken)
        restart_dhcp_client(b, rc == OWB_OK && back_to_network);
    return rc;
}

static enum owb_err start_dhcp_server(struct owb_backend *b)
{
    char conf[4096], path[4096], first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
    uint32_t net = ntohl(W(b)->ap_net.s_addr);
    struct in_addr a;
    enum owb_err rc;

    if (!uses(b->cfg.dhcp_server) || owb_spawn_alive(W(b)->dhcp_server))
        return OWB_OK;
    W(b)->dhcp_server = -1;
    if (mkdir(b->cfg.run_dir, 0700) != 0 && errno != EEXIST)
        return OWB_ERR_IO;
    a.s_addr = htonl(net | 100);
    inet_ntop(AF_INET, &a, first, sizeof first);
    a.s_addr = htonl(net | 199);
    inet_ntop(AF_INET, &a, last, sizeof last);
    /* No router and no DNS: the setup AP leads nowhere but to the agent. */
    snprintf(conf, sizeof conf,
             "interface %s\nstart %s\nend %s\nmax_leases 100\nauto_time 0\n"
             "lease_file %s/udhcpd.leases\npidfile %s/udhcpd.pid\n"
             "option subnet 255.255.255.0\noption lease 3600\n",
             b->cfg.ap_iface, first, last, b->cfg.run_dir, b->cfg.run_dir);
    snprintf(path, sizeof path, "%s/udhcpd.conf", b->cfg.run_dir);
    rc = owb_file_write_atomic(path, conf, strlen(conf), 0600, OWB_WRITE_REPLACE);
    if (rc != OWB_OK)
        return rc;
    char *argv[] = {(char *)(uintptr_t)b->cfg.dhcp_server, "-f", path, NULL};
    struct owb_spawn sp = {.argv = argv, .tool_dir = b->cfg.tool_dir};
    return owb_spawn_start(&sp, &W(b)->dhcp_server);
}

static enum owb_err wpa_ap_up(struct owb_backend *b, const char *ssid, const char *pass)
{
    char *addr[] = {"ip",      "addr",
                    "replace", (char *)(uintptr_t)b->cfg.ap_address,
                    "dev",     (char *)(uintptr_t)b->cfg.ap_iface,
                    NULL};
    enum owb_err rc = OWB_OK;

    /* The agent listens on this address (bound with IP_FREEBIND, so it
     * may start before the address exists); it stays when the AP is down. */
    if (uses(b->cfg.dhcp_server))
        rc = owb_backend_run_ok(b, addr);
    if (rc == OWB_OK)
        rc = write_config(b, b->cfg.wpa_ap_config, b->cfg.ap_iface, ssid, strlen(ssid),
                          OWB_SEC_WPA2_PSK, pass, false, true, true);
    if (rc == OWB_OK)
        rc = start_dhcp_server(b);
    return rc;
}

static enum owb_err wpa_ap_down(struct owb_backend *b)
{
    owb_spawn_stop(&W(b)->dhcp_server);
    return write_config(b, b->cfg.wpa_ap_config, b->cfg.ap_iface, "", 0, OWB_SEC_OPEN, "", false,
                        true, false);
}

/* wpa_cli prints an SSID escaped (printf_encode): \\ \" \e \n \r \t and
 * \xNN for every other byte outside 0x20-0x7e, so a UTF-8 SSID reads as
 * \xc3\xa9... Decodes into out (OWB_SSID_MAX bytes at most). */
bool owb_wpa_unescape(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t k = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (k >= OWB_SSID_MAX)
            return false;
        if (c != '\\') {
            out[k++] = (char)c;
            continue;
        }
        if (++i >= len)
            return false;
        switch (s[i]) {
        case '\\':
            out[k++] = '\\';
            break;
        case '"':
            out[k++] = '"';
            break;
        case 'e':
            out[k++] = '\033';
            break;
        case 'n':
            out[k++] = '\n';
            break;
        case 'r':
            out[k++] = '\r';
            break;
        case 't':
            out[k++] = '\t';
            break;
        case 'x': {
            uint8_t v;
            size_t got = 0;
            if (len - i < 3 || sodium_hex2bin(&v, 1, s + i + 1, 2, NULL, &got, NULL) != 0 ||
                got != 1)
                return false;
            out[k++] = (char)v;
            i += 2;
            break;
        }
        default:
            return false;
        }
    }
    out[k] = '\0';
    *out_len = k;
    return true;
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
    if (tabs == 4) {
        char ssid[OWB_SSID_MAX + 1];
        size_t k;
        if (owb_wpa_unescape(f, (size_t)(line + len - f), ssid, &k))
            owb_backend_add_ssid(ssids, n, ssid, k);
    }
}

/* `scan` only starts a scan (or says FAIL-BUSY while wpa_supplicant runs
 * its own, as it does right after reconfigure): the results are read
 * until there are some, within SCAN_WAIT_MS. */
static enum owb_err wpa_scan(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    int code = -1;
    char *scan[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "scan", NULL};
    char *results[] = {"wpa_cli", "-i", (char *)(uintptr_t)b->cfg.iface, "scan_results", NULL};
    enum owb_err rc;

    *n = 0;
    if (owb_backend_run(b, scan, NULL, NULL, 0, &code) != OWB_OK)
        return OWB_ERR_UNAVAILABLE;
    for (unsigned waited = 0;; waited += SCAN_POLL_MS) {
        rc = owb_backend_scan(b, results, NULL, wpa_scan_line, ssids, n);
        if (rc != OWB_OK || *n > 0 || waited >= SCAN_WAIT_MS)
            return rc;
        nanosleep(&(struct timespec){0, SCAN_POLL_MS * 1000000L}, NULL);
    }
}

static void wpa_resume(struct owb_backend *b)
{
    struct owb_saved_file cur = {0};

    if (owb_saved_file_take(&cur, b->cfg.wpa_config, CONFIG_MAX) == OWB_OK && has_network(&cur))
        restart_dhcp_client(b, true);
    owb_saved_file_drop(&cur);
}

static void wpa_destroy(struct owb_backend *b)
{
    owb_spawn_stop(&W(b)->dhcp_client);
    owb_spawn_stop(&W(b)->dhcp_server);
    owb_saved_file_drop(&W(b)->saved);
    free(b);
}

static const struct owb_backend_ops wpa_ops = {
    .name = "wpa_supplicant",
    .ap_with_station = true,
    .apply = wpa_apply,
    .check = wpa_check,
    .rollback = wpa_rollback,
    .ap_up = wpa_ap_up,
    .ap_down = wpa_ap_down,
    .scan = wpa_scan,
    .resume = wpa_resume,
    .destroy = wpa_destroy,
};

/* An interface name goes into udhcpd's config file: letters, digits, . _ - */
static bool iface_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
            !(s[i] >= '0' && s[i] <= '9') && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* "a.b.c.d/24" with d outside the pool .100-.199 the DHCP server hands out. */
enum owb_err owb_backend_ap_net(const char *cidr, struct in_addr *net)
{
    char addr[INET_ADDRSTRLEN];
    const char *slash = strchr(cidr, '/');
    struct in_addr a;

    if (!slash || (size_t)(slash - cidr) >= sizeof addr || strcmp(slash, "/24") != 0)
        return OWB_ERR_INVALID_ARG;
    memcpy(addr, cidr, (size_t)(slash - cidr));
    addr[slash - cidr] = '\0';
    if (inet_pton(AF_INET, addr, &a) != 1)
        return OWB_ERR_INVALID_ARG;
    uint32_t host = ntohl(a.s_addr) & 0xff;
    if (host == 0 || host == 255 || (host >= 100 && host <= 199))
        return OWB_ERR_INVALID_ARG;
    net->s_addr = htonl(ntohl(a.s_addr) & 0xffffff00u);
    return OWB_OK;
}

enum owb_err owb_backend_wpa_create(const struct owb_backend_config *cfg, struct owb_backend **out,
                                    char *diag)
{
    struct wpa_backend *b;
    struct in_addr net;

    if (!cfg->wpa_config || !cfg->wpa_ap_config || !cfg->iface || !cfg->ap_iface) {
        owb_diagf(diag, "the wpa_supplicant backend needs its config files and interfaces");
        return OWB_ERR_INVALID_ARG;
    }
    if (!iface_ok(cfg->iface) || !iface_ok(cfg->ap_iface)) {
        owb_diagf(diag, "an interface name is 1-15 letters, digits, '.', '_' or '-'");
        return OWB_ERR_INVALID_ARG;
    }
    if (!cfg->ap_address || owb_backend_ap_net(cfg->ap_address, &net) != OWB_OK) {
        owb_diagf(diag, "--ap-address takes A.B.C.D/24 with D outside 100-199 (the DHCP pool)");
        return OWB_ERR_INVALID_ARG;
    }
    if (uses(cfg->dhcp_server) && (!cfg->run_dir || cfg->run_dir[0] != '/')) {
        owb_diagf(diag, "--run-dir takes an absolute directory");
        return OWB_ERR_INVALID_ARG;
    }
    b = calloc(1, sizeof *b);
    if (!b)
        return OWB_ERR_NOMEM;
    b->base.ops = &wpa_ops;
    b->base.cfg = *cfg;
    b->dhcp_client = -1;
    b->dhcp_server = -1;
    b->ap_net = net;
    *out = &b->base;
    return OWB_OK;
}
