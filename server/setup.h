/* How the server makes a bundle (routes_setup.c), in phases, for the two
 * routes that hand one out: a setup (POST /v1/setup/{id}) and a rollout
 * in a heartbeat's answer (routes_heartbeat.c), so that a rollout bundle
 * is made exactly like a server-sealed setup bundle.
 *
 *   owb_setup_wifi    W from the device's assigned network, sealed with
 *                     s->app_key (wiped once used);
 *   owb_setup_derive  the bundle key (symmetric) or a check that the
 *                     signing key is there (pk), the AP passphrase, P;
 *   owb_setup_issue   the next counter and its session row;
 *   owb_setup_seal    the bundle under that counter, raw and in base64url.
 *
 * Ownership: struct setup_secrets lives in secret memory
 * (owb_secret_scratch); struct setup_work is wiped by its owner. */
#ifndef OWB_SERVER_SETUP_H
#define OWB_SERVER_SETUP_H

#include "app.h"
#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/kdf.h"
#include "owb/payload.h"
#include "owb/wifi.h"

struct setup_secrets {
    uint8_t device_key[OWB_DEVICE_KEY_BYTES];
    uint8_t bundle_key[OWB_BUNDLE_KEY_BYTES];
    uint8_t app_key[OWB_APP_KEY_BYTES];
    struct owb_wifi wifi;
    char wifi_json[OWB_WIFI_JSON_MAX];
    uint8_t psk[OWB_PSK_MAX + 1];
    char ap_pass[OWB_AP_PASSPHRASE_SIZE];
};

struct setup_work {
    const char *id; /* validated by the router */
    bool pk;
    /* The device; a setup reads its network with it (net_read), a
     * rollout's bundle reads it in owb_setup_wifi. */
    struct owb_setup_read read;
    bool net_read;
    struct owb_payload payload;
    char p_json[OWB_PAYLOAD_MAX + 6];
    size_t p_len;
    uint64_t counter;
    uint8_t bundle[OWB_BUNDLE_MAX];
    size_t bundle_len;
    char bundle_b64[OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX)];
    char session[OWB_SESSION_SIZE];
    /* Both layers' nonces from one getrandom call: a system call per
     * nonce was a fifth of a bundle's cost (bench/bench_envelope.c). */
    uint8_t nonces[2 * OWB_NONCE_BYTES];
};

/* OWB_ERR_CONFLICT (*why set) when the device has no network or it is
 * gone; w->nonces must be drawn. */
enum owb_err owb_setup_wifi(struct owb_app *app, struct setup_work *w, struct setup_secrets *s,
                            const char **why) OWB_MUST_CHECK;
enum owb_err owb_setup_derive(struct owb_app *app, struct setup_work *w,
                              struct setup_secrets *s) OWB_MUST_CHECK;
enum owb_err owb_setup_issue(struct owb_app *app, const char *mode,
                             struct setup_work *w) OWB_MUST_CHECK;
enum owb_err owb_setup_seal(struct owb_app *app, struct setup_work *w,
                            const struct setup_secrets *s) OWB_MUST_CHECK;

#endif
