/* fuzz_queue_requests.c - the queue request parsers of http/queues.c (send,
 * send batch, receive, delete batch, change visibility, attributes, create,
 * redrive): every input is one request body, parsed as the handlers do
 * (http_json_parse) and given to each parser in turn.  An empty input is
 * the empty body that receive and redrive accept.
 *
 * Invariants: a parser fails exactly when it reported errors, and they are
 * {field, message}; what passes is within the documented limits (SQS:
 * 1-10 entries, distinct entry ids of 1-80 characters, bodies of at least
 * one character, DelaySeconds 0-900, MaxNumberOfMessages 1-10,
 * WaitTimeSeconds 0-20, VisibilityTimeout 0-43200, message attributes of at
 * most 8 KiB, maxMessages 1-100000 or 1-LIMIT_REDRIVE_IDS_MAX distinct
 * messageIds, ratePerSecond within its limit) and holds the body's values; queue
 * attributes round-trip through their JSON (queue_attrs_to_json) and a
 * refused change leaves them as they were.
 */
#include "fuzz.h"
#include "http/api.h"
#include "http/requests.h"
#include <stdio.h>

#define DEFAULT_WAIT 7

static int only_keys(const json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, k);
        if (!ok) return 0;
    }
    return 1;
}

/* Runs a parser's common checks: rc 0 exactly when no error was added. */
static void outcome(int rc, const json_t *errors)
{
    CHECK(rc == 0 || rc == ORD_EVALIDATION);
    CHECK((rc == 0) == (json_array_size(errors) == 0));
    fuzz_check_errors(errors, 0);
}

/* e was parsed from o: its values are o's. */
static void check_send_entry(const json_t *o, const send_entry *e, int batch)
{
    static const char *const single[] = {"body", "delaySeconds", "messageAttributes", NULL};
    static const char *const many[] = {"id", "body", "delaySeconds", "messageAttributes", NULL};
    CHECK(only_keys(o, batch ? many : single));
    const json_t *b = json_object_get(o, "body");
    CHECK(json_is_string(b) && e->body == json_string_value(b) && e->len == json_string_length(b));
    CHECK(e->len >= LIMIT_MESSAGE_BYTES_MIN);
    const json_t *d = json_object_get(o, "delaySeconds");
    CHECK(d ? (json_is_integer(d) && e->delay == json_integer_value(d)) : e->delay == -1);
    CHECK(e->delay >= -1 && e->delay <= LIMIT_DELAY_SECONDS_MAX);
    const json_t *ma = json_object_get(o, "messageAttributes");
    if (ma) {
        CHECK(e->attrs != NULL && strlen(e->attrs) <= LIMIT_MESSAGE_ATTRS_BYTES_MAX);
        json_error_t je;
        json_t *back = json_loads(e->attrs, JSON_REJECT_DUPLICATES, &je);
        CHECK(back != NULL && json_equal(back, ma));
        json_decref(back);
    } else {
        CHECK(e->attrs == NULL);
    }
    if (batch) {
        const json_t *id = json_object_get(o, "id");
        CHECK(json_is_string(id) && e->id == json_string_value(id));
        CHECK(json_string_length(id) >= 1 && json_string_length(id) <= 80);
    } else {
        CHECK(e->id == NULL);
    }
}

static void fuzz_send(const json_t *body)
{
    fuzz_scratch s = {0};
    api_alloc al = {fuzz_scratch_alloc, &s};
    json_t *errors = json_array();
    send_entry e;
    int rc = api_send_parse(body, &e, errors, &al);
    outcome(rc, errors);
    if (rc == 0) check_send_entry(body, &e, 0);
    json_decref(errors);
    fuzz_scratch_free(&s);
}

static void fuzz_send_batch(const json_t *body)
{
    static const char *const top[] = {"entries", NULL};
    fuzz_scratch s = {0};
    api_alloc al = {fuzz_scratch_alloc, &s};
    json_t *errors = json_array();
    send_entry e[LIMIT_BATCH_ENTRIES_MAX];
    int n = -1;
    int rc = api_send_batch_parse(body, e, &n, errors, &al);
    outcome(rc, errors);
    CHECK(n >= 0 && n <= LIMIT_BATCH_ENTRIES_MAX);
    if (rc == 0) {
        const json_t *entries = json_object_get(body, "entries");
        CHECK(only_keys(body, top));
        CHECK(n >= 1 && (size_t)n == json_array_size(entries));
        for (int i = 0; i < n; i++) {
            check_send_entry(json_array_get(entries, (size_t)i), &e[i], 1);
            for (int k = 0; k < i; k++)
                CHECK(strcmp(e[k].id, e[i].id) != 0);
        }
    }
    json_decref(errors);
    fuzz_scratch_free(&s);
}

static void fuzz_receive(const json_t *body)
{
    json_t *errors = json_array();
    receive_in in;
    int rc = api_receive_parse(body, DEFAULT_WAIT, &in, errors);
    outcome(rc, errors);
    if (rc == 0) {
        static const char *const keys[] = {"maxNumberOfMessages", "waitTimeSeconds",
                                           "visibilityTimeout", NULL};
        CHECK(!body || only_keys(body, keys));
        CHECK(in.max >= 1 && in.max <= LIMIT_RECEIVE_MAX);
        CHECK(in.wait >= 0 && in.wait <= LIMIT_WAIT_SECONDS_MAX);
        CHECK(in.vis >= -1 && in.vis <= LIMIT_VISIBILITY_SECONDS_MAX);
        if (!json_object_get(body, "maxNumberOfMessages")) CHECK(in.max == 1);
        if (!json_object_get(body, "waitTimeSeconds")) CHECK(in.wait == DEFAULT_WAIT);
        if (!json_object_get(body, "visibilityTimeout")) CHECK(in.vis == -1);
    }
    json_decref(errors);
}

static void fuzz_delete_batch(const json_t *body)
{
    json_t *errors = json_array();
    del_entry e[LIMIT_BATCH_ENTRIES_MAX];
    int n = -1;
    int rc = api_delete_batch_parse(body, e, &n, errors);
    outcome(rc, errors);
    CHECK(n >= 0 && n <= LIMIT_BATCH_ENTRIES_MAX);
    if (rc == 0) {
        static const char *const keys[] = {"id", "receiptHandle", NULL};
        const json_t *entries = json_object_get(body, "entries");
        CHECK(n >= 1 && (size_t)n == json_array_size(entries));
        for (int i = 0; i < n; i++) {
            const json_t *o = json_array_get(entries, (size_t)i);
            CHECK(json_is_object(o) && only_keys(o, keys));
            CHECK(e[i].id && e[i].id == json_string_value(json_object_get(o, "id")));
            CHECK(e[i].receipt &&
                  e[i].receipt == json_string_value(json_object_get(o, "receiptHandle")));
            for (int k = 0; k < i; k++)
                CHECK(strcmp(e[k].id, e[i].id) != 0);
        }
    }
    json_decref(errors);
}

static void fuzz_visibility(const json_t *body)
{
    json_t *errors = json_array();
    int vis = -1;
    int rc = api_visibility_parse(body, &vis, errors);
    outcome(rc, errors);
    if (rc == 0) {
        const json_t *v = json_object_get(body, "visibilityTimeout");
        CHECK(json_object_size(body) == 1 && json_is_integer(v) && vis == json_integer_value(v));
        CHECK(vis >= 0 && vis <= LIMIT_VISIBILITY_SECONDS_MAX);
    }
    json_decref(errors);
}

static void check_attrs_ranges(const queue_attrs *a)
{
    CHECK(a->visibility_s >= 0 && a->visibility_s <= LIMIT_VISIBILITY_SECONDS_MAX);
    CHECK(a->delay_s >= 0 && a->delay_s <= LIMIT_DELAY_SECONDS_MAX);
    CHECK(a->retention_s >= LIMIT_RETENTION_SECONDS_MIN &&
          a->retention_s <= LIMIT_RETENTION_SECONDS_MAX);
    CHECK(a->max_size >= LIMIT_MAX_MESSAGE_SIZE_MIN && a->max_size <= LIMIT_MESSAGE_BYTES_MAX);
    CHECK(a->wait_s >= 0 && a->wait_s <= LIMIT_WAIT_SECONDS_MAX);
    CHECK((a->max_receive == 0) == (a->dlq[0] == 0));
    if (a->max_receive) {
        CHECK(a->max_receive >= LIMIT_MAX_RECEIVE_COUNT_MIN &&
              a->max_receive <= LIMIT_MAX_RECEIVE_COUNT_MAX);
        CHECK(queue_name_valid(a->dlq, LIMIT_QUEUE_NAME_MAX));
    }
}

static int attrs_equal(const queue_attrs *a, const queue_attrs *b)
{
    return a->visibility_s == b->visibility_s && a->delay_s == b->delay_s &&
           a->retention_s == b->retention_s && a->max_size == b->max_size &&
           a->wait_s == b->wait_s && a->max_receive == b->max_receive && !strcmp(a->dlq, b->dlq);
}

/* attrs applied on top of start: a refusal changes nothing; a success stays
 * in range and round-trips through queue_attrs_to_json. */
static void attrs_on(const json_t *attrs, const queue_attrs *start)
{
    json_t *errors = json_array();
    queue_attrs a = *start;
    int rc = api_attrs_parse(attrs, &a, errors);
    outcome(rc, errors);
    if (rc) {
        CHECK(attrs_equal(&a, start));
    } else {
        check_attrs_ranges(&a);
        json_t *j = queue_attrs_to_json(&a);
        CHECK(j != NULL);
        queue_attrs b;
        queue_attrs_init(&b);
        json_t *e2 = json_array();
        CHECK(api_attrs_parse(j, &b, e2) == 0);
        CHECK(attrs_equal(&a, &b));
        json_decref(e2);
        json_decref(j);
    }
    json_decref(errors);
}

static void fuzz_attributes(const json_t *body)
{
    queue_attrs start;
    queue_attrs_init(&start);
    const json_t *attrs = api_attrs_body(body);
    CHECK(attrs != NULL);
    attrs_on(attrs, &start);
    snprintf(start.dlq, sizeof start.dlq, "fuzz-dlq"); /* a queue with a redrive policy */
    start.max_receive = 5;
    start.visibility_s = 120;
    attrs_on(attrs, &start);

    /* POST /api/queues {name, attributes?} */
    json_t *errors = json_array();
    char name[LIMIT_QUEUE_NAME_MAX + 1];
    const json_t *cattrs = NULL;
    int rc = api_queue_create_parse(body, name, &cattrs, errors);
    outcome(rc, errors);
    CHECK(cattrs == json_object_get(body, "attributes"));
    if (rc == 0) {
        CHECK(queue_name_valid(name, LIMIT_QUEUE_NAME_MAX));
        CHECK(!strcmp(name, json_string_value(json_object_get(body, "name"))));
        queue_attrs_init(&start);
        attrs_on(cattrs, &start);
    }
    json_decref(errors);
}

static void fuzz_redrive(const json_t *body)
{
    fuzz_scratch sc = {0};
    api_alloc al = {fuzz_scratch_alloc, &sc};
    json_t *errors = json_array();
    redrive_in in;
    int rc = api_redrive_parse(body, &in, errors, &al);
    outcome(rc, errors);
    if (rc == 0) {
        static const char *const keys[] = {"maxMessages", "destination", "messageIds",
                                           "ratePerSecond", NULL};
        CHECK(!body || only_keys(body, keys));
        CHECK(in.max >= 1 && in.max <= LIMIT_REDRIVE_MAX);
        CHECK(in.rate >= 1 && in.rate <= LIMIT_TASK_RATE_MAX);
        const json_t *d = json_object_get(body, "destination");
        CHECK(d ? in.destination == json_string_value(d) : in.destination == NULL);
        if (!json_object_get(body, "maxMessages")) CHECK(in.max == LIMIT_REDRIVE_MAX);
        if (!json_object_get(body, "ratePerSecond")) CHECK(in.rate == LIMIT_TASK_RATE_DEFAULT);
        const json_t *ids = json_object_get(body, "messageIds");
        CHECK((ids != NULL) == (in.ids != NULL));
        if (ids) { /* 1..max distinct ids of 1-64 characters, instead of maxMessages */
            CHECK(!json_object_get(body, "maxMessages"));
            CHECK(in.nids >= 1 && in.nids <= LIMIT_REDRIVE_IDS_MAX &&
                  (size_t)in.nids == json_array_size(ids));
            for (int i = 0; i < in.nids; i++) {
                CHECK(in.ids[i] == json_string_value(json_array_get(ids, (size_t)i)));
                CHECK(strlen(in.ids[i]) >= 1 && strlen(in.ids[i]) <= 64);
                for (int k = 0; k < i; k++)
                    CHECK(strcmp(in.ids[k], in.ids[i]) != 0);
            }
        }
    }
    json_decref(errors);
    fuzz_scratch_free(&sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LIMIT_HTTP_BODY_BYTES_MAX) return 0; /* 413 before any handler */
    if (size == 0) {                                /* no body: receive and redrive take defaults */
        fuzz_receive(NULL);
        fuzz_redrive(NULL);
        return 0;
    }
    json_t *body = fuzz_json_body(data, size);
    if (!body) return 0;
    fuzz_send(body);
    fuzz_send_batch(body);
    fuzz_receive(body);
    fuzz_delete_batch(body);
    fuzz_visibility(body);
    fuzz_attributes(body);
    fuzz_redrive(body);
    json_decref(body);
    return 0;
}
