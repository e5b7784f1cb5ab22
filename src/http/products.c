/* products.c - the catalog and inventory.
 *
 *   GET    /api/products          products with stock, reserved, available, by sku
 *                                 ?limit=1..1000 (100)&cursor= (nextCursor of the last page)
 *   POST   /api/products          {sku, name, priceCents, stock} -> 201 (409 if present)
 *   GET    /api/products/{sku}
 *   GET    /api/products/name/{name}   seed 003: the products with that name, ignoring case
 *   PUT    /api/products/{sku}    {name?, priceCents?, stock?}: update or create; a new
 *                                 stock is a restock (409 below what is reserved)
 *   DELETE /api/products/{sku}    204; 409 while units are reserved
 */
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "lib/verr.h"
#include "lib/err.h"
#include "lib/str.h"

typedef struct product_op {
    api *a;
    product_in p;
    int put, del, created;
} product_op;

static int product_unit(store_conn *tx, void *arg)
{
    product_op *op = arg;
    if (op->del) return products_delete_tx(tx, op->a->o, op->p.sku);
    if (op->put) return products_put_tx(tx, op->a->o, &op->p, &op->created);
    op->created = 1;
    return products_create_tx(tx, op->a->o, &op->p);
}

static void product_reply(http_req *r, void *arg, int rc)
{
    product_op *op = arg;
    if (rc == ORD_EEXISTS) {
        http_reply_problem(r, rc, "a product with this sku exists; PUT /api/products/{sku} changes it", NULL);
        return;
    }
    if (rc == ORD_ELIMIT) {
        char d[80];
        snprintf(d, sizeof d, "the catalog holds %d products, the most it may", LIMIT_PRODUCTS_MAX);
        http_reply_problem(r, rc, d, NULL);
        return;
    }
    if (rc == ORD_ECONFLICT) {
        http_reply_problem(r, rc,
                           op->del ? "units of this product are reserved" : "stock cannot go below what is reserved",
                           NULL);
        return;
    }
    if (rc == ORD_EVALIDATION) { /* PUT of a product that does not exist, without every field */
        json_t *e = json_array();
        verr_add(e, "", "a new product needs name, priceCents and stock");
        api_fail(r, e);
        return;
    }
    if (rc) {
        http_reply_problem(r, rc, rc == ORD_ENOTFOUND ? "no such product" : NULL, NULL);
        return;
    }
    if (op->del) {
        http_reply_raw(r, 204, NULL, "", 0);
        return;
    }
    json_t *p = products_get(op->a->o, op->p.sku);
    if (!p) {
        http_reply_problem(r, ORD_ESTORE, NULL, NULL);
        return;
    }
    if (op->created) {
        char loc[LIMIT_ORDER_SKU_MAX + 20];
        snprintf(loc, sizeof loc, "/api/products/%s", op->p.sku);
        http_reply_header(r, "Location", loc);
    }
    http_reply_json(r, op->created ? 201 : 200, p);
}

static product_op *product_op_new(http_req *r)
{
    product_op *op = http_req_alloc(r, sizeof *op);
    if (op) {
        memset(op, 0, sizeof *op);
        op->a = http_req_app(r);
    }
    return op;
}

static int write_product(http_req *r, int put)
{
    json_t *body = http_req_json(r);
    if (!body) return 0;
    product_op *op = product_op_new(r);
    if (!op) return ORD_ENOMEM;
    op->put = put;
    json_t *errors = json_array();
    products_parse(body, put ? http_req_param(r, "sku") : NULL, &op->p, errors);
    if (api_fail(r, errors)) return 0;
    /* property-level authorization (OWASP API3): an operator restocks; the
     * catalog - names, prices, new products - is the admin's */
    if (api_ctx_of(r)->p.role == ROLE_OPERATOR && (op->p.has_name || op->p.has_price || !op->p.has_stock)) {
        http_reply_problem(r, ORD_EFORBIDDEN, "an operator may change a product's stock only (a restock)", NULL);
        return 0;
    }
    api_ctx_of(r)->target = op->p.sku;
    return api_submit(r, product_unit, product_reply, op);
}

int api_products_create(http_req *r)
{
    return write_product(r, 0);
}

int api_products_put(http_req *r)
{
    return write_product(r, 1);
}

int api_products_delete(http_req *r)
{
    product_op *op = product_op_new(r);
    if (!op) return ORD_ENOMEM;
    op->del = 1;
    str_copy(op->p.sku, sizeof op->p.sku, http_req_param(r, "sku"));
    return api_submit(r, product_unit, product_reply, op);
}

int api_products_get(http_req *r)
{
    api *a = http_req_app(r);
    json_t *p = products_get(a->o, http_req_param(r, "sku"));
    if (!p) return ORD_ENOTFOUND;
    http_reply_json(r, 200, p);
    return 0;
}

int api_products_by_name(http_req *r)
{
    api *a = http_req_app(r);
    int limit;
    if (api_page_limit(r, LIMIT_PRODUCT_PAGE_DEFAULT, LIMIT_PRODUCT_PAGE_MAX, &limit)) return 0;
    const char *name = http_req_param(r, "name");
    if (!name || !*name || strlen(name) > LIMIT_PRODUCT_NAME_BYTES_MAX) {
        http_reply_problem(r, ORD_EINVAL, "a product name is 1-200 characters", NULL);
        return 0;
    }
    json_t *l = products_by_name(a->o, name, limit);
    if (!l) return ORD_ESTORE;
    http_reply_json(r, 200, l);
    return 0;
}

int api_products_list(http_req *r)
{
    api *a = http_req_app(r);
    int limit;
    if (api_page_limit(r, LIMIT_PRODUCT_PAGE_DEFAULT, LIMIT_PRODUCT_PAGE_MAX, &limit)) return 0;
    const char *cursor = http_req_query(r, "cursor");
    if (cursor && (!*cursor || strlen(cursor) > LIMIT_ORDER_SKU_MAX)) {
        http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
        return 0;
    }
    json_t *l = products_list(a->o, cursor ? cursor : "", limit);
    if (!l) return ORD_ESTORE;
    http_reply_json(r, 200, l);
    return 0;
}
