/* The premises Wi-Fi settings W (PROTOCOL.md, "Inner layer"):
 *   ssid      1-32 bytes of UTF-8, no byte below 0x20, no 0x7F
 *   security  "wpa2-psk" | "wpa3-sae" | "open"
 *   psk       required unless open: 8-63 chars 0x20-0x7E, or 64 hex digits;
 *             forbidden when open
 *   hidden    optional bool, default false
 * Unknown members are ignored; duplicate members are refused.
 *
 * struct owb_wifi holds a PSK: owners wipe it with owb_wifi_wipe().
 */
#ifndef OWB_WIFI_H
#define OWB_WIFI_H

#include <stdbool.h>
#include <stddef.h>

#include "owb/err.h"

#define OWB_SSID_MAX 32
#define OWB_PSK_MAX 64
/* Longest W text owb will parse or emit (worst-case escaping included). */
#define OWB_WIFI_JSON_MAX 1024

enum owb_security {
    OWB_SEC_OPEN = 0,
    OWB_SEC_WPA2_PSK,
    OWB_SEC_WPA3_SAE,
};

struct owb_wifi {
    char ssid[OWB_SSID_MAX + 1]; /* NUL-terminated; never holds a NUL inside */
    size_t ssid_len;
    enum owb_security security;
    char psk[OWB_PSK_MAX + 1]; /* "" when open */
    bool hidden;
};

/* Checks every rule above on an already filled struct (e.g. from a CLI or
 * the database). OWB_ERR_INVALID_CONFIG when one is broken. */
enum owb_err owb_wifi_check(const struct owb_wifi *w) OWB_MUST_CHECK;
/* The first rule of W that w breaks, as a sentence for a person ("the PSK
 * must be 8-63 characters (or 64 hex digits)"); NULL when it breaks none. */
const char *owb_wifi_rule_broken(const struct owb_wifi *w);

/* Parses and checks W. W is only ever parsed after its layer opened, so
 * every failure, malformed JSON included, is OWB_ERR_INVALID_CONFIG.
 * *w is zeroed first and wiped again on failure. */
enum owb_err owb_wifi_parse(const char *json, size_t len, struct owb_wifi *w) OWB_MUST_CHECK;

/* Writes W as compact JSON (members ssid, security, psk unless open, hidden
 * only when true) into out, NUL-terminated; *out_len excludes the NUL.
 * The caller wipes out. */
enum owb_err owb_wifi_to_json(const struct owb_wifi *w, char *out, size_t out_cap,
                              size_t *out_len) OWB_MUST_CHECK;

const char *owb_security_name(enum owb_security sec);

/* OWB_ERR_INVALID_CONFIG for a name that is not one of the three. */
enum owb_err owb_security_parse(const char *name, enum owb_security *out) OWB_MUST_CHECK;

void owb_wifi_wipe(struct owb_wifi *w);

#endif
