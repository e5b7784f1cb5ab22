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
    {0, 0, 0},
};

static const cli_spec replay_spec = {
    "events replay --from TIME --to TIME [--rule NAME] [--name NAME] [--url URL]",
    "Re-publishes the events archived with from <= time < to, oldest first, through the rules, as\n"
    "EventBridge replays do.  Events keep their id, so functions skip those they already "
    "processed.\n"
    "Prints how many events were replayed and how many messages they routed.  The server answers\n"
    "when the whole window ran (default timeout 600 s here).",
    0, 0, replay_flags};

static int replay(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &replay_spec, "events replay", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    const char *from = cli_opt(&c, "from"), *to = cli_opt(&c, "to"), *rule = cli_opt(&c, "rule");
    const char *name = cli_opt(&c, "name");
    int64_t f, t;
    json_t *body = NULL, *r = NULL;
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
    body = json_pack("{s:s,s:s}", "from", from, "to", to);
    if (rule) json_object_set_new(body, "rule", json_string(rule));
    if (name) json_object_set_new(body, "replayName", json_string(name));
    long status;
    rc = cli_http(&c, "POST", "/api/events/replay", body,
                  c.timeout_set ? 0 : LIMIT_CLI_REPLAY_TIMEOUT_S * 1000, &status, &r);
    if (rc) goto out;
    if (status != 200) {
        cli_print_problem(status, r);
        rc = CMD_FAIL;
        goto out;
    }
    printf("Replayed %lld events (replay %s) from %s to %s through %s%s: %lld messages routed\n",
           (long long)json_integer_value(json_object_get(r, "replayed")),
           json_string_value(json_object_get(r, "replayName")), from, to,
           rule ? "rule " : "every rule", rule ? rule : "",
           (long long)json_integer_value(json_object_get(r, "routed")));
    if (json_is_true(json_object_get(r, "truncated")))
        printf("Stopped at %d events, the most one replay re-publishes: split the window.\n",
               LIMIT_REPLAY_EVENTS_MAX);
out:
    json_decref(body);
    json_decref(r);
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
