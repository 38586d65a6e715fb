/* The connection pool both storage backends lend their connections from:
 * one slot per HTTP thread, a caller waits on the condvar for a free one. */
#include "store_i.h"

#include <stdlib.h>

enum owb_err owb_store_pool_init(struct owb_store_pool *p, unsigned n, size_t slot_size)
{
    p->slots = calloc(n, slot_size);
    p->busy = calloc(n, sizeof *p->busy);
    p->slot_size = slot_size;
    p->n = p->slots && p->busy ? n : 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p->n ? OWB_OK : OWB_ERR_NOMEM;
}

void *owb_store_pool_slot(struct owb_store_pool *p, unsigned i)
{
    return i < p->n ? p->slots + (size_t)i * p->slot_size : NULL;
}

void *owb_store_pool_acquire(struct owb_store_pool *p)
{
    unsigned i = p->n;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (i = 0; i < p->n && p->busy[i]; i++)
            ;
        if (i < p->n)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    p->busy[i] = true;
    pthread_mutex_unlock(&p->mu);
    return owb_store_pool_slot(p, i);
}

void owb_store_pool_release(struct owb_store_pool *p, void *slot)
{
    size_t i = (size_t)((unsigned char *)slot - p->slots) / p->slot_size;

    pthread_mutex_lock(&p->mu);
    p->busy[i] = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* After the backend has closed what each slot holds. */
void owb_store_pool_destroy(struct owb_store_pool *p)
{
    free(p->slots);
    free(p->busy);
    p->slots = NULL;
    p->busy = NULL;
    p->n = 0;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}
