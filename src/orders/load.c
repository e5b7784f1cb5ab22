/* load.c - rows of the order domain read into structs (on any connection),
 * and their JSON form for the API; events read back from the event log. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "orders/internal.h"

json_t *ord_iso(int64_t ms)
{
    char b[40];
    return json_string(clock_fmt_iso(ms, 1, b, sizeof b));
}

int ord_product_load(store_conn *c, const char *sku, ord_product *p)
{
    store_stmt *st = store_prep(c, ST_PRODUCT_GET);
    store_bind_str(st, 1, sku);
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return ORD_ENOTFOUND;
    str_copy(p->sku, sizeof p->sku, store_col_text(st, 0, NULL));
    str_copy(p->name, sizeof p->name, store_col_text(st, 1, NULL));
    p->price_cents = store_col_i64(st, 2);
    p->stock = store_col_i64(st, 3);
    p->reserved = store_col_i64(st, 4);
    p->sold = store_col_i64(st, 5);
    p->initial_stock = store_col_i64(st, 6);
    p->restocked = store_col_i64(st, 7);
    store_reset(st);
    return 0;
}

int ord_order_load(store_conn *c, const char *id, ord_order *o)
{
    memset(o, 0, sizeof *o);
    store_stmt *st = store_prep(c, ST_ORDER_GET);
    store_bind_str(st, 1, id);
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return ORD_ENOTFOUND;
#define TXT(i, f) str_copy(o->f, sizeof o->f, store_col_is_null(st, i) ? "" : store_col_text(st, i, NULL))
    o->seq = store_col_i64(st, 0);
    TXT(1, id);
    TXT(2, customer_id);
    TXT(4, reason);
    TXT(5, last_error);
    TXT(7, token);
    o->total_cents = store_col_i64(st, 8);
    o->units = store_col_i64(st, 9);
    TXT(10, request_hash);
    TXT(11, event_id);
#undef TXT
    if (order_status_parse(store_col_text(st, 3, NULL), &o->status)) rc = ORD_ESTORE;
    o->failed_from = o->status;
    if (o->status == ORDER_FAILED &&
        (store_col_is_null(st, 6) || order_status_parse(store_col_text(st, 6, NULL), &o->failed_from)))
        rc = ORD_ESTORE;
    o->attempts = store_col_i64(st, 12);
    o->created_ms = store_col_i64(st, 13);
    o->updated_ms = store_col_i64(st, 14);
    o->reserved_ms = store_col_is_null(st, 15) ? 0 : store_col_i64(st, 15);
    o->completed_ms = store_col_is_null(st, 16) ? 0 : store_col_i64(st, 16);
    if (rc < 0) {
        store_reset(st);
        return rc;
    }
    /* the items ride on the same rows (LEFT JOIN: one row with NULLs when none) */
    do {
        if (store_col_is_null(st, 17) || o->nitems >= LIMIT_ORDER_ITEMS_MAX) continue;
        ord_item *it = &o->items[o->nitems++];
        str_copy(it->sku, sizeof it->sku, store_col_text(st, 17, NULL));
        it->qty = store_col_i64(st, 18);
        it->known = !store_col_is_null(st, 19);
        it->unit_price_cents = it->known ? store_col_i64(st, 19) : 0;
    } while ((rc = store_step(st)) == STORE_ROW);
    store_reset(st);
    return rc < 0 ? rc : 0;
}

/* ---- the batch's copies ------------------------------------------------------ */

/* dst = src, the items in use only (an order is a few KiB of item slots). */
static void order_copy(ord_order *dst, const ord_order *src)
{
    memcpy(dst, src, offsetof(ord_order, items));
    memcpy(dst->items, src->items, (size_t)src->nitems * sizeof *src->items);
    dst->nitems = src->nitems;
}

/* The slot of id; its copy is good when its epoch is e and its id is id. */
static struct ord_copy *copy_slot(orders *o, const char *id)
{
    return &o->copies[str_hash(STR_HASH_SEED, id) % LIMIT_ORDER_COPY_SLOTS];
}

static struct ord_copy *copy_find(store_conn *tx, orders *o, const char *id)
{
    uint64_t e = store_tx_epoch(tx);
    struct ord_copy *c = e ? copy_slot(o, id) : NULL;
    return c && c->epoch == e && !strcmp(c->o.id, id) ? c : NULL;
}

int ord_order_load_tx(store_conn *tx, orders *o, const char *id, ord_order *ord)
{
    struct ord_copy *c = copy_find(tx, o, id);
    if (c) {
        order_copy(ord, &c->o);
        return 0;
    }
    int rc = ord_order_load(tx, id, ord);
    uint64_t e = store_tx_epoch(tx);
    if (!rc && e) {
        c = copy_slot(o, id);
        order_copy(&c->o, ord);
        c->epoch = e;
    }
    return rc;
}

void ord_copy_transition(store_conn *tx, orders *o, const char *id, order_status to, const char *reason,
                         order_status from, int64_t now)
{
    struct ord_copy *c = copy_find(tx, o, id);
    if (!c) return;
    /* what ST_ORDER_UPDATE sets, as ord_order_load reads it back */
    c->o.status = to;
    str_copy(c->o.reason, sizeof c->o.reason, reason ? reason : "");
    c->o.failed_from = to == ORDER_FAILED ? from : to;
    c->o.updated_ms = now;
    if (to == ORDER_RESERVED) c->o.reserved_ms = now;
    if (to == ORDER_COMPLETED) c->o.completed_ms = now;
}

void ord_copy_drop(store_conn *tx, orders *o, const char *id)
{
    struct ord_copy *c = copy_find(tx, o, id);
    if (c) c->epoch = 0;
}

static json_t *items_json(const ord_order *o)
{
    json_t *a = json_array();
    for (int i = 0; i < o->nitems; i++) {
        json_t *it = json_pack("{s:s,s:I}", "sku", o->items[i].sku, "qty", (json_int_t)o->items[i].qty);
        json_object_set_new(it, "unitPriceCents",
                            o->items[i].known ? json_integer(o->items[i].unit_price_cents) : json_null());
        json_array_append_new(a, it);
    }
    return a;
}

json_t *ord_order_json(const ord_order *o)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:{s:s},s:I,s:o,s:o}", "orderId", o->id, "customerId",
                          o->customer_id, "status", order_status_name(o->status), "items", items_json(o),
                          "totalCents", (json_int_t)o->total_cents, "units", (json_int_t)o->units, "payment",
                          "token", o->token, "attempts", (json_int_t)o->attempts, "createdAt", ord_iso(o->created_ms),
                          "updatedAt", ord_iso(o->updated_ms));
    if (!j) return NULL;
    json_object_set_new(j, "eventId", json_string(o->event_id));
    if (o->reason[0]) json_object_set_new(j, "reason", json_string(o->reason));
    if (o->last_error[0]) json_object_set_new(j, "lastError", json_string(o->last_error));
    if (o->status == ORDER_FAILED) json_object_set_new(j, "failedFrom", json_string(order_status_name(o->failed_from)));
    if (o->reserved_ms) json_object_set_new(j, "reservedAt", ord_iso(o->reserved_ms));
    if (o->completed_ms) json_object_set_new(j, "completedAt", ord_iso(o->completed_ms));
    return j;
}

json_t *ord_product_json(const ord_product *p)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "sku", p->sku, "name", p->name, "priceCents",
                     (json_int_t)p->price_cents, "stock", (json_int_t)p->stock, "reserved", (json_int_t)p->reserved,
                     "available", (json_int_t)(p->stock - p->reserved), "sold", (json_int_t)p->sold);
}

int ord_event_load(store_conn *c, const char *id, ord_event *ev)
{
    memset(ev, 0, sizeof *ev);
    store_stmt *st = store_prep(c, ST_EVENT_GET);
    store_bind_str(st, 1, id);
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return ORD_ENOTFOUND;
    str_copy(ev->id, sizeof ev->id, id);
    ev->time_ms = store_col_i64(st, 1);
    str_copy(ev->source, sizeof ev->source, store_col_text(st, 2, NULL));
    str_copy(ev->detail_type, sizeof ev->detail_type, store_col_text(st, 3, NULL));
    size_t len = 0;
    const char *stored = store_col_text(st, 4, &len);
    char *copy = bus_envelope_of_row(id, ev->source, ev->detail_type, stored, len, &len);
    if (!store_col_is_null(st, 6)) str_copy(ev->subject, sizeof ev->subject, store_col_text(st, 6, NULL));
    store_reset(st);
    if (!copy) return ORD_ENOMEM;
    ev->envelope = copy;
    ev->envelope_len = len;
    ev->envelope_owned = 1;
    return 0;
}

void ord_event_view(ord_event *ev, const queue_event *qe, const char *envelope, size_t len)
{
    memset(ev, 0, offsetof(ord_event, source));
    str_copy(ev->id, sizeof ev->id, qe->id);
    str_copy(ev->source, sizeof ev->source, qe->source);
    str_copy(ev->detail_type, sizeof ev->detail_type, qe->detail_type);
    str_copy(ev->subject, sizeof ev->subject, qe->subject);
    ev->time_ms = qe->time_ms;
    ev->envelope = envelope;
    ev->envelope_len = len;
    ev->envelope_owned = 0;
    ev->detail = NULL;
}

const json_t *ord_event_detail(ord_event *ev)
{
    if (ev->detail) return ev->detail;
    json_t *env = ev->envelope ? json_loadb(ev->envelope, ev->envelope_len, 0, NULL) : NULL;
    json_t *detail = json_object_get(env, "detail");
    ev->detail = json_is_object(detail) ? json_incref(detail) : json_object();
    json_decref(env);
    return ev->detail;
}

char *ord_event_detail_text(ord_event *ev)
{
    const char *d;
    size_t n;
    /* the bus writes the detail last: its text is in the envelope as is */
    if (ev->envelope && bus_envelope_detail(ev->envelope, ev->envelope_len, &d, &n) == 0) {
        char *t = malloc(n + 1);
        if (t) {
            memcpy(t, d, n);
            t[n] = 0;
        }
        return t;
    }
    const json_t *detail = ord_event_detail(ev);
    return detail ? json_dumps(detail, JSON_COMPACT) : NULL;
}

void ord_event_release(ord_event *ev)
{
    json_decref(ev->detail);
    ev->detail = NULL;
    if (ev->envelope_owned) free((char *)ev->envelope);
    ev->envelope = NULL;
}
