/* sweeper.c - the order domain's periodic work on its own thread: expires
 * reservations older than the reservation timeout (RESERVED -> EXPIRED,
 * releasing the units) and drops Idempotency-Key responses past their TTL,
 * both in bounded chunks (store_sweep). */
#include <stdio.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"
#include "orders/internal.h"

static int expire_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    orders *o = arg;
    char ids[LIMIT_SWEEP_ORDERS][LIMIT_ORDER_ID_MAX + 1];
    int k = 0, rc;
    if (limit > LIMIT_SWEEP_ORDERS) limit = LIMIT_SWEEP_ORDERS;
    store_stmt *st = store_prep(tx, ST_ORDER_EXPIRED);
    store_bind_i64(st, 1, clock_wall_ms() - o->cfg.reservation_timeout_ms);
    store_bind_i64(st, 2, limit);
    while (k < limit && (rc = store_step(st)) == STORE_ROW)
        str_copy(ids[k++], LIMIT_ORDER_ID_MAX + 1, store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    for (int i = 0; i < k; i++) {
        ord_order ord;
        if ((rc = ord_order_load(tx, ids[i], &ord))) return rc;
        if (!ord_can(&ord, ORDER_EXPIRED, "reservation_timeout")) continue;
        if ((rc = ord_release(tx, o, &ord))) return rc;
        if ((rc = ord_transition(tx, o, &ord, ORDER_EXPIRED, "reservation_timeout", NULL, 0))) return rc;
        log_info("orders", "reservation expired", "orderId", ord.id, NULL);
    }
    *n = k;
    return 0;
}

static int keys_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    store_stmt *st = store_prep(tx, ST_IDEMKEY_SWEEP);
    store_bind_i64(st, 1, clock_wall_ms());
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

/* One sweep now. */
static void orders_sweep(orders *o)
{
    int64_t expired = 0, keys = 0;
    int rc = store_sweep(o->st, expire_chunk, o, LIMIT_SWEEP_ORDERS, &expired);
    if (!rc) rc = store_sweep(o->st, keys_chunk, o, LIMIT_SWEEP_ROWS, &keys);
    if (rc) log_error("orders", "sweep failed", "error", err_name(rc), NULL);
}

static void *sweeper_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ord-sweeper"); /* names in top, perf, /proc */
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
        /* the cluster's periodic work: on the store's leader only (and
         * correct if two nodes ever sweep at once: the rows are locked) */
        if (store_is_leader(o->st)) orders_sweep(o);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

int ord_sweeper_start(orders *o)
{
    if (pthread_create(&o->sweeper, NULL, sweeper_main, o)) return ORD_EINTERNAL;
    o->started = 1;
    return 0;
}

void ord_sweeper_stop(orders *o)
{
    if (!o->started) return;
    pthread_mutex_lock(&o->mu);
    o->stop = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->sweeper, NULL);
    o->started = 0;
}
