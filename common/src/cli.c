/* The front door (owb_cli_dispatch), the error printers and the base URL
 * rule; the option parser and --help are in cli_opt.c. */
#include "owb/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "owb/id.h"
#include "owb/mem.h"

/* The check-in URL is the longest thing appended to a base URL. */
_Static_assert(sizeof "/v1/devices/" - 1 + OWB_DEVICE_ID_MAX + sizeof "/checkin" - 1 <=
                   OWB_URL_ROOM,
               "the check-in path must fit in the room a base URL leaves");

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
        return OWB_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout, prog, cmds, n);
        return OWB_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("%s %s\n", prog, version);
        return OWB_EXIT_OK;
    }
    owb_no_core_dumps();
    if (owb_init() != OWB_OK) {
        fprintf(stderr, "%s: libsodium failed to start\n", prog);
        return OWB_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n\n", prog, argv[1]);
    usage(stderr, prog, cmds, n);
    return OWB_EXIT_USAGE;
}

__attribute__((format(printf, 2, 0))) static void vreport(const char *prog, const char *fmt,
                                                          va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int owb_cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(prog, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return OWB_EXIT_USAGE;
}

int owb_cli_fail(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(prog, fmt, ap);
    va_end(ap);
    return OWB_EXIT_FAIL;
}

bool owb_base_url_valid(const char *url)
{
    size_t len = url ? strlen(url) : 0;
    return len > 0 && len <= OWB_BASE_URL_MAX && owb_http_url_valid(url, len);
}
