/* Starting a rollout: which devices, which of them need a person, and
 * the waves (rollout.h). */
#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The members as they are collected; failed when out of memory. */
struct members {
    struct owb_rollout_member *m;
    size_t n, cap, people;
    struct owb_srv *srv;
    enum owb_err rc;
};

static void keep_mode(void *ctx, const struct owb_session_row *row)
{
    snprintf(ctx, 16, "%s", row->mode);
}

/* A device set up takes part. No store call here: this runs inside a
 * listing, which holds a connection of the pool. */
static void add_member(void *ctx, const struct owb_device_row *d)
{
    struct members *ms = ctx;
    struct owb_rollout_member *m;

    if (d->counter == 0 || ms->rc != OWB_OK)
        return;
    if (!cli_grow((void **)&ms->m, &ms->cap, ms->n, sizeof *ms->m)) {
        ms->rc = OWB_ERR_NOMEM;
        return;
    }
    m = memset(&ms->m[ms->n++], 0, sizeof *m);
    snprintf(m->device_id, sizeof m->device_id, "%s", d->id);
    snprintf(m->state, sizeof m->state, "pending");
}

/* One whose latest bundle the phone sealed (the server never had its
 * password) needs a person. */
static enum owb_err mark_people(struct members *ms)
{
    enum owb_err rc = OWB_OK;

    for (size_t i = 0; rc == OWB_OK && i < ms->n; i++) {
        char mode[16] = "";
        rc = ms->srv->store->ops->session_list(ms->srv->store, ms->m[i].device_id, 1, keep_mode,
                                               mode);
        if (strcmp(mode, "app-sealed") == 0) {
            snprintf(ms->m[i].state, sizeof ms->m[i].state, "person");
            ms->people++;
        }
    }
    return rc;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const struct owb_rollout_member *)a)->device_id,
                  ((const struct owb_rollout_member *)b)->device_id);
}

static enum owb_err collect(struct owb_srv *srv, const char *network, const char *const *ids,
                            size_t n, struct members *ms)
{
    struct owb_device_filter f = {.network = network};
    struct owb_device_row d;
    enum owb_err rc;

    if (!ids) {
        rc = srv->store->ops->device_find(srv->store, &f, add_member, ms);
        return rc == OWB_OK ? ms->rc : rc;
    }
    for (size_t i = 0; i < n && ms->rc == OWB_OK; i++) {
        rc = srv->store->ops->device_get(srv->store, ids[i], &d);
        if (rc != OWB_OK)
            return rc;
        add_member(ms, &d);
    }
    if (ms->n)
        qsort(ms->m, ms->n, sizeof *ms->m, cmp_member);
    return ms->rc;
}

/* Waves in id order over the devices that can be rolled out. */
static void plan_waves(struct members *ms, const struct rollout_opts *o, struct owb_rollout_row *ro)
{
    size_t movable = ms->n - ms->people, batch = movable, k = 0;

    if (o->batch)
        batch = o->batch;
    else if (o->percent)
        batch = (movable * o->percent + 99) / 100;
    if (batch == 0)
        batch = 1;
    for (size_t i = 0; i < ms->n; i++)
        if (strcmp(ms->m[i].state, "pending") == 0)
            ms->m[i].wave = (int64_t)(k++ / batch);
    ro->batch = (int64_t)batch;
    ro->waves = movable ? (int64_t)((movable + batch - 1) / batch) : 1;
}

enum owb_err rollout_start(struct owb_srv *srv, const char *kind, const char *network,
                           const char *const *ids, size_t n, const struct rollout_opts *o)
{
    struct members ms = {.srv = srv};
    struct owb_rollout_row ro = {0};
    enum owb_err rc = collect(srv, network, ids, n, &ms);

    if (rc == OWB_OK)
        rc = mark_people(&ms);
    if (rc != OWB_OK || ms.n == 0) {
        if (rc == OWB_OK)
            printf("no device set up on %s yet: no rollout needed\n", network);
        goto out;
    }
    snprintf(ro.kind, sizeof ro.kind, "%s", kind);
    snprintf(ro.network, sizeof ro.network, "%s", network);
    ro.created_at = cli_now();
    plan_waves(&ms, o, &ro);
    rc = srv->store->ops->rollout_create(srv->store, &ro, ms.m, ms.n);
    if (rc != OWB_OK)
        goto out;
    printf("rollout %lld started: %zu device(s) in %lld wave(s) of up to %lld; they get %s at "
           "their next heartbeat\n",
           (long long)ro.id, ms.n - ms.people, (long long)ro.waves, (long long)ro.batch, network);
    if (ms.people)
        printf("%zu device(s) need a person: set up app-sealed, the server never had their "
               "password ('owb-server rollout status %lld')\n",
               ms.people, (long long)ro.id);
out:
    free(ms.m);
    return rc;
}
