/* api.c - what the HTTP resources share: the route table, async units,
 * validation helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "lib/verr.h"
#include "lib/err.h"

const http_route api_routes[] = {
    {"GET", "/api/queues", api_queues_list},
    {"POST", "/api/queues", api_queues_create},
    {"GET", "/api/queues/{name}", api_queue_get},
    {"GET", "/api/queues/{name}/attributes", api_queue_attrs_get},
    {"PUT", "/api/queues/{name}/attributes", api_queue_attrs_put},
    {"POST", "/api/queues/{name}/messages", api_queue_send},
    {"POST", "/api/queues/{name}/messages/batch", api_queue_send_batch},
    {"POST", "/api/queues/{name}/messages/delete", api_queue_delete_batch},
    {"DELETE", "/api/queues/{name}/messages/{receipt}", api_queue_delete},
    {"POST", "/api/queues/{name}/messages/{receipt}/visibility", api_queue_visibility},
    {"POST", "/api/queues/{name}/receive", api_queue_receive},
    {"POST", "/api/queues/{name}/redrive", api_queue_redrive},
    {"POST", "/api/queues/{name}/purge", api_queue_purge},
    {"POST", "/api/events", api_events_put},
    {"POST", "/api/events/replay", api_events_replay},
    {"GET", "/api/rules", api_rules_list},
    {"POST", "/api/orders", api_orders_create},
    {"POST", "/orders", api_orders_create},
    {"GET", "/api/orders", api_orders_list},
    {"GET", "/api/orders/{id}", api_orders_get},
    {"DELETE", "/api/orders/{id}", api_orders_cancel},
    {"GET", "/api/orders/{id}/events", api_orders_events},
    {"GET", "/api/stats", api_stats},
    {"GET", "/api/alarms", api_alarms_list},
    {"GET", "/api/alarms/{name}", api_alarms_get},
    {"GET", "/metrics", api_metrics_get},
    {"GET", "/api/products", api_products_list},
    {"POST", "/api/products", api_products_create},
    {"GET", "/api/products/{sku}", api_products_get},
    {"PUT", "/api/products/{sku}", api_products_put},
    {"DELETE", "/api/products/{sku}", api_products_delete},
    {"GET", "/api/health", api_health},
    {0, 0, 0},
};

const http_route api_worker_routes[] = {
    {"GET", "/metrics", api_metrics_get},
    {"GET", "/api/health", api_health},
    {0, 0, 0},
};

/* ---- async units ----------------------------------------------------------- */

typedef struct pending {
    http_req *r;
    store_unit_fn unit;
    api_wait_fn wait;
    api_reply_fn reply;
    void *op;
    int rc;
} pending;

static int pending_unit(store_conn *tx, void *arg)
{
    pending *p = arg;
    return p->unit(tx, p->op);
}

static void pending_reply(http_req *r, void *arg)
{
    pending *p = arg;
    p->reply(r, p->op, p->rc);
}

static void pending_done(void *arg, int rc)
{
    pending *p = arg;
    p->rc = rc;
    if (p->wait && p->wait(p->op, rc)) return;
    http_req_resume_then(p->r, pending_reply, p);
}

void api_resubmit(http_req *r, store_unit_fn unit, api_wait_fn wait, api_reply_fn reply, void *op)
{
    api *a = http_req_app(r);
    pending *p = http_req_alloc(r, sizeof *p);
    int rc = ORD_ENOMEM;
    if (p) {
        *p = (pending){r, unit, wait, reply, op, 0};
        rc = store_submit(a->st, pending_unit, pending_done, p);
    }
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        http_req_resume(r);
    }
}

int api_submit_wait(http_req *r, store_unit_fn unit, api_wait_fn wait, api_reply_fn reply, void *op)
{
    http_req_suspend(r);
    api_resubmit(r, unit, wait, reply, op);
    return 0;
}

int api_submit(http_req *r, store_unit_fn unit, api_reply_fn reply, void *op)
{
    return api_submit_wait(r, unit, NULL, reply, op);
}

/* ---- validation ------------------------------------------------------------ */

int api_int(json_t *errors, const json_t *obj, const char *key, const char *field, long long lo, long long hi,
            long long def, long long *out)
{
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v) return 0;
    if (!json_is_integer(v)) {
        verr_add(errors, field, "must be an integer");
        return 1;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        verr_add(errors, field, "must be between %lld and %lld", lo, hi);
        return 1;
    }
    *out = x;
    return 1;
}

int api_fail(http_req *r, json_t *errors)
{
    if (verr_count(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    http_reply_problem(r, ORD_EVALIDATION, "the request has invalid fields", errors);
    return 1;
}

queue *api_queue(http_req *r)
{
    api *a = http_req_app(r);
    const char *name = http_req_param(r, "name");
    queue *q = name ? queue_find(a->qs, name) : NULL;
    if (!q) {
        char d[LIMIT_QUEUE_NAME_MAX + 40];
        snprintf(d, sizeof d, "no queue named '%.80s'", name ? name : "");
        http_reply_problem(r, ORD_ENOTFOUND, d, NULL);
    }
    return q;
}
