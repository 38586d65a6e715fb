#include "owb/envelope.h"

#include <string.h>

#include <sodium.h>

#include "bytes_i.h"
#include "prefix_i.h"

#define LAYER_WIFI 'W'
#define LAYER_BUNDLE 'B'

/* magic || type || id_len || device_id: the common prefix of wifi_aad,
 * the bundle header and the check-in message. */
enum owb_err owb_prefix_write(enum owb_suite suite, char type, const char *device_id, uint8_t *out,
                              size_t cap, size_t *len)
{
    size_t id_len;

    *len = 0;
    if (!owb_device_id_valid_str(device_id))
        return OWB_ERR_INVALID_ARG;
    id_len = strlen(device_id);
    if (cap < OWB_MAGIC_LEN + 2 + id_len)
        return OWB_ERR_SPACE;
    memcpy(out, suite == OWB_SUITE_PK ? OWB_MAGIC_V2 : OWB_MAGIC_V1, OWB_MAGIC_LEN);
    out[OWB_MAGIC_LEN] = (uint8_t)type;
    out[OWB_MAGIC_LEN + 1] = (uint8_t)id_len;
    memcpy(out + OWB_MAGIC_LEN + 2, device_id, id_len);
    *len = OWB_MAGIC_LEN + 2 + id_len;
    return OWB_OK;
}

enum owb_err owb_wifi_aad(const char *device_id, uint8_t *aad, size_t aad_cap, size_t *aad_len)
{
    /* The inner layer is the same in both suites. */
    return owb_prefix_write(OWB_SUITE_SYM, LAYER_WIFI, device_id, aad, aad_cap, aad_len);
}

enum owb_err owb_wifi_blob_seal(const uint8_t app_key[static OWB_APP_KEY_BYTES],
                                const char *device_id, const uint8_t *w, size_t w_len,
                                const uint8_t *nonce, uint8_t *blob, size_t blob_cap,
                                size_t *blob_len)
{
    uint8_t aad[OWB_WIFI_AAD_MAX];
    size_t aad_len;
    unsigned long long ct_len = 0;
    enum owb_err rc;

    *blob_len = 0;
    rc = owb_wifi_aad(device_id, aad, sizeof aad, &aad_len);
    if (rc != OWB_OK)
        return rc;
    if (w_len > OWB_WIFI_BLOB_MAX || blob_cap < OWB_WIFI_BLOB_SIZE(w_len))
        return OWB_ERR_SPACE;
    if (nonce)
        memcpy(blob, nonce, OWB_NONCE_BYTES);
    else
        randombytes_buf(blob, OWB_NONCE_BYTES);
    /* wifi_blob = nonce || AEAD(key = A, aad = wifi_aad, msg = W) */
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + OWB_NONCE_BYTES, &ct_len, w, w_len, aad,
                                               aad_len, NULL, blob, app_key);
    *blob_len = OWB_NONCE_BYTES + (size_t)ct_len;
    return OWB_OK;
}

enum owb_err owb_wifi_blob_open(const uint8_t app_key[static OWB_APP_KEY_BYTES],
                                const char *device_id, const uint8_t *blob, size_t blob_len,
                                uint8_t *w, size_t w_cap, size_t *w_len)
{
    uint8_t aad[OWB_WIFI_AAD_MAX];
    size_t aad_len;
    unsigned long long m_len = 0;
    enum owb_err rc;

    *w_len = 0;
    rc = owb_wifi_aad(device_id, aad, sizeof aad, &aad_len);
    if (rc != OWB_OK)
        return rc;
    if (blob_len < OWB_NONCE_BYTES + OWB_TAG_BYTES)
        return OWB_ERR_BAD_REQUEST;
    if (w_cap < blob_len - OWB_NONCE_BYTES - OWB_TAG_BYTES)
        return OWB_ERR_SPACE;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(w, &m_len, NULL, blob + OWB_NONCE_BYTES,
                                                   blob_len - OWB_NONCE_BYTES, aad, aad_len, blob,
                                                   app_key) != 0)
        return OWB_ERR_APP_KEY_REJECTED;
    *w_len = (size_t)m_len;
    return OWB_OK;
}

enum owb_err owb_bundle_header_write(const char *device_id, uint64_t counter, uint8_t *out,
                                     size_t out_cap, size_t *out_len)
{
    size_t n;
    enum owb_err rc = owb_prefix_write(OWB_SUITE_SYM, LAYER_BUNDLE, device_id, out, out_cap, &n);

    *out_len = 0;
    if (rc != OWB_OK)
        return rc;
    if (out_cap - n < 8)
        return OWB_ERR_SPACE;
    owb_store_be64(out + n, counter);
    *out_len = n + 8;
    return OWB_OK;
}

enum owb_err owb_bundle_header_parse(const uint8_t *b, size_t len, struct owb_bundle_header *h)
{
    size_t pos = 0, id_len;

    enum owb_suite suite;
    size_t tail;

    memset(h, 0, sizeof *h);
    /* Each read below is preceded by a check of what is left. */
    if (len - pos < OWB_MAGIC_LEN + 2 || b[OWB_MAGIC_LEN] != LAYER_BUNDLE)
        return OWB_ERR_BAD_REQUEST;
    if (memcmp(b, OWB_MAGIC_V1, OWB_MAGIC_LEN) == 0)
        suite = OWB_SUITE_SYM;
    else if (memcmp(b, OWB_MAGIC_V2, OWB_MAGIC_LEN) == 0)
        suite = OWB_SUITE_PK;
    else
        return OWB_ERR_BAD_REQUEST;
    pos = OWB_MAGIC_LEN + 1;
    id_len = b[pos++];
    if (id_len == 0 || id_len > OWB_DEVICE_ID_MAX || len - pos < id_len)
        return OWB_ERR_BAD_REQUEST;
    if (!owb_device_id_valid((const char *)b + pos, id_len))
        return OWB_ERR_BAD_REQUEST;
    memcpy(h->device_id, b + pos, id_len);
    h->device_id[id_len] = '\0';
    h->id_len = id_len;
    pos += id_len;
    if (len - pos < 8)
        goto bad;
    h->counter = owb_load_be64(b + pos);
    pos += 8;
    if (suite == OWB_SUITE_PK) {
        if (len - pos < OWB_PK_EPHEMERAL_BYTES)
            goto bad;
        memcpy(h->eph_pk, b + pos, OWB_PK_EPHEMERAL_BYTES);
        pos += OWB_PK_EPHEMERAL_BYTES;
    }
    /* A header with no room for a nonce and a tag (and a signature) is not
     * a bundle. */
    tail = OWB_NONCE_BYTES + OWB_TAG_BYTES + (suite == OWB_SUITE_PK ? OWB_PK_SIGNATURE_BYTES : 0);
    if (len - pos < tail)
        goto bad;
    h->suite = suite;
    h->len = pos;
    return OWB_OK;
bad:
    memset(h, 0, sizeof *h);
    return OWB_ERR_BAD_REQUEST;
}

enum owb_err owb_bundle_seal(const uint8_t bundle_key[static 32], const char *device_id,
                             uint64_t counter, const uint8_t *p, size_t p_len, const uint8_t *nonce,
                             uint8_t *bundle, size_t bundle_cap, size_t *bundle_len)
{
    size_t hlen;
    unsigned long long ct_len = 0;
    enum owb_err rc;

    *bundle_len = 0;
    if (p_len > OWB_PAYLOAD_MAX)
        return OWB_ERR_SPACE;
    rc = owb_bundle_header_write(device_id, counter, bundle, bundle_cap, &hlen);
    if (rc != OWB_OK)
        return rc;
    if (bundle_cap - hlen < OWB_NONCE_BYTES + p_len + OWB_TAG_BYTES)
        return OWB_ERR_SPACE;
    if (nonce)
        memcpy(bundle + hlen, nonce, OWB_NONCE_BYTES);
    else
        randombytes_buf(bundle + hlen, OWB_NONCE_BYTES);
    /* bundle = header || nonce || AEAD(key = Kb, aad = header, msg = P) */
    crypto_aead_xchacha20poly1305_ietf_encrypt(bundle + hlen + OWB_NONCE_BYTES, &ct_len, p, p_len,
                                               bundle, hlen, NULL, bundle + hlen, bundle_key);
    *bundle_len = hlen + OWB_NONCE_BYTES + (size_t)ct_len;
    return OWB_OK;
}

enum owb_err owb_bundle_open(const uint8_t bundle_key[static 32], const struct owb_bundle_header *h,
                             const uint8_t *bundle, size_t len, uint8_t *p, size_t p_cap,
                             size_t *p_len)
{
    const uint8_t *nonce;
    unsigned long long m_len = 0;
    size_t ct_len;

    *p_len = 0;
    if (h->suite != OWB_SUITE_SYM)
        return OWB_ERR_AUTH_FAILED; /* not this suite's bundle: it does not open */
    if (h->len == 0 || h->len > len || len - h->len < OWB_NONCE_BYTES + OWB_TAG_BYTES)
        return OWB_ERR_BAD_REQUEST;
    nonce = bundle + h->len;
    ct_len = len - h->len - OWB_NONCE_BYTES;
    if (p_cap < ct_len - OWB_TAG_BYTES)
        return OWB_ERR_SPACE;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &m_len, NULL, nonce + OWB_NONCE_BYTES, ct_len,
                                                   bundle, h->len, nonce, bundle_key) != 0)
        return OWB_ERR_AUTH_FAILED;
    *p_len = (size_t)m_len;
    return OWB_OK;
}

const char *owb_suite_name(enum owb_suite suite)
{
    return suite == OWB_SUITE_SYM ? "sym" : suite == OWB_SUITE_PK ? "pk" : "unknown";
}

enum owb_err owb_suite_parse(const char *name, enum owb_suite *out)
{
    if (name && strcmp(name, "sym") == 0)
        *out = OWB_SUITE_SYM;
    else if (name && strcmp(name, "pk") == 0)
        *out = OWB_SUITE_PK;
    else
        return OWB_ERR_INVALID_ARG;
    return OWB_OK;
}
