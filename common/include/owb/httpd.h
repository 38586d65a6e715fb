/* A small HTTP server on libmicrohttpd, shared by owb-server and owb-device.
 *
 * It hands the application one call per request with the whole body read
 * (never more than body_max bytes: a larger Content-Length is answered 413
 * before any of it is read, and a body that grows past the limit is cut off
 * with 413 at that point). Paths are passed on raw, without percent-decoding,
 * so "%00" can never shorten a path; routes validate their segments.
 *
 * Ownership: request bodies may hold secrets (an app key); they are wiped
 * when the request completes. A response body set with owb_http_set_body()
 * is owned by the response and wiped when it has been sent.
 */
#ifndef OWB_HTTPD_H
#define OWB_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "owb/err.h"

#define OWB_HTTP_MAX_HEADERS 6
#define OWB_HTTP_ADDR_SIZE 64

struct owb_httpd;
struct MHD_Connection;

struct owb_http_request {
    const char *method;
    const char *path; /* raw, not percent-decoded; no query string */
    const char *body; /* NUL-terminated copy of the body; "" when none */
    size_t body_len;
    char client_addr[OWB_HTTP_ADDR_SIZE];
    struct MHD_Connection *conn;
    /* Headers of a request made without a connection (conn NULL), for
     * harnesses that drive the handlers directly. */
    const char *(*fake_headers)[2];
    size_t n_fake_headers;
    /* When its head had been read (CLOCK_MONOTONIC; zero for a request
     * made without a connection): what a bound on answering it counts
     * from, a wait for a worker included. */
    struct timespec arrived;
};

struct owb_http_response {
    int status;
    const char *content_type;
    char *body; /* heap, or static when body_static */
    size_t body_len;
    bool body_static;
    /* A route label for logs and metrics: never the raw path, which may
     * carry a session token. */
    const char *route;
    const char *header_names[OWB_HTTP_MAX_HEADERS];
    char *header_values[OWB_HTTP_MAX_HEADERS];
    size_t n_headers;
};

typedef void (*owb_http_handler_fn)(void *ctx, const struct owb_http_request *req,
                                    struct owb_http_response *resp);
typedef void (*owb_http_done_fn)(void *ctx, const struct owb_http_request *req,
                                 const struct owb_http_response *resp, double millis);

struct owb_httpd_options {
    const char *listen; /* "ADDR:PORT", "[V6ADDR]:PORT"; port 0 picks one */
    size_t body_max;
    unsigned threads;      /* 1 = one polling thread */
    unsigned conn_limit;   /* total connections */
    unsigned per_ip_limit; /* 0 = none */
    unsigned timeout_s;    /* idle connection timeout */
    owb_http_handler_fn handler;
    /* Optional: called once the request line and headers are in, before
     * the body is read or its size judged (req->body is ""). Setting
     * resp->status answers the request with that, and nothing more of it
     * is read: a protocol may decide some answers before a body too large
     * is refused. */
    owb_http_handler_fn precheck;
    owb_http_done_fn done; /* optional: after each request (log, metrics) */
    void *ctx;
    bool freebind; /* bind even when the address is not (yet) on an interface */
    /* 0, or: past this many open connections the oldest idle one is
     * closed, so a new client finds room however the slow ones spread over
     * addresses (below conn_limit, which MHD enforces). A connection whose
     * request is being handled is never closed, by this or by timeout_s. */
    unsigned evict_at;
    /* 0: handlers run on the polling threads. Else this many handler
     * threads: a request read in full waits for one with its connection
     * suspended, so that a slow handler never holds up reading the others,
     * and each request's arrival is its own. */
    unsigned workers;
};

enum owb_err owb_httpd_start(const struct owb_httpd_options *opt,
                             struct owb_httpd **out) OWB_MUST_CHECK;

/* Stops accepting new connections and waits up to grace_ms for the open
 * ones to finish their requests, then stops and frees. NULL ignored. */
void owb_httpd_stop(struct owb_httpd *d, unsigned grace_ms);

/* The bound port (useful with port 0). */
uint16_t owb_httpd_port(const struct owb_httpd *d);

/* What a listening address may be, for the messages of --listen. */
#define OWB_LISTEN_FORMS                                                                           \
    "HOST:PORT, [IPv6]:PORT or :PORT (all addresses), e.g. 127.0.0.1:8080, localhost:8090, "       \
    "[::1]:8080"

/* Parses one of OWB_LISTEN_FORMS; a host name is resolved (its first
 * address, IPv4 first). OWB_ERR_INVALID_ARG for anything else. */
enum owb_err owb_parse_listen(const char *text, void *sockaddr_storage, unsigned *socklen,
                              bool *is_v6) OWB_MUST_CHECK;

/* True when text is one of OWB_LISTEN_FORMS that parses. */
bool owb_listen_valid(const char *text);

/* A request header's value, or NULL. */
const char *owb_http_header(const struct owb_http_request *req, const char *name);

/* Response builders. set_body takes ownership of a heap buffer. */
void owb_http_set_body(struct owb_http_response *r, int status, const char *content_type,
                       char *body, size_t len);
void owb_http_set_static(struct owb_http_response *r, int status, const char *content_type,
                         const char *body, size_t len);
/* Prints obj compactly as the body (and deletes obj, wiping its strings). */
void owb_http_json(struct owb_http_response *r, int status, cJSON *obj);
/* The protocol's error body {"error": code, "message": text}; message NULL
 * uses owb_strerror(). */
void owb_http_error(struct owb_http_response *r, enum owb_err err, const char *message);
/* Adds a header (value copied). Silently ignores more than the maximum. */
void owb_http_add_header(struct owb_http_response *r, const char *name, const char *value);

/* Frees what a response owns (its body, wiped, and its header values);
 * for callers that build a response without sending it. */
void owb_http_response_release(struct owb_http_response *r);

/* true when req uses method m; otherwise answers 405 with Allow: m. */
bool owb_http_method_is(const struct owb_http_request *req, const char *m,
                        struct owb_http_response *resp);

/* cJSON helper: an unsigned 64-bit number printed exactly. */
cJSON *owb_json_add_u64(cJSON *obj, const char *key, uint64_t v);

#endif
