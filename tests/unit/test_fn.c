/* test_fn.c - the function runtime: effects exactly once, duplicates skipped,
 * a commit refused when the receipt expired leaves no effect, partial batch
 * failure, backoff to the DLQ, idempotency expiry. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include "bus/bus.h"
#include "fn/fn.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "testutil.h"

static store *st;
static queue_sys *qs;
static bus *b;
static fn_sys *fs;
static queue *in, *out, *dlq;
static atomic_int invoked, slow_once;
static int64_t clock_off;

static int apply_emit(store_conn *tx, void *state, char *error, size_t error_len)
{
    json_t *d = state;
    bus_event ev = {.source = "test.fn", .detail_type = "Processed", .detail = d};
    return bus_publish_tx(tx, b, &ev, NULL, NULL);
}

/* emits, then refuses: the emitted event must roll back with the record */
static int apply_emit_fail(store_conn *tx, void *state, char *error, size_t error_len)
{
    int rc = apply_emit(tx, state, error, error_len);
    return rc ? rc : ORD_EHANDLER;
}

static void free_json(void *p)
{
    json_decref(p);
}

static int handler(const fn_record *r, fn_result *res, void *ud)
{
    atomic_fetch_add(&invoked, 1);
    const char *body = r->msg->body;
    if (strstr(body, "fail")) return ORD_EHANDLER;
    if (strstr(body, "slow") && !atomic_exchange(&slow_once, 1)) {
        /* the receipt expires before the commit: the fence must refuse it */
        clock_off += 3000;
        clock_set_offset_ms(clock_off);
    }
    res->apply = strstr(body, "refuse") ? apply_emit_fail : apply_emit;
    res->state = json_pack("{s:s,s:s}", "body", body, "eventId", r->event_id);
    res->free_state = free_json;
    return 0;
}

static void setup(void)
{
    id_init();
    clock_off = 0;
    clock_set_offset_ms(0);
    atomic_store(&invoked, 0);
    atomic_store(&slow_once, 0);
    store_opts o = {.path = test_db_path("fn.db")};
    cr_assert_eq(store_open(&st, &o), 0);
    cr_assert_eq(queue_sys_open(st, &qs), 0);
    cr_assert_eq(bus_open(qs, &b), 0);
    queue_attrs a;
    queue_attrs_init(&a);
    cr_assert_eq(queue_declare(qs, "in-dlq", &a, 0), 0);
    cr_assert_eq(queue_declare(qs, "out", &a, 0), 0);
    a.visibility_s = 2;
    snprintf(a.dlq, sizeof a.dlq, "in-dlq");
    a.max_receive = 3;
    cr_assert_eq(queue_declare(qs, "in", &a, 0), 0);
    in = queue_find(qs, "in");
    out = queue_find(qs, "out");
    dlq = queue_find(qs, "in-dlq");
    char err[200];
    const char *t[] = {"out"};
    json_t *p = json_loads("{\"detail-type\":[\"Processed\"]}", 0, NULL);
    cr_assert_eq(bus_rule_add(b, "processed", NULL, p, t, 1, 1, err, sizeof err), 0, "%s", err);
    json_decref(p);
    cr_assert_eq(fn_sys_open(qs, &fs), 0);
    cr_assert_eq(fn_handler_register(fs, "test", handler, NULL), 0);
    fn_config c = {.name = "f", .handler = "test", .queue = "in", .batch_size = 10, .window_ms = 50,
                   .concurrency = 1, .backoff_base_ms = 100, .backoff_max_ms = 400,
                   .idempotency_ttl_s = 3600, .timeout_s = 1, .enabled = 1};
    cr_assert_eq(fn_add(fs, &c, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    fn_sys_close(fs);
    bus_close(b);
    queue_sys_close(qs);
    store_close(st);
    clock_set_offset_ms(0);
}

TestSuite(fn, .init = setup, .fini = teardown, .timeout = 60);

struct send {
    const char *body;
};

static int send_unit(store_conn *tx, void *arg)
{
    struct send *s = arg;
    return queue_send_tx(tx, qs, in, s->body, strlen(s->body), NULL, 0, NULL);
}

static void send(const char *body)
{
    struct send s = {body};
    cr_assert_eq(store_run(st, send_unit, &s), 0);
}

static int64_t depth(queue *q)
{
    queue_stats s;
    cr_assert_eq(queue_stats_get(qs, q, &s), 0);
    return s.visible + s.in_flight + s.delayed;
}

static int64_t count(store_stmt_id id)
{
    store_stmt *s = store_prep(store_reader(st), id);
    cr_assert_eq(store_step(s), STORE_ROW);
    int64_t n = store_col_i64(s, 0);
    store_reset(s);
    return n;
}

static fn_stats stats(void)
{
    fn_stats s;
    cr_assert_eq(fn_stats_get(fs, "f", &s), 0);
    return s;
}

/* waits (bounded) until cond holds */
#define WAIT_FOR(cond, ms)                                                                          \
    do {                                                                                            \
        int64_t end_ = clock_mono_ms() + (ms);                                                      \
        while (!(cond) && clock_mono_ms() < end_) usleep(5000);                                    \
    } while (0)

Test(fn, effects_commit_once_with_the_delete)
{
    cr_assert_eq(fn_start(fs), 0);
    send("{\"a\":1}");
    send("{\"a\":2}");
    WAIT_FOR(stats().records == 2, 5000);
    cr_expect_eq(stats().records, 2);
    cr_expect_eq(depth(in), 0, "messages deleted with the effects");
    cr_expect_eq(depth(out), 2, "one emitted event per record");
    cr_expect_eq(count(ST_EVENT_COUNT), 2);
    cr_expect_eq(count(ST_IDEM_COUNT), 2, "idempotency record per event id");
}

Test(fn, duplicate_event_id_runs_no_effect)
{
    const char *env = "{\"version\":\"0\",\"id\":\"evt-123\",\"detail-type\":\"OrderCreated\",\"source\":\"s\",\"detail\":{}}";
    send(env);
    send(env); /* the same event delivered twice */
    cr_assert_eq(fn_start(fs), 0);
    WAIT_FOR(stats().records + stats().duplicates == 2, 5000);
    cr_expect_eq(stats().records, 1, "effects once");
    cr_expect_eq(stats().duplicates, 1, "second acknowledged as duplicate");
    cr_expect_eq(depth(in), 0, "both deleted");
    cr_expect_eq(depth(out), 1, "one effect");
    cr_expect_eq(count(ST_EVENT_COUNT), 1);
}

Test(fn, expired_receipt_commit_leaves_no_effect)
{
    send("{\"slow\":true}");
    cr_assert_eq(fn_start(fs), 0);
    WAIT_FOR(stats().fenced == 1, 5000);
    cr_expect_eq(stats().fenced, 1, "the first commit was refused");
    /* the refused unit left nothing: no event, no idempotency record; the
     * message came back and was processed exactly once */
    WAIT_FOR(stats().records == 1, 8000);
    cr_expect_eq(stats().records, 1);
    cr_expect_eq(count(ST_EVENT_COUNT), 1, "exactly one effect");
    cr_expect_eq(depth(out), 1);
    cr_expect_eq(atomic_load(&invoked), 2, "handler ran twice, effects once");
    cr_expect_eq(depth(in), 0);
}

Test(fn, partial_batch_failure_returns_only_failed)
{
    send("{\"ok\":1}");
    send("{\"fail\":1}");
    send("{\"ok\":2}");
    cr_assert_eq(fn_start(fs), 0);
    WAIT_FOR(stats().records == 2 && stats().errors >= 1, 5000);
    cr_expect_eq(stats().records, 2);
    cr_expect_geq(stats().errors, 1);
    cr_expect_eq(depth(out), 2, "successful records committed");
    cr_expect_eq(depth(in) + depth(dlq), 1, "only the failed record remains");
}

Test(fn, record_refused_in_its_commit_rolls_back_alone)
{
    /* one batch of three: the middle record's effects fail in the writer */
    send("{\"ok\":1}");
    send("{\"refuse\":1}");
    send("{\"ok\":2}");
    cr_assert_eq(fn_start(fs), 0);
    WAIT_FOR(depth(dlq) == 1, 10000);
    cr_expect_eq(stats().records, 2);
    cr_expect_eq(stats().errors, 3, "the refused record failed on each of its 3 deliveries");
    cr_expect_eq(depth(out), 2, "its neighbours committed");
    cr_expect_eq(count(ST_EVENT_COUNT), 2, "the refused record's event rolled back");
    cr_expect_eq(depth(in), 0);
}

Test(fn, failing_record_backs_off_then_dead_letters)
{
    send("{\"fail\":true}");
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(fn_start(fs), 0);
    WAIT_FOR(depth(dlq) == 1, 10000);
    cr_expect_eq(depth(dlq), 1, "in the DLQ after maxReceiveCount 3");
    cr_expect_eq(depth(in), 0);
    cr_expect_eq(atomic_load(&invoked), 3, "delivered exactly 3 times, got %d", atomic_load(&invoked));
    /* backoff 100 ms then 200 ms (each jittered into [d/2, d]) */
    cr_expect_geq(clock_mono_ms() - t0, 150, "retries were backed off");
    cr_expect_eq(count(ST_EVENT_COUNT), 0, "no effect from a failing record");
}

Test(fn, idempotency_records_expire)
{
    cr_assert_eq(fn_start(fs), 0);
    send("{\"a\":1}");
    WAIT_FOR(stats().records == 1, 5000);
    cr_assert_eq(count(ST_IDEM_COUNT), 1);
    int64_t n;
    cr_assert_eq(fn_sweep_idempotency(fs, &n), 0);
    cr_expect_eq(n, 0, "not expired yet");
    clock_set_offset_ms(3601 * 1000LL);
    cr_assert_eq(fn_sweep_idempotency(fs, &n), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(count(ST_IDEM_COUNT), 0);
}

Test(fn, backoff_formula)
{
    cr_expect_eq(fn_backoff_ms(1000, 60000, 1), 1000);
    cr_expect_eq(fn_backoff_ms(1000, 60000, 2), 2000);
    cr_expect_eq(fn_backoff_ms(1000, 60000, 4), 8000);
    cr_expect_eq(fn_backoff_ms(1000, 60000, 10), 60000, "capped at max");
    cr_expect_eq(fn_backoff_ms(1000, 60000, 0), 1000);
}

Test(fn, config_checks)
{
    char err[200];
    fn_config c = {.name = "g", .handler = "nope", .queue = "in", .batch_size = 5, .concurrency = 1,
                   .backoff_base_ms = 10, .backoff_max_ms = 10, .idempotency_ttl_s = 1, .timeout_s = 1, .enabled = 1};
    cr_expect_eq(fn_add(fs, &c, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "handler") != NULL, "%s", err);
    c.handler = "test";
    c.queue = "zzz";
    cr_expect_eq(fn_add(fs, &c, err, sizeof err), ORD_EVALIDATION);
    c.queue = "in";
    c.batch_size = LIMIT_FN_BATCH_MAX + 1;
    cr_expect_eq(fn_add(fs, &c, err, sizeof err), ORD_EVALIDATION, "batch past limit");
    c.batch_size = LIMIT_FN_BATCH_MAX;
    c.timeout_s = 3; /* the queue "in" has VisibilityTimeout 2 */
    cr_expect_eq(fn_add(fs, &c, err, sizeof err), ORD_EVALIDATION, "timeout above the queue's visibility");
    cr_expect(strstr(err, "timeoutSeconds 3 is more than the VisibilityTimeout (2)") != NULL, "%s", err);
    c.timeout_s = 2;
    cr_expect_eq(fn_add(fs, &c, err, sizeof err), 0, "batch at limit: %s", err);
}

/* A consumed queue keeps a VisibilityTimeout its function can commit in
 * (Lambda's rule), and redrive policies cannot form cycles. */
Test(fn, queue_attributes_that_would_break_the_function_are_refused)
{
    char err[200];
    queue_attrs a;
    queue_get_attrs(in, &a);
    a.visibility_s = 0;
    cr_expect_eq(queue_attrs_check(qs, "in", &a, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "VisibilityTimeout 0 is below the timeoutSeconds (1) of function 'f'") != NULL, "%s",
              err);
    a.visibility_s = 1;
    cr_expect_eq(queue_attrs_check(qs, "in", &a, err, sizeof err), 0, "%s", err);
    /* in -> in-dlq; in-dlq -> in would be a cycle */
    queue_attrs d;
    queue_get_attrs(dlq, &d);
    snprintf(d.dlq, sizeof d.dlq, "in");
    d.max_receive = 3;
    cr_expect_eq(queue_attrs_check(qs, "in-dlq", &d, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "a cycle") != NULL, "%s", err);
    /* a chain without a cycle is fine: out -> in-dlq */
    queue_attrs o;
    queue_get_attrs(out, &o);
    snprintf(o.dlq, sizeof o.dlq, "in-dlq");
    o.max_receive = 2;
    cr_expect_eq(queue_attrs_check(qs, "out", &o, err, sizeof err), 0, "%s", err);
}
