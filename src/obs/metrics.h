/* metrics.h - a small Prometheus registry: counters, gauges and histograms
 * with bounded label sets, rendered in the text exposition format 0.0.4.
 *
 * FAMILIES are registered once (at start, before traffic) with their label
 * names; a SERIES is one combination of label values.  Callers look a series
 * up once and keep the pointer: updates are lock-free atomics.  A family holds
 * at most LIMIT_METRICS_SERIES_PER_FAMILY series; metric_series_get() past that
 * returns NULL and counts the refusal in orderly_metrics_series_dropped_total.
 * Every update function accepts NULL and does nothing, so a caller need not
 * check.
 *
 * COLLECTORS mirror values that modules already keep (queue depths, store
 * stats, per-sku stock): they run at render/read time on the reading thread
 * and set gauges or counters from the module's own statistics.
 *
 * READING BACK: metrics_read() hands every matching series to a callback; the
 * alarm evaluator and tests use it.  It runs the collectors first.
 *
 * THREAD SAFETY: registration takes the registry lock; series lookup takes
 * the family lock; updates are atomic; render/read take the registry lock
 * (so collectors never run twice at once).
 *
 * NAMES follow Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * names [a-zA-Z_][a-zA-Z0-9_]* (no "__" prefix, no "le" on histograms);
 * label values are any UTF-8 and are escaped (\\, \", \n) when rendered.
 */
#ifndef ORDERLY_METRICS_H
#define ORDERLY_METRICS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_kind;

typedef struct metrics metrics;
typedef struct metric_family metric_family;
typedef struct metric_series metric_series;

metrics *metrics_new(void);
void metrics_free(metrics *m);

/* Registration.  labels is a NULL-terminated list of label names (NULL for
 * none).  bounds are the histogram's ascending finite upper bounds (the +Inf
 * bucket is implicit).  Returns NULL (and logs) for an invalid name, a
 * duplicate name, too many labels or bad bounds. */
metric_family *metrics_counter(metrics *m, const char *name, const char *help, const char *const *labels);
metric_family *metrics_gauge(metrics *m, const char *name, const char *help, const char *const *labels);
metric_family *metrics_histogram(metrics *m, const char *name, const char *help, const char *const *labels,
                                 const double *bounds, int nbounds);

/* The series with these label values (as many as the family has label
 * names; NULL for a family without labels), created on first use. */
metric_series *metric_series_get(metric_family *f, const char *const *values);
/* Shorthands for families with no label / one label. */
metric_series *metric_series0(metric_family *f);
metric_series *metric_series1(metric_family *f, const char *value);

/* For collectors whose label set changes (per-sku gauges): leaves every
 * series of f out of render and read until metric_series_get returns it
 * again.  Hidden series keep their slot (the family bound still counts it). */
void metric_family_hide(metric_family *f);

void metric_inc(metric_series *s);                /* counter or gauge += 1 */
void metric_add(metric_series *s, double by);     /* counter (by >= 0) or gauge += by */
void metric_set(metric_series *s, double v);      /* gauge; or a counter mirrored by a collector */
void metric_observe(metric_series *s, double v);  /* histogram */
/* Histogram mirrored by a collector from a module's own buckets: sets the
 * nbounds+1 per-bucket counts (NOT cumulative; the last is the +Inf
 * overflow) and the sum. */
void metric_hist_set(metric_series *s, const uint64_t *counts, double sum);

/* Collectors run (in registration order) before every render and read,
 * under the registry lock: a collector must not register families or
 * collectors.  What a collector reads must outlive the registry's last
 * render/read (or be removed first with metrics_off_collect). */
void metrics_on_collect(metrics *m, void (*fn)(void *arg), void *arg);
/* Removes the collector (fn, arg); a no-op when it is not registered. */
void metrics_off_collect(metrics *m, void (*fn)(void *arg), void *arg);

/* Renders every family (HELP, TYPE, series; histograms as _bucket{le},
 * _sum, _count) into a malloc'd buffer.  Returns 0 or ORD_ENOMEM. */
int metrics_render(metrics *m, char **out, size_t *len);

typedef struct metric_value {
    metric_kind kind;
    int nlabels;
    const char *const *label_names;
    const char *const *label_values;
    double value;             /* counter/gauge */
    uint64_t count;           /* histogram: observations */
    double sum;               /* histogram: sum of observations */
    int nbounds;              /* histogram: finite bounds ... */
    const double *bounds;
    const uint64_t *buckets;  /* ... and nbounds+1 CUMULATIVE counts (last = +Inf = count) */
} metric_value;

/* Calls fn for every series of family `name` whose labels include every
 * pair of `match` (NULL-terminated "name", "value", ... list; NULL = all).
 * Returns the number of series passed to fn, or -1 if no such family. */
int metrics_read(metrics *m, const char *name, const char *const *match,
                 void (*fn)(void *arg, const metric_value *v), void *arg);
/* Runs the collectors once; then metrics_read_collected(..., 0) reads
 * several families from that one collection (the alarm evaluator's tick:
 * the collectors' SQL reads run once per tick, not once per alarm). */
void metrics_collect(metrics *m);
int metrics_read_collected(metrics *m, const char *name, const char *const *match,
                           void (*fn)(void *arg, const metric_value *v), void *arg, int run_collectors);

#endif
