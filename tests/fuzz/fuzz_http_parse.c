/* fuzz_http_parse.c - the HTTP/1.1 framing of src/http/parse.c: where a
 * request head ends (http_head_end), the head's parse (http_head_parse,
 * http_head_field) and the chunked decoder (http_chunked_decode).
 *
 * Input: the first byte selects the mode and seeds the piece sizes; the rest
 * is the data.  An even first byte ('H'): a request head, then whatever
 * follows it as a chunked body.  An odd one ('C'): a chunked body alone.
 *
 * Invariants:
 *  - http_head_end: the end found at once is the one a reference search
 *    finds (the first LF LF or LF CR LF after the leading empty lines), and
 *    the one found when the same bytes come in pieces (byte by byte and in
 *    pieces of varying sizes, the scan offset carried along, never past the
 *    data, never going back);
 *  - http_head_parse on the complete head: 0, ORD_EINVAL or ORD_EHEADERS;
 *    on success the method is a non-empty token, the target non-empty
 *    visible ASCII, minor 0 or 1, nfields <= LIMIT_HTTP_HEADER_FIELDS_MAX,
 *    every name a non-empty token, every value free of CR, LF, NUL and DEL
 *    with no blank at either end, all inside the buffer; http_head_field
 *    finds each name (in any case) at or before its place; and the head
 *    written out again parses to the same;
 *  - http_chunked_decode: at once, byte by byte and in pieces of varying
 *    sizes, the outcome (error, or done and the bytes consumed) agrees and
 *    the data is identical; each call consumes at most what it got, all of
 *    it unless done, and gives at most as much data as it consumed; done
 *    stays done; the data, coded again as one chunk, decodes to itself.
 */
#include "fuzz.h"
#include "http/parse.h"
#include <stdio.h>
#include <strings.h>

static const unsigned char tchar_ok[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1,
};

static int is_tchar(unsigned char c)
{
    return tchar_ok[c] || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

/* A small deterministic generator for piece sizes. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* ---- Head ------------------------------------------------------------------ */

/* The first blank line's end after the leading empty lines, or 0. */
static size_t ref_head_end(const char *b, size_t n)
{
    size_t i = 0;
    while (i + 1 < n && b[i] == '\r' && b[i + 1] == '\n')
        i += 2;
    for (; i < n; i++) {
        if (b[i] != '\n') continue;
        if (i + 1 < n && b[i + 1] == '\n') return i + 2;
        if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* Feeds b[0..n) in growing prefixes (the loop's buffer filling up), the next
 * prefix step bytes longer (step 0: from the generator); returns the end
 * found, 0 if none by n. */
static size_t head_end_pieces(const char *b, size_t n, size_t step, uint32_t *seed)
{
    size_t scanned = 0, have = 0;
    while (have < n) {
        size_t k = step ? step : 1 + rng_next(seed) % 37;
        have = n - have < k ? n : have + k;
        size_t before = scanned;
        size_t e = http_head_end(b, have, &scanned);
        if (e) {
            CHECK(e <= have);
            return e;
        }
        CHECK(scanned <= have);
        CHECK(scanned >= before);
    }
    return 0;
}

static void check_value(const struct http_field *f)
{
    CHECK(f->value[f->vlen] == 0);
    for (size_t k = 0; k < f->vlen; k++) {
        unsigned char c = (unsigned char)f->value[k];
        CHECK(c != '\r' && c != '\n' && c != 0 && c != 0x7f);
        CHECK(c == '\t' || c >= 0x20);
    }
    if (f->vlen) {
        CHECK(f->value[0] != ' ' && f->value[0] != '\t');
        CHECK(f->value[f->vlen - 1] != ' ' && f->value[f->vlen - 1] != '\t');
    }
}

/* Checks a successful parse of buf[0..n); fills what the round trip needs. */
static void check_head(const struct http_head *h, const char *buf, size_t n)
{
    const char *end = buf + n;
    CHECK(h->method >= buf && h->method < end);
    size_t ml = strlen(h->method);
    CHECK(ml > 0);
    for (size_t k = 0; k < ml; k++)
        CHECK(is_tchar((unsigned char)h->method[k]));
    CHECK(h->target > h->method && h->target < end);
    CHECK(h->target_len > 0 && strlen(h->target) == h->target_len);
    for (size_t k = 0; k < h->target_len; k++) {
        unsigned char c = (unsigned char)h->target[k];
        CHECK(c > 0x20 && c < 0x7f);
    }
    CHECK(h->minor == 0 || h->minor == 1);
    CHECK(h->nfields >= 0 && h->nfields <= LIMIT_HTTP_HEADER_FIELDS_MAX);
    for (int i = 0; i < h->nfields; i++) {
        const struct http_field *f = &h->fields[i];
        CHECK(f->name > h->target && f->name < end);
        CHECK(f->value >= f->name + f->nlen && f->value + f->vlen < end);
        CHECK(f->nlen > 0 && strlen(f->name) == f->nlen);
        for (size_t k = 0; k < f->nlen; k++)
            CHECK(is_tchar((unsigned char)f->name[k]));
        check_value(f);
        /* the look-up finds this name, in another case too, at or before i */
        const struct http_field *g = http_head_field(h, f->name);
        CHECK(g != NULL && g <= f && g->nlen == f->nlen && !strcasecmp(g->name, f->name));
        static char upper[LIMIT_HTTP_CONN_MEMORY_BYTES + 1];
        if (f->nlen < sizeof upper) {
            for (size_t k = 0; k <= f->nlen; k++)
                upper[k] =
                    (char)((f->name[k] >= 'a' && f->name[k] <= 'z') ? f->name[k] - 32 : f->name[k]);
            CHECK(http_head_field(h, upper) == g);
        }
        /* a list look-up over any value ends, and finds the value itself
         * when it is one plain token */
        int has = http_list_has(f->value, "close");
        if (f->vlen == 5 && !strcasecmp(f->value, "close")) CHECK(has);
        if (!strcasestr(f->value, "close")) CHECK(!has);
    }
}

/* Writes h out again (canonical form) and parses that: the same head. */
static void round_trip(const struct http_head *h)
{
    size_t cap = 64 + strlen(h->method) + h->target_len;
    for (int i = 0; i < h->nfields; i++)
        cap += h->fields[i].nlen + h->fields[i].vlen + 4;
    char *b = malloc(cap);
    CHECK(b != NULL);
    size_t n = (size_t)sprintf(b, "%s %s HTTP/1.%d\r\n", h->method, h->target, h->minor);
    for (int i = 0; i < h->nfields; i++) {
        memcpy(b + n, h->fields[i].name, h->fields[i].nlen);
        n += h->fields[i].nlen;
        memcpy(b + n, ": ", 2);
        n += 2;
        memcpy(b + n, h->fields[i].value, h->fields[i].vlen);
        n += h->fields[i].vlen;
        memcpy(b + n, "\r\n", 2);
        n += 2;
    }
    memcpy(b + n, "\r\n", 2);
    n += 2;
    CHECK(n <= cap);
    static struct http_head h2;
    size_t scanned = 0;
    CHECK(http_head_end(b, n, &scanned) == n);
    CHECK(http_head_parse(b, n, &h2) == 0);
    CHECK(!strcmp(h2.method, h->method));
    CHECK(h2.target_len == h->target_len && !memcmp(h2.target, h->target, h->target_len));
    CHECK(h2.minor == h->minor);
    CHECK(h2.nfields == h->nfields);
    for (int i = 0; i < h->nfields; i++) {
        CHECK(h2.fields[i].nlen == h->fields[i].nlen);
        CHECK(!memcmp(h2.fields[i].name, h->fields[i].name, h->fields[i].nlen));
        CHECK(h2.fields[i].vlen == h->fields[i].vlen);
        CHECK(!memcmp(h2.fields[i].value, h->fields[i].value, h->fields[i].vlen));
    }
    free(b);
}

/* Returns where the head ended (0: it did not). */
static size_t fuzz_head(const char *in, size_t n, uint32_t seed)
{
    size_t scanned = 0;
    size_t e = http_head_end(in, n, &scanned);
    CHECK(e <= n);
    CHECK(e == ref_head_end(in, n));
    if (!e) CHECK(scanned <= n);
    if (e) {
        CHECK(e >= 2 && in[e - 1] == '\n');
        CHECK(in[e - 2] == '\n' || (e >= 3 && in[e - 2] == '\r' && in[e - 3] == '\n'));
    }
    CHECK(head_end_pieces(in, n, 1, &seed) == e);
    CHECK(head_end_pieces(in, n, 0, &seed) == e);
    CHECK(head_end_pieces(in, n, 0, &seed) == e);
    if (!e) return 0;

    /* an exact-size copy: a read past the head is seen by ASan */
    char *b = malloc(e);
    CHECK(b != NULL);
    memcpy(b, in, e);
    static struct http_head h;
    int rc = http_head_parse(b, e, &h);
    CHECK(rc == 0 || rc == ORD_EINVAL || rc == ORD_EHEADERS);
    if (rc == 0) {
        check_head(&h, b, e);
        round_trip(&h);
    }
    free(b);
    return e;
}

/* ---- Chunked ---------------------------------------------------------------- */

struct outcome {
    long rc; /* ORD_EINVAL, or the bytes consumed in all */
    int done;
    char *data;
    size_t len;
};

/* Decodes in[0..n) in pieces (step bytes; 0: sizes from the generator),
 * each in a buffer of its own; stops at done or an error. */
static void decode(const char *in, size_t n, size_t step, uint32_t *seed, struct outcome *o)
{
    struct http_chunked c;
    memset(&c, 0, sizeof c);
    o->rc = 0;
    o->done = 0;
    o->len = 0;
    o->data = malloc(n ? n : 1);
    CHECK(o->data != NULL);
    size_t off = 0;
    do {
        size_t k =
            step ? step : (rng_next(seed) % 4 ? 1 + rng_next(seed) % 9 : rng_next(seed) % 300);
        if (k > n - off) k = n - off;
        char *piece = malloc(k ? k : 1);
        CHECK(piece != NULL);
        memcpy(piece, in + off, k);
        size_t data = (size_t)-1;
        int done = -1;
        long used = http_chunked_decode(&c, piece, k, &data, &done);
        if (used < 0) {
            CHECK(used == ORD_EINVAL);
            free(piece);
            o->rc = used;
            return;
        }
        CHECK((size_t)used <= k);
        CHECK(data <= (size_t)used);
        CHECK(done == 0 || done == 1);
        if (!done) CHECK((size_t)used == k);
        CHECK(o->len + data <= n);
        memcpy(o->data + o->len, piece, data);
        o->len += data;
        free(piece);
        off += (size_t)used;
        o->rc = (long)off;
        if (done) {
            o->done = 1;
            char more[] = "1\r\nx\r\n0\r\n\r\n";
            size_t d2 = 7;
            int done2 = 0;
            CHECK(http_chunked_decode(&c, more, sizeof more - 1, &d2, &done2) == 0);
            CHECK(done2 == 1 && d2 == 0);
            return;
        }
    } while (off < n);
}

static void fuzz_chunked(const char *in, size_t n, uint32_t seed)
{
    struct outcome whole, part;
    decode(in, n, n ? n : 1, &seed, &whole);
    CHECK(whole.len <= n);
    if (whole.rc >= 0) CHECK((size_t)whole.rc <= n);
    if (whole.rc >= 0 && !whole.done) CHECK((size_t)whole.rc == n);
    const size_t steps[] = {1, 0, 0, 0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        decode(in, n, steps[i], &seed, &part);
        CHECK(part.rc == whole.rc);
        CHECK(part.done == whole.done);
        if (whole.rc >= 0) {
            CHECK(part.len == whole.len);
            CHECK(!memcmp(part.data, whole.data, whole.len));
        }
        free(part.data);
    }
    if (whole.rc >= 0) {
        /* the data coded again as one chunk decodes to itself */
        char *re = malloc(whole.len + 64);
        CHECK(re != NULL);
        size_t k = 0;
        if (whole.len) {
            k = (size_t)sprintf(re, "%zx;e=1\r\n", whole.len);
            memcpy(re + k, whole.data, whole.len);
            k += whole.len;
            memcpy(re + k, "\r\n", 2);
            k += 2;
        }
        memcpy(re + k, "0\r\nT: v\r\n\r\n", 11);
        k += 11;
        decode(re, k, 0, &seed, &part);
        CHECK(part.rc == (long)k && part.done);
        CHECK(part.len == whole.len && !memcmp(part.data, whole.data, whole.len));
        free(part.data);
        free(re);
    }
    free(whole.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint32_t seed = (uint32_t)data[0] * 2654435761u + (uint32_t)size;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        fuzz_chunked(in, n, seed);
        return 0;
    }
    size_t e = fuzz_head(in, n, seed);
    if (e) fuzz_chunked(in + e, n - e, seed);
    return 0;
}
