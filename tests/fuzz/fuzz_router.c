/* fuzz_router.c - the router with percent-decoding (http_router_route: split
 * the raw path, decode each segment, match the route table of the real API)
 * and the query string (http_query_get, then GET /api/orders' checks
 * api_orders_list_parse).
 *
 * Input: "METHOD TARGET" (no space: GET and the whole input is the target);
 * TARGET is PATH[?QUERY] as in a request line.  NUL bytes never reach the
 * router (parse.c refuses control characters in a target), so inputs with
 * one are skipped.
 *
 * Invariants: the outcome is a route, 404, 405 (with an Allow list that does
 * not name the method) or 400 for an encoded NUL; a matched route's literal
 * segments equal the decoded path's and its parameters are the non-empty
 * decoded segments in their places; re-encoding the decoded segments routes
 * to the same outcome with the same parameters (round trip); query values
 * survive being encoded and parsed again; the order-list checks accept only
 * values in their documented ranges.
 */
#include "fuzz.h"
#include "http/api.h"
#include "http/internal.h"
#include "http/requests.h"
#include <stdio.h>

static struct http_router router;
static _Alignas(16) char arena_inline[HTTP_ARENA_INLINE];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(http_router_init(&router, NULL, api_routes) == 0);
    return 0;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Percent-encodes s (every byte but the unreserved ones) onto out. */
static char *encode(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (unreserved(c)) {
            *out++ = (char)c;
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    *out = 0;
    return out;
}

static int listed(const char *allow, const char *m)
{
    size_t ml = strlen(m);
    for (const char *q = allow; *q;) {
        const char *e = strchr(q, ',');
        size_t tl = e ? (size_t)(e - q) : strlen(q);
        if (tl == ml && !memcmp(q, m, ml)) return 1;
        q = e ? e + 2 : q + tl;
    }
    return 0;
}

typedef struct outcome {
    int rc;
    const struct http_croute *route;
    int nsegs;
    char *segs[LIMIT_HTTP_PATH_SEGMENTS_MAX];
    const char *params[LIMIT_HTTP_ROUTE_PARAMS_MAX];
} outcome;

static void route(const char *method, const char *url, arena *a, outcome *o)
{
    http_req r;
    memset(&r, 0, sizeof r);
    r.arena = *a;
    r.method = method;
    r.url = url;
    const char *allow = NULL;
    int rc = http_router_route(&router, &r, &allow);
    CHECK(rc == 0 || rc == ORD_ENOTFOUND || rc == ORD_EMETHOD || rc == ORD_EINVAL);
    CHECK(r.nsegs >= 0 && r.nsegs <= LIMIT_HTTP_PATH_SEGMENTS_MAX);
    o->rc = rc;
    o->route = rc ? NULL : r.route;
    o->nsegs = r.nsegs;
    memcpy(o->segs, r.segs, sizeof o->segs);
    if (rc == 0) {
        const struct http_croute *cr = r.route;
        CHECK(cr != NULL);
        CHECK(!strcmp(cr->method, method) ||
              (!strcmp(method, "HEAD") && !strcmp(cr->method, "GET")));
        CHECK(cr->nseg == r.nsegs);
        for (int i = 0, p = 0; i < cr->nseg; i++) {
            if (cr->seg[i]) {
                CHECK(!strcmp(cr->seg[i], r.segs[i]));
            } else {
                CHECK(r.segs[i][0] != 0);
                CHECK(r.pvals[p] == r.segs[i]);
                CHECK(http_req_param(&r, cr->pname[p]) == r.segs[i]);
                o->params[p] = r.pvals[p];
                p++;
            }
        }
    } else if (rc == ORD_EMETHOD) {
        CHECK(allow != NULL && allow[0] != 0);
        CHECK(!listed(allow, method));
    }
    if (rc != ORD_EINVAL && url[0] == '/') { /* the whole decoded path, as http_req_path */
        char *p = arena_strdup(&r.arena, url, strlen(url));
        CHECK(p != NULL);
        size_t n = http_pct_decode(p, NULL);
        CHECK(n <= strlen(url));
    }
    *a = r.arena;
}

static void fuzz_path(const char *method, const char *path, arena *a)
{
    outcome o, o2;
    route(method, path, a, &o);
    if (o.rc == ORD_EINVAL || path[0] != '/' || o.nsegs == 0) return;
    if (o.rc == ORD_ENOTFOUND && o.nsegs == LIMIT_HTTP_PATH_SEGMENTS_MAX) return; /* cut short */
    /* round trip: the decoded segments, encoded again, route the same way */
    size_t cap = 1;
    for (int i = 0; i < o.nsegs; i++)
        cap += 1 + 3 * strlen(o.segs[i]);
    char *url = malloc(cap), *w = url;
    CHECK(url != NULL);
    for (int i = 0; i < o.nsegs; i++) {
        *w++ = '/';
        w = encode(w, o.segs[i]);
    }
    route(method, url, a, &o2);
    CHECK(o2.rc == o.rc);
    CHECK(o2.route == o.route);
    CHECK(o2.nsegs == o.nsegs);
    for (int i = 0; i < o.nsegs; i++)
        CHECK(!strcmp(o2.segs[i], o.segs[i]));
    free(url);
}

static void fuzz_query(const char *query, arena *a)
{
    static const char *const names[] = {"status", "customerId", "limit", "cursor"};
    const char *v[4];
    for (int i = 0; i < 4; i++) {
        int rc = http_query_get(a, query, names[i], &v[i]);
        CHECK(rc == 0 || rc == 1);
        CHECK((rc == 1) == (v[i] != NULL));
        if (!v[i]) continue;
        CHECK(strlen(v[i]) <= strlen(query));
        /* round trip: name=encode(value) gives the value back */
        char *q = malloc(strlen(names[i]) + 2 + 3 * strlen(v[i]) + 1);
        CHECK(q != NULL);
        char *w = q + sprintf(q, "%s=", names[i]);
        encode(w, v[i]);
        const char *back = NULL;
        CHECK(http_query_get(a, q, names[i], &back) == 1);
        CHECK(!strcmp(back, v[i]));
        free(q);
    }
    int limit = 0;
    order_status st = (order_status)-1;
    char detail[200];
    int rc = api_orders_list_parse(v[0], v[1], v[2], &st, &limit, detail, sizeof detail);
    CHECK(rc == 0 || rc == ORD_EINVAL);
    if (rc) {
        CHECK(detail[0] != 0);
        return;
    }
    CHECK(limit >= 1 && limit <= LIMIT_ORDER_LIST_LIMIT_MAX);
    if (!v[2]) CHECK(limit == 20);
    order_status st2;
    if (v[0]) CHECK(order_status_parse(v[0], &st2) == 0 && st2 == st);
    if (v[1]) CHECK(strlen(v[1]) >= 1 && strlen(v[1]) <= LIMIT_ORDER_CUSTOMER_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, 0, size)) return 0;
    char *in = malloc(size + 1);
    CHECK(in != NULL);
    memcpy(in, data, size);
    in[size] = 0;
    const char *method = "GET";
    char *target = in, *sp = strchr(in, ' ');
    if (sp) {
        *sp = 0;
        method = in;
        target = sp + 1;
    }
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    arena a;
    arena_init(&a, arena_inline, sizeof arena_inline, HTTP_ARENA_CHUNK, LIMIT_HTTP_ARENA_BYTES_MAX);
    if (strlen(target) <= LIMIT_HTTP_PATH_BYTES_MAX) fuzz_path(method, target, &a); /* else 414 */
    fuzz_query(query, &a);
    arena_reset(&a);
    free(in);
    return 0;
}
