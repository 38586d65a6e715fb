/* QR codes for setup URLs and Wi-Fi join codes (libqrencode), drawn as
 * PNG (libpng, with the quiet zone), SVG (one compact path), or on a
 * terminal (ANSI colours or UTF-8 half blocks). */
#ifndef OWB_TOOLS_QR_H
#define OWB_TOOLS_QR_H

#include <stdbool.h>
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

/* A growing byte buffer (PNG, SVG and PDF output); the owner frees data. */
struct owb_qr_buf {
    unsigned char *data;
    size_t len, cap;
};

/* The modules of a code, row by row, without the quiet zone: dark[y * width
 * + x] is 1 for a dark module. Freed with owb_qr_matrix_free. */
struct owb_qr_matrix {
    unsigned width;
    unsigned char *dark;
};

/* Appends to b; false when out of memory. */
bool owb_qr_buf_put(struct owb_qr_buf *b, const void *p, size_t n);

/* Appends a formatted piece of at most 511 bytes; false when out of memory
 * or longer. */
bool owb_qr_buf_printf(struct owb_qr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Encodes text (8-bit mode) at error-correction level ec (L, M, Q or H).
 * OWB_ERR_INVALID_ARG when text does not fit a QR code. */
enum owb_err owb_qr_encode(const char *text, char ec, struct owb_qr_matrix *m) OWB_MUST_CHECK;

void owb_qr_matrix_free(struct owb_qr_matrix *m);

/* Calls run(ctx, x, y, n) for each horizontal run of n dark modules of m
 * starting at module (x, y), row by row; stops at the first false. */
bool owb_qr_runs(const struct owb_qr_matrix *m,
                 bool (*run)(void *ctx, unsigned x, unsigned y, unsigned n), void *ctx);

/* A 1-bit grey PNG of a w x h raster (px[y * w + x] non-zero: black)
 * appended to out. */
enum owb_err owb_qr_png_raster(const unsigned char *px, unsigned w, unsigned h,
                               struct owb_qr_buf *out) OWB_MUST_CHECK;

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
