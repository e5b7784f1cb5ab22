/* static.h - files embedded in the binary at build time and served over
 * HTTP: the web console (web/, built by Vite) and the API description
 * (src/http/openapi.json).  scripts/embed-web.cmake generates the tables.
 *
 * Every answer carries the console's security headers (a strict CSP: no
 * inline script, no eval; nosniff, no referrer, no framing, no powerful
 * features).  Hashed files under /assets/ are cached for a year
 * (immutable); index.html and the API description must be revalidated
 * (ETag / If-None-Match -> 304).  A gzip'd copy, made at build time, is sent
 * when Accept-Encoding allows it.
 *
 * THREAD SAFETY: the tables are constant; the handlers run on HTTP workers.
 */
#ifndef ORDERLY_HTTP_STATIC_H
#define ORDERLY_HTTP_STATIC_H
#include <stddef.h>
#include "http/server.h"

typedef struct http_asset {
    const char *path;          /* "/index.html", "/assets/index-AbC123.js" */
    const char *ctype;         /* Content-Type */
    const unsigned char *data; /* the file */
    size_t len;
    const unsigned char *gz;   /* gzip'd copy, NULL when it would not be smaller */
    size_t gzlen;
    const char *etag;          /* quoted, from the file's SHA-256 */
} http_asset;

/* Generated tables, ending with an entry whose path is NULL. */
extern const http_asset console_assets[];
extern const int console_assets_built; /* 0: built without node/npm (a placeholder page) */
extern const http_asset openapi_assets[];

/* The asset at path in tab, or NULL. */
const http_asset *static_find(const http_asset *tab, const char *path);
/* Adds the console's security headers to r's reply (before the reply). */
void static_security_headers(http_req *r);
/* Replies with a (GET/HEAD): 304 when If-None-Match has its ETag, the
 * gzip'd copy when accepted, Cache-Control as given.  Always 0. */
int static_reply(http_req *r, const http_asset *a, const char *cache_control);

/* ---- handlers (route table in api.c) -------------------------------------- */
int api_console_index(http_req *r);    /* GET / and the console's pages: index.html */
int api_console_asset(http_req *r);    /* GET /assets/{file} */
int api_openapi(http_req *r);          /* GET /api/openapi.json */
/* For unmatched GET/HEAD paths (http_opts.fallback): the console's pages
 * (/orders/{id}, /inventory, /queues/{name} ...: a known first segment, at
 * most 3 segments, no '.') get index.html, as do top-level console files;
 * anything else gets the usual 404. */
int api_console_fallback(http_req *r);

#endif
