#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

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
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
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

struct sink {
    char *p;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    struct sink *s = cls;
    size_t k = size * n;
    char *np = realloc(s->p, s->len + k + 1);
    if (!np)
        return 0;
    memcpy(np + s->len, data, k);
    s->p = np;
    s->len += k;
    s->p[s->len] = '\0';
    return k;
}

static size_t on_header(char *data, size_t size, size_t n, void *cls)
{
    struct t_resp *r = cls;
    size_t k = size * n, have = strlen(r->headers);
    if (have + k + 1 < sizeof r->headers) {
        memcpy(r->headers + have, data, k);
        r->headers[have + k] = '\0';
    }
    return k;
}

void t_http(const char *method, const char *url, const char *const *headers, const char *body,
            size_t body_len, struct t_resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct sink s = {calloc(1, 1), 0};
    CURLcode rc;

    memset(r, 0, sizeof *r);
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    hl = curl_slist_append(hl, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = s.p;
    r->len = s.len;
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

void t_resp_free(struct t_resp *r)
{
    free(r->body);
    r->body = NULL;
}
