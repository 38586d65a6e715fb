#include "mint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/claim.h"

bool owb_prefix_valid(const char *prefix)
{
    size_t n = strlen(prefix);
    /* An empty prefix is fine: the id is then the random part alone. */
    return n <= OWB_PREFIX_MAX && (n == 0 || owb_device_id_valid(prefix, n));
}

enum owb_err owb_mint_identity(struct owb_keyfile *kf, const char *id, const char *prefix,
                               const char *server)
{
    size_t plen;

    sodium_memzero(kf, sizeof *kf);
    if (id) {
        if (!owb_device_id_valid_str(id))
            return OWB_ERR_INVALID_ARG;
        snprintf(kf->device_id, sizeof kf->device_id, "%s", id);
    } else {
        if (!prefix || !owb_prefix_valid(prefix))
            return OWB_ERR_INVALID_ARG;
        plen = strlen(prefix);
        memcpy(kf->device_id, prefix, plen);
        owb_crockford_random(kf->device_id + plen, OWB_ID_RANDOM_CHARS);
    }
    if (!server || !owb_http_url_valid(server, strlen(server)) ||
        strlen(server) > OWB_URL_MAX - 64)
        return OWB_ERR_INVALID_ARG;
    snprintf(kf->server, sizeof kf->server, "%s", server);
    randombytes_buf(kf->device_key, sizeof kf->device_key);
    owb_claim_generate(kf->claim_code);
    return OWB_OK;
}

void owb_setup_url(const struct owb_keyfile *kf, char *out, size_t cap)
{
    size_t n = strlen(kf->server);
    while (n > 0 && kf->server[n - 1] == '/')
        n--;
    if (kf->claim_code[0])
        snprintf(out, cap, "%.*s/s/%s#c=%s", (int)n, kf->server, kf->device_id, kf->claim_code);
    else
        snprintf(out, cap, "%.*s/s/%s", (int)n, kf->server, kf->device_id);
}

enum owb_err owb_mint_record(const struct owb_keyfile *kf, char *line, size_t cap, size_t *len)
{
    struct owb_record r;
    enum owb_err rc;

    memcpy(r.device_id, kf->device_id, sizeof r.device_id);
    memcpy(r.device_key, kf->device_key, sizeof r.device_key);
    memcpy(r.claim_code, kf->claim_code, sizeof r.claim_code);
    rc = owb_record_to_line(&r, line, cap, len);
    sodium_memzero(&r, sizeof r);
    return rc;
}

void owb_key_print_fingerprint(const struct owb_keyfile *kf, char out[static 20])
{
    static const uint8_t tag[] = "owb-key-fingerprint-v1";
    uint8_t h[8];
    char hex[17];

    crypto_generichash(h, sizeof h, kf->device_key, sizeof kf->device_key, tag, sizeof tag);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, 20, "%.4s-%.4s-%.4s-%.4s", hex, hex + 4, hex + 8, hex + 12);
}

int mint_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "owb-mint %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'owb-mint %s --help'.\n", cmd);
    return 2;
}

int mint_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "owb-mint %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

bool mint_parse_qr_format(const char *s, enum owb_qr_format *f)
{
    static const struct {
        const char *name;
        enum owb_qr_format f;
    } names[] = {{"png", OWB_QR_PNG}, {"svg", OWB_QR_SVG}, {"ansi", OWB_QR_ANSI},
                 {"utf8", OWB_QR_UTF8}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *f = names[i].f;
            return true;
        }
    }
    return false;
}

bool mint_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return false;
    *out = v;
    return true;
}
