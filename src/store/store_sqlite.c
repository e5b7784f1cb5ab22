/* store_sqlite.c - the SQLite backend of store.h (see backend.h).
 *
 * DESIGN
 * One file, WAL mode, synchronous=FULL: a COMMIT fsyncs the WAL.  The
 * writer's connection is the only read-write one (the generic runtime in
 * store.c runs the units on it); readers are per-thread read-only
 * connections, each statement a WAL snapshot until it is reset.  A
 * checkpointer thread with its own connection keeps the WAL short so the
 * writer never checkpoints inline.  The SQL text of every statement is in
 * sqlite_sql.c; migrations in migrations/sqlite/.
 *
 * THREAD SAFETY
 * Connections are used by one thread at a time (store.h).  sq->mu guards
 * the checkpointer's wake-up.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"
#include "store/backend.h"
#include "store/migrate.h"
#include "store/sqlite_sql.h"
#include "store/walbuf.h"

#define WAL_CHECKPOINT_PAGES 4000  /* ask the checkpointer to run when this many frames are not yet copied */
#define WAL_RESTART_PAGES 16384    /* a WAL this long (64 MiB of 4 KiB pages) is restarted from its beginning */

typedef struct sq_conn sq_conn;

typedef struct sq_stmt {
    store_stmt base;
    sqlite3_stmt *st;
    int rows; /* listed in c->rows: has returned a row since the unit began */
} sq_stmt;

struct sq_conn {
    store_conn base;
    sqlite3 *db;
    sq_stmt stmts[ST__COUNT];
    /* statements that returned a row (may still be mid-way): reset after each unit */
    sq_stmt *rows[ST__COUNT];
    int nrows;
};

typedef struct sq_store {
    char *path;
    pthread_t checkpointer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ckpt_wanted, closing, ckpt_started;
    int backfilled; /* frames of the WAL the last checkpoint copied (mu) */
} sq_store;

#define SQ(c) ((sq_conn *)(c))
#define SQS(st) ((sq_stmt *)(st))

/* A failed sync leaves the node unable to tell what is on the disk: the
 * kernel may have dropped the dirty pages the sync covered and a later sync
 * succeed without them (PostgreSQL's "fsyncgate").  So it is never retried:
 * the store stops taking writes (ORD_EUNAVAILABLE, /ready 503) until the
 * process reopens the database.  rc is SQLite's extended result code of the
 * failed call. */
static void sync_check(store *s, int rc, const char *during)
{
    if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC) store_sync_failed(s, during, sqlite3_errstr(rc));
}

/* ---- connections ------------------------------------------------------- */

/* The busy handler of the writer and the checkpointer.  They wait for each
 * other only while the checkpointer restarts the WAL (a RESTART checkpoint
 * holds the writer for the few frames its passive pass left, and for the
 * readers to move off the WAL): they look again every 100 us instead of
 * after SQLite's default sleeps of 1, 2, 5, 10 .. 100 ms, which would add
 * to the latency of every unit in the writer's batch.  Up to about 10 s,
 * as the readers' busy_timeout. */
static int lock_busy(void *arg, int count)
{
    (void)arg;
    if (count >= 100000) return 0;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
    return 1;
}

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

static void sq_conn_close(store_conn *bc)
{
    sq_conn *c = SQ(bc);
    if (!c) return;
    for (int i = 0; i < ST__COUNT; i++)
        if (c->stmts[i].st) sqlite3_finalize(c->stmts[i].st);
    if (c->db) sqlite3_close(c->db);
    free(c->base.hooks);
    free(c);
}

static int conn_open(store *s, int writer, sq_conn **out)
{
    sq_store *sq = store_backend_get(s);
    int rc = ORD_ESTORE;
    sq_conn *c = calloc(1, sizeof *c);
    if (!c) return ORD_ENOMEM;
    c->base.be = &store_backend_sqlite;
    c->base.s = s;
    c->base.writer = writer;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    /* the writer's WAL frames go to the kernel in one write a commit (walbuf.c) */
    const char *vfs_name = writer && sqlite3_vfs_find(WALBUF_VFS) ? WALBUF_VFS : NULL;
    if (sqlite3_open_v2(sq->path, &c->db, flags, vfs_name) != SQLITE_OK) {
        log_error("store", "cannot open database", "path", sq->path, "error",
                  c->db ? sqlite3_errmsg(c->db) : "?", NULL);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    if (writer)
        sqlite3_busy_handler(c->db, lock_busy, NULL);
    else
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
    sq_conn_close(c ? &c->base : NULL);
    return rc;
}

static int sq_reader_open(store *s, store_conn **out)
{
    sq_conn *c;
    int rc = conn_open(s, 0, &c);
    if (!rc) *out = &c->base;
    return rc;
}

/* ---- statements ------------------------------------------------------- */

static store_stmt *sq_prep(store_conn *bc, store_stmt_id id)
{
    sq_conn *c = SQ(bc);
    sq_stmt *st = &c->stmts[id];
    if (!st->st) {
        CHECK(sqlite_sql[id] != NULL);
        int rc = sqlite3_prepare_v3(c->db, sqlite_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->st, NULL);
        if (rc != SQLITE_OK) {
            log_error("store", "prepare failed", "sql", sqlite_sql[id], "error", sqlite3_errmsg(c->db), NULL);
            /* catalog SQL is code: only memory may run out.  The statement
             * stays unprepared: binds do nothing, store_step says
             * ORD_ENOMEM, and the next store_prep tries again. */
            CHECK(rc == SQLITE_NOMEM);
            st->st = NULL;
        }
        st->base.c = bc;
    } else {
        sqlite3_reset(st->st);
        sqlite3_clear_bindings(st->st);
    }
    return &st->base;
}

static void sq_bind_i64(store_stmt *st, int idx, int64_t v)
{
    sqlite3_bind_int64(SQS(st)->st, idx, v);
}

static void sq_bind_text(store_stmt *st, int idx, const char *s, size_t len)
{
    sqlite3_bind_text(SQS(st)->st, idx, s, (int)len, SQLITE_STATIC);
}

static void sq_bind_blob(store_stmt *st, int idx, const void *p, size_t len)
{
    sqlite3_bind_blob(SQS(st)->st, idx, p, (int)len, SQLITE_STATIC);
}

static void sq_bind_null(store_stmt *st, int idx)
{
    sqlite3_bind_null(SQS(st)->st, idx);
}

static int sq_step(store_stmt *bst)
{
    sq_stmt *st = SQS(bst);
    if (!st->st) return ORD_ENOMEM; /* sq_prep could not prepare it */
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW) {
        if (!st->rows) {
            sq_conn *c = SQ(st->base.c);
            st->rows = 1;
            c->rows[c->nrows++] = st;
        }
        return STORE_ROW;
    }
    if (rc == SQLITE_DONE) return STORE_DONE;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return ORD_ECONFLICT;
    if (rc == SQLITE_NOMEM) return ORD_ENOMEM;
    log_error("store", "step failed", "sql", sqlite3_sql(st->st), "error", sqlite3_errmsg(SQ(st->base.c)->db), NULL);
    return ORD_ESTORE;
}

static int64_t sq_col_i64(store_stmt *st, int col)
{
    return sqlite3_column_int64(SQS(st)->st, col);
}

static const char *sq_col_text(store_stmt *st, int col, size_t *len)
{
    const char *p = (const char *)sqlite3_column_text(SQS(st)->st, col);
    if (len) *len = (size_t)sqlite3_column_bytes(SQS(st)->st, col);
    return p;
}

static const void *sq_col_blob(store_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(SQS(st)->st, col);
    if (len) *len = (size_t)sqlite3_column_bytes(SQS(st)->st, col);
    return p;
}

static int sq_col_is_null(store_stmt *st, int col)
{
    return sqlite3_column_type(SQS(st)->st, col) == SQLITE_NULL;
}

static void sq_reset(store_stmt *st)
{
    sqlite3_reset(SQS(st)->st);
}

static int64_t sq_changes(store_conn *c)
{
    return sqlite3_changes64(SQ(c)->db);
}

static int64_t sq_last_rowid(store_conn *c)
{
    return sqlite3_last_insert_rowid(SQ(c)->db);
}

/* ---- writer ------------------------------------------------------------ */

static const store_stmt_id tx_stmt[] = {
    [STORE_TX_BEGIN] = ST_BEGIN,           [STORE_TX_SAVEPOINT] = ST_SAVEPOINT, [STORE_TX_RELEASE] = ST_RELEASE,
    [STORE_TX_ROLLBACK_TO] = ST_ROLLBACK_TO, [STORE_TX_COMMIT] = ST_COMMIT,     [STORE_TX_ROLLBACK] = ST_ROLLBACK,
};

static int sq_tx(store_conn *w, store_txop op)
{
    if (op == STORE_TX_ROLLBACK) {
        /* after a failed COMMIT the transaction may be gone already */
        sqlite3_exec(SQ(w)->db, "ROLLBACK", NULL, NULL, NULL);
        return 0;
    }
    int rc = sq_step(sq_prep(w, tx_stmt[op]));
    if (rc != STORE_DONE && op == STORE_TX_COMMIT) sync_check(w->s, sqlite3_extended_errcode(SQ(w)->db), "commit");
    return rc == STORE_DONE ? 0 : ORD_ESTORE;
}

/* Resets statements a unit left mid-way (a RETURNING row read once), which
 * would otherwise block RELEASE and COMMIT.  Only a statement that returned
 * a row can be mid-way: sq_step lists those. */
static int sq_unit_end(store_conn *w)
{
    sq_conn *c = SQ(w);
    for (int i = 0; i < c->nrows; i++) {
        if (sqlite3_stmt_busy(c->rows[i]->st)) sqlite3_reset(c->rows[i]->st);
        c->rows[i]->rows = 0;
    }
    c->nrows = 0;
    return 0;
}

static int sq_in_tx(store_conn *w)
{
    return !sqlite3_get_autocommit(SQ(w)->db);
}

static uint64_t sq_changes_total(store_conn *w)
{
    return (uint64_t)sqlite3_total_changes64(SQ(w)->db);
}

/* ---- migrations -------------------------------------------------------- */

static int migrate(sqlite3 *db, int *schema_version)
{
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
    for (const store_migration *m = store_migrations_sqlite; m->version; m++) {
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
    *schema_version = version;
    rc = 0;
out:
    if (q) sqlite3_finalize(q);
    return rc;
}

/* ---- checkpointer ------------------------------------------------------ */

/* After each commit, on the writer: pages = the frames in the WAL.  Under
 * steady load a passive checkpoint never catches up with the writer, so
 * the WAL does not restart and its length alone says nothing: the
 * checkpointer is woken when WAL_CHECKPOINT_PAGES frames wait to be copied
 * (woken on its length, it ran after every commit once the WAL was long:
 * a copy of the hot pages and an fsync of the database per commit). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    sq_store *sq = arg;
    pthread_mutex_lock(&sq->mu);
    if (pages < sq->backfilled) sq->backfilled = 0; /* the WAL restarted */
    if (pages - sq->backfilled >= WAL_CHECKPOINT_PAGES && !sq->ckpt_wanted) {
        sq->ckpt_wanted = 1;
        pthread_cond_signal(&sq->cv);
    }
    pthread_mutex_unlock(&sq->mu);
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "checkpointer"); /* names in top, perf, /proc */
    store *s = arg;
    sq_store *sq = store_backend_get(s);
    sq_conn *c = NULL;
    if (conn_open(s, 0, &c)) return NULL;
    sqlite3_exec(c->db, "PRAGMA query_only=0", NULL, NULL, NULL);
    /* a RESTART holds the writer while it waits for the readers: look again
     * often, not after SQLite's default sleeps */
    sqlite3_busy_handler(c->db, lock_busy, NULL);
    pthread_mutex_lock(&sq->mu);
    for (;;) {
        while (!sq->ckpt_wanted && !sq->closing) pthread_cond_wait(&sq->cv, &sq->mu);
        if (sq->closing) break;
        sq->ckpt_wanted = 0;
        pthread_mutex_unlock(&sq->mu);
        int log_pages = 0, done_pages = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &done_pages);
        if (rc != SQLITE_OK) sync_check(s, sqlite3_extended_errcode(c->db), "checkpoint");
        if (rc == SQLITE_OK && log_pages >= WAL_RESTART_PAGES) {
            /* bound the file: copy the frames added meanwhile with the
             * writer held (briefly: the passive pass copied the rest) so
             * its next transaction starts the WAL from its beginning */
            rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART, &log_pages, &done_pages);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) sync_check(s, sqlite3_extended_errcode(c->db), "checkpoint");
        }
        pthread_mutex_lock(&sq->mu);
        if (rc == SQLITE_OK) sq->backfilled = done_pages;
    }
    pthread_mutex_unlock(&sq->mu);
    sq_conn_close(&c->base);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

static void sqlite_global_init(void)
{
    /* no global allocation statistics: they take a global mutex per malloc */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
    if (walbuf_install()) log_warn("store", "the WAL write buffer is not available: frames are written one by one", NULL);
}

static void sq_free(sq_store *sq)
{
    pthread_mutex_destroy(&sq->mu);
    pthread_cond_destroy(&sq->cv);
    free(sq->path);
    free(sq);
}

static int sq_open(store *s, const store_opts *o, store_conn **writer, int *schema_version)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init);
    sq_store *sq = calloc(1, sizeof *sq);
    if (!sq) return ORD_ENOMEM;
    sq->path = strdup(o->path);
    pthread_mutex_init(&sq->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sq->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!sq->path) {
        sq_free(sq);
        return ORD_ENOMEM;
    }
    store_backend_set(s, sq);
    sq_conn *w = NULL;
    int rc = conn_open(s, 1, &w);
    if (!rc) rc = migrate(w->db, schema_version);
    if (!rc && pthread_create(&sq->checkpointer, NULL, checkpointer_main, s)) rc = ORD_EINTERNAL;
    if (rc) {
        sq_conn_close(w ? &w->base : NULL);
        store_backend_set(s, NULL);
        sq_free(sq);
        return rc;
    }
    sq->ckpt_started = 1;
    sqlite3_wal_hook(w->db, wal_hook, sq);
    *writer = &w->base;
    return 0;
}

static void sq_close(store *s, store_conn *writer)
{
    sq_store *sq = store_backend_get(s);
    pthread_mutex_lock(&sq->mu);
    sq->closing = 1;
    pthread_cond_broadcast(&sq->cv);
    pthread_mutex_unlock(&sq->mu);
    if (sq->ckpt_started) pthread_join(sq->checkpointer, NULL);
    /* a clean close checkpoints the WAL into the database file */
    sqlite3_wal_checkpoint_v2(SQ(writer)->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sq_conn_close(writer);
    store_backend_set(s, NULL);
    sq_free(sq);
}

const store_backend store_backend_sqlite = {
    .name = "sqlite",
    .sole_writer = 1,
    .sql = sqlite_sql,
    .open = sq_open,
    .close = sq_close,
    .reader_open = sq_reader_open,
    .conn_close = sq_conn_close,
    .tx = sq_tx,
    .unit_end = sq_unit_end,
    .in_tx = sq_in_tx,
    .changes_total = sq_changes_total,
    .prep = sq_prep,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_i64 = sq_col_i64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .col_is_null = sq_col_is_null,
    .reset = sq_reset,
    .changes = sq_changes,
    .last_rowid = sq_last_rowid,
};
