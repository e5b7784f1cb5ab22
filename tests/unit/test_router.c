/* test_router.c - the pure request parsers of src/http: http_router_route
 * (split, decode, match), http_query_get (the query string, parsed as
 * libmicrohttpd 0.9 parsed it when the server still used it) and http_json_parse. The
 * fuzz targets check their invariants on random input; these pin the
 * documented behaviour case by case. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/internal.h"
#include "lib/err.h"

static int h(http_req *r)
{
    (void)r;
    return 0;
}

static const http_route routes[] = {
    {"GET", "/api/queues/{name}", h, HTTP_ACCESS_PUBLIC, 200},
    {"DELETE", "/api/queues/{name}/messages/{receipt}", h, HTTP_ACCESS_PUBLIC, 200},
    {"POST", "/api/queues/{name}/messages", h, HTTP_ACCESS_PUBLIC, 200},
    {"GET", "/api/orders", h, HTTP_ACCESS_PUBLIC, 200},
    {0},
};

static struct http_router rt;
static _Alignas(16) char inl[HTTP_ARENA_INLINE];
static arena a;

static void setup(void)
{
    cr_assert_eq(http_router_init(&rt, NULL, routes), 0);
    arena_init(&a, inl, sizeof inl, HTTP_ARENA_CHUNK, LIMIT_HTTP_ARENA_BYTES_MAX);
}

static void teardown(void)
{
    arena_reset(&a);
    http_router_release(&rt);
}

TestSuite(router, .init = setup, .fini = teardown);

/* Routes method + url on a fresh request; *r keeps the segments. */
static int route(http_req *r, const char *method, const char *url, const char **allow)
{
    memset(r, 0, sizeof *r);
    r->arena = a;
    r->method = method;
    r->url = url;
    int rc = http_router_route(&rt, r, allow);
    a = r->arena;
    return rc;
}

Test(router, params_are_decoded_after_the_split)
{
    http_req r;
    const char *allow = NULL;
    cr_assert_eq(route(&r, "DELETE", "/api/queues/dev-orders/messages/ab%2Fcd%20e", &allow), 0);
    cr_expect_str_eq(http_req_param(&r, "name"), "dev-orders");
    cr_expect_str_eq(http_req_param(&r, "receipt"), "ab/cd e", "%%2F stays inside its segment");
    cr_assert_eq(route(&r, "GET", "/api/%71ueues/x", &allow), 0, "literal segments match decoded");
    cr_expect_str_eq(http_req_param(&r, "name"), "x");
    cr_expect_eq(route(&r, "GET", "/api/queues/", &allow), ORD_ENOTFOUND,
                 "a parameter is never empty");
    cr_expect_eq(route(&r, "GET", "/api/queues/a%00b", &allow), ORD_EINVAL, "an encoded NUL");
    cr_expect_eq(route(&r, "GET", "api/queues/x", &allow), ORD_ENOTFOUND);
    cr_assert_eq(route(&r, "GET", "/api/queues/%zz%4", &allow), 0, "bad escapes stay as they are");
    cr_expect_str_eq(http_req_param(&r, "name"), "%zz%4");
}

Test(router, segment_limit_at_and_past)
{
    http_req r;
    const char *allow = NULL;
    char url[256] = "";
    for (int i = 0; i < LIMIT_HTTP_PATH_SEGMENTS_MAX; i++)
        strcat(url, "/s");
    cr_expect_eq(route(&r, "GET", url, &allow), ORD_ENOTFOUND);
    cr_expect_eq(r.nsegs, LIMIT_HTTP_PATH_SEGMENTS_MAX, "all %d segments split",
                 LIMIT_HTTP_PATH_SEGMENTS_MAX);
    strcat(url, "/s");
    cr_expect_eq(route(&r, "GET", url, &allow), ORD_ENOTFOUND);
}

Test(router, method_not_allowed_lists_the_others)
{
    http_req r;
    const char *allow = NULL;
    cr_assert_eq(route(&r, "PUT", "/api/queues/q", &allow), ORD_EMETHOD);
    cr_expect_str_eq(allow, "GET, HEAD");
    cr_expect_eq(route(&r, "HEAD", "/api/queues/q", &allow), 0, "HEAD on a GET route");
}

static const char *q(const char *query, const char *name)
{
    const char *v = NULL;
    int rc = http_query_get(&a, query, name, &v);
    cr_assert(rc == 0 || rc == 1);
    cr_assert_eq(rc == 1, v != NULL);
    return v;
}

Test(router, query_string_as_mhd_parsed_it)
{
    cr_expect_null(q(NULL, "status"));
    cr_expect_null(q("", "status"));
    cr_expect_str_eq(q("status=PENDING&limit=5", "limit"), "5");
    cr_expect_str_eq(q("limit=5&limit=6", "limit"), "5", "the first of a repeated name");
    cr_expect_str_eq(q("STATUS=x", "status"), "x", "names are ASCII case-insensitive");
    cr_expect_null(q("st%61tus=x", "status"), "names are not percent-decoded");
    cr_expect_str_eq(q("flag&x=1", "flag"), "", "a name without '=' has the empty value");
    cr_expect_str_eq(q("status=", "status"), "");
    cr_expect_str_eq(q("c=a+b%2Bc%26d", "c"), "a b+c&d", "'+' is a space, %%2B a plus");
    cr_expect_str_eq(q("c=x%00y", "c"), "x", "a decoded NUL ends the value");
    cr_expect_str_eq(q("a=b=c", "a"), "b=c", "the first '=' ends the name");
    cr_expect_str_eq(q("a+b=1", "a b"), "1", "'+' is a space in names too");
    cr_expect_str_eq(q("x=1&&=2&c=3", "c"), "3", "empty arguments are skipped over");
    cr_expect_str_eq(q("c=%zz", "c"), "%zz");
}

Test(router, json_body_depth_duplicates_and_shape)
{
    char deep[2 * LIMIT_JSON_DEPTH_MAX + 16];
    json_t *j = NULL;
    http_json_error e;
    size_t n = 0;
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX; i++)
        deep[n++] = '[';
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX; i++)
        deep[n++] = ']';
    deep[n] = 0;
    /* 64 levels of arrays: valid JSON but not an object */
    cr_expect_eq(http_json_parse(deep, n, &j, &e), ORD_EJSON);
    cr_expect(e.not_object);
    /* {"a": 63 levels} is 64 deep: accepted; one more is refused at that bracket */
    char ok[256], over[256];
    int k = snprintf(ok, sizeof ok, "{\"a\":");
    memcpy(over, ok, (size_t)k);
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX - 1; i++)
        ok[k + i] = '[';
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX - 1; i++)
        ok[k + LIMIT_JSON_DEPTH_MAX - 1 + i] = ']';
    strcpy(ok + k + 2 * (LIMIT_JSON_DEPTH_MAX - 1), "}");
    cr_assert_eq(http_json_parse(ok, strlen(ok), &j, &e), 0);
    json_decref(j);
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX; i++)
        over[k + i] = '[';
    for (int i = 0; i < LIMIT_JSON_DEPTH_MAX; i++)
        over[k + LIMIT_JSON_DEPTH_MAX + i] = ']';
    strcpy(over + k + 2 * LIMIT_JSON_DEPTH_MAX, "}");
    cr_expect_eq(http_json_parse(over, strlen(over), &j, &e), ORD_ELIMIT);
    cr_expect_eq(e.position, k + LIMIT_JSON_DEPTH_MAX - 1, "the bracket that went past the limit");
    cr_expect_null(j);
    const char *brackets_in_a_string =
        "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    cr_assert_eq(http_json_parse(brackets_in_a_string, strlen(brackets_in_a_string), &j, &e), 0);
    json_decref(j);
    const char *dup = "{\"a\":1,\"a\":2}";
    cr_expect_eq(http_json_parse(dup, strlen(dup), &j, &e), ORD_EJSON, "duplicate keys");
    cr_expect(!e.not_object);
    cr_expect(strstr(e.text, "duplicate") != NULL, "%s", e.text);
    cr_expect_eq(http_json_parse("{\"a\":}", 6, &j, &e), ORD_EJSON);
    cr_expect_eq(e.line, 1);
    cr_expect_eq(e.position, 6);
    cr_expect_eq(http_json_parse(NULL, 0, &j, &e), ORD_EJSON, "no body");
}
