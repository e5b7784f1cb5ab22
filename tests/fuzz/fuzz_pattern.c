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
 */
#include <stdio.h>
#include "bus/pattern.h"
#include "conf/limits.h"
#include "fuzz.h"

static const char *const samples[] = {
    "{\"version\":\"0\",\"id\":\"0190b0d6-1c8e-7c4e-8c1d-2b7f7f0a0001\",\"detail-type\":\"OrderCreated\","
    "\"source\":\"orderly.orders\",\"account\":\"000000000000\",\"time\":\"2026-01-02T03:04:05Z\","
    "\"region\":\"local\",\"resources\":[],\"detail\":{\"orderId\":\"o-1\",\"customerId\":\"c-1\","
    "\"items\":[{\"sku\":\"PROD-001\",\"qty\":2},{\"sku\":\"FAIL-ME\",\"qty\":1}],\"totalCents\":1999,"
    "\"payment\":{\"token\":\"tok_visa\"},\"ip\":\"10.0.0.7\",\"flag\":true,\"none\":null}}",
    "{\"source\":\"aws.ec2\",\"detail-type\":\"EC2 Instance State-change Notification\","
    "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-1\"],\"detail\":{\"state\":\"running\","
    "\"price\":-3.5e2,\"c-count\":[1,2,3],\"location\":\"us-east-1a\",\"sourceIPAddress\":\"2001:db8::1\"}}",
    "{}",
};

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
        json_t *pj = json_loadb(text, plen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
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
