/* owb-mint labels: printable sheets of a batch's labels. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "label.h"
#include "manifest.h"
#include "owb/cli.h"
#include "owb/fileio.h"
#include "owb/mem.h"
#include "pdf.h"

#define PROG "owb-mint labels"
#define PT_PER_MM (72.0 / 25.4)
/* Below these a label stops being usable: a phone camera resolves modules
 * of 0.25 mm at a hand's distance, and 6 pt is the smallest type people
 * read and type from without a magnifier. */
#define MIN_MODULE_PT (0.25 * PT_PER_MM)
#define MIN_CLAIM_PT 6.0
#define MIN_ID_PT 5.0

static const char labels_about[] =
    "Lays out the labels of a batch (MANIFEST: its manifest.csv, or the batch's\n"
    "folder) on sheets to print: a grid of --columns x --rows labels inside a\n"
    "--margin, each with the QR code of the device's setup URL, its id and its\n"
    "claim code in readable characters (the claim code in groups of four), for\n"
    "when no camera can read the code. One PDF of all the pages, or one SVG a\n"
    "page (FILE-1.svg, FILE-2.svg, ...). The manifest is checked line by line\n"
    "and a damaged one is refused. The sheets hold claim codes: mode 0600.\n";

struct labels_opts {
    const char *out;
    unsigned format, paper, columns, rows; /* format: pdf|svg; paper: a4|letter */
    double margin;
    bool outline;
};

static const struct owb_opt labels_opts[] = {
    OWB_OPT_CHOICE_("format", "pdf|svg", struct labels_opts, format,
                    "one PDF of all the sheets, or one SVG a sheet (default pdf)"),
    OWB_OPT_CHOICE_("paper", "a4|letter", struct labels_opts, paper,
                    "the sheet's size (default a4)"),
    OWB_OPT_UINT_("columns", "N", struct labels_opts, columns, 1, 10,
                  "labels across a sheet (default 3)"),
    OWB_OPT_UINT_("rows", "N", struct labels_opts, rows, 1, 40, "labels down a sheet (default 8)"),
    OWB_OPT_DOUBLE_("margin", "MM", struct labels_opts, margin, 0, 50,
                    "the blank border of a sheet, in millimetres (default 8)"),
    OWB_OPT_STR_("out", "FILE", struct labels_opts, out,
                 "the PDF, or the SVG sheets' name (default labels.pdf or labels.svg beside the "
                 "manifest)"),
    OWB_OPT_FLAG_("outline", struct labels_opts, outline,
                  "draw each label's outline, to cut plain paper along"),
};

/* A sheet and its grid, in points from the top-left corner. */
struct sheet {
    double w, h, x0, y0, cell_w, cell_h;
    unsigned columns, per_page;
    size_t pages;
    const char *name, *svg_w, *svg_h;
    bool outline;
};

static const struct sheet papers[] = {
    {.w = 210 * PT_PER_MM, .h = 297 * PT_PER_MM, .name = "A4", .svg_w = "210mm", .svg_h = "297mm"},
    {.w = 612, .h = 792, .name = "Letter", .svg_w = "8.5in", .svg_h = "11in"},
};

/* Draws label i of the sheet (its place on its page) through c. */
static int draw_label(const struct owb_canvas *c, const struct sheet *s, size_t i,
                      const struct owb_manifest_entry *e)
{
    size_t k = i % s->per_page;
    double x = s->x0 + (double)(k % s->columns) * s->cell_w;
    double y = s->y0 + (double)(k / s->columns) * s->cell_h;
    struct owb_qr_matrix m;
    struct owb_label_layout l;
    int ret = OWB_EXIT_FAIL;

    if (owb_qr_encode(e->url, 'M', &m) != OWB_OK)
        return owb_cli_fail(PROG, "%s: the setup URL does not fit a QR code", e->id);
    owb_label_layout(x, y, s->cell_w, s->cell_h, m.width, strlen(e->id), &l);
    if (l.module < MIN_MODULE_PT || l.claim_size < MIN_CLAIM_PT || l.id_size < MIN_ID_PT)
        ret = owb_cli_fail(PROG,
                           "labels of %.1f x %.1f mm are too small for %s (QR modules %.2f mm, "
                           "claim code %.1f pt, id %.1f pt; at least 0.25 mm, %.0f pt, %.0f pt): "
                           "use fewer --columns or --rows",
                           s->cell_w / PT_PER_MM, s->cell_h / PT_PER_MM, e->id,
                           l.module / PT_PER_MM, l.claim_size, l.id_size, MIN_CLAIM_PT, MIN_ID_PT);
    else if (owb_label_draw(c, &l, &m, e->id, e->claim) != OWB_OK)
        ret = owb_cli_fail(PROG, "%s: cannot draw its label", e->id);
    else
        ret = OWB_EXIT_OK;
    owb_qr_matrix_free(&m);
    return ret;
}

static int write_pdf(const struct sheet *s, const struct owb_manifest *m, const char *out)
{
    struct owb_pdf *pdf = NULL;
    struct owb_canvas c;
    int ret = OWB_EXIT_OK;

    if (owb_pdf_begin(&pdf, out, s->w, s->h, s->pages) != OWB_OK)
        return owb_cli_fail(PROG, "%s: cannot write: %s", out, strerror(errno));
    c = owb_pdf_canvas(pdf);
    for (size_t i = 0; i < m->n && ret == OWB_EXIT_OK; i++) {
        size_t k = i % s->per_page;
        if (s->outline &&
            !owb_pdf_outline(pdf, s->x0 + (double)(k % s->columns) * s->cell_w,
                             s->y0 + (double)(k / s->columns) * s->cell_h, s->cell_w, s->cell_h))
            ret = owb_cli_fail(PROG, "out of memory");
        else
            ret = draw_label(&c, s, i, &m->e[i]);
        if (ret == OWB_EXIT_OK && (k + 1 == s->per_page || i + 1 == m->n) &&
            owb_pdf_page_end(pdf) != OWB_OK)
            ret = owb_cli_fail(PROG, "%s: cannot write: %s", out, strerror(errno));
    }
    if (ret != OWB_EXIT_OK)
        owb_pdf_abort(pdf);
    else if (owb_pdf_finish(pdf) != OWB_OK)
        ret = owb_cli_fail(PROG, "%s: cannot write: %s", out, strerror(errno));
    return ret;
}

/* out with "-<page>" before its ".svg" (added when missing), the page
 * number as wide as the last one's so that the files sort. */
static void svg_page_path(const char *out, size_t page, size_t pages, char *path, size_t cap)
{
    size_t len = strlen(out);
    int digits = snprintf(NULL, 0, "%zu", pages);

    if (len >= 4 && strcmp(out + len - 4, ".svg") == 0)
        len -= 4;
    snprintf(path, cap, "%.*s-%0*zu.svg", (int)len, out, digits, page);
}

/* One SVG sheet: labels from..to of m. */
static int write_svg_page(const struct sheet *s, const struct owb_manifest *m, size_t from,
                          size_t to, const char *path)
{
    struct owb_qr_buf b = {0};
    struct owb_canvas c = owb_label_svg_canvas(&b);
    int ret = owb_label_svg_open(&b, s->svg_w, s->svg_h, s->w, s->h) ? OWB_EXIT_OK : OWB_EXIT_FAIL;

    for (size_t i = from; i < to && ret == OWB_EXIT_OK; i++) {
        size_t k = i % s->per_page;
        if (s->outline && !owb_label_svg_outline(&b, s->x0 + (double)(k % s->columns) * s->cell_w,
                                                 s->y0 + (double)(k / s->columns) * s->cell_h,
                                                 s->cell_w, s->cell_h))
            ret = OWB_EXIT_FAIL;
        else if ((ret = draw_label(&c, s, i, &m->e[i])) != OWB_EXIT_OK)
            goto out;
    }
    if (ret != OWB_EXIT_OK || !owb_label_svg_close(&b))
        ret = owb_cli_fail(PROG, "out of memory");
    else if (owb_file_write_atomic(path, b.data, b.len, 0600, OWB_WRITE_REPLACE) != OWB_OK)
        ret = owb_cli_fail(PROG, "%s: cannot write: %s", path, strerror(errno));
out:
    owb_clear_free(b.data, b.cap);
    return ret;
}

static int write_svg(const struct sheet *s, const struct owb_manifest *m, const char *out)
{
    char path[4200];
    int ret = OWB_EXIT_OK;

    for (size_t p = 0; p < s->pages && ret == OWB_EXIT_OK; p++) {
        size_t from = p * s->per_page, to = from + s->per_page < m->n ? from + s->per_page : m->n;
        svg_page_path(out, p + 1, s->pages, path, sizeof path);
        ret = write_svg_page(s, m, from, to, path);
    }
    return ret;
}

/* The manifest's path: MANIFEST itself, or manifest.csv in the folder it
 * names; the default output beside it. */
static void resolve_paths(const char *arg, const struct labels_opts *o, char *manifest, char *out,
                          size_t cap)
{
    struct stat st;
    const char *slash;

    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(manifest, cap, "%s/manifest.csv", arg);
    else
        snprintf(manifest, cap, "%s", arg);
    slash = strrchr(manifest, '/');
    if (o->out)
        snprintf(out, cap, "%s", o->out);
    else
        snprintf(out, cap, "%.*s%s", slash ? (int)(slash - manifest + 1) : 0, manifest,
                 o->format ? "labels.svg" : "labels.pdf");
}

static int parse_options(int argc, char **argv, struct labels_opts *o, const char **manifest)
{
    const struct owb_opt_group groups[] = {{labels_opts, OWB_ARRAY_LEN(labels_opts), o}};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "MANIFEST [options]",
                                .about = labels_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    int next, ret;

    *o = (struct labels_opts){.columns = 3, .rows = 8, .margin = 8};
    if ((ret = owb_cli_parse(&cli, argc, argv, &next)) != OWB_CLI_RUN)
        return ret;
    if (next + 1 != argc)
        return owb_cli_usage_error(PROG, "give one MANIFEST (a batch's manifest.csv or folder)");
    *manifest = argv[next];
    return OWB_CLI_RUN;
}

int cmd_labels_main(int argc, char **argv)
{
    struct labels_opts o;
    struct owb_manifest m = {0};
    struct sheet s;
    const char *arg = NULL;
    char manifest[4096], out[4096], first[4200], last[4200], diag[OWB_DIAG_SIZE];
    int ret;

    if ((ret = parse_options(argc, argv, &o, &arg)) != OWB_CLI_RUN)
        return ret;
    s = papers[o.paper];
    s.x0 = s.y0 = o.margin * PT_PER_MM;
    if (2 * s.x0 >= s.w || 2 * s.y0 >= s.h)
        return owb_cli_usage_error(PROG, "--margin leaves no room on the sheet");
    s.columns = o.columns;
    s.per_page = o.columns * o.rows;
    s.cell_w = (s.w - 2 * s.x0) / o.columns;
    s.cell_h = (s.h - 2 * s.y0) / o.rows;
    s.outline = o.outline;
    resolve_paths(arg, &o, manifest, out, sizeof out);
    if (owb_manifest_read(manifest, &m, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    s.pages = (m.n + s.per_page - 1) / s.per_page;
    ret = o.format ? write_svg(&s, &m, out) : write_pdf(&s, &m, out);
    if (ret == OWB_EXIT_OK && o.format) {
        svg_page_path(out, 1, s.pages, first, sizeof first);
        svg_page_path(out, s.pages, s.pages, last, sizeof last);
    }
    if (ret == OWB_EXIT_OK)
        printf("%zu labels on %zu %s sheet(s) of %u x %u (%.1f x %.1f mm each): %s%s%s\n", m.n,
               s.pages, s.name, o.columns, o.rows, s.cell_w / PT_PER_MM, s.cell_h / PT_PER_MM,
               o.format ? first : out, s.pages > 1 && o.format ? " ... " : "",
               s.pages > 1 && o.format ? last : "");
    owb_manifest_free(&m);
    return ret;
}
