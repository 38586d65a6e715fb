/* A minimal PDF 1.4 writer for label sheets: pages of one size, text in
 * two of the standard Type 1 fonts (Helvetica, Courier-Bold: every reader
 * has them, nothing is embedded), QR modules as filled rectangles. Pages
 * are streamed to a temporary file beside the target as they are drawn
 * (a sheet of 100 000 labels never sits in memory) and the file is moved
 * into place, mode 0600, only when the cross-reference table is written. */
#ifndef OWB_TOOLS_PDF_H
#define OWB_TOOLS_PDF_H

#include <stdbool.h>
#include <stddef.h>

#include "label.h"

struct owb_pdf;

/* Starts path's temporary file for pages pages of w x h points. */
enum owb_err owb_pdf_begin(struct owb_pdf **pdf, const char *path, double w, double h,
                           size_t pages) OWB_MUST_CHECK;

/* The current page as a canvas (points, from its top-left corner). */
struct owb_canvas owb_pdf_canvas(struct owb_pdf *pdf);

/* A thin grey outline to cut along, on the current page. */
bool owb_pdf_outline(struct owb_pdf *pdf, double x, double y, double w, double h);

/* Writes the current page's objects; the next page starts empty. */
enum owb_err owb_pdf_page_end(struct owb_pdf *pdf) OWB_MUST_CHECK;

/* After the last page: the cross-reference table and trailer, fsync, the
 * move into place. Frees pdf, also on failure (then nothing is left). */
enum owb_err owb_pdf_finish(struct owb_pdf *pdf) OWB_MUST_CHECK;

/* Removes the temporary file and frees pdf. NULL is ignored. */
void owb_pdf_abort(struct owb_pdf *pdf);

#endif
