/* queue.c - SQS standard-queue semantics on the store; see queue.h.
 *
 * DESIGN
 * Messages are rows (store/migrations).  A message is receivable when
 * visible_ms <= now; receive sets visible_ms = now + visibility and a fresh
 * random receipt token, so only the latest receipt matches (delete and change
 * visibility are conditional on it).  The in-memory registry (queues[]) is
 * append-only and changes only after a commit (store_after_commit), so it
 * never shows a queue the database does not have.
 *
 * Long poll: each queue has a wake sequence (bumped after every commit that
 * made a message visible) and a hint of when its next invisible message
 * becomes visible.  Waiters sleep on nothing: they are callbacks run by the
 * commit hook or by one timer thread that sleeps until the earliest waiter
 * deadline or visibility hint.  A retry that finds nothing recomputes the hint
 * from the index, so there is no periodic polling.
 *
 * Several nodes (a shared store): a commit that makes messages receivable
 * also signals the other nodes (STORE_TOPIC_QUEUE, queue id); their handler
 * forgets the queue's visibility hint and wakes its waiters, and the
 * store's fallback poll (key -1) does so for every queue, for what no
 * signal announces (another node's visibility timeouts and delays).  Queue
 * creations and attribute changes signal STORE_TOPIC_QUEUES: the others
 * reload the registry from the store.
 *
 * THREAD SAFETY: q->mu guards attrs and waiters; qs->mu guards the timer
 * state; qs->reg_mu serialises additions to the registry (readers need no
 * lock: the array only grows, its count is atomic).  Counters are atomics.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/log.h"
#include "queue/queue.h"

#define NO_TIME INT64_MAX

typedef struct qwaiter {
    queue_wait_fn fn;
    void *arg;
    int64_t deadline_ms; /* monotonic */
    struct qwaiter *next;
} qwaiter;

struct queue {
    queue_sys *qs;
    int64_t id;
    char name[LIMIT_QUEUE_NAME_MAX + 1];
    pthread_mutex_t mu;
    queue_attrs attrs;
    _Atomic uint64_t wake_seq;
    _Atomic int64_t next_visible_ms; /* wall ms, never later than the true time: 0 unknown, NO_TIME none */
    qwaiter *waiters;
    _Atomic int nwaiters; /* lets hot paths skip the lock */
    _Atomic int64_t ready;  /* messages made receivable since the last wake: wake that many waiters */
    _Atomic uint64_t sent, received, deleted, moved, empty, expired;
    /* the depth estimate (store.queueDepthMax), under mu: the depth counted
     * in the database when sent was depth_sent; never below the true depth
     * on one node (sends since are added, deletes are not subtracted) */
    int64_t depth_base;
    uint64_t depth_sent;
    int64_t depth_at_ms; /* monotonic ms of the count; 0 never counted */
    int declared;        /* of the configured topology (queue_declare): never deleted */
    uint64_t added_gen;  /* qs->gen when it joined the registry (reg_mu) */
    /* gone (queue_delete_queue_tx): set by the deleting unit on the writer, so
     * later units of its batch see it; cleared if that unit rolls back.  A
     * deleted queue leaves the registry at COMMIT but is freed only with the
     * system (qs->dead): requests that found it earlier stay safe. */
    _Atomic int gone;
    queue *next_dead;
    /* set before serving (queue_require_visibility): the function that
     * consumes this queue needs at least this VisibilityTimeout */
    int visibility_min_s;
    char consumer[LIMIT_FUNCTION_NAME_MAX + 1];
    /* the in-process consumer (queue_set_consumer): offer/offer_arg are
     * written before offering is set, read by the writer after it */
    queue_offer_fn offer;
    void *offer_arg;
    _Atomic int offering;
};

struct queue_sys {
    store *st;
    queue *queues[LIMIT_QUEUES_MAX];
    _Atomic int n;
    /* created by units of the batch being written, not yet committed: the
     * registry changes only after COMMIT, so creates in one batch look here
     * to see each other.  Writer thread only. */
    queue *creating[LIMIT_QUEUES_MAX];
    int ncreating;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t reg_mu;
    pthread_t timer;
    queue *dead; /* deleted queues (under reg_mu), freed at close */
    _Atomic uint64_t gen; /* queues added to the registry so far */
    _Atomic int64_t depth_max; /* store.queueDepthMax; 0 none */
    int closing;
    int kick;
    queue_dead_letter_fn dead_letter;
    void *dead_letter_arg;
};

/* ---- registry ---------------------------------------------------------- */

static queue *queue_new(queue_sys *qs, int64_t id, const char *name, const queue_attrs *a)
{
    queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->qs = qs;
    q->id = id;
    str_copy(q->name, sizeof q->name, name);
    q->attrs = *a;
    pthread_mutex_init(&q->mu, NULL);
    atomic_store(&q->next_visible_ms, 0); /* unknown: the first receive looks */
    return q;
}

static void queue_free(queue *q)
{
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Adds q unless a queue of its name is there already (another node's
 * creation, loaded by a refresh): then q is freed.  Returns the queue in the
 * registry, or NULL (q freed) when it is full. */
static void wake_waiters(queue *q, int only_due, int64_t now_mono);

/* Takes a deleted queue out of the registry (the last entry takes its slot:
 * a reader that loaded the old count may see that one twice, never a freed
 * one) and wakes its long polls, which then answer 404. */
static void registry_remove(queue_sys *qs, queue *q)
{
    pthread_mutex_lock(&qs->reg_mu);
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++)
        if (qs->queues[i] == q) {
            qs->queues[i] = qs->queues[n - 1];
            atomic_store(&qs->n, n - 1);
            atomic_store(&q->gone, 1);
            q->next_dead = qs->dead;
            qs->dead = q;
            break;
        }
    pthread_mutex_unlock(&qs->reg_mu);
    atomic_fetch_add(&q->wake_seq, 1);
    wake_waiters(q, 0, 0);
}

static queue *registry_add(queue_sys *qs, queue *q)
{
    pthread_mutex_lock(&qs->reg_mu);
    int n = atomic_load(&qs->n);
    queue *have = NULL;
    for (int i = 0; i < n && !have; i++)
        if (!strcmp(qs->queues[i]->name, q->name)) have = qs->queues[i];
    if (!have && n < LIMIT_QUEUES_MAX) {
        q->added_gen = atomic_fetch_add(&qs->gen, 1) + 1;
        qs->queues[n] = q;
        atomic_store(&qs->n, n + 1);
        have = q;
    }
    pthread_mutex_unlock(&qs->reg_mu);
    if (have != q) queue_free(q);
    return have;
}

queue *queue_find(queue_sys *qs, const char *name)
{
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++)
        if (!strcmp(qs->queues[i]->name, name)) return qs->queues[i];
    return NULL;
}

int queue_count(queue_sys *qs)
{
    return atomic_load(&qs->n);
}

queue *queue_at(queue_sys *qs, int i)
{
    return i >= 0 && i < atomic_load(&qs->n) ? qs->queues[i] : NULL;
}

const char *queue_name(const queue *q)
{
    return q->name;
}

void queue_get_attrs(const queue *q, queue_attrs *out)
{
    queue *m = (queue *)q;
    pthread_mutex_lock(&m->mu);
    *out = q->attrs;
    pthread_mutex_unlock(&m->mu);
}

int queue_is_dlq(queue_sys *qs, const queue *q)
{
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) {
        queue_attrs a;
        queue_get_attrs(qs->queues[i], &a);
        if (a.max_receive > 0 && !strcmp(a.dlq, q->name)) return 1;
    }
    return 0;
}

store *queue_sys_store(queue_sys *qs)
{
    return qs->st;
}

void queue_sys_on_dead_letter(queue_sys *qs, queue_dead_letter_fn fn, void *arg)
{
    qs->dead_letter = fn;
    qs->dead_letter_arg = arg;
}

/* ---- waking ------------------------------------------------------------ */

static void timer_kick(queue_sys *qs)
{
    pthread_mutex_lock(&qs->mu);
    qs->kick = 1;
    pthread_cond_signal(&qs->cv);
    pthread_mutex_unlock(&qs->mu);
}

/* Detaches waiters (at most limit; all, or only those past their deadline)
 * and calls them. */
static void wake_some(queue *q, int only_expired, int64_t now_mono, int64_t limit)
{
    qwaiter *fire = NULL, **pp;
    pthread_mutex_lock(&q->mu);
    pp = &q->waiters;
    while (*pp && limit > 0) {
        qwaiter *w = *pp;
        if (!only_expired || w->deadline_ms <= now_mono) {
            limit--;
            *pp = w->next;
            w->next = fire;
            fire = w;
            atomic_fetch_sub(&q->nwaiters, 1);
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&q->mu);
    while (fire) {
        qwaiter *next = fire->next;
        fire->fn(fire->arg, only_expired);
        free(fire);
        fire = next;
    }
}

static void wake_waiters(queue *q, int only_expired, int64_t now_mono)
{
    wake_some(q, only_expired, now_mono, INT64_MAX);
}

/* After-commit hook of every unit that made a message receivable in q. */
static void wake_hook(void *arg, int committed)
{
    queue *q = arg;
    if (!committed) return;
    atomic_fetch_add(&q->wake_seq, 1);
    /* as many waiters as messages became receivable: not a thundering herd */
    int64_t n = atomic_exchange(&q->ready, 0);
    if (n > 0 && atomic_load(&q->nwaiters)) wake_some(q, 0, 0, n);
}

static void hint_visible(queue *q, int64_t when_ms)
{
    int64_t cur = atomic_load(&q->next_visible_ms);
    while (when_ms < cur && !atomic_compare_exchange_weak(&q->next_visible_ms, &cur, when_ms))
        ;
    if (when_ms < cur && atomic_load(&q->nwaiters)) timer_kick(q->qs);
}

uint64_t queue_wake_seq(queue *q)
{
    return atomic_load(&q->wake_seq);
}

int queue_wait(queue_sys *qs, queue *q, uint64_t seq, int64_t deadline_ms, queue_wait_fn fn, void *arg)
{
    qwaiter *w = malloc(sizeof *w);
    if (!w) return ORD_ENOMEM;
    *w = (qwaiter){fn, arg, deadline_ms, NULL};
    int now_ready = 0, timed_out = 0;
    pthread_mutex_lock(&q->mu);
    if (atomic_load(&q->wake_seq) != seq || atomic_load(&q->next_visible_ms) <= clock_wall_ms())
        now_ready = 1;
    else if (deadline_ms <= clock_mono_ms())
        timed_out = 1;
    else {
        w->next = q->waiters;
        q->waiters = w;
        atomic_fetch_add(&q->nwaiters, 1);
    }
    pthread_mutex_unlock(&q->mu);
    if (now_ready || timed_out) {
        free(w);
        fn(arg, timed_out);
        return 0;
    }
    pthread_mutex_lock(&qs->mu);
    int closing = qs->closing;
    qs->kick = 1;
    pthread_cond_signal(&qs->cv);
    pthread_mutex_unlock(&qs->mu);
    if (closing) wake_waiters(q, 0, 0);
    return 0;
}

/* ---- depth bound (store.queueDepthMax) ---------------------------------- */

/* Messages in q by the estimate (q->mu held). */
static int64_t depth_estimate(queue *q)
{
    return q->depth_base + (int64_t)(atomic_load(&q->sent) - q->depth_sent);
}

/* Counts q's messages in the database again (on the calling thread's
 * reader).  The sent counter is read before the count, so a send that
 * commits meanwhile is counted twice (too high for a second), never not at
 * all. */
static void depth_count(queue_sys *qs, queue *q)
{
    uint64_t sent = atomic_load(&q->sent);
    store_conn *c = store_reader(qs->st);
    if (!c) return;
    store_stmt *st = store_prep(c, ST_MSG_STATS);
    store_bind_i64(st, 1, q->id);
    store_bind_i64(st, 2, clock_wall_ms());
    if (store_step(st) == STORE_ROW) {
        int64_t depth = store_col_i64(st, 0) + store_col_i64(st, 1) + store_col_i64(st, 2);
        pthread_mutex_lock(&q->mu);
        q->depth_base = depth;
        q->depth_sent = sent;
        q->depth_at_ms = clock_mono_ms();
        pthread_mutex_unlock(&q->mu);
    }
    store_reset(st); /* ends the read transaction */
}

/* The timer's share: a queue whose estimate is past half the bound is
 * counted again once a second (below half, the estimate alone proves the
 * room); every queue is counted once after it is loaded.  Returns when it
 * wants to run next (monotonic ms; within a second, since sends do not wake
 * the timer), or 0 when there is no bound. */
static int64_t depth_refresh(queue_sys *qs, int64_t now_mono)
{
    int64_t max = atomic_load(&qs->depth_max), next = now_mono + 1000; /* sends do not wake the timer */
    if (!max) return 0;
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) {
        queue *q = qs->queues[i];
        pthread_mutex_lock(&q->mu);
        int64_t est = depth_estimate(q), at = q->depth_at_ms;
        pthread_mutex_unlock(&q->mu);
        if (at && est * 2 < max) continue; /* a queue never counted (just loaded) is counted once */
        if (!at || now_mono - at >= 1000) {
            depth_count(qs, q);
            at = now_mono;
        }
        if (at + 1000 < next) next = at + 1000;
    }
    return next;
}

void queue_sys_set_depth_max(queue_sys *qs, int64_t max)
{
    atomic_store(&qs->depth_max, max);
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) depth_count(qs, qs->queues[i]); /* before the first send */
    pthread_mutex_lock(&qs->mu);
    qs->kick = 1;
    pthread_cond_signal(&qs->cv);
    pthread_mutex_unlock(&qs->mu);
}

/* The timer thread: sleeps until the earliest waiter deadline or visibility
 * hint among queues that have waiters, then fires what is due. */
static void *timer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "queue-timer"); /* names in top, perf, /proc */
    queue_sys *qs = arg;
    pthread_mutex_lock(&qs->mu);
    while (!qs->closing) {
        qs->kick = 0;
        pthread_mutex_unlock(&qs->mu);
        int64_t now_mono = clock_mono_ms(), now_wall = clock_wall_ms();
        int64_t next = now_mono + 60000, dnext = depth_refresh(qs, now_mono);
        if (dnext && dnext < next) next = dnext;
        int n = atomic_load(&qs->n);
        for (int i = 0; i < n; i++) {
            queue *q = qs->queues[i];
            if (!atomic_load(&q->nwaiters)) continue;
            int64_t nv = atomic_load(&q->next_visible_ms);
            if (nv <= now_wall) {
                atomic_store(&q->next_visible_ms, 0); /* unknown: the retry recomputes it */
                wake_waiters(q, 0, 0);
                continue;
            }
            wake_waiters(q, 1, now_mono);
            if (nv != NO_TIME && now_mono + (nv - now_wall) < next) next = now_mono + (nv - now_wall);
            pthread_mutex_lock(&q->mu);
            for (qwaiter *w = q->waiters; w; w = w->next)
                if (w->deadline_ms < next) next = w->deadline_ms;
            pthread_mutex_unlock(&q->mu);
        }
        pthread_mutex_lock(&qs->mu);
        if (!qs->kick && !qs->closing) {
            struct timespec ts = clock_mono_deadline(next - clock_mono_ms());
            pthread_cond_timedwait(&qs->cv, &qs->mu, &ts);
        }
    }
    pthread_mutex_unlock(&qs->mu);
    return NULL;
}

/* ---- system ------------------------------------------------------------- */

/* Reads every queue from the store: adds the ones the registry lacks and
 * takes the attributes of the others (another node may have changed them). */
static int load_queues(store_conn *c, queue_sys *qs)
{
    /* a queue that joins the registry after this (its creating unit
     * committed meanwhile: nodes starting together) may be missing from
     * what the list reads, and is not another node's deletion */
    uint64_t gen0 = atomic_load(&qs->gen);
    store_stmt *st = store_prep(c, ST_QUEUE_LIST);
    int rc;
    int64_t seen[LIMIT_QUEUES_MAX];
    int nseen = 0;
    while ((rc = store_step(st)) == STORE_ROW) {
        queue_attrs a;
        queue_attrs_init(&a);
        a.visibility_s = (int)store_col_i64(st, 2);
        a.delay_s = (int)store_col_i64(st, 3);
        a.retention_s = (int)store_col_i64(st, 4);
        a.max_size = (int)store_col_i64(st, 5);
        a.wait_s = (int)store_col_i64(st, 6);
        if (!store_col_is_null(st, 7)) str_copy(a.dlq, sizeof a.dlq, store_col_text(st, 7, NULL));
        a.max_receive = store_col_is_null(st, 8) ? 0 : (int)store_col_i64(st, 8);
        const char *name = store_col_text(st, 1, NULL);
        if (nseen < LIMIT_QUEUES_MAX) seen[nseen++] = store_col_i64(st, 0);
        queue *q = queue_find(qs, name);
        if (q) {
            pthread_mutex_lock(&q->mu);
            q->attrs = a;
            pthread_mutex_unlock(&q->mu);
            continue;
        }
        q = queue_new(qs, store_col_i64(st, 0), name, &a);
        if (!q) {
            rc = ORD_ENOMEM;
            break;
        }
        if (!registry_add(qs, q)) {
            rc = ORD_ELIMIT;
            break;
        }
    }
    store_reset(st);
    if (rc < 0) return rc;
    /* queues another node deleted */
    for (int i = atomic_load(&qs->n) - 1; i >= 0; i--) {
        queue *q = qs->queues[i];
        int found = q->added_gen > gen0;
        for (int k = 0; k < nseen && !found; k++) found = seen[k] == q->id;
        if (!found && nseen < LIMIT_QUEUES_MAX) registry_remove(qs, q);
    }
    return 0;
}

int queue_sys_refresh(queue_sys *qs)
{
    store_conn *c = store_reader(qs->st);
    return c ? load_queues(c, qs) : ORD_ESTORE;
}

static queue *find_by_id(queue_sys *qs, int64_t id)
{
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++)
        if (qs->queues[i]->id == id) return qs->queues[i];
    return NULL;
}

/* Another node committed `times` messages into queue key: as many of its
 * waiters look again (not a herd: the sender's own waiters race for them
 * too).  key -1 (a fallback poll, or signals maybe missed): every queue's
 * visibility hint is stale and every waiter looks again. */
static void on_queue_signal(void *arg, int64_t key, uint32_t times)
{
    queue_sys *qs = arg;
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) {
        queue *q = qs->queues[i];
        if (key >= 0 && q->id != key) continue;
        if (key < 0) atomic_store(&q->next_visible_ms, 0); /* unknown: the next empty receive asks the store */
        atomic_fetch_add(&q->wake_seq, 1);
        if (!atomic_load(&q->nwaiters)) continue;
        wake_some(q, 0, 0, key < 0 || !times ? INT64_MAX : (int64_t)times);
    }
    if (key >= 0 && !find_by_id(qs, key)) queue_sys_refresh(qs); /* a queue we have not seen yet */
}

static void on_queues_signal(void *arg, int64_t key, uint32_t times)
{
    (void)key;
    (void)times;
    int rc = queue_sys_refresh(arg);
    if (rc) log_warn("queue", "cannot reload the queues", "error", err_name(rc), NULL);
}

int queue_sys_open(store *st, queue_sys **out)
{
    queue_sys *qs = calloc(1, sizeof *qs);
    if (!qs) return ORD_ENOMEM;
    qs->st = st;
    pthread_mutex_init(&qs->mu, NULL);
    pthread_mutex_init(&qs->reg_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&qs->cv, &ca);
    pthread_condattr_destroy(&ca);
    store_conn *c = store_reader(st);
    int rc = c ? load_queues(c, qs) : ORD_ESTORE;
    if (!rc && pthread_create(&qs->timer, NULL, timer_main, qs)) rc = ORD_EINTERNAL;
    if (!rc && ((rc = store_signal_on(st, STORE_TOPIC_QUEUE, on_queue_signal, qs)) ||
                (rc = store_signal_on(st, STORE_TOPIC_QUEUES, on_queues_signal, qs)))) {
        store_signal_off(st, STORE_TOPIC_QUEUE, on_queue_signal, qs);
        pthread_mutex_lock(&qs->mu);
        qs->closing = 1;
        pthread_cond_signal(&qs->cv);
        pthread_mutex_unlock(&qs->mu);
        pthread_join(qs->timer, NULL);
    }
    if (rc) {
        for (int i = 0; i < atomic_load(&qs->n); i++) queue_free(qs->queues[i]);
        pthread_mutex_destroy(&qs->mu);
        pthread_mutex_destroy(&qs->reg_mu);
        pthread_cond_destroy(&qs->cv);
        free(qs);
        return rc;
    }
    *out = qs;
    return 0;
}

void queue_sys_close(queue_sys *qs)
{
    if (!qs) return;
    store_signal_off(qs->st, STORE_TOPIC_QUEUE, on_queue_signal, qs);
    store_signal_off(qs->st, STORE_TOPIC_QUEUES, on_queues_signal, qs);
    pthread_mutex_lock(&qs->mu);
    qs->closing = 1;
    pthread_cond_signal(&qs->cv);
    pthread_mutex_unlock(&qs->mu);
    pthread_join(qs->timer, NULL);
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) wake_waiters(qs->queues[i], 1, INT64_MAX);
    for (int i = 0; i < n; i++) queue_free(qs->queues[i]);
    while (qs->dead) {
        queue *q = qs->dead;
        qs->dead = q->next_dead;
        queue_free(q);
    }
    pthread_mutex_destroy(&qs->mu);
    pthread_mutex_destroy(&qs->reg_mu);
    pthread_cond_destroy(&qs->cv);
    free(qs);
}

/* ---- queues -------------------------------------------------------------- */

#define RANGE(v, lo, hi, what)                                                                     \
    if ((v) < (lo) || (v) > (hi)) {                                                                \
        snprintf(err, errlen, "%s must be between %d and %d, got %d", what, lo, hi, v);            \
        return ORD_EVALIDATION;                                                                    \
    }

int queue_attrs_check(queue_sys *qs, const char *name, const queue_attrs *a, char *err, size_t errlen)
{
    if (!queue_name_valid(name, LIMIT_QUEUE_NAME_MAX)) {
        snprintf(err, errlen, "queue name must be 1-%d characters of [A-Za-z0-9_-]", LIMIT_QUEUE_NAME_MAX);
        return ORD_EVALIDATION;
    }
    RANGE(a->visibility_s, 0, LIMIT_VISIBILITY_SECONDS_MAX, "VisibilityTimeout");
    RANGE(a->delay_s, 0, LIMIT_DELAY_SECONDS_MAX, "DelaySeconds");
    RANGE(a->retention_s, LIMIT_RETENTION_SECONDS_MIN, LIMIT_RETENTION_SECONDS_MAX, "MessageRetentionPeriod");
    RANGE(a->max_size, LIMIT_MAX_MESSAGE_SIZE_MIN, LIMIT_MESSAGE_BYTES_MAX, "MaximumMessageSize");
    RANGE(a->wait_s, 0, LIMIT_WAIT_SECONDS_MAX, "ReceiveMessageWaitTimeSeconds");
    if (a->max_receive || a->dlq[0]) {
        RANGE(a->max_receive, LIMIT_MAX_RECEIVE_COUNT_MIN, LIMIT_MAX_RECEIVE_COUNT_MAX,
              "RedrivePolicy.maxReceiveCount");
        if (!strcmp(a->dlq, name)) {
            snprintf(err, errlen, "RedrivePolicy.deadLetterTargetArn must name another queue");
            return ORD_EVALIDATION;
        }
        queue *d = queue_find(qs, a->dlq);
        if (!d) {
            snprintf(err, errlen, "RedrivePolicy.deadLetterTargetArn: no queue named '%s'", a->dlq);
            return ORD_EVALIDATION;
        }
        /* follow the dead-letter chain from the target: it must not come back
         * here (a message would circle between the queues for ever) */
        for (int hops = 0; d && hops < LIMIT_QUEUES_MAX; hops++) {
            queue_attrs da;
            queue_get_attrs(d, &da);
            if (!da.dlq[0]) break;
            if (!strcmp(da.dlq, name)) {
                snprintf(err, errlen, "RedrivePolicy.deadLetterTargetArn: '%s' dead-letters back to '%s': a cycle",
                         a->dlq, name);
                return ORD_EVALIDATION;
            }
            d = queue_find(qs, da.dlq);
        }
    }
    queue *self = queue_find(qs, name);
    if (self && a->visibility_s < self->visibility_min_s) {
        snprintf(err, errlen,
                 "VisibilityTimeout %d is below the timeoutSeconds (%d) of function '%s' that consumes this "
                 "queue: its commits would be refused before they can finish",
                 a->visibility_s, self->visibility_min_s, self->consumer);
        return ORD_EVALIDATION;
    }
    return 0;
}

void queue_require_visibility(queue *q, int seconds, const char *consumer)
{
    if (seconds <= q->visibility_min_s) return;
    q->visibility_min_s = seconds;
    str_copy(q->consumer, sizeof q->consumer, consumer);
}

static int attrs_equal(const queue_attrs *a, const queue_attrs *b)
{
    return a->visibility_s == b->visibility_s && a->delay_s == b->delay_s &&
           a->retention_s == b->retention_s && a->max_size == b->max_size && a->wait_s == b->wait_s &&
           a->max_receive == b->max_receive && !strcmp(a->dlq, b->dlq);
}

static void bind_attrs(store_stmt *st, const queue_attrs *a)
{
    store_bind_i64(st, 2, a->visibility_s);
    store_bind_i64(st, 3, a->delay_s);
    store_bind_i64(st, 4, a->retention_s);
    store_bind_i64(st, 5, a->max_size);
    store_bind_i64(st, 6, a->wait_s);
    if (a->max_receive > 0) {
        store_bind_str(st, 7, a->dlq);
        store_bind_i64(st, 8, a->max_receive);
    } else {
        store_bind_null(st, 7);
        store_bind_null(st, 8);
    }
}

static queue *creating_find(queue_sys *qs, const char *name)
{
    for (int i = 0; i < qs->ncreating; i++)
        if (!strcmp(qs->creating[i]->name, name)) return qs->creating[i];
    return NULL;
}

static void created_hook(void *arg, int committed)
{
    queue *q = arg;
    queue_sys *qs = q->qs;
    for (int i = 0; i < qs->ncreating; i++)
        if (qs->creating[i] == q) {
            qs->creating[i] = qs->creating[--qs->ncreating];
            break;
        }
    if (committed)
        registry_add(q->qs, q); /* frees q if a refresh got there first */
    else
        queue_free(q);
}

int queue_create_tx(store_conn *tx, queue_sys *qs, const char *name, const queue_attrs *a, int *created)
{
    char err[160];
    *created = 0;
    int rc = queue_attrs_check(qs, name, a, err, sizeof err);
    if (rc) return rc;
    queue *old = queue_find(qs, name);
    if (old && atomic_load(&old->gone)) old = NULL; /* deleted earlier in this batch */
    if (!old) old = creating_find(qs, name);
    if (old) {
        queue_attrs cur;
        queue_get_attrs(old, &cur);
        return attrs_equal(&cur, a) ? 0 : ORD_EEXISTS;
    }
    if (atomic_load(&qs->n) + qs->ncreating >= LIMIT_QUEUES_MAX) return ORD_ELIMIT;
    /* the schema swaps the first two binds: name is ?1 */
    store_stmt *st = store_prep(tx, ST_QUEUE_INSERT);
    store_bind_str(st, 1, name);
    bind_attrs(st, a);
    store_bind_i64(st, 9, clock_wall_ms());
    rc = store_step(st);
    if (rc != STORE_ROW) return rc == ORD_ECONFLICT ? ORD_EEXISTS : (rc < 0 ? rc : ORD_ESTORE);
    queue *q = queue_new(qs, store_col_i64(st, 0), name, a);
    if (!q) return ORD_ENOMEM;
    if ((rc = store_after_commit(tx, created_hook, q))) {
        queue_free(q);
        return rc;
    }
    qs->creating[qs->ncreating++] = q;
    if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUES, 0))) return rc;
    *created = 1;
    return 0;
}

struct attrs_update {
    queue *q;
    queue_attrs a;
};

static void attrs_hook(void *arg, int committed)
{
    struct attrs_update *u = arg;
    if (committed) {
        pthread_mutex_lock(&u->q->mu);
        u->q->attrs = u->a;
        pthread_mutex_unlock(&u->q->mu);
    }
    free(u);
}

int queue_set_attrs_tx(store_conn *tx, queue_sys *qs, queue *q, const queue_attrs *a)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    char err[160];
    int rc = queue_attrs_check(qs, q->name, a, err, sizeof err);
    if (rc) return rc;
    store_stmt *st = store_prep(tx, ST_QUEUE_UPDATE);
    store_bind_i64(st, 1, q->id);
    bind_attrs(st, a);
    if ((rc = store_exec(st))) return rc;
    struct attrs_update *u = malloc(sizeof *u);
    if (!u) return ORD_ENOMEM;
    u->q = q;
    u->a = *a;
    if ((rc = store_after_commit(tx, attrs_hook, u))) {
        free(u);
        return rc;
    }
    return store_signal_tx(tx, STORE_TOPIC_QUEUES, 0);
}

struct declare_ctx {
    queue_sys *qs;
    const char *name;
    const queue_attrs *a;
    int update;
};

static int declare_unit(store_conn *tx, void *arg)
{
    struct declare_ctx *d = arg;
    queue *q = queue_find(d->qs, d->name);
    if (q && d->update) {
        queue_attrs cur;
        queue_get_attrs(q, &cur);
        return attrs_equal(&cur, d->a) ? 0 : queue_set_attrs_tx(tx, d->qs, q, d->a);
    }
    int created;
    return queue_create_tx(tx, d->qs, d->name, d->a, &created);
}

int queue_declare(queue_sys *qs, const char *name, const queue_attrs *a, int update)
{
    struct declare_ctx d = {qs, name, a, update};
    int rc = store_run(qs->st, declare_unit, &d);
    if (rc == ORD_EEXISTS && store_is_shared(qs->st)) {
        /* another node created it meanwhile (nodes starting together):
         * learn it from the store (unless its signal did already) and
         * declare again; a queue that really differs stays ORD_EEXISTS */
        rc = queue_find(qs, name) ? 0 : queue_sys_refresh(qs);
        if (!rc) rc = store_run(qs->st, declare_unit, &d);
    }
    queue *q = rc ? NULL : queue_find(qs, name);
    if (q) q->declared = 1; /* before serving: read without a lock */
    return rc;
}

/* ---- deleting a queue ------------------------------------------------------ */

static void deleted_hook(void *arg, int committed)
{
    queue *q = arg;
    if (committed)
        registry_remove(q->qs, q);
    else
        atomic_store(&q->gone, 0);
}

int queue_delete_queue_tx(store_conn *tx, queue_sys *qs, queue *q, char *why, size_t whylen)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND;
    if (q->declared || q->consumer[0]) {
        snprintf(why, whylen, "queue %s is part of the configured topology (rules, functions): remove it "
                 "from the configuration instead", q->name);
        return ORD_ECONFLICT;
    }
    int n = atomic_load(&qs->n);
    for (int i = 0; i < n; i++) {
        queue *o = qs->queues[i];
        if (o == q) continue;
        pthread_mutex_lock(&o->mu);
        int refers = !strcmp(o->attrs.dlq, q->name);
        pthread_mutex_unlock(&o->mu);
        if (refers) {
            snprintf(why, whylen, "queue %s is the dead-letter queue of %s: change that queue's RedrivePolicy first",
                     q->name, o->name);
            return ORD_ECONFLICT;
        }
    }
    store_stmt *st = store_prep(tx, ST_QUEUE_DELETE);
    store_bind_i64(st, 1, q->id);
    int rc = store_exec(st);
    if (rc) return rc;
    st = store_prep(tx, ST_QUEUE_TOMBSTONE);
    store_bind_i64(st, 1, q->id);
    store_bind_str(st, 2, q->name);
    store_bind_i64(st, 3, clock_wall_ms());
    if ((rc = store_exec(st))) return rc;
    if ((rc = store_after_commit(tx, deleted_hook, q))) return rc;
    atomic_store(&q->gone, 1); /* later units of this batch */
    return store_signal_tx(tx, STORE_TOPIC_QUEUES, 0);
}

static int dead_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    store_stmt *st = store_prep(tx, ST_MSG_DELETE_OF_QUEUE);
    store_bind_i64(st, 1, *(int64_t *)arg);
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    if (!rc) *n = store_changes(tx);
    return rc;
}

static int tombstone_drop(store_conn *tx, void *arg)
{
    store_stmt *st = store_prep(tx, ST_QUEUE_TOMBSTONE_DROP);
    store_bind_i64(st, 1, *(int64_t *)arg);
    return store_exec(st);
}

int queue_sweep_deleted(queue_sys *qs, int64_t *dropped)
{
    *dropped = 0;
    int64_t ids[LIMIT_QUEUES_MAX]; /* at most this many deleted queues a call */
    int n = 0, rc;
    store_conn *c = store_reader(qs->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_QUEUE_TOMBSTONES);
    store_bind_i64(st, 1, LIMIT_QUEUES_MAX);
    while ((rc = store_step(st)) == STORE_ROW && n < LIMIT_QUEUES_MAX) ids[n++] = store_col_i64(st, 0);
    store_reset(st);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        int64_t k = 0;
        if ((rc = store_sweep(qs->st, dead_chunk, &ids[i], LIMIT_SWEEP_ROWS, &k))) return rc;
        *dropped += k;
        /* all gone when the sweep stopped short of its most */
        if (k < (int64_t)LIMIT_SWEEP_ROWS * LIMIT_SWEEP_CHUNKS && (rc = store_run(qs->st, tombstone_drop, &ids[i])))
            return rc;
    }
    return 0;
}

/* ---- messages ------------------------------------------------------------ */

void queue_receipt_format(int64_t seq, int64_t token, char out[QUEUE_RECEIPT_LEN + 1])
{
    snprintf(out, QUEUE_RECEIPT_LEN + 1, "%016llx%016llx", (unsigned long long)seq,
             (unsigned long long)token);
}

int queue_receipt_parse(const char *s, int64_t *seq, int64_t *token)
{
    if (!s || strlen(s) != QUEUE_RECEIPT_LEN) return ORD_ERECEIPT;
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < QUEUE_RECEIPT_LEN; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return ORD_ERECEIPT;
        v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
    }
    if (v[0] > INT64_MAX || v[1] > INT64_MAX) return ORD_ERECEIPT;
    *seq = (int64_t)v[0];
    *token = (int64_t)v[1];
    return 0;
}

void queue_set_consumer(queue *q, queue_offer_fn fn, void *arg)
{
    if (!fn) {
        atomic_store(&q->offering, 0);
        return;
    }
    q->offer = fn;
    q->offer_arg = arg;
    atomic_store(&q->offering, 1);
}

/* Writes m as received m->receive_count times, invisible until visible_ms,
 * with a fresh receipt; sets m->seq and m->receipt. */
static int write_leased(store_conn *tx, queue *q, queue_msg *m, int64_t visible_ms)
{
    int64_t token = id_token();
    store_stmt *st = store_prep(tx, ST_MSG_INSERT_LEASED);
    store_bind_i64(st, 1, q->id);
    store_bind_text(st, 2, m->message_id, strlen(m->message_id));
    store_bind_blob(st, 3, m->body, m->body_len);
    store_bind_str(st, 4, m->attrs);
    store_bind_i64(st, 5, m->sent_ms);
    store_bind_i64(st, 6, visible_ms);
    store_bind_i64(st, 7, token);
    store_bind_i64(st, 8, m->receive_count);
    store_bind_i64(st, 9, m->first_receive_ms);
    int rc = store_step(st);
    if (rc != STORE_ROW) return rc < 0 ? rc : ORD_ESTORE;
    m->seq = store_col_i64(st, 0);
    store_reset(st);
    queue_receipt_format(m->seq, token, m->receipt);
    /* waiting receives must look again when it becomes visible */
    hint_visible(q, visible_ms);
    return 0;
}

/* The message offered to the queue's in-process consumer (see queue_offer_fn). */
static int send_offered(store_conn *tx, queue *q, const void *body, size_t len, const char *attrs, const char *mid,
                        int64_t now, int visibility_s, const queue_event *ev)
{
    queue_msg m = {.body = (char *)body, .body_len = len, .attrs = (char *)attrs, .sent_ms = now,
                   .first_receive_ms = now, .receive_count = 1};
    memcpy(m.message_id, mid, ID_UUID_LEN + 1);
    queue_msg *lease = NULL;
    int rc = q->offer(tx, q->offer_arg, q, &m, ev, &lease);
    if (rc < 0) return rc;
    if (rc == 1) { /* processed after this commit: the row, leased */
        CHECK(lease != NULL);
        if ((rc = write_leased(tx, q, &m, now + (int64_t)visibility_s * 1000))) return rc;
        lease->seq = m.seq;
        memcpy(lease->receipt, m.receipt, sizeof m.receipt);
    }
    return store_count_after_commit(tx, &q->received, 1);
}

int queue_settled_tx(store_conn *tx, queue *q)
{
    return store_count_after_commit(tx, &q->deleted, 1);
}

int queue_keep_tx(store_conn *tx, queue *q, queue_msg *m, int64_t vis_ms)
{
    if (vis_ms < 0 || vis_ms > (int64_t)LIMIT_VISIBILITY_SECONDS_MAX * 1000) return ORD_EVALIDATION;
    return write_leased(tx, q, m, clock_wall_ms() + vis_ms);
}

static int send_tx(store_conn *tx, queue_sys *qs, queue *q, const void *body, size_t len, const char *attrs,
                   int delay_s, char *message_id, const queue_event *ev)
{
    int64_t depth_max = atomic_load(&qs->depth_max);
    pthread_mutex_lock(&q->mu);
    int max_size = q->attrs.max_size, qdelay = q->attrs.delay_s;
    int full = depth_max && depth_estimate(q) >= depth_max;
    pthread_mutex_unlock(&q->mu);
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    if (full) return ORD_EFULL;
    if (len < LIMIT_MESSAGE_BYTES_MIN) return ORD_EVALIDATION;
    if (len > (size_t)max_size) return ORD_ETOOBIG;
    if (delay_s < 0) delay_s = qdelay;
    if (delay_s > LIMIT_DELAY_SECONDS_MAX) return ORD_EVALIDATION;
    char mid[ID_UUID_LEN + 1];
    id_uuid(mid);
    int64_t now = clock_wall_ms(), visible = now + (int64_t)delay_s * 1000;
    int rc;
    if (delay_s == 0 && atomic_load(&q->offering)) {
        pthread_mutex_lock(&q->mu);
        int vis = q->attrs.visibility_s;
        pthread_mutex_unlock(&q->mu);
        if ((rc = send_offered(tx, q, body, len, attrs, mid, now, vis, ev))) return rc;
        goto sent;
    }
    store_stmt *st = store_prep(tx, ST_MSG_INSERT);
    store_bind_i64(st, 1, q->id);
    store_bind_text(st, 2, mid, ID_UUID_LEN);
    store_bind_blob(st, 3, body, len);
    store_bind_str(st, 4, attrs);
    store_bind_i64(st, 5, now);
    store_bind_i64(st, 6, visible);
    if ((rc = store_exec(st))) return rc;
    if (delay_s == 0) {
        atomic_fetch_add(&q->ready, 1);
        if ((rc = store_after_commit(tx, wake_hook, q))) return rc;
    } else {
        hint_visible(q, visible);
    }
    if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUE, q->id))) return rc;
sent:
    if ((rc = store_count_after_commit(tx, &q->sent, 1))) return rc;
    if (message_id) memcpy(message_id, mid, ID_UUID_LEN + 1);
    return 0;
}

int queue_send_tx(store_conn *tx, queue_sys *qs, queue *q, const void *body, size_t len, const char *attrs,
                  int delay_s, char *message_id)
{
    return send_tx(tx, qs, q, body, len, attrs, delay_s, message_id, NULL);
}

int queue_send_event_tx(store_conn *tx, queue_sys *qs, queue *q, const void *body, size_t len, const queue_event *ev)
{
    return send_tx(tx, qs, q, body, len, NULL, -1, NULL, ev);
}

void queue_msg_release(queue_msg *m)
{
    if (!m) return;
    free(m->body);
    free(m->attrs);
    free(m->source_queue);
    m->body = m->attrs = m->source_queue = NULL;
}

void queue_msgs_release(queue_msg *m, int *n)
{
    for (int i = 0; i < *n; i++) queue_msg_release(&m[i]);
    *n = 0;
}

static char *dup_col(store_stmt *st, int col)
{
    if (store_col_is_null(st, col)) return NULL;
    size_t n;
    const char *p = store_col_text(st, col, &n);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* Fills m from a row laid out as message_id,body,attrs,sent_ms,receive_count,first_receive_ms[,source]. */
static int msg_from_row(store_stmt *st, queue_msg *m, int with_source)
{
    size_t n;
    const char *mid = store_col_text(st, 0, &n);
    str_copy(m->message_id, sizeof m->message_id, mid ? mid : "");
    const void *b = store_col_blob(st, 1, &n);
    m->body = malloc(n + 1);
    if (!m->body) return ORD_ENOMEM;
    if (n) memcpy(m->body, b, n);
    m->body[n] = 0;
    m->body_len = n;
    m->attrs = dup_col(st, 2);
    m->sent_ms = store_col_i64(st, 3);
    m->receive_count = (int)store_col_i64(st, 4);
    m->first_receive_ms = store_col_is_null(st, 5) ? 0 : store_col_i64(st, 5);
    m->source_queue = with_source ? dup_col(st, 6) : NULL;
    return 0;
}

static int move_to_dlq(store_conn *tx, queue_sys *qs, queue *q, queue *dlq, int64_t id, int64_t now)
{
    int rc;
    if (qs->dead_letter) {
        queue_msg m;
        memset(&m, 0, sizeof m);
        store_stmt *g = store_prep(tx, ST_MSG_GET);
        store_bind_i64(g, 1, id);
        if ((rc = store_step(g)) != STORE_ROW) return rc < 0 ? rc : ORD_ESTORE;
        m.seq = id;
        if ((rc = msg_from_row(g, &m, 0))) return rc;
        rc = qs->dead_letter(tx, q, &m, qs->dead_letter_arg);
        queue_msg_release(&m);
        if (rc) return rc;
    }
    store_stmt *st = store_prep(tx, ST_MSG_MOVE);
    store_bind_i64(st, 1, id);
    store_bind_i64(st, 2, dlq->id);
    store_bind_i64(st, 3, now);
    store_bind_str(st, 4, q->name);
    if ((rc = store_exec(st))) return rc;
    if ((rc = store_count_after_commit(tx, &q->moved, 1)) || (rc = store_count_after_commit(tx, &dlq->sent, 1)))
        return rc;
    log_warn("queue", "message moved to dead-letter queue", "queue", q->name, "dlq", dlq->name,
             "#seq", id, NULL);
    atomic_fetch_add(&dlq->ready, 1);
    if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUE, dlq->id))) return rc;
    return store_after_commit(tx, wake_hook, dlq);
}

static int delete_id(store_conn *tx, int64_t id)
{
    store_stmt *st = store_prep(tx, ST_MSG_DELETE_ID);
    store_bind_i64(st, 1, id);
    return store_exec(st);
}

int queue_receive_tx(store_conn *tx, queue_sys *qs, queue *q, int max, int visibility_s,
                     queue_msg *out, int *n)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    *n = 0;
    if (max < 1 || max > LIMIT_RECEIVE_MAX) return ORD_EVALIDATION;
    if (visibility_s > LIMIT_VISIBILITY_SECONDS_MAX) return ORD_EVALIDATION;
    queue_attrs a;
    queue_get_attrs(q, &a);
    if (visibility_s < 0) visibility_s = a.visibility_s;
    queue *dlq = a.max_receive > 0 ? queue_find(qs, a.dlq) : NULL;
    int64_t now = clock_wall_ms(), cutoff = now - (int64_t)a.retention_s * 1000;
    int64_t visible_at = now + (int64_t)visibility_s * 1000;
    int rc = 0;
    int64_t ids[LIMIT_RECEIVE_MAX], counts[LIMIT_RECEIVE_MAX], sent[LIMIT_RECEIVE_MAX];
    for (int round = 0; round < 64 && *n < max; round++) {
        int k = 0;
        store_stmt *c = store_prep(tx, ST_MSG_CANDIDATES);
        store_bind_i64(c, 1, q->id);
        store_bind_i64(c, 2, now);
        store_bind_i64(c, 3, max - *n);
        while ((rc = store_step(c)) == STORE_ROW) {
            ids[k] = store_col_i64(c, 0);
            counts[k] = store_col_i64(c, 1);
            sent[k] = store_col_i64(c, 2);
            k++;
        }
        if (rc < 0) goto fail;
        if (!k) break;
        for (int i = 0; i < k; i++) {
            if (sent[i] < cutoff) {
                if ((rc = delete_id(tx, ids[i])) || (rc = store_count_after_commit(tx, &q->expired, 1)))
                    goto fail;
                continue;
            }
            if (dlq && counts[i] + 1 > a.max_receive) {
                if ((rc = move_to_dlq(tx, qs, q, dlq, ids[i], now))) goto fail;
                continue;
            }
            int64_t token = id_token();
            store_stmt *d = store_prep(tx, ST_MSG_DELIVER);
            store_bind_i64(d, 1, ids[i]);
            store_bind_i64(d, 2, token);
            store_bind_i64(d, 3, visible_at);
            store_bind_i64(d, 4, now);
            if ((rc = store_step(d)) != STORE_ROW) {
                rc = rc < 0 ? rc : ORD_ESTORE;
                goto fail;
            }
            queue_msg *m = &out[*n];
            memset(m, 0, sizeof *m);
            m->seq = ids[i];
            queue_receipt_format(ids[i], token, m->receipt);
            if ((rc = msg_from_row(d, m, 1))) {
                queue_msg_release(m);
                goto fail;
            }
            (*n)++;
        }
    }
    if (*n) {
        if ((rc = store_count_after_commit(tx, &q->received, (uint64_t)*n))) goto fail;
        hint_visible(q, visible_at);
    } else {
        if ((rc = store_count_after_commit(tx, &q->empty, 1))) goto fail;
        /* nothing visible: learn when the next message becomes visible, unless
         * a hint still in the future says it (every write that makes a message
         * invisible lowers the hint, so a future hint is never too late) */
        if (atomic_load(&q->next_visible_ms) > now) return 0;
        store_stmt *nv = store_prep(tx, ST_MSG_NEXT_VISIBLE);
        store_bind_i64(nv, 1, q->id);
        store_bind_i64(nv, 2, now);
        if (store_step(nv) == STORE_ROW && !store_col_is_null(nv, 0))
            atomic_store(&q->next_visible_ms, store_col_i64(nv, 0));
        else
            atomic_store(&q->next_visible_ms, NO_TIME);
    }
    return 0;
fail:
    queue_msgs_release(out, n);
    return rc;
}

static int by_receipt(store_conn *tx, queue *q, const char *receipt, store_stmt_id id, int64_t extra,
                      int64_t extra2)
{
    int64_t seq, token;
    int rc = queue_receipt_parse(receipt, &seq, &token);
    if (rc) return rc;
    store_stmt *st = store_prep(tx, id);
    store_bind_i64(st, 1, seq);
    store_bind_i64(st, 2, token);
    store_bind_i64(st, 3, q->id);
    if (id == ST_MSG_DELETE_LIVE || id == ST_MSG_SET_VISIBLE || id == ST_MSG_DEFER) store_bind_i64(st, 4, extra);
    if (id == ST_MSG_SET_VISIBLE || id == ST_MSG_DEFER) store_bind_i64(st, 5, extra2);
    if ((rc = store_exec(st))) return rc;
    return store_changes(tx) == 1 ? 0 : ORD_ERECEIPT;
}

int queue_delete_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    int rc = by_receipt(tx, q, receipt, ST_MSG_DELETE, 0, 0);
    if (!rc) rc = store_count_after_commit(tx, &q->deleted, 1);
    (void)qs;
    return rc;
}

int queue_delete_live_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    int rc = by_receipt(tx, q, receipt, ST_MSG_DELETE_LIVE, clock_wall_ms(), 0);
    if (!rc) rc = store_count_after_commit(tx, &q->deleted, 1);
    (void)qs;
    return rc;
}

int queue_change_visibility_ms_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt, int64_t vis_ms)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    if (vis_ms < 0 || vis_ms > (int64_t)LIMIT_VISIBILITY_SECONDS_MAX * 1000) return ORD_EVALIDATION;
    int64_t now = clock_wall_ms(), at = now + vis_ms;
    int rc = by_receipt(tx, q, receipt, ST_MSG_SET_VISIBLE, now, at);
    if (rc) return rc;
    (void)qs;
    if (vis_ms == 0) {
        atomic_fetch_add(&q->ready, 1);
        if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUE, q->id))) return rc;
        return store_after_commit(tx, wake_hook, q);
    }
    hint_visible(q, at);
    return 0;
}

int queue_change_visibility_tx(store_conn *tx, queue_sys *qs, queue *q, const char *receipt, int visibility_s)
{
    if (visibility_s < 0 || visibility_s > LIMIT_VISIBILITY_SECONDS_MAX) return ORD_EVALIDATION;
    return queue_change_visibility_ms_tx(tx, qs, q, receipt, (int64_t)visibility_s * 1000);
}

int queue_defer_tx(store_conn *tx, queue_sys *qs, queue *q, queue_msg *m, int64_t delay_ms)
{
    if (delay_ms < 0 || delay_ms > (int64_t)LIMIT_VISIBILITY_SECONDS_MAX * 1000) return ORD_EVALIDATION;
    int64_t now = clock_wall_ms(), at = now + delay_ms;
    int rc;
    if (!m->seq) { /* taken in process without a row: the row, as never received */
        m->receive_count = 0;
        if ((rc = write_leased(tx, q, m, at))) return rc;
    } else if ((rc = by_receipt(tx, q, m->receipt, ST_MSG_DEFER, now, at))) {
        return rc;
    }
    (void)qs;
    if (delay_ms == 0) {
        atomic_fetch_add(&q->ready, 1);
        if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUE, q->id))) return rc;
        return store_after_commit(tx, wake_hook, q);
    }
    hint_visible(q, at);
    return 0;
}

void queue_interrupt(queue *q)
{
    atomic_fetch_add(&q->wake_seq, 1);
    wake_waiters(q, 0, 0);
}

int queue_purge_tx(store_conn *tx, queue_sys *qs, queue *q, int64_t *upto, int limit, int64_t *n)
{
    if (atomic_load(&q->gone)) return ORD_ENOTFOUND; /* queue_delete_queue_tx */
    CHECK(limit > 0);
    *n = 0;
    int rc;
    store_stmt *st;
    if (*upto < 0) { /* the first chunk: what was sent before the purge began */
        st = store_prep(tx, ST_MSG_LAST_ID);
        if ((rc = store_step(st)) == STORE_ROW) *upto = store_col_i64(st, 0);
        store_reset(st);
        if (rc < 0) return rc;
        if (*upto < 0) *upto = 0;
    }
    st = store_prep(tx, ST_MSG_PURGE);
    store_bind_i64(st, 1, q->id);
    store_bind_i64(st, 2, *upto);
    store_bind_i64(st, 3, limit);
    rc = store_exec(st);
    if (!rc) *n = store_changes(tx);
    (void)qs;
    return rc;
}

int queue_redrive_tx(store_conn *tx, queue_sys *qs, queue *dlq, queue *dest, int max, int64_t *moved)
{
    if (atomic_load(&dlq->gone) || (dest && atomic_load(&dest->gone))) return ORD_ENOTFOUND;
    *moved = 0;
    if (max < 1 || max > LIMIT_REDRIVE_MAX) return ORD_EVALIDATION;
    /* oldest first by the ready index (visible_ms, id): a page reads only
     * what it moves, however deep the DLQ; what stays (nowhere to go)
     * is stepped over by the cursor */
    int64_t now = clock_wall_ms(), after_vis = INT64_MIN, after = 0;
    int rc = 0;
    enum { CHUNK = 256 };
    int64_t ids[CHUNK];
    queue *targets[CHUNK];
    while (*moved < max) {
        int want = max - (int)*moved < CHUNK ? max - (int)*moved : CHUNK, k = 0, seen = 0;
        store_stmt *st = store_prep(tx, ST_MSG_VISIBLE_IDS);
        store_bind_i64(st, 1, dlq->id);
        store_bind_i64(st, 2, now);
        store_bind_i64(st, 3, after_vis);
        store_bind_i64(st, 4, after);
        store_bind_i64(st, 5, want);
        while ((rc = store_step(st)) == STORE_ROW) {
            seen++;
            after = store_col_i64(st, 0);
            after_vis = store_col_i64(st, 2);
            queue *t = dest;
            if (!t && !store_col_is_null(st, 1)) t = queue_find(qs, store_col_text(st, 1, NULL));
            if (!t || t == dlq) continue; /* nowhere to go back to: stays */
            ids[k] = after;
            targets[k++] = t;
        }
        if (rc < 0) return rc;
        for (int i = 0; i < k; i++) {
            store_stmt *r = store_prep(tx, ST_MSG_RETURN);
            store_bind_i64(r, 1, ids[i]);
            store_bind_i64(r, 2, targets[i]->id);
            store_bind_i64(r, 3, now);
            if ((rc = store_exec(r))) return rc;
            atomic_fetch_add(&targets[i]->ready, 1);
            if ((rc = store_signal_tx(tx, STORE_TOPIC_QUEUE, targets[i]->id)) ||
                (rc = store_after_commit(tx, wake_hook, targets[i])) ||
                (rc = store_count_after_commit(tx, &targets[i]->sent, 1)))
                return rc;
            (*moved)++;
        }
        if (seen < want) break;
    }
    if (*moved) log_info("queue", "redrive", "queue", dlq->name, "#moved", *moved, NULL);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int queue_redrive_ids_tx(store_conn *tx, queue_sys *qs, queue *dlq, queue *dest, const char *const *ids, int n,
                         int64_t *moved, unsigned char *found)
{
    if (atomic_load(&dlq->gone) || (dest && atomic_load(&dest->gone))) return ORD_ENOTFOUND;
    *moved = 0;
    if (n < 1 || n > LIMIT_REDRIVE_IDS_MAX) return ORD_EVALIDATION;
    memset(found, 0, (size_t)n);
    /* sorted copy of the ids for bsearch; index back to the caller's order */
    const char **sorted = malloc(sizeof *sorted * (size_t)n);
    if (!sorted) return ORD_ENOMEM;
    memcpy(sorted, ids, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    int64_t now = clock_wall_ms(), after = 0;
    int rc = 0, left = n;
    enum { CHUNK = 256 };
    int64_t rows[CHUNK];
    queue *targets[CHUNK];
    const char *mids[CHUNK];
    char midbuf[CHUNK][40];
    for (;;) {
        int k = 0, seen = 0;
        store_stmt *st = store_prep(tx, ST_MSG_VISIBLE_MIDS);
        store_bind_i64(st, 1, dlq->id);
        store_bind_i64(st, 2, now);
        store_bind_i64(st, 3, after);
        store_bind_i64(st, 4, CHUNK);
        while ((rc = store_step(st)) == STORE_ROW) {
            seen++;
            after = store_col_i64(st, 0);
            const char *mid = store_col_text(st, 2, NULL);
            if (!mid || !bsearch(&mid, sorted, (size_t)n, sizeof *sorted, cmp_str)) continue;
            queue *t = dest;
            if (!t && !store_col_is_null(st, 1)) t = queue_find(qs, store_col_text(st, 1, NULL));
            if (!t || t == dlq) continue; /* nowhere to go back to: stays */
            str_copy(midbuf[k], sizeof midbuf[k], mid);
            mids[k] = midbuf[k];
            rows[k] = after;
            targets[k++] = t;
        }
        if (rc < 0) goto out;
        for (int i = 0; i < k; i++) {
            store_stmt *r = store_prep(tx, ST_MSG_RETURN);
            store_bind_i64(r, 1, rows[i]);
            store_bind_i64(r, 2, targets[i]->id);
            store_bind_i64(r, 3, now);
            if ((rc = store_exec(r))) goto out;
            atomic_fetch_add(&targets[i]->ready, 1);
            if ((rc = store_after_commit(tx, wake_hook, targets[i])) ||
                (rc = store_count_after_commit(tx, &targets[i]->sent, 1)))
                goto out;
            for (int j = 0; j < n; j++)
                if (!found[j] && !strcmp(ids[j], mids[i])) {
                    found[j] = 1;
                    left--;
                }
            (*moved)++;
        }
        if (seen < CHUNK || left <= 0) break;
    }
    rc = 0;
    if (*moved) log_info("queue", "redrive", "queue", dlq->name, "#moved", *moved, NULL);
out:
    free(sorted);
    return rc;
}

int queue_browse(queue_sys *qs, queue *q, int64_t after, int limit, size_t body_max,
                 void (*fn)(void *arg, const queue_peek *m), void *arg)
{
    if (limit < 1 || limit > LIMIT_BROWSE_MAX) return ORD_EVALIDATION;
    store_conn *c = store_reader(qs->st);
    if (!c) return ORD_ESTORE;
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(c, ST_MSG_BROWSE);
    store_bind_i64(st, 1, q->id);
    store_bind_i64(st, 2, after);
    store_bind_i64(st, 3, limit);
    store_bind_i64(st, 4, (int64_t)body_max);
    int rc, n = 0;
    while ((rc = store_step(st)) == STORE_ROW) {
        queue_peek m = {0};
        size_t blen = 0;
        m.seq = store_col_i64(st, 0);
        m.message_id = store_col_text(st, 1, NULL);
        m.body = store_col_blob(st, 2, &blen);
        m.body_len = blen;
        m.body_size = store_col_i64(st, 3);
        m.attrs = store_col_is_null(st, 4) ? NULL : store_col_text(st, 4, NULL);
        m.sent_ms = store_col_i64(st, 5);
        m.visible_ms = store_col_i64(st, 6);
        m.receive_count = (int)store_col_i64(st, 7);
        m.first_receive_ms = store_col_is_null(st, 8) ? 0 : store_col_i64(st, 8);
        m.moved_ms = store_col_is_null(st, 9) ? 0 : store_col_i64(st, 9);
        m.source_queue = store_col_is_null(st, 10) ? NULL : store_col_text(st, 10, NULL);
        m.in_flight = store_col_i64(st, 11) && m.visible_ms > now;
        fn(arg, &m);
        n++;
    }
    store_reset(st);
    return rc < 0 ? rc : n;
}

int queue_expire_tx(store_conn *tx, queue_sys *qs, queue *q, int limit, int64_t *n)
{
    queue_attrs a;
    queue_get_attrs(q, &a);
    int64_t cutoff = clock_wall_ms() - (int64_t)a.retention_s * 1000;
    int64_t ids[LIMIT_SWEEP_ROWS];
    int k = 0, rc;
    *n = 0;
    if (limit > LIMIT_SWEEP_ROWS) limit = LIMIT_SWEEP_ROWS;
    store_stmt *st = store_prep(tx, ST_MSG_EXPIRED);
    store_bind_i64(st, 1, q->id);
    store_bind_i64(st, 2, cutoff);
    store_bind_i64(st, 3, limit);
    while ((rc = store_step(st)) == STORE_ROW) ids[k++] = store_col_i64(st, 0);
    if (rc < 0) return rc;
    for (int i = 0; i < k; i++)
        if ((rc = delete_id(tx, ids[i]))) return rc;
    *n = k;
    (void)qs;
    return k ? store_count_after_commit(tx, &q->expired, (uint64_t)k) : 0;
}

struct retention {
    queue_sys *qs;
    queue *q;
};

static int retention_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    struct retention *r = arg;
    return queue_expire_tx(tx, r->qs, r->q, limit, n);
}

int queue_sweep_retention(queue_sys *qs, int64_t *dropped)
{
    int rc = 0;
    *dropped = 0;
    for (int i = 0; i < queue_count(qs) && !rc; i++) {
        struct retention r = {qs, queue_at(qs, i)};
        int64_t n = 0;
        rc = store_sweep(qs->st, retention_chunk, &r, LIMIT_SWEEP_ROWS, &n);
        if (n) log_info("queue", "expired messages dropped", "queue", queue_name(r.q), "#count", n, NULL);
        *dropped += n;
    }
    return rc;
}

/* ---- blocking receive ---------------------------------------------------- */

struct recv_ctx {
    queue_sys *qs;
    queue *q;
    int max, vis;
    queue_msg *out;
    int n;
    uint64_t seq;
    const _Atomic int *cancel;
};

static int recv_unit(store_conn *tx, void *arg)
{
    struct recv_ctx *r = arg;
    r->seq = queue_wake_seq(r->q);
    r->n = 0;
    /* cancelled (a function paused or stopping) before its turn on the
     * writer: takes nothing */
    if (r->cancel && atomic_load(r->cancel)) return 0;
    return queue_receive_tx(tx, r->qs, r->q, r->max, r->vis, r->out, &r->n);
}

struct wake_ctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired;
};

static void wake_cond(void *arg, int timed_out)
{
    struct wake_ctx *w = arg;
    pthread_mutex_lock(&w->mu);
    w->fired = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int queue_receive_wait(queue_sys *qs, queue *q, int max, int visibility_s, int wait_ms, queue_msg *out,
                       int *n)
{
    return queue_receive_wait_cancel(qs, q, max, visibility_s, wait_ms, out, n, NULL);
}

int queue_receive_wait_cancel(queue_sys *qs, queue *q, int max, int visibility_s, int wait_ms,
                              queue_msg *out, int *n, const _Atomic int *cancel)
{
    int64_t deadline = clock_mono_ms() + wait_ms;
    struct recv_ctx r = {qs, q, max, visibility_s, out, 0, 0, cancel};
    for (;;) {
        int rc = store_run(qs->st, recv_unit, &r);
        if (rc) queue_msgs_release(out, &r.n); /* rolled back (the unit, or the batch's commit): nothing is leased */
        *n = r.n;
        if (rc || r.n || clock_mono_ms() >= deadline || (cancel && atomic_load(cancel))) return rc;
        struct wake_ctx w = {.fired = 0};
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        if ((rc = queue_wait(qs, q, r.seq, deadline, wake_cond, &w))) return rc;
        pthread_mutex_lock(&w.mu);
        while (!w.fired) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        if (cancel && atomic_load(cancel)) return 0;
        if (clock_mono_ms() >= deadline) {
            rc = store_run(qs->st, recv_unit, &r); /* one last look */
            *n = r.n;
            return rc;
        }
    }
}

/* ---- stats --------------------------------------------------------------- */

int queue_stats_get(queue_sys *qs, queue *q, queue_stats *out)
{
    memset(out, 0, sizeof *out);
    store_conn *c = store_reader(qs->st);
    if (!c) return ORD_ESTORE;
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(c, ST_MSG_STATS);
    store_bind_i64(st, 1, q->id);
    store_bind_i64(st, 2, now);
    int rc = store_step(st);
    if (rc != STORE_ROW) return rc < 0 ? rc : ORD_ESTORE;
    out->visible = store_col_i64(st, 0);
    out->in_flight = store_col_i64(st, 1);
    out->delayed = store_col_i64(st, 2);
    out->oldest_age_s = store_col_is_null(st, 3) ? 0 : (now - store_col_i64(st, 3)) / 1000;
    store_reset(st); /* ends the read transaction */
    out->sent = atomic_load(&q->sent);
    out->received = atomic_load(&q->received);
    out->deleted = atomic_load(&q->deleted);
    out->moved_to_dlq = atomic_load(&q->moved);
    out->empty_receives = atomic_load(&q->empty);
    out->expired = atomic_load(&q->expired);
    return 0;
}
