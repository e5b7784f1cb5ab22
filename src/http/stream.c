/* stream.c - GET /api/stream: Server-Sent Events for the web console:
 * order status changes, alarm transitions and the metrics sample (queue
 * depths, rates) every LIMIT_HISTORY_SAMPLE_S.
 *
 * DESIGN.  Committed bus events reach the hub through the bus observer on
 * the store's writer thread, which only copies them into a bounded inbox
 * (LIMIT_STREAM_INBOX) and wakes the streams: parsing and formatting happen
 * later, on an HTTP worker (the first stream that pulls) or the sampler,
 * so the writer pays a copy.  Formatted events go into a ring of the last
 * LIMIT_STREAM_RING events with ids "<boot>.<n>"; each stream is a cursor
 * into the ring, so a reconnecting client's Last-Event-ID resumes where it
 * stopped, and a client that fell more than the ring behind (or names an
 * id of another process) gets a `reset` event: reload, then go on live.
 * Nothing is recorded before the first stream opens nor LIMIT_STREAM_RETAIN_S
 * after the last one closed: a node without a console pays one atomic load
 * per event.  A stream holds no thread: http_reply_stream parks it while
 * there is nothing to send.
 *
 * THREAD SAFETY.  One mutex (hub->mu) guards the inbox, the ring and the
 * list of streams; wakes are sent under it, and a stream's done callback
 * unlinks it under it, so no wake reaches a finished stream.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "http/console.h"
#include "http/static.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"

#define FRAME_ID_MAX 40

typedef struct ring_ev {
    uint64_t id;
    stream_kind kind;
    char customer[sizeof(((stream_principal *)0)->customer)];
    size_t len;
    char text[LIMIT_STREAM_EVENT_BYTES];
} ring_ev;

typedef struct raw_ev {
    struct raw_ev *next;
    int64_t time_ms;
    int alarm;                /* else an order event */
    char detail_type[64];
    char subject[BUS_SUBJECT_MAX + 1];
    size_t len;
    char envelope[];
} raw_ev;

struct stream_sub {
    struct stream_sub *prev, *next;
    stream_hub *h;
    http_stream *hs;          /* NULL until the reply is set up */
    http_server *srv;         /* its server (set with hs) */
    stream_principal p;
    uint64_t last;            /* id of the last event sent (or skipped) */
    int hello;                /* the retry line is still to send */
    char reset[96];           /* a reset event is due, for this reason */
    int heartbeat;            /* a comment line is due */
    int gone;                 /* its client closed the connection: end the body */
    int64_t last_write_ms;
};
typedef struct stream_sub sub;

struct stream_hub {
    pthread_mutex_t mu;
    char boot[16];
    ring_ev *ring;
    uint64_t next_id;         /* ids start at 1 */
    raw_ev *in_head, *in_tail;
    int in_n, in_lost;
    sub *subs;
    int closing;
    _Atomic int nsubs;
    _Atomic int64_t active_until_ms;
};

/* ---- principal ----------------------------------------------------------- */

void stream_principal_of(http_req *r, stream_principal *p)
{
    memset(p, 0, sizeof *p);
    /* staff see everything; a customer its own orders' events (the guard
     * has let only the roles of the route table through) */
    const api_ctx *c = api_ctx_of(r);
    if (c && c->p.role == ROLE_CUSTOMER) {
        str_copy(p->customer, sizeof p->customer, c->p.customer_id);
        return;
    }
    p->all = 1;
}

int stream_visible(const stream_principal *p, stream_kind kind, const char *customer)
{
    if (p->all) return 1;
    return kind == STREAM_ORDER && customer && p->customer[0] && strcmp(customer, p->customer) == 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

int stream_hub_new(stream_hub **out)
{
    stream_hub *h = calloc(1, sizeof *h);
    if (!h) return ORD_ENOMEM;
    h->ring = calloc(LIMIT_STREAM_RING, sizeof *h->ring); /* pages are touched only when used */
    if (!h->ring) {
        free(h);
        return ORD_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->next_id = 1;
    /* ids of another process must not be taken for ours */
    uint64_t t = (uint64_t)clock_wall_ms();
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[t % 36];
        t /= 36;
    } while (t && n < 15);
    for (int i = 0; i < n; i++) h->boot[i] = tmp[n - 1 - i];
    *out = h;
    return 0;
}

static void inbox_clear(stream_hub *h)
{
    while (h->in_head) {
        raw_ev *r = h->in_head;
        h->in_head = r->next;
        free(r);
    }
    h->in_tail = NULL;
    h->in_n = 0;
}

void stream_hub_free(stream_hub *h)
{
    if (!h) return;
    if (h->subs) log_warn("stream", "streams still open at close", NULL);
    inbox_clear(h);
    pthread_mutex_destroy(&h->mu);
    free(h->ring);
    free(h);
}

/* Under mu: every stream that is set up pulls again. */
static void wake_all(stream_hub *h)
{
    for (sub *s = h->subs; s; s = s->next)
        if (s->hs) http_stream_wake(s->hs);
}

void stream_hub_close(stream_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closing = 1;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

int stream_hub_count(stream_hub *h)
{
    return atomic_load(&h->nsubs);
}

/* ---- the ring ------------------------------------------------------------- */

static void frame_id(const stream_hub *h, uint64_t id, char out[FRAME_ID_MAX])
{
    snprintf(out, FRAME_ID_MAX, "%s.%llu", h->boot, (unsigned long long)id);
}

/* Under mu: appends an event; data is serialised into the slot. */
static void ring_put(stream_hub *h, stream_kind kind, const char *event, const char *customer, const json_t *data)
{
    uint64_t id = h->next_id;
    char fid[FRAME_ID_MAX], text[LIMIT_STREAM_EVENT_BYTES];
    frame_id(h, id, fid);
    /* formatted aside: the slot still holds the oldest event until this one fits */
    int head = snprintf(text, sizeof text, "id: %s\nevent: %s\ndata: ", fid, event);
    if (head < 0 || (size_t)head >= sizeof text - 3) return;
    size_t room = sizeof text - (size_t)head - 2; /* "\n\n" */
    size_t n = json_dumpb(data, text + head, room, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (n == 0 || n > room) {
        log_warn("stream", "event too large for a stream frame: dropped", "event", event, NULL);
        return;
    }
    memcpy(text + head + n, "\n\n", 2);
    ring_ev *e = &h->ring[id % LIMIT_STREAM_RING];
    e->len = (size_t)head + n + 2;
    memcpy(e->text, text, e->len);
    e->id = id;
    e->kind = kind;
    str_copy(e->customer, sizeof e->customer, customer ? customer : "");
    h->next_id = id + 1;
}

/* The status an order event enters: OrderCreated (and seed 000's
 * OrderPlaced) a new PENDING order, the rest by the state machine's table. */
static const char *status_of(const char *detail_type)
{
    if (!strcmp(detail_type, "OrderCreated") || !strcmp(detail_type, "OrderPlaced"))
        return order_status_name(ORDER_PENDING);
    for (int i = 0; i < ORDER_TRANSITIONS; i++)
        if (!strcmp(order_transitions[i].event, detail_type)) return order_status_name(order_transitions[i].to);
    return NULL;
}

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void iso_time(int64_t ms, char out[32])
{
    clock_fmt_iso(ms, 1, out, 32);
}

/* Under mu: parses and formats what the writer left in the inbox. */
static void inbox_drain(stream_hub *h)
{
    if (h->in_lost) {
        /* events were dropped: no stream can trust its cursor */
        for (sub *s = h->subs; s; s = s->next)
            snprintf(s->reset, sizeof s->reset, "%d events were dropped (the stream fell behind)", h->in_lost);
        h->in_lost = 0;
    }
    while (h->in_head) {
        raw_ev *r = h->in_head;
        h->in_head = r->next;
        h->in_n--;
        json_t *env = json_loadb(r->envelope, r->len, 0, NULL);
        json_t *d = json_object_get(env, "detail");
        char t[32];
        iso_time(r->time_ms, t);
        if (r->alarm) {
            const json_t *st = json_object_get(d, "state"), *prev = json_object_get(d, "previousState");
            json_t *data = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s}", "alarmName", str_at(d, "alarmName"), "state",
                                     str_at(st, "value"), "previousState", str_at(prev, "value"), "reason",
                                     str_at(st, "reason"), "time", t);
            if (data) ring_put(h, STREAM_ALARM, "alarm", NULL, data);
            json_decref(data);
        } else {
            const char *status = status_of(r->detail_type), *customer = str_at(d, "customerId");
            const char *order = r->subject[0] ? r->subject : str_at(d, "orderId");
            json_t *data = json_pack("{s:s?,s:s?,s:s,s:s?,s:s?,s:s}", "orderId", order, "customerId", customer,
                                     "type", r->detail_type, "status", status, "reason", str_at(d, "reason"),
                                     "time", t);
            if (data && order) ring_put(h, STREAM_ORDER, "order", customer, data);
            json_decref(data);
        }
        json_decref(env);
        free(r);
    }
    h->in_tail = NULL;
}

/* ---- the writer's side ------------------------------------------------------ */

int stream_hub_wants(void *arg)
{
    stream_hub *h = arg;
    return atomic_load_explicit(&h->nsubs, memory_order_relaxed) > 0 ||
           clock_wall_ms() < atomic_load_explicit(&h->active_until_ms, memory_order_relaxed);
}

void stream_hub_observe(void *arg, const bus_observed *ev)
{
    stream_hub *h = arg;
    int alarm = !strcmp(ev->source, ALARM_EVENT_SOURCE) && !strcmp(ev->detail_type, ALARM_EVENT_TYPE);
    if (!alarm && strcmp(ev->source, ORDERS_SOURCE) != 0) return; /* not shown live */
    raw_ev *r = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->in_n < LIMIT_STREAM_INBOX && (r = malloc(sizeof *r + ev->len + 1))) {
        r->next = NULL;
        r->time_ms = ev->time_ms;
        r->alarm = alarm;
        str_copy(r->detail_type, sizeof r->detail_type, ev->detail_type);
        str_copy(r->subject, sizeof r->subject, ev->subject);
        memcpy(r->envelope, ev->envelope, ev->len);
        r->envelope[ev->len] = 0;
        r->len = ev->len;
        if (h->in_tail)
            h->in_tail->next = r;
        else
            h->in_head = r;
        h->in_tail = r;
        h->in_n++;
    } else {
        h->in_lost++;
    }
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

void stream_hub_push(stream_hub *h, stream_kind kind, const char *event, const json_t *data)
{
    pthread_mutex_lock(&h->mu);
    if (h->subs || clock_wall_ms() < atomic_load(&h->active_until_ms)) {
        inbox_drain(h); /* keep the order of the ids */
        ring_put(h, kind, event, NULL, data);
        wake_all(h);
    }
    pthread_mutex_unlock(&h->mu);
}

void stream_hub_tick(stream_hub *h)
{
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&h->mu);
    inbox_drain(h);
    for (sub *s = h->subs; s; s = s->next) {
        /* a parked stream is not written to: look at its socket, so that a
         * client that left frees its slot within a tick, not a heartbeat */
        if (s->hs && !s->gone && http_stream_peer_gone(s->hs)) {
            s->gone = 1;
            http_server_count_abandoned(s->srv, 1);
            http_stream_wake(s->hs);
        } else if (now - s->last_write_ms >= (int64_t)LIMIT_STREAM_HEARTBEAT_S * 1000) {
            s->heartbeat = 1;
            if (s->hs) http_stream_wake(s->hs);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- one stream ------------------------------------------------------------------ */

/* Under mu: appends a reset event (the client reloads what it shows). */
static size_t put_reset(stream_hub *h, sub *s, char *buf, size_t max)
{
    char fid[FRAME_ID_MAX];
    s->last = h->next_id - 1;
    frame_id(h, s->last, fid);
    int n = snprintf(buf, max, "id: %s\nevent: reset\ndata: {\"reason\":\"%s\"}\n\n", fid, s->reset);
    s->reset[0] = 0;
    return n > 0 && (size_t)n < max ? (size_t)n : 0;
}

long stream_sub_pull(void *arg, char *buf, size_t max)
{
    sub *s = arg;
    stream_hub *h = s->h;
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    if (h->closing || s->gone) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    inbox_drain(h);
    if (s->hello) {
        int k = snprintf(buf, max, "retry: 3000\n: orderly stream %s\n\n", h->boot);
        if (k > 0 && (size_t)k < max) n += (size_t)k;
        s->hello = 0;
    }
    uint64_t oldest = h->next_id > LIMIT_STREAM_RING ? h->next_id - LIMIT_STREAM_RING : 1;
    if (!s->reset[0] && s->last + 1 < oldest)
        snprintf(s->reset, sizeof s->reset, "the stream fell more than %d events behind", LIMIT_STREAM_RING);
    if (s->reset[0]) n += put_reset(h, s, buf + n, max - n);
    while (s->last + 1 < h->next_id) {
        const ring_ev *e = &h->ring[(s->last + 1) % LIMIT_STREAM_RING];
        if (stream_visible(&s->p, e->kind, e->customer)) {
            if (n + e->len > max) break;
            memcpy(buf + n, e->text, e->len);
            n += e->len;
        }
        s->last++;
    }
    if (n == 0 && s->heartbeat) {
        static const char hb[] = ": keep-alive\n\n";
        memcpy(buf, hb, sizeof hb - 1);
        n = sizeof hb - 1;
    }
    s->heartbeat = 0;
    if (n) s->last_write_ms = clock_wall_ms();
    pthread_mutex_unlock(&h->mu);
    return (long)n;
}

void stream_sub_done(void *arg)
{
    sub *s = arg;
    stream_hub *h = s->h;
    pthread_mutex_lock(&h->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->subs = s->next;
    if (s->next) s->next->prev = s->prev;
    atomic_fetch_sub(&h->nsubs, 1);
    atomic_store(&h->active_until_ms, clock_wall_ms() + (int64_t)LIMIT_STREAM_RETAIN_S * 1000);
    pthread_mutex_unlock(&h->mu);
    free(s);
}

/* Last-Event-ID "<boot>.<n>" of this process: resume after n. */
static void resume_from(stream_hub *h, sub *s, const char *last_event_id)
{
    s->last = h->next_id - 1; /* live from now */
    if (!last_event_id) return;
    size_t bl = strlen(h->boot);
    char *end;
    unsigned long long n = 0;
    if (!strncmp(last_event_id, h->boot, bl) && last_event_id[bl] == '.') {
        n = strtoull(last_event_id + bl + 1, &end, 10);
        if (*end == 0 && end != last_event_id + bl + 1 && n < h->next_id) {
            s->last = n;
            return;
        }
    }
    snprintf(s->reset, sizeof s->reset, "Last-Event-ID is not an event of this server's stream");
}

stream_sub *stream_hub_subscribe(stream_hub *h, const stream_principal *p, const char *last_event_id, int *rc)
{
    sub *s = calloc(1, sizeof *s);
    if (!s) {
        *rc = ORD_ENOMEM;
        return NULL;
    }
    s->h = h;
    s->hello = 1;
    s->last_write_ms = clock_wall_ms();
    s->p = *p;
    pthread_mutex_lock(&h->mu);
    *rc = h->closing ? ORD_ESHUTDOWN : atomic_load(&h->nsubs) >= LIMIT_STREAMS_MAX ? ORD_EBUSY : 0;
    /* parked streams of clients that left are noticed only when written to:
     * at the limit, wake them all so the gone ones free their slots now */
    if (*rc == ORD_EBUSY) wake_all(h);
    if (!*rc) {
        inbox_drain(h);
        resume_from(h, s, last_event_id);
        s->next = h->subs;
        if (h->subs) h->subs->prev = s;
        h->subs = s;
        atomic_fetch_add(&h->nsubs, 1);
    }
    pthread_mutex_unlock(&h->mu);
    if (*rc) {
        free(s);
        return NULL;
    }
    return s;
}

void stream_sub_attach(stream_sub *s, http_stream *hs, http_server *srv)
{
    pthread_mutex_lock(&s->h->mu);
    s->hs = hs;
    s->srv = srv;
    pthread_mutex_unlock(&s->h->mu);
}

int api_stream(http_req *r)
{
    api *a = http_req_app(r);
    if (!a->console) return ORD_ENOTFOUND;
    stream_principal p;
    stream_principal_of(r, &p);
    /* a stream waits for hours: it takes a waiting slot (released when the
     * request ends), so streams cannot take the reserve of short requests */
    if (http_req_wait_begin(r)) {
        http_reply_header(r, "Retry-After", "30");
        http_reply_problem(r, ORD_EBUSY,
                           "too many requests are waiting (long polls, streams) from this address or "
                           "in all; poll instead",
                           NULL);
        return 0;
    }
    int rc;
    sub *s = stream_hub_subscribe(console_hub(a->console), &p, http_req_header(r, "Last-Event-ID"), &rc);
    if (rc == ORD_EBUSY) {
        char detail[96];
        snprintf(detail, sizeof detail, "at most %d streams are open at once; poll instead", LIMIT_STREAMS_MAX);
        http_reply_header(r, "Retry-After", "30");
        http_reply_problem(r, ORD_EBUSY, detail, NULL);
        return 0;
    }
    if (rc) return rc;
    http_reply_header(r, "Cache-Control", "no-cache, no-store");
    http_reply_header(r, "X-Accel-Buffering", "no"); /* nginx: do not buffer the stream */
    http_reply_header(r, "X-Content-Type-Options", "nosniff");
    http_stream *hs =
        http_reply_stream(r, 200, "text/event-stream; charset=utf-8", stream_sub_pull, stream_sub_done, s);
    if (hs) stream_sub_attach(s, hs, http_req_server(r));
    return 0;
}
