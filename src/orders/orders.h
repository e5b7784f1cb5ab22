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
 *
 * TRUST.  A queue message is input from outside the trust boundary: the
 * handlers take from it only the id of the event it carries, look that
 * event up in the event log (only the server writes orderly.* events there:
 * PutEvents refuses those sources) and load the order it is about; they
 * decide from the database and act only on a transition the state machine
 * allows.  Every state change goes through the one transition table
 * (order_transitions) and appends the table's event, whose subject is the
 * order id, so the event log is the order's timeline.
 *
 * Invariant, asserted after every inventory change: stock >= reserved >= 0
 * and initial_stock + restocked = stock + sold (also CHECKed by the schema).
 *
 * THREAD SAFETY: *_tx functions run inside a unit (writer thread); reads use
 * the calling thread's reader; parsing and the tables are pure.
 */
#ifndef ORDERLY_ORDERS_H
#define ORDERLY_ORDERS_H
#include <jansson.h>
#include <stdint.h>
#include "bus/bus.h"
#include "lib/breaker.h"
#include "lib/limits.h"
#include "fn/fn.h"
#include "queue/queue.h"
#include "store/store.h"

#define ORDERS_SOURCE "orderly.orders"
#define ORDER_TOKEN_DEFAULT "tok_visa" /* the payment token of an order that names none */
/* ---- the order state machine (state.c) -------------------------------------------- */

typedef enum order_status {
    ORDER_PENDING,
    ORDER_RESERVED,
    ORDER_COMPLETED,
    ORDER_REJECTED,
    ORDER_PAYMENT_FAILED,
    ORDER_EXPIRED,
    ORDER_CANCELLED,
    ORDER_FAILED, /* dead-lettered; resumes from failed_from when its message is redriven */
    ORDER_STATUSES
} order_status;

/* One allowed edge: from -> to with reason ("" = none), appending an event
 * of type event.  A FAILED order moves as the status it failed from. */
typedef struct order_transition {
    order_status from, to;
    const char *reason;
    const char *event;
} order_transition;

#define ORDER_TRANSITIONS 12
extern const order_transition order_transitions[ORDER_TRANSITIONS];

/* "PENDING" ... ; asserts s is a status. */
const char *order_status_name(order_status s);
/* 0 with *out set, or ORD_EINVAL for a name that is no status. */
int order_status_parse(const char *name, order_status *out);
/* The row of order_transitions for from -> to with reason (NULL = ""),
 * or -1 when the table does not allow it. */
int order_transition_find(order_status from, order_status to, const char *reason);
/* 1 when no transition leaves s (FAILED is not terminal: it resumes). */
int order_status_terminal(order_status s);

typedef struct orders orders;

typedef struct orders_config {
    const char *env;
    int64_t reservation_timeout_ms; /* RESERVED longer than this -> EXPIRED */
    int64_t max_units;              /* business limit: sum of qty -> REJECTED order_limit */
    int64_t max_value_cents;        /* business limit: order total -> REJECTED order_limit */
    const char *fail_sku;           /* failure injection: an item with this sku makes the handler fail ("" = off) */
    int test_hooks;                 /* honour _postDeployTestForceResult (seed 000's post-deploy test) */
    int64_t idempotency_key_ttl_ms; /* Idempotency-Key responses kept this long */
    breaker_config breaker;         /* around the payment provider (payments.circuitBreaker) */
    int64_t breaker_retry_ms;       /* a record the open circuit refused waits this long (jittered) */
    int sim_outage;                 /* the simulated provider fails every call (payments.simulator.mode) */
    int sim_latency_ms;             /* ... and takes this long (payments.simulator.latencyMs) */
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
    int by_id;      /* given as a product id (seed 003's shape): the product must exist */
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
    ORDER_CREATED = 0,   /* a new order, its event committed */
    ORDER_SAME,          /* orderId exists with the same body */
    ORDER_CONFLICT,      /* orderId exists with another body */
    ORDER_KEY_REPLAY,    /* the Idempotency-Key was used before with this body: replay */
    ORDER_KEY_MISMATCH,  /* the Idempotency-Key was used with another body */
    ORDER_NO_PRODUCT,    /* an item given as a product id names no product (res->item says which) */
} order_create_outcome;

typedef struct order_create {
    order_create_outcome outcome;
    char order_id[LIMIT_ORDER_ID_MAX + 1];
    char event_id[40];
    int item;              /* ORDER_NO_PRODUCT: the index of the item */
    int replay_status;     /* ORDER_KEY_REPLAY: the recorded response's status */
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

/* What an Idempotency-Key records for an outcome: the status and body the
 * client is answered with, built by the caller (the HTTP layer) inside the
 * unit.  *text is heap (freed by the order layer).  0 or an error. */
typedef int (*order_response_fn)(store_conn *tx, const order_create *res, int *status, char **text);

/* Inside a unit: creates the order with its items and OrderCreated event
 * (prepared by orders_create_prepare), or reports why not in res->outcome.
 * idem_key may be NULL; with one, the response respond builds for
 * ORDER_CREATED / ORDER_SAME / ORDER_CONFLICT is recorded with the key, and a
 * key seen before gives ORDER_KEY_REPLAY (its recorded response) or
 * ORDER_KEY_MISMATCH.  An item given as a product id that names no product
 * is ORDER_NO_PRODUCT: nothing is written (an unknown {sku, qty} item is
 * accepted and the order REJECTED unknown_sku by the reservation).  Store
 * errors are returned; outcomes are not errors. */
int orders_create_tx(store_conn *tx, orders *o, const order_in *in, const char *idem_key, order_response_fn respond,
                     const order_prepared *p, order_create *res);

/* Inside a unit: cancels (releases a reservation).  ORD_ENOTFOUND, or
 * ORD_ECONFLICT when the state machine does not allow it (*status says
 * which status the order is in). */
int orders_cancel_tx(store_conn *tx, orders *o, const char *id, order_status *status);

/* ---- reading ------------------------------------------------------------------ */

/* The order {orderId, customerId, status, reason?, lastError?, items:[{sku,
 * qty, unitPriceCents}], totalCents, units, payment:{token}, attempts,
 * createdAt, updatedAt, reservedAt?, completedAt?}, or NULL (not found). */
json_t *orders_get(orders *o, const char *id);
/* The same on a given connection (inside a unit: what it sees). */
json_t *orders_get_conn(store_conn *c, const char *id);
/* Newest first; status and customer may be NULL; limit 1..100; cursor from
 * a previous page's "nextCursor" (NULL for the first).  ORD_EVALIDATION for
 * a bad cursor.  *out = {orders:[...], nextCursor?}. */
int orders_list(orders *o, const order_status *status, const char *customer, int limit, const char *cursor,
                json_t **out);
/* The order's events from the event log, oldest first, after event seq
 * `after` (0 for the first page), at most limit (1..LIMIT_TIMELINE_PAGE_MAX)
 * with nextCursor when there may be more; its notifications (at most limit).
 * NULL if no order. */
json_t *orders_timeline(orders *o, const char *id, int64_t after, int limit);
/* GET /api/stats (seed 004's names): orders_today, processing_rate,
 * queue_depth, total_orders, orders_by_hour[{hour, count}]; and
 * orders_by_status {STATUS: count}. */
json_t *orders_stats(orders *o);

/* ---- is the flow consumed? (pipeline.c) ---------------------------------------------- */

/* The stages that move an order: the events a function must consume for an
 * order to go on (OrderCreated, PaymentRequested). */
#define ORDERS_STAGES 2
extern const char *const orders_stages[ORDERS_STAGES];
/* Routes a sample event of each stage through the rules and looks for a
 * function consuming one of its target queues: enabled (running = 0) or
 * with pollers running now (running = 1).  Sets gaps[i] to 1 for a stage
 * nothing consumes and returns how many there are; an order created while
 * the first stage has a gap stays PENDING.  Any thread. */
int orders_pipeline_gaps(orders *o, fn_sys *fs, int running, int gaps[ORDERS_STAGES]);

/* ---- the simulated payment provider (payment.c) ------------------------------------ */

typedef enum {
    PAYMENT_CAPTURED,  /* the charge went through */
    PAYMENT_DECLINED,  /* refused for good: *decline_reason says why */
    PAYMENT_TRANSIENT, /* the provider failed this attempt: retry later */
} payment_result;

/* Stripe's test tokens: tok_chargeDeclined -> declined "card_declined",
 * tok_insufficientFunds -> declined "insufficient_funds",
 * tok_processingError -> transient on attempts 1 and 2, captured on the
 * 3rd, anything else (tok_visa) -> captured.  attempt counts from 1.  Pure. */
payment_result payment_simulate(const char *token, int attempt, const char **decline_reason);

/* The simulated provider as payment-processor calls it (payment.c): the
 * token's answer, or PAYMENT_TRANSIENT for every call in outage mode;
 * counts the call.  *why (a static string) says what failed. */
payment_result orders_payment_call(orders *o, const char *token, int attempt, const char **decline_reason,
                                   const char **why);
/* Switches the simulated provider at run time (this node): outage 0/1,
 * latency_ms 0..LIMIT_PAYMENT_LATENCY_MS_MAX (-1 keeps either).  Logged. */
void orders_simulator_set(orders *o, int outage, int latency_ms);
/* {mode, latencyMs, providerCalls, circuit: {name, enabled, state, failures,
 * failureThreshold, windowSeconds, coolDownSeconds, retryDelaySeconds,
 * opened, closed}}: this node's simulator and circuit breaker. */
json_t *orders_payments_json(orders *o);
#define ORDERS_CIRCUIT "payment-provider" /* the circuit's name in metrics, events, health */
#define ORDERS_PAYMENTS_SOURCE "orderly.payments" /* CircuitOpened / CircuitClosed events */
/* The circuit breaker's state, for metrics and health; *enabled set. */
void orders_circuit_get(orders *o, breaker_info *out, int *enabled);
/* The provider's calls so far (this node). */
uint64_t orders_provider_calls(orders *o);

/* ---- a customer's data (customers.c; GDPR) ------------------------------------------- */

/* Every order of customer (newest first, at most max_orders: *truncated
 * then set), each with its events and notifications.  Reader. */
int orders_customer_export(orders *o, const char *customer, int max_orders, json_t **out, int *truncated);
typedef struct orders_erased {
    int64_t orders, events, notifications;
    int last_page; /* orders the latest call erased: 0 = nothing left */
} orders_erased;
/* Inside a unit: up to limit (<= 100) orders of customer get the customerId
 * pseudonym, in their rows, the details of their events and their
 * notifications; counts add up in *done.  Call until last_page is 0. */
int orders_customer_erase_tx(store_conn *tx, orders *o, const char *customer, const char *pseudonym, int limit,
                             orders_erased *done);

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
/* Inside a unit: POST creates (ORD_EEXISTS if present, ORD_ELIMIT when the
 * catalog holds LIMIT_PRODUCTS_MAX); PUT upserts:
 * creates, or updates name/price and sets stock (a restock; ORD_ECONFLICT if
 * below reserved).  *created says which. */
int products_create_tx(store_conn *tx, orders *o, const product_in *p);
int products_put_tx(store_conn *tx, orders *o, const product_in *p, int *created);
/* ORD_ENOTFOUND, or ORD_ECONFLICT while units are reserved. */
int products_delete_tx(store_conn *tx, orders *o, const char *sku);
/* {sku, name, priceCents, stock, reserved, available, sold} or NULL. */
json_t *products_get(orders *o, const char *sku);
/* {products: [...], nextCursor?}: by sku after `after` ("" for the first
 * page), at most limit (1..LIMIT_PRODUCT_PAGE_MAX); NULL on a store error. */
json_t *products_list(orders *o, const char *after, int limit);
/* {products: [...]}: the products whose name is name ignoring case (seed
 * 003's GET /api/products/name/{name}), by sku, at most limit; NULL on a
 * store error. */
json_t *products_by_name(orders *o, const char *name, int limit);
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
enum { ORDERS_PAY_CAPTURED, ORDERS_PAY_DECLINED, ORDERS_PAY_FAILED_TRANSIENT, ORDERS_PAY_OUTCOMES };
extern const char *const orders_pay_outcomes[ORDERS_PAY_OUTCOMES];          /* captured, declined, failed_transient */
enum { ORDERS_INV_RESERVE, ORDERS_INV_RELEASE, ORDERS_INV_DECREMENT, ORDERS_INV_OPS };
extern const char *const orders_inventory_ops[ORDERS_INV_OPS];              /* reserve, release, decrement_stock */

typedef struct orders_counters {
    uint64_t created;                          /* orders created (POST /api/orders or an OrderPlaced event) */
    uint64_t transitions[ORDER_TRANSITIONS];   /* by row of order_transitions (FAILED: each dead-lettering) */
    uint64_t payments[ORDERS_PAY_OUTCOMES];    /* payment attempts by outcome */
    uint64_t reservations_ok;                  /* order items reserved */
    uint64_t reservations_short;               /* order items refused: not enough stock */
    uint64_t inventory[ORDERS_INV_OPS][2];     /* stock updates: [op][0] succeeded, [op][1] refused by their condition */
} orders_counters;
void orders_counters_get(orders *o, orders_counters *out);

/* Reader queries for gauges.  Current orders by status: fn once per status
 * that has orders.  0 or a store error. */
int orders_count_by_status(orders *o, void (*fn)(void *arg, order_status status, int64_t n), void *arg);
/* The `limit` products with the least available stock (stock - reserved;
 * ties by sku), least first.  0 or a store error. */
int products_lowest(orders *o, int limit, void (*fn)(void *arg, const char *sku, int64_t stock, int64_t reserved),
                    void *arg);

#endif
