/* api.c - what the HTTP resources share: the route table, async units,
 * validation helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "auth/auth.h"
#include "http/api.h"
#include "http/requests.h"
#include "http/console.h"
#include "http/static.h"
#include "lib/verr.h"
#include "lib/err.h"

/* THE route-and-role table: every route, who may call it, and the status
 * of its success.  Roles (auth.h): admin everything; operator reads
 * everything, redrives and purges DLQs, replays events, restocks; viewer
 * reads everything; customer creates and reads and cancels its own orders
 * (the handlers narrow it to its own: another customer's order is a 404)
 * and reads products.  PUBLIC needs no credentials; ANON_ORDERS is public
 * when auth.anonymousOrders is on; METRICS when auth.metricsPublic is on.
 * A route without access bits is refused to everyone (fail closed). */
#define PUBLIC HTTP_ACCESS_PUBLIC
#define ADMIN ROLE_ADMIN
#define OPS (ROLE_ADMIN | ROLE_OPERATOR)
#define STAFF ROLES_STAFF
#define CUST ROLE_CUSTOMER
#define ANY ROLES_ALL
const http_route api_routes[] = {
    /* queues (SQS) */
    {"GET", "/api/queues", api_queues_list, STAFF, 200},
    {"POST", "/api/queues", api_queues_create, ADMIN, 201},
    {"GET", "/api/queues/{name}", api_queue_get, STAFF, 200},
    {"DELETE", "/api/queues/{name}", api_queue_drop, ADMIN, 204},
    {"GET", "/api/queues/{name}/attributes", api_queue_attrs_get, STAFF, 200},
    {"PUT", "/api/queues/{name}/attributes", api_queue_attrs_put, ADMIN, 200},
    {"POST", "/api/queues/{name}/messages", api_queue_send, ADMIN, 200},
    {"GET", "/api/queues/{name}/messages", api_queue_browse, STAFF, 200}, /* browse, nothing received */
    {"POST", "/api/queues/{name}/messages/batch", api_queue_send_batch, ADMIN, 200},
    {"POST", "/api/queues/{name}/messages/delete", api_queue_delete_batch, ADMIN, 200},
    {"DELETE", "/api/queues/{name}/messages/{receipt}", api_queue_delete, ADMIN, 204},
    {"POST", "/api/queues/{name}/messages/{receipt}/visibility", api_queue_visibility, ADMIN, 200},
    {"POST", "/api/queues/{name}/receive", api_queue_receive, ADMIN, 200},
    {"POST", "/api/queues/{name}/redrive", api_queue_redrive, OPS, 202}, /* 200 with messageIds */
    {"POST", "/api/queues/{name}/purge", api_queue_purge, OPS, 200},
    /* the bus */
    {"POST", "/api/events", api_events_put, ADMIN, 200},
    {"GET", "/api/events", api_events_search, STAFF, 200},
    {"POST", "/api/events/replay", api_events_replay, OPS, 202},
    {"GET", "/api/tasks", api_tasks_list, STAFF, 200},
    {"GET", "/api/tasks/{id}", api_tasks_get, STAFF, 200},
    {"POST", "/api/tasks/{id}/cancel", api_tasks_cancel, OPS, 200},
    {"GET", "/api/rules", api_rules_list, STAFF, 200},
    {"GET", "/api/functions", api_functions_list, STAFF, 200},
    /* orders */
    {"POST", "/api/orders", api_orders_create, ADMIN | CUST, 202},
    {"POST", "/orders", api_orders_create, ADMIN | CUST | ACCESS_ANON_ORDERS, 202},
    {"GET", "/api/orders", api_orders_list, ANY, 200},
    {"GET", "/api/orders/{id}", api_orders_get, ANY, 200},
    {"DELETE", "/api/orders/{id}", api_orders_cancel, ADMIN | CUST, 200},
    {"GET", "/api/orders/{id}/events", api_orders_events, ANY, 200},
    {"GET", "/api/stats", api_stats, STAFF, 200},
    /* products */
    {"GET", "/api/products", api_products_list, ANY, 200},
    {"POST", "/api/products", api_products_create, ADMIN, 201},
    {"GET", "/api/products/{sku}", api_products_get, ANY, 200},
    {"PUT", "/api/products/{sku}", api_products_put, OPS, 200}, /* operator: stock only */
    {"DELETE", "/api/products/{sku}", api_products_delete, ADMIN, 204},
    /* operations */
    {"GET", "/api/alarms", api_alarms_list, STAFF, 200},
    {"GET", "/api/alarms/{name}", api_alarms_get, STAFF, 200},
    {"GET", "/metrics", api_metrics_get, STAFF | ACCESS_METRICS, 200},
    {"GET", "/api/health", api_health, STAFF, 200},
    /* the web console: live stream (filtered by principal), charts' history, its files;
     * its other pages are index.html through http_opts.fallback */
    {"GET", "/api/stream", api_stream, ANY, 200},
    {"GET", "/api/metrics/history", api_metrics_history, STAFF, 200},
    {"GET", "/api/openapi.json", api_openapi, PUBLIC, 200},
    {"GET", "/", api_console_index, PUBLIC, 200},
    {"GET", "/orders", api_console_index, PUBLIC, 200},
    {"GET", "/assets/{file}", api_console_asset, PUBLIC, 200},
    /* accounts and access */
    {"POST", "/api/login", api_login, PUBLIC, 200},
    {"POST", "/api/refresh", api_refresh, PUBLIC, 200},
    {"POST", "/api/logout", api_logout, PUBLIC, 204},
    {"GET", "/api/me", api_me, ANY, 200},
    {"GET", "/api/users", api_users_list, ADMIN, 200},
    {"POST", "/api/users", api_users_create, ADMIN, 201},
    {"GET", "/api/users/{id}", api_users_get, ADMIN, 200},
    {"PATCH", "/api/users/{id}", api_users_patch, ADMIN, 200},
    {"DELETE", "/api/users/{id}", api_users_delete, ADMIN, 204},
    {"GET", "/api/keys", api_keys_list, ADMIN, 200},
    {"POST", "/api/keys", api_keys_create, ADMIN, 201},
    {"DELETE", "/api/keys/{id}", api_keys_delete, ADMIN, 204},
    {"GET", "/api/audit", api_audit_list, ADMIN, 200},
    {"GET", "/api/customers/{id}/export", api_customer_export, ADMIN | CUST, 200},
    {"DELETE", "/api/customers/{id}", api_customer_erase, ADMIN, 200},
    {0, 0, 0, 0, 0},
};

/* A worker node's (--mode worker): what operations read, with the same
 * access as in api_routes. */
const http_route api_worker_routes[] = {
    {"GET", "/metrics", api_metrics_get, STAFF | ACCESS_METRICS, 200},
    {"GET", "/api/health", api_health, STAFF, 200},
    {0, 0, 0, 0, 0},
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

/* A committed change and its audit row commit together or not at all: the
 * row is written in the change's unit (its status is the route's success,
 * or what the unit set with api_audit_status). */
static int audit_in_unit(store_conn *tx, http_req *r)
{
    api *a = http_req_app(r);
    api_ctx *c = http_req_user(r);
    const char *m = http_req_method(r);
    if (!a->auth || !a->access.enabled || !c || c->audited || !strcmp(m, "GET") || !strcmp(m, "HEAD")) return 0;
    const char *target = c->target;
    if (!target) target = http_req_param(r, "id") ? http_req_param(r, "id") : http_req_param(r, "name");
    if (!target) target = http_req_param(r, "sku");
    audit_entry e = {&c->p, m, http_req_route(r), target, c->status ? c->status : http_req_ok_status(r), c->ip,
                     http_req_id(r), NULL};
    int rc = auth_audit_tx(tx, &e);
    if (!rc) c->audited = 1;
    return rc;
}

static int pending_unit(store_conn *tx, void *arg)
{
    pending *p = arg;
    int rc = p->unit(tx, p->op);
    return rc ? rc : audit_in_unit(tx, p->r);
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
    api_ctx *c = http_req_user(p->r);
    if (rc && c) c->audited = 0; /* its row rolled back with it: api_done records the failure */
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

int api_admit(http_req *r)
{
    api *a = http_req_app(r);
    int rc = store_admit(a->st);
    if (!rc) return 0;
    char d[128];
    snprintf(d, sizeof d, "the server has more than %d ms of work queued: try again later",
             a->admission_ms);
    http_reply_problem(r, rc, d, NULL);
    return 1;
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

int api_limit_parse(const char *lim, int def, int max, int *out, char *detail, size_t detail_len)
{
    *out = def;
    if (!lim) return 0;
    char *end;
    long v = strtol(lim, &end, 10);
    if (!*lim || *end || v < 1 || v > max) {
        snprintf(detail, detail_len, "limit must be an integer between 1 and %d", max);
        return ORD_EINVAL;
    }
    *out = (int)v;
    return 0;
}

int api_page_limit(http_req *r, int def, int max, int *out)
{
    char d[64];
    if (!api_limit_parse(http_req_query(r, "limit"), def, max, out, d, sizeof d)) return 0;
    http_reply_problem(r, ORD_EINVAL, d, NULL);
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
