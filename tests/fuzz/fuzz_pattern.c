/* fuzz_pattern.c - the event pattern compiler and matcher (bus/pattern.c),
 * pattern x event.
 *
 * Input: PATTERN NUL EVENT (both JSON text).  Without a NUL byte the whole
 * input is the pattern and it is matched against a few sample envelopes.
 *
 * Invariants: compiling answers 0, ORD_EVALIDATION or ORD_EJSON with a
 * message on failure; the text and the parsed-object entry points agree; a
 * pattern that compiles also compiles from its own compact serialisation
 * (round trip) and both match every event identically; matching never
 * crashes, is deterministic and gives the same answer for the event
 * re-parsed from its serialisation.
 *
 * And an oracle of what must match (pattern.c's SEMANTIC CHOICES): for each
 * leaf value v at a path of the event (through nested objects, arrays
 * flattened), patterns built from it - [v], exists:true, anything-but of
 * another value, prefix/suffix/equals-ignore-case/wildcard of a string,
 * numeric = and a range around a number, cidr of an address, each also as
 * one branch of a "$or" - must match, and exists:false must not.
 */
#include "bus/pattern.h"
#include "fuzz.h"
#include "lib/limits.h"
#include <arpa/inet.h>
#include <stdio.h>

static const char *const samples[] = {
    "{\"version\":\"0\",\"id\":\"0190b0d6-1c8e-7c4e-8c1d-2b7f7f0a0001\",\"detail-type\":"
    "\"OrderCreated\","
    "\"source\":\"orderly.orders\",\"account\":\"000000000000\",\"time\":\"2026-01-02T03:04:05Z\","
    "\"region\":\"local\",\"resources\":[],\"detail\":{\"orderId\":\"o-1\",\"customerId\":\"c-1\","
    "\"items\":[{\"sku\":\"PROD-001\",\"qty\":2},{\"sku\":\"FAIL-ME\",\"qty\":1}],\"totalCents\":"
    "1999,"
    "\"payment\":{\"token\":\"tok_visa\"},\"ip\":\"10.0.0.7\",\"flag\":true,\"none\":null}}",
    "{\"source\":\"aws.ec2\",\"detail-type\":\"EC2 Instance State-change Notification\","
    "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/"
    "i-1\"],\"detail\":{\"state\":\"running\","
    "\"price\":-3.5e2,\"c-count\":[1,2,3],\"location\":\"us-east-1a\",\"sourceIPAddress\":\"2001:"
    "db8::1\"}}",
    "{}",
};

#define DERIVED_MAX   8   /* leaves of one event turned into patterns */
#define DERIVED_DEPTH 16  /* deepest path used (the pattern limit is LIMIT_PATTERN_DEPTH_MAX) */
#define DERIVED_BYTES 512 /* longest string leaf used */

/* Wraps leaf (stolen) in the objects of path[0..n): {"a": {"b": leaf}}. */
static json_t *nest(const char *const *path, int n, json_t *leaf)
{
    for (int i = n - 1; i >= 0; i--) {
        json_t *o = json_object();
        CHECK(o != NULL);
        CHECK(json_object_set_new(o, path[i], leaf) == 0);
        leaf = o;
    }
    return leaf;
}

/* Compiles {path: leaf} (leaf stolen) and checks that it matches ev or, with
 * expect 0, that it does not; then the same as one branch of a "$or". */
static void expect_match(const json_t *ev, const char *const *path, int n, json_t *leaf, int expect)
{
    char err[256];
    json_t *pat = nest(path, n, leaf);
    pattern *p = NULL;
    int rc = pattern_compile(pat, &p, err, sizeof err);
    if (rc) {
        char *t = json_dumps(pat, JSON_COMPACT);
        fprintf(stderr, "derived pattern refused: %s\n  %s\n", err, t ? t : "?");
        free(t);
    }
    CHECK(rc == 0);
    if (pattern_match(p, ev) != expect) {
        char *t = json_dumps(pat, JSON_COMPACT), *e = json_dumps(ev, JSON_COMPACT);
        fprintf(stderr, "derived pattern %s the event, expected %s\n  pattern: %s\n  event:   %s\n",
                expect ? "does not match" : "matches", expect ? "a match" : "none", t ? t : "?",
                e ? e : "?");
        free(t);
        free(e);
    }
    CHECK(pattern_match(p, ev) == expect);
    pattern_free(p);
    int plain = 1;
    for (int i = 0; i < n; i++) /* a "$or" field's operators would count as its keys */
        plain = plain && !pattern_key_is_reserved(path[i], strlen(path[i])) && strcmp(path[i], "$or") != 0;
    if (expect && plain) {
        json_t *other = json_pack("{s:[s]}", "fuzz-field-not-in-any-event", "x");
        json_t * or = json_pack("{s:[O,o]}", "$or", pat, other);
        CHECK(or != NULL);
        CHECK(pattern_compile(or, &p, err, sizeof err) == 0);
        CHECK(pattern_match(p, ev) == 1);
        pattern_free(p);
        json_decref(or);
    }
    json_decref(pat);
}

static json_t *op1(const char *op, json_t *v)
{
    json_t *o = json_object();
    CHECK(o && v && json_object_set_new(o, op, v) == 0);
    return json_pack("[o]", o);
}

/* "*" and "\\" escaped for a wildcard. */
static void wild_escape(char *out, const char *s, size_t n, size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*' || s[i] == '\\') out[(*len)++] = '\\';
        out[(*len)++] = s[i];
    }
}

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character boundary and is <= want.
 */
static size_t utf8_cut(const char *s, size_t n, size_t want)
{
    if (want >= n) return n;
    while (want > 0 && ((unsigned char)s[want] & 0xc0) == 0x80)
        want--;
    return want;
}

static json_t *op2(const char *outer, const char *inner, json_t *v)
{
    json_t *in = json_object(), *out = json_object();
    CHECK(in && out && v && json_object_set_new(in, inner, v) == 0 &&
          json_object_set_new(out, outer, in) == 0);
    return json_pack("[o]", out);
}

static void ascii_upper(char *dst, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
}

/* Patterns derived from the string leaf s[0..len) (no NUL). */
static void derive_string(const json_t *ev, const char *const *path, int n, const char *s,
                          size_t len, int single)
{
    char *other = malloc(len + 2), *rother = malloc(len + 2), *up = malloc(len + 2),
         *w = malloc(2 * len + 4);
    CHECK(other && rother && up && w);
    memcpy(other, s, len); /* longer than s: neither s nor a prefix of it */
    memcpy(other + len, "~", 2);
    rother[0] = '~'; /* longer than s: not a suffix of it */
    memcpy(rother + 1, s, len);
    rother[len + 1] = 0;
    ascii_upper(up, s, len);
    size_t half = utf8_cut(s, len, len / 2);

    expect_match(ev, path, n, op1("anything-but", json_pack("[s]", other)), 1);
    expect_match(ev, path, n, op2("anything-but", "prefix", json_string(other)), 1);
    expect_match(ev, path, n, op2("anything-but", "suffix", json_string(rother)), 1);
    expect_match(ev, path, n, op2("anything-but", "equals-ignore-case", json_string(other)), 1);
    expect_match(ev, path, n, op1("prefix", json_stringn(s, half)), 1);
    expect_match(ev, path, n, op1("suffix", json_stringn(s + half, len - half)), 1);
    expect_match(ev, path, n, op2("prefix", "equals-ignore-case", json_stringn(up, half)), 1);
    expect_match(ev, path, n,
                 op2("suffix", "equals-ignore-case", json_stringn(up + half, len - half)), 1);
    expect_match(ev, path, n, op1("equals-ignore-case", json_stringn(up, len)), 1);
    /* wildcard: the text with its middle third replaced by "*" */
    size_t a = utf8_cut(s, len, len / 3), b = utf8_cut(s, len, 2 * len / 3), wl = 0;
    wild_escape(w, s, a, &wl);
    w[wl++] = '*';
    wild_escape(w, s + b, len - b, &wl);
    expect_match(ev, path, n, op1("wildcard", json_stringn(w, wl)), 1);
    wl = 0; /* and the whole text, escaped: matches itself only */
    wild_escape(w, s, len, &wl);
    expect_match(ev, path, n, op1("wildcard", json_stringn(w, wl)), 1);
    if (single) { /* the field holds s and nothing else */
        expect_match(ev, path, n, json_pack("[s]", other), 0);
        expect_match(ev, path, n, op1("anything-but", json_pack("[s%]", s, len)), 0);
        expect_match(ev, path, n, op1("prefix", json_string(other)), 0);
        expect_match(ev, path, n, op2("anything-but", "equals-ignore-case", json_stringn(up, len)),
                     0);
        if (len)
            expect_match(ev, path, n,
                         op2("anything-but", "prefix", json_stringn(s, half ? half : len)), 0);
    }
    uint8_t addr[16];
    char ip[80];
    if (len < 64) {
        snprintf(ip, sizeof ip, "%.*s", (int)len, s);
        int fam = inet_pton(AF_INET, ip, addr) == 1    ? 32
                  : inet_pton(AF_INET6, ip, addr) == 1 ? 128
                                                       : 0;
        if (fam) { /* its own block, at every prefix length derived from its text */
            snprintf(ip, sizeof ip, "%.*s/%d", (int)len, s, fam);
            expect_match(ev, path, n, op1("cidr", json_string(ip)), 1);
            snprintf(ip, sizeof ip, "%.*s/%d", (int)len, s, (int)(len % (size_t)(fam + 1)));
            expect_match(ev, path, n, op1("cidr", json_string(ip)), 1);
        }
    }
    free(w);
    free(up);
    free(rother);
    free(other);
}

/* Patterns derived from the leaf value v at path[0..n) of ev; in_array: the
 * path crossed an array, so the field may hold other values too (and
 * exists:false is judged per element). */
static void derive(const json_t *ev, const char *const *path, int n, const json_t *v, int in_array)
{
    int single = !in_array;
    expect_match(ev, path, n, json_pack("[O]", v), 1);
    expect_match(ev, path, n, op1("exists", json_true()), 1);
    if (single) expect_match(ev, path, n, op1("exists", json_false()), 0);
    if (json_is_string(v)) {
        if (!memchr(json_string_value(v), 0,
                    json_string_length(v))) /* operators take NUL-free text */
            derive_string(ev, path, n, json_string_value(v), json_string_length(v), single);
    } else if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d >= -LIMIT_PATTERN_NUMBER_ABS_MAX && d <= LIMIT_PATTERN_NUMBER_ABS_MAX) {
            expect_match(ev, path, n, op1("numeric", json_pack("[s,O]", "=", v)), 1);
            if (d - 1 >= -LIMIT_PATTERN_NUMBER_ABS_MAX && d + 1 <= LIMIT_PATTERN_NUMBER_ABS_MAX) {
                expect_match(ev, path, n,
                             op1("numeric", json_pack("[s,f,s,f]", ">", d - 1, "<=", d + 1)), 1);
                if (single) { /* ranges beside it, and other exact values */
                    expect_match(ev, path, n, op1("numeric", json_pack("[s,O]", "<", v)), 0);
                    expect_match(ev, path, n, op1("numeric", json_pack("[s,O]", ">", v)), 0);
                    expect_match(ev, path, n,
                                 op1("numeric", json_pack("[s,f,s,f]", ">", d + 0.5, "<", d + 1)),
                                 0);
                    expect_match(ev, path, n, json_pack("[f]", d + 1), 0);
                    expect_match(ev, path, n, op1("anything-but", json_pack("[O]", v)), 0);
                    expect_match(ev, path, n, op1("anything-but", json_pack("[f]", d + 1)), 1);
                }
            }
        }
        if (single)
            expect_match(ev, path, n, json_pack("[s]", "0"),
                         0); /* a string never equals a number */
    } else if (single) {     /* true, false, null */
        expect_match(ev, path, n, json_pack("[b]", !json_is_true(v)), 0); /* null: [true] */
        expect_match(ev, path, n,
                     json_pack("[s]", json_is_null(v)   ? "null"
                                      : json_is_true(v) ? "true"
                                                        : "false"),
                     0);
        /* anything-but takes strings and numbers only, and matches a value of another type */
        expect_match(ev, path, n, op1("anything-but", json_pack("[s]", "x")), 1);
    }
}

/* Walks ev's objects (arrays flattened) and derives patterns from up to
 * DERIVED_MAX leaves. */
static void walk(const json_t *ev, const json_t *v, const char **path, int n, int in_array,
                 int *budget)
{
    if (*budget <= 0) return;
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) walk(ev, m, path, n, 1, budget);
    } else if (json_is_object(v)) {
        if (n == DERIVED_DEPTH) return;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            if (!k[0] || json_object_iter_key_len(json_object_key_to_iter(k)) != strlen(k))
                continue; /* "" or a key with a NUL: not a field name a pattern can hold */
            path[n] = k;
            walk(ev, m, path, n + 1, in_array, budget);
        }
    } else if (n > 0 && (*budget)-- > 0) {
        if (json_is_string(v) && json_string_length(v) > DERIVED_BYTES) return;
        derive(ev, path, n, v, in_array);
    }
}

static void match_both(const pattern *p, const pattern *p2, const json_t *ev)
{
    int m = pattern_match(p, ev);
    CHECK(m == 0 || m == 1);
    CHECK(pattern_match(p, ev) == m);
    CHECK(pattern_match(p2, ev) == m);
    char *text = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK(text != NULL);
    json_error_t je;
    json_t *again = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    CHECK(again != NULL);
    CHECK(pattern_match(p, again) == m);
    json_decref(again);
    free(text);
    if (json_is_object(ev)) {
        const char *path[DERIVED_DEPTH];
        int budget = DERIVED_MAX;
        walk(ev, ev, path, 0, 0, &budget);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    char err[256];
    pattern *p = NULL, *p2 = NULL;

    int rc = pattern_compile_str(text, plen, &p, err, sizeof err);
    CHECK(rc == 0 || rc == ORD_EVALIDATION || rc == ORD_EJSON);
    CHECK((rc == 0) == (p != NULL));
    if (rc) {
        CHECK(err[0] != 0);
        CHECK(strlen(err) < sizeof err);
    }
    /* the object entry point (config rules, the bus) agrees with the text one */
    if (plen <= LIMIT_PATTERN_BYTES_MAX) {
        json_error_t je;
        json_t *pj =
            json_loadb(text, plen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        CHECK((pj == NULL) == (rc == ORD_EJSON));
        if (pj) {
            pattern *po = NULL;
            CHECK(pattern_compile(pj, &po, NULL, 0) == rc);
            pattern_free(po);
            if (rc == 0) { /* round trip through its compact text */
                char *again = json_dumps(pj, JSON_COMPACT | JSON_ENCODE_ANY);
                CHECK(again != NULL);
                CHECK(pattern_compile_str(again, strlen(again), &p2, err, sizeof err) == 0);
                free(again);
            }
            json_decref(pj);
        }
    }
    if (rc) return 0;
    CHECK(p2 != NULL);

    if (nul) {
        json_error_t je;
        json_t *ev = json_loadb((const char *)nul + 1, size - plen - 1,
                                JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        if (ev) match_both(p, p2, ev);
        json_decref(ev);
    } else {
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            json_error_t je;
            json_t *ev = json_loads(samples[i], 0, &je);
            CHECK(ev != NULL);
            match_both(p, p2, ev);
            json_decref(ev);
        }
    }
    pattern_free(p2);
    pattern_free(p);
    return 0;
}
