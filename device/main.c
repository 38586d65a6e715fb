/* owb-device: the agent on the device. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "owb/mem.h"

static const char help[] =
    "Usage: owb-device [options]\n"
    "The device agent: serves the hand-off page and POST /v1/provision on the\n"
    "setup access point, applies a bundle's Wi-Fi settings, checks in.\n\n"
    "  --key-file FILE        device key file (default /etc/owb/device.key)\n"
    "  --state-dir DIR        replay counter and state; must survive power loss\n"
    "                         and factory reset (default /etc/owb/state)\n"
    "  --state-hook PROG      after each write to the state dir run PROG save DIR\n"
    "                         FILE and wait; a failure fails the write (the\n"
    "                         OpenWRT package copies the state to flash this way)\n"
    "  --listen ADDR:PORT     (default 192.168.3.1:80, the setup AP address)\n"
    "  --wifi-backend NAME    uci (default), wpa_supplicant, nmcli or command\n"
    "  --wifi-command PROG    the program of the command backend\n"
    "  --tool-dir DIR         look for uci, wifi, ubus, iwinfo, wpa_cli, nmcli here first\n"
    "  --join-timeout S       seconds to wait for the join (default 60)\n"
    "  --setup-window S       seconds setup mode stays open (default 1800; 0 = no limit)\n"
    "  --checkin-timeout S    seconds to keep trying to check in (default 120)\n"
    "  --backend-timeout S    a backend program running longer is killed (default 30)\n"
    "  --iface IF             station interface (default wlan0; uci: apcli0)\n"
    "  --ap-iface IF          setup-AP interface (default wlan1)\n"
    "  --uci-sta SECTION      uci station section (default sta)\n"
    "  --uci-ap SECTION       uci setup-AP section (default ap)\n"
    "  --uci-network NAME     network interface to watch with ubus (default wwan)\n"
    "  --wpa-config FILE      (default /etc/wpa_supplicant/wpa_supplicant.conf)\n"
    "  --wpa-ap-config FILE   (default /etc/wpa_supplicant/owb-setup-ap.conf)\n"
    "  --nm-dir DIR           (default /etc/NetworkManager/system-connections)\n"
    "  --ap-address A.B.C.D/24  the setup AP's address (default 192.168.3.1/24;\n"
    "                         wpa_supplicant and nmcli set it, the phone gets .100-.199)\n"
    "  --dhcp-client PROG     wpa_supplicant: the station's DHCP client, udhcpc\n"
    "                         (default) or none when the system runs its own\n"
    "  --dhcp-server PROG     wpa_supplicant: the setup AP's DHCP server, udhcpd\n"
    "                         (default) or none when the system runs its own\n"
    "  --run-dir DIR          the DHCP server's config and leases (default /run/owb)\n"
    "  --https-helper PROG    posts https check-ins: curl (default) or uclient-fetch\n"
    "  --fail-cap N           failed provisions per minute before 429 (default 20)\n"
    "  --quiet                no per-request log lines\n"
    "  -h, --help             this help;  --version  the version\n"
    "SIGUSR1 opens setup mode for another window (the setup button).\n";

static bool parse_secs(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static void log_request(void *ctx, const struct owb_http_request *req,
                        const struct owb_http_response *resp, double ms)
{
    struct owb_agent *a = ctx;
    if (!a->cfg.quiet)
        fprintf(stderr, "owb-device: %s %s %s %d %.2fms\n", req->client_addr, req->method,
                resp->route ? resp->route : "", resp->status, ms);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "owb-device: %s\nTry 'owb-device --help'.\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    enum { O_KEY = 256, O_STATE, O_BACKEND, O_CMD, O_TOOLS, O_JOIN, O_WINDOW, O_CHECKIN,
           O_BTIMEOUT, O_IFACE, O_APIFACE, O_UCISTA, O_UCIAP, O_UCINET, O_WPA, O_WPAAP, O_NM,
           O_HTTPS, O_FAILCAP, O_QUIET, O_VERSION, O_APADDR, O_DHCPC, O_DHCPD, O_RUNDIR, O_HOOK };
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, O_KEY},
        {"state-dir", required_argument, NULL, O_STATE},
        {"state-hook", required_argument, NULL, O_HOOK},
        {"listen", required_argument, NULL, 'l'},
        {"wifi-backend", required_argument, NULL, O_BACKEND},
        {"wifi-command", required_argument, NULL, O_CMD},
        {"tool-dir", required_argument, NULL, O_TOOLS},
        {"join-timeout", required_argument, NULL, O_JOIN},
        {"setup-window", required_argument, NULL, O_WINDOW},
        {"checkin-timeout", required_argument, NULL, O_CHECKIN},
        {"backend-timeout", required_argument, NULL, O_BTIMEOUT},
        {"iface", required_argument, NULL, O_IFACE},
        {"ap-iface", required_argument, NULL, O_APIFACE},
        {"uci-sta", required_argument, NULL, O_UCISTA},
        {"uci-ap", required_argument, NULL, O_UCIAP},
        {"uci-network", required_argument, NULL, O_UCINET},
        {"wpa-config", required_argument, NULL, O_WPA},
        {"wpa-ap-config", required_argument, NULL, O_WPAAP},
        {"nm-dir", required_argument, NULL, O_NM},
        {"https-helper", required_argument, NULL, O_HTTPS},
        {"ap-address", required_argument, NULL, O_APADDR},
        {"dhcp-client", required_argument, NULL, O_DHCPC},
        {"dhcp-server", required_argument, NULL, O_DHCPD},
        {"run-dir", required_argument, NULL, O_RUNDIR},
        {"fail-cap", required_argument, NULL, O_FAILCAP},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    struct owb_agent_config cfg = {
        .key_file = "/etc/owb/device.key",
        .state_dir = "/etc/owb/state",
        .listen = "192.168.3.1:80",
        .backend = "uci",
        .join_timeout_s = 60,
        .setup_window_s = 1800,
        .checkin_timeout_s = 120,
        .fail_cap = 20,
        .backend_cfg = {.timeout_ms = 30000, .ap_iface = "wlan1", .uci_sta = "sta",
                        .uci_ap = "ap", .uci_net = "wwan",
                        .wpa_config = "/etc/wpa_supplicant/wpa_supplicant.conf",
                        .wpa_ap_config = "/etc/wpa_supplicant/owb-setup-ap.conf",
                        .nm_dir = "/etc/NetworkManager/system-connections",
                        .ap_address = "192.168.3.1/24", .dhcp_client = "udhcpc",
                        .dhcp_server = "udhcpd", .run_dir = "/run/owb"},
    };
    struct owb_agent *a = NULL;
    struct owb_httpd *httpd = NULL;
    struct owb_httpd_options hopt = {0};
    char diag[OWB_DIAG_SIZE];
    unsigned secs;
    sigset_t set;
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, "hl:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case O_VERSION:
            printf("owb-device %s\n", OWB_VERSION);
            return 0;
        case O_KEY: cfg.key_file = optarg; break;
        case O_STATE: cfg.state_dir = optarg; break;
        case O_HOOK: cfg.state_hook = optarg; break;
        case 'l': cfg.listen = optarg; break;
        case O_BACKEND: cfg.backend = optarg; break;
        case O_CMD: cfg.backend_cfg.command = optarg; break;
        case O_TOOLS: cfg.backend_cfg.tool_dir = optarg; break;
        case O_IFACE: cfg.backend_cfg.iface = optarg; break;
        case O_APIFACE: cfg.backend_cfg.ap_iface = optarg; break;
        case O_UCISTA: cfg.backend_cfg.uci_sta = optarg; break;
        case O_UCIAP: cfg.backend_cfg.uci_ap = optarg; break;
        case O_UCINET: cfg.backend_cfg.uci_net = optarg; break;
        case O_WPA: cfg.backend_cfg.wpa_config = optarg; break;
        case O_WPAAP: cfg.backend_cfg.wpa_ap_config = optarg; break;
        case O_NM: cfg.backend_cfg.nm_dir = optarg; break;
        case O_HTTPS: cfg.https_helper = optarg; break;
        case O_APADDR: cfg.backend_cfg.ap_address = optarg; break;
        case O_DHCPC: cfg.backend_cfg.dhcp_client = optarg; break;
        case O_DHCPD: cfg.backend_cfg.dhcp_server = optarg; break;
        case O_RUNDIR: cfg.backend_cfg.run_dir = optarg; break;
        case O_QUIET: cfg.quiet = true; break;
        case O_JOIN:
            if (!parse_secs(optarg, 3600, &cfg.join_timeout_s) || !cfg.join_timeout_s)
                return usage_error("--join-timeout takes 1-3600 seconds");
            break;
        case O_WINDOW:
            if (!parse_secs(optarg, 86400 * 365, &cfg.setup_window_s))
                return usage_error("--setup-window takes seconds (0 = no limit)");
            break;
        case O_CHECKIN:
            if (!parse_secs(optarg, 86400, &cfg.checkin_timeout_s))
                return usage_error("--checkin-timeout takes seconds");
            break;
        case O_BTIMEOUT:
            if (!parse_secs(optarg, 3600, &secs) || !secs)
                return usage_error("--backend-timeout takes 1-3600 seconds");
            cfg.backend_cfg.timeout_ms = secs * 1000;
            break;
        case O_FAILCAP:
            if (!parse_secs(optarg, 1000000, &cfg.fail_cap))
                return usage_error("--fail-cap takes a whole number (0 = no cap)");
            break;
        default:
            return usage_error("unknown option");
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument");
    if (!cfg.backend_cfg.iface)
        cfg.backend_cfg.iface = strcmp(cfg.backend, "uci") == 0 ? "apcli0" : "wlan0";

    a = calloc(1, sizeof *a);
    if (!a)
        return 1;
    umask(077);
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "owb-device: libsodium failed to start\n");
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A full file system shows up as an error to handle, not a signal. */
    signal(SIGXFSZ, SIG_IGN);

    if (owb_agent_init(a, &cfg, diag) != OWB_OK) {
        fprintf(stderr, "owb-device: %s\n", diag);
        goto out;
    }
    hopt.listen = cfg.listen;
    hopt.body_max = OWB_DEVICE_BODY_MAX;
    hopt.threads = 1;
    hopt.conn_limit = 32;
    hopt.per_ip_limit = 8;
    /* Slow clients from several addresses cannot take every slot: past 24
     * open connections the oldest goes. */
    hopt.evict_at = 24;
    hopt.timeout_s = 10;
    hopt.handler = owb_agent_handle;
    hopt.done = log_request;
    hopt.ctx = a;
    /* The setup AP's address may not exist yet (the backend sets it when
     * setup mode opens, and a provisioned device may start without it). */
    hopt.freebind = true;
    if (owb_agent_start(a) != OWB_OK) {
        fprintf(stderr, "owb-device: cannot start the worker\n");
        goto out;
    }
    if (owb_httpd_start(&hopt, &httpd) != OWB_OK) {
        fprintf(stderr, "owb-device: cannot listen on %s: %s\n", cfg.listen,
                errno ? strerror(errno) : "bad address (use ADDR:PORT)");
        goto out;
    }
    pthread_mutex_lock(&a->mu);
    a->port = owb_httpd_port(httpd);
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: %s listening on %s (port %u), counter %llu, backend %s\n",
            a->kf->device_id, cfg.listen, owb_httpd_port(httpd), (unsigned long long)a->counter,
            cfg.backend);
    fflush(stderr);

    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGUSR1)
            owb_agent_open_setup(a);
        owb_agent_tick(a);
    }
    fprintf(stderr, "owb-device: stopping\n");
    ret = 0;
out:
    owb_httpd_stop(httpd, 2000);
    owb_agent_destroy(a);
    free(a);
    return ret;
}
