/* config.c - the key tables of orderly and config_load: defaults < file <
 * environment < flags, then the checks that need the whole picture (the
 * environment prefix, duplicate names, references between queues, rules and
 * functions).
 *
 * DESIGN: every scalar is a row of a conf_key table (conf/table.h); the JSON
 * walker, the environment and flag readers, --help and --print-config all
 * work from those rows, so adding a key is adding a row (and a field).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "lib/count.h"
#include "lib/check.h"
#include "lib/err.h"
#include "lib/str.h"

#define NOENV_MSG "ENVIRONMENT is not set (use --env NAME or ENVIRONMENT=NAME)"

/* ---- Syntax of names ---------------------------------------------------- */

static int env_valid(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) return 0;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-")] == 0;
}

static int sim_mode_valid(const char *s)
{
    return !strcmp(s, "ok") || !strcmp(s, "outage");
}

static int mode_valid(const char *s)
{
    return !strcmp(s, "all") || !strcmp(s, "api") || !strcmp(s, "worker");
}

static int listen_valid(const char *s)
{
    const char *colon = strrchr(s, ':');
    long long port;
    if (!colon || colon == s || strlen(colon + 1) > 5) return 0;
    return conf_parse_ll(colon + 1, &port) == 0 && colon[1] != '-' && port <= 65535;
}

static int queue_valid(const char *s)
{
    return queue_name_valid(s, LIMIT_QUEUE_NAME_MAX);
}

static int rule_valid(const char *s)
{
    return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")] == 0;
}

static int handler_valid(const char *s)
{
    return rule_valid(s); /* the same alphabet: [A-Za-z0-9_.-] */
}

#define QUEUE_SYNTAX "[A-Za-z0-9_-]+"

static int alarm_name_valid(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s == 0x7f) return 0; /* CloudWatch: any printable text */
    return 1;
}

static int stat_valid(const char *s)
{
    alarm_stat st;
    double q;
    return alarm_stat_parse(s, &st, &q) == 0;
}

static int cmp_valid(const char *s)
{
    return alarm_cmp_parse(s) >= 0;
}

static int token_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@-") == n;
}

static int missing_valid(const char *s)
{
    return alarm_missing_parse(s) >= 0;
}

#define METRIC_SYNTAX "[a-zA-Z_:][a-zA-Z0-9_:]*"

/* ---- Tables ------------------------------------------------------------- */

static const conf_key top_keys[] = {
    CONF_STRING_KEY(config, env, "env", 1, LIMIT_ENV_NAME_MAX, NULL, .env = "ENVIRONMENT",
                    .flag = "env", .metavar = "NAME", .valid = env_valid,
                    .syntax = "[a-z0-9][a-z0-9-]*",
                    .help = "environment name; prefixes resource names (dev-orders) and the "
                            "default db"),
    CONF_STRING_KEY(config, listen, "listen", 1, LIMIT_LISTEN_ADDR_MAX, "127.0.0.1:8080",
                    .env = "ORDERLY_LISTEN", .flag = "listen", .metavar = "HOST:PORT",
                    .valid = listen_valid, .syntax = "HOST:PORT", .help = "HTTP listen address"),
    CONF_STRING_KEY(config, db, "db", 1, LIMIT_DB_URL_MAX, "data/<env>.db", .env = "ORDERLY_DB",
                    .flag = "db", .metavar = "PATH|URL",
                    .help = "SQLite database file, or a postgres:// URL"),
    CONF_STRING_KEY(config, mode, "mode", 3, 6, "all", .env = "ORDERLY_MODE", .flag = "mode",
                    .metavar = "MODE", .valid = mode_valid, .syntax = "all|api|worker",
                    .help = "what this node runs: all (HTTP API and functions), api (the HTTP API, no "
                            "function pollers) or worker (the functions, with only /health, /ready, "
                            "/metrics and /api/health over HTTP)"),
    CONF_LEVEL_KEY(config, log_level, "log.level", LOG_INFO, .env = "ORDERLY_LOG_LEVEL",
                   .flag = "log-level", .metavar = "LEVEL", .help = "least severe level logged"),
    CONF_INT_KEY(config, http.threads, "http.threads", 1, LIMIT_HTTP_THREADS_MAX,
                 LIMIT_HTTP_THREADS_DEFAULT, .env = "ORDERLY_HTTP_THREADS",
                 .help = "HTTP server threads"),
    CONF_INT_KEY(config, http.connections_max, "http.connectionsMax", 1, LIMIT_HTTP_CONNECTIONS_MAX,
                 LIMIT_HTTP_CONNECTIONS_DEFAULT, .env = "ORDERLY_HTTP_CONNECTIONS_MAX",
                 .help = "open connections, all clients together"),
    CONF_INT_KEY(config, http.connections_per_ip, "http.connectionsPerIp", 1,
                 LIMIT_HTTP_CONNECTIONS_MAX, LIMIT_HTTP_PER_IP_DEFAULT,
                 .env = "ORDERLY_HTTP_CONNECTIONS_PER_IP",
                 .help = "open connections from one client address"),
    CONF_INT_KEY(config, http.timeout_s, "http.timeoutSeconds", 1, LIMIT_HTTP_TIMEOUT_S_MAX,
                 LIMIT_HTTP_TIMEOUT_S_DEFAULT, .env = "ORDERLY_HTTP_TIMEOUT_SECONDS",
                 .help = "idle or slow connections are closed after this"),
    CONF_INT_KEY(config, http.send_timeout_s, "http.sendTimeoutSeconds", 1, LIMIT_HTTP_SEND_S_MAX,
                 LIMIT_HTTP_SEND_S_DEFAULT, .env = "ORDERLY_HTTP_SEND_TIMEOUT_SECONDS",
                 .help = "a response not taken by the client within this closes its connection"),
    CONF_INT_KEY(config, http.body_bytes_max, "http.bodyBytesMax", LIMIT_HTTP_BODY_BYTES_MIN,
                 LIMIT_HTTP_BODY_BYTES_MAX, LIMIT_HTTP_BODY_BYTES_MAX,
                 .env = "ORDERLY_HTTP_BODY_BYTES_MAX",
                 .help = "largest request body; larger ones get 413"),
    CONF_INT_KEY(config, http.drain_s, "http.drainSeconds", 0, LIMIT_HTTP_DRAIN_S_MAX,
                 LIMIT_HTTP_DRAIN_S_DEFAULT, .env = "ORDERLY_HTTP_DRAIN_SECONDS",
                 .help = "on SIGTERM, wait this long for in-flight work"),
    CONF_INT_KEY(config, store.pending_max, "store.pendingMax", 1, LIMIT_STORE_PENDING_MAX,
                 LIMIT_STORE_PENDING_DEFAULT, .env = "ORDERLY_STORE_PENDING_MAX",
                 .help = "writes waiting for the writer; beyond this 503"),
    CONF_INT_KEY(config, store.batch_max, "store.batchMax", 1, LIMIT_STORE_BATCH_MAX,
                 LIMIT_STORE_BATCH_DEFAULT, .env = "ORDERLY_STORE_BATCH_MAX",
                 .help = "writes committed in one transaction"),
    CONF_INT_KEY(config, store.window_us, "store.windowMicros", 0, LIMIT_STORE_WINDOW_US_MAX,
                 LIMIT_STORE_WINDOW_US_DEFAULT, .env = "ORDERLY_STORE_WINDOW_MICROS",
                 .help = "extra wait for more writes before a commit"),
    CONF_INT_KEY(config, store.admission_ms, "store.admissionBacklogMs", 0, LIMIT_STORE_ADMISSION_MS_MAX,
                 LIMIT_STORE_ADMISSION_MS_DEFAULT, .env = "ORDERLY_STORE_ADMISSION_BACKLOG_MS",
                 .help = "new orders, events and messages get 503 (Retry-After) while the writer has more "
                         "than this much work queued (ms; 0 = never)"),
    CONF_INT_KEY(config, store.queue_depth_max, "store.queueDepthMax", LIMIT_QUEUE_DEPTH_MIN, LIMIT_QUEUE_DEPTH_MAX,
                 LIMIT_QUEUE_DEPTH_DEFAULT, .env = "ORDERLY_STORE_QUEUE_DEPTH_MAX",
                 .help = "messages one queue holds; a send past it gets 503 queue-full (moves to a DLQ and "
                         "redrives are never refused)"),
    CONF_INT_KEY(config, orders.reservation_timeout_s, "orders.reservationTimeoutSeconds", 1,
                 LIMIT_RESERVATION_S_MAX, LIMIT_RESERVATION_S_DEFAULT,
                 .env = "ORDERLY_ORDERS_RESERVATION_TIMEOUT_SECONDS",
                 .help = "a reservation older than this expires (order EXPIRED, stock released)"),
    CONF_INT_KEY(config, orders.max_units, "orders.maxUnitsPerOrder", 1, LIMIT_ORDER_UNITS_MAX,
                 LIMIT_ORDER_UNITS_DEFAULT, .env = "ORDERLY_ORDERS_MAX_UNITS_PER_ORDER",
                 .help = "business limit: more units (sum of qty) -> REJECTED order_limit"),
    CONF_INT_KEY(config, orders.max_value_cents, "orders.maxOrderValueCents", 1,
                 LIMIT_ORDER_VALUE_MAX, LIMIT_ORDER_VALUE_DEFAULT,
                 .env = "ORDERLY_ORDERS_MAX_ORDER_VALUE_CENTS",
                 .help = "business limit: a larger total -> REJECTED order_limit"),
    CONF_INT_KEY(config, orders.idempotency_key_ttl_s, "orders.idempotencyKeyTtlSeconds", 1,
                 LIMIT_IDEM_KEY_TTL_S_MAX, LIMIT_IDEM_KEY_TTL_S_DEFAULT,
                 .env = "ORDERLY_ORDERS_IDEMPOTENCY_KEY_TTL_SECONDS",
                 .help = "how long an Idempotency-Key replays its first response"),
    CONF_STRING_KEY(config, orders.fail_sku, "orders.failureInjectionSku", 0, 64, "",
                    .env = "ORDERLY_ORDERS_FAILURE_INJECTION_SKU",
                    .help = "an order with this sku makes order-processor fail, for trying retries and the DLQ "
                            "(seed 001's FAIL-ME); \"\" = off, the default"),
    CONF_BOOL_KEY(config, orders.test_hooks, "orders.testHooks", 0, .env = "ORDERLY_ORDERS_TEST_HOOKS",
                  .help = "honour seed 000's _postDeployTestForceResult in OrderPlaced events (forces a decline); "
                          "off by default"),
    CONF_STRING_KEY(config, orders.catalog, "orders.catalog", 0, LIMIT_DB_URL_MAX, "",
                    .env = "ORDERLY_ORDERS_CATALOG", .flag = "catalog", .metavar = "FILE",
                    .help = "product catalog JSON loaded at start (relative to the config file); existing products are kept"),
    CONF_DURATION_KEY(config, orders.demo.interval_s, "orders.demoProducer.interval", 0,
                      LIMIT_DEMO_INTERVAL_S_MAX, 0, .env = "ORDERLY_DEMO_PRODUCER",
                      .flag = "demo-producer", .metavar = "DURATION",
                      .help = "demo producer (seed 004): every DURATION (1s, 30s, 5m) create minOrders.."
                              "maxOrders random orders of PROD-001..PROD-005 through the order API path; "
                              "off by default"),
    CONF_INT_KEY(config, orders.demo.min_orders, "orders.demoProducer.minOrders", 1, LIMIT_DEMO_ORDERS_MAX,
                 LIMIT_DEMO_ORDERS_MIN_DEFAULT, .env = "ORDERLY_DEMO_PRODUCER_MIN_ORDERS",
                 .help = "demo producer: fewest orders per batch (at most maxOrders)"),
    CONF_INT_KEY(config, orders.demo.max_orders, "orders.demoProducer.maxOrders", 1, LIMIT_DEMO_ORDERS_MAX,
                 LIMIT_DEMO_ORDERS_MAX_DEFAULT, .env = "ORDERLY_DEMO_PRODUCER_MAX_ORDERS",
                 .help = "demo producer: most orders per batch"),
    CONF_BOOL_KEY(config, auth.enabled, "auth.enabled", 1, .env = "ORDERLY_AUTH_ENABLED",
                  .help = "every route but /health, /ready, /metrics (auth.metricsPublic), the console's files and "
                          "POST /api/login needs a token or key; false is refused on a non-loopback listen address"),
    CONF_BOOL_KEY(config, auth.anonymous_orders, "auth.anonymousOrders", 0, .env = "ORDERLY_AUTH_ANONYMOUS_ORDERS",
                  .help = "seed 001's public POST /orders takes orders without a token (the body's customerId)"),
    CONF_BOOL_KEY(config, auth.metrics_public, "auth.metricsPublic", 1, .env = "ORDERLY_AUTH_METRICS_PUBLIC",
                  .help = "GET /metrics without a token (for a Prometheus scraper)"),
    CONF_INT_KEY(config, auth.access_ttl_s, "auth.accessTokenTtlSeconds", 60, LIMIT_ACCESS_TTL_S_MAX,
                 LIMIT_ACCESS_TTL_S_DEFAULT, .env = "ORDERLY_AUTH_ACCESS_TOKEN_TTL_SECONDS",
                 .help = "lifetime of an access token (JWT)"),
    CONF_INT_KEY(config, auth.refresh_ttl_s, "auth.refreshTokenTtlSeconds", 60, LIMIT_REFRESH_TTL_S_MAX,
                 LIMIT_REFRESH_TTL_S_DEFAULT, .env = "ORDERLY_AUTH_REFRESH_TOKEN_TTL_SECONDS",
                 .help = "lifetime of a refresh token (rotated on use)"),
    CONF_STRING_KEY(config, auth.issuer, "auth.issuer", 1, 63, "orderly", .valid = token_name_valid,
                    .syntax = "[A-Za-z0-9._:/@-]+", .help = "the JWT iss claim"),
    CONF_STRING_KEY(config, auth.audience, "auth.audience", 1, 63, "orderly-api", .valid = token_name_valid,
                    .syntax = "[A-Za-z0-9._:/@-]+", .help = "the JWT aud claim"),
    CONF_STRING_KEY(config, auth.key_file, "auth.keyFile", 0, LIMIT_DB_URL_MAX, "", .env = "ORDERLY_AUTH_KEY_FILE",
                    .help = "file with the JWT signing key (hex, >= 32 bytes); \"\" = ORDERLY_JWT_KEY, else a key "
                            "created beside the database (<env>.jwt-key, mode 0600)"),
    CONF_STRING_KEY(config, auth.previous_key_file, "auth.previousKeyFile", 0, LIMIT_DB_URL_MAX, "",
                    .env = "ORDERLY_AUTH_PREVIOUS_KEY_FILE",
                    .help = "the previous signing key: tokens it signed verify until they expire (rotation); "
                            "\"\" = ORDERLY_JWT_PREVIOUS_KEY or none"),
    CONF_STRING_KEY(config, auth.allowed_hosts, "auth.allowedHosts", 0, LIMIT_HOSTS_MAX * 64 - 1, "",
                    .env = "ORDERLY_AUTH_ALLOWED_HOSTS",
                    .help = "comma-separated Host names answered (DNS rebinding); always also the listen "
                            "host, localhost, 127.0.0.1 and [::1]"),
    CONF_STRING_KEY(config, auth.trusted_proxies, "auth.trustedProxies", 0, LIMIT_HOSTS_MAX * 48 - 1, "",
                    .env = "ORDERLY_AUTH_TRUSTED_PROXIES",
                    .help = "comma-separated proxy addresses whose X-Forwarded-For names the client"),
    CONF_INT_KEY(config, auth.login_attempts, "auth.loginAttemptsPerMinute", 1, LIMIT_LOGIN_ATTEMPTS_MAX,
                 LIMIT_LOGIN_ATTEMPTS_DEFAULT, .env = "ORDERLY_AUTH_LOGIN_ATTEMPTS_PER_MINUTE",
                 .help = "login attempts per minute per account and per address; past it 429"),
    CONF_INT_KEY(config, auth.rate_per_s, "auth.rateLimit.perSecond", 0, LIMIT_RATE_PER_S_MAX,
                 LIMIT_RATE_PER_S_DEFAULT, .env = "ORDERLY_AUTH_RATE_PER_SECOND",
                 .help = "requests per second per client address and per principal (0 = no limit); past it 429"),
    CONF_INT_KEY(config, auth.rate_burst, "auth.rateLimit.burst", 1, LIMIT_RATE_PER_S_MAX, LIMIT_RATE_BURST_DEFAULT,
                 .env = "ORDERLY_AUTH_RATE_BURST", .help = "requests above the rate a client may make at once"),
    CONF_INT_KEY(config, auth.argon2_memory_kib, "auth.argon2.memoryKiB", LIMIT_ARGON2_MEMORY_KIB_MIN,
                 LIMIT_ARGON2_MEMORY_KIB_MAX, LIMIT_ARGON2_MEMORY_KIB_MIN, .env = "ORDERLY_AUTH_ARGON2_MEMORY_KIB",
                 .help = "argon2id memory of a password hash (OWASP minimum 19 MiB); raising it rehashes at login"),
    CONF_INT_KEY(config, auth.argon2_iterations, "auth.argon2.iterations", LIMIT_ARGON2_ITERATIONS_MIN,
                 LIMIT_ARGON2_ITERATIONS_MAX, LIMIT_ARGON2_ITERATIONS_MIN, .env = "ORDERLY_AUTH_ARGON2_ITERATIONS",
                 .help = "argon2id passes (t)"),
    CONF_INT_KEY(config, auth.hash_threads, "auth.hashPool.threads", 1, LIMIT_HASH_THREADS_MAX,
                 LIMIT_HASH_THREADS_DEFAULT, .env = "ORDERLY_AUTH_HASH_THREADS",
                 .help = "threads hashing passwords (never an HTTP worker)"),
    CONF_INT_KEY(config, auth.hash_queue, "auth.hashPool.queue", 1, LIMIT_HASH_QUEUE_MAX, LIMIT_HASH_QUEUE_DEFAULT,
                 .env = "ORDERLY_AUTH_HASH_QUEUE", .help = "password hashes waiting for a thread; past it 503"),
    CONF_INT_KEY(config, auth.audit_retention_days, "auth.auditRetentionDays", 1, LIMIT_AUDIT_RETENTION_DAYS_MAX,
                 LIMIT_AUDIT_RETENTION_DAYS_DEFAULT, .env = "ORDERLY_AUTH_AUDIT_RETENTION_DAYS",
                 .help = "audit rows are kept this long"),
    CONF_INT_KEY(config, events.retention_days, "events.retentionDays", LIMIT_EVENT_RETENTION_DAYS_MIN,
                 LIMIT_EVENT_RETENTION_DAYS_MAX, LIMIT_EVENT_RETENTION_DAYS_DEFAULT,
                 .env = "ORDERLY_EVENTS_RETENTION_DAYS",
                 .help = "the event log (the archive replays read, the order timelines) keeps events this long; "
                         "longer than any message lives, so a queued message always finds its event"),
    CONF_BOOL_KEY(config, builtin_topology, "builtinTopology", 1,
                  .help = "start from the built-in topology (config/topology.json: the seeds' queues, "
                          "rules, functions, alarms); the file's entries replace built-ins of the same "
                          "name or add to them, \"exclude\" drops built-ins; false = only the file's"),
    CONF_BOOL_KEY(config, payments.breaker.enabled, "payments.circuitBreaker.enabled", 1,
                  .env = "ORDERLY_PAYMENTS_CIRCUIT_BREAKER",
                  .help = "payment-processor stops calling a payment provider that keeps failing (failureThreshold "
                          "transient failures in a row within windowSeconds open the circuit): its records wait in "
                          "the queue without counting toward the DLQ; after coolDownSeconds one trial call closes "
                          "or re-opens it"),
    CONF_INT_KEY(config, payments.breaker.threshold, "payments.circuitBreaker.failureThreshold", 1,
                 LIMIT_BREAKER_THRESHOLD_MAX, LIMIT_BREAKER_THRESHOLD_DEFAULT,
                 .env = "ORDERLY_PAYMENTS_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
                 .help = "transient provider failures in a row that open the circuit"),
    CONF_INT_KEY(config, payments.breaker.window_s, "payments.circuitBreaker.windowSeconds", 1,
                 LIMIT_BREAKER_WINDOW_S_MAX, LIMIT_BREAKER_WINDOW_S_DEFAULT,
                 .env = "ORDERLY_PAYMENTS_CIRCUIT_BREAKER_WINDOW_SECONDS",
                 .help = "... within this many seconds (from the first of them)"),
    CONF_INT_KEY(config, payments.breaker.cooldown_s, "payments.circuitBreaker.coolDownSeconds", 1,
                 LIMIT_BREAKER_COOLDOWN_S_MAX, LIMIT_BREAKER_COOLDOWN_S_DEFAULT,
                 .env = "ORDERLY_PAYMENTS_CIRCUIT_BREAKER_COOL_DOWN_SECONDS",
                 .help = "an open circuit waits this long before one trial call (half-open)"),
    CONF_INT_KEY(config, payments.breaker.retry_s, "payments.circuitBreaker.retryDelaySeconds", 1,
                 LIMIT_BREAKER_RETRY_S_MAX, LIMIT_BREAKER_RETRY_S_DEFAULT,
                 .env = "ORDERLY_PAYMENTS_CIRCUIT_BREAKER_RETRY_DELAY_SECONDS",
                 .help = "a record the open circuit turned away is visible again after this (jittered into [d/2, d])"),
    CONF_STRING_KEY(config, payments.simulator.mode, "payments.simulator.mode", 2, 6, "ok",
                    .env = "ORDERLY_PAYMENTS_SIMULATOR_MODE", .valid = sim_mode_valid, .syntax = "ok|outage",
                    .help = "the simulated payment provider: ok (answers by payment token) or outage (every call "
                            "fails, transiently); PUT /api/simulator/payment changes it at run time"),
    CONF_INT_KEY(config, payments.simulator.latency_ms, "payments.simulator.latencyMs", 0,
                 LIMIT_PAYMENT_LATENCY_MS_MAX, 0, .env = "ORDERLY_PAYMENTS_SIMULATOR_LATENCY_MS",
                 .help = "each call of the simulated provider takes this long (ms; the records then run on the "
                         "pollers, not in process)"),
    CONF_INT_KEY(config, alarm_sample_s, "alarmSampleSeconds", 1, LIMIT_ALARM_SAMPLE_S_MAX,
                 LIMIT_ALARM_SAMPLE_S_DEFAULT, .env = "ORDERLY_ALARM_SAMPLE_SECONDS",
                 .help = "alarms sample gauges this often (and at every period end)"),
};

static const conf_key queue_keys[] = {
    /* 2 = the shortest prefix, "e-"; the real bound depends on env (checked later) */
    CONF_STRING_KEY(config_queue, name, "name", 1, LIMIT_QUEUE_NAME_MAX - 2, NULL,
                    .valid = queue_valid, .syntax = QUEUE_SYNTAX,
                    .help = "queue name without the environment prefix; with \"<env>-\" at "
                            "most 80 characters"),
};

static const conf_key rule_keys[] = {
    CONF_STRING_KEY(config_rule, name, "name", 1, LIMIT_RULE_NAME_MAX, NULL, .valid = rule_valid,
                    .syntax = "[.\\-_A-Za-z0-9]+", .help = "rule name"),
    CONF_STRING_KEY(config_rule, description, "description", 0, LIMIT_RULE_DESCRIPTION_MAX, "",
                    .help = "free text"),
    CONF_BOOL_KEY(config_rule, enabled, "enabled", 1, .help = "a disabled rule matches nothing"),
};

struct target {
    char queue[LIMIT_QUEUE_NAME_MAX + 1];
};
static const conf_key target_keys[] = {
    CONF_STRING_KEY(struct target, queue, "queue", 1, LIMIT_QUEUE_NAME_MAX, NULL,
                    .valid = queue_valid, .syntax = QUEUE_SYNTAX,
                    .help = "a queue of queues[] that receives matching events"),
};

static const conf_key function_keys[] = {
    CONF_STRING_KEY(config_function, name, "name", 1, LIMIT_FUNCTION_NAME_MAX, NULL,
                    .valid = queue_valid, .syntax = QUEUE_SYNTAX, .help = "function name"),
    CONF_STRING_KEY(config_function, handler, "handler", 1, LIMIT_HANDLER_NAME_MAX, NULL,
                    .valid = handler_valid, .syntax = "[A-Za-z0-9_.-]+",
                    .help = "name of a registered C handler"),
    CONF_STRING_KEY(config_function, queue, "queue", 1, LIMIT_QUEUE_NAME_MAX, NULL,
                    .valid = queue_valid, .syntax = QUEUE_SYNTAX,
                    .help = "the queue of queues[] it consumes"),
    CONF_INT_KEY(config_function, batch_size, "batchSize", 1, LIMIT_FN_BATCH_MAX,
                 LIMIT_FN_BATCH_DEFAULT, .help = "messages per invocation"),
    CONF_INT_KEY(config_function, batching_window_ms, "batchingWindowMs", 0,
                 LIMIT_FN_WINDOW_MS_MAX, LIMIT_FN_WINDOW_MS_DEFAULT,
                 .help = "wait up to this long to fill a batch"),
    CONF_INT_KEY(config_function, max_concurrency, "maxConcurrency", 1, LIMIT_FN_CONCURRENCY_MAX,
                 LIMIT_FN_CONCURRENCY_DEFAULT, .help = "batches processed at the same time"),
    CONF_INT_KEY(config_function, backoff_base_ms, "backoff.baseMs", 1, LIMIT_FN_BACKOFF_MS_MAX,
                 LIMIT_FN_BACKOFF_BASE_MS_DEFAULT,
                 .help = "first retry delay; retry n waits min(baseMs*2^(n-1), maxMs) with "
                         "jitter"),
    CONF_INT_KEY(config_function, backoff_max_ms, "backoff.maxMs", 1, LIMIT_FN_BACKOFF_MS_MAX,
                 LIMIT_FN_BACKOFF_MAX_MS_DEFAULT, .help = "longest retry delay"),
    CONF_INT_KEY(config_function, idempotency_ttl_s, "idempotencyTtlSeconds",
                 LIMIT_FN_IDEMPOTENCY_TTL_MIN, LIMIT_FN_IDEMPOTENCY_TTL_MAX,
                 LIMIT_FN_IDEMPOTENCY_TTL_DEFAULT,
                 .help = "processed event ids are remembered this long"),
    CONF_INT_KEY(config_function, timeout_s, "timeoutSeconds", 1, LIMIT_FN_TIMEOUT_S_MAX,
                 LIMIT_FN_TIMEOUT_S_DEFAULT,
                 .help = "a batch commits within this after its receive; the queue's "
                         "VisibilityTimeout must be at least this (as Lambda requires)"),
    CONF_BOOL_KEY(config_function, enabled, "enabled", 1,
                  .help = "a disabled function does not poll"),
};

/* An alarm while it is read: the definition plus the names of its enums. */
typedef struct alarm_row {
    alarm_def d;
    char statistic[16];
    char comparison[40];
    char missing[16];
} alarm_row;

static const conf_key alarm_keys[] = {
    CONF_STRING_KEY(alarm_row, d.name, "name", 1, LIMIT_ALARM_NAME_MAX, NULL,
                    .valid = alarm_name_valid, .syntax = "printable text", .help = "alarm name"),
    CONF_STRING_KEY(alarm_row, d.description, "description", 0, LIMIT_ALARM_DESCRIPTION_MAX, "",
                    .help = "free text"),
    CONF_STRING_KEY(alarm_row, d.metric.name, "metric", 1, LIMIT_METRICS_NAME_MAX, NULL,
                    .valid = alarm_metric_name_valid, .syntax = METRIC_SYNTAX,
                    .help = "a metric family of /metrics"),
    CONF_STRING_KEY(alarm_row, statistic, "statistic", 1, 15, NULL, .valid = stat_valid,
                    .syntax = "Maximum|Minimum|Average|Sum|SampleCount|pNN",
                    .help = "how a period's samples become one datapoint (pNN: histograms)"),
    CONF_INT_KEY(alarm_row, d.period_s, "periodSeconds", LIMIT_ALARM_PERIOD_S_MIN,
                 LIMIT_ALARM_PERIOD_S_MAX, 60,
                 .help = "length of a period; periods are aligned to the clock"),
    CONF_INT_KEY(alarm_row, d.evaluation_periods, "evaluationPeriods", 1,
                 LIMIT_ALARM_EVAL_PERIODS_MAX, 1,
                 .help = "N: the last N periods are evaluated (periodSeconds x N <= 86400)"),
    CONF_INT_KEY(alarm_row, d.datapoints_to_alarm, "datapointsToAlarm", 1,
                 LIMIT_ALARM_EVAL_PERIODS_MAX, 0,
                 .help = "M: ALARM when M of the N datapoints breach (1..N; default N)"),
    CONF_STRING_KEY(alarm_row, comparison, "comparisonOperator", 1, 39, NULL, .valid = cmp_valid,
                    .syntax =
                        "GreaterThanThreshold|GreaterThanOrEqualToThreshold|LessThanThreshold|"
                        "LessThanOrEqualToThreshold",
                    .help = "how a datapoint is compared with threshold"),
    CONF_STRING_KEY(alarm_row, missing, "treatMissingData", 1, 15, "missing",
                    .valid = missing_valid, .syntax = "missing|notBreaching|breaching|ignore",
                    .help = "what a period without data counts as"),
};

const conf_key *config_keys(size_t *n)
{
    *n = COUNT(top_keys);
    return top_keys;
}

const conf_key *config_queue_keys(size_t *n)
{
    *n = COUNT(queue_keys);
    return queue_keys;
}

const conf_key *config_rule_keys(size_t *n)
{
    *n = COUNT(rule_keys);
    return rule_keys;
}

const conf_key *config_function_keys(size_t *n)
{
    *n = COUNT(function_keys);
    return function_keys;
}

const conf_key *config_alarm_keys(size_t *n)
{
    *n = COUNT(alarm_keys);
    return alarm_keys;
}

/* ---- Arrays of the file -------------------------------------------------- */

/* Checks that v is an array of at most max objects; 0 or ORD_ECONFIG. */
static int check_array(const json_t *v, const char *path, size_t max, char *err, size_t errlen)
{
    if (!json_is_array(v)) return conf_errf(err, errlen, "\"%s\" must be an array", path);
    if (json_array_size(v) > max)
        return conf_errf(err, errlen, "\"%s\" has %zu entries; at most %zu are allowed", path,
                         json_array_size(v), max);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_object(e))
            return conf_errf(err, errlen, "\"%s[%zu]\" must be an object", path, i);
    }
    return 0;
}

static void *alloc_array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static int parse_queues(config *cfg, const json_t *arr, char *err, size_t errlen)
{
    int rc = check_array(arr, "queues", LIMIT_QUEUES_MAX, err, errlen);
    if (rc) return rc;
    size_t n = json_array_size(arr);
    if (!(cfg->queues = alloc_array(n, sizeof *cfg->queues))) return ORD_ENOMEM;
    static const char *const skip[] = {"attributes", NULL};
    for (size_t i = 0; i < n; i++) {
        config_queue *q = &cfg->queues[i];
        const json_t *e = json_array_get(arr, i);
        char path[CONF_PATH_MAX];
        snprintf(path, sizeof path, "queues[%zu]", i);
        conf_table_defaults(queue_keys, COUNT(queue_keys), q);
        queue_attrs_init(&q->attrs);
        cfg->nqueues = i + 1;
        if ((rc = conf_table_apply(queue_keys, COUNT(queue_keys), e, path, 0, skip, q, err, errlen)) ||
            (rc = conf_table_required(queue_keys, COUNT(queue_keys), q, path, err, errlen)))
            return rc;
        const json_t *attrs = json_object_get(e, "attributes");
        if (attrs) {
            char apath[CONF_PATH_MAX];
            conf_path_join(apath, sizeof apath, path, "attributes");
            if ((rc = queue_attrs_parse_at(attrs, apath, &q->attrs, err, errlen))) return rc;
        }
    }
    return 0;
}

static int parse_targets(config_rule *r, const json_t *arr, const char *path, char *err,
                         size_t errlen)
{
    int rc = check_array(arr, path, LIMIT_RULE_TARGETS_MAX, err, errlen);
    if (rc) return rc;
    if (json_array_size(arr) == 0)
        return conf_errf(err, errlen, "\"%s\" must have 1..%d entries, got none", path,
                         LIMIT_RULE_TARGETS_MAX);
    for (size_t j = 0; j < json_array_size(arr); j++) {
        struct target t;
        char tpath[CONF_PATH_MAX + 24];
        snprintf(tpath, sizeof tpath, "%s[%zu]", path, j);
        conf_table_defaults(target_keys, COUNT(target_keys), &t);
        if ((rc = conf_table_apply(target_keys, COUNT(target_keys), json_array_get(arr, j), tpath,
                                   0, NULL, &t, err, errlen)) ||
            (rc = conf_table_required(target_keys, COUNT(target_keys), &t, tpath, err, errlen)))
            return rc;
        memcpy(r->targets[j], t.queue, sizeof t.queue);
        r->ntargets = (int)j + 1;
    }
    return 0;
}

static int parse_rules(config *cfg, const json_t *arr, char *err, size_t errlen)
{
    int rc = check_array(arr, "rules", LIMIT_RULES_MAX, err, errlen);
    if (rc) return rc;
    size_t n = json_array_size(arr);
    if (!(cfg->rules = alloc_array(n, sizeof *cfg->rules))) return ORD_ENOMEM;
    static const char *const skip[] = {"eventPattern", "targets", NULL};
    for (size_t i = 0; i < n; i++) {
        config_rule *r = &cfg->rules[i];
        const json_t *e = json_array_get(arr, i);
        char path[CONF_PATH_MAX], sub[CONF_PATH_MAX];
        snprintf(path, sizeof path, "rules[%zu]", i);
        conf_table_defaults(rule_keys, COUNT(rule_keys), r);
        cfg->nrules = i + 1;
        if ((rc = conf_table_apply(rule_keys, COUNT(rule_keys), e, path, 0, skip, r, err, errlen)) ||
            (rc = conf_table_required(rule_keys, COUNT(rule_keys), r, path, err, errlen)))
            return rc;
        const json_t *pat = json_object_get(e, "eventPattern");
        conf_path_join(sub, sizeof sub, path, "eventPattern");
        if (!pat) return conf_errf(err, errlen, "missing required key \"%s\"", sub);
        if (!json_is_object(pat))
            return conf_errf(err, errlen, "\"%s\" must be an object (an event pattern)", sub);
        if (!(r->event_pattern = json_deep_copy(pat))) return ORD_ENOMEM;
        const json_t *targets = json_object_get(e, "targets");
        conf_path_join(sub, sizeof sub, path, "targets");
        if (!targets) return conf_errf(err, errlen, "missing required key \"%s\"", sub);
        if ((rc = parse_targets(r, targets, sub, err, errlen))) return rc;
    }
    return 0;
}

static int parse_functions(config *cfg, const json_t *arr, char *err, size_t errlen)
{
    int rc = check_array(arr, "functions", LIMIT_FUNCTIONS_MAX, err, errlen);
    if (rc) return rc;
    size_t n = json_array_size(arr);
    if (!(cfg->functions = alloc_array(n, sizeof *cfg->functions))) return ORD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        config_function *f = &cfg->functions[i];
        char path[CONF_PATH_MAX];
        snprintf(path, sizeof path, "functions[%zu]", i);
        conf_table_defaults(function_keys, COUNT(function_keys), f);
        cfg->nfunctions = i + 1;
        if ((rc = conf_table_apply(function_keys, COUNT(function_keys), json_array_get(arr, i),
                                   path, 0, NULL, f, err, errlen)) ||
            (rc = conf_table_required(function_keys, COUNT(function_keys), f, path, err, errlen)))
            return rc;
    }
    return 0;
}

/* "labels": {"name": "pattern", ...} into m; absent = none. */
static int parse_labels(alarm_metric *m, const json_t *obj, const char *path, char *err,
                        size_t errlen)
{
    if (!obj) return 0;
    if (!json_is_object(obj))
        return conf_errf(err, errlen, "\"%s\" must be an object of label name to pattern", path);
    if (json_object_size(obj) > LIMIT_ALARM_LABELS_MAX)
        return conf_errf(err, errlen, "\"%s\" has %zu labels; at most %d are allowed", path,
                         json_object_size(obj), LIMIT_ALARM_LABELS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!alarm_metric_name_valid(k))
            return conf_errf(err, errlen, "\"%s.%s\": \"%s\" is not a label name (%s)", path, k, k,
                             METRIC_SYNTAX);
        if (!json_is_string(v) || json_string_length(v) > LIMIT_ALARM_LABEL_VALUE_MAX)
            return conf_errf(err, errlen,
                             "\"%s.%s\" must be a string of 0..%d bytes (a value; '*' matches any "
                             "run, a leading '!' negates)",
                             path, k, LIMIT_ALARM_LABEL_VALUE_MAX);
        alarm_matcher *lm = &m->labels[m->nlabels++];
        str_copy(lm->name, sizeof lm->name, k);
        str_copy(lm->pattern, sizeof lm->pattern, json_string_value(v));
    }
    return 0;
}

static int parse_denominator(alarm_def *d, const json_t *obj, const char *path, char *err,
                             size_t errlen)
{
    char sub[CONF_PATH_MAX + 16];
    if (!json_is_object(obj))
        return conf_errf(err, errlen, "\"%s\" must be an object {metric, labels}", path);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcmp(k, "metric") && strcmp(k, "labels")) {
            conf_path_join(sub, sizeof sub, path, k);
            return conf_errf(err, errlen, "unknown key \"%s\"", sub);
        }
    }
    const json_t *metric = json_object_get(obj, "metric");
    conf_path_join(sub, sizeof sub, path, "metric");
    if (!metric) return conf_errf(err, errlen, "missing required key \"%s\"", sub);
    if (!json_is_string(metric) || !alarm_metric_name_valid(json_string_value(metric)))
        return conf_errf(err, errlen, "\"%s\" must be a metric name (%s)", sub, METRIC_SYNTAX);
    str_copy(d->denominator.name, sizeof d->denominator.name, json_string_value(metric));
    d->has_denominator = 1;
    conf_path_join(sub, sizeof sub, path, "labels");
    return parse_labels(&d->denominator, json_object_get(obj, "labels"), sub, err, errlen);
}

static int parse_alarm(alarm_row *row, const json_t *e, const char *path, char *err, size_t errlen)
{
    static const char *const skip[] = {"labels", "threshold", "denominator", NULL};
    char sub[CONF_PATH_MAX + 16];
    alarm_def *d = &row->d;
    int rc;
    memset(row, 0, sizeof *row);
    conf_table_defaults(alarm_keys, COUNT(alarm_keys), row);
    if ((rc =
             conf_table_apply(alarm_keys, COUNT(alarm_keys), e, path, 0, skip, row, err, errlen)) ||
        (rc = conf_table_required(alarm_keys, COUNT(alarm_keys), row, path, err, errlen)))
        return rc;
    CHECK(alarm_stat_parse(row->statistic, &d->statistic, &d->percentile) == 0);
    d->comparison = (alarm_cmp)alarm_cmp_parse(row->comparison);
    d->missing = (alarm_missing)alarm_missing_parse(row->missing);
    const json_t *t = json_object_get(e, "threshold");
    conf_path_join(sub, sizeof sub, path, "threshold");
    if (!t) return conf_errf(err, errlen, "missing required key \"%s\"", sub);
    if (!json_is_number(t) || !(fabs(json_number_value(t)) <= LIMIT_ALARM_THRESHOLD_ABS_MAX))
        return conf_errf(err, errlen, "\"%s\" must be a number with |x| <= %g", sub,
                         LIMIT_ALARM_THRESHOLD_ABS_MAX);
    d->threshold = json_number_value(t);
    conf_path_join(sub, sizeof sub, path, "labels");
    if ((rc = parse_labels(&d->metric, json_object_get(e, "labels"), sub, err, errlen))) return rc;
    const json_t *den = json_object_get(e, "denominator");
    conf_path_join(sub, sizeof sub, path, "denominator");
    if (den && (rc = parse_denominator(d, den, sub, err, errlen))) return rc;
    if (!d->datapoints_to_alarm) d->datapoints_to_alarm = d->evaluation_periods;
    if (d->datapoints_to_alarm > d->evaluation_periods)
        return conf_errf(err, errlen,
                         "\"%s.datapointsToAlarm\": %d is more than evaluationPeriods (%d)", path,
                         d->datapoints_to_alarm, d->evaluation_periods);
    if ((long long)d->period_s * d->evaluation_periods > LIMIT_ALARM_WINDOW_S_MAX)
        return conf_errf(err, errlen,
                         "\"%s\": periodSeconds x evaluationPeriods = %lld; at most %d", path,
                         (long long)d->period_s * d->evaluation_periods, LIMIT_ALARM_WINDOW_S_MAX);
    if (d->statistic == ALARM_STAT_PERCENTILE && d->has_denominator)
        return conf_errf(err, errlen, "\"%s\": a ratio (denominator) cannot use a percentile",
                         path);
    return 0;
}

static int parse_alarms(config *cfg, const json_t *arr, char *err, size_t errlen)
{
    int rc = check_array(arr, "alarms", LIMIT_ALARMS_MAX, err, errlen);
    if (rc) return rc;
    size_t n = json_array_size(arr);
    if (!(cfg->alarms = alloc_array(n, sizeof *cfg->alarms))) return ORD_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        alarm_row row;
        char path[CONF_PATH_MAX];
        snprintf(path, sizeof path, "alarms[%zu]", i);
        if ((rc = parse_alarm(&row, json_array_get(arr, i), path, err, errlen))) return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->alarms[j].name, row.d.name))
                return conf_errf(
                    err, errlen,
                    "\"alarms[%zu].name\": duplicate alarm name \"%s\" (also alarms[%zu])", i,
                    row.d.name, j);
        cfg->alarms[i] = row.d;
        cfg->nalarms = i + 1;
    }
    return 0;
}

/* ---- The file ---------------------------------------------------------- */

static int read_file(const char *file, char **buf, size_t *len, char *err, size_t errlen)
{
    int rc = 0;
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        return ORD_EIO;
    }
    char *b = malloc(LIMIT_CONFIG_BYTES_MAX + 1);
    if (!b) {
        rc = ORD_ENOMEM;
        goto out;
    }
    size_t n = fread(b, 1, LIMIT_CONFIG_BYTES_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", file, strerror(errno));
        rc = ORD_EIO;
    } else if (n > LIMIT_CONFIG_BYTES_MAX) {
        rc = conf_errf(err, errlen, "%s is larger than %d bytes", file, LIMIT_CONFIG_BYTES_MAX);
    }
    if (rc) {
        free(b);
        b = NULL;
    }
    *buf = b;
    *len = n;
out:
    fclose(f);
    return rc;
}

/* Reads and parses the file into *root (a JSON object). */
static int load_file(const char *file, json_t **root, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    json_error_t jerr;
    *root = NULL;
    int rc = read_file(file, &buf, &len, err, errlen);
    if (rc) return rc;
    if (!(*root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr))) {
        rc = conf_errf(err, errlen, "%s: line %d, column %d, position %d: %s", file, jerr.line, jerr.column,
                       jerr.position, jerr.text);
    } else if (!json_is_object(*root)) {
        rc = conf_errf(err, errlen, "%s: the top level must be a JSON object", file);
        json_decref(*root);
        *root = NULL;
    }
    free(buf);
    return rc;
}

/* ---- The topology: built-in, excluded, merged ------------------------------ */

extern const char config_builtin_topology[]; /* config/topology.json (generated) */

/* Parses the lists of root (queues, rules, functions, alarms) into cfg's
 * arrays, which must be empty. */
static int parse_lists(config *cfg, const json_t *root, char *err, size_t errlen)
{
    const json_t *v;
    int rc = 0;
    if ((v = json_object_get(root, "queues")) && (rc = parse_queues(cfg, v, err, errlen))) return rc;
    if ((v = json_object_get(root, "rules")) && (rc = parse_rules(cfg, v, err, errlen))) return rc;
    if ((v = json_object_get(root, "functions")) && (rc = parse_functions(cfg, v, err, errlen))) return rc;
    if ((v = json_object_get(root, "alarms")) && (rc = parse_alarms(cfg, v, err, errlen))) return rc;
    return 0;
}

static void drop_rule(void *e)
{
    json_decref(((config_rule *)e)->event_pattern);
}

/* One kind of entry: where its array, count and name are in a config. */
typedef struct list_kind {
    const char *key;      /* "queues" */
    const char *one;      /* "queue", for messages */
    size_t arr_off, n_off, size, name_off, max;
    void (*drop)(void *);
} list_kind;

#define KIND(key, one, arr, n, T, max, drop) \
    {key, one, offsetof(config, arr), offsetof(config, n), sizeof(T), offsetof(T, name), max, drop}
static const list_kind kinds[] = {
    KIND("queues", "queue", queues, nqueues, config_queue, LIMIT_QUEUES_MAX, NULL),
    KIND("rules", "rule", rules, nrules, config_rule, LIMIT_RULES_MAX, drop_rule),
    KIND("functions", "function", functions, nfunctions, config_function, LIMIT_FUNCTIONS_MAX, NULL),
    KIND("alarms", "alarm", alarms, nalarms, alarm_def, LIMIT_ALARMS_MAX, NULL),
};
#undef KIND

static char **arr_of(config *c, const list_kind *k)
{
    return (char **)((char *)c + k->arr_off);
}

static size_t *n_of(config *c, const list_kind *k)
{
    return (size_t *)((char *)c + k->n_off);
}

static const char *name_at(config *c, const list_kind *k, size_t i)
{
    return *arr_of(c, k) + i * k->size + k->name_off;
}

/* The built-in topology into cfg, every entry marked built-in. */
static int load_builtin(config *cfg, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loads(config_builtin_topology, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(root != NULL); /* the build embeds a file the tests load */
    int rc = parse_lists(cfg, root, err, errlen);
    json_decref(root);
    CHECK(rc == 0 || rc == ORD_ENOMEM);
    for (size_t i = 0; i < cfg->nqueues; i++) cfg->queues[i].builtin = 1;
    for (size_t i = 0; i < cfg->nrules; i++) cfg->rules[i].builtin = 1;
    for (size_t i = 0; i < cfg->nfunctions; i++) cfg->functions[i].builtin = 1;
    return rc;
}

/* "exclude": {"queues": [names], "rules": [...], "functions": [...],
 * "alarms": [...]}: drops those built-in entries (before the file's lists
 * are merged, so every entry of cfg is built-in here). */
static int apply_exclude(config *cfg, const json_t *ex, char *err, size_t errlen)
{
    if (!ex) return 0;
    if (!json_is_object(ex))
        return conf_errf(err, errlen, "\"exclude\" must be an object of kind (queues, rules, functions, alarms) "
                                      "to names of built-in entries");
    const char *key;
    json_t *names;
    json_object_foreach((json_t *)ex, key, names)
    {
        const list_kind *k = NULL;
        for (size_t i = 0; i < COUNT(kinds); i++)
            if (!strcmp(kinds[i].key, key)) k = &kinds[i];
        if (!k) return conf_errf(err, errlen, "unknown key \"exclude.%s\"", key);
        if (!json_is_array(names))
            return conf_errf(err, errlen, "\"exclude.%s\" must be an array of names", key);
        size_t j;
        json_t *v;
        json_array_foreach(names, j, v)
        {
            const char *name = json_string_value(v);
            size_t n = *n_of(cfg, k), at = n;
            for (size_t i = 0; name && i < n; i++)
                if (!strcmp(name_at(cfg, k, i), name)) at = i;
            if (at == n)
                return conf_errf(err, errlen, "\"exclude.%s[%zu]\": no built-in %s named \"%s\"", key, j, k->one,
                                 name ? name : "(not a string)");
            char *base = *arr_of(cfg, k);
            if (k->drop) k->drop(base + at * k->size);
            memmove(base + at * k->size, base + (at + 1) * k->size, (n - at - 1) * k->size);
            *n_of(cfg, k) = n - 1;
        }
    }
    return 0;
}

/* The file's entries first, in its order (so messages about them keep the
 * file's indexes), then the built-ins that no file entry names: a file
 * entry replaces the built-in of its name. */
static int merge_lists(config *cfg, config *file, char *err, size_t errlen)
{
    for (size_t ki = 0; ki < COUNT(kinds); ki++) {
        const list_kind *k = &kinds[ki];
        size_t nb = *n_of(cfg, k), nf = *n_of(file, k), n = nf;
        char *out = calloc(nb + nf ? nb + nf : 1, k->size), *b = *arr_of(cfg, k);
        if (!out) return ORD_ENOMEM;
        if (nf) memcpy(out, *arr_of(file, k), nf * k->size);
        for (size_t i = 0; i < nb; i++) {
            int replaced = 0;
            for (size_t j = 0; j < nf && !replaced; j++) replaced = !strcmp(name_at(file, k, j), name_at(cfg, k, i));
            if (replaced) {
                if (k->drop) k->drop(b + i * k->size);
            } else {
                memcpy(out + n++ * k->size, b + i * k->size, k->size);
            }
        }
        free(b);
        free(*arr_of(file, k));
        *arr_of(file, k) = NULL;
        *n_of(file, k) = 0;
        *arr_of(cfg, k) = out;
        *n_of(cfg, k) = n;
        if (n > k->max)
            return conf_errf(err, errlen, "\"%s\": %zu entries with the built-in topology; at most %zu are allowed "
                                          "(exclude built-ins, or set \"builtinTopology\": false)",
                             k->key, n, k->max);
    }
    return 0;
}

/* defaults < (built-in topology, exclude) < the file; lists merged by name. */
static int load_topology(config *cfg, const json_t *root, char *err, size_t errlen)
{
    int rc;
    if (cfg->builtin_topology && (rc = load_builtin(cfg, err, errlen))) return rc;
    if (!root) return 0;
    const json_t *ex = json_object_get(root, "exclude");
    if (ex && !cfg->builtin_topology)
        return conf_errf(err, errlen, "\"exclude\" needs the built-in topology (\"builtinTopology\" is false)");
    if ((rc = apply_exclude(cfg, ex, err, errlen))) return rc;
    config file = {0};
    rc = parse_lists(&file, root, err, errlen);
    if (!rc) rc = merge_lists(cfg, &file, err, errlen);
    for (size_t i = 0; i < file.nrules; i++) json_decref(file.rules[i].event_pattern);
    free(file.queues);
    free(file.rules);
    free(file.functions);
    free(file.alarms);
    return rc;
}

/* ---- Whole-config checks -------------------------------------------------- */

const config_queue *config_queue_find(const config *cfg, const char *name)
{
    size_t elen = strlen(cfg->env);
    for (size_t i = 0; i < cfg->nqueues; i++)
        if (strcmp(cfg->queues[i].name, name) == 0) return &cfg->queues[i];
    if (elen && strncmp(name, cfg->env, elen) == 0 && name[elen] == '-') {
        for (size_t i = 0; i < cfg->nqueues; i++)
            if (strcmp(cfg->queues[i].name, name + elen + 1) == 0) return &cfg->queues[i];
    }
    return NULL;
}

/* Replaces ref (a queue name, maybe env-prefixed) by the declared name. */
static int resolve_queue(const config *cfg, char *ref, size_t size, const char *path, char *err,
                         size_t errlen)
{
    const config_queue *q = config_queue_find(cfg, ref);
    if (!q) return conf_errf(err, errlen, "\"%s\": no queue \"%s\" in queues[]", path, ref);
    str_copy(ref, size, q->name);
    return 0;
}

/* How messages name entry i of a list: "queues[2]" for the file's, by
 * name for a built-in one: "queues[orders (built-in)]". */
static const char *entry_path(char *buf, size_t len, const char *key, size_t i, bool builtin, const char *name)
{
    if (builtin)
        snprintf(buf, len, "%s[%s (built-in)]", key, name);
    else
        snprintf(buf, len, "%s[%zu]", key, i);
    return buf;
}

static int check_queues(config *cfg, char *err, size_t errlen)
{
    size_t elen = strlen(cfg->env);
    size_t max = LIMIT_QUEUE_NAME_MAX - elen - 1;
    int rc;
    for (size_t i = 0; i < cfg->nqueues; i++) {
        config_queue *q = &cfg->queues[i];
        if (strlen(q->name) > max)
            return conf_errf(err, errlen,
                             "\"queues[%zu].name\": \"%s\" has %zu characters; with the "
                             "environment prefix \"%s-\" a queue name may have at most %zu",
                             i, q->name, strlen(q->name), cfg->env, max);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->queues[j].name, q->name) == 0)
                return conf_errf(err, errlen,
                                 "\"queues[%zu].name\": duplicate queue name \"%s\" (also "
                                 "queues[%zu])", i, q->name, j);
    }
    for (size_t i = 0; i < cfg->nqueues; i++) {
        config_queue *q = &cfg->queues[i];
        if (!q->attrs.max_receive) continue;
        char path[CONF_PATH_MAX], at[CONF_PATH_MAX / 2];
        snprintf(path, sizeof path, "%s.attributes.RedrivePolicy.deadLetterTargetArn",
                 entry_path(at, sizeof at, "queues", i, q->builtin, q->name));
        if ((rc = resolve_queue(cfg, q->attrs.dlq, sizeof q->attrs.dlq, path, err, errlen)))
            return rc;
        if (strcmp(q->attrs.dlq, q->name) == 0)
            return conf_errf(err, errlen, "\"%s\": queue \"%s\" cannot be its own dead-letter "
                             "queue", path, q->name);
    }
    return 0;
}

static int check_rules(config *cfg, char *err, size_t errlen)
{
    int rc;
    for (size_t i = 0; i < cfg->nrules; i++) {
        config_rule *r = &cfg->rules[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->rules[j].name, r->name) == 0)
                return conf_errf(err, errlen, "\"rules[%zu].name\": duplicate rule name \"%s\" "
                                 "(also rules[%zu])", i, r->name, j);
        for (int t = 0; t < r->ntargets; t++) {
            char path[CONF_PATH_MAX], at[CONF_PATH_MAX / 2];
            snprintf(path, sizeof path, "%s.targets[%d].queue", entry_path(at, sizeof at, "rules", i, r->builtin, r->name),
                     t);
            if ((rc = resolve_queue(cfg, r->targets[t], sizeof r->targets[t], path, err, errlen)))
                return rc;
            for (int u = 0; u < t; u++)
                if (strcmp(r->targets[u], r->targets[t]) == 0)
                    return conf_errf(err, errlen, "\"%s\": queue \"%s\" is already a target of "
                                     "this rule", path, r->targets[t]);
        }
    }
    return 0;
}

static int check_functions(config *cfg, char *err, size_t errlen)
{
    int rc;
    for (size_t i = 0; i < cfg->nfunctions; i++) {
        config_function *f = &cfg->functions[i];
        char path[CONF_PATH_MAX];
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->functions[j].name, f->name) == 0)
                return conf_errf(err, errlen, "\"functions[%zu].name\": duplicate function name "
                                 "\"%s\" (also functions[%zu])", i, f->name, j);
        char at[CONF_PATH_MAX / 2];
        entry_path(at, sizeof at, "functions", i, f->builtin, f->name);
        snprintf(path, sizeof path, "%s.queue", at);
        if ((rc = resolve_queue(cfg, f->queue, sizeof f->queue, path, err, errlen))) return rc;
        /* Lambda refuses an event source mapping whose queue's visibility
         * timeout is below the function timeout: records would be visible
         * (and their commits fenced) before a batch can finish */
        const config_queue *q = config_queue_find(cfg, f->queue);
        if (q->attrs.visibility_s < f->timeout_s)
            return conf_errf(err, errlen,
                             "\"%s.timeoutSeconds\": %d s is more than the VisibilityTimeout (%d s) of its queue "
                             "\"%s\"; a batch could not commit before its messages are visible again",
                             at, f->timeout_s, q->attrs.visibility_s, q->name);
    }
    return 0;
}

/* ---- Loading ------------------------------------------------------------- */

static int load(config *cfg, const char *file, const config_setting *settings, size_t n,
                char *err, size_t errlen)
{
    int rc = 0;
    json_t *root = NULL;
    static const char *const lists[] = {"queues", "rules", "functions", "alarms", "exclude", NULL};
    conf_table_defaults(top_keys, COUNT(top_keys), cfg);
    if (file) {
        if ((rc = load_file(file, &root, err, errlen))) return rc;
        str_copy(cfg->file, sizeof cfg->file, file);
        rc = conf_table_apply(top_keys, COUNT(top_keys), root, "", 0, lists, cfg, err, errlen);
    }
    if (!rc) rc = load_topology(cfg, root, err, errlen);
    json_decref(root);
    if (rc) return rc;

    for (size_t i = 0; i < COUNT(top_keys); i++) {
        const conf_key *k = &top_keys[i];
        const char *v = k->env ? getenv(k->env) : NULL;
        if (!v || !*v) continue; /* VAR= counts as unset, as in most shells' habits */
        char source[96];
        snprintf(source, sizeof source, "environment variable %s", k->env);
        if ((rc = conf_key_from_string(k, v, k->path, source, cfg, err, errlen))) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = conf_key_find(top_keys, COUNT(top_keys), settings[i].key);
        if (!k) return conf_errf(err, errlen, "unknown key \"%s\"", settings[i].key);
        char source[96];
        if (k->flag)
            snprintf(source, sizeof source, "--%s", k->flag);
        else
            snprintf(source, sizeof source, "setting %s", k->path);
        if ((rc = conf_key_from_string(k, settings[i].value, k->path, source, cfg, err, errlen)))
            return rc;
    }

    if (!cfg->env[0]) {
        str_copy(err, errlen, NOENV_MSG);
        return ORD_ENOENV;
    }
    if (cfg->orders.demo.min_orders > cfg->orders.demo.max_orders)
        return conf_errf(err, errlen, "\"orders.demoProducer.minOrders\" (%d) must not exceed "
                         "\"orders.demoProducer.maxOrders\" (%d)", cfg->orders.demo.min_orders,
                         cfg->orders.demo.max_orders);
    if ((rc = conf_table_expand(top_keys, COUNT(top_keys), cfg, cfg->env, err, errlen)) ||
        (rc = check_queues(cfg, err, errlen)) || (rc = check_rules(cfg, err, errlen)) ||
        (rc = check_functions(cfg, err, errlen)))
        return rc;
    return 0;
}

int config_load(const char *file, const config_setting *settings, size_t n, config **out,
                char *err, size_t errlen)
{
    char msg[LIMIT_CONFIG_ERR_MAX] = "";
    CHECK(out != NULL);
    *out = NULL;
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        snprintf(err, errlen, "config: out of memory");
        return ORD_ENOMEM;
    }
    int rc = load(cfg, file, settings, n, msg, sizeof msg);
    if (rc == ORD_ENOENV) {
        str_copy(err, errlen, msg);
    } else if (rc == ORD_ENOMEM) {
        snprintf(err, errlen, "config: out of memory");
    } else if (rc) {
        conf_errf(err, errlen, "config: %s", msg);
    }
    if (rc) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

void config_free(config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nrules; i++) json_decref(cfg->rules[i].event_pattern);
    free(cfg->rules);
    free(cfg->queues);
    free(cfg->functions);
    free(cfg->alarms);
    free(cfg);
}

int config_exit_code(int rc)
{
    switch (rc) {
    case CONFIG_RUN:
    case CONFIG_HELP:
    case CONFIG_PRINT: return 0;
    case ORD_EUSAGE:
    case ORD_ENOENV:
    case ORD_ECONFIG:
    case ORD_EIO: return 2;
    default: return 1;
    }
}

int config_resource_name(const config *cfg, const char *name, char *buf, size_t len)
{
    CHECK(len > 0);
    int n = snprintf(buf, len, "%s-%s", cfg->env, name);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = 0;
        return ORD_ELIMIT;
    }
    return 0;
}

/* ---- Output -------------------------------------------------------------- */

/* Appends a new object to arr; NULL when out of memory (arr keeps no half). */
static json_t *append_object(json_t *arr)
{
    json_t *o = json_object();
    return o && json_array_append_new(arr, o) == 0 ? o : NULL;
}

json_t *config_to_json(const config *cfg)
{
    json_t *root = json_object(), *queues, *rules, *fns, *alarm_arr, *o, *t;
    if (!root || conf_table_to_json(top_keys, COUNT(top_keys), cfg, root) ||
        json_object_set_new(root, "queues", queues = json_array()) ||
        json_object_set_new(root, "rules", rules = json_array()) ||
        json_object_set_new(root, "functions", fns = json_array()) ||
        json_object_set_new(root, "alarms", alarm_arr = json_array()))
        goto fail;
    /* the lists below are the whole effective topology: the output stands alone */
    if (json_object_set_new(root, "builtinTopology", json_false())) goto fail;
    for (size_t i = 0; i < cfg->nalarms; i++)
        if (json_array_append_new(alarm_arr, alarm_def_json(&cfg->alarms[i]))) goto fail;
    for (size_t i = 0; i < cfg->nqueues; i++) {
        const config_queue *q = &cfg->queues[i];
        if (!(o = append_object(queues)) || conf_table_to_json(queue_keys, COUNT(queue_keys), q, o) ||
            json_object_set_new(o, "attributes", queue_attrs_to_json(&q->attrs)))
            goto fail;
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        const config_rule *r = &cfg->rules[i];
        if (!(o = append_object(rules)) || conf_table_to_json(rule_keys, COUNT(rule_keys), r, o) ||
            (!r->description[0] && json_object_del(o, "description")) ||
            json_object_set(o, "eventPattern", r->event_pattern) ||
            json_object_set_new(o, "targets", t = json_array()))
            goto fail;
        for (int j = 0; j < r->ntargets; j++)
            if (json_array_append_new(t, json_pack("{s:s}", "queue", r->targets[j]))) goto fail;
    }
    for (size_t i = 0; i < cfg->nfunctions; i++) {
        if (!(o = append_object(fns)) ||
            conf_table_to_json(function_keys, COUNT(function_keys), &cfg->functions[i], o))
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

int config_print(const config *cfg, FILE *out)
{
    json_t *j = config_to_json(cfg);
    if (!j) return ORD_ENOMEM;
    int rc = json_dumpf(j, out, JSON_INDENT(2)) || fputc('\n', out) == EOF ? ORD_EIO : 0;
    json_decref(j);
    return rc;
}

void config_print_keys(FILE *out)
{
    size_t na;
    const conf_key *attrs = queue_attrs_keys(&na);
    fprintf(out, "configuration keys (precedence: default < config file < environment < flag):\n");
    conf_table_print(top_keys, COUNT(top_keys), "", out);
    fprintf(out,
            "\nThe lists below extend the built-in topology (config/topology.json) unless\n"
            "\"builtinTopology\" is false: an entry replaces the built-in of its name or adds one.\n"
            "  exclude  (object {\"queues\"|\"rules\"|\"functions\"|\"alarms\": [names]})\n"
            "      built-in entries to leave out\n");
    fprintf(out, "\nqueues[] (up to %d in all; resource name \"<env>-<name>\"):\n", LIMIT_QUEUES_MAX);
    conf_table_print(queue_keys, COUNT(queue_keys), "queues[].", out);
    conf_table_print(attrs, na, "queues[].attributes.", out);
    fprintf(out, "      (attribute values may also be decimal strings; RedrivePolicy may be a "
                 "JSON string, \"\" removes it)\n");
    fprintf(out, "\nrules[] (up to %d in all):\n", LIMIT_RULES_MAX);
    conf_table_print(rule_keys, COUNT(rule_keys), "rules[].", out);
    fprintf(out, "  rules[].eventPattern  (object, required)\n"
                 "      EventBridge event pattern the rule matches\n");
    fprintf(out, "  rules[].targets  (array of 1..%d {\"queue\": NAME}, required)\n"
                 "      queues of queues[] that receive matching events\n",
            LIMIT_RULE_TARGETS_MAX);
    fprintf(out, "\nfunctions[] (up to %d in all):\n", LIMIT_FUNCTIONS_MAX);
    conf_table_print(function_keys, COUNT(function_keys), "functions[].", out);
    fprintf(out, "\nalarms[] (up to %d in all):\n", LIMIT_ALARMS_MAX);
    conf_table_print(alarm_keys, COUNT(alarm_keys), "alarms[].", out);
    fprintf(out,
            "  alarms[].threshold  (number, |x| <= %g, required)\n"
            "      the datapoint is compared with this\n"
            "  alarms[].labels  (object of up to %d label name -> pattern)\n"
            "      which series count: '*' matches any run of characters, a leading '!' negates\n"
            "  alarms[].denominator  (object {metric, labels})\n"
            "      makes the datapoint the ratio metric / denominator (same statistic; 0/0 is "
            "missing)\n",
            LIMIT_ALARM_THRESHOLD_ABS_MAX, LIMIT_ALARM_LABELS_MAX);
}

void config_usage(FILE *out)
{
    fprintf(out, "usage: orderly serve --env NAME [--config FILE] [options]\n\n"
                 "Serves the HTTP API and runs the queues, rules and functions of one\n"
                 "environment until SIGTERM or SIGINT, then drains in-flight work and exits 0.\n\n"
                 "options:\n");
    for (size_t i = 0; i < COUNT(top_keys); i++) {
        const conf_key *k = &top_keys[i];
        if (!k->flag) continue;
        char opt[64], meta[32];
        const char *last = strrchr(k->path, '.');
        str_copy(meta, sizeof meta, k->metavar ? k->metavar : last ? last + 1 : k->path);
        for (char *p = meta; *p; p++)
            if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
        snprintf(opt, sizeof opt, "--%s %s", k->flag, meta);
        fprintf(out, "  %-24s %s (%s)\n", opt, k->help, k->env);
    }
    fprintf(out, "  %-24s %s\n", "--config FILE", "JSON config file (ORDERLY_CONFIG); see "
                                                  "config/orderly.json");
    fprintf(out, "  %-24s %s\n", "--print-config", "print the effective configuration as JSON "
                                                   "and exit");
    fprintf(out, "  %-24s %s\n\n", "-h, --help", "print this help and exit");
    config_print_keys(out);
}
