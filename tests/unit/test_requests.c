/* test_requests.c - the pure request parsers of http/requests.h, beside
 * what tests/fuzz/fuzz_queue_requests.c checks on random bodies: the bugs
 * the fuzz targets found, each replayed here. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/requests.h"
#include "lib/err.h"

/* Hands out memory full of 0xbe, as a reused request arena holds old bytes. */
static void *blocks[16];
static int nblocks;

static void *dirty_alloc(void *ctx, size_t n)
{
    (void)ctx;
    cr_assert_lt(nblocks, 16);
    void *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    memset(p, 0xbe, n);
    return blocks[nblocks++] = p;
}

static void release(void)
{
    for (int i = 0; i < nblocks; i++)
        free(blocks[i]);
    nblocks = 0;
}

TestSuite(requests, .fini = release);

static json_t *body(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    cr_assert_not_null(j, "%s: %s", text, e.text);
    return j;
}

/* Found by fuzz_queue_requests (regress-redrive-ids-invalid-then-valid):
 * an invalid message id left its slot of the id array unset, and the
 * duplicate check of the next id read it - an old pointer from the request
 * arena (a crash of the server on a redrive request). */
Test(requests, redrive_invalid_id_then_valid_ones)
{
    api_alloc al = {dirty_alloc, NULL};
    json_t *b = body("{\"messageIds\": [5, \"a\", \"\", \"a\"]}"), *errors = json_array();
    redrive_in in;
    cr_assert_eq(api_redrive_parse(b, &in, errors, &al), ORD_EVALIDATION);
    cr_assert_eq(json_array_size(errors), 3, "messageIds[0], [2] invalid, [3] a duplicate");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                     "messageIds[0]");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(errors, 1), "field")),
                     "messageIds[2]");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(errors, 2), "field")),
                     "messageIds[3]");
    json_decref(errors);
    json_decref(b);
}

Test(requests, redrive_ids_or_max_rate_and_defaults)
{
    api_alloc al = {dirty_alloc, NULL};
    redrive_in in;
    json_t *errors = json_array();
    cr_assert_eq(api_redrive_parse(NULL, &in, errors, &al), 0, "an empty body");
    cr_expect_eq(in.max, LIMIT_REDRIVE_MAX);
    cr_expect_eq(in.rate, LIMIT_TASK_RATE_DEFAULT);
    cr_expect_null(in.ids);
    json_t *b =
        body("{\"messageIds\": [\"m1\", \"m2\"], \"ratePerSecond\": 1, \"destination\": \"q\"}");
    cr_assert_eq(api_redrive_parse(b, &in, errors, &al), 0);
    cr_expect_eq(in.nids, 2);
    cr_expect_str_eq(in.ids[1], "m2");
    cr_expect_str_eq(in.destination, "q");
    json_decref(b);
    b = body("{\"messageIds\": [\"m1\"], \"maxMessages\": 5}");
    cr_expect_eq(api_redrive_parse(b, &in, errors, &al), ORD_EVALIDATION, "not both");
    json_decref(b);
    json_decref(errors);
}
