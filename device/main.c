/* owb-device: the agent on the device. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "owb/cli.h"
#include "owb/mem.h"

#define PROG "owb-device"

struct device_opts {
    struct owb_agent_config cfg;
    unsigned backend_timeout_s;
    bool version;
};

static const struct owb_opt device_opts[] = {
    OWB_OPT_STR_("key-file", "FILE", struct device_opts, cfg.key_file,
                 "device key file (default /etc/owb/device.key)"),
    OWB_OPT_STR_("state-dir", "DIR", struct device_opts, cfg.state_dir,
                 "replay counter and state; must survive power loss and factory reset (default "
                 "/etc/owb/state)"),
    OWB_OPT_STR_("state-hook", "PROG", struct device_opts, cfg.state_hook,
                 "after each write to the state dir run PROG save DIR FILE and wait; a failure "
                 "fails the write (the OpenWRT package copies the state to flash this way)"),
    {.name = "listen",
     .short_name = 'l',
     .type = OWB_OPT_STR,
     .off = offsetof(struct device_opts, cfg.listen),
     .arg = "ADDR:PORT",
     .help = "(default 192.168.3.1:80, the setup AP address)"},
    OWB_OPT_STR_("wifi-backend", "NAME", struct device_opts, cfg.backend,
                 "uci (default), wpa_supplicant, nmcli or command"),
    OWB_OPT_STR_("wifi-command", "PROG", struct device_opts, cfg.backend_cfg.command,
                 "the program of the command backend"),
    OWB_OPT_STR_("tool-dir", "DIR", struct device_opts, cfg.backend_cfg.tool_dir,
                 "look for uci, wifi, ubus, iwinfo, wpa_cli, nmcli here first"),
    OWB_OPT_UINT_("join-timeout", "S", struct device_opts, cfg.join_timeout_s, 1, 3600,
                  "seconds to wait for the join (default 60)"),
    OWB_OPT_UINT_("setup-window", "S", struct device_opts, cfg.setup_window_s, 0, 86400 * 365,
                  "seconds setup mode stays open (default 1800; 0 = no limit)"),
    OWB_OPT_UINT_("checkin-timeout", "S", struct device_opts, cfg.checkin_timeout_s, 0, 86400,
                  "seconds to keep trying to check in (default 120)"),
    OWB_OPT_UINT_("backend-timeout", "S", struct device_opts, backend_timeout_s, 1, 3600,
                  "a backend program running longer is killed (default 30)"),
    OWB_OPT_STR_("iface", "IF", struct device_opts, cfg.backend_cfg.iface,
                 "station interface (default wlan0; uci: apcli0)"),
    OWB_OPT_STR_("ap-iface", "IF", struct device_opts, cfg.backend_cfg.ap_iface,
                 "setup-AP interface (default wlan1)"),
    OWB_OPT_STR_("uci-sta", "SECTION", struct device_opts, cfg.backend_cfg.uci_sta,
                 "uci station section (default sta)"),
    OWB_OPT_STR_("uci-ap", "SECTION", struct device_opts, cfg.backend_cfg.uci_ap,
                 "uci setup-AP section (default ap)"),
    OWB_OPT_STR_("uci-network", "NAME", struct device_opts, cfg.backend_cfg.uci_net,
                 "network interface to watch with ubus (default wwan)"),
    OWB_OPT_STR_("wpa-config", "FILE", struct device_opts, cfg.backend_cfg.wpa_config,
                 "(default /etc/wpa_supplicant/wpa_supplicant.conf)"),
    OWB_OPT_STR_("wpa-ap-config", "FILE", struct device_opts, cfg.backend_cfg.wpa_ap_config,
                 "(default /etc/wpa_supplicant/owb-setup-ap.conf)"),
    OWB_OPT_STR_("nm-dir", "DIR", struct device_opts, cfg.backend_cfg.nm_dir,
                 "(default /etc/NetworkManager/system-connections)"),
    OWB_OPT_STR_(
        "ap-address", "A.B.C.D/24", struct device_opts, cfg.backend_cfg.ap_address,
        "the setup AP's address (default 192.168.3.1/24; wpa_supplicant and nmcli set it, the "
        "phone gets .100-.199)"),
    OWB_OPT_STR_(
        "dhcp-client", "PROG", struct device_opts, cfg.backend_cfg.dhcp_client,
        "wpa_supplicant: the station's DHCP client, udhcpc (default) or none when the system "
        "runs its own"),
    OWB_OPT_STR_(
        "dhcp-server", "PROG", struct device_opts, cfg.backend_cfg.dhcp_server,
        "wpa_supplicant: the setup AP's DHCP server, udhcpd (default) or none when the system "
        "runs its own"),
    OWB_OPT_STR_("run-dir", "DIR", struct device_opts, cfg.backend_cfg.run_dir,
                 "the DHCP server's config and leases (default /run/owb)"),
    OWB_OPT_STR_("https-helper", "PROG", struct device_opts, cfg.https_helper,
                 "posts https check-ins and heartbeats: curl (default), or uclient-fetch "
                 "(check-ins only: it drops the body of a heartbeat's 409)"),
    OWB_OPT_UINT_("heartbeat", "S", struct device_opts, cfg.heartbeat_s, 0, 86400,
                  "seconds between heartbeats once provisioned, each wait 0.75 S to 1.25 S "
                  "(default 900; 0 = none)"),
    OWB_OPT_UINT_("fail-cap", "N", struct device_opts, cfg.fail_cap, 0, 1000000,
                  "failed provisions per minute before 429 (default 20; 0 = no cap)"),
    OWB_OPT_FLAG_("quiet", struct device_opts, cfg.quiet, "no per-request log lines"),
    OWB_OPT_FLAG_("version", struct device_opts, version, "print the version"),
};

static void log_request(void *ctx, const struct owb_http_request *req,
                        const struct owb_http_response *resp, double ms)
{
    struct owb_agent *a = ctx;
    if (!a->cfg.quiet)
        fprintf(stderr, "owb-device: %s %s %s %d %.2fms\n", req->client_addr, req->method,
                resp->route ? resp->route : "", resp->status, ms);
}

/* Options into cfg; OWB_CLI_RUN when the agent may start. */
static int parse_options(int argc, char **argv, struct owb_agent_config *cfg)
{
    struct device_opts o = {
        .cfg = {.key_file = "/etc/owb/device.key",
                .state_dir = "/etc/owb/state",
                .listen = "192.168.3.1:80",
                .backend = "uci",
                .join_timeout_s = 60,
                .setup_window_s = 1800,
                .checkin_timeout_s = 120,
                .heartbeat_s = 900,
                .fail_cap = 20,
                .backend_cfg = {.ap_iface = "wlan1",
                                .uci_sta = "sta",
                                .uci_ap = "ap",
                                .uci_net = "wwan",
                                .wpa_config = "/etc/wpa_supplicant/wpa_supplicant.conf",
                                .wpa_ap_config = "/etc/wpa_supplicant/owb-setup-ap.conf",
                                .nm_dir = "/etc/NetworkManager/system-connections",
                                .ap_address = "192.168.3.1/24",
                                .dhcp_client = "udhcpc",
                                .dhcp_server = "udhcpd",
                                .run_dir = "/run/owb"}},
        .backend_timeout_s = 30};
    const struct owb_opt_group groups[] = {{device_opts, OWB_ARRAY_LEN(device_opts), &o}};
    const struct owb_cli cli = {
        .prog = PROG,
        .usage = "[options]",
        .about = "The device agent: serves the hand-off page and POST /v1/provision on the\n"
                 "setup access point, applies a bundle's Wi-Fi settings, checks in.\n"
                 "SIGUSR1 opens setup mode for another window (the setup button).\n",
        .groups = groups,
        .n_groups = OWB_ARRAY_LEN(groups)};
    int ret;

    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (o.version) {
        printf("owb-device %s\n", OWB_VERSION);
        return OWB_EXIT_OK;
    }
    if (!owb_listen_valid(o.cfg.listen))
        return owb_cli_usage_error(PROG, "--listen takes " OWB_LISTEN_FORMS "; not '%s'",
                                   o.cfg.listen);
    if (!o.cfg.backend_cfg.iface)
        o.cfg.backend_cfg.iface = strcmp(o.cfg.backend, "uci") == 0 ? "apcli0" : "wlan0";
    o.cfg.backend_cfg.timeout_ms = o.backend_timeout_s * 1000;
    *cfg = o.cfg;
    return OWB_CLI_RUN;
}

/* Signals are taken by sigtimedwait; every thread started later inherits
 * the mask. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A full file system shows up as an error to handle, not a signal. */
    signal(SIGXFSZ, SIG_IGN);
}

/* The worker, and the HTTP server on the setup AP's address. */
static bool start_agent(struct owb_agent *a, struct owb_httpd **httpd)
{
    struct owb_httpd_options hopt = {0};

    hopt.listen = a->cfg.listen;
    hopt.body_max = OWB_DEVICE_BODY_MAX;
    hopt.threads = 1;
    hopt.conn_limit = 32;
    hopt.per_ip_limit = 8;
    /* Slow clients from several addresses cannot take every slot: past 24
     * open connections the oldest goes. */
    hopt.evict_at = 24;
    hopt.timeout_s = 10;
    hopt.handler = owb_agent_handle;
    hopt.precheck = owb_agent_precheck;
    hopt.done = log_request;
    hopt.ctx = a;
    /* The setup AP's address may not exist yet (the backend sets it when
     * setup mode opens, and a provisioned device may start without it). */
    hopt.freebind = true;
    if (owb_agent_start(a) != OWB_OK) {
        fprintf(stderr, "owb-device: cannot start the worker\n");
        return false;
    }
    if (owb_httpd_start(&hopt, httpd) != OWB_OK) {
        fprintf(stderr, "owb-device: cannot listen on %s: %s\n", a->cfg.listen,
                errno ? strerror(errno) : "bad address (use ADDR:PORT)");
        return false;
    }
    pthread_mutex_lock(&a->mu);
    a->port = owb_httpd_port(*httpd);
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: %s listening on %s (port %u), counter %llu, backend %s\n",
            a->kf->device_id, a->cfg.listen, owb_httpd_port(*httpd), (unsigned long long)a->counter,
            a->cfg.backend);
    fflush(stderr);
    return true;
}

/* Until SIGTERM or SIGINT: SIGUSR1 opens setup mode, and once a second
 * the agent's timers run. */
static void run(struct owb_agent *a, const sigset_t *set)
{
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGUSR1)
            owb_agent_open_setup(a);
        owb_agent_tick(a);
    }
    fprintf(stderr, "owb-device: stopping\n");
}

int main(int argc, char **argv)
{
    struct owb_agent_config cfg;
    struct owb_agent *a = NULL;
    struct owb_httpd *httpd = NULL;
    char diag[OWB_DIAG_SIZE];
    sigset_t set;
    int ret;

    if ((ret = parse_options(argc, argv, &cfg)) != OWB_CLI_RUN)
        return ret;
    a = calloc(1, sizeof *a);
    if (!a)
        return OWB_EXIT_FAIL;
    umask(077);
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "owb-device: libsodium failed to start\n");
        free(a);
        return OWB_EXIT_FAIL;
    }
    block_signals(&set);
    ret = OWB_EXIT_FAIL;
    if (owb_agent_init(a, &cfg, diag) != OWB_OK) {
        fprintf(stderr, "owb-device: %s\n", diag);
        goto out;
    }
    if (!start_agent(a, &httpd))
        goto out;
    run(a, &set);
    ret = OWB_EXIT_OK;
out:
    owb_httpd_stop(httpd, 2000);
    owb_agent_destroy(a);
    free(a);
    return ret;
}
