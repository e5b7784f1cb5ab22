/* orders.c - orders and products: creation (one unit with the event),
 * cancel, reads, stats, the catalog, and the reservation-expiry sweeper.
 * The three queue handlers live in handlers.c; request validation in parse.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "obs/log.h"
#include "orders/internal.h"

#define SWEEP_CHUNK 100

/* ---- small helpers ---------------------------------------------------------- */

static json_t *iso(int64_t ms)
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
    snprintf(p->sku, sizeof p->sku, "%s", store_col_text(st, 0, NULL));
    snprintf(p->name, sizeof p->name, "%s", store_col_text(st, 1, NULL));
    p->price_cents = store_col_i64(st, 2);
    p->stock = store_col_i64(st, 3);
    p->reserved = store_col_i64(st, 4);
    p->sold = store_col_i64(st, 5);
    p->initial_stock = store_col_i64(st, 6);
    p->restocked = store_col_i64(st, 7);
    store_reset(st);
    return 0;
}

/* Asserts the inventory invariant of sku after a change (writer thread). */
static void ord_check_invariant(store_conn *tx, const char *sku)
{
    ord_product p;
    if (ord_product_load(tx, sku, &p)) return;
    CHECK(p.reserved >= 0);
    CHECK(p.stock >= p.reserved);
    CHECK(p.initial_stock + p.restocked == p.stock + p.sold);
}

int ord_stock_change(store_conn *tx, orders *o, store_stmt_id id, const char *sku, int64_t qty)
{
    int op = id == ST_PRODUCT_RESERVE ? ORDERS_INV_RESERVE : id == ST_PRODUCT_RELEASE ? ORDERS_INV_RELEASE : ORDERS_INV_DECREMENT;
    CHECK(id == ST_PRODUCT_RESERVE || id == ST_PRODUCT_RELEASE || id == ST_PRODUCT_CAPTURE);
    store_stmt *st = store_prep(tx, id);
    store_bind_str(st, 1, sku);
    store_bind_i64(st, 2, qty);
    store_bind_i64(st, 3, clock_wall_ms());
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) {
        rc = store_count_after_commit(tx, &o->ctr.inventory[op][1], 1);
        return rc ? rc : ORD_ECONDITION;
    }
    int64_t stock = store_col_i64(st, 0), reserved = store_col_i64(st, 1), sold = store_col_i64(st, 2);
    int64_t initial = store_col_i64(st, 3), restocked = store_col_i64(st, 4);
    store_reset(st);
    CHECK(reserved >= 0);
    CHECK(stock >= reserved);
    CHECK(initial + restocked == stock + sold);
    return store_count_after_commit(tx, &o->ctr.inventory[op][0], 1);
}

int ord_order_load(store_conn *c, const char *id, ord_order *o)
{
    memset(o, 0, sizeof *o);
    store_stmt *st = store_prep(c, ST_ORDER_GET);
    store_bind_str(st, 1, id);
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return ORD_ENOTFOUND;
#define TXT(i, f) snprintf(o->f, sizeof o->f, "%s", store_col_is_null(st, i) ? "" : store_col_text(st, i, NULL))
    o->seq = store_col_i64(st, 0);
    TXT(1, id);
    TXT(2, customer_id);
    TXT(3, status);
    TXT(4, reason);
    TXT(5, last_error);
    TXT(6, failed_from);
    TXT(7, token);
    o->total_cents = store_col_i64(st, 8);
    o->units = store_col_i64(st, 9);
    TXT(10, request_hash);
    TXT(11, event_id);
#undef TXT
    o->attempts = store_col_i64(st, 12);
    o->created_ms = store_col_i64(st, 13);
    o->updated_ms = store_col_i64(st, 14);
    o->reserved_ms = store_col_is_null(st, 15) ? 0 : store_col_i64(st, 15);
    o->completed_ms = store_col_is_null(st, 16) ? 0 : store_col_i64(st, 16);
    /* the items ride on the same rows (LEFT JOIN: one row with NULLs when none) */
    do {
        if (store_col_is_null(st, 17) || o->nitems >= ORDER_ITEMS_MAX) continue;
        ord_item *it = &o->items[o->nitems++];
        snprintf(it->sku, sizeof it->sku, "%s", store_col_text(st, 17, NULL));
        it->qty = store_col_i64(st, 18);
        it->known = !store_col_is_null(st, 19);
        it->unit_price_cents = it->known ? store_col_i64(st, 19) : 0;
    } while ((rc = store_step(st)) == STORE_ROW);
    store_reset(st);
    return rc < 0 ? rc : 0;
}

const char *const orders_finish_kinds[ORDERS_FINISH_KINDS][2] = {
    {"COMPLETED", ""},
    {"REJECTED", "order_limit"},
    {"REJECTED", "unknown_sku"},
    {"REJECTED", "out_of_stock"},
    {"PAYMENT_FAILED", "card_declined"},
    {"PAYMENT_FAILED", "insufficient_funds"},
    {"EXPIRED", "reservation_timeout"},
    {"CANCELLED", "cancelled"},
    {"FAILED", "dead_lettered"},
};
const char *const orders_pay_outcomes[ORDERS_PAY_OUTCOMES] = {"captured", "declined", "failed_transient"};
const char *const orders_inventory_ops[ORDERS_INV_OPS] = {"reserve", "release", "decrement_stock"};

void orders_counters_get(orders *o, orders_counters *out)
{
    memset(out, 0, sizeof *out);
    out->created = atomic_load(&o->ctr.created);
    for (int i = 0; i < ORDERS_FINISH_KINDS; i++) out->finished[i] = atomic_load(&o->ctr.finished[i]);
    for (int i = 0; i < ORDERS_PAY_OUTCOMES; i++) out->payments[i] = atomic_load(&o->ctr.payments[i]);
    out->reservations_ok = atomic_load(&o->ctr.reservations_ok);
    out->reservations_short = atomic_load(&o->ctr.reservations_short);
    for (int i = 0; i < ORDERS_INV_OPS; i++)
        for (int k = 0; k < 2; k++) out->inventory[i][k] = atomic_load(&o->ctr.inventory[i][k]);
}

/* Counts a terminal transition after the commit. */
static int count_finished(store_conn *tx, orders *o, const char *status, const char *reason)
{
    for (int i = 0; i < ORDERS_FINISH_KINDS; i++)
        if (!strcmp(orders_finish_kinds[i][0], status) && !strcmp(orders_finish_kinds[i][1], reason ? reason : ""))
            return store_count_after_commit(tx, &o->ctr.finished[i], 1);
    CHECK(strcmp(status, "PENDING") == 0 || strcmp(status, "RESERVED") == 0); /* a terminal pair missing above */
    return 0;
}

int ord_set_status(store_conn *tx, orders *o, const char *id, const char *status, const char *reason,
                   const char *failed_from, int64_t reserved_ms, int64_t completed_ms)
{
    store_stmt *st = store_prep(tx, ST_ORDER_UPDATE);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, status);
    store_bind_str(st, 3, reason);
    store_bind_str(st, 4, failed_from);
    store_bind_i64(st, 5, clock_wall_ms());
    if (reserved_ms)
        store_bind_i64(st, 6, reserved_ms);
    else
        store_bind_null(st, 6);
    if (completed_ms)
        store_bind_i64(st, 7, completed_ms);
    else
        store_bind_null(st, 7);
    int rc = store_exec(st);
    return rc ? rc : count_finished(tx, o, status, reason);
}

static json_t *ord_items_json(const ord_order *o)
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

int ord_emit(store_conn *tx, orders *o, const char *type, const char *order_id, json_t *detail)
{
    bus_event ev = {.source = ORDERS_SOURCE, .detail_type = type, .detail = detail, .subject = order_id};
    int rc = bus_publish_tx(tx, o->b, &ev, NULL, NULL);
    json_decref(detail);
    return rc;
}

/* Releases the reservation of every item of a RESERVED order. */
int ord_release(store_conn *tx, orders *o, const ord_order *ord)
{
    for (int i = 0; i < ord->nitems; i++) {
        if (!ord->items[i].known) continue;
        int rc = ord_stock_change(tx, o, ST_PRODUCT_RELEASE, ord->items[i].sku, ord->items[i].qty);
        if (rc) return rc; /* ORD_ECONDITION: a reservation that is not there */
    }
    return 0;
}

/* The state an order was in, for a FAILED one the state it resumes to. */
const char *ord_effective_status(const ord_order *o)
{
    return !strcmp(o->status, "FAILED") && o->failed_from[0] ? o->failed_from : o->status;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void *sweeper_main(void *arg);
static void price_cache_signal(void *arg, int64_t key);

int orders_open(store *st, queue_sys *qs, bus *b, const orders_config *cfg, orders **out)
{
    orders *o = calloc(1, sizeof *o);
    if (!o) return ORD_ENOMEM;
    o->st = st;
    o->qs = qs;
    o->b = b;
    o->cfg = *cfg;
    snprintf(o->fail_sku, sizeof o->fail_sku, "%s", cfg->fail_sku ? cfg->fail_sku : "");
    o->cfg.fail_sku = o->fail_sku;
    snprintf(o->env, sizeof o->env, "%s", cfg->env ? cfg->env : "");
    o->cfg.env = o->env;
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = store_signal_on(st, STORE_TOPIC_PRODUCTS, price_cache_signal, o);
    if (rc) {
        orders_close(o);
        return rc;
    }
    *out = o;
    return 0;
}

int orders_start(orders *o)
{
    if (pthread_create(&o->sweeper, NULL, sweeper_main, o)) return ORD_EINTERNAL;
    o->started = 1;
    return 0;
}

void orders_close(orders *o)
{
    if (!o) return;
    store_signal_off(o->st, STORE_TOPIC_PRODUCTS, price_cache_signal, o);
    if (o->started) {
        pthread_mutex_lock(&o->mu);
        o->stop = 1;
        pthread_cond_signal(&o->cv);
        pthread_mutex_unlock(&o->mu);
        pthread_join(o->sweeper, NULL);
    }
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o);
}

/* ---- creating ------------------------------------------------------------------ */

/* The price cache: read and written on the writer thread only, so it never
 * sees a state the writer's transaction does not.  Product writes empty it
 * before they change a row and, through a hook, again if they roll back. */
static void price_cache_clear(orders *o)
{
    if (!o->nprices) return;
    memset(o->prices, 0, sizeof o->prices);
    o->nprices = 0;
}

static void price_cache_hook(void *arg, int committed)
{
    if (!committed) price_cache_clear(arg);
}

static int price_cache_forget(store_conn *tx, orders *o)
{
    price_cache_clear(o);
    int rc = store_after_commit(tx, price_cache_hook, o);
    /* other nodes' writers keep their own caches */
    return rc ? rc : store_signal_tx(tx, STORE_TOPIC_PRODUCTS, 0);
}

/* Another node changed products: this writer's cache is emptied before its
 * next use (the flag, because the cache is the writer thread's). */
static void price_cache_signal(void *arg, int64_t key)
{
    (void)key;
    atomic_store(&((orders *)arg)->prices_stale, 1);
}

/* The price snapshot of sku: 0 with *known set (price 0 when unknown), or a store error. */
static int ord_price(store_conn *tx, orders *o, const char *sku, int64_t *price, int *known)
{
    const uint32_t mask = LIMIT_PRICE_CACHE_SLOTS - 1;
    if (atomic_load(&o->prices_stale) && atomic_exchange(&o->prices_stale, 0)) price_cache_clear(o);
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)sku; *p; p++) h = (h ^ *p) * 16777619u;
    for (h &= mask; o->prices[h].used; h = (h + 1) & mask)
        if (!strcmp(o->prices[h].sku, sku)) {
            *price = o->prices[h].price_cents;
            *known = o->prices[h].known;
            return 0;
        }
    ord_product p;
    int rc = ord_product_load(tx, sku, &p);
    if (rc && rc != ORD_ENOTFOUND) return rc;
    *known = rc == 0;
    *price = *known ? p.price_cents : 0;
    if (o->nprices >= LIMIT_PRICE_CACHE_SLOTS / 2) return 0; /* full: no more entries until a product write */
    ord_price_slot *e = &o->prices[h];
    snprintf(e->sku, sizeof e->sku, "%s", sku);
    e->price_cents = *price;
    e->known = *known;
    e->used = 1;
    o->nprices++;
    return 0;
}

/* Inserts the order row and items with price snapshots (no event). */
int ord_insert(store_conn *tx, orders *o, const order_in *in, const char *id, const char *event_id, int64_t now)
{
    int64_t total = 0, units = 0, prices[ORDER_ITEMS_MAX];
    int known[ORDER_ITEMS_MAX];
    for (int i = 0; i < in->nitems; i++) {
        int rc = ord_price(tx, o, in->items[i].sku, &prices[i], &known[i]);
        if (rc) return rc;
        total += prices[i] * in->items[i].qty;
        units += in->items[i].qty;
    }
    store_stmt *st = store_prep(tx, ST_ORDER_INSERT);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, in->customer_id);
    store_bind_str(st, 3, "PENDING");
    store_bind_str(st, 4, in->token[0] ? in->token : "tok_visa");
    store_bind_i64(st, 5, total);
    store_bind_i64(st, 6, units);
    store_bind_str(st, 7, in->request_hash);
    store_bind_str(st, 8, event_id);
    store_bind_i64(st, 9, now);
    int rc = store_step(st);
    if (rc != STORE_ROW) return rc < 0 ? rc : ORD_ESTORE;
    int64_t seq = store_col_i64(st, 0);
    store_reset(st);
    for (int i = 0; i < in->nitems; i++) {
        st = store_prep(tx, ST_ITEM_INSERT);
        store_bind_i64(st, 1, seq);
        store_bind_i64(st, 2, i);
        store_bind_str(st, 3, in->items[i].sku);
        store_bind_i64(st, 4, in->items[i].qty);
        if (known[i])
            store_bind_i64(st, 5, prices[i]);
        else
            store_bind_null(st, 5);
        if ((rc = store_exec(st))) return rc;
    }
    return store_count_after_commit(tx, &o->ctr.created, 1);
}

static json_t *order_json(const ord_order *o);

static int create_response_conn(store_conn *c, const order_create *res, int *status, json_t **body)
{
    ord_order ord;
    switch (res->outcome) {
    case ORDER_CREATED:
        *status = 202;
        *body = json_pack("{s:s,s:s,s:s}", "orderId", res->order_id, "eventId", res->event_id, "status", "PENDING");
        return 0;
    case ORDER_SAME: {
        int rc = ord_order_load(c, res->order_id, &ord);
        if (rc) return rc;
        *status = 200;
        *body = order_json(&ord);
        return 0;
    }
    case ORDER_CONFLICT:
        *status = 409;
        *body = json_pack("{s:s,s:s,s:i,s:s}", "type", "https://orderly.dev/problems/conflict", "title",
                          "conflicting state", "status", 409, "detail",
                          "an order with this orderId exists with a different body");
        return 0;
    case ORDER_KEY_MISMATCH:
        *status = 422;
        *body = json_pack("{s:s,s:s,s:i,s:s}", "type", "https://orderly.dev/problems/validation-error", "title",
                          "request failed validation", "status", 422, "detail",
                          "this Idempotency-Key was used with a different request body");
        return 0;
    case ORDER_KEY_REPLAY:
        *status = res->replay_status;
        *body = json_loads(res->replay_body ? res->replay_body : "{}", 0, NULL);
        return *body ? 0 : ORD_EINTERNAL;
    }
    return ORD_EINTERNAL;
}

int orders_create_response(orders *o, const order_create *res, int *status, json_t **body)
{
    store_conn *c = store_reader(o->st);
    return c ? create_response_conn(c, res, status, body) : ORD_ESTORE;
}

int orders_create_prepare(orders *o, const order_in *in, order_prepared *p)
{
    char event_id[ID_UUID_LEN + 1], ts[40];
    if (in->order_id[0])
        snprintf(p->order_id, sizeof p->order_id, "%s", in->order_id);
    else
        id_uuid7(p->order_id);
    id_uuid7(event_id);
    json_t *items = json_array();
    for (int i = 0; i < in->nitems; i++)
        json_array_append_new(items, json_pack("{s:s,s:i}", "sku", in->items[i].sku, "qty", in->items[i].qty));
    json_t *detail = json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:s},s:s}", "schemaVersion", "1.0", "eventId", event_id,
                               "orderId", p->order_id, "customerId", in->customer_id, "items", items, "payment",
                               "token", in->token[0] ? in->token : "tok_visa", "createdAt",
                               clock_fmt_iso(clock_wall_ms(), 1, ts, sizeof ts));
    if (!detail) return ORD_ENOMEM;
    bus_event ev = {.source = ORDERS_SOURCE, .detail_type = "OrderCreated", .detail = detail, .id = event_id,
                    .subject = p->order_id};
    int rc = bus_prepare(o->b, &ev, &p->ev);
    json_decref(detail);
    return rc;
}

void orders_prepared_release(order_prepared *p)
{
    bus_prepared_release(&p->ev);
}

int orders_create_tx(store_conn *tx, orders *o, const order_in *in, const char *idem_key, const order_prepared *p,
                     order_create *res)
{
    int64_t now = clock_wall_ms();
    int rc;
    memset(res, 0, sizeof *res);
    /* What an Idempotency-Key is bound to: the request hash leaves orderId
     * out (it is compared under the orderId), so a client orderId is added
     * here; a reused key with another orderId is another body (422). */
    char key_hash[sizeof in->request_hash + ORDER_ID_MAX + 1];
    snprintf(key_hash, sizeof key_hash, "%s%s%s", in->request_hash, in->order_id[0] ? "/" : "", in->order_id);
    if (idem_key) {
        store_stmt *st = store_prep(tx, ST_IDEMKEY_GET);
        store_bind_str(st, 1, idem_key);
        store_bind_i64(st, 2, now);
        if ((rc = store_step(st)) < 0) return rc;
        if (rc == STORE_ROW) {
            if (strcmp(store_col_text(st, 0, NULL), key_hash)) {
                res->outcome = ORDER_KEY_MISMATCH;
            } else {
                res->outcome = ORDER_KEY_REPLAY;
                res->replay_status = (int)store_col_i64(st, 1);
                res->replay_body = strdup(store_col_text(st, 2, NULL));
                if (!res->replay_body) return ORD_ENOMEM;
            }
            store_reset(st);
            return 0;
        }
    }
    snprintf(res->order_id, sizeof res->order_id, "%s", p->order_id);
    if (in->order_id[0]) {
        ord_order cur;
        rc = ord_order_load(tx, in->order_id, &cur);
        if (rc && rc != ORD_ENOTFOUND) return rc;
        if (!rc) res->outcome = strcmp(cur.request_hash, in->request_hash) ? ORDER_CONFLICT : ORDER_SAME;
    }
    if (res->outcome == ORDER_CREATED) {
        snprintf(res->event_id, sizeof res->event_id, "%s", p->ev.id);
        if ((rc = ord_insert(tx, o, in, res->order_id, res->event_id, now))) return rc;
        if ((rc = bus_publish_prepared_tx(tx, o->b, &p->ev, NULL))) return rc;
        if (log_enabled(LOG_DEBUG))
            log_debug("orders", "OrderCreated event published", "orderId", res->order_id, "eventId", res->event_id,
                      "customerId", in->customer_id, "#itemCount", (int64_t)in->nitems, NULL);
    }
    if (idem_key) {
        int status;
        json_t *body = NULL;
        if ((rc = create_response_conn(tx, res, &status, &body))) return rc;
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text) return ORD_ENOMEM;
        store_stmt *st = store_prep(tx, ST_IDEMKEY_PUT);
        store_bind_str(st, 1, idem_key);
        store_bind_str(st, 2, key_hash);
        store_bind_i64(st, 3, status);
        store_bind_str(st, 4, text);
        store_bind_i64(st, 5, now + o->cfg.idempotency_key_ttl_ms);
        rc = store_exec(st);
        free(text);
        if (rc) return rc;
    }
    return 0;
}

/* ---- cancel ----------------------------------------------------------------------- */

int orders_cancel_tx(store_conn *tx, orders *o, const char *id, char *status, size_t len)
{
    ord_order ord;
    int rc = ord_order_load(tx, id, &ord);
    if (rc) return rc;
    snprintf(status, len, "%s", ord.status);
    const char *eff = ord_effective_status(&ord);
    if (strcmp(eff, "PENDING") && strcmp(eff, "RESERVED")) return ORD_ECONFLICT;
    if (!strcmp(eff, "RESERVED") && (rc = ord_release(tx, o, &ord))) return rc;
    if ((rc = ord_set_status(tx, o, id, "CANCELLED", "cancelled", NULL, 0, 0))) return rc;
    snprintf(status, len, "CANCELLED");
    return ord_emit(tx, o, "OrderCancelled", id,
                    json_pack("{s:s,s:s,s:s}", "orderId", id, "customerId", ord.customer_id, "previousStatus", ord.status));
}

/* ---- reading ------------------------------------------------------------------------ */

const char *const orders_statuses[] = {"PENDING", "RESERVED",  "COMPLETED", "REJECTED", "PAYMENT_FAILED",
                                       "EXPIRED", "CANCELLED", "FAILED",    NULL};

int orders_status_valid(const char *s)
{
    for (const char *const *p = orders_statuses; *p; p++)
        if (!strcmp(*p, s)) return 1;
    return 0;
}

static json_t *order_json(const ord_order *o)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:{s:s},s:I,s:o,s:o}", "orderId", o->id, "customerId",
                          o->customer_id, "status", o->status, "items", ord_items_json(o), "totalCents",
                          (json_int_t)o->total_cents, "units", (json_int_t)o->units, "payment", "token", o->token,
                          "attempts", (json_int_t)o->attempts, "createdAt", iso(o->created_ms), "updatedAt",
                          iso(o->updated_ms));
    json_object_set_new(j, "eventId", json_string(o->event_id));
    if (o->reason[0]) json_object_set_new(j, "reason", json_string(o->reason));
    if (o->last_error[0]) json_object_set_new(j, "lastError", json_string(o->last_error));
    if (o->failed_from[0]) json_object_set_new(j, "failedFrom", json_string(o->failed_from));
    if (o->reserved_ms) json_object_set_new(j, "reservedAt", iso(o->reserved_ms));
    if (o->completed_ms) json_object_set_new(j, "completedAt", iso(o->completed_ms));
    return j;
}

json_t *orders_get(orders *o, const char *id)
{
    store_conn *c = store_reader(o->st);
    ord_order ord;
    if (!c || ord_order_load(c, id, &ord)) return NULL;
    return order_json(&ord);
}

int orders_list(orders *o, const char *status, const char *customer, int limit, const char *cursor, json_t **out)
{
    if (limit < 1 || limit > ORDER_LIST_LIMIT_MAX) return ORD_EVALIDATION;
    if (status && !orders_status_valid(status)) return ORD_EVALIDATION;
    int64_t before = INT64_MAX;
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || v <= 0) return ORD_EVALIDATION;
        before = v;
    }
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    char ids[ORDER_LIST_LIMIT_MAX][ORDER_ID_MAX + 1];
    int n = 0, rc;
    store_stmt *st = store_prep(c, customer ? ST_ORDER_LIST_CUSTOMER : ST_ORDER_LIST);
    store_bind_str(st, 1, status);
    if (customer) {
        store_bind_str(st, 2, customer);
        store_bind_i64(st, 3, before);
        store_bind_i64(st, 4, limit);
    } else {
        store_bind_i64(st, 2, before);
        store_bind_i64(st, 3, limit);
    }
    while ((rc = store_step(st)) == STORE_ROW && n < limit)
        snprintf(ids[n++], ORDER_ID_MAX + 1, "%s", store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    json_t *arr = json_array();
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        ord_order ord;
        if (ord_order_load(c, ids[i], &ord)) continue;
        json_array_append_new(arr, order_json(&ord));
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

json_t *orders_timeline(orders *o, const char *id)
{
    store_conn *c = store_reader(o->st);
    ord_order ord;
    if (!c || ord_order_load(c, id, &ord)) return NULL;
    json_t *events = json_array();
    store_stmt *st = store_prep(c, ST_EVENT_BY_SUBJECT);
    store_bind_str(st, 1, id);
    while (store_step(st) == STORE_ROW) {
        json_t *env = json_loads(store_col_text(st, 4, NULL), 0, NULL);
        json_t *e = json_pack("{s:s,s:s,s:o,s:o}", "eventId", store_col_text(st, 1, NULL), "type",
                              store_col_text(st, 3, NULL), "time", iso(store_col_i64(st, 2)), "detail",
                              env ? json_incref(json_object_get(env, "detail")) : json_null());
        json_t *src = json_object_get(env, "source"); /* the envelope's source: orderly.orders, order.service */
        if (e && json_is_string(src)) json_object_set(e, "source", src);
        json_array_append_new(events, e);
        json_decref(env);
    }
    store_reset(st);
    json_t *notes = json_array();
    st = store_prep(c, ST_NOTIFICATIONS_BY_ORDER);
    store_bind_str(st, 1, id);
    while (store_step(st) == STORE_ROW) {
        json_t *payload = json_loads(store_col_text(st, 3, NULL), 0, NULL);
        json_array_append_new(notes, json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "channel", store_col_text(st, 0, NULL),
                                               "template", store_col_text(st, 1, NULL), "recipient",
                                               store_col_text(st, 2, NULL), "payload", payload ? payload : json_null(),
                                               "createdAt", iso(store_col_i64(st, 4)), "eventId",
                                               store_col_text(st, 5, NULL)));
    }
    store_reset(st);
    return json_pack("{s:s,s:s,s:o,s:o}", "orderId", id, "status", ord.status, "events", events, "notifications", notes);
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
    return json_pack("{s:I,s:f,s:I,s:I,s:o,s:o}", "orders_today", (json_int_t)today, "processing_rate",
                     (double)((int64_t)((double)today / 24.0 * 10.0 + 0.5)) / 10.0, "queue_depth", (json_int_t)depth,
                     "total_orders", (json_int_t)total, "orders_by_hour", hours, "orders_by_status", by_status);
}

int orders_count_by_status(orders *o, void (*fn)(void *arg, const char *status, int64_t n), void *arg)
{
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_ORDER_BY_STATUS);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) fn(arg, store_col_text(st, 0, NULL), store_col_i64(st, 1));
    store_reset(st);
    return rc < 0 ? rc : 0;
}

/* ---- products --------------------------------------------------------------------------- */

static json_t *product_json(const ord_product *p)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "sku", p->sku, "name", p->name, "priceCents",
                     (json_int_t)p->price_cents, "stock", (json_int_t)p->stock, "reserved", (json_int_t)p->reserved,
                     "available", (json_int_t)(p->stock - p->reserved), "sold", (json_int_t)p->sold);
}

json_t *products_get(orders *o, const char *sku)
{
    store_conn *c = store_reader(o->st);
    ord_product p;
    if (!c || ord_product_load(c, sku, &p)) return NULL;
    return product_json(&p);
}

json_t *products_list(orders *o)
{
    store_conn *c = store_reader(o->st);
    if (!c) return NULL;
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_PRODUCT_LIST);
    while (store_step(st) == STORE_ROW) {
        ord_product p;
        snprintf(p.sku, sizeof p.sku, "%s", store_col_text(st, 0, NULL));
        snprintf(p.name, sizeof p.name, "%s", store_col_text(st, 1, NULL));
        p.price_cents = store_col_i64(st, 2);
        p.stock = store_col_i64(st, 3);
        p.reserved = store_col_i64(st, 4);
        p.sold = store_col_i64(st, 5);
        json_array_append_new(arr, product_json(&p));
    }
    store_reset(st);
    return json_pack("{s:o}", "products", arr);
}

int products_create_tx(store_conn *tx, orders *o, const product_in *p)
{
    int rc = price_cache_forget(tx, o);
    if (rc) return rc;
    store_stmt *st = store_prep(tx, ST_PRODUCT_INSERT);
    store_bind_str(st, 1, p->sku);
    store_bind_str(st, 2, p->name);
    store_bind_i64(st, 3, p->price_cents);
    store_bind_i64(st, 4, p->stock);
    store_bind_i64(st, 5, clock_wall_ms());
    rc = store_exec(st);
    if (rc == ORD_ECONFLICT) return ORD_EEXISTS;
    if (!rc) ord_check_invariant(tx, p->sku);
    return rc;
}

int products_put_tx(store_conn *tx, orders *o, const product_in *p, int *created)
{
    ord_product cur;
    int rc = ord_product_load(tx, p->sku, &cur);
    *created = 0;
    if (rc == ORD_ENOTFOUND) {
        if (!p->has_name || !p->has_price || !p->has_stock) return ORD_EVALIDATION;
        *created = 1;
        return products_create_tx(tx, o, p);
    }
    if (rc || (rc = price_cache_forget(tx, o))) return rc;
    store_stmt *st = store_prep(tx, ST_PRODUCT_UPDATE);
    store_bind_str(st, 1, p->sku);
    store_bind_str(st, 2, p->has_name ? p->name : cur.name);
    store_bind_i64(st, 3, p->has_price ? p->price_cents : cur.price_cents);
    store_bind_i64(st, 4, p->has_stock ? p->stock : cur.stock);
    store_bind_i64(st, 5, clock_wall_ms());
    if ((rc = store_exec(st))) return rc;
    if (store_changes(tx) != 1) return ORD_ECONFLICT; /* stock below what is reserved */
    ord_check_invariant(tx, p->sku);
    if (p->has_stock && p->stock != cur.stock)
        log_info("orders", "stock set", "sku", p->sku, "#from", cur.stock, "#to", p->stock, NULL);
    return 0;
}

int products_delete_tx(store_conn *tx, orders *o, const char *sku)
{
    ord_product cur;
    int rc = ord_product_load(tx, sku, &cur);
    if (rc || (rc = price_cache_forget(tx, o))) return rc;
    store_stmt *st = store_prep(tx, ST_PRODUCT_DELETE);
    store_bind_str(st, 1, sku);
    if ((rc = store_exec(st))) return rc;
    return store_changes(tx) == 1 ? 0 : ORD_ECONFLICT;
}

struct seed_ctx {
    orders *o;
    json_t *list;
    int added;
    char err[200];
};

static int seed_unit(store_conn *tx, void *arg)
{
    struct seed_ctx *s = arg;
    size_t i;
    json_t *v;
    s->added = 0;
    json_array_foreach(s->list, i, v)
    {
        product_in p;
        json_t *errors = json_array();
        int rc = products_parse(v, NULL, &p, errors);
        if (rc) {
            json_t *e = json_array_get(errors, 0);
            snprintf(s->err, sizeof s->err, "products[%zu].%s: %s", i,
                     json_string_value(json_object_get(e, "field")), json_string_value(json_object_get(e, "message")));
            json_decref(errors);
            return rc;
        }
        json_decref(errors);
        ord_product cur;
        rc = ord_product_load(tx, p.sku, &cur);
        if (rc == 0) continue; /* present: a seed never overwrites */
        if (rc != ORD_ENOTFOUND) return rc;
        rc = products_create_tx(tx, s->o, &p);
        if (rc == ORD_EEXISTS) continue; /* another node seeding at the same time got there first */
        if (rc) return rc;
        s->added++;
    }
    return 0;
}

int products_seed_file(orders *o, const char *path, int *added, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    *added = 0;
    if (!doc) {
        snprintf(err, errlen, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
        return ORD_ECONFIG;
    }
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "products");
    if (!json_is_array(list)) {
        json_decref(doc);
        snprintf(err, errlen, "%s: expected {\"products\": [...]} or an array", path);
        return ORD_ECONFIG;
    }
    struct seed_ctx s = {o, list, 0, ""};
    int rc = store_run(o->st, seed_unit, &s);
    json_decref(doc);
    if (rc) snprintf(err, errlen, "%s: %s", path, s.err[0] ? s.err : err_msg(rc));
    *added = s.added;
    return rc;
}

int products_lowest(orders *o, int limit, void (*fn)(void *arg, const char *sku, int64_t stock, int64_t reserved),
                    void *arg)
{
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_PRODUCT_LOWEST);
    store_bind_i64(st, 1, limit);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW)
        fn(arg, store_col_text(st, 0, NULL), store_col_i64(st, 1), store_col_i64(st, 2));
    store_reset(st);
    return rc < 0 ? rc : 0;
}

/* ---- sweeper: reservation expiry and old Idempotency-Keys --------------------------------- */

struct expire_ctx {
    orders *o;
    int n;
};

static int expire_unit(store_conn *tx, void *arg)
{
    struct expire_ctx *e = arg;
    orders *o = e->o;
    char ids[SWEEP_CHUNK][ORDER_ID_MAX + 1];
    int n = 0, rc;
    store_stmt *st = store_prep(tx, ST_ORDER_EXPIRED);
    store_bind_i64(st, 1, clock_wall_ms() - o->cfg.reservation_timeout_ms);
    store_bind_i64(st, 2, SWEEP_CHUNK);
    while ((rc = store_step(st)) == STORE_ROW) snprintf(ids[n++], ORDER_ID_MAX + 1, "%s", store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        ord_order ord;
        if ((rc = ord_order_load(tx, ids[i], &ord))) return rc;
        if ((rc = ord_release(tx, o, &ord))) return rc;
        if ((rc = ord_set_status(tx, o, ord.id, "EXPIRED", "reservation_timeout", NULL, 0, 0))) return rc;
        rc = ord_emit(tx, o, "OrderExpired", ord.id,
                      json_pack("{s:s,s:s,s:s}", "orderId", ord.id, "customerId", ord.customer_id, "reason",
                                "reservation_timeout"));
        if (rc) return rc;
        log_info("orders", "reservation expired", "orderId", ord.id, NULL);
    }
    st = store_prep(tx, ST_IDEMKEY_SWEEP);
    store_bind_i64(st, 1, clock_wall_ms());
    store_bind_i64(st, 2, 1000);
    if ((rc = store_exec(st))) return rc;
    e->n = n;
    return 0;
}

/* One sweep now: expires old reservations, drops old Idempotency-Keys. */
static int orders_sweep(orders *o, int *expired)
{
    *expired = 0;
    for (;;) {
        struct expire_ctx e = {o, 0};
        int rc = store_run(o->st, expire_unit, &e);
        if (rc) return rc;
        *expired += e.n;
        if (e.n < SWEEP_CHUNK) return 0;
    }
}

static void *sweeper_main(void *arg)
{
    orders *o = arg;
    int64_t interval = o->cfg.reservation_timeout_ms / 4;
    if (interval < 100) interval = 100;
    if (interval > 30000) interval = 30000;
    pthread_mutex_lock(&o->mu);
    while (!o->stop) {
        struct timespec ts = clock_mono_deadline(interval);
        pthread_cond_timedwait(&o->cv, &o->mu, &ts);
        if (o->stop) break;
        pthread_mutex_unlock(&o->mu);
        int n;
        /* the cluster's periodic work: on the store's leader only (and
         * correct if two nodes ever sweep at once: the rows are locked) */
        int rc = store_is_leader(o->st) ? orders_sweep(o, &n) : 0;
        if (rc) log_error("orders", "sweep failed", "error", err_name(rc), NULL);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}
