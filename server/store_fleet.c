/* Heartbeats and rollouts in the store, written once over a backend's
 * driver (store_i.h), like store_ops.c: a heartbeat is one transaction
 * that takes the device's challenge by a compare-and-set; a rollout's
 * bundle is claimed by a compare-and-set on its row, so that several
 * instances answering one device agree on which challenge it answered
 * and which counter it was sent. */
#include "store_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define DRV(s) (((struct owb_store_core *)(s))->drv)

/* --- heartbeats --- */

/* The device's rollout row as RO_FIND reads it. */
struct ro_find {
    bool found;
    int64_t rollout_id, wave, issued_at, ro_wave;
    char state[16], ro_state[16], reason[OWB_REASON_MAX + 1];
    uint64_t counter;
};

static void copy_col(const struct owb_store_cols *c, void *res, int col, char *dst, size_t cap)
{
    const char *t = c->text(res, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

static enum owb_err read_find(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct ro_find *f = ctx;

    f->found = true;
    f->rollout_id = c->i64(res, 0);
    f->wave = c->i64(res, 1);
    copy_col(c, res, 2, f->state, sizeof f->state);
    f->counter = (uint64_t)c->i64(res, 3);
    f->issued_at = c->i64(res, 4);
    copy_col(c, res, 5, f->reason, sizeof f->reason);
    copy_col(c, res, 6, f->ro_state, sizeof f->ro_state);
    f->ro_wave = c->i64(res, 7);
    return OWB_OK;
}

struct hb_tx {
    const struct owb_store_driver *drv;
    const struct owb_hb_in *hb;
    uint8_t *current;
    struct owb_rollout_due *due;
};

/* What the heartbeat says of the bundle sent for the rollout: applied
 * once it runs it, failed while it holds it and runs an older one. */
static const char *member_state(const struct ro_find *f, const struct owb_hb_in *hb)
{
    if (f->counter == 0)
        return "pending";
    if (hb->running >= f->counter)
        return "applied";
    return hb->held >= f->counter ? "failed" : "pending";
}

/* The device's rollout moved on by its heartbeat: its row marked, the
 * next wave released when this one is done, and *due when a bundle is to
 * be sent (none yet, or one the device does not hold and had time to). */
static enum owb_err hb_rollout(void *conn, struct hb_tx *t)
{
    const struct owb_hb_in *hb = t->hb;
    struct owb_store_args a = {0};
    struct ro_find f = {0};
    const char *state, *reason;
    enum owb_err rc;

    owb_arg_text(&a, hb->id);
    rc = t->drv->run(conn, OWB_ST_RO_FIND, &a, read_find, &f, NULL);
    if (rc != OWB_OK || !f.found || strcmp(f.state, "person") == 0)
        return rc;
    state = member_state(&f, hb);
    reason = strcmp(state, "failed") == 0 ? hb->reason : "";
    if (strcmp(state, f.state) != 0 || strcmp(reason, f.reason) != 0) {
        a.n = 0;
        owb_arg_i64(&a, f.rollout_id);
        owb_arg_text(&a, hb->id);
        owb_arg_text(&a, state);
        owb_arg_text(&a, reason[0] ? reason : NULL);
        owb_arg_i64(&a, hb->now);
        rc = t->drv->run(conn, OWB_ST_RO_MARK, &a, NULL, NULL, NULL);
    }
    /* Any device of the rollout may move it on: the one that finished its
     * wave, or one of another wave while a silent device holds it. A
     * device of the current wave still pending holds it itself (it was
     * just heard): no statement for it. */
    bool holds = strcmp(state, "pending") == 0 && f.wave == f.ro_wave;
    if (rc == OWB_OK && strcmp(f.ro_state, "running") == 0 && !holds) {
        a.n = 0;
        owb_arg_i64(&a, f.rollout_id);
        owb_arg_i64(&a, f.ro_wave);
        owb_arg_i64(&a, hb->now);
        owb_arg_i64(&a, hb->silent_before);
        rc = t->drv->run(conn, OWB_ST_RO_ADVANCE, &a, NULL, NULL, NULL);
    }
    if (rc == OWB_OK && strcmp(state, "pending") == 0 && strcmp(f.ro_state, "running") == 0 &&
        f.wave <= f.ro_wave && (f.counter == 0 || f.issued_at <= hb->resend_before)) {
        t->due->rollout_id = f.rollout_id;
        t->due->expected = f.counter;
    }
    return rc;
}

static enum owb_err read_challenge(void *ctx, const struct owb_store_cols *c, void *res)
{
    size_t len = 0;
    const uint8_t *b = c->blob(res, 0, &len);

    if (!b || len != OWB_HB_CHALLENGE_BYTES)
        return OWB_ERR_TAMPERED;
    memcpy(ctx, b, OWB_HB_CHALLENGE_BYTES);
    return OWB_OK;
}

/* The heartbeat recorded when its challenge is the device's current one,
 * which the next replaces in the same statement. */
static enum owb_err hb_take(void *conn, struct hb_tx *t, size_t *n)
{
    const struct owb_hb_in *hb = t->hb;
    struct owb_store_args a = {0};

    owb_arg_text(&a, hb->id);
    owb_arg_i64(&a, hb->now);
    owb_arg_text(&a, hb->from);
    owb_arg_i64(&a, (int64_t)hb->running);
    owb_arg_i64(&a, (int64_t)hb->held);
    owb_arg_text(&a, hb->reason[0] ? hb->reason : NULL);
    owb_arg_blob(&a, hb->challenge, OWB_HB_CHALLENGE_BYTES);
    owb_arg_blob(&a, hb->next, OWB_HB_CHALLENGE_BYTES);
    return t->drv->run(conn, OWB_ST_HB_DEVICE, &a, NULL, NULL, n);
}

/* The checks in the order docs/protocol.md gives them after the proof:
 * counters above the highest issued, then the challenge. A stale one is
 * answered with the current one (made now for a device that has none),
 * which a failed attempt never changes: a replayed heartbeat cannot make
 * the device's next one stale. */
static enum owb_err hb_record(void *conn, struct hb_tx *t)
{
    const struct owb_hb_in *hb = t->hb;
    struct owb_store_args a = {0};
    int64_t issued = 0;
    size_t n = 0;
    enum owb_err rc;

    owb_arg_text(&a, hb->id);
    rc = t->drv->run(conn, OWB_ST_HB_COUNTER, &a, owb_store_read_i64, &issued, &n);
    if (rc == OWB_OK && n == 0)
        return OWB_ERR_NOENT;
    /* Above the device's counter but below the durable mark: a counter
     * issued before a power cut took its row away (store.h issue). The
     * proof holds, so the device has it: its counter is raised to it. */
    if (rc == OWB_OK && hb->held > (uint64_t)issued) {
        a.n = 0;
        owb_arg_text(&a, hb->id);
        owb_arg_i64(&a, (int64_t)hb->held);
        rc = t->drv->run(conn, OWB_ST_RECOVER_DEVICE, &a, NULL, NULL, &n);
        if (rc == OWB_OK && n == 0)
            return OWB_ERR_CONFLICT;
        a.n = 1;
    }
    n = 0;
    /* All zero is never issued: such a heartbeat only asks for one. */
    if (rc == OWB_OK && !sodium_is_zero(hb->challenge, OWB_HB_CHALLENGE_BYTES))
        rc = hb_take(conn, t, &n);
    if (rc == OWB_OK && n == 1) {
        memcpy(t->current, hb->next, OWB_HB_CHALLENGE_BYTES);
        return OWB_OK;
    }
    owb_arg_blob(&a, hb->next, OWB_HB_CHALLENGE_BYTES);
    if (rc == OWB_OK)
        rc = t->drv->run(conn, OWB_ST_HB_CHALLENGE, &a, read_challenge, t->current, &n);
    if (rc == OWB_OK && n == 0)
        return OWB_ERR_NOENT;
    return rc == OWB_OK ? OWB_ERR_STALE_CHALLENGE : rc;
}

static enum owb_err hb_fn(void *conn, void *arg)
{
    struct hb_tx *t = arg;
    enum owb_err rc = t->drv->begin(conn);
    bool stale;

    memset(t->due, 0, sizeof *t->due);
    if (rc == OWB_OK)
        rc = hb_record(conn, t);
    if (rc == OWB_OK)
        rc = hb_rollout(conn, t);
    /* A stale challenge commits the one it answers with, when it was made
     * now; nothing else was written. */
    stale = rc == OWB_ERR_STALE_CHALLENGE;
    rc = t->drv->end(conn, stale ? OWB_OK : rc);
    if (rc == OWB_OK && stale)
        rc = OWB_ERR_STALE_CHALLENGE;
    if (rc != OWB_OK)
        memset(t->due, 0, sizeof *t->due);
    return rc;
}

enum owb_err owb_store_heartbeat(struct owb_store *s, const struct owb_hb_in *hb,
                                 uint8_t current[static OWB_HB_CHALLENGE_BYTES],
                                 struct owb_rollout_due *due)
{
    struct hb_tx t = {DRV(s), hb, current, due};
    enum owb_err rc;

    memset(current, 0, OWB_HB_CHALLENGE_BYTES);
    rc = DRV(s)->call(s, true, hb_fn, &t);
    if (rc != OWB_OK && rc != OWB_ERR_STALE_CHALLENGE)
        memset(current, 0, OWB_HB_CHALLENGE_BYTES);
    return rc;
}

enum owb_err owb_store_rollout_claim(struct owb_store *s, int64_t rollout_id, const char *device_id,
                                     uint64_t expected, uint64_t counter, int64_t now)
{
    struct owb_store_args a = {0};
    size_t n = 0;
    enum owb_err rc;

    owb_arg_i64(&a, rollout_id);
    owb_arg_text(&a, device_id);
    owb_arg_i64(&a, (int64_t)expected);
    owb_arg_i64(&a, (int64_t)counter);
    owb_arg_i64(&a, now);
    rc = owb_store_exec(s, true, OWB_ST_RO_CLAIM, &a, NULL, NULL, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_CONFLICT : rc;
}

/* --- rollouts made and read --- */

struct ro_create {
    const struct owb_store_driver *drv;
    struct owb_rollout_row *ro;
    const struct owb_rollout_member *m;
    size_t n;
};

static enum owb_err create_fn(void *conn, void *arg)
{
    struct ro_create *c = arg;
    struct owb_store_args a = {0};
    enum owb_err rc = c->drv->begin(conn);

    owb_arg_text(&a, c->ro->kind);
    owb_arg_text(&a, c->ro->network);
    owb_arg_i64(&a, c->ro->waves);
    owb_arg_i64(&a, c->ro->batch);
    owb_arg_i64(&a, c->ro->created_at);
    if (rc == OWB_OK)
        rc = c->drv->run(conn, OWB_ST_RO_INSERT, &a, owb_store_read_i64, &c->ro->id, NULL);
    for (size_t i = 0; rc == OWB_OK && i < c->n; i++) {
        a.n = 0;
        owb_arg_text(&a, c->m[i].device_id);
        owb_arg_i64(&a, c->ro->created_at);
        rc = c->drv->run(conn, OWB_ST_RO_SUPERSEDE, &a, NULL, NULL, NULL);
        a.n = 0;
        owb_arg_i64(&a, c->ro->id);
        owb_arg_text(&a, c->m[i].device_id);
        owb_arg_i64(&a, c->m[i].wave);
        owb_arg_text(&a, c->m[i].state);
        owb_arg_i64(&a, c->ro->created_at);
        if (rc == OWB_OK)
            rc = c->drv->run(conn, OWB_ST_RO_MEMBER, &a, NULL, NULL, NULL);
    }
    return c->drv->end(conn, rc);
}

enum owb_err owb_store_rollout_create(struct owb_store *s, struct owb_rollout_row *ro,
                                      const struct owb_rollout_member *members, size_t n)
{
    struct ro_create c = {DRV(s), ro, members, n};
    enum owb_err rc = DRV(s)->call(s, true, create_fn, &c);

    if (rc != OWB_OK)
        ro->id = 0;
    return rc;
}

static enum owb_err read_rollout(void *ctx, const struct owb_store_cols *c, void *res)
{
    return owb_store_read_rollout(c, res, ctx);
}

enum owb_err owb_store_rollout_get(struct owb_store *s, int64_t id, struct owb_rollout_row *row)
{
    struct owb_store_args a = {0};
    size_t n = 0;
    enum owb_err rc;

    memset(row, 0, sizeof *row);
    owb_arg_i64(&a, id);
    rc = owb_store_exec(s, false, OWB_ST_RO_GET, &a, read_rollout, row, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}

struct ro_lister {
    owb_rollout_cb cb;
    owb_member_cb mcb;
    void *ctx;
};

static enum owb_err list_rollout(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct ro_lister *l = ctx;
    struct owb_rollout_row row;
    enum owb_err rc = owb_store_read_rollout(c, res, &row);

    if (rc == OWB_OK)
        l->cb(l->ctx, &row);
    return rc;
}

static enum owb_err list_member(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct ro_lister *l = ctx;
    struct owb_rollout_member row;
    enum owb_err rc = owb_store_read_member(c, res, &row);

    if (rc == OWB_OK)
        l->mcb(l->ctx, &row);
    return rc;
}

enum owb_err owb_store_rollout_list(struct owb_store *s, owb_rollout_cb cb, void *ctx)
{
    struct ro_lister l = {cb, NULL, ctx};
    return owb_store_exec(s, false, OWB_ST_RO_LIST, NULL, list_rollout, &l, NULL);
}

enum owb_err owb_store_rollout_members(struct owb_store *s, int64_t id, owb_member_cb cb, void *ctx)
{
    struct ro_lister l = {NULL, cb, ctx};
    struct owb_store_args a = {0};

    owb_arg_i64(&a, id);
    return owb_store_exec(s, false, OWB_ST_RO_MEMBERS, &a, list_member, &l, NULL);
}

enum owb_err owb_store_rollout_set_state(struct owb_store *s, int64_t id, const char *from,
                                         const char *state, int64_t now)
{
    struct owb_store_args a = {0};
    struct owb_rollout_row row;
    size_t n = 0;
    enum owb_err rc;

    owb_arg_i64(&a, id);
    owb_arg_text(&a, from);
    owb_arg_text(&a, state);
    owb_arg_i64(&a, now);
    rc = owb_store_exec(s, true, OWB_ST_RO_SET_STATE, &a, NULL, NULL, &n);
    if (rc != OWB_OK || n > 0)
        return rc;
    rc = owb_store_rollout_get(s, id, &row);
    return rc == OWB_OK ? OWB_ERR_CONFLICT : rc;
}

/* --- the fleet --- */

struct counts {
    uint64_t v[3];
};

static enum owb_err read_counts(void *ctx, const struct owb_store_cols *c, void *res)
{
    struct counts *k = ctx;
    for (int i = 0; i < 3; i++)
        k->v[i] = (uint64_t)c->i64(res, i);
    return OWB_OK;
}

enum owb_err owb_store_fleet_counts(struct owb_store *s, int64_t since, uint64_t *online,
                                    uint64_t *stale, uint64_t *never)
{
    struct owb_store_args a = {0};
    struct counts k = {{0, 0, 0}};
    enum owb_err rc;

    owb_arg_i64(&a, since);
    rc = owb_store_exec(s, false, OWB_ST_FLEET_COUNTS, &a, read_counts, &k, NULL);
    *online = k.v[0];
    *stale = k.v[1];
    *never = k.v[2];
    return rc;
}

enum owb_err owb_store_network_update(struct owb_store *s, const struct owb_network_row *row)
{
    struct owb_store_args a;
    size_t n = 0;
    enum owb_err rc;

    owb_store_network_args(row, &a);
    rc = owb_store_exec(s, true, OWB_ST_NET_UPDATE, &a, NULL, NULL, &n);
    return rc == OWB_OK && n == 0 ? OWB_ERR_NOENT : rc;
}
