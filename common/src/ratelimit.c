#include "owb/ratelimit.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A table this small (the device's) is searched whole, so a flood must
 * bring that many keys to forget one; a larger one (the server's) probes
 * PROBE slots from the key's hash, to keep a request's lookup short. */
#define SCAN_ALL_MAX 64
#define PROBE 8

struct slot {
    char key[OWB_RATELIMIT_KEY_MAX + 1];
    double tokens;
    double last;
    bool used;
};

struct owb_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    size_t n_slots, probe;
    struct slot slots[];
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

struct owb_ratelimit *owb_ratelimit_new(size_t slots, double rate, double burst)
{
    struct owb_ratelimit *rl;

    if (slots == 0 || slots > (SIZE_MAX - sizeof *rl) / sizeof(struct slot) || !(rate > 0))
        return NULL;
    rl = calloc(1, sizeof *rl + slots * sizeof(struct slot));
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    rl->n_slots = slots;
    rl->probe = slots <= SCAN_ALL_MAX ? slots : PROBE;
    return rl;
}

void owb_ratelimit_free(struct owb_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* An unused slot is the stalest, then the one untouched longest. */
static bool staler(const struct slot *c, const struct slot *than)
{
    if (!than)
        return true;
    if (!than->used)
        return false;
    return !c->used || c->last < than->last;
}

/* The slot holding key, else NULL and in *stalest the slot a new key
 * would take. Called with the lock held. */
static struct slot *lookup(struct owb_ratelimit *rl, const char *key, struct slot **stalest)
{
    uint32_t h = rl->probe == rl->n_slots ? 0 : fnv1a(key);

    *stalest = NULL;
    for (size_t i = 0; i < rl->probe; i++) {
        struct slot *c = &rl->slots[(h + i) % rl->n_slots];
        if (c->used && strncmp(c->key, key, OWB_RATELIMIT_KEY_MAX) == 0)
            return c;
        if (staler(c, *stalest))
            *stalest = c;
    }
    return NULL;
}

/* The tokens s holds at time t (a new key's bucket is full). */
static double tokens_at(const struct owb_ratelimit *rl, const struct slot *s, double t)
{
    double tokens;

    if (!s)
        return rl->burst;
    tokens = s->tokens + (t - s->last) * rl->rate;
    return tokens > rl->burst ? rl->burst : tokens;
}

static bool decide(const struct owb_ratelimit *rl, double tokens, double *retry_after)
{
    if (tokens >= 1.0)
        return true;
    *retry_after = (1.0 - tokens) / rl->rate;
    return false;
}

/* Whether key has a token now; take: takes it, and makes key a slot
 * when it has none. */
static bool check(struct owb_ratelimit *rl, const char *key, bool take, double *retry_after)
{
    double t = now_s(), tokens;
    struct slot *s, *stalest;
    bool ok;

    *retry_after = 0;
    pthread_mutex_lock(&rl->mu);
    s = lookup(rl, key, &stalest);
    tokens = tokens_at(rl, s, t);
    ok = decide(rl, tokens, retry_after);
    if (take && !s) {
        s = stalest;
        snprintf(s->key, sizeof s->key, "%s", key);
        s->used = true;
    }
    if (take) {
        s->tokens = ok ? tokens - 1.0 : tokens;
        s->last = t;
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

bool owb_ratelimit_allow(struct owb_ratelimit *rl, const char *key, double *retry_after)
{
    return check(rl, key, true, retry_after);
}

bool owb_ratelimit_peek(struct owb_ratelimit *rl, const char *key, double *retry_after)
{
    return check(rl, key, false, retry_after);
}

unsigned owb_ratelimit_retry_secs(double retry_after)
{
    double secs = retry_after + 0.999;

    if (secs < 1)
        return 1;
    return secs >= (double)UINT_MAX ? UINT_MAX : (unsigned)secs;
}
