/* walbuf.c - the writer's WAL writes, gathered: a VFS over the default one
 * whose WAL files keep the frames a transaction appends in memory and hand
 * them to the kernel in one pwrite when SQLite syncs the WAL (the commit),
 * instead of two pwrites a frame (its 24-byte header, then its page).
 *
 * A commit of 40 frames is 80 system calls without it and one with it; the
 * bytes, the fsync and their order are unchanged: everything buffered is
 * written before the sync that makes a commit durable, so what another
 * connection can see (frames up to the wal-index's mxFrame, published after
 * that sync) is always in the file - which holds because the writer's
 * connection runs with synchronous=FULL (store_sqlite.c): a commit that did
 * not sync would publish frames still in the buffer.  The buffer is
 * written out first, too,
 * before anything else touches the file: a read (a page the transaction
 * spilled), its size, a truncation, a write that does not extend or
 * overwrite what is buffered, and the close.  Only files opened with
 * SQLITE_OPEN_WAL through this VFS are buffered, and only the writer's
 * connection opens its database through it (store_sqlite.c); every other
 * file passes through.  Modelled on SQLite's own VFS shims (test_vfs.c,
 * the multiplexor): the real file lives right after this struct. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "lib/limits.h"
#include "store/vfsshim.h"
#include "store/walbuf.h"

typedef struct wfile {
    vfs_shim_file sh;     /* the underlying VFS's file right after this struct */
    int wal;              /* an SQLITE_OPEN_WAL file: writes are gathered */
    unsigned char *buf;   /* the bytes of [off, off + len) not yet written */
    size_t len, cap;
    sqlite3_int64 off;
} wfile;

static sqlite3_vfs *base, vfs;

#define WF(f)   ((wfile *)(f))
#define REAL(f) VFS_SHIM_REAL(f)

static sqlite3_io_methods io; /* vfs_shim_io with the writes gathered */

/* Writes what is buffered (one call); the buffer is empty after, whatever
 * the outcome: a failed write fails the transaction that made it. */
static int flush(sqlite3_file *f)
{
    wfile *w = WF(f);
    if (!w->len) return SQLITE_OK;
    int rc = REAL(f)->pMethods->xWrite(REAL(f), w->buf, (int)w->len, w->off);
    w->len = 0;
    return rc;
}

static int w_close(sqlite3_file *f)
{
    int rc = flush(f), crc = REAL(f)->pMethods->xClose(REAL(f));
    free(WF(f)->buf);
    WF(f)->buf = NULL;
    WF(f)->cap = 0;
    return rc != SQLITE_OK ? rc : crc;
}

static int w_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int w_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    wfile *w = WF(f);
    if (!w->wal || n <= 0) return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
    sqlite3_int64 end = w->off + (sqlite3_int64)w->len;
    if (w->len && off >= w->off && off + n <= end) { /* a frame written again in this transaction */
        memcpy(w->buf + (off - w->off), p, (size_t)n);
        return SQLITE_OK;
    }
    if (w->len && off != end) { /* not the next bytes: what is buffered goes first */
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (w->len + (size_t)n > LIMIT_STORE_WAL_BUFFER_BYTES) {
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
        if ((size_t)n > LIMIT_STORE_WAL_BUFFER_BYTES) return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
    }
    if (w->len + (size_t)n > w->cap) {
        size_t cap = w->cap ? w->cap : 32768;
        while (cap < w->len + (size_t)n) cap *= 2;
        if (cap > LIMIT_STORE_WAL_BUFFER_BYTES) cap = LIMIT_STORE_WAL_BUFFER_BYTES;
        unsigned char *b = realloc(w->buf, cap);
        if (!b) { /* no room to gather: write through */
            int rc = flush(f);
            return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
        }
        w->buf = b;
        w->cap = cap;
    }
    if (!w->len) w->off = off;
    memcpy(w->buf + w->len, p, (size_t)n);
    w->len += (size_t)n;
    return SQLITE_OK;
}

static int w_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int w_sync(sqlite3_file *f, int flags)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int w_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int w_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int w_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    int rc = vfs_shim_open(base, sizeof(wfile), &io, name, f, flags, out_flags);
    WF(f)->wal = (flags & SQLITE_OPEN_WAL) != 0;
    return rc;
}

int walbuf_install(void)
{
    if (base) return 0;
    if (!(base = sqlite3_vfs_find(NULL))) return -1;
    io = vfs_shim_io;
    io.xClose = w_close;
    io.xRead = w_read;
    io.xWrite = w_write;
    io.xTruncate = w_truncate;
    io.xSync = w_sync;
    io.xFileSize = w_size;
    io.xFetch = w_fetch;
    vfs = *base;
    vfs.zName = WALBUF_VFS;
    vfs.szOsFile = (int)sizeof(wfile) + base->szOsFile;
    vfs.xOpen = w_open;
    vfs.pNext = NULL;
    return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK ? 0 : -1;
}
