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
#include "auth/auth.h"
#include "bus/bus.h"
#include "fn/fn.h"
#include "http/server.h"
#include "obs/alarms.h"
#include "obs/metrics.h"
#include "orders/orders.h"
#include "queue/queue.h"
#include "store/store.h"
#include "tasks/tasks.h"

struct api_metrics;
struct console;

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
    struct console *console; /* the web console's stream and history (http/console.h); NULL = none */
    auth *auth;             /* accounts; NULL or disabled = every route open (loopback only) */
    tasks *tasks;           /* background replays and redrives */
    struct {
        int enabled, anonymous_orders, metrics_public;
        int nhosts, nproxies;
        char hosts[LIMIT_HOSTS_MAX][LIMIT_LISTEN_ADDR_MAX + 1];   /* Host names accepted */
        char proxies[LIMIT_HOSTS_MAX][48];                         /* trusted for X-Forwarded-For */
    } access;
    int admission_ms;     /* store.admissionBacklogMs, for the 503's detail */
    _Atomic int ready;    /* /ready answers 200 when set */
    _Atomic int draining; /* shutting down: long polls answer now */
} api;

/* Access bits of the route table beside the roles (auth.h ROLE_*): */
#define ACCESS_ANON_ORDERS 0x100 /* public when auth.anonymousOrders is on (seed 001's POST /orders) */
#define ACCESS_METRICS 0x200     /* public when auth.metricsPublic is on (GET /metrics) */

/* What the guard learned about a request (http_req_user). */
typedef struct api_ctx {
    auth_principal p;     /* who is calling; anonymous on public routes */
    char ip[48];          /* the client: the peer, or X-Forwarded-For from a trusted proxy */
    const char *target;   /* what it is about, for the audit (request memory); NULL = the route's parameter */
    int status;           /* the answer a committed change gets, when not the route's (api_audit_status) */
    int audited;          /* its audit row went into the unit of its change */
    int read_audit;       /* a staff read of a customer's data: audited once answered */
} api_ctx;

/* The guard (guard.c): Host allow-list, rate limits, who is calling, what
 * the route table lets it do, cross-site checks of cookie sessions.  And
 * the audit of what the guard and the units did not record (done). */
int api_guard(void *app, http_req *r);
void api_done(void *app, http_req *r, int status);
/* The request's context: never NULL after the guard. */
api_ctx *api_ctx_of(http_req *r);
/* A customer principal (its own orders only). */
int api_is_customer(http_req *r);
/* Marks r a staff read of customer data about target (audited once answered). */
void api_audit_read(http_req *r, const char *target);
/* Inside a unit: the status the committed change answers with, when it is
 * not the route's (an order that existed: 200, not 202). */
void api_audit_status(http_req *r, int status);

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
int api_queue_drop(http_req *r); /* DELETE /api/queues/{name} */
int api_events_put(http_req *r);
int api_events_replay(http_req *r);
int api_tasks_list(http_req *r);
int api_tasks_get(http_req *r);
int api_tasks_cancel(http_req *r);
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
int api_login(http_req *r);
int api_refresh(http_req *r);
int api_logout(http_req *r);
int api_me(http_req *r);
int api_users_list(http_req *r);
int api_users_create(http_req *r);
int api_users_get(http_req *r);
int api_users_patch(http_req *r);
int api_users_delete(http_req *r);
int api_keys_list(http_req *r);
int api_keys_create(http_req *r);
int api_keys_delete(http_req *r);
int api_audit_list(http_req *r);
int api_customer_export(http_req *r);
int api_customer_erase(http_req *r);

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

/* Admission control, first thing in a handler that brings new work (an
 * order, events, messages): 0, or 1 when r was answered 503 overloaded with
 * Retry-After because the writer has more than store.admissionBacklogMs of
 * work queued (store_admit). */
int api_admit(http_req *r);
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

/* ?limit= of a paged list: absent -> *out = def; 1..max, else replies 400 and
 * returns 1. */
int api_page_limit(http_req *r, int def, int max, int *out);

/* Starts a background task (a replay, or a redrive when redrive is not
 * NULL) and answers 202 with it, 409 when one of its kind runs, 400 past
 * LIMIT_TASKS_ACTIVE (http/events.c). */
int api_task_start(http_req *r, const task_replay_in *replay, const task_redrive_in *redrive);

/* Looks up {name} of the route as a queue; replies 404 and returns NULL. */
queue *api_queue(http_req *r);

#endif
