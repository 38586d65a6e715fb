/* owb-server's fleet on the shared fixture (tests/support/
 * server_fixture.h): heartbeats (docs/protocol.md, "After setup") and
 * their challenges, the
 * fleet's states in 'device list' and /metrics, and rollouts of new
 * network settings, staged, paused and aborted, with the device side
 * simulated here with the common library. Built twice: against SQLite
 * (test_server_fleet) and PostgreSQL (test_server_fleet_pg, which also
 * runs two instances on one database). */
#include "server_fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/envelope_pk.h"
#include "owb/heartbeat.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/wifi.h"

#define NEW_PSK "a new password 2026"

/* What each simulated device runs and holds: dev-0..dev-3, then pk-0. */
enum { PK = T_N_DEV, N_SIM = T_N_DEV + 1 };
static uint64_t sim_running[N_SIM], sim_held[N_SIM];
/* Each simulated device's challenge, as the agent keeps it; and the one
 * the last 200 or 409 stale_challenge answer carried. */
static uint8_t sim_challenge[N_SIM][16], answered[16];

static const char *sim_id(int d)
{
    return d == PK ? "pk-0" : F.dev[d].device_id;
}

enum tamper { T_NONE, T_PROOF, T_OTHER_SUITE };

/* A heartbeat body for device d (its suite's proof, or the other's). */
static void hb_body(int d, const struct owb_heartbeat *hb, enum tamper t, char *out, size_t cap)
{
    uint8_t proof[64] = {0}, kc[32];
    enum owb_suite suite = d == PK ? OWB_SUITE_PK : OWB_SUITE_SYM;
    size_t len;

    if (d == PK) {
        assert_int_equal(owb_pk_heartbeat_sign(F.pk_sk, "pk-0", hb, proof), OWB_OK);
    } else {
        owb_kdf_checkin_key(kc, F.dev[d].device_key);
        assert_int_equal(owb_heartbeat_mac(kc, sim_id(d), hb, proof), OWB_OK);
    }
    if (t == T_PROOF)
        proof[3] ^= 0x10;
    if (t == T_OTHER_SUITE)
        suite = suite == OWB_SUITE_PK ? OWB_SUITE_SYM : OWB_SUITE_PK;
    assert_int_equal(owb_heartbeat_request_write(suite, hb, proof, out, cap, &len), OWB_OK);
}

/* Posts body as d's heartbeat to base; a 200 answer is parsed into *a
 * (NULL: not kept); the challenge of a 200 or a stale answer into
 * `answered` (zero for others). The status. */
static long hb_send(const char *base, int d, const char *body, struct owb_heartbeat_answer *a,
                    struct t_resp *r)
{
    char u[512];
    struct owb_heartbeat_answer tmp;

    snprintf(u, sizeof u, "%s/v1/devices/%s/heartbeat", base ? base : F.base, sim_id(d));
    t_http("POST", u, NULL, body, strlen(body), r);
    memset(answered, 0, sizeof answered);
    if (r->status == 200) {
        assert_int_equal(owb_heartbeat_answer_parse(r->body, r->len, sim_id(d), a ? a : &tmp),
                         OWB_OK);
        memcpy(answered, (a ? a : &tmp)->challenge, sizeof answered);
    } else if (r->status == 409 && strstr(r->body, "\"stale_challenge\"")) {
        assert_int_equal(owb_heartbeat_stale_parse(r->body, r->len, answered), OWB_OK);
    }
    return r->status;
}

static void hb_post(const char *base, int d, const char *body, long want, const char *text,
                    struct owb_heartbeat_answer *a)
{
    struct t_resp r;

    hb_send(base, d, body, a, &r);
    t_expect(&r, want, text);
}

/* Device d's heartbeat as the agent sends it: with its challenge, sent
 * again once with the answered one when that is stale; 200 expected, the
 * answer in *a. */
static void beat(int d, struct owb_heartbeat_answer *a)
{
    struct owb_heartbeat hb = {.running = sim_running[d], .held = sim_held[d]};
    char body[1024];
    struct t_resp r;

    if (hb.held > hb.running)
        hb.reason = OWB_HB_NETWORK_NOT_FOUND;
    memset(a, 0, sizeof *a);
    memcpy(hb.challenge, sim_challenge[d], sizeof hb.challenge);
    hb_body(d, &hb, T_NONE, body, sizeof body);
    if (hb_send(NULL, d, body, a, &r) == 409) {
        t_resp_free(&r);
        memcpy(hb.challenge, answered, sizeof hb.challenge);
        hb_body(d, &hb, T_NONE, body, sizeof body);
        hb_send(NULL, d, body, a, &r);
    }
    t_expect(&r, 200, "\"heartbeat_s\":");
    memcpy(sim_challenge[d], a->challenge, sizeof sim_challenge[d]);
}

/* The device side of a rollout: the bundle opened with d's key, as the
 * device would; its W's PSK into psk. Returns the counter. */
static uint64_t open_rollout(int d, const struct owb_heartbeat_answer *a, char *psk, size_t cap)
{
    uint8_t kb[32], p[OWB_PAYLOAD_MAX], w[OWB_WIFI_JSON_MAX];
    size_t plen, wlen;
    struct owb_bundle_header h;
    struct owb_payload pl;
    struct owb_wifi wifi;

    assert_true(a->has_rollout);
    assert_int_equal(owb_bundle_header_parse(a->bundle, a->bundle_len, &h), OWB_OK);
    assert_true(h.counter == a->counter);
    if (d == PK) {
        assert_int_equal(owb_pk_bundle_open(F.pk_sk, (const uint8_t(*)[32])F.srv_pk, 1, &h,
                                            a->bundle, a->bundle_len, p, sizeof p, &plen),
                         OWB_OK);
    } else {
        owb_kdf_bundle_key(kb, F.dev[d].device_key);
        assert_int_equal(owb_bundle_open(kb, &h, a->bundle, a->bundle_len, p, sizeof p, &plen),
                         OWB_OK);
    }
    assert_int_equal(owb_payload_parse((const char *)p, plen, &pl), OWB_OK);
    assert_int_equal(owb_wifi_blob_open(a->app_key, sim_id(d), pl.wifi_blob, pl.wifi_blob_len, w,
                                        sizeof w, &wlen),
                     OWB_OK);
    assert_int_equal(owb_wifi_parse((const char *)w, wlen, &wifi), OWB_OK);
    snprintf(psk, cap, "%s", wifi.psk);
    return a->counter;
}

/* pk-0 set up server-sealed: its counter. */
static uint64_t pk_setup(void)
{
    uint8_t app_key[32];
    char body[512];
    struct t_resp r;
    cJSON *root = NULL;
    uint64_t counter = 0;

    t_pk_device_add();
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    t_setup_req("pk-0", body, F.token, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(owb_json_parse(r.body, r.len, &root), OWB_OK);
    assert_int_equal(owb_json_uint(root, "counter", &counter), OWB_OK);
    cJSON_Delete(root);
    t_resp_free(&r);
    return counter;
}

/* Every device set up, running what it was given: dev-3's last setup
 * marked app-sealed (the server never had that password). */
static void setup_fleet(void)
{
    struct t_opened o;
    struct t_db *db;

    for (int d = 0; d < T_N_DEV; d++)
        if (d != 2) /* on no network: never set up */
            sim_running[d] = sim_held[d] = t_issue_one(sim_id(d), F.dev[d].claim_code, &o);
    sim_running[PK] = sim_held[PK] = pk_setup();
    db = t_db_open();
    t_db_sql(db, "UPDATE sessions SET mode = 'app-sealed' WHERE device_id = 'dev-3'");
    t_db_close(db);
}

static bool listed(const char *out, const char *id)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s ", id);
    return strstr(out, needle) != NULL;
}

static bool heard(const char *which, const char *id)
{
    char out[16384];

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--heard", which, NULL), 0);
    return listed(out, id);
}

/* One device's checks in the protocol's order: proof, suite, a first
 * heartbeat without a challenge (409 stale_challenge with one, nothing
 * recorded, asked again: the same one), that one accepted, then the same
 * heartbeat again refused with the next, which a refusal never rotates. */
static void checks_of(int d)
{
    struct owb_heartbeat_answer a;
    struct owb_heartbeat hb = {.running = sim_running[d], .held = sim_running[d]};
    uint8_t first[16];
    char body[1024];

    hb_body(d, &hb, T_PROOF, body, sizeof body);
    hb_post(NULL, d, body, 401, "\"auth_failed\"", NULL);
    hb_body(d, &hb, T_OTHER_SUITE, body, sizeof body);
    hb_post(NULL, d, body, 400, "\"bad_request\"", NULL);
    hb_body(d, &hb, T_NONE, body, sizeof body);
    hb_post(NULL, d, body, 409, "\"stale_challenge\"", NULL);
    assert_true(heard("never", sim_id(d)));
    memcpy(first, answered, sizeof first);
    assert_false(sodium_is_zero(first, sizeof first));
    hb_post(NULL, d, body, 409, "\"challenge\":", NULL);
    assert_memory_equal(answered, first, sizeof first);

    memcpy(hb.challenge, first, sizeof hb.challenge);
    hb_body(d, &hb, T_NONE, body, sizeof body);
    hb_post(NULL, d, body, 200, "\"heartbeat_s\":900", &a);
    assert_false(a.has_rollout);
    assert_memory_not_equal(a.challenge, first, sizeof first);
    memcpy(sim_challenge[d], a.challenge, sizeof sim_challenge[d]);
    for (int i = 0; i < 2; i++) {
        hb_post(NULL, d, body, 409, "\"stale_challenge\"", NULL);
        assert_memory_equal(answered, sim_challenge[d], sizeof answered);
    }
}

/* Each check of the protocol's order, on both suites; then what the fleet
 * looks like in 'device list', 'device show' and /metrics. */
static void test_heartbeat_checks(void **state)
{
    (void)state;
    struct owb_heartbeat hb = {0};
    char body[1024];

    setup_fleet();
    assert_true(heard("never", "dev-0") && heard("never", "pk-0"));
    checks_of(0);
    checks_of(PK);
    hb_post(NULL, 2, "{\"running\":1}", 400, NULL, NULL);
    /* Not this device's key: dev-1's MAC sent as dev-0's. */
    hb.running = hb.held = sim_running[0];
    memcpy(hb.challenge, sim_challenge[0], sizeof hb.challenge);
    hb_body(1, &hb, T_NONE, body, sizeof body);
    hb_post(NULL, 0, body, 401, NULL, NULL);
    /* Counters come before the challenge: one no server could have
     * issued (above its durable mark; below that a counter lost in a
     * power cut is taken: test_store). */
    hb.held = (1ULL << 53) - 1;
    hb.reason = OWB_HB_WRONG_PASSWORD;
    memset(hb.challenge, 0, sizeof hb.challenge);
    hb_body(0, &hb, T_NONE, body, sizeof body);
    hb_post(NULL, 0, body, 409, "\"conflict\"", NULL);
    {
        char u[512];
        struct t_resp r;
        t_url(u, "/v1/devices/nobody/heartbeat");
        t_http("POST", u, NULL, body, strlen(body), &r);
        t_expect(&r, 404, "\"unknown_device\"");
    }
}

static void test_fleet_states(void **state)
{
    (void)state;
    char out[16384];
    struct t_db *db;
    struct t_resp r;
    char u[512], *slog;

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--heard", "online", NULL),
                     0);
    assert_true(listed(out, "dev-0") && listed(out, "pk-0") && !listed(out, "dev-1"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "heartbeat:  online, last"));
    assert_non_null(strstr(out, "from 127.0.0.1"));
    db = t_db_open();
    t_db_sql(db, "UPDATE devices SET heard_at = 1 WHERE id = 'pk-0'");
    t_db_close(db);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--heard", "stale", NULL), 0);
    assert_true(listed(out, "pk-0") && !listed(out, "dev-0") && !listed(out, "dev-1"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"heard\":\"stale\""));

    slog = t_log(&F.srv);
    const char *mp = strstr(slog, "(metrics port ");
    assert_non_null(mp);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", (unsigned)atoi(mp + 14));
    free(slog);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "owb_devices{heard=\"online\"} 1"));
    assert_non_null(strstr(r.body, "owb_devices{heard=\"stale\"} 1"));
    assert_non_null(strstr(r.body, "owb_heartbeats_total{result=\"refused\"}"));
    t_expect(&r, 200, "owb_heartbeats_total{result=\"accepted\"} 2");
}

/* A heartbeat replayed long after (when a nonce table would have been
 * pruned) is refused all the same, and records nothing: the device stays
 * stale. The device's own next heartbeat is not disturbed by it. */
static void test_replay_any_age(void **state)
{
    (void)state;
    struct owb_heartbeat_answer a;
    struct owb_heartbeat hb = {.running = sim_running[0], .held = sim_running[0]};
    char body[1024];
    struct t_db *db;

    memcpy(hb.challenge, sim_challenge[0], sizeof hb.challenge);
    hb_body(0, &hb, T_NONE, body, sizeof body);
    hb_post(NULL, 0, body, 200, NULL, &a);
    memcpy(sim_challenge[0], a.challenge, sizeof sim_challenge[0]);
    beat(0, &a);
    db = t_db_open();
    t_db_sql(db, "UPDATE devices SET heard_at = 1 WHERE id = 'dev-0'");
    t_db_close(db);
    hb_post(NULL, 0, body, 409, "\"stale_challenge\"", NULL);
    assert_memory_equal(answered, sim_challenge[0], sizeof answered);
    assert_true(heard("stale", "dev-0"));
    beat(0, &a);
    assert_true(heard("online", "dev-0"));
}

struct racer {
    pthread_barrier_t *go;
    const char *base;
    int d;
    char body[1024];
    long status;
    struct owb_heartbeat_answer a;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct t_resp resp;

    pthread_barrier_wait(r->go);
    r->status = hb_send(r->base, r->d, r->body, &r->a, &resp);
    t_resp_free(&resp);
    return NULL;
}

/* Device d's heartbeat with its one challenge, posted at once to bases[0]
 * and bases[1]: one is accepted, the other is 409 stale_challenge; the
 * device's challenge becomes the winner's. How many carried a rollout. */
static int race_one_challenge(int d, const char *bases[2])
{
    struct owb_heartbeat hb = {.running = sim_running[d], .held = sim_held[d]};
    struct racer r[2];
    pthread_t t[2];
    pthread_barrier_t go;
    int ok = 0, stale = 0, rollouts = 0;

    hb.reason = hb.held > hb.running ? OWB_HB_NETWORK_NOT_FOUND : OWB_HB_RUNNING;
    memcpy(hb.challenge, sim_challenge[d], sizeof hb.challenge);
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        r[i] = (struct racer){.go = &go, .base = bases[i], .d = d};
        hb_body(d, &hb, T_NONE, r[i].body, sizeof r[i].body);
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].status == 200;
        stale += r[i].status == 409;
        if (r[i].status == 200) {
            memcpy(sim_challenge[d], r[i].a.challenge, sizeof sim_challenge[d]);
            rollouts += r[i].a.has_rollout;
        }
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(stale, 1);
    return rollouts;
}

/* Two heartbeats at once with one challenge: one wins. */
static void test_concurrent_one_challenge(void **state)
{
    (void)state;
    struct owb_heartbeat_answer a;
    const char *bases[2] = {F.base, F.base};

    beat(1, &a);
    for (int i = 0; i < 5; i++)
        race_one_challenge(1, bases);
    beat(1, &a);
}

/* Device d takes the rollout in a: holds it, then runs it (applied) or
 * not (failed, the network not found). */
static void take(int d, const struct owb_heartbeat_answer *a, bool works)
{
    char psk[80];
    uint64_t c = open_rollout(d, a, psk, sizeof psk);

    assert_string_equal(psk, NEW_PSK);
    sim_held[d] = c;
    if (works)
        sim_running[d] = c;
}

static void status(const char *id, char *out, size_t cap)
{
    assert_int_equal(t_admin(NULL, out, cap, "rollout", "status", id, NULL), 0);
}

/* network update: the server-sealed devices on "home" get the new PSK
 * at their next heartbeat, in both suites; dev-3 (app-sealed) needs a
 * person; applied and failed reports show in status. */
static void test_network_update_rollout(void **state)
{
    (void)state;
    struct owb_heartbeat_answer a;
    char out[16384];

    assert_int_equal(t_admin(NEW_PSK "\n", out, sizeof out, "network", "update", "home",
                             "--psk-file", "-", NULL),
                     0);
    assert_non_null(strstr(out, "rollout 1 started: 3 device(s) in 1 wave(s)"));
    assert_non_null(strstr(out, "1 device(s) need a person"));
    status("1", out, sizeof out);
    assert_non_null(strstr(out, "not heard from")); /* pk-0: its last heartbeat is old */
    beat(3, &a);
    assert_false(a.has_rollout);
    beat(2, &a); /* not on "home" */
    assert_false(a.has_rollout);
    beat(0, &a);
    take(0, &a, true);
    beat(1, &a);
    take(1, &a, false);
    beat(PK, &a);
    take(PK, &a, true);
    status("1", out, sizeof out);
    assert_non_null(strstr(out, "pending=3")); /* sent; none has said it runs it yet */
    for (int d = 0; d < N_SIM; d++)
        if (d != 2 && d != 3) {
            beat(d, &a);
            assert_false(a.has_rollout);
        }
    status("1", out, sizeof out);
    assert_non_null(strstr(out, "applied=2 failed=1 needs_person=1"));
    assert_non_null(strstr(out, "failed: network_not_found (retrying)"));
    assert_non_null(strstr(out, "needs a person"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "status", "1", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"applied\":2"));
    /* Printed as its devices are read, and still one JSON document. */
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "devices")), 4);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "devices"), 0), "status")
            ->valuestring,
        "applied");
    cJSON_Delete(doc);
    /* dev-1 finds the network at last. */
    sim_running[1] = sim_held[1];
    beat(1, &a);
    status("1", out, sizeof out);
    assert_non_null(strstr(out, "applied=3 needs_person=1"));
}

/* device assign --batch 1: one device a wave, the next once the one
 * before applied; pause holds everything back; abort halfway sends
 * nothing more. */
static void test_waves_pause_abort(void **state)
{
    (void)state;
    struct owb_heartbeat_answer a;
    char out[16384];

    assert_int_equal(t_admin(NEW_PSK "\n", out, sizeof out, "network", "add", "office", "--ssid",
                             "Office", "--security", "wpa2-psk", "--psk-file", "-", NULL),
                     0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "assign", "pk-0", "dev-1", "dev-0",
                             "--network", "office", "--batch", "1", NULL),
                     0);
    assert_non_null(strstr(out, "rollout 2 started: 3 device(s) in 3 wave(s) of up to 1"));
    beat(1, &a);
    assert_false(a.has_rollout); /* wave 2 */
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "pause", "2", NULL), 0);
    beat(0, &a);
    assert_false(a.has_rollout);
    status("2", out, sizeof out);
    assert_non_null(strstr(out, "paused"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "resume", "2", NULL), 0);
    beat(0, &a);
    take(0, &a, true);
    beat(0, &a); /* applied: wave 2 released */
    beat(1, &a);
    take(1, &a, false);
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "abort", "2", NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "resume", "2", NULL), 1);
    beat(1, &a); /* failed: wave 3 would be next, but the rollout is aborted */
    beat(PK, &a);
    assert_false(a.has_rollout);
    status("2", out, sizeof out);
    assert_non_null(strstr(out, "aborted"));
    assert_non_null(strstr(out, "applied=1 failed=1 aborted=1"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "rollout", "status", NULL), 0);
    assert_non_null(strstr(out, "rollout 1: network home"));
}

/* A device that stays off holds no wave back for ever: once its wave has
 * been out for two heartbeat intervals and it has not been heard from in
 * that time, the next wave goes; it gets its bundle when it comes back. */
static void test_silent_device_wave(void **state)
{
    (void)state;
    struct owb_heartbeat_answer a;
    char out[16384], sql[160];
    long long id = 0;
    struct t_db *db;

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "assign", "dev-0", "dev-1",
                             "--network", "home", "--batch", "1", NULL),
                     0);
    assert_non_null(strstr(out, "2 device(s) in 2 wave(s) of up to 1"));
    assert_int_equal(sscanf(strstr(out, "rollout "), "rollout %lld started", &id), 1);
    beat(1, &a);
    beat(1, &a);
    assert_false(a.has_rollout); /* wave 2, and dev-0 of wave 1 is not done */
    /* Two intervals later, dev-0 still silent. */
    snprintf(sql, sizeof sql,
             "UPDATE rollouts SET updated_at = updated_at - 100000 WHERE id = %lld", id);
    db = t_db_open();
    t_db_sql(db, sql);
    t_db_sql(db, "UPDATE devices SET heard_at = 1 WHERE id = 'dev-0'");
    t_db_close(db);
    beat(1, &a); /* moves the rollout on */
    beat(1, &a);
    take(1, &a, true);
    beat(1, &a);
    snprintf(sql, sizeof sql, "%lld", id);
    status(sql, out, sizeof out);
    assert_non_null(strstr(out, "wave 2 of 2"));
    assert_non_null(strstr(out, "not_heard_from=1 applied=1"));
    /* dev-0 comes back and catches up. */
    beat(0, &a);
    take(0, &a, true);
    beat(0, &a);
    status(sql, out, sizeof out);
    assert_non_null(strstr(out, "applied=2"));
}

#ifdef OWB_TEST_PG
/* Two instances answer the same devices' heartbeats at once: each
 * heartbeat is accepted by one instance only, and each device gets one
 * bundle for the step, never two. */
static void test_pg_two_instances(void **state)
{
    (void)state;
    struct t_proc b;
    char base_b[64], out[4096];
    const char *bases[2] = {F.base, base_b};

    t_start_server(&b, "fleet-b", "0");
    snprintf(base_b, sizeof base_b, "http://127.0.0.1:%u", b.port);
    assert_int_equal(t_admin("third password 33\n", out, sizeof out, "network", "update", "office",
                             "--psk-file", "-", NULL),
                     0);
    for (int d = 0; d < 2; d++)
        assert_int_equal(race_one_challenge(d, bases), 1);
    for (int i = 0; i < 5; i++)
        race_one_challenge(PK, bases);
    t_stop(&b, SIGTERM);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_checks),
        cmocka_unit_test(test_fleet_states),
        cmocka_unit_test(test_replay_any_age),
        cmocka_unit_test(test_concurrent_one_challenge),
        cmocka_unit_test(test_network_update_rollout),
        cmocka_unit_test(test_waves_pause_abort),
#ifdef OWB_TEST_PG
        cmocka_unit_test(test_pg_two_instances),
#endif
        cmocka_unit_test(test_silent_device_wave),
    };
    return T_WORLD_RUN(tests);
}
