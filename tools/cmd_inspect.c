/* owb-mint inspect: what a key file holds, for support staff; never the key. */
#include <stdio.h>

#include "commands.h"
#include "mint.h"
#include "owb/cli.h"

#define PROG "owb-mint inspect"

struct inspect_opts {
    const char *key_file;
};

static const struct owb_opt inspect_opts[] = {
    OWB_OPT_STR_("key-file", "FILE", struct inspect_opts, key_file,
                 "the device's key file (required)"),
};

int cmd_inspect_main(int argc, char **argv)
{
    struct inspect_opts o = {0};
    const struct owb_opt_group groups[] = {{inspect_opts, OWB_ARRAY_LEN(inspect_opts), &o}};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "--key-file FILE",
                                .about = "Prints the device id, server, setup URL, setup-AP SSID "
                                         "and a fingerprint\nof the key (never the key itself).\n",
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    const char *key_file;
    struct owb_keyfile *kf = NULL;
    char url[OWB_SETUP_URL_MAX], ssid[OWB_AP_SSID_SIZE], fp[20], diag[OWB_DIAG_SIZE];
    int ret;

    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (!o.key_file)
        return owb_cli_usage_error(PROG, "--key-file FILE is required");
    key_file = o.key_file;
    if (owb_keyfile_read(key_file, &kf, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    owb_devkey_fingerprint(kf, fp);
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
