#include "owb/wifi.h"

#include <string.h>

#include <sodium.h>

#include "owb/json.h"
#include "jsonw_i.h"

static const char *const sec_names[] = {
    [OWB_SEC_OPEN] = "open",
    [OWB_SEC_WPA2_PSK] = "wpa2-psk",
    [OWB_SEC_WPA3_SAE] = "wpa3-sae",
};

const char *owb_security_name(enum owb_security sec)
{
    if ((unsigned)sec >= sizeof sec_names / sizeof sec_names[0])
        return "unknown";
    return sec_names[sec];
}

enum owb_err owb_security_parse(const char *name, enum owb_security *out)
{
    for (size_t i = 0; i < sizeof sec_names / sizeof sec_names[0]; i++) {
        if (name && strcmp(name, sec_names[i]) == 0) {
            *out = (enum owb_security)i;
            return OWB_OK;
        }
    }
    return OWB_ERR_INVALID_CONFIG;
}

/* Each rule of W, in the order a person fixes them; NULL when all hold. */
static const char *ssid_rule(const char *ssid, size_t len)
{
    if (len < 1 || len > OWB_SSID_MAX)
        return "the SSID must be 1-32 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ssid[i];
        if (c < 0x20 || c == 0x7F)
            return "the SSID must not hold control characters";
    }
    return owb_utf8_valid((const uint8_t *)ssid, len) ? NULL : "the SSID must be valid UTF-8";
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A WPA passphrase (8-63 printable ASCII) or a raw 256-bit PSK (64 hex). */
static const char *psk_rule(const char *psk, size_t len)
{
    if (len == 64) {
        for (size_t i = 0; i < len; i++)
            if (!is_hex((unsigned char)psk[i]))
                return "a 64-character PSK is a raw key: 64 hex digits";
        return NULL;
    }
    if (len < 8 || len > 63)
        return "the PSK must be 8-63 characters (or 64 hex digits)";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)psk[i];
        if (c < 0x20 || c > 0x7E)
            return "the PSK must be printable ASCII: no accents, no control characters";
    }
    return NULL;
}

const char *owb_wifi_rule_broken(const struct owb_wifi *w)
{
    size_t psk_len = strnlen(w->psk, sizeof w->psk);

    if (w->ssid_len > OWB_SSID_MAX || strnlen(w->ssid, sizeof w->ssid) != w->ssid_len)
        return "the SSID must be 1-32 bytes without NUL";
    const char *why = ssid_rule(w->ssid, w->ssid_len);
    if (why)
        return why;
    switch (w->security) {
    case OWB_SEC_OPEN:
        return psk_len == 0 ? NULL : "an open network takes no PSK";
    case OWB_SEC_WPA2_PSK:
    case OWB_SEC_WPA3_SAE:
        return psk_len <= OWB_PSK_MAX ? psk_rule(w->psk, psk_len) : "the PSK is too long";
    }
    return "unknown security";
}

enum owb_err owb_wifi_check(const struct owb_wifi *w)
{
    return owb_wifi_rule_broken(w) ? OWB_ERR_INVALID_CONFIG : OWB_OK;
}

void owb_wifi_wipe(struct owb_wifi *w)
{
    sodium_memzero(w, sizeof *w);
}

enum owb_err owb_wifi_parse(const char *json, size_t len, struct owb_wifi *w)
{
    cJSON *root = NULL;
    const cJSON *ssid, *sec, *psk, *hidden;
    enum owb_err rc = OWB_ERR_INVALID_CONFIG;
    size_t n;

    owb_wifi_wipe(w);
    if (len > OWB_WIFI_JSON_MAX || owb_json_parse(json, len, &root) != OWB_OK ||
        !cJSON_IsObject(root))
        goto out;

    ssid = cJSON_GetObjectItemCaseSensitive(root, "ssid");
    sec = cJSON_GetObjectItemCaseSensitive(root, "security");
    psk = cJSON_GetObjectItemCaseSensitive(root, "psk");
    hidden = cJSON_GetObjectItemCaseSensitive(root, "hidden");

    if (!cJSON_IsString(ssid) || !cJSON_IsString(sec))
        goto out;
    n = strlen(ssid->valuestring);
    if (n > OWB_SSID_MAX)
        goto out;
    memcpy(w->ssid, ssid->valuestring, n);
    w->ssid_len = n;
    if (owb_security_parse(sec->valuestring, &w->security) != OWB_OK)
        goto out;
    if (psk) {
        /* An open network with a psk is refused rather than ignored: the
         * sender meant something the device cannot do. */
        if (!cJSON_IsString(psk) || w->security == OWB_SEC_OPEN)
            goto out;
        n = strlen(psk->valuestring);
        if (n > OWB_PSK_MAX)
            goto out;
        memcpy(w->psk, psk->valuestring, n);
    }
    if (hidden) {
        if (!cJSON_IsBool(hidden))
            goto out;
        w->hidden = cJSON_IsTrue(hidden);
    }
    rc = owb_wifi_check(w);
out:
    if (rc != OWB_OK)
        owb_wifi_wipe(w);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_wifi_to_json(const struct owb_wifi *w, char *out, size_t out_cap, size_t *out_len)
{
    struct owb_jw jw;
    enum owb_err rc;

    *out_len = 0;
    rc = owb_wifi_check(w);
    if (rc != OWB_OK)
        return rc;
    owb_jw_init(&jw, out, out_cap);
    owb_jw_raw(&jw, "{\"ssid\":");
    owb_jw_string(&jw, w->ssid, w->ssid_len);
    owb_jw_raw(&jw, ",\"security\":");
    owb_jw_string(&jw, owb_security_name(w->security), strlen(owb_security_name(w->security)));
    if (w->security != OWB_SEC_OPEN) {
        owb_jw_raw(&jw, ",\"psk\":");
        owb_jw_string(&jw, w->psk, strlen(w->psk));
    }
    if (w->hidden)
        owb_jw_raw(&jw, ",\"hidden\":true");
    owb_jw_raw(&jw, "}");
    rc = owb_jw_finish(&jw, out_len);
    if (rc != OWB_OK && out_cap)
        sodium_memzero(out, out_cap); /* a cut-off PSK is still a secret */
    return rc;
}
