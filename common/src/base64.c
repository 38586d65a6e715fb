#include "owb/base64.h"

#include <sodium.h>

/* Constant time: keys and tokens are encoded here too, so no branch and
 * no table lookup depends on the data. Each 6-bit value v becomes
 * 'A' + v plus a fixed offset for every range start it has reached:
 *   0..25 'A'..'Z', 26..51 'a'..'z' (+6), 52..61 '0'..'9' (-75),
 *   62 '-' (-13), 63 '_' (+49).
 * Eight values are worked on at once, one per byte of a 64-bit word
 * (v + 128 - start has its top bit set exactly when v >= start, and no
 * byte carries into the next); libsodium's sodium_bin2base64 works a bit
 * at a time and was the largest single cost of building a bundle. */
#define LANES(x) (0x0101010101010101ULL * (x))

static uint64_t b64url_lanes(uint64_t v)
{
    uint64_t ge26 = ((v + LANES(128 - 26)) & LANES(0x80)) >> 7;
    uint64_t ge52 = ((v + LANES(128 - 52)) & LANES(0x80)) >> 7;
    uint64_t ge62 = ((v + LANES(128 - 62)) & LANES(0x80)) >> 7;
    uint64_t ge63 = ((v + LANES(128 - 63)) & LANES(0x80)) >> 7;
    /* Additions first (at most 63 + 65 + 6 + 49 = 183 a byte), then the
     * subtractions, which only happen where the byte is already >= 123. */
    return v + LANES('A') + ge26 * 6 + ge63 * 49 - ge52 * 75 - ge62 * 13;
}

/* n (1..8) characters for the 6-bit groups of the top 6 * n bits of t
 * (a 48-bit big-endian value). */
static void put_chars(char *out, uint64_t t, unsigned n)
{
    uint64_t v = 0, c;
    for (unsigned k = 0; k < 8; k++)
        v |= ((t >> (42 - 6 * k)) & 63) << (8 * k);
    c = b64url_lanes(v);
    for (unsigned k = 0; k < n; k++)
        out[k] = (char)(c >> (8 * k));
}

enum owb_err owb_b64_encode(const uint8_t *bin, size_t bin_len, char *out, size_t out_cap)
{
    size_t i = 0, o = 0, rest;
    uint64_t t = 0;

    if (out_cap < OWB_B64_ENCODED_SIZE(bin_len))
        return OWB_ERR_SPACE;
    for (; i + 6 <= bin_len; i += 6, o += 8) {
        t = 0;
        for (unsigned k = 0; k < 6; k++)
            t = t << 8 | bin[i + k];
        put_chars(out + o, t, 8);
    }
    rest = bin_len - i;
    if (rest) { /* 1..5 bytes: zero-filled to 6, cut to ceil(8 * rest / 6) characters */
        t = 0;
        for (unsigned k = 0; k < 6; k++)
            t = t << 8 | (k < rest ? bin[i + k] : 0u);
        put_chars(out + o, t, (unsigned)((rest * 8 + 5) / 6));
        o += (rest * 8 + 5) / 6;
    }
    out[o] = '\0';
    return OWB_OK;
}

enum owb_err owb_b64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_cap,
                            size_t *out_len)
{
    const char *end = NULL;
    size_t n = 0;

    *out_len = 0;
    /* A decoded length that cannot fit is refused before decoding, so the
     * answer does not depend on where the excess sits. */
    if (text_len / 4 * 3 + (text_len % 4 ? text_len % 4 - 1 : 0) > out_cap)
        return OWB_ERR_SPACE;
    if (sodium_base642bin(out, out_cap, text, text_len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text + text_len) {
        sodium_memzero(out, out_cap);
        return OWB_ERR_BAD_REQUEST;
    }
    *out_len = n;
    return OWB_OK;
}

enum owb_err owb_b64_decode_exact(const char *text, size_t text_len, uint8_t *out, size_t want_len)
{
    size_t n = 0;
    enum owb_err rc = owb_b64_decode(text, text_len, out, want_len, &n);

    if (rc == OWB_ERR_SPACE)
        return OWB_ERR_BAD_REQUEST;
    if (rc == OWB_OK && n != want_len) {
        sodium_memzero(out, want_len);
        rc = OWB_ERR_BAD_REQUEST;
    }
    return rc;
}
