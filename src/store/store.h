/* store.h - the one storage interface of orderly.
 *
 * Callers never write SQL: they name a statement from the catalog
 * (store/stmts.h), bind parameters, step rows.  Each backend (SQLite:
 * store_sqlite.c + sqlite_sql.c; PostgreSQL: store_pg.c + pg_sql.c)
 * supplies its own SQL text for every statement, so the callers have no
 * dialect in them.  store_open picks the backend from the path: a
 * postgres:// or postgresql:// URL is PostgreSQL, anything else a SQLite
 * file.
 *
 * WRITES go through ONE writer thread with group commit: a caller submits a
 * unit of work; the writer runs many units in one transaction, each inside
 * its own savepoint, and calls every unit's completion only after COMMIT has
 * returned (synchronous=FULL: the WAL is fsync'd).  A unit that returns < 0
 * is rolled back to its savepoint alone; its neighbours commit.  If the
 * COMMIT itself fails, every unit of the batch completes with
 * ORD_EUNAVAILABLE (503: nothing of it is acknowledged; when the connection
 * to the database was lost the commit may or may not have happened, so
 * clients retry with their Idempotency-Key).
 *
 * SEVERAL NODES (PostgreSQL): each node has its own writer; a commit's
 * signals (store_signal_tx) reach the other nodes after it; one node at a
 * time is the leader (store_is_leader) and runs the cluster's periodic work.
 * While the database is unreachable store_submit answers ORD_EUNAVAILABLE
 * at once and the writer reconnects with backoff.
 *
 * READS use a per-thread reader connection (store_reader()).
 *
 * THREAD SAFETY: store_submit/store_run/store_reader may be called from any
 * thread.  A store_conn is used by one thread at a time: the writer's
 * connection only inside unit functions (on the writer thread), a reader's
 * only by the thread that got it.
 */
#ifndef ORDERLY_STORE_H
#define ORDERLY_STORE_H
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include "store/stmts.h"

typedef struct store store;
typedef struct store_conn store_conn;
typedef struct store_stmt store_stmt;

typedef struct store_opts {
    const char *path;          /* SQLite file (created if missing), or a postgres:// URL */
    int pending_max;           /* units queued for the writer; beyond -> ORD_EBUSY */
    int batch_max;             /* units per transaction */
    int window_us;             /* after the queue empties, wait this long for more */
    int admission_ms;          /* store_admit refuses while the writer's queue holds more work; 0 = never */
} store_opts;

/* Counters for metrics; read with store_stats().  Histograms are per-bucket
 * (not cumulative) counts: bucket i < 15 holds batch sizes in (2^(i-1), 2^i],
 * commit (fsync) latencies in (50us·2^(i-1), 50us·2^i]; bucket 15 holds
 * everything larger. */
#define STORE_HIST_BUCKETS 16
typedef struct store_stats_t {
    uint64_t commits;
    uint64_t units;
    uint64_t units_failed;        /* units rolled back to their savepoint */
    uint64_t commit_failures;     /* whole batches that failed */
    uint64_t batch_hist[STORE_HIST_BUCKETS];
    uint64_t commit_us_hist[STORE_HIST_BUCKETS];
    uint64_t commit_us_sum;
    uint64_t batch_max_seen;
    int64_t pending;              /* units waiting right now */
    int write_failed;             /* the latest COMMIT that wrote rows (or health probe) failed */
    int sync_failed;              /* a sync failed: no write is taken until the database is reopened */
    int down;                     /* the database is unreachable: units are refused (ORD_EUNAVAILABLE) */
    uint64_t reconnects;          /* times the writer reconnected after losing the database */
    uint64_t follow_units;        /* follow-ups (store_follow_tx) run in their producer's batch */
    uint64_t follow_deferred;     /* follow-ups handed to a later batch (the batch had its share) */
    uint64_t statements;          /* statements on the writer's connection (units' SAVEPOINT/RELEASE,
                                   * batches' BEGIN/COMMIT included) */
    int64_t backlog_us;           /* the work waiting for the writer now (store_backlog_us) */
    int64_t unit_cost_us;         /* the writer's recent time per unit it took from the queue */
    uint64_t refused;             /* intake refused by store_admit */
} store_stats_t;

/* ---- Lifecycle -------------------------------------------------------- */

/* Opens (creating and migrating) the database and starts the writer.
 * Returns 0, ORD_ESTORE, ORD_EIO or ORD_ENOMEM.  *out is owned by the caller
 * and released with store_close(). */
int store_open(store **out, const store_opts *opts);
/* Stops accepting units, runs every unit already submitted, commits, joins
 * the writer and closes all connections.  Safe on NULL. */
void store_close(store *s);
/* Schema version after migrations (for `orderly migrate` and /ready). */
int store_schema_version(store *s);
void store_stats(store *s, store_stats_t *out);
/* "sqlite" or "postgres". */
const char *store_backend_name(store *s);
/* path (a file or URL) fit for logs: a URL's password (user:PASSWORD@ or
 * password=...) becomes "***".  Truncates to cap. */
void store_path_redact(const char *path, char *out, size_t cap);
/* 1 when several nodes may share the database (PostgreSQL). */
int store_is_shared(store *s);

/* ---- Units of work (writer) -------------------------------------------- */

/* Runs on the writer thread inside a savepoint.  Return 0 to keep the
 * unit's writes, < 0 to roll them back (the code is passed to done). */
typedef int (*store_unit_fn)(store_conn *tx, void *arg);
/* Runs on the writer thread after COMMIT (rc = the unit's return), or after
 * a failed batch (rc = ORD_EUNAVAILABLE).  Must be quick and must not submit and
 * wait (it may submit without waiting). */
typedef void (*store_done_fn)(void *arg, int rc);

/* Queues a unit.  Never blocks: ORD_EBUSY when pending_max units wait,
 * ORD_ESHUTDOWN after store_close began.  On error neither fn nor done runs. */
int store_submit(store *s, store_unit_fn fn, store_done_fn done, void *arg);
/* Submits and waits for the commit.  Returns the unit's rc (or ORD_EBUSY,
 * ORD_ESHUTDOWN, ORD_ESTORE, ORD_EUNAVAILABLE).  Not for the writer thread, nor for threads
 * that must not block (HTTP). */
int store_run(store *s, store_unit_fn fn, void *arg);
/* store_run, and *busy_us receives the writer's time in the unit and in the
 * follow-ups it made that ran in its batch (not its wait in the queue, nor
 * other units' work): what the unit cost the writer, for work that paces
 * itself by it (background tasks). */
int store_run_busy(store *s, store_unit_fn fn, void *arg, int64_t *busy_us);

/* Runs inside a savepoint of its own right after a follow-up's fn failed
 * (rc) and was rolled back, in the same transaction: keeps what must not be
 * lost with the failure (the message it was processing, for a retry).  Its
 * return is the rc done gets. */
typedef int (*store_recover_fn)(store_conn *tx, void *arg, int rc);
/* Inside a unit: run (fn, done, arg) as a unit of its own once the current
 * unit has returned - in this same transaction, after the units already in
 * the batch, while the batch has taken fewer than LIMIT_STORE_FOLLOW_MAX
 * follow-ups (returns 0); otherwise as a unit of the next batch, queued
 * ahead of new work right after this batch commits (returns 1: the caller
 * makes durable in this unit what the follow-up will need).  Either way it
 * is a unit like any other (its own savepoint, rolled back alone, done
 * after its commit), and it may add follow-ups itself.  When fn fails,
 * recover (may be NULL) runs at once; a recovery that fails fails the
 * whole batch, so nothing the follow-up was responsible for is committed
 * without it.  If the current unit rolls back, or the batch fails before a
 * deferred follow-up was queued, fn never runs and done(arg, rc) is called
 * on the writer thread with that unit's (or the batch's) error.  This is
 * run to completion: the work a unit makes possible (a message for an
 * in-process consumer) runs on the writer without a thread hand-off,
 * usually before the commit that makes both durable.  0, 1 or ORD_ENOMEM. */
int store_follow_tx(store_conn *tx, store_unit_fn fn, store_recover_fn recover, store_done_fn done, void *arg);

/* Inside a unit: run hook(arg, 1) on the writer thread after this batch has
 * committed; or hook(arg, 0) if the unit is rolled back or the batch fails
 * (so an owner can free arg).  Called exactly once.  For wake-ups and for
 * in-memory state that must follow the durable state (queue registry).
 * Consecutive registrations of the same (hook, arg) collapse into one.
 * Returns 0 or ORD_ENOMEM. */
typedef void (*store_hook_fn)(void *arg, int committed);
int store_after_commit(store_conn *tx, store_hook_fn hook, void *arg);

/* Inside a unit: add n to *counter after this batch commits; nothing if the
 * unit rolls back.  For statistics that must count only durable work.
 * Consecutive additions to the same counter merge.  0 or ORD_ENOMEM. */
int store_count_after_commit(store_conn *tx, _Atomic uint64_t *counter, uint64_t n);

/* ---- Admission control -------------------------------------------------- */

/* The work waiting for the writer now, in microseconds: the units queued
 * times the writer's recent time per unit (a moving average of each
 * batch's time from taking its units to the end of its commit, over the
 * units it took from the queue - their follow-ups, the order functions run
 * to completion, included).  Any thread, never blocks. */
int64_t store_backlog_us(store *s);
/* For intake - a request that brings new work (an order, an event, a
 * message): 0, or ORD_EBUSY (counted in refused) while the backlog is over
 * the configured admission_ms, so a flood waits at the client (503 with
 * Retry-After) instead of in the writer's queue, and what was accepted
 * completes within about admission_ms.  Any thread, never blocks. */
int store_admit(store *s);

/* ---- Bounded sweeps ---------------------------------------------------- */

/* One chunk of a sweep, inside a unit: handles at most limit rows and sets
 * *n to how many it handled.  0 or an error (the unit rolls back). */
typedef int (*store_chunk_fn)(store_conn *tx, void *arg, int limit, int64_t *n);
/* Runs fn in units of `chunk` rows until one handles fewer, or
 * LIMIT_SWEEP_CHUNKS units ran (the rest is for the next call: retention,
 * expiry, idempotency sweeps: never one long unit on the writer, never a
 * caller held for long).  *total
 * (may be NULL) receives the rows handled by the committed units.  Blocking,
 * as store_run: not for the writer nor for HTTP threads.  0 or the error of
 * the unit that failed. */
int store_sweep(store *s, store_chunk_fn fn, void *arg, int chunk, int64_t *total);

/* ---- Several nodes ------------------------------------------------------ */

/* Topics of signals between nodes: each names in-memory state that a commit
 * on another node may have made stale. */
enum store_topic {
    STORE_TOPIC_QUEUE = 1, /* key: a queue id whose messages may have become receivable */
    STORE_TOPIC_QUEUES,    /* queues were created or their attributes changed */
    STORE_TOPIC_PRODUCTS,  /* products (prices) changed */
    STORE_TOPIC_FUNCTIONS, /* a function was paused or resumed (fn_pause_tx) */
    STORE_TOPIC_ACCOUNTS,  /* key: a user id whose account changed; 0: API keys changed */
    STORE_TOPICS_END
};
/* Inside a unit: tell the other nodes (topic, key) after this batch
 * commits; nothing if the unit rolls back.  Deduplicated per batch and
 * throttled (PostgreSQL: one NOTIFY at most per LIMIT_PG_NOTIFY_INTERVAL_MS);
 * nothing on SQLite.  0 or ORD_ENOMEM. */
int store_signal_tx(store_conn *tx, int topic, int64_t key);
/* fn(arg, key, n) runs on a store thread when another node signalled topic:
 * n times since its previous NOTIFY (for STORE_TOPIC_QUEUE the messages
 * sent); key -1 (n 0) when signals may have been missed (after a
 * reconnect), or for STORE_TOPIC_QUEUE at every fallback poll
 * (LIMIT_PG_POLL_FALLBACK_MS).
 * Must be quick.  At most LIMIT_STORE_SIGNAL_HANDLERS per topic: 0 or
 * ORD_ELIMIT.  store_signal_off removes (fn, arg) before arg is freed. */
typedef void (*store_signal_fn)(void *arg, int64_t key, uint32_t n);
int store_signal_on(store *s, int topic, store_signal_fn fn, void *arg);
void store_signal_off(store *s, int topic, store_signal_fn fn, void *arg);
/* 1 while this node should run the cluster's periodic work (retention,
 * expiry, sweeps, alarm events): always on SQLite; on PostgreSQL the
 * holder of a session advisory lock, handed over when it dies.  The work
 * itself must stay correct if two nodes briefly both believe they lead. */
int store_is_leader(store *s);

/* ---- Health ----------------------------------------------------------- */

/* Inside a unit: rewrites the health-probe row, so the unit's commit (its
 * done rc) tells whether the database takes writes.  0 or a store error. */
int store_probe_tx(store_conn *tx);
/* Submits a probe unit, unless one is pending; never blocks.  Its outcome
 * sets write_failed like a commit does: after a failed commit a probe is how
 * a node that gets no writes finds that the database recovered. */
void store_probe(store *s);
/* On the calling thread's reader: the time (ms) of the latest committed
 * probe, 0 when none yet.  0 or a store error (the database cannot be read). */
int store_probe_read(store *s, int64_t *probe_ms);

/* ---- Moving to PostgreSQL ------------------------------------------------ */

typedef struct store_copy_stats {
    int tables;
    int64_t rows;
    int schema_version;
} store_copy_stats;
/* Copies every row of the SQLite database `from` into the PostgreSQL
 * database `to` (a postgres:// URL), ids, statuses, inventory and the event
 * log included, in one transaction; both are first migrated to the latest
 * schema.  The target must be empty (ORD_EEXISTS otherwise).  Returns 0 or
 * an error with a one-line reason in err.  Stop the nodes of `from` first:
 * what they commit during the copy is not copied. */
int store_copy(const char *from, const char *to, store_copy_stats *st, char *err, size_t errlen);

/* ---- Readers ----------------------------------------------------------- */

/* The calling thread's reader connection (opened on first use, closed by
 * store_close).  NULL on failure. */
store_conn *store_reader(store *s);

/* ---- Statements (both writer and readers) ------------------------------ */

#define STORE_ROW  1
#define STORE_DONE 0

/* The connection's cached prepared statement for id, reset and unbound.
 * Asserts that id is valid (programmer error). */
store_stmt *store_prep(store_conn *c, store_stmt_id id);
/* Parameters are numbered from 1 in catalog order.  Text and blobs are NOT
 * copied: their memory must stay valid until the statement has been stepped
 * for the last time or reset (bind, step, then free: as every caller does). */
void store_bind_i64(store_stmt *st, int idx, int64_t v);
void store_bind_text(store_stmt *st, int idx, const char *s, size_t len);
void store_bind_str(store_stmt *st, int idx, const char *s); /* NULL binds null */
void store_bind_blob(store_stmt *st, int idx, const void *p, size_t len);
void store_bind_null(store_stmt *st, int idx);
/* Advances: STORE_ROW, STORE_DONE, or ORD_ECONFLICT (unique / check
 * constraint), ORD_ESTORE (anything else; logged once here). */
int store_step(store_stmt *st);
/* Steps a statement that returns no rows (or ignores them); returns
 * 0, ORD_ECONFLICT or ORD_ESTORE. */
int store_exec(store_stmt *st);
/* Columns are numbered from 0.  Pointers stay valid until the next step or
 * prep of the same statement. */
int64_t store_col_i64(store_stmt *st, int col);
const char *store_col_text(store_stmt *st, int col, size_t *len); /* NUL-terminated */
const void *store_col_blob(store_stmt *st, int col, size_t *len);
int store_col_is_null(store_stmt *st, int col);
/* Resets a statement so a reader's snapshot is released; store_prep does
 * this too, but readers call it when done so the WAL can be checkpointed. */
void store_reset(store_stmt *st);
/* Inside a unit, on a backend whose writer is the only one (SQLite): a
 * number, never 0, that stays the same while nothing but the writer's own
 * statements can change what its transaction holds - it moves when a batch
 * begins or rolls back and when a unit's savepoint is rolled back.  0 on
 * readers and on backends where other nodes write too.  A copy of rows the
 * transaction read is good while the number stays and the copier keeps it
 * up to date with its own writes (orders' batch copy, orders/load.c). */
uint64_t store_tx_epoch(const store_conn *c);
/* Rows changed by the last write statement on this connection. */
int64_t store_changes(store_conn *c);
/* Runs an INSERT of one row and gives the row's integer key: the column its
 * RETURNING gives where the backend's text has one (PostgreSQL), the row id
 * where SQLite's has none (a RETURNING costs SQLite an ephemeral table).
 * 0, ORD_ECONFLICT or ORD_ESTORE. */
int store_insert(store_stmt *st, int64_t *id);

#endif
