#include "owb/base64.h"

#include <sodium.h>

enum owb_err owb_b64_encode(const uint8_t *bin, size_t bin_len, char *out, size_t out_cap)
{
    if (out_cap < OWB_B64_ENCODED_SIZE(bin_len))
        return OWB_ERR_SPACE;
    sodium_bin2base64(out, out_cap, bin, bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
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

enum owb_err owb_b64_decode_exact(const char *text, size_t text_len, uint8_t *out,
                                  size_t want_len)
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
