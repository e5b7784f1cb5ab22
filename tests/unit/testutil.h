/* testutil.h - shared helpers for unit tests: a fresh database per call,
 * on the backend the run selects.
 *
 * Without ORDERLY_TEST_PG_URL a "database" is a SQLite file in a fresh
 * temporary directory.  With it (tests/integration/pgcluster.py sets it when
 * ctest runs the unit-pg.* variants) it is a fresh schema of that
 * PostgreSQL cluster, as a URL whose search_path names it. */
#ifndef ORDERLY_TESTUTIL_H
#define ORDERLY_TESTUTIL_H
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

static inline const char *test_pg_base(void)
{
    const char *u = getenv("ORDERLY_TEST_PG_URL");
    return u && *u ? u : NULL;
}

/* 1 when the run is on PostgreSQL. */
static inline int test_pg(void)
{
    return test_pg_base() != NULL;
}

/* A fresh directory for a test's files, under ORDERLY_TEST_TMPDIR (the
 * directory tests/unit/run.sh makes and removes) or /tmp; in a static
 * buffer. */
static inline const char *test_tmpdir(void)
{
    static char dir[400];
    const char *base = getenv("ORDERLY_TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/orderly-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) abort();
    return dir;
}

/* A SQLite file in a fresh temporary directory, whatever the run's backend. */
static inline const char *test_db_path_sqlite(const char *file)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), file);
    return path;
}

/* Makes a fresh database and returns its path or URL in a static buffer
 * ("<dir>/<file>" on SQLite). */
static inline const char *test_db_path(const char *file)
{
    static char path[512];
    const char *pg = test_pg_base();
    if (pg) {
        static int n;
        char schema[64], url[512], sql[128];
        snprintf(schema, sizeof schema, "t_%d_%d", (int)getpid(), n++);
        snprintf(url, sizeof url, "%spostgres?gssencmode=disable", pg);
        PGconn *c = PQconnectdb(url);
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "testutil: %s: %s\n", sql, PQerrorMessage(c));
            abort();
        }
        PQclear(r);
        PQfinish(c);
        snprintf(path, sizeof path, "%spostgres?gssencmode=disable&options=-csearch_path%%3D%s", pg, schema);
        (void)file;
        return path;
    }
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), file);
    return path;
}

/* The first column of the first row of sql on the database db (a separate
 * connection: it sees only what was committed); -1 on error or no row. */
static inline int64_t test_db_scalar(const char *db, const char *sql)
{
    int64_t v = -1;
    if (!strncmp(db, "postgres", 8)) {
        /* one connection kept per database (autocommit: each query sees
         * what is committed when it runs); not for concurrent callers */
        static PGconn *c;
        static char cur[512];
        if (!c || strcmp(cur, db) || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = PQconnectdb(db);
            snprintf(cur, sizeof cur, "%s", db);
        }
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
    }
    sqlite3 *s;
    sqlite3_stmt *q;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(s, sql, -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(s);
    return v;
}

#endif
