/* fuzz_orders_parse.c - POST /api/orders bodies (and the product bodies of
 * POST /api/products and PUT /api/products/{sku}) along the handler's path:
 * the 64 KiB order body limit, http_json_parse (depth limit, duplicate keys,
 * syntax, object), then orders_parse / products_parse.
 *
 * Invariants: validation fails exactly when it reported errors, and every
 * error is {field, message}; an order that passes satisfies design.md's
 * rules, checked here independently of parse.c (known fields only,
 * customerId 1-64 characters without control characters, 1-50 items, skus
 * 1-64 of [A-Za-z0-9_.-] and distinct, qty an integer 1-10000, a known
 * payment token) and holds exactly the body's values; the canonical body
 * rebuilt from the parsed order parses to the same order and request hash
 * (round trip); parsing is deterministic.  The same for products.
 */
#include "fuzz.h"
#include "orders/orders.h"
#include <stdio.h>

static const char *const tokens[] = {"tok_visa", "tok_chargeDeclined", "tok_insufficientFunds",
                                     "tok_processingError", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static int only_keys(const json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) if (!in_list(k, allowed)) return 0;
    return 1;
}

static int id_ok(const json_t *v, size_t max, const char *extra)
{
    if (!json_is_string(v)) return 0;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < 1 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

/* 1..max characters (code points), no C0, DEL or C1 control character. */
static int text_ok(const json_t *v, size_t max)
{
    if (!json_is_string(v)) return 0;
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v), chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) return 0;
        if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) return 0;
        if ((s[i] & 0xc0) != 0x80) chars++;
    }
    return chars >= 1 && chars <= max;
}

static int int_ok(const json_t *v, long long lo, long long hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* The body is a valid order by design.md, and in holds its values. */
static void check_order(const json_t *body, const order_in *in)
{
    static const char *const top[] = {"orderId", "customerId", "items", "payment", NULL};
    static const char *const item_keys[] = {"sku", "qty", "quantity", NULL};
    CHECK(only_keys(body, top));
    const json_t *oid = json_object_get(body, "orderId");
    if (oid && json_string_length(oid) > 0) {
        CHECK(id_ok(oid, LIMIT_ORDER_ID_MAX, "_.:-"));
        CHECK(!strcmp(in->order_id, json_string_value(oid)));
    } else {
        CHECK(!oid || json_is_string(oid));
        CHECK(in->order_id[0] == 0);
    }
    const json_t *cust = json_object_get(body, "customerId");
    CHECK(text_ok(cust, LIMIT_ORDER_CUSTOMER_MAX));
    CHECK(strlen(in->customer_id) == json_string_length(cust));
    CHECK(!memcmp(in->customer_id, json_string_value(cust), json_string_length(cust)));

    const json_t *items = json_object_get(body, "items");
    CHECK(json_is_array(items));
    CHECK(json_array_size(items) >= 1 && json_array_size(items) <= LIMIT_ORDER_ITEMS_MAX);
    CHECK((size_t)in->nitems == json_array_size(items));
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        CHECK(json_is_object(it));
        CHECK(only_keys(it, item_keys));
        const json_t *sku = json_object_get(it, "sku");
        CHECK(id_ok(sku, LIMIT_ORDER_SKU_MAX, "_.-"));
        CHECK(!strcmp(in->items[i].sku, json_string_value(sku)));
        const json_t *q = json_object_get(it, "qty"), *qn = json_object_get(it, "quantity");
        CHECK(!q != !qn);
        CHECK(int_ok(q ? q : qn, 1, LIMIT_ORDER_QTY_MAX));
        CHECK(in->items[i].qty == json_integer_value(q ? q : qn));
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(in->items[k].sku, in->items[i].sku) != 0);
    }
    const json_t *pay = json_object_get(body, "payment");
    if (pay) {
        static const char *const pay_keys[] = {"token", NULL};
        CHECK(json_is_object(pay));
        CHECK(only_keys(pay, pay_keys));
        const json_t *tok = json_object_get(pay, "token");
        CHECK(json_is_string(tok));
        CHECK(in_list(json_string_value(tok), tokens));
        CHECK(!strcmp(in->token, json_string_value(tok)));
    } else {
        CHECK(!strcmp(in->token, "tok_visa"));
    }
    CHECK(strlen(in->request_hash) == 64);
    CHECK(strspn(in->request_hash, "0123456789abcdef") == 64);
}

/* The canonical body of a parsed order parses to the same order. */
static void check_order_round_trip(const order_in *in)
{
    json_t *items = json_array();
    for (int i = 0; i < in->nitems; i++)
        json_array_append_new(
            items, json_pack("{s:s,s:i}", "sku", in->items[i].sku, "qty", in->items[i].qty));
    json_t *b = json_pack("{s:s,s:o,s:{s:s}}", "customerId", in->customer_id, "items", items,
                          "payment", "token", in->token);
    CHECK(b != NULL);
    if (in->order_id[0]) json_object_set_new(b, "orderId", json_string(in->order_id));
    /* through text, as a client would send it */
    char *text = json_dumps(b, JSON_COMPACT);
    CHECK(text != NULL);
    json_decref(b);
    json_t *again = fuzz_json_body((const uint8_t *)text, strlen(text));
    CHECK(again != NULL);
    json_t *errors = json_array();
    order_in out;
    CHECK(orders_parse(again, &out, errors) == 0);
    CHECK(json_array_size(errors) == 0);
    CHECK(!strcmp(out.order_id, in->order_id));
    CHECK(!strcmp(out.customer_id, in->customer_id));
    CHECK(out.nitems == in->nitems);
    for (int i = 0; i < in->nitems; i++) {
        CHECK(!strcmp(out.items[i].sku, in->items[i].sku));
        CHECK(out.items[i].qty == in->items[i].qty);
    }
    CHECK(!strcmp(out.token, in->token));
    CHECK(!strcmp(out.request_hash, in->request_hash));
    json_decref(errors);
    json_decref(again);
    free(text);
}

static void fuzz_order(const json_t *body)
{
    json_t *errors = json_array();
    order_in *in = malloc(sizeof *in), *in2 = malloc(sizeof *in2);
    CHECK(in && in2);
    int rc = orders_parse(body, in, errors);
    CHECK(rc == 0 || rc == ORD_EVALIDATION);
    CHECK((rc == 0) == (json_array_size(errors) == 0));
    fuzz_check_errors(errors, 0);
    json_t *errors2 = json_array();
    CHECK(orders_parse(body, in2, errors2) == rc);
    CHECK(json_equal(errors, errors2));
    if (rc == 0) {
        CHECK(!memcmp(in, in2, sizeof *in));
        check_order(body, in);
        check_order_round_trip(in);
    }
    json_decref(errors2);
    json_decref(errors);
    free(in2);
    free(in);
}

/* products_parse: POST (sku in the body) and PUT (sku from the path). */
static void fuzz_product(const json_t *body, const char *path_sku)
{
    static const char *const keys[] = {"sku", "name", "priceCents", "stock", NULL};
    json_t *errors = json_array();
    product_in p;
    int rc = products_parse(body, path_sku, &p, errors);
    CHECK(rc == 0 || rc == ORD_EVALIDATION);
    CHECK((rc == 0) == (json_array_size(errors) == 0));
    fuzz_check_errors(errors, 0);
    if (rc == 0) {
        CHECK(only_keys(body, keys));
        const json_t *sku = json_object_get(body, "sku");
        if (!path_sku) {
            CHECK(id_ok(sku, LIMIT_ORDER_SKU_MAX, "_.-"));
            CHECK(!strcmp(p.sku, json_string_value(sku)));
        } else {
            CHECK(!strcmp(p.sku, path_sku));
            CHECK(!sku || (json_is_string(sku) && !strcmp(json_string_value(sku), path_sku) &&
                           json_string_length(sku) == strlen(path_sku)));
            CHECK(p.has_name || p.has_price || p.has_stock);
        }
        const json_t *name = json_object_get(body, "name"),
                     *price = json_object_get(body, "priceCents"),
                     *stock = json_object_get(body, "stock");
        CHECK(p.has_name == (name != NULL) && p.has_price == (price != NULL) &&
              p.has_stock == (stock != NULL));
        CHECK(path_sku || (name && price && stock));
        if (name) {
            CHECK(text_ok(name, LIMIT_PRODUCT_NAME_MAX));
            CHECK(strlen(p.name) == json_string_length(name));
            CHECK(!memcmp(p.name, json_string_value(name), json_string_length(name)));
        }
        if (price)
            CHECK(int_ok(price, 0, LIMIT_PRODUCT_PRICE_CENTS_MAX) &&
                  p.price_cents == json_integer_value(price));
        if (stock)
            CHECK(int_ok(stock, 0, LIMIT_PRODUCT_STOCK_MAX) &&
                  p.stock == json_integer_value(stock));
    }
    json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LIMIT_ORDER_BODY_BYTES_MAX) return 0; /* the handler answers 413 before parsing */
    json_t *body = fuzz_json_body(data, size);
    if (!body) return 0;
    fuzz_order(body);
    fuzz_product(body, NULL);
    fuzz_product(body, "fuzz-sku.1");
    json_decref(body);
    return 0;
}
