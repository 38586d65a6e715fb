/* Library start-up and secret memory.
 *
 * owb_init() must run once before any other owb function (it starts
 * libsodium). Secrets that live longer than one function call are kept in
 * owb_secret_alloc() memory (sodium_malloc: guard pages, locked, wiped on
 * free) and released with owb_secret_free(). Short-lived secrets on the
 * stack are wiped by their owner with sodium_memzero().
 */
#ifndef OWB_MEM_H
#define OWB_MEM_H

#include <stddef.h>

#include "owb/err.h"

enum owb_err owb_init(void) OWB_MUST_CHECK;

/* Zero-filled secret memory, or NULL. Free with owb_secret_free(). */
void *owb_secret_alloc(size_t len);
void owb_secret_free(void *p);

/* Secret memory of at least len bytes for the calling thread, zero-filled,
 * reused by its next call: for secrets that live for one request of a
 * server thread. A sodium_malloc and sodium_free per request cost two
 * mprotect calls and a munmap, each a TLB shootdown on every core. The
 * caller wipes it when done (owb_secret_scratch_done); it is freed when
 * the thread exits. NULL when out of memory. */
void *owb_secret_scratch(size_t len);
void owb_secret_scratch_done(void *p, size_t len);

/* Wipe len bytes at p, then free(p). For secrets in ordinary heap memory
 * (e.g. a JSON text holding a PSK). NULL is ignored. */
void owb_clear_free(void *p, size_t len);

/* Wipe and free a NUL-terminated heap string. NULL is ignored. */
void owb_clear_free_str(char *s);

/* Keeps secrets out of core files: no core dumps, not ptrace-attachable
 * by other processes of the same user. Call at the start of main. */
void owb_no_core_dumps(void);

#endif
