/* alarms.c - the alarm evaluator: samples the metrics registry, reduces each
 * alarm's metric to one datapoint per period, evaluates M out of N and
 * reports transitions (log line, gauge, callback).
 *
 * DESIGN.  Per alarm and per side (numerator, denominator) the evaluator
 * keeps the period's accumulator and, for counters and histograms, the last
 * value of every matching series, keyed by its label values (the registry
 * hands series in creation order, so the key at the same index is checked
 * first).  The first sample after start is the baseline: counters and
 * histograms count increases from there; a series that appears later started
 * at 0.  Closed datapoints go into a ring of N; a transition is decided on
 * the ring after every period end.
 *
 * THREAD SAFETY: see alarms.h.  alarms_tick holds the module lock while it
 * samples and evaluates; the transition callbacks run after it is released.
 */
#include "obs/alarms.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/count.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"

#define STATE_FAMILY "orderly_alarm_state"
#define KEY_SEP      '\x1f'

/* ---- Names ------------------------------------------------------------------ */

static const char *const stat_names[] = {"Maximum", "Minimum", "Average", "Sum", "SampleCount"};
static const char *const cmp_names[] = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                        "LessThanThreshold", "LessThanOrEqualToThreshold"};
static const char *const cmp_words[] = {"greater than", "greater than or equal to", "less than",
                                        "less than or equal to"};
static const char *const missing_names[] = {"missing", "notBreaching", "breaching", "ignore"};
static const char *const state_names[] = {"INSUFFICIENT_DATA", "OK", "ALARM"};


static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

int alarm_stat_parse(const char *s, alarm_stat *stat, double *percentile)
{
    int i = find_name(stat_names, (int)COUNT(stat_names), s);
    if (i >= 0) {
        *stat = (alarm_stat)i;
        *percentile = 0;
        return 0;
    }
    /* pNN or pNN.N...: digits, at most one '.', 0 < q < 100 */
    if (s[0] != 'p' || s[1] < '0' || s[1] > '9' || strlen(s) > 10) return ORD_EINVAL;
    if (s[strspn(s + 1, "0123456789.") + 1] || strchr(s, '.') != strrchr(s, '.')) return ORD_EINVAL;
    if (s[strlen(s) - 1] == '.') return ORD_EINVAL;
    double q = strtod(s + 1, NULL);
    if (!(q > 0 && q < 100)) return ORD_EINVAL;
    *stat = ALARM_STAT_PERCENTILE;
    *percentile = q;
    return 0;
}

const char *alarm_stat_name(alarm_stat stat, double percentile, char *buf, size_t len)
{
    if (stat == ALARM_STAT_PERCENTILE)
        snprintf(buf, len, "p%.10g", percentile);
    else
        str_copy(buf, len, stat_names[stat]);
    return buf;
}

int alarm_cmp_parse(const char *s)
{
    return find_name(cmp_names, (int)COUNT(cmp_names), s);
}

const char *alarm_cmp_name(alarm_cmp c)
{
    return cmp_names[c];
}

int alarm_missing_parse(const char *s)
{
    return find_name(missing_names, (int)COUNT(missing_names), s);
}

const char *alarm_missing_name(alarm_missing m)
{
    return missing_names[m];
}

const char *alarm_state_name(alarm_state s)
{
    return state_names[s];
}

/* '*' matches any run (backtracking to the last star: linear enough for
 * patterns of at most LIMIT_ALARM_LABEL_VALUE_MAX bytes) */
static int glob(const char *p, const char *v)
{
    const char *star = NULL, *resume = NULL;
    while (*v) {
        if (*p == '*') {
            star = p++;
            resume = v;
        } else if (*p == *v) {
            p++;
            v++;
        } else if (star) {
            p = star + 1;
            v = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

int alarm_label_match(const char *pattern, const char *value)
{
    if (pattern[0] == '!') return !glob(pattern + 1, value);
    return glob(pattern, value);
}

int alarm_metric_name_valid(const char *s)
{
    static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:";
    if (!*s || !strchr(first, *s) || strlen(s) > LIMIT_METRICS_NAME_MAX) return 0;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789")] == 0;
}

/* ---- State ---------------------------------------------------------------------- */

typedef struct series {
    char *key;         /* label values joined by KEY_SEP */
    double last;       /* counter: last value; histogram: last sum */
    uint64_t *buckets; /* histogram: last cumulative counts (nbounds + 1) */
    double inc;        /* counter: increase in the current period */
    int touched;       /* counter: seen in the current period */
} series;

typedef struct side {
    const alarm_metric *m;
    series *s;
    int n, cap, cursor;
    int kind;   /* metric_kind of the series seen, -1 before */
    int warned; /* one warning per kind of trouble */
    /* the current period */
    uint64_t samples; /* gauge */
    double sum, min, max;
    double *bounds; /* histogram: the bounds of the first series */
    int nbounds;
    uint64_t *hinc; /* histogram: cumulative count increases, nbounds + 1 */
    double hsum;
    int hseen;
    int baseline; /* the first sample after start is being taken */
} side;

typedef struct datapoint {
    int64_t ts_ms; /* period start */
    double v;
    int present;
} datapoint;

typedef struct alarm {
    alarm_def d;
    side num, den;
    int64_t period_start_ms; /* 0 before the first tick */
    datapoint *ring;         /* N entries, oldest at ring_head when full */
    int ring_n, ring_head;
    alarm_state state;
    int64_t state_ms;
    char *reason;
    json_t *reason_data;
    int has_transition;
    alarm_state last_from, last_to;
    int64_t last_ms;
    metric_series *gauge[3];
} alarm;

/* a transition to report once the lock is released */
typedef struct pending {
    alarm_transition t;
    char *old_reason;
} pending;

struct alarms {
    metrics *m;
    int sample_ms;
    alarm_transition_fn on_change;
    void *arg;
    metric_family *state_family;
    alarm **v;     /* each alarm is its own allocation: sides point into it */
    pending *pend; /* one per alarm, for alarms_tick */
    int n;
    int64_t created_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stop;
};

static void set_gauge(alarm *al)
{
    for (int i = 0; i < 3; i++)
        metric_set(al->gauge[i], i == (int)al->state ? 1 : 0);
}

alarms *alarms_new(metrics *m, int sample_s, alarm_transition_fn on_change, void *arg)
{
    CHECK(m != NULL);
    CHECK(sample_s >= 1);
    alarms *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    static const char *const labels[] = {"alarm", "state", NULL};
    a->state_family =
        metrics_gauge(m, STATE_FAMILY, "1 for the current state of each alarm", labels);
    if (!a->state_family) {
        free(a);
        return NULL;
    }
    a->m = m;
    a->sample_ms = sample_s * 1000;
    a->on_change = on_change;
    a->arg = arg;
    a->created_ms = clock_wall_ms();
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    return a;
}

static void side_release(side *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->s[i].key);
        free(s->s[i].buckets);
    }
    free(s->s);
    free(s->bounds);
    free(s->hinc);
}

void alarms_free(alarms *a)
{
    if (!a) return;
    alarms_stop(a);
    for (int i = 0; i < a->n; i++) {
        alarm *al = a->v[i];
        side_release(&al->num);
        side_release(&al->den);
        free(al->ring);
        free(al->reason);
        json_decref(al->reason_data);
        free(al);
    }
    free(a->v);
    free(a->pend);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int alarms_count(alarms *a)
{
    pthread_mutex_lock(&a->mu);
    int n = a->n;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* ---- Definitions -------------------------------------------------------------------- */

static void count_cb(void *arg, const metric_value *v)
{
    (void)arg;
    (void)v;
}

static int check_metric(alarms *a, const alarm_metric *m, const char *what, char *err,
                        size_t errlen)
{
    if (!alarm_metric_name_valid(m->name)) {
        snprintf(err, errlen, "%s \"%s\" is not a valid metric name", what, m->name);
        return ORD_EVALIDATION;
    }
    for (int i = 0; i < m->nlabels; i++)
        if (!alarm_metric_name_valid(m->labels[i].name)) {
            snprintf(err, errlen, "%s label \"%s\" is not a valid label name", what,
                     m->labels[i].name);
            return ORD_EVALIDATION;
        }
    if (metrics_read(a->m, m->name, NULL, count_cb, NULL) < 0) {
        snprintf(err, errlen, "%s \"%s\" is not a registered metric", what, m->name);
        return ORD_ENOTFOUND;
    }
    return 0;
}

static int add(alarms *a, const alarm_def *d, char *err, size_t errlen);

int alarms_add(alarms *a, const alarm_def *d, char *err, size_t errlen)
{
    CHECK(!a->running);
    pthread_mutex_lock(&a->mu); /* readers (GET /api/alarms) may run already */
    int rc = add(a, d, err, errlen);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int add(alarms *a, const alarm_def *d, char *err, size_t errlen)
{
    int rc;
    if (a->n >= LIMIT_ALARMS_MAX) {
        snprintf(err, errlen, "at most %d alarms", LIMIT_ALARMS_MAX);
        return ORD_ELIMIT;
    }
    if (!d->name[0] || d->period_s < LIMIT_ALARM_PERIOD_S_MIN ||
        d->period_s > LIMIT_ALARM_PERIOD_S_MAX || d->evaluation_periods < 1 ||
        d->evaluation_periods > LIMIT_ALARM_EVAL_PERIODS_MAX || d->datapoints_to_alarm < 1 ||
        d->datapoints_to_alarm > d->evaluation_periods ||
        (int64_t)d->period_s * d->evaluation_periods > LIMIT_ALARM_WINDOW_S_MAX ||
        !(fabs(d->threshold) <= LIMIT_ALARM_THRESHOLD_ABS_MAX)) {
        snprintf(err, errlen,
                 "alarm \"%s\": name, period, evaluation periods, datapoints to alarm or "
                 "threshold out of range",
                 d->name);
        return ORD_EVALIDATION;
    }
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i]->d.name, d->name)) {
            snprintf(err, errlen, "duplicate alarm name \"%s\"", d->name);
            return ORD_EEXISTS;
        }
    if ((rc = check_metric(a, &d->metric, "metric", err, errlen))) return rc;
    if (d->has_denominator && (rc = check_metric(a, &d->denominator, "denominator", err, errlen)))
        return rc;

    pending *pend = realloc(a->pend, (size_t)(a->n + 1) * sizeof *pend);
    if (!pend) return ORD_ENOMEM;
    a->pend = pend;
    alarm **v = realloc(a->v, (size_t)(a->n + 1) * sizeof *v);
    if (!v) return ORD_ENOMEM;
    a->v = v;
    alarm *al = calloc(1, sizeof *al);
    if (!al) return ORD_ENOMEM;
    al->d = *d;
    al->num.m = &al->d.metric;
    al->den.m = &al->d.denominator;
    al->num.kind = al->den.kind = -1;
    al->num.baseline = al->den.baseline = 1;
    al->state = ALARM_INSUFFICIENT_DATA;
    al->state_ms = a->created_ms;
    al->ring = calloc((size_t)d->evaluation_periods, sizeof *al->ring);
    al->reason = strdup("Unchecked: Initial alarm creation");
    if (!al->ring || !al->reason) {
        free(al->ring);
        free(al->reason);
        free(al);
        return ORD_ENOMEM;
    }
    for (int i = 0; i < 3; i++) {
        const char *vals[] = {d->name, state_names[i]};
        al->gauge[i] = metric_series_get(a->state_family, vals);
    }
    set_gauge(al);
    v[a->n++] = al;
    return 0;
}

/* ---- Sampling ------------------------------------------------------------------------- */

static const char *label_value(const metric_value *v, const char *name)
{
    for (int i = 0; i < v->nlabels; i++)
        if (!strcmp(v->label_names[i], name)) return v->label_values[i];
    return ""; /* as in Prometheus: an absent label is empty */
}

static int matches(const alarm_metric *m, const metric_value *v)
{
    for (int i = 0; i < m->nlabels; i++)
        if (!alarm_label_match(m->labels[i].pattern, label_value(v, m->labels[i].name))) return 0;
    return 1;
}

/* The key of v's series into buf; 0, or -1 when it does not fit. */
static int series_key(const metric_value *v, char *buf, size_t len)
{
    size_t off = 0;
    for (int i = 0; i < v->nlabels; i++) {
        int n = snprintf(buf + off, len - off, "%s%c", v->label_values[i], KEY_SEP);
        if (n < 0 || (size_t)n >= len - off) return -1;
        off += (size_t)n;
    }
    buf[off] = 0;
    return 0;
}

/* The state of v's series, created (with *fresh set) when new; NULL when out of memory. */
static series *series_find(side *s, const metric_value *v, int *fresh)
{
    char key[4096];
    *fresh = 0;
    if (series_key(v, key, sizeof key)) return NULL;
    int i = s->cursor;
    if (i >= s->n || strcmp(s->s[i].key, key)) {
        for (i = 0; i < s->n && strcmp(s->s[i].key, key); i++) {
        }
    }
    if (i == s->n) {
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 8;
            series *ns = realloc(s->s, (size_t)cap * sizeof *ns);
            if (!ns) return NULL;
            s->s = ns;
            s->cap = cap;
        }
        memset(&s->s[i], 0, sizeof s->s[i]);
        if (!(s->s[i].key = strdup(key))) return NULL;
        s->n++;
        *fresh = 1;
    }
    s->cursor = i + 1;
    return &s->s[i];
}

static void warn_once(side *s, int bit, const char *alarm_name, const char *msg)
{
    if (s->warned & bit) return;
    s->warned |= bit;
    log_warn("alarms", msg, "alarm", alarm_name, "metric", s->m->name, NULL);
}

typedef struct sample_ctx {
    side *s;
    const char *alarm_name;
} sample_ctx;

static void sample_counter(side *s, const metric_value *v)
{
    int fresh;
    series *se = series_find(s, v, &fresh);
    if (!se) return;
    if (fresh && s->baseline) se->last = v->value; /* existing before: count from here */
    double d = v->value >= se->last ? v->value - se->last : v->value; /* below: restarted */
    se->inc += d;
    se->last = v->value;
    se->touched = 1;
}

static void sample_histogram(sample_ctx *c, const metric_value *v)
{
    side *s = c->s;
    int nb = v->nbounds;
    if (!s->bounds) {
        s->bounds = malloc((size_t)(nb ? nb : 1) * sizeof *s->bounds);
        s->hinc = calloc((size_t)nb + 1, sizeof *s->hinc);
        if (!s->bounds || !s->hinc) {
            free(s->bounds);
            free(s->hinc);
            s->bounds = NULL;
            s->hinc = NULL;
            return;
        }
        if (nb) memcpy(s->bounds, v->bounds, (size_t)nb * sizeof *s->bounds);
        s->nbounds = nb;
    }
    if (nb != s->nbounds || (nb && memcmp(s->bounds, v->bounds, (size_t)nb * sizeof *s->bounds))) {
        warn_once(s, 1, c->alarm_name, "histogram series with other buckets ignored");
        return;
    }
    int fresh;
    series *se = series_find(s, v, &fresh);
    if (!se) return;
    if (!se->buckets) {
        if (!(se->buckets = calloc((size_t)nb + 1, sizeof *se->buckets))) return;
        if (fresh && s->baseline) { /* existing before: count from here */
            memcpy(se->buckets, v->buckets, ((size_t)nb + 1) * sizeof *se->buckets);
            se->last = v->sum;
        }
    }
    int reset = v->buckets[nb] < se->buckets[nb];
    for (int i = 0; i <= nb && !reset; i++)
        reset = v->buckets[i] < se->buckets[i];
    for (int i = 0; i <= nb; i++)
        s->hinc[i] += v->buckets[i] - (reset ? 0 : se->buckets[i]);
    s->hsum += v->sum - (reset ? 0 : se->last);
    memcpy(se->buckets, v->buckets, ((size_t)nb + 1) * sizeof *se->buckets);
    se->last = v->sum;
    s->hseen = 1;
}

static void sample_cb(void *arg, const metric_value *v)
{
    sample_ctx *c = arg;
    side *s = c->s;
    if (!matches(s->m, v)) return;
    if (s->kind < 0) s->kind = (int)v->kind;
    switch (v->kind) {
    case METRIC_GAUGE:
        if (s->samples == 0 || v->value > s->max) s->max = v->value;
        if (s->samples == 0 || v->value < s->min) s->min = v->value;
        s->sum += v->value;
        s->samples++;
        break;
    case METRIC_COUNTER:
        sample_counter(s, v);
        break;
    case METRIC_HISTOGRAM:
        sample_histogram(c, v);
        break;
    }
}

static void read_side(alarms *a, alarm *al, side *s)
{
    sample_ctx c = {s, al->d.name};
    s->cursor = 0;
    metrics_read_collected(a->m, s->m->name, NULL, sample_cb, &c, 0);
    s->baseline = 0;
}

static void sample_side(alarms *a, alarm *al, int with_denominator)
{
    read_side(a, al, &al->num);
    if (with_denominator) read_side(a, al, &al->den);
}

/* ---- Datapoints ------------------------------------------------------------------------- */

/* Prometheus histogram_quantile over cumulative counts; count > 0. */
static double quantile(double q, const double *bounds, int nb, const uint64_t *cum)
{
    double rank = q * (double)cum[nb];
    int b = 0;
    while (b < nb && (double)cum[b] < rank)
        b++;
    if (b == nb) return nb ? bounds[nb - 1] : NAN; /* in +Inf: the highest finite bound */
    double start = b ? bounds[b - 1] : (bounds[0] > 0 ? 0 : bounds[0]);
    uint64_t below = b ? cum[b - 1] : 0;
    uint64_t in = cum[b] - below;
    if (in == 0) return bounds[b];
    return start + (bounds[b] - start) * ((rank - (double)below) / (double)in);
}

/* The side's value for the period just ended (*present = 0: missing); then
 * resets the period's accumulators. */
static double side_close(alarm *al, side *s, int *present)
{
    const alarm_def *d = &al->d;
    double v = 0;
    *present = 0;
    if (s->kind == METRIC_GAUGE && s->samples) {
        *present = 1;
        switch (d->statistic) {
        case ALARM_STAT_MAXIMUM:
            v = s->max;
            break;
        case ALARM_STAT_MINIMUM:
            v = s->min;
            break;
        case ALARM_STAT_AVERAGE:
            v = s->sum / (double)s->samples;
            break;
        case ALARM_STAT_SUM:
            v = s->sum;
            break;
        case ALARM_STAT_SAMPLE_COUNT:
            v = (double)s->samples;
            break;
        case ALARM_STAT_PERCENTILE:
            *present = 0;
            warn_once(s, 2, d->name, "percentiles need a histogram: no datapoint");
            break;
        }
    } else if (s->kind == METRIC_COUNTER) {
        int k = 0;
        double sum = 0, mn = 0, mx = 0;
        for (int i = 0; i < s->n; i++) {
            series *se = &s->s[i];
            if (!se->touched) continue;
            if (k == 0 || se->inc < mn) mn = se->inc;
            if (k == 0 || se->inc > mx) mx = se->inc;
            sum += se->inc;
            k++;
            se->inc = 0;
            se->touched = 0;
        }
        *present = k > 0;
        switch (d->statistic) {
        case ALARM_STAT_MAXIMUM:
            v = mx;
            break;
        case ALARM_STAT_MINIMUM:
            v = mn;
            break;
        case ALARM_STAT_AVERAGE:
            v = k ? sum / k : 0;
            break;
        case ALARM_STAT_SUM:
            v = sum;
            break;
        case ALARM_STAT_SAMPLE_COUNT:
            v = k;
            break;
        case ALARM_STAT_PERCENTILE:
            *present = 0;
            if (k) warn_once(s, 2, d->name, "percentiles need a histogram: no datapoint");
            break;
        }
    } else if (s->kind == METRIC_HISTOGRAM && s->hseen) {
        uint64_t count = s->hinc[s->nbounds];
        *present = 1;
        switch (d->statistic) {
        case ALARM_STAT_SUM:
            v = s->hsum;
            break;
        case ALARM_STAT_SAMPLE_COUNT:
            v = (double)count;
            break;
        case ALARM_STAT_AVERAGE:
            *present = count > 0;
            v = count ? s->hsum / (double)count : 0;
            break;
        case ALARM_STAT_PERCENTILE:
            *present = count > 0 && s->nbounds > 0;
            v = *present ? quantile(d->percentile / 100, s->bounds, s->nbounds, s->hinc) : 0;
            break;
        default:
            *present = 0;
            warn_once(s, 4, d->name,
                      "Maximum and Minimum are not kept by histograms: no datapoint");
        }
        memset(s->hinc, 0, ((size_t)s->nbounds + 1) * sizeof *s->hinc);
        s->hsum = 0;
        s->hseen = 0;
    }
    s->samples = 0;
    s->sum = s->min = s->max = 0;
    return v;
}

static datapoint period_close(alarm *al)
{
    datapoint p = {al->period_start_ms, 0, 0};
    int np, dp;
    double n = side_close(al, &al->num, &np);
    if (!al->d.has_denominator) {
        p.v = n;
        p.present = np;
        return p;
    }
    double dn = side_close(al, &al->den, &dp);
    if (dp && dn != 0) { /* no numerator series (no 5xx yet) is 0 of something */
        p.v = np ? n / dn : 0;
        p.present = 1;
    }
    return p;
}

static void ring_push(alarm *al, datapoint p)
{
    int N = al->d.evaluation_periods;
    if (!p.present && al->d.missing == ALARM_MISSING_IGNORE) return;
    if (al->ring_n < N) {
        al->ring[(al->ring_head + al->ring_n++) % N] = p;
    } else {
        al->ring[al->ring_head] = p;
        al->ring_head = (al->ring_head + 1) % N;
    }
}

/* i-th datapoint of the window, 0 = oldest */
static const datapoint *ring_at(const alarm *al, int i)
{
    return &al->ring[(al->ring_head + i) % al->d.evaluation_periods];
}

static int breaches(const alarm_def *d, double v)
{
    switch (d->comparison) {
    case ALARM_GT:
        return v > d->threshold;
    case ALARM_GE:
        return v >= d->threshold;
    case ALARM_LT:
        return v < d->threshold;
    case ALARM_LE:
        return v <= d->threshold;
    }
    return 0;
}

/* ---- Evaluation -------------------------------------------------------------------------------
 */

/* "5.0", "0.05", "1e+20": a number as CloudWatch prints it (one decimal at least) */
static void fmt_num(char *buf, size_t len, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.1f", v);
    else
        snprintf(buf, len, "%.6g", v);
}

static json_t *reason_data(const alarm *al, int64_t now_ms)
{
    char iso[32], stat[ALARM_STAT_NAME_MAX];
    const alarm_def *d = &al->d;
    json_t *recent = json_array(), *eval = json_array();
    for (int i = 0; i < al->ring_n; i++) {
        const datapoint *p = ring_at(al, i);
        if (p->present) json_array_append_new(recent, json_real(p->v));
    }
    for (int i = al->ring_n - 1; i >= 0; i--) { /* newest first, as CloudWatch */
        const datapoint *p = ring_at(al, i);
        json_t *e = json_pack("{s:s}", "timestamp", clock_fmt_iso(p->ts_ms, 1, iso, sizeof iso));
        if (e && p->present) json_object_set_new(e, "value", json_real(p->v));
        json_array_append_new(eval, e);
    }
    int64_t start = al->ring_n ? ring_at(al, 0)->ts_ms : al->period_start_ms;
    char q[32];
    return json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:f,s:o}", "version", "1.0", "queryDate",
                     clock_fmt_iso(now_ms, 1, q, sizeof q), "startDate",
                     clock_fmt_iso(start, 1, iso, sizeof iso), "statistic",
                     alarm_stat_name(d->statistic, d->percentile, stat, sizeof stat), "period",
                     d->period_s, "recentDatapoints", recent, "threshold", d->threshold,
                     "evaluatedDatapoints", eval);
}

/* The state the window calls for, and its reason; returns the old state
 * when the window does not decide (ignore with no data). */
static alarm_state decide(const alarm *al, char *reason, size_t len)
{
    const alarm_def *d = &al->d;
    int k = al->ring_n, present = 0, bad = 0;
    for (int i = 0; i < k; i++) {
        const datapoint *p = ring_at(al, i);
        if (!p->present) continue;
        present++;
        bad += breaches(d, p->v);
    }
    int missing = k - present;
    if (present == 0 &&
        (d->missing == ALARM_MISSING_MISSING || d->missing == ALARM_MISSING_IGNORE)) {
        if (d->missing == ALARM_MISSING_IGNORE) return al->state;
        snprintf(reason, len, "Insufficient Data: %d datapoint%s %s unknown.", k, k == 1 ? "" : "s",
                 k == 1 ? "was" : "were");
        return ALARM_INSUFFICIENT_DATA;
    }
    int counted_bad = bad + (d->missing == ALARM_MISSING_BREACHING ? missing : 0);
    alarm_state next = counted_bad >= d->datapoints_to_alarm ? ALARM_ALARM : ALARM_OK;
    int shown = next == ALARM_ALARM ? bad : present - bad;

    /* "[5.0 (2024-01-02T03:04:00.000Z), 3.0 (...)]": the datapoints backing the verdict, newest
     * first */
    char list[512] = "";
    size_t off = 0;
    for (int i = k - 1; i >= 0 && off < sizeof list - 64; i--) {
        const datapoint *p = ring_at(al, i);
        if (!p->present || breaches(d, p->v) != (next == ALARM_ALARM)) continue;
        char num[32], iso[32];
        fmt_num(num, sizeof num, p->v);
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s (%s)", off ? ", " : "", num,
                                clock_fmt_iso(p->ts_ms, 0, iso, sizeof iso));
    }
    char thr[32], extra[96] = "";
    fmt_num(thr, sizeof thr, d->threshold);
    if (missing && d->missing != ALARM_MISSING_MISSING)
        snprintf(extra, sizeof extra, " (%d missing datapoint%s treated as %s)", missing,
                 missing == 1 ? "" : "s",
                 d->missing == ALARM_MISSING_BREACHING ? "breaching" : "not breaching");
    int M = next == ALARM_ALARM ? d->datapoints_to_alarm
                                : d->evaluation_periods - d->datapoints_to_alarm + 1;
    snprintf(
        reason, len,
        "Threshold Crossed: %d out of the last %d datapoints [%s] %s %s%s the threshold (%s)%s "
        "(minimum %d datapoint%s for %s -> %s transition).",
        shown, k, list, shown == 1 ? "was" : "were", next == ALARM_ALARM ? "" : "not ",
        cmp_words[d->comparison], thr, extra, M, M == 1 ? "" : "s", state_names[al->state],
        state_names[next]);
    return next;
}

/* Evaluates the window after a period closed; fills *p and returns 1 on a
 * transition. */
static int evaluate(alarm *al, int64_t now_ms, pending *p)
{
    char reason[1024];
    alarm_state next = decide(al, reason, sizeof reason);
    if (next == al->state) return 0;
    json_t *data = reason_data(al, now_ms);
    char *r = strdup(reason);
    if (!data || !r) {
        json_decref(data);
        free(r);
        log_error("alarms", "out of memory: transition deferred", "alarm", al->d.name, NULL);
        return 0;
    }
    p->old_reason = al->reason;
    p->t = (alarm_transition){.def = &al->d,
                              .old_state = al->state,
                              .new_state = next,
                              .reason = r,
                              .reason_data = data,
                              .time_ms = now_ms,
                              .old_time_ms = al->state_ms,
                              .old_reason = al->reason};
    al->has_transition = 1;
    al->last_from = al->state;
    al->last_to = next;
    al->last_ms = now_ms;
    al->state = next;
    al->state_ms = now_ms;
    al->reason = r;
    json_decref(al->reason_data);
    al->reason_data = json_incref(data);
    set_gauge(al);
    return 1;
}

static int64_t align(int64_t ms, int period_s)
{
    int64_t p = (int64_t)period_s * 1000;
    return ms - ((ms % p) + p) % p;
}

int64_t alarms_tick(alarms *a, int64_t now_ms)
{
    int npend = 0;
    pthread_mutex_lock(&a->mu);
    int64_t next = now_ms + a->sample_ms;
    metrics_collect(a->m); /* once per tick; every alarm reads from it */
    for (int i = 0; i < a->n; i++) {
        alarm *al = a->v[i];
        int64_t P = (int64_t)al->d.period_s * 1000;
        if (al->period_start_ms == 0 ||
            now_ms < al->period_start_ms) /* first tick, or the clock went back */
            al->period_start_ms = align(now_ms, al->d.period_s);
        /* a step in time (at or soon after the period end) samples into the
         * period it closes; after a stall of a whole period or more the
         * sample belongs to the current period instead */
        int stalled = now_ms >= al->period_start_ms + 2 * P;
        if (!stalled) sample_side(a, al, al->d.has_denominator);
        if (now_ms >= al->period_start_ms + P) {
            ring_push(al, period_close(al));
            /* periods without any tick (a stalled process) are missing */
            int64_t skipped = (now_ms - al->period_start_ms) / P - 1;
            for (int64_t k = skipped > al->d.evaluation_periods
                                 ? skipped - al->d.evaluation_periods + 1
                                 : 1;
                 k <= skipped; k++)
                ring_push(al, (datapoint){al->period_start_ms + k * P, 0, 0});
            al->period_start_ms = align(now_ms, al->d.period_s);
            if (evaluate(al, now_ms, &a->pend[npend])) npend++;
        }
        if (stalled) sample_side(a, al, al->d.has_denominator);
        if (al->period_start_ms + P < next) next = al->period_start_ms + P;
    }
    pthread_mutex_unlock(&a->mu);

    for (int i = 0; i < npend; i++) {
        pending *p = &a->pend[i];
        log_info("alarms", "alarm state changed", "alarm", p->t.def->name, "oldState",
                 state_names[p->t.old_state], "newState", state_names[p->t.new_state], "reason",
                 p->t.reason, NULL);
        if (a->on_change) a->on_change(a->arg, &p->t);
        free(p->old_reason);
        json_decref((json_t *)p->t.reason_data);
    }
    return next;
}

/* ---- The thread -------------------------------------------------------------------------------
 */

static void *run(void *arg)
{
    alarms *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        int64_t next = alarms_tick(a, clock_wall_ms());
        pthread_mutex_lock(&a->mu);
        int64_t wait = next - clock_wall_ms();
        if (wait > a->sample_ms) wait = a->sample_ms; /* the wall clock may jump */
        struct timespec ts = clock_mono_deadline(wait > 0 ? wait : 0);
        while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int alarms_start(alarms *a)
{
    CHECK(!a->running);
    a->stop = 0;
    if (pthread_create(&a->thread, NULL, run, a)) return ORD_ENOMEM;
    a->running = 1;
    log_info("alarms", "evaluating", "#alarms", (int64_t)a->n, "#sampleSeconds",
             (int64_t)(a->sample_ms / 1000), NULL);
    return 0;
}

void alarms_stop(alarms *a)
{
    if (!a->running) return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    a->running = 0;
}

/* ---- Reading ------------------------------------------------------------------------------------
 */

int alarms_state(alarms *a, const char *name)
{
    int st = -1;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->n && st < 0; i++)
        if (!strcmp(a->v[i]->d.name, name)) st = (int)a->v[i]->state;
    pthread_mutex_unlock(&a->mu);
    return st;
}

static json_t *labels_json(const alarm_metric *m)
{
    json_t *labels = json_object();
    for (int i = 0; labels && i < m->nlabels; i++)
        json_object_set_new(labels, m->labels[i].name, json_string(m->labels[i].pattern));
    return labels;
}

json_t *alarm_def_json(const alarm_def *d)
{
    char stat[ALARM_STAT_NAME_MAX];
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:o,s:s,s:i,s:i,s:i,s:f,s:s,s:s}", "name", d->name, "description",
        d->description, "metric", d->metric.name, "labels", labels_json(&d->metric), "statistic",
        alarm_stat_name(d->statistic, d->percentile, stat, sizeof stat), "periodSeconds",
        d->period_s, "evaluationPeriods", d->evaluation_periods, "datapointsToAlarm",
        d->datapoints_to_alarm, "threshold", d->threshold, "comparisonOperator",
        cmp_names[d->comparison], "treatMissingData", missing_names[d->missing]);
    if (o && d->has_denominator &&
        json_object_set_new(o, "denominator",
                            json_pack("{s:s,s:o}", "metric", d->denominator.name, "labels",
                                      labels_json(&d->denominator)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *alarm_transition_detail(const alarm_transition *t)
{
    char now[32], before[32];
    char *data = json_dumps(t->reason_data, JSON_COMPACT);
    json_t *d =
        data ? json_pack("{s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s},s:o}", "alarmName", t->def->name,
                         "state", "value", state_names[t->new_state], "reason", t->reason,
                         "reasonData", data, "timestamp",
                         clock_fmt_iso(t->time_ms, 1, now, sizeof now), "previousState", "value",
                         state_names[t->old_state], "reason", t->old_reason, "timestamp",
                         clock_fmt_iso(t->old_time_ms, 1, before, sizeof before), "configuration",
                         alarm_def_json(t->def))
             : NULL;
    free(data);
    return d;
}

static json_t *alarm_json(const alarm *al)
{
    char iso[32];
    json_t *o = alarm_def_json(&al->d);
    if (!o) return NULL;
    json_t *recent = json_array();
    for (int i = 0; recent && i < al->ring_n; i++) {
        const datapoint *p = ring_at(al, i);
        json_array_append_new(
            recent, json_pack("{s:s,s:o}", "timestamp", clock_fmt_iso(p->ts_ms, 1, iso, sizeof iso),
                              "value", p->present ? json_real(p->v) : json_null()));
    }
    json_t *last = json_null();
    if (al->has_transition)
        last = json_pack("{s:s,s:s,s:s}", "from", state_names[al->last_from], "to",
                         state_names[al->last_to], "timestamp",
                         clock_fmt_iso(al->last_ms, 1, iso, sizeof iso));
    json_object_set_new(o, "state", json_string(state_names[al->state]));
    json_object_set_new(o, "stateReason", json_string(al->reason));
    json_object_set(o, "stateReasonData", al->reason_data ? al->reason_data : json_null());
    json_object_set_new(o, "stateUpdatedTimestamp",
                        json_string(clock_fmt_iso(al->state_ms, 1, iso, sizeof iso)));
    json_object_set_new(o, "lastTransition", last);
    json_object_set_new(o, "recentDatapoints", recent);
    return o;
}

json_t *alarms_json(alarms *a, const char *name, int *found)
{
    json_t *out = NULL;
    int hit = 0;
    pthread_mutex_lock(&a->mu);
    if (!name) {
        hit = 1;
        out = json_array();
        for (int i = 0; out && i < a->n; i++) {
            json_t *o = alarm_json(a->v[i]);
            if (!o || json_array_append_new(out, o)) {
                json_decref(out);
                out = NULL;
            }
        }
    } else {
        for (int i = 0; i < a->n && !hit; i++)
            if (!strcmp(a->v[i]->d.name, name)) {
                hit = 1;
                out = alarm_json(a->v[i]);
            }
    }
    pthread_mutex_unlock(&a->mu);
    if (found) *found = hit;
    return out;
}
