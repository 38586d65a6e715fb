/* owb-server's administrator commands on the shared fixture (tests/support/
 * server_fixture.h), through the real binary: device list with its
 * filters and --json, device show with its claim state and latest
 * sessions, unique token labels, and an import meeting another one. Built
 * twice: against SQLite (test_server_admin) and PostgreSQL
 * (test_server_admin_pg). */
#include "server_fixture.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "owb/json.h"

/* Runs owb-server with the world's database and key and the strings up to
 * NULL (six at most); stderr into err. The exit status. */
static int admin_err(char *err, size_t cap, ...)
{
    char *argv[T_ARGV_MAX];
    const char *a[6] = {NULL};
    va_list ap;

    va_start(ap, cap);
    for (int n = 0; n < 6; n++)
        if ((a[n] = va_arg(ap, const char *)) == NULL)
            break;
    va_end(ap);
    t_admin_argv(argv, NULL, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
    return t_run_err(argv, NULL, err, cap);
}

/* `device list --json` with the options opt (up to the first NULL): each
 * line must be one JSON object, and their ids, as "id,id,", want. */
static void expect_listed(const char *const opt[4], const char *want)
{
    char out[16384], ids[1024] = "";
    char *argv[T_ARGV_MAX];

    t_admin_argv(argv, NULL, "device", "list", "--json", opt[0], opt[1], opt[2], opt[3], NULL);
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    for (char *line = out, *nl; *line; line = nl + 1) {
        cJSON *o = NULL;
        nl = strchr(line, '\n');
        assert_non_null(nl); /* every object ends its line */
        assert_int_equal(owb_json_parse(line, (size_t)(nl - line), &o), OWB_OK);
        assert_true(cJSON_IsObject(o));
        size_t len = strlen(ids);
        snprintf(ids + len, sizeof ids - len, "%s,", owb_json_string(o, "id"));
        cJSON_Delete(o);
    }
    if (strcmp(ids, want) != 0)
        fail_msg("device list %s %s %s %s: %s, not %s", opt[0] ? opt[0] : "", opt[1] ? opt[1] : "",
                 opt[2] ? opt[2] : "", opt[3] ? opt[3] : "", ids, want);
}

static void checkin(int dev, uint64_t counter)
{
    char body[512], u[512], path[128];
    uint8_t nonce[16];
    struct t_resp r;

    randombytes_buf(nonce, sizeof nonce);
    t_checkin_body(body, sizeof body, &F.dev[dev], counter, nonce, false);
    snprintf(path, sizeof path, "/v1/devices/dev-%d/checkin", dev);
    t_url(u, path);
    t_http("POST", u, NULL, body, strlen(body), &r);
    t_expect(&r, 200, NULL);
}

/* The world: dev-0 issued a bundle, dev-1 online, dev-2 (on no network)
 * and dev-3 never set up, pk-0 of the pk suite; dev-3 slowed down by
 * wrong claims. Each filter alone and together, in id order. */
static void test_device_list_filters(void **state)
{
    char out[16384], sql[256], want[160];
    struct t_opened o;
    struct t_db *db = t_db_open();
    uint64_t c1;

    (void)state;
    t_pk_device_add();
    t_issue_one("dev-0", F.dev[0].claim_code, &o);
    c1 = t_issue_one("dev-1", F.dev[1].claim_code, &o);
    checkin(1, c1);
    /* Slowed down for an hour, as a burst of wrong claims leaves it (the
     * world server's window is 2 s: too short to list it in time). */
    snprintf(sql, sizeof sql,
             "INSERT INTO claim_guard(device_id, attempts, window_start, next_at) "
             "VALUES('dev-3', 9, %lld, %lld)",
             (long long)time(NULL), (long long)time(NULL) + 3600);
    t_db_sql(db, sql);
    t_db_close(db);

    static const struct {
        const char *opt[4], *want;
    } cases[] = {
        {{NULL}, "dev-0,dev-1,dev-2,dev-3,pk-0,"},
        {{"--network", "home"}, "dev-0,dev-1,dev-3,pk-0,"},
        {{"--network", ""}, "dev-2,"},
        {{"--network", "elsewhere"}, ""},
        {{"--suite", "pk"}, "pk-0,"},
        {{"--suite", "sym", "--state", "never"}, "dev-2,dev-3,"},
        {{"--state", "never"}, "dev-2,dev-3,pk-0,"},
        {{"--state", "issued"}, "dev-0,"},
        {{"--state", "online"}, "dev-1,"},
        {{"--locked"}, "dev-3,"},
        {{"--locked", "--network", ""}, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_listed(cases[i].opt, cases[i].want);

    /* What a line holds. */
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "list", "--json", "--state", "online", NULL), 0);
    snprintf(want, sizeof want,
             "{\"id\":\"dev-1\",\"suite\":\"sym\",\"state\":\"online\",\"counter\":%llu,"
             "\"network\":\"home\",\"created_at\":",
             (unsigned long long)c1);
    if (!strstr(out, want))
        fail_msg("want %s in: %s", want, out);
    assert_null(strstr(out, "\"online_at\":null"));
    /* Counters are printed as integers, digit for digit: one that a double
     * prints in 15 digits came out as 1.79603874131974e+15. */
    db = t_db_open();
    t_db_sql(db, "UPDATE devices SET counter = 1796038741319740 WHERE id = 'dev-2'");
    t_db_close(db);
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "list", "--json", "--network", "", NULL), 0);
    if (!strstr(out, "\"counter\":1796038741319740,"))
        fail_msg("counter not printed exactly: %s", out);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--network", "", NULL), 0);
    assert_non_null(strstr(out, "dev-2 "));
    assert_non_null(strstr(out, "network=- suite=sym"));
    /* A value that is not one of the choices is a usage error. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--state", "asleep", NULL),
                     2);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "unlock", "dev-3", NULL), 0);
    expect_listed((const char *const[4]){"--locked"}, "");
}

/* show: the claim state and the five latest sessions, newest first, in
 * words and as one JSON object. */
static void test_device_show_sessions(void **state)
{
    char out[16384], want[64];
    uint64_t c[7], last;
    struct t_opened o;
    cJSON *root = NULL;

    (void)state;
    for (int i = 0; i < 7; i++)
        c[i] = t_issue_one("dev-0", F.dev[0].claim_code, &o);
    last = c[6];
    checkin(0, c[5]);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-0", NULL), 0);
    assert_non_null(strstr(out, "claims:     0 wrong claim(s) in the window; not slowed down"));
    assert_non_null(strstr(out, "sessions:   the latest, newest first\n  counter="));
    snprintf(want, sizeof want, "counter=%-6llu mode=server-sealed state=issued ",
             (unsigned long long)last);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "counter=%-6llu mode=server-sealed state=online ",
             (unsigned long long)c[5]);
    assert_non_null(strstr(out, want));
    /* Five, the oldest not among them. */
    snprintf(want, sizeof want, "counter=%-6llu", (unsigned long long)c[1]);
    assert_null(strstr(out, want));

    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-0", "--json", NULL), 0);
    assert_int_equal(owb_json_parse(out, strlen(out), &root), OWB_OK);
    assert_string_equal(owb_json_string(root, "id"), "dev-0");
    assert_string_equal(owb_json_string(root, "row"), "matches its row MAC");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "row_ok")));
    const cJSON *claims = cJSON_GetObjectItemCaseSensitive(root, "claims");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(claims, "slowed_down")));
    const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(root, "sessions");
    assert_int_equal(cJSON_GetArraySize(sessions), 5);
    for (int i = 0; i < 5; i++) {
        const cJSON *s = cJSON_GetArrayItem(sessions, i);
        uint64_t n = 0;
        assert_int_equal(owb_json_uint(s, "counter", &n), OWB_OK);
        assert_true(n == c[6 - i]);
        assert_string_equal(owb_json_string(s, "state"), i == 1 ? "online" : "issued");
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "created_at")));
        assert_int_equal(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s, "online_at")), i != 1);
    }
    cJSON_Delete(root);

    /* A device never set up has none. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-2", NULL), 0);
    assert_non_null(strstr(out, "sessions:   none\n"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", "dev-2", "--json", NULL), 0);
    assert_non_null(strstr(out, "\"sessions\":[]}\n"));
}

/* The id `token list` shows for label. */
static long token_id(const char *label)
{
    char out[8192], *line;

    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "list", NULL), 0);
    for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char l[128];
        long id;
        if (sscanf(line, "%ld %127s", &id, l) == 2 && strcmp(l, label) == 0)
            return id;
    }
    fail_msg("no token labelled %s", label);
    return -1;
}

/* A label names one token: a second create with it creates nothing, and
 * revoke never revokes two, not even where a label from before the labels
 * were unique reads as another token's id. */
static void test_token_labels_unique(void **state)
{
    char out[8192], err[4096], sql[512], hex[65], id[24];
    uint8_t hash[32], app_key[32];
    struct t_resp r;
    struct t_db *db;

    (void)state;
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "create", "--label", "alice", NULL),
                     0);
    assert_int_equal(admin_err(err, sizeof err, "token", "create", "--label", "alice", NULL), 1);
    assert_non_null(strstr(err, "a token labelled 'alice' exists already"));
    assert_non_null(strstr(err, "nothing created"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "list", NULL), 0);
    assert_non_null(strstr(out, " alice "));
    assert_null(strstr(strstr(out, " alice ") + 1, " alice "));
    /* Digits alone would read as an id. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "create", "--label", "42", NULL), 2);

    /* A token labelled with the installer token's id, as a database from
     * before could hold: revoking that text revokes the one labelled so,
     * and the installer token goes on working. */
    snprintf(id, sizeof id, "%ld", token_id("installer-1"));
    randombytes_buf(hash, sizeof hash);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
#ifdef OWB_TEST_PG
    snprintf(sql, sizeof sql,
             "INSERT INTO tokens(hash, label, created_at) VALUES('\\x%s', '%s', 1)", hex, id);
#else
    snprintf(sql, sizeof sql, "INSERT INTO tokens(hash, label, created_at) VALUES(x'%s', '%s', 1)",
             hex, id);
#endif
    db = t_db_open();
    t_db_sql(db, sql);
    t_db_close(db);
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "revoke", id, NULL), 0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "revoke", id, NULL), 1);
    char body[512];
    randombytes_buf(app_key, sizeof app_key);
    t_server_sealed_body(body, sizeof body, F.dev[3].claim_code, app_key);
    t_setup_req("dev-3", body, F.token, &r);
    t_expect(&r, 200, NULL);

    /* Revoked, alice keeps her label. */
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "revoke", "alice", NULL), 0);
    assert_non_null(strstr(out, "token 'alice' revoked"));
    assert_int_equal(t_admin(NULL, out, sizeof out, "token", "create", "--label", "alice", NULL),
                     1);
}

/* An import while another holds the database: the second waits its
 * --busy-timeout, then says another import is running, not that the
 * service is unavailable; once the first is done it goes in. On
 * PostgreSQL the other holds the import lock an import takes, on SQLite
 * the write lock. */
static void test_import_busy(void **state)
{
    char err[4096], out[4096];
    struct t_db *db = t_db_open();

    (void)state;
#ifdef OWB_TEST_PG
    t_db_sql(db, "BEGIN");
    t_db_sql(db, "SELECT pg_advisory_xact_lock(1870094953)");
#else
    t_db_lock(db);
#endif
    assert_int_equal(
        admin_err(err, sizeof err, "device", "import", F.records, "--busy-timeout", "300", NULL),
        1);
    assert_non_null(strstr(err, "the database is busy with another import"));
    assert_non_null(strstr(err, "another import is running"));
    assert_non_null(strstr(err, "nothing imported"));
    assert_null(strstr(err, "temporarily unavailable"));
    t_db_sql(db, "ROLLBACK");
    t_db_close(db);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "import", F.records, NULL), 0);
    assert_non_null(strstr(out, "imported 0 new device(s), 4 already present"));
}

/* network remove: the devices assigned to it are left with no network,
 * their rows sealed anew (the schema's ON DELETE SET NULL alone left them
 * refused as tampered, for good); a device row someone else changed keeps
 * the network, and every row, as they were. */
static void test_network_remove_clears_devices(void **state)
{
    char out[4096], err[1024];
    struct t_db *db = t_db_open();

    (void)state;
    assert_int_equal(t_admin("attic passphrase\n", out, sizeof out, "network", "add", "attic",
                             "--ssid", "Attic", "--security", "wpa2-psk", NULL),
                     0);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "assign", "dev-2", "dev-3",
                             "--network", "attic", NULL),
                     0);
    t_db_sql(db, "CREATE TABLE saved_claim AS SELECT claim_hash FROM devices WHERE id = 'dev-3'");
    t_db_sql(db, "UPDATE devices SET claim_hash = NULL WHERE id = 'dev-3'");
    assert_int_equal(admin_err(err, sizeof err, "network", "remove", "attic", NULL), 1);
    if (!strstr(err, "attic is kept: device dev-3: does not match its row MAC") ||
        !strstr(err, "0 of its device(s) were left with no network"))
        fail_msg("want the network kept because of dev-3: %s", err);
    assert_int_equal(t_admin(NULL, out, sizeof out, "device", "list", "--network", "attic", NULL),
                     0);
    assert_non_null(strstr(out, "dev-2 "));
    t_db_sql(db, "UPDATE devices SET claim_hash = (SELECT claim_hash FROM saved_claim) "
                 "WHERE id = 'dev-3'");
    t_db_sql(db, "DROP TABLE saved_claim");
    t_db_close(db);

    assert_int_equal(t_admin(NULL, out, sizeof out, "network", "remove", "attic", NULL), 0);
    assert_non_null(strstr(out, "network attic removed; 2 device(s) assigned to it now have none"));
    for (int i = 2; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "dev-%d", i);
        assert_int_equal(t_admin(NULL, out, sizeof out, "device", "show", id, NULL), 0);
        if (!strstr(out, "row:        matches its row MAC") || !strstr(out, "network:    -"))
            fail_msg("%s after its network was removed: %s", id, out);
    }
    assert_int_equal(admin_err(err, sizeof err, "network", "remove", "attic", NULL), 1);
    assert_non_null(strstr(err, "attic: no such network"));
    /* Back where the world had them. */
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "device", "assign", "dev-3", "--network", "home", NULL), 0);
}

/* The counter mark shown, raised past a time (a database restored from
 * a backup), and the setups after it issued above that time: on
 * PostgreSQL at once, on SQLite once the server starts again (it reads
 * its floor at start). Last: every later counter is in the year 2200. */
static void test_counters_raise(void **state)
{
    char out[1024], err[1024];
    struct t_opened o;
    const uint64_t past = 7258118400999999ULL; /* 2200-01-01T00:00:00Z, its last us */

    (void)state;
    assert_int_equal(t_admin(NULL, out, sizeof out, "counters", NULL), 0);
    assert_non_null(strstr(out, "counter mark: "));
    assert_int_equal(admin_err(err, sizeof err, "counters", "--raise-past", "tomorrow", NULL), 2);
    assert_non_null(strstr(err, "not 'tomorrow'"));
    assert_int_equal(
        admin_err(err, sizeof err, "counters", "--raise-past", "2300-01-01T00:00:00Z", NULL), 2);
    assert_non_null(strstr(err, "out of the counters' range"));

    assert_int_equal(
        t_admin(NULL, out, sizeof out, "counters", "--raise-past", "2200-01-01T00:00:00Z", NULL),
        0);
    assert_non_null(strstr(out, "counter mark raised to 7258118401000000 (2200-01-01T00:00:01Z)"));
#ifdef OWB_TEST_PG
    assert_non_null(strstr(out, "from each instance's next setup"));
#else
    assert_non_null(strstr(out, "once owb-server starts again"));
    /* The running server still issues from the floor it read at start. */
    assert_true(t_issue_one("dev-0", F.dev[0].claim_code, &o) <= past);
    assert_int_equal(t_stop(&F.srv, SIGTERM), 0);
    t_start_server(&F.srv, "after-raise", "0");
    snprintf(F.base, sizeof F.base, "http://127.0.0.1:%u", F.srv.port);
#endif
    uint64_t c = t_issue_one("dev-0", F.dev[0].claim_code, &o);
    assert_true(c > past);
    assert_true(t_issue_one("dev-0", F.dev[0].claim_code, &o) > c);
    /* An earlier time changes nothing. */
    assert_int_equal(
        t_admin(NULL, out, sizeof out, "counters", "--raise-past", "@7258118300", NULL), 0);
    assert_non_null(strstr(out, "already past 2199-12-31T23:58:20Z; nothing changed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_list_filters),
        cmocka_unit_test(test_device_show_sessions),
        cmocka_unit_test(test_token_labels_unique),
        cmocka_unit_test(test_import_busy),
        cmocka_unit_test(test_network_remove_clears_devices),
        cmocka_unit_test(test_counters_raise), /* last: it raises the counters */
    };
    return T_WORLD_RUN(tests);
}
