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
static queue *in, *out, *dlq, *iq, *idlq;
static char dbpath[512];
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
    snprintf(dbpath, sizeof dbpath, "%s", test_db_path("fn.db"));
    store_opts o = {.path = dbpath};
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
    queue_attrs_init(&a);
    cr_assert_eq(queue_declare(qs, "iq-dlq", &a, 0), 0);
    a.visibility_s = 2;
    snprintf(a.dlq, sizeof a.dlq, "iq-dlq");
    a.max_receive = 3;
    cr_assert_eq(queue_declare(qs, "iq", &a, 0), 0);
    iq = queue_find(qs, "iq");
    idlq = queue_find(qs, "iq-dlq");
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
    cr_assert_eq(fn_handler_register(fs, "itest", handler, NULL), 0);
    cr_assert_eq(fn_handler_inline(fs, "itest"), 0);
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

/* ---- run to completion: in-process records ------------------------------------ */

/* The in-process mapping "g" on queue "iq" (maxReceiveCount 3), with the
 * given backoff. */
static void add_inline(int base_ms, int max_ms)
{
    char err[200];
    fn_config c = {.name = "g", .handler = "itest", .queue = "iq", .batch_size = 10, .window_ms = 0,
                   .concurrency = 1, .backoff_base_ms = base_ms, .backoff_max_ms = max_ms,
                   .idempotency_ttl_s = 3600, .timeout_s = 1, .enabled = 1};
    cr_assert_eq(fn_add(fs, &c, err, sizeof err), 0, "%s", err);
}

static fn_stats istats(void)
{
    fn_stats s;
    cr_assert_eq(fn_stats_get(fs, "g", &s), 0);
    return s;
}

/* Sends every body of a NULL-terminated list to iq in one unit. */
static int isend_unit(store_conn *tx, void *arg)
{
    for (const char **body = arg; *body; body++) {
        int rc = queue_send_tx(tx, qs, iq, *body, strlen(*body), NULL, 0, NULL);
        if (rc) return rc;
    }
    return 0;
}

/* visible_ms - now of the one message left in iq (ms), or -1e9 when none */
static int64_t iq_visible_in(void)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT visible_ms FROM messages WHERE queue_id=(SELECT id FROM queues WHERE name='iq')");
    int64_t v = test_db_scalar(dbpath, sql);
    return v < 0 ? -1000000000 : v - clock_wall_ms();
}

Test(fn, in_process_records_commit_with_their_send)
{
    add_inline(100, 400);
    cr_assert_eq(fn_start(fs), 0);
    store_stats_t s0, s1;
    store_stats(st, &s0);
    const char *bodies[] = {"{\"a\":1}", "{\"a\":2}", NULL};
    cr_assert_eq(store_run(st, isend_unit, bodies), 0);
    /* no poller took part: the records ran as follow-ups of the send, in
     * its transaction, so its commit made everything durable at once */
    cr_expect_eq(depth(iq), 0, "deleted in the send's commit");
    cr_expect_eq(depth(out), 2, "effects committed with the send");
    cr_expect_eq(count(ST_IDEM_COUNT), 2, "idempotency records with them");
    store_stats(st, &s1);
    cr_expect_eq(s1.follow_units - s0.follow_units, 2, "two follow-up units");
    /* in the send's batch, not the next (the pollers may commit units of
     * their own meanwhile, so the number of commits says nothing) */
    cr_expect_eq(s1.follow_deferred - s0.follow_deferred, 0, "none deferred to a later batch");
    queue_stats q;
    cr_assert_eq(queue_stats_get(qs, iq, &q), 0);
    cr_expect_eq(q.received, 2, "each message received once: its lease");
    cr_expect_eq(q.deleted, 2);
    WAIT_FOR(istats().records == 2, 5000);
    cr_expect_eq(istats().records, 2);
    cr_expect_eq(istats().errors, 0);
}

Test(fn, in_process_partial_failure_backs_off_then_dead_letters)
{
    add_inline(10000, 10000); /* a backoff far from the 2 s lease: which one was set shows */
    cr_assert_eq(fn_start(fs), 0);
    const char *bodies[] = {"{\"ok\":1}", "{\"fail\":1}", "{\"ok\":2}", NULL};
    cr_assert_eq(store_run(st, isend_unit, bodies), 0);
    cr_expect_eq(depth(out), 2, "the neighbours' effects committed with the send");
    cr_expect_eq(depth(iq), 1, "only the failed record stays");
    /* after the commit a unit of its own backs it off: visible again in
     * [5 s, 10 s] (jittered), not when the 2 s lease ends */
    WAIT_FOR(iq_visible_in() > 3000, 5000);
    int64_t left = iq_visible_in();
    cr_expect_gt(left, 3000, "backed off, not left to its lease: visible in %lld ms", (long long)left);
    cr_expect_leq(left, 10000);
    /* the failure is counted by the record's done, which the writer calls
     * after the commit and after the send's own done (store_run returned) */
    WAIT_FOR(istats().errors == 1, 5000);
    cr_expect_eq(istats().errors, 1);
    /* the pollers deliver it again once the backoff has passed: attempts 2
     * and 3 fail too, and the receive after maxReceiveCount 3 dead-letters it */
    for (int attempt = 2; attempt <= 4 && depth(idlq) == 0; attempt++) {
        clock_off += 10001;
        clock_set_offset_ms(clock_off);
        queue_interrupt(iq);
        WAIT_FOR(depth(idlq) == 1 || (int)istats().errors >= attempt || iq_visible_in() > 3000, 5000);
    }
    WAIT_FOR(depth(idlq) == 1, 5000);
    cr_expect_eq(depth(idlq), 1, "dead-lettered after 3 deliveries");
    cr_expect_eq(depth(iq), 0);
    cr_expect_eq(istats().errors, 3, "failed once in process and twice by the poller");
    cr_expect_eq(istats().records, 2);
    cr_expect_eq(count(ST_EVENT_COUNT), 2, "no effect from the failing record");
}

Test(fn, stopped_in_process_mapping_leaves_messages_to_the_queue)
{
    add_inline(100, 400);
    cr_assert_eq(fn_start(fs), 0);
    fn_stop(fs);
    const char *bodies[] = {"{\"a\":1}", NULL};
    cr_assert_eq(store_run(st, isend_unit, bodies), 0);
    cr_expect_eq(depth(out), 0, "no consumer ran");
    queue_stats q;
    cr_assert_eq(queue_stats_get(qs, iq, &q), 0);
    cr_expect_eq(q.visible, 1, "an ordinary visible message");
    cr_expect_eq(q.received, 0);
}
