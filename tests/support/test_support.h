/* Helpers shared by the cmocka tests. */
#ifndef OWB_TEST_SUPPORT_H
#define OWB_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

/* Decodes hex into out (exactly out_len bytes) or fails the test. */
void t_hex(const char *hex, uint8_t *out, size_t out_len);

/* Decoded length of a hex string. */
size_t t_hex_len(const char *hex);

/* Reads a whole file or fails the test; free() the result. */
char *t_read_file(const char *path, size_t *len);

/* The "cases" array of tests/vectors/<name>; the root is kept in *root for
 * cJSON_Delete. */
const cJSON *t_vector_cases(const char *name, cJSON **root);

/* A string member of a case, or fails the test. */
const char *t_str(const cJSON *obj, const char *key);

/* A fresh temporary directory (mkdtemp); remove with t_rmtree(). */
char *t_tmpdir(void);
void t_rmtree(const char *path);

#endif
