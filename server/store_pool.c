/* The connection pool both storage backends lend their connections from:
 * one slot per HTTP thread, a caller waits on the condvar for a free one,
 * no longer than its deadline. */
#include "store_i.h"

#include <stdlib.h>
#include <time.h>

int64_t owb_store_clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct timespec owb_store_timespec(int64_t deadline_ms)
{
    return (struct timespec){(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
}

void owb_store_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

bool owb_store_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec until = owb_store_timespec(deadline_ms);

    if (!deadline_ms)
        return pthread_cond_wait(cv, mu) == 0;
    return owb_store_clock_ms() < deadline_ms && pthread_cond_timedwait(cv, mu, &until) == 0;
}

enum owb_err owb_store_pool_init(struct owb_store_pool *p, unsigned n, size_t slot_size)
{
    p->slots = calloc(n, slot_size);
    p->busy = calloc(n, sizeof *p->busy);
    p->slot_size = slot_size;
    p->n = p->slots && p->busy ? n : 0;
    pthread_mutex_init(&p->mu, NULL);
    owb_store_cond_init(&p->cv);
    return p->n ? OWB_OK : OWB_ERR_NOMEM;
}

void *owb_store_pool_slot(struct owb_store_pool *p, unsigned i)
{
    return i < p->n ? p->slots + (size_t)i * p->slot_size : NULL;
}

void *owb_store_pool_acquire(struct owb_store_pool *p, int64_t deadline_ms)
{
    unsigned i = p->n;
    bool waited = true;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (i = 0; i < p->n && p->busy[i]; i++)
            ;
        if (i < p->n || !waited)
            break;
        waited = owb_store_cond_wait(&p->cv, &p->mu, deadline_ms);
    }
    if (i < p->n)
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
