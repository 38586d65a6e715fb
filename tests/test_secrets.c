/* Secrets hygiene: one complete provisioning (server-sealed: every secret
 * passes through the server and the device), then every log and every file
 * the server and the device wrote, database and WAL included, is searched
 * for every secret used, raw, in hex and in base64url. None may appear. */
#include "test_support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "proc.h"

#define PSK "hygiene-psk-7f3a"

struct secret {
    char name[32];
    uint8_t bytes[64];
    size_t len;
};

static struct secret secrets[16];
static size_t n_secrets;

static void add_secret(const char *name, const void *p, size_t len)
{
    struct secret *s = &secrets[n_secrets++];
    snprintf(s->name, sizeof s->name, "%s", name);
    memcpy(s->bytes, p, len);
    s->len = len;
}

/* Fails when any secret, in any of its forms, is in data. */
static void scan(const char *what, const char *data, size_t len)
{
    for (size_t i = 0; i < n_secrets; i++) {
        const struct secret *s = &secrets[i];
        char hex[129], b64[96];
        sodium_bin2hex(hex, sizeof hex, s->bytes, s->len);
        owb_b64_encode(s->bytes, s->len, b64, sizeof b64);
        if (memmem(data, len, s->bytes, s->len))
            fail_msg("%s holds %s (raw)", what, s->name);
        if (s->len > 4 && memmem(data, len, hex, strlen(hex)))
            fail_msg("%s holds %s (hex)", what, s->name);
        if (s->len > 4 && memmem(data, len, b64, strlen(b64)))
            fail_msg("%s holds %s (base64url)", what, s->name);
    }
}

static size_t scan_tree(const char *dir, const char *skip)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (skip && !strcmp(e->d_name, skip)))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += scan_tree(path, NULL);
        } else if (S_ISREG(st.st_mode)) {
            size_t len;
            char *data = t_read_file(path, &len);
            scan(path, data, len);
            free(data);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_no_secret_anywhere(void **state)
{
    (void)state;
    char *dir = t_tmpdir();
    char db[4096], mk[4096], factory[4096], out[8192], keyfile[4096], sdir[4096], logs[4096];
    char id[64] = "", claim[32] = "", token[128] = "", u[512], body[8192];

    assert_int_equal(owb_init(), OWB_OK);
    snprintf(db, sizeof db, "%s/server/owb.db", dir);
    snprintf(mk, sizeof mk, "%s/server/master.key", dir);
    snprintf(factory, sizeof factory, "%s/factory", dir);
    snprintf(sdir, sizeof sdir, "%s/server", dir);
    snprintf(logs, sizeof logs, "%s/logs", dir);
    mkdir(sdir, 0700);
    mkdir(logs, 0700);
    char *init[] = {OWB_SERVER_BIN, "init", "--db", db, "--master-key", mk, NULL};
    assert_int_equal(t_run(init, NULL, out, sizeof out), 0);

    /* The server process is started first to learn its port for the record. */
    struct t_proc srv;
    char *serve[] = {
        OWB_SERVER_BIN, "serve", "--metrics-listen", "off", "--listen", "127.0.0.1:0", "--db", db,
        "--master-key", mk,      "--rate-limit",     "0",   NULL};
    t_start(&srv, logs, "server", serve);
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", srv.port);
    char *mint[] = {OWB_MINT_BIN, "device",    "--prefix", "hy-", "--server",
                    server,       "--out-dir", factory,    NULL};
    assert_int_equal(t_run(mint, NULL, out, sizeof out), 0);
    sscanf(strstr(out, "id:"), "id: %63s", id);
    snprintf(keyfile, sizeof keyfile, "%s/%s.key", factory, id);
    struct owb_keyfile *kf = NULL;
    char diag[OWB_DIAG_SIZE];
    assert_int_equal(owb_keyfile_read(keyfile, &kf, diag), OWB_OK);
    snprintf(claim, sizeof claim, "%s", kf->claim_code);
    char records[4096];
    snprintf(records, sizeof records, "%s/records.jsonl", factory);
    char *import[] = {OWB_SERVER_BIN, "device", "import", records, "--db", db,
                      "--master-key", mk,       NULL};
    assert_int_equal(t_run(import, NULL, out, sizeof out), 0);
    char *net[] = {OWB_SERVER_BIN, "network",    "add",      "office", "--ssid",
                   "Hygiene Net",  "--security", "wpa2-psk", "--db",   db,
                   "--master-key", mk,           NULL};
    assert_int_equal(t_run(net, PSK "\n", out, sizeof out), 0);
    char *assign[] = {OWB_SERVER_BIN, "device", "assign",       id, "--network", "office",
                      "--db",         db,       "--master-key", mk, NULL};
    assert_int_equal(t_run(assign, NULL, out, sizeof out), 0);
    char *tok[] = {OWB_SERVER_BIN, "token", "create",       "--label", "h",
                   "--db",         db,      "--master-key", mk,        NULL};
    assert_int_equal(t_run(tok, NULL, token, sizeof token), 0);
    token[strcspn(token, "\n")] = '\0';

    /* The device, its Wi-Fi recorded by the demo program outside the
     * scanned tree (that program is handed the PSK by design). */
    char state_dir[4096], wifi_dir[4096];
    snprintf(state_dir, sizeof state_dir, "%s/device-state", dir);
    snprintf(wifi_dir, sizeof wifi_dir, "%s/wifi", dir);
    mkdir(state_dir, 0700);
    mkdir(wifi_dir, 0700);
    setenv("OWB_DEMO_DIR", wifi_dir, 1);
    struct t_proc dev;
    char *device[] = {OWB_DEVICE_BIN, "--key-file",     keyfile,           "--state-dir",
                      state_dir,      "--listen",       "127.0.0.1:0",     "--wifi-backend",
                      "command",      "--wifi-command", OWB_DEMO_WIFI_BIN, NULL};
    t_start(&dev, logs, "device", device);

    /* The phone: app key, setup request, hand-off. */
    uint8_t app_key[32];
    char ak[64], hdr[256];
    randombytes_buf(app_key, sizeof app_key);
    owb_b64_encode(app_key, 32, ak, sizeof ak);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"app_key\":\"%s\"}", claim, ak);
    snprintf(u, sizeof u, "%s/v1/setup/%s", server, id);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", token);
    const char *headers[] = {hdr, NULL};
    struct t_resp r;
    t_http("POST", u, headers, body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    cJSON *answer = NULL;
    assert_int_equal(owb_json_parse(r.body, r.len, &answer), OWB_OK);
    snprintf(body, sizeof body, "{\"bundle\":\"%s\",\"app_key\":\"%s\"}",
             owb_json_string(answer, "bundle"), ak);
    char session[128];
    snprintf(session, sizeof session, "%s", owb_json_string(answer, "session"));
    cJSON_Delete(answer);
    t_resp_free(&r);
    snprintf(u, sizeof u, "http://127.0.0.1:%u/v1/provision", dev.port);
    const char *json[] = {"Content-Type: application/json", NULL};
    t_http("POST", u, json, body, strlen(body), &r);
    assert_int_equal(r.status, 202);
    t_resp_free(&r);
    snprintf(u, sizeof u, "%s/v1/sessions/%s", server, session);
    bool online = false;
    for (int i = 0; i < 200 && !online; i++) {
        t_http("GET", u, NULL, NULL, 0, &r);
        online = strstr(r.body, "\"online\"") != NULL;
        t_resp_free(&r);
        if (!online)
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    assert_true(online);
    assert_int_equal(t_stop(&dev, SIGTERM), 0);
    assert_int_equal(t_stop(&srv, SIGTERM), 0);

    /* Every secret of the run. */
    uint8_t kb[32], kc[32], master[32];
    char ap_pass[OWB_AP_PASSPHRASE_SIZE];
    owb_kdf_bundle_key(kb, kf->device_key);
    owb_kdf_checkin_key(kc, kf->device_key);
    owb_kdf_ap_passphrase(ap_pass, kf->device_key);
    size_t mlen;
    char *mraw = t_read_file(mk, &mlen);
    memcpy(master, mraw, 32);
    free(mraw);
    add_secret("device key", kf->device_key, 32);
    add_secret("bundle key", kb, 32);
    add_secret("check-in key", kc, 32);
    add_secret("app key", app_key, 32);
    add_secret("claim code", claim, strlen(claim));
    add_secret("PSK", PSK, strlen(PSK));
    add_secret("installer token", token, strlen(token));
    /* The token's secret part; the device id and counter after it are in
     * the database by design. */
    assert_true(strlen(session) > 43 && session[43] == '.');
    add_secret("session secret", session, 43);
    add_secret("master key", master, 32);
    add_secret("AP passphrase", ap_pass, strlen(ap_pass));

    /* The server's directory (database, WAL) holds the master key file
     * itself; everything else there and in the logs and the device's
     * state must be free of every secret. */
    size_t files =
        scan_tree(sdir, "master.key") + scan_tree(logs, NULL) + scan_tree(state_dir, NULL);
    assert_true(files >= 4);
    print_message("scanned %zu files for %zu secrets in 3 forms each\n", files, n_secrets);
    owb_keyfile_free(kf);
    t_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_secret_anywhere)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
