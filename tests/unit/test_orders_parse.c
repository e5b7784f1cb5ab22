/* test_orders_parse.c - orders/parse.c: orders_parse and products_parse.
 *
 * Table-driven: each bad case is {body, field path that must be reported,
 * fragment of its message or NULL}; each rule is tested at its edge and one
 * past it.  Bodies are JSON with single quotes ('a' -> "a") and <UNIT N>
 * expansions: <a 65> is 65 'a's, <é 64> 64 'é's, <items 50> 50 valid items.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/id.h"
#include "orders/orders.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void setup(void)
{
    id_init();
}

TestSuite(orders_parse, .init = setup);

/* ---- helpers ---------------------------------------------------------------- */

/* Expands quotes and <UNIT N> into a static buffer (one of 4 in rotation). */
static const char *body_text(const char *tpl)
{
    static char bufs[4][65536];
    static int next;
    char *b = bufs[next++ % 4];
    size_t o = 0, cap = sizeof bufs[0];
    for (const char *p = tpl; *p; p++) {
        if (*p == '\'') {
            b[o++] = '"';
        } else if (*p == '<') {
            const char *sp = strchr(p, ' '), *end = strchr(p, '>');
            cr_assert(sp && end && sp < end, "bad template %s", tpl);
            int n = atoi(sp + 1);
            if (!strncmp(p + 1, "items", 5)) {
                for (int i = 0; i < n; i++)
                    o += (size_t)snprintf(b + o, cap - o, "%s{\"sku\":\"S%d\",\"qty\":1}",
                                          i ? "," : "", i);
            } else {
                size_t ul = (size_t)(sp - (p + 1));
                for (int i = 0; i < n; i++, o += ul)
                    memcpy(b + o, p + 1, ul);
            }
            p = end;
        } else {
            b[o++] = *p;
        }
        cr_assert(o < cap - 128, "template too long");
    }
    b[o] = 0;
    return b;
}

static json_t *load(const char *tpl)
{
    json_error_t je;
    const char *text = body_text(tpl);
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "test body is not JSON (%s): %s", je.text, text);
    return j;
}

/* The message for field in errors, or NULL. */
static const char *error_for(const json_t *errors, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && !strcmp(f, field)) return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

/* Asserts that errors holds field (and msg in its message when msg). */
static void expect_error(const char *label, const json_t *errors, const char *field,
                         const char *msg)
{
    char *dump = json_dumps(errors, JSON_COMPACT);
    const char *got = error_for(errors, field);
    cr_expect_not_null(got, "[%s] expected an error for field '%s', got errors %s", label, field,
                       dump);
    if (got && msg)
        cr_expect(strstr(got, msg) != NULL,
                  "[%s] field '%s': expected message containing '%s', got '%s'", label, field, msg,
                  got);
    free(dump);
}

static int parse_order(const char *tpl, order_in *o, json_t **errors)
{
    json_t *body = load(tpl);
    *errors = json_array();
    int rc = orders_parse(body, o, *errors);
    json_decref(body);
    return rc;
}

static void expect_order_ok(const char *tpl, order_in *o)
{
    json_t *errors;
    int rc = parse_order(tpl, o, &errors);
    char *dump = json_dumps(errors, JSON_COMPACT);
    cr_expect_eq(rc, 0, "body %s: expected 0, got %d (%s), errors %s", body_text(tpl), rc,
                 err_name(rc), dump);
    cr_expect_eq(json_array_size(errors), 0, "body %s: expected no errors, got %s", body_text(tpl),
                 dump);
    free(dump);
    json_decref(errors);
}

#define ITEM1 "'items':[{'sku':'A','qty':1}]"
#define CUST  "'customerId':'c1'"

/* ---- orders: bad input ------------------------------------------------------- */

struct bad {
    const char *body;
    const char *field;
    const char *msg; /* fragment of the message, or NULL */
};

static const struct bad bad_orders[] = {
    /* the body */
    {"[]", "", "JSON object"},
    {"'x'", "", "JSON object"},
    {"{" CUST "," ITEM1 ",'foo':1}", "foo", "unknown field"},
    {"{" CUST "," ITEM1 ",'OrderId':'x'}", "OrderId", "unknown field"},
    /* customerId */
    {"{" ITEM1 "}", "customerId", "required"},
    {"{'customerId':''," ITEM1 "}", "customerId", "1-64 characters, got 0"},
    {"{'customerId':'<a 65>'," ITEM1 "}", "customerId", "1-64 characters, got 65"},
    {"{'customerId':'<é 65>'," ITEM1 "}", "customerId", "1-64 characters, got 65"},
    {"{'customerId':5," ITEM1 "}", "customerId", "must be a string, got an integer"},
    {"{'customerId':null," ITEM1 "}", "customerId", "got null"},
    {"{'customerId':['c']," ITEM1 "}", "customerId", "got an array"},
    {"{'customerId':'a\\u0001b'," ITEM1 "}", "customerId", "control"},
    {"{'customerId':'ab\\n'," ITEM1 "}", "customerId", "control"},
    {"{'customerId':'a\\u007f'," ITEM1 "}", "customerId", "control"},
    {"{'customerId':'a\\u0085'," ITEM1 "}", "customerId", "control"},
    /* orderId */
    {"{'orderId':'<o 65>'," CUST "," ITEM1 "}", "orderId", "1-64 characters"},
    {"{'orderId':'a b'," CUST "," ITEM1 "}", "orderId", "invalid character"},
    {"{'orderId':'a/b'," CUST "," ITEM1 "}", "orderId", "'/' at position 1"},
    {"{'orderId':'é'," CUST "," ITEM1 "}", "orderId", "invalid byte"},
    {"{'orderId':5," CUST "," ITEM1 "}", "orderId", "must be a string"},
    {"{'orderId':null," CUST "," ITEM1 "}", "orderId", "got null"},
    /* items */
    {"{" CUST "}", "items", "required"},
    {"{" CUST ",'items':{}}", "items", "must be an array"},
    {"{" CUST ",'items':'A'}", "items", "got a string"},
    {"{" CUST ",'items':null}", "items", "got null"},
    {"{" CUST ",'items':[]}", "items", "1-50 items, got 0"},
    {"{" CUST ",'items':[<items 51>]}", "items", "1-50 items, got 51"},
    {"{" CUST ",'items':[5]}", "items[0]", "must be an object"},
    {"{" CUST ",'items':[{'sku':'A','qty':1},7]}", "items[1]", "got an integer"},
    /* seed 003's product ids: a bad one, a duplicate of an object's sku */
    {"{" CUST ",'items':[{'sku':'A','qty':1},'b c']}", "items[1]", "invalid character ' '"},
    {"{" CUST ",'items':[{'sku':'A','qty':1},'A']}", "items[1]", "duplicate sku 'A' (also items[0])"},
    /* sku */
    {"{" CUST ",'items':[{'qty':1}]}", "items[0].sku", "required"},
    {"{" CUST ",'items':[{'sku':'','qty':1}]}", "items[0].sku", "1-64 characters"},
    {"{" CUST ",'items':[{'sku':'<s 65>','qty':1}]}", "items[0].sku", "got 65"},
    {"{" CUST ",'items':[{'sku':'a b','qty':1}]}", "items[0].sku", "invalid character"},
    {"{" CUST ",'items':[{'sku':'a:b','qty':1}]}", "items[0].sku", "':' at position 1"},
    {"{" CUST ",'items':[{'sku':'a/b','qty':1}]}", "items[0].sku", "invalid character"},
    {"{" CUST ",'items':[{'sku':'é','qty':1}]}", "items[0].sku", "invalid byte"},
    {"{" CUST ",'items':[{'sku':5,'qty':1}]}", "items[0].sku", "must be a string"},
    {"{" CUST ",'items':[{'sku':null,'qty':1}]}", "items[0].sku", "got null"},
    /* qty */
    {"{" CUST ",'items':[{'sku':'A','qty':0}]}", "items[0].qty", "between 1 and 10000, got 0"},
    {"{" CUST ",'items':[{'sku':'A','qty':-1}]}", "items[0].qty", "got -1"},
    {"{" CUST ",'items':[{'sku':'A','qty':10001}]}", "items[0].qty", "got 10001"},
    {"{" CUST ",'items':[{'sku':'A','qty':9223372036854775807}]}", "items[0].qty", "between"},
    {"{" CUST ",'items':[{'sku':'A','qty':-9223372036854775808}]}", "items[0].qty", "between"},
    {"{" CUST ",'items':[{'sku':'A','qty':'5'}]}", "items[0].qty", "got a string"},
    {"{" CUST ",'items':[{'sku':'A','qty':1.5}]}", "items[0].qty", "real number"},
    {"{" CUST ",'items':[{'sku':'A','qty':2.0}]}", "items[0].qty", "real number"},
    {"{" CUST ",'items':[{'sku':'A','qty':1e2}]}", "items[0].qty", "real number"},
    {"{" CUST ",'items':[{'sku':'A','qty':true}]}", "items[0].qty", "got true"},
    {"{" CUST ",'items':[{'sku':'A','qty':false}]}", "items[0].qty", "got false"},
    {"{" CUST ",'items':[{'sku':'A','qty':null}]}", "items[0].qty", "got null"},
    {"{" CUST ",'items':[{'sku':'A','qty':[1]}]}", "items[0].qty", "got an array"},
    {"{" CUST ",'items':[{'sku':'A'}]}", "items[0].qty", "required"},
    {"{" CUST ",'items':[{'sku':'A','qty':1,'quantity':1}]}", "items[0].qty", "not both"},
    {"{" CUST ",'items':[{'sku':'A','quantity':0}]}", "items[0].quantity", "got 0"},
    {"{" CUST ",'items':[{'sku':'A','quantity':10001}]}", "items[0].quantity", "got 10001"},
    {"{" CUST ",'items':[{'sku':'A','quantity':'2'}]}", "items[0].quantity", "got a string"},
    /* duplicate sku: reported on the later item, naming the first */
    {"{" CUST ",'items':[{'sku':'A','qty':1},{'sku':'A','qty':2}]}", "items[1].sku",
     "duplicate sku 'A' (also items[0])"},
    {"{" CUST
     ",'items':[{'sku':'w','qty':1},{'sku':'x','qty':1},{'sku':'y','qty':1},{'sku':'x','qty':1}]}",
     "items[3].sku", "duplicate sku 'x' (also items[1])"},
    /* unknown fields in items and payment */
    {"{" CUST
     ",'items':[{'sku':'A','qty':1},{'sku':'B','qty':1},{'sku':'C','qty':1,'colour':'red'}]}",
     "items[2].colour", "unknown field"},
    {"{" CUST ",'items':[{'sku':'A','qty':1,'price':5}]}", "items[0].price", "unknown field"},
    {"{" CUST "," ITEM1 ",'payment':{'token':'tok_visa','foo':1}}", "payment.foo", "unknown field"},
    /* payment */
    {"{" CUST "," ITEM1 ",'payment':'x'}", "payment", "must be an object"},
    {"{" CUST "," ITEM1 ",'payment':null}", "payment", "got null"},
    {"{" CUST "," ITEM1 ",'payment':['tok_visa']}", "payment", "got an array"},
    {"{" CUST "," ITEM1 ",'payment':{}}", "payment.token", "required"},
    {"{" CUST "," ITEM1 ",'payment':{'token':'tok_bogus'}}", "payment.token",
     "tok_visa, tok_chargeDeclined, tok_insufficientFunds, tok_processingError"},
    {"{" CUST "," ITEM1 ",'payment':{'token':'TOK_VISA'}}", "payment.token",
     "unknown token 'TOK_VISA'"},
    {"{" CUST "," ITEM1 ",'payment':{'token':''}}", "payment.token", "unknown token"},
    {"{" CUST "," ITEM1 ",'payment':{'token':5}}", "payment.token", "must be a string"},
};

Test(orders_parse, bad_input_table)
{
    for (size_t i = 0; i < N(bad_orders); i++) {
        const struct bad *c = &bad_orders[i];
        order_in o;
        json_t *errors;
        char label[64];
        snprintf(label, sizeof label, "case %zu (%s)", i, c->field);
        int rc = parse_order(c->body, &o, &errors);
        cr_expect_eq(rc, ORD_EVALIDATION,
                     "[%s] body %.300s: expected %d (ORD_EVALIDATION), got %d (%s)", label,
                     body_text(c->body), ORD_EVALIDATION, rc, err_name(rc));
        expect_error(label, errors, c->field, c->msg);
        cr_expect_str_empty(o.request_hash, "[%s] request_hash set on failure: '%s'", label,
                            o.request_hash);
        json_decref(errors);
    }
}

/* Not an object at all (NULL is what the HTTP layer never passes, but pure
 * functions should not care). */
Test(orders_parse, null_body)
{
    order_in o;
    json_t *errors = json_array();
    int rc = orders_parse(NULL, &o, errors);
    cr_expect_eq(rc, ORD_EVALIDATION, "expected %d, got %d", ORD_EVALIDATION, rc);
    expect_error("null body", errors, "", "got nothing");
    json_decref(errors);
}

/* Every problem is reported, not just the first. */
Test(orders_parse, collects_all_errors)
{
    order_in o;
    json_t *errors;
    int rc = parse_order(
        "{'orderId':'a b','customerId':'','bogus':1,'payment':{'token':'x','y':2},"
        "'items':[{'sku':'A','qty':0},{'sku':'a b','quantity':1.5,'z':1},{'sku':'A','qty':1},7]}",
        &o, &errors);
    cr_expect_eq(rc, ORD_EVALIDATION, "expected %d, got %d", ORD_EVALIDATION, rc);
    static const char *const fields[] = {"orderId",       "customerId",        "bogus",
                                         "payment.token", "payment.y",         "items[0].qty",
                                         "items[1].sku",  "items[1].quantity", "items[1].z",
                                         "items[2].sku",  "items[3]"};
    for (size_t i = 0; i < N(fields); i++)
        expect_error("all errors", errors, fields[i], NULL);
    char *dump = json_dumps(errors, JSON_COMPACT);
    cr_expect_eq(json_array_size(errors), N(fields), "expected %zu errors, got %zu: %s", N(fields),
                 json_array_size(errors), dump);
    free(dump);
    json_decref(errors);
}

/* Errors already in the array (e.g. the caller's own) are kept and do not
 * make a good body fail. */
Test(orders_parse, appends_to_errors)
{
    order_in o;
    json_t *body = load("{" CUST "," ITEM1 "}");
    json_t *errors = json_pack("[{s:s,s:s}]", "field", "header", "message", "x");
    int rc = orders_parse(body, &o, errors);
    cr_expect_eq(rc, 0, "expected 0, got %d", rc);
    cr_expect_eq(json_array_size(errors), 1, "expected the 1 existing error, got %zu",
                 json_array_size(errors));
    json_decref(body);
    json_decref(errors);
}

/* ---- orders: good input ------------------------------------------------------ */

Test(orders_parse, minimal_order_defaults)
{
    order_in o;
    expect_order_ok("{" CUST "," ITEM1 "}", &o);
    cr_expect_str_eq(o.order_id, "", "order_id: expected '', got '%s'", o.order_id);
    cr_expect_str_eq(o.customer_id, "c1", "customer_id: expected 'c1', got '%s'", o.customer_id);
    cr_expect_eq(o.nitems, 1, "nitems: expected 1, got %d", o.nitems);
    cr_expect_str_eq(o.items[0].sku, "A", "sku: expected 'A', got '%s'", o.items[0].sku);
    cr_expect_eq(o.items[0].qty, 1, "qty: expected 1, got %d", o.items[0].qty);
    cr_expect_str_eq(o.token, "tok_visa", "token: expected tok_visa (default), got '%s'", o.token);
    cr_expect_eq(strlen(o.request_hash), 64, "request_hash: expected 64 hex chars, got '%s'",
                 o.request_hash);
    cr_expect_eq(strspn(o.request_hash, "0123456789abcdef"), 64,
                 "request_hash not lowercase hex: '%s'", o.request_hash);
}

Test(orders_parse, full_order_values)
{
    order_in o;
    expect_order_ok("{'orderId':'Ord_1.2:3-x','customerId':'cust 42 "
                    "✓','payment':{'token':'tok_chargeDeclined'},"
                    "'items':[{'sku':'FAIL-ME','qty':3},{'quantity':10000,'sku':'b_2.x'}]}",
                    &o);
    cr_expect_str_eq(o.order_id, "Ord_1.2:3-x", "order_id: expected 'Ord_1.2:3-x', got '%s'",
                     o.order_id);
    cr_expect_str_eq(o.customer_id, "cust 42 ✓", "customer_id: expected 'cust 42 ✓', got '%s'",
                     o.customer_id);
    cr_expect_eq(o.nitems, 2, "nitems: expected 2, got %d", o.nitems);
    cr_expect_str_eq(o.items[0].sku, "FAIL-ME", "items[0].sku: expected FAIL-ME, got '%s'",
                     o.items[0].sku);
    cr_expect_eq(o.items[0].qty, 3, "items[0].qty: expected 3, got %d", o.items[0].qty);
    cr_expect_str_eq(o.items[1].sku, "b_2.x", "items[1].sku: expected b_2.x, got '%s'",
                     o.items[1].sku);
    cr_expect_eq(o.items[1].qty, 10000, "items[1].qty (from quantity): expected 10000, got %d",
                 o.items[1].qty);
    cr_expect_str_eq(o.token, "tok_chargeDeclined", "token: expected tok_chargeDeclined, got '%s'",
                     o.token);
}

Test(orders_parse, seed003_product_ids_are_one_unit_each)
{
    order_in o, same;
    expect_order_ok("{'customerId':'c1','items':['PROD-001',{'sku':'PROD-002','qty':2},'PROD-003']}", &o);
    cr_expect_eq(o.nitems, 3, "nitems: expected 3, got %d", o.nitems);
    cr_expect_str_eq(o.items[0].sku, "PROD-001", "items[0].sku: got '%s'", o.items[0].sku);
    cr_expect_eq(o.items[0].qty, 1, "items[0].qty: expected 1, got %d", o.items[0].qty);
    cr_expect_eq(o.items[1].qty, 2, "items[1].qty: expected 2, got %d", o.items[1].qty);
    cr_expect_str_eq(o.items[2].sku, "PROD-003", "items[2].sku: got '%s'", o.items[2].sku);
    cr_expect_eq(o.items[2].qty, 1, "items[2].qty: expected 1, got %d", o.items[2].qty);
    /* the same order as objects: the same request (same hash) */
    expect_order_ok("{'customerId':'c1','items':[{'sku':'PROD-001','qty':1},{'sku':'PROD-002','qty':2},"
                    "{'sku':'PROD-003','qty':1}]}",
                    &same);
    cr_expect_str_eq(o.request_hash, same.request_hash, "a product id is {sku, qty: 1}");
}

Test(orders_parse, every_token)
{
    static const char *const tokens[] = {"tok_visa", "tok_chargeDeclined", "tok_insufficientFunds",
                                         "tok_processingError"};
    for (size_t i = 0; i < N(tokens); i++) {
        char tpl[256];
        snprintf(tpl, sizeof tpl, "{" CUST "," ITEM1 ",'payment':{'token':'%s'}}", tokens[i]);
        order_in o;
        expect_order_ok(tpl, &o);
        cr_expect_str_eq(o.token, tokens[i], "token: expected '%s', got '%s'", tokens[i], o.token);
    }
}

/* Each rule at its edge: accepted, and the value kept whole. */
Test(orders_parse, edges_accepted)
{
    order_in o;
    char want[512];

    expect_order_ok("{'customerId':'<a 64>'," ITEM1 "}", &o);
    memset(want, 'a', 64), want[64] = 0;
    cr_expect_str_eq(o.customer_id, want, "customerId 64: got '%s'", o.customer_id);

    expect_order_ok("{'customerId':'<é 64>'," ITEM1 "}", &o); /* 64 characters, 128 bytes */
    strcpy(want, body_text("<é 64>"));
    cr_expect_str_eq(o.customer_id, want, "customerId 64 x é: got '%s'", o.customer_id);

    expect_order_ok("{'customerId':'<😀 64>'," ITEM1 "}", &o); /* 64 characters, 256 bytes */
    strcpy(want, body_text("<😀 64>"));
    cr_expect_str_eq(o.customer_id, want, "customerId 64 x 4-byte: got '%s'", o.customer_id);

    expect_order_ok("{'customerId':'x'," ITEM1 "}", &o);
    cr_expect_str_eq(o.customer_id, "x", "customerId 1: got '%s'", o.customer_id);

    expect_order_ok("{'orderId':'<o 64>'," CUST "," ITEM1 "}", &o);
    memset(want, 'o', 64), want[64] = 0;
    cr_expect_str_eq(o.order_id, want, "orderId 64: got '%s'", o.order_id);

    expect_order_ok("{'orderId':''," CUST "," ITEM1 "}", &o); /* "" = absent */
    cr_expect_str_eq(o.order_id, "", "orderId '': expected '', got '%s'", o.order_id);

    expect_order_ok("{" CUST ",'items':[{'sku':'<s 64>','qty':1}]}", &o);
    memset(want, 's', 64), want[64] = 0;
    cr_expect_str_eq(o.items[0].sku, want, "sku 64: got '%s'", o.items[0].sku);

    expect_order_ok("{" CUST ",'items':[{'sku':'azAZ09_.-','qty':1}]}", &o);
    cr_expect_str_eq(o.items[0].sku, "azAZ09_.-", "sku charset: got '%s'", o.items[0].sku);

    expect_order_ok("{" CUST ",'items':[{'sku':'A','qty':10000}]}", &o);
    cr_expect_eq(o.items[0].qty, 10000, "qty 10000: got %d", o.items[0].qty);

    expect_order_ok("{" CUST ",'items':[<items 50>]}", &o);
    cr_expect_eq(o.nitems, 50, "items 50: nitems %d", o.nitems);
    cr_expect_str_eq(o.items[49].sku, "S49", "items[49].sku: expected S49, got '%s'",
                     o.items[49].sku);

    /* skus are case-sensitive: A and a are two products */
    expect_order_ok("{" CUST ",'items':[{'sku':'A','qty':1},{'sku':'a','qty':2}]}", &o);
    cr_expect_eq(o.nitems, 2, "A and a: nitems %d", o.nitems);
}

/* ---- orders: request_hash ----------------------------------------------------- */

static void hash_of(const char *tpl, char out[65])
{
    order_in o;
    expect_order_ok(tpl, &o);
    memcpy(out, o.request_hash, 65);
}

static void expect_same_hash(const char *a, const char *b)
{
    char ha[65], hb[65];
    hash_of(a, ha);
    hash_of(b, hb);
    cr_expect_str_eq(ha, hb, "expected equal hashes:\n  %s -> %s\n  %s -> %s", body_text(a), ha,
                     body_text(b), hb);
}

static void expect_other_hash(const char *a, const char *b)
{
    char ha[65], hb[65];
    hash_of(a, ha);
    hash_of(b, hb);
    cr_expect_str_neq(ha, hb, "expected different hashes:\n  %s -> %s\n  %s -> %s", body_text(a),
                      ha, body_text(b), hb);
}

#define BASE                                                                                       \
    "{'customerId':'c1','items':[{'sku':'A','qty':2},{'sku':'B','qty':1}],'payment':{'token':'"    \
    "tok_visa'}}"

Test(orders_parse, hash_same_request)
{
    /* qty vs quantity */
    expect_same_hash(
        BASE, "{'customerId':'c1','items':[{'sku':'A','quantity':2},{'sku':'B','quantity':1}],"
              "'payment':{'token':'tok_visa'}}");
    /* key order and whitespace */
    expect_same_hash(BASE,
                     "{ 'payment' : { 'token' : 'tok_visa' } ,\n\t'items':[ {'qty':2, 'sku':'A'},"
                     "{'qty':1,'sku':'B'}], 'customerId' : 'c1' }");
    /* orderId is not part of the request's identity */
    expect_same_hash(
        BASE,
        "{'orderId':'o-1','customerId':'c1','items':[{'sku':'A','qty':2},{'sku':'B','qty':1}],"
        "'payment':{'token':'tok_visa'}}");
    /* no payment = tok_visa */
    expect_same_hash(BASE, "{'customerId':'c1','items':[{'sku':'A','qty':2},{'sku':'B','qty':1}]}");
    /* the same text twice */
    expect_same_hash(BASE, BASE);
}

Test(orders_parse, hash_other_request)
{
    expect_other_hash(BASE, "{'customerId':'c1','items':[{'sku':'A','qty':3},{'sku':'B','qty':1}],"
                            "'payment':{'token':'tok_visa'}}");
    expect_other_hash(BASE, "{'customerId':'c1','items':[{'sku':'A','qty':2},{'sku':'B','qty':1}],"
                            "'payment':{'token':'tok_chargeDeclined'}}");
    expect_other_hash(BASE, "{'customerId':'c2','items':[{'sku':'A','qty':2},{'sku':'B','qty':1}],"
                            "'payment':{'token':'tok_visa'}}");
    expect_other_hash(BASE, "{'customerId':'c1','items':[{'sku':'A','qty':2},{'sku':'C','qty':1}],"
                            "'payment':{'token':'tok_visa'}}");
    /* items in another order are another request */
    expect_other_hash(BASE, "{'customerId':'c1','items':[{'sku':'B','qty':1},{'sku':'A','qty':2}],"
                            "'payment':{'token':'tok_visa'}}");
    expect_other_hash(
        BASE, "{'customerId':'c1','items':[{'sku':'A','qty':2}],'payment':{'token':'tok_visa'}}");
    /* field boundaries are unambiguous */
    expect_other_hash("{'customerId':'c1','items':[{'sku':'AB','qty':1}]}",
                      "{'customerId':'c1A','items':[{'sku':'B','qty':1}]}");
}

/* jansson refuses integers beyond int64 and reals beyond double at parse
 * time, so those never reach orders_parse: the HTTP layer answers 400. */
Test(orders_parse, jansson_rejects_out_of_range_numbers)
{
    static const char *const texts[] = {
        "{\"customerId\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":9223372036854775808}]}",
        "{\"customerId\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":-9223372036854775809}]}",
        "{\"customerId\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":1e309}]}",
        "{\"customerId\":\"c\",\"items\":[{\"sku\":\"A\",\"qty\":-1e309}]}",
    };
    for (size_t i = 0; i < N(texts); i++) {
        json_error_t je;
        json_t *j = json_loads(texts[i], JSON_REJECT_DUPLICATES, &je);
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        cr_expect_null(j, "expected json_loads to fail on %s, got %s", texts[i], dump ? dump : "");
        free(dump);
        json_decref(j);
    }
    /* the largest int64 does load, and is then a range error */
    json_error_t je;
    json_t *j = json_loads("{\"qty\":9223372036854775807}", JSON_REJECT_DUPLICATES, &je);
    cr_expect_not_null(j, "expected 2^63-1 to load, got error: %s", je.text);
    json_decref(j);
    /* a duplicate key is refused there too */
    j = json_loads("{\"customerId\":\"a\",\"customerId\":\"b\"}", JSON_REJECT_DUPLICATES, &je);
    cr_expect_null(j, "expected a duplicate key to be refused");
    json_decref(j);
}

/* ---- products ------------------------------------------------------------------ */

static int parse_product(const char *tpl, const char *path_sku, product_in *p, json_t **errors)
{
    json_t *body = load(tpl);
    *errors = json_array();
    int rc = products_parse(body, path_sku, p, *errors);
    json_decref(body);
    return rc;
}

static void expect_product_ok(const char *tpl, const char *path_sku, product_in *p)
{
    json_t *errors;
    int rc = parse_product(tpl, path_sku, p, &errors);
    char *dump = json_dumps(errors, JSON_COMPACT);
    cr_expect_eq(rc, 0, "body %s (path sku %s): expected 0, got %d (%s), errors %s", body_text(tpl),
                 path_sku ? path_sku : "NULL", rc, err_name(rc), dump);
    cr_expect_eq(json_array_size(errors), 0, "expected no errors, got %s", dump);
    free(dump);
    json_decref(errors);
}

struct bad_product {
    const char *path_sku; /* NULL: POST */
    const char *body;
    const char *field;
    const char *msg;
};

#define PROD "'sku':'P1','name':'Widget','priceCents':100,'stock':5"

static const struct bad_product bad_products[] = {
    {NULL, "[]", "", "JSON object"},
    {NULL, "{'name':'W','priceCents':1,'stock':1}", "sku", "required"},
    {NULL, "{'sku':'P1','priceCents':1,'stock':1}", "name", "required"},
    {NULL, "{'sku':'P1','name':'W','stock':1}", "priceCents", "required"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1}", "stock", "required"},
    {NULL, "{" PROD ",'color':'red'}", "color", "unknown field"},
    {NULL, "{" PROD ",'reserved':0}", "reserved", "unknown field"},
    {NULL, "{'sku':'P 1','name':'W','priceCents':1,'stock':1}", "sku", "invalid character"},
    {NULL, "{'sku':'<s 65>','name':'W','priceCents':1,'stock':1}", "sku", "got 65"},
    {NULL, "{'sku':'','name':'W','priceCents':1,'stock':1}", "sku", "got 0"},
    {NULL, "{'sku':7,'name':'W','priceCents':1,'stock':1}", "sku", "must be a string"},
    {NULL, "{'sku':'P1','name':'','priceCents':1,'stock':1}", "name", "1-200 characters, got 0"},
    {NULL, "{'sku':'P1','name':'<n 201>','priceCents':1,'stock':1}", "name", "got 201"},
    {NULL, "{'sku':'P1','name':'<é 201>','priceCents':1,'stock':1}", "name", "got 201"},
    {NULL, "{'sku':'P1','name':'a\\tb','priceCents':1,'stock':1}", "name", "control"},
    {NULL, "{'sku':'P1','name':5,'priceCents':1,'stock':1}", "name", "must be a string"},
    {NULL, "{'sku':'P1','name':'W','priceCents':-1,'stock':1}", "priceCents", "got -1"},
    {NULL, "{'sku':'P1','name':'W','priceCents':100000000001,'stock':1}", "priceCents",
     "got 100000000001"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1.5,'stock':1}", "priceCents", "real number"},
    {NULL, "{'sku':'P1','name':'W','priceCents':100.0,'stock':1}", "priceCents", "real number"},
    {NULL, "{'sku':'P1','name':'W','priceCents':'100','stock':1}", "priceCents", "got a string"},
    {NULL, "{'sku':'P1','name':'W','priceCents':null,'stock':1}", "priceCents", "got null"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1,'stock':-1}", "stock", "got -1"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1,'stock':1000000001}", "stock", "got 1000000001"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1,'stock':true}", "stock", "got true"},
    {NULL, "{'sku':'P1','name':'W','priceCents':1,'stock':2.0}", "stock", "real number"},
    /* PUT */
    {"P1", "{}", "", "at least one of name, priceCents, stock"},
    {"P1", "{'sku':'P1'}", "", "at least one"},
    {"P1", "{'sku':'P2','stock':1}", "sku", "must equal the sku in the path ('P1')"},
    {"P1", "{'sku':5,'stock':1}", "sku", "must equal"},
    {"P1", "{'sku':'p1','stock':1}", "sku", "must equal"},
    {"P1", "{'stock':1,'extra':1}", "extra", "unknown field"},
    {"P1", "{'stock':-1}", "stock", "got -1"},
    {"P1", "{'priceCents':100000000001}", "priceCents", "between 0 and 100000000000"},
    {"P1", "{'name':''}", "name", "got 0"},
    {"P 1", "{'stock':1}", "sku", "invalid character ' '"},
    {"<s 65>", "{'stock':1}", "sku", "got 65"},
    {"", "{'stock':1}", "sku", "got 0"},
    {"P1", "null", "", "JSON object"},
};

Test(orders_parse, products_bad_input_table)
{
    for (size_t i = 0; i < N(bad_products); i++) {
        const struct bad_product *c = &bad_products[i];
        product_in p;
        json_t *errors;
        char label[64], path[128] = "";
        if (c->path_sku) snprintf(path, sizeof path, "%s", body_text(c->path_sku));
        snprintf(label, sizeof label, "product case %zu (%s)", i, c->field);
        int rc = parse_product(c->body, c->path_sku ? path : NULL, &p, &errors);
        cr_expect_eq(rc, ORD_EVALIDATION,
                     "[%s] body %.300s path %s: expected %d (ORD_EVALIDATION), got %d (%s)", label,
                     body_text(c->body), c->path_sku ? path : "NULL", ORD_EVALIDATION, rc,
                     err_name(rc));
        expect_error(label, errors, c->field, c->msg);
        json_decref(errors);
    }
}

Test(orders_parse, product_post_values)
{
    product_in p;
    expect_product_ok(
        "{'stock':1000000000,'priceCents':100000000000,'name':'<n 200>','sku':'<s 64>'}", NULL, &p);
    char want[256];
    memset(want, 's', 64), want[64] = 0;
    cr_expect_str_eq(p.sku, want, "sku: got '%s'", p.sku);
    memset(want, 'n', 200), want[200] = 0;
    cr_expect_str_eq(p.name, want, "name: got '%s'", p.name);
    cr_expect_eq(p.price_cents, 100000000000LL, "priceCents: expected 100000000000, got %lld",
                 (long long)p.price_cents);
    cr_expect_eq(p.stock, 1000000000LL, "stock: expected 1000000000, got %lld", (long long)p.stock);
    cr_expect(p.has_name && p.has_price && p.has_stock, "has_*: expected 1 1 1, got %d %d %d",
              p.has_name, p.has_price, p.has_stock);

    expect_product_ok("{'sku':'P1','name':'<é 200>','priceCents':0,'stock':0}", NULL, &p);
    cr_expect_str_eq(p.name, body_text("<é 200>"), "name 200 x é: got '%s'", p.name);
    cr_expect_eq(p.price_cents, 0, "priceCents 0: got %lld", (long long)p.price_cents);
    cr_expect_eq(p.stock, 0, "stock 0: got %lld", (long long)p.stock);
}

Test(orders_parse, product_put_values)
{
    product_in p;
    expect_product_ok("{'stock':7}", "FAIL-ME", &p);
    cr_expect_str_eq(p.sku, "FAIL-ME", "sku from path: got '%s'", p.sku);
    cr_expect(!p.has_name && !p.has_price && p.has_stock, "has_*: expected 0 0 1, got %d %d %d",
              p.has_name, p.has_price, p.has_stock);
    cr_expect_eq(p.stock, 7, "stock: expected 7, got %lld", (long long)p.stock);

    expect_product_ok("{'sku':'P1','name':'New','priceCents':250}", "P1", &p);
    cr_expect_str_eq(p.sku, "P1", "sku: got '%s'", p.sku);
    cr_expect_str_eq(p.name, "New", "name: got '%s'", p.name);
    cr_expect(p.has_name && p.has_price && !p.has_stock, "has_*: expected 1 1 0, got %d %d %d",
              p.has_name, p.has_price, p.has_stock);
    cr_expect_eq(p.price_cents, 250, "priceCents: expected 250, got %lld",
                 (long long)p.price_cents);

    char path[65];
    memset(path, 's', 64), path[64] = 0;
    expect_product_ok("{'name':'W','priceCents':1,'stock':1}", path, &p);
    cr_expect_eq(strlen(p.sku), 64, "sku 64 from path: got '%s'", p.sku);
}
