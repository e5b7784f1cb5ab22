/* pattern.c - EventBridge event-pattern compiler and matcher.
 *
 * pattern_compile() turns the pattern JSON into a small tree of nodes (one per
 * pattern object), fields and matchers, all carved from one arena owned by the
 * pattern; pattern_match() walks that tree beside the event without allocating.
 *
 * DESIGN
 *   node    = AND of its fields, and (when "$or" is present) OR of its branches
 *   field   = key + either a nested node or a leaf
 *   leaf    = OR of matchers; matches if some leaf value of the event field
 *             satisfies some matcher, or the field has no leaf value and the
 *             leaf holds {"exists": false}
 *   Everything a matcher needs at match time is precomputed: lowercased
 *   strings, numbers scaled to 6 decimals, CIDR network and mask bytes,
 *   wildcard literal segments.
 *
 * SEMANTIC CHOICES (event-ruler README@0816dfb0 and EventBridge user guide;
 * where they are silent, the choice is stated here)
 *   - Leaf values of an event field: the field's scalar, or every scalar in
 *     its array, arrays of arrays flattened.  Objects are not leaf values, so
 *     a field holding an object, [] or only objects has no leaf value.
 *   - Array-consistent matching: a nested pattern against an array of objects
 *     matches when ONE element matches all of it (also for exists:false, which
 *     is judged per element).  An array with no objects, a scalar or a missing
 *     field is treated as an object with no fields.
 *   - anything-but matches a present leaf value that none of its values or
 *     operators match; values of another type never match, so
 *     {"anything-but": 123} matches "abc", null and true.  For an array it
 *     needs just one such element (event-ruler judges each value on its own):
 *     ["a","b"] matches {"anything-but": "a"}.  A missing field never matches.
 *   - exists:true matches any present leaf value, null included; exists:false
 *     matches when there is none (key absent, object, [] or array of objects).
 *   - Numbers: numeric operands must lie in [-5e9, 5e9]; event values outside
 *     it never match numeric.  Numbers within it compare after rounding to 6
 *     decimals (so 3, 3.0 and 3.0000001 are equal); exact numbers outside it
 *     compare as int64 (both integers) or as doubles.  A string never equals a
 *     number.  numeric takes ["=", x], one lower bound (> or >=), one upper
 *     bound (< or <=), or one of each in either order; lower < upper.
 *   - prefix/suffix "" is accepted (matches any string); anything-but prefix
 *     or suffix "" is rejected as in event-ruler.  anything-but
 *     equals-ignore-case and wildcard take a string or a list of strings.
 *   - equals-ignore-case folds ASCII letters only.
 *   - cidr accepts /0../32 (IPv4) and /0../128 (IPv6); host bits in the
 *     pattern are masked off; an IPv4 address never matches an IPv6 block.
 *   - "$or" is an OR only when its value is an array of >= 2 objects in
 *     which no key is a reserved operator name; otherwise "$or" is an
 *     ordinary field name.  Empty objects are rejected.
 *   - Not emulated: event-ruler's key flattening ({"a.b":..} also matching
 *     {"a":{"b":..}}) and IP normalisation of exact string values.
 *
 * THREAD SAFETY
 *   A compiled pattern is never written after pattern_compile() returns, so
 *   pattern_match() may run on many threads at once.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/pattern.h"
#include "lib/count.h"
#include "lib/arena.h"
#include "lib/limits.h"
#include "lib/check.h"
#include "lib/err.h"

/* ---- Compiled form ---------------------------------------------------- */

enum mkind {
    MK_STR, /* exact string */
    MK_NUM, /* exact number */
    MK_TRUE,
    MK_FALSE,
    MK_NULL,
    MK_PREFIX,
    MK_SUFFIX,
    MK_PREFIX_CI, /* prefix, equals-ignore-case; s is lowercase */
    MK_SUFFIX_CI,
    MK_EQ_CI, /* equals-ignore-case; s is lowercase */
    MK_WILDCARD,
    MK_NUMERIC,
    MK_CIDR,
    MK_EXISTS,
    MK_ANYBUT,
};

struct str {
    const char *s;
    size_t len;
};

struct num {
    double d;
    int64_t i;     /* valid when is_int */
    int64_t micro; /* valid when in_range: round(d * 1e6) */
    bool is_int;
    bool in_range;
};

struct wild { /* literal segments; a '*' sits between each two */
    struct str *seg;
    size_t nseg;
};

struct range { /* bounds in micro units */
    int64_t lo, hi;
    bool has_lo, has_hi, lo_open, hi_open;
};

struct cidr {
    uint8_t net[16], mask[16];
    int len; /* 4 or 16 bytes */
};

struct matcher;
struct anybut { /* matches when no alternative matches */
    struct matcher *alt;
    size_t nalt;
};

struct matcher {
    enum mkind kind;
    union {
        struct str str;
        struct num num;
        struct wild wild;
        struct range range;
        struct cidr cidr;
        struct anybut anybut;
        bool exists;
    } u;
};

struct leaf {
    struct matcher *m;
    size_t n;
    bool exists_false; /* some matcher is {"exists": false} */
};

struct pnode;
struct field {
    const char *key;
    size_t key_len;
    struct pnode *child; /* nested object, or NULL for a leaf */
    struct leaf leaf;
};

struct pnode {
    struct field *fields;
    size_t nfields;
    struct pnode *branches; /* "$or" branches, nbranches >= 2, or none */
    size_t nbranches;
};

/* One arena per pattern: blocks freed together by pattern_free(). */
struct pattern {
    arena mem;
    struct pnode root;
};

#define ARENA_BLOCK_BYTES 4096

static void *arena_zalloc(pattern *p, size_t n)
{
    return arena_calloc(&p->mem, n);
}

/* ---- Compiler context and errors -------------------------------------- */

#define PATH_BYTES_MAX (LIMIT_PATTERN_BYTES_MAX + 64)

struct cc {
    pattern *p;
    char *err;
    size_t errlen;
    char path[PATH_BYTES_MAX];
    size_t path_len;
    int depth;
};

__attribute__((format(printf, 2, 3))) static int cc_fail(struct cc *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "%s: ", c->path_len ? c->path : "(root)");
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return ORD_EVALIDATION;
}

static int cc_oom(struct cc *c)
{
    if (c->err && c->errlen) snprintf(c->err, c->errlen, "out of memory");
    return ORD_ENOMEM;
}

/* Path helpers: push returns the mark that pop restores.  A path that does
 * not fit is cut short; it only feeds error messages. */
static size_t path_push_key(struct cc *c, const char *key, size_t key_len)
{
    size_t mark = c->path_len;
    size_t room = sizeof c->path - c->path_len;
    int n = snprintf(c->path + c->path_len, room, "%s%.*s", c->path_len ? "." : "",
                     key_len > (size_t)INT32_MAX ? INT32_MAX : (int)key_len, key);
    if (n > 0) c->path_len += (size_t)n < room ? (size_t)n : room - 1;
    return mark;
}

static size_t path_push_index(struct cc *c, size_t i)
{
    size_t mark = c->path_len;
    size_t room = sizeof c->path - c->path_len;
    int n = snprintf(c->path + c->path_len, room, "[%zu]", i);
    if (n > 0) c->path_len += (size_t)n < room ? (size_t)n : room - 1;
    return mark;
}

static void path_pop(struct cc *c, size_t mark)
{
    c->path_len = mark;
    c->path[mark] = '\0';
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

static bool key_is(const char *key, size_t key_len, const char *lit)
{
    size_t n = strlen(lit);
    return key_len == n && memcmp(key, lit, n) == 0;
}

/* Operator names event-ruler reserves; a "$or" branch using one as a key
 * makes "$or" an ordinary field name. */
bool pattern_key_is_reserved(const char *key, size_t key_len)
{
    static const char *const reserved[] = {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    };
    for (size_t i = 0; i < COUNT(reserved); i++)
        if (key_is(key, key_len, reserved[i])) return true;
    return false;
}

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Copies s[0..len) into the arena (NUL-terminated), lowercased if asked. */
static int cc_str(struct cc *c, const json_t *v, bool lower, struct str *out)
{
    size_t len = json_string_length(v);
    char *s = arena_zalloc(c->p, len + 1);
    if (!s) return cc_oom(c);
    memcpy(s, json_string_value(v), len);
    if (lower)
        for (size_t i = 0; i < len; i++)
            s[i] = ascii_lower(s[i]);
    out->s = s;
    out->len = len;
    return 0;
}

/* ---- Numbers ---------------------------------------------------------- */

static bool num_in_range(double d)
{
    return fabs(d) <= LIMIT_PATTERN_NUMBER_ABS_MAX; /* false for NaN */
}

static int64_t num_micro(double d)
{
    return (int64_t)llround(d * LIMIT_PATTERN_NUMBER_SCALE);
}

static void num_init(struct num *n, const json_t *v)
{
    n->d = json_number_value(v);
    n->is_int = json_is_integer(v);
    n->i = n->is_int ? (int64_t)json_integer_value(v) : 0;
    n->in_range = num_in_range(n->d);
    n->micro = n->in_range ? num_micro(n->d) : 0;
}

static bool num_equal(const struct num *n, const json_t *v)
{
    if (n->is_int && json_is_integer(v)) return n->i == (int64_t)json_integer_value(v);
    double d = json_number_value(v);
    if (n->in_range && num_in_range(d)) return n->micro == num_micro(d);
    return n->d == d;
}

enum numop { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_BAD };

static enum numop numop_parse(const char *s)
{
    if (!strcmp(s, "=")) return OP_EQ;
    if (!strcmp(s, "<")) return OP_LT;
    if (!strcmp(s, "<=")) return OP_LE;
    if (!strcmp(s, ">")) return OP_GT;
    if (!strcmp(s, ">=")) return OP_GE;
    return OP_BAD;
}

static int cc_numeric(struct cc *c, const json_t *v, struct matcher *m)
{
    struct range *r = &m->u.range;
    double lo = 0, hi = 0;
    size_t n = json_array_size(v);

    m->kind = MK_NUMERIC;
    if (!json_is_array(v))
        return cc_fail(c, "numeric: expected an array like [\">\", 0, \"<=\", 5], got %s",
                       type_name(v));
    if (n == 0) return cc_fail(c, "numeric: empty array");
    for (size_t i = 0; i < n; i += 2) {
        const json_t *opv = json_array_get(v, i), *xv = json_array_get(v, i + 1);
        if (!json_is_string(opv))
            return cc_fail(c,
                           "numeric: expected an operator (=, <, <=, >, >=) at index %zu, got %s",
                           i, type_name(opv));
        const char *ops = json_string_value(opv);
        enum numop op = numop_parse(ops);
        if (op == OP_BAD) return cc_fail(c, "numeric: unknown operator \"%s\"", ops);
        if (!xv || !json_is_number(xv))
            return cc_fail(c, "numeric: expected a number after \"%s\"", ops);
        double x = json_number_value(xv);
        if (!num_in_range(x)) return cc_fail(c, "numeric: %g is outside [-5e9, 5e9]", x);
        switch (op) {
        case OP_EQ:
            if (n != 2) return cc_fail(c, "numeric: \"=\" cannot be combined with other operators");
            r->has_lo = r->has_hi = true;
            lo = hi = x;
            break;
        case OP_GT:
        case OP_GE:
            if (r->has_lo) return cc_fail(c, "numeric: more than one lower bound (> or >=)");
            r->has_lo = true;
            r->lo_open = op == OP_GT;
            lo = x;
            break;
        case OP_LT:
        case OP_LE:
            if (r->has_hi) return cc_fail(c, "numeric: more than one upper bound (< or <=)");
            r->has_hi = true;
            r->hi_open = op == OP_LT;
            hi = x;
            break;
        case OP_BAD:
            CHECK(0);
        }
        if (op != OP_EQ && r->has_lo && r->has_hi && !(lo < hi))
            return cc_fail(c, "numeric: lower bound %g must be less than upper bound %g", lo, hi);
    }
    r->lo = num_micro(lo);
    r->hi = num_micro(hi);
    return 0;
}

/* ---- Strings: wildcard and CIDR ---------------------------------------- */

static int cc_wildcard(struct cc *c, const json_t *v, const char *op, struct matcher *m)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), stars = 0, nseg = 0, start = 0, out = 0;
    bool last_star = false;
    char *buf;

    m->kind = MK_WILDCARD;
    for (size_t i = 0; i < len; i++)
        stars += s[i] == '*';
    buf = arena_zalloc(c->p, len + 1);
    m->u.wild.seg = arena_zalloc(c->p, (stars + 1) * sizeof *m->u.wild.seg);
    if (!buf || !m->u.wild.seg) return cc_oom(c);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\') {
            if (i + 1 == len) return cc_fail(c, "%s: trailing backslash at offset %zu", op, i);
            if (s[i + 1] != '*' && s[i + 1] != '\\')
                return cc_fail(c, "%s: invalid escape \"\\%c\" at offset %zu (only \\* and \\\\)",
                               op, s[i + 1], i);
            buf[out++] = s[++i];
            last_star = false;
        } else if (s[i] == '*') {
            if (last_star) return cc_fail(c, "%s: consecutive '*' at offset %zu", op, i);
            m->u.wild.seg[nseg++] = (struct str){buf + start, out - start};
            start = out;
            last_star = true;
        } else {
            buf[out++] = s[i];
            last_star = false;
        }
    }
    m->u.wild.seg[nseg++] = (struct str){buf + start, out - start};
    m->u.wild.nseg = nseg;
    return 0;
}

/* Parses a NUL-free IP literal of at most 63 bytes; returns 4, 16 or 0. */
static int ip_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[64];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) return 4;
    if (inet_pton(AF_INET6, buf, out) == 1) return 16;
    return 0;
}

static int cc_cidr(struct cc *c, const json_t *v, struct matcher *m)
{
    struct cidr *r = &m->u.cidr;
    const char *s = json_string_value(v), *slash;
    size_t len = json_string_length(v), bits_len;
    uint8_t addr[16];
    unsigned bits = 0;

    m->kind = MK_CIDR;
    slash = memchr(s, '/', len);
    if (!slash || memchr(slash + 1, '/', len - (size_t)(slash + 1 - s)))
        return cc_fail(c, "cidr: expected \"address/bits\", got \"%s\"", s);
    bits_len = len - (size_t)(slash + 1 - s);
    if (bits_len == 0 || bits_len > 3)
        return cc_fail(c, "cidr: mask bits must be a decimal number in \"%s\"", s);
    for (size_t i = 0; i < bits_len; i++) {
        if (slash[1 + i] < '0' || slash[1 + i] > '9')
            return cc_fail(c, "cidr: mask bits must be a decimal number in \"%s\"", s);
        bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
    }
    r->len = ip_parse(s, (size_t)(slash - s), addr);
    if (!r->len) return cc_fail(c, "cidr: invalid IP address in \"%s\"", s);
    if (bits > (unsigned)r->len * 8)
        return cc_fail(c, "cidr: mask bits must be 0..%d for IPv%d, got %u", r->len * 8,
                       r->len == 4 ? 4 : 6, bits);
    for (int i = 0; i < r->len; i++) {
        unsigned take = bits >= 8 ? 8 : bits;
        r->mask[i] = (uint8_t)(take ? 0xffu << (8 - take) : 0);
        r->net[i] = addr[i] & r->mask[i];
        bits -= take;
    }
    return 0;
}

/* ---- Operators -------------------------------------------------------- */

/* {"equals-ignore-case": "x"} as the value of prefix or suffix. */
static const json_t *ci_inner(const json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1) return NULL;
    const json_t *s = json_object_get(v, "equals-ignore-case");
    return json_is_string(s) ? s : NULL;
}

/* anything-but's operator forms: a string, or a non-empty list of strings,
 * each compiled into one alternative of the given kind. */
static int cc_anybut_strings(struct cc *c, const json_t *v, const char *op, enum mkind kind,
                             struct anybut *ab)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    int rc = 0;

    if (json_is_array(v) && n == 0) return cc_fail(c, "anything-but: %s: empty list", op);
    ab->alt = arena_zalloc(c->p, n * sizeof *ab->alt);
    if (!ab->alt) return cc_oom(c);
    ab->nalt = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        struct matcher *m = &ab->alt[i];
        if (!json_is_string(s))
            return cc_fail(c, "anything-but: %s: expected a string%s, got %s", op,
                           kind == MK_EQ_CI || kind == MK_WILDCARD ? " or a list of strings" : "",
                           type_name(s));
        m->kind = kind;
        if (kind == MK_WILDCARD) {
            rc = cc_wildcard(c, s, "anything-but: wildcard", m);
        } else {
            if ((kind == MK_PREFIX || kind == MK_SUFFIX) && json_string_length(s) == 0)
                return cc_fail(c, "anything-but: %s must not be empty", op);
            rc = cc_str(c, s, kind == MK_EQ_CI, &m->u.str);
        }
        if (rc) return rc;
    }
    return 0;
}

static int cc_anything_but(struct cc *c, const json_t *v, struct matcher *m)
{
    struct anybut *ab = &m->u.anybut;
    m->kind = MK_ANYBUT;

    if (json_is_string(v) || json_is_number(v)) {
        ab->alt = arena_zalloc(c->p, sizeof *ab->alt);
        if (!ab->alt) return cc_oom(c);
        ab->nalt = 1;
        if (json_is_number(v)) {
            ab->alt[0].kind = MK_NUM;
            num_init(&ab->alt[0].u.num, v);
            return 0;
        }
        ab->alt[0].kind = MK_STR;
        return cc_str(c, v, false, &ab->alt[0].u.str);
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v), nstr = 0, nnum = 0;
        if (n == 0) return cc_fail(c, "anything-but: empty list");
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (json_is_string(e))
                nstr++;
            else if (json_is_number(e))
                nnum++;
            else
                return cc_fail(c,
                               "anything-but: list values must be strings or numbers, got %s "
                               "at index %zu",
                               type_name(e), i);
        }
        if (nstr && nnum) return cc_fail(c, "anything-but: list mixes strings and numbers");
        ab->alt = arena_zalloc(c->p, n * sizeof *ab->alt);
        if (!ab->alt) return cc_oom(c);
        ab->nalt = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (json_is_number(e)) {
                ab->alt[i].kind = MK_NUM;
                num_init(&ab->alt[i].u.num, e);
            } else {
                int rc = cc_str(c, e, false, &ab->alt[i].u.str);
                ab->alt[i].kind = MK_STR;
                if (rc) return rc;
            }
        }
        return 0;
    }
    if (json_is_object(v)) {
        const char *key;
        size_t key_len;
        const json_t *inner;
        if (json_object_size(v) != 1)
            return cc_fail(c, "anything-but: an operator object must have exactly one key, got %zu",
                           json_object_size(v));
        json_object_keylen_foreach((json_t *)v, key, key_len, inner)
        {
            if (key_is(key, key_len, "prefix"))
                return cc_anybut_strings(c, inner, "prefix", MK_PREFIX, ab);
            if (key_is(key, key_len, "suffix"))
                return cc_anybut_strings(c, inner, "suffix", MK_SUFFIX, ab);
            if (key_is(key, key_len, "equals-ignore-case"))
                return cc_anybut_strings(c, inner, "equals-ignore-case", MK_EQ_CI, ab);
            if (key_is(key, key_len, "wildcard"))
                return cc_anybut_strings(c, inner, "wildcard", MK_WILDCARD, ab);
            return cc_fail(c,
                           "anything-but: unsupported operator \"%s\" (prefix, suffix, "
                           "equals-ignore-case or wildcard)",
                           key);
        }
    }
    return cc_fail(c,
                   "anything-but: expected a string, a number, a list of strings or numbers, "
                   "or an operator object, got %s",
                   type_name(v));
}

/* One operator object of a leaf array, e.g. {"prefix": "us-"}. */
static int cc_operator(struct cc *c, const json_t *obj, struct matcher *m)
{
    const char *key = NULL;
    size_t key_len = 0;
    const json_t *v = NULL, *ci;

    if (json_object_size(obj) != 1)
        return cc_fail(c, "an operator object must have exactly one key, got %zu",
                       json_object_size(obj));
    json_object_keylen_foreach((json_t *)obj, key, key_len, v) break;

    if (key_is(key, key_len, "prefix") || key_is(key, key_len, "suffix")) {
        bool pre = key[0] == 'p';
        if (json_is_string(v)) {
            m->kind = pre ? MK_PREFIX : MK_SUFFIX;
            return cc_str(c, v, false, &m->u.str);
        }
        if ((ci = ci_inner(v))) {
            m->kind = pre ? MK_PREFIX_CI : MK_SUFFIX_CI;
            return cc_str(c, ci, true, &m->u.str);
        }
        return cc_fail(c, "%s: expected a string or {\"equals-ignore-case\": string}, got %s", key,
                       type_name(v));
    }
    if (key_is(key, key_len, "equals-ignore-case")) {
        if (!json_is_string(v))
            return cc_fail(c, "equals-ignore-case: expected a string, got %s", type_name(v));
        m->kind = MK_EQ_CI;
        return cc_str(c, v, true, &m->u.str);
    }
    if (key_is(key, key_len, "wildcard")) {
        if (!json_is_string(v))
            return cc_fail(c, "wildcard: expected a string, got %s", type_name(v));
        return cc_wildcard(c, v, "wildcard", m);
    }
    if (key_is(key, key_len, "anything-but")) return cc_anything_but(c, v, m);
    if (key_is(key, key_len, "numeric")) return cc_numeric(c, v, m);
    if (key_is(key, key_len, "exists")) {
        if (!json_is_boolean(v))
            return cc_fail(c, "exists: expected true or false, got %s", type_name(v));
        m->kind = MK_EXISTS;
        m->u.exists = json_is_true(v);
        return 0;
    }
    if (key_is(key, key_len, "cidr")) {
        if (!json_is_string(v)) return cc_fail(c, "cidr: expected a string, got %s", type_name(v));
        return cc_cidr(c, v, m);
    }
    return cc_fail(c, "unknown operator \"%s\"", key);
}

/* ---- Objects, leaves and $or ------------------------------------------ */

static int cc_object(struct cc *c, const json_t *obj, struct pnode *out);

static int cc_leaf(struct cc *c, const json_t *arr, struct leaf *leaf)
{
    size_t n = json_array_size(arr);
    int rc = 0;

    if (n == 0) return cc_fail(c, "empty array; a leaf needs at least one value");
    leaf->m = arena_zalloc(c->p, n * sizeof *leaf->m);
    if (!leaf->m) return cc_oom(c);
    leaf->n = n;
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *v = json_array_get(arr, i);
        struct matcher *m = &leaf->m[i];
        size_t mark = path_push_index(c, i);
        switch (json_typeof(v)) {
        case JSON_STRING:
            m->kind = MK_STR;
            rc = cc_str(c, v, false, &m->u.str);
            break;
        case JSON_INTEGER:
        case JSON_REAL:
            m->kind = MK_NUM;
            num_init(&m->u.num, v);
            break;
        case JSON_TRUE:
            m->kind = MK_TRUE;
            break;
        case JSON_FALSE:
            m->kind = MK_FALSE;
            break;
        case JSON_NULL:
            m->kind = MK_NULL;
            break;
        case JSON_OBJECT:
            rc = cc_operator(c, v, m);
            if (!rc && m->kind == MK_EXISTS && !m->u.exists) leaf->exists_false = true;
            break;
        case JSON_ARRAY:
            rc = cc_fail(c, "expected a string, number, true, false, null or operator object, "
                            "got an array");
            break;
        }
        path_pop(c, mark);
    }
    return rc;
}

/* Whether obj (an object inside a "$or" branch) uses a reserved key at any
 * depth; depth is bounded so a hostile pattern cannot recurse far. */
static bool or_uses_reserved(const json_t *obj, int depth)
{
    const char *key;
    size_t key_len;
    const json_t *v;

    if (depth > LIMIT_PATTERN_DEPTH_MAX) return false; /* cc_object rejects it anyway */
    json_object_keylen_foreach((json_t *)obj, key, key_len, v)
    {
        if (pattern_key_is_reserved(key, key_len)) return true;
        if (json_is_object(v) && or_uses_reserved(v, depth + 1)) return true;
        if (key_is(key, key_len, "$or") && json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                const json_t *e = json_array_get(v, i);
                if (json_is_object(e) && or_uses_reserved(e, depth + 1)) return true;
            }
        }
    }
    return false;
}

static bool or_is_valid(const json_t *v, int depth)
{
    if (!json_is_array(v) || json_array_size(v) < 2) return false;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_object(e) || or_uses_reserved(e, depth + 1)) return false;
    }
    return true;
}

static int cc_field(struct cc *c, const char *key, size_t key_len, const json_t *v, struct field *f)
{
    size_t mark = path_push_key(c, key, key_len);
    char *k = arena_zalloc(c->p, key_len + 1);
    int rc = 0;

    if (!k) {
        rc = cc_oom(c);
        goto out;
    }
    memcpy(k, key, key_len);
    f->key = k;
    f->key_len = key_len;
    if (json_is_object(v)) {
        f->child = arena_zalloc(c->p, sizeof *f->child);
        rc = f->child ? cc_object(c, v, f->child) : cc_oom(c);
    } else if (json_is_array(v)) {
        rc = cc_leaf(c, v, &f->leaf);
    } else {
        rc = cc_fail(c, "expected an array of values or a nested object, got %s", type_name(v));
    }
out:
    path_pop(c, mark);
    return rc;
}

static int cc_object(struct cc *c, const json_t *obj, struct pnode *out)
{
    const char *key;
    size_t key_len, nf = 0;
    const json_t *v, *orv;
    bool has_or;
    int rc = 0;

    if (++c->depth > LIMIT_PATTERN_DEPTH_MAX) {
        rc = cc_fail(c, "pattern nests deeper than %d objects", LIMIT_PATTERN_DEPTH_MAX);
        goto out;
    }
    if (json_object_size(obj) == 0) {
        rc = cc_fail(c, "empty object is not allowed");
        goto out;
    }
    orv = json_object_get(obj, "$or");
    has_or = orv && or_is_valid(orv, c->depth);
    out->nfields = json_object_size(obj) - (has_or ? 1 : 0);
    if (out->nfields) {
        out->fields = arena_zalloc(c->p, out->nfields * sizeof *out->fields);
        if (!out->fields) {
            rc = cc_oom(c);
            goto out;
        }
    }
    json_object_keylen_foreach((json_t *)obj, key, key_len, v)
    {
        if (has_or && key_is(key, key_len, "$or")) continue;
        CHECK(nf < out->nfields);
        rc = cc_field(c, key, key_len, v, &out->fields[nf++]);
        if (rc) goto out;
    }
    if (has_or) {
        size_t nb = json_array_size(orv);
        out->branches = arena_zalloc(c->p, nb * sizeof *out->branches);
        if (!out->branches) {
            rc = cc_oom(c);
            goto out;
        }
        out->nbranches = nb;
        for (size_t i = 0; i < nb && !rc; i++) {
            size_t mark = path_push_key(c, "$or", 3);
            path_push_index(c, i);
            rc = cc_object(c, json_array_get(orv, i), &out->branches[i]);
            path_pop(c, mark);
        }
    }
out:
    c->depth--;
    return rc;
}

/* ---- Public: compile -------------------------------------------------- */

void pattern_free(pattern *p)
{
    if (!p) return;
    arena_reset(&p->mem);
    free(p);
}

int pattern_compile(const json_t *pat, pattern **out, char *err, size_t errlen)
{
    struct cc *c = NULL;
    pattern *p = NULL;
    int rc = 0;

    CHECK(out != NULL);
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    c = calloc(1, sizeof *c); /* the path buffer is too big for a worker's stack */
    p = calloc(1, sizeof *p);
    if (p) arena_init(&p->mem, NULL, 0, ARENA_BLOCK_BYTES, LIMIT_PATTERN_ARENA_BYTES_MAX);
    if (!c || !p) {
        rc = ORD_ENOMEM;
        if (err && errlen) snprintf(err, errlen, "out of memory");
        goto out;
    }
    c->p = p;
    c->err = err;
    c->errlen = errlen;
    if (!pat || !json_is_object(pat)) {
        rc = cc_fail(c, "pattern must be a JSON object, got %s", pat ? type_name(pat) : "nothing");
        goto out;
    }
    rc = cc_object(c, pat, &p->root);
    if (rc) goto out;
    /* Checked after compiling: the compiler bounded the depth, so dumping
     * cannot recurse without limit. */
    size_t bytes = json_dumpb(pat, NULL, 0, JSON_COMPACT);
    if (bytes > LIMIT_PATTERN_BYTES_MAX) {
        rc = cc_fail(c, "pattern is %zu bytes of JSON, more than %d", bytes,
                     LIMIT_PATTERN_BYTES_MAX);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    pattern_free(p);
    free(c);
    return rc;
}

int pattern_compile_str(const char *json, size_t len, pattern **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    int rc = 0;

    CHECK(out != NULL);
    CHECK(json != NULL || len == 0);
    *out = NULL;
    if (len > LIMIT_PATTERN_BYTES_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "(root): pattern is %zu bytes, more than %d", len,
                     LIMIT_PATTERN_BYTES_MAX);
        rc = ORD_EVALIDATION;
        goto out;
    }
    root = json_loadb(json ? json : "", len,
                      JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            rc = ORD_ENOMEM;
            if (err && errlen) snprintf(err, errlen, "out of memory");
        } else {
            rc = ORD_EJSON;
            if (err && errlen)
                snprintf(err, errlen, "invalid JSON at line %d column %d (byte %d): %s", jerr.line,
                         jerr.column, jerr.position, jerr.text);
        }
        goto out;
    }
    rc = pattern_compile(root, out, err, errlen);
out:
    json_decref(root);
    return rc;
}

/* ---- Matching --------------------------------------------------------- */

static bool ci_equal(const char *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != lower[i]) return false;
    return true;
}

static bool wild_match(const struct wild *w, const char *s, size_t len)
{
    const struct str *first = &w->seg[0], *last = &w->seg[w->nseg - 1];
    size_t pos, end;

    if (w->nseg == 1) return len == first->len && memcmp(s, first->s, len) == 0;
    if (len < first->len + last->len) return false;
    if (memcmp(s, first->s, first->len) || memcmp(s + len - last->len, last->s, last->len))
        return false;
    pos = first->len;
    end = len - last->len;
    /* Greedy leftmost placement of the middle segments is optimal for
     * patterns whose only metacharacter is '*'. */
    for (size_t k = 1; k + 1 < w->nseg; k++) {
        const struct str *g = &w->seg[k];
        const char *hit = memmem(s + pos, end - pos, g->s, g->len);
        if (!hit) return false;
        pos = (size_t)(hit - s) + g->len;
    }
    return true;
}

static bool cidr_match(const struct cidr *r, const json_t *v)
{
    uint8_t addr[16];
    if (!json_is_string(v)) return false;
    if (ip_parse(json_string_value(v), json_string_length(v), addr) != r->len) return false;
    for (int i = 0; i < r->len; i++)
        if ((addr[i] & r->mask[i]) != r->net[i]) return false;
    return true;
}

static bool range_match(const struct range *r, const json_t *v)
{
    if (!json_is_number(v)) return false;
    double d = json_number_value(v);
    if (!num_in_range(d)) return false;
    int64_t x = num_micro(d);
    if (r->has_lo && (r->lo_open ? x <= r->lo : x < r->lo)) return false;
    if (r->has_hi && (r->hi_open ? x >= r->hi : x > r->hi)) return false;
    return true;
}

/* Whether one scalar event value v satisfies m. */
static bool value_match(const struct matcher *m, const json_t *v)
{
    const struct str *p = &m->u.str;
    const char *s = json_string_value(v); /* NULL unless v is a string */
    size_t len = s ? json_string_length(v) : 0;

    switch (m->kind) {
    case MK_STR:
        return s && len == p->len && memcmp(s, p->s, len) == 0;
    case MK_NUM:
        return json_is_number(v) && num_equal(&m->u.num, v);
    case MK_TRUE:
        return json_is_true(v);
    case MK_FALSE:
        return json_is_false(v);
    case MK_NULL:
        return json_is_null(v);
    case MK_PREFIX:
        return s && len >= p->len && memcmp(s, p->s, p->len) == 0;
    case MK_SUFFIX:
        return s && len >= p->len && memcmp(s + len - p->len, p->s, p->len) == 0;
    case MK_PREFIX_CI:
        return s && len >= p->len && ci_equal(s, p->s, p->len);
    case MK_SUFFIX_CI:
        return s && len >= p->len && ci_equal(s + len - p->len, p->s, p->len);
    case MK_EQ_CI:
        return s && len == p->len && ci_equal(s, p->s, len);
    case MK_WILDCARD:
        return s && wild_match(&m->u.wild, s, len);
    case MK_NUMERIC:
        return range_match(&m->u.range, v);
    case MK_CIDR:
        return cidr_match(&m->u.cidr, v);
    case MK_EXISTS:
        return m->u.exists;
    case MK_ANYBUT:
        for (size_t i = 0; i < m->u.anybut.nalt; i++)
            if (value_match(&m->u.anybut.alt[i], v)) return false;
        return true;
    }
    return false;
}

/* Whether some leaf value under v satisfies the leaf; counts leaf values
 * seen in *nvals (complete only when it returns false). */
static bool leaf_any(const struct leaf *l, const json_t *v, size_t *nvals)
{
    if (!v || json_is_object(v)) return false;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (leaf_any(l, json_array_get(v, i), nvals)) return true;
        return false;
    }
    (*nvals)++;
    for (size_t i = 0; i < l->n; i++)
        if (value_match(&l->m[i], v)) return true;
    return false;
}

static bool leaf_match(const struct leaf *l, const json_t *v)
{
    size_t nvals = 0;
    if (leaf_any(l, v, &nvals)) return true;
    return nvals == 0 && l->exists_false;
}

static bool node_match(const struct pnode *n, const json_t *obj);

/* Array-consistent: some object element, in arrays of any nesting, must
 * match the whole node; *objects reports whether there was any. */
static bool array_match(const struct pnode *n, const json_t *arr, bool *objects)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        if (json_is_object(e)) {
            *objects = true;
            if (node_match(n, e)) return true;
        } else if (json_is_array(e) && array_match(n, e, objects)) {
            return true;
        }
    }
    return false;
}

static bool child_match(const struct pnode *n, const json_t *v)
{
    if (json_is_object(v)) return node_match(n, v);
    if (json_is_array(v)) {
        bool objects = false;
        if (array_match(n, v, &objects)) return true;
        if (objects) return false;
    }
    return node_match(n, NULL);
}

/* obj is an event object, or NULL for "no object here". */
static bool node_match(const struct pnode *n, const json_t *obj)
{
    for (size_t i = 0; i < n->nfields; i++) {
        const struct field *f = &n->fields[i];
        const json_t *v = obj ? json_object_getn(obj, f->key, f->key_len) : NULL;
        if (f->child ? !child_match(f->child, v) : !leaf_match(&f->leaf, v)) return false;
    }
    if (n->nbranches == 0) return true;
    for (size_t i = 0; i < n->nbranches; i++)
        if (node_match(&n->branches[i], obj)) return true;
    return false;
}

static bool node_uses_only(const struct pnode *n, const char *const *keys, size_t nkeys)
{
    for (size_t i = 0; i < n->nfields; i++) {
        const struct field *f = &n->fields[i];
        bool named = false;
        for (size_t k = 0; k < nkeys && !named; k++) named = key_is(f->key, f->key_len, keys[k]);
        if (f->child || !named) return false;
    }
    for (size_t i = 0; i < n->nbranches; i++)
        if (!node_uses_only(&n->branches[i], keys, nkeys)) return false;
    return true;
}

int pattern_uses_only(const pattern *p, const char *const *keys, size_t nkeys)
{
    CHECK(p != NULL);
    return node_uses_only(&p->root, keys, nkeys) ? 1 : 0;
}

int pattern_match(const pattern *p, const json_t *event)
{
    CHECK(p != NULL);
    return node_match(&p->root, json_is_object(event) ? event : NULL) ? 1 : 0;
}
