/* parse.c - HTTP/1.1 request framing: see parse.h. */
#include "http/parse.h"
#include "lib/err.h"
#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2 tchar */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* a field value's byte: HTAB, SP, VCHAR, obs-text */
static int vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static size_t skip_empty_lines(const char *buf, size_t n)
{
    size_t i = 0;
    while (i + 1 < n && buf[i] == '\r' && buf[i + 1] == '\n')
        i += 2;
    return i;
}

size_t http_head_end(const char *buf, size_t n, size_t *scanned)
{
    size_t i = skip_empty_lines(buf, n);
    if (*scanned > i) i = *scanned;
    /* a blank line: "\n\n" or "\n\r\n" (a bare LF is malformed, and found
     * here so that it is answered, not waited on) */
    while (i < n) {
        const char *lf = memchr(buf + i, '\n', n - i);
        if (!lf) break;
        size_t j = (size_t)(lf - buf) + 1;
        if (j < n && buf[j] == '\n') return j + 1;
        if (j + 1 < n && buf[j] == '\r' && buf[j + 1] == '\n') return j + 2;
        if (j + 1 >= n) { /* the blank line may still come: look here again */
            *scanned = j - 1;
            return 0;
        }
        i = j;
    }
    *scanned = n;
    return 0;
}

int http_head_parse(char *buf, size_t n, struct http_head *h)
{
    char *p = buf + skip_empty_lines(buf, n), *end = buf + n;
    memset(h, 0, offsetof(struct http_head, fields));

    /* request-line = method SP request-target SP HTTP-version CRLF */
    h->method = p;
    while (p < end && tchar[(unsigned char)*p])
        p++;
    if (p == h->method || p >= end || *p != ' ') return ORD_EINVAL;
    *p++ = 0;
    h->target = p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == h->target || p >= end || *p != ' ') return ORD_EINVAL;
    h->target_len = (size_t)(p - h->target);
    *p++ = 0;
    if (end - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != '\r' || p[9] != '\n')
        return ORD_EINVAL;
    h->minor = p[7] - '0';
    p += 10;

    /* *( field-line CRLF ) CRLF */
    for (;;) {
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') return p + 2 == end ? 0 : ORD_EINVAL;
        char *name = p;
        while (p < end && tchar[(unsigned char)*p])
            p++;
        /* an empty name is also obs-fold (a line starting with a blank) */
        if (p == name || p >= end || *p != ':') return ORD_EINVAL;
        size_t nlen = (size_t)(p - name);
        *p++ = 0;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        char *value = p;
        while (p < end && *p != '\r' && vchar((unsigned char)*p))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return ORD_EINVAL;
        char *vend = p;
        while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        *vend = 0;
        p += 2;
        if (h->nfields == LIMIT_HTTP_HEADER_FIELDS_MAX) return ORD_EHEADERS;
        struct http_field *f = &h->fields[h->nfields++];
        f->name = name;
        f->nlen = nlen;
        f->value = value;
        f->vlen = (size_t)(vend - value);
    }
}

const struct http_field *http_head_field(const struct http_head *h, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < h->nfields; i++)
        if (h->fields[i].nlen == n && !strcasecmp(h->fields[i].name, name)) return &h->fields[i];
    return NULL;
}

int http_list_has(const char *v, const char *token)
{
    size_t tn = strlen(token);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tn && !strncasecmp(s, token, tn)) return 1;
    }
    return 0;
}

/* ---- Chunked ------------------------------------------------------------ */

enum {
    CK_SIZE = 0, /* hex digits of a chunk size */
    CK_EXT,      /* the rest of the size line: extensions, up to CR */
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER,      /* at the start of a trailer line, or the final CRLF */
    CK_TRAILER_LINE, /* inside a trailer field, up to CR */
    CK_TRAILER_LF,
    CK_END_LF,
    CK_DONE,
};

static int hexdigit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long http_chunked_decode(struct http_chunked *c, char *buf, size_t n, size_t *data, int *done)
{
    size_t i = 0, out = 0;
    *done = 0;
    while (i < n && c->state != CK_DONE) {
        unsigned char ch = (unsigned char)buf[i];
        int d;
        switch (c->state) {
        case CK_SIZE:
            if ((d = hexdigit(ch)) >= 0) {
                if (c->digits == 16) return ORD_EINVAL; /* past 2^64 */
                c->left = c->left << 4 | (uint64_t)d;
                c->digits++;
                i++;
                break;
            }
            if (!c->digits) return ORD_EINVAL;
            if (ch == '\r') {
                c->state = CK_SIZE_LF;
                i++;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = CK_EXT;
                c->line = 0;
            } else {
                return ORD_EINVAL;
            }
            break;
        case CK_EXT:
            if (ch == '\r') {
                c->state = CK_SIZE_LF;
            } else if (!vchar(ch) || ++c->line > LIMIT_HTTP_HEADER_BYTES_MAX) {
                return ORD_EINVAL;
            }
            i++;
            break;
        case CK_SIZE_LF:
            if (ch != '\n') return ORD_EINVAL;
            i++;
            c->digits = 0;
            c->state = c->left ? CK_DATA : CK_TRAILER;
            break;
        case CK_DATA: {
            size_t take = n - i;
            if (take > c->left) take = (size_t)c->left;
            memmove(buf + out, buf + i, take);
            out += take;
            i += take;
            c->left -= take;
            if (!c->left) c->state = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (ch != '\r') return ORD_EINVAL;
            c->state = CK_DATA_LF;
            i++;
            break;
        case CK_DATA_LF:
            if (ch != '\n') return ORD_EINVAL;
            c->state = CK_SIZE;
            i++;
            break;
        case CK_TRAILER:
            if (ch == '\r') {
                c->state = CK_END_LF;
                i++;
                break;
            }
            c->state = CK_TRAILER_LINE;
            break;
        case CK_TRAILER_LINE:
            if (ch == '\r') {
                c->state = CK_TRAILER_LF;
            } else if (!vchar(ch) || ++c->trailers > LIMIT_HTTP_HEADER_BYTES_MAX) {
                return ORD_EINVAL;
            }
            i++;
            break;
        case CK_TRAILER_LF:
            if (ch != '\n') return ORD_EINVAL;
            c->state = CK_TRAILER;
            i++;
            break;
        case CK_END_LF:
            if (ch != '\n') return ORD_EINVAL;
            c->state = CK_DONE;
            i++;
            break;
        }
    }
    *data = out;
    *done = c->state == CK_DONE;
    return (long)i;
}
