/* faults.h - fault injection under SQLite for tests (faults.c). */
#ifndef ORDERLY_STORE_FAULTS_H
#define ORDERLY_STORE_FAULTS_H

/* From ORDERLY_FAULT (malloc:N, write:N, sync:N, "+" for every call from the
 * Nth on): wraps SQLite's allocator and default VFS.  Call before any other
 * SQLite use.  0 (also when ORDERLY_FAULT is unset), -1 on a bad value. */
int faults_install(void);
/* Starts the counting (the server, once it listens).  Without
 * faults_install it does nothing. */
void faults_arm(void);

#endif
