/* owb-demo-client: goes through the setup flow the way the setup page and
 * the hand-off page do, against a running owb-server and owb-device:
 *   1. open the setup page, make an app key;
 *   2. ask the server for a bundle (server-sealed with an installer token,
 *      or app-sealed: the Wi-Fi settings sealed here with the app key);
 *   3. hand bundle and app key to the device (POST /v1/provision);
 *   4. follow the device's /v1/status to its outcome, as the hand-off page
 *      does (applying, checking_in, then joined or failed), and confirm a
 *      success on the server's session.
 * Prints "outcome: online" and exits 0, or "outcome: failed (REASON)" and
 * exits 1. Used by tools/demo.sh, the README's first command, and by the
 * Wi-Fi VM scenarios (tests/wifi/scenarios.sh), which read its output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "owb/base64.h"
#include "owb/cli.h"
#include "owb/envelope.h"
#include "owb/json.h"
#include "owb/mem.h"
#include "owb/wifi.h"
#include "curl_http.h"

/* Runs prog SSID PASSPHRASE (no shell) and waits for it: 0 when it
 * joined. */
static int join_device_ap(const char *prog, const cJSON *ap)
{
    const char *ssid = owb_json_string(ap, "ssid"), *pass = owb_json_string(ap, "passphrase");
    char *argv[] = {(char *)(uintptr_t)prog, (char *)(uintptr_t)ssid, (char *)(uintptr_t)pass,
                    NULL};
    int st;
    pid_t pid;

    if (!ssid || !pass)
        return -1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execv(prog, argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define PROG "owb-demo-client"

struct demo {
    const char *server, *device, *id, *claim, *token, *ssid, *psk, *security, *join_ap;
    unsigned mode;    /* index in "server|app" */
    unsigned timeout; /* seconds to follow the device to its outcome */
    bool hidden, no_follow;
    enum owb_security sec;
};

static const struct owb_opt demo_opts[] = {
    OWB_OPT_STR_("server", "URL", struct demo, server, "the provisioning server"),
    OWB_OPT_STR_("device-url", "URL", struct demo, device, "the device agent"),
    OWB_OPT_STR_("id", "ID", struct demo, id, "the device's id"),
    OWB_OPT_STR_("claim", "CODE", struct demo, claim, "the device's claim code"),
    OWB_OPT_CHOICE_("mode", "server|app", struct demo, mode,
                    "who seals the Wi-Fi settings (default server)"),
    OWB_OPT_STR_("token", "TOKEN", struct demo, token, "--mode server: an installer token"),
    OWB_OPT_STR_("ssid", "S", struct demo, ssid, "--mode app: the network (default DemoNet)"),
    OWB_OPT_STR_("psk", "P", struct demo, psk, "--mode app: its password"),
    OWB_OPT_STR_("security", "wpa2-psk|wpa3-sae|open", struct demo, security,
                 "--mode app: how it is secured (default wpa2-psk)"),
    OWB_OPT_FLAG_("hidden", struct demo, hidden, "--mode app: it hides its SSID"),
    OWB_OPT_STR_("join-ap", "PROG", struct demo, join_ap,
                 "run PROG SSID PASSPHRASE (the device's setup AP) before the hand-off, as a "
                 "person joins it"),
    OWB_OPT_FLAG_("no-follow", struct demo, no_follow,
                  "stop after the device's 202; print the session"),
    OWB_OPT_UINT_("timeout", "S", struct demo, timeout, 1, 3600,
                  "follow the device to its outcome for S seconds at most (default 300)"),
};

static int die(const char *what, long status, const char *body)
{
    fprintf(stderr, "owb-demo-client: %s: HTTP %ld %s\n", what, status, body ? body : "");
    return 1;
}

static int parse_options(int argc, char **argv, struct demo *d)
{
    const struct owb_opt_group groups[] = {{demo_opts, OWB_ARRAY_LEN(demo_opts), d}};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "--server URL --device-url URL --id ID --claim CODE "
                                         "[options]",
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    int next, ret;

    *d = (struct demo){.ssid = "DemoNet", .sec = OWB_SEC_WPA2_PSK, .timeout = 300};
    if ((ret = owb_cli_parse(&cli, argc, argv, &next)) != OWB_CLI_RUN)
        return ret;
    if (d->security && owb_security_parse(d->security, &d->sec) != OWB_OK)
        return owb_cli_usage_error(PROG, "--security takes wpa2-psk, wpa3-sae or open");
    if (next != argc || !d->server || !d->device || !d->id || !d->claim ||
        (d->mode == 0 && !d->token) || (d->mode == 1 && !d->psk && d->sec != OWB_SEC_OPEN))
        return owb_cli_usage_error(PROG, "missing arguments");
    return OWB_CLI_RUN;
}

/* {"k1":"v1","k2":"v2"} through the JSON writer (cJSON_free()). */
static char *json_pair(const char *k1, const char *v1, const char *k2, const char *v2)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o && cJSON_AddStringToObject(o, k1, v1) && cJSON_AddStringToObject(o, k2, v2))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void json_free(char *text)
{
    if (text) {
        sodium_memzero(text, strlen(text));
        cJSON_free(text);
    }
}

/* The Wi-Fi settings sealed "on the phone" with the app key, base64url. */
static bool seal_wifi(const struct demo *d, const uint8_t *app_key, char *b64, size_t cap)
{
    struct owb_wifi w = {0};
    char wjson[OWB_WIFI_JSON_MAX];
    uint8_t blob[OWB_WIFI_BLOB_MAX];
    size_t wlen, blen;
    bool ok;

    snprintf(w.ssid, sizeof w.ssid, "%s", d->ssid);
    w.ssid_len = strlen(w.ssid);
    w.security = d->sec;
    w.hidden = d->hidden;
    snprintf(w.psk, sizeof w.psk, "%s", d->psk ? d->psk : "");
    ok = owb_wifi_to_json(&w, wjson, sizeof wjson, &wlen) == OWB_OK &&
         owb_wifi_blob_seal(app_key, d->id, (const uint8_t *)wjson, wlen, NULL, blob, sizeof blob,
                            &blen) == OWB_OK &&
         owb_b64_encode(blob, blen, b64, cap) == OWB_OK;
    owb_wifi_wipe(&w);
    sodium_memzero(wjson, sizeof wjson);
    return ok;
}

/* Steps 1 and 2: the page, then a bundle; the server's answer in *answer. */
static int get_bundle(const struct demo *d, const uint8_t *app_key, const char *ak64,
                      cJSON **answer)
{
    char url[1024], b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)], *resp = NULL, *body;
    long st;

    snprintf(url, sizeof url, "%s/s/%s", d->server, d->id);
    st = owb_curl_request("GET", url, NULL, NULL, &resp);
    free(resp);
    if (st != 200)
        return die("setup page", st, NULL);
    printf("[phone]  opened %s#c=(claim code)\n", url);
    if (d->mode == 0) {
        body = json_pair("claim", d->claim, "app_key", ak64);
        printf("[phone]  asking for a server-sealed bundle (installer token, app key)\n");
    } else {
        if (!seal_wifi(d, app_key, b64, sizeof b64))
            return die("sealing the Wi-Fi settings", 0, "rule broken");
        body = json_pair("claim", d->claim, "wifi", b64);
        printf("[phone]  sealed \"%s\" with the app key; asking for an app-sealed bundle\n",
               d->ssid);
    }
    snprintf(url, sizeof url, "%s/v1/setup/%s", d->server, d->id);
    st = body ? owb_curl_request("POST", url, d->token, body, &resp) : -1;
    json_free(body);
    if (st != 200 || owb_json_parse(resp, strlen(resp), answer) != OWB_OK) {
        die("setup", st, resp);
        free(resp);
        return 1;
    }
    free(resp);
    return 0;
}

/* Step 3: bundle and app key to the device, as the hand-off page does. */
static int hand_off(const struct demo *d, const char *bundle, const char *ak64)
{
    char url[1024], *resp = NULL, *body = json_pair("bundle", bundle, "app_key", ak64);
    long st;

    snprintf(url, sizeof url, "%s/v1/provision", d->device);
    st = body ? owb_curl_request("POST", url, NULL, body, &resp) : -1;
    json_free(body);
    if (st != 202) {
        die("provision", st, resp);
        free(resp);
        return 1;
    }
    printf("[device] accepted: %s\n", resp);
    free(resp);
    return 0;
}

/* How often the phone asks, as the hand-off page does (it asks every 1 s). */
#define POLL_MS 250

static void pause_poll(void)
{
    nanosleep(&(struct timespec){0, POLL_MS * 1000000L}, NULL);
}

/* GET url; true when it answered 200 and its body holds want. */
static bool answers(const char *url, const char *want)
{
    char *resp = NULL;
    bool ok = owb_curl_request("GET", url, NULL, NULL, &resp) == 200 && strstr(resp, want);
    free(resp);
    return ok;
}

/* One look at the device's status: its state into state (prints it when it
 * is new) and, when failed, its reason into reason. False when the device
 * did not answer. */
static bool device_state(const char *url, char *state, size_t cap, char *reason, size_t rcap)
{
    char *resp = NULL;
    cJSON *o = NULL;
    const char *st = NULL, *why;
    bool ok = false;

    if (owb_curl_request("GET", url, NULL, NULL, &resp) == 200 &&
        owb_json_parse(resp, strlen(resp), &o) == OWB_OK &&
        (st = owb_json_string(o, "state")) != NULL) {
        ok = true;
        if (strcmp(st, state) != 0)
            printf("[device] state: %s\n", st);
        snprintf(state, cap, "%s", st);
        why = owb_json_string(o, "reason");
        snprintf(reason, rcap, "%s", why ? why : "");
    }
    cJSON_Delete(o);
    free(resp);
    return ok;
}

/* Step 4: the device to its outcome (joined: checked in; failed: the
 * reason), within --timeout. A device that can no longer be reached (a
 * backend that takes the setup AP down at the join) is followed on the
 * server's session instead; joined is confirmed there too. */
static int follow(const struct demo *d, const char *session)
{
    char dev_url[1024], sess_url[1024], state[32] = "", reason[64] = "";
    time_t end = time(NULL) + (time_t)d->timeout;
    const char *online = "\"state\":\"online\"";

    snprintf(dev_url, sizeof dev_url, "%s/v1/status", d->device);
    snprintf(sess_url, sizeof sess_url, "%s/v1/sessions/%s", d->server, session);
    while (time(NULL) < end && strcmp(state, "joined") != 0) {
        if (device_state(dev_url, state, sizeof state, reason, sizeof reason)) {
            if (strcmp(state, "failed") == 0) {
                printf("[device] failed: %s; its previous settings are back\n", reason);
                printf("outcome: failed (%s)\n", reason);
                return 1;
            }
        } else if (answers(sess_url, online)) {
            printf("[device] out of reach; the server has its check-in\n");
            break;
        }
        if (strcmp(state, "joined") != 0)
            pause_poll();
    }
    while (time(NULL) < end && !answers(sess_url, online))
        pause_poll();
    if (!answers(sess_url, online)) {
        printf("outcome: unknown (last state %s)\n", state[0] ? state : "none");
        return die("no outcome in time", 0, state);
    }
    printf("[server] device %s is online\n", d->id);
    printf("outcome: online\n");
    return 0;
}

/* Steps 2 to 4 once the server has answered. */
static int after_setup(const struct demo *d, const cJSON *answer, const char *ak64)
{
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(answer, "device_ap");
    const char *bundle = owb_json_string(answer, "bundle"),
               *session = owb_json_string(answer, "session");

    if (!bundle || !session)
        return die("setup", 200, "no bundle or session in the answer");
    printf("[server] bundle %.0f issued; join Wi-Fi \"%s\" (passphrase %s)\n",
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(answer, "counter")),
           owb_json_string(ap, "ssid"), "(hidden)");
    if (d->join_ap && join_device_ap(d->join_ap, ap) != 0)
        return die("joining the device's setup AP", 0, d->join_ap);
    if (hand_off(d, bundle, ak64) != 0)
        return 1;
    printf("session: %s\n", session);
    return d->no_follow ? 0 : follow(d, session);
}

int main(int argc, char **argv)
{
    struct demo d;
    uint8_t app_key[OWB_APP_KEY_BYTES];
    char ak64[OWB_B64_ENCODED_SIZE(OWB_APP_KEY_BYTES)];
    cJSON *answer = NULL;
    int ret;

    if ((ret = parse_options(argc, argv, &d)) != OWB_CLI_RUN)
        return ret;
    /* Whoever reads the output as it comes (the VM scenarios) sees each
     * line when it happens. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (owb_init() != OWB_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    /* An app key made on "the phone". */
    randombytes_buf(app_key, sizeof app_key);
    owb_b64_encode(app_key, sizeof app_key, ak64, sizeof ak64);
    ret = get_bundle(&d, app_key, ak64, &answer);
    sodium_memzero(app_key, sizeof app_key);
    if (ret == 0)
        ret = after_setup(&d, answer, ak64);
    sodium_memzero(ak64, sizeof ak64);
    cJSON_Delete(answer);
    curl_global_cleanup();
    return ret;
}
