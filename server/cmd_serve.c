/* owb-server serve: the HTTP API and the setup page. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "retention.h"

#define PROG "owb-server serve"

struct serve_opts {
    struct owb_app_config cfg;
    const char *public_url, *metrics_listen, *retention;
    int64_t retention_s;
    unsigned sync; /* index in "normal|full" */
};

static const struct owb_opt serve_opts[] = {
    {.name = "listen",
     .short_name = 'l',
     .type = OWB_OPT_STR,
     .off = offsetof(struct serve_opts, cfg.listen),
     .arg = "ADDR:PORT",
     .help = "address to listen on (default 127.0.0.1:8080)"},
    OWB_OPT_STR_("metrics-listen", "ADDR:PORT", struct serve_opts, metrics_listen,
                 "where GET /metrics is served, apart from the public listener (default "
                 "127.0.0.1:9464; off)"),
    OWB_OPT_STR_("public-url", "URL", struct serve_opts, public_url,
                 "base URL clients reach this server at, used in setup and check-in URLs "
                 "(default http://LISTEN)"),
    OWB_OPT_STR_("device-ap-url", "URL", struct serve_opts, cfg.device_ap_url,
                 "the device agent's address on its setup AP (default http://192.168.3.1/)"),
    OWB_OPT_UINT_("threads", "N", struct serve_opts, cfg.threads, 1, 256,
                  "HTTP worker threads (default 4 per CPU, 4 to 16; a thread waits for its "
                  "commit, and more of them commit together, but each holds a PostgreSQL "
                  "backend)"),
    OWB_OPT_UINT_("max-connections", "N", struct serve_opts, cfg.conn_limit, 1, 65536,
                  "open connections at most (default 256); past 7/8 of them the oldest is "
                  "closed, so a new client finds room"),
    OWB_OPT_UINT_("max-per-address", "N", struct serve_opts, cfg.per_ip_limit, 0, 65536,
                  "open connections per client address (default 64; 0 = no cap, behind a proxy "
                  "that caps per client)"),
    OWB_OPT_UINT_("timeout", "S", struct serve_opts, cfg.timeout_s, 1, 3600,
                  "idle connection timeout in seconds (default 10)"),
    OWB_OPT_DOUBLE_("rate-limit", "R", struct serve_opts, cfg.rate, 0, 1e9,
                    "setup requests per second per client address (default 1; 0 turns the "
                    "limit off)"),
    OWB_OPT_DOUBLE_("rate-burst", "B", struct serve_opts, cfg.burst, 1, 1e9,
                    "requests allowed in a burst (default 10)"),
    OWB_OPT_DOUBLE_("checkin-rate", "R", struct serve_opts, cfg.checkin_rate, 0, 1e9,
                    "check-ins per second per device (default 1; 0 turns the limit off)"),
    OWB_OPT_DOUBLE_("checkin-burst", "B", struct serve_opts, cfg.checkin_burst, 1, 1e9,
                    "check-ins allowed in a burst (default 5)"),
    OWB_OPT_UINT_("claim-max-failures", "N", struct serve_opts, cfg.claim_max, 0, 1000000,
                  "claim attempts per device, and wrong claims per client address, within the "
                  "window (default 10); past it the device takes one try per delay, the delay "
                  "doubling from 2 s to 60 s (0 = no limit)"),
    OWB_OPT_UINT_("claim-window", "S", struct serve_opts, cfg.claim_window_s, 1, 86400 * 365,
                  "seconds an attempt counts (default 3600)"),
    OWB_OPT_STR_("retention", "PERIOD", struct serve_opts, retention,
                 "how long sessions and check-in nonces are kept: " OWB_RETENTION_FORMS
                 "; pruned in the background (default " OWB_RETENTION_DEFAULT
                 "; 0 = never); each device's newest session stays"),
    OWB_OPT_UINT_("heartbeat", "S", struct serve_opts, cfg.heartbeat_s, 1, 86400,
                  "the heartbeat interval devices are asked for (default 900); a device heard "
                  "within two of them is online. Stored in the database for 'device list'"),
    OWB_OPT_CHOICE_("sync", "normal|full", struct serve_opts, sync,
                    "SQLite: normal (default) waits for the disk only to reserve counters "
                    "ahead, a few seconds at a time; full waits at every commit"),
    OWB_OPT_FLAG_("quiet", struct serve_opts, cfg.quiet, "no per-request log lines"),
};

/* Handler threads: on PostgreSQL each holds a backend, and more backends
 * than the CPUs can run preempt each other while they hold its locks
 * (check-ins on 2 CPUs: 16 threads 9 000/s with p99 16-25 ms, 8 threads
 * 11 300/s with p99 9 ms); SQLite setups were the same either way. */
static unsigned default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus <= 1 ? 4 : cpus >= 4 ? 16 : (unsigned)cpus * 4;
}

/* glibc hands freed heap above its trim threshold (128 KiB at first) back
 * to the kernel, and a setup frees more than that: under load every few
 * requests paid for an madvise and the TLB shootdown it sends to every
 * CPU (5% of a setup's time in perf), then faulted the pages in again.
 * Kept up to this much, app-sealed setups went from 6 700 to 9 800/s on 2
 * cores; the heap stays at its peak, which the soak bench watches. */
static void keep_freed_heap(void)
{
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

/* Options into so and o; OWB_CLI_RUN when serving may start. */
static int parse_options(int argc, char **argv, struct serve_opts *so, struct cli_db *o)
{
    const struct owb_opt_group groups[] = {{serve_opts, OWB_ARRAY_LEN(serve_opts), so},
                                           cli_db_group(o, CLI_DB_KEYS)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[options]",
                                .about = "Serves the provisioning API and the setup page.\n",
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    int ret;

    cli_db_defaults(o);
    *so = (struct serve_opts){.cfg = {.listen = "127.0.0.1:8080",
                                      .device_ap_url = "http://192.168.3.1/",
                                      .threads = default_threads(),
                                      .conn_limit = 256,
                                      .per_ip_limit = 64,
                                      .timeout_s = 10,
                                      .rate = 1,
                                      .burst = 10,
                                      .checkin_rate = 1,
                                      .checkin_burst = 5,
                                      .claim_max = 10,
                                      .claim_window_s = 3600,
                                      .heartbeat_s = 900},
                              .metrics_listen = "127.0.0.1:9464",
                              .retention = OWB_RETENTION_DEFAULT};
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (so->public_url && !owb_base_url_valid(so->public_url))
        return owb_cli_usage_error(PROG,
                                   "--public-url must be an http or https URL of at most %d "
                                   "bytes",
                                   OWB_BASE_URL_MAX);
    if (!owb_listen_valid(so->cfg.listen))
        return owb_cli_usage_error(PROG, "--listen takes " OWB_LISTEN_FORMS "; not '%s'",
                                   so->cfg.listen);
    if (strcmp(so->metrics_listen, "off") != 0 && !owb_listen_valid(so->metrics_listen))
        return owb_cli_usage_error(PROG,
                                   "--metrics-listen takes off or " OWB_LISTEN_FORMS "; not '%s'",
                                   so->metrics_listen);
    if (!owb_http_url_valid(so->cfg.device_ap_url, strlen(so->cfg.device_ap_url)))
        return owb_cli_usage_error(PROG, "--device-ap-url must be an http or https URL");
    if (!owb_retention_parse(so->retention, &so->retention_s))
        return owb_cli_usage_error(PROG, "--retention takes " OWB_RETENTION_FORMS "; not '%s'",
                                   so->retention);
    return OWB_CLI_RUN;
}

/* The pk suite's signing key: false when a named one cannot be loaded. */
static bool load_signing(struct cli_db *o, struct owb_app *app)
{
    char diag[OWB_DIAG_SIZE];
    const char *path = owb_signing_path(
        o->signing_key, owb_master_path(o->master_key, o->master_buf, sizeof o->master_buf),
        o->signing_buf, sizeof o->signing_buf);
    bool named = (o->signing_key && *o->signing_key) || getenv("OWB_SIGNING_KEY_FILE");
    enum owb_err rc = owb_signing_load(path, &app->signing, diag);

    /* A server made before the pk suite has no key file: it serves its
     * symmetric devices, and says why it cannot serve pk ones. */
    if (rc == OWB_ERR_NOENT && !named) {
        fprintf(stderr,
                "owb-server: no signing key (%s): pk devices cannot be set up; "
                "'owb-server init' makes one\n",
                path);
        return true;
    }
    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: signing key: %s\n", diag);
    return rc == OWB_OK;
}

/* The admin commands ('device list', 'rollout status') tell online from
 * stale by the interval the server asks for: it is kept in the meta
 * table, the last started instance's. */
static bool store_heartbeat(struct owb_app *app)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%u", app->cfg.heartbeat_s);
    enum owb_err rc =
        app->store->ops->meta_put(app->store, OWB_META_HEARTBEAT, (const uint8_t *)text, (size_t)n);

    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: cannot store the heartbeat interval: %s\n", owb_strerror(rc));
    return rc == OWB_OK;
}

static bool make_limits(struct owb_app *app)
{
    const struct owb_app_config *c = &app->cfg;

    app->metrics = owb_metrics_new();
    if (c->rate > 0)
        app->rl = owb_ratelimit_new(OWB_SERVER_RATELIMIT_SLOTS, c->rate, c->burst);
    if (c->checkin_rate > 0)
        app->checkin_rl =
            owb_ratelimit_new(OWB_SERVER_RATELIMIT_SLOTS, c->checkin_rate, c->checkin_burst);
    if (c->claim_max)
        app->claim_rl = owb_ratelimit_new(OWB_SERVER_RATELIMIT_SLOTS,
                                          (double)c->claim_max / c->claim_window_s, c->claim_max);
    if (!app->metrics || (c->rate > 0 && !app->rl) || (c->checkin_rate > 0 && !app->checkin_rl) ||
        (c->claim_max && !app->claim_rl)) {
        fprintf(stderr, "owb-server: out of memory\n");
        return false;
    }
    return true;
}

static bool start_public(struct owb_app *app, struct owb_httpd **httpd)
{
    struct owb_httpd_options hopt = {0};

    hopt.listen = app->cfg.listen;
    hopt.body_max = OWB_SERVER_BODY_MAX;
    /* --threads handle requests; a few threads read and write sockets,
     * never held up by a handler that waits for the database. */
    hopt.workers = app->cfg.threads;
    hopt.precheck = owb_app_precheck;
    hopt.threads = app->cfg.threads < 4 ? app->cfg.threads : 4;
    hopt.conn_limit = app->cfg.conn_limit;
    /* One address cannot hold every slot; several cannot either: past 7/8
     * of the slots the oldest connection goes. */
    hopt.per_ip_limit = app->cfg.per_ip_limit;
    hopt.evict_at = app->cfg.conn_limit - app->cfg.conn_limit / 8;
    hopt.timeout_s = app->cfg.timeout_s;
    hopt.handler = owb_app_handle;
    hopt.done = owb_app_done;
    hopt.ctx = app;
    if (owb_httpd_start(&hopt, httpd) != OWB_OK) {
        fprintf(stderr, "owb-server: cannot listen on %s: %s\n", app->cfg.listen,
                errno ? strerror(errno) : "bad address (use ADDR:PORT)");
        return false;
    }
    return true;
}

static bool start_metrics(struct owb_app *app, const char *listen, struct owb_httpd **httpd)
{
    struct owb_httpd_options mopt = {.listen = listen,
                                     .body_max = 1024,
                                     .threads = 1,
                                     .conn_limit = 16,
                                     .timeout_s = 10,
                                     .handler = owb_app_handle_metrics,
                                     .ctx = app};

    if (strcmp(listen, "off") == 0)
        return true;
    if (owb_httpd_start(&mopt, httpd) != OWB_OK) {
        fprintf(stderr, "owb-server: cannot listen on %s for metrics: %s (--metrics-listen)\n",
                listen, errno ? strerror(errno) : "bad address (use ADDR:PORT)");
        return false;
    }
    fprintf(stderr, "owb-server: metrics on %s (metrics port %u)\n", listen,
            owb_httpd_port(*httpd));
    return true;
}

/* A URL's or a listening address's host part names this machine only. */
static bool loopback_host(const char *host, size_t len)
{
    return (len == 9 && strncmp(host, "localhost", 9) == 0) ||
           (len >= 4 && strncmp(host, "127.", 4) == 0) ||
           (len == 5 && strncmp(host, "[::1]", 5) == 0) ||
           (len == 3 && strncmp(host, "::1", 3) == 0);
}

/* The check-in URL inside every bundle is the public URL: one naming this
 * machine's loopback while phones and devices reach the server from
 * elsewhere sends every device's check-in to the device itself. */
static void warn_public_url(const struct owb_app_config *c, bool given)
{
    const char *colon = strrchr(c->listen, ':');
    size_t lhost = colon ? (size_t)(colon - c->listen) : 0;
    const char *host = strstr(c->public_url, "://");
    size_t phost;

    host = host ? host + 3 : c->public_url;
    phost = strcspn(host, host[0] == '[' ? "]" : ":/");
    phost += host[0] == '[' && host[phost] == ']';
    if (given && loopback_host(host, phost) && !loopback_host(c->listen, lhost))
        fprintf(stderr,
                "owb-server: warning: --public-url %s names this machine's loopback while it "
                "listens on %s: devices would send their check-ins to themselves\n",
                c->public_url, c->listen);
    else if (!given && !loopback_host(c->listen, lhost))
        fprintf(stderr,
                "owb-server: warning: no --public-url: bundles tell devices to check in at %s; "
                "set --public-url to the address phones and devices use\n",
                c->public_url);
}

/* --public-url, or the listening address with the port actually bound;
 * without a trailing slash. */
static void set_public_url(struct owb_app_config *c, const char *public_url, unsigned port)
{
    if (public_url) {
        snprintf(c->public_url, sizeof c->public_url, "%s", public_url);
    } else {
        const char *colon = strrchr(c->listen, ':');
        snprintf(c->public_url, sizeof c->public_url, "http://%.*s:%u", (int)(colon - c->listen),
                 c->listen, port);
    }
    for (size_t n = strlen(c->public_url); n > 0 && c->public_url[n - 1] == '/'; n--)
        c->public_url[n - 1] = '\0';
}

/* Signals are taken by sigwait; every thread started later inherits the
 * mask. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A full file system shows up as an error to handle, not a signal. */
    signal(SIGXFSZ, SIG_IGN);
}

static void free_app(struct owb_app *app)
{
    owb_ratelimit_free(app->rl);
    owb_ratelimit_free(app->checkin_rl);
    owb_ratelimit_free(app->claim_rl);
    owb_metrics_free(app->metrics);
    owb_signing_free(app->signing);
}

int cmd_serve_main(int argc, char **argv)
{
    struct serve_opts so;
    struct cli_db o;
    struct owb_srv srv = {0};
    struct owb_app app = {0};
    struct owb_httpd *httpd = NULL, *metrics_httpd = NULL;
    struct owb_retention *retention = NULL;
    sigset_t set;
    int sig = 0, ret;

    if ((ret = parse_options(argc, argv, &so, &o)) != OWB_CLI_RUN)
        return ret;
    ret = OWB_EXIT_FAIL;
    app.cfg = so.cfg;
    keep_freed_heap();
    block_signals(&set);
    o.serving = true;
    if (cli_open(&o, false, app.cfg.threads + 1, so.sync == 1, &srv) != OWB_OK)
        return OWB_EXIT_FAIL;
    app.store = srv.store;
    app.master = srv.master;
    if (!store_heartbeat(&app) || !load_signing(&o, &app) || !make_limits(&app) ||
        !start_public(&app, &httpd) || !start_metrics(&app, so.metrics_listen, &metrics_httpd))
        goto out;
    if (so.retention_s > 0 &&
        owb_retention_start(app.store, app.metrics, so.retention_s, &retention) != OWB_OK) {
        fprintf(stderr, "owb-server: cannot start the pruning thread\n");
        goto out;
    }
    set_public_url(&app.cfg, so.public_url, owb_httpd_port(httpd));
    warn_public_url(&app.cfg, so.public_url != NULL);
    fprintf(stderr, "owb-server: listening on %s (port %u), public URL %s\n", app.cfg.listen,
            owb_httpd_port(httpd), app.cfg.public_url);
    fflush(stderr);

    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "owb-server: %s received, finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    owb_httpd_stop(httpd, 5000);
    httpd = NULL;
    owb_httpd_stop(metrics_httpd, 0);
    metrics_httpd = NULL;
    ret = OWB_EXIT_OK;
out:
    owb_httpd_stop(httpd, 0);
    owb_httpd_stop(metrics_httpd, 0);
    owb_retention_stop(retention);
    free_app(&app);
    cli_close(&srv);
    return ret;
}
