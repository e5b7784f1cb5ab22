/* read.c - the order domain's reads on the calling thread's reader: an
 * order, keyset-paged lists, the timeline from the event log, and the
 * figures of GET /api/stats and of the metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "orders/internal.h"

json_t *orders_get_conn(store_conn *c, const char *id)
{
    ord_order ord;
    if (!c || ord_order_load(c, id, &ord)) return NULL;
    return ord_order_json(&ord);
}

json_t *orders_get(orders *o, const char *id)
{
    return orders_get_conn(store_reader(o->st), id);
}

int orders_list(orders *o, const order_status *status, const char *customer, int limit, const char *cursor,
                json_t **out)
{
    if (limit < 1 || limit > LIMIT_ORDER_LIST_LIMIT_MAX) return ORD_EVALIDATION;
    int64_t before = INT64_MAX;
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || v <= 0) return ORD_EVALIDATION;
        before = v;
    }
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    char ids[LIMIT_ORDER_LIST_LIMIT_MAX][LIMIT_ORDER_ID_MAX + 1];
    int n = 0, rc;
    store_stmt *st = store_prep(c, customer ? ST_ORDER_LIST_CUSTOMER : ST_ORDER_LIST);
    store_bind_str(st, 1, status ? order_status_name(*status) : NULL);
    if (customer) {
        store_bind_str(st, 2, customer);
        store_bind_i64(st, 3, before);
        store_bind_i64(st, 4, limit);
    } else {
        store_bind_i64(st, 2, before);
        store_bind_i64(st, 3, limit);
    }
    while ((rc = store_step(st)) == STORE_ROW && n < limit)
        str_copy(ids[n++], LIMIT_ORDER_ID_MAX + 1, store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    json_t *arr = json_array();
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        ord_order ord;
        if (ord_order_load(c, ids[i], &ord)) continue;
        json_array_append_new(arr, ord_order_json(&ord));
        last = ord.seq;
    }
    *out = json_pack("{s:o}", "orders", arr);
    if (n == limit && last > 1) {
        char cur[24];
        snprintf(cur, sizeof cur, "%lld", (long long)last);
        json_object_set_new(*out, "nextCursor", json_string(cur));
    }
    return 0;
}

json_t *orders_timeline(orders *o, const char *id, int64_t after, int limit)
{
    store_conn *c = store_reader(o->st);
    ord_order ord;
    if (!c || ord_order_load(c, id, &ord)) return NULL;
    json_t *events = json_array();
    store_stmt *st = store_prep(c, ST_EVENT_BY_SUBJECT);
    store_bind_str(st, 1, id);
    store_bind_i64(st, 2, after);
    store_bind_i64(st, 3, limit);
    int n = 0;
    int64_t last = after;
    while (store_step(st) == STORE_ROW) {
        last = store_col_i64(st, 0);
        n++;
        json_t *env = bus_envelope_json_of_subject_row(st);
        json_t *e = json_pack("{s:s,s:s,s:o,s:o}", "eventId", store_col_text(st, 1, NULL), "type",
                              store_col_text(st, 3, NULL), "time", ord_iso(store_col_i64(st, 2)), "detail",
                              env ? json_incref(json_object_get(env, "detail")) : json_null());
        /* orderly.orders, or order.service for OrderPlaced */
        if (e) json_object_set_new(e, "source", json_string(store_col_text(st, 5, NULL)));
        json_array_append_new(events, e);
        json_decref(env);
    }
    store_reset(st);
    json_t *notes = json_array();
    st = store_prep(c, ST_NOTIFICATIONS_BY_ORDER);
    store_bind_str(st, 1, id);
    for (int k = 0; k < limit && store_step(st) == STORE_ROW; k++) {
        json_t *payload = json_loads(store_col_text(st, 3, NULL), 0, NULL);
        json_array_append_new(notes, json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "channel", store_col_text(st, 0, NULL),
                                               "template", store_col_text(st, 1, NULL), "recipient",
                                               store_col_text(st, 2, NULL), "payload", payload ? payload : json_null(),
                                               "createdAt", ord_iso(store_col_i64(st, 4)), "eventId",
                                               store_col_text(st, 5, NULL)));
    }
    store_reset(st);
    json_t *out = json_pack("{s:s,s:s,s:o,s:o}", "orderId", id, "status", order_status_name(ord.status), "events",
                            events, "notifications", notes);
    if (out && n == limit) {
        char cur[24];
        snprintf(cur, sizeof cur, "%lld", (long long)last);
        json_object_set_new(out, "nextCursor", json_string(cur));
    }
    return out;
}

static int64_t count_stmt(store_conn *c, store_stmt_id id, int64_t arg, int has_arg)
{
    store_stmt *st = store_prep(c, id);
    if (has_arg) store_bind_i64(st, 1, arg);
    int64_t n = store_step(st) == STORE_ROW ? store_col_i64(st, 0) : 0;
    store_reset(st);
    return n;
}

json_t *orders_stats(orders *o)
{
    store_conn *c = store_reader(o->st);
    if (!c) return NULL;
    int64_t now = clock_wall_ms(), since = now - 24 * 3600 * 1000LL;
    int64_t today = count_stmt(c, ST_ORDER_COUNT_SINCE, since, 1);
    int64_t total = count_stmt(c, ST_ORDER_COUNT, 0, 0);
    json_t *hours = json_array();
    store_stmt *st = store_prep(c, ST_ORDER_BY_HOUR);
    /* 24 whole clock hours, the current one last: each label once */
    store_bind_i64(st, 1, (now / 3600000 - 23) * 3600000);
    while (store_step(st) == STORE_ROW) {
        char h[8];
        snprintf(h, sizeof h, "%02lld:00", (long long)(store_col_i64(st, 0) % 24));
        json_array_append_new(hours, json_pack("{s:s,s:I}", "hour", h, "count", (json_int_t)store_col_i64(st, 1)));
    }
    store_reset(st);
    json_t *by_status = json_object();
    st = store_prep(c, ST_ORDER_BY_STATUS);
    while (store_step(st) == STORE_ROW)
        json_object_set_new(by_status, store_col_text(st, 0, NULL), json_integer(store_col_i64(st, 1)));
    store_reset(st);
    int64_t depth = 0;
    char qname[LIMIT_QUEUE_NAME_MAX + 1];
    snprintf(qname, sizeof qname, "%s%sorders", o->env, o->env[0] ? "-" : "");
    queue *q = queue_find(o->qs, qname);
    queue_stats qst;
    if (q && queue_stats_get(o->qs, q, &qst) == 0) depth = qst.visible + qst.in_flight;
    /* ordersByStatus: the same counts under the name of the end-to-end
     * benchmark client (../shared/bench-peer/run-e2e.py) and its peer */
    return json_pack("{s:I,s:f,s:I,s:I,s:o,s:O,s:o}", "orders_today", (json_int_t)today, "processing_rate",
                     (double)((int64_t)((double)today / 24.0 * 10.0 + 0.5)) / 10.0, "queue_depth", (json_int_t)depth,
                     "total_orders", (json_int_t)total, "orders_by_hour", hours, "orders_by_status", by_status,
                     "ordersByStatus", by_status);
}

int orders_count_by_status(orders *o, void (*fn)(void *arg, order_status status, int64_t n), void *arg)
{
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_ORDER_BY_STATUS);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) {
        order_status s;
        if (!order_status_parse(store_col_text(st, 0, NULL), &s)) fn(arg, s, store_col_i64(st, 1));
    }
    store_reset(st);
    return rc < 0 ? rc : 0;
}
