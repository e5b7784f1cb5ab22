/* test_cluster.c - several nodes on one database (PostgreSQL): signals
 * after commit reach the other nodes and not the sender, one leader at a
 * time and a new one when it goes, a long poll on one node wakes at another
 * node's send well before the fallback poll, queues created on one node
 * appear on the other, nodes declaring the same topology at once all
 * succeed.  On SQLite: one node, always the leader, signals go nowhere. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "lib/limits.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "queue/queue.h"
#include "store/store.h"
#include "testutil.h"

static char db[512];

static void setup(void)
{
    id_init();
    snprintf(db, sizeof db, "%s", test_db_path("cluster.db"));
}

TestSuite(cluster, .init = setup, .timeout = 60);

static store *open_node(void)
{
    store *s;
    store_opts o = {.path = db};
    int rc = store_open(&s, &o);
    cr_assert_eq(rc, 0, "store_open: %s", err_name(rc));
    return s;
}

Test(cluster, one_sqlite_node_leads_and_shares_nothing)
{
    if (test_pg()) cr_skip_test("SQLite only");
    store *s = open_node();
    cr_expect_eq(store_is_shared(s), 0);
    cr_expect_eq(store_is_leader(s), 1);
    cr_expect_str_eq(store_backend_name(s), "sqlite");
    store_close(s);
}

struct sig_seen {
    _Atomic int n;
    _Atomic int64_t last;
};

static void on_sig(void *arg, int64_t key, uint32_t times)
{
    (void)times;
    struct sig_seen *x = arg;
    if (key < 0) return; /* "maybe missed": not what this test sends */
    atomic_store(&x->last, key);
    atomic_fetch_add(&x->n, 1);
}

static int signal_unit(store_conn *tx, void *arg)
{
    int64_t key = *(int64_t *)arg;
    int rc = store_signal_tx(tx, STORE_TOPIC_PRODUCTS, key);
    if (rc) return rc;
    return key == 13 ? ORD_ECONDITION : 0; /* 13 rolls back: its signal must not leave */
}

static int wait_for(_Atomic int *v, int want, int ms)
{
    for (int i = 0; i < ms && atomic_load(v) < want; i++) usleep(1000);
    return atomic_load(v);
}

Test(cluster, a_commit_signals_the_other_nodes_not_itself)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    store *a = open_node(), *b = open_node();
    cr_expect_eq(store_is_shared(a), 1);
    struct sig_seen sa = {0}, sb = {0};
    cr_assert_eq(store_signal_on(a, STORE_TOPIC_PRODUCTS, on_sig, &sa), 0);
    cr_assert_eq(store_signal_on(b, STORE_TOPIC_PRODUCTS, on_sig, &sb), 0);
    usleep(300 * 1000); /* both LISTEN */
    int64_t rolled = 13, key = 42;
    cr_assert_eq(store_run(a, signal_unit, &rolled), ORD_ECONDITION);
    cr_assert_eq(store_run(a, signal_unit, &key), 0);
    cr_assert_geq(wait_for(&sb.n, 1, 5000), 1, "node b heard nothing");
    cr_expect_eq(atomic_load(&sb.last), 42, "b got key %lld", (long long)atomic_load(&sb.last));
    usleep(200 * 1000);
    cr_expect_eq(atomic_load(&sb.n), 1, "b heard %d signals (the rolled-back unit's must not leave)",
                 atomic_load(&sb.n));
    cr_expect_eq(atomic_load(&sa.n), 0, "a heard its own signal");
    store_signal_off(a, STORE_TOPIC_PRODUCTS, on_sig, &sa);
    store_signal_off(b, STORE_TOPIC_PRODUCTS, on_sig, &sb);
    store_close(a);
    store_close(b);
}

static int leaders(store **n, int k)
{
    int l = 0;
    for (int i = 0; i < k; i++)
        if (n[i]) l += store_is_leader(n[i]);
    return l;
}

Test(cluster, one_leader_and_a_new_one_when_it_goes)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    store *n[3] = {open_node(), open_node(), open_node()};
    int l = 0;
    for (int i = 0; i < 3000 && (l = leaders(n, 3)) == 0; i++) usleep(1000);
    cr_assert_eq(l, 1, "leaders after start: %d", l);
    for (int i = 0; i < 1500; i++) { /* stays one for a while */
        cr_assert_eq(leaders(n, 3), 1);
        usleep(1000);
    }
    int who = store_is_leader(n[0]) ? 0 : store_is_leader(n[1]) ? 1 : 2;
    store_close(n[who]); /* its session ends: the lock is free */
    n[who] = NULL;
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < 5000 && (l = leaders(n, 3)) == 0; i++) usleep(1000);
    cr_assert_eq(l, 1, "leaders after the leader went: %d", l);
    cr_expect_leq(clock_mono_ms() - t0, 2 * LIMIT_PG_PING_MS + 500, "hand-over took %lld ms",
                  (long long)(clock_mono_ms() - t0));
    for (int i = 0; i < 3; i++) store_close(n[i]);
}

static queue *declare(queue_sys *qs, const char *name)
{
    queue_attrs a;
    queue_attrs_init(&a);
    int rc = queue_declare(qs, name, &a, 1);
    cr_assert_eq(rc, 0, "declare %s: %s", name, err_name(rc));
    queue *q = queue_find(qs, name);
    cr_assert_not_null(q);
    return q;
}

struct send_ctx {
    queue_sys *qs;
    queue *q;
};

static int send_unit(store_conn *tx, void *arg)
{
    struct send_ctx *c = arg;
    return queue_send_tx(tx, c->qs, c->q, "hello", 5, NULL, 0, NULL);
}

struct later {
    store *a;
    struct send_ctx *sc;
    int ms;
};

/* Sends on node a after ms. */
static void *send_later(void *arg)
{
    struct later *h = arg;
    usleep((useconds_t)h->ms * 1000);
    int rc = store_run(h->a, send_unit, h->sc);
    if (rc) fprintf(stderr, "send failed: %s\n", err_name(rc));
    return NULL;
}

Test(cluster, a_long_poll_wakes_at_another_nodes_send)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    store *a = open_node(), *b = open_node();
    queue_sys *qa, *qb;
    cr_assert_eq(queue_sys_open(a, &qa), 0);
    cr_assert_eq(queue_sys_open(b, &qb), 0);
    queue *q1 = declare(qa, "wake-me");
    /* b learns the queue from a's signal */
    queue *q2 = NULL;
    for (int i = 0; i < 3000 && !(q2 = queue_find(qb, "wake-me")); i++) usleep(1000);
    cr_assert_not_null(q2, "the queue created on a did not appear on b");
    usleep(300 * 1000);
    /* b waits up to 10 s; a sends after 300 ms: b must get it well before
     * the fallback poll could have found it by chance */
    struct send_ctx sc = {qa, q1};
    struct later h = {a, &sc, 300};
    queue_msg m[1];
    int n = 0;
    pthread_t th;
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(pthread_create(&th, NULL, send_later, &h), 0);
    int rc = queue_receive_wait(qb, q2, 1, 30, 10000, m, &n);
    int64_t took = clock_mono_ms() - t0;
    pthread_join(th, NULL);
    cr_assert_eq(rc, 0, "%s", err_name(rc));
    cr_assert_eq(n, 1, "b received nothing in %lld ms", (long long)took);
    cr_expect_lt(took, h.ms + LIMIT_PG_POLL_FALLBACK_MS / 2, "woke after %lld ms (send at %d)", (long long)took,
                 h.ms);
    cr_expect(memcmp(m[0].body, "hello", 5) == 0);
    queue_msg_release(&m[0]);
    queue_sys_close(qa);
    queue_sys_close(qb);
    store_close(a);
    store_close(b);
}

struct starter {
    queue_sys *qs;
    int rc;
    int round;
    pthread_barrier_t *bar;
};

static void *declare_all(void *arg)
{
    struct starter *s = arg;
    static const char *names[] = {"dlq", "orders", "payments", "notify"};
    char dlq[32];
    snprintf(dlq, sizeof dlq, "r%d-dlq", s->round);
    pthread_barrier_wait(s->bar);
    for (int i = 0; i < 4 && !s->rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d-%s", s->round, names[i]);
        queue_attrs a;
        queue_attrs_init(&a);
        if (i == 1) { /* with a redrive policy: its DLQ must be known */
            snprintf(a.dlq, sizeof a.dlq, "%s", dlq);
            a.max_receive = 5;
        }
        s->rc = queue_declare(s->qs, name, &a, 1);
    }
    return NULL;
}

/* Several rounds of three nodes declaring the same four queues at the same
 * moment (a barrier): every declare succeeds, each queue is one row, every
 * node knows all of them. */
Test(cluster, nodes_starting_together_declare_the_same_topology)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    enum { N = 3, ROUNDS = 5 };
    store *s[N];
    queue_sys *qs[N];
    pthread_t th[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    for (int i = 0; i < N; i++) {
        s[i] = open_node();
        cr_assert_eq(queue_sys_open(s[i], &qs[i]), 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        struct starter st[N];
        for (int i = 0; i < N; i++) {
            st[i] = (struct starter){qs[i], 0, r, &bar};
            pthread_create(&th[i], NULL, declare_all, &st[i]);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            cr_expect_eq(st[i].rc, 0, "round %d node %d: %s", r, i, err_name(st[i].rc));
        }
    }
    cr_expect_eq(test_db_scalar(db, "SELECT count(*) FROM queues"), 4 * ROUNDS, "one row per queue");
    for (int i = 0; i < N; i++) {
        cr_expect_eq(queue_count(qs[i]), 4 * ROUNDS, "node %d knows %d queues", i, queue_count(qs[i]));
        queue_sys_close(qs[i]);
        store_close(s[i]);
    }
    pthread_barrier_destroy(&bar);
}

static void noop_sig(void *arg, int64_t key, uint32_t times)
{
    (void)times;
    (void)arg;
    (void)key;
}

/* LIMIT_STORE_SIGNAL_HANDLERS handlers of one topic, not one more. */
Test(cluster, signal_handlers_per_topic_are_bounded)
{
    store *s = open_node();
    int args[LIMIT_STORE_SIGNAL_HANDLERS + 1];
    for (int i = 0; i < LIMIT_STORE_SIGNAL_HANDLERS; i++)
        cr_expect_eq(store_signal_on(s, STORE_TOPIC_PRODUCTS, noop_sig, &args[i]), 0, "handler %d", i);
    cr_expect_eq(store_signal_on(s, STORE_TOPIC_PRODUCTS, noop_sig, &args[LIMIT_STORE_SIGNAL_HANDLERS]), ORD_ELIMIT);
    store_signal_off(s, STORE_TOPIC_PRODUCTS, noop_sig, &args[0]);
    cr_expect_eq(store_signal_on(s, STORE_TOPIC_PRODUCTS, noop_sig, &args[LIMIT_STORE_SIGNAL_HANDLERS]), 0,
                 "a freed place is taken again");
    for (int i = 1; i <= LIMIT_STORE_SIGNAL_HANDLERS; i++) store_signal_off(s, STORE_TOPIC_PRODUCTS, noop_sig, &args[i]);
    store_close(s);
}

struct sig_all {
    _Atomic int keys, all;
};

static void count_sig(void *arg, int64_t key, uint32_t times)
{
    (void)times;
    struct sig_all *x = arg;
    atomic_fetch_add(key < 0 ? &x->all : &x->keys, 1);
}

static int many_signals_unit(store_conn *tx, void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        int rc = store_signal_tx(tx, STORE_TOPIC_PRODUCTS, 1000 + i);
        if (rc) return rc;
    }
    return 0;
}

/* One commit with LIMIT_PG_SIGNALS_MAX distinct signals: the other node
 * gets every one of them; with one more: a single "everything" (-1). */
Test(cluster, signals_beyond_the_limit_become_everything)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    store *a = open_node(), *b = open_node();
    struct sig_all x = {0};
    cr_assert_eq(store_signal_on(b, STORE_TOPIC_PRODUCTS, count_sig, &x), 0);
    usleep(300 * 1000);
    int n = LIMIT_PG_SIGNALS_MAX;
    cr_assert_eq(store_run(a, many_signals_unit, &n), 0);
    for (int i = 0; i < 5000 && atomic_load(&x.keys) < n; i++) usleep(1000);
    cr_expect_eq(atomic_load(&x.keys), n, "keys heard at the limit");
    usleep(LIMIT_PG_POLL_FALLBACK_MS * 1000 + 200 * 1000); /* let any other dispatch pass */
    atomic_store(&x.keys, 0);
    atomic_store(&x.all, 0);
    n = LIMIT_PG_SIGNALS_MAX + 1;
    cr_assert_eq(store_run(a, many_signals_unit, &n), 0);
    for (int i = 0; i < 5000 && !atomic_load(&x.all); i++) usleep(1000);
    cr_expect_eq(atomic_load(&x.all), 1, "one 'everything' past the limit");
    cr_expect_eq(atomic_load(&x.keys), 0, "no single keys past the limit");
    store_signal_off(b, STORE_TOPIC_PRODUCTS, count_sig, &x);
    store_close(a);
    store_close(b);
}
