/* owb-server against a real process on 127.0.0.1, a real HTTP client and
 * a real SQLite file in a temporary directory; built a second time with
 * OWB_TEST_PG (test_server_pg), the same tests run against a real
 * PostgreSQL server that the test starts itself, plus the tests of several
 * instances on one database. */
#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ftw.h>
#include <sodium.h>
#ifdef OWB_TEST_PG
#include <libpq-fe.h>
#else
#include <sqlite3.h>
#endif

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/fileio.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/record.h"
#include "owb/wifi.h"
#include "hostile.h"
#ifdef OWB_TEST_PG
#include "pg.h"
#endif
#include "proc.h"

#define N_DEV 4
#define PSK "correct \"horse\" $(battery) \\ staple"
#define CLAIM_WINDOW "2"

struct fixture {
    char *dir;
    char db[4096], key[4096], records[4096];
    char token[128];
    struct owb_record dev[N_DEV];
    struct t_proc srv;
    char base[64];
#ifdef OWB_TEST_PG
    struct t_pg pg;
#endif
    /* The pk-suite device of test_pk_suite: its secrets, which the
     * database must never hold. */
    uint8_t pk_sk[64], pk_pk[32], srv_pk[32];
    char pk_ap[OWB_AP_PASSPHRASE_SIZE], pk_claim[OWB_CLAIM_SIZE];
};

static struct fixture F;

/* Runs owb-server with the fixture's db and key; argv ends with NULL. */
static int admin(const char *input, char *out, size_t cap, ...)
{
    char *argv[32];
    int n = 0;
    va_list ap;

    argv[n++] = OWB_SERVER_BIN;
    va_start(ap, cap);
    for (char *a; (a = va_arg(ap, char *)) != NULL && n < 26;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--db";
    argv[n++] = F.db;
    argv[n++] = "--master-key";
    argv[n++] = F.key;
    argv[n] = NULL;
    return t_run(argv, input, out, cap);
}

static void start_server(struct t_proc *p, const char *name, char *rate)
{
    char *argv[] = {OWB_SERVER_BIN,
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--db",
                    F.db,
                    "--master-key",
                    F.key,
                    "--rate-limit",
                    rate,
                    "--rate-burst",
                    "3",
                    "--checkin-rate",
                    rate,
                    "--checkin-burst",
                    "3",
                    "--claim-max-failures",
                    "3",
                    "--claim-window",
                    CLAIM_WINDOW,
                    "--device-ap-url",
                    "http://192.168.3.1/",
                    "--metrics-listen",
                    "127.0.0.1:0",
                    NULL};
    t_start(p, F.dir, name, argv);
}

static void write_records(const char *path, const struct owb_record *recs, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        char line[OWB_RECORD_LINE_MAX + 2];
        size_t len;
        assert_int_equal(owb_record_to_line(&recs[i], line, sizeof line, &len), OWB_OK);
        fwrite(line, 1, len, f);
    }
    fclose(f);
}

static int setup(void **state)
{
    char out[4096];
    (void)state;
    if (owb_init() != OWB_OK)
        return -1;
    F.dir = t_tmpdir();
#ifdef OWB_TEST_PG
    t_pg_start(&F.pg);
    snprintf(F.db, sizeof F.db, "%s", F.pg.dsn);
#else
    snprintf(F.db, sizeof F.db, "%s/owb.db", F.dir);
#endif
    snprintf(F.key, sizeof F.key, "%s/master.key", F.dir);
    snprintf(F.records, sizeof F.records, "%s/records.jsonl", F.dir);
    for (int i = 0; i < N_DEV; i++) {
        snprintf(F.dev[i].device_id, sizeof F.dev[i].device_id, "dev-%d", i);
        randombytes_buf(F.dev[i].device_key, 32);
        owb_claim_generate(F.dev[i].claim_code);
    }
    write_records(F.records, F.dev, N_DEV);
    if (admin(NULL, out, sizeof out, "init", NULL) != 0)
        return -1;
    if (admin(NULL, out, sizeof out, "device", "import", F.records, NULL) != 0)
        return -1;
    if (!strstr(out, "imported 4 new"))
        return -1;
    if (admin(PSK "\n", out, sizeof out, "network", "add", "home", "--ssid", "Caf\xc3\xa9 \"Net\"",
              "--security", "wpa2-psk", NULL) != 0)
        return -1;
    if (admin(NULL, out, sizeof out, "device", "assign", "dev-0", "dev-1", "dev-3", "--network",
              "home", NULL) != 0)
        return -1;
    if (admin(NULL, out, sizeof out, "token", "create", "--label", "installer-1", NULL) != 0)
        return -1;
    snprintf(F.token, sizeof F.token, "%.*s", (int)strcspn(out, "\n"), out);
    start_server(&F.srv, "server", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_stop(&F.srv, SIGTERM);
#ifdef OWB_TEST_PG
    t_pg_stop(&F.pg);
#endif
    t_rmtree(F.dir);
    free(F.dir);
    return 0;
}

static void url(char *out, const char *path)
{
    snprintf(out, 512, "%s%s", F.base, path);
}

/* POST /v1/setup/{id}; auth NULL for none. */
static void setup_req(const char *id, const char *body, const char *auth, struct t_resp *r)
{
    char u[512], path[128], hdr[256];
    const char *headers[] = {"Content-Type: application/json", NULL, NULL};
    snprintf(path, sizeof path, "/v1/setup/%s", id);
    url(u, path);
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", auth);
        headers[1] = hdr;
    }
    t_http("POST", u, headers, body, strlen(body), r);
}

static void server_sealed_body(char *out, size_t cap, const char *claim, const uint8_t app_key[32])
{
    char ak[64];
    assert_int_equal(owb_b64_encode(app_key, 32, ak, sizeof ak), OWB_OK);
    snprintf(out, cap, "{\"claim\":\"%s\",\"app_key\":\"%s\"}", claim, ak);
}

struct opened {
    uint64_t counter;
    struct owb_payload p;
    char session[128];
    char ap_ssid[64], ap_pass[64];
};

/* Opens a 200 answer's bundle with the device key, as the device would. */
static void open_answer(const struct t_resp *r, const struct owb_record *dev, struct opened *o)
{
    cJSON *root = NULL;
    uint8_t kb[32], bundle[OWB_BUNDLE_MAX], p[OWB_PAYLOAD_MAX];
    size_t blen, plen;
    struct owb_bundle_header h;
    const cJSON *ap;
    uint64_t counter;

    assert_int_equal(r->status, 200);
    assert_int_equal(owb_json_parse(r->body, r->len, &root), OWB_OK);
    assert_string_equal(owb_json_string(root, "device_id"), dev->device_id);
    assert_int_equal(owb_json_uint(root, "counter", &counter), OWB_OK);
    const char *b = owb_json_string(root, "bundle");
    assert_non_null(b);
    assert_int_equal(owb_b64_decode(b, strlen(b), bundle, sizeof bundle, &blen), OWB_OK);
    assert_int_equal(owb_bundle_header_parse(bundle, blen, &h), OWB_OK);
    assert_string_equal(h.device_id, dev->device_id);
    assert_true(h.counter == counter);
    owb_kdf_bundle_key(kb, dev->device_key);
    assert_int_equal(owb_bundle_open(kb, &h, bundle, blen, p, sizeof p, &plen), OWB_OK);
    assert_int_equal(owb_payload_parse((const char *)p, plen, &o->p), OWB_OK);
    o->counter = counter;
    snprintf(o->session, sizeof o->session, "%s", owb_json_string(root, "session"));
    ap = cJSON_GetObjectItemCaseSensitive(root, "device_ap");
    snprintf(o->ap_ssid, sizeof o->ap_ssid, "%s", owb_json_string(ap, "ssid"));
    snprintf(o->ap_pass, sizeof o->ap_pass, "%s", owb_json_string(ap, "passphrase"));
    assert_string_equal(owb_json_string(ap, "url"), "http://192.168.3.1/");
    cJSON_Delete(root);
}

static void test_import_idempotent_and_conflict(void **state)
{
    (void)state;
    char out[4096], path[4096];
    struct owb_record recs[2];

    assert_int_equal(admin(NULL, out, sizeof out, "device", "import", F.records, NULL), 0);
    assert_non_null(strstr(out, "imported 0 new device(s), 4 already present"));

    /* A new device plus a known id with another key: nothing is imported. */
    memset(recs, 0, sizeof recs);
    strcpy(recs[0].device_id, "dev-new");
    randombytes_buf(recs[0].device_key, 32);
    strcpy(recs[1].device_id, "dev-2");
    randombytes_buf(recs[1].device_key, 32);
    snprintf(path, sizeof path, "%s/conflict.jsonl", F.dir);
    write_records(path, recs, 2);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "import", path, NULL), 1);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-new", NULL), 1);

    /* A malformed line names the file and line, and nothing is imported. */
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"device_id\":\"dev-x\",\"device_key\":"
               "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\nnot json\n");
    fclose(f);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "import", path, NULL), 1);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-x", NULL), 1);

    assert_int_equal(admin(NULL, out, sizeof out, "device", "list", NULL), 0);
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
    struct opened o;
    struct owb_wifi wifi;

    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.dev[0].claim_code, app_key);
    setup_req("dev-0", body, F.token, &r);
    open_answer(&r, &F.dev[0], &o);
    t_resp_free(&r);

    /* The inner layer opens with the phone's app key and holds the network. */
    assert_int_equal(
        owb_wifi_blob_open(app_key, "dev-0", o.p.wifi_blob, o.p.wifi_blob_len, w, sizeof w, &wlen),
        OWB_OK);
    assert_int_equal(owb_wifi_parse((const char *)w, wlen, &wifi), OWB_OK);
    assert_string_equal(wifi.ssid, "Caf\xc3\xa9 \"Net\"");
    assert_string_equal(wifi.psk, PSK);
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
    server_sealed_body(body, sizeof body, typed, app_key);
    setup_req("dev-0", body, F.token, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);

    /* No network assigned (dev-2): a clear 409. */
    server_sealed_body(body, sizeof body, F.dev[2].claim_code, app_key);
    setup_req("dev-2", body, F.token, &r);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "No network is assigned"));
    t_resp_free(&r);
}

static void test_app_sealed(void **state)
{
    (void)state;
    uint8_t app_key[32], blob[OWB_WIFI_BLOB_MAX];
    char blob_b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)], body[2048];
    const char *w = "{\"ssid\":\"MyOwn\",\"security\":\"wpa3-sae\",\"psk\":\"phone-only-secret\"}";
    size_t blen;
    struct t_resp r;
    struct opened o;

    randombytes_buf(app_key, sizeof app_key);
    assert_int_equal(owb_wifi_blob_seal(app_key, "dev-2", (const uint8_t *)w, strlen(w), NULL, blob,
                                        sizeof blob, &blen),
                     OWB_OK);
    assert_int_equal(owb_b64_encode(blob, blen, blob_b64, sizeof blob_b64), OWB_OK);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", F.dev[2].claim_code,
             blob_b64);
    /* No installer token needed. */
    setup_req("dev-2", body, NULL, &r);
    open_answer(&r, &F.dev[2], &o);
    t_resp_free(&r);
    assert_int_equal(o.p.wifi_blob_len, blen);
    assert_memory_equal(o.p.wifi_blob, blob, blen);

    /* Both or neither of app_key and wifi: 400. */
    snprintf(body, sizeof body, "{\"claim\":\"%s\"}", F.dev[2].claim_code);
    setup_req("dev-2", body, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"error\":\"bad_request\""));
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\",\"app_key\":\"x\"}",
             F.dev[2].claim_code, blob_b64);
    setup_req("dev-2", body, NULL, &r);
    assert_int_equal(r.status, 400);
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"!!\"}", F.dev[2].claim_code);
    setup_req("dev-2", body, NULL, &r);
    assert_int_equal(r.status, 400);
    t_resp_free(&r);
}

static uint64_t issue_one(const char *id, const char *claim, struct opened *o)
{
    uint8_t app_key[32];
    char body[512];
    struct t_resp r;
    struct owb_record *dev = NULL;

    for (int i = 0; i < N_DEV; i++)
        if (!strcmp(F.dev[i].device_id, id))
            dev = &F.dev[i];
    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, claim, app_key);
    setup_req(id, body, F.token, &r);
    open_answer(&r, dev, o);
    t_resp_free(&r);
    return o->counter;
}

static void test_counters_increase_across_restart(void **state)
{
    (void)state;
    struct opened o;
    uint64_t last = 0;

    for (int i = 0; i < 5; i++) {
        uint64_t c = issue_one("dev-1", F.dev[1].claim_code, &o);
        assert_true(c > last);
        last = c;
    }
    assert_int_equal(t_stop(&F.srv, SIGTERM), 0);
    char *log = t_log(&F.srv);
    assert_non_null(strstr(log, "SIGTERM received"));
    free(log);
    start_server(&F.srv, "server2", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    assert_true(issue_one("dev-1", F.dev[1].claim_code, &o) == last + 1);
}

static void test_installer_token(void **state)
{
    (void)state;
    uint8_t app_key[32];
    char body[512], out[4096], token2[128];
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.dev[3].claim_code, app_key);
    setup_req("dev-3", body, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "\"error\":\"unauthorized\""));
    t_resp_free(&r);
    setup_req("dev-3", body, "owbt_wrongwrongwrongwrongwrongwrongwrongwrongwro", &r);
    assert_int_equal(r.status, 401);
    t_resp_free(&r);

    /* A second token works until it is revoked; the first keeps working. */
    assert_int_equal(admin(NULL, out, sizeof out, "token", "create", "--label", "temp", NULL), 0);
    snprintf(token2, sizeof token2, "%.*s", (int)strcspn(out, "\n"), out);
    setup_req("dev-3", body, token2, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);
    assert_int_equal(admin(NULL, out, sizeof out, "token", "revoke", "temp", NULL), 0);
    setup_req("dev-3", body, token2, &r);
    assert_int_equal(r.status, 401);
    t_resp_free(&r);
    setup_req("dev-3", body, F.token, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);
    assert_int_equal(admin(NULL, out, sizeof out, "token", "list", NULL), 0);
    assert_non_null(strstr(out, "revoked"));
    /* The list shows labels, never a token. */
    assert_null(strstr(out, "owbt_"));
}

/* setup_req from another client address. */
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

struct guesser {
    const char *base;
    char from[32], body[512];
    long status;
    pthread_barrier_t *go;
};

static void *guess(void *arg)
{
    struct guesser *g = arg;
    struct t_resp r;
    pthread_barrier_wait(g->go);
    setup_from(g->from, g->base, "dev-1", g->body, &r);
    g->status = r.status;
    t_resp_free(&r);
    return NULL;
}

/* Wrong claims do not lock the owner out. Each client address has a
 * budget of wrong claims; past --claim-max-failures attempts the device
 * takes one try per delay (2 s, 4 s ... 60 s) instead of locking for the
 * window; the right claim from another address gets through; `device
 * show` says when it is slowed down and `device unlock` lifts it. Every
 * attempt is counted in one statement before it is checked: 30 wrong
 * claims at once from 30 addresses get 4 checks, not 30. */
static void expect_status(struct t_resp *r, long status, const char *code)
{
    if (r->status != status || (code && !strstr(r->body, code)))
        fail_msg("want %ld %s, got %ld %s", status, code ? code : "", r->status, r->body);
    t_resp_free(r);
}

static void test_claim_lockout(void **state)
{
    (void)state;
    uint8_t app_key[32];
    char wrong[512], right[512], base[64], out[4096];
    char *argv[] = {OWB_SERVER_BIN,
                    "serve",
                    "--metrics-listen",
                    "off",
                    "--listen",
                    "127.0.0.1:0",
                    "--db",
                    F.db,
                    "--master-key",
                    F.key,
                    "--rate-limit",
                    "0",
                    "--claim-max-failures",
                    "3",
                    "--claim-window",
                    "3600",
                    NULL};
    struct t_proc p;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(wrong, sizeof wrong, "0000000000000000", app_key);
    server_sealed_body(right, sizeof right, F.dev[3].claim_code, app_key);
    t_start(&p, F.dir, "claims", argv);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);

    /* One guesser: three wrong claims, then its own budget is spent... */
    for (int i = 0; i < 3; i++) {
        setup_from("127.0.0.2", base, "dev-3", wrong, &r);
        expect_status(&r, 403, "claim_rejected");
    }
    setup_from("127.0.0.2", base, "dev-3", wrong, &r);
    expect_status(&r, 429, "rate_limited");
    assert_non_null(strstr(r.headers, "Retry-After"));
    t_resp_free(&r);
    /* ...while the owner, elsewhere, gets in at once. */
    setup_from("127.0.0.3", base, "dev-3", right, &r);
    expect_status(&r, 200, NULL);

    /* Guessers at several addresses: past three attempts the device slows
     * down; even the right claim waits, for seconds, not an hour. */
    for (int i = 0; i < 4; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.0.%d", 4 + i);
        setup_from(from, base, "dev-3", wrong, &r);
        expect_status(&r, 403, "claim_rejected");
    }
    setup_from("127.0.0.9", base, "dev-3", right, &r);
    expect_status(&r, 429, "locked");
    const char *ra = strstr(r.headers, "Retry-After: ");
    assert_non_null(ra);
    assert_true(atoi(ra + 13) >= 1 && atoi(ra + 13) <= 2);
    t_resp_free(&r);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-3", NULL), 0);
    assert_non_null(strstr(out, "4 wrong claim(s) in the window; slowed down: next try after"));
    assert_int_equal(admin(NULL, out, sizeof out, "device", "unlock", "dev-3", NULL), 0);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-3", NULL), 0);
    assert_non_null(strstr(out, "0 wrong claim(s) in the window; not slowed down"));
    setup_from("127.0.0.9", base, "dev-3", right, &r);
    expect_status(&r, 200, NULL);

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
        server_sealed_body(g[i].body, sizeof g[i].body, "0000000000000000", app_key);
        pthread_create(&t[i], NULL, guess, &g[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        checked += g[i].status == 403;
        slowed += g[i].status == 429;
    }
    pthread_barrier_destroy(&go);
    print_message("30 wrong claims at once: %d checked, %d slowed down\n", checked, slowed);
    /* 3, plus one per delay that passed during the burst (2 s, then 4 s). */
    assert_true(checked >= 4 && checked <= 5);
    assert_int_equal(checked + slowed, N);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "unlock", "dev-1", NULL), 0);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "unlock", "nobody-here", NULL), 1);
    assert_int_equal(t_stop(&p, SIGTERM), 0);

    /* The fixture's 2 s window: attempts are forgotten once it has passed. */
    for (int i = 0; i < 3; i++) {
        setup_req("dev-3", wrong, F.token, &r);
        expect_status(&r, 403, "claim_rejected");
    }
    sleep(atoi(CLAIM_WINDOW) + 1);
    setup_req("dev-3", right, F.token, &r);
    expect_status(&r, 200, NULL);
}

static void checkin_body(char *out, size_t cap, const struct owb_record *dev, uint64_t counter,
                         const uint8_t nonce[16], bool corrupt)
{
    uint8_t kc[32], mac[32];
    char n64[32], m64[64];
    owb_kdf_checkin_key(kc, dev->device_key);
    assert_int_equal(owb_checkin_mac(kc, dev->device_id, counter, nonce, mac), OWB_OK);
    if (corrupt)
        mac[0] ^= 1;
    owb_b64_encode(nonce, 16, n64, sizeof n64);
    owb_b64_encode(mac, 32, m64, sizeof m64);
    snprintf(out, cap, "{\"counter\":%llu,\"nonce\":\"%s\",\"mac\":\"%s\"}",
             (unsigned long long)counter, n64, m64);
}

enum { RACERS = 8, PER_RACER = 20 };

struct racer {
    pthread_barrier_t *go;
    const char *body; /* a check-in body, or NULL for setups */
    uint64_t counters[PER_RACER];
    char sessions[PER_RACER][64];
    long status;
};

/* n server-sealed setups for dev-<dev> through base, one after another,
 * each answered 200: counters and sessions of the bundles, *answered
 * counted as they come (another thread may watch it). When may_lose (its
 * server is killed meanwhile), a request with no answer ends the series. */
static void setup_series(const char *base, int dev, int n, bool may_lose, _Atomic int *answered,
                         uint64_t *counters, char (*sessions)[64])
{
    char u[512], hdr[256], body[512];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    uint8_t app_key[32];

    snprintf(u, sizeof u, "%s/v1/setup/dev-%d", base, dev);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    for (int i = 0; i < n; i++) {
        struct t_resp r;
        cJSON *root = NULL;
        randombytes_buf(app_key, sizeof app_key);
        server_sealed_body(body, sizeof body, F.dev[dev].claim_code, app_key);
        if (!t_http_try("POST", u, headers, body, strlen(body), &r)) {
            if (may_lose)
                return;
            fail_msg("%s: no answer", u);
        }
        if (r.status != 200)
            fail_msg("%s: %ld %s", u, r.status, r.body);
        assert_int_equal(owb_json_parse(r.body, r.len, &root), OWB_OK);
        assert_int_equal(owb_json_uint(root, "counter", &counters[i]), OWB_OK);
        snprintf(sessions[i], 64, "%s", owb_json_string(root, "session"));
        cJSON_Delete(root);
        t_resp_free(&r);
        (*answered)++;
    }
}

static void *racer_run(void *arg)
{
    struct racer *r = arg;
    char u[512];
    struct t_resp resp;
    _Atomic int answered = 0;

    pthread_barrier_wait(r->go);
    if (r->body) {
        url(u, "/v1/devices/dev-0/checkin");
        t_http("POST", u, NULL, r->body, strlen(r->body), &resp);
        r->status = resp.status;
        t_resp_free(&resp);
        return NULL;
    }
    setup_series(F.base, 0, PER_RACER, false, &answered, r->counters, r->sessions);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
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
    char body[512], u[512], path[256];
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
            snprintf(path, sizeof path, "/v1/sessions/%s", r[i].sessions[k]);
            struct t_resp resp;
            url(u, path);
            t_http("GET", u, NULL, NULL, 0, &resp);
            assert_int_equal(resp.status, 200);
            t_resp_free(&resp);
        }
    qsort(all, RACERS * PER_RACER, sizeof all[0], cmp_u64);
    for (int i = 1; i < RACERS * PER_RACER; i++)
        assert_true(all[i] > all[i - 1]);

    randombytes_buf(nonce, sizeof nonce);
    checkin_body(body, sizeof body, &F.dev[0], all[0], nonce, false);
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
    struct opened o;
    uint8_t nonce[16];
    char body[512], u[512], path[256];
    struct t_resp r;

    issue_one("dev-0", F.dev[0].claim_code, &o);
    snprintf(path, sizeof path, "/v1/sessions/%s", o.session);
    url(u, path);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"state\":\"issued\""));
    assert_non_null(strstr(r.body, "\"online_at\":null"));
    t_resp_free(&r);

    url(u, "/v1/devices/dev-0/checkin");
    randombytes_buf(nonce, sizeof nonce);
    /* Bad MAC first: refused, and it does not burn the nonce. */
    checkin_body(body, sizeof body, &F.dev[0], o.counter, nonce, true);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "\"error\":\"auth_failed\""));
    t_resp_free(&r);
    /* A counter never issued, with a valid MAC. */
    checkin_body(body, sizeof body, &F.dev[0], o.counter + 1000, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 409);
    t_resp_free(&r);
    /* Valid: accepted once, refused when replayed. */
    checkin_body(body, sizeof body, &F.dev[0], o.counter, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "\"error\":\"replayed\""));
    t_resp_free(&r);
    /* Another device's key cannot check in as dev-0. */
    randombytes_buf(nonce, sizeof nonce);
    struct owb_record imposter = F.dev[1];
    strcpy(imposter.device_id, "dev-0");
    checkin_body(body, sizeof body, &imposter, o.counter, nonce, false);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 401);
    t_resp_free(&r);

    snprintf(path, sizeof path, "/v1/sessions/%s", o.session);
    url(u, path);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"state\":\"online\""));
    assert_null(strstr(r.body, "\"online_at\":null"));
    t_resp_free(&r);
    url(u, "/v1/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    t_resp_free(&r);

    char out[4096];
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "state:      online"));
}

static void test_http_edges(void **state)
{
    (void)state;
    char u[512];
    struct t_resp r;
    size_t big = 17 * 1024;
    char *body = malloc(big + 1);

    memset(body, 'a', big);
    body[big] = '\0';
    url(u, "/v1/setup/dev-0");
    t_http("POST", u, NULL, body, big, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"error\":\"too_large\""));
    t_resp_free(&r);
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
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        url(u, cases[i].path);
        t_http(cases[i].method, u, NULL, cases[i].body, cases[i].body ? strlen(cases[i].body) : 0,
               &r);
        if (r.status != cases[i].status || !strstr(r.body, cases[i].code))
            fail_msg("%s %s: %ld %s", cases[i].method, cases[i].path, r.status, r.body);
        t_resp_free(&r);
    }

    /* Two Content-Lengths that disagree (request smuggling): 400, from
     * the head. One repeated with the same value is fine. */
    url(u, "/v1/setup/dev-0");
    const char *two_cl[] = {"Content-Length: 5", NULL};
    t_http("POST", u, two_cl, "{}", 2, &r);
    if (r.status != 400 || !strstr(r.body, "bad_request"))
        fail_msg("two Content-Lengths: %ld %s", r.status, r.body);
    t_resp_free(&r);
    const char *same_cl[] = {"Content-Length: 2", NULL};
    t_http("POST", u, same_cl, "{}", 2, &r);
    if (r.status != 400 || strstr(r.body, "disagree"))
        fail_msg("repeated Content-Length: %ld %s", r.status, r.body);
    t_resp_free(&r);

    url(u, "/healthz");
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);
    url(u, "/s/dev-0");
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'"));
    assert_non_null(strstr(r.body, "/s/assets/setup.js"));
    t_resp_free(&r);
    url(u, "/s/assets/setup.js");
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/javascript"));
    t_resp_free(&r);
    /* Not on the public listener; on its own. */
    url(u, "/metrics");
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    t_resp_free(&r);
    char *slog = t_log(&F.srv);
    const char *mp = strstr(slog, "(metrics port ");
    assert_non_null(mp);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/healthz", (unsigned)atoi(mp + 14));
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    t_resp_free(&r);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", (unsigned)atoi(mp + 14));
    free(slog);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(r.body, "owb_http_requests_total{route=\"(too large)\",status=\"413\"}"));
    assert_non_null(strstr(r.body, "owb_bundles_issued_total{mode=\"server-sealed\"}"));
    assert_non_null(strstr(r.body, "owb_http_request_duration_seconds_bucket"));
    t_resp_free(&r);

    /* The log names routes, never a session token or a claim. */
    char *log = t_log(&F.srv);
    assert_non_null(strstr(log, "POST /v1/setup/{id} 200"));
    assert_null(strstr(log, "/v1/sessions/A"));
    for (int i = 0; i < N_DEV; i++)
        assert_null(strstr(log, F.dev[i].claim_code));
    free(log);
}

static void test_rate_limit(void **state)
{
    (void)state;
    struct t_proc p;
    char u[512];
    struct t_resp r;
    long last = 0;

    start_server(&p, "ratelimited", "0.5");
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/setup/nobody", p.port);
    for (int i = 0; i < 4; i++) {
        t_http("POST", u, NULL, "{}", 2, &r);
        last = r.status;
        if (i < 3)
            assert_int_equal(r.status, 400);
        else
            assert_non_null(strstr(r.headers, "Retry-After: "));
        t_resp_free(&r);
    }
    assert_int_equal(last, 429);
    /* Check-ins have a budget of their own, per device: a flood of
     * check-ins for one device is slowed down, another device is not. */
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/devices/dev-0/checkin", p.port);
    for (int i = 0; i < 4; i++) {
        t_http("POST", u, NULL, "{}", 2, &r);
        if (i < 3)
            assert_int_equal(r.status, 400);
        else {
            assert_int_equal(r.status, 429);
            assert_non_null(strstr(r.body, "rate_limited"));
            assert_non_null(strstr(r.headers, "Retry-After: "));
        }
        t_resp_free(&r);
    }
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/devices/dev-1/checkin", p.port);
    t_http("POST", u, NULL, "{}", 2, &r);
    assert_int_equal(r.status, 400);
    t_resp_free(&r);
    assert_int_equal(t_stop(&p, SIGINT), 0);
}

static void test_master_key_refusals(void **state)
{
    (void)state;
    char other[4096], out[4096];
    char *argv[] = {OWB_SERVER_BIN, "serve", "--metrics-listen", "off", "--listen", "127.0.0.1:0",
                    "--db",         F.db,    "--master-key",     other, NULL};
    char *init_argv[] = {OWB_SERVER_BIN, "init", "--db", "/dev/null/x",
                         "--master-key", other,  NULL};

    /* A key that is not the database's. */
    snprintf(other, sizeof other, "%s/other.key", F.dir);
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
    int answered;
    uint64_t counters[1000];
    char sessions[1000][64];
};

static void *burst_run(void *arg)
{
    struct burst *b = arg;
    uint8_t app_key[32];
    char body[512], u[512], hdr[256];
    const char *headers[] = {hdr, NULL};
    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.dev[1].claim_code, app_key);
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
                snprintf(b->sessions[b->answered], 64, "%s", owb_json_string(o, "session"));
                __atomic_add_fetch(&b->answered, 1, __ATOMIC_SEQ_CST);
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
    char u[512];

    start_server(&p, "burst", "0");
    b->p = &p;
    pthread_create(&t, NULL, burst_run, b);
    while (__atomic_load_n(&b->answered, __ATOMIC_SEQ_CST) < 40)
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    assert_int_equal(t_stop(&p, SIGKILL), 128 + SIGKILL);
    pthread_join(t, NULL);
    start_server(&p, "burst-after", "0");
    uint64_t max = 0;
    for (int i = 0; i < b->answered; i++) {
        struct t_resp r;
        snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/sessions/%s", p.port, b->sessions[i]);
        t_http("GET", u, NULL, NULL, 0, &r);
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
    struct opened o;
    assert_true(issue_one("dev-1", F.dev[1].claim_code, &o) > max);
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
    write_records(path, recs, N);
    free(recs);
    char *argv[] = {OWB_SERVER_BIN, "device",       "import", path, "--db",
                    F.db,           "--master-key", F.key,    NULL};
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
    char *show[] = {OWB_SERVER_BIN, "device",       "show", "bulk-000000", "--db",
                    F.db,           "--master-key", F.key,  NULL};
    char *last[] = {OWB_SERVER_BIN, "device",       "show", "bulk-199999", "--db",
                    F.db,           "--master-key", F.key,  NULL};
    int first = t_run(show, NULL, out, sizeof out), final = t_run(last, NULL, out, sizeof out);
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
    url(u, "/healthz");
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
    static const char *const paths[] = {
        "/v1/setup/{id}",    "/v1/setup/{id}", "/v1/devices/{id}/checkin",
        "/v1/sessions/{id}", "/s/{id}",        "/s/assets/{id}",
        "/healthz",          "/metrics",       "/{id}",
        "/v1/{id}/{id}"};
    int n = t_hostile_count();
    uint32_t seed = t_hostile_seed();
    struct t_hostile h;
    struct t_proc p;
    char u[512];

    start_server(&p, "hostile", "0");
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

struct slow_setup {
    const char *base;
    long status;
    double ms;
};

static void *slow_setup_run(void *arg)
{
    struct slow_setup *a = arg;
    uint8_t app_key[32];
    char body[512], u[512], hdr[256];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    struct timespec t0, t1;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.dev[0].claim_code, app_key);
    snprintf(u, sizeof u, "%s/v1/setup/dev-0", a->base);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    t_http("POST", u, headers, body, strlen(body), &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    a->status = r.status;
    a->ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    t_resp_free(&r);
    return NULL;
}

/* Another process's hold on what a setup for dev-0 and a claim failure
 * for dev-1 must write: SQLite's write lock, or PostgreSQL's row locks on
 * both devices (reads go on in both). */
#ifdef OWB_TEST_PG
typedef PGconn db_lock;

static void db_sql(db_lock *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

static db_lock *lock_open(void)
{
    PGconn *c = PQconnectdb(F.db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void lock_take(db_lock *db)
{
    db_sql(db, "BEGIN");
    db_sql(db, "SELECT 1 FROM devices WHERE id IN ('dev-0', 'dev-1') FOR UPDATE");
    /* Wrong claims are counted in their own table: held too. */
    db_sql(db, "LOCK TABLE claim_guard IN EXCLUSIVE MODE");
}

static void lock_close(db_lock *db)
{
    PQfinish(db);
}
#else
typedef sqlite3 db_lock;

static void db_sql(db_lock *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static db_lock *lock_open(void)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(F.db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void lock_take(db_lock *db)
{
    db_sql(db, "BEGIN EXCLUSIVE");
}

static void lock_close(db_lock *db)
{
    sqlite3_close(db);
}
#endif

/* Another process holding the database's write lock: a setup request
 * waits for it (up to --busy-timeout) and then succeeds; held past the
 * timeout, setup, check-in and a wrong claim are answered 503 with
 * Retry-After, never 500; released, the same request succeeds. */
static void test_lock_contention(void **state)
{
    (void)state;
    char *argv[] = {OWB_SERVER_BIN,
                    "serve",
                    "--metrics-listen",
                    "off",
                    "--listen",
                    "127.0.0.1:0",
                    "--db",
                    F.db,
                    "--master-key",
                    F.key,
                    "--rate-limit",
                    "0",
                    "--busy-timeout",
                    "400",
                    NULL};
    struct slow_setup a;
    struct t_proc p;
    struct t_resp r;
    char base[64], u[512], body[512];
    db_lock *db;
    pthread_t t;

    t_start(&p, F.dir, "locked", argv);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    db = lock_open();

    /* Held for 150 ms: the request waits and is answered 200. */
    a = (struct slow_setup){base, 0, 0};
    lock_take(db);
    pthread_create(&t, NULL, slow_setup_run, &a);
    nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
    db_sql(db, "COMMIT");
    pthread_join(t, NULL);
    print_message("lock held 150 ms: setup answered %ld after %.0f ms\n", a.status, a.ms);
    assert_int_equal(a.status, 200);

    /* Held past the 400 ms busy timeout: 503 + Retry-After everywhere. */
    lock_take(db);
    a = (struct slow_setup){base, 0, 0};
    slow_setup_run(&a);
    print_message("lock held: setup answered %ld after %.0f ms\n", a.status, a.ms);
    assert_int_equal(a.status, 503);
    snprintf(body, sizeof body, "{\"claim\":\"WRONG-CLAIM\",\"app_key\":\"%s\"}",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    snprintf(u, sizeof u, "%s/v1/setup/dev-1", base);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.headers, "Retry-After: "));
    assert_non_null(strstr(r.body, "\"error\":\"unavailable\""));
    t_resp_free(&r);
    uint8_t nonce[16];
    randombytes_buf(nonce, sizeof nonce);
    checkin_body(body, sizeof body, &F.dev[0], 1, nonce, false);
    snprintf(u, sizeof u, "%s/v1/devices/dev-0/checkin", base);
    t_http("POST", u, NULL, body, strlen(body), &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.headers, "Retry-After: 1"));
    t_resp_free(&r);
    /* Reads do not need the write lock. */
    snprintf(u, sizeof u, "%s/s/dev-0", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);
    db_sql(db, "ROLLBACK");

    a = (struct slow_setup){base, 0, 0};
    slow_setup_run(&a);
    assert_int_equal(a.status, 200);
    lock_close(db);
    assert_int_equal(t_stop(&p, SIGTERM), 0);
    char *log = t_log(&p);
    assert_null(strstr(log, " 500 "));
    free(log);
}

static size_t scanned_files, scanned_bytes;
static bool pk_public_seen;

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
    url(u, "/v1/devices/pk-0/checkin");
    t_http("POST", u, NULL, body, strlen(body), &r);
    if (r.status != want)
        fail_msg("pk check-in: %ld %s (wanted %ld)", r.status, r.body, want);
    t_resp_free(&r);
}

/* A pk-suite device beside the symmetric ones: imported from a record
 * with only its public key, set up in both modes (the bundle signed by
 * the server's key from 'owb-server signing-key public', opened with the
 * device's secret key), checked in with a signature. */
static void test_pk_suite(void **state)
{
    (void)state;
    struct owb_record rec = {.suite = OWB_SUITE_PK};
    char out[4096], path[4096], body[2048], ssid[64];
    uint8_t raw[16], app_key[32], nonce[16], blob[OWB_WIFI_BLOB_MAX];
    char blob64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
    size_t len;
    struct t_resp r;

    char *pub[] = {OWB_SERVER_BIN, "signing-key", "public", "--master-key", F.key, NULL};
    assert_int_equal(t_run(pub, NULL, out, sizeof out), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(owb_b64_decode_exact(out, strlen(out), F.srv_pk, 32), OWB_OK);

    strcpy(rec.device_id, "pk-0");
    crypto_sign_keypair(F.pk_pk, F.pk_sk);
    memcpy(rec.device_pk, F.pk_pk, 32);
    randombytes_buf(raw, sizeof raw);
    owb_b64_encode(raw, sizeof raw, F.pk_ap, sizeof F.pk_ap);
    memcpy(rec.ap_passphrase, F.pk_ap, sizeof F.pk_ap);
    owb_claim_generate(F.pk_claim);
    memcpy(rec.claim_code, F.pk_claim, sizeof F.pk_claim);
    snprintf(path, sizeof path, "%s/pk.jsonl", F.dir);
    char line[OWB_RECORD_LINE_MAX + 2];
    assert_int_equal(owb_record_to_line(&rec, line, sizeof line, &len), OWB_OK);
    assert_int_equal(owb_file_write_atomic(path, line, len, 0600, OWB_WRITE_REPLACE), OWB_OK);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "import", path, NULL), 0);
    assert_int_equal(
        admin(NULL, out, sizeof out, "device", "assign", "pk-0", "--network", "home", NULL), 0);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "pk-0", NULL), 0);
    assert_non_null(strstr(out, "suite:      pk"));

    /* Server-sealed. */
    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    setup_req("pk-0", body, F.token, &r);
    uint64_t c1 = open_pk_answer(&r, app_key, ssid, sizeof ssid);
    t_resp_free(&r);
    assert_string_equal(ssid, "Caf\xc3\xa9 \"Net\"");

    /* App-sealed. */
    const char *w = "{\"ssid\":\"Phone Net\",\"security\":\"wpa3-sae\",\"psk\":\"from the phone\"}";
    randombytes_buf(app_key, sizeof app_key);
    assert_int_equal(owb_wifi_blob_seal(app_key, "pk-0", (const uint8_t *)w, strlen(w), NULL, blob,
                                        sizeof blob, &len),
                     OWB_OK);
    owb_b64_encode(blob, len, blob64, sizeof blob64);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", F.pk_claim, blob64);
    setup_req("pk-0", body, NULL, &r);
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
    url(u, "/v1/devices/pk-0/checkin");
    const char *mac_body = "{\"counter\":1,\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"mac\":"
                           "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    t_http("POST", u, NULL, mac_body, strlen(mac_body), &r);
    assert_int_equal(r.status, 400);
    t_resp_free(&r);
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "pk-0", NULL), 0);
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
    server_sealed_body(body, sizeof body, claim, app_key);
    setup_req(id, body, F.token, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "\"internal\""));
    t_resp_free(&r);
    log = t_log(&F.srv);
    assert_non_null(strstr(log, row_name));
    free(log);
}

static void expect_setup_ok(const char *id, const struct owb_record *dev)
{
    char body[1024];
    uint8_t app_key[32];
    struct opened o;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, dev->claim_code, app_key);
    setup_req(id, body, F.token, &r);
    open_answer(&r, dev, &o);
    t_resp_free(&r);
}

static void test_row_tampering(void **state)
{
    (void)state;
    char out[4096], body[1024];
    uint8_t app_key[32], other_pk[32], other_sk[64];
    struct t_resp r;
    db_lock *db = lock_open();

    expect_setup_ok("dev-0", &F.dev[0]);

    /* The network: open and renamed, then put back. */
    db_sql(db, "UPDATE networks SET security = 'open', ssid = 'Attacker' WHERE name = 'home'");
    expect_refused("dev-0", F.dev[0].claim_code, "networks row home does not match its row MAC");
    db_sql(db, "UPDATE networks SET security = 'wpa2-psk', ssid = 'Caf\xc3\xa9 \"Net\"' "
               "WHERE name = 'home'");
    expect_setup_ok("dev-0", &F.dev[0]);
    db_sql(db, "UPDATE networks SET hidden = NOT hidden WHERE name = 'home'");
    expect_refused("dev-0", F.dev[0].claim_code, "networks row home does not match");
    db_sql(db, "UPDATE networks SET hidden = NOT hidden WHERE name = 'home'");

    /* A device moved to a network the attacker added (an open one needs
     * no sealed PSK, so the row itself could be written without a key). */
    assert_int_equal(admin(NULL, out, sizeof out, "network", "add", "lobby", "--ssid", "Lobby",
                           "--security", "open", NULL),
                     0);
    db_sql(db, "UPDATE devices SET network = 'lobby' WHERE id = 'dev-0'");
    expect_refused("dev-0", F.dev[0].claim_code, "devices row dev-0 does not match its row MAC");
    assert_int_equal(admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "row:        does not match its row MAC"));
    /* assign does not vouch for a changed row either. */
    assert_int_equal(
        admin(NULL, out, sizeof out, "device", "assign", "dev-0", "--network", "home", NULL), 1);
    db_sql(db, "UPDATE devices SET network = 'home' WHERE id = 'dev-0'");
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
    db_sql(db, "CREATE TABLE saved_pk AS SELECT public_key FROM devices WHERE id = 'pk-0'");
    db_sql(db, sql);
    randombytes_buf(app_key, sizeof app_key);
    server_sealed_body(body, sizeof body, F.pk_claim, app_key);
    setup_req("pk-0", body, F.token, &r);
    assert_int_equal(r.status, 500);
    t_resp_free(&r);
    pk_checkin(1, app_key /* any 16 bytes */, false, 500);
    db_sql(db, "UPDATE devices SET public_key = (SELECT public_key FROM saved_pk) "
               "WHERE id = 'pk-0'");
    db_sql(db, "DROP TABLE saved_pk");

    /* Rows from before row MACs: refused until seal-rows. */
    db_sql(db, "UPDATE devices SET row_mac = NULL WHERE id IN ('dev-0', 'dev-1')");
    db_sql(db, "UPDATE networks SET row_mac = NULL WHERE name = 'lobby'");
    expect_refused("dev-0", F.dev[0].claim_code, "devices row dev-0 has no row MAC");
    assert_int_equal(admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 1);
    assert_non_null(strstr(out, "3 row(s) without a MAC, 0 with a wrong one"));
    /* A row changed as well as one with no MAC: the first is sealed, the
     * second stays refused until --force. */
    db_sql(db, "UPDATE devices SET network = NULL WHERE id = 'dev-3'");
    assert_int_equal(admin(NULL, out, sizeof out, "seal-rows", NULL), 1);
    assert_non_null(strstr(out, "devices dev-3: does not match its row MAC"));
    assert_non_null(strstr(out, "3 row(s) sealed"));
    expect_setup_ok("dev-0", &F.dev[0]);
    assert_int_equal(admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 1);
    assert_non_null(strstr(out, "0 row(s) without a MAC, 1 with a wrong one"));
    assert_int_equal(admin(NULL, out, sizeof out, "seal-rows", "--force", NULL), 0);
    assert_int_equal(admin(NULL, out, sizeof out, "seal-rows", "--check", NULL), 0);
    assert_int_equal(
        admin(NULL, out, sizeof out, "device", "assign", "dev-3", "--network", "home", NULL), 0);
    assert_int_equal(admin(NULL, out, sizeof out, "network", "remove", "lobby", NULL), 0);
    lock_close(db);
}

/* One file the server's database is in: no key, PSK, claim or token. */
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
    for (int i = 0; i < N_DEV; i++) {
        char hex[65], b64[64];
        sodium_bin2hex(hex, sizeof hex, F.dev[i].device_key, 32);
        owb_b64_encode(F.dev[i].device_key, 32, b64, sizeof b64);
        if (memmem(data, len, F.dev[i].device_key, 32) || memmem(data, len, hex, 64) ||
            memmem(data, len, b64, strlen(b64)) || memmem(data, len, F.dev[i].claim_code, 16))
            fail_msg("%s holds dev-%d's key or claim code", path, i);
    }
    if (memmem(data, len, PSK, strlen(PSK)) || memmem(data, len, "horse", 5) ||
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

#ifdef OWB_TEST_PG
enum { PG_BURST = 600 };

/* One client of a burst: setups for one device through one instance. */
struct pg_client {
    const char *base;
    int dev;
    int n;
    bool may_lose; /* its instance is killed during the burst */
    _Atomic int answered;
    uint64_t counters[PG_BURST];
    char sessions[PG_BURST][64];
};

static void *pg_client_run(void *arg)
{
    struct pg_client *c = arg;
    setup_series(c->base, c->dev, c->n, c->may_lose, &c->answered, c->counters, c->sessions);
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
                char u[512];
                struct t_resp r;
                if (j > 0)
                    assert_true(c[i].counters[j] > c[i].counters[j - 1]);
                all[k++] = c[i].counters[j];
                snprintf(u, sizeof u, "%s/v1/sessions/%s", base, c[i].sessions[j]);
                t_http("GET", u, NULL, NULL, 0, &r);
                if (r.status != 200)
                    fail_msg("answered session of dev-%d (counter %llu) missing", dev,
                             (unsigned long long)c[i].counters[j]);
                t_resp_free(&r);
            }
        }
        qsort(all, k, sizeof *all, cmp_u64);
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

    start_server(&a, "pg-a", "0");
    start_server(&b, "pg-b", "0");
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
    char *argv[] = {OWB_SERVER_BIN,
                    "serve",
                    "--metrics-listen",
                    "off",
                    "--listen",
                    "127.0.0.1:0",
                    "--db",
                    F.db,
                    "--master-key",
                    F.key,
                    "--rate-limit",
                    "0",
                    "--busy-timeout",
                    "1000",
                    NULL};
    struct slow_setup s;
    struct t_proc p;
    char base[64];

    t_start(&p, F.dir, "pg-loss", argv);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", p.port);
    s = (struct slow_setup){base, 0, 0};
    slow_setup_run(&s);
    assert_int_equal(s.status, 200);

    t_pg_pause(&F.pg);
    for (int i = 0; i < 3; i++) {
        s = (struct slow_setup){base, 0, 0};
        slow_setup_run(&s);
        print_message("database down: setup answered %ld after %.0f ms\n", s.status, s.ms);
        assert_int_equal(s.status, 503);
        assert_true(s.ms < 15000);
    }
    struct t_resp r;
    char u[512];
    snprintf(u, sizeof u, "%s/healthz", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    t_resp_free(&r);

    t_pg_resume(&F.pg);
    s = (struct slow_setup){base, 0, 0};
    slow_setup_run(&s);
    print_message("database back: setup answered %ld after %.0f ms\n", s.status, s.ms);
    assert_int_equal(s.status, 200);
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
    char *list[] = {OWB_SERVER_BIN, "device", "list", "--db", dsn, "--master-key", F.key, NULL};
    assert_int_equal(t_run_err(list, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "never initialised"));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_idempotent_and_conflict),
        cmocka_unit_test(test_server_sealed),
        cmocka_unit_test(test_app_sealed),
        cmocka_unit_test(test_counters_increase_across_restart),
        cmocka_unit_test(test_installer_token),
        cmocka_unit_test(test_claim_lockout),
        cmocka_unit_test(test_checkin_and_session),
        cmocka_unit_test(test_concurrent_setups_and_checkins),
        cmocka_unit_test(test_http_edges),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_master_key_refusals),
        cmocka_unit_test(test_kill_mid_burst),
        cmocka_unit_test(test_kill_mid_import),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_hostile_requests),
        cmocka_unit_test(test_lock_contention),
        cmocka_unit_test(test_pk_suite),
        cmocka_unit_test(test_row_tampering),
        cmocka_unit_test(test_no_secret_in_database),
#ifdef OWB_TEST_PG
        cmocka_unit_test(test_pg_two_instances),
        cmocka_unit_test(test_pg_connection_loss),
        cmocka_unit_test(test_pg_concurrent_init),
#endif
    };
#ifdef OWB_TEST_PG
    if (!t_pg_available(&F.pg)) {
        print_message("PostgreSQL is not installed (Debian package postgresql): skipped\n");
        return 77;
    }
#endif
    return cmocka_run_group_tests(tests, setup, teardown);
}
