#include "server_fixture.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#ifdef OWB_TEST_PG
#include <libpq-fe.h>
#else
#include <sqlite3.h>
#endif

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/fileio.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/mem.h"

struct t_world F;

bool t_world_available(void)
{
#ifdef OWB_TEST_PG
    if (!t_pg_available(&F.pg)) {
        print_message("PostgreSQL is not installed (Debian package postgresql): skipped\n");
        return false;
    }
#endif
    return true;
}

/* argv: owb-server, head (NULL-terminated), the strings of ap up to NULL,
 * then the world's database and key. */
static void build_argv(char *argv[T_ARGV_MAX], const char *const *head, const char *key, va_list ap)
{
    int n = 0;

    argv[n++] = OWB_SERVER_BIN;
    for (; head && *head; head++)
        argv[n++] = (char *)*head;
    for (char *a; (a = va_arg(ap, char *)) != NULL;) {
        assert_true(n < T_ARGV_MAX - 5);
        argv[n++] = a;
    }
    argv[n++] = "--db";
    argv[n++] = F.db;
    argv[n++] = "--master-key";
    argv[n++] = (char *)(key ? key : F.key);
    argv[n] = NULL;
}

void t_admin_argv(char *argv[T_ARGV_MAX], const char *key, ...)
{
    va_list ap;

    va_start(ap, key);
    build_argv(argv, NULL, key, ap);
    va_end(ap);
}

int t_admin(const char *input, char *out, size_t cap, ...)
{
    char *argv[T_ARGV_MAX];
    va_list ap;

    va_start(ap, cap);
    build_argv(argv, NULL, NULL, ap);
    va_end(ap);
    return t_run(argv, input, out, cap);
}

void t_serve(struct t_proc *p, const char *name, ...)
{
    static const char *const head[] = {"serve", "--listen", "127.0.0.1:0", NULL};
    char *argv[T_ARGV_MAX];
    va_list ap;

    va_start(ap, name);
    build_argv(argv, head, NULL, ap);
    va_end(ap);
    t_start(p, F.dir, name, argv);
}

void t_start_server(struct t_proc *p, const char *name, const char *rate)
{
    t_serve(p, name, "--rate-limit", rate, "--rate-burst", "3", "--checkin-rate", rate,
            "--checkin-burst", "3", "--claim-max-failures", "3", "--claim-window", T_CLAIM_WINDOW,
            "--device-ap-url", "http://192.168.3.1/", "--metrics-listen", "127.0.0.1:0", NULL);
}

void t_write_records(const char *path, const struct owb_record *recs, size_t n)
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

int t_world_setup(void **state)
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
    for (int i = 0; i < T_N_DEV; i++) {
        snprintf(F.dev[i].device_id, sizeof F.dev[i].device_id, "dev-%d", i);
        randombytes_buf(F.dev[i].device_key, 32);
        owb_claim_generate(F.dev[i].claim_code);
    }
    t_write_records(F.records, F.dev, T_N_DEV);
    if (t_admin(NULL, out, sizeof out, "init", NULL) != 0)
        return -1;
    if (t_admin(NULL, out, sizeof out, "device", "import", F.records, NULL) != 0)
        return -1;
    if (!strstr(out, "imported 4 new"))
        return -1;
    if (t_admin(T_PSK "\n", out, sizeof out, "network", "add", "home", "--ssid", T_SSID,
                "--security", "wpa2-psk", NULL) != 0)
        return -1;
    if (t_admin(NULL, out, sizeof out, "device", "assign", "dev-0", "dev-1", "dev-3", "--network",
                "home", NULL) != 0)
        return -1;
    if (t_admin(NULL, out, sizeof out, "token", "create", "--label", "installer-1", NULL) != 0)
        return -1;
    snprintf(F.token, sizeof F.token, "%.*s", (int)strcspn(out, "\n"), out);
    t_start_server(&F.srv, "server", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
    return 0;
}

int t_world_teardown(void **state)
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

void t_url(char *out, const char *path)
{
    snprintf(out, 512, "%s%s", F.base, path);
}

void t_setup_req(const char *id, const char *body, const char *auth, struct t_resp *r)
{
    char u[512], path[128], hdr[256];
    const char *headers[] = {"Content-Type: application/json", NULL, NULL};
    snprintf(path, sizeof path, "/v1/setup/%s", id);
    t_url(u, path);
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", auth);
        headers[1] = hdr;
    }
    t_http("POST", u, headers, body, strlen(body), r);
}

void t_session_req(const char *base, const char *session, struct t_resp *r)
{
    char u[512];
    snprintf(u, sizeof u, "%s/v1/sessions/%s", base ? base : F.base, session);
    t_http("GET", u, NULL, NULL, 0, r);
}

void t_server_sealed_body(char *out, size_t cap, const char *claim, const uint8_t app_key[32])
{
    char ak[64];
    assert_int_equal(owb_b64_encode(app_key, 32, ak, sizeof ak), OWB_OK);
    snprintf(out, cap, "{\"claim\":\"%s\",\"app_key\":\"%s\"}", claim, ak);
}

void t_open_answer(const struct t_resp *r, const struct owb_record *dev, struct t_opened *o)
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

uint64_t t_issue_one(const char *id, const char *claim, struct t_opened *o)
{
    uint8_t app_key[32];
    char body[512];
    struct t_resp r;
    struct owb_record *dev = NULL;

    for (int i = 0; i < T_N_DEV; i++)
        if (!strcmp(F.dev[i].device_id, id))
            dev = &F.dev[i];
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, claim, app_key);
    t_setup_req(id, body, F.token, &r);
    t_open_answer(&r, dev, o);
    t_resp_free(&r);
    return o->counter;
}

void t_checkin_body(char *out, size_t cap, const struct owb_record *dev, uint64_t counter,
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

void t_setup_series(const char *base, int dev, int n, bool may_lose, _Atomic int *answered,
                    uint64_t *counters, char (*sessions)[T_SESSION_SIZE])
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
        t_server_sealed_body(body, sizeof body, F.dev[dev].claim_code, app_key);
        if (!t_http_try("POST", u, headers, body, strlen(body), &r)) {
            if (may_lose)
                return;
            fail_msg("%s: no answer", u);
        }
        if (r.status != 200)
            fail_msg("%s: %ld %s", u, r.status, r.body);
        assert_int_equal(owb_json_parse(r.body, r.len, &root), OWB_OK);
        assert_int_equal(owb_json_uint(root, "counter", &counters[i]), OWB_OK);
        snprintf(sessions[i], T_SESSION_SIZE, "%s", owb_json_string(root, "session"));
        cJSON_Delete(root);
        t_resp_free(&r);
        (*answered)++;
    }
}

int t_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void *t_slow_setup_run(void *arg)
{
    struct t_slow_setup *a = arg;
    uint8_t app_key[32];
    char body[512], u[512], hdr[256];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    struct timespec t0, t1;
    struct t_resp r;

    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[0].claim_code, app_key);
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

/* One request of a bound client, timed; false when it had no answer. */
static bool bound_ask(struct t_bound_client *c, int kind)
{
    char u[512], hdr[256], body[512];
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    uint8_t key[32];
    struct timespec t0, t1;
    struct t_resp r;
    bool answered;

    randombytes_buf(key, sizeof key);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", F.token);
    if (kind == 0) {
        t_server_sealed_body(body, sizeof body, F.dev[0].claim_code, key);
        snprintf(u, sizeof u, "%s/v1/setup/dev-0", c->base);
    } else if (kind == 1) {
        sodium_bin2base64(body, sizeof body, key, sizeof key,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        snprintf(u, sizeof u, "%s/v1/sessions/%s", c->base, body);
    } else {
        snprintf(u, sizeof u, "%s/readyz", c->base);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    answered = kind == 0 ? t_http_try("POST", u, headers, body, strlen(body), &r)
                         : t_http_try("GET", u, NULL, NULL, 0, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    c->sent++;
    c->worst_ms = ms > c->worst_ms ? ms : c->worst_ms;
    c->late += ms > c->bound_ms + T_BOUND_NET_MS;
    if (!answered)
        return false;
    c->answered++;
    c->unavailable += r.status == 503;
    c->no_retry_after += r.status == 503 && !strstr(r.headers, "Retry-After: ");
    c->ready_503 += kind == 2 && r.status == 503;
    c->ready_200 += kind == 2 && r.status == 200;
    t_resp_free(&r);
    return true;
}

static void *bound_client(void *arg)
{
    struct t_bound_client *c = arg;
    for (int i = 0; !*c->stop; i++)
        bound_ask(c, i % 3);
    return NULL;
}

void t_bound_start(struct t_bound *b, const char *base, int n, double bound_ms)
{
    memset(b, 0, sizeof *b);
    b->n = n < T_BOUND_CLIENTS ? n : T_BOUND_CLIENTS;
    for (int i = 0; i < b->n; i++) {
        b->c[i] = (struct t_bound_client){.base = base, .stop = &b->stop, .bound_ms = bound_ms};
        assert_int_equal(pthread_create(&b->t[i], NULL, bound_client, &b->c[i]), 0);
    }
}

void t_wait_count(_Atomic int *count, int n, const char *what)
{
    for (int waited = 0; *count < n; waited += 2) {
        if (waited > 60000)
            fail_msg("%s: %d of %d in 60 s", what, (int)*count, n);
        nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
    }
}

void t_bound_wait(struct t_bound *b, int n)
{
    for (int waited = 0, least = 0; least < n; waited += 10) {
        least = n;
        for (int i = 0; i < b->n; i++)
            least = b->c[i].answered < least ? b->c[i].answered : least;
        if (waited > 60000) {
            print_message("the clients were not all answered %d times in 60 s\n", n);
            return; /* t_bound_stop says what went wrong */
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
}

void t_bound_stop(struct t_bound *b)
{
    struct t_bound_client *s = &b->sum;

    b->stop = true;
    for (int i = 0; i < b->n; i++) {
        const struct t_bound_client *c = &b->c[i];
        pthread_join(b->t[i], NULL);
        s->sent += c->sent;
        s->answered += c->answered;
        s->unavailable += c->unavailable;
        s->no_retry_after += c->no_retry_after;
        s->late += c->late;
        s->ready_503 += c->ready_503;
        s->ready_200 += c->ready_200;
        s->worst_ms = c->worst_ms > s->worst_ms ? c->worst_ms : s->worst_ms;
    }
    print_message("%d clients: %d requests, %d answered (%d of them 503, /readyz %d x 503, "
                  "%d x 200), %d past %.0f ms, the slowest %.0f ms\n",
                  b->n, s->sent, s->answered, s->unavailable, s->ready_503, s->ready_200, s->late,
                  b->c[0].bound_ms + T_BOUND_NET_MS, s->worst_ms);
}

double t_log_worst_ms(const char *log, int *lines)
{
    double worst = 0;

    *lines = 0;
    for (const char *l = log; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        const char *sp = l + len;
        char *stop;
        double ms;

        while (sp > l && sp[-1] != ' ')
            sp--;
        sp = sp > l ? sp - 1 : NULL;
        /* "owb-server: ADDR METHOD ROUTE STATUS N.NNms" */
        if (strncmp(l, "owb-server: ", 12) == 0 && sp && sp > l + 4 && sp[-4] == ' ' &&
            memcmp(l + len - 2, "ms", 2) == 0) {
            ms = strtod(sp + 1, &stop);
            if (stop == l + len - 2) {
                worst = ms > worst ? ms : worst;
                ++*lines;
            }
        }
        l = end ? end + 1 : l + len;
    }
    return worst;
}

void t_bound_check(const struct t_bound *b, const struct t_proc *server)
{
    const struct t_bound_client *s = &b->sum;
    char *log = t_log(server);
    int lines;
    double worst = t_log_worst_ms(log, &lines);

    free(log);
    print_message("the server's log: %d requests, the slowest answered %.0f ms after it arrived "
                  "(bound %.0f ms)\n",
                  lines, worst, b->c[0].bound_ms);
    assert_int_equal(s->answered, s->sent);
    assert_true(lines >= s->answered);
    assert_true(worst <= b->c[0].bound_ms);
    assert_int_equal(s->late, 0);
    assert_int_equal(s->no_retry_after, 0);
}

long t_readyz(const char *base)
{
    char u[512];
    struct t_resp r;

    snprintf(u, sizeof u, "%s/readyz", base);
    t_http("GET", u, NULL, NULL, 0, &r);
    if (r.status == 503)
        assert_non_null(strstr(r.headers, "Retry-After: "));
    else
        t_expect(&r, 200, "\"status\":\"ready\"");
    t_resp_free(&r);
    return r.status;
}

void t_pk_device_add(void)
{
    struct owb_record rec = {.suite = OWB_SUITE_PK};
    char out[4096], path[4096], line[OWB_RECORD_LINE_MAX + 2];
    uint8_t raw[16];
    size_t len;

    if (F.pk_ap[0])
        return;
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
    assert_int_equal(owb_record_to_line(&rec, line, sizeof line, &len), OWB_OK);
    assert_int_equal(owb_file_write_atomic(path, line, len, 0600, OWB_WRITE_REPLACE), OWB_OK);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "import", path, NULL), 0);
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "assign", "pk-0", "--network", "home", NULL), 0);
}

#ifdef OWB_TEST_PG
struct t_db {
    PGconn *c;
};

void t_db_sql(struct t_db *db, const char *sql)
{
    PGresult *r = PQexec(db->c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db->c));
    PQclear(r);
}

struct t_db *t_db_open(void)
{
    struct t_db *db = calloc(1, sizeof *db);
    assert_non_null(db);
    db->c = PQconnectdb(F.db);
    assert_int_equal(PQstatus(db->c), CONNECTION_OK);
    return db;
}

void t_db_lock(struct t_db *db)
{
    t_db_sql(db, "BEGIN");
    t_db_sql(db, "SELECT 1 FROM devices WHERE id IN ('dev-0', 'dev-1') FOR UPDATE");
    /* Wrong claims are counted in their own table: held too. */
    t_db_sql(db, "LOCK TABLE claim_guard IN EXCLUSIVE MODE");
}

void t_db_close(struct t_db *db)
{
    PQfinish(db->c);
    free(db);
}
#else
struct t_db {
    sqlite3 *c;
};

void t_db_sql(struct t_db *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db->c, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

struct t_db *t_db_open(void)
{
    struct t_db *db = calloc(1, sizeof *db);
    assert_non_null(db);
    assert_int_equal(sqlite3_open_v2(F.db, &db->c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

void t_db_lock(struct t_db *db)
{
    t_db_sql(db, "BEGIN EXCLUSIVE");
}

void t_db_close(struct t_db *db)
{
    sqlite3_close(db->c);
    free(db);
}
#endif
