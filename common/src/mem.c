#include "owb/mem.h"

#include <pthread.h>
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

struct scratch {
    void *p;
    size_t len;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    struct scratch *sc = arg;
    sodium_free(sc->p);
    free(sc);
}

static void scratch_key_make(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

void *owb_secret_scratch(size_t len)
{
    struct scratch *sc;

    pthread_once(&scratch_once, scratch_key_make);
    sc = pthread_getspecific(scratch_key);
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc || pthread_setspecific(scratch_key, sc) != 0) {
            free(sc);
            return NULL;
        }
    }
    if (sc->len < len) {
        sodium_free(sc->p);
        sc->len = 0;
        sc->p = sodium_malloc(len);
        if (!sc->p)
            return NULL;
        sc->len = len;
    }
    sodium_memzero(sc->p, len);
    return sc->p;
}

void owb_secret_scratch_done(void *p, size_t len)
{
    if (p)
        sodium_memzero(p, len);
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
