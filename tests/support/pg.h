/* A PostgreSQL server of the test's own: initdb into a temporary
 * directory, trust authentication on 127.0.0.1 only, a free port, stopped
 * and removed afterwards. PostgreSQL refuses to run as root, so when the
 * tests run as root (CI) it runs as the postgres user. */
#ifndef OWB_TEST_PG_H
#define OWB_TEST_PG_H

#include <stdbool.h>
#include <sys/types.h>

struct t_pg {
    char dir[4096]; /* the cluster's directory (data/, log, socket) */
    char bin[4096]; /* PostgreSQL's bin directory */
    pid_t pid;      /* the postmaster, 0 when stopped */
    unsigned port;
    char dsn[256]; /* postgresql://postgres@127.0.0.1:PORT/owb */
};

/* False when PostgreSQL's programs are not installed (the caller skips). */
bool t_pg_available(struct t_pg *pg);

/* initdb, start, CREATE DATABASE owb; fails the test on any error. */
void t_pg_start(struct t_pg *pg);

/* Stops the server (fast shutdown) and keeps its directory; t_pg_resume()
 * starts it again on the same port. For connection-loss tests. */
void t_pg_pause(struct t_pg *pg);
void t_pg_resume(struct t_pg *pg);

/* Crashes the server (SIGQUIT: immediate shutdown, no checkpoint, what
 * was not written of the WAL is lost, as in a power cut) and starts it
 * again on the same port: it runs crash recovery, which empties unlogged
 * tables. */
void t_pg_crash(struct t_pg *pg);

/* freeze: stops (SIGSTOP) every process of the cluster, the postmaster
 * first so that it starts no new one; else continues them (SIGCONT). A
 * frozen server keeps its sockets: connecting works, nothing answers. */
void t_pg_freeze(struct t_pg *pg, bool freeze);

/* Stops the server and removes its directory. */
void t_pg_stop(struct t_pg *pg);

/* Runs SQL on a new connection to the owb database; fails the test on an
 * error. Returns the first column of the first row (static buffer) or "". */
const char *t_pg_exec(const struct t_pg *pg, const char *sql);

#endif
