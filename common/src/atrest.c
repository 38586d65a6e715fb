#include "owb/atrest.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

_Static_assert(OWB_ATREST_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "at-rest key is an XChaCha20-Poly1305 key");
_Static_assert(OWB_ATREST_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "at-rest nonce is an XChaCha20-Poly1305 nonce");
_Static_assert(OWB_ATREST_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "at-rest tag is an XChaCha20-Poly1305 tag");

static size_t atrest_aad(char aad[static OWB_ATREST_AAD_MAX + 1], const char *table,
                         const char *row_id)
{
    snprintf(aad, OWB_ATREST_AAD_MAX + 1, "owb-atrest-v1:%s:%s", table, row_id);
    return strlen(aad);
}

enum owb_err owb_atrest_encrypt(const uint8_t key[static OWB_ATREST_KEY_BYTES], const char *table,
                                const char *row_id, const uint8_t *plain, size_t len, uint8_t *out,
                                size_t cap, size_t *out_len)
{
    char aad[OWB_ATREST_AAD_MAX + 1];
    size_t aad_len = atrest_aad(aad, table, row_id);
    unsigned long long clen = 0;

    *out_len = 0;
    if (cap < OWB_ATREST_OVERHEAD || len > cap - OWB_ATREST_OVERHEAD)
        return OWB_ERR_SPACE;
    randombytes_buf(out, OWB_ATREST_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + OWB_ATREST_NONCE_BYTES, &clen, plain, len,
                                               (const uint8_t *)aad, aad_len, NULL, out, key);
    *out_len = OWB_ATREST_NONCE_BYTES + (size_t)clen;
    return OWB_OK;
}

enum owb_err owb_atrest_decrypt(const uint8_t key[static OWB_ATREST_KEY_BYTES], const char *table,
                                const char *row_id, const uint8_t *sealed, size_t len,
                                uint8_t *plain, size_t cap, size_t *plain_len)
{
    char aad[OWB_ATREST_AAD_MAX + 1];
    unsigned long long mlen = 0;

    *plain_len = 0;
    if (len < OWB_ATREST_OVERHEAD || cap < len - OWB_ATREST_OVERHEAD)
        return OWB_ERR_AUTH_FAILED;
    size_t aad_len = atrest_aad(aad, table, row_id);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, &mlen, NULL, sealed + OWB_ATREST_NONCE_BYTES, len - OWB_ATREST_NONCE_BYTES,
            (const uint8_t *)aad, aad_len, sealed, key) != 0)
        return OWB_ERR_AUTH_FAILED;
    *plain_len = (size_t)mlen;
    return OWB_OK;
}
