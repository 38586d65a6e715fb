#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/fileio.h"
#include "owb/keyfile.h"
#include "owb/mem.h"

void cli_db_defaults(struct cli_db *o)
{
    const char *env = getenv("OWB_DB");
    memset(o, 0, sizeof *o);
    o->db = env && *env ? env : "owb.db";
    o->busy_ms = 5000;
}

const char *cli_db_label(const char *db, char *buf, size_t cap)
{
    const char *scheme = strstr(db, "://"), *at, *colon;

    if (!owb_store_pg_dsn(db) || !scheme)
        return db;
    scheme += 3;
    at = strchr(scheme, '@');
    colon = at ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
    if (!colon)
        return db;
    snprintf(buf, cap, "%.*s%s", (int)(colon - db), db, at);
    return buf;
}

/* In this order each use takes a run of them: signing-key the first two,
 * init and serve all four, the admin commands the last three. */
static const struct owb_opt db_opts[] = {
    OWB_OPT_STR_("signing-key", "FILE", struct cli_db, signing_key,
                 "the pk suite's signing key file (default $OWB_SIGNING_KEY_FILE, "
                 "$CREDENTIALS_DIRECTORY/owb-signing-key, or owb-signing.key beside the "
                 "master key)"),
    OWB_OPT_STR_("master-key", "FILE", struct cli_db, master_key,
                 "master key (default $OWB_MASTER_KEY_FILE, $CREDENTIALS_DIRECTORY/owb-master-key, "
                 "or owb-master.key)"),
    OWB_OPT_STR_("db", "FILE|URI", struct cli_db, db,
                 "SQLite database file, or a postgresql:// URI (default $OWB_DB or owb.db)"),
    OWB_OPT_UINT_("busy-timeout", "MS", struct cli_db, busy_ms, 1, 600000,
                  "how long to wait for a database lock held by another process before "
                  "giving up (serve: answering 503; default 5000)"),
};

struct owb_opt_group cli_db_group(struct cli_db *o, enum cli_db_use use)
{
    switch (use) {
    case CLI_DB_SIGNING:
        return (struct owb_opt_group){db_opts, 2, o};
    case CLI_DB_KEYS:
        return (struct owb_opt_group){db_opts, 4, o};
    case CLI_DB_ADMIN:
    default:
        return (struct owb_opt_group){db_opts + 1, 3, o};
    }
}

int cli_admin_main(const struct cli_admin_cmd *cmd, struct cli_admin *a, void *ctx, int argc,
                   char **argv)
{
    const struct owb_opt_group groups[] = {{cmd->opts, cmd->n_opts, ctx},
                                           cli_db_group(&a->db, cmd->db_use)};
    const struct owb_cli cli = {cmd->prog,    NULL,   cmd->about,           cmd->verbs,
                                cmd->n_verbs, groups, OWB_ARRAY_LEN(groups)};
    const struct owb_verb *verb;
    int next, ret;

    cli_db_defaults(&a->db);
    memset(&a->srv, 0, sizeof a->srv);
    ret = owb_cli_parse(&cli, argc, argv, &next);
    if (ret != OWB_CLI_RUN)
        return ret;
    verb = owb_cli_verb(&cli, argc, argv, &next);
    if (!verb)
        return OWB_EXIT_USAGE;
    ret = verb->fn(ctx, argc - next, argv + next);
    cli_close(&a->srv);
    return ret;
}

bool cli_admin_open(struct cli_admin *a)
{
    return cli_open(&a->db, false, 1, true, &a->srv) == OWB_OK;
}

int64_t cli_now(void)
{
    return (int64_t)time(NULL);
}

void cli_time_format(char out[static CLI_TIME_SIZE], int64_t t)
{
    struct tm tm;
    time_t ts = (time_t)t;

    if (!t || !gmtime_r(&ts, &tm) || strftime(out, CLI_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, CLI_TIME_SIZE, "-");
}

bool cli_time_parse(const char *s, int64_t *t)
{
    struct tm tm = {0};
    char *end = NULL;
    int n = 0;

    if (s[0] == '@') {
        long long v;
        errno = 0;
        v = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1 || *end || v < 0)
            return false;
        *t = (int64_t)v;
        return true;
    }
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        s[n] || n != 20 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct tm want = tm, back;
    time_t ts = timegm(&tm);
    /* timegm reads February 31st as March 3rd: a date that does not come
     * back the same is refused. */
    if (ts < 0 || !gmtime_r(&ts, &back) || back.tm_mday != want.tm_mday ||
        back.tm_mon != want.tm_mon)
        return false;
    *t = (int64_t)ts;
    return true;
}

enum owb_err cli_open(struct cli_db *o, bool create, unsigned connections, bool sync_full,
                      struct owb_srv *srv)
{
    struct owb_store_config cfg = {0};
    char diag[OWB_DIAG_SIZE];
    const char *key_path = owb_master_path(o->master_key, o->master_buf, sizeof o->master_buf);
    char label_buf[1024];
    const char *label = cli_db_label(o->db, label_buf, sizeof label_buf);
    enum owb_err rc;

    memset(srv, 0, sizeof *srv);
    if (!create && !owb_store_pg_dsn(o->db) && access(o->db, F_OK) != 0) {
        fprintf(stderr, "owb-server: %s: no database (create one with 'owb-server init')\n", o->db);
        return OWB_ERR_NOENT;
    }
    rc = owb_master_load(key_path, &srv->master, diag);
    if (rc != OWB_OK) {
        fprintf(stderr, "owb-server: master key: %s\n", diag);
        goto out;
    }
    cfg.path = o->db;
    cfg.connections = connections;
    cfg.busy_ms = o->busy_ms;
    cfg.sync_full = sync_full;
    cfg.create = create;
    cfg.serving = o->serving;
    rc = owb_store_open(&cfg, &srv->store, diag);
    if (rc != OWB_OK) {
        fprintf(stderr, "owb-server: database %s: %s\n", label, diag);
        goto out;
    }
    rc = owb_master_check(srv->master, srv->store, create);
    if (rc == OWB_ERR_AUTH_FAILED)
        fprintf(stderr,
                "owb-server: master key %s does not open database %s: it is not the key this "
                "database was created with\n",
                key_path, label);
    else if (rc == OWB_ERR_BAD_FILE)
        fprintf(stderr, "owb-server: database %s was never initialised (run 'owb-server init')\n",
                label);
    else if (rc != OWB_OK)
        fprintf(stderr, "owb-server: database %s: %s\n", label, owb_strerror(rc));
out:
    if (rc != OWB_OK)
        cli_close(srv);
    return rc;
}

void cli_close(struct owb_srv *srv)
{
    if (srv->store)
        srv->store->ops->close(srv->store);
    owb_master_free(srv->master);
    memset(srv, 0, sizeof *srv);
}

/* One line from f into out, without its newline (and a CR before it). */
static enum owb_err read_line(FILE *f, const char *what, char *out, size_t cap, char *diag)
{
    size_t n = 0;
    int ch;

    out[0] = '\0';
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 >= cap) {
            owb_diagf(diag, "%s: longer than %zu bytes", what, cap - 1);
            sodium_memzero(out, cap);
            return OWB_ERR_TOO_LARGE;
        }
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    return OWB_OK;
}

/* A person at a terminal types the secret twice, without echo. */
static enum owb_err prompt_secret(const char *prompt, char *out, size_t cap, char *diag)
{
    struct termios old, quiet;
    char *again = owb_secret_alloc(cap);
    enum owb_err rc = again ? OWB_OK : OWB_ERR_NOMEM;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;

    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    if (rc == OWB_OK) {
        fprintf(stderr, "%s: ", prompt);
        rc = read_line(stdin, "the terminal", out, cap, diag);
    }
    if (rc == OWB_OK) {
        fprintf(stderr, "%s again: ", prompt);
        rc = read_line(stdin, "the terminal", again, cap, diag);
    }
    if (rc == OWB_OK && strcmp(out, again) != 0) {
        owb_diagf(diag, "the two entries differ");
        rc = OWB_ERR_INVALID_ARG;
    }
    if (restore)
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (again)
        owb_secret_free(again);
    if (rc != OWB_OK)
        sodium_memzero(out, cap);
    return rc;
}

enum owb_err cli_read_secret(const char *path, const char *prompt, char *out, size_t cap,
                             char *diag)
{
    FILE *f;
    enum owb_err rc;

    out[0] = '\0';
    if (!path || strcmp(path, "-") == 0)
        return prompt && isatty(STDIN_FILENO) ? prompt_secret(prompt, out, cap, diag)
                                              : read_line(stdin, "stdin", out, cap, diag);
    f = fopen(path, "re");
    if (!f) {
        owb_diagf(diag, "%s: %s", path, strerror(errno));
        return OWB_ERR_IO;
    }
    rc = read_line(f, path, out, cap, diag);
    fclose(f);
    return rc;
}

int64_t cli_online_since(struct owb_srv *srv)
{
    uint8_t text[24];
    size_t len = 0;
    unsigned long s = OWB_HEARTBEAT_DEFAULT_S;

    if (srv->store->ops->meta_get(srv->store, OWB_META_HEARTBEAT, text, sizeof text - 1, &len) ==
            OWB_OK &&
        len > 0) {
        text[len] = '\0';
        s = strtoul((const char *)text, NULL, 10);
    }
    return cli_now() - 2 * (int64_t)(s ? s : OWB_HEARTBEAT_DEFAULT_S);
}

bool cli_grow(void **arr, size_t *cap, size_t n, size_t size)
{
    size_t want = *cap ? *cap * 2 : 64;
    void *grown;

    if (n < *cap)
        return true;
    grown = realloc(*arr, want * size);
    if (!grown)
        return false;
    *arr = grown;
    *cap = want;
    return true;
}
