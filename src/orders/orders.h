/* orders.h - the order domain: validation, the order state machine,
 * inventory reservation, the simulated payment provider, notifications.
 *
 * Flow (design.md): POST /api/orders commits the order row, its items and
 * its OrderCreated event (routed to <env>-orders) in ONE unit.  Three
 * functions consume the queues: order-processor reserves every item or none
 * (RESERVED + PaymentRequested, or REJECTED + OrderRejected),
 * payment-processor captures or declines once per order (COMPLETED +
 * OrderCompleted: stock -= qty, reserved -= qty; or PAYMENT_FAILED +
 * PaymentFailed: reserved -= qty), notification-processor records one
 * notification per terminal event.  A message moved to a DLQ marks its order
 * FAILED (reason dead_lettered) remembering where it stopped; redrive
 * resumes it there.  A sweeper expires reservations older than the timeout.
 * Every state change appends an event whose subject is the order id, so the
 * event log is the order's timeline.
 *
 * Statuses: PENDING -> RESERVED -> COMPLETED; PENDING -> REJECTED;
 * RESERVED -> PAYMENT_FAILED | EXPIRED; PENDING|RESERVED -> CANCELLED;
 * PENDING|RESERVED -> FAILED -> (redrive) back where it was.
 * Invariant, asserted after every inventory change: stock >= reserved >= 0
 * and initial_stock + restocked = stock + sold (also CHECKed by the schema).
 *
 * THREAD SAFETY: *_tx functions run inside a unit (writer thread); reads use
 * the calling thread's reader; parsing is pure.
 */
#ifndef ORDERLY_ORDERS_H
#define ORDERLY_ORDERS_H
#include <jansson.h>
#include <stdint.h>
#include "bus/bus.h"
#include "lib/limits.h"
#include "fn/fn.h"
#include "queue/queue.h"
#include "store/store.h"

#define ORDERS_SOURCE "orderly.orders"
#define ORDER_TOKEN_DEFAULT "tok_visa" /* the payment token of an order that names none */
typedef struct orders orders;

typedef struct orders_config {
    const char *env;
    int64_t reservation_timeout_ms; /* RESERVED longer than this -> EXPIRED */
    int64_t max_units;              /* business limit: sum of qty -> REJECTED order_limit */
    int64_t max_value_cents;        /* business limit: order total -> REJECTED order_limit */
    const char *fail_sku;           /* failure injection: an item with this sku makes the handler fail ("" = off) */
    int64_t idempotency_key_ttl_ms; /* Idempotency-Key responses kept this long */
} orders_config;

/* ---- lifecycle ------------------------------------------------------------- */

int orders_open(store *st, queue_sys *qs, bus *b, const orders_config *cfg, orders **out);
/* Registers the handlers order-processor, payment-processor,
 * notification-processor and the dead-letter hook.  Before fn_start. */
int orders_register(orders *o, fn_sys *fs);
/* Starts the reservation-expiry and key sweeper; orders_close stops it. */
int orders_start(orders *o);
void orders_close(orders *o);

/* ---- creating orders --------------------------------------------------------- */

typedef struct order_item_in {
    char sku[LIMIT_ORDER_SKU_MAX + 1];
    int qty;
} order_item_in;

typedef struct order_in {
    char order_id[LIMIT_ORDER_ID_MAX + 1];      /* "" = generate a UUID */
    char customer_id[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1];
    order_item_in items[LIMIT_ORDER_ITEMS_MAX];
    int nitems;
    char token[LIMIT_ORDER_TOKEN_MAX + 1];      /* payment token, default tok_visa */
    char request_hash[65];                /* of the canonical request: same body -> same hash */
} order_in;

/* Validates a POST /api/orders body (design.md rules; `quantity` accepted
 * for `qty`).  Appends {field, message} to errors for each problem and
 * returns ORD_EVALIDATION, else fills out and returns 0. */
int orders_parse(const json_t *body, order_in *out, json_t *errors);

typedef enum {
    ORDER_CREATED = 0,   /* 202: new order, event committed */
    ORDER_SAME,          /* 200: orderId exists with the same body */
    ORDER_CONFLICT,      /* 409: orderId exists with another body */
    ORDER_KEY_REPLAY,    /* the Idempotency-Key was used before with this body: replay */
    ORDER_KEY_MISMATCH,  /* 422: the Idempotency-Key was used with another body */
} order_create_outcome;

typedef struct order_create {
    order_create_outcome outcome;
    char order_id[LIMIT_ORDER_ID_MAX + 1];
    char event_id[40];
    int replay_status;     /* ORDER_KEY_REPLAY: the first response's status */
    char *replay_body;     /* ORDER_KEY_REPLAY: its body (heap; caller frees) */
} order_create;

/* The order id (the client's, or a new time-ordered UUID) and the
 * OrderCreated event, built before the unit on the calling thread so the
 * writer only writes rows.  Release with orders_prepared_release(). */
typedef struct order_prepared {
    char order_id[LIMIT_ORDER_ID_MAX + 1];
    bus_prepared ev;
} order_prepared;
int orders_create_prepare(orders *o, const order_in *in, order_prepared *p);
void orders_prepared_release(order_prepared *p);

/* Inside a unit: creates the order with its items and OrderCreated event
 * (prepared by orders_create_prepare), or reports why not.  idem_key may be NULL.  When an Idempotency-Key is
 * given and the outcome is ORDER_CREATED / ORDER_SAME / ORDER_CONFLICT, the
 * response that will be sent is recorded with it (response_json is called
 * to build it).  Store errors are returned; outcomes are not errors. */
int orders_create_tx(store_conn *tx, orders *o, const order_in *in, const char *idem_key, const order_prepared *p,
                     order_create *res);
/* The JSON answered for a create outcome (202 body, 200 order, 409 problem
 * detail); also what an Idempotency-Key replays. */
int orders_create_response(orders *o, const order_create *res, int *status, json_t **body);

/* Inside a unit: cancels (releases a reservation).  ORD_ENOTFOUND, or
 * ORD_ECONFLICT when the order is already terminal (*status says which). */
int orders_cancel_tx(store_conn *tx, orders *o, const char *id, char *status, size_t len);

/* ---- reading ------------------------------------------------------------------ */

/* The order {orderId, customerId, status, reason?, lastError?, items:[{sku,
 * qty, unitPriceCents}], totalCents, units, payment:{token}, attempts,
 * createdAt, updatedAt, reservedAt?, completedAt?}, or NULL (not found). */
json_t *orders_get(orders *o, const char *id);
/* Newest first; status and customer may be NULL; limit 1..100; cursor from
 * a previous page's "nextCursor" (NULL for the first).  ORD_EVALIDATION for
 * a bad cursor or status.  *out = {orders:[...], nextCursor?}. */
int orders_list(orders *o, const char *status, const char *customer, int limit, const char *cursor, json_t **out);
/* The order's events from the event log, oldest first; NULL if no order. */
json_t *orders_timeline(orders *o, const char *id);
/* GET /api/stats (seed 004's names): orders_today, processing_rate,
 * queue_depth, total_orders, orders_by_hour[{hour, count}]; and
 * orders_by_status {STATUS: count}. */
json_t *orders_stats(orders *o);
/* 1 if s is a valid order status name. */
int orders_status_valid(const char *s);
/* Every status name, NULL-terminated. */
extern const char *const orders_statuses[];

/* ---- products and inventory ----------------------------------------------------- */

typedef struct product_in {
    char sku[LIMIT_ORDER_SKU_MAX + 1];
    char name[LIMIT_PRODUCT_NAME_BYTES_MAX + 1];
    int has_name, has_price, has_stock;
    int64_t price_cents;
    int64_t stock;
} product_in;

/* Validates a product body; for POST sku is required in the body, for PUT it
 * comes from the path (sku_from_path).  Fills errors; ORD_EVALIDATION. */
int products_parse(const json_t *body, const char *sku_from_path, product_in *out, json_t *errors);
/* Inside a unit: POST creates (ORD_EEXISTS if present); PUT upserts:
 * creates, or updates name/price and sets stock (a restock; ORD_ECONFLICT if
 * below reserved).  *created says which. */
int products_create_tx(store_conn *tx, orders *o, const product_in *p);
int products_put_tx(store_conn *tx, orders *o, const product_in *p, int *created);
/* ORD_ENOTFOUND, or ORD_ECONFLICT while units are reserved. */
int products_delete_tx(store_conn *tx, orders *o, const char *sku);
/* {sku, name, priceCents, stock, reserved, available, sold} or NULL. */
json_t *products_get(orders *o, const char *sku);
json_t *products_list(orders *o);
/* Loads a catalog file ({"products":[{sku,name,priceCents,stock}]} or a bare
 * array) creating the products that do not exist; *added is set.  Blocking. */
int products_seed_file(orders *o, const char *path, int *added, char *err, size_t errlen);

/* ---- demo producer (seed 004) ------------------------------------------------------ */

typedef struct orders_demo orders_demo;
/* Starts a thread that every interval_s (1..LIMIT_DEMO_INTERVAL_S_MAX)
 * creates min_orders..max_orders random orders of PROD-001..PROD-005 with
 * seed 004's formats (orderId "ORD-XXXXXXXX", customerId "CUST-NNNN", 1-3
 * items, qty 1-5, tok_visa) through the path of POST /api/orders, and logs
 * each batch ("Sent N orders", orderIds).  ORD_EINVAL for bad arguments. */
int orders_demo_start(orders *o, int interval_s, int min_orders, int max_orders, orders_demo **out);
/* Stops and frees it; returns once the order being created has committed.
 * NULL is a no-op. */
void orders_demo_stop(orders_demo *d);

/* ---- counters (for metrics) -------------------------------------------------------- */

/* Counted after the commit of the unit that did the work (so a rolled back
 * unit counts nothing), except failed_transient (a handler failure). */
#define ORDERS_FINISH_KINDS 9
/* The terminal transitions counted in finished[]: {status, reason} ("" = none). */
extern const char *const orders_finish_kinds[ORDERS_FINISH_KINDS][2];
enum { ORDERS_PAY_CAPTURED, ORDERS_PAY_DECLINED, ORDERS_PAY_FAILED_TRANSIENT, ORDERS_PAY_OUTCOMES };
extern const char *const orders_pay_outcomes[ORDERS_PAY_OUTCOMES];          /* captured, declined, failed_transient */
enum { ORDERS_INV_RESERVE, ORDERS_INV_RELEASE, ORDERS_INV_DECREMENT, ORDERS_INV_OPS };
extern const char *const orders_inventory_ops[ORDERS_INV_OPS];              /* reserve, release, decrement_stock */

typedef struct orders_counters {
    uint64_t created;                          /* orders created (POST /api/orders or an OrderPlaced event) */
    uint64_t finished[ORDERS_FINISH_KINDS];    /* entries into a terminal status (FAILED: each dead-lettering) */
    uint64_t payments[ORDERS_PAY_OUTCOMES];    /* payment attempts by outcome */
    uint64_t reservations_ok;                  /* order items reserved */
    uint64_t reservations_short;               /* order items refused: not enough stock */
    uint64_t inventory[ORDERS_INV_OPS][2];     /* stock updates: [op][0] succeeded, [op][1] refused by their condition */
} orders_counters;
void orders_counters_get(orders *o, orders_counters *out);

/* Reader queries for gauges.  Current orders by status: fn once per status
 * that has orders.  0 or a store error. */
int orders_count_by_status(orders *o, void (*fn)(void *arg, const char *status, int64_t n), void *arg);
/* The `limit` products with the least available stock (stock - reserved;
 * ties by sku), least first.  0 or a store error. */
int products_lowest(orders *o, int limit, void (*fn)(void *arg, const char *sku, int64_t stock, int64_t reserved),
                    void *arg);

#endif
