#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "owb/cli.h"
#include "owb/fileio.h"
#include "owb/kdf.h"
#include "owb/mem.h"

/* owb-mint batch's largest batch (10 000 000 devices) at about 110 bytes a
 * line, with room. */
#define MANIFEST_MAX ((size_t)2 << 30)

enum owb_err owb_setup_url_split(const char *url, char id[static OWB_DEVICE_ID_SIZE],
                                 char claim[static OWB_CLAIM_SIZE])
{
    const char *hash = strchr(url, '#'), *s = NULL;
    char base[OWB_URL_MAX + 1];
    size_t id_len;

    id[0] = claim[0] = '\0';
    if (!hash || strncmp(hash, "#c=", 3) != 0 || !owb_label_claim_valid(hash + 3))
        return OWB_ERR_BAD_FILE;
    /* The last "/s/" before the fragment: the server's own path may hold one. */
    for (const char *p = url; (p = strstr(p, "/s/")) && p < hash; p++)
        s = p;
    if (!s || (size_t)(s - url) > OWB_URL_MAX)
        return OWB_ERR_BAD_FILE;
    id_len = (size_t)(hash - s - 3);
    memcpy(base, url, (size_t)(s - url));
    base[s - url] = '\0';
    if (!owb_base_url_valid(base) || !owb_device_id_valid(s + 3, id_len))
        return OWB_ERR_BAD_FILE;
    memcpy(id, s + 3, id_len);
    id[id_len] = '\0';
    memcpy(claim, hash + 3, OWB_CLAIM_SIZE);
    return OWB_OK;
}

/* Checks one line (NUL-terminated, in place) into e. */
static enum owb_err parse_line(char *line, size_t no, const char *path,
                               struct owb_manifest_entry *e, char *diag)
{
    char *c1 = strchr(line, ','), *c3 = strrchr(line, ','), *c2;
    char url_id[OWB_DEVICE_ID_SIZE], ssid[OWB_AP_SSID_SIZE], want_qr[OWB_DEVICE_ID_SIZE + 8];

    for (c2 = c3 ? c3 - 1 : NULL; c2 && c2 > c1 && *c2 != ','; c2--)
        ;
    if (!c1 || !c2 || c2 <= c1) {
        owb_diagf(diag, "%s line %zu: not 4 fields (id,setup_url,ap_ssid,qr_file)", path, no);
        return OWB_ERR_BAD_FILE;
    }
    *c1 = *c2 = *c3 = '\0';
    e->id = line;
    e->url = c1 + 1;
    if (!owb_device_id_valid_str(e->id)) {
        owb_diagf(diag, "%s line %zu: \"%.40s\" is not a device id", path, no, e->id);
        return OWB_ERR_BAD_FILE;
    }
    if (owb_setup_url_split(e->url, url_id, e->claim) != OWB_OK || strcmp(url_id, e->id) != 0) {
        owb_diagf(diag,
                  "%s line %zu: the setup URL is not <server>/s/%s#c=<16-character claim code>",
                  path, no, e->id);
        return OWB_ERR_BAD_FILE;
    }
    snprintf(want_qr, sizeof want_qr, "%s.", e->id);
    if (owb_ap_ssid(ssid, e->id) != OWB_OK || strcmp(ssid, c2 + 1) != 0 ||
        (c3[1] && (strncmp(c3 + 1, want_qr, strlen(want_qr)) != 0 ||
                   (strcmp(c3 + 1 + strlen(want_qr), "svg") != 0 &&
                    strcmp(c3 + 1 + strlen(want_qr), "png") != 0)))) {
        owb_diagf(diag, "%s line %zu: the AP SSID or QR file is not the one of %s", path, no,
                  e->id);
        return OWB_ERR_BAD_FILE;
    }
    return OWB_OK;
}

static int by_id(const void *a, const void *b)
{
    const struct owb_manifest_entry *x = *(const struct owb_manifest_entry *const *)a;
    const struct owb_manifest_entry *y = *(const struct owb_manifest_entry *const *)b;
    return strcmp(x->id, y->id);
}

/* No id twice: a label printed twice means two devices with one claim. */
static enum owb_err check_unique(const struct owb_manifest *m, const char *path, char *diag)
{
    const struct owb_manifest_entry **s = malloc(m->n * sizeof *s);
    enum owb_err rc = OWB_OK;

    if (!s)
        return OWB_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++)
        s[i] = &m->e[i];
    qsort(s, m->n, sizeof *s, by_id);
    for (size_t i = 1; i < m->n && rc == OWB_OK; i++)
        if (strcmp(s[i - 1]->id, s[i]->id) == 0) {
            owb_diagf(diag, "%s: device %s appears twice", path, s[i]->id);
            rc = OWB_ERR_BAD_FILE;
        }
    free(s);
    return rc;
}

/* The lines after the header, each cut at its newline (and a CR before it). */
static enum owb_err parse_lines(struct owb_manifest *m, char *p, const char *path, char *diag)
{
    char *end = m->text + m->text_len;
    for (size_t no = 2; p < end; no++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            owb_diagf(diag, "%s line %zu: ends without a newline: the file was cut short", path,
                      no);
            return OWB_ERR_BAD_FILE;
        }
        *nl = '\0';
        if (nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 256;
            struct owb_manifest_entry *ne = realloc(m->e, cap * sizeof *ne);
            if (!ne)
                return OWB_ERR_NOMEM;
            m->e = ne;
            m->cap = cap;
        }
        enum owb_err rc = parse_line(p, no, path, &m->e[m->n], diag);
        if (rc != OWB_OK)
            return rc;
        m->n++;
        p = nl + 1;
    }
    if (m->n == 0) {
        owb_diagf(diag, "%s: holds no devices", path);
        return OWB_ERR_BAD_FILE;
    }
    return check_unique(m, path, diag);
}

enum owb_err owb_manifest_read(const char *path, struct owb_manifest *m, char *diag)
{
    static const char header[] = OWB_MANIFEST_HEADER;
    size_t hl = sizeof header - 1;
    enum owb_err rc;

    memset(m, 0, sizeof *m);
    rc = owb_file_read(path, MANIFEST_MAX, &m->text, &m->text_len);
    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: %s", path, owb_strerror(rc));
        goto out;
    }
    rc = OWB_ERR_BAD_FILE;
    if (strlen(m->text) != m->text_len)
        owb_diagf(diag, "%s: holds a NUL byte: not a manifest", path);
    else if (strncmp(m->text, header, hl) != 0 ||
             !(m->text[hl] == '\n' || (m->text[hl] == '\r' && m->text[hl + 1] == '\n')))
        owb_diagf(diag, "%s: does not start with the header line %s", path, header);
    else
        rc = parse_lines(m, m->text + hl + (m->text[hl] == '\r') + 1, path, diag);
out:
    if (rc != OWB_OK)
        owb_manifest_free(m);
    return rc;
}

void owb_manifest_free(struct owb_manifest *m)
{
    if (m->e)
        owb_clear_free(m->e, m->cap * sizeof *m->e);
    owb_clear_free(m->text, m->text_len);
    memset(m, 0, sizeof *m);
}
