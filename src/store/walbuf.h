/* walbuf.h - a VFS that gathers the frames a transaction appends to the WAL
 * and writes them in one call when SQLite syncs the WAL (walbuf.c). */
#ifndef ORDERLY_WALBUF_H
#define ORDERLY_WALBUF_H

#define WALBUF_VFS "orderly-walbuf"

/* Registers the VFS (not as the default) over the default VFS of the moment
 * (the fault-injection one when installed).  After sqlite3_initialize;
 * once.  0, or -1 when SQLite refuses it. */
int walbuf_install(void);

#endif
