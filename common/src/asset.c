#include "owb/asset.h"

#include <string.h>

const struct owb_asset *owb_asset_find(const struct owb_asset *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}
