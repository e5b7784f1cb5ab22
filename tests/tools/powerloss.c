/* powerloss.c - an LD_PRELOAD layer that keeps, beside a data directory, the
 * image a power cut would leave of it: only what a completed fsync covered.
 *
 *   POWERLOSS_DIR=/abs/data  POWERLOSS_IMAGE=/abs/image  LD_PRELOAD=powerloss.so  orderly serve ...
 *
 * The process runs on POWERLOSS_DIR as usual.  For every file in it the
 * layer remembers which byte ranges were written since that file's last
 * fsync/fdatasync; a sync copies those ranges (and the file's size) from the
 * file into the same name under POWERLOSS_IMAGE.  So at any moment - in
 * particular after kill -9 - IMAGE holds exactly the synced state: every
 * write no completed sync covered is gone, as after a power cut that lost
 * the page cache.  The test restarts the server on a copy of IMAGE.
 *
 * Model and its simplifications (the strictest choice is taken for data):
 *  - Data: durable only through fsync/fdatasync of that file.  Unsynced
 *    writes are all dropped (a real disk may keep some, in any order; SQLite
 *    must survive both, and its WAL frames carry checksums for the torn case).
 *  - Metadata (create, unlink, rename): durable at once; a file first
 *    appears in IMAGE at its first sync.  SQLite in WAL mode depends on no
 *    unsynced directory entry for committed data.
 *  - The layer is exact only for files written with write/pwrite/pwrite64/
 *    ftruncate (what SQLite's unix VFS and orderly use), not through mmap.
 *
 * POWERLOSS_NOSYNC_SUFFIX=-wal makes syncs of files ending so do nothing in
 * the image: SQLite's synchronous=NORMAL (the WAL is synced only at a
 * checkpoint), the control run that must lose acknowledged work.
 *
 * Everything is under one mutex: correctness over speed, it is a test tool. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FDS    4096
#define MAX_RANGES 256 /* past it the file counts as written all over */

typedef struct range {
    off_t lo, hi;
} range;

typedef struct tracked {
    char name[NAME_MAX + 1]; /* the file's name inside the directory */
    range r[MAX_RANGES];
    int n;
    int all;  /* too many ranges: copy the whole file at the next sync */
    int sized; /* ftruncate since the last sync: the image takes the file's size */
} tracked;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static tracked *fds[MAX_FDS];
static char dir[PATH_MAX], image[PATH_MAX], nosync[64];
static size_t dirlen;
static int ready;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_rename)(const char *, const char *);

__attribute__((constructor)) static void setup(void)
{
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_close = dlsym(RTLD_NEXT, "close");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    real_rename = dlsym(RTLD_NEXT, "rename");
    const char *d = getenv("POWERLOSS_DIR"), *i = getenv("POWERLOSS_IMAGE"), *s = getenv("POWERLOSS_NOSYNC_SUFFIX");
    if (!d || !i || d[0] != '/' || i[0] != '/') return;
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(image, sizeof image, "%s", i);
    snprintf(nosync, sizeof nosync, "%s", s ? s : "");
    dirlen = strlen(dir);
    while (dirlen > 1 && dir[dirlen - 1] == '/')
        dir[--dirlen] = 0;
    ready = 1;
}

/* The name inside the directory of path, or NULL when path is elsewhere
 * (only files directly in it are tracked; relative paths are resolved
 * against the working directory). */
static const char *inside(const char *path, char *buf, size_t len)
{
    if (!ready || !path) return NULL;
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return NULL;
        snprintf(buf, len, "%s/%s", cwd, path);
        path = buf;
    }
    if (strncmp(path, dir, dirlen) || path[dirlen] != '/') return NULL;
    const char *name = path + dirlen + 1;
    return *name && !strchr(name, '/') ? name : NULL;
}

static void track(int fd, const char *name)
{
    if (fd < 0 || fd >= MAX_FDS) return;
    tracked *t = calloc(1, sizeof *t);
    if (!t) abort(); /* a test tool: better loud than an image that lies */
    snprintf(t->name, sizeof t->name, "%s", name);
    pthread_mutex_lock(&mu);
    free(fds[fd]);
    fds[fd] = t;
    pthread_mutex_unlock(&mu);
}

static void opened(int fd, const char *path, int flags)
{
    char buf[PATH_MAX * 2];
    const char *name = inside(path, buf, sizeof buf);
    if (fd < 0 || !name || (flags & O_ACCMODE) == O_RDONLY) return;
    track(fd, name);
    if (flags & O_TRUNC) {
        pthread_mutex_lock(&mu);
        if (fds[fd]) fds[fd]->sized = 1;
        pthread_mutex_unlock(&mu);
    }
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = real_open(path, flags, mode);
    opened(fd, path, flags);
    return fd;
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = real_openat(dfd, path, flags, mode);
    if (dfd == AT_FDCWD || path[0] == '/') opened(fd, path, flags);
    return fd;
}
int openat64(int dfd, const char *path, int flags, ...) __attribute__((alias("openat")));

static void wrote(int fd, off_t off, ssize_t n)
{
    if (n <= 0 || fd < 0 || fd >= MAX_FDS) return;
    pthread_mutex_lock(&mu);
    tracked *t = fds[fd];
    if (t && !t->all) {
        range w = {off, off + n};
        int k;
        for (k = 0; k < t->n; k++) /* widen an overlapping or adjacent range */
            if (w.lo <= t->r[k].hi && w.hi >= t->r[k].lo) {
                if (w.lo < t->r[k].lo) t->r[k].lo = w.lo;
                if (w.hi > t->r[k].hi) t->r[k].hi = w.hi;
                break;
            }
        if (k == t->n) {
            if (t->n == MAX_RANGES)
                t->all = 1;
            else
                t->r[t->n++] = w;
        }
    }
    pthread_mutex_unlock(&mu);
}

ssize_t write(int fd, const void *p, size_t n)
{
    ssize_t w = real_write(fd, p, n);
    if (w > 0 && fd >= 0 && fd < MAX_FDS && fds[fd]) wrote(fd, lseek(fd, 0, SEEK_CUR) - w, w);
    return w;
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
    ssize_t w = real_pwrite(fd, p, n, off);
    wrote(fd, off, w);
    return w;
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
    ssize_t w = real_pwrite64(fd, p, n, off);
    wrote(fd, off, w);
    return w;
}

int ftruncate(int fd, off_t len)
{
    int rc = real_ftruncate(fd, len);
    if (!rc && fd >= 0 && fd < MAX_FDS) {
        pthread_mutex_lock(&mu);
        if (fds[fd]) fds[fd]->sized = 1;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}
int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return b && a >= b && !strcmp(s + a - b, suffix);
}

/* Copies [lo, hi) of fd into out. */
static int copy_range(int fd, int out, off_t lo, off_t hi)
{
    char buf[65536];
    while (lo < hi) {
        size_t want = hi - lo < (off_t)sizeof buf ? (size_t)(hi - lo) : sizeof buf;
        ssize_t n = pread(fd, buf, want, lo);
        if (n < 0) return -1;
        if (n == 0) break; /* truncated since: the size step below settles it */
        if (real_pwrite(out, buf, n, lo) != n) return -1;
        lo += n;
    }
    return 0;
}

/* After a completed sync of fd: what it covered becomes the image's. */
static void synced(int fd)
{
    if (fd < 0 || fd >= MAX_FDS) return;
    pthread_mutex_lock(&mu);
    tracked *t = fds[fd];
    if (t && !ends_with(t->name, nosync)) {
        char path[PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", image, t->name);
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd); /* fd may be write-only: read through a new one */
        int in = real_open(self, O_RDONLY, 0), out = real_open(path, O_WRONLY | O_CREAT, 0600);
        struct stat sb;
        if (in < 0 || out < 0 || fstat(in, &sb)) abort();
        fd = in;
        int rc = 0;
        if (t->all)
            rc = copy_range(fd, out, 0, sb.st_size);
        for (int k = 0; !t->all && k < t->n && !rc; k++)
            rc = copy_range(fd, out, t->r[k].lo, t->r[k].hi < sb.st_size ? t->r[k].hi : sb.st_size);
        /* the image's size follows a truncation, and any write past its end */
        struct stat ib;
        if (!rc && !fstat(out, &ib) && (t->sized || ib.st_size > sb.st_size)) rc = real_ftruncate(out, sb.st_size);
        if (rc) abort();
        real_close(out);
        real_close(in);
        t->n = t->all = t->sized = 0;
    }
    pthread_mutex_unlock(&mu);
}

int fsync(int fd)
{
    int rc = real_fsync(fd);
    if (!rc) synced(fd);
    return rc;
}

int fdatasync(int fd)
{
    int rc = real_fdatasync(fd);
    if (!rc) synced(fd);
    return rc;
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FDS && fds[fd]) {
        pthread_mutex_lock(&mu);
        free(fds[fd]); /* closing makes nothing durable */
        fds[fd] = NULL;
        pthread_mutex_unlock(&mu);
    }
    return real_close(fd);
}

static void image_unlink(const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", image, name);
    real_unlink(path);
}

int unlink(const char *path)
{
    int rc = real_unlink(path);
    char buf[PATH_MAX * 2];
    const char *name = inside(path, buf, sizeof buf);
    if (!rc && name) image_unlink(name);
    return rc;
}

int unlinkat(int dfd, const char *path, int flags)
{
    int rc = real_unlinkat(dfd, path, flags);
    char buf[PATH_MAX * 2];
    const char *name = (dfd == AT_FDCWD || path[0] == '/') ? inside(path, buf, sizeof buf) : NULL;
    if (!rc && name && !(flags & AT_REMOVEDIR)) image_unlink(name);
    return rc;
}

int rename(const char *from, const char *to)
{
    int rc = real_rename(from, to);
    char b1[PATH_MAX * 2], b2[PATH_MAX * 2];
    const char *a = inside(from, b1, sizeof b1), *b = inside(to, b2, sizeof b2);
    if (!rc && a && b) {
        char p1[PATH_MAX * 2], p2[PATH_MAX * 2];
        snprintf(p1, sizeof p1, "%s/%s", image, a);
        snprintf(p2, sizeof p2, "%s/%s", image, b);
        real_rename(p1, p2);
    }
    return rc;
}
