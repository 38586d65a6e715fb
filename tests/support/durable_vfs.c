/* See durable_vfs.h. Every method forwards to the wrapped file; xSync
 * also copies what the file holds once the sync is done. */
#include "durable_vfs.h"

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct dfile {
    sqlite3_file base;
    sqlite3_file *real;
    char image[1024]; /* "" when this file keeps none (temporary files) */
    /* The wrapped file follows, 8-byte aligned. */
} __attribute__((aligned(8)));

static sqlite3_vfs *real_vfs;
static sqlite3_vfs durable_vfs;

#define REAL(f) (((struct dfile *)(f))->real)

static int d_close(sqlite3_file *f)
{
    int r = REAL(f)->pMethods->xClose(REAL(f));
    return r;
}

static int d_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int d_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int d_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

/* After the sync, the file as it is now is what survives a power cut. */
static int d_sync(sqlite3_file *f, int flags)
{
    struct dfile *d = (struct dfile *)f;
    int r = d->real->pMethods->xSync(d->real, flags);
    sqlite3_int64 size = 0;
    char *buf;
    FILE *out;

    if (r != SQLITE_OK || !d->image[0])
        return r;
    assert_int_equal(d->real->pMethods->xFileSize(d->real, &size), SQLITE_OK);
    buf = malloc(size ? (size_t)size : 1);
    assert_non_null(buf);
    if (size)
        assert_int_equal(d->real->pMethods->xRead(d->real, buf, (int)size, 0), SQLITE_OK);
    out = fopen(d->image, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, (size_t)size, out), (size_t)size);
    assert_int_equal(fclose(out), 0);
    free(buf);
    return r;
}

static int d_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int d_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int d_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int d_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int d_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int d_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int d_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int d_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}

static int d_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void d_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int d_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: no memory-mapped reads, every read goes through d_read. */
static const sqlite3_io_methods durable_io = {
    2,          d_close,       d_read,      d_write,   d_truncate, d_sync,   d_size,
    d_lock,     d_unlock,      d_reserved,  d_control, d_sector,   d_device, d_shm_map,
    d_shm_lock, d_shm_barrier, d_shm_unmap, NULL,      NULL,
};

static int d_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    struct dfile *d = (struct dfile *)f;
    int r;

    (void)vfs;
    memset(d, 0, sizeof *d);
    d->real = (sqlite3_file *)(d + 1);
    r = real_vfs->xOpen(real_vfs, name, d->real, flags, out);
    if (r != SQLITE_OK || !d->real->pMethods) {
        d->base.pMethods = NULL;
        return r;
    }
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)))
        snprintf(d->image, sizeof d->image, "%s.durable", name);
    d->base.pMethods = &durable_io;
    return SQLITE_OK;
}

void t_durable_on(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    assert_non_null(real_vfs);
    durable_vfs = *real_vfs;
    durable_vfs.zName = "owb-durable";
    durable_vfs.szOsFile = (int)sizeof(struct dfile) + real_vfs->szOsFile;
    durable_vfs.xOpen = d_open;
    durable_vfs.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&durable_vfs, 1), SQLITE_OK);
}

void t_durable_off(void)
{
    sqlite3_vfs_unregister(&durable_vfs);
    sqlite3_vfs_register(real_vfs, 1);
}

static void copy_image(const char *from, const char *to)
{
    char image[1100], buf[65536];
    FILE *in, *out;
    size_t n;

    snprintf(image, sizeof image, "%s.durable", from);
    in = fopen(image, "rb");
    if (!in)
        return;
    out = fopen(to, "wb");
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

void t_durable_cut(const char *db, const char *to)
{
    char from_wal[1024], to_wal[1024];

    snprintf(from_wal, sizeof from_wal, "%s-wal", db);
    snprintf(to_wal, sizeof to_wal, "%s-wal", to);
    copy_image(db, to);
    copy_image(from_wal, to_wal);
}
