/* config.h - the configuration of one orderly node.
 *
 * Sources, lowest precedence first: the defaults of the key table, one JSON
 * config file, environment variables, command-line flags.  Every scalar is a
 * row of one table {path, type, min, max, default, env var, flag, help} (see
 * config_keys()) that also drives --help and --print-config.  The file also
 * declares the topology: queues (SQS attributes), rules (event patterns to
 * queue targets) and functions (queue consumers), and the alarms.  Unknown keys, wrong types,
 * out-of-range values, duplicate names and references to undeclared queues
 * are errors that name the key's path, e.g.
 *     config: unknown key "queues[1].attributes.VisibiltyTimeout"
 *
 * Typical use in a CLI command (exit codes as in cmd/cmd.h):
 *     config *cfg = NULL;
 *     char err[LIMIT_CONFIG_ERR_MAX];
 *     int rc = config_from_args(argc, argv, &cfg, err, sizeof err);
 *     if (rc == CONFIG_HELP) { config_usage(stdout); return 0; }
 *     if (rc < 0) { fprintf(stderr, "orderly: %s\n", err); return config_exit_code(rc); }
 *     if (rc == CONFIG_PRINT) { rc = config_print(cfg, stdout); config_free(cfg); return rc ? 1 :
 * 0; }
 *     ... run with cfg ...
 *     config_free(cfg);
 *
 * OWNERSHIP: config_load / config_from_args allocate the config and
 * everything it points to; config_free releases it all.  Pointers into a
 * config (names, event patterns) live as long as the config.
 * THREAD SAFETY: a loaded config is immutable and may be read from any
 * thread.  config_from_args uses getopt_long: main thread only.
 */
#ifndef ORDERLY_CONFIG_H
#define ORDERLY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "lib/limits.h"
#include "conf/queue_attrs.h"
#include "conf/table.h"
#include "obs/alarms.h"
#include "obs/log.h"

/* ---- The configuration ------------------------------------------------- */

typedef struct config_queue {
    char name[LIMIT_QUEUE_NAME_MAX + 1]; /* without the env prefix: "orders" */
    queue_attrs attrs;                   /* attrs.dlq is a name of this config, unprefixed */
    bool builtin;                        /* from the built-in topology, not the file */
} config_queue;

typedef struct config_rule {
    char name[LIMIT_RULE_NAME_MAX + 1];
    char description[LIMIT_RULE_DESCRIPTION_MAX + 1]; /* "" when absent */
    json_t *event_pattern;                            /* an object; owned by the config */
    char targets[LIMIT_RULE_TARGETS_MAX][LIMIT_QUEUE_NAME_MAX + 1]; /* queue names */
    int ntargets;                                     /* 1..LIMIT_RULE_TARGETS_MAX */
    bool enabled;
    bool builtin;                                     /* from the built-in topology */
} config_rule;

typedef struct config_function {
    char name[LIMIT_FUNCTION_NAME_MAX + 1];
    char handler[LIMIT_HANDLER_NAME_MAX + 1]; /* a registered C handler (checked by fn/) */
    char queue[LIMIT_QUEUE_NAME_MAX + 1];     /* a queue of this config */
    int batch_size;                           /* 1..10, default 10 */
    int batching_window_ms;                   /* 0..300000, default 0 */
    int max_concurrency;                      /* 1..64, default 2 */
    int backoff_base_ms;                      /* retry n waits min(base*2^(n-1), max) */
    int backoff_max_ms;
    int idempotency_ttl_s;                    /* processed event ids are kept this long */
    int timeout_s;                            /* receive to commit; the queue's VisibilityTimeout >= it */
    bool enabled;
    bool builtin;                             /* from the built-in topology */
} config_function;

typedef struct config {
    char env[LIMIT_ENV_NAME_MAX + 1];     /* [a-z0-9][a-z0-9-]{0,31}; required */
    char listen[LIMIT_LISTEN_ADDR_MAX + 1]; /* HOST:PORT */
    char db[LIMIT_DB_URL_MAX + 1];        /* SQLite path or postgres:// URL; "data/<env>.db" */
    char mode[8];                         /* all | api | worker: what this node runs */
    log_level log_level;                  /* LOG_DEBUG..LOG_ERROR */
    struct {
        int threads, connections_max, connections_per_ip, timeout_s, send_timeout_s, body_bytes_max, drain_s;
    } http;
    struct {
        int pending_max, batch_max, window_us, admission_ms, queue_depth_max;
    } store;
    struct {
        int reservation_timeout_s, max_units, max_value_cents, idempotency_key_ttl_s;
        char fail_sku[65];
        bool test_hooks;
        char catalog[LIMIT_DB_URL_MAX + 1]; /* product catalog loaded at start ("" = none) */
        struct {
            int interval_s;             /* a batch every interval_s; 0 = off */
            int min_orders, max_orders; /* orders per batch: uniform in min..max */
        } demo;                         /* orders.demoProducer (seed 004's producer) */
    } orders;
    struct {
        bool enabled, anonymous_orders, metrics_public;
        int access_ttl_s, refresh_ttl_s, login_attempts, rate_per_s, rate_burst, audit_retention_days;
        int argon2_memory_kib, argon2_iterations, hash_threads, hash_queue;
        char issuer[64], audience[64];
        char key_file[LIMIT_DB_URL_MAX + 1], previous_key_file[LIMIT_DB_URL_MAX + 1];
        char allowed_hosts[LIMIT_HOSTS_MAX * 64];   /* comma-separated, "" = the defaults */
        char trusted_proxies[LIMIT_HOSTS_MAX * 48]; /* comma-separated addresses */
    } auth;
    struct {
        int retention_days; /* the event log (archive) keeps events this long */
    } events;
    struct {
        struct {
            bool enabled;
            int threshold, window_s, cooldown_s, retry_s;
        } breaker;        /* payments.circuitBreaker */
        struct {
            char mode[8]; /* ok | outage */
            int latency_ms;
        } simulator;      /* payments.simulator (changed at run time by PUT /api/simulator/payment) */
    } payments;
    config_queue *queues;       /* in file order */
    size_t nqueues;
    config_rule *rules;
    size_t nrules;
    config_function *functions;
    size_t nfunctions;
    alarm_def *alarms; /* the built-in alarms merged with the file's */
    size_t nalarms;
    bool builtin_topology; /* "builtinTopology": start from config/topology.json (default) */
    int alarm_sample_s;
    char file[LIMIT_DB_URL_MAX + 1]; /* the config file read, "" when none */
} config;

/* ---- Loading ----------------------------------------------------------- */

/* A value from the command line, by key path: {"listen", "0.0.0.0:80"}. */
typedef struct config_setting {
    const char *key;
    const char *value;
} config_setting;

/* Loads defaults, then file (NULL: none), then environment variables (getenv),
 * then settings[0..n) in order (later ones win), and checks the result.
 * On success *out is a new config (config_free it).  Errors, with one line in
 * err (no "orderly: " prefix, no newline) and *out NULL:
 *   ORD_ENOENV   no environment name from any source; err is exactly
 *                "ENVIRONMENT is not set (use --env NAME or ENVIRONMENT=NAME)"
 *   ORD_ECONFIG  invalid content: "config: ..." naming the key path; for JSON
 *                syntax errors "config: FILE: line L, column C, position P: ..."
 *   ORD_EIO      the file cannot be read
 *   ORD_ENOMEM */
int config_load(const char *file, const config_setting *settings, size_t n, config **out,
                char *err, size_t errlen);
void config_free(config *cfg);

/* Positive results of config_from_args (negative ones are errors). */
#define CONFIG_RUN 0   /* *out is loaded: run */
#define CONFIG_HELP 1  /* --help/-h: nothing loaded; print config_usage(), exit 0 */
#define CONFIG_PRINT 2 /* --print-config: *out is loaded; print config_print(), exit 0 */

/* Parses `serve` flags (argv[0] is the command name): --env, --listen, --db,
 * --log-level (every table key with a flag), --config FILE (else
 * $ORDERLY_CONFIG), --print-config, --help; then config_load.  Errors as
 * config_load, plus ORD_EUSAGE for an unknown option, a missing option value
 * or a stray argument. */
int config_from_args(int argc, char **argv, config **out, char *err, size_t errlen);
/* The process exit code for a config_load/config_from_args result: 0 for
 * success, CONFIG_HELP and CONFIG_PRINT; 2 (usage) for ORD_EUSAGE, ORD_ENOENV,
 * ORD_ECONFIG and ORD_EIO; 1 otherwise. */
int config_exit_code(int rc);

/* ---- Output ------------------------------------------------------------ */

/* `orderly serve --help`: usage, flags, then every key with type, range,
 * default, environment variable and flag. */
void config_usage(FILE *out);
/* The key tables only (the documented defaults). */
void config_print_keys(FILE *out);
/* The effective configuration as JSON in the config file format; loading it
 * again gives the same config.  New reference, NULL when out of memory. */
json_t *config_to_json(const config *cfg);
/* config_to_json, indented, plus a newline.  0, ORD_ENOMEM or ORD_EIO. */
int config_print(const config *cfg, FILE *out);

/* ---- Lookups ----------------------------------------------------------- */

/* The queue called name ("orders") or <env>-name ("dev-orders"); NULL if none. */
const config_queue *config_queue_find(const config *cfg, const char *name);
/* Writes "<env>-<name>" ("dev-orders") into buf.  0, or ORD_ELIMIT when it
 * does not fit in len bytes (buf then holds ""). */
int config_resource_name(const config *cfg, const char *name, char *buf, size_t len);

/* ---- Tables (for docs and tests; static storage) ----------------------- */
const conf_key *config_keys(size_t *n);          /* top-level scalars */
const conf_key *config_queue_keys(size_t *n);    /* queues[] members but attributes */
const conf_key *config_rule_keys(size_t *n);     /* rules[] members but eventPattern, targets */
const conf_key *config_function_keys(size_t *n); /* functions[] members */
const conf_key *
config_alarm_keys(size_t *n); /* alarms[] members but threshold, labels, denominator */

#endif
