/* owb-server serve: the HTTP API and the setup page. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "commands.h"

static const char serve_help[] =
    "Usage: owb-server serve [options]\n"
    "Serves the provisioning API and the setup page.\n\n"
    "  --listen ADDR:PORT        address to listen on (default 127.0.0.1:8080)\n"
    "  --metrics-listen ADDR:PORT  where GET /metrics is served, apart from the\n"
    "                            public listener (default 127.0.0.1:9464; off)\n"
    "  --public-url URL          base URL clients reach this server at, used in\n"
    "                            setup and check-in URLs (default http://LISTEN)\n"
    "  --device-ap-url URL       the device agent's address on its setup AP\n"
    "                            (default http://192.168.3.1/)\n"
    "  --threads N               HTTP worker threads (default 16; a thread waits\n"
    "                            for its commit, and more of them commit together)\n"
    "  --max-connections N       open connections at most (default 256); past 7/8 of\n"
    "                            them the oldest is closed, so a new client finds room\n"
    "  --max-per-address N       open connections per client address (default 64;\n"
    "                            0 = no cap, behind a proxy that caps per client)\n"
    "  --timeout S               idle connection timeout in seconds (default 10)\n"
    "  --rate-limit R            setup requests per second per client address\n"
    "                            (default 1; 0 turns the limit off)\n"
    "  --rate-burst B            requests allowed in a burst (default 10)\n"
    "  --checkin-rate R          check-ins per second per device (default 1;\n"
    "                            0 turns the limit off)\n"
    "  --checkin-burst B         check-ins allowed in a burst (default 5)\n"
    "  --claim-max-failures N    claim attempts per device, and wrong claims per\n"
    "                            client address, within the window (default 10);\n"
    "                            past it the device takes one try per delay, the\n"
    "                            delay doubling from 2 s to 60 s (0 = no limit)\n"
    "  --claim-window S          seconds an attempt counts (default 3600)\n"
    "  --sync full|normal        SQLite synchronous setting (default full)\n"
    "  --quiet                   no per-request log lines\n" CLI_DB_HELP;

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e9)
        return false;
    *out = v;
    return true;
}

int cmd_serve_main(int argc, char **argv)
{
    enum {
        O_PUBLIC = 256,
        O_METRICS,
        O_AP,
        O_THREADS,
        O_MAXC,
        O_MAXIP,
        O_TIMEOUT,
        O_RATE,
        O_BURST,
        O_CRATE,
        O_CBURST,
        O_CMAX,
        O_CWIN,
        O_SYNC,
        O_QUIET
    };
    static const struct option opts[] = {CLI_DB_OPTIONS,
                                         {"listen", required_argument, NULL, 'l'},
                                         {"public-url", required_argument, NULL, O_PUBLIC},
                                         {"metrics-listen", required_argument, NULL, O_METRICS},
                                         {"device-ap-url", required_argument, NULL, O_AP},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"max-connections", required_argument, NULL, O_MAXC},
                                         {"max-per-address", required_argument, NULL, O_MAXIP},
                                         {"timeout", required_argument, NULL, O_TIMEOUT},
                                         {"rate-limit", required_argument, NULL, O_RATE},
                                         {"rate-burst", required_argument, NULL, O_BURST},
                                         {"checkin-rate", required_argument, NULL, O_CRATE},
                                         {"checkin-burst", required_argument, NULL, O_CBURST},
                                         {"claim-max-failures", required_argument, NULL, O_CMAX},
                                         {"claim-window", required_argument, NULL, O_CWIN},
                                         {"sync", required_argument, NULL, O_SYNC},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {NULL, 0, NULL, 0}};
    struct cli_db o;
    struct owb_srv srv = {0};
    struct owb_app app = {0};
    struct owb_httpd *httpd = NULL;
    struct owb_httpd_options hopt = {0};
    const char *public_url = NULL, *metrics_listen = "127.0.0.1:9464";
    struct owb_httpd *metrics_httpd = NULL;
    unsigned long v;
    bool sync_full = true;
    sigset_t set;
    int c, sig = 0, ret = 1;

    cli_db_defaults(&o);
    app.cfg.listen = "127.0.0.1:8080";
    app.cfg.device_ap_url = "http://192.168.3.1/";
    app.cfg.threads = 16;
    app.cfg.conn_limit = 256;
    app.cfg.per_ip_limit = 64;
    app.cfg.timeout_s = 10;
    app.cfg.rate = 1;
    app.cfg.burst = 10;
    app.cfg.checkin_rate = 1;
    app.cfg.checkin_burst = 5;
    app.cfg.claim_max = 10;
    app.cfg.claim_window_s = 3600;
    while ((c = getopt_long(argc, argv, "hl:", opts, NULL)) != -1) {
        if (cli_db_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'h':
            fputs(serve_help, stdout);
            return 0;
        case 'l':
            app.cfg.listen = optarg;
            break;
        case O_PUBLIC:
            public_url = optarg;
            break;
        case O_METRICS:
            metrics_listen = optarg;
            break;
        case O_AP:
            app.cfg.device_ap_url = optarg;
            break;
        case O_THREADS:
            if (!parse_uint(optarg, 256, &v) || v == 0)
                return cli_usage_error("serve", "--threads takes 1-256");
            app.cfg.threads = (unsigned)v;
            break;
        case O_MAXC:
            if (!parse_uint(optarg, 65536, &v) || v == 0)
                return cli_usage_error("serve", "--max-connections takes 1-65536");
            app.cfg.conn_limit = (unsigned)v;
            break;
        case O_MAXIP:
            if (!parse_uint(optarg, 65536, &v))
                return cli_usage_error("serve", "--max-per-address takes 0-65536");
            app.cfg.per_ip_limit = (unsigned)v;
            break;
        case O_TIMEOUT:
            if (!parse_uint(optarg, 3600, &v) || v == 0)
                return cli_usage_error("serve", "--timeout takes 1-3600 seconds");
            app.cfg.timeout_s = (unsigned)v;
            break;
        case O_RATE:
            if (!parse_double(optarg, &app.cfg.rate))
                return cli_usage_error("serve", "--rate-limit takes a number >= 0");
            break;
        case O_BURST:
            if (!parse_double(optarg, &app.cfg.burst) || app.cfg.burst < 1)
                return cli_usage_error("serve", "--rate-burst takes a number >= 1");
            break;
        case O_CRATE:
            if (!parse_double(optarg, &app.cfg.checkin_rate))
                return cli_usage_error("serve", "--checkin-rate takes a number >= 0");
            break;
        case O_CBURST:
            if (!parse_double(optarg, &app.cfg.checkin_burst) || app.cfg.checkin_burst < 1)
                return cli_usage_error("serve", "--checkin-burst takes a number >= 1");
            break;
        case O_CMAX:
            if (!parse_uint(optarg, 1000000, &v))
                return cli_usage_error("serve", "--claim-max-failures takes a whole number");
            app.cfg.claim_max = (unsigned)v;
            break;
        case O_CWIN:
            if (!parse_uint(optarg, 86400 * 365, &v) || v == 0)
                return cli_usage_error("serve", "--claim-window takes seconds >= 1");
            app.cfg.claim_window_s = (unsigned)v;
            break;
        case O_SYNC:
            if (strcmp(optarg, "full") && strcmp(optarg, "normal"))
                return cli_usage_error("serve", "--sync takes full or normal");
            sync_full = strcmp(optarg, "full") == 0;
            break;
        case O_QUIET:
            app.cfg.quiet = true;
            break;
        default:
            return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    /* The check-in URL built from it must stay within the protocol's 512 bytes. */
    if (public_url && (!owb_http_url_valid(public_url, strlen(public_url)) ||
                       strlen(public_url) > OWB_URL_MAX - 64))
        return cli_usage_error("serve",
                               "--public-url must be an http or https URL of at most %d "
                               "bytes",
                               OWB_URL_MAX - 64);
    if (!owb_http_url_valid(app.cfg.device_ap_url, strlen(app.cfg.device_ap_url)))
        return cli_usage_error("serve", "--device-ap-url must be an http or https URL");

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A full file system shows up as an error to handle, not a signal. */
    signal(SIGXFSZ, SIG_IGN);

    o.serving = true;
    if (cli_open(&o, false, app.cfg.threads + 1, sync_full, &srv) != OWB_OK)
        return 1;
    app.store = srv.store;
    app.master = srv.master;
    {
        char diag[OWB_DIAG_SIZE];
        const char *path = owb_signing_path(
            o.signing_key, owb_master_path(o.master_key, o.master_buf, sizeof o.master_buf),
            o.signing_buf, sizeof o.signing_buf);
        bool named = (o.signing_key && *o.signing_key) || getenv("OWB_SIGNING_KEY_FILE");
        enum owb_err rc = owb_signing_load(path, &app.signing, diag);
        /* A server made before the pk suite has no key file: it serves its
         * symmetric devices, and says why it cannot serve pk ones. */
        if (rc == OWB_ERR_NOENT && !named) {
            fprintf(stderr,
                    "owb-server: no signing key (%s): pk devices cannot be set up; "
                    "'owb-server init' makes one\n",
                    path);
        } else if (rc != OWB_OK) {
            fprintf(stderr, "owb-server: signing key: %s\n", diag);
            goto out;
        }
    }
    app.metrics = owb_metrics_new();
    if (app.cfg.rate > 0)
        app.rl = owb_ratelimit_new(app.cfg.rate, app.cfg.burst);
    if (app.cfg.checkin_rate > 0)
        app.checkin_rl = owb_ratelimit_new(app.cfg.checkin_rate, app.cfg.checkin_burst);
    if (app.cfg.claim_max)
        app.claim_rl = owb_ratelimit_new((double)app.cfg.claim_max / app.cfg.claim_window_s,
                                         app.cfg.claim_max);
    if (!app.metrics || (app.cfg.rate > 0 && !app.rl) ||
        (app.cfg.checkin_rate > 0 && !app.checkin_rl) || (app.cfg.claim_max && !app.claim_rl)) {
        fprintf(stderr, "owb-server: out of memory\n");
        goto out;
    }
    hopt.listen = app.cfg.listen;
    hopt.body_max = OWB_SERVER_BODY_MAX;
    hopt.threads = app.cfg.threads;
    hopt.conn_limit = app.cfg.conn_limit;
    /* One address cannot hold every slot; several cannot either: past 7/8
     * of the slots the oldest connection goes. */
    hopt.per_ip_limit = app.cfg.per_ip_limit;
    hopt.evict_at = app.cfg.conn_limit - app.cfg.conn_limit / 8;
    hopt.timeout_s = app.cfg.timeout_s;
    hopt.handler = owb_app_handle;
    hopt.done = owb_app_done;
    hopt.ctx = &app;
    if (owb_httpd_start(&hopt, &httpd) != OWB_OK) {
        fprintf(stderr, "owb-server: cannot listen on %s: %s\n", app.cfg.listen,
                errno ? strerror(errno) : "bad address (use ADDR:PORT)");
        goto out;
    }
    if (strcmp(metrics_listen, "off") != 0) {
        struct owb_httpd_options mopt = {.listen = metrics_listen, .body_max = 1024, .threads = 1,
                                         .conn_limit = 16, .timeout_s = 10,
                                         .handler = owb_app_handle_metrics, .ctx = &app};
        if (owb_httpd_start(&mopt, &metrics_httpd) != OWB_OK) {
            fprintf(stderr, "owb-server: cannot listen on %s for metrics: %s (--metrics-listen)\n",
                    metrics_listen, errno ? strerror(errno) : "bad address (use ADDR:PORT)");
            goto out;
        }
        fprintf(stderr, "owb-server: metrics on %s (metrics port %u)\n", metrics_listen,
                owb_httpd_port(metrics_httpd));
    }
    if (public_url) {
        snprintf(app.cfg.public_url, sizeof app.cfg.public_url, "%s", public_url);
    } else {
        /* Listening address with the port actually bound. */
        const char *colon = strrchr(app.cfg.listen, ':');
        snprintf(app.cfg.public_url, sizeof app.cfg.public_url, "http://%.*s:%u",
                 (int)(colon - app.cfg.listen), app.cfg.listen, owb_httpd_port(httpd));
    }
    for (size_t n = strlen(app.cfg.public_url); n > 0 && app.cfg.public_url[n - 1] == '/'; n--)
        app.cfg.public_url[n - 1] = '\0';
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
    ret = 0;
out:
    owb_httpd_stop(httpd, 0);
    owb_httpd_stop(metrics_httpd, 0);
    owb_ratelimit_free(app.rl);
    owb_ratelimit_free(app.checkin_rl);
    owb_ratelimit_free(app.claim_rl);
    owb_metrics_free(app.metrics);
    owb_signing_free(app.signing);
    cli_close(&srv);
    return ret;
}
