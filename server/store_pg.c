/* The PostgreSQL storage backend (libpq), for several owb-server instances
 * on one database. Same tables and meaning as store_sqlite.c; what differs:
 *
 *   - a pool of connections per instance (one per HTTP thread), each with
 *     its prepared statements; a lost connection is re-established and the
 *     call that hit it is tried once more, else answered UNAVAILABLE (503);
 *   - statement_timeout and lock_timeout bound every wait (--busy-timeout),
 *     TCP keepalives and tcp_user_timeout a dead server: never a hang;
 *   - the counter bump and the session row are one statement (UPDATE ...
 *     RETURNING inside the INSERT), so the row lock orders concurrent
 *     bundles for a device on any instance; a check-in is one statement
 *     too, its nonce refused by the primary key (ON CONFLICT DO NOTHING);
 *   - migrations run under an advisory lock, so instances starting at once
 *     apply each one exactly once;
 *   - an import copies each batch into a temporary table (COPY) and
 *     inserts from there, all in one transaction.
 *
 * Values travel in binary: text as its bytes, bytea as its bytes, bigint
 * as 8 big-endian bytes, boolean as one byte. */
#include "store.h"
#include "store_lister.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "owb/base64.h"

enum pst {
    P_META_GET,
    P_META_PUT,
    P_DEV_GET,
    P_DEV_LIST,
    P_DEV_REMOVE,
    P_DEV_ASSIGN,
    P_DEV_MAC,
    P_NET_EXISTS,
    P_NET_INSERT,
    P_NET_GET,
    P_NET_LIST,
    P_NET_REMOVE,
    P_NET_MAC,
    P_TOK_INSERT,
    P_TOK_CHECK,
    P_TOK_LIST,
    P_TOK_REVOKE,
    P_CLAIM_ATTEMPT,
    P_CLAIM_STATE,
    P_CLAIM_CLEAR,
    P_ISSUE,
    P_SESSION_GET,
    P_CHECKIN,
    P_IMPORT_CONFLICT,
    P_IMPORT_INSERT,
    P__COUNT
};

/* SQL and parameter types: t text, b bytea, i bigint, o boolean. */
static const struct {
    const char *sql, *types;
} pst_def[P__COUNT] = {
    [P_META_GET] = {"SELECT value FROM meta WHERE key = $1", "t"},
    [P_META_PUT] = {"INSERT INTO meta(key, value) VALUES($1, $2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    "tb"},
    [P_DEV_GET] = {"SELECT id, sealed_key, claim_hash, counter, network, state, created_at, "
                   "updated_at, online_at, suite, public_key, sealed_ap, row_mac FROM devices "
                   "WHERE id = $1",
                   "t"},
    [P_DEV_LIST] = {"SELECT id, sealed_key, claim_hash, counter, network, state, created_at, "
                    "updated_at, online_at, suite, public_key, sealed_ap, row_mac FROM devices "
                    "ORDER BY id",
                    ""},
    [P_DEV_REMOVE] = {"DELETE FROM devices WHERE id = $1", "t"},
    [P_DEV_ASSIGN] =
        {"UPDATE devices SET network = $2, updated_at = $3, row_mac = $4 WHERE id = $1", "ttib"},
    [P_DEV_MAC] = {"UPDATE devices SET row_mac = $2 WHERE id = $1", "tb"},
    [P_NET_EXISTS] = {"SELECT 1 FROM networks WHERE name = $1", "t"},
    [P_NET_INSERT] = {"INSERT INTO networks(name, ssid, security, sealed_psk, hidden, created_at, "
                      "row_mac) VALUES($1, $2, $3, $4, $5, $6, $7)",
                      "tttboib"},
    [P_NET_GET] = {"SELECT name, ssid, security, sealed_psk, hidden, created_at, row_mac FROM "
                   "networks WHERE name = $1",
                   "t"},
    [P_NET_LIST] = {"SELECT name, ssid, security, sealed_psk, hidden, created_at, row_mac FROM "
                    "networks ORDER BY name",
                    ""},
    [P_NET_MAC] = {"UPDATE networks SET row_mac = $2 WHERE name = $1", "tb"},
    [P_NET_REMOVE] = {"DELETE FROM networks WHERE name = $1", "t"},
    [P_TOK_INSERT] = {"INSERT INTO tokens(hash, label, created_at) VALUES($1, $2, $3) RETURNING id",
                      "bti"},
    [P_TOK_CHECK] = {"SELECT revoked_at FROM tokens WHERE hash = $1", "b"},
    [P_TOK_LIST] = {"SELECT id, label, created_at, revoked_at FROM tokens ORDER BY id", ""},
    [P_TOK_REVOKE] = {"UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND "
                      "(label = $1 OR id::text = $1)",
                      "ti"},
    /* $1 id, $2 now, $3 window, $4 max, $5 cap: see store.h claim_attempt. */
    [P_CLAIM_ATTEMPT] =
        {"INSERT INTO claim_guard(device_id, attempts, window_start, next_at) VALUES($1, 1, $2, 0) "
         "ON CONFLICT(device_id) DO UPDATE SET "
         "attempts = CASE WHEN claim_guard.window_start <= $2 - $3 THEN 1 "
         "  ELSE claim_guard.attempts + 1 END, "
         "window_start = CASE WHEN claim_guard.window_start <= $2 - $3 THEN $2 "
         "  ELSE claim_guard.window_start END, "
         "next_at = CASE WHEN claim_guard.window_start > $2 - $3 AND claim_guard.attempts + 1 > $4 "
         "  THEN $2 + LEAST($5, 1::bigint << LEAST(claim_guard.attempts + 1 - $4, 20)::int) ELSE 0 "
         "END "
         "WHERE claim_guard.next_at <= $2 RETURNING attempts",
         "tiiii"},
    [P_CLAIM_STATE] = {"SELECT CASE WHEN window_start > $2 THEN attempts ELSE 0 END, next_at "
                       "FROM claim_guard WHERE device_id = $1",
                       "ti"},
    [P_CLAIM_CLEAR] = {"DELETE FROM claim_guard WHERE device_id = $1", "t"},
    [P_ISSUE] = {"WITH d AS (UPDATE devices SET counter = counter + 1, state = CASE state WHEN "
                 "'online' THEN state ELSE 'issued' END, updated_at = $2 WHERE id = $1 "
                 "RETURNING counter) "
                 "INSERT INTO sessions(token_hash, device_id, counter, mode, created_at) "
                 "SELECT $3, $1, counter, $4, $2 FROM d RETURNING counter",
                 "tibt"},
    [P_SESSION_GET] = {"SELECT device_id, counter, mode, state, created_at, online_at FROM "
                       "sessions WHERE token_hash = $1",
                       "b"},
    [P_CHECKIN] = {"WITH s AS (SELECT 1 FROM sessions WHERE device_id = $1 AND counter = $2), "
                   "n AS (INSERT INTO checkin_nonces(device_id, nonce, counter, at) "
                   "  SELECT $1, $3, $2, $4 WHERE EXISTS (SELECT 1 FROM s) "
                   "  ON CONFLICT DO NOTHING RETURNING 1), "
                   "u AS (UPDATE sessions SET state = 'online', online_at = coalesce(online_at, "
                   "  $4) WHERE device_id = $1 AND counter = $2 AND EXISTS (SELECT 1 FROM n) "
                   "  RETURNING 1), "
                   "v AS (UPDATE devices SET state = 'online', online_at = $4, updated_at = $4 "
                   "  WHERE id = $1 AND EXISTS (SELECT 1 FROM n) RETURNING 1) "
                   "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM n), "
                   "(SELECT count(*) FROM u), (SELECT count(*) FROM v)",
                   "tibi"},
    [P_IMPORT_CONFLICT] = {"SELECT i.id FROM owb_import i JOIN devices d ON d.id = i.id "
                           "WHERE d.key_fp <> i.key_fp UNION ALL "
                           "SELECT id FROM owb_import GROUP BY id "
                           "HAVING count(DISTINCT key_fp) > 1 LIMIT 1",
                           ""},
    [P_IMPORT_INSERT] =
        {"INSERT INTO devices(id, sealed_key, key_fp, claim_hash, created_at, "
         "updated_at, suite, public_key, sealed_ap, row_mac) SELECT DISTINCT ON (id) "
         "id, sealed_key, key_fp, claim_hash, $1, $1, suite, public_key, "
         "sealed_ap, row_mac FROM owb_import ON CONFLICT(id) DO NOTHING",
         "i"},
};

/* Schema migrations, applied in order under the advisory lock, each in the
 * transaction that records it. */
static const char *const migrations[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);"
    "CREATE TABLE networks (name TEXT PRIMARY KEY, ssid TEXT NOT NULL, security TEXT NOT NULL,"
    "  sealed_psk BYTEA, hidden BOOLEAN NOT NULL DEFAULT false, created_at BIGINT NOT NULL);"
    "CREATE TABLE devices (id TEXT PRIMARY KEY, sealed_key BYTEA NOT NULL, key_fp BYTEA NOT NULL,"
    "  claim_hash BYTEA, counter BIGINT NOT NULL DEFAULT 0,"
    "  network TEXT REFERENCES networks(name) ON DELETE SET NULL,"
    "  state TEXT NOT NULL DEFAULT 'new', created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL, online_at BIGINT);"
    "CREATE INDEX devices_network ON devices(network);"
    "CREATE TABLE sessions (token_hash BYTEA PRIMARY KEY,"
    "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  counter BIGINT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'issued',"
    "  created_at BIGINT NOT NULL, online_at BIGINT);"
    "CREATE UNIQUE INDEX sessions_device_counter ON sessions(device_id, counter);"
    "CREATE TABLE tokens (id BIGSERIAL PRIMARY KEY, hash BYTEA NOT NULL UNIQUE,"
    "  label TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT);"
    "CREATE TABLE checkin_nonces (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  nonce BYTEA NOT NULL, counter BIGINT NOT NULL, at BIGINT NOT NULL,"
    "  PRIMARY KEY (device_id, nonce));"
    "CREATE TABLE claim_failures (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  at BIGINT NOT NULL);"
    "CREATE INDEX claim_failures_device ON claim_failures(device_id, at);",
    /* 2: the pk suite (store_sqlite.c's migration 2). */
    "ALTER TABLE devices ADD COLUMN suite TEXT NOT NULL DEFAULT 'sym';"
    "ALTER TABLE devices ADD COLUMN public_key BYTEA;"
    "ALTER TABLE devices ADD COLUMN sealed_ap BYTEA;",
    /* 3: claim attempts in one row per device (store_sqlite.c's migration 3). */
    "CREATE TABLE claim_guard (device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
    "  attempts BIGINT NOT NULL, window_start BIGINT NOT NULL, next_at BIGINT NOT NULL);"
    "DROP TABLE claim_failures;",
    /* 4: row MACs (store_sqlite.c's migration 4). */
    "ALTER TABLE devices ADD COLUMN row_mac BYTEA;"
    "ALTER TABLE networks ADD COLUMN row_mac BYTEA;",
};

/* pg_advisory_xact_lock key for migrations: "owb1" in ASCII. */
#define MIGRATION_LOCK "1870029361"

struct pconn {
    PGconn *pg;
    bool in_use;
    bool prepared[P__COUNT];
};

struct pg_store {
    struct owb_store base;
    char *dsn;
    unsigned busy_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pconn *conns;
    unsigned n;
};

#define PG(x) ((struct pg_store *)(x))

static PGconn *connect_pg(const char *dsn, unsigned busy_ms)
{
    char options[160];
    /* Our defaults first; the DSN (dbname, expanded) comes last and wins. */
    const char *keys[] = {"connect_timeout",  "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout",
                          "application_name", "options",
                          "dbname",           NULL};
    const char *vals[] = {"5", "1", "10", "5", "3", "10000", "owb-server", options, dsn, NULL};

    snprintf(options, sizeof options,
             "-c statement_timeout=%u -c lock_timeout=%u -c idle_in_transaction_session_timeout="
             "60000 -c client_min_messages=warning",
             busy_ms * 2, busy_ms);
    return PQconnectdbParams(keys, vals, 1);
}

static bool conn_ok(const struct pconn *c)
{
    return c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

/* Re-establishes a lost connection; its statements must be prepared anew. */
static bool reconnect(struct pg_store *s, struct pconn *c)
{
    if (conn_ok(c))
        return true;
    if (c->pg)
        PQreset(c->pg);
    else
        c->pg = connect_pg(s->dsn, s->busy_ms);
    memset(c->prepared, 0, sizeof c->prepared);
    if (!conn_ok(c)) {
        fprintf(stderr, "owb-server: postgresql: %s",
                c->pg ? PQerrorMessage(c->pg) : "no memory\n");
        return false;
    }
    return true;
}

static struct pconn *acquire(struct pg_store *s)
{
    struct pconn *c = NULL;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (unsigned i = 0; i < s->n && !c; i++)
            if (!s->conns[i].in_use)
                c = &s->conns[i];
        if (c)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    c->in_use = true;
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void release(struct pg_store *s, struct pconn *c)
{
    pthread_mutex_lock(&s->mu);
    c->in_use = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* What a failed result means. A lost connection is UNAVAILABLE (and the
 * caller may try once more); so are the time-outs and the conflicts that
 * a retry resolves. */
static enum owb_err map_res(struct pconn *c, const PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
        return OWB_OK;
    if (!conn_ok(c))
        return OWB_ERR_UNAVAILABLE;
    state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && !strcmp(state, "23505"))
        return OWB_ERR_EXISTS;
    if (state && !strcmp(state, "23503"))
        return OWB_ERR_NOENT;
    if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
                  !strcmp(state, "57014") || !strncmp(state, "08", 2) || !strncmp(state, "57P", 3)))
        return OWB_ERR_UNAVAILABLE;
    fprintf(stderr, "owb-server: postgresql: %s",
            r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
    return OWB_ERR_IO;
}

/* Parameters of one statement. */
#define ARGS_MAX 8

struct args {
    const char *v[ARGS_MAX];
    int len[ARGS_MAX], fmt[ARGS_MAX];
    uint8_t num[ARGS_MAX][8];
    int n;
};

/* A text parameter; NULL is SQL NULL. */
static void a_text(struct args *a, const char *t)
{
    a->v[a->n] = t;
    a->len[a->n] = t ? (int)strlen(t) : 0;
    a->fmt[a->n++] = 1;
}

static void a_blob(struct args *a, const void *p, size_t len)
{
    a->v[a->n] = p;
    a->len[a->n] = (int)len;
    a->fmt[a->n++] = 1;
}

static void a_null(struct args *a)
{
    a->v[a->n] = NULL;
    a->len[a->n] = 0;
    a->fmt[a->n++] = 1;
}

static void a_i64(struct args *a, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        a->num[a->n][i] = (uint8_t)(u & 0xff);
    a_blob(a, a->num[a->n], 8);
}

static void a_bool(struct args *a, bool v)
{
    a->num[a->n][0] = v;
    a_blob(a, a->num[a->n], 1);
}

/* Prepares statement id on c once. Preparing takes the locks the
 * statement will take: under a held lock it times out like the statement,
 * and says so (OWB_ERR_UNAVAILABLE, not a failure of its own). */
static enum owb_err prepare(struct pconn *c, enum pst id)
{
    Oid types[ARGS_MAX];
    char name[16];
    size_t n = strlen(pst_def[id].types);
    PGresult *r;
    enum owb_err rc;

    if (c->prepared[id])
        return OWB_OK;
    for (size_t i = 0; i < n; i++)
        types[i] = pst_def[id].types[i] == 't'   ? 25
                   : pst_def[id].types[i] == 'b' ? 17
                   : pst_def[id].types[i] == 'i' ? 20
                                                 : 16;
    snprintf(name, sizeof name, "owb%d", (int)id);
    r = PQprepare(c->pg, name, pst_def[id].sql, (int)n, types);
    rc = map_res(c, r);
    PQclear(r);
    c->prepared[id] = rc == OWB_OK;
    return rc;
}

/* Runs a prepared statement; *res holds its result (PQclear it) on OWB_OK. */
static enum owb_err exec_st(struct pconn *c, enum pst id, const struct args *a, PGresult **res)
{
    char name[16];
    PGresult *r;
    enum owb_err rc;

    *res = NULL;
    if (!conn_ok(c))
        return OWB_ERR_UNAVAILABLE;
    rc = prepare(c, id);
    if (rc != OWB_OK)
        return rc;
    snprintf(name, sizeof name, "owb%d", (int)id);
    r = PQexecPrepared(c->pg, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                       a ? a->fmt : NULL, 1);
    rc = map_res(c, r);
    if (rc == OWB_OK)
        *res = r;
    else
        PQclear(r);
    return rc;
}

static enum owb_err exec_sql(struct pconn *c, const char *sql)
{
    PGresult *r = PQexec(c->pg, sql);
    enum owb_err rc = map_res(c, r);
    PQclear(r);
    return rc;
}

/* --- reading result columns (binary format) --- */

static int64_t col_i64(const PGresult *r, int row, int col)
{
    const uint8_t *p = (const uint8_t *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static void col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    int n = PQgetisnull(r, row, col) ? 0 : PQgetlength(r, row, col);
    if ((size_t)n >= cap)
        n = 0;
    memcpy(dst, PQgetvalue(r, row, col), (size_t)n);
    dst[n] = '\0';
}

/* Copies a bytea column; false when it is NULL or not exactly fits. */
static bool col_blob(const PGresult *r, int row, int col, uint8_t *dst, size_t cap, size_t *len)
{
    size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (PQgetisnull(r, row, col) || n > cap)
        return false;
    memcpy(dst, PQgetvalue(r, row, col), n);
    if (len)
        *len = n;
    return true;
}

/* A row MAC: present only when the column holds exactly one. */
static bool col_mac(const PGresult *r, int row, int col, uint8_t mac[OWB_ROW_MAC_BYTES])
{
    size_t n = 0;
    return col_blob(r, row, col, mac, OWB_ROW_MAC_BYTES, &n) && n == OWB_ROW_MAC_BYTES;
}

/* --- calls: one connection, one try more after a lost connection --- */

typedef enum owb_err (*pg_fn)(struct pconn *c, void *arg);

static enum owb_err with_conn(struct owb_store *base, pg_fn fn, void *arg)
{
    struct pg_store *s = PG(base);
    struct pconn *c = acquire(s);
    enum owb_err rc = OWB_ERR_UNAVAILABLE;

    for (int attempt = 0; attempt < 2; attempt++) {
        if (!reconnect(s, c))
            break;
        rc = fn(c, arg);
        if (rc != OWB_ERR_UNAVAILABLE || conn_ok(c))
            break;
    }
    release(s, c);
    return rc;
}

/* A statement keyed by one text or blob, reading its first row. */
typedef void (*row_reader)(const PGresult *r, int row, void *out);

struct one {
    enum pst id;
    const char *key;
    const uint8_t *blob;
    size_t blob_len;
    row_reader rd;
    void *out;
};

static enum owb_err get_one_fn(struct pconn *c, void *arg)
{
    struct one *o = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    if (o->blob)
        a_blob(&a, o->blob, o->blob_len);
    else
        a_text(&a, o->key);
    rc = exec_st(c, o->id, &a, &r);
    if (rc != OWB_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = OWB_ERR_NOENT;
    else if (o->rd)
        o->rd(r, 0, o->out);
    PQclear(r);
    return rc;
}

static enum owb_err get_one(struct owb_store *base, enum pst id, const char *key,
                            const uint8_t *blob, size_t blob_len, row_reader rd, void *out)
{
    struct one o = {id, key, blob, blob_len, rd, out};
    return with_conn(base, get_one_fn, &o);
}

/* A statement whose effect is counted: NOENT when it changed no row. */
struct change {
    enum pst id;
    struct args a;
    size_t changed;
};

static enum owb_err change_fn(struct pconn *c, void *arg)
{
    struct change *ch = arg;
    PGresult *r;
    enum owb_err rc = exec_st(c, ch->id, &ch->a, &r);
    if (rc != OWB_OK)
        return rc;
    ch->changed = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return OWB_OK;
}

static enum owb_err change(struct owb_store *base, struct change *ch)
{
    enum owb_err rc = with_conn(base, change_fn, ch);
    return rc == OWB_OK && ch->changed == 0 ? OWB_ERR_NOENT : rc;
}

struct pg_list {
    enum pst id;
    row_reader rd;
    void *row;
    struct owb_lister l;
};

static enum owb_err list_fn(struct pconn *c, void *arg)
{
    const struct pg_list *pl = arg;
    PGresult *r;
    enum owb_err rc = exec_st(c, pl->id, NULL, &r);
    if (rc != OWB_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        pl->rd(r, i, pl->row);
        pl->l.emit(&pl->l, pl->row);
    }
    PQclear(r);
    return OWB_OK;
}

/* --- the operations --- */

struct meta_out {
    uint8_t *val;
    size_t cap, *len;
    bool too_big;
};

static void read_meta(const PGresult *r, int row, void *out)
{
    struct meta_out *m = out;
    m->too_big = !col_blob(r, row, 0, m->val, m->cap, m->len);
}

static enum owb_err pg_meta_get(struct owb_store *base, const char *key, uint8_t *val, size_t cap,
                                size_t *len)
{
    struct meta_out m = {val, cap, len, false};
    enum owb_err rc;

    *len = 0;
    rc = get_one(base, P_META_GET, key, NULL, 0, read_meta, &m);
    if (rc == OWB_OK && m.too_big) {
        *len = 0;
        rc = OWB_ERR_SPACE;
    }
    return rc;
}

static enum owb_err pg_meta_put(struct owb_store *base, const char *key, const uint8_t *val,
                                size_t len)
{
    struct change ch = {.id = P_META_PUT};
    a_text(&ch.a, key);
    a_blob(&ch.a, val, len);
    return with_conn(base, change_fn, &ch);
}

/* An import holds one connection in one transaction from begin to end; a
 * lost connection fails it (nothing of it is kept). */
struct owb_import {
    struct pg_store *s;
    struct pconn *c;
};

static enum owb_err pg_import_begin(struct owb_store *base, struct owb_import **out)
{
    struct owb_import *imp = calloc(1, sizeof *imp);
    enum owb_err rc;

    *out = NULL;
    if (!imp)
        return OWB_ERR_NOMEM;
    imp->s = PG(base);
    imp->c = acquire(imp->s);
    rc = reconnect(imp->s, imp->c) ? OWB_OK : OWB_ERR_UNAVAILABLE;
    if (rc == OWB_OK)
        rc = exec_sql(imp->c, "BEGIN");
    /* Each batch is a thousand rows checked against the devices table,
     * which grows inside this transaction where no statistics follow it:
     * left to itself the planner hashed all of devices for every batch and
     * a million records took 371 s. An index probe per row is what fits. */
    if (rc == OWB_OK)
        rc = exec_sql(imp->c, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off");
    if (rc == OWB_OK)
        rc = exec_sql(imp->c,
                      "CREATE TEMP TABLE owb_import (id TEXT NOT NULL, sealed_key BYTEA "
                      "NOT NULL, key_fp BYTEA NOT NULL, claim_hash BYTEA, suite TEXT NOT "
                      "NULL, public_key BYTEA, sealed_ap BYTEA, row_mac BYTEA) ON COMMIT DROP");
    if (rc != OWB_OK) {
        (void)exec_sql(imp->c, "ROLLBACK");
        release(imp->s, imp->c);
        free(imp);
        return rc;
    }
    *out = imp;
    return OWB_OK;
}

/* bytea in COPY's text format: \\x and hex (the backslash doubled). */
static size_t put_hex(char *out, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '\\';
    out[o++] = '\\';
    out[o++] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    return o;
}

static enum owb_err copy_batch(struct pconn *c, const struct owb_import_item *items, size_t n)
{
    char line[OWB_DEVICE_ID_SIZE + 6 * (2 * OWB_SEALED_MAX + 8) + 16];
    PGresult *r;
    enum owb_err rc;

    rc = exec_sql(c, "TRUNCATE owb_import");
    if (rc != OWB_OK)
        return rc;
    r = PQexec(c->pg, "COPY owb_import FROM STDIN");
    rc = map_res(c, r);
    PQclear(r);
    if (rc != OWB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct owb_import_item *it = &items[i];
        bool pk = it->suite == OWB_SUITE_PK;
        size_t o = (size_t)snprintf(line, sizeof line, "%s\t", it->id);
        o += put_hex(line + o, it->sealed_key.bytes, pk ? 0 : it->sealed_key.len);
        line[o++] = '\t';
        o += put_hex(line + o, it->key_fp, OWB_FP_BYTES);
        line[o++] = '\t';
        if (it->has_claim) {
            o += put_hex(line + o, it->claim_hash, OWB_HASH_BYTES);
        } else {
            memcpy(line + o, "\\N", 2);
            o += 2;
        }
        o += (size_t)snprintf(line + o, sizeof line - o, "\t%s\t",
                              owb_suite_name(pk ? OWB_SUITE_PK : OWB_SUITE_SYM));
        if (pk) {
            o += put_hex(line + o, it->public_key, 32);
            line[o++] = '\t';
            o += put_hex(line + o, it->sealed_ap.bytes, it->sealed_ap.len);
        } else {
            memcpy(line + o, "\\N\t\\N", 5);
            o += 5;
        }
        line[o++] = '\t';
        o += put_hex(line + o, it->row_mac, OWB_ROW_MAC_BYTES);
        line[o++] = '\n';
        if (PQputCopyData(c->pg, line, (int)o) != 1) {
            (void)PQputCopyEnd(c->pg, "owb: write failed");
            break;
        }
    }
    if (PQputCopyEnd(c->pg, NULL) != 1)
        return conn_ok(c) ? OWB_ERR_IO : OWB_ERR_UNAVAILABLE;
    while ((r = PQgetResult(c->pg)) != NULL) {
        if (rc == OWB_OK)
            rc = map_res(c, r);
        PQclear(r);
    }
    return rc;
}

static enum owb_err pg_import_add(struct owb_import *imp, const struct owb_import_item *items,
                                  size_t n, struct owb_import_result *res)
{
    struct args a = {0};
    PGresult *r;
    enum owb_err rc = copy_batch(imp->c, items, n);

    if (rc == OWB_OK)
        rc = exec_st(imp->c, P_IMPORT_CONFLICT, NULL, &r);
    if (rc != OWB_OK)
        return rc;
    if (PQntuples(r) > 0) {
        col_text(r, 0, 0, res->conflict_id, sizeof res->conflict_id);
        PQclear(r);
        return OWB_ERR_CONFLICT;
    }
    PQclear(r);
    a_i64(&a, (int64_t)time(NULL));
    rc = exec_st(imp->c, P_IMPORT_INSERT, &a, &r);
    if (rc != OWB_OK)
        return rc;
    size_t added = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    res->added += added;
    res->unchanged += n - added;
    return OWB_OK;
}

static enum owb_err pg_import_end(struct owb_import *imp, bool commit)
{
    enum owb_err rc;

    if (!imp)
        return OWB_OK;
    rc = exec_sql(imp->c, commit ? "COMMIT" : "ROLLBACK");
    release(imp->s, imp->c);
    free(imp);
    return commit ? rc : OWB_OK;
}

static void read_device(const PGresult *r, int row, void *out)
{
    struct owb_device_row *d = out;
    memset(d, 0, sizeof *d);
    col_text(r, row, 0, d->id, sizeof d->id);
    col_blob(r, row, 1, d->sealed_key.bytes, sizeof d->sealed_key.bytes, &d->sealed_key.len);
    size_t n = 0;
    d->has_claim =
        col_blob(r, row, 2, d->claim_hash, sizeof d->claim_hash, &n) && n == OWB_HASH_BYTES;
    d->counter = (uint64_t)col_i64(r, row, 3);
    col_text(r, row, 4, d->network, sizeof d->network);
    col_text(r, row, 5, d->state, sizeof d->state);
    d->created_at = col_i64(r, row, 6);
    d->updated_at = col_i64(r, row, 7);
    d->online_at = col_i64(r, row, 8);
    char suite[8];
    col_text(r, row, 9, suite, sizeof suite);
    if (owb_suite_parse(suite, &d->suite) != OWB_OK)
        d->suite = OWB_SUITE_SYM;
    col_blob(r, row, 10, d->public_key, sizeof d->public_key, NULL);
    col_blob(r, row, 11, d->sealed_ap.bytes, sizeof d->sealed_ap.bytes, &d->sealed_ap.len);
    d->has_mac = col_mac(r, row, 12, d->row_mac);
}

static enum owb_err pg_device_get(struct owb_store *base, const char *id,
                                  struct owb_device_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, P_DEV_GET, id, NULL, 0, read_device, row);
}

static enum owb_err pg_device_list(struct owb_store *base, owb_device_cb cb, void *ctx)
{
    struct owb_device_row row;
    struct pg_list l = {P_DEV_LIST, read_device, &row, {owb_emit_device, {.device = cb}, ctx}};
    return with_conn(base, list_fn, &l);
}

static enum owb_err pg_device_remove(struct owb_store *base, const char *id)
{
    struct change ch = {.id = P_DEV_REMOVE};
    a_text(&ch.a, id);
    return change(base, &ch);
}

struct assign {
    const char *const *ids;
    size_t n;
    const char *network;
    const uint8_t (*macs)[OWB_ROW_MAC_BYTES];
    char *missing_id;
};

static enum owb_err assign_fn(struct pconn *c, void *arg)
{
    struct assign *as = arg;
    PGresult *r;
    enum owb_err rc = exec_sql(c, "BEGIN");

    if (rc == OWB_OK && as->network) {
        struct args a = {0};
        a_text(&a, as->network);
        rc = exec_st(c, P_NET_EXISTS, &a, &r);
        if (rc == OWB_OK) {
            if (PQntuples(r) == 0) {
                snprintf(as->missing_id, OWB_NETWORK_NAME_MAX + 1, "%s", as->network);
                rc = OWB_ERR_NOENT;
            }
            PQclear(r);
        }
    }
    for (size_t i = 0; rc == OWB_OK && i < as->n; i++) {
        struct args a = {0};
        a_text(&a, as->ids[i]);
        a_text(&a, as->network);
        a_i64(&a, (int64_t)time(NULL));
        a_blob(&a, as->macs[i], OWB_ROW_MAC_BYTES);
        rc = exec_st(c, P_DEV_ASSIGN, &a, &r);
        if (rc == OWB_OK) {
            if (strcmp(PQcmdTuples(r), "0") == 0) {
                snprintf(as->missing_id, OWB_NETWORK_NAME_MAX + 1, "%s", as->ids[i]);
                rc = OWB_ERR_NOENT;
            }
            PQclear(r);
        }
    }
    enum owb_err end = exec_sql(c, rc == OWB_OK ? "COMMIT" : "ROLLBACK");
    return rc == OWB_OK ? end : rc;
}

static enum owb_err pg_row_mac_put(struct owb_store *base, const char *table, const char *key,
                                   const uint8_t mac[OWB_ROW_MAC_BYTES])
{
    struct change ch = {.id = strcmp(table, "networks") == 0 ? P_NET_MAC : P_DEV_MAC};
    a_text(&ch.a, key);
    a_blob(&ch.a, mac, OWB_ROW_MAC_BYTES);
    return change(base, &ch);
}

static enum owb_err pg_device_assign(struct owb_store *base, const char *const *ids, size_t n,
                                     const char *network, const uint8_t (*macs)[OWB_ROW_MAC_BYTES],
                                     char *missing_id)
{
    struct assign as = {ids, n, network, macs, missing_id};
    missing_id[0] = '\0';
    return with_conn(base, assign_fn, &as);
}

static enum owb_err pg_network_add(struct owb_store *base, const struct owb_network_row *row)
{
    struct change ch = {.id = P_NET_INSERT};
    a_text(&ch.a, row->name);
    a_text(&ch.a, row->ssid);
    a_text(&ch.a, owb_security_name(row->security));
    if (row->sealed_psk.len)
        a_blob(&ch.a, row->sealed_psk.bytes, row->sealed_psk.len);
    else
        a_null(&ch.a);
    a_bool(&ch.a, row->hidden);
    a_i64(&ch.a, row->created_at);
    a_blob(&ch.a, row->row_mac, OWB_ROW_MAC_BYTES);
    return with_conn(base, change_fn, &ch);
}

static void read_network(const PGresult *r, int row, void *out)
{
    struct owb_network_row *nw = out;
    char sec[32];
    memset(nw, 0, sizeof *nw);
    col_text(r, row, 0, nw->name, sizeof nw->name);
    col_text(r, row, 1, nw->ssid, sizeof nw->ssid);
    col_text(r, row, 2, sec, sizeof sec);
    if (owb_security_parse(sec, &nw->security) != OWB_OK)
        nw->security = OWB_SEC_WPA2_PSK;
    col_blob(r, row, 3, nw->sealed_psk.bytes, sizeof nw->sealed_psk.bytes, &nw->sealed_psk.len);
    nw->hidden = !PQgetisnull(r, row, 4) && PQgetvalue(r, row, 4)[0] != 0;
    nw->created_at = col_i64(r, row, 5);
    nw->has_mac = col_mac(r, row, 6, nw->row_mac);
}

static enum owb_err pg_network_get(struct owb_store *base, const char *name,
                                   struct owb_network_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, P_NET_GET, name, NULL, 0, read_network, row);
}

static enum owb_err pg_network_list(struct owb_store *base, owb_network_cb cb, void *ctx)
{
    struct owb_network_row row;
    struct pg_list l = {P_NET_LIST, read_network, &row, {owb_emit_network, {.network = cb}, ctx}};
    return with_conn(base, list_fn, &l);
}

static enum owb_err pg_network_remove(struct owb_store *base, const char *name)
{
    struct change ch = {.id = P_NET_REMOVE};
    a_text(&ch.a, name);
    return change(base, &ch);
}

struct token_add {
    const uint8_t *hash;
    const char *label;
    int64_t now, id;
};

static enum owb_err token_add_fn(struct pconn *c, void *arg)
{
    struct token_add *t = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    a_blob(&a, t->hash, OWB_HASH_BYTES);
    a_text(&a, t->label);
    a_i64(&a, t->now);
    rc = exec_st(c, P_TOK_INSERT, &a, &r);
    if (rc == OWB_OK) {
        t->id = col_i64(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

static enum owb_err pg_token_add(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES],
                                 const char *label, int64_t now, int64_t *id)
{
    struct token_add t = {hash, label, now, 0};
    enum owb_err rc = with_conn(base, token_add_fn, &t);
    *id = t.id;
    return rc;
}

static void read_revoked(const PGresult *r, int row, void *out)
{
    *(bool *)out = !PQgetisnull(r, row, 0);
}

static enum owb_err pg_token_check(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES])
{
    bool revoked = false;
    enum owb_err rc =
        get_one(base, P_TOK_CHECK, NULL, hash, OWB_HASH_BYTES, read_revoked, &revoked);
    if (rc == OWB_ERR_NOENT || (rc == OWB_OK && revoked))
        return OWB_ERR_UNAUTHORIZED;
    return rc;
}

static void read_token(const PGresult *r, int row, void *out)
{
    struct owb_token_row *t = out;
    memset(t, 0, sizeof *t);
    t->id = col_i64(r, row, 0);
    col_text(r, row, 1, t->label, sizeof t->label);
    t->created_at = col_i64(r, row, 2);
    t->revoked_at = col_i64(r, row, 3);
}

static enum owb_err pg_token_list(struct owb_store *base, owb_token_cb cb, void *ctx)
{
    struct owb_token_row row;
    struct pg_list l = {P_TOK_LIST, read_token, &row, {owb_emit_token, {.token = cb}, ctx}};
    return with_conn(base, list_fn, &l);
}

static enum owb_err pg_token_revoke(struct owb_store *base, const char *id_or_label, int64_t now,
                                    size_t *count)
{
    struct change ch = {.id = P_TOK_REVOKE};
    enum owb_err rc;
    a_text(&ch.a, id_or_label);
    a_i64(&ch.a, now);
    rc = with_conn(base, change_fn, &ch);
    *count = ch.changed;
    return rc;
}

struct claim {
    const char *id;
    int64_t now, window, max, cap, next_at;
    unsigned attempts;
    bool counted;
};

static enum owb_err claim_attempt_fn(struct pconn *c, void *arg)
{
    struct claim *cl = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    a_text(&a, cl->id);
    a_i64(&a, cl->now);
    a_i64(&a, cl->window);
    a_i64(&a, cl->max);
    a_i64(&a, cl->cap);
    rc = exec_st(c, P_CLAIM_ATTEMPT, &a, &r);
    if (rc == OWB_OK) {
        cl->counted = PQntuples(r) == 1;
        cl->attempts = cl->counted ? (unsigned)col_i64(r, 0, 0) : 0;
        PQclear(r);
    }
    return rc;
}

static enum owb_err claim_state_fn(struct pconn *c, void *arg)
{
    struct claim *cl = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    a_text(&a, cl->id);
    a_i64(&a, cl->now);
    rc = exec_st(c, P_CLAIM_STATE, &a, &r);
    if (rc == OWB_OK) {
        cl->attempts = PQntuples(r) == 1 ? (unsigned)col_i64(r, 0, 0) : 0;
        cl->next_at = PQntuples(r) == 1 ? col_i64(r, 0, 1) : 0;
        PQclear(r);
    }
    return rc;
}

static enum owb_err pg_claim_state(struct owb_store *base, const char *id, int64_t since,
                                   unsigned *attempts, int64_t *next_at)
{
    struct claim cl = {.id = id, .now = since};
    enum owb_err rc = with_conn(base, claim_state_fn, &cl);
    *attempts = cl.attempts;
    *next_at = cl.next_at;
    return rc;
}

static enum owb_err pg_claim_attempt(struct owb_store *base, const char *id, int64_t now,
                                     unsigned window_s, unsigned max, unsigned cap_s,
                                     unsigned *attempts, int64_t *retry_at)
{
    struct claim cl = {.id = id, .now = now, .window = window_s, .max = max, .cap = cap_s};
    enum owb_err rc = with_conn(base, claim_attempt_fn, &cl);

    *attempts = cl.attempts;
    *retry_at = 0;
    if (rc != OWB_OK || cl.counted)
        return rc;
    /* The row is waiting out its delay. */
    if (pg_claim_state(base, id, now - (int64_t)window_s, attempts, retry_at) != OWB_OK ||
        *retry_at <= now)
        *retry_at = now + 1;
    return OWB_ERR_LOCKED;
}

static enum owb_err pg_claim_reset(struct owb_store *base, const char *id)
{
    struct change ch = {.id = P_CLAIM_CLEAR};
    a_text(&ch.a, id);
    return with_conn(base, change_fn, &ch);
}

struct issue {
    const char *id;
    const uint8_t *session_hash;
    const char *mode;
    int64_t now;
    uint64_t counter;
};

static enum owb_err issue_fn(struct pconn *c, void *arg)
{
    struct issue *is = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    a_text(&a, is->id);
    a_i64(&a, is->now);
    a_blob(&a, is->session_hash, OWB_HASH_BYTES);
    a_text(&a, is->mode);
    rc = exec_st(c, P_ISSUE, &a, &r);
    if (rc != OWB_OK)
        return rc;
    if (PQntuples(r) == 1)
        is->counter = (uint64_t)col_i64(r, 0, 0);
    else
        rc = OWB_ERR_NOENT;
    PQclear(r);
    return rc;
}

static enum owb_err pg_issue(struct owb_store *base, const char *id,
                             const uint8_t session_hash[OWB_HASH_BYTES], const char *mode,
                             int64_t now, uint64_t *counter)
{
    struct issue is = {id, session_hash, mode, now, 0};
    enum owb_err rc = with_conn(base, issue_fn, &is);
    *counter = rc == OWB_OK ? is.counter : 0;
    return rc;
}

static void read_session(const PGresult *r, int row, void *out)
{
    struct owb_session_row *sr = out;
    col_text(r, row, 0, sr->device_id, sizeof sr->device_id);
    sr->counter = (uint64_t)col_i64(r, row, 1);
    col_text(r, row, 2, sr->mode, sizeof sr->mode);
    col_text(r, row, 3, sr->state, sizeof sr->state);
    sr->created_at = col_i64(r, row, 4);
    sr->online_at = col_i64(r, row, 5);
}

static enum owb_err pg_session_get(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES],
                                   struct owb_session_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, P_SESSION_GET, NULL, hash, OWB_HASH_BYTES, read_session, row);
}

struct checkin {
    const char *id;
    uint64_t counter;
    const uint8_t *nonce;
    int64_t now;
};

static enum owb_err checkin_fn(struct pconn *c, void *arg)
{
    struct checkin *ci = arg;
    struct args a = {0};
    PGresult *r;
    enum owb_err rc;

    a_text(&a, ci->id);
    a_i64(&a, (int64_t)ci->counter);
    a_blob(&a, ci->nonce, 16);
    a_i64(&a, ci->now);
    rc = exec_st(c, P_CHECKIN, &a, &r);
    if (rc != OWB_OK)
        return rc;
    if (col_i64(r, 0, 0) == 0)
        rc = OWB_ERR_CONFLICT;
    else if (col_i64(r, 0, 1) == 0)
        rc = OWB_ERR_REPLAYED;
    PQclear(r);
    return rc;
}

static enum owb_err pg_checkin(struct owb_store *base, const char *id, uint64_t counter,
                               const uint8_t nonce[16], int64_t now)
{
    struct checkin ci = {id, counter, nonce, now};
    return with_conn(base, checkin_fn, &ci);
}

static void pg_close(struct owb_store *base)
{
    struct pg_store *s = PG(base);

    if (!s)
        return;
    for (unsigned i = 0; i < s->n; i++)
        PQfinish(s->conns[i].pg);
    free(s->conns);
    free(s->dsn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static const struct owb_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .meta_get = pg_meta_get,
    .meta_put = pg_meta_put,
    .import_begin = pg_import_begin,
    .import_add = pg_import_add,
    .import_end = pg_import_end,
    .device_get = pg_device_get,
    .device_list = pg_device_list,
    .device_remove = pg_device_remove,
    .device_assign = pg_device_assign,
    .row_mac_put = pg_row_mac_put,
    .network_add = pg_network_add,
    .network_get = pg_network_get,
    .network_list = pg_network_list,
    .network_remove = pg_network_remove,
    .token_add = pg_token_add,
    .token_check = pg_token_check,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .claim_attempt = pg_claim_attempt,
    .claim_reset = pg_claim_reset,
    .claim_state = pg_claim_state,
    .issue = pg_issue,
    .session_get = pg_session_get,
    .checkin = pg_checkin,
};

/* Brings the schema up to date under the advisory lock. Without create,
 * a database that was never initialised is refused (OWB_ERR_NOENT). */
static enum owb_err migrate(struct pconn *c, bool create, char *diag)
{
    size_t have = 0, want = sizeof migrations / sizeof migrations[0];
    bool said = false;
    PGresult *r;
    enum owb_err rc = exec_sql(c, "BEGIN");

    if (rc == OWB_OK)
        rc = exec_sql(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")");
    if (rc == OWB_OK) {
        r = PQexec(c->pg, "SELECT to_regclass('owb_schema') IS NOT NULL");
        rc = map_res(c, r);
        bool exists = rc == OWB_OK && PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (rc == OWB_OK && !exists && !create) {
            owb_diagf(diag, "was never initialised (run 'owb-server init')");
            said = true;
            rc = OWB_ERR_BAD_FILE;
        } else if (rc == OWB_OK && !exists) {
            rc = exec_sql(c, "CREATE TABLE owb_schema (version INTEGER NOT NULL);"
                             "INSERT INTO owb_schema VALUES (0)");
        }
    }
    if (rc == OWB_OK) {
        r = PQexec(c->pg, "SELECT version FROM owb_schema");
        rc = map_res(c, r);
        if (rc == OWB_OK && PQntuples(r) == 1)
            have = strtoul(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    if (rc == OWB_OK && have > want) {
        owb_diagf(diag, "schema version %zu is newer than this owb-server (%zu)", have, want);
        said = true;
        rc = OWB_ERR_BAD_FILE;
    }
    for (size_t v = have; rc == OWB_OK && v < want; v++) {
        char bump[64];
        rc = exec_sql(c, migrations[v]);
        snprintf(bump, sizeof bump, "UPDATE owb_schema SET version = %zu", v + 1);
        if (rc == OWB_OK)
            rc = exec_sql(c, bump);
    }
    enum owb_err end = exec_sql(c, rc == OWB_OK ? "COMMIT" : "ROLLBACK");
    if (rc == OWB_OK)
        rc = end;
    if (rc != OWB_OK && !said)
        owb_diagf(diag, "schema migration failed: %s", PQerrorMessage(c->pg));
    return rc;
}

enum owb_err owb_store_pg_open(const struct owb_store_config *cfg, struct owb_store **out,
                               char *diag)
{
    struct pg_store *s;
    unsigned n = cfg->connections ? cfg->connections : 1;
    enum owb_err rc = OWB_OK;

    *out = NULL;
    owb_diagf(diag, "ok");
    s = calloc(1, sizeof *s);
    if (!s)
        return OWB_ERR_NOMEM;
    s->base.ops = &pg_ops;
    s->busy_ms = cfg->busy_ms ? cfg->busy_ms : 5000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->dsn = strdup(cfg->path);
    s->conns = calloc(n, sizeof *s->conns);
    if (!s->dsn || !s->conns) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    s->n = n;
    for (unsigned i = 0; i < n; i++) {
        s->conns[i].pg = connect_pg(s->dsn, s->busy_ms);
        if (!conn_ok(&s->conns[i])) {
            /* The connection string may hold a password: not repeated. */
            owb_diagf(diag, "cannot connect: %s",
                      s->conns[i].pg ? PQerrorMessage(s->conns[i].pg) : "no memory");
            char *nl = strchr(diag, '\n');
            if (nl)
                *nl = '\0';
            rc = OWB_ERR_UNAVAILABLE;
            goto out;
        }
    }
    rc = migrate(&s->conns[0], cfg->create, diag);
    if (rc != OWB_OK)
        goto out;
    *out = &s->base;
    s = NULL;
out:
    if (s)
        pg_close(&s->base);
    return rc;
}
