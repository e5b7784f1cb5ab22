/* backend.h - what the generic store runtime (store.c: the writer thread,
 * group commit, savepoints, after-commit hooks, stats, readers) needs from
 * a storage backend.  Internal to src/store: callers see only store.h.
 *
 * A backend is a table of functions (store_backend) plus its own
 * connection and statement structs, which begin with the generic heads
 * below so that store.c can keep per-connection state (the batch's hooks)
 * and dispatch statement calls.
 *
 * THREAD SAFETY: as store.h.  open/close run on the thread calling
 * store_open/store_close; tx, unit_end, changes_total and connect only on
 * the writer thread with the writer's connection.
 */
#ifndef ORDERLY_STORE_BACKEND_H
#define ORDERLY_STORE_BACKEND_H
#include <stdint.h>
#include "store/store.h"

typedef struct store_backend store_backend;

enum store_hook_kind { STORE_HOOK_FN, STORE_HOOK_COUNT, STORE_HOOK_SIGNAL };

typedef struct store_hook {
    int kind;
    store_hook_fn fn; /* STORE_HOOK_FN */
    void *arg;        /* FN: its argument; COUNT: the counter */
    uint64_t n;       /* COUNT: the addition; SIGNAL: how many times it was signalled */
    int topic;        /* SIGNAL */
    int64_t key;      /* SIGNAL */
} store_hook;

/* Every backend's connection begins with this. */
struct store_conn {
    const store_backend *be;
    store *s;
    int writer;
    store_conn *next;  /* in the store's list of readers */
    store_hook *hooks; /* writer: hooks of the current batch */
    uint64_t epoch;    /* writer: store_tx_epoch */
    size_t nhooks, caphooks;
};

/* Every backend's statement begins with this. */
struct store_stmt {
    store_conn *c;
};

typedef enum store_txop {
    STORE_TX_BEGIN,
    STORE_TX_SAVEPOINT,
    STORE_TX_RELEASE,
    STORE_TX_ROLLBACK_TO,
    STORE_TX_COMMIT,
    STORE_TX_ROLLBACK,
} store_txop;

/* One signal for other nodes (store_signal_tx), deduplicated per batch. */
typedef struct store_signal {
    int topic;
    int64_t key;
    uint32_t n; /* how many times (messages sent to the queue, ...) */
} store_signal;

struct store_backend {
    const char *name; /* "sqlite", "postgres" */
    /* The writer's transaction is the only one that writes (SQLite): no
     * other can change a row between two of its statements. */
    int sole_writer;
    const char *const *sql; /* the catalog's text, ST__COUNT entries */
    /* Opens the writer's connection, migrates the schema and starts the
     * backend's own threads; may keep state with store_backend_set(). */
    int (*open)(store *s, const store_opts *o, store_conn **writer, int *schema_version);
    /* After the writer thread has stopped and the readers are closed. */
    void (*close)(store *s, store_conn *writer);
    int (*reader_open)(store *s, store_conn **out);
    void (*conn_close)(store_conn *c);

    /* Writer: transaction control.  0, ORD_ESTORE, or ORD_EUNAVAILABLE when
     * the connection to the database is lost. */
    int (*tx)(store_conn *w, store_txop op);
    /* Writer, after a unit's function returned: resets what it left mid-way;
     * < 0 when the unit's writes cannot be kept (a statement failed in a way
     * that spoils its savepoint). */
    int (*unit_end)(store_conn *w);
    /* Writer: 1 while the batch's transaction is open; 0 when the database
     * rolled it back by itself (NULL: it never does). */
    int (*in_tx)(store_conn *w);
    /* Writer: rows changed on this connection since it opened. */
    uint64_t (*changes_total)(store_conn *w);
    /* Writer, while the store is down: tries to reconnect; 0 when up.
     * NULL: the backend never loses its connection. */
    int (*reconnect)(store_conn *w);
    /* Writer, after a COMMIT: the batch's signals for other nodes (may be
     * NULL: one node only). */
    void (*signal)(store *s, const store_signal *sigs, int n);
    /* Writer: 1 when the batch should take no more units and commit (it
     * holds something other nodes wait for); NULL: never. */
    int (*batch_full)(store_conn *w);
    /* 1 when this node runs the cluster's periodic work (NULL: always). */
    int (*is_leader)(store *s);

    /* Statements (see store.h). */
    store_stmt *(*prep)(store_conn *c, store_stmt_id id);
    void (*bind_i64)(store_stmt *st, int idx, int64_t v);
    void (*bind_text)(store_stmt *st, int idx, const char *p, size_t len);
    void (*bind_blob)(store_stmt *st, int idx, const void *p, size_t len);
    void (*bind_null)(store_stmt *st, int idx);
    int (*step)(store_stmt *st);
    int64_t (*col_i64)(store_stmt *st, int col);
    const char *(*col_text)(store_stmt *st, int col, size_t *len);
    const void *(*col_blob)(store_stmt *st, int col, size_t *len);
    int (*col_is_null)(store_stmt *st, int col);
    void (*reset)(store_stmt *st);
    int64_t (*changes)(store_conn *c);
    /* the integer key of the row the connection inserted last, for an
     * INSERT without RETURNING (store_insert); NULL where every such
     * statement says RETURNING (PostgreSQL) */
    int64_t (*last_rowid)(store_conn *c);
};

extern const store_backend store_backend_sqlite;
extern const store_backend store_backend_pg;

/* The backend's private state in s. */
void *store_backend_get(store *s);
void store_backend_set(store *s, void *state);
/* From a backend's thread: other nodes signalled (topic, key); key -1 when
 * signals may have been missed (everything may have changed). */
void store_signal_dispatch(store *s, int topic, int64_t key, uint32_t n);
/* From a backend's thread: the database connection was seen lost; /ready
 * turns 503 and probes until a write commits again. */
void store_connection_lost(store *s);
/* From any backend thread: a sync of the database failed.  The store takes
 * no more writes (ORD_EUNAVAILABLE) until it is reopened: a failed sync may
 * have dropped dirty pages a later sync would not bring back
 * (PostgreSQL's "fsyncgate"), so it is never retried. */
void store_sync_failed(store *s, const char *during, const char *error);

#endif
