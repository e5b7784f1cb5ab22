/* alarms.h - alarms on the metrics registry, with CloudWatch semantics.
 *
 * An alarm watches one metric family (optionally the ratio of two), reduced
 * to one DATAPOINT per period by a statistic, and compares the last N
 * datapoints with a threshold: when at least M of them breach it the alarm
 * is in ALARM, else OK; with no data it is INSUFFICIENT_DATA (the initial
 * state).  treatMissingData says what a period without data counts as.
 *
 * DATAPOINTS.  Periods are aligned to the wall clock (multiples of the
 * period since the epoch) and a datapoint is stamped with its period's
 * start.  The matching series of the family are aggregated:
 *   gauges      are sampled (every sample interval and at each period end);
 *               Maximum/Minimum/Average/Sum/SampleCount over every sample of
 *               every matching series in the period;
 *   counters    become their INCREASE over the period per series (a counter
 *               that went down restarted from 0); Sum = the total increase,
 *               Maximum/Minimum/Average over the series' increases,
 *               SampleCount = the number of series;
 *   histograms  become the bucket-count increases over the period, summed
 *               over the series: pNN interpolates in the buckets (as
 *               Prometheus histogram_quantile), Average = sum/count,
 *               Sum = the observations' sum, SampleCount = their number.
 * Ratio alarms divide the numerator's datapoint by the denominator's (same
 * statistic); a zero or missing denominator is missing data.  A period in
 * which no series matches (or a histogram observed nothing, for pNN and
 * Average) has no datapoint: missing data.
 *
 * LABEL MATCHERS are {name, pattern}: the pattern is compared with the
 * series' label value; '*' matches any run of characters ("5*" = starts
 * with 5, "*-dlq" = ends with -dlq) and a leading '!' negates the match.
 *
 * THREAD SAFETY: alarms_add before alarms_start (main thread); afterwards
 * alarms_tick runs on the evaluator thread and the readers (alarms_json,
 * alarms_state) take the module lock from any thread.  The transition
 * callback runs on the evaluator thread without the lock held.
 */
#ifndef ORDERLY_ALARMS_H
#define ORDERLY_ALARMS_H
#include "lib/limits.h"
#include "obs/metrics.h"
#include <jansson.h>
#include <stdint.h>

typedef enum { ALARM_INSUFFICIENT_DATA = 0, ALARM_OK, ALARM_ALARM } alarm_state;

typedef enum {
    ALARM_STAT_MAXIMUM = 0,
    ALARM_STAT_MINIMUM,
    ALARM_STAT_AVERAGE,
    ALARM_STAT_SUM,
    ALARM_STAT_SAMPLE_COUNT,
    ALARM_STAT_PERCENTILE, /* alarm_def.percentile: 0 < q < 100 */
} alarm_stat;

typedef enum { ALARM_GT = 0, ALARM_GE, ALARM_LT, ALARM_LE } alarm_cmp;

typedef enum {
    ALARM_MISSING_MISSING = 0, /* neither good nor bad; all missing -> INSUFFICIENT_DATA */
    ALARM_MISSING_NOT_BREACHING,
    ALARM_MISSING_BREACHING,
    ALARM_MISSING_IGNORE, /* skipped: the last N periods WITH data are evaluated */
} alarm_missing;

typedef struct alarm_matcher {
    char name[LIMIT_METRICS_NAME_MAX + 1];
    char pattern[LIMIT_ALARM_LABEL_VALUE_MAX + 1];
} alarm_matcher;

typedef struct alarm_metric {
    char name[LIMIT_METRICS_NAME_MAX + 1]; /* a family of the registry */
    alarm_matcher labels[LIMIT_ALARM_LABELS_MAX];
    int nlabels;
} alarm_metric;

/* One alarm as configured (conf/config.c fills these from the file). */
typedef struct alarm_def {
    char name[LIMIT_ALARM_NAME_MAX + 1];
    char description[LIMIT_ALARM_DESCRIPTION_MAX + 1];
    alarm_metric metric;
    alarm_metric denominator; /* used when has_denominator */
    int has_denominator;
    alarm_stat statistic;
    double percentile; /* ALARM_STAT_PERCENTILE: 99 for "p99" */
    int period_s;
    int evaluation_periods;  /* N */
    int datapoints_to_alarm; /* M, 1..N */
    double threshold;
    alarm_cmp comparison;
    alarm_missing missing;
} alarm_def;

/* ---- Names ---------------------------------------------------------------- */

/* "Maximum", "Minimum", "Average", "Sum", "SampleCount", "pNN[.N...]":
 * 0 and the statistic (and percentile), or ORD_EINVAL. */
int alarm_stat_parse(const char *s, alarm_stat *stat, double *percentile);
/* Writes the statistic's name ("p99", "p99.9", "Maximum") into buf (of
 * ALARM_STAT_NAME_MAX bytes: every name fits). */
#define ALARM_STAT_NAME_MAX 24
const char *alarm_stat_name(alarm_stat stat, double percentile, char *buf, size_t len);
/* "GreaterThanThreshold" ...; index in alarm_cmp order, or -1. */
int alarm_cmp_parse(const char *s);
const char *alarm_cmp_name(alarm_cmp c);
/* "missing", "notBreaching", "breaching", "ignore"; or -1. */
int alarm_missing_parse(const char *s);
const char *alarm_missing_name(alarm_missing m);
/* "INSUFFICIENT_DATA", "OK", "ALARM". */
const char *alarm_state_name(alarm_state s);
/* 1 when value matches pattern ('*' wildcards, leading '!' negates). */
int alarm_label_match(const char *pattern, const char *value);
/* 1 when s is a valid metric or label name (Prometheus syntax). */
int alarm_metric_name_valid(const char *s);

/* ---- The evaluator ----------------------------------------------------------- */

typedef struct alarms alarms;

/* What a transition hands to the callback (borrowed for the call). */
typedef struct alarm_transition {
    const alarm_def *def;
    alarm_state old_state, new_state;
    const char *reason;        /* CloudWatch-like text */
    const json_t *reason_data; /* {version, queryDate, startDate, statistic, period, threshold,
                                  recentDatapoints, evaluatedDatapoints} */
    int64_t time_ms;           /* of the new state */
    int64_t old_time_ms;       /* when the old state began */
    const char *old_reason;
} alarm_transition;
typedef void (*alarm_transition_fn)(void *arg, const alarm_transition *t);

/* The event a transition is published as (CloudWatch's "Alarm State Change"). */
#define ALARM_EVENT_SOURCE "orderly.alarms"
#define ALARM_EVENT_TYPE   "AlarmStateChanged"
/* Its detail: {alarmName, state: {value, reason, reasonData (JSON text),
 * timestamp}, previousState: {value, reason, timestamp}, configuration: the
 * definition (alarm_def_json)}.  New reference; NULL when out of memory. */
json_t *alarm_transition_detail(const alarm_transition *t);

/* A new evaluator reading m (borrowed; must outlive it).  Registers the
 * gauge orderly_alarm_state{alarm,state}.  on_change (may be NULL) is called
 * for every transition, after the structured log line.  sample_s: gauges are
 * sampled this often (and at every period end).  NULL when out of memory or
 * when the gauge cannot be registered. */
alarms *alarms_new(metrics *m, int sample_s, alarm_transition_fn on_change, void *arg);
/* Stops the thread if running and frees everything.  Safe on NULL. */
void alarms_free(alarms *a);

/* Adds an alarm (before alarms_start; readers may already run).  Errors,
 * with a message in err:
 * ORD_EVALIDATION  invalid definition (names, bounds, M > N, a percentile on
 *                  a non-histogram is found only when data arrives: missing)
 * ORD_ENOTFOUND    the metric family (or the denominator's) is not registered
 * ORD_EEXISTS      an alarm of that name exists
 * ORD_ELIMIT       LIMIT_ALARMS_MAX alarms exist
 * ORD_ENOMEM */
int alarms_add(alarms *a, const alarm_def *def, char *err, size_t errlen);
int alarms_count(alarms *a);

/* Starts the evaluator thread (baseline sample now).  0 or ORD_ENOMEM. */
int alarms_start(alarms *a);
/* Stops and joins the thread; prompt (a condition variable wait).  Safe to
 * call twice or without start. */
void alarms_stop(alarms *a);

/* One step of the evaluator at wall time now_ms: samples every alarm's
 * metrics, closes the periods that ended (evaluating and transitioning) and
 * returns the wall time of the next step.  The thread calls it; unit tests
 * call it directly with chosen times (without alarms_start). */
int64_t alarms_tick(alarms *a, int64_t now_ms);

/* ---- Reading ------------------------------------------------------------------- */

/* The state of the alarm called name; -1 when there is none. */
int alarms_state(alarms *a, const char *name);
/* One alarm as JSON (definition, state, stateReason, stateReasonData,
 * stateUpdatedTimestamp, lastTransition), or every alarm as an array when
 * name is NULL.  New reference; NULL when name is unknown or out of memory
 * (*found tells which; may be NULL). */
json_t *alarms_json(alarms *a, const char *name, int *found);
/* The definition as JSON, in the config file's format: name, description,
 * metric, labels {name: pattern}, denominator {metric, labels} (when set),
 * statistic, periodSeconds, evaluationPeriods, datapointsToAlarm, threshold,
 * comparisonOperator, treatMissingData.  New reference; NULL when out of
 * memory. */
json_t *alarm_def_json(const alarm_def *d);

#endif
