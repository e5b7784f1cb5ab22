/* test_config.c - conf/config, conf/queue_attrs, conf/table: defaults,
 * precedence (default < file < environment < flag), every bounded key at and
 * one past its limits (driven by the key tables), unknown keys with their
 * paths, cross references, the CLI flags and the shipped config/orderly.json. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf/config.h"
#include "lib/err.h"

#define NOENV "ENVIRONMENT is not set (use --env NAME or ENVIRONMENT=NAME)"

static char err[LIMIT_CONFIG_ERR_MAX];
static config *cfg;
static char tmp_path[64];

static void unset_env(void)
{
    size_t n;
    const conf_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (k[i].env) unsetenv(k[i].env);
    unsetenv("ORDERLY_CONFIG");
}

static void cleanup(void)
{
    config_free(cfg);
    cfg = NULL;
    if (tmp_path[0]) unlink(tmp_path);
    tmp_path[0] = 0;
}

TestSuite(config, .init = unset_env, .fini = cleanup);

/* ---- Helpers ------------------------------------------------------------ */

/* JSON written with single quotes for readability: {'a':1} -> {"a":1}. */
static const char *dq(const char *s)
{
    static char bufs[4][8192];
    static int next;
    char *b = bufs[next++ % 4];
    cr_assert(lt(sz, strlen(s), sizeof bufs[0]));
    size_t i = 0;
    for (; s[i]; i++) b[i] = s[i] == '\'' ? '"' : s[i];
    b[i] = 0;
    return b;
}

static const char *write_tmp(const char *text)
{
    if (tmp_path[0]) unlink(tmp_path);
    snprintf(tmp_path, sizeof tmp_path, "/tmp/orderly-test-config-XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert(ge(int, fd, 0));
    size_t n = strlen(text);
    cr_assert(eq(sz, (size_t)write(fd, text, n), n));
    close(fd);
    return tmp_path;
}

/* Loads text (single quotes allowed; NULL: no file) plus settings. */
static int load_with(const char *text, const config_setting *s, size_t n)
{
    config_free(cfg);
    cfg = NULL;
    err[0] = 0;
    return config_load(text ? write_tmp(dq(text)) : NULL, s, n, &cfg, err, sizeof err);
}

/* As load_with, with --env dev, on the built-in topology. */
static int load_on_builtin(const char *text)
{
    const config_setting env = {"env", "dev"};
    return load_with(text, &env, 1);
}

/* As load_on_builtin, but a file stands alone: unless the text sets
 * "builtinTopology", it gets false, so the lists are exactly the file's. */
static int load(const char *text)
{
    static char alone[8192];
    if (text && !strstr(text, "builtinTopology") && text[0] == '{') {
        cr_assert(lt(sz, strlen(text) + 32, sizeof alone));
        snprintf(alone, sizeof alone, "{'builtinTopology':false%s%s", text[1] == '}' ? "" : ",", text + 1);
        text = alone;
    }
    return load_on_builtin(text);
}

static int load_json(json_t *root)
{
    char *text = json_dumps(root, 0);
    json_decref(root);
    cr_assert(not(eq(ptr, text, NULL)));
    int rc = load(text);
    free(text);
    return rc;
}

/* {"a": {"b": leaf}} from "a.b"; steals leaf. */
static json_t *nest(const char *path, json_t *leaf)
{
    const char *dot = strrchr(path, '.');
    if (!dot) {
        json_t *o = json_object();
        json_object_set_new(o, path, leaf);
        return o;
    }
    char head[CONF_PATH_MAX];
    snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
    json_t *o = json_object();
    json_object_set_new(o, dot + 1, leaf);
    return nest(head, o);
}

/* The value at a dotted path of a JSON object, or NULL. */
static json_t *get_path(json_t *obj, const char *path)
{
    char buf[CONF_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *p = strtok_r(buf, ".", &save); p && obj; p = strtok_r(NULL, ".", &save))
        obj = json_object_get(obj, p);
    return obj;
}

static long long json_int_at(json_t *obj, const char *path)
{
    json_t *v = get_path(obj, path);
    cr_assert(not(eq(ptr, v, NULL)), "no %s in the JSON", path);
    int is_int = json_is_integer(v);
    cr_assert(is_int, "%s is not an integer", path);
    return json_integer_value(v);
}

#define assert_err_has(s) cr_assert(not(eq(ptr, strstr(err, s), NULL)), "error \"%s\" lacks \"%s\"", err, s)

static char *repeat(char c, size_t n)
{
    static char b[2][2048];
    static int next;
    char *s = b[next++ % 2];
    cr_assert(lt(sz, n, sizeof b[0]));
    memset(s, c, n);
    s[n] = 0;
    return s;
}

/* ---- Defaults ------------------------------------------------------------ */

Test(config, defaults)
{
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    cr_assert(eq(str, cfg->env, "dev"));
    cr_assert(eq(str, cfg->listen, "127.0.0.1:8080"));
    cr_assert(eq(str, cfg->db, "data/dev.db"));
    cr_assert(eq(int, (int)cfg->log_level, (int)LOG_INFO));
    cr_assert(eq(int, cfg->http.threads, LIMIT_HTTP_THREADS_DEFAULT));
    cr_assert(eq(int, cfg->http.connections_max, LIMIT_HTTP_CONNECTIONS_DEFAULT));
    cr_assert(eq(int, cfg->http.connections_per_ip, LIMIT_HTTP_PER_IP_DEFAULT));
    cr_assert(eq(int, cfg->http.timeout_s, LIMIT_HTTP_TIMEOUT_S_DEFAULT));
    cr_assert(eq(int, cfg->http.body_bytes_max, LIMIT_HTTP_BODY_BYTES_MAX));
    cr_assert(eq(int, cfg->http.drain_s, LIMIT_HTTP_DRAIN_S_DEFAULT));
    cr_assert(eq(int, cfg->store.pending_max, LIMIT_STORE_PENDING_DEFAULT));
    cr_assert(eq(int, cfg->store.batch_max, LIMIT_STORE_BATCH_DEFAULT));
    cr_assert(eq(int, cfg->store.window_us, LIMIT_STORE_WINDOW_US_DEFAULT));
    /* without a file: the built-in topology, the seeds' flow */
    cr_assert(eq(sz, cfg->nqueues, 6));
    cr_assert(eq(sz, cfg->nrules, 3));
    cr_assert(eq(sz, cfg->nfunctions, 3));
    cr_assert(eq(sz, cfg->nalarms, 8));
    cr_assert(eq(int, cfg->builtin_topology, 1));
    cr_assert(eq(str, cfg->file, ""));
}

Test(config, defaults_follow_the_table)
{
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    json_t *j = config_to_json(cfg);
    size_t n, checked = 0;
    const conf_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++, checked++) {
        json_t *v = get_path(j, k[i].path);
        cr_assert(not(eq(ptr, v, NULL)), "%s missing from config_to_json", k[i].path);
        if (k[i].type == CONF_INT)
            cr_assert(eq(i64, json_integer_value(v), k[i].def), "%s", k[i].path);
        else if (k[i].type == CONF_LEVEL)
            cr_assert(eq(str, (char *)json_string_value(v), (char *)conf_level_name(k[i].def)));
        else if (k[i].type == CONF_STRING && k[i].def_str && !strstr(k[i].def_str, "<env>"))
            cr_assert(eq(str, (char *)json_string_value(v), (char *)k[i].def_str), "%s", k[i].path);
    }
    cr_assert(eq(sz, checked, n));
    cr_assert(ge(sz, n, 13));
    json_decref(j);
}

Test(config, element_defaults)
{
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],"
                           "'rules':[{'name':'r','eventPattern':{'source':['x']},'targets':[{'queue':'q'}]}],"
                           "'functions':[{'name':'f','handler':'h','queue':'q'}]}"), 0), "%s", err);
    const queue_attrs *a = &cfg->queues[0].attrs;
    cr_assert(eq(int, a->visibility_s, 30));
    cr_assert(eq(int, a->delay_s, 0));
    cr_assert(eq(int, a->retention_s, 345600));
    cr_assert(eq(int, a->max_size, 262144));
    cr_assert(eq(int, a->wait_s, 0));
    cr_assert(eq(int, a->max_receive, 0));
    cr_assert(eq(str, (char *)a->dlq, ""));
    cr_assert(eq(str, cfg->rules[0].description, ""));
    cr_assert(eq(int, cfg->rules[0].enabled, 1));
    cr_assert(eq(int, cfg->rules[0].ntargets, 1));
    cr_assert(eq(str, cfg->rules[0].targets[0], "q"));
    const config_function *f = &cfg->functions[0];
    cr_assert(eq(int, f->batch_size, 10));
    cr_assert(eq(int, f->batching_window_ms, 0));
    cr_assert(eq(int, f->max_concurrency, 2));
    cr_assert(eq(int, f->backoff_base_ms, 1000));
    cr_assert(eq(int, f->backoff_max_ms, 60000));
    cr_assert(eq(int, f->idempotency_ttl_s, 604800));
    cr_assert(eq(int, f->enabled, 1));
    cr_assert(eq(str, (char *)f->handler, "h"));
}

/* ---- Precedence ------------------------------------------------------------ */

Test(config, precedence_file_env_flag)
{
    const char *file = "{'listen':'10.0.0.1:1','http':{'threads':3}}";
    cr_assert(eq(int, load(file), 0), "%s", err);
    cr_assert(eq(str, cfg->listen, "10.0.0.1:1"));
    cr_assert(eq(int, cfg->http.threads, 3));

    setenv("ORDERLY_LISTEN", "10.0.0.2:2", 1);
    setenv("ORDERLY_HTTP_THREADS", "4", 1);
    cr_assert(eq(int, load(file), 0), "%s", err);
    cr_assert(eq(str, cfg->listen, "10.0.0.2:2"));
    cr_assert(eq(int, cfg->http.threads, 4));

    const config_setting s[] = {{"env", "dev"}, {"listen", "10.0.0.3:3"}};
    cr_assert(eq(int, load_with(file, s, 2), 0), "%s", err);
    cr_assert(eq(str, cfg->listen, "10.0.0.3:3"));
    cr_assert(eq(int, cfg->http.threads, 4));

    setenv("ORDERLY_LISTEN", "", 1); /* empty counts as unset */
    cr_assert(eq(int, load(file), 0), "%s", err);
    cr_assert(eq(str, cfg->listen, "10.0.0.1:1"));
}

Test(config, precedence_of_env_name_and_db_default)
{
    cr_assert(eq(int, load_with("{'env':'fromfile'}", NULL, 0), 0), "%s", err);
    cr_assert(eq(str, cfg->env, "fromfile"));
    cr_assert(eq(str, cfg->db, "data/fromfile.db"));
    setenv("ENVIRONMENT", "fromenv", 1);
    cr_assert(eq(int, load_with("{'env':'fromfile'}", NULL, 0), 0), "%s", err);
    cr_assert(eq(str, cfg->env, "fromenv"));
    cr_assert(eq(str, cfg->db, "data/fromenv.db"));
    const config_setting s = {"env", "fromflag"};
    cr_assert(eq(int, load_with("{'env':'fromfile'}", &s, 1), 0), "%s", err);
    cr_assert(eq(str, cfg->env, "fromflag"));
    cr_assert(eq(str, cfg->db, "data/fromflag.db"));
    setenv("ORDERLY_DB", "/var/lib/x.db", 1);
    cr_assert(eq(int, load_with(NULL, &s, 1), 0), "%s", err);
    cr_assert(eq(str, cfg->db, "/var/lib/x.db"));
}

Test(config, level_from_each_source)
{
    cr_assert(eq(int, load("{'log':{'level':'warn'}}"), 0), "%s", err);
    cr_assert(eq(int, (int)cfg->log_level, (int)LOG_WARN));
    setenv("ORDERLY_LOG_LEVEL", "error", 1);
    cr_assert(eq(int, load("{'log':{'level':'warn'}}"), 0), "%s", err);
    cr_assert(eq(int, (int)cfg->log_level, (int)LOG_ERROR));
    const config_setting s[] = {{"env", "dev"}, {"log.level", "debug"}};
    cr_assert(eq(int, load_with(NULL, s, 2), 0), "%s", err);
    cr_assert(eq(int, (int)cfg->log_level, (int)LOG_DEBUG));
    setenv("ORDERLY_LOG_LEVEL", "off", 1);
    cr_assert(eq(int, load(NULL), ORD_ECONFIG));
    assert_err_has("\"log.level\" must be one of debug, info, warn, error, got \"off\"");
    assert_err_has("ORDERLY_LOG_LEVEL");
}

Test(config, mode_from_each_source)
{
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    cr_assert(eq(str, cfg->mode, "all"));
    cr_assert(eq(int, load("{'mode':'api'}"), 0), "%s", err);
    cr_assert(eq(str, cfg->mode, "api"));
    setenv("ORDERLY_MODE", "worker", 1);
    cr_assert(eq(int, load("{'mode':'api'}"), 0), "%s", err);
    cr_assert(eq(str, cfg->mode, "worker"));
    const config_setting s[] = {{"env", "dev"}, {"mode", "all"}};
    cr_assert(eq(int, load_with(NULL, s, 2), 0), "%s", err);
    cr_assert(eq(str, cfg->mode, "all"));
    unsetenv("ORDERLY_MODE");
    /* lengths 3..6 (all .. worker), and only the three words */
    const char *bad[] = {"both", "al", "workers", "API", "", "apiall"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const config_setting b[] = {{"env", "dev"}, {"mode", bad[i]}};
        cr_assert(eq(int, load_with(NULL, b, 2), ORD_ECONFIG), "mode \"%s\" accepted", bad[i]);
        assert_err_has("\"mode\"");
        assert_err_has("all|api|worker");
    }
}

/* ---- The environment name ---------------------------------------------------- */

Test(config, missing_env_is_a_distinct_error)
{
    cr_assert(eq(int, load_with(NULL, NULL, 0), ORD_ENOENV));
    cr_assert(eq(str, err, NOENV));
    cr_assert(eq(ptr, cfg, NULL));
    cr_assert(eq(int, load_with("{'listen':'a:1'}", NULL, 0), ORD_ENOENV));
    cr_assert(eq(str, err, NOENV));
    setenv("ENVIRONMENT", "", 1);
    cr_assert(eq(int, load_with(NULL, NULL, 0), ORD_ENOENV));
    cr_assert(eq(int, config_exit_code(ORD_ENOENV), 2));
}

Test(config, env_names)
{
    const char *bad[] = {"Dev", "-dev", "dev_1", "dev.1", "", "d\xc3\xa9v", "a b",
                         repeat('a', LIMIT_ENV_NAME_MAX + 1)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const config_setting s = {"env", bad[i]};
        cr_assert(eq(int, load_with(NULL, &s, 1), ORD_ECONFIG), "env \"%s\" accepted", bad[i]);
        assert_err_has("\"env\" must be a string of 1..32 bytes matching [a-z0-9][a-z0-9-]*");
        assert_err_has("--env");
    }
    setenv("ENVIRONMENT", "Prod", 1);
    cr_assert(eq(int, load_with(NULL, NULL, 0), ORD_ECONFIG));
    assert_err_has("environment variable ENVIRONMENT");
    unsetenv("ENVIRONMENT");
    const char *good[] = {"a", "0", "prod-eu-1", "9-", repeat('z', LIMIT_ENV_NAME_MAX)};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const config_setting s = {"env", good[i]};
        cr_assert(eq(int, load_with(NULL, &s, 1), 0), "env \"%s\": %s", good[i], err);
        cr_assert(eq(str, cfg->env, (char *)good[i]));
    }
}

/* ---- Unknown keys and wrong types ---------------------------------------------- */

Test(config, unknown_keys_name_their_path)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{'lisen':'a:1'}", "config: unknown key \"lisen\""},
        {"{'http':{'thread':2}}", "config: unknown key \"http.thread\""},
        {"{'http.threads':2}", "config: unknown key \"http.threads\""},
        {"{'log':{'level':'info','format':'json'}}", "config: unknown key \"log.format\""},
        {"{'queues':[{'name':'a'},{'name':'b','attributes':{'VisibiltyTimeout':5}}]}",
         "config: unknown key \"queues[1].attributes.VisibiltyTimeout\""},
        {"{'queues':[{'name':'a','colour':'red'}]}", "config: unknown key \"queues[0].colour\""},
        {"{'queues':[{'name':'a','attributes':{'RedrivePolicy':{'deadLetterTargetArn':'b',"
         "'maxReceiveCount':2,'extra':1}}}]}",
         "config: unknown key \"queues[0].attributes.RedrivePolicy.extra\""},
        {"{'queues':[{'name':'a','attributes':{'FifoQueue':'true'}}]}",
         "config: unknown key \"queues[0].attributes.FifoQueue\""},
        {"{'queues':[{'name':'q'}],'rules':[{'name':'r','eventPattern':{},'targets':[{'queue':'q',"
         "'queu':'q'}]}]}",
         "config: unknown key \"rules[0].targets[0].queu\""},
        {"{'queues':[{'name':'q'}],'rules':[{'name':'r','state':'ENABLED','eventPattern':{},"
         "'targets':[{'queue':'q'}]}]}",
         "config: unknown key \"rules[0].state\""},
        {"{'queues':[{'name':'q'}],'functions':[{'name':'f','handler':'h','queue':'q',"
         "'backoff':{'base':5}}]}",
         "config: unknown key \"functions[0].backoff.base\""},
        {"{'alarms':[{'name':'a','metric':'m','statistic':'Sum','threshold':1,"
         "'comparisonOperator':'LessThanThreshold','colour':1}]}",
         "config: unknown key \"alarms[0].colour\""},
        {"{'alarms':[{'name':'a','metric':'m','statistic':'Sum','threshold':1,"
         "'comparisonOperator':'LessThanThreshold','denominator':{'metric':'m','label':{}}}]}",
         "config: unknown key \"alarms[0].denominator.label\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert(eq(int, load(cases[i].json), ORD_ECONFIG), "accepted %s", cases[i].json);
        cr_assert(eq(str, err, (char *)cases[i].msg));
    }
    const config_setting s[] = {{"env", "dev"}, {"http.nope", "1"}};
    cr_assert(eq(int, load_with(NULL, s, 2), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: unknown key \"http.nope\""));
}

Test(config, wrong_types_name_path_type_and_bounds)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{'http':{'threads':'4'}}", "\"http.threads\" must be an integer in 1..64, got \"4\""},
        {"{'http':{'threads':4.0}}", "\"http.threads\" must be an integer in 1..64, got 4"},
        {"{'listen':8080}", "\"listen\" must be a string of 1..255 bytes matching HOST:PORT, got 8080"},
        {"{'listen':'localhost'}", "\"listen\" must be a string of 1..255 bytes matching HOST:PORT"},
        {"{'listen':'h:65536'}", "\"listen\""},
        {"{'log':{'level':'verbose'}}", "\"log.level\" must be one of debug, info, warn, error, got \"verbose\""},
        {"{'log':{'level':1}}", "\"log.level\" must be one of debug, info, warn, error, got 1"},
        {"{'http':5}", "\"http\" must be an object, got 5"},
        {"{'queues':{}}", "\"queues\" must be an array"},
        {"{'queues':['orders']}", "\"queues[0]\" must be an object"},
        {"{'queues':[{'name':'q','attributes':{'VisibilityTimeout':30.5}}]}",
         "\"queues[0].attributes.VisibilityTimeout\" must be an integer in 0..43200, got 30.5"},
        {"{'queues':[{'name':'q','attributes':{'DelaySeconds':true}}]}",
         "\"queues[0].attributes.DelaySeconds\" must be an integer in 0..900, got true"},
        {"{'queues':[{'name':'q','attributes':[]}]}", "\"queues[0].attributes\" must be an object"},
        {"{'queues':[{'name':'q','attributes':{'RedrivePolicy':5}}]}",
         "\"queues[0].attributes.RedrivePolicy\" must be an object, got 5"},
        {"{'queues':[{'name':'q'}],'rules':[{'name':'r','enabled':'yes','eventPattern':{},"
         "'targets':[{'queue':'q'}]}]}",
         "\"rules[0].enabled\" must be true or false, got \"yes\""},
        {"{'queues':[{'name':'q'}],'rules':[{'name':'r','eventPattern':[],'targets':[{'queue':'q'}]}]}",
         "\"rules[0].eventPattern\" must be an object"},
        {"{'queues':[{'name':'q'}],'functions':[{'name':'f','handler':'h','queue':'q','batchSize':null}]}",
         "\"functions[0].batchSize\" must be an integer in 1..10, got null"},
        {"{'queues':[{'name':'q'}],'functions':[{'name':'f','handler':'h','queue':'q','backoff':1}]}",
         "\"functions[0].backoff\" must be an object, got 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert(eq(int, load(cases[i].json), ORD_ECONFIG), "accepted %s", cases[i].json);
        assert_err_has(cases[i].msg);
        cr_assert(eq(int, strncmp(err, "config: ", 8), 0), "%s", err);
    }
}

Test(config, top_level_must_be_an_object)
{
    cr_assert(eq(int, load("[]"), ORD_ECONFIG));
    assert_err_has("the top level must be a JSON object");
}

/* ---- Bounds, driven by the tables ----------------------------------------------- */

static char *itoa_tmp(long long v)
{
    static char b[4][32];
    static int next;
    char *s = b[next++ % 4];
    snprintf(s, 32, "%lld", v);
    return s;
}

/* Checks one INT key of the top-level table at min, max, min-1 and max+1. */
static void check_top_bounds(const conf_key *k, bool via_env)
{
    /* minOrders may not exceed maxOrders: let maxOrders allow every minOrders */
    bool pair = strcmp(k->path, "orders.demoProducer.minOrders") == 0;
    if (pair) setenv("ORDERLY_DEMO_PRODUCER_MAX_ORDERS", itoa_tmp(LIMIT_DEMO_ORDERS_MAX), 1);
    const long long ok[] = {k->min, k->max}, bad[] = {(long long)k->min - 1, (long long)k->max + 1};
    char range[64];
    snprintf(range, sizeof range, "\"%s\" must be an integer in %d..%d, got ", k->path, k->min, k->max);
    for (int i = 0; i < 2; i++) {
        int rc;
        if (via_env) {
            setenv(k->env, itoa_tmp(ok[i]), 1);
            rc = load(NULL);
        } else {
            rc = load_json(nest(k->path, json_integer(ok[i])));
        }
        cr_assert(eq(int, rc, 0), "%s = %lld: %s", k->path, ok[i], err);
        json_t *j = config_to_json(cfg);
        cr_assert(eq(i64, json_int_at(j, k->path), ok[i]), "%s", k->path);
        json_decref(j);
    }
    for (int i = 0; i < 2; i++) {
        int rc;
        if (via_env) {
            setenv(k->env, itoa_tmp(bad[i]), 1);
            rc = load(NULL);
        } else {
            rc = load_json(nest(k->path, json_integer(bad[i])));
        }
        cr_assert(eq(int, rc, ORD_ECONFIG), "%s = %lld accepted", k->path, bad[i]);
        assert_err_has(range);
        assert_err_has(itoa_tmp(bad[i]));
        if (via_env) assert_err_has(k->env);
    }
    if (via_env) unsetenv(k->env);
    if (pair) unsetenv("ORDERLY_DEMO_PRODUCER_MAX_ORDERS");
}

Test(config, demo_producer_interval_is_a_duration)
{
    static const struct {
        const char *in;
        long long secs;
    } ok[] = {{"off", 0}, {"0", 0}, {"1", 1}, {"1s", 1}, {"30s", 30}, {"5m", 300}, {"2h", 7200},
              {"86400", 86400}, {"1440m", 86400}, {"24h", 86400}};
    static const char *const bad[] = {"", "s", "5x", "5 m", " 5m", "-1", "+5", "1.5m", "5ms", "5mm", "1d",
                                      "86401", "25h", "1441m", "9999999999", "OFF"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const config_setting s[] = {{"env", "dev"}, {"orders.demoProducer.interval", ok[i].in}};
        cr_assert(eq(int, load_with(NULL, s, 2), 0), "%s: %s", ok[i].in, err);
        cr_assert(eq(int, cfg->orders.demo.interval_s, (int)ok[i].secs), "%s", ok[i].in);
        json_t *j = config_to_json(cfg); /* printed as it is read back */
        char want[32];
        cr_assert(eq(str, (char *)json_string_value(get_path(j, "orders.demoProducer.interval")),
                     conf_fmt_duration(ok[i].secs, want, sizeof want)));
        json_decref(j);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const config_setting s[] = {{"env", "dev"}, {"orders.demoProducer.interval", bad[i]}};
        cr_assert(eq(int, load_with(NULL, s, 2), ORD_ECONFIG), "%s accepted", bad[i]);
        assert_err_has("\"orders.demoProducer.interval\" must be a duration (N, Ns, Nm, Nh or off) of 0..86400");
    }
    /* the file takes an integer (seconds) or a duration string; the flag a duration */
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'interval':90}}}"), 0), "%s", err);
    cr_assert(eq(int, cfg->orders.demo.interval_s, 90));
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'interval':'5m'}}}"), 0), "%s", err);
    cr_assert(eq(int, cfg->orders.demo.interval_s, 300));
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'interval':86401}}}"), ORD_ECONFIG));
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'interval':true}}}"), ORD_ECONFIG));
    char *argv[] = {"serve", "--env", "dev", "--demo-producer", "30s", NULL};
    config_free(cfg);
    cfg = NULL;
    cr_assert(eq(int, config_from_args(5, argv, &cfg, err, sizeof err), 0), "%s", err);
    cr_assert(eq(int, cfg->orders.demo.interval_s, 30));
    /* off by default, 1..5 orders a batch (seed 004) */
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    cr_assert(eq(int, cfg->orders.demo.interval_s, 0));
    cr_assert(eq(int, cfg->orders.demo.min_orders, 1));
    cr_assert(eq(int, cfg->orders.demo.max_orders, 5));
}

Test(config, demo_producer_min_orders_at_most_max_orders)
{
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'minOrders':3,'maxOrders':3}}}"), 0), "%s", err);
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'minOrders':4,'maxOrders':3}}}"), ORD_ECONFIG));
    assert_err_has("\"orders.demoProducer.minOrders\" (4) must not exceed \"orders.demoProducer.maxOrders\" (3)");
    cr_assert(eq(int, load("{'orders':{'demoProducer':{'minOrders':6}}}"), ORD_ECONFIG));
}

Test(config, bounds_of_every_top_level_int_in_the_file)
{
    size_t n, tested = 0;
    const conf_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        check_top_bounds(&k[i], false);
        tested++;
    }
    cr_assert(eq(sz, tested, 35));
}

Test(config, bounds_of_every_top_level_int_from_the_environment)
{
    size_t n, tested = 0;
    const conf_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        cr_assert(not(eq(ptr, (void *)k[i].env, NULL)), "%s has no environment variable", k[i].path);
        check_top_bounds(&k[i], true);
        tested++;
    }
    cr_assert(eq(sz, tested, 35));
}

static json_t *attr_obj(const conf_key *k, json_t *v)
{
    json_t *o = nest(k->path, v);
    if (strncmp(k->path, "RedrivePolicy.", 14) == 0)
        json_object_set_new(json_object_get(o, "RedrivePolicy"), "deadLetterTargetArn",
                            json_string("dlq"));
    return o;
}

Test(config, bounds_of_every_sqs_attribute_as_integer_and_string)
{
    size_t n, tested = 0;
    const conf_key *k = queue_attrs_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        tested++;
        for (int as_string = 0; as_string < 2; as_string++) {
            const long long ok[] = {k[i].min, k[i].max};
            const long long bad[] = {(long long)k[i].min - 1, (long long)k[i].max + 1};
            for (int j = 0; j < 2; j++) {
                queue_attrs a;
                queue_attrs_init(&a);
                json_t *v = as_string ? json_string(itoa_tmp(ok[j])) : json_integer(ok[j]);
                json_t *o = attr_obj(&k[i], v);
                cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
                json_decref(o);
                json_t *out = queue_attrs_to_json(&a);
                cr_assert(eq(i64, json_int_at(out, k[i].path), ok[j]));
                json_decref(out);
            }
            for (int j = 0; j < 2; j++) {
                queue_attrs a, before;
                queue_attrs_init(&a);
                before = a;
                json_t *v = as_string ? json_string(itoa_tmp(bad[j])) : json_integer(bad[j]);
                json_t *o = attr_obj(&k[i], v);
                cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG),
                          "%s = %lld accepted", k[i].path, bad[j]);
                json_decref(o);
                char want[128];
                snprintf(want, sizeof want, "\"%s\" must be an integer in %d..%d, got ", k[i].path,
                         k[i].min, k[i].max);
                assert_err_has(want);
                assert_err_has(itoa_tmp(bad[j]));
                cr_assert(eq(int, memcmp(&a, &before, sizeof a), 0), "rejected parse changed attrs");
            }
        }
    }
    cr_assert(eq(sz, tested, 6));
}

Test(config, bounds_of_every_sqs_attribute_in_the_file)
{
    size_t n, tested = 0;
    const conf_key *k = queue_attrs_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        tested++;
        const long long vals[] = {k[i].min, k[i].max, (long long)k[i].min - 1, (long long)k[i].max + 1};
        for (int j = 0; j < 4; j++) {
            json_t *q = json_pack("{s:s, s:o}", "name", "q", "attributes",
                                  attr_obj(&k[i], json_integer(vals[j])));
            json_t *root = json_pack("{s:[o, {s:s}]}", "queues", q, "name", "dlq");
            int rc = load_json(root);
            if (j < 2) {
                cr_assert(eq(int, rc, 0), "%s = %lld: %s", k[i].path, vals[j], err);
                json_t *out = config_to_json(cfg);
                char path[CONF_PATH_MAX];
                snprintf(path, sizeof path, "attributes.%s", k[i].path);
                cr_assert(eq(i64, json_int_at(json_array_get(json_object_get(out, "queues"), 0), path),
                             vals[j]));
                json_decref(out);
            } else {
                cr_assert(eq(int, rc, ORD_ECONFIG), "%s = %lld accepted", k[i].path, vals[j]);
                char want[CONF_PATH_MAX];
                snprintf(want, sizeof want, "\"queues[0].attributes.%s\" must be an integer in %d..%d",
                         k[i].path, k[i].min, k[i].max);
                assert_err_has(want);
            }
        }
    }
    cr_assert(eq(sz, tested, 6));
}

Test(config, bounds_of_every_function_int)
{
    size_t n, tested = 0;
    const conf_key *k = config_function_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        tested++;
        const long long vals[] = {k[i].min, k[i].max, (long long)k[i].min - 1, (long long)k[i].max + 1};
        for (int j = 0; j < 4; j++) {
            json_t *f = nest(k[i].path, json_integer(vals[j]));
            json_object_set_new(f, "name", json_string("f"));
            json_object_set_new(f, "handler", json_string("h"));
            json_object_set_new(f, "queue", json_string("q"));
            /* the longest VisibilityTimeout, so that any timeoutSeconds fits the queue */
            int rc = load_json(json_pack("{s:[{s:s,s:{s:i}}], s:[o]}", "queues", "name", "q", "attributes",
                                         "VisibilityTimeout", LIMIT_VISIBILITY_SECONDS_MAX, "functions", f));
            if (j < 2) {
                cr_assert(eq(int, rc, 0), "%s = %lld: %s", k[i].path, vals[j], err);
                json_t *out = config_to_json(cfg);
                cr_assert(eq(i64, json_int_at(json_array_get(json_object_get(out, "functions"), 0),
                                              k[i].path), vals[j]));
                json_decref(out);
            } else {
                cr_assert(eq(int, rc, ORD_ECONFIG), "%s = %lld accepted", k[i].path, vals[j]);
                char want[CONF_PATH_MAX];
                snprintf(want, sizeof want, "\"functions[0].%s\" must be an integer in %d..%d, got %lld",
                         k[i].path, k[i].min, k[i].max, vals[j]);
                assert_err_has(want);
            }
        }
    }
    cr_assert(eq(sz, tested, 7));
}

Test(config, string_lengths)
{
    char buf[4096];
    /* listen: 255 bytes is the limit */
    snprintf(buf, sizeof buf, "{'listen':'%s:1'}", repeat('h', LIMIT_LISTEN_ADDR_MAX - 2));
    cr_assert(eq(int, load(buf), 0), "%s", err);
    snprintf(buf, sizeof buf, "{'listen':'%s:1'}", repeat('h', LIMIT_LISTEN_ADDR_MAX - 1));
    cr_assert(eq(int, load(buf), ORD_ECONFIG));
    assert_err_has("\"listen\" must be a string of 1..255 bytes");
    /* db */
    const config_setting ok[] = {{"env", "dev"}, {"db", repeat('d', LIMIT_DB_URL_MAX)}};
    cr_assert(eq(int, load_with(NULL, ok, 2), 0), "%s", err);
    cr_assert(eq(sz, strlen(cfg->db), LIMIT_DB_URL_MAX));
    const config_setting bad[] = {{"env", "dev"}, {"db", repeat('d', LIMIT_DB_URL_MAX + 1)}};
    cr_assert(eq(int, load_with(NULL, bad, 2), ORD_ECONFIG));
    assert_err_has("\"db\" must be a string of 1..1024 bytes");
    assert_err_has("(from --db)");
    /* rule name and description */
    snprintf(buf, sizeof buf, "{'queues':[{'name':'q'}],'rules':[{'name':'%s','description':'%s',"
                              "'eventPattern':{},'targets':[{'queue':'q'}]}]}",
             repeat('r', LIMIT_RULE_NAME_MAX), repeat('x', LIMIT_RULE_DESCRIPTION_MAX));
    cr_assert(eq(int, load(buf), 0), "%s", err);
    cr_assert(eq(sz, strlen(cfg->rules[0].description), LIMIT_RULE_DESCRIPTION_MAX));
    snprintf(buf, sizeof buf, "{'queues':[{'name':'q'}],'rules':[{'name':'%s',"
                              "'eventPattern':{},'targets':[{'queue':'q'}]}]}",
             repeat('r', LIMIT_RULE_NAME_MAX + 1));
    cr_assert(eq(int, load(buf), ORD_ECONFIG));
    assert_err_has("\"rules[0].name\" must be a string of 1..64 bytes");
    snprintf(buf, sizeof buf, "{'queues':[{'name':'q'}],'rules':[{'name':'r','description':'%s',"
                              "'eventPattern':{},'targets':[{'queue':'q'}]}]}",
             repeat('x', LIMIT_RULE_DESCRIPTION_MAX + 1));
    cr_assert(eq(int, load(buf), ORD_ECONFIG));
    assert_err_has("\"rules[0].description\" must be a string of 0..512 bytes");
    /* rule names allow [.-_A-Za-z0-9] only */
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'a.b-c_D9',"
                           "'eventPattern':{},'targets':[{'queue':'q'}]}]}"), 0), "%s", err);
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'a b',"
                           "'eventPattern':{},'targets':[{'queue':'q'}]}]}"), ORD_ECONFIG));
    assert_err_has("\"rules[0].name\"");
}

/* ---- SQS attributes ------------------------------------------------------------------- */

Test(config, attribute_values_as_strings)
{
    queue_attrs a;
    queue_attrs_init(&a);
    json_t *o = json_loads(dq("{'VisibilityTimeout':'45','DelaySeconds':'5','MessageRetentionPeriod':'60',"
                              "'MaximumMessageSize':'1024','ReceiveMessageWaitTimeSeconds':'20',"
                              "'RedrivePolicy':'{\\'deadLetterTargetArn\\':"
                              "\\'arn:aws:sqs:us-east-1:000000000000:dev-dlq\\',\\'maxReceiveCount\\':\\'3\\'}'}"),
                           0, NULL);
    cr_assert(not(eq(ptr, o, NULL)));
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
    json_decref(o);
    cr_assert(eq(int, a.visibility_s, 45));
    cr_assert(eq(int, a.delay_s, 5));
    cr_assert(eq(int, a.retention_s, 60));
    cr_assert(eq(int, a.max_size, 1024));
    cr_assert(eq(int, a.wait_s, 20));
    cr_assert(eq(str, a.dlq, "dev-dlq"));
    cr_assert(eq(int, a.max_receive, 3));
}

Test(config, attribute_strings_must_be_plain_decimals)
{
    const char *bad[] = {" 45", "45 ", "45s", "", "0x10", "+5", "4.5", "1e2", "99999999999999999999", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        queue_attrs a;
        queue_attrs_init(&a);
        json_t *o = json_pack("{s:s}", "VisibilityTimeout", bad[i]);
        cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG), "\"%s\" accepted", bad[i]);
        json_decref(o);
        assert_err_has("\"VisibilityTimeout\" must be an integer in 0..43200");
        cr_assert(eq(int, a.visibility_s, 30));
    }
}

Test(config, attributes_update_only_what_is_given_and_nothing_on_error)
{
    queue_attrs a, before;
    queue_attrs_init(&a);
    json_t *o = json_pack("{s:i}", "VisibilityTimeout", 60);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
    json_decref(o);
    o = json_pack("{s:i}", "DelaySeconds", 5);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
    json_decref(o);
    cr_assert(eq(int, a.visibility_s, 60));
    cr_assert(eq(int, a.delay_s, 5));
    before = a;
    o = json_pack("{s:i, s:i}", "DelaySeconds", 7, "VisibilityTimeout", 99999);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG));
    json_decref(o);
    o = json_pack("{s:i, s:i}", "DelaySeconds", 7, "Bogus", 1);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG));
    cr_assert(eq(str, err, "unknown key \"Bogus\""));
    json_decref(o);
    o = json_pack("{s:i, s:{s:i}}", "DelaySeconds", 7, "RedrivePolicy", "maxReceiveCount", 3);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG));
    json_decref(o);
    cr_assert(eq(int, memcmp(&a, &before, sizeof a), 0));
    o = json_integer(5);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG));
    json_decref(o);
    assert_err_has("\"attributes\" must be an object");
}

Test(config, redrive_policy_forms)
{
    queue_attrs a;
    queue_attrs_init(&a);
    json_t *o = json_loads(dq("{'RedrivePolicy':{'deadLetterTargetArn':'dlq','maxReceiveCount':5}}"), 0, NULL);
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
    json_decref(o);
    cr_assert(eq(str, a.dlq, "dlq"));
    cr_assert(eq(int, a.max_receive, 5));
    o = json_pack("{s:s}", "RedrivePolicy", "");
    cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), 0), "%s", err);
    json_decref(o);
    cr_assert(eq(str, a.dlq, ""));
    cr_assert(eq(int, a.max_receive, 0));

    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{'RedrivePolicy':{'maxReceiveCount':3}}", "missing required key \"RedrivePolicy.deadLetterTargetArn\""},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'x'}}", "missing required key \"RedrivePolicy.maxReceiveCount\""},
        {"{'RedrivePolicy':'{not json'}", "\"RedrivePolicy\" must be a JSON object"},
        {"{'RedrivePolicy':'[1]'}", "\"RedrivePolicy\" must be a JSON object"},
        {"{'RedrivePolicy':'{\\'maxReceiveCount\\':1,\\'maxReceiveCount\\':2,\\'deadLetterTargetArn\\':\\'x\\'}'}",
         "\"RedrivePolicy\" must be a JSON object: duplicate object key"},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'arn:aws:sns:us-east-1:000000000000:x','maxReceiveCount':1}}",
         "\"RedrivePolicy.deadLetterTargetArn\" must be a string of 1..200 bytes matching a queue name or "
         "arn:aws:sqs:REGION:ACCOUNT:NAME"},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'arn:aws:sqs:us-east-1:123:x','maxReceiveCount':1}}",
         "\"RedrivePolicy.deadLetterTargetArn\""},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'arn:aws:sqs::000000000000:x','maxReceiveCount':1}}",
         "\"RedrivePolicy.deadLetterTargetArn\""},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'arn:aws:sqs:us-east-1:000000000000:','maxReceiveCount':1}}",
         "\"RedrivePolicy.deadLetterTargetArn\""},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'bad name','maxReceiveCount':1}}",
         "\"RedrivePolicy.deadLetterTargetArn\""},
        {"{'RedrivePolicy':{'deadLetterTargetArn':'x','maxReceiveCount':'1.0'}}",
         "\"RedrivePolicy.maxReceiveCount\" must be an integer in 1..1000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = json_loads(dq(bad[i].json), 0, NULL);
        cr_assert(not(eq(ptr, o, NULL)), "test JSON %zu", i);
        cr_assert(eq(int, queue_attrs_parse(o, &a, err, sizeof err), ORD_ECONFIG), "accepted %s", bad[i].json);
        json_decref(o);
        assert_err_has(bad[i].msg);
    }
}

/* ---- The file ---------------------------------------------------------------------- */

Test(config, duplicate_json_keys_are_rejected_with_position)
{
    cr_assert(eq(int, load("{'listen':'a:1','listen':'b:2'}"), ORD_ECONFIG));
    assert_err_has("duplicate object key");
    assert_err_has("line 1");
    cr_assert(eq(int, load("{'queues':[\n {'name':'q',\n  'attributes':{'DelaySeconds':1,'DelaySeconds':2}}]}"),
              ORD_ECONFIG));
    assert_err_has("duplicate object key");
    assert_err_has("line 3");
    assert_err_has(tmp_path);
}

Test(config, syntax_errors_report_line_column_position)
{
    cr_assert(eq(int, load("{\n  'listen': 'a:1',\n}"), ORD_ECONFIG));
    char want[128];
    snprintf(want, sizeof want, "config: %s: line 3, column 1, position ", tmp_path);
    assert_err_has(want);
}

Test(config, unreadable_or_oversized_files)
{
    config_free(cfg);
    cfg = NULL;
    cr_assert(eq(int, config_load("/nonexistent/orderly.json", NULL, 0, &cfg, err, sizeof err), ORD_EIO));
    assert_err_has("cannot open /nonexistent/orderly.json");
    cr_assert(eq(int, config_exit_code(ORD_EIO), 2));
    cr_assert(eq(int, config_load("/tmp", NULL, 0, &cfg, err, sizeof err), ORD_EIO));
    assert_err_has("/tmp");
    /* LIMIT_CONFIG_BYTES_MAX + 1 bytes of valid JSON */
    size_t n = LIMIT_CONFIG_BYTES_MAX + 1;
    char *big = malloc(n + 1);
    cr_assert(not(eq(ptr, big, NULL)));
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = 0;
    const config_setting env = {"env", "dev"};
    cr_assert(eq(int, config_load(write_tmp(big), &env, 1, &cfg, err, sizeof err), ORD_ECONFIG));
    assert_err_has("is larger than 1048576 bytes");
    big[n - 2] = '}';
    big[n - 1] = 0; /* exactly the limit */
    cr_assert(eq(int, config_load(write_tmp(big), &env, 1, &cfg, err, sizeof err), 0), "%s", err);
    free(big);
}

/* ---- Cross references ------------------------------------------------------------------ */

Test(config, redrive_to_unknown_queue_or_itself)
{
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'nope','maxReceiveCount':5}}}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: \"queues[0].attributes.RedrivePolicy.deadLetterTargetArn\": "
                           "no queue \"nope\" in queues[]"));
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'a','maxReceiveCount':5}}}]}"), ORD_ECONFIG));
    assert_err_has("queue \"a\" cannot be its own dead-letter queue");
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'arn:aws:sqs:us-east-1:000000000000:dev-a',"
                           "'maxReceiveCount':5}}}]}"), ORD_ECONFIG));
    assert_err_has("cannot be its own dead-letter queue");
}

Test(config, redrive_arn_may_carry_the_env_prefix)
{
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'arn:aws:sqs:eu-west-1:123456789012:dev-a-dlq',"
                           "'maxReceiveCount':'4'}}},{'name':'a-dlq'}]}"), 0), "%s", err);
    cr_assert(eq(str, cfg->queues[0].attrs.dlq, "a-dlq"));
    cr_assert(eq(int, cfg->queues[0].attrs.max_receive, 4));
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'arn:aws:sqs:eu-west-1:123456789012:a-dlq',"
                           "'maxReceiveCount':4}}},{'name':'a-dlq'}]}"), 0), "%s", err);
    cr_assert(eq(str, cfg->queues[0].attrs.dlq, "a-dlq"));
    cr_assert(eq(int, load("{'queues':[{'name':'a','attributes':{'RedrivePolicy':"
                           "{'deadLetterTargetArn':'arn:aws:sqs:eu-west-1:123456789012:prod-a-dlq',"
                           "'maxReceiveCount':4}}},{'name':'a-dlq'}]}"), ORD_ECONFIG));
    assert_err_has("no queue \"prod-a-dlq\"");
}

Test(config, queue_name_length_depends_on_env)
{
    char buf[512];
    size_t max = LIMIT_QUEUE_NAME_MAX - strlen("dev") - 1; /* 76 */
    snprintf(buf, sizeof buf, "{'queues':[{'name':'%s'}]}", repeat('q', max));
    cr_assert(eq(int, load(buf), 0), "%s", err);
    char rn[LIMIT_QUEUE_NAME_MAX + 1];
    cr_assert(eq(int, config_resource_name(cfg, cfg->queues[0].name, rn, sizeof rn), 0));
    cr_assert(eq(sz, strlen(rn), LIMIT_QUEUE_NAME_MAX));
    snprintf(buf, sizeof buf, "{'queues':[{'name':'%s'}]}", repeat('q', max + 1));
    cr_assert(eq(int, load(buf), ORD_ECONFIG));
    assert_err_has("\"queues[0].name\"");
    assert_err_has("with the environment prefix \"dev-\" a queue name may have at most 76");

    const config_setting env10 = {"env", "abcdefghij"};
    snprintf(buf, sizeof buf, "{'queues':[{'name':'%s'}]}", repeat('q', 69));
    cr_assert(eq(int, load_with(buf, &env10, 1), 0), "%s", err);
    snprintf(buf, sizeof buf, "{'queues':[{'name':'%s'}]}", repeat('q', 70));
    cr_assert(eq(int, load_with(buf, &env10, 1), ORD_ECONFIG));
    assert_err_has("at most 69");

    cr_assert(eq(int, load("{'queues':[{'name':'ord ers'}]}"), ORD_ECONFIG));
    assert_err_has("\"queues[0].name\" must be a string of 1..78 bytes matching [A-Za-z0-9_-]+");
    cr_assert(eq(int, load("{'queues':[{'attributes':{}}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: missing required key \"queues[0].name\""));
}

Test(config, duplicate_names)
{
    cr_assert(eq(int, load("{'queues':[{'name':'a'},{'name':'b'},{'name':'a'}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: \"queues[2].name\": duplicate queue name \"a\" (also queues[0])"));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':["
                           "{'name':'r','eventPattern':{},'targets':[{'queue':'q'}]},"
                           "{'name':'r','eventPattern':{},'targets':[{'queue':'q'}]}]}"), ORD_ECONFIG));
    assert_err_has("\"rules[1].name\": duplicate rule name \"r\"");
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'functions':["
                           "{'name':'f','handler':'h','queue':'q'},{'name':'f','handler':'h','queue':'q'}]}"),
              ORD_ECONFIG));
    assert_err_has("\"functions[1].name\": duplicate function name \"f\"");
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':["
                           "{'name':'r','eventPattern':{},'targets':[{'queue':'q'},{'queue':'dev-q'}]}]}"),
              ORD_ECONFIG));
    assert_err_has("\"rules[0].targets[1].queue\": queue \"q\" is already a target of this rule");
}

Test(config, rules_need_known_target_queues)
{
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'r','eventPattern':{'source':['s']},"
                           "'targets':[{'queue':'q'},{'queue':'nope'}]}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: \"rules[0].targets[1].queue\": no queue \"nope\" in queues[]"));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'r','eventPattern':{},'targets':[]}]}"),
              ORD_ECONFIG));
    assert_err_has("\"rules[0].targets\" must have 1..5 entries");
    cr_assert(eq(int, load("{'queues':[{'name':'q1'},{'name':'q2'},{'name':'q3'},{'name':'q4'},"
                           "{'name':'q5'},{'name':'q6'}],'rules':[{'name':'r','eventPattern':{},'targets':["
                           "{'queue':'q1'},{'queue':'q2'},{'queue':'q3'},{'queue':'q4'},{'queue':'q5'}]}]}"),
              0), "%s", err);
    cr_assert(eq(int, cfg->rules[0].ntargets, 5));
    cr_assert(eq(int, load("{'queues':[{'name':'q1'},{'name':'q2'},{'name':'q3'},{'name':'q4'},"
                           "{'name':'q5'},{'name':'q6'}],'rules':[{'name':'r','eventPattern':{},'targets':["
                           "{'queue':'q1'},{'queue':'q2'},{'queue':'q3'},{'queue':'q4'},{'queue':'q5'},"
                           "{'queue':'q6'}]}]}"), ORD_ECONFIG));
    assert_err_has("\"rules[0].targets\" has 6 entries; at most 5");
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'r','targets':[{'queue':'q'}]}]}"),
              ORD_ECONFIG));
    cr_assert(eq(str, err, "config: missing required key \"rules[0].eventPattern\""));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'name':'r','eventPattern':{}}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: missing required key \"rules[0].targets\""));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'rules':[{'eventPattern':{},'targets':[{'queue':'q'}]}]}"),
              ORD_ECONFIG));
    cr_assert(eq(str, err, "config: missing required key \"rules[0].name\""));
}

Test(config, functions_need_a_known_queue_and_a_handler)
{
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'functions':[{'name':'f','handler':'h','queue':'nope'}]}"),
              ORD_ECONFIG));
    cr_assert(eq(str, err, "config: \"functions[0].queue\": no queue \"nope\" in queues[]"));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'functions':[{'name':'f','queue':'q'}]}"), ORD_ECONFIG));
    cr_assert(eq(str, err, "config: missing required key \"functions[0].handler\""));
    cr_assert(eq(int, load("{'queues':[{'name':'q'}],'functions':[{'name':'f','handler':'order.process',"
                           "'queue':'dev-q','batchSize':5,'batchingWindowMs':100,'maxConcurrency':4,"
                           "'backoff':{'baseMs':500,'maxMs':30000},'idempotencyTtlSeconds':3600,"
                           "'enabled':false}]}"), 0), "%s", err);
    const config_function *f = &cfg->functions[0];
    cr_assert(eq(str, (char *)f->queue, "q"));
    cr_assert(eq(str, (char *)f->handler, "order.process"));
    cr_assert(eq(int, f->batch_size, 5));
    cr_assert(eq(int, f->batching_window_ms, 100));
    cr_assert(eq(int, f->max_concurrency, 4));
    cr_assert(eq(int, f->backoff_base_ms, 500));
    cr_assert(eq(int, f->backoff_max_ms, 30000));
    cr_assert(eq(int, f->idempotency_ttl_s, 3600));
    cr_assert(eq(int, f->enabled, 0));
}

Test(config, array_sizes_are_bounded)
{
    json_t *qs = json_array();
    for (int i = 0; i <= LIMIT_QUEUES_MAX; i++) json_array_append_new(qs, json_pack("{s:s+}", "name", "q", itoa_tmp(i)));
    cr_assert(eq(int, load_json(json_pack("{s:o}", "queues", json_incref(qs))), ORD_ECONFIG));
    assert_err_has("\"queues\" has 257 entries; at most 256 are allowed");
    json_array_remove(qs, 0);
    cr_assert(eq(int, load_json(json_pack("{s:o}", "queues", qs)), 0), "%s", err);
    cr_assert(eq(sz, cfg->nqueues, LIMIT_QUEUES_MAX));
}

/* ---- Alarms ------------------------------------------------------------------------------ */

static int load_shipped(void)
{
    const config_setting env = {"env", "dev"};
    config_free(cfg);
    cfg = NULL;
    return config_load(ORDERLY_SRC_DIR "/config/orderly.json", &env, 1, &cfg, err, sizeof err);
}


#define ALARM_BASE "'name':'a','metric':'m','statistic':'Sum','threshold':1,'comparisonOperator':'LessThanThreshold'"

/* As load_json for texts beyond dq()'s buffer (no quote rewriting). */
static int load_json_raw(json_t *root)
{
    const config_setting env = {"env", "dev"};
    if (!json_object_get(root, "builtinTopology")) json_object_set_new(root, "builtinTopology", json_false());
    char *text = json_dumps(root, 0);
    json_decref(root);
    cr_assert(not(eq(ptr, text, NULL)));
    config_free(cfg);
    cfg = NULL;
    int rc = config_load(write_tmp(text), &env, 1, &cfg, err, sizeof err);
    free(text);
    return rc;
}

/* An alarm object with the required keys. */
static json_t *alarm_obj(void)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:s}", "name", "a", "metric", "m", "statistic", "Sum", "threshold", 1,
                     "comparisonOperator", "LessThanThreshold");
}

/* Loads one alarm: the required keys, then the members of extra (JSON, single quotes). */
static int load_alarm(const char *extra)
{
    json_t *a = alarm_obj(), *x = json_loads(dq(extra), 0, NULL);
    cr_assert(not(eq(ptr, x, NULL)), "bad test JSON %s", extra);
    json_object_update(a, x);
    json_decref(x);
    return load_json(json_pack("{s:[o]}", "alarms", a));
}

Test(config, alarms_default_when_absent_none_when_empty)
{
    const char *names[] = {"dlq-messages-visible", "function-errors", "queue-oldest-age", "http-5xx-rate",
                           "http-p99-latency", "low-stock", "intake-refused"};
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, 8));
    for (size_t i = 0; i < 7; i++) cr_assert(eq(str, cfg->alarms[i].name, (char *)names[i]));
    const alarm_def *rate = &cfg->alarms[3];
    cr_assert(eq(str, (char *)rate->metric.name, "orderly_http_requests_total"));
    cr_assert(eq(int, rate->metric.nlabels, 1));
    cr_assert(eq(str, (char *)rate->metric.labels[0].pattern, "5*"));
    cr_assert(eq(int, rate->has_denominator, 1));
    cr_assert(eq(int, rate->missing, ALARM_MISSING_NOT_BREACHING));
    cr_assert(eq(dbl, rate->threshold, 0.05));
    const alarm_def *errs = &cfg->alarms[1];
    cr_assert(eq(int, errs->period_s, 300));
    cr_assert(eq(int, errs->comparison, ALARM_GE));
    cr_assert(eq(int, errs->evaluation_periods, 1));
    cr_assert(eq(int, errs->datapoints_to_alarm, 1));
    cr_assert(eq(int, cfg->alarms[4].statistic, ALARM_STAT_PERCENTILE));
    cr_assert(eq(dbl, cfg->alarms[4].percentile, 99));
    cr_assert(eq(int, cfg->alarm_sample_s, LIMIT_ALARM_SAMPLE_S_DEFAULT));
    cr_assert(eq(int, load_on_builtin("{'queues':[]}"), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, 8), "a file without \"alarms\" gets the defaults");
    cr_assert(eq(int, load_on_builtin("{'alarms':[]}"), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, 8), "\"alarms\": [] adds none to the built-ins");
    cr_assert(eq(int, load_on_builtin("{'builtinTopology':false,'alarms':[]}"), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, 0), "without the built-in topology \"alarms\": [] declares none");
    cr_assert(eq(int, load("{'alarms':[{" ALARM_BASE "}]}"), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, 1));
    cr_assert(eq(int, cfg->alarms[0].period_s, 60), "periodSeconds defaults to 60");
    cr_assert(eq(int, cfg->alarms[0].missing, ALARM_MISSING_MISSING));
}

Test(config, shipped_alarms_are_the_built_in_defaults)
{
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    json_t *first = config_to_json(cfg);
    json_t *builtin = json_incref(json_object_get(first, "alarms"));
    json_decref(first);
    cr_assert(eq(int, load_shipped(), 0), "%s", err);
    json_t *all = config_to_json(cfg);
    json_t *shipped = json_object_get(all, "alarms");
    char *a = json_dumps(builtin, JSON_SORT_KEYS), *b = json_dumps(shipped, JSON_SORT_KEYS);
    cr_assert(eq(str, a, b), "config/orderly.json's alarms differ from the built-in defaults");
    free(a);
    free(b);
    json_decref(all);
    json_decref(builtin);
}

Test(config, bounds_of_every_alarm_int)
{
    size_t n, tested = 0;
    const conf_key *k = config_alarm_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (k[i].type != CONF_INT) continue;
        tested++;
        const long long vals[] = {k[i].min, k[i].max, (long long)k[i].min - 1, (long long)k[i].max + 1};
        for (int j = 0; j < 4; j++) {
            json_t *a = alarm_obj();
            /* room for every value: N = 100 of 1 s, or 1 period of up to a day */
            int per_day = !strcmp(k[i].path, "periodSeconds");
            json_object_set_new(a, "periodSeconds", json_integer(1));
            json_object_set_new(a, "evaluationPeriods", json_integer(per_day ? 1 : LIMIT_ALARM_EVAL_PERIODS_MAX));
            json_object_set_new(a, k[i].path, json_integer(vals[j]));
            int rc = load_json(json_pack("{s:[o]}", "alarms", a));
            if (j < 2) {
                cr_assert(eq(int, rc, 0), "%s = %lld: %s", k[i].path, vals[j], err);
                json_t *out = config_to_json(cfg);
                cr_assert(eq(i64, json_int_at(json_array_get(json_object_get(out, "alarms"), 0), k[i].path),
                             vals[j]));
                json_decref(out);
            } else {
                cr_assert(eq(int, rc, ORD_ECONFIG), "%s = %lld accepted", k[i].path, vals[j]);
                char want[CONF_PATH_MAX];
                snprintf(want, sizeof want, "\"alarms[0].%s\" must be an integer in %d..%d, got %lld", k[i].path,
                         k[i].min, k[i].max, vals[j]);
                assert_err_has(want);
            }
        }
    }
    cr_assert(eq(sz, tested, 3));
}

Test(config, alarm_limits_and_checks)
{
    char buf[4096];
    /* the number of alarms */
    json_t *arr = json_array();
    for (int i = 0; i <= LIMIT_ALARMS_MAX; i++) {
        json_t *a = alarm_obj();
        json_object_set_new(a, "name", json_sprintf("a%d", i));
        json_array_append_new(arr, a);
    }
    cr_assert(eq(int, load_json_raw(json_pack("{s:O}", "alarms", arr)), ORD_ECONFIG));
    assert_err_has("\"alarms\" has 101 entries; at most 100 are allowed");
    json_array_remove(arr, 0);
    cr_assert(eq(int, load_json_raw(json_pack("{s:o}", "alarms", arr)), 0), "%s", err);
    cr_assert(eq(sz, cfg->nalarms, LIMIT_ALARMS_MAX));
    /* name and description lengths */
    json_t *a = alarm_obj();
    json_object_set_new(a, "name", json_string(repeat('n', LIMIT_ALARM_NAME_MAX)));
    json_object_set_new(a, "description", json_string(repeat('d', LIMIT_ALARM_DESCRIPTION_MAX)));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), 0), "%s", err);
    json_object_set_new(a, "name", json_string(repeat('n', LIMIT_ALARM_NAME_MAX + 1)));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].name\" must be a string of 1..255 bytes");
    json_object_set_new(a, "name", json_string("a\tb"));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].name\"");
    json_object_set_new(a, "name", json_string("Orders DLQ: messages visible"));
    json_object_set_new(a, "description", json_string(repeat('d', LIMIT_ALARM_DESCRIPTION_MAX + 1)));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].description\" must be a string of 0..1024 bytes");
    json_decref(a);
    /* labels: at most 8, patterns up to 257 bytes */
    a = alarm_obj();
    json_t *labels = json_object();
    for (int i = 0; i < LIMIT_ALARM_LABELS_MAX; i++) {
        char nm[2] = {(char)('a' + i), 0};
        json_object_set_new(labels, nm, json_string(repeat('v', LIMIT_ALARM_LABEL_VALUE_MAX)));
    }
    json_object_set(a, "labels", labels);
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), 0), "%s", err);
    cr_assert(eq(int, cfg->alarms[0].metric.nlabels, LIMIT_ALARM_LABELS_MAX));
    cr_assert(eq(sz, strlen(cfg->alarms[0].metric.labels[0].pattern), LIMIT_ALARM_LABEL_VALUE_MAX));
    json_object_set_new(labels, "z", json_string("x"));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].labels\" has 9 labels; at most 8 are allowed");
    json_object_clear(labels);
    json_object_set_new(labels, "a", json_string(repeat('v', LIMIT_ALARM_LABEL_VALUE_MAX + 1)));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].labels.a\" must be a string of 0..257 bytes");
    json_object_clear(labels);
    json_object_set_new(labels, "a-b", json_string("x"));
    cr_assert(eq(int, load_json(json_pack("{s:[O]}", "alarms", a)), ORD_ECONFIG));
    assert_err_has("\"alarms[0].labels.a-b\": \"a-b\" is not a label name");
    json_decref(labels);
    json_decref(a);
    /* threshold */
    static const struct {
        const char *threshold;
        int ok;
    } th[] = {{"1e15", 1}, {"-1e15", 1}, {"0.05", 1}, {"1.000001e15", 0}, {"-1.000001e15", 0}, {"'1'", 0}};
    for (size_t i = 0; i < sizeof th / sizeof th[0]; i++) {
        snprintf(buf, sizeof buf, "{'threshold':%s}", th[i].threshold);
        cr_assert(eq(int, load_alarm(buf), th[i].ok ? 0 : ORD_ECONFIG), "threshold %s: %s", th[i].threshold, err);
        if (!th[i].ok) assert_err_has("\"alarms[0].threshold\" must be a number with |x| <= 1e+15");
    }
    cr_assert(eq(int, load("{'alarms':[{'name':'a','metric':'m','statistic':'Sum','comparisonOperator':"
                           "'LessThanThreshold'}]}"), ORD_ECONFIG));
    assert_err_has("missing required key \"alarms[0].threshold\"");
    /* M <= N, and N periods within a day */
    cr_assert(eq(int, load_alarm("{'evaluationPeriods':3,'datapointsToAlarm':3}"), 0), "%s",
              err);
    cr_assert(eq(int, load_alarm("{'evaluationPeriods':3,'datapointsToAlarm':4}"),
                 ORD_ECONFIG));
    assert_err_has("\"alarms[0].datapointsToAlarm\": 4 is more than evaluationPeriods (3)");
    cr_assert(eq(int, load_alarm("{'periodSeconds':864,'evaluationPeriods':100}"), 0), "%s",
              err);
    cr_assert(eq(int, load_alarm("{'periodSeconds':865,'evaluationPeriods':100}"),
                 ORD_ECONFIG));
    assert_err_has("\"alarms[0]\": periodSeconds x evaluationPeriods = 86500; at most 86400");
    /* names of statistics, operators, missing-data treatments */
    cr_assert(eq(int, load_alarm("{'statistic':'p99.9'}"), 0), "%s", err);
    cr_assert(eq(int, load_alarm("{'statistic':'Max'}"), ORD_ECONFIG));
    assert_err_has("\"alarms[0].statistic\"");
    cr_assert(eq(int, load_alarm("{'comparisonOperator':'GreaterThan'}"), ORD_ECONFIG));
    assert_err_has("\"alarms[0].comparisonOperator\"");
    cr_assert(eq(int, load_alarm("{'treatMissingData':'notbreaching'}"), ORD_ECONFIG));
    assert_err_has("\"alarms[0].treatMissingData\"");
    cr_assert(eq(int, load_alarm("{'metric':'a-b'}"), ORD_ECONFIG));
    assert_err_has("\"alarms[0].metric\"");
    /* duplicates, denominators */
    cr_assert(eq(int, load("{'alarms':[{" ALARM_BASE "},{" ALARM_BASE "}]}"), ORD_ECONFIG));
    assert_err_has("\"alarms[1].name\": duplicate alarm name \"a\" (also alarms[0])");
    cr_assert(eq(int, load_alarm("{'denominator':{'labels':{}}}"), ORD_ECONFIG));
    assert_err_has("missing required key \"alarms[0].denominator.metric\"");
    cr_assert(eq(int, load_alarm("{'statistic':'p99','denominator':{'metric':'m'}}"),
                 ORD_ECONFIG));
    assert_err_has("a ratio (denominator) cannot use a percentile");
}

/* ---- The shipped config, output and lookups -------------------------------------------- */

Test(config, shipped_config_loads)
{
    cr_assert(eq(int, load_shipped(), 0), "%s", err);
    const char *names[] = {"orders", "orders-dlq", "payments", "payments-dlq", "notifications",
                           "notifications-dlq"};
    cr_assert(eq(sz, cfg->nqueues, 6));
    for (size_t i = 0; i < 6; i++) {
        const config_queue *q = config_queue_find(cfg, names[i]);
        cr_assert(not(eq(ptr, (void *)q, NULL)), "no queue %s", names[i]);
        if (i % 2 == 0) {
            cr_assert(eq(int, q->attrs.visibility_s, 30));
            cr_assert(eq(str, (char *)q->attrs.dlq, (char *)names[i + 1]));
            cr_assert(eq(int, q->attrs.max_receive, 5));
        } else {
            cr_assert(eq(int, q->attrs.retention_s, 1209600));
            cr_assert(eq(int, q->attrs.max_receive, 0));
        }
    }
    cr_assert(eq(sz, cfg->nrules, 3));
    cr_assert(eq(str, cfg->rules[0].name, "order-created"));
    cr_assert(eq(str, cfg->rules[0].targets[0], "orders"));
    json_t *want = json_loads(dq("{'source':['orderly.orders','order.service'],'detail-type':['OrderCreated','OrderPlaced']}"),
                              0, NULL);
    cr_assert(json_equal(cfg->rules[0].event_pattern, want), "order-created pattern differs");
    json_decref(want);
    cr_assert(eq(str, cfg->rules[1].name, "payment-requested"));
    cr_assert(eq(str, cfg->rules[1].targets[0], "payments"));
    cr_assert(eq(str, cfg->rules[2].name, "order-terminal"));
    cr_assert(eq(str, cfg->rules[2].targets[0], "notifications"));
    cr_assert(eq(sz, json_array_size(json_object_get(cfg->rules[2].event_pattern, "detail-type")), 6));
    cr_assert(eq(sz, cfg->nfunctions, 3));
    const char *fns[][3] = {{"order-processor", "orders", "5"}, {"payment-processor", "payments", "5"},
                            {"notification-processor", "notifications", "10"}};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(eq(str, cfg->functions[i].name, (char *)fns[i][0]));
        cr_assert(eq(str, cfg->functions[i].handler, (char *)fns[i][0]));
        cr_assert(eq(str, cfg->functions[i].queue, (char *)fns[i][1]));
        cr_assert(eq(int, cfg->functions[i].batch_size, atoi(fns[i][2])));
    }
    cr_assert(eq(str, cfg->orders.catalog, "catalog.json"));
    cr_assert(eq(str, cfg->orders.fail_sku, "FAIL-ME"));
    cr_assert(eq(int, cfg->orders.reservation_timeout_s, 900));
    cr_assert(eq(str, cfg->db, "data/dev.db"));
    cr_assert(eq(str, cfg->file, ORDERLY_SRC_DIR "/config/orderly.json"));
}

Test(config, printed_config_loads_back_the_same)
{
    cr_assert(eq(int, load("{'queues':[{'name':'q','attributes':{'DelaySeconds':'3','RedrivePolicy':"
                           "{'deadLetterTargetArn':'arn:aws:sqs:us-east-1:000000000000:dev-d',"
                           "'maxReceiveCount':2}}},{'name':'d'}],"
                           "'rules':[{'name':'r','description':'d','eventPattern':{'a':[{'prefix':'x'}]},"
                           "'targets':[{'queue':'q'}],'enabled':false}],"
                           "'functions':[{'name':'f','handler':'h','queue':'q','backoff':{'maxMs':5}}],"
                           "'alarms':[{'name':'r','metric':'m','labels':{'code':'5*'},'denominator':{'metric':'m'},"
                           "'statistic':'Sum','threshold':0.05,'comparisonOperator':'GreaterThanThreshold',"
                           "'evaluationPeriods':3,'datapointsToAlarm':2,'treatMissingData':'ignore'}],"
                           "'alarmSampleSeconds':3,'log':{'level':'debug'},'http':{'threads':7}}"), 0), "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    cr_assert(eq(int, config_print(cfg, m), 0));
    fclose(m);
    json_t *first = json_loads(text, 0, NULL);
    cr_assert(not(eq(ptr, first, NULL)), "config_print wrote invalid JSON: %s", text);
    cr_assert(eq(str, (char *)json_string_value(get_path(first, "env")), "dev"));
    cr_assert(eq(i64, json_int_at(first, "http.threads"), 7));
    config_free(cfg);
    cfg = NULL;
    cr_assert(eq(int, config_load(write_tmp(text), NULL, 0, &cfg, err, sizeof err), 0), "%s", err);
    free(text);
    json_t *second = config_to_json(cfg);
    cr_assert(json_equal(first, second), "round trip differs");
    cr_assert(eq(str, cfg->queues[0].attrs.dlq, "d"));
    cr_assert(eq(int, cfg->rules[0].enabled, 0));
    cr_assert(eq(sz, cfg->nalarms, 1));
    cr_assert(eq(int, cfg->alarms[0].datapoints_to_alarm, 2));
    cr_assert(eq(int, cfg->alarms[0].has_denominator, 1));
    cr_assert(eq(int, cfg->alarm_sample_s, 3));
    json_decref(first);
    json_decref(second);
}

Test(config, resource_names_and_lookup)
{
    cr_assert(eq(int, load_shipped(), 0), "%s", err);
    char buf[LIMIT_QUEUE_NAME_MAX + 1];
    cr_assert(eq(int, config_resource_name(cfg, "orders", buf, sizeof buf), 0));
    cr_assert(eq(str, buf, "dev-orders"));
    char small[8];
    cr_assert(eq(int, config_resource_name(cfg, "orders", small, sizeof small), ORD_ELIMIT));
    cr_assert(eq(str, small, ""));
    cr_assert(eq(ptr, (void *)config_queue_find(cfg, "dev-orders"), (void *)&cfg->queues[0]));
    cr_assert(eq(ptr, (void *)config_queue_find(cfg, "orders"), (void *)&cfg->queues[0]));
    cr_assert(eq(ptr, (void *)config_queue_find(cfg, "prod-orders"), NULL));
    cr_assert(eq(ptr, (void *)config_queue_find(cfg, "dev-"), NULL));
}

/* ---- Command line -------------------------------------------------------------------- */

static int args(char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    config_free(cfg);
    cfg = NULL;
    err[0] = 0;
    return config_from_args(argc, argv, &cfg, err, sizeof err);
}

Test(config, args_help_and_usage_errors)
{
    cr_assert(eq(int, args((char *[]){"serve", "--help", NULL}), CONFIG_HELP));
    cr_assert(eq(ptr, cfg, NULL));
    cr_assert(eq(int, args((char *[]){"serve", "--env", "BAD", "-h", NULL}), CONFIG_HELP));
    cr_assert(eq(int, config_exit_code(CONFIG_HELP), 0));

    cr_assert(eq(int, args((char *[]){"serve", "--env", "dev", "--bogus", NULL}), ORD_EUSAGE));
    cr_assert(eq(str, err, "serve: unknown option \"--bogus\" (see 'orderly serve --help')"));
    cr_assert(eq(int, config_exit_code(ORD_EUSAGE), 2));
    cr_assert(eq(int, args((char *[]){"serve", "--env", "dev", "--listen", NULL}), ORD_EUSAGE));
    assert_err_has("missing value for option \"--listen\"");
    cr_assert(eq(int, args((char *[]){"serve", "--env", "dev", "extra", NULL}), ORD_EUSAGE));
    assert_err_has("unexpected argument \"extra\"");
    cr_assert(eq(int, args((char *[]){"serve", "-x", NULL}), ORD_EUSAGE));
    cr_assert(eq(int, args((char *[]){"serve", "--help=yes", NULL}), ORD_EUSAGE));
    cr_assert(eq(int, args((char *[]){"serve", "--http-threads", "4", NULL}), ORD_EUSAGE));
}

Test(config, args_flags_and_sources)
{
    cr_assert(eq(int, args((char *[]){"serve", NULL}), ORD_ENOENV));
    cr_assert(eq(str, err, NOENV));

    setenv("ENVIRONMENT", "fromenv", 1);
    cr_assert(eq(int, args((char *[]){"serve", NULL}), CONFIG_RUN), "%s", err);
    cr_assert(eq(str, cfg->env, "fromenv"));
    cr_assert(eq(int, args((char *[]){"serve", "--env", "flag", "--listen=0.0.0.0:9", "--db", "x.db",
                                      "--log-level", "warn", "--listen", "0.0.0.0:10", NULL}),
              CONFIG_RUN), "%s", err);
    cr_assert(eq(str, cfg->env, "flag"));
    cr_assert(eq(str, cfg->listen, "0.0.0.0:10"));
    cr_assert(eq(str, cfg->db, "x.db"));
    cr_assert(eq(int, (int)cfg->log_level, (int)LOG_WARN));

    cr_assert(eq(int, args((char *[]){"serve", "--log-level", "loud", NULL}), ORD_ECONFIG));
    assert_err_has("(from --log-level)");
    cr_assert(eq(int, config_exit_code(ORD_ECONFIG), 2));

    cr_assert(eq(int, args((char *[]){"serve", "--print-config", NULL}), CONFIG_PRINT));
    cr_assert(not(eq(ptr, cfg, NULL)));
    cr_assert(eq(int, config_exit_code(CONFIG_PRINT), 0));
    cr_assert(eq(int, config_exit_code(ORD_ENOMEM), 1));
}

Test(config, args_config_file_from_flag_or_environment)
{
    char file[64];
    snprintf(file, sizeof file, "%s", write_tmp(dq("{'listen':'1.1.1.1:1'}")));
    setenv("ENVIRONMENT", "dev", 1);
    cr_assert(eq(int, args((char *[]){"serve", "--config", file, NULL}), CONFIG_RUN), "%s", err);
    cr_assert(eq(str, cfg->listen, "1.1.1.1:1"));
    cr_assert(eq(str, cfg->file, file));

    setenv("ORDERLY_CONFIG", file, 1);
    cr_assert(eq(int, args((char *[]){"serve", NULL}), CONFIG_RUN), "%s", err);
    cr_assert(eq(str, cfg->listen, "1.1.1.1:1"));

    cr_assert(eq(int, args((char *[]){"serve", "--config", ORDERLY_SRC_DIR "/config/orderly.json", NULL}),
              CONFIG_RUN), "%s", err);
    cr_assert(eq(str, cfg->listen, "127.0.0.1:8080"));
    cr_assert(eq(sz, cfg->nqueues, 6));

    setenv("ORDERLY_CONFIG", "/nonexistent.json", 1);
    cr_assert(eq(int, args((char *[]){"serve", NULL}), ORD_EIO));
    assert_err_has("/nonexistent.json");
}

Test(config, usage_documents_every_key)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    config_usage(m);
    fclose(m);
    size_t n, checked = 0;
    const conf_key *k = config_keys(&n);
    for (size_t i = 0; i < n; i++, checked++) {
        cr_assert(not(eq(ptr, strstr(text, k[i].path), NULL)), "usage lacks %s", k[i].path);
        if (k[i].env) cr_assert(not(eq(ptr, strstr(text, k[i].env), NULL)), "usage lacks %s", k[i].env);
        if (k[i].flag) {
            char f[64];
            snprintf(f, sizeof f, "--%s", k[i].flag);
            cr_assert(not(eq(ptr, strstr(text, f), NULL)), "usage lacks %s", f);
        }
    }
    const struct {
        const conf_key *(*fn)(size_t *);
        const char *prefix;
    } tables[] = {{queue_attrs_keys, "queues[].attributes."},
                  {config_function_keys, "functions[]."},
                  {config_rule_keys, "rules[]."},
                  {config_queue_keys, "queues[]."}};
    for (size_t t = 0; t < 4; t++) {
        k = tables[t].fn(&n);
        for (size_t i = 0; i < n; i++, checked++) {
            char p[CONF_PATH_MAX];
            snprintf(p, sizeof p, "%s%s", tables[t].prefix, k[i].path);
            cr_assert(not(eq(ptr, strstr(text, p), NULL)), "usage lacks %s", p);
        }
    }
    cr_assert(gt(sz, checked, 30));
    cr_assert(not(eq(ptr, strstr(text, "\"data/<env>.db\""), NULL)));
    cr_assert(not(eq(ptr, strstr(text, "--config FILE"), NULL)));
    cr_assert(not(eq(ptr, strstr(text, "--print-config"), NULL)));
    cr_assert(not(eq(ptr, strstr(text, "ORDERLY_CONFIG"), NULL)));
    free(text);
}

/* ---- The built-in topology ------------------------------------------------------------ */

static const config_queue *queue_named(const char *name)
{
    for (size_t i = 0; i < cfg->nqueues; i++)
        if (!strcmp(cfg->queues[i].name, name)) return &cfg->queues[i];
    return NULL;
}

Test(config, builtin_topology_is_the_seeds_flow)
{
    const char *queues[] = {"orders", "orders-dlq", "payments", "payments-dlq", "notifications", "notifications-dlq"};
    const char *fns[] = {"order-processor", "payment-processor", "notification-processor"};
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    for (size_t i = 0; i < 6; i++) {
        const config_queue *q = queue_named(queues[i]);
        cr_assert(not(eq(ptr, (void *)q, NULL)), "built-in queue %s", queues[i]);
        cr_assert(eq(int, q->builtin, 1));
    }
    cr_assert(eq(str, (char *)queue_named("orders")->attrs.dlq, "orders-dlq"));
    cr_assert(eq(int, queue_named("orders")->attrs.max_receive, 5));
    for (size_t i = 0; i < 3; i++) {
        cr_assert(eq(str, cfg->functions[i].name, (char *)fns[i]));
        cr_assert(eq(str, cfg->functions[i].handler, (char *)fns[i]));
    }
    cr_assert(eq(str, cfg->rules[0].name, "order-created"));
}

Test(config, file_entries_replace_or_extend_builtins)
{
    cr_assert(eq(int, load_on_builtin("{'queues':[{'name':'orders','attributes':{'VisibilityTimeout':60}},"
                                      "{'name':'extra'}]}"),
                 0),
              "%s", err);
    cr_assert(eq(sz, cfg->nqueues, 7), "six built-ins, one replaced, one added");
    cr_assert(eq(int, queue_named("orders")->attrs.visibility_s, 60));
    cr_assert(eq(int, queue_named("orders")->builtin, 0), "the file's entry replaced it");
    cr_assert(eq(str, (char *)queue_named("orders")->attrs.dlq, ""), "a replaced entry is the file's, whole");
    cr_assert(eq(str, cfg->queues[0].name, "orders"), "the file's entries come first");
    cr_assert(eq(str, cfg->queues[1].name, "extra"));
    cr_assert(eq(sz, cfg->nfunctions, 3));
    cr_assert(eq(int, load_on_builtin("{'functions':[{'name':'payment-processor','handler':'payment-processor',"
                                      "'queue':'payments','enabled':false}]}"),
                 0),
              "%s", err);
    cr_assert(eq(sz, cfg->nfunctions, 3));
    cr_assert(eq(str, cfg->functions[0].name, "payment-processor"));
    cr_assert(eq(int, cfg->functions[0].enabled, 0), "a built-in function turned off by the file");
}

Test(config, exclude_drops_builtins)
{
    cr_assert(eq(int, load_on_builtin("{'exclude':{'queues':['notifications','notifications-dlq'],"
                                      "'rules':['order-terminal'],'functions':['notification-processor'],"
                                      "'alarms':['low-stock']}}"),
                 0),
              "%s", err);
    cr_assert(eq(sz, cfg->nqueues, 4));
    cr_assert(eq(ptr, (void *)queue_named("notifications"), NULL));
    cr_assert(eq(sz, cfg->nrules, 2));
    cr_assert(eq(sz, cfg->nfunctions, 2));
    cr_assert(eq(sz, cfg->nalarms, 7));
    cr_assert(eq(int, load_on_builtin("{'exclude':{'queues':['nope']}}"), ORD_ECONFIG));
    assert_err_has("\"exclude.queues[0]\": no built-in queue named \"nope\"");
    cr_assert(eq(int, load_on_builtin("{'exclude':{'topics':['x']}}"), ORD_ECONFIG));
    assert_err_has("unknown key \"exclude.topics\"");
    /* a built-in that still refers to an excluded queue is named, by name */
    cr_assert(eq(int, load_on_builtin("{'exclude':{'queues':['notifications']}}"), ORD_ECONFIG));
    assert_err_has("\"rules[order-terminal (built-in)].targets[0].queue\": no queue \"notifications\"");
    cr_assert(eq(int, load_on_builtin("{'builtinTopology':false,'exclude':{'queues':['orders']}}"), ORD_ECONFIG));
    assert_err_has("\"exclude\" needs the built-in topology");
}

Test(config, empty_topology_on_purpose)
{
    cr_assert(eq(int, load_on_builtin("{'builtinTopology':false}"), 0), "%s", err);
    cr_assert(eq(sz, cfg->nqueues, 0));
    cr_assert(eq(sz, cfg->nrules, 0));
    cr_assert(eq(sz, cfg->nfunctions, 0));
    cr_assert(eq(sz, cfg->nalarms, 0));
}

Test(config, printed_config_stands_alone)
{
    cr_assert(eq(int, load_on_builtin("{'exclude':{'alarms':['low-stock']},'queues':[{'name':'extra'}]}"), 0),
              "%s", err);
    json_t *first = config_to_json(cfg);
    int alone = json_is_false(json_object_get(first, "builtinTopology"));
    cr_assert(eq(int, alone, 1), "printed with the whole topology");
    char *text = json_dumps(first, 0);
    cr_assert(eq(int, load_json_raw(json_loads(text, 0, NULL)), 0), "%s", err);
    json_t *again = config_to_json(cfg);
    char *a = json_dumps(first, JSON_SORT_KEYS), *b = json_dumps(again, JSON_SORT_KEYS);
    cr_assert(eq(str, a, b), "loading the printed config gives the same config");
    free(a);
    free(b);
    free(text);
    json_decref(first);
    json_decref(again);
}

Test(config, shipped_file_declares_no_topology_of_its_own)
{
    /* one source of truth: the shipped development config extends the
     * built-in topology and repeats none of it */
    FILE *f = fopen(ORDERLY_SRC_DIR "/config/orderly.json", "r");
    cr_assert(not(eq(ptr, f, NULL)));
    json_t *j = json_loadf(f, 0, NULL);
    fclose(f);
    const char *keys[] = {"queues", "rules", "functions", "alarms", "builtinTopology", "exclude"};
    for (size_t i = 0; i < 6; i++) cr_assert(eq(ptr, json_object_get(j, keys[i]), NULL), "%s in orderly.json", keys[i]);
    json_decref(j);
    cr_assert(eq(int, load(NULL), 0), "%s", err);
    json_t *builtin = config_to_json(cfg);
    cr_assert(eq(int, load_shipped(), 0), "%s", err);
    json_t *shipped = config_to_json(cfg);
    for (size_t i = 0; i < 4; i++) {
        char *a = json_dumps(json_object_get(builtin, keys[i]), JSON_SORT_KEYS);
        char *b = json_dumps(json_object_get(shipped, keys[i]), JSON_SORT_KEYS);
        cr_assert(eq(str, a, b), "%s of the shipped config differ from the built-in", keys[i]);
        free(a);
        free(b);
    }
    json_decref(builtin);
    json_decref(shipped);
}

Test(config, function_timeout_within_the_queue_visibility)
{
    cr_assert(eq(int, load("{'queues':[{'name':'q','attributes':{'VisibilityTimeout':5}}],"
                           "'functions':[{'name':'f','handler':'h','queue':'q','timeoutSeconds':5}]}"),
                 0),
              "%s", err);
    cr_assert(eq(int, load("{'queues':[{'name':'q','attributes':{'VisibilityTimeout':5}}],"
                           "'functions':[{'name':'f','handler':'h','queue':'q','timeoutSeconds':6}]}"),
                 ORD_ECONFIG));
    assert_err_has("\"functions[0].timeoutSeconds\": 6 s is more than the VisibilityTimeout (5 s) of its queue \"q\"");
    int rc = load("{'queues':[{'name':'q','attributes':{'VisibilityTimeout':0}}],"
                  "'functions':[{'name':'f','handler':'h','queue':'q'}]}");
    cr_assert(eq(int, rc, ORD_ECONFIG), "VisibilityTimeout 0 under a function");
}
