/* Ageing on the shared fixture (tests/support/server_fixture.h): the
 * admin command 'prune' and serve's own pruning (--retention), seen from
 * outside: what a phone and a device are answered afterwards, and the
 * counter going on. The store operation itself, with times of the test's
 * choosing, is in test_store.c. Built twice: against SQLite
 * (test_server_retention) and PostgreSQL (test_server_retention_pg). */
#include "server_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* POST a check-in of dev for counter with nonce to base/…: the answer. */
static void checkin(const char *base, int dev, uint64_t counter, const uint8_t nonce[16],
                    struct t_resp *r)
{
    char body[512], u[512];

    snprintf(u, sizeof u, "%s/v1/devices/dev-%d/checkin", base, dev);
    t_checkin_body(body, sizeof body, &F.dev[dev], counter, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), r);
}

/* 'prune --retention 0' keeps only each device's newest session: the
 * older one's page answers 404 and its check-in 409 conflict; the newest
 * works, its replay refused then and after another pass; the next setup
 * gets the next counter. */
static void test_prune_command(void **state)
{
    struct t_opened o1, o2, o3;
    uint8_t n1[16], n2[16];
    struct t_resp r;
    char out[4096];

    (void)state;
    randombytes_buf(n1, sizeof n1);
    randombytes_buf(n2, sizeof n2);
    t_issue_one("dev-1", F.dev[1].claim_code, &o1);
    t_issue_one("dev-1", F.dev[1].claim_code, &o2);
    checkin(F.base, 1, o1.counter, n1, &r);
    t_expect(&r, 200, NULL);

    assert_int_equal(t_admin(NULL, out, sizeof out, "prune", "--retention", "0", NULL), 0);
    assert_non_null(strstr(out, "removed 1 session(s) and 1 check-in nonce(s) older than 0d"));
    t_session_req(NULL, o1.session, &r);
    t_expect(&r, 404, NULL);
    t_session_req(NULL, o2.session, &r);
    t_expect(&r, 200, "\"state\":\"issued\"");
    randombytes_buf(n1, sizeof n1);
    checkin(F.base, 1, o1.counter, n1, &r);
    t_expect(&r, 409, "\"error\":\"conflict\"");
    checkin(F.base, 1, o2.counter, n2, &r);
    t_expect(&r, 200, NULL);
    checkin(F.base, 1, o2.counter, n2, &r);
    t_expect(&r, 409, "\"error\":\"replayed\"");

    /* The newest session and its nonce stay however often it runs. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "prune", "--retention", "0", NULL), 0);
    assert_non_null(strstr(out, "removed 0 session(s) and 0 check-in nonce(s)"));
    checkin(F.base, 1, o2.counter, n2, &r);
    t_expect(&r, 409, "\"error\":\"replayed\"");
    t_issue_one("dev-1", F.dev[1].claim_code, &o3);
    assert_true(o3.counter > o2.counter);

    /* The default keeps a month: nothing here is that old. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "prune", NULL), 0);
    assert_non_null(strstr(out, "removed 0 session(s) and 0 check-in nonce(s) older than 30d"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "prune", "--retention", "3w", NULL), 2);
}

/* The metrics listener's port, from a server's log. */
static unsigned metrics_port(const struct t_proc *p)
{
    char *log = t_log(p);
    const char *mp = strstr(log, "(metrics port ");
    unsigned port = mp ? (unsigned)atoi(mp + 14) : 0;

    free(log);
    assert_true(port > 0);
    return port;
}

/* Waits (up to 20 s) until GET url answers status, and when text is not
 * NULL, with a body that does not contain it. */
static void wait_for(const char *url, long status, const char *text)
{
    const struct timespec step = {0, 100 * 1000 * 1000};
    bool ok = false;

    for (int i = 0; i < 200 && !ok; i++) {
        struct t_resp r;
        t_http("GET", url, NULL, NULL, 0, &r);
        ok = r.status == status && (!text || !strstr(r.body, text));
        t_resp_free(&r);
        if (!ok)
            nanosleep(&step, NULL);
    }
    assert_true(ok);
}

/* serve --retention prunes by itself: a second or two after two setups of
 * dev-3, the first's session is gone, the second's is there, and the
 * metrics and the log say so. (The world's older sessions go too.) */
static void test_serve_prunes(void **state)
{
    struct t_proc p;
    char base[64], sessions[2][128], u[256];
    uint64_t counters[2];
    _Atomic int answered = 0;
    struct t_resp r;

    (void)state;
    t_serve(&p, "retention", "--retention", "1s", "--rate-limit", "0", "--metrics-listen",
            "127.0.0.1:0", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    t_setup_series(base, 3, 2, false, &answered, counters, sessions);
    /* Gone once a pass after its second has run; counted once the pass
     * has ended. */
    snprintf(u, sizeof u, "%s/v1/sessions/%s", base, sessions[0]);
    wait_for(u, 404, NULL);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", metrics_port(&p));
    wait_for(u, 200, "owb_pruned_rows_total{table=\"sessions\"} 0\n");
    t_session_req(base, sessions[1], &r);
    t_expect(&r, 200, NULL);
    t_http("GET", u, NULL, NULL, 0, &r);
    t_expect(&r, 200, "owb_pruned_rows_total{table=\"checkin_nonces\"}");
    char *log = t_log(&p);
    assert_non_null(strstr(log, "check-in nonce(s) older than 1s"));
    free(log);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune_command),
        cmocka_unit_test(test_serve_prunes),
    };
    return T_WORLD_RUN(tests);
}
