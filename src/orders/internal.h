/* internal.h - what the files of src/orders/ share; not for other modules
 * (they use orders.h). */
#ifndef ORDERLY_ORDERS_INTERNAL_H
#define ORDERLY_ORDERS_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include "lib/jdump.h"
#include "orders/orders.h"

/* A cached price snapshot (see ord_price in create.c). */
typedef struct ord_price_slot {
    char sku[LIMIT_ORDER_SKU_MAX + 1];
    int64_t price_cents;
    int known, used;
} ord_price_slot;

struct orders {
    store *st;
    queue_sys *qs;
    bus *b;
    orders_config cfg;
    char fail_sku[LIMIT_ORDER_SKU_MAX + 1];
    char env[LIMIT_ENV_NAME_MAX + 1];
    pthread_t sweeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    struct { /* orders_counters, as atomics */
        _Atomic uint64_t created, transitions[ORDER_TRANSITIONS], payments[ORDERS_PAY_OUTCOMES];
        _Atomic uint64_t reservations_ok, reservations_short, inventory[ORDERS_INV_OPS][2];
    } ctr;
    /* writer thread only: sku -> price for new orders; every product write
     * empties it (and again if that write rolls back) */
    /* writer thread only: the orders this batch read, as it left them
     * (load.c, "the batch's copies") */
    struct ord_copy *copies;
    ord_price_slot prices[LIMIT_PRICE_CACHE_SLOTS];
    int nprices;
    _Atomic int prices_stale; /* another node changed products: empty the cache before its next use */
    /* the payment provider (payment.c) */
    breaker breaker;
    _Atomic int sim_outage, sim_latency_ms;
    _Atomic uint64_t provider_calls;
};

/* ---- the payment provider's circuit (payment.c) --------------------------------- */

/* A transition of the circuit (to = BREAKER_OPEN, _HALF_OPEN, _CLOSED):
 * logged, and CircuitOpened / CircuitClosed published on the bus in a unit
 * of its own (any thread, the writer too: it is submitted, not waited for). */
void ord_circuit_transition(orders *o, int to);

typedef struct ord_product {
    char sku[LIMIT_ORDER_SKU_MAX + 1];
    char name[LIMIT_PRODUCT_NAME_BYTES_MAX + 1];
    int64_t price_cents, stock, reserved, sold, initial_stock, restocked;
} ord_product;

typedef struct ord_item {
    char sku[LIMIT_ORDER_SKU_MAX + 1];
    int64_t qty;
    int64_t unit_price_cents;
    int known; /* the sku existed when the order was created */
} ord_item;

typedef struct ord_order {
    int64_t seq;
    char id[LIMIT_ORDER_ID_MAX + 1];
    char customer_id[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1];
    order_status status;
    order_status failed_from; /* FAILED: the status it resumes as; else = status */
    char reason[32];
    char last_error[256];
    char token[LIMIT_ORDER_TOKEN_MAX + 1];
    char request_hash[65];
    char event_id[64];
    int64_t total_cents, units, attempts, created_ms, updated_ms, reserved_ms, completed_ms;
    ord_item items[LIMIT_ORDER_ITEMS_MAX];
    int nitems;
} ord_order;

/* One of the batch's copies (ord_order_load_tx). */
struct ord_copy {
    uint64_t epoch; /* the store_tx_epoch it was made in; 0 = empty */
    ord_order o;
};

/* ---- loading and rendering (load.c) ---------------------------------------- */

/* Loaders return 0, ORD_ENOTFOUND or a store error (ORD_ESTORE for a row
 * whose status is no status); work on any connection. */
int ord_product_load(store_conn *c, const char *sku, ord_product *p);
int ord_order_load(store_conn *c, const char *id, ord_order *o);
/* The status an order moves as: for a FAILED one the status it failed from. */
order_status ord_effective_status(const ord_order *o);
json_t *ord_order_json(const ord_order *o);
json_t *ord_product_json(const ord_product *p);
json_t *ord_iso(int64_t ms);

/* An event of the event log, as the server archived it. */
typedef struct ord_event {
    char id[64];
    char source[LIMIT_EVENT_FIELD_MAX + 1];
    char detail_type[LIMIT_EVENT_FIELD_MAX + 1];
    char subject[LIMIT_ORDER_ID_MAX + 1]; /* the order it is about, "" = none */
    int64_t time_ms;
    const char *envelope;                 /* the envelope as logged (owned when envelope_owned) */
    size_t envelope_len;
    int envelope_owned;
    json_t *detail;                       /* parsed on first use (ord_event_detail) */
} ord_event;
/* The logged event id: 0, ORD_ENOTFOUND (not in the log) or a store error /
 * ORD_ENOMEM.  Release with ord_event_release. */
int ord_event_load(store_conn *c, const char *id, ord_event *ev);
/* The event the bus logged in this transaction, as it told an in-process
 * record (queue_event), with its envelope text (borrowed: the record's
 * message, identical to the log's).  Nothing is read or parsed. */
void ord_event_view(ord_event *ev, const queue_event *qe, const char *envelope, size_t len);
/* The event's detail (parsed from the envelope on first use; an empty
 * object when it cannot be read), or NULL when out of memory. */
const json_t *ord_event_detail(ord_event *ev);
/* The detail as compact JSON text (heap), or NULL when out of memory. */
char *ord_event_detail_text(ord_event *ev);
void ord_event_release(ord_event *ev);

/* The batch's copies (writer, SQLite): the functions' three records of an
 * order run in one transaction, each reading the order.  ord_order_load_tx
 * reads through a copy the batch made of the order, good while
 * store_tx_epoch says nothing but the writer's own statements changed what
 * its transaction holds; every statement that writes an order keeps its
 * copy up to date (ord_copy_transition) or drops it (ord_copy_drop).  On
 * readers and on PostgreSQL (other nodes write) it is ord_order_load. */
int ord_order_load_tx(store_conn *tx, orders *o, const char *id, ord_order *ord);
/* After the transaction moved the order through ST_ORDER_UPDATE: its copy,
 * if any, takes the same change. */
void ord_copy_transition(store_conn *tx, orders *o, const char *id, order_status to, const char *reason,
                         order_status from, int64_t now);
/* After any other write to the order's row: its copy is gone. */
void ord_copy_drop(store_conn *tx, orders *o, const char *id);

/* The customer index in bulk (customers.c; SQLite, migration 012): an
 * order joins customer_orders when the order whose seq is the next multiple
 * of LIMIT_ORDER_CUSTOMER_MERGE is inserted, all of them in one sorted
 * statement, instead of one random leaf written a commit per order; the
 * list reads the orders after the mark by seq.  A no-op on PostgreSQL. */
int ord_customer_merge(store_conn *tx, int64_t upto);

/* ---- the state machine (state.c) -------------------------------------------- */

/* Inside a unit: moves ord to status `to` with reason (NULL = none) through
 * the transition table, which must allow it (asserted: callers check with
 * order_transition_find first), and appends the table's event about the
 * order: {orderId, customerId, reason?} and then the nextra members of
 * extra (at most ORD_EXTRA_MAX; borrowed).  Counts the transition after the
 * commit.  0 or a store error. */
#define ORD_EXTRA_MAX 4
int ord_transition(store_conn *tx, orders *o, const ord_order *ord, order_status to, const char *reason,
                   const jdump_member *extra, size_t nextra);
/* 1 when the state machine lets ord move to `to` (with reason). */
int ord_can(const ord_order *ord, order_status to, const char *reason);
/* Publishes an orderly.orders event about order_id whose detail is the n
 * members of m, written as text (no JSON objects on the pipeline's path):
 * the status changes and NotificationSent. */
int ord_emit(store_conn *tx, orders *o, const char *type, const char *order_id, const jdump_member *m, size_t n);
/* [{"sku":...,"qty":...}, ...] of n items (malloc'd), or NULL when out of
 * memory: the items of the OrderCreated and PaymentRequested details. */
char *ord_items_text(const char *const *skus, const int64_t *qtys, int n);

/* ---- inventory (inventory.c) ------------------------------------------------- */

/* Writer only.  Each counts what it did in o->ctr after the commit. */
/* Runs a reserve / release / capture of qty units of sku and asserts the
 * inventory invariant on the row it returns.  0, ORD_ECONDITION when the
 * condition refused the change, or a store error. */
int ord_stock_change(store_conn *tx, orders *o, store_stmt_id id, const char *sku, int64_t qty);
/* Reserves every item or none: 0; or *short_at = the index of the item
 * that could not be reserved and *unknown set when its sku does not exist
 * (nothing stays reserved), returning ORD_ECONDITION; or a store error. */
int ord_reserve_all(store_conn *tx, orders *o, const ord_order *ord, int *short_at, int *unknown);
/* Releases (cancel, expiry, decline) or captures (payment) the reservation
 * of every item of a RESERVED order. */
int ord_release(store_conn *tx, orders *o, const ord_order *ord);
int ord_capture(store_conn *tx, orders *o, const ord_order *ord);
/* Asserts the invariant of sku's row (after a product write). */
void ord_check_invariant(store_conn *tx, const char *sku);

/* ---- creating (create.c) ------------------------------------------------------ */

/* Inserts the order row and items with price snapshots (no event).  With
 * missing, an item given as a product id that names no product writes
 * nothing: ORD_ENOTFOUND, *missing its index (without, it is accepted as
 * an unknown sku is). */
int ord_insert(store_conn *tx, orders *o, const order_in *in, const char *id, const char *event_id, int64_t now,
               int *missing);
/* Product writes call this: the price cache forgets everything. */
int ord_price_cache_forget(store_conn *tx, orders *o);
/* A store signal handler: another node changed products; this writer's
 * price cache is emptied before its next use (a flag: the cache is the
 * writer thread's). */
void ord_price_cache_signal(void *arg, int64_t key, uint32_t times);

/* ---- the sweeper (sweeper.c) ------------------------------------------------- */
int ord_sweeper_start(orders *o);
void ord_sweeper_stop(orders *o);

#endif
