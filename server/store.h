/* The provisioning server's storage interface.
 *
 * Every SQL statement lives behind these function pointers: SQLite
 * (store_sqlite.c) and PostgreSQL (store_pg.c), over the schema, rows and
 * operations they share (store_i.h). The store never sees a secret in
 * clear: device keys and PSKs arrive sealed under the master key
 * (secrets.h, owb_atrest_seal), claim codes and tokens as hashes.
 *
 * All calls are safe from several threads at once. Functions return
 * OWB_ERR_NOENT for a missing row, OWB_ERR_EXISTS for a duplicate,
 * OWB_ERR_UNAVAILABLE when the database stayed busy past its wait, or
 * did not answer within it (owb_store_bound_begin below).
 *
 * A stored row holding a value this server never writes (a security or
 * suite it does not know, a text longer than its field) is never guessed
 * at: a get answers OWB_ERR_TAMPERED, a listing leaves the row out and
 * answers OWB_ERR_TAMPERED after the others, and stderr names the row.
 */
#ifndef OWB_SERVER_STORE_H
#define OWB_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/claim.h"
#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/wifi.h"

#define OWB_SEALED_MAX 160 /* nonce + tag + up to 120 bytes of secret */
#define OWB_NETWORK_NAME_MAX 64
#define OWB_LABEL_MAX 64 /* what token create takes */
/* What a stored label may hold: OWB_LABEL_MAX and the " (id N)" that
 * migration 5 gave labels that were duplicates. */
#define OWB_LABEL_STORED_MAX (OWB_LABEL_MAX + 25)
#define OWB_HASH_BYTES 32
#define OWB_FP_BYTES 16
#define OWB_ROW_MAC_BYTES 32
#define OWB_ADDR_MAX 63   /* a client address as the HTTP layer gives it */
#define OWB_REASON_MAX 31 /* a heartbeat's reason name */
/* The meta key of the heartbeat interval 'serve --heartbeat' asks for, in
 * seconds as decimal text; 900 when absent. */
#define OWB_META_HEARTBEAT "heartbeat_s"
#define OWB_HEARTBEAT_DEFAULT_S 900

struct owb_sealed {
    uint8_t bytes[OWB_SEALED_MAX];
    size_t len;
};

/* One device from a records file, already sealed. A pk device has no
 * sealed key (len 0): its public key and its sealed AP passphrase instead. */
struct owb_import_item {
    char id[OWB_DEVICE_ID_SIZE];
    enum owb_suite suite;
    struct owb_sealed sealed_key;
    uint8_t public_key[32];
    struct owb_sealed sealed_ap;
    uint8_t key_fp[OWB_FP_BYTES]; /* keyed fingerprint: equal keys, equal fp */
    bool has_claim;
    uint8_t claim_hash[OWB_HASH_BYTES];
    uint8_t row_mac[OWB_ROW_MAC_BYTES]; /* rowmac.h, over the row as inserted */
};

struct owb_import_result {
    size_t added, unchanged;
    char conflict_id[OWB_DEVICE_ID_SIZE]; /* set when OWB_ERR_CONFLICT */
};

struct owb_device_row {
    char id[OWB_DEVICE_ID_SIZE];
    enum owb_suite suite;
    struct owb_sealed sealed_key; /* symmetric; len 0 for pk */
    uint8_t public_key[32];       /* pk */
    struct owb_sealed sealed_ap;  /* pk: the minted AP passphrase */
    bool has_claim;
    uint8_t claim_hash[OWB_HASH_BYTES];
    uint64_t counter;
    char network[OWB_NETWORK_NAME_MAX + 1];    /* "" when none assigned */
    char state[16];                            /* new | issued | online */
    int64_t created_at, updated_at, online_at; /* online_at 0 when never */
    bool has_mac; /* false for a row from before row MACs, until seal-rows */
    uint8_t row_mac[OWB_ROW_MAC_BYTES];
    /* The last heartbeat (docs/protocol.md, "After setup"): heard_at 0
     * when never; the client address it came from, as the server saw it. */
    int64_t heard_at;
    char heard_from[OWB_ADDR_MAX + 1];
    uint64_t running, held;
    char reason[OWB_REASON_MAX + 1]; /* "" when the held bundle runs */
};

struct owb_network_row {
    char name[OWB_NETWORK_NAME_MAX + 1];
    char ssid[OWB_SSID_MAX + 1];
    enum owb_security security;
    struct owb_sealed sealed_psk; /* len 0 for open networks */
    bool hidden;
    int64_t created_at;
    bool has_mac;
    uint8_t row_mac[OWB_ROW_MAC_BYTES];
};

struct owb_session_row {
    char device_id[OWB_DEVICE_ID_SIZE];
    uint64_t counter;
    char mode[16];  /* server-sealed | app-sealed */
    char state[16]; /* issued | online */
    int64_t created_at, online_at;
};

/* How a session is found: its device and counter (the unique index), and
 * the hash of its token's secret. A session issued before migration 11
 * is found by the hash alone (device_id empty). */
struct owb_session_key {
    char device_id[OWB_DEVICE_ID_SIZE];
    uint64_t counter;
    uint8_t hash[OWB_HASH_BYTES];
};

/* What a setup reads before it issues (setup_read below), from one
 * statement: one snapshot, one round trip. */
struct owb_setup_read {
    struct owb_device_row dev;
    /* The claim guard as claim_state answers it. */
    unsigned claim_attempts;
    int64_t claim_next_at;
    /* Asked for with a token hash only (a server-sealed setup): */
    bool token_ok;       /* a known token, not revoked */
    enum owb_err net_rc; /* dev.network's row as network_get answers */
    struct owb_network_row net;
};

/* A setup that reads as it issues (setup_issue below). */
struct owb_setup_ask {
    const char *id;
    const uint8_t *claim_hash; /* the claim sent, hashed; NULL: none sent */
    int64_t claim_since, now;  /* the claim window's start; now, in seconds */
    const uint8_t *token_hash; /* server-sealed: the installer token's; else NULL */
    const uint8_t *session_hash;
    const char *mode;
};

struct owb_token_row {
    int64_t id;
    char label[OWB_LABEL_STORED_MAX + 1];
    int64_t created_at, revoked_at; /* revoked_at 0 when valid */
};

/* Which devices a listing gives; every field set narrows it (all zero:
 * every device). */
struct owb_device_filter {
    const char *network; /* NULL: any; "": those with no network assigned */
    const char *suite;   /* NULL: any; "sym" or "pk" */
    const char *state;   /* NULL: any; "new" (never set up), "issued", "online" */
    bool locked;         /* only those whose claims wait out a delay at now */
    int64_t now;
    /* NULL: any; "online" (heard at or after heard_since), "stale" (heard
     * before it) or "never" (no heartbeat yet). */
    const char *heard;
    int64_t heard_since;
};

/* A heartbeat's challenge (docs/protocol.md, "After setup"). */
#define OWB_HB_CHALLENGE_BYTES 16

/* A heartbeat the route has checked (its proof holds), to record. */
struct owb_hb_in {
    const char *id;
    uint64_t running, held;
    const char *reason;       /* "" when none */
    const uint8_t *challenge; /* the one the heartbeat carries */
    const uint8_t *next;      /* the one to issue when it is accepted (never all zero) */
    const char *from;         /* the client address */
    int64_t now;
    /* A bundle sent for the device's rollout whose counter it does not hold
     * is sent again only when it was issued at or before this time: the
     * device may not have had the answer yet. */
    int64_t resend_before;
    /* Devices not heard from since (two intervals) hold no wave back once
     * their wave has been out that long: they get their bundle when they
     * come back, and the next wave need not wait for them. */
    int64_t silent_before;
};

/* What the device's rollout asks for after a heartbeat: a bundle, when
 * rollout_id is not 0; expected is the counter the rollout row holds now
 * (0: none sent yet), for rollout_claim. */
struct owb_rollout_due {
    int64_t rollout_id;
    uint64_t expected;
};

/* A rollout (docs/server.md, "Rollouts"). */
struct owb_rollout_row {
    int64_t id;
    char kind[16];                          /* network | assign */
    char network[OWB_NETWORK_NAME_MAX + 1]; /* the network the devices get */
    char state[16];                         /* running | paused | aborted */
    int64_t wave, waves, batch;             /* the wave released (0-based), of waves */
    int64_t created_at, updated_at;
};

/* A device in a rollout, with what its last heartbeat said. state:
 * pending, applied, failed (held, not running: reason says why), person
 * (set up app-sealed: the server cannot make its bundle), superseded (a
 * newer rollout took it over). */
struct owb_rollout_member {
    char device_id[OWB_DEVICE_ID_SIZE];
    int64_t wave;
    char state[16];
    uint64_t counter; /* the bundle sent for it; 0 when none yet */
    char reason[OWB_REASON_MAX + 1];
    int64_t issued_at, updated_at;
    int64_t heard_at; /* the device's */
    uint64_t running, held;
};

/* What one pruning pass removed (prune below). */
struct owb_prune_result {
    uint64_t sessions, nonces;
    unsigned batches; /* transactions it took */
    bool skipped;     /* another instance was pruning (PostgreSQL): nothing done */
};

struct owb_store;
struct owb_import;

typedef void (*owb_device_cb)(void *ctx, const struct owb_device_row *row);
typedef void (*owb_network_cb)(void *ctx, const struct owb_network_row *row);
typedef void (*owb_token_cb)(void *ctx, const struct owb_token_row *row);
typedef void (*owb_session_cb)(void *ctx, const struct owb_session_row *row);
typedef void (*owb_rollout_cb)(void *ctx, const struct owb_rollout_row *row);
typedef void (*owb_member_cb)(void *ctx, const struct owb_rollout_member *row);

struct owb_store_ops {
    const char *name;
    void (*close)(struct owb_store *s);

    enum owb_err (*meta_get)(struct owb_store *s, const char *key, uint8_t *val, size_t cap,
                             size_t *len);
    enum owb_err (*meta_put)(struct owb_store *s, const char *key, const uint8_t *val, size_t len);

    /* An import is one transaction fed in batches: begin, add as many
     * batches as the file holds, then end with commit or not. An id present
     * with another key fingerprint fails the batch with OWB_ERR_CONFLICT
     * and res->conflict_id; the caller then ends without commit. Nothing is
     * visible to others until a successful commit. One import at a time:
     * begin waits up to the busy timeout for another to end, then answers
     * OWB_ERR_BUSY (on SQLite, for any other process's write). */
    enum owb_err (*import_begin)(struct owb_store *s, struct owb_import **imp);
    enum owb_err (*import_add)(struct owb_import *imp, const struct owb_import_item *items,
                               size_t n, struct owb_import_result *res);
    enum owb_err (*import_end)(struct owb_import *imp, bool commit);
    enum owb_err (*device_get)(struct owb_store *s, const char *id, struct owb_device_row *row);
    /* Every device: device_find with no filter. */
    enum owb_err (*device_list)(struct owb_store *s, owb_device_cb cb, void *ctx);
    enum owb_err (*device_remove)(struct owb_store *s, const char *id);
    /* Assigns every id or none (OWB_ERR_NOENT names nothing; callers check);
     * macs[i] is ids[i]'s row MAC with the new network. */
    enum owb_err (*device_assign)(struct owb_store *s, const char *const *ids, size_t n,
                                  const char *network, const uint8_t (*macs)[OWB_ROW_MAC_BYTES],
                                  char *missing_id);
    /* Stores a row's MAC (table "devices" or "networks"), for seal-rows. */
    enum owb_err (*row_mac_put)(struct owb_store *s, const char *table, const char *key,
                                const uint8_t mac[OWB_ROW_MAC_BYTES]);

    enum owb_err (*network_add)(struct owb_store *s, const struct owb_network_row *row);
    enum owb_err (*network_get)(struct owb_store *s, const char *name, struct owb_network_row *row);
    enum owb_err (*network_list)(struct owb_store *s, owb_network_cb cb, void *ctx);
    /* OWB_ERR_EXISTS while a device is assigned to it: a device's row MAC
     * covers its network, so the schema's ON DELETE SET NULL would leave
     * the device refused as tampered. Clear them first (assign.h). */
    enum owb_err (*network_remove)(struct owb_store *s, const char *name);

    /* OWB_ERR_EXISTS when a token (revoked or not) has this label. */
    enum owb_err (*token_add)(struct owb_store *s, const uint8_t hash[OWB_HASH_BYTES],
                              const char *label, int64_t now, int64_t *id);
    enum owb_err (*token_list)(struct owb_store *s, owb_token_cb cb, void *ctx);
    /* Revokes the token with this label, else the one with this numeric
     * id: never more than one (labels are unique); *count says how many. */
    enum owb_err (*token_revoke)(struct owb_store *s, const char *id_or_label, int64_t now,
                                 size_t *count);

    /* Counts a wrong claim in one statement that is also the gate: within
     * a window of window_s seconds the first max wrong claims are let
     * through to be answered; after that one per delay, device-wide, the
     * delay doubling from 2 s up to cap_s. OWB_ERR_LOCKED with *retry_at
     * when this one falls in a delay (not counted). *attempts: the count. */
    enum owb_err (*claim_attempt)(struct owb_store *s, const char *id, int64_t now,
                                  unsigned window_s, unsigned max, unsigned cap_s,
                                  unsigned *attempts, int64_t *retry_at);
    /* The right claim, or `device unlock`: the count starts again. */
    enum owb_err (*claim_reset)(struct owb_store *s, const char *id);
    /* Wrong claims counted since `since`, and until when the next claim,
     * right or wrong, must wait (0: none). A right claim passes when that
     * time has passed: it reads, it does not count. */
    enum owb_err (*claim_state)(struct owb_store *s, const char *id, int64_t since,
                                unsigned *attempts, int64_t *next_at);

    /* One transaction: the device's counter goes up and a session row
     * records the new value. The counter is max(last + 1, the clock in
     * microseconds, the floor), always below the durable mark and so below
     * 2^53 (docs/protocol.md, "Counters"; docs/threat-model.md): it never
     * repeats for a device across crashes, power cuts and a clock stepped
     * back, though the transaction itself is not waited to disk. */
    enum owb_err (*issue)(struct owb_store *s, const char *id,
                          const uint8_t session_hash[OWB_HASH_BYTES], const char *mode, int64_t now,
                          uint64_t *counter);
    enum owb_err (*session_get)(struct owb_store *s, const struct owb_session_key *key,
                                struct owb_session_row *row);
    /* The device (OWB_ERR_NOENT: none) with its claim guard counted from
     * claim_since; with token_hash also the token and the device's
     * network, whose row is decoded apart (out->net_rc), so that a bad one
     * fails only the setup that uses it, after the claim was checked. */
    enum owb_err (*setup_read)(struct owb_store *s, const char *id, int64_t claim_since,
                               const uint8_t *token_hash, struct owb_setup_read *out);
    /* setup_read and issue in one statement, for a setup that will pass:
     * the device is there with no claim or this claim hash, no wrong
     * claim counts against it, and with a token hash the token is known
     * and not revoked and the device's network is there. Else, or when a
     * counter reservation is due, nothing is written and the answer is
     * OWB_ERR_NOENT: the caller reads, checks and issues apart, which
     * also says why a setup is refused. out as setup_read answers it
     * (claim_attempts 0), the device as the issue left it. NULL where a backend has none: on SQLite
     * a setup's read stays off the one writer connection. */
    enum owb_err (*setup_issue)(struct owb_store *s, const struct owb_setup_ask *ask,
                                struct owb_setup_read *out, uint64_t *counter);
    /* One transaction: OWB_ERR_CONFLICT when no session was issued with this
     * counter, OWB_ERR_REPLAYED when the nonce was seen for this device;
     * else records the nonce and marks the session and device online. A
     * counter without a session that is above the device's and below the
     * durable mark may have been issued and its row lost in a power cut:
     * the caller has checked the device's proof over it, so its session is
     * recorded again (mode "recovered") and the check-in goes on. */
    enum owb_err (*checkin)(struct owb_store *s, const char *id, uint64_t counter,
                            const uint8_t nonce[16], int64_t now);

    /* The devices f lets through, in id order, read a page at a time: a
     * fleet of any size is listed in bounded memory. Not one snapshot: a
     * device added or removed meanwhile may or may not be listed. */
    enum owb_err (*device_find)(struct owb_store *s, const struct owb_device_filter *f,
                                owb_device_cb cb, void *ctx);
    /* A device's sessions, newest (highest counter) first, at most limit. */
    enum owb_err (*session_list)(struct owb_store *s, const char *device_id, unsigned limit,
                                 owb_session_cb cb, void *ctx);
    /* The durable counter mark (docs/threat-model.md, "Counters across
     * crashes"); with past_us above 0 first raised, with the floor, so
     * that no counter at or below past_us is issued: on PostgreSQL from
     * every instance's next setup, on SQLite from the server's next start
     * (it reads its floor from the mark when it opens the file). For a
     * database restored from a backup, whose mark is as old as the backup.
     * One transaction, waited to disk. */
    enum owb_err (*counter_mark)(struct owb_store *s, int64_t past_us, int64_t *mark);
    /* Removes what no answer needs any more: sessions created at or before
     * cutoff, except each device's newest (the one with the device's
     * counter), and check-in nonces recorded at or before cutoff whose
     * session is gone (a check-in naming that counter is refused as a
     * conflict before its nonce is looked at). The device's counter is
     * never touched: no counter is issued twice. In batches of about
     * `batch` rows, each its own short transaction; SQLite then
     * checkpoints and truncates its WAL. When another process prunes at
     * the same time (PostgreSQL) or holds the write lock (SQLite), the
     * pass stops where it is and answers OWB_OK with res->skipped. */
    enum owb_err (*prune)(struct owb_store *s, int64_t cutoff, unsigned batch,
                          struct owb_prune_result *res);
    /* Readiness, as cheap as it gets: OWB_OK when the store would take a
     * write now (SQLite: its write lock within the wait; PostgreSQL: the
     * database answers a statement), else OWB_ERR_UNAVAILABLE. */
    enum owb_err (*ping)(struct owb_store *s);

    /* --- heartbeats and rollouts --- */

    /* One transaction: OWB_ERR_NOENT for no such device, OWB_ERR_CONFLICT
     * when running or held is above the highest counter issued to it,
     * OWB_ERR_STALE_CHALLENGE when its challenge is not the device's
     * current one (current gets that one, made from hb->next when the
     * device had none; nothing else is written). Else the challenge is
     * taken by a compare-and-set, so that no two heartbeats (two
     * instances) accept one challenge; hb->next replaces it (in current),
     * the heartbeat is recorded, the device's rollout moved on by what it
     * says (applied, failed, the next wave) and *due filled. */
    enum owb_err (*heartbeat)(struct owb_store *s, const struct owb_hb_in *hb,
                              uint8_t current[static OWB_HB_CHALLENGE_BYTES],
                              struct owb_rollout_due *due);
    /* Compare-and-set: the rollout row of the device goes from expected to
     * counter (issued by `issue` just before) while the rollout runs;
     * OWB_ERR_CONFLICT when another request got there first or the rollout
     * was paused or aborted meanwhile: that bundle is not sent. */
    enum owb_err (*rollout_claim)(struct owb_store *s, int64_t rollout_id, const char *device_id,
                                  uint64_t expected, uint64_t counter, int64_t now);
    /* One transaction: the rollout (ro->id set on return) and its members;
     * the members' rows in older rollouts that are not applied become
     * superseded. */
    enum owb_err (*rollout_create)(struct owb_store *s, struct owb_rollout_row *ro,
                                   const struct owb_rollout_member *members, size_t n);
    enum owb_err (*rollout_get)(struct owb_store *s, int64_t id, struct owb_rollout_row *row);
    /* Every rollout, newest first. */
    enum owb_err (*rollout_list)(struct owb_store *s, owb_rollout_cb cb, void *ctx);
    /* A rollout's devices in id order, with their last heartbeat. */
    enum owb_err (*rollout_members)(struct owb_store *s, int64_t id, owb_member_cb cb, void *ctx);
    /* Sets the state of a rollout that is in one of the states from
     * ("running,paused": comma-separated); OWB_ERR_CONFLICT when it is in
     * none, OWB_ERR_NOENT when there is none. */
    enum owb_err (*rollout_set_state)(struct owb_store *s, int64_t id, const char *from,
                                      const char *state, int64_t now);
    /* Devices heard at or after since, heard before it, never heard. */
    enum owb_err (*fleet_counts)(struct owb_store *s, int64_t since, uint64_t *online,
                                 uint64_t *stale, uint64_t *never);
    /* Replaces a network's settings and row MAC (OWB_ERR_NOENT: none). */
    enum owb_err (*network_update)(struct owb_store *s, const struct owb_network_row *row);
};

struct owb_store {
    const struct owb_store_ops *ops;
};

struct owb_store_config {
    const char *path;     /* database file */
    unsigned connections; /* pool size (one per HTTP thread) */
    unsigned busy_ms;     /* bounded wait on a locked database */
    /* SQLite: every commit waits for the disk (synchronous=FULL); else
     * (NORMAL) only counter reservations do. */
    bool sync_full;
    bool create;  /* create the file if missing (init) */
    bool serving; /* a long-running server: checkpoint in the background */
};

/* The bound on one request's store calls. Between bound_begin and
 * bound_end, every call this thread makes answers OWB_ERR_UNAVAILABLE
 * once the store's busy timeout has passed since arrived_ms (a
 * CLOCK_MONOTONIC time, owb_store_clock_ms), whatever it waits for: a
 * connection of the pool, the writer, a lock, a database that does not
 * answer. Outside one, each call has the busy timeout from its own
 * start. */
void owb_store_bound_begin(struct owb_store *s, int64_t arrived_ms);
void owb_store_bound_end(void);
int64_t owb_store_clock_ms(void);

/* Counters (docs/protocol.md, "Counters"): none is issued at or above
 * 2^53, where a JSON number stops being exact. A reservation moves the
 * durable mark this far past the clock, with one wait for the disk. */
#define OWB_COUNTER_LIMIT 9007199254740992LL
#define OWB_COUNTER_AHEAD_US 5000000LL

#ifdef OWB_TEST_HOOKS
/* Test builds only (OWB_TEST_HOOKS, never in a release build): the clock
 * counters are drawn from runs skew_us off the real one (PostgreSQL: the
 * database's clock, shifted by as much). */
void owb_store_test_clock_skew(int64_t skew_us);
#endif

/* True for a PostgreSQL connection URI (postgresql:// or postgres://):
 * --db takes a file name or one of these. */
bool owb_store_pg_dsn(const char *db);

/* Opens the backend cfg->path names: PostgreSQL for a URI, else SQLite. */
enum owb_err owb_store_open(const struct owb_store_config *cfg, struct owb_store **out,
                            char *diag) OWB_MUST_CHECK;

/* Opens the PostgreSQL store (cfg->path is the connection URI) and brings
 * its schema up to date under an advisory lock; without cfg->create a
 * database that was never initialised is refused (OWB_ERR_BAD_FILE).
 * OWB_ERR_UNSUPPORTED when this build has no libpq. */
enum owb_err owb_store_pg_open(const struct owb_store_config *cfg, struct owb_store **out,
                               char *diag) OWB_MUST_CHECK;

/* Opens the SQLite store and brings its schema up to date. */
enum owb_err owb_store_sqlite_open(const struct owb_store_config *cfg, struct owb_store **out,
                                   char *diag) OWB_MUST_CHECK;

#endif
