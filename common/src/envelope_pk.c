#include "owb/envelope_pk.h"

#include <string.h>

#include <sodium.h>

#include "bytes_i.h"
#include "prefix_i.h"

enum owb_err owb_pk_bundle_key(const uint8_t x_sk[static 32], const uint8_t x_peer[static 32],
                               const uint8_t eph_pk[static 32],
                               const uint8_t device_x_pk[static 32], uint8_t k[static 32])
{
    uint8_t shared[crypto_scalarmult_BYTES];
    crypto_generichash_state st;

    /* An all-zero shared secret (a low-order peer key) is refused. */
    if (crypto_scalarmult(shared, x_sk, x_peer) != 0)
        return OWB_ERR_AUTH_FAILED;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, shared, sizeof shared);
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_update(&st, device_x_pk, 32);
    crypto_generichash_final(&st, k, 32);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(&st, sizeof st);
    return OWB_OK;
}

enum owb_err owb_pk_device_box_pk(const uint8_t sign_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                  uint8_t box_pk[static 32])
{
    return crypto_sign_ed25519_pk_to_curve25519(box_pk, sign_pk) == 0 ? OWB_OK
                                                                      : OWB_ERR_INVALID_ARG;
}

enum owb_err owb_pk_bundle_seal(const uint8_t server_sk[static OWB_PK_SECRET_KEY_BYTES],
                                const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                const char *device_id, uint64_t counter, const uint8_t *p,
                                size_t p_len, const uint8_t *eph_sk, const uint8_t *nonce,
                                uint8_t *bundle, size_t bundle_cap, size_t *bundle_len)
{
    uint8_t e[32], d_x[32], k[32];
    size_t hlen, body;
    unsigned long long ct_len = 0;
    enum owb_err rc;

    *bundle_len = 0;
    if (p_len > OWB_PAYLOAD_MAX)
        return OWB_ERR_SPACE;
    rc = owb_pk_device_box_pk(device_pk, d_x);
    if (rc != OWB_OK)
        return rc;
    rc = owb_prefix_write(OWB_SUITE_PK, 'B', device_id, bundle, bundle_cap, &hlen);
    if (rc != OWB_OK)
        return rc;
    if (bundle_cap - hlen < 8 + OWB_PK_EPHEMERAL_BYTES + OWB_NONCE_BYTES + p_len + OWB_TAG_BYTES +
                                OWB_PK_SIGNATURE_BYTES)
        return OWB_ERR_SPACE;
    owb_store_be64(bundle + hlen, counter);
    hlen += 8;
    if (eph_sk)
        memcpy(e, eph_sk, sizeof e);
    else
        randombytes_buf(e, sizeof e);
    crypto_scalarmult_base(bundle + hlen, e); /* E, in the header */
    rc = owb_pk_bundle_key(e, d_x, bundle + hlen, d_x, k);
    sodium_memzero(e, sizeof e);
    if (rc != OWB_OK)
        return rc;
    hlen += OWB_PK_EPHEMERAL_BYTES;
    if (nonce)
        memcpy(bundle + hlen, nonce, OWB_NONCE_BYTES);
    else
        randombytes_buf(bundle + hlen, OWB_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(bundle + hlen + OWB_NONCE_BYTES, &ct_len, p, p_len,
                                               bundle, hlen, NULL, bundle + hlen, k);
    sodium_memzero(k, sizeof k);
    body = hlen + OWB_NONCE_BYTES + (size_t)ct_len;
    crypto_sign_detached(bundle + body, NULL, bundle, body, server_sk);
    *bundle_len = body + OWB_PK_SIGNATURE_BYTES;
    return OWB_OK;
}

enum owb_err owb_pk_bundle_open(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                const uint8_t (*server_pks)[OWB_PK_PUBLIC_KEY_BYTES], size_t n,
                                const struct owb_bundle_header *h, const uint8_t *bundle,
                                size_t len, uint8_t *p, size_t p_cap, size_t *p_len)
{
    uint8_t d[32], d_x[32], k[32];
    unsigned long long m_len = 0;
    size_t body, ct_len;
    bool signed_ok = false;
    enum owb_err rc;

    *p_len = 0;
    if (h->suite != OWB_SUITE_PK)
        return OWB_ERR_AUTH_FAILED; /* not this suite's bundle: it does not open */
    if (h->len == 0 || h->len > len ||
        len - h->len < OWB_NONCE_BYTES + OWB_TAG_BYTES + OWB_PK_SIGNATURE_BYTES)
        return OWB_ERR_BAD_REQUEST;
    body = len - OWB_PK_SIGNATURE_BYTES;
    ct_len = body - h->len - OWB_NONCE_BYTES;
    if (p_cap < ct_len - OWB_TAG_BYTES)
        return OWB_ERR_SPACE;
    /* The signature first: nothing of an unsigned bundle is worked on. */
    for (size_t i = 0; i < n && !signed_ok; i++)
        signed_ok = crypto_sign_verify_detached(bundle + body, bundle, body, server_pks[i]) == 0;
    if (!signed_ok)
        return OWB_ERR_AUTH_FAILED;
    if (crypto_sign_ed25519_sk_to_curve25519(d, device_sk) != 0 ||
        owb_pk_device_box_pk(device_sk + 32, d_x) != OWB_OK) {
        sodium_memzero(d, sizeof d);
        return OWB_ERR_INVALID_ARG;
    }
    rc = owb_pk_bundle_key(d, h->eph_pk, h->eph_pk, d_x, k);
    sodium_memzero(d, sizeof d);
    if (rc != OWB_OK)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &m_len, NULL,
                                                   bundle + h->len + OWB_NONCE_BYTES, ct_len,
                                                   bundle, h->len, bundle + h->len, k) != 0)
        rc = OWB_ERR_AUTH_FAILED;
    else
        *p_len = (size_t)m_len;
    sodium_memzero(k, sizeof k);
    return rc;
}
