/* The bundle payload P (PROTOCOL.md, "Outer layer"):
 *   wifi       required string: base64url of the wifi blob
 *   config     optional object: checkin_url (http/https URL, <= 512 bytes),
 *              hostname (1-63 of [A-Za-z0-9-], no '-' at either end);
 *              unknown keys ignored
 *   issued_at  optional number: unix seconds, informational
 *
 * struct owb_payload holds the sealed wifi blob (not a secret without the
 * app key) and settings; it owns no heap memory.
 */
#ifndef OWB_PAYLOAD_H
#define OWB_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"

#define OWB_URL_MAX 512
#define OWB_HOSTNAME_MAX 63

struct owb_payload {
    uint8_t wifi_blob[OWB_WIFI_BLOB_MAX];
    size_t wifi_blob_len;
    char checkin_url[OWB_URL_MAX + 1];   /* "" when absent */
    char hostname[OWB_HOSTNAME_MAX + 1]; /* "" when absent */
    bool has_issued_at;
    int64_t issued_at;
};

/* Parses P. OWB_ERR_BAD_REQUEST when it is not a JSON object or wifi is
 * missing, mistyped or not base64url; OWB_ERR_INVALID_CONFIG when config
 * or one of its known keys breaks a rule. */
enum owb_err owb_payload_parse(const char *json, size_t len, struct owb_payload *p) OWB_MUST_CHECK;

/* Writes P as compact JSON in the member order wifi, config, issued_at;
 * config only when a setting is present. Checks the settings first
 * (OWB_ERR_INVALID_CONFIG). */
enum owb_err owb_payload_to_json(const struct owb_payload *p, char *out, size_t out_cap,
                                 size_t *out_len) OWB_MUST_CHECK;

/* An absolute http:// or https:// URL of at most OWB_URL_MAX printable
 * ASCII characters with a non-empty host. */
bool owb_http_url_valid(const char *url, size_t len);
bool owb_hostname_valid(const char *name, size_t len);

#endif
