/* migrate.h - versioned schema migrations compiled into the binary.
 * src/store/migrations/<backend>/NNN_name.sql become store_migrations[]
 * (see scripts/embed-migrations.cmake); each runs once, in order, inside one
 * transaction with the schema_version bump. */
#ifndef ORDERLY_MIGRATE_H
#define ORDERLY_MIGRATE_H

typedef struct store_migration {
    int version;
    const char *name;
    const char *sql;
} store_migration;

/* Terminated by an entry with version 0. */
extern const store_migration store_migrations[];

#endif
