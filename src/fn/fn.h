/* fn.h - the function runtime: event source mappings from queues to C
 * handlers, as Lambda's SQS event source mapping.
 *
 * A mapping polls its queue with long polls (batch size, batching window,
 * max concurrency = poller threads).  For each record the handler runs
 * outside the database and returns its effects as an apply closure; the
 * runtime then commits, in ONE unit per record: the idempotency check, the
 * effects (state changes and the events they emit through the bus), the
 * idempotency record (function, event id, expiry) and the delete of the
 * message fenced by its receipt (refused once its visibility has expired, so
 * a record whose receipt expired leaves no effect).  A record whose event id
 * was already processed is acknowledged as a duplicate without its effects.
 * Records that fail (handler error, or effects refused) return to the queue
 * alone (partial batch failure) with exponential backoff and jitter:
 * visibility = min(base * 2^(n-1), max) for the n-th receive, jittered into
 * [d/2, d].  Expired idempotency records are swept periodically.
 *
 * RUN TO COMPLETION.  A handler registered as in-process (fn_handler_inline:
 * pure C, fast, no waits - the order functions) consumes its queue without
 * a poller for the messages sent inside units: the queue writes each one
 * already leased to the function (lease on send, queue_set_consumer) and
 * the record's unit runs on the store's writer as a follow-up of the unit
 * that sent it (store_follow_tx) - in the same transaction while the batch
 * has room, else first thing in the next.  It is the same unit as a
 * poller's (claim, apply, fenced delete), so a failure returns the record
 * to the queue with backoff (one more unit after the commit), and a lease
 * that is never settled (the process died) expires and the pollers, which
 * still serve everything else (external sends, retries, redrives, expired
 * leases), receive it with its receive count going on.
 *
 * THREAD SAFETY: register handlers and add mappings before fn_start; handlers
 * run on poller threads (one batch per thread at a time), in-process ones
 * also on the store's writer thread; apply closures run on the store's
 * writer thread.
 */
#ifndef ORDERLY_FN_H
#define ORDERLY_FN_H
#include <jansson.h>
#include <stdint.h>
#include "obs/metrics.h"
#include "queue/queue.h"

typedef struct fn_sys fn_sys;

/* One record handed to a handler. */
typedef struct fn_record {
    const char *function;
    const queue_msg *msg;   /* body, message id, receive count, ... */
    const json_t *body;     /* the body parsed as JSON, or NULL (also when event is set: not parsed) */
    const char *event_id;   /* the envelope's "id" when the body is an event, else the message id */
    int attempt;            /* = msg->receive_count */
    /* in-process records the bus sent: the event whose envelope the body
     * is, as logged in this transaction (body is then not parsed); else NULL */
    const queue_event *event;
} fn_record;

/* Effects: apply runs inside the record's unit (writer thread), where a
 * handler reads what it decides from (the database, not the message); return
 * 0 to keep, < 0 to refuse: the unit rolls back and the record fails and is
 * retried, with the reason written into error (error_len bytes, may be left
 * empty).  free_state (may be NULL) is called once after the unit completed
 * either way. */
typedef int (*fn_apply_fn)(store_conn *tx, void *state, char *error, size_t error_len);
typedef struct fn_result {
    fn_apply_fn apply;      /* NULL: nothing to apply (acknowledge only) */
    void *state;
    void (*free_state)(void *state);
    char error[256];        /* a failing handler may say why (logged, passed to on_failure) */
} fn_result;

/* Optional: runs in the unit that backs a failed record off (writer
 * thread), so the handler's owner can record the failure (last error,
 * attempts) durably.  Return < 0 to fail that unit. */
typedef int (*fn_failure_fn)(store_conn *tx, const fn_record *rec, const char *error, void *ud);

/* A handler: 0 with res filled, or < 0 when the record failed (it returns to
 * the queue with backoff; after maxReceiveCount it is dead-lettered). */
typedef int (*fn_handler_fn)(const fn_record *rec, fn_result *res, void *ud);

typedef struct fn_config {
    const char *name;
    const char *handler;
    const char *queue;
    int batch_size;          /* 1..LIMIT_FN_BATCH_MAX */
    int window_ms;           /* 0..LIMIT_FN_WINDOW_MS_MAX */
    int concurrency;         /* 1..LIMIT_FN_CONCURRENCY_MAX */
    int backoff_base_ms;
    int backoff_max_ms;
    int idempotency_ttl_s;
    int timeout_s;           /* receive to commit; the queue's VisibilityTimeout must be >= */
    int enabled;
} fn_config;

typedef struct fn_stats {
    uint64_t invocations;   /* batches */
    uint64_t records;       /* records whose effects committed */
    uint64_t errors;        /* records that failed */
    uint64_t duplicates;    /* records skipped as already processed */
    uint64_t fenced;        /* records whose commit was refused: receipt expired */
    uint64_t duration_us_sum;
    uint64_t batch_records; /* sum of batch sizes */
    int enabled;            /* the mapping polls (config "enabled") */
    int pollers;            /* configured poller threads: maxConcurrency when enabled, else 0 */
    int pollers_running;    /* poller threads alive now (0 before fn_start and after fn_stop) */
    int elsewhere;          /* enabled, but its pollers run on other nodes (fn_sys_poll_here(fs, 0)) */
} fn_stats;

int fn_sys_open(queue_sys *qs, fn_sys **out);
/* Stops (fn_stop) and frees.  Safe on NULL. */
void fn_sys_close(fn_sys *fs);
/* Observes every batch in m: orderly_function_duration_seconds and
 * orderly_function_batch_size, by function.  Before fn_start; m must
 * outlive fs.  (The counters are in fn_stats, for a collector.) */
void fn_sys_set_metrics(fn_sys *fs, metrics *m);

/* Names a handler for the config's "handler" field.  ORD_EEXISTS twice. */
int fn_handler_register(fn_sys *fs, const char *name, fn_handler_fn fn, void *ud);
/* Marks a registered handler as in-process (see RUN TO COMPLETION): it and
 * its apply are pure C that never waits, so its records may run on the
 * store's writer.  ORD_ENOTFOUND. */
int fn_handler_inline(fn_sys *fs, const char *name);
/* Sets the failure hook of a registered handler.  ORD_ENOTFOUND. */
int fn_handler_on_failure(fn_sys *fs, const char *name, fn_failure_fn fn);
/* Adds a mapping; ORD_EVALIDATION (reason in err) for an unknown handler or
 * queue or an out-of-range setting. */
int fn_add(fn_sys *fs, const fn_config *c, char *err, size_t errlen);
/* here = 0: the mappings are declared (their statistics, the topology) but
 * their pollers run on other nodes of the cluster (--mode api); fn_start
 * then starts none, and makes no mapping its queue's consumer.  Before
 * fn_start; default 1. */
void fn_sys_poll_here(fn_sys *fs, int here);
/* Starts every enabled mapping's pollers and the idempotency sweeper, and
 * makes each enabled in-process mapping its queue's consumer. */
int fn_start(fn_sys *fs);
/* Stops polling and in-process consumption; batches and records in progress
 * finish and commit.  Idempotent. */
void fn_stop(fn_sys *fs);

int fn_count(fn_sys *fs);
const char *fn_name(fn_sys *fs, int i);
/* The name of the queue mapping i consumes, NULL past the end. */
const char *fn_queue(fn_sys *fs, int i);
int fn_stats_get(fn_sys *fs, const char *name, fn_stats *out);
/* The settings of the i-th mapping (0..fn_count-1); strings point into fs.
 * ORD_ENOTFOUND past the end. */
int fn_config_get(fn_sys *fs, int i, fn_config *out);
/* Deletes expired idempotency records now (the sweeper calls this). */
int fn_sweep_idempotency(fn_sys *fs, int64_t *deleted);
/* The backoff visibility (ms) for the n-th receive, without jitter. */
int64_t fn_backoff_ms(int base_ms, int max_ms, int attempt);

#endif
