/* What only PostgreSQL has, on the shared fixture (tests/support/
 * server_fixture.h, built with OWB_TEST_PG): several instances on one
 * database, the database going away under a running server, two
 * instances initialising one database at once. */
#include "server_fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "owb/json.h"

enum { PG_BURST = 600 };

/* One client of a burst: setups for one device through one instance. */
struct pg_client {
    const char *base;
    int dev;
    int n;
    bool may_lose; /* its instance is killed during the burst */
    _Atomic int answered;
    uint64_t counters[PG_BURST];
    char sessions[PG_BURST][T_SESSION_SIZE];
};

static void *pg_client_run(void *arg)
{
    struct pg_client *c = arg;
    t_setup_series(c->base, c->dev, c->n, c->may_lose, &c->answered, c->counters, c->sessions);
    return NULL;
}

/* Every answered bundle: its session is there (asked of base), and per
 * device the counters are all distinct. */
static void pg_check_clients(struct pg_client *c, int n, const char *base)
{
    for (int dev = 0; dev < 2; dev++) {
        uint64_t *all = calloc((size_t)n * PG_BURST, sizeof *all);
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            if (c[i].dev != dev)
                continue;
            for (int j = 0; j < c[i].answered; j++) {
                struct t_resp r;
                if (j > 0)
                    assert_true(c[i].counters[j] > c[i].counters[j - 1]);
                all[k++] = c[i].counters[j];
                t_session_req(base, c[i].sessions[j], &r);
                if (r.status != 200)
                    fail_msg("answered session of dev-%d (counter %llu) missing", dev,
                             (unsigned long long)c[i].counters[j]);
                t_resp_free(&r);
            }
        }
        qsort(all, k, sizeof *all, t_cmp_u64);
        for (size_t i = 1; i < k; i++)
            assert_true(all[i] > all[i - 1]);
        free(all);
    }
}

/* Two instances on one database, 2 x 500 setups for the same two devices
 * at once: every counter distinct and increasing, every session there.
 * Then one instance is SIGKILLed in the middle of a burst: the other
 * answers every one of its own requests, and what the killed one answered
 * is there too. */
static void test_pg_two_instances(void **state)
{
    (void)state;
    enum { CLIENTS = 8 };
    struct t_proc a, b;
    struct pg_client *c = calloc(CLIENTS, sizeof *c);
    pthread_t t[CLIENTS];
    char base_a[64], base_b[64];

    t_start_server(&a, "pg-a", "0");
    t_start_server(&b, "pg-b", "0");
    snprintf(base_a, sizeof base_a, "http://127.0.0.1:%u", a.port);
    snprintf(base_b, sizeof base_b, "http://127.0.0.1:%u", b.port);
    for (int i = 0; i < CLIENTS; i++) {
        c[i].base = i % 2 ? base_b : base_a;
        c[i].dev = (i / 2) % 2;
        c[i].n = 125;
        pthread_create(&t[i], NULL, pg_client_run, &c[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    pg_check_clients(c, CLIENTS, base_b);
    print_message("2 instances x 500 setups for 2 devices: counters distinct, sessions present\n");

    memset(c, 0, CLIENTS * sizeof *c);
    for (int i = 0; i < CLIENTS; i++) {
        c[i].base = i % 2 ? base_b : base_a;
        c[i].dev = (i / 2) % 2;
        c[i].n = 150;
        c[i].may_lose = c[i].base == base_a;
        pthread_create(&t[i], NULL, pg_client_run, &c[i]);
    }
    while (c[0].answered + c[2].answered < 60)
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    assert_int_equal(t_stop(&a, SIGKILL), 128 + SIGKILL);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < CLIENTS; i += 2)
        assert_int_equal(c[i].answered, 150); /* instance b served all of its own */
    pg_check_clients(c, CLIENTS, base_b);
    print_message("instance a killed after %d answers; b answered all %d of its own\n",
                  c[0].answered + c[2].answered + c[4].answered + c[6].answered, 4 * 150);
    t_stop(&b, SIGTERM);
    free(c);
}

/* PostgreSQL goes away under a running server: requests are answered 503
 * with Retry-After within the time-outs, never left hanging; when it is
 * back, the server reconnects by itself. */
static void test_pg_connection_loss(void **state)
{
    (void)state;
    struct t_slow_setup s;
    struct t_proc p;
    char base[64];

    t_serve(&p, "pg-loss", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout", "1000",
            NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    s = (struct t_slow_setup){base, 0, 0};
    t_slow_setup_run(&s);
    assert_int_equal(s.status, 200);

    t_pg_pause(&F.pg);
    for (int i = 0; i < 3; i++) {
        s = (struct t_slow_setup){base, 0, 0};
        t_slow_setup_run(&s);
        print_message("database down: setup answered %ld after %.0f ms\n", s.status, s.ms);
        assert_int_equal(s.status, 503);
        assert_true(s.ms < 15000);
    }
    struct t_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/healthz", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, NULL);
    assert_int_equal(t_readyz(base), 503); /* alive, but not ready */

    t_pg_resume(&F.pg);
    s = (struct t_slow_setup){base, 0, 0};
    t_slow_setup_run(&s);
    print_message("database back: setup answered %ld after %.0f ms\n", s.status, s.ms);
    assert_int_equal(s.status, 200);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    free(log);
}

/* One server-sealed setup of dev-<dev> through base: its counter, 0 when
 * it was not answered 200 (the database was away). */
static uint64_t setup_counter(const char *base, int dev)
{
    char u[512], hdr[256], body[512];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    uint8_t app_key[32];
    uint64_t counter = 0;
    struct t_resp r;
    cJSON *root = NULL;

    snprintf(u, sizeof u, "%s/v1/setup/dev-%d", base, dev);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[dev].claim_code, app_key);
    if (!t_http_try("POST", u, headers, body, strlen(body), &r))
        return 0;
    if (r.status == 200) {
        assert_int_equal(owb_json_parse(r.body, r.len, &root), OWB_OK);
        assert_int_equal(owb_json_uint(root, "counter", &counter), OWB_OK);
        cJSON_Delete(root);
    } else if (r.status != 503) {
        fail_msg("%s: %ld %s", u, r.status, r.body);
    }
    t_resp_free(&r);
    return counter;
}

/* Two instances taking turns at one device's setups: each counter above
 * the one before, whichever instance (and clock) issued it. */
static void test_pg_alternate(void **state)
{
    (void)state;
    struct t_proc a, b;
    char base_a[64], base_b[64];
    uint64_t last = 0;

    t_start_server(&a, "alt-a", "0");
    t_start_server(&b, "alt-b", "0");
    snprintf(base_a, sizeof base_a, "http://127.0.0.1:%u", a.port);
    snprintf(base_b, sizeof base_b, "http://127.0.0.1:%u", b.port);
    for (int i = 0; i < 40; i++) {
        uint64_t c = setup_counter(i % 2 ? base_b : base_a, 1);
        assert_true(c > last);
        last = c;
    }
    t_stop(&a, SIGTERM);
    t_stop(&b, SIGTERM);
}

/* PostgreSQL crashes (immediate shutdown) right after setups it committed
 * without waiting for the WAL: crash recovery empties counter_floor, the
 * next setup reserves from the durable mark, and every counter after is
 * above every one answered before. */
static void test_pg_crash(void **state)
{
    (void)state;
    struct t_proc p;
    char base[64];
    uint64_t high = 0, c = 0;
    int tries = 0;

    t_serve(&p, "pg-crash", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout",
            "2000", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    for (int i = 0; i < 100; i++) {
        c = setup_counter(base, 0);
        assert_true(c > high);
        high = c;
    }
    t_pg_crash(&F.pg);
    assert_string_equal(t_pg_exec(&F.pg, "SELECT count(*) FROM counter_floor"), "0");
    print_message("crash: answered up to %llu, the database holds %s\n", (unsigned long long)high,
                  t_pg_exec(&F.pg, "SELECT counter FROM devices WHERE id = 'dev-0'"));
    while ((c = setup_counter(base, 0)) == 0 && tries++ < 20)
        ;
    for (int i = 0; i < 20; i++) {
        if (c <= high)
            fail_msg("after the crash: counter %llu, %llu was answered before",
                     (unsigned long long)c, (unsigned long long)high);
        high = c;
        c = setup_counter(base, 0);
    }
    assert_int_equal(t_stop(&p, SIGTERM), 0);
}

/* A setup of dev-0 through base, asked until it is answered 200 (at most
 * 50 times, each bounded): the number of tries. */
static int setup_until_ok(const char *base)
{
    struct t_slow_setup s = {base, 0, 0};
    int tries = 0;

    while (s.status != 200 && tries < 50) {
        s = (struct t_slow_setup){base, 0, 0};
        t_slow_setup_run(&s);
        tries++;
        assert_true(s.status == 200 || s.status == 503);
    }
    assert_int_equal(s.status, 200);
    return tries;
}

/* PostgreSQL frozen (every process of it stopped, as a hung host would
 * be: the kernel still accepts and ACKs, nothing answers) under more
 * clients than worker threads, with an idle timeout shorter than the busy
 * timeout: every request is answered within the busy timeout and a margin
 * of its own arrival, 503 with Retry-After, /readyz 503; once it
 * continues, the server reconnects and answers 200 again. */
static void test_pg_frozen(void **state)
{
    (void)state;
    struct t_bound b;
    struct t_proc p;
    char base[64];

    t_serve(&p, "pg-frozen", "--metrics-listen", "off", "--rate-limit", "0", "--busy-timeout",
            "1500", "--timeout", "1", "--threads", "4", "--max-connections", "40", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    assert_int_equal(setup_until_ok(base), 1);
    assert_int_equal(t_readyz(base), 200);

    t_pg_freeze(&F.pg, true);
    t_bound_start(&b, base, 30, 1500 + 500);
    t_bound_wait(&b, 4);
    t_bound_stop(&b);
    t_pg_freeze(&F.pg, false);
    t_bound_check(&b, &p);
    assert_true(b.sum.unavailable > 0);
    assert_true(b.sum.ready_503 > 0);
    assert_int_equal(b.sum.ready_200, 0);

    print_message("continued: a setup answered 200 at try %d\n", setup_until_ok(base));
    assert_int_equal(t_readyz(base), 200);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    free(log);
}

/* Two instances initialising one fresh database at once: the advisory
 * lock lets the schema be made exactly once, and both succeed. */
static void test_pg_concurrent_init(void **state)
{
    (void)state;
    char dsn[300];
    pid_t pid[2];

    t_pg_exec(&F.pg, "CREATE DATABASE owb_race");
    snprintf(dsn, sizeof dsn, "%.*sowb_race", (int)(strrchr(F.db, '/') + 1 - F.db), F.db);
    for (int i = 0; i < 2; i++) {
        char *argv[] = {OWB_SERVER_BIN, "init", "--db", dsn, "--master-key", F.key, NULL};
        pid[i] = fork();
        if (pid[i] == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execv(argv[0], argv);
            _exit(127);
        }
    }
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(pid[i], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char *argv[] = {OWB_SERVER_BIN, "device", "list", "--db", dsn, "--master-key", F.key, NULL};
    char out[4096];
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    /* A database nobody initialised is refused, not silently set up. */
    t_pg_exec(&F.pg, "CREATE DATABASE owb_empty");
    snprintf(dsn, sizeof dsn, "%.*sowb_empty", (int)(strrchr(F.db, '/') + 1 - F.db), F.db);
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1); /* argv's dsn: owb_empty */
    assert_non_null(strstr(out, "never initialised"));
}

/* An upgrade does not migrate a schema under instances of an older
 * owb-server, whose statements would meet tables they do not know: while
 * a connection named as an older version names its own is open, the
 * schema before this one is left as it is and the command says why;
 * once it is closed, the schema is migrated. (The last migration is run
 * again on the schema it made, which it allows.) */
static void test_pg_upgrade_waits_for_older(void **state)
{
    (void)state;
    struct t_pg db = F.pg;
    char dsn[300], old_dsn[400], out[4096], want[32];

    t_pg_exec(&F.pg, "CREATE DATABASE owb_upgrade");
    snprintf(dsn, sizeof dsn, "%.*sowb_upgrade", (int)(strrchr(F.db, '/') + 1 - F.db), F.db);
    snprintf(db.dsn, sizeof db.dsn, "%s", dsn);
    char *init[] = {OWB_SERVER_BIN, "init", "--db", dsn, "--master-key", F.key, NULL};
    assert_int_equal(t_run(init, NULL, out, sizeof out), 0);
    snprintf(want, sizeof want, "%s", t_pg_exec(&db, "SELECT version FROM owb_schema"));
    t_pg_exec(&db, "UPDATE owb_schema SET version = version - 1");

    snprintf(old_dsn, sizeof old_dsn, "%s?application_name=owb-server", dsn);
    PGconn *older = PQconnectdb(old_dsn);
    assert_int_equal(PQstatus(older), CONNECTION_OK);
    char *list[] = {OWB_SERVER_BIN, "device", "list", "--db", dsn, "--master-key", F.key, NULL};
    assert_int_equal(t_run_err(list, NULL, out, sizeof out), 1);
    print_message("with an older instance connected: %s", out);
    assert_non_null(strstr(out, "other owb-server versions hold 1 connection(s)"));
    assert_non_null(strstr(out, "stop every older instance first"));
    assert_int_equal(atoi(t_pg_exec(&db, "SELECT version FROM owb_schema")), atoi(want) - 1);

    /* A backend leaves pg_stat_activity a moment after its client. */
    PQfinish(older);
    for (int waited = 0; strcmp(t_pg_exec(&db, "SELECT count(*) FROM pg_stat_activity WHERE "
                                               "application_name = 'owb-server'"),
                                "0") != 0;
         waited += 10) {
        if (waited > 10000)
            fail_msg("the older connection's backend was still there after 10 s");
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    assert_int_equal(t_run(list, NULL, out, sizeof out), 0);
    assert_string_equal(t_pg_exec(&db, "SELECT version FROM owb_schema"), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_two_instances),
        cmocka_unit_test(test_pg_alternate),
        cmocka_unit_test(test_pg_crash),
        cmocka_unit_test(test_pg_connection_loss),
        cmocka_unit_test(test_pg_frozen),
        cmocka_unit_test(test_pg_concurrent_init),
        cmocka_unit_test(test_pg_upgrade_waits_for_older),
    };
    return T_WORLD_RUN(tests);
}
