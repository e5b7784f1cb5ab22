/* test_alarms.c - obs/alarms on a real registry: every statistic on gauges,
 * counters (as increases) and histograms (percentiles from bucket deltas),
 * ratios, label patterns, M out of N, each comparison, each
 * treatMissingData, the transitions with their reason, callback and state
 * gauge, stalled periods, definition errors and the thread's start/stop.
 * Time is driven by calling alarms_tick with chosen wall times. */
#include "lib/err.h"
#include "obs/alarms.h"
#include "obs/log.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define T0  1699999980000LL /* a multiple of 60 s */
#define SEC 1000LL

static metrics *m;
static alarms *al;

static void setup(void)
{
    log_setup("test", LOG_OFF);
    m = metrics_new();
    cr_assert(m);
}

static void teardown(void)
{
    alarms_free(al);
    al = NULL;
    metrics_free(m);
}

TestSuite(alarms, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

static alarm_def def(const char *name, const char *metric, const char *stat, int period_s,
                     double threshold, alarm_cmp cmp)
{
    alarm_def d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.metric.name, sizeof d.metric.name, "%s", metric);
    cr_assert_eq(alarm_stat_parse(stat, &d.statistic, &d.percentile), 0, "statistic %s", stat);
    d.period_s = period_s;
    d.evaluation_periods = 1;
    d.datapoints_to_alarm = 1;
    d.threshold = threshold;
    d.comparison = cmp;
    d.missing = ALARM_MISSING_MISSING;
    return d;
}

static void label(alarm_metric *mt, const char *name, const char *pattern)
{
    snprintf(mt->labels[mt->nlabels].name, sizeof mt->labels[0].name, "%s", name);
    snprintf(mt->labels[mt->nlabels].pattern, sizeof mt->labels[0].pattern, "%s", pattern);
    mt->nlabels++;
}

static void add(const alarm_def *d)
{
    char err[256] = "";
    int rc = alarms_add(al, d, err, sizeof err);
    cr_assert_eq(rc, 0, "alarms_add %s: %s (%s)", d->name, err_name(rc), err);
}

static const char *state(const char *name)
{
    int s = alarms_state(al, name);
    cr_assert(s >= 0, "no alarm %s", name);
    return alarm_state_name((alarm_state)s);
}

/* The newest datapoint of an alarm: its value, or NAN when missing. */
static double last_value(const char *name)
{
    int found = 0;
    json_t *o = alarms_json(al, name, &found);
    cr_assert(found && o, "alarm %s", name);
    json_t *r = json_object_get(o, "recentDatapoints");
    cr_assert(json_array_size(r) > 0, "%s has datapoints", name);
    json_t *v = json_object_get(json_array_get(r, json_array_size(r) - 1), "value");
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(o);
    return x;
}

static void expect_value(const char *name, double want)
{
    double got = last_value(name);
    cr_expect(fabs(got - want) < 1e-9, "%s: datapoint %.12g, want %.12g", name, got, want);
}

/* ---- names and patterns ------------------------------------------------------------- */

Test(alarms, statistic_comparison_and_missing_names)
{
    alarm_stat s;
    double q;
    char buf[ALARM_STAT_NAME_MAX];
    const char *ok[] = {"Maximum",     "Minimum", "Average",   "Sum",
                        "SampleCount", "p50",     "p99.99999", "p99.9"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_expect_eq(alarm_stat_parse(ok[i], &s, &q), 0, "%s", ok[i]);
        cr_expect_str_eq(alarm_stat_name(s, q, buf, sizeof buf), ok[i]);
    }
    cr_expect_eq(q, 99.9);
    const char *bad[] = {"",    "max",    "p",   "p0",  "p100", "p9.",
                         "p.5", "p1.2.3", "p-1", "P99", "p99x", "Maximum "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(alarm_stat_parse(bad[i], &s, &q), ORD_EINVAL, "'%s' is refused", bad[i]);
    cr_expect_eq(alarm_cmp_parse("GreaterThanThreshold"), ALARM_GT);
    cr_expect_eq(alarm_cmp_parse("GreaterThanOrEqualToThreshold"), ALARM_GE);
    cr_expect_eq(alarm_cmp_parse("LessThanThreshold"), ALARM_LT);
    cr_expect_eq(alarm_cmp_parse("LessThanOrEqualToThreshold"), ALARM_LE);
    cr_expect_eq(alarm_cmp_parse("GreaterThan"), -1);
    cr_expect_eq(alarm_missing_parse("notBreaching"), ALARM_MISSING_NOT_BREACHING);
    cr_expect_eq(alarm_missing_parse("ignore"), ALARM_MISSING_IGNORE);
    cr_expect_eq(alarm_missing_parse("NotBreaching"), -1);
    cr_expect_str_eq(alarm_state_name(ALARM_INSUFFICIENT_DATA), "INSUFFICIENT_DATA");
}

Test(alarms, label_patterns)
{
    cr_expect(alarm_label_match("5*", "503"));
    cr_expect(alarm_label_match("5*", "5"));
    cr_expect(!alarm_label_match("5*", "200"));
    cr_expect(alarm_label_match("*-dlq", "dev-orders-dlq"));
    cr_expect(!alarm_label_match("*-dlq", "dev-orders"));
    cr_expect(alarm_label_match("!*-dlq", "dev-orders"));
    cr_expect(!alarm_label_match("!*-dlq", "dev-orders-dlq"));
    cr_expect(alarm_label_match("a*b*c", "aXXbYbc"));
    cr_expect(!alarm_label_match("a*b*c", "aXXbYbcd"));
    cr_expect(alarm_label_match("*", ""));
    cr_expect(alarm_label_match("", ""));
    cr_expect(!alarm_label_match("", "x"));
    cr_expect(alarm_label_match("/api/queues/{name}/receive", "/api/queues/{name}/receive"));
    cr_expect(alarm_metric_name_valid("orderly_http_requests_total"));
    cr_expect(!alarm_metric_name_valid("9abc"));
    cr_expect(!alarm_metric_name_valid("a-b"));
    cr_expect(!alarm_metric_name_valid(""));
}

/* ---- statistics ----------------------------------------------------------------------- */

Test(alarms, gauge_statistics_over_samples_and_series)
{
    static const char *const lb[] = {"queue", NULL};
    metric_family *f = metrics_gauge(m, "g", "a gauge", lb);
    metric_series *a = metric_series1(f, "a"), *b = metric_series1(f, "b");
    al = alarms_new(m, 10, NULL, NULL);
    const char *stats[] = {"Maximum", "Minimum", "Average", "Sum", "SampleCount"};
    for (int i = 0; i < 5; i++) {
        alarm_def d = def(stats[i], "g", stats[i], 60, 0, ALARM_GT);
        add(&d);
    }
    double va[] = {1, 5, 3}, vb[] = {2, 4, 6};
    int64_t at[] = {T0, T0 + 20 * SEC, T0 + 60 * SEC}; /* the last closes the period */
    for (int i = 0; i < 3; i++) {
        metric_set(a, va[i]);
        metric_set(b, vb[i]);
        int64_t next = alarms_tick(al, at[i]);
        if (i == 0) cr_expect_eq(next, T0 + 10 * SEC, "next step: the sample interval");
    }
    expect_value("Maximum", 6);
    expect_value("Minimum", 1);
    expect_value("Average", 3.5);
    expect_value("Sum", 21);
    expect_value("SampleCount", 6);
}

Test(alarms, gauge_label_patterns_select_series)
{
    static const char *const lb[] = {"queue", NULL};
    metric_family *f = metrics_gauge(m, "age", "oldest age", lb);
    metric_set(metric_series1(f, "dev-orders"), 5);
    metric_set(metric_series1(f, "dev-orders-dlq"), 100);
    metric_set(metric_series1(f, "dev-payments"), 7);
    al = alarms_new(m, 10, NULL, NULL);
    alarm_def d = def("no-dlq", "age", "Maximum", 60, 0, ALARM_GT);
    label(&d.metric, "queue", "!*-dlq");
    add(&d);
    alarm_def e = def("orders-only", "age", "Maximum", 60, 0, ALARM_GT);
    label(&e.metric, "queue", "dev-orders");
    add(&e);
    alarm_def g = def("absent-label", "age", "SampleCount", 60, 0, ALARM_GT);
    label(&g.metric, "other", ""); /* a label the family lacks is "" */
    add(&g);
    alarms_tick(al, T0);
    alarms_tick(al, T0 + 60 * SEC);
    expect_value("no-dlq", 7);
    expect_value("orders-only", 5);
    expect_value("absent-label", 6);
}

Test(alarms, counters_count_increases_per_period)
{
    static const char *const lb[] = {"function", NULL};
    metric_family *f = metrics_counter(m, "errors_total", "errors", lb);
    metric_series *x = metric_series1(f, "x"), *y = metric_series1(f, "y");
    metric_add(x, 100); /* before the evaluator: the baseline, not an increase */
    metric_add(y, 50);
    al = alarms_new(m, 10, NULL, NULL);
    const char *stats[] = {"Sum", "Maximum", "Minimum", "Average", "SampleCount"};
    for (int i = 0; i < 5; i++) {
        alarm_def d = def(stats[i], "errors_total", stats[i], 60, 0, ALARM_GT);
        add(&d);
    }
    alarms_tick(al, T0);
    metric_add(x, 3);
    metric_add(y, 2);
    alarms_tick(al, T0 + 30 * SEC);
    metric_add(x, 1);
    metric_add(metric_series1(f, "z"), 4); /* a new series counts from 0 */
    alarms_tick(al, T0 + 60 * SEC);
    expect_value("Sum", 10);
    expect_value("Maximum", 4);
    expect_value("Minimum", 2);
    expect_value("Average", 10.0 / 3);
    expect_value("SampleCount", 3);

    alarms_tick(al, T0 + 120 * SEC); /* nothing happened: 0, not missing */
    expect_value("Sum", 0);
    expect_value("SampleCount", 3);

    metric_set(x, 1); /* a counter that went down restarted: its increase is its value */
    metric_add(y, 5);
    alarms_tick(al, T0 + 180 * SEC);
    expect_value("Sum", 6);
    expect_value("Maximum", 5);
}

Test(alarms, histogram_percentiles_from_bucket_deltas)
{
    static const double bounds[] = {0.1, 0.5, 1, 2.5};
    static const char *const lb[] = {"route", NULL};
    metric_family *f = metrics_histogram(m, "latency", "latency", lb, bounds, 4);
    metric_series *r1 = metric_series1(f, "/a"), *r2 = metric_series1(f, "/b");
    for (int i = 0; i < 100; i++)
        metric_observe(r1, 3.0); /* before start: not in any period */
    al = alarms_new(m, 10, NULL, NULL);
    const char *stats[] = {"p50", "p90", "p99", "Average", "Sum", "SampleCount"};
    for (int i = 0; i < 6; i++) {
        alarm_def d = def(stats[i], "latency", stats[i], 60, 1, ALARM_GT);
        add(&d);
    }
    alarm_def mx = def("max-on-histogram", "latency", "Maximum", 60, 1, ALARM_GT);
    add(&mx);
    alarms_tick(al, T0);
    for (int i = 0; i < 60; i++)
        metric_observe(r1, 0.05);
    for (int i = 0; i < 38; i++)
        metric_observe(r2, 0.05);
    metric_observe(r2, 0.7);
    metric_observe(r2, 0.7);
    alarms_tick(al, T0 + 60 * SEC);
    /* 100 observations: 98 in (0, 0.1], 2 in (0.5, 1] */
    expect_value("p50", 0.1 * 50 / 98);
    expect_value("p90", 0.1 * 90 / 98);
    expect_value("p99", 0.5 + 0.5 * (99.0 - 98) / 2);
    expect_value("Average", (98 * 0.05 + 1.4) / 100);
    expect_value("Sum", 98 * 0.05 + 1.4);
    expect_value("SampleCount", 100);
    cr_expect(isnan(last_value("max-on-histogram")), "Maximum is not kept by a histogram: missing");
    cr_expect_str_eq(state("p99"), "OK");

    /* beyond the last bound: the highest finite bound */
    metric_observe(r1, 10);
    alarms_tick(al, T0 + 120 * SEC);
    expect_value("p99", 2.5);
    expect_value("SampleCount", 1);
    cr_expect_str_eq(state("p99"), "ALARM");

    /* no observations: no percentile (missing), but a count of 0 */
    alarms_tick(al, T0 + 180 * SEC);
    cr_expect(isnan(last_value("p99")));
    expect_value("SampleCount", 0);
    cr_expect_str_eq(state("p99"), "INSUFFICIENT_DATA");
}

Test(alarms, ratio_of_two_counters)
{
    static const char *const lb[] = {"route", "code", NULL};
    metric_family *f = metrics_counter(m, "requests_total", "requests", lb);
    const char *ok[] = {"/x", "200"}, *e503[] = {"/x", "503"}, *e500[] = {"/y", "500"};
    al = alarms_new(m, 10, NULL, NULL);
    alarm_def d = def("5xx-rate", "requests_total", "Sum", 60, 0.05, ALARM_GT);
    label(&d.metric, "code", "5*");
    d.has_denominator = 1;
    snprintf(d.denominator.name, sizeof d.denominator.name, "requests_total");
    d.missing = ALARM_MISSING_NOT_BREACHING;
    add(&d);
    alarms_tick(al, T0);
    metric_add(metric_series_get(f, ok), 100); /* no 5xx series yet: 0 of 100 */
    alarms_tick(al, T0 + 60 * SEC);
    expect_value("5xx-rate", 0);
    cr_expect_str_eq(state("5xx-rate"), "OK");
    metric_add(metric_series_get(f, ok), 95);
    metric_add(metric_series_get(f, e503), 5);
    alarms_tick(al, T0 + 120 * SEC);
    expect_value("5xx-rate", 0.05);
    cr_expect_str_eq(state("5xx-rate"), "OK", "5 %% is not more than 5 %%");
    metric_add(metric_series_get(f, ok), 88);
    metric_add(metric_series_get(f, e503), 2);
    metric_add(metric_series_get(f, e500), 10);
    alarms_tick(al, T0 + 180 * SEC);
    expect_value("5xx-rate", 0.12);
    cr_expect_str_eq(state("5xx-rate"), "ALARM");
    alarms_tick(al, T0 + 240 * SEC); /* no requests: 0/0 is missing, treated as not breaching */
    cr_expect(isnan(last_value("5xx-rate")));
    cr_expect_str_eq(state("5xx-rate"), "OK");
}

Test(alarms, percentile_of_a_gauge_is_missing)
{
    metric_set(metric_series0(metrics_gauge(m, "g", "g", NULL)), 5);
    al = alarms_new(m, 10, NULL, NULL);
    alarm_def d = def("p", "g", "p99", 60, 1, ALARM_GT);
    add(&d);
    alarms_tick(al, T0);
    alarms_tick(al, T0 + 60 * SEC);
    cr_expect(isnan(last_value("p")));
    cr_expect_str_eq(state("p"), "INSUFFICIENT_DATA");
}

/* ---- evaluation ----------------------------------------------------------------------- */

Test(alarms, each_comparison_operator)
{
    metric_series *g = metric_series0(metrics_gauge(m, "g", "g", NULL));
    al = alarms_new(m, 10, NULL, NULL);
    const char *names[] = {"gt", "ge", "lt", "le"};
    for (int i = 0; i < 4; i++) {
        alarm_def d = def(names[i], "g", "Maximum", 60, 5, (alarm_cmp)i);
        add(&d);
    }
    /* value:            4      5      6 */
    const char *want[4][3] = {{"OK", "OK", "ALARM"},     /* > 5  */
                              {"OK", "ALARM", "ALARM"},  /* >= 5 */
                              {"ALARM", "OK", "OK"},     /* < 5  */
                              {"ALARM", "ALARM", "OK"}}; /* <= 5 */
    metric_set(g, 4);
    alarms_tick(al, T0 - 1);
    for (int v = 0; v < 3; v++) {
        metric_set(g, 4 + v);
        alarms_tick(al, T0 + v * 60 * SEC);
        for (int i = 0; i < 4; i++)
            cr_expect_str_eq(state(names[i]), want[i][v], "%s with value %d", names[i], 4 + v);
    }
}

Test(alarms, m_out_of_n)
{
    metric_series *g = metric_series0(metrics_gauge(m, "g", "g", NULL));
    al = alarms_new(m, 10, NULL, NULL);
    alarm_def d = def("2of3", "g", "Maximum", 60, 5, ALARM_GT);
    d.evaluation_periods = 3;
    d.datapoints_to_alarm = 2;
    add(&d);
    alarm_def e = def("3of3", "g", "Maximum", 60, 5, ALARM_GT);
    e.evaluation_periods = 3;
    e.datapoints_to_alarm = 3;
    add(&e);
    double vals[] = {10, 0, 10, 10, 0, 0};
    const char *want2[] = {"OK", "OK", "ALARM", "ALARM", "ALARM", "OK"};
    const char *want3[] = {"OK", "OK", "OK", "OK", "OK", "OK"};
    alarms_tick(al, T0 - 1);
    for (int i = 0; i < 6; i++) {
        metric_set(g, vals[i]);
        alarms_tick(al, T0 + i * 60 * SEC);
        cr_expect_str_eq(state("2of3"), want2[i], "2 of 3 after period %d", i);
        cr_expect_str_eq(state("3of3"), want3[i], "3 of 3 after period %d", i);
    }
    for (int i = 6; i < 9; i++) {
        metric_set(g, 10);
        alarms_tick(al, T0 + i * 60 * SEC);
    }
    cr_expect_str_eq(state("3of3"), "ALARM", "3 breaching in a row");
    json_t *o = alarms_json(al, "3of3", NULL);
    const char *reason = json_string_value(json_object_get(o, "stateReason"));
    cr_expect(strstr(reason, "Threshold Crossed: 3 out of the last 3 datapoints [10.0 (") == reason,
              "%s", reason);
    cr_expect(strstr(reason,
                     "were greater than the threshold (5.0) (minimum 3 datapoints for OK -> ALARM "
                     "transition).") != NULL,
              "%s", reason);
    json_decref(o);
}

Test(alarms, treat_missing_data)
{
    metric_family *f = metrics_gauge(m, "g", "g", NULL);
    al = alarms_new(m, 10, NULL, NULL);
    const char *modes[] = {"missing", "notBreaching", "breaching", "ignore"};
    for (int i = 0; i < 4; i++) {
        alarm_def d = def(modes[i], "g", "Maximum", 60, 5, ALARM_GT);
        d.missing = (alarm_missing)alarm_missing_parse(modes[i]);
        add(&d);
    }
    /* no series: every period is missing */
    alarms_tick(al, T0);
    alarms_tick(al, T0 + 60 * SEC);
    cr_expect_str_eq(state("missing"), "INSUFFICIENT_DATA");
    cr_expect_str_eq(state("notBreaching"), "OK");
    cr_expect_str_eq(state("breaching"), "ALARM");
    cr_expect_str_eq(state("ignore"), "INSUFFICIENT_DATA");
    /* data that breaches */
    metric_series *g = metric_series0(f);
    metric_set(g, 9);
    alarms_tick(al, T0 + 120 * SEC);
    for (int i = 0; i < 4; i++)
        cr_expect_str_eq(state(modes[i]), "ALARM", "%s with a breaching value", modes[i]);
    /* missing again */
    metric_family_hide(f);
    alarms_tick(al, T0 + 180 * SEC);
    cr_expect_str_eq(state("missing"), "INSUFFICIENT_DATA");
    cr_expect_str_eq(state("notBreaching"), "OK");
    cr_expect_str_eq(state("breaching"), "ALARM");
    cr_expect_str_eq(state("ignore"), "ALARM", "ignore keeps the state");
    json_t *o = alarms_json(al, "missing", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(o, "stateReason")),
                     "Insufficient Data: 1 datapoint was unknown.");
    json_decref(o);
    o = alarms_json(al, "notBreaching", NULL);
    cr_expect(strstr(json_string_value(json_object_get(o, "stateReason")),
                     "(1 missing datapoint treated as not "
                     "breaching)"),
              "%s", json_string_value(json_object_get(o, "stateReason")));
    json_decref(o);
}

struct seen {
    int n;
    char from[8][24], to[8][24], reason[8][512];
    int recent[8];
    json_t *detail[8];
};

static void on_change(void *arg, const alarm_transition *t)
{
    struct seen *s = arg;
    if (s->n >= 8) return;
    snprintf(s->from[s->n], sizeof s->from[0], "%s", alarm_state_name(t->old_state));
    snprintf(s->to[s->n], sizeof s->to[0], "%s", alarm_state_name(t->new_state));
    snprintf(s->reason[s->n], sizeof s->reason[0], "%s", t->reason);
    s->recent[s->n] = (int)json_array_size(json_object_get(t->reason_data, "recentDatapoints"));
    s->detail[s->n] = alarm_transition_detail(t);
    s->n++;
}

struct gauge_read {
    double alarm, ok, insufficient;
};

static void read_state(void *arg, const metric_value *v)
{
    struct gauge_read *g = arg;
    const char *st = v->label_values[1];
    if (!strcmp(st, "ALARM")) g->alarm = v->value;
    if (!strcmp(st, "OK")) g->ok = v->value;
    if (!strcmp(st, "INSUFFICIENT_DATA")) g->insufficient = v->value;
}

static struct gauge_read state_gauge(const char *name)
{
    struct gauge_read g = {-1, -1, -1};
    const char *match[] = {"alarm", name, NULL};
    cr_assert_eq(metrics_read(m, "orderly_alarm_state", match, read_state, &g), 3);
    return g;
}

Test(alarms, transitions_callback_reason_and_state_gauge)
{
    struct seen seen = {0};
    metric_series *g = metric_series0(metrics_gauge(m, "dlq", "dlq", NULL));
    al = alarms_new(m, 10, on_change, &seen);
    alarm_def d = def("dlq-visible", "dlq", "Maximum", 60, 0, ALARM_GT);
    snprintf(d.description, sizeof d.description, "messages in a DLQ");
    add(&d);
    struct gauge_read gr = state_gauge("dlq-visible");
    cr_expect(gr.insufficient == 1 && gr.ok == 0 && gr.alarm == 0, "initial gauge");
    json_t *o = alarms_json(al, "dlq-visible", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(o, "state")), "INSUFFICIENT_DATA");
    cr_expect_str_eq(json_string_value(json_object_get(o, "stateReason")),
                     "Unchecked: Initial alarm creation");
    cr_expect(json_is_null(json_object_get(o, "lastTransition")));
    json_decref(o);

    alarms_tick(al, T0);
    alarms_tick(al, T0 + 30 * SEC);
    cr_expect_eq(seen.n, 0, "no transition inside a period");
    alarms_tick(al, T0 + 60 * SEC);
    cr_expect_str_eq(state("dlq-visible"), "OK");
    metric_set(g, 3);
    alarms_tick(al, T0 + 90 * SEC);
    metric_set(g, 0);
    alarms_tick(al, T0 + 120 * SEC); /* samples 3 and 0 in this period: Maximum 3 */
    cr_expect_str_eq(state("dlq-visible"), "ALARM");
    alarms_tick(al, T0 + 150 * SEC);
    alarms_tick(al, T0 + 180 * SEC);
    cr_expect_str_eq(state("dlq-visible"), "OK");
    alarms_tick(al, T0 + 240 * SEC);
    alarms_tick(al, T0 + 300 * SEC); /* no change: no transition */

    cr_assert_eq(seen.n, 3);
    cr_expect_str_eq(seen.from[0], "INSUFFICIENT_DATA");
    cr_expect_str_eq(seen.to[0], "OK");
    cr_expect_str_eq(seen.from[1], "OK");
    cr_expect_str_eq(seen.to[1], "ALARM");
    cr_expect_str_eq(seen.from[2], "ALARM");
    cr_expect_str_eq(seen.to[2], "OK");
    cr_expect_str_eq(seen.reason[1],
                     "Threshold Crossed: 1 out of the last 1 datapoints [3.0 "
                     "(2023-11-14T22:14:00Z)] was greater "
                     "than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).");
    cr_expect_str_eq(seen.reason[2],
                     "Threshold Crossed: 1 out of the last 1 datapoints [0.0 "
                     "(2023-11-14T22:15:00Z)] was not greater "
                     "than the threshold (0.0) (minimum 1 datapoint for ALARM -> OK transition).");
    cr_expect_eq(seen.recent[1], 1);

    /* the AlarmStateChanged detail of OK -> ALARM */
    json_t *det = seen.detail[1];
    cr_assert(det);
    cr_expect_str_eq(json_string_value(json_object_get(det, "alarmName")), "dlq-visible");
    json_t *now = json_object_get(det, "state"), *prev = json_object_get(det, "previousState");
    cr_expect_str_eq(json_string_value(json_object_get(now, "value")), "ALARM");
    cr_expect_str_eq(json_string_value(json_object_get(now, "reason")), seen.reason[1]);
    cr_expect_str_eq(json_string_value(json_object_get(now, "timestamp")),
                     "2023-11-14T22:15:00.000Z");
    json_t *rdata = json_loads(json_string_value(json_object_get(now, "reasonData")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(rdata, "statistic")), "Maximum");
    cr_expect_str_eq(json_string_value(json_object_get(rdata, "startDate")),
                     "2023-11-14T22:14:00.000Z");
    json_decref(rdata);
    cr_expect_str_eq(json_string_value(json_object_get(prev, "value")), "OK");
    cr_expect_str_eq(json_string_value(json_object_get(prev, "timestamp")),
                     "2023-11-14T22:14:00.000Z");
    cr_expect(strstr(json_string_value(json_object_get(prev, "reason")), "was not greater") !=
              NULL);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(det, "configuration"), "metric")), "dlq");
    for (int i = 0; i < seen.n; i++)
        json_decref(seen.detail[i]);

    gr = state_gauge("dlq-visible");
    cr_expect(gr.insufficient == 0 && gr.ok == 1 && gr.alarm == 0, "gauge after ALARM -> OK");
    o = alarms_json(al, NULL, NULL);
    cr_assert_eq(json_array_size(o), 1);
    json_t *a0 = json_array_get(o, 0);
    cr_expect_str_eq(json_string_value(json_object_get(a0, "state")), "OK");
    cr_expect_str_eq(json_string_value(json_object_get(a0, "description")), "messages in a DLQ");
    json_t *lt = json_object_get(a0, "lastTransition");
    cr_expect_str_eq(json_string_value(json_object_get(lt, "from")), "ALARM");
    cr_expect_str_eq(json_string_value(json_object_get(lt, "to")), "OK");
    cr_expect_str_eq(json_string_value(json_object_get(lt, "timestamp")),
                     "2023-11-14T22:16:00.000Z");
    cr_expect_str_eq(json_string_value(json_object_get(a0, "stateUpdatedTimestamp")),
                     "2023-11-14T22:16:00.000Z");
    json_t *rd = json_object_get(a0, "stateReasonData");
    cr_expect_str_eq(json_string_value(json_object_get(rd, "statistic")), "Maximum");
    cr_expect_eq(json_integer_value(json_object_get(rd, "period")), 60);
    json_decref(o);
    cr_expect(alarms_json(al, "nope", NULL) == NULL);
}

Test(alarms, periods_without_a_step_are_missing)
{
    metric_series *g = metric_series0(metrics_gauge(m, "g", "g", NULL));
    metric_set(g, 1);
    al = alarms_new(m, 10, NULL, NULL);
    alarm_def d = def("g", "g", "Maximum", 1, 5, ALARM_LT);
    d.evaluation_periods = 3;
    d.datapoints_to_alarm = 3;
    add(&d);
    alarms_tick(al, T0);
    alarms_tick(al, T0 + 1 * SEC);
    alarms_tick(al, T0 + 2 * SEC);
    alarms_tick(al, T0 + 3 * SEC);
    cr_expect_str_eq(state("g"), "ALARM");
    /* a stall: the period [3 s, 4 s) got no step, nor did [4 s, 5 s); the
     * value seen at 5.5 s belongs to [5 s, 6 s) */
    int64_t next = alarms_tick(al, T0 + 5 * SEC + 500);
    cr_expect_eq(next, T0 + 6 * SEC, "next step: the period end");
    json_t *o = alarms_json(al, "g", NULL);
    json_t *r = json_object_get(o, "recentDatapoints");
    cr_assert_eq(json_array_size(r), 3);
    cr_expect_eq(json_number_value(json_object_get(json_array_get(r, 0), "value")), 1);
    cr_expect(json_is_null(json_object_get(json_array_get(r, 1), "value")));
    cr_expect(json_is_null(json_object_get(json_array_get(r, 2), "value")));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(r, 2), "timestamp")),
                     "2023-11-14T22:13:04.000Z");
    json_decref(o);
    cr_expect_str_eq(state("g"), "OK", "1 of 3 breaching, 2 missing");
    metric_set(g, 0);
    alarms_tick(al, T0 + 6 * SEC);
    expect_value("g", 1); /* the sample taken at 5.5 s is in [5 s, 6 s) */
}

/* ---- definitions --------------------------------------------------------------------- */

Test(alarms, definition_errors)
{
    metrics_gauge(m, "g", "g", NULL);
    al = alarms_new(m, 10, NULL, NULL);
    char err[256];
    alarm_def d = def("a", "nope", "Maximum", 60, 0, ALARM_GT);
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_ENOTFOUND);
    cr_expect(strstr(err, "\"nope\" is not a registered metric"), "%s", err);
    d = def("a", "g", "Maximum", 60, 0, ALARM_GT);
    d.has_denominator = 1;
    snprintf(d.denominator.name, sizeof d.denominator.name, "nope");
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_ENOTFOUND);
    d = def("a", "g", "Maximum", 60, 0, ALARM_GT);
    d.evaluation_periods = 2;
    d.datapoints_to_alarm = 3;
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_EVALIDATION, "M > N");
    d = def("a", "g", "Maximum", 86400, 0, ALARM_GT);
    d.evaluation_periods = 2;
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_EVALIDATION, "window over a day");
    d = def("a", "g", "Maximum", 0, 0, ALARM_GT);
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_EVALIDATION, "period 0");
    d = def("a", "g", "Maximum", 60, 0, ALARM_GT);
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), 0);
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_EEXISTS);
    for (int i = 1; i < LIMIT_ALARMS_MAX; i++) {
        snprintf(d.name, sizeof d.name, "a%d", i);
        cr_assert_eq(alarms_add(al, &d, err, sizeof err), 0, "alarm %d: %s", i, err);
    }
    snprintf(d.name, sizeof d.name, "one-too-many");
    cr_expect_eq(alarms_add(al, &d, err, sizeof err), ORD_ELIMIT);
    cr_expect_eq(alarms_count(al), LIMIT_ALARMS_MAX);
}

Test(alarms, definition_json)
{
    metrics_counter(m, "requests_total", "r", NULL);
    alarm_def d = def("rate", "requests_total", "p99.5", 60, 0.05, ALARM_GE);
    label(&d.metric, "code", "5*");
    d.has_denominator = 1;
    snprintf(d.denominator.name, sizeof d.denominator.name, "requests_total");
    d.missing = ALARM_MISSING_NOT_BREACHING;
    d.evaluation_periods = 3;
    d.datapoints_to_alarm = 2;
    json_t *j = alarm_def_json(&d);
    char *s = json_dumps(j, JSON_SORT_KEYS);
    cr_expect_str_eq(
        s,
        "{\"comparisonOperator\": \"GreaterThanOrEqualToThreshold\", \"datapointsToAlarm\": 2, "
        "\"denominator\": {\"labels\": {}, \"metric\": \"requests_total\"}, \"description\": \"\", "
        "\"evaluationPeriods\": 3, \"labels\": {\"code\": \"5*\"}, \"metric\": \"requests_total\", "
        "\"name\": \"rate\", \"periodSeconds\": 60, \"statistic\": \"p99.5\", "
        "\"threshold\": 0.050000000000000003, \"treatMissingData\": \"notBreaching\"}");
    free(s);
    json_decref(j);
}

/* ---- the thread -------------------------------------------------------------------------- */

Test(alarms, thread_evaluates_and_stops_promptly)
{
    metric_set(metric_series0(metrics_gauge(m, "g", "g", NULL)), 1);
    al = alarms_new(m, 60, NULL, NULL);
    alarm_def d = def("g", "g", "Maximum", 1, 5, ALARM_GT);
    add(&d);
    cr_assert_eq(alarms_start(al), 0);
    /* 1 s periods: OK after the first period end, at most ~2 s away */
    for (int i = 0; i < 300 && alarms_state(al, "g") != ALARM_OK; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_expect_str_eq(state("g"), "OK");
    alarms_stop(al); /* returns without waiting out the 60 s sample interval */
    alarms_stop(al);
}
