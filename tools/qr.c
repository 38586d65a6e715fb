#include "qr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <qrencode.h>

#include "owb/fileio.h"

bool owb_qr_buf_put(struct owb_qr_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *nd = realloc(b->data, cap);
        if (!nd)
            return false;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool owb_qr_buf_printf(struct owb_qr_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < sizeof tmp && owb_qr_buf_put(b, tmp, (size_t)n);
}

/* Dark module at (x, y) of the padded grid, quiet zone included. */
static bool dark(const QRcode *q, unsigned margin, int x, int y)
{
    int w = q->width;
    x -= (int)margin;
    y -= (int)margin;
    return x >= 0 && y >= 0 && x < w && y < w && (q->data[y * w + x] & 1);
}

static void png_to_buf(png_structp png, png_bytep data, png_size_t len)
{
    if (!owb_qr_buf_put(png_get_io_ptr(png), data, len))
        png_error(png, "out of memory");
}

static void png_flush_noop(png_structp png)
{
    (void)png;
}

enum owb_err owb_qr_png_raster(const unsigned char *px, unsigned w, unsigned h,
                               struct owb_qr_buf *out)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = calloc(1, (w + 7) / 8);
    enum owb_err rc = OWB_ERR_NOMEM;

    if (!png || !info || !row)
        goto out;
    if (setjmp(png_jmpbuf(png)))
        goto out;
    png_set_write_fn(png, out, png_to_buf, png_flush_noop);
    /* One bit per pixel, 1 = white: a label printer's black and white. */
    png_set_IHDR(png, info, w, h, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (unsigned y = 0; y < h; y++) {
        memset(row, 0, (w + 7) / 8);
        for (unsigned x = 0; x < w; x++)
            if (!px[(size_t)y * w + x])
                row[x / 8] |= (unsigned char)(0x80 >> (x % 8));
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    rc = OWB_OK;
out:
    png_destroy_write_struct(&png, &info);
    free(row);
    return rc;
}

static enum owb_err render_png(const QRcode *q, const struct owb_qr_opts *o, struct owb_qr_buf *out)
{
    unsigned px = o->module_px ? o->module_px : 8;
    unsigned side = ((unsigned)q->width + 2 * o->margin) * px;
    unsigned char *raster = malloc((size_t)side * side);
    enum owb_err rc;

    if (!raster)
        return OWB_ERR_NOMEM;
    for (unsigned y = 0; y < side; y++)
        for (unsigned x = 0; x < side; x++)
            raster[(size_t)y * side + x] = dark(q, o->margin, (int)(x / px), (int)(y / px));
    rc = owb_qr_png_raster(raster, side, side, out);
    free(raster);
    return rc;
}

/* One path: each run of dark modules in a row is one "M x y h n v1 h -n z". */
static enum owb_err render_svg(const QRcode *q, const struct owb_qr_opts *o, struct owb_qr_buf *out)
{
    unsigned px = o->module_px ? o->module_px : 8;
    unsigned n = (unsigned)q->width + 2 * o->margin;
    bool ok = owb_qr_buf_printf(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
        "viewBox=\"0 0 %u %u\" shape-rendering=\"crispEdges\">"
        "<rect width=\"%u\" height=\"%u\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
        n * px, n * px, n, n, n, n);
    for (unsigned y = 0; ok && y < n; y++) {
        for (unsigned x = 0; ok && x < n;) {
            if (!dark(q, o->margin, (int)x, (int)y)) {
                x++;
                continue;
            }
            unsigned run = 0;
            while (x + run < n && dark(q, o->margin, (int)(x + run), (int)y))
                run++;
            ok = owb_qr_buf_printf(out, "M%u %uh%uv1h-%uz", x, y, run, run);
            x += run;
        }
    }
    ok = ok && owb_qr_buf_printf(out, "\"/></svg>\n");
    return ok ? OWB_OK : OWB_ERR_NOMEM;
}

static enum owb_err render_ansi(const QRcode *q, const struct owb_qr_opts *o,
                                struct owb_qr_buf *out)
{
    unsigned n = (unsigned)q->width + 2 * o->margin;
    bool ok = true;
    for (unsigned y = 0; ok && y < n; y++) {
        for (unsigned x = 0; ok && x < n; x++)
            ok = owb_qr_buf_printf(out, "%s  ",
                                   dark(q, o->margin, (int)x, (int)y) ? "\033[40m" : "\033[47m");
        ok = ok && owb_qr_buf_printf(out, "\033[0m\n");
    }
    return ok ? OWB_OK : OWB_ERR_NOMEM;
}

/* Two rows per line with half blocks; light modules are drawn, so the code
 * reads right on a dark terminal (as qrencode -t UTF8 does). */
static enum owb_err render_utf8(const QRcode *q, const struct owb_qr_opts *o,
                                struct owb_qr_buf *out)
{
    static const char *const cell[4] = {"\xe2\x96\x88", "\xe2\x96\x84", "\xe2\x96\x80", " "};
    unsigned n = (unsigned)q->width + 2 * o->margin;
    bool ok = true;
    for (unsigned y = 0; ok && y < n; y += 2) {
        for (unsigned x = 0; ok && x < n; x++) {
            int top = dark(q, o->margin, (int)x, (int)y);
            int bottom = y + 1 < n ? dark(q, o->margin, (int)x, (int)y + 1) : 1;
            ok = owb_qr_buf_printf(out, "%s", cell[top * 2 + bottom]);
        }
        ok = ok && owb_qr_buf_printf(out, "\n");
    }
    return ok ? OWB_OK : OWB_ERR_NOMEM;
}

static QRecLevel ec_level(char ec)
{
    return ec == 'L'   ? QR_ECLEVEL_L
           : ec == 'Q' ? QR_ECLEVEL_Q
           : ec == 'H' ? QR_ECLEVEL_H
                       : QR_ECLEVEL_M;
}

enum owb_err owb_qr_encode(const char *text, char ec, struct owb_qr_matrix *m)
{
    QRcode *q = QRcode_encodeString8bit(text, 0, ec_level(ec));
    enum owb_err rc = OWB_ERR_INVALID_ARG;

    memset(m, 0, sizeof *m);
    if (!q)
        goto out;
    rc = OWB_ERR_NOMEM;
    m->dark = malloc((size_t)q->width * (size_t)q->width);
    if (!m->dark)
        goto out;
    m->width = (unsigned)q->width;
    for (size_t i = 0; i < (size_t)q->width * (size_t)q->width; i++)
        m->dark[i] = q->data[i] & 1;
    rc = OWB_OK;
out:
    if (q)
        QRcode_free(q);
    return rc;
}

void owb_qr_matrix_free(struct owb_qr_matrix *m)
{
    free(m->dark);
    memset(m, 0, sizeof *m);
}

bool owb_qr_runs(const struct owb_qr_matrix *m,
                 bool (*run)(void *ctx, unsigned x, unsigned y, unsigned n), void *ctx)
{
    bool ok = true;
    for (unsigned r = 0; ok && r < m->width; r++) {
        for (unsigned k = 0; ok && k < m->width;) {
            unsigned n = 0;
            while (k + n < m->width && m->dark[r * m->width + k + n])
                n++;
            if (n)
                ok = run(ctx, k, r, n);
            k += n ? n : 1;
        }
    }
    return ok;
}

enum owb_err owb_qr_render(const char *text, const struct owb_qr_opts *o, struct owb_qr_buf *out)
{
    QRcode *q = QRcode_encodeString8bit(text, 0, ec_level(o->ec));
    enum owb_err rc;

    memset(out, 0, sizeof *out);
    if (!q)
        return OWB_ERR_INVALID_ARG;
    switch (o->format) {
    case OWB_QR_PNG:
        rc = render_png(q, o, out);
        break;
    case OWB_QR_SVG:
        rc = render_svg(q, o, out);
        break;
    case OWB_QR_ANSI:
        rc = render_ansi(q, o, out);
        break;
    default:
        rc = render_utf8(q, o, out);
        break;
    }
    QRcode_free(q);
    if (rc != OWB_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

enum owb_err owb_qr_write(const char *text, const struct owb_qr_opts *o, const char *path,
                          unsigned flags)
{
    struct owb_qr_buf b;
    enum owb_err rc = owb_qr_render(text, o, &b);

    if (rc != OWB_OK)
        return rc;
    if (strcmp(path, "-") == 0)
        rc = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0 ? OWB_OK : OWB_ERR_IO;
    else
        /* A device's QR code holds its claim code, a setup AP's its
         * passphrase: as private as the key file. */
        rc = owb_file_write_atomic(path, b.data, b.len, 0600, flags);
    free(b.data);
    return rc;
}

void owb_wifi_qr_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 2 < cap; in++) {
        if (strchr("\\;,:\"", *in))
            out[n++] = '\\';
        out[n++] = *in;
    }
    out[n] = '\0';
}

void owb_wifi_qr_text(const char *ssid, const char *pass, char *out, size_t cap)
{
    char s[2 * 32 + 1], p[2 * 64 + 1];
    owb_wifi_qr_escape(ssid, s, sizeof s);
    owb_wifi_qr_escape(pass, p, sizeof p);
    snprintf(out, cap, "WIFI:T:WPA;S:%s;P:%s;;", s, p);
}
