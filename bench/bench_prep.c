/* Inputs for the HTTP benchmarks (bench/run.sh, bench/wrk/owb.lua).
 *
 *   owb-bench-prep fleet N DIR SAMPLE
 *       DIR/records.jsonl: N devices (bench-0000000 ...) for
 *       'owb-server device import'; DIR/targets.txt: SAMPLE of them drawn
 *       across the whole fleet, one "id claim wifi-blob" line each (the
 *       blob seals a W under the app key in DIR/app_key.txt, for the
 *       app-sealed mode); DIR/keys.txt: "id hex-device-key" of the sample.
 *   owb-bench-prep checkins SERVER TOKEN DIR COUNT
 *       asks SERVER for one bundle for each of the first 256 sampled
 *       devices and writes DIR/checkins.txt: COUNT "path body" lines, each
 *       a check-in with a valid MAC and a fresh nonce.
 *   owb-bench-prep provision SERVER DEVICE-URL ID CLAIM STAMP
 *       gets an app-sealed bundle for ID from SERVER, then times the POST
 *       to the device: prints "apply_us N", from just before the request
 *       to the time owb-bench-stamp (the device's backend) wrote to STAMP.
 *   owb-bench-prep spawn PROGRAM STAMP
 *       prints "spawn_us N": the same for starting PROGRAM apply directly,
 *       the part of apply_us that is the backend's own start.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/claim.h"
#include "owb/envelope.h"
#include "owb/json.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/record.h"
#include "curl_http.h"

#define W_TEXT "{\"ssid\":\"Bench Net\",\"security\":\"wpa2-psk\",\"psk\":\"bench-passphrase\"}"
#define CHECKIN_DEVICES 256

static int fail(const char *what)
{
    fprintf(stderr, "owb-bench-prep: %s\n", what);
    return 1;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        perror(path);
    return f;
}

static int fleet(unsigned long n, const char *dir, unsigned long sample)
{
    struct owb_record *r = owb_secret_alloc(sizeof *r);
    uint8_t app_key[32], blob[OWB_WIFI_BLOB_MAX];
    char line[OWB_RECORD_LINE_MAX + 2], ak[64], blob64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
    char hex[65];
    FILE *rec = open_out(dir, "records.jsonl"), *tgt = open_out(dir, "targets.txt");
    FILE *keys = open_out(dir, "keys.txt"), *akf = open_out(dir, "app_key.txt");
    size_t len, blen;
    int ret = 1;

    if (!r || !rec || !tgt || !keys || !akf || sample == 0 || sample > n)
        goto out;
    randombytes_buf(app_key, sizeof app_key);
    if (owb_b64_encode(app_key, 32, ak, sizeof ak) != OWB_OK)
        goto out;
    fprintf(akf, "%s\n", ak);
    for (unsigned long i = 0; i < n; i++) {
        snprintf(r->device_id, sizeof r->device_id, "bench-%07lu", i);
        randombytes_buf(r->device_key, sizeof r->device_key);
        owb_claim_generate(r->claim_code);
        if (owb_record_to_line(r, line, sizeof line, &len) != OWB_OK)
            goto out;
        fwrite(line, 1, len, rec);
        /* Every (n / sample)-th device: the sample spans the whole fleet. */
        if (i % (n / sample) != 0 || i / (n / sample) >= sample)
            continue;
        if (owb_wifi_blob_seal(app_key, r->device_id, (const uint8_t *)W_TEXT, strlen(W_TEXT), NULL,
                               blob, sizeof blob, &blen) != OWB_OK ||
            owb_b64_encode(blob, blen, blob64, sizeof blob64) != OWB_OK)
            goto out;
        sodium_bin2hex(hex, sizeof hex, r->device_key, 32);
        fprintf(tgt, "%s %s %s\n", r->device_id, r->claim_code, blob64);
        fprintf(keys, "%s %s\n", r->device_id, hex);
    }
    ret = 0;
out:
    if (rec && fclose(rec) != 0)
        ret = 1;
    if (tgt && fclose(tgt) != 0)
        ret = 1;
    if (keys && fclose(keys) != 0)
        ret = 1;
    if (akf && fclose(akf) != 0)
        ret = 1;
    sodium_memzero(app_key, sizeof app_key);
    owb_secret_free(r);
    return ret ? fail("could not write the fleet") : 0;
}

struct issued {
    char id[OWB_DEVICE_ID_SIZE];
    uint8_t checkin_key[32];
    uint64_t counter;
};

/* One bundle for each device: the counter a check-in must name. */
static int issue(const char *server, const char *token, const char *dir, struct issued *dev, int *n)
{
    char path[4096], id[OWB_DEVICE_ID_SIZE], claim[OWB_CLAIM_SIZE], hex[65], ak[64];
    char url[1024], body[512], *resp = NULL;
    uint8_t key[32];
    FILE *tgt, *keys, *akf;
    int ret = 0;

    snprintf(path, sizeof path, "%s/targets.txt", dir);
    tgt = fopen(path, "r");
    snprintf(path, sizeof path, "%s/keys.txt", dir);
    keys = fopen(path, "r");
    snprintf(path, sizeof path, "%s/app_key.txt", dir);
    akf = fopen(path, "r");
    if (!tgt || !keys || !akf || fscanf(akf, "%63s", ak) != 1)
        ret = fail("run 'owb-bench-prep fleet' first");
    for (*n = 0; ret == 0 && *n < CHECKIN_DEVICES; (*n)++) {
        cJSON *answer = NULL;
        if (fscanf(tgt, "%32s %19s %*s", id, claim) != 2 || fscanf(keys, "%*s %64s", hex) != 1)
            break;
        snprintf(url, sizeof url, "%s/v1/setup/%s", server, id);
        snprintf(body, sizeof body, "{\"claim\":\"%s\",\"app_key\":\"%s\"}", claim, ak);
        long st = owb_curl_request("POST", url, token, body, &resp);
        if (st != 200 || owb_json_parse(resp, strlen(resp), &answer) != OWB_OK ||
            owb_json_uint(answer, "counter", &dev[*n].counter) != OWB_OK) {
            fprintf(stderr, "owb-bench-prep: setup %s: HTTP %ld %s\n", id, st, resp ? resp : "");
            ret = 1;
        }
        cJSON_Delete(answer);
        free(resp);
        resp = NULL;
        if (sodium_hex2bin(key, 32, hex, 64, NULL, NULL, NULL) != 0)
            ret = fail("keys.txt is damaged");
        snprintf(dev[*n].id, sizeof dev[*n].id, "%s", id);
        owb_kdf_checkin_key(dev[*n].checkin_key, key);
    }
    sodium_memzero(key, sizeof key);
    if (tgt)
        fclose(tgt);
    if (keys)
        fclose(keys);
    if (akf)
        fclose(akf);
    return ret;
}

static int checkins(const char *server, const char *token, const char *dir, unsigned long count)
{
    struct issued *dev = owb_secret_alloc(CHECKIN_DEVICES * sizeof *dev);
    uint8_t nonce[OWB_CHECKIN_NONCE_BYTES], mac[OWB_CHECKIN_MAC_BYTES];
    char n64[32], m64[64];
    FILE *out = NULL;
    int n = 0, ret = 1;

    if (!dev || issue(server, token, dir, dev, &n) != 0 || n == 0)
        goto done;
    out = open_out(dir, "checkins.txt");
    if (!out)
        goto done;
    for (unsigned long i = 0; i < count; i++) {
        const struct issued *d = &dev[i % (unsigned long)n];
        randombytes_buf(nonce, sizeof nonce);
        if (owb_checkin_mac(d->checkin_key, d->id, d->counter, nonce, mac) != OWB_OK ||
            owb_b64_encode(nonce, sizeof nonce, n64, sizeof n64) != OWB_OK ||
            owb_b64_encode(mac, sizeof mac, m64, sizeof m64) != OWB_OK)
            goto done;
        fprintf(out, "/v1/devices/%s/checkin {\"counter\":%llu,\"nonce\":\"%s\",\"mac\":\"%s\"}\n",
                d->id, (unsigned long long)d->counter, n64, m64);
    }
    ret = 0;
done:
    if (out && fclose(out) != 0)
        ret = 1;
    if (dev)
        owb_secret_free(dev);
    return ret;
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The time in STAMP once it is written (up to 10 s), or -1. */
static long long wait_stamp(const char *path)
{
    for (int i = 0; i < 10000; i++) {
        FILE *f = fopen(path, "r");
        long long t = -1;
        if (f) {
            int got = fscanf(f, "%lld", &t);
            fclose(f);
            if (got == 1)
                return t;
        }
        nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    }
    return -1;
}

static int provision(const char *server, const char *device, const char *id, const char *claim,
                     const char *stamp)
{
    uint8_t app_key[32], blob[OWB_WIFI_BLOB_MAX];
    char ak[64], blob64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)], url[1024];
    char body[OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX) + 256], *resp = NULL;
    cJSON *answer = NULL;
    size_t blen;
    long long t0, t1;
    long st;
    int ret = 1;

    randombytes_buf(app_key, sizeof app_key);
    if (owb_wifi_blob_seal(app_key, id, (const uint8_t *)W_TEXT, strlen(W_TEXT), NULL, blob,
                           sizeof blob, &blen) != OWB_OK ||
        owb_b64_encode(blob, blen, blob64, sizeof blob64) != OWB_OK ||
        owb_b64_encode(app_key, 32, ak, sizeof ak) != OWB_OK)
        goto out;
    snprintf(url, sizeof url, "%s/v1/setup/%s", server, id);
    snprintf(body, sizeof body, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", claim, blob64);
    st = owb_curl_request("POST", url, NULL, body, &resp);
    if (st != 200 || owb_json_parse(resp, strlen(resp), &answer) != OWB_OK ||
        !owb_json_string(answer, "bundle")) {
        fprintf(stderr, "owb-bench-prep: setup %s: HTTP %ld %s\n", id, st, resp ? resp : "");
        goto out;
    }
    snprintf(body, sizeof body, "{\"bundle\":\"%s\",\"app_key\":\"%s\"}",
             owb_json_string(answer, "bundle"), ak);
    free(resp);
    resp = NULL;
    unlink(stamp);
    snprintf(url, sizeof url, "%s/v1/provision", device);
    t0 = now_ns();
    st = owb_curl_request("POST", url, NULL, body, &resp);
    if (st != 202) {
        fprintf(stderr, "owb-bench-prep: provision: HTTP %ld %s\n", st, resp ? resp : "");
        goto out;
    }
    t1 = wait_stamp(stamp);
    if (t1 < 0) {
        fprintf(stderr, "owb-bench-prep: the backend was not called within 10 s\n");
        goto out;
    }
    printf("apply_us %.1f\n", (double)(t1 - t0) / 1e3);
    ret = 0;
out:
    sodium_memzero(app_key, sizeof app_key);
    cJSON_Delete(answer);
    free(resp);
    return ret;
}

static int spawn_cost(char *prog, const char *stamp)
{
    extern char **environ;
    char apply[] = "apply";
    char *argv[] = {prog, apply, NULL};
    long long t0, t1;
    pid_t pid;
    int status;

    unlink(stamp);
    setenv("OWB_BENCH_STAMP", stamp, 1);
    t0 = now_ns();
    if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("could not run the backend program");
    t1 = wait_stamp(stamp);
    if (t1 < 0)
        return fail("the backend program wrote no stamp");
    printf("spawn_us %.1f\n", (double)(t1 - t0) / 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    if (owb_init() != OWB_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return fail("cannot start libsodium or libcurl");
    if (argc == 5 && !strcmp(argv[1], "fleet"))
        return fleet(strtoul(argv[2], NULL, 10), argv[3], strtoul(argv[4], NULL, 10));
    if (argc == 6 && !strcmp(argv[1], "checkins"))
        return checkins(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 10));
    if (argc == 7 && !strcmp(argv[1], "provision"))
        return provision(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 4 && !strcmp(argv[1], "spawn"))
        return spawn_cost(argv[2], argv[3]);
    fprintf(stderr, "Usage: owb-bench-prep fleet N DIR SAMPLE\n"
                    "       owb-bench-prep checkins SERVER TOKEN DIR COUNT\n"
                    "       owb-bench-prep provision SERVER DEVICE-URL ID CLAIM STAMP\n"
                    "       owb-bench-prep spawn PROGRAM STAMP\n");
    return 2;
}
