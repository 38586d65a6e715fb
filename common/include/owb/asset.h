/* Files embedded in a binary at build time (cmake/EmbedAssets.cmake): the
 * web pages and scripts each server serves, so a running server needs no
 * file system and no network to serve them. */
#ifndef OWB_ASSET_H
#define OWB_ASSET_H

#include <stddef.h>

struct owb_asset {
    const char *name;         /* file name, e.g. "setup.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
};

/* The asset called name in table[0..n), or NULL. */
const struct owb_asset *owb_asset_find(const struct owb_asset *table, size_t n, const char *name);

#endif
