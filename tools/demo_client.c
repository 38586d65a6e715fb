/* owb-demo-client: goes through the setup flow the way the setup page and
 * the hand-off page do, against a running owb-server and owb-device:
 *   1. open the setup page, make an app key;
 *   2. ask the server for a bundle (server-sealed with an installer token,
 *      or app-sealed: the Wi-Fi settings sealed here with the app key);
 *   3. hand bundle and app key to the device (POST /v1/provision);
 *   4. follow the device until it has joined, and the server's session
 *      until the device has checked in.
 * Used by tools/demo.sh, the README's first command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "owb/base64.h"
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

static int die(const char *what, long status, const char *body)
{
    fprintf(stderr, "owb-demo-client: %s: HTTP %ld %s\n", what, status, body ? body : "");
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},   {"device-url", required_argument, NULL, 'd'},
        {"id", required_argument, NULL, 'i'},       {"claim", required_argument, NULL, 'c'},
        {"token", required_argument, NULL, 't'},    {"ssid", required_argument, NULL, 'S'},
        {"psk", required_argument, NULL, 'p'},      {"mode", required_argument, NULL, 'm'},
        {"security", required_argument, NULL, 'e'}, {"hidden", no_argument, NULL, 'H'},
        {"join-ap", required_argument, NULL, 'j'},  {"no-follow", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *server = NULL, *device = NULL, *id = NULL, *claim = NULL, *token = NULL;
    const char *ssid = "DemoNet", *psk = NULL, *mode = "server", *join_ap = NULL;
    enum owb_security security = OWB_SEC_WPA2_PSK;
    bool hidden = false, follow = true;
    uint8_t app_key[OWB_APP_KEY_BYTES];
    char ak64[OWB_B64_ENCODED_SIZE(OWB_APP_KEY_BYTES)], url[1024], *resp = NULL, *body = NULL;
    cJSON *answer = NULL;
    long st;
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            server = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'c':
            claim = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'S':
            ssid = optarg;
            break;
        case 'p':
            psk = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'e':
            if (owb_security_parse(optarg, &security) != OWB_OK)
                return die("--security takes wpa2-psk, wpa3-sae or open", 0, NULL);
            break;
        case 'H':
            hidden = true;
            break;
        case 'j':
            join_ap = optarg;
            break;
        case 'n':
            follow = false;
            break;
        case 'h':
            printf("Usage: owb-demo-client --server URL --device-url URL --id ID --claim CODE\n"
                   "         (--mode server --token TOKEN |\n"
                   "          --mode app --ssid S [--psk P] [--security S] [--hidden])\n"
                   "         [--join-ap PROG]  run PROG SSID PASSPHRASE (the device's setup AP)\n"
                   "                           before the hand-off, as a person joins it\n"
                   "         [--no-follow]     stop after the device's 202; print the session\n");
            return 0;
        default:
            return 2;
        }
    }
    if (!server || !device || !id || !claim || (strcmp(mode, "server") && strcmp(mode, "app")) ||
        (!strcmp(mode, "server") && !token) ||
        (!strcmp(mode, "app") && !psk && security != OWB_SEC_OPEN)) {
        fprintf(stderr, "owb-demo-client: missing arguments (try --help)\n");
        return 2;
    }
    if (owb_init() != OWB_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;

    /* 1. The page, and an app key made on "the phone". */
    snprintf(url, sizeof url, "%s/s/%s", server, id);
    st = owb_curl_request("GET", url, NULL, NULL, &resp);
    if (st != 200)
        return die("setup page", st, NULL);
    free(resp);
    printf("[phone]  opened %s#c=(claim code)\n", url);
    randombytes_buf(app_key, sizeof app_key);
    owb_b64_encode(app_key, sizeof app_key, ak64, sizeof ak64);

    /* 2. Ask for a bundle. */
    body = malloc(4096);
    if (!strcmp(mode, "server")) {
        snprintf(body, 4096, "{\"claim\":\"%s\",\"app_key\":\"%s\"}", claim, ak64);
        printf("[phone]  asking for a server-sealed bundle (installer token, app key)\n");
    } else {
        struct owb_wifi w = {0};
        char wjson[OWB_WIFI_JSON_MAX], b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
        uint8_t blob[OWB_WIFI_BLOB_MAX];
        size_t wlen, blen;
        snprintf(w.ssid, sizeof w.ssid, "%s", ssid);
        w.ssid_len = strlen(w.ssid);
        w.security = security;
        w.hidden = hidden;
        snprintf(w.psk, sizeof w.psk, "%s", psk ? psk : "");
        if (owb_wifi_to_json(&w, wjson, sizeof wjson, &wlen) != OWB_OK ||
            owb_wifi_blob_seal(app_key, id, (const uint8_t *)wjson, wlen, NULL, blob, sizeof blob,
                               &blen) != OWB_OK)
            return die("sealing the Wi-Fi settings", 0, "rule broken");
        owb_wifi_wipe(&w);
        sodium_memzero(wjson, sizeof wjson);
        owb_b64_encode(blob, blen, b64, sizeof b64);
        snprintf(body, 4096, "{\"claim\":\"%s\",\"wifi\":\"%s\"}", claim, b64);
        printf("[phone]  sealed \"%s\" with the app key; asking for an app-sealed bundle\n", ssid);
    }
    snprintf(url, sizeof url, "%s/v1/setup/%s", server, id);
    st = owb_curl_request("POST", url, token, body, &resp);
    if (st != 200 || owb_json_parse(resp, strlen(resp), &answer) != OWB_OK)
        return die("setup", st, resp);
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(answer, "device_ap");
    const char *bundle = owb_json_string(answer, "bundle"),
               *session = owb_json_string(answer, "session");
    printf("[server] bundle %s issued; join Wi-Fi \"%s\" (passphrase %s)\n",
           cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(answer, "counter")),
           owb_json_string(ap, "ssid"), "(hidden)");

    if (join_ap && join_device_ap(join_ap, ap) != 0)
        return die("joining the device's setup AP", 0, join_ap);

    /* 3. Hand it to the device, as the hand-off page does. */
    free(body);
    body = malloc(strlen(bundle) + 256);
    sprintf(body, "{\"bundle\":\"%s\",\"app_key\":\"%s\"}", bundle, ak64);
    sodium_memzero(ak64, sizeof ak64);
    sodium_memzero(app_key, sizeof app_key);
    snprintf(url, sizeof url, "%s/v1/provision", device);
    free(resp);
    st = owb_curl_request("POST", url, NULL, body, &resp);
    if (st != 202)
        return die("provision", st, resp);
    printf("[device] accepted: %s\n", resp);
    if (!follow) {
        printf("session: %s\n", session);
        free(resp);
        free(body);
        cJSON_Delete(answer);
        curl_global_cleanup();
        return 0;
    }

    /* 4. Follow the device, then the server. */
    snprintf(url, sizeof url, "%s/v1/status", device);
    for (int i = 0; i < 120; i++) {
        free(resp);
        st = owb_curl_request("GET", url, NULL, NULL, &resp);
        if (st == 200 && strstr(resp, "\"state\":\"joined\"")) {
            printf("[device] joined the network\n");
            break;
        }
        if (st == 200 && strstr(resp, "\"state\":\"failed\""))
            return die("device failed", st, resp);
        nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
    }
    snprintf(url, sizeof url, "%s/v1/sessions/%s", server, session);
    for (int i = 0; i < 240; i++) {
        free(resp);
        st = owb_curl_request("GET", url, NULL, NULL, &resp);
        if (st == 200 && strstr(resp, "\"state\":\"online\"")) {
            printf("[server] device %s is online\n", id);
            ret = 0;
            break;
        }
        nanosleep(&(struct timespec){0, 250 * 1000 * 1000}, NULL);
    }
    if (ret)
        die("the device never checked in", st, resp);
    free(resp);
    free(body);
    cJSON_Delete(answer);
    curl_global_cleanup();
    return ret;
}
