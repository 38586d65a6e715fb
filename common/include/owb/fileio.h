/* Files that must never be seen half-written.
 *
 * owb_file_write_atomic() writes a temporary file beside the target
 * (O_CREAT|O_EXCL|O_NOFOLLOW, the given mode), fsyncs it, moves it into
 * place, and fsyncs the directory, so after a crash the path holds either
 * the old content or the new, never a mix. With OWB_WRITE_NO_REPLACE an
 * existing target is never touched (OWB_ERR_EXISTS): the move is a link(),
 * which fails atomically when the name is taken.
 */
#ifndef OWB_FILEIO_H
#define OWB_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "owb/err.h"

enum owb_write_flags {
    OWB_WRITE_REPLACE = 0,
    OWB_WRITE_NO_REPLACE = 1,
    /* Skip the fsyncs: for bulk writers that make everything durable with
     * one syncfs() before they publish the result (owb-mint batch). */
    OWB_WRITE_NO_SYNC = 2,
};

/* On OWB_ERR_IO errno is kept from the failing call. */
enum owb_err owb_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                   unsigned flags) OWB_MUST_CHECK;

/* Reads a whole regular file of at most max bytes into a new buffer with a
 * NUL after the data. *data is freed by the caller (owb_clear_free when it
 * holds secrets). OWB_ERR_NOENT, OWB_ERR_TOO_LARGE, OWB_ERR_IO. */
enum owb_err owb_file_read(const char *path, size_t max, char **data, size_t *len) OWB_MUST_CHECK;

/* Makes every missing folder above path (not path itself) with mode, and
 * checks the last one is writable: a command that writes several files can
 * then fail before it writes the first. OWB_ERR_IO or OWB_ERR_PERM with
 * diag naming the folder. */
enum owb_err owb_dir_make_parents(const char *path, mode_t mode, char *diag) OWB_MUST_CHECK;

/* fsync the directory that holds path. */
enum owb_err owb_fsync_parent(const char *path) OWB_MUST_CHECK;

#endif
