/* err.h - the one error table of orderly.
 *
 * Every failure is a negative int from this table (libuv UV_ERRNO_MAP style).
 * Each entry gives the code's name and a message.  Lower layers return codes;
 * the boundary (HTTP handler, CLI command) maps and logs them once: the HTTP
 * status and problem type of each code are in src/http/status.c.
 */
#ifndef ORDERLY_ERR_H
#define ORDERLY_ERR_H

/*        name                message */
#define ORD_ERR_MAP(X) \
    X(NOMEM,      "out of memory") \
    X(INVAL,      "invalid argument") \
    X(AUTH,       "authentication required") \
    X(FORBIDDEN,  "not allowed") \
    X(TOOMANY,    "too many requests") \
    X(HOST,       "this server does not answer for that host") \
    X(VALIDATION, "request failed validation") \
    X(JSON,       "malformed JSON") \
    X(NOTFOUND,   "no such resource") \
    X(EXISTS,     "resource already exists") \
    X(CONFLICT,   "conflicting state") \
    X(CONDITION,  "condition not met") \
    X(RECEIPT,    "receipt handle is stale or invalid") \
    X(TOOBIG,     "payload too large") \
    X(MEDIATYPE,  "content type must be application/json") \
    X(METHOD,     "method not allowed") \
    X(URITOOLONG, "request path too long") \
    X(HEADERS,    "request header fields too large") \
    X(LIMIT,      "a limit was exceeded") \
    X(BUSY,       "too many pending operations") \
    X(FULL,       "the queue holds its most messages") \
    X(SHUTDOWN,   "server is shutting down") \
    X(NOTREADY,   "server is not ready") \
    X(TIMEOUT,    "operation timed out") \
    X(STORE,      "storage error") \
    X(UNAVAILABLE, "storage unavailable: the write did not reach the disk") \
    X(IO,         "input/output error") \
    X(INTERNAL,   "internal error") \
    X(HANDLER,    "function handler failed") \
    X(DUPLICATE,  "duplicate event ignored") \
    X(CONFIG,     "invalid configuration") \
    X(NOENV,      "ENVIRONMENT is not set") \
    X(USAGE,      "invalid usage")

enum {
    ORD_OK = 0,
    ORD__BASE = -1000,
#define X(name, msg) ORD_E##name,
    ORD_ERR_MAP(X)
#undef X
    ORD__END
};

/* Name ("ORD_ENOTFOUND") and message of a code.  Unknown codes give
 * "ORD_EUNKNOWN".  The strings are static. */
const char *err_name(int code);
const char *err_msg(int code);

#endif
