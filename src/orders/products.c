/* products.c - the catalog: products with price, stock, reserved,
 * available and sold; create, restock (PUT), delete, reads, the catalog
 * file loaded at start, and the least-available products for the metrics. */
#include <stdio.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"
#include "orders/internal.h"

json_t *products_get(orders *o, const char *sku)
{
    store_conn *c = store_reader(o->st);
    ord_product p;
    if (!c || ord_product_load(c, sku, &p)) return NULL;
    return ord_product_json(&p);
}

json_t *products_list(orders *o, const char *after, int limit)
{
    store_conn *c = store_reader(o->st);
    if (!c) return NULL;
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_PRODUCT_LIST);
    store_bind_str(st, 1, after);
    store_bind_i64(st, 2, limit);
    int n = 0;
    char last[LIMIT_ORDER_SKU_MAX + 1] = "";
    while (store_step(st) == STORE_ROW) {
        ord_product p;
        str_copy(p.sku, sizeof p.sku, store_col_text(st, 0, NULL));
        str_copy(p.name, sizeof p.name, store_col_text(st, 1, NULL));
        p.price_cents = store_col_i64(st, 2);
        p.stock = store_col_i64(st, 3);
        p.reserved = store_col_i64(st, 4);
        p.sold = store_col_i64(st, 5);
        json_array_append_new(arr, ord_product_json(&p));
        str_copy(last, sizeof last, p.sku);
        n++;
    }
    store_reset(st);
    json_t *out = json_pack("{s:o}", "products", arr);
    if (n == limit) json_object_set_new(out, "nextCursor", json_string(last));
    return out;
}

json_t *products_by_name(orders *o, const char *name, int limit)
{
    store_conn *c = store_reader(o->st);
    if (!c) return NULL;
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_PRODUCT_BY_NAME);
    store_bind_str(st, 1, name);
    store_bind_i64(st, 2, limit);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) {
        ord_product p;
        str_copy(p.sku, sizeof p.sku, store_col_text(st, 0, NULL));
        str_copy(p.name, sizeof p.name, store_col_text(st, 1, NULL));
        p.price_cents = store_col_i64(st, 2);
        p.stock = store_col_i64(st, 3);
        p.reserved = store_col_i64(st, 4);
        p.sold = store_col_i64(st, 5);
        json_array_append_new(arr, ord_product_json(&p));
    }
    store_reset(st);
    if (rc != STORE_DONE) {
        json_decref(arr);
        return NULL;
    }
    return json_pack("{s:o}", "products", arr);
}

static int64_t product_count(store_conn *tx)
{
    store_stmt *st = store_prep(tx, ST_PRODUCT_COUNT);
    int64_t n = store_step(st) == STORE_ROW ? store_col_i64(st, 0) : LIMIT_PRODUCTS_MAX;
    store_reset(st);
    return n;
}

static int product_insert(store_conn *tx, orders *o, const product_in *p)
{
    int rc = ord_price_cache_forget(tx, o);
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

int products_create_tx(store_conn *tx, orders *o, const product_in *p)
{
    return product_count(tx) >= LIMIT_PRODUCTS_MAX ? ORD_ELIMIT : product_insert(tx, o, p);
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
    if (rc || (rc = ord_price_cache_forget(tx, o))) return rc;
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
    if (rc || (rc = ord_price_cache_forget(tx, o))) return rc;
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
    int64_t count = product_count(tx);
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
        if (count >= LIMIT_PRODUCTS_MAX) {
            snprintf(s->err, sizeof s->err, "products[%zu]: the catalog holds %d products, the most it may", i,
                     LIMIT_PRODUCTS_MAX);
            return ORD_ELIMIT;
        }
        rc = product_insert(tx, s->o, &p);
        if (rc == ORD_EEXISTS) continue; /* another node seeding at the same time got there first */
        if (rc) return rc;
        count++;
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

