/* Internal: byte-order helpers for the protocol's big-endian counter. */
#ifndef OWB_BYTES_I_H
#define OWB_BYTES_I_H

#include <stdint.h>

static inline void owb_store_be64(uint8_t out[static 8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static inline uint64_t owb_load_be64(const uint8_t in[static 8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

#endif
