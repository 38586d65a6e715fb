/* Strict JSON parsing for every byte that comes from outside.
 *
 * cJSON accepts duplicate keys and silently cuts a string at an escaped
 * NUL; both let two parsers disagree about one text, so owb_json_parse()
 * refuses them, along with raw NUL bytes, nesting deeper than
 * OWB_JSON_MAX_DEPTH and anything but exactly one value (white space
 * aside). It never reads past text + len.
 */
#ifndef OWB_JSON_H
#define OWB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "owb/err.h"

#define OWB_JSON_MAX_DEPTH 16

/* *out is a tree the caller frees with cJSON_Delete (or owb_json_free_secret
 * when it holds secrets). OWB_ERR_BAD_REQUEST on any refusal. */
enum owb_err owb_json_parse(const char *text, size_t len, cJSON **out) OWB_MUST_CHECK;

/* Wipe every string in the tree, then delete it. NULL is ignored. */
void owb_json_free_secret(cJSON *root);

/* The member of obj named key when it is a string, else NULL. */
const char *owb_json_string(const cJSON *obj, const char *key);

/* A member that must be a whole number in [0, 2^53): OWB_ERR_BAD_REQUEST
 * when it is missing, not a number or not whole. */
enum owb_err owb_json_uint(const cJSON *obj, const char *key, uint64_t *out) OWB_MUST_CHECK;

/* True when the len bytes at s are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool owb_utf8_valid(const uint8_t *s, size_t len);

#endif
