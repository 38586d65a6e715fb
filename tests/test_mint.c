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

#include "mint.h"
#include "owb/base64.h"
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
