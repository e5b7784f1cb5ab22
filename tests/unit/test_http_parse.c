/* test_http_parse.c - src/http/parse.c case by case: where a request head
 * ends (http_head_end, whole and in pieces), what http_head_parse accepts
 * and refuses (RFC 9112, strict), the field look-ups, and the chunked
 * decoder (http_chunked_decode) whole, byte by byte, and at its limits.
 * tests/fuzz/fuzz_http_parse.c checks the invariants on random input; these
 * pin the documented behaviour. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"
#include "lib/err.h"
#include "lib/limits.h"

#define S(lit) lit, sizeof lit - 1

/* ---- Helpers ------------------------------------------------------------- */

/* http_head_end over the whole buffer with a fresh scan offset. */
static size_t end_once(const char *buf, size_t n)
{
    size_t scanned = 0;
    return http_head_end(buf, n, &scanned);
}

/* Parses the head in s[0..n) (a copy: the parser writes NULs), checking
 * first that http_head_end finds its end exactly at n.  The copy is kept in
 * *keep (freed by the caller) since h points into it. */
static int parse_n(const char *s, size_t n, struct http_head *h, char **keep)
{
    cr_assert_eq(end_once(s, n), n, "the head's end is not at its last byte: %.*s", (int)n, s);
    char *b = malloc(n);
    cr_assert_not_null(b);
    memcpy(b, s, n);
    *keep = b;
    return http_head_parse(b, n, h);
}

static int parse_str(const char *s, struct http_head *h, char **keep)
{
    return parse_n(s, strlen(s), h, keep);
}

/* Parse result of a head given as a string; the copy freed here. */
static int parse_rc(const char *s)
{
    static struct http_head h;
    char *keep = NULL;
    int rc = parse_str(s, &h, &keep);
    free(keep);
    return rc;
}

static void assert_field(const struct http_field *f, const char *name, const char *value)
{
    cr_assert_not_null(f);
    cr_assert_eq(f->nlen, strlen(name));
    cr_assert_str_eq(f->name, name);
    cr_assert_eq(f->vlen, strlen(value), "value \"%s\" (%zu bytes), want \"%s\"", f->value, f->vlen,
                 value);
    cr_assert_str_eq(f->value, value);
}

/* ---- http_head_end ------------------------------------------------------- */

Test(http_head_end, whole_head_and_what_follows)
{
    const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(end_once(S(req)), sizeof req - 1);
    /* a body or the next request after it is not part of the head */
    const char more[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET";
    cr_assert_eq(end_once(S(more)), sizeof more - 1 - 5);
    /* not yet complete */
    cr_assert_eq(end_once(S("GET / HTTP/1.1\r\nHost: a\r\n")), 0);
    cr_assert_eq(end_once(S("GET / HTTP/1.1\r\nHost: a\r\n\r")), 0);
    cr_assert_eq(end_once(S("GET / HTTP/1.1")), 0);
    cr_assert_eq(end_once("", 0), 0);
}

Test(http_head_end, found_across_pieces_at_every_split)
{
    const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-Y: z\r\n\r\nBODY";
    size_t len = sizeof req - 1, want = len - 4;
    /* two pieces, split at every position */
    for (size_t k = 0; k <= len; k++) {
        size_t scanned = 0, e1 = http_head_end(req, k, &scanned);
        cr_assert_leq(scanned, k, "split %zu: scanned %zu past the data", k, scanned);
        if (k < want) {
            cr_assert_eq(e1, 0, "split %zu: end %zu before the head is in", k, e1);
            size_t e2 = http_head_end(req, len, &scanned);
            cr_assert_eq(e2, want, "split %zu: end %zu, want %zu", k, e2, want);
        } else {
            cr_assert_eq(e1, want, "split %zu", k);
        }
    }
    /* byte by byte: the scan offset only moves forward and the end is found
     * with the byte that completes it */
    size_t scanned = 0, last = 0;
    for (size_t k = 1; k <= len; k++) {
        size_t e = http_head_end(req, k, &scanned);
        if (k < want) {
            cr_assert_eq(e, 0, "prefix %zu", k);
            cr_assert_geq(scanned, last, "prefix %zu: scanned went back", k);
            cr_assert_leq(scanned, k);
            last = scanned;
        } else {
            cr_assert_eq(e, want, "prefix %zu", k);
            break;
        }
    }
    /* the scan offset really skips what was scanned: a head whose first
     * part was looked at is found from there on */
    scanned = 0;
    cr_assert_eq(http_head_end(req, 17, &scanned), 0); /* "GET /x HTTP/1.1\r\n" */
    cr_assert_gt(scanned, 0);
    cr_assert_leq(scanned, 17);
}

Test(http_head_end, leading_empty_lines_skipped)
{
    const char req[] = "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(end_once(S(req)), sizeof req - 1);
    /* empty lines alone are not a head: wait for the request line */
    cr_assert_eq(end_once(S("\r\n")), 0);
    cr_assert_eq(end_once(S("\r\n\r\n")), 0);
    cr_assert_eq(end_once(S("\r\n\r\n\r")), 0);
    /* fed byte by byte, the blank-looking start is not taken as the end */
    size_t scanned = 0, len = sizeof req - 1;
    for (size_t k = 1; k < len; k++)
        cr_assert_eq(http_head_end(req, k, &scanned), 0, "prefix %zu", k);
    cr_assert_eq(http_head_end(req, len, &scanned), len);

    struct http_head h;
    char *keep;
    cr_assert_eq(parse_str(req, &h, &keep), 0);
    cr_assert_str_eq(h.method, "GET");
    cr_assert_str_eq(h.target, "/");
    cr_assert_eq(h.nfields, 1);
    free(keep);
}

Test(http_head_end, bare_lf_is_found_and_refused)
{
    /* a bare LF ends a line for the search, so the head is answered (400)
     * rather than waited on */
    const char *bare[] = {
        "\n\n",
        "GET / HTTP/1.1\n\n",
        "GET / HTTP/1.1\r\nHost: a\n\n",
        "GET / HTTP/1.1\nHost: a\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\n",
    };
    for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++) {
        size_t n = strlen(bare[i]);
        cr_assert_eq(end_once(bare[i], n), n, "case %zu", i);
        /* also when the last byte comes alone */
        size_t scanned = 0;
        cr_assert_eq(http_head_end(bare[i], n - 1, &scanned), 0, "case %zu", i);
        cr_assert_eq(http_head_end(bare[i], n, &scanned), n, "case %zu in pieces", i);
        cr_assert_eq(parse_rc(bare[i]), ORD_EINVAL, "case %zu parsed", i);
    }
}

/* ---- http_head_parse: the request line ------------------------------------- */

Test(http_head_parse, method_target_version)
{
    struct http_head h;
    char *keep;
    const char req[] = "POST /api/orders?x=1&y=%20 HTTP/1.1\r\nHost: example\r\n"
                       "Content-Length: 12\r\n\r\n";
    cr_assert_eq(parse_str(req, &h, &keep), 0);
    cr_assert_str_eq(h.method, "POST");
    cr_assert_str_eq(h.target, "/api/orders?x=1&y=%20");
    cr_assert_eq(h.target_len, strlen("/api/orders?x=1&y=%20"));
    cr_assert_eq(h.minor, 1);
    cr_assert_eq(h.nfields, 2);
    assert_field(&h.fields[0], "Host", "example");
    assert_field(&h.fields[1], "Content-Length", "12");
    /* every pointer is into the buffer */
    cr_assert(h.method >= keep && h.method < keep + sizeof req - 1);
    cr_assert(h.target > keep && h.target < keep + sizeof req - 1);
    free(keep);

    cr_assert_eq(parse_str("GET /health HTTP/1.0\r\n\r\n", &h, &keep), 0);
    cr_assert_str_eq(h.method, "GET");
    cr_assert_str_eq(h.target, "/health");
    cr_assert_eq(h.minor, 0);
    cr_assert_eq(h.nfields, 0);
    free(keep);

    /* a method is any token; an absolute or asterisk target is the parser's
     * business only as bytes */
    cr_assert_eq(parse_str("M-SEARCH * HTTP/1.1\r\n\r\n", &h, &keep), 0);
    cr_assert_str_eq(h.method, "M-SEARCH");
    cr_assert_str_eq(h.target, "*");
    cr_assert_eq(h.target_len, 1);
    free(keep);
}

Test(http_head_parse, versions_other_than_1_0_and_1_1_refused)
{
    const char *bad[] = {
        "GET / HTTP/2.0\r\n\r\n",  "GET / HTTP/1.2\r\n\r\n", "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n", "GET / HTTP/1.\r\n\r\n",  "GET / HTTP/0.9\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n", "GET / HTTP/11\r\n\r\n",  "GET / Http/1.1\r\n\r\n",
        "GET /\r\n\r\n",           "GET / \r\n\r\n",         "GET / HTTP/1.1x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse_rc(bad[i]), ORD_EINVAL, "accepted: %s", bad[i]);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\n\r\n"), 0);
    cr_assert_eq(parse_rc("GET / HTTP/1.0\r\n\r\n"), 0);
}

Test(http_head_parse, malformed_request_lines_refused)
{
    const char *bad[] = {
        " / HTTP/1.1\r\n\r\n",       /* no method */
        "GET  / HTTP/1.1\r\n\r\n",   /* two spaces: empty target */
        "GET\t/ HTTP/1.1\r\n\r\n",   /* HTAB as separator */
        "GET /  HTTP/1.1\r\n\r\n",   /* two spaces before the version */
        "G(T / HTTP/1.1\r\n\r\n",    /* not a token */
        "GET / HTTP/1.1\rX\r\n\r\n", /* bare CR */
        "GET /a b HTTP/1.1\r\n\r\n", /* a space in the target */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse_rc(bad[i]), ORD_EINVAL, "accepted: %s", bad[i]);
}

Test(http_head_parse, control_chars_in_target_refused)
{
    for (int c = 0; c < 256; c++) {
        if (c == ' ' || c == '\n' || c == '\r') continue; /* those change the framing */
        char req[64];
        int n = snprintf(req, sizeof req, "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", c ? c : '@');
        if (!c) req[6] = 0; /* a NUL inside the target */
        int want = c > 0x20 && c < 0x7f ? 0 : ORD_EINVAL;
        static struct http_head h;
        char *keep;
        cr_assert_eq(parse_n(req, (size_t)n, &h, &keep), want, "target byte 0x%02x", c);
        if (!want) cr_assert_eq(h.target_len, 4);
        free(keep);
    }
}

/* ---- http_head_parse: fields --------------------------------------------- */

Test(http_head_parse, whitespace_before_colon_refused)
{
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n"), ORD_EINVAL);
    /* no colon, an empty name, a name that is not a token */
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nHost a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\n: a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nX(Y): a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nX\x80: a\r\n\r\n"), ORD_EINVAL);
    /* every tchar is a name byte */
    struct http_head h;
    char *keep;
    cr_assert_eq(parse_str("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n", &h, &keep), 0);
    assert_field(&h.fields[0], "!#$%&'*+-.^_`|~09AZaz", "v");
    free(keep);
}

Test(http_head_parse, obs_fold_refused)
{
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"), ORD_EINVAL);
    /* a first field line starting with a blank */
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), ORD_EINVAL);
    cr_assert_eq(parse_rc("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"), ORD_EINVAL);
}

Test(http_head_parse, control_chars_in_values_refused_obs_text_allowed)
{
    for (int c = 0; c < 256; c++) {
        if (c == '\n') continue; /* changes the framing; see bare_lf */
        char req[64];
        int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX-A: a%cb\r\n\r\n", c ? c : '@');
        if (!c) req[22] = 0; /* a NUL inside the value */
        int want = (c == '\t' || (c >= 0x20 && c != 0x7f)) ? 0 : ORD_EINVAL;
        static struct http_head h;
        char *keep;
        cr_assert_eq(parse_n(req, (size_t)n, &h, &keep), want, "value byte 0x%02x", c);
        if (!want) {
            cr_assert_eq(h.nfields, 1);
            cr_assert_eq(h.fields[0].vlen, 3, "value byte 0x%02x", c);
            cr_assert_eq((unsigned char)h.fields[0].value[1], c);
        }
        free(keep);
    }
    /* obs-text, a whole value of it */
    struct http_head h;
    char *keep;
    cr_assert_eq(parse_str("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9 \x80\xff\r\n\r\n", &h, &keep), 0);
    assert_field(&h.fields[0], "X-Name", "caf\xc3\xa9 \x80\xff");
    free(keep);
}

Test(http_head_parse, ows_trimmed_and_empty_values)
{
    struct http_head h;
    char *keep;
    const char req[] = "GET / HTTP/1.1\r\n"
                       "A: \t  inner  space \t \r\n"
                       "B:x\r\n"
                       "C:\r\n"
                       "D:   \t \r\n"
                       "E: a\tb\r\n"
                       "\r\n";
    cr_assert_eq(parse_str(req, &h, &keep), 0);
    cr_assert_eq(h.nfields, 5);
    assert_field(&h.fields[0], "A", "inner  space");
    assert_field(&h.fields[1], "B", "x");
    assert_field(&h.fields[2], "C", "");
    assert_field(&h.fields[3], "D", "");
    assert_field(&h.fields[4], "E", "a\tb");
    free(keep);
}

/* A head with n fields: Host and X-F-<i>. */
static char *head_with_fields(int n, size_t *len)
{
    size_t cap = 64 + (size_t)n * 32;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t k = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < n; i++)
        k += (size_t)(i ? sprintf(s + k, "X-F-%d: %d\r\n", i, i) : sprintf(s + k, "Host: a\r\n"));
    k += (size_t)sprintf(s + k, "\r\n");
    *len = k;
    return s;
}

Test(http_head_parse, field_count_limit)
{
    static struct http_head h;
    size_t n;
    char *keep;
    char *s = head_with_fields(LIMIT_HTTP_HEADER_FIELDS_MAX, &n);
    cr_assert_eq(parse_n(s, n, &h, &keep), 0);
    cr_assert_eq(h.nfields, LIMIT_HTTP_HEADER_FIELDS_MAX);
    char last[32];
    snprintf(last, sizeof last, "X-F-%d", LIMIT_HTTP_HEADER_FIELDS_MAX - 1);
    cr_assert_str_eq(h.fields[LIMIT_HTTP_HEADER_FIELDS_MAX - 1].name, last);
    cr_assert_not_null(http_head_field(&h, last));
    free(keep);
    free(s);

    s = head_with_fields(LIMIT_HTTP_HEADER_FIELDS_MAX + 1, &n);
    cr_assert_eq(parse_n(s, n, &h, &keep), ORD_EHEADERS);
    free(keep);
    free(s);

    s = head_with_fields(LIMIT_HTTP_HEADER_FIELDS_MAX * 3, &n);
    cr_assert_eq(parse_n(s, n, &h, &keep), ORD_EHEADERS);
    free(keep);
    free(s);

    s = head_with_fields(0, &n);
    cr_assert_eq(parse_n(s, n, &h, &keep), 0);
    cr_assert_eq(h.nfields, 0);
    free(keep);
    free(s);
}

Test(http_head_parse, a_head_reused_is_reset)
{
    static struct http_head h;
    char *k1, *k2;
    cr_assert_eq(parse_str("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", &h, &k1), 0);
    cr_assert_eq(h.nfields, 2);
    cr_assert_eq(parse_str("GET / HTTP/1.1\r\nHost: b\r\n\r\n", &h, &k2), 0);
    cr_assert_eq(h.nfields, 1);
    cr_assert_eq(h.minor, 1);
    cr_assert_null(http_head_field(&h, "A"));
    free(k1);
    free(k2);
}

/* ---- Look-ups --------------------------------------------------------------- */

Test(http_head_field, case_insensitive_first_wins)
{
    struct http_head h;
    char *keep;
    cr_assert_eq(parse_str("GET / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n"
                           "Content-Length: 6\r\nX-Hostname: no\r\n\r\n",
                           &h, &keep),
                 0);
    assert_field(http_head_field(&h, "CONTENT-LENGTH"), "content-length", "5");
    assert_field(http_head_field(&h, "Content-Length"), "content-length", "5");
    assert_field(http_head_field(&h, "hOsT"), "Host", "a");
    cr_assert_null(http_head_field(&h, "Hos"));
    cr_assert_null(http_head_field(&h, "Hostname"));
    cr_assert_null(http_head_field(&h, "Transfer-Encoding"));
    cr_assert_null(http_head_field(&h, ""));
    free(keep);
}

Test(http_list_has, tokens_of_a_comma_list)
{
    cr_assert(http_list_has("close", "close"));
    cr_assert(http_list_has("Close", "close"));
    cr_assert(http_list_has("keep-alive, close", "close"));
    cr_assert(http_list_has("keep-alive,CLOSE", "close"));
    cr_assert(http_list_has(" \tclose \t, x", "close"));
    cr_assert(http_list_has(",, ,close,,", "close"));
    cr_assert(http_list_has("gzip, chunked", "chunked"));
    cr_assert(http_list_has("gzip, chunked", "GZIP"));
    cr_assert_not(http_list_has("closed", "close"));
    cr_assert_not(http_list_has("unclose", "close"));
    cr_assert_not(http_list_has("clo se", "close"));
    cr_assert_not(http_list_has("keep-alive", "close"));
    cr_assert_not(http_list_has("", "close"));
    cr_assert_not(http_list_has(" , ,", "close"));
    cr_assert_not(http_list_has("close-ish, keep", "close"));
}

/* ---- Chunked ---------------------------------------------------------------- */

struct decoded {
    long rc; /* ORD_EINVAL, or the bytes consumed in all */
    int done;
    char data[65536]; /* the body */
    size_t len;
};

/* Decodes in[0..n) in pieces of step bytes (0: at once), each piece in a
 * buffer of its own as the loop hands it over; stops at done or an error. */
static void decode(const char *in, size_t n, size_t step, struct decoded *d)
{
    struct http_chunked c;
    memset(&c, 0, sizeof c);
    memset(d, 0, sizeof *d);
    size_t off = 0;
    if (!step) step = n ? n : 1;
    do {
        size_t k = n - off < step ? n - off : step;
        char *piece = malloc(k ? k : 1);
        cr_assert_not_null(piece);
        memcpy(piece, in + off, k);
        size_t data = 12345;
        int done = -1;
        long used = http_chunked_decode(&c, piece, k, &data, &done);
        if (used < 0) {
            free(piece);
            d->rc = used;
            return;
        }
        cr_assert_leq((size_t)used, k);
        cr_assert_leq(data, (size_t)used, "more data than bytes consumed");
        cr_assert(done == 0 || done == 1);
        if (!done) cr_assert_eq((size_t)used, k, "not done, yet bytes left over");
        cr_assert_leq(d->len + data, sizeof d->data);
        memcpy(d->data + d->len, piece, data);
        d->len += data;
        free(piece);
        off += (size_t)used;
        d->rc = (long)off;
        if (done) {
            d->done = 1;
            /* done stays done and takes nothing more */
            char more[] = "5\r\nhello\r\n";
            size_t data2 = 99;
            int done2 = 0;
            cr_assert_eq(http_chunked_decode(&c, more, sizeof more - 1, &data2, &done2), 0);
            cr_assert_eq(done2, 1);
            cr_assert_eq(data2, 0);
            return;
        }
    } while (off < n);
}

/* Decodes at once, byte by byte and in pieces of 2, 3, 7 and 64 bytes: all
 * must agree.  Returns the at-once result. */
static void decode_all_ways(const char *in, size_t n, struct decoded *d)
{
    static struct decoded other;
    decode(in, n, 0, d);
    cr_assert_leq(d->len, n);
    const size_t steps[] = {1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        decode(in, n, steps[i], &other);
        cr_assert_eq(other.rc, d->rc, "step %zu: rc %ld, at once %ld", steps[i], other.rc, d->rc);
        cr_assert_eq(other.done, d->done, "step %zu", steps[i]);
        if (d->rc < 0) continue; /* what came before the error is of no use */
        cr_assert_eq(other.len, d->len, "step %zu: %zu data bytes, at once %zu", steps[i],
                     other.len, d->len);
        cr_assert(!memcmp(other.data, d->data, d->len), "step %zu: other data", steps[i]);
    }
}

#define DECODE(lit, d) decode_all_ways(lit, sizeof lit - 1, d)

Test(http_chunked, single_chunk)
{
    static struct decoded d;
    const char in[] = "5\r\nhello\r\n0\r\n\r\n";
    DECODE(in, &d);
    cr_assert_eq(d.rc, sizeof in - 1);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, 5);
    cr_assert(!memcmp(d.data, "hello", 5));

    /* only the last chunk: an empty body */
    DECODE("0\r\n\r\n", &d);
    cr_assert_eq(d.rc, 5);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, 0);

    /* data in place: the decoded bytes are at the front of the buffer */
    char buf[] = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    struct http_chunked c = {0};
    size_t data;
    int done;
    cr_assert_eq(http_chunked_decode(&c, buf, sizeof buf - 1, &data, &done), (long)sizeof buf - 1);
    cr_assert_eq(done, 1);
    cr_assert_eq(data, 5);
    cr_assert(!memcmp(buf, "abcde", 5));
}

Test(http_chunked, many_chunks_byte_by_byte_same_as_at_once)
{
    static char in[65536];
    static char want[65536];
    static struct decoded d;
    size_t n = 0, wn = 0;
    const size_t sizes[] = {1, 2, 15, 16, 17, 255, 256, 1000, 4096, 3, 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        n += (size_t)sprintf(in + n, "%zx\r\n", sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++) {
            char ch = (char)('a' + (wn + k * 7) % 26);
            in[n++] = ch;
            want[wn + k] = ch;
        }
        wn += sizes[i];
        n += (size_t)sprintf(in + n, "\r\n");
    }
    n += (size_t)sprintf(in + n, "0\r\n\r\n");
    decode_all_ways(in, n, &d); /* at once, byte by byte and in other pieces */
    cr_assert_eq(d.rc, (long)n);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, wn);
    cr_assert(!memcmp(d.data, want, wn));
}

Test(http_chunked, extensions_read_and_dropped)
{
    static struct decoded d;
    const char in[] = "5;name=value;flag\r\nhello\r\n"
                      "6 ; q=\"quoted; string\"\r\n world\r\n"
                      "0;last=1\r\n\r\n";
    DECODE(in, &d);
    cr_assert_eq(d.rc, sizeof in - 1);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, 11);
    cr_assert(!memcmp(d.data, "hello world", 11));
    /* a control byte in an extension is malformed */
    DECODE("5;a=\x01\r\nhello\r\n0\r\n\r\n", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
    /* an extension line up to LIMIT_HTTP_HEADER_BYTES_MAX bytes, and past it */
    static char big[LIMIT_HTTP_HEADER_BYTES_MAX + 64];
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = 0;
        big[n++] = '1';
        size_t ext = LIMIT_HTTP_HEADER_BYTES_MAX + (size_t)extra; /* ";" and then 'x's */
        big[n++] = ';';
        memset(big + n, 'x', ext - 1);
        n += ext - 1;
        n += (size_t)sprintf(big + n, "\r\nZ\r\n0\r\n\r\n");
        decode(big, n, 0, &d);
        if (!extra) {
            cr_assert_eq(d.rc, (long)n, "an extension of the limit's length refused");
            cr_assert_eq(d.done, 1);
            cr_assert_eq(d.len, 1);
        } else {
            cr_assert_eq(d.rc, ORD_EINVAL, "an extension past the limit accepted");
        }
    }
}

Test(http_chunked, trailers_read_and_dropped)
{
    static struct decoded d;
    const char in[] = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t1 2\r\n\r\n";
    DECODE(in, &d);
    cr_assert_eq(d.rc, sizeof in - 1);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, 5);
    cr_assert(!memcmp(d.data, "hello", 5));
    /* a control byte or a bare LF in a trailer is malformed */
    DECODE("0\r\nX: \x7f\r\n\r\n", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
    DECODE("0\r\nX: 1\n\r\n", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
    /* the last CRLF must be one */
    DECODE("0\r\n\rX", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
}

Test(http_chunked, done_at_last_chunk_and_what_follows_not_consumed)
{
    char buf[] = "4\r\nwiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    size_t body = strlen("4\r\nwiki\r\n0\r\n\r\n");
    struct http_chunked c = {0};
    size_t data;
    int done;
    long used = http_chunked_decode(&c, buf, sizeof buf - 1, &data, &done);
    cr_assert_eq(used, (long)body);
    cr_assert_eq(done, 1);
    cr_assert_eq(data, 4);
    cr_assert(!memcmp(buf, "wiki", 4));
    /* the next request is untouched where it was */
    cr_assert(!memcmp(buf + used, "GET / HTTP/1.1\r\n", 16));

    /* not done until the final CRLF: the last chunk alone is not the end */
    struct http_chunked c2 = {0};
    char part[] = "4\r\nwiki\r\n0\r\n";
    cr_assert_eq(http_chunked_decode(&c2, part, sizeof part - 1, &data, &done),
                 (long)sizeof part - 1);
    cr_assert_eq(done, 0);
    cr_assert_eq(data, 4);
    char rest[] = "\r\nNEXT";
    cr_assert_eq(http_chunked_decode(&c2, rest, sizeof rest - 1, &data, &done), 2);
    cr_assert_eq(done, 1);
    cr_assert_eq(data, 0);

    /* an empty piece is no progress and no error */
    struct http_chunked c3 = {0};
    cr_assert_eq(http_chunked_decode(&c3, part, 0, &data, &done), 0);
    cr_assert_eq(done, 0);
    cr_assert_eq(data, 0);
}

Test(http_chunked, hex_sizes_upper_and_lower)
{
    static char in[1024];
    static struct decoded d;
    const char *sizes[] = {"aB", "Ab", "ff", "FF", "1f", "C", "0a"};
    const size_t vals[] = {0xab, 0xab, 0xff, 0xff, 0x1f, 0xc, 0xa};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = (size_t)sprintf(in, "%s\r\n", sizes[i]);
        memset(in + n, 'q', vals[i]);
        n += vals[i];
        n += (size_t)sprintf(in + n, "\r\n0\r\n\r\n");
        decode_all_ways(in, n, &d);
        cr_assert_eq(d.rc, (long)n, "size %s", sizes[i]);
        cr_assert_eq(d.done, 1);
        cr_assert_eq(d.len, vals[i], "size %s: %zu bytes", sizes[i], d.len);
    }
}

Test(http_chunked, sixteen_hex_digits_ok_seventeen_refused)
{
    static struct decoded d;
    DECODE("0000000000000005\r\nhello\r\n0\r\n\r\n", &d);
    cr_assert_eq(d.done, 1);
    cr_assert_eq(d.len, 5);
    DECODE("00000000000000005\r\nhello\r\n0\r\n\r\n", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
    /* 2^64 - 1: a size the decoder holds; the data that follows is taken */
    const char huge[] = "FFFFFFFFFFFFFFFF\r\nabc";
    DECODE(huge, &d);
    cr_assert_eq(d.rc, sizeof huge - 1);
    cr_assert_eq(d.done, 0);
    cr_assert_eq(d.len, 3);
    DECODE("10000000000000000\r\n", &d); /* 2^64 */
    cr_assert_eq(d.rc, ORD_EINVAL);
    DECODE("0000000000000000\r\n\r\n", &d); /* 16 zeros: the last chunk */
    cr_assert_eq(d.done, 1);
    DECODE("00000000000000000\r\n\r\n", &d);
    cr_assert_eq(d.rc, ORD_EINVAL);
}

Test(http_chunked, malformed_codings_refused)
{
    static struct decoded d;
    const char *bad[] = {
        "5\r\nhelloX\r\n0\r\n\r\n", /* data longer than its size */
        "5\r\nhell\r\n0\r\n\r\n",   /* shorter: the CRLF lands inside the data */
        "5\r\nhello\n0\r\n\r\n",    /* LF without CR after the data */
        "5\r\nhello\r0\r\n\r\n",    /* CR without LF */
        "5\r\nhello0\r\n\r\n",      /* no CRLF at all */
        "g\r\nhello\r\n0\r\n\r\n",  /* not hex */
        "0x5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n", /* empty size */
        ";x\r\nhello\r\n0\r\n\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",   /* bare LF after the size */
        "5\r\rhello\r\n0\r\n\r\n", /* CR CR */
        "0\r\n\n",                 /* bare LF as the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        decode_all_ways(bad[i], strlen(bad[i]), &d);
        cr_assert_eq(d.rc, ORD_EINVAL, "accepted: %s", bad[i]);
    }
}

Test(http_chunked, trailers_past_the_limit_refused)
{
    static char in[3 * LIMIT_HTTP_HEADER_BYTES_MAX];
    static struct decoded d;
    /* trailer bytes in all (without the line ends) at the limit: accepted */
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)sprintf(in, "1\r\nZ\r\n0\r\n");
        size_t total = LIMIT_HTTP_HEADER_BYTES_MAX + (size_t)extra, put = 0;
        /* several lines, so the limit is on the sum, not one line */
        while (put < total) {
            size_t line = total - put > 4000 ? 4000 : total - put;
            cr_assert_geq(line, 3);
            n += (size_t)sprintf(in + n, "X:");
            memset(in + n, 'v', line - 2);
            n += line - 2;
            n += (size_t)sprintf(in + n, "\r\n");
            put += line;
        }
        n += (size_t)sprintf(in + n, "\r\n");
        decode(in, n, 0, &d);
        if (!extra) {
            cr_assert_eq(d.rc, (long)n, "trailers of the limit's size refused");
            cr_assert_eq(d.done, 1);
            cr_assert_eq(d.len, 1);
        } else {
            cr_assert_eq(d.rc, ORD_EINVAL, "trailers past the limit accepted");
        }
        decode(in, n, 1, &d);
        cr_assert_eq(d.rc, extra ? ORD_EINVAL : (long)n, "byte by byte");
    }
}
