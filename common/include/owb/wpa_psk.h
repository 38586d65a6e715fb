/* The WPA2 pre-shared key from a passphrase (IEEE 802.11i, H.4):
 *   PSK = PBKDF2-HMAC-SHA1(passphrase, SSID, 4096 iterations, 32 bytes)
 * Written out as 64 hex digits it goes into a supplicant's configuration
 * with no quoting at all, so no byte of the passphrase can be misread
 * there (wpa_supplicant cuts a quoted value at a '#' that follows a '"').
 * libsodium has no SHA-1: it lives here, used for nothing else.
 *
 * The caller wipes psk (it is as secret as the passphrase). */
#ifndef OWB_WPA_PSK_H
#define OWB_WPA_PSK_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

#define OWB_WPA_PSK_BYTES 32
#define OWB_SHA1_BYTES 20

/* OWB_ERR_INVALID_ARG when the passphrase is not 8-63 bytes or the SSID
 * not 1-32 bytes. */
enum owb_err owb_wpa_psk(const char *passphrase, const uint8_t *ssid, size_t ssid_len,
                         uint8_t psk[OWB_WPA_PSK_BYTES]) OWB_MUST_CHECK;

/* SHA-1 of one message (for the tests; and the building block above). */
void owb_sha1(const uint8_t *msg, size_t len, uint8_t out[OWB_SHA1_BYTES]);

#endif
