/* history.c - the metrics history for the console's charts, so it needs no
 * Prometheus: a ring of one sample every LIMIT_HISTORY_SAMPLE_S for
 * LIMIT_HISTORY_MINUTES_MAX minutes, read by GET /api/metrics/history and
 * pushed to the live streams as each sample is taken.
 *
 * A sample holds rates over its interval (orders created and completed per
 * second, commits per second), the HTTP latency p50/p99 over the interval
 * (buckets of orderly_http_request_duration_seconds, long-poll receives and
 * streams left out, interpolated as Prometheus' histogram_quantile does),
 * the mean commit batch, the total DLQ depth and the visible / in-flight
 * depth of the first LIMIT_HISTORY_QUEUES_MAX queues.  Rates need two
 * samples: the first after start has none (null).  Nothing here runs the
 * metric collectors (their SQL): the figures come from the modules'
 * counters and one queue-statistics read per queue.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "http/console.h"
#include "lib/clock.h"
#include "lib/err.h"

#define HIST_SLOTS (LIMIT_HISTORY_MINUTES_MAX * 60 / LIMIT_HISTORY_SAMPLE_S)
#define LAT_BUCKETS 32

typedef struct sample {
    int64_t t_ms;
    double orders_ps, completed_ps, failed_ps, commits_ps;
    double p50_ms, p99_ms, commit_batch, dlq;
    int nq;
    double qvis[LIMIT_HISTORY_QUEUES_MAX], qinf[LIMIT_HISTORY_QUEUES_MAX];
} sample;

/* Cumulative figures of the previous sample, for the deltas. */
typedef struct totals {
    int64_t t_ms;
    uint64_t created, completed, failed, commits, units;
    int nb;
    double bounds[LAT_BUCKETS];
    uint64_t buckets[LAT_BUCKETS + 1]; /* cumulative, summed over routes */
    int have;
} totals;

struct history {
    pthread_mutex_t mu;
    api *a;
    sample ring[HIST_SLOTS];
    int64_t n; /* samples taken */
    totals prev;
};

int history_new(api *a, history **out)
{
    history *h = calloc(1, sizeof *h);
    if (!h) return ORD_ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->a = a;
    *out = h;
    return 0;
}

void history_free(history *h)
{
    if (!h) return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* ---- latency ------------------------------------------------------------- */

static void add_latency(void *arg, const metric_value *v)
{
    totals *t = arg;
    const char *route = NULL;
    for (int i = 0; i < v->nlabels; i++)
        if (!strcmp(v->label_names[i], "route")) route = v->label_values[i];
    /* long polls wait up to 20 s and streams last minutes, by design */
    if (route && (!strcmp(route, "/api/queues/{name}/receive") || !strcmp(route, "/api/stream"))) return;
    if (v->kind != METRIC_HISTOGRAM || v->nbounds > LAT_BUCKETS) return;
    t->nb = v->nbounds;
    memcpy(t->bounds, v->bounds, sizeof(double) * (size_t)v->nbounds);
    for (int i = 0; i <= v->nbounds; i++) t->buckets[i] += v->buckets[i];
}

/* The q-quantile (0..1) of the observations between two cumulative bucket
 * sets, in seconds; NAN without observations. */
static double quantile(const totals *a, const totals *b, double q)
{
    int nb = b->nb;
    if (!a->have || a->nb != nb || nb == 0) return NAN;
    uint64_t total = b->buckets[nb] - a->buckets[nb];
    if (total == 0) return NAN;
    double rank = q * (double)total;
    for (int i = 0; i <= nb; i++) {
        double c = (double)(b->buckets[i] - a->buckets[i]);
        if (c >= rank) {
            if (i == nb) return b->bounds[nb - 1]; /* beyond the last bound: that bound */
            double lo = i ? b->bounds[i - 1] : 0, hi = b->bounds[i];
            double below = i ? (double)(b->buckets[i - 1] - a->buckets[i - 1]) : 0;
            double in = c - below;
            return in > 0 ? lo + (hi - lo) * (rank - below) / in : hi;
        }
    }
    return b->bounds[nb - 1];
}

/* ---- sampling ------------------------------------------------------------- */

static double rate(uint64_t now, uint64_t before, double secs)
{
    return secs > 0 && now >= before ? (double)(now - before) / secs : NAN;
}

static json_t *num(double v)
{
    if (isnan(v) || isinf(v)) return json_null();
    return json_real(round(v * 1000) / 1000);
}

static json_t *row_json(const sample *s)
{
    json_t *vis = json_array(), *inf = json_array();
    for (int i = 0; i < s->nq; i++) {
        json_array_append_new(vis, num(s->qvis[i]));
        json_array_append_new(inf, num(s->qinf[i]));
    }
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "t", (json_int_t)s->t_ms, "ordersPerSec",
                     num(s->orders_ps), "completionsPerSec", num(s->completed_ps), "failuresPerSec",
                     num(s->failed_ps), "latencyP50Ms", num(s->p50_ms), "latencyP99Ms", num(s->p99_ms),
                     "dlqDepth", num(s->dlq), "commitBatchSize", num(s->commit_batch), "commitsPerSec",
                     num(s->commits_ps), "queueVisible", vis, "queueInFlight", inf);
}

json_t *history_sample(history *h, int64_t now_ms)
{
    api *a = h->a;
    totals cur = {.t_ms = now_ms, .have = 1};
    sample s = {.t_ms = now_ms};
    orders_counters oc;
    orders_counters_get(a->o, &oc);
    cur.created = oc.created;
    for (int i = 0; i < ORDER_TRANSITIONS; i++) {
        order_status to = order_transitions[i].to;
        if (to == ORDER_COMPLETED)
            cur.completed += oc.transitions[i];
        else if (to == ORDER_FAILED || order_status_terminal(to))
            cur.failed += oc.transitions[i];
    }
    store_stats_t ss;
    store_stats(a->st, &ss);
    cur.commits = ss.commits;
    cur.units = ss.units;
    if (a->metrics)
        metrics_read_collected(a->metrics, "orderly_http_request_duration_seconds", NULL, add_latency, &cur, 0);
    /* queues: depths of the first ones, DLQ total of all */
    double dlq = 0;
    int nq = queue_count(a->qs);
    for (int i = 0; i < nq; i++) {
        queue *q = queue_at(a->qs, i);
        int isdlq = queue_is_dlq(a->qs, q);
        if (i >= LIMIT_HISTORY_QUEUES_MAX && !isdlq) continue;
        queue_stats qs;
        int ok = queue_stats_get(a->qs, q, &qs) == 0;
        if (i < LIMIT_HISTORY_QUEUES_MAX) {
            s.qvis[i] = ok ? (double)qs.visible : NAN;
            s.qinf[i] = ok ? (double)qs.in_flight : NAN;
            s.nq = i + 1;
        }
        if (isdlq && ok) dlq += (double)qs.visible;
    }
    s.dlq = dlq;

    pthread_mutex_lock(&h->mu);
    totals *p = &h->prev;
    double secs = p->have ? (double)(now_ms - p->t_ms) / 1000.0 : 0;
    s.orders_ps = p->have ? rate(cur.created, p->created, secs) : NAN;
    s.completed_ps = p->have ? rate(cur.completed, p->completed, secs) : NAN;
    s.failed_ps = p->have ? rate(cur.failed, p->failed, secs) : NAN;
    s.commits_ps = p->have ? rate(cur.commits, p->commits, secs) : NAN;
    s.commit_batch = p->have && cur.commits > p->commits
                         ? (double)(cur.units - p->units) / (double)(cur.commits - p->commits)
                         : NAN;
    s.p50_ms = quantile(p, &cur, 0.50) * 1000;
    s.p99_ms = quantile(p, &cur, 0.99) * 1000;
    h->ring[h->n % HIST_SLOTS] = s;
    h->n++;
    *p = cur;
    pthread_mutex_unlock(&h->mu);
    return row_json(&s);
}

json_t *history_json(history *h, int minutes)
{
    api *a = h->a;
    json_t *t = json_array(), *ops = json_array(), *cps = json_array(), *fps = json_array(), *p50 = json_array(),
           *p99 = json_array(), *dlq = json_array(), *batch = json_array(), *commits = json_array();
    json_t *queues = json_array();
    int nq = queue_count(a->qs);
    if (nq > LIMIT_HISTORY_QUEUES_MAX) nq = LIMIT_HISTORY_QUEUES_MAX;
    json_t *qv[LIMIT_HISTORY_QUEUES_MAX], *qi[LIMIT_HISTORY_QUEUES_MAX];
    for (int i = 0; i < nq; i++) {
        qv[i] = json_array();
        qi[i] = json_array();
    }
    int64_t now = clock_wall_ms(), from = now - (int64_t)minutes * 60000;
    pthread_mutex_lock(&h->mu);
    int64_t first = h->n > HIST_SLOTS ? h->n - HIST_SLOTS : 0;
    for (int64_t k = first; k < h->n; k++) {
        const sample *s = &h->ring[k % HIST_SLOTS];
        if (s->t_ms < from) continue;
        json_array_append_new(t, json_integer(s->t_ms));
        json_array_append_new(ops, num(s->orders_ps));
        json_array_append_new(cps, num(s->completed_ps));
        json_array_append_new(fps, num(s->failed_ps));
        json_array_append_new(p50, num(s->p50_ms));
        json_array_append_new(p99, num(s->p99_ms));
        json_array_append_new(dlq, num(s->dlq));
        json_array_append_new(batch, num(s->commit_batch));
        json_array_append_new(commits, num(s->commits_ps));
        for (int i = 0; i < nq; i++) {
            json_array_append_new(qv[i], num(i < s->nq ? s->qvis[i] : NAN));
            json_array_append_new(qi[i], num(i < s->nq ? s->qinf[i] : NAN));
        }
    }
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < nq; i++)
        json_array_append_new(queues, json_pack("{s:s,s:b,s:o,s:o}", "name", queue_name(queue_at(a->qs, i)),
                                                "deadLetterQueue", queue_is_dlq(a->qs, queue_at(a->qs, i)),
                                                "visible", qv[i], "inFlight", qi[i]));
    return json_pack("{s:i,s:i,s:I,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o},s:o}", "intervalSeconds",
                     LIMIT_HISTORY_SAMPLE_S, "minutes", minutes, "now", (json_int_t)now, "series", "t", t,
                     "ordersPerSec", ops, "completionsPerSec", cps, "failuresPerSec", fps, "latencyP50Ms", p50,
                     "latencyP99Ms", p99, "dlqDepth", dlq, "commitBatchSize", batch, "commitsPerSec", commits,
                     "queues", queues);
}

int api_metrics_history(http_req *r)
{
    api *a = http_req_app(r);
    if (!a->console) return ORD_ENOTFOUND;
    long long minutes;
    if (console_query_int(r, "minutes", 1, LIMIT_HISTORY_MINUTES_MAX, LIMIT_HISTORY_MINUTES_DEFAULT, &minutes))
        return 0;
    json_t *j = history_json(console_history(a->console), (int)minutes);
    /* six significant digits: rates and latencies, not 0.40000000000000002 */
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) return ORD_ENOMEM;
    http_reply_header(r, "Cache-Control", "no-cache");
    http_reply_raw(r, 200, "application/json", text, strlen(text));
    free(text);
    return 0;
}
