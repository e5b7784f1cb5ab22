/* internal.h - what orders.c, handlers.c and parse.c share; not for
 * other modules (they use orders.h). */
#ifndef ORDERLY_ORDERS_INTERNAL_H
#define ORDERLY_ORDERS_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include "orders/orders.h"

/* A cached price snapshot (see ord_price in orders.c). */
typedef struct ord_price_slot {
    char sku[ORDER_SKU_MAX + 1];
    int64_t price_cents;
    int known, used;
} ord_price_slot;

struct orders {
    store *st;
    queue_sys *qs;
    bus *b;
    orders_config cfg;
    char fail_sku[ORDER_SKU_MAX + 1];
    char env[LIMIT_ENV_NAME_MAX + 1];
    pthread_t sweeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    struct { /* orders_counters, as atomics */
        _Atomic uint64_t created, finished[ORDERS_FINISH_KINDS], payments[ORDERS_PAY_OUTCOMES];
        _Atomic uint64_t reservations_ok, reservations_short, inventory[ORDERS_INV_OPS][2];
    } ctr;
    /* writer thread only: sku -> price for new orders; every product write
     * empties it (and again if that write rolls back) */
    ord_price_slot prices[LIMIT_PRICE_CACHE_SLOTS];
    int nprices;
    _Atomic int prices_stale; /* another node changed products: empty the cache before its next use */
};

typedef struct ord_product {
    char sku[ORDER_SKU_MAX + 1];
    char name[PRODUCT_NAME_BYTES_MAX + 1];
    int64_t price_cents, stock, reserved, sold, initial_stock, restocked;
} ord_product;

typedef struct ord_item {
    char sku[ORDER_SKU_MAX + 1];
    int64_t qty;
    int64_t unit_price_cents;
    int known; /* the sku existed when the order was created */
} ord_item;

typedef struct ord_order {
    int64_t seq;
    char id[ORDER_ID_MAX + 1];
    char customer_id[ORDER_CUSTOMER_BYTES_MAX + 1];
    char status[16], reason[32], failed_from[16];
    char last_error[256];
    char token[ORDER_TOKEN_MAX + 1];
    char request_hash[65];
    char event_id[64];
    int64_t total_cents, units, attempts, created_ms, updated_ms, reserved_ms, completed_ms;
    ord_item items[ORDER_ITEMS_MAX];
    int nitems;
} ord_order;

/* Loaders return 0, ORD_ENOTFOUND or a store error; work on any connection. */
int ord_product_load(store_conn *c, const char *sku, ord_product *p);
int ord_order_load(store_conn *c, const char *id, ord_order *o);
/* Writer only.  Each counts what it did in o->ctr after the commit. */
/* Runs a reserve / release / capture of qty units of sku and asserts the
 * inventory invariant on the row it returns.  0, ORD_ECONDITION when the
 * condition refused the change, or a store error. */
int ord_stock_change(store_conn *tx, orders *o, store_stmt_id id, const char *sku, int64_t qty);
int ord_set_status(store_conn *tx, orders *o, const char *id, const char *status, const char *reason,
                   const char *failed_from, int64_t reserved_ms, int64_t completed_ms);
int ord_release(store_conn *tx, orders *o, const ord_order *ord);
int ord_insert(store_conn *tx, orders *o, const order_in *in, const char *id, const char *event_id, int64_t now);
/* Publishes an orderly.orders event about order_id; steals detail. */
int ord_emit(store_conn *tx, orders *o, const char *type, const char *order_id, json_t *detail);
const char *ord_effective_status(const ord_order *o);

#endif
