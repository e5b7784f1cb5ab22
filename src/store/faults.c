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
#include "store/vfsshim.h"

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

#define REAL(f) VFS_SHIM_REAL(f)

static sqlite3_io_methods io; /* vfs_shim_io with writes and syncs that may fail */

static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return fault(F_WRITE) ? SQLITE_IOERR_WRITE : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int f_sync(sqlite3_file *f, int flags)
{
    return fault(F_SYNC) ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)v;
    return vfs_shim_open(base, sizeof(vfs_shim_file), &io, name, f, flags, out_flags);
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
    io = vfs_shim_io;
    io.xWrite = f_write;
    io.xSync = f_sync;
    vfs = *base;
    vfs.zName = "orderly-faults";
    vfs.szOsFile = (int)sizeof(vfs_shim_file) + base->szOsFile;
    vfs.xOpen = f_open;
    atexit(report);
    return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK ? 0 : -1;
}

void faults_arm(void)
{
    atomic_store(&armed, 1);
}
