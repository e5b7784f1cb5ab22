/* handoff.h - wake-ups made once per batch instead of once per item.
 *
 * A thread that completes many things at once (the writer, after a commit)
 * opens a scope around the completions.  A module whose wake-up costs a
 * system call and a context switch per item (the HTTP server's resume of a
 * suspended request: an eventfd write, and the woken HTTP thread preempts
 * the writer for each) gathers its items while a scope is open and
 * registers a flush, which runs once when the scope closes: one wake-up
 * for the batch.
 *
 * THREAD SAFETY: a scope belongs to the thread that opened it; the flush
 * runs on that thread.  Scopes nest (the outermost close flushes).
 */
#ifndef ORDERLY_HANDOFF_H
#define ORDERLY_HANDOFF_H

void handoff_open(void);
/* Registers flush(arg) for the close of this thread's open scope and
 * returns 1, or returns 0 and registers nothing when no scope is open (the
 * caller wakes at once).  A pair already registered is not registered
 * again; when the scope's table is full, flush(arg) runs at once first. */
int handoff_defer(void (*flush)(void *arg), void *arg);
/* Closes the scope; the outermost close runs every registered flush. */
void handoff_close(void);

#endif
