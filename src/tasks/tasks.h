/* tasks.h - background tasks: a replay of the event log through the rules
 * (EventBridge StartReplay / DescribeReplay / CancelReplay) and a redrive of
 * a dead-letter queue (SQS StartMessageMoveTask / ListMessageMoveTasks /
 * CancelMessageMoveTask).
 *
 * A request starts a task (one unit inserts its row) and is answered 202 at
 * once; one thread runs the tasks a page at a time (LIMIT_TASK_PAGE events
 * or messages per unit of the writer), each page committing together with
 * the task's progress, at most ratePerSecond items a second and at most
 * LIMIT_TASK_DUTY_PERCENT of the writer's time - so a million-event replay
 * neither holds the writer nor starves intake.  After a restart the
 * unfinished tasks go on from their last committed page: nothing is replayed
 * or moved twice by the task itself.
 *
 * States: RUNNING -> COMPLETED | CANCELLED | FAILED (a queue or rule that
 * went away).  One unfinished replay at a time (the event log is the one
 * archive), one unfinished redrive per dead-letter queue (as SQS), at most
 * LIMIT_TASKS_ACTIVE in all.
 *
 * THREAD SAFETY.  The *_tx functions run inside units; tasks_get/list read
 * on the caller's reader connection; tasks_wake from any thread. */
#ifndef ORDERLY_TASKS_H
#define ORDERLY_TASKS_H
#include <jansson.h>
#include <stdint.h>
#include "bus/bus.h"
#include "queue/queue.h"
#include "store/store.h"

typedef struct tasks tasks;

#define TASK_ID_LEN 36

/* Opens the runner (not started). */
int tasks_open(store *st, bus *b, queue_sys *qs, tasks **out);
/* Starts the thread; it picks up the unfinished tasks of the database. */
int tasks_start(tasks *t);
/* Stops the thread after the page in progress; unfinished tasks stay
 * RUNNING in the database and go on at the next start. */
void tasks_stop(tasks *t);
void tasks_close(tasks *t);

typedef struct task_replay_in {
    int64_t from_ms, to_ms;   /* the window of the event log: from <= time < to */
    const char *rule;         /* only this rule's targets, or NULL for every rule */
    const char *replay_name;  /* put in the envelopes' "replay-name" */
    int rate;                 /* events per second at most */
    int64_t total;            /* events in the window (counted by the caller) */
} task_replay_in;

typedef struct task_redrive_in {
    queue *dlq;
    queue *dest; /* NULL: each message back to the queue it came from */
    int rate;    /* messages per second at most */
    int64_t total; /* at most this many (maxMessages, or what the DLQ held) */
} task_redrive_in;

/* Inside a unit: inserts a task and wakes the runner after the commit;
 * id_out gets its id (TASK_ID_LEN + 1 bytes).  ORD_ECONFLICT when a replay
 * (or a redrive of this queue) is unfinished, *running set to its id;
 * ORD_ELIMIT past LIMIT_TASKS_ACTIVE. */
int tasks_replay_start_tx(store_conn *tx, tasks *t, const task_replay_in *in, char *id_out, char *running);
int tasks_redrive_start_tx(store_conn *tx, tasks *t, const task_redrive_in *in, char *id_out, char *running);
/* Inside a unit: an unfinished task becomes CANCELLED now (its pages so far
 * stay done).  ORD_ENOTFOUND, or ORD_ECONFLICT when already finished. */
int tasks_cancel_tx(store_conn *tx, tasks *t, const char *id);

/* The task as JSON (see docs/api.md, Tasks), on connection c; NULL when
 * there is none. */
json_t *tasks_get(store_conn *c, const char *id);
/* {tasks: [...], nextCursor?}, newest first; cursor from nextCursor or NULL.
 * ORD_EVALIDATION for a bad cursor. */
int tasks_list(store_conn *c, int limit, const char *cursor, json_t **out);
/* Deletes finished tasks older than days, in bounded units. */
int tasks_sweep(tasks *t, int days, int64_t *deleted);

#endif
