/* server.h - the HTTP foundation: an HTTP/1.1 server with a router,
 * problem+json errors, request ids, limits, suspend/resume and graceful stop.
 *
 * THREADS.  `threads` epoll worker threads (loop.c); a connection stays on one
 * worker, so a request's handler, its completion and its access log line all
 * run on that worker.  Handlers must not block: a handler that has to wait
 * (group commit, long poll) calls http_req_suspend() and returns; later any
 * thread replies and calls http_req_resume().  A suspended request holds no
 * thread.  There are no locks on the request path (connection open/close take
 * their worker's registry mutex for the slow-client watchdog).
 *
 * OWNERSHIP.  The server owns every http_req.  A request is valid from its
 * handler call until the reply is sent; memory from http_req_alloc() and every
 * string returned by the accessors live exactly as long (one arena, freed at
 * request end).  At any moment exactly one thread owns a request: the worker
 * while the handler runs, then (after http_req_suspend) the thread that will
 * reply and resume it.  After http_req_resume() the caller must not touch it.
 *
 * ERRORS.  Start returns 0 or a code from lib/err.h.  Every error response is
 * application/problem+json (RFC 9457) with type, title, status, detail,
 * instance, requestId and, for validation, errors[].  Every response carries
 * X-Request-Id, malformed requests (400) and heads larger than the input
 * buffer (431, 414) included.
 */
#ifndef ORDERLY_HTTP_SERVER_H
#define ORDERLY_HTTP_SERVER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "obs/metrics.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

/* A handler either replies (one http_reply_*) or suspends before returning.
 * It returns 0, or a negative code from err.h without having replied: the
 * server then replies with that code's problem+json. */
typedef int (*http_handler)(http_req *r);

/* pattern: "/api/queues/{name}/messages/{receipt}" - literal segments match
 * exactly (after URL-decoding), {param} matches one non-empty segment.  A
 * route for GET also answers HEAD.  access is the application's (who may
 * call it: the guard reads it), status the answer of success (for the audit
 * log and the API description; 0 = 200).  Tables end with {0}. */
/* The one access bit the server itself knows: anyone may call the route
 * (its own /health and /ready carry it); the others are the application's. */
#define HTTP_ACCESS_PUBLIC 0x40000000
typedef struct http_route {
    const char *method;
    const char *pattern;
    http_handler fn;
    int access;
    int status;
} http_route;

/* The routes every server has before the application's: GET /health, GET /ready. */
extern const http_route http_builtin_routes[];

typedef struct http_opts {
    const char *listen;       /* "127.0.0.1:8080" or "[::1]:8080"; port 0 = ephemeral */
    int threads;              /* epoll workers; 0 = LIMIT_HTTP_THREADS_DEFAULT */
    int connections_max;      /* 0 = default; at it the workers stop accepting */
    int per_ip_max;           /* 0 = default */
    int timeout_s;            /* idle keep-alive AND request-read deadline; 0 = default */
    int send_timeout_s;       /* time to send one response (slow readers); 0 = default */
    size_t body_bytes_max;    /* 0 = LIMIT_HTTP_BODY_BYTES_MAX */
    const http_route *routes; /* not copied: must outlive the server */
    void *app;                /* handed to handlers via http_req_app() */
    int (*ready)(void *app);  /* GET /ready: returns 1 when ready; NULL = always */
    http_handler fallback;    /* GET/HEAD that no route matches; NULL = 404 (the console's pages) */
    /* Runs after routing, before the handler, on the worker: 0 lets the
     * handler run; anything else means the guard replied (authentication,
     * authorization, rate limits).  NULL = none. */
    int (*guard)(void *app, http_req *r);
    /* Runs on the worker when a routed request completed (status 0 when it
     * was aborted), before its memory goes: for the audit of failures. */
    void (*done)(void *app, http_req *r, int status);
    metrics *metrics;         /* NULL = none; else the server registers and keeps
                                 orderly_http_requests_total, orderly_http_request_duration_seconds
                                 and orderly_http_connections_open (must outlive the server) */
} http_opts;

/* Request counters (since start); all relaxed reads of per-thread counters. */
typedef struct http_stats {
    uint64_t requests;    /* completed requests (including aborted ones) */
    uint64_t by_class[6]; /* [1..5]: 1xx..5xx replies; [0]: aborted before a reply was sent */
    uint64_t in_flight;   /* headers received, not yet completed (suspended included) */
    uint64_t suspended;   /* currently suspended */
    uint64_t timeouts;    /* connections shut down by the watchdog (all reasons) */
    uint64_t timeouts_request;  /* .. the request (or the next one) was not in in time */
    uint64_t timeouts_response; /* .. the response was not taken in time (slow reader) */
    uint64_t timeouts_trimmed;  /* .. idle or unfinished while its address was over its bound */
    uint64_t waiting;           /* requests holding a waiting slot (long polls, streams) */
    uint64_t waiting_max;       /* bound of all waiting requests */
    uint64_t waiting_per_ip_max;/* bound of one client address's */
    uint64_t wait_refused;      /* waits refused at the bound */
    uint64_t abandoned_polls;   /* long polls whose client left while waiting */
    uint64_t abandoned_streams; /* streams whose client left while parked */
    uint64_t handed_over;       /* answers completed inside a handoff scope and resumed together */
} http_stats;

/* ---- Lifecycle (one controlling thread; not from handlers) ----------- */

/* Binds, starts the workers and returns the server in *out.  Errors:
 * ORD_ECONFIG (bad listen address or options), ORD_EIO (bind/listen failed,
 * e.g. port taken; logged with errno), ORD_ENOMEM, ORD_EINTERNAL (a worker could not start). */
int http_server_start(const http_opts *o, http_server **out);
/* The bound port (useful with port 0). */
int http_server_port(const http_server *s);
/* Stops taking connections (a new one is closed as soon as it is accepted;
 * the listen socket closes with http_server_stop); /ready answers 503 and
 * every later response carries Connection: close.  Idempotent. */
void http_server_quiesce(http_server *s);
/* Waits until no request is in flight (suspended ones included).  Returns 0,
 * or ORD_ETIMEOUT after timeout_ms. */
int http_server_drain(http_server *s, int timeout_ms);
/* From now on every request whose handler has not run yet is answered 503
 * shutting-down (problem+json, Connection: close) without running it, so
 * nothing new suspends: after quiesce and drain, before a final drain and
 * http_server_stop, requests arriving on kept-alive connections cannot
 * reach the application any more.  Idempotent. */
void http_server_refuse(http_server *s);
/* Closes all connections and frees the server.  Precondition (asserted): no
 * request is suspended - whoever holds suspended requests must reply and
 * resume them first (drain returns 0).  NULL is a no-op. */
void http_server_stop(http_server *s);

/* ---- Stats (any thread) -------------------------------------------- */
void http_server_stats(const http_server *s, http_stats *out);
/* Requests answered with this exact status (100..599), else 0. */
uint64_t http_server_status_count(const http_server *s, int status);

/* ---- Request accessors (owning thread) ------------------------------ */
const char *http_req_method(http_req *r); /* "GET", ... */
const char *http_req_path(http_req *r);   /* URL-decoded path, no query */
/* A {param} of the matched route, URL-decoded; NULL if the route has none. */
const char *http_req_param(http_req *r, const char *name);
/* A query argument ('+' and %XX decoded); NULL if absent. */
const char *http_req_query(http_req *r, const char *name);
/* A request header, case-insensitive name; NULL if absent. */
const char *http_req_header(http_req *r, const char *name);
/* The request id (client's sane X-Request-Id, else a fresh UUID). */
const char *http_req_id(http_req *r);
/* The route matched: its pattern ("/api/orders/{id}"), access and success
 * status (0 / NULL before routing). */
const char *http_req_route(http_req *r);
int http_req_access(http_req *r);
int http_req_ok_status(http_req *r);
/* The peer's address as text ("127.0.0.1", "::1"); "" when unknown. */
const char *http_req_peer(http_req *r);
/* A cookie of the request, NULL when absent. */
const char *http_req_cookie(http_req *r, const char *name);
/* Replies 415 and returns 1 unless the request's Content-Type is JSON. */
int http_req_require_json(http_req *r);
/* 1 when a Content-Type is JSON (application/json, application/...+json). */
int http_ctype_is_json(const char *ctype);
/* One pointer of the application's per request (the guard's principal),
 * NULL until set; lives as long as the request. */
void http_req_set_user(http_req *r, void *p);
void *http_req_user(http_req *r);
/* The body (NUL-terminated for convenience, may contain NULs); *len set. */
const char *http_req_body(http_req *r, size_t *len);
void *http_req_app(http_req *r);
/* The server the request came to (for http_server_stats). */
http_server *http_req_server(http_req *r);
/* n bytes, 16-aligned, from the request arena; NULL past
 * LIMIT_HTTP_ARENA_BYTES_MAX or when out of memory. */
void *http_req_alloc(http_req *r, size_t n);

/* Parses the body as a JSON object.  Checks Content-Type application/json
 * (or application/...+json) -> 415, nesting depth LIMIT_JSON_DEPTH_MAX ->
 * 400 limit-exceeded, duplicate keys and syntax -> 400 malformed-json whose
 * detail names line, column and byte position (also given as the extension
 * members line/column/position; position is the 1-based offset of the byte
 * where parsing failed, i.e. jansson's count of bytes read), a non-object ->
 * 400.  On failure it has replied and returns NULL.  The object belongs to
 * the request (freed at request end; json_incref to keep it). */
json_t *http_req_json(http_req *r);

/* ---- Pure parsers: no request, no server (tests/fuzz calls them too) -- */

typedef struct http_json_error {
    int line, column;  /* of a syntax error (jansson's) */
    long position;     /* byte position: of the syntax error, or of the bracket past the depth */
    int not_object;    /* valid JSON, but not an object */
    char text[160];    /* jansson's message for a syntax error */
} http_json_error;
/* The JSON part of http_req_json, on body[0..len): nesting deeper than
 * LIMIT_JSON_DEPTH_MAX -> ORD_ELIMIT; a syntax error or a duplicate key ->
 * ORD_EJSON; valid JSON that is not an object -> ORD_EJSON with not_object
 * set.  0 with *out a new reference (the caller's).  e is always filled. */
int http_json_parse(const char *body, size_t len, json_t **out, http_json_error *e);

/* ---- Replies: exactly one per request (asserted), owning thread ------ */
/* Adds a response header; call before the reply.  Copies name and value. */
void http_reply_header(http_req *r, const char *name, const char *value);
/* Serialises body compactly; steals the reference. */
void http_reply_json(http_req *r, int status, json_t *body);
/* Copies buf. ctype NULL = no Content-Type. */
void http_reply_raw(http_req *r, int status, const char *ctype, const char *buf, size_t len);
/* Does not copy: buf must outlive the reply (static data, e.g. embedded files). */
void http_reply_static(http_req *r, int status, const char *ctype, const void *buf, size_t len);
/* The HTTP status and the problem+json type slug of an error code (one
 * table, http/status.c); 0 gives 200, an unknown code 500 internal-error. */
int http_err_status(int code);
const char *http_err_slug(int code);

/* The problem+json object of a code {type, title, status, detail, errors?}
 * without the request's members (errors stolen; NULL when out of memory). */
json_t *http_problem_json(int code, const char *detail, json_t *errors);

/* problem+json for err_code (status and type slug from http/status.c); detail NULL =
 * the code's message; errors ([{"field","message"}]) is stolen, may be NULL. */
void http_reply_problem(http_req *r, int err_code, const char *detail, json_t *errors);
/* The same with extension members ext (stolen, may be NULL) added to the problem. */
void http_reply_problem_ext(http_req *r, int err_code, const char *detail, json_t *errors, json_t *ext);

/* ---- Streamed replies (Server-Sent Events) --------------------------- */
/* A reply whose body is produced over time, with no thread held while it
 * waits.  pull runs on the connection's worker: it writes up to max bytes
 * into buf and returns how many (> 0), 0 when nothing is ready (the
 * connection is then parked - suspended, holding no thread - until
 * http_stream_wake), or -1 to end the body.  It must not block.  done runs
 * once, on a worker, when the connection is finished with the stream
 * (client gone, body ended, server stopping); from then on nobody may call
 * http_stream_wake on it, so callers serialise done and wake with their
 * own lock.  A parked stream counts as suspended: before http_server_stop
 * every stream must have been woken to end (pull returning -1).  Streamed
 * requests are counted in orderly_http_requests_total but not observed in
 * the duration histogram (they last minutes by design). */
typedef struct http_stream http_stream;
typedef long (*http_stream_pull_fn)(void *arg, char *buf, size_t max);
typedef void (*http_stream_done_fn)(void *arg);
/* The reply (exactly one per request) with a body of unknown length
 * (chunked).  Returns the stream, or NULL when it could not be set up (a
 * problem was replied or the connection is dropped; done has been called). */
http_stream *http_reply_stream(http_req *r, int status, const char *ctype, http_stream_pull_fn pull,
                               http_stream_done_fn done, void *arg);
/* Any thread: there is more to pull (or the stream should end). */
void http_stream_wake(http_stream *s);
/* Any thread, while the stream is not done: 1 when its client has closed the
 * connection (see http_req_peer_gone); a parked stream is not written to, so
 * without this a gone client is noticed only at the next event or heartbeat. */
int http_stream_peer_gone(http_stream *s);

/* ---- Waiting requests (long polls, event streams) -------------------- */
/* DESIGN.  A request that waits (a long poll with nothing to receive, an
 * event stream) holds its connection for seconds to hours.  Waiting has a
 * bound of its own, below the connection limits, so that a reserve of
 * LIMIT_HTTP_WAIT_RESERVE_PERCENT of http.connectionsMax and of
 * http.connectionsPerIp always stays for short requests (/health, orders):
 * in all at most connectionsMax - reserve, from one address at most
 * connectionsPerIp - reserve.  Past it a caller does not wait (a long poll
 * answers at once, a stream gets 503).
 *
 * Begin: 0 and the slot is held (idempotent while held), or ORD_EBUSY at a
 * bound (counted in orderly_http_wait_refused_total).  End: releases it
 * (idempotent); the server also releases it when the request completes.
 * The thread that owns the request (the worker in the handler, else the
 * holder of a suspended one). */
int http_req_wait_begin(http_req *r);
void http_req_wait_end(http_req *r);
/* 1 when the client has closed its side of the connection (a peek at the
 * socket: end of file or an error), 0 while it is there or has sent more.
 * For a suspended request, whose socket its worker does not read: the owning
 * thread calls it to end a wait nobody will read. */
int http_req_peer_gone(http_req *r);
/* Counts a wait given up because its client left: kind 0 long poll, 1 stream. */
void http_server_count_abandoned(http_server *s, int kind);
/* The reply goes out with Connection: close (the connection is not kept). */
void http_req_set_close(http_req *r);

/* ---- Suspend / resume ----------------------------------------------- */
/* From the handler only, before it returns: the request leaves its worker.
 * Then exactly once, from any thread: one http_reply_* and http_req_resume. */
void http_req_suspend(http_req *r);
void http_req_resume(http_req *r);
/* Resumes without a reply: the worker that takes the request back calls
 * reply(r, arg), which must call one http_reply_*.  Lets a thread that must
 * stay quick (the store writer) hand the reply's construction to the worker. */
void http_req_resume_then(http_req *r, void (*reply)(http_req *r, void *arg), void *arg);

#endif
