/* test_lib.c - the ground floor: lib/utf8, lib/verr, lib/arena, lib/md5,
 * lib/jdump, lib/handoff. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include "lib/arena.h"
#include "lib/handoff.h"
#include "lib/jdump.h"
#include "lib/limits.h"
#include "lib/md5.h"
#include "lib/utf8.h"
#include "lib/verr.h"

Test(utf8, valid_prefix)
{
    cr_expect_eq(utf8_valid_prefix("abc", 3), 3);
    cr_expect_eq(utf8_valid_prefix("\xc3\xa9", 2), 2);       /* é */
    cr_expect_eq(utf8_valid_prefix("a\xc3", 2), 1);          /* é cut in half */
    cr_expect_eq(utf8_valid_prefix("\xc0\xaf", 2), 0);       /* overlong '/' */
    cr_expect_eq(utf8_valid_prefix("\xed\xa0\x80", 3), 0);   /* a surrogate */
    cr_expect_eq(utf8_valid_prefix("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    cr_expect_eq(utf8_valid_prefix("\xf0\x9f\x98\x80", 4), 4); /* U+1F600 */
}

Test(utf8, scrub_cuts_a_split_sequence_and_replaces_junk)
{
    char a[] = "caf\xc3";
    cr_expect_str_eq(utf8_scrub(a), "caf");
    char b[] = "x\xff" "y\xc3\xa9" "z\x80";
    cr_expect_str_eq(utf8_scrub(b), "x?y\xc3\xa9z?");
    char c[] = "\xe2\x82";
    cr_expect_str_eq(utf8_scrub(c), "");
    /* what "%.64s" does to 40 x "é" (80 bytes): 64 bytes = 32 whole characters */
    char d[128], e[200] = "";
    for (int i = 0; i < 40; i++) strcat(e, "\xc3\xa9");
    snprintf(d, sizeof d, "%.63s", e); /* cut inside the 32nd */
    utf8_scrub(d);
    cr_expect_eq(strlen(d), 62);
    cr_expect_neq(json_string(d), NULL);
}

Test(verr, errors_with_client_text_are_never_lost)
{
    json_t *errors = json_array();
    char key[200] = "";
    for (int i = 0; i < 90; i++) strcat(key, "\xc3\xa9"); /* a key longer than the field cut */
    json_t *obj = json_object();
    json_object_set_new(obj, key, json_integer(1));
    json_object_set_new(obj, "ok", json_integer(1));
    const char *const allowed[] = {"ok", NULL};
    verr_reject_unknown(errors, obj, "items[0].", allowed);
    verr_add(errors, "payment.token", "unknown token '%.64s'", key);
    cr_assert_eq(verr_count(errors), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(errors, i);
        cr_assert(json_is_object(e), "entry %zu built", i);
        const char *f = json_string_value(json_object_get(e, "field"));
        cr_expect_eq(utf8_valid_prefix(f, strlen(f)), strlen(f));
    }
    cr_expect(!strncmp(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "items[0].\xc3\xa9", 11));
    json_decref(obj);
    json_decref(errors);
}

Test(arena, bounded_aligned_and_reset)
{
    char inl[64];
    arena a;
    arena_init(&a, inl, sizeof inl, 128, 1024);
    char *p = arena_alloc(&a, 10);
    cr_assert_eq(p, inl);
    char *q = arena_alloc(&a, 100); /* past the inline block: a chunk */
    cr_assert_neq(q, NULL);
    cr_expect_eq(((uintptr_t)q) % 16, 0);
    cr_expect_eq(arena_alloc(&a, 2000), NULL, "past the ceiling");
    char *z = arena_calloc(&a, 32);
    for (int i = 0; i < 32; i++) cr_expect_eq(z[i], 0);
    cr_expect_str_eq(arena_strdup(&a, "hello", 3), "hel");
    arena_reset(&a);
    cr_expect_eq(a.total, 0);
    cr_expect_eq(arena_alloc(&a, 10), inl, "the inline block again");
    arena_reset(&a);
}

Test(md5, known_digests)
{
    char h[MD5_HEX_LEN + 1];
    md5_hex("", 0, h);
    cr_expect_str_eq(h, "d41d8cd98f00b204e9800998ecf8427e");
    md5_hex("The quick brown fox jumps over the lazy dog", 43, h);
    cr_expect_str_eq(h, "9e107d9d372bb6826bd81d3542a419d6");
}

/* jdump writes what json_dumps(JSON_COMPACT) writes, for every kind of value. */
Test(jdump, same_text_as_json_dumps)
{
    static const char *const docs[] = {
        "{}", "[]", "null", "true", "false", "0", "-9223372036854775808", "9223372036854775807",
        "\"\"", "1.5", "0.1", "-2.5e-300", "1e300", "3.0", "[1,2.25,\"x\",null,{},[]]",
        "{\"a\":{\"b\":[{\"c\":\"d\"}]},\"e\":1}",
        "{\"z\":1,\"a\":2,\"m\":3}",                               /* insertion order, not sorted */
        "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
        "\"ctl \\u0001 \\u001f del \\u007f\"", "\"nul \\u0000 inside\"",
        "\"utf-8 \\u00e9 \\u20ac \\ud83d\\ude00 é € 😀\"",
        "{\"version\":\"0\",\"id\":\"01\",\"detail-type\":\"OrderCreated\",\"source\":\"orderly.orders\","
        "\"resources\":[],\"detail\":{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"n\":-1}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t je;
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        cr_assert_not_null(v, "%s: %s", docs[i], je.text);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t n = 0;
        char *got = jdump(v, &n);
        cr_assert_not_null(got, "%s", docs[i]);
        cr_expect_str_eq(got, want, "%s", docs[i]);
        cr_expect_eq(n, strlen(want), "%s", docs[i]);
        free(got);
        free(want);
        json_decref(v);
    }
}

/* jdump_members writes what jdump writes for the object of those members. */
Test(jdump, members_as_the_object)
{
    json_t *nested = json_pack("{s:[i,f,s],s:{}}", "a", -1, 0.5, "\"x\u00e9", "e");
    const jdump_member m[] = {
        {"plain", "v", NULL, NULL},
        {"esc \"key\"", "tab\t nl\n \x01 é", NULL, NULL},
        {"raw", NULL, "[]", NULL},
        {"val", NULL, NULL, nested},
        {"empty", "", NULL, NULL},
    };
    json_t *obj = json_pack("{s:s,s:s,s:[],s:O,s:s}", "plain", "v", "esc \"key\"", "tab\t nl\n \x01 é", "raw",
                            "val", nested, "empty", "");
    cr_assert_not_null(obj);
    size_t n = 0, wn = 0;
    char *got = jdump_members(m, sizeof m / sizeof m[0], &n);
    char *want = jdump(obj, &wn);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    cr_expect_eq(n, wn);
    free(got);
    free(want);
    char *none = jdump_members(m, 0, &n);
    cr_expect_str_eq(none, "{}");
    free(none);
    const jdump_member bad[] = {{"x", NULL, NULL, NULL}}; /* no value at all */
    cr_expect_null(jdump_members(bad, 1, &n));
    /* C strings that are not UTF-8 (a message cut inside a character, a
     * stray byte) are written valid: '?' for a bad byte, a cut tail dropped */
    const jdump_member cut[] = {{"k\xff" "x", "caf\xc3", NULL, NULL}, {"m", "a\x80" "b \xe2\x9c\x93", NULL, NULL}};
    char *scrubbed = jdump_members(cut, 2, &n);
    cr_expect_str_eq(scrubbed, "{\"k?x\":\"caf\",\"m\":\"a?b \xe2\x9c\x93\"}");
    json_t *back = json_loads(scrubbed, 0, NULL);
    cr_expect_not_null(back, "%s", scrubbed);
    json_decref(back);
    free(scrubbed);
    json_decref(obj);
    json_decref(nested);
}

Test(jdump, too_deep_or_not_finite_is_refused)
{
    json_t *v = json_array(), *inner = v;
    for (int i = 0; i < 4 * LIMIT_JSON_DEPTH_MAX + 2; i++) {
        json_t *a = json_array();
        json_array_append_new(inner, a);
        inner = a;
    }
    cr_expect_null(jdump(v, NULL), "nesting past the bound");
    json_decref(v);
    json_t *ok = json_pack("{s:[i]}", "a", 1);
    char *t = jdump(ok, NULL);
    cr_expect_str_eq(t, "{\"a\":[1]}");
    free(t);
    json_decref(ok);
}

/* ---- handoff ------------------------------------------------------------ */

static int flushed[16];
static void count_flush(void *arg)
{
    flushed[(intptr_t)arg]++;
}

Test(handoff, no_scope_means_at_once)
{
    cr_expect_eq(handoff_defer(count_flush, (void *)0), 0, "nothing is registered without a scope");
    handoff_close(); /* a close without an open is harmless */
    cr_expect_eq(flushed[0], 0);
}

Test(handoff, one_flush_per_pair_at_the_outermost_close)
{
    handoff_open();
    cr_expect_eq(handoff_defer(count_flush, (void *)1), 1);
    cr_expect_eq(handoff_defer(count_flush, (void *)1), 1);
    handoff_open(); /* nested */
    cr_expect_eq(handoff_defer(count_flush, (void *)2), 1);
    handoff_close();
    cr_expect_eq(flushed[1] + flushed[2], 0, "an inner close flushes nothing");
    handoff_close();
    cr_expect_eq(flushed[1], 1, "registered twice, flushed once");
    cr_expect_eq(flushed[2], 1);
    handoff_open();
    handoff_close();
    cr_expect_eq(flushed[1], 1, "a closed scope's table is empty");
    cr_expect_eq(handoff_defer(count_flush, (void *)1), 0, "no scope is open any more");
}

Test(handoff, a_full_table_flushes_its_oldest_first)
{
    handoff_open();
    for (intptr_t i = 0; i < 8; i++) cr_expect_eq(handoff_defer(count_flush, (void *)i), 1);
    for (int i = 0; i < 9; i++) cr_expect_eq(flushed[i], 0);
    cr_expect_eq(handoff_defer(count_flush, (void *)8), 1);
    cr_expect_eq(flushed[0], 1, "the oldest ran to make room");
    handoff_close();
    for (int i = 0; i < 9; i++) cr_expect_eq(flushed[i], 1, "pair %d flushed once", i);
}
