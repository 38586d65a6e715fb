/* Test helpers that run the project's real binaries and talk HTTP to them. */
#ifndef OWB_TEST_PROC_H
#define OWB_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct t_proc {
    pid_t pid;
    char log[4096]; /* stderr goes here */
    unsigned port;
};

/* Runs argv to completion with stdin_text on its standard input (NULL for
 * none); captures stdout into out (NUL-terminated, cut to cap) and returns
 * the exit status (or 128 + signal). */
int t_run(char *const argv[], const char *stdin_text, char *out, size_t cap);

/* Same, capturing standard error instead (standard output is discarded). */
int t_run_err(char *const argv[], const char *stdin_text, char *out, size_t cap);

/* Starts argv with stderr to p->log in dir and waits (up to 10 s) for a
 * line containing "(port N)"; fails the test otherwise. */
void t_start(struct t_proc *p, const char *dir, const char *name, char *const argv[]);

/* Sends sig, waits for the process; returns its exit status (or 128 + signal). */
int t_stop(struct t_proc *p, int sig);

/* Text of p->log (free()). */
char *t_log(const struct t_proc *p);

struct t_resp {
    long status;
    char *body; /* NUL-terminated, free() */
    size_t len;
    char headers[4096];
};

/* One HTTP request with libcurl. headers: NULL-terminated list or NULL. */
void t_http(const char *method, const char *url, const char *const *headers, const char *body,
            size_t body_len, struct t_resp *r);
/* Same, but false (and nothing to free) when there is no answer. */
bool t_http_try(const char *method, const char *url, const char *const *headers, const char *body,
                size_t body_len, struct t_resp *r);
void t_resp_free(struct t_resp *r);
/* Fails the test unless r is answered status and its body contains text
 * (NULL: anything); an answer of 400 or more must also be a JSON error
 * with "error" and "message". Then frees r's body: check the rest of the
 * body before; r->status and r->headers stay readable. */
void t_expect(struct t_resp *r, long status, const char *text);
/* When set, t_http binds its socket to this source address (127.0.0.x:
 * another client). A "Host:" entry in headers replaces the default Host. */
extern _Thread_local const char *t_http_from;

/* A slowloris: n connections to 127.0.0.1:port (bound to the address from,
 * or in turn to each of several separated by commas, or any when NULL) each send part of a request
 * head, then one more byte per round; between rounds an honest client GETs url, which must answer
 * 200. Returns the honest client's worst time in ms; *held counts the slow
 * connections that were accepted. */
double t_slowloris(unsigned port, const char *from, int n, int rounds, unsigned pause_ms,
                   const char *url, int *held);

#endif
