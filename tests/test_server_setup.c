/* owb-server's setup path on the shared fixture (tests/support/
 * server_fixture.h): device import, server-sealed and app-sealed setups,
 * counters across a restart, installer tokens, the claim lockout, the pk
 * suite and rows changed behind the server's back. Built twice: against
 * SQLite (test_server_setup) and PostgreSQL (test_server_setup_pg). */
#include "server_fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/wifi.h"

static void test_import_idempotent_and_conflict(void **state)
{
    (void)state;
    char out[4096], path[4096];
    struct owb_record recs[2];

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "import", F.records, NULL), 0);
    assert_non_null(strstr(out, "imported 0 new device(s), 4 already present"));

    /* A new device plus a known id with another key: nothing is imported. */
    memset(recs, 0, sizeof recs);
    strcpy(recs[0].device_id, "dev-new");
    randombytes_buf(recs[0].device_key, 32);
    strcpy(recs[1].device_id, "dev-2");
    randombytes_buf(recs[1].device_key, 32);
    snprintf(path, sizeof path, "%s/conflict.jsonl", F.dir);
    t_write_records(path, recs, 2);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "import", path, NULL), 1);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-new", NULL), 1);

    /* A malformed line names the file and line, and nothing is imported. */
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"device_id\":\"dev-x\",\"device_key\":"
               "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\nnot json\n");
    fclose(f);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "import", path, NULL), 1);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-x", NULL), 1);

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", NULL), 0);
    assert_non_null(strstr(out, "dev-3"));
    assert_null(strstr(out, "dev-new"));
}

static void test_server_sealed(void **state)
{
    (void)state;
    uint8_t app_key[32], w[OWB_WIFI_JSON_MAX];
    char body[512], pass[OWB_AP_PASSPHRASE_SIZE], want_url[512];
    size_t wlen;
    struct t_resp r;
    struct t_opened o;
    struct owb_wifi wifi;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[0].claim_code, app_key);
    t_setup_req("dev-0", body, F.token, &r);
    t_open_answer(&r, &F.dev[0], &o);
    t_resp_free(&r);

    /* The inner layer opens with the phone's app key and holds the network. */
    assert_int_equal(
        owb_wifi_blob_open(app_key, "dev-0", o.p.wifi_blob, o.p.wifi_blob_len, w, sizeof w, &wlen),
        OWB_OK);
    assert_int_equal(owb_wifi_parse((const char *)w, wlen, &wifi), OWB_OK);
    assert_string_equal(wifi.ssid, T_SSID);
    assert_string_equal(wifi.psk, T_PSK);
    assert_int_equal(wifi.security, OWB_SEC_WPA2_PSK);
    snprintf(want_url, sizeof want_url, "%s/v1/devices/dev-0/checkin", F.base);
    assert_string_equal(o.p.checkin_url, want_url);
    assert_true(o.p.has_issued_at);
    assert_string_equal(o.ap_ssid, "OWB-dev-0");
    owb_kdf_ap_passphrase(pass, F.dev[0].device_key);
    assert_string_equal(o.ap_pass, pass);

    /* A claim typed in lower case with hyphens is the same claim. */
    char typed[32];
    snprintf(typed, sizeof typed, "%.4s-%.4s-%.4s-%.4s", F.dev[0].claim_code,
             F.dev[0].claim_code + 4, F.dev[0].claim_code + 8, F.dev[0].claim_code + 12);
    for (char *c = typed; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    t_server_sealed_body(body, sizeof body, typed, app_key);
    t_setup_req("dev-0", body, F.token, &r);
    t_expect(&r, 200, NULL);

    /* No network assigned (dev-2): a clear 409. */
    t_server_sealed_body(body, sizeof body, F.dev[2].claim_code, app_key);
    t_setup_req("dev-2", body, F.token, &r);
    t_expect(&r, 409, "No network is assigned");
}

static void test_app_sealed(void **state)
{
    (void)state;
    uint8_t app_key[32], blob[OWB_WIFI_BLOB_MAX];
    char blob_b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)], body[2048];
    const char *w = "{\"ssid\":\"MyOwn\",\"security\":\"wpa3-sae\",\"psk\":\"phone-only-secret\"}";
    size_t blen;
    struct t_resp r;
    struct t_opened o;

    randombytes_buf(app_key, sizeof app_key);
    assert_int_equal(owb_wifi_blob_seal(app_key, "dev-2", (const uint8_t *)w, strlen(w), NULL, blob,
                                        sizeof blob, &blen),
                     OWB_OK);
    assert_int_equal(owb_b64_encode(blob, blen, blob_b64, sizeof blob_b64), OWB_OK);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", F.dev[2].claim_code,
             blob_b64);
    /* No installer token needed. */
    t_setup_req("dev-2", body, NULL, &r);
    t_open_answer(&r, &F.dev[2], &o);
    t_resp_free(&r);
    assert_int_equal(o.p.wifi_blob_len, blen);
    assert_memory_equal(o.p.wifi_blob, blob, blen);

    /* Both or neither of app_key and wifi: 400. */
    snprintf(body, sizeof body, "{\"claim\":\"%s\"}", F.dev[2].claim_code);
    t_setup_req("dev-2", body, NULL, &r);
    t_expect(&r, 400, "\"error\":\"bad_request\"");
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\",\"app_key\":\"x\"}",
             F.dev[2].claim_code, blob_b64);
    t_setup_req("dev-2", body, NULL, &r);
    t_expect(&r, 400, NULL);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"!!\"}", F.dev[2].claim_code);
    t_setup_req("dev-2", body, NULL, &r);
    t_expect(&r, 400, NULL);
}

static void test_counters_increase_across_restart(void **state)
{
    (void)state;
    struct t_opened o;
    uint64_t last = 0;

    for (int i = 0; i < 5; i++) {
        uint64_t c = t_issue_one("dev-1", F.dev[1].claim_code, &o);
        assert_true(c > last);
        last = c;
    }
    assert_int_equal(t_stop(&F.srv, SIGTERM), 0);
    char *log = t_log(&F.srv);
    assert_non_null(strstr(log, "SIGTERM received"));
    free(log);
    t_start_server(&F.srv, "server2", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    assert_true(t_issue_one("dev-1", F.dev[1].claim_code, &o) > last);
}

/* Setups of dev-1 through one server, for a thread while it is killed. */
enum { KILL_SERIES = 400 };
struct kill_series {
    _Atomic int answered;
    uint64_t counters[KILL_SERIES];
    char sessions[KILL_SERIES][T_SESSION_SIZE];
};

static void *kill_series_run(void *arg)
{
    struct kill_series *k = arg;
    t_setup_series(F.base, 1, KILL_SERIES, true, &k->answered, k->counters, k->sessions);
    return NULL;
}

/* SIGKILL in the middle of setups (commits that were not waited to disk
 * are the kernel's to write, as after any crash of the process), then a
 * restart: no counter the killed server answered comes again, and every
 * one after is above all of them. */
static void test_counters_after_sigkill(void **state)
{
    (void)state;
    struct kill_series *k = calloc(1, sizeof *k);
    struct t_opened o;
    uint64_t high = 0, c;
    pthread_t t;

    assert_non_null(k);
    pthread_create(&t, NULL, kill_series_run, k);
    t_wait_count(&k->answered, 40, "setups answered before the SIGKILL");
    assert_int_equal(t_stop(&F.srv, SIGKILL), 128 + SIGKILL);
    pthread_join(t, NULL);
    for (int i = 0; i < k->answered; i++) {
        assert_true(i == 0 || k->counters[i] > k->counters[i - 1]);
        high = k->counters[i] > high ? k->counters[i] : high;
    }
    t_start_server(&F.srv, "server-killed", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    for (int i = 0; i < 20; i++) {
        c = t_issue_one("dev-1", F.dev[1].claim_code, &o);
        if (c <= high)
            fail_msg("after SIGKILL: counter %llu, %llu was answered before", (unsigned long long)c,
                     (unsigned long long)high);
        high = c;
    }
    print_message("killed after %d answered setups; 20 after the restart, all above\n",
                  (int)k->answered);
    free(k);
}

static void test_installer_token(void **state)
{
    (void)state;
    uint8_t app_key[32];
    char body[512], out[4096], token2[128];
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[3].claim_code, app_key);
    t_setup_req("dev-3", body, NULL, &r);
    t_expect(&r, 401, "\"error\":\"unauthorized\"");
    t_setup_req("dev-3", body, "owbt_wrongwrongwrongwrongwrongwrongwrongwrongwro", &r);
    t_expect(&r, 401, NULL);

    /* A second token works until it is revoked; the first keeps working. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "create", "--label", "temp", NULL), 0);
    snprintf(token2, sizeof token2, "%.*s", (int)strcspn(out, "\n"), out);
    t_setup_req("dev-3", body, token2, &r);
    t_expect(&r, 200, NULL);
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "revoke", "temp", NULL), 0);
    t_setup_req("dev-3", body, token2, &r);
    t_expect(&r, 401, NULL);
    t_setup_req("dev-3", body, F.token, &r);
    t_expect(&r, 200, NULL);
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "list", NULL), 0);
    assert_non_null(strstr(out, "revoked"));
    /* The list shows labels, never a token. */
    assert_null(strstr(out, "owbt_"));
}

/* t_setup_req from another client address. */
static void setup_from(const char *from, const char *base, const char *id, const char *body,
                       struct t_resp *r)
{
    char u[512], hdr[256];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    snprintf(u, sizeof u, "%s/v1/setup/%s", base, id);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    t_http_from = from;
    t_http("POST", u, headers, body, strlen(body), r);
    t_http_from = NULL;
}

/* GET /v1/devices/{id}/setup-state from base: what the setup page says at
 * once. *locked_for: seconds until the device takes a claim again (0:
 * now); -1 when the server does not know the device. */
static void setup_state(const char *base, const char *id, long *locked_for)
{
    char u[512];
    struct t_resp r;
    cJSON *root = NULL;

    snprintf(u, sizeof u, "%s/v1/devices/%s/setup-state", base, id);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(owb_json_parse(r.body, r.len, &root), OWB_OK);
    assert_string_equal(owb_json_string(root, "device_id"), id);
    *locked_for = -1;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "known"))) {
        const cJSON *until = cJSON_GetObjectItemCaseSensitive(root, "locked_until");
        const cJSON *now = cJSON_GetObjectItemCaseSensitive(root, "now");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "claim_required")));
        assert_true(cJSON_IsNumber(until) && cJSON_IsNumber(now));
        *locked_for = until->valuedouble ? (long)(until->valuedouble - now->valuedouble) : 0;
    }
    /* Nothing a guesser could use beyond what a setup attempt says. */
    assert_null(strstr(r.body, "attempts"));
    cJSON_Delete(root);
    t_resp_free(&r);
}

/* One of many wrong claims at once; its answer is kept in r. */
struct guesser {
    const char *base;
    char from[32], body[512];
    pthread_barrier_t *go;
    struct t_resp r;
};

static void *guess(void *arg)
{
    struct guesser *g = arg;
    pthread_barrier_wait(g->go);
    setup_from(g->from, g->base, "dev-1", g->body, &g->r);
    return NULL;
}

/* Wrong claims do not lock the owner out. Each client address has a
 * budget of wrong claims; past --claim-max-failures attempts the device
 * takes one try per delay (2 s, 4 s ... 60 s) instead of locking for the
 * window; the right claim from another address gets through; `device
 * show` says when it is slowed down and `device unlock` lifts it. Every
 * attempt is counted in one statement before it is checked: 30 wrong
 * claims at once from 30 addresses get 4 checks, not 30. */
static void test_claim_lockout(void **state)
{
    (void)state;
    uint8_t app_key[32];
    char wrong[512], right[512], base[64], out[4096];
    struct t_proc p;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(wrong, sizeof wrong, "0000000000000000", app_key);
    t_server_sealed_body(right, sizeof right, F.dev[3].claim_code, app_key);
    t_serve(&p, "claims", "--metrics-listen", "off", "--rate-limit", "0", "--claim-max-failures",
            "3", "--claim-window", "3600", NULL);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);

    /* One guesser: three wrong claims, then its own budget is spent... */
    for (int i = 0; i < 3; i++) {
        setup_from("127.0.0.2", base, "dev-3", wrong, &r);
        t_expect(&r, 403, "claim_rejected");
    }
    setup_from("127.0.0.2", base, "dev-3", wrong, &r);
    t_expect(&r, 429, "rate_limited");
    assert_non_null(strstr(r.headers, "Retry-After"));
    /* ...while the owner, elsewhere, gets in at once. */
    setup_from("127.0.0.3", base, "dev-3", right, &r);
    t_expect(&r, 200, NULL);

    /* Guessers at several addresses: past three attempts the device slows
     * down; even the right claim waits, for seconds, not an hour. */
    for (int i = 0; i < 4; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.0.%d", 4 + i);
        setup_from(from, base, "dev-3", wrong, &r);
        t_expect(&r, 403, "claim_rejected");
    }
    setup_from("127.0.0.9", base, "dev-3", right, &r);
    t_expect(&r, 429, "locked");
    const char *ra = strstr(r.headers, "Retry-After: ");
    assert_non_null(ra);
    assert_true(atoi(ra + 13) >= 1 && atoi(ra + 13) <= 2);
    /* The setup page hears it on load, without a claim, and counts nothing. */
    long locked_for;
    setup_state(base, "dev-3", &locked_for);
    assert_true(locked_for >= 1 && locked_for <= 2);
    setup_state(base, "nobody-here", &locked_for);
    assert_int_equal(locked_for, -1);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-3", NULL), 0);
    assert_non_null(strstr(out, "4 wrong claim(s) in the window; slowed down: next try after"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "unlock", "dev-3", NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-3", NULL), 0);
    assert_non_null(strstr(out, "0 wrong claim(s) in the window; not slowed down"));
    setup_state(base, "dev-3", &locked_for);
    assert_int_equal(locked_for, 0);
    setup_from("127.0.0.9", base, "dev-3", right, &r);
    t_expect(&r, 200, NULL);

    /* Thirty at once, each from its own address. */
    enum { N = 30 };
    struct guesser g[N];
    pthread_t t[N];
    pthread_barrier_t go;
    int checked = 0, slowed = 0;
    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        g[i] = (struct guesser){.base = base, .go = &go};
        snprintf(g[i].from, sizeof g[i].from, "127.0.1.%d", 10 + i);
        t_server_sealed_body(g[i].body, sizeof g[i].body, "0000000000000000", app_key);
        pthread_create(&t[i], NULL, guess, &g[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        checked += g[i].r.status == 403;
        slowed += g[i].r.status == 429;
        t_resp_free(&g[i].r);
    }
    pthread_barrier_destroy(&go);
    print_message("30 wrong claims at once: %d checked, %d slowed down\n", checked, slowed);
    /* 3, plus one per delay that passed during the burst (2 s, then 4 s). */
    assert_true(checked >= 4 && checked <= 5);
    assert_int_equal(checked + slowed, N);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "unlock", "dev-1", NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "unlock", "nobody-here", NULL), 1);
    assert_int_equal(t_stop(&p, SIGTERM), 0);

    /* The fixture's 2 s window: attempts are forgotten once it has passed. */
    for (int i = 0; i < 3; i++) {
        t_setup_req("dev-3", wrong, F.token, &r);
        t_expect(&r, 403, "claim_rejected");
    }
    sleep(atoi(T_CLAIM_WINDOW) + 1);
    t_setup_req("dev-3", right, F.token, &r);
    t_expect(&r, 200, NULL);
}

/* A 200 answer for a pk device: the bundle is of the pk suite, signed by
 * the server's key and opened with the device's own; P's wifi blob opens
 * with the app key. Returns the counter. */
static uint64_t open_pk_answer(const struct t_resp *r, const uint8_t app_key[32], char *ssid,
                               size_t ssid_cap)
{
    cJSON *root = NULL;
    uint8_t bundle[OWB_BUNDLE_MAX], p[OWB_PAYLOAD_MAX], w[OWB_WIFI_JSON_MAX], kb[32];
    size_t blen, plen, wlen;
    struct owb_bundle_header h;
    struct owb_payload pl;
    struct owb_wifi wifi;
    uint64_t counter;

    assert_int_equal(r->status, 200);
    assert_int_equal(owb_json_parse(r->body, r->len, &root), OWB_OK);
    assert_int_equal(owb_json_uint(root, "counter", &counter), OWB_OK);
    const char *b = owb_json_string(root, "bundle");
    assert_int_equal(owb_b64_decode(b, strlen(b), bundle, sizeof bundle, &blen), OWB_OK);
    assert_int_equal(owb_bundle_header_parse(bundle, blen, &h), OWB_OK);
    assert_int_equal(h.suite, OWB_SUITE_PK);
    assert_true(h.counter == counter);
    assert_int_equal(owb_pk_bundle_open(F.pk_sk, (const uint8_t(*)[32])F.srv_pk, 1, &h, bundle,
                                        blen, p, sizeof p, &plen),
                     OWB_OK);
    /* Not a symmetric bundle, whatever the key. */
    randombytes_buf(kb, sizeof kb);
    assert_int_equal(owb_bundle_open(kb, &h, bundle, blen, p + 0, 0, &wlen), OWB_ERR_AUTH_FAILED);
    assert_int_equal(owb_payload_parse((const char *)p, plen, &pl), OWB_OK);
    assert_int_equal(
        owb_wifi_blob_open(app_key, "pk-0", pl.wifi_blob, pl.wifi_blob_len, w, sizeof w, &wlen),
        OWB_OK);
    assert_int_equal(owb_wifi_parse((const char *)w, wlen, &wifi), OWB_OK);
    snprintf(ssid, ssid_cap, "%s", wifi.ssid);
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(root, "device_ap");
    assert_string_equal(owb_json_string(ap, "passphrase"), F.pk_ap);
    cJSON_Delete(root);
    return counter;
}

static void pk_checkin(uint64_t counter, const uint8_t nonce[16], bool corrupt, long want)
{
    uint8_t sig[64];
    char n64[32], s64[100], body[300], u[512];
    struct t_resp r;

    assert_int_equal(owb_pk_checkin_sign(F.pk_sk, "pk-0", counter, nonce, sig), OWB_OK);
    if (corrupt)
        sig[5] ^= 0x20;
    owb_b64_encode(nonce, 16, n64, sizeof n64);
    owb_b64_encode(sig, 64, s64, sizeof s64);
    snprintf(body, sizeof body, "{\"counter\":%llu,\"nonce\":\"%s\",\"signature\":\"%s\"}",
             (unsigned long long)counter, n64, s64);
    t_url(u, "/v1/devices/pk-0/checkin");
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, want, NULL);
}

/* A pk-suite device beside the symmetric ones: imported from a record
 * with only its public key, set up in both modes (the bundle signed by
 * the server's key from 'owb-server signing-key public', opened with the
 * device's secret key), checked in with a signature. */
static void test_pk_suite(void **state)
{
    (void)state;
    char out[4096], body[2048], ssid[64];
    uint8_t app_key[32], nonce[16], blob[OWB_WIFI_BLOB_MAX];
    char blob64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
    size_t len;
    struct t_resp r;

    t_pk_device_add();
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "pk-0", NULL), 0);
    assert_non_null(strstr(out, "suite:      pk"));

    /* Server-sealed. */
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    t_setup_req("pk-0", body, F.token, &r);
    uint64_t c1 = open_pk_answer(&r, app_key, ssid, sizeof ssid);
    t_resp_free(&r);
    assert_string_equal(ssid, T_SSID);

    /* App-sealed. */
    const char *w = "{\"ssid\":\"Phone Net\",\"security\":\"wpa3-sae\",\"psk\":\"from the phone\"}";
    randombytes_buf(app_key, sizeof app_key);
    assert_int_equal(owb_wifi_blob_seal(app_key, "pk-0", (const uint8_t *)w, strlen(w), NULL, blob,
                                        sizeof blob, &len),
                     OWB_OK);
    owb_b64_encode(blob, len, blob64, sizeof blob64);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", F.pk_claim, blob64);
    t_setup_req("pk-0", body, NULL, &r);
    uint64_t c2 = open_pk_answer(&r, app_key, ssid, sizeof ssid);
    t_resp_free(&r);
    assert_string_equal(ssid, "Phone Net");
    assert_true(c2 > c1);

    /* Check-in: a wrong signature, then the right one, then its replay;
     * a MAC where a signature belongs. */
    randombytes_buf(nonce, sizeof nonce);
    pk_checkin(c2, nonce, true, 401);
    pk_checkin(c2, nonce, false, 200);
    pk_checkin(c2, nonce, false, 409);
    char u[512];
    t_url(u, "/v1/devices/pk-0/checkin");
    const char *mac_body = "{\"counter\":1,\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"mac\":"
                           "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    t_http("POST", u, NULL, mac_body, strlen(mac_body), &r);
    t_expect(&r, 400, NULL);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "pk-0", NULL), 0);
    assert_non_null(strstr(out, "state:      online"));
}

/* Someone with write access to the database but not the master key
 * changes where devices go: a network turned open and renamed, a device
 * moved to another network, a pk device's public key swapped for one they
 * hold. Each is refused at setup (and check-in) with a log line naming
 * the row; restored, it works again. Rows without a MAC (from before row
 * MACs) are refused until seal-rows vouches for them; seal-rows never
 * seals a row whose MAC is wrong unless told to. */
static void expect_refused(const char *id, const char *claim, const char *row_name)
{
    char body[1024], *log;
    uint8_t app_key[32];
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, claim, app_key);
    t_setup_req(id, body, F.token, &r);
    t_expect(&r, 500, "\"internal\"");
    log = t_log(&F.srv);
    if (!strstr(log, row_name))
        fail_msg("no \"%s\" in the server's log, which ends:\n%s", row_name,
                 log + (strlen(log) > 600 ? strlen(log) - 600 : 0));
    free(log);
}

static void expect_setup_ok(const char *id, const struct owb_record *dev)
{
    char body[1024];
    uint8_t app_key[32];
    struct t_opened o;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, dev->claim_code, app_key);
    t_setup_req(id, body, F.token, &r);
    t_open_answer(&r, dev, &o);
    t_resp_free(&r);
}

static void test_row_tampering(void **state)
{
    (void)state;
    char out[4096], body[1024];
    uint8_t app_key[32], other_pk[32], other_sk[64];
    struct t_resp r;
    struct t_db *db = t_db_open();

    t_pk_device_add(); /* whose key is swapped below */
    expect_setup_ok("dev-0", &F.dev[0]);

    /* The network: open and renamed, then put back. */
    t_db_sql(db, "UPDATE networks SET security = 'open', ssid = 'Attacker' WHERE name = 'home'");
    expect_refused("dev-0", F.dev[0].claim_code, "networks row home does not match its row MAC");
    t_db_sql(db, "UPDATE networks SET security = 'wpa2-psk', ssid = '" T_SSID "' "
                 "WHERE name = 'home'");
    expect_setup_ok("dev-0", &F.dev[0]);
    t_db_sql(db, "UPDATE networks SET hidden = NOT hidden WHERE name = 'home'");
    expect_refused("dev-0", F.dev[0].claim_code, "networks row home does not match");
    t_db_sql(db, "UPDATE networks SET hidden = NOT hidden WHERE name = 'home'");

    /* A device moved to a network the attacker added (an open one needs
     * no sealed PSK, so the row itself could be written without a key). */
    assert_int_equal(t_admin(NULL, out, sizeof out, "network", "add", "lobby", "--ssid", "Lobby",
                             "--security", "open", NULL),
                     0);
    t_db_sql(db, "UPDATE devices SET network = 'lobby' WHERE id = 'dev-0'");
    expect_refused("dev-0", F.dev[0].claim_code, "devices row dev-0 does not match its row MAC");
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "row:        does not match its row MAC"));
    /* assign does not vouch for a changed row either. */
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "assign", "dev-0", "--network", "home", NULL), 1);
    t_db_sql(db, "UPDATE devices SET network = 'home' WHERE id = 'dev-0'");
    expect_setup_ok("dev-0", &F.dev[0]);

    /* A pk device's public key swapped: setup and check-in refuse it
     * (the server would otherwise seal the premises password to it). */
    crypto_sign_keypair(other_pk, other_sk);
    char sql[256], hex[65];
    sodium_bin2hex(hex, sizeof hex, other_pk, 32);
#ifdef OWB_TEST_PG
    snprintf(sql, sizeof sql, "UPDATE devices SET public_key = '\\x%s' WHERE id = 'pk-0'", hex);
#else
    snprintf(sql, sizeof sql, "UPDATE devices SET public_key = x'%s' WHERE id = 'pk-0'", hex);
#endif
    t_db_sql(db, "CREATE TABLE saved_pk AS SELECT public_key FROM devices WHERE id = 'pk-0'");
    t_db_sql(db, sql);
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    t_setup_req("pk-0", body, F.token, &r);
    t_expect(&r, 500, NULL);
    pk_checkin(1, app_key /* any 16 bytes */, false, 500);
    t_db_sql(db, "UPDATE devices SET public_key = (SELECT public_key FROM saved_pk) "
                 "WHERE id = 'pk-0'");
    t_db_sql(db, "DROP TABLE saved_pk");

    /* Rows from before row MACs: refused until seal-rows. */
    t_db_sql(db, "UPDATE devices SET row_mac = NULL WHERE id IN ('dev-0', 'dev-1')");
    t_db_sql(db, "UPDATE networks SET row_mac = NULL WHERE name = 'lobby'");
    expect_refused("dev-0", F.dev[0].claim_code, "devices row dev-0 has no row MAC");
    assert_int_equal(t_admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 1);
    assert_non_null(strstr(out, "3 row(s) without a MAC, 0 with a wrong one"));
    /* A row changed as well as one with no MAC: the first is sealed, the
     * second stays refused until --force. */
    t_db_sql(db, "UPDATE devices SET network = NULL WHERE id = 'dev-3'");
    assert_int_equal(t_admin(NULL, out, sizeof out, "seal-rows", NULL), 1);
    assert_non_null(strstr(out, "devices dev-3: does not match its row MAC"));
    assert_non_null(strstr(out, "3 row(s) sealed"));
    expect_setup_ok("dev-0", &F.dev[0]);
    assert_int_equal(t_admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 1);
    assert_non_null(strstr(out, "0 row(s) without a MAC, 1 with a wrong one"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "seal-rows", "--force", NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 0);
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "assign", "dev-3", "--network", "home", NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "network", "remove", "lobby", NULL), 0);
    t_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_idempotent_and_conflict),
        cmocka_unit_test(test_server_sealed),
        cmocka_unit_test(test_app_sealed),
        cmocka_unit_test(test_counters_increase_across_restart),
        cmocka_unit_test(test_counters_after_sigkill),
        cmocka_unit_test(test_installer_token),
        cmocka_unit_test(test_claim_lockout),
        cmocka_unit_test(test_pk_suite),
        cmocka_unit_test(test_row_tampering),
    };
    return T_WORLD_RUN(tests);
}
