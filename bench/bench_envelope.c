/* Envelope cost on one core: a server-sealed bundle built the way
 * owb-server builds one (W to JSON, inner seal under the app key, P to
 * JSON, outer seal under Kb, base64url), next to two bare
 * crypto_aead_xchacha20poly1305_ietf_encrypt calls on the same sizes in
 * the same process. Prints "name value" lines for bench/run.sh.
 *
 *   owb-bench-envelope [SECONDS per measurement, default 1]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/wifi.h"

#define ID "bench-0001"

struct fixture {
    uint8_t app_key[32], bundle_key[32];
    uint8_t server_sk[64], server_pk[32], device_pk[32], device_sk[64]; /* pk suite */
    struct owb_wifi wifi;
    struct owb_payload p;
    char w_json[OWB_WIFI_JSON_MAX + 1], p_json[OWB_PAYLOAD_MAX];
    uint8_t bundle[OWB_BUNDLE_MAX];
    char b64[OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX)];
    size_t w_len, p_len, bundle_len;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "owb-bench-envelope: %s failed\n", what);
    exit(1);
}

/* One bundle, as routes_setup.c makes it (both nonces from one call); pk:
 * the same bundle in the pk suite, an X25519 pair per bundle and an
 * Ed25519 signature instead of a key derived once per device. */
static void build_bundle(struct fixture *f, uint64_t counter, bool pk)
{
    uint8_t nonces[2 * OWB_NONCE_BYTES];
    enum owb_err rc;

    randombytes_buf(nonces, sizeof nonces);
    if (owb_wifi_to_json(&f->wifi, f->w_json, sizeof f->w_json, &f->w_len) != OWB_OK)
        die("owb_wifi_to_json");
    if (owb_wifi_blob_seal(f->app_key, ID, (const uint8_t *)f->w_json, f->w_len, nonces,
                           f->p.wifi_blob, sizeof f->p.wifi_blob, &f->p.wifi_blob_len) != OWB_OK)
        die("owb_wifi_blob_seal");
    if (owb_payload_to_json(&f->p, f->p_json, sizeof f->p_json, &f->p_len) != OWB_OK)
        die("owb_payload_to_json");
    if (pk)
        rc = owb_pk_bundle_seal(f->server_sk, f->device_pk, ID, counter, (const uint8_t *)f->p_json,
                                f->p_len, NULL, nonces + OWB_NONCE_BYTES, f->bundle,
                                sizeof f->bundle, &f->bundle_len);
    else
        rc = owb_bundle_seal(f->bundle_key, ID, counter, (const uint8_t *)f->p_json, f->p_len,
                             nonces + OWB_NONCE_BYTES, f->bundle, sizeof f->bundle, &f->bundle_len);
    if (rc != OWB_OK)
        die(pk ? "owb_pk_bundle_seal" : "owb_bundle_seal");
    if (owb_b64_encode(f->bundle, f->bundle_len, f->b64, sizeof f->b64) != OWB_OK)
        die("owb_b64_encode");
}

/* The floor: the two AEAD calls alone, same key sizes, same lengths, same
 * additional data lengths. */
static void raw_pair(struct fixture *f, const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
                     size_t aad2_len, const uint8_t nonce[24])
{
    static uint8_t out[OWB_BUNDLE_MAX];
    unsigned long long n;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &n, (const uint8_t *)f->w_json, f->w_len, aad1,
                                               aad1_len, NULL, nonce, f->app_key);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out, &n, (const uint8_t *)f->p_json, f->p_len, aad2,
                                               aad2_len, NULL, nonce, f->bundle_key);
}

/* The bundle's steps one at a time (explicit nonces), to see where the
 * time goes. */
static uint8_t stage_nonce[24];
static void st_random(struct fixture *f)
{
    (void)f;
    randombytes_buf(stage_nonce, sizeof stage_nonce);
}
static void st_w_json(struct fixture *f)
{
    if (owb_wifi_to_json(&f->wifi, f->w_json, sizeof f->w_json, &f->w_len) != OWB_OK)
        die("owb_wifi_to_json");
}
static void st_inner(struct fixture *f)
{
    if (owb_wifi_blob_seal(f->app_key, ID, (const uint8_t *)f->w_json, f->w_len, stage_nonce,
                           f->p.wifi_blob, sizeof f->p.wifi_blob, &f->p.wifi_blob_len) != OWB_OK)
        die("owb_wifi_blob_seal");
}
static void st_p_json(struct fixture *f)
{
    if (owb_payload_to_json(&f->p, f->p_json, sizeof f->p_json, &f->p_len) != OWB_OK)
        die("owb_payload_to_json");
}
static void st_outer(struct fixture *f)
{
    if (owb_bundle_seal(f->bundle_key, ID, 7, (const uint8_t *)f->p_json, f->p_len, stage_nonce,
                        f->bundle, sizeof f->bundle, &f->bundle_len) != OWB_OK)
        die("owb_bundle_seal");
}
static void st_b64(struct fixture *f)
{
    if (owb_b64_encode(f->bundle, f->bundle_len, f->b64, sizeof f->b64) != OWB_OK)
        die("owb_b64_encode");
}

static double ns_per_op(void (*fn)(struct fixture *), struct fixture *f, double seconds)
{
    unsigned long n = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 256; k++, n++)
            fn(f);
    } while ((t = now() - t0) < seconds);
    return t * 1e9 / (double)n;
}

/* The fixture every measurement seals from: a Wi-Fi, a payload, both
 * suites' keys, one bundle already built. */
static struct fixture *make_fixture(uint8_t device_key[32])
{
    struct fixture *f = owb_secret_alloc(sizeof *f);

    if (!f)
        die("owb_secret_alloc");
    randombytes_buf(f->app_key, 32);
    randombytes_buf(device_key, 32);
    owb_kdf_bundle_key(f->bundle_key, device_key);
    strcpy(f->wifi.ssid, "Home Network 5G");
    f->wifi.ssid_len = strlen(f->wifi.ssid);
    f->wifi.security = OWB_SEC_WPA2_PSK;
    strcpy(f->wifi.psk, "correct horse battery staple");
    snprintf(f->p.checkin_url, sizeof f->p.checkin_url,
             "https://setup.example.com/v1/devices/%s/checkin", ID);
    f->p.has_issued_at = true;
    f->p.issued_at = 1795000000;
    build_bundle(f, 1, false);
    crypto_sign_keypair(f->server_pk, f->server_sk);
    crypto_sign_keypair(f->device_pk, f->device_sk);
    return f;
}

/* Server-sealed bundles against bare AEAD pairs, interleaved in rounds so
 * that a frequency change hits both alike. Returns bundles per second. */
static double bench_sym(struct fixture *f, double seconds)
{
    uint8_t nonce[24], aad1[OWB_WIFI_AAD_MAX], aad2[OWB_BUNDLE_HEADER_MAX];
    size_t aad1_len, aad2_len;
    unsigned long iters = 0, raw_iters = 0;
    double t0, bundle_s = 0, raw_s = 0;

    randombytes_buf(nonce, sizeof nonce);
    if (owb_wifi_aad(ID, aad1, sizeof aad1, &aad1_len) != OWB_OK ||
        owb_bundle_header_write(ID, 1, aad2, sizeof aad2, &aad2_len) != OWB_OK)
        die("aad");
    for (int round = 0; round < 10; round++) {
        double slice = seconds / 10;
        t0 = now();
        do {
            for (int k = 0; k < 256; k++)
                build_bundle(f, ++iters, false);
        } while (now() - t0 < slice);
        bundle_s += now() - t0;
        t0 = now();
        do {
            for (int k = 0; k < 256; k++, raw_iters++)
                raw_pair(f, aad1, aad1_len, aad2, aad2_len, nonce);
        } while (now() - t0 < slice);
        raw_s += now() - t0;
    }
    printf("w_bytes %zu\np_bytes %zu\nbundle_bytes %zu\nbundle_b64_bytes %zu\nheader_bytes %zu\n",
           f->w_len, f->p_len, f->bundle_len, strlen(f->b64), aad2_len);
    printf("bundles_per_s %.0f\nraw_pairs_per_s %.0f\nratio %.2f\n", (double)iters / bundle_s,
           (double)raw_iters / raw_s, ((double)raw_iters / raw_s) / ((double)iters / bundle_s));
    return (double)iters / bundle_s;
}

/* The pk suite: sealing on the server, opening on the device. */
static void bench_pk(struct fixture *f, double seconds, double sym_per_s)
{
    struct owb_bundle_header h;
    uint8_t p[OWB_PAYLOAD_MAX];
    size_t p_len;
    unsigned long pk_iters = 0, opens = 0;
    double t = now();

    do {
        for (int k = 0; k < 64; k++)
            build_bundle(f, ++pk_iters, true);
    } while (now() - t < seconds / 2);
    t = now() - t;
    printf("pk_bundles_per_s %.0f\npk_bundle_bytes %zu\npk_cost_vs_sym %.2f\n",
           (double)pk_iters / t, f->bundle_len, sym_per_s / ((double)pk_iters / t));
    if (owb_bundle_header_parse(f->bundle, f->bundle_len, &h) != OWB_OK)
        die("owb_bundle_header_parse");
    t = now();
    do {
        for (int k = 0; k < 64; k++, opens++)
            if (owb_pk_bundle_open(f->device_sk, (const uint8_t(*)[32])f->server_pk, 1, &h,
                                   f->bundle, f->bundle_len, p, sizeof p, &p_len) != OWB_OK)
                die("owb_pk_bundle_open");
    } while (now() - t < seconds / 4);
    printf("pk_opens_per_s %.0f\n", (double)opens / (now() - t));
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    uint8_t device_key[32];
    struct fixture *f;
    static const struct {
        const char *name;
        void (*fn)(struct fixture *);
    } stages[] = {{"random_nonce", st_random}, {"w_json", st_w_json},    {"inner_seal", st_inner},
                  {"p_json", st_p_json},       {"outer_seal", st_outer}, {"base64url", st_b64}};

    if (owb_init() != OWB_OK)
        die("owb_init");
    if (seconds <= 0)
        seconds = 1.0;
    f = make_fixture(device_key);
    bench_pk(f, seconds, bench_sym(f, seconds));
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        printf("ns_%s %.0f\n", stages[i].name, ns_per_op(stages[i].fn, f, seconds / 4));
    sodium_memzero(device_key, sizeof device_key);
    owb_secret_free(f);
    return 0;
}
