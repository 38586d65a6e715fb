#include "ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096
#define PROBE 8

struct slot {
    char addr[64];
    double tokens;
    double last;
};

struct owb_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    struct slot slots[SLOTS];
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

struct owb_ratelimit *owb_ratelimit_new(double rate, double burst)
{
    struct owb_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    return rl;
}

void owb_ratelimit_free(struct owb_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

bool owb_ratelimit_allow(struct owb_ratelimit *rl, const char *addr, double *retry_after)
{
    double t = now_s();
    uint32_t h = fnv1a(addr);
    struct slot *s = NULL, *oldest = NULL;
    bool ok;

    *retry_after = 0;
    pthread_mutex_lock(&rl->mu);
    for (int i = 0; i < PROBE; i++) {
        struct slot *c = &rl->slots[(h + (uint32_t)i) % SLOTS];
        if (strcmp(c->addr, addr) == 0) {
            s = c;
            break;
        }
        if (!oldest || c->last < oldest->last)
            oldest = c;
    }
    if (!s) {
        s = oldest;
        snprintf(s->addr, sizeof s->addr, "%s", addr);
        s->tokens = rl->burst;
        s->last = t;
    }
    s->tokens += (t - s->last) * rl->rate;
    if (s->tokens > rl->burst)
        s->tokens = rl->burst;
    s->last = t;
    ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    else
        *retry_after = (1.0 - s->tokens) / rl->rate;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

bool owb_ratelimit_peek(struct owb_ratelimit *rl, const char *addr, double *retry_after)
{
    double t = now_s();
    uint32_t h = fnv1a(addr);
    bool ok = true;

    *retry_after = 0;
    pthread_mutex_lock(&rl->mu);
    for (int i = 0; i < PROBE; i++) {
        const struct slot *c = &rl->slots[(h + (uint32_t)i) % SLOTS];
        if (strcmp(c->addr, addr) == 0) {
            double tokens = c->tokens + (t - c->last) * rl->rate;
            ok = tokens >= 1.0;
            if (!ok)
                *retry_after = (1.0 - tokens) / rl->rate;
            break;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}
