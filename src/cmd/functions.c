/* functions.c - `orderly functions list|pause|resume|drain NAME`: the
 * functions of a running server and an operator's control of them, over
 * HTTP (GET /api/functions, POST /api/functions/{name}/pause|resume|drain).
 * During an incident: pause a function (its messages wait, visible, in its
 * queue), look, drain a few (`drain NAME --max 5`), then resume.
 */
#include "cli/client.h"
#include "cmd/cmd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_spec list_spec = {
    "functions list [--url URL]",
    "Lists the functions with their queue, state (enabled, paused, disabled), batch size,\n"
    "concurrency, records in flight, invocations, errors and the last error.",
    0, 0, NULL};

static long long stat_of(const json_t *f, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(f, "stats"), k));
}

static int fn_list(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &list_spec, "functions list", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *r = NULL;
    if ((rc = cli_call(&c, "GET", "/api/functions", NULL, &r))) goto out;
    static const char *const head[] = {"FUNCTION", "QUEUE", "STATE", "BATCH", "CONCURRENCY", "IN FLIGHT",
                                       "INVOCATIONS", "ERRORS", "LAST ERROR"};
    cli_table t;
    cli_table_init(&t, 9, 0xf8, head);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "functions"), i, f)
    {
        char b[5][24];
        const char *le = json_string_value(json_object_get(f, "lastError"));
        snprintf(b[0], sizeof b[0], "%lld", (long long)json_integer_value(json_object_get(f, "batchSize")));
        snprintf(b[1], sizeof b[1], "%lld", (long long)json_integer_value(json_object_get(f, "maxConcurrency")));
        snprintf(b[2], sizeof b[2], "%lld", (long long)json_integer_value(json_object_get(f, "inFlight")));
        snprintf(b[3], sizeof b[3], "%lld", stat_of(f, "invocations"));
        snprintf(b[4], sizeof b[4], "%lld", stat_of(f, "errors"));
        const char *row[] = {json_string_value(json_object_get(f, "name")), json_string_value(json_object_get(f, "queue")),
                             json_string_value(json_object_get(f, "state")), b[0], b[1], b[2], b[3], b[4],
                             le ? le : "-"};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_release(&t);
out:
    json_decref(r);
    cli_release(&c);
    return rc;
}

/* POST /api/functions/{name}/<action> with body (may be NULL); *reply set. */
static int post_action(cli *c, const char *name, const char *action, const json_t *body, json_t **reply)
{
    char esc[256], path[LIMIT_CLI_URL_MAX];
    if (!cli_escape(name, esc, sizeof esc)) return cli_usage_error(c, "function name too long");
    snprintf(path, sizeof path, "/api/functions/%s/%s", esc, action);
    return cli_call(c, "POST", path, body, reply);
}

static const cli_spec pause_spec = {
    "functions pause NAME [--url URL]",
    "Pauses function NAME on every node: it finishes the records in flight and takes nothing\n"
    "more off its queue (its messages wait there, visible) until `functions resume NAME`.\n"
    "The state is kept in the database: a restart leaves it paused.",
    1, 1, NULL};
static const cli_spec resume_spec = {"functions resume NAME [--url URL]",
                                     "Resumes a paused function: it takes messages off its queue again.", 1, 1,
                                     NULL};

static int pause_or_resume(int argc, char **argv, int pause)
{
    cli c;
    int rc = cli_init(&c, pause ? &pause_spec : &resume_spec, pause ? "functions pause" : "functions resume",
                      argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *r = NULL;
    if (!(rc = post_action(&c, c.pos[0], pause ? "pause" : "resume", NULL, &r)))
        printf("%s: %s\n", json_string_value(json_object_get(r, "name")),
               json_string_value(json_object_get(r, "state")));
    json_decref(r);
    cli_release(&c);
    return rc;
}

static int fn_pause(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 1);
}

static int fn_resume(int argc, char **argv)
{
    return pause_or_resume(argc, argv, 0);
}

static const cli_flag drain_flags[] = {
    {"max", "N", "take at most N records (1..10000, the default 10000)"},
    {0, 0, 0},
};
static const cli_spec drain_spec = {
    "functions drain NAME [--max N] [--url URL]",
    "Processes NAME's queue now - also while the function is paused, to step through a queue -\n"
    "until it has no visible message, N records were taken or 20 s passed, and prints\n"
    "seed 003's counts: processed, failed, total.",
    1, 1, drain_flags};

static int fn_drain(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &drain_spec, "functions drain", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *r = NULL, *body = NULL;
    long long max;
    if ((rc = cli_opt_int(&c, "max", 1, LIMIT_FN_DRAIN_RECORDS_MAX, LIMIT_FN_DRAIN_RECORDS_MAX, &max))) goto out;
    body = json_pack("{s:I}", "maxRecords", (json_int_t)max);
    if (!c.timeout_set) c.timeout_ms = (LIMIT_FN_DRAIN_SECONDS + 30) * 1000; /* the drain answers within 20 s */
    if ((rc = post_action(&c, c.pos[0], "drain", body, &r))) goto out;
    printf("%s: processed=%lld failed=%lld deferred=%lld total=%lld (%s)\n", c.pos[0],
           (long long)json_integer_value(json_object_get(r, "processed")),
           (long long)json_integer_value(json_object_get(r, "failed")),
           (long long)json_integer_value(json_object_get(r, "deferred")),
           (long long)json_integer_value(json_object_get(r, "total")),
           json_string_value(json_object_get(r, "stoppedBy")));
out:
    json_decref(body);
    json_decref(r);
    cli_release(&c);
    return rc;
}

int cmd_functions(int argc, char **argv)
{
    static const cmd_def sub[] = {
        {"list", fn_list, "functions with their state, in-flight records and errors"},
        {"pause", fn_pause, "stop a function taking messages off its queue (every node, survives restarts)"},
        {"resume", fn_resume, "let a paused function take messages again"},
        {"drain", fn_drain, "process a function's queue now, also while paused: processed, failed, total"},
        {0, 0, 0},
    };
    return cmd_group("functions", sub, argc, argv);
}
