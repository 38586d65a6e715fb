#include "label.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owb/fileio.h"
#include "owb/id.h"
#include "owb/mem.h"

#include <sodium.h>

/* The claim alphabet (Crockford base32, no I L O U), as owb_claim_generate draws it. */
static const char claim_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Courier's advance; the bitmap font keeps within it. */
#define CODE_ADVANCE 0.6
/* A line's height and where its baseline sits, in ems. */
#define LINE 1.2
#define ASCENT 0.9

void owb_label_layout(double x, double y, double w, double h, unsigned qr_width, size_t id_len,
                      struct owb_label_layout *l)
{
    /* The quiet zone is part of the code's square, so the text may start
     * right after it. */
    double q = fmin(h, w / 2), pad = q * 0.06, tw = w - q - pad, th = h - 2 * pad;
    /* The text block: caption, id, a gap, caption, two claim lines:
     * 4.79 claim sizes at most (captions 0.45, the id at most 0.8). */
    double fc = fmin(tw / (CODE_ADVANCE * 9), th / 4.79), t;

    memset(l, 0, sizeof *l);
    l->module = q / (qr_width + 8);
    l->qr_x = x + 4 * l->module;
    l->qr_y = y + (h - q) / 2 + 4 * l->module;
    l->text_x = x + q;
    l->claim_size = fc;
    l->caption_size = 0.45 * fc;
    l->id_size = fmin(0.8 * fc, tw / (CODE_ADVANCE * (double)(id_len ? id_len : 1)));
    t = y + (h - (LINE * (2 * l->caption_size + l->id_size + 2 * fc) + 0.35 * fc)) / 2;
    l->baseline[0] = t + ASCENT * l->caption_size;
    t += LINE * l->caption_size;
    l->baseline[1] = t + ASCENT * l->id_size;
    t += LINE * l->id_size + 0.35 * fc;
    l->baseline[2] = t + ASCENT * l->caption_size;
    t += LINE * l->caption_size;
    l->baseline[3] = t + ASCENT * fc;
    l->baseline[4] = t + (ASCENT + LINE) * fc;
}

void owb_claim_grouped(const char *claim, char out[static OWB_CLAIM_GROUPED_SIZE])
{
    size_t n = 0;
    for (size_t i = 0; i < OWB_CLAIM_LEN && claim[i]; i++) {
        if (i && i % 4 == 0)
            out[n++] = '-';
        out[n++] = claim[i];
    }
    out[n] = '\0';
}

bool owb_label_claim_valid(const char *claim)
{
    return strlen(claim) == OWB_CLAIM_LEN && strspn(claim, claim_alphabet) == OWB_CLAIM_LEN;
}

enum owb_err owb_label_draw(const struct owb_canvas *c, const struct owb_label_layout *l,
                            const struct owb_qr_matrix *m, const char *id, const char *claim)
{
    char grouped[OWB_CLAIM_GROUPED_SIZE];
    /* Two groups a line: twice the size of one line of four. */
    const size_t half = OWB_CLAIM_GROUPED_SIZE / 2;
    enum owb_err rc = OWB_ERR_INVALID_ARG;

    if (!owb_device_id_valid_str(id) || !owb_label_claim_valid(claim))
        return rc;
    owb_claim_grouped(claim, grouped);
    rc = OWB_ERR_NOMEM;
    if (!c->qr(c->ctx, m, l->qr_x, l->qr_y, l->module) ||
        !c->text(c->ctx, l->text_x, l->baseline[0], l->caption_size, OWB_LABEL_CAPTION,
                 "DEVICE ID") ||
        !c->text(c->ctx, l->text_x, l->baseline[1], l->id_size, OWB_LABEL_CODE, id) ||
        !c->text(c->ctx, l->text_x, l->baseline[2], l->caption_size, OWB_LABEL_CAPTION,
                 "CLAIM CODE"))
        goto out;
    grouped[half - 1] = '\0';
    if (!c->text(c->ctx, l->text_x, l->baseline[3], l->claim_size, OWB_LABEL_CODE, grouped) ||
        !c->text(c->ctx, l->text_x, l->baseline[4], l->claim_size, OWB_LABEL_CODE, grouped + half))
        goto out;
    rc = OWB_OK;
out:
    sodium_memzero(grouped, sizeof grouped);
    return rc;
}

static bool svg_run(void *ctx, unsigned x, unsigned y, unsigned n)
{
    return owb_qr_buf_printf(ctx, "M%u %uh%uv1h-%uz", x, y, n, n);
}

/* One path a code: each run of dark modules in a row is "M x y h n v1 h -n z",
 * in module units scaled into place. */
static bool svg_qr(void *ctx, const struct owb_qr_matrix *m, double x, double y, double module)
{
    return owb_qr_buf_printf(ctx,
                             "<path fill=\"#000\" shape-rendering=\"crispEdges\" "
                             "transform=\"translate(%.3f %.3f) scale(%.4f)\" d=\"",
                             x, y, module) &&
           owb_qr_runs(m, svg_run, ctx) && owb_qr_buf_printf(ctx, "\"/>\n");
}

static bool svg_text(void *ctx, double x, double y, double size, enum owb_label_font f,
                     const char *s)
{
    return owb_qr_buf_printf(ctx, "<text x=\"%.3f\" y=\"%.3f\" font-size=\"%.3f\" %s>%s</text>\n",
                             x, y, size,
                             f == OWB_LABEL_CODE ? "font-family=\"Courier New,Courier,monospace\" "
                                                   "font-weight=\"bold\""
                                                 : "font-family=\"Helvetica,Arial,sans-serif\"",
                             s);
}

struct owb_canvas owb_label_svg_canvas(struct owb_qr_buf *b)
{
    return (struct owb_canvas){b, svg_qr, svg_text};
}

bool owb_label_svg_open(struct owb_qr_buf *b, const char *width, const char *height, double vw,
                        double vh)
{
    return owb_qr_buf_printf(b,
                             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%s\" "
                             "height=\"%s\" viewBox=\"0 0 %.3f %.3f\">\n"
                             "<rect width=\"%.3f\" height=\"%.3f\" fill=\"#fff\"/>\n",
                             width, height, vw, vh, vw, vh);
}

bool owb_label_svg_outline(struct owb_qr_buf *b, double x, double y, double w, double h)
{
    return owb_qr_buf_printf(b,
                             "<rect x=\"%.3f\" y=\"%.3f\" width=\"%.3f\" height=\"%.3f\" "
                             "fill=\"none\" stroke=\"#999\" stroke-width=\"0.25\"/>\n",
                             x, y, w, h);
}

bool owb_label_svg_close(struct owb_qr_buf *b)
{
    return owb_qr_buf_printf(b, "</svg>\n");
}

/* One label in a w x h raster of pixels, then the PNG of it. */
static enum owb_err render_png(const char *id, const char *claim, const struct owb_qr_matrix *m,
                               const struct owb_label_layout *l, unsigned w, unsigned h,
                               struct owb_qr_buf *out)
{
    struct owb_raster r = {calloc((size_t)w * h, 1), w, h};
    struct owb_canvas c = owb_label_raster_canvas(&r);
    enum owb_err rc = OWB_ERR_NOMEM;

    if (!r.px)
        goto out;
    if ((rc = owb_label_draw(&c, l, m, id, claim)) != OWB_OK)
        goto out;
    rc = owb_qr_png_raster(r.px, w, h, out);
out:
    if (r.px)
        owb_clear_free(r.px, (size_t)w * h);
    return rc;
}

static enum owb_err render_svg(const char *id, const char *claim, const struct owb_qr_matrix *m,
                               const struct owb_label_layout *l, unsigned w, unsigned h,
                               struct owb_qr_buf *out)
{
    struct owb_canvas c = owb_label_svg_canvas(out);
    char ws[16], hs[16];
    enum owb_err rc;

    snprintf(ws, sizeof ws, "%u", w);
    snprintf(hs, sizeof hs, "%u", h);
    if (!owb_label_svg_open(out, ws, hs, w, h))
        return OWB_ERR_NOMEM;
    if ((rc = owb_label_draw(&c, l, m, id, claim)) != OWB_OK)
        return rc;
    return owb_label_svg_close(out) ? OWB_OK : OWB_ERR_NOMEM;
}

enum owb_err owb_label_render(const char *id, const char *claim, const char *url,
                              const struct owb_qr_opts *o, struct owb_qr_buf *out)
{
    struct owb_qr_matrix m;
    struct owb_label_layout l;
    unsigned px = o->module_px ? o->module_px : 8, h, w;
    enum owb_err rc;

    memset(out, 0, sizeof *out);
    if ((rc = owb_qr_encode(url, o->ec, &m)) != OWB_OK)
        return rc;
    h = (m.width + 8) * px;
    w = 2 * h;
    owb_label_layout(0, 0, w, h, m.width, strlen(id), &l);
    rc = o->format == OWB_QR_PNG ? render_png(id, claim, &m, &l, w, h, out)
                                 : render_svg(id, claim, &m, &l, w, h, out);
    owb_qr_matrix_free(&m);
    if (rc != OWB_OK) {
        owb_clear_free(out->data, out->cap);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

enum owb_err owb_label_write(const char *id, const char *claim, const char *url,
                             const struct owb_qr_opts *o, const char *path, unsigned flags)
{
    struct owb_qr_buf b;
    enum owb_err rc = owb_label_render(id, claim, url, o, &b);

    if (rc != OWB_OK)
        return rc;
    /* The claim code is on it: as private as the key file. */
    rc = owb_file_write_atomic(path, b.data, b.len, 0600, flags);
    owb_clear_free(b.data, b.cap);
    return rc;
}
