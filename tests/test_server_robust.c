/* owb-server under abuse on the shared fixture (tests/support/
 * server_fixture.h): malformed HTTP, rate limits, refused master keys,
 * SIGKILL in the middle of a burst and of an import, slow and hostile
 * clients, another process holding the database's locks, and a search of
 * the database's bytes for secrets. Built twice: against SQLite
 * (test_server_robust) and PostgreSQL (test_server_robust_pg). */
#include "server_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/json.h"
#include "hostile.h"

static void test_http_edges(void **state)
{
    (void)state;
    char u[512];
    struct t_resp r;
    struct t_opened o;
    size_t big = 17 * 1024;
    char *body = malloc(big + 1);

    /* A setup and its session, for the metrics and the log below. */
    t_issue_one("dev-0", F.dev[0].claim_code, &o);
    t_session_req(NULL, o.session, &r);
    t_expect(&r, 200, NULL);

    memset(body, 'a', big);
    body[big] = '\0';
    t_url(u, "/v1/setup/dev-0");
    t_http("POST", u, NULL, body, big, &r);
    t_expect(&r, 413, "\"error\":\"too_large\"");
    free(body);

    const struct {
        const char *method, *path, *body;
        long status;
        const char *code;
    } cases[] = {
        {"POST", "/v1/setup/dev-0", "{not json", 400, "bad_request"},
        {"POST", "/v1/setup/dev-0", "{\"claim\":1,\"app_key\":\"x\"}", 400, "bad_request"},
        {"POST", "/v1/setup/dev-0", "{\"a\":1,\"a\":2}", 400, "bad_request"},
        {"POST", "/v1/setup/nobody", "{\"claim\":\"x\",\"wifi\":\"x\"}", 404, "unknown_device"},
        {"POST", "/v1/setup/..%2f..%2fetc", "{}", 404, "unknown_device"},
        {"POST", "/v1/setup/dev-0%00x", "{}", 404, "unknown_device"},
        {"GET", "/v1/setup/dev-0", NULL, 405, "method_not_allowed"},
        {"POST", "/healthz", "", 405, "method_not_allowed"},
        {"GET", "/nope", NULL, 404, "not_found"},
        {"GET", "/v1/sessions/short", NULL, 404, "not_found"},
        {"POST", "/v1/devices/dev-0/checkin", "{\"counter\":-1}", 400, "bad_request"},
        /* Past 2^53 a number is not exact: malformed (it read as 2^53 and
         * failed the MAC, 401). */
        {"POST", "/v1/devices/dev-0/checkin",
         "{\"counter\":9007199254740993,\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\","
         "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
         400, "bad_request"},
        {"GET", "/s/bad%20id", NULL, 404, "not_found"},
        {"GET", "/s/assets/../../etc/passwd", NULL, 404, "not_found"},
        {"GET", "/s/assets/favicon.ico", NULL, 404, "not_found"},
        {"GET", "/v1/devices/bad%20id/setup-state", NULL, 404, "unknown_device"},
        {"POST", "/v1/devices/dev-0/setup-state", "{}", 405, "method_not_allowed"},
        {"GET", "/v1/devices/nobody/setup-state", NULL, 200, "\"known\":false"},
        {"GET", "/v1/devices/dev-0/setup-state", NULL, 200, "\"known\":true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_url(u, cases[i].path);
        t_http(cases[i].method, u, NULL, cases[i].body, cases[i].body ? strlen(cases[i].body) : 0,
               &r);
        if (r.status != cases[i].status || !strstr(r.body, cases[i].code))
            fail_msg("%s %s: %ld %s", cases[i].method, cases[i].path, r.status, r.body);
        t_resp_free(&r);
    }

    /* Two Content-Lengths that disagree (request smuggling): 400, from
     * the head. One repeated with the same value is fine. */
    t_url(u, "/v1/setup/dev-0");
    const char *two_cl[] = {"Content-Length: 5", NULL};
    t_http("POST", u, two_cl, "{}", 2, &r);
    t_expect(&r, 400, "bad_request");
    const char *same_cl[] = {"Content-Length: 2", NULL};
    t_http("POST", u, same_cl, "{}", 2, &r);
    assert_null(strstr(r.body, "disagree"));
    t_expect(&r, 400, NULL);

    t_url(u, "/healthz");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, NULL);
    t_url(u, "/s/dev-0");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, "/s/assets/setup.js");
    assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'"));
    t_url(u, "/s/assets/setup.js");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, NULL);
    assert_non_null(strstr(r.headers, "text/javascript"));
    /* The page for a code typed by hand, and the icon every page asks for. */
    t_url(u, "/setup");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, "/s/assets/setup.js");
    t_url(u, "/favicon.ico");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, NULL);
    assert_non_null(strstr(r.headers, "Content-Type: image/x-icon"));
    /* Not on the public listener; on its own. */
    t_url(u, "/metrics");
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 404, NULL);
    char *slog = t_log(&F.srv);
    const char *mp = strstr(slog, "(metrics port ");
    assert_non_null(mp);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/healthz", (unsigned)atoi(mp + 14));
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 404, NULL);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", (unsigned)atoi(mp + 14));
    free(slog);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "owb_bundles_issued_total{mode=\"server-sealed\"}"));
    assert_non_null(strstr(r.body, "owb_http_request_duration_seconds_bucket"));
    t_expect(&r, 200, "owb_http_requests_total{route=\"(too large)\",status=\"413\"}");

    /* The log names routes, never a session token or a claim. */
    char *log = t_log(&F.srv);
    assert_non_null(strstr(log, "POST /v1/setup/{id} 200"));
    assert_null(strstr(log, "/v1/sessions/A"));
    assert_null(strstr(log, o.session));
    for (int i = 0; i < T_N_DEV; i++)
        assert_null(strstr(log, F.dev[i].claim_code));
    free(log);
}

/* Empty POSTs to u: the first burst ones are answered (400), the next is
 * refused 429 with Retry-After. */
static void expect_burst(const char *u, int burst)
{
    struct t_resp r;

    for (int i = 0; i <= burst; i++) {
        t_http("POST", u, NULL, "{}", 2, &r);
        t_expect(&r, i < burst ? 400 : 429, i < burst ? NULL : "rate_limited");
    }
    assert_non_null(strstr(r.headers, "Retry-After: "));
}

static void test_rate_limit(void **state)
{
    (void)state;
    struct t_proc p;
    char u[512];
    struct t_resp r;

    t_start_server(&p, "ratelimited", "0.5");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/setup/nobody", p.port);
    expect_burst(u, 3);
    /* The setup page's look-up spends the setup budget: no faster way to
     * ask about devices. */
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/devices/dev-0/setup-state", p.port);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 429, "rate_limited");
    /* Check-ins have a budget of their own, per device: a flood of
     * check-ins for one device is slowed down, another device is not. */
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/devices/dev-0/checkin", p.port);
    expect_burst(u, 3);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/devices/dev-1/checkin", p.port);
    t_http("POST", u, NULL, "{}", 2, &r);
    t_expect(&r, 400, NULL);
    assert_int_equal(t_stop(&p, SIGINT), 0);
}

static void test_master_key_refusals(void **state)
{
    (void)state;
    char other[4096], out[4096];
    char *argv[T_ARGV_MAX];
    char *init_argv[] = {OWB_SERVER_BIN, "init", "--db", "/dev/null/x",
                         "--master-key", other,  NULL};

    /* A key that is not the database's. */
    snprintf(other, sizeof other, "%s/other.key", F.dir);
    t_admin_argv(argv, other, "serve", "--metrics-listen", "off", "--listen", "127.0.0.1:0", NULL);
    FILE *f = fopen(other, "w");
    uint8_t k[32];
    randombytes_buf(k, sizeof k);
    fwrite(k, 1, 32, f);
    fclose(f);
    chmod(other, 0600);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "not the key this database was created with"));

    /* A key readable by others. */
    chmod(other, 0644);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "readable or writable by group or others"));
    /* A key of the wrong size. */
    chmod(other, 0600);
    f = fopen(other, "a");
    fputc('x', f);
    fclose(f);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "must be exactly 32 bytes"));
    /* init never replaces a key file. */
    struct stat before, after;
    stat(other, &before);
    assert_int_not_equal(t_run(init_argv, NULL, out, sizeof out), 0);
    stat(other, &after);
    assert_int_equal(before.st_size, after.st_size);
}

struct burst {
    struct t_proc *p;
    _Atomic int answered;
    uint64_t counters[1000];
    char sessions[1000][T_SESSION_SIZE];
};

static void *burst_run(void *arg)
{
    struct burst *b = arg;
    uint8_t app_key[32];
    char body[512], u[512], hdr[256];
    const char *headers[] = {hdr, NULL};
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[1].claim_code, app_key);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/setup/dev-1", b->p->port);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    for (int i = 0; i < 1000; i++) {
        struct t_resp r;
        if (!t_http_try("POST", u, headers, body, strlen(body), &r))
            break;
        if (r.status == 200) {
            cJSON *o = NULL;
            if (owb_json_parse(r.body, r.len, &o) == OWB_OK &&
                owb_json_uint(o, "counter", &b->counters[b->answered]) == OWB_OK) {
                snprintf(b->sessions[b->answered], sizeof b->sessions[0], "%s",
                         owb_json_string(o, "session"));
                b->answered++;
            }
            cJSON_Delete(o);
        }
        t_resp_free(&r);
    }
    return NULL;
}

/* SIGKILL in the middle of a burst of setup requests: after a restart every
 * answered session is there with its counter, and no counter goes back. */
static void test_kill_mid_burst(void **state)
{
    (void)state;
    struct t_proc p;
    struct burst *b = calloc(1, sizeof *b);
    pthread_t t;
    char base[64];

    t_start_server(&p, "burst", "0");
    b->p = &p;
    pthread_create(&t, NULL, burst_run, b);
    t_wait_count(&b->answered, 40, "setups answered before the SIGKILL");
    assert_int_equal(t_stop(&p, SIGKILL), 128 + SIGKILL);
    pthread_join(t, NULL);
    t_start_server(&p, "burst-after", "0");
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    uint64_t max = 0;
    for (int i = 0; i < b->answered; i++) {
        struct t_resp r;
        t_session_req(base, b->sessions[i], &r);
        if (r.status != 200)
            fail_msg("answered session %d (counter %llu) lost after SIGKILL", i,
                     (unsigned long long)b->counters[i]);
        char want[64];
        snprintf(want, sizeof want, "\"counter\":%llu", (unsigned long long)b->counters[i]);
        assert_non_null(strstr(r.body, want));
        t_resp_free(&r);
        if (b->counters[i] > max)
            max = b->counters[i];
        if (i > 0)
            assert_true(b->counters[i] > b->counters[i - 1]);
    }
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", p.port);
    struct t_opened o;
    assert_true(t_issue_one("dev-1", F.dev[1].claim_code, &o) > max);
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    print_message("%d answered before SIGKILL; all present after restart\n", b->answered);
    t_stop(&p, SIGTERM);
    free(b);
}

/* SIGKILL during a large import: all of it or none of it. */
static void test_kill_mid_import(void **state)
{
    (void)state;
    enum { N = 200000 };
    char path[4096], out[4096];
    struct owb_record *recs = calloc(N, sizeof *recs);
    snprintf(path, sizeof path, "%s/bulk.jsonl", F.dir);
    for (int i = 0; i < N; i++) {
        snprintf(recs[i].device_id, sizeof recs[i].device_id, "bulk-%06d", i);
        randombytes_buf(recs[i].device_key, 32);
    }
    t_write_records(path, recs, N);
    free(recs);
    char *argv[T_ARGV_MAX];
    t_admin_argv(argv, NULL, "device", "import", path, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    nanosleep(&(struct timespec){0, 400 * 1000 * 1000}, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int first = t_admin(NULL, out, sizeof out, "device", "show", "bulk-000000", NULL);
    int final = t_admin(NULL, out, sizeof out, "device", "show", "bulk-199999", NULL);
    if (WIFSIGNALED(st))
        assert_int_equal(first, 1); /* killed: nothing of it */
    else
        assert_int_equal(first, final); /* it finished first: all of it */
    assert_int_equal(first, final);
    print_message("import %s\n",
                  WIFSIGNALED(st) ? "killed: none of it is there" : "finished before the kill");
}

/* Connections that send a header byte every half second: 300 from one
 * address (past the 256 slots: the per-address cap), then 320 from five
 * (64 each, the cap: eviction of the oldest). An honest client from
 * another address is still answered promptly. */
static void test_slowloris(void **state)
{
    (void)state;
    char u[512];
    int held;
    t_url(u, "/healthz");
    double worst = t_slowloris(F.srv.port, "127.0.0.2", 300, 6, 500, u, &held);
    print_message("300 slow connections from one address; honest client worst %.1f ms\n", worst);
    assert_true(worst < 1000);
    worst = t_slowloris(F.srv.port, "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6", 320, 6,
                        500, u, &held);
    print_message("320 slow connections from five; honest client worst %.1f ms\n", worst);
    assert_true(worst < 1000);
}

/* Ten thousand random requests (random methods, paths with "..", "%00"
 * and overlong ids, random headers, deep nesting, duplicate keys, NUL and
 * invalid UTF-8, lying Content-Lengths), then header floods: never a 5xx,
 * the honest client always served, and (under ASan) no leak at exit. */
static void test_hostile_requests(void **state)
{
    (void)state;
    static const char *const paths[] = {"/v1/setup/{id}",
                                        "/v1/setup/{id}",
                                        "/v1/devices/{id}/checkin",
                                        "/v1/sessions/{id}",
                                        "/s/{id}",
                                        "/s/assets/{id}",
                                        "/healthz",
                                        "/metrics",
                                        "/{id}",
                                        "/v1/{id}/{id}",
                                        "/v1/devices/{id}/setup-state",
                                        "/v1/devices/{id}/heartbeat"};
    int n = t_hostile_count();
    uint32_t seed = t_hostile_seed();
    struct t_hostile h;
    struct t_proc p;
    char u[512];

    t_start_server(&p, "hostile", "0");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/healthz", p.port);
    t_hostile_run(&(struct t_hostile_target){p.port, paths, (int)(sizeof paths / sizeof paths[0]),
                                             16 * 1024, u},
                  n, seed, &h);
    print_message("seed %u: %d requests in %.1f s, %d answered (2xx %d, 3xx %d, 4xx %d, 505 %d), "
                  "%d garbage lines cut off; honest client %d times, worst %.1f ms\n",
                  seed, h.requests, h.seconds, h.answered, h.by_status[2], h.by_status[3],
                  h.by_status[4], h.by_status[5], h.dropped, h.honest, h.honest_worst_ms);
    assert_int_equal(h.answered + h.dropped, h.requests);
    assert_true(h.by_status[4] > h.requests / 2); /* nearly all of it is refused */
    long sent = t_header_flood(p.port, 50, u);
    print_message("header floods: %ld header bytes sent over 53 connections\n", sent);
    /* Under ASan, LeakSanitizer runs at exit and fails it on a leak. */
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    assert_null(strstr(log, "ERROR: "));
    free(log);
}

/* Another process holding the database's write lock: a setup request
 * waits for it (up to --busy-timeout) and then succeeds; held past the
 * timeout, setup, check-in and a wrong claim are answered 503 with
 * Retry-After, never 500; released, the same request succeeds. */
static void test_lock_contention(void **state)
{
    (void)state;
    struct t_slow_setup a;
    struct t_proc p;
    struct t_resp r;
    char base[64], u[512], body[512];
    struct t_db *db;
    pthread_t t;

    t_serve(&p, "locked", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout", "400",
            NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    db = t_db_open();

    /* Held for 150 ms: the request waits and is answered 200. */
    a = (struct t_slow_setup){base, 0, 0};
    t_db_lock(db);
    pthread_create(&t, NULL, t_slow_setup_run, &a);
    nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
    t_db_sql(db, "COMMIT");
    pthread_join(t, NULL);
    print_message("lock held 150 ms: setup answered %ld after %.0f ms\n", a.status, a.ms);
    assert_int_equal(a.status, 200);

    /* Held past the 400 ms busy timeout: 503 + Retry-After everywhere. */
    struct t_opened o;
    uint64_t issued = t_issue_one("dev-0", F.dev[0].claim_code, &o);
    t_db_lock(db);
    a = (struct t_slow_setup){base, 0, 0};
    t_slow_setup_run(&a);
    print_message("lock held: setup answered %ld after %.0f ms\n", a.status, a.ms);
    assert_int_equal(a.status, 503);
    snprintf(body, sizeof body, "{\"claim\":\"WRONG-CLAIM\",\"app_key\":\"%s\"}",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    snprintf(u, sizeof u, "%s/v1/setup/dev-1", base);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 503, "\"error\":\"unavailable\"");
    assert_non_null(strstr(r.headers, "Retry-After: "));
    uint8_t nonce[16];
    randombytes_buf(nonce, sizeof nonce);
    t_checkin_body(body, sizeof body, &F.dev[0], issued, nonce, false);
    snprintf(u, sizeof u, "%s/v1/devices/dev-0/checkin", base);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 503, NULL);
    assert_non_null(strstr(r.headers, "Retry-After: 1"));
    /* Reads do not need the write lock. */
    snprintf(u, sizeof u, "%s/s/dev-0", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, NULL);
    t_db_sql(db, "ROLLBACK");

    a = (struct t_slow_setup){base, 0, 0};
    t_slow_setup_run(&a);
    assert_int_equal(a.status, 200);
    t_db_close(db);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    free(log);
}

/* The write lock held far past the busy timeout (SQLite: by another
 * process, as a long `device import` holds it; PostgreSQL: the rows a
 * setup writes), by more clients than worker threads, with an idle
 * timeout shorter than the busy timeout and the connection limit near:
 * every request is answered within the busy timeout and a margin of its
 * own arrival, a write 503 with Retry-After; /readyz says 503 while
 * SQLite's lock is held (PostgreSQL's database still answers: 200, but for
 * a request that waited out its bound for a thread), and 200 and a setup
 * 200 once it is released. */
static void test_bound_under_lock(void **state)
{
    (void)state;
    struct t_slow_setup a;
    struct t_bound b;
    struct t_proc p;
    char base[64];
    struct t_db *db;

    t_serve(&p, "bound", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout", "1500",
            "--timeout", "1", "--threads", "4", "--max-connections", "40", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    assert_int_equal(t_readyz(base), 200);
    db = t_db_open();
    t_db_lock(db);
    t_bound_start(&b, base, 30, 1500 + 500);
    t_bound_wait(&b, 4);
    t_bound_stop(&b);
    t_db_sql(db, "ROLLBACK");
    t_db_close(db);
    t_bound_check(&b, &p);
    assert_true(b.sum.unavailable > 0);
#ifdef OWB_TEST_PG
    assert_true(b.sum.ready_200 > 0); /* the database answers */
#else
    assert_true(b.sum.ready_503 > 0);
    assert_int_equal(b.sum.ready_200, 0);
#endif
    assert_int_equal(t_readyz(base), 200);
    a = (struct t_slow_setup){base, 0, 0};
    t_slow_setup_run(&a);
    assert_int_equal(a.status, 200);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    free(log);
}

/* Liveness and the page never wait behind the database: with the only
 * handler thread held by a setup that waits for a locked store, /healthz
 * and the setup page are answered while that setup is still waiting
 * (before, they queued behind it until its bound ran out). */
static void test_inline_routes(void **state)
{
    (void)state;
    struct t_slow_setup a;
    struct t_proc p;
    struct t_resp r;
    pthread_t th;
    char base[64], u[128];
    struct t_db *db;

    t_serve(&p, "inline", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout", "20000",
            "--threads", "1", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    db = t_db_open();
    t_db_lock(db);
    a = (struct t_slow_setup){base, 0, 0};
    assert_int_equal(pthread_create(&th, NULL, t_slow_setup_run, &a), 0);
    snprintf(u, sizeof u, "%s/healthz", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, "\"status\":\"ok\"");
    snprintf(u, sizeof u, "%s/s/dev-0", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, "<html");
    snprintf(u, sizeof u, "%s/nowhere", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 404, "not_found");
    /* The setup is still waiting for the store: nothing above queued behind it. */
    assert_int_equal(__atomic_load_n(&a.status, __ATOMIC_SEQ_CST), 0);
    t_db_sql(db, "ROLLBACK");
    t_db_close(db);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.status, 200);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
}

static size_t scanned_files, scanned_bytes;
static bool pk_public_seen;

/* One file the server's database is in: no key, T_PSK, claim or token. */
static int scan_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    size_t len = 0;
    char *data;
    (void)ftw;

    if (type != FTW_F || sb->st_size == 0)
        return 0;
    data = t_read_file(path, &len);
    scanned_files++;
    scanned_bytes += len;
    for (int i = 0; i < T_N_DEV; i++) {
        char hex[65], b64[64];
        sodium_bin2hex(hex, sizeof hex, F.dev[i].device_key, 32);
        owb_b64_encode(F.dev[i].device_key, 32, b64, sizeof b64);
        if (memmem(data, len, F.dev[i].device_key, 32) || memmem(data, len, hex, 64) ||
            memmem(data, len, b64, strlen(b64)) || memmem(data, len, F.dev[i].claim_code, 16))
            fail_msg("%s holds dev-%d's key or claim code", path, i);
    }
    if (memmem(data, len, T_PSK, strlen(T_PSK)) || memmem(data, len, "horse", 5) ||
        memmem(data, len, F.token, strlen(F.token)))
        fail_msg("%s holds the PSK or the installer token", path);
    /* The pk device: neither its secret key (seed) in any form nor its AP
     * passphrase in clear. */
    if (F.pk_ap[0]) {
        char hex[129], b64[90];
        sodium_bin2hex(hex, sizeof hex, F.pk_sk, 32);
        owb_b64_encode(F.pk_sk, 64, b64, sizeof b64);
        if (memmem(data, len, F.pk_sk, 32) || memmem(data, len, hex, 64) ||
            memmem(data, len, b64, 40) || memmem(data, len, F.pk_ap, OWB_AP_PASSPHRASE_LEN) ||
            memmem(data, len, F.pk_claim, 16))
            fail_msg("%s holds the pk device's secret key, AP passphrase or claim", path);
        if (memmem(data, len, F.pk_pk, 32))
            pk_public_seen = true;
    }
    free(data);
    return 0;
}

/* Every byte of the database: for SQLite its file and WAL, for PostgreSQL
 * the whole cluster directory (tables, indexes, WAL). */
static void test_no_secret_in_database(void **state)
{
    (void)state;
    char body[512], u[512];
    uint8_t app_key[32], nonce[16];
    struct t_opened o;
    struct t_resp r;

    /* What puts secrets within the server's reach, so that the search
     * finds them if they were written: a check-in, a pk device set up. */
    t_pk_device_add();
    t_issue_one("dev-0", F.dev[0].claim_code, &o);
    randombytes_buf(nonce, sizeof nonce);
    t_checkin_body(body, sizeof body, &F.dev[0], o.counter, nonce, false);
    t_url(u, "/v1/devices/dev-0/checkin");
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 200, NULL);
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    t_setup_req("pk-0", body, F.token, &r);
    t_expect(&r, 200, NULL);

#ifdef OWB_TEST_PG
    t_pg_exec(&F.pg, "CHECKPOINT");
    assert_int_equal(nftw(F.pg.dir, scan_file, 16, FTW_PHYS), 0);
#else
    const char *files[] = {"owb.db", "owb.db-wal"};
    for (size_t fi = 0; fi < 2; fi++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", F.dir, files[fi]);
        if (stat(path, &st) == 0)
            scan_file(path, &st, FTW_F, NULL);
    }
    struct stat st;
    assert_int_equal(stat(F.db, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
#endif
    print_message("%zu files, %zu bytes searched\n", scanned_files, scanned_bytes);
    assert_true(scanned_bytes > 0);
    /* What the pk device's row does hold: its public key (so the search
     * looked where the rows are). */
    assert_true(pk_public_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_edges),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_master_key_refusals),
        cmocka_unit_test(test_kill_mid_burst),
        cmocka_unit_test(test_kill_mid_import),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_hostile_requests),
        cmocka_unit_test(test_lock_contention),
        cmocka_unit_test(test_bound_under_lock),
        cmocka_unit_test(test_inline_routes),
        cmocka_unit_test(test_no_secret_in_database),
    };
    return T_WORLD_RUN(tests);
}
