/* The storage interface (server/store.h), every operation called directly,
 * not through HTTP. Compiled twice: test_store against a SQLite file in a
 * temporary directory, test_store_pg (OWB_TEST_PG) against a PostgreSQL
 * server the test starts itself. The assertions are the same, so both
 * backends answer alike, the rule for a row they cannot read included.
 * Each test gets a fresh database. */
#include "test_support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef OWB_TEST_PG
#include <libpq-fe.h>

#include "pg.h"
#else
#include <sqlite3.h>

#include "durable_vfs.h"
#endif

#include "owb/err.h"
#include "store.h"
#include "store_i.h"

static struct {
    char *dir;
    char db[512];
    int seq;
    struct owb_store *s;
#ifdef OWB_TEST_PG
    struct t_pg pg;
#endif
} F;

#define OPS (F.s->ops)
/* An array of MACs as device_assign takes it. */
#define MACS(m) ((const uint8_t(*)[OWB_ROW_MAC_BYTES])(m))

/* Each tag's last session (issue_at), for session_of. */
static struct owb_session_key issued[256];

/* F.db names a database of its own, still empty. */
static void new_database(void)
{
    F.seq++;
#ifdef OWB_TEST_PG
    char sql[64];
    snprintf(sql, sizeof sql, "CREATE DATABASE owb_t%d", F.seq);
    t_pg_exec(&F.pg, sql);
    snprintf(F.db, sizeof F.db, "postgresql://postgres@127.0.0.1:%u/owb_t%d", F.pg.port, F.seq);
#else
    snprintf(F.db, sizeof F.db, "%s/t%d.db", F.dir, F.seq);
#endif
}

static int setup(void **state)
{
    struct owb_store_config cfg = {.connections = 2, .busy_ms = 2000, .create = true};
    char diag[256];

    (void)state;
    memset(issued, 0, sizeof issued);
    new_database();
    cfg.path = F.db;
    if (owb_store_open(&cfg, &F.s, diag) != OWB_OK) {
        print_error("open %s: %s\n", F.db, diag);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.s)
        F.s->ops->close(F.s);
    F.s = NULL;
    return 0;
}

/* Changes the database behind the store's back, as someone with write
 * access to it and no master key could. */
static void raw_sql(const char *sql)
{
#ifdef OWB_TEST_PG
    PGconn *pg = PQconnectdb(F.db);
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
#else
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(F.db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
#endif
}

/* A session hash or a nonce: 16 or 32 bytes of one value. */
static const uint8_t *fill(uint8_t *buf, size_t n, uint8_t v)
{
    memset(buf, v, n);
    return buf;
}

/* The key of id's session under counter whose secret hashes to h. */
static const struct owb_session_key *skey(struct owb_session_key *k, const char *id,
                                          uint64_t counter, const uint8_t *h)
{
    memset(k, 0, sizeof *k);
    snprintf(k->device_id, sizeof k->device_id, "%s", id);
    k->counter = counter;
    memcpy(k->hash, h, OWB_HASH_BYTES);
    return k;
}

/* A device as an import brings it: sym with a claim, or pk without. */
static struct owb_import_item item(const char *id, enum owb_suite suite, uint8_t fp)
{
    struct owb_import_item it = {.suite = suite};

    snprintf(it.id, sizeof it.id, "%s", id);
    memset(it.key_fp, fp, sizeof it.key_fp);
    memset(it.row_mac, 0x4d, sizeof it.row_mac);
    if (suite == OWB_SUITE_PK) {
        memset(it.public_key, 0x50, sizeof it.public_key);
        it.sealed_ap.len = 60;
        memset(it.sealed_ap.bytes, 0x41, it.sealed_ap.len);
    } else {
        it.sealed_key.len = 72;
        memset(it.sealed_key.bytes, 0x4b, it.sealed_key.len);
        it.has_claim = true;
        memset(it.claim_hash, 0x43, sizeof it.claim_hash);
    }
    return it;
}

/* One import of n items, ended with commit; the outcome of the batch. */
static enum owb_err import(const struct owb_import_item *items, size_t n,
                           struct owb_import_result *res)
{
    struct owb_import *imp = NULL;
    enum owb_err rc;

    memset(res, 0, sizeof *res);
    assert_int_equal(OPS->import_begin(F.s, &imp), OWB_OK);
    rc = OPS->import_add(imp, items, n, res);
    assert_int_equal(OPS->import_end(imp, rc == OWB_OK), OWB_OK);
    return rc;
}

static void import_ok(const struct owb_import_item *items, size_t n)
{
    struct owb_import_result res;
    assert_int_equal(import(items, n, &res), OWB_OK);
}

static void add_network(const char *name, enum owb_security sec)
{
    struct owb_network_row row = {.security = sec, .created_at = 1700000000};

    snprintf(row.name, sizeof row.name, "%s", name);
    snprintf(row.ssid, sizeof row.ssid, "ssid of %s", name);
    if (sec != OWB_SEC_OPEN) {
        row.sealed_psk.len = 64;
        memset(row.sealed_psk.bytes, 0x53, row.sealed_psk.len);
    }
    memset(row.row_mac, 0x6e, sizeof row.row_mac);
    assert_int_equal(OPS->network_add(F.s, &row), OWB_OK);
}

/* Whether a setup's read takes the token with hash h (dev-t, made here
 * when missing, is the device it reads). */
static enum owb_err token_check(const uint8_t *h)
{
    struct owb_setup_read rd;
    enum owb_err rc = OPS->setup_read(F.s, "dev-t", 0, h, &rd);

    if (rc == OWB_ERR_NOENT) {
        struct owb_import_item it = item("dev-t", OWB_SUITE_SYM, 0x74);
        import_ok(&it, 1);
        rc = OPS->setup_read(F.s, "dev-t", 0, h, &rd);
    }
    assert_int_equal(rc, OWB_OK);
    return rd.token_ok ? OWB_OK : OWB_ERR_UNAUTHORIZED;
}

/* What a listing handed over, one name a line. */
struct seen {
    char names[1024];
    int n;
};

static void see(struct seen *s, const char *name)
{
    size_t o = strlen(s->names);
    snprintf(s->names + o, sizeof s->names - o, "%s\n", name);
    s->n++;
}

static void see_device(void *ctx, const struct owb_device_row *row)
{
    see(ctx, row->id);
}

static void see_network(void *ctx, const struct owb_network_row *row)
{
    see(ctx, row->name);
}

static void see_token(void *ctx, const struct owb_token_row *row)
{
    char line[128];
    snprintf(line, sizeof line, "%lld %s %s", (long long)row->id, row->label,
             row->revoked_at ? "revoked" : "valid");
    see(ctx, line);
}

static void test_meta(void **state)
{
    uint8_t val[8];
    size_t len = 99;

    (void)state;
    assert_int_equal(OPS->meta_get(F.s, "k", val, sizeof val, &len), OWB_ERR_NOENT);
    assert_int_equal(len, 0);
    assert_int_equal(OPS->meta_put(F.s, "k", (const uint8_t *)"\x00\x01\x02", 3), OWB_OK);
    assert_int_equal(OPS->meta_get(F.s, "k", val, sizeof val, &len), OWB_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "\x00\x01\x02", 3);
    /* A second put replaces the value. */
    assert_int_equal(OPS->meta_put(F.s, "k", (const uint8_t *)"0123456789", 10), OWB_OK);
    assert_int_equal(OPS->meta_get(F.s, "k", val, sizeof val, &len), OWB_ERR_SPACE);
    assert_int_equal(len, 0);
    uint8_t big[16];
    assert_int_equal(OPS->meta_get(F.s, "k", big, sizeof big, &len), OWB_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(big, "0123456789", 10);
}

static void test_import(void **state)
{
    struct owb_import_item items[3] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_PK, 2),
                                       item("dev-a", OWB_SUITE_SYM, 1)};
    struct owb_import_result res;
    struct owb_device_row d;

    (void)state;
    /* A repeat inside one batch is unchanged, as one from before. */
    assert_int_equal(import(items, 3, &res), OWB_OK);
    assert_int_equal(res.added, 2);
    assert_int_equal(res.unchanged, 1);

    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_string_equal(d.id, "dev-a");
    assert_int_equal(d.suite, OWB_SUITE_SYM);
    assert_int_equal(d.sealed_key.len, 72);
    assert_memory_equal(d.sealed_key.bytes, items[0].sealed_key.bytes, 72);
    assert_true(d.has_claim);
    assert_memory_equal(d.claim_hash, items[0].claim_hash, OWB_HASH_BYTES);
    assert_int_equal(d.sealed_ap.len, 0);
    assert_int_equal(d.counter, 0);
    assert_string_equal(d.network, "");
    assert_string_equal(d.state, "new");
    assert_true(d.created_at > 0);
    assert_int_equal(d.online_at, 0);
    assert_true(d.has_mac);
    assert_memory_equal(d.row_mac, items[0].row_mac, OWB_ROW_MAC_BYTES);

    assert_int_equal(OPS->device_get(F.s, "dev-b", &d), OWB_OK);
    assert_int_equal(d.suite, OWB_SUITE_PK);
    assert_int_equal(d.sealed_key.len, 0);
    assert_false(d.has_claim);
    assert_memory_equal(d.public_key, items[1].public_key, 32);
    assert_int_equal(d.sealed_ap.len, 60);
    assert_memory_equal(d.sealed_ap.bytes, items[1].sealed_ap.bytes, 60);

    /* Imported again: nothing new. */
    assert_int_equal(import(items, 2, &res), OWB_OK);
    assert_int_equal(res.added, 0);
    assert_int_equal(res.unchanged, 2);
}

static void test_import_conflict_and_rollback(void **state)
{
    struct owb_import_item first = item("dev-a", OWB_SUITE_SYM, 1);
    struct owb_import_item batch[2] = {item("dev-new", OWB_SUITE_SYM, 3),
                                       item("dev-a", OWB_SUITE_SYM, 9)};
    struct owb_import_item twice[2] = {item("dev-x", OWB_SUITE_SYM, 4),
                                       item("dev-x", OWB_SUITE_SYM, 5)};
    struct owb_import_result res;
    struct owb_import *imp = NULL;
    struct owb_device_row d;

    (void)state;
    import_ok(&first, 1);
    /* Another key under a known id fails the batch and names the id;
     * nothing of the batch stays. */
    assert_int_equal(import(batch, 2, &res), OWB_ERR_CONFLICT);
    assert_string_equal(res.conflict_id, "dev-a");
    assert_int_equal(OPS->device_get(F.s, "dev-new", &d), OWB_ERR_NOENT);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_memory_equal(d.row_mac, first.row_mac, OWB_ROW_MAC_BYTES);
    /* Two keys for one id inside a batch. */
    assert_int_equal(import(twice, 2, &res), OWB_ERR_CONFLICT);
    assert_string_equal(res.conflict_id, "dev-x");
    /* Ended without commit: nothing is visible. */
    assert_int_equal(OPS->import_begin(F.s, &imp), OWB_OK);
    memset(&res, 0, sizeof res);
    assert_int_equal(OPS->import_add(imp, batch, 1, &res), OWB_OK);
    assert_int_equal(res.added, 1);
    assert_int_equal(OPS->import_end(imp, false), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-new", &d), OWB_ERR_NOENT);
    assert_int_equal(OPS->import_end(NULL, true), OWB_OK);
}

static void test_device_list_remove(void **state)
{
    struct owb_import_item items[3] = {item("dev-c", OWB_SUITE_SYM, 1),
                                       item("dev-a", OWB_SUITE_PK, 2),
                                       item("dev-b", OWB_SUITE_SYM, 3)};
    struct seen seen = {0};
    struct owb_device_row d;

    (void)state;
    import_ok(items, 3);
    assert_int_equal(OPS->device_list(F.s, see_device, &seen), OWB_OK);
    assert_string_equal(seen.names, "dev-a\ndev-b\ndev-c\n");
    assert_int_equal(OPS->device_remove(F.s, "dev-b"), OWB_OK);
    assert_int_equal(OPS->device_remove(F.s, "dev-b"), OWB_ERR_NOENT);
    assert_int_equal(OPS->device_get(F.s, "dev-b", &d), OWB_ERR_NOENT);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(OPS->device_list(F.s, see_device, &seen), OWB_OK);
    assert_string_equal(seen.names, "dev-a\ndev-c\n");
}

static void test_device_assign(void **state)
{
    struct owb_import_item items[2] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_PK, 2)};
    const char *both[] = {"dev-a", "dev-b"}, *one_missing[] = {"dev-a", "dev-zz"};
    uint8_t macs[2][OWB_ROW_MAC_BYTES];
    char missing[OWB_NETWORK_NAME_MAX + 1];
    struct owb_device_row d;

    (void)state;
    import_ok(items, 2);
    add_network("office", OWB_SEC_WPA2_PSK);
    add_network("lab", OWB_SEC_WPA3_SAE);
    memset(macs[0], 0xa0, sizeof macs[0]);
    memset(macs[1], 0xa1, sizeof macs[1]);
    assert_int_equal(OPS->device_assign(F.s, both, 2, "office", MACS(macs), missing), OWB_OK);
    assert_string_equal(missing, "");
    assert_int_equal(OPS->device_get(F.s, "dev-b", &d), OWB_OK);
    assert_string_equal(d.network, "office");
    assert_memory_equal(d.row_mac, macs[1], OWB_ROW_MAC_BYTES);
    /* All or none: one unknown id changes nothing and is named. */
    memset(macs[0], 0xb0, sizeof macs[0]);
    assert_int_equal(OPS->device_assign(F.s, one_missing, 2, "lab", MACS(macs), missing),
                     OWB_ERR_NOENT);
    assert_string_equal(missing, "dev-zz");
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_string_equal(d.network, "office");
    assert_memory_not_equal(d.row_mac, macs[0], OWB_ROW_MAC_BYTES);
    /* An unknown network is named. */
    assert_int_equal(OPS->device_assign(F.s, both, 2, "nowhere", MACS(macs), missing),
                     OWB_ERR_NOENT);
    assert_string_equal(missing, "nowhere");
    /* No network: unassigned. */
    assert_int_equal(OPS->device_assign(F.s, both, 1, NULL, MACS(macs), missing), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_string_equal(d.network, "");
    assert_memory_equal(d.row_mac, macs[0], OWB_ROW_MAC_BYTES);
    /* A network is not removed while a device is assigned to it (its row
     * MAC covers the network: the caller clears it first, with a new MAC);
     * then it is, and an unknown one is NOENT. */
    assert_int_equal(OPS->network_remove(F.s, "office"), OWB_ERR_EXISTS);
    assert_int_equal(OPS->device_get(F.s, "dev-b", &d), OWB_OK);
    assert_string_equal(d.network, "office");
    assert_int_equal(OPS->device_assign(F.s, both + 1, 1, NULL, MACS(macs), missing), OWB_OK);
    assert_int_equal(OPS->network_remove(F.s, "office"), OWB_OK);
    assert_int_equal(OPS->network_remove(F.s, "office"), OWB_ERR_NOENT);
}

static void test_row_mac_put(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint8_t mac[OWB_ROW_MAC_BYTES];
    struct owb_device_row d;
    struct owb_network_row n;

    (void)state;
    import_ok(&it, 1);
    add_network("office", OWB_SEC_OPEN);
    memset(mac, 0xee, sizeof mac);
    assert_int_equal(OPS->row_mac_put(F.s, "devices", "dev-a", mac), OWB_OK);
    assert_int_equal(OPS->row_mac_put(F.s, "networks", "office", mac), OWB_OK);
    assert_int_equal(OPS->row_mac_put(F.s, "devices", "dev-zz", mac), OWB_ERR_NOENT);
    assert_int_equal(OPS->row_mac_put(F.s, "networks", "nowhere", mac), OWB_ERR_NOENT);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_memory_equal(d.row_mac, mac, sizeof mac);
    assert_int_equal(OPS->network_get(F.s, "office", &n), OWB_OK);
    assert_memory_equal(n.row_mac, mac, sizeof mac);
    /* A row from before row MACs has none. */
    raw_sql("UPDATE devices SET row_mac = NULL");
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_false(d.has_mac);
}

static void test_network(void **state)
{
    struct owb_network_row n, dup = {.security = OWB_SEC_OPEN};
    struct seen seen = {0};

    (void)state;
    add_network("office", OWB_SEC_WPA2_PSK);
    add_network("guest", OWB_SEC_OPEN);
    assert_int_equal(OPS->network_get(F.s, "office", &n), OWB_OK);
    assert_string_equal(n.name, "office");
    assert_string_equal(n.ssid, "ssid of office");
    assert_int_equal(n.security, OWB_SEC_WPA2_PSK);
    assert_int_equal(n.sealed_psk.len, 64);
    assert_false(n.hidden);
    assert_int_equal(n.created_at, 1700000000);
    assert_true(n.has_mac);
    assert_int_equal(OPS->network_get(F.s, "guest", &n), OWB_OK);
    assert_int_equal(n.security, OWB_SEC_OPEN);
    assert_int_equal(n.sealed_psk.len, 0);
    /* A hidden one, and a duplicate name. */
    snprintf(dup.name, sizeof dup.name, "hidden");
    snprintf(dup.ssid, sizeof dup.ssid, "x");
    dup.hidden = true;
    assert_int_equal(OPS->network_add(F.s, &dup), OWB_OK);
    assert_int_equal(OPS->network_get(F.s, "hidden", &n), OWB_OK);
    assert_true(n.hidden);
    assert_int_equal(OPS->network_add(F.s, &dup), OWB_ERR_EXISTS);
    assert_int_equal(OPS->network_list(F.s, see_network, &seen), OWB_OK);
    assert_string_equal(seen.names, "guest\nhidden\noffice\n");
    assert_int_equal(OPS->network_remove(F.s, "guest"), OWB_OK);
    assert_int_equal(OPS->network_remove(F.s, "guest"), OWB_ERR_NOENT);
    assert_int_equal(OPS->network_get(F.s, "guest", &n), OWB_ERR_NOENT);
}

static void test_token(void **state)
{
    uint8_t h1[OWB_HASH_BYTES], h2[OWB_HASH_BYTES], h3[OWB_HASH_BYTES];
    int64_t id1 = 0, id2 = 0, id3 = 0, none = 99;
    size_t count = 99;
    char id_text[24], want[128];
    struct seen seen = {0};

    (void)state;
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    memset(h3, 3, sizeof h3);
    assert_int_equal(OPS->token_add(F.s, h1, "installer-1", 100, &id1), OWB_OK);
    assert_int_equal(OPS->token_add(F.s, h2, "installer-2", 200, &id2), OWB_OK);
    assert_true(id1 > 0);
    assert_true(id2 > id1);
    assert_int_equal(OPS->token_add(F.s, h1, "again", 300, &none), OWB_ERR_EXISTS);
    assert_int_equal(none, 0);
    assert_int_equal(token_check(h1), OWB_OK);
    assert_int_equal(token_check(h3), OWB_ERR_UNAUTHORIZED);
    /* By label, then by numeric id; a second revoke finds nothing. */
    assert_int_equal(OPS->token_revoke(F.s, "installer-1", 400, &count), OWB_OK);
    assert_int_equal(count, 1);
    assert_int_equal(token_check(h1), OWB_ERR_UNAUTHORIZED);
    snprintf(id_text, sizeof id_text, "%lld", (long long)id2);
    assert_int_equal(OPS->token_revoke(F.s, id_text, 500, &count), OWB_OK);
    assert_int_equal(count, 1);
    assert_int_equal(OPS->token_revoke(F.s, id_text, 600, &count), OWB_OK);
    assert_int_equal(count, 0);
    assert_int_equal(token_check(h2), OWB_ERR_UNAUTHORIZED);
    assert_int_equal(OPS->token_add(F.s, h3, "installer-3", 700, &id3), OWB_OK);
    assert_int_equal(OPS->token_list(F.s, see_token, &seen), OWB_OK);
    snprintf(want, sizeof want,
             "%lld installer-1 revoked\n%lld installer-2 revoked\n%lld "
             "installer-3 valid\n",
             (long long)id1, (long long)id2, (long long)id3);
    assert_string_equal(seen.names, want);
}

/* Labels are unique: a second token with one is refused, and revoking
 * by a text revokes one token at most, the one labelled so before the one
 * with that id. */
static void test_token_label_unique(void **state)
{
    uint8_t h[4][OWB_HASH_BYTES];
    int64_t id[4] = {0};
    size_t count = 99;
    char id_text[24];

    (void)state;
    for (int i = 0; i < 4; i++)
        memset(h[i], 0x10 + i, sizeof h[i]);
    assert_int_equal(OPS->token_add(F.s, h[0], "alice", 100, &id[0]), OWB_OK);
    assert_int_equal(OPS->token_add(F.s, h[1], "alice", 100, &id[1]), OWB_ERR_EXISTS);
    assert_int_equal(id[1], 0);
    /* A label that reads as the first token's id. */
    snprintf(id_text, sizeof id_text, "%lld", (long long)id[0]);
    assert_int_equal(OPS->token_add(F.s, h[2], id_text, 100, &id[2]), OWB_OK);
    assert_int_equal(OPS->token_revoke(F.s, id_text, 200, &count), OWB_OK);
    assert_int_equal(count, 1);
    assert_int_equal(token_check(h[0]), OWB_OK);
    assert_int_equal(token_check(h[2]), OWB_ERR_UNAUTHORIZED);
    /* That one revoked, the text still names it, not the other. */
    assert_int_equal(OPS->token_revoke(F.s, id_text, 300, &count), OWB_OK);
    assert_int_equal(count, 0);
    assert_int_equal(token_check(h[0]), OWB_OK);
    assert_int_equal(OPS->token_revoke(F.s, "alice", 400, &count), OWB_OK);
    assert_int_equal(count, 1);
    assert_int_equal(token_check(h[0]), OWB_ERR_UNAUTHORIZED);
}

/* The migration that made labels unique, on a database from before that
 * holds the same label three times (the longest a label can be, too):
 * the oldest keeps it, the others become "L (id N)", and every row still
 * reads. Applied by hand, as its own step, whatever its number. */
static void test_token_label_migration(void **state)
{
    char longest[OWB_LABEL_MAX + 1], want[1024];
    uint8_t h[5][OWB_HASH_BYTES];
    int64_t id[5] = {0};
    const char *sql = NULL;
    struct seen seen = {0};

    (void)state;
    for (size_t v = 0; v < owb_store_migrations(); v++)
        if (strstr(owb_store_migration(v), "CREATE UNIQUE INDEX tokens_label"))
            sql = owb_store_migration(v);
    assert_non_null(sql);
    raw_sql("DROP INDEX tokens_label");
    memset(longest, 'x', OWB_LABEL_MAX);
    longest[OWB_LABEL_MAX] = '\0';
    for (int i = 0; i < 5; i++) {
        memset(h[i], 0x20 + i, sizeof h[i]);
        assert_int_equal(OPS->token_add(F.s, h[i], i < 3 ? "dup" : longest, 100, &id[i]), OWB_OK);
    }
#ifdef OWB_TEST_PG
    char *expanded = owb_store_sql_expand(&owb_dialect_pg, sql);
#else
    char *expanded = owb_store_sql_expand(&owb_dialect_sqlite, sql);
#endif
    assert_non_null(expanded);
    raw_sql(expanded);
    free(expanded);
    assert_int_equal(OPS->token_list(F.s, see_token, &seen), OWB_OK);
    snprintf(want, sizeof want,
             "%lld dup valid\n%lld dup (id %lld) valid\n%lld dup (id %lld) valid\n"
             "%lld %s valid\n%lld %s (id %lld) valid\n",
             (long long)id[0], (long long)id[1], (long long)id[1], (long long)id[2],
             (long long)id[2], (long long)id[3], longest, (long long)id[4], longest,
             (long long)id[4]);
    assert_string_equal(seen.names, want);
    assert_int_equal(OPS->token_add(F.s, h[0], "dup", 100, &id[0]), OWB_ERR_EXISTS);
}

/* A heartbeat of dev-a saying it runs `running` and holds `held`, with
 * challenge c, next n: the store's answer, and the challenge it gives back
 * in cur. */
static enum owb_err hb_counters(uint8_t c, uint8_t n, int64_t now, uint64_t running, uint64_t held,
                                uint8_t cur[16])
{
    uint8_t sent[16], next[16];
    struct owb_rollout_due due;
    const struct owb_hb_in in = {.id = "dev-a",
                                 .running = running,
                                 .held = held,
                                 .reason = held > running ? "network_not_found" : "",
                                 .challenge = memset(sent, c, sizeof sent),
                                 .next = memset(next, n, sizeof next),
                                 .from = "127.0.0.1",
                                 .now = now};

    return OPS->heartbeat(F.s, &in, cur, &due);
}

/* A heartbeat of dev-a with challenge c, next n: the store's answer, and
 * the challenge it gives back in cur. */
static enum owb_err hb_at(uint8_t c, uint8_t n, int64_t now, uint8_t cur[16])
{
    uint8_t sent[16], next[16];
    struct owb_rollout_due due;
    const struct owb_hb_in in = {.id = "dev-a",
                                 .reason = "",
                                 .challenge = memset(sent, c, sizeof sent),
                                 .next = memset(next, n, sizeof next),
                                 .from = "127.0.0.1",
                                 .now = now};

    return OPS->heartbeat(F.s, &in, cur, &due);
}

/* hb_at answers want, and gives back a challenge of bytes `current`. */
static void hb_expect(uint8_t c, uint8_t n, int64_t now, enum owb_err want, uint8_t current)
{
    uint8_t cur[16], expect[16];

    assert_int_equal(hb_at(c, n, now, cur), want);
    assert_memory_equal(cur, memset(expect, current, sizeof expect), sizeof expect);
}

/* One challenge per device: a device without one (every device after
 * migration 8) is given one and nothing is recorded; a failed attempt
 * never rotates it; the current one is taken once. The nonce table is
 * gone (made again here, which fails while it exists). */
static void test_heartbeat_challenge(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    struct owb_device_row row;

    (void)state;
    import_ok(&it, 1);
    hb_expect(0, 1, 100, OWB_ERR_STALE_CHALLENGE, 1);
    hb_expect(0, 2, 101, OWB_ERR_STALE_CHALLENGE, 1);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &row), OWB_OK);
    assert_int_equal(row.heard_at, 0);
    hb_expect(1, 3, 102, OWB_OK, 3);
    hb_expect(1, 4, 103, OWB_ERR_STALE_CHALLENGE, 3);
    hb_expect(9, 5, 104, OWB_ERR_STALE_CHALLENGE, 3);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &row), OWB_OK);
    assert_int_equal(row.heard_at, 102);
    hb_expect(3, 6, 105, OWB_OK, 6);
    raw_sql("CREATE TABLE heartbeat_nonces (x INTEGER)");
}

/* The claim guard as claim_state reads it, and a setup's read agreeing. */
static enum owb_err claim_state(int64_t since, unsigned *attempts, int64_t *next)
{
    struct owb_setup_read rd;
    enum owb_err rc = OPS->claim_state(F.s, "dev-a", since, attempts, next);

    assert_int_equal(OPS->setup_read(F.s, "dev-a", since, NULL, &rd), OWB_OK);
    assert_int_equal(rd.claim_attempts, *attempts);
    assert_int_equal(rd.claim_next_at, *next);
    return rc;
}

/* A wrong claim at now: its outcome, the count and the retry time. */
static enum owb_err claim(int64_t now, unsigned *attempts, int64_t *retry_at)
{
    return OPS->claim_attempt(F.s, "dev-a", now, 600, 3, 60, attempts, retry_at);
}

static void test_claim(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    unsigned attempts = 0;
    int64_t at = 0, next = 0;

    (void)state;
    import_ok(&it, 1);
    assert_int_equal(claim_state(0, &attempts, &next), OWB_OK);
    assert_int_equal(attempts, 0);
    assert_int_equal(next, 0);
    /* The first three in the window pass; the fourth passes and starts a
     * delay of 2 s, doubling with each one after. */
    for (unsigned i = 1; i <= 4; i++) {
        assert_int_equal(claim(1000, &attempts, &at), OWB_OK);
        assert_int_equal(attempts, i);
    }
    assert_int_equal(claim(1001, &attempts, &at), OWB_ERR_LOCKED);
    assert_int_equal(attempts, 4);
    assert_int_equal(at, 1002);
    assert_int_equal(claim(1002, &attempts, &at), OWB_OK);
    assert_int_equal(attempts, 5);
    assert_int_equal(claim_state(1002 - 600, &attempts, &next), OWB_OK);
    assert_int_equal(attempts, 5);
    assert_int_equal(next, 1006);
    assert_int_equal(claim(1006, &attempts, &at), OWB_OK);
    assert_int_equal(claim_state(1006 - 600, &attempts, &next), OWB_OK);
    assert_int_equal(next, 1014);
    /* Doubling on, up to the cap. */
    const int64_t delays[] = {16, 32, 60, 60};
    int64_t now = 1014;
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        assert_int_equal(claim(now, &attempts, &at), OWB_OK);
        assert_int_equal(attempts, 7 + i);
        assert_int_equal(claim_state(now - 600, &attempts, &next), OWB_OK);
        assert_int_equal(next - now, delays[i]);
        now = next;
    }
    /* A new window starts the count again; so does a reset. */
    assert_int_equal(claim(now + 600, &attempts, &at), OWB_OK);
    assert_int_equal(attempts, 1);
    assert_int_equal(claim(now + 600, &attempts, &at), OWB_OK);
    assert_int_equal(OPS->claim_reset(F.s, "dev-a"), OWB_OK);
    assert_int_equal(claim_state(0, &attempts, &next), OWB_OK);
    assert_int_equal(attempts, 0);
    assert_int_equal(OPS->claim_reset(F.s, "dev-zz"), OWB_OK);
    /* A claim on a device that is not there. */
    assert_int_equal(OPS->claim_attempt(F.s, "dev-zz", 1000, 600, 3, 60, &attempts, &at),
                     OWB_ERR_NOENT);
}

static void test_issue_session_checkin(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint8_t s1[OWB_HASH_BYTES], s2[OWB_HASH_BYTES], s3[OWB_HASH_BYTES], n1[16], n2[16], n3[16];
    uint64_t counter = 99, c1, c2;
    struct owb_session_key k;
    struct owb_session_row sr;
    struct owb_device_row d;

    (void)state;
    import_ok(&it, 1);
    memset(s1, 0x11, sizeof s1);
    memset(s2, 0x22, sizeof s2);
    memset(n1, 0x01, sizeof n1);
    memset(n2, 0x02, sizeof n2);
    assert_int_equal(OPS->issue(F.s, "dev-zz", s1, "server-sealed", 5000, &counter), OWB_ERR_NOENT);
    assert_int_equal(counter, 0);
    assert_int_equal(OPS->issue(F.s, "dev-a", s1, "server-sealed", 5000, &c1), OWB_OK);
    assert_int_equal(OPS->issue(F.s, "dev-a", s2, "app-sealed", 5001, &c2), OWB_OK);
    assert_true(c2 > c1);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.counter, c2);
    assert_string_equal(d.state, "issued");
    assert_int_equal(OPS->session_get(F.s, skey(&k, "dev-a", c2, s2), &sr), OWB_OK);
    assert_string_equal(sr.device_id, "dev-a");
    assert_int_equal(sr.counter, c2);
    assert_string_equal(sr.mode, "app-sealed");
    assert_string_equal(sr.state, "issued");
    assert_int_equal(sr.created_at, 5001);
    assert_int_equal(sr.online_at, 0);
    /* The right device and counter with another secret's hash; the right
     * hash under another counter; the hash alone (a legacy lookup). */
    memset(s3, 0x33, sizeof s3);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "dev-a", c2, s3), &sr), OWB_ERR_NOENT);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "dev-a", c1, s2), &sr), OWB_ERR_NOENT);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, s2), &sr), OWB_ERR_NOENT);

    /* No session with that counter (below the device's: not one a power
     * cut lost); then online; then the same nonce. */
    assert_int_equal(OPS->checkin(F.s, "dev-a", c1 - 1, n1, 6000), OWB_ERR_CONFLICT);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c1, n1, 6000), OWB_OK);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "dev-a", c1, s1), &sr), OWB_OK);
    assert_string_equal(sr.state, "online");
    assert_int_equal(sr.online_at, 6000);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_string_equal(d.state, "online");
    assert_int_equal(d.online_at, 6000);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c1, n1, 6001), OWB_ERR_REPLAYED);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c2, n1, 6001), OWB_ERR_REPLAYED);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c2, n2, 6002), OWB_OK);
    /* Check-ins of an online session again: the session keeps the time it
     * first came online, the device takes the latest (the same second
     * twice, then a later one). */
    assert_int_equal(OPS->checkin(F.s, "dev-a", c1, fill(n3, sizeof n3, 0x03), 6002), OWB_OK);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c1, fill(n3, sizeof n3, 0x04), 6003), OWB_OK);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "dev-a", c1, s1), &sr), OWB_OK);
    assert_int_equal(sr.online_at, 6000);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.online_at, 6003);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c2, fill(n3, sizeof n3, 0x05), 6002), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.online_at, 6002);
    /* A later issue keeps an online device online. */
    assert_int_equal(OPS->issue(F.s, "dev-a", s2, "server-sealed", 7000, &counter), OWB_OK);
    assert_true(counter > c2);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_string_equal(d.state, "online");
    assert_int_equal(d.online_at, 6002);
}

static void see_session(void *ctx, const struct owb_session_row *row)
{
    char line[128];
    snprintf(line, sizeof line, "%s %llu %s %s %lld %lld", row->device_id,
             (unsigned long long)row->counter, row->mode, row->state, (long long)row->created_at,
             (long long)row->online_at);
    see(ctx, line);
}

/* A device's sessions, newest first, at most the limit; not another's. */
static void test_session_list(void **state)
{
    struct owb_import_item items[2] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_SYM, 2)};
    uint8_t hash[OWB_HASH_BYTES], nonce[16];
    uint64_t c[8];
    char want[512];
    struct seen seen = {0};

    (void)state;
    import_ok(items, 2);
    for (int i = 0; i < 7; i++) {
        memset(hash, 0x60 + i, sizeof hash);
        assert_int_equal(
            OPS->issue(F.s, "dev-a", hash, i % 2 ? "app-sealed" : "server-sealed", 1000 + i, &c[i]),
            OWB_OK);
    }
    memset(hash, 0x7f, sizeof hash);
    assert_int_equal(OPS->issue(F.s, "dev-b", hash, "server-sealed", 2000, &c[7]), OWB_OK);
    memset(nonce, 1, sizeof nonce);
    assert_int_equal(OPS->checkin(F.s, "dev-a", c[5], nonce, 3000), OWB_OK);
    assert_int_equal(OPS->session_list(F.s, "dev-a", 5, see_session, &seen), OWB_OK);
    snprintf(want, sizeof want,
             "dev-a %llu server-sealed issued 1006 0\n"
             "dev-a %llu app-sealed online 1005 3000\n"
             "dev-a %llu server-sealed issued 1004 0\n"
             "dev-a %llu app-sealed issued 1003 0\n"
             "dev-a %llu server-sealed issued 1002 0\n",
             (unsigned long long)c[6], (unsigned long long)c[5], (unsigned long long)c[4],
             (unsigned long long)c[3], (unsigned long long)c[2]);
    assert_string_equal(seen.names, want);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(OPS->session_list(F.s, "dev-b", 5, see_session, &seen), OWB_OK);
    snprintf(want, sizeof want, "dev-b %llu server-sealed issued 2000 0\n",
             (unsigned long long)c[7]);
    assert_string_equal(seen.names, want);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(OPS->session_list(F.s, "dev-zz", 5, see_session, &seen), OWB_OK);
    assert_int_equal(seen.n, 0);
}

/* What a device_find handed over: how many, the first and last ids, and
 * whether they came in id order. */
struct found {
    size_t n;
    char first[OWB_DEVICE_ID_SIZE], last[OWB_DEVICE_ID_SIZE];
    bool ordered;
};

static void see_found(void *ctx, const struct owb_device_row *row)
{
    struct found *f = ctx;
    if (f->n == 0) {
        snprintf(f->first, sizeof f->first, "%s", row->id);
        f->ordered = true;
    } else if (strcmp(f->last, row->id) >= 0) {
        f->ordered = false;
    }
    snprintf(f->last, sizeof f->last, "%s", row->id);
    f->n++;
}

static enum owb_err find(const struct owb_device_filter *flt, struct found *f)
{
    memset(f, 0, sizeof *f);
    return OPS->device_find(F.s, flt, see_found, f);
}

/* Filters, alone and together, over more devices than one page holds
 * (pages of 1000): each device once, in id order, a row that reads as
 * invalid at a page's end passed over and named at the end. */
static void test_device_find(void **state)
{
    enum { N = 2500 };
    struct owb_import_item *items = calloc(N, sizeof *items);
    const char *some[] = {"d-0001", "d-0002", "d-0003"};
    uint8_t macs[3][OWB_ROW_MAC_BYTES] = {{0}}, hash[OWB_HASH_BYTES], nonce[16] = {0};
    char missing[OWB_NETWORK_NAME_MAX + 1];
    unsigned attempts;
    int64_t at;
    uint64_t counter;
    struct found f;

    (void)state;
    assert_non_null(items);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "d-%04d", i);
        items[i] = item(id, i % 10 == 0 ? OWB_SUITE_PK : OWB_SUITE_SYM, (uint8_t)i);
    }
    import_ok(items, N);
    free(items);
    add_network("office", OWB_SEC_WPA2_PSK);
    assert_int_equal(OPS->device_assign(F.s, some, 3, "office", MACS(macs), missing), OWB_OK);
    memset(hash, 1, sizeof hash);
    assert_int_equal(OPS->issue(F.s, "d-0001", hash, "server-sealed", 10, &counter), OWB_OK);
    memset(hash, 2, sizeof hash);
    assert_int_equal(OPS->issue(F.s, "d-0002", hash, "server-sealed", 10, &counter), OWB_OK);
    assert_int_equal(OPS->checkin(F.s, "d-0002", counter, nonce, 20), OWB_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(OPS->claim_attempt(F.s, "d-2000", 100, 600, 3, 60, &attempts, &at),
                         OWB_OK);

    assert_int_equal(find(&(struct owb_device_filter){0}, &f), OWB_OK);
    assert_int_equal(f.n, N);
    assert_true(f.ordered);
    assert_string_equal(f.first, "d-0000");
    assert_string_equal(f.last, "d-2499");
    assert_int_equal(find(&(struct owb_device_filter){.suite = "pk"}, &f), OWB_OK);
    assert_int_equal(f.n, N / 10);
    assert_true(f.ordered);
    assert_string_equal(f.last, "d-2490");
    assert_int_equal(find(&(struct owb_device_filter){.network = "office"}, &f), OWB_OK);
    assert_int_equal(f.n, 3);
    assert_int_equal(find(&(struct owb_device_filter){.network = ""}, &f), OWB_OK);
    assert_int_equal(f.n, N - 3);
    assert_int_equal(find(&(struct owb_device_filter){.network = "office", .state = "new"}, &f),
                     OWB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.first, "d-0003");
    assert_int_equal(find(&(struct owb_device_filter){.state = "issued"}, &f), OWB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.first, "d-0001");
    assert_int_equal(find(&(struct owb_device_filter){.state = "online", .suite = "sym"}, &f),
                     OWB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.first, "d-0002");
    assert_int_equal(find(&(struct owb_device_filter){.state = "new"}, &f), OWB_OK);
    assert_int_equal(f.n, N - 2);
    /* Slowed down from 100 until 102: locked at 101, no longer at 102. */
    assert_int_equal(find(&(struct owb_device_filter){.locked = true, .now = 101}, &f), OWB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.first, "d-2000");
    assert_int_equal(find(&(struct owb_device_filter){.locked = true, .now = 102}, &f), OWB_OK);
    assert_int_equal(f.n, 0);

    /* The last row of the first page reads as invalid: the listing goes on
     * past it and says so at its end. */
    raw_sql("UPDATE devices SET suite = 'quantum' WHERE id = 'd-0999'");
    assert_int_equal(find(&(struct owb_device_filter){0}, &f), OWB_ERR_TAMPERED);
    assert_int_equal(f.n, N - 1);
    assert_string_equal(f.last, "d-2499");
}

/* Issues a bundle to id at now under the session hash of tag; its counter. */
static uint64_t issue_at(const char *id, uint8_t tag, int64_t now)
{
    uint8_t h[OWB_HASH_BYTES];
    uint64_t counter = 0;

    assert_int_equal(OPS->issue(F.s, id, fill(h, sizeof h, tag), "server-sealed", now, &counter),
                     OWB_OK);
    skey(&issued[tag], id, counter, h);
    return counter;
}

static enum owb_err session_of(uint8_t tag)
{
    struct owb_session_row sr;
    assert_true(issued[tag].device_id[0] != '\0');
    return OPS->session_get(F.s, &issued[tag], &sr);
}

static enum owb_err checkin_at(const char *id, uint64_t counter, uint8_t nonce, int64_t now)
{
    uint8_t n[16];
    return OPS->checkin(F.s, id, counter, fill(n, sizeof n, nonce), now);
}

/* Migration 11 on a database of version 10 whose sessions were issued
 * the old way (the token's hash their only key): each is still found by
 * its hash alone, a new session is found only by device, counter and hash
 * (not by its hash alone), and pruning still takes the old ones. */
static void test_session_migration(void **state)
{
    struct owb_store_config cfg = {.connections = 2, .busy_ms = 2000};
    struct owb_session_key k;
    struct owb_session_row sr;
    struct owb_prune_result res;
    uint8_t h[OWB_HASH_BYTES];
    char diag[256];
    size_t v11 = 0;
#ifdef OWB_TEST_PG
    const struct owb_store_dialect *d = &owb_dialect_pg;
#define VERSION_TABLE "owb_schema"
#else
    const struct owb_store_dialect *d = &owb_dialect_sqlite;
#define VERSION_TABLE "schema_version"
#endif
    char sql[256];

    (void)state;
    while (!strstr(owb_store_migration(v11), "sessions_v11"))
        v11++;
    F.s->ops->close(F.s);
    F.s = NULL;
    new_database();
    for (size_t v = 0; v <= v11; v++) {
        char *x = owb_store_sql_expand(
            d, v < v11 ? owb_store_migration(v)
                       /* dev-a with sessions under counters 1 and 2, hashes "A..." and "B...". */
                       : "INSERT INTO devices(id, sealed_key, key_fp, counter, state, created_at, "
                         "updated_at) VALUES('dev-a', CAST('k' AS {blob}), CAST('f' AS {blob}), "
                         "2, 'issued', 10, 10);"
                         "INSERT INTO sessions(token_hash, device_id, counter, mode, created_at) "
                         "VALUES(CAST('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' AS {blob}), 'dev-a', 1, "
                         "'app-sealed', 10), (CAST('BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' AS {blob}), "
                         "'dev-a', 2, 'app-sealed', 11)");
        assert_non_null(x);
        raw_sql(x);
        free(x);
    }
    snprintf(sql, sizeof sql,
             "CREATE TABLE " VERSION_TABLE " (version INTEGER NOT NULL);"
             "INSERT INTO " VERSION_TABLE " VALUES (%zu)",
             v11);
    raw_sql(sql);
    cfg.path = F.db;
    assert_int_equal(owb_store_open(&cfg, &F.s, diag), OWB_OK);

    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, fill(h, sizeof h, 'A')), &sr), OWB_OK);
    assert_string_equal(sr.device_id, "dev-a");
    assert_int_equal(sr.counter, 1);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, fill(h, sizeof h, 'B')), &sr), OWB_OK);
    assert_int_equal(sr.counter, 2);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, fill(h, sizeof h, 'C')), &sr),
                     OWB_ERR_NOENT);
    uint64_t c3 = issue_at("dev-a", 'C', 20);
    assert_true(c3 > 2);
    assert_int_equal(session_of('C'), OWB_OK);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, fill(h, sizeof h, 'C')), &sr),
                     OWB_ERR_NOENT);
    /* The old sessions go (dev-a's newest is now C's); C stays. */
    assert_int_equal(OPS->prune(F.s, 15, 100, &res), OWB_OK);
    assert_int_equal(res.sessions, 2);
    assert_int_equal(OPS->session_get(F.s, skey(&k, "", 0, fill(h, sizeof h, 'A')), &sr),
                     OWB_ERR_NOENT);
    assert_int_equal(session_of('C'), OWB_OK);
}

/* One pass, its counts checked; the transactions it took. */
static unsigned prune_expect(int64_t cutoff, unsigned batch, uint64_t sessions, uint64_t nonces)
{
    struct owb_prune_result res;

    assert_int_equal(OPS->prune(F.s, cutoff, batch, &res), OWB_OK);
    assert_int_equal(res.sessions, sessions);
    assert_int_equal(res.nonces, nonces);
    assert_false(res.skipped);
    return res.batches;
}

/* Pruning keeps what an answer needs: each device's newest session however
 * old, the sessions after the cutoff, the nonces of every session kept. A
 * check-in for a kept session works and its replay is refused; one for a
 * removed session is a conflict; the counter goes on from where it was. */
static void test_prune(void **state)
{
    struct owb_import_item items[3] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_SYM, 2),
                                       item("dev-c", OWB_SUITE_SYM, 3)};
    struct owb_device_row d;
    uint64_t a1, a2, a3, a4, b1, b2, c = 0;

    (void)state;
    import_ok(items, 3);
    a1 = issue_at("dev-a", 0xa1, 1000);
    a2 = issue_at("dev-a", 0xa2, 1001);
    a3 = issue_at("dev-a", 0xa3, 5000);
    assert_true(a1 < a2 && a2 < a3);
    assert_int_equal(checkin_at("dev-a", a1, 0x01, 1002), OWB_OK);
    assert_int_equal(checkin_at("dev-a", a2, 0x02, 1003), OWB_OK);
    assert_int_equal(checkin_at("dev-a", a3, 0x03, 5001), OWB_OK);
    b1 = issue_at("dev-b", 0xb1, 900);
    /* Ten sessions of dev-c in one second and ten in the next, in pages of
     * three: a second's rows go over several transactions, and the walk
     * moves on past the one that must stay. */
    for (int i = 0; i < 20; i++) {
        uint64_t next = issue_at("dev-c", (uint8_t)(0xc0 + i), 2000 + i / 10);
        assert_true(next > c);
        c = next;
    }

    /* Nothing is older than 899. */
    prune_expect(899, 3, 0, 0);
    /* Transactions of three at most: 900-1001 (two go), then the 19 of
     * 2000-2001 in seven, then none; nonces: one, then none. */
    assert_int_equal(prune_expect(4000, 3, 2 + 19, 2), 1 + 7 + 1 + 2);
    assert_int_equal(session_of(0xa1), OWB_ERR_NOENT);
    assert_int_equal(session_of(0xa2), OWB_ERR_NOENT);
    assert_int_equal(session_of(0xa3), OWB_OK);
    assert_int_equal(session_of(0xb1), OWB_OK); /* old, but dev-b's newest */
    assert_int_equal(session_of(0xd3), OWB_OK); /* dev-c's newest */
    assert_int_equal(session_of(0xd2), OWB_ERR_NOENT);
    /* A removed session's counter is a conflict, whatever the nonce. */
    assert_int_equal(checkin_at("dev-a", a1, 0x01, 6000), OWB_ERR_CONFLICT);
    assert_int_equal(checkin_at("dev-a", a2, 0x09, 6000), OWB_ERR_CONFLICT);
    /* A kept session's nonce is kept: its replay is refused. */
    assert_int_equal(checkin_at("dev-a", a3, 0x03, 6000), OWB_ERR_REPLAYED);
    assert_int_equal(checkin_at("dev-b", b1, 0x04, 6000), OWB_OK);
    assert_int_equal(checkin_at("dev-b", b1, 0x04, 6001), OWB_ERR_REPLAYED);
    /* The counter never goes back. */
    a4 = issue_at("dev-a", 0xa4, 7000);
    assert_true(a4 > a3);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.counter, a4);
    assert_string_equal(d.state, "online");
    /* Again: nothing more goes. */
    prune_expect(4000, 3, 0, 0);
    /* The cutoff is inclusive: session 3 of dev-a (5000) goes at 5000, its
     * nonce (5001) only once it is as old. */
    prune_expect(5000, 100, 1, 0);
    assert_int_equal(session_of(0xa3), OWB_ERR_NOENT);
    prune_expect(5001, 100, 0, 1);
    assert_int_equal(checkin_at("dev-a", a3, 0x03, 8000), OWB_ERR_CONFLICT);
    /* dev-b's nonce stays while its session does, its newest until a
     * later setup; then both go. */
    prune_expect(9000, 100, 0, 0);
    b2 = issue_at("dev-b", 0xb2, 9500);
    assert_true(b2 > b1);
    prune_expect(9000, 100, 1, 1);
    assert_int_equal(checkin_at("dev-b", b1, 0x04, 9600), OWB_ERR_CONFLICT);
    assert_int_equal(checkin_at("dev-b", b2, 0x04, 9600), OWB_OK);
}

/* --- counters (store.h issue, docs/protocol.md "Counters") --- */

/* The store closed and opened again on path, as a restarted server does. */
static void reopen(const char *path)
{
    struct owb_store_config cfg = {.connections = 2, .busy_ms = 2000, .path = path};
    char diag[256];

    if (F.s)
        F.s->ops->close(F.s);
    F.s = NULL;
    if (owb_store_open(&cfg, &F.s, diag) != OWB_OK)
        fail_msg("reopen %s: %s", path, diag);
}

/* What a power cut that lost the tail after counter `kept` leaves of a
 * device, as SQL on the closed database: the counter and the sessions
 * after it gone (PostgreSQL: crash recovery also empties the unlogged
 * counter_floor). The store is opened again on it. */
static void lose_tail(const char *id, uint64_t kept)
{
    char sql[256];

    F.s->ops->close(F.s);
    F.s = NULL;
    snprintf(sql, sizeof sql,
             "UPDATE devices SET counter = %llu WHERE id = '%s'; "
             "DELETE FROM sessions WHERE device_id = '%s' AND counter > %llu",
             (unsigned long long)kept, id, id, (unsigned long long)kept);
    raw_sql(sql);
#ifdef OWB_TEST_PG
    raw_sql("TRUNCATE counter_floor");
#endif
    reopen(F.db);
}

/* A counter is at least the clock in microseconds and below 2^53, and
 * strictly above the last; a device with a small counter from before
 * jumps to the clock. */
static void test_counter_rule(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint64_t last = 0;
    int64_t before;

    (void)state;
    import_ok(&it, 1);
    raw_sql("UPDATE devices SET counter = 3 WHERE id = 'dev-a'");
    before = owb_store_now_us();
    for (int i = 0; i < 20; i++) {
        uint64_t c = issue_at("dev-a", (uint8_t)i, 1000);
        assert_true(c > last);
        assert_true(c >= (uint64_t)before);
        assert_true(c < (uint64_t)OWB_COUNTER_LIMIT);
        last = c;
    }
}

/* The clock stepped back by a second, an hour, a year, while serving and
 * then across a crash that lost the tail: never a counter issued before,
 * strictly increasing. Then forward by a year and back. Fails on a store
 * that counts by one (the lost tail is issued again). */
static void test_counter_clock_steps(void **state)
{
#ifdef OWB_TEST_HOOKS
    const int64_t steps[] = {1000000LL, 3600LL * 1000000, 366LL * 86400 * 1000000};
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint64_t last = 0, kept;

    (void)state;
    import_ok(&it, 1);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        owb_store_test_clock_skew(0);
        uint8_t tag = (uint8_t)(k * 0x40);
        kept = issue_at("dev-a", tag, 1000);
        assert_true(kept > last);
        for (int i = 0; i < 5; i++)
            last = issue_at("dev-a", (uint8_t)(tag + 1 + i), 1000);
        owb_store_test_clock_skew(-steps[k]);
        for (int i = 0; i < 5; i++) {
            uint64_t c = issue_at("dev-a", (uint8_t)(tag + 0x10 + i), 1000);
            assert_true(c > last);
            last = c;
        }
        lose_tail("dev-a", kept);
        for (int i = 0; i < 5; i++) {
            uint64_t c = issue_at("dev-a", (uint8_t)(tag + 0x20 + i), 1000);
            if (c <= last)
                fail_msg("clock back %lld us, tail lost: counter %llu after %llu",
                         (long long)steps[k], (unsigned long long)c, (unsigned long long)last);
            last = c;
        }
    }
    owb_store_test_clock_skew(steps[2]);
    last = issue_at("dev-a", 0xf0, 1000);
    owb_store_test_clock_skew(0);
    lose_tail("dev-a", last - 1);
    assert_true(issue_at("dev-a", 0xf1, 1000) > last);
    owb_store_test_clock_skew(0);
#else
    (void)state;
    skip();
#endif
}

/* A check-in naming a counter whose session a power cut lost: its proof
 * was checked by the route, so the session is recorded again and the
 * check-in accepted, once; its replay is refused. A counter the server
 * cannot have issued (at or below the device's, at or above the durable
 * mark) stays a conflict. Fails where the check-in needs the row. */
static void test_checkin_lost_session(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint64_t c1, c2, c3;
    struct owb_device_row d;
    struct seen seen = {0};
    char want[128];

    (void)state;
    import_ok(&it, 1);
    c1 = issue_at("dev-a", 0x01, 1000);
    c2 = issue_at("dev-a", 0x02, 1001);
    lose_tail("dev-a", c1);
    assert_int_equal(session_of(0x02), OWB_ERR_NOENT);
    assert_int_equal(checkin_at("dev-a", c1 - 1, 0x09, 2000), OWB_ERR_CONFLICT);
    assert_int_equal(checkin_at("dev-a", (uint64_t)OWB_COUNTER_LIMIT - 1, 0x09, 2000),
                     OWB_ERR_CONFLICT);
    /* The lost counter with a nonce c1's check-in used: the session is
     * recovered, then the nonce refused. SQLite undoes the recovery with
     * the check-in (a batch job that failed after it changed rows runs
     * again under its own savepoint); PostgreSQL committed it apart. */
    assert_int_equal(checkin_at("dev-a", c1, 0x06, 2000), OWB_OK);
    assert_int_equal(checkin_at("dev-a", c2, 0x06, 2000), OWB_ERR_REPLAYED);
#ifndef OWB_TEST_PG
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.counter, c1);
#endif
    assert_int_equal(checkin_at("dev-a", c2, 0x07, 2000), OWB_OK);
    assert_int_equal(checkin_at("dev-a", c2, 0x07, 2001), OWB_ERR_REPLAYED);
    assert_int_equal(checkin_at("dev-a", c2, 0x08, 2002), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.counter, c2);
    assert_string_equal(d.state, "online");
    assert_int_equal(OPS->session_list(F.s, "dev-a", 1, see_session, &seen), OWB_OK);
    snprintf(want, sizeof want, "dev-a %llu recovered online 2000 2000\n", (unsigned long long)c2);
    assert_string_equal(seen.names, want);
    c3 = issue_at("dev-a", 0x03, 3000);
    assert_true(c3 > c2);
}

/* A heartbeat that holds a counter a power cut took from the record: the
 * device's proof holds (the route checked it), the counter lies below the
 * durable mark, so the record is raised to it; above the mark it is a
 * conflict. */
static void test_heartbeat_after_power_cut(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    struct owb_device_row d;
    uint8_t cur[16];
    uint64_t c1, c2;

    (void)state;
    import_ok(&it, 1);
    c1 = issue_at("dev-a", 0x01, 1000);
    c2 = issue_at("dev-a", 0x02, 1001);
    lose_tail("dev-a", c1);
    assert_int_equal(hb_counters(0, 1, 2000, c1, (uint64_t)OWB_COUNTER_LIMIT - 1, cur),
                     OWB_ERR_CONFLICT);
    assert_int_equal(hb_counters(0, 1, 2000, c1, c2, cur), OWB_ERR_STALE_CHALLENGE);
    assert_int_equal(hb_counters(1, 2, 2001, c1, c2, cur), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_int_equal(d.counter, c2);
    assert_true(issue_at("dev-a", 0x03, 3000) > c2);
}

/* No counter at or above 2^53: the last one below is issued, then the
 * store refuses. */
static void test_counter_limit(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    uint8_t h[OWB_HASH_BYTES];
    uint64_t c = 0;

    (void)state;
    import_ok(&it, 1);
    raw_sql("UPDATE devices SET counter = 9007199254740989 WHERE id = 'dev-a'");
    raw_sql("UPDATE counter_mark SET mark = 9007199254740990");
    reopen(F.db);
    assert_int_equal(issue_at("dev-a", 0x01, 1000), 9007199254740990ULL);
    assert_int_equal(issue_at("dev-a", 0x02, 1000), 9007199254740991ULL);
    assert_int_equal(OPS->issue(F.s, "dev-a", fill(h, sizeof h, 0x03), "server-sealed", 1000, &c),
                     OWB_ERR_INTERNAL);
    assert_int_equal(c, 0);
}

#ifndef OWB_TEST_PG
/* A power cut on SQLite: the database and its WAL as the disk holds them
 * (durable_vfs.h: only what was synced), opened again. Setups were not
 * waited to disk, so some are lost; every counter issued after is above
 * every one issued before, and the lost one's check-in is accepted.
 * Fails on a store that counts by one. */
static void test_counter_power_cut(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    char cut[600];
    uint64_t last = 0;
    struct owb_device_row d;
    sqlite3 *db = NULL;

    (void)state;
    F.s->ops->close(F.s);
    F.s = NULL;
    t_durable_on();
    reopen(F.db);
    import_ok(&it, 1);
    /* The import made durable, as a checkpoint does. */
    assert_int_equal(sqlite3_open(F.db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(FULL)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    for (int i = 0; i < 30; i++) {
        uint64_t c = issue_at("dev-a", (uint8_t)i, 1000);
        assert_true(c > last);
        last = c;
    }
    snprintf(cut, sizeof cut, "%s.cut", F.db);
    t_durable_cut(F.db, cut);
    F.s->ops->close(F.s);
    F.s = NULL;
    t_durable_off();

    reopen(cut);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    print_message("power cut: issued up to %llu, the disk holds %llu\n", (unsigned long long)last,
                  (unsigned long long)d.counter);
    assert_true(d.counter < last); /* the tail was lost: the test means something */
    assert_int_equal(checkin_at("dev-a", last, 0x01, 2000), OWB_OK);
    assert_int_equal(checkin_at("dev-a", last, 0x01, 2001), OWB_ERR_REPLAYED);
    for (int i = 0; i < 30; i++) {
        uint64_t c = issue_at("dev-a", (uint8_t)(0x40 + i), 1000);
        if (c <= last)
            fail_msg("after the power cut: counter %llu, %llu was issued before",
                     (unsigned long long)c, (unsigned long long)last);
        last = c;
    }
}
#endif

/* Another process pruning (PostgreSQL: it holds the advisory lock) or
 * holding the write lock (SQLite: an import): this pass leaves it the
 * work and removes nothing, and does not wait out the busy timeout. */
static void test_prune_elsewhere(void **state)
{
    struct owb_import_item it = item("dev-a", OWB_SUITE_SYM, 1);
    struct owb_prune_result res;

    (void)state;
    import_ok(&it, 1);
    issue_at("dev-a", 0xa1, 1000);
    issue_at("dev-a", 0xa2, 1001);
#ifdef OWB_TEST_PG
    PGconn *other = PQconnectdb(F.db);
    PGresult *r = PQexec(other, "BEGIN; SELECT pg_advisory_xact_lock(1870029362)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
#else
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(F.db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
#endif
    assert_int_equal(OPS->prune(F.s, 5000, 100, &res), OWB_OK);
    assert_true(res.skipped);
    assert_int_equal(res.sessions + res.nonces, 0);
    assert_int_equal(session_of(0xa1), OWB_OK);
#ifdef OWB_TEST_PG
    PQclear(PQexec(other, "COMMIT"));
    PQfinish(other);
#else
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
#endif
    prune_expect(5000, 100, 1, 0);
}

/* The rule for a stored value this server never writes: never a guess.
 * The row reads as invalid (OWB_ERR_TAMPERED, nothing of it filled in),
 * a listing leaves it out and says so, and it can still be removed. */
/* A setup's one read: the device with its claim guard, and only when a
 * token is asked for, the token and the device's network, whose row is
 * judged apart from the device's. */
static void test_setup_read(void **state)
{
    struct owb_import_item items[2] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_PK, 2)};
    const char *a[] = {"dev-a"};
    uint8_t macs[1][OWB_ROW_MAC_BYTES] = {{0}};
    uint8_t tok[OWB_HASH_BYTES], other[OWB_HASH_BYTES];
    struct owb_setup_read rd;
    struct owb_device_row d;
    unsigned attempts = 0;
    int64_t id = 0, at = 0;
    size_t count = 0;
    char missing[OWB_DEVICE_ID_SIZE];

    (void)state;
    memset(tok, 0x21, sizeof tok);
    memset(other, 0x22, sizeof other);
    import_ok(items, 2);
    add_network("office", OWB_SEC_WPA2_PSK);
    assert_int_equal(OPS->device_assign(F.s, a, 1, "office", MACS(macs), missing), OWB_OK);
    assert_int_equal(OPS->token_add(F.s, tok, "installer", 100, &id), OWB_OK);

    assert_int_equal(OPS->setup_read(F.s, "dev-zz", 0, tok, &rd), OWB_ERR_NOENT);
    /* Without a token: the device as device_get reads it, no network. */
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 0, NULL, &rd), OWB_OK);
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_OK);
    assert_memory_equal(&rd.dev, &d, sizeof d);
    assert_false(rd.token_ok);
    assert_int_equal(rd.net_rc, OWB_ERR_NOENT);
    assert_int_equal(rd.claim_attempts, 0);
    /* With one: the token, and the network as network_get reads it. */
    assert_int_equal(OPS->claim_attempt(F.s, "dev-a", 1000, 600, 3, 60, &attempts, &at), OWB_OK);
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 500, tok, &rd), OWB_OK);
    assert_true(rd.token_ok);
    assert_int_equal(rd.claim_attempts, 1);
    assert_int_equal(rd.net_rc, OWB_OK);
    assert_string_equal(rd.net.name, "office");
    assert_string_equal(rd.net.ssid, "ssid of office");
    assert_int_equal(rd.net.security, OWB_SEC_WPA2_PSK);
    assert_int_equal(rd.net.sealed_psk.len, 64);
    assert_true(rd.net.has_mac);
    /* Outside the claim window the count reads 0. */
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 1000, tok, &rd), OWB_OK);
    assert_int_equal(rd.claim_attempts, 0);
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 0, other, &rd), OWB_OK);
    assert_false(rd.token_ok);
    /* A device without a network. */
    assert_int_equal(OPS->setup_read(F.s, "dev-b", 0, tok, &rd), OWB_OK);
    assert_true(rd.token_ok);
    assert_int_equal(rd.dev.suite, OWB_SUITE_PK);
    assert_int_equal(rd.net_rc, OWB_ERR_NOENT);
    /* A revoked token; a network row this server never wrote fails the
     * network alone; a device row so fails the read. */
    assert_int_equal(OPS->token_revoke(F.s, "installer", 200, &count), OWB_OK);
    raw_sql("UPDATE networks SET security = 'wpa9-future' WHERE name = 'office'");
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 0, tok, &rd), OWB_OK);
    assert_false(rd.token_ok);
    assert_string_equal(rd.dev.id, "dev-a");
    assert_int_equal(rd.net_rc, OWB_ERR_TAMPERED);
    assert_string_equal(rd.net.name, "");
    raw_sql("UPDATE devices SET suite = 'quantum' WHERE id = 'dev-b'");
    assert_int_equal(OPS->setup_read(F.s, "dev-b", 0, tok, &rd), OWB_ERR_TAMPERED);
    assert_string_equal(rd.dev.id, "");
}

/* A setup's read and issue in one (PostgreSQL's setup_issue): issued
 * only when the setup would pass, and then read as setup_read reads;
 * turned down with nothing written otherwise. SQLite has none. */
static enum owb_err setup_issue(const char *id, const uint8_t *claim, const uint8_t *token,
                                uint8_t tag, struct owb_setup_read *rd, uint64_t *counter)
{
    uint8_t h[OWB_HASH_BYTES];
    struct owb_setup_ask ask = {id,
                                claim,
                                400,
                                1000,
                                token,
                                fill(h, sizeof h, tag),
                                token ? "server-sealed" : "app-sealed"};

    return OPS->setup_issue(F.s, &ask, rd, counter);
}

static uint64_t counter_of(const char *id)
{
    struct owb_device_row d;

    assert_int_equal(OPS->device_get(F.s, id, &d), OWB_OK);
    return d.counter;
}

static void test_setup_issue(void **state)
{
    struct owb_import_item items[2] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_PK, 2)};
    const char *a[] = {"dev-a"};
    uint8_t macs[1][OWB_ROW_MAC_BYTES] = {{0}};
    uint8_t tok[OWB_HASH_BYTES], other[OWB_HASH_BYTES], claim[OWB_CLAIM_HASH_BYTES],
        wrong[OWB_CLAIM_HASH_BYTES];
    struct owb_session_key key = {.device_id = "dev-a"};
    struct owb_session_row sr;
    struct owb_setup_read rd, want;
    unsigned attempts = 0;
    int64_t id = 0, at = 0;
    uint64_t c = 0, last;
    size_t count = 0;
    char missing[OWB_DEVICE_ID_SIZE];
    struct seen seen = {0};

    (void)state;
#ifndef OWB_TEST_PG
    assert_null(OPS->setup_issue);
    return;
#endif
    fill(tok, sizeof tok, 0x21);
    fill(other, sizeof other, 0x22);
    fill(claim, sizeof claim, 0x43);
    fill(wrong, sizeof wrong, 0x44);
    import_ok(items, 2);
    add_network("office", OWB_SEC_WPA2_PSK);
    assert_int_equal(OPS->device_assign(F.s, a, 1, "office", MACS(macs), missing), OWB_OK);
    assert_int_equal(OPS->token_add(F.s, tok, "installer", 100, &id), OWB_OK);
    last = issue_at("dev-a", 0x01, 900);

    /* Server-sealed, all right: the counter issued and its session
     * recorded, the rows read as setup_read reads them (the device as the
     * issue left it). */
    assert_int_equal(setup_issue("dev-a", claim, tok, 0x31, &rd, &c), OWB_OK);
    assert_int_equal(OPS->setup_read(F.s, "dev-a", 400, tok, &want), OWB_OK);
    assert_memory_equal(&rd.dev, &want.dev, sizeof want.dev);
    assert_string_equal(rd.dev.state, "issued");
    assert_memory_equal(&rd.net, &want.net, sizeof want.net);
    assert_true(rd.token_ok);
    assert_int_equal(rd.net_rc, OWB_OK);
    assert_int_equal(rd.claim_attempts, 0);
    assert_true(c > last);
    assert_int_equal(counter_of("dev-a"), c);
    key.counter = c;
    fill(key.hash, sizeof key.hash, 0x31);
    assert_int_equal(OPS->session_get(F.s, &key, &sr), OWB_OK);
    assert_string_equal(sr.mode, "server-sealed");
    assert_int_equal(sr.created_at, 1000);
    last = c;

    /* Turned down, nothing written: a wrong or missing claim, an unknown
     * or revoked token (below), a device without a network, none at all. */
    assert_int_equal(setup_issue("dev-a", wrong, tok, 0x32, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(c, 0);
    assert_int_equal(setup_issue("dev-a", NULL, NULL, 0x32, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(setup_issue("dev-a", claim, other, 0x32, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(setup_issue("dev-b", NULL, tok, 0x32, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(setup_issue("dev-zz", NULL, NULL, 0x32, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(counter_of("dev-a"), last);
    assert_int_equal(OPS->session_list(F.s, "dev-a", 10, see_session, &seen), OWB_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(OPS->session_list(F.s, "dev-b", 10, see_session, &seen), OWB_OK);
    assert_int_equal(seen.n, 2);

    /* A device with no claim, app-sealed: no token, no network read. */
    assert_int_equal(setup_issue("dev-b", NULL, NULL, 0x33, &rd, &c), OWB_OK);
    assert_int_equal(rd.dev.suite, OWB_SUITE_PK);
    assert_int_equal(rd.net_rc, OWB_ERR_NOENT);
    assert_false(rd.token_ok);

    /* A wrong claim counted in the window turns the right one down, as
     * does a delay still running; past both it passes. */
    assert_int_equal(OPS->claim_attempt(F.s, "dev-a", 500, 600, 3, 60, &attempts, &at), OWB_OK);
    assert_int_equal(setup_issue("dev-a", claim, NULL, 0x34, &rd, &c), OWB_ERR_NOENT);
    raw_sql("UPDATE claim_guard SET window_start = 300, next_at = 1001");
    assert_int_equal(setup_issue("dev-a", claim, NULL, 0x34, &rd, &c), OWB_ERR_NOENT);
    raw_sql("UPDATE claim_guard SET next_at = 1000");
    assert_int_equal(setup_issue("dev-a", claim, NULL, 0x34, &rd, &c), OWB_OK);
    assert_true(c > last);
    last = c;

    /* A reservation due (crash recovery emptied the floor): turned down,
     * and issue, which reserves, goes on from there. */
    raw_sql("DELETE FROM counter_floor");
    assert_int_equal(setup_issue("dev-a", claim, tok, 0x35, &rd, &c), OWB_ERR_NOENT);
    assert_int_equal(counter_of("dev-a"), last);
    last = issue_at("dev-a", 0x36, 1000);
    assert_int_equal(setup_issue("dev-a", claim, tok, 0x37, &rd, &c), OWB_OK);
    assert_true(c > last);

    /* A revoked token; a device row this server never wrote is refused
     * (the caller hands out no bundle under the counter it was given). */
    assert_int_equal(OPS->token_revoke(F.s, "installer", 200, &count), OWB_OK);
    assert_int_equal(setup_issue("dev-a", claim, tok, 0x38, &rd, &c), OWB_ERR_NOENT);
    raw_sql("UPDATE devices SET suite = 'quantum' WHERE id = 'dev-b'");
    assert_int_equal(setup_issue("dev-b", NULL, NULL, 0x39, &rd, &c), OWB_ERR_TAMPERED);
}

#ifdef OWB_TEST_PG
/* Setups of four devices from eight threads at once, each device asked
 * for by two of them. */
enum { TOGETHER_THREADS = 8, TOGETHER_EACH = 40 };

struct together {
    int thread;
    int ok, fast;
    uint64_t counters[TOGETHER_EACH];
};

static void *setup_together(void *arg)
{
    struct together *t = arg;
    char id[16];

    snprintf(id, sizeof id, "dev-%c", 'a' + t->thread % 4);
    for (int i = 0; i < TOGETHER_EACH; i++) {
        struct owb_setup_read rd;
        uint64_t c = 0;
        uint8_t tag = (uint8_t)(t->thread * TOGETHER_EACH + i), h[OWB_HASH_BYTES];
        enum owb_err rc = setup_issue(id, NULL, NULL, tag, &rd, &c);
        /* Turned down when the durable mark is due to move: the long way
         * (issue) moves it, as the route does. */
        if (rc == OWB_ERR_NOENT)
            rc = OPS->issue(F.s, id, fill(h, sizeof h, tag), "app-sealed", 1000, &c);
        else
            t->fast += rc == OWB_OK;
        if (rc != OWB_OK)
            print_error("%s: setup %d: %s\n", id, i, owb_err_code(rc));
        t->ok += rc == OWB_OK;
        t->counters[i] = c;
    }
    return NULL;
}
#endif

/* Setups that come in together, from several connections, through
 * setup_issue and the long way: every one issued, each device's counters
 * strictly increasing in each thread and never the same twice across
 * threads, and every session recorded. */
static void test_setup_issue_together(void **state)
{
    (void)state;
#ifndef OWB_TEST_PG
    assert_null(OPS->setup_issue);
#else
    struct owb_import_item items[4] = {
        item("dev-a", OWB_SUITE_PK, 1), item("dev-b", OWB_SUITE_PK, 2),
        item("dev-c", OWB_SUITE_PK, 3), item("dev-d", OWB_SUITE_PK, 4)};
    struct together t[TOGETHER_THREADS];
    pthread_t th[TOGETHER_THREADS];
    int fast = 0;

    import_ok(items, 4);
    issue_at("dev-a", 0x01, 900); /* the durable mark moved ahead */
    for (int i = 0; i < TOGETHER_THREADS; i++) {
        t[i] = (struct together){.thread = i};
        assert_int_equal(pthread_create(&th[i], NULL, setup_together, &t[i]), 0);
    }
    for (int i = 0; i < TOGETHER_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < TOGETHER_THREADS; i++)
        fast += t[i].fast;
    assert_true(fast > 0);
    for (int d = 0; d < 4; d++) {
        char id[16];
        struct seen seen = {0};
        uint64_t mine[2 * TOGETHER_EACH];
        int n = 0;
        snprintf(id, sizeof id, "dev-%c", 'a' + d);
        for (int i = d; i < TOGETHER_THREADS; i += 4) {
            assert_int_equal(t[i].ok, TOGETHER_EACH);
            for (int k = 0; k < TOGETHER_EACH; k++) {
                if (k > 0)
                    assert_true(t[i].counters[k] > t[i].counters[k - 1]);
                mine[n++] = t[i].counters[k];
            }
        }
        for (int i = 0; i < n; i++)
            for (int k = i + 1; k < n; k++)
                assert_true(mine[i] != mine[k]);
        assert_int_equal(OPS->session_list(F.s, id, 1000, see_session, &seen), OWB_OK);
        assert_int_equal(seen.n, 2 * TOGETHER_EACH + (d == 0));
    }
    print_message("%d setups of 4 devices from %d threads, %d of them through setup_issue (the "
                  "rest the long way)\n",
                  TOGETHER_THREADS * TOGETHER_EACH, TOGETHER_THREADS, fast);
#endif
}

static void test_unknown_values(void **state)
{
    struct owb_import_item items[2] = {item("dev-a", OWB_SUITE_SYM, 1),
                                       item("dev-b", OWB_SUITE_PK, 2)};
    struct seen seen = {0};
    struct owb_network_row n;
    struct owb_device_row d;

    (void)state;
    import_ok(items, 2);
    add_network("office", OWB_SEC_WPA2_PSK);
    add_network("lab", OWB_SEC_WPA3_SAE);
    raw_sql("UPDATE networks SET security = 'wpa9-future' WHERE name = 'office'");
    raw_sql("UPDATE devices SET suite = 'quantum' WHERE id = 'dev-b'");

    assert_int_equal(OPS->network_get(F.s, "office", &n), OWB_ERR_TAMPERED);
    assert_string_equal(n.name, "");
    assert_int_equal(n.sealed_psk.len, 0);
    assert_int_equal(OPS->network_list(F.s, see_network, &seen), OWB_ERR_TAMPERED);
    assert_string_equal(seen.names, "lab\n");
    assert_int_equal(OPS->network_remove(F.s, "office"), OWB_OK);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(OPS->network_list(F.s, see_network, &seen), OWB_OK);
    assert_string_equal(seen.names, "lab\n");

    assert_int_equal(OPS->device_get(F.s, "dev-b", &d), OWB_ERR_TAMPERED);
    assert_string_equal(d.id, "");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(OPS->device_list(F.s, see_device, &seen), OWB_ERR_TAMPERED);
    assert_string_equal(seen.names, "dev-a\n");

    /* A text longer than its field is not cut to fit. */
    raw_sql("UPDATE devices SET state = 'a-state-far-longer-than-its-field' WHERE id = 'dev-a'");
    assert_int_equal(OPS->device_get(F.s, "dev-a", &d), OWB_ERR_TAMPERED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_conflict_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_assign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_mac_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_session_checkin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_issue_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_label_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_label_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_challenge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_clock_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkin_lost_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_after_power_cut, setup, teardown),
#ifndef OWB_TEST_PG
        cmocka_unit_test_setup_teardown(test_counter_power_cut, setup, teardown),
#endif
    };
    int failed;

    F.dir = t_tmpdir();
#ifdef OWB_TEST_PG
    if (!t_pg_available(&F.pg)) {
        print_message("PostgreSQL is not installed: skipped\n");
        t_rmtree(F.dir);
        free(F.dir);
        return 77;
    }
    t_pg_start(&F.pg);
#endif
    failed = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef OWB_TEST_PG
    t_pg_stop(&F.pg);
#endif
    t_rmtree(F.dir);
    free(F.dir);
    return failed;
}
