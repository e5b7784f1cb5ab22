/* router.c - compiles route patterns once at start and matches decoded path
 * segments against them: a linear scan, which for a few dozen routes costs
 * less than building anything cleverer.  Also percent-decoding and the query
 * string.  Pure: no sockets, so tests/fuzz/fuzz_router.c runs this very code. */
#include "http/internal.h"
#include "lib/err.h"
#include "obs/log.h"
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t http_pct_decode(char *s, int *nul)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hexval((unsigned char)p[1])) >= 0 &&
            (lo = hexval((unsigned char)p[2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            if (c == 0 && nul) *nul = 1;
            *w++ = c;
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static int bad_pattern(const char *pattern, const char *why)
{
    log_error("http", "bad route pattern", "pattern", pattern, "reason", why, NULL);
    return ORD_ECONFIG;
}

/* Splits one pattern into cr; strings are copied into *pool. */
static int compile(struct http_croute *cr, const http_route *rt, char **pool)
{
    const char *p = rt->pattern;
    if (!rt->method || !rt->fn || !p || p[0] != '/')
        return bad_pattern(p ? p : "(null)", "must start with /");
    cr->method = rt->method;
    cr->pattern = rt->pattern;
    cr->fn = rt->fn;
    cr->access = rt->access;
    cr->status = rt->status;
    cr->nseg = cr->nparams = 0;
    p++;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (cr->nseg == LIMIT_HTTP_PATH_SEGMENTS_MAX)
            return bad_pattern(rt->pattern, "too many segments");
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            if (n == 2) return bad_pattern(rt->pattern, "empty parameter name");
            if (cr->nparams == LIMIT_HTTP_ROUTE_PARAMS_MAX)
                return bad_pattern(rt->pattern, "too many parameters");
            memcpy(*pool, p + 1, n - 2);
            (*pool)[n - 2] = 0;
            cr->pname[cr->nparams++] = *pool;
            *pool += n - 1;
            cr->seg[cr->nseg] = NULL;
            cr->seglen[cr->nseg] = 0;
        } else {
            if (memchr(p, '{', n) || memchr(p, '}', n))
                return bad_pattern(rt->pattern, "braces inside a segment");
            memcpy(*pool, p, n);
            (*pool)[n] = 0;
            cr->seg[cr->nseg] = *pool;
            cr->seglen[cr->nseg] = n;
            *pool += n + 1;
        }
        cr->nseg++;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int http_router_init(struct http_router *rt, const http_route *builtins, const http_route *app)
{
    int n = 0, rc = 0;
    size_t bytes = 0;
    const http_route *tabs[2] = {builtins, app};
    memset(rt, 0, sizeof *rt);
    for (int t = 0; t < 2; t++)
        for (const http_route *r = tabs[t]; r && (r->method || r->pattern || r->fn); r++) {
            n++;
            bytes += (r->pattern ? strlen(r->pattern) : 0) + LIMIT_HTTP_PATH_SEGMENTS_MAX + 1;
        }
    rt->routes = calloc((size_t)n, sizeof *rt->routes);
    rt->strings = malloc(bytes ? bytes : 1);
    if (!rt->routes || !rt->strings) {
        rc = ORD_ENOMEM;
        goto out;
    }
    char *pool = rt->strings;
    for (int t = 0; t < 2; t++)
        for (const http_route *r = tabs[t]; r && (r->method || r->pattern || r->fn); r++) {
            rc = compile(&rt->routes[rt->n], r, &pool);
            if (rc) goto out;
            rt->n++;
        }
out:
    if (rc) http_router_release(rt);
    return rc;
}

void http_router_release(struct http_router *rt)
{
    free(rt->routes);
    free(rt->strings);
    memset(rt, 0, sizeof *rt);
}

static int path_matches(const struct http_croute *cr, http_req *r)
{
    if (cr->nseg != r->nsegs) return 0;
    for (int i = 0; i < cr->nseg; i++) {
        if (cr->seg[i]) {
            if (strcmp(cr->seg[i], r->segs[i]) != 0) return 0;
        } else if (!r->segs[i][0]) {
            return 0; /* a parameter is never empty */
        }
    }
    return 1;
}

static int method_matches(const char *route_m, const char *m)
{
    return strcmp(route_m, m) == 0 || (strcmp(m, "HEAD") == 0 && strcmp(route_m, "GET") == 0);
}

int http_router_match(const struct http_router *rt, http_req *r, const char **allow)
{
    const struct http_croute *found = NULL;
    int path_hit = 0;
    for (int i = 0; i < rt->n && !found; i++) {
        if (!path_matches(&rt->routes[i], r)) continue;
        path_hit = 1;
        if (method_matches(rt->routes[i].method, r->method)) found = &rt->routes[i];
    }
    if (found) {
        r->route = found;
        for (int i = 0, p = 0; i < found->nseg; i++)
            if (!found->seg[i]) r->pvals[p++] = r->segs[i];
        return 0;
    }
    if (!path_hit) return ORD_ENOTFOUND;
    /* 405: list each method once, in table order (GET implies HEAD) */
    size_t cap = 64;
    for (int i = 0; i < rt->n; i++)
        cap += strlen(rt->routes[i].method) + 8;
    char *a = arena_alloc(&r->arena, cap);
    if (!a) return ORD_EMETHOD;
    size_t len = 0;
    a[0] = 0;
    for (int i = 0; i < rt->n; i++) {
        const struct http_croute *cr = &rt->routes[i];
        if (!path_matches(cr, r)) continue;
        const char *ms[2] = {cr->method, strcmp(cr->method, "GET") == 0 ? "HEAD" : NULL};
        for (int k = 0; k < 2 && ms[k]; k++) {
            size_t ml = strlen(ms[k]);
            int dup = 0;
            for (const char *q = a; *q && !dup;) {
                const char *e = strchr(q, ',');
                size_t tl = e ? (size_t)(e - q) : strlen(q);
                dup = tl == ml && memcmp(q, ms[k], ml) == 0;
                q = e ? e + 2 : q + tl;
            }
            if (dup) continue;
            if (len) {
                memcpy(a + len, ", ", 2);
                len += 2;
            }
            memcpy(a + len, ms[k], ml);
            len += ml;
            a[len] = 0;
        }
    }
    *allow = a;
    return ORD_EMETHOD;
}

/* Copies the raw path into the arena and splits it into decoded segments. */
static int split_path(http_req *r)
{
    if (r->url[0] != '/') return ORD_ENOTFOUND;
    char *p = arena_strdup(&r->arena, r->url + 1, strlen(r->url + 1));
    if (!p) return ORD_ENOMEM;
    for (;;) {
        if (r->nsegs == LIMIT_HTTP_PATH_SEGMENTS_MAX) return ORD_ENOTFOUND;
        char *e = strchr(p, '/');
        if (e) *e = 0;
        int nul = 0;
        if (strchr(p, '%')) http_pct_decode(p, &nul);
        if (nul) return ORD_EINVAL;
        r->segs[r->nsegs++] = p;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int http_router_route(const struct http_router *rt, http_req *r, const char **allow)
{
    int rc = split_path(r);
    return rc ? rc : http_router_match(rt, r, allow);
}

/* ASCII case-insensitive, as libmicrohttpd compared argument names (kept
 * when the server stopped using it: clients may rely on it). */
static int key_is(const char *k, size_t klen, const char *name, size_t nlen)
{
    if (klen != nlen) return 0;
    for (size_t i = 0; i < klen; i++) {
        unsigned char a = (unsigned char)(k[i] == '+' ? ' ' : k[i]), b = (unsigned char)name[i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

int http_query_get(arena *a, const char *query, const char *name, const char **out)
{
    *out = NULL;
    if (!query) return 0;
    size_t nlen = strlen(name);
    for (const char *s = query; *s;) {
        const char *amp = strchr(s, '&');
        const char *e = amp ? amp : s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (key_is(s, (size_t)((eq ? eq : e) - s), name, nlen)) {
            if (!eq) {
                *out = "";
                return 1;
            }
            char *v = arena_strdup(a, eq + 1, (size_t)(e - eq - 1));
            if (!v) return ORD_ENOMEM;
            for (char *p = v; *p; p++)
                if (*p == '+') *p = ' ';
            if (strchr(v, '%')) http_pct_decode(v, NULL);
            *out = v;
            return 1;
        }
        if (!amp) break;
        s = amp + 1;
    }
    return 0;
}
