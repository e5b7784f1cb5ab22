/* vfsshim.h - the pass-through half of a VFS shim: a sqlite3_file that
 * wraps the file of the VFS under it, which lives right after the shim's
 * own struct (SQLite's test_vfs.c and multiplexor are the model).  walbuf.c
 * (the writer's WAL writes gathered) and faults.c (failures on request)
 * take vfs_shim_io and replace the methods they change.
 *
 * A shim's file struct starts with a vfs_shim_file. */
#ifndef ORDERLY_VFSSHIM_H
#define ORDERLY_VFSSHIM_H

#include <sqlite3.h>
#include <stddef.h>

typedef struct vfs_shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* the underlying VFS's file, right after the shim's struct */
} vfs_shim_file;

#define VFS_SHIM_REAL(f) (((vfs_shim_file *)(f))->real)

/* Every method passed through to the underlying file (version 3). */
extern const sqlite3_io_methods vfs_shim_io;

/* A shim VFS's xOpen: f's first own_size bytes are the shim's struct,
 * zeroed here; the underlying file after them is opened by base, and f gets
 * io as its methods when the underlying file got methods (SQLite closes a
 * file whose open failed only if it has them).  SQLite's result code. */
int vfs_shim_open(sqlite3_vfs *base, size_t own_size, const sqlite3_io_methods *io, const char *name,
                  sqlite3_file *f, int flags, int *out_flags);

#endif
