/* A device's label: the QR code of its setup URL, with the device id and
 * the claim code beside it in characters a person can read and type when
 * no camera can read the code. One layout, drawn through a canvas: SVG
 * and PDF get real text (Courier Bold for the codes, Helvetica for the
 * captions), PNG a 1-bit raster with owb's own 5x7 bitmap font
 * (label_png.c).
 *
 * The claim code is printed in 4-character groups ("ABCD-EFGH" over
 * "JKMN-PQRS"); the server's claim check (owb_claim_normalize) ignores the
 * dashes and spaces a person types, reads lowercase as uppercase and I, L,
 * O as 1, 1, 0. The id is printed exactly as it is: ids are case-sensitive.
 *
 * A label holds a claim code: whoever has the file can claim the device,
 * so label files are written mode 0600 like the key files. */
#ifndef OWB_TOOLS_LABEL_H
#define OWB_TOOLS_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "owb/claim.h"
#include "owb/err.h"
#include "qr.h"

/* "ABCD-EFGH-JKMN-PQRS" and its NUL. */
#define OWB_CLAIM_GROUPED_SIZE (OWB_CLAIM_LEN + OWB_CLAIM_LEN / 4)

enum owb_label_font {
    OWB_LABEL_CAPTION, /* "DEVICE ID", "CLAIM CODE": Helvetica */
    OWB_LABEL_CODE,    /* the id and the claim code: Courier Bold, 0.6 em a character */
};

/* Where a label is drawn. Coordinates grow right and down, in the
 * canvas's unit (pixels, points). Each function returns false when out of
 * memory. */
struct owb_canvas {
    void *ctx;
    /* Every dark module of m, module by module in size, the top-left
     * module's corner at (x, y). */
    bool (*qr)(void *ctx, const struct owb_qr_matrix *m, double x, double y, double module);
    /* s at baseline y from x, size the font's em. */
    bool (*text)(void *ctx, double x, double y, double size, enum owb_label_font f, const char *s);
};

/* Where the parts of one label go. */
struct owb_label_layout {
    double module, qr_x, qr_y; /* the QR code, its 4-module quiet zone around it */
    double text_x, caption_size, id_size, claim_size;
    double baseline[5]; /* "DEVICE ID", the id, "CLAIM CODE", both halves of the claim */
};

/* The layout of a label in the box (x, y, w, h) for a code qr_width
 * modules wide and an id of id_len characters: the code on the left, at
 * most half the width, the text in the rest, as large as fits. */
void owb_label_layout(double x, double y, double w, double h, unsigned qr_width, size_t id_len,
                      struct owb_label_layout *l);

/* true for a claim code as minted: 16 characters of the claim alphabet
 * (Crockford base32 without I L O U), nothing else. */
bool owb_label_claim_valid(const char *claim);

/* claim (16 characters) in 4-character groups joined by dashes. */
void owb_claim_grouped(const char *claim, char out[static OWB_CLAIM_GROUPED_SIZE]);

/* Draws one label. OWB_ERR_INVALID_ARG for an invalid id or a claim that
 * is not 16 characters of the claim alphabet (so nothing drawn needs
 * escaping in SVG or PDF), OWB_ERR_NOMEM. */
enum owb_err owb_label_draw(const struct owb_canvas *c, const struct owb_label_layout *l,
                            const struct owb_qr_matrix *m, const char *id,
                            const char *claim) OWB_MUST_CHECK;

/* An SVG canvas appending to b (units: the viewBox's). */
struct owb_canvas owb_label_svg_canvas(struct owb_qr_buf *b);

/* The SVG document's start: its size (e.g. "210mm") and viewBox, white. */
bool owb_label_svg_open(struct owb_qr_buf *b, const char *width, const char *height, double vw,
                        double vh);

/* A thin grey outline to cut along. */
bool owb_label_svg_outline(struct owb_qr_buf *b, double x, double y, double w, double h);

bool owb_label_svg_close(struct owb_qr_buf *b);

/* One device's label file, twice as wide as high: o->format OWB_QR_PNG or
 * OWB_QR_SVG, o->module_px pixels a module, o->ec, a 4-module quiet zone.
 * The caller frees out->data. */
enum owb_err owb_label_render(const char *id, const char *claim, const char *url,
                              const struct owb_qr_opts *o, struct owb_qr_buf *out) OWB_MUST_CHECK;

/* Renders and writes to path atomically, mode 0600 (flags as for
 * owb_file_write_atomic). */
enum owb_err owb_label_write(const char *id, const char *claim, const char *url,
                             const struct owb_qr_opts *o, const char *path,
                             unsigned flags) OWB_MUST_CHECK;

/* A raster canvas (label_png.c): px is w x h bytes, non-zero black. The
 * text is owb's 5x7 font at the largest whole scale that keeps to the
 * vector fonts' size. */
struct owb_raster {
    unsigned char *px;
    unsigned w, h;
};
struct owb_canvas owb_label_raster_canvas(struct owb_raster *r);

/* true when the bitmap font draws every character of s. */
bool owb_label_font_covers(const char *s);

#endif
