#include "owb/devkey.h"

#include <stdio.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/signkey.h"

_Static_assert(OWB_DEVICE_KEY_BYTES == crypto_kdf_KEYBYTES, "the device key is a crypto_kdf key");

enum owb_err owb_devkey_generate(struct owb_keyfile *kf, enum owb_suite suite)
{
    uint8_t pk[OWB_PK_PUBLIC_KEY_BYTES], raw[OWB_AP_PASSPHRASE_RAW_BYTES];
    enum owb_err rc = OWB_OK;

    kf->suite = suite == OWB_SUITE_PK ? OWB_SUITE_PK : OWB_SUITE_SYM;
    if (kf->suite == OWB_SUITE_SYM) {
        randombytes_buf(kf->device_key, sizeof kf->device_key);
        return OWB_OK;
    }
    owb_signkey_generate(pk, kf->device_sk);
    randombytes_buf(raw, sizeof raw);
    if (owb_b64_encode(raw, sizeof raw, kf->ap_passphrase, sizeof kf->ap_passphrase) != OWB_OK)
        rc = OWB_ERR_INTERNAL;
    sodium_memzero(raw, sizeof raw);
    return rc;
}

void owb_devkey_fingerprint(const struct owb_keyfile *kf, char out[static OWB_DEVKEY_FP_SIZE])
{
    static const uint8_t tag[] = "owb-key-fingerprint-v1";
    uint8_t h[8];
    char hex[2 * sizeof h + 1];

    if (kf->suite == OWB_SUITE_PK)
        crypto_generichash(h, sizeof h, owb_signkey_public(kf->device_sk), OWB_PK_PUBLIC_KEY_BYTES,
                           tag, sizeof tag);
    else
        crypto_generichash(h, sizeof h, kf->device_key, sizeof kf->device_key, tag, sizeof tag);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, OWB_DEVKEY_FP_SIZE, "%.4s-%.4s-%.4s-%.4s", hex, hex + 4, hex + 8, hex + 12);
}
