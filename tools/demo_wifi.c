/* owb-demo-wifi: a command-backend program for the local demo. It stands in
 * for a real Wi-Fi driver on a machine that has none: "apply" records the
 * settings it was given in $OWB_DEMO_DIR/applied.json (mode 0600), "check"
 * reports joined, "scan" lists the demo network, the AP actions are logged.
 * It is what `owb-device --wifi-backend command --wifi-command` runs in
 * tools/demo.sh; a real device uses the uci, wpa_supplicant or nmcli
 * backend instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "owb/fileio.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

int main(int argc, char **argv)
{
    const char *dir = getenv("OWB_DEMO_DIR");
    char path[4096];

    if (argc != 2 || !dir) {
        fprintf(stderr,
                "usage: OWB_DEMO_DIR=DIR owb-demo-wifi apply|check|rollback|ap-up|ap-down|scan\n");
        return 2;
    }
    if (!strcmp(argv[1], "apply")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ssid", env("OWB_SSID"));
        cJSON_AddStringToObject(o, "security", env("OWB_SECURITY"));
        cJSON_AddStringToObject(o, "psk", env("OWB_PSK"));
        cJSON_AddBoolToObject(o, "hidden", !strcmp(env("OWB_HIDDEN"), "1"));
        cJSON_AddStringToObject(o, "hostname", env("OWB_HOSTNAME"));
        char *text = cJSON_Print(o);
        snprintf(path, sizeof path, "%s/applied.json", dir);
        int rc = text && owb_file_write_atomic(path, text, strlen(text), 0600, 0) == OWB_OK ? 0 : 1;
        free(text);
        cJSON_Delete(o);
        return rc;
    }
    if (!strcmp(argv[1], "check"))
        return getenv("OWB_DEMO_FAIL") ? 11 : 0;
    if (!strcmp(argv[1], "scan")) {
        printf("%s\n", env("OWB_DEMO_SSID"));
        return 0;
    }
    if (!strcmp(argv[1], "rollback") || !strcmp(argv[1], "ap-up") || !strcmp(argv[1], "ap-down")) {
        fprintf(stderr, "owb-demo-wifi: %s%s%s\n", argv[1], !strcmp(argv[1], "ap-up") ? " " : "",
                env("OWB_AP_SSID"));
        return 0;
    }
    fprintf(stderr, "owb-demo-wifi: unknown action '%s'\n", argv[1]);
    return 2;
}
