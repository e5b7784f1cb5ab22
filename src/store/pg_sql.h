/* pg_sql.h - SQL text per statement id for the PostgreSQL backend. */
#ifndef ORDERLY_PG_SQL_H
#define ORDERLY_PG_SQL_H
#include "store/stmts.h"

extern const char *const pg_sql[ST__COUNT];
/* 1 for a statement whose PostgreSQL text says ON CONFLICT DO NOTHING where
 * SQLite raises a constraint error: when it changes no row, store_step
 * answers ORD_ECONFLICT as on SQLite, and the transaction stays usable (a
 * PostgreSQL error would spoil the unit's savepoint). */
extern const unsigned char pg_sql_conflict_if_none[ST__COUNT];
/* 1 for a statement that returns no rows and whose callers only pass a
 * failure on (they never read store_changes nor tell one error from
 * another): the writer sends it without waiting (libpq pipeline mode) and
 * learns its outcome with the unit's next statement or at the unit's end,
 * where a failure fails the unit as a whole.  When in doubt, leave it 0. */
extern const unsigned char pg_sql_deferrable[ST__COUNT];
/* 1 for a statement that changes inventory (products): on the writer it
 * first takes the cluster's inventory lock (a transaction advisory lock),
 * held until the batch commits.  Batches of several nodes that change
 * inventory thus take turns instead of locking product rows in orders that
 * deadlock (every order changes a few hot rows). */
extern const unsigned char pg_sql_inventory[ST__COUNT];
/* The writer's text of a statement, where it differs (a read inside a unit
 * locks what it reads; see pg_sql.c); NULL: pg_sql[id]. */
extern const char *const pg_sql_writer[ST__COUNT];

#endif
