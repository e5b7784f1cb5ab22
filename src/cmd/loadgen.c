/* loadgen.c - `orderly loadgen`: orders of a mix of kinds at a fixed rate
 * for a bounded time against a running server, a progress line every
 * second and a summary (see cli/orderload.h for the kinds). */
#include "cli/orderload.h"
#include "cmd/cmd.h"
#include "lib/str.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOADGEN_MIX_DEFAULT "valid=90,fail=2,declined=5,oos=3"

static const cli_flag flags[] = {
    {"rate", "R", "orders per second (default 50)"},
    {"duration", "D", "how long: 30, 30s, 2m (default 10s)"},
    {"mix", "MIX", "kinds and weights (default " LOADGEN_MIX_DEFAULT ")"},
    {"connections", "N", "requests in flight at most (default 32)"},
    {"customer", "ID", "customerId prefix; orders of kind K get ID-K (default loadgen)"},
    {0, 0, 0},
};

static const cli_spec spec = {
    "loadgen [--rate R] [--duration D] [--mix valid=90,fail=2,declined=5,oos=3] [--connections N] "
    "[--url URL]",
    "Sends orders at R per second for D (scheduled at fixed times: latency counts from when a "
    "request\n"
    "was due, so a slow server shows in it).  Kinds: valid (completes), fail (sku FAIL-ME: "
    "retried,\n"
    "then dead-lettered), declined (tok_chargeDeclined: PAYMENT_FAILED), oos (a product without\n"
    "stock: REJECTED).  The products loadgen-1 (restocked to 10^9) and loadgen-oos (stock 0) are\n"
    "created first.  Prints a progress line every second and a summary with counts per kind and\n"
    "latency percentiles.  Exit 1 when the server cannot be reached or nothing was answered.",
    0, 0, flags};

static void progress(void *arg, int second, const load_stats *s)
{
    printf("[%3ds] sent %lld  accepted %lld  rejected %lld  other %lld  errors %lld  in flight %d  "
           "p50 %.2f ms  "
           "p99 %.2f ms\n",
           second, (long long)s->sent, (long long)s->ok, (long long)s->client, (long long)s->server,
           (long long)s->errors, s->inflight, load_hist_ms(&s->lat, 0.5),
           load_hist_ms(&s->lat, 0.99));
    fflush(stdout);
}

int cmd_loadgen(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &spec, "loadgen", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    long long conns;
    double rate, duration;
    char customer[80];
    ol_run r = {.prefix = "loadgen", .progress = progress};
    const char *mix = cli_opt(&c, "mix") ? cli_opt(&c, "mix") : LOADGEN_MIX_DEFAULT;
    const char *cust = cli_opt(&c, "customer") ? cli_opt(&c, "customer") : "loadgen";
    if ((rc = cli_opt_double(&c, "rate", 0.001, LIMIT_CLI_RATE_MAX, 50, &rate)) ||
        (rc = cli_opt_seconds(&c, "duration", 0.1, LIMIT_CLI_DURATION_S_MAX, 10, &duration)) ||
        (rc = cli_opt_int(&c, "connections", 1, LIMIT_CLI_CONCURRENCY_MAX, 32, &conns)) ||
        (rc = ol_mix_parse(&c, mix, r.weights)))
        goto out;
    if (strlen(cust) > 50 ||
        strspn(cust, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            strlen(cust)) {
        rc = cli_usage_error(&c, "--customer must be 1-50 of [A-Za-z0-9_.-]");
        goto out;
    }
    str_copy(customer, sizeof customer, cust);
    r.customer = customer;
    if ((rc = ol_products(&c, r.prefix))) goto out;
    printf("loadgen: %g orders/s for %g s, mix %s, %lld connections, %s\n", rate, duration, mix,
           conns, c.url);
    fflush(stdout);
    if ((rc = ol_send(&c, &r, rate, duration, (int)conns))) goto out;

    ol_counts t = {0};
    for (int k = 0; k < OL_KINDS; k++) {
        t.sent += r.by_kind[k].sent;
        t.accepted += r.by_kind[k].accepted;
        t.rejected += r.by_kind[k].rejected;
        t.other += r.by_kind[k].other;
        t.errors += r.by_kind[k].errors;
    }
    const load_stats *s = &r.total;
    printf("summary: %.1f s, sent %lld, accepted %lld (202), rejected %lld (4xx), other %lld, "
           "errors %lld, "
           "not sent in time %lld, %.1f answers/s\n",
           s->seconds, (long long)t.sent, (long long)t.accepted, (long long)t.rejected,
           (long long)t.other, (long long)t.errors, (long long)s->unsent,
           s->seconds > 0 ? (double)(s->ok + s->client + s->server) / s->seconds : 0.0);
    printf("latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           load_hist_ms(&s->lat, 0.5), load_hist_ms(&s->lat, 0.9), load_hist_ms(&s->lat, 0.99),
           (double)s->lat.max_us / 1000.0);
    static const char *const head[] = {"KIND", "SENT", "ACCEPTED", "REJECTED", "OTHER", "ERRORS"};
    cli_table tab;
    cli_table_init(&tab, 6, 0x3e, head);
    for (int k = 0; k < OL_KINDS; k++) {
        if (!r.weights[k]) continue;
        char v[5][24];
        const ol_counts *n = &r.by_kind[k];
        snprintf(v[0], 24, "%lld", (long long)n->sent);
        snprintf(v[1], 24, "%lld", (long long)n->accepted);
        snprintf(v[2], 24, "%lld", (long long)n->rejected);
        snprintf(v[3], 24, "%lld", (long long)n->other);
        snprintf(v[4], 24, "%lld", (long long)n->errors);
        const char *row[] = {ol_kind_name[k], v[0], v[1], v[2], v[3], v[4]};
        cli_table_add(&tab, row);
    }
    cli_table_print(&tab, stdout);
    cli_table_release(&tab);
    rc = t.sent && t.errors == t.sent ? CMD_FAIL : CMD_OK;
out:
    cli_release(&c);
    return rc;
}
