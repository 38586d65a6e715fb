/* Helpers shared by owb-server's subcommands: the --db and --master-key
 * options, opening the store with the master key, and usage errors.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#ifndef OWB_SERVER_CLI_H
#define OWB_SERVER_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "owb/err.h"
#include "secrets.h"
#include "store.h"

#define EXIT_USAGE 2

/* Long options every database subcommand takes. */
#define CLI_DB_OPTIONS                                                                             \
    {"db", required_argument, NULL, 'D'}, {"master-key", required_argument, NULL, 'K'},            \
        {"busy-timeout", required_argument, NULL, 'B'},                                            \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

#define CLI_DB_HELP                                                                                \
    "  --db FILE|URI      SQLite database file, or a postgresql:// URI\n"                          \
    "                     (default $OWB_DB or owb.db)\n"                                           \
    "  --master-key FILE  master key (default $OWB_MASTER_KEY_FILE,\n"                             \
    "                     $CREDENTIALS_DIRECTORY/owb-master-key, or owb-master.key)\n"             \
    "  --busy-timeout MS  how long to wait for a database lock held by another\n"                  \
    "                     process before answering 503 (default 5000)\n"                           \
    "  -h, --help         this help\n"

struct cli_db {
    const char *db;
    const char *master_key;
    const char *signing_key;
    unsigned busy_ms;
    bool serving; /* set by 'serve' before cli_open */
    char master_buf[4096];
    char signing_buf[4096];
};

struct owb_srv {
    struct owb_store *store;
    struct owb_master *master;
};

void cli_db_defaults(struct cli_db *o);

/* --db as it may be printed: a PostgreSQL URI without its password. */
const char *cli_db_label(const char *db, char *buf, size_t cap);
/* Handles 'D', 'K', 'G' and 'B'; true when c was one of them. A bad value
 * ends the program with a usage error (nothing is held yet while options
 * are parsed). */
bool cli_db_opt(struct cli_db *o, int c, const char *arg);

/* Opens the store and loads and checks the master key; prints the reason
 * on failure. create: make the database (init). */
enum owb_err cli_open(struct cli_db *o, bool create, unsigned connections, bool sync_full,
                      struct owb_srv *srv);
void cli_close(struct owb_srv *srv);

/* Prints "owb-server CMD: message" and a hint, returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a secret from a file, or from stdin when path is "-" or NULL:
 * the first line, without its newline. OWB_ERR_TOO_LARGE past cap - 1. */
enum owb_err cli_read_secret(const char *path, char *out, size_t cap, char *diag);

int64_t cli_now(void);

#endif
