/* events.c - POST /api/events: PutEvents; POST /api/events/replay.
 *
 * Body {"Entries": [{Source, DetailType, Detail, Resources?, Time?}, ...]}
 * (1..10 entries; camelCase names source/detailType/detail/resources/time are
 * accepted too).  Detail is a JSON object or a string holding one, as in
 * EventBridge.  Entries are checked one by one; a bad entry fails alone with
 * ErrorCode/ErrorMessage and the good ones are published in one unit, so
 * each event's log row and routed messages commit together.  The answer has
 * Entries in request order and FailedEntryCount.
 *
 * Replay {from, to, rule?, replayName?, ratePerSecond?} starts a background
 * task (tasks.h) that re-publishes the archived events of the window through
 * the rules, and answers 202 with the task (GET /api/tasks/{id} follows it).
 */
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "http/requests.h"
#include "lib/utf8.h"
#include "lib/verr.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"

typedef struct put_op {
    http_req *r;
    api *a;
    int n;
    int rerun; /* an entry failed inside bus_publish_tx: the unit was rolled back */
    put_entry e[LIMIT_PUT_EVENTS_ENTRIES_MAX];
} put_op;

static const json_t *member(const json_t *o, const char *pascal, const char *camel)
{
    const json_t *v = json_object_get(o, pascal);
    return v ? v : json_object_get(o, camel);
}

static void entry_fail(put_entry *e, const char *code, const char *msg)
{
    e->rc = ORD_EVALIDATION;
    str_copy(e->code, sizeof e->code, code);
    str_copy(e->msg, sizeof e->msg, msg);
    utf8_scrub(e->msg); /* it may echo (a cut of) client text */
}

/* Nesting of v: a scalar 0, an object or array 1 + its deepest member. */
static int json_depth(const json_t *v)
{
    int max = 0, d;
    size_t i;
    const char *k;
    json_t *m;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) if ((d = json_depth(m)) > max) max = d;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) if ((d = json_depth(m)) > max) max = d;
    } else {
        return 0;
    }
    return max + 1;
}

static void parse_entry(const json_t *o, put_entry *e)
{
    static const char *const names[] = {"Source", "source", "DetailType", "detailType", "Detail", "detail",
                                        "Resources", "resources", "Time", "time", "EventBusName",
                                        "eventBusName", NULL};
    char m[320];
    if (!json_is_object(o)) {
        entry_fail(e, "InvalidArgument", "entry must be an object");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        int ok = 0;
        for (const char *const *n = names; *n && !ok; n++) ok = !strcmp(*n, k);
        if (!ok) {
            snprintf(m, sizeof m, "unknown field '%.64s'", k);
            entry_fail(e, "InvalidArgument", m);
            return;
        }
    }
    const json_t *src = member(o, "Source", "source"), *dt = member(o, "DetailType", "detailType");
    const json_t *det = member(o, "Detail", "detail"), *res = member(o, "Resources", "resources");
    const json_t *tm = member(o, "Time", "time");
    if (!json_is_string(src) || !json_is_string(dt)) {
        entry_fail(e, "InvalidArgument", "Source and DetailType are required strings");
        return;
    }
    e->ev.source = json_string_value(src);
    e->ev.detail_type = json_string_value(dt);
    if (json_is_string(det)) {
        json_error_t je;
        e->detail = json_loadb(json_string_value(det), json_string_length(det), JSON_REJECT_DUPLICATES, &je);
        if (!e->detail || !json_is_object(e->detail)) {
            snprintf(m, sizeof m, "Detail is not a JSON object: %.160s at position %d",
                     e->detail ? "not an object" : je.text, je.position);
            entry_fail(e, "MalformedDetail", m);
            return;
        }
        if (json_depth(e->detail) > LIMIT_JSON_DEPTH_MAX) {
            snprintf(m, sizeof m, "Detail nests deeper than %d levels", LIMIT_JSON_DEPTH_MAX);
            entry_fail(e, "MalformedDetail", m);
            return;
        }
        e->ev.detail = e->detail;
    } else if (det && !json_is_object(det)) {
        entry_fail(e, "MalformedDetail", "Detail must be a JSON object or a string holding one");
        return;
    } else {
        e->ev.detail = det;
    }
    e->ev.resources = res;
    /* only the server writes events about orders: what a client puts on the
     * bus never joins an order's timeline (no subject), and it cannot speak
     * as the server (as EventBridge keeps aws.* for AWS) */
    if (bus_source_reserved(e->ev.source)) {
        snprintf(m, sizeof m, "Source '%.64s' is reserved for events the server emits (%s*)", e->ev.source,
                 BUS_RESERVED_SOURCE_PREFIX);
        entry_fail(e, "NotAuthorizedForSourceException", m);
        return;
    }
    if (tm) {
        int64_t t;
        if (!json_is_string(tm) || clock_parse_iso(json_string_value(tm), &t)) {
            entry_fail(e, "InvalidArgument", "Time must be an RFC 3339 timestamp");
            return;
        }
        e->ev.time_ms = t;
        e->ev.has_time = 1;
    }
    if (bus_event_check(&e->ev, m, sizeof m)) {
        entry_fail(e, "InvalidArgument", m);
        return;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    free(text);
    if (len > LIMIT_EVENT_BYTES_MAX) {
        snprintf(m, sizeof m, "entry is %zu bytes; at most %d", len, LIMIT_EVENT_BYTES_MAX);
        entry_fail(e, "EntrySizeTooLarge", m);
    }
}

/* An entry that fails inside bus_publish_tx may already have written its
 * event-log row and sent to some targets (e.g. the second target's
 * MaximumMessageSize is too small).  Those writes must not commit under a
 * failed result: the unit is rolled back and run again without that entry
 * (at most n runs). */
static int put_unit(store_conn *tx, void *arg)
{
    put_op *op = arg;
    op->rerun = 0;
    for (int i = 0; i < op->n; i++) {
        put_entry *e = &op->e[i];
        if (e->rc) continue;
        e->rc = bus_publish_tx(tx, op->a->b, &e->ev, e->id, NULL);
        if (e->rc == ORD_ESTORE || e->rc == ORD_ENOMEM) return e->rc;
        if (e->rc) {
            str_copy(e->code, sizeof e->code, e->rc == ORD_ETOOBIG ? "EntrySizeTooLarge" : "InvalidArgument");
            str_copy(e->msg, sizeof e->msg, err_msg(e->rc));
            op->rerun = 1;
            return ORD_ECONFLICT; /* roll back this unit's writes */
        }
    }
    return 0;
}

void api_put_entries_release(put_entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(e[i].detail);
        e[i].detail = NULL;
    }
}

static void put_free(put_op *op)
{
    api_put_entries_release(op->e, op->n);
}

static void put_reply(http_req *r, void *arg, int rc);

/* On the writer: an entry failed mid-publish, so run again without it. */
static int put_wait(void *arg, int rc)
{
    put_op *op = arg;
    if (rc != ORD_ECONFLICT || !op->rerun) return 0;
    api_resubmit(op->r, put_unit, put_wait, put_reply, op);
    return 1;
}

static void put_reply(http_req *r, void *arg, int rc)
{
    put_op *op = arg;
    if (rc) {
        put_free(op);
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    /* one result per entry, in request order: a result that cannot be
     * built fails the whole answer rather than shift the others */
    json_t *entries = json_array();
    int failed = 0;
    for (int i = 0; entries && i < op->n; i++) {
        put_entry *e = &op->e[i];
        json_t *res = e->rc ? json_pack("{s:s,s:s}", "ErrorCode", e->code, "ErrorMessage", e->msg)
                            : json_pack("{s:s}", "EventId", e->id);
        failed += e->rc != 0;
        if (!res || json_array_append_new(entries, res)) {
            json_decref(entries);
            entries = NULL;
        }
    }
    put_free(op);
    json_t *body = entries ? json_pack("{s:i,s:o}", "FailedEntryCount", failed, "Entries", entries) : NULL;
    if (!body) {
        http_reply_problem(r, ORD_ENOMEM, NULL, NULL);
        return;
    }
    http_reply_json(r, 200, body);
}

int api_put_events_parse(const json_t *body, put_entry e[LIMIT_PUT_EVENTS_ENTRIES_MAX], int *n, json_t *errors)
{
    static const char *const allowed[] = {"Entries", "entries", NULL};
    size_t nerr = verr_count(errors);
    *n = 0;
    verr_reject_unknown(errors, body, "", allowed);
    const json_t *entries = member(body, "Entries", "entries");
    size_t ne = json_array_size(entries);
    if (!json_is_array(entries) || ne < 1 || ne > LIMIT_PUT_EVENTS_ENTRIES_MAX)
        verr_add(errors, "Entries", "an array of 1-%d entries", LIMIT_PUT_EVENTS_ENTRIES_MAX);
    if (verr_count(errors) > nerr) return ORD_EVALIDATION;
    memset(e, 0, sizeof *e * ne);
    *n = (int)ne;
    for (size_t i = 0; i < ne; i++) parse_entry(json_array_get(entries, i), &e[i]);
    return 0;
}

int api_events_put(http_req *r)
{
    if (api_admit(r)) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    put_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    json_t *errors = json_array();
    api_put_events_parse(body, op->e, &op->n, errors);
    if (api_fail(r, errors)) return 0;
    op->a = http_req_app(r);
    op->r = r;
    return api_submit_wait(r, put_unit, put_wait, put_reply, op);
}

/* ---- POST /api/events/replay ------------------------------------------------------ */

/* The start of a background task (replay here, redrive in queues.c): its
 * unit, and the 202 with the task, or 409 naming the task that runs. */
typedef struct task_op {
    api *a;
    task_replay_in replay;
    task_redrive_in redrive;
    int is_redrive;
    char id[TASK_ID_LEN + 1], running[TASK_ID_LEN + 1];
} task_op;

static int task_start_unit(store_conn *tx, void *arg)
{
    task_op *op = arg;
    if (op->is_redrive) return tasks_redrive_start_tx(tx, op->a->tasks, &op->redrive, op->id, op->running);
    return tasks_replay_start_tx(tx, op->a->tasks, &op->replay, op->id, op->running);
}

static void task_start_reply(http_req *r, void *arg, int rc)
{
    task_op *op = arg;
    if (rc == ORD_ECONFLICT) {
        char d[160];
        const char *what = op->is_redrive ? "a redrive of this queue" : "a replay";
        if (!op->running[0]) { /* PostgreSQL: another node's start committed first (a unique index) */
            snprintf(d, sizeof d, "%s was started at the same moment by another node", what);
            http_reply_problem(r, rc, d, NULL);
            return;
        }
        snprintf(d, sizeof d, "%s is running (task %s): wait for it or cancel it", what, op->running);
        http_reply_problem_ext(r, rc, d, NULL, json_pack("{s:s}", "runningTaskId", op->running));
        return;
    }
    if (rc == ORD_ELIMIT) {
        char d[96];
        snprintf(d, sizeof d, "%d tasks are unfinished, the most there may be", LIMIT_TASKS_ACTIVE);
        http_reply_problem(r, rc, d, NULL);
        return;
    }
    store_conn *c = rc ? NULL : store_reader(op->a->st);
    json_t *t = c ? tasks_get(c, op->id) : NULL;
    if (!t) {
        http_reply_problem(r, rc ? rc : ORD_ESTORE, NULL, NULL);
        return;
    }
    char loc[TASK_ID_LEN + 16];
    snprintf(loc, sizeof loc, "/api/tasks/%s", op->id);
    http_reply_header(r, "Location", loc);
    http_reply_json(r, 202, t);
}

int api_task_start(http_req *r, const task_replay_in *replay, const task_redrive_in *redrive)
{
    task_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    if (redrive) {
        op->redrive = *redrive;
        op->is_redrive = 1;
    } else {
        op->replay = *replay;
    }
    return api_submit(r, task_start_unit, task_start_reply, op);
}

static int replay_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= LIMIT_REPLAY_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int api_events_replay(http_req *r)
{
    api *a = http_req_app(r);
    json_t *body = http_req_json(r);
    if (!body) return 0;
    static const char *const allowed[] = {"from", "to", "rule", "replayName", "ratePerSecond", NULL};
    json_t *errors = json_array();
    verr_reject_unknown(errors, body, "", allowed);
    const json_t *jf = json_object_get(body, "from"), *jt = json_object_get(body, "to");
    const json_t *jr = json_object_get(body, "rule"), *jn = json_object_get(body, "replayName");
    int64_t from = 0, to = 0;
    long long rate;
    int times = 1;
    if (!json_is_string(jf) || clock_parse_iso(json_string_value(jf), &from)) {
        verr_add(errors, "from", "required, an RFC 3339 time such as 2026-01-02T03:04:05Z");
        times = 0;
    }
    if (!json_is_string(jt) || clock_parse_iso(json_string_value(jt), &to)) {
        verr_add(errors, "to", "required, an RFC 3339 time such as 2026-01-02T03:04:05Z");
        times = 0;
    }
    if (times && from >= to) verr_add(errors, "to", "must be after from");
    if (jr && (!json_is_string(jr) || !json_string_length(jr) || json_string_length(jr) > LIMIT_RULE_NAME_MAX))
        verr_add(errors, "rule", "a rule name, 1-%d characters", LIMIT_RULE_NAME_MAX);
    if (jn && (!json_is_string(jn) || !replay_name_valid(json_string_value(jn))))
        verr_add(errors, "replayName", "1-%d characters of [A-Za-z0-9._-]", LIMIT_REPLAY_NAME_MAX);
    api_int(errors, body, "ratePerSecond", "ratePerSecond", 1, LIMIT_TASK_RATE_MAX, LIMIT_TASK_RATE_DEFAULT, &rate);
    if (api_fail(r, errors)) return 0;
    const char *rule = json_string_value(jr);
    bus_replay_state probe;
    if (rule && bus_replay_begin(a->b, from, to, rule, NULL, &probe) == ORD_ENOTFOUND) {
        char d[LIMIT_RULE_NAME_MAX + 32];
        snprintf(d, sizeof d, "no rule named '%s'", rule);
        http_reply_problem(r, ORD_ENOTFOUND, d, NULL);
        return 0;
    }
    int64_t n;
    int rc = bus_archive_count(a->b, from, to, LIMIT_REPLAY_EVENTS_MAX + 1, &n);
    if (rc) return rc;
    if (n > LIMIT_REPLAY_EVENTS_MAX) {
        errors = json_array();
        verr_add(errors, "to", "the window holds more than %d events: replay a shorter one", LIMIT_REPLAY_EVENTS_MAX);
        api_fail(r, errors);
        return 0;
    }
    char *name = http_req_alloc(r, LIMIT_REPLAY_NAME_MAX + 1);
    if (!name) return ORD_ENOMEM;
    if (jn)
        str_copy(name, LIMIT_REPLAY_NAME_MAX + 1, json_string_value(jn));
    else
        snprintf(name, LIMIT_REPLAY_NAME_MAX + 1, "replay-%lld", (long long)clock_wall_ms());
    task_replay_in in = {from, to, rule, name, (int)rate, n};
    return api_task_start(r, &in, NULL);
}
