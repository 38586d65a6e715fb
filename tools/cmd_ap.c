/* owb-mint ap: a device's setup-AP name and passphrase, for support staff. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "commands.h"
#include "mint.h"
#include "owb/fileio.h"
#include "owb/kdf.h"

static const char ap_help[] =
    "Usage: owb-mint ap --key-file FILE [--qr] [--format utf8|ansi|png|svg] [--out FILE]\n"
    "Prints the device's setup access point: SSID \"OWB-<id>\" and the WPA2\n"
    "passphrase derived from its key. --qr also draws a WIFI: join code\n"
    "(on the terminal, or as png/svg into --out).\n";

int cmd_ap_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, 'k'}, {"qr", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, 'f'},   {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    struct owb_qr_opts qo = {OWB_QR_UTF8, 'M', 8, 4};
    const char *key_file = NULL, *out = NULL;
    struct owb_keyfile *kf = NULL;
    char ssid[OWB_AP_SSID_SIZE], pass[OWB_AP_PASSPHRASE_SIZE], wifi[256], diag[OWB_DIAG_SIZE];
    bool qr = false;
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_file = optarg;
            break;
        case 'q':
            qr = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            if (!mint_parse_qr_format(optarg, &qo.format))
                return mint_usage("ap", "--format takes utf8, ansi, png or svg");
            break;
        case 'h':
            fputs(ap_help, stdout);
            return 0;
        default:
            return mint_usage("ap", "unknown option");
        }
    }
    if (optind != argc || !key_file)
        return mint_usage("ap", "--key-file FILE is required");
    if ((qo.format == OWB_QR_PNG || qo.format == OWB_QR_SVG) && !out)
        return mint_usage("ap", "png and svg need --out FILE");
    if (owb_keyfile_read(key_file, &kf, diag) != OWB_OK)
        return mint_fail("ap", "%s", diag);
    if (owb_ap_ssid(ssid, kf->device_id) != OWB_OK)
        goto out;
    /* Derived from the key, or minted with the pk suite's key file. */
    if (kf->suite == OWB_SUITE_PK)
        memcpy(pass, kf->ap_passphrase, sizeof kf->ap_passphrase);
    else
        owb_kdf_ap_passphrase(pass, kf->device_key);
    printf("SSID:       %s\npassphrase: %s\n", ssid, pass);
    if (qr) {
        owb_wifi_qr_text(ssid, pass, wifi, sizeof wifi);
        fflush(stdout);
        if (owb_qr_write(wifi, &qo, out ? out : "-", OWB_WRITE_REPLACE) != OWB_OK) {
            ret = mint_fail("ap", "cannot draw the join code");
            goto out;
        }
    }
    ret = 0;
out:
    sodium_memzero(pass, sizeof pass);
    sodium_memzero(wifi, sizeof wifi);
    owb_keyfile_free(kf);
    return ret;
}
