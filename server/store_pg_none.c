/* Stands in for store_pg.c in a build without libpq: a PostgreSQL URI is
 * still recognised, and refused with a clear reason. */
#include "store.h"

enum owb_err owb_store_pg_open(const struct owb_store_config *cfg, struct owb_store **out,
                               char *diag)
{
    (void)cfg;
    *out = NULL;
    owb_diagf(diag, "this owb-server was built without PostgreSQL support (libpq-dev was not "
                    "there at build time); use a SQLite file, or rebuild with libpq-dev");
    return OWB_ERR_UNSUPPORTED;
}
