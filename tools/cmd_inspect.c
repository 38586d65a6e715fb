/* owb-mint inspect: what a key file holds, for support staff; never the key. */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "mint.h"

static const char inspect_help[] =
    "Usage: owb-mint inspect --key-file FILE\n"
    "Prints the device id, server, setup URL, setup-AP SSID and a fingerprint\n"
    "of the key (never the key itself).\n";

int cmd_inspect_main(int argc, char **argv)
{
    static const struct option opts[] = {{"key-file", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_file = NULL;
    struct owb_keyfile *kf = NULL;
    char url[OWB_SETUP_URL_MAX], ssid[OWB_AP_SSID_SIZE], fp[20], diag[OWB_DIAG_SIZE];
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'k') {
            key_file = optarg;
        } else if (c == 'h') {
            fputs(inspect_help, stdout);
            return 0;
        } else {
            return mint_usage("inspect", "unknown option");
        }
    }
    if (optind != argc || !key_file)
        return mint_usage("inspect", "--key-file FILE is required");
    if (owb_keyfile_read(key_file, &kf, diag) != OWB_OK)
        return mint_fail("inspect", "%s", diag);
    owb_key_print_fingerprint(kf, fp);
    if (owb_ap_ssid(ssid, kf->device_id) != OWB_OK)
        ssid[0] = '\0';
    if (kf->server[0])
        owb_setup_url(kf, url, sizeof url);
    else
        snprintf(url, sizeof url, "-");
    printf("id:              %s\nsuite:           %s\nserver:          %s\nsetup URL:       %s\n"
           "AP SSID:         %s\nkey fingerprint: %s\nclaim code:      %s\n",
           kf->device_id, owb_suite_name(kf->suite == OWB_SUITE_PK ? OWB_SUITE_PK : OWB_SUITE_SYM),
           kf->server[0] ? kf->server : "-", url, ssid, fp, kf->claim_code[0] ? "set" : "none");
    if (kf->suite == OWB_SUITE_PK)
        printf("server keys:     %zu pinned\n", kf->n_server_pks);
    owb_keyfile_free(kf);
    return 0;
}
