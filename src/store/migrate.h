/* migrate.h - versioned schema migrations compiled into the binary.
 * src/store/migrations/sqlite/NNN_name.sql become store_migrations_sqlite[],
 * src/store/migrations/postgres/NNN_name.sql store_migrations_pg[] (see
 * scripts/embed-migrations.cmake); each runs once, in order, inside one
 * transaction with the schema_version bump.  Every SQLite migration has a
 * PostgreSQL twin with the same number (a unit test checks it), so both
 * backends report the same schema version. */
#ifndef ORDERLY_MIGRATE_H
#define ORDERLY_MIGRATE_H

typedef struct store_migration {
    int version;
    const char *name;
    const char *sql;
} store_migration;

/* Terminated by an entry with version 0. */
extern const store_migration store_migrations_sqlite[];
extern const store_migration store_migrations_pg[];

#endif
