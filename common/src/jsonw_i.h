/* A writer of compact JSON into a caller's fixed buffer, for the two texts
 * sealed on every bundle (W and P). Building them as cJSON trees cost a
 * third of a bundle (bench/bench_envelope.c) and left copies of the PSK in
 * heap nodes; this writes straight into the buffer the caller wipes.
 * Strings are escaped exactly as cJSON prints them, so the texts are the
 * same bytes as before (the protocol vectors check it). */
#ifndef OWB_JSONW_I_H
#define OWB_JSONW_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

struct owb_jw {
    char *out;
    size_t cap, len;
    bool overflow;
};

void owb_jw_init(struct owb_jw *w, char *out, size_t cap);
/* Bytes as they are (punctuation, names known to need no escaping). */
void owb_jw_raw(struct owb_jw *w, const char *s);
/* A quoted string of n bytes: '"' and '\\' escaped, control characters as
 * \b \f \n \r \t or \u00xx, everything else (UTF-8 included) as is. */
void owb_jw_string(struct owb_jw *w, const char *s, size_t n);
void owb_jw_int(struct owb_jw *w, int64_t v);
/* NUL-terminates; OWB_ERR_SPACE when anything did not fit. */
enum owb_err owb_jw_finish(struct owb_jw *w, size_t *len);

#endif
