/* inventory.c - stock, reserved and sold of each product, changed only by
 * conditional UPDATEs, so the invariant stock >= reserved >= 0 and
 * initial_stock + restocked = stock + sold holds after every change: the
 * schema's CHECKs refuse a row that breaks it (both backends), and the
 * conditions keep the UPDATEs from trying.  An UPDATE whose condition does
 * not hold changes no row (store_changes 0): ORD_ECONDITION. */
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "orders/internal.h"

void ord_check_invariant(store_conn *tx, const char *sku)
{
    ord_product p;
    if (ord_product_load(tx, sku, &p)) return;
    CHECK(p.reserved >= 0);
    CHECK(p.stock >= p.reserved);
    CHECK(p.initial_stock + p.restocked == p.stock + p.sold);
}

int ord_stock_change(store_conn *tx, orders *o, store_stmt_id id, const char *sku, int64_t qty)
{
    CHECK(id == ST_PRODUCT_RESERVE || id == ST_PRODUCT_RELEASE || id == ST_PRODUCT_CAPTURE);
    CHECK(qty > 0);
    int op = id == ST_PRODUCT_RESERVE   ? ORDERS_INV_RESERVE
             : id == ST_PRODUCT_RELEASE ? ORDERS_INV_RELEASE
                                        : ORDERS_INV_DECREMENT;
    store_stmt *st = store_prep(tx, id);
    store_bind_str(st, 1, sku);
    store_bind_i64(st, 2, qty);
    store_bind_i64(st, 3, clock_wall_ms());
    int rc = store_exec(st);
    if (rc) return rc;
    if (store_changes(tx) != 1) {
        rc = store_count_after_commit(tx, &o->ctr.inventory[op][1], 1);
        return rc ? rc : ORD_ECONDITION;
    }
    return store_count_after_commit(tx, &o->ctr.inventory[op][0], 1);
}

int ord_reserve_all(store_conn *tx, orders *o, const ord_order *ord, int *short_at, int *unknown)
{
    for (int i = 0; i < ord->nitems; i++) {
        const ord_item *it = &ord->items[i];
        int rc = it->known ? ord_stock_change(tx, o, ST_PRODUCT_RESERVE, it->sku, it->qty) : ORD_ENOTFOUND;
        if (rc == 0 && (rc = store_count_after_commit(tx, &o->ctr.reservations_ok, 1))) return rc;
        if (rc == 0) continue;
        if (rc != ORD_ECONDITION && rc != ORD_ENOTFOUND) return rc;
        /* give back what this order took: all or nothing */
        for (int k = 0; k < i; k++) {
            int r2 = ord_stock_change(tx, o, ST_PRODUCT_RELEASE, ord->items[k].sku, ord->items[k].qty);
            CHECK(r2 != ORD_ECONDITION); /* it was reserved just above */
            if (r2) return r2;
        }
        ord_product p;
        *short_at = i;
        *unknown = rc == ORD_ENOTFOUND || ord_product_load(tx, it->sku, &p) == ORD_ENOTFOUND;
        if (!*unknown && (rc = store_count_after_commit(tx, &o->ctr.reservations_short, 1))) return rc;
        return ORD_ECONDITION;
    }
    return 0;
}

int ord_release(store_conn *tx, orders *o, const ord_order *ord)
{
    for (int i = 0; i < ord->nitems; i++) {
        if (!ord->items[i].known) continue;
        int rc = ord_stock_change(tx, o, ST_PRODUCT_RELEASE, ord->items[i].sku, ord->items[i].qty);
        if (rc) return rc; /* ORD_ECONDITION: a reservation that is not there */
    }
    return 0;
}

int ord_capture(store_conn *tx, orders *o, const ord_order *ord)
{
    for (int i = 0; i < ord->nitems; i++) {
        if (!ord->items[i].known) continue;
        int rc = ord_stock_change(tx, o, ST_PRODUCT_CAPTURE, ord->items[i].sku, ord->items[i].qty);
        CHECK(rc != ORD_ECONDITION); /* a RESERVED order holds its units */
        if (rc) return rc;
    }
    return 0;
}
