/* create.c - the client's commands on orders: create (the order row, its
 * items with price snapshots and its OrderCreated event in one unit, with
 * Idempotency-Key and client orderId rules) and cancel.  Also the writer's
 * price cache that spares a product read per item of a new order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/count.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/log.h"
#include "orders/internal.h"

/* ---- the price cache ------------------------------------------------------------- */

/* Read and written on the writer thread only, so it never sees a state the
 * writer's transaction does not.  Product writes empty it before they change
 * a row and, through a hook, again if they roll back. */
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

int ord_price_cache_forget(store_conn *tx, orders *o)
{
    price_cache_clear(o);
    int rc = store_after_commit(tx, price_cache_hook, o);
    /* other nodes' writers keep their own caches */
    return rc ? rc : store_signal_tx(tx, STORE_TOPIC_PRODUCTS, 0);
}

void ord_price_cache_signal(void *arg, int64_t key, uint32_t times)
{
    (void)key;
    (void)times;
    atomic_store(&((orders *)arg)->prices_stale, 1);
}

/* The price snapshot of sku: 0 with *known set (price 0 when unknown), or a store error. */
static int ord_price(store_conn *tx, orders *o, const char *sku, int64_t *price, int *known)
{
    const uint32_t mask = LIMIT_PRICE_CACHE_SLOTS - 1;
    if (atomic_load(&o->prices_stale) && atomic_exchange(&o->prices_stale, 0)) price_cache_clear(o);
    uint32_t h;
    const uint32_t home = str_hash(STR_HASH_SEED, sku) & mask;
    for (h = home; o->prices[h].used; h = (h + 1) & mask)
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
    if (o->nprices >= LIMIT_PRICE_CACHE_SLOTS / 2) { /* half full: start again (probes stay short) */
        price_cache_clear(o);
        h = home;
    }
    ord_price_slot *e = &o->prices[h];
    str_copy(e->sku, sizeof e->sku, sku);
    e->price_cents = *price;
    e->known = *known;
    e->used = 1;
    o->nprices++;
    return 0;
}

/* ---- create ------------------------------------------------------------------------ */

int ord_insert(store_conn *tx, orders *o, const order_in *in, const char *id, const char *event_id, int64_t now,
               int *missing)
{
    int64_t total = 0, units = 0, prices[LIMIT_ORDER_ITEMS_MAX];
    int known[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < in->nitems; i++) {
        int rc = ord_price(tx, o, in->items[i].sku, &prices[i], &known[i]);
        if (rc) return rc;
        if (missing && in->items[i].by_id && !known[i]) {
            *missing = i;
            return ORD_ENOTFOUND;
        }
        total += prices[i] * in->items[i].qty;
        units += in->items[i].qty;
    }
    store_stmt *st = store_prep(tx, ST_ORDER_INSERT);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, in->customer_id);
    store_bind_str(st, 3, order_status_name(ORDER_PENDING));
    store_bind_str(st, 4, in->token[0] ? in->token : ORDER_TOKEN_DEFAULT);
    store_bind_i64(st, 5, total);
    store_bind_i64(st, 6, units);
    store_bind_str(st, 7, in->request_hash);
    store_bind_str(st, 8, event_id);
    store_bind_i64(st, 9, now);
    int64_t seq;
    int rc = store_insert(st, &seq);
    if (rc) return rc;
    if (seq % LIMIT_ORDER_CUSTOMER_MERGE == 0 && (rc = ord_customer_merge(tx, seq))) return rc;
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

int orders_create_prepare(orders *o, const order_in *in, order_prepared *p)
{
    char event_id[ID_UUID_LEN + 1], ts[40];
    if (in->order_id[0])
        str_copy(p->order_id, sizeof p->order_id, in->order_id);
    else
        id_uuid7(p->order_id);
    id_uuid7(event_id);
    const char *skus[LIMIT_ORDER_ITEMS_MAX];
    int64_t qtys[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < in->nitems; i++) {
        skus[i] = in->items[i].sku;
        qtys[i] = in->items[i].qty;
    }
    const jdump_member token[] = {{"token", in->token[0] ? in->token : ORDER_TOKEN_DEFAULT, NULL, NULL}};
    char *items = ord_items_text(skus, qtys, in->nitems), *payment = jdump_members(token, COUNT(token), NULL);
    const jdump_member m[] = {{"schemaVersion", "1.0", NULL, NULL},
                              {"eventId", event_id, NULL, NULL},
                              {"orderId", p->order_id, NULL, NULL},
                              {"customerId", in->customer_id, NULL, NULL},
                              {"items", NULL, items, NULL},
                              {"payment", NULL, payment, NULL},
                              {"createdAt", clock_fmt_iso(clock_wall_ms(), 1, ts, sizeof ts), NULL, NULL}};
    char *detail = items && payment ? jdump_members(m, COUNT(m), NULL) : NULL;
    free(items);
    free(payment);
    if (!detail) return ORD_ENOMEM;
    bus_event ev = {.source = ORDERS_SOURCE, .detail_type = "OrderCreated", .detail_text = detail, .id = event_id,
                    .subject = p->order_id};
    int rc = bus_prepare(o->b, &ev, &p->ev);
    free(detail);
    return rc;
}

void orders_prepared_release(order_prepared *p)
{
    bus_prepared_release(&p->ev);
}

int orders_create_tx(store_conn *tx, orders *o, const order_in *in, const char *idem_key, order_response_fn respond,
                     const order_prepared *p, order_create *res)
{
    int64_t now = clock_wall_ms();
    int rc;
    memset(res, 0, sizeof *res);
    /* What an Idempotency-Key is bound to: the request hash leaves orderId
     * out (it is compared under the orderId), so a client orderId is added
     * here; a reused key with another orderId is another body. */
    char key_hash[sizeof in->request_hash + LIMIT_ORDER_ID_MAX + 1];
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
    str_copy(res->order_id, sizeof res->order_id, p->order_id);
    if (in->order_id[0]) {
        ord_order cur;
        rc = ord_order_load(tx, in->order_id, &cur);
        if (rc && rc != ORD_ENOTFOUND) return rc;
        if (!rc) res->outcome = strcmp(cur.request_hash, in->request_hash) ? ORDER_CONFLICT : ORDER_SAME;
    }
    if (res->outcome == ORDER_CREATED) {
        str_copy(res->event_id, sizeof res->event_id, p->ev.id);
        rc = ord_insert(tx, o, in, res->order_id, res->event_id, now, &res->item);
        if (rc == ORD_ENOTFOUND) { /* seed 003: every product id must exist; nothing written, never recorded */
            res->outcome = ORDER_NO_PRODUCT;
            return 0;
        }
        if (rc) return rc;
        if ((rc = bus_publish_prepared_tx(tx, o->b, &p->ev, NULL))) return rc;
        if (log_enabled(LOG_DEBUG))
            log_debug("orders", "OrderCreated event published", "orderId", res->order_id, "eventId", res->event_id,
                      "customerId", in->customer_id, "#itemCount", (int64_t)in->nitems, NULL);
    }
    if (idem_key && respond) {
        int status;
        char *text = NULL;
        if ((rc = respond(tx, res, &status, &text))) return rc;
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

/* ---- cancel ------------------------------------------------------------------------ */

int orders_cancel_tx(store_conn *tx, orders *o, const char *id, order_status *status)
{
    ord_order ord;
    int rc = ord_order_load(tx, id, &ord);
    if (rc) return rc;
    *status = ord.status;
    if (!ord_can(&ord, ORDER_CANCELLED, "cancelled")) return ORD_ECONFLICT;
    if (ord_effective_status(&ord) == ORDER_RESERVED && (rc = ord_release(tx, o, &ord))) return rc;
    const jdump_member x[] = {{"previousStatus", order_status_name(ord.status), NULL, NULL}};
    rc = ord_transition(tx, o, &ord, ORDER_CANCELLED, "cancelled", x, COUNT(x));
    if (!rc) *status = ORDER_CANCELLED;
    return rc;
}
