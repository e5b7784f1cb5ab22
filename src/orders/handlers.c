/* handlers.c - the order system's functions and hooks.
 *
 * Each handler runs on a poller thread: it reads the envelope, decides what
 * it can without the database (failure injection, the simulated payment
 * provider) and returns an apply closure; the runtime runs that closure in
 * the record's unit with the idempotency record and the fenced delete, so a
 * state change, its inventory effects and the event it emits commit once.
 * The closures re-check the order's status, so a late or repeated message
 * (a cancelled order, a redelivered payment) changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "obs/log.h"
#include "orders/internal.h"

typedef struct op {
    orders *o;
    char order_id[LIMIT_ORDER_ID_MAX + 1];
    char event_id[128];
    char type[32];
    /* order-processor: an OrderPlaced event creates the order when absent */
    int placed;
    order_in in;
    /* payment-processor */
    int captured;
    char decline[32];
    char payment_id[ID_UUID_LEN + 1];
    /* notification-processor */
    char recipient[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1];
    json_t *detail;
    /* the event the success path emits, built here off the writer */
    bus_prepared ev;
    int has_ev;
} op;

static void op_free(void *p)
{
    op *x = p;
    json_decref(x->detail);
    if (x->has_ev) bus_prepared_release(&x->ev);
    free(x);
}

/* Builds the success event now (poller thread); steals detail. */
static int prepare_event(op *x, const char *type, json_t *detail)
{
    if (!detail) return ORD_ENOMEM;
    bus_event ev = {.source = ORDERS_SOURCE, .detail_type = type, .detail = detail, .subject = x->order_id};
    int rc = bus_prepare(x->o->b, &ev, &x->ev);
    json_decref(detail);
    x->has_ev = rc == 0;
    return rc;
}

static const char *str_at(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Common envelope reading; fills type, detail, order id.  0 or ORD_EHANDLER with res->error. */
static int read_envelope(const fn_record *rec, fn_result *res, op *x)
{
    const json_t *env = rec->body;
    const json_t *detail = json_object_get(env, "detail");
    if (!json_is_object(env) || !json_is_object(detail) || !json_is_string(json_object_get(env, "detail-type"))) {
        snprintf(res->error, sizeof res->error, "message does not contain a valid EventBridge envelope");
        return ORD_EHANDLER;
    }
    snprintf(x->type, sizeof x->type, "%s", str_at(env, "detail-type"));
    snprintf(x->event_id, sizeof x->event_id, "%s", rec->event_id);
    const char *id = str_at(detail, "orderId");
    if (!*id || strlen(id) > LIMIT_ORDER_ID_MAX) {
        snprintf(res->error, sizeof res->error, "%s event without a valid orderId", x->type);
        return ORD_EHANDLER;
    }
    snprintf(x->order_id, sizeof x->order_id, "%s", id);
    x->detail = json_incref((json_t *)detail);
    return 0;
}

static op *op_new(orders *o)
{
    op *x = calloc(1, sizeof *x);
    if (x) x->o = o;
    return x;
}

static int fail(fn_result *res, op *x, int rc)
{
    if (x) op_free(x);
    res->apply = NULL;
    res->state = NULL;
    res->free_state = NULL;
    return rc;
}

/* ---- order-processor ---------------------------------------------------------- */

static int reject(store_conn *tx, orders *o, const ord_order *ord, const char *reason, const char *sku)
{
    int rc = ord_set_status(tx, o, ord->id, "REJECTED", reason, NULL, 0, 0);
    if (rc) return rc;
    log_info("orders", "order rejected", "orderId", ord->id, "reason", reason, "sku", sku, NULL);
    json_t *d = json_pack("{s:s,s:s,s:s}", "orderId", ord->id, "customerId", ord->customer_id, "reason", reason);
    if (sku) json_object_set_new(d, "sku", json_string(sku));
    return ord_emit(tx, o, "OrderRejected", ord->id, d);
}

static int order_apply(store_conn *tx, void *state)
{
    op *x = state;
    orders *o = x->o;
    ord_order ord;
    int rc = ord_order_load(tx, x->order_id, &ord);
    if (rc == ORD_ENOTFOUND && x->placed) {
        if ((rc = ord_insert(tx, o, &x->in, x->order_id, x->event_id, clock_wall_ms()))) return rc;
        rc = ord_order_load(tx, x->order_id, &ord);
    }
    if (rc == ORD_ENOTFOUND) {
        log_warn("orders", "event for an unknown order ignored", "orderId", x->order_id, "eventId", x->event_id, NULL);
        return 0;
    }
    if (rc) return rc;
    if (strcmp(ord_effective_status(&ord), "PENDING")) return 0; /* already decided (or cancelled) */
    if (ord.units > o->cfg.max_units || ord.total_cents > o->cfg.max_value_cents)
        return reject(tx, o, &ord, "order_limit", NULL);
    /* reserve item by item with the conditional UPDATE; if one is refused,
     * give back what this order took and reject it (all or nothing) */
    int64_t now = clock_wall_ms();
    for (int i = 0; i < ord.nitems; i++) {
        rc = ord.items[i].known ? ord_stock_change(tx, o, ST_PRODUCT_RESERVE, ord.items[i].sku, ord.items[i].qty)
                                : ORD_ENOTFOUND;
        if (rc == 0 && (rc = store_count_after_commit(tx, &o->ctr.reservations_ok, 1))) return rc;
        if (rc == 0) continue;
        if (rc != ORD_ECONDITION && rc != ORD_ENOTFOUND) return rc;
        for (int k = 0; k < i; k++) {
            int r2 = ord_stock_change(tx, o, ST_PRODUCT_RELEASE, ord.items[k].sku, ord.items[k].qty);
            CHECK(r2 != ORD_ECONDITION); /* it was reserved just above */
            if (r2) return r2;
        }
        ord_product p;
        int unknown = rc == ORD_ENOTFOUND || ord_product_load(tx, ord.items[i].sku, &p) == ORD_ENOTFOUND;
        if (!unknown && (rc = store_count_after_commit(tx, &o->ctr.reservations_short, 1))) return rc;
        return reject(tx, o, &ord, unknown ? "unknown_sku" : "out_of_stock", ord.items[i].sku);
    }
    if (log_enabled(LOG_INFO)) /* seed 000's post-deploy check greps the order log for these */
        for (int i = 0; i < ord.nitems; i++)
            log_info("orders", "stock reserved", "orderId", ord.id, "sku", ord.items[i].sku, "#reserved",
                     ord.items[i].qty, NULL);
    if ((rc = ord_set_status(tx, o, ord.id, "RESERVED", NULL, NULL, now, 0))) return rc;
    if ((rc = bus_prepared_add_int(&x->ev, "amountCents", ord.total_cents))) return rc;
    return bus_publish_prepared_tx(tx, o->b, &x->ev, NULL);
}

/* An OrderPlaced event (seed 000: {orderId, customerId, items:[{sku, quantity}],
 * _postDeployTestForceResult?}) becomes an order_in. */
static int placed_order(op *x, fn_result *res)
{
    const char *force = str_at(x->detail, "_postDeployTestForceResult");
    json_t *payment = json_object_get(x->detail, "payment");
    json_t *req = json_pack("{s:s,s:O}", "orderId", x->order_id, "items",
                            json_object_get(x->detail, "items") ? json_object_get(x->detail, "items") : json_null());
    json_t *cust = json_object_get(x->detail, "customerId");
    if (cust) json_object_set(req, "customerId", cust);
    if (!strcmp(force, "FAILURE"))
        json_object_set_new(req, "payment", json_pack("{s:s}", "token", "tok_chargeDeclined"));
    else if (payment)
        json_object_set(req, "payment", payment);
    json_t *errors = json_array();
    int rc = orders_parse(req, &x->in, errors);
    if (rc) {
        json_t *e = json_array_get(errors, 0);
        snprintf(res->error, sizeof res->error, "Invalid order detail structure: %s: %s", str_at(e, "field"),
                 str_at(e, "message"));
    }
    json_decref(errors);
    json_decref(req);
    return rc ? ORD_EHANDLER : 0;
}

static int order_handler(const fn_record *rec, fn_result *res, void *ud)
{
    orders *o = ud;
    op *x = op_new(o);
    if (!x) return ORD_ENOMEM;
    int rc = read_envelope(rec, res, x);
    if (rc) return fail(res, x, rc);
    if (o->fail_sku[0]) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(x->detail, "items"), i, it) if (!strcmp(str_at(it, "sku"), o->fail_sku))
        {
            snprintf(res->error, sizeof res->error, "Failure injection triggered for sku=%s", o->fail_sku);
            log_error("orders", "processing_failed", "eventId", rec->event_id, "orderId", x->order_id, "errorMessage",
                      res->error, "outcome", "failed", NULL);
            return fail(res, x, ORD_EHANDLER);
        }
    }
    if (!strcmp(x->type, "OrderPlaced")) {
        x->placed = 1;
        if ((rc = placed_order(x, res))) return fail(res, x, rc);
    } else if (strcmp(x->type, "OrderCreated")) {
        snprintf(res->error, sizeof res->error, "order-processor does not handle %s", x->type);
        return fail(res, x, ORD_EHANDLER);
    }
    /* PaymentRequested, for the path where every item is reserved */
    json_t *items = json_array();
    const char *token = x->placed ? x->in.token : str_at(json_object_get(x->detail, "payment"), "token");
    if (x->placed) {
        for (int i = 0; i < x->in.nitems; i++)
            json_array_append_new(items, json_pack("{s:s,s:i}", "sku", x->in.items[i].sku, "qty", x->in.items[i].qty));
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(x->detail, "items"), i, it)
            json_array_append_new(items, json_pack("{s:s,s:O}", "sku", str_at(it, "sku"), "qty", json_object_get(it, "qty")));
    }
    const char *customer = x->placed ? x->in.customer_id : str_at(x->detail, "customerId");
    if ((rc = prepare_event(x, "PaymentRequested",
                            json_pack("{s:s,s:s,s:o,s:{s:s}}", "orderId", x->order_id, "customerId", customer, "items",
                                      items, "payment", "token", *token ? token : "tok_visa"))))
        return fail(res, x, rc);
    res->apply = order_apply;
    res->state = x;
    res->free_state = op_free;
    return 0;
}

/* ---- payment-processor ---------------------------------------------------------- */

static int payment_apply(store_conn *tx, void *state)
{
    op *x = state;
    orders *o = x->o;
    ord_order ord;
    int rc = ord_order_load(tx, x->order_id, &ord);
    if (rc == ORD_ENOTFOUND) return 0;
    if (rc) return rc;
    if (strcmp(ord_effective_status(&ord), "RESERVED")) return 0; /* cancelled, expired or already paid */
    const char *pid = x->payment_id;
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(tx, ST_PAYMENT_INSERT);
    store_bind_str(st, 1, ord.id);
    store_bind_str(st, 2, pid);
    store_bind_str(st, 3, x->captured ? "captured" : "declined");
    store_bind_str(st, 4, ord.token);
    store_bind_i64(st, 5, ord.total_cents);
    store_bind_i64(st, 6, now);
    rc = store_exec(st);
    if (rc == ORD_ECONFLICT) return 0; /* one payment per order, ever */
    if (rc) return rc;
    if ((rc = store_count_after_commit(tx, &o->ctr.payments[x->captured ? ORDERS_PAY_CAPTURED : ORDERS_PAY_DECLINED], 1)))
        return rc;
    if (!x->captured) {
        if ((rc = ord_release(tx, o, &ord))) return rc;
        if ((rc = ord_set_status(tx, o, ord.id, "PAYMENT_FAILED", x->decline, NULL, 0, 0))) return rc;
        return bus_publish_prepared_tx(tx, o->b, &x->ev, NULL);
    }
    for (int i = 0; i < ord.nitems; i++) {
        rc = ord_stock_change(tx, o, ST_PRODUCT_CAPTURE, ord.items[i].sku, ord.items[i].qty);
        CHECK(rc != ORD_ECONDITION); /* a RESERVED order holds its units */
        if (rc) return rc;
    }
    if ((rc = ord_set_status(tx, o, ord.id, "COMPLETED", NULL, NULL, 0, now))) return rc;
    if ((rc = bus_prepared_add_int(&x->ev, "amountCents", ord.total_cents))) return rc;
    return bus_publish_prepared_tx(tx, o->b, &x->ev, NULL);
}

static int payment_handler(const fn_record *rec, fn_result *res, void *ud)
{
    orders *o = ud;
    op *x = op_new(o);
    if (!x) return ORD_ENOMEM;
    int rc = read_envelope(rec, res, x);
    if (rc) return fail(res, x, rc);
    const char *token = str_at(json_object_get(x->detail, "payment"), "token");
    if (!*token) token = "tok_visa";
    /* the simulated provider, by token (Stripe's test tokens) */
    if (!strcmp(token, "tok_processingError") && rec->attempt < 3) {
        snprintf(res->error, sizeof res->error, "processing_error: the provider timed out (attempt %d)", rec->attempt);
        atomic_fetch_add(&o->ctr.payments[ORDERS_PAY_FAILED_TRANSIENT], 1);
        return fail(res, x, ORD_EHANDLER);
    }
    x->captured = strcmp(token, "tok_chargeDeclined") && strcmp(token, "tok_insufficientFunds");
    snprintf(x->decline, sizeof x->decline, "%s",
             !strcmp(token, "tok_insufficientFunds") ? "insufficient_funds" : "card_declined");
    log_info("orders", x->captured ? "Payment outcome: SUCCESS" : "Payment outcome: FAILURE", "orderId", x->order_id,
             "token", token, NULL);
    id_uuid7(x->payment_id);
    const char *customer = str_at(x->detail, "customerId");
    rc = x->captured ? prepare_event(x, "OrderCompleted",
                                     json_pack("{s:s,s:s,s:s}", "orderId", x->order_id, "customerId", customer,
                                               "paymentId", x->payment_id))
                     : prepare_event(x, "PaymentFailed",
                                     json_pack("{s:s,s:s,s:s,s:s}", "orderId", x->order_id, "customerId", customer,
                                               "paymentId", x->payment_id, "reason", x->decline));
    if (rc) return fail(res, x, rc);
    res->apply = payment_apply;
    res->state = x;
    res->free_state = op_free;
    return 0;
}

/* ---- notification-processor ------------------------------------------------------- */

static int notify_apply(store_conn *tx, void *state)
{
    op *x = state;
    char *payload = json_dumps(x->detail, JSON_COMPACT);
    if (!payload) return ORD_ENOMEM;
    store_stmt *st = store_prep(tx, ST_NOTIFICATION_INSERT);
    store_bind_str(st, 1, x->event_id);
    store_bind_str(st, 2, x->order_id);
    store_bind_str(st, 3, "email");
    store_bind_str(st, 4, x->type);
    store_bind_str(st, 5, x->recipient);
    store_bind_str(st, 6, payload);
    store_bind_i64(st, 7, clock_wall_ms());
    int rc = store_exec(st);
    free(payload);
    if (rc == ORD_ECONFLICT) return 0; /* this event was notified already */
    if (rc) return rc;
    return bus_publish_prepared_tx(tx, x->o->b, &x->ev, NULL);
}

static int notify_handler(const fn_record *rec, fn_result *res, void *ud)
{
    op *x = op_new(ud);
    if (!x) return ORD_ENOMEM;
    int rc = read_envelope(rec, res, x);
    if (rc) return fail(res, x, rc);
    snprintf(x->recipient, sizeof x->recipient, "%s", str_at(x->detail, "customerId"));
    if ((rc = prepare_event(x, "NotificationSent",
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "orderId", x->order_id, "channel", "email", "template",
                                      x->type, "recipient", x->recipient, "eventId", x->event_id))))
        return fail(res, x, rc);
    res->apply = notify_apply;
    res->state = x;
    res->free_state = op_free;
    return 0;
}

/* ---- failures and dead letters ------------------------------------------------------- */

static const char *order_id_of(const json_t *env)
{
    return str_at(json_object_get(env, "detail"), "orderId");
}

/* A failed attempt: kept on the order (attempts, lastError). */
static int on_failure(store_conn *tx, const fn_record *rec, const char *error, void *ud)
{
    const char *id = order_id_of(rec->body);
    if (!*id) return 0;
    store_stmt *st = store_prep(tx, ST_ORDER_ATTEMPT);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, error);
    store_bind_i64(st, 3, clock_wall_ms());
    return store_exec(st);
}

/* In the receive unit that moves a message to a DLQ: the order is FAILED,
 * remembering the state it resumes to when the message is redriven. */
static int on_dead_letter(store_conn *tx, const queue *src, const queue_msg *m, void *ud)
{
    orders *o = ud;
    json_t *env = json_loadb(m->body, m->body_len, 0, NULL);
    char id[LIMIT_ORDER_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", env ? order_id_of(env) : "");
    json_decref(env);
    if (!id[0]) return 0;
    ord_order ord;
    int rc = ord_order_load(tx, id, &ord);
    if (rc == ORD_ENOTFOUND) return 0;
    if (rc) return rc;
    if (strcmp(ord.status, "PENDING") && strcmp(ord.status, "RESERVED")) return 0;
    if ((rc = ord_set_status(tx, o, id, "FAILED", "dead_lettered", ord.status, 0, 0))) return rc;
    log_warn("orders", "order failed: message dead-lettered", "orderId", id, "queue", queue_name(src), "lastError",
             ord.last_error, NULL);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s}", "orderId", id, "customerId", ord.customer_id, "reason",
                          "dead_lettered", "queue", queue_name(src), "failedFrom", ord.status);
    if (ord.last_error[0]) json_object_set_new(d, "lastError", json_string(ord.last_error));
    return ord_emit(tx, o, "OrderFailed", id, d);
}

int orders_register(orders *o, fn_sys *fs)
{
    int rc;
    if ((rc = fn_handler_register(fs, "order-processor", order_handler, o)) ||
        (rc = fn_handler_register(fs, "payment-processor", payment_handler, o)) ||
        (rc = fn_handler_register(fs, "notification-processor", notify_handler, o)) ||
        (rc = fn_handler_on_failure(fs, "order-processor", on_failure)) ||
        (rc = fn_handler_on_failure(fs, "payment-processor", on_failure)))
        return rc;
    queue_sys_on_dead_letter(o->qs, on_dead_letter, o);
    return 0;
}
