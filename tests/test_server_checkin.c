/* owb-server's check-in path on the shared fixture (tests/support/
 * server_fixture.h): sessions, check-ins and their replays, and many
 * clients at once. Built twice: against SQLite (test_server_checkin) and
 * PostgreSQL (test_server_checkin_pg). */
#include "server_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum { RACERS = 8, PER_RACER = 20 };

struct racer {
    pthread_barrier_t *go;
    const char *body; /* a check-in body, or NULL for setups */
    uint64_t counters[PER_RACER];
    char sessions[PER_RACER][T_SESSION_SIZE];
    long status;
};

static void *racer_run(void *arg)
{
    struct racer *r = arg;
    char u[512];
    struct t_resp resp;
    _Atomic int answered = 0;

    pthread_barrier_wait(r->go);
    if (r->body) {
        t_url(u, "/v1/devices/dev-0/checkin");
        t_http("POST", u, NULL, r->body, strlen(r->body), &resp);
        r->status = resp.status;
        t_resp_free(&resp);
        return NULL;
    }
    t_setup_series(F.base, 0, PER_RACER, false, &answered, r->counters, r->sessions);
    return NULL;
}

/* Eight clients asking for bundles for one device at once (the server
 * commits them in groups): every counter distinct, each client's
 * increasing, every session there. Then eight copies of one check-in at
 * once: exactly one is accepted, the others are replays. */
static void test_concurrent_setups_and_checkins(void **state)
{
    (void)state;
    struct racer *r = calloc(RACERS, sizeof *r);
    uint64_t all[RACERS * PER_RACER];
    pthread_t t[RACERS];
    pthread_barrier_t go;
    char body[512];
    uint8_t nonce[16];
    int accepted = 0;

    pthread_barrier_init(&go, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i].go = &go;
        pthread_create(&t[i], NULL, racer_run, &r[i]);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < RACERS; i++)
        for (int k = 0; k < PER_RACER; k++) {
            if (k > 0)
                assert_true(r[i].counters[k] > r[i].counters[k - 1]);
            all[i * PER_RACER + k] = r[i].counters[k];
            struct t_resp resp;
            t_session_req(NULL, r[i].sessions[k], &resp);
            t_expect(&resp, 200, NULL);
        }
    qsort(all, RACERS * PER_RACER, sizeof all[0], t_cmp_u64);
    for (int i = 1; i < RACERS * PER_RACER; i++)
        assert_true(all[i] > all[i - 1]);

    randombytes_buf(nonce, sizeof nonce);
    t_checkin_body(body, sizeof body, &F.dev[0], all[0], nonce, false);
    for (int i = 0; i < RACERS; i++) {
        r[i].body = body;
        pthread_create(&t[i], NULL, racer_run, &r[i]);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        if (r[i].status == 200)
            accepted++;
        else
            assert_int_equal(r[i].status, 409);
    }
    assert_int_equal(accepted, 1);
    pthread_barrier_destroy(&go);
    free(r);
}

static void test_checkin_and_session(void **state)
{
    (void)state;
    struct t_opened o;
    uint8_t nonce[16];
    char body[512], u[512];
    struct t_resp r;

    t_issue_one("dev-0", F.dev[0].claim_code, &o);
    t_session_req(NULL, o.session, &r);
    assert_non_null(strstr(r.body, "\"online_at\":null"));
    t_expect(&r, 200, "\"state\":\"issued\"");

    t_url(u, "/v1/devices/dev-0/checkin");
    randombytes_buf(nonce, sizeof nonce);
    /* Bad MAC first: refused, and it does not burn the nonce. */
    t_checkin_body(body, sizeof body, &F.dev[0], o.counter, nonce, true);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 401, "\"error\":\"auth_failed\"");
    /* A counter the server cannot have issued (past its durable mark: 2^53
     * - 1), with a valid MAC. */
    t_checkin_body(body, sizeof body, &F.dev[0], 9007199254740991ULL, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 409, NULL);
    /* Valid: accepted once, refused when replayed. */
    t_checkin_body(body, sizeof body, &F.dev[0], o.counter, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 200, NULL);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 409, "\"error\":\"replayed\"");
    /* Another device's key cannot check in as dev-0. */
    randombytes_buf(nonce, sizeof nonce);
    struct owb_record imposter = F.dev[1];
    strcpy(imposter.device_id, "dev-0");
    t_checkin_body(body, sizeof body, &imposter, o.counter, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 401, NULL);

    t_session_req(NULL, o.session, &r);
    assert_null(strstr(r.body, "\"online_at\":null"));
    t_expect(&r, 200, "\"state\":\"online\"");
    t_session_req(NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
    t_expect(&r, 404, NULL);

    char out[4096];
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "state:      online"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkin_and_session),
        cmocka_unit_test(test_concurrent_setups_and_checkins),
    };
    return T_WORLD_RUN(tests);
}
