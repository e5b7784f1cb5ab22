/* test_http.c - the HTTP foundation over real sockets on 127.0.0.1: routing,
 * problem+json, request ids, JSON bodies, every limit at and past its value,
 * suspend/resume under load, slow clients, quiesce and drain; and the
 * connection loop on the wire (loop_*: pipelining, chunked bodies,
 * 100-continue, Connection: close, HTTP/1.0, HEAD, framing errors, the
 * field-count and input-buffer limits, a big reply to a slow reader). */
#include "lib/limits.h"
#include "http/server.h"
#include "lib/handoff.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "obs/log.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- Client helpers ------------------------------------------------------ */

struct resp {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
};

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

static int cli_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void cli_send(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the server may close early on purpose */
        p += w;
        n -= (size_t)w;
    }
}

/* Waits up to timeout_ms for readable data; returns bytes read, 0 on EOF, -1
 * on timeout, -2 on error (ECONNRESET). */
static ssize_t cli_recv(int fd, char *buf, size_t n, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int pr = poll(&p, 1, timeout_ms);
    if (pr == 0) return -1;
    ssize_t r = recv(fd, buf, n, 0);
    return r < 0 ? -2 : r;
}

static const char *hdr(const struct resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t vl = e ? (size_t)(e - v) : strlen(v);
            if (vl >= n) vl = n - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return out;
        }
    }
    return NULL;
}

/* Reads one response (head + Content-Length body).  Returns 0, or -1 when
 * the connection closed/timed out before a full response. */
static int cli_read_ms(int fd, struct resp *r, int head_only_body, int timeout_ms)
{
    static __thread char pend[65536];
    static __thread size_t pend_n; /* bytes read past the previous response */
    static __thread int pend_fd = -1;
    char *buf = malloc(4 << 20);
    size_t n = 0;
    memset(r, 0, sizeof *r);
    if (pend_fd == fd && pend_n) {
        memcpy(buf, pend, pend_n);
        n = pend_n;
    }
    pend_n = 0;
    pend_fd = fd;
    char *eoh = NULL;
    for (;;) {
        buf[n] = 0;
        if ((eoh = strstr(buf, "\r\n\r\n"))) break;
        ssize_t got = cli_recv(fd, buf + n, (4 << 20) - 1 - n, timeout_ms);
        if (got <= 0) {
            free(buf);
            return -1;
        }
        n += (size_t)got;
    }
    size_t hl = (size_t)(eoh - buf) + 4;
    cr_assert_lt(hl, sizeof r->head);
    memcpy(r->head, buf, hl);
    r->head[hl] = 0;
    r->status = atoi(buf + 9);
    char v[64];
    size_t cl = hdr(r, "Content-Length", v, sizeof v) ? (size_t)atol(v) : 0;
    if (head_only_body) cl = 0;
    while (n - hl < cl) {
        ssize_t got = cli_recv(fd, buf + n, (4 << 20) - 1 - n, 5000);
        if (got <= 0) break;
        n += (size_t)got;
    }
    r->body_len = n - hl < cl ? n - hl : cl;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, buf + hl, r->body_len);
    r->body[r->body_len] = 0;
    size_t extra = n - hl - r->body_len;
    if (extra && extra <= sizeof pend) {
        memcpy(pend, buf + hl + r->body_len, extra);
        pend_n = extra;
    }
    free(buf);
    return 0;
}

static int cli_read(int fd, struct resp *r, int head_only_body)
{
    return cli_read_ms(fd, r, head_only_body, 5000);
}

/* One request on a fresh connection. */
static int exchange(int port, const char *raw, size_t len, struct resp *r)
{
    int fd = cli_connect(port);
    cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
    cli_send(fd, raw, len);
    int rc = cli_read(fd, r, strncmp(raw, "HEAD ", 5) == 0);
    close(fd);
    return rc;
}

static int get(int port, const char *path, struct resp *r)
{
    char req[4096];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    return exchange(port, req, (size_t)n, r);
}

static int post(int port, const char *path, const char *ctype, const char *body, size_t blen,
                struct resp *r)
{
    size_t cap = blen + 512;
    char *req = malloc(cap);
    int n =
        snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: t\r\n%s%s%sContent-Length: %zu\r\n\r\n", path,
                 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", blen);
    memcpy(req + n, body, blen);
    int rc = exchange(port, req, (size_t)n + blen, r);
    free(req);
    return rc;
}

/* 1 when the server closed the connection (EOF or reset) within timeout_ms. */
static int peer_closed(int fd, int timeout_ms)
{
    char b[4096];
    int64_t end = clock_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - clock_mono_ms());
        if (left <= 0) return 0;
        ssize_t r = cli_recv(fd, b, sizeof b, left);
        if (r == 0 || r == -2) return 1;
        if (r == -1) return 0;
    }
}

static json_t *body_json(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    cr_assert_not_null(j, "response body is not JSON (%s): %s", e.text, r->body);
    return j;
}

/* Checks the RFC 9457 shape and returns the parsed problem (caller decrefs). */
static json_t *assert_problem(const struct resp *r, int status, const char *slug)
{
    char v[256], type[256];
    cr_assert_eq(r->status, status, "status %d, want %d; body %s", r->status, status, r->body);
    cr_assert_not_null(hdr(r, "Content-Type", v, sizeof v));
    cr_assert_str_eq(v, "application/problem+json");
    json_t *p = body_json(r);
    snprintf(type, sizeof type, "https://orderly.dev/problems/%s", slug);
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")), type);
    cr_assert_not_null(json_string_value(json_object_get(p, "title")));
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), status);
    cr_assert_not_null(json_string_value(json_object_get(p, "detail")));
    cr_assert_not_null(hdr(r, "X-Request-Id", v, sizeof v));
    cr_assert_str_eq(json_string_value(json_object_get(p, "requestId")), v);
    return p;
}

/* ---- Test application ----------------------------------------------------- */

/* The resumer: suspended requests are answered from this thread, either 50 ms
 * after they arrive or, for /api/hold, all at once when released. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    http_req *q[1024];
    int64_t due[1024];
    int n;
    int held;    /* /api/hold requests waiting */
    int release; /* answer the held ones */
    int scoped;  /* ... all inside one handoff scope, as the writer completes a batch */
    int stop;
    pthread_t th;
} rs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *resumer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&rs.mu);
    while (!rs.stop) {
        int64_t now = clock_mono_ms();
        int did = 0;
        for (int i = 0; i < rs.n; i++) {
            int is_hold = rs.due[i] == 0;
            if ((is_hold && rs.release && !rs.scoped) || (!is_hold && now >= rs.due[i])) {
                http_req *r = rs.q[i];
                rs.q[i] = rs.q[--rs.n];
                rs.due[i] = rs.due[rs.n];
                if (is_hold) rs.held--;
                pthread_mutex_unlock(&rs.mu);
                http_reply_header(r, "X-Resumed", "yes");
                http_reply_json(r, 200,
                                json_pack("{s:b, s:s}", "resumed", 1, "id", http_req_id(r)));
                http_req_resume(r);
                pthread_mutex_lock(&rs.mu);
                did = 1;
                break;
            }
        }
        if (did) continue;
        if (rs.release && rs.scoped && rs.held) { /* the held ones as one batch */
            http_req *batch[1024];
            int k = 0;
            for (int i = 0; i < rs.n;)
                if (rs.due[i] == 0) {
                    batch[k++] = rs.q[i];
                    rs.q[i] = rs.q[--rs.n];
                    rs.due[i] = rs.due[rs.n];
                    rs.held--;
                } else {
                    i++;
                }
            pthread_mutex_unlock(&rs.mu);
            handoff_open();
            for (int i = 0; i < k; i++) {
                http_reply_json(batch[i], 200, json_pack("{s:b}", "batched", 1));
                http_req_resume(batch[i]);
            }
            handoff_close();
            pthread_mutex_lock(&rs.mu);
            continue;
        }
        struct timespec ts = {0, 0};
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&rs.cv, &rs.mu, &ts);
    }
    pthread_mutex_unlock(&rs.mu);
    return NULL;
}

static void enqueue(http_req *r, int64_t due)
{
    pthread_mutex_lock(&rs.mu);
    cr_assert_lt(rs.n, 1024);
    rs.q[rs.n] = r;
    rs.due[rs.n++] = due;
    if (!due) rs.held++;
    pthread_cond_signal(&rs.cv);
    pthread_mutex_unlock(&rs.mu);
}

static int held_count(void)
{
    pthread_mutex_lock(&rs.mu);
    int n = rs.held;
    pthread_mutex_unlock(&rs.mu);
    return n;
}

static void release_held_as(int scoped)
{
    pthread_mutex_lock(&rs.mu);
    rs.scoped = scoped;
    rs.release = 1;
    pthread_cond_signal(&rs.cv);
    pthread_mutex_unlock(&rs.mu);
}

static void release_held(void)
{
    pthread_mutex_lock(&rs.mu);
    rs.scoped = 0;
    rs.release = 1;
    pthread_cond_signal(&rs.cv);
    pthread_mutex_unlock(&rs.mu);
}

static int h_item(http_req *r)
{
    http_reply_json(
        r, 200, json_pack("{s:s, s:s}", "id", http_req_param(r, "id"), "path", http_req_path(r)));
    return 0;
}

static int h_message(http_req *r)
{
    http_reply_json(r, 200,
                    json_pack("{s:s, s:s, s:s}", "name", http_req_param(r, "name"), "receipt",
                              http_req_param(r, "receipt"), "method", http_req_method(r)));
    return 0;
}

static int h_echo(http_req *r)
{
    json_t *j = http_req_json(r);
    if (!j) return 0;
    json_incref(j);
    http_reply_json(r, 201, j);
    return 0;
}

static int h_raw(http_req *r)
{
    size_t n;
    http_req_body(r, &n);
    http_reply_json(r, 200, json_pack("{s:I}", "len", (json_int_t)n));
    return 0;
}

static int h_query(http_req *r)
{
    const char *q = http_req_query(r, "q"), *f = http_req_query(r, "flag"),
               *m = http_req_query(r, "missing");
    http_reply_json(r, 200,
                    json_pack("{s:s?, s:s?, s:b}", "q", q, "flag", f, "missingIsNull", m == NULL));
    return 0;
}

static int h_fail(http_req *r)
{
    (void)r;
    return ORD_ECONFLICT;
}

static int h_validate(http_req *r)
{
    http_reply_problem(
        r, ORD_EVALIDATION, "items[0].qty must be 1..10000",
        json_pack("[{s:s, s:s}]", "field", "items[0].qty", "message", "must be 1..10000"));
    return 0;
}

static int h_suspend(http_req *r)
{
    http_req_suspend(r);
    enqueue(r, clock_mono_ms() + 50);
    return 0;
}

/* Suspends and resumes on the worker itself, as a handler does when the
 * work it would wait for cannot be submitted. */
static int h_self(http_req *r)
{
    http_req_suspend(r);
    http_reply_json(r, 200, json_pack("{s:b}", "self", 1));
    http_req_resume(r);
    return 0;
}

static int h_hold(http_req *r)
{
    http_req_suspend(r);
    enqueue(r, 0);
    return 0;
}

static int h_big(http_req *r)
{
    size_t n = 100000;
    char *s = http_req_alloc(r, n + 1);
    cr_assert_not_null(s);
    memset(s, 'x', n);
    s[n] = 0;
    http_reply_header(r, "X-Custom", "v1");
    http_reply_json(r, 200, json_pack("{s:s}", "big", s));
    return 0;
}

static int h_header(http_req *r)
{
    const char *ua = http_req_header(r, "x-test-header");
    http_reply_raw(r, 200, "text/plain", ua ? ua : "none", ua ? strlen(ua) : 4);
    return 0;
}

/* The request body back, byte for byte. */
static int h_rawecho(http_req *r)
{
    size_t n;
    const char *b = http_req_body(r, &n);
    http_reply_raw(r, 200, "application/octet-stream", b, n);
    return 0;
}

/* A reply larger than any socket buffer (net.ipv4.tcp_wmem's 4 MiB at most,
 * plus the reader's window): BIGRAW_BYTES of a known pattern, static, so no
 * arena limit applies. */
#define BIGRAW_BYTES (6u << 20)
static char bigraw[BIGRAW_BYTES];
static pthread_once_t bigraw_once = PTHREAD_ONCE_INIT;

static char bigraw_byte(size_t i)
{
    return (char)('a' + (i * 7 + i / 4096) % 26);
}

static void bigraw_fill(void)
{
    for (size_t i = 0; i < BIGRAW_BYTES; i++)
        bigraw[i] = bigraw_byte(i);
}

static int h_bigraw(http_req *r)
{
    pthread_once(&bigraw_once, bigraw_fill);
    http_reply_static(r, 200, "application/octet-stream", bigraw, BIGRAW_BYTES);
    return 0;
}

static const http_route test_routes[] = {
    {"POST", "/api/rawecho", h_rawecho, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/bigraw", h_bigraw, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/items/{id}", h_item, HTTP_ACCESS_PUBLIC, 200},
    {"DELETE", "/api/items/{id}", h_item, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/queues/{name}/messages/{receipt}", h_message, HTTP_ACCESS_PUBLIC, 200},
    {"DELETE", "/api/queues/{name}/messages/{receipt}", h_message, HTTP_ACCESS_PUBLIC, 200},
    {"POST", "/api/echo", h_echo, HTTP_ACCESS_PUBLIC, 200},
    {"POST", "/api/raw", h_raw, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/query", h_query, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/fail", h_fail, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/validate", h_validate, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/suspend", h_suspend, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/hold", h_hold, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/self", h_self, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/big", h_big, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/header", h_header, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/", h_header, HTTP_ACCESS_PUBLIC, 200},
    {0},
};

static int app_ready = 1;
static int ready_cb(void *app)
{
    cr_assert_eq(app, &app_ready);
    return *(int *)app;
}

static http_server *srv;
static int port;

static void start_with(http_opts o)
{
    o.listen = o.listen ? o.listen : "127.0.0.1:0";
    o.routes = o.routes ? o.routes : test_routes;
    o.app = &app_ready;
    o.ready = ready_cb;
    int rc = http_server_start(&o, &srv);
    cr_assert_eq(rc, 0, "start: %s", err_name(rc));
    port = http_server_port(srv);
    cr_assert_gt(port, 0);
}

static void setup(void)
{
    id_init();
    log_setup("test", LOG_WARN);
    rs.n = rs.held = rs.release = rs.stop = 0;
    pthread_create(&rs.th, NULL, resumer_main, NULL);
}

static void teardown(void)
{
    if (srv) {
        release_held();
        cr_assert_eq(http_server_drain(srv, 5000), 0);
        http_server_stop(srv);
        srv = NULL;
    }
    pthread_mutex_lock(&rs.mu);
    rs.stop = 1;
    pthread_cond_signal(&rs.cv);
    pthread_mutex_unlock(&rs.mu);
    pthread_join(rs.th, NULL);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* ---- Routing ---------------------------------------------------------------- */

Test(http, health_and_routing_with_params)
{
    struct resp r;
    start_with((http_opts){.threads = 2});
    cr_assert_eq(get(port, "/health", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    resp_free(&r);

    cr_assert_eq(get(port, "/api/items/abc", &r), 0);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "abc");
    json_decref(j);
    resp_free(&r);

    /* params and path are URL-decoded; %2F stays inside its segment */
    cr_assert_eq(get(port, "/api/items/a%2Fb%20c", &r), 0);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "a/b c");
    cr_assert_str_eq(json_string_value(json_object_get(j, "path")), "/api/items/a/b c");
    json_decref(j);
    resp_free(&r);

    cr_assert_eq(get(port, "/api/queues/dev-orders/messages/r%2B1%3D", &r), 0);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "dev-orders");
    cr_assert_str_eq(json_string_value(json_object_get(j, "receipt")), "r+1=");
    json_decref(j);
    resp_free(&r);

    const char del[] = "DELETE /api/queues/q/messages/xyz HTTP/1.1\r\nHost: t\r\n\r\n";
    cr_assert_eq(exchange(port, del, sizeof del - 1, &r), 0);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "DELETE");
    json_decref(j);
    resp_free(&r);

    cr_assert_eq(get(port, "/", &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

Test(http, not_found_and_method_not_allowed)
{
    struct resp r;
    char v[128];
    start_with((http_opts){0});
    cr_assert_eq(get(port, "/api/nothing", &r), 0);
    json_t *p = assert_problem(&r, 404, "not-found");
    cr_assert_str_eq(json_string_value(json_object_get(p, "instance")), "/api/nothing");
    json_decref(p);
    resp_free(&r);

    /* an empty segment never matches a parameter */
    cr_assert_eq(get(port, "/api/items/", &r), 0);
    json_decref(assert_problem(&r, 404, "not-found"));
    resp_free(&r);
    /* too many segments */
    cr_assert_eq(get(port, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", &r), 0);
    json_decref(assert_problem(&r, 404, "not-found"));
    resp_free(&r);

    cr_assert_eq(post(port, "/api/items/abc", "application/json", "{}", 2, &r), 0);
    json_decref(assert_problem(&r, 405, "method-not-allowed"));
    cr_assert_not_null(hdr(&r, "Allow", v, sizeof v));
    cr_assert_str_eq(v, "GET, HEAD, DELETE");
    resp_free(&r);

    cr_assert_eq(post(port, "/health", "application/json", "{}", 2, &r), 0);
    json_decref(assert_problem(&r, 405, "method-not-allowed"));
    cr_assert_str_eq(hdr(&r, "Allow", v, sizeof v), "GET, HEAD");
    resp_free(&r);

    /* HEAD answers like GET, without a body */
    const char head[] = "HEAD /api/items/x HTTP/1.1\r\nHost: t\r\n\r\n";
    cr_assert_eq(exchange(port, head, sizeof head - 1, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 0);
    resp_free(&r);

    cr_assert_eq(http_server_drain(srv, 2000), 0);
    cr_assert_eq(http_server_status_count(srv, 404), 3);
    cr_assert_eq(http_server_status_count(srv, 405), 2);
}

Test(http, problem_shape_request_id_and_handler_errors)
{
    struct resp r;
    char v[128];
    start_with((http_opts){0});
    cr_assert_eq(get(port, "/api/fail", &r), 0);
    json_t *p = assert_problem(&r, 409, "conflict");
    cr_assert_str_eq(json_string_value(json_object_get(p, "title")), err_msg(ORD_ECONFLICT));
    cr_assert_null(json_object_get(p, "errors"));
    json_decref(p);
    resp_free(&r);

    cr_assert_eq(get(port, "/api/validate", &r), 0);
    p = assert_problem(&r, 422, "validation-error");
    json_t *e0 = json_array_get(json_object_get(p, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e0, "field")), "items[0].qty");
    cr_assert_str_eq(json_string_value(json_object_get(e0, "message")), "must be 1..10000");
    json_decref(p);
    resp_free(&r);

    /* a sane X-Request-Id is echoed, on success too */
    const char ok_id[] = "GET /health HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123.X_y\r\n\r\n";
    cr_assert_eq(exchange(port, ok_id, sizeof ok_id - 1, &r), 0);
    cr_assert_str_eq(hdr(&r, "X-Request-Id", v, sizeof v), "abc-123.X_y");
    resp_free(&r);
    /* an insane one is replaced by a UUID */
    const char bad_id[] = "GET /health HTTP/1.1\r\nHost: t\r\nX-Request-Id: a b;c\r\n\r\n";
    cr_assert_eq(exchange(port, bad_id, sizeof bad_id - 1, &r), 0);
    cr_assert(id_is_uuid(hdr(&r, "X-Request-Id", v, sizeof v)), "got %s", v);
    resp_free(&r);
    char long_id[256];
    memset(v, 'a', 65);
    v[65] = 0;
    int n = snprintf(long_id, sizeof long_id,
                     "GET /health HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n", v);
    cr_assert_eq(exchange(port, long_id, (size_t)n, &r), 0);
    cr_assert(id_is_uuid(hdr(&r, "X-Request-Id", v, sizeof v)), "got %s", v);
    resp_free(&r);
    /* exactly 64 is kept */
    memset(v, 'b', 64);
    v[64] = 0;
    n = snprintf(long_id, sizeof long_id,
                 "GET /health HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n", v);
    cr_assert_eq(exchange(port, long_id, (size_t)n, &r), 0);
    cr_assert_eq(strlen(hdr(&r, "X-Request-Id", v, sizeof v)), 64);
    resp_free(&r);
}

Test(http, query_headers_big_reply_and_pipelining)
{
    struct resp r;
    char v[64];
    start_with((http_opts){0});
    cr_assert_eq(get(port, "/api/query?q=a+b%26c%2Bd&flag", &r), 0);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "q")), "a b&c+d");
    cr_assert_str_eq(json_string_value(json_object_get(j, "flag")), "");
    cr_assert(json_is_true(json_object_get(j, "missingIsNull")));
    json_decref(j);
    resp_free(&r);

    const char hq[] = "GET /api/header HTTP/1.1\r\nHost: t\r\nX-Test-Header: hello\r\n\r\n";
    cr_assert_eq(exchange(port, hq, sizeof hq - 1, &r), 0);
    cr_assert_str_eq(r.body, "hello");
    cr_assert_str_eq(hdr(&r, "Content-Type", v, sizeof v), "text/plain");
    resp_free(&r);

    /* a reply larger than the inline arena block */
    cr_assert_eq(get(port, "/api/big", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 100000 + 10);
    cr_assert_str_eq(hdr(&r, "X-Custom", v, sizeof v), "v1");
    resp_free(&r);

    /* three pipelined requests on one connection, answered in order */
    const char pipe3[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                         "GET /api/items/2 HTTP/1.1\r\nHost: t\r\n\r\n"
                         "GET /api/items/3 HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = cli_connect(port);
    cli_send(fd, pipe3, sizeof pipe3 - 1);
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(cli_read(fd, &r, 0), 0, "response %d", i);
        j = body_json(&r);
        char want[4];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(json_string_value(json_object_get(j, "id")), want);
        json_decref(j);
        resp_free(&r);
    }
    close(fd);
}

/* ---- JSON bodies ------------------------------------------------------------ */

Test(http, json_body_ok_malformed_duplicate_type_depth)
{
    struct resp r;
    start_with((http_opts){0});
    const char ok[] = "{\"a\":[1,2,{\"b\":\"c\"}]}";
    cr_assert_eq(post(port, "/api/echo", "application/json; charset=utf-8", ok, sizeof ok - 1, &r),
                 0);
    cr_assert_eq(r.status, 201, "body %s", r.body);
    cr_assert_str_eq(r.body, ok);
    resp_free(&r);

    const char bad[] = "{\"a\":1,}"; /* the '}' is byte 8 */
    cr_assert_eq(post(port, "/api/echo", "application/json", bad, sizeof bad - 1, &r), 0);
    json_t *p = assert_problem(&r, 400, "malformed-json");
    const char *d = json_string_value(json_object_get(p, "detail"));
    cr_assert(strstr(d, "byte position 8"), "detail: %s", d);
    cr_assert(strstr(d, "line 1, column 8"), "detail: %s", d);
    cr_assert_eq(json_integer_value(json_object_get(p, "position")), 8);
    json_decref(p);
    resp_free(&r);

    const char multi[] = "{\n  \"a\": tru }";
    cr_assert_eq(post(port, "/api/echo", "application/json", multi, sizeof multi - 1, &r), 0);
    p = assert_problem(&r, 400, "malformed-json");
    cr_assert_eq(json_integer_value(json_object_get(p, "line")), 2);
    cr_assert_eq(json_integer_value(json_object_get(p, "position")), 12);
    json_decref(p);
    resp_free(&r);

    const char dup[] = "{\"a\":1,\"a\":2}";
    cr_assert_eq(post(port, "/api/echo", "application/json", dup, sizeof dup - 1, &r), 0);
    p = assert_problem(&r, 400, "malformed-json");
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "duplicate"));
    json_decref(p);
    resp_free(&r);

    cr_assert_eq(post(port, "/api/echo", "application/json", "[1]", 3, &r), 0);
    json_decref(assert_problem(&r, 400, "malformed-json"));
    resp_free(&r);

    cr_assert_eq(post(port, "/api/echo", "application/json", "", 0, &r), 0);
    json_decref(assert_problem(&r, 400, "malformed-json"));
    resp_free(&r);

    cr_assert_eq(post(port, "/api/echo", "text/plain", ok, sizeof ok - 1, &r), 0);
    json_decref(assert_problem(&r, 415, "unsupported-media-type"));
    resp_free(&r);
    cr_assert_eq(post(port, "/api/echo", NULL, ok, sizeof ok - 1, &r), 0);
    json_decref(assert_problem(&r, 415, "unsupported-media-type"));
    resp_free(&r);
    cr_assert_eq(post(port, "/api/echo", "application/merge-patch+json", ok, sizeof ok - 1, &r), 0);
    cr_assert_eq(r.status, 201);
    resp_free(&r);

    /* depth: the object counts as level 1; LIMIT_JSON_DEPTH_MAX levels pass */
    char deep[512];
    for (int depth = LIMIT_JSON_DEPTH_MAX; depth <= LIMIT_JSON_DEPTH_MAX + 1; depth++) {
        size_t n = 0;
        n += (size_t)sprintf(deep + n, "{\"a\":");
        for (int i = 1; i < depth; i++)
            deep[n++] = '[';
        deep[n++] = '1';
        for (int i = 1; i < depth; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        cr_assert_eq(post(port, "/api/echo", "application/json", deep, n, &r), 0);
        if (depth == LIMIT_JSON_DEPTH_MAX) {
            cr_assert_eq(r.status, 201, "depth %d: %s", depth, r.body);
        } else {
            p = assert_problem(&r, 400, "limit-exceeded");
            cr_assert_eq(json_integer_value(json_object_get(p, "position")),
                         5 + LIMIT_JSON_DEPTH_MAX - 1);
            json_decref(p);
        }
        resp_free(&r);
    }
}

/* ---- Limits ----------------------------------------------------------------- */

Test(http, body_limit_at_and_past)
{
    struct resp r;
    start_with((http_opts){.body_bytes_max = 1000});
    char *b = malloc(5000);
    memset(b, 'x', 5000);
    cr_assert_eq(post(port, "/api/raw", NULL, b, 1000, &r), 0);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    cr_assert_str_eq(r.body, "{\"len\":1000}");
    resp_free(&r);

    /* limit + 1 by Content-Length: 413 before the body is read, then close */
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    int fd = cli_connect(port);
    cli_send(fd, head, (size_t)n);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    json_t *p = assert_problem(&r, 413, "payload-too-large");
    json_decref(p);
    char v[32];
    cr_assert_str_eq(hdr(&r, "Connection", v, sizeof v), "close");
    cr_assert(peer_closed(fd, 2000));
    close(fd);
    resp_free(&r);

    /* chunked: at the limit OK */
    char *req = malloc(16384);
    n = sprintf(req, "POST /api/raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        n += sprintf(req + n, "fa\r\n");
        memcpy(req + n, b, 250);
        n += 250;
        n += sprintf(req + n, "\r\n");
    }
    n += sprintf(req + n, "0\r\n\r\n");
    cr_assert_eq(exchange(port, req, (size_t)n, &r), 0);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    cr_assert_str_eq(r.body, "{\"len\":1000}");
    resp_free(&r);

    /* chunked past the limit: 413 problem and the connection is dropped */
    n = sprintf(req, "POST /api/raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        n += sprintf(req + n, "fa\r\n");
        memcpy(req + n, b, 250);
        n += 250;
        n += sprintf(req + n, "\r\n");
    }
    n += sprintf(req + n, "0\r\n\r\n");
    fd = cli_connect(port);
    cli_send(fd, req, (size_t)n);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    cr_assert(peer_closed(fd, 2000));
    close(fd);
    resp_free(&r);
    cr_assert_eq(http_server_drain(srv, 2000), 0); /* completions are counted after the reply */
    cr_assert_eq(http_server_status_count(srv, 413), 2);
    free(req);
    free(b);
}

Test(http, content_length_with_chunked_rejected)
{
    struct resp r;
    start_with((http_opts){0});
    const char smug[] = "POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    int fd = cli_connect(port);
    cli_send(fd, smug, sizeof smug - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    json_t *p = assert_problem(&r, 400, "invalid-request");
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "Transfer-Encoding"));
    json_decref(p);
    cr_assert(peer_closed(fd, 2000));
    close(fd);
    resp_free(&r);
}

Test(http, oversize_headers_rejected)
{
    struct resp r;
    start_with((http_opts){0});
    char *req = malloc(64 * 1024);
    /* 8 KiB of headers: fine */
    int n = sprintf(req, "GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(req + n, 'a', 8000);
    n += 8000;
    n += sprintf(req + n, "\r\n\r\n");
    cr_assert_eq(exchange(port, req, (size_t)n, &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);

    /* past LIMIT_HTTP_HEADER_BYTES_MAX but inside the input buffer: 431 */
    n = sprintf(req, "GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(req + n, 'a', LIMIT_HTTP_HEADER_BYTES_MAX);
    n += LIMIT_HTTP_HEADER_BYTES_MAX;
    n += sprintf(req + n, "\r\n\r\n");
    cr_assert_eq(exchange(port, req, (size_t)n, &r), 0);
    json_decref(assert_problem(&r, 431, "headers-too-large"));
    resp_free(&r);

    /* past the connection's input buffer: 431 too, problem+json */
    n = sprintf(req, "GET /health HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(req + n, 'a', LIMIT_HTTP_CONN_MEMORY_BYTES + 1000);
    n += LIMIT_HTTP_CONN_MEMORY_BYTES + 1000;
    n += sprintf(req + n, "\r\n\r\n");
    cr_assert_eq(exchange(port, req, (size_t)n, &r), 0);
    json_decref(assert_problem(&r, 431, "headers-too-large"));
    resp_free(&r);

    /* a path past LIMIT_HTTP_PATH_BYTES_MAX */
    n = sprintf(req, "GET /");
    memset(req + n, 'p', LIMIT_HTTP_PATH_BYTES_MAX);
    n += LIMIT_HTTP_PATH_BYTES_MAX;
    n += sprintf(req + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    cr_assert_eq(exchange(port, req, (size_t)n, &r), 0);
    json_decref(assert_problem(&r, 414, "uri-too-long"));
    resp_free(&r);
    free(req);
}

Test(http, per_ip_connection_limit)
{
    struct resp r;
    int fds[4];
    start_with((http_opts){.per_ip_max = 4});
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        fds[i] = cli_connect(port);
        cli_send(fds[i], hq, sizeof hq - 1);
        cr_assert_eq(cli_read(fds[i], &r, 0), 0, "connection %d", i);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
    }
    /* the fifth from the same address is closed without an answer */
    int extra = cli_connect(port);
    cr_assert_geq(extra, 0);
    cli_send(extra, hq, sizeof hq - 1);
    cr_assert(peer_closed(extra, 2000));
    close(extra);
    /* closing one makes room again */
    close(fds[0]);
    /* the server sees the close when its worker next runs: retry for up to
     * 3 s (a loaded machine), each refused attempt is closed at once */
    int served = 0;
    for (int tries = 0; tries < 30 && !served; tries++) {
        usleep(100 * 1000);
        if (get(port, "/health", &r) == 0) {
            served = r.status == 200;
            resp_free(&r);
        }
    }
    cr_assert(served, "no room after a connection closed");
    for (int i = 1; i < 4; i++)
        close(fds[i]);
}

Test(http, total_connection_limit)
{
    struct resp r;
    int fds[3];
    /* one worker: the limit is the server's, whichever worker accepts */
    start_with((http_opts){.threads = 1, .connections_max = 3});
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        fds[i] = cli_connect(port);
        cli_send(fds[i], hq, sizeof hq - 1);
        cr_assert_eq(cli_read(fds[i], &r, 0), 0, "connection %d", i);
        resp_free(&r);
    }
    /* at the limit the workers stop accepting: the 4th waits in the backlog ... */
    int extra = cli_connect(port);
    cli_send(extra, hq, sizeof hq - 1);
    cr_assert_neq(cli_read_ms(extra, &r, 0, 500), 0, "a 4th connection was served");
    /* ... and is served once a slot frees up */
    close(fds[0]);
    cr_assert_eq(cli_read_ms(extra, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    close(extra);
    for (int i = 1; i < 3; i++)
        close(fds[i]);
}

Test(http, slow_client_is_disconnected)
{
    struct resp r;
    start_with((http_opts){.timeout_s = 1});
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: 0123456789\r\n\r\n";
    int fd = cli_connect(port);
    int64_t t0 = clock_mono_ms();
    int closed = 0;
    /* one byte every 100 ms: never idle for 1 s, but 5+ s for the request */
    for (size_t i = 0; i < sizeof hq - 1 && !closed; i++) {
        if (send(fd, hq + i, 1, MSG_NOSIGNAL) != 1) closed = 1;
        char b[256];
        ssize_t got = cli_recv(fd, b, sizeof b, 100);
        if (got == 0 || got == -2) closed = 1;
        cr_assert_leq(got, 0, "the slow client got an answer: %.*s", (int)got, b);
    }
    int64_t took = clock_mono_ms() - t0;
    cr_assert(closed, "slow client not disconnected after %lld ms", (long long)took);
    /* the deadline is 1 s; the whole request would take 5.5 s.  The upper
     * bound leaves room for a loaded machine's watchdog tick. */
    cr_assert_geq(took, 900);
    cr_assert_leq(took, 4500);
    close(fd);
    http_stats st;
    http_server_stats(srv, &st);
    cr_assert_geq(st.timeouts, 1);

    /* a normal client still works, and an idle keep-alive connection is closed */
    fd = cli_connect(port);
    const char ok[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, ok, sizeof ok - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert(peer_closed(fd, 3000));
    close(fd);
}

/* ---- Suspend / resume ------------------------------------------------------- */

/* Sends /api/hold on n connections (opened first when connect is set) and
 * waits until the resumer holds all n. */
static void send_holds(int *fds, int n, int connect)
{
    const char hold[] = "GET /api/hold HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < n; i++) {
        if (connect) fds[i] = cli_connect(port);
        cr_assert_geq(fds[i], 0);
        cli_send(fds[i], hold, sizeof hold - 1);
    }
    int64_t end = clock_mono_ms() + 10000;
    while (held_count() < n && clock_mono_ms() < end)
        usleep(5000);
    cr_assert_eq(held_count(), n);
}

Test(http, suspend_resume_from_another_thread)
{
    struct resp r;
    char v[64];
    start_with((http_opts){.threads = 2});
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(get(port, "/api/suspend", &r), 0);
    cr_assert_geq(clock_mono_ms() - t0, 50);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "X-Resumed", v, sizeof v), "yes");
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")),
                     hdr(&r, "X-Request-Id", v, sizeof v));
    json_decref(j);
    resp_free(&r);
    /* keep-alive after a resumed request: the connection serves the next one */
    int fd = cli_connect(port);
    const char two[] = "GET /api/suspend HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 3; i++) {
        cli_send(fd, two, sizeof two - 1);
        cr_assert_eq(cli_read(fd, &r, 0), 0);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
    }
    close(fd);
}

Test(http, many_suspended_requests_hold_no_thread)
{
    enum { N = 200 };
    static int fds[N];
    struct resp r;
    start_with((http_opts){.threads = 2, .per_ip_max = 1000, .connections_max = 2000});
    /* all N are parked at once although there are only 2 threads */
    send_holds(fds, N, 1);
    http_stats st;
    http_server_stats(srv, &st);
    cr_assert_eq(st.suspended, N);
    cr_assert_eq(st.in_flight, N);
    /* and the workers still answer others promptly */
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(get(port, "/health", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_lt(clock_mono_ms() - t0, 500);
    resp_free(&r);
    /* a drain now times out: suspended requests count as in flight */
    cr_assert_eq(http_server_drain(srv, 50), ORD_ETIMEOUT);
    release_held();
    for (int i = 0; i < N; i++) {
        cr_assert_eq(cli_read(fds[i], &r, 0), 0, "request %d", i);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
        close(fds[i]);
    }
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    http_server_stats(srv, &st);
    cr_assert_eq(st.suspended, 0);
    cr_assert_geq(http_server_status_count(srv, 200), N + 1);
}

/* Answers completed inside one handoff scope (as the writer completes a
 * batch) are gathered and resumed together: one resume wakes an HTTP thread,
 * which resumes the rest.  Every one is answered, on connections of both
 * workers, and each connection serves its next request. */
Test(http, answers_resumed_together_from_a_handoff_scope)
{
    enum { N = 100 };
    static int fds[N];
    struct resp r;
    start_with((http_opts){.threads = 2, .per_ip_max = 1000, .connections_max = 2000});
    for (int round = 0; round < 2; round++) {
        send_holds(fds, N, !round);
        release_held_as(1);
        for (int i = 0; i < N; i++) {
            cr_assert_eq(cli_read(fds[i], &r, 0), 0, "round %d request %d", round, i);
            cr_assert_eq(r.status, 200);
            json_t *j = body_json(&r);
            cr_assert(json_is_true(json_object_get(j, "batched")));
            json_decref(j);
            resp_free(&r);
        }
        pthread_mutex_lock(&rs.mu);
        rs.release = 0;
        pthread_mutex_unlock(&rs.mu);
    }
    for (int i = 0; i < N; i++) close(fds[i]);
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    http_stats st;
    http_server_stats(srv, &st);
    cr_assert_eq(st.suspended, 0);
    cr_assert_eq(st.handed_over, 2 * N, "every answer went through the handover list");
    /* outside a scope a resume is immediate, as before */
    cr_assert_eq(get(port, "/api/suspend", &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    http_server_stats(srv, &st);
    cr_assert_eq(st.handed_over, 2 * N);
}

/* ---- Ready, quiesce, drain -------------------------------------------------- */

Test(http, ready_follows_app_and_quiesce_then_drain)
{
    struct resp r;
    char v[64];
    start_with((http_opts){0});
    cr_assert_eq(get(port, "/ready", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    resp_free(&r);
    app_ready = 0;
    cr_assert_eq(get(port, "/ready", &r), 0);
    json_decref(assert_problem(&r, 503, "not-ready"));
    resp_free(&r);
    app_ready = 1;

    /* a keep-alive connection and a suspended request survive the quiesce */
    int ka = cli_connect(port);
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(ka, hq, sizeof hq - 1);
    cr_assert_eq(cli_read(ka, &r, 0), 0);
    resp_free(&r);
    int held = cli_connect(port);
    const char hold[] = "GET /api/hold HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(held, hold, sizeof hold - 1);
    while (held_count() < 1)
        usleep(1000);

    http_server_quiesce(srv);
    http_server_quiesce(srv); /* idempotent */
    /* a new connection is closed at once, without an answer */
    int nc = cli_connect(port);
    if (nc >= 0) {
        const char hr[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
        cli_send(nc, hr, sizeof hr - 1);
        char b[256];
        ssize_t got = cli_recv(nc, b, sizeof b, 2000);
        cr_assert(got == 0 || got == -2, "a new connection must be closed unanswered (%zd)", got);
        close(nc);
    }
    const char rq[] = "GET /ready HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(ka, rq, sizeof rq - 1);
    cr_assert_eq(cli_read(ka, &r, 0), 0);
    json_decref(assert_problem(&r, 503, "shutting-down"));
    cr_assert_str_eq(hdr(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    cr_assert(peer_closed(ka, 2000));
    close(ka);

    cr_assert_eq(http_server_drain(srv, 100), ORD_ETIMEOUT);
    release_held();
    cr_assert_eq(cli_read(held, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    close(held);
    http_server_stop(srv);
    srv = NULL;
}

/* After the drain: a request on a kept-alive connection is answered 503
 * without its handler running, so nothing suspends before the stop. */
Test(http, refuse_answers_503_without_running_the_handler)
{
    struct resp r;
    start_with((http_opts){0});
    int ka = cli_connect(port);
    const char hq[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(ka, hq, sizeof hq - 1);
    cr_assert_eq(cli_read(ka, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    http_server_quiesce(srv);
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    http_server_refuse(srv);
    http_server_refuse(srv); /* idempotent */
    const char hold[] = "GET /api/hold HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(ka, hold, sizeof hold - 1);
    cr_assert_eq(cli_read(ka, &r, 0), 0);
    json_decref(assert_problem(&r, 503, "shutting-down"));
    resp_free(&r);
    cr_assert_eq(held_count(), 0, "the handler ran");
    close(ka);
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    http_server_stop(srv); /* asserts nothing is suspended */
    srv = NULL;
}

/* ---- Start-up errors, stats, access log ------------------------------------- */

static int h_dummy(http_req *r)
{
    (void)r;
    return 0;
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

Test(http, start_errors)
{
    /* a start/stop cycle, with and without quiesce, leaks no descriptor */
    int before = count_fds();
    for (int q = 0; q < 2; q++) {
        http_server *s1 = NULL;
        cr_assert_eq(
            http_server_start(&(http_opts){.listen = "127.0.0.1:0", .routes = test_routes}, &s1),
            0);
        if (q) http_server_quiesce(s1);
        http_server_stop(s1);
    }
    cr_assert_eq(count_fds(), before);

    start_with((http_opts){0});
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    http_server *s2 = NULL;
    cr_assert_eq(http_server_start(&(http_opts){.listen = listen, .routes = test_routes}, &s2),
                 ORD_EIO);
    cr_assert_null(s2);
    cr_assert_eq(
        http_server_start(&(http_opts){.listen = "localhost:x", .routes = test_routes}, &s2),
        ORD_ECONFIG);
    cr_assert_eq(http_server_start(&(http_opts){.listen = "127.0.0.1:0", .threads = 1000}, &s2),
                 ORD_ECONFIG);
    static const http_route bad[] = {{"GET", "api/no-slash", h_dummy, HTTP_ACCESS_PUBLIC, 200}, {0}};
    cr_assert_eq(http_server_start(&(http_opts){.listen = "127.0.0.1:0", .routes = bad}, &s2),
                 ORD_ECONFIG);
    static const http_route bad2[] = {{"GET", "/a/{}", h_dummy, HTTP_ACCESS_PUBLIC, 200}, {0}};
    cr_assert_eq(http_server_start(&(http_opts){.listen = "127.0.0.1:0", .routes = bad2}, &s2),
                 ORD_ECONFIG);
}

Test(http, ipv6_listen)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof a) == 0;
    if (probe >= 0) close(probe);
    if (!v6) cr_skip_test("no IPv6 loopback here");
    start_with((http_opts){.listen = "[::1]:0"});
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    a.sin6_port = htons((uint16_t)port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, hq, sizeof hq - 1);
    struct resp r;
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    close(fd);
}

Test(http, access_log_line_and_stats)
{
    char path[] = "/tmp/test_http_log_XXXXXX";
    int lf = mkstemp(path);
    cr_assert_geq(lf, 0);
    int saved = dup(2);
    dup2(lf, 2);
    log_setup("test", LOG_DEBUG);
    start_with((http_opts){0});
    struct resp r;
    const char hq[] = "GET /api/items/7 HTTP/1.1\r\nHost: t\r\nX-Request-Id: log-me-1\r\n\r\n";
    cr_assert_eq(exchange(port, hq, sizeof hq - 1, &r), 0);
    resp_free(&r);
    cr_assert_eq(get(port, "/nope", &r), 0);
    resp_free(&r);
    cr_assert_eq(http_server_drain(srv, 2000), 0);
    http_stats st;
    http_server_stats(srv, &st);
    dup2(saved, 2);
    close(saved);
    log_setup("test", LOG_WARN);
    cr_assert_eq(st.requests, 2);
    cr_assert_eq(st.by_class[2], 1);
    cr_assert_eq(st.by_class[4], 1);
    cr_assert_eq(st.in_flight, 0);

    char buf[65536];
    ssize_t n = pread(lf, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    close(lf);
    unlink(path);
    /* the client's id beside our own, never instead of it */
    char *line = strstr(buf, "\"clientRequestId\":\"log-me-1\"");
    cr_assert_not_null(line, "no access log line in: %s", buf);
    while (line > buf && line[-1] != '\n')
        line--;
    char *eol = strchr(line, '\n');
    *eol = 0;
    json_t *j = json_loads(line, 0, NULL);
    cr_assert_not_null(j, "not JSON: %s", line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "debug");
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "GET");
    cr_assert_str_eq(json_string_value(json_object_get(j, "path")), "/api/items/7");
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 200);
    cr_assert(json_is_integer(json_object_get(j, "duration_us")));
    const char *own = json_string_value(json_object_get(j, "requestId"));
    cr_assert(own && strlen(own) == 36 && strcmp(own, "log-me-1"), "our own id: %s", own ? own : "(none)");
    json_decref(j);
}

Test(http_status, error_codes_map_to_statuses)
{
    cr_expect_eq(http_err_status(ORD_ENOTFOUND), 404);
    cr_expect_eq(http_err_status(ORD_EVALIDATION), 422);
    cr_expect_eq(http_err_status(ORD_ETOOBIG), 413);
    cr_expect_str_eq(http_err_slug(ORD_ERECEIPT), "receipt-invalid");
    cr_expect_eq(http_err_status(12345), 500);
    for (int c = ORD__BASE + 1; c < ORD__END; c++) {
        cr_expect(http_err_status(c) >= 200 && http_err_status(c) < 600, "%s", err_name(c));
        cr_expect(strlen(http_err_slug(c)) > 0, "%s", err_name(c));
    }
}

/* The query string is ours to parse (http_query_get, from the request
 * target): pipelined requests each see their own, and a request without
 * one sees none. */
Test(http, query_per_request_on_pipelined_requests)
{
    struct resp r;
    start_with((http_opts){0});
    const char three[] = "GET /api/query?q=one HTTP/1.1\r\nHost: t\r\n\r\n"
                         "GET /api/query HTTP/1.1\r\nHost: t\r\n\r\n"
                         "GET /api/query?Q=th+ree&flag HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = cli_connect(port);
    cli_send(fd, three, sizeof three - 1);
    const char *want_q[] = {"one", NULL, "th ree"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(cli_read(fd, &r, 0), 0, "response %d", i + 1);
        json_t *j = body_json(&r);
        const json_t *got = json_object_get(j, "q");
        if (want_q[i])
            cr_expect_str_eq(json_string_value(got), want_q[i], "response %d", i + 1);
        else
            cr_expect(json_is_null(got), "response %d: no query, no q", i + 1);
        cr_expect_eq(json_is_string(json_object_get(j, "flag")), i == 2, "response %d", i + 1);
        json_decref(j);
        resp_free(&r);
    }
    close(fd);
}

/* ---- The connection loop on the wire (loop.c, parse.c) ----------------------- */

/* After a response: the server sends nothing more and closes the
 * connection within timeout_ms. */
static void assert_nothing_more_then_closed(int fd, int timeout_ms)
{
    struct resp extra;
    int rc = cli_read_ms(fd, &extra, 0, timeout_ms);
    cr_assert_neq(rc, 0, "an unexpected further response: %s", extra.head);
    cr_assert(peer_closed(fd, timeout_ms), "the connection was left open");
}

/* Sends raw on a fresh connection and expects the problem status/slug in
 * reply, then the connection closed. */
static void assert_refused(const char *raw, size_t len, int status, const char *slug)
{
    struct resp r;
    int fd = cli_connect(port);
    cr_assert_geq(fd, 0);
    cli_send(fd, raw, len);
    cr_assert_eq(cli_read_ms(fd, &r, 0, 3000), 0, "no answer to: %.*s",
                 (int)(len < 200 ? len : 200), raw);
    json_decref(assert_problem(&r, status, slug));
    resp_free(&r);
    assert_nothing_more_then_closed(fd, 3000);
    close(fd);
}

#define REFUSED(lit, status, slug) assert_refused(lit, sizeof lit - 1, status, slug)

static const char *json_id(const struct resp *r, char *out, size_t n)
{
    json_t *j = body_json(r);
    snprintf(out, n, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    return out;
}

Test(http, loop_pipelined_post_then_get_in_one_write)
{
    struct resp r;
    char id[64];
    start_with((http_opts){0});
    const char two[] = "POST /api/rawecho HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n"
                       "hello worldGET /api/items/2 HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = cli_connect(port);
    cli_send(fd, two, sizeof two - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0, "no first response");
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 11);
    cr_assert_str_eq(r.body, "hello world");
    resp_free(&r);
    cr_assert_eq(cli_read(fd, &r, 0), 0, "no second response");
    cr_assert_eq(r.status, 200, "second: %s", r.head);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "2");
    resp_free(&r);
    /* and the connection is still good for a third */
    const char third[] = "GET /api/items/3 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, third, sizeof third - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "3");
    resp_free(&r);
    close(fd);
}

Test(http, loop_chunked_body_received_whole)
{
    struct resp r;
    char id[64];
    start_with((http_opts){0});
    /* extensions, a one-byte chunk, upper-case hex, trailers; then a
     * pipelined request in the same write */
    const char ck[] =
        "POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: v\r\n\r\n"
        "GET /api/items/7 HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = cli_connect(port);
    cli_send(fd, ck, sizeof ck - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200, "body %s", r.body);
    cr_assert_eq(r.body_len, 16);
    cr_assert_str_eq(r.body, "hello 0123456789");
    resp_free(&r);
    cr_assert_eq(cli_read(fd, &r, 0), 0, "no answer to the request after the chunked body");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "7");
    resp_free(&r);

    /* the same body trickling in, three bytes at a time */
    const char *body = strstr(ck, "\r\n\r\n") + 4;
    size_t head_len = (size_t)(body - ck), body_len = strlen(body) - strlen(strstr(body, "GET /"));
    cli_send(fd, ck, head_len);
    for (size_t off = 0; off < body_len; off += 3) {
        cli_send(fd, body + off, body_len - off < 3 ? body_len - off : 3);
        usleep(2000);
    }
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello 0123456789");
    resp_free(&r);

    /* a body many times the input buffer: 300 chunks of 1000 bytes */
    size_t nchunks = 300, csz = 1000, cap = 256 + nchunks * (csz + 16);
    char *big = malloc(cap), *want = malloc(nchunks * csz);
    size_t n = (size_t)sprintf(big, "POST /api/rawecho HTTP/1.1\r\nHost: t\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < nchunks; i++) {
        n += (size_t)sprintf(big + n, "%zx\r\n", csz);
        for (size_t k = 0; k < csz; k++)
            want[i * csz + k] = big[n + k] = (char)('A' + (i + k) % 26);
        n += csz;
        n += (size_t)sprintf(big + n, "\r\n");
    }
    n += (size_t)sprintf(big + n, "0\r\n\r\n");
    cli_send(fd, big, n);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200, "body %.200s", r.body);
    cr_assert_eq(r.body_len, nchunks * csz);
    cr_assert(!memcmp(r.body, want, nchunks * csz), "the chunked body arrived altered");
    resp_free(&r);
    free(big);
    free(want);
    close(fd);
}

Test(http, loop_malformed_chunked_body_answered_400_and_closed)
{
    start_with((http_opts){0});
    /* data longer than its chunk size; a request follows that must not be answered */
    REFUSED("POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhelloXX\r\n0\r\n\r\nGET /api/items/1 HTTP/1.1\r\nHost: t\r\n\r\n",
            400, "invalid-request");
    /* a size that is not hex */
    REFUSED("POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "zz\r\nhello\r\n0\r\n\r\n",
            400, "invalid-request");
    /* 17 hex digits */
    REFUSED("POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "00000000000000005\r\nhello\r\n0\r\n\r\n",
            400, "invalid-request");
    /* malformed after a good first chunk, the bad byte in a later write */
    struct resp r;
    int fd = cli_connect(port);
    const char part1[] =
        "POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n";
    cli_send(fd, part1, sizeof part1 - 1);
    cr_assert_neq(cli_read_ms(fd, &r, 0, 200), 0, "answered before the body was complete");
    cli_send(fd, "5\nworld\r\n", 9);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    json_decref(assert_problem(&r, 400, "invalid-request"));
    resp_free(&r);
    assert_nothing_more_then_closed(fd, 3000);
    close(fd);
}

Test(http, loop_expect_100_continue)
{
    struct resp r;
    start_with((http_opts){0});
    int fd = cli_connect(port);
    const char head[] = "POST /api/rawecho HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                        "Expect: 100-continue\r\n\r\n";
    cli_send(fd, head, sizeof head - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0, "no interim response");
    cr_assert_eq(r.status, 100, "got %s", r.head);
    cr_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
    resp_free(&r);
    /* nothing else until the body comes */
    cr_assert_neq(cli_read_ms(fd, &r, 0, 200), 0, "a final response before the body");
    cli_send(fd, "hello", 5);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "hello");
    resp_free(&r);

    /* chunked too */
    const char ck[] = "POST /api/rawecho HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                      "Expect: 100-continue\r\n\r\n";
    cli_send(fd, ck, sizeof ck - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 100, "got %s", r.head);
    resp_free(&r);
    const char body[] = "3\r\nabc\r\n0\r\n\r\n";
    cli_send(fd, body, sizeof body - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "abc");
    resp_free(&r);

    /* no body expected: no 100, just the answer */
    const char get0[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n";
    cli_send(fd, get0, sizeof get0 - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200, "got %s", r.head);
    resp_free(&r);
    close(fd);
}

Test(http, loop_connection_close_honoured)
{
    struct resp r;
    char v[64];
    start_with((http_opts){0});
    int fd = cli_connect(port);
    const char two[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                       "GET /api/items/2 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, two, sizeof two - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(hdr(&r, "Connection", v, sizeof v), "no Connection header: %s", r.head);
    cr_assert_str_eq(v, "close");
    resp_free(&r);
    assert_nothing_more_then_closed(fd, 3000);
    close(fd);

    /* as one token of a list, in another case */
    fd = cli_connect(port);
    const char listed[] =
        "GET /api/items/1 HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, CLOSE\r\n\r\n";
    cli_send(fd, listed, sizeof listed - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_str_eq(hdr(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    cr_assert(peer_closed(fd, 3000));
    close(fd);

    /* without it, HTTP/1.1 keeps the connection and says nothing */
    fd = cli_connect(port);
    const char ka[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, ka, sizeof ka - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_null(hdr(&r, "Connection", v, sizeof v), "Connection: %s", v);
    resp_free(&r);
    cr_assert_not(peer_closed(fd, 300));
    close(fd);
}

Test(http, loop_http_1_0_answered_and_closed)
{
    struct resp r;
    char v[64], id[64];
    start_with((http_opts){0});
    int fd = cli_connect(port);
    const char req[] = "GET /api/items/10 HTTP/1.0\r\n\r\n"; /* no Host needed */
    cli_send(fd, req, sizeof req - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200, "got %s", r.head);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "10");
    cr_assert_str_eq(hdr(&r, "Connection", v, sizeof v), "close");
    cr_assert_not_null(hdr(&r, "Content-Length", v, sizeof v));
    resp_free(&r);
    assert_nothing_more_then_closed(fd, 3000);
    close(fd);

    /* a body by Content-Length is read */
    fd = cli_connect(port);
    const char post10[] = "POST /api/rawecho HTTP/1.0\r\nContent-Length: 3\r\n\r\nxyz";
    cli_send(fd, post10, sizeof post10 - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "xyz");
    resp_free(&r);
    cr_assert(peer_closed(fd, 3000));
    close(fd);
}

Test(http, loop_head_has_length_but_no_body)
{
    struct resp r;
    char v[64], id[64];
    start_with((http_opts){0});
    cr_assert_eq(get(port, "/api/items/abc", &r), 0);
    size_t get_len = r.body_len;
    cr_assert_gt(get_len, 0);
    resp_free(&r);

    int fd = cli_connect(port);
    const char two[] = "HEAD /api/items/abc HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /api/items/2 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, two, sizeof two - 1);
    cr_assert_eq(cli_read(fd, &r, 1), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(hdr(&r, "Content-Length", v, sizeof v), "HEAD without Content-Length");
    cr_assert_eq((size_t)atol(v), get_len, "HEAD says %s, GET sends %zu", v, get_len);
    cr_assert_str_eq(hdr(&r, "Content-Type", v, sizeof v), "application/json");
    resp_free(&r);
    /* the very next bytes are the GET's response: no body came in between */
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert(!strncmp(r.head, "HTTP/1.1 200 ", 13), "after HEAD: %.80s", r.head);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "2");
    resp_free(&r);

    /* a big reply's HEAD: still no body (a following request answered at once) */
    const char two_big[] = "HEAD /api/bigraw HTTP/1.1\r\nHost: t\r\n\r\n"
                           "GET /api/items/3 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, two_big, sizeof two_big - 1);
    cr_assert_eq(cli_read(fd, &r, 1), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq((size_t)atol(hdr(&r, "Content-Length", v, sizeof v)), BIGRAW_BYTES);
    resp_free(&r);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert(!strncmp(r.head, "HTTP/1.1 200 ", 13), "after HEAD: %.80s", r.head);
    cr_assert_str_eq(json_id(&r, id, sizeof id), "3");
    resp_free(&r);
    close(fd);
}

Test(http, loop_framing_errors_answered_400)
{
    start_with((http_opts){0});
    /* no Host in HTTP/1.1, or two */
    REFUSED("GET /api/items/1 HTTP/1.1\r\n\r\n", 400, "invalid-request");
    REFUSED("GET /api/items/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid-request");
    /* two Content-Length fields, equal or not, or a list */
    REFUSED(
        "POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400, "invalid-request");
    REFUSED(
        "POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        400, "invalid-request");
    REFUSED("POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello", 400,
            "invalid-request");
    REFUSED("POST /api/raw HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400,
            "invalid-request");
    /* a transfer coding other than chunked, or chunked in HTTP/1.0 */
    REFUSED("POST /api/raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
            "invalid-request");
    REFUSED("POST /api/raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            "0\r\n\r\n",
            400, "invalid-request");
    REFUSED("POST /api/raw HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400, "invalid-request");
    REFUSED("POST /api/raw HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "invalid-request");
    /* bare LF line ends: answered at once, not waited on */
    REFUSED("GET /api/items/1 HTTP/1.1\nHost: t\n\n", 400, "invalid-request");
    REFUSED("GET /api/items/1 HTTP/1.1\r\nHost: t\n\n", 400, "invalid-request");
    /* obsolete line folding */
    REFUSED("GET /api/items/1 HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n", 400,
            "invalid-request");
    REFUSED("GET /api/items/1 HTTP/1.1\r\nHost: t\r\nX-A: one\r\n\ttwo\r\n\r\n", 400,
            "invalid-request");
    /* whitespace before the colon, versions other than 1.0 and 1.1, a
     * control byte in the target */
    REFUSED("GET /api/items/1 HTTP/1.1\r\nHost : t\r\n\r\n", 400, "invalid-request");
    REFUSED("GET /api/items/1 HTTP/2.0\r\nHost: t\r\n\r\n", 400, "invalid-request");
    REFUSED("GET /api/items/1 HTTP/1.2\r\nHost: t\r\n\r\n", 400, "invalid-request");
    REFUSED("GET /api/items/1 http/1.1\r\nHost: t\r\n\r\n", 400, "invalid-request");
    REFUSED("GET /api/it\x01ms/1 HTTP/1.1\r\nHost: t\r\n\r\n", 400, "invalid-request");

    /* a malformed request after a good one on the same connection: the good
     * one answered, the bad one 400, then closed */
    struct resp r;
    int fd = cli_connect(port);
    const char two[] = "GET /api/items/1 HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /api/items/2 HTTP/1.1\r\nHost : t\r\n\r\n";
    cli_send(fd, two, sizeof two - 1);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert_eq(cli_read(fd, &r, 0), 0);
    json_decref(assert_problem(&r, 400, "invalid-request"));
    resp_free(&r);
    assert_nothing_more_then_closed(fd, 3000);
    close(fd);
}

/* A GET of /api/header with n fields in all (Host, X-Test-Header and
 * X-F-<i> fillers). */
static char *fields_request(int n, size_t *len)
{
    char *s = malloc(256 + (size_t)n * 40);
    size_t k = (size_t)sprintf(s, "GET /api/header HTTP/1.1\r\nHost: t\r\nX-Test-Header: here\r\n");
    for (int i = 2; i < n; i++)
        k += (size_t)sprintf(s + k, "X-F-%03d: value-%03d\r\n", i, i);
    k += (size_t)sprintf(s + k, "\r\n");
    *len = k;
    return s;
}

Test(http, loop_header_field_count_limit)
{
    struct resp r;
    start_with((http_opts){0});
    size_t n;
    char *s = fields_request(LIMIT_HTTP_HEADER_FIELDS_MAX, &n);
    cr_assert_lt(n, LIMIT_HTTP_HEADER_BYTES_MAX);
    cr_assert_eq(exchange(port, s, n, &r), 0);
    cr_assert_eq(r.status, 200, "%d fields: %s", LIMIT_HTTP_HEADER_FIELDS_MAX, r.body);
    cr_assert_str_eq(r.body, "here");
    resp_free(&r);
    free(s);

    s = fields_request(LIMIT_HTTP_HEADER_FIELDS_MAX + 1, &n);
    cr_assert_lt(n, LIMIT_HTTP_HEADER_BYTES_MAX);
    assert_refused(s, n, 431, "headers-too-large");
    free(s);
}

Test(http, loop_head_past_the_input_buffer)
{
    start_with((http_opts){0});
    size_t pad = LIMIT_HTTP_CONN_MEMORY_BYTES + 8000;
    char *req = malloc(pad + 256);
    /* the request line complete, the fields never ending within the buffer */
    size_t n = (size_t)sprintf(req, "GET /api/items/1 HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(req + n, 'a', pad);
    n += pad;
    n += (size_t)sprintf(req + n, "\r\n\r\n");
    assert_refused(req, n, 431, "headers-too-large");
    /* many small fields past the buffer */
    n = (size_t)sprintf(req, "GET /api/items/1 HTTP/1.1\r\nHost: t\r\n");
    while (n < pad)
        n += (size_t)sprintf(req + n, "X-Many: 0123456789\r\n");
    n += (size_t)sprintf(req + n, "\r\n");
    assert_refused(req, n, 431, "headers-too-large");
    /* the request line itself longer than the buffer */
    n = (size_t)sprintf(req, "GET /");
    memset(req + n, 'p', pad);
    n += pad;
    n += (size_t)sprintf(req + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_refused(req, n, 414, "uri-too-long");
    /* ... with a query instead of a path */
    n = (size_t)sprintf(req, "GET /api/items/1?q=");
    memset(req + n, 'q', pad);
    n += pad;
    n += (size_t)sprintf(req + n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_refused(req, n, 414, "uri-too-long");
    free(req);

    /* the server is fine afterwards */
    struct resp r;
    cr_assert_eq(get(port, "/api/items/1", &r), 0);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

/* Reads one response slowly (small reads with pauses) into a buffer of
 * cap bytes; returns the head length, *total the bytes read. */
static size_t slow_read(int fd, char *buf, size_t cap, size_t *total, size_t *clen)
{
    size_t n = 0, hl = 0;
    *clen = 0;
    int reads = 0;
    for (;;) {
        if (!hl) {
            buf[n] = 0;
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                hl = (size_t)(e - buf) + 4;
                char *cl = strcasestr(buf, "\r\nContent-Length:");
                cr_assert_not_null(cl, "no Content-Length: %.*s", (int)hl, buf);
                *clen = (size_t)atol(cl + 17);
            }
        }
        if (hl && n >= hl + *clen) break;
        size_t want = cap - 1 - n < 16384 ? cap - 1 - n : 16384;
        cr_assert_gt(want, 0, "more than %zu bytes sent", cap);
        ssize_t got = cli_recv(fd, buf + n, want, 5000);
        cr_assert_gt(got, 0, "the reply stopped after %zu bytes (%zd)", n, got);
        n += (size_t)got;
        if (++reads % 8 == 0) usleep(2000);
    }
    *total = n;
    return hl;
}

Test(http, loop_big_reply_to_a_slow_reader_arrives_whole)
{
    start_with((http_opts){0});
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 8192;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small); /* before connect: the window */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char req[] = "GET /api/bigraw HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /api/items/9 HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, req, sizeof req - 1);
    usleep(300 * 1000); /* the server fills the socket and must wait for room */
    size_t cap = BIGRAW_BYTES + 65536, total, clen;
    char *buf = malloc(cap);
    size_t hl = slow_read(fd, buf, cap, &total, &clen);
    cr_assert(!strncmp(buf, "HTTP/1.1 200 ", 13), "got %.80s", buf);
    cr_assert_eq(clen, BIGRAW_BYTES);
    size_t bad = BIGRAW_BYTES;
    for (size_t i = 0; i < BIGRAW_BYTES && bad == BIGRAW_BYTES; i++)
        if (buf[hl + i] != bigraw_byte(i)) bad = i;
    cr_assert_eq(bad, BIGRAW_BYTES, "the body differs at byte %zu", bad);
    /* the pipelined request behind it is answered after it, whole */
    size_t extra = total - hl - clen;
    memmove(buf, buf + hl + clen, extra);
    buf[extra] = 0;
    while (!strstr(buf, "\r\n\r\n") || !strstr(buf, "}")) {
        ssize_t got = cli_recv(fd, buf + extra, cap - 1 - extra, 5000);
        cr_assert_gt(got, 0, "no response to the request behind the big one");
        extra += (size_t)got;
        buf[extra] = 0;
    }
    cr_assert(!strncmp(buf, "HTTP/1.1 200 ", 13), "got %.80s", buf);
    cr_assert(strstr(buf, "\"id\":\"9\""), "got %s", buf);
    free(buf);
    close(fd);
}

/* A head of exactly LIMIT_HTTP_CONN_MEMORY_BYTES fits the input buffer (only
 * a head that does not fit is refused): its request is served, body and all.
 * The long part is the query, which no limit but the buffer bounds. */
static char *exact_head(const char *fmt_head_tail, size_t total, size_t *len)
{
    char *s = malloc(total + 1);
    const char pre[] = "POST /api/rawecho?q=";
    size_t tail = strlen(fmt_head_tail);
    cr_assert_gt(total, sizeof pre - 1 + tail);
    memcpy(s, pre, sizeof pre - 1);
    size_t q = total - (sizeof pre - 1) - tail;
    memset(s + sizeof pre - 1, 'q', q);
    memcpy(s + sizeof pre - 1 + q, fmt_head_tail, tail);
    s[total] = 0;
    *len = total;
    return s;
}

Test(http, loop_head_filling_the_input_buffer_exactly)
{
    struct resp r;
    start_with((http_opts){.timeout_s = 3});
    const char *tails[] = {
        " HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n",
        " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    const char *bodies[] = {"hello", "5\r\nhello\r\n0\r\n\r\n"};
    /* one byte short of the buffer (works), then the buffer exactly */
    for (size_t total = LIMIT_HTTP_CONN_MEMORY_BYTES - 1; total <= LIMIT_HTTP_CONN_MEMORY_BYTES;
         total++)
        for (int i = 0; i < 2; i++) {
            size_t n;
            char *head = exact_head(tails[i], total, &n);
            int fd = cli_connect(port);
            cli_send(fd, head, n);
            cli_send(fd, bodies[i], strlen(bodies[i]));
            int rc = cli_read_ms(fd, &r, 0, 2500);
            cr_assert_eq(rc, 0, "a %zu-byte head with a %s body: no answer", total,
                         i ? "chunked" : "Content-Length");
            cr_assert_eq(r.status, 200, "a %zu-byte head: %d %s", total, r.status, r.body);
            cr_assert_str_eq(r.body, "hello");
            resp_free(&r);
            free(head);
            close(fd);
        }
}

/* A request resumed on its worker while the worker runs its resume list (the
 * pipelined /api/self after /api/suspend, which another thread resumes) is
 * answered at once, not when some other event wakes the worker. */
Test(http, loop_resume_made_during_the_resume_run)
{
    struct resp r;
    start_with((http_opts){.threads = 1});
    const char two[] = "GET /api/suspend HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /api/self HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int round = 0; round < 3; round++) {
        int fd = cli_connect(port);
        cli_send(fd, two, sizeof two - 1);
        cr_assert_eq(cli_read_ms(fd, &r, 0, 2000), 0, "round %d: the suspended request", round);
        cr_assert_eq(r.status, 200);
        resp_free(&r);
        cr_assert_eq(cli_read_ms(fd, &r, 0, 2000), 0, "round %d: the one resumed on its worker", round);
        cr_assert_eq(r.status, 200);
        cr_assert(strstr(r.body, "\"self\""), "%s", r.body);
        resp_free(&r);
        close(fd);
    }
}

/* The /proc stat file of this process's thread called name, open. */
static int thread_stat_open(const char *name)
{
    char path[300], comm[32];
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int fd = -1;
    struct dirent *e;
    while (fd < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int named = fgets(comm, sizeof comm, f) && !strncmp(comm, name, strlen(name)) &&
                    comm[strlen(name)] == '\n';
        fclose(f);
        if (!named) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    closedir(d);
    cr_assert_geq(fd, 0, "no thread called %s", name);
    return fd;
}

/* CPU seconds (utime + stime) from a thread's open stat file. */
static double thread_cpu_s(int fd)
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* fields 14, 15 after the comm */
    unsigned long ut = 0, st = 0;
    cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Out of file descriptors the worker stops accepting instead of spinning
 * on a listen socket that stays readable, and accepts again when one is
 * free: the waiting client is then served. */
Test(http, loop_out_of_file_descriptors_pauses_accepting)
{
    struct resp r;
    start_with((http_opts){.threads = 1});
    int stat_fd = thread_stat_open("http-0");
    struct rlimit old;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    /* every descriptor under a lowered limit taken but one, which the
     * client's socket takes: the server has none to accept it with */
    struct rlimit lim = {256, old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int held[256], nheld = 0;
    while (nheld < 256 && (held[nheld] = dup(0)) >= 0)
        nheld++;
    cr_assert_eq(errno, EMFILE);
    cr_assert_gt(nheld, 1);
    close(held[--nheld]);
    int fd = cli_connect(port);
    cr_assert_geq(fd, 0);
    const char hq[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    cli_send(fd, hq, sizeof hq - 1);
    /* the server cannot accept it: no answer, and its worker waits */
    cr_assert_neq(cli_read_ms(fd, &r, 0, 300), 0, "answered without a descriptor to accept with");
    double c0 = thread_cpu_s(stat_fd);
    struct timespec ts = {0, 500 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double used = thread_cpu_s(stat_fd) - c0;
    cr_assert_lt(used, 0.25, "the worker used %.2f s of CPU in 0.5 s while out of descriptors", used);
    /* one descriptor back: accepted within the retry, and answered */
    close(held[--nheld]);
    cr_assert_eq(cli_read_ms(fd, &r, 0, 3000), 0, "not served once a descriptor was free");
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    close(fd);
    while (nheld)
        close(held[--nheld]);
    close(stat_fd);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}
