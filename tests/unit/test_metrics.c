/* test_metrics.c - unit tests of obs/metrics: the registry, its bounds, the
 * text exposition (escaping, histogram buckets, number formatting),
 * metrics_read and concurrent updates. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/limits.h"
#include "obs/log.h"
#include "obs/metrics.h"

static char *render(metrics *m)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(metrics_render(m, &out, &len), 0);
    cr_assert_eq(strlen(out), len);
    return out;
}

static void expect_line(const char *text, const char *line)
{
    char want[1024];
    snprintf(want, sizeof want, "\n%s\n", line);
    char *t = malloc(strlen(text) + 2);
    t[0] = '\n';
    strcpy(t + 1, text);
    cr_expect(strstr(t, want) != NULL, "line not found: [%s]\nin:\n%s", line, text);
    free(t);
}

struct got {
    int n;
    double value;
    uint64_t count;
    double sum;
    uint64_t buckets[LIMIT_METRICS_BUCKETS_MAX + 1];
    char labels[256];
};

static void grab(void *arg, const metric_value *v)
{
    struct got *g = arg;
    g->n++;
    g->value = v->value;
    g->count = v->count;
    g->sum = v->sum;
    if (v->kind == METRIC_HISTOGRAM)
        memcpy(g->buckets, v->buckets, sizeof(uint64_t) * (size_t)(v->nbounds + 1));
    g->labels[0] = 0;
    for (int i = 0; i < v->nlabels; i++) {
        size_t n = strlen(g->labels);
        snprintf(g->labels + n, sizeof g->labels - n, "%s%s=%s", i ? "," : "", v->label_names[i],
                 v->label_values[i]);
    }
}

static double dropped(metrics *m)
{
    struct got g = {0};
    cr_assert_eq(metrics_read(m, "orderly_metrics_series_dropped_total", NULL, grab, &g), 1);
    return g.value;
}

static void quiet(void)
{
    log_setup("test", LOG_OFF);
}

TestSuite(metrics, .init = quiet);

Test(metrics, counter_and_gauge_render)
{
    metrics *m = metrics_new();
    cr_assert_not_null(m);
    metric_family *c = metrics_counter(m, "t_requests_total", "Requests.", NULL);
    metric_family *g = metrics_gauge(m, "t_depth", "Depth\\of \"queue\"\nsecond line",
                                     (const char *[]){"queue", NULL});
    cr_assert_not_null(c);
    cr_assert_not_null(g);
    metric_series *s = metric_series0(c);
    metric_inc(s);
    metric_add(s, 2);
    metric_add(s, -5); /* a counter never goes down */
    metric_set(metric_series1(g, "a"), 1.5);
    metric_set(metric_series1(g, "b"), -3);
    metric_add(metric_series1(g, "b"), -1);
    metric_set(metric_series1(g, "inf"), INFINITY);
    metric_set(metric_series1(g, "ninf"), -INFINITY);
    metric_set(metric_series1(g, "nan"), NAN);
    metric_set(metric_series1(g, "big"), 1e15);
    metric_set(metric_series1(g, "huge"), 1e300);
    metric_set(metric_series1(g, "tenth"), 0.1);
    metric_set(metric_series1(g, "third"), 1.0 / 3);
    /* NULL series: every update is a no-op */
    metric_inc(NULL);
    metric_add(NULL, 1);
    metric_set(NULL, 1);
    metric_observe(NULL, 1);

    char *t = render(m);
    expect_line(t, "# HELP t_requests_total Requests.");
    expect_line(t, "# TYPE t_requests_total counter");
    expect_line(t, "t_requests_total 3");
    expect_line(t, "# HELP t_depth Depth\\\\of \"queue\"\\nsecond line");
    expect_line(t, "# TYPE t_depth gauge");
    expect_line(t, "t_depth{queue=\"a\"} 1.5");
    expect_line(t, "t_depth{queue=\"b\"} -4");
    expect_line(t, "t_depth{queue=\"inf\"} +Inf");
    expect_line(t, "t_depth{queue=\"ninf\"} -Inf");
    expect_line(t, "t_depth{queue=\"nan\"} NaN");
    expect_line(t, "t_depth{queue=\"big\"} 1000000000000000");
    expect_line(t, "t_depth{queue=\"huge\"} 1e+300");
    expect_line(t, "t_depth{queue=\"tenth\"} 0.1");
    expect_line(t, "t_depth{queue=\"third\"} 0.33333333333333331");
    expect_line(t, "orderly_metrics_series_dropped_total 0");
    free(t);
    metrics_free(m);
}

Test(metrics, label_value_escaping)
{
    metrics *m = metrics_new();
    metric_family *f = metrics_counter(m, "t_esc_total", "x", (const char *[]){"a", "b", NULL});
    metric_inc(metric_series_get(f, (const char *[]){"back\\slash", "quo\"te\nnl"}));
    metric_inc(metric_series_get(f, (const char *[]){"", "ünï"}));
    char *t = render(m);
    expect_line(t, "t_esc_total{a=\"back\\\\slash\",b=\"quo\\\"te\\nnl\"} 1");
    expect_line(t, "t_esc_total{a=\"\",b=\"ünï\"} 1");
    free(t);
    /* read hands back the raw values */
    struct got g = {0};
    cr_assert_eq(
        metrics_read(m, "t_esc_total", (const char *[]){"a", "back\\slash", NULL}, grab, &g), 1);
    cr_expect_str_eq(g.labels, "a=back\\slash,b=quo\"te\nnl");
    metrics_free(m);
}

Test(metrics, histogram_buckets_cumulative)
{
    metrics *m = metrics_new();
    const double b[] = {0.005, 0.1, 1, 2.5};
    metric_family *f =
        metrics_histogram(m, "t_seconds", "Latency.", (const char *[]){"route", NULL}, b, 4);
    cr_assert_not_null(f);
    metric_series *s = metric_series1(f, "/x");
    const double obs[] = {0.001, 0.005, 0.05, 0.1, 0.5, 3, 100};
    double sum = 0;
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
        metric_observe(s, obs[i]);
        sum += obs[i];
    }
    char *t = render(m);
    expect_line(t, "# TYPE t_seconds histogram");
    expect_line(t, "t_seconds_bucket{route=\"/x\",le=\"0.005\"} 2");
    expect_line(t, "t_seconds_bucket{route=\"/x\",le=\"0.1\"} 4");
    expect_line(t, "t_seconds_bucket{route=\"/x\",le=\"1\"} 5");
    expect_line(t, "t_seconds_bucket{route=\"/x\",le=\"2.5\"} 5");
    expect_line(t, "t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 7");
    expect_line(t, "t_seconds_count{route=\"/x\"} 7");
    char line[128];
    snprintf(line, sizeof line, "t_seconds_sum{route=\"/x\"} %.15g", sum);
    expect_line(t, line);
    free(t);

    struct got g = {0};
    cr_assert_eq(metrics_read(m, "t_seconds", NULL, grab, &g), 1);
    cr_expect_eq(g.count, 7);
    cr_expect_eq(g.sum, sum, "sum %g != %g", g.sum, sum);
    const uint64_t want[] = {2, 4, 5, 5, 7};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(g.buckets[i], want[i], "bucket %d: %lu != %lu", i, (unsigned long)g.buckets[i],
                     (unsigned long)want[i]);

    /* no labels: only le */
    metric_family *h = metrics_histogram(m, "t_plain", "p", NULL, (const double[]){1}, 1);
    metric_observe(metric_series0(h), 0.5);
    t = render(m);
    expect_line(t, "t_plain_bucket{le=\"1\"} 1");
    expect_line(t, "t_plain_bucket{le=\"+Inf\"} 1");
    expect_line(t, "t_plain_sum 0.5");
    expect_line(t, "t_plain_count 1");
    free(t);
    metrics_free(m);
}

Test(metrics, series_bound)
{
    metrics *m = metrics_new();
    metric_family *f = metrics_gauge(m, "t_many", "many", (const char *[]){"k", NULL});
    char v[32];
    for (int i = 0; i < LIMIT_METRICS_SERIES_PER_FAMILY; i++) {
        snprintf(v, sizeof v, "%d", i);
        cr_assert_not_null(metric_series1(f, v), "series %d refused", i);
    }
    cr_expect_eq(dropped(m), 0);
    /* existing ones are still found at the limit */
    cr_expect_not_null(metric_series1(f, "0"));
    cr_expect_not_null(metric_series1(f, "999"));
    /* limit + 1 */
    snprintf(v, sizeof v, "%d", LIMIT_METRICS_SERIES_PER_FAMILY);
    cr_expect_null(metric_series1(f, v));
    cr_expect_eq(dropped(m), 1);
    cr_expect_null(metric_series1(f, "another"));
    cr_expect_eq(dropped(m), 2);
    cr_expect_eq(metrics_read(m, "t_many", NULL, grab, &(struct got){0}),
                 LIMIT_METRICS_SERIES_PER_FAMILY);

    /* label values: at the limit ok, one past refused */
    metric_family *g = metrics_gauge(m, "t_long", "long", (const char *[]){"k", NULL});
    char big[LIMIT_METRICS_LABEL_VALUE_MAX + 2];
    memset(big, 'x', sizeof big);
    big[LIMIT_METRICS_LABEL_VALUE_MAX] = 0;
    cr_expect_not_null(metric_series1(g, big));
    big[LIMIT_METRICS_LABEL_VALUE_MAX] = 'x';
    big[LIMIT_METRICS_LABEL_VALUE_MAX + 1] = 0;
    cr_expect_null(metric_series1(g, big));
    cr_expect_eq(dropped(m), 3);
    metrics_free(m);
}

Test(metrics, invalid_names_rejected)
{
    metrics *m = metrics_new();
    cr_expect_null(metrics_counter(m, "", "x", NULL));
    cr_expect_null(metrics_counter(m, NULL, "x", NULL));
    cr_expect_null(metrics_counter(m, "1abc", "x", NULL));
    cr_expect_null(metrics_counter(m, "a-b", "x", NULL));
    cr_expect_null(metrics_counter(m, "a b", "x", NULL));
    cr_expect_not_null(metrics_counter(m, "ns:sub_total", "x", NULL));
    cr_expect_null(metrics_counter(m, "ns:sub_total", "dup", NULL));
    cr_expect_null(metrics_gauge(m, "t_l1", "x", (const char *[]){"a:b", NULL}));
    cr_expect_null(metrics_gauge(m, "t_l2", "x", (const char *[]){"__reserved", NULL}));
    cr_expect_null(metrics_gauge(m, "t_l3", "x", (const char *[]){"9a", NULL}));
    cr_expect_null(metrics_gauge(m, "t_l4", "x", (const char *[]){"a", "a", NULL}));
    cr_expect_not_null(metrics_gauge(
        m, "t_l5", "x", (const char *[]){"le", NULL})); /* le only reserved on histograms */
    cr_expect_null(
        metrics_histogram(m, "t_h1", "x", (const char *[]){"le", NULL}, (const double[]){1}, 1));
    cr_expect_null(metrics_histogram(m, "t_h2", "x", NULL, (const double[]){2, 1}, 2));
    cr_expect_null(metrics_histogram(m, "t_h3", "x", NULL, (const double[]){1, 1}, 2));
    cr_expect_null(metrics_histogram(m, "t_h4", "x", NULL, (const double[]){1, INFINITY}, 2));
    cr_expect_null(metrics_histogram(m, "t_h5", "x", NULL, (const double[]){NAN}, 1));
    cr_expect_null(metrics_histogram(m, "t_h6", "x", NULL, NULL, 1));
    double many[LIMIT_METRICS_BUCKETS_MAX + 1];
    for (int i = 0; i <= LIMIT_METRICS_BUCKETS_MAX; i++)
        many[i] = i;
    cr_expect_not_null(metrics_histogram(m, "t_h7", "x", NULL, many, LIMIT_METRICS_BUCKETS_MAX));
    cr_expect_null(metrics_histogram(m, "t_h8", "x", NULL, many, LIMIT_METRICS_BUCKETS_MAX + 1));
    const char *labels[LIMIT_METRICS_LABELS_MAX + 2];
    char names[LIMIT_METRICS_LABELS_MAX + 1][8];
    for (int i = 0; i <= LIMIT_METRICS_LABELS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        labels[i] = names[i];
    }
    labels[LIMIT_METRICS_LABELS_MAX] = NULL;
    cr_expect_not_null(metrics_gauge(m, "t_lab_max", "x", labels));
    labels[LIMIT_METRICS_LABELS_MAX] = names[LIMIT_METRICS_LABELS_MAX];
    labels[LIMIT_METRICS_LABELS_MAX + 1] = NULL;
    cr_expect_null(metrics_gauge(m, "t_lab_over", "x", labels));
    /* nothing refused shows up */
    char *t = render(m);
    cr_expect_null(strstr(t, "t_h1"));
    cr_expect_null(strstr(t, "t_lab_over"));
    free(t);
    cr_expect_eq(metrics_read(m, "t_l1", NULL, grab, &(struct got){0}), -1);
    metrics_free(m);
}

Test(metrics, read_matching)
{
    metrics *m = metrics_new();
    metric_family *f =
        metrics_counter(m, "t_http_total", "x", (const char *[]){"route", "code", NULL});
    metric_add(metric_series_get(f, (const char *[]){"/a", "200"}), 5);
    metric_add(metric_series_get(f, (const char *[]){"/a", "500"}), 2);
    metric_add(metric_series_get(f, (const char *[]){"/b", "200"}), 7);

    struct got g = {0};
    cr_expect_eq(metrics_read(m, "t_http_total", NULL, grab, &g), 3);
    g = (struct got){0};
    cr_expect_eq(metrics_read(m, "t_http_total", (const char *[]){"route", "/a", NULL}, grab, &g),
                 2);
    g = (struct got){0};
    cr_expect_eq(metrics_read(m, "t_http_total",
                              (const char *[]){"route", "/a", "code", "500", NULL}, grab, &g),
                 1);
    cr_expect_eq(g.value, 2);
    cr_expect_str_eq(g.labels, "route=/a,code=500");
    g = (struct got){0};
    cr_expect_eq(metrics_read(m, "t_http_total",
                              (const char *[]){"code", "200", "route", "/b", NULL}, grab, &g),
                 1);
    cr_expect_eq(g.value, 7);
    cr_expect_eq(metrics_read(m, "t_http_total", (const char *[]){"route", "/c", NULL}, grab, &g),
                 0);
    cr_expect_eq(metrics_read(m, "t_http_total", (const char *[]){"nolabel", "x", NULL}, grab, &g),
                 0);
    cr_expect_eq(metrics_read(m, "t_none", NULL, grab, &g), -1);

    /* hidden series are left out of read and render until looked up again */
    metric_family_hide(f);
    cr_expect_eq(metrics_read(m, "t_http_total", NULL, grab, &g), 0);
    char *t = render(m);
    cr_expect_null(strstr(t, "t_http_total{"));
    free(t);
    metric_series *s = metric_series_get(f, (const char *[]){"/b", "200"});
    g = (struct got){0};
    cr_expect_eq(metrics_read(m, "t_http_total", NULL, grab, &g), 1);
    cr_expect_eq(g.value, 7);
    metric_inc(s);
    g = (struct got){0};
    metrics_read(m, "t_http_total", NULL, grab, &g);
    cr_expect_eq(g.value, 8);
    metrics_free(m);
}

struct coll {
    metric_series *s;
    int calls;
};

static void collector(void *arg)
{
    struct coll *c = arg;
    c->calls++;
    metric_set(c->s, 42);
}

Test(metrics, collectors_run_before_render_and_read)
{
    metrics *m = metrics_new();
    struct coll c = {metric_series0(metrics_gauge(m, "t_mirrored", "x", NULL)), 0};
    metrics_on_collect(m, collector, &c);
    struct got g = {0};
    cr_expect_eq(metrics_read(m, "t_mirrored", NULL, grab, &g), 1);
    cr_expect_eq(g.value, 42);
    cr_expect_eq(c.calls, 1);
    free(render(m));
    cr_expect_eq(c.calls, 2);
    metrics_free(m);
}

Test(metrics, collector_removed)
{
    metrics *m = metrics_new();
    struct coll c = {metric_series0(metrics_gauge(m, "t_mirrored", "x", NULL)), 0};
    metrics_on_collect(m, collector, &c);
    metrics_off_collect(m, collector, &c);
    metrics_off_collect(m, collector, &c); /* not registered: no-op */
    free(render(m));
    cr_expect_eq(c.calls, 0);
    metrics_free(m);
}

Test(metrics, histogram_mirrored)
{
    metrics *m = metrics_new();
    metric_family *f = metrics_histogram(m, "t_batch", "x", NULL, (const double[]){1, 2, 4}, 3);
    metric_series *s = metric_series0(f);
    metric_hist_set(s, (const uint64_t[]){3, 0, 5, 2}, 31);
    char *t = render(m);
    expect_line(t, "t_batch_bucket{le=\"1\"} 3");
    expect_line(t, "t_batch_bucket{le=\"2\"} 3");
    expect_line(t, "t_batch_bucket{le=\"4\"} 8");
    expect_line(t, "t_batch_bucket{le=\"+Inf\"} 10");
    expect_line(t, "t_batch_sum 31");
    expect_line(t, "t_batch_count 10");
    free(t);
    metrics_free(m);
}

/* ---- Concurrency: exact totals -------------------------------------- */

#define THREADS 4
#define ITERS   100000

struct worker {
    metric_family *c, *h;
    int id;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    metric_series *shared = metric_series1(w->c, "shared");
    metric_series *hist = metric_series0(w->h);
    char mine[16];
    snprintf(mine, sizeof mine, "t%d", w->id);
    for (int i = 0; i < ITERS; i++) {
        metric_inc(shared);
        metric_add(metric_series1(w->c, mine), 0.5); /* lookup each time: races creation */
        metric_observe(hist, (i % 2) ? 0.25 : 2.0);
    }
    return NULL;
}

Test(metrics, concurrent_updates_exact)
{
    metrics *m = metrics_new();
    metric_family *c = metrics_counter(m, "t_conc_total", "x", (const char *[]){"k", NULL});
    metric_family *h = metrics_histogram(m, "t_conc_seconds", "x", NULL, (const double[]){1}, 1);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){c, h, i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    /* render concurrently with the updates: must not crash or deadlock */
    for (int i = 0; i < 20; i++)
        free(render(m));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    struct got g = {0};
    cr_assert_eq(metrics_read(m, "t_conc_total", (const char *[]){"k", "shared", NULL}, grab, &g),
                 1);
    cr_expect_eq(g.value, (double)THREADS * ITERS, "shared %f", g.value);
    for (int i = 0; i < THREADS; i++) {
        char mine[16];
        snprintf(mine, sizeof mine, "t%d", i);
        g = (struct got){0};
        cr_assert_eq(metrics_read(m, "t_conc_total", (const char *[]){"k", mine, NULL}, grab, &g),
                     1);
        cr_expect_eq(g.value, ITERS * 0.5, "%s %f", mine, g.value);
    }
    g = (struct got){0};
    cr_assert_eq(metrics_read(m, "t_conc_total", NULL, grab, &g), THREADS + 1);
    g = (struct got){0};
    metrics_read(m, "t_conc_seconds", NULL, grab, &g);
    cr_expect_eq(g.count, (uint64_t)THREADS * ITERS);
    cr_expect_eq(g.buckets[0], (uint64_t)THREADS * ITERS / 2);
    cr_expect_eq(g.sum, THREADS * (ITERS / 2) * (0.25 + 2.0), "sum %f", g.sum);
    metrics_free(m);
}

/* Many threads creating the same new series at once get one series. */
static void *create_same(void *arg)
{
    metric_family *f = arg;
    char v[16];
    for (int i = 0; i < 200; i++) {
        snprintf(v, sizeof v, "s%d", i);
        metric_inc(metric_series1(f, v));
    }
    return NULL;
}

Test(metrics, concurrent_creation_one_series)
{
    metrics *m = metrics_new();
    metric_family *f = metrics_counter(m, "t_create_total", "x", (const char *[]){"k", NULL});
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, create_same, f);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(metrics_read(m, "t_create_total", NULL, grab, &(struct got){0}), 200);
    struct got g = {0};
    metrics_read(m, "t_create_total", (const char *[]){"k", "s7", NULL}, grab, &g);
    cr_expect_eq(g.value, THREADS);
    metrics_free(m);
}
