/* events.c - `orderly events replay`: re-publishes the archived events of a
 * time window through the rules (all, or one) of a running server, via
 * POST /api/events/replay.  Replayed events keep their ids, so the
 * functions' idempotency turns events they already processed into
 * duplicates: a replay re-drives what was lost, never doubles an effect. */
#include "cli/client.h"
#include "cmd/cmd.h"
#include "lib/clock.h"
#include <stdio.h>
#include <string.h>

static const cli_flag replay_flags[] = {
    {"from", "TIME", "start of the window, RFC 3339 (2026-01-02T03:04:05Z), inclusive"},
    {"to", "TIME", "end of the window, exclusive"},
    {"rule", "NAME", "route through this rule only (default: every rule)"},
    {"name", "NAME", "replay name put in the events' replay-name (default: replay-<time>)"},
    {"rate", "N", "at most N events a second (default 5000)"},
    {"no-wait", NULL, "print the task and return; GET /api/tasks/ID follows it"},
    {0, 0, 0},
};

static const cli_spec replay_spec = {
    "events replay --from TIME --to TIME [--rule NAME] [--name NAME] [--rate N] [--no-wait] [--url URL]",
    "Re-publishes the events archived with from <= time < to, oldest first, through the rules, as\n"
    "EventBridge replays do.  Events keep their id, so functions skip those they already processed.\n"
    "The server runs it as a background task (one at a time); this follows its progress and prints\n"
    "how many events were replayed and how many messages they routed.  Interrupting the command\n"
    "does not stop the replay: POST /api/tasks/ID/cancel does.",
    0, 0, replay_flags};

static void replay_progress(void *arg, const json_t *t)
{
    (void)arg;
    printf("Replayed %lld of %lld events\n", (long long)json_integer_value(json_object_get(t, "eventsReplayed")),
           (long long)json_integer_value(json_object_get(t, "eventsInWindow")));
    fflush(stdout);
}

static int replay(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &replay_spec, "events replay", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    const char *from = cli_opt(&c, "from"), *to = cli_opt(&c, "to"), *rule = cli_opt(&c, "rule");
    const char *name = cli_opt(&c, "name");
    int64_t f, t;
    long long rate;
    json_t *body = NULL, *r = NULL, *done = NULL;
    if (!from || !to) {
        rc = cli_usage_error(&c, "--from and --to are required");
        goto out;
    }
    if (clock_parse_iso(from, &f) || clock_parse_iso(to, &t)) {
        rc = cli_usage_error(&c,
                             "--from and --to must be RFC 3339 times such as 2026-01-02T03:04:05Z");
        goto out;
    }
    if (f >= t) {
        rc = cli_usage_error(&c, "--from must be before --to");
        goto out;
    }
    if ((rc = cli_opt_int(&c, "rate", 1, LIMIT_TASK_RATE_MAX, LIMIT_TASK_RATE_DEFAULT, &rate))) goto out;
    body = json_pack("{s:s,s:s,s:I}", "from", from, "to", to, "ratePerSecond", (json_int_t)rate);
    if (rule) json_object_set_new(body, "rule", json_string(rule));
    if (name) json_object_set_new(body, "replayName", json_string(name));
    if ((rc = cli_call(&c, "POST", "/api/events/replay", body, &r))) goto out;
    printf("Replay %s started (task %s): %lld events from %s to %s through %s%s\n",
           json_string_value(json_object_get(r, "replayName")), json_string_value(json_object_get(r, "id")),
           (long long)json_integer_value(json_object_get(r, "eventsInWindow")), from, to,
           rule ? "rule " : "every rule", rule ? rule : "");
    fflush(stdout);
    if (cli_opt(&c, "no-wait")) goto out;
    if ((rc = cli_task_follow(&c, r, replay_progress, NULL, &done))) goto out;
    const char *state = json_string_value(json_object_get(done, "state"));
    printf("%s: replayed %lld events, %lld messages routed\n", state,
           (long long)json_integer_value(json_object_get(done, "eventsReplayed")),
           (long long)json_integer_value(json_object_get(done, "deliveries")));
    if (strcmp(state, "COMPLETED")) {
        const char *e = json_string_value(json_object_get(done, "error"));
        if (e) fprintf(stderr, "orderly: events replay: %s\n", e);
        rc = CMD_FAIL;
    }
out:
    json_decref(body);
    json_decref(r);
    json_decref(done);
    cli_release(&c);
    return rc;
}

int cmd_events(int argc, char **argv)
{
    static const cmd_def sub[] = {
        {"replay", replay, "re-publish the events of a time window through the rules"},
        {0, 0, 0},
    };
    return cmd_group("events", sub, argc, argv);
}
