/* fuzz.h - what the fuzz targets share: the JSON body path of the HTTP
 * handlers, checks of validation errors, a scratch allocator.
 *
 * A target is tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput (and
 * optionally LLVMFuzzerInitialize) plus one orderly_fuzz_target() line in
 * CMakeLists.txt.  Invariants are CHECK()s (lib/check.h): a failed one aborts,
 * which libFuzzer and the replay driver (driver.c) report as a crash.
 */
#ifndef ORDERLY_FUZZ_H
#define ORDERLY_FUZZ_H
#include "http/server.h"
#include "lib/check.h"
#include "lib/err.h"
#include "lib/limits.h"
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Nesting of v: a scalar 0, an object or array 1 + its deepest member. */
static inline int fuzz_json_depth(const json_t *v)
{
    int max = 0, d;
    size_t i;
    const char *k;
    json_t *m;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) if ((d = fuzz_json_depth(m)) > max) max = d;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) if ((d = fuzz_json_depth(m)) > max) max = d;
    } else {
        return 0;
    }
    return max + 1;
}

/* The body as every JSON handler reads it (http_req_json after its
 * Content-Type and size checks): NULL when the server answers 400, else a
 * new reference.  Checks what http_json_parse promises either way. */
static inline json_t *fuzz_json_body(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    http_json_error e;
    int rc = http_json_parse((const char *)data, size, &j, &e);
    if (rc) {
        CHECK(j == NULL);
        CHECK(rc == ORD_ELIMIT || rc == ORD_EJSON);
        CHECK(e.position >= 0 && (size_t)e.position <= size);
        if (rc == ORD_ELIMIT) CHECK(data[e.position] == '{' || data[e.position] == '[');
        return NULL;
    }
    CHECK(json_is_object(j));
    CHECK(fuzz_json_depth(j) <= LIMIT_JSON_DEPTH_MAX);
    return j;
}

/* errors[from..] are well-formed validation errors: {field, message}, two
 * strings (what problem+json's errors member carries). */
static inline void fuzz_check_errors(const json_t *errors, size_t from)
{
    CHECK(json_is_array(errors));
    for (size_t i = from; i < json_array_size(errors); i++) {
        const json_t *e = json_array_get(errors, i);
        CHECK(json_is_object(e));
        CHECK(json_object_size(e) == 2);
        CHECK(json_is_string(json_object_get(e, "field")));
        CHECK(json_is_string(json_object_get(e, "message")));
        CHECK(json_string_length(json_object_get(e, "message")) > 0);
    }
}

/* A scratch allocator for api_alloc: blocks freed together. */
typedef struct fuzz_scratch {
    void *blocks[64];
    int n;
} fuzz_scratch;

static inline void *fuzz_scratch_alloc(void *ctx, size_t n)
{
    fuzz_scratch *s = ctx;
    if (s->n == (int)(sizeof s->blocks / sizeof s->blocks[0])) return NULL;
    return s->blocks[s->n++] = malloc(n ? n : 1);
}

static inline void fuzz_scratch_free(fuzz_scratch *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->blocks[i]);
    s->n = 0;
}

/* 1 when s[0..len) is well-formed UTF-8 (what jansson accepts in strings). */
static inline int fuzz_utf8_valid(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

#endif
