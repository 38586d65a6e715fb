/* The schema and the statements both storage backends run, written once;
 * the two SQL dialects differ only by the words owb_store_sql_expand puts
 * in (store_i.h). */
#include "store_i.h"

#include <stdlib.h>
#include <string.h>

/* In the order of struct owb_store_dialect: parameter, bytes, 64-bit
 * integer, boolean, false, auto-numbered key, the nonce table's suffix
 * (SQLite: no rowid, it is looked up only by its key), least of two. */
const struct owb_store_dialect owb_dialect_sqlite = {
    '?', "BLOB", "INTEGER", "INTEGER", "0", "INTEGER PRIMARY KEY", " WITHOUT ROWID", "min", ""};
const struct owb_store_dialect owb_dialect_pg = {
    '$', "BYTEA", "BIGINT", "BOOLEAN", "false", "BIGSERIAL PRIMARY KEY", "", "LEAST", "UNLOGGED"};

/* Schema migrations, applied in order, each in its own transaction. */
static const char *const migrations[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value {blob} NOT NULL);"
    "CREATE TABLE networks (name TEXT PRIMARY KEY, ssid TEXT NOT NULL, security TEXT NOT NULL,"
    "  sealed_psk {blob}, hidden {bool} NOT NULL DEFAULT {false}, created_at {int} NOT NULL);"
    "CREATE TABLE devices (id TEXT PRIMARY KEY, sealed_key {blob} NOT NULL, key_fp {blob} NOT NULL,"
    "  claim_hash {blob}, counter {int} NOT NULL DEFAULT 0,"
    "  network TEXT REFERENCES networks(name) ON DELETE SET NULL,"
    "  state TEXT NOT NULL DEFAULT 'new', created_at {int} NOT NULL,"
    "  updated_at {int} NOT NULL, online_at {int});"
    "CREATE INDEX devices_network ON devices(network);"
    "CREATE TABLE sessions (token_hash {blob} PRIMARY KEY,"
    "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  counter {int} NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'issued',"
    "  created_at {int} NOT NULL, online_at {int});"
    "CREATE UNIQUE INDEX sessions_device_counter ON sessions(device_id, counter);"
    "CREATE TABLE tokens (id {serial}, hash {blob} NOT NULL UNIQUE, label TEXT NOT NULL,"
    "  created_at {int} NOT NULL, revoked_at {int});"
    "CREATE TABLE checkin_nonces (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  nonce {blob} NOT NULL, counter {int} NOT NULL, at {int} NOT NULL,"
    "  PRIMARY KEY (device_id, nonce)){norowid};"
    "CREATE TABLE claim_failures (device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  at {int} NOT NULL);"
    "CREATE INDEX claim_failures_device ON claim_failures(device_id, at);",
    /* 2: the pk suite: a device's public key and its sealed AP passphrase
     * instead of a sealed device key. */
    "ALTER TABLE devices ADD COLUMN suite TEXT NOT NULL DEFAULT 'sym';"
    "ALTER TABLE devices ADD COLUMN public_key {blob};"
    "ALTER TABLE devices ADD COLUMN sealed_ap {blob};",
    /* 3: claim attempts counted in one row per device, in one statement
     * (a count of failure rows let concurrent guesses slip past it). */
    "CREATE TABLE claim_guard (device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
    "  attempts {int} NOT NULL, window_start {int} NOT NULL, next_at {int} NOT NULL);"
    "DROP TABLE claim_failures;",
    /* 4: a MAC over the columns that decide where a device goes (rowmac.h);
     * NULL for the rows already there until seal-rows vouches for them. */
    ("ALTER TABLE devices ADD COLUMN row_mac {blob};"
     "ALTER TABLE networks ADD COLUMN row_mac {blob};"),
    /* 5: token labels unique, so that a label names one token. Labels
     * that were already shared stay with the oldest token; the others
     * become "L (id N)" (room for it: OWB_LABEL_STORED_MAX), so that the
     * index can be made whatever the database holds. */
    ("UPDATE tokens SET label = label || ' (id ' || CAST(id AS TEXT) || ')' WHERE EXISTS "
     "(SELECT 1 FROM tokens t WHERE t.label = tokens.label AND t.id < tokens.id);"
     "CREATE UNIQUE INDEX tokens_label ON tokens(label);"),
    /* 6: pruning walks sessions and check-in nonces by age (store.h
     * prune), a page at a time. */
    ("CREATE INDEX sessions_created ON sessions(created_at);"
     "CREATE INDEX checkin_nonces_at ON checkin_nonces(at);"),
    /* 7: heartbeats and rollouts. The last heartbeat of each device on its
     * row; heartbeat nonces apart from check-in ones, by age (heartbeat_at)
     * for pruning; a rollout, and one row per device in it with the
     * counter last sent for it (the compare-and-set of rollout_claim). */
    ("ALTER TABLE devices ADD COLUMN heard_at {int};"
     "ALTER TABLE devices ADD COLUMN heard_from TEXT;"
     "ALTER TABLE devices ADD COLUMN hb_running {int};"
     "ALTER TABLE devices ADD COLUMN hb_held {int};"
     "ALTER TABLE devices ADD COLUMN hb_reason TEXT;"
     "CREATE INDEX devices_heard ON devices(heard_at);"
     "CREATE TABLE heartbeat_nonces (device_id TEXT NOT NULL REFERENCES devices(id) "
     "  ON DELETE CASCADE, nonce {blob} NOT NULL, at {int} NOT NULL,"
     "  PRIMARY KEY (device_id, nonce)){norowid};"
     "CREATE INDEX heartbeat_nonces_at ON heartbeat_nonces(at);"
     "CREATE TABLE rollouts (id {serial}, kind TEXT NOT NULL, network TEXT NOT NULL,"
     "  state TEXT NOT NULL, wave {int} NOT NULL, waves {int} NOT NULL, batch {int} NOT NULL,"
     "  created_at {int} NOT NULL, updated_at {int} NOT NULL);"
     "CREATE TABLE rollout_devices (rollout_id {int} NOT NULL REFERENCES rollouts(id) "
     "  ON DELETE CASCADE, device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     "  wave {int} NOT NULL, state TEXT NOT NULL, counter {int} NOT NULL DEFAULT 0, reason TEXT,"
     "  issued_at {int}, updated_at {int} NOT NULL, PRIMARY KEY (rollout_id, device_id));"
     "CREATE INDEX rollout_devices_device ON rollout_devices(device_id, rollout_id);"),
    /* 8: heartbeats proven fresh by the server's challenge instead of
     * nonces kept forever: each device's one current challenge on its
     * row (NULL until its first heartbeat asks for one). */
    ("ALTER TABLE devices ADD COLUMN hb_challenge {blob};"
     "DROP TABLE heartbeat_nonces;"),
    /* 9: counters from the clock (store.h issue). counter_mark holds the
     * durable mark every counter issued so far lies below; it starts above
     * the counters already there. counter_floor (PostgreSQL: unlogged, so
     * crash recovery empties it) holds the mark read back after the last
     * crash, below which nothing is issued any more; SQLite keeps that in
     * memory from its open. */
    ("CREATE TABLE counter_mark (mark {int} NOT NULL);"
     "INSERT INTO counter_mark SELECT coalesce(max(counter), 0) + 1 FROM devices;"
     "CREATE {unlogged} TABLE counter_floor (floor_mark {int} NOT NULL);"),
    /* 10: a wave's pending devices found without reading the whole
     * rollout (checked at each heartbeat of one of its devices). */
    ("CREATE INDEX rollout_devices_wave ON rollout_devices(rollout_id, wave, state);"),
    /* 11: sessions found by (device_id, counter), whose index grows at
     * each device's end, instead of by the token's hash, whose index took
     * a random page at every setup. Sessions from before keep their hash
     * lookup (legacy, a partial index that new rows never touch). */
    ("CREATE TABLE sessions_v11 (token_hash {blob} NOT NULL,"
     "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     "  counter {int} NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'issued',"
     "  created_at {int} NOT NULL, online_at {int}, legacy {bool} NOT NULL DEFAULT {false});"
     "INSERT INTO sessions_v11 SELECT token_hash, device_id, counter, mode, state, created_at,"
     "  online_at, NOT {false} FROM sessions;"
     "DROP TABLE sessions;"
     "ALTER TABLE sessions_v11 RENAME TO sessions;"
     "CREATE UNIQUE INDEX sessions_device_counter ON sessions(device_id, counter);"
     "CREATE INDEX sessions_created ON sessions(created_at);"
     "CREATE INDEX sessions_legacy ON sessions(token_hash) WHERE legacy;"),
};

size_t owb_store_migrations(void)
{
    return sizeof migrations / sizeof migrations[0];
}

const char *owb_store_migration(size_t v)
{
    return v < owb_store_migrations() ? migrations[v] : NULL;
}

const struct owb_stmt_def owb_store_stmts[OWB_ST__SHARED] = {
    [OWB_ST_META_GET] = {"SELECT value FROM meta WHERE key = $1", "t"},
    [OWB_ST_META_PUT] = {"INSERT INTO meta(key, value) VALUES($1, $2) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         "tb"},
    [OWB_ST_DEV_GET] = {"SELECT " OWB_DEVICE_COLS " FROM devices WHERE id = $1", "t"},
    /* A page of a listing: $1 the last id of the page before ('' at
     * first), $2-$6 the filter (store.h owb_device_filter; NULL for a field
     * not set), $7 the page size. */
    [OWB_ST_DEV_LIST] = {"SELECT " OWB_DEVICE_COLS " FROM devices WHERE id > $1 "
                         "AND ($2 IS NULL OR network = $2 OR ($2 = '' AND network IS NULL)) "
                         "AND ($3 IS NULL OR suite = $3) AND ($4 IS NULL OR state = $4) "
                         "AND (NOT $5 OR EXISTS (SELECT 1 FROM claim_guard g "
                         "  WHERE g.device_id = devices.id AND g.next_at > $6)) "
                         "AND ($8 IS NULL OR ($8 = 'never' AND heard_at IS NULL) "
                         "  OR ($8 = 'online' AND heard_at >= $9) "
                         "  OR ($8 = 'stale' AND heard_at < $9)) "
                         "ORDER BY id LIMIT $7",
                         "ttttoiiti"},
    [OWB_ST_DEV_REMOVE] = {"DELETE FROM devices WHERE id = $1", "t"},
    [OWB_ST_DEV_ASSIGN] = {"UPDATE devices SET network = $2, updated_at = $3, row_mac = $4 "
                           "WHERE id = $1",
                           "ttib"},
    [OWB_ST_DEV_MAC] = {"UPDATE devices SET row_mac = $2 WHERE id = $1", "tb"},
    [OWB_ST_NET_EXISTS] = {"SELECT 1 FROM networks WHERE name = $1", "t"},
    [OWB_ST_NET_INSERT] = {"INSERT INTO networks(" OWB_NETWORK_COLS
                           ") VALUES($1, $2, $3, $4, $5, $6, $7)",
                           "tttboib"},
    [OWB_ST_NET_GET] = {"SELECT " OWB_NETWORK_COLS " FROM networks WHERE name = $1", "t"},
    [OWB_ST_NET_LIST] = {"SELECT " OWB_NETWORK_COLS " FROM networks ORDER BY name", ""},
    /* Not while a device is assigned to it (store.h network_remove). */
    [OWB_ST_NET_REMOVE] = {"DELETE FROM networks WHERE name = $1 "
                           "AND NOT EXISTS (SELECT 1 FROM devices WHERE network = $1)",
                           "t"},
    [OWB_ST_NET_MAC] = {"UPDATE networks SET row_mac = $2 WHERE name = $1", "tb"},
    [OWB_ST_TOK_INSERT] = {"INSERT INTO tokens(hash, label, created_at) VALUES($1, $2, $3) "
                           "RETURNING id",
                           "bti"},
    [OWB_ST_TOK_LIST] = {"SELECT " OWB_TOKEN_COLS " FROM tokens ORDER BY id", ""},
    /* The label first, then the id: one token at most, even when a label
     * from before reads as another token's id. */
    [OWB_ST_TOK_REVOKE] = {"UPDATE tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND id = "
                           "coalesce((SELECT id FROM tokens WHERE label = $1), "
                           "(SELECT id FROM tokens WHERE CAST(id AS TEXT) = $1))",
                           "ti"},
    /* $1 id, $2 now, $3 window, $4 max, $5 cap: see store.h claim_attempt. */
    [OWB_ST_CLAIM_ATTEMPT] =
        {"INSERT INTO claim_guard(device_id, attempts, window_start, next_at) VALUES($1, 1, $2, 0) "
         "ON CONFLICT(device_id) DO UPDATE SET "
         "attempts = CASE WHEN claim_guard.window_start <= $2 - $3 THEN 1 "
         "  ELSE claim_guard.attempts + 1 END, "
         "window_start = CASE WHEN claim_guard.window_start <= $2 - $3 THEN $2 "
         "  ELSE claim_guard.window_start END, "
         "next_at = CASE WHEN claim_guard.window_start > $2 - $3 AND claim_guard.attempts + 1 > $4 "
         "  THEN $2 + {least}($5, CAST(1 AS BIGINT) << "
         "    CAST({least}(claim_guard.attempts + 1 - $4, 20) AS INTEGER)) ELSE 0 END "
         "WHERE claim_guard.next_at <= $2 RETURNING attempts",
         "tiiii"},
    [OWB_ST_CLAIM_STATE] = {"SELECT CASE WHEN window_start > $2 THEN attempts ELSE 0 END, next_at "
                            "FROM claim_guard WHERE device_id = $1",
                            "ti"},
    [OWB_ST_CLAIM_CLEAR] = {"DELETE FROM claim_guard WHERE device_id = $1", "t"},
    [OWB_ST_SESSION_GET] = {"SELECT " OWB_SESSION_COLS " FROM sessions WHERE device_id = $1 "
                            "AND counter = $2 AND token_hash = $3",
                            "tib"},
    [OWB_ST_SESSION_GET_LEGACY] = {"SELECT " OWB_SESSION_COLS " FROM sessions "
                                   "WHERE token_hash = $1 AND legacy",
                                   "b"},
    /* A setup's reads in one (store.h setup_read): $1 the device, $2 the
     * claim window's start, $3 the token's hash (NULL: not asked), $4
     * whether the network is asked. Columns: the token (1 known and not
     * revoked, 0 revoked, NULL unknown), the claim guard, the device's,
     * the network's (NULL when not asked or none). */
    [OWB_ST_SETUP_READ] = {"SELECT (SELECT CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END "
                           "  FROM tokens WHERE hash = $3), "
                           "CASE WHEN g.window_start > $2 THEN g.attempts ELSE 0 END, g.next_at, "
                           "dv.*, nw.* "
                           "FROM (SELECT " OWB_DEVICE_COLS " FROM devices WHERE id = $1) dv "
                           "LEFT JOIN claim_guard g ON g.device_id = dv.id "
                           "LEFT JOIN (SELECT " OWB_NETWORK_COLS " FROM networks) nw "
                           "  ON $4 AND nw.name = dv.network",
                           "tibo"},
    [OWB_ST_SESSION_LIST] = {"SELECT " OWB_SESSION_COLS " FROM sessions WHERE device_id = $1 "
                             "ORDER BY counter DESC LIMIT $2",
                             "ti"},
    /* Pruning, a page at a time (store_ops.c owb_store_prune): the last
     * time of the next $3 rows from $1 up to the cutoff $2, then at most
     * $3 of the rows from $1 up to that time that may go. A device's
     * newest session holds its counter; a nonce stays as long as its
     * session does. */
    [OWB_ST_PRUNE_SESSIONS_END] = {"SELECT max(created_at) FROM (SELECT created_at FROM sessions "
                                   "WHERE created_at >= $1 AND created_at <= $2 "
                                   "ORDER BY created_at LIMIT $3) page",
                                   "iii"},
    [OWB_ST_PRUNE_SESSIONS] = {"DELETE FROM sessions WHERE (device_id, counter) IN (SELECT "
                               "s.device_id, s.counter "
                               "FROM sessions s WHERE s.created_at >= $1 AND s.created_at <= $2 "
                               "AND s.counter < (SELECT d.counter FROM devices d "
                               "WHERE d.id = s.device_id) LIMIT $3)",
                               "iii"},
    [OWB_ST_PRUNE_NONCES_END] = {"SELECT max(at) FROM (SELECT at FROM checkin_nonces "
                                 "WHERE at >= $1 AND at <= $2 ORDER BY at LIMIT $3) page",
                                 "iii"},
    [OWB_ST_PRUNE_NONCES] = {"DELETE FROM checkin_nonces WHERE (device_id, nonce) IN (SELECT "
                             "n.device_id, n.nonce FROM checkin_nonces n WHERE n.at >= $1 "
                             "AND n.at <= $2 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE "
                             "s.device_id = n.device_id AND s.counter = n.counter) LIMIT $3)",
                             "iii"},
    /* Heartbeats (store_fleet.c). */
    [OWB_ST_HB_COUNTER] = {"SELECT counter FROM devices WHERE id = $1", "t"},
    /* The device's current challenge; $2 becomes it when it has none. */
    [OWB_ST_HB_CHALLENGE] = {"UPDATE devices SET hb_challenge = coalesce(hb_challenge, $2) "
                             "WHERE id = $1 RETURNING hb_challenge",
                             "tb"},
    /* The compare-and-set on the challenge ($7 the one sent, $8 the next):
     * no row changed when another heartbeat took it first (on PostgreSQL
     * the second waits for the first's row lock, then finds $7 gone). */
    [OWB_ST_HB_DEVICE] = {"UPDATE devices SET heard_at = $2, heard_from = $3, hb_running = $4, "
                          "hb_held = $5, hb_reason = $6, hb_challenge = $8 "
                          "WHERE id = $1 AND hb_challenge = $7",
                          "titiitbb"},
    /* The device's rollout: its newest row that no later one superseded. */
    [OWB_ST_RO_FIND] = {"SELECT rd.rollout_id, rd.wave, rd.state, rd.counter, "
                        "coalesce(rd.issued_at, 0), coalesce(rd.reason, ''), r.state, r.wave "
                        "FROM rollout_devices rd JOIN rollouts r ON r.id = rd.rollout_id "
                        "WHERE rd.device_id = $1 AND rd.state <> 'superseded' "
                        "ORDER BY rd.rollout_id DESC LIMIT 1",
                        "t"},
    [OWB_ST_RO_MARK] = {"UPDATE rollout_devices SET state = $3, reason = $4, updated_at = $5 "
                        "WHERE rollout_id = $1 AND device_id = $2",
                        "ittti"},
    /* The next wave, once no device of this one is still pending, but for
     * devices silent since $4 when the wave has been out since then too
     * (updated_at: when it was released, paused or resumed). */
    [OWB_ST_RO_ADVANCE] = {"UPDATE rollouts SET wave = wave + 1, updated_at = $3 WHERE id = $1 "
                           "AND state = 'running' AND wave = $2 AND wave + 1 < waves "
                           "AND NOT EXISTS (SELECT 1 FROM rollout_devices rd JOIN devices d "
                           "  ON d.id = rd.device_id WHERE rd.rollout_id = $1 AND rd.wave = $2 "
                           "  AND rd.state = 'pending' AND (rollouts.updated_at > $4 "
                           "  OR coalesce(d.heard_at, 0) >= $4))",
                           "iiii"},
    [OWB_ST_RO_CLAIM] = {"UPDATE rollout_devices SET counter = $4, issued_at = $5, "
                         "updated_at = $5 WHERE rollout_id = $1 AND device_id = $2 "
                         "AND counter = $3 AND state = 'pending' AND EXISTS (SELECT 1 FROM "
                         "rollouts r WHERE r.id = $1 AND r.state = 'running' AND "
                         "rollout_devices.wave <= r.wave)",
                         "itiii"},
    [OWB_ST_RO_INSERT] = {"INSERT INTO rollouts(kind, network, state, wave, waves, batch, "
                          "created_at, updated_at) VALUES($1, $2, 'running', 0, $3, $4, $5, $5) "
                          "RETURNING id",
                          "ttiii"},
    [OWB_ST_RO_SUPERSEDE] = {"UPDATE rollout_devices SET state = 'superseded', updated_at = $2 "
                             "WHERE device_id = $1 AND state <> 'applied' "
                             "AND state <> 'superseded'",
                             "ti"},
    [OWB_ST_RO_MEMBER] = {"INSERT INTO rollout_devices(rollout_id, device_id, wave, state, "
                          "updated_at) VALUES($1, $2, $3, $4, $5)",
                          "ititi"},
    [OWB_ST_RO_GET] = {"SELECT " OWB_ROLLOUT_COLS " FROM rollouts WHERE id = $1", "i"},
    [OWB_ST_RO_LIST] = {"SELECT " OWB_ROLLOUT_COLS " FROM rollouts ORDER BY id DESC", ""},
    [OWB_ST_RO_MEMBERS] = {"SELECT " OWB_MEMBER_COLS " FROM rollout_devices rd "
                           "JOIN devices d ON d.id = rd.device_id WHERE rd.rollout_id = $1 "
                           "ORDER BY rd.device_id",
                           "i"},
    /* $2: the states it may leave, comma-separated. */
    [OWB_ST_RO_SET_STATE] = {"UPDATE rollouts SET state = $3, updated_at = $4 WHERE id = $1 "
                             "AND (',' || $2 || ',') LIKE ('%,' || state || ',%')",
                             "itti"},
    [OWB_ST_FLEET_COUNTS] = {"SELECT count(CASE WHEN heard_at >= $1 THEN 1 END), "
                             "count(CASE WHEN heard_at < $1 THEN 1 END), "
                             "count(CASE WHEN heard_at IS NULL THEN 1 END) FROM devices",
                             "i"},
    /* The parameters of NET_INSERT; created_at ($6) stays. */
    [OWB_ST_NET_UPDATE] = {"UPDATE networks SET ssid = $2, security = $3, sealed_psk = $4, "
                           "hidden = $5, row_mac = $7 WHERE name = $1 AND created_at = $6",
                           "tttboib"},
    /* Counters (store.h issue, checkin). */
    [OWB_ST_DEV_COUNTER] = {"SELECT counter FROM devices WHERE id = $1", "t"},
    [OWB_ST_MARK_GET] = {"SELECT mark FROM counter_mark", ""},
    [OWB_ST_MARK_RAISE] = {"UPDATE counter_mark SET mark = $1 WHERE mark < $1", "i"},
    /* PostgreSQL's floor (SQLite reads its floor from the mark at open). */
    [OWB_ST_FLOOR_RAISE] = {"UPDATE counter_floor SET floor_mark = $1 WHERE floor_mark < $1", "i"},
    /* A counter the server may have issued: above the device's (the rows
     * of a lost transaction are lost together), below the durable mark. */
    [OWB_ST_RECOVER_DEVICE] = {"UPDATE devices SET counter = $2 WHERE id = $1 AND counter < $2 "
                               "AND $2 < (SELECT mark FROM counter_mark)",
                               "ti"},
    [OWB_ST_RECOVER_SESSION] = {"INSERT INTO sessions(token_hash, device_id, counter, mode, "
                                "created_at) VALUES($1, $2, $3, 'recovered', $4)",
                                "btii"},
};

/* Writes the expansion to out (when not NULL); returns its length. */
static size_t expand(const struct owb_store_dialect *d, const char *t, char *out)
{
    const struct {
        const char *token, *word;
    } words[] = {
        {"{blob}", d->blob},       {"{int}", d->bigint},        {"{bool}", d->boolean},
        {"{false}", d->false_lit}, {"{serial}", d->serial_pk},  {"{norowid}", d->no_rowid},
        {"{least}", d->least},     {"{unlogged}", d->unlogged},
    };
    size_t o = 0;

    while (*t) {
        const char *word = NULL;
        size_t skip = 1;
        for (size_t i = 0; *t == '{' && i < sizeof words / sizeof words[0]; i++) {
            if (strncmp(t, words[i].token, strlen(words[i].token)) == 0) {
                word = words[i].word;
                skip = strlen(words[i].token);
                break;
            }
        }
        if (word) {
            if (out)
                memcpy(out + o, word, strlen(word));
            o += strlen(word);
        } else {
            if (out)
                out[o] = *t == '$' && t[1] >= '0' && t[1] <= '9' ? d->param : *t;
            o++;
        }
        t += skip;
    }
    return o;
}

char *owb_store_sql_expand(const struct owb_store_dialect *d, const char *tmpl)
{
    size_t n = expand(d, tmpl, NULL);
    char *out = malloc(n + 1);

    if (out) {
        expand(d, tmpl, out);
        out[n] = '\0';
    }
    return out;
}
