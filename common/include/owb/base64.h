/* base64url without padding, the protocol's only text encoding of binary.
 * Constant time (libsodium's codec), so it may carry keys. */
#ifndef OWB_BASE64_H
#define OWB_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

/* Characters needed to encode n bytes, plus the terminating NUL. */
#define OWB_B64_ENCODED_SIZE(n) ((((n) / 3) * 4) + (((n) % 3) ? ((n) % 3) + 1 : 0) + 1)

/* Writes the NUL-terminated encoding of bin into out. OWB_ERR_SPACE when
 * out_cap < OWB_B64_ENCODED_SIZE(bin_len). */
enum owb_err owb_b64_encode(const uint8_t *bin, size_t bin_len, char *out, size_t out_cap);

/* Decodes exactly text_len characters: padding, white space, trailing
 * characters or non-canonical final bits are OWB_ERR_BAD_REQUEST;
 * OWB_ERR_SPACE when the result would exceed out_cap. *out_len is 0 on error.
 * When wipe-worthy data is decoded, the caller wipes out. */
enum owb_err owb_b64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_cap,
                            size_t *out_len) OWB_MUST_CHECK;

/* Like owb_b64_decode but the decoded length must be exactly want_len. */
enum owb_err owb_b64_decode_exact(const char *text, size_t text_len, uint8_t *out,
                                  size_t want_len) OWB_MUST_CHECK;

#endif
