/* owb-mint qr: the QR code of any setup URL. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "mint.h"
#include "owb/cli.h"
#include "owb/fileio.h"

#define PROG "owb-mint qr"

static const char qr_about[] =
    "Draws the QR code of URL, or of the setup URL of a key file. ansi and utf8\n"
    "draw it on the terminal (the default, utf8) so it can be scanned from the\n"
    "screen; png and svg need --out FILE ('-' for standard output).\n";

struct qr_opts {
    const char *key_file, *out;
    unsigned format, ec, size, margin; /* format: an enum owb_qr_format; ec: index in L|M|Q|H */
};

/* In the order of enum owb_qr_format. */
#define QR_FORMATS "png|svg|ansi|utf8"
#define QR_LEVELS "LMQH"

static const struct owb_opt qr_opts[] = {
    OWB_OPT_STR_("key-file", "FILE", struct qr_opts, key_file, "draw this key file's setup URL"),
    OWB_OPT_CHOICE_("format", QR_FORMATS, struct qr_opts, format, "the drawing (default utf8)"),
    OWB_OPT_STR_("out", "FILE", struct qr_opts, out, "where png and svg go ('-': standard output)"),
    OWB_OPT_UINT_("size", "PX", struct qr_opts, size, 1, 100, "pixels per module (default 8)"),
    OWB_OPT_UINT_("margin", "M", struct qr_opts, margin, 0, 40,
                  "the quiet zone in modules (default 4)"),
    OWB_OPT_CHOICE_("ec", "L|M|Q|H", struct qr_opts, ec, "the error-correction level (default M)"),
};

/* The setup URL of a key file into setup. */
static int key_file_url(const char *key_file, char *setup, size_t cap)
{
    struct owb_keyfile *kf = NULL;
    char diag[OWB_DIAG_SIZE];
    int ret = OWB_CLI_RUN;

    if (owb_keyfile_read(key_file, &kf, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    if (!kf->server[0])
        ret = owb_cli_fail(PROG, "%s: has no server, so no setup URL", key_file);
    else
        owb_setup_url(kf, setup, cap);
    owb_keyfile_free(kf);
    return ret;
}

int cmd_qr_main(int argc, char **argv)
{
    struct qr_opts o = {.format = OWB_QR_UTF8, .ec = 1, .size = 8, .margin = 4};
    const struct owb_opt_group groups[] = {{qr_opts, OWB_ARRAY_LEN(qr_opts), &o}};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "(URL | --key-file FILE) [options]",
                                .about = qr_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    const char *url = NULL;
    char setup[OWB_SETUP_URL_MAX];
    struct owb_qr_opts qo;
    int next, ret;

    if ((ret = owb_cli_parse(&cli, argc, argv, &next)) != OWB_CLI_RUN)
        return ret;
    if (next < argc)
        url = argv[next++];
    if (next != argc || (!url == !o.key_file))
        return owb_cli_usage_error(PROG, "give a URL or --key-file FILE, not both");
    qo = (struct owb_qr_opts){(enum owb_qr_format)o.format, QR_LEVELS[o.ec], o.size, o.margin};
    if ((qo.format == OWB_QR_PNG || qo.format == OWB_QR_SVG) && !o.out)
        return owb_cli_usage_error(PROG, "png and svg need --out FILE ('-' for standard output)");
    if (o.key_file) {
        if ((ret = key_file_url(o.key_file, setup, sizeof setup)) != OWB_CLI_RUN)
            return ret;
        url = setup;
    }
    if (owb_qr_write(url, &qo, o.out ? o.out : "-", OWB_WRITE_REPLACE) != OWB_OK)
        return owb_cli_fail(PROG, "%s: cannot draw or write the code", o.out ? o.out : "stdout");
    return OWB_EXIT_OK;
}
