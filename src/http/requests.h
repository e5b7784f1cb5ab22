/* requests.h - the pure parsers of request bodies and queries: everything a
 * handler checks before it touches a queue, the bus or the store.
 *
 * Each takes the parsed JSON body (http_req_json, i.e. http_json_parse) and
 * appends one {field, message} per problem to errors (verr_add), so the
 * handler answers 422 with all of them.  No http_req, no store, no globals:
 * the handlers and the fuzz targets (tests/fuzz/fuzz_queue_requests.c,
 * fuzz_put_events.c, fuzz_router.c) run the same code.  Strings in the
 * results point into body (borrowed: valid while body is); the rest is
 * copied.  Any thread.
 */
#ifndef ORDERLY_HTTP_REQUESTS_H
#define ORDERLY_HTTP_REQUESTS_H
#include "bus/bus.h"
#include "conf/queue_attrs.h"
#include "lib/limits.h"
#include "orders/orders.h"
#include <jansson.h>
#include <stddef.h>

/* Where a parser puts what must outlive body's strings (the request arena in
 * a handler; the fuzz targets' own).  fn returns NULL when out of memory. */
typedef struct api_alloc {
    void *(*fn)(void *ctx, size_t n);
    void *ctx;
} api_alloc;

/* ---- queues ------------------------------------------------------------------ */

/* One message to send: {body, delaySeconds?, messageAttributes?} (+ id in a batch). */
typedef struct send_entry {
    const char *id;   /* batch entry id (borrowed), NULL for a single send */
    const char *body; /* borrowed */
    size_t len;
    char *attrs; /* messageAttributes as compact JSON (from api_alloc), or NULL */
    int delay;   /* 0..LIMIT_DELAY_SECONDS_MAX, -1 = the queue's DelaySeconds */
    int rc;      /* set by the unit */
    char message_id[40];
} send_entry;

/* POST /api/queues/{name}/messages: fills *e.  0 or ORD_EVALIDATION. */
int api_send_parse(const json_t *body, send_entry *e, json_t *errors, const api_alloc *al);
/* POST .../messages/batch {"entries": [...]}: 1..LIMIT_BATCH_ENTRIES_MAX
 * entries with distinct ids into e[0..*n).  0 or ORD_EVALIDATION. */
int api_send_batch_parse(const json_t *body, send_entry e[LIMIT_BATCH_ENTRIES_MAX], int *n,
                         json_t *errors, const api_alloc *al);

typedef struct receive_in {
    int max;  /* maxNumberOfMessages 1..LIMIT_RECEIVE_MAX, default 1 */
    int wait; /* waitTimeSeconds 0..LIMIT_WAIT_SECONDS_MAX, default the queue's */
    int vis;  /* visibilityTimeout 0..LIMIT_VISIBILITY_SECONDS_MAX, -1 = the queue's */
} receive_in;
/* POST .../receive; body NULL for an empty body.  0 or ORD_EVALIDATION. */
int api_receive_parse(const json_t *body, int default_wait_s, receive_in *out, json_t *errors);

typedef struct del_entry {
    const char *id;      /* borrowed */
    const char *receipt; /* borrowed */
    int rc;              /* set by the unit */
} del_entry;
/* POST .../messages/delete {"entries": [{id, receiptHandle}]}.  0 or ORD_EVALIDATION. */
int api_delete_batch_parse(const json_t *body, del_entry e[LIMIT_BATCH_ENTRIES_MAX], int *n,
                           json_t *errors);
/* POST .../messages/{receipt}/visibility {visibilityTimeout}.  0 or ORD_EVALIDATION. */
int api_visibility_parse(const json_t *body, int *vis, json_t *errors);

/* PUT .../attributes: {"attributes": {...}} as SetQueueAttributes, or the bare map. */
const json_t *api_attrs_body(const json_t *body);
/* Applies attrs (an object, or NULL = none) to *inout (syntax and ranges:
 * queue_attrs_parse); whether the dead-letter queue exists is the caller's
 * check (queue_attrs_check).  0 or ORD_EVALIDATION, *inout then unchanged. */
int api_attrs_parse(const json_t *attrs, queue_attrs *inout, json_t *errors);
/* POST /api/queues {name, attributes?}: the name into name[], *attrs borrowed
 * (NULL when absent; give it to api_attrs_parse).  0 or ORD_EVALIDATION. */
int api_queue_create_parse(const json_t *body, char name[LIMIT_QUEUE_NAME_MAX + 1],
                           const json_t **attrs, json_t *errors);

typedef struct redrive_in {
    int max;  /* maxMessages 1..LIMIT_REDRIVE_MAX, default LIMIT_REDRIVE_MAX */
    int rate; /* ratePerSecond 1..LIMIT_TASK_RATE_MAX, default LIMIT_TASK_RATE_DEFAULT */
    const char *destination; /* borrowed; NULL = each message's source queue */
    const char **ids; /* messageIds (the array from api_alloc, the strings borrowed), or NULL */
    int nids;
} redrive_in;
/* POST .../redrive; body NULL for an empty body: maxMessages or messageIds
 * (1..LIMIT_REDRIVE_IDS_MAX distinct ids of 1-64 characters), ratePerSecond,
 * destination.  The caller looks the destination up and reports a missing
 * one as verr_add(errors, "destination", "must name an existing queue").
 * 0 or ORD_EVALIDATION. */
int api_redrive_parse(const json_t *body, redrive_in *out, json_t *errors, const api_alloc *al);

/* ---- events ------------------------------------------------------------------ */

/* One PutEvents entry: the event, or why it failed (per entry, as EventBridge). */
typedef struct put_entry {
    bus_event ev;   /* strings borrowed from body (or detail) */
    json_t *detail; /* owned when Detail was a string holding JSON */
    int rc;         /* ORD_EVALIDATION when the entry failed */
    char code[32];  /* ErrorCode: InvalidArgument, MalformedDetail, EntrySizeTooLarge */
    char msg[320];  /* ErrorMessage */
    char id[40];    /* EventId, set by the unit */
} put_entry;
/* POST /api/events {"Entries": [...]}: 1..LIMIT_PUT_EVENTS_ENTRIES_MAX entries
 * into e[0..*n), each parsed or failed on its own.  ORD_EVALIDATION (errors
 * filled, no entry parsed) when the envelope is wrong, else 0.  Release the
 * entries with api_put_entries_release. */
int api_put_events_parse(const json_t *body, put_entry e[LIMIT_PUT_EVENTS_ENTRIES_MAX], int *n,
                         json_t *errors);
void api_put_entries_release(put_entry *e, int n);

/* ---- orders -------------------------------------------------------------------- */

/* ?limit= of a paged list (NULL when absent): *out = def when absent, else
 * 1..max.  0, or ORD_EINVAL with the problem's detail (api_page_limit's). */
int api_limit_parse(const char *lim, int def, int max, int *out, char *detail, size_t detail_len);

/* GET /api/orders ?status=&customerId=&limit= (each NULL when absent):
 * *st is the status (set only when status is given), *limit is
 * 1..LIMIT_ORDER_LIST_LIMIT_MAX (default 20).  0, or ORD_EINVAL with the
 * problem's detail in detail. */
int api_orders_list_parse(const char *status, const char *customer, const char *lim,
                          order_status *st, int *limit, char *detail, size_t detail_len);

#endif
