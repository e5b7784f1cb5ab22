/* orders.c - /api/orders (and seed 001's POST /orders), /api/stats.
 *
 *   POST   /api/orders, /orders   create: 202 {orderId, eventId, status} + Location
 *   GET    /api/orders            ?status=&customerId=&limit=1..100&cursor=  newest first
 *   GET    /api/orders/{id}       the order
 *   DELETE /api/orders/{id}       cancel (409 when terminal)
 *   GET    /api/orders/{id}/events  the timeline from the event log  ?limit=1..1000&cursor=
 *   GET    /api/stats             seed 004's dashboard figures
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/api.h"
#include "http/requests.h"
#include "lib/count.h"
#include "lib/jdump.h"
#include "lib/verr.h"
#include "lib/err.h"
#include "lib/str.h"

typedef struct create_op {
    api *a;
    http_req *r;
    order_in in;
    char key[LIMIT_IDEM_KEY_MAX + 1];
    int has_key;
    order_prepared prep;
    order_create res;
    int reran;
} create_op;

/* The response an outcome is answered with - status and JSON text
 * (malloc'd) - made inside the unit too, so that an Idempotency-Key records
 * exactly what the client gets.  The 202 of every new order is written as
 * text, without JSON objects. */
static int create_response(store_conn *c, const order_create *res, int *status, char **text, size_t *len)
{
    json_t *body;
    switch (res->outcome) {
    case ORDER_CREATED: {
        *status = 202;
        const jdump_member m[] = {{"orderId", res->order_id, NULL, NULL},
                                  {"eventId", res->event_id, NULL, NULL},
                                  {"status", "PENDING", NULL, NULL}};
        *text = jdump_members(m, COUNT(m), len);
        return *text ? 0 : ORD_ENOMEM;
    }
    case ORDER_SAME:
        *status = 200;
        body = orders_get_conn(c, res->order_id);
        break;
    case ORDER_CONFLICT:
        *status = http_err_status(ORD_ECONFLICT);
        body = http_problem_json(ORD_ECONFLICT, "an order with this orderId exists with a different body", NULL);
        break;
    default:
        return ORD_EINTERNAL; /* replies of their own, never recorded */
    }
    *text = body ? jdump(body, len) : NULL;
    json_decref(body);
    return *text ? 0 : ORD_ENOMEM;
}

static int record_response(store_conn *tx, const order_create *res, int *status, char **text)
{
    return create_response(tx, res, status, text, NULL);
}

static int create_unit(store_conn *tx, void *arg)
{
    create_op *op = arg;
    free(op->res.replay_body); /* a unit can run again after a failed batch */
    op->res.replay_body = NULL;
    int rc = orders_create_tx(tx, op->a->o, &op->in, op->has_key ? op->key : NULL, record_response, &op->prep,
                              &op->res);
    static const int status[] = {[ORDER_CREATED] = 202, [ORDER_SAME] = 200, [ORDER_CONFLICT] = 409,
                                 [ORDER_KEY_MISMATCH] = 422, [ORDER_NO_PRODUCT] = 404};
    if (!rc) /* the audit row says what the client is answered */
        api_audit_status(op->r, op->res.outcome == ORDER_KEY_REPLAY ? op->res.replay_status : status[op->res.outcome]);
    return rc;
}

static void create_reply(http_req *r, void *arg, int rc);

/* On the writer: the unit lost a race with a request of the same
 * Idempotency-Key or orderId committed meanwhile by another node (its
 * insert found the key or id taken): run it once more, it then replays. */
static int create_wait(void *arg, int rc)
{
    create_op *op = arg;
    if (rc != ORD_ECONFLICT || op->reran) return 0;
    op->reran = 1;
    api_resubmit(op->r, create_unit, create_wait, create_reply, op);
    return 1;
}

static void set_location(http_req *r, const char *id)
{
    char loc[LIMIT_ORDER_ID_MAX + 16];
    snprintf(loc, sizeof loc, "/api/orders/%s", id);
    http_reply_header(r, "Location", loc);
}

static void create_reply(http_req *r, void *arg, int rc)
{
    create_op *op = arg;
    order_create *res = &op->res;
    int status;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        goto out;
    }
    if (res->outcome == ORDER_CONFLICT) {
        http_reply_problem(r, ORD_ECONFLICT, "an order with this orderId exists with a different body", NULL);
        goto out;
    }
    if (res->outcome == ORDER_KEY_MISMATCH) { /* a 422 names its field, as every validation error does */
        json_t *e = json_array();
        verr_add(e, "Idempotency-Key", "this key was used with a different request body");
        api_fail(r, e);
        goto out;
    }
    if (res->outcome == ORDER_NO_PRODUCT) { /* seed 003's 404: a product id that names no product */
        char f[32], m[LIMIT_ORDER_SKU_MAX + 40], d[sizeof f + LIMIT_ORDER_SKU_MAX + 64];
        const char *sku = op->in.items[res->item].sku;
        snprintf(f, sizeof f, "items[%d]", res->item);
        snprintf(m, sizeof m, "no product '%s'", sku);
        snprintf(d, sizeof d, "%s: no product '%s' (every product id of the order must exist)", f, sku);
        json_t *e = json_array();
        verr_add(e, f, "%s", m);
        http_reply_problem(r, ORD_ENOTFOUND, d, e);
        goto out;
    }
    if (res->outcome == ORDER_KEY_REPLAY) {
        http_reply_header(r, "Idempotent-Replayed", "true");
        json_t *replay = json_loads(res->replay_body ? res->replay_body : "{}", 0, NULL);
        const char *id = json_string_value(json_object_get(replay, "orderId"));
        status = res->replay_status;
        if (status < 300 && id) set_location(r, id);
        json_decref(replay);
        const char *text = res->replay_body ? res->replay_body : "{}";
        http_reply_raw(r, status, status >= 400 ? "application/problem+json" : "application/json", text,
                       strlen(text));
        goto out;
    }
    char *text = NULL;
    size_t len = 0;
    if ((rc = create_response(store_reader(op->a->st), res, &status, &text, &len))) {
        http_reply_problem(r, rc, NULL, NULL);
        goto out;
    }
    set_location(r, res->order_id);
    http_reply_raw(r, status, "application/json", text, len);
    free(text);
out:
    free(res->replay_body);
    res->replay_body = NULL;
}

static int key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > LIMIT_IDEM_KEY_MAX) return 0;
    for (; *k; k++)
        if (*k < 0x21 || *k > 0x7e) return 0;
    return 1;
}

int api_orders_create(http_req *r)
{
    api *a = http_req_app(r);
    if (api_admit(r)) return 0; /* before any parsing: a refusal costs little */
    size_t len;
    http_req_body(r, &len);
    if (len > LIMIT_ORDER_BODY_BYTES_MAX) {
        char d[64];
        snprintf(d, sizeof d, "an order body is at most %d bytes", LIMIT_ORDER_BODY_BYTES_MAX);
        http_reply_problem(r, ORD_ETOOBIG, d, NULL);
        return 0;
    }
    json_t *body = http_req_json(r);
    if (!body) return 0;
    create_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    op->r = r;
    json_t *errors = json_array();
    const char *key = http_req_header(r, "Idempotency-Key");
    if (key) {
        if (!key_valid(key))
            verr_add(errors, "Idempotency-Key", "1-%d printable ASCII characters", LIMIT_IDEM_KEY_MAX);
        else {
            str_copy(op->key, sizeof op->key, key);
            op->has_key = 1;
        }
    }
    /* a customer orders as itself: the token decides the customerId (OWASP API3) */
    if (api_is_customer(r)) {
        if (json_object_get(body, "customerId"))
            verr_add(errors, "customerId", "set from your account; a customer may not choose it");
        json_object_set_new(body, "customerId", json_string(api_ctx_of(r)->p.customer_id));
    }
    orders_parse(body, &op->in, errors);
    if (api_fail(r, errors)) return 0;
    int rc = orders_create_prepare(a->o, &op->in, &op->prep);
    if (rc) return rc;
    /* the envelope lives in the request arena: nothing to free on any path */
    char *text = http_req_alloc(r, op->prep.ev.len + 1);
    if (text) memcpy(text, op->prep.ev.text, op->prep.ev.len + 1);
    orders_prepared_release(&op->prep);
    if (!text) return ORD_ENOMEM;
    op->prep.ev.text = text;
    api_ctx_of(r)->target = op->prep.order_id;
    return api_submit_wait(r, create_unit, create_wait, create_reply, op);
}

/* A customer reaches its own orders only; another's is "not found" (no
 * existence oracle, OWASP API1).  Staff reads of an order are audited. */
static int visible(http_req *r, const json_t *order)
{
    api_ctx *c = api_ctx_of(r);
    if (c->p.role == ROLE_CUSTOMER) {
        const char *owner = json_string_value(json_object_get(order, "customerId"));
        return owner && !strcmp(owner, c->p.customer_id);
    }
    api_audit_read(r, http_req_param(r, "id"));
    return 1;
}

int api_orders_get(http_req *r)
{
    api *a = http_req_app(r);
    json_t *o = orders_get(a->o, http_req_param(r, "id"));
    if (!o || !visible(r, o)) {
        json_decref(o);
        return ORD_ENOTFOUND;
    }
    http_reply_json(r, 200, o);
    return 0;
}

int api_orders_events(http_req *r)
{
    api *a = http_req_app(r);
    json_t *o = api_is_customer(r) ? orders_get(a->o, http_req_param(r, "id")) : NULL;
    if (api_is_customer(r) && (!o || !visible(r, o))) {
        json_decref(o);
        return ORD_ENOTFOUND;
    }
    json_decref(o);
    if (!api_is_customer(r)) api_audit_read(r, http_req_param(r, "id"));
    int limit;
    if (api_page_limit(r, LIMIT_TIMELINE_PAGE_DEFAULT, LIMIT_TIMELINE_PAGE_MAX, &limit)) return 0;
    const char *cursor = http_req_query(r, "cursor");
    long long after = 0;
    if (cursor) {
        char *end;
        after = strtoll(cursor, &end, 10);
        if (!*cursor || *end || after < 0) {
            http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
            return 0;
        }
    }
    json_t *t = orders_timeline(a->o, http_req_param(r, "id"), after, limit);
    if (!t) return ORD_ENOTFOUND;
    http_reply_json(r, 200, t);
    return 0;
}

int api_orders_list_parse(const char *status, const char *customer, const char *lim, order_status *st, int *limit,
                          char *detail, size_t detail_len)
{
    if (api_limit_parse(lim, 20, LIMIT_ORDER_LIST_LIMIT_MAX, limit, detail, detail_len)) return ORD_EINVAL;
    if (status && order_status_parse(status, st)) {
        snprintf(detail, detail_len,
                 "status must be one of PENDING, RESERVED, COMPLETED, REJECTED, PAYMENT_FAILED, EXPIRED, "
                 "CANCELLED, FAILED");
        return ORD_EINVAL;
    }
    if (customer && (!*customer || strlen(customer) > LIMIT_ORDER_CUSTOMER_MAX)) {
        snprintf(detail, detail_len, "customerId must be 1-64 characters");
        return ORD_EINVAL;
    }
    return 0;
}

int api_orders_list(http_req *r)
{
    api *a = http_req_app(r);
    const char *status = http_req_query(r, "status"), *customer = http_req_query(r, "customerId");
    const char *lim = http_req_query(r, "limit"), *cursor = http_req_query(r, "cursor");
    int limit;
    order_status st;
    char d[200];
    if (api_orders_list_parse(status, customer, lim, &st, &limit, d, sizeof d)) {
        http_reply_problem(r, ORD_EINVAL, d, NULL);
        return 0;
    }
    api_ctx *c = api_ctx_of(r);
    if (c->p.role == ROLE_CUSTOMER) { /* its own orders, whatever it asks for */
        if (customer && strcmp(customer, c->p.customer_id)) {
            http_reply_json(r, 200, json_pack("{s:[]}", "orders"));
            return 0;
        }
        customer = c->p.customer_id;
    } else if (customer) {
        api_audit_read(r, customer);
    }
    json_t *out = NULL;
    int rc = orders_list(a->o, status ? &st : NULL, customer, limit, cursor, &out);
    if (rc == ORD_EVALIDATION) {
        http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
        return 0;
    }
    if (rc) return rc;
    http_reply_json(r, 200, out);
    return 0;
}

typedef struct cancel_op {
    api *a;
    const char *id;
    order_status status;
} cancel_op;

static int cancel_unit(store_conn *tx, void *arg)
{
    cancel_op *op = arg;
    return orders_cancel_tx(tx, op->a->o, op->id, &op->status);
}

static void cancel_reply(http_req *r, void *arg, int rc)
{
    cancel_op *op = arg;
    if (rc == ORD_ECONFLICT) {
        char d[80];
        snprintf(d, sizeof d, "the order is %s and can no longer be cancelled", order_status_name(op->status));
        http_reply_problem(r, rc, d, NULL);
        return;
    }
    if (rc) {
        http_reply_problem(r, rc, rc == ORD_ENOTFOUND ? "no such order" : NULL, NULL);
        return;
    }
    json_t *o = orders_get(op->a->o, op->id);
    if (o)
        http_reply_json(r, 200, o);
    else
        http_reply_problem(r, ORD_ESTORE, NULL, NULL);
}

int api_orders_cancel(http_req *r)
{
    if (api_is_customer(r)) {
        json_t *o = orders_get(((api *)http_req_app(r))->o, http_req_param(r, "id"));
        int mine = o && visible(r, o);
        json_decref(o);
        if (!mine) {
            http_reply_problem(r, ORD_ENOTFOUND, "no such order", NULL);
            return 0;
        }
    }
    cancel_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->id = http_req_param(r, "id");
    return api_submit(r, cancel_unit, cancel_reply, op);
}

int api_stats(http_req *r)
{
    api *a = http_req_app(r);
    json_t *s = orders_stats(a->o);
    if (!s) return ORD_ESTORE;
    http_reply_json(r, 200, s);
    return 0;
}
