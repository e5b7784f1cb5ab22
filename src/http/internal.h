/* internal.h - what server.c, router.c and req.c share; not for other modules.
 *
 * DESIGN.  Each connection gets one http_conn (malloc'd when it opens, freed
 * when it closes) that embeds its input buffer, the http_req reused by
 * every request on that keep-alive connection, and the first block of the
 * request arena.  A request that fits the inline block (the common case)
 * costs no malloc: its reply's head and body are built in the arena too.
 */
#ifndef ORDERLY_HTTP_INTERNAL_H
#define ORDERLY_HTTP_INTERNAL_H
#include "lib/arena.h"
#include "lib/limits.h"
#include "http/parse.h"
#include "http/server.h"
#include <pthread.h>
#include <sys/uio.h>
#include <pthread.h>
#include <stdatomic.h>

#define HTTP_ARENA_INLINE 8192  /* first arena block, inside http_conn */
#define HTTP_ARENA_CHUNK  65536 /* later blocks: at least this, doubling */
#define HTTP_STATUS_MIN   100
#define HTTP_STATUS_SLOTS 500 /* 100..599 */
#define HTTP_STREAM_BLOCK 16384 /* a streamed reply is pulled in blocks of at most this */
#define HTTP_BODY_ROOM    4096  /* input buffer past the longest head (http_conn.in) */

/* ---- Router ----------------------------------------------------------- */
struct http_route_mx;

struct http_croute {
    const char *method;
    const char *pattern; /* the table's string (tables outlive the server) */
    http_handler fn;
    int access, status;       /* as the table gives them */
    struct http_route_mx *mx; /* its metric series, NULL without metrics */
    int nseg;
    int nparams;
    const char *seg[LIMIT_HTTP_PATH_SEGMENTS_MAX]; /* literal, or NULL for a param */
    size_t seglen[LIMIT_HTTP_PATH_SEGMENTS_MAX];
    const char *pname[LIMIT_HTTP_ROUTE_PARAMS_MAX]; /* NUL-terminated copies */
};

struct http_router {
    struct http_croute *routes;
    int n;
    char *strings; /* all pattern copies, one allocation */
};

/* Compiles builtins then app routes.  0 or ORD_ECONFIG (logged), ORD_ENOMEM. */
int http_router_init(struct http_router *rt, const http_route *builtins, const http_route *app);
void http_router_release(struct http_router *rt);
/* Routes r (path already split into r->segs): 0 with r->route and params set,
 * ORD_ENOTFOUND, or ORD_EMETHOD with *allow (arena string) set. */
int http_router_match(const struct http_router *rt, http_req *r, const char **allow);
/* Splits r->url (raw, undecoded) into r->segs - a copy in the arena, each
 * segment percent-decoded after the split, so "%2F" stays inside its segment
 * - then http_router_match.  Also ORD_ENOTFOUND for a path not starting with
 * '/' or with more than LIMIT_HTTP_PATH_SEGMENTS_MAX segments, ORD_EINVAL for
 * an encoded NUL, ORD_ENOMEM.  Needs only r->url, r->method and r->arena. */
int http_router_route(const struct http_router *rt, http_req *r, const char **allow);
/* In-place percent-decoding ("+" untouched); returns the new length.  Sets
 * *nul when a %00 was decoded. */
size_t http_pct_decode(char *s, int *nul);
/* The value of the first argument called name (ASCII case-insensitive) in
 * the raw query string (what follows '?', NULL = none), parsed as
 * libmicrohttpd 0.9 did with a no-op unescape callback - "&" separates arguments, the first
 * "=" ends the name, "+" is a space in names and values - then
 * percent-decoded (a decoded %00 ends the value).  "?flag" gives "".
 * 1 with *out set (a copy in a, or static ""), 0 when absent, ORD_ENOMEM. */
int http_query_get(arena *a, const char *query, const char *name, const char **out);

/* ---- Requests --------------------------------------------------------- */
enum { RS_IDLE = 0, RS_BODY, RS_HANDLER, RS_SUSPENDED, RS_DONE };

struct http_hdr {
    struct http_hdr *next;
    const char *name, *value;
};

struct http_conn;

struct http_req {
    http_server *srv;
    struct http_conn *conn;
    const char *method;
    const char *url; /* raw path (no query, not decoded), in the connection's input */
    const char *query; /* raw query string (after '?'), NULL when none; likewise */
    char *path;      /* decoded, made on demand */
    const struct http_croute *route;
    int nsegs;
    char *segs[LIMIT_HTTP_PATH_SEGMENTS_MAX]; /* decoded path segments */
    const char *pvals[LIMIT_HTTP_ROUTE_PARAMS_MAX];
    char id[LIMIT_HTTP_REQUEST_ID_MAX + 1]; /* answered as X-Request-Id: the client's when well-formed, else own_id */
    char own_id[40];                        /* ours, always: what our logs call requestId */
    int client_id;                          /* id is the client's */
    const char *ctype; /* Content-Type header or NULL */
    char *body;
    size_t body_len, body_cap;
    int64_t content_length; /* -1 when absent */
    int chunked;
    int state;
    int replied;               /* one reply built (asserted) */
    int handler_suspended;     /* http_req_suspend called by the running handler */
    void (*deferred)(http_req *r, void *arg); /* builds the reply on the worker after resume */
    void *deferred_arg;
    int close;                 /* reply with Connection: close */
    int waiting;               /* holds a waiting slot (http_req_wait_begin) */
    int streamed;              /* http_reply_stream: not observed in the duration histogram */
    int status;                /* of the reply, 0 before */
    int resp_ok;               /* the reply was built (else the connection is dropped) */
    const char *resp_ctype;    /* its Content-Type, NULL for none */
    const char *resp_body;     /* its body (arena or static), resp_len bytes */
    size_t resp_len;
    http_stream *stream;       /* a streamed body (http_reply_stream), else NULL */
    struct http_hdr *hdrs, **hdrs_tail;
    json_t *json;
    void *user;      /* the application's (http_req_set_user) */
    char peer[48];   /* the peer's address, filled on first use */
    int64_t t0_us;
    arena arena;
};

struct http_slot;

/* A client address as a key (IPv4 kept in the first 4 bytes). */
struct http_addr {
    unsigned char b[16];
    unsigned char family;
};

/* Why a connection's deadline is armed (http_conn.deadline_why). */
enum { HTTP_DL_REQUEST = 0, HTTP_DL_RESPONSE, HTTP_DL_TRIMMED, HTTP_DL_REASONS };

/* What a connection is doing (loop.c). */
enum {
    PH_HEAD = 0, /* waiting for a request's head */
    PH_BODY,     /* reading its body */
    PH_BUSY,     /* its handler runs or it is suspended: input not read */
    PH_WRITE,    /* writing the reply */
    PH_STREAM,   /* writing a streamed reply */
    PH_PARKED,   /* a streamed reply with nothing to send: http_stream_wake resumes */
    PH_CLOSE,
};

struct http_worker;

struct http_conn {
    struct http_conn *prev, *next; /* watchdog registry, under slot->mu */
    struct http_slot *slot;        /* whose registry holds it */
    _Atomic int64_t deadline_ms;   /* monotonic; 0 = none (handler running / suspended) */
    _Atomic int deadline_why;      /* HTTP_DL_*: set before deadline_ms */
    int fd;
    struct http_addr addr;
    http_server *srv;
    /* the rest is the worker's (loop.c) */
    struct http_worker *w;
    struct http_conn *wprev, *wnext; /* the worker's connections */
    struct http_conn *rnext;         /* in the worker's resume list, under w->mu */
    int phase;                       /* PH_* */
    int readable;                    /* input may be waiting (an edge not yet read to the end) */
    int keep;                        /* keep the connection after this reply */
    size_t in_len;                   /* bytes in in[] */
    size_t head_len;                 /* the current request's head, 0 before it is in */
    size_t scanned;                  /* how far http_head_end looked */
    int64_t body_left;               /* Content-Length bytes still to come */
    struct http_chunked ck;
    struct iovec out[2]; /* what is left to send */
    int nout;
    char *sbuf;          /* a streamed reply's block and its chunk framing */
    struct http_head head;
    http_req req;
    _Alignas(16) char arena_inline[HTTP_ARENA_INLINE];
    /* request head (at most LIMIT_HTTP_CONN_MEMORY_BYTES), then the body as it
     * passes: HTTP_BODY_ROOM more, so that a body always has room to come */
    char in[LIMIT_HTTP_CONN_MEMORY_BYTES + HTTP_BODY_ROOM];
};

struct http_worker {
    http_server *srv;
    pthread_t th;
    int th_failed;
    int ep, evfd;
    _Atomic int stop;
    _Atomic int listen_off; /* at the connection limit: not accepting (read by the others) */
    int64_t listen_retry_ms; /* out of file descriptors: not before this (monotonic) */
    int fd_short;            /* an accept failed for want of descriptors (logged once) */
    _Atomic int wake_owed; /* a resume inside a handoff scope: wake at its close */
    pthread_mutex_t mu;    /* the resume list */
    struct http_conn *rhead, *rtail;
    struct http_conn *conns;
    time_t date_at;
    char date[40];
};

/* Per worker thread: counters (relaxed atomics) and the registry of the
 * worker's connections for the watchdog.  The mutex is only contended by the
 * watchdog's scan, a few times a second. */
/* A route's metric series, looked up once: requests by [method][status],
 * where method 0 is the route's own and 1 is HEAD on a GET route. */
struct http_route_mx {
    metric_series *duration;
    _Atomic(metric_series *) requests[2][HTTP_STATUS_SLOTS];
};

struct http_slot {
    _Alignas(64) _Atomic uint64_t started;
    _Atomic uint64_t completed;
    _Atomic uint64_t aborted;
    _Atomic uint64_t status[HTTP_STATUS_SLOTS];
    pthread_mutex_t mu;
    struct http_conn *conns;
};

/* Waiting requests per client address: an open-addressing table (linear
 * probing, backward-shift deletion) under mu, touched when a wait begins or
 * ends, never per request. */
struct http_wait_ent {
    struct http_addr a;
    int n; /* 0 = empty */
};

struct http_waits {
    pthread_mutex_t mu;
    struct http_wait_ent *t;
    size_t mask; /* capacity - 1, capacity a power of two > 2 * max */
    int total, max, per_ip_max;
    struct http_wait_ent *scratch; /* the watchdog's count per address (same capacity) */
};

struct http_server {
    struct http_worker *workers;
    int nworkers;
    _Atomic int listen_paused; /* workers not accepting (at http.connectionsMax) */
    int listen_fd;
    int port;
    int threads, timeout_s, send_timeout_s;
    size_t body_max;
    void *app;
    int (*ready)(void *app);
    http_handler fallback;
    int (*guard)(void *app, http_req *r);
    void (*done)(void *app, http_req *r, int status);
    struct http_router router;
    /* metrics (all NULL without a registry) */
    metric_family *mf_requests, *mf_duration;
    metric_series *ms_unmatched_duration, *ms_connections;
    metric_series *ms_waiting, *ms_wait_refused;
    metric_series *ms_shutdowns[HTTP_DL_REASONS];
    metric_series *ms_abandoned[2]; /* [0] long polls, [1] streams */
    struct http_route_mx *mx; /* router.n entries */
    uint64_t gen;
    _Atomic int quiesced;
    _Atomic int refusing;      /* http_server_refuse: handlers no longer run */
    _Atomic int64_t suspended; /* suspend calls minus resume calls */
    _Atomic uint64_t timeouts; /* watchdog shutdowns */
    _Atomic uint64_t shutdowns[HTTP_DL_REASONS]; /* the same by reason */
    _Atomic uint64_t wait_refused;
    _Atomic uint64_t abandoned[2];
    struct http_waits waits;
    struct http_waits peers;   /* open connections by address */
    struct http_slot *slots;   /* threads + 1; [0] is the shared overflow */
    int nslots;
    _Atomic int slot_next;
    _Atomic uint64_t handed_over; /* resumes inside a handoff scope (lib/handoff.h) */
    /* slow-client watchdog */
    pthread_t wd;
    int wd_started, wd_stop;
    pthread_mutex_t mu; /* wd_stop, cv */
    pthread_cond_t cv;
};

/* ---- Between the loop (loop.c) and the request (server.c) ---------------- */

/* server.c: a request's life, on its worker. */
void http_worker_enter(struct http_worker *w);
void http_conn_opened(http_server *s, struct http_conn *c);
void http_conn_closed(struct http_conn *c); /* closes the fd, frees c */
int http_peers_add(http_server *s, const struct http_addr *a); /* 0 or ORD_EBUSY */
void http_peers_del(http_server *s, const struct http_addr *a);
int http_peers_full(http_server *s); /* 1 at http.connectionsMax */
/* The head is in c->head (parse_rc 0), or malformed (parse_rc the error):
 * leaves c->req in RS_BODY, or answered (RS_DONE). */
void http_request_begin(struct http_conn *c, int parse_rc);
/* Body bytes: 0, or 1 when the request was answered (too large). */
int http_request_body(http_req *r, const char *data, size_t n);
/* Answers code and closes the connection after the reply. */
void http_request_fail(http_req *r, int code, const char *detail);
void http_request_dispatch(http_req *r);
void http_request_resumed(http_req *r);
/* The request is over: ok when its reply was sent whole. */
void http_request_end(http_req *r, int ok);

/* loop.c */
int http_loop_start(http_server *s);
void http_loop_stop(http_server *s);
void http_conn_reply(http_req *r); /* serialise and start sending r's reply */
int http_conn_resume(struct http_conn *c); /* 1 when inside a handoff scope */

/* req.c: a streamed reply's side of the loop. */
long http_stream_pull(http_stream *s, char *buf, size_t max);
int http_stream_park(http_stream *s); /* 1: woken meanwhile, pull again */
void http_stream_free(http_stream *s);

/* 1 when the peer of fd closed it (a non-blocking peek reads end of file)
 * or the socket failed; 0 while it is open (server.c). */
int http_fd_peer_gone(int fd);

/* Builds the problem+json reply with extension members ext (stolen) (req.c). */
void http_problem_build(http_req *r, int code, const char *detail, json_t *errors, json_t *ext);
/* Serialises a problem for code into the arena: for replies written straight
 * to the socket.  Returns the length or 0. */
size_t http_problem_text(http_req *r, int code, const char *detail, char **out);

#endif
