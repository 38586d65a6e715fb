#include "owb/kdf.h"

#include <string.h>

#include <sodium.h>

/* PROTOCOL.md "Parties and keys": subkey ids under the context "owbsetup". */
enum { KDF_ID_BUNDLE = 1, KDF_ID_AP_PASSPHRASE = 2, KDF_ID_CHECKIN = 3 };
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'o', 'w', 'b', 's', 'e', 't', 'u', 'p'};

void owb_kdf_bundle_key(uint8_t out[static OWB_BUNDLE_KEY_BYTES],
                        const uint8_t device_key[static OWB_DEVICE_KEY_BYTES])
{
    crypto_kdf_derive_from_key(out, OWB_BUNDLE_KEY_BYTES, KDF_ID_BUNDLE, kdf_context, device_key);
}

void owb_kdf_checkin_key(uint8_t out[static OWB_CHECKIN_KEY_BYTES],
                         const uint8_t device_key[static OWB_DEVICE_KEY_BYTES])
{
    crypto_kdf_derive_from_key(out, OWB_CHECKIN_KEY_BYTES, KDF_ID_CHECKIN, kdf_context, device_key);
}

void owb_kdf_ap_passphrase(char out[static OWB_AP_PASSPHRASE_SIZE],
                           const uint8_t device_key[static OWB_DEVICE_KEY_BYTES])
{
    uint8_t raw[OWB_AP_PASSPHRASE_RAW_BYTES];

    crypto_kdf_derive_from_key(raw, sizeof raw, KDF_ID_AP_PASSPHRASE, kdf_context, device_key);
    sodium_bin2base64(out, OWB_AP_PASSPHRASE_SIZE, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

enum owb_err owb_ap_ssid(char out[static OWB_AP_SSID_SIZE], const char *device_id)
{
    size_t n;

    out[0] = '\0';
    if (!owb_device_id_valid_str(device_id))
        return OWB_ERR_INVALID_ARG;
    /* "OWB-" + id, cut to 32 bytes; ids are ASCII so no character is split. */
    n = strlen(device_id);
    if (n > OWB_AP_SSID_MAX - 4)
        n = OWB_AP_SSID_MAX - 4;
    memcpy(out, "OWB-", 4);
    memcpy(out + 4, device_id, n);
    out[4 + n] = '\0';
    return OWB_OK;
}
