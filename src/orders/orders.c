/* orders.c - the order domain's lifecycle (open, start, close) and its
 * counters.  The jobs live in their own files: state.c (the state machine),
 * load.c (rows and their JSON), inventory.c, create.c (create, cancel),
 * read.c, products.c, sweeper.c, payment.c (the simulated provider),
 * handlers.c (the three functions), parse.c (validation), demo.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/err.h"
#include "lib/str.h"
#include "orders/internal.h"

const char *const orders_pay_outcomes[ORDERS_PAY_OUTCOMES] = {"captured", "declined", "failed_transient"};
const char *const orders_inventory_ops[ORDERS_INV_OPS] = {"reserve", "release", "decrement_stock"};

void orders_counters_get(orders *o, orders_counters *out)
{
    memset(out, 0, sizeof *out);
    out->created = atomic_load(&o->ctr.created);
    for (int i = 0; i < ORDER_TRANSITIONS; i++) out->transitions[i] = atomic_load(&o->ctr.transitions[i]);
    for (int i = 0; i < ORDERS_PAY_OUTCOMES; i++) out->payments[i] = atomic_load(&o->ctr.payments[i]);
    out->reservations_ok = atomic_load(&o->ctr.reservations_ok);
    out->reservations_short = atomic_load(&o->ctr.reservations_short);
    for (int i = 0; i < ORDERS_INV_OPS; i++)
        for (int k = 0; k < 2; k++) out->inventory[i][k] = atomic_load(&o->ctr.inventory[i][k]);
}

int orders_open(store *st, queue_sys *qs, bus *b, const orders_config *cfg, orders **out)
{
    orders *o = calloc(1, sizeof *o);
    if (!o) return ORD_ENOMEM;
    o->st = st;
    o->qs = qs;
    o->b = b;
    o->cfg = *cfg;
    str_copy(o->fail_sku, sizeof o->fail_sku, cfg->fail_sku ? cfg->fail_sku : "");
    o->cfg.fail_sku = o->fail_sku;
    str_copy(o->env, sizeof o->env, cfg->env ? cfg->env : "");
    o->cfg.env = o->env;
    o->copies = calloc(LIMIT_ORDER_COPY_SLOTS, sizeof *o->copies);
    if (!o->copies) {
        free(o);
        return ORD_ENOMEM;
    }
    breaker_init(&o->breaker, &cfg->breaker);
    atomic_store(&o->sim_outage, cfg->sim_outage);
    atomic_store(&o->sim_latency_ms, cfg->sim_latency_ms);
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = store_signal_on(st, STORE_TOPIC_PRODUCTS, ord_price_cache_signal, o);
    if (rc) {
        orders_close(o);
        return rc;
    }
    *out = o;
    return 0;
}

int orders_start(orders *o)
{
    return ord_sweeper_start(o);
}

void orders_close(orders *o)
{
    if (!o) return;
    store_signal_off(o->st, STORE_TOPIC_PRODUCTS, ord_price_cache_signal, o);
    ord_sweeper_stop(o);
    breaker_release(&o->breaker);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o->copies);
    free(o);
}
