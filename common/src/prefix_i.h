/* Internal: the prefix magic || type || id_len || device_id shared by
 * wifi_aad, the bundle header and the check-in message; the magic is the
 * suite's ("OWB1" or "OWB2"). */
#ifndef OWB_PREFIX_I_H
#define OWB_PREFIX_I_H

#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"

enum owb_err owb_prefix_write(enum owb_suite suite, char type, const char *device_id, uint8_t *out,
                              size_t cap, size_t *len) OWB_MUST_CHECK;

#endif
