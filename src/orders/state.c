/* state.c - the one order state machine: the table of allowed transitions
 * {from, to, reason, event} and the one function every status change goes
 * through.  Statuses are an enum; strings only at the edges (JSON, SQL).
 *
 *   PENDING  --reserve all items-->       RESERVED        PaymentRequested
 *   PENDING  --limit/unknown/short-->     REJECTED        OrderRejected
 *   RESERVED --payment captured-->        COMPLETED       OrderCompleted
 *   RESERVED --payment declined-->        PAYMENT_FAILED  PaymentFailed
 *   RESERVED --reservation timed out-->   EXPIRED         OrderExpired
 *   PENDING|RESERVED --DELETE-->          CANCELLED       OrderCancelled
 *   PENDING|RESERVED --dead-lettered-->   FAILED          OrderFailed
 *   FAILED moves as the status it failed from once its message is redriven.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/count.h"
#include "lib/err.h"
#include "orders/internal.h"

static const char *const status_names[ORDER_STATUSES] = {
    "PENDING", "RESERVED", "COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED",
};

const order_transition order_transitions[ORDER_TRANSITIONS] = {
    {ORDER_PENDING, ORDER_RESERVED, "", "PaymentRequested"},
    {ORDER_PENDING, ORDER_REJECTED, "order_limit", "OrderRejected"},
    {ORDER_PENDING, ORDER_REJECTED, "unknown_sku", "OrderRejected"},
    {ORDER_PENDING, ORDER_REJECTED, "out_of_stock", "OrderRejected"},
    {ORDER_RESERVED, ORDER_COMPLETED, "", "OrderCompleted"},
    {ORDER_RESERVED, ORDER_PAYMENT_FAILED, "card_declined", "PaymentFailed"},
    {ORDER_RESERVED, ORDER_PAYMENT_FAILED, "insufficient_funds", "PaymentFailed"},
    {ORDER_RESERVED, ORDER_EXPIRED, "reservation_timeout", "OrderExpired"},
    {ORDER_PENDING, ORDER_CANCELLED, "cancelled", "OrderCancelled"},
    {ORDER_RESERVED, ORDER_CANCELLED, "cancelled", "OrderCancelled"},
    {ORDER_PENDING, ORDER_FAILED, "dead_lettered", "OrderFailed"},
    {ORDER_RESERVED, ORDER_FAILED, "dead_lettered", "OrderFailed"},
};

const char *order_status_name(order_status s)
{
    CHECK(s >= 0 && s < ORDER_STATUSES);
    return status_names[s];
}

int order_status_parse(const char *name, order_status *out)
{
    for (int i = 0; i < ORDER_STATUSES; i++)
        if (!strcmp(status_names[i], name)) {
            *out = (order_status)i;
            return 0;
        }
    return ORD_EINVAL;
}

int order_transition_find(order_status from, order_status to, const char *reason)
{
    if (!reason) reason = "";
    for (int i = 0; i < (int)COUNT(order_transitions); i++) {
        const order_transition *t = &order_transitions[i];
        if (t->from == from && t->to == to && !strcmp(t->reason, reason)) return i;
    }
    return -1;
}

int order_status_terminal(order_status s)
{
    for (int i = 0; i < (int)COUNT(order_transitions); i++)
        if (order_transitions[i].from == s) return 0;
    return s != ORDER_FAILED;
}

order_status ord_effective_status(const ord_order *o)
{
    return o->status == ORDER_FAILED ? o->failed_from : o->status;
}

int ord_can(const ord_order *ord, order_status to, const char *reason)
{
    if (ord->status == ORDER_FAILED && to == ORDER_FAILED) return 0; /* dead-lettered again: already FAILED */
    return order_transition_find(ord_effective_status(ord), to, reason) >= 0;
}

int ord_emit(store_conn *tx, orders *o, const char *type, const char *order_id, const jdump_member *m, size_t n)
{
    char *detail = jdump_members(m, n, NULL);
    if (!detail) return ORD_ENOMEM;
    bus_event ev = {.source = ORDERS_SOURCE, .detail_type = type, .detail_text = detail, .subject = order_id};
    int rc = bus_publish_tx(tx, o->b, &ev, NULL, NULL);
    free(detail);
    return rc;
}

char *ord_items_text(const char *const *skus, const int64_t *qtys, int n)
{
    char *part[LIMIT_ORDER_ITEMS_MAX];
    size_t len[LIMIT_ORDER_ITEMS_MAX], total = 3; /* [ ] NUL, and a comma after each part but the last */
    int k = 0;
    CHECK(n >= 0 && n <= LIMIT_ORDER_ITEMS_MAX);
    for (; k < n; k++) {
        char q[24];
        snprintf(q, sizeof q, "%lld", (long long)qtys[k]);
        const jdump_member m[] = {{"sku", skus[k], NULL, NULL}, {"qty", NULL, q, NULL}};
        if (!(part[k] = jdump_members(m, COUNT(m), &len[k]))) break;
        total += len[k] + 1;
    }
    char *t = k == n ? malloc(total) : NULL, *p = t;
    if (p) {
        *p++ = '[';
        for (int i = 0; i < n; i++) {
            if (i) *p++ = ',';
            memcpy(p, part[i], len[i]);
            p += len[i];
        }
        *p++ = ']';
        *p = 0;
    }
    for (int i = 0; i < k; i++) free(part[i]);
    return t;
}

int ord_transition(store_conn *tx, orders *o, const ord_order *ord, order_status to, const char *reason,
                   const jdump_member *extra, size_t nextra)
{
    order_status from = ord_effective_status(ord);
    int row = order_transition_find(from, to, reason);
    CHECK(row >= 0);                                          /* callers check with ord_can first */
    CHECK(!(ord->status == ORDER_FAILED && to == ORDER_FAILED)); /* likewise */
    const order_transition *t = &order_transitions[row];
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(tx, ST_ORDER_UPDATE);
    store_bind_str(st, 1, ord->id);
    store_bind_str(st, 2, order_status_name(to));
    store_bind_str(st, 3, t->reason[0] ? t->reason : NULL);
    store_bind_str(st, 4, to == ORDER_FAILED ? order_status_name(from) : NULL);
    store_bind_i64(st, 5, now);
    if (to == ORDER_RESERVED)
        store_bind_i64(st, 6, now);
    else
        store_bind_null(st, 6);
    if (to == ORDER_COMPLETED)
        store_bind_i64(st, 7, now);
    else
        store_bind_null(st, 7);
    int rc = store_exec(st);
    if (!rc) ord_copy_transition(tx, o, ord->id, to, t->reason, from, now);
    if (!rc) rc = store_count_after_commit(tx, &o->ctr.transitions[row], 1);
    if (rc) return rc;
    jdump_member m[3 + ORD_EXTRA_MAX] = {{"orderId", ord->id, NULL, NULL}, {"customerId", ord->customer_id, NULL, NULL}};
    size_t n = 2;
    if (t->reason[0]) m[n++] = (jdump_member){"reason", t->reason, NULL, NULL};
    CHECK(nextra <= ORD_EXTRA_MAX);
    if (nextra) memcpy(m + n, extra, nextra * sizeof *extra);
    return ord_emit(tx, o, t->event, ord->id, m, n + nextra);
}
