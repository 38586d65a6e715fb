#include "pg.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "test_support.h"

bool t_pg_available(struct t_pg *pg)
{
    glob_t g;
    bool ok = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0;

    memset(pg, 0, sizeof *pg);
    if (ok) {
        /* The newest version installed: glob sorts, and 9 < 15 only as text. */
        const char *best = g.gl_pathv[0];
        for (size_t i = 1; i < g.gl_pathc; i++)
            if (atoi(g.gl_pathv[i] + 20) > atoi(best + 20))
                best = g.gl_pathv[i];
        snprintf(pg->bin, sizeof pg->bin, "%.*s", (int)(strrchr(best, '/') - best), best);
    }
    globfree(&g);
    return ok;
}

static unsigned free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Runs argv (as postgres when we are root) with output to the cluster's
 * log; wait: return its exit status, else its pid. */
static int run_pg(const struct t_pg *pg, char *const argv[], bool wait)
{
    char log[4200];
    pid_t pid;
    int st = 0;

    snprintf(log, sizeof log, "%s/log", pg->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("postgres");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
                _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (!wait)
        return pid;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void show_log(const struct t_pg *pg)
{
    char path[4200];
    size_t len;
    snprintf(path, sizeof path, "%s/log", pg->dir);
    char *text = t_read_file(path, &len);
    print_error("%s\n", text);
    free(text);
}

static void postmaster(struct t_pg *pg)
{
    char prog[4200], data[4200], port[16], conninfo[128];

    snprintf(prog, sizeof prog, "%s/postgres", pg->bin);
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(port, sizeof port, "%u", pg->port);
    char *argv[] = {prog,
                    "-D",
                    data,
                    "-p",
                    port,
                    "-k",
                    pg->dir,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                    NULL};
    pg->pid = run_pg(pg, argv, false);
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%u user=postgres dbname=postgres connect_timeout=2", pg->port);
    for (int i = 0; i < 300; i++) {
        if (PQping(conninfo) == PQPING_OK)
            return;
        if (waitpid(pg->pid, NULL, WNOHANG) == pg->pid) {
            pg->pid = 0;
            show_log(pg);
            fail_msg("postgres exited at start");
        }
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    show_log(pg);
    fail_msg("postgres did not accept connections within 30 s");
}

void t_pg_start(struct t_pg *pg)
{
    char prog[4200], data[4200];

    snprintf(pg->dir, sizeof pg->dir, "/tmp/owb-pg-XXXXXX");
    assert_non_null(mkdtemp(pg->dir));
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw)
            fail_msg("running as root and there is no postgres user to run PostgreSQL as");
        assert_int_equal(chown(pg->dir, pw->pw_uid, pw->pw_gid), 0);
    }
    snprintf(prog, sizeof prog, "%s/initdb", pg->bin);
    snprintf(data, sizeof data, "%s/data", pg->dir);
    char *argv[] = {prog,       "-D", data,   "-A",         "trust",     "-U",
                    "postgres", "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    if (run_pg(pg, argv, true) != 0) {
        show_log(pg);
        fail_msg("initdb failed");
    }
    pg->port = free_port();
    postmaster(pg);
    snprintf(pg->dsn, sizeof pg->dsn, "host=127.0.0.1 port=%u user=postgres dbname=postgres",
             pg->port);
    PGconn *c = PQconnectdb(pg->dsn);
    PGresult *r = PQexec(c, "CREATE DATABASE owb");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("CREATE DATABASE: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(pg->dsn, sizeof pg->dsn, "postgresql://postgres@127.0.0.1:%u/owb", pg->port);
}

void t_pg_pause(struct t_pg *pg)
{
    if (pg->pid > 0) {
        kill(pg->pid, SIGINT); /* fast shutdown: clients are cut off */
        waitpid(pg->pid, NULL, 0);
        pg->pid = 0;
    }
}

void t_pg_resume(struct t_pg *pg)
{
    postmaster(pg);
}

void t_pg_crash(struct t_pg *pg)
{
    assert_true(pg->pid > 0);
    kill(pg->pid, SIGQUIT);
    waitpid(pg->pid, NULL, 0);
    pg->pid = 0;
    postmaster(pg);
}

/* The processes whose parent is ppid get sig. */
static void signal_children(pid_t ppid, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[300], stat[512], *close;
        int parent = 0;
        pid_t pid = (pid_t)atoi(e->d_name);
        FILE *f;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        /* pid (comm) state ppid: comm may hold anything but ends at the last ')'. */
        if (fgets(stat, sizeof stat, f) && (close = strrchr(stat, ')')) != NULL &&
            sscanf(close + 1, " %*c %d", &parent) == 1 && parent == ppid)
            kill(pid, sig);
        fclose(f);
    }
    closedir(d);
}

void t_pg_freeze(struct t_pg *pg, bool freeze)
{
    assert_true(pg->pid > 0);
    if (freeze) {
        assert_int_equal(kill(pg->pid, SIGSTOP), 0);
        signal_children(pg->pid, SIGSTOP);
    } else {
        signal_children(pg->pid, SIGCONT);
        assert_int_equal(kill(pg->pid, SIGCONT), 0);
    }
}

void t_pg_stop(struct t_pg *pg)
{
    t_pg_pause(pg);
    if (pg->dir[0])
        t_rmtree(pg->dir);
    pg->dir[0] = '\0';
}

const char *t_pg_exec(const struct t_pg *pg, const char *sql)
{
    static char first[256];
    PGconn *c = PQconnectdb(pg->dsn);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    snprintf(first, sizeof first, "%s",
             st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return first;
}
