#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

extern char **environ;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#define MAX_CANDIDATES 32

/* Every path argv[0] may live at, in search order; worked out before fork
 * because the child of a threaded process may only make async-signal-safe
 * calls. */
static size_t candidates(const struct owb_spawn *sp, char (*out)[1024])
{
    const char *name = sp->argv[0], *p;
    size_t n = 0;

    if (strchr(name, '/')) {
        snprintf(out[n++], 1024, "%s", name);
        return n;
    }
    if (sp->tool_dir)
        snprintf(out[n++], 1024, "%s/%s", sp->tool_dir, name);
    p = getenv("PATH");
    if (!p || !*p)
        p = "/usr/sbin:/usr/bin:/sbin:/bin";
    while (*p && n < MAX_CANDIDATES) {
        size_t len = strcspn(p, ":");
        snprintf(out[n++], 1024, "%.*s/%s", (int)len, p, name);
        p += len;
        if (*p == ':')
            p++;
    }
    return n;
}

/* The agent blocks SIGINT/SIGTERM/SIGUSR1 (it waits for them with
 * sigtimedwait) and ignores SIGPIPE and SIGXFSZ; a mask and ignored
 * dispositions survive execve, so without this a daemon a backend starts
 * could never be stopped with SIGTERM. */
static void reset_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
}

static void child(const struct owb_spawn *sp, int in_fd, int out_fd, int null_fd, char **envp,
                  char (*paths)[1024], size_t n_paths)
{
    reset_signals();
    dup2(in_fd >= 0 ? in_fd : null_fd, 0);
    if (out_fd >= 0)
        dup2(out_fd, 1);
    if (out_fd >= 0 && sp->merge_stderr)
        dup2(out_fd, 2);
    /* Own process group, so a timeout kills the helper's children too. */
    setpgid(0, 0);
    for (size_t i = 0; i < n_paths; i++)
        execve(paths[i], sp->argv, envp);
    _exit(127);
}

/* environ plus the extra entries (later entries replace earlier names). */
static char **build_env(char *const *extra)
{
    size_t n_env = 0, n_extra = 0, k = 0;
    char **envp;

    while (environ[n_env])
        n_env++;
    while (extra && extra[n_extra])
        n_extra++;
    envp = calloc(n_env + n_extra + 1, sizeof *envp);
    if (!envp)
        return NULL;
    for (size_t i = 0; i < n_env; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_extra; j++) {
            size_t len = strcspn(extra[j], "=");
            if (strncmp(environ[i], extra[j], len) == 0 && environ[i][len] == '=')
                replaced = true;
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++)
        envp[k++] = extra[j];
    envp[k] = NULL;
    return envp;
}

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

/* Reads the helper's output into sp->out until EOF or the deadline, when
 * a helper that hangs is killed. True when it was reaped meanwhile. */
static bool read_until(const struct owb_spawn *sp, int fd, pid_t pid, long long deadline, int *st,
                       bool *killed)
{
    size_t got = 0;

    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = {fd, POLLIN, 0};
        if (left <= 0) {
            kill_group(pid);
            *killed = true;
            return false;
        }
        int r = poll(&pfd, 1, (int)(left > 100 ? 100 : left));
        if (r < 0 && errno != EINTR)
            return false;
        if (r <= 0) {
            if (waitpid(pid, st, WNOHANG) == pid)
                return true;
            continue;
        }
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return false;
        if (sp->out && got + 1 < sp->out_cap) {
            size_t k = (size_t)n < sp->out_cap - 1 - got ? (size_t)n : sp->out_cap - 1 - got;
            memcpy(sp->out + got, buf, k);
            got += k;
            sp->out[got] = '\0';
        }
        /* It may hold a PSK read back, or a rollout's answer with its app key. */
        sodium_memzero(buf, sizeof buf);
    }
}

/* Waits for the helper, killing it at the deadline; false on a wait error. */
static bool reap(pid_t pid, long long deadline, int *st, bool *killed)
{
    for (;;) {
        pid_t w = waitpid(pid, st, *killed ? 0 : WNOHANG);
        if (w == pid)
            return true;
        if (w < 0 && errno != EINTR)
            return false;
        if (!*killed && deadline - now_ms() <= 0) {
            kill_group(pid);
            *killed = true;
        } else if (!*killed) {
            nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
        }
    }
}

enum owb_err owb_spawn_run(const struct owb_spawn *sp, int *exit_code)
{
    int out_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1}, st = 0;
    unsigned timeout = sp->timeout_ms ? sp->timeout_ms : 30000;
    long long deadline = now_ms() + timeout;
    char **envp = build_env(sp->extra_env);
    char(*paths)[1024] = calloc(MAX_CANDIDATES, 1024);
    size_t n_paths = 0;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    bool killed = false;
    pid_t pid;
    enum owb_err rc = OWB_ERR_IO;

    *exit_code = -1;
    if (sp->out && sp->out_cap)
        sp->out[0] = '\0';
    if (!envp || !paths || null_fd < 0) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    n_paths = candidates(sp, paths);
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || (sp->in && pipe2(in_pipe, O_CLOEXEC) != 0))
        goto out;
    pid = fork();
    if (pid < 0)
        goto out;
    if (pid == 0)
        child(sp, sp->in ? in_pipe[0] : -1, out_pipe[1], null_fd, envp, paths, n_paths);
    close(out_pipe[1]);
    out_pipe[1] = -1;
    if (sp->in) {
        close(in_pipe[0]);
        in_pipe[0] = -1;
        /* Helpers read little; a short write to a pipe does not block. */
        ssize_t w = write(in_pipe[1], sp->in, strlen(sp->in));
        (void)w;
        close(in_pipe[1]);
        in_pipe[1] = -1;
    }
    if (!read_until(sp, out_pipe[0], pid, deadline, &st, &killed) &&
        !reap(pid, deadline, &st, &killed))
        goto out;
    if (killed) {
        rc = OWB_ERR_UNAVAILABLE;
        goto out;
    }
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    rc = OWB_OK;
out:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
    }
    if (null_fd >= 0)
        close(null_fd);
    free(paths);
    free(envp);
    return rc;
}

enum owb_err owb_spawn_start(const struct owb_spawn *sp, pid_t *pid_out)
{
    char **envp = build_env(sp->extra_env);
    char(*paths)[1024] = calloc(MAX_CANDIDATES, 1024);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    enum owb_err rc = OWB_ERR_NOMEM;
    pid_t pid;

    *pid_out = -1;
    if (!envp || !paths || null_fd < 0)
        goto out;
    size_t n_paths = candidates(sp, paths);
    rc = OWB_ERR_IO;
    pid = fork();
    if (pid < 0)
        goto out;
    if (pid == 0)
        child(sp, -1, null_fd, null_fd, envp, paths, n_paths);
    *pid_out = pid;
    rc = OWB_OK;
out:
    if (null_fd >= 0)
        close(null_fd);
    free(paths);
    free(envp);
    return rc;
}

bool owb_spawn_alive(pid_t pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

void owb_spawn_stop(pid_t *pid)
{
    int st;

    if (*pid <= 0)
        return;
    kill(-*pid, SIGTERM);
    kill(*pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        pid_t w = waitpid(*pid, &st, WNOHANG);
        if (w == *pid || (w < 0 && errno != EINTR))
            goto done;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    /* Two seconds is plenty for a DHCP daemon; this one is stuck. */
    kill(-*pid, SIGKILL);
    kill(*pid, SIGKILL);
    while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
        ;
done:
    *pid = -1;
}
