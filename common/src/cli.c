#include "owb/cli.h"

#include <stdio.h>
#include <string.h>

#include "owb/mem.h"

static void usage(FILE *f, const char *prog, const struct owb_command *cmds, size_t n)
{
    fprintf(f, "Usage: %s COMMAND [options]\n\nCommands:\n", prog);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n'%s COMMAND --help' tells more; --version prints the version.\n", prog);
}

int owb_cli_dispatch(const char *prog, const char *version, const struct owb_command *cmds,
                     size_t n, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, prog, cmds, n);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout, prog, cmds, n);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("%s %s\n", prog, version);
        return 0;
    }
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "%s: libsodium failed to start\n", prog);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n\n", prog, argv[1]);
    usage(stderr, prog, cmds, n);
    return 2;
}
