/* server.c - a request's life between the bytes (loop.c) and the handlers:
 * lifecycle, limits, routing, the slow-client watchdog, counters and the
 * access log.
 *
 * DESIGN.  loop.c calls http_request_begin when a request's head is in (we
 * check limits, pick the request id, size the body buffer), then
 * http_request_body per piece of body, http_request_dispatch at its end
 * (route, guard, handler), and http_request_end when the reply is sent or
 * the connection is lost.  An error found before the handler (413 by
 * Content-Length or by a chunked body crossing the limit, 431, 414, 400 for
 * a malformed head, Content-Length with Transfer-Encoding) is answered at
 * once with Connection: close: what follows on that connection cannot be
 * trusted to be a request.
 *
 * A connection's idle timeout alone would let a client sending one header
 * byte per second keep a connection forever, so a watchdog thread gives each
 * connection a deadline to deliver a whole request (headers and body) and
 * one to take its response, and shuts the socket down when one passes.
 * The path is split raw and each segment percent-decoded after (so "%2F"
 * stays inside its segment); the raw query is parsed by router.c
 * (http_query_get), so the fuzz targets reach the code the server runs.
 *
 * THREAD SAFETY.  Requests are touched by one thread at a time (see
 * server.h).  Counters are per-worker relaxed atomics.  Metric series are
 * looked up once per (route, method, status) and kept in the route (struct
 * http_route_mx): a request costs a few atomic adds, no lock.  Each worker's
 * connection registry has its own mutex, taken on connection open/close and
 * by the watchdog's scan - never per request.
 */
#include "http/internal.h"
#include "lib/count.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/handoff.h"
#include "lib/id.h"
#include "obs/log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int wait_bound(int n);
static int waits_init(struct http_waits *w, int max, int per_ip_max, int conns);
static void waits_release(struct http_waits *w);

/* ---- Counters --------------------------------------------------------- */

static _Atomic uint64_t server_gen;
static _Thread_local uint64_t tl_gen;
static _Thread_local struct http_slot *tl_slot;

/* The calling worker's counter slot; slot 0 is shared by any extra thread. */
static struct http_slot *slot_get(http_server *s)
{
    if (tl_gen != s->gen) {
        int i = atomic_fetch_add_explicit(&s->slot_next, 1, memory_order_relaxed) + 1;
        tl_slot = &s->slots[i < s->nslots ? i : 0];
        tl_gen = s->gen;
    }
    return tl_slot;
}

static void inc(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void http_server_stats(const http_server *s, http_stats *out)
{
    memset(out, 0, sizeof *out);
    uint64_t started = 0, completed = 0;
    for (int i = 0; i < s->nslots; i++) {
        struct http_slot *sl = &s->slots[i];
        /* completed before started: each slot's difference stays >= 0 */
        completed += atomic_load_explicit(&sl->completed, memory_order_acquire);
        started += atomic_load_explicit(&sl->started, memory_order_acquire);
        out->by_class[0] += atomic_load_explicit(&sl->aborted, memory_order_relaxed);
        for (int k = 0; k < HTTP_STATUS_SLOTS; k++)
            out->by_class[(k + HTTP_STATUS_MIN) / 100] +=
                atomic_load_explicit(&sl->status[k], memory_order_relaxed);
    }
    out->requests = completed;
    out->in_flight = started - completed;
    int64_t susp = atomic_load(&s->suspended);
    out->suspended = susp > 0 ? (uint64_t)susp : 0;
    out->timeouts = atomic_load(&s->timeouts);
    out->timeouts_request = atomic_load(&s->shutdowns[HTTP_DL_REQUEST]);
    out->timeouts_response = atomic_load(&s->shutdowns[HTTP_DL_RESPONSE]);
    out->timeouts_trimmed = atomic_load(&s->shutdowns[HTTP_DL_TRIMMED]);
    pthread_mutex_lock((pthread_mutex_t *)&s->waits.mu);
    out->waiting = (uint64_t)s->waits.total;
    pthread_mutex_unlock((pthread_mutex_t *)&s->waits.mu);
    out->waiting_max = (uint64_t)s->waits.max;
    out->waiting_per_ip_max = (uint64_t)s->waits.per_ip_max;
    out->wait_refused = atomic_load(&s->wait_refused);
    out->abandoned_polls = atomic_load(&s->abandoned[0]);
    out->abandoned_streams = atomic_load(&s->abandoned[1]);
    out->handed_over = atomic_load(&s->handed_over);
}

uint64_t http_server_status_count(const http_server *s, int status)
{
    uint64_t n = 0;
    if (status < HTTP_STATUS_MIN || status >= HTTP_STATUS_MIN + HTTP_STATUS_SLOTS) return 0;
    for (int i = 0; i < s->nslots; i++)
        n += atomic_load_explicit(&s->slots[i].status[status - HTTP_STATUS_MIN],
                                  memory_order_relaxed);
    return n;
}

/* ---- Metrics ---------------------------------------------------------- */

/* Seconds; long polls wait up to 20 s. */
static const double duration_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,    25};

static int metrics_setup(http_server *s, metrics *m)
{
    if (!m) return 0;
    s->mf_requests =
        metrics_counter(m, "orderly_http_requests_total",
                        "HTTP requests answered, by route pattern (unmatched when no route "
                        "matched), method and status code.",
                        (const char *[]){"route", "method", "code", NULL});
    s->mf_duration =
        metrics_histogram(m, "orderly_http_request_duration_seconds",
                          "Time from a request's headers to its completion, by route pattern.",
                          (const char *[]){"route", NULL}, duration_bounds,
                          (int)COUNT(duration_bounds));
    s->ms_connections = metric_series0(
        metrics_gauge(m, "orderly_http_connections_open", "Open HTTP connections.", NULL));
    s->ms_unmatched_duration = metric_series1(s->mf_duration, "unmatched");
    s->ms_waiting = metric_series0(metrics_gauge(
        m, "orderly_http_waiting",
        "Requests waiting on their connection: long polls with nothing to receive yet, event streams.",
        NULL));
    s->ms_wait_refused = metric_series0(metrics_counter(
        m, "orderly_http_wait_refused_total",
        "Waits refused at the waiting bound (a long poll answered at once, a stream 503).", NULL));
    metric_family *sh = metrics_counter(
        m, "orderly_http_deadline_shutdowns_total",
        "Connections shut down by the watchdog, by deadline: request (a request not in within "
        "http.timeoutSeconds, idle keep-alive included), response (a response not taken within "
        "http.sendTimeoutSeconds), trimmed (idle or unfinished for LIMIT_HTTP_TRIM_GRACE_MS while "
        "their address was over its bound).",
        (const char *[]){"reason", NULL});
    s->ms_shutdowns[HTTP_DL_REQUEST] = metric_series1(sh, "request");
    s->ms_shutdowns[HTTP_DL_RESPONSE] = metric_series1(sh, "response");
    s->ms_shutdowns[HTTP_DL_TRIMMED] = metric_series1(sh, "trimmed");
    metric_family *ab = metrics_counter(
        m, "orderly_http_waits_abandoned_total",
        "Waits ended because the client closed its connection, by kind (poll, stream).",
        (const char *[]){"kind", NULL});
    s->ms_abandoned[0] = metric_series1(ab, "poll");
    s->ms_abandoned[1] = metric_series1(ab, "stream");
    s->mx = calloc((size_t)s->router.n, sizeof *s->mx);
    if (!s->mx) return ORD_ENOMEM;
    for (int i = 0; i < s->router.n; i++) {
        s->router.routes[i].mx = &s->mx[i];
        s->mx[i].duration = metric_series1(s->mf_duration, s->router.routes[i].pattern);
    }
    return 0;
}

/* Methods as labels of unmatched requests: a fixed set, so a client cannot
 * make up series. */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < COUNT(known); i++)
        if (strcmp(m, known[i]) == 0) return known[i];
    return "other";
}

static void count_request(http_server *s, const http_req *r, int64_t now_us)
{
    char code[8];
    double seconds = (double)(now_us - r->t0_us) / 1e6;
    const struct http_croute *cr = r->route;
    if (!cr) { /* 404, 405, early errors: rare, so a lookup (lock-free when the series exists) */
        snprintf(code, sizeof code, "%d", r->status);
        metric_inc(metric_series_get(s->mf_requests,
                                     (const char *[]){"unmatched", method_label(r->method), code}));
        metric_observe(s->ms_unmatched_duration, seconds);
        return;
    }
    /* a route matches its own method, or HEAD when it is a GET route */
    _Atomic(metric_series *) *slot =
        &cr->mx->requests[strcmp(r->method, cr->method) != 0][r->status - HTTP_STATUS_MIN];
    metric_series *sr = atomic_load_explicit(slot, memory_order_relaxed);
    if (!sr) {
        snprintf(code, sizeof code, "%d", r->status);
        sr = metric_series_get(s->mf_requests, (const char *[]){cr->pattern, r->method, code});
        atomic_store_explicit(slot, sr, memory_order_relaxed);
    }
    metric_inc(sr);
    if (!r->streamed) metric_observe(cr->mx->duration, seconds);
}

/* ---- Built-in routes -------------------------------------------------- */

static int h_health(http_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_reply_static(r, 200, "application/json", body, sizeof body - 1);
    return 0;
}

static int h_ready(http_req *r)
{
    static const char body[] = "{\"status\":\"ready\"}";
    http_server *s = r->srv;
    if (atomic_load(&s->quiesced)) return ORD_ESHUTDOWN;
    if (s->ready && s->ready(s->app) != 1) return ORD_ENOTREADY;
    http_reply_static(r, 200, "application/json", body, sizeof body - 1);
    return 0;
}

const http_route http_builtin_routes[] = {
    {"GET", "/health", h_health, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/ready", h_ready, HTTP_ACCESS_PUBLIC, 200},
    {0},
};

/* ---- Request start: headers are in ------------------------------------ */

static int request_id_sane(const char *s, size_t n)
{
    if (n == 0 || n > LIMIT_HTTP_REQUEST_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void queue_reply(http_req *r)
{
    r->state = RS_DONE;
    if (!r->resp_ok) { /* no response could be built: drop the connection */
        r->conn->phase = PH_CLOSE;
        return;
    }
    /* the client has http.sendTimeoutSeconds to take the response (a stream
     * has no end: it is bounded by the waiting bound instead) */
    if (!r->streamed) {
        struct http_conn *c = r->conn;
        atomic_store_explicit(&c->deadline_why, HTTP_DL_RESPONSE, memory_order_relaxed);
        atomic_store_explicit(&c->deadline_ms,
                              clock_mono_ms() + (int64_t)r->srv->send_timeout_s * 1000,
                              memory_order_release);
    }
    http_conn_reply(r);
}

/* An error found before the handler: reply now, then close the connection
 * (what follows on it cannot be trusted to be the next request). */
void http_request_fail(http_req *r, int code, const char *detail)
{
    r->close = 1;
    http_reply_problem(r, code, detail, NULL);
    queue_reply(r);
}

void http_request_begin(struct http_conn *c, int parse_rc)
{
    http_server *s = c->srv;
    http_req *r = &c->req;
    const struct http_head *h = &c->head;
    arena saved = r->arena;
    memset(r, 0, sizeof *r);
    r->arena = saved;
    r->srv = s;
    r->conn = c;
    r->method = "-";
    r->url = "/";
    r->hdrs_tail = &r->hdrs;
    r->content_length = -1;
    r->t0_us = clock_mono_us();
    inc(&slot_get(s)->started);
    id_uuid(r->own_id);
    memcpy(r->id, r->own_id, sizeof r->own_id);
    r->state = RS_BODY;

    char detail[160];
    if (parse_rc == ORD_EHEADERS) {
        snprintf(detail, sizeof detail,
                 "request header fields exceed %d bytes or %d fields", LIMIT_HTTP_HEADER_BYTES_MAX,
                 LIMIT_HTTP_HEADER_FIELDS_MAX);
        return http_request_fail(r, ORD_EHEADERS, detail);
    }
    if (parse_rc == ORD_EURITOOLONG) {
        snprintf(detail, sizeof detail, "request line exceeds %d bytes", LIMIT_HTTP_CONN_MEMORY_BYTES);
        return http_request_fail(r, ORD_EURITOOLONG, detail);
    }
    if (parse_rc) return http_request_fail(r, ORD_EINVAL, "malformed request line or header field");

    /* the target: the raw path, and the raw query after '?' */
    r->method = h->method;
    r->url = h->target;
    char *q = strchr(h->target, '?');
    if (q) {
        *q = 0;
        r->query = q + 1;
    }
    size_t bytes = 0;
    const char *cl = NULL, *te = NULL, *rid = NULL;
    size_t rid_len = 0;
    int ncl = 0, nte = 0, nhost = 0;
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        bytes += f->nlen + f->vlen + 4; /* "k: v\r\n" */
        switch (f->nlen) {
        case 4:
            if (!strcasecmp(f->name, "Host")) nhost++;
            break;
        case 12:
            if (!strcasecmp(f->name, "X-Request-Id"))
                rid = f->value, rid_len = f->vlen;
            else if (!strcasecmp(f->name, "Content-Type") && !r->ctype)
                r->ctype = f->value;
            break;
        case 14:
            if (!strcasecmp(f->name, "Content-Length")) cl = f->value, ncl++;
            break;
        case 17:
            if (!strcasecmp(f->name, "Transfer-Encoding")) te = f->value, nte++;
            break;
        }
    }
    /* a client's id is kept only when well-formed, and never replaces ours in the logs */
    r->client_id = rid && request_id_sane(rid, rid_len);
    if (r->client_id) memcpy(r->id, rid, rid_len + 1);

    if (bytes > LIMIT_HTTP_HEADER_BYTES_MAX) {
        snprintf(detail, sizeof detail, "request header fields exceed %d bytes",
                 LIMIT_HTTP_HEADER_BYTES_MAX);
        return http_request_fail(r, ORD_EHEADERS, detail);
    }
    if (strlen(r->url) > LIMIT_HTTP_PATH_BYTES_MAX) {
        snprintf(detail, sizeof detail, "request path exceeds %d bytes", LIMIT_HTTP_PATH_BYTES_MAX);
        return http_request_fail(r, ORD_EURITOOLONG, detail);
    }
    if (h->minor == 1 && nhost != 1)
        return http_request_fail(r, ORD_EINVAL, "an HTTP/1.1 request must carry one Host header");
    if (nte) {
        r->chunked = 1;
        if (cl)
            return http_request_fail(
                r, ORD_EINVAL,
                "a request must not carry both Content-Length and Transfer-Encoding");
        if (nte > 1 || strcasecmp(te, "chunked") != 0 || h->minor == 0)
            return http_request_fail(r, ORD_EINVAL,
                                 "the only transfer coding accepted is chunked, in HTTP/1.1");
    }
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (ncl > 1 || errno || end == cl || *end || *cl < '0' || *cl > '9')
            return http_request_fail(r, ORD_EINVAL, "invalid Content-Length");
        if (n > s->body_max) {
            snprintf(detail, sizeof detail,
                     "request body of %llu bytes exceeds the limit of %zu bytes", n, s->body_max);
            return http_request_fail(r, ORD_ETOOBIG, detail);
        }
        r->content_length = (int64_t)n;
        if (n) {
            r->body_cap = (size_t)n + 1;
            r->body = arena_alloc(&r->arena, r->body_cap);
            if (!r->body) return http_request_fail(r, ORD_ENOMEM, "no memory for the request body");
        }
    }
}

/* ---- Body ------------------------------------------------------------- */

int http_request_body(http_req *r, const char *data, size_t n)
{
    http_server *s = r->srv;
    char detail[128];
    if (n > s->body_max - r->body_len) {
        snprintf(detail, sizeof detail, "request body exceeds the limit of %zu bytes", s->body_max);
        http_request_fail(r, ORD_ETOOBIG, detail);
        return 1;
    }
    if (r->body_len + n + 1 > r->body_cap) { /* chunked: grow by doubling */
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > s->body_max + 1) cap = s->body_max + 1;
        char *b = arena_alloc(&r->arena, cap);
        if (!b) {
            http_request_fail(r, ORD_ENOMEM, "no memory for the request body");
            return 1;
        }
        if (r->body_len) memcpy(b, r->body, r->body_len);
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return 0;
}

/* ---- Dispatch --------------------------------------------------------- */

static void run_handler(http_req *r, http_handler fn);

void http_request_dispatch(http_req *r)
{
    http_server *s = r->srv;
    const char *allow = NULL;
    char detail[200];
    atomic_store_explicit(&r->conn->deadline_ms, 0, memory_order_relaxed);
    r->state = RS_HANDLER;
    if (r->body) r->body[r->body_len] = 0;
    int rc = http_router_route(&s->router, r, &allow);
    if (rc == ORD_ENOTFOUND && s->fallback &&
        (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) && !atomic_load(&s->refusing))
        return run_handler(r, s->fallback);
    if (rc) {
        const char *d = NULL;
        if (rc == ORD_EMETHOD) {
            if (allow) http_reply_header(r, "Allow", allow);
            snprintf(detail, sizeof detail, "%s is not allowed here; allowed: %s", r->method,
                     allow ? allow : "?");
            d = detail;
        } else if (rc == ORD_ENOTFOUND) {
            d = "no such resource";
        } else if (rc == ORD_EINVAL) {
            d = "the path contains an encoded NUL byte";
        }
        http_reply_problem(r, rc, d, NULL);
        return queue_reply(r);
    }
    if (atomic_load(&s->refusing)) {
        http_reply_problem(r, ORD_ESHUTDOWN, NULL, NULL);
        return queue_reply(r);
    }
    if (s->guard && s->guard(s->app, r)) return queue_reply(r); /* refused: the guard replied */
    run_handler(r, r->route->fn);
}

static void run_handler(http_req *r, http_handler fn)
{
    int rc = fn(r);
    if (r->handler_suspended) {
        /* r may already belong to another thread: touch nothing else */
        return;
    }
    if (!r->replied) {
        if (rc == 0) {
            log_error("http", "handler returned without replying", "method", r->method, "path",
                      r->url, "requestId", r->own_id, NULL);
            rc = ORD_EINTERNAL;
        }
        http_reply_problem(r, rc, NULL, NULL);
    }
    queue_reply(r);
}

/* Back on the worker after http_req_resume: the reply was built by the
 * resuming thread, or is built now. */
void http_request_resumed(http_req *r)
{
    if (r->deferred) {
        void (*fn)(http_req *, void *) = r->deferred;
        r->deferred = NULL;
        fn(r, r->deferred_arg);
        CHECK(r->replied);
    }
    queue_reply(r);
}

/* ---- Completion, connections ------------------------------------------ */

void http_request_end(http_req *r, int ok)
{
    http_server *s = r->srv;
    struct http_slot *sl = slot_get(s);
    int64_t now_us = clock_mono_us();
    if (r->status)
        inc(&sl->status[r->status - HTTP_STATUS_MIN]);
    else
        inc(&sl->aborted);
    if (r->status && s->mf_requests) count_request(s, r, now_us);
    if (s->done && r->route) s->done(s->app, r, r->status);
    atomic_fetch_add_explicit(&sl->completed, 1, memory_order_release);
    if (log_enabled(LOG_DEBUG))
        log_debug("http", "request", "method", r->method, "path", r->url, "#status",
                  (int64_t)r->status, "#duration_us", (int64_t)(now_us - r->t0_us), "requestId",
                  r->own_id, "clientRequestId", r->client_id ? r->id : NULL, "termination",
                  ok ? "ok" : "aborted", NULL);
    if (r->stream) http_stream_free(r->stream);
    r->stream = NULL;
    json_decref(r->json);
    r->json = NULL;
    arena_reset(&r->arena);
    r->state = RS_IDLE;
    http_req_wait_end(r);
    /* the next request on this keep-alive connection must arrive in time */
    atomic_store_explicit(&r->conn->deadline_why, HTTP_DL_REQUEST, memory_order_relaxed);
    atomic_store_explicit(&r->conn->deadline_ms, now_us / 1000 + (int64_t)s->timeout_s * 1000,
                          memory_order_release);
}

void http_worker_enter(struct http_worker *w)
{
    (void)slot_get(w->srv); /* each worker its own counters and registry */
}

void http_conn_opened(http_server *s, struct http_conn *c)
{
    c->srv = s;
    atomic_init(&c->deadline_why, HTTP_DL_REQUEST);
    c->req.state = RS_IDLE;
    c->req.waiting = 0;
    c->req.json = NULL;
    c->req.stream = NULL;
    arena_init(&c->req.arena, c->arena_inline, HTTP_ARENA_INLINE, HTTP_ARENA_CHUNK, LIMIT_HTTP_ARENA_BYTES_MAX);
    atomic_init(&c->deadline_ms, clock_mono_ms() + (int64_t)s->timeout_s * 1000);
    struct http_slot *sl = c->slot = slot_get(s);
    pthread_mutex_lock(&sl->mu);
    c->prev = NULL;
    c->next = sl->conns;
    if (sl->conns) sl->conns->prev = c;
    sl->conns = c;
    pthread_mutex_unlock(&sl->mu);
    metric_inc(s->ms_connections);
}

void http_conn_closed(struct http_conn *c)
{
    http_server *s = c->srv;
    /* out of the registry before the fd closes: the watchdog never sees a reused fd */
    struct http_slot *sl = c->slot;
    pthread_mutex_lock(&sl->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        sl->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&sl->mu);
    close(c->fd);
    http_peers_del(s, &c->addr);
    arena_reset(&c->req.arena);
    free(c);
    metric_add(s->ms_connections, -1);
}

/* ---- Slow-client watchdog --------------------------------------------- */

static size_t addr_hash(const struct http_addr *a);
static size_t waits_find(const struct http_waits *w, const struct http_addr *a);

/* Connections that hold a slot without working on it - idle keep-alive,
 * a request not yet in (slowloris), waiting - may not take every slot of
 * their address: over connectionsPerIp less the reserve, the idle and
 * unfinished ones older than LIMIT_HTTP_TRIM_GRACE_MS are shut down (as
 * nginx reuses idle keep-alive connections when it runs out, and Apache's
 * mod_reqtimeout cuts slow requests).  A client with requests in flight, or
 * one idle for less than the grace (between two requests), is not touched.
 * Watchdog thread only (the scratch table is its own). */
static void trim(http_server *s, int64_t now)
{
    struct http_waits *w = &s->waits;
    struct http_wait_ent *t = w->scratch;
    int64_t armed_max = now - LIMIT_HTTP_TRIM_GRACE_MS; /* armed before this: past the grace */
    int over = 0;
    memset(t, 0, (w->mask + 1) * sizeof *t);
    /* idle or unfinished connections per address (at most connectionsMax: the table holds them) */
    for (int i = 0; i < s->nslots; i++) {
        struct http_slot *sl = &s->slots[i];
        pthread_mutex_lock(&sl->mu);
        for (struct http_conn *c = sl->conns; c; c = c->next) {
            int64_t dl = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);
            if (!dl || atomic_load_explicit(&c->deadline_why, memory_order_relaxed) != HTTP_DL_REQUEST)
                continue;
            size_t k = addr_hash(&c->addr) & w->mask;
            while (t[k].n && memcmp(&t[k].a, &c->addr, sizeof c->addr) != 0)
                k = (k + 1) & w->mask;
            if (!t[k].n) t[k].a = c->addr;
            t[k].n++;
        }
        pthread_mutex_unlock(&sl->mu);
    }
    /* each address's excess over its bound (waiting requests count in it) */
    pthread_mutex_lock(&w->mu);
    for (size_t k = 0; k <= w->mask; k++) {
        if (!t[k].n) continue;
        size_t j = waits_find(w, &t[k].a);
        int waiting = w->t[j].n;
        int excess = t[k].n + waiting - w->per_ip_max;
        t[k].n = excess > 0 ? excess : -1; /* -1: present, nothing to trim */
        if (excess > 0) over = 1;
    }
    pthread_mutex_unlock(&w->mu);
    if (!over) return;
    for (int i = 0; i < s->nslots; i++) {
        struct http_slot *sl = &s->slots[i];
        pthread_mutex_lock(&sl->mu);
        for (struct http_conn *c = sl->conns; c; c = c->next) {
            int64_t dl = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);
            if (!dl || atomic_load_explicit(&c->deadline_why, memory_order_relaxed) != HTTP_DL_REQUEST)
                continue;
            if (dl - (int64_t)s->timeout_s * 1000 > armed_max) continue; /* within the grace */
            size_t k = addr_hash(&c->addr) & w->mask;
            while (t[k].n && memcmp(&t[k].a, &c->addr, sizeof c->addr) != 0)
                k = (k + 1) & w->mask;
            if (t[k].n <= 0) continue;
            if (!atomic_compare_exchange_strong(&c->deadline_ms, &dl, 0)) continue;
            if (--t[k].n == 0) t[k].n = -1; /* stays occupied for the probes */
            atomic_fetch_add(&s->shutdowns[HTTP_DL_TRIMMED], 1);
            atomic_fetch_add(&s->timeouts, 1);
            metric_inc(s->ms_shutdowns[HTTP_DL_TRIMMED]);
            shutdown(c->fd, SHUT_RDWR);
            log_debug("http", "connection trimmed", "#fd", (int64_t)c->fd, NULL);
        }
        pthread_mutex_unlock(&sl->mu);
    }
}

static void *watchdog_main(void *arg)
{
    http_server *s = arg;
    int64_t period_ms = (int64_t)s->timeout_s * 1000 / 8;
    if (period_ms < 20) period_ms = 20;
    if (period_ms > 1000) period_ms = 1000;
    pthread_mutex_lock(&s->mu);
    while (!s->wd_stop) {
        struct timespec ts = clock_mono_deadline(period_ms);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (s->wd_stop) break;
        pthread_mutex_unlock(&s->mu);
        int64_t now = clock_mono_ms();
        for (int i = 0; i < s->nslots; i++) {
            struct http_slot *sl = &s->slots[i];
            pthread_mutex_lock(&sl->mu);
            for (struct http_conn *c = sl->conns; c; c = c->next) {
                int64_t dl = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);
                if (!dl || now < dl) continue;
                int why = atomic_load_explicit(&c->deadline_why, memory_order_relaxed);
                if (!atomic_compare_exchange_strong(&c->deadline_ms, &dl, 0)) continue;
                if (why < 0 || why >= HTTP_DL_REASONS) why = HTTP_DL_REQUEST;
                /* counted first: visible once the peer sees EOF */
                atomic_fetch_add(&s->shutdowns[why], 1);
                atomic_fetch_add(&s->timeouts, 1);
                metric_inc(s->ms_shutdowns[why]);
                /* a slow reader's unsent bytes are dropped, not left in the
                 * kernel to trickle out: the close that follows resets */
                if (why == HTTP_DL_RESPONSE) {
                    struct linger lg = {1, 0};
                    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                }
                /* the worker sees the end of input (or a failed write) and
                 * closes the connection on its own thread */
                shutdown(c->fd, SHUT_RDWR);
                log_debug("http", "connection deadline passed", "#fd", (int64_t)c->fd, "reason",
                          why == HTTP_DL_RESPONSE ? "response" : "request", NULL);
            }
            pthread_mutex_unlock(&sl->mu);
        }
        trim(s, now);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- Lifecycle -------------------------------------------------------- */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon, *h = spec;
    size_t hl;
    memset(ss, 0, sizeof *ss);
    if (!spec) return ORD_ECONFIG;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':') return ORD_ECONFIG;
        h = spec + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon) return ORD_ECONFIG;
        hl = (size_t)(colon - spec);
    }
    if (hl == 0 || hl >= sizeof host) return ORD_ECONFIG;
    memcpy(host, h, hl);
    host[hl] = 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535) return ORD_ECONFIG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (spec[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (spec[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    return ORD_ECONFIG;
}

static int listen_on(http_server *s, const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int one = 1;
    if (parse_listen(spec, &ss, &len)) {
        log_error("http", "bad listen address (want IPv4:port or [IPv6]:port)", "listen", spec,
                  NULL);
        return ORD_ECONFIG;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) goto fail;
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &bl) != 0) goto fail;
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    s->listen_fd = fd;
    return 0;
fail:
    log_error("http", "cannot listen", "listen", spec, "error", strerror(errno), NULL);
    if (fd >= 0) close(fd);
    return ORD_EIO;
}

static int opt_int(int v, int def, int min, int max, int *out)
{
    if (v == 0) v = def;
    if (v < min || v > max) return ORD_ECONFIG;
    *out = v;
    return 0;
}

int http_server_start(const http_opts *o, http_server **out)
{
    int rc = 0, conns = 0, per_ip = 0;
    http_server *s = NULL;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s) return ORD_ENOMEM;
    s->listen_fd = -1;
    if ((rc = opt_int(o->threads, LIMIT_HTTP_THREADS_DEFAULT, 1, LIMIT_HTTP_THREADS_MAX,
                      &s->threads)) ||
        (rc = opt_int(o->connections_max, LIMIT_HTTP_CONNECTIONS_DEFAULT, 1,
                      LIMIT_HTTP_CONNECTIONS_MAX, &conns)) ||
        (rc = opt_int(o->per_ip_max, LIMIT_HTTP_PER_IP_DEFAULT, 1, LIMIT_HTTP_CONNECTIONS_MAX,
                      &per_ip)) ||
        (rc = opt_int(o->timeout_s, LIMIT_HTTP_TIMEOUT_S_DEFAULT, 1, LIMIT_HTTP_TIMEOUT_S_MAX,
                      &s->timeout_s)) ||
        (rc = opt_int(o->send_timeout_s, LIMIT_HTTP_SEND_S_DEFAULT, 1, LIMIT_HTTP_SEND_S_MAX,
                      &s->send_timeout_s))) {
        log_error("http", "http option out of range", NULL);
        goto out_free;
    }
    s->body_max = o->body_bytes_max ? o->body_bytes_max : LIMIT_HTTP_BODY_BYTES_MAX;
    if (s->body_max > LIMIT_HTTP_BODY_BYTES_MAX) {
        log_error("http", "body_bytes_max above LIMIT_HTTP_BODY_BYTES_MAX", NULL);
        rc = ORD_ECONFIG;
        goto out_free;
    }
    s->app = o->app;
    s->ready = o->ready;
    s->fallback = o->fallback;
    s->guard = o->guard;
    s->done = o->done;
    s->gen = atomic_fetch_add(&server_gen, 1) + 1;
    if ((rc = id_init())) goto out_free; /* request ids; idempotent */
    if ((rc = waits_init(&s->waits, wait_bound(conns), wait_bound(per_ip), conns)) ||
        (rc = waits_init(&s->peers, conns, per_ip, conns)))
        goto out_free;
    s->nslots = s->threads + 1;
    s->slots = aligned_alloc(64, sizeof *s->slots * (size_t)s->nslots);
    if (!s->slots) {
        rc = ORD_ENOMEM;
        goto out_free;
    }
    memset(s->slots, 0, sizeof *s->slots * (size_t)s->nslots);
    for (int i = 0; i < s->nslots; i++)
        pthread_mutex_init(&s->slots[i].mu, NULL);
    if ((rc = http_router_init(&s->router, http_builtin_routes, o->routes))) goto out_slots;
    if ((rc = metrics_setup(s, o->metrics))) goto out_router;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);

    if ((rc = listen_on(s, o->listen))) goto out_sync;

    if ((rc = http_loop_start(s))) goto out_listen;
    if (pthread_create(&s->wd, NULL, watchdog_main, s) != 0) {
        rc = ORD_EINTERNAL;
        goto out_daemon;
    }
    s->wd_started = 1;
    log_info("http", "listening", "listen", o->listen, "#port", (int64_t)s->port, "#threads",
             (int64_t)s->threads, NULL);
    *out = s;
    return 0;

out_daemon:
    http_loop_stop(s);
out_listen:
    if (s->listen_fd >= 0) close(s->listen_fd);
out_sync:
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
out_router:
    free(s->mx);
    http_router_release(&s->router);
out_slots:
    for (int i = 0; i < s->nslots; i++)
        pthread_mutex_destroy(&s->slots[i].mu);
    free(s->slots);
out_free:
    waits_release(&s->waits);
    waits_release(&s->peers);
    free(s);
    return rc;
}

int http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_quiesce(http_server *s)
{
    if (atomic_exchange(&s->quiesced, 1)) return;
    log_info("http", "quiesced: new connections are closed at once", NULL);
}

int http_server_drain(http_server *s, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    http_stats st;
    for (;;) {
        http_server_stats(s, &st);
        if (st.in_flight == 0) return 0;
        if (clock_mono_ms() >= end) {
            log_warn("http", "drain timed out", "#inFlight", (int64_t)st.in_flight, "#suspended",
                     (int64_t)st.suspended, NULL);
            return ORD_ETIMEOUT;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void http_server_refuse(http_server *s)
{
    atomic_store(&s->refusing, 1);
}

void http_server_stop(http_server *s)
{
    if (!s) return;
    /* a suspended request belongs to another thread, which will resume it:
     * stopping under it would free its connection; say who is at fault */
    CHECK(atomic_load(&s->suspended) == 0);
    http_loop_stop(s); /* the workers close their connections */
    close(s->listen_fd);
    pthread_mutex_lock(&s->mu);
    s->wd_stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->wd_started) pthread_join(s->wd, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->mx);
    http_router_release(&s->router);
    for (int i = 0; i < s->nslots; i++) {
        CHECK(s->slots[i].conns == NULL);
        pthread_mutex_destroy(&s->slots[i].mu);
    }
    free(s->slots);
    waits_release(&s->waits);
    waits_release(&s->peers);
    free(s);
}

/* ---- Waiting requests --------------------------------------------------- */

/* The bound of waiting requests out of n connections: n less the reserve
 * (at least one connection stays for short requests; 0 when n is 1). */
static int wait_bound(int n)
{
    int reserve = (int)((int64_t)n * LIMIT_HTTP_WAIT_RESERVE_PERCENT / 100);
    if (reserve < 1) reserve = 1;
    return n - reserve;
}

/* A table of counts by address: at most max in all and per_ip_max for one
 * address, sized for conns addresses (the watchdog's scratch counts every
 * open connection's).  The waiting requests use one, the open connections
 * another. */
static int waits_init(struct http_waits *w, int max, int per_ip_max, int conns)
{
    w->max = max;
    w->per_ip_max = per_ip_max < max ? per_ip_max : max;
    size_t cap = 16;
    while (cap < (size_t)w->max * 2 + 2)
        cap *= 2;
    /* the watchdog's scratch counts every open connection's address */
    size_t scap = 16;
    while (scap < (size_t)conns * 2 + 2)
        scap *= 2;
    if (scap > cap) cap = scap;
    w->t = calloc(cap, sizeof *w->t);
    w->scratch = calloc(cap, sizeof *w->scratch);
    if (!w->t || !w->scratch) {
        free(w->t);
        free(w->scratch);
        w->t = w->scratch = NULL;
        return ORD_ENOMEM;
    }
    w->mask = cap - 1;
    pthread_mutex_init(&w->mu, NULL);
    return 0;
}

static void waits_release(struct http_waits *w)
{
    if (!w->t) return;
    CHECK(w->total == 0);
    pthread_mutex_destroy(&w->mu);
    free(w->t);
    free(w->scratch);
    w->t = w->scratch = NULL;
}

static size_t addr_hash(const struct http_addr *a)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof a->b; i++)
        h = (h ^ a->b[i]) * 1099511628211ull;
    h = (h ^ a->family) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Under mu: the slot holding a, or the empty slot where it would go. */
static size_t waits_find(const struct http_waits *w, const struct http_addr *a)
{
    size_t i = addr_hash(a) & w->mask;
    while (w->t[i].n && memcmp(&w->t[i].a, a, sizeof *a) != 0)
        i = (i + 1) & w->mask;
    return i;
}

/* One more for address a in w: 0, or ORD_EBUSY at w's bound or a's. */
static int counts_add(struct http_waits *w, const struct http_addr *a)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    size_t i = waits_find(w, a);
    if (w->total >= w->max || w->t[i].n >= w->per_ip_max) {
        rc = ORD_EBUSY;
    } else {
        if (!w->t[i].n) w->t[i].a = *a;
        w->t[i].n++;
        w->total++;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void counts_del(struct http_waits *w, const struct http_addr *a)
{
    pthread_mutex_lock(&w->mu);
    size_t i = waits_find(w, a);
    CHECK(w->t[i].n > 0);
    w->total--;
    if (--w->t[i].n == 0) {
        /* backward-shift deletion: later entries of the probe run move up */
        size_t j = i;
        for (;;) {
            j = (j + 1) & w->mask;
            if (!w->t[j].n) break;
            size_t k = addr_hash(&w->t[j].a) & w->mask;
            int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (stays) continue;
            w->t[i] = w->t[j];
            w->t[j].n = 0;
            i = j;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

int http_peers_add(http_server *s, const struct http_addr *a)
{
    return counts_add(&s->peers, a);
}

void http_peers_del(http_server *s, const struct http_addr *a)
{
    counts_del(&s->peers, a);
}

int http_peers_full(http_server *s)
{
    pthread_mutex_lock(&s->peers.mu);
    int full = s->peers.total >= s->peers.max;
    pthread_mutex_unlock(&s->peers.mu);
    return full;
}

int http_req_wait_begin(http_req *r)
{
    http_server *s = r->srv;
    if (r->waiting) return 0;
    int rc = counts_add(&s->waits, &r->conn->addr);
    if (rc) {
        atomic_fetch_add(&s->wait_refused, 1);
        metric_inc(s->ms_wait_refused);
        return rc;
    }
    r->waiting = 1;
    metric_inc(s->ms_waiting);
    return 0;
}

void http_req_wait_end(http_req *r)
{
    if (!r->waiting) return;
    http_server *s = r->srv;
    r->waiting = 0;
    counts_del(&s->waits, &r->conn->addr);
    metric_add(s->ms_waiting, -1);
}

int http_fd_peer_gone(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return 0;
    if (n == 0) return 1;
    return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

int http_req_peer_gone(http_req *r)
{
    return http_fd_peer_gone(r->conn->fd);
}

void http_server_count_abandoned(http_server *s, int kind)
{
    kind = kind ? 1 : 0;
    atomic_fetch_add(&s->abandoned[kind], 1);
    metric_inc(s->ms_abandoned[kind]);
}

void http_req_set_close(http_req *r)
{
    r->close = 1;
}

/* ---- Suspend / resume ------------------------------------------------- */

void http_req_suspend(http_req *r)
{
    CHECK(r->state == RS_HANDLER);
    CHECK(!r->handler_suspended);
    CHECK(!r->replied);
    r->handler_suspended = 1;
    r->state = RS_SUSPENDED;
    atomic_fetch_add(&r->srv->suspended, 1);
}

/* Hands r back to its worker (loop.c batches the wake-ups). */
static void resume(http_req *r)
{
    http_server *s = r->srv;
    atomic_fetch_sub(&s->suspended, 1);
    if (http_conn_resume(r->conn)) /* r belongs to the worker again */
        atomic_fetch_add_explicit(&s->handed_over, 1, memory_order_relaxed);
}

void http_req_resume_then(http_req *r, void (*reply)(http_req *r, void *arg), void *arg)
{
    CHECK(r->handler_suspended);
    CHECK(!r->replied);
    CHECK(reply != NULL);
    r->deferred = reply;
    r->deferred_arg = arg;
    resume(r);
}

void http_req_resume(http_req *r)
{
    CHECK(r->handler_suspended);
    CHECK(r->replied);
    resume(r);
}
