/* store.c - the generic store runtime behind store.h: the one writer
 * thread with group commit, savepoints, after-commit hooks, signals to
 * other nodes, statistics, per-thread readers.  The backend (backend.h:
 * store_sqlite.c or store_pg.c) supplies connections and statements.
 *
 * DESIGN
 * store_submit() appends a unit to a bounded list; the writer takes
 * everything waiting (up to batch_max), opens one transaction, runs each
 * unit inside SAVEPOINT ... RELEASE (ROLLBACK TO when the unit fails),
 * keeps taking units that arrived meanwhile, and COMMITs.  Only after
 * COMMIT returns are the batch's after-commit hooks run, its signals handed
 * to the backend (other nodes) and the units' completions called, in
 * submission order.
 *
 * A backend that can lose its database (PostgreSQL) fails a batch with
 * ORD_EUNAVAILABLE; the store is then "down": store_submit refuses at once
 * with ORD_EUNAVAILABLE (503), and the writer reconnects with backoff
 * (LIMIT_STORE_RECONNECT_MS_MIN doubling to _MAX).  On reconnect every
 * signal topic is dispatched locally with key -1: what other nodes did
 * meanwhile was not heard.
 *
 * THREAD SAFETY
 * s->mu guards the pending list, the counters read by store_stats() and the
 * reader list.  sig_mu guards the signal handlers.  Reader connections are
 * per thread (pthread key).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "lib/limits.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/handoff.h"
#include "obs/log.h"
#include "store/backend.h"
#include "store/store.h"

typedef struct unit {
    store_unit_fn fn;
    store_done_fn done;
    void *arg;
    int rc;
    struct unit *next;
    store_recover_fn recover; /* follow-ups: runs when fn fails (store_follow_tx) */
    int deferred;             /* follow-ups: bound for the next batch */
    int64_t *busy_us;         /* store_run_busy: the writer's time in it and its follow-ups of the batch */
} unit;

/* A list of units (head and tail). */
typedef struct ulist {
    unit *head, *tail;
} ulist;

static void ulist_add(ulist *l, unit *u)
{
    u->next = NULL;
    if (l->tail)
        l->tail->next = u;
    else
        l->head = u;
    l->tail = u;
}

typedef struct sig_handler {
    store_signal_fn fn;
    void *arg;
} sig_handler;

struct store {
    const store_backend *be;
    void *be_state;
    int pending_max, batch_max, window_us;
    int64_t admission_us;            /* store_admit's budget, 0 = off */
    _Atomic int64_t unit_cost_us;    /* writer: moving average of its time per taken unit */
    _Atomic uint64_t refused;        /* store_admit refusals */
    store_conn *w; /* the writer's connection */
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* writer waits for units */
    unit *head, *tail;
    int npending;
    int closing;
    _Atomic int down;        /* the database is unreachable */
    int64_t retry_ms;        /* writer: next reconnect attempt (monotonic) */
    int64_t backoff_ms;      /* writer: current reconnect backoff */
    int schema_version;
    pthread_key_t reader_key;
    store_conn *readers;
    int nreaders;
    store_stats_t st;
    _Atomic int probing; /* a store_probe unit is pending */
    pthread_mutex_t sig_mu;
    sig_handler handlers[STORE_TOPICS_END][LIMIT_STORE_SIGNAL_HANDLERS];
    store_signal *sigs; /* writer: the batch's signals, deduplicated */
    int nsigs, capsigs;
    /* writer only: follow-ups (store_follow_tx) added by the unit running
     * now, those of the batch bound for the next batch, how many the batch
     * took, and the statements prepared on the writer's connection */
    ulist follow, deferred;
    int nfollow;
    int tx_lost; /* the batch's transaction is gone (SQLite rolled it back itself): it fails whole */
    unit *running; /* writer: the unit whose fn runs now (store_follow_tx) */
    uint64_t statements;
};

void *store_backend_get(store *s)
{
    return s->be_state;
}

void store_backend_set(store *s, void *state)
{
    s->be_state = state;
}

const char *store_backend_name(store *s)
{
    return s->be->name;
}

int store_is_shared(store *s)
{
    return s->be->signal != NULL;
}

int store_is_leader(store *s)
{
    return s->be->is_leader ? s->be->is_leader(s) : 1;
}

int store_schema_version(store *s)
{
    return s->schema_version;
}

void store_path_redact(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = path;
    const char *scheme = strstr(path, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && slash && slash < at) at = NULL; /* an '@' after the host is not userinfo */
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n + 1 < cap) out[n++] = (ch);                                                          \
    } while (0)
    while (*p) {
        if (colon && p == colon + 1) { /* user:PASSWORD@ */
            for (const char *r = "***"; *r; r++) PUT(*r);
            p = at;
            continue;
        }
        if (scheme && p > path && (p[-1] == '?' || p[-1] == '&') && !strncmp(p, "password=", 9)) {
            for (const char *r = "password=***"; *r; r++) PUT(*r);
            p += 9;
            while (*p && *p != '&') p++;
            continue;
        }
        PUT(*p);
        p++;
    }
#undef PUT
    if (cap) out[n < cap ? n : cap - 1] = 0;
}

/* ---- statements: dispatch to the connection's backend ---------------- */

store_stmt *store_prep(store_conn *c, store_stmt_id id)
{
    CHECK(id >= 0 && id < ST__COUNT);
    if (c->writer) c->s->statements++; /* the writer thread's own counter */
    return c->be->prep(c, id);
}

void store_bind_i64(store_stmt *st, int idx, int64_t v)
{
    st->c->be->bind_i64(st, idx, v);
}

void store_bind_text(store_stmt *st, int idx, const char *s, size_t len)
{
    st->c->be->bind_text(st, idx, s, len);
}

void store_bind_str(store_stmt *st, int idx, const char *s)
{
    if (s)
        st->c->be->bind_text(st, idx, s, strlen(s));
    else
        st->c->be->bind_null(st, idx);
}

void store_bind_blob(store_stmt *st, int idx, const void *p, size_t len)
{
    st->c->be->bind_blob(st, idx, p, len);
}

void store_bind_null(store_stmt *st, int idx)
{
    st->c->be->bind_null(st, idx);
}

int store_step(store_stmt *st)
{
    return st->c->be->step(st);
}

int store_exec(store_stmt *st)
{
    int rc;
    while ((rc = st->c->be->step(st)) == STORE_ROW)
        ;
    return rc;
}

int64_t store_col_i64(store_stmt *st, int col)
{
    return st->c->be->col_i64(st, col);
}

const char *store_col_text(store_stmt *st, int col, size_t *len)
{
    return st->c->be->col_text(st, col, len);
}

const void *store_col_blob(store_stmt *st, int col, size_t *len)
{
    return st->c->be->col_blob(st, col, len);
}

int store_col_is_null(store_stmt *st, int col)
{
    return st->c->be->col_is_null(st, col);
}

void store_reset(store_stmt *st)
{
    st->c->be->reset(st);
}

uint64_t store_tx_epoch(const store_conn *c)
{
    return c->writer && c->be->sole_writer ? c->epoch : 0;
}

int64_t store_changes(store_conn *c)
{
    return c->be->changes(c);
}

int store_insert(store_stmt *st, int64_t *id)
{
    const store_backend *be = st->c->be;
    int rc = be->step(st);
    if (rc == STORE_ROW) {
        *id = be->col_i64(st, 0);
        be->reset(st);
        return 0;
    }
    if (rc != STORE_DONE) return rc;
    CHECK(be->last_rowid != NULL); /* a text without RETURNING where the backend needs one */
    *id = be->last_rowid(st->c);
    return 0;
}

/* ---- hooks and signals ----------------------------------------------- */

static int hist_bucket(uint64_t v, uint64_t base)
{
    int i = 0;
    while (i < STORE_HIST_BUCKETS - 1 && v > (base << i)) i++;
    return i;
}

static store_hook *hook_push(store_conn *tx)
{
    if (tx->nhooks == tx->caphooks) {
        size_t cap = tx->caphooks ? tx->caphooks * 2 : 64;
        store_hook *h = realloc(tx->hooks, cap * sizeof *h);
        if (!h) return NULL;
        tx->hooks = h;
        tx->caphooks = cap;
    }
    return &tx->hooks[tx->nhooks++];
}

int store_after_commit(store_conn *tx, store_hook_fn hook, void *arg)
{
    CHECK(tx == tx->s->w);
    CHECK(hook != NULL);
    /* consecutive identical hooks (many sends to one queue) collapse to one */
    store_hook *last = tx->nhooks ? &tx->hooks[tx->nhooks - 1] : NULL;
    if (last && last->kind == STORE_HOOK_FN && last->fn == hook && last->arg == arg) return 0;
    store_hook *h = hook_push(tx);
    if (!h) return ORD_ENOMEM;
    *h = (store_hook){.kind = STORE_HOOK_FN, .fn = hook, .arg = arg};
    return 0;
}

int store_count_after_commit(store_conn *tx, _Atomic uint64_t *counter, uint64_t n)
{
    CHECK(tx == tx->s->w);
    store_hook *last = tx->nhooks ? &tx->hooks[tx->nhooks - 1] : NULL;
    if (last && last->kind == STORE_HOOK_COUNT && last->arg == (void *)counter) {
        last->n += n;
        return 0;
    }
    store_hook *h = hook_push(tx);
    if (!h) return ORD_ENOMEM;
    *h = (store_hook){.kind = STORE_HOOK_COUNT, .arg = (void *)counter, .n = n};
    return 0;
}

int store_signal_tx(store_conn *tx, int topic, int64_t key)
{
    CHECK(tx == tx->s->w);
    CHECK(topic > 0 && topic < STORE_TOPICS_END);
    if (!tx->s->be->signal) return 0; /* one node: nobody to tell */
    store_hook *last = tx->nhooks ? &tx->hooks[tx->nhooks - 1] : NULL;
    if (last && last->kind == STORE_HOOK_SIGNAL && last->topic == topic && last->key == key) {
        last->n++;
        return 0;
    }
    store_hook *h = hook_push(tx);
    if (!h) return ORD_ENOMEM;
    *h = (store_hook){.kind = STORE_HOOK_SIGNAL, .topic = topic, .key = key, .n = 1};
    return 0;
}

int store_signal_on(store *s, int topic, store_signal_fn fn, void *arg)
{
    CHECK(topic > 0 && topic < STORE_TOPICS_END);
    int rc = ORD_ELIMIT;
    pthread_mutex_lock(&s->sig_mu);
    for (int i = 0; i < LIMIT_STORE_SIGNAL_HANDLERS; i++)
        if (!s->handlers[topic][i].fn) {
            s->handlers[topic][i] = (sig_handler){fn, arg};
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&s->sig_mu);
    return rc;
}

void store_signal_off(store *s, int topic, store_signal_fn fn, void *arg)
{
    pthread_mutex_lock(&s->sig_mu);
    for (int i = 0; i < LIMIT_STORE_SIGNAL_HANDLERS; i++)
        if (s->handlers[topic][i].fn == fn && s->handlers[topic][i].arg == arg)
            s->handlers[topic][i] = (sig_handler){NULL, NULL};
    pthread_mutex_unlock(&s->sig_mu);
}

void store_signal_dispatch(store *s, int topic, int64_t key, uint32_t n)
{
    if (topic <= 0 || topic >= STORE_TOPICS_END) return;
    /* the lock keeps a handler from being removed (and its arg freed) while it runs */
    pthread_mutex_lock(&s->sig_mu);
    for (int i = 0; i < LIMIT_STORE_SIGNAL_HANDLERS; i++)
        if (s->handlers[topic][i].fn) s->handlers[topic][i].fn(s->handlers[topic][i].arg, key, n);
    pthread_mutex_unlock(&s->sig_mu);
}

void store_sync_failed(store *s, const char *during, const char *error)
{
    pthread_mutex_lock(&s->mu);
    int first = !s->st.sync_failed;
    s->st.sync_failed = 1;
    pthread_mutex_unlock(&s->mu);
    if (first)
        log_error("store", "a sync of the database failed: writes refused until the node is restarted", "during",
                  during, "error", error, NULL);
}

void store_connection_lost(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->st.write_failed = 1; /* /ready probes until a write commits */
    pthread_mutex_unlock(&s->mu);
}

/* Runs the committed batch's hooks and collects its signals. */
static void run_hooks(store *s, int committed)
{
    store_conn *w = s->w;
    s->nsigs = 0;
    for (size_t i = 0; i < w->nhooks; i++) {
        store_hook *h = &w->hooks[i];
        if (h->kind == STORE_HOOK_FN) {
            h->fn(h->arg, committed);
        } else if (h->kind == STORE_HOOK_COUNT) {
            if (committed) atomic_fetch_add((_Atomic uint64_t *)h->arg, h->n);
        } else if (committed) {
            int dup = 0;
            for (int k = 0; k < s->nsigs && !dup; k++)
                if (s->sigs[k].topic == h->topic && s->sigs[k].key == h->key) {
                    s->sigs[k].n += (uint32_t)h->n;
                    dup = 1;
                }
            if (dup) continue;
            if (s->nsigs == s->capsigs) {
                int cap = s->capsigs ? s->capsigs * 2 : 16;
                store_signal *p = realloc(s->sigs, (size_t)cap * sizeof *p);
                if (!p) continue; /* the other nodes' fallback poll covers a lost signal */
                s->sigs = p;
                s->capsigs = cap;
            }
            s->sigs[s->nsigs++] = (store_signal){h->topic, h->key, (uint32_t)h->n};
        }
    }
    w->nhooks = 0;
    if (committed && s->nsigs && s->be->signal) s->be->signal(s, s->sigs, s->nsigs);
}

/* Drops the hooks registered since mark (a unit rolled back). */
static void drop_hooks(store_conn *w, size_t mark)
{
    for (size_t i = mark; i < w->nhooks; i++)
        if (w->hooks[i].kind == STORE_HOOK_FN) w->hooks[i].fn(w->hooks[i].arg, 0);
    w->nhooks = mark;
}

/* ---- writer ------------------------------------------------------------ */

/* Calls the done of every unit of l with rc (they never ran) and frees them. */
static void cancel_units(ulist *l, int rc)
{
    unit *u = l->head;
    *l = (ulist){NULL, NULL};
    while (u) {
        unit *next = u->next;
        if (u->done) u->done(u->arg, rc);
        free(u);
        u = next;
    }
}

/* Runs fn(arg) inside a savepoint of its own and returns its rc; when it
 * fails, its writes are rolled back and the hooks and follow-ups it
 * registered are dropped. */
static int savepoint_run(store *s, store_unit_fn fn, void *arg)
{
    store_conn *w = s->w;
    size_t mark = w->nhooks;
    int rc = s->be->tx(w, STORE_TX_SAVEPOINT);
    s->statements += 2; /* SAVEPOINT, RELEASE */
    if (rc) return rc;
    int urc = fn(w, arg);
    rc = s->be->unit_end(w);
    if (urc >= 0 && rc < 0) urc = rc;
    /* SQLite rolls the whole transaction back by itself after some errors
     * (SQLITE_NOMEM, SQLITE_FULL, SQLITE_IOERR in a statement): the
     * savepoint is gone with the batch's earlier units, and a SAVEPOINT now
     * would start - and its RELEASE commit - a transaction of its own.  The
     * batch fails whole, before another statement runs. */
    if (s->be->in_tx && !s->be->in_tx(w)) {
        if (!s->tx_lost) log_error("store", "the database rolled the batch back: it fails whole", NULL);
        s->tx_lost = 1;
        if (urc >= 0) urc = ORD_EUNAVAILABLE;
    }
    if (urc < 0) {
        if (!s->tx_lost) s->be->tx(w, STORE_TX_ROLLBACK_TO);
        w->epoch++;
        s->statements++;
        drop_hooks(w, mark);
        for (unit *f = s->follow.head; f; f = f->next)
            if (!f->deferred) s->nfollow--;
        cancel_units(&s->follow, urc);
        s->st.units_failed++;
    }
    if (!s->tx_lost) s->be->tx(w, STORE_TX_RELEASE);
    return urc;
}

struct recovery {
    unit *u;
    int rc;
};

static int recover_fn(store_conn *tx, void *arg)
{
    struct recovery *r = arg;
    return r->u->recover(tx, r->u->arg, r->rc);
}

/* Runs one unit; a follow-up that failed and has a recovery runs it at
 * once.  Returns < 0 when the batch must not commit (a recovery failed). */
static int run_unit(store *s, unit *u)
{
    int64_t t0 = u->busy_us ? clock_mono_us() : 0;
    s->running = u;
    u->rc = savepoint_run(s, u->fn, u->arg);
    s->running = NULL;
    if (u->busy_us) *u->busy_us += clock_mono_us() - t0;
    if (s->tx_lost) return ORD_EUNAVAILABLE;
    if (u->rc >= 0 || !u->recover) return 0;
    struct recovery r = {u, u->rc};
    u->rc = savepoint_run(s, recover_fn, &r);
    if (s->tx_lost) return ORD_EUNAVAILABLE;
    if (u->rc < 0)
        log_error("store", "a failed unit's recovery failed: the batch rolls back", "error", err_name(u->rc), NULL);
    return u->rc < 0 ? u->rc : 0;
}

/* After a unit kept its writes: its follow-ups join the batch (after its
 * last unit), or wait for the next batch (the batch had its share when
 * they were made).  Returns how many joined. */
static int take_follow_ups(store *s, unit **tail)
{
    int k = 0;
    unit *f = s->follow.head;
    s->follow = (ulist){NULL, NULL};
    while (f) {
        unit *next = f->next;
        if (!f->deferred) {
            f->next = NULL;
            (*tail)->next = f;
            *tail = f;
            k++;
        } else {
            ulist_add(&s->deferred, f);
        }
        f = next;
    }
    return k;
}

int store_follow_tx(store_conn *tx, store_unit_fn fn, store_recover_fn recover, store_done_fn done, void *arg)
{
    CHECK(tx == tx->s->w);
    CHECK(fn != NULL);
    store *s = tx->s;
    unit *u = malloc(sizeof *u);
    if (!u) return ORD_ENOMEM;
    *u = (unit){fn, done, arg, 0, NULL, recover, s->nfollow >= LIMIT_STORE_FOLLOW_MAX, NULL};
    if (!u->deferred) {
        s->nfollow++;
        if (s->running) u->busy_us = s->running->busy_us; /* runs before the batch's done: the counter lives */
    }
    ulist_add(&s->follow, u);
    return u->deferred;
}

/* After the batch: deferred follow-ups go first in the pending list (the
 * batch committed), or are cancelled with rc (it did not). */
static void queue_deferred(store *s, int rc)
{
    if (!s->deferred.head) return;
    if (rc) {
        cancel_units(&s->deferred, rc);
        return;
    }
    int k = 0;
    for (unit *u = s->deferred.head; u; u = u->next) k++;
    pthread_mutex_lock(&s->mu);
    s->deferred.tail->next = s->head;
    if (!s->head) s->tail = s->deferred.tail;
    s->head = s->deferred.head;
    s->npending += k;
    s->st.follow_deferred += (uint64_t)k;
    pthread_mutex_unlock(&s->mu);
    s->deferred = (ulist){NULL, NULL};
}

/* Takes up to max pending units off the list (caller holds s->mu). */
static unit *take(store *s, int max, unit **tail, int *n)
{
    unit *h = s->head, *t = NULL, *u = h;
    int k = 0;
    while (u && k < max) {
        t = u;
        u = u->next;
        k++;
    }
    if (!k) return NULL;
    s->head = u;
    if (!u) s->tail = NULL;
    t->next = NULL;
    s->npending -= k;
    *tail = t;
    *n = k;
    return h;
}

static void complete(unit *batch)
{
    while (batch) {
        unit *next = batch->next;
        if (batch->done) batch->done(batch->arg, batch->rc);
        free(batch);
        batch = next;
    }
}

/* The database was lost: refuse new units until the writer reconnects. */
static void go_down(store *s)
{
    if (atomic_exchange(&s->down, 1)) return;
    s->backoff_ms = LIMIT_STORE_RECONNECT_MS_MIN;
    s->retry_ms = clock_mono_ms() + s->backoff_ms;
    log_error("store", "database connection lost; refusing writes until it is back", "backend", s->be->name, NULL);
}

/* Writer, while down: one reconnect attempt; schedules the next on failure. */
static void try_reconnect(store *s)
{
    if (s->be->reconnect(s->w) == 0) {
        atomic_store(&s->down, 0);
        pthread_mutex_lock(&s->mu);
        s->st.reconnects++;
        pthread_mutex_unlock(&s->mu);
        log_info("store", "database connection restored", "backend", s->be->name, NULL);
        /* what other nodes committed meanwhile was not heard */
        for (int t = 1; t < STORE_TOPICS_END; t++) store_signal_dispatch(s, t, -1, 0);
        return;
    }
    s->backoff_ms = s->backoff_ms * 2 < LIMIT_STORE_RECONNECT_MS_MAX ? s->backoff_ms * 2 : LIMIT_STORE_RECONNECT_MS_MAX;
    s->retry_ms = clock_mono_ms() + s->backoff_ms;
}

static void *writer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "writer"); /* names in top, perf, /proc */
    store *s = arg;
    store_conn *w = s->w;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->closing) {
            if (!atomic_load(&s->down)) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            int64_t left = s->retry_ms - clock_mono_ms();
            if (left <= 0) break;
            struct timespec ts = clock_mono_deadline(left);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        if (!s->head && s->closing) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        unit *tail = NULL, *batch;
        int n = 0;
        batch = take(s, s->batch_max, &tail, &n);
        pthread_mutex_unlock(&s->mu);

        if (atomic_load(&s->down)) {
            if (clock_mono_ms() >= s->retry_ms && !s->closing) try_reconnect(s);
            if (atomic_load(&s->down)) { /* units queued before the loss */
                for (unit *u = batch; u; u = u->next) u->rc = ORD_EUNAVAILABLE;
                complete(batch);
                continue;
            }
        }
        if (!batch) continue;

        uint64_t changes0 = s->be->changes_total(w);
        int64_t t_batch = clock_mono_us();
        int taken = n; /* from the queue: what the admission estimate divides by */
        int brc = s->be->tx(w, STORE_TX_BEGIN);
        w->epoch++;
        s->statements += 2; /* BEGIN, COMMIT */
        s->tx_lost = 0;
        unit *u = batch;
        int64_t window_end = s->window_us ? clock_mono_us() + s->window_us : 0;
        s->nfollow = 0;
        for (;;) {
            for (; u; u = u->next) {
                if (brc) {
                    u->rc = brc;
                    continue;
                }
                if ((brc = run_unit(s, u))) continue; /* the rest of the batch fails with it */
                if (s->follow.head) n += take_follow_ups(s, &tail);
            }
            if (n >= s->batch_max || brc || (s->be->batch_full && s->be->batch_full(w))) break;
            /* units that arrived while this batch ran join it */
            pthread_mutex_lock(&s->mu);
            if (!s->head && window_end && !s->closing) {
                int64_t left = window_end - clock_mono_us();
                if (left > 0) {
                    struct timespec ts = clock_mono_deadline(0);
                    ts.tv_nsec += (long)(left * 1000);
                    while (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
                    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
                }
            }
            unit *more_tail;
            int k = 0;
            unit *more = take(s, s->batch_max - n, &more_tail, &k);
            pthread_mutex_unlock(&s->mu);
            if (!more) break;
            tail->next = more;
            tail = more_tail;
            n += k;
            taken += k;
            u = more;
        }

        int64_t t0 = clock_mono_us();
        int crc = brc ? brc : s->be->tx(w, STORE_TX_COMMIT);
        uint64_t commit_us = (uint64_t)(clock_mono_us() - t0);
        if (crc) {
            s->be->tx(w, STORE_TX_ROLLBACK);
            w->epoch++;
            /* nothing of the batch is acknowledged (a full disk, an I/O
             * error, a lost connection): the clients may try again later */
            for (u = batch; u; u = u->next) u->rc = ORD_EUNAVAILABLE;
            log_error("store", "commit failed", "#units", (int64_t)n, "error", err_name(crc), NULL);
            if (crc == ORD_EUNAVAILABLE && s->be->reconnect) go_down(s); /* the connection is gone */
        }
        if (taken > 0) { /* the time per unit taken, its follow-ups and the commit included */
            int64_t cost = (clock_mono_us() - t_batch) / taken, avg = atomic_load(&s->unit_cost_us);
            atomic_store(&s->unit_cost_us, avg ? avg + (cost - avg) / 8 : cost);
        }
        pthread_mutex_lock(&s->mu);
        s->st.commits++;
        s->st.units += (uint64_t)n;
        if (crc) s->st.commit_failures++;
        /* only a commit that wrote rows tells whether writes reach the disk */
        if (crc || s->be->changes_total(w) != changes0) s->st.write_failed = crc != 0;
        s->st.follow_units += (uint64_t)s->nfollow;
        s->st.statements = s->statements;
        s->st.batch_hist[hist_bucket((uint64_t)n, 1)]++;
        s->st.commit_us_hist[hist_bucket(commit_us, 50)]++;
        s->st.commit_us_sum += commit_us;
        if ((uint64_t)n > s->st.batch_max_seen) s->st.batch_max_seen = (uint64_t)n;
        pthread_mutex_unlock(&s->mu);

        /* durable now: wake whoever waits on this data, tell the other
         * nodes, then complete; the wake-ups are handed off together */
        handoff_open();
        run_hooks(s, crc == 0);
        queue_deferred(s, crc ? ORD_EUNAVAILABLE : 0);
        complete(batch);
        handoff_close();
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------ */

static int is_pg_url(const char *path)
{
    return !strncmp(path, "postgres://", 11) || !strncmp(path, "postgresql://", 13);
}

int store_open(store **out, const store_opts *o)
{
    int rc = ORD_ENOMEM;
    store *s = calloc(1, sizeof *s);
    if (!s) return ORD_ENOMEM;
    s->be = is_pg_url(o->path) ? &store_backend_pg : &store_backend_sqlite;
    s->pending_max = o->pending_max > 0 ? o->pending_max : LIMIT_STORE_PENDING_DEFAULT;
    s->batch_max = o->batch_max > 0 ? o->batch_max : LIMIT_STORE_BATCH_DEFAULT;
    s->window_us = o->window_us > 0 ? o->window_us : 0;
    s->admission_us = o->admission_ms > 0 ? (int64_t)o->admission_ms * 1000 : 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->sig_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_key_create(&s->reader_key, NULL);
    if ((rc = s->be->open(s, o, &s->w, &s->schema_version))) goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s)) {
        s->be->close(s, s->w);
        rc = ORD_EINTERNAL;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    pthread_key_delete(s->reader_key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->sig_mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return rc;
}

void store_close(store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    store_conn *r = s->readers;
    while (r) {
        store_conn *next = r->next;
        s->be->conn_close(r);
        r = next;
    }
    s->be->close(s, s->w);
    pthread_key_delete(s->reader_key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->sig_mu);
    pthread_cond_destroy(&s->cv);
    free(s->sigs);
    free(s);
}

static int submit(store *s, store_unit_fn fn, store_done_fn done, void *arg, int64_t *busy_us)
{
    CHECK(fn != NULL);
    unit *u = malloc(sizeof *u);
    if (!u) return ORD_ENOMEM;
    *u = (unit){fn, done, arg, 0, NULL, NULL, 0, busy_us};
    pthread_mutex_lock(&s->mu);
    if (s->closing || s->npending >= s->pending_max || atomic_load(&s->down) || s->st.sync_failed) {
        int rc = s->closing                                     ? ORD_ESHUTDOWN
                 : atomic_load(&s->down) || s->st.sync_failed ? ORD_EUNAVAILABLE
                                                              : ORD_EBUSY;
        pthread_mutex_unlock(&s->mu);
        free(u);
        return rc;
    }
    if (s->tail)
        s->tail->next = u;
    else
        s->head = u;
    s->tail = u;
    int wake = s->npending++ == 0;
    pthread_mutex_unlock(&s->mu);
    if (wake) pthread_cond_signal(&s->cv);
    return 0;
}

int store_submit(store *s, store_unit_fn fn, store_done_fn done, void *arg)
{
    return submit(s, fn, done, arg, NULL);
}

struct run_ctx {
    store_unit_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static int run_unit_fn(store_conn *tx, void *arg)
{
    struct run_ctx *r = arg;
    return r->fn(tx, r->arg);
}

static void run_unit_done(void *arg, int rc)
{
    struct run_ctx *r = arg;
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    r->rc = rc;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int run_wait(store *s, store_unit_fn fn, void *arg, int64_t *busy_us)
{
    struct run_ctx r = {.fn = fn, .arg = arg};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int rc = submit(s, run_unit_fn, run_unit_done, &r, busy_us);
    if (rc == 0) {
        pthread_mutex_lock(&r.mu);
        while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
        pthread_mutex_unlock(&r.mu);
        rc = r.rc;
    }
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return rc;
}

int store_run(store *s, store_unit_fn fn, void *arg)
{
    return run_wait(s, fn, arg, NULL);
}

int store_run_busy(store *s, store_unit_fn fn, void *arg, int64_t *busy_us)
{
    *busy_us = 0;
    return run_wait(s, fn, arg, busy_us);
}

int store_probe_tx(store_conn *tx)
{
    store_stmt *st = store_prep(tx, ST_HEALTH_PROBE);
    store_bind_i64(st, 1, clock_wall_ms());
    return store_exec(st);
}

static int probe_unit(store_conn *tx, void *arg)
{
    (void)arg;
    return store_probe_tx(tx);
}

static void probe_done(void *arg, int rc)
{
    store *s = arg;
    pthread_mutex_lock(&s->mu);
    s->st.write_failed = rc != 0;
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->probing, 0);
}

void store_probe(store *s)
{
    if (atomic_exchange(&s->probing, 1)) return;
    if (store_submit(s, probe_unit, probe_done, s)) atomic_store(&s->probing, 0);
}

int store_probe_read(store *s, int64_t *probe_ms)
{
    *probe_ms = 0;
    store_conn *c = store_reader(s);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_HEALTH_GET);
    int rc = store_step(st);
    if (rc == STORE_ROW) *probe_ms = store_col_i64(st, 0);
    store_reset(st);
    return rc < 0 ? rc : 0;
}

store_conn *store_reader(store *s)
{
    store_conn *c = pthread_getspecific(s->reader_key);
    if (c) return c;
    pthread_mutex_lock(&s->mu);
    int full = s->nreaders >= LIMIT_STORE_READERS_MAX;
    pthread_mutex_unlock(&s->mu);
    if (full || s->be->reader_open(s, &c)) return NULL;
    c->be = s->be;
    c->s = s;
    pthread_mutex_lock(&s->mu);
    c->next = s->readers;
    s->readers = c;
    s->nreaders++;
    pthread_mutex_unlock(&s->mu);
    pthread_setspecific(s->reader_key, c);
    return c;
}

int64_t store_backlog_us(store *s)
{
    pthread_mutex_lock(&s->mu);
    int64_t pending = s->npending;
    pthread_mutex_unlock(&s->mu);
    return pending * atomic_load(&s->unit_cost_us);
}

int store_admit(store *s)
{
    if (!s->admission_us || store_backlog_us(s) <= s->admission_us) return 0;
    atomic_fetch_add(&s->refused, 1);
    return ORD_EBUSY;
}

void store_stats(store *s, store_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->pending = s->npending;
    out->unit_cost_us = atomic_load(&s->unit_cost_us);
    out->backlog_us = out->pending * out->unit_cost_us;
    out->refused = atomic_load(&s->refused);
    out->down = atomic_load(&s->down);
    pthread_mutex_unlock(&s->mu);
}
