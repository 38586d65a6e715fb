#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

/* xorshift64*: a seed printed on failure reproduces the run. */
struct rng {
    uint64_t s;
};

static uint32_t rnd(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 2685821657736338717ULL) >> 32);
}

static size_t pick(struct rng *r, size_t n)
{
    return rnd(r) % n;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 1024;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_repeat(struct buf *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        put(b, s, strlen(s));
}

static void put_random(struct rng *r, struct buf *b, size_t n, unsigned lo, unsigned hi)
{
    for (size_t i = 0; i < n; i++) {
        char c = (char)(lo + pick(r, hi - lo + 1));
        put(b, &c, 1);
    }
}

static void put_b64ish(struct rng *r, struct buf *b, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i++)
        put(b, &a[pick(r, 64)], 1);
}

/* A path segment where an id goes. */
static void put_segment(struct rng *r, struct buf *b)
{
    switch (pick(r, 12)) {
    case 0:
        putf(b, "dev-%u", (unsigned)pick(r, 8));
        break;
    case 1:
        put(b, "..", 2);
        break;
    case 2:
        putf(b, "..%%2f..%%2fetc%%2fpasswd");
        break;
    case 3:
        putf(b, "a%%00b");
        break;
    case 4:
        putf(b, "%%00");
        break;
    case 5:
        put_repeat(b, "a", 65 + pick(r, 6000));
        break;
    case 6:
        put_b64ish(r, b, 1 + pick(r, 40));
        break;
    case 7:
        put_random(r, b, 1 + pick(r, 20), 0x80, 0xff);
        break;
    case 8:
        putf(b, "%%zz%%");
        break;
    case 9:
        break;
    case 10:
        putf(b, "../../../etc/passwd");
        break;
    default:
        for (size_t i = 0, n = 1 + pick(r, 12); i < n; i++)
            putf(b, "%%%02X", (unsigned)pick(r, 256));
    }
}

static void put_path(struct rng *r, struct buf *b, const char *tmpl)
{
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{id}", 4) == 0) {
            put_segment(r, b);
            p += 4;
        } else {
            put(b, p++, 1);
        }
    }
    switch (pick(r, 8)) {
    case 0:
        putf(b, "?q=%u&q=%%00", rnd(r));
        break;
    case 1:
        putf(b, "/..");
        break;
    case 2:
        putf(b, "//");
        break;
    default:
        break;
    }
}

static void put_string_value(struct rng *r, struct buf *b)
{
    put(b, "\"", 1);
    switch (pick(r, 7)) {
    case 0:
        put(b, "a\0b", 3);
        break; /* raw NUL */
    case 1:
        putf(b, "a\\u0000b");
        break; /* escaped NUL */
    case 2:
        put(b, "\xff\xfe", 2);
        break; /* not UTF-8 */
    case 3:
        put(b, "\xc0\xaf", 2);
        break; /* overlong */
    case 4:
        put(b, "\xed\xa0\x80", 3);
        break; /* a surrogate */
    case 5:
        putf(b, "\\ud800x");
        break; /* a lone escaped surrogate */
    default:
        put_b64ish(r, b, pick(r, 80));
        break;
    }
    put(b, "\"", 1);
}

/* A body meant to reach the JSON parser and the handlers behind it. */
static void put_body(struct rng *r, struct buf *b)
{
    static const char *const keys[] = {"claim", "app_key", "wifi", "bundle", "counter",
                                       "nonce", "mac",     "ssid", "psk"};
    size_t depth;

    switch (pick(r, 12)) {
    case 0:
        break;
    case 1:
        put_random(r, b, pick(r, 3000), 0, 255);
        break;
    case 2:
        depth = 1 + pick(r, 7000);
        put_repeat(b, "[", depth);
        put_repeat(b, "]", depth);
        break;
    case 3:
        depth = 1 + pick(r, 1500);
        put_repeat(b, "{\"a\":", depth);
        put(b, "1", 1);
        put_repeat(b, "}", depth);
        break;
    case 4: {
        const char *k = keys[pick(r, 9)];
        putf(b, "{\"%s\":\"x\",\"%s\":\"y\",\"claim\":\"AAAA-BBBB\"}", k, k);
        break;
    }
    case 5:
    case 6:
        putf(b, "{\"%s\":", keys[pick(r, 9)]);
        put_string_value(r, b);
        putf(b, ",\"%s\":", keys[pick(r, 9)]);
        put_string_value(r, b);
        put(b, "}", 1);
        break;
    case 7:
        putf(b, "{\"claim\":\"%u\",\"%s\":\"", rnd(r), pick(r, 2) ? "app_key" : "wifi");
        put_b64ish(r, b, pick(r, 2) ? 43 : pick(r, 400));
        put(b, "\"}", 2);
        break;
    case 8:
        put(b, "{\"bundle\":\"", 11);
        put_b64ish(r, b, pick(r, 1200));
        put(b, "\",\"app_key\":\"", 13);
        put_b64ish(r, b, 43);
        put(b, "\"}", 2);
        break;
    case 9: {
        static const char *const nums[] = {
            "1e99999", "18446744073709551616", "-0", "0x10", "9007199254740993", "-1", "1.5",
            "NaN"};
        putf(b, "{\"counter\":%s,\"nonce\":\"AAAA\",\"mac\":\"AAAA\"}", nums[pick(r, 8)]);
        break;
    }
    case 10:
        put_repeat(b, "x", 17 * 1024 + pick(r, 20000));
        break; /* over every limit */
    default:
        put(b, "{", 1);
        for (size_t i = 0, n = pick(r, 6); i < n; i++) {
            putf(b, "%s\"%s\":", i ? "," : "", keys[pick(r, 9)]);
            if (pick(r, 2))
                put_string_value(r, b);
            else
                putf(b, "%s", pick(r, 2) ? "[]" : "{\"a\":null}");
        }
        put(b, "}", 1);
    }
}

struct req {
    struct buf head, body;
    bool well_formed; /* a server must answer it */
    bool send_body;   /* false when the framing headers lie */
    bool chunked;
    bool bad_version; /* 505 is the right answer */
};

static void make_request(struct rng *r, const char *const *paths, int npaths, unsigned port,
                         struct req *q)
{
    static const char *const methods[] = {"GET",    "POST", "POST",    "POST",  "PUT",
                                          "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE"};
    const char *version = "HTTP/1.1";

    memset(q, 0, sizeof *q);
    q->well_formed = true;
    q->send_body = true;
    if (pick(r, 20) == 0) {
        put_random(r, &q->head, 1 + pick(r, 12), 'A', 'Z');
    } else {
        putf(&q->head, "%s", methods[pick(r, 10)]);
    }
    put(&q->head, " ", 1);
    put_path(r, &q->head, paths[pick(r, (size_t)npaths)]);
    switch (pick(r, 25)) {
    case 0:
        version = "HTTP/1.0";
        break;
    case 1:
        version = "HTTP/2.0";
        q->bad_version = true;
        break;
    case 2:
        version = "FOO/1.1";
        q->well_formed = false;
        break;
    default:
        break;
    }
    putf(&q->head, " %s\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n", version, port);
    /* Raw bytes that HTTP does not allow in a request target. */
    for (size_t i = 0; i < q->head.len && q->head.p[i] != '\r'; i++)
        if ((unsigned char)q->head.p[i] >= 0x80)
            q->well_formed = false;

    for (size_t i = 0, n = pick(r, 10); i < n; i++) {
        switch (pick(r, 8)) {
        case 0:
            putf(&q->head, "Content-Type: application/json\r\n");
            break;
        case 1:
            put(&q->head, "Authorization: Bearer ", 22);
            put_b64ish(r, &q->head, pick(r, 2) ? 43 : pick(r, 600));
            put(&q->head, "\r\n", 2);
            break;
        case 2:
            putf(&q->head, "Expect: 100-continue\r\n");
            break;
        case 3:
            put(&q->head, "X-", 2);
            put_random(r, &q->head, 1 + pick(r, 30), 'a', 'z');
            put(&q->head, ": ", 2);
            put_random(r, &q->head, pick(r, 300), 0x20, 0x7e);
            put(&q->head, "\r\n", 2);
            break;
        case 4:
            put(&q->head, "X-Bytes: ", 9);
            put_random(r, &q->head, pick(r, 100), 0x80, 0xff);
            put(&q->head, "\r\n", 2);
            break;
        case 5:
            putf(&q->head, "Cookie: %u\r\n", rnd(r));
            break;
        case 6:
            putf(&q->head, "Accept: */*\r\n");
            break;
        default:
            putf(&q->head, "Content-Type: text/plain; charset=\"%u\"\r\n", rnd(r));
            break;
        }
    }

    put_body(r, &q->body);
    switch (pick(r, 16)) {
    case 0: /* a Content-Length no server may wait for */
        putf(&q->head, "Content-Length: %s\r\n",
             (const char *[]){"99999999999999999999999", "18446744073709551615", "1000000000", "-1",
                              "12abc"}[pick(r, 5)]);
        q->send_body = false;
        break;
    case 1:
        if (q->body.len < 8192) {
            q->chunked = true;
            putf(&q->head, "Transfer-Encoding: chunked\r\n");
            break;
        }
        /* fall through */
    case 2:
        putf(&q->head, "Content-Length: %zu\r\nContent-Length: %zu\r\n", q->body.len, q->body.len);
        break;
    default:
        if (q->body.len || pick(r, 2))
            putf(&q->head, "Content-Length: %zu\r\n", q->body.len);
    }
    put(&q->head, "\r\n", 2);
}

static int connect_to(unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fail_msg("connect to 127.0.0.1:%u: %s", port, strerror(errno));
    return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

/* A final answer is waiting (not just "100 Continue", which asks for the body). */
static bool answered_early(int fd, int ms)
{
    char peek[13] = {0};
    if (!readable(fd, ms))
        return false;
    return recv(fd, peek, 12, MSG_PEEK) <= 0 || strncmp(peek, "HTTP/1.1 100", 12) != 0;
}

/* Reads until the peer closes (or 5 s pass); returns the final status, 0
 * when no status line came, -1 on a time-out. */
static long read_status(int fd)
{
    char buf[8192];
    size_t got = 0;
    long status = 0;

    for (;;) {
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -1;
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        /* Skip interim 100 Continue answers. */
        char *line = buf;
        while (strncmp(line, "HTTP/1.1 100", 12) == 0 && strstr(line, "\r\n\r\n"))
            line = strstr(line, "\r\n\r\n") + 4;
        if (strncmp(line, "HTTP/1.", 7) == 0 && strlen(line) >= 12 && line[12] != '\0')
            status = strtol(line + 9, NULL, 10);
        if (got > sizeof buf / 2) { /* keep the head, drop the rest of the body */
            got = 0;
            if (status)
                buf[0] = '\0';
        }
    }
    return status;
}

static void send_chunked(int fd, struct rng *r, const struct buf *b)
{
    size_t off = 0;
    char line[32];
    while (off < b->len) {
        size_t n = 1 + pick(r, 700);
        if (n > b->len - off)
            n = b->len - off;
        int k = snprintf(line, sizeof line, "%zx\r\n", n);
        if (!send_all(fd, line, (size_t)k) || !send_all(fd, b->p + off, n) ||
            !send_all(fd, "\r\n", 2))
            return;
        off += n;
    }
    send_all(fd, "0\r\n\r\n", 5);
}

static void honest_get(const char *url, struct t_hostile *out)
{
    struct timespec t0, t1;
    struct t_resp resp;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    t_http("GET", url, NULL, NULL, 0, &resp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (resp.status != 200)
        fail_msg("honest GET %s answered %ld", url, resp.status);
    t_resp_free(&resp);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms > out->honest_worst_ms)
        out->honest_worst_ms = ms;
    out->honest++;
}

/* Prints the start of a failing request, escaped, so the seed is not the
 * only way to see what was sent. */
static void show(const struct req *q)
{
    char esc[600];
    size_t o = 0;
    for (size_t i = 0; i < q->head.len && o + 5 < sizeof esc; i++) {
        unsigned char c = (unsigned char)q->head.p[i];
        o += (size_t)snprintf(esc + o, sizeof esc - o, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
    }
    print_error("request: %s (body %zu bytes%s)\n", esc, q->body.len,
                q->chunked ? ", chunked" : "");
}

int t_hostile_count(void)
{
    const char *env = getenv("OWB_HOSTILE_REQUESTS");
    return env && atoi(env) > 0 ? atoi(env) : 10000;
}

uint32_t t_hostile_seed(void)
{
    const char *env = getenv("OWB_HOSTILE_SEED");
    return env ? (uint32_t)strtoul(env, NULL, 10) : 20261125;
}

void t_hostile_run(const struct t_hostile_target *t, int n, uint32_t seed, struct t_hostile *out)
{
    struct rng r = {0x9E3779B97F4A7C15ULL ^ seed};
    struct timespec t0, t1;

    memset(out, 0, sizeof *out);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        struct req q;
        long status;
        int fd;

        make_request(&r, t->paths, t->npaths, t->port, &q);
        fd = connect_to(t->port);
        out->requests++;
        if (send_all(fd, q.head.p, q.head.len) && q.send_body) {
            /* A body past the server's limit is answered 413 from the
             * head; sending it anyway would only earn a reset. */
            if (q.body.len > t->body_max && !q.chunked) {
                if (!answered_early(fd, 2000)) {
                    show(&q);
                    fail_msg("seed %u, request %d: a body past the limit was not refused from "
                             "its head",
                             seed, i);
                }
            } else if (q.chunked)
                send_chunked(fd, &r, &q.body);
            else
                send_all(fd, q.body.p ? q.body.p : "", q.body.len);
        }
        status = read_status(fd);
        close(fd);
        if (status < 0 || (status == 0 && q.well_formed)) {
            show(&q);
            fail_msg("seed %u, request %d: %s", seed, i,
                     status < 0 ? "no answer within 5 s" : "closed without an answer");
        }
        if (status >= 500 && !(status == 505 && q.bad_version)) {
            show(&q);
            fail_msg("seed %u, request %d: answered %ld", seed, i, status);
        }
        if (status == 0) {
            out->dropped++;
        } else {
            out->answered++;
            if (status >= 100 && status < 600)
                out->by_status[status / 100]++;
        }
        free(q.head.p);
        free(q.body.p);
        if (i % 50 == 49)
            honest_get(t->honest_url, out);
    }
    honest_get(t->honest_url, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* Sends text in pieces while watching for an answer; returns the status
 * (0: cut off without one) and adds what was sent to *sent. */
static long flood_one(unsigned port, const struct buf *text, long *sent)
{
    int fd = connect_to(port);
    size_t off = 0;
    long status;

    while (off < text->len && !readable(fd, 0)) {
        size_t n = text->len - off < 4096 ? text->len - off : 4096;
        ssize_t w = send(fd, text->p + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    *sent += (long)off;
    status = read_status(fd);
    close(fd);
    if (status < 0)
        fail_msg("header flood: no answer and no close within 5 s");
    if (status >= 500)
        fail_msg("header flood answered %ld", status);
    return status;
}

long t_header_flood(unsigned port, int conns, const char *honest_url)
{
    struct buf many = {0}, huge = {0}, line = {0};
    struct t_hostile h = {0};
    long sent = 0;

    putf(&many, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < 10000; i++)
        putf(&many, "X-Flood-%05d: aaaaaaaaaa\r\n", i);
    put(&many, "\r\n", 2);
    putf(&huge, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ");
    put_repeat(&huge, "b", 1 << 20);
    put(&huge, "\r\n\r\n", 4);
    putf(&line, "GET /");
    put_repeat(&line, "c", 100000);
    putf(&line, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    assert_true(flood_one(port, &many, &sent) != 200);
    assert_true(flood_one(port, &huge, &sent) != 200);
    assert_true(flood_one(port, &line, &sent) != 200);
    honest_get(honest_url, &h);

    /* conns floods at once: each connection gets its 64 KiB of headers in
     * turn, so all of them are open while the server reads. */
    int *fds = calloc((size_t)conns, sizeof *fds);
    assert_non_null(fds);
    for (int i = 0; i < conns; i++) {
        fds[i] = connect_to(port);
        send_all(fds[i], "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", 33);
        sent += 33;
    }
    for (int round = 0; round < 16; round++)
        for (int i = 0; i < conns; i++) {
            char chunk[4096];
            memset(chunk, 'd', sizeof chunk);
            memcpy(chunk, "X-Many: ", 8);
            memcpy(chunk + sizeof chunk - 2, "\r\n", 2);
            ssize_t w = send(fds[i], chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += w;
        }
    honest_get(honest_url, &h);
    for (int i = 0; i < conns; i++) {
        long st = read_status(fds[i]);
        if (st == 200 || st >= 500)
            fail_msg("flooding connection %d answered %ld", i, st);
        close(fds[i]);
    }
    free(fds);
    honest_get(honest_url, &h);
    free(many.p);
    free(huge.p);
    free(line.p);
    return sent;
}
