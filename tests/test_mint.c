/* owb-mint as a factory runs it: real processes, real files, the real
 * owb-server importing what it writes, zbarimg decoding its QR codes and
 * xmllint checking its SVG. */
#include "test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "label.h"
#include "manifest.h"
#include "mint.h"
#include "owb/base64.h"
#include "owb/claim.h"
#include "owb/kdf.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/record.h"
#include "proc.h"
#include "qr.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    if (owb_init() != OWB_OK)
        return -1;
    dir = t_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_rmtree(dir);
    free(dir);
    return 0;
}

/* Decodes a PNG with zbarimg; the text in out. */
static void zbar(const char *png, char *out, size_t cap)
{
    /* -Sbinary: the bytes as encoded, without zbar guessing a charset. */
    char *argv[] = {"/usr/bin/zbarimg", "-q", "--raw", "-Sbinary", (char *)png, NULL};
    assert_int_equal(t_run(argv, NULL, out, cap), 0);
    size_t n = strlen(out);
    if (n && out[n - 1] == '\n')
        out[n - 1] = '\0';
}

static size_t count_files(const char *d, const char *suffix)
{
    DIR *dp = opendir(d);
    struct dirent *e;
    size_t n = 0;
    if (!dp)
        return 0;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0)
            n++;
    }
    closedir(dp);
    return n;
}

static void test_device_end_to_end(void **state)
{
    (void)state;
    char out_dir[4096], out[8192], path[4096], id[64] = "", url[1024] = "";
    snprintf(out_dir, sizeof out_dir, "%s/one", dir);
    char *argv[] = {OWB_MINT_BIN, "device",   "--prefix",
                    "lab-",       "--server", "https://setup.example.com/",
                    "--out-dir",  out_dir,    NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    sscanf(strstr(out, "id:"), "id: %63s", id);
    sscanf(strstr(out, "setup URL:"), "setup URL: %1023s", url);
    assert_int_equal(strlen(id), 4 + 10);
    assert_true(strncmp(id, "lab-", 4) == 0);

    /* The key file reads back through common/, mode 0600. */
    struct owb_keyfile *kf = NULL;
    char diag[OWB_DIAG_SIZE];
    snprintf(path, sizeof path, "%s/%s.key", out_dir, id);
    assert_int_equal(owb_keyfile_read(path, &kf, diag), OWB_OK);
    struct stat st;
    stat(path, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The QR codes hold the claim code: private too. */
    const char *qr_ext[] = {"png", "svg"};
    for (size_t i = 0; i < 2; i++) {
        char qr_path[4200];
        snprintf(qr_path, sizeof qr_path, "%s/%s.%s", out_dir, id, qr_ext[i]);
        assert_int_equal(stat(qr_path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    char want_url[1024];
    snprintf(want_url, sizeof want_url, "https://setup.example.com/s/%s#c=%s", id, kf->claim_code);
    assert_string_equal(url, want_url);

    /* The AP passphrase owb-mint shows is the protocol's derivation. */
    char pass[OWB_AP_PASSPHRASE_SIZE], want_ap[256];
    owb_kdf_ap_passphrase(pass, kf->device_key);
    char *ap[] = {OWB_MINT_BIN, "ap", "--key-file", path, NULL};
    assert_int_equal(t_run(ap, NULL, out, sizeof out), 0);
    snprintf(want_ap, sizeof want_ap, "SSID:       OWB-%s\npassphrase: %s\n", id, pass);
    assert_string_equal(out, want_ap);

    /* inspect shows a fingerprint, never the key. */
    char *inspect[] = {OWB_MINT_BIN, "inspect", "--key-file", path, NULL};
    assert_int_equal(t_run(inspect, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "key fingerprint: "));
    char key_b64[64];
    sodium_bin2base64(key_b64, sizeof key_b64, kf->device_key, 32,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_null(strstr(out, key_b64));

    /* The record is what the server imports. */
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    size_t len;
    char *rec = t_read_file(path, &len);
    struct owb_record r;
    assert_int_equal(owb_record_parse(rec, len - 1, &r, diag), OWB_OK);
    assert_string_equal(r.device_id, id);
    assert_memory_equal(r.device_key, kf->device_key, 32);
    free(rec);
    char db[4096], mk[4096];
    snprintf(db, sizeof db, "%s/owb.db", dir);
    snprintf(mk, sizeof mk, "%s/master.key", dir);
    char *init[] = {OWB_SERVER_BIN, "init", "--db", db, "--master-key", mk, NULL};
    assert_int_equal(t_run(init, NULL, out, sizeof out), 0);
    char *import[] = {OWB_SERVER_BIN, "device", "import", path, "--db", db,
                      "--master-key", mk,       NULL};
    assert_int_equal(t_run(import, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "imported 1 new device(s)"));

    /* PNG decodes to the exact URL; SVG is well-formed XML. */
    snprintf(path, sizeof path, "%s/%s.png", out_dir, id);
    zbar(path, out, sizeof out);
    assert_string_equal(out, want_url);
    snprintf(path, sizeof path, "%s/%s.svg", out_dir, id);
    char *lint[] = {"/usr/bin/xmllint", "--noout", path, NULL};
    assert_int_equal(t_run(lint, NULL, out, sizeof out), 0);

    /* A second device with the same id is refused without --force. */
    char *again[] = {OWB_MINT_BIN, "device", "--id", id, "--server", "https://setup.example.com",
                     "--out-dir",  out_dir,  NULL};
    assert_int_equal(t_run_err(again, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "already exists"));
    /* --id appends a second record. */
    char *other[] = {OWB_MINT_BIN, "device",   "--id",
                     "second",     "--server", "https://setup.example.com",
                     "--out-dir",  out_dir,    NULL};
    assert_int_equal(t_run(other, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    rec = t_read_file(path, &len);
    assert_non_null(strstr(rec, "\"device_id\":\"second\""));
    assert_non_null(strstr(rec, id));
    assert_non_null(strstr(rec, key_b64));
    free(rec);
    /* --force replaces the key and its record: still one line for the id,
     * with the new key, so the server imports the file. */
    char *replace[] = {
        OWB_MINT_BIN, "device", "--id", id, "--force", "--server", "https://setup.example.com",
        "--out-dir",  out_dir,  NULL};
    assert_int_equal(t_run(replace, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "replaces the earlier one of this id"));
    rec = t_read_file(path, &len);
    char want[64];
    snprintf(want, sizeof want, "{\"device_id\":\"%s\",", id);
    char *first = strstr(rec, want);
    assert_non_null(first);
    assert_null(strstr(first + 1, want));
    assert_null(strstr(rec, key_b64)); /* the old key is gone */
    assert_non_null(strstr(rec, "\"device_id\":\"second\""));
    free(rec);
    owb_keyfile_free(kf);
}

/* --suite pk: the server's public key from 'owb-server signing-key
 * public' pinned in a pk key file, a record with the public key only,
 * imported by owb-server; a batch of pk devices; the suite's usage errors. */
static void test_pk_suite(void **state)
{
    (void)state;
    char out[8192], out_dir[4096], path[4096], db[4096], mk[4096], pub[4096], diag[OWB_DIAG_SIZE];
    char id[64] = "";
    uint8_t srv_pk[32];

    snprintf(db, sizeof db, "%s/pk.db", dir);
    snprintf(mk, sizeof mk, "%s/pk-master.key", dir);
    snprintf(pub, sizeof pub, "%s/server.pub", dir);
    char *init[] = {OWB_SERVER_BIN, "init", "--db", db, "--master-key", mk, NULL};
    assert_int_equal(t_run(init, NULL, out, sizeof out), 0);
    char *show[] = {OWB_SERVER_BIN, "signing-key", "public", "--master-key", mk, NULL};
    assert_int_equal(t_run(show, NULL, out, sizeof out), 0);
    FILE *f = fopen(pub, "w");
    fputs(out, f);
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(owb_b64_decode_exact(out, strlen(out), srv_pk, 32), OWB_OK);

    snprintf(out_dir, sizeof out_dir, "%s/pk-one", dir);
    char *mint[] = {OWB_MINT_BIN,
                    "device",
                    "--prefix",
                    "pk-",
                    "--server",
                    "https://setup.example.com",
                    "--out-dir",
                    out_dir,
                    "--suite",
                    "pk",
                    "--server-public-key",
                    pub,
                    NULL};
    assert_int_equal(t_run(mint, NULL, out, sizeof out), 0);
    sscanf(strstr(out, "id:"), "id: %63s", id);
    struct owb_keyfile *kf = NULL;
    snprintf(path, sizeof path, "%s/%s.key", out_dir, id);
    assert_int_equal(owb_keyfile_read(path, &kf, diag), OWB_OK);
    assert_int_equal(kf->suite, OWB_SUITE_PK);
    assert_int_equal(kf->n_server_pks, 1);
    assert_memory_equal(kf->server_pks[0], srv_pk, 32);
    /* ap and inspect read the pk key file. */
    char *ap[] = {OWB_MINT_BIN, "ap", "--key-file", path, NULL};
    assert_int_equal(t_run(ap, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, kf->ap_passphrase));
    char *inspect[] = {OWB_MINT_BIN, "inspect", "--key-file", path, NULL};
    assert_int_equal(t_run(inspect, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "suite:           pk"));

    /* The record: public key and AP passphrase, no secret; imported. */
    size_t len;
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    char *rec = t_read_file(path, &len);
    struct owb_record r;
    assert_int_equal(owb_record_parse(rec, len - 1, &r, diag), OWB_OK);
    assert_int_equal(r.suite, OWB_SUITE_PK);
    assert_memory_equal(r.device_pk, kf->device_sk + 32, 32);
    char sk_b64[100];
    owb_b64_encode(kf->device_sk, 64, sk_b64, sizeof sk_b64);
    assert_null(strstr(rec, sk_b64));
    assert_null(strstr(rec, "device_key"));
    free(rec);
    char *import[] = {OWB_SERVER_BIN, "device", "import", path, "--db", db,
                      "--master-key", mk,       NULL};
    assert_int_equal(t_run(import, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "imported 1 new device(s)"));
    owb_keyfile_free(kf);

    /* A batch of pk devices. */
    snprintf(out_dir, sizeof out_dir, "%s/pk-batch", dir);
    char *batch[] = {OWB_MINT_BIN,
                     "batch",
                     "--count",
                     "20",
                     "--server",
                     "https://setup.example.com",
                     "--out-dir",
                     out_dir,
                     "--qr-format",
                     "none",
                     "--suite",
                     "pk",
                     "--server-public-key",
                     pub,
                     NULL};
    assert_int_equal(t_run(batch, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    rec = t_read_file(path, &len);
    size_t pk_lines = 0;
    for (char *at = rec; (at = strstr(at, "\"suite\":\"pk\"")); at++)
        pk_lines++;
    assert_int_equal(pk_lines, 20);
    free(rec);

    /* Usage: pk without a key, a key without pk, an unknown suite; a file
     * that holds no key. */
    char *no_key[] = {OWB_MINT_BIN, "device", "--server", "https://x.example", "--out-dir", out_dir,
                      "--suite",    "pk",     NULL};
    assert_int_equal(t_run_err(no_key, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "--server-public-key"));
    char *key_no_pk[] = {OWB_MINT_BIN,          "device",    "--server",
                         "https://x.example",   "--out-dir", out_dir,
                         "--server-public-key", pub,         NULL};
    assert_int_equal(t_run_err(key_no_pk, NULL, out, sizeof out), 2);
    char *bad_suite[] = {OWB_MINT_BIN,        "device",    "--server",
                         "https://x.example", "--out-dir", out_dir,
                         "--suite",           "rsa",       NULL};
    assert_int_equal(t_run_err(bad_suite, NULL, out, sizeof out), 2);
    char *bad_file[] = {OWB_MINT_BIN,          "device", "--server", "https://x.example",
                        "--out-dir",           out_dir,  "--suite",  "pk",
                        "--server-public-key", mk,       NULL};
    assert_int_equal(t_run_err(bad_file, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "server public keys"));
}

static void test_qr_levels_and_formats(void **state)
{
    (void)state;
    const char *url = "https://setup.example.com/s/owb-0123456789#c=ABCDEFGHJKMNPQRS";
    const char *levels[] = {"L", "M", "Q", "H"};
    char path[4096], out[4096];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/qr-%s.png", dir, levels[i]);
        char *argv[] = {OWB_MINT_BIN, "qr",   (char *)url,       "--format", "png", "--out",
                        path,         "--ec", (char *)levels[i], "--size",   "4",   "--margin",
                        "4",          NULL};
        assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
        zbar(path, out, sizeof out);
        assert_string_equal(out, url);
    }
    snprintf(path, sizeof path, "%s/qr.svg", dir);
    char *svg[] = {OWB_MINT_BIN, "qr", (char *)url, "--format", "svg", "--out", path, NULL};
    assert_int_equal(t_run(svg, NULL, out, sizeof out), 0);
    char *lint[] = {"/usr/bin/xmllint", "--noout", path, NULL};
    assert_int_equal(t_run(lint, NULL, out, sizeof out), 0);
    char *text = t_read_file(path, NULL);
    /* One compact path. */
    assert_non_null(strstr(text, "<path fill=\"#000\" d=\"M"));
    assert_null(strstr(strstr(text, "<path") + 5, "<path"));
    free(text);
    /* Terminal forms. */
    char *utf8[] = {OWB_MINT_BIN, "qr", (char *)url, NULL};
    assert_int_equal(t_run(utf8, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "\xe2\x96\x88"));
    char *ansi[] = {OWB_MINT_BIN, "qr", (char *)url, "--format", "ansi", NULL};
    char big[65536];
    assert_int_equal(t_run(ansi, NULL, big, sizeof big), 0);
    assert_non_null(strstr(big, "\033[40m"));
    /* Usage errors exit 2. */
    char *bad[] = {OWB_MINT_BIN, "qr", (char *)url, "--ec", "X", NULL};
    assert_int_equal(t_run_err(bad, NULL, out, sizeof out), 2);
    char *nofile[] = {OWB_MINT_BIN, "qr", (char *)url, "--format", "png", NULL};
    assert_int_equal(t_run_err(nofile, NULL, out, sizeof out), 2);
    char *help[] = {OWB_MINT_BIN, "batch", "--help", NULL};
    assert_int_equal(t_run(help, NULL, out, sizeof out), 0);
    char *version[] = {OWB_MINT_BIN, "--version", NULL};
    assert_int_equal(t_run(version, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "owb-mint "));
}

static void test_wifi_code_escaping(void **state)
{
    (void)state;
    const char *ssids[] = {"plain",  "semi;colon", "back\\slash", "co,mma",
                           "co:lon", "quo\"te",    ";,:\\\"",     "Caf\xc3\xa9 \"$(x)\""};
    char text[512], path[4096], out[1024], want[512];
    struct owb_qr_opts qo = {OWB_QR_PNG, 'M', 4, 4};

    owb_wifi_qr_text("a;b", "p:w\\d", text, sizeof text);
    assert_string_equal(text, "WIFI:T:WPA;S:a\\;b;P:p\\:w\\\\d;;");
    for (size_t i = 0; i < sizeof ssids / sizeof ssids[0]; i++) {
        owb_wifi_qr_text(ssids[i], "pass;word\"", text, sizeof text);
        /* Every special character is escaped: none stands bare. */
        for (const char *p = text + 13; *p && strncmp(p, ";P:", 3); p++) {
            if (*p == '\\') {
                p++;
                continue;
            }
            assert_null(strchr(";,:\"", *p));
        }
        snprintf(path, sizeof path, "%s/wifi-%zu.png", dir, i);
        assert_int_equal(owb_qr_write(text, &qo, path, 0), OWB_OK);
        zbar(path, out, sizeof out);
        assert_string_equal(out, text);
        /* Unescaping gives back the SSID. */
        char back[128];
        size_t k = 0;
        for (const char *p = strstr(out, "S:") + 2; *p && !(p[0] == ';' && p[-1] != '\\'); p++) {
            if (*p == '\\')
                p++;
            back[k++] = *p;
        }
        back[k] = '\0';
        snprintf(want, sizeof want, "%s", ssids[i]);
        assert_string_equal(back, want);
    }
    /* owb-mint ap --qr draws a decodable join code. */
    char key[4096];
    snprintf(path, sizeof path, "%s/ap", dir);
    char *mint[] = {OWB_MINT_BIN,         "device",    "--id", "ap-dev", "--server",
                    "http://127.0.0.1:1", "--out-dir", path,   NULL};
    assert_int_equal(t_run(mint, NULL, out, sizeof out), 0);
    snprintf(key, sizeof key, "%s/ap-dev.key", path);
    snprintf(path, sizeof path, "%s/ap.png", dir);
    char *ap[] = {OWB_MINT_BIN, "ap",  "--key-file", key,  "--qr",
                  "--format",   "png", "--out",      path, NULL};
    assert_int_equal(t_run(ap, NULL, out, sizeof out), 0);
    char pass[64];
    sscanf(strstr(out, "passphrase:"), "passphrase: %63s", pass);
    zbar(path, out, sizeof out);
    snprintf(want, sizeof want, "WIFI:T:WPA;S:OWB-ap-dev;P:%s;;", pass);
    assert_string_equal(out, want);
}

static void test_batch_unique_and_complete(void **state)
{
    (void)state;
    char out_dir[4096], out[4096], path[4096];
    snprintf(out_dir, sizeof out_dir, "%s/batch", dir);
    char *argv[] = {
        OWB_MINT_BIN, "batch", "--count",     "100000", "--server", "https://setup.example.com",
        "--out-dir",  out_dir, "--qr-format", "none",   NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    size_t len;
    char *text = t_read_file(path, &len);
    /* 100 000 parseable records with 100 000 distinct ids. */
    char **ids = calloc(100000, sizeof *ids);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        struct owb_record r;
        assert_int_equal(owb_record_parse(line, strlen(line), &r, NULL), OWB_OK);
        assert_true(n < 100000);
        ids[n++] = strdup(r.device_id);
    }
    assert_int_equal(n, 100000);
    qsort(ids, n, sizeof *ids, (int (*)(const void *, const void *))strcmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate id %s", ids[i]);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    free(text);
    assert_int_equal(count_files(out_dir, ".key"), 100000);
    snprintf(path, sizeof path, "%s/manifest.csv", out_dir);
    text = t_read_file(path, &len);
    assert_true(strncmp(text, "id,setup_url,ap_ssid,qr_file\n", 29) == 0);
    free(text);
    struct stat mst;
    assert_int_equal(stat(path, &mst), 0);
    assert_int_equal(mst.st_mode & 0777, 0600); /* setup URLs with claim codes */
    /* A second batch into the same directory is refused. */
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "use a new --out-dir"));
}

static void test_batch_with_qr_codes(void **state)
{
    (void)state;
    char out_dir[4096], out[4096], path[4096], line[1024];
    snprintf(out_dir, sizeof out_dir, "%s/batch-png", dir);
    char *argv[] = {OWB_MINT_BIN, "batch", "--count",     "20",
                    "--prefix",   "f1-",   "--server",    "https://setup.example.com",
                    "--out-dir",  out_dir, "--qr-format", "png",
                    NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    assert_int_equal(count_files(out_dir, ".png"), 20);
    snprintf(path, sizeof path, "%s/manifest.csv", out_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char id[64], url[512], ssid[64], qr[128];
    assert_int_equal(sscanf(line, "%63[^,],%511[^,],%63[^,],%127[^\n]", id, url, ssid, qr), 4);
    snprintf(path, sizeof path, "%s/%s", out_dir, qr);
    zbar(path, out, sizeof out);
    assert_string_equal(out, url);
    snprintf(path, sizeof path, "OWB-%s", id);
    assert_string_equal(ssid, path);
}

/* A server URL the validator accepts may hold quotes and backslashes:
 * summary.json must still be JSON, and say the URL as given. */
static void test_batch_summary_is_json(void **state)
{
    (void)state;
    char out_dir[4096], out[4096], path[4096];
    snprintf(out_dir, sizeof out_dir, "%s/batch-json", dir);
    char *argv[] = {OWB_MINT_BIN, "batch", "--count",     "2",    "--server", "http://a\"b\\c",
                    "--out-dir",  out_dir, "--qr-format", "none", NULL};
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/summary.json", out_dir);
    char *text = t_read_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    assert_string_equal(t_str(root, "server"), "http://a\"b\\c");
    assert_string_equal(t_str(root, "prefix"), "owb-");
    assert_string_equal(t_str(root, "qr_format"), "none");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "count")->valueint, 2);
    cJSON_Delete(root);
    free(text);
}

/* Runs argv with a file-size limit (a "full disk"); returns the exit status. */
static int run_with_fsize(char *const argv[], rlim_t limit)
{
    pid_t pid = fork();
    int st;
    if (pid == 0) {
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_FSIZE, &rl);
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_batch_interrupted_leaves_no_records(void **state)
{
    (void)state;
    char out_dir[4096], path[4096];
    /* Full disk: every device file fits, the records file does not. */
    snprintf(out_dir, sizeof out_dir, "%s/full", dir);
    char *argv[] = {OWB_MINT_BIN, "batch",    "--count",
                    "3000",       "--server", "https://setup.example.com",
                    "--out-dir",  out_dir,    NULL};
    assert_int_equal(run_with_fsize(argv, 100 * 1024), 1);
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/manifest.csv", out_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(count_files(out_dir, ".key"), 0);
    assert_int_equal(count_files(out_dir, ".svg"), 0);
    /* Nothing half-written either. */
    DIR *dp = opendir(out_dir);
    struct dirent *e;
    while ((e = readdir(dp)))
        assert_null(strstr(e->d_name, ".tmp-"));
    closedir(dp);

    /* SIGKILL part way. */
    snprintf(out_dir, sizeof out_dir, "%s/killed", dir);
    char *argv2[] = {OWB_MINT_BIN, "batch",    "--count",
                     "50000",      "--server", "https://setup.example.com",
                     "--out-dir",  out_dir,    NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 2);
        execv(argv2[0], argv2);
        _exit(127);
    }
    for (int i = 0; i < 200 && count_files(out_dir, ".key") < 100; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_true(count_files(out_dir, ".key") > 0);
    snprintf(path, sizeof path, "%s/records.jsonl", out_dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* The devices of a batch's manifest, read back with the code under test
 * (its own checks are tested below, on damaged copies). */
static void read_manifest(const char *batch, struct owb_manifest *m)
{
    char path[4096], diag[OWB_DIAG_SIZE];
    snprintf(path, sizeof path, "%s/manifest.csv", batch);
    assert_int_equal(owb_manifest_read(path, m, diag), OWB_OK);
}

/* Each id and both halves of each grouped claim code appear in text. */
static void assert_ids_and_claims(const struct owb_manifest *m, const char *text)
{
    for (size_t i = 0; i < m->n; i++) {
        char grouped[OWB_CLAIM_GROUPED_SIZE];
        owb_claim_grouped(m->e[i].claim, grouped);
        assert_non_null(strstr(text, m->e[i].id));
        grouped[9] = '\0';
        assert_non_null(strstr(text, grouped));
        assert_non_null(strstr(text, grouped + 10));
    }
}

/* zbarimg finds every setup URL of m in the picture, and nothing else. */
static void assert_codes(const struct owb_manifest *m, const char *png, size_t from, size_t to)
{
    /* Without -Sbinary: with it zbarimg runs the codes together. */
    char *argv[] = {"/usr/bin/zbarimg", "-q", "--raw", (char *)png, NULL};
    char out[16384];
    size_t lines = 0;
    assert_int_equal(t_run(argv, NULL, out, sizeof out), 0);
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, to - from);
    for (size_t i = from; i < to; i++) {
        char want[1024];
        snprintf(want, sizeof want, "%s\n", m->e[i].url);
        assert_non_null(strstr(out, want));
    }
}

/* The PDF's cross-reference table: startxref points at "xref", and every
 * entry at its own "N 0 obj". */
static void assert_xref(const char *pdf)
{
    size_t len, n = 0, first = 9;
    char *text = t_read_file(pdf, &len);
    char *sx = strstr(text, "startxref\n");
    assert_non_null(sx);
    long xref = strtol(sx + 10, NULL, 10);
    assert_true(xref > 0 && (size_t)xref < len);
    assert_true(strncmp(text + xref, "xref\n0 ", 7) == 0);
    assert_int_equal(sscanf(text + xref + 7, "%zu", &n), 1);
    char *entry = strchr(text + xref + 5, '\n') + 1;
    assert_true(strncmp(entry, "0000000000 65535 f \n", 20) == 0);
    for (size_t i = 1; i < n; i++) {
        char want[32];
        entry += 20; /* every entry is exactly 20 bytes */
        long off = strtol(entry, NULL, 10);
        snprintf(want, sizeof want, "%zu 0 obj\n", i);
        assert_true(off >= (long)first && (size_t)off < len);
        assert_true(strncmp(text + off, want, strlen(want)) == 0);
    }
    assert_true(strncmp(entry + 20, "trailer\n", 8) == 0);
    assert_non_null(strstr(text + len - 6, "%%EOF\n"));
    free(text);
}

static void assert_pdf(const struct owb_manifest *m, const char *pdf, const char *size,
                       size_t pages, size_t per_page)
{
    char out[16384], png[4096], want[64];
    assert_xref(pdf);
    char *check[] = {"/usr/bin/qpdf", "--check", (char *)pdf, NULL};
    assert_int_equal(t_run(check, NULL, out, sizeof out), 0);
    char *info[] = {"/usr/bin/pdfinfo", (char *)pdf, NULL};
    assert_int_equal(t_run(info, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, size));
    assert_non_null(strstr(out, "PDF version:     1.4"));
    snprintf(want, sizeof want, "Pages:           %zu\n", pages);
    assert_non_null(strstr(out, want));
    char *text[] = {"/usr/bin/pdftotext", "-layout", (char *)pdf, "-", NULL};
    assert_int_equal(t_run(text, NULL, out, sizeof out), 0);
    assert_ids_and_claims(m, out);
    for (size_t p = 0; p < pages; p++) {
        char page[16], prefix[4096];
        snprintf(page, sizeof page, "%zu", p + 1);
        snprintf(prefix, sizeof prefix, "%s-page", pdf);
        char *ppm[] = {
            "/usr/bin/pdftoppm", "-r",   "150", "-png", "-singlefile", "-f", page, "-l", page,
            (char *)pdf,         prefix, NULL};
        assert_int_equal(t_run(ppm, NULL, out, sizeof out), 0);
        snprintf(png, sizeof png, "%s.png", prefix);
        size_t to = (p + 1) * per_page < m->n ? (p + 1) * per_page : m->n;
        assert_codes(m, png, p * per_page, to);
    }
}

/* Width and height of a PNG, from its IHDR. */
static void png_size(const char *png, unsigned *w, unsigned *h)
{
    size_t len;
    unsigned char *b = (unsigned char *)t_read_file(png, &len);
    assert_true(len > 24);
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    free(b);
}

/* An SVG sheet: well-formed, its paper size, every label's id, claim code
 * and QR code (rendered with rsvg-convert, read with zbarimg). */
static void assert_svg_sheet(const struct owb_manifest *m, const char *svg, const char *size_attrs,
                             unsigned w72, unsigned h72, size_t from, size_t to)
{
    char out[4096], png[4200];
    unsigned w, h;
    char *lint[] = {"/usr/bin/xmllint", "--noout", (char *)svg, NULL};
    assert_int_equal(t_run(lint, NULL, out, sizeof out), 0);
    char *text = t_read_file(svg, NULL);
    assert_non_null(strstr(text, size_attrs));
    struct owb_manifest part = {.e = m->e + from, .n = to - from};
    assert_ids_and_claims(&part, text);
    free(text);
    snprintf(png, sizeof png, "%s.png", svg);
    char *at72[] = {"/usr/bin/rsvg-convert", "-d", "72", "-p", "72", (char *)svg, "-o", png, NULL};
    assert_int_equal(t_run(at72, NULL, out, sizeof out), 0);
    png_size(png, &w, &h);
    if (w72) { /* a sheet: its size in points (rounded up), at 72 pixels an inch */
        assert_int_equal(w, w72);
        assert_int_equal(h, h72);
    }
    char *at150[] = {
        "/usr/bin/rsvg-convert", "-d", "150", "-p", "150", (char *)svg, "-o", png, NULL};
    assert_int_equal(t_run(at150, NULL, out, sizeof out), 0);
    assert_codes(m, png, from, to);
}

/* owb-mint labels on a small batch: A4 and Letter, PDF and SVG, one page
 * and several. */
static void test_labels_sheets(void **state)
{
    (void)state;
    char batch[4096], out[4096], path[4096];
    struct owb_manifest m;
    snprintf(batch, sizeof batch, "%s/labels", dir);
    char *mint[] = {OWB_MINT_BIN, "batch", "--count",  "5",
                    "--prefix",   "lb-",   "--server", "https://setup.example.com/",
                    "--out-dir",  batch,   NULL};
    assert_int_equal(t_run(mint, NULL, out, sizeof out), 0);
    read_manifest(batch, &m);
    assert_int_equal(m.n, 5);

    /* Defaults: one A4 PDF of 3 x 8 beside the manifest, mode 0600. */
    char *a4[] = {OWB_MINT_BIN, "labels", batch, NULL};
    assert_int_equal(t_run(a4, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "5 labels on 1 A4 sheet(s) of 3 x 8"));
    snprintf(path, sizeof path, "%s/labels.pdf", batch);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_pdf(&m, path, "Page size:       595.276 x 841.89 pts (A4)", 1, 24);

    /* Letter, 2 x 2: two pages. */
    snprintf(path, sizeof path, "%s/letter.pdf", batch);
    char *letter[] = {OWB_MINT_BIN, "labels", batch,   "--paper", "letter",    "--columns", "2",
                      "--rows",     "2",      "--out", path,      "--outline", NULL};
    assert_int_equal(t_run(letter, NULL, out, sizeof out), 0);
    assert_pdf(&m, path, "Page size:       612 x 792 pts (letter)", 2, 4);

    /* SVG: one file a page, numbered. */
    snprintf(path, sizeof path, "%s/sheet.svg", batch);
    char *svg[] = {OWB_MINT_BIN, "labels", batch, "--format", "svg", "--out", path, NULL};
    assert_int_equal(t_run(svg, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/sheet-1.svg", batch);
    assert_svg_sheet(&m, path, "width=\"210mm\" height=\"297mm\"", 596, 842, 0, 5);
    snprintf(path, sizeof path, "%s/manifest.csv", batch);
    char *svg_letter[] = {OWB_MINT_BIN, "labels", path,     "--format", "svg",
                          "--paper",    "letter", "--rows", "1",        NULL};
    assert_int_equal(t_run(svg_letter, NULL, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/labels-2.svg", batch);
    assert_svg_sheet(&m, path, "width=\"8.5in\" height=\"11in\"", 612, 792, 3, 5);
    snprintf(path, sizeof path, "%s/labels-3.svg", batch);
    assert_int_not_equal(access(path, F_OK), 0);

    /* Each device's own label (batch's SVG) holds its id and claim code too. */
    for (size_t i = 0; i < m.n; i++) {
        snprintf(path, sizeof path, "%s/%s.svg", batch, m.e[i].id);
        assert_svg_sheet(&m, path, "<text", 0, 0, i, i + 1);
    }
    owb_manifest_free(&m);
}

/* Writes text as DIR/bad/manifest.csv and runs labels on it: exit 1 and a
 * message holding want. */
static void assert_refused(const char *text, size_t len, const char *want)
{
    char bad[4096], path[4200], out[4096];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    mkdir(bad, 0700);
    snprintf(path, sizeof path, "%s/manifest.csv", bad);
    FILE *f = fopen(path, "w");
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    char *argv[] = {OWB_MINT_BIN, "labels", bad, NULL};
    assert_int_equal(t_run_err(argv, NULL, out, sizeof out), 1);
    if (!strstr(out, want))
        fail_msg("wanted \"%s\" in: %s", want, out);
    snprintf(path, sizeof path, "%s/labels.pdf", bad);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* A damaged manifest is refused, with the line and what is wrong. */
static void test_labels_damaged_manifest(void **state)
{
    (void)state;
    const char *h = "id,setup_url,ap_ssid,qr_file\n";
    const char *good = "d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS,OWB-d1,d1.svg\n";
    char text[2048], out[4096];

    /* The good line is accepted; so are CRLF lines, as a spreadsheet saves
     * them (the error below is on line 3, not 2). */
    snprintf(text, sizeof text, "%s%s", h, good);
    char path[4096];
    snprintf(path, sizeof path, "%s/good.csv", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    char *ok[] = {OWB_MINT_BIN, "labels", path, "--format", "svg", NULL};
    assert_int_equal(t_run(ok, NULL, out, sizeof out), 0);
    assert_refused("id,setup_url,ap_ssid,qr_file\r\nd1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS,"
                   "OWB-d1,\r\nd2,x\r\n",
                   strlen("id,setup_url,ap_ssid,qr_file\r\nd1,https://x.example/s/d1#c="
                          "ABCDEFGHJKMNPQRS,OWB-d1,\r\nd2,x\r\n"),
                   "line 3: not 4 fields");

    /* Cut short: the last line has no newline. */
    snprintf(text, sizeof text, "%s%s", h, good);
    assert_refused(text, strlen(text) - 20, "line 2: ends without a newline");
    assert_refused(h, strlen(h), "holds no devices");
    assert_refused("id,url\n", 7, "does not start with the header line");
    assert_refused("", 0, "does not start with the header line");
    assert_refused("id,setup_url,ap_ssid,qr_file\n\0\n", 31, "NUL byte");
    const struct {
        const char *line, *want;
    } bad[] = {
        {"d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQR,OWB-d1,\n", "line 2: the setup URL"},
        {"d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRU,OWB-d1,\n", "line 2: the setup URL"},
        {"d1,https://x.example/s/d2#c=ABCDEFGHJKMNPQRS,OWB-d1,\n", "line 2: the setup URL"},
        {"d1,ftp://x.example/s/d1#c=ABCDEFGHJKMNPQRS,OWB-d1,\n", "line 2: the setup URL"},
        {"d1,https://x.example/d1#c=ABCDEFGHJKMNPQRS,OWB-d1,\n", "line 2: the setup URL"},
        {"d 1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS,OWB-d1,\n", "is not a device id"},
        {"d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS,OWB-d2,\n", "AP SSID or QR file"},
        {"d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS,OWB-d1,d2.svg\n", "AP SSID or QR file"},
        {"d1,https://x.example/s/d1#c=ABCDEFGHJKMNPQRS\n", "not 4 fields"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", h, bad[i].line);
        assert_refused(text, strlen(text), bad[i].want);
    }
    snprintf(text, sizeof text, "%s%s%s", h, good, good);
    assert_refused(text, strlen(text), "device d1 appears twice");

    /* Labels too small to read or scan are refused, not printed. */
    char *tiny[] = {OWB_MINT_BIN, "labels", path, "--columns", "10", "--rows", "40", NULL};
    assert_int_equal(t_run_err(tiny, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "too small"));
    /* Usage: no manifest, two, a margin that leaves nothing; one missing. */
    char *none[] = {OWB_MINT_BIN, "labels", NULL};
    assert_int_equal(t_run_err(none, NULL, out, sizeof out), 2);
    char *two[] = {OWB_MINT_BIN, "labels", path, path, NULL};
    assert_int_equal(t_run_err(two, NULL, out, sizeof out), 2);
    char *paper[] = {OWB_MINT_BIN, "labels", path, "--paper", "a3", NULL};
    assert_int_equal(t_run_err(paper, NULL, out, sizeof out), 2);
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    char *missing[] = {OWB_MINT_BIN, "labels", path, NULL};
    assert_int_equal(t_run_err(missing, NULL, out, sizeof out), 1);
    assert_non_null(strstr(out, "missing.csv"));
}

/* What a label prints is what a person can type: the grouped claim code,
 * in lowercase or with spaces, is the same claim for the server
 * (owb_claim_hash normalises it); and the PNG's own font draws every
 * character an id or a claim code can hold. */
static void test_label_text_typed_back(void **state)
{
    (void)state;
    const char *claim = "ABCDEFGHJKMNPQRS";
    char grouped[OWB_CLAIM_GROUPED_SIZE], lower[OWB_CLAIM_GROUPED_SIZE];
    uint8_t want[OWB_CLAIM_HASH_BYTES], got[OWB_CLAIM_HASH_BYTES];

    owb_claim_grouped(claim, grouped);
    assert_string_equal(grouped, "ABCD-EFGH-JKMN-PQRS");
    assert_int_equal(owb_claim_hash("owb-0123456789", claim, 16, want), OWB_OK);
    assert_int_equal(owb_claim_hash("owb-0123456789", grouped, strlen(grouped), got), OWB_OK);
    assert_memory_equal(got, want, sizeof want);
    for (size_t i = 0; grouped[i]; i++)
        lower[i] = grouped[i] == '-' ? ' ' : (char)(grouped[i] | 0x20);
    lower[OWB_CLAIM_GROUPED_SIZE - 1] = '\0';
    assert_int_equal(owb_claim_hash("owb-0123456789", lower, strlen(lower), got), OWB_OK);
    assert_memory_equal(got, want, sizeof want);

    assert_true(owb_label_font_covers("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz._- DEVICE ID CLAIM CODE"));
    assert_false(owb_label_font_covers("#"));

    /* A device's PNG label: twice as wide as high, the code still reads. */
    struct owb_qr_opts qo = {OWB_QR_PNG, 'M', 4, 4};
    const char *url = "https://setup.example.com/s/Ab.c_d-0#c=ABCDEFGHJKMNPQRS";
    char path[4096], out[1024];
    unsigned w, h;
    snprintf(path, sizeof path, "%s/label.png", dir);
    assert_int_equal(owb_label_write("Ab.c_d-0", claim, url, &qo, path, 0), OWB_OK);
    png_size(path, &w, &h);
    assert_int_equal(w, 2 * h);
    zbar(path, out, sizeof out);
    assert_string_equal(out, url);
    /* Nothing it cannot print safely. */
    assert_int_equal(owb_label_write("a<b", claim, url, &qo, path, 0), OWB_ERR_INVALID_ARG);
    assert_int_equal(owb_label_write("ab", "ABCDEFGHJKMNPQRU", url, &qo, path, 0),
                     OWB_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_end_to_end),
        cmocka_unit_test(test_pk_suite),
        cmocka_unit_test(test_qr_levels_and_formats),
        cmocka_unit_test(test_wifi_code_escaping),
        cmocka_unit_test(test_batch_unique_and_complete),
        cmocka_unit_test(test_batch_with_qr_codes),
        cmocka_unit_test(test_batch_summary_is_json),
        cmocka_unit_test(test_batch_interrupted_leaves_no_records),
        cmocka_unit_test(test_labels_sheets),
        cmocka_unit_test(test_labels_damaged_manifest),
        cmocka_unit_test(test_label_text_typed_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
