/* fn.c - event source mappings and exactly-once commit of effects; see fn.h.
 *
 * DESIGN
 * Each mapping runs `concurrency` poller threads.  A poller long-polls a
 * batch, runs the handler for every record (outside the database), then
 * submits one unit per record at once (so they share a group commit) and
 * waits for all completions; failed records get their visibility set to the
 * backoff in one further unit.  Nothing waits inside the writer.
 *
 * An in-process mapping is also its queue's consumer (queue_set_consumer):
 * a message sent to the queue inside a unit arrives leased (offer), and the
 * record - handler, claim, apply, fenced delete - runs as a follow-up unit
 * on the writer (inline_unit); its completion (inline_done, writer thread)
 * counts it and, when it failed, submits the backoff unit.  fn_stop removes
 * the consumers, lets a unit pass (so no offer is under way) and waits for
 * the records in flight.
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
#include "lib/str.h"
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
    int inline_ok; /* fn_handler_inline */
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
    int consuming;       /* the queue's in-process consumer (fn_start; fs->mu) */
    _Atomic int inflight; /* in-process records offered and not yet completed */
    _Atomic int busy;     /* records in pollers' and drains' batches now */
    /* operator control (fs->mu): paused takes nothing off the queue; hold
     * (paused or stopping) cancels the pollers' receives */
    int paused;
    int64_t paused_ms;
    char paused_by[64];
    _Atomic int hold;
    int draining;          /* a drain thread runs (fs->mu) */
    pthread_t drain_thread;
    int drain_joinable;    /* drain_thread ended and is to be joined (fs->mu) */
    char last_error[256];  /* fs->emu */
    int64_t last_error_ms;
    _Atomic uint64_t invocations, records, errors, duplicates, fenced, deferred, duration_us, batch_records;
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
    pthread_cond_t pause_cv; /* paused pollers wait here (fs->mu) */
    pthread_mutex_t emu;     /* last errors */
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
    pthread_cond_init(&fs->pause_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&fs->emu, NULL);
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
    pthread_cond_destroy(&fs->pause_cv);
    pthread_mutex_destroy(&fs->emu);
    free(fs);
}

int fn_handler_register(fn_sys *fs, const char *name, fn_handler_fn fn, void *ud)
{
    for (int i = 0; i < fs->nhandlers; i++)
        if (!strcmp(fs->handlers[i].name, name)) return ORD_EEXISTS;
    if (fs->nhandlers >= LIMIT_FUNCTIONS_MAX || strlen(name) > LIMIT_FUNCTION_NAME_MAX) return ORD_ELIMIT;
    handler *h = &fs->handlers[fs->nhandlers++];
    str_copy(h->name, sizeof h->name, name);
    h->fn = fn;
    h->ud = ud;
    return 0;
}

int fn_handler_inline(fn_sys *fs, const char *name)
{
    for (int i = 0; i < fs->nhandlers; i++)
        if (!strcmp(fs->handlers[i].name, name)) {
            fs->handlers[i].inline_ok = 1;
            return 0;
        }
    return ORD_ENOTFOUND;
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
    str_copy(m->name, sizeof m->name, c->name);
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

static void fn_state_signal(void *arg, int64_t key, uint32_t times);

/* ---- one batch ----------------------------------------------------------- */

enum { REC_OK, REC_DUP, REC_FAILED, REC_FENCED, REC_DEFERRED };

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
    str_copy(r->event_id, sizeof r->event_id, id && *id ? id : r->msg.message_id);
}

/* Deletes the record's message: by its receipt, fenced (refused once the
 * receipt's visibility has expired); a message taken in process without a
 * row (seq 0) only counts as deleted. */
static int rec_settle(store_conn *tx, rec *r)
{
    if (!r->msg.seq) return queue_settled_tx(tx, r->m->q);
    return queue_delete_live_tx(tx, r->m->fs->qs, r->m->q, r->msg.receipt);
}

/* The backoff of the n-th receive, jittered into [d/2, d]. */
static int64_t rec_backoff(const mapping *m, int attempt)
{
    int64_t d = fn_backoff_ms(m->base_ms, m->max_ms, attempt);
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
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
        return rec_settle(tx, r);
    }
    r->outcome = REC_OK;
    if (r->res.apply && (rc = r->res.apply(tx, r->res.state, r->res.error, sizeof r->res.error))) return rc;
    return rec_settle(tx, r);
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
        if (r->outcome == REC_DEFERRED) { /* untried: back without counting its receive */
            int rc = queue_defer_tx(tx, u->m->fs->qs, u->m->q, &r->msg, r->res.defer_ms);
            if (rc && rc != ORD_ERECEIPT) return rc;
            continue;
        }
        if (r->outcome != REC_FAILED) continue;
        if (u->m->h->on_failure) {
            fn_record fr = {u->m->name, &r->msg, r->body, r->event_id, r->msg.receive_count, NULL, 0};
            const char *why = r->res.error[0] ? r->res.error : err_msg(r->handler_rc ? r->handler_rc : ORD_EHANDLER);
            int frc = u->m->h->on_failure(tx, &fr, why, u->m->h->ud);
            if (frc) return frc;
        }
        int64_t vis = rec_backoff(u->m, r->msg.receive_count);
        int rc = queue_change_visibility_ms_tx(tx, u->m->fs->qs, u->m->q, r->msg.receipt, vis);
        if (rc && rc != ORD_ERECEIPT) return rc; /* a stale receipt: already visible again */
    }
    return 0;
}

static void last_error_set(mapping *m, const char *error)
{
    pthread_mutex_lock(&m->fs->emu);
    str_copy(m->last_error, sizeof m->last_error, error);
    m->last_error_ms = clock_wall_ms();
    pthread_mutex_unlock(&m->fs->emu);
}

/* After a record's unit completed: frees its state and counts its outcome.
 * 1 when it failed (it needs its backoff), 2 when it was deferred (it
 * returns to the queue untried). */
static int rec_count(rec *r)
{
    mapping *m = r->m;
    if (r->res.free_state) r->res.free_state(r->res.state);
    r->res.free_state = NULL;
    switch (r->outcome) {
    case REC_OK: atomic_fetch_add(&m->records, 1); return 0;
    case REC_DUP:
        atomic_fetch_add(&m->duplicates, 1);
        log_info("fn", "duplicate", "function", m->name, "eventId", r->event_id, "outcome", "duplicate_ignored", NULL);
        return 0;
    case REC_FENCED:
        atomic_fetch_add(&m->fenced, 1);
        log_warn("fn", "commit refused: receipt expired", "function", m->name, "eventId", r->event_id, NULL);
        return 0;
    case REC_DEFERRED: atomic_fetch_add(&m->deferred, 1); return r->msg.seq ? 2 : 0;
    default:
        last_error_set(m, r->res.error[0] ? r->res.error : err_msg(r->handler_rc ? r->handler_rc : ORD_EHANDLER));
        atomic_fetch_add(&m->errors, 1);
        return 1;
    }
}

/* Runs a received batch as one invocation; adds its outcomes to d (may be
 * NULL). */
static void run_batch(mapping *m, rec *recs, int n, fn_drain_result *d)
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
        fn_record fr = {m->name, &r->msg, r->body, r->event_id, r->msg.receive_count, NULL, 0};
        r->handler_rc = m->h->fn(&fr, &r->res, m->h->ud);
        if (r->handler_rc == FN_DEFER) {
            r->handler_rc = 0;
            r->outcome = REC_DEFERRED;
            if (r->res.free_state) r->res.free_state(r->res.state);
            r->res.free_state = NULL;
            continue;
        }
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
        int oc = recs[i].outcome;
        int c = rec_count(&recs[i]);
        failed += c;
        if (d) {
            d->total++;
            if (oc == REC_OK || oc == REC_DUP)
                d->processed++;
            else if (oc == REC_DEFERRED)
                d->deferred++;
            else
                d->failed++;
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
    char tname[16];
    snprintf(tname, sizeof tname, "fn:%.12s", m->name); /* names are 15 characters at most */
    pthread_setname_np(pthread_self(), tname);
    rec recs[LIMIT_FN_BATCH_MAX];
    queue_msg msgs[LIMIT_FN_BATCH_MAX];
    atomic_fetch_add(&m->running, 1);
    while (!atomic_load(&fs->stop)) {
        int n = 0, k = 0;
        if (atomic_load(&m->hold)) { /* paused: wait for a resume (or the stop) */
            pthread_mutex_lock(&fs->mu);
            while (m->paused && !atomic_load(&fs->stop)) pthread_cond_wait(&fs->pause_cv, &fs->mu);
            pthread_mutex_unlock(&fs->mu);
            continue;
        }
        int rc = queue_receive_wait_cancel(fs->qs, m->q, m->batch, -1, POLL_WAIT_MS, msgs, &n, &m->hold);
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
        while (n < m->batch && m->window_ms && !atomic_load(&m->hold)) {
            int64_t left = end - clock_mono_ms();
            if (left <= 0) break;
            rc = queue_receive_wait_cancel(fs->qs, m->q, m->batch - n, -1, (int)left, msgs + n, &k, &m->hold);
            if (rc) break;
            n += k;
        }
        memset(recs, 0, sizeof(rec) * (size_t)n);
        for (int i = 0; i < n; i++) recs[i].msg = msgs[i];
        atomic_fetch_add(&m->busy, n);
        run_batch(m, recs, n, NULL);
        atomic_fetch_sub(&m->busy, n);
    }
    atomic_fetch_sub(&m->running, 1);
    return NULL;
}

/* ---- in-process records (run to completion) ------------------------------ */

/* One record offered to an in-process mapping; owns its copy of the message
 * (body and attributes live after the struct).  msg.seq stays 0 while the
 * message has no row (taken in the sending transaction). */
typedef struct irec {
    rec r;
    struct backoff_unit bu;
    int64_t t0_us; /* offered at */
    int ran;       /* its unit ran (else the sending unit rolled back) */
    int unit_rc;   /* what its unit failed with, for the recovery */
    int kept;      /* the recovery wrote the message back with its backoff */
    int has_event; /* the bus told the event (ev, its strings in data) */
    queue_event ev;
    char data[];
} irec;

static void inline_release(irec *ir)
{
    mapping *m = ir->r.m;
    json_decref(ir->r.body);
    free(ir);
    if (atomic_fetch_sub(&m->inflight, 1) == 1 && atomic_load(&m->fs->stop)) {
        pthread_mutex_lock(&m->fs->mu);
        pthread_cond_broadcast(&m->fs->cv);
        pthread_mutex_unlock(&m->fs->mu);
    }
}

/* The record's unit, on the writer: the handler (with the event id the bus
 * gave, the body is not parsed), then as a poller's record. */
static int inline_unit(store_conn *tx, void *arg)
{
    irec *ir = arg;
    rec *r = &ir->r;
    mapping *m = r->m;
    ir->ran = 1;
    const queue_event *ev = ir->has_event ? &ir->ev : NULL;
    if (!ev && !r->body) {
        json_error_t je;
        r->body = json_loadb(r->msg.body, r->msg.body_len, 0, &je);
        rec_event_id(r);
    }
    fn_record fr = {m->name, &r->msg, r->body, r->event_id, r->msg.receive_count, ev, 1};
    r->handler_rc = m->h->fn(&fr, &r->res, m->h->ud);
    if (r->handler_rc == FN_DEFER) { /* untried: into the queue (or back) without counting the receive */
        r->handler_rc = 0;
        r->outcome = REC_DEFERRED;
        return queue_defer_tx(tx, m->fs->qs, m->q, &r->msg, r->res.defer_ms);
    }
    if (r->handler_rc) return r->handler_rc; /* nothing written; the record fails */
    return rec_unit(tx, r);
}

/* Right after the record's unit failed and rolled back, in the same
 * transaction: a message taken without a row is written back with its
 * backoff (and the failure recorded), so the failure cannot lose it.  A
 * message with a row goes back with a backoff unit after the commit. */
static int inline_recover(store_conn *tx, void *arg, int rc)
{
    irec *ir = arg;
    rec *r = &ir->r;
    mapping *m = r->m;
    ir->unit_rc = rc;
    r->outcome = rc == ORD_ERECEIPT ? REC_FENCED : REC_FAILED;
    if (r->msg.seq) return 0;
    if (m->h->on_failure) {
        fn_record fr = {m->name, &r->msg, r->body, r->event_id, r->msg.receive_count,
                        ir->has_event ? &ir->ev : NULL, 1};
        const char *why = r->res.error[0] ? r->res.error : err_msg(r->handler_rc ? r->handler_rc : rc);
        int frc = m->h->on_failure(tx, &fr, why, m->h->ud);
        if (frc) return frc;
    }
    int krc = queue_keep_tx(tx, m->q, &r->msg, rec_backoff(m, r->msg.receive_count));
    ir->kept = krc == 0;
    return krc;
}

static int inline_backoff_unit(store_conn *tx, void *arg)
{
    return backoff_unit(tx, &((irec *)arg)->bu);
}

static void inline_backoff_done(void *arg, int rc)
{
    irec *ir = arg;
    if (rc) log_error("fn", "backoff failed", "function", ir->r.m->name, "error", err_name(rc), NULL);
    inline_release(ir);
}

/* On the writer after the commit (or when the sending unit rolled back). */
static void inline_done(void *arg, int rc)
{
    irec *ir = arg;
    rec *r = &ir->r;
    mapping *m = r->m;
    if (!ir->ran) { /* the message was never sent */
        inline_release(ir);
        return;
    }
    if (rc) r->outcome = REC_FAILED; /* the batch failed */
    if (r->outcome == REC_FAILED) {
        int why = r->handler_rc ? r->handler_rc : ir->unit_rc ? ir->unit_rc : rc;
        log_warn("fn", "record failed", "function", m->name, "eventId", r->event_id, "messageId", r->msg.message_id,
                 "error", r->res.error[0] ? r->res.error : err_name(why), "#attempt", (int64_t)r->msg.receive_count,
                 "outcome", "failed", NULL);
    }
    int failed = rec_count(r); /* a deferred record went back in its unit */
    int64_t us = clock_mono_us() - ir->t0_us;
    atomic_fetch_add(&m->invocations, 1);
    atomic_fetch_add(&m->batch_records, 1);
    atomic_fetch_add(&m->duration_us, (uint64_t)us);
    metric_observe(m->m_duration, (double)us / 1e6);
    metric_observe(m->m_batch, 1);
    if (failed == 1 && !ir->kept && r->msg.seq) { /* its row back with backoff, in a unit of its own */
        ir->bu = (struct backoff_unit){m, r, 1};
        if (store_submit(queue_sys_store(m->fs->qs), inline_backoff_unit, inline_backoff_done, ir) == 0) return;
        /* the store refuses work: the lease expires and a poller retries it */
    }
    inline_release(ir);
}

/* queue_offer_fn: a message sent to the mapping's queue inside a unit; its
 * record runs as a follow-up unit, in this transaction (no row) or, when
 * the batch has had its share, in the next (the row, leased). */
static int inline_offer(store_conn *tx, void *arg, queue *q, const queue_msg *msg, const queue_event *ev,
                        queue_msg **lease)
{
    mapping *m = arg;
    size_t alen = msg->attrs ? strlen(msg->attrs) + 1 : 0;
    size_t slen[3] = {0, 0, 0}; /* the event's source, detail-type and subject */
    if (ev) {
        slen[0] = strlen(ev->source) + 1;
        slen[1] = strlen(ev->detail_type) + 1;
        slen[2] = strlen(ev->subject) + 1;
    }
    irec *ir = malloc(sizeof *ir + msg->body_len + 1 + alen + slen[0] + slen[1] + slen[2]);
    if (!ir) return ORD_ENOMEM;
    memset(ir, 0, sizeof *ir);
    ir->r.m = m;
    ir->r.msg = *msg;
    ir->r.msg.body = ir->data;
    memcpy(ir->data, msg->body, msg->body_len);
    ir->data[msg->body_len] = 0;
    ir->r.msg.attrs = msg->attrs ? memcpy(ir->data + msg->body_len + 1, msg->attrs, alen) : NULL;
    ir->r.msg.source_queue = NULL;
    if (ev) {
        char *p = ir->data + msg->body_len + 1 + alen;
        str_copy(ir->r.event_id, sizeof ir->r.event_id, ev->id);
        ir->ev = (queue_event){ir->r.event_id, memcpy(p, ev->source, slen[0]),
                               memcpy(p + slen[0], ev->detail_type, slen[1]),
                               memcpy(p + slen[0] + slen[1], ev->subject, slen[2]), ev->time_ms};
        ir->has_event = 1;
    }
    ir->t0_us = clock_mono_us();
    int rc = store_follow_tx(tx, inline_unit, inline_recover, inline_done, ir);
    if (rc < 0) {
        free(ir);
        return rc;
    }
    atomic_fetch_add(&m->inflight, 1);
    if (rc == 1) *lease = &ir->r.msg; /* the queue writes the row and its receipt into it */
    (void)q;
    return rc;
}

static int barrier_unit(store_conn *tx, void *arg)
{
    (void)tx;
    (void)arg;
    return 0;
}

/* Removes every in-process consumer and waits for their records. */
static void inline_stop(fn_sys *fs)
{
    int any = 0;
    pthread_mutex_lock(&fs->mu); /* a resume (mapping_apply) sets consumers under it, unless stopping */
    for (int i = 0; i < fs->nmaps; i++)
        if (fs->maps[i]->consuming) {
            queue_set_consumer(fs->maps[i]->q, NULL, NULL);
            fs->maps[i]->consuming = 0;
            any = 1;
        }
    pthread_mutex_unlock(&fs->mu);
    if (!any) return;
    store_run(queue_sys_store(fs->qs), barrier_unit, NULL); /* an offer under way has finished */
    pthread_mutex_lock(&fs->mu);
    for (int i = 0; i < fs->nmaps; i++)
        while (atomic_load(&fs->maps[i]->inflight)) pthread_cond_wait(&fs->cv, &fs->mu);
    pthread_mutex_unlock(&fs->mu);
}

/* ---- operator control: pause, resume, drain -------------------------------- */

int fn_find(fn_sys *fs, const char *name)
{
    for (int i = 0; i < fs->nmaps; i++)
        if (!strcmp(fs->maps[i]->name, name)) return i;
    return ORD_ENOTFOUND;
}

/* Applies a paused state on this node (any thread).  A pause stops the
 * in-process offers (the writer reads the flag in the sending unit, so a
 * unit after this takes a row) and cancels the pollers' receives (a
 * receive whose turn comes after this takes nothing); records in flight
 * finish.  A resume puts both back. */
static void mapping_apply(mapping *m, int paused, int64_t when_ms, const char *by)
{
    fn_sys *fs = m->fs;
    pthread_mutex_lock(&fs->mu);
    int was = m->paused;
    m->paused = paused;
    if (when_ms) {
        m->paused_ms = when_ms;
        str_copy(m->paused_by, sizeof m->paused_by, by ? by : "");
    }
    if (was == paused) {
        pthread_mutex_unlock(&fs->mu);
        return;
    }
    int stopping = atomic_load(&fs->stop);
    atomic_store(&m->hold, paused || stopping);
    if (fs->started && !stopping && m->enabled && !fs->elsewhere && m->h->inline_ok) {
        queue_set_consumer(m->q, paused ? NULL : inline_offer, paused ? NULL : m);
        m->consuming = !paused;
    }
    pthread_cond_broadcast(&fs->pause_cv);
    pthread_mutex_unlock(&fs->mu);
    if (paused) queue_interrupt(m->q); /* long polls under way return empty */
    log_info("fn", paused ? "function paused" : "function resumed", "function", m->name, "queue", queue_name(m->q),
             "by", by && *by ? by : NULL, "state", paused ? "paused" : "enabled", NULL);
}

struct pause_hook {
    mapping *m;
    int paused;
    int64_t now;
    char by[64];
};

static void pause_hook(void *arg, int committed)
{
    struct pause_hook *h = arg;
    if (committed) mapping_apply(h->m, h->paused, h->now, h->by);
    free(h);
}

int fn_pause_tx(store_conn *tx, fn_sys *fs, const char *name, int paused, const char *by)
{
    int i = fn_find(fs, name);
    if (i < 0) return i;
    struct pause_hook *h = calloc(1, sizeof *h);
    if (!h) return ORD_ENOMEM;
    *h = (struct pause_hook){fs->maps[i], paused, clock_wall_ms(), ""};
    str_copy(h->by, sizeof h->by, by ? by : "");
    store_stmt *st = store_prep(tx, ST_FN_STATE_SET);
    store_bind_str(st, 1, name);
    store_bind_i64(st, 2, paused);
    store_bind_i64(st, 3, h->now);
    store_bind_str(st, 4, by && *by ? by : NULL);
    int rc = store_exec(st);
    if (!rc) rc = store_signal_tx(tx, STORE_TOPIC_FUNCTIONS, 0);
    if (!rc) rc = store_after_commit(tx, pause_hook, h);
    if (rc) free(h);
    return rc;
}

int fn_state_load(fn_sys *fs)
{
    store_conn *c = store_reader(queue_sys_store(fs->qs));
    if (!c) return ORD_ESTORE;
    int seen[LIMIT_FUNCTIONS_MAX] = {0};
    store_stmt *st = store_prep(c, ST_FN_STATE_LIST);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) {
        const char *name = store_col_text(st, 0, NULL);
        int i = name ? fn_find(fs, name) : -1;
        if (i < 0) continue; /* a function no longer declared */
        seen[i] = 1;
        const char *by = store_col_is_null(st, 3) ? NULL : store_col_text(st, 3, NULL);
        mapping_apply(fs->maps[i], store_col_i64(st, 1) != 0, store_col_i64(st, 2), by);
    }
    store_reset(st);
    if (rc != STORE_DONE) return rc < 0 ? rc : ORD_ESTORE;
    for (int i = 0; i < fs->nmaps; i++)
        if (!seen[i]) mapping_apply(fs->maps[i], 0, 0, NULL);
    return 0;
}

/* Another node paused or resumed a function (or signals may have been
 * missed: key -1): read the table again. */
static void fn_state_signal(void *arg, int64_t key, uint32_t times)
{
    (void)key;
    (void)times;
    int rc = fn_state_load(arg);
    if (rc) log_warn("fn", "function states not read", "error", err_name(rc), NULL);
}

struct drain {
    mapping *m;
    int max;
    fn_drain_done_fn done;
    void *arg;
};

static void *drain_main(void *arg)
{
    struct drain *dr = arg;
    mapping *m = dr->m;
    fn_sys *fs = m->fs;
    pthread_setname_np(pthread_self(), "fn-drain");
    fn_drain_result res = {0, 0, 0, 0, "empty"};
    rec recs[LIMIT_FN_BATCH_MAX];
    queue_msg msgs[LIMIT_FN_BATCH_MAX];
    int64_t deadline = clock_mono_ms() + (int64_t)LIMIT_FN_DRAIN_SECONDS * 1000;
    int rc = 0;
    log_info("fn", "drain started", "function", m->name, "queue", queue_name(m->q), "#maxRecords",
             (int64_t)dr->max, NULL);
    for (;;) {
        if (atomic_load(&fs->stop)) {
            res.stopped = "stopping";
            break;
        }
        if (res.total >= dr->max) {
            res.stopped = "limit";
            break;
        }
        if (clock_mono_ms() >= deadline) {
            res.stopped = "time";
            break;
        }
        int want = dr->max - res.total < m->batch ? dr->max - res.total : m->batch, n = 0;
        rc = queue_receive_wait_cancel(fs->qs, m->q, want, -1, 0, msgs, &n, &fs->stop);
        if (rc) {
            res.stopped = "error";
            break;
        }
        if (!n) {
            res.stopped = "empty";
            break;
        }
        memset(recs, 0, sizeof(rec) * (size_t)n);
        for (int i = 0; i < n; i++) recs[i].msg = msgs[i];
        atomic_fetch_add(&m->busy, n);
        run_batch(m, recs, n, &res);
        atomic_fetch_sub(&m->busy, n);
    }
    log_info("fn", "drain ended", "function", m->name, "stoppedBy", res.stopped, "#processed", (int64_t)res.processed,
             "#failed", (int64_t)res.failed, "#deferred", (int64_t)res.deferred, "#total", (int64_t)res.total,
             "error", rc ? err_name(rc) : NULL, NULL);
    dr->done(dr->arg, rc, &res);
    pthread_mutex_lock(&fs->mu);
    m->draining = 0;
    m->drain_joinable = 1;
    pthread_mutex_unlock(&fs->mu);
    free(dr);
    return NULL;
}

int fn_drain_start(fn_sys *fs, const char *name, int max_records, fn_drain_done_fn done, void *arg)
{
    int i = fn_find(fs, name);
    if (i < 0) return i;
    if (max_records < 1 || max_records > LIMIT_FN_DRAIN_RECORDS_MAX) return ORD_EINVAL;
    mapping *m = fs->maps[i];
    struct drain *dr = malloc(sizeof *dr);
    if (!dr) return ORD_ENOMEM;
    *dr = (struct drain){m, max_records, done, arg};
    int rc = 0;
    pthread_mutex_lock(&fs->mu);
    if (fs->started != 2 || atomic_load(&fs->stop)) {
        rc = ORD_ESHUTDOWN;
    } else if (m->draining) {
        rc = ORD_ECONFLICT;
    } else {
        if (m->drain_joinable) pthread_join(m->drain_thread, NULL); /* the previous one has ended */
        m->drain_joinable = 0;
        if (pthread_create(&m->drain_thread, NULL, drain_main, dr))
            rc = ORD_EINTERNAL;
        else
            m->draining = 1;
    }
    pthread_mutex_unlock(&fs->mu);
    if (rc) free(dr);
    return rc;
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
    pthread_setname_np(pthread_self(), "fn-sweeper"); /* names in top, perf, /proc */
    fn_sys *fs = arg;
    store *st = queue_sys_store(fs->qs);
    int shared = store_is_shared(st);
    int64_t next_sweep = clock_mono_ms() + SWEEP_INTERVAL_MS;
    pthread_mutex_lock(&fs->mu);
    while (!atomic_load(&fs->stop)) {
        /* on a shared store also re-read the paused functions now and then:
         * a signal between nodes can be lost */
        struct timespec ts = clock_mono_deadline(shared ? LIMIT_FN_STATE_POLL_MS : SWEEP_INTERVAL_MS);
        pthread_cond_timedwait(&fs->cv, &fs->mu, &ts);
        if (atomic_load(&fs->stop)) break;
        pthread_mutex_unlock(&fs->mu);
        if (shared) fn_state_signal(fs, -1, 1);
        if (clock_mono_ms() >= next_sweep) {
            int64_t n;
            next_sweep = clock_mono_ms() + SWEEP_INTERVAL_MS;
            /* the cluster's periodic work: on the store's leader only */
            if (store_is_leader(st)) fn_sweep_idempotency(fs, &n);
        }
        pthread_mutex_lock(&fs->mu);
    }
    pthread_mutex_unlock(&fs->mu);
    return NULL;
}

int fn_start(fn_sys *fs)
{
    CHECK(!fs->started);
    int src = fn_state_load(fs); /* paused functions stay paused across a restart */
    if (src) log_error("fn", "function states not read", "error", err_name(src), NULL);
    if ((src = store_signal_on(queue_sys_store(fs->qs), STORE_TOPIC_FUNCTIONS, fn_state_signal, fs))) return src;
    pthread_mutex_lock(&fs->mu);
    fs->started = 1;
    pthread_mutex_unlock(&fs->mu);
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
        pthread_mutex_lock(&fs->mu);
        if (m->h->inline_ok && !m->paused) {
            queue_set_consumer(m->q, inline_offer, m);
            m->consuming = 1;
        }
        int paused = m->paused;
        pthread_mutex_unlock(&fs->mu);
        log_info("fn", paused ? "function started paused" : "function started", "function", m->name, "queue",
                 queue_name(m->q), "#batchSize", (int64_t)m->batch, "#concurrency", (int64_t)m->concurrency,
                 "state", paused ? "paused" : "enabled", NULL);
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
    store_signal_off(queue_sys_store(fs->qs), STORE_TOPIC_FUNCTIONS, fn_state_signal, fs);
    for (int i = 0; i < fs->nmaps; i++) atomic_store(&fs->maps[i]->hold, 1);
    inline_stop(fs);
    pthread_mutex_lock(&fs->mu);
    pthread_cond_broadcast(&fs->cv);
    pthread_cond_broadcast(&fs->pause_cv);
    pthread_mutex_unlock(&fs->mu);
    for (int i = 0; i < fs->nmaps; i++) { /* a drain ends at its next batch */
        mapping *m = fs->maps[i];
        pthread_mutex_lock(&fs->mu);
        int join = m->draining || m->drain_joinable;
        m->drain_joinable = 0;
        pthread_mutex_unlock(&fs->mu);
        if (join) pthread_join(m->drain_thread, NULL);
    }
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
        out->deferred = atomic_load(&m->deferred);
        out->enabled = m->enabled;
        out->pollers = m->enabled && !fs->elsewhere ? m->concurrency : 0;
        out->elsewhere = m->enabled && fs->elsewhere;
        out->pollers_running = atomic_load(&m->running);
        out->in_flight = atomic_load(&m->busy) + atomic_load(&m->inflight);
        pthread_mutex_lock(&fs->mu);
        out->paused = m->paused;
        out->paused_ms = m->paused_ms;
        str_copy(out->paused_by, sizeof out->paused_by, m->paused_by);
        out->draining = m->draining;
        pthread_mutex_unlock(&fs->mu);
        pthread_mutex_lock(&fs->emu);
        str_copy(out->last_error, sizeof out->last_error, m->last_error);
        out->last_error_ms = m->last_error_ms;
        pthread_mutex_unlock(&fs->emu);
        return 0;
    }
    return ORD_ENOTFOUND;
}
