/* The command-line toolkit of owb's programs (owb-server, owb-mint,
 * owb-device).
 *
 * The front door of a multi-command program: a {name, function, summary}
 * table, --help, --version, and the start-up every command needs (no core
 * dumps, libsodium).
 *
 * Under it, each command describes its options once, in a table of struct
 * owb_opt: the parser stores every value through that table, and --help
 * lists the options from the same table, so the two cannot disagree. A
 * command with actions (owb-server device list|show|...) has a verb table
 * {name, arguments, function, summary}; the argument names also say how
 * many arguments a verb takes.
 *
 * Exit codes: 0 ok, 1 runtime error, 2 usage error. Nothing here calls
 * exit(): every helper returns the code for the program's main to return.
 * Nothing here allocates or holds secrets; options naming a secret give a
 * file, never the secret itself. */
#ifndef OWB_CLI_H
#define OWB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "owb/payload.h"

#define OWB_EXIT_OK 0
#define OWB_EXIT_FAIL 1
#define OWB_EXIT_USAGE 2
/* owb_cli_parse: the options are fine, the command goes on. */
#define OWB_CLI_RUN (-1)

/* Entries in a table (an array, not a pointer). */
#define OWB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct owb_command {
    const char *name;
    int (*fn)(int argc, char **argv); /* gets argv from the command's name on */
    const char *summary;
};

int owb_cli_dispatch(const char *prog, const char *version, const struct owb_command *cmds,
                     size_t n, int argc, char **argv);

enum owb_opt_type {
    OWB_OPT_FLAG,   /* bool, set to true */
    OWB_OPT_STR,    /* const char *, the argument as given (it points into argv) */
    OWB_OPT_UINT,   /* unsigned, a whole number in [min, max] */
    OWB_OPT_DOUBLE, /* double, a number in [min, max] */
    OWB_OPT_CHOICE, /* unsigned, the index of the argument in choices */
};

/* One option. Tables are static const; the values land at off in the
 * struct that the group (below) points to. */
struct owb_opt {
    const char *name; /* without the leading "--" */
    char short_name;  /* 0 for none */
    enum owb_opt_type type;
    size_t off;
    const char *arg;     /* the value's name in --help ("FILE"); NULL for a flag */
    double min, max;     /* OWB_OPT_UINT and OWB_OPT_DOUBLE */
    const char *choices; /* OWB_OPT_CHOICE: "full|normal" (also its name in --help) */
    const char *help;    /* one or more sentences; --help wraps them */
};

#define OWB_OPT_FLAG_(n, st, f, h)                                                                 \
    {                                                                                              \
        .name = (n), .type = OWB_OPT_FLAG, .off = offsetof(st, f), .help = (h)                     \
    }
#define OWB_OPT_STR_(n, a, st, f, h)                                                               \
    {                                                                                              \
        .name = (n), .type = OWB_OPT_STR, .off = offsetof(st, f), .arg = (a), .help = (h)          \
    }
#define OWB_OPT_UINT_(n, a, st, f, lo, hi, h)                                                      \
    {                                                                                              \
        .name = (n), .type = OWB_OPT_UINT, .off = offsetof(st, f), .arg = (a), .min = (lo),        \
        .max = (hi), .help = (h)                                                                   \
    }
#define OWB_OPT_DOUBLE_(n, a, st, f, lo, hi, h)                                                    \
    {                                                                                              \
        .name = (n), .type = OWB_OPT_DOUBLE, .off = offsetof(st, f), .arg = (a), .min = (lo),      \
        .max = (hi), .help = (h)                                                                   \
    }
#define OWB_OPT_CHOICE_(n, c, st, f, h)                                                            \
    {                                                                                              \
        .name = (n), .type = OWB_OPT_CHOICE, .off = offsetof(st, f), .choices = (c), .help = (h)   \
    }

/* A table of options and the struct its values go into. */
struct owb_opt_group {
    const struct owb_opt *opts;
    size_t n;
    void *dst;
};

/* An action of a command. args names its arguments ("", "NAME", "ID..."):
 * one argument a word, and a last word ending in "..." takes one or more.
 * fn gets the command's context and the verb's arguments alone. */
struct owb_verb {
    const char *name;
    const char *args;
    int (*fn)(void *ctx, int argc, char **argv);
    const char *summary;
};

/* A command: what --help prints, what the parser accepts. */
struct owb_cli {
    const char *prog;  /* "owb-server serve": the prefix of every message */
    const char *usage; /* after prog on the Usage line: "[options]" */
    const char *about; /* paragraphs after the usage (and the verbs) */
    const struct owb_verb *verbs;
    size_t n_verbs;
    const struct owb_opt_group *groups;
    size_t n_groups;
};

/* Parses the options of argv (argv[0] is the command's name) into the
 * groups. --help (and -h) prints the help to stdout and returns
 * OWB_EXIT_OK; a bad option or value prints why and returns
 * OWB_EXIT_USAGE; otherwise OWB_CLI_RUN, with *next the index of the first
 * argument that is not an option. */
int owb_cli_parse(const struct owb_cli *c, int argc, char **argv, int *next);

/* The same for a command that takes options alone: an argument is a
 * usage error. */
int owb_cli_parse_no_args(const struct owb_cli *c, int argc, char **argv);

/* The verb named by argv[*next], with its argument count checked; *next
 * moves past the verb's name. NULL after printing a usage error. */
const struct owb_verb *owb_cli_verb(const struct owb_cli *c, int argc, char **argv, int *next);

/* The help of c: usage line(s), verbs, about text, options. */
void owb_cli_help(FILE *f, const struct owb_cli *c);

/* Prints "PROG: message", "Try 'PROG --help'." to stderr; returns
 * OWB_EXIT_USAGE. */
int owb_cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "PROG: message" to stderr; returns OWB_EXIT_FAIL. */
int owb_cli_fail(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A server's base URL, as given to owb-server serve --public-url or
 * owb-mint --server: an http or https URL that leaves OWB_URL_ROOM bytes
 * of the protocol's OWB_URL_MAX for what is appended to it. The longest
 * such URL is the check-in URL <base>/v1/devices/<id>/checkin (52 bytes
 * past the base with a 32-character id), which must itself be a valid
 * URL in the bundle. */
#define OWB_URL_ROOM 64
#define OWB_BASE_URL_MAX (OWB_URL_MAX - OWB_URL_ROOM)
bool owb_base_url_valid(const char *url);

#endif
