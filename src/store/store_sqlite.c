/* store_sqlite.c - the SQLite implementation of store.h.
 *
 * DESIGN
 * One writer thread owns the only read-write connection.  store_submit()
 * appends a unit to a bounded list; the writer takes everything waiting (up
 * to batch_max), opens one transaction, runs each unit inside SAVEPOINT u ...
 * RELEASE u (ROLLBACK TO u when the unit fails), keeps taking units that
 * arrived meanwhile, and COMMITs.  Only after COMMIT returns (WAL fsync'd,
 * synchronous=FULL) are the batch's after-commit hooks run and the units'
 * completions called, in submission order.  A checkpointer thread with its
 * own connection keeps the WAL short so the writer never checkpoints inline.
 *
 * THREAD SAFETY
 * s->mu guards the pending list and the counters read by store_stats().
 * Reader connections are per thread (pthread key) and listed in s->readers
 * (guarded by s->mu) so store_close() can close them.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "lib/limits.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"
#include "store/migrate.h"
#include "store/sqlite_sql.h"
#include "store/store.h"

#define WAL_CHECKPOINT_PAGES 4000 /* ask the checkpointer to run past this */
#define WRITER_LOOKASIDE_SLOT 1024  /* bytes per lookaside slot of the writer's connection */
#define WRITER_LOOKASIDE_SLOTS 2048 /* slots (2 MiB) */

struct store_stmt {
    sqlite3_stmt *st;
    store_conn *c;
    int rows; /* listed in c->rows: has returned a row since the unit began */
};

struct hook {
    store_hook_fn fn; /* NULL: a counter addition */
    void *arg;
    uint64_t n;
};

struct store_conn {
    sqlite3 *db;
    store *s;
    store_stmt stmts[ST__COUNT];
    store_conn *next; /* in s->readers */
    /* statements that returned a row (may still be mid-way): reset after each unit */
    store_stmt *rows[ST__COUNT];
    int nrows;
    /* writer only: hooks of the current batch */
    struct hook *hooks;
    size_t nhooks, caphooks;
    int hooks_oom;
};

typedef struct unit {
    store_unit_fn fn;
    store_done_fn done;
    void *arg;
    int rc;
    struct unit *next;
} unit;

struct store {
    char *path;
    int pending_max, batch_max, window_us;
    store_conn *w; /* the writer's connection */
    pthread_t writer, checkpointer;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* writer waits for units */
    pthread_cond_t ckpt_cv; /* checkpointer waits for work */
    unit *head, *tail;
    int npending;
    int closing;
    int ckpt_wanted;
    int schema_version;
    pthread_key_t reader_key;
    store_conn *readers;
    int nreaders;
    store_stats_t st;
    _Atomic int probing; /* a store_probe unit is pending */
};

/* A failed sync leaves the node unable to tell what is on the disk: the
 * kernel may have dropped the dirty pages the sync covered and a later sync
 * succeed without them (PostgreSQL's "fsyncgate").  So it is never retried:
 * the store stops taking writes (ORD_EUNAVAILABLE, /ready 503) until the
 * process reopens the database.  rc is SQLite's extended result code of the
 * failed call. */
static void sync_check(store *s, int rc, const char *during)
{
    if (rc != SQLITE_IOERR_FSYNC && rc != SQLITE_IOERR_DIR_FSYNC) return;
    pthread_mutex_lock(&s->mu);
    int first = !s->st.sync_failed;
    s->st.sync_failed = 1;
    pthread_mutex_unlock(&s->mu);
    if (first)
        log_error("store", "a sync of the database failed: writes refused until the node is restarted", "during",
                  during, "error", sqlite3_errstr(rc), NULL);
}

/* ---- connections ------------------------------------------------------- */

static int conn_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store", "statement failed", "sql", sql, "error", msg ? msg : "?", NULL);
        sqlite3_free(msg);
        return ORD_ESTORE;
    }
    return 0;
}

static void conn_close(store_conn *c)
{
    if (!c) return;
    for (int i = 0; i < ST__COUNT; i++)
        if (c->stmts[i].st) sqlite3_finalize(c->stmts[i].st);
    if (c->db) sqlite3_close(c->db);
    free(c->hooks);
    free(c);
}

static int conn_open(store *s, int writer, store_conn **out)
{
    int rc = ORD_ESTORE;
    store_conn *c = calloc(1, sizeof *c);
    if (!c) return ORD_ENOMEM;
    c->s = s;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(s->path, &c->db, flags, NULL) != SQLITE_OK) {
        log_error("store", "cannot open database", "path", s->path, "error",
                  c->db ? sqlite3_errmsg(c->db) : "?", NULL);
        goto out;
    }
    /* the writer allocates per statement run (cursors, records): a larger
     * lookaside serves those from its own pool instead of malloc */
    if (writer) sqlite3_db_config(c->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, WRITER_LOOKASIDE_SLOT, WRITER_LOOKASIDE_SLOTS);
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 10000);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (writer) {
        if (conn_exec(c->db, "PRAGMA journal_mode=WAL") || conn_exec(c->db, "PRAGMA synchronous=FULL") ||
            conn_exec(c->db, "PRAGMA wal_autocheckpoint=0") || conn_exec(c->db, "PRAGMA cache_size=-16384") ||
            conn_exec(c->db, "PRAGMA temp_store=MEMORY"))
            goto out;
    } else {
        if (conn_exec(c->db, "PRAGMA query_only=1") || conn_exec(c->db, "PRAGMA cache_size=-4096"))
            goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    conn_close(c);
    return rc;
}

/* ---- statements ------------------------------------------------------- */

store_stmt *store_prep(store_conn *c, store_stmt_id id)
{
    CHECK(id >= 0 && id < ST__COUNT);
    store_stmt *st = &c->stmts[id];
    if (!st->st) {
        CHECK(sqlite_sql[id] != NULL);
        st->c = c;
        int rc = sqlite3_prepare_v3(c->db, sqlite_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->st, NULL);
        if (rc != SQLITE_OK) {
            log_error("store", "prepare failed", "sql", sqlite_sql[id], "error", sqlite3_errmsg(c->db), NULL);
            /* catalog SQL is code: only memory may run out.  The statement
             * stays unprepared: binds do nothing, store_step says
             * ORD_ENOMEM, and the next store_prep tries again. */
            CHECK(rc == SQLITE_NOMEM);
            st->st = NULL;
        }
    } else {
        sqlite3_reset(st->st);
        sqlite3_clear_bindings(st->st);
    }
    return st;
}

void store_bind_i64(store_stmt *st, int idx, int64_t v)
{
    sqlite3_bind_int64(st->st, idx, v);
}

void store_bind_text(store_stmt *st, int idx, const char *s, size_t len)
{
    sqlite3_bind_text(st->st, idx, s, (int)len, SQLITE_STATIC);
}

void store_bind_str(store_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st->st, idx, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st->st, idx);
}

void store_bind_blob(store_stmt *st, int idx, const void *p, size_t len)
{
    sqlite3_bind_blob(st->st, idx, p, (int)len, SQLITE_STATIC);
}

void store_bind_null(store_stmt *st, int idx)
{
    sqlite3_bind_null(st->st, idx);
}

int store_step(store_stmt *st)
{
    if (!st->st) return ORD_ENOMEM; /* store_prep could not prepare it */
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW) {
        if (!st->rows) {
            st->rows = 1;
            st->c->rows[st->c->nrows++] = st;
        }
        return STORE_ROW;
    }
    if (rc == SQLITE_DONE) return STORE_DONE;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return ORD_ECONFLICT;
    if (rc == SQLITE_NOMEM) return ORD_ENOMEM;
    log_error("store", "step failed", "sql", sqlite3_sql(st->st), "error", sqlite3_errmsg(st->c->db), NULL);
    return ORD_ESTORE;
}

int store_exec(store_stmt *st)
{
    int rc;
    while ((rc = store_step(st)) == STORE_ROW)
        ;
    return rc;
}

int64_t store_col_i64(store_stmt *st, int col)
{
    return sqlite3_column_int64(st->st, col);
}

const char *store_col_text(store_stmt *st, int col, size_t *len)
{
    const char *p = (const char *)sqlite3_column_text(st->st, col);
    if (len) *len = (size_t)sqlite3_column_bytes(st->st, col);
    return p;
}

const void *store_col_blob(store_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(st->st, col);
    if (len) *len = (size_t)sqlite3_column_bytes(st->st, col);
    return p;
}

int store_col_is_null(store_stmt *st, int col)
{
    return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

void store_reset(store_stmt *st)
{
    sqlite3_reset(st->st);
}

int64_t store_changes(store_conn *c)
{
    return sqlite3_changes64(c->db);
}

/* ---- migrations -------------------------------------------------------- */

static int migrate(store *s)
{
    sqlite3 *db = s->w->db;
    int rc = ORD_ESTORE, version = 0;
    sqlite3_stmt *q = NULL;
    if (conn_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
                      "name TEXT NOT NULL, applied_ms INTEGER NOT NULL) STRICT"))
        return ORD_ESTORE;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version),0) FROM schema_version", -1, &q, NULL))
        goto out;
    if (sqlite3_step(q) == SQLITE_ROW) version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    q = NULL;
    for (const store_migration *m = store_migrations; m->version; m++) {
        if (m->version <= version) continue;
        if (conn_exec(db, "BEGIN IMMEDIATE")) goto out;
        if (conn_exec(db, m->sql)) {
            conn_exec(db, "ROLLBACK");
            goto out;
        }
        if (sqlite3_prepare_v2(db, "INSERT INTO schema_version VALUES(?1,?2,?3)", -1, &q, NULL)) goto out;
        sqlite3_bind_int(q, 1, m->version);
        sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, clock_wall_ms());
        int r = sqlite3_step(q);
        sqlite3_finalize(q);
        q = NULL;
        if (r != SQLITE_DONE || conn_exec(db, "COMMIT")) {
            conn_exec(db, "ROLLBACK");
            goto out;
        }
        log_info("store", "migration applied", "#version", (int64_t)m->version, "name", m->name, NULL);
        version = m->version;
    }
    s->schema_version = version;
    rc = 0;
out:
    if (q) sqlite3_finalize(q);
    return rc;
}

int store_schema_version(store *s)
{
    return s->schema_version;
}

/* ---- writer ------------------------------------------------------------ */

static int hist_bucket(uint64_t v, uint64_t base)
{
    int i = 0;
    while (i < STORE_HIST_BUCKETS - 1 && v > (base << i)) i++;
    return i;
}

int store_after_commit(store_conn *tx, store_hook_fn hook, void *arg)
{
    CHECK(tx == tx->s->w);
    /* consecutive identical hooks (many sends to one queue) collapse to one */
    if (hook && tx->nhooks && tx->hooks[tx->nhooks - 1].fn == hook && tx->hooks[tx->nhooks - 1].arg == arg)
        return 0;
    if (tx->nhooks == tx->caphooks) {
        size_t cap = tx->caphooks ? tx->caphooks * 2 : 64;
        struct hook *h = realloc(tx->hooks, cap * sizeof *h);
        if (!h) return ORD_ENOMEM;
        tx->hooks = h;
        tx->caphooks = cap;
    }
    tx->hooks[tx->nhooks++] = (struct hook){hook, arg, 0};
    return 0;
}

int store_count_after_commit(store_conn *tx, _Atomic uint64_t *counter, uint64_t n)
{
    CHECK(tx == tx->s->w);
    if (tx->nhooks && !tx->hooks[tx->nhooks - 1].fn && tx->hooks[tx->nhooks - 1].arg == (void *)counter) {
        tx->hooks[tx->nhooks - 1].n += n;
        return 0;
    }
    int rc = store_after_commit(tx, NULL, (void *)counter);
    if (!rc) tx->hooks[tx->nhooks - 1].n = n;
    return rc;
}

/* Resets statements a unit left mid-way (a RETURNING row read once), which
 * would otherwise block RELEASE and COMMIT.  Only a statement that returned
 * a row can be mid-way: store_step lists those. */
static void reset_busy(store_conn *c)
{
    for (int i = 0; i < c->nrows; i++) {
        if (sqlite3_stmt_busy(c->rows[i]->st)) sqlite3_reset(c->rows[i]->st);
        c->rows[i]->rows = 0;
    }
    c->nrows = 0;
}

static int run_stmt(store_conn *c, store_stmt_id id)
{
    return store_exec(store_prep(c, id));
}

/* Runs one unit inside its savepoint; returns the unit's rc.  Hooks the unit
 * registered are dropped when it is rolled back. */
static void run_unit(store *s, unit *u)
{
    store_conn *w = s->w;
    size_t mark = w->nhooks;
    if (run_stmt(w, ST_SAVEPOINT)) {
        u->rc = ORD_ESTORE;
        return;
    }
    u->rc = u->fn(w, u->arg);
    reset_busy(w);
    if (u->rc < 0) {
        run_stmt(w, ST_ROLLBACK_TO);
        for (size_t i = mark; i < w->nhooks; i++)
            if (w->hooks[i].fn) w->hooks[i].fn(w->hooks[i].arg, 0);
        w->nhooks = mark;
        s->st.units_failed++;
    }
    run_stmt(w, ST_RELEASE);
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

static void *writer_main(void *arg)
{
    store *s = arg;
    store_conn *w = s->w;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->closing) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head && s->closing) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        unit *tail = NULL, *batch;
        int n = 0;
        batch = take(s, s->batch_max, &tail, &n);
        pthread_mutex_unlock(&s->mu);

        int64_t changes0 = sqlite3_total_changes64(w->db);
        int brc = run_stmt(w, ST_BEGIN);
        unit *u = batch;
        int64_t window_end = s->window_us ? clock_mono_us() + s->window_us : 0;
        for (;;) {
            for (; u; u = u->next) {
                if (brc)
                    u->rc = ORD_ESTORE;
                else
                    run_unit(s, u);
            }
            if (n >= s->batch_max) break;
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
            u = more;
        }

        int64_t t0 = clock_mono_us();
        int crc = brc ? brc : run_stmt(w, ST_COMMIT);
        uint64_t commit_us = (uint64_t)(clock_mono_us() - t0);
        if (crc) {
            sync_check(s, sqlite3_extended_errcode(w->db), "commit");
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
            /* nothing of the batch is on disk (a full disk, an I/O error):
             * the clients may try again later */
            for (u = batch; u; u = u->next) u->rc = ORD_EUNAVAILABLE;
            for (size_t i = 0; i < w->nhooks; i++)
                if (w->hooks[i].fn) w->hooks[i].fn(w->hooks[i].arg, 0);
            w->nhooks = 0;
            log_error("store", "commit failed", "#units", (int64_t)n, NULL);
        }
        pthread_mutex_lock(&s->mu);
        s->st.commits++;
        s->st.units += (uint64_t)n;
        if (crc) s->st.commit_failures++;
        /* only a commit that wrote rows tells whether writes reach the disk */
        if (crc || sqlite3_total_changes64(w->db) != changes0) s->st.write_failed = crc != 0;
        s->st.batch_hist[hist_bucket((uint64_t)n, 1)]++;
        s->st.commit_us_hist[hist_bucket(commit_us, 50)]++;
        s->st.commit_us_sum += commit_us;
        if ((uint64_t)n > s->st.batch_max_seen) s->st.batch_max_seen = (uint64_t)n;
        pthread_mutex_unlock(&s->mu);

        /* durable now: wake whoever waits on this data, then complete */
        if (!crc)
            for (size_t i = 0; i < w->nhooks; i++) {
                struct hook *h = &w->hooks[i];
                if (h->fn)
                    h->fn(h->arg, 1);
                else
                    atomic_fetch_add((_Atomic uint64_t *)h->arg, h->n);
            }
        w->nhooks = 0;
        while (batch) {
            unit *next = batch->next;
            if (batch->done) batch->done(batch->arg, batch->rc);
            free(batch);
            batch = next;
        }
    }
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store *s = arg;
    if (pages >= WAL_CHECKPOINT_PAGES) {
        pthread_mutex_lock(&s->mu);
        s->ckpt_wanted = 1;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->mu);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    store *s = arg;
    store_conn *c = NULL;
    if (conn_open(s, 0, &c)) return NULL;
    sqlite3_exec(c->db, "PRAGMA query_only=0", NULL, NULL, NULL);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->closing) pthread_cond_wait(&s->ckpt_cv, &s->mu);
        if (s->closing) break;
        s->ckpt_wanted = 0;
        pthread_mutex_unlock(&s->mu);
        int log_pages = 0, done_pages = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &done_pages);
        if (rc != SQLITE_OK) sync_check(s, sqlite3_extended_errcode(c->db), "checkpoint");
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    conn_close(c);
    return NULL;
}

/* ---- public ------------------------------------------------------------ */

static void sqlite_global_init(void)
{
    /* no global allocation statistics: they take a global mutex per malloc */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int store_open(store **out, const store_opts *o)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init);
    int rc = ORD_ENOMEM;
    store *s = calloc(1, sizeof *s);
    if (!s) return ORD_ENOMEM;
    s->path = strdup(o->path);
    if (!s->path) goto fail;
    s->pending_max = o->pending_max > 0 ? o->pending_max : LIMIT_STORE_PENDING_DEFAULT;
    s->batch_max = o->batch_max > 0 ? o->batch_max : LIMIT_STORE_BATCH_DEFAULT;
    s->window_us = o->window_us > 0 ? o->window_us : 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_cond_init(&s->ckpt_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_key_create(&s->reader_key, NULL);
    if ((rc = conn_open(s, 1, &s->w))) goto fail;
    if ((rc = migrate(s))) goto fail;
    sqlite3_wal_hook(s->w->db, wal_hook, s);
    if (pthread_create(&s->writer, NULL, writer_main, s)) {
        rc = ORD_EINTERNAL;
        goto fail;
    }
    if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s)) {
        pthread_mutex_lock(&s->mu);
        s->closing = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
        rc = ORD_EINTERNAL;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    conn_close(s->w);
    pthread_key_delete(s->reader_key);
    free(s->path);
    free(s);
    return rc;
}

void store_close(store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->ckpt_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    pthread_join(s->checkpointer, NULL);
    store_conn *r = s->readers;
    while (r) {
        store_conn *next = r->next;
        conn_close(r);
        r = next;
    }
    /* a clean close checkpoints the WAL into the database file */
    sqlite3_wal_checkpoint_v2(s->w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    conn_close(s->w);
    pthread_key_delete(s->reader_key);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->ckpt_cv);
    free(s->path);
    free(s);
}

int store_submit(store *s, store_unit_fn fn, store_done_fn done, void *arg)
{
    CHECK(fn != NULL);
    unit *u = malloc(sizeof *u);
    if (!u) return ORD_ENOMEM;
    *u = (unit){fn, done, arg, 0, NULL};
    pthread_mutex_lock(&s->mu);
    if (s->closing || s->npending >= s->pending_max || s->st.sync_failed) {
        int rc = s->closing ? ORD_ESHUTDOWN : s->st.sync_failed ? ORD_EUNAVAILABLE : ORD_EBUSY;
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

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static void run_done(void *arg, int rc)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct run_ctx {
    store_unit_fn fn;
    void *arg;
    struct waiter w;
};

static int run_unit_fn(store_conn *tx, void *arg)
{
    struct run_ctx *r = arg;
    return r->fn(tx, r->arg);
}

static void run_unit_done(void *arg, int rc)
{
    struct run_ctx *r = arg;
    run_done(&r->w, rc);
}

int store_run(store *s, store_unit_fn fn, void *arg)
{
    struct run_ctx r = {.fn = fn, .arg = arg};
    pthread_mutex_init(&r.w.mu, NULL);
    pthread_cond_init(&r.w.cv, NULL);
    int rc = store_submit(s, run_unit_fn, run_unit_done, &r);
    if (rc == 0) {
        pthread_mutex_lock(&r.w.mu);
        while (!r.w.done) pthread_cond_wait(&r.w.cv, &r.w.mu);
        pthread_mutex_unlock(&r.w.mu);
        rc = r.w.rc;
    }
    pthread_mutex_destroy(&r.w.mu);
    pthread_cond_destroy(&r.w.cv);
    return rc;
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
    if (full || conn_open(s, 0, &c)) return NULL;
    pthread_mutex_lock(&s->mu);
    c->next = s->readers;
    s->readers = c;
    s->nreaders++;
    pthread_mutex_unlock(&s->mu);
    pthread_setspecific(s->reader_key, c);
    return c;
}

void store_stats(store *s, store_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->pending = s->npending;
    pthread_mutex_unlock(&s->mu);
}
