/* jdump.c - compact JSON text of a jansson value; see jdump.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/jdump.h"
#include "lib/limits.h"
#include "lib/utf8.h"

#define DEPTH_MAX (4 * LIMIT_JSON_DEPTH_MAX)

typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static int grow(buf *b, size_t more)
{
    if (b->oom) return -1;
    if (b->n + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put(buf *b, const char *s, size_t n)
{
    if (grow(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void putc1(buf *b, char c)
{
    if (grow(b, 1)) return;
    b->p[b->n++] = c;
}

/* A string with jansson's escapes: '"', '\', and characters below 0x20. */
static void put_string(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
    putc1(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(b, s + run, i - run);
        run = i + 1;
        char e[7] = {'\\', 0};
        size_t k = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            k = 6;
        }
        put(b, e, k);
    }
    put(b, s + run, n - run);
    putc1(b, '"');
}

/* A member's C string: as it is when it is valid UTF-8, else a copy made
 * so (utf8_scrub: '?' for every invalid byte, a sequence cut at the end
 * dropped).  A jansson string is valid by construction; a C string - an
 * error message cut with "%.64s", a value read back from a row - may not
 * be, and JSON text must be. */
static void put_cstring(buf *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char high = 0; /* ASCII needs no look (a loop the compiler vectorises) */
    for (size_t i = 0; i < n; i++) high |= (unsigned char)s[i];
    if (!(high & 0x80) || utf8_valid_prefix(s, n) == n) {
        put_string(b, s, n);
        return;
    }
    char *t = strdup(s);
    if (!t) {
        b->oom = 1;
        return;
    }
    utf8_scrub(t);
    put_string(b, t, strlen(t));
    free(t);
}

static void put_int(buf *b, json_int_t v)
{
    char t[24];
    int k = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, v);
    put(b, t, (size_t)k);
}

/* As jansson: %.17g, and ".0" when that reads as an integer. */
static int put_real(buf *b, double v)
{
    if (!isfinite(v)) return -1;
    char t[40];
    int k = snprintf(t, sizeof t, "%.17g", v);
    if (k <= 0 || (size_t)k >= sizeof t - 2) return -1;
    for (int i = 0; i < k; i++)
        if (t[i] == ',') t[i] = '.'; /* a locale's decimal comma */
    char *e = strchr(t, 'e');
    if (e) { /* as jansson: no '+' and no leading zeros in the exponent */
        char *d = e + 1, *src = e + 1;
        if (*src == '-') *d++ = *src++;
        else if (*src == '+') src++;
        while (*src == '0' && src[1]) src++;
        memmove(d, src, strlen(src) + 1);
        k = (int)strlen(t);
    }
    if (!strpbrk(t, ".eE")) {
        t[k++] = '.';
        t[k++] = '0';
    }
    put(b, t, (size_t)k);
    return 0;
}

static int emit(buf *b, const json_t *v, int depth)
{
    if (depth > DEPTH_MAX) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *m;
        int first = 1;
        putc1(b, '{');
        json_object_foreach((json_t *)v, key, m) {
            if (!first) putc1(b, ',');
            first = 0;
            put_string(b, key, strlen(key));
            putc1(b, ':');
            if (emit(b, m, depth + 1)) return -1;
        }
        putc1(b, '}');
        return 0;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        putc1(b, '[');
        json_array_foreach(v, i, m) {
            if (i) putc1(b, ',');
            if (emit(b, m, depth + 1)) return -1;
        }
        putc1(b, ']');
        return 0;
    }
    case JSON_STRING: put_string(b, json_string_value(v), json_string_length(v)); return 0;
    case JSON_INTEGER: put_int(b, json_integer_value(v)); return 0;
    case JSON_REAL: return put_real(b, json_real_value(v));
    case JSON_TRUE: put(b, "true", 4); return 0;
    case JSON_FALSE: put(b, "false", 5); return 0;
    case JSON_NULL: put(b, "null", 4); return 0;
    }
    return -1;
}

/* The text in b, NUL-terminated and handed over; NULL (b freed) after a failure. */
static char *finish(buf *b, int failed, size_t *len)
{
    if (failed || grow(b, 0)) {
        free(b->p);
        return NULL;
    }
    b->p[b->n] = 0;
    if (len) *len = b->n;
    return b->p;
}

char *jdump(const json_t *v, size_t *len)
{
    buf b = {0};
    return finish(&b, !v || emit(&b, v, 0), len);
}

char *jdump_members(const jdump_member *m, size_t n, size_t *len)
{
    buf b = {0};
    int failed = 0;
    putc1(&b, '{');
    for (size_t i = 0; i < n && !failed; i++) {
        if (i) putc1(&b, ',');
        put_cstring(&b, m[i].key);
        putc1(&b, ':');
        if (m[i].str)
            put_cstring(&b, m[i].str);
        else if (m[i].raw)
            put(&b, m[i].raw, strlen(m[i].raw));
        else
            failed = !m[i].val || emit(&b, m[i].val, 1);
    }
    putc1(&b, '}');
    return finish(&b, failed, len);
}
