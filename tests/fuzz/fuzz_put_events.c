/* fuzz_put_events.c - POST /api/events (PutEvents) bodies: http_json_parse,
 * then api_put_events_parse (the envelope, then each entry on its own, as
 * EventBridge: Source, DetailType, Detail as an object or a string holding
 * one, Resources, Time).
 *
 * Invariants: a refused envelope reports errors and parses no entry; an
 * accepted one has 1-10 entries, each either failed with an ErrorCode of
 * EventBridge's and an ErrorMessage that can be sent back (valid UTF-8, as
 * JSON requires), or an event that passes bus_event_check with the entry's
 * values, a source outside the server's orderly.*, no order timeline
 * subject, a Detail object within the depth limit, and an entry of at most
 * 256 KiB; parsing is deterministic.
 */
#include "fuzz.h"
#include "http/requests.h"
#include "lib/clock.h"
#include "orders/orders.h"
#include <stdio.h>

static const json_t *member(const json_t *o, const char *pascal, const char *camel)
{
    const json_t *v = json_object_get(o, pascal);
    return v ? v : json_object_get(o, camel);
}

static void check_entry(const json_t *o, const put_entry *e)
{
    if (e->rc) {
        CHECK(e->rc == ORD_EVALIDATION);
        CHECK(!strcmp(e->code, "InvalidArgument") || !strcmp(e->code, "MalformedDetail") ||
              !strcmp(e->code, "EntrySizeTooLarge") ||
              !strcmp(e->code, "NotAuthorizedForSourceException"));
        CHECK(e->msg[0] != 0);
        CHECK(fuzz_utf8_valid(e->msg, strlen(e->msg)));
        return;
    }
    char err[320];
    CHECK(json_is_object(o));
    CHECK(bus_event_check(&e->ev, err, sizeof err) == 0);
    CHECK(!bus_source_reserved(e->ev.source)); /* orderly.* is the server's */
    CHECK(e->ev.subject == NULL);              /* a client's event joins no order's timeline */
    const json_t *src = member(o, "Source", "source"), *dt = member(o, "DetailType", "detailType");
    CHECK(e->ev.source == json_string_value(src) && e->ev.detail_type == json_string_value(dt));
    const json_t *det = member(o, "Detail", "detail");
    if (json_is_string(det)) {
        CHECK(e->detail != NULL && e->ev.detail == e->detail && json_is_object(e->detail));
        CHECK(fuzz_json_depth(e->detail) <= LIMIT_JSON_DEPTH_MAX);
    } else {
        CHECK(e->detail == NULL && e->ev.detail == det);
        CHECK(!det || json_is_object(det));
    }
    CHECK(e->ev.resources == member(o, "Resources", "resources"));
    const json_t *tm = member(o, "Time", "time");
    CHECK(e->ev.has_time == (tm != NULL));
    if (tm) {
        int64_t t;
        CHECK(clock_parse_iso(json_string_value(tm), &t) == 0 && t == e->ev.time_ms);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    CHECK(text != NULL && strlen(text) <= LIMIT_EVENT_BYTES_MAX);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LIMIT_HTTP_BODY_BYTES_MAX) return 0; /* 413 before the handler */
    json_t *body = fuzz_json_body(data, size);
    if (!body) return 0;
    static put_entry e[LIMIT_PUT_EVENTS_ENTRIES_MAX], e2[LIMIT_PUT_EVENTS_ENTRIES_MAX];
    json_t *errors = json_array(), *errors2 = json_array();
    int n = -1, n2 = -1;
    int rc = api_put_events_parse(body, e, &n, errors);
    CHECK(rc == 0 || rc == ORD_EVALIDATION);
    CHECK((rc == 0) == (json_array_size(errors) == 0));
    fuzz_check_errors(errors, 0);
    CHECK(api_put_events_parse(body, e2, &n2, errors2) == rc && n2 == n);
    CHECK(json_equal(errors, errors2));
    if (rc) {
        CHECK(n == 0);
    } else {
        const json_t *entries = member(body, "Entries", "entries");
        CHECK(n >= 1 && n <= LIMIT_PUT_EVENTS_ENTRIES_MAX && (size_t)n == json_array_size(entries));
        for (int i = 0; i < n; i++) {
            check_entry(json_array_get(entries, (size_t)i), &e[i]);
            CHECK(e2[i].rc == e[i].rc && !strcmp(e2[i].code, e[i].code) &&
                  !strcmp(e2[i].msg, e[i].msg));
        }
    }
    api_put_entries_release(e, n);
    api_put_entries_release(e2, n2);
    json_decref(errors2);
    json_decref(errors);
    json_decref(body);
    return 0;
}
