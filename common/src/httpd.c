#include "owb/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "owb/json.h"
#include "owb/mem.h"

/* An open connection, for eviction (opt.evict_at). */
struct conn_slot {
    int fd; /* -1 when free */
    struct timespec opened;
    bool evicted;
    bool busy; /* its request is being handled: never evicted */
};

/* Per-connection request state, in MHD's con_cls. */
struct req_state {
    char *buf;
    size_t len, cap;
    bool responded;
    struct timespec start;
    /* With workers: the request waiting for one or being handled (its
     * connection suspended), then its answer, sent when MHD resumes it. */
    struct MHD_Connection *conn;
    const char *url, *method; /* MHD's, kept while the request lasts */
    struct owb_http_response resp;
    bool ready;
    struct req_state *next;
};

struct owb_httpd {
    struct MHD_Daemon *mhd;
    struct owb_httpd_options opt;
    uint16_t port;
    pthread_mutex_t conn_mu;
    struct conn_slot *conns; /* conn_limit of them, when evicting */
    unsigned n_conns, n_slots;
    /* The handler threads (opt.workers) and the requests waiting for them. */
    pthread_t *workers;
    unsigned n_workers;
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    struct req_state *q_head, **q_tail;
    bool q_stop;
};

static double ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

void owb_http_set_body(struct owb_http_response *r, int status, const char *content_type,
                       char *body, size_t len)
{
    if (r->body && !r->body_static)
        owb_clear_free(r->body, r->body_len);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_len = len;
    r->body_static = false;
}

void owb_http_set_static(struct owb_http_response *r, int status, const char *content_type,
                         const char *body, size_t len)
{
    owb_http_set_body(r, status, content_type, NULL, 0);
    r->body = (char *)(uintptr_t)body;
    r->body_len = len;
    r->body_static = true;
}

void owb_http_json(struct owb_http_response *r, int status, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;

    owb_json_free_secret(obj);
    if (!text) {
        static const char oom[] = "{\"error\":\"internal\",\"message\":\"Out of memory.\"}";
        owb_http_set_static(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    owb_http_set_body(r, status, "application/json", text, strlen(text));
}

void owb_http_error(struct owb_http_response *r, enum owb_err err, const char *message)
{
    cJSON *o = cJSON_CreateObject();

    if (o) {
        cJSON_AddStringToObject(o, "error", owb_err_code(err));
        cJSON_AddStringToObject(o, "message", message ? message : owb_strerror(err));
    }
    owb_http_json(r, owb_err_http_status(err), o);
}

void owb_http_add_header(struct owb_http_response *r, const char *name, const char *value)
{
    if (r->n_headers >= OWB_HTTP_MAX_HEADERS)
        return;
    r->header_values[r->n_headers] = strdup(value);
    if (!r->header_values[r->n_headers])
        return;
    r->header_names[r->n_headers++] = name;
}

bool owb_http_method_is(const struct owb_http_request *req, const char *m,
                        struct owb_http_response *resp)
{
    if (strcmp(req->method, m) == 0)
        return true;
    owb_http_add_header(resp, "Allow", m);
    owb_http_error(resp, OWB_ERR_METHOD, NULL);
    return false;
}

cJSON *owb_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return cJSON_AddRawToObject(obj, key, num);
}

const char *owb_http_header(const struct owb_http_request *req, const char *name)
{
    /* Requests built without a socket (fuzz harnesses) carry headers here. */
    if (!req->conn) {
        for (size_t i = 0; i < req->n_fake_headers; i++)
            if (strcasecmp(req->fake_headers[i][0], name) == 0)
                return req->fake_headers[i][1];
        return NULL;
    }
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static void response_clear(struct owb_http_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        free(r->header_values[i]);
    r->n_headers = 0;
}

void owb_http_response_release(struct owb_http_response *r)
{
    response_clear(r);
    if (r->body && !r->body_static)
        owb_clear_free(r->body, r->body_len);
    r->body = NULL;
    r->body_len = 0;
}

/* MHD's free callback: the response copy owns the body, not the headers. */
static void free_body(void *cls)
{
    struct owb_http_response *r = cls;
    r->n_headers = 0;
    owb_http_response_release(r);
    free(r);
}

/* Hands r's body to MHD (which frees it through free_body) and queues it. */
static enum MHD_Result send_response(struct MHD_Connection *c, struct owb_http_response *r)
{
    struct owb_http_response *owned = malloc(sizeof *owned);
    struct MHD_Response *mr;
    enum MHD_Result ok;

    if (!owned) {
        owb_http_response_release(r);
        return MHD_NO;
    }
    *owned = *r;
    mr = MHD_create_response_from_buffer_with_free_callback_cls(owned->body_len, owned->body,
                                                                free_body, owned);
    if (!mr) {
        response_clear(r);
        free_body(owned);
        return MHD_NO;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(mr, r->header_names[i], r->header_values[i]);
    response_clear(r);
    ok = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

static void fill_client_addr(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    if (getnameinfo(ci->client_addr, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, cap, "unknown");
}

/* The request as handlers see it; path is the caller's buffer. */
static void fill_request(const struct req_state *st, struct MHD_Connection *c, const char *url,
                         const char *method, struct owb_http_request *req, char *path,
                         size_t path_cap)
{
    const char *q;

    memset(req, 0, sizeof *req);
    req->method = method;
    /* MHD leaves the query string out of url, but be sure. */
    q = strchr(url, '?');
    snprintf(path, path_cap, "%.*s", (int)(q ? (size_t)(q - url) : strlen(url)), url);
    req->path = path;
    req->body = st->buf ? st->buf : "";
    req->body_len = st->len;
    req->conn = c;
    req->arrived = st->start;
    fill_client_addr(c, req->client_addr, sizeof req->client_addr);
}

/* Runs the handler on a whole request (unless resp is already an
 * answer), and the done callback. */
static void handle(struct owb_httpd *d, struct req_state *st, struct MHD_Connection *c,
                   const char *url, const char *method, struct owb_http_response *resp)
{
    struct owb_http_request req;
    char path[2048];

    fill_request(st, c, url, method, &req, path, sizeof path);
    if (resp->status == 0)
        d->opt.handler(d->opt.ctx, &req, resp);
    if (resp->status == 0)
        owb_http_error(resp, OWB_ERR_INTERNAL, NULL);
    if (d->opt.done)
        d->opt.done(d->opt.ctx, &req, resp, ms_since(&st->start));
}

/* Marks c's connection as being handled, or not: eviction passes it by. */
static void set_busy(struct owb_httpd *d, struct MHD_Connection *c, bool busy)
{
    const union MHD_ConnectionInfo *ci =
        d->conns ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    struct conn_slot *slot = ci ? ci->socket_context : NULL;

    if (!slot)
        return;
    pthread_mutex_lock(&d->conn_mu);
    slot->busy = busy;
    pthread_mutex_unlock(&d->conn_mu);
}

/* A request for the workers: its connection waits, suspended (MHD then
 * neither times it out nor polls it), until a worker has its answer.
 * False once the workers are stopping: it is answered here. */
static bool enqueue(struct owb_httpd *d, struct req_state *st, struct MHD_Connection *c,
                    const char *url, const char *method)
{
    bool queued;

    pthread_mutex_lock(&d->q_mu);
    queued = !d->q_stop;
    if (queued) {
        st->conn = c;
        st->url = url;
        st->method = method;
        MHD_suspend_connection(c);
        *d->q_tail = st;
        d->q_tail = &st->next;
        pthread_cond_signal(&d->q_cv);
    }
    pthread_mutex_unlock(&d->q_mu);
    return queued;
}

static enum MHD_Result finish(struct owb_httpd *d, struct req_state *st, struct MHD_Connection *c,
                              const char *url, const char *method, struct owb_http_response *resp)
{
    set_busy(d, c, true);
    if (d->opt.workers && resp->status == 0 && enqueue(d, st, c, url, method))
        return MHD_YES;
    /* Handled here, the connection's idle time starts again once its
     * handler is done: setting the timeout from 0 restarts its clock, so
     * a slow handler's own answer is not cut off as idle. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    handle(d, st, c, url, method, resp);
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                              d->opt.timeout_s ? d->opt.timeout_s : 10u);
    st->responded = true;
    return send_response(c, resp);
}

static void *worker(void *arg)
{
    struct owb_httpd *d = arg;
    struct req_state *st;

    pthread_mutex_lock(&d->q_mu);
    for (;;) {
        while (!d->q_head && !d->q_stop)
            pthread_cond_wait(&d->q_cv, &d->q_mu);
        if (!d->q_head)
            break; /* stopping, and every queued request answered */
        st = d->q_head;
        d->q_head = st->next;
        if (!d->q_head)
            d->q_tail = &d->q_head;
        pthread_mutex_unlock(&d->q_mu);
        handle(d, st, st->conn, st->url, st->method, &st->resp);
        st->ready = true;
        MHD_resume_connection(st->conn);
        pthread_mutex_lock(&d->q_mu);
    }
    pthread_mutex_unlock(&d->q_mu);
    return NULL;
}

/* Stops the workers once they have answered every queued request. */
static void workers_stop(struct owb_httpd *d)
{
    pthread_mutex_lock(&d->q_mu);
    d->q_stop = true;
    pthread_cond_broadcast(&d->q_cv);
    pthread_mutex_unlock(&d->q_mu);
    for (unsigned i = 0; i < d->n_workers; i++)
        pthread_join(d->workers[i], NULL);
    d->n_workers = 0; /* started and not yet joined */
    free(d->workers);
    d->workers = NULL;
}

static bool workers_start(struct owb_httpd *d, unsigned n)
{
    d->q_tail = &d->q_head;
    d->workers = n ? calloc(n, sizeof *d->workers) : NULL;
    for (unsigned i = 0; d->workers && i < n; i++) {
        if (pthread_create(&d->workers[i], NULL, worker, d) != 0)
            break;
        d->n_workers++;
    }
    if (d->n_workers == n)
        return true;
    workers_stop(d);
    return false;
}

struct cl_count {
    const char *first;
    unsigned n;
    bool differ;
};

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    struct cl_count *cc = cls;
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        cc->n++;
        if (cc->first && value && strcmp(cc->first, value) != 0)
            cc->differ = true;
    }
    return MHD_YES;
}

/* A head refused before its body is read: true, with resp the answer. */
static bool head_refused(struct owb_httpd *d, const struct req_state *st, struct MHD_Connection *c,
                         const char *url, const char *method, struct owb_http_response *resp)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    /* MHD frames the body by the first Content-Length; a second one that
     * disagrees is how a request is smuggled past a proxy that reads the
     * other (RFC 9112, 6.3): refused. */
    struct cl_count cc = {cl, 0, false};

    MHD_get_connection_values(c, MHD_HEADER_KIND, count_content_length, &cc);
    if (cc.differ) {
        resp->route = "(framing)";
        owb_http_error(resp, OWB_ERR_BAD_REQUEST,
                       "The request has Content-Length headers that disagree.");
        return true;
    }
    if (d->opt.precheck) {
        struct owb_http_request req;
        char path[2048];
        fill_request(st, c, url, method, &req, path, sizeof path);
        d->opt.precheck(d->opt.ctx, &req, resp);
        if (resp->status)
            return true;
    }
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || end == cl || n > d->opt.body_max) {
            /* Answer before reading any of the body. */
            resp->route = "(too large)";
            owb_http_error(resp, OWB_ERR_TOO_LARGE, NULL);
            return true;
        }
    }
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct owb_httpd *d = cls;
    struct req_state *st = *con_cls;
    struct owb_http_response resp = {0};
    (void)version;

    if (st && st->ready) {
        /* Resumed: a worker has the answer. */
        st->ready = false;
        st->responded = true;
        return send_response(c, &st->resp);
    }
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *con_cls = st;
        return head_refused(d, st, c, url, method, &resp) ? finish(d, st, c, url, method, &resp)
                                                          : MHD_YES;
    }
    if (st->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (n > d->opt.body_max - st->len) {
            resp.route = "(too large)";
            owb_http_error(&resp, OWB_ERR_TOO_LARGE, NULL);
            return finish(d, st, c, url, method, &resp);
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 1024;
            while (cap < st->len + n + 1)
                cap *= 2;
            if (cap > d->opt.body_max + 1)
                cap = d->opt.body_max + 1;
            /* Grow by copy so that no stale secret is left in a freed block. */
            char *nb = malloc(cap);
            if (!nb)
                return MHD_NO;
            if (st->buf) {
                memcpy(nb, st->buf, st->len);
                owb_clear_free(st->buf, st->cap);
            }
            st->buf = nb;
            st->cap = cap;
        }
        memcpy(st->buf + st->len, upload_data, n);
        st->len += n;
        st->buf[st->len] = '\0';
        return MHD_YES;
    }
    return finish(d, st, c, url, method, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_state *st = *con_cls;
    (void)toe;
    if (!st)
        return;
    set_busy(cls, c, false);
    if (st->ready)
        owb_http_response_release(&st->resp); /* never sent */
    if (st->buf)
        owb_clear_free(st->buf, st->cap);
    free(st);
    *con_cls = NULL;
}

/* Keeps the raw path: MHD's default unescaping turns "%00" into a NUL. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* A host name ("localhost", "setup.internal"): its first IPv4 address, or
 * its first IPv6 one when it has none. */
static enum owb_err resolve(const char *host, uint16_t port, void *ss, unsigned *socklen,
                            bool *is_v6)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *pick = NULL;

    if (!*host || getaddrinfo(host, NULL, &hints, &res) != 0)
        return OWB_ERR_INVALID_ARG;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!pick || (pick->ai_family != AF_INET && ai->ai_family == AF_INET))
            if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
                pick = ai;
    if (pick) {
        memcpy(ss, pick->ai_addr, pick->ai_addrlen);
        *socklen = (unsigned)pick->ai_addrlen;
        *is_v6 = pick->ai_family == AF_INET6;
        if (*is_v6)
            ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)ss)->sin_port = htons(port);
    }
    freeaddrinfo(res);
    return pick ? OWB_OK : OWB_ERR_INVALID_ARG;
}

enum owb_err owb_parse_listen(const char *text, void *ss, unsigned *socklen, bool *is_v6)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon, *port_s;
    char *end;
    unsigned long port;
    size_t hlen;

    memset(ss, 0, sizeof(struct sockaddr_storage));
    *socklen = 0;
    *is_v6 = false;
    if (!text)
        return OWB_ERR_INVALID_ARG;
    if (text[0] == '[') {
        const char *rb = strchr(text, ']');
        if (!rb || rb[1] != ':')
            return OWB_ERR_INVALID_ARG;
        hlen = (size_t)(rb - text - 1);
        if (hlen >= sizeof host)
            return OWB_ERR_INVALID_ARG;
        memcpy(host, text + 1, hlen);
        port_s = rb + 2;
        *is_v6 = true;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return OWB_ERR_INVALID_ARG;
        hlen = (size_t)(colon - text);
        if (hlen >= sizeof host)
            return OWB_ERR_INVALID_ARG;
        memcpy(host, text, hlen);
        port_s = colon + 1;
    }
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(port_s, &end, 10);
    if (errno || end == port_s || *end || port > 65535)
        return OWB_ERR_INVALID_ARG;
    if (*is_v6) {
        struct sockaddr_in6 *a = ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return OWB_ERR_INVALID_ARG;
        *socklen = sizeof *a;
    } else {
        struct sockaddr_in *a = ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, hlen ? host : "0.0.0.0", &a->sin_addr) != 1)
            return resolve(host, (uint16_t)port, ss, socklen, is_v6);
        *socklen = sizeof *a;
    }
    return OWB_OK;
}

bool owb_listen_valid(const char *text)
{
    struct sockaddr_storage ss;
    unsigned len;
    bool v6;
    return owb_parse_listen(text, &ss, &len, &v6) == OWB_OK;
}

/* The listening socket. With freebind (IP_FREEBIND, which Linux honours on
 * IPv6 sockets too) it binds an address no interface has yet: the device
 * agent listens on its setup-AP address, which the backend sets later. */
static int listen_socket(const struct sockaddr_storage *ss, unsigned socklen, bool v6,
                         bool freebind)
{
    int one = 1, fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        (freebind && setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0) ||
        bind(fd, (const struct sockaddr *)ss, socklen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Keeps room for a new client however the slots are spread over client
 * addresses: past evict_at open connections, the idle one open longest is
 * shut down (MHD then sees its end and closes it). Slow senders, whatever
 * their address, age out; an honest request takes milliseconds, and one
 * being handled (waiting on the database, say) keeps its connection. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct owb_httpd *d = cls;
    const union MHD_ConnectionInfo *info;
    struct conn_slot *slot = *socket_context, *oldest = NULL;

    pthread_mutex_lock(&d->conn_mu);
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (slot) {
            slot->fd = -1;
            d->n_conns--;
        }
        goto out;
    }
    info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    for (unsigned i = 0; info && i < d->n_slots && !slot; i++)
        if (d->conns[i].fd < 0)
            slot = &d->conns[i];
    if (!slot)
        goto out;
    slot->fd = info->connect_fd;
    slot->evicted = false;
    slot->busy = false;
    clock_gettime(CLOCK_MONOTONIC, &slot->opened);
    *socket_context = slot;
    d->n_conns++;
    if (d->n_conns <= d->opt.evict_at)
        goto out;
    for (unsigned i = 0; i < d->n_slots; i++) {
        struct conn_slot *o = &d->conns[i];
        if (o->fd >= 0 && o != slot && !o->evicted && !o->busy &&
            (!oldest || earlier(&o->opened, &oldest->opened)))
            oldest = o;
    }
    if (oldest) {
        oldest->evicted = true;
        shutdown(oldest->fd, SHUT_RDWR);
    }
out:
    pthread_mutex_unlock(&d->conn_mu);
}

/* What owb_httpd_start made, before MHD runs or after it has stopped. */
static void httpd_free(struct owb_httpd *d)
{
    workers_stop(d);
    pthread_mutex_destroy(&d->conn_mu);
    pthread_mutex_destroy(&d->q_mu);
    pthread_cond_destroy(&d->q_cv);
    free(d->conns);
    free(d);
}

/* The server's state before MHD starts: eviction slots, workers. */
static enum owb_err httpd_new(const struct owb_httpd_options *opt, struct owb_httpd **out)
{
    struct owb_httpd *d = calloc(1, sizeof *d);

    *out = NULL;
    if (!d)
        return OWB_ERR_NOMEM;
    d->opt = *opt;
    pthread_mutex_init(&d->conn_mu, NULL);
    pthread_mutex_init(&d->q_mu, NULL);
    pthread_cond_init(&d->q_cv, NULL);
    if (opt->evict_at) {
        d->n_slots = opt->conn_limit ? opt->conn_limit : 256u;
        d->conns = calloc(d->n_slots, sizeof *d->conns);
        for (unsigned i = 0; d->conns && i < d->n_slots; i++)
            d->conns[i].fd = -1;
    }
    if ((opt->evict_at && !d->conns) || !workers_start(d, opt->workers)) {
        httpd_free(d);
        return OWB_ERR_NOMEM;
    }
    *out = d;
    return OWB_OK;
}

enum owb_err owb_httpd_start(const struct owb_httpd_options *opt, struct owb_httpd **out)
{
    int fd = -1;
    struct sockaddr_storage ss;
    unsigned socklen;
    bool v6;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
    struct owb_httpd *d = NULL;
    const union MHD_DaemonInfo *info;
    enum owb_err rc;

    *out = NULL;
    rc = owb_parse_listen(opt->listen, &ss, &socklen, &v6);
    if (rc == OWB_OK)
        rc = httpd_new(opt, &d);
    if (rc != OWB_OK)
        return rc;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (opt->workers)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    fd = listen_socket(&ss, socklen, v6, opt->freebind);
    if (fd < 0) {
        httpd_free(d);
        return OWB_ERR_IO;
    }
    d->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, d, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(opt->threads > 1 ? opt->threads : 0),
        MHD_OPTION_CONNECTION_LIMIT, opt->conn_limit ? opt->conn_limit : 256u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->per_ip_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        opt->timeout_s ? opt->timeout_s : 10u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, d, MHD_OPTION_NOTIFY_CONNECTION,
        opt->evict_at ? on_connection : NULL, d, MHD_OPTION_END);
    if (!d->mhd) {
        close(fd);
        httpd_free(d);
        return OWB_ERR_IO;
    }
    info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    d->port = info ? info->port : 0;
    *out = d;
    return OWB_OK;
}

uint16_t owb_httpd_port(const struct owb_httpd *d)
{
    return d->port;
}

void owb_httpd_stop(struct owb_httpd *d, unsigned grace_ms)
{
    if (!d)
        return;
    /* Quiescing closes the listening socket; connections already open may
     * finish what they are doing. */
    MHD_socket ls = MHD_quiesce_daemon(d->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls); /* handed back by quiesce: MHD no longer closes it */
    for (unsigned waited = 0; waited < grace_ms; waited += 10) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    /* The workers answer what is queued (each answer bounded by its
     * handler) and resume its connections; MHD then closes what is left. */
    workers_stop(d);
    MHD_stop_daemon(d->mhd);
    d->mhd = NULL;
    httpd_free(d);
}
