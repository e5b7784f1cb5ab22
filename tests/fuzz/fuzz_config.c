/* fuzz_config.c - the config parser: config_load of a file whose contents
 * are the input (a memfd, so no file is left behind), with the environment
 * name given as the --env flag would.
 *
 * Invariants: the result is 0 or ORD_ECONFIG with one line "config: ..." in
 * err; a config that loads prints (config_to_json, what --print-config
 * writes) to a file that loads again to the same printed config (round
 * trip); its values respect the documented limits.
 */
#include "conf/config.h"
#include "fuzz.h"
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int fd_in = -1, fd_again = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the key table also reads ORDERLY_* variables: the input alone decides */
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; e && *e; e++)
            if (!strncmp(*e, "ORDERLY_", 8) || !strncmp(*e, "ENVIRONMENT=", 12)) {
                char name[256];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
    fd_in = memfd_create("fuzz-config", 0);
    fd_again = memfd_create("fuzz-config-again", 0);
    CHECK(fd_in >= 0 && fd_again >= 0);
    return 0;
}

static void put(int fd, const void *data, size_t size, char *path, size_t len)
{
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    snprintf(path, len, "/proc/self/fd/%d", fd);
}

static void check_limits(const config *c)
{
    CHECK(c->env[0] && strlen(c->env) <= LIMIT_ENV_NAME_MAX);
    CHECK(c->nqueues <= LIMIT_QUEUES_MAX && c->nrules <= LIMIT_RULES_MAX &&
          c->nfunctions <= LIMIT_FUNCTIONS_MAX && c->nalarms <= LIMIT_ALARMS_MAX);
    CHECK(c->http.threads >= 1 && c->http.threads <= LIMIT_HTTP_THREADS_MAX);
    CHECK(c->http.body_bytes_max >= LIMIT_HTTP_BODY_BYTES_MIN &&
          c->http.body_bytes_max <= LIMIT_HTTP_BODY_BYTES_MAX);
    CHECK(c->orders.demo.min_orders <= c->orders.demo.max_orders);
    for (size_t i = 0; i < c->nqueues; i++) {
        const config_queue *q = &c->queues[i];
        CHECK(queue_name_valid(q->name, LIMIT_QUEUE_NAME_MAX - strlen(c->env) - 1));
        CHECK(q->attrs.visibility_s >= 0 && q->attrs.visibility_s <= LIMIT_VISIBILITY_SECONDS_MAX);
        CHECK(q->attrs.delay_s >= 0 && q->attrs.delay_s <= LIMIT_DELAY_SECONDS_MAX);
        CHECK(q->attrs.retention_s >= LIMIT_RETENTION_SECONDS_MIN &&
              q->attrs.retention_s <= LIMIT_RETENTION_SECONDS_MAX);
        CHECK(q->attrs.max_size >= LIMIT_MAX_MESSAGE_SIZE_MIN &&
              q->attrs.max_size <= LIMIT_MESSAGE_BYTES_MAX);
        CHECK(q->attrs.wait_s >= 0 && q->attrs.wait_s <= LIMIT_WAIT_SECONDS_MAX);
        if (q->attrs.max_receive) { /* a redrive policy names another declared queue */
            CHECK(q->attrs.max_receive >= LIMIT_MAX_RECEIVE_COUNT_MIN &&
                  q->attrs.max_receive <= LIMIT_MAX_RECEIVE_COUNT_MAX);
            CHECK(config_queue_find(c, q->attrs.dlq) != NULL);
            CHECK(strcmp(q->attrs.dlq, q->name) != 0);
        }
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(c->queues[j].name, q->name) != 0);
    }
    for (size_t i = 0; i < c->nrules; i++) {
        const config_rule *r = &c->rules[i];
        CHECK(json_is_object(r->event_pattern));
        CHECK(r->ntargets >= 1 && r->ntargets <= LIMIT_RULE_TARGETS_MAX);
        for (int t = 0; t < r->ntargets; t++)
            CHECK(config_queue_find(c, r->targets[t]) != NULL);
    }
    for (size_t i = 0; i < c->nfunctions; i++) {
        const config_function *f = &c->functions[i];
        CHECK(config_queue_find(c, f->queue) != NULL);
        CHECK(f->batch_size >= 1 && f->batch_size <= LIMIT_FN_BATCH_MAX);
        CHECK(f->max_concurrency >= 1 && f->max_concurrency <= LIMIT_FN_CONCURRENCY_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LIMIT_CONFIG_BYTES_MAX + 1) return 0;
    static const config_setting env = {"env", "fuzz"};
    char path[64], err[LIMIT_CONFIG_ERR_MAX];
    config *cfg = NULL, *cfg2 = NULL;
    put(fd_in, data, size, path, sizeof path);
    int rc = config_load(path, &env, 1, &cfg, err, sizeof err);
    CHECK(rc == 0 || rc == ORD_ECONFIG);
    CHECK((rc == 0) == (cfg != NULL));
    if (rc) {
        CHECK(!strncmp(err, "config: ", 8));
        CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    check_limits(cfg);

    /* round trip: what --print-config prints loads to the same config */
    json_t *printed = config_to_json(cfg);
    CHECK(printed != NULL);
    char *text = json_dumps(printed, JSON_INDENT(2));
    CHECK(text != NULL);
    put(fd_again, text, strlen(text), path, sizeof path);
    rc = config_load(path, &env, 1, &cfg2, err, sizeof err);
    if (rc) fprintf(stderr, "printed config does not load: %s\n%s\n", err, text);
    CHECK(rc == 0);
    json_t *printed2 = config_to_json(cfg2);
    CHECK(printed2 != NULL);
    if (!json_equal(printed, printed2)) {
        char *t2 = json_dumps(printed2, JSON_INDENT(2));
        fprintf(stderr, "round trip differs:\n%s\n---\n%s\n", text, t2 ? t2 : "?");
        free(t2);
    }
    CHECK(json_equal(printed, printed2));
    json_decref(printed2);
    json_decref(printed);
    free(text);
    config_free(cfg2);
    config_free(cfg);
    return 0;
}
