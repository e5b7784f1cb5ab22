/* demo.c - the demo producer (seed 004's order-producer Lambda on an
 * EventBridge schedule): every interval it creates randint(min..max) random
 * orders from the sample catalog, each through the path of POST /api/orders
 * (orders_parse, orders_create_prepare, orders_create_tx in one unit), so
 * they publish OrderCreated and are processed like any client's order.
 *
 * Formats (seed 004): orderId "ORD-" + 8 uppercase hex digits, customerId
 * "CUST-" + 1000..9999, 1-3 distinct skus of PROD-001..PROD-005, quantity
 * 1-5, payment token tok_visa.  The first batch comes one interval after
 * the start (as a rate() schedule).  One thread waits on a condition
 * variable, so orders_demo_stop() returns as soon as the order in progress
 * has committed.
 */
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"
#include "orders/internal.h"
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_SKUS      5
#define DEMO_ITEMS_MAX 3
#define DEMO_QTY_MAX   5
#define DEMO_TOKEN     ORDER_TOKEN_DEFAULT

static const char *const demo_skus[DEMO_SKUS] = {"PROD-001", "PROD-002", "PROD-003", "PROD-004",
                                                 "PROD-005"};

struct orders_demo {
    orders *o;
    int64_t interval_ms;
    int min, max;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int stop;
};

/* A POST /api/orders body with seed 004's formats. */
static json_t *demo_body(void)
{
    char id[16], customer[16];
    snprintf(id, sizeof id, "ORD-%08X", (unsigned)randombytes_random());
    snprintf(customer, sizeof customer, "CUST-%u", 1000 + (unsigned)randombytes_uniform(9000));
    int pick[DEMO_SKUS] = {0, 1, 2, 3, 4};
    int n = 1 + (int)randombytes_uniform(DEMO_ITEMS_MAX);
    json_t *items = json_array();
    for (int i = 0; i < n; i++) { /* partial Fisher-Yates: n distinct skus */
        int j = i + (int)randombytes_uniform((uint32_t)(DEMO_SKUS - i)), t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
        json_array_append_new(items, json_pack("{s:s,s:i}", "sku", demo_skus[pick[i]], "qty",
                                               1 + (int)randombytes_uniform(DEMO_QTY_MAX)));
    }
    return json_pack("{s:s,s:s,s:o,s:{s:s}}", "orderId", id, "customerId", customer, "items", items,
                     "payment", "token", DEMO_TOKEN);
}

typedef struct demo_op {
    orders *o;
    order_in in;
    order_prepared prep;
    order_create res;
} demo_op;

static int demo_unit(store_conn *tx, void *arg)
{
    demo_op *op = arg;
    return orders_create_tx(tx, op->o, &op->in, NULL, NULL, &op->prep, &op->res);
}

/* Creates one order; 0 with its id in id[], or an error (logged). */
static int demo_order(orders *o, char id[LIMIT_ORDER_ID_MAX + 1])
{
    demo_op op = {.o = o};
    json_t *body = demo_body(), *errors = json_array();
    int rc = body && errors ? orders_parse(body, &op.in, errors) : ORD_ENOMEM;
    json_decref(body);
    json_decref(errors);
    if (rc) { /* the body is built here: a refusal is a bug */
        log_error("demo", "demo order refused by validation", "error", err_name(rc), NULL);
        return rc;
    }
    if ((rc = orders_create_prepare(o, &op.in, &op.prep))) return rc;
    rc = store_run(o->st, demo_unit, &op);
    orders_prepared_release(&op.prep);
    if (rc) {
        log_warn("demo", "demo order not created", "orderId", op.prep.order_id, "error",
                 err_name(rc), NULL);
        return rc;
    }
    if (op.res.outcome != ORDER_CREATED) { /* 1 in 2^32: the orderId is taken */
        log_warn("demo", "demo orderId already exists; order skipped", "orderId", op.res.order_id,
                 NULL);
        return ORD_EEXISTS;
    }
    str_copy(id, LIMIT_ORDER_ID_MAX + 1, op.res.order_id);
    return 0;
}

static void demo_batch(orders_demo *d)
{
    int n = d->min + (int)randombytes_uniform((uint32_t)(d->max - d->min + 1)), sent = 0;
    char ids[LIMIT_DEMO_ORDERS_MAX * (LIMIT_ORDER_ID_MAX + 1)] = "", msg[32];
    size_t len = 0;
    for (int i = 0; i < n && !atomic_load(&d->stop); i++) {
        char id[LIMIT_ORDER_ID_MAX + 1];
        if (demo_order(d->o, id)) continue;
        len += (size_t)snprintf(ids + len, sizeof ids - len, "%s%s", sent ? "," : "", id);
        sent++;
    }
    snprintf(msg, sizeof msg, "Sent %d orders", sent); /* seed 004's words */
    log_info("demo", msg, "#count", (int64_t)sent, "orderIds", ids, NULL);
}

static void *demo_main(void *arg)
{
    orders_demo *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop)) {
        struct timespec ts = clock_mono_deadline(d->interval_ms);
        int w = 0;
        while (!atomic_load(&d->stop) && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if (atomic_load(&d->stop)) break;
        pthread_mutex_unlock(&d->mu);
        demo_batch(d);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int orders_demo_start(orders *o, int interval_s, int min_orders, int max_orders, orders_demo **out)
{
    *out = NULL;
    if (interval_s < 1 || interval_s > LIMIT_DEMO_INTERVAL_S_MAX || min_orders < 1 ||
        max_orders < min_orders || max_orders > LIMIT_DEMO_ORDERS_MAX)
        return ORD_EINVAL;
    for (int i = 0; i < DEMO_SKUS; i++) { /* orders of unknown skus would all be REJECTED */
        json_t *p = products_get(o, demo_skus[i]);
        if (!p)
            log_warn("demo",
                     "sample product missing from the catalog: its demo orders will be rejected",
                     "sku", demo_skus[i], NULL);
        json_decref(p);
    }
    orders_demo *d = calloc(1, sizeof *d);
    if (!d) return ORD_ENOMEM;
    d->o = o;
    d->interval_ms = (int64_t)interval_s * 1000;
    d->min = min_orders;
    d->max = max_orders;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->thread, NULL, demo_main, d)) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        free(d);
        return ORD_EINTERNAL;
    }
    log_info("demo", "demo producer started", "#intervalSeconds", (int64_t)interval_s, "#minOrders",
             (int64_t)min_orders, "#maxOrders", (int64_t)max_orders, NULL);
    *out = d;
    return 0;
}

void orders_demo_stop(orders_demo *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    atomic_store(&d->stop, 1);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
