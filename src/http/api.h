/* api.h - the HTTP resources of orderly and what they share.
 *
 * Handlers validate input on the HTTP worker, then hand one unit of work to
 * the store and suspend the request (api_submit); the unit's completion runs
 * after COMMIT on the writer thread, builds the reply and resumes the
 * request.  So every 2xx that writes is durable, and no worker thread waits
 * for a commit.
 */
#ifndef ORDERLY_API_H
#define ORDERLY_API_H
#include <jansson.h>
#include <stdatomic.h>
#include "bus/bus.h"
#include "fn/fn.h"
#include "http/server.h"
#include "obs/alarms.h"
#include "obs/metrics.h"
#include "orders/orders.h"
#include "queue/queue.h"
#include "store/store.h"

struct api_metrics;

typedef struct api {
    store *st;
    queue_sys *qs;
    bus *b;
    fn_sys *fs;
    orders *o;
    const char *env;
    metrics *metrics;       /* GET /metrics renders it; NULL = 404 */
    struct api_metrics *mx; /* its collectors (http/metrics.c) */
    alarms *alarms;         /* GET /api/alarms; NULL = none */
    _Atomic int ready;    /* /ready answers 200 when set */
    _Atomic int draining; /* shutting down: long polls answer now */
} api;

/* All routes, ending with {0}. */
extern const http_route api_routes[];
/* A worker node's (--mode worker): no public API, only what operations
 * read (/metrics, /api/health; /health and /ready are the server's own). */
extern const http_route api_worker_routes[];
/* /ready (health.c): serving, not draining, the store takes writes, every
 * enabled function's pollers run.  Never blocks. */
int api_ready(void *app);

/* ---- handlers (one file per resource) ---------------------------------- */
int api_queues_list(http_req *r);
int api_queues_create(http_req *r);
int api_queue_get(http_req *r);
int api_queue_attrs_get(http_req *r);
int api_queue_attrs_put(http_req *r);
int api_queue_send(http_req *r);
int api_queue_send_batch(http_req *r);
int api_queue_receive(http_req *r);
int api_queue_delete(http_req *r);
int api_queue_delete_batch(http_req *r);
int api_queue_visibility(http_req *r);
int api_queue_redrive(http_req *r);
int api_queue_purge(http_req *r);
int api_events_put(http_req *r);
int api_events_replay(http_req *r);
int api_rules_list(http_req *r);
int api_orders_create(http_req *r);
int api_orders_list(http_req *r);
int api_orders_get(http_req *r);
int api_orders_cancel(http_req *r);
int api_orders_events(http_req *r);
int api_stats(http_req *r);
int api_metrics_get(http_req *r);
int api_alarms_list(http_req *r);
int api_alarms_get(http_req *r);
int api_products_list(http_req *r);
int api_products_create(http_req *r);
int api_products_get(http_req *r);
int api_products_put(http_req *r);
int api_products_delete(http_req *r);
int api_health(http_req *r);

/* ---- metrics (http/metrics.c) ---------------------------------------------- */

/* Sets a->metrics = m and registers the families that mirror the modules
 * of a (store, queues, bus, functions, orders, inventory, process) with
 * their collectors.  After the modules are open; 0 or ORD_ENOMEM. */
int api_metrics_init(api *a, metrics *m);
/* Removes the collectors (before the modules close).  Safe when not init. */
void api_metrics_release(api *a);

/* ---- async units ------------------------------------------------------- */

/* Builds the reply after the unit committed (rc = the unit's return); runs
 * on the HTTP worker once the request is resumed, so the store's writer only
 * commits.  Must call exactly one http_reply_*. */
typedef void (*api_reply_fn)(http_req *r, void *op, int rc);
/* Optional, runs on the writer right after the commit: returns 1 when it
 * arranged a later api_resubmit instead (a long poll that found nothing),
 * 0 to go on to the reply. */
typedef int (*api_wait_fn)(void *op, int rc);

/* Suspends r and submits unit(tx, op); after commit resumes r and has the
 * worker call reply(r, op, rc).  When the store refuses the unit (overloaded,
 * shutting down) it replies 503 at once.  Always returns 0 (the request is
 * answered either way).  op must live in the request arena. */
int api_submit(http_req *r, store_unit_fn unit, api_reply_fn reply, void *op);
/* The same with a wait step, and for a request already suspended. */
int api_submit_wait(http_req *r, store_unit_fn unit, api_wait_fn wait, api_reply_fn reply, void *op);
void api_resubmit(http_req *r, store_unit_fn unit, api_wait_fn wait, api_reply_fn reply, void *op);

/* ---- validation helpers -------------------------------------------------- */

/* Validation errors collect into a JSON array [{"field","message"}]
 * (lib/verr.h: verr_add, verr_reject_unknown). */
/* Reads an optional integer member: absent -> *out = def.  Adds an error for
 * a non-integer or a value outside lo..hi.  Returns 1 when present. */
int api_int(json_t *errors, const json_t *obj, const char *key, const char *field, long long lo,
            long long hi, long long def, long long *out);
/* Replies 422 with the collected errors when there are any (steals errors)
 * and returns 1; else frees errors and returns 0. */
int api_fail(http_req *r, json_t *errors);

/* Looks up {name} of the route as a queue; replies 404 and returns NULL. */
queue *api_queue(http_req *r);

#endif
