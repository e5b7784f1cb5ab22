/* queue.h - durable queues with SQS standard-queue semantics, on the store.
 *
 * Operations that write come in two forms: a *_tx function that runs inside
 * a caller's unit of work (store_submit), so a send can commit together with
 * the caller's other writes (the bus publishes this way), and for a few a
 * blocking convenience wrapper for threads that may wait (tests, benches,
 * function workers).  Reads (stats, listing) use the calling thread's reader.
 *
 * Semantics (design.md "Queue semantics"): delay 0..900 s; receive 1..10 with
 * a visibility timeout per queue or per receive; every receive issues a new
 * receipt handle and only the latest one deletes or changes the message; a
 * message whose receive count would exceed maxReceiveCount is moved to the
 * dead-letter queue on that receive instead of being delivered; messages older
 * than the retention period are dropped; long polls are woken by the commit of
 * a send or at the moment a delayed / invisible message becomes visible.
 *
 * THREAD SAFETY: all functions may be called from any thread; *_tx functions
 * only inside a unit (writer thread).  queue pointers stay valid until
 * queue_sys_close (queues are never freed while the system runs).
 */
#ifndef ORDERLY_QUEUE_H
#define ORDERLY_QUEUE_H
#include <stddef.h>
#include <stdint.h>
#include "lib/limits.h"
#include "conf/queue_attrs.h"
#include "store/store.h"

typedef struct queue_sys queue_sys;
typedef struct queue queue;

#define QUEUE_RECEIPT_LEN 32 /* hex chars of a receipt handle */

/* A received message.  body/attrs/source_queue are heap copies owned by the
 * struct: release with queue_msg_release(). */
typedef struct queue_msg {
    int64_t seq;                         /* storage id */
    char message_id[40];
    char receipt[QUEUE_RECEIPT_LEN + 1];
    char *body;
    size_t body_len;
    char *attrs;                         /* JSON text or NULL */
    char *source_queue;                  /* for dead letters: where it came from */
    int64_t sent_ms;
    int64_t first_receive_ms;
    int receive_count;
} queue_msg;

typedef struct queue_stats {
    int64_t visible, in_flight, delayed;
    int64_t oldest_age_s;      /* age of the oldest message, 0 when empty */
    /* counters since start (this process) */
    uint64_t sent, received, deleted, moved_to_dlq, empty_receives, expired;
} queue_stats;

/* Called inside the unit that moves a message to a dead-letter queue, so the
 * caller's bookkeeping (e.g. an order marked FAILED) commits with the move.
 * Return < 0 to fail the unit. */
typedef int (*queue_dead_letter_fn)(store_conn *tx, const queue *src, const queue_msg *m, void *arg);

/* ---- system ------------------------------------------------------------ */

/* Loads every queue from the store and starts the timer thread that wakes
 * long polls when delayed or invisible messages become visible.
 * Returns 0, ORD_ESTORE or ORD_ENOMEM. */
int queue_sys_open(store *st, queue_sys **out);
/* Reloads the queues from the store: adds the ones other nodes created,
 * takes their current attributes.  0 or a store error.  Any thread. */
int queue_sys_refresh(queue_sys *qs);
/* Wakes every waiter (as timed out) and stops the timer.  Safe on NULL. */
void queue_sys_close(queue_sys *qs);
/* store.queueDepthMax: a send to a queue holding max messages (by an
 * estimate never below the truth on one node, counted again from the
 * database at most once a second while past half of max) fails with
 * ORD_EFULL; moves to a DLQ and redrives are not sends and never refused.
 * 0: no bound. */
void queue_sys_set_depth_max(queue_sys *qs, int64_t max);
store *queue_sys_store(queue_sys *qs);
void queue_sys_on_dead_letter(queue_sys *qs, queue_dead_letter_fn fn, void *arg);

/* ---- queues ------------------------------------------------------------ */

/* Checks ranges, that a RedrivePolicy target exists, is not the queue
 * itself and does not lead back to it (no redrive cycles), and that the
 * VisibilityTimeout is at least what its consuming function requires.
 * Writes a reason into err. ORD_EVALIDATION when invalid. */
int queue_attrs_check(queue_sys *qs, const char *name, const queue_attrs *a, char *err, size_t errlen);
/* The function consumer takes messages of q and commits within seconds of a
 * receive: later VisibilityTimeouts below that are refused (as Lambda
 * refuses a mapping whose queue timeout is below the function timeout).
 * The largest requirement wins.  Before serving (not thread-safe). */
void queue_require_visibility(queue *q, int seconds, const char *consumer);
/* Creates the queue, or succeeds when it exists with the same attributes
 * (SQS CreateQueue); *created says which.  ORD_EEXISTS when it exists with
 * other attributes, ORD_EVALIDATION for bad names/attributes, ORD_ELIMIT when
 * LIMIT_QUEUES_MAX queues exist.  The queue is visible to queue_find() once
 * the unit commits. */
int queue_create_tx(store_conn *tx, queue_sys *qs, const char *name, const queue_attrs *a, int *created);
/* Replaces the attributes of an existing queue (SetQueueAttributes). */
int queue_set_attrs_tx(store_conn *tx, queue_sys *qs, queue *q, const queue_attrs *a);
/* Deletes q (SQS DeleteQueue): its row goes now, its messages in chunks by
 * queue_sweep_deleted; from this unit on every operation on q answers
 * ORD_ENOTFOUND and it leaves the registry at COMMIT (on the other nodes at
 * their reload).  Refused (ORD_ECONFLICT, why says which) for a queue of
 * the configured topology or the DLQ of another queue. */
int queue_delete_queue_tx(store_conn *tx, queue_sys *qs, queue *q, char *why, size_t whylen);
/* The maintenance sweep: removes deleted queues' messages in bounded
 * chunks, then their tombstones; *dropped counts the messages. */
int queue_sweep_deleted(queue_sys *qs, int64_t *dropped);
/* Blocking: create or, when `update` is set and it exists, set attributes to
 * a (declarative topology at start-up). */
int queue_declare(queue_sys *qs, const char *name, const queue_attrs *a, int update);

queue *queue_find(queue_sys *qs, const char *name);
/* Number of queues and the i-th in creation order (for listing). */
int queue_count(queue_sys *qs);
queue *queue_at(queue_sys *qs, int i);
const char *queue_name(const queue *q);
void queue_get_attrs(const queue *q, queue_attrs *out);
/* The queues whose RedrivePolicy points at q (for stats / listing). */
int queue_is_dlq(queue_sys *qs, const queue *q);

/* ---- messages (inside a unit) -------------------------------------------- */

/* Sends one message.  delay_s < 0 uses the queue's DelaySeconds.  Writes the
 * new MessageId into message_id (40 bytes).  ORD_ETOOBIG over the queue's
 * MaximumMessageSize, ORD_EVALIDATION for an empty body or delay out of range. */
int queue_send_tx(store_conn *tx, queue_sys *qs, queue *q, const void *body, size_t len,
                  const char *attrs, int delay_s, char *message_id);
/* An event as the bus logged it, told to an in-process consumer with the
 * message that carries its envelope, so that it need neither parse the
 * body nor read the event back from the log.  Borrowed strings; subject ""
 * when the event is about nothing. */
typedef struct queue_event {
    const char *id, *source, *detail_type, *subject;
    int64_t time_ms;
} queue_event;
/* As queue_send_tx with the queue's DelaySeconds and no attributes, for a
 * body that is the envelope of ev, just logged in this unit (the bus). */
int queue_send_event_tx(store_conn *tx, queue_sys *qs, queue *q, const void *body, size_t len,
                        const queue_event *ev);
/* Receives up to max (1..10) visible messages, hiding them for visibility_s
 * (< 0: the queue's VisibilityTimeout).  Moves to the DLQ, instead of
 * delivering, each message whose receive count would exceed maxReceiveCount;
 * drops messages past retention.  *n is set; out[0..*n) must be released. */
int queue_receive_tx(store_conn *tx, queue_sys *qs, queue *q, int max, int visibility_s,
                     queue_msg *out, int *n);
/* Deletes by the latest receipt handle.  ORD_ERECEIPT when the handle is
 * malformed, stale (the message was received again) or the message is gone. */
int queue_delete_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt);
/* As queue_delete_tx, but also refuses (ORD_ERECEIPT) when the receipt's
 * visibility timeout has expired: the fence of exactly-once effects. */
int queue_delete_live_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt);
/* ChangeMessageVisibility: visible again visibility_s (0..43200) from now.
 * ORD_ERECEIPT when the receipt is stale or the message is not in flight. */
int queue_change_visibility_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt,
                               int visibility_s);
/* The same with millisecond precision (function backoff); vis_ms 0..43200000. */
int queue_change_visibility_ms_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt, int64_t vis_ms);
/* Returns a received message to q without counting its receive (a consumer
 * that did not try it: a circuit breaker is open), visible again in
 * delay_ms (0..43200000): by its receipt while in flight (ORD_ERECEIPT
 * when stale), or, for a message taken in process without a row (seq 0),
 * written as never received (sets m->seq and m->receipt).  The receive
 * count then does not move the message toward the DLQ. */
int queue_defer_tx(store_conn *tx, queue_sys *qs, queue *q, queue_msg *m, int64_t delay_ms);
/* One chunk of a purge (SQS PurgeQueue): deletes up to limit messages of q
 * sent before the purge began - *upto, the newest message id, taken by the
 * first chunk when *upto < 0 - and sets *n to how many.  A purge repeats
 * chunks in units of their own until one deletes fewer than limit, so a
 * deep queue never becomes one long unit; what is sent meanwhile stays,
 * and what is received meanwhile may still be deleted (as in SQS). */
int queue_purge_tx(store_conn *tx, queue_sys *qs, queue *q, int64_t *upto, int limit, int64_t *n);
/* Moves up to max visible messages from dead-letter queue dlq back to the
 * queue each came from (or to dest when not NULL), as fresh messages (receive
 * count 0).  *moved is set.  Messages whose source queue no longer exists
 * stay.  Call repeatedly with a bounded max; LIMIT_REDRIVE_MAX per call. */
int queue_redrive_tx(store_conn *tx, queue_sys *qs, queue *dlq, queue *dest, int max, int64_t *moved);
/* As queue_redrive_tx, for the dead letters whose MessageId is one of
 * ids[0..n) (n 1..LIMIT_REDRIVE_IDS_MAX): each that is visible in dlq moves
 * back and gets found[i] = 1; the others (gone, in flight, unknown) stay and
 * get 0.  One pass over dlq's visible messages. */
int queue_redrive_ids_tx(store_conn *tx, queue_sys *qs, queue *dlq, queue *dest, const char *const *ids, int n,
                         int64_t *moved, unsigned char *found);
/* Deletes up to limit messages of q older than its retention; *n is set. */
int queue_expire_tx(store_conn *tx, queue_sys *qs, queue *q, int limit, int64_t *n);
/* Retention: drops the expired messages of every queue, in bounded units
 * (store_sweep); *dropped is set.  Blocking (not for HTTP threads).  0 or a
 * store error. */
int queue_sweep_retention(queue_sys *qs, int64_t *dropped);

/* ---- in-process consumers: lease on send ---------------------------------- */

/* Inside the sending unit (writer thread): m, just sent to q, is offered to
 * the consumer as received once (receive count 1, first received now); m
 * and its strings are borrowed for the call, m->seq is 0 (no row yet).
 * ev is the event m carries when the bus sent it (queue_send_event_tx),
 * else NULL.  The consumer returns
 *   0    it takes m and processes it in this same transaction, after the
 *        sending unit (store_follow_tx): no row is written, the send and the
 *        processing commit together or not at all; once processed it calls
 *        queue_settled_tx, and if processing fails it writes the message back
 *        for a retry (queue_keep_tx) in the same transaction;
 *   1    it takes m but processes it after this transaction commits: the
 *        queue writes the row leased to it (received once, a receipt issued,
 *        invisible for the queue's VisibilityTimeout) and fills *lease, the
 *        consumer's copy of m, with its seq and receipt.  The consumer
 *        deletes it by that receipt once processed; if it never does (it
 *        failed, the process died) the lease expires and a normal receive
 *        delivers it, its receive count going on from 1, so maxReceiveCount
 *        and the dead-letter queue work as for any message;
 *   < 0  an error: the send fails. */
typedef int (*queue_offer_fn)(store_conn *tx, void *arg, queue *q, const queue_msg *m, const queue_event *ev,
                              queue_msg **lease);
/* Inside a unit: a message taken without a row (offer returned 0) was
 * processed: it counts as deleted.  0 or ORD_ENOMEM. */
int queue_settled_tx(store_conn *tx, queue *q);
/* Inside a unit: writes a message taken without a row back to q for a retry,
 * as received m->receive_count times, invisible for vis_ms (the consumer's
 * backoff); sets m->seq and m->receipt.  0 or a store error. */
int queue_keep_tx(store_conn *tx, queue *q, queue_msg *m, int64_t vis_ms);
/* Makes (fn, arg) the in-process consumer of q, or removes it (fn NULL):
 * while set, every message sent to q inside a unit without a delay is
 * offered (and written leased when the consumer asks).  After removing, wait for a unit of the
 * store to run (store_run) before freeing arg: a unit that was offering
 * then has finished. */
void queue_set_consumer(queue *q, queue_offer_fn fn, void *arg);

/* ---- long poll ------------------------------------------------------------- */

/* The wake sequence of q; read it BEFORE a receive that may come back empty
 * and pass it to queue_wait so that a send committed in between is not missed. */
uint64_t queue_wake_seq(queue *q);
/* Calls fn(arg, timed_out) once: when a message may be receivable in q (a
 * send committed after seq, or a delayed/invisible message's time came), or
 * with timed_out=1 at deadline_ms (monotonic ms), or at queue_sys_close.
 * fn runs on the writer or timer thread: it must be quick (submit a unit,
 * signal a condition).  Returns 0 or ORD_ENOMEM. */
typedef void (*queue_wait_fn)(void *arg, int timed_out);
int queue_wait(queue_sys *qs, queue *q, uint64_t seq, int64_t deadline_ms, queue_wait_fn fn, void *arg);

/* Blocking receive with long poll (for threads that may wait): returns as
 * soon as at least one message is received, or empty after wait_ms. */
int queue_receive_wait(queue_sys *qs, queue *q, int max, int visibility_s, int wait_ms,
                       queue_msg *out, int *n);
/* As queue_receive_wait, but also returns (empty) once *cancel is nonzero
 * and the queue is interrupted; a receive whose turn on the writer comes
 * after *cancel was set takes nothing. */
int queue_receive_wait_cancel(queue_sys *qs, queue *q, int max, int visibility_s, int wait_ms,
                              queue_msg *out, int *n, const _Atomic int *cancel);
/* Wakes every waiter of q now (they retry): used to stop pollers. */
void queue_interrupt(queue *q);

/* ---- browsing (the console's DLQ inspector) -------------------------------- */

/* A message as stored, seen without receiving it.  Pointers are valid
 * during the callback only. */
typedef struct queue_peek {
    int64_t seq;              /* position: the cursor of the next page */
    const char *message_id;
    const char *body;         /* the first body_len bytes */
    size_t body_len;
    int64_t body_size;        /* the whole body */
    const char *attrs;        /* message attributes JSON, or NULL */
    const char *source_queue; /* a dead letter's queue of origin, or NULL */
    int64_t sent_ms, visible_ms;
    int64_t first_receive_ms; /* 0: never received */
    int64_t moved_ms;         /* when it entered this (dead-letter) queue, 0 = not moved */
    int receive_count;
    int in_flight;            /* received and not yet visible again */
} queue_peek;
/* Calls fn for the messages of q after position `after` (0 = from the
 * first), oldest first, at most limit (1..LIMIT_BROWSE_MAX), bodies cut at
 * body_max bytes.  Changes nothing (no receive count, no visibility).
 * Returns how many were seen, or a store error.  The calling thread's reader. */
int queue_browse(queue_sys *qs, queue *q, int64_t after, int limit, size_t body_max,
                 void (*fn)(void *arg, const queue_peek *m), void *arg);

/* ---- stats ------------------------------------------------------------------ */

int queue_stats_get(queue_sys *qs, queue *q, queue_stats *out);

void queue_msg_release(queue_msg *m);
/* Releases m[0..*n) and sets *n to 0 (what a receive that rolled back read). */
void queue_msgs_release(queue_msg *m, int *n);

/* Receipt handles: hex(seq) + hex(token). */
void queue_receipt_format(int64_t seq, int64_t token, char out[QUEUE_RECEIPT_LEN + 1]);
int queue_receipt_parse(const char *s, int64_t *seq, int64_t *token);

#endif
