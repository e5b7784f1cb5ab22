/* fn.c - event source mappings and exactly-once commit of effects; see fn.h.
 *
 * DESIGN
 * Each mapping runs `concurrency` poller threads.  A poller long-polls a
 * batch, runs the handler for every record (outside the database), then
 * submits one unit per record at once (so they share a group commit) and
 * waits for all completions; failed records get their visibility set to the
 * backoff in one further unit.  Nothing waits inside the writer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "fn/fn.h"
#include "lib/count.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"
#include "obs/metrics.h"

#define SWEEP_INTERVAL_MS 60000
#define POLL_WAIT_MS (LIMIT_WAIT_SECONDS_MAX * 1000)
#define RECEIVE_RETRY_MS 1000 /* after a failed receive (store error) */

typedef struct handler {
    char name[LIMIT_FUNCTION_NAME_MAX + 1];
    fn_handler_fn fn;
    fn_failure_fn on_failure;
    void *ud;
} handler;

typedef struct mapping {
    fn_sys *fs;
    char name[LIMIT_FUNCTION_NAME_MAX + 1];
    const handler *h;
    queue *q;
    int batch, window_ms, concurrency, base_ms, max_ms, ttl_s, timeout_s, enabled;
    pthread_t threads[LIMIT_FN_CONCURRENCY_MAX];
    int nthreads;
    _Atomic int running; /* poller threads inside poller_main */
    _Atomic uint64_t invocations, records, errors, duplicates, fenced, duration_us, batch_records;
    metric_series *m_duration, *m_batch; /* NULL without metrics */
} mapping;

struct fn_sys {
    queue_sys *qs;
    handler handlers[LIMIT_FUNCTIONS_MAX];
    int nhandlers;
    mapping *maps[LIMIT_FUNCTIONS_MAX];
    int nmaps;
    _Atomic int stop;
    int started;
    int elsewhere; /* the mappings poll on other nodes (fn_sys_poll_here) */
    pthread_t sweeper;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    metric_family *mf_duration, *mf_batch;
};

/* Lambda-like durations: 1 ms .. 30 s; batch sizes 1..LIMIT_FN_BATCH_MAX. */
static const double duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30};
static const double batch_bounds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
_Static_assert(LIMIT_FN_BATCH_MAX == 10, "batch_bounds covers every batch size");

static void mapping_metrics(fn_sys *fs, mapping *m)
{
    m->m_duration = metric_series1(fs->mf_duration, m->name);
    m->m_batch = metric_series1(fs->mf_batch, m->name);
}

void fn_sys_set_metrics(fn_sys *fs, metrics *mx)
{
    const char *const labels[] = {"function", NULL};
    fs->mf_duration = metrics_histogram(mx, "orderly_function_duration_seconds",
                                        "Time a function took for one batch: handlers and commit.", labels,
                                        duration_bounds, (int)COUNT(duration_bounds));
    fs->mf_batch = metrics_histogram(mx, "orderly_function_batch_size", "Records per function invocation (batch).",
                                     labels, batch_bounds, (int)COUNT(batch_bounds));
    for (int i = 0; i < fs->nmaps; i++) mapping_metrics(fs, fs->maps[i]);
}

int fn_sys_open(queue_sys *qs, fn_sys **out)
{
    fn_sys *fs = calloc(1, sizeof *fs);
    if (!fs) return ORD_ENOMEM;
    fs->qs = qs;
    pthread_mutex_init(&fs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fs->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = fs;
    return 0;
}

void fn_sys_close(fn_sys *fs)
{
    if (!fs) return;
    fn_stop(fs);
    for (int i = 0; i < fs->nmaps; i++) free(fs->maps[i]);
    pthread_mutex_destroy(&fs->mu);
    pthread_cond_destroy(&fs->cv);
    free(fs);
}

int fn_handler_register(fn_sys *fs, const char *name, fn_handler_fn fn, void *ud)
{
    for (int i = 0; i < fs->nhandlers; i++)
        if (!strcmp(fs->handlers[i].name, name)) return ORD_EEXISTS;
    if (fs->nhandlers >= LIMIT_FUNCTIONS_MAX || strlen(name) > LIMIT_FUNCTION_NAME_MAX) return ORD_ELIMIT;
    handler *h = &fs->handlers[fs->nhandlers++];
    snprintf(h->name, sizeof h->name, "%s", name);
    h->fn = fn;
    h->ud = ud;
    return 0;
}

int fn_handler_on_failure(fn_sys *fs, const char *name, fn_failure_fn fn)
{
    for (int i = 0; i < fs->nhandlers; i++)
        if (!strcmp(fs->handlers[i].name, name)) {
            fs->handlers[i].on_failure = fn;
            return 0;
        }
    return ORD_ENOTFOUND;
}

#define BOUND(v, lo, hi, what)                                                                      \
    if ((v) < (lo) || (v) > (hi)) {                                                                 \
        snprintf(err, errlen, "function %s: %s must be %d..%d, got %d", c->name, what, lo, hi, v); \
        return ORD_EVALIDATION;                                                                     \
    }

int fn_add(fn_sys *fs, const fn_config *c, char *err, size_t errlen)
{
    const handler *h = NULL;
    for (int i = 0; i < fs->nhandlers; i++)
        if (!strcmp(fs->handlers[i].name, c->handler)) h = &fs->handlers[i];
    if (!h) {
        snprintf(err, errlen, "function %s: no handler named '%s'", c->name, c->handler);
        return ORD_EVALIDATION;
    }
    queue *q = queue_find(fs->qs, c->queue);
    if (!q) {
        snprintf(err, errlen, "function %s: no queue named '%s'", c->name, c->queue);
        return ORD_EVALIDATION;
    }
    if (!c->name[0] || strlen(c->name) > LIMIT_FUNCTION_NAME_MAX) {
        snprintf(err, errlen, "function name must be 1-%d characters", LIMIT_FUNCTION_NAME_MAX);
        return ORD_EVALIDATION;
    }
    for (int i = 0; i < fs->nmaps; i++)
        if (!strcmp(fs->maps[i]->name, c->name)) {
            snprintf(err, errlen, "function %s declared twice", c->name);
            return ORD_EEXISTS;
        }
    if (fs->nmaps >= LIMIT_FUNCTIONS_MAX) return ORD_ELIMIT;
    BOUND(c->batch_size, 1, LIMIT_FN_BATCH_MAX, "batchSize");
    BOUND(c->window_ms, 0, LIMIT_FN_WINDOW_MS_MAX, "batchingWindowMs");
    BOUND(c->concurrency, 1, LIMIT_FN_CONCURRENCY_MAX, "maxConcurrency");
    BOUND(c->backoff_base_ms, 1, LIMIT_FN_BACKOFF_SECONDS_MAX * 1000, "backoff.baseMs");
    BOUND(c->backoff_max_ms, c->backoff_base_ms, LIMIT_FN_BACKOFF_SECONDS_MAX * 1000, "backoff.maxMs");
    BOUND(c->idempotency_ttl_s, 1, LIMIT_FN_IDEMPOTENCY_TTL_MAX, "idempotencyTtlSeconds");
    BOUND(c->timeout_s, 1, LIMIT_FN_TIMEOUT_S_MAX, "timeoutSeconds");
    queue_attrs qa;
    queue_get_attrs(q, &qa);
    if (qa.visibility_s < c->timeout_s) {
        snprintf(err, errlen, "function %s: timeoutSeconds %d is more than the VisibilityTimeout (%d) of queue %s",
                 c->name, c->timeout_s, qa.visibility_s, c->queue);
        return ORD_EVALIDATION;
    }
    mapping *m = calloc(1, sizeof *m);
    if (!m) return ORD_ENOMEM;
    m->fs = fs;
    snprintf(m->name, sizeof m->name, "%s", c->name);
    m->h = h;
    m->q = q;
    m->batch = c->batch_size;
    m->window_ms = c->window_ms;
    m->concurrency = c->concurrency;
    m->base_ms = c->backoff_base_ms;
    m->max_ms = c->backoff_max_ms;
    m->ttl_s = c->idempotency_ttl_s;
    m->timeout_s = c->timeout_s;
    m->enabled = c->enabled;
    mapping_metrics(fs, m);
    if (m->enabled) queue_require_visibility(q, c->timeout_s, m->name);
    fs->maps[fs->nmaps++] = m;
    return 0;
}

int64_t fn_backoff_ms(int base_ms, int max_ms, int attempt)
{
    if (attempt < 1) attempt = 1;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; i++) d *= 2;
    return d < max_ms ? d : max_ms;
}

/* ---- one batch ----------------------------------------------------------- */

enum { REC_OK, REC_DUP, REC_FAILED, REC_FENCED };

typedef struct rec {
    mapping *m;
    queue_msg msg;
    json_t *body;
    char event_id[128];
    fn_result res;
    int handler_rc;
    int outcome;
    struct batch *b;
} rec;

typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
} batch;

static void rec_event_id(rec *r)
{
    const char *id = NULL;
    if (r->body && json_is_object(r->body) && json_object_get(r->body, "detail-type"))
        id = json_string_value(json_object_get(r->body, "id"));
    snprintf(r->event_id, sizeof r->event_id, "%s", id && *id ? id : r->msg.message_id);
}

/* The unit of one record: everything or nothing. */
static int rec_unit(store_conn *tx, void *arg)
{
    rec *r = arg;
    mapping *m = r->m;
    int64_t now = clock_wall_ms();
    /* claim the event id first: a live record means a duplicate; the claim
     * rolls back with the unit if the effects or the fence fail */
    store_stmt *st = store_prep(tx, ST_IDEM_CLAIM);
    store_bind_str(st, 1, m->name);
    store_bind_str(st, 2, r->event_id);
    store_bind_i64(st, 3, now + (int64_t)m->ttl_s * 1000);
    store_bind_i64(st, 4, now);
    int rc = store_exec(st);
    if (rc) return rc;
    if (store_changes(tx) == 0) {
        r->outcome = REC_DUP;
        return queue_delete_live_tx(tx, m->fs->qs, m->q, r->msg.receipt);
    }
    r->outcome = REC_OK;
    if (r->res.apply && (rc = r->res.apply(tx, r->res.state, r->res.error, sizeof r->res.error))) return rc;
    /* the fence: refused once the receipt's visibility has expired */
    return queue_delete_live_tx(tx, m->fs->qs, m->q, r->msg.receipt);
}

static void rec_done(void *arg, int rc)
{
    rec *r = arg;
    if (rc == ORD_ERECEIPT)
        r->outcome = REC_FENCED;
    else if (rc)
        r->outcome = REC_FAILED;
    /* the state is freed by the poller (run_batch), not on the writer */
    batch *b = r->b;
    pthread_mutex_lock(&b->mu);
    if (--b->pending == 0) pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

struct backoff_unit {
    mapping *m;
    rec *recs;
    int n;
};

static int backoff_unit(store_conn *tx, void *arg)
{
    struct backoff_unit *u = arg;
    for (int i = 0; i < u->n; i++) {
        rec *r = &u->recs[i];
        if (r->outcome != REC_FAILED) continue;
        if (u->m->h->on_failure) {
            fn_record fr = {u->m->name, &r->msg, r->body, r->event_id, r->msg.receive_count};
            const char *why = r->res.error[0] ? r->res.error : err_msg(r->handler_rc ? r->handler_rc : ORD_EHANDLER);
            int frc = u->m->h->on_failure(tx, &fr, why, u->m->h->ud);
            if (frc) return frc;
        }
        int64_t d = fn_backoff_ms(u->m->base_ms, u->m->max_ms, r->msg.receive_count);
        int64_t vis = d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
        int rc = queue_change_visibility_ms_tx(tx, u->m->fs->qs, u->m->q, r->msg.receipt, vis);
        if (rc && rc != ORD_ERECEIPT) return rc; /* a stale receipt: already visible again */
    }
    return 0;
}

static void run_batch(mapping *m, rec *recs, int n)
{
    store *st = queue_sys_store(m->fs->qs);
    int64_t t0 = clock_mono_us();
    batch b = {.pending = 0};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    for (int i = 0; i < n; i++) {
        rec *r = &recs[i];
        json_error_t je;
        r->m = m;
        r->b = &b;
        r->body = json_loadb(r->msg.body, r->msg.body_len, 0, &je);
        rec_event_id(r);
        memset(&r->res, 0, sizeof r->res);
        fn_record fr = {m->name, &r->msg, r->body, r->event_id, r->msg.receive_count};
        r->handler_rc = m->h->fn(&fr, &r->res, m->h->ud);
        if (r->handler_rc) {
            r->outcome = REC_FAILED;
            log_warn("fn", "record failed", "function", m->name, "eventId", r->event_id, "messageId",
                     r->msg.message_id, "error", r->res.error[0] ? r->res.error : err_name(r->handler_rc),
                     "#attempt", (int64_t)r->msg.receive_count, "outcome", "failed", NULL);
            if (r->res.free_state) r->res.free_state(r->res.state);
            r->res.free_state = NULL;
            continue;
        }
        pthread_mutex_lock(&b.mu);
        b.pending++;
        pthread_mutex_unlock(&b.mu);
        int rc = store_submit(st, rec_unit, rec_done, r);
        if (rc) { /* overloaded or stopping: retry later like any failure */
            r->outcome = REC_FAILED;
            pthread_mutex_lock(&b.mu);
            b.pending--;
            pthread_mutex_unlock(&b.mu);
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.pending) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);

    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (recs[i].res.free_state) recs[i].res.free_state(recs[i].res.state);
        recs[i].res.free_state = NULL;
        switch (recs[i].outcome) {
        case REC_OK: atomic_fetch_add(&m->records, 1); break;
        case REC_DUP:
            atomic_fetch_add(&m->duplicates, 1);
            log_info("fn", "duplicate", "function", m->name, "eventId", recs[i].event_id, "outcome",
                     "duplicate_ignored", NULL);
            break;
        case REC_FENCED:
            atomic_fetch_add(&m->fenced, 1);
            log_warn("fn", "commit refused: receipt expired", "function", m->name, "eventId",
                     recs[i].event_id, NULL);
            break;
        default: failed++; atomic_fetch_add(&m->errors, 1);
        }
    }
    if (failed) {
        struct backoff_unit u = {m, recs, n};
        int rc = store_run(st, backoff_unit, &u);
        if (rc) log_error("fn", "backoff failed", "function", m->name, "error", err_name(rc), NULL);
    }
    for (int i = 0; i < n; i++) {
        json_decref(recs[i].body);
        queue_msg_release(&recs[i].msg);
    }
    int64_t us = clock_mono_us() - t0;
    atomic_fetch_add(&m->invocations, 1);
    atomic_fetch_add(&m->batch_records, (uint64_t)n);
    atomic_fetch_add(&m->duration_us, (uint64_t)us);
    metric_observe(m->m_duration, (double)us / 1e6);
    metric_observe(m->m_batch, n);
}

static void *poller_main(void *arg)
{
    mapping *m = arg;
    fn_sys *fs = m->fs;
    rec recs[LIMIT_FN_BATCH_MAX];
    queue_msg msgs[LIMIT_FN_BATCH_MAX];
    atomic_fetch_add(&m->running, 1);
    while (!atomic_load(&fs->stop)) {
        int n = 0, k = 0;
        int rc = queue_receive_wait_cancel(fs->qs, m->q, m->batch, -1, POLL_WAIT_MS, msgs, &n, &fs->stop);
        if (rc) { /* the store fails: do not spin on it */
            log_error("fn", "receive failed", "function", m->name, "error", err_name(rc), NULL);
            pthread_mutex_lock(&fs->mu);
            struct timespec ts = clock_mono_deadline(RECEIVE_RETRY_MS);
            if (!atomic_load(&fs->stop)) pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
            pthread_mutex_unlock(&fs->mu);
            continue;
        }
        if (!n) continue;
        /* batching window: gather more until the batch is full or the window ends */
        int64_t end = clock_mono_ms() + m->window_ms;
        while (n < m->batch && m->window_ms && !atomic_load(&fs->stop)) {
            int64_t left = end - clock_mono_ms();
            if (left <= 0) break;
            rc = queue_receive_wait_cancel(fs->qs, m->q, m->batch - n, -1, (int)left, msgs + n, &k, &fs->stop);
            if (rc) break;
            n += k;
        }
        memset(recs, 0, sizeof(rec) * (size_t)n);
        for (int i = 0; i < n; i++) recs[i].msg = msgs[i];
        run_batch(m, recs, n);
    }
    atomic_fetch_sub(&m->running, 1);
    return NULL;
}

static int sweep_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    store_stmt *st = store_prep(tx, ST_IDEM_SWEEP);
    store_bind_i64(st, 1, clock_wall_ms());
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

int fn_sweep_idempotency(fn_sys *fs, int64_t *deleted)
{
    int rc = store_sweep(queue_sys_store(fs->qs), sweep_chunk, fs, LIMIT_SWEEP_ROWS, deleted);
    if (*deleted) log_info("fn", "idempotency records expired", "#deleted", *deleted, NULL);
    return rc;
}

static void *sweeper_main(void *arg)
{
    fn_sys *fs = arg;
    pthread_mutex_lock(&fs->mu);
    while (!atomic_load(&fs->stop)) {
        struct timespec ts = clock_mono_deadline(SWEEP_INTERVAL_MS);
        pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
        if (atomic_load(&fs->stop)) break;
        pthread_mutex_unlock(&fs->mu);
        int64_t n;
        /* the cluster's periodic work: on the store's leader only */
        if (store_is_leader(queue_sys_store(fs->qs))) fn_sweep_idempotency(fs, &n);
        pthread_mutex_lock(&fs->mu);
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

int fn_start(fn_sys *fs)
{
    CHECK(!fs->started);
    fs->started = 1;
    for (int i = 0; i < fs->nmaps; i++) {
        mapping *m = fs->maps[i];
        if (!m->enabled || fs->elsewhere) continue;
        for (int t = 0; t < m->concurrency; t++) {
            if (pthread_create(&m->threads[t], NULL, poller_main, m)) {
                fn_stop(fs);
                return ORD_EINTERNAL;
            }
            m->nthreads++;
        }
        log_info("fn", "function started", "function", m->name, "queue", queue_name(m->q), "#batchSize",
                 (int64_t)m->batch, "#concurrency", (int64_t)m->concurrency, NULL);
    }
    if (pthread_create(&fs->sweeper, NULL, sweeper_main, fs)) {
        fn_stop(fs);
        return ORD_EINTERNAL;
    }
    fs->started = 2;
    return 0;
}

void fn_stop(fn_sys *fs)
{
    if (!fs->started || atomic_exchange(&fs->stop, 1)) return;
    pthread_mutex_lock(&fs->mu);
    pthread_cond_broadcast(&fs->cv);
    pthread_mutex_unlock(&fs->mu);
    for (int i = 0; i < fs->nmaps; i++) {
        mapping *m = fs->maps[i];
        queue_interrupt(m->q);
        for (int t = 0; t < m->nthreads; t++) pthread_join(m->threads[t], NULL);
        m->nthreads = 0;
    }
    if (fs->started == 2) pthread_join(fs->sweeper, NULL);
}

void fn_sys_poll_here(fn_sys *fs, int here)
{
    CHECK(!fs->started);
    fs->elsewhere = !here;
}

int fn_count(fn_sys *fs)
{
    return fs->nmaps;
}

const char *fn_name(fn_sys *fs, int i)
{
    return i >= 0 && i < fs->nmaps ? fs->maps[i]->name : NULL;
}

int fn_config_get(fn_sys *fs, int i, fn_config *out)
{
    if (i < 0 || i >= fs->nmaps) return ORD_ENOTFOUND;
    const mapping *m = fs->maps[i];
    *out = (fn_config){m->name, m->h->name, queue_name(m->q), m->batch, m->window_ms, m->concurrency,
                       m->base_ms, m->max_ms, m->ttl_s, m->timeout_s, m->enabled};
    return 0;
}

const char *fn_queue(fn_sys *fs, int i)
{
    return i >= 0 && i < fs->nmaps ? queue_name(fs->maps[i]->q) : NULL;
}

int fn_stats_get(fn_sys *fs, const char *name, fn_stats *out)
{
    for (int i = 0; i < fs->nmaps; i++) {
        mapping *m = fs->maps[i];
        if (strcmp(m->name, name)) continue;
        out->invocations = atomic_load(&m->invocations);
        out->records = atomic_load(&m->records);
        out->errors = atomic_load(&m->errors);
        out->duplicates = atomic_load(&m->duplicates);
        out->fenced = atomic_load(&m->fenced);
        out->duration_us_sum = atomic_load(&m->duration_us);
        out->batch_records = atomic_load(&m->batch_records);
        out->enabled = m->enabled;
        out->pollers = m->enabled && !fs->elsewhere ? m->concurrency : 0;
        out->elsewhere = m->enabled && fs->elsewhere;
        out->pollers_running = atomic_load(&m->running);
        return 0;
    }
    return ORD_ENOTFOUND;
}
