/* migrate.c - `orderly migrate --from FILE --to URL`: moves a node from
 * SQLite to PostgreSQL (store_copy: every row, ids included, one
 * transaction, into an empty database).  Plain `orderly migrate` (schema
 * only) is in serve.c. */
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"
#include "lib/limits.h"
#include "lib/err.h"
#include "lib/id.h"
#include "obs/log.h"
#include "store/store.h"

static const char usage[] =
    "usage: orderly migrate --from FILE --to URL [--log-level LEVEL]\n"
    "\n"
    "Copies every row of the SQLite database FILE (orders, items, products and their inventory,\n"
    "payments, notifications, the event log, queues and their messages, idempotency records and\n"
    "keys) into the PostgreSQL database URL (postgres://...), ids and statuses unchanged, in one\n"
    "transaction.  Both are first migrated to the latest schema; the target must be empty.  Stop\n"
    "the node that serves FILE first.  Then start the nodes with --db URL.\n";

int migrate_copy_wanted(int argc, char **argv);
int migrate_copy_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--from") || !strcmp(argv[i], "--to") || !strncmp(argv[i], "--from=", 7) ||
            !strncmp(argv[i], "--to=", 5))
            return 1;
    return 0;
}

static const char *value(int argc, char **argv, int *i, const char *flag)
{
    size_t n = strlen(flag);
    if (!strncmp(argv[*i], flag, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (!strcmp(argv[*i], flag) && *i + 1 < argc) return argv[++*i];
    return NULL;
}

int cmd_migrate_copy(int argc, char **argv);
int cmd_migrate_copy(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *level = "info";
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return CMD_OK;
        } else if ((v = value(argc, argv, &i, "--from"))) {
            from = v;
        } else if ((v = value(argc, argv, &i, "--to"))) {
            to = v;
        } else if ((v = value(argc, argv, &i, "--log-level"))) {
            level = v;
        } else {
            fprintf(stderr, "orderly migrate: unknown or incomplete option '%s'\n%s", argv[i], usage);
            return CMD_USAGE;
        }
    }
    if (!from || !to || !*from || !*to || strlen(from) > LIMIT_DB_URL_MAX || strlen(to) > LIMIT_DB_URL_MAX) {
        fprintf(stderr, "orderly migrate: --from FILE and --to URL are both needed (each 1..%d bytes)\n%s",
                LIMIT_DB_URL_MAX, usage);
        return CMD_USAGE;
    }
    log_level lv = LOG_INFO;
    if (!strcmp(level, "debug")) lv = LOG_DEBUG;
    else if (!strcmp(level, "warn")) lv = LOG_WARN;
    else if (!strcmp(level, "error")) lv = LOG_ERROR;
    log_setup("", lv);
    if (id_init()) return CMD_FAIL;
    char err[LIMIT_CONFIG_ERR_MAX], shown[LIMIT_DB_URL_MAX + 1];
    store_copy_stats st;
    int rc = store_copy(from, to, &st, err, sizeof err);
    store_path_redact(to, shown, sizeof shown);
    if (rc) {
        fprintf(stderr, "orderly migrate: %s (%s)\n", err[0] ? err : err_msg(rc), err_name(rc));
        return rc == ORD_EINVAL ? CMD_USAGE : CMD_FAIL;
    }
    printf("copied %lld rows of %d tables from %s to %s (schema version %d)\n", (long long)st.rows, st.tables, from,
           shown, st.schema_version);
    return CMD_OK;
}
