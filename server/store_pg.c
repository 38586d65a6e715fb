/* The PostgreSQL storage backend (libpq), for several owb-server instances
 * on one database. The schema, the shared statements, the row decoders,
 * the pool and the one-statement operations are store_i.h's, as for
 * SQLite; what is PostgreSQL's own:
 *
 *   - each pooled connection has its prepared statements; a lost
 *     connection is re-established and the call that hit it is tried once
 *     more, else answered UNAVAILABLE (503);
 *   - every call is bounded on this side: sent without blocking, its
 *     answer waited for on the socket until the request's deadline
 *     (store.h, owb_store_bound_begin), and past it the connection is
 *     abandoned and the call answered UNAVAILABLE. A stopped or hung
 *     server never runs its own statement_timeout, and over loopback the
 *     kernel keeps ACKing, so neither server-side timeouts nor
 *     tcp_user_timeout would fire; reconnecting is bounded the same way;
 *   - statement_timeout and lock_timeout are kept under what is left of
 *     the request's bound, so that a lock held elsewhere is answered by the
 *     server (the connection kept) before this side gives up;
 *   - the counter bump and the session row are one statement (UPDATE ...
 *     RETURNING inside the INSERT), so the row lock orders concurrent
 *     bundles for a device on any instance; a setup that will pass reads
 *     in that statement too (setup_issue); the counter comes from the
 *     database's clock, so instances need not agree on theirs; a check-in
 *     is one statement too, its nonce refused by the primary key (ON
 *     CONFLICT DO NOTHING);
 *   - a serving instance commits without waiting for the WAL to reach the
 *     disk (synchronous_commit off for its sessions); only a counter
 *     reservation waits (SET LOCAL synchronous_commit = on);
 *   - migrations run under an advisory lock, so instances starting at once
 *     apply each one exactly once;
 *   - an import copies each batch into a temporary table (COPY) and
 *     inserts from there, all in one transaction.
 *
 * Values travel in binary: text as its bytes, bytea as its bytes, bigint
 * as 8 big-endian bytes, boolean as one byte. */
#include "store.h"
#include "store_i.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

/* This backend's own statements, numbered after the shared ones. */
enum pg_stmt {
    P_ISSUE = OWB_ST__SHARED,
    P_SETUP_ISSUE,
    P_CHECKIN,
    P_IMPORT_CONFLICT,
    P_IMPORT_INSERT,
    P_PRUNE_LOCK,
    P_FLOOR_SET,
    P_MARK_MOVE,
    P__COUNT
};

/* The database's clock in microseconds, shifted by $5 (0 outside test
 * builds: owb_store_clock_skew_us). */
#define DB_NOW_US(skew)                                                                            \
    "(CAST(extract(epoch FROM statement_timestamp()) * 1000000 AS BIGINT) + " skew ")"

/* A bundle's counter (docs/protocol.md, "Counters"): past the last one,
 * the clock and the floor; a row is bumped only below the durable mark
 * and while crash recovery has not emptied counter_floor. */
#define BUMP_NEXT(skew) "GREATEST(devices.counter + 1, " DB_NOW_US(skew) ", f.low)"
#define BUMP(skew, now)                                                                            \
    "counter = " BUMP_NEXT(skew) ", state = CASE devices.state WHEN 'online' THEN "                \
                                 "devices.state ELSE 'issued' END, updated_at = " now
#define BUMP_FROM "(SELECT max(floor_mark) AS low FROM counter_floor) f, counter_mark m"
#define BUMP_BELOW(skew) "f.low IS NOT NULL AND " BUMP_NEXT(skew) " < m.mark"

/* What lets a setup through (routes_setup.c), for P_SETUP_ISSUE: the
 * claim's hash or none, no wrong claim counted in the window, no delay
 * running; with a token hash, the token known and not revoked and the
 * device's network there. The hash is compared in SQL, not in constant
 * time: what timing could tell is a hash of a code too long to search. */
#define SETUP_PASSES                                                                               \
    "(claim_hash IS NULL OR (claim_hash = $2 AND NOT EXISTS (SELECT 1 FROM claim_guard g "         \
    "  WHERE g.device_id = $1 AND (g.window_start > $3 OR g.next_at > $4)))) "                     \
    "AND ($5::bytea IS NULL OR (EXISTS (SELECT 1 FROM tokens WHERE hash = $5 "                     \
    "  AND revoked_at IS NULL) AND EXISTS (SELECT 1 FROM networks n "                              \
    "  WHERE n.name = devices.network)))"

#define OWN(id) [(id)-OWB_ST__SHARED]

/* pg_advisory_xact_lock keys: migrations "owb1", pruning "owb2" in ASCII. */
#define MIGRATION_LOCK "1870029361"
#define PRUNE_LOCK "1870029362"

static const struct owb_stmt_def own_stmts[P__COUNT - OWB_ST__SHARED] = {
    /* $1 token_hash, $2 device_id, $3 mode, $4 now: the sessions row's order;
     * $5 the clock's skew. No row when the device is not there, when the
     * counter would reach the durable mark, or when crash recovery emptied
     * counter_floor: then reserve first (pg_issue). */
    /* Laid out by hand: clang-format breaks a string at each macro's
     * arguments. */
    /* clang-format off */
    OWN(P_ISSUE) = {"WITH d AS (UPDATE devices SET " BUMP("$5", "$4") " FROM " BUMP_FROM
                    " WHERE devices.id = $2 AND " BUMP_BELOW("$5") " RETURNING devices.counter) "
                    "INSERT INTO sessions(token_hash, device_id, counter, mode, created_at) "
                    "SELECT $1, $2, counter, $3, $4 FROM d RETURNING counter",
                    "bttii"},
    /* A setup's read and issue (store.h setup_issue): $1 the device, $2
     * the claim's hash, $3 the claim window's start, $4 now, $5 the
     * token's hash (NULL: app-sealed), $6 the session's hash, $7 the
     * mode, $8 the clock's skew. The row: setup_read's, then the
     * counter. */
    OWN(P_SETUP_ISSUE) = {"WITH d AS (UPDATE devices SET " BUMP("$8", "$4") " FROM " BUMP_FROM
                          " WHERE devices.id = $1 AND " BUMP_BELOW("$8") " AND " SETUP_PASSES
                          " RETURNING " OWB_DEVICE_COLS "), "
                          "s AS (INSERT INTO sessions(token_hash, device_id, counter, mode, "
                          "  created_at) SELECT $6, $1, counter, $7, $4 FROM d RETURNING counter) "
                          "SELECT CASE WHEN $5::bytea IS NULL THEN NULL ELSE 1 END, 0, 0, d.*, "
                          "  nw.*, s.counter FROM s CROSS JOIN d "
                          "LEFT JOIN (SELECT " OWB_NETWORK_COLS " FROM networks) nw "
                          "  ON $5::bytea IS NOT NULL AND nw.name = d.network",
                          "tbiibbti"},
    /* clang-format on */
    /* A check-in that changes nothing (the session already online, the
     * device already online at that second) writes neither row: every
     * UPDATE is a new row version here, and rows rewritten at each of
     * many check-ins made lookups wade through dead versions until a
     * vacuum (check-in p99 190-390 ms in the bench before). */
    OWN(P_CHECKIN) = {"WITH s AS (SELECT 1 FROM sessions WHERE device_id = $1 AND counter = $2), "
                      "n AS (INSERT INTO checkin_nonces(device_id, nonce, counter, at) "
                      "  SELECT $1, $3, $2, $4 WHERE EXISTS (SELECT 1 FROM s) "
                      "  ON CONFLICT DO NOTHING RETURNING 1), "
                      "u AS (UPDATE sessions SET state = 'online', online_at = $4 "
                      "  WHERE device_id = $1 AND counter = $2 AND state <> 'online' "
                      "  AND EXISTS (SELECT 1 FROM n) RETURNING 1), "
                      "v AS (UPDATE devices SET state = 'online', online_at = $4, updated_at = $4 "
                      "  WHERE id = $1 AND (state <> 'online' OR online_at IS DISTINCT FROM $4) "
                      "  AND EXISTS (SELECT 1 FROM n) RETURNING 1) "
                      "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM n), "
                      "(SELECT count(*) FROM u), (SELECT count(*) FROM v)",
                      "tibi"},
    OWN(P_IMPORT_CONFLICT) = {"SELECT i.id FROM owb_import i JOIN devices d ON d.id = i.id "
                              "WHERE d.key_fp <> i.key_fp UNION ALL "
                              "SELECT id FROM owb_import GROUP BY id "
                              "HAVING count(DISTINCT key_fp) > 1 LIMIT 1",
                              ""},
    OWN(P_IMPORT_INSERT) = {"INSERT INTO devices(" OWB_IMPORT_COLS ", created_at, updated_at) "
                            "SELECT DISTINCT ON (id) " OWB_IMPORT_COLS ", $1, $1 FROM owb_import "
                            "ON CONFLICT(id) DO NOTHING",
                            "i"},
    /* Held to the end of a pruning batch's transaction; never waited for. */
    OWN(P_PRUNE_LOCK) = {"SELECT pg_try_advisory_xact_lock(" PRUNE_LOCK ")", ""},
    /* After crash recovery emptied it: the durable mark, which every
     * counter issued before the crash lies below, is the new floor. */
    OWN(P_FLOOR_SET) = {"INSERT INTO counter_floor(floor_mark) SELECT mark FROM counter_mark "
                        "WHERE NOT EXISTS (SELECT 1 FROM counter_floor)",
                        ""},
    /* $1 the clock's skew, $2 how far ahead, $3 the limit (2^53). */
    OWN(P_MARK_MOVE) = {"UPDATE counter_mark SET mark = LEAST(GREATEST(mark, " DB_NOW_US(
                            "$1") ") + $2, $3)",
                        "iii"},
};

/* And for imports, one at a time: "owbi". */
#define IMPORT_LOCK "1870094953"

struct pconn {
    PGconn *pg;
    bool prepared[P__COUNT];
    int64_t deadline;    /* its call's request bound; 0 outside a request */
    unsigned busy_ms;    /* --busy-timeout */
    unsigned timeout_ms; /* the session's statement and lock timeouts; UINT_MAX: unknown */
};

struct pg_store {
    struct owb_store_core core;
    char *dsn;
    bool async; /* serving: commits do not wait for the WAL (reservations do) */
};

/* What is kept of a request's bound for the server's own answer to reach
 * this side before it gives up. */
#define FIT_SLACK_MS(busy) ((busy) / 4 < 200 ? (busy) / 4 : 200)

#define PG(x) ((struct pg_store *)(x))
#define APP_NAME_FMT "owb-server (schema %zu)"

/* A connection to dsn: made at once (blocking, bounded by connect_timeout)
 * or only started, for connect_by. */
static PGconn *connect_pg(const char *dsn, unsigned busy_ms, bool async, bool blocking)
{
    char options[200];
    /* Our defaults first; the DSN (dbname, expanded) comes last and wins. */
    const char *keys[] = {"connect_timeout",  "keepalives",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout",
                          "application_name", "options",
                          "dbname",           NULL};
    char app_name[64];
    const char *vals[] = {"5", "1", "10", "5", "3", "10000", app_name, options, dsn, NULL};

    /* The schema it runs on, for migrate(): an upgrade waits for the
     * connections of other versions to be gone. */
    snprintf(app_name, sizeof app_name, APP_NAME_FMT, owb_store_migrations());

    snprintf(options, sizeof options,
             "-c statement_timeout=%u -c lock_timeout=%u -c idle_in_transaction_session_timeout="
             "60000 -c client_min_messages=warning%s",
             busy_ms * 2, busy_ms, async ? " -c synchronous_commit=off" : "");
    return blocking ? PQconnectdbParams(keys, vals, 1) : PQconnectStartParams(keys, vals, 1);
}

static bool conn_ok(const struct pconn *c)
{
    return c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

/* When a wait on c gives up: its request's bound, or outside a request a
 * time past the server's own statement_timeout (twice the busy timeout),
 * so that a long statement of an admin command ends by the server's word. */
static int64_t wait_deadline(const struct pconn *c)
{
    return c->deadline ? c->deadline : owb_store_clock_ms() + 2 * (int64_t)c->busy_ms + 1000;
}

/* Waits until pg's socket is ready for events; false once deadline has
 * passed first. */
static bool wait_socket(PGconn *pg, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - owb_store_clock_ms();
        struct pollfd p = {PQsocket(pg), events, 0};
        if (left <= 0 || p.fd < 0)
            return false;
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* Gives c's connection up: a server that has not answered in time may
 * never answer. Closed, not cancelled: a cancel request goes to the same
 * server and would wait as long. The next call connects anew. */
static void abandon(struct pconn *c)
{
    fprintf(stderr, "owb-server: postgresql: no answer within the busy timeout; connection "
                    "closed\n");
    PQfinish(c->pg);
    c->pg = NULL;
}

/* Connects c anew by deadline, PQconnectPoll over the socket: a server
 * that accepts and never answers holds a blocking connect for whole
 * seconds of connect_timeout. Its statements must be prepared anew. */
static bool connect_by(struct pconn *c, const char *dsn, bool async, int64_t deadline)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    PQfinish(c->pg);
    c->pg = connect_pg(dsn, c->busy_ms, async, false);
    memset(c->prepared, 0, sizeof c->prepared);
    c->timeout_ms = UINT_MAX;
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
        if (!wait_socket(c->pg, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline))
            break;
        st = PQconnectPoll(c->pg);
    }
    if (st == PGRES_POLLING_OK && PQsetnonblocking(c->pg, 1) == 0)
        return true;
    fprintf(stderr, "owb-server: postgresql: %s",
            st == PGRES_POLLING_FAILED && c->pg ? PQerrorMessage(c->pg)
                                                : "no connection within the busy timeout\n");
    PQfinish(c->pg);
    c->pg = NULL;
    return false;
}

/* Re-establishes a lost connection, by the call's deadline. */
static bool reconnect(struct pg_store *s, struct pconn *c)
{
    return conn_ok(c) || connect_by(c, s->dsn, s->async, wait_deadline(c));
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

static bool res_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN;
}

/* Sends what is queued on c and waits for the answer to it by deadline:
 * the first error, else the last result; NULL when the connection broke,
 * or gave no answer in time and was abandoned. A COPY IN comes back at
 * once, for its rows to follow. */
static PGresult *await(struct pconn *c, int64_t deadline)
{
    PGresult *keep = NULL, *r;

    while (PQflush(c->pg) == 1)
        if (!wait_socket(c->pg, POLLIN | POLLOUT, deadline) || !PQconsumeInput(c->pg))
            goto late;
    for (;;) {
        while (PQisBusy(c->pg)) {
            if (!wait_socket(c->pg, POLLIN, deadline))
                goto late;
            if (!PQconsumeInput(c->pg))
                break;
        }
        r = PQgetResult(c->pg);
        if (!r)
            break;
        if (keep && !res_ok(keep)) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
        if (PQresultStatus(keep) == PGRES_COPY_IN)
            break;
    }
    return keep;
late:
    PQclear(keep);
    if (conn_ok(c))
        abandon(c);
    return NULL;
}

/* Runs sql (statements without parameters) by c's deadline. */
static PGresult *pg_exec(struct pconn *c, const char *sql)
{
    int64_t deadline = wait_deadline(c);
    return conn_ok(c) && PQsendQuery(c->pg, sql) ? await(c, deadline) : NULL;
}

static const struct owb_stmt_def *stmt_def(unsigned id)
{
    return id < OWB_ST__SHARED ? &owb_store_stmts[id] : &own_stmts OWN(id);
}

/* Prepares statement id on c once. Preparing takes the locks the
 * statement will take: under a held lock it times out like the statement,
 * and says so (OWB_ERR_UNAVAILABLE, not a failure of its own). */
static enum owb_err prepare(struct pconn *c, unsigned id)
{
    const struct owb_stmt_def *def = stmt_def(id);
    Oid types[OWB_ARGS_MAX];
    char name[16];
    size_t n = strlen(def->types);
    char *sql = NULL;
    PGresult *r;
    enum owb_err rc;

    if (c->prepared[id])
        return OWB_OK;
    for (size_t i = 0; i < n && i < OWB_ARGS_MAX; i++)
        types[i] = def->types[i] == 't'   ? 25  /* text */
                   : def->types[i] == 'b' ? 17  /* bytea */
                   : def->types[i] == 'i' ? 20  /* bigint */
                                          : 16; /* boolean */
    sql = owb_store_sql_expand(&owb_dialect_pg, def->sql);
    if (!sql)
        return OWB_ERR_NOMEM;
    snprintf(name, sizeof name, "owb%u", id);
    r = PQsendPrepare(c->pg, name, sql, (int)n, types) ? await(c, wait_deadline(c)) : NULL;
    free(sql);
    rc = map_res(c, r);
    PQclear(r);
    c->prepared[id] = rc == OWB_OK;
    return rc;
}

static enum owb_err exec_sql(struct pconn *c, const char *sql)
{
    PGresult *r = pg_exec(c, sql);
    enum owb_err rc = map_res(c, r);
    PQclear(r);
    return rc;
}

/* In a request, the server's statement and lock timeouts are brought
 * under what is left of its bound, so that a lock held elsewhere is
 * answered by the server (a lock timeout, the connection kept) before
 * this side gives up on it. Set again only when the last value would
 * overrun, or is under half of what is left. */
static enum owb_err fit_timeouts(struct pconn *c)
{
    int64_t left = c->deadline - owb_store_clock_ms() - FIT_SLACK_MS(c->busy_ms);
    char sql[96];
    enum owb_err rc;

    if (!c->deadline || (c->timeout_ms <= left && c->timeout_ms >= left / 2))
        return OWB_OK;
    if (left <= 0)
        return OWB_ERR_UNAVAILABLE;
    snprintf(sql, sizeof sql, "SET statement_timeout = %lld; SET lock_timeout = %lld",
             (long long)left, (long long)left);
    rc = exec_sql(c, sql);
    c->timeout_ms = rc == OWB_OK ? (unsigned)left : UINT_MAX;
    return rc;
}

/* --- the driver (store_i.h) --- */

/* One row of a result. */
struct pg_res {
    const PGresult *r;
    int row;
};

static const char *col_text(void *res, int col)
{
    const struct pg_res *p = res;
    /* In binary format too a value is followed by a zero byte. */
    return PQgetisnull(p->r, p->row, col) ? NULL : PQgetvalue(p->r, p->row, col);
}

static const uint8_t *col_blob(void *res, int col, size_t *len)
{
    const struct pg_res *p = res;
    bool null = PQgetisnull(p->r, p->row, col);

    *len = null ? 0 : (size_t)PQgetlength(p->r, p->row, col);
    return null ? NULL : (const uint8_t *)PQgetvalue(p->r, p->row, col);
}

/* bigint, integer or boolean, big-endian. */
static int64_t col_i64(void *res, int col)
{
    size_t n = 0;
    const uint8_t *p = col_blob(res, col, &n);
    uint64_t v;

    if (!p || (n != 1 && n != 2 && n != 4 && n != 8))
        return 0;
    v = n < 8 && (p[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static bool col_null(void *res, int col)
{
    const struct pg_res *p = res;
    return PQgetisnull(p->r, p->row, col);
}

static const struct owb_store_cols pg_cols = {col_text, col_blob, col_i64, col_null};

/* Parameters in binary format. */
struct pg_params {
    const char *v[OWB_ARGS_MAX];
    int len[OWB_ARGS_MAX], fmt[OWB_ARGS_MAX];
    uint8_t num[OWB_ARGS_MAX][8];
};

static void to_params(const struct owb_store_args *a, struct pg_params *p)
{
    for (int i = 0; a && i < a->n; i++) {
        uint64_t u = (uint64_t)a->v[i].i;
        p->fmt[i] = 1;
        p->v[i] = a->v[i].kind == OWB_ARG_NULL ? NULL : a->v[i].p;
        p->len[i] = (int)a->v[i].len;
        if (a->v[i].kind == OWB_ARG_I64) {
            for (int k = 7; k >= 0; k--, u >>= 8)
                p->num[i][k] = (uint8_t)(u & 0xff);
            p->v[i] = (const char *)p->num[i];
            p->len[i] = 8;
        } else if (a->v[i].kind == OWB_ARG_BOOL) {
            p->num[i][0] = u != 0;
            p->v[i] = (const char *)p->num[i];
            p->len[i] = 1;
        }
    }
}

static enum owb_err pg_run(void *conn, unsigned id, const struct owb_store_args *a,
                           owb_store_row_fn row, void *ctx, size_t *count)
{
    struct pconn *c = conn;
    struct pg_params p;
    char name[16];
    PGresult *r;
    enum owb_err rc;

    if (count)
        *count = 0;
    if (!conn_ok(c))
        return OWB_ERR_UNAVAILABLE;
    rc = fit_timeouts(c);
    if (rc == OWB_OK)
        rc = prepare(c, id);
    if (rc != OWB_OK)
        return rc;
    to_params(a, &p);
    snprintf(name, sizeof name, "owb%u", id);
    r = PQsendQueryPrepared(c->pg, name, a ? a->n : 0, p.v, p.len, p.fmt, 1)
            ? await(c, wait_deadline(c))
            : NULL;
    rc = map_res(c, r);
    if (rc == OWB_OK && PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            struct pg_res res = {r, i};
            enum owb_err e = row ? row(ctx, &pg_cols, &res) : OWB_OK;
            rc = rc == OWB_OK ? e : rc;
        }
        if (count && rc == OWB_OK)
            *count = (size_t)PQntuples(r);
    } else if (count && rc == OWB_OK) {
        *count = (size_t)strtoul(PQcmdTuples(r), NULL, 10);
    }
    PQclear(r);
    return rc;
}

static enum owb_err pg_begin(void *conn)
{
    return exec_sql(conn, "BEGIN");
}

static enum owb_err pg_end(void *conn, enum owb_err rc)
{
    struct pconn *c = conn;
    enum owb_err end = exec_sql(c, rc == OWB_OK ? "COMMIT" : "ROLLBACK");

    /* A rollback undoes a SET made in the transaction too. */
    if (rc != OWB_OK || end != OWB_OK)
        c->timeout_ms = UINT_MAX;
    return rc == OWB_OK ? end : rc;
}

/* One connection, one try more after a lost connection; neither waits
 * past the request's bound. */
static enum owb_err pg_call(struct owb_store *base, bool write, owb_store_conn_fn fn, void *arg)
{
    struct pg_store *s = PG(base);
    struct pconn *c = owb_store_pool_acquire(&s->core.pool, owb_store_deadline(base));
    enum owb_err rc = OWB_ERR_UNAVAILABLE;

    (void)write; /* every connection reads and writes */
    if (!c)
        return rc;
    c->deadline = owb_store_bound();
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!reconnect(s, c))
            break;
        rc = fn(c, arg);
        if (rc != OWB_ERR_UNAVAILABLE || conn_ok(c))
            break;
    }
    c->deadline = 0;
    owb_store_pool_release(&s->core.pool, c);
    return rc;
}

/* --- import: COPY into a temporary table, insert from there --- */

static void *pg_lend(struct owb_store *base)
{
    return owb_store_pool_acquire(&PG(base)->core.pool, 0);
}

static void pg_give_back(struct owb_store *base, void *conn)
{
    owb_store_pool_release(&PG(base)->core.pool, conn);
}

/* Takes the import lock, waiting up to lock_timeout (--busy-timeout) for
 * another import to end: OWB_ERR_BUSY past that. Two imports of one file
 * would otherwise meet on each row the other inserted and the loser give
 * up with a lock time-out that says nothing of why. */
static enum owb_err import_lock(struct pconn *c)
{
    PGresult *r = pg_exec(c, "SELECT pg_advisory_xact_lock(" IMPORT_LOCK ")");
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    enum owb_err rc = state && !strcmp(state, "55P03") ? OWB_ERR_BUSY : map_res(c, r);

    PQclear(r);
    return rc;
}

/* An import holds one connection in one transaction from begin to end; a
 * lost connection fails it (nothing of it is kept). */
static enum owb_err pg_import_open(struct owb_store *base, void *conn)
{
    struct pconn *c = conn;
    enum owb_err rc = reconnect(PG(base), c) ? OWB_OK : OWB_ERR_UNAVAILABLE;

    if (rc == OWB_OK)
        rc = exec_sql(c, "BEGIN");
    if (rc == OWB_OK)
        rc = import_lock(c);
    /* Each batch is a thousand rows checked against the devices table,
     * which grows inside this transaction where no statistics follow it:
     * left to itself the planner hashed all of devices for every batch and
     * a million records took 371 s. An index probe per row is what fits. */
    if (rc == OWB_OK)
        rc = exec_sql(c, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off");
    if (rc == OWB_OK)
        rc = exec_sql(c, "CREATE TEMP TABLE owb_import ON COMMIT DROP AS SELECT " OWB_IMPORT_COLS
                         " FROM devices WITH NO DATA");
    if (rc != OWB_OK)
        (void)exec_sql(c, "ROLLBACK");
    return rc;
}

/* One row in COPY's text format: tab-separated, \N for NULL, bytea as \\x
 * and hex (the backslash doubled). Text goes as it is: device ids and
 * suite names hold no tab, newline or backslash (the records parser
 * checks ids). 0 when it does not fit. */
static size_t copy_line(const struct owb_store_args *a, char *line, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < a->n; i++) {
        const uint8_t *b = a->v[i].p;
        size_t n = a->v[i].len;
        if (o + 4 + 2 * n + 1 > cap)
            return 0;
        if (i)
            line[o++] = '\t';
        if (a->v[i].kind == OWB_ARG_NULL) {
            memcpy(line + o, "\\N", 2);
            o += 2;
        } else if (a->v[i].kind == OWB_ARG_TEXT) {
            memcpy(line + o, b, n);
            o += n;
        } else {
            memcpy(line + o, "\\\\x", 3);
            o += 3;
            for (size_t k = 0; k < n; k++) {
                line[o++] = hex[b[k] >> 4];
                line[o++] = hex[b[k] & 15];
            }
        }
    }
    line[o++] = '\n';
    return o;
}

/* Queues COPY data (line, or with len 0 the end, err NULL unless it
 * failed), waiting by c's deadline while the connection cannot take more. */
static bool copy_put(struct pconn *c, const char *line, size_t len, const char *err)
{
    int64_t deadline = wait_deadline(c);
    int r;

    while ((r = len ? PQputCopyData(c->pg, line, (int)len) : PQputCopyEnd(c->pg, err)) == 0)
        if (!wait_socket(c->pg, POLLOUT, deadline) || PQflush(c->pg) < 0)
            return false;
    return r == 1;
}

static enum owb_err copy_batch(struct pconn *c, const struct owb_import_item *items, size_t n)
{
    char line[OWB_DEVICE_ID_SIZE + 6 * (2 * OWB_SEALED_MAX + 8) + 16];
    PGresult *r;
    enum owb_err rc = exec_sql(c, "TRUNCATE owb_import");

    if (rc == OWB_OK) {
        r = pg_exec(c, "COPY owb_import FROM STDIN");
        rc = map_res(c, r);
        PQclear(r);
    }
    if (rc != OWB_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct owb_store_args a;
        owb_store_import_args(&items[i], &a);
        size_t len = copy_line(&a, line, sizeof line);
        if (len == 0 || !copy_put(c, line, len, NULL)) {
            (void)copy_put(c, NULL, 0, "owb: write failed");
            break;
        }
    }
    if (!copy_put(c, NULL, 0, NULL))
        return conn_ok(c) ? OWB_ERR_IO : OWB_ERR_UNAVAILABLE;
    r = await(c, wait_deadline(c));
    rc = map_res(c, r);
    PQclear(r);
    return rc;
}

static enum owb_err read_conflict(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct owb_import_result *ir = ctx;
    const char *id = c->text(res, 0);
    snprintf(ir->conflict_id, sizeof ir->conflict_id, "%s", id ? id : "");
    return OWB_ERR_CONFLICT;
}

static enum owb_err pg_import_batch(void *conn, const struct owb_import_item *items, size_t n,
                                    struct owb_import_result *res)
{
    struct pconn *c = conn;
    struct owb_store_args a = {0};
    size_t added = 0;
    enum owb_err rc = copy_batch(c, items, n);

    if (rc == OWB_OK)
        rc = pg_run(c, P_IMPORT_CONFLICT, NULL, read_conflict, res, NULL);
    owb_arg_i64(&a, (int64_t)time(NULL));
    if (rc == OWB_OK)
        rc = pg_run(c, P_IMPORT_INSERT, &a, NULL, NULL, &added);
    if (rc != OWB_OK)
        return rc;
    res->added += added;
    res->unchanged += n - added;
    return OWB_OK;
}

static enum owb_err read_bool(void *ctx, const struct owb_store_cols *c, void *res)
{
    *(bool *)ctx = c->i64(res, 0) != 0;
    return OWB_OK;
}

/* Instances pruning at once would only delete the same rows twice (the
 * deletes are idempotent), but could deadlock on each other's row locks:
 * the one holding the lock goes on, the others leave it the work. */
static enum owb_err pg_prune_begin(void *conn)
{
    bool got = false;
    enum owb_err rc = pg_begin(conn);

    if (rc == OWB_OK)
        rc = pg_run(conn, P_PRUNE_LOCK, NULL, read_bool, &got, NULL);
    if (rc == OWB_OK && !got)
        rc = OWB_ERR_BUSY;
    return rc == OWB_OK ? OWB_OK : pg_end(conn, rc);
}

static const struct owb_store_driver pg_driver = {
    pg_call,      pg_run,         pg_begin,        pg_end,         pg_lend,
    pg_give_back, pg_import_open, pg_import_batch, pg_prune_begin, NULL,
};

/* --- issue and check-in, one statement each --- */

/* Moves the durable mark ahead of the database's clock, and sets the
 * floor when crash recovery emptied it, in one transaction that waits for
 * the WAL to reach the disk. Instances reserving at once queue on the
 * mark's row. */
static enum owb_err reserve_fn(void *conn, void *arg)
{
    struct owb_store_args a = {0};
    enum owb_err rc = pg_begin(conn);

    (void)arg;
    owb_arg_i64(&a, owb_store_clock_skew_us());
    owb_arg_i64(&a, OWB_COUNTER_AHEAD_US);
    owb_arg_i64(&a, OWB_COUNTER_LIMIT);
    if (rc == OWB_OK)
        rc = exec_sql(conn, "SET LOCAL synchronous_commit = on");
    if (rc == OWB_OK)
        rc = pg_run(conn, P_FLOOR_SET, NULL, NULL, NULL, NULL);
    if (rc == OWB_OK)
        rc = pg_run(conn, P_MARK_MOVE, &a, NULL, NULL, NULL);
    return pg_end(conn, rc);
}

/* No row: no device, or a reservation first (P_ISSUE), tried twice; a
 * mark that cannot move any more (2^53) ends it. */
static enum owb_err pg_issue(struct owb_store *base, const char *id,
                             const uint8_t session_hash[OWB_HASH_BYTES], const char *mode,
                             int64_t now, uint64_t *counter)
{
    struct owb_store_args a = {0}, d = {0};
    int64_t value = 0;
    size_t n = 0;
    enum owb_err rc;

    owb_arg_blob(&a, session_hash, OWB_HASH_BYTES);
    owb_arg_text(&a, id);
    owb_arg_text(&a, mode);
    owb_arg_i64(&a, now);
    owb_arg_i64(&a, owb_store_clock_skew_us());
    owb_arg_text(&d, id);
    for (int i = 0; i < 3; i++) {
        rc = owb_store_exec(base, true, P_ISSUE, &a, owb_store_read_i64, &value, &n);
        if (rc != OWB_OK || n != 0)
            break;
        rc = owb_store_exec(base, false, OWB_ST_DEV_COUNTER, &d, NULL, NULL, &n);
        if (rc == OWB_OK)
            rc = n == 0  ? OWB_ERR_NOENT
                 : i < 2 ? pg_call(base, true, reserve_fn, NULL)
                         : OWB_ERR_INTERNAL;
        if (rc != OWB_OK)
            break;
    }
    if (rc == OWB_ERR_INTERNAL)
        fprintf(stderr, "owb-server: %s: no counter below 2^53 is left\n", id);
    *counter = rc == OWB_OK ? (uint64_t)value : 0;
    return rc;
}

struct setup_issued {
    struct owb_setup_reading r;
    uint64_t counter;
};

static enum owb_err read_setup_issued(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct setup_issued *si = ctx;
    int at = 3 + owb_store_ncols(OWB_DEVICE_COLS) + owb_store_ncols(OWB_NETWORK_COLS);

    si->counter = (uint64_t)c->i64(res, at);
    return owb_store_read_setup(&si->r, c, res);
}

/* One statement, or nothing written (store.h setup_issue). */
static enum owb_err pg_setup_issue(struct owb_store *base, const struct owb_setup_ask *ask,
                                   struct owb_setup_read *out, uint64_t *counter)
{
    struct owb_store_args a = {0};
    struct setup_issued si = {{out, ask->token_hash != NULL}, 0};
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, ask->id);
    if (ask->claim_hash)
        owb_arg_blob(&a, ask->claim_hash, OWB_CLAIM_HASH_BYTES);
    else
        owb_arg_null(&a);
    owb_arg_i64(&a, ask->claim_since);
    owb_arg_i64(&a, ask->now);
    if (ask->token_hash)
        owb_arg_blob(&a, ask->token_hash, OWB_HASH_BYTES);
    else
        owb_arg_null(&a);
    owb_arg_blob(&a, ask->session_hash, OWB_HASH_BYTES);
    owb_arg_text(&a, ask->mode);
    owb_arg_i64(&a, owb_store_clock_skew_us());
    memset(out, 0, sizeof *out);
    out->net_rc = OWB_ERR_NOENT;
    rc = owb_store_exec(base, true, P_SETUP_ISSUE, &a, read_setup_issued, &si, &n);
    *counter = rc == OWB_OK && n == 1 ? si.counter : 0;
    return rc == OWB_OK && n != 1 ? OWB_ERR_NOENT : rc;
}

static enum owb_err read_checkin(void *ctx, const struct owb_store_cols *c, void *res)
{
    enum owb_err *out = ctx;
    *out = c->i64(res, 0) == 0   ? OWB_ERR_CONFLICT /* no such session */
           : c->i64(res, 1) == 0 ? OWB_ERR_REPLAYED /* the nonce was there */
                                 : OWB_OK;
    return OWB_OK;
}

struct recover_args {
    const char *id;
    uint64_t counter;
    int64_t now;
};

/* A session lost in a crash (store.h checkin), recorded again; the
 * check-in then runs as for any other. */
static enum owb_err recover_fn(void *conn, void *arg)
{
    const struct recover_args *ra = arg;
    enum owb_err rc = pg_begin(conn);

    if (rc == OWB_OK)
        rc = owb_store_recover(&pg_driver, conn, ra->id, ra->counter, ra->now);
    return pg_end(conn, rc);
}

static enum owb_err pg_checkin(struct owb_store *base, const char *id, uint64_t counter,
                               const uint8_t nonce[16], int64_t now)
{
    struct owb_store_args a = {0};
    enum owb_err outcome = OWB_ERR_IO, rc;

    owb_arg_text(&a, id);
    owb_arg_i64(&a, (int64_t)counter);
    owb_arg_blob(&a, nonce, 16);
    owb_arg_i64(&a, now);
    rc = owb_store_exec(base, true, P_CHECKIN, &a, read_checkin, &outcome, NULL);
    if (rc == OWB_OK && outcome == OWB_ERR_CONFLICT) {
        struct recover_args ra = {id, counter, now};
        rc = pg_call(base, true, recover_fn, &ra);
        /* Not recovered here: another check-in may just have done it. */
        if (rc == OWB_OK || rc == OWB_ERR_CONFLICT)
            rc = owb_store_exec(base, true, P_CHECKIN, &a, read_checkin, &outcome, NULL);
    }
    return rc == OWB_OK ? outcome : rc;
}

/* --- opening and closing --- */

static void pg_close(struct owb_store *base)
{
    struct pg_store *s = PG(base);

    if (!s)
        return;
    for (unsigned i = 0; i < s->core.pool.n; i++)
        PQfinish(((struct pconn *)owb_store_pool_slot(&s->core.pool, i))->pg);
    free(s->dsn);
    owb_store_free(&s->core);
}

static enum owb_err ping_fn(void *conn, void *arg)
{
    (void)arg;
    return exec_sql(conn, "SELECT 1");
}

/* Ready when the database answers a statement (reconnecting if need be). */
static enum owb_err pg_ping(struct owb_store *base)
{
    return pg_call(base, false, ping_fn, NULL);
}

static const struct owb_store_ops pg_ops =
    OWB_STORE_OPS("postgresql", pg_close, pg_issue, pg_checkin, pg_ping, pg_setup_issue);

/* The schema's version, creating its table (at 0) when create allows;
 * *exists false when there is none. */
static enum owb_err schema_version(struct pconn *c, bool create, bool *exists, size_t *have)
{
    PGresult *r = pg_exec(c, "SELECT to_regclass('owb_schema') IS NOT NULL");
    enum owb_err rc = map_res(c, r);

    *have = 0;
    *exists = rc == OWB_OK && PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (rc != OWB_OK || (!*exists && !create))
        return rc;
    if (!*exists)
        rc = exec_sql(c, "CREATE TABLE owb_schema (version INTEGER NOT NULL);"
                         "INSERT INTO owb_schema VALUES (0)");
    *exists = rc == OWB_OK;
    if (rc == OWB_OK) {
        r = pg_exec(c, "SELECT version FROM owb_schema");
        rc = map_res(c, r);
        if (rc == OWB_OK && PQntuples(r) == 1)
            *have = strtoul(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    return rc;
}

/* How many connections to this database other owb-server versions hold
 * (older ones named themselves "owb-server"; a DSN's application_name
 * hides one from this). */
static enum owb_err other_versions(struct pconn *c, long *n)
{
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name LIKE 'owb-server%%' AND application_name <> '" APP_NAME_FMT "'",
             owb_store_migrations());
    PGresult *r = pg_exec(c, sql);
    enum owb_err rc = map_res(c, r);

    *n = rc == OWB_OK && PQntuples(r) == 1 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return rc;
}

/* Brings the schema up to date under the advisory lock. Without create,
 * a database that was never initialised is refused (OWB_ERR_BAD_FILE).
 * Nor is a schema in use migrated under instances of an older version,
 * whose statements would meet tables they do not know: that waits until
 * they are stopped (OWB_ERR_BUSY). */
static enum owb_err migrate(struct pconn *c, bool create, char *diag)
{
    size_t have = 0, want = owb_store_migrations();
    bool said = false, exists = false;
    enum owb_err rc = exec_sql(c, "BEGIN");

    if (rc == OWB_OK)
        rc = exec_sql(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")");
    if (rc == OWB_OK)
        rc = schema_version(c, create, &exists, &have);
    if (rc == OWB_OK && !exists) {
        owb_diagf(diag, "was never initialised (run 'owb-server init')");
        said = true;
        rc = OWB_ERR_BAD_FILE;
    }
    if (rc == OWB_OK && have > want) {
        owb_diagf(diag, "schema version %zu is newer than this owb-server (%zu)", have, want);
        said = true;
        rc = OWB_ERR_BAD_FILE;
    }
    if (rc == OWB_OK && have > 0 && have < want) {
        long others = 0;
        rc = other_versions(c, &others);
        if (rc == OWB_OK && others > 0) {
            owb_diagf(diag,
                      "schema version %zu is to be migrated to %zu, but other owb-server versions "
                      "hold %ld connection(s) to it: stop every older instance first",
                      have, want, others);
            said = true;
            rc = OWB_ERR_BUSY;
        }
    }
    for (size_t v = have; rc == OWB_OK && v < want; v++) {
        char bump[64], *sql = owb_store_sql_expand(&owb_dialect_pg, owb_store_migration(v));
        rc = sql ? exec_sql(c, sql) : OWB_ERR_NOMEM;
        free(sql);
        snprintf(bump, sizeof bump, "UPDATE owb_schema SET version = %zu", v + 1);
        if (rc == OWB_OK)
            rc = exec_sql(c, bump);
    }
    rc = pg_end(c, rc);
    if (rc != OWB_OK && !said)
        owb_diagf(diag, "schema migration failed: %s", PQerrorMessage(c->pg));
    return rc;
}

/* Everything an open does once the store is allocated: every connection
 * made, the schema brought up to date. */
static enum owb_err pg_start(void *store, const struct owb_store_config *cfg, char *diag)
{
    struct pg_store *s = store;
    enum owb_err rc;

    s->dsn = strdup(cfg->path);
    s->async = cfg->serving;
    rc = s->dsn ? OWB_OK : OWB_ERR_NOMEM;
    for (unsigned i = 0; rc == OWB_OK && i < s->core.pool.n; i++) {
        struct pconn *c = owb_store_pool_slot(&s->core.pool, i);
        c->busy_ms = s->core.busy_ms;
        c->timeout_ms = UINT_MAX;
        c->pg = connect_pg(s->dsn, c->busy_ms, s->async, true);
        if (!conn_ok(c) || PQsetnonblocking(c->pg, 1) != 0) {
            /* The connection string may hold a password: not repeated. */
            owb_diagf(diag, "cannot connect: %s", c->pg ? PQerrorMessage(c->pg) : "no memory");
            char *nl = strchr(diag, '\n');
            if (nl)
                *nl = '\0';
            rc = OWB_ERR_UNAVAILABLE;
        }
    }
    if (rc == OWB_OK)
        rc = migrate(owb_store_pool_slot(&s->core.pool, 0), cfg->create, diag);
    return rc;
}

enum owb_err owb_store_pg_open(const struct owb_store_config *cfg, struct owb_store **out,
                               char *diag)
{
    return owb_store_create(sizeof(struct pg_store), &pg_ops, &pg_driver, sizeof(struct pconn),
                            pg_start, cfg, out, diag);
}
