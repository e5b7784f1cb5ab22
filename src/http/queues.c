/* queues.c - /api/queues: SQS-style queue access over HTTP.
 *
 *   GET  /api/queues                          list with stats
 *   POST /api/queues                          create {name, attributes?}
 *   GET  /api/queues/{name}                   attributes + stats
 *   GET|PUT /api/queues/{name}/attributes     SQS attribute names
 *   POST /api/queues/{name}/messages          send {body, delaySeconds?, messageAttributes?}
 *   POST /api/queues/{name}/messages/batch    send {entries:[{id, body, delaySeconds?}]} <= 10
 *   POST /api/queues/{name}/receive           {maxNumberOfMessages, waitTimeSeconds, visibilityTimeout}
 *   DELETE /api/queues/{name}/messages/{receipt}
 *   POST /api/queues/{name}/messages/delete   {entries:[{id, receiptHandle}]} <= 10
 *   POST /api/queues/{name}/messages/{receipt}/visibility {visibilityTimeout}
 *   POST /api/queues/{name}/redrive           {maxMessages?, destination?, ratePerSecond?}: 202, a
 *                                             background task (GET /api/tasks/{id}); {messageIds}: 200, at once or {messageIds: [...], destination?}
 *   POST /api/queues/{name}/purge
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "http/requests.h"
#include "lib/verr.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/md5.h"
#include "lib/str.h"
#include "obs/log.h"

/* ---- reads ------------------------------------------------------------------- */

static json_t *queue_json(api *a, queue *q)
{
    queue_attrs at;
    queue_stats s;
    queue_get_attrs(q, &at);
    json_t *o = json_pack("{s:s,s:o,s:b}", "name", queue_name(q), "attributes", queue_attrs_to_json(&at),
                          "deadLetterQueue", queue_is_dlq(a->qs, q));
    if (queue_stats_get(a->qs, q, &s) == 0)
        json_object_set_new(o, "stats",
                            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "visible", (json_int_t)s.visible,
                                      "inFlight", (json_int_t)s.in_flight, "delayed", (json_int_t)s.delayed,
                                      "oldestAgeSeconds", (json_int_t)s.oldest_age_s, "sent",
                                      (json_int_t)s.sent, "received", (json_int_t)s.received, "deleted",
                                      (json_int_t)s.deleted, "movedToDlq", (json_int_t)s.moved_to_dlq,
                                      "expired", (json_int_t)s.expired));
    return o;
}

int api_queues_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *arr = json_array();
    for (int i = 0; i < queue_count(a->qs); i++) json_array_append_new(arr, queue_json(a, queue_at(a->qs, i)));
    http_reply_json(r, 200, json_pack("{s:o}", "queues", arr));
    return 0;
}

int api_queue_get(http_req *r)
{
    queue *q = api_queue(r);
    if (q) http_reply_json(r, 200, queue_json(http_req_app(r), q));
    return 0;
}

int api_queue_attrs_get(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    queue_attrs at;
    queue_get_attrs(q, &at);
    http_reply_json(r, 200, json_pack("{s:o}", "attributes", queue_attrs_to_json(&at)));
    return 0;
}

/* ---- create / attributes ------------------------------------------------------ */

typedef struct attrs_op {
    api *a;
    queue *q;
    char name[LIMIT_QUEUE_NAME_MAX + 1];
    queue_attrs at;
    int created;
} attrs_op;

int api_attrs_parse(const json_t *attrs, queue_attrs *inout, json_t *errors)
{
    char err[200];
    if (attrs && !json_is_object(attrs)) {
        verr_add(errors, "attributes", "must be an object");
        return ORD_EVALIDATION;
    }
    if (attrs && queue_attrs_parse(attrs, inout, err, sizeof err)) {
        verr_add(errors, "attributes", "%s", err);
        return ORD_EVALIDATION;
    }
    return 0;
}

const json_t *api_attrs_body(const json_t *body)
{
    const json_t *attrs = json_object_get(body, "attributes");
    return attrs && json_object_size(body) == 1 ? attrs : body;
}

int api_queue_create_parse(const json_t *body, char name[LIMIT_QUEUE_NAME_MAX + 1], const json_t **attrs,
                           json_t *errors)
{
    static const char *const allowed[] = {"name", "attributes", NULL};
    size_t nerr = verr_count(errors);
    verr_reject_unknown(errors, body, "", allowed);
    json_t *v = json_object_get(body, "name");
    name[0] = 0;
    *attrs = json_object_get(body, "attributes");
    if (!json_is_string(v))
        verr_add(errors, "name", "required string");
    else if (!queue_name_valid(json_string_value(v), LIMIT_QUEUE_NAME_MAX))
        verr_add(errors, "name", "1-%d characters of [A-Za-z0-9_-]", LIMIT_QUEUE_NAME_MAX);
    else
        str_copy(name, LIMIT_QUEUE_NAME_MAX + 1, json_string_value(v));
    return verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

/* Parses {attributes} into op->at (starting from its current value); replies on error. */
static int parse_attrs(http_req *r, api *a, const json_t *attrs, attrs_op *op)
{
    char err[200];
    json_t *e = json_array();
    if (api_attrs_parse(attrs, &op->at, e)) return api_fail(r, e);
    if (queue_attrs_check(a->qs, op->name, &op->at, err, sizeof err)) verr_add(e, "attributes", "%s", err);
    return api_fail(r, e);
}

static int create_unit(store_conn *tx, void *arg)
{
    attrs_op *op = arg;
    return queue_create_tx(tx, op->a->qs, op->name, &op->at, &op->created);
}


static void create_reply(http_req *r, void *arg, int rc)
{
    attrs_op *op = arg;
    if (rc == ORD_EEXISTS) {
        http_reply_problem(r, rc, "a queue with this name exists with other attributes", NULL);
        return;
    }
    if (rc == ORD_ELIMIT) {
        char d[64];
        snprintf(d, sizeof d, "at most %d queues", LIMIT_QUEUES_MAX);
        http_reply_problem(r, rc, d, NULL);
        return;
    }
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    char loc[LIMIT_QUEUE_NAME_MAX + 16];
    snprintf(loc, sizeof loc, "/api/queues/%s", op->name);
    http_reply_header(r, "Location", loc);
    http_reply_json(r, op->created ? 201 : 200,
                    json_pack("{s:s,s:o,s:b}", "name", op->name, "attributes", queue_attrs_to_json(&op->at),
                              "created", op->created));
}

int api_queues_create(http_req *r)
{
    api *a = http_req_app(r);
    json_t *body = http_req_json(r);
    if (!body) return 0;
    json_t *errors = json_array();
    char name[LIMIT_QUEUE_NAME_MAX + 1];
    const json_t *attrs;
    api_queue_create_parse(body, name, &attrs, errors);
    if (api_fail(r, errors)) return 0;
    attrs_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    str_copy(op->name, sizeof op->name, name);
    api_ctx_of(r)->target = op->name;
    queue_attrs_init(&op->at);
    if (parse_attrs(r, a, attrs, op)) return 0;
    return api_submit(r, create_unit, create_reply, op);
}

static int set_attrs_unit(store_conn *tx, void *arg)
{
    attrs_op *op = arg;
    return queue_set_attrs_tx(tx, op->a->qs, op->q, &op->at);
}

static void set_attrs_reply(http_req *r, void *arg, int rc)
{
    attrs_op *op = arg;
    if (rc)
        http_reply_problem(r, rc, NULL, NULL);
    else
        http_reply_json(r, 200, json_pack("{s:o}", "attributes", queue_attrs_to_json(&op->at)));
}

int api_queue_attrs_put(http_req *r)
{
    api *a = http_req_app(r);
    queue *q = api_queue(r);
    if (!q) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    const json_t *attrs = api_attrs_body(body);
    attrs_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    op->q = q;
    str_copy(op->name, sizeof op->name, queue_name(q));
    queue_get_attrs(q, &op->at);
    if (parse_attrs(r, a, attrs, op)) return 0;
    return api_submit(r, set_attrs_unit, set_attrs_reply, op);
}

/* ---- send --------------------------------------------------------------------- */


typedef struct send_op {
    api *a;
    queue *q;
    int n, batch;
    send_entry e[LIMIT_BATCH_ENTRIES_MAX];
} send_op;

static int send_unit(store_conn *tx, void *arg)
{
    send_op *op = arg;
    for (int i = 0; i < op->n; i++) {
        send_entry *e = &op->e[i];
        if (e->rc) continue;
        e->rc = queue_send_tx(tx, op->a->qs, op->q, e->body, e->len, e->attrs, e->delay, e->message_id);
        if (e->rc == ORD_ESTORE || e->rc == ORD_ENOMEM) return e->rc;
    }
    return 0;
}

static json_t *entry_ok(const send_entry *e)
{
    char md5[33];
    md5_hex(e->body, e->len, md5);
    json_t *o = json_pack("{s:s,s:s}", "messageId", e->message_id, "md5OfBody", md5);
    if (e->id) json_object_set_new(o, "id", json_string(e->id));
    return o;
}

static json_t *entry_failed(const char *id, int rc, const char *msg)
{
    return json_pack("{s:s,s:s,s:s,s:b}", "id", id ? id : "", "code", http_err_slug(rc), "message",
                     msg ? msg : err_msg(rc), "senderFault", http_err_status(rc) < 500);
}

static void send_reply(http_req *r, void *arg, int rc)
{
    send_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    if (!op->batch) {
        send_entry *e = &op->e[0];
        if (e->rc == ORD_ETOOBIG) {
            char d[96];
            queue_attrs at;
            queue_get_attrs(op->q, &at);
            snprintf(d, sizeof d, "body is %zu bytes; this queue's MaximumMessageSize is %d", e->len, at.max_size);
            http_reply_problem(r, ORD_ETOOBIG, d, NULL);
        } else if (e->rc) {
            http_reply_problem(r, e->rc, NULL, NULL);
        } else {
            http_reply_json(r, 200, entry_ok(e));
        }
        return;
    }
    json_t *ok = json_array(), *failed = json_array();
    for (int i = 0; i < op->n; i++) {
        send_entry *e = &op->e[i];
        json_array_append_new(e->rc ? failed : ok, e->rc ? entry_failed(e->id, e->rc, NULL) : entry_ok(e));
    }
    http_reply_json(r, 200, json_pack("{s:o,s:o}", "successful", ok, "failed", failed));
}

/* Reads one message entry {body, delaySeconds?, messageAttributes?} into e:
 * 0, ORD_ENOMEM (attributes could not be kept); problems go to errors. */
static int parse_entry(json_t *errors, const json_t *o, const char *prefix, send_entry *e, int batch,
                       const api_alloc *al)
{
    static const char *const single[] = {"body", "delaySeconds", "messageAttributes", NULL};
    static const char *const many[] = {"id", "body", "delaySeconds", "messageAttributes", NULL};
    char f[64];
    int rc = 0;
    verr_reject_unknown(errors, o, prefix, batch ? many : single);
    json_t *b = json_object_get(o, "body");
    snprintf(f, sizeof f, "%sbody", prefix);
    if (!json_is_string(b)) {
        verr_add(errors, f, "required string");
    } else {
        e->body = json_string_value(b);
        e->len = json_string_length(b);
        if (e->len < LIMIT_MESSAGE_BYTES_MIN) verr_add(errors, f, "must not be empty");
    }
    long long d;
    snprintf(f, sizeof f, "%sdelaySeconds", prefix);
    e->delay = api_int(errors, o, "delaySeconds", f, 0, LIMIT_DELAY_SECONDS_MAX, -1, &d) ? (int)d : -1;
    json_t *ma = json_object_get(o, "messageAttributes");
    if (ma) {
        snprintf(f, sizeof f, "%smessageAttributes", prefix);
        char *text = json_is_object(ma) ? json_dumps(ma, JSON_COMPACT) : NULL;
        if (!text) {
            verr_add(errors, f, "must be an object");
        } else if (strlen(text) > LIMIT_MESSAGE_ATTRS_BYTES_MAX) {
            verr_add(errors, f, "at most %d bytes", LIMIT_MESSAGE_ATTRS_BYTES_MAX);
        } else {
            e->attrs = al->fn(al->ctx, strlen(text) + 1);
            if (e->attrs)
                memcpy(e->attrs, text, strlen(text) + 1);
            else
                rc = ORD_ENOMEM;
        }
        free(text);
    }
    if (batch) {
        json_t *id = json_object_get(o, "id");
        snprintf(f, sizeof f, "%sid", prefix);
        if (!json_is_string(id) || json_string_length(id) < 1 || json_string_length(id) > 80)
            verr_add(errors, f, "required string of 1-80 characters");
        else
            e->id = json_string_value(id);
    }
    return rc;
}

int api_send_parse(const json_t *body, send_entry *e, json_t *errors, const api_alloc *al)
{
    size_t nerr = verr_count(errors);
    memset(e, 0, sizeof *e);
    int rc = parse_entry(errors, body, "", e, 0, al);
    return rc ? rc : verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

/* The batch envelope {"entries": [...]} with 1..LIMIT_BATCH_ENTRIES_MAX
 * entries, or NULL (errors added). */
static const json_t *batch_entries(const json_t *body, size_t *n, json_t *errors)
{
    static const char *const allowed[] = {"entries", NULL};
    size_t nerr = verr_count(errors);
    verr_reject_unknown(errors, body, "", allowed);
    json_t *entries = json_object_get(body, "entries");
    *n = json_array_size(entries);
    if (!json_is_array(entries) || *n < 1 || *n > LIMIT_BATCH_ENTRIES_MAX)
        verr_add(errors, "entries", "an array of 1-%d entries", LIMIT_BATCH_ENTRIES_MAX);
    return verr_count(errors) > nerr ? NULL : entries;
}

/* One entry of a batch: o is an object, prefix "entries[i]."; *id is set to
 * the entry's id when it has one (a later entry with the same id is an
 * error).  < 0 stops the batch. */
typedef int (*batch_entry_fn)(json_t *errors, const json_t *o, const char *prefix, size_t i, void *ctx,
                              const char **id);

/* The batch envelope's entries, each through fn; *n = how many. */
static int batch_parse(const json_t *body, json_t *errors, int *n, batch_entry_fn fn, void *ctx)
{
    size_t nerr = verr_count(errors), ne;
    *n = 0;
    const json_t *entries = batch_entries(body, &ne, errors);
    if (!entries) return ORD_EVALIDATION;
    const char *ids[LIMIT_BATCH_ENTRIES_MAX] = {0};
    *n = (int)ne;
    for (size_t i = 0; i < ne; i++) {
        json_t *o = json_array_get(entries, i);
        char prefix[32], f[48];
        snprintf(prefix, sizeof prefix, "entries[%zu].", i);
        if (!json_is_object(o)) {
            snprintf(f, sizeof f, "entries[%zu]", i);
            verr_add(errors, f, "must be an object");
            continue;
        }
        int rc = fn(errors, o, prefix, i, ctx, &ids[i]);
        if (rc) return rc;
        snprintf(f, sizeof f, "%sid", prefix);
        for (size_t k = 0; k < i && ids[i]; k++)
            if (ids[k] && !strcmp(ids[k], ids[i])) verr_add(errors, f, "duplicate id");
    }
    return verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

struct send_batch {
    send_entry *e;
    const api_alloc *al;
};

static int send_entry_parse(json_t *errors, const json_t *o, const char *prefix, size_t i, void *ctx,
                            const char **id)
{
    struct send_batch *b = ctx;
    int rc = parse_entry(errors, o, prefix, &b->e[i], 1, b->al);
    *id = b->e[i].id;
    return rc;
}

int api_send_batch_parse(const json_t *body, send_entry e[LIMIT_BATCH_ENTRIES_MAX], int *n, json_t *errors,
                         const api_alloc *al)
{
    memset(e, 0, sizeof *e * LIMIT_BATCH_ENTRIES_MAX);
    struct send_batch b = {e, al};
    return batch_parse(body, errors, n, send_entry_parse, &b);
}

static void *arena_fn(void *ctx, size_t n)
{
    return http_req_alloc(ctx, n);
}

int api_queue_send(http_req *r)
{
    queue *q = api_queue(r);
    if (!q || api_admit(r)) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    send_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->q = q;
    op->n = 1;
    json_t *errors = json_array();
    api_alloc al = {arena_fn, r};
    if (api_send_parse(body, &op->e[0], errors, &al) == ORD_ENOMEM) {
        json_decref(errors);
        return ORD_ENOMEM;
    }
    if (api_fail(r, errors)) return 0;
    return api_submit(r, send_unit, send_reply, op);
}

int api_queue_send_batch(http_req *r)
{
    queue *q = api_queue(r);
    if (!q || api_admit(r)) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    send_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->q = q;
    op->batch = 1;
    json_t *errors = json_array();
    api_alloc al = {arena_fn, r};
    if (api_send_batch_parse(body, op->e, &op->n, errors, &al) == ORD_ENOMEM) {
        json_decref(errors);
        return ORD_ENOMEM;
    }
    if (api_fail(r, errors)) return 0;
    return api_submit(r, send_unit, send_reply, op);
}

/* ---- receive (long poll) -------------------------------------------------------- */

/* DESIGN.  A receive that finds nothing and may wait takes a waiting slot
 * (http_req_wait_begin: a bound of its own below the connection limits).
 * Past the bound it does not wait: it answers what it has - an empty list,
 * as SQS does when nothing comes - at once, with Connection: close, so the
 * connection goes back too.  A waiting poll sleeps on queue_wait in slices
 * of LIMIT_HTTP_WAIT_PEEK_MS: at the end of each it peeks at its socket and
 * re-arms the wait itself (no writer unit) while the client is there.  A
 * client that left ends the wait before anything is received for it (the
 * socket is also looked at when a message wakes the wait), so no message is
 * leased to nobody; the reply (499, as nginx logs a client that closed)
 * goes to a closed socket and its worker drops the connection. */

typedef struct recv_op {
    http_req *r;
    api *a;
    queue *q;
    int max, vis;
    int64_t deadline_ms; /* monotonic; 0 = no wait */
    uint64_t seq;
    int n;
    int waiting;  /* holds a waiting slot */
    int refused;  /* the waiting bound: answered at once */
    queue_msg m[LIMIT_RECEIVE_MAX];
} recv_op;

static int recv_unit(store_conn *tx, void *arg)
{
    recv_op *op = arg;
    op->seq = queue_wake_seq(op->q);
    return queue_receive_tx(tx, op->a->qs, op->q, op->max, op->vis, op->m, &op->n);
}

static void recv_reply(http_req *r, void *arg, int rc);
static int recv_wait(void *arg, int rc);
static void recv_woken(void *arg, int timed_out);

/* Sleeps until a message may be there, or the end of the current slice
 * (on a 100 ms grid, so that the timer fires for many waits at once), or
 * the deadline.  1 when the wait is armed (or already handed on). */
static int recv_arm(recv_op *op)
{
    int64_t slice = (clock_mono_ms() + LIMIT_HTTP_WAIT_PEEK_MS) / 100 * 100 + 100;
    if (slice > op->deadline_ms) slice = op->deadline_ms;
    return queue_wait(op->a->qs, op->q, op->seq, slice, recv_woken, op) == 0;
}

/* The client left during the wait: nothing was received for it. */
static void recv_gone_reply(http_req *r, void *arg)
{
    (void)arg;
    http_req_wait_end(r);
    http_req_set_close(r);
    http_reply_json(r, 499, json_pack("{s:[]}", "messages"));
}

/* On the timer thread (a slice or the deadline ended) or the writer (a
 * message may be there); the request is suspended and ours. */
static void recv_woken(void *arg, int timed_out)
{
    recv_op *op = arg;
    int draining = atomic_load(&op->a->draining);
    if (!draining && http_req_peer_gone(op->r)) {
        http_server_count_abandoned(http_req_server(op->r), 0);
        http_req_resume_then(op->r, recv_gone_reply, op);
        return;
    }
    if (timed_out && !draining && clock_mono_ms() < op->deadline_ms && recv_arm(op)) return;
    if (timed_out || draining) op->deadline_ms = 0; /* one last look, then answer */
    api_resubmit(op->r, recv_unit, recv_wait, recv_reply, op);
}

/* On the writer after a receive committed: nothing yet and time left ->
 * wait for a send to commit or a message to become visible, if a waiting
 * slot is free. */
static int recv_wait(void *arg, int rc)
{
    recv_op *op = arg;
    if (rc || op->n || !op->deadline_ms || clock_mono_ms() >= op->deadline_ms) return 0;
    if (!op->waiting) {
        if (http_req_wait_begin(op->r)) {
            op->refused = 1;
            return 0;
        }
        op->waiting = 1;
    }
    return recv_arm(op);
}

static void recv_reply(http_req *r, void *arg, int rc)
{
    recv_op *op = arg;
    http_req_wait_end(r);
    if (op->refused) http_req_set_close(r); /* the slot of the connection goes back too */
    if (rc) { /* the receive rolled back (its unit, or the batch's commit): what it read is not leased */
        queue_msgs_release(op->m, &op->n);
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < op->n; i++) {
        queue_msg *m = &op->m[i];
        char md5[33];
        md5_hex(m->body, m->body_len, md5);
        /* SQS gives system attributes as strings */
        char cnt[24], sent[24], first[24];
        snprintf(cnt, sizeof cnt, "%d", m->receive_count);
        snprintf(sent, sizeof sent, "%lld", (long long)m->sent_ms);
        snprintf(first, sizeof first, "%lld", (long long)m->first_receive_ms);
        json_t *attrs = json_pack("{s:s,s:s,s:s}", "ApproximateReceiveCount", cnt, "SentTimestamp", sent,
                                  "ApproximateFirstReceiveTimestamp", first);
        if (m->source_queue) {
            char arn[LIMIT_QUEUE_NAME_MAX + 64];
            snprintf(arn, sizeof arn, "arn:aws:sqs:%s:%s:%s", BUS_REGION, BUS_ACCOUNT, m->source_queue);
            json_object_set_new(attrs, "DeadLetterQueueSourceArn", json_string(arn));
        }
        json_t *o = json_pack("{s:s,s:s,s:s%,s:s,s:o}", "messageId", m->message_id, "receiptHandle", m->receipt,
                              "body", m->body, m->body_len, "md5OfBody", md5, "attributes", attrs);
        if (m->attrs) {
            json_t *ma = json_loads(m->attrs, 0, NULL);
            if (ma) json_object_set_new(o, "messageAttributes", ma);
        }
        json_array_append_new(arr, o);
        queue_msg_release(m);
    }
    http_reply_json(r, 200, json_pack("{s:o}", "messages", arr));
}

int api_receive_parse(const json_t *body, int default_wait_s, receive_in *out, json_t *errors)
{
    static const char *const allowed[] = {"maxNumberOfMessages", "waitTimeSeconds", "visibilityTimeout", NULL};
    size_t nerr = verr_count(errors);
    long long max = 1, wait = default_wait_s, vis = -1;
    if (body) {
        verr_reject_unknown(errors, body, "", allowed);
        api_int(errors, body, "maxNumberOfMessages", "maxNumberOfMessages", 1, LIMIT_RECEIVE_MAX, 1, &max);
        api_int(errors, body, "waitTimeSeconds", "waitTimeSeconds", 0, LIMIT_WAIT_SECONDS_MAX, default_wait_s,
                &wait);
        api_int(errors, body, "visibilityTimeout", "visibilityTimeout", 0, LIMIT_VISIBILITY_SECONDS_MAX, -1, &vis);
    }
    out->max = (int)max;
    out->wait = (int)wait;
    out->vis = (int)vis;
    return verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

int api_queue_receive(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    size_t blen;
    http_req_body(r, &blen);
    json_t *body = blen ? http_req_json(r) : json_object();
    if (!body) return 0;
    if (!blen) json_decref(body), body = NULL;
    json_t *errors = json_array();
    queue_attrs at;
    queue_get_attrs(q, &at);
    receive_in in;
    api_receive_parse(body, at.wait_s, &in, errors);
    if (api_fail(r, errors)) return 0;
    recv_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = http_req_app(r);
    op->q = q;
    op->max = in.max;
    op->vis = in.vis;
    op->deadline_ms = in.wait ? clock_mono_ms() + (int64_t)in.wait * 1000 : 0;
    return api_submit_wait(r, recv_unit, recv_wait, recv_reply, op);
}

/* ---- delete / visibility ----------------------------------------------------------- */

typedef struct del_op {
    api *a;
    http_req *r;
    queue *q;
    int n, batch, vis;
    del_entry e[LIMIT_BATCH_ENTRIES_MAX];
} del_op;

static int del_unit(store_conn *tx, void *arg)
{
    del_op *op = arg;
    for (int i = 0; i < op->n; i++) {
        op->e[i].rc = op->vis >= 0 ? queue_change_visibility_tx(tx, op->a->qs, op->q, op->e[i].receipt, op->vis)
                                   : queue_delete_tx(tx, op->a->qs, op->q, op->e[i].receipt);
        if (op->e[i].rc == ORD_ESTORE) return ORD_ESTORE;
    }
    if (!op->batch && op->e[0].rc) api_audit_status(op->r, http_err_status(op->e[0].rc)); /* a stale receipt: 410 */
    return 0;
}

static void del_reply(http_req *r, void *arg, int rc)
{
    del_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    if (!op->batch) {
        if (op->e[0].rc == ORD_ERECEIPT)
            http_reply_problem(r, ORD_ERECEIPT,
                               "the receipt handle is not the message's latest, or the message is gone", NULL);
        else if (op->e[0].rc)
            http_reply_problem(r, op->e[0].rc, NULL, NULL);
        else
            http_reply_raw(r, 204, NULL, "", 0);
        return;
    }
    json_t *ok = json_array(), *failed = json_array();
    for (int i = 0; i < op->n; i++) {
        if (op->e[i].rc)
            json_array_append_new(failed, entry_failed(op->e[i].id, op->e[i].rc, NULL));
        else
            json_array_append_new(ok, json_pack("{s:s}", "id", op->e[i].id));
    }
    http_reply_json(r, 200, json_pack("{s:o,s:o}", "successful", ok, "failed", failed));
}

static del_op *del_new(http_req *r, queue *q)
{
    del_op *op = http_req_alloc(r, sizeof *op);
    if (op) {
        memset(op, 0, sizeof *op);
        op->a = http_req_app(r);
        op->r = r;
        op->q = q;
        op->vis = -1;
    }
    return op;
}

int api_queue_delete(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    del_op *op = del_new(r, q);
    if (!op) return ORD_ENOMEM;
    op->n = 1;
    op->e[0].receipt = http_req_param(r, "receipt");
    return api_submit(r, del_unit, del_reply, op);
}

int api_visibility_parse(const json_t *body, int *vis, json_t *errors)
{
    static const char *const allowed[] = {"visibilityTimeout", NULL};
    size_t nerr = verr_count(errors);
    verr_reject_unknown(errors, body, "", allowed);
    long long v;
    if (!api_int(errors, body, "visibilityTimeout", "visibilityTimeout", 0, LIMIT_VISIBILITY_SECONDS_MAX, 0, &v))
        verr_add(errors, "visibilityTimeout", "required integer");
    *vis = (int)v;
    return verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

int api_queue_visibility(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    json_t *errors = json_array();
    int vis;
    api_visibility_parse(body, &vis, errors);
    if (api_fail(r, errors)) return 0;
    del_op *op = del_new(r, q);
    if (!op) return ORD_ENOMEM;
    op->n = 1;
    op->vis = vis;
    op->e[0].receipt = http_req_param(r, "receipt");
    return api_submit(r, del_unit, del_reply, op);
}

static int del_entry_parse(json_t *errors, const json_t *o, const char *prefix, size_t i, void *ctx,
                           const char **id)
{
    static const char *const allowed[] = {"id", "receiptHandle", NULL};
    del_entry *e = ctx;
    char f[64];
    verr_reject_unknown(errors, o, prefix, allowed);
    json_t *jid = json_object_get(o, "id"), *rh = json_object_get(o, "receiptHandle");
    snprintf(f, sizeof f, "%sid", prefix);
    if (!json_is_string(jid)) verr_add(errors, f, "required string");
    snprintf(f, sizeof f, "%sreceiptHandle", prefix);
    if (!json_is_string(rh)) verr_add(errors, f, "required string");
    e[i].id = *id = json_string_value(jid);
    e[i].receipt = json_string_value(rh);
    return 0;
}

int api_delete_batch_parse(const json_t *body, del_entry e[LIMIT_BATCH_ENTRIES_MAX], int *n, json_t *errors)
{
    memset(e, 0, sizeof *e * LIMIT_BATCH_ENTRIES_MAX);
    return batch_parse(body, errors, n, del_entry_parse, e);
}

int api_queue_delete_batch(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    json_t *body = http_req_json(r);
    if (!body) return 0;
    del_op *op = del_new(r, q);
    if (!op) return ORD_ENOMEM;
    op->batch = 1;
    json_t *errors = json_array();
    api_delete_batch_parse(body, op->e, &op->n, errors);
    if (api_fail(r, errors)) return 0;
    return api_submit(r, del_unit, del_reply, op);
}

/* ---- redrive / purge ------------------------------------------------------------------ */

typedef struct admin_op {
    api *a;
    http_req *r;
    queue *q, *dest;
    int max, purge;
    int64_t n;
    int64_t upto, chunk; /* a purge: the newest message id it deletes, what its last unit deleted */
    const char **ids;      /* redrive of selected messages: their MessageIds */
    int nids;
    unsigned char *found;
} admin_op;

static int admin_unit(store_conn *tx, void *arg)
{
    admin_op *op = arg;
    if (op->purge) {
        int rc = queue_purge_tx(tx, op->a->qs, op->q, &op->upto, LIMIT_SWEEP_ROWS, &op->chunk);
        if (!rc) op->n += op->chunk;
        return rc;
    }
    if (op->ids) return queue_redrive_ids_tx(tx, op->a->qs, op->q, op->dest, op->ids, op->nids, &op->n, op->found);
    return queue_redrive_tx(tx, op->a->qs, op->q, op->dest, op->max, &op->n);
}

static void admin_reply(http_req *r, void *arg, int rc);

/* A purge goes on in units of LIMIT_SWEEP_ROWS until one deletes fewer;
 * the answer counts them all. */
static int purge_wait(void *arg, int rc)
{
    admin_op *op = arg;
    if (rc || op->chunk < LIMIT_SWEEP_ROWS) return 0;
    api_resubmit(op->r, admin_unit, purge_wait, admin_reply, op);
    return 1;
}

static void admin_reply(http_req *r, void *arg, int rc)
{
    admin_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    json_t *o = json_pack("{s:s,s:I}", "queue", queue_name(op->q), op->purge ? "purged" : "moved", (json_int_t)op->n);
    if (op->ids) {
        json_t *left = json_array();
        for (int i = 0; i < op->nids; i++)
            if (!op->found[i]) json_array_append_new(left, json_string(op->ids[i]));
        json_object_set_new(o, "notMoved", left);
    }
    http_reply_json(r, 200, o);
}

/* {"messageIds": [...]}: 1..LIMIT_REDRIVE_IDS_MAX distinct strings. */
static void parse_ids(const json_t *ids, redrive_in *out, json_t *errors, const api_alloc *al)
{
    size_t n = json_array_size(ids);
    if (!json_is_array(ids) || n < 1 || n > LIMIT_REDRIVE_IDS_MAX) {
        verr_add(errors, "messageIds", "must be an array of 1 to %d message ids", LIMIT_REDRIVE_IDS_MAX);
        return;
    }
    const char **v = al->fn(al->ctx, sizeof *v * n);
    if (!v) {
        verr_add(errors, "messageIds", "too many");
        return;
    }
    memset(v, 0, sizeof *v * n); /* an invalid id leaves its slot NULL for the duplicate check */
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        char f[32];
        snprintf(f, sizeof f, "messageIds[%zu]", i);
        if (!id || !*id || strlen(id) > 64) {
            verr_add(errors, f, "must be a message id (1-64 characters)");
            continue;
        }
        for (size_t k = 0; k < i; k++)
            if (v[k] && !strcmp(v[k], id)) verr_add(errors, f, "duplicate id");
        v[i] = id;
    }
    out->ids = v;
    out->nids = (int)n;
}

int api_redrive_parse(const json_t *body, redrive_in *out, json_t *errors, const api_alloc *al)
{
    static const char *const allowed[] = {"maxMessages", "destination", "messageIds", "ratePerSecond", NULL};
    size_t nerr = verr_count(errors);
    long long max = LIMIT_REDRIVE_MAX, rate = LIMIT_TASK_RATE_DEFAULT;
    memset(out, 0, sizeof *out);
    if (body) {
        verr_reject_unknown(errors, body, "", allowed);
        api_int(errors, body, "maxMessages", "maxMessages", 1, LIMIT_REDRIVE_MAX, LIMIT_REDRIVE_MAX, &max);
        api_int(errors, body, "ratePerSecond", "ratePerSecond", 1, LIMIT_TASK_RATE_MAX, LIMIT_TASK_RATE_DEFAULT, &rate);
        json_t *ids = json_object_get(body, "messageIds");
        if (ids && json_object_get(body, "maxMessages"))
            verr_add(errors, "messageIds", "give either messageIds or maxMessages");
        else if (ids)
            parse_ids(ids, out, errors, al);
        json_t *d = json_object_get(body, "destination");
        if (d && json_is_string(d))
            out->destination = json_string_value(d);
        else if (d)
            verr_add(errors, "destination", "must name an existing queue");
    }
    out->max = (int)max;
    out->rate = (int)rate;
    return verr_count(errors) > nerr ? ORD_EVALIDATION : 0;
}

int api_queue_redrive(http_req *r)
{
    api *a = http_req_app(r);
    queue *q = api_queue(r);
    if (!q) return 0;
    size_t blen;
    http_req_body(r, &blen);
    json_t *body = blen ? http_req_json(r) : NULL;
    if (blen && !body) return 0;
    admin_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    op->q = q;
    json_t *errors = json_array();
    redrive_in in;
    api_alloc al = {arena_fn, r};
    api_redrive_parse(body, &in, errors, &al);
    if (in.destination && !(op->dest = queue_find(a->qs, in.destination)))
        verr_add(errors, "destination", "must name an existing queue");
    if (in.ids && !(op->found = http_req_alloc(r, (size_t)in.nids)))
        verr_add(errors, "messageIds", "too many");
    if (api_fail(r, errors)) return 0;
    op->max = in.max;
    op->ids = in.ids;
    op->nids = in.nids;
    if (op->ids) { /* a chosen few: at once, in one unit */
        api_audit_status(r, 200);
        return api_submit(r, admin_unit, admin_reply, op);
    }
    /* the whole queue (or maxMessages of it): a background task, as SQS's
     * StartMessageMoveTask; at most what the queue holds now */
    queue_stats qst;
    int rc = queue_stats_get(a->qs, q, &qst);
    if (rc) return rc;
    task_redrive_in t = {q, op->dest, in.rate, qst.visible < in.max ? qst.visible : in.max};
    return api_task_start(r, NULL, &t);
}

int api_queue_purge(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    /* no parameters; a body, when sent, must be {} (bad input purges nothing) */
    size_t blen;
    http_req_body(r, &blen);
    if (blen) {
        json_t *body = http_req_json(r);
        if (!body) return 0;
        static const char *const none[] = {NULL};
        json_t *errors = json_array();
        verr_reject_unknown(errors, body, "", none);
        if (api_fail(r, errors)) return 0;
    }
    admin_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->r = r;
    op->q = q;
    op->purge = 1;
    op->upto = -1;
    return api_submit_wait(r, admin_unit, purge_wait, admin_reply, op);
}

/* ---- DELETE /api/queues/{name} ------------------------------------------ */

typedef struct drop_op {
    api *a;
    queue *q;
    char why[160];
} drop_op;

static int drop_unit(store_conn *tx, void *arg)
{
    drop_op *op = arg;
    return queue_delete_queue_tx(tx, op->a->qs, op->q, op->why, sizeof op->why);
}

static void drop_reply(http_req *r, void *arg, int rc)
{
    drop_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, rc == ORD_ECONFLICT ? op->why : NULL, NULL);
        return;
    }
    log_info("queue", "queue deleted", "queue", queue_name(op->q), NULL);
    http_reply_raw(r, 204, NULL, "", 0);
}

int api_queue_drop(http_req *r)
{
    queue *q = api_queue(r);
    if (!q) return 0;
    drop_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->q = q;
    return api_submit(r, drop_unit, drop_reply, op);
}
