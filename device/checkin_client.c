/* Check-in: proves to the server that the device is online (PROTOCOL.md,
 * "Check-in"). http:// URLs are posted by a small built-in client;
 * https:// ones by a helper program (curl or OpenWRT's uclient-fetch),
 * run without a shell. Retries with exponential backoff and jitter until
 * accepted, refused for good, or out of time. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "http_answer.h"
#include "owb/base64.h"
#include "owb/checkin.h"
#include "spawn.h"

#define IO_TIMEOUT_S 10

/* Where a built-in POST's answer goes: the whole response is read into
 * buf (bounded), then the body moved to its start. */
struct answer {
    char *buf;
    size_t cap, len;
};

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct timeval tv = {IO_TIMEOUT_S, 0};
    int fd = -1;

    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Reads the response (Connection: close: until EOF, or only its status
 * line when nobody wants the body); the status, or -1. The whole of it
 * within IO_TIMEOUT_S, not each read: a peer sending a byte now and then
 * would otherwise hold the agent for as long as it liked. */
static int read_response(int fd, struct answer *ans)
{
    char line[256];
    char *buf = ans->buf ? ans->buf : line;
    size_t cap = ans->buf ? ans->cap : sizeof line, got = 0;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < cap - 1) {
        long left_ms = IO_TIMEOUT_S * 1000L - owb_since_ms(&t0);
        struct timeval tv = {left_ms / 1000, (left_ms % 1000) * 1000};
        if (left_ms <= 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
            return -1;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (!ans->buf && memchr(buf, '\n', got))
            break;
    }
    buf[got] = '\0';
    if (!ans->buf)
        return owb_http_answer_status(buf, got);
    return owb_http_answer_parse(buf, got, cap, &ans->len);
}

/* One POST with the built-in client; the HTTP status, or -1. */
static int post_http(const char *url, const char *body, struct answer *ans)
{
    char host[256], port[16], head[1024];
    const char *path;
    int fd, status = -1, n;

    if (!owb_http_url_split(url, host, sizeof host, port, sizeof port, &path))
        return -1;
    fd = connect_to(host, port);
    if (fd < 0)
        return -1;
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 path, host, port, strlen(body));
    if (n < 0 || (size_t)n >= sizeof head || send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
        send(fd, body, strlen(body), MSG_NOSIGNAL) != (ssize_t)strlen(body))
        goto out;
    status = read_response(fd, ans);
out:
    close(fd);
    return status;
}

/* curl's answer as -w "\n%{http_code}" leaves it: the body, a newline,
 * the status. The body is cut at that newline; -1 when there is none. */
static int curl_status(char *out, size_t *len)
{
    char *nl = strrchr(out, '\n');
    int code;

    if (!nl || strlen(nl + 1) != 3 || strspn(nl + 1, "0123456789") != 3)
        return -1;
    code = atoi(nl + 1);
    *nl = '\0';
    *len = (size_t)(nl - out);
    return code >= 100 && code <= 599 ? code : -1;
}

/* One POST through the helper; its standard output is the answer's body.
 * curl gives every answer's status and body (a heartbeat's first answer
 * is a 409 whose body the agent needs); uclient-fetch only tells success
 * (200 here) from anything else (-1). */
static int post_https(struct owb_agent *a, const char *url, const char *body, struct answer *ans)
{
    const char *helper = a->cfg.https_helper ? a->cfg.https_helper : "curl";
    char timeout[16], data[512], unwanted[512];
    int code = -1, status = -1;
    struct owb_spawn sp = {.tool_dir = a->cfg.backend_cfg.tool_dir,
                           .out = ans->buf ? ans->buf : unwanted,
                           .out_cap = ans->buf ? ans->cap : sizeof unwanted,
                           .timeout_ms = (IO_TIMEOUT_S + 5) * 1000};

    snprintf(timeout, sizeof timeout, "%d", IO_TIMEOUT_S);
    if (strstr(helper, "uclient-fetch")) {
        if ((size_t)snprintf(data, sizeof data, "--post-data=%s", body) >= sizeof data)
            return -1;
        char *argv[] = {(char *)(uintptr_t)helper,
                        "-q",
                        "-O",
                        ans->buf ? "-" : "/dev/null",
                        "-T",
                        timeout,
                        data,
                        (char *)(uintptr_t)url,
                        NULL};
        sp.argv = argv;
        if (owb_spawn_run(&sp, &code) != OWB_OK)
            return -1;
        if (ans->buf)
            ans->len = strlen(ans->buf);
        status = code == 0 && (!ans->buf || ans->len + 1 < ans->cap) ? 200 : -1;
    } else {
        size_t len = 0;
        char *argv[] = {(char *)(uintptr_t)helper,
                        "-sS",
                        "-o",
                        "-",
                        "-w",
                        "\n%{http_code}",
                        "--max-time",
                        timeout,
                        "-H",
                        "Content-Type: application/json",
                        "--data-binary",
                        "@-",
                        (char *)(uintptr_t)url,
                        NULL};
        sp.argv = argv;
        sp.in = body;
        if (owb_spawn_run(&sp, &code) != OWB_OK)
            return -1;
        /* A full buffer may have cut the status off: that is no answer. */
        if (code == 0 && strlen(sp.out) + 1 < sp.out_cap)
            status = curl_status(sp.out, &len);
        if (ans->buf)
            ans->len = status < 0 ? 0 : len;
    }
    return status;
}

int owb_post_json(struct owb_agent *a, const char *url, const char *body, char *answer, size_t cap,
                  size_t *alen)
{
    struct answer ans = {answer, cap, 0};
    int status;

    if (answer && cap < 2)
        return -1;
    status = strncmp(url, "https://", 8) == 0 ? post_https(a, url, body, &ans)
                                              : post_http(url, body, &ans);
    if (alen)
        *alen = ans.len;
    return status;
}

enum owb_err owb_checkin_send(struct owb_agent *a, const char *url, uint64_t counter)
{
    time_t deadline = owb_agent_now_s() + (time_t)a->cfg.checkin_timeout_s;
    unsigned backoff_ms = 500;

    for (int attempt = 1;; attempt++) {
        uint8_t nonce[OWB_CHECKIN_NONCE_BYTES], proof[OWB_PK_SIGNATURE_BYTES];
        char n64[32], p64[OWB_B64_ENCODED_SIZE(OWB_PK_SIGNATURE_BYTES)], body[320];
        bool pk = a->kf->suite == OWB_SUITE_PK;
        int status;

        /* A fresh nonce each time: the server refuses one it has seen. The
         * proof is a MAC under the check-in key, or in the pk suite a
         * signature by the device's own key. */
        randombytes_buf(nonce, sizeof nonce);
        if ((pk ? owb_pk_checkin_sign(a->kf->device_sk, a->kf->device_id, counter, nonce, proof)
                : owb_checkin_mac(a->keys->checkin_key, a->kf->device_id, counter, nonce, proof)) !=
                OWB_OK ||
            owb_b64_encode(nonce, sizeof nonce, n64, sizeof n64) != OWB_OK ||
            owb_b64_encode(proof, pk ? OWB_PK_SIGNATURE_BYTES : OWB_CHECKIN_MAC_BYTES, p64,
                           sizeof p64) != OWB_OK)
            return OWB_ERR_INTERNAL;
        snprintf(body, sizeof body, "{\"counter\":%llu,\"nonce\":\"%s\",\"%s\":\"%s\"}",
                 (unsigned long long)counter, n64, pk ? "signature" : "mac", p64);
        status = owb_post_json(a, url, body, NULL, 0, NULL);
        if (status == 200) {
            fprintf(stderr, "owb-device: checked in (attempt %d)\n", attempt);
            return OWB_OK;
        }
        fprintf(stderr, "owb-device: check-in attempt %d: %s%d\n", attempt,
                status < 0 ? "no answer " : "HTTP ", status);
        /* The server said no for good: a wrong MAC or a counter it never issued. */
        if (status == 400 || status == 401 || status == 404)
            return OWB_ERR_AUTH_FAILED;
        if (owb_agent_now_s() >= deadline)
            return OWB_ERR_UNAVAILABLE;
        unsigned jitter = randombytes_uniform(backoff_ms / 2 + 1);
        struct timespec ts = {(backoff_ms + jitter) / 1000,
                              (long)((backoff_ms + jitter) % 1000) * 1000000L};
        pthread_mutex_lock(&a->mu);
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->mu);
        if (stopping)
            return OWB_ERR_UNAVAILABLE;
        nanosleep(&ts, NULL);
        if (backoff_ms < 16000)
            backoff_ms *= 2;
    }
}
