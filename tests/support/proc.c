#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static int status_of(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

static int run_capture(char *const argv[], const char *stdin_text, char *out, size_t cap,
                       int which_fd)
{
    int in[2], outp[2], st = 0;
    size_t got = 0;
    pid_t pid;

    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(outp), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        if (which_fd == 2) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
        }
        dup2(outp[1], which_fd);
        close(in[1]);
        close(outp[0]);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    if (stdin_text) {
        ssize_t w = write(in[1], stdin_text, strlen(stdin_text));
        (void)w;
    }
    close(in[1]);
    for (;;) {
        char tmp[4096];
        ssize_t n = read(outp[0], tmp, sizeof tmp);
        if (n <= 0)
            break;
        if (out && got + 1 < cap) {
            size_t k = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
            memcpy(out + got, tmp, k);
            got += k;
        }
    }
    if (out)
        out[got] = '\0';
    close(outp[0]);
    waitpid(pid, &st, 0);
    return status_of(st);
}

int t_run(char *const argv[], const char *stdin_text, char *out, size_t cap)
{
    return run_capture(argv, stdin_text, out, cap, 1);
}

int t_run_err(char *const argv[], const char *stdin_text, char *out, size_t cap)
{
    return run_capture(argv, stdin_text, out, cap, 2);
}

char *t_log(const struct t_proc *p)
{
    FILE *f = fopen(p->log, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n;
    assert_non_null(buf);
    if (!f)
        return buf;
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

void t_start(struct t_proc *p, const char *dir, const char *name, char *const argv[])
{
    int fd;

    memset(p, 0, sizeof *p);
    snprintf(p->log, sizeof p->log, "%s/%s.log", dir, name);
    fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    pid_t parent = getpid();
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        /* A test that dies before its teardown takes its servers along:
         * left running, they load the machine under every test after. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        /* stdout too: a server left running must not hold the test's pipe. */
        dup2(fd, 1);
        dup2(fd, 2);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(fd);
    for (int i = 0; i < 1000; i++) {
        char *text = t_log(p);
        char *at = strstr(text, "(port ");
        int st;
        if (at) {
            p->port = (unsigned)strtoul(at + 6, NULL, 10);
            free(text);
            return;
        }
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            print_error("%s exited early with %d:\n%s\n", argv[0], status_of(st), text);
            free(text);
            p->pid = 0;
            fail();
        }
        free(text);
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fail_msg("%s did not report its port within 10 s", argv[0]);
}

int t_stop(struct t_proc *p, int sig)
{
    int st = 0;
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return status_of(st);
}

/* A small HTTP/1.1 client for the tests (loopback only): one request per
 * connection, "Connection: close", the answer read to the end. Written
 * here rather than taken from libcurl so that the same tests run on the
 * emulated Omega2, where no libcurl is built. */
static void split_url(const char *url, char *host, size_t hcap, unsigned *port, const char **path)
{
    const char *h = url + strlen("http://"), *slash, *colon;
    if (strncmp(url, "http://", 7) != 0)
        fail_msg("t_http: only http:// URLs: %s", url);
    slash = strchr(h, '/');
    *path = slash ? slash : "/";
    colon = memchr(h, ':', (size_t)((slash ? slash : h + strlen(h)) - h));
    snprintf(host, hcap, "%.*s", (int)((colon ? colon : (slash ? slash : h + strlen(h))) - h), h);
    *port = colon ? (unsigned)atoi(colon + 1) : 80;
}

static bool http_do(const char *method, const char *url, const char *const *headers,
                    const char *body, size_t body_len, struct t_resp *r, bool must);

_Thread_local const char *t_http_from;

void t_http(const char *method, const char *url, const char *const *headers, const char *body,
            size_t body_len, struct t_resp *r)
{
    http_do(method, url, headers, body, body_len, r, true);
}

bool t_http_try(const char *method, const char *url, const char *const *headers, const char *body,
                size_t body_len, struct t_resp *r)
{
    return http_do(method, url, headers, body, body_len, r, false);
}

static bool http_do(const char *method, const char *url, const char *const *headers,
                    const char *body, size_t body_len, struct t_resp *r, bool must)
{
    char host[256], head[8192];
    const char *path;
    unsigned port;
    struct sockaddr_in sa = {0};
    int fd, n;
    size_t got = 0, cap = 65536;
    char *buf = malloc(cap);

    memset(r, 0, sizeof *r);
    assert_non_null(buf);
    split_url(url, host, sizeof host, &port, &path);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        fail_msg("t_http: tests use numeric loopback addresses: %s", url);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (t_http_from) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, t_http_from, &src.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        free(buf);
        if (must)
            fail_msg("%s %s: cannot connect: %s", method, url, strerror(errno));
        return false;
    }
    bool own_host = false;
    for (size_t i = 0; headers && headers[i]; i++)
        own_host |= strncasecmp(headers[i], "Host:", 5) == 0;
    n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nConnection: close\r\n", method, path);
    if (!own_host)
        n += snprintf(head + n, sizeof head - (size_t)n, "Host: %s:%u\r\n", host, port);
    for (size_t i = 0; headers && headers[i]; i++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", headers[i]);
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    /* A server may answer (413) and close before the body is all sent:
     * a failed send is not the test's failure, the answer decides. */
    if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n && body) {
        size_t off = 0;
        while (off < body_len) {
            ssize_t w = send(fd, body + off, body_len - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    for (;;) {
        if (got + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || !end) {
        free(buf);
        if (must)
            fail_msg("%s %s: no HTTP answer (%zu bytes)", method, url, got);
        return false;
    }
    r->status = strtol(buf + 9, NULL, 10);
    size_t hlen = (size_t)(end - buf) + 4;
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)hlen, buf);
    r->len = got - hlen;
    r->body = malloc(r->len + 1);
    memcpy(r->body, end + 4, r->len);
    r->body[r->len] = '\0';
    free(buf);
    return true;
}

void t_resp_free(struct t_resp *r)
{
    free(r->body);
    r->body = NULL;
}

void t_expect(struct t_resp *r, long status, const char *text)
{
    if (r->status != status || (text && !strstr(r->body, text)))
        fail_msg("want %ld %s, got %ld %s", status, text ? text : "", r->status, r->body);
    if (status >= 400 && (!strstr(r->body, "\"error\":") || !strstr(r->body, "\"message\":")))
        fail_msg("want a JSON error, got %ld %s", r->status, r->body);
    t_resp_free(r);
}

double t_slowloris(unsigned port, const char *from, int n, int rounds, unsigned pause_ms,
                   const char *url, int *held)
{
    int *fds = calloc((size_t)n, sizeof *fds);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    double worst = 0;

    assert_non_null(fds);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    *held = 0;
    /* from: one address, or several separated by commas, used in turn. */
    char addrs[16][INET_ADDRSTRLEN];
    int n_addrs = 0;
    for (const char *p = from; p && *p && n_addrs < 16;) {
        size_t len = strcspn(p, ",");
        snprintf(addrs[n_addrs++], sizeof addrs[0], "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        if (n_addrs) {
            assert_int_equal(inet_pton(AF_INET, addrs[i % n_addrs], &src.sin_addr), 1);
            assert_int_equal(bind(fds[i], (struct sockaddr *)&src, sizeof src), 0);
        }
        if (connect(fds[i], (struct sockaddr *)&dst, sizeof dst) == 0 &&
            send(fds[i], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL) > 0)
            (*held)++;
    }
    for (int round = 0; round < rounds; round++) {
        struct timespec t0, t1;
        struct t_resp r;
        for (int i = 0; i < n; i++)
            (void)send(fds[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        t_http("GET", url, NULL, NULL, 0, &r);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_int_equal(r.status, 200);
        t_resp_free(&r);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (ms > worst)
            worst = ms;
        nanosleep(&(struct timespec){pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L}, NULL);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    return worst;
}
