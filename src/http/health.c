/* health.c - readiness (/ready) and GET /api/health (seed 004).
 *
 * /ready (the load balancer's check; it must not block) answers 200 while
 * the node serves, is not draining, the latest write to the store committed
 * and every enabled function has all its pollers running.  After a failed
 * write it submits a probe unit, so a node that gets no traffic still finds
 * out that the database recovered.
 *
 * GET /api/health commits a probe unit (one row rewritten: a write that
 * must reach the disk), reads it back on a reader, then reports each
 * component: 200 {status:"healthy"} or 503 {status:"degraded"} when any of
 * them is not fine.  Components:
 *   database   connected | disconnected  (probe committed and read back)
 *   queues     connected | disconnected  (every queue's stats readable)
 *   functions  running | paused | degraded (enabled functions: pollers alive; paused
 *                                         names the functions an operator paused - they
 *                                         take nothing off their queues - and the node
 *                                         stays healthy: a pause is on purpose)
 *   pipeline   consumed | unconsumed     (every stage of the order flow reaches a
 *                                         function with pollers running; else orders
 *                                         stop at that stage: unconsumed names it)
 *   payments   available | circuit-open  (the payment provider's circuit breaker: degraded
 *                                         while open - payments wait in their queue)
 *   http       serving | draining        (SIGTERM received); waiting requests
 *                                         and their bounds, refused waits, deadline shutdowns
 * database and queue at the top level keep seed 004's shape.
 */
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include <stdio.h>

/* Every enabled function has all its pollers running; fills detail (may
 * be NULL) with {name: {enabled, pollers, pollersRunning}}. */
static int functions_running(fn_sys *fs, json_t *detail)
{
    int ok = 1;
    for (int i = 0; i < fn_count(fs); i++) {
        fn_stats st;
        const char *name = fn_name(fs, i);
        if (fn_stats_get(fs, name, &st)) continue;
        if (st.pollers_running < st.pollers) ok = 0;
        if (detail)
            json_object_set_new(detail, name,
                                json_pack("{s:b,s:b,s:i,s:i}", "enabled", st.enabled, "paused", st.paused,
                                          "pollers", st.pollers, "pollersRunning", st.pollers_running));
    }
    return ok;
}

int api_ready(void *app)
{
    api *a = app;
    if (!atomic_load(&a->ready) || atomic_load(&a->draining)) return 0;
    store_stats_t ss;
    store_stats(a->st, &ss);
    if (ss.sync_failed) return 0; /* for good: only a restart reopens the database */
    if (ss.write_failed) {
        store_probe(a->st); /* the next /ready sees whether it recovered */
        return 0;
    }
    return functions_running(a->fs, NULL);
}

typedef struct health_op {
    http_req *r;
    int64_t t0_us;
    int rc; /* the probe unit's: 0 when it committed */
} health_op;

static int probe_unit(store_conn *tx, void *arg)
{
    (void)arg;
    return store_probe_tx(tx);
}

static json_t *database_component(api *a, int probe_rc, int64_t probe_us, int *ok)
{
    int64_t probe_ms = 0;
    int read_rc = store_probe_read(a->st, &probe_ms);
    store_stats_t ss;
    store_stats(a->st, &ss);
    *ok = probe_rc == 0 && read_rc == 0;
    json_t *d =
        json_pack("{s:s,s:b,s:b,s:i,s:I,s:I,s:I}", "status", *ok ? "connected" : "disconnected",
                  "writable", probe_rc == 0, "readable", read_rc == 0, "schemaVersion",
                  store_schema_version(a->st), "probeMicros", (json_int_t)probe_us, "pendingWrites",
                  (json_int_t)ss.pending, "commitFailures", (json_int_t)ss.commit_failures);
    if (ss.sync_failed) {
        json_object_set_new(d, "status", json_string("sync-failed"));
        json_object_set_new(d, "error", json_string("a sync of the database failed: restart the node (writes are "
                                                    "refused until it reopens the database)"));
    } else if (probe_rc)
        json_object_set_new(d, "error", json_string(err_msg(probe_rc)));
    else if (read_rc)
        json_object_set_new(d, "error", json_string(err_msg(read_rc)));
    return d;
}

static json_t *queues_component(api *a, int *ok)
{
    int64_t visible = 0, in_flight = 0, dlq_visible = 0, oldest = 0;
    int n = queue_count(a->qs), failed = 0;
    for (int i = 0; i < n; i++) {
        queue *q = queue_at(a->qs, i);
        queue_stats st;
        if (queue_stats_get(a->qs, q, &st)) {
            failed++;
            continue;
        }
        if (queue_is_dlq(a->qs, q)) {
            dlq_visible += st.visible;
            continue;
        }
        visible += st.visible;
        in_flight += st.in_flight;
        if (st.oldest_age_s > oldest) oldest = st.oldest_age_s;
    }
    *ok = failed == 0;
    return json_pack("{s:s,s:i,s:I,s:I,s:I,s:I}", "status", *ok ? "connected" : "disconnected",
                     "count", n, "messagesVisible", (json_int_t)visible, "messagesInFlight",
                     (json_int_t)in_flight, "dlqMessagesVisible", (json_int_t)dlq_visible,
                     "oldestMessageAgeSeconds", (json_int_t)oldest);
}

static void health_reply(http_req *r, void *arg)
{
    health_op *op = arg;
    int rc = op->rc;
    api *a = http_req_app(r);
    int db_ok, q_ok, draining = atomic_load(&a->draining);
    json_t *fns = json_object();
    int fn_ok = functions_running(a->fs, fns);
    json_t *db = database_component(a, rc, clock_mono_us() - op->t0_us, &db_ok);
    json_t *qs = queues_component(a, &q_ok);
    int gaps[ORDERS_STAGES];
    int pipe_ok = orders_pipeline_gaps(a->o, a->fs, 1, gaps) == 0;
    json_t *unconsumed = json_array();
    for (int i = 0; i < ORDERS_STAGES; i++)
        if (gaps[i]) json_array_append_new(unconsumed, json_string(orders_stages[i]));
    http_stats hs;
    http_server_stats(http_req_server(r), &hs);
    breaker_info bi = {0};
    int breaker_on = 0;
    if (a->o) orders_circuit_get(a->o, &bi, &breaker_on);
    int circuit_ok = bi.state != BREAKER_OPEN; /* degraded while open: payments wait */
    int healthy = db_ok && q_ok && fn_ok && pipe_ok && circuit_ok && !draining;
    char ts[40];
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:{s:s},s:{s:s},s:{s:o,s:o,s:{s:s,s:o},s:{s:s,s:I,s:I}}}", "status",
                  healthy ? "healthy" : "degraded", "timestamp",
                  clock_fmt_iso(clock_wall_ms(), 1, ts, sizeof ts), "version", ORDERLY_VERSION,
                  "database", "status", db_ok ? "connected" : "disconnected", "queue", "status",
                  q_ok ? "connected" : "disconnected", "components", "database", db, "queues", qs,
                  "functions", "status", fn_ok ? "running" : "degraded", "functions", fns, "http",
                  "status", draining ? "draining" : "serving", "inFlight", (json_int_t)hs.in_flight,
                  "requests", (json_int_t)hs.requests);
    json_t *comps = json_object_get(body, "components");
    json_t *paused = json_array();
    for (int i = 0; i < fn_count(a->fs); i++) {
        fn_stats st;
        if (!fn_stats_get(a->fs, fn_name(a->fs, i), &st) && st.paused)
            json_array_append_new(paused, json_string(fn_name(a->fs, i)));
    }
    json_t *fcomp = json_object_get(comps, "functions");
    if (fn_ok && json_array_size(paused)) json_object_set_new(fcomp, "status", json_string("paused"));
    json_object_set_new(fcomp, "paused", paused);
    json_object_set_new(comps, "payments",
                        json_pack("{s:s,s:s,s:s,s:b,s:I}", "status", circuit_ok ? "available" : "circuit-open",
                                  "circuit", ORDERS_CIRCUIT, "circuitState", breaker_state_name(bi.state),
                                  "circuitBreaker", breaker_on, "providerCalls",
                                  (json_int_t)(a->o ? orders_provider_calls(a->o) : 0)));
    json_t *hc = json_object_get(comps, "http");
    if (hc)
        json_object_update_new(
            hc, json_pack("{s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I}}", "waiting", (json_int_t)hs.waiting, "waitingMax",
                          (json_int_t)hs.waiting_max, "waitingPerIpMax", (json_int_t)hs.waiting_per_ip_max,
                          "waitRefused", (json_int_t)hs.wait_refused, "deadlineShutdowns", "request",
                          (json_int_t)hs.timeouts_request, "response", (json_int_t)hs.timeouts_response,
                          "trimmed", (json_int_t)hs.timeouts_trimmed));
    if (!comps || json_object_set_new(comps, "pipeline",
                                      json_pack("{s:s,s:o}", "status", pipe_ok ? "consumed" : "unconsumed",
                                                "unconsumed", unconsumed))) {
        json_decref(body);
        http_reply_problem(r, ORD_ENOMEM, NULL, NULL);
        return;
    }
    http_reply_json(r, healthy ? 200 : 503, body);
}

/* writer thread, after the commit: the reply is built on the worker */
static void probe_done(void *arg, int rc)
{
    health_op *op = arg;
    op->rc = rc;
    http_req_resume_then(op->r, health_reply, op);
}

int api_health(http_req *r)
{
    api *a = http_req_app(r);
    health_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    *op = (health_op){r, clock_mono_us(), 0};
    http_req_suspend(r);
    /* a probe the store refuses (overloaded, closing) is a finding, not an
     * error reply.  op->rc is the writer's once the unit is queued: only a
     * refused submit (the unit never runs) may set it here */
    int rc = store_submit(a->st, probe_unit, probe_done, op);
    if (rc) {
        op->rc = rc;
        http_req_resume_then(r, health_reply, op);
    }
    return 0;
}
