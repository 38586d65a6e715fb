/* Hostile traffic against a running server on 127.0.0.1: random requests
 * built from a seed (methods, paths with "..", "%00" and overlong ids,
 * random headers, bodies of random bytes, deep nesting, duplicate keys,
 * NUL and invalid UTF-8, lying Content-Lengths), and header floods, with
 * an honest client checked in between. */
#ifndef OWB_TEST_HOSTILE_H
#define OWB_TEST_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

struct t_hostile {
    int requests;           /* sent */
    int answered;           /* got a status line */
    int dropped;            /* closed without one (only for garbage request lines) */
    int by_status[6];       /* answers per class: [4] = 4xx, ... */
    int honest;             /* honest requests, each answered 200 */
    double honest_worst_ms; /* the honest client's slowest answer */
    double seconds;         /* the whole run */
};

struct t_hostile_target {
    unsigned port;
    const char *const *paths; /* "{id}" is replaced by a random id-like segment */
    int npaths;
    size_t body_max;        /* the server's body limit: longer ones must be 413 at once */
    const char *honest_url; /* GET every 50 requests, must answer 200 */
};

/* Sends n random requests built from seed. Fails the test on any 5xx (but
 * 505 for an HTTP/2.0 request line), on a well-formed request left
 * unanswered, on a body past the limit not refused from its head, or when
 * the honest client is not served. */
void t_hostile_run(const struct t_hostile_target *t, int n, uint32_t seed, struct t_hostile *out);

/* The run's size and seed: $OWB_HOSTILE_REQUESTS (default 10000) and
 * $OWB_HOSTILE_SEED (default a fixed one, so that CI runs are repeatable). */
int t_hostile_count(void);
uint32_t t_hostile_seed(void);

/* Header floods: one request with thousands of small headers, one with a
 * single huge header, one with a huge request line, and conns connections
 * flooding at once. Each must be refused (4xx) or cut off, never hang the
 * server; the honest client is served afterwards. Returns the number of
 * header bytes sent in all. */
long t_header_flood(unsigned port, int conns, const char *honest_url);

#endif
