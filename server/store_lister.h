/* For the storage backends: the interface's three typed listing callbacks
 * behind one untyped call, so that a backend lists devices, networks and
 * tokens with one loop. */
#ifndef OWB_SERVER_STORE_LISTER_H
#define OWB_SERVER_STORE_LISTER_H

#include "store.h"

struct owb_lister {
    void (*emit)(const struct owb_lister *l, const void *row);
    union {
        owb_device_cb device;
        owb_network_cb network;
        owb_token_cb token;
    } cb;
    void *ctx;
};

static inline void owb_emit_device(const struct owb_lister *l, const void *row)
{
    l->cb.device(l->ctx, row);
}

static inline void owb_emit_network(const struct owb_lister *l, const void *row)
{
    l->cb.network(l->ctx, row);
}

static inline void owb_emit_token(const struct owb_lister *l, const void *row)
{
    l->cb.token(l->ctx, row);
}

#endif
