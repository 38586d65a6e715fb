/* Helpers shared by owb-server's subcommands: the --db, --master-key,
 * --signing-key and --busy-timeout options, opening the store with the
 * master key, and running an admin command's verbs (owb/cli.h).
 * Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#ifndef OWB_SERVER_CLI_H
#define OWB_SERVER_CLI_H

#include <stdbool.h>

#include "owb/cli.h"
#include "owb/err.h"
#include "secrets.h"
#include "store.h"

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

/* Which of struct cli_db's options a command takes. */
enum cli_db_use {
    CLI_DB_SIGNING, /* --signing-key, --master-key (signing-key) */
    CLI_DB_KEYS,    /* those and --db, --busy-timeout (init, serve) */
    CLI_DB_ADMIN,   /* --master-key, --db, --busy-timeout (the others) */
};
struct owb_opt_group cli_db_group(struct cli_db *o, enum cli_db_use use);

/* --db as it may be printed: a PostgreSQL URI without its password. */
const char *cli_db_label(const char *db, char *buf, size_t cap);

/* Opens the store and loads and checks the master key; prints the reason
 * on failure. create: make the database (init). */
enum owb_err cli_open(struct cli_db *o, bool create, unsigned connections, bool sync_full,
                      struct owb_srv *srv);
void cli_close(struct owb_srv *srv);

/* An admin command (device, network, token): its options, and the store
 * once a verb has opened it with cli_admin_open. */
struct cli_admin {
    struct cli_db db;
    struct owb_srv srv;
};

/* What an admin command is: its help, its verbs, its own options (their
 * values go into the ctx given to cli_admin_main) and the db options it
 * takes. */
struct cli_admin_cmd {
    const char *prog, *about;
    const struct owb_verb *verbs;
    size_t n_verbs;
    const struct owb_opt *opts;
    size_t n_opts;
    enum cli_db_use db_use;
};

/* Sets the db defaults, parses the options, runs the verb named with ctx
 * (which holds a), and closes the store the verb opened. The exit code. */
int cli_admin_main(const struct cli_admin_cmd *cmd, struct cli_admin *a, void *ctx, int argc,
                   char **argv);
/* Opens the store for a verb; false (the reason printed) when it cannot. */
bool cli_admin_open(struct cli_admin *a);

/* Reads a secret from a file, or from stdin when path is "-" or NULL:
 * the first line, without its newline. On a terminal, with a prompt, it
 * asks twice without echo. OWB_ERR_TOO_LARGE past cap - 1. */
enum owb_err cli_read_secret(const char *path, const char *prompt, char *out, size_t cap,
                             char *diag);

int64_t cli_now(void);

/* A time in seconds as RFC 3339 UTC ("2026-11-30T19:00:00Z"; "-" for 0),
 * and back: that form only, or "@" and seconds since 1970. False when it
 * is neither. */
#define CLI_TIME_SIZE 32
void cli_time_format(char out[static CLI_TIME_SIZE], int64_t t);
bool cli_time_parse(const char *s, int64_t *t);

/* Room for one more element of size bytes in *arr (n used of *cap),
 * doubling it; false when out of memory (*arr unchanged). */
bool cli_grow(void **arr, size_t *cap, size_t n, size_t size);

/* A device heard at or after this time is online: two of the intervals
 * 'serve --heartbeat' stored in the meta table (OWB_META_HEARTBEAT). */
int64_t cli_online_since(struct owb_srv *srv);

#endif
