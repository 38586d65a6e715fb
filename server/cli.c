#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

bool cli_db_opt(struct cli_db *o, int c, const char *arg)
{
    switch (c) {
    case 'D':
        o->db = arg;
        return true;
    case 'K':
        o->master_key = arg;
        return true;
    case 'G':
        o->signing_key = arg;
        return true;
    case 'B': {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || v < 1 || v > 600000 || arg[0] == '-') {
            fprintf(stderr, "owb-server: --busy-timeout takes 1-600000 milliseconds\n");
            exit(EXIT_USAGE);
        }
        o->busy_ms = (unsigned)v;
        return true;
    }
    default:
        return false;
    }
}

int64_t cli_now(void)
{
    return (int64_t)time(NULL);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "owb-server %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'owb-server %s --help'.\n", cmd);
    return EXIT_USAGE;
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

enum owb_err cli_read_secret(const char *path, char *out, size_t cap, char *diag)
{
    FILE *f = stdin;
    size_t n = 0;
    int ch;
    enum owb_err rc = OWB_OK;

    out[0] = '\0';
    if (path && strcmp(path, "-") != 0) {
        f = fopen(path, "re");
        if (!f) {
            owb_diagf(diag, "%s: %s", path, strerror(errno));
            return OWB_ERR_IO;
        }
    }
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 >= cap) {
            rc = OWB_ERR_TOO_LARGE;
            owb_diagf(diag, "%s: longer than %zu bytes", path ? path : "stdin", cap - 1);
            break;
        }
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    if (f != stdin)
        fclose(f);
    if (rc != OWB_OK)
        sodium_memzero(out, cap);
    return rc;
}
