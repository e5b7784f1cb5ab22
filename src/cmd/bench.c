/* bench.c - `orderly bench`: the measurements of issues 2 and 3 against a
 * running server, one table.
 *
 *   P1 durable intake: closed-loop POST /api/orders on N connections.
 *   P2 end-to-end throughput: offered rates P1*k/8 (k = 1..8), each for D;
 *      a rate is sustained when, right after its step, fewer than rate/2
 *      of its orders (half a second of work) are not yet COMPLETED.  P2 is
 *      the completions per second of the highest sustained step.
 *   P3 accept -> COMPLETED latency at half of P2's rate: completedAt -
 *      createdAt of the step's orders, read back through the API (server
 *      timestamps, as bench/orders.sh reads them from the database).
 *   P4 queue send + receive + delete over HTTP: N/2 producers sending
 *      batches of 10, N/2 consumers receiving 10 (long poll 1 s) and
 *      deleting them as a batch, closed loop, on the queue orderly-bench-p4.
 * Orders use the products bench-1 (restocked to 10^9) with tok_visa.  All
 * load goes through the engine of cli/load.h, as loadgen's does.  Between
 * phases the bench waits for the orders pipeline to drain (PENDING and
 * RESERVED back to where they were, from GET /api/stats).  Meant for a
 * server that serves nothing else meanwhile.
 */
#include "cli/orderload.h"
#include "cmd/cmd.h"
#include "lib/clock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LADDER_STEPS  8
#define P4_QUEUE      "orderly-bench-p4"
#define P4_BODY_BYTES 100
#define DRAIN_POLL_US 200000

static const cli_flag flags[] = {
    {"duration", "D", "length of P1, P3, P4 and of each P2 step (default 10s)"},
    {"connections", "N", "connections of P1 and P4 (default 64)"},
    {0, 0, 0},
};

static const cli_spec spec = {
    "bench [--duration D] [--connections N] [--url URL]",
    "Measures against the running server and prints one table:\n"
    "  P1  durable intake: closed-loop POST /api/orders on N connections (orders/s, latency)\n"
    "  P2  end-to-end accept -> COMPLETED throughput: the highest sustained rate of a ladder\n"
    "      (P1*k/8, k = 1..8, each for D; sustained = under half a second of work left after it)\n"
    "  P3  accept -> COMPLETED latency at half of P2's rate (server timestamps, via the API)\n"
    "  P4  queue send + receive + delete over HTTP (N/2 producers, N/2 consumers, batches of 10)\n"
    "It creates orders (products bench-1, tok_visa) and the queue " P4_QUEUE ", and takes about\n"
    "12 x D plus the time the server needs to finish the orders between phases.  Run it against a\n"
    "server that serves nothing else meanwhile.",
    0, 0, flags};

/* ---- order pipeline state, from GET /api/stats --------------------------------- */

static int stats(cli *c, long long *completed, long long *open)
{
    json_t *r;
    int rc = cli_call(c, "GET", "/api/stats", NULL, &r);
    if (rc) return rc;
    const json_t *by = json_object_get(r, "orders_by_status");
    *completed = json_integer_value(json_object_get(by, "COMPLETED"));
    *open = json_integer_value(json_object_get(by, "PENDING")) +
            json_integer_value(json_object_get(by, "RESERVED"));
    json_decref(r);
    return 0;
}

/* Waits until the open orders are back to baseline: 0, or CMD_FAIL (printed)
 * when that did not happen within LIMIT_CLI_DRAIN_S_MAX. */
static int drain(cli *c, long long baseline)
{
    int64_t until = clock_mono_us() + (int64_t)LIMIT_CLI_DRAIN_S_MAX * 1000000;
    long long done, open;
    for (;;) {
        if (stats(c, &done, &open)) return CMD_FAIL;
        if (open <= baseline) return 0;
        if (clock_mono_us() > until) {
            fprintf(stderr, "orderly bench: %lld orders still open after %d s\n", open - baseline,
                    LIMIT_CLI_DRAIN_S_MAX);
            return CMD_FAIL;
        }
        usleep(DRAIN_POLL_US);
    }
}

static int send_orders(cli *c, const char *customer, double rate, double secs, int conns, ol_run *r)
{
    memset(r, 0, sizeof *r);
    r->prefix = "bench";
    r->customer = customer;
    r->weights[OL_VALID] = 1;
    return ol_send(c, r, rate, secs, conns);
}

/* ---- P3: latencies read back ------------------------------------------------------ */

static void add_latency(void *arg, const json_t *o)
{
    int64_t t0, t1;
    const char *a = json_string_value(json_object_get(o, "createdAt"));
    const char *b = json_string_value(json_object_get(o, "completedAt"));
    if (a && b && !clock_parse_iso(a, &t0) && !clock_parse_iso(b, &t1))
        load_hist_add(arg, (t1 - t0) * 1000);
}

/* ---- P4: queue producers and consumers ---------------------------------------------- */

enum { P4_SEND, P4_RECEIVE, P4_DELETE };

typedef struct p4_slot {
    int phase;
    char body[4096]; /* the delete batch */
} p4_slot;

typedef struct p4 {
    int producers;
    char send_path[128], recv_path[128], del_path[128];
    char send_body[2048];
    int64_t sent, received, deleted;
    p4_slot *s;
} p4;

static int p4_next(void *ctx, int slot, load_req *req)
{
    p4 *b = ctx;
    p4_slot *s = &b->s[slot];
    static const char recv[] = "{\"maxNumberOfMessages\":10,\"waitTimeSeconds\":1}";
    req->method = "POST";
    req->tag = slot < b->producers ? P4_SEND : s->phase;
    if (req->tag == P4_SEND) {
        req->path = b->send_path;
        req->body = b->send_body;
    } else if (req->tag == P4_RECEIVE) {
        req->path = b->recv_path;
        req->body = recv;
    } else {
        req->path = b->del_path;
        req->body = s->body;
    }
    req->body_len = strlen(req->body);
    return 0;
}

static void p4_done(void *ctx, int slot, const load_req *req, long status, const char *body,
                    size_t len)
{
    p4 *b = ctx;
    p4_slot *s = &b->s[slot];
    s->phase = P4_RECEIVE;
    json_t *r = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    if (!r) return;
    if (req->tag == P4_SEND) {
        b->sent += (int64_t)json_array_size(json_object_get(r, "successful"));
    } else if (req->tag == P4_DELETE) {
        b->deleted += (int64_t)json_array_size(json_object_get(r, "successful"));
    } else {
        json_t *msgs = json_object_get(r, "messages"), *m;
        size_t i, n = json_array_size(msgs);
        b->received += (int64_t)n;
        int k = snprintf(s->body, sizeof s->body, "{\"entries\":[");
        json_array_foreach(msgs, i, m)
        {
            const char *h = json_string_value(json_object_get(m, "receiptHandle"));
            k += snprintf(s->body + k, sizeof s->body - (size_t)k,
                          "%s{\"id\":\"%zu\",\"receiptHandle\":\"%s\"}", i ? "," : "", i,
                          h ? h : "");
        }
        snprintf(s->body + k, sizeof s->body - (size_t)k, "]}");
        if (n && (size_t)k < sizeof s->body - 2) s->phase = P4_DELETE;
    }
    json_decref(r);
}

static int p4_run(cli *c, double secs, int conns, p4 *b, load_stats *st)
{
    long status;
    json_t *r = NULL, *q = json_pack("{s:s}", "name", P4_QUEUE);
    int rc = cli_http(c, "POST", "/api/queues", q, 0, &status, &r);
    json_decref(q);
    if (!rc && status != 200 && status != 201 && status != 409) {
        cli_print_problem(status, r);
        rc = CMD_FAIL;
    }
    json_decref(r);
    if (rc) return rc;
    snprintf(b->send_path, sizeof b->send_path, "/api/queues/%s/messages/batch", P4_QUEUE);
    snprintf(b->recv_path, sizeof b->recv_path, "/api/queues/%s/receive", P4_QUEUE);
    snprintf(b->del_path, sizeof b->del_path, "/api/queues/%s/messages/delete", P4_QUEUE);
    char purge[128];
    snprintf(purge, sizeof purge, "/api/queues/%s/purge", P4_QUEUE);
    if ((rc = cli_call(c, "POST", purge, NULL, NULL))) return rc;
    int k = snprintf(b->send_body, sizeof b->send_body, "{\"entries\":[");
    for (int i = 0; i < 10; i++)
        k += snprintf(b->send_body + k, sizeof b->send_body - (size_t)k,
                      "%s{\"id\":\"%d\",\"body\":\"%0*d\"}", i ? "," : "", i, P4_BODY_BYTES, i);
    snprintf(b->send_body + k, sizeof b->send_body - (size_t)k, "]}");
    if (conns < 2) conns = 2;
    b->producers = conns / 2;
    b->s = calloc((size_t)conns, sizeof *b->s);
    if (!b->s) return CMD_FAIL;
    for (int i = 0; i < conns; i++)
        b->s[i].phase = P4_RECEIVE;
    load_plan p = {.url = c->url,
                   .rate = 0,
                   .duration_s = secs,
                   .concurrency = conns,
                   .timeout_ms = c->timeout_ms,
                   .next = p4_next,
                   .done = p4_done,
                   .ctx = b};
    rc = load_run(&p, st) ? CMD_FAIL : 0;
    free(b->s);
    b->s = NULL;
    if (!rc) rc = cli_call(c, "POST", purge, NULL, NULL);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------ */

static void row(cli_table *t, const char *id, const char *what, const char *result,
                const char *detail)
{
    const char *r[] = {id, what, result, detail};
    cli_table_add(t, r);
}

int cmd_bench(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &spec, "bench", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    double secs;
    long long conns, done0, open0, done1, open1;
    if ((rc = cli_opt_seconds(&c, "duration", 0.5, LIMIT_CLI_DURATION_S_MAX, 10, &secs)) ||
        (rc = cli_opt_int(&c, "connections", 1, LIMIT_CLI_CONCURRENCY_MAX, 64, &conns)))
        goto out;
    int64_t t_start = clock_mono_us();
    if ((rc = ol_products(&c, "bench")) || (rc = stats(&c, &done0, &open0))) goto out;
    static const char *const head[] = {"", "MEASURE", "RESULT", "DETAIL"};
    cli_table t;
    cli_table_init(&t, 4, 0x4, head);
    char what[160], res[64], det[256];
    ol_run r;

    /* P1 */
    printf("bench: P1 intake, %lld connections, %g s ...\n", conns, secs);
    fflush(stdout);
    if ((rc = send_orders(&c, "bench-p1", 0, secs, (int)conns, &r))) goto table;
    const load_stats *s = &r.total;
    double p1 = s->seconds > 0 ? (double)r.by_kind[OL_VALID].accepted / s->seconds : 0;
    snprintf(what, sizeof what, "intake: POST /api/orders, closed loop, %lld connections", conns);
    snprintf(res, sizeof res, "%.0f orders/s", p1);
    snprintf(det, sizeof det, "p50 %.2f ms, p99 %.2f ms, %lld not accepted, %lld errors",
             load_hist_ms(&s->lat, 0.5), load_hist_ms(&s->lat, 0.99),
             (long long)(s->client + s->server), (long long)s->errors);
    row(&t, "P1", what, res, det);
    if (p1 < 1) {
        fprintf(stderr, "orderly bench: P1 accepted no orders\n");
        rc = CMD_FAIL;
        goto table;
    }

    /* P2 */
    double best = 0, best_done = 0;
    for (int k = 1; k <= LADDER_STEPS; k++) {
        double rate = p1 * k / LADDER_STEPS;
        if (rate < 1) rate = 1;
        if ((rc = drain(&c, open0)) || (rc = stats(&c, &done0, &open1))) goto table;
        printf("bench: P2 step %d/%d, offered %.0f orders/s for %g s ...\n", k, LADDER_STEPS, rate,
               secs);
        fflush(stdout);
        if ((rc = send_orders(&c, "bench-p2", rate, secs, (int)conns, &r)) ||
            (rc = stats(&c, &done1, &open1)))
            goto table;
        long long backlog = r.by_kind[OL_VALID].accepted - (done1 - done0);
        printf("bench:   %lld accepted, %lld completed, %lld not yet\n",
               (long long)r.by_kind[OL_VALID].accepted, done1 - done0, backlog);
        if (backlog >= rate / 2) break;
        best = rate;
        best_done = (double)(done1 - done0) / r.total.seconds;
    }
    snprintf(what, sizeof what, "end to end: accepted -> COMPLETED, highest sustained rate");
    snprintf(res, sizeof res, "%.0f orders/s", best_done);
    if (best > 0)
        snprintf(det, sizeof det, "offered %.0f/s for %g s (ladder P1*k/8)", best, secs);
    else
        snprintf(det, sizeof det, "no step of the ladder was sustained");
    row(&t, "P2", what, res, det);

    /* P3 */
    double rate = best > 0 ? best / 2 : p1 / (2 * LADDER_STEPS);
    if (rate < 1) rate = 1;
    char customer[64];
    snprintf(customer, sizeof customer, "bench-p3-%ld%ld", (long)getpid(),
             (long)time(NULL) % 100000);
    if ((rc = drain(&c, open0))) goto table;
    printf("bench: P3 latency at %.0f orders/s for %g s ...\n", rate, secs);
    fflush(stdout);
    if ((rc = send_orders(&c, customer, rate, secs, (int)conns, &r)) || (rc = drain(&c, open0)))
        goto table;
    char valid_customer[80];
    snprintf(valid_customer, sizeof valid_customer, "%s-valid", customer);
    load_hist *lat = calloc(1, sizeof *lat);
    char query[128] = "";
    if (!lat || (rc = cli_query_add(&c, query, sizeof query, "customerId", valid_customer)) ||
        (rc = cli_orders_each(&c, query, LIMIT_CLI_LIST_MAX, add_latency, lat))) {
        free(lat);
        rc = CMD_FAIL;
        goto table;
    }
    snprintf(what, sizeof what, "latency accept -> COMPLETED at %.0f orders/s (half of P2)", rate);
    snprintf(res, sizeof res, "p50 %.0f ms", load_hist_ms(lat, 0.5));
    snprintf(det, sizeof det, "p90 %.0f ms, p99 %.0f ms, max %.0f ms, %llu orders",
             load_hist_ms(lat, 0.9), load_hist_ms(lat, 0.99), (double)lat->max_us / 1000,
             (unsigned long long)lat->n);
    free(lat);
    row(&t, "P3", what, res, det);

    /* P4 */
    printf("bench: P4 queue send + receive + delete, %lld connections, %g s ...\n", conns, secs);
    fflush(stdout);
    p4 b = {0};
    load_stats st;
    if ((rc = p4_run(&c, secs, (int)conns, &b, &st))) goto table;
    snprintf(what, sizeof what,
             "queue send + receive + delete over HTTP, %d producers, %d consumers, batches of 10",
             b.producers, (int)(conns < 2 ? 2 : conns) - b.producers);
    snprintf(res, sizeof res, "%.0f msgs/s", (double)b.deleted / st.seconds);
    snprintf(det, sizeof det, "sent %.0f msgs/s, received %.0f msgs/s, request p99 %.2f ms",
             (double)b.sent / st.seconds, (double)b.received / st.seconds,
             load_hist_ms(&st.lat, 0.99));
    row(&t, "P4", what, res, det);
table:
    printf("\n");
    cli_table_print(&t, stdout);
    printf("(%.0f s, %s)\n", (double)(clock_mono_us() - t_start) / 1e6, c.url);
    cli_table_release(&t);
out:
    cli_release(&c);
    return rc;
}
