/* loop.c - the connection loop: epoll workers, accept, reading and framing
 * requests, writing replies, suspended requests coming back.
 *
 * DESIGN.  Each worker thread owns an epoll set, an eventfd and the
 * connections it accepted (the listen socket is in every set, with
 * EPOLLEXCLUSIVE).  A connection is registered once, edge-triggered for
 * input, output and the peer's close, and never modified: a request whose
 * handler suspends costs no system call to park and none to come back but
 * the reply's one sendmsg.  A request that comes back from another thread
 * (the writer after a commit, a long poll's wake) joins its worker's resume
 * list; the first to join an empty list writes the eventfd, so a batch the
 * writer completes wakes the worker once (and inside a handoff scope, at
 * the scope's close).
 *
 * One request at a time per connection: while its handler runs, is
 * suspended or its reply is being written, the connection's input is not
 * read (its edge is remembered), which bounds each connection's memory to
 * its input buffer and the request's arena.  A read shorter than the space
 * offered means the socket is drained (epoll(7)), so a request costs one
 * recv.
 *
 * The request itself (limits, routing, handlers, completion) is server.c's;
 * the bytes on the wire are this file's and parse.c's.
 */
#include "http/internal.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/handoff.h"
#include "obs/log.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX 64
#define LISTEN_RETRY_MS 100 /* a paused listen socket is looked at again this often */
#define TAG_LISTEN ((void *)1)
#define TAG_WAKE   ((void *)2)

static _Thread_local struct http_worker *tl_worker;

static void conn_run(struct http_conn *c);
static void conn_close(struct http_conn *c);
static void listen_resume(struct http_worker *w);
static void resumes_run_list(struct http_conn *c);

/* ---- Resume list ---------------------------------------------------------- */

static void wake(struct http_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->evfd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already set, the worker will wake */
}

static void wake_flush(void *arg)
{
    struct http_worker *w = arg;
    if (atomic_exchange(&w->wake_owed, 0)) wake(w);
}

int http_conn_resume(struct http_conn *c)
{
    struct http_worker *w = c->w;
    int self = w == tl_worker;
    int deferred = !self && handoff_defer(wake_flush, w);
    pthread_mutex_lock(&w->mu);
    int first = !w->rhead;
    c->rnext = NULL;
    if (w->rtail)
        w->rtail->rnext = c;
    else
        w->rhead = c;
    w->rtail = c;
    if (first && deferred) atomic_store(&w->wake_owed, 1);
    pthread_mutex_unlock(&w->mu);
    /* the worker drains the list before it waits; a later push finds the
     * list not empty, its wake already made or owed */
    if (first && !self && !deferred) wake(w);
    return deferred;
}

/* Runs the resume list until it stays empty (a reply built here may resume
 * another of this worker's requests, with no wake-up: it is on this thread). */
static void resumes_run(struct http_worker *w)
{
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct http_conn *c = w->rhead;
        w->rhead = w->rtail = NULL;
        pthread_mutex_unlock(&w->mu);
        if (!c) return;
        resumes_run_list(c);
    }
}

static void resumes_run_list(struct http_conn *c)
{
    while (c) {
        struct http_conn *next = c->rnext;
        if (c->phase == PH_PARKED) {
            c->phase = PH_STREAM;
        } else {
            CHECK(c->phase == PH_BUSY);
            http_request_resumed(&c->req);
        }
        conn_run(c);
        c = next;
    }
}

/* ---- Writing ---------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "";
    }
}

/* The Date header's value, formatted once a second per worker. */
static const char *date_now(struct http_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_at = now;
    }
    return w->date;
}

static int has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

/* Sends what is pending: 1 when all of it went, 0 when the socket is full
 * (the next EPOLLOUT edge continues), -1 when the connection failed. */
static int flush_out(struct http_conn *c)
{
    while (c->nout) {
        struct msghdr msg = {.msg_iov = c->out, .msg_iovlen = (size_t)c->nout};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        size_t left = (size_t)n;
        int k = 0;
        while (k < c->nout && left >= c->out[k].iov_len)
            left -= c->out[k++].iov_len;
        memmove(c->out, c->out + k, sizeof c->out[0] * (size_t)(c->nout - k));
        c->nout -= k;
        if (c->nout) {
            c->out[0].iov_base = (char *)c->out[0].iov_base + left;
            c->out[0].iov_len -= left;
        }
    }
    return 1;
}

/* 1 when a Connection field (a list, possibly on several lines) says close. */
static int wants_close(const struct http_head *h)
{
    for (int i = 0; i < h->nfields; i++)
        if (h->fields[i].nlen == 10 && !strcasecmp(h->fields[i].name, "Connection") &&
            http_list_has(h->fields[i].value, "close"))
            return 1;
    return 0;
}

/* Serialises r's reply (status, headers, body or the start of a stream) and
 * starts writing it.  server.c's queue_reply calls this on the worker. */
void http_conn_reply(http_req *r)
{
    struct http_conn *c = r->conn;
    http_server *s = c->srv;
    int close_after = r->close || c->head.minor == 0 || wants_close(&c->head) ||
                      atomic_load_explicit(&s->quiesced, memory_order_relaxed);
    int head_only = !strcmp(r->method, "HEAD");
    size_t need = 256 + strlen(r->id) + (r->resp_ctype ? strlen(r->resp_ctype) : 0);
    for (struct http_hdr *h = r->hdrs; h; h = h->next)
        need += strlen(h->name) + strlen(h->value) + 4;
    char *buf = arena_alloc(&r->arena, need);
    if (!buf) {
        c->phase = PH_CLOSE;
        return;
    }
    size_t n = (size_t)snprintf(buf, need, "HTTP/1.1 %d %s\r\nDate: %s\r\nX-Request-Id: %s\r\n",
                                r->status, reason(r->status), date_now(c->w), r->id);
    if (r->resp_ctype) n += (size_t)snprintf(buf + n, need - n, "Content-Type: %s\r\n", r->resp_ctype);
    for (struct http_hdr *h = r->hdrs; h; h = h->next)
        n += (size_t)snprintf(buf + n, need - n, "%s: %s\r\n", h->name, h->value);
    if (r->stream) {
        if (c->head.minor == 1)
            n += (size_t)snprintf(buf + n, need - n, "Transfer-Encoding: chunked\r\n");
        else
            close_after = 1; /* HTTP/1.0: the body ends with the connection */
    } else if (has_body(r->status)) {
        n += (size_t)snprintf(buf + n, need - n, "Content-Length: %zu\r\n", r->resp_len);
    }
    if (close_after) n += (size_t)snprintf(buf + n, need - n, "Connection: close\r\n");
    n += (size_t)snprintf(buf + n, need - n, "\r\n");
    CHECK(n < need);
    c->keep = !close_after;
    c->out[0] = (struct iovec){buf, n};
    c->nout = 1;
    if (!r->stream && r->resp_len && has_body(r->status) && !head_only)
        c->out[c->nout++] = (struct iovec){(void *)r->resp_body, r->resp_len};
    c->phase = r->stream && !head_only ? PH_STREAM : PH_WRITE;
}

/* A stream's next block, framed as a chunk (HTTP/1.1) into c->sbuf:
 * 1 queued, 0 parked (nothing now), -1 the body ended (the last chunk
 * queued, or nothing for HTTP/1.0). */
static int stream_next(struct http_conn *c)
{
    enum { PRE = 10 }; /* "%8zx\r\n" */
    if (!c->sbuf && !(c->sbuf = malloc(PRE + HTTP_STREAM_BLOCK + 7))) return -1;
    int chunked = c->head.minor == 1;
    long n = http_stream_pull(c->req.stream, c->sbuf + PRE, HTTP_STREAM_BLOCK);
    if (n == 0) return 0;
    if (n < 0) {
        if (!chunked) return -1;
        memcpy(c->sbuf, "0\r\n\r\n", 5);
        c->out[0] = (struct iovec){c->sbuf, 5};
        c->nout = 1;
        return -1;
    }
    if (!chunked) {
        c->out[0] = (struct iovec){c->sbuf + PRE, (size_t)n};
    } else {
        char pre[PRE + 1];
        int pn = snprintf(pre, sizeof pre, "%lx\r\n", (unsigned long)n);
        memcpy(c->sbuf + PRE - pn, pre, (size_t)pn);
        memcpy(c->sbuf + PRE + n, "\r\n", 2);
        c->out[0] = (struct iovec){c->sbuf + PRE - pn, (size_t)pn + (size_t)n + 2};
    }
    c->nout = 1;
    return 1;
}

/* ---- Reading ---------------------------------------------------------------- */

/* Reads what the socket has into c->in: 1 read something, 0 nothing now,
 * -1 the peer closed or the socket failed. */
static int fill(struct http_conn *c)
{
    size_t room = sizeof c->in - c->in_len;
    if (!room || !c->readable) return 0;
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            if ((size_t)n < room) c->readable = 0; /* drained */
            return 1;
        }
        if (n == 0) return -1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->readable = 0;
            return 0;
        }
        return -1;
    }
}

/* Drops the first n bytes of input (a request's head and body are done). */
static void consume(struct http_conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    c->scanned = 0;
}

/* The request's head is in c->in[0..head_len): begin it. */
static void head_in(struct http_conn *c, size_t head_len)
{
    c->head_len = head_len;
    int rc = http_head_parse(c->in, head_len, &c->head);
    if (rc) c->head.minor = 1; /* answered as HTTP/1.1, then closed */
    c->phase = PH_BODY;
    c->body_left = 0;
    memset(&c->ck, 0, sizeof c->ck);
    http_request_begin(c, rc);
    http_req *r = &c->req;
    if (r->state != RS_BODY) return; /* an early reply: PH_WRITE */
    c->body_left = r->content_length > 0 ? r->content_length : 0;
    const struct http_field *ex;
    if ((c->body_left || r->chunked) && c->head.minor == 1 &&
        (ex = http_head_field(&c->head, "Expect")) && !strcasecmp(ex->value, "100-continue") &&
        c->in_len == head_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t w = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* a client that cannot take 25 bytes sends its body anyway after a while */
    }
}

/* Feeds the body bytes in c->in after the head to the request: 1 when the
 * body is complete, 0 when more is needed, -1 when the request was answered
 * (the body was malformed or too large). */
static int body_in(struct http_conn *c)
{
    http_req *r = &c->req;
    char *p = c->in + c->head_len;
    size_t n = c->in_len - c->head_len;
    if (!r->chunked) {
        size_t take = (uint64_t)c->body_left < n ? (size_t)c->body_left : n;
        if (take && http_request_body(r, p, take)) return -1;
        c->body_left -= (int64_t)take;
        /* keep what follows (a pipelined request) right after the head */
        memmove(p, p + take, n - take);
        c->in_len -= take;
        return c->body_left == 0;
    }
    size_t data = 0;
    int done = 0;
    long used = http_chunked_decode(&c->ck, p, n, &data, &done);
    if (used < 0) {
        http_request_fail(r, ORD_EINVAL, "malformed chunked transfer coding");
        return -1;
    }
    if (data && http_request_body(r, p, data)) return -1;
    memmove(p, p + used, n - (size_t)used);
    c->in_len -= (size_t)used;
    return done;
}

/* ---- The connection's state machine ------------------------------------------ */

static void request_finished(struct http_conn *c)
{
    http_request_end(&c->req, 1);
    consume(c, c->head_len);
    c->head_len = 0;
    free(c->sbuf);
    c->sbuf = NULL;
    c->phase = c->keep ? PH_HEAD : PH_CLOSE;
}

static void conn_run(struct http_conn *c)
{
    for (;;) {
        switch (c->phase) {
        case PH_HEAD: {
            size_t end = http_head_end(c->in, c->in_len, &c->scanned);
            if (end && end <= LIMIT_HTTP_CONN_MEMORY_BYTES) {
                head_in(c, end);
                break;
            }
            int got = end ? 0 : fill(c);
            if (got > 0) break;
            if (got < 0) {
                c->phase = PH_CLOSE;
                break;
            }
            if (end || c->in_len >= LIMIT_HTTP_CONN_MEMORY_BYTES) { /* a head that does not fit */
                memset(&c->head, 0, offsetof(struct http_head, fields));
                c->head.minor = 1;
                c->head_len = c->in_len;
                c->phase = PH_BODY;
                http_request_begin(c, memchr(c->in, '\n', LIMIT_HTTP_CONN_MEMORY_BYTES) ? ORD_EHEADERS
                                                                                      : ORD_EURITOOLONG);
                break;
            }
            return;
        }
        case PH_BODY: {
            int st = body_in(c);
            if (st < 0) break; /* answered: PH_WRITE */
            if (st > 0) {
                c->phase = PH_BUSY;
                http_request_dispatch(&c->req);
                break;
            }
            int got = fill(c);
            if (got > 0) break;
            if (got < 0) { /* the body never came */
                c->phase = PH_CLOSE;
                break;
            }
            return;
        }
        case PH_BUSY: /* the handler suspended: http_conn_resume brings it back */
            return;
        case PH_WRITE:
        case PH_STREAM: {
            int st = flush_out(c);
            if (st == 0) return;
            if (st < 0) {
                c->phase = PH_CLOSE;
                break;
            }
            if (c->phase == PH_WRITE) { /* all sent */
                request_finished(c);
                break;
            }
            int more = stream_next(c);
            if (more > 0) break;
            if (more == 0) { /* parked: http_stream_wake resumes it */
                c->phase = PH_PARKED;
                if (http_stream_park(c->req.stream)) c->phase = PH_STREAM; /* woken meanwhile */
                if (c->phase == PH_PARKED) return;
                break;
            }
            /* ended: the last chunk goes out, then the request completes */
            c->keep = c->keep && c->head.minor == 1;
            c->phase = PH_WRITE;
            break;
        }
        case PH_PARKED:
            return;
        case PH_CLOSE:
            conn_close(c);
            return;
        }
    }
}

/* ---- Connections ---------------------------------------------------------- */

static void conn_close(struct http_conn *c)
{
    struct http_worker *w = c->w;
    if (c->req.state != RS_IDLE) http_request_end(&c->req, 0); /* not answered, or not all sent */
    /* what the client still sends would make close() reset the connection
     * and could destroy the reply in flight: half-close, then discard */
    shutdown(c->fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ; /* bounded: a client that keeps sending cannot hold the worker here */
    free(c->sbuf);
    c->sbuf = NULL;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        w->conns = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    http_server *s = c->srv;
    http_conn_closed(c); /* unregisters from the watchdog, then closes the fd and frees c */
    if (atomic_load(&s->listen_paused))
        for (int i = 0; i < s->nworkers; i++)
            if (s->workers[i].listen_off) {
                if (&s->workers[i] == w)
                    listen_resume(w);
                else
                    wake(&s->workers[i]);
            }
}

static void conn_open(struct http_worker *w, int fd, const struct sockaddr_storage *sa)
{
    http_server *s = w->srv;
    struct http_addr a;
    memset(&a, 0, sizeof a);
    a.family = (unsigned char)sa->ss_family;
    if (sa->ss_family == AF_INET)
        memcpy(a.b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->ss_family == AF_INET6)
        memcpy(a.b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    if (atomic_load(&s->quiesced) || http_peers_add(s, &a)) {
        close(fd);
        return;
    }
    struct http_conn *c = malloc(sizeof *c);
    if (!c) {
        http_peers_del(s, &a);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->w = w;
    c->fd = fd;
    c->addr = a;
    c->phase = PH_HEAD;
    c->readable = 1; /* the request may be in already */
    c->keep = 1;
    c->in_len = c->head_len = c->scanned = 0;
    c->nout = 0;
    c->sbuf = NULL;
    c->head.minor = 1;
    c->wprev = NULL;
    c->wnext = w->conns;
    if (w->conns) w->conns->wprev = c;
    w->conns = c;
    http_conn_opened(s, c);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_warn("http", "epoll_ctl failed", "error", strerror(errno), NULL);
        c->phase = PH_CLOSE;
    }
    conn_run(c);
}

/* At http.connectionsMax, or out of file descriptors, the worker stops
 * accepting (the listen socket out of its set): new clients wait in the
 * backlog, as with any server at its limit, and are accepted when a
 * connection closes or at the next LISTEN_RETRY_MS (listen_resume). */
static void listen_pause(struct http_worker *w)
{
    if (w->listen_off) return;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, w->srv->listen_fd, NULL);
    w->listen_off = 1;
    atomic_fetch_add(&w->srv->listen_paused, 1);
}

static void listen_resume(struct http_worker *w)
{
    if (!w->listen_off || http_peers_full(w->srv)) return;
    if (w->listen_retry_ms && clock_mono_ms() < w->listen_retry_ms) return;
    w->listen_retry_ms = 0;
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = TAG_LISTEN};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->srv->listen_fd, &lev) != 0) return;
    w->listen_off = 0;
    atomic_fetch_sub(&w->srv->listen_paused, 1);
}

static void accept_all(struct http_worker *w)
{
    for (;;) {
        if (http_peers_full(w->srv)) {
            listen_pause(w);
            return;
        }
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd = accept4(w->srv->listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* the listen socket stays readable: out of the set, or the
                 * worker would spin; retried every LISTEN_RETRY_MS */
                if (!w->fd_short) /* once until an accept succeeds again */
                    log_warn("http", "accept failed: out of file descriptors or memory; retrying",
                             "error", strerror(errno), NULL);
                w->fd_short = 1;
                listen_pause(w);
                w->listen_retry_ms = clock_mono_ms() + LISTEN_RETRY_MS;
            }
            return;
        }
        w->fd_short = 0;
        conn_open(w, fd, &sa);
    }
}

/* ---- Workers ------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct http_worker *w = arg;
    struct epoll_event ev[EVENTS_MAX];
    char name[16];
    snprintf(name, sizeof name, "http-%d", (int)(w - w->srv->workers));
    pthread_setname_np(pthread_self(), name);
    tl_worker = w;
    http_worker_enter(w);
    while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
        resumes_run(w);
        listen_resume(w);
        int n = epoll_wait(w->ep, ev, EVENTS_MAX, w->listen_off ? LISTEN_RETRY_MS : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_error("http", "epoll_wait failed", "error", strerror(errno), NULL);
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == TAG_LISTEN) {
                accept_all(w);
            } else if (p == TAG_WAKE) {
                uint64_t v;
                ssize_t r = read(w->evfd, &v, sizeof v);
                (void)r;
            } else {
                struct http_conn *c = p;
                if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
                conn_run(c);
            }
        }
    }
    /* stopping: nothing is suspended (http_server_stop checked) */
    resumes_run(w);
    while (w->conns)
        conn_close(w->conns);
    return NULL;
}

int http_loop_start(http_server *s)
{
    s->workers = calloc((size_t)s->threads, sizeof *s->workers);
    if (!s->workers) return ORD_ENOMEM;
    for (int i = 0; i < s->threads; i++) {
        struct http_worker *w = &s->workers[i];
        w->srv = s;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_mutex_init(&w->mu, NULL);
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = TAG_LISTEN};
        struct epoll_event wev = {.events = EPOLLIN, .data.ptr = TAG_WAKE};
        if (w->ep < 0 || w->evfd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, s->listen_fd, &lev) != 0 ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &wev) != 0 ||
            pthread_create(&w->th, NULL, worker_main, w) != 0) {
            log_error("http", "cannot start an HTTP worker", "error", strerror(errno), NULL);
            s->nworkers = i + 1;
            w->th_failed = 1;
            http_loop_stop(s);
            return ORD_EINTERNAL;
        }
        s->nworkers = i + 1;
    }
    return 0;
}

void http_loop_stop(http_server *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        struct http_worker *w = &s->workers[i];
        atomic_store_explicit(&w->stop, 1, memory_order_release);
        if (w->evfd >= 0) wake(w);
    }
    for (int i = 0; i < s->nworkers; i++) {
        struct http_worker *w = &s->workers[i];
        if (!w->th_failed) pthread_join(w->th, NULL);
        if (w->ep >= 0) close(w->ep);
        if (w->evfd >= 0) close(w->evfd);
        pthread_mutex_destroy(&w->mu);
    }
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}
