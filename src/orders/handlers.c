/* handlers.c - the order system's functions and dead-letter hooks.
 *
 * TRUST.  A message is input from outside the trust boundary (anyone who
 * may send to a queue can write one), so a handler takes from it only the
 * id of the event it carries.  In the record's unit (writer thread) it looks
 * that event up in the event log - the archive the server wrote, where
 * orderly.* sources come only from the server - and the order the logged
 * event is about, and decides from those rows: what the message claims
 * (a payment token, a customer, items) is never read.  A forged message can
 * at most name a real event again, which the idempotency record of
 * (function, event id) turns into a duplicate.  Every status change goes
 * through the state machine (ord_transition), so a late or repeated event
 * (a cancelled order, a redelivered payment) changes nothing.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/count.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/log.h"
#include "orders/internal.h"

struct wake;
/* A function's decision about the logged event of its record, in the
 * record's unit.  0, ORD_ENOTFOUND (no such order: nothing to do), or an
 * error with its reason in error. */
typedef int (*decide_fn)(store_conn *tx, const struct wake *w, ord_event *ev, char *error, size_t errlen);

/* What a handler keeps of its record: the wake-up, nothing the message says
 * - unless the record is the bus's own, in process: then the event as the
 * bus logged it in this same transaction (and its envelope, the record's
 * body, for the detail), so the log need not be read back. */
typedef struct wake {
    orders *o;
    char event_id[128];
    int attempt;
    decide_fn decide;
    ord_event logged; /* valid when has_logged */
    int has_logged;
} wake;

static const char *str_at(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* In the record's unit: the logged event of the wake-up, decided on. */
static int wake_apply(store_conn *tx, void *state, char *error, size_t errlen)
{
    wake *w = state;
    ord_event ev;
    int rc = 0;
    if (w->has_logged)
        ev = w->logged;
    else
        rc = ord_event_load(tx, w->event_id, &ev);
    if (rc == ORD_ENOTFOUND) {
        snprintf(error, errlen, "event %.64s is not in the event log", w->event_id);
        return ORD_EHANDLER;
    }
    if (rc) return rc;
    rc = w->decide(tx, w, &ev, error, errlen);
    ord_event_release(&ev);
    return rc == ORD_ENOTFOUND ? 0 : rc;
}

/* On the poller (or the writer, for a record the bus sent in-process: its
 * event id is known, the envelope the bus wrote need not be parsed): the
 * record must carry an EventBridge envelope; its id is the wake-up.  The
 * decision runs in apply, inside the record's unit. */
static int wake_up(const fn_record *rec, fn_result *res, orders *o, decide_fn decide)
{
    const json_t *env = rec->body;
    if (!rec->event && (!json_is_object(env) || !json_is_string(json_object_get(env, "detail-type")) ||
                        !json_is_string(json_object_get(env, "id")))) {
        snprintf(res->error, sizeof res->error, "message does not contain a valid EventBridge envelope");
        return ORD_EHANDLER;
    }
    wake *w = calloc(1, sizeof *w);
    if (!w) return ORD_ENOMEM;
    w->o = o;
    str_copy(w->event_id, sizeof w->event_id, rec->event_id);
    w->attempt = rec->attempt;
    w->decide = decide;
    if (rec->event) {
        ord_event_view(&w->logged, rec->event, rec->msg->body, rec->msg->body_len);
        w->has_logged = 1;
    }
    res->apply = wake_apply;
    res->state = w;
    res->free_state = free;
    return 0;
}

/* An event emitted by the server about an order (its subject). */
static int server_event(const ord_event *ev, const char *type)
{
    return !strcmp(ev->source, ORDERS_SOURCE) && ev->subject[0] && (!type || !strcmp(ev->detail_type, type));
}

/* The order a logged event is about: its subject, or for an OrderPlaced
 * event the order it created.  0, ORD_ENOTFOUND or a store error. */
static int order_of_event(store_conn *tx, orders *o, const ord_event *ev, ord_order *ord)
{
    if (ev->subject[0]) return ord_order_load_tx(tx, o, ev->subject, ord);
    return ORD_ENOTFOUND;
}

static int not_handled(const char *function, ord_event *ev, char *error, size_t errlen)
{
    snprintf(error, errlen, "%s does not handle %.64s events from %.64s", function, ev->detail_type, ev->source);
    return ORD_EHANDLER;
}

/* ---- order-processor ---------------------------------------------------------- */

static int reject(store_conn *tx, orders *o, const ord_order *ord, const char *reason, const char *sku)
{
    log_info("orders", "order rejected", "orderId", ord->id, "reason", reason, "sku", sku, NULL);
    const jdump_member x[] = {{"sku", sku, NULL, NULL}};
    return ord_transition(tx, o, ord, ORDER_REJECTED, reason, x, sku ? 1 : 0);
}

/* Seed 000's OrderPlaced detail ({orderId, customerId, items:[{sku,
 * quantity}], payment?, _postDeployTestForceResult?}, as archived) as an
 * order_in.  0, or ORD_EHANDLER with the reason. */
static int placed_order(const orders *o, const json_t *detail, order_in *in, char *error, size_t errlen)
{
    /* a test hook from outside: only when the configuration asks for it */
    const char *force = o->cfg.test_hooks ? str_at(detail, "_postDeployTestForceResult") : "";
    json_t *payment = json_object_get(detail, "payment");
    json_t *items = json_object_get(detail, "items");
    json_t *oid = json_object_get(detail, "orderId");
    json_t *req = json_pack("{s:O,s:O}", "orderId", oid ? oid : json_null(), "items", items ? items : json_null());
    json_t *cust = json_object_get(detail, "customerId");
    if (!req) return ORD_ENOMEM;
    if (cust) json_object_set(req, "customerId", cust);
    if (!strcmp(force, "FAILURE"))
        json_object_set_new(req, "payment", json_pack("{s:s}", "token", "tok_chargeDeclined"));
    else if (payment)
        json_object_set(req, "payment", payment);
    json_t *errors = json_array();
    int rc = errors ? orders_parse(req, in, errors) : ORD_ENOMEM;
    if (rc) {
        json_t *e = json_array_get(errors, 0);
        snprintf(error, errlen, "Invalid order detail structure: %s: %s", str_at(e, "field"), str_at(e, "message"));
        rc = ORD_EHANDLER;
    }
    json_decref(errors);
    json_decref(req);
    return rc;
}

static int fail_injected(orders *o, const char *order_id, const char *const *skus, int n, char *error, size_t errlen)
{
    if (!o->fail_sku[0]) return 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(skus[i], o->fail_sku)) {
            snprintf(error, errlen, "Failure injection triggered for sku=%s", o->fail_sku);
            log_error("orders", "processing_failed", "orderId", order_id, "errorMessage", error, "outcome", "failed",
                      NULL);
            return ORD_EHANDLER;
        }
    return 0;
}

/* The order an OrderPlaced event creates (when absent): 0 with ord loaded,
 * ORD_ENOTFOUND when the order exists but came from another event (nothing
 * to do), or an error. */
static int placed(store_conn *tx, orders *o, ord_event *ev, ord_order *ord, char *error, size_t errlen)
{
    order_in in;
    const json_t *detail = ord_event_detail(ev);
    if (!detail) return ORD_ENOMEM;
    int rc = placed_order(o, detail, &in, error, errlen);
    if (rc) return rc;
    rc = ord_order_load(tx, in.order_id, ord);
    if (rc == 0) {
        if (strcmp(ord->event_id, ev->id)) {
            log_warn("orders", "OrderPlaced for an existing order ignored", "orderId", in.order_id, "eventId", ev->id,
                     NULL);
            return ORD_ENOTFOUND;
        }
        return 0;
    }
    if (rc != ORD_ENOTFOUND) return rc;
    const char *skus[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < in.nitems; i++) skus[i] = in.items[i].sku;
    if ((rc = fail_injected(o, in.order_id, skus, in.nitems, error, errlen))) return rc;
    if ((rc = ord_insert(tx, o, &in, in.order_id, ev->id, clock_wall_ms(), NULL))) return rc;
    /* the event that created the order joins its timeline */
    store_stmt *st = store_prep(tx, ST_EVENT_SET_SUBJECT);
    store_bind_str(st, 1, ev->id);
    store_bind_str(st, 2, in.order_id);
    if ((rc = store_exec(st))) return rc;
    return ord_order_load(tx, in.order_id, ord);
}

static int reserve(store_conn *tx, orders *o, const ord_order *ord, char *error, size_t errlen)
{
    const char *skus[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < ord->nitems; i++) skus[i] = ord->items[i].sku;
    int rc = fail_injected(o, ord->id, skus, ord->nitems, error, errlen);
    if (rc) return rc;
    if (!ord_can(ord, ORDER_RESERVED, NULL)) return 0; /* already decided (or cancelled) */
    if (ord->units > o->cfg.max_units || ord->total_cents > o->cfg.max_value_cents)
        return reject(tx, o, ord, "order_limit", NULL);
    int short_at, unknown;
    rc = ord_reserve_all(tx, o, ord, &short_at, &unknown);
    if (rc == ORD_ECONDITION)
        return reject(tx, o, ord, unknown ? "unknown_sku" : "out_of_stock", ord->items[short_at].sku);
    if (rc) return rc;
    if (log_enabled(LOG_INFO)) /* seed 000's post-deploy check greps the order log for these */
        for (int i = 0; i < ord->nitems; i++)
            log_info("orders", "stock reserved", "orderId", ord->id, "sku", ord->items[i].sku, "#reserved",
                     ord->items[i].qty, NULL);
    int64_t qtys[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < ord->nitems; i++) qtys[i] = ord->items[i].qty;
    const jdump_member token[] = {{"token", ord->token, NULL, NULL}};
    char *items = ord_items_text(skus, qtys, ord->nitems), *payment = jdump_members(token, COUNT(token), NULL);
    char amount[24];
    snprintf(amount, sizeof amount, "%lld", (long long)ord->total_cents);
    const jdump_member x[] = {{"items", NULL, items, NULL}, {"payment", NULL, payment, NULL},
                              {"amountCents", NULL, amount, NULL}};
    rc = items && payment ? ord_transition(tx, o, ord, ORDER_RESERVED, NULL, x, COUNT(x)) : ORD_ENOMEM;
    free(items);
    free(payment);
    return rc;
}

static int order_decide(store_conn *tx, const wake *w, ord_event *ev, char *error, size_t errlen)
{
    ord_order ord;
    int rc;
    if (!strcmp(ev->detail_type, "OrderPlaced") && strncmp(ev->source, "orderly.", 8)) {
        rc = placed(tx, w->o, ev, &ord, error, errlen);
    } else if (server_event(ev, "OrderCreated")) {
        rc = ord_order_load_tx(tx, w->o, ev->subject, &ord);
        if (rc == 0 && strcmp(ord.event_id, ev->id)) { /* not the event that created it */
            log_warn("orders", "OrderCreated event of another order creation ignored", "orderId", ord.id, "eventId",
                     ev->id, NULL);
            return 0;
        }
    } else {
        return not_handled("order-processor", ev, error, errlen);
    }
    if (rc == ORD_ENOTFOUND) log_warn("orders", "event for an unknown order ignored", "eventId", ev->id, NULL);
    return rc ? rc : reserve(tx, w->o, &ord, error, errlen);
}

static int order_handler(const fn_record *rec, fn_result *res, void *ud)
{
    return wake_up(rec, res, ud, order_decide);
}

/* ---- payment-processor ---------------------------------------------------------- */

static int pay(store_conn *tx, orders *o, const ord_order *ord, int attempt, char *error, size_t errlen)
{
    if (!ord_can(ord, ORDER_COMPLETED, NULL)) return 0; /* cancelled, expired or already paid */
    const char *decline, *why;
    payment_result pr = orders_payment_call(o, ord->token, attempt, &decline, &why);
    /* the breaker hears every call's outcome, whatever becomes of this unit */
    int to = breaker_record(&o->breaker, clock_mono_ms(), pr != PAYMENT_TRANSIENT);
    if (to >= 0) ord_circuit_transition(o, to);
    if (pr == PAYMENT_TRANSIENT) {
        snprintf(error, errlen, "%s (attempt %d)", why, attempt);
        atomic_fetch_add(&o->ctr.payments[ORDERS_PAY_FAILED_TRANSIENT], 1);
        return ORD_EHANDLER;
    }
    int captured = pr == PAYMENT_CAPTURED;
    log_info("orders", captured ? "Payment outcome: SUCCESS" : "Payment outcome: FAILURE", "orderId", ord->id, NULL);
    char pid[ID_UUID_LEN + 1];
    id_uuid7(pid);
    store_stmt *st = store_prep(tx, ST_PAYMENT_INSERT);
    store_bind_str(st, 1, ord->id);
    store_bind_str(st, 2, pid);
    store_bind_str(st, 3, captured ? "captured" : "declined");
    store_bind_str(st, 4, ord->token);
    store_bind_i64(st, 5, ord->total_cents);
    store_bind_i64(st, 6, clock_wall_ms());
    int rc = store_exec(st);
    if (rc == ORD_ECONFLICT) return 0; /* one payment per order, ever */
    if (rc) return rc;
    if ((rc = store_count_after_commit(tx, &o->ctr.payments[captured ? ORDERS_PAY_CAPTURED : ORDERS_PAY_DECLINED],
                                       1)))
        return rc;
    if (!captured) {
        if ((rc = ord_release(tx, o, ord))) return rc;
        const jdump_member x[] = {{"paymentId", pid, NULL, NULL}};
        return ord_transition(tx, o, ord, ORDER_PAYMENT_FAILED, decline, x, COUNT(x));
    }
    if ((rc = ord_capture(tx, o, ord))) return rc;
    char amount[24];
    snprintf(amount, sizeof amount, "%lld", (long long)ord->total_cents);
    const jdump_member x[] = {{"paymentId", pid, NULL, NULL}, {"amountCents", NULL, amount, NULL}};
    return ord_transition(tx, o, ord, ORDER_COMPLETED, NULL, x, COUNT(x));
}

static int payment_decide(store_conn *tx, const wake *w, ord_event *ev, char *error, size_t errlen)
{
    ord_order ord;
    if (!server_event(ev, "PaymentRequested")) return not_handled("payment-processor", ev, error, errlen);
    int rc = order_of_event(tx, w->o, ev, &ord);
    return rc ? rc : pay(tx, w->o, &ord, w->attempt, error, errlen);
}

/* Before the record's unit: a provider that answers slowly must not hold
 * the store's writer (an in-process record goes to the pollers, untried),
 * and an open circuit turns the record away untried, back in the queue
 * for the retry delay without counting toward the DLQ. */
static int payment_handler(const fn_record *rec, fn_result *res, void *ud)
{
    orders *o = ud;
    int latency = atomic_load(&o->sim_latency_ms);
    if (latency && rec->in_process) {
        res->defer_ms = 0;
        return FN_DEFER;
    }
    int from;
    int64_t due;
    int allow = breaker_allow(&o->breaker, clock_mono_ms(), &due, &from);
    if (from == BREAKER_OPEN) ord_circuit_transition(o, BREAKER_HALF_OPEN);
    if (allow == BREAKER_REFUSE) {
        int64_t d = o->cfg.breaker_retry_ms;
        res->defer_ms = d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
        snprintf(res->error, sizeof res->error, "the circuit %s is open: not called", ORDERS_CIRCUIT);
        return FN_DEFER;
    }
    if (latency) { /* the provider's time, on a poller (or a drain) */
        struct timespec ts = {latency / 1000, (long)(latency % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) && errno == EINTR) {
        }
    }
    return wake_up(rec, res, ud, payment_decide);
}

/* ---- notification-processor ------------------------------------------------------- */

static int notify(store_conn *tx, orders *o, ord_event *ev, const ord_order *ord)
{
    char *payload = ord_event_detail_text(ev);
    if (!payload) return ORD_ENOMEM;
    store_stmt *st = store_prep(tx, ST_NOTIFICATION_INSERT);
    store_bind_str(st, 1, ev->id);
    store_bind_str(st, 2, ord->id);
    store_bind_str(st, 3, "email");
    store_bind_str(st, 4, ev->detail_type);
    store_bind_str(st, 5, ord->customer_id);
    store_bind_str(st, 6, payload);
    store_bind_i64(st, 7, clock_wall_ms());
    int rc = store_exec(st);
    free(payload);
    if (rc == ORD_ECONFLICT) return 0; /* this event was notified already */
    if (rc) return rc;
    const jdump_member m[] = {{"orderId", ord->id, NULL, NULL},
                              {"channel", "email", NULL, NULL},
                              {"template", ev->detail_type, NULL, NULL},
                              {"recipient", ord->customer_id, NULL, NULL},
                              {"eventId", ev->id, NULL, NULL}};
    return ord_emit(tx, o, "NotificationSent", ord->id, m, COUNT(m));
}

/* An event the state machine appends when an order ends (or fails). */
static int terminal_event(const char *type)
{
    for (int i = 0; i < ORDER_TRANSITIONS; i++)
        if (order_transitions[i].to != ORDER_RESERVED && !strcmp(order_transitions[i].event, type)) return 1;
    return 0;
}

static int notify_decide(store_conn *tx, const wake *w, ord_event *ev, char *error, size_t errlen)
{
    ord_order ord;
    if (!server_event(ev, NULL) || !terminal_event(ev->detail_type))
        return not_handled("notification-processor", ev, error, errlen);
    int rc = order_of_event(tx, w->o, ev, &ord);
    return rc ? rc : notify(tx, w->o, ev, &ord);
}

static int notify_handler(const fn_record *rec, fn_result *res, void *ud)
{
    return wake_up(rec, res, ud, notify_decide);
}

/* ---- failures and dead letters ------------------------------------------------------- */

/* The order a message's event is about, from the event log (never from
 * the message), when the event is of one of types (NULL = any): 0,
 * ORD_ENOTFOUND or a store error. */
static int order_of_message(store_conn *tx, orders *o, const char *event_id, const char *const *types,
                            ord_order *ord)
{
    ord_event ev;
    int rc = ord_event_load(tx, event_id, &ev);
    if (rc) return rc;
    int ok = !types;
    for (const char *const *t = types; t && *t && !ok; t++) ok = !strcmp(*t, ev.detail_type);
    rc = ok ? order_of_event(tx, o, &ev, ord) : ORD_ENOTFOUND;
    ord_event_release(&ev);
    return rc;
}

/* A failed attempt at an order's own event is kept on the order (attempts,
 * lastError); a message naming some other event is not the order's attempt. */
static int record_attempt(store_conn *tx, orders *o, const fn_record *rec, const char *error,
                          const char *const *types)
{
    ord_order ord;
    int rc = order_of_message(tx, o, rec->event_id, types, &ord);
    if (rc) return rc == ORD_ENOTFOUND ? 0 : rc;
    store_stmt *st = store_prep(tx, ST_ORDER_ATTEMPT);
    store_bind_str(st, 1, ord.id);
    store_bind_str(st, 2, error);
    store_bind_i64(st, 3, clock_wall_ms());
    ord_copy_drop(tx, o, ord.id);
    return store_exec(st);
}

static int order_on_failure(store_conn *tx, const fn_record *rec, const char *error, void *ud)
{
    static const char *const types[] = {"OrderCreated", "OrderPlaced", NULL};
    return record_attempt(tx, ud, rec, error, types);
}

static int payment_on_failure(store_conn *tx, const fn_record *rec, const char *error, void *ud)
{
    static const char *const types[] = {"PaymentRequested", NULL};
    return record_attempt(tx, ud, rec, error, types);
}

/* The event an order in status s waits to be processed: its creation while
 * PENDING, its payment request while RESERVED. */
static int awaited(const ord_order *ord, const ord_event *ev)
{
    switch (ord_effective_status(ord)) {
    case ORDER_PENDING:
        return !strcmp(ev->id, ord->event_id);
    case ORDER_RESERVED:
        return !strcmp(ev->detail_type, "PaymentRequested");
    default:
        return 0;
    }
}

/* In the receive unit that moves a message to a DLQ: when the message
 * carries the event its order waits for, the order is FAILED, remembering
 * the state it resumes to when the message is redriven.  A dead-lettered
 * message naming any other event (a forgery, a stray copy) is not the
 * order's failure. */
static int on_dead_letter(store_conn *tx, const queue *src, const queue_msg *m, void *ud)
{
    orders *o = ud;
    json_t *env = json_loadb(m->body, m->body_len, 0, NULL);
    char event_id[128];
    str_copy(event_id, sizeof event_id, str_at(env, "id"));
    json_decref(env);
    ord_event ev;
    ord_order ord;
    int rc = event_id[0] ? ord_event_load(tx, event_id, &ev) : ORD_ENOTFOUND;
    if (rc) return rc == ORD_ENOTFOUND ? 0 : rc;
    rc = order_of_event(tx, o, &ev, &ord);
    int waits = rc == 0 && awaited(&ord, &ev);
    ord_event_release(&ev);
    if (rc) return rc == ORD_ENOTFOUND ? 0 : rc;
    if (!waits || !ord_can(&ord, ORDER_FAILED, "dead_lettered")) return 0;
    log_warn("orders", "order failed: message dead-lettered", "orderId", ord.id, "queue", queue_name(src), "lastError",
             ord.last_error, NULL);
    const jdump_member x[] = {{"queue", queue_name(src), NULL, NULL},
                              {"failedFrom", order_status_name(ord.status), NULL, NULL},
                              {"lastError", ord.last_error, NULL, NULL}};
    return ord_transition(tx, o, &ord, ORDER_FAILED, "dead_lettered", x, ord.last_error[0] ? 3 : 2);
}

int orders_register(orders *o, fn_sys *fs)
{
    int rc;
    if ((rc = fn_handler_register(fs, "order-processor", order_handler, o)) ||
        (rc = fn_handler_register(fs, "payment-processor", payment_handler, o)) ||
        (rc = fn_handler_register(fs, "notification-processor", notify_handler, o)) ||
        /* pure C deciding from the database: they run to completion on the writer */
        (rc = fn_handler_inline(fs, "order-processor")) || (rc = fn_handler_inline(fs, "payment-processor")) ||
        (rc = fn_handler_inline(fs, "notification-processor")) ||
        (rc = fn_handler_on_failure(fs, "order-processor", order_on_failure)) ||
        (rc = fn_handler_on_failure(fs, "payment-processor", payment_on_failure)))
        return rc;
    queue_sys_on_dead_letter(o->qs, on_dead_letter, o);
    return 0;
}
