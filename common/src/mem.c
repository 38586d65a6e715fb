#include "owb/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

enum owb_err owb_init(void)
{
    return sodium_init() < 0 ? OWB_ERR_CRYPTO : OWB_OK;
}

void *owb_secret_alloc(size_t len)
{
    void *p = sodium_malloc(len);
    if (p)
        sodium_memzero(p, len);
    return p;
}

void owb_secret_free(void *p)
{
    sodium_free(p);
}

void owb_clear_free(void *p, size_t len)
{
    if (!p)
        return;
    sodium_memzero(p, len);
    free(p);
}

void owb_clear_free_str(char *s)
{
    if (s)
        owb_clear_free(s, strlen(s));
}

void owb_no_core_dumps(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
