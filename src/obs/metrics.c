/* metrics.c - see metrics.h.  A registry of families, each a fixed array of
 * series; values are doubles kept as uint64 bit patterns in atomics.
 *
 * DESIGN.  A family's series array is allocated once at registration
 * (LIMIT_METRICS_SERIES_PER_FAMILY slots) and only ever appended to: a
 * series, once published, lives until metrics_free.  So lookups scan the
 * published prefix without a lock (acquire load of the count pairs with the
 * release store of the creator); only creating a series takes the family
 * lock.  Each series keeps its label set already escaped and rendered
 * ("a=\"x\",b=\"y\""), so rendering copies bytes.  Histograms keep
 * per-bucket (non-cumulative) counts; the count is their sum, so the +Inf
 * bucket always equals _count.
 */
#include "obs/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/limits.h"
#include "lib/check.h"
#include "lib/err.h"
#include "obs/log.h"

struct metric_series {
    metric_family *f;
    const char **values; /* nlabels raw values (for read and lookup) */
    char *rendered;      /* escaped label pairs without braces, "" when none */
    size_t rendered_len;
    _Atomic int hidden;         /* metric_family_hide: left out until looked up again */
    _Atomic uint64_t bits;      /* counter/gauge value; histogram sum */
    _Atomic uint64_t buckets[]; /* histogram: nbounds+1 counts, not cumulative */
};

struct metric_family {
    metrics *m;
    metric_kind kind;
    char *name, *help;
    int nlabels;
    const char *labels[LIMIT_METRICS_LABELS_MAX];
    int nbounds;
    double *bounds;
    pthread_mutex_t mu; /* creation of series */
    _Atomic int nseries;
    _Atomic(metric_series *) *series;
};

struct collector {
    void (*fn)(void *arg);
    void *arg;
};

struct metrics {
    pthread_mutex_t mu; /* registration, render, read */
    int nfamilies;
    metric_family *families[LIMIT_METRICS_FAMILIES_MAX];
    int ncollectors;
    struct collector collectors[LIMIT_METRICS_COLLECTORS_MAX];
    metric_series *dropped;
};

/* ---- Doubles in atomics ------------------------------------------------ */

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double by)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + by), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* ---- Names ------------------------------------------------------------- */

static int name_ok(const char *s, int colon)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LIMIT_METRICS_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

/* ---- Bounded output buffer --------------------------------------------- */

struct buf {
    char *p;
    size_t n, cap, max;
    int err;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->err) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        if (cap > b->max) cap = b->max;
        if (b->n + n + 1 > cap) {
            b->err = ORD_ENOMEM;
            return;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = ORD_ENOMEM;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* Label values escape \ " and newline; HELP text escapes \ and newline. */
static void buf_escaped(struct buf *b, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\'             ? "\\\\"
                          : *s == '\n'           ? "\\n"
                          : (quote && *s == '"') ? "\\\""
                                                 : NULL;
        if (!esc) continue;
        buf_put(b, run, (size_t)(s - run));
        buf_put(b, esc, 2);
        run = s + 1;
    }
    buf_put(b, run, (size_t)(s - run));
}

/* Prometheus parses Go's ParseFloat syntax: integers print without exponent,
 * others with the fewest digits that round-trip, and +Inf/-Inf/NaN. */
static size_t fmt_num(char *out, size_t len, double v)
{
    int n;
    if (isnan(v))
        n = snprintf(out, len, "NaN");
    else if (isinf(v))
        n = snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        n = snprintf(out, len, "%lld", (long long)v);
    else {
        n = snprintf(out, len, "%.15g", v);
        if (strtod(out, NULL) != v) n = snprintf(out, len, "%.17g", v);
    }
    return (size_t)n;
}

static void buf_num(struct buf *b, double v)
{
    char tmp[40];
    buf_put(b, tmp, fmt_num(tmp, sizeof tmp, v));
}

/* ---- Registry ---------------------------------------------------------- */

metrics *metrics_new(void)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    metric_family *f = metrics_counter(m, "orderly_metrics_series_dropped_total",
                                       "Series refused because a family reached its series limit "
                                       "or a label value was too long.",
                                       NULL);
    m->dropped = metric_series0(f);
    if (!m->dropped) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

static void family_free(metric_family *f)
{
    int n = atomic_load(&f->nseries);
    for (int i = 0; i < n; i++)
        free(atomic_load(&f->series[i]));
    free(f->series);
    for (int i = 0; i < f->nlabels; i++)
        free((char *)f->labels[i]);
    free(f->bounds);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void metrics_free(metrics *m)
{
    if (!m) return;
    for (int i = 0; i < m->nfamilies; i++)
        family_free(m->families[i]);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static metric_family *family_new(metrics *m, metric_kind kind, const char *name, const char *help,
                                 const char *const *labels, const double *bounds, int nbounds)
{
    const char *why = NULL;
    metric_family *f = NULL;

    if (!name_ok(name, 1))
        why = "invalid metric name";
    else if (help && strlen(help) > LIMIT_METRICS_HELP_MAX)
        why = "help text too long";
    else if (kind == METRIC_HISTOGRAM &&
             (nbounds < 0 || nbounds > LIMIT_METRICS_BUCKETS_MAX || (nbounds > 0 && !bounds)))
        why = "invalid histogram bounds";
    for (int i = 0; !why && kind == METRIC_HISTOGRAM && i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            why = "histogram bounds must be finite and ascending";
    int nl = 0;
    for (; !why && labels && labels[nl]; nl++) {
        const char *l = labels[nl];
        if (nl == LIMIT_METRICS_LABELS_MAX)
            why = "too many labels";
        else if (!name_ok(l, 0) || strncmp(l, "__", 2) == 0)
            why = "invalid label name";
        else if (kind == METRIC_HISTOGRAM && strcmp(l, "le") == 0)
            why = "label le on a histogram";
        for (int j = 0; !why && j < nl; j++)
            if (strcmp(labels[j], l) == 0) why = "duplicate label name";
    }

    pthread_mutex_lock(&m->mu);
    for (int i = 0; !why && i < m->nfamilies; i++)
        if (strcmp(m->families[i]->name, name) == 0) why = "duplicate metric name";
    if (!why && m->nfamilies == LIMIT_METRICS_FAMILIES_MAX) why = "too many metric families";
    if (why) goto out;

    f = calloc(1, sizeof *f);
    why = "out of memory";
    if (!f) goto out;
    pthread_mutex_init(&f->mu, NULL);
    f->m = m;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->series = calloc(LIMIT_METRICS_SERIES_PER_FAMILY, sizeof *f->series);
    if (!f->name || !f->help || !f->series) goto out;
    for (f->nlabels = 0; f->nlabels < nl; f->nlabels++)
        if (!(f->labels[f->nlabels] = strdup(labels[f->nlabels]))) goto out;
    if (kind == METRIC_HISTOGRAM && nbounds > 0) {
        if (!(f->bounds = malloc(sizeof(double) * (size_t)nbounds))) goto out;
        memcpy(f->bounds, bounds, sizeof(double) * (size_t)nbounds);
    }
    f->nbounds = kind == METRIC_HISTOGRAM ? nbounds : 0;
    m->families[m->nfamilies++] = f;
    why = NULL;
out:
    pthread_mutex_unlock(&m->mu);
    if (why) {
        log_error("metrics", "metric family refused", "name", name, "reason", why, NULL);
        if (f) family_free(f);
        return NULL;
    }
    return f;
}

metric_family *metrics_counter(metrics *m, const char *name, const char *help,
                               const char *const *labels)
{
    return family_new(m, METRIC_COUNTER, name, help, labels, NULL, 0);
}

metric_family *metrics_gauge(metrics *m, const char *name, const char *help,
                             const char *const *labels)
{
    return family_new(m, METRIC_GAUGE, name, help, labels, NULL, 0);
}

metric_family *metrics_histogram(metrics *m, const char *name, const char *help,
                                 const char *const *labels, const double *bounds, int nbounds)
{
    return family_new(m, METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

/* ---- Series ------------------------------------------------------------ */

static int series_is(const metric_series *s, const char *const *values)
{
    for (int i = 0; i < s->f->nlabels; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0) return 0;
    return 1;
}

static metric_series *series_find(metric_family *f, const char *const *values, int from, int to)
{
    for (int i = from; i < to; i++) {
        metric_series *s = atomic_load_explicit(&f->series[i], memory_order_relaxed);
        if (series_is(s, values)) return s;
    }
    return NULL;
}

/* One allocation: the struct, its buckets, the value pointers, the raw
 * values and the rendered label pairs. */
static metric_series *series_new(metric_family *f, const char *const *values)
{
    size_t nb = f->kind == METRIC_HISTOGRAM ? (size_t)f->nbounds + 1 : 0;
    struct buf r = {.max = (size_t)LIMIT_METRICS_LABELS_MAX *
                           (LIMIT_METRICS_NAME_MAX + 2 * LIMIT_METRICS_LABEL_VALUE_MAX + 8)};
    size_t raw = 0;
    for (int i = 0; i < f->nlabels; i++) {
        const char *v = values[i] ? values[i] : "";
        if (i) buf_put(&r, ",", 1);
        buf_str(&r, f->labels[i]);
        buf_put(&r, "=\"", 2);
        buf_escaped(&r, v, 1);
        buf_put(&r, "\"", 1);
        raw += strlen(v) + 1;
    }
    size_t head = sizeof(metric_series) + nb * sizeof(_Atomic uint64_t);
    head = (head + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    size_t total = head + (size_t)f->nlabels * sizeof(char *) + raw + r.n + 1;
    metric_series *s = r.err ? NULL : calloc(1, total);
    if (!s) {
        free(r.p);
        return NULL;
    }
    s->f = f;
    s->values = (const char **)((char *)s + head);
    char *p = (char *)(s->values + f->nlabels);
    for (int i = 0; i < f->nlabels; i++) {
        const char *v = values[i] ? values[i] : "";
        size_t n = strlen(v) + 1;
        memcpy(p, v, n);
        s->values[i] = p;
        p += n;
    }
    s->rendered = p;
    s->rendered_len = r.n;
    if (r.n) memcpy(p, r.p, r.n);
    p[r.n] = 0;
    free(r.p);
    atomic_init(&s->bits, d2u(0.0));
    return s;
}

metric_series *metric_series_get(metric_family *f, const char *const *values)
{
    if (!f) return NULL;
    CHECK(f->nlabels == 0 || values);
    for (int i = 0; i < f->nlabels; i++)
        if (values[i] && strlen(values[i]) > LIMIT_METRICS_LABEL_VALUE_MAX) {
            metric_inc(f->m->dropped);
            return NULL;
        }
    int n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    metric_series *s = series_find(f, values, 0, n);
    if (!s) {
        pthread_mutex_lock(&f->mu);
        int n2 = atomic_load_explicit(&f->nseries, memory_order_relaxed);
        s = series_find(f, values, n, n2);
        if (!s && n2 < LIMIT_METRICS_SERIES_PER_FAMILY && (s = series_new(f, values))) {
            atomic_store_explicit(&f->series[n2], s, memory_order_relaxed);
            atomic_store_explicit(&f->nseries, n2 + 1, memory_order_release);
        }
        pthread_mutex_unlock(&f->mu);
        if (!s) {
            if (n2 >= LIMIT_METRICS_SERIES_PER_FAMILY)
                log_debug("metrics", "series limit reached", "name", f->name, NULL);
            metric_inc(f->m->dropped);
            return NULL;
        }
    }
    if (atomic_load_explicit(&s->hidden, memory_order_relaxed))
        atomic_store_explicit(&s->hidden, 0, memory_order_relaxed);
    return s;
}

metric_series *metric_series0(metric_family *f)
{
    return metric_series_get(f, NULL);
}

metric_series *metric_series1(metric_family *f, const char *value)
{
    const char *v[1] = {value};
    return metric_series_get(f, v);
}

void metric_family_hide(metric_family *f)
{
    if (!f) return;
    int n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    for (int i = 0; i < n; i++)
        atomic_store_explicit(&atomic_load_explicit(&f->series[i], memory_order_relaxed)->hidden, 1,
                              memory_order_relaxed);
}

/* ---- Updates ----------------------------------------------------------- */

void metric_inc(metric_series *s)
{
    metric_add(s, 1.0);
}

void metric_add(metric_series *s, double by)
{
    if (!s) return;
    CHECK(s->f->kind != METRIC_HISTOGRAM);
    if (s->f->kind == METRIC_COUNTER && !(by >= 0)) return;
    atomic_add_double(&s->bits, by);
}

void metric_set(metric_series *s, double v)
{
    if (!s) return;
    CHECK(s->f->kind != METRIC_HISTOGRAM);
    atomic_store_explicit(&s->bits, d2u(v), memory_order_relaxed);
}

void metric_observe(metric_series *s, double v)
{
    if (!s) return;
    const metric_family *f = s->f;
    CHECK(f->kind == METRIC_HISTOGRAM);
    int i = 0;
    while (i < f->nbounds && !(v <= f->bounds[i]))
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

void metric_hist_set(metric_series *s, const uint64_t *counts, double sum)
{
    if (!s) return;
    CHECK(s->f->kind == METRIC_HISTOGRAM);
    for (int i = 0; i <= s->f->nbounds; i++)
        atomic_store_explicit(&s->buckets[i], counts[i], memory_order_relaxed);
    atomic_store_explicit(&s->bits, d2u(sum), memory_order_relaxed);
}

/* ---- Collect, render, read --------------------------------------------- */

void metrics_on_collect(metrics *m, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&m->mu);
    CHECK(m->ncollectors < LIMIT_METRICS_COLLECTORS_MAX);
    m->collectors[m->ncollectors++] = (struct collector){fn, arg};
    pthread_mutex_unlock(&m->mu);
}

void metrics_off_collect(metrics *m, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->ncollectors; i++)
        if (m->collectors[i].fn == fn && m->collectors[i].arg == arg) {
            memmove(&m->collectors[i], &m->collectors[i + 1],
                    sizeof m->collectors[0] * (size_t)(m->ncollectors - i - 1));
            m->ncollectors--;
            break;
        }
    pthread_mutex_unlock(&m->mu);
}

static void collect(metrics *m)
{
    for (int i = 0; i < m->ncollectors; i++)
        m->collectors[i].fn(m->collectors[i].arg);
}

/* A histogram's cumulative counts (nbounds+1) and its sum. */
static uint64_t hist_snapshot(const metric_series *s, uint64_t *cum, double *sum)
{
    uint64_t c = 0;
    for (int i = 0; i <= s->f->nbounds; i++) {
        c += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        cum[i] = c;
    }
    *sum = u2d(atomic_load_explicit(&s->bits, memory_order_relaxed));
    return c;
}

/* name{labels[,extra]} value\n */
static void render_sample(struct buf *b, const char *name, const char *suffix,
                          const metric_series *s, const char *le, double v)
{
    buf_str(b, name);
    buf_str(b, suffix);
    if (s->rendered_len || le) {
        buf_put(b, "{", 1);
        buf_put(b, s->rendered, s->rendered_len);
        if (le) {
            if (s->rendered_len) buf_put(b, ",", 1);
            buf_put(b, "le=\"", 4);
            buf_str(b, le);
            buf_put(b, "\"", 1);
        }
        buf_put(b, "}", 1);
    }
    buf_put(b, " ", 1);
    buf_num(b, v);
    buf_put(b, "\n", 1);
}

static void render_family(struct buf *b, const metric_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    buf_str(b, "# HELP ");
    buf_str(b, f->name);
    buf_put(b, " ", 1);
    buf_escaped(b, f->help, 0);
    buf_str(b, "\n# TYPE ");
    buf_str(b, f->name);
    buf_put(b, " ", 1);
    buf_str(b, types[f->kind]);
    buf_put(b, "\n", 1);
    int n = atomic_load_explicit(&f->nseries, memory_order_acquire);
    for (int i = 0; i < n && !b->err; i++) {
        const metric_series *s = atomic_load_explicit(&f->series[i], memory_order_relaxed);
        if (atomic_load_explicit(&s->hidden, memory_order_relaxed)) continue;
        if (f->kind != METRIC_HISTOGRAM) {
            render_sample(b, f->name, "", s, NULL,
                          u2d(atomic_load_explicit(&s->bits, memory_order_relaxed)));
            continue;
        }
        uint64_t cum[LIMIT_METRICS_BUCKETS_MAX + 1];
        double sum;
        uint64_t count = hist_snapshot(s, cum, &sum);
        char le[40];
        for (int j = 0; j < f->nbounds; j++) {
            fmt_num(le, sizeof le, f->bounds[j]);
            render_sample(b, f->name, "_bucket", s, le, (double)cum[j]);
        }
        render_sample(b, f->name, "_bucket", s, "+Inf", (double)count);
        render_sample(b, f->name, "_sum", s, NULL, sum);
        render_sample(b, f->name, "_count", s, NULL, (double)count);
    }
}

int metrics_render(metrics *m, char **out, size_t *len)
{
    struct buf b = {.max = LIMIT_METRICS_RENDER_BYTES_MAX};
    pthread_mutex_lock(&m->mu);
    collect(m);
    for (int i = 0; i < m->nfamilies && !b.err; i++)
        render_family(&b, m->families[i]);
    pthread_mutex_unlock(&m->mu);
    if (!b.err && !b.p) buf_put(&b, "", 0);
    if (b.err) {
        free(b.p);
        *out = NULL;
        *len = 0;
        return ORD_ENOMEM;
    }
    *out = b.p;
    *len = b.n;
    return 0;
}

static int label_index(const metric_family *f, const char *name)
{
    for (int i = 0; i < f->nlabels; i++)
        if (strcmp(f->labels[i], name) == 0) return i;
    return -1;
}

static int series_matches(const metric_series *s, const char *const *match)
{
    for (int i = 0; match && match[i]; i += 2) {
        CHECK(match[i + 1]);
        int j = label_index(s->f, match[i]);
        if (j < 0 || strcmp(s->values[j], match[i + 1]) != 0) return 0;
    }
    return 1;
}

void metrics_collect(metrics *m)
{
    pthread_mutex_lock(&m->mu);
    collect(m);
    pthread_mutex_unlock(&m->mu);
}

int metrics_read(metrics *m, const char *name, const char *const *match,
                 void (*fn)(void *arg, const metric_value *v), void *arg)
{
    return metrics_read_collected(m, name, match, fn, arg, 1);
}

int metrics_read_collected(metrics *m, const char *name, const char *const *match,
                           void (*fn)(void *arg, const metric_value *v), void *arg, int run_collectors)
{
    int found = -1;
    pthread_mutex_lock(&m->mu);
    if (run_collectors) collect(m);
    for (int i = 0; i < m->nfamilies; i++) {
        const metric_family *f = m->families[i];
        if (strcmp(f->name, name) != 0) continue;
        found = 0;
        int n = atomic_load_explicit(&f->nseries, memory_order_acquire);
        for (int k = 0; k < n; k++) {
            const metric_series *s = atomic_load_explicit(&f->series[k], memory_order_relaxed);
            if (atomic_load_explicit(&s->hidden, memory_order_relaxed) || !series_matches(s, match))
                continue;
            uint64_t cum[LIMIT_METRICS_BUCKETS_MAX + 1];
            metric_value v = {.kind = f->kind,
                              .nlabels = f->nlabels,
                              .label_names = f->labels,
                              .label_values = (const char *const *)s->values};
            if (f->kind == METRIC_HISTOGRAM) {
                v.count = hist_snapshot(s, cum, &v.sum);
                v.nbounds = f->nbounds;
                v.bounds = f->bounds;
                v.buckets = cum;
                v.value = (double)v.count;
            } else {
                v.value = u2d(atomic_load_explicit(&s->bits, memory_order_relaxed));
            }
            fn(arg, &v);
            found++;
        }
        break;
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}
