/* faults.c - fault injection under SQLite, for tests (SQLite's own
 * test_malloc.c and test_vfs.c are the model): fail the Nth allocation, the
 * Nth file write or the Nth sync SQLite makes once the process is armed.
 *
 * Only the orderly-faults binary (src/main.c built with ORDERLY_FAULTS)
 * installs it, before SQLite initialises:
 *
 *   ORDERLY_FAULT=malloc:N | write:N | sync:N   (N >= 1; "+" after N: every call from the Nth on)
 *
 * Counting starts at faults_arm() (the server calls it once it listens, so
 * the loop explores the serving path, not start-up).  Each injected fault
 * writes one line "fault injected: KIND N" to stderr with write(2), so a
 * test knows whether its N was reached, and at exit "fault calls: KIND
 * COUNT" says how many were counted.  In the orderly binary nothing calls
 * faults_install and faults_arm does nothing. */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/faults.h"

enum { F_NONE, F_MALLOC, F_WRITE, F_SYNC };

static int kind;            /* what fails */
static long long nth;       /* the count it fails at */
static int sticky;          /* and every one after */
static atomic_int armed;
static atomic_llong count;  /* calls of kind since armed */
static sqlite3_mem_methods mem;
static sqlite3_vfs *base, vfs;

static const char *const names[] = {"", "malloc", "write", "sync"};

/* 1 when this call of kind k is to fail. */
static int fault(int k)
{
    if (k != kind || !atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
    long long n = atomic_fetch_add(&count, 1) + 1;
    if (n != nth && !(sticky && n > nth)) return 0;
    char line[64];
    int len = snprintf(line, sizeof line, "fault injected: %s %lld\n", names[k], n);
    if (write(2, line, (size_t)len) < 0) { /* nothing to do about it */
    }
    return 1;
}

/* ---- allocations ------------------------------------------------------------ */

static void *f_malloc(int n)
{
    return fault(F_MALLOC) ? NULL : mem.xMalloc(n);
}

static void *f_realloc(void *p, int n)
{
    return fault(F_MALLOC) ? NULL : mem.xRealloc(p, n);
}

/* ---- files: a VFS over the default one ----------------------------------- */

typedef struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this struct */
} ffile;

#define REAL(f) (((ffile *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return fault(F_WRITE) ? SQLITE_IOERR_WRITE : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    return fault(F_SYNC) ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods io = {
    3,        f_close,   f_read,     f_write,       f_truncate,  f_sync,     f_size,   f_lock,     f_unlock,
    f_check,  f_control, f_sector,   f_chars,       f_shm_map,   f_shm_lock, f_shm_barrier, f_shm_unmap,
    f_fetch,  f_unfetch,
};

static int f_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    ffile *ff = (ffile *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = base->xOpen(base, name, ff->real, flags, out_flags);
    /* the default VFS sets pMethods even on failure when it must be closed */
    ff->base.pMethods = ff->real->pMethods ? &io : NULL;
    return rc;
}

/* At exit: how many calls of the kind were counted (a loop's range). */
static void report(void)
{
    char line[64];
    int len = snprintf(line, sizeof line, "fault calls: %s %lld\n", names[kind], (long long)atomic_load(&count));
    if (write(2, line, (size_t)len) < 0) { /* nothing to do about it */
    }
}

int faults_install(void)
{
    const char *spec = getenv("ORDERLY_FAULT");
    if (!spec || !*spec) return 0;
    char what[16];
    long long n;
    char plus = 0;
    if (sscanf(spec, "%15[a-z]:%lld%c", what, &n, &plus) < 2 || n < 1 || (plus && plus != '+')) return -1;
    for (int k = F_MALLOC; k <= F_SYNC; k++)
        if (!strcmp(what, names[k])) kind = k;
    if (!kind) return -1;
    nth = n;
    sticky = plus == '+';
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem) != SQLITE_OK) return -1;
    sqlite3_mem_methods m = mem;
    m.xMalloc = f_malloc;
    m.xRealloc = f_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK) return -1;
    if (sqlite3_initialize() != SQLITE_OK || !(base = sqlite3_vfs_find(NULL))) return -1;
    vfs = *base;
    vfs.zName = "orderly-faults";
    vfs.szOsFile = (int)sizeof(ffile) + base->szOsFile;
    vfs.xOpen = f_open;
    atexit(report);
    return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK ? 0 : -1;
}

void faults_arm(void)
{
    atomic_store(&armed, 1);
}
