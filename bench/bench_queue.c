/* bench_queue.c - durable send + receive + delete through the store,
 * in-process, with group commit, beside a one-commit-per-message baseline.
 *
 *   bench_queue [--messages N] [--producers P] [--consumers C] [--batch B] [--mode threads|async|single]
 *
 * group:  P producer threads send batches of B messages (one unit each), C
 *         consumer threads receive up to 10 and delete them in one unit.
 * async:  the same work as chains of completions (what the HTTP layer and
 *         the function pollers do): P send chains and C consumer chains, each
 *         submitting its next unit from the previous one's completion.
 * single: one thread, one message per unit, batch_max 1: send, then receive
 *         and delete, each its own transaction and fsync (the baseline).
 * Prints one line: mode, messages, seconds, messages/s, commits, mean batch.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "queue/queue.h"

static store *st;
static queue_sys *qs;
static queue *q;
static int total, batch = 10;
static _Atomic int sent_n, done_n;
static const char body[] = "{\"orderId\":\"ord-000123\",\"customerId\":\"c-42\",\"items\":[{\"sku\":\"prod-001\",\"qty\":2}]}";

static int send_unit(store_conn *tx, void *arg)
{
    int k = *(int *)arg;
    for (int i = 0; i < k; i++) {
        int rc = queue_send_tx(tx, qs, q, body, sizeof body - 1, NULL, 0, NULL);
        if (rc) return rc;
    }
    return 0;
}

struct rd {
    queue_msg m[10];
    int n;
};

static int recv_unit(store_conn *tx, void *arg)
{
    struct rd *r = arg;
    return queue_receive_tx(tx, qs, q, 10, 30, r->m, &r->n);
}

static int del_unit(store_conn *tx, void *arg)
{
    struct rd *r = arg;
    for (int i = 0; i < r->n; i++) {
        int rc = queue_delete_tx(tx, qs, q, r->m[i].receipt);
        if (rc) return rc;
    }
    return 0;
}

static void *producer(void *arg)
{
    (void)arg;
    for (;;) {
        int k = batch;
        int start = atomic_fetch_add(&sent_n, k);
        if (start >= total) break;
        if (start + k > total) k = total - start;
        int rc = store_run(st, send_unit, &k);
        if (rc) {
            fprintf(stderr, "send: %s\n", err_name(rc));
            exit(1);
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    while (atomic_load(&done_n) < total) {
        struct rd r;
        int rc = 0;
        r.n = 0;
        rc = queue_receive_wait(qs, q, 10, 30, 200, r.m, &r.n);
        if (rc) {
            fprintf(stderr, "receive: %s\n", err_name(rc));
            exit(1);
        }
        if (!r.n) continue;
        if ((rc = store_run(st, del_unit, &r))) {
            fprintf(stderr, "delete: %s\n", err_name(rc));
            exit(1);
        }
        atomic_fetch_add(&done_n, r.n);
        for (int i = 0; i < r.n; i++) queue_msg_release(&r.m[i]);
    }
    return NULL;
}

/* ---- async chains ---- */
static pthread_mutex_t fin_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fin_cv = PTHREAD_COND_INITIALIZER;

static void finish_check(void)
{
    if (atomic_load(&done_n) >= total) {
        pthread_mutex_lock(&fin_mu);
        pthread_cond_signal(&fin_cv);
        pthread_mutex_unlock(&fin_mu);
    }
}

struct chain {
    int k;
    struct rd r;
    uint64_t seq;
};

static void must(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "%s: %s\n", what, err_name(rc));
        exit(1);
    }
}

static void send_done(void *arg, int rc);
static void send_next(struct chain *c)
{
    int start = atomic_fetch_add(&sent_n, batch);
    if (start >= total) return;
    c->k = start + batch > total ? total - start : batch;
    must(store_submit(st, send_unit, send_done, &c->k), "submit send");
}
static void send_done(void *arg, int rc)
{
    must(rc, "send");
    send_next((struct chain *)((char *)arg - offsetof(struct chain, k)));
}

static void recv_done(void *arg, int rc);
static int recv_seq_unit(store_conn *tx, void *arg)
{
    struct chain *c = arg;
    c->seq = queue_wake_seq(q);
    return recv_unit(tx, &c->r);
}
static void recv_next(struct chain *c)
{
    if (atomic_load(&done_n) >= total) return;
    must(store_submit(st, recv_seq_unit, recv_done, c), "submit receive");
}
static void woken(void *arg, int timed_out)
{
    recv_next(arg);
}
static void del_done(void *arg, int rc)
{
    struct chain *c = arg;
    must(rc, "delete");
    for (int i = 0; i < c->r.n; i++) queue_msg_release(&c->r.m[i]);
    atomic_fetch_add(&done_n, c->r.n);
    finish_check();
    recv_next(c);
}
static int del_chain_unit(store_conn *tx, void *arg)
{
    return del_unit(tx, &((struct chain *)arg)->r);
}
static void recv_done(void *arg, int rc)
{
    struct chain *c = arg;
    must(rc, "receive");
    if (c->r.n) {
        must(store_submit(st, del_chain_unit, del_done, c), "submit delete");
        return;
    }
    if (atomic_load(&done_n) >= total) return;
    must(queue_wait(qs, q, c->seq, clock_mono_ms() + 1000, woken, c), "wait");
}

static void run_async(int producers, int consumers)
{
    static struct chain ch[256];
    for (int i = 0; i < consumers; i++) recv_next(&ch[i]);
    for (int i = 0; i < producers; i++) send_next(&ch[128 + i]);
    pthread_mutex_lock(&fin_mu);
    while (atomic_load(&done_n) < total) pthread_cond_wait(&fin_cv, &fin_mu);
    pthread_mutex_unlock(&fin_mu);
}

int main(int argc, char **argv)
{
    int producers = 4, consumers = 4, single = 0, async = 0;
    total = 200000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--messages") && i + 1 < argc) total = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--producers") && i + 1 < argc) producers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--consumers") && i + 1 < argc) consumers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            i++;
            single = !strcmp(argv[i], "single");
            async = !strcmp(argv[i], "async");
        }
        else {
            fprintf(stderr, "usage: bench_queue [--messages N] [--producers P] [--consumers C] [--batch B] [--mode threads|async|single]\n");
            return 2;
        }
    }
    id_init();
    char dir[] = "/tmp/orderly-bench-XXXXXX", path[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/bench.db", dir);
    store_opts o = {.path = path, .batch_max = single ? 1 : 0};
    if (store_open(&st, &o) || queue_sys_open(st, &qs)) return 1;
    queue_attrs a;
    queue_attrs_init(&a);
    if (queue_declare(qs, "bench", &a, 0)) return 1;
    q = queue_find(qs, "bench");

    int64_t t0 = clock_mono_us();
    if (single) {
        int one = 1;
        for (int i = 0; i < total; i++) {
            struct rd r;
            if (store_run(st, send_unit, &one) || store_run(st, recv_unit, &r) || r.n != 1 ||
                store_run(st, del_unit, &r))
                return 1;
            queue_msg_release(&r.m[0]);
        }
    } else if (async) {
        run_async(producers > 128 ? 128 : producers, consumers > 128 ? 128 : consumers);
    } else {
        pthread_t th[128];
        int n = 0;
        for (int i = 0; i < consumers; i++) pthread_create(&th[n++], NULL, consumer, NULL);
        for (int i = 0; i < producers; i++) pthread_create(&th[n++], NULL, producer, NULL);
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    }
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    store_stats_t s;
    store_stats(st, &s);
    queue_stats qst;
    queue_stats_get(qs, q, &qst);
    printf("mode=%s messages=%d seconds=%.3f msgs_per_s=%.0f commits=%llu mean_batch=%.1f left=%lld\n",
           single ? "single" : async ? "async" : "threads", total, secs, total / secs, (unsigned long long)s.commits,
           s.commits ? (double)s.units / (double)s.commits : 0.0,
           (long long)(qst.visible + qst.in_flight + qst.delayed));
    queue_sys_close(qs);
    store_close(st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
