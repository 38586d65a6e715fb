/* Subkeys of the device key K (PROTOCOL.md, "Parties and keys"):
 *   id 1, 32 bytes: bundle key Kb (outer AEAD layer)
 *   id 2, 16 bytes: setup-AP passphrase, base64url (22 characters)
 *   id 3, 32 bytes: check-in key Kc (crypto_auth)
 * each crypto_kdf_derive_from_key(out, len, id, "owbsetup", K).
 *
 * Ownership: callers own every output buffer and wipe the keys when done.
 */
#ifndef OWB_KDF_H
#define OWB_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"
#include "owb/id.h"

#define OWB_DEVICE_KEY_BYTES 32
#define OWB_BUNDLE_KEY_BYTES 32
#define OWB_CHECKIN_KEY_BYTES 32
#define OWB_AP_PASSPHRASE_RAW_BYTES 16
#define OWB_AP_PASSPHRASE_LEN 22
#define OWB_AP_PASSPHRASE_SIZE (OWB_AP_PASSPHRASE_LEN + 1)
#define OWB_AP_SSID_MAX 32
#define OWB_AP_SSID_SIZE (OWB_AP_SSID_MAX + 1)

void owb_kdf_bundle_key(uint8_t out[static OWB_BUNDLE_KEY_BYTES],
                        const uint8_t device_key[static OWB_DEVICE_KEY_BYTES]);

void owb_kdf_checkin_key(uint8_t out[static OWB_CHECKIN_KEY_BYTES],
                         const uint8_t device_key[static OWB_DEVICE_KEY_BYTES]);

/* The setup-AP WPA2 passphrase, NUL-terminated (22 characters). */
void owb_kdf_ap_passphrase(char out[static OWB_AP_PASSPHRASE_SIZE],
                           const uint8_t device_key[static OWB_DEVICE_KEY_BYTES]);

/* "OWB-" + device id, cut to 32 bytes, NUL-terminated. OWB_ERR_INVALID_ARG
 * for an invalid id. Needs no key: anyone who knows the id knows the SSID. */
enum owb_err owb_ap_ssid(char out[static OWB_AP_SSID_SIZE], const char *device_id);

#endif
