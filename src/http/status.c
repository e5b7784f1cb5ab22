/* status.c - the one map from orderly's error codes (lib/err.h) to HTTP:
 * the status each code answers with and its problem+json type slug
 * (https://orderly.dev/problems/<slug>).  Every code of ORD_ERR_MAP has a
 * row here (asserted at compile time by count, and by test_http by value).
 */
#include "http/server.h"
#include "lib/count.h"
#include "lib/err.h"

/*      code          status slug */
#define HTTP_ERR_MAP(X) \
    X(NOMEM,      503, "out-of-memory") \
    X(INVAL,      400, "invalid-request") \
    X(AUTH,       401, "unauthorized") \
    X(FORBIDDEN,  403, "forbidden") \
    X(TOOMANY,    429, "too-many-requests") \
    X(HOST,       421, "misdirected-request") \
    X(VALIDATION, 422, "validation-error") \
    X(JSON,       400, "malformed-json") \
    X(NOTFOUND,   404, "not-found") \
    X(EXISTS,     409, "already-exists") \
    X(CONFLICT,   409, "conflict") \
    X(CONDITION,  409, "condition-failed") \
    X(RECEIPT,    410, "receipt-invalid") \
    X(TOOBIG,     413, "payload-too-large") \
    X(MEDIATYPE,  415, "unsupported-media-type") \
    X(METHOD,     405, "method-not-allowed") \
    X(URITOOLONG, 414, "uri-too-long") \
    X(HEADERS,    431, "headers-too-large") \
    X(LIMIT,      400, "limit-exceeded") \
    X(BUSY,       503, "overloaded") \
    X(FULL,       503, "queue-full") \
    X(SHUTDOWN,   503, "shutting-down") \
    X(NOTREADY,   503, "not-ready") \
    X(TIMEOUT,    504, "timeout") \
    X(STORE,      500, "store-error") \
    X(UNAVAILABLE, 503, "storage-unavailable") \
    X(IO,         500, "io-error") \
    X(INTERNAL,   500, "internal-error") \
    X(HANDLER,    500, "handler-failed") \
    X(DUPLICATE,  200, "duplicate") \
    X(CONFIG,     400, "config-error") \
    X(NOENV,      400, "environment-not-set") \
    X(USAGE,      400, "usage")

struct status_row {
    int status;
    const char *slug;
};

static const struct status_row rows[] = {
#define X(n, status, slug) [ORD_E##n - ORD__BASE - 1] = {status, slug},
    HTTP_ERR_MAP(X)
#undef X
};
_Static_assert(COUNT(rows) == ORD__END - ORD__BASE - 1, "every error code has an HTTP status");

static const struct status_row *row_of(int code)
{
    if (code <= ORD__BASE || code >= ORD__END) return 0;
    return &rows[code - ORD__BASE - 1];
}

int http_err_status(int code)
{
    const struct status_row *r = row_of(code);
    return code == 0 ? 200 : r && r->status ? r->status : 500;
}

const char *http_err_slug(int code)
{
    const struct status_row *r = row_of(code);
    return r && r->slug ? r->slug : "internal-error";
}
