/* test_queue.c - SQS semantics case by case: visibility expiry, receive
 * count, DLQ move on the receive after maxReceiveCount deliveries, stale
 * receipts, delay, long poll, redrive, purge, retention, body limit. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "queue/queue.h"
#include "store/faults.h"
#include "testutil.h"

static store *st;
static queue_sys *qs;

static void setup(void)
{
    id_init();
    clock_set_offset_ms(0);
    store_opts o = {.path = test_db_path("queue.db")};
    cr_assert_eq(store_open(&st, &o), 0);
    cr_assert_eq(queue_sys_open(st, &qs), 0);
}

static void teardown(void)
{
    queue_sys_close(qs);
    store_close(st);
    clock_set_offset_ms(0);
}

TestSuite(queue, .init = setup, .fini = teardown, .timeout = 60);

static queue *make(const char *name, int vis, const char *dlq, int max_receive)
{
    queue_attrs a;
    queue_attrs_init(&a);
    a.visibility_s = vis;
    if (dlq) {
        snprintf(a.dlq, sizeof a.dlq, "%s", dlq);
        a.max_receive = max_receive;
    }
    int rc = queue_declare(qs, name, &a, 0);
    cr_assert_eq(rc, 0, "declare %s: %s", name, err_name(rc));
    queue *q = queue_find(qs, name);
    cr_assert_not_null(q);
    return q;
}

/* ---- blocking wrappers around the _tx functions ---- */
struct op {
    queue *q;
    const char *body;
    size_t len;
    int delay, max, vis;
    const char *receipt;
    queue_msg msgs[10];
    int n;
    char mid[40];
    int64_t count;
    queue *dest;
    int64_t upto; /* a purge's chunks */
};

static int send_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_send_tx(tx, qs, o->q, o->body, o->len, NULL, o->delay, o->mid);
}
static int recv_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_receive_tx(tx, qs, o->q, o->max, o->vis, o->msgs, &o->n);
}
static int del_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_delete_tx(tx, qs, o->q, o->receipt);
}
static int del_live_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_delete_live_tx(tx, qs, o->q, o->receipt);
}
static int vis_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_change_visibility_tx(tx, qs, o->q, o->receipt, o->vis);
}
static int purge_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_purge_tx(tx, qs, o->q, &o->upto, o->max, &o->count);
}
static int redrive_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_redrive_tx(tx, qs, o->q, o->dest, o->max, &o->count);
}
static int expire_unit(store_conn *tx, void *a)
{
    struct op *o = a;
    return queue_expire_tx(tx, qs, o->q, 100, &o->count);
}

static int send_delay(queue *q, const char *body, int delay)
{
    struct op o = {.q = q, .body = body, .len = strlen(body), .delay = delay};
    return store_run(st, send_unit, &o);
}
static int send(queue *q, const char *body)
{
    return send_delay(q, body, -1);
}

/* receives into o (caller releases) */
static int recv(queue *q, int max, int vis, struct op *o)
{
    memset(o, 0, sizeof *o);
    o->q = q;
    o->max = max;
    o->vis = vis;
    return store_run(st, recv_unit, o);
}

static void release(struct op *o)
{
    for (int i = 0; i < o->n; i++) queue_msg_release(&o->msgs[i]);
}

static int del(queue *q, const char *receipt)
{
    struct op o = {.q = q, .receipt = receipt};
    return store_run(st, del_unit, &o);
}

static queue_stats stats(queue *q)
{
    queue_stats s;
    cr_assert_eq(queue_stats_get(qs, q, &s), 0);
    return s;
}

static void advance(int64_t ms)
{
    static int64_t off;
    off += ms;
    clock_set_offset_ms(off);
}

Test(queue, send_receive_delete)
{
    queue *q = make("q1", 30, NULL, 0);
    cr_assert_eq(send(q, "hello"), 0);
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.msgs[0].body, "hello");
    cr_expect_eq(r.msgs[0].receive_count, 1);
    cr_expect(id_is_uuid(r.msgs[0].message_id));
    queue_stats s = stats(q);
    cr_expect_eq(s.visible, 0);
    cr_expect_eq(s.in_flight, 1);
    cr_assert_eq(del(q, r.msgs[0].receipt), 0);
    s = stats(q);
    cr_expect_eq(s.in_flight + s.visible + s.delayed, 0);
    cr_expect_eq(del(q, r.msgs[0].receipt), ORD_ERECEIPT, "second delete of a gone message");
    release(&r);
}

Test(queue, receive_max_and_limits)
{
    queue *q = make("q2", 30, NULL, 0);
    for (int i = 0; i < 15; i++) cr_assert_eq(send(q, "m"), 0);
    struct op r;
    cr_expect_eq(recv(q, 11, -1, &r), ORD_EVALIDATION, "max 11 refused");
    cr_expect_eq(recv(q, 0, -1, &r), ORD_EVALIDATION, "max 0 refused");
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 10);
    release(&r);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 5);
    release(&r);
}

Test(queue, visibility_expiry_redelivers_with_count)
{
    queue *q = make("q3", 30, NULL, 0);
    cr_assert_eq(send(q, "x"), 0);
    struct op r1, r2, r3;
    cr_assert_eq(recv(q, 1, -1, &r1), 0);
    cr_assert_eq(r1.n, 1);
    cr_assert_eq(recv(q, 1, -1, &r2), 0);
    cr_expect_eq(r2.n, 0, "invisible while in flight");
    advance(31000);
    cr_assert_eq(recv(q, 1, -1, &r3), 0);
    cr_assert_eq(r3.n, 1, "visible again after the timeout");
    cr_expect_eq(r3.msgs[0].receive_count, 2);
    cr_expect_str_neq(r1.msgs[0].receipt, r3.msgs[0].receipt, "a new receipt per receive");
    cr_expect_eq(r3.msgs[0].first_receive_ms, r1.msgs[0].first_receive_ms);
    release(&r1);
    release(&r3);
}

Test(queue, stale_receipt_refused)
{
    queue *q = make("q4", 5, NULL, 0);
    cr_assert_eq(send(q, "x"), 0);
    struct op r1, r2;
    cr_assert_eq(recv(q, 1, -1, &r1), 0);
    advance(6000);
    cr_assert_eq(recv(q, 1, -1, &r2), 0);
    cr_assert_eq(r2.n, 1);
    struct op v = {.q = q, .receipt = r1.msgs[0].receipt, .vis = 100};
    cr_expect_eq(store_run(st, vis_unit, &v), ORD_ERECEIPT, "stale receipt cannot change visibility");
    cr_expect_eq(del(q, r1.msgs[0].receipt), ORD_ERECEIPT, "stale receipt cannot delete");
    cr_expect_eq(stats(q).in_flight, 1, "message still there");
    cr_expect_eq(del(q, r2.msgs[0].receipt), 0, "latest receipt deletes");
    cr_expect_eq(del(q, "zz"), ORD_ERECEIPT, "malformed receipt");
    release(&r1);
    release(&r2);
}

Test(queue, delete_live_fences_expired_receipt)
{
    queue *q = make("q5", 5, NULL, 0);
    cr_assert_eq(send(q, "x"), 0);
    struct op r;
    cr_assert_eq(recv(q, 1, -1, &r), 0);
    advance(6000);
    struct op d = {.q = q, .receipt = r.msgs[0].receipt};
    cr_expect_eq(store_run(st, del_live_unit, &d), ORD_ERECEIPT, "expired receipt refused by the fence");
    cr_expect_eq(del(q, r.msgs[0].receipt), 0, "plain delete with the latest receipt still works (SQS)");
    release(&r);
}

Test(queue, change_visibility)
{
    queue *q = make("q6", 30, NULL, 0);
    cr_assert_eq(send(q, "x"), 0);
    struct op r, r2;
    cr_assert_eq(recv(q, 1, -1, &r), 0);
    struct op v = {.q = q, .receipt = r.msgs[0].receipt, .vis = 0};
    cr_assert_eq(store_run(st, vis_unit, &v), 0);
    cr_assert_eq(recv(q, 1, -1, &r2), 0);
    cr_expect_eq(r2.n, 1, "visibility 0 makes it visible now");
    struct op v2 = {.q = q, .receipt = r2.msgs[0].receipt, .vis = 43201};
    cr_expect_eq(store_run(st, vis_unit, &v2), ORD_EVALIDATION, "43201 > 12 h");
    v2.vis = 43200;
    cr_expect_eq(store_run(st, vis_unit, &v2), 0, "43200 allowed");
    advance(43199 * 1000LL);
    struct op r3;
    cr_assert_eq(recv(q, 1, -1, &r3), 0);
    cr_expect_eq(r3.n, 0, "extended visibility holds");
    release(&r);
    release(&r2);
}

Test(queue, per_receive_visibility)
{
    queue *q = make("q7", 30, NULL, 0);
    cr_assert_eq(send(q, "x"), 0);
    struct op r, r2;
    cr_assert_eq(recv(q, 1, 2, &r), 0);
    advance(2500);
    cr_assert_eq(recv(q, 1, -1, &r2), 0);
    cr_expect_eq(r2.n, 1, "per-receive VisibilityTimeout 2 s overrides the queue's 30 s");
    release(&r);
    release(&r2);
}

Test(queue, dlq_after_max_receive_count)
{
    queue *dlq = make("q8-dlq", 30, NULL, 0);
    queue *q = make("q8", 1, "q8-dlq", 3);
    cr_assert_eq(send(q, "poison"), 0);
    for (int i = 1; i <= 3; i++) {
        struct op r;
        cr_assert_eq(recv(q, 1, -1, &r), 0);
        cr_assert_eq(r.n, 1, "delivery %d", i);
        cr_expect_eq(r.msgs[0].receive_count, i);
        release(&r);
        advance(1100);
    }
    struct op r4;
    cr_assert_eq(recv(q, 1, -1, &r4), 0);
    cr_expect_eq(r4.n, 0, "4th receive moves it instead of delivering");
    cr_expect_eq(stats(q).visible + stats(q).in_flight, 0);
    queue_stats ds = stats(dlq);
    cr_expect_eq(ds.visible, 1, "in the DLQ");
    cr_expect_eq(stats(q).moved_to_dlq, 1);
    struct op d;
    cr_assert_eq(recv(dlq, 1, -1, &d), 0);
    cr_assert_eq(d.n, 1);
    cr_expect_str_eq(d.msgs[0].body, "poison");
    cr_expect_str_eq(d.msgs[0].source_queue, "q8");
    release(&d);
    cr_expect(queue_is_dlq(qs, dlq));
    cr_expect(!queue_is_dlq(qs, q));
}

Test(queue, redrive_all_and_n)
{
    queue *dlq = make("q9-dlq", 30, NULL, 0);
    queue *q = make("q9", 1, "q9-dlq", 1);
    for (int i = 0; i < 5; i++) cr_assert_eq(send(q, "p"), 0);
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 5);
    release(&r);
    advance(1100);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0);
    cr_assert_eq(stats(dlq).visible, 5);
    struct op rd = {.q = dlq, .max = 2};
    cr_assert_eq(store_run(st, redrive_unit, &rd), 0);
    cr_expect_eq(rd.count, 2, "redrive N=2");
    cr_expect_eq(stats(dlq).visible, 3);
    cr_expect_eq(stats(q).visible, 2);
    struct op all = {.q = dlq, .max = LIMIT_REDRIVE_MAX};
    cr_assert_eq(store_run(st, redrive_unit, &all), 0);
    cr_expect_eq(all.count, 3);
    cr_expect_eq(stats(dlq).visible, 0);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 5, "all back in the source queue");
    cr_expect_eq(r.msgs[0].receive_count, 1, "receive count restarts");
    release(&r);
    struct op bad = {.q = dlq, .max = LIMIT_REDRIVE_MAX + 1};
    cr_expect_eq(store_run(st, redrive_unit, &bad), ORD_EVALIDATION);
}

Test(queue, purge)
{
    queue *q = make("q10", 30, NULL, 0);
    for (int i = 0; i < 7; i++) cr_assert_eq(send(q, "p"), 0);
    struct op p = {.q = q, .max = 10, .upto = -1};
    cr_assert_eq(store_run(st, purge_unit, &p), 0);
    cr_expect_eq(p.count, 7);
    queue_stats s = stats(q);
    cr_expect_eq(s.visible + s.in_flight + s.delayed, 0);
}

/* A purge goes in chunks: each unit deletes at most its limit, only what
 * was sent before the purge began, and nothing of another queue. */
Test(queue, purge_in_chunks)
{
    queue *q = make("q10c", 30, NULL, 0), *other = make("q10d", 30, NULL, 0);
    for (int i = 0; i < 7; i++) cr_assert_eq(send(q, "p"), 0);
    cr_assert_eq(send(other, "o"), 0);
    struct op p = {.q = q, .max = 3, .upto = -1};
    int64_t sizes[4] = {0}, total = 0;
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(store_run(st, purge_unit, &p), 0);
        sizes[k] = p.count;
        total += p.count;
        if (k == 0) cr_assert_eq(send(q, "sent during the purge"), 0);
        if (p.count < 3) break;
    }
    cr_expect_eq(sizes[0], 3);
    cr_expect_eq(sizes[1], 3);
    cr_expect_eq(sizes[2], 1, "the last chunk stops short");
    cr_expect_eq(total, 7);
    cr_expect_eq(stats(q).visible, 1, "what was sent after the purge began stays");
    cr_expect_eq(stats(other).visible, 1, "another queue is untouched");
}

Test(queue, delay_seconds)
{
    queue *q = make("q11", 30, NULL, 0);
    cr_assert_eq(send_delay(q, "later", 10), 0);
    cr_expect_eq(send_delay(q, "x", 901), ORD_EVALIDATION, "delay 901 refused");
    cr_expect_eq(send_delay(q, "x", 900), 0, "delay 900 accepted");
    cr_expect_eq(stats(q).delayed, 2);
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0, "delayed message not receivable");
    advance(10500);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.msgs[0].body, "later");
    release(&r);
}

Test(queue, retention_expiry)
{
    queue_attrs a;
    queue_attrs_init(&a);
    a.retention_s = 60;
    cr_assert_eq(queue_declare(qs, "q12", &a, 0), 0);
    queue *q = queue_find(qs, "q12");
    cr_assert_eq(send(q, "old"), 0);
    cr_assert_eq(send(q, "old2"), 0);
    advance(61000);
    cr_assert_eq(send(q, "new"), 0);
    struct op e = {.q = q};
    cr_assert_eq(store_run(st, expire_unit, &e), 0);
    cr_expect_eq(e.count, 2, "sweeper drops both expired messages");
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.msgs[0].body, "new");
    release(&r);
    /* an expired message met by a receive is dropped there too */
    cr_assert_eq(send(q, "old3"), 0);
    advance(61000);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0, "expired at receive");
    /* "new" was never deleted: it expired too */
    cr_expect_eq(stats(q).expired, 4, "expired %llu", (unsigned long long)stats(q).expired);
}

Test(queue, body_limit)
{
    queue *q = make("q13", 30, NULL, 0);
    static char big[LIMIT_MESSAGE_BYTES_MAX + 1];
    memset(big, 'a', sizeof big);
    struct op o = {.q = q, .body = big, .len = LIMIT_MESSAGE_BYTES_MAX, .delay = -1};
    cr_expect_eq(store_run(st, send_unit, &o), 0, "256 KiB accepted");
    o.len = LIMIT_MESSAGE_BYTES_MAX + 1;
    cr_expect_eq(store_run(st, send_unit, &o), ORD_ETOOBIG, "256 KiB + 1 refused");
    o.len = 0;
    cr_expect_eq(store_run(st, send_unit, &o), ORD_EVALIDATION, "empty body refused");
    queue_attrs a;
    queue_attrs_init(&a);
    a.max_size = 1024;
    cr_assert_eq(queue_declare(qs, "q13s", &a, 0), 0);
    struct op s = {.q = queue_find(qs, "q13s"), .body = big, .len = 1024, .delay = -1};
    cr_expect_eq(store_run(st, send_unit, &s), 0, "MaximumMessageSize 1024 at limit");
    s.len = 1025;
    cr_expect_eq(store_run(st, send_unit, &s), ORD_ETOOBIG, "MaximumMessageSize + 1");
}

Test(queue, create_semantics)
{
    queue_attrs a;
    queue_attrs_init(&a);
    cr_assert_eq(queue_declare(qs, "c1", &a, 0), 0);
    cr_expect_eq(queue_declare(qs, "c1", &a, 0), 0, "same attributes: existing queue");
    a.visibility_s = 99;
    cr_expect_eq(queue_declare(qs, "c1", &a, 0), ORD_EEXISTS, "other attributes: conflict");
    cr_expect_eq(queue_declare(qs, "c1", &a, 1), 0, "declare with update");
    queue_attrs got;
    queue_get_attrs(queue_find(qs, "c1"), &got);
    cr_expect_eq(got.visibility_s, 99);
    cr_expect_eq(queue_declare(qs, "bad name", &a, 0), ORD_EVALIDATION);
    a.visibility_s = 43201;
    cr_expect_eq(queue_declare(qs, "c2", &a, 0), ORD_EVALIDATION);
    queue_attrs_init(&a);
    snprintf(a.dlq, sizeof a.dlq, "nope");
    a.max_receive = 3;
    cr_expect_eq(queue_declare(qs, "c3", &a, 0), ORD_EVALIDATION, "DLQ must exist");
    cr_expect_null(queue_find(qs, "c3"));
}

Test(queue, survives_reopen)
{
    queue *q = make("r1", 30, NULL, 0);
    cr_assert_eq(send(q, "persist"), 0);
    queue_sys_close(qs);
    cr_assert_eq(queue_sys_open(st, &qs), 0);
    q = queue_find(qs, "r1");
    cr_assert_not_null(q);
    struct op r;
    cr_assert_eq(recv(q, 1, -1, &r), 0);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.msgs[0].body, "persist");
    release(&r);
}

/* ---- long poll ---- */
struct sender {
    queue *q;
    int delay_ms;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    usleep((useconds_t)s->delay_ms * 1000);
    send(s->q, "wake");
    return NULL;
}

Test(queue, long_poll_returns_early_on_send)
{
    queue *q = make("lp1", 30, NULL, 0);
    struct sender s = {q, 200};
    pthread_t th;
    pthread_create(&th, NULL, sender_main, &s);
    queue_msg m[10];
    int n = 0;
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(queue_receive_wait(qs, q, 10, -1, 5000, m, &n), 0);
    int64_t took = clock_mono_ms() - t0;
    pthread_join(th, NULL);
    cr_expect_eq(n, 1, "woken by the send");
    cr_expect_lt(took, 2000, "returned after %lld ms, not at the 5 s timeout", (long long)took);
    cr_expect_geq(took, 150, "returned after %lld ms, before the send", (long long)took);
    for (int i = 0; i < n; i++) queue_msg_release(&m[i]);
}

Test(queue, long_poll_empty_at_timeout)
{
    queue *q = make("lp2", 30, NULL, 0);
    queue_msg m[10];
    int n = -1;
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(queue_receive_wait(qs, q, 10, -1, 400, m, &n), 0);
    int64_t took = clock_mono_ms() - t0;
    cr_expect_eq(n, 0);
    cr_expect_geq(took, 390, "waited %lld ms of 400", (long long)took);
    cr_expect_lt(took, 1500, "waited %lld ms", (long long)took);
}

Test(queue, long_poll_woken_when_delay_ends)
{
    queue *q = make("lp3", 30, NULL, 0);
    cr_assert_eq(send_delay(q, "d", 1), 0);
    queue_msg m[10];
    int n = 0;
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(queue_receive_wait(qs, q, 10, -1, 5000, m, &n), 0);
    int64_t took = clock_mono_ms() - t0;
    cr_expect_eq(n, 1);
    cr_expect_lt(took, 2500, "took %lld ms", (long long)took);
    cr_expect_geq(took, 900, "took %lld ms: before the delay ended", (long long)took);
    for (int i = 0; i < n; i++) queue_msg_release(&m[i]);
}

/* Two creates of one name in the same batch: the second sees the first
 * although the registry changes only after COMMIT. */
struct cr {
    const char *name;
    queue_attrs a;
    int created, rc;
    atomic_int *done;
};

static int create_unit(store_conn *tx, void *arg)
{
    struct cr *c = arg;
    return queue_create_tx(tx, qs, c->name, &c->a, &c->created);
}

static void create_done(void *arg, int rc)
{
    struct cr *c = arg;
    c->rc = rc;
    atomic_fetch_add(c->done, 1);
}

static int block_unit(store_conn *tx, void *arg)
{
    usleep(100000); /* holds the writer so the next units form one batch */
    return 0;
}

Test(queue, creates_in_one_batch_see_each_other)
{
    atomic_int done = 0;
    struct cr c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (struct cr){.name = "same", .done = &done};
        queue_attrs_init(&c[i].a);
    }
    c[2].a.visibility_s = 99; /* other attributes */
    cr_assert_eq(store_submit(st, block_unit, NULL, NULL), 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(store_submit(st, create_unit, create_done, &c[i]), 0);
    while (atomic_load(&done) < 3) usleep(1000);
    cr_expect_eq(c[0].rc, 0);
    cr_expect_eq(c[0].created, 1);
    cr_expect_eq(c[1].rc, 0, "same attributes: %s", err_name(c[1].rc));
    cr_expect_eq(c[1].created, 0, "the second create finds the first");
    cr_expect_eq(c[2].rc, ORD_EEXISTS, "other attributes: %s", err_name(c[2].rc));
    cr_expect_not_null(queue_find(qs, "same"));
    cr_expect_eq(queue_count(qs), 1);
}

/* ---- lease on send: an in-process consumer --------------------------------- */

/* A consumer that takes the offer and then "dies": it never processes nor
 * deletes the message. */
struct taken {
    int n;
    queue_msg m;
    char body[64];
    char event_id[64];
};

static int take(struct taken *t, const queue_msg *m, const queue_event *ev)
{
    t->n++;
    t->m = *m;
    snprintf(t->body, sizeof t->body, "%.*s", (int)m->body_len, m->body);
    snprintf(t->event_id, sizeof t->event_id, "%s", ev ? ev->id : "");
    t->m.body = t->body; /* borrowed: a copy is kept */
    t->m.attrs = t->m.source_queue = NULL;
    return 0;
}

/* Takes the message for after the commit (the row, leased to it), then
 * never processes it. */
static int take_and_die(store_conn *tx, void *arg, queue *q, const queue_msg *m, const queue_event *ev,
                        queue_msg **lease)
{
    struct taken *t = arg;
    take(t, m, ev);
    *lease = &t->m;
    (void)tx;
    (void)q;
    return 1;
}

/* Takes the message to process it in the sending transaction (no row). */
static int take_in_tx(store_conn *tx, void *arg, queue *q, const queue_msg *m, const queue_event *ev,
                      queue_msg **lease)
{
    take(arg, m, ev);
    (void)tx;
    (void)q;
    (void)lease;
    return 0;
}

Test(queue, leased_message_of_a_dead_consumer_is_redelivered_after_its_visibility_timeout)
{
    queue *dl = make("lease-dlq", 30, NULL, 0);
    queue *q = make("lease", 5, "lease-dlq", 2);
    struct taken t = {0};
    queue_set_consumer(q, take_and_die, &t);
    cr_assert_eq(send(q, "work"), 0);
    cr_assert_eq(t.n, 1, "offered to the consumer inside the send");
    cr_expect_str_eq(t.body, "work");
    cr_expect_eq(t.m.receive_count, 1, "written as received once");
    cr_expect_str_eq(t.event_id, "", "no event id outside the bus");
    queue_stats s = stats(q);
    cr_expect_eq(s.in_flight, 1, "in flight, not visible");
    cr_expect_eq(s.visible, 0);
    cr_expect_eq(s.received, 1, "the lease counts as a receive");
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0, "nobody else receives a leased message");
    /* the consumer died: nobody deletes it.  Its lease ends with the
     * queue's VisibilityTimeout and a normal receive delivers it */
    advance(4000);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0, "still leased before the timeout");
    advance(1500);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 1, "redelivered after the visibility timeout");
    cr_expect_str_eq(r.msgs[0].body, "work");
    cr_expect_eq(r.msgs[0].receive_count, 2, "the receive count goes on from the lease");
    cr_expect_str_eq(r.msgs[0].message_id, t.m.message_id, "the same message");
    cr_expect_eq(del(q, t.m.receipt), ORD_ERECEIPT, "the dead consumer's receipt is stale");
    release(&r);
    /* maxReceiveCount 2 counts the lease: the next receive dead-letters it */
    advance(5500);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0, "moved instead of delivered a third time");
    cr_expect_eq(stats(dl).visible, 1, "in the dead-letter queue");
    queue_set_consumer(q, NULL, NULL);
}

Test(queue, leased_message_is_deleted_by_its_receipt)
{
    queue *q = make("lease2", 30, NULL, 0);
    struct taken t = {0};
    queue_set_consumer(q, take_and_die, &t);
    cr_assert_eq(send(q, "a"), 0);
    queue_set_consumer(q, NULL, NULL);
    cr_assert_eq(send(q, "b"), 0); /* no consumer any more: an ordinary, visible message */
    cr_expect_eq(t.n, 1, "only the first was offered");
    queue_stats s = stats(q);
    cr_expect_eq(s.in_flight, 1);
    cr_expect_eq(s.visible, 1);
    struct op o = {.q = q, .receipt = t.m.receipt};
    cr_expect_eq(store_run(st, del_live_unit, &o), 0, "the consumer's receipt deletes it");
    s = stats(q);
    cr_expect_eq(s.in_flight, 0);
    cr_expect_eq(s.visible, 1);
}

/* A delayed send is never leased: the consumer would hold it early. */
Test(queue, delayed_messages_are_not_leased)
{
    queue *q = make("lease3", 30, NULL, 0);
    struct taken t = {0};
    queue_set_consumer(q, take_and_die, &t);
    cr_assert_eq(send_delay(q, "later", 2), 0);
    cr_expect_eq(t.n, 0);
    cr_expect_eq(stats(q).delayed, 1);
    queue_set_consumer(q, NULL, NULL);
}

struct keep_op {
    queue *q;
    struct taken *t;
    int64_t vis_ms;
};

static int send_taken_unit(store_conn *tx, void *a)
{
    struct keep_op *k = a;
    int rc = queue_send_tx(tx, qs, k->q, "job", 3, NULL, 0, NULL);
    /* processed in the same transaction: settled, or written back for a retry */
    if (!rc) rc = k->vis_ms < 0 ? queue_settled_tx(tx, k->q) : queue_keep_tx(tx, k->q, &k->t->m, k->vis_ms);
    return rc;
}

/* A message processed in its sending transaction never gets a row; one
 * whose processing failed is written back, received once, for a retry. */
Test(queue, message_taken_in_its_sending_transaction_has_no_row_unless_kept)
{
    queue *q = make("lease4", 30, NULL, 0);
    struct taken t = {0};
    queue_set_consumer(q, take_in_tx, &t);
    struct keep_op k = {q, &t, -1};
    cr_assert_eq(store_run(st, send_taken_unit, &k), 0);
    cr_expect_eq(t.n, 1);
    cr_expect_eq(t.m.seq, 0, "no row");
    queue_stats s = stats(q);
    cr_expect_eq(s.visible + s.in_flight + s.delayed, 0, "nothing stored");
    cr_expect_eq(s.received, 1, "taken: received once");
    cr_expect_eq(s.deleted, 1, "settled");
    k.vis_ms = 2000;
    cr_assert_eq(store_run(st, send_taken_unit, &k), 0);
    cr_expect_gt(t.m.seq, 0, "written back");
    s = stats(q);
    cr_expect_eq(s.in_flight, 1, "invisible for its backoff");
    struct op r;
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_expect_eq(r.n, 0);
    advance(2100);
    cr_assert_eq(recv(q, 10, -1, &r), 0);
    cr_assert_eq(r.n, 1, "delivered after the backoff");
    cr_expect_eq(r.msgs[0].receive_count, 2, "its first delivery was the one that failed");
    cr_expect_str_eq(r.msgs[0].body, "job");
    release(&r);
    queue_set_consumer(q, NULL, NULL);
}

struct del_op {
    queue *q;
};

static int delete_queue_unit(store_conn *tx, void *arg)
{
    char why[200];
    return queue_delete_queue_tx(tx, qs, ((struct del_op *)arg)->q, why, sizeof why);
}

struct refresher {
    atomic_int stop;
    int refreshes;
};

static void *refresh_loop(void *arg)
{
    struct refresher *r = arg;
    while (!atomic_load(&r->stop)) {
        cr_assert_eq(queue_sys_refresh(qs), 0);
        r->refreshes++;
    }
    return NULL;
}

/* A refresh infers another node's deletions from the queues it does not
 * read; a queue that joined the registry after the refresh began (nodes
 * starting together: its creating unit committed after the list was read)
 * is not one of them.  Creates race a thread that refreshes without end. */
Test(queue, refresh_keeps_a_queue_added_after_it_began)
{
    struct refresher r = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, refresh_loop, &r), 0);
    int lost = 0;
    char name[32];
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof name, "race-%d", i);
        make(name, 30, NULL, 0);
        for (int k = 0; k < 20; k++) usleep(50); /* a few refreshes while it is new */
        for (int k = 0; k <= i; k++) {
            snprintf(name, sizeof name, "race-%d", k);
            if (!queue_find(qs, name)) lost++;
        }
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    cr_expect_eq(lost, 0, "queues dropped by a refresh that began before they were created (%d refreshes)",
                 r.refreshes);

    /* a queue deleted through one registry leaves another (its refresh,
     * on the deletion's signal, does not read it any more) */
    queue_sys *other;
    cr_assert_eq(queue_sys_open(st, &other), 0);
    struct cr c = {.name = "made"};
    queue_attrs_init(&c.a);
    cr_assert_eq(store_run(st, create_unit, &c), 0);
    cr_assert_eq(c.created, 1);
    cr_assert_eq(queue_sys_refresh(other), 0);
    cr_assert_not_null(queue_find(other, "made"));
    struct del_op d = {queue_find(qs, "made")};
    cr_assert_not_null(d.q);
    cr_assert_eq(store_run(st, delete_queue_unit, &d), 0);
    cr_assert_eq(queue_sys_refresh(other), 0);
    cr_expect_null(queue_find(other, "made"), "deleted elsewhere");
    cr_expect_not_null(queue_find(other, "race-0"));
    queue_sys_close(other);
}

/* A receive whose batch does not commit (an injected write fault fails the
 * COMMIT's WAL write) leases nothing: queue_receive_wait answers the
 * commit's error with no messages, having released what the rolled-back
 * unit read (ASan's fault loop found them leaked). */
Test(queue_faults, a_receive_whose_commit_fails_returns_no_messages, .timeout = 60)
{
    if (test_pg()) cr_skip_test("fault injection is SQLite's (store/faults.c)");
    cr_assert_eq(setenv("ORDERLY_FAULT", "write:1", 1), 0);
    cr_assert_eq(faults_install(), 0, "before any other use of SQLite");
    setup();
    queue *q = make("qf", 30, NULL, 0);
    cr_assert_eq(send(q, "hello"), 0);
    faults_arm(); /* the next file write fails: the receive's commit */
    queue_msg m[4];
    int n = -1;
    int rc = queue_receive_wait(qs, q, 4, -1, 0, m, &n);
    cr_assert_neq(rc, 0, "the commit failed");
    cr_assert_eq(n, 0, "%d messages handed out of a receive that rolled back", n);
    teardown();
}
