/* The SQLite storage backend: one database file in WAL mode, a small pool
 * of connections (one per HTTP thread), prepared statements cached per
 * connection, and write transactions begun IMMEDIATE so two writers queue
 * on the busy timeout instead of failing on a lock upgrade. Within one
 * process, writers queue on a mutex, and setups and check-ins are
 * committed in groups (write_batched).
 *
 * The schema, the shared statements, the row decoders, the pool and the
 * one-statement operations are store_i.h's; this file keeps what is
 * SQLite's own: the writer and its group commit, the import as a row by
 * row insert, the background checkpoints. */
#include "store.h"
#include "store_i.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* This backend's own statements, numbered after the shared ones. */
enum sq_stmt {
    ST_BEGIN = OWB_ST__SHARED,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_DEV_INSERT,
    ST_DEV_FP,
    ST_ISSUE_BUMP,
    ST_ISSUE_SESSION,
    ST_CHECKIN_SESSION,
    ST_CHECKIN_NONCE,
    ST_CHECKIN_ONLINE,
    ST_CHECKIN_DEVICE,
    ST__COUNT
};

#define OWN(id) [(id)-OWB_ST__SHARED]

static const char *const own_sql[ST__COUNT - OWB_ST__SHARED] = {
    OWN(ST_BEGIN) = "BEGIN IMMEDIATE",
    OWN(ST_COMMIT) = "COMMIT",
    OWN(ST_ROLLBACK) = "ROLLBACK",
    OWN(ST_SAVEPOINT) = "SAVEPOINT job",
    OWN(ST_RELEASE) = "RELEASE job",
    OWN(ST_ROLLBACK_TO) = "ROLLBACK TO job",
    OWN(ST_DEV_INSERT) = "INSERT INTO devices(" OWB_IMPORT_COLS ", created_at, updated_at) "
                         "VALUES($1, $2, $3, $4, $5, $6, $7, $8, unixepoch(), unixepoch()) "
                         "ON CONFLICT(id) DO NOTHING",
    OWN(ST_DEV_FP) = "SELECT key_fp FROM devices WHERE id = $1",
    /* Issue and check-in as several statements, jobs of a group-committed
     * batch (write_batched). */
    /* $3 the clock in microseconds, $4 the floor, $5 the durable mark: no
     * row when the counter would reach the mark (reserve first). */
    OWN(ST_ISSUE_BUMP) = "UPDATE devices SET counter = max(counter + 1, $3, $4), state = CASE "
                         "state WHEN 'online' THEN state ELSE 'issued' END, updated_at = $2 "
                         "WHERE id = $1 AND max(counter + 1, $3, $4) < $5 RETURNING counter",
    OWN(ST_ISSUE_SESSION) = "INSERT INTO sessions(token_hash, device_id, counter, mode, "
                            "created_at) VALUES($1, $2, $3, $4, $5)",
    OWN(ST_CHECKIN_SESSION) = "SELECT 1 FROM sessions WHERE device_id = $1 AND counter = $2",
    OWN(ST_CHECKIN_NONCE) = "INSERT INTO checkin_nonces(device_id, nonce, counter, at) "
                            "VALUES($1, $2, $3, $4)",
    /* Neither row is rewritten when nothing changes (store_pg.c P_CHECKIN):
     * fewer pages in the WAL. */
    OWN(ST_CHECKIN_ONLINE) = "UPDATE sessions SET state = 'online', online_at = $3 "
                             "WHERE device_id = $1 AND counter = $2 AND state <> 'online'",
    OWN(ST_CHECKIN_DEVICE) = "UPDATE devices SET state = 'online', online_at = $2, "
                             "updated_at = $2 WHERE id = $1 AND (state <> 'online' "
                             "OR online_at IS NOT $2)",
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    int busy_ms; /* the writer's busy timeout (pruning shortens it for a moment) */
};

/* One write of a batch: fn runs inside the batch's transaction, and its
 * failure (a replayed nonce, an unknown device) undoes only its own
 * changes (run_jobs). */
struct wjob {
    owb_store_conn_fn fn;
    void *arg;
    enum owb_err rc;
    bool done;
    struct wjob *next;
    int64_t deadline; /* its request's (owb_store_deadline) */
};

struct sq_store {
    struct owb_store_core core;
    /* Writers take this before the database's own lock. SQLite's busy
     * handler waits by sleeping (1, 2, 5, 10 ... ms), so threads of one
     * process racing for BEGIN IMMEDIATE slept far longer than a write
     * takes; queueing them here hands the lock over at once. The busy
     * timeout is left for other processes (admin commands, a second
     * server). */
    pthread_mutex_t write_mu;
    /* The one connection that writes: its page cache stays valid across
     * its own commits (a pool connection's is dropped whenever another
     * connection has written). */
    struct conn writer;
    /* Group commit: setup and check-in writes queue here and whichever
     * thread finds no batch running commits everything queued in one
     * transaction (one WAL append, one fsync with synchronous=FULL). */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    struct wjob *q_head, **q_tail;
    bool q_leader;
    /* Background checkpoints (serving only): the writer never stops to
     * copy the WAL back into the database; a thread does it beside it. */
    sqlite3 *ckpt_db;
    pthread_t ckpt_thread;
    bool ckpt_started, ckpt_stop;
    int wal_frames;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    /* Counters (store.h issue), the writer's alone: the durable mark as
     * this process last made or read it (every counter it issues lies
     * below), and the floor, the mark read back at open: whatever the
     * process before issued and a power cut lost lies below that. */
    int64_t mark, floor;
    bool sync_full; /* every commit waits for the disk, not only reservations */
};

#define S(x) ((struct sq_store *)(x))

static enum owb_err map_rc(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return OWB_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return OWB_ERR_UNAVAILABLE;
    case SQLITE_CONSTRAINT:
        /* A row naming one that is not there (a claim on a removed device)
         * is a missing row, as PostgreSQL's foreign key error says too. */
        return db && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_FOREIGNKEY ? OWB_ERR_NOENT
                                                                                  : OWB_ERR_EXISTS;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    default:
        fprintf(stderr, "owb-server: sqlite: %s\n", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return OWB_ERR_IO;
    }
}

/* The writer, waited for until deadline (0: as long as it takes); NULL
 * past it. */
static struct conn *acquire_writer(struct sq_store *s, int64_t deadline)
{
    struct timespec until = owb_store_timespec(deadline);

    if (!deadline)
        pthread_mutex_lock(&s->write_mu);
    else if (pthread_mutex_clocklock(&s->write_mu, CLOCK_MONOTONIC, &until) != 0)
        return NULL;
    return &s->writer;
}

/* A lock another process holds is waited for until deadline and no
 * longer (SQLite's busy handler, set for each call). */
static void wait_until(struct conn *c, int64_t deadline)
{
    int64_t left = deadline - owb_store_clock_ms();
    sqlite3_busy_timeout(c->db, left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left);
}

static void release_writer(struct sq_store *s)
{
    pthread_mutex_unlock(&s->write_mu);
}

/* The cached statement, reset and ready to bind; NULL on failure. */
static sqlite3_stmt *stmt(struct conn *c, unsigned id)
{
    if (id >= ST__COUNT)
        return NULL;
    if (!c->st[id]) {
        const char *tmpl = id < OWB_ST__SHARED ? owb_store_stmts[id].sql : own_sql OWN(id);
        char *sql = owb_store_sql_expand(&owb_dialect_sqlite, tmpl);
        int r =
            sql ? sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL)
                : SQLITE_NOMEM;
        free(sql);
        if (r != SQLITE_OK) {
            fprintf(stderr, "owb-server: sqlite prepare: %s\n", sqlite3_errmsg(c->db));
            return NULL;
        }
    }
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

/* --- the driver (store_i.h) --- */

static const char *col_text(void *res, int col)
{
    return (const char *)sqlite3_column_text(res, col);
}

static const uint8_t *col_blob(void *res, int col, size_t *len)
{
    const uint8_t *b = sqlite3_column_blob(res, col);
    *len = (size_t)sqlite3_column_bytes(res, col);
    return b;
}

static int64_t col_i64(void *res, int col)
{
    return sqlite3_column_int64(res, col);
}

static bool col_null(void *res, int col)
{
    return sqlite3_column_type(res, col) == SQLITE_NULL;
}

static const struct owb_store_cols sq_cols = {col_text, col_blob, col_i64, col_null};

static void bind_args(sqlite3_stmt *st, const struct owb_store_args *a)
{
    for (int i = 0; a && i < a->n; i++) {
        switch (a->v[i].kind) {
        case OWB_ARG_TEXT:
            sqlite3_bind_text(st, i + 1, a->v[i].p, (int)a->v[i].len, SQLITE_STATIC);
            break;
        case OWB_ARG_BLOB:
            sqlite3_bind_blob(st, i + 1, a->v[i].p, (int)a->v[i].len, SQLITE_STATIC);
            break;
        case OWB_ARG_I64:
        case OWB_ARG_BOOL:
            sqlite3_bind_int64(st, i + 1, a->v[i].i);
            break;
        case OWB_ARG_NULL:
            sqlite3_bind_null(st, i + 1);
            break;
        }
    }
}

static enum owb_err sq_run(void *conn, unsigned id, const struct owb_store_args *a,
                           owb_store_row_fn row, void *ctx, size_t *count)
{
    struct conn *c = conn;
    sqlite3_stmt *st = stmt(c, id);
    enum owb_err rc = OWB_OK;
    size_t rows = 0;
    int r;

    if (count)
        *count = 0;
    if (!st)
        return OWB_ERR_IO;
    bind_args(st, a);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        enum owb_err e = row ? row(ctx, &sq_cols, st) : OWB_OK;
        rc = rc == OWB_OK ? e : rc;
        rows++;
    }
    if (r != SQLITE_DONE)
        rc = map_rc(c->db, r);
    if (count && rc == OWB_OK)
        *count = rows ? rows : sqlite3_stmt_readonly(st) ? 0 : (size_t)sqlite3_changes(c->db);
    sqlite3_reset(st);
    return rc;
}

static enum owb_err run_simple(struct conn *c, unsigned id)
{
    return sq_run(c, id, NULL, NULL, NULL, NULL);
}

static enum owb_err sq_begin(void *conn)
{
    return run_simple(conn, ST_BEGIN);
}

/* COMMIT on success, else ROLLBACK; returns the final outcome. */
static enum owb_err sq_end(void *conn, enum owb_err rc)
{
    struct conn *c = conn;

    if (rc == OWB_OK) {
        rc = run_simple(c, ST_COMMIT);
        if (rc == OWB_OK)
            return OWB_OK;
    }
    if (!sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK);
    return rc;
}

/* Writes go to the writer, reads to a pool connection; neither waits
 * past the call's deadline. */
static enum owb_err sq_call(struct owb_store *base, bool write, owb_store_conn_fn fn, void *arg)
{
    struct sq_store *s = S(base);
    int64_t deadline = owb_store_deadline(base);
    struct conn *c =
        write ? acquire_writer(s, deadline) : owb_store_pool_acquire(&s->core.pool, deadline);
    enum owb_err rc = OWB_ERR_UNAVAILABLE;

    if (!c)
        return rc;
    wait_until(c, deadline);
    rc = fn(c, arg);
    if (write)
        release_writer(s);
    else
        owb_store_pool_release(&s->core.pool, c);
    return rc;
}

/* --- group commit --- */

/* A failure of the transaction itself, not of one job's own rows: the
 * whole batch shares it. */
static bool tx_failure(enum owb_err rc)
{
    return rc == OWB_ERR_IO || rc == OWB_ERR_UNAVAILABLE || rc == OWB_ERR_NOMEM;
}

/* The batch's jobs in the open transaction. With savepoints, a job's
 * failure undoes only its own changes. Without (the first try: they cost
 * two statements and an allocation a job), a job that failed after it had
 * changed rows sets *redo and ends the run: the caller rolls back and
 * runs the batch again with them. Most failures (a replayed nonce, an
 * unknown device) change nothing. The jobs may run twice: each is a
 * function of its arguments and the database. */
static enum owb_err run_jobs(struct conn *c, struct wjob *batch, bool savepoints, bool *redo)
{
    enum owb_err rc = OWB_OK;

    for (struct wjob *j = batch; j; j = j->next) {
        if (rc == OWB_OK && savepoints)
            rc = run_simple(c, ST_SAVEPOINT);
        if (rc != OWB_OK) {
            j->rc = rc;
            continue;
        }
        int changes = sqlite3_total_changes(c->db);
        j->rc = j->fn(c, j->arg);
        if (j->rc != OWB_OK && !savepoints && sqlite3_total_changes(c->db) != changes &&
            !tx_failure(j->rc)) {
            *redo = true;
            return OWB_OK;
        }
        if (j->rc != OWB_OK && savepoints)
            (void)run_simple(c, ST_ROLLBACK_TO);
        if (savepoints && run_simple(c, ST_RELEASE) != OWB_OK)
            rc = OWB_ERR_IO;
        if (tx_failure(j->rc))
            rc = j->rc;
    }
    return rc;
}

/* Runs a batch within the earliest deadline of its jobs: the lock is
 * waited for no longer than the most hurried of them may wait. */
static void run_batch(struct sq_store *s, struct wjob *batch)
{
    int64_t first = batch->deadline;
    struct conn *c;
    enum owb_err rc;
    bool redo = false;

    for (struct wjob *j = batch; j; j = j->next)
        first = j->deadline < first ? j->deadline : first;
    c = acquire_writer(s, first);
    if (!c) {
        for (struct wjob *j = batch; j; j = j->next)
            j->rc = OWB_ERR_UNAVAILABLE;
        return;
    }
    wait_until(c, first);
    rc = sq_begin(c);
    if (rc == OWB_OK)
        rc = run_jobs(c, batch, false, &redo);
    if (rc == OWB_OK && redo) {
        (void)run_simple(c, ST_ROLLBACK);
        rc = sq_begin(c);
        if (rc == OWB_OK)
            rc = run_jobs(c, batch, true, &redo);
    }
    rc = sq_end(c, rc);
    /* Nothing of a batch is answered before its COMMIT is done. */
    for (struct wjob *j = batch; j; j = j->next)
        if (rc != OWB_OK)
            j->rc = rc;
    release_writer(s);
}

/* Takes job out of the queue (under q_mu); false when a batch has it. */
static bool unqueue(struct sq_store *s, struct wjob *job)
{
    for (struct wjob **p = &s->q_head; *p; p = &(*p)->next) {
        if (*p != job)
            continue;
        *p = job->next;
        if (s->q_tail == &job->next)
            s->q_tail = p;
        return true;
    }
    return false;
}

/* The queued jobs as a batch (under q_mu). A job whose deadline has
 * passed is answered UNAVAILABLE there and then, without trying: a
 * request that waited out its bound behind other batches gets no second
 * wait of its own. */
static struct wjob *take_batch(struct sq_store *s)
{
    struct wjob *batch = NULL, **tail = &batch, *next;
    int64_t now = owb_store_clock_ms();

    for (struct wjob *j = s->q_head; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->deadline <= now) {
            j->rc = OWB_ERR_UNAVAILABLE;
            j->done = true;
            continue;
        }
        *tail = j;
        tail = &j->next;
    }
    s->q_head = NULL;
    s->q_tail = &s->q_head;
    pthread_cond_broadcast(&s->q_cv);
    return batch;
}

static enum owb_err write_batched(struct sq_store *s, owb_store_conn_fn fn, void *arg)
{
    struct wjob job = {fn, arg, OWB_OK, false, NULL, owb_store_deadline(&s->core.base)};
    bool taken = false; /* by a batch, when its deadline passed */

    pthread_mutex_lock(&s->q_mu);
    *s->q_tail = &job;
    s->q_tail = &job.next;
    while (!job.done) {
        if (s->q_leader) {
            /* Past its deadline a job still queued leaves; one a batch
             * has taken is answered within the batch's deadline. */
            if (owb_store_cond_wait(&s->q_cv, &s->q_mu, taken ? 0 : job.deadline))
                continue;
            if (unqueue(s, &job)) {
                job.rc = OWB_ERR_UNAVAILABLE;
                job.done = true;
            }
            taken = true;
            continue;
        }
        struct wjob *batch = take_batch(s), *next;
        s->q_leader = true;
        pthread_mutex_unlock(&s->q_mu);
        if (batch)
            run_batch(s, batch);
        pthread_mutex_lock(&s->q_mu);
        s->q_leader = false;
        /* A waiter returns (and its job goes away) once done is set. */
        for (struct wjob *j = batch; j; j = next) {
            next = j->next;
            j->done = true;
        }
        pthread_cond_broadcast(&s->q_cv);
    }
    pthread_mutex_unlock(&s->q_mu);
    return job.rc;
}

/* --- import: on the writer, a row at a time --- */

static enum owb_err same_fp(void *ctx, const struct owb_store_cols *c, void *res)
{
    size_t n = 0;
    const uint8_t *fp = c->blob(res, 0, &n);
    return fp && n == OWB_FP_BYTES && memcmp(fp, ctx, OWB_FP_BYTES) == 0 ? OWB_OK
                                                                         : OWB_ERR_CONFLICT;
}

static enum owb_err sq_import_batch(void *conn, const struct owb_import_item *items, size_t n,
                                    struct owb_import_result *res)
{
    struct conn *c = conn;
    enum owb_err rc = OWB_OK;

    for (size_t i = 0; rc == OWB_OK && i < n; i++) {
        struct owb_store_args a;
        size_t added = 0, found = 0;
        uint8_t fp[OWB_FP_BYTES];
        owb_store_import_args(&items[i], &a);
        rc = sq_run(c, ST_DEV_INSERT, &a, NULL, NULL, &added);
        if (rc != OWB_OK || added == 1) {
            res->added += added;
            continue;
        }
        /* Already there: the same key is a no-op, another key a conflict. */
        a.n = 1;
        memcpy(fp, items[i].key_fp, sizeof fp);
        rc = sq_run(c, ST_DEV_FP, &a, same_fp, fp, &found);
        if (rc == OWB_OK && found == 1) {
            res->unchanged++;
        } else if (rc == OWB_OK || rc == OWB_ERR_CONFLICT) {
            snprintf(res->conflict_id, sizeof res->conflict_id, "%s", items[i].id);
            rc = OWB_ERR_CONFLICT;
        }
    }
    return rc;
}

static void *sq_lend(struct owb_store *base)
{
    return acquire_writer(S(base), 0);
}

static void sq_give_back(struct owb_store *base, void *conn)
{
    (void)conn;
    release_writer(S(base));
}

/* Another import holds the write lock for as long as it runs: past the
 * busy timeout that is what to say, not that the service is unavailable. */
static enum owb_err sq_import_open(struct owb_store *base, void *conn)
{
    enum owb_err rc;

    wait_until(conn, owb_store_deadline(base));
    rc = sq_begin(conn);
    return rc == OWB_ERR_UNAVAILABLE ? OWB_ERR_BUSY : rc;
}

/* How long a pruning batch waits for another process's write lock before
 * leaving the pass for later. */
#define PRUNE_LOCK_WAIT_MS 100

/* A pruning batch's BEGIN IMMEDIATE: held by another process (an import,
 * a second server pruning), the database is left to it and the pass ends;
 * the setups queued behind this writer wait only for their own turn. */
static enum owb_err sq_prune_begin(void *conn)
{
    struct conn *c = conn;
    enum owb_err rc;

    sqlite3_busy_timeout(c->db, PRUNE_LOCK_WAIT_MS);
    rc = sq_begin(c);
    sqlite3_busy_timeout(c->db, c->busy_ms);
    return rc == OWB_ERR_UNAVAILABLE ? OWB_ERR_BUSY : rc;
}

/* After a pruning pass: how long the truncating checkpoint waits for
 * readers and writers of other processes (past it, it copies what it can
 * and leaves the WAL's size as it is until the next pass), how many WAL
 * frames may be left to copy when it starts, and how often the passive
 * checkpoints before it try to get there. */
#define TRUNCATE_WAIT_MS 200
#define TRUNCATE_LEFT_FRAMES 1000
#define PASSIVE_TRIES 50

/* Copies the WAL back into the database while setups go on, until at most
 * TRUNCATE_LEFT_FRAMES are left; false when it could not get there. */
static bool wal_copied(struct sq_store *s)
{
    const struct timespec pause = {0, 20 * 1000 * 1000};
    struct conn *c = owb_store_pool_acquire(&s->core.pool, 0);
    int log = 0, done = 0, r = SQLITE_BUSY;

    for (int i = 0; i < PASSIVE_TRIES; i++) {
        r = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (r != SQLITE_BUSY && (r != SQLITE_OK || log - done <= TRUNCATE_LEFT_FRAMES))
            break;
        nanosleep(&pause, NULL);
    }
    owb_store_pool_release(&s->core.pool, c);
    return r == SQLITE_OK && log - done <= TRUNCATE_LEFT_FRAMES;
}

/* A RESTART or TRUNCATE checkpoint on db (NULL: the writer's) with this
 * process's writes held back: they wait on write_mu and go on the moment
 * it is done, where SQLite's busy handler would sleep in steps of up to
 * 100 ms. Readers and other processes are waited for TRUNCATE_WAIT_MS at
 * most; then the WAL stays as it is until the next try. */
static int wal_reset(struct sq_store *s, sqlite3 *db, int mode)
{
    struct conn *w = acquire_writer(s, 0);
    sqlite3 *on = db ? db : w->db;
    int r;

    sqlite3_busy_timeout(on, TRUNCATE_WAIT_MS);
    r = sqlite3_wal_checkpoint_v2(on, NULL, mode, NULL, NULL);
    sqlite3_busy_timeout(on, db ? TRUNCATE_WAIT_MS : w->busy_ms);
    release_writer(s);
    if (r != SQLITE_OK && r != SQLITE_BUSY)
        fprintf(stderr, "owb-server: sqlite checkpoint: %s\n", sqlite3_errmsg(on));
    return r;
}

/* After pruning: the WAL back to zero bytes. SQLite reuses the pages the
 * deletes freed (the free list) for new rows, so the database file stops
 * growing; the WAL only shrinks when a checkpoint truncates it. Passive
 * checkpoints copy it back while setups go on; then a truncating one
 * copies the little left and cuts it (setups wait for that, never for the
 * bulk of the copy). */
static void sq_prune_done(struct owb_store *base)
{
    struct sq_store *s = S(base);

    if (wal_copied(s))
        (void)wal_reset(s, NULL, SQLITE_CHECKPOINT_TRUNCATE);
}

static const struct owb_store_driver sq_driver = {
    sq_call,      sq_run,         sq_begin,        sq_end,         sq_lend,
    sq_give_back, sq_import_open, sq_import_batch, sq_prune_begin, sq_prune_done,
};

/* --- issue and check-in, group-committed --- */

struct issue_args {
    struct sq_store *s;
    const char *id;
    const uint8_t *session_hash;
    const char *mode;
    int64_t now;
    int64_t counter;
};

/* OWB_ERR_SPACE when the counter would reach the durable mark: the
 * caller reserves, then asks again. */
static enum owb_err issue_job(void *c, void *arg)
{
    struct issue_args *is = arg;
    struct owb_store_args a = {0};
    int64_t last = 0;
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, is->id);
    owb_arg_i64(&a, is->now);
    owb_arg_i64(&a, owb_store_now_us());
    owb_arg_i64(&a, is->s->floor);
    owb_arg_i64(&a, is->s->mark);
    rc = sq_run(c, ST_ISSUE_BUMP, &a, owb_store_read_i64, &is->counter, &n);
    if (rc == OWB_OK && n == 0) {
        a.n = 1;
        rc = sq_run(c, OWB_ST_DEV_COUNTER, &a, owb_store_read_i64, &last, &n);
        rc = rc != OWB_OK ? rc : n == 0 ? OWB_ERR_NOENT : OWB_ERR_SPACE;
    }
    if (rc != OWB_OK)
        return rc;
    a.n = 0;
    owb_arg_blob(&a, is->session_hash, OWB_HASH_BYTES);
    owb_arg_text(&a, is->id);
    owb_arg_i64(&a, is->counter);
    owb_arg_text(&a, is->mode);
    owb_arg_i64(&a, is->now);
    return sq_run(c, ST_ISSUE_SESSION, &a, NULL, NULL, NULL);
}

static enum owb_err set_sync(struct conn *c, bool full)
{
    return map_rc(
        c->db, sqlite3_exec(c->db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                            NULL, NULL, NULL));
}

/* Moves the durable mark ahead of the clock in one transaction that waits
 * for the disk (synchronous=FULL syncs the WAL, and with it every commit
 * before). Another process may have moved it further: the later wins. */
static enum owb_err reserve(struct sq_store *s)
{
    int64_t deadline = owb_store_deadline(&s->core.base), mark = 0, next;
    struct owb_store_args a = {0};
    struct conn *c = acquire_writer(s, deadline);
    enum owb_err rc = c ? OWB_OK : OWB_ERR_UNAVAILABLE;

    if (!c)
        goto out;
    wait_until(c, deadline);
    rc = set_sync(c, true);
    if (rc == OWB_OK)
        rc = sq_begin(c);
    if (rc == OWB_OK)
        rc = sq_run(c, OWB_ST_MARK_GET, NULL, owb_store_read_i64, &mark, NULL);
    next = owb_store_mark_next(mark > s->mark ? mark : s->mark, owb_store_now_us());
    owb_arg_i64(&a, next);
    if (rc == OWB_OK)
        rc = sq_run(c, OWB_ST_MARK_RAISE, &a, NULL, NULL, NULL);
    rc = sq_end(c, rc);
    if (rc == OWB_OK)
        s->mark = next;
    if (!s->sync_full && set_sync(c, false) != OWB_OK && rc == OWB_OK)
        rc = OWB_ERR_IO;
    release_writer(s);
out:
    return rc;
}

/* Tried again after a reservation; a mark that cannot move any more
 * (2^53) ends it: no counter is issued there. */
static enum owb_err sq_issue(struct owb_store *base, const char *id,
                             const uint8_t session_hash[OWB_HASH_BYTES], const char *mode,
                             int64_t now, uint64_t *counter)
{
    struct issue_args is = {S(base), id, session_hash, mode, now, 0};
    enum owb_err rc = write_batched(S(base), issue_job, &is);

    for (int i = 0; rc == OWB_ERR_SPACE && i < 2; i++) {
        rc = reserve(S(base));
        if (rc == OWB_OK)
            rc = write_batched(S(base), issue_job, &is);
    }
    if (rc == OWB_ERR_SPACE) {
        fprintf(stderr, "owb-server: %s: no counter below 2^53 is left\n", id);
        rc = OWB_ERR_INTERNAL;
    }
    *counter = rc == OWB_OK ? (uint64_t)is.counter : 0;
    return rc;
}

struct checkin_args {
    const char *id;
    uint64_t counter;
    const uint8_t *nonce;
    int64_t now;
};

static enum owb_err checkin_job(void *c, void *arg)
{
    const struct checkin_args *ci = arg;
    struct owb_store_args a = {0};
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, ci->id);
    owb_arg_i64(&a, (int64_t)ci->counter);
    rc = sq_run(c, ST_CHECKIN_SESSION, &a, NULL, NULL, &n);
    if (rc == OWB_OK && n == 0)
        rc = owb_store_recover(&sq_driver, c, ci->id, ci->counter, ci->now);
    /* The primary key (device_id, nonce) refuses a repeat atomically, in
     * the same batch too. */
    a.n = 1;
    owb_arg_blob(&a, ci->nonce, 16);
    owb_arg_i64(&a, (int64_t)ci->counter);
    owb_arg_i64(&a, ci->now);
    if (rc == OWB_OK)
        rc = sq_run(c, ST_CHECKIN_NONCE, &a, NULL, NULL, NULL);
    if (rc == OWB_ERR_EXISTS)
        rc = OWB_ERR_REPLAYED;
    a.n = 1;
    owb_arg_i64(&a, (int64_t)ci->counter);
    owb_arg_i64(&a, ci->now);
    if (rc == OWB_OK)
        rc = sq_run(c, ST_CHECKIN_ONLINE, &a, NULL, NULL, NULL);
    a.n = 1;
    owb_arg_i64(&a, ci->now);
    if (rc == OWB_OK)
        rc = sq_run(c, ST_CHECKIN_DEVICE, &a, NULL, NULL, NULL);
    return rc;
}

static enum owb_err sq_checkin(struct owb_store *base, const char *id, uint64_t counter,
                               const uint8_t nonce[16], int64_t now)
{
    struct checkin_args ci = {id, counter, nonce, now};
    return write_batched(S(base), checkin_job, &ci);
}

static enum owb_err ping_job(void *c, void *arg)
{
    (void)c;
    (void)arg;
    return OWB_OK;
}

/* Ready when a write would go through: an empty job through the group
 * commit, which takes the write lock (and writes nothing). */
static enum owb_err sq_ping(struct owb_store *base)
{
    return write_batched(S(base), ping_job, NULL);
}

/* --- opening and closing --- */

static void close_conn(struct conn *c)
{
    for (int k = 0; k < ST__COUNT; k++)
        sqlite3_finalize(c->st[k]);
    sqlite3_close(c->db);
}

static void sq_close(struct owb_store *base)
{
    struct sq_store *s = S(base);

    if (!s)
        return;
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_stop = true;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt_thread, NULL);
    }
    sqlite3_close(s->ckpt_db);
    for (unsigned i = 0; i < s->core.pool.n; i++)
        close_conn(owb_store_pool_slot(&s->core.pool, i));
    /* Last, so that its close checkpoints what is left and removes the WAL. */
    close_conn(&s->writer);
    pthread_mutex_destroy(&s->write_mu);
    pthread_mutex_destroy(&s->q_mu);
    pthread_cond_destroy(&s->q_cv);
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    owb_store_free(&s->core);
}

static const struct owb_store_ops sqlite_ops =
    OWB_STORE_OPS("sqlite", sq_close, sq_issue, sq_checkin, sq_ping, NULL);

static enum owb_err exec_sql(sqlite3 *db, const char *sql, char *diag)
{
    char *err = NULL;
    int r = sqlite3_exec(db, sql, NULL, NULL, &err);

    if (r != SQLITE_OK) {
        owb_diagf(diag, "%s", err ? err : sqlite3_errstr(r));
        sqlite3_free(err);
        return map_rc(NULL, r) == OWB_ERR_UNAVAILABLE ? OWB_ERR_UNAVAILABLE : OWB_ERR_IO;
    }
    return OWB_OK;
}

/* Applies migration step v (0-based) and records version v + 1. */
static enum owb_err migrate_step(sqlite3 *db, size_t v, char *diag)
{
    char *sql = owb_store_sql_expand(&owb_dialect_sqlite, owb_store_migration(v));
    char bump[96];
    enum owb_err rc = sql ? exec_sql(db, sql, diag) : OWB_ERR_NOMEM;

    free(sql);
    snprintf(bump, sizeof bump,
             "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%zu)", v + 1);
    if (rc == OWB_OK)
        rc = exec_sql(db, bump, diag);
    return rc;
}

static int schema_have(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int have = 0;

    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return have;
}

/* Brings the schema to the newest version, one transaction per step. Two
 * servers starting at once serialise on BEGIN IMMEDIATE and the second
 * finds the work done. A schema already new is found without the write
 * lock: an admin command opened while an import holds it waits only where
 * it writes itself (and says why there). */
static enum owb_err migrate(sqlite3 *db, char *diag)
{
    const size_t n = owb_store_migrations();
    enum owb_err rc =
        exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", diag);

    if (rc == OWB_OK && schema_have(db) == (int)n)
        return OWB_OK;
    for (size_t v = 0; rc == OWB_OK && v < n; v++) {
        int have;
        rc = exec_sql(db, "BEGIN IMMEDIATE", diag);
        if (rc != OWB_OK)
            break;
        have = schema_have(db);
        if (have > (int)n) {
            owb_diagf(diag, "database schema version %d is newer than this owb-server (%zu)", have,
                      n);
            rc = OWB_ERR_BAD_FILE;
        } else if (have <= (int)v) {
            rc = migrate_step(db, v, diag);
        }
        if (rc == OWB_OK)
            rc = exec_sql(db, "COMMIT", diag);
        else
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static enum owb_err open_conn(const struct owb_store_config *cfg, bool create, sqlite3 **out,
                              char *diag)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    char pragmas[256];
    enum owb_err rc;

    *out = NULL;
    if (sqlite3_open_v2(cfg->path, &db, flags, NULL) != SQLITE_OK) {
        owb_diagf(diag, "%s: %s", cfg->path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return OWB_ERR_IO;
    }
    sqlite3_busy_timeout(db, (int)(cfg->busy_ms ? cfg->busy_ms : 5000));
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;"
             "PRAGMA secure_delete=ON;",
             cfg->sync_full ? "FULL" : "NORMAL");
    rc = exec_sql(db, pragmas, diag);
    if (rc != OWB_OK) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return OWB_OK;
}

/* WAL frames that start a checkpoint, and past which one waits for
 * readers to let the WAL start over (else it could grow without end under
 * constant load). Each restart holds this process's writes for 3-7 ms;
 * at 16 000 frames that came about every 0.6 s under a full load of
 * setups and set the p99 (docs/performance.md): 48 000 (a WAL file of
 * about 200 MB with 4 KB pages) makes it a third as often. */
#define CKPT_FRAMES 1000
#define CKPT_RESTART_FRAMES 48000

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sq_store *s = arg;
    (void)db;
    (void)name;
    pthread_mutex_lock(&s->ckpt_mu);
    s->wal_frames = frames;
    if (frames >= CKPT_FRAMES)
        pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    struct sq_store *s = arg;

    pthread_mutex_lock(&s->ckpt_mu);
    while (!s->ckpt_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (s->wal_frames < CKPT_FRAMES)
            pthread_cond_timedwait(&s->ckpt_cv, &s->ckpt_mu, &until);
        if (s->ckpt_stop)
            break;
        int frames = s->wal_frames;
        bool restarted = false;
        s->wal_frames = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        int log = 0, done = 0;
        int r = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (r != SQLITE_OK && r != SQLITE_BUSY)
            fprintf(stderr, "owb-server: sqlite checkpoint: %s\n", sqlite3_errmsg(s->ckpt_db));
        /* The passive pass copied the bulk without holding anyone up; the
         * RESTART after it copies only what was committed meanwhile. */
        else if (frames >= CKPT_RESTART_FRAMES &&
                 wal_reset(s, s->ckpt_db, SQLITE_CHECKPOINT_RESTART) == SQLITE_OK)
            restarted = true;
        pthread_mutex_lock(&s->ckpt_mu);
        /* The count the commits before the restart left is of a WAL that
         * has started over: a second pass would copy nothing and hold
         * the writer up once more. The next commit counts anew. A commit
         * counted between the restart and this lock is dropped with it;
         * the 1 s timed wait's passive pass copies its frames anyway. */
        if (restarted)
            s->wal_frames = 0;
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

static enum owb_err checkpointer_start(struct sq_store *s, const struct owb_store_config *cfg,
                                       char *diag)
{
    enum owb_err rc = open_conn(cfg, false, &s->ckpt_db, diag);
    if (rc != OWB_OK)
        return rc;
    sqlite3_busy_timeout(s->ckpt_db, TRUNCATE_WAIT_MS);
    sqlite3_wal_autocheckpoint(s->writer.db, 0);
    sqlite3_wal_hook(s->writer.db, on_wal_commit, s);
    if (pthread_create(&s->ckpt_thread, NULL, checkpointer, s) != 0) {
        sqlite3_wal_autocheckpoint(s->writer.db, CKPT_FRAMES);
        owb_diagf(diag, "cannot start the checkpoint thread");
        return OWB_ERR_NOMEM;
    }
    s->ckpt_started = true;
    return OWB_OK;
}

/* Everything an open does once the store is allocated. */
static enum owb_err sq_start(void *store, const struct owb_store_config *cfg, char *diag)
{
    struct sq_store *s = store;
    enum owb_err rc;

    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->q_mu, NULL);
    owb_store_cond_init(&s->q_cv);
    s->q_tail = &s->q_head;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    s->writer.busy_ms = (int)(cfg->busy_ms ? cfg->busy_ms : 5000);
    s->sync_full = cfg->sync_full;
    rc = open_conn(cfg, cfg->create, &s->writer.db, diag);
    if (rc == OWB_OK)
        rc = migrate(s->writer.db, diag);
    if (rc == OWB_OK)
        rc = sq_run(&s->writer, OWB_ST_MARK_GET, NULL, owb_store_read_i64, &s->mark, NULL);
    s->floor = s->mark;
    /* The pool's connections read. */
    for (unsigned i = 0; rc == OWB_OK && i < s->core.pool.n; i++)
        rc = open_conn(cfg, false, &((struct conn *)owb_store_pool_slot(&s->core.pool, i))->db,
                       diag);
    if (rc == OWB_OK && cfg->serving)
        rc = checkpointer_start(s, cfg, diag);
    return rc;
}

enum owb_err owb_store_sqlite_open(const struct owb_store_config *cfg, struct owb_store **out,
                                   char *diag)
{
    return owb_store_create(sizeof(struct sq_store), &sqlite_ops, &sq_driver, sizeof(struct conn),
                            sq_start, cfg, out, diag);
}
