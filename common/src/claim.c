#include "owb/claim.h"

#include <string.h>

#include <sodium.h>

#include "owb/id.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void owb_crockford_random(char *out, size_t chars)
{
    uint8_t buf[5];

    /* Five random bytes make eight characters, most significant bits first. */
    for (size_t i = 0; i < chars; i += 8) {
        uint64_t v = 0;
        randombytes_buf(buf, sizeof buf);
        for (size_t k = 0; k < sizeof buf; k++)
            v = (v << 8) | buf[k];
        for (size_t k = 0; k < 8 && i + k < chars; k++)
            out[i + k] = crockford[(v >> (35 - 5 * k)) & 31];
    }
    out[chars] = '\0';
    sodium_memzero(buf, sizeof buf);
}

void owb_claim_generate(char out[static OWB_CLAIM_SIZE])
{
    owb_crockford_random(out, OWB_CLAIM_LEN);
}

enum owb_err owb_claim_normalize(const char *in, size_t len, char out[static OWB_CLAIM_SIZE])
{
    size_t n = 0;

    memset(out, 0, OWB_CLAIM_SIZE);
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c == 'I' || c == 'L')
            c = '1';
        else if (c == 'O')
            c = '0';
        if (!memchr(crockford, c, sizeof crockford - 1) || n == OWB_CLAIM_LEN) {
            memset(out, 0, OWB_CLAIM_SIZE);
            return OWB_ERR_BAD_REQUEST;
        }
        out[n++] = c;
    }
    if (n != OWB_CLAIM_LEN) {
        memset(out, 0, OWB_CLAIM_SIZE);
        return OWB_ERR_BAD_REQUEST;
    }
    return OWB_OK;
}

enum owb_err owb_claim_hash(const char *device_id, const char *code, size_t code_len,
                            uint8_t out[static OWB_CLAIM_HASH_BYTES])
{
    static const char tag[] = "owb-claim-v1";
    char norm[OWB_CLAIM_SIZE];
    crypto_generichash_state st;
    uint8_t id_len;
    enum owb_err rc;

    memset(out, 0, OWB_CLAIM_HASH_BYTES);
    if (!owb_device_id_valid_str(device_id))
        return OWB_ERR_INVALID_ARG;
    rc = owb_claim_normalize(code, code_len, norm);
    if (rc != OWB_OK)
        return rc;
    id_len = (uint8_t)strlen(device_id);
    crypto_generichash_init(&st, NULL, 0, OWB_CLAIM_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)tag, sizeof tag);
    crypto_generichash_update(&st, &id_len, 1);
    crypto_generichash_update(&st, (const uint8_t *)device_id, id_len);
    crypto_generichash_update(&st, (const uint8_t *)norm, OWB_CLAIM_LEN);
    crypto_generichash_final(&st, out, OWB_CLAIM_HASH_BYTES);
    sodium_memzero(norm, sizeof norm);
    sodium_memzero(&st, sizeof st);
    return OWB_OK;
}
