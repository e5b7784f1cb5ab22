/* serve.c - `orderly serve` and `orderly migrate`.
 *
 * serve builds the node: metrics registry -> store (migrations, writer) ->
 * queues (declared from the config, names prefixed with the environment) ->
 * bus rules -> functions -> HTTP -> alarms (evaluator thread).  The main
 * thread then waits for SIGTERM/SIGINT, and every MAINTENANCE_MS runs the
 * retention sweep when this node is the store's leader (one node of a
 * cluster on PostgreSQL; always on SQLite).  --mode api starts no function
 * pollers; --mode worker serves only /health, /ready, /metrics and
 * /api/health over HTTP.  On a signal: /ready goes 503, the listener closes, long
 * polls are answered, in-flight requests finish (up to http.drainSeconds),
 * pollers finish their batches, the alarms stop, the writer commits what is
 * pending, and the process exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "auth/auth.h"
#include "bus/bus.h"
#include "cmd/cmd.h"
#include "conf/config.h"
#include "fn/fn.h"
#include "http/api.h"
#include "http/console.h"
#include "http/static.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/alarms.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "orders/orders.h"
#include "queue/queue.h"
#include "store/faults.h"
#include "store/store.h"

#define MAINTENANCE_MS 30000

/* mkdir -p of the directory holding path */
static int make_parent(const char *path)
{
    char buf[LIMIT_DB_URL_MAX + 1];
    str_copy(buf, sizeof buf, path);
    char *dir = dirname(buf);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0755) && errno != EEXIST) return ORD_EIO;
        *p = '/';
    }
    if (mkdir(dir, 0755) && errno != EEXIST) return ORD_EIO;
    return 0;
}

static int open_store(const config *cfg, store **st)
{
    int url = !strncmp(cfg->db, "postgres://", 11) || !strncmp(cfg->db, "postgresql://", 13);
    if (!url && make_parent(cfg->db)) {
        log_error("serve", "cannot create the database directory", "db", cfg->db, NULL);
        return ORD_EIO;
    }
    store_opts o = {cfg->db, cfg->store.pending_max, cfg->store.batch_max, cfg->store.window_us,
                    cfg->store.admission_ms};
    return store_open(st, &o);
}

/* Declares the config's queues, dead-letter queues first. */
static int declare_queues(const config *cfg, queue_sys *qs)
{
    size_t done = 0, n = cfg->nqueues;
    char *ok = calloc(n ? n : 1, 1);
    if (!ok) return ORD_ENOMEM;
    int rc = 0;
    while (done < n) {
        size_t before = done;
        for (size_t i = 0; i < n; i++) {
            if (ok[i]) continue;
            queue_attrs a = cfg->queues[i].attrs;
            char name[LIMIT_QUEUE_NAME_MAX + 1];
            if ((rc = config_resource_name(cfg, cfg->queues[i].name, name, sizeof name))) goto out;
            if (a.max_receive > 0) {
                char dlq[LIMIT_QUEUE_NAME_MAX + 1];
                if ((rc = config_resource_name(cfg, a.dlq, dlq, sizeof dlq))) goto out;
                if (!queue_find(qs, dlq)) continue; /* its DLQ first */
                str_copy(a.dlq, sizeof a.dlq, dlq);
            }
            if ((rc = queue_declare(qs, name, &a, 1))) {
                log_error("serve", "cannot declare queue", "queue", name, "error", err_name(rc), NULL);
                goto out;
            }
            ok[i] = 1;
            done++;
        }
        if (done == before) {
            log_error("serve", "dead-letter queues form a cycle", NULL);
            rc = ORD_ECONFIG;
            goto out;
        }
    }
out:
    free(ok);
    return rc;
}

static int add_rules(const config *cfg, bus *b)
{
    for (size_t i = 0; i < cfg->nrules; i++) {
        const config_rule *r = &cfg->rules[i];
        char names[LIMIT_RULE_TARGETS_MAX][LIMIT_QUEUE_NAME_MAX + 1];
        const char *targets[LIMIT_RULE_TARGETS_MAX];
        char err[LIMIT_CONFIG_ERR_MAX];
        for (int k = 0; k < r->ntargets; k++) {
            if (config_resource_name(cfg, r->targets[k], names[k], sizeof names[k])) return ORD_ECONFIG;
            targets[k] = names[k];
        }
        int rc = bus_rule_add(b, r->name, r->description[0] ? r->description : NULL, r->event_pattern, targets,
                              r->ntargets, r->enabled, err, sizeof err);
        if (rc) {
            fprintf(stderr, "orderly: config: rules[%zu] (%s): %s\n", i, r->name, err);
            return ORD_ECONFIG;
        }
    }
    return 0;
}

static int add_functions(const config *cfg, fn_sys *fs)
{
    for (size_t i = 0; i < cfg->nfunctions; i++) {
        const config_function *f = &cfg->functions[i];
        char q[LIMIT_QUEUE_NAME_MAX + 1], err[LIMIT_CONFIG_ERR_MAX];
        if (config_resource_name(cfg, f->queue, q, sizeof q)) return ORD_ECONFIG;
        fn_config c = {f->name,           f->handler,        q,
                       f->batch_size,     f->batching_window_ms, f->max_concurrency,
                       f->backoff_base_ms, f->backoff_max_ms, f->idempotency_ttl_s,
                       f->timeout_s,      f->enabled};
        if (fn_add(fs, &c, err, sizeof err)) {
            fprintf(stderr, "orderly: config: functions[%zu]: %s\n", i, err);
            return ORD_ECONFIG;
        }
    }
    return 0;
}

/* ---- Alarms ------------------------------------------------------------------ */

typedef struct alarm_event {
    bus *b;
    bus_prepared p;
} alarm_event;

static int alarm_event_unit(store_conn *tx, void *arg)
{
    alarm_event *e = arg;
    return bus_publish_prepared_tx(tx, e->b, &e->p, NULL);
}

/* On the evaluator thread: every transition becomes an AlarmStateChanged
 * event in the event log, routed by the rules like any other. */
static void alarm_publish(void *arg, const alarm_transition *t)
{
    api *a = arg;
    /* several nodes: the event is the cluster's, published once, by the
     * leader (every node keeps its own state, log line and gauge) */
    if (!store_is_leader(a->st)) {
        log_info("alarms", "AlarmStateChanged left to the leader", "alarm", t->def->name, NULL);
        return;
    }
    alarm_event e = {.b = a->b};
    json_t *detail = alarm_transition_detail(t);
    bus_event ev = {
        .source = ALARM_EVENT_SOURCE, .detail_type = ALARM_EVENT_TYPE, .detail = detail};
    int rc = detail ? bus_prepare(a->b, &ev, &e.p) : ORD_ENOMEM;
    json_decref(detail);
    if (!rc) {
        rc = store_run(a->st, alarm_event_unit, &e);
        bus_prepared_release(&e.p);
    }
    if (rc)
        log_warn("alarms", "cannot publish AlarmStateChanged", "alarm", t->def->name, "error",
                 err_name(rc), NULL);
}

static int add_alarms(const config *cfg, alarms *al)
{
    for (size_t i = 0; i < cfg->nalarms; i++) {
        char err[LIMIT_CONFIG_ERR_MAX];
        int rc = alarms_add(al, &cfg->alarms[i], err, sizeof err);
        if (rc == ORD_ENOMEM) return rc;
        if (rc) {
            fprintf(stderr, "orderly: config: alarms[%zu] (%s): %s\n", i, cfg->alarms[i].name, err);
            return ORD_ECONFIG;
        }
    }
    return 0;
}

/* ---- Accounts ----------------------------------------------------------------------- */

/* A comma-separated list into rows of width w; at most LIMIT_HOSTS_MAX. */
static int split_list(const char *list, char *rows, size_t w, int *n, int max)
{
    char buf[LIMIT_HOSTS_MAX * 64];
    str_copy(buf, sizeof buf, list);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (*n >= max || strlen(t) >= w) return ORD_ECONFIG;
        str_copy(rows + (size_t)(*n)++ * w, w, t);
    }
    return 0;
}

static int loopback(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]") ||
           !strcmp(host, "::1") || !strncmp(host, "127.", 4);
}

/* The access settings of the HTTP layer, and the accounts module. */
static int open_auth(const config *cfg, store *st, api *a)
{
    char host[LIMIT_LISTEN_ADDR_MAX + 1];
    str_copy(host, sizeof host, cfg->listen);
    char *colon = strrchr(host, ':');
    if (colon) *colon = 0;
    a->access.enabled = cfg->auth.enabled;
    a->access.anonymous_orders = cfg->auth.anonymous_orders;
    a->access.metrics_public = cfg->auth.metrics_public;
    const char *always[] = {"localhost", "127.0.0.1", "[::1]", host};
    for (size_t i = 0; i < 4; i++)
        str_copy(a->access.hosts[a->access.nhosts++], sizeof a->access.hosts[0], always[i]);
    if (split_list(cfg->auth.allowed_hosts, a->access.hosts[0], sizeof a->access.hosts[0], &a->access.nhosts,
                   LIMIT_HOSTS_MAX) ||
        split_list(cfg->auth.trusted_proxies, a->access.proxies[0], sizeof a->access.proxies[0], &a->access.nproxies,
                   LIMIT_HOSTS_MAX)) {
        fprintf(stderr, "orderly: config: auth.allowedHosts / auth.trustedProxies: at most %d entries\n",
                LIMIT_HOSTS_MAX);
        return ORD_ECONFIG;
    }
    if (!cfg->auth.enabled) {
        if (!loopback(host)) {
            fprintf(stderr, "orderly: auth.enabled is false: refusing to listen on %s (not a loopback address); "
                            "every route would be open to the network\n", cfg->listen);
            return ORD_ECONFIG;
        }
        log_warn("serve", "accounts are off (auth.enabled false): every route is open on the loopback address",
                 NULL);
    }
    auth_config ac = {.enabled = cfg->auth.enabled,
                      .env = cfg->env,
                      .db = cfg->db,
                      .key_file = cfg->auth.key_file,
                      .previous_key_file = cfg->auth.previous_key_file,
                      .issuer = cfg->auth.issuer,
                      .audience = cfg->auth.audience,
                      .access_ttl_s = cfg->auth.access_ttl_s,
                      .refresh_ttl_s = cfg->auth.refresh_ttl_s,
                      .cost = {(unsigned long long)cfg->auth.argon2_iterations, (size_t)cfg->auth.argon2_memory_kib},
                      .hash_threads = cfg->auth.hash_threads,
                      .hash_queue = cfg->auth.hash_queue,
                      .login_attempts = cfg->auth.login_attempts,
                      .rate_per_s = cfg->auth.rate_per_s,
                      .rate_burst = cfg->auth.rate_burst};
    char err[LIMIT_CONFIG_ERR_MAX];
    int rc = auth_open(st, &ac, &a->auth, err, sizeof err);
    if (!rc) rc = auth_bootstrap(a->auth, err, sizeof err);
    if (rc) fprintf(stderr, "orderly: auth: %s\n", err);
    return rc;
}

/* The sweeps of the main thread's loop. */
/* The cluster's periodic work: on the store's leader only (one node of a
 * cluster on PostgreSQL; always on SQLite), and once at every node's start
 * (a node may not know yet whether it leads).  Each sweep stays correct if
 * two nodes run it at once. */
static void maintenance(const config *cfg, queue_sys *qs, bus *b, tasks *tk, auth *au, int at_start)
{
    if (!at_start && !store_is_leader(queue_sys_store(qs))) return;
    int64_t n;
    queue_sweep_retention(qs, &n);
    if (!queue_sweep_deleted(qs, &n) && n) log_info("queue", "deleted queues' messages removed", "#count", n, NULL);
    bus_archive_sweep(b, cfg->events.retention_days, &n);
    if (tk) tasks_sweep(tk, cfg->events.retention_days, &n); /* finished tasks: kept as long as the events */
    if (au && cfg->auth.enabled) {
        if (!auth_audit_sweep(au, cfg->auth.audit_retention_days, &n) && n)
            log_info("auth", "audit rows past retention deleted", "#count", n, NULL);
        auth_refresh_sweep(au, &n);
    }
}

static int usage_or_config(int argc, char **argv, config **cfg, int *exit_code)
{
    char err[LIMIT_CONFIG_ERR_MAX];
    int rc = config_from_args(argc, argv, cfg, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_usage(stdout);
        *exit_code = CMD_OK;
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "orderly: %s\n", err);
        *exit_code = config_exit_code(rc);
        return 1;
    }
    if (rc == CONFIG_PRINT) {
        *exit_code = config_print(*cfg, stdout) ? CMD_FAIL : CMD_OK;
        config_free(*cfg);
        return 1;
    }
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    config *cfg = NULL;
    int code = CMD_FAIL, rc;
    if (usage_or_config(argc, argv, &cfg, &code)) return code;

    /* every thread created from here on inherits the blocked signals;
     * only the main thread takes them, with sigtimedwait */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_setup(cfg->env, cfg->log_level);
    store *st = NULL;
    queue_sys *qs = NULL;
    bus *b = NULL;
    fn_sys *fs = NULL;
    orders *ord = NULL;
    orders_demo *demo = NULL;
    http_server *srv = NULL;
    metrics *met = NULL;
    api a = {.env = cfg->env, .admission_ms = cfg->store.admission_ms};
    if ((rc = id_init())) goto out;
    if (!(met = metrics_new())) {
        rc = ORD_ENOMEM;
        goto out;
    }
    if ((rc = open_store(cfg, &st))) goto out;
    if ((rc = queue_sys_open(st, &qs))) goto out;
    queue_sys_set_depth_max(qs, cfg->store.queue_depth_max);
    if ((rc = declare_queues(cfg, qs))) goto out;
    if ((rc = bus_open(qs, &b)) || (rc = add_rules(cfg, b))) goto out;
    orders_config oc = {.env = cfg->env,
                        .reservation_timeout_ms = (int64_t)cfg->orders.reservation_timeout_s * 1000,
                        .max_units = cfg->orders.max_units,
                        .max_value_cents = cfg->orders.max_value_cents,
                        .fail_sku = cfg->orders.fail_sku,
                        .test_hooks = cfg->orders.test_hooks,
                        .idempotency_key_ttl_ms = (int64_t)cfg->orders.idempotency_key_ttl_s * 1000,
                        .breaker = {cfg->payments.breaker.enabled, cfg->payments.breaker.threshold,
                                    (int64_t)cfg->payments.breaker.window_s * 1000,
                                    (int64_t)cfg->payments.breaker.cooldown_s * 1000},
                        .breaker_retry_ms = (int64_t)cfg->payments.breaker.retry_s * 1000,
                        .sim_outage = !strcmp(cfg->payments.simulator.mode, "outage"),
                        .sim_latency_ms = cfg->payments.simulator.latency_ms};
    if ((rc = orders_open(st, qs, b, &oc, &ord))) goto out;
    if ((rc = fn_sys_open(qs, &fs)) || (rc = orders_register(ord, fs))) goto out;
    fn_sys_set_metrics(fs, met);
    /* an api node declares the functions (statistics, the pipeline check)
     * but polls nothing: the worker nodes do */
    fn_sys_poll_here(fs, strcmp(cfg->mode, "api") != 0);
    if ((rc = add_functions(cfg, fs))) goto out;
    if (cfg->orders.catalog[0]) {
        char err[LIMIT_CONFIG_ERR_MAX], path[2 * LIMIT_DB_URL_MAX + 2], dir[LIMIT_DB_URL_MAX + 1];
        int added;
        /* a relative catalog path is relative to the config file */
        str_copy(dir, sizeof dir, cfg->file);
        if (cfg->orders.catalog[0] != '/' && cfg->file[0])
            snprintf(path, sizeof path, "%s/%s", dirname(dir), cfg->orders.catalog);
        else
            str_copy(path, sizeof path, cfg->orders.catalog);
        if ((rc = products_seed_file(ord, path, &added, err, sizeof err))) {
            fprintf(stderr, "orderly: catalog: %s\n", err);
            goto out;
        }
        log_info("serve", "catalog loaded", "file", path, "#added", (int64_t)added, NULL);
    }
    if ((rc = orders_start(ord)) || (rc = fn_start(fs))) goto out;
    if ((rc = tasks_open(st, b, qs, &a.tasks)) || (rc = tasks_start(a.tasks))) goto out;
    int gaps[ORDERS_STAGES];
    if (orders_pipeline_gaps(ord, fs, 0, gaps))
        for (int i = 0; i < ORDERS_STAGES; i++)
            if (gaps[i])
                log_warn("serve", "no enabled function consumes this stage of the order flow: orders will stop there",
                         "stage", orders_stages[i], NULL);
    if (cfg->orders.demo.interval_s &&
        (rc = orders_demo_start(ord, cfg->orders.demo.interval_s, cfg->orders.demo.min_orders,
                                cfg->orders.demo.max_orders, &demo)))
        goto out;
    a.st = st;
    a.qs = qs;
    a.b = b;
    a.fs = fs;
    a.o = ord;
    if ((rc = open_auth(cfg, st, &a))) goto out;
    if ((rc = api_metrics_init(&a, met))) goto out;
    if ((rc = console_open(&a, &a.console))) goto out;
    /* created before the server so GET /api/alarms can read it; filled after,
     * once the server has registered the HTTP metric families */
    if (!(a.alarms = alarms_new(met, cfg->alarm_sample_s, alarm_publish, &a))) {
        rc = ORD_ENOMEM;
        goto out;
    }
    http_opts ho = {.listen = cfg->listen,
                    .threads = cfg->http.threads,
                    .connections_max = cfg->http.connections_max,
                    .per_ip_max = cfg->http.connections_per_ip,
                    .timeout_s = cfg->http.timeout_s,
                    .send_timeout_s = cfg->http.send_timeout_s,
                    .body_bytes_max = (size_t)cfg->http.body_bytes_max,
                    .routes = strcmp(cfg->mode, "worker") ? api_routes : api_worker_routes,
                    .app = &a,
                    .ready = api_ready,
                    .fallback = api_console_fallback,
                    .guard = api_guard,
                    .done = api_done,
                    .metrics = met};
    if ((rc = http_server_start(&ho, &srv))) goto out;
    if ((rc = add_alarms(cfg, a.alarms)) || (rc = alarms_start(a.alarms))) goto out;
    atomic_store(&a.ready, 1);
    faults_arm(); /* orderly-faults: the fault loops count from here */
    char db[LIMIT_DB_URL_MAX + 1];
    store_path_redact(cfg->db, db, sizeof db);
    log_info("serve", "serving", "listen", cfg->listen, "db", db, "backend", store_backend_name(st), "mode", cfg->mode,
             "#schemaVersion",
             (int64_t)store_schema_version(st), "#queues", (int64_t)queue_count(qs), "#rules",
             (int64_t)bus_rule_count(b), "#functions", (int64_t)fn_count(fs), NULL);

    int sig;
    maintenance(cfg, qs, b, a.tasks, a.auth, 1); /* at start too: what expired while the node was down goes now */
    for (;;) {
        struct timespec ts = {MAINTENANCE_MS / 1000, 0};
        sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (sig < 0 && errno == EAGAIN) maintenance(cfg, qs, b, a.tasks, a.auth, 0);
    }
    log_info("serve", "draining", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", "#drainSeconds",
             (int64_t)cfg->http.drain_s, NULL);
    int64_t t0 = clock_mono_ms();
    atomic_store(&a.ready, 0);
    orders_demo_stop(demo); /* no new orders from inside */
    demo = NULL;
    atomic_store(&a.draining, 1); /* before the listener closes: /api/health says so */
    http_server_quiesce(srv);
    console_quiesce(a.console); /* the console's streams end */
    for (int i = 0; i < queue_count(qs); i++) queue_interrupt(queue_at(qs, i));
    /* in-flight requests finish; requests on kept-alive connections are
     * still served (each reply closes its connection) */
    if (http_server_drain(srv, cfg->http.drain_s * 1000))
        log_warn("serve", "drain timed out; closing remaining connections", NULL);
    tasks_stop(a.tasks); /* after the page in progress; unfinished tasks go on at the next start */
    fn_stop(fs);
    log_info("serve", "drained", "#ms", clock_mono_ms() - t0, NULL);
    rc = 0;
out:
    if (rc) log_error("serve", "cannot serve", "error", err_name(rc), "detail", err_msg(rc), NULL);
    if (a.alarms) alarms_stop(a.alarms); /* its transitions publish through the store */
    console_quiesce(a.console);          /* streams end, the sampler stops */
    orders_demo_stop(demo);
    if (srv) {
        /* from here no handler runs (a request arriving now would suspend
         * after the last drain and trip the stop); long polls still
         * suspended are answered */
        http_server_refuse(srv);
        atomic_store(&a.draining, 1);
        for (int i = 0; qs && i < queue_count(qs); i++) queue_interrupt(queue_at(qs, i));
        http_server_drain(srv, 2000);
        http_server_stop(srv);
    }
    alarms_free(a.alarms);   /* after the server: GET /api/alarms reads it */
    api_metrics_release(&a); /* its collectors read the modules closed below */
    tasks_close(a.tasks); /* after the server: its requests start tasks */
    fn_sys_close(fs);
    auth_close(a.auth); /* after the server: its requests use it */
    orders_close(ord);
    bus_close(b);
    queue_sys_close(qs);
    store_close(st);
    console_close(a.console); /* after the writer: its bus observer feeds the streams */
    metrics_free(met); /* after the pollers (fn_sys_close) that observe into it */
    if (!rc) log_info("serve", "stopped", NULL);
    config_free(cfg);
    return rc ? (rc == ORD_ECONFIG ? CMD_USAGE : CMD_FAIL) : CMD_OK;
}

int migrate_copy_wanted(int argc, char **argv);
int cmd_migrate_copy(int argc, char **argv);

int cmd_migrate(int argc, char **argv)
{
    config *cfg = NULL;
    int code = CMD_FAIL;
    if (migrate_copy_wanted(argc, argv)) return cmd_migrate_copy(argc, argv); /* migrate.c */
    if (usage_or_config(argc, argv, &cfg, &code)) return code;
    log_setup(cfg->env, cfg->log_level);
    store *st = NULL;
    int rc = id_init();
    if (!rc) rc = open_store(cfg, &st);
    char db[LIMIT_DB_URL_MAX + 1];
    store_path_redact(cfg->db, db, sizeof db);
    if (!rc) printf("database %s at schema version %d\n", db, store_schema_version(st));
    store_close(st);
    config_free(cfg);
    if (rc) fprintf(stderr, "orderly migrate: %s\n", err_msg(rc));
    return rc ? CMD_FAIL : CMD_OK;
}
