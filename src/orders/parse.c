/* parse.c - validation of order and product request bodies (design.md
 * "Validation"): every problem becomes one {field, message} in the caller's
 * errors array, so a client sees all of them at once.  Pure: no store, no
 * globals; the only outside call is libsodium's BLAKE2b for request_hash.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/verr.h"
#include "orders/orders.h"

#define FIELD_MAX   VERR_FIELD_MAX

static const char *const payment_tokens[] = {"tok_visa", "tok_chargeDeclined",
                                             "tok_insufficientFunds", "tok_processingError", NULL};
#define TOKENS_ALLOWED "tok_visa, tok_chargeDeclined, tok_insufficientFunds, tok_processingError"
#define SKU_EXTRA      "_.-"
#define ORDER_ID_EXTRA "_.:-"
#define HASH_DOMAIN    "orderly.order.v1" /* change when the canonical form changes */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* v (present) must be a JSON integer in lo..hi.  A real with an integral
 * value (2.0) is refused too: the wire type is the contract. */
static int int_in(json_t *errors, const json_t *v, const char *field, long long lo, long long hi,
                  long long *out)
{
    if (!json_is_integer(v)) {
        if (json_is_real(v))
            verr_add(errors, field,
                 "must be an integer (no fraction or exponent), got the real number %.17g",
                 json_real_value(v));
        else
            verr_add(errors, field, "must be an integer, got %s", type_name(v));
        return 0;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        verr_add(errors, field, "must be between %lld and %lld, got %lld", lo, hi, x);
        return 0;
    }
    *out = x;
    return 1;
}

/* s[0..len) is 1..max bytes, each alphanumeric ASCII or one of extra.  The
 * message names the first offending character. */
static int ascii_id(json_t *errors, const char *field, const char *s, size_t len, size_t max,
                    const char *allowed, const char *extra)
{
    if (len < 1 || len > max) {
        verr_add(errors, field, "must be 1-%zu characters of %s, got %zu", max, allowed, len);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (c && strchr(extra, c));
        if (!ok) {
            if (c >= 0x20 && c < 0x7f)
                verr_add(errors, field, "invalid character '%c' at position %zu; allowed: %s", c, i,
                     allowed);
            else
                verr_add(errors, field, "invalid byte 0x%02x at position %zu; allowed: %s", c, i,
                     allowed);
            return 0;
        }
    }
    return 1;
}

static int sku_valid(json_t *errors, const char *field, const char *s, size_t len)
{
    return ascii_id(errors, field, s, len, LIMIT_ORDER_SKU_MAX, "A-Z a-z 0-9 _ . -", SKU_EXTRA);
}

/* v (present) must be a string of 1..max_chars UTF-8 characters with no
 * control character (C0, DEL, C1).  jansson guarantees valid UTF-8, so a
 * character is a byte that is not a continuation byte. */
static int text_valid(json_t *errors, const char *field, const json_t *v, size_t max_chars)
{
    if (!json_is_string(v)) {
        verr_add(errors, field, "must be a string, got %s", type_name(v));
        return 0;
    }
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v), chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c < 0x20 || c == 0x7f ||
            (c == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)) {
            verr_add(errors, field, "must not contain control characters (found one at character %zu)",
                 chars);
            return 0;
        }
        if ((c & 0xc0) != 0x80) chars++;
    }
    if (chars < 1 || chars > max_chars) {
        verr_add(errors, field, "must be 1-%zu characters, got %zu", max_chars, chars);
        return 0;
    }
    CHECK(len <= max_chars * 4);
    return 1;
}

static void copy(char *dst, size_t cap, const json_t *s)
{
    size_t len = json_string_length(s);
    CHECK(len < cap);
    memcpy(dst, json_string_value(s), len);
    dst[len] = '\0';
}

/* ---- orders ------------------------------------------------------------------ */

static void hash_str(crypto_generichash_state *st, const char *s)
{
    uint64_t n = strlen(s);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(n >> (8 * i));
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void hash_int(crypto_generichash_state *st, int64_t x)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)x >> (8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

/* The canonical request is the parsed values, not the text: customerId,
 * every item in request order as (sku, qty), token; each string length-
 * prefixed so no two requests share an encoding.  orderId is left out:
 * it is the key the hash is compared under. */
static void request_hash(order_in *o)
{
    crypto_generichash_state st;
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    hash_str(&st, HASH_DOMAIN);
    hash_str(&st, o->customer_id);
    hash_int(&st, o->nitems);
    for (int i = 0; i < o->nitems; i++) {
        hash_str(&st, o->items[i].sku);
        hash_int(&st, o->items[i].qty);
    }
    hash_str(&st, o->token);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(o->request_hash, sizeof o->request_hash, h, sizeof h);
}

/* items[i] into out->items[i], reporting what is wrong with it. */
static void parse_item(json_t *errors, const json_t *it, size_t i, order_in *out)
{
    static const char *const allowed[] = {"sku", "qty", "quantity", NULL};
    char prefix[32], f[FIELD_MAX];
    snprintf(prefix, sizeof prefix, "items[%zu].", i);
    if (json_is_string(it)) { /* seed 003's shape: a product id, one unit of it */
        snprintf(f, sizeof f, "items[%zu]", i);
        if (!sku_valid(errors, f, json_string_value(it), json_string_length(it))) return;
        copy(out->items[i].sku, sizeof out->items[i].sku, it);
        out->items[i].qty = 1;
        out->items[i].by_id = 1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->items[k].sku, out->items[i].sku)) {
                verr_add(errors, f, "duplicate sku '%s' (also items[%zu])", out->items[i].sku, k);
                break;
            }
        return;
    }
    if (!json_is_object(it)) {
        snprintf(f, sizeof f, "items[%zu]", i);
        verr_add(errors, f, "must be an object {sku, qty} or a product id (one unit), got %s", type_name(it));
        return;
    }
    verr_reject_unknown(errors, it, prefix, allowed);

    json_t *sku = json_object_get(it, "sku");
    snprintf(f, sizeof f, "%ssku", prefix);
    if (!sku) {
        verr_add(errors, f, "required");
    } else if (!json_is_string(sku)) {
        verr_add(errors, f, "must be a string, got %s", type_name(sku));
    } else if (sku_valid(errors, f, json_string_value(sku), json_string_length(sku))) {
        copy(out->items[i].sku, sizeof out->items[i].sku, sku);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(out->items[k].sku, out->items[i].sku)) {
                verr_add(errors, f, "duplicate sku '%s' (also items[%zu])", out->items[i].sku, k);
                break;
            }
    }

    json_t *qty = json_object_get(it, "qty"), *quantity = json_object_get(it, "quantity");
    snprintf(f, sizeof f, "%s%s", prefix, qty || !quantity ? "qty" : "quantity");
    long long q;
    if (qty && quantity) {
        verr_add(errors, f, "give qty or quantity, not both");
    } else if (!qty && !quantity) {
        verr_add(errors, f, "required (an integer 1-%d)", LIMIT_ORDER_QTY_MAX);
    } else if (int_in(errors, qty ? qty : quantity, f, 1, LIMIT_ORDER_QTY_MAX, &q)) {
        out->items[i].qty = (int)q;
    }
}

int orders_parse(const json_t *body, order_in *out, json_t *errors)
{
    static const char *const allowed[] = {"orderId", "customerId", "items", "payment", NULL};
    CHECK(out != NULL);
    CHECK(json_is_array(errors));
    size_t nerr = json_array_size(errors);
    memset(out, 0, sizeof *out);
    if (!json_is_object(body)) {
        verr_add(errors, "", "the body must be a JSON object, got %s",
             body ? type_name(body) : "nothing");
        return ORD_EVALIDATION;
    }
    verr_reject_unknown(errors, body, "", allowed);

    json_t *v = json_object_get(body, "orderId");
    if (v) {
        if (!json_is_string(v))
            verr_add(errors, "orderId", "must be a string, got %s", type_name(v));
        else if (json_string_length(v) > 0 && /* "" = absent: generate one (seed 001) */
                 ascii_id(errors, "orderId", json_string_value(v), json_string_length(v),
                          LIMIT_ORDER_ID_MAX, "A-Z a-z 0-9 _ . : -", ORDER_ID_EXTRA))
            copy(out->order_id, sizeof out->order_id, v);
    }

    v = json_object_get(body, "customerId");
    if (!v)
        verr_add(errors, "customerId", "required");
    else if (text_valid(errors, "customerId", v, LIMIT_ORDER_CUSTOMER_MAX))
        copy(out->customer_id, sizeof out->customer_id, v);

    /* Items past the maximum are not examined: they are refused as a whole. */
    v = json_object_get(body, "items");
    size_t n = json_array_size(v);
    if (!v)
        verr_add(errors, "items", "required (an array of 1-%d items)", LIMIT_ORDER_ITEMS_MAX);
    else if (!json_is_array(v))
        verr_add(errors, "items", "must be an array of 1-%d items, got %s", LIMIT_ORDER_ITEMS_MAX,
             type_name(v));
    else if (n < 1 || n > LIMIT_ORDER_ITEMS_MAX)
        verr_add(errors, "items", "must have 1-%d items, got %zu", LIMIT_ORDER_ITEMS_MAX, n);
    for (size_t i = 0; json_is_array(v) && i < n && i < LIMIT_ORDER_ITEMS_MAX; i++)
        parse_item(errors, json_array_get(v, i), i, out);
    out->nitems = (int)(n < LIMIT_ORDER_ITEMS_MAX ? n : LIMIT_ORDER_ITEMS_MAX);

    str_copy(out->token, sizeof out->token, ORDER_TOKEN_DEFAULT);
    v = json_object_get(body, "payment");
    if (v && !json_is_object(v)) {
        verr_add(errors, "payment", "must be an object {token}, got %s", type_name(v));
    } else if (v) {
        static const char *const pay_allowed[] = {"token", NULL};
        verr_reject_unknown(errors, v, "payment.", pay_allowed);
        json_t *tok = json_object_get(v, "token");
        int known = 0;
        for (const char *const *t = payment_tokens; json_is_string(tok) && *t && !known; t++)
            known = !strcmp(*t, json_string_value(tok));
        if (!tok)
            verr_add(errors, "payment.token", "required; one of %s", TOKENS_ALLOWED);
        else if (!json_is_string(tok))
            verr_add(errors, "payment.token", "must be a string, got %s; one of %s", type_name(tok),
                 TOKENS_ALLOWED);
        else if (!known)
            verr_add(errors, "payment.token", "unknown token '%.64s'; one of %s",
                 json_string_value(tok), TOKENS_ALLOWED);
        else
            copy(out->token, sizeof out->token, tok);
    }

    if (json_array_size(errors) > nerr) return ORD_EVALIDATION;
    request_hash(out);
    return 0;
}

/* ---- products ------------------------------------------------------------------ */

int products_parse(const json_t *body, const char *sku_from_path, product_in *out, json_t *errors)
{
    static const char *const allowed[] = {"sku", "name", "priceCents", "stock", NULL};
    CHECK(out != NULL);
    CHECK(json_is_array(errors));
    size_t nerr = json_array_size(errors);
    int put = sku_from_path != NULL;
    memset(out, 0, sizeof *out);

    if (put && sku_valid(errors, "sku", sku_from_path, strlen(sku_from_path)))
        str_copy(out->sku, sizeof out->sku, sku_from_path);
    if (!json_is_object(body)) {
        verr_add(errors, "", "the body must be a JSON object, got %s",
             body ? type_name(body) : "nothing");
        return ORD_EVALIDATION;
    }
    verr_reject_unknown(errors, body, "", allowed);

    json_t *v = json_object_get(body, "sku");
    if (!put) {
        if (!v)
            verr_add(errors, "sku", "required");
        else if (!json_is_string(v))
            verr_add(errors, "sku", "must be a string, got %s", type_name(v));
        else if (sku_valid(errors, "sku", json_string_value(v), json_string_length(v)))
            copy(out->sku, sizeof out->sku, v);
    } else if (v && (!json_is_string(v) || strcmp(json_string_value(v), sku_from_path) != 0 ||
                     json_string_length(v) != strlen(sku_from_path))) {
        verr_add(errors, "sku", "must equal the sku in the path ('%.64s') when given", sku_from_path);
    }

    v = json_object_get(body, "name");
    if (v) {
        if (text_valid(errors, "name", v, LIMIT_PRODUCT_NAME_MAX)) copy(out->name, sizeof out->name, v);
        out->has_name = 1;
    } else if (!put) {
        verr_add(errors, "name", "required");
    }

    long long x;
    v = json_object_get(body, "priceCents");
    if (v) {
        if (int_in(errors, v, "priceCents", 0, LIMIT_PRODUCT_PRICE_CENTS_MAX, &x)) out->price_cents = x;
        out->has_price = 1;
    } else if (!put) {
        verr_add(errors, "priceCents", "required (an integer 0-%lld)", LIMIT_PRODUCT_PRICE_CENTS_MAX);
    }

    v = json_object_get(body, "stock");
    if (v) {
        if (int_in(errors, v, "stock", 0, LIMIT_PRODUCT_STOCK_MAX, &x)) out->stock = x;
        out->has_stock = 1;
    } else if (!put) {
        verr_add(errors, "stock", "required (an integer 0-%lld)", LIMIT_PRODUCT_STOCK_MAX);
    }

    if (put && !out->has_name && !out->has_price && !out->has_stock)
        verr_add(errors, "", "give at least one of name, priceCents, stock");
    return json_array_size(errors) > nerr ? ORD_EVALIDATION : 0;
}
