/* The front door of owb's multi-command programs (owb-server, owb-mint):
 * a {name, function, summary} table, --help, --version, and the start-up
 * every command needs (no core dumps, libsodium). Exit codes: 0 ok,
 * 1 runtime error, 2 usage error. */
#ifndef OWB_CLI_H
#define OWB_CLI_H

#include <stddef.h>

struct owb_command {
    const char *name;
    int (*fn)(int argc, char **argv); /* gets argv from the command's name on */
    const char *summary;
};

int owb_cli_dispatch(const char *prog, const char *version, const struct owb_command *cmds,
                     size_t n, int argc, char **argv);

#endif
