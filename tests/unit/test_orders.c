/* test_orders.c - the order domain: the transition table (every allowed
 * edge, every refused one), the inventory arithmetic of reserve / capture /
 * release / cancel / expire with the invariant checked after each step,
 * and the simulated payment provider. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/count.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "orders/internal.h"
#include "testutil.h"

/* ---- the transition table ------------------------------------------------------- */

static const char *const reasons[] = {"", "order_limit", "unknown_sku", "out_of_stock", "card_declined",
                                      "insufficient_funds", "reservation_timeout", "cancelled", "dead_lettered",
                                      "bogus"};

/* The edges of design.md, written out independently of the table. */
static int allowed(order_status f, order_status t, const char *r)
{
#define IS(a, b, why) (f == (a) && t == (b) && !strcmp(r, why))
    return IS(ORDER_PENDING, ORDER_RESERVED, "") || IS(ORDER_PENDING, ORDER_REJECTED, "order_limit") ||
           IS(ORDER_PENDING, ORDER_REJECTED, "unknown_sku") || IS(ORDER_PENDING, ORDER_REJECTED, "out_of_stock") ||
           IS(ORDER_RESERVED, ORDER_COMPLETED, "") || IS(ORDER_RESERVED, ORDER_PAYMENT_FAILED, "card_declined") ||
           IS(ORDER_RESERVED, ORDER_PAYMENT_FAILED, "insufficient_funds") ||
           IS(ORDER_RESERVED, ORDER_EXPIRED, "reservation_timeout") ||
           IS(ORDER_PENDING, ORDER_CANCELLED, "cancelled") || IS(ORDER_RESERVED, ORDER_CANCELLED, "cancelled") ||
           IS(ORDER_PENDING, ORDER_FAILED, "dead_lettered") || IS(ORDER_RESERVED, ORDER_FAILED, "dead_lettered");
#undef IS
}

Test(order_state, every_edge_allowed_and_every_other_refused)
{
    int edges = 0;
    for (int f = 0; f < ORDER_STATUSES; f++)
        for (int t = 0; t < ORDER_STATUSES; t++)
            for (size_t r = 0; r < sizeof reasons / sizeof *reasons; r++) {
                int want = allowed((order_status)f, (order_status)t, reasons[r]);
                int row = order_transition_find((order_status)f, (order_status)t, reasons[r]);
                cr_expect_eq(row >= 0, want, "%s -> %s (%s): table says %d", order_status_name((order_status)f),
                             order_status_name((order_status)t), reasons[r], row);
                edges += want;
            }
    cr_expect_eq(edges, ORDER_TRANSITIONS);
}

Test(order_state, events_names_and_terminal_statuses)
{
    const char *ev[][2] = {{"RESERVED", "PaymentRequested"}, {"REJECTED", "OrderRejected"},
                           {"COMPLETED", "OrderCompleted"}, {"PAYMENT_FAILED", "PaymentFailed"},
                           {"EXPIRED", "OrderExpired"},     {"CANCELLED", "OrderCancelled"},
                           {"FAILED", "OrderFailed"}};
    for (int i = 0; i < ORDER_TRANSITIONS; i++)
        for (size_t k = 0; k < sizeof ev / sizeof *ev; k++)
            if (!strcmp(order_status_name(order_transitions[i].to), ev[k][0]))
                cr_expect_str_eq(order_transitions[i].event, ev[k][1]);
    for (int s = 0; s < ORDER_STATUSES; s++) {
        order_status back;
        cr_expect_eq(order_status_parse(order_status_name((order_status)s), &back), 0);
        cr_expect_eq(back, s);
    }
    order_status x;
    cr_expect_eq(order_status_parse("pending", &x), ORD_EINVAL, "names are exact");
    int terminal[] = {0, 0, 1, 1, 1, 1, 1, 0};
    for (int s = 0; s < ORDER_STATUSES; s++)
        cr_expect_eq(order_status_terminal((order_status)s), terminal[s], "%s", order_status_name((order_status)s));
}

Test(order_state, a_failed_order_moves_as_the_status_it_failed_from)
{
    ord_order o = {.status = ORDER_FAILED, .failed_from = ORDER_RESERVED};
    cr_expect(ord_can(&o, ORDER_COMPLETED, NULL));
    cr_expect(ord_can(&o, ORDER_EXPIRED, "reservation_timeout"));
    cr_expect(!ord_can(&o, ORDER_RESERVED, NULL));
    cr_expect(!ord_can(&o, ORDER_FAILED, "dead_lettered"), "dead-lettered again: already FAILED");
    o.failed_from = ORDER_PENDING;
    cr_expect(ord_can(&o, ORDER_RESERVED, NULL));
    cr_expect(ord_can(&o, ORDER_CANCELLED, "cancelled"));
    o = (ord_order){.status = ORDER_COMPLETED, .failed_from = ORDER_COMPLETED};
    for (int t = 0; t < ORDER_STATUSES; t++)
        for (size_t r = 0; r < sizeof reasons / sizeof *reasons; r++)
            cr_expect(!ord_can(&o, (order_status)t, reasons[r]), "nothing leaves COMPLETED");
}

/* ---- the payment simulator ---------------------------------------------------------- */

Test(payment, simulated_provider_by_token)
{
    const char *why;
    cr_expect_eq(payment_simulate("tok_visa", 1, &why), PAYMENT_CAPTURED);
    cr_expect_eq(why, NULL);
    cr_expect_eq(payment_simulate("tok_chargeDeclined", 1, &why), PAYMENT_DECLINED);
    cr_expect_str_eq(why, "card_declined");
    cr_expect_eq(payment_simulate("tok_insufficientFunds", 4, &why), PAYMENT_DECLINED);
    cr_expect_str_eq(why, "insufficient_funds");
    cr_expect_eq(payment_simulate("tok_processingError", 1, &why), PAYMENT_TRANSIENT);
    cr_expect_eq(payment_simulate("tok_processingError", 2, &why), PAYMENT_TRANSIENT);
    cr_expect_eq(payment_simulate("tok_processingError", 3, &why), PAYMENT_CAPTURED, "succeeds on the 3rd attempt");
}

/* ---- inventory arithmetic --------------------------------------------------------------- */

static store *st;
static queue_sys *qs;
static bus *b;
static orders *o;
static int64_t restocked_total, initial_total;
static char db_path[512];

static void setup(void)
{
    id_init();
    str_copy(db_path, sizeof db_path, test_db_path("orders.db"));
    store_opts so = {.path = db_path};
    cr_assert_eq(store_open(&st, &so), 0);
    cr_assert_eq(queue_sys_open(st, &qs), 0);
    cr_assert_eq(bus_open(qs, &b), 0);
    orders_config oc = {.env = "t", .reservation_timeout_ms = 60000, .max_units = 1000, .max_value_cents = 1000000,
                        .fail_sku = "", .idempotency_key_ttl_ms = 60000};
    cr_assert_eq(orders_open(st, qs, b, &oc, &o), 0);
}

static void teardown(void)
{
    orders_close(o);
    bus_close(b);
    queue_sys_close(qs);
    store_close(st);
}

TestSuite(inventory, .init = setup, .fini = teardown);

typedef struct step {
    const char *what; /* create, put, order, reserve, capture, release, cancel, expire */
    const char *id;
    int64_t qty;      /* put: the new stock */
    int rc;
} step;

static int step_unit(store_conn *tx, void *arg)
{
    step *s = arg;
    if (!strcmp(s->what, "create")) {
        product_in p = {.sku = "SKU", .name = "thing", .has_name = 1, .has_price = 1, .has_stock = 1,
                        .price_cents = 100, .stock = s->qty};
        return products_create_tx(tx, o, &p);
    }
    if (!strcmp(s->what, "put")) {
        product_in p = {.sku = "SKU", .has_stock = 1, .stock = s->qty};
        int created;
        return products_put_tx(tx, o, &p, &created);
    }
    if (!strcmp(s->what, "order")) {
        order_in in = {.nitems = 1};
        snprintf(in.order_id, sizeof in.order_id, "%s", s->id);
        snprintf(in.customer_id, sizeof in.customer_id, "c");
        snprintf(in.items[0].sku, sizeof in.items[0].sku, "SKU");
        in.items[0].qty = (int)s->qty;
        return ord_insert(tx, o, &in, s->id, s->id, clock_wall_ms(), NULL);
    }
    ord_order ord;
    int rc = ord_order_load(tx, s->id, &ord);
    if (rc) return rc;
    if (!strcmp(s->what, "reserve")) {
        int at, unknown;
        if ((rc = ord_reserve_all(tx, o, &ord, &at, &unknown))) return rc;
        return ord_transition(tx, o, &ord, ORDER_RESERVED, NULL, NULL, 0);
    }
    if (!strcmp(s->what, "capture")) {
        if ((rc = ord_capture(tx, o, &ord))) return rc;
        return ord_transition(tx, o, &ord, ORDER_COMPLETED, NULL, NULL, 0);
    }
    if (!strcmp(s->what, "release")) { /* a declined payment */
        if ((rc = ord_release(tx, o, &ord))) return rc;
        return ord_transition(tx, o, &ord, ORDER_PAYMENT_FAILED, "card_declined", NULL, 0);
    }
    if (!strcmp(s->what, "cancel")) {
        order_status was;
        return orders_cancel_tx(tx, o, s->id, &was);
    }
    if (!strcmp(s->what, "expire")) {
        if ((rc = ord_release(tx, o, &ord))) return rc;
        return ord_transition(tx, o, &ord, ORDER_EXPIRED, "reservation_timeout", NULL, 0);
    }
    return ORD_EINVAL;
}

/* Runs s and checks the invariant and the expected row afterwards. */
static void run_step(step s, int64_t stock, int64_t reserved, int64_t sold)
{
    int rc = store_run(st, step_unit, &s);
    cr_assert_eq(rc, s.rc, "%s %s: rc %s, want %s", s.what, s.id ? s.id : "", err_name(rc), err_name(s.rc));
    ord_product p;
    cr_assert_eq(ord_product_load(store_reader(st), "SKU", &p), 0);
    cr_expect(p.stock >= p.reserved && p.reserved >= 0, "%s: stock %lld reserved %lld", s.what,
              (long long)p.stock, (long long)p.reserved);
    cr_expect_eq(p.initial_stock + p.restocked, p.stock + p.sold, "%s: initial + restocks = stock + sold", s.what);
    cr_expect_eq(p.stock, stock, "%s: stock", s.what);
    cr_expect_eq(p.reserved, reserved, "%s: reserved", s.what);
    cr_expect_eq(p.sold, sold, "%s: sold", s.what);
    restocked_total = p.restocked;
    initial_total = p.initial_stock;
}

Test(inventory, reserve_capture_release_cancel_expire)
{
    run_step((step){"create", NULL, 10, 0}, 10, 0, 0);
    run_step((step){"order", "A", 3, 0}, 10, 0, 0);
    run_step((step){"reserve", "A", 0, 0}, 10, 3, 0);
    run_step((step){"capture", "A", 0, 0}, 7, 0, 3);
    run_step((step){"order", "B", 4, 0}, 7, 0, 3);
    run_step((step){"reserve", "B", 0, 0}, 7, 4, 3);
    run_step((step){"cancel", "B", 0, 0}, 7, 0, 3);
    run_step((step){"cancel", "B", 0, ORD_ECONFLICT}, 7, 0, 3);     /* CANCELLED is terminal */
    run_step((step){"order", "C", 5, 0}, 7, 0, 3);
    run_step((step){"reserve", "C", 0, 0}, 7, 5, 3);
    run_step((step){"put", NULL, 4, ORD_ECONFLICT}, 7, 5, 3);       /* below what is reserved */
    run_step((step){"expire", "C", 0, 0}, 7, 0, 3);
    run_step((step){"order", "D", 7, 0}, 7, 0, 3);
    run_step((step){"reserve", "D", 0, 0}, 7, 7, 3);
    run_step((step){"release", "D", 0, 0}, 7, 0, 3);                /* declined */
    run_step((step){"put", NULL, 20, 0}, 20, 0, 3);                 /* a restock */
    run_step((step){"order", "E", 21, 0}, 20, 0, 3);
    run_step((step){"reserve", "E", 0, ORD_ECONDITION}, 20, 0, 3);  /* all or nothing: nothing reserved */
    run_step((step){"order", "F", 20, 0}, 20, 0, 3);
    run_step((step){"reserve", "F", 0, 0}, 20, 20, 3);
    run_step((step){"capture", "F", 0, 0}, 0, 0, 23);
    cr_expect_eq(initial_total, 10);
    cr_expect_eq(restocked_total, 13, "10 + 13 = 0 in stock + 23 sold");
}

/* The writer's price cache (create.c) holds half of LIMIT_PRICE_CACHE_SLOTS
 * skus and starts again when that many are in: past its capacity, and after
 * a price change, every order still takes the product's current price. */
enum { NCACHED = LIMIT_PRICE_CACHE_SLOTS / 2 + 10 };

static int cache_unit(store_conn *tx, void *arg)
{
    int round = *(int *)arg, rc;
    for (int i = 0; i < NCACHED; i++) {
        char sku[16], id[32];
        snprintf(sku, sizeof sku, "P%d", i);
        if (round == 0) {
            product_in p = {.has_name = 1, .has_price = 1, .has_stock = 1, .price_cents = 100 + i, .stock = 10};
            snprintf(p.sku, sizeof p.sku, "%s", sku);
            snprintf(p.name, sizeof p.name, "thing %d", i);
            if ((rc = products_create_tx(tx, o, &p))) return rc;
        }
        if (round == 2 && i % 7 == 0) { /* a price change empties the cache */
            product_in p = {.has_price = 1, .price_cents = 5000 + i};
            snprintf(p.sku, sizeof p.sku, "%s", sku);
            int created;
            if ((rc = products_put_tx(tx, o, &p, &created))) return rc;
        }
        order_in in = {.nitems = 1};
        snprintf(id, sizeof id, "o-%d-%d", round, i);
        snprintf(in.customer_id, sizeof in.customer_id, "c");
        snprintf(in.items[0].sku, sizeof in.items[0].sku, "%s", sku);
        in.items[0].qty = 1;
        if ((rc = ord_insert(tx, o, &in, id, id, clock_wall_ms(), NULL))) return rc;
    }
    return 0;
}

Test(inventory, price_cache_past_its_capacity_and_after_a_price_change)
{
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(store_run(st, cache_unit, &round), 0, "round %d", round);
        for (int i = 0; i < NCACHED; i++) {
            char id[32];
            snprintf(id, sizeof id, "o-%d-%d", round, i);
            ord_order ord;
            cr_assert_eq(ord_order_load(store_reader(st), id, &ord), 0);
            int64_t want = round == 2 && i % 7 == 0 ? 5000 + i : 100 + i;
            cr_assert_eq(ord.total_cents, want, "round %d order %d: %lld, want %lld", round, i,
                         (long long)ord.total_cents, (long long)want);
        }
    }
}

/* The pipeline's event details are written as text (state.c ord_emit,
 * ord_items_text: no JSON objects on its path).  Each must be the object
 * the members say, whatever the strings hold: quotes, backslashes, control
 * characters and UTF-8 in the customer id, the token and the skus; items
 * from none to LIMIT_ORDER_ITEMS_MAX; numbers at their extremes. */
static const char tricky[] = "c \"q\" \\ \t\n\x01 \xc3\xa9 \xe2\x9c\x93 </script>";

static int details_unit(store_conn *tx, void *arg)
{
    (void)arg;
    order_in in = {.nitems = 1};
    snprintf(in.customer_id, sizeof in.customer_id, "%s", tricky);
    snprintf(in.items[0].sku, sizeof in.items[0].sku, "SKU");
    in.items[0].qty = 1;
    int rc = ord_insert(tx, o, &in, "DET-1", "DET-1", clock_wall_ms(), NULL);
    ord_order ord;
    if (rc || (rc = ord_order_load(tx, "DET-1", &ord))) return rc;
    const char *skus[LIMIT_ORDER_ITEMS_MAX];
    int64_t qtys[LIMIT_ORDER_ITEMS_MAX];
    for (int i = 0; i < LIMIT_ORDER_ITEMS_MAX; i++) {
        skus[i] = i % 2 ? tricky : "S\"1";
        qtys[i] = i == 0 ? INT64_MAX : i == 1 ? INT64_MIN : i;
    }
    char *items = ord_items_text(skus, qtys, LIMIT_ORDER_ITEMS_MAX), *none = ord_items_text(skus, qtys, 0);
    const jdump_member token[] = {{"token", tricky, NULL, NULL}};
    char *payment = jdump_members(token, 1, NULL);
    const jdump_member x[] = {{"items", NULL, items, NULL},
                              {"none", NULL, none, NULL},
                              {"payment", NULL, payment, NULL},
                              {"amountCents", NULL, "-0", NULL}};
    rc = items && none && payment ? ord_transition(tx, o, &ord, ORDER_RESERVED, NULL, x, COUNT(x)) : ORD_ENOMEM;
    free(items);
    free(none);
    free(payment);
    if (rc) return rc;
    const jdump_member m[] = {{"recipient", tricky, NULL, NULL}, {"template", "", NULL, NULL}};
    return ord_emit(tx, o, "NotificationSent", ord.id, m, COUNT(m));
}

Test(inventory, pipeline_event_details_written_as_text)
{
    cr_assert_eq(store_run(st, details_unit, NULL), 0);
    json_t *tl = orders_timeline(o, "DET-1", 0, 10);
    cr_assert(tl);
    json_t *ev = json_object_get(tl, "events");
    cr_assert_eq(json_array_size(ev), 2, "%zu events", json_array_size(ev));
    json_t *items = json_array();
    for (int i = 0; i < LIMIT_ORDER_ITEMS_MAX; i++)
        json_array_append_new(items, json_pack("{s:s,s:I}", "sku", i % 2 ? tricky : "S\"1", "qty",
                                               (json_int_t)(i == 0 ? INT64_MAX : i == 1 ? INT64_MIN : i)));
    json_t *want = json_pack("{s:s,s:s,s:o,s:[],s:{s:s},s:i}", "orderId", "DET-1", "customerId", tricky, "items", items,
                             "none", "payment", "token", tricky, "amountCents", 0);
    json_t *got = json_object_get(json_array_get(ev, 0), "detail");
    char *g = json_dumps(got, JSON_COMPACT);
    cr_expect(json_equal(got, want), "PaymentRequested detail: %s", g);
    free(g);
    json_decref(want);
    want = json_pack("{s:s,s:s}", "recipient", tricky, "template", "");
    cr_expect(json_equal(json_object_get(json_array_get(ev, 1), "detail"), want));
    json_decref(want);
    json_decref(tl);
}

/* The batch's copies (load.c): within one transaction, an order read
 * through ord_order_load_tx is what the database holds after every write
 * the orders module makes (transitions, a cancel, an erasure, a recorded
 * attempt), and after a unit's savepoint is rolled back; and the copy is
 * what is read (a row changed behind its back shows the copy). */
static void same_order(const ord_order *a, const ord_order *d, const char *when)
{
    cr_expect_eq(a->seq, d->seq, "%s: seq", when);
    cr_expect_str_eq(a->id, d->id, "%s: id", when);
    cr_expect_str_eq(a->customer_id, d->customer_id, "%s: customer", when);
    cr_expect_eq(a->status, d->status, "%s: status %d vs %d", when, a->status, d->status);
    cr_expect_eq(a->failed_from, d->failed_from, "%s: failed_from", when);
    cr_expect_str_eq(a->reason, d->reason, "%s: reason", when);
    cr_expect_str_eq(a->last_error, d->last_error, "%s: last_error", when);
    cr_expect_str_eq(a->token, d->token, "%s: token", when);
    cr_expect_str_eq(a->event_id, d->event_id, "%s: event_id", when);
    cr_expect_eq(a->attempts, d->attempts, "%s: attempts", when);
    cr_expect_eq(a->total_cents, d->total_cents, "%s: total", when);
    cr_expect_eq(a->updated_ms, d->updated_ms, "%s: updated_ms", when);
    cr_expect_eq(a->reserved_ms, d->reserved_ms, "%s: reserved_ms", when);
    cr_expect_eq(a->completed_ms, d->completed_ms, "%s: completed_ms", when);
    cr_expect_eq(a->nitems, d->nitems, "%s: items", when);
    for (int i = 0; i < a->nitems && i < d->nitems; i++) {
        cr_expect_str_eq(a->items[i].sku, d->items[i].sku, "%s: item %d", when, i);
        cr_expect_eq(a->items[i].qty, d->items[i].qty, "%s: item %d", when, i);
    }
}

/* The copy agrees with the database. */
static void check_copy(store_conn *tx, const char *id, const char *when)
{
    ord_order viacopy, db;
    cr_assert_eq(ord_order_load_tx(tx, o, id, &viacopy), 0, "%s", when);
    cr_assert_eq(ord_order_load(tx, id, &db), 0, "%s", when);
    same_order(&viacopy, &db, when);
}

static int copy_fails(store_conn *tx, void *arg)
{
    (void)arg;
    ord_order ord;
    cr_assert_eq(ord_order_load_tx(tx, o, "CP-1", &ord), 0);
    cr_assert_eq(ord_capture(tx, o, &ord), 0);
    cr_assert_eq(ord_transition(tx, o, &ord, ORDER_COMPLETED, NULL, NULL, 0), 0);
    check_copy(tx, "CP-1", "completed in the unit that fails");
    return ORD_EINVAL; /* rolled back: the order is RESERVED again */
}

static int copy_after(store_conn *tx, void *arg)
{
    (void)arg;
    check_copy(tx, "CP-1", "after a unit's rollback");
    ord_order ord;
    cr_assert_eq(ord_order_load_tx(tx, o, "CP-1", &ord), 0);
    cr_expect_eq(ord.status, ORDER_RESERVED);
    order_status was;
    cr_assert_eq(orders_cancel_tx(tx, o, "CP-1", &was), 0);
    check_copy(tx, "CP-1", "after a cancel");
    /* the copy is what is read: a row changed behind its back shows it */
    check_copy(tx, "CP-2", "CP-2 read");
    store_stmt *q = store_prep(tx, ST_ORDER_SET_CUSTOMER);
    store_bind_str(q, 1, "CP-2");
    store_bind_str(q, 2, "behind");
    cr_assert_eq(store_exec(q), 0);
    ord_order stale;
    cr_assert_eq(ord_order_load_tx(tx, o, "CP-2", &stale), 0);
    cr_expect_str_eq(stale.customer_id, "cp-customer", "the copy was read");
    ord_copy_drop(tx, o, "CP-2");
    check_copy(tx, "CP-2", "after ord_copy_drop");
    orders_erased done = {0};
    cr_assert_geq(orders_customer_erase_tx(tx, o, "behind", "pseudo", 10, &done), 0);
    check_copy(tx, "CP-2", "after an erasure");
    return 0;
}

static void copy_done(void *arg, int rc)
{
    (void)arg;
    (void)rc;
}

static int copy_unit(store_conn *tx, void *arg)
{
    (void)arg;
    cr_assert_neq(store_tx_epoch(tx), 0, "SQLite's writer keeps copies");
    product_in p = {.sku = "CP", .has_name = 1, .has_price = 1, .has_stock = 1, .price_cents = 5, .stock = 10};
    snprintf(p.name, sizeof p.name, "copied");
    int rc = products_create_tx(tx, o, &p);
    if (rc) return rc;
    for (int i = 1; i <= 2; i++) {
        order_in in = {.nitems = 1};
        char id[8];
        snprintf(id, sizeof id, "CP-%d", i);
        snprintf(in.customer_id, sizeof in.customer_id, "cp-customer");
        snprintf(in.items[0].sku, sizeof in.items[0].sku, "CP");
        in.items[0].qty = 2;
        if ((rc = ord_insert(tx, o, &in, id, id, clock_wall_ms(), NULL))) return rc;
    }
    check_copy(tx, "CP-1", "new");
    ord_order ord;
    cr_assert_eq(ord_order_load_tx(tx, o, "CP-1", &ord), 0);
    int at, unknown;
    cr_assert_eq(ord_reserve_all(tx, o, &ord, &at, &unknown), 0);
    cr_assert_eq(ord_transition(tx, o, &ord, ORDER_RESERVED, NULL, NULL, 0), 0);
    check_copy(tx, "CP-1", "reserved");
    cr_assert_eq(store_follow_tx(tx, copy_fails, NULL, copy_done, NULL), 0);
    cr_assert_eq(store_follow_tx(tx, copy_after, NULL, copy_done, NULL), 0);
    return 0;
}

Test(inventory, batch_copies_of_orders_follow_the_database)
{
    if (strcmp(store_backend_name(st), "sqlite")) cr_skip_test("PostgreSQL keeps no copies (other nodes write)");
    cr_assert_eq(store_run(st, copy_unit, NULL), 0);
    cr_expect_eq(store_tx_epoch(store_reader(st)), 0, "readers keep none");
}

/* The customer index in bulk (migration 012, ord_customer_merge): orders
 * join customer_orders when the order whose seq is a multiple of
 * LIMIT_ORDER_CUSTOMER_MERGE is inserted - none at LIMIT - 1 orders, all at
 * LIMIT, one waiting at LIMIT + 1 - and a customer's list, page by page, is
 * every order of that customer newest first whichever side of the mark it
 * is on; renaming a customer (an erasure) moves merged and waiting orders
 * alike.  On PostgreSQL the same lists (its index is the plain one). */
typedef struct bulk {
    int from, to; /* orders BK-from .. BK-(to - 1) */
} bulk;

static const char *bulk_customer(int i)
{
    return i % 3 == 0 ? "bk-a" : i % 3 == 1 ? "bk-b" : "bk-c";
}

static int bulk_unit(store_conn *tx, void *arg)
{
    const bulk *r = arg;
    for (int i = r->from; i < r->to; i++) {
        order_in in = {.nitems = 1};
        char id[16];
        snprintf(id, sizeof id, "BK-%d", i);
        snprintf(in.customer_id, sizeof in.customer_id, "%s", bulk_customer(i));
        snprintf(in.items[0].sku, sizeof in.items[0].sku, "BK");
        in.items[0].qty = 1;
        int rc = ord_insert(tx, o, &in, id, id, clock_wall_ms(), NULL);
        if (rc) return rc;
    }
    return 0;
}

static void bulk_insert(int from, int to)
{
    bulk r = {from, to};
    cr_assert_eq(store_run(st, bulk_unit, &r), 0);
}

/* Rows of customer_orders (SQLite), -1 on PostgreSQL. */
static int64_t merged_rows(void)
{
    if (strcmp(store_backend_name(st), "sqlite")) return -1;
    return test_db_scalar(db_path, "SELECT count(*) FROM customer_orders");
}

/* Pages through customer's list (limit 7): the orders BK-i with
 * bulk_customer(i) == customer for i < upto, newest first, each once. */
static void check_list(const char *customer, int upto, const char *when)
{
    int want[3 * LIMIT_ORDER_CUSTOMER_MERGE], nwant = 0, got = 0;
    for (int i = upto - 1; i >= 0; i--)
        if (!strcmp(bulk_customer(i), customer)) want[nwant++] = i;
    char cursor[24] = "";
    for (;;) {
        json_t *page = NULL;
        cr_assert_eq(orders_list(o, NULL, customer, 7, cursor[0] ? cursor : NULL, &page), 0);
        json_t *arr = json_object_get(page, "orders");
        for (size_t k = 0; k < json_array_size(arr); k++, got++) {
            const char *id = json_string_value(json_object_get(json_array_get(arr, k), "orderId"));
            char w[16];
            cr_assert_lt(got, nwant, "%s: %s, more than the %d orders of %s", when, id, nwant, customer);
            snprintf(w, sizeof w, "BK-%d", want[got]);
            cr_assert_str_eq(id, w, "%s: order %d of %s", when, got, customer);
        }
        json_t *next = json_object_get(page, "nextCursor");
        if (next) str_copy(cursor, sizeof cursor, json_string_value(next));
        json_decref(page);
        if (!next) break;
    }
    cr_expect_eq(got, nwant, "%s: %d of the %d orders of %s", when, got, nwant, customer);
}

static int rename_unit(store_conn *tx, void *arg)
{
    const char *const *ids = arg;
    for (int i = 0; ids[i]; i++) {
        store_stmt *q = store_prep(tx, ST_ORDER_SET_CUSTOMER);
        store_bind_str(q, 1, ids[i]);
        store_bind_str(q, 2, "bk-renamed");
        int rc = store_exec(q);
        if (rc) return rc;
    }
    return 0;
}

Test(inventory, customer_index_merged_in_bulk)
{
    const int L = LIMIT_ORDER_CUSTOMER_MERGE;
    int sqlite = !strcmp(store_backend_name(st), "sqlite");
    /* seq 1 .. L - 1 (orders BK-0 .. BK-(L - 2)), in chunks */
    for (int from = 0; from < L - 1; from += 1000) bulk_insert(from, from + 1000 < L - 1 ? from + 1000 : L - 1);
    if (sqlite) cr_expect_eq(merged_rows(), 0, "at LIMIT - 1 orders none is merged");
    check_list("bk-a", L - 1, "LIMIT - 1");
    bulk_insert(L - 1, L); /* seq L */
    if (sqlite) cr_expect_eq(merged_rows(), L, "at LIMIT orders every one is merged");
    check_list("bk-b", L, "LIMIT");
    bulk_insert(L, L + 1); /* seq L + 1 */
    if (sqlite) cr_expect_eq(merged_rows(), L, "at LIMIT + 1 the last one waits");
    check_list("bk-a", L + 1, "LIMIT + 1");
    check_list("bk-b", L + 1, "LIMIT + 1");
    check_list("bk-c", L + 1, "LIMIT + 1");
    /* a merged order (BK-0) and the waiting one (BK-L, seq L + 1) */
    const char *merged = "BK-0";
    char waiting[16];
    snprintf(waiting, sizeof waiting, "BK-%d", L);
    const char *ids[] = {merged, waiting, NULL};
    cr_assert_eq(store_run(st, rename_unit, ids), 0);
    json_t *page = NULL;
    cr_assert_eq(orders_list(o, NULL, "bk-renamed", 10, NULL, &page), 0);
    json_t *arr = json_object_get(page, "orders");
    cr_assert_eq(json_array_size(arr), 2, "the renamed customer has %zu orders", json_array_size(arr));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "orderId")), waiting);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "orderId")), merged);
    json_decref(page);
    if (sqlite) cr_expect_eq(merged_rows(), L, "a rename moves rows, adds none");
    /* the old customers no longer list them */
    const char *olds[] = {bulk_customer(0), bulk_customer(L)};
    for (size_t i = 0; i < COUNT(olds); i++) {
        cr_assert_eq(orders_list(o, NULL, olds[i], 100, NULL, &page), 0);
        arr = json_object_get(page, "orders");
        for (size_t k = 0; k < json_array_size(arr); k++) {
            const char *id = json_string_value(json_object_get(json_array_get(arr, k), "orderId"));
            cr_expect(strcmp(id, merged) && strcmp(id, waiting), "%s still lists %s", olds[i], id);
        }
        json_decref(page);
    }
}
