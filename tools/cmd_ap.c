/* owb-mint ap: a device's setup-AP name and passphrase, for support staff. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "commands.h"
#include "mint.h"
#include "owb/cli.h"
#include "owb/fileio.h"
#include "owb/kdf.h"

#define PROG "owb-mint ap"

static const char ap_about[] =
    "Prints the device's setup access point: SSID \"OWB-<id>\" and the WPA2\n"
    "passphrase derived from its key. --qr also draws a WIFI: join code\n"
    "(on the terminal, or as png/svg into --out).\n";

struct ap_opts {
    const char *key_file, *out;
    unsigned format; /* an enum owb_qr_format */
    bool qr;
};

static const struct owb_opt ap_opts[] = {
    OWB_OPT_STR_("key-file", "FILE", struct ap_opts, key_file, "the device's key file (required)"),
    OWB_OPT_FLAG_("qr", struct ap_opts, qr, "also draw a join code"),
    /* In the order of enum owb_qr_format. */
    OWB_OPT_CHOICE_("format", "png|svg|ansi|utf8", struct ap_opts, format,
                    "the join code's drawing (default utf8)"),
    OWB_OPT_STR_("out", "FILE", struct ap_opts, out, "where png and svg go"),
};

/* Prints the AP's name and passphrase, and with --qr its join code. */
static int show_ap(const struct ap_opts *o, const struct owb_keyfile *kf)
{
    struct owb_qr_opts qo = {(enum owb_qr_format)o->format, 'M', 8, 4};
    char ssid[OWB_AP_SSID_SIZE], pass[OWB_AP_PASSPHRASE_SIZE], wifi[256];
    int ret = OWB_EXIT_OK;

    if (owb_ap_ssid(ssid, kf->device_id) != OWB_OK)
        return OWB_EXIT_FAIL;
    /* Derived from the key, or minted with the pk suite's key file. */
    if (kf->suite == OWB_SUITE_PK)
        memcpy(pass, kf->ap_passphrase, sizeof kf->ap_passphrase);
    else
        owb_kdf_ap_passphrase(pass, kf->device_key);
    printf("SSID:       %s\npassphrase: %s\n", ssid, pass);
    if (o->qr) {
        owb_wifi_qr_text(ssid, pass, wifi, sizeof wifi);
        fflush(stdout);
        if (owb_qr_write(wifi, &qo, o->out ? o->out : "-", OWB_WRITE_REPLACE) != OWB_OK)
            ret = owb_cli_fail(PROG, "cannot draw the join code");
    }
    sodium_memzero(pass, sizeof pass);
    sodium_memzero(wifi, sizeof wifi);
    return ret;
}

int cmd_ap_main(int argc, char **argv)
{
    struct ap_opts o = {.format = OWB_QR_UTF8};
    const struct owb_opt_group groups[] = {{ap_opts, OWB_ARRAY_LEN(ap_opts), &o}};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "--key-file FILE [--qr] [options]",
                                .about = ap_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    struct owb_keyfile *kf = NULL;
    char diag[OWB_DIAG_SIZE];
    int ret;

    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (!o.key_file)
        return owb_cli_usage_error(PROG, "--key-file FILE is required");
    if ((o.format == OWB_QR_PNG || o.format == OWB_QR_SVG) && !o.out)
        return owb_cli_usage_error(PROG, "png and svg need --out FILE");
    if (owb_keyfile_read(o.key_file, &kf, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    ret = show_ap(&o, kf);
    owb_keyfile_free(kf);
    return ret;
}
