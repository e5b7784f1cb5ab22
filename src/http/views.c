/* views.c - read-only views the console is built on:
 *
 *   GET /api/queues/{name}/messages?limit=&cursor=   browse without receiving (the DLQ inspector)
 *   GET /api/events?from=&to=&source=&detailType=&orderId=&limit=&cursor=   the archive, newest first
 *   GET /api/functions                               functions with their settings and counters
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/console.h"
#include "lib/clock.h"
#include "lib/err.h"

/* ---- browse ------------------------------------------------------------------ */

typedef struct browse {
    json_t *arr;
    int64_t last;
    queue_sys *qs;
    queue *q;
} browse;

static json_t *ms_or_null(int64_t ms)
{
    char t[32];
    return ms ? json_string(clock_fmt_iso(ms, 1, t, sizeof t)) : json_null();
}

/* A body as JSON text when it is UTF-8, else base64 (bodyEncoding). */
static void put_body(json_t *o, const char *b, size_t n)
{
    json_t *s = json_stringn(b, n);
    if (s) {
        json_object_set_new(o, "body", s);
        return;
    }
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *enc = malloc(cap);
    if (!enc) return;
    sodium_bin2base64(enc, cap, (const unsigned char *)b, n, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(o, "body", json_string(enc));
    json_object_set_new(o, "bodyEncoding", json_string("base64"));
    free(enc);
}

/* The order a message concerns: detail.orderId of an EventBridge envelope,
 * or orderId of a bare body. */
static json_t *order_of(const char *b, size_t n, int truncated)
{
    if (truncated) return NULL;
    json_t *j = json_loadb(b, n, 0, NULL);
    if (!j) return NULL;
    json_t *d = json_object_get(j, "detail");
    const char *id = json_string_value(json_object_get(json_is_object(d) ? d : j, "orderId"));
    json_t *out = id ? json_string(id) : NULL;
    json_decref(j);
    return out;
}

static void browse_one(void *arg, const queue_peek *m)
{
    browse *b = arg;
    int64_t now = clock_wall_ms();
    const char *state = m->in_flight ? "inFlight" : m->visible_ms > now ? "delayed" : "visible";
    int truncated = (int64_t)m->body_len < m->body_size;
    json_t *o = json_pack("{s:s,s:I,s:s,s:i,s:o,s:o,s:o,s:b,s:I}", "messageId", m->message_id, "position",
                          (json_int_t)m->seq, "state", state, "receiveCount", m->receive_count, "sentAt",
                          ms_or_null(m->sent_ms), "firstReceiveAt", ms_or_null(m->first_receive_ms),
                          "movedAt", ms_or_null(m->moved_ms), "bodyTruncated", truncated, "bodySize",
                          (json_int_t)m->body_size);
    if (!o) return;
    put_body(o, m->body, m->body_len);
    json_t *attrs = m->attrs ? json_loads(m->attrs, 0, NULL) : NULL;
    json_object_set_new(o, "messageAttributes", attrs ? attrs : json_object());
    json_object_set_new(o, "sourceQueue", m->source_queue ? json_string(m->source_queue) : json_null());
    json_t *ord = order_of(m->body, m->body_len, truncated);
    json_object_set_new(o, "orderId", ord ? ord : json_null());
    char vis[32];
    json_object_set_new(o, "visibleAt", json_string(clock_fmt_iso(m->visible_ms, 1, vis, sizeof vis)));
    json_array_append_new(b->arr, o);
    b->last = m->seq;
}

int api_queue_browse(http_req *r)
{
    api *a = http_req_app(r);
    queue *q = api_queue(r);
    if (!q) return 0;
    long long limit, after = 0;
    if (console_query_int(r, "limit", 1, LIMIT_BROWSE_MAX, LIMIT_BROWSE_DEFAULT, &limit)) return 0;
    const char *cursor = http_req_query(r, "cursor");
    if (cursor) {
        char *end;
        after = strtoll(cursor, &end, 10);
        if (!*cursor || *end || after < 0) {
            http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
            return 0;
        }
    }
    browse b = {json_array(), 0, a->qs, q};
    int n = queue_browse(a->qs, q, after, (int)limit, LIMIT_BROWSE_BODY_BYTES, browse_one, &b);
    if (n < 0) {
        json_decref(b.arr);
        return n;
    }
    json_t *out = json_pack("{s:s,s:b,s:o}", "queue", queue_name(q), "deadLetterQueue", queue_is_dlq(a->qs, q),
                            "messages", b.arr);
    if (n == limit) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)b.last);
        json_object_set_new(out, "nextCursor", json_string(c));
    }
    http_reply_json(r, 200, out);
    return 0;
}

/* ---- events ---------------------------------------------------------------------- */

static void event_one(void *arg, const bus_event_row *ev)
{
    json_t *arr = arg;
    char t[32];
    json_t *env = json_loadb(ev->envelope, ev->len, 0, NULL);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s?,s:s?,s:o}", "position", (json_int_t)ev->seq, "id", ev->id,
                          "time", clock_fmt_iso(ev->time_ms, 1, t, sizeof t), "source", ev->source, "detailType",
                          ev->detail_type, "orderId", ev->subject, "replayName", ev->replay_name, "event",
                          env ? env : json_null());
    if (o) json_array_append_new(arr, o);
}

/* An optional RFC 3339 time argument; replies 400 and returns 1 when bad. */
static int query_time(http_req *r, const char *name, int64_t def, int64_t *out)
{
    const char *v = http_req_query(r, name);
    *out = def;
    if (!v) return 0;
    if (clock_parse_iso(v, out) == 0) return 0;
    char d[96];
    snprintf(d, sizeof d, "%s must be an RFC 3339 time, e.g. 2026-11-21T10:00:00Z", name);
    http_reply_problem(r, ORD_EINVAL, d, NULL);
    return 1;
}

static int query_text(http_req *r, const char *name, size_t max, const char **out)
{
    const char *v = http_req_query(r, name);
    *out = v;
    if (!v || (*v && strlen(v) <= max)) return 0;
    char d[96];
    snprintf(d, sizeof d, "%s must be 1-%zu characters", name, max);
    http_reply_problem(r, ORD_EINVAL, d, NULL);
    return 1;
}

int api_events_search(http_req *r)
{
    api *a = http_req_app(r);
    bus_search q = {0};
    long long limit;
    int64_t now = clock_wall_ms();
    if (console_query_int(r, "limit", 1, LIMIT_EVENTS_SEARCH_MAX, LIMIT_EVENTS_SEARCH_DEFAULT, &limit) ||
        query_time(r, "from", 0, &q.from_ms) || query_time(r, "to", now + 1, &q.to_ms) ||
        query_text(r, "source", LIMIT_EVENT_FIELD_MAX, &q.source) ||
        query_text(r, "detailType", LIMIT_EVENT_FIELD_MAX, &q.detail_type) ||
        query_text(r, "orderId", BUS_SUBJECT_MAX, &q.subject))
        return 0;
    if (q.from_ms >= q.to_ms) {
        http_reply_problem(r, ORD_EINVAL, "from must be before to", NULL);
        return 0;
    }
    const char *cursor = http_req_query(r, "cursor");
    if (cursor) {
        char *end;
        q.before_seq = strtoll(cursor, &end, 10);
        if (!*cursor || *end || q.before_seq <= 0) {
            http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
            return 0;
        }
    }
    q.limit = (int)limit;
    json_t *arr = json_array();
    int n = bus_events_search(a->b, &q, event_one, arr);
    if (n < 0) {
        json_decref(arr);
        return n;
    }
    json_t *out = json_pack("{s:o}", "events", arr);
    if (n == q.limit && n > 0) {
        char c[24];
        json_t *last = json_array_get(arr, json_array_size(arr) - 1);
        snprintf(c, sizeof c, "%lld", (long long)json_integer_value(json_object_get(last, "position")));
        json_object_set_new(out, "nextCursor", json_string(c));
    }
    http_reply_json(r, 200, out);
    return 0;
}

/* ---- functions ---------------------------------------------------------------------- */

int api_functions_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *arr = json_array();
    for (int i = 0; i < fn_count(a->fs); i++) {
        fn_config c;
        fn_stats st;
        if (fn_config_get(a->fs, i, &c) || fn_stats_get(a->fs, c.name, &st)) continue;
        double avg_ms = st.invocations ? (double)st.duration_us_sum / 1000.0 / (double)st.invocations : 0;
        double avg_batch = st.invocations ? (double)st.batch_records / (double)st.invocations : 0;
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:{s:i,s:i},s:i,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:i,s:i}}",
                           "name", c.name, "handler", c.handler, "queue", c.queue, "batchSize", c.batch_size,
                           "batchingWindowMs", c.window_ms, "maxConcurrency", c.concurrency, "backoff", "baseMs",
                           c.backoff_base_ms, "maxMs", c.backoff_max_ms, "idempotencyTtlSeconds",
                           c.idempotency_ttl_s, "enabled", c.enabled, "stats", "invocations",
                           (json_int_t)st.invocations, "records", (json_int_t)st.records, "errors",
                           (json_int_t)st.errors, "duplicates", (json_int_t)st.duplicates, "fenced",
                           (json_int_t)st.fenced, "averageDurationMs", avg_ms, "averageBatchSize", avg_batch,
                           "pollers", st.pollers, "pollersRunning", st.pollers_running));
    }
    http_reply_json(r, 200, json_pack("{s:o}", "functions", arr));
    return 0;
}
