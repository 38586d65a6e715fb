#include "owb/payload.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "owb/base64.h"
#include "owb/json.h"
#include "jsonw_i.h"

bool owb_http_url_valid(const char *url, size_t len)
{
    size_t scheme;

    if (len > OWB_URL_MAX)
        return false;
    if (len > 7 && memcmp(url, "http://", 7) == 0)
        scheme = 7;
    else if (len > 8 && memcmp(url, "https://", 8) == 0)
        scheme = 8;
    else
        return false;
    /* The host must not be empty: "http:///x" and "http://" are refused. */
    if (url[scheme] == '/' || url[scheme] == '?' || url[scheme] == '#')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7F)
            return false;
    }
    return true;
}

bool owb_hostname_valid(const char *name, size_t len)
{
    if (len < 1 || len > OWB_HOSTNAME_MAX || name[0] == '-' || name[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

static enum owb_err parse_config(const cJSON *config, struct owb_payload *p)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(config, "checkin_url");
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(config, "hostname");
    size_t n;

    if (!cJSON_IsObject(config))
        return OWB_ERR_INVALID_CONFIG;
    if (url) {
        if (!cJSON_IsString(url))
            return OWB_ERR_INVALID_CONFIG;
        n = strlen(url->valuestring);
        if (!owb_http_url_valid(url->valuestring, n))
            return OWB_ERR_INVALID_CONFIG;
        memcpy(p->checkin_url, url->valuestring, n + 1);
    }
    if (host) {
        if (!cJSON_IsString(host))
            return OWB_ERR_INVALID_CONFIG;
        n = strlen(host->valuestring);
        if (!owb_hostname_valid(host->valuestring, n))
            return OWB_ERR_INVALID_CONFIG;
        memcpy(p->hostname, host->valuestring, n + 1);
    }
    return OWB_OK;
}

enum owb_err owb_payload_parse(const char *json, size_t len, struct owb_payload *p)
{
    cJSON *root = NULL;
    const cJSON *wifi, *config, *issued;
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    memset(p, 0, sizeof *p);
    if (len > OWB_PAYLOAD_MAX || owb_json_parse(json, len, &root) != OWB_OK ||
        !cJSON_IsObject(root))
        goto out;
    wifi = cJSON_GetObjectItemCaseSensitive(root, "wifi");
    if (!cJSON_IsString(wifi) ||
        owb_b64_decode(wifi->valuestring, strlen(wifi->valuestring), p->wifi_blob,
                       sizeof p->wifi_blob, &p->wifi_blob_len) != OWB_OK ||
        p->wifi_blob_len < OWB_NONCE_BYTES + OWB_TAG_BYTES)
        goto out;
    issued = cJSON_GetObjectItemCaseSensitive(root, "issued_at");
    if (issued) {
        if (!cJSON_IsNumber(issued) || !isfinite(issued->valuedouble) ||
            fabs(issued->valuedouble) > 9007199254740992.0)
            goto out;
        p->has_issued_at = true;
        p->issued_at = (int64_t)issued->valuedouble;
    }
    config = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (config) {
        rc = parse_config(config, p);
        if (rc != OWB_OK)
            goto out;
    }
    rc = OWB_OK;
out:
    if (rc != OWB_OK)
        memset(p, 0, sizeof *p);
    cJSON_Delete(root);
    return rc;
}

enum owb_err owb_payload_to_json(const struct owb_payload *p, char *out, size_t out_cap,
                                 size_t *out_len)
{
    char wifi_b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
    size_t url_len = strnlen(p->checkin_url, sizeof p->checkin_url);
    size_t host_len = strnlen(p->hostname, sizeof p->hostname);
    struct owb_jw jw;
    enum owb_err rc;

    *out_len = 0;
    if ((url_len && !owb_http_url_valid(p->checkin_url, url_len)) ||
        (host_len && !owb_hostname_valid(p->hostname, host_len)) ||
        p->wifi_blob_len > sizeof p->wifi_blob)
        return OWB_ERR_INVALID_CONFIG;
    rc = owb_b64_encode(p->wifi_blob, p->wifi_blob_len, wifi_b64, sizeof wifi_b64);
    if (rc != OWB_OK)
        return rc;
    owb_jw_init(&jw, out, out_cap);
    owb_jw_raw(&jw, "{\"wifi\":");
    owb_jw_string(&jw, wifi_b64, strlen(wifi_b64));
    if (url_len || host_len) {
        owb_jw_raw(&jw, ",\"config\":{");
        if (url_len) {
            owb_jw_raw(&jw, "\"checkin_url\":");
            owb_jw_string(&jw, p->checkin_url, url_len);
        }
        if (host_len) {
            owb_jw_raw(&jw, url_len ? ",\"hostname\":" : "\"hostname\":");
            owb_jw_string(&jw, p->hostname, host_len);
        }
        owb_jw_raw(&jw, "}");
    }
    if (p->has_issued_at) {
        owb_jw_raw(&jw, ",\"issued_at\":");
        owb_jw_int(&jw, p->issued_at);
    }
    owb_jw_raw(&jw, "}");
    rc = owb_jw_finish(&jw, out_len);
    if (rc == OWB_OK && *out_len > OWB_PAYLOAD_MAX) {
        *out_len = 0;
        rc = OWB_ERR_SPACE;
    }
    return rc;
}
