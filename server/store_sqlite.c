/* The SQLite storage backend: one database file in WAL mode, a small pool
 * of connections (one per HTTP thread), prepared statements cached per
 * connection, and write transactions begun IMMEDIATE so two writers queue
 * on the busy timeout instead of failing on a lock upgrade. Within one
 * process, writers queue on a mutex, and setups and check-ins are
 * committed in groups (write_batched). */
#include "store.h"
#include "store_lister.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_META_GET,
    ST_META_PUT,
    ST_DEV_INSERT,
    ST_DEV_FP,
    ST_DEV_GET,
    ST_DEV_LIST,
    ST_DEV_REMOVE,
    ST_DEV_ASSIGN,
    ST_DEV_MAC,
    ST_NET_INSERT,
    ST_NET_GET,
    ST_NET_LIST,
    ST_NET_REMOVE,
    ST_NET_MAC,
    ST_TOK_INSERT,
    ST_TOK_CHECK,
    ST_TOK_LIST,
    ST_TOK_REVOKE,
    ST_CLAIM_ATTEMPT,
    ST_CLAIM_STATE,
    ST_CLAIM_CLEAR,
    ST_ISSUE_BUMP,
    ST_ISSUE_SESSION,
    ST_SESSION_GET,
    ST_CHECKIN_SESSION,
    ST_CHECKIN_NONCE,
    ST_CHECKIN_ONLINE,
    ST_CHECKIN_DEVICE,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT job",
    [ST_RELEASE] = "RELEASE job",
    [ST_ROLLBACK_TO] = "ROLLBACK TO job",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_DEV_INSERT] = "INSERT INTO devices(id, sealed_key, key_fp, claim_hash, created_at, "
                      "updated_at, suite, public_key, sealed_ap, row_mac) VALUES(?1, ?2, ?3, ?4, "
                      "unixepoch(), unixepoch(), ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
    [ST_DEV_FP] = "SELECT key_fp FROM devices WHERE id = ?1",
    [ST_DEV_GET] = "SELECT id, sealed_key, claim_hash, counter, network, state, created_at, "
                   "updated_at, online_at, suite, public_key, sealed_ap, row_mac FROM devices "
                   "WHERE id = ?1",
    [ST_DEV_LIST] = "SELECT id, sealed_key, claim_hash, counter, network, state, created_at, "
                    "updated_at, online_at, suite, public_key, sealed_ap, row_mac FROM devices "
                    "ORDER BY id",
    [ST_DEV_REMOVE] = "DELETE FROM devices WHERE id = ?1",
    [ST_DEV_ASSIGN] = "UPDATE devices SET network = ?2, row_mac = ?3, updated_at = unixepoch() "
                      "WHERE id = ?1",
    [ST_DEV_MAC] = "UPDATE devices SET row_mac = ?2 WHERE id = ?1",
    [ST_NET_INSERT] = "INSERT INTO networks(name, ssid, security, sealed_psk, hidden, created_at, "
                      "row_mac) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_NET_GET] = "SELECT name, ssid, security, sealed_psk, hidden, created_at, row_mac FROM "
                   "networks WHERE name = ?1",
    [ST_NET_LIST] = "SELECT name, ssid, security, sealed_psk, hidden, created_at, row_mac FROM "
                    "networks ORDER BY name",
    [ST_NET_MAC] = "UPDATE networks SET row_mac = ?2 WHERE name = ?1",
    [ST_NET_REMOVE] = "DELETE FROM networks WHERE name = ?1",
    [ST_TOK_INSERT] = "INSERT INTO tokens(hash, label, created_at) VALUES(?1, ?2, ?3)",
    [ST_TOK_CHECK] = "SELECT revoked_at FROM tokens WHERE hash = ?1",
    [ST_TOK_LIST] = "SELECT id, label, created_at, revoked_at FROM tokens ORDER BY id",
    [ST_TOK_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND "
                      "(label = ?1 OR CAST(id AS TEXT) = ?1)",
    /* ?1 id, ?2 now, ?3 window, ?4 max, ?5 cap: see store.h claim_attempt. */
    [ST_CLAIM_ATTEMPT] =
        "INSERT INTO claim_guard(device_id, attempts, window_start, next_at) VALUES(?1, 1, ?2, 0) "
        "ON CONFLICT(device_id) DO UPDATE SET "
        "attempts = CASE WHEN claim_guard.window_start <= ?2 - ?3 THEN 1 "
        "  ELSE claim_guard.attempts + 1 END, "
        "window_start = CASE WHEN claim_guard.window_start <= ?2 - ?3 THEN ?2 "
        "  ELSE claim_guard.window_start END, "
        "next_at = CASE WHEN claim_guard.window_start > ?2 - ?3 AND claim_guard.attempts + 1 > ?4 "
        "  THEN ?2 + min(?5, 1 << min(claim_guard.attempts + 1 - ?4, 20)) ELSE 0 END "
        "WHERE claim_guard.next_at <= ?2 RETURNING attempts",
    [ST_CLAIM_STATE] = "SELECT CASE WHEN window_start > ?2 THEN attempts ELSE 0 END, next_at "
                       "FROM claim_guard WHERE device_id = ?1",
    [ST_CLAIM_CLEAR] = "DELETE FROM claim_guard WHERE device_id = ?1",
    [ST_ISSUE_BUMP] = "UPDATE devices SET counter = counter + 1, state = CASE state WHEN "
                      "'online' THEN state ELSE 'issued' END, updated_at = ?2 WHERE id = ?1 "
                      "RETURNING counter",
    [ST_ISSUE_SESSION] = "INSERT INTO sessions(token_hash, device_id, counter, mode, created_at) "
                         "VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_SESSION_GET] = "SELECT device_id, counter, mode, state, created_at, online_at FROM "
                       "sessions WHERE token_hash = ?1",
    [ST_CHECKIN_SESSION] = "SELECT 1 FROM sessions WHERE device_id = ?1 AND counter = ?2",
    [ST_CHECKIN_NONCE] = "INSERT INTO checkin_nonces(device_id, nonce, counter, at) "
                         "VALUES(?1, ?2, ?3, ?4)",
    [ST_CHECKIN_ONLINE] = "UPDATE sessions SET state = 'online', online_at = coalesce(online_at, "
                          "?3) WHERE device_id = ?1 AND counter = ?2",
    [ST_CHECKIN_DEVICE] = "UPDATE devices SET state = 'online', online_at = ?2, updated_at = ?2 "
                          "WHERE id = ?1",
};

/* Schema migrations, applied in order, each in its own transaction. */
static const char *const migrations[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE networks (name TEXT PRIMARY KEY, ssid TEXT NOT NULL, security TEXT NOT NULL,"
    "  sealed_psk BLOB, hidden INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE TABLE devices (id TEXT PRIMARY KEY, sealed_key BLOB NOT NULL, key_fp BLOB NOT NULL,"
    "  claim_hash BLOB, counter INTEGER NOT NULL DEFAULT 0,"
    "  network TEXT REFERENCES networks(name) ON DELETE SET NULL,"
    "  state TEXT NOT NULL DEFAULT 'new', created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL, online_at INTEGER);"
    "CREATE INDEX devices_network ON devices(network);"
    "CREATE TABLE sessions (token_hash BLOB PRIMARY KEY,"
    "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  counter INTEGER NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'issued',"
    "  created_at INTEGER NOT NULL, online_at INTEGER);"
    "CREATE UNIQUE INDEX sessions_device_counter ON sessions(device_id, counter);"
    "CREATE TABLE tokens (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, label TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE TABLE checkin_nonces (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  nonce BLOB NOT NULL, counter INTEGER NOT NULL, at INTEGER NOT NULL,"
    "  PRIMARY KEY (device_id, nonce)) WITHOUT ROWID;"
    "CREATE TABLE claim_failures (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX claim_failures_device ON claim_failures(device_id, at);",
    /* 2: the pk suite: a device's public key and its sealed AP passphrase
     * instead of a sealed device key. */
    "ALTER TABLE devices ADD COLUMN suite TEXT NOT NULL DEFAULT 'sym';"
    "ALTER TABLE devices ADD COLUMN public_key BLOB;"
    "ALTER TABLE devices ADD COLUMN sealed_ap BLOB;",
    /* 3: claim attempts counted in one row per device, in one statement
     * (a count of failure rows let concurrent guesses slip past it). */
    "CREATE TABLE claim_guard (device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
    "  attempts INTEGER NOT NULL, window_start INTEGER NOT NULL, next_at INTEGER NOT NULL);"
    "DROP TABLE claim_failures;",
    /* 4: a MAC over the columns that decide where a device goes (rowmac.h);
     * NULL for the rows already there until seal-rows vouches for them. */
    "ALTER TABLE devices ADD COLUMN row_mac BLOB;"
    "ALTER TABLE networks ADD COLUMN row_mac BLOB;",
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    bool in_use;
};

/* One write of a batch: fn runs inside the batch's transaction under its
 * own savepoint, so that its failure (a replayed nonce, an unknown device)
 * undoes only its own changes. */
struct wjob {
    enum owb_err (*fn)(struct conn *c, void *arg);
    void *arg;
    enum owb_err rc;
    bool done;
    struct wjob *next;
};

struct sq_store {
    struct owb_store base;
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
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn *conns;
    unsigned n;
};

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
        return OWB_ERR_EXISTS;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    default:
        fprintf(stderr, "owb-server: sqlite: %s\n", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return OWB_ERR_IO;
    }
}

static struct conn *acquire(struct sq_store *s)
{
    struct conn *c = NULL;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (unsigned i = 0; i < s->n; i++) {
            if (!s->conns[i].in_use) {
                c = &s->conns[i];
                c->in_use = true;
                break;
            }
        }
        if (c)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void release(struct sq_store *s, struct conn *c)
{
    pthread_mutex_lock(&s->mu);
    c->in_use = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static struct conn *acquire_writer(struct sq_store *s)
{
    pthread_mutex_lock(&s->write_mu);
    return &s->writer;
}

static void release_writer(struct sq_store *s, struct conn *c)
{
    (void)c;
    pthread_mutex_unlock(&s->write_mu);
}

/* The cached statement, reset and ready to bind; NULL on failure. */
static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
    if (!c->st[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                               NULL) != SQLITE_OK) {
            fprintf(stderr, "owb-server: sqlite prepare: %s\n", sqlite3_errmsg(c->db));
            return NULL;
        }
    }
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

/* Runs a statement that returns no rows. */
static enum owb_err run(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    enum owb_err e = rc == SQLITE_DONE || rc == SQLITE_ROW ? OWB_OK : map_rc(c->db, rc);
    sqlite3_reset(st);
    return e;
}

static enum owb_err run_simple(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(c, id);
    return st ? run(c, st) : OWB_ERR_IO;
}

static enum owb_err begin(struct conn *c)
{
    return run_simple(c, ST_BEGIN);
}

/* COMMIT on success, else ROLLBACK; returns the final outcome. */
static enum owb_err end_tx(struct conn *c, enum owb_err rc)
{
    if (rc == OWB_OK) {
        rc = run_simple(c, ST_COMMIT);
        if (rc == OWB_OK)
            return OWB_OK;
    }
    if (!sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK);
    return rc;
}

/* A failure of the transaction itself, not of one job's own rows: the
 * whole batch shares it. */
static bool tx_failure(enum owb_err rc)
{
    return rc == OWB_ERR_IO || rc == OWB_ERR_UNAVAILABLE || rc == OWB_ERR_NOMEM;
}

static void run_batch(struct sq_store *s, struct wjob *batch)
{
    struct conn *c = acquire_writer(s);
    enum owb_err rc = begin(c);

    for (struct wjob *j = batch; j; j = j->next) {
        if (rc == OWB_OK)
            rc = run_simple(c, ST_SAVEPOINT);
        if (rc != OWB_OK) {
            j->rc = rc;
            continue;
        }
        j->rc = j->fn(c, j->arg);
        if (j->rc != OWB_OK)
            (void)run_simple(c, ST_ROLLBACK_TO);
        if (run_simple(c, ST_RELEASE) != OWB_OK || tx_failure(j->rc))
            rc = tx_failure(j->rc) ? j->rc : OWB_ERR_IO;
    }
    rc = end_tx(c, rc);
    /* Nothing of a batch is answered before its COMMIT is done. */
    for (struct wjob *j = batch; j; j = j->next)
        if (rc != OWB_OK)
            j->rc = rc;
    release_writer(s, c);
}

static enum owb_err write_batched(struct sq_store *s, enum owb_err (*fn)(struct conn *, void *),
                                  void *arg)
{
    struct wjob job = {fn, arg, OWB_OK, false, NULL};

    pthread_mutex_lock(&s->q_mu);
    *s->q_tail = &job;
    s->q_tail = &job.next;
    while (!job.done) {
        if (s->q_leader) {
            pthread_cond_wait(&s->q_cv, &s->q_mu);
            continue;
        }
        struct wjob *batch = s->q_head, *next;
        s->q_head = NULL;
        s->q_tail = &s->q_head;
        s->q_leader = true;
        pthread_mutex_unlock(&s->q_mu);
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

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static void copy_blob(uint8_t *dst, size_t cap, size_t *len, sqlite3_stmt *st, int col)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (n > cap)
        n = 0;
    if (b && n)
        memcpy(dst, b, n);
    if (len)
        *len = n;
}

/* A row MAC: present only when the column holds exactly one. */
static bool read_mac(uint8_t mac[OWB_ROW_MAC_BYTES], sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB ||
        sqlite3_column_bytes(st, col) != OWB_ROW_MAC_BYTES)
        return false;
    memcpy(mac, sqlite3_column_blob(st, col), OWB_ROW_MAC_BYTES);
    return true;
}

typedef void (*row_reader)(sqlite3_stmt *st, void *row);

/* Runs a one-row query keyed by text (or by a blob when key_blob is set)
 * and reads the row; OWB_ERR_NOENT when there is none. */
static enum owb_err get_one(struct owb_store *base, enum stmt_id id, const char *key,
                            const uint8_t *key_blob, size_t blob_len, row_reader rd, void *row)
{
    struct conn *c = acquire((struct sq_store *)base);
    sqlite3_stmt *st = stmt(c, id);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    if (st) {
        if (key_blob)
            sqlite3_bind_blob(st, 1, key_blob, (int)blob_len, SQLITE_STATIC);
        else
            sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            rd(st, row);
            rc = OWB_OK;
        } else {
            rc = r == SQLITE_DONE ? OWB_ERR_NOENT : map_rc(c->db, r);
        }
        sqlite3_reset(st);
    }
    release((struct sq_store *)base, c);
    return rc;
}

/* Reads every row of a listing query into row and hands it to the lister. */
static enum owb_err list_all(struct owb_store *base, enum stmt_id id, row_reader rd, void *row,
                             const struct owb_lister *l)
{
    struct conn *c = acquire((struct sq_store *)base);
    sqlite3_stmt *st = stmt(c, id);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    if (st) {
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            rd(st, row);
            l->emit(l, row);
        }
        rc = r == SQLITE_DONE ? OWB_OK : map_rc(c->db, r);
        sqlite3_reset(st);
    }
    release((struct sq_store *)base, c);
    return rc;
}

#define S(x) ((struct sq_store *)(x))

static enum owb_err sq_meta_get(struct owb_store *base, const char *key, uint8_t *val, size_t cap,
                                size_t *len)
{
    struct conn *c = acquire(S(base));
    sqlite3_stmt *st = stmt(c, ST_META_GET);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    *len = 0;
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        rc = n <= cap ? OWB_OK : OWB_ERR_SPACE;
        if (rc == OWB_OK) {
            memcpy(val, sqlite3_column_blob(st, 0), n);
            *len = n;
        }
    } else {
        rc = r == SQLITE_DONE ? OWB_ERR_NOENT : map_rc(c->db, r);
    }
    sqlite3_reset(st);
out:
    release(S(base), c);
    return rc;
}

static enum owb_err sq_meta_put(struct owb_store *base, const char *key, const uint8_t *val,
                                size_t len)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, ST_META_PUT);
    enum owb_err rc = OWB_ERR_IO;

    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
        rc = run(c, st);
    }
    release_writer(S(base), c);
    return rc;
}

struct owb_import {
    struct sq_store *s;
    struct conn *c;
};

static enum owb_err sq_import_begin(struct owb_store *base, struct owb_import **out)
{
    struct owb_import *imp = calloc(1, sizeof *imp);
    enum owb_err rc;

    *out = NULL;
    if (!imp)
        return OWB_ERR_NOMEM;
    imp->s = S(base);
    imp->c = acquire_writer(imp->s);
    rc = begin(imp->c);
    if (rc != OWB_OK) {
        release_writer(imp->s, imp->c);
        free(imp);
        return rc;
    }
    *out = imp;
    return OWB_OK;
}

static enum owb_err sq_import_add(struct owb_import *imp, const struct owb_import_item *items,
                                  size_t n, struct owb_import_result *res)
{
    struct conn *c = imp->c;
    sqlite3_stmt *ins, *fp;
    enum owb_err rc = OWB_OK;

    for (size_t i = 0; rc == OWB_OK && i < n; i++) {
        const struct owb_import_item *it = &items[i];
        ins = stmt(c, ST_DEV_INSERT);
        if (!ins)
            return OWB_ERR_IO;
        bool pk = it->suite == OWB_SUITE_PK;
        sqlite3_bind_text(ins, 1, it->id, -1, SQLITE_STATIC);
        /* A zero-length blob, not NULL, for a pk device's (absent) key. */
        sqlite3_bind_blob(ins, 2, pk ? (const void *)"" : it->sealed_key.bytes,
                          pk ? 0 : (int)it->sealed_key.len, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 3, it->key_fp, OWB_FP_BYTES, SQLITE_STATIC);
        if (it->has_claim)
            sqlite3_bind_blob(ins, 4, it->claim_hash, OWB_HASH_BYTES, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 4);
        sqlite3_bind_text(ins, 5, owb_suite_name(pk ? OWB_SUITE_PK : OWB_SUITE_SYM), -1,
                          SQLITE_STATIC);
        if (pk) {
            sqlite3_bind_blob(ins, 6, it->public_key, 32, SQLITE_STATIC);
            sqlite3_bind_blob(ins, 7, it->sealed_ap.bytes, (int)it->sealed_ap.len, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(ins, 6);
            sqlite3_bind_null(ins, 7);
        }
        sqlite3_bind_blob(ins, 8, it->row_mac, OWB_ROW_MAC_BYTES, SQLITE_STATIC);
        rc = run(c, ins);
        if (rc != OWB_OK)
            break;
        if (sqlite3_changes(c->db) == 1) {
            res->added++;
            continue;
        }
        /* Already there: the same key is a no-op, another key a conflict. */
        fp = stmt(c, ST_DEV_FP);
        if (!fp)
            return OWB_ERR_IO;
        sqlite3_bind_text(fp, 1, it->id, -1, SQLITE_STATIC);
        if (sqlite3_step(fp) == SQLITE_ROW && sqlite3_column_bytes(fp, 0) == OWB_FP_BYTES &&
            memcmp(sqlite3_column_blob(fp, 0), it->key_fp, OWB_FP_BYTES) == 0) {
            res->unchanged++;
        } else {
            snprintf(res->conflict_id, sizeof res->conflict_id, "%s", it->id);
            rc = OWB_ERR_CONFLICT;
        }
        sqlite3_reset(fp);
    }
    return rc;
}

static enum owb_err sq_import_end(struct owb_import *imp, bool commit)
{
    enum owb_err rc;

    if (!imp)
        return OWB_OK;
    rc = end_tx(imp->c, commit ? OWB_OK : OWB_ERR_CONFLICT);
    if (!commit && rc == OWB_ERR_CONFLICT)
        rc = OWB_OK;
    release_writer(imp->s, imp->c);
    free(imp);
    return rc;
}

static void read_device(sqlite3_stmt *st, void *out)
{
    struct owb_device_row *row = out;
    memset(row, 0, sizeof *row);
    copy_text(row->id, sizeof row->id, st, 0);
    copy_blob(row->sealed_key.bytes, sizeof row->sealed_key.bytes, &row->sealed_key.len, st, 1);
    if (sqlite3_column_type(st, 2) == SQLITE_BLOB &&
        sqlite3_column_bytes(st, 2) == OWB_HASH_BYTES) {
        row->has_claim = true;
        memcpy(row->claim_hash, sqlite3_column_blob(st, 2), OWB_HASH_BYTES);
    }
    row->counter = (uint64_t)sqlite3_column_int64(st, 3);
    copy_text(row->network, sizeof row->network, st, 4);
    copy_text(row->state, sizeof row->state, st, 5);
    row->created_at = sqlite3_column_int64(st, 6);
    row->updated_at = sqlite3_column_int64(st, 7);
    row->online_at = sqlite3_column_int64(st, 8);
    const unsigned char *suite = sqlite3_column_text(st, 9);
    if (owb_suite_parse((const char *)suite, &row->suite) != OWB_OK)
        row->suite = OWB_SUITE_SYM;
    copy_blob(row->public_key, sizeof row->public_key, NULL, st, 10);
    copy_blob(row->sealed_ap.bytes, sizeof row->sealed_ap.bytes, &row->sealed_ap.len, st, 11);
    row->has_mac = read_mac(row->row_mac, st, 12);
}

static enum owb_err sq_device_get(struct owb_store *base, const char *id,
                                  struct owb_device_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, ST_DEV_GET, id, NULL, 0, read_device, row);
}

static enum owb_err sq_device_list(struct owb_store *base, owb_device_cb cb, void *ctx)
{
    struct owb_device_row row;
    struct owb_lister l = {owb_emit_device, {.device = cb}, ctx};
    return list_all(base, ST_DEV_LIST, read_device, &row, &l);
}

/* Runs a one-statement change keyed by text; OWB_ERR_NOENT when no row changed. */
static enum owb_err change_by_key(struct owb_store *base, enum stmt_id id, const char *key)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, id);
    enum owb_err rc = OWB_ERR_IO;

    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = run(c, st);
        if (rc == OWB_OK && sqlite3_changes(c->db) == 0)
            rc = OWB_ERR_NOENT;
    }
    release_writer(S(base), c);
    return rc;
}

static enum owb_err sq_device_remove(struct owb_store *base, const char *id)
{
    return change_by_key(base, ST_DEV_REMOVE, id);
}

static enum owb_err sq_device_assign(struct owb_store *base, const char *const *ids, size_t n,
                                     const char *network, const uint8_t (*macs)[OWB_ROW_MAC_BYTES],
                                     char *missing_id)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st;
    enum owb_err rc;

    missing_id[0] = '\0';
    rc = begin(c);
    if (rc == OWB_OK && network) {
        st = stmt(c, ST_NET_GET);
        sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            snprintf(missing_id, OWB_NETWORK_NAME_MAX + 1, "%s", network);
            rc = OWB_ERR_NOENT;
        }
        sqlite3_reset(st);
    }
    for (size_t i = 0; rc == OWB_OK && i < n; i++) {
        st = stmt(c, ST_DEV_ASSIGN);
        sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
        if (network)
            sqlite3_bind_text(st, 2, network, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_blob(st, 3, macs[i], OWB_ROW_MAC_BYTES, SQLITE_STATIC);
        rc = run(c, st);
        if (rc == OWB_OK && sqlite3_changes(c->db) == 0) {
            snprintf(missing_id, OWB_NETWORK_NAME_MAX + 1, "%s", ids[i]);
            rc = OWB_ERR_NOENT;
        }
    }
    rc = end_tx(c, rc);
    release_writer(S(base), c);
    return rc;
}

static enum owb_err sq_network_add(struct owb_store *base, const struct owb_network_row *row)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, ST_NET_INSERT);
    enum owb_err rc = OWB_ERR_IO;

    if (st) {
        sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, row->ssid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, owb_security_name(row->security), -1, SQLITE_STATIC);
        if (row->sealed_psk.len)
            sqlite3_bind_blob(st, 4, row->sealed_psk.bytes, (int)row->sealed_psk.len,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int(st, 5, row->hidden ? 1 : 0);
        sqlite3_bind_int64(st, 6, row->created_at);
        sqlite3_bind_blob(st, 7, row->row_mac, OWB_ROW_MAC_BYTES, SQLITE_STATIC);
        rc = run(c, st);
    }
    release_writer(S(base), c);
    return rc;
}

static void read_network(sqlite3_stmt *st, void *out)
{
    struct owb_network_row *row = out;
    memset(row, 0, sizeof *row);
    copy_text(row->name, sizeof row->name, st, 0);
    copy_text(row->ssid, sizeof row->ssid, st, 1);
    if (owb_security_parse((const char *)sqlite3_column_text(st, 2), &row->security) != OWB_OK)
        row->security = OWB_SEC_OPEN;
    copy_blob(row->sealed_psk.bytes, sizeof row->sealed_psk.bytes, &row->sealed_psk.len, st, 3);
    row->hidden = sqlite3_column_int(st, 4) != 0;
    row->created_at = sqlite3_column_int64(st, 5);
    row->has_mac = read_mac(row->row_mac, st, 6);
}

static enum owb_err sq_network_get(struct owb_store *base, const char *name,
                                   struct owb_network_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, ST_NET_GET, name, NULL, 0, read_network, row);
}

static enum owb_err sq_network_list(struct owb_store *base, owb_network_cb cb, void *ctx)
{
    struct owb_network_row row;
    struct owb_lister l = {owb_emit_network, {.network = cb}, ctx};
    return list_all(base, ST_NET_LIST, read_network, &row, &l);
}

static enum owb_err sq_row_mac_put(struct owb_store *base, const char *table, const char *key,
                                   const uint8_t mac[OWB_ROW_MAC_BYTES])
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, strcmp(table, "networks") == 0 ? ST_NET_MAC : ST_DEV_MAC);
    enum owb_err rc = OWB_ERR_IO;

    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, mac, OWB_ROW_MAC_BYTES, SQLITE_STATIC);
        rc = run(c, st);
        if (rc == OWB_OK && sqlite3_changes(c->db) == 0)
            rc = OWB_ERR_NOENT;
    }
    release_writer(S(base), c);
    return rc;
}

static enum owb_err sq_network_remove(struct owb_store *base, const char *name)
{
    return change_by_key(base, ST_NET_REMOVE, name);
}

static enum owb_err sq_token_add(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES],
                                 const char *label, int64_t now, int64_t *id)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, ST_TOK_INSERT);
    enum owb_err rc = OWB_ERR_IO;

    *id = 0;
    if (st) {
        sqlite3_bind_blob(st, 1, hash, OWB_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        rc = run(c, st);
        if (rc == OWB_OK)
            *id = sqlite3_last_insert_rowid(c->db);
    }
    release_writer(S(base), c);
    return rc;
}

static enum owb_err sq_token_check(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES])
{
    struct conn *c = acquire(S(base));
    sqlite3_stmt *st = stmt(c, ST_TOK_CHECK);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    if (st) {
        sqlite3_bind_blob(st, 1, hash, OWB_HASH_BYTES, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = sqlite3_column_type(st, 0) == SQLITE_NULL ? OWB_OK : OWB_ERR_UNAUTHORIZED;
        else
            rc = r == SQLITE_DONE ? OWB_ERR_UNAUTHORIZED : map_rc(c->db, r);
        sqlite3_reset(st);
    }
    release(S(base), c);
    return rc;
}

static void read_token(sqlite3_stmt *st, void *out)
{
    struct owb_token_row *row = out;
    memset(row, 0, sizeof *row);
    row->id = sqlite3_column_int64(st, 0);
    copy_text(row->label, sizeof row->label, st, 1);
    row->created_at = sqlite3_column_int64(st, 2);
    row->revoked_at = sqlite3_column_int64(st, 3);
}

static enum owb_err sq_token_list(struct owb_store *base, owb_token_cb cb, void *ctx)
{
    struct owb_token_row row;
    struct owb_lister l = {owb_emit_token, {.token = cb}, ctx};
    return list_all(base, ST_TOK_LIST, read_token, &row, &l);
}

static enum owb_err sq_token_revoke(struct owb_store *base, const char *id_or_label, int64_t now,
                                    size_t *count)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, ST_TOK_REVOKE);
    enum owb_err rc = OWB_ERR_IO;

    *count = 0;
    if (st) {
        sqlite3_bind_text(st, 1, id_or_label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        rc = run(c, st);
        if (rc == OWB_OK)
            *count = (size_t)sqlite3_changes(c->db);
    }
    release_writer(S(base), c);
    return rc;
}

static enum owb_err sq_claim_state(struct owb_store *base, const char *id, int64_t since,
                                   unsigned *attempts, int64_t *next_at)
{
    struct conn *c = acquire(S(base));
    sqlite3_stmt *st = stmt(c, ST_CLAIM_STATE);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    *attempts = 0;
    *next_at = 0;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, since);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            *attempts = (unsigned)sqlite3_column_int64(st, 0);
            *next_at = sqlite3_column_int64(st, 1);
            rc = OWB_OK;
        } else {
            rc = r == SQLITE_DONE ? OWB_OK : map_rc(c->db, r);
        }
        sqlite3_reset(st);
    }
    release(S(base), c);
    return rc;
}

static enum owb_err sq_claim_attempt(struct owb_store *base, const char *id, int64_t now,
                                     unsigned window_s, unsigned max, unsigned cap_s,
                                     unsigned *attempts, int64_t *retry_at)
{
    struct conn *c = acquire_writer(S(base));
    sqlite3_stmt *st = stmt(c, ST_CLAIM_ATTEMPT);
    enum owb_err rc = OWB_ERR_IO;
    int r;

    *attempts = 0;
    *retry_at = 0;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, window_s);
        sqlite3_bind_int64(st, 4, max);
        sqlite3_bind_int64(st, 5, cap_s);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            *attempts = (unsigned)sqlite3_column_int64(st, 0);
            r = sqlite3_step(st);
        }
        rc = r == SQLITE_DONE ? OWB_OK : map_rc(c->db, r);
        bool counted = *attempts > 0;
        sqlite3_reset(st);
        if (rc == OWB_OK && !counted)
            rc = OWB_ERR_LOCKED; /* the row is waiting out its delay */
    }
    release_writer(S(base), c);
    if (rc == OWB_ERR_LOCKED) {
        unsigned n;
        if (sq_claim_state(base, id, now - (int64_t)window_s, &n, retry_at) != OWB_OK ||
            *retry_at <= now)
            *retry_at = now + 1;
        *attempts = n;
    }
    return rc;
}

static enum owb_err sq_claim_reset(struct owb_store *base, const char *id)
{
    enum owb_err rc = change_by_key(base, ST_CLAIM_CLEAR, id);
    return rc == OWB_ERR_NOENT ? OWB_OK : rc;
}

struct issue_args {
    const char *id;
    const uint8_t *session_hash;
    const char *mode;
    int64_t now;
    uint64_t counter;
};

static enum owb_err issue_job(struct conn *c, void *arg)
{
    struct issue_args *a = arg;
    sqlite3_stmt *st = stmt(c, ST_ISSUE_BUMP);
    enum owb_err rc;
    int r;

    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->now);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        a->counter = (uint64_t)sqlite3_column_int64(st, 0);
        rc = OWB_OK;
    } else {
        rc = r == SQLITE_DONE ? OWB_ERR_NOENT : map_rc(c->db, r);
    }
    sqlite3_reset(st);
    if (rc != OWB_OK)
        return rc;
    st = stmt(c, ST_ISSUE_SESSION);
    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_blob(st, 1, a->session_hash, OWB_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)a->counter);
    sqlite3_bind_text(st, 4, a->mode, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, a->now);
    return run(c, st);
}

static enum owb_err sq_issue(struct owb_store *base, const char *id,
                             const uint8_t session_hash[OWB_HASH_BYTES], const char *mode,
                             int64_t now, uint64_t *counter)
{
    struct issue_args a = {id, session_hash, mode, now, 0};
    enum owb_err rc = write_batched(S(base), issue_job, &a);

    *counter = rc == OWB_OK ? a.counter : 0;
    return rc;
}

static void read_session(sqlite3_stmt *st, void *out)
{
    struct owb_session_row *row = out;
    copy_text(row->device_id, sizeof row->device_id, st, 0);
    row->counter = (uint64_t)sqlite3_column_int64(st, 1);
    copy_text(row->mode, sizeof row->mode, st, 2);
    copy_text(row->state, sizeof row->state, st, 3);
    row->created_at = sqlite3_column_int64(st, 4);
    row->online_at = sqlite3_column_int64(st, 5);
}

static enum owb_err sq_session_get(struct owb_store *base, const uint8_t hash[OWB_HASH_BYTES],
                                   struct owb_session_row *row)
{
    memset(row, 0, sizeof *row);
    return get_one(base, ST_SESSION_GET, NULL, hash, OWB_HASH_BYTES, read_session, row);
}

struct checkin_args {
    const char *id;
    uint64_t counter;
    const uint8_t *nonce;
    int64_t now;
};

static enum owb_err checkin_job(struct conn *c, void *arg)
{
    const struct checkin_args *a = arg;
    sqlite3_stmt *st = stmt(c, ST_CHECKIN_SESSION);
    enum owb_err rc;
    int r;

    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)a->counter);
    r = sqlite3_step(st);
    rc = r == SQLITE_ROW ? OWB_OK : r == SQLITE_DONE ? OWB_ERR_CONFLICT : map_rc(c->db, r);
    sqlite3_reset(st);
    if (rc != OWB_OK)
        return rc;
    /* The primary key (device_id, nonce) refuses a repeat atomically, in
     * the same batch too. */
    st = stmt(c, ST_CHECKIN_NONCE);
    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, a->nonce, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)a->counter);
    sqlite3_bind_int64(st, 4, a->now);
    rc = run(c, st);
    if (rc != OWB_OK)
        return rc == OWB_ERR_EXISTS ? OWB_ERR_REPLAYED : rc;
    st = stmt(c, ST_CHECKIN_ONLINE);
    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)a->counter);
    sqlite3_bind_int64(st, 3, a->now);
    rc = run(c, st);
    if (rc != OWB_OK)
        return rc;
    st = stmt(c, ST_CHECKIN_DEVICE);
    if (!st)
        return OWB_ERR_IO;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->now);
    return run(c, st);
}

static enum owb_err sq_checkin(struct owb_store *base, const char *id, uint64_t counter,
                               const uint8_t nonce[16], int64_t now)
{
    struct checkin_args a = {id, counter, nonce, now};
    return write_batched(S(base), checkin_job, &a);
}

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
    for (unsigned i = 0; i < s->n; i++)
        close_conn(&s->conns[i]);
    free(s->conns);
    /* Last, so that its close checkpoints what is left and removes the WAL. */
    close_conn(&s->writer);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    pthread_mutex_destroy(&s->q_mu);
    pthread_cond_destroy(&s->q_cv);
    pthread_mutex_destroy(&s->ckpt_mu);
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static const struct owb_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .import_begin = sq_import_begin,
    .import_add = sq_import_add,
    .import_end = sq_import_end,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .device_remove = sq_device_remove,
    .device_assign = sq_device_assign,
    .row_mac_put = sq_row_mac_put,
    .network_add = sq_network_add,
    .network_get = sq_network_get,
    .network_list = sq_network_list,
    .network_remove = sq_network_remove,
    .token_add = sq_token_add,
    .token_check = sq_token_check,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .claim_attempt = sq_claim_attempt,
    .claim_reset = sq_claim_reset,
    .claim_state = sq_claim_state,
    .issue = sq_issue,
    .session_get = sq_session_get,
    .checkin = sq_checkin,
};

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

/* Brings the schema to the newest version, one transaction per step. Two
 * servers starting at once serialise on BEGIN IMMEDIATE and the second
 * finds the work done. */
static enum owb_err migrate(sqlite3 *db, char *diag)
{
    const size_t n = sizeof migrations / sizeof migrations[0];
    enum owb_err rc =
        exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", diag);

    for (size_t v = 0; rc == OWB_OK && v < n; v++) {
        sqlite3_stmt *st = NULL;
        int have = 0;
        rc = exec_sql(db, "BEGIN IMMEDIATE", diag);
        if (rc != OWB_OK)
            break;
        if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            have = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (have > (int)n) {
            owb_diagf(diag, "database schema version %d is newer than this owb-server (%zu)", have,
                      n);
            rc = OWB_ERR_BAD_FILE;
        } else if (have <= (int)v) {
            char bump[96];
            rc = exec_sql(db, migrations[v], diag);
            snprintf(bump, sizeof bump,
                     "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%zu)", v + 1);
            if (rc == OWB_OK)
                rc = exec_sql(db, bump, diag);
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
 * constant load). */
#define CKPT_FRAMES 1000
#define CKPT_RESTART_FRAMES 16000

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
        s->wal_frames = 0;
        pthread_mutex_unlock(&s->ckpt_mu);
        int log = 0, done = 0;
        int r = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
                                          frames >= CKPT_RESTART_FRAMES ? SQLITE_CHECKPOINT_RESTART
                                                                        : SQLITE_CHECKPOINT_PASSIVE,
                                          &log, &done);
        if (r != SQLITE_OK && r != SQLITE_BUSY)
            fprintf(stderr, "owb-server: sqlite checkpoint: %s\n", sqlite3_errmsg(s->ckpt_db));
        pthread_mutex_lock(&s->ckpt_mu);
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

enum owb_err owb_store_sqlite_open(const struct owb_store_config *cfg, struct owb_store **out,
                                   char *diag)
{
    struct sq_store *s = NULL;
    enum owb_err rc;
    unsigned n = cfg->connections ? cfg->connections : 1;

    *out = NULL;
    owb_diagf(diag, "ok");
    s = calloc(1, sizeof *s);
    if (!s)
        return OWB_ERR_NOMEM;
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->q_mu, NULL);
    pthread_cond_init(&s->q_cv, NULL);
    s->q_tail = &s->q_head;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->conns = calloc(n, sizeof *s->conns);
    if (!s->conns) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    s->n = n;
    rc = open_conn(cfg, cfg->create, &s->writer.db, diag);
    if (rc == OWB_OK)
        rc = migrate(s->writer.db, diag);
    for (unsigned i = 0; rc == OWB_OK && i < n; i++)
        rc = open_conn(cfg, false, &s->conns[i].db, diag);
    if (rc == OWB_OK && cfg->serving)
        rc = checkpointer_start(s, cfg, diag);
    if (rc != OWB_OK)
        goto out;
    *out = &s->base;
    s = NULL;
    rc = OWB_OK;
out:
    if (s)
        sq_close(&s->base);
    return rc;
}
