/* A token bucket per client address, for POST /v1/setup. A fixed-size
 * table: under an address flood the stalest entries are forgotten, which
 * can only let a forgotten address start again with a full bucket. */
#ifndef OWB_SERVER_RATELIMIT_H
#define OWB_SERVER_RATELIMIT_H

#include <stdbool.h>

struct owb_ratelimit;

/* rate tokens per second, burst tokens at most; NULL on failure. */
struct owb_ratelimit *owb_ratelimit_new(double rate, double burst);
void owb_ratelimit_free(struct owb_ratelimit *rl);

/* Takes a token for addr; false (and the seconds until one is there) when
 * the bucket is empty. */
bool owb_ratelimit_allow(struct owb_ratelimit *rl, const char *addr, double *retry_after);

/* Whether addr has a token, taking none (retry_after as for allow). */
bool owb_ratelimit_peek(struct owb_ratelimit *rl, const char *addr, double *retry_after);

#endif
