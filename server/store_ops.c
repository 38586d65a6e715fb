/* The store operations that are one statement or one plain transaction,
 * written once over a backend's driver (store_i.h). What a backend does
 * its own way (import, issue, check-in) stays in its file. */
#include "store_i.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define DRV(s) (((struct owb_store_core *)(s))->drv)

enum owb_err owb_store_create(size_t size, const struct owb_store_ops *ops,
                              const struct owb_store_driver *drv, size_t conn_size,
                              owb_store_start_fn start, const struct owb_store_config *cfg,
                              struct owb_store **out, char *diag)
{
    struct owb_store_core *core = calloc(1, size);
    enum owb_err rc = core ? OWB_OK : OWB_ERR_NOMEM;

    *out = NULL;
    owb_diagf(diag, core ? "ok" : "out of memory");
    if (!core)
        return rc;
    core->base.ops = ops;
    core->drv = drv;
    core->busy_ms = cfg->busy_ms ? cfg->busy_ms : 5000;
    rc = owb_store_pool_init(&core->pool, cfg->connections ? cfg->connections : 1, conn_size);
    if (rc != OWB_OK) {
        owb_store_free(core);
        return rc;
    }
    rc = start(core, cfg, diag);
    if (rc == OWB_OK)
        *out = &core->base;
    else
        ops->close(&core->base);
    return rc;
}

void owb_store_free(struct owb_store_core *core)
{
    owb_store_pool_destroy(&core->pool);
    free(core);
}

/* The request this thread is answering: its deadline, 0 when none. A
 * thread answers one request at a time, so the bound travels with it
 * into every store call without each operation taking it. */
static _Thread_local int64_t bound_ms;

void owb_store_bound_begin(struct owb_store *s, int64_t arrived_ms)
{
    bound_ms = arrived_ms + ((struct owb_store_core *)s)->busy_ms;
}

void owb_store_bound_end(void)
{
    bound_ms = 0;
}

int64_t owb_store_bound(void)
{
    return bound_ms;
}

int64_t owb_store_deadline(struct owb_store *s)
{
    return bound_ms ? bound_ms : owb_store_clock_ms() + ((struct owb_store_core *)s)->busy_ms;
}

struct exec1 {
    const struct owb_store_driver *drv;
    unsigned id;
    const struct owb_store_args *a;
    owb_store_row_fn row;
    void *ctx;
    size_t count;
};

static enum owb_err exec1_fn(void *conn, void *arg)
{
    struct exec1 *e = arg;
    return e->drv->run(conn, e->id, e->a, e->row, e->ctx, &e->count);
}

enum owb_err owb_store_exec(struct owb_store *s, bool write, unsigned id,
                            const struct owb_store_args *a, owb_store_row_fn row, void *ctx,
                            size_t *count)
{
    struct exec1 e = {DRV(s), id, a, row, ctx, 0};
    enum owb_err rc = DRV(s)->call(s, write, exec1_fn, &e);

    if (count)
        *count = rc == OWB_OK ? e.count : 0;
    return rc;
}

/* A change keyed by one text: OWB_ERR_NOENT when it changed no row. */
static enum owb_err change_by_key(struct owb_store *s, unsigned id, const char *key)
{
    struct owb_store_args a = {0};
    size_t n;
    enum owb_err rc;

    owb_arg_text(&a, key);
    rc = owb_store_exec(s, true, id, &a, NULL, NULL, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}

/* One row by statement id with arguments a, read with rd into out (size
 * bytes, cleared first); OWB_ERR_NOENT when there is none. */
static enum owb_err get_row(struct owb_store *s, unsigned id, const struct owb_store_args *a,
                            owb_store_row_fn rd, void *out, size_t size)
{
    size_t n;
    enum owb_err rc;

    memset(out, 0, size);
    rc = owb_store_exec(s, false, id, a, rd, out, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}

/* get_row keyed by one text (or, with blob, by a hash). */
static enum owb_err get_one(struct owb_store *s, unsigned id, const char *key, const uint8_t *blob,
                            owb_store_row_fn rd, void *out, size_t size)
{
    struct owb_store_args a = {0};

    if (blob)
        owb_arg_blob(&a, blob, OWB_HASH_BYTES);
    else
        owb_arg_text(&a, key);
    return get_row(s, id, &a, rd, out, size);
}

enum owb_err owb_store_read_i64(void *ctx, const struct owb_store_cols *c, void *res)
{
    *(int64_t *)ctx = c->i64(res, 0);
    return OWB_OK;
}

/* --- meta --- */

struct meta_out {
    uint8_t *val;
    size_t cap, *len;
};

static enum owb_err read_meta(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct meta_out *m = ctx;
    size_t n = 0;
    const uint8_t *b = c->blob(res, 0, &n);

    if (!b)
        n = 0;
    if (n > m->cap)
        return OWB_ERR_SPACE;
    if (n)
        memcpy(m->val, b, n);
    *m->len = n;
    return OWB_OK;
}

enum owb_err owb_store_meta_get(struct owb_store *s, const char *key, uint8_t *val, size_t cap,
                                size_t *len)
{
    struct meta_out m = {val, cap, len};
    enum owb_err rc;

    *len = 0;
    rc = get_one(s, OWB_ST_META_GET, key, NULL, read_meta, &m, 0);
    if (rc != OWB_OK)
        *len = 0;
    return rc;
}

enum owb_err owb_store_meta_put(struct owb_store *s, const char *key, const uint8_t *val,
                                size_t len)
{
    struct owb_store_args a = {0};

    owb_arg_text(&a, key);
    owb_arg_blob(&a, val, len);
    return owb_store_exec(s, true, OWB_ST_META_PUT, &a, NULL, NULL, NULL);
}

/* --- import: one transaction on a lent connection --- */

struct owb_import {
    struct owb_store *s;
    void *conn;
};

enum owb_err owb_store_import_begin(struct owb_store *s, struct owb_import **out)
{
    struct owb_import *imp = calloc(1, sizeof *imp);
    enum owb_err rc = imp ? OWB_OK : OWB_ERR_NOMEM;

    *out = NULL;
    if (rc != OWB_OK)
        goto out;
    imp->s = s;
    imp->conn = DRV(s)->lend(s);
    rc = DRV(s)->import_open(s, imp->conn);
    if (rc != OWB_OK) {
        DRV(s)->give_back(s, imp->conn);
        goto out;
    }
    *out = imp;
    imp = NULL;
out:
    free(imp);
    return rc;
}

enum owb_err owb_store_import_add(struct owb_import *imp, const struct owb_import_item *items,
                                  size_t n, struct owb_import_result *res)
{
    return DRV(imp->s)->import_batch(imp->conn, items, n, res);
}

/* Without commit, the rollback is the outcome asked for: OWB_OK. */
enum owb_err owb_store_import_end(struct owb_import *imp, bool commit)
{
    enum owb_err rc;

    if (!imp)
        return OWB_OK;
    rc = DRV(imp->s)->end(imp->conn, commit ? OWB_OK : OWB_ERR_CONFLICT);
    DRV(imp->s)->give_back(imp->s, imp->conn);
    free(imp);
    return commit ? rc : OWB_OK;
}

/* --- rows read one at a time or listed --- */

static enum owb_err read_device(void *ctx, const struct owb_store_cols *c, void *res)
{
    return owb_store_read_device(c, res, ctx);
}

static enum owb_err read_network(void *ctx, const struct owb_store_cols *c, void *res)
{
    return owb_store_read_network(c, res, ctx);
}

static enum owb_err read_session(void *ctx, const struct owb_store_cols *c, void *res)
{
    return owb_store_read_session(c, res, ctx);
}

static enum owb_err read_token(void *ctx, const struct owb_store_cols *c, void *res)
{
    return owb_store_read_token(c, res, ctx);
}

/* A listing: each row is read into row and handed on; a row that reads as
 * invalid is left out and the listing answers OWB_ERR_TAMPERED at its end. */
struct lister {
    owb_store_row_fn rd;
    void *row;
    void (*emit)(const struct lister *l);
    union {
        owb_device_cb device;
        owb_network_cb network;
        owb_token_cb token;
        owb_session_cb session;
    } cb;
    void *ctx;
};

static enum owb_err list_row(void *ctx, const struct owb_store_cols *c, void *res)
{
    const struct lister *l = ctx;
    enum owb_err rc = l->rd(l->row, c, res);

    if (rc == OWB_OK)
        l->emit(l);
    return rc;
}

static enum owb_err list(struct owb_store *s, unsigned id, const struct owb_store_args *a,
                         struct lister *l)
{
    return owb_store_exec(s, false, id, a, list_row, l, NULL);
}

static void emit_device(const struct lister *l)
{
    l->cb.device(l->ctx, l->row);
}

static void emit_network(const struct lister *l)
{
    l->cb.network(l->ctx, l->row);
}

static void emit_token(const struct lister *l)
{
    l->cb.token(l->ctx, l->row);
}

static void emit_session(const struct lister *l)
{
    l->cb.session(l->ctx, l->row);
}

/* --- rows read by key --- */

enum owb_err owb_store_device_get(struct owb_store *s, const char *id, struct owb_device_row *row)
{
    return get_one(s, OWB_ST_DEV_GET, id, NULL, read_device, row, sizeof *row);
}

enum owb_err owb_store_network_get(struct owb_store *s, const char *name,
                                   struct owb_network_row *row)
{
    return get_one(s, OWB_ST_NET_GET, name, NULL, read_network, row, sizeof *row);
}

enum owb_err owb_store_session_get(struct owb_store *s, const struct owb_session_key *key,
                                   struct owb_session_row *row)
{
    struct owb_store_args a = {0};

    if (!key->device_id[0])
        return get_one(s, OWB_ST_SESSION_GET_LEGACY, NULL, key->hash, read_session, row,
                       sizeof *row);
    owb_arg_text(&a, key->device_id);
    owb_arg_i64(&a, (int64_t)key->counter);
    owb_arg_blob(&a, key->hash, OWB_HASH_BYTES);
    return get_row(s, OWB_ST_SESSION_GET, &a, read_session, row, sizeof *row);
}

enum owb_err owb_store_read_setup(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct owb_setup_reading *r = ctx;
    struct owb_setup_read *out = r->out;
    struct owb_store_shift at = {c, res, 3};
    enum owb_err rc;

    out->token_ok = !c->null(res, 0) && c->i64(res, 0) == 1;
    out->claim_attempts = (unsigned)c->i64(res, 1);
    out->claim_next_at = c->i64(res, 2);
    rc = owb_store_read_device(&owb_store_shifted, &at, &out->dev);
    if (rc != OWB_OK || !r->net)
        return rc;
    at.by += owb_store_ncols(OWB_DEVICE_COLS);
    out->net_rc = c->null(res, at.by) ? OWB_ERR_NOENT
                                      : owb_store_read_network(&owb_store_shifted, &at, &out->net);
    return OWB_OK;
}

enum owb_err owb_store_setup_read(struct owb_store *s, const char *id, int64_t claim_since,
                                  const uint8_t *token_hash, struct owb_setup_read *out)
{
    struct owb_store_args a = {0};
    struct owb_setup_reading r = {out, token_hash != NULL};
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, id);
    owb_arg_i64(&a, claim_since);
    if (token_hash)
        owb_arg_blob(&a, token_hash, OWB_HASH_BYTES);
    else
        owb_arg_null(&a);
    owb_arg_bool(&a, r.net);
    memset(out, 0, sizeof *out);
    out->net_rc = OWB_ERR_NOENT;
    rc = owb_store_exec(s, false, OWB_ST_SETUP_READ, &a, owb_store_read_setup, &r, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}

/* --- the counter mark --- */

struct raise {
    const struct owb_store_driver *drv;
    int64_t past_us, *mark;
};

static enum owb_err raise_fn(void *conn, void *arg)
{
    const struct raise *r = arg;
    struct owb_store_args a = {0};
    enum owb_err rc = r->drv->begin(conn);

    owb_arg_i64(&a, r->past_us + 1);
    if (rc == OWB_OK && r->past_us > 0)
        rc = r->drv->run(conn, OWB_ST_MARK_RAISE, &a, NULL, NULL, NULL);
    if (rc == OWB_OK && r->past_us > 0)
        rc = r->drv->run(conn, OWB_ST_FLOOR_RAISE, &a, NULL, NULL, NULL);
    if (rc == OWB_OK)
        rc = r->drv->run(conn, OWB_ST_MARK_GET, NULL, owb_store_read_i64, r->mark, NULL);
    return r->drv->end(conn, rc);
}

enum owb_err owb_store_counter_mark(struct owb_store *s, int64_t past_us, int64_t *mark)
{
    struct raise r = {DRV(s), past_us, mark};

    *mark = 0;
    if (past_us < 0 || past_us >= OWB_COUNTER_LIMIT - 1)
        return OWB_ERR_INVALID_ARG;
    return DRV(s)->call(s, true, raise_fn, &r);
}

/* Devices are listed a page at a time (by id, from after the last one
 * seen), so that no result is ever the whole fleet: PostgreSQL would hand
 * it over in one piece, and a SQLite read held that long would keep the
 * WAL from being checkpointed. */
#define DEVICE_PAGE 1000

struct pager {
    struct lister l;
    char *from, *last; /* the page's cursor, and the last id seen in it */
    size_t from_cap, last_cap, rows;
};

/* The cursor moves on before the row is decoded: a row that reads as
 * invalid is passed over, not read again. */
static enum owb_err page_row(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct pager *p = ctx;
    const char *id = c->text(res, 0);
    size_t n = id ? strlen(id) + 1 : 1;

    p->rows++;
    if (n > p->last_cap) {
        char *grown = realloc(p->last, n);
        if (!grown)
            return OWB_ERR_NOMEM;
        p->last = grown;
        p->last_cap = n;
    }
    memcpy(p->last, id ? id : "", n);
    return list_row(&p->l, c, res);
}

/* One page after p->from; the rows it held in p->rows. */
static enum owb_err device_page(struct owb_store *s, const struct owb_device_filter *f,
                                struct pager *p)
{
    struct owb_store_args a = {0};

    owb_arg_text(&a, p->from ? p->from : "");
    owb_arg_text(&a, f->network);
    owb_arg_text(&a, f->suite);
    owb_arg_text(&a, f->state);
    owb_arg_bool(&a, f->locked);
    owb_arg_i64(&a, f->now);
    owb_arg_i64(&a, DEVICE_PAGE);
    owb_arg_text(&a, f->heard);
    owb_arg_i64(&a, f->heard_since);
    p->rows = 0;
    return owb_store_exec(s, false, OWB_ST_DEV_LIST, &a, page_row, p, NULL);
}

enum owb_err owb_store_device_find(struct owb_store *s, const struct owb_device_filter *f,
                                   owb_device_cb cb, void *ctx)
{
    struct owb_device_row row;
    struct pager p = {.l = {read_device, &row, emit_device, {.device = cb}, ctx}};
    enum owb_err rc, first = OWB_OK;

    do {
        /* The last id seen is the next page's cursor; its buffer is reused. */
        char *swap = p.from;
        size_t swap_cap = p.from_cap;
        p.from = p.last;
        p.from_cap = p.last_cap;
        p.last = swap;
        p.last_cap = swap_cap;
        rc = device_page(s, f, &p);
        first = first == OWB_OK ? rc : first;
    } while ((rc == OWB_OK || rc == OWB_ERR_TAMPERED) && p.rows == DEVICE_PAGE);
    free(p.from);
    free(p.last);
    return first;
}

enum owb_err owb_store_device_list(struct owb_store *s, owb_device_cb cb, void *ctx)
{
    const struct owb_device_filter all = {0};
    return owb_store_device_find(s, &all, cb, ctx);
}

enum owb_err owb_store_session_list(struct owb_store *s, const char *device_id, unsigned limit,
                                    owb_session_cb cb, void *ctx)
{
    struct owb_session_row row;
    struct lister l = {read_session, &row, emit_session, {.session = cb}, ctx};
    struct owb_store_args a = {0};

    owb_arg_text(&a, device_id);
    owb_arg_i64(&a, limit);
    return list(s, OWB_ST_SESSION_LIST, &a, &l);
}

enum owb_err owb_store_network_list(struct owb_store *s, owb_network_cb cb, void *ctx)
{
    struct owb_network_row row;
    struct lister l = {read_network, &row, emit_network, {.network = cb}, ctx};
    return list(s, OWB_ST_NET_LIST, NULL, &l);
}

enum owb_err owb_store_token_list(struct owb_store *s, owb_token_cb cb, void *ctx)
{
    struct owb_token_row row;
    struct lister l = {read_token, &row, emit_token, {.token = cb}, ctx};
    return list(s, OWB_ST_TOK_LIST, NULL, &l);
}

/* --- rows removed by key --- */

enum owb_err owb_store_device_remove(struct owb_store *s, const char *id)
{
    return change_by_key(s, OWB_ST_DEV_REMOVE, id);
}

enum owb_err owb_store_network_remove(struct owb_store *s, const char *name)
{
    enum owb_err rc = change_by_key(s, OWB_ST_NET_REMOVE, name);
    struct owb_store_args a = {0};
    size_t n = 0;

    if (rc != OWB_ERR_NOENT)
        return rc;
    owb_arg_text(&a, name);
    rc = owb_store_exec(s, false, OWB_ST_NET_EXISTS, &a, NULL, NULL, &n);
    return rc == OWB_OK && n > 0 ? OWB_ERR_EXISTS : OWB_ERR_NOENT;
}

/* --- devices assigned to a network --- */

struct assign {
    const struct owb_store_driver *drv;
    const char *const *ids;
    size_t n;
    const char *network;
    const uint8_t (*macs)[OWB_ROW_MAC_BYTES];
    char *missing_id;
};

/* Runs one statement of the assignment; NOENT naming what when it found
 * no row. */
static enum owb_err assign_step(void *conn, const struct assign *as, unsigned id,
                                const struct owb_store_args *a, const char *what)
{
    size_t n = 0;
    enum owb_err rc = as->drv->run(conn, id, a, NULL, NULL, &n);

    if (rc == OWB_OK && n == 0) {
        snprintf(as->missing_id, OWB_NETWORK_NAME_MAX + 1, "%s", what);
        rc = OWB_ERR_NOENT;
    }
    return rc;
}

static enum owb_err assign_fn(void *conn, void *arg)
{
    const struct assign *as = arg;
    enum owb_err rc = as->drv->begin(conn);
    int64_t now = (int64_t)time(NULL);

    as->missing_id[0] = '\0';
    if (rc == OWB_OK && as->network) {
        struct owb_store_args a = {0};
        owb_arg_text(&a, as->network);
        rc = assign_step(conn, as, OWB_ST_NET_EXISTS, &a, as->network);
    }
    for (size_t i = 0; rc == OWB_OK && i < as->n; i++) {
        struct owb_store_args a = {0};
        owb_arg_text(&a, as->ids[i]);
        owb_arg_text(&a, as->network);
        owb_arg_i64(&a, now);
        owb_arg_blob(&a, as->macs[i], OWB_ROW_MAC_BYTES);
        rc = assign_step(conn, as, OWB_ST_DEV_ASSIGN, &a, as->ids[i]);
    }
    return as->drv->end(conn, rc);
}

enum owb_err owb_store_device_assign(struct owb_store *s, const char *const *ids, size_t n,
                                     const char *network, const uint8_t (*macs)[OWB_ROW_MAC_BYTES],
                                     char *missing_id)
{
    struct assign as = {DRV(s), ids, n, network, macs, missing_id};

    missing_id[0] = '\0';
    return DRV(s)->call(s, true, assign_fn, &as);
}

/* --- rows written --- */

enum owb_err owb_store_row_mac_put(struct owb_store *s, const char *table, const char *key,
                                   const uint8_t mac[OWB_ROW_MAC_BYTES])
{
    struct owb_store_args a = {0};
    size_t n;
    enum owb_err rc;

    owb_arg_text(&a, key);
    owb_arg_blob(&a, mac, OWB_ROW_MAC_BYTES);
    rc = owb_store_exec(s, true, strcmp(table, "networks") == 0 ? OWB_ST_NET_MAC : OWB_ST_DEV_MAC,
                        &a, NULL, NULL, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}

enum owb_err owb_store_network_add(struct owb_store *s, const struct owb_network_row *row)
{
    struct owb_store_args a;

    owb_store_network_args(row, &a);
    return owb_store_exec(s, true, OWB_ST_NET_INSERT, &a, NULL, NULL, NULL);
}

/* --- installer tokens --- */

enum owb_err owb_store_token_add(struct owb_store *s, const uint8_t hash[OWB_HASH_BYTES],
                                 const char *label, int64_t now, int64_t *id)
{
    struct owb_store_args a = {0};
    enum owb_err rc;

    *id = 0;
    owb_arg_blob(&a, hash, OWB_HASH_BYTES);
    owb_arg_text(&a, label);
    owb_arg_i64(&a, now);
    rc = owb_store_exec(s, true, OWB_ST_TOK_INSERT, &a, owb_store_read_i64, id, NULL);
    if (rc != OWB_OK)
        *id = 0;
    return rc;
}

enum owb_err owb_store_token_revoke(struct owb_store *s, const char *id_or_label, int64_t now,
                                    size_t *count)
{
    struct owb_store_args a = {0};

    owb_arg_text(&a, id_or_label);
    owb_arg_i64(&a, now);
    return owb_store_exec(s, true, OWB_ST_TOK_REVOKE, &a, NULL, NULL, count);
}

/* --- claim attempts --- */

struct claim_state {
    unsigned attempts;
    int64_t next_at;
};

static enum owb_err read_claim_state(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct claim_state *cs = ctx;
    cs->attempts = (unsigned)c->i64(res, 0);
    cs->next_at = c->i64(res, 1);
    return OWB_OK;
}

enum owb_err owb_store_claim_state(struct owb_store *s, const char *id, int64_t since,
                                   unsigned *attempts, int64_t *next_at)
{
    struct owb_store_args a = {0};
    struct claim_state cs = {0, 0};
    enum owb_err rc;

    owb_arg_text(&a, id);
    owb_arg_i64(&a, since);
    rc = owb_store_exec(s, false, OWB_ST_CLAIM_STATE, &a, read_claim_state, &cs, NULL);
    *attempts = rc == OWB_OK ? cs.attempts : 0;
    *next_at = rc == OWB_OK ? cs.next_at : 0;
    return rc;
}

enum owb_err owb_store_claim_attempt(struct owb_store *s, const char *id, int64_t now,
                                     unsigned window_s, unsigned max, unsigned cap_s,
                                     unsigned *attempts, int64_t *retry_at)
{
    struct owb_store_args a = {0};
    int64_t counted = 0;
    size_t n = 0;
    enum owb_err rc;

    *attempts = 0;
    *retry_at = 0;
    owb_arg_text(&a, id);
    owb_arg_i64(&a, now);
    owb_arg_i64(&a, window_s);
    owb_arg_i64(&a, max);
    owb_arg_i64(&a, cap_s);
    rc = owb_store_exec(s, true, OWB_ST_CLAIM_ATTEMPT, &a, owb_store_read_i64, &counted, &n);
    if (rc != OWB_OK)
        return rc;
    if (n == 1) {
        *attempts = (unsigned)counted;
        return OWB_OK;
    }
    /* No row came back: the device is waiting out its delay. */
    if (owb_store_claim_state(s, id, now - (int64_t)window_s, attempts, retry_at) != OWB_OK ||
        *retry_at <= now)
        *retry_at = now + 1;
    return OWB_ERR_LOCKED;
}

/* The right claim, or `device unlock`: the count starts again. */
enum owb_err owb_store_claim_reset(struct owb_store *s, const char *id)
{
    enum owb_err rc = change_by_key(s, OWB_ST_CLAIM_CLEAR, id);
    return rc == OWB_ERR_NOENT ? OWB_OK : rc;
}

/* --- pruning --- */

/* One table's walk: rows are taken a page at a time in the order of their
 * time column, from `from` on; a page's rows that must stay (a device's
 * newest session, a nonce whose session is there) are passed over and
 * not read again once the walk has moved past their page. */
struct prune_walk {
    const struct owb_store_driver *drv;
    unsigned end_id, delete_id;
    int64_t from, cutoff;
    unsigned batch;
    bool done;
    size_t removed;
};

static enum owb_err read_page_end(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct prune_walk *w = ctx;

    w->done = c->null(res, 0);
    if (!w->done)
        w->from = c->i64(res, 0);
    return OWB_OK;
}

/* One page in one transaction: the time of its last row, then at most a
 * batch of what may go up to that time. A full batch may have left some:
 * the page is taken again; else the next page starts a second later. So
 * a transaction never deletes more than a batch, and the walk moves on. */
static enum owb_err prune_page(void *conn, void *arg)
{
    struct prune_walk *w = arg;
    struct owb_store_args a = {0};
    int64_t from = w->from;
    enum owb_err rc = w->drv->prune_begin(conn);

    if (rc != OWB_OK)
        return rc;
    owb_arg_i64(&a, from);
    owb_arg_i64(&a, w->cutoff);
    owb_arg_i64(&a, w->batch);
    w->done = true;
    if (rc == OWB_OK)
        rc = w->drv->run(conn, w->end_id, &a, read_page_end, w, NULL);
    a.n = 0;
    owb_arg_i64(&a, from);
    owb_arg_i64(&a, w->from); /* the page's end */
    owb_arg_i64(&a, w->batch);
    w->removed = 0;
    if (rc == OWB_OK && !w->done)
        rc = w->drv->run(conn, w->delete_id, &a, NULL, NULL, &w->removed);
    rc = w->drv->end(conn, rc);
    if (rc != OWB_OK)
        w->removed = 0;
    if (rc != OWB_OK || w->removed == w->batch)
        w->from = from;
    else if (!w->done)
        w->from++;
    return rc;
}

static int64_t ns_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Walks one table page by page. After each page the write lock is left
 * free for as long as the page held it (2 ms at least, 100 at most): the
 * setups and check-ins queued behind it get at least half of the time. */
static enum owb_err prune_table(struct owb_store *s, struct prune_walk *w, uint64_t *removed,
                                struct owb_prune_result *res)
{
    enum owb_err rc = OWB_OK;

    while (rc == OWB_OK && !w->done) {
        int64_t t0 = ns_now(), took;
        rc = DRV(s)->call(s, true, prune_page, w);
        took = ns_now() - t0;
        took = took < 2000000 ? 2000000 : took > 100000000 ? 100000000 : took;
        if (rc == OWB_OK) {
            *removed += w->removed;
            res->batches++;
            nanosleep(&(struct timespec){0, (long)took}, NULL);
        }
    }
    return rc;
}

enum owb_err owb_store_prune(struct owb_store *s, int64_t cutoff, unsigned batch,
                             struct owb_prune_result *res)
{
    struct prune_walk sessions = {DRV(s),
                                  OWB_ST_PRUNE_SESSIONS_END,
                                  OWB_ST_PRUNE_SESSIONS,
                                  INT64_MIN,
                                  cutoff,
                                  batch ? batch : 1,
                                  false,
                                  0};
    struct prune_walk nonces = sessions;
    enum owb_err rc;

    memset(res, 0, sizeof *res);
    nonces.end_id = OWB_ST_PRUNE_NONCES_END;
    nonces.delete_id = OWB_ST_PRUNE_NONCES;
    /* Sessions first: the nonces of the sessions removed go in this pass. */
    rc = prune_table(s, &sessions, &res->sessions, res);
    if (rc == OWB_OK)
        rc = prune_table(s, &nonces, &res->nonces, res);
    if (rc == OWB_ERR_BUSY) {
        res->skipped = true;
        rc = OWB_OK;
    }
    if (rc == OWB_OK && res->sessions + res->nonces > 0 && DRV(s)->prune_done)
        DRV(s)->prune_done(s);
    return rc;
}

/* --- counters --- */

#ifdef OWB_TEST_HOOKS
static _Atomic int64_t clock_skew_us;

void owb_store_test_clock_skew(int64_t skew_us)
{
    atomic_store(&clock_skew_us, skew_us);
}
#endif

int64_t owb_store_clock_skew_us(void)
{
#ifdef OWB_TEST_HOOKS
    return atomic_load(&clock_skew_us);
#else
    return 0;
#endif
}

int64_t owb_store_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + owb_store_clock_skew_us();
}

int64_t owb_store_mark_next(int64_t mark, int64_t now_us)
{
    int64_t from = mark > now_us ? mark : now_us;

    return from >= OWB_COUNTER_LIMIT - OWB_COUNTER_AHEAD_US ? OWB_COUNTER_LIMIT
                                                            : from + OWB_COUNTER_AHEAD_US;
}

/* The recovered session gets a token hash nobody holds a token for: the
 * phone's token went with the lost row, and no page may be opened by a
 * value anyone could compute. */
enum owb_err owb_store_recover(const struct owb_store_driver *drv, void *conn, const char *id,
                               uint64_t counter, int64_t now)
{
    struct owb_store_args a = {0};
    uint8_t hash[OWB_HASH_BYTES];
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, id);
    owb_arg_i64(&a, (int64_t)counter);
    rc = drv->run(conn, OWB_ST_RECOVER_DEVICE, &a, NULL, NULL, &n);
    if (rc == OWB_OK && n == 0)
        rc = OWB_ERR_CONFLICT;
    if (rc != OWB_OK)
        goto out;
    randombytes_buf(hash, sizeof hash);
    a.n = 0;
    owb_arg_blob(&a, hash, sizeof hash);
    owb_arg_text(&a, id);
    owb_arg_i64(&a, (int64_t)counter);
    owb_arg_i64(&a, now);
    rc = drv->run(conn, OWB_ST_RECOVER_SESSION, &a, NULL, NULL, NULL);
out:
    return rc;
}
