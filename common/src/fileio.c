#include "owb/fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "owb/mem.h"

enum owb_err owb_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, saved;
    enum owb_err rc = OWB_OK;

    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        if ((size_t)(slash - path) >= sizeof dir) {
            errno = ENAMETOOLONG;
            return OWB_ERR_IO;
        }
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return OWB_ERR_IO;
    if (fsync(fd) != 0)
        rc = OWB_ERR_IO;
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static enum owb_err write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return OWB_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return OWB_OK;
}

enum owb_err owb_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                   unsigned flags)
{
    char tmp[PATH_MAX];
    uint8_t rnd[6];
    char suffix[16];
    int fd = -1, saved = 0;
    bool tmp_made = false;
    enum owb_err rc = OWB_ERR_IO;

    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(suffix, sizeof suffix, rnd, sizeof rnd);
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, suffix) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return OWB_ERR_IO;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        goto out;
    tmp_made = true;
    /* The umask must not widen or narrow what the caller asked for. */
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != OWB_OK ||
        (!(flags & OWB_WRITE_NO_SYNC) && fsync(fd) != 0))
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (flags & OWB_WRITE_NO_REPLACE) {
        /* Both fail with EEXIST if the name appeared meanwhile: no race.
         * renameat2 does it in one call; link+unlink where it is missing. */
        int r = -1;
#ifdef RENAME_NOREPLACE
        r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
        if (r != 0 && errno != ENOSYS && errno != EINVAL) {
            rc = errno == EEXIST ? OWB_ERR_EXISTS : OWB_ERR_IO;
            goto out;
        }
#endif
        if (r != 0) {
            if (link(tmp, path) != 0) {
                rc = errno == EEXIST ? OWB_ERR_EXISTS : OWB_ERR_IO;
                goto out;
            }
            unlink(tmp);
        }
    } else if (rename(tmp, path) != 0) {
        goto out;
    }
    tmp_made = false;
    rc = (flags & OWB_WRITE_NO_SYNC) ? OWB_OK : owb_fsync_parent(path);
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlink(tmp);
    errno = saved;
    return rc;
}

enum owb_err owb_file_read(const char *path, size_t max, char **data, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, saved;
    enum owb_err rc = OWB_ERR_IO;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? OWB_ERR_NOENT : OWB_ERR_IO;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = OWB_ERR_TOO_LARGE;
        goto out;
    }
    buf = malloc(max + 1);
    if (!buf) {
        rc = OWB_ERR_NOMEM;
        goto out;
    }
    /* Read to EOF rather than trusting st_size: the file may change. */
    for (;;) {
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > max) {
            rc = OWB_ERR_TOO_LARGE;
            goto out;
        }
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
    rc = OWB_OK;
out:
    saved = errno;
    if (buf)
        owb_clear_free(buf, max + 1);
    close(fd);
    errno = saved;
    return rc;
}

static enum owb_err make_dir(const char *dir, mode_t mode, char *diag)
{
    if (mkdir(dir, mode) == 0 || errno == EEXIST)
        return OWB_OK;
    owb_diagf(diag, "%s: cannot create: %s", dir, strerror(errno));
    return OWB_ERR_IO;
}

enum owb_err owb_dir_make_parents(const char *path, mode_t mode, char *diag)
{
    char dir[PATH_MAX];
    char *slash;
    size_t len = strlen(path);
    struct stat st;
    enum owb_err rc = OWB_OK;

    if (len >= sizeof dir) {
        owb_diagf(diag, "%s: path too long", path);
        return OWB_ERR_INVALID_ARG;
    }
    memcpy(dir, path, len + 1);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0'; /* keep "/" for a file in / */
    /* Each prefix in turn; one that exists but is no folder is left to
     * the next mkdir, or the access check, to report. */
    for (char *p = dir + 1; rc == OWB_OK && *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = make_dir(dir, mode, diag);
        *p = '/';
    }
    if (rc == OWB_OK)
        rc = make_dir(dir, mode, diag);
    if (rc == OWB_OK && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        owb_diagf(diag, "%s: not a folder", dir);
        rc = OWB_ERR_IO;
    } else if (rc == OWB_OK && access(dir, W_OK) != 0) {
        owb_diagf(diag, "%s: not writable by this user (%s)", dir, strerror(errno));
        rc = OWB_ERR_PERM;
    }
    return rc;
}
