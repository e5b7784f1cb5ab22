/* test_openapi.c - the API description served at /api/openapi.json (the
 * embedded src/http/openapi.json) and the route table agree: every route has
 * its path and method in the document, every operation of the document has
 * a route, every operation's roles (x-roles) are the route table's access
 * bits, it answers problem+json for errors, and the console's files are
 * embedded. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include "auth/auth.h"
#include "http/api.h"
#include "http/static.h"

static json_t *doc_load(void)
{
    const http_asset *a = static_find(openapi_assets, "/api/openapi.json");
    cr_assert(a != NULL, "openapi.json is embedded");
    json_error_t e;
    json_t *d = json_loadb((const char *)a->data, a->len, JSON_REJECT_DUPLICATES, &e);
    cr_assert(d != NULL, "openapi.json parses: line %d: %s", e.line, e.text);
    return d;
}

static void lower(const char *m, char *out, size_t n)
{
    size_t i = 0;
    for (; m[i] && i + 1 < n; i++) out[i] = (char)(m[i] >= 'A' && m[i] <= 'Z' ? m[i] + 32 : m[i]);
    out[i] = 0;
}

/* 1 when (method, pattern) is in one of the route tables. */
static int in_tables(const char *method, const char *pattern)
{
    const http_route *tabs[] = {http_builtin_routes, api_routes};
    for (int t = 0; t < 2; t++)
        for (const http_route *r = tabs[t]; r->method; r++)
            if (!strcasecmp(r->method, method) && !strcmp(r->pattern, pattern)) return 1;
    return 0;
}

Test(openapi, every_route_is_described)
{
    json_t *d = doc_load();
    cr_assert_str_eq(json_string_value(json_object_get(d, "openapi")), "3.1.0");
    json_t *paths = json_object_get(d, "paths");
    const http_route *tabs[] = {http_builtin_routes, api_routes};
    int n = 0;
    for (int t = 0; t < 2; t++)
        for (const http_route *r = tabs[t]; r->method; r++) {
            char m[16];
            lower(r->method, m, sizeof m);
            json_t *op = json_object_get(json_object_get(paths, r->pattern), m);
            cr_expect(op != NULL, "route %s %s is missing from src/http/openapi.json", r->method, r->pattern);
            n++;
        }
    cr_expect(n > 40, "the tables have the routes (%d)", n);
    json_decref(d);
}

Test(openapi, every_operation_has_a_route)
{
    json_t *d = doc_load();
    const char *path, *m;
    json_t *item, *op;
    int n = 0;
    json_object_foreach(json_object_get(d, "paths"), path, item)
    {
        json_object_foreach(item, m, op)
        {
            if (!strcmp(m, "parameters") || !strcmp(m, "summary") || !strcmp(m, "description")) continue;
            cr_expect(in_tables(m, path), "openapi.json describes %s %s, which no route serves", m, path);
            n++;
        }
    }
    cr_expect(n > 40, "operations found (%d)", n);
    json_decref(d);
}

/* The access bits x-roles names (the route table's, src/http/api.c). */
static int roles_bits(const json_t *xr, const char *what)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {{"public", HTTP_ACCESS_PUBLIC}, {"admin", ROLE_ADMIN},       {"operator", ROLE_OPERATOR},
                 {"viewer", ROLE_VIEWER},        {"customer", ROLE_CUSTOMER}, {"anonymousOrders", ACCESS_ANON_ORDERS},
                 {"metricsPublic", ACCESS_METRICS}};
    int bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(xr, i, v)
    {
        int known = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (json_is_string(v) && !strcmp(json_string_value(v), names[k].name)) bits |= names[k].bit, known = 1;
        cr_expect(known, "%s: unknown x-roles entry", what);
    }
    return bits;
}

Test(openapi, x_roles_are_the_route_tables_access)
{
    json_t *d = doc_load();
    json_t *paths = json_object_get(d, "paths");
    const http_route *tabs[] = {http_builtin_routes, api_routes};
    for (int t = 0; t < 2; t++)
        for (const http_route *r = tabs[t]; r->method; r++) {
            char m[16], what[160];
            lower(r->method, m, sizeof m);
            snprintf(what, sizeof what, "%s %s", r->method, r->pattern);
            json_t *op = json_object_get(json_object_get(paths, r->pattern), m);
            if (!op) continue; /* every_route_is_described says so */
            int bits = roles_bits(json_object_get(op, "x-roles"), what);
            cr_expect_eq(bits, r->access, "%s: x-roles give access 0x%x, the route table 0x%x", what, bits, r->access);
        }
    json_decref(d);
}

Test(openapi, every_operation_has_roles_and_problem_errors)
{
    json_t *d = doc_load();
    static const char *const roles[] = {"public",   "admin",           "operator",      "viewer",
                                        "customer", "anonymousOrders", "metricsPublic", NULL};
    const char *path, *m;
    json_t *item, *op;
    json_object_foreach(json_object_get(d, "paths"), path, item)
    {
        json_object_foreach(item, m, op)
        {
            json_t *xr = json_object_get(op, "x-roles");
            cr_expect(json_is_array(xr) && json_array_size(xr) > 0, "%s %s has x-roles", m, path);
            size_t i;
            json_t *v;
            int has_admin = 0, public = 0;
            json_array_foreach(xr, i, v)
            {
                const char *s = json_string_value(v);
                int known = 0;
                for (const char *const *k = roles; *k; k++) known |= s && !strcmp(s, *k);
                cr_expect(known, "%s %s: unknown role %s", m, path, s ? s : "(not a string)");
                has_admin |= s && !strcmp(s, "admin");
                public |= s && !strcmp(s, "public");
            }
            cr_expect(has_admin || public, "%s %s: admin may do everything", m, path);
            /* public operations need no credentials; the others use the global security */
            json_t *sec = json_object_get(op, "security");
            cr_expect(public == (sec && json_array_size(sec) == 0), "%s %s: security matches x-roles", m, path);
            json_t *def = json_object_get(json_object_get(op, "responses"), "default");
            cr_expect(def != NULL, "%s %s has a default (problem+json) response", m, path);
        }
    }
    json_decref(d);
}

Test(openapi, console_is_embedded)
{
    const http_asset *index = static_find(console_assets, "/index.html");
    cr_assert(index != NULL, "index.html is embedded");
    cr_expect(index->len > 100, "index.html has content");
    if (console_assets_built) {
        int js = 0;
        for (const http_asset *a = console_assets; a->path; a++)
            if (!strncmp(a->path, "/assets/", 8) && strstr(a->path, ".js")) js++;
        cr_expect(js >= 1, "the bundle's JS is embedded");
        cr_expect(memmem(index->data, index->len, "<script type=\"module\"", 21) != NULL, "index loads a module");
    }
}
