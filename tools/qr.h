/* QR codes for setup URLs and Wi-Fi join codes (libqrencode), drawn as
 * PNG (libpng, with the quiet zone), SVG (one compact path), or on a
 * terminal (ANSI colours or UTF-8 half blocks). */
#ifndef OWB_TOOLS_QR_H
#define OWB_TOOLS_QR_H

#include <stddef.h>
#include <stdio.h>

#include "owb/err.h"

enum owb_qr_format { OWB_QR_PNG, OWB_QR_SVG, OWB_QR_ANSI, OWB_QR_UTF8 };

struct owb_qr_opts {
    enum owb_qr_format format;
    char ec;            /* L, M, Q or H */
    unsigned module_px; /* pixels per module (PNG and SVG size) */
    unsigned margin;    /* quiet zone in modules */
};

struct owb_qr_buf {
    unsigned char *data;
    size_t len, cap;
};

/* Renders text into out (PNG or SVG bytes, or terminal text). The caller
 * frees out->data. OWB_ERR_INVALID_ARG when text does not fit a QR code. */
enum owb_err owb_qr_render(const char *text, const struct owb_qr_opts *o,
                           struct owb_qr_buf *out) OWB_MUST_CHECK;

/* Renders and writes to path atomically (mode 0644), or to stdout for "-".
 * flags as for owb_file_write_atomic. */
enum owb_err owb_qr_write(const char *text, const struct owb_qr_opts *o, const char *path,
                          unsigned flags) OWB_MUST_CHECK;

/* Escapes a value for a WIFI: code: \ ; , : and " get a backslash. */
void owb_wifi_qr_escape(const char *in, char *out, size_t cap);

/* "WIFI:T:WPA;S:<ssid>;P:<pass>;;" with both escaped. */
void owb_wifi_qr_text(const char *ssid, const char *pass, char *out, size_t cap);

#endif
