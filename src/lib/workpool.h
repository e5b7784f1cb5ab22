/* workpool.h - a bounded pool of worker threads for slow work that must
 * not run on an HTTP worker (password hashing).  A full queue refuses at
 * once (ORD_EBUSY -> 503), it never makes the caller wait.
 *
 * THREAD SAFETY: workpool_submit from any thread; jobs run on the pool's
 * threads; workpool_free waits for the queued jobs to run. */
#ifndef ORDERLY_WORKPOOL_H
#define ORDERLY_WORKPOOL_H

typedef struct workpool workpool;
typedef void (*workpool_fn)(void *arg);

/* threads >= 1, queue_max >= 1.  0, ORD_ENOMEM or ORD_EINTERNAL. */
int workpool_new(int threads, int queue_max, workpool **out);
/* Runs every queued job, joins the threads, frees.  NULL is a no-op. */
void workpool_free(workpool *wp);
/* Queues fn(arg): 0, or ORD_EBUSY when queue_max jobs wait (fn will not
 * run), ORD_ESHUTDOWN while freeing, ORD_ENOMEM. */
int workpool_submit(workpool *wp, workpool_fn fn, void *arg);

#endif
