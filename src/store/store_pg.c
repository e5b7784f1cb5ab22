/* store_pg.c - the PostgreSQL backend of store.h (see backend.h), on libpq.
 *
 * DESIGN
 * Connections.  The writer's connection runs the group-committed batches
 * of store.c (BEGIN, SAVEPOINT u per unit, COMMIT with synchronous_commit
 * on); it has every catalog statement prepared at connect, and an
 * idle_in_transaction_session_timeout so that a node stopped mid-batch
 * (SIGSTOP) loses its transaction and row locks instead of blocking the
 * other nodes.  Readers are per-thread autocommit connections (read-only
 * transactions), statements prepared on first use.  A lost connection makes
 * a statement fail with ORD_EUNAVAILABLE (503); the writer's is restored by
 * store.c's reconnect loop, a reader's on its next statement (at most every
 * LIMIT_STORE_RECONNECT_MS_MIN).
 *
 * Statements.  Parameters travel in binary where the prepared statement's
 * parameter type allows it (int8/int4/int2, text-like types, bytea: no
 * copy of text or bodies), otherwise as text.  Results come back in binary
 * and are decoded by column type.  A PostgreSQL error inside a unit spoils
 * its savepoint: the unit then fails as a whole (unit_end), like a unit
 * returning an error.  Inserts that may collide are ON CONFLICT DO NOTHING
 * in pg_sql.c and answer ORD_ECONFLICT when they change nothing, as SQLite
 * does, without spoiling anything.
 *
 * Several nodes.  A service thread owns one more connection and does three
 * things: (1) LISTEN orderly: other nodes' NOTIFYs become
 * store_signal_dispatch calls (a node ignores its own); (2) NOTIFY: the
 * signals of this node's commits, deduplicated and sent at most every
 * LIMIT_PG_NOTIFY_INTERVAL_MS, after COMMIT and from this thread, so the
 * NOTIFY queue lock is never taken inside the writer's transactions; (3)
 * leadership: pg_try_advisory_lock on this session; the session has an
 * idle_session_timeout of LIMIT_PG_LEADER_LEASE_MS and is pinged every
 * LIMIT_PG_PING_MS, so when the leader dies or stops its lock is released
 * and another node takes it within a ping.  Every LIMIT_PG_POLL_FALLBACK_MS
 * it dispatches (STORE_TOPIC_QUEUE, -1): long polls re-check what no
 * NOTIFY announces (another node's visibility timeouts and delays).
 *
 * Migrations run at open inside a transaction holding an advisory lock, so
 * nodes starting together apply each once.
 *
 * THREAD SAFETY
 * A connection is used by one thread at a time (store.h); the service
 * connection only by the service thread.  ps->mu guards the outgoing
 * signals and the service thread's state.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "lib/limits.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "obs/log.h"
#include "store/backend.h"
#include "store/migrate.h"
#include "store/pg_sql.h"

/* type OIDs (catalog/pg_type_d.h, which libpq does not install) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_JSON 114
#define OID_UNKNOWN 705
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043

#define MIGRATE_LOCK_KEY 0x6f72646c6d696772LL /* "ordlmigr": migrations, one node at a time */
#define SCHEMA_NAME_MAX 63                    /* NAMEDATALEN - 1 */
#define NODE_ID_LEN 16

typedef struct pg_conn pg_conn;

typedef struct pg_stmt {
    store_stmt base;
    store_stmt_id id;
    int prepared; /* on the connection's current generation */
    int gen;
    int nparams;
    Oid ptypes[LIMIT_PG_PARAMS_MAX];
    const char *vals[LIMIT_PG_PARAMS_MAX];
    int lens[LIMIT_PG_PARAMS_MAX];
    int fmts[LIMIT_PG_PARAMS_MAX];
    char ibuf[LIMIT_PG_PARAMS_MAX][24]; /* integers, binary or text */
    char *copies[LIMIT_PG_PARAMS_MAX];  /* text-format copies (freed at the next prep) */
    PGresult *res;
    int executed, row, nrows;
    char scratch[LIMIT_PG_COLUMNS_MAX][24]; /* an integer column read as text */
} pg_stmt;

struct pg_conn {
    store_conn base;
    PGconn *pg;
    int gen;            /* bumped at every (re)connect: statements prepare again */
    int broken;         /* the connection is lost */
    int failed;         /* writer: a statement failed in this unit (its savepoint is spoiled) */
    int64_t retry_ms;   /* reader: next reconnect attempt (monotonic) */
    int64_t changes;    /* rows changed by the last write statement */
    uint64_t changes_total;
    /* writer, in libpq pipeline mode: queries sent whose results are not
     * read yet (their catalog ids, in order), how many of them are the
     * current unit's deferred statements, and the first error among them */
    int pipeline;
    int *pend;
    int npend, cappend, pend_stmts;
    int perr, need_sync;
    uint64_t round_trips, statements; /* for the log line at close */
    int inv_locked;     /* writer: this transaction holds the inventory lock */
    int inv_unit;       /* writer: ... taken by the current unit (a rollback to its savepoint drops it) */
    uint64_t inv_waits; /* writer: batches that took the inventory lock (for the log line at close) */
    pg_stmt stmts[ST__COUNT];
};

typedef struct pg_store {
    char *url;
    char node[NODE_ID_LEN + 1]; /* this process, in NOTIFY payloads */
    /* nodes share a schema (the URL's search_path, else public): the
     * channel and the leader lock are per schema, so environments kept in
     * schemas of one database are independent */
    char channel[SCHEMA_NAME_MAX + 16];
    int64_t leader_key;
    char inventory_key[24]; /* the inventory lock (pg_sql_inventory), per schema too */
    store *s;
    pthread_t thread;
    int thread_started;
    int wake_fd; /* eventfd: wakes the service thread */
    pthread_mutex_t mu;
    int closing;
    store_signal out[LIMIT_PG_SIGNALS_MAX]; /* signals waiting for the next NOTIFY */
    int nout, out_all;
    _Atomic int leader;
} pg_store;

#define PC(c) ((pg_conn *)(c))
#define PS(st) ((pg_stmt *)(st))
#define PIPELINE_DEFER_MAX 256 /* deferred statements sent before the writer reads their results */

static int result_error(pg_conn *c, pg_stmt *st, PGresult *r);
static int w_lock_inventory(pg_conn *c);
static void w_resync_read(pg_conn *c);

/* The writer uses pipeline mode unless ORDERLY_PG_PIPELINE=0 (a diagnostic:
 * docs/operations.md compares the two). */
static int pipeline_wanted(void)
{
    const char *v = getenv("ORDERLY_PG_PIPELINE");
    return !(v && !strcmp(v, "0"));
}

/* ---- connections ------------------------------------------------------- */

static int conn_lost(PGconn *pg)
{
    return !pg || PQstatus(pg) == CONNECTION_BAD;
}

/* Runs a command; 0 or ORD_ESTORE/ORD_EUNAVAILABLE (logged unless quiet). */
static int exec_cmd(PGconn *pg, const char *sql, int quiet)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType t = PQresultStatus(r);
    int rc = 0;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        rc = conn_lost(pg) ? ORD_EUNAVAILABLE : ORD_ESTORE;
        if (!quiet) log_error("store", "statement failed", "sql", sql, "error", PQerrorMessage(pg), NULL);
    }
    PQclear(r);
    return rc;
}

/* Server notices ("relation already exists, skipping") are not errors. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    log_debug("store", "database notice", "notice", msg, NULL);
}

/* One connection attempt with the session settings of its role. */
static PGconn *connect_db(const char *url, const char *role, int quiet)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", LIMIT_PG_CONNECT_TIMEOUT_S);
    /* ours first: what the URL says wins.  No GSSAPI encryption unless the
     * URL asks for it: its negotiation costs a round trip per connection
     * and Kerberos' library state does not survive every fork/exit order */
    const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "gssencmode", "dbname", NULL};
    char app[64];
    snprintf(app, sizeof app, "orderly-%s", role);
    const char *vals[] = {timeout, app, "UTF8", "disable", url, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        if (!quiet) log_warn("store", "cannot connect to the database", "role", role, "error", PQerrorMessage(pg), NULL);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    return pg;
}

static void stmt_clear(pg_stmt *st)
{
    for (int i = 0; i < LIMIT_PG_PARAMS_MAX; i++) {
        free(st->copies[i]);
        st->copies[i] = NULL;
        st->vals[i] = NULL;
        st->lens[i] = 0;
        st->fmts[i] = 0;
    }
    if (st->res) PQclear(st->res);
    st->res = NULL;
    st->executed = 0;
    st->row = -1;
    st->nrows = 0;
}

static void pg_conn_close(store_conn *bc)
{
    pg_conn *c = PC(bc);
    if (!c) return;
    for (int i = 0; i < ST__COUNT; i++) stmt_clear(&c->stmts[i]);
    PQfinish(c->pg);
    free(c->pend);
    free(c->base.hooks);
    free(c);
}

/* Prepares statement id on c and learns its parameter types. */
static int stmt_prepare(pg_conn *c, pg_stmt *st)
{
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)st->id);
    const char *sql = c->base.writer && pg_sql_writer[st->id] ? pg_sql_writer[st->id] : pg_sql[st->id];
    PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
    ExecStatusType t = PQresultStatus(r);
    PQclear(r);
    if (t != PGRES_COMMAND_OK) {
        if (conn_lost(c->pg)) return ORD_EUNAVAILABLE;
        log_error("store", "prepare failed", "sql", sql, "error", PQerrorMessage(c->pg), NULL);
        CHECK(t == PGRES_COMMAND_OK); /* catalog SQL is code: a failure is a programmer error */
    }
    r = PQdescribePrepared(c->pg, name);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return conn_lost(c->pg) ? ORD_EUNAVAILABLE : ORD_ESTORE;
    }
    st->nparams = PQnparams(r);
    CHECK(st->nparams <= LIMIT_PG_PARAMS_MAX);
    CHECK(PQnfields(r) <= LIMIT_PG_COLUMNS_MAX);
    for (int i = 0; i < st->nparams; i++) st->ptypes[i] = PQparamtype(r, i);
    PQclear(r);
    st->prepared = 1;
    st->gen = c->gen;
    return 0;
}

/* Session settings and (writer) every statement prepared. */
static int conn_setup(pg_conn *c)
{
    char sql[160];
    int rc = 0;
    if (c->base.writer) {
        /* every 2xx durable: COMMIT waits for the WAL flush whatever the server default */
        snprintf(sql, sizeof sql,
                 "SET synchronous_commit = on; SET idle_in_transaction_session_timeout = %d; "
                 "SET statement_timeout = 0",
                 LIMIT_PG_IDLE_TX_MS);
        rc = exec_cmd(c->pg, sql, 0);
        for (int i = 0; !rc && i < ST__COUNT; i++)
            if (pg_sql[i]) rc = stmt_prepare(c, &c->stmts[i]);
        if (!rc) {
            PGresult *r = PQprepare(c->pg, "inventory_lock", "SELECT pg_advisory_xact_lock($1::bigint)", 0, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = conn_lost(c->pg) ? ORD_EUNAVAILABLE : ORD_ESTORE;
            PQclear(r);
        }
    } else {
        rc = exec_cmd(c->pg, "SET default_transaction_read_only = on", 0);
    }
    return rc;
}

static pg_conn *conn_new(store *s, int writer)
{
    pg_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.be = &store_backend_pg;
    c->base.s = s;
    c->base.writer = writer;
    for (int i = 0; i < ST__COUNT; i++) {
        c->stmts[i].base.c = &c->base;
        c->stmts[i].id = (store_stmt_id)i;
        c->stmts[i].row = -1;
    }
    return c;
}

/* Writer: after the setup, queries are sent without waiting (see w_*). */
static int pipeline_enter(pg_conn *c)
{
    c->npend = c->pend_stmts = c->perr = c->need_sync = 0;
    c->pipeline = 0;
    if (!pipeline_wanted()) return 0;
    if (!PQenterPipelineMode(c->pg)) {
        log_error("store", "cannot enter pipeline mode", "error", PQerrorMessage(c->pg), NULL);
        return ORD_ESTORE;
    }
    c->pipeline = 1;
    return 0;
}

/* (Re)connects c; 0, or ORD_EUNAVAILABLE with c->broken set. */
static int conn_connect(pg_conn *c, int quiet)
{
    pg_store *ps = store_backend_get(c->base.s);
    PQfinish(c->pg);
    c->gen++;
    c->broken = 1;
    c->pg = connect_db(ps->url, c->base.writer ? "writer" : "reader", quiet);
    if (!c->pg) return ORD_EUNAVAILABLE;
    int rc = conn_setup(c);
    if (!rc && c->base.writer) rc = pipeline_enter(c);
    if (rc) {
        PQfinish(c->pg);
        c->pg = NULL;
        return ORD_EUNAVAILABLE;
    }
    c->broken = 0;
    return 0;
}

static int pg_reader_open(store *s, store_conn **out)
{
    pg_conn *c = conn_new(s, 0);
    if (!c) return ORD_ENOMEM;
    /* a reader exists even while the database is down: its statements
     * answer ORD_EUNAVAILABLE and it reconnects on a later one */
    if (conn_connect(c, 0)) c->retry_ms = clock_mono_ms() + LIMIT_STORE_RECONNECT_MS_MIN;
    *out = &c->base;
    return 0;
}

/* ---- the writer's pipeline ----------------------------------------------
 *
 * BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO and the deferrable statements
 * (pg_sql_deferrable) are sent without waiting; a statement whose rows or
 * outcome the unit needs is sent, the output flushed, and every result
 * read in order up to its own.  So a unit costs one round trip per such
 * statement (plus one at its end when it ends with deferred ones), not one
 * per statement.  A failure makes the server skip everything up to the next
 * Sync: the writer then syncs at once, and the unit fails (its savepoint is
 * rolled back like any failed unit's).  COMMIT ends with a Sync. */

static void w_lost(pg_conn *c)
{
    c->broken = 1;
    c->npend = c->pend_stmts = 0;
    if (!c->perr) c->perr = ORD_EUNAVAILABLE;
}

static int w_grow(pg_conn *c)
{
    int cap = c->cappend ? c->cappend * 2 : 64;
    int *p = realloc(c->pend, (size_t)cap * sizeof *p);
    if (!p) return ORD_ENOMEM;
    c->pend = p;
    c->cappend = cap;
    return 0;
}

static int w_send(pg_conn *c, pg_stmt *st)
{
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)st->id);
    if (c->npend == c->cappend && w_grow(c)) return ORD_ENOMEM;
    if (!PQsendQueryPrepared(c->pg, name, st->nparams, st->vals, st->lens, st->fmts, 1)) {
        w_lost(c);
        return ORD_EUNAVAILABLE;
    }
    c->pend[c->npend++] = (int)st->id;
    c->statements++;
    return 0;
}

/* One query's result and the NULL that ends it; NULL when the connection
 * is lost. */
static PGresult *w_result(pg_conn *c)
{
    PGresult *r = PQgetResult(c->pg);
    if (!r) return NULL;
    if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(c->pg);
        if (end) PQclear(end); /* not expected: one result per query */
    }
    return r;
}

/* Reads the results of the queries sent (output already flushed); keeps
 * the last one in *last when last is not NULL.  Errors go to c->perr. */
static void w_collect(pg_conn *c, PGresult **last)
{
    for (int i = 0; i < c->npend; i++) {
        PGresult *r = w_result(c);
        if (!r) {
            w_lost(c);
            return;
        }
        ExecStatusType t = PQresultStatus(r);
        int id = c->pend[i];
        if (t == PGRES_FATAL_ERROR) {
            int rc = result_error(c, id >= 0 ? &c->stmts[id] : NULL, r);
            if (!c->perr) c->perr = rc;
            c->need_sync = 1;
            if (c->broken) {
                PQclear(r);
                w_lost(c);
                return;
            }
        } else if (t == PGRES_PIPELINE_ABORTED) {
            if (!c->perr) c->perr = ORD_ESTORE;
            c->need_sync = 1;
        } else if (t == PGRES_COMMAND_OK && id >= 0 && pg_sql_deferrable[id]) {
            c->changes_total += (uint64_t)atoll(PQcmdTuples(r));
        }
        if (last && i == c->npend - 1)
            *last = r;
        else
            PQclear(r);
    }
    c->npend = 0;
    c->pend_stmts = 0;
}

/* After a failure: a Sync, and everything up to it read. */
static void w_resync(pg_conn *c)
{
    if (c->broken) return;
    if (!PQpipelineSync(c->pg)) {
        w_lost(c);
        return;
    }
    w_resync_read(c);
}

/* Reads up to the result of a Sync already sent. */
static void w_resync_read(pg_conn *c)
{
    if (c->broken) return;
    for (int nulls = 0; nulls < 4;) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (conn_lost(c->pg)) break;
            nulls++;
            continue;
        }
        ExecStatusType t = PQresultStatus(r);
        PQclear(r);
        if (t == PGRES_PIPELINE_SYNC) {
            c->need_sync = 0;
            return;
        }
    }
    w_lost(c);
}

/* Flushes what was sent and reads every result (the last into *last). */
static void w_drain(pg_conn *c, PGresult **last)
{
    if (c->broken || !c->npend) return;
    if (!PQsendFlushRequest(c->pg) || PQflush(c->pg)) {
        w_lost(c);
        return;
    }
    c->round_trips++;
    w_collect(c, last);
    if (c->need_sync) w_resync(c);
}

/* ---- statements ------------------------------------------------------- */

static int stmt_ready(pg_conn *c, pg_stmt *st)
{
    return st->prepared && st->gen == c->gen;
}

static store_stmt *pg_prep(store_conn *bc, store_stmt_id id)
{
    pg_conn *c = PC(bc);
    pg_stmt *st = &c->stmts[id];
    CHECK(pg_sql[id] != NULL);
    stmt_clear(st);
    if (c->broken && !c->base.writer && clock_mono_ms() >= c->retry_ms) {
        if (conn_connect(c, 1)) c->retry_ms = clock_mono_ms() + LIMIT_STORE_RECONNECT_MS_MIN;
    }
    /* prepared before the binds: they depend on the parameter types */
    if (!c->broken && !stmt_ready(c, st) && stmt_prepare(c, st) == ORD_EUNAVAILABLE) {
        c->broken = 1;
        c->retry_ms = clock_mono_ms() + LIMIT_STORE_RECONNECT_MS_MIN;
    }
    return &st->base;
}

/* The type of parameter idx; 0 (unknown: sent as text) when the statement
 * could not be prepared (its step then fails). */
static Oid ptype(pg_stmt *st, int idx)
{
    CHECK(idx >= 1 && idx <= LIMIT_PG_PARAMS_MAX);
    if (!stmt_ready(PC(st->base.c), st) || idx > st->nparams) return 0;
    return st->ptypes[idx - 1];
}

static void pg_bind_i64(store_stmt *bst, int idx, int64_t v)
{
    pg_stmt *st = PS(bst);
    Oid t = ptype(st, idx);
    char *b = st->ibuf[idx - 1];
    int i = idx - 1;
    if (t == OID_INT8) {
        uint64_t be = htobe64((uint64_t)v);
        memcpy(b, &be, 8);
        st->lens[i] = 8;
        st->fmts[i] = 1;
    } else if (t == OID_INT4 && v >= INT32_MIN && v <= INT32_MAX) {
        uint32_t be = htobe32((uint32_t)(int32_t)v);
        memcpy(b, &be, 4);
        st->lens[i] = 4;
        st->fmts[i] = 1;
    } else {
        snprintf(b, sizeof st->ibuf[0], "%" PRId64, v);
        st->fmts[i] = 0;
    }
    st->vals[i] = b;
}

static int text_like(Oid t)
{
    return t == OID_TEXT || t == OID_VARCHAR || t == OID_BPCHAR || t == OID_NAME || t == OID_UNKNOWN ||
           t == OID_JSON || t == OID_BYTEA;
}

static void pg_bind_text(store_stmt *bst, int idx, const char *p, size_t len)
{
    pg_stmt *st = PS(bst);
    int i = idx - 1;
    if (text_like(ptype(st, idx))) { /* binary text is the bytes: no copy */
        st->vals[i] = p;
        st->lens[i] = (int)len;
        st->fmts[i] = 1;
        return;
    }
    free(st->copies[i]);
    st->copies[i] = malloc(len + 1);
    CHECK(st->copies[i] != NULL);
    memcpy(st->copies[i], p, len);
    st->copies[i][len] = 0;
    st->vals[i] = st->copies[i];
    st->fmts[i] = 0;
}

static void pg_bind_blob(store_stmt *bst, int idx, const void *p, size_t len)
{
    pg_stmt *st = PS(bst);
    int i = idx - 1;
    ptype(st, idx);
    st->vals[i] = len ? p : "";
    st->lens[i] = (int)len;
    st->fmts[i] = 1;
}

static void pg_bind_null(store_stmt *bst, int idx)
{
    pg_stmt *st = PS(bst);
    ptype(st, idx);
    st->vals[idx - 1] = NULL;
}

/* Maps a failed result to an error code; marks the connection. */
static int result_error(pg_conn *c, pg_stmt *st, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (c->base.writer) c->failed = 1;
    if (conn_lost(c->pg) || (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)))) {
        c->broken = 1;
        c->retry_ms = clock_mono_ms() + LIMIT_STORE_RECONNECT_MS_MIN;
        return ORD_EUNAVAILABLE;
    }
    if (state && !strncmp(state, "23", 2)) return ORD_ECONFLICT; /* integrity constraint */
    log_error("store", "step failed", "sql", st ? pg_sql[st->id] : "SELECT pg_advisory_xact_lock($1)", "error",
              PQerrorMessage(c->pg), "sqlstate", state ? state : "", NULL);
    return ORD_ESTORE;
}

/* Keeps a statement's successful result; STORE_DONE, or ORD_ECONFLICT for
 * an ON CONFLICT DO NOTHING that changed nothing. */
static int stmt_result(pg_conn *c, pg_stmt *st, PGresult *r)
{
    st->res = r;
    st->nrows = PQntuples(r);
    st->row = -1;
    const char *tag = PQcmdStatus(r);
    if (!strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) || !strncmp(tag, "DELETE", 6)) {
        c->changes = atoll(PQcmdTuples(r));
        c->changes_total += (uint64_t)c->changes;
        if (pg_sql_conflict_if_none[st->id] && c->changes == 0) return ORD_ECONFLICT;
    }
    return STORE_DONE;
}

/* Sends the inventory lock request ahead of the first inventory statement
 * of the batch (its result is read with that statement's). */
static int w_lock_inventory(pg_conn *c)
{
    pg_store *ps = store_backend_get(c->base.s);
    const char *vals[1] = {ps->inventory_key};
    if (c->npend == c->cappend && w_grow(c)) return ORD_ENOMEM;
    if (!PQsendQueryPrepared(c->pg, "inventory_lock", 1, vals, NULL, NULL, 1)) {
        w_lost(c);
        return ORD_EUNAVAILABLE;
    }
    c->pend[c->npend++] = -1;
    c->statements++;
    c->inv_locked = c->inv_unit = 1;
    c->inv_waits++;
    return 0;
}

/* The writer's step in pipeline mode (the first call of a statement). */
static int w_step(pg_conn *c, pg_stmt *st)
{
    int rc;
    if (pg_sql_inventory[st->id] && !c->inv_locked && (rc = w_lock_inventory(c))) return rc;
    rc = w_send(c, st);
    if (rc) return rc;
    if (pg_sql_deferrable[st->id]) { /* its outcome comes with the next read */
        c->pend_stmts++;
        c->changes = 0;
        if (c->npend >= PIPELINE_DEFER_MAX) w_drain(c, NULL);
        if (c->perr) c->failed = 1;
        return c->perr ? c->perr : STORE_DONE;
    }
    PGresult *r = NULL;
    w_drain(c, &r);
    if (c->perr) {
        c->failed = 1;
        PQclear(r);
        return c->perr;
    }
    return stmt_result(c, st, r);
}

static int pg_step(store_stmt *bst)
{
    pg_stmt *st = PS(bst);
    pg_conn *c = PC(st->base.c);
    if (!st->executed) {
        st->executed = 1;
        if (c->broken) return ORD_EUNAVAILABLE;
        if (c->failed) return ORD_ESTORE; /* the unit's savepoint is spoiled already */
        int rc;
        if (!stmt_ready(c, st)) return ORD_EUNAVAILABLE; /* pg_prep could not prepare it */
        if (c->pipeline && (rc = w_step(c, st)) != STORE_DONE) return rc;
        if (c->pipeline) goto rows;
        char name[16];
        snprintf(name, sizeof name, "s%d", (int)st->id);
        c->round_trips++;
        c->statements++;
        if (c->base.writer && pg_sql_inventory[st->id] && !c->inv_locked) { /* as w_lock_inventory */
            pg_store *ps = store_backend_get(c->base.s);
            const char *v[1] = {ps->inventory_key};
            PGresult *l = PQexecPrepared(c->pg, "inventory_lock", 1, v, NULL, NULL, 1);
            rc = PQresultStatus(l) == PGRES_TUPLES_OK ? 0 : result_error(c, NULL, l);
            PQclear(l);
            if (rc) return rc;
            c->inv_locked = c->inv_unit = 1;
            c->inv_waits++;
        }
        PGresult *r = PQexecPrepared(c->pg, name, st->nparams, st->vals, st->lens, st->fmts, 1);
        ExecStatusType t = PQresultStatus(r);
        if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
            rc = result_error(c, st, r);
            PQclear(r);
            /* a reader finds out that the database restarted when it next
             * reads: it reconnects and reads again at once (reads repeat
             * safely; the writer's units may not, they fail instead) */
            if (rc != ORD_EUNAVAILABLE || c->base.writer || conn_connect(c, 1) || stmt_prepare(c, st)) return rc;
            r = PQexecPrepared(c->pg, name, st->nparams, st->vals, st->lens, st->fmts, 1);
            t = PQresultStatus(r);
            if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
                rc = result_error(c, st, r);
                PQclear(r);
                return rc;
            }
        }
        if ((rc = stmt_result(c, st, r)) != STORE_DONE) return rc;
    }
rows:
    if (st->row + 1 < st->nrows) {
        st->row++;
        return STORE_ROW;
    }
    st->row = st->nrows;
    return STORE_DONE;
}

static const char *cell(pg_stmt *st, int col, int *len)
{
    CHECK(st->res && st->row >= 0 && st->row < st->nrows);
    CHECK(col >= 0 && col < PQnfields(st->res));
    if (PQgetisnull(st->res, st->row, col)) {
        *len = 0;
        return NULL;
    }
    *len = PQgetlength(st->res, st->row, col);
    return PQgetvalue(st->res, st->row, col);
}

static int64_t pg_col_i64(store_stmt *bst, int col)
{
    pg_stmt *st = PS(bst);
    int len;
    const char *v = cell(st, col, &len);
    if (!v) return 0;
    switch (PQftype(st->res, col)) {
    case OID_INT8: {
        uint64_t x;
        memcpy(&x, v, 8);
        return (int64_t)be64toh(x);
    }
    case OID_INT4:
    case OID_OID: {
        uint32_t x;
        memcpy(&x, v, 4);
        return (int64_t)(int32_t)be32toh(x);
    }
    case OID_INT2: {
        uint16_t x;
        memcpy(&x, v, 2);
        return (int64_t)(int16_t)be16toh(x);
    }
    case OID_BOOL: return v[0] != 0;
    default: return strtoll(v, NULL, 10); /* text holding a number */
    }
}

static const char *pg_col_text(store_stmt *bst, int col, size_t *len)
{
    pg_stmt *st = PS(bst);
    int n;
    const char *v = cell(st, col, &n);
    Oid t = PQftype(st->res, col);
    if (v && (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_OID || t == OID_BOOL)) {
        n = snprintf(st->scratch[col], sizeof st->scratch[col], "%" PRId64, pg_col_i64(bst, col));
        v = st->scratch[col];
    }
    if (len) *len = (size_t)n;
    return v; /* libpq ends every value with a NUL, binary ones too */
}

static const void *pg_col_blob(store_stmt *bst, int col, size_t *len)
{
    int n;
    const char *v = cell(PS(bst), col, &n);
    if (len) *len = (size_t)n;
    return v;
}

static int pg_col_is_null(store_stmt *bst, int col)
{
    int n;
    return cell(PS(bst), col, &n) == NULL;
}

static void pg_reset(store_stmt *bst)
{
    pg_stmt *st = PS(bst);
    if (st->res) PQclear(st->res);
    st->res = NULL;
    st->executed = 0;
    st->row = -1;
    st->nrows = 0;
}

static int64_t pg_changes(store_conn *c)
{
    return PC(c)->changes;
}

/* ---- writer ------------------------------------------------------------ */

static int pg_tx(store_conn *w, store_txop op)
{
    static const char *const sql[] = {
        [STORE_TX_BEGIN] = "BEGIN",           [STORE_TX_SAVEPOINT] = "SAVEPOINT u", [STORE_TX_RELEASE] = "RELEASE u",
        [STORE_TX_ROLLBACK_TO] = "ROLLBACK TO u", [STORE_TX_COMMIT] = "COMMIT",    [STORE_TX_ROLLBACK] = "ROLLBACK",
    };
    static const store_stmt_id ids[] = {
        [STORE_TX_BEGIN] = ST_BEGIN,           [STORE_TX_SAVEPOINT] = ST_SAVEPOINT, [STORE_TX_RELEASE] = ST_RELEASE,
        [STORE_TX_ROLLBACK_TO] = ST_ROLLBACK_TO, [STORE_TX_COMMIT] = ST_COMMIT,     [STORE_TX_ROLLBACK] = ST_ROLLBACK,
    };
    pg_conn *c = PC(w);
    if (c->broken) return ORD_EUNAVAILABLE;
    if (op == STORE_TX_BEGIN) c->inv_locked = 0;
    if (op == STORE_TX_SAVEPOINT) c->inv_unit = 0;
    if (op == STORE_TX_ROLLBACK_TO && c->inv_unit) c->inv_locked = 0; /* released with the unit's subtransaction */
    if (!c->pipeline) {
        if (op == STORE_TX_SAVEPOINT || op == STORE_TX_ROLLBACK_TO) c->failed = 0;
        int rc = exec_cmd(c->pg, sql[op], op == STORE_TX_ROLLBACK);
        c->round_trips++;
        c->statements++;
        if (rc == ORD_EUNAVAILABLE) c->broken = 1;
        return rc;
    }
    if (op == STORE_TX_BEGIN) c->perr = 0;
    if (op == STORE_TX_ROLLBACK_TO && c->need_sync) w_resync(c);
    int rc = w_send(c, &c->stmts[ids[op]]);
    if (rc) return rc;
    if (op == STORE_TX_SAVEPOINT || op == STORE_TX_ROLLBACK_TO) c->failed = 0, c->perr = 0;
    if (op != STORE_TX_COMMIT && op != STORE_TX_ROLLBACK) return 0;
    /* the end of the transaction: a Sync, and every result read */
    PGresult *r = NULL;
    if (!PQpipelineSync(c->pg)) {
        w_lost(c);
        return ORD_EUNAVAILABLE;
    }
    c->round_trips++;
    int perr = c->perr;
    c->perr = 0;
    w_collect(c, &r);
    rc = c->broken ? ORD_EUNAVAILABLE : 0;
    if (!rc && op == STORE_TX_COMMIT) {
        /* COMMIT of a transaction that an error aborted answers ROLLBACK */
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT"))
            rc = c->perr ? c->perr : perr ? perr : ORD_ESTORE;
    }
    PQclear(r);
    c->need_sync = 1; /* the Sync's own result is still to be read */
    w_resync_read(c);
    c->perr = 0;
    return rc;
}

static int pg_unit_end(store_conn *w)
{
    pg_conn *c = PC(w);
    for (int i = 0; i < ST__COUNT; i++)
        if (c->stmts[i].res) pg_reset(&c->stmts[i].base);
    /* deferred statements of the unit: their outcome decides the unit's */
    if (c->pipeline && c->pend_stmts) w_drain(c, NULL);
    if (c->broken) return ORD_EUNAVAILABLE;
    if (c->perr) return c->perr;
    return c->failed ? ORD_ESTORE : 0;
}

static uint64_t pg_changes_total(store_conn *w)
{
    return PC(w)->changes_total;
}

/* A batch that took the inventory lock commits without taking more units:
 * the other nodes' batches wait for that lock. */
static int pg_batch_full(store_conn *w)
{
    return PC(w)->inv_locked;
}

static int pg_reconnect(store_conn *w)
{
    return conn_connect(PC(w), 1);
}

/* ---- migrations -------------------------------------------------------- */

static int64_t query_i64(PGconn *pg, const char *sql, int *rc)
{
    PGresult *r = PQexec(pg, sql);
    int64_t v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("store", "query failed", "sql", sql, "error", PQerrorMessage(pg), NULL);
        *rc = ORD_ESTORE;
    }
    PQclear(r);
    return v;
}

/* Applies the missing migrations, each in one transaction that holds the
 * migration lock: nodes starting together apply each once. */
static int migrate(PGconn *pg, int *schema_version)
{
    char sql[256];
    int version = 0;
    for (const store_migration *m = store_migrations_pg;; m++) {
        int rc = 0;
        snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld); "
                                  "CREATE TABLE IF NOT EXISTS schema_version(version bigint PRIMARY KEY, "
                                  "name text NOT NULL, applied_ms bigint NOT NULL)",
                 (long long)MIGRATE_LOCK_KEY);
        if ((rc = exec_cmd(pg, sql, 0))) return rc;
        version = (int)query_i64(pg, "SELECT COALESCE(MAX(version),0) FROM schema_version", &rc);
        if (rc || !m->version || m->version <= version) {
            exec_cmd(pg, rc ? "ROLLBACK" : "COMMIT", 1);
            if (rc) return rc;
            if (!m->version) break;
            continue;
        }
        if ((rc = exec_cmd(pg, m->sql, 0))) {
            exec_cmd(pg, "ROLLBACK", 1);
            return rc;
        }
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(%d, '%s', %lld)", m->version, m->name,
                 (long long)clock_wall_ms());
        if ((rc = exec_cmd(pg, sql, 0)) || (rc = exec_cmd(pg, "COMMIT", 0))) {
            exec_cmd(pg, "ROLLBACK", 1);
            return rc;
        }
        log_info("store", "migration applied", "#version", (int64_t)m->version, "name", m->name, "backend", "postgres",
                 NULL);
    }
    *schema_version = version;
    return 0;
}

/* ---- the service thread: LISTEN / NOTIFY, leadership, fallback poll ------ */

static void wake_service(pg_store *ps)
{
    uint64_t one = 1;
    ssize_t w = write(ps->wake_fd, &one, sizeof one);
    (void)w;
}

static void pg_signal(store *s, const store_signal *sigs, int n)
{
    pg_store *ps = store_backend_get(s);
    pthread_mutex_lock(&ps->mu);
    for (int i = 0; i < n && !ps->out_all; i++) {
        int dup = 0;
        for (int k = 0; k < ps->nout && !dup; k++)
            if (ps->out[k].topic == sigs[i].topic && ps->out[k].key == sigs[i].key) {
                ps->out[k].n += sigs[i].n;
                dup = 1;
            }
        if (dup) continue;
        if (ps->nout == LIMIT_PG_SIGNALS_MAX)
            ps->out_all = 1; /* too many to list: "everything" */
        else
            ps->out[ps->nout++] = sigs[i];
    }
    pthread_mutex_unlock(&ps->mu);
    wake_service(ps);
}

static int pg_is_leader(store *s)
{
    pg_store *ps = store_backend_get(s);
    return atomic_load(&ps->leader);
}

/* Takes the signals waiting and formats them as one NOTIFY payload:
 * "<node>|<topic>:<key>:<times>,..."; "<node>|*" for everything.  0 when
 * none. */
static int take_payload(pg_store *ps, char *buf, size_t cap)
{
    pthread_mutex_lock(&ps->mu);
    int n = ps->nout, all = ps->out_all;
    size_t len = (size_t)snprintf(buf, cap, "%s|", ps->node);
    for (int i = 0; i < ps->nout && !all; i++) {
        int w = snprintf(buf + len, cap - len, "%s%d:%" PRId64 ":%" PRIu32, i ? "," : "", ps->out[i].topic,
                         ps->out[i].key, ps->out[i].n);
        if (w < 0 || (size_t)w >= cap - len) {
            all = 1;
            break;
        }
        len += (size_t)w;
    }
    if (all) snprintf(buf, cap, "%s|*", ps->node);
    ps->nout = 0;
    ps->out_all = 0;
    pthread_mutex_unlock(&ps->mu);
    return n || all;
}

static void dispatch_all(store *s)
{
    for (int t = 1; t < STORE_TOPICS_END; t++) store_signal_dispatch(s, t, -1, 0);
}

static void on_notify(pg_store *ps, const char *payload)
{
    const char *bar = strchr(payload, '|');
    if (!bar || (size_t)(bar - payload) != NODE_ID_LEN || !strncmp(payload, ps->node, NODE_ID_LEN)) return;
    const char *p = bar + 1;
    if (*p == '*') {
        dispatch_all(ps->s);
        return;
    }
    while (*p) {
        char *end;
        long topic = strtol(p, &end, 10);
        if (*end != ':') return;
        long long key = strtoll(end + 1, &end, 10);
        unsigned long times = 1;
        if (*end == ':') times = strtoul(end + 1, &end, 10);
        store_signal_dispatch(ps->s, (int)topic, key, times > UINT32_MAX ? UINT32_MAX : (uint32_t)times);
        if (*end != ',') return;
        p = end + 1;
    }
}

/* One query on the service connection; returns the first value as bool
 * (for pg_try_advisory_lock) or -1 on failure. */
static int service_query(PGconn *pg, const char *sql, const char *param)
{
    const char *vals[1] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, param ? vals : NULL, NULL, NULL, 0);
    int v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        v = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return v;
}

static PGconn *service_connect(pg_store *ps, int quiet)
{
    PGconn *pg = connect_db(ps->url, "service", quiet);
    if (!pg) return NULL;
    char sql[256];
    char *ident = PQescapeIdentifier(pg, ps->channel, strlen(ps->channel));
    int rc = ident ? 0 : ORD_ENOMEM;
    if (!rc) {
        snprintf(sql, sizeof sql, "SET idle_session_timeout = %d; LISTEN %s", LIMIT_PG_LEADER_LEASE_MS, ident);
        rc = exec_cmd(pg, sql, 0);
    }
    PQfreemem(ident);
    if (rc) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* The channel and leader lock of the writer's schema. */
static int learn_schema(pg_store *ps, PGconn *pg)
{
    PGresult *r = PQexec(pg, "SELECT current_schema()");
    int rc = ORD_ESTORE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        const char *schema = PQgetvalue(r, 0, 0);
        snprintf(ps->channel, sizeof ps->channel, "orderly.%s", schema);
        uint64_t h = 14695981039346656037u; /* FNV-1a of the channel name */
        for (const char *p = ps->channel; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211u;
        ps->leader_key = (int64_t)h;
        h = (h ^ 'i') * 1099511628211u; /* another key for the inventory lock */
        snprintf(ps->inventory_key, sizeof ps->inventory_key, "%lld", (long long)h);
        rc = 0;
    } else {
        log_error("store", "no schema to work in (search_path)", "error", PQerrorMessage(pg), NULL);
    }
    PQclear(r);
    return rc;
}

static void *service_main(void *arg)
{
    pg_store *ps = arg;
    store *s = ps->s;
    PGconn *pg = NULL;
    int64_t now = clock_mono_ms();
    int64_t next_ping = now, next_fallback = now + LIMIT_PG_POLL_FALLBACK_MS, notify_ok = now;
    int64_t retry = now, backoff = LIMIT_STORE_RECONNECT_MS_MIN;
    char payload[LIMIT_PG_NOTIFY_BYTES_MAX + 1];
    char lock_key[24];
    snprintf(lock_key, sizeof lock_key, "%lld", (long long)ps->leader_key);
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        int closing = ps->closing, pending = ps->nout || ps->out_all;
        pthread_mutex_unlock(&ps->mu);
        if (closing) break;
        now = clock_mono_ms();
        if (!pg && now >= retry) {
            pg = service_connect(ps, 1);
            if (pg) {
                backoff = LIMIT_STORE_RECONNECT_MS_MIN;
                next_ping = now;
                dispatch_all(s); /* what was signalled while we did not listen */
            } else {
                retry = now + backoff;
                backoff = backoff * 2 < LIMIT_STORE_RECONNECT_MS_MAX ? backoff * 2 : LIMIT_STORE_RECONNECT_MS_MAX;
            }
        }
        if (pg && pending && now >= notify_ok && take_payload(ps, payload, sizeof payload)) {
            const char *vals[2] = {ps->channel, payload};
            PGresult *r = PQexecParams(pg, "SELECT pg_notify($1, $2)::text", 2, NULL, vals, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK)
                log_warn("store", "NOTIFY failed", "error", PQerrorMessage(pg), NULL);
            PQclear(r);
            notify_ok = clock_mono_ms() + LIMIT_PG_NOTIFY_INTERVAL_MS;
        }
        if (pg && now >= next_ping) {
            /* the leader pings, the others try the lock: both keep the
             * session (and its lease) alive */
            int was = atomic_load(&ps->leader);
            int v = was ? service_query(pg, "SELECT true", NULL)
                        : service_query(pg, "SELECT pg_try_advisory_lock($1::bigint)", lock_key);
            if (v >= 0 && !was && v) {
                atomic_store(&ps->leader, 1);
                log_info("store", "this node is the leader (periodic work runs here)", "node", ps->node, "channel",
                         ps->channel, NULL);
            }
            next_ping = clock_mono_ms() + LIMIT_PG_PING_MS;
        }
        if (pg) {
            PQconsumeInput(pg);
            PGnotify *n;
            while ((n = PQnotifies(pg))) {
                on_notify(ps, n->extra);
                PQfreemem(n);
            }
            if (conn_lost(pg)) {
                if (atomic_exchange(&ps->leader, 0)) log_warn("store", "leadership lost", "node", ps->node, NULL);
                log_warn("store", "service connection lost; reconnecting", NULL);
                PQfinish(pg);
                pg = NULL;
                retry = clock_mono_ms() + backoff;
                store_connection_lost(s);
                continue;
            }
        }
        now = clock_mono_ms();
        if (now >= next_fallback) {
            store_signal_dispatch(s, STORE_TOPIC_QUEUE, -1, 0);
            next_fallback = now + LIMIT_PG_POLL_FALLBACK_MS;
        }
        int64_t until = next_fallback;
        if (pg && next_ping < until) until = next_ping;
        if (!pg && retry < until) until = retry;
        pthread_mutex_lock(&ps->mu);
        pending = ps->nout || ps->out_all;
        pthread_mutex_unlock(&ps->mu);
        if (pg && pending && notify_ok < until) until = notify_ok;
        int timeout = until > now ? (int)(until - now) : 0;
        struct pollfd fds[2] = {{.fd = ps->wake_fd, .events = POLLIN}, {.fd = pg ? PQsocket(pg) : -1, .events = POLLIN}};
        if (poll(fds, pg ? 2 : 1, timeout) > 0 && (fds[0].revents & POLLIN)) {
            uint64_t x;
            ssize_t r = read(ps->wake_fd, &x, sizeof x);
            (void)r;
        }
    }
    atomic_store(&ps->leader, 0);
    PQfinish(pg); /* releases the leader lock */
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

static void ps_free(pg_store *ps)
{
    if (!ps) return;
    if (ps->wake_fd >= 0) close(ps->wake_fd);
    pthread_mutex_destroy(&ps->mu);
    free(ps->url);
    free(ps);
}

static int pg_open(store *s, const store_opts *o, store_conn **writer, int *schema_version)
{
    pg_store *ps = calloc(1, sizeof *ps);
    if (!ps) return ORD_ENOMEM;
    ps->s = s;
    ps->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&ps->mu, NULL);
    ps->url = strdup(o->path);
    snprintf(ps->node, sizeof ps->node, "%016" PRIx64, (uint64_t)id_token());
    if (!ps->url || ps->wake_fd < 0) {
        ps_free(ps);
        return ORD_ENOMEM;
    }
    store_backend_set(s, ps);
    pg_conn *w = conn_new(s, 1);
    int rc = w ? 0 : ORD_ENOMEM;
    /* the database may still be starting (several services at boot) */
    int64_t deadline = clock_mono_ms() + (int64_t)LIMIT_PG_CONNECT_WAIT_S * 1000;
    int warned = 0;
    while (!rc) {
        w->pg = connect_db(ps->url, "writer", warned);
        if (w->pg) break;
        if (clock_mono_ms() >= deadline) {
            rc = ORD_EUNAVAILABLE;
            break;
        }
        if (!warned) log_warn("store", "waiting for the database", "#seconds", (int64_t)LIMIT_PG_CONNECT_WAIT_S, NULL);
        warned = 1;
        usleep(200 * 1000);
    }
    if (!rc) rc = learn_schema(ps, w->pg);
    if (!rc) rc = migrate(w->pg, schema_version);
    if (!rc) rc = conn_setup(w);
    if (!rc) rc = pipeline_enter(w);
    if (!rc && pthread_create(&ps->thread, NULL, service_main, ps)) rc = ORD_EINTERNAL;
    if (rc) {
        if (rc == ORD_EUNAVAILABLE) log_error("store", "cannot reach the database", NULL);
        pg_conn_close(w ? &w->base : NULL);
        store_backend_set(s, NULL);
        ps_free(ps);
        return rc;
    }
    ps->thread_started = 1;
    *writer = &w->base;
    return 0;
}

static void pg_close(store *s, store_conn *writer)
{
    pg_store *ps = store_backend_get(s);
    pthread_mutex_lock(&ps->mu);
    ps->closing = 1;
    pthread_mutex_unlock(&ps->mu);
    wake_service(ps);
    if (ps->thread_started) pthread_join(ps->thread, NULL);
    pg_conn *w = PC(writer);
    log_debug("store", "writer closed", "#statements", (int64_t)w->statements, "#roundTrips", (int64_t)w->round_trips,
             "#inventoryLocks", (int64_t)w->inv_waits, "pipeline", w->pipeline ? "on" : "off", NULL);
    pg_conn_close(writer);
    store_backend_set(s, NULL);
    ps_free(ps);
}

const store_backend store_backend_pg = {
    .name = "postgres",
    .sql = pg_sql,
    .open = pg_open,
    .close = pg_close,
    .reader_open = pg_reader_open,
    .conn_close = pg_conn_close,
    .tx = pg_tx,
    .unit_end = pg_unit_end,
    .changes_total = pg_changes_total,
    .reconnect = pg_reconnect,
    .batch_full = pg_batch_full,
    .signal = pg_signal,
    .is_leader = pg_is_leader,
    .prep = pg_prep,
    .bind_i64 = pg_bind_i64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_i64 = pg_col_i64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_is_null = pg_col_is_null,
    .reset = pg_reset,
    .changes = pg_changes,
};
