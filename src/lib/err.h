/* err.h - the one error table of orderly.
 *
 * Every failure is a negative int from this table (libuv UV_ERRNO_MAP style).
 * Each entry gives the code's name, a message, the HTTP status the boundary
 * answers with and the problem+json type slug.  Lower layers return codes;
 * the boundary (HTTP handler, CLI command) maps and logs them once.
 */
#ifndef ORDERLY_ERR_H
#define ORDERLY_ERR_H

/*        name            http  slug                  message */
#define ORD_ERR_MAP(X)                                                                        \
    X(NOMEM,              503, "out-of-memory",      "out of memory")                          \
    X(INVAL,              400, "invalid-request",    "invalid argument")                       \
    X(VALIDATION,         422, "validation-error",   "request failed validation")              \
    X(JSON,               400, "malformed-json",     "malformed JSON")                         \
    X(NOTFOUND,           404, "not-found",          "no such resource")                       \
    X(EXISTS,             409, "already-exists",     "resource already exists")                \
    X(CONFLICT,           409, "conflict",           "conflicting state")                      \
    X(CONDITION,          409, "condition-failed",   "condition not met")                      \
    X(RECEIPT,            410, "receipt-invalid",    "receipt handle is stale or invalid")     \
    X(TOOBIG,             413, "payload-too-large",  "payload too large")                      \
    X(MEDIATYPE,          415, "unsupported-media-type", "content type must be application/json") \
    X(METHOD,             405, "method-not-allowed", "method not allowed")                     \
    X(URITOOLONG,         414, "uri-too-long",       "request path too long")                  \
    X(HEADERS,            431, "headers-too-large",  "request header fields too large")        \
    X(LIMIT,              400, "limit-exceeded",     "a limit was exceeded")                   \
    X(BUSY,               503, "overloaded",         "too many pending operations")            \
    X(SHUTDOWN,           503, "shutting-down",      "server is shutting down")                \
    X(NOTREADY,           503, "not-ready",          "server is not ready")                    \
    X(TIMEOUT,            504, "timeout",            "operation timed out")                    \
    X(STORE,              500, "store-error",        "storage error")                          \
    X(IO,                 500, "io-error",           "input/output error")                     \
    X(INTERNAL,           500, "internal-error",     "internal error")                         \
    X(HANDLER,            500, "handler-failed",     "function handler failed")                \
    X(DUPLICATE,          200, "duplicate",          "duplicate event ignored")                \
    X(CONFIG,             400, "config-error",       "invalid configuration")                  \
    X(NOENV,              400, "environment-not-set", "ENVIRONMENT is not set")                \
    X(USAGE,              400, "usage",              "invalid usage")

enum {
    ORD_OK = 0,
    ORD__BASE = -1000,
#define X(name, http, slug, msg) ORD_E##name,
    ORD_ERR_MAP(X)
#undef X
    ORD__END
};

/* Name ("ORD_ENOTFOUND"), message, HTTP status and slug of a code.  Unknown
 * codes give "ORD_EUNKNOWN"/500.  The strings are static. */
const char *err_name(int code);
const char *err_msg(int code);
int err_http_status(int code);
const char *err_slug(int code);

#endif
