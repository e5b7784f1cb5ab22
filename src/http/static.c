/* static.c - serves the embedded console files and the API description,
 * with the console's security headers, ETags and precompressed gzip. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/static.h"
#include "lib/err.h"

/* No inline script, no eval, nothing from elsewhere.  Inline style
 * *attributes* stay blocked too: scripts set styles through the CSSOM
 * (element.style), which CSP allows. */
#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "             \
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " \
    "frame-ancestors 'none'"

#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"

const http_asset *static_find(const http_asset *tab, const char *path)
{
    for (const http_asset *a = tab; a->path; a++)
        if (strcmp(a->path, path) == 0) return a;
    return NULL;
}

void static_security_headers(http_req *r)
{
    http_reply_header(r, "Content-Security-Policy", CONSOLE_CSP);
    http_reply_header(r, "X-Content-Type-Options", "nosniff");
    http_reply_header(r, "Referrer-Policy", "no-referrer");
    http_reply_header(r, "X-Frame-Options", "DENY");
    http_reply_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    http_reply_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    http_reply_header(r, "Permissions-Policy",
                      "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
}

/* 1 when the header lists the token (case-insensitive) without q=0. */
static int header_has_token(const char *h, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';' && *e != ' ' && *e != '\t') e++;
        const char *next = strchr(e, ',');
        if ((size_t)(e - p) == tl && strncasecmp(p, token, tl) == 0) {
            const char *end = next ? next : e + strlen(e);
            const char *q = strstr(e, "q=");
            return !(q && q < end && strtod(q + 2, NULL) <= 0);
        }
        p = next;
    }
    return 0;
}

/* If-None-Match: "*" or a list holding the ETag (weak form accepted). */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm) return 0;
    if (strchr(inm, '*')) return 1;
    size_t el = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag))
        if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[el] == 0 || p[el] == ',' || p[el] == ' '))
            return 1;
    return 0;
}

int static_reply(http_req *r, const http_asset *a, const char *cache_control)
{
    static_security_headers(r);
    http_reply_header(r, "Cache-Control", cache_control);
    http_reply_header(r, "ETag", a->etag);
    if (a->gz) http_reply_header(r, "Vary", "Accept-Encoding");
    if (etag_matches(http_req_header(r, "If-None-Match"), a->etag)) {
        http_reply_raw(r, 304, NULL, "", 0);
        return 0;
    }
    const char *ae = http_req_header(r, "Accept-Encoding");
    if (a->gz && ae && header_has_token(ae, "gzip")) {
        http_reply_header(r, "Content-Encoding", "gzip");
        http_reply_static(r, 200, a->ctype, a->gz, a->gzlen);
    } else {
        http_reply_static(r, 200, a->ctype, a->data, a->len);
    }
    return 0;
}

int api_console_index(http_req *r)
{
    const http_asset *a = static_find(console_assets, "/index.html");
    if (!a) return ORD_ENOTFOUND;
    return static_reply(r, a, CACHE_REVALIDATE);
}

int api_console_asset(http_req *r)
{
    const char *path = http_req_path(r);
    const http_asset *a = static_find(console_assets, path);
    if (!a) {
        static_security_headers(r);
        http_reply_problem(r, ORD_ENOTFOUND, "no such console file", NULL);
        return 0;
    }
    return static_reply(r, a, CACHE_IMMUTABLE);
}

int api_openapi(http_req *r)
{
    const http_asset *a = static_find(openapi_assets, "/api/openapi.json");
    if (!a) return ORD_ENOTFOUND;
    return static_reply(r, a, CACHE_REVALIDATE);
}

/* The console's pages (web/src/routes.ts): first path segments.  Only
 * these get index.html, so a mistyped URL is still a 404. */
static const char *const console_pages[] = {"orders", "new", "inventory", "queues", "events", "rules",
                                            "alarms", "users", "keys", "audit", "login", NULL};

int api_console_fallback(http_req *r)
{
    const char *path = http_req_path(r);
    const http_asset *file = static_find(console_assets, path); /* a top-level file, e.g. robots.txt */
    if (file) return static_reply(r, file, CACHE_REVALIDATE);
    const char *seg = path + 1, *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    int depth = 0;
    for (const char *p = path; *p; p++) depth += *p == '/';
    if (depth > 3 || strchr(path, '.')) return ORD_ENOTFOUND;
    for (const char *const *pg = console_pages; *pg; pg++)
        if (strlen(*pg) == n && !strncmp(*pg, seg, n)) return api_console_index(r);
    return ORD_ENOTFOUND;
}
