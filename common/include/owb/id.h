/* Device ids: 1-32 characters of [A-Za-z0-9._-] (PROTOCOL.md, "Parties"). */
#ifndef OWB_ID_H
#define OWB_ID_H

#include <stdbool.h>
#include <stddef.h>

#define OWB_DEVICE_ID_MAX 32
/* A buffer that holds any valid id and its NUL. */
#define OWB_DEVICE_ID_SIZE (OWB_DEVICE_ID_MAX + 1)

/* True when the len bytes at id form a valid device id. */
bool owb_device_id_valid(const char *id, size_t len);

/* Same for a NUL-terminated string. */
bool owb_device_id_valid_str(const char *id);

#endif
