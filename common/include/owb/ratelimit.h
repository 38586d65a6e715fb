/* A token bucket per key (a client address, a device id), in a table of a
 * fixed number of slots chosen by the caller: the server keeps thousands
 * of addresses, the device, whose RAM is counted in kilobytes, keeps 64.
 * Under a flood of keys the stalest slot is forgotten, which can only let
 * a forgotten key start again with a full bucket.
 *
 * Thread-safe: the table has its own lock. Ownership: owb_ratelimit_new()
 * allocates the table; owb_ratelimit_free() frees it (it holds no secret).
 */
#ifndef OWB_RATELIMIT_H
#define OWB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest key kept; a longer one is cut, so keys sharing this many first
 * bytes share a bucket. */
#define OWB_RATELIMIT_KEY_MAX 63

struct owb_ratelimit;

/* slots buckets, each refilled with rate tokens a second up to burst (at
 * least 1); NULL when slots is 0, rate is not positive, or out of memory.
 * "N per window" is rate N / window, burst N. */
struct owb_ratelimit *owb_ratelimit_new(size_t slots, double rate, double burst);
void owb_ratelimit_free(struct owb_ratelimit *rl);

/* Takes a token for key; false (and the seconds until one is there in
 * retry_after) when the bucket is empty. */
bool owb_ratelimit_allow(struct owb_ratelimit *rl, const char *key, double *retry_after);

/* Whether key has a token, taking none (retry_after as for allow). */
bool owb_ratelimit_peek(struct owb_ratelimit *rl, const char *key, double *retry_after);

/* Whole seconds to wait for retry_after (at least 1), for a Retry-After
 * header. */
unsigned owb_ratelimit_retry_secs(double retry_after);

#endif
