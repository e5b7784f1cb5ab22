/* req.c - the request side of the HTTP server: the per-request arena,
 * accessors, JSON bodies, replies and problem+json (RFC 9457).
 *
 * Replies are built in the owning thread: status, headers and a body in the
 * arena or static memory (no copy); loop.c serialises and sends them on the
 * worker, right after the handler or when a suspended request comes back.
 * The arena outlives the response: it is reset when the request completes.
 */
#include "http/internal.h"
#include "lib/check.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/utf8.h"
#include "obs/log.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <strings.h>

#define PROBLEM_TYPE_BASE "https://orderly.dev/problems/"

/* ---- Accessors -------------------------------------------------------- */

const char *http_req_method(http_req *r)
{
    return r->method;
}

const char *http_req_path(http_req *r)
{
    if (!r->path) {
        char *p = arena_strdup(&r->arena, r->url, strlen(r->url));
        if (!p) return r->url;
        http_pct_decode(p, NULL);
        r->path = p;
    }
    return r->path;
}

const char *http_req_param(http_req *r, const char *name)
{
    const struct http_croute *cr = r->route;
    if (!cr) return NULL;
    for (int i = 0; i < cr->nparams; i++)
        if (strcmp(cr->pname[i], name) == 0) return r->pvals[i];
    return NULL;
}

const char *http_req_query(http_req *r, const char *name)
{
    const char *v = NULL;
    return http_query_get(&r->arena, r->query, name, &v) == 1 ? v : NULL;
}

const char *http_req_header(http_req *r, const char *name)
{
    const struct http_field *f = http_head_field(&r->conn->head, name);
    return f ? f->value : NULL;
}

const char *http_req_id(http_req *r)
{
    return r->id;
}

const char *http_req_route(http_req *r)
{
    return r->route ? r->route->pattern : NULL;
}

int http_req_access(http_req *r)
{
    return r->route ? r->route->access : 0;
}

int http_req_ok_status(http_req *r)
{
    return r->route && r->route->status ? r->route->status : 200;
}

const char *http_req_peer(http_req *r)
{
    if (!r->peer[0]) {
        const struct http_addr *a = &r->conn->addr;
        if (a->family == AF_INET || a->family == AF_INET6)
            inet_ntop(a->family, a->b, r->peer, sizeof r->peer);
    }
    return r->peer;
}

/* Cookie: name=value pairs separated by ";" (RFC 6265 5.4), in every
 * Cookie field; the first pair called name, its value copied to the arena
 * (surrounding double quotes removed). */
const char *http_req_cookie(http_req *r, const char *name)
{
    const struct http_head *h = &r->conn->head;
    size_t nl = strlen(name);
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        if (f->nlen != 6 || strcasecmp(f->name, "Cookie")) continue;
        for (const char *p = f->value; *p;) {
            while (*p == ' ' || *p == '\t' || *p == ';')
                p++;
            const char *k = p;
            while (*p && *p != '=' && *p != ';')
                p++;
            const char *ke = p;
            while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
            if (*p != '=') continue;
            const char *v = ++p;
            while (*p && *p != ';')
                p++;
            const char *ve = p;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if ((size_t)(ke - k) != nl || strncmp(k, name, nl)) continue;
            if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') v++, ve--;
            return arena_strdup(&r->arena, v, (size_t)(ve - v));
        }
    }
    return NULL;
}

void http_req_set_user(http_req *r, void *p)
{
    r->user = p;
}

void *http_req_user(http_req *r)
{
    return r->user;
}

const char *http_req_body(http_req *r, size_t *len)
{
    if (len) *len = r->body_len;
    return r->body ? r->body : "";
}

void *http_req_app(http_req *r)
{
    return r->srv->app;
}

http_server *http_req_server(http_req *r)
{
    return r->srv;
}

void *http_req_alloc(http_req *r, size_t n)
{
    return arena_alloc(&r->arena, n);
}

/* ---- JSON bodies ------------------------------------------------------ */

/* application/json or application/<anything>+json, parameters ignored. */
int http_ctype_is_json(const char *ct)
{
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/", 12) != 0) return 0;
    const char *sub = ct + 12, *e = sub;
    while (*e && *e != ';' && *e != ' ' && *e != '\t')
        e++;
    size_t n = (size_t)(e - sub);
    if (n == 4 && strncasecmp(sub, "json", 4) == 0) return 1;
    return n > 5 && strncasecmp(e - 5, "+json", 5) == 0;
}

/* Byte offset where nesting first exceeds max, or -1.  Strings are skipped
 * so brackets inside them do not count. */
static long depth_exceeded_at(const char *p, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) return (long)i;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return -1;
}

int http_json_parse(const char *body, size_t len, json_t **out, http_json_error *e)
{
    CHECK(out != NULL && e != NULL);
    *out = NULL;
    memset(e, 0, sizeof *e);
    if (!body) body = "", len = 0;
    long at = depth_exceeded_at(body, len, LIMIT_JSON_DEPTH_MAX);
    if (at >= 0) {
        e->position = at;
        return ORD_ELIMIT;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        e->line = je.line;
        e->column = je.column;
        e->position = je.position;
        str_copy(e->text, sizeof e->text, je.text);
        return ORD_EJSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        e->not_object = 1;
        return ORD_EJSON;
    }
    *out = j;
    return 0;
}

int http_req_require_json(http_req *r)
{
    if (http_ctype_is_json(r->ctype)) return 0;
    char detail[320];
    snprintf(detail, sizeof detail, "Content-Type must be application/json, got %s", r->ctype ? r->ctype : "none");
    http_reply_problem(r, ORD_EMEDIATYPE, detail, NULL);
    return 1;
}

json_t *http_req_json(http_req *r)
{
    char detail[320];
    if (r->json) return r->json;
    if (http_req_require_json(r)) return NULL;
    if (r->body_len > r->srv->body_max) { /* cannot happen: reading stops earlier */
        http_reply_problem(r, ORD_ETOOBIG, NULL, NULL);
        return NULL;
    }
    http_json_error e;
    json_t *j = NULL;
    int rc = http_json_parse(r->body, r->body_len, &j, &e);
    if (rc == ORD_ELIMIT) {
        snprintf(detail, sizeof detail, "JSON nesting deeper than %d levels at byte position %ld",
                 LIMIT_JSON_DEPTH_MAX, e.position);
        json_t *ext = json_pack("{s:I}", "position", (json_int_t)e.position);
        http_problem_build(r, ORD_ELIMIT, detail, NULL, ext);
        return NULL;
    }
    if (rc && e.not_object) {
        http_reply_problem(r, ORD_EJSON, "the request body must be a JSON object", NULL);
        return NULL;
    }
    if (rc) {
        snprintf(detail, sizeof detail,
                 "malformed JSON at line %d, column %d (byte position %ld): %s", e.line, e.column,
                 e.position, e.text);
        json_t *ext = json_pack("{s:i, s:i, s:i}", "line", e.line, "column", e.column, "position",
                                (int)e.position);
        http_problem_build(r, ORD_EJSON, detail, NULL, ext);
        return NULL;
    }
    r->json = j;
    return j;
}

/* ---- Replies ---------------------------------------------------------- */

void http_reply_header(http_req *r, const char *name, const char *value)
{
    CHECK(!r->replied);
    struct http_hdr *h = arena_alloc(&r->arena, sizeof *h);
    if (!h) return;
    h->name = arena_strdup(&r->arena, name, strlen(name));
    h->value = arena_strdup(&r->arena, value, strlen(value));
    if (!h->name || !h->value) return;
    h->next = NULL;
    *r->hdrs_tail = h;
    r->hdrs_tail = &h->next;
}

/* A header that would split the reply (CR or LF in it) is refused. */
static int header_ok(const char *v)
{
    return !strpbrk(v, "\r\n");
}

/* Makes body r's reply; a header refused leaves resp_ok 0, and server.c
 * then closes the connection. */
static void reply_finish(http_req *r, int status, const char *ctype, const char *body, size_t len)
{
    CHECK(!r->replied);
    CHECK(status >= HTTP_STATUS_MIN && status < HTTP_STATUS_MIN + HTTP_STATUS_SLOTS);
    r->replied = 1;
    r->status = status;
    r->resp_ctype = ctype;
    r->resp_body = len ? body : "";
    r->resp_len = len;
    int ok = !ctype || header_ok(ctype);
    for (struct http_hdr *h = r->hdrs; h && ok; h = h->next)
        ok = header_ok(h->name) && header_ok(h->value) && *h->name;
    if (!ok) {
        log_warn("http", "response header rejected", "requestId", r->own_id, NULL);
        return;
    }
    r->resp_ok = 1;
}

/* ---- Streamed replies --------------------------------------------------- */

/* DESIGN.  loop.c pulls a streamed body through http_stream_pull on the
 * connection's worker.  When the producer has nothing, the connection parks
 * (counted in srv->suspended like any parked request) and http_stream_wake
 * resumes it.  `kicked` closes the race between a pull that found nothing
 * and a wake that came before the parking. */
struct http_stream {
    pthread_mutex_t mu;
    http_server *srv;
    struct http_conn *conn;
    http_stream_pull_fn pull;
    http_stream_done_fn done;
    void *arg;
    int parked, kicked;
};

long http_stream_pull(http_stream *s, char *buf, size_t max)
{
    return s->pull(s->arg, buf, max);
}

int http_stream_park(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int woken = s->kicked;
    if (woken) {
        s->kicked = 0;
    } else {
        s->parked = 1;
        atomic_fetch_add(&s->srv->suspended, 1);
    }
    pthread_mutex_unlock(&s->mu);
    return woken;
}

/* The request is over: the connection closed or the body ended. */
void http_stream_free(http_stream *s)
{
    s->done(s->arg);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

http_stream *http_reply_stream(http_req *r, int status, const char *ctype, http_stream_pull_fn pull,
                               http_stream_done_fn done, void *arg)
{
    http_stream *s = calloc(1, sizeof *s);
    if (!s) {
        http_reply_problem(r, ORD_ENOMEM, "no memory for a stream", NULL);
        done(arg);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->srv = r->srv;
    s->conn = r->conn;
    s->pull = pull;
    s->done = done;
    s->arg = arg;
    r->streamed = 1;
    r->stream = s; /* freed with the request, which calls done */
    reply_finish(r, status, ctype, NULL, 0);
    if (!r->resp_ok) { /* a header refused: the connection is dropped */
        r->stream = NULL;
        http_stream_free(s);
        return NULL;
    }
    return s;
}

void http_stream_wake(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->parked) {
        s->parked = 0;
        atomic_fetch_sub(&s->srv->suspended, 1);
        http_conn_resume(s->conn);
    } else {
        s->kicked = 1;
    }
    pthread_mutex_unlock(&s->mu);
}

int http_stream_peer_gone(http_stream *s)
{
    return http_fd_peer_gone(s->conn->fd);
}

/* Dumps j into the arena; returns the length, 0 on failure (out of memory). */
static size_t dump_json(http_req *r, const json_t *j, char **out)
{
    size_t got = 0;
    char *buf = arena_alloc_rest(&r->arena, 1024, &got);
    if (!buf) return 0;
    size_t n = json_dumpb(j, buf, got, JSON_COMPACT);
    if (n == 0) return 0;
    if (n > got) {
        arena_trim(&r->arena, buf, got, 0);
        buf = arena_alloc(&r->arena, n);
        if (!buf || json_dumpb(j, buf, n, JSON_COMPACT) != n) return 0;
    } else {
        arena_trim(&r->arena, buf, got, n);
    }
    *out = buf;
    return n;
}

void http_reply_json(http_req *r, int status, json_t *body)
{
    CHECK(body);
    char *buf = NULL;
    size_t n = dump_json(r, body, &buf);
    json_decref(body);
    if (!n) {
        http_reply_problem(r, ORD_ENOMEM, "could not serialise the response", NULL);
        return;
    }
    reply_finish(r, status, "application/json", buf, n);
}

void http_reply_raw(http_req *r, int status, const char *ctype, const char *buf, size_t len)
{
    char *copy = len ? arena_alloc(&r->arena, len) : NULL;
    if (len && !copy) {
        http_reply_problem(r, ORD_ENOMEM, "response too large", NULL);
        return;
    }
    if (len) memcpy(copy, buf, len);
    reply_finish(r, status, ctype, copy, len);
}

void http_reply_static(http_req *r, int status, const char *ctype, const void *buf, size_t len)
{
    reply_finish(r, status, ctype, buf, len);
}

json_t *http_problem_json(int code, const char *detail, json_t *errors)
{
    char type[160];
    int status = http_err_status(code);
    if (status < 400) status = 500; /* a problem is never a success */
    snprintf(type, sizeof type, "%s%s", PROBLEM_TYPE_BASE, http_err_slug(code));
    json_t *p = json_object();
    if (!p) goto out;
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(err_msg(code)));
    json_object_set_new(p, "status", json_integer(status));
    /* detail comes from the client in places (a Content-Type echo): keep valid UTF-8 */
    if (!detail) detail = err_msg(code);
    json_t *d = json_stringn(detail, utf8_valid_prefix(detail, strlen(detail)));
    json_object_set_new(p, "detail", d ? d : json_string(err_msg(code)));
    if (errors) json_object_set(p, "errors", errors);
out:
    json_decref(errors);
    return p;
}

static json_t *problem_object(http_req *r, int code, const char *detail, json_t *errors, json_t *ext)
{
    json_t *p = http_problem_json(code, detail, errors);
    if (p && r->url) {
        json_t *inst = json_stringn(r->url, strlen(r->url));
        if (inst) json_object_set_new(p, "instance", inst);
    }
    if (p) json_object_set_new(p, "requestId", json_string(r->id));
    if (p && ext) json_object_update_missing(p, ext);
    json_decref(ext);
    return p;
}

void http_problem_build(http_req *r, int code, const char *detail, json_t *errors, json_t *ext)
{
    int status = http_err_status(code);
    if (status < 400) status = 500;
    /* overload and a store that cannot write now: the client should come back */
    if (code == ORD_EBUSY || code == ORD_EUNAVAILABLE || code == ORD_EFULL) http_reply_header(r, "Retry-After", "1");
    json_t *p = problem_object(r, code, detail, errors, ext);
    char *buf = NULL;
    size_t n = p ? dump_json(r, p, &buf) : 0;
    json_decref(p);
    if (!n) { /* out of memory: a fixed body still tells the client */
        static const char oom[] =
            "{\"type\":\"" PROBLEM_TYPE_BASE "out-of-memory\",\"title\":\"out of "
            "memory\",\"status\":503}";
        reply_finish(r, 503, "application/problem+json", oom, sizeof oom - 1);
        return;
    }
    reply_finish(r, status, "application/problem+json", buf, n);
}

void http_reply_problem(http_req *r, int err_code, const char *detail, json_t *errors)
{
    http_problem_build(r, err_code, detail, errors, NULL);
}

void http_reply_problem_ext(http_req *r, int err_code, const char *detail, json_t *errors, json_t *ext)
{
    http_problem_build(r, err_code, detail, errors, ext);
}

size_t http_problem_text(http_req *r, int code, const char *detail, char **out)
{
    json_t *p = problem_object(r, code, detail, NULL, NULL);
    size_t n = p ? dump_json(r, p, out) : 0;
    json_decref(p);
    return n;
}
