/* owb-server: the self-hosted provisioning server. */
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
    {"init", cmd_init_main, "create the master key and the database"},
    {"serve", cmd_serve_main, "serve the provisioning API and the setup page"},
    {"device", cmd_device_main, "import, list, show, remove and assign devices"},
    {"network", cmd_network_main, "add, list and remove premises networks"},
    {"token", cmd_token_main, "create, list and revoke installer tokens"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: owb-server COMMAND [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'owb-server COMMAND --help' tells more; --version prints the version.\n");
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
        printf("owb-server %s\n", OWB_VERSION);
        return 0;
    }
    /* Every file the server makes (database, WAL, keys) is its own alone. */
    umask(077);
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "owb-server: libsodium failed to start\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "owb-server: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
