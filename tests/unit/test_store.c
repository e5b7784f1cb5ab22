/* test_store.c - the group-commit writer: completions only after commit,
 * batching under concurrency, savepoint isolation of failing units. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "lib/err.h"
#include "lib/id.h"
#include "lib/limits.h"
#include "store/migrate.h"
#include "store/pg_sql.h"
#include "store/sqlite_sql.h"
#include "store/store.h"
#include "store/walbuf.h"
#include "testutil.h"

static store *st;
static char dbpath[512];

static void setup(void)
{
    id_init();
    snprintf(dbpath, sizeof dbpath, "%s", test_db_path("store.db"));
    store_opts o = {.path = dbpath, .pending_max = 100000, .batch_max = 1024};
    cr_assert_eq(store_open(&st, &o), 0);
}

static void teardown(void)
{
    store_close(st);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

/* A unit that appends one event row with the given id. */
struct ev {
    char id[64];
};

static int insert_event(store_conn *tx, void *arg)
{
    struct ev *e = arg;
    store_stmt *s = store_prep(tx, ST_EVENT_INSERT);
    store_bind_str(s, 1, e->id);
    store_bind_i64(s, 2, 1);
    store_bind_str(s, 3, "test");
    store_bind_str(s, 4, "T");
    store_bind_str(s, 5, "{}");
    store_bind_null(s, 6);
    store_bind_null(s, 7);
    return store_exec(s); /* ORD_ECONFLICT for an id already there */
}

static int64_t count_events_fresh(const char *path)
{
    /* a separate connection sees only committed data */
    return test_db_scalar(path, "SELECT count(*) FROM events");
}

static int max_param(const char *sql, char mark);

Test(store, every_statement_has_sql_in_every_backend)
{
    for (int i = 0; i < ST__COUNT; i++) {
        cr_expect(sqlite_sql[i] != NULL, "statement %d has no SQLite text", i);
        cr_expect(pg_sql[i] != NULL, "statement %d has no PostgreSQL text", i);
        /* the PostgreSQL text uses $N; a ?N left from SQLite would not bind */
        if (pg_sql[i]) cr_expect(strchr(pg_sql[i], '?') == NULL, "statement %d: '?' in %s", i, pg_sql[i]);
        if (pg_sql_writer[i])
            cr_expect_eq(max_param(pg_sql_writer[i], '$'), max_param(pg_sql[i], '$'), "statement %d: writer text", i);
    }
}

/* The same parameters on both: the highest placeholder number matches. */
static int max_param(const char *sql, char mark)
{
    int m = 0;
    for (const char *p = sql; (p = strchr(p, mark)); p++) {
        int n = atoi(p + 1);
        if (n > m) m = n;
    }
    return m;
}

Test(store, backends_take_the_same_parameters)
{
    for (int i = 0; i < ST__COUNT; i++) {
        if (!sqlite_sql[i] || !pg_sql[i]) continue;
        cr_expect_eq(max_param(sqlite_sql[i], '?'), max_param(pg_sql[i], '$'), "statement %d: %s vs %s", i,
                     sqlite_sql[i], pg_sql[i]);
    }
}

/* Every migration has its PostgreSQL twin with the same number and name. */
Test(store, every_migration_has_a_postgres_twin)
{
    int n = 0, m = 0;
    while (store_migrations_sqlite[n].version) n++;
    while (store_migrations_pg[m].version) m++;
    cr_assert_eq(n, m, "%d SQLite migrations, %d PostgreSQL", n, m);
    for (int i = 0; i < n; i++) {
        cr_expect_eq(store_migrations_sqlite[i].version, store_migrations_pg[i].version);
        cr_expect_str_eq(store_migrations_sqlite[i].name, store_migrations_pg[i].name);
    }
}

Test(store, migrations_ran)
{
    cr_assert_geq(store_schema_version(st), 1, "schema version %d", store_schema_version(st));
}

/* A transaction many times larger than one gathered WAL write (walbuf.c,
 * LIMIT_STORE_WAL_BUFFER_BYTES), whose pages are also written twice (an
 * update after the inserts): everything commits, a fresh connection reads
 * it whole, and so does the store after a reopen. */
static int big_unit(store_conn *tx, void *arg)
{
    (void)arg;
    static char env[8000];
    memset(env, 'x', sizeof env - 1);
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "big-%d", i);
        store_stmt *s = store_prep(tx, ST_EVENT_INSERT);
        store_bind_str(s, 1, id);
        store_bind_i64(s, 2, 1);
        store_bind_str(s, 3, "test");
        store_bind_str(s, 4, "T");
        store_bind_str(s, 5, env);
        store_bind_null(s, 6);
        store_bind_null(s, 7);
        int rc = store_exec(s);
        if (rc) return rc;
        s = store_prep(tx, ST_EVENT_SET_SUBJECT);
        store_bind_str(s, 1, id);
        store_bind_str(s, 2, "subject");
        if ((rc = store_exec(s))) return rc;
    }
    return 0;
}

Test(store, a_transaction_larger_than_a_gathered_write_commits_whole)
{
    cr_assert_gt(100 * 8000, 4 * LIMIT_STORE_WAL_BUFFER_BYTES);
    cr_assert_eq(store_run(st, big_unit, NULL), 0);
    cr_expect_eq(test_db_scalar(dbpath, "SELECT count(*) FROM events WHERE length(envelope)=7999 AND subject='subject'"),
                 100);
    store_close(st);
    store_opts o = {.path = dbpath, .pending_max = 100000, .batch_max = 1024};
    cr_assert_eq(store_open(&st, &o), 0);
    struct ev e = {.id = "after-reopen"};
    cr_assert_eq(store_run(st, insert_event, &e), 0);
    cr_expect_eq(count_events_fresh(dbpath), 101);
}

/* The WAL write shim alone, under a tiny page cache: a transaction spills
 * pages to the WAL before its commit, reads them back, dirties them again
 * (SQLite then writes their frames again, in place) - every path of
 * walbuf.c - and a second connection on the default VFS, and SQLite's
 * integrity check, find exactly what was committed; a rolled-back
 * transaction leaves nothing. */
static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *ps;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &ps, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(ps), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(ps, 0);
    sqlite3_finalize(ps);
    return v;
}

Test(store, wal_writes_gathered_survive_spills_rewrites_and_rollbacks)
{
    if (test_pg()) cr_skip_test("SQLite's WAL");
    cr_assert(sqlite3_vfs_find(WALBUF_VFS), "store_open installed the shim");
    char path[600];
    snprintf(path, sizeof path, "%s.walbuf", dbpath);
    sqlite3 *w, *r;
    cr_assert_eq(sqlite3_open_v2(path, &w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, WALBUF_VFS), SQLITE_OK);
    exec_ok(w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=8; "
               "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    exec_ok(w, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<3000) "
               "INSERT INTO t SELECT i, randomblob(900) FROM n; UPDATE t SET v=zeroblob(900) WHERE k%2=0; "
               "UPDATE t SET v=zeroblob(901) WHERE k%3=0; COMMIT");
    exec_ok(w, "BEGIN; DELETE FROM t WHERE k>1000; UPDATE t SET v=zeroblob(10); ROLLBACK");
    exec_ok(w, "BEGIN; UPDATE t SET v=zeroblob(902) WHERE k%5=0; COMMIT");
    cr_assert_eq(sqlite3_open_v2(path, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_expect_eq(scalar(r, "SELECT count(*) FROM t"), 3000);
    cr_expect_eq(scalar(r, "SELECT count(*) FROM t WHERE length(v)=902"), 600);
    cr_expect_eq(scalar(r, "SELECT count(*) FROM t WHERE length(v)=901"), 800); /* k%3=0 and not k%5=0 */
    cr_expect_eq(scalar(r, "SELECT count(*) FROM t WHERE length(v)=900"), 1600);
    cr_expect_eq(scalar(r, "SELECT count(*) FROM t WHERE k%2=0 AND length(v)=900 AND v<>zeroblob(900)"), 0);
    sqlite3_stmt *ps;
    cr_assert_eq(sqlite3_prepare_v2(r, "PRAGMA integrity_check", -1, &ps, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(ps), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(ps, 0), "ok");
    sqlite3_finalize(ps);
    sqlite3_close(r);
    sqlite3_close(w);
}

Test(store, run_commits_and_returns_rc)
{
    struct ev e = {.id = "a"};
    cr_assert_eq(store_run(st, insert_event, &e), 0);
    cr_assert_eq(count_events_fresh(dbpath), 1);
    struct ev dup = {.id = "a"};
    int rc = store_run(st, insert_event, &dup);
    cr_assert_eq(rc, ORD_ECONFLICT, "duplicate id gives %s", err_name(rc));
    cr_assert_eq(count_events_fresh(dbpath), 1);
}

/* Completion callbacks check, at the moment they run, that their row is
 * visible to an independent connection: i.e. it was committed first. */
struct done_check {
    struct ev e;
    atomic_int *ok, *bad, *ndone;
};

static void done_visible(void *arg, int rc)
{
    struct done_check *d = arg;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE id='%s'", d->e.id);
    int found = test_db_scalar(dbpath, sql) == 1;
    if (rc == 0 && found)
        atomic_fetch_add(d->ok, 1);
    else
        atomic_fetch_add(d->bad, 1);
    atomic_fetch_add(d->ndone, 1);
}

Test(store, completion_only_after_commit)
{
    enum { N = 200 };
    static struct done_check d[N];
    atomic_int ok = 0, bad = 0, ndone = 0;
    for (int i = 0; i < N; i++) {
        snprintf(d[i].e.id, sizeof d[i].e.id, "c%d", i);
        d[i].ok = &ok;
        d[i].bad = &bad;
        d[i].ndone = &ndone;
        cr_assert_eq(store_submit(st, insert_event, done_visible, &d[i]), 0);
    }
    while (atomic_load(&ndone) < N) usleep(1000);
    cr_expect_eq(atomic_load(&ok), N, "ok %d of %d", atomic_load(&ok), N);
    cr_expect_eq(atomic_load(&bad), 0, "%d completions ran before their commit", atomic_load(&bad));
}

struct worker {
    int id, n, failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct ev e;
        snprintf(e.id, sizeof e.id, "w%d-%d", w->id, i);
        if (store_run(st, insert_event, &e)) w->failures++;
    }
    return NULL;
}

Test(store, batches_under_concurrency)
{
    enum { T = 32, N = 100 };
    pthread_t th[T];
    struct worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){i, N, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(w[i].failures, 0);
    }
    store_stats_t s;
    store_stats(st, &s);
    cr_expect_eq(s.units, T * N, "units %llu", (unsigned long long)s.units);
    cr_expect_lt(s.commits, s.units, "commits %llu for %llu units: no batching",
                 (unsigned long long)s.commits, (unsigned long long)s.units);
    cr_expect_gt(s.batch_max_seen, 1, "largest batch %llu", (unsigned long long)s.batch_max_seen);
    cr_expect_eq(count_events_fresh(dbpath), T * N);
}

/* Units that fail (constraint) between good ones in the same batch roll back
 * alone. */
struct mixed {
    struct ev e;
    int rc;
    atomic_int *ndone;
};

static void done_mixed(void *arg, int rc)
{
    struct mixed *m = arg;
    m->rc = rc;
    atomic_fetch_add(m->ndone, 1);
}

static int fail_after_write(store_conn *tx, void *arg)
{
    int rc = insert_event(tx, arg);
    return rc ? rc : ORD_ECONDITION; /* wrote, then refuses: must leave nothing */
}

Test(store, failing_unit_does_not_fail_neighbours)
{
    enum { N = 300 };
    static struct mixed m[N];
    atomic_int ndone = 0;
    struct ev seed = {.id = "dup"};
    cr_assert_eq(store_run(st, insert_event, &seed), 0);
    for (int i = 0; i < N; i++) {
        m[i].ndone = &ndone;
        if (i % 3 == 0)
            snprintf(m[i].e.id, sizeof m[i].e.id, "dup"); /* constraint violation */
        else
            snprintf(m[i].e.id, sizeof m[i].e.id, "m%d", i);
        store_unit_fn fn = i % 3 == 2 ? fail_after_write : insert_event;
        cr_assert_eq(store_submit(st, fn, done_mixed, &m[i]), 0);
    }
    while (atomic_load(&ndone) < N) usleep(1000);
    int good = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            cr_expect_eq(m[i].rc, ORD_ECONFLICT, "unit %d: %s", i, err_name(m[i].rc));
        else if (i % 3 == 2)
            cr_expect_eq(m[i].rc, ORD_ECONDITION, "unit %d: %s", i, err_name(m[i].rc));
        else {
            cr_expect_eq(m[i].rc, 0, "unit %d: %s", i, err_name(m[i].rc));
            good++;
        }
    }
    cr_expect_eq(count_events_fresh(dbpath), 1 + good, "rows %lld, want %d",
                 (long long)count_events_fresh(dbpath), 1 + good);
}

static atomic_int hook_committed, hook_rolled;

static void hook(void *arg, int committed)
{
    atomic_fetch_add(committed ? &hook_committed : &hook_rolled, 1);
}

static int with_hook(store_conn *tx, void *arg)
{
    store_after_commit(tx, hook, arg);
    return *(int *)arg;
}

Test(store, after_commit_hooks)
{
    int ok = 0, fail = ORD_ECONDITION;
    cr_assert_eq(store_run(st, with_hook, &ok), 0);
    cr_assert_eq(store_run(st, with_hook, &fail), ORD_ECONDITION);
    cr_expect_eq(atomic_load(&hook_committed), 1);
    cr_expect_eq(atomic_load(&hook_rolled), 1);
}

Test(store, pending_limit_gives_busy)
{
    store *small;
    store_opts o = {.path = test_db_path("small.db"), .pending_max = 1, .batch_max = 1};
    cr_assert_eq(store_open(&small, &o), 0);
    static struct ev e[64];
    int busy = 0, ok = 0;
    for (int i = 0; i < 64; i++) {
        snprintf(e[i].id, sizeof e[i].id, "b%d", i);
        int rc = store_submit(small, insert_event, NULL, &e[i]);
        if (rc == ORD_EBUSY) busy++;
        else if (rc == 0) ok++;
    }
    store_close(small);
    cr_expect_gt(busy, 0, "no ORD_EBUSY with pending_max 1 (ok %d)", ok);
    cr_expect_gt(ok, 0);
}

Test(store, close_runs_pending_units)
{
    static struct ev e[500];
    store *s2;
    char p[512];
    snprintf(p, sizeof p, "%s", test_db_path("close.db"));
    store_opts o = {.path = p};
    cr_assert_eq(store_open(&s2, &o), 0);
    for (int i = 0; i < 500; i++) {
        snprintf(e[i].id, sizeof e[i].id, "z%d", i);
        cr_assert_eq(store_submit(s2, insert_event, NULL, &e[i]), 0);
    }
    store_close(s2);
    cr_expect_eq(count_events_fresh(p), 500);
}

static _Atomic uint64_t counted;

static int count_unit(store_conn *tx, void *arg)
{
    store_count_after_commit(tx, &counted, 2);
    store_count_after_commit(tx, &counted, 3); /* merges with the previous one */
    return *(int *)arg;
}

Test(store, counters_only_count_committed_units)
{
    int ok = 0, fail = ORD_ECONDITION;
    cr_assert_eq(store_run(st, count_unit, &ok), 0);
    cr_expect_eq(atomic_load(&counted), 5);
    cr_assert_eq(store_run(st, count_unit, &fail), ORD_ECONDITION);
    cr_expect_eq(atomic_load(&counted), 5, "a rolled-back unit added %llu",
                 (unsigned long long)(atomic_load(&counted) - 5));
}

static int probe(store_conn *tx, void *arg)
{
    (void)arg;
    return store_probe_tx(tx);
}

static int write_failed(void)
{
    store_stats_t ss;
    store_stats(st, &ss);
    return ss.write_failed;
}

/* A full disk, made real with RLIMIT_FSIZE (SIGXFSZ ignored: write(2) then
 * fails with EFBIG): the probe's commit fails and says so; once writes work
 * again store_probe() finds out without any other write. */
Test(store, probe_reports_a_failed_write_and_the_recovery)
{
    if (test_pg()) cr_skip_test("SQLite: a full disk under the process (PostgreSQL: lost_connection_*)");
    int64_t t1 = 0, t2 = 0;
    cr_assert_eq(store_run(st, probe, NULL), 0);
    cr_assert_eq(store_probe_read(st, &t1), 0);
    cr_assert_gt(t1, 0);
    cr_assert_eq(write_failed(), 0);

    struct rlimit old, tiny;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    tiny = (struct rlimit){1, old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    int rc = store_run(st, probe, NULL); /* in the same millisecond as the first, often */
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    cr_assert_eq(rc, ORD_EUNAVAILABLE, "probe on a full disk: %s", err_name(rc));
    cr_assert_eq(write_failed(), 1);
    cr_assert_eq(store_probe_read(st, &t2), 0);
    cr_assert_eq(t2, t1, "a failed probe left no row");

    store_probe(st);
    for (int i = 0; i < 2000 && write_failed(); i++) usleep(1000);
    cr_assert_eq(write_failed(), 0, "store_probe did not notice the recovery");
    cr_assert_eq(store_probe_read(st, &t2), 0);
    cr_assert_geq(t2, t1);
    struct ev e = {.id = "after-recovery"};
    cr_assert_eq(store_run(st, insert_event, &e), 0, "writes work again");
}

/* A chunk that always reports a full chunk: the sweep stops after
 * LIMIT_SWEEP_CHUNKS units all the same. */
static int full_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    (void)tx;
    (*(int *)arg)++;
    *n = limit;
    return 0;
}

static int short_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    (void)tx;
    int *calls = arg;
    *n = ++*calls == LIMIT_SWEEP_CHUNKS ? limit - 1 : limit; /* the last one short */
    return 0;
}

Test(store, sweep_runs_at_most_limit_chunks_per_call)
{
    int calls = 0;
    int64_t total = 0;
    cr_assert_eq(store_sweep(st, full_chunk, &calls, 10, &total), 0);
    cr_assert_eq(calls, LIMIT_SWEEP_CHUNKS, "units of one call: at the limit, not one more");
    cr_assert_eq(total, 10 * LIMIT_SWEEP_CHUNKS);
    calls = 0;
    cr_assert_eq(store_sweep(st, short_chunk, &calls, 10, &total), 0);
    cr_assert_eq(calls, LIMIT_SWEEP_CHUNKS, "a short chunk ends it");
    cr_assert_eq(total, 10 * LIMIT_SWEEP_CHUNKS - 1);
}

Test(store, urls_are_logged_without_their_password)
{
    char out[256];
    store_path_redact("postgresql://app:s3cret@db.example:5432/orderly?sslmode=require", out, sizeof out);
    cr_expect_str_eq(out, "postgresql://app:***@db.example:5432/orderly?sslmode=require");
    store_path_redact("postgres://db/orderly?user=app&password=s3cret&sslmode=require", out, sizeof out);
    cr_expect_str_eq(out, "postgres://db/orderly?user=app&password=***&sslmode=require");
    store_path_redact("postgres://app@db/orderly", out, sizeof out);
    cr_expect_str_eq(out, "postgres://app@db/orderly");
    store_path_redact("data/dev.db", out, sizeof out);
    cr_expect_str_eq(out, "data/dev.db");
    store_path_redact("postgres://a:b@h/d", out, 8);
    cr_expect_str_eq(out, "postgre");
}

/* PostgreSQL: the writer's connection is cut (pg_terminate_backend, as a
 * database restart or a network fault would): the batch fails with
 * ORD_EUNAVAILABLE (503, nothing acknowledged), units are refused at once while
 * the store is down, the writer reconnects with backoff, and a probe finds
 * writes working again. */
Test(store, lost_connection_refuses_then_recovers)
{
    if (!test_pg()) cr_skip_test("PostgreSQL only");
    struct ev e = {.id = "before"};
    cr_assert_eq(store_run(st, insert_event, &e), 0);
    cr_assert_eq(test_db_scalar(dbpath, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE application_name = 'orderly-writer' AND pid <> pg_backend_pid() "
                                         "AND query NOT LIKE '%pg_terminate_backend%') t"),
                 1, "one writer connection terminated");
    struct ev lost = {.id = "lost"};
    int rc = store_run(st, insert_event, &lost);
    cr_assert_eq(rc, ORD_EUNAVAILABLE, "the unit on the lost connection: %s", err_name(rc));
    store_stats_t ss;
    store_stats(st, &ss);
    cr_assert_eq(ss.write_failed, 1);
    /* until the writer is back, units are refused without waiting */
    int refused = 0, ok = 0;
    for (int i = 0; i < 400 && !ok; i++) {
        struct ev x;
        snprintf(x.id, sizeof x.id, "after-%d", i);
        rc = store_run(st, insert_event, &x);
        if (rc == ORD_EUNAVAILABLE) refused++;
        else if (rc == 0) ok = 1;
        else cr_assert_fail("unexpected %s", err_name(rc));
        if (!ok) usleep(10000);
    }
    cr_expect_gt(refused, 0, "no unit was refused while down");
    cr_assert(ok, "the writer did not reconnect");
    store_probe(st);
    for (int i = 0; i < 2000 && write_failed(); i++) usleep(1000);
    cr_assert_eq(write_failed(), 0, "probe did not notice the recovery");
    store_stats(st, &ss);
    cr_expect_geq(ss.reconnects, 1);
    cr_expect_eq(count_events_fresh(dbpath), 2, "before + the first after: the lost unit left nothing");
}

/* A unit whose statement violates a CHECK, in one batch between good units:
 * it fails alone with ORD_ECONFLICT, also when the statement's outcome is
 * only learnt at the end of the unit (PostgreSQL sends ITEM_INSERT without
 * waiting: store_exec says 0 and the unit returns 0 as if it had worked). */
struct bad_item {
    struct ev e;
    int n; /* the item's order_seq */
    int bad;
    int rc;
    atomic_int *ndone;
};

static int item_unit(store_conn *tx, void *arg)
{
    struct bad_item *b = arg;
    int rc = insert_event(tx, &b->e);
    if (rc) return rc;
    store_stmt *s = store_prep(tx, ST_ITEM_INSERT);
    store_bind_i64(s, 1, b->n);
    store_bind_i64(s, 2, 0);
    store_bind_str(s, 3, "sku");
    store_bind_i64(s, 4, b->bad ? 0 : 1); /* qty > 0 is a CHECK */
    store_bind_null(s, 5);
    return store_exec(s); /* 0 on PostgreSQL even for the bad one: deferred */
}

static void item_done(void *arg, int rc)
{
    struct bad_item *b = arg;
    b->rc = rc;
    atomic_fetch_add(b->ndone, 1);
}

Test(store, a_failed_statement_fails_its_unit_even_when_learnt_late)
{
    enum { N = 60 };
    static struct bad_item b[N];
    atomic_int ndone = 0;
    for (int i = 0; i < N; i++) {
        snprintf(b[i].e.id, sizeof b[i].e.id, "item-%d", i);
        b[i].n = i + 1;
        b[i].bad = i % 4 == 1;
        b[i].ndone = &ndone;
        cr_assert_eq(store_submit(st, item_unit, item_done, &b[i]), 0);
    }
    while (atomic_load(&ndone) < N) usleep(1000);
    int good = 0;
    for (int i = 0; i < N; i++) {
        if (b[i].bad) {
            cr_expect_eq(b[i].rc, ORD_ECONFLICT, "unit %d: %s", i, err_name(b[i].rc));
        } else {
            cr_expect_eq(b[i].rc, 0, "unit %d: %s", i, err_name(b[i].rc));
            good++;
        }
    }
    cr_expect_eq(count_events_fresh(dbpath), good, "the failed units left no event");
    cr_expect_eq(test_db_scalar(dbpath, "SELECT count(*) FROM order_items"), good, "nor an item");
}

/* The two texts of every statement take the same parameters and give the
 * same columns: each is prepared on a migrated database of its backend
 * (SQLite here, PostgreSQL from the test's cluster) and the counts compared,
 * the writer's PostgreSQL texts too.  A statement added to one backend with
 * other columns fails here. */
Test(store, backends_agree_on_parameters_and_columns)
{
    if (!test_pg()) cr_skip_test("needs both backends: runs as unit-pg.test_store");
    char sq_path[512];
    snprintf(sq_path, sizeof sq_path, "%s", test_db_path_sqlite("cat.db"));
    store *sq;
    store_opts o = {.path = sq_path};
    cr_assert_eq(store_open(&sq, &o), 0);
    store_close(sq);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(sq_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    PGconn *pg = PQconnectdb(dbpath); /* migrated by setup's store_open */
    cr_assert_eq(PQstatus(pg), CONNECTION_OK, "%s", PQerrorMessage(pg));
    for (int i = 0; i < ST__COUNT; i++) {
        if (i == ST_BEGIN || i == ST_COMMIT || i == ST_ROLLBACK || i == ST_SAVEPOINT || i == ST_RELEASE ||
            i == ST_ROLLBACK_TO)
            continue; /* transaction control: no rows, no parameters */
        sqlite3_stmt *q = NULL;
        cr_assert_eq(sqlite3_prepare_v2(db, sqlite_sql[i], -1, &q, NULL), SQLITE_OK, "SQLite %d: %s", i,
                     sqlite3_errmsg(db));
        int sq_cols = sqlite3_column_count(q), sq_params = sqlite3_bind_parameter_count(q);
        sqlite3_finalize(q);
        const char *texts[2] = {pg_sql[i], pg_sql_writer[i]};
        for (int k = 0; k < 2; k++) {
            if (!texts[k]) continue;
            char name[16];
            snprintf(name, sizeof name, "c%d_%d", i, k);
            PGresult *r = PQprepare(pg, name, texts[k], 0, NULL);
            cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "PostgreSQL %d: %s", i, PQresultErrorMessage(r));
            PQclear(r);
            r = PQdescribePrepared(pg, name);
            /* read with store_insert: PostgreSQL's text returns the key, SQLite gives its row id */
            int key = i == ST_ORDER_INSERT;
            cr_expect_eq(PQnfields(r), sq_cols + key, "statement %d: %d columns on PostgreSQL, %d on SQLite (%s)", i,
                         PQnfields(r), sq_cols, texts[k]);
            cr_expect_eq(PQnparams(r), sq_params, "statement %d: %d parameters on PostgreSQL, %d on SQLite", i,
                         PQnparams(r), sq_params);
            PQclear(r);
        }
    }
    PQfinish(pg);
    sqlite3_close(db);
}

/* ---- follow-ups: run to completion ------------------------------------------- */

/* A follow-up that inserts its event and counts how it completed. */
struct follow {
    struct ev e;
    char recover_id[32]; /* with a recovery that inserts this id */
    int failed_with;     /* the rc the recovery was given */
    int ran, rc, ndone;
    int64_t commits_at_done; /* the store's commits when its done ran */
};

static int follow_unit(store_conn *tx, void *arg)
{
    struct follow *f = arg;
    f->ran = 1;
    return insert_event(tx, &f->e);
}

static void follow_done(void *arg, int rc)
{
    struct follow *f = arg;
    store_stats_t s;
    store_stats(st, &s);
    f->rc = rc;
    f->commits_at_done = (int64_t)s.commits;
    __atomic_store_n(&f->ndone, f->ndone + 1, __ATOMIC_SEQ_CST); /* last: the test reads the rest after it */
}

/* A producer: inserts its own event, adds nf follow-ups, then returns rc. */
struct producer {
    struct ev e;
    struct follow *f;
    int nf, rc;
    int deferred; /* follow-ups store_follow_tx sent to the next batch */
};

static int follow_recover(store_conn *tx, void *arg, int rc);

static int producer_unit(store_conn *tx, void *arg)
{
    struct producer *p = arg;
    int rc = insert_event(tx, &p->e);
    for (int i = 0; !rc && i < p->nf; i++) {
        rc = store_follow_tx(tx, follow_unit, p->f[i].recover_id[0] ? follow_recover : NULL, follow_done, &p->f[i]);
        if (rc == 1) p->deferred++;
        if (rc > 0) rc = 0;
    }
    return rc ? rc : p->rc;
}

/* The recovery of a failed follow-up: inserts recover_id (a duplicate id
 * makes it fail too). */
static int follow_recover(store_conn *tx, void *arg, int rc)
{
    struct follow *f = arg;
    f->failed_with = rc;
    struct ev e;
    snprintf(e.id, sizeof e.id, "%s", f->recover_id);
    return insert_event(tx, &e);
}

static int64_t commits(void)
{
    store_stats_t s;
    store_stats(st, &s);
    return (int64_t)s.commits;
}

Test(store, follow_up_commits_with_its_producer)
{
    struct follow f = {.e = {.id = "f1"}};
    struct producer p = {.e = {.id = "p1"}, .f = &f, .nf = 1};
    int64_t c0 = commits();
    cr_assert_eq(store_run(st, producer_unit, &p), 0);
    /* store_run returned: the producer's batch committed, and with it the
     * follow-up, which ran in the same transaction */
    cr_expect_eq(count_events_fresh(dbpath), 2, "producer and follow-up rows committed together");
    cr_expect_eq(commits() - c0, 1, "one commit for both");
    while (!__atomic_load_n(&f.ndone, __ATOMIC_SEQ_CST)) usleep(1000);
    cr_expect_eq(f.rc, 0);
    cr_expect_eq(f.ndone, 1, "done once");
    store_stats_t s;
    store_stats(st, &s);
    cr_expect_eq(s.follow_units, 1);
    cr_expect_eq(s.follow_deferred, 0);
}

Test(store, follow_up_of_a_rolled_back_unit_never_runs)
{
    struct follow f = {.e = {.id = "f2"}};
    struct producer p = {.e = {.id = "p2"}, .f = &f, .nf = 1, .rc = ORD_ECONDITION};
    cr_assert_eq(store_run(st, producer_unit, &p), ORD_ECONDITION);
    cr_expect_eq(f.ran, 0, "the follow-up did not run");
    cr_expect_eq(f.ndone, 1, "its done was called once");
    cr_expect_eq(f.rc, ORD_ECONDITION, "with the producer's error");
    cr_expect_eq(count_events_fresh(dbpath), 0, "nothing written");
}

Test(store, failing_follow_up_rolls_back_alone)
{
    struct follow f = {.e = {.id = "dup"}}; /* same id as the producer's: a constraint violation */
    struct producer p = {.e = {.id = "dup"}, .f = &f, .nf = 1};
    cr_assert_eq(store_run(st, producer_unit, &p), 0);
    while (!__atomic_load_n(&f.ndone, __ATOMIC_SEQ_CST)) usleep(1000);
    cr_expect_eq(f.ran, 1);
    cr_expect_eq(f.rc, ORD_ECONFLICT, "the follow-up failed: %s", err_name(f.rc));
    cr_expect_eq(count_events_fresh(dbpath), 1, "the producer's row is kept");
}

/* Past LIMIT_STORE_FOLLOW_MAX follow-ups in one batch, the rest run in the
 * next batch, after the commit (and ahead of other pending work). */
Test(store, follow_ups_past_the_batch_share_run_in_the_next_batch)
{
    enum { EXTRA = 3, N = LIMIT_STORE_FOLLOW_MAX + EXTRA };
    static struct follow f[N];
    memset(f, 0, sizeof f);
    for (int i = 0; i < N; i++) snprintf(f[i].e.id, sizeof f[i].e.id, "fl%d", i);
    struct producer p = {.e = {.id = "pl"}, .f = f, .nf = N};
    int64_t c0 = commits();
    cr_assert_eq(store_run(st, producer_unit, &p), 0);
    for (int i = 0; i < N; i++)
        while (!__atomic_load_n(&f[i].ndone, __ATOMIC_SEQ_CST)) usleep(1000);
    int same = 0, later = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_eq(f[i].rc, 0, "follow-up %d: %s", i, err_name(f[i].rc));
        if (f[i].commits_at_done == c0 + 1)
            same++;
        else
            later++;
    }
    cr_expect_eq(same, LIMIT_STORE_FOLLOW_MAX, "the batch took its share");
    cr_expect_eq(later, EXTRA, "the rest in the next batch");
    cr_expect_eq(p.deferred, EXTRA, "store_follow_tx said which go to the next batch");
    cr_expect_eq(count_events_fresh(dbpath), 1 + N);
    store_stats_t s;
    store_stats(st, &s);
    cr_expect_eq(s.follow_deferred, EXTRA);
}

Test(store, failed_follow_up_is_recovered_in_the_same_transaction)
{
    struct follow f = {.e = {.id = "dup3"}, .recover_id = "kept3"}; /* fails: the producer's id */
    struct producer p = {.e = {.id = "dup3"}, .f = &f, .nf = 1};
    cr_assert_eq(store_run(st, producer_unit, &p), 0);
    while (!__atomic_load_n(&f.ndone, __ATOMIC_SEQ_CST)) usleep(1000);
    cr_expect_eq(f.failed_with, ORD_ECONFLICT, "the recovery got the failure");
    cr_expect_eq(f.rc, 0, "done gets the recovery's rc");
    cr_expect_eq(count_events_fresh(dbpath), 2, "the producer's row and the recovery's");
    cr_expect_eq(test_db_scalar(dbpath, "SELECT count(*) FROM events WHERE id='kept3'"), 1);
}

Test(store, failed_recovery_fails_the_whole_batch)
{
    struct follow f = {.e = {.id = "dup4"}, .recover_id = "dup4"}; /* the recovery fails too */
    struct producer p = {.e = {.id = "dup4"}, .f = &f, .nf = 1};
    int rc = store_run(st, producer_unit, &p);
    cr_expect_eq(rc, ORD_EUNAVAILABLE, "the producer's commit did not happen: %s", err_name(rc));
    while (!__atomic_load_n(&f.ndone, __ATOMIC_SEQ_CST)) usleep(1000);
    cr_expect_lt(f.rc, 0);
    cr_expect_eq(count_events_fresh(dbpath), 0, "nothing committed without the recovery");
    /* the writer goes on */
    struct ev e = {.id = "after4"};
    cr_expect_eq(store_run(st, insert_event, &e), 0);
}

/* ---- admission control ------------------------------------------------------ */

static atomic_int gate_open, gate_entered;

/* Holds the writer until the gate opens. */
static int gate_unit(store_conn *tx, void *arg)
{
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open)) usleep(1000);
    return 0;
}

static int nop_unit(store_conn *tx, void *arg)
{
    return 0;
}

static atomic_int nop_done;

static void count_done(void *arg, int rc)
{
    atomic_fetch_add(&nop_done, 1);
}

Test(store, admission_refuses_while_the_backlog_is_over_budget_and_recovers)
{
    store *s;
    store_opts o = {.path = test_db_path("admit.db"), .admission_ms = 1};
    cr_assert_eq(store_open(&s, &o), 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(store_run(s, nop_unit, NULL), 0); /* the writer learns its pace */
    store_stats_t st0;
    store_stats(s, &st0);
    cr_assert_gt(st0.unit_cost_us, 0, "a unit's cost is measured (commit included)");
    cr_expect_eq(store_admit(s), 0, "nothing queued: admitted");
    /* the writer is busy: work piles up in its queue */
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&nop_done, 0);
    cr_assert_eq(store_submit(s, gate_unit, count_done, NULL), 0);
    while (!atomic_load(&gate_entered)) usleep(1000);
    int queued = 0;
    while (store_backlog_us(s) <= 1000) {
        cr_assert_eq(store_submit(s, nop_unit, count_done, NULL), 0);
        queued++;
    }
    cr_expect_eq(store_admit(s), ORD_EBUSY, "over 1 ms of work queued (%d units): refused", queued);
    cr_expect_eq(store_admit(s), ORD_EBUSY);
    store_stats_t st1;
    store_stats(s, &st1);
    cr_expect_eq(st1.refused - st0.refused, 2, "refusals counted");
    cr_expect_gt(st1.backlog_us, 1000);
    /* the writer catches up: admitted again */
    atomic_store(&gate_open, 1);
    while (atomic_load(&nop_done) < queued + 1) usleep(1000);
    cr_expect_eq(store_backlog_us(s), 0);
    cr_expect_eq(store_admit(s), 0, "admitted once the queue drained");
    store_close(s);
}

Test(store, admission_off_never_refuses)
{
    store *s;
    store_opts o = {.path = test_db_path("admit0.db"), .admission_ms = 0};
    cr_assert_eq(store_open(&s, &o), 0);
    cr_assert_eq(store_run(s, nop_unit, NULL), 0);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    cr_assert_eq(store_submit(s, gate_unit, NULL, NULL), 0);
    while (!atomic_load(&gate_entered)) usleep(1000);
    for (int i = 0; i < 200; i++) cr_assert_eq(store_submit(s, nop_unit, NULL, NULL), 0);
    cr_expect_gt(store_backlog_us(s), 0);
    cr_expect_eq(store_admit(s), 0, "admission control off");
    atomic_store(&gate_open, 1);
    store_close(s);
}
