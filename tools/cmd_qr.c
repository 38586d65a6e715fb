/* owb-mint qr: the QR code of any setup URL. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "mint.h"
#include "owb/fileio.h"

static const char qr_help[] =
    "Usage: owb-mint qr (URL | --key-file FILE) [--format png|svg|ansi|utf8] [--out FILE]\n"
    "                   [--size PX] [--margin M] [--ec L|M|Q|H]\n"
    "Draws the QR code of URL, or of the setup URL of a key file. ansi and utf8\n"
    "draw it on the terminal (the default, utf8) so it can be scanned from the\n"
    "screen; png and svg need --out FILE ('-' for standard output). --size is\n"
    "pixels per module (default 8), --margin the quiet zone in modules (default\n"
    "4), --ec the error-correction level (default M).\n";

int cmd_qr_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, 'k'}, {"format", required_argument, NULL, 'f'},
        {"out", required_argument, NULL, 'o'},      {"size", required_argument, NULL, 's'},
        {"margin", required_argument, NULL, 'm'},   {"ec", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    struct owb_qr_opts qo = {OWB_QR_UTF8, 'M', 8, 4};
    const char *key_file = NULL, *out = NULL, *url = NULL;
    char setup[OWB_SETUP_URL_MAX], diag[OWB_DIAG_SIZE];
    unsigned long v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_file = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            if (!mint_parse_qr_format(optarg, &qo.format))
                return mint_usage("qr", "--format takes png, svg, ansi or utf8");
            break;
        case 's':
            if (!mint_parse_uint(optarg, 1, 100, &v))
                return mint_usage("qr", "--size takes 1-100 pixels per module");
            qo.module_px = (unsigned)v;
            break;
        case 'm':
            if (!mint_parse_uint(optarg, 0, 40, &v))
                return mint_usage("qr", "--margin takes 0-40 modules");
            qo.margin = (unsigned)v;
            break;
        case 'e':
            if (strlen(optarg) != 1 || !strchr("LMQH", optarg[0]))
                return mint_usage("qr", "--ec takes L, M, Q or H");
            qo.ec = optarg[0];
            break;
        case 'h':
            fputs(qr_help, stdout);
            return 0;
        default:
            return mint_usage("qr", "unknown option");
        }
    }
    if (optind < argc)
        url = argv[optind++];
    if (optind != argc || (!url == !key_file))
        return mint_usage("qr", "give a URL or --key-file FILE, not both");
    if ((qo.format == OWB_QR_PNG || qo.format == OWB_QR_SVG) && !out)
        return mint_usage("qr", "png and svg need --out FILE ('-' for standard output)");
    if (key_file) {
        struct owb_keyfile *kf = NULL;
        if (owb_keyfile_read(key_file, &kf, diag) != OWB_OK)
            return mint_fail("qr", "%s", diag);
        if (!kf->server[0]) {
            owb_keyfile_free(kf);
            return mint_fail("qr", "%s: has no server, so no setup URL", key_file);
        }
        owb_setup_url(kf, setup, sizeof setup);
        owb_keyfile_free(kf);
        url = setup;
    }
    if (owb_qr_write(url, &qo, out ? out : "-", OWB_WRITE_REPLACE) != OWB_OK)
        return mint_fail("qr", "%s: cannot draw or write the code", out ? out : "stdout");
    return 0;
}
