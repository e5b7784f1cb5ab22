/* functions.c - the functions (event source mappings) and their control:
 *
 *   GET  /api/functions, GET /api/functions/{name}   settings, state, counters, in flight, last error
 *   POST /api/functions/{name}/pause | /resume       operator: durable, on every node (fn_pause_tx)
 *   POST /api/functions/{name}/drain                 process the queue now, also while paused:
 *                                                    {processed, failed, total}
 *   POST /api/orders/process-queue                   seed 003's name for draining order-processor
 *   POST /api/orders/worker/{action}                 seed 003's worker: start (resume), stop (pause),
 *                                                    status of order-processor
 */
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/verr.h"

#define ORDER_FUNCTION "order-processor" /* what seed 003's process-queue drains */

static json_t *iso_or_null(int64_t ms)
{
    char t[40];
    return ms ? json_string(clock_fmt_iso(ms, 1, t, sizeof t)) : json_null();
}

/* The function at index i as JSON, NULL when gone. */
static json_t *function_json(api *a, int i)
{
    fn_config c;
    fn_stats st;
    if (fn_config_get(a->fs, i, &c) || fn_stats_get(a->fs, c.name, &st)) return NULL;
    double avg_ms = st.invocations ? (double)st.duration_us_sum / 1000.0 / (double)st.invocations : 0;
    double avg_batch = st.invocations ? (double)st.batch_records / (double)st.invocations : 0;
    const char *state = !c.enabled ? "disabled" : st.paused ? "paused" : "enabled";
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:{s:i,s:i},s:i,s:i,s:b,s:b,s:i,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:i,s:i}}",
        "name", c.name, "handler", c.handler, "queue", c.queue, "state", state, "batchSize", c.batch_size,
        "batchingWindowMs", c.window_ms, "maxConcurrency", c.concurrency, "backoff", "baseMs", c.backoff_base_ms,
        "maxMs", c.backoff_max_ms, "idempotencyTtlSeconds", c.idempotency_ttl_s, "timeoutSeconds", c.timeout_s,
        "enabled", c.enabled, "paused", st.paused, "inFlight", st.in_flight, "draining", st.draining, "stats",
        "invocations", (json_int_t)st.invocations, "records", (json_int_t)st.records, "errors",
        (json_int_t)st.errors, "duplicates", (json_int_t)st.duplicates, "fenced", (json_int_t)st.fenced, "deferred",
        (json_int_t)st.deferred, "averageDurationMs", avg_ms, "averageBatchSize", avg_batch, "pollers", st.pollers,
        "pollersRunning", st.pollers_running);
    if (!o) return NULL;
    json_object_set_new(o, "stateChangedAt", iso_or_null(st.paused_ms));
    json_object_set_new(o, "stateChangedBy", st.paused_by[0] ? json_string(st.paused_by) : json_null());
    json_object_set_new(o, "lastError", st.last_error[0] ? json_string(st.last_error) : json_null());
    json_object_set_new(o, "lastErrorAt", iso_or_null(st.last_error_ms));
    return o;
}

int api_functions_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *arr = json_array();
    for (int i = 0; i < fn_count(a->fs); i++) {
        json_t *f = function_json(a, i);
        if (f) json_array_append_new(arr, f);
    }
    http_reply_json(r, 200, json_pack("{s:o}", "functions", arr));
    return 0;
}

/* {name} of the route as a function index; replies 404 and returns < 0. */
static int function_param(http_req *r, const char *name)
{
    api *a = http_req_app(r);
    int i = name ? fn_find(a->fs, name) : ORD_ENOTFOUND;
    if (i < 0) {
        char d[LIMIT_FUNCTION_NAME_MAX + 48];
        snprintf(d, sizeof d, "no function named '%.80s'", name ? name : "");
        http_reply_problem(r, ORD_ENOTFOUND, d, NULL);
    }
    return i;
}

int api_functions_get(http_req *r)
{
    api *a = http_req_app(r);
    int i = function_param(r, http_req_param(r, "name"));
    if (i < 0) return 0;
    json_t *f = function_json(a, i);
    if (!f) return ORD_ENOMEM;
    http_reply_json(r, 200, f);
    return 0;
}

/* A body, when sent, must be an object with only the keys allowed
 * (NULL-terminated); returns it (NULL when none was sent) in *out.  1 when
 * r was answered (bad input). */
static int optional_body(http_req *r, const char *const *allowed, json_t **out)
{
    size_t blen;
    *out = NULL;
    http_req_body(r, &blen);
    if (!blen) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 1;
    json_t *errors = json_array();
    verr_reject_unknown(errors, body, "", allowed);
    if (api_fail(r, errors)) return 1;
    *out = body;
    return 0;
}

typedef struct pause_op {
    api *a;
    int index, paused;
    char by[sizeof(((auth_principal *)0)->name)];
} pause_op;

static int pause_unit(store_conn *tx, void *arg)
{
    pause_op *op = arg;
    return fn_pause_tx(tx, op->a->fs, fn_name(op->a->fs, op->index), op->paused, op->by);
}

/* The function op names as JSON, with its state after the commit of op
 * (this node applied it after the commit; paused < 0: as it is); NULL once
 * a problem is answered (rc, or no memory). */
static json_t *function_after(http_req *r, pause_op *op, int rc)
{
    json_t *f = rc ? NULL : function_json(op->a, op->index);
    if (!f) {
        http_reply_problem(r, rc ? rc : ORD_ENOMEM, NULL, NULL);
        return NULL;
    }
    int paused = op->paused >= 0 ? op->paused : json_is_true(json_object_get(f, "paused"));
    json_object_set_new(f, "state", json_string(paused ? "paused" : "enabled"));
    json_object_set_new(f, "paused", json_boolean(paused));
    return f;
}

static void pause_reply(http_req *r, void *arg, int rc)
{
    json_t *f = function_after(r, arg, rc);
    if (f) http_reply_json(r, 200, f);
}

/* A pause (1), resume (0) or status (-1) of function i, by the caller. */
static pause_op *pause_op_new(http_req *r, int i, int paused)
{
    pause_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return NULL;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->index = i;
    op->paused = paused;
    api_ctx *c = http_req_user(r);
    str_copy(op->by, sizeof op->by, c && c->p.kind != PRINCIPAL_ANONYMOUS ? c->p.name : "");
    return op;
}

static int pause_or_resume(http_req *r, int paused)
{
    static const char *const none[] = {NULL};
    json_t *body;
    int i = function_param(r, http_req_param(r, "name"));
    if (i < 0 || optional_body(r, none, &body)) return 0;
    pause_op *op = pause_op_new(r, i, paused);
    return op ? api_submit(r, pause_unit, pause_reply, op) : ORD_ENOMEM;
}

/* Seed 003's worker control of order-processor: start = resume, stop =
 * pause, status = its state, answered as {status: "running"|"stopped",
 * message, function}. */
static void worker_reply(http_req *r, void *arg, int rc)
{
    pause_op *op = arg;
    json_t *f = function_after(r, op, rc);
    if (!f) return;
    int paused = json_is_true(json_object_get(f, "paused"));
    http_reply_json(r, 200,
                    json_pack("{s:s,s:s,s:o}", "status", paused ? "stopped" : "running", "message",
                              op->paused < 0 ? (paused ? "the worker is stopped" : "the worker is running")
                              : paused      ? "worker stopped: orders wait in the queue"
                                            : "worker started",
                              "function", f));
}

int api_orders_worker(http_req *r)
{
    static const char *const none[] = {NULL};
    json_t *body;
    const char *action = http_req_param(r, "action");
    int i = function_param(r, ORDER_FUNCTION);
    if (i < 0 || optional_body(r, none, &body)) return 0;
    int paused = !strcmp(action, "start") ? 0 : !strcmp(action, "stop") ? 1 : !strcmp(action, "status") ? -1 : -2;
    if (paused == -2) {
        http_reply_problem(r, ORD_EINVAL, "the action is start, stop or status", NULL);
        return 0;
    }
    pause_op *op = pause_op_new(r, i, paused);
    if (!op) return ORD_ENOMEM;
    if (paused < 0) { /* status: nothing to write */
        worker_reply(r, op, 0);
        return 0;
    }
    return api_submit(r, pause_unit, worker_reply, op);
}

int api_functions_pause(http_req *r)
{
    return pause_or_resume(r, 1);
}

int api_functions_resume(http_req *r)
{
    return pause_or_resume(r, 0);
}

typedef struct drain_op {
    http_req *r;
    const char *name;
    int seed003; /* answer in seed 003's envelope too */
    int rc;
    fn_drain_result res;
} drain_op;

static void drain_reply(http_req *r, void *arg)
{
    drain_op *op = arg;
    if (op->rc) {
        http_reply_problem(r, op->rc, NULL, NULL);
        return;
    }
    json_t *o = json_pack("{s:s,s:i,s:i,s:i,s:i,s:s}", "function", op->name, "processed", op->res.processed,
                          "failed", op->res.failed, "deferred", op->res.deferred, "total", op->res.total,
                          "stoppedBy", op->res.stopped);
    if (o && op->seed003) /* seed 003's {code, msg, data: {processed, failed, total}} */
        json_object_update_new(o, json_pack("{s:i,s:s,s:{s:i,s:i,s:i}}", "code", 200, "msg",
                                            "Queue processing complete", "data", "processed", op->res.processed,
                                            "failed", op->res.failed, "total", op->res.total));
    http_reply_json(r, 200, o);
}

/* On the drain's thread when it ended. */
static void drain_done(void *arg, int rc, const fn_drain_result *res)
{
    drain_op *op = arg;
    op->rc = rc;
    op->res = *res;
    http_req_resume_then(op->r, drain_reply, op);
}

static int drain(http_req *r, const char *name, int seed003)
{
    static const char *const allowed[] = {"maxRecords", NULL};
    json_t *body;
    int i = function_param(r, name);
    if (i < 0 || optional_body(r, allowed, &body)) return 0;
    long long max = LIMIT_FN_DRAIN_RECORDS_MAX;
    json_t *errors = json_array();
    if (body) api_int(errors, body, "maxRecords", "maxRecords", 1, LIMIT_FN_DRAIN_RECORDS_MAX, max, &max);
    if (api_fail(r, errors)) return 0;
    api *a = http_req_app(r);
    drain_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->name = fn_name(a->fs, i);
    op->seed003 = seed003;
    http_req_suspend(r);
    int rc = fn_drain_start(a->fs, op->name, (int)max, drain_done, op);
    if (rc) {
        const char *d = rc == ORD_ECONFLICT ? "a drain of this function is running: wait for its answer" : NULL;
        http_reply_problem(r, rc, d, NULL);
        http_req_resume(r);
    }
    return 0;
}

int api_functions_drain(http_req *r)
{
    return drain(r, http_req_param(r, "name"), 0);
}

int api_orders_process_queue(http_req *r)
{
    return drain(r, ORDER_FUNCTION, 1);
}
