/* Devices given another network, or none (assign.h). */
#include "assign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owb/id.h"

enum owb_err assign_macs(struct owb_srv *srv, const char *const *ids, size_t n, const char *network,
                         uint8_t (*macs)[OWB_ROW_MAC_BYTES], const char **moved, size_t *n_moved,
                         char *what, size_t what_cap, const char **why)
{
    struct owb_device_row d;
    enum owb_err rc = OWB_OK;

    *n_moved = 0;
    for (size_t i = 0; rc == OWB_OK && i < n; i++) {
        rc = srv->store->ops->device_get(srv->store, ids[i], &d);
        if (rc == OWB_OK)
            rc = owb_row_check_device(srv->master, &d, why);
        snprintf(what, what_cap, "%s", ids[i]);
        if (rc != OWB_OK)
            break;
        if (strcmp(d.network, network) != 0)
            moved[(*n_moved)++] = ids[i];
        snprintf(d.network, sizeof d.network, "%s", network);
        owb_row_mac_device(srv->master, &d, macs[i]);
    }
    return rc;
}

/* The ids of a network's devices, gathered before any is changed: the
 * listing reads a page at a time, by id. */
struct gathered {
    char (*id)[OWB_DEVICE_ID_SIZE];
    size_t n, cap;
    bool nomem;
};

static void gather(void *ctx, const struct owb_device_row *row)
{
    struct gathered *g = ctx;

    if (g->n == g->cap && !g->nomem) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        void *p = realloc(g->id, cap * sizeof *g->id);
        g->nomem = !p;
        if (p) {
            g->id = p;
            g->cap = cap;
        }
    }
    if (g->n < g->cap)
        snprintf(g->id[g->n++], sizeof g->id[0], "%s", row->id);
}

enum { CLEAR_BATCH = 500 };

enum owb_err assign_clear_network(struct owb_srv *srv, const char *network, size_t *cleared,
                                  char *what, size_t what_cap, const char **why)
{
    const struct owb_device_filter on_it = {.network = network};
    struct gathered g = {0};
    const char *ids[CLEAR_BATCH], *moved[CLEAR_BATCH];
    uint8_t macs[CLEAR_BATCH][OWB_ROW_MAC_BYTES];
    size_t n_moved = 0;
    enum owb_err rc = srv->store->ops->device_find(srv->store, &on_it, gather, &g);

    *cleared = 0;
    what[0] = '\0';
    if (rc == OWB_ERR_TAMPERED)
        *why = "a device row assigned to it does not read as one";
    else if (rc == OWB_OK && g.nomem)
        rc = OWB_ERR_NOMEM;
    for (size_t at = 0; rc == OWB_OK && at < g.n; at += CLEAR_BATCH) {
        size_t n = g.n - at < CLEAR_BATCH ? g.n - at : CLEAR_BATCH;
        for (size_t i = 0; i < n; i++)
            ids[i] = g.id[at + i];
        rc = assign_macs(srv, ids, n, "", macs, moved, &n_moved, what, what_cap, why);
        if (rc == OWB_OK)
            rc = srv->store->ops->device_assign(srv->store, ids, n, NULL,
                                                (const uint8_t(*)[OWB_ROW_MAC_BYTES])macs, what);
        if (rc == OWB_OK)
            *cleared += n;
    }
    free(g.id);
    return rc;
}
