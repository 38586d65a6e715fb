/* Internal to the storage backends: what store_sqlite.c and store_pg.c
 * share, so that each keeps only what is its own.
 *
 *   store_sql.c   the schema (one migration list), the statements both
 *                 run, the column lists, and the dialect substitutions;
 *   store_rows.c  statement parameters, and one decoder per row type over
 *                 a column-getter interface each backend implements;
 *   store_pool.c  the connection pool (N slots, mutex and condvar);
 *   store_ops.c   every operation that is one statement or one plain
 *                 transaction, written once over the driver below.
 *
 * A backend supplies a driver (run a statement, begin and end a
 * transaction, lend a connection) and its own operations: SQLite its
 * group commit for issue and check-in, PostgreSQL its COPY import and
 * one-statement issue and check-in.
 */
#ifndef OWB_SERVER_STORE_I_H
#define OWB_SERVER_STORE_I_H

#include <pthread.h>

#include "store.h"

/* --- SQL dialects --- */

/* What tells the two SQL dialects apart, as substitutions into one text:
 * {blob} {int} {bool} {false} {serial} {norowid} {least} {unlogged}, and
 * "$N" parameters (SQLite numbers them "?N"). */
struct owb_store_dialect {
    char param;
    const char *blob, *bigint, *boolean, *false_lit, *serial_pk, *no_rowid, *least, *unlogged;
};

extern const struct owb_store_dialect owb_dialect_sqlite;
extern const struct owb_store_dialect owb_dialect_pg;

/* The template with the dialect's words put in; malloc'd (the caller frees
 * it), NULL when out of memory. */
char *owb_store_sql_expand(const struct owb_store_dialect *d, const char *tmpl);

/* Schema migrations: step v (0-based) of owb_store_migrations(), each a
 * template for owb_store_sql_expand, applied in order in the transaction
 * that records the new version. */
size_t owb_store_migrations(void);
const char *owb_store_migration(size_t v);

/* --- statements --- */

/* The statements both backends run; a backend numbers its own from
 * OWB_ST__SHARED on. */
enum owb_stmt {
    OWB_ST_META_GET,
    OWB_ST_META_PUT,
    OWB_ST_DEV_GET,
    OWB_ST_DEV_LIST,
    OWB_ST_DEV_REMOVE,
    OWB_ST_DEV_ASSIGN,
    OWB_ST_DEV_MAC,
    OWB_ST_NET_EXISTS,
    OWB_ST_NET_INSERT,
    OWB_ST_NET_GET,
    OWB_ST_NET_LIST,
    OWB_ST_NET_REMOVE,
    OWB_ST_NET_MAC,
    OWB_ST_TOK_INSERT,
    OWB_ST_TOK_LIST,
    OWB_ST_TOK_REVOKE,
    OWB_ST_CLAIM_ATTEMPT,
    OWB_ST_CLAIM_STATE,
    OWB_ST_CLAIM_CLEAR,
    OWB_ST_SESSION_GET,
    OWB_ST_SESSION_GET_LEGACY,
    OWB_ST_SETUP_READ,
    OWB_ST_SESSION_LIST,
    OWB_ST_PRUNE_SESSIONS_END,
    OWB_ST_PRUNE_SESSIONS,
    OWB_ST_PRUNE_NONCES_END,
    OWB_ST_PRUNE_NONCES,
    OWB_ST_HB_COUNTER,
    OWB_ST_HB_CHALLENGE,
    OWB_ST_HB_DEVICE,
    OWB_ST_RO_FIND,
    OWB_ST_RO_MARK,
    OWB_ST_RO_ADVANCE,
    OWB_ST_RO_CLAIM,
    OWB_ST_RO_INSERT,
    OWB_ST_RO_SUPERSEDE,
    OWB_ST_RO_MEMBER,
    OWB_ST_RO_GET,
    OWB_ST_RO_LIST,
    OWB_ST_RO_MEMBERS,
    OWB_ST_RO_SET_STATE,
    OWB_ST_FLEET_COUNTS,
    OWB_ST_NET_UPDATE,
    OWB_ST_DEV_COUNTER,
    OWB_ST_MARK_GET,
    OWB_ST_MARK_RAISE,
    OWB_ST_FLOOR_RAISE,
    OWB_ST_RECOVER_DEVICE,
    OWB_ST_RECOVER_SESSION,
    OWB_ST__SHARED
};

/* A statement template and its parameters' types, one letter each: t text,
 * b bytes, i 64-bit integer, o boolean (PostgreSQL prepares with them). */
struct owb_stmt_def {
    const char *sql, *types;
};

extern const struct owb_stmt_def owb_store_stmts[OWB_ST__SHARED];

/* The columns the decoders below read, in their order. */
#define OWB_DEVICE_COLS                                                                            \
    "id, sealed_key, claim_hash, counter, network, state, created_at, updated_at, online_at, "     \
    "suite, public_key, sealed_ap, row_mac, heard_at, heard_from, hb_running, hb_held, hb_reason"
#define OWB_NETWORK_COLS "name, ssid, security, sealed_psk, hidden, created_at, row_mac"
#define OWB_SESSION_COLS "device_id, counter, mode, state, created_at, online_at"
#define OWB_TOKEN_COLS "id, label, created_at, revoked_at"
#define OWB_ROLLOUT_COLS "id, kind, network, state, wave, waves, batch, created_at, updated_at"
#define OWB_MEMBER_COLS                                                                            \
    "rd.device_id, rd.wave, rd.state, rd.counter, rd.reason, rd.issued_at, rd.updated_at, "        \
    "d.heard_at, d.hb_running, d.hb_held"
/* What an import writes, in the order of the insert's parameters. */
#define OWB_IMPORT_COLS "id, sealed_key, key_fp, claim_hash, suite, public_key, sealed_ap, row_mac"

/* --- parameters --- */

#define OWB_ARGS_MAX 10

enum owb_arg_kind { OWB_ARG_NULL, OWB_ARG_TEXT, OWB_ARG_BLOB, OWB_ARG_I64, OWB_ARG_BOOL };

/* The values are borrowed: they must outlive the statement's run. */
struct owb_store_args {
    struct {
        enum owb_arg_kind kind;
        const void *p; /* text (NUL-terminated) or bytes; never NULL */
        size_t len;
        int64_t i; /* integer or boolean */
    } v[OWB_ARGS_MAX];
    int n;
};

void owb_arg_text(struct owb_store_args *a, const char *t); /* NULL: SQL NULL */
void owb_arg_blob(struct owb_store_args *a, const void *p, size_t len);
void owb_arg_i64(struct owb_store_args *a, int64_t v);
void owb_arg_bool(struct owb_store_args *a, bool v);
void owb_arg_null(struct owb_store_args *a);
/* The values an import item is inserted with, in OWB_IMPORT_COLS order. */
void owb_store_import_args(const struct owb_import_item *it, struct owb_store_args *a);
/* A network row's values in OWB_NETWORK_COLS order (insert and update). */
void owb_store_network_args(const struct owb_network_row *row, struct owb_store_args *a);

/* --- result columns --- */

/* One result row, read by column index; res is the backend's (a statement
 * on a row, or a result and a row number). text is NUL-terminated, NULL
 * for SQL NULL; blob NULL for SQL NULL or no bytes. */
struct owb_store_cols {
    const char *(*text)(void *res, int col);
    const uint8_t *(*blob)(void *res, int col, size_t *len);
    int64_t (*i64)(void *res, int col);
    bool (*null)(void *res, int col);
};

/* Called for each row a statement returns. An error does not stop the
 * rows: the run goes on and answers the first error at its end. */
typedef enum owb_err (*owb_store_row_fn)(void *ctx, const struct owb_store_cols *c, void *res);

/* Columns read from a later place in a row (by on), for a statement whose
 * row holds other columns before a table's: pass a struct owb_store_shift
 * as res with owb_store_shifted as the getters. */
struct owb_store_shift {
    const struct owb_store_cols *c;
    void *res;
    int by;
};
extern const struct owb_store_cols owb_store_shifted;
/* How many columns a list such as OWB_DEVICE_COLS names. */
int owb_store_ncols(const char *list);

/* A setup_read row (store.h): the token's state, the claim guard's two
 * columns, the device's, then with net the network's. */
struct owb_setup_reading {
    struct owb_setup_read *out;
    bool net;
};
enum owb_err owb_store_read_setup(void *ctx, const struct owb_store_cols *c,
                                  void *res) OWB_MUST_CHECK;

/* The decoders. A row holding what this server never writes (an unknown
 * security or suite, a text longer than its field) is refused whole:
 * OWB_ERR_TAMPERED, and a line on stderr naming it. Never a guess: an
 * unknown security read as "open" would hand a device an open network. */
enum owb_err owb_store_read_device(const struct owb_store_cols *c, void *res,
                                   struct owb_device_row *row) OWB_MUST_CHECK;
enum owb_err owb_store_read_network(const struct owb_store_cols *c, void *res,
                                    struct owb_network_row *row) OWB_MUST_CHECK;
enum owb_err owb_store_read_session(const struct owb_store_cols *c, void *res,
                                    struct owb_session_row *row) OWB_MUST_CHECK;
enum owb_err owb_store_read_token(const struct owb_store_cols *c, void *res,
                                  struct owb_token_row *row) OWB_MUST_CHECK;
enum owb_err owb_store_read_rollout(const struct owb_store_cols *c, void *res,
                                    struct owb_rollout_row *row) OWB_MUST_CHECK;
enum owb_err owb_store_read_member(const struct owb_store_cols *c, void *res,
                                   struct owb_rollout_member *row) OWB_MUST_CHECK;

/* --- the connection pool --- */

/* N slots of slot_size bytes (zeroed), lent one thread at a time. */
struct owb_store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *slots;
    bool *busy;
    size_t slot_size;
    unsigned n;
};

enum owb_err owb_store_pool_init(struct owb_store_pool *p, unsigned n,
                                 size_t slot_size) OWB_MUST_CHECK;
/* Slot i, for opening and closing what it holds. */
void *owb_store_pool_slot(struct owb_store_pool *p, unsigned i);
/* Waits for a free slot until deadline_ms (owb_store_clock_ms; 0: as long
 * as it takes); NULL past it. */
void *owb_store_pool_acquire(struct owb_store_pool *p, int64_t deadline_ms);
void owb_store_pool_release(struct owb_store_pool *p, void *slot);
void owb_store_pool_destroy(struct owb_store_pool *p);

/* A condition variable whose timed waits run on owb_store_clock_ms's
 * clock, and such a wait: false once deadline_ms has passed (0: no
 * deadline, it waits for a signal). */
void owb_store_cond_init(pthread_cond_t *cv);
bool owb_store_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);
/* deadline_ms as a timespec of CLOCK_MONOTONIC. */
struct timespec owb_store_timespec(int64_t deadline_ms);

/* --- the driver a backend supplies --- */

typedef enum owb_err (*owb_store_conn_fn)(void *conn, void *arg);

struct owb_store_driver {
    /* Runs fn on a connection: for a write, the one this backend writes
     * with. PostgreSQL runs fn once more after a lost connection. */
    enum owb_err (*call)(struct owb_store *s, bool write, owb_store_conn_fn fn, void *arg);
    /* Runs statement id; *count (may be NULL): the rows it returned, or
     * for a statement that returns none, the rows it changed. */
    enum owb_err (*run)(void *conn, unsigned id, const struct owb_store_args *a,
                        owb_store_row_fn row, void *ctx, size_t *count);
    enum owb_err (*begin)(void *conn);
    /* COMMIT when rc is OWB_OK, else ROLLBACK; the final outcome. */
    enum owb_err (*end)(void *conn, enum owb_err rc);
    /* Lends the writing connection for longer than one call (an import). */
    void *(*lend)(struct owb_store *s);
    void (*give_back)(struct owb_store *s, void *conn);
    /* Begins an import's transaction on a lent connection, ready for its
     * batches (rolled back again on failure), and adds one batch in this
     * backend's way (store.h import_add). */
    enum owb_err (*import_open)(struct owb_store *s, void *conn);
    enum owb_err (*import_batch)(void *conn, const struct owb_import_item *items, size_t n,
                                 struct owb_import_result *res);
    /* Begins a pruning batch's transaction: OWB_ERR_BUSY, and nothing
     * begun, when another process is pruning or holds the database, so
     * this pass leaves it the work instead of waiting for it (setups
     * queued behind a pass must never wait twice). */
    enum owb_err (*prune_begin)(void *conn);
    /* After a pruning pass that removed rows (NULL: nothing): give the
     * space back where the backend keeps it apart (SQLite's WAL). */
    void (*prune_done)(struct owb_store *s);
};

/* The start of each backend's store. */
struct owb_store_core {
    struct owb_store base;
    const struct owb_store_driver *drv;
    struct owb_store_pool pool; /* the connections calls are lent */
    unsigned busy_ms;           /* cfg->busy_ms, 5000 when 0 */
};

/* The deadline of a call starting now: its request's bound
 * (owb_store_bound_begin), else the busy timeout from now. */
int64_t owb_store_deadline(struct owb_store *s);
/* The request's bound, 0 outside one. */
int64_t owb_store_bound(void);

/* Finishes opening a freshly allocated store (connections, schema). */
typedef enum owb_err (*owb_store_start_fn)(void *store, const struct owb_store_config *cfg,
                                           char *diag);

/* A backend's open: its store of size bytes (starting with its core),
 * zeroed, with a pool of cfg->connections slots (at least one) of
 * conn_size bytes, then start; on failure the store is closed again (its
 * close ends with owb_store_free). */
enum owb_err owb_store_create(size_t size, const struct owb_store_ops *ops,
                              const struct owb_store_driver *drv, size_t conn_size,
                              owb_store_start_fn start, const struct owb_store_config *cfg,
                              struct owb_store **out, char *diag);
void owb_store_free(struct owb_store_core *core);

/* One statement on a connection of s (write: the writing one); the one
 * pattern for an operation that is a single statement. */
enum owb_err owb_store_exec(struct owb_store *s, bool write, unsigned id,
                            const struct owb_store_args *a, owb_store_row_fn row, void *ctx,
                            size_t *count);

/* A row callback that reads column 0 as an integer into *(int64_t *)ctx. */
enum owb_err owb_store_read_i64(void *ctx, const struct owb_store_cols *c, void *res);

/* --- the operations written once (store_ops.c) --- */

enum owb_err owb_store_meta_get(struct owb_store *s, const char *key, uint8_t *val, size_t cap,
                                size_t *len);
enum owb_err owb_store_meta_put(struct owb_store *s, const char *key, const uint8_t *val,
                                size_t len);
enum owb_err owb_store_import_begin(struct owb_store *s, struct owb_import **imp);
enum owb_err owb_store_import_add(struct owb_import *imp, const struct owb_import_item *items,
                                  size_t n, struct owb_import_result *res);
enum owb_err owb_store_import_end(struct owb_import *imp, bool commit);
enum owb_err owb_store_device_get(struct owb_store *s, const char *id, struct owb_device_row *row);
enum owb_err owb_store_device_list(struct owb_store *s, owb_device_cb cb, void *ctx);
enum owb_err owb_store_device_remove(struct owb_store *s, const char *id);
enum owb_err owb_store_device_assign(struct owb_store *s, const char *const *ids, size_t n,
                                     const char *network, const uint8_t (*macs)[OWB_ROW_MAC_BYTES],
                                     char *missing_id);
enum owb_err owb_store_row_mac_put(struct owb_store *s, const char *table, const char *key,
                                   const uint8_t mac[OWB_ROW_MAC_BYTES]);
enum owb_err owb_store_network_add(struct owb_store *s, const struct owb_network_row *row);
enum owb_err owb_store_network_get(struct owb_store *s, const char *name,
                                   struct owb_network_row *row);
enum owb_err owb_store_network_list(struct owb_store *s, owb_network_cb cb, void *ctx);
enum owb_err owb_store_network_remove(struct owb_store *s, const char *name);
enum owb_err owb_store_token_add(struct owb_store *s, const uint8_t hash[OWB_HASH_BYTES],
                                 const char *label, int64_t now, int64_t *id);
enum owb_err owb_store_token_list(struct owb_store *s, owb_token_cb cb, void *ctx);
enum owb_err owb_store_token_revoke(struct owb_store *s, const char *id_or_label, int64_t now,
                                    size_t *count);
enum owb_err owb_store_claim_attempt(struct owb_store *s, const char *id, int64_t now,
                                     unsigned window_s, unsigned max, unsigned cap_s,
                                     unsigned *attempts, int64_t *retry_at);
enum owb_err owb_store_claim_reset(struct owb_store *s, const char *id);
enum owb_err owb_store_claim_state(struct owb_store *s, const char *id, int64_t since,
                                   unsigned *attempts, int64_t *next_at);
enum owb_err owb_store_session_get(struct owb_store *s, const struct owb_session_key *key,
                                   struct owb_session_row *row);
enum owb_err owb_store_setup_read(struct owb_store *s, const char *id, int64_t claim_since,
                                  const uint8_t *token_hash, struct owb_setup_read *out);
enum owb_err owb_store_device_find(struct owb_store *s, const struct owb_device_filter *f,
                                   owb_device_cb cb, void *ctx);
enum owb_err owb_store_session_list(struct owb_store *s, const char *device_id, unsigned limit,
                                    owb_session_cb cb, void *ctx);
enum owb_err owb_store_counter_mark(struct owb_store *s, int64_t past_us, int64_t *mark);
enum owb_err owb_store_prune(struct owb_store *s, int64_t cutoff, unsigned batch,
                             struct owb_prune_result *res);
/* Heartbeats and rollouts (store_fleet.c). */
enum owb_err owb_store_heartbeat(struct owb_store *s, const struct owb_hb_in *hb,
                                 uint8_t current[static OWB_HB_CHALLENGE_BYTES],
                                 struct owb_rollout_due *due);
enum owb_err owb_store_rollout_claim(struct owb_store *s, int64_t rollout_id, const char *device_id,
                                     uint64_t expected, uint64_t counter, int64_t now);
enum owb_err owb_store_rollout_create(struct owb_store *s, struct owb_rollout_row *ro,
                                      const struct owb_rollout_member *members, size_t n);
enum owb_err owb_store_rollout_get(struct owb_store *s, int64_t id, struct owb_rollout_row *row);
enum owb_err owb_store_rollout_list(struct owb_store *s, owb_rollout_cb cb, void *ctx);
enum owb_err owb_store_rollout_members(struct owb_store *s, int64_t id, owb_member_cb cb,
                                       void *ctx);
enum owb_err owb_store_rollout_set_state(struct owb_store *s, int64_t id, const char *from,
                                         const char *state, int64_t now);
enum owb_err owb_store_fleet_counts(struct owb_store *s, int64_t since, uint64_t *online,
                                    uint64_t *stale, uint64_t *never);
enum owb_err owb_store_network_update(struct owb_store *s, const struct owb_network_row *row);

/* --- counters (store.h issue) --- */

/* The clock counters are drawn from, in microseconds since 1970 (test
 * builds: shifted by owb_store_test_clock_skew), and that shift alone (0
 * outside test builds), for a backend that reads another clock. */
int64_t owb_store_now_us(void);
int64_t owb_store_clock_skew_us(void);
/* Where a reservation moves the mark: OWB_COUNTER_AHEAD_US past the later
 * of the mark and the clock, never past OWB_COUNTER_LIMIT. */
int64_t owb_store_mark_next(int64_t mark, int64_t now_us);
/* In the caller's transaction on conn: the session of a check-in whose
 * proof holds and whose counter has none, recorded again when the counter
 * lies above the device's and below the durable mark (store.h checkin);
 * OWB_ERR_CONFLICT when it does not. */
enum owb_err owb_store_recover(const struct owb_store_driver *drv, void *conn, const char *id,
                               uint64_t counter, int64_t now);

/* A backend's owb_store_ops: the operations above, and its own name,
 * close, issue, check-in and ping. */
#define OWB_STORE_OPS(name_, close_, issue_, checkin_, ping_, setup_issue_)                        \
    {                                                                                              \
        .name = name_, .close = close_, .meta_get = owb_store_meta_get,                            \
        .meta_put = owb_store_meta_put, .import_begin = owb_store_import_begin,                    \
        .import_add = owb_store_import_add, .import_end = owb_store_import_end,                    \
        .device_get = owb_store_device_get, .device_list = owb_store_device_list,                  \
        .device_remove = owb_store_device_remove, .device_assign = owb_store_device_assign,        \
        .row_mac_put = owb_store_row_mac_put, .network_add = owb_store_network_add,                \
        .network_get = owb_store_network_get, .network_list = owb_store_network_list,              \
        .network_remove = owb_store_network_remove, .token_add = owb_store_token_add,              \
        .token_list = owb_store_token_list, .token_revoke = owb_store_token_revoke,                \
        .claim_attempt = owb_store_claim_attempt, .claim_reset = owb_store_claim_reset,            \
        .claim_state = owb_store_claim_state, .issue = issue_,                                     \
        .session_get = owb_store_session_get, .checkin = checkin_,                                 \
        .setup_read = owb_store_setup_read, .device_find = owb_store_device_find,                  \
        .session_list = owb_store_session_list, .prune = owb_store_prune, .ping = ping_,           \
        .counter_mark = owb_store_counter_mark, .heartbeat = owb_store_heartbeat,                  \
        .rollout_claim = owb_store_rollout_claim, .rollout_create = owb_store_rollout_create,      \
        .rollout_get = owb_store_rollout_get, .rollout_list = owb_store_rollout_list,              \
        .rollout_members = owb_store_rollout_members,                                              \
        .rollout_set_state = owb_store_rollout_set_state, .fleet_counts = owb_store_fleet_counts,  \
        .network_update = owb_store_network_update, .setup_issue = setup_issue_,                   \
    }

#endif
