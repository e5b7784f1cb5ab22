/* copy.c - store_copy: every row of a SQLite database into an empty
 * PostgreSQL one (`orderly migrate --from FILE --to URL`).
 *
 * Both databases are first brought to the latest schema by store_open, so
 * they have the same tables and columns.  Then every table of the SQLite
 * file (but schema_version and the SQLite node's own customer index) is
 * copied row by row, ids included, in ONE PostgreSQL transaction
 * (pipelined inserts, a sync every COPY_SYNC_ROWS): either the whole
 * database arrives or nothing does.  Identity sequences
 * are moved past the copied ids, so new rows continue where the old node
 * stopped.  The target must be empty: nothing is merged.
 *
 * The SQLite file is read in one read transaction: it may be copied while
 * a node serves it, but what that node commits afterwards is not copied;
 * stop it first (docs/operations.md).
 */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"
#include "store/store.h"

#define COPY_SYNC_ROWS 1000 /* rows sent before their results are read */
#define COPY_COLS_MAX 64    /* columns of one table */
#define COPY_TABLES_MAX 128 /* tables of one database */
#define OID_BYTEA 17
/* the SQLite node's customer index in bulk (migration 012): PostgreSQL
 * indexes orders(customer_id) itself */
#define SQLITE_ONLY_TABLES "'customer_orders', 'index_marks'"

typedef struct copy_ctx {
    sqlite3 *src;
    PGconn *dst;
    char *err;
    size_t errlen;
    int pending; /* inserts sent, results not read */
} copy_ctx;

static int fail(copy_ctx *c, int rc, const char *what, const char *detail)
{
    snprintf(c->err, c->errlen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return rc;
}

static int pg_cmd(copy_ctx *c, const char *sql)
{
    PGresult *r = PQexec(c->dst, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : fail(c, ORD_ESTORE, sql, PQerrorMessage(c->dst));
}

/* Reads the results of the inserts sent (pipeline), up to the Sync. */
static int collect(copy_ctx *c)
{
    int rc = 0;
    if (!PQpipelineSync(c->dst)) return fail(c, ORD_ESTORE, "sync", PQerrorMessage(c->dst));
    for (;;) {
        PGresult *r = PQgetResult(c->dst);
        if (!r) {
            if (PQstatus(c->dst) == CONNECTION_BAD) return fail(c, ORD_EUNAVAILABLE, "connection lost", NULL);
            continue;
        }
        ExecStatusType t = PQresultStatus(r);
        if (t == PGRES_FATAL_ERROR && !rc) rc = fail(c, ORD_ESTORE, "insert", PQresultErrorMessage(r));
        PQclear(r);
        if (t == PGRES_PIPELINE_SYNC) break;
    }
    c->pending = 0;
    return rc;
}

/* Copies table t: its columns by name, each value in the form its SQLite
 * type has (integers and text as text, blobs as binary bytea). */
static int copy_table(copy_ctx *c, const char *t, int64_t *rows)
{
    char sql[4096], cols[2048] = "", params[1024] = "";
    int ncols = 0, rc = 0;
    sqlite3_stmt *q = NULL, *info = NULL;
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%.63s') ORDER BY cid", t);
    if (sqlite3_prepare_v2(c->src, sql, -1, &info, NULL)) return fail(c, ORD_ESTORE, t, sqlite3_errmsg(c->src));
    char colbuf[COPY_COLS_MAX][64];
    while (sqlite3_step(info) == SQLITE_ROW && ncols < COPY_COLS_MAX) {
        str_copy(colbuf[ncols], sizeof colbuf[0], (const char *)sqlite3_column_text(info, 0));
        size_t n = strlen(cols);
        snprintf(cols + n, sizeof cols - n, "%s%.63s", ncols ? "," : "", colbuf[ncols]);
        n = strlen(params);
        snprintf(params + n, sizeof params - n, "%s$%d", ncols ? "," : "", ncols + 1);
        ncols++;
    }
    sqlite3_finalize(info);
    if (!ncols) return 0;
    /* the target's column types say which values are bytea (sent binary) */
    char stmt[80];
    snprintf(stmt, sizeof stmt, "copy_%.63s", t);
    snprintf(sql, sizeof sql, "INSERT INTO %.63s(%s) VALUES(%s)", t, cols, params);
    PGresult *r = PQprepare(c->dst, stmt, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = fail(c, ORD_ESTORE, sql, PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    r = PQdescribePrepared(c->dst, stmt);
    Oid types[COPY_COLS_MAX];
    for (int i = 0; i < ncols; i++) types[i] = PQresultStatus(r) == PGRES_COMMAND_OK ? PQparamtype(r, i) : 0;
    PQclear(r);
    if (!PQenterPipelineMode(c->dst)) return fail(c, ORD_ESTORE, "pipeline", PQerrorMessage(c->dst));
    snprintf(sql, sizeof sql, "SELECT %s FROM %.63s", cols, t);
    if (sqlite3_prepare_v2(c->src, sql, -1, &q, NULL)) {
        rc = fail(c, ORD_ESTORE, sql, sqlite3_errmsg(c->src));
        goto out;
    }
    char ints[COPY_COLS_MAX][32];
    while (!rc && sqlite3_step(q) == SQLITE_ROW) {
        const char *vals[COPY_COLS_MAX];
        int lens[COPY_COLS_MAX], fmts[COPY_COLS_MAX];
        for (int i = 0; i < ncols; i++) {
            lens[i] = fmts[i] = 0;
            switch (sqlite3_column_type(q, i)) {
            case SQLITE_NULL: vals[i] = NULL; break;
            case SQLITE_INTEGER:
                snprintf(ints[i], sizeof ints[i], "%lld", (long long)sqlite3_column_int64(q, i));
                vals[i] = ints[i];
                break;
            case SQLITE_FLOAT:
                snprintf(ints[i], sizeof ints[i], "%.17g", sqlite3_column_double(q, i));
                vals[i] = ints[i];
                break;
            default:
                if (types[i] == OID_BYTEA || sqlite3_column_type(q, i) == SQLITE_BLOB) {
                    vals[i] = sqlite3_column_blob(q, i);
                    lens[i] = sqlite3_column_bytes(q, i);
                    if (!vals[i]) vals[i] = "";
                    fmts[i] = 1;
                } else {
                    vals[i] = (const char *)sqlite3_column_text(q, i);
                }
            }
        }
        if (!PQsendQueryPrepared(c->dst, stmt, ncols, vals, lens, fmts, 0)) {
            rc = fail(c, ORD_ESTORE, "insert", PQerrorMessage(c->dst));
            break;
        }
        (*rows)++;
        if (++c->pending >= COPY_SYNC_ROWS) rc = collect(c);
    }
    if (!rc && c->pending) rc = collect(c);
out:
    if (q) sqlite3_finalize(q);
    if (rc && c->pending) collect(c); /* leaves the connection usable for ROLLBACK */
    PQexitPipelineMode(c->dst);
    return rc;
}

/* Moves every identity sequence past the ids copied. */
static int advance_sequences(copy_ctx *c)
{
    PGresult *r = PQexec(c->dst, "SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE table_schema = current_schema() AND is_identity = 'YES'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = fail(c, ORD_ESTORE, "identity columns", PQerrorMessage(c->dst));
        PQclear(r);
        return rc;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        char sql[512];
        const char *t = PQgetvalue(r, i, 0), *col = PQgetvalue(r, i, 1);
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT max(%s) FROM %s), 0) + 1, false)",
                 t, col, col, t);
        rc = pg_cmd(c, sql);
    }
    PQclear(r);
    return rc;
}

int store_copy(const char *from, const char *to, store_copy_stats *st, char *err, size_t errlen)
{
    copy_ctx c = {.err = err, .errlen = errlen};
    int rc;
    store *s = NULL;
    memset(st, 0, sizeof *st);
    str_copy(err, errlen, "");
    /* both at the latest schema: the same tables, the same columns */
    store_opts o = {.path = from};
    if ((rc = store_open(&s, &o))) return fail(&c, rc, "cannot open the source", from);
    if (store_is_shared(s)) {
        store_close(s);
        return fail(&c, ORD_EINVAL, "--from must be a SQLite file", NULL);
    }
    store_close(s);
    o.path = to;
    if ((rc = store_open(&s, &o))) return fail(&c, rc, "cannot open the target", NULL);
    int shared = store_is_shared(s);
    st->schema_version = store_schema_version(s);
    store_close(s);
    if (!shared) return fail(&c, ORD_EINVAL, "--to must be a postgres:// URL", NULL);

    if (sqlite3_open_v2(from, &c.src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = fail(&c, ORD_ESTORE, "cannot open the source", sqlite3_errmsg(c.src));
        goto out;
    }
    c.dst = PQconnectdb(to);
    if (PQstatus(c.dst) != CONNECTION_OK) {
        rc = fail(&c, ORD_EUNAVAILABLE, "cannot connect to the target", PQerrorMessage(c.dst));
        goto out;
    }
    char tables[COPY_TABLES_MAX][64];
    int ntables = 0;
    sqlite3_stmt *q;
    if ((rc = sqlite3_exec(c.src, "BEGIN", NULL, NULL, NULL)) ||
        (rc = sqlite3_prepare_v2(c.src,
                                 "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                                 "AND name NOT IN ('schema_version', " SQLITE_ONLY_TABLES ") ORDER BY name",
                                 -1, &q, NULL))) {
        rc = fail(&c, ORD_ESTORE, "source tables", sqlite3_errmsg(c.src));
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW && ntables < COPY_TABLES_MAX)
        str_copy(tables[ntables++], sizeof tables[0], (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    /* nothing is merged: the target must hold no row */
    for (int i = 0; i < ntables; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT 1 FROM %.63s LIMIT 1", tables[i]);
        PGresult *r = PQexec(c.dst, sql);
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK, rows = ok ? PQntuples(r) : 0;
        PQclear(r);
        if (!ok) {
            rc = fail(&c, ORD_ESTORE, "the target lacks a table of the source", tables[i]);
            goto out;
        }
        if (rows) {
            rc = fail(&c, ORD_EEXISTS, "the target database is not empty; table", tables[i]);
            goto out;
        }
    }
    if ((rc = pg_cmd(&c, "BEGIN"))) goto out;
    for (int i = 0; i < ntables && !rc; i++) {
        int64_t rows = 0;
        rc = copy_table(&c, tables[i], &rows);
        if (!rc) {
            log_info("store", "table copied", "table", tables[i], "#rows", rows, NULL);
            st->rows += rows;
            st->tables++;
        }
    }
    if (!rc) rc = advance_sequences(&c);
    if (!rc) rc = pg_cmd(&c, "COMMIT");
    if (rc) PQclear(PQexec(c.dst, "ROLLBACK")); /* keeps the first error's message */
out:
    PQfinish(c.dst);
    if (c.src) sqlite3_close(c.src);
    return rc;
}
