/* Sealing a secret at rest (the server's device keys, AP passphrases and
 * premises PSKs in its database): XChaCha20-Poly1305 under a 32-byte key,
 * stored as nonce || ciphertext || tag, with "owb-atrest-v1:<table>:<row
 * id>" as associated data so that a sealed value moved to another row does
 * not open. The server seals with a subkey of its master key
 * (server/secrets.h wraps these with it).
 *
 * Ownership: the caller owns every buffer; the key and the plaintext are
 * read only, never copied.
 */
#ifndef OWB_ATREST_H
#define OWB_ATREST_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

#define OWB_ATREST_KEY_BYTES 32
#define OWB_ATREST_NONCE_BYTES 24
#define OWB_ATREST_TAG_BYTES 16
#define OWB_ATREST_OVERHEAD (OWB_ATREST_NONCE_BYTES + OWB_ATREST_TAG_BYTES)
/* The associated data is cut to this many bytes (both ways alike). */
#define OWB_ATREST_AAD_MAX 159

/* Seals plain into out (len + OWB_ATREST_OVERHEAD bytes, else
 * OWB_ERR_SPACE) with a fresh random nonce. */
enum owb_err owb_atrest_encrypt(const uint8_t key[static OWB_ATREST_KEY_BYTES], const char *table,
                                const char *row_id, const uint8_t *plain, size_t len, uint8_t *out,
                                size_t cap, size_t *out_len) OWB_MUST_CHECK;

/* Opens what owb_atrest_encrypt sealed for the same table and row;
 * OWB_ERR_AUTH_FAILED when it does not open (wrong key, row or tampering)
 * or plain (cap bytes) cannot hold it. */
enum owb_err owb_atrest_decrypt(const uint8_t key[static OWB_ATREST_KEY_BYTES], const char *table,
                                const char *row_id, const uint8_t *sealed, size_t len,
                                uint8_t *plain, size_t cap, size_t *plain_len) OWB_MUST_CHECK;

#endif
