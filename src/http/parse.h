/* parse.h - HTTP/1.1 request framing (RFC 9112): the request head and the
 * chunked transfer coding.  Pure functions over a buffer: no sockets, no
 * allocation, so tests/fuzz/fuzz_http_parse.c runs this very code.
 *
 * DESIGN.  Strict, as a server facing the internet should be: CRLF line
 * ends only, no whitespace between a field name and its colon, no obsolete
 * line folding, no control characters in the target or a field value, the
 * versions HTTP/1.0 and HTTP/1.1 only - everything else is a 400 rather than
 * a guess that a proxy in front might guess differently (request smuggling).
 * Empty lines before the request line are skipped (RFC 9112 2.2).
 */
#ifndef ORDERLY_HTTP_PARSE_H
#define ORDERLY_HTTP_PARSE_H
#include "lib/limits.h"
#include <stddef.h>
#include <stdint.h>

struct http_field {
    const char *name, *value; /* NUL-terminated in the buffer; value without surrounding blanks */
    size_t nlen, vlen;
};

struct http_head {
    const char *method; /* NUL-terminated in the buffer */
    char *target;       /* the request target as sent (path and query) */
    size_t target_len;
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    int nfields;
    struct http_field fields[LIMIT_HTTP_HEADER_FIELDS_MAX];
};

/* Offset just past the blank line that ends a head in buf[0..n), or 0 while
 * it is incomplete.  *scanned (0 at first) remembers how far the search got,
 * so a head arriving in pieces is scanned once. */
size_t http_head_end(const char *buf, size_t n, size_t *scanned);

/* Parses the complete head buf[0..n) (n from http_head_end) into h, writing
 * NULs into buf.  0, or ORD_EINVAL (malformed: 400), ORD_EHEADERS (more than
 * LIMIT_HTTP_HEADER_FIELDS_MAX fields: 431). */
int http_head_parse(char *buf, size_t n, struct http_head *h);

/* The first field called name (ASCII case-insensitive), or NULL. */
const struct http_field *http_head_field(const struct http_head *h, const char *name);

/* 1 when the comma-separated list value holds token (ASCII case-insensitive). */
int http_list_has(const char *value, const char *token);

/* Decoder of a chunked body.  Zero-initialised to start. */
struct http_chunked {
    int state;
    uint64_t left;    /* data bytes left in the current chunk */
    size_t line;      /* bytes of the current size, extension or trailer line */
    size_t trailers;  /* bytes of trailer fields so far */
    int digits;
};

/* Decodes from buf[0..n) in place: the data found is moved to the front of
 * buf.  Returns the bytes consumed (>= 0) with *data set to the data bytes
 * now at buf[0..*data) and *done to 1 once the last chunk and the trailers
 * are in (nothing after the returned count belongs to this body), or
 * ORD_EINVAL for a malformed coding.  Chunk extensions and trailer fields
 * are read and dropped; a line longer than LIMIT_HTTP_HEADER_BYTES_MAX, or
 * trailers longer in all, is malformed. */
long http_chunked_decode(struct http_chunked *c, char *buf, size_t n, size_t *data, int *done);

#endif
