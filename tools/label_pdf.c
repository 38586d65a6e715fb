#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "owb/fileio.h"
#include "owb/mem.h"
#include "pdf.h"

#include <sodium.h>

/* Objects: 1 catalog, 2 page tree, 3 and 4 the fonts, then for page i
 * (from 0) 5 + 2i the page and 6 + 2i its content stream. */
#define FIRST_PAGE_OBJ 5

struct owb_pdf {
    FILE *f;
    char path[4096], tmp[4200];
    double w, h;
    size_t pages, page, n_obj;
    long *off; /* each object's byte offset, for the xref table */
    struct owb_qr_buf content;
};

/* Starts object n at the current offset. */
static bool obj_start(struct owb_pdf *p, size_t n)
{
    long at = ftell(p->f);
    if (at < 0)
        return false;
    p->off[n] = at;
    return fprintf(p->f, "%zu 0 obj\n", n) > 0;
}

static bool write_head(struct owb_pdf *p)
{
    bool ok = fputs("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", p->f) >= 0 && obj_start(p, 1) &&
              fputs("<< /Type /Catalog /Pages 2 0 R >>\nendobj\n", p->f) >= 0 && obj_start(p, 2) &&
              fputs("<< /Type /Pages /Kids [", p->f) >= 0;
    for (size_t i = 0; ok && i < p->pages; i++)
        ok = fprintf(p->f, "%s%zu 0 R", i ? " " : "", FIRST_PAGE_OBJ + 2 * i) > 0;
    return ok && fprintf(p->f, "] /Count %zu >>\nendobj\n", p->pages) > 0 && obj_start(p, 3) &&
           fputs("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                 "/Encoding /WinAnsiEncoding >>\nendobj\n",
                 p->f) >= 0 &&
           obj_start(p, 4) &&
           fputs("<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold "
                 "/Encoding /WinAnsiEncoding >>\nendobj\n",
                 p->f) >= 0;
}

enum owb_err owb_pdf_begin(struct owb_pdf **pdf, const char *path, double w, double h, size_t pages)
{
    struct owb_pdf *p = calloc(1, sizeof *p);
    enum owb_err rc = OWB_ERR_NOMEM;
    int fd;

    *pdf = NULL;
    if (!p)
        return rc;
    p->w = w;
    p->h = h;
    p->pages = pages;
    p->n_obj = FIRST_PAGE_OBJ + 2 * pages;
    p->off = calloc(p->n_obj, sizeof *p->off);
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp-XXXXXX", path);
    if (!p->off)
        goto out;
    rc = OWB_ERR_IO;
    /* mkstemp: O_EXCL and mode 0600, the claim codes are on the pages. */
    if ((fd = mkstemp(p->tmp)) < 0) {
        p->tmp[0] = '\0';
        goto out;
    }
    if (!(p->f = fdopen(fd, "w"))) {
        close(fd);
        goto out;
    }
    if (!write_head(p))
        goto out;
    *pdf = p;
    return OWB_OK;
out:
    owb_pdf_abort(p);
    return rc;
}

static bool pdf_run(void *ctx, unsigned x, unsigned y, unsigned n)
{
    return owb_qr_buf_printf(ctx, "%u %u %u 1 re\n", x, y, n);
}

/* Module (c, r) of the code is the unit square at (c, r) after a matrix
 * that scales by module and flips y, so each run is one short "re". */
static bool pdf_qr(void *ctx, const struct owb_qr_matrix *m, double x, double y, double module)
{
    struct owb_pdf *p = ctx;
    return owb_qr_buf_printf(&p->content, "q %.4f 0 0 %.4f %.3f %.3f cm\n", module, -module, x,
                             p->h - y) &&
           owb_qr_runs(m, pdf_run, &p->content) && owb_qr_buf_printf(&p->content, "f Q\n");
}

/* s holds no ( ) or \ (owb_label_draw checks what it draws). */
static bool pdf_text(void *ctx, double x, double y, double size, enum owb_label_font f,
                     const char *s)
{
    struct owb_pdf *p = ctx;
    return owb_qr_buf_printf(&p->content, "BT /F%d %.3f Tf %.3f %.3f Td (%s) Tj ET\n",
                             f == OWB_LABEL_CODE ? 2 : 1, size, x, p->h - y, s);
}

struct owb_canvas owb_pdf_canvas(struct owb_pdf *pdf)
{
    return (struct owb_canvas){pdf, pdf_qr, pdf_text};
}

bool owb_pdf_outline(struct owb_pdf *pdf, double x, double y, double w, double h)
{
    return owb_qr_buf_printf(&pdf->content, "q 0.6 G 0.25 w %.3f %.3f %.3f %.3f re S Q\n", x,
                             pdf->h - y - h, w, h);
}

enum owb_err owb_pdf_page_end(struct owb_pdf *p)
{
    size_t page_obj = FIRST_PAGE_OBJ + 2 * p->page;
    bool ok;

    if (p->page >= p->pages)
        return OWB_ERR_INVALID_ARG;
    ok = obj_start(p, page_obj) &&
         fprintf(p->f,
                 "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] "
                 "/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %zu 0 R >>\n"
                 "endobj\n",
                 p->w, p->h, page_obj + 1) > 0 &&
         obj_start(p, page_obj + 1) &&
         fprintf(p->f, "<< /Length %zu >>\nstream\n", p->content.len) > 0 &&
         fwrite(p->content.data ? (void *)p->content.data : "", 1, p->content.len, p->f) ==
             p->content.len &&
         fputs("\nendstream\nendobj\n", p->f) >= 0;
    /* The page held claim codes. */
    if (p->content.data)
        sodium_memzero(p->content.data, p->content.len);
    p->content.len = 0;
    p->page++;
    return ok ? OWB_OK : OWB_ERR_IO;
}

static bool write_tail(struct owb_pdf *p)
{
    long xref = ftell(p->f);
    bool ok = xref >= 0 && p->page == p->pages &&
              fprintf(p->f, "xref\n0 %zu\n0000000000 65535 f \n", p->n_obj) > 0;

    /* Each entry is exactly 20 bytes, its end of line included. */
    for (size_t i = 1; ok && i < p->n_obj; i++)
        ok = fprintf(p->f, "%010ld 00000 n \n", p->off[i]) > 0;
    return ok && fprintf(p->f, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n",
                         p->n_obj, xref) > 0;
}

enum owb_err owb_pdf_finish(struct owb_pdf *p)
{
    enum owb_err rc = OWB_ERR_IO;
    bool ok = write_tail(p) && fflush(p->f) == 0 && fsync(fileno(p->f)) == 0;
    FILE *f = p->f;

    p->f = NULL; /* closed here, whatever happened */
    if (fclose(f) != 0 || !ok || rename(p->tmp, p->path) != 0)
        goto out;
    p->tmp[0] = '\0';
    rc = owb_fsync_parent(p->path);
out:
    owb_pdf_abort(p);
    return rc;
}

void owb_pdf_abort(struct owb_pdf *p)
{
    int err = errno;

    if (!p)
        return;
    if (p->f)
        fclose(p->f);
    if (p->tmp[0])
        unlink(p->tmp);
    owb_clear_free(p->content.data, p->content.cap);
    free(p->off);
    free(p);
    errno = err;
}
