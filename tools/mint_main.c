/* owb-mint: the factory CLI. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "owb/mem.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"device", cmd_device_main, "mint one device: key file, server record, QR codes"},
    {"batch", cmd_batch_main, "mint many devices for a factory line"},
    {"qr", cmd_qr_main, "draw the QR code of a setup URL"},
    {"ap", cmd_ap_main, "show a device's setup-AP name and passphrase"},
    {"inspect", cmd_inspect_main, "show what a key file holds (never the key)"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: owb-mint COMMAND [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'owb-mint COMMAND --help' tells more; --version prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("owb-mint %s\n", OWB_VERSION);
        return 0;
    }
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "owb-mint: libsodium failed to start\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "owb-mint: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
