/* metrics.c - GET /metrics and the collectors that mirror the modules'
 * own statistics into the registry at scrape time.
 *
 * Counters the modules keep as atomics (queue, function, bus, orders, store
 * statistics) are copied into counter series; gauges that need the database
 * (queue depths, orders by status, per-sku stock) are read with this
 * thread's reader connection.  HTTP request metrics are kept by the server
 * itself (server.c), function durations by the runtime (fn.c).  The
 * collector runs under the registry lock, so two scrapes never interleave.
 */
#include "lib/limits.h"
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


struct api_metrics {
    api *a;
    int64_t start_us; /* monotonic, at init */
    metric_series *uptime, *rss, *unconsumed;
    /* orders */
    metric_series *created, *finished[ORDER_TRANSITIONS], *payments[ORDERS_PAY_OUTCOMES];
    metric_series *reserved_ok, *reserved_short, *inventory[ORDERS_INV_OPS][2];
    metric_series *by_status[ORDER_STATUSES];
    metric_family *f_stock, *f_reserved, *f_available;
    /* bus */
    metric_series *published;
    metric_family *f_matched;
    /* queues */
    metric_family *f_visible, *f_in_flight, *f_delayed, *f_oldest, *f_sent, *f_received, *f_deleted,
        *f_moved, *f_dlq;
    /* functions */
    metric_family *f_invocations, *f_errors, *f_duplicates, *f_fenced;
    metric_series *leader, *db_up, *reconnects, *statements, *follow_batch, *follow_next, *backlog, *refused;
    /* store */
    metric_series *commit_batch, *commit_seconds, *units, *pending, *sync_failed;
};

/* ---- GET /metrics -------------------------------------------------------- */

int api_metrics_get(http_req *r)
{
    api *a = http_req_app(r);
    char *text = NULL;
    size_t len = 0;
    if (!a->metrics) return ORD_ENOTFOUND;
    int rc = metrics_render(a->metrics, &text, &len);
    if (rc) return rc;
    http_reply_header(r, "Cache-Control", "no-cache");
    http_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return 0;
}

/* ---- collectors ------------------------------------------------------------ */

static void collect_process(struct api_metrics *x)
{
    metric_set(x->uptime, (double)(clock_mono_us() - x->start_us) / 1e6);
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total, pages_resident;
    if (f && fscanf(f, "%ld %ld", &pages_total, &pages_resident) == 2)
        metric_set(x->rss, (double)pages_resident * (double)sysconf(_SC_PAGESIZE));
    if (f) fclose(f);
}

static void status_count(void *arg, order_status status, int64_t n)
{
    struct api_metrics *x = arg;
    metric_set(x->by_status[status], (double)n);
}

static void sku_stock(void *arg, const char *sku, int64_t stock, int64_t reserved)
{
    struct api_metrics *x = arg;
    metric_set(metric_series1(x->f_stock, sku), (double)stock);
    metric_set(metric_series1(x->f_reserved, sku), (double)reserved);
    metric_set(metric_series1(x->f_available, sku), (double)(stock - reserved));
}

/* The first transition row whose series is row i's. */
static int first_row(const struct api_metrics *x, int i)
{
    int j = 0;
    while (x->finished[j] != x->finished[i]) j++;
    return j;
}

static void collect_orders(struct api_metrics *x)
{
    orders *o = x->a->o;
    orders_counters c;
    orders_counters_get(o, &c);
    metric_set(x->created, (double)c.created);
    int gaps[ORDERS_STAGES];
    metric_set(x->unconsumed, (double)orders_pipeline_gaps(o, x->a->fs, 1, gaps));
    /* finished by {status, reason}: transitions from any status into the same
     * {status, reason} share one series, so they are summed into its first row */
    double finished[ORDER_TRANSITIONS] = {0};
    for (int i = 0; i < ORDER_TRANSITIONS; i++) finished[first_row(x, i)] += (double)c.transitions[i];
    for (int i = 0; i < ORDER_TRANSITIONS; i++)
        if (x->finished[i] && first_row(x, i) == i) metric_set(x->finished[i], finished[i]);
    for (int i = 0; i < ORDERS_PAY_OUTCOMES; i++)
        metric_set(x->payments[i], (double)c.payments[i]);
    metric_set(x->reserved_ok, (double)c.reservations_ok);
    metric_set(x->reserved_short, (double)c.reservations_short);
    for (int i = 0; i < ORDERS_INV_OPS; i++)
        for (int k = 0; k < 2; k++)
            metric_set(x->inventory[i][k], (double)c.inventory[i][k]);

    for (int i = 0; i < ORDER_STATUSES; i++) metric_set(x->by_status[i], 0);
    int rc = orders_count_by_status(o, status_count, x);
    if (rc) log_warn("metrics", "orders by status not read", "error", err_name(rc), NULL);
    /* the least available skus: a sku that left the set disappears */
    metric_family_hide(x->f_stock);
    metric_family_hide(x->f_reserved);
    metric_family_hide(x->f_available);
    rc = products_lowest(o, LIMIT_METRICS_SKUS_MAX, sku_stock, x);
    if (rc) log_warn("metrics", "inventory not read", "error", err_name(rc), NULL);
}

static void collect_bus(struct api_metrics *x)
{
    bus *b = x->a->b;
    metric_set(x->published, (double)bus_published(b));
    bus_rule_info ri;
    for (int i = 0; i < bus_rule_count(b); i++)
        if (bus_rule_get(b, i, &ri) == 0)
            metric_set(metric_series1(x->f_matched, ri.name), (double)ri.matched);
}

static void collect_queues(struct api_metrics *x)
{
    queue_sys *qs = x->a->qs;
    int n = queue_count(qs);
    for (int i = 0; i < n; i++) {
        queue *q = queue_at(qs, i);
        const char *name = queue_name(q);
        queue_stats st;
        if (queue_stats_get(qs, q, &st)) continue;
        metric_set(metric_series1(x->f_visible, name), (double)st.visible);
        metric_set(metric_series1(x->f_in_flight, name), (double)st.in_flight);
        metric_set(metric_series1(x->f_delayed, name), (double)st.delayed);
        metric_set(metric_series1(x->f_oldest, name), (double)st.oldest_age_s);
        metric_set(metric_series1(x->f_sent, name), (double)st.sent);
        metric_set(metric_series1(x->f_received, name), (double)st.received);
        metric_set(metric_series1(x->f_deleted, name), (double)st.deleted);
        metric_set(metric_series1(x->f_moved, name), (double)st.moved_to_dlq);
        queue_attrs at;
        queue_get_attrs(q, &at);
        queue *dlq = at.max_receive > 0 && at.dlq[0] ? queue_find(qs, at.dlq) : NULL;
        queue_stats ds;
        if (dlq && queue_stats_get(qs, dlq, &ds) == 0)
            metric_set(metric_series_get(x->f_dlq, (const char *[]){name, at.dlq}),
                       (double)ds.visible);
    }
}

static void collect_functions(struct api_metrics *x)
{
    fn_sys *fs = x->a->fs;
    for (int i = 0; i < fn_count(fs); i++) {
        const char *name = fn_name(fs, i);
        fn_stats st;
        if (fn_stats_get(fs, name, &st)) continue;
        metric_set(metric_series1(x->f_invocations, name), (double)st.invocations);
        metric_set(metric_series1(x->f_errors, name), (double)st.errors);
        metric_set(metric_series1(x->f_duplicates, name), (double)st.duplicates);
        metric_set(metric_series1(x->f_fenced, name), (double)st.fenced);
    }
}

static void collect_store(struct api_metrics *x)
{
    store_stats_t st;
    store_stats(x->a->st, &st);
    metric_hist_set(x->commit_batch, st.batch_hist, (double)st.units);
    metric_hist_set(x->commit_seconds, st.commit_us_hist, (double)st.commit_us_sum / 1e6);
    metric_set(x->units, (double)st.units);
    metric_set(x->pending, (double)st.pending);
    metric_set(x->sync_failed, st.sync_failed);
    metric_set(x->leader, store_is_leader(x->a->st));
    metric_set(x->db_up, !st.down);
    metric_set(x->reconnects, (double)st.reconnects);
    metric_set(x->statements, (double)st.statements);
    metric_set(x->follow_batch, (double)st.follow_units);
    metric_set(x->follow_next, (double)st.follow_deferred);
    metric_set(x->backlog, (double)st.backlog_us / 1e6);
    metric_set(x->refused, (double)st.refused);
}

static void collect(void *arg)
{
    struct api_metrics *x = arg;
    collect_process(x);
    if (x->a->st) collect_store(x);
    if (x->a->qs) collect_queues(x);
    if (x->a->b) collect_bus(x);
    if (x->a->fs) collect_functions(x);
    if (x->a->o) collect_orders(x);
}

/* ---- registration ------------------------------------------------------------ */

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

int api_metrics_init(api *a, metrics *m)
{
    struct api_metrics *x = calloc(1, sizeof *x);
    if (!x) return ORD_ENOMEM;
    x->a = a;
    x->start_us = clock_mono_us();

    /* process */
    metric_set(metric_series_get(metrics_gauge(m, "orderly_build_info",
                                               "orderly's version and git revision; always 1.",
                                               L("version", "revision")),
                                 L(ORDERLY_VERSION, ORDERLY_GIT_REV)),
               1);
    x->uptime = metric_series0(
        metrics_gauge(m, "orderly_uptime_seconds", "Seconds since the server started.", NULL));
    metric_set(metric_series0(metrics_gauge(
                   m, "process_start_time_seconds",
                   "Start time of the process since the Unix epoch, in seconds.", NULL)),
               (double)clock_wall_ms() / 1000.0);
    x->rss =
        metric_series0(metrics_gauge(m, "process_resident_memory_bytes",
                                     "Resident memory of the process (/proc/self/statm).", NULL));

    /* store: its histograms' buckets, as store_stats keeps them */
    double batch_bounds[STORE_HIST_BUCKETS - 1], commit_bounds[STORE_HIST_BUCKETS - 1];
    for (int i = 0; i < STORE_HIST_BUCKETS - 1; i++) {
        batch_bounds[i] = (double)(1u << i);
        commit_bounds[i] = 50e-6 * (double)(1u << i);
    }
    x->commit_batch = metric_series0(metrics_histogram(
        m, "orderly_store_commit_batch_size", "Units of work per group-committed transaction.",
        NULL, batch_bounds, STORE_HIST_BUCKETS - 1));
    x->commit_seconds = metric_series0(metrics_histogram(
        m, "orderly_store_commit_seconds", "Duration of each COMMIT, fsync of the WAL included.",
        NULL, commit_bounds, STORE_HIST_BUCKETS - 1));
    x->units = metric_series0(
        metrics_counter(m, "orderly_store_units_total",
                        "Units of work run by the store writer (committed or rolled back).", NULL));
    x->pending = metric_series0(metrics_gauge(m, "orderly_store_units_pending",
                                              "Units of work waiting for the store writer.", NULL));
    x->sync_failed = metric_series0(metrics_gauge(
        m, "orderly_store_sync_failed",
        "1 after a sync of the database failed: writes are refused until the node is restarted.", NULL));
    x->leader = metric_series0(metrics_gauge(m, "orderly_store_leader",
                                             "1 while this node runs the cluster's periodic work (always on SQLite).",
                                             NULL));
    x->db_up = metric_series0(metrics_gauge(
        m, "orderly_store_database_up", "0 while the database is unreachable and writes are refused (503).", NULL));
    x->reconnects = metric_series0(metrics_counter(
        m, "orderly_store_reconnects_total", "Times the writer reconnected after losing the database.", NULL));
    x->statements = metric_series0(metrics_counter(
        m, "orderly_store_statements_total",
        "Statements run on the writer's connection (units' SAVEPOINT/RELEASE and batches' BEGIN/COMMIT "
        "included).",
        NULL));
    metric_family *fu = metrics_counter(m, "orderly_store_follow_ups_total",
                                        "Follow-up units (run to completion: in-process function records) by "
                                        "where they ran: in the batch of the unit that made them, or the next.",
                                        L("batch"));
    x->follow_batch = metric_series1(fu, "same");
    x->follow_next = metric_series1(fu, "next");
    x->backlog = metric_series0(metrics_gauge(
        m, "orderly_store_backlog_seconds",
        "Work queued for the writer: units waiting times its recent time per unit (admission control).", NULL));
    x->refused = metric_series0(metrics_counter(
        m, "orderly_admission_refused_total",
        "Requests bringing new work (orders, events, messages) answered 503 because the backlog was over "
        "store.admissionBacklogMs.",
        NULL));

    /* queues */
    const char *const *lq = L("queue");
    x->f_visible =
        metrics_gauge(m, "orderly_queue_messages_visible", "Messages available for receive.", lq);
    x->f_in_flight = metrics_gauge(m, "orderly_queue_messages_in_flight",
                                   "Messages received and not yet deleted or visible again.", lq);
    x->f_delayed = metrics_gauge(m, "orderly_queue_messages_delayed",
                                 "Messages sent with a delay that has not passed.", lq);
    x->f_oldest = metrics_gauge(m, "orderly_queue_oldest_message_age_seconds",
                                "Age of the oldest message in the queue.", lq);
    x->f_sent =
        metrics_counter(m, "orderly_queue_messages_sent_total", "Messages sent to the queue.", lq);
    x->f_received = metrics_counter(m, "orderly_queue_messages_received_total",
                                    "Messages delivered by receives.", lq);
    x->f_deleted = metrics_counter(m, "orderly_queue_messages_deleted_total",
                                   "Messages deleted by receipt handle.", lq);
    x->f_moved = metrics_counter(m, "orderly_queue_messages_moved_to_dlq_total",
                                 "Messages moved from this queue to its dead-letter queue.", lq);
    x->f_dlq = metrics_gauge(m, "orderly_queue_dlq_messages_visible",
                             "Visible messages in the dead-letter queue (dlq) of queue.",
                             L("queue", "dlq"));

    /* functions (duration and batch size histograms: fn.c) */
    const char *const *lf = L("function");
    x->f_invocations = metrics_counter(m, "orderly_function_invocations_total",
                                       "Function invocations (batches).", lf);
    x->f_errors = metrics_counter(m, "orderly_function_errors_total",
                                  "Records whose handler or effects failed.", lf);
    x->f_duplicates =
        metrics_counter(m, "orderly_function_duplicates_total",
                        "Records skipped because their event id was already processed.", lf);
    x->f_fenced = metrics_counter(m, "orderly_function_fenced_total",
                                  "Records whose commit the receipt fence refused (their message's visibility had "
                                  "expired: another receive may own it).",
                                  L("function"));

    /* bus */
    x->published =
        metric_series0(metrics_counter(m, "orderly_events_published_total",
                                       "Events published on the bus (replays included).", NULL));
    x->f_matched = metrics_counter(m, "orderly_events_matched_total", "Events routed by each rule.",
                                   L("rule"));

    /* orders */
    x->unconsumed = metric_series0(metrics_gauge(
        m, "orderly_pipeline_unconsumed_stages",
        "Stages of the order flow (OrderCreated, PaymentRequested) that no function with running pollers "
        "consumes: orders stop there while it is above 0.",
        NULL));
    x->created =
        metric_series0(metrics_counter(m, "orderly_orders_created_total", "Orders created.", NULL));
    metric_family *f = metrics_counter(
        m, "orderly_orders_finished_total",
        "Orders that entered a terminal status, by status and reason.", L("status", "reason"));
    for (int i = 0; i < ORDER_TRANSITIONS; i++) { /* entries into a terminal status (and FAILED) */
        const order_transition *t = &order_transitions[i];
        const char *labels[2] = {order_status_name(t->to), t->reason};
        x->finished[i] = t->to == ORDER_RESERVED ? NULL : metric_series_get(f, labels);
    }
    f = metrics_gauge(m, "orderly_orders", "Orders by current status.", L("status"));
    for (int i = 0; i < ORDER_STATUSES; i++) x->by_status[i] = metric_series1(f, order_status_name((order_status)i));
    f = metrics_counter(m, "orderly_payments_total", "Payment attempts by outcome.", L("outcome"));
    for (int i = 0; i < ORDERS_PAY_OUTCOMES; i++)
        x->payments[i] = metric_series1(f, orders_pay_outcomes[i]);
    f = metrics_counter(
        m, "orderly_stock_reservations_total",
        "Order items reserved (success) or refused for lack of stock (insufficient_stock).",
        L("status"));
    x->reserved_ok = metric_series1(f, "success");
    x->reserved_short = metric_series1(f, "insufficient_stock");
    f = metrics_counter(m, "orderly_inventory_operations_total",
                        "Stock updates by operation and whether their condition let them through.",
                        L("operation_type", "status"));
    for (int i = 0; i < ORDERS_INV_OPS; i++) {
        x->inventory[i][0] = metric_series_get(f, L(orders_inventory_ops[i], "success"));
        x->inventory[i][1] = metric_series_get(f, L(orders_inventory_ops[i], "failure"));
    }
    const char *const *ls = L("sku");
    x->f_stock = metrics_gauge(m, "orderly_inventory_stock",
                               "Units in stock (the least available skus).", ls);
    x->f_reserved = metrics_gauge(m, "orderly_inventory_reserved",
                                  "Units reserved by orders not yet paid.", ls);
    x->f_available =
        metrics_gauge(m, "orderly_inventory_available", "Units in stock and not reserved.", ls);

    a->metrics = m;
    a->mx = x;
    metrics_on_collect(m, collect, x);
    return 0;
}

void api_metrics_release(api *a)
{
    if (!a->mx) return;
    metrics_off_collect(a->metrics, collect, a->mx);
    free(a->mx);
    a->mx = NULL;
}
