/* Picks the storage backend from --db: a postgresql:// URI or a file. */
#include <string.h>

#include "store.h"

bool owb_store_pg_dsn(const char *db)
{
    return !strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11);
}

enum owb_err owb_store_open(const struct owb_store_config *cfg, struct owb_store **out, char *diag)
{
    if (owb_store_pg_dsn(cfg->path))
        return owb_store_pg_open(cfg, out, diag);
    return owb_store_sqlite_open(cfg, out, diag);
}
