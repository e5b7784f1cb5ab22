/* bench_backlog.c - the cost of a large queue: receive + delete with a
 * small backlog against the same with a large one, in-process through the
 * store (SQLite file or PostgreSQL URL).
 *
 *   bench_backlog --db PATH|URL [--small N] [--large N] [--measure N] [--consumers C]
 *
 * For each backlog (small, then large) a fresh queue is filled with that
 * many messages (sends of 1,000 per unit, group-committed), then C consumer
 * threads receive up to 10 at a time and delete them in one unit each; the
 * time to take the first --measure messages (less than the small backlog,
 * so the queue never runs dry) gives messages/s.  Prints one line per
 * backlog: backlog, fill seconds, receive messages/s.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "queue/queue.h"

#define FILL_PER_UNIT 1000

static store *st;
static queue_sys *qs;
static queue *q;
static int measure = 20000;
static _Atomic int taken;
static const char body[] = "{\"orderId\":\"ord-000123\",\"customerId\":\"c-42\",\"items\":[{\"sku\":\"prod-001\",\"qty\":2}]}";

static int fill_unit(store_conn *tx, void *arg)
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
    return queue_receive_tx(tx, qs, q, 10, 60, r->m, &r->n);
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

static void *consumer(void *arg)
{
    (void)arg;
    while (atomic_load(&taken) < measure) {
        struct rd r = {.n = 0};
        int rc = store_run(st, recv_unit, &r);
        if (rc) {
            fprintf(stderr, "receive: %s\n", err_name(rc));
            exit(1);
        }
        if (!r.n) continue;
        if ((rc = store_run(st, del_unit, &r))) {
            fprintf(stderr, "delete: %s\n", err_name(rc));
            exit(1);
        }
        atomic_fetch_add(&taken, r.n);
        for (int i = 0; i < r.n; i++) queue_msg_release(&r.m[i]);
    }
    return NULL;
}

static void run(const char *name, int backlog, int consumers)
{
    queue_attrs a;
    queue_attrs_init(&a);
    if (queue_declare(qs, name, &a, 0) || !(q = queue_find(qs, name))) {
        fprintf(stderr, "cannot declare %s\n", name);
        exit(1);
    }
    int64_t t0 = clock_mono_us();
    for (int left = backlog; left > 0;) {
        int k = left < FILL_PER_UNIT ? left : FILL_PER_UNIT;
        int rc = store_run(st, fill_unit, &k);
        if (rc) {
            fprintf(stderr, "fill: %s\n", err_name(rc));
            exit(1);
        }
        left -= k;
    }
    double fill_s = (double)(clock_mono_us() - t0) / 1e6;
    atomic_store(&taken, 0);
    pthread_t th[64];
    t0 = clock_mono_us();
    for (int i = 0; i < consumers; i++) pthread_create(&th[i], NULL, consumer, NULL);
    for (int i = 0; i < consumers; i++) pthread_join(th[i], NULL);
    double s = (double)(clock_mono_us() - t0) / 1e6;
    int n = atomic_load(&taken);
    printf("backend=%s backlog=%d fill_seconds=%.1f received=%d seconds=%.2f receive_msgs_per_s=%.0f\n",
           store_backend_name(st), backlog, fill_s, n, s, n / s);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    int small = 30000, large = 1000000, consumers = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc) db = argv[++i];
        else if (!strcmp(argv[i], "--small") && i + 1 < argc) small = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--large") && i + 1 < argc) large = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--measure") && i + 1 < argc) measure = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--consumers") && i + 1 < argc) consumers = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_backlog --db PATH|URL [--small N] [--large N] [--measure N] [--consumers C]\n");
            return 2;
        }
    }
    if (!db || measure >= small || consumers < 1 || consumers > 64) {
        fprintf(stderr, "bench_backlog: --db is needed, --measure must be below --small, consumers 1..64\n");
        return 2;
    }
    id_init();
    store_opts o = {.path = db};
    if (store_open(&st, &o) || queue_sys_open(st, &qs)) return 1;
    run("bench-small", small, consumers);
    run("bench-large", large, consumers);
    queue_sys_close(qs);
    store_close(st);
    return 0;
}
