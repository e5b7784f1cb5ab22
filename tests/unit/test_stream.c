/* test_stream.c - the live stream's hub (http/stream.c) without HTTP: what a
 * stream pulls after committed bus events, the principal's filter, Last-
 * Event-ID resumption, and its limits at the limit and one past it:
 * LIMIT_STREAM_RING, LIMIT_STREAM_INBOX, LIMIT_STREAMS_MAX,
 * LIMIT_STREAM_HEARTBEAT_S, LIMIT_STREAM_RETAIN_S (time moved with the
 * clock's test offset). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/console.h"
#include "lib/clock.h"
#include "lib/err.h"

static stream_hub *hub;

static void setup(void)
{
    clock_set_offset_ms(0);
    cr_assert_eq(stream_hub_new(&hub), 0);
}

static void teardown(void)
{
    stream_hub_free(hub);
    clock_set_offset_ms(0);
}

TestSuite(stream, .init = setup, .fini = teardown);

static stream_principal everyone = {.all = 1};

/* A committed order event as the bus observer hands it over. */
static void order_event(const char *type, const char *order, const char *customer)
{
    char env[512];
    snprintf(env, sizeof env,
             "{\"version\":\"0\",\"id\":\"e-%s-%s\",\"detail-type\":\"%s\",\"source\":\"orderly.orders\","
             "\"time\":\"2026-11-21T10:00:00Z\",\"detail\":{\"orderId\":\"%s\",\"customerId\":\"%s\"}}",
             order, type, type, order, customer);
    bus_observed ev = {"id", ORDERS_SOURCE, type, order, env, strlen(env), clock_wall_ms()};
    stream_hub_observe(hub, &ev);
}

static void alarm_event(const char *name, const char *state)
{
    char env[512];
    snprintf(env, sizeof env,
             "{\"id\":\"a\",\"detail-type\":\"AlarmStateChanged\",\"source\":\"orderly.alarms\",\"detail\":"
             "{\"alarmName\":\"%s\",\"state\":{\"value\":\"%s\",\"reason\":\"r\"},\"previousState\":{\"value\":\"OK\"}}}",
             name, state);
    bus_observed ev = {"id", ALARM_EVENT_SOURCE, ALARM_EVENT_TYPE, "", env, strlen(env), clock_wall_ms()};
    stream_hub_observe(hub, &ev);
}

/* Everything a stream has to send now, NUL-terminated (caller frees). */
static char *pull_all(stream_sub *s)
{
    size_t cap = 1 << 22, n = 0;
    char *buf = malloc(cap);
    cr_assert(buf);
    long k;
    while ((k = stream_sub_pull(s, buf + n, 16384)) > 0) {
        n += (size_t)k;
        cr_assert(n + 16384 < cap, "the stream stops");
    }
    cr_assert_geq(k, 0, "the stream did not end");
    buf[n] = 0;
    return buf;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static stream_sub *subscribe(const stream_principal *p, const char *last)
{
    int rc;
    stream_sub *s = stream_hub_subscribe(hub, p, last, &rc);
    cr_assert(s != NULL, "subscribe: %d", rc);
    return s;
}

Test(stream, an_orders_events_arrive_in_order_with_their_status)
{
    stream_sub *s = subscribe(&everyone, NULL);
    char *hello = pull_all(s);
    cr_expect(strncmp(hello, "retry: 3000\n", 12) == 0, "starts with retry: %s", hello);
    free(hello);
    order_event("OrderCreated", "o-1", "c-1");
    order_event("PaymentRequested", "o-1", "c-1");
    order_event("OrderCompleted", "o-1", "c-1");
    char *t = pull_all(s);
    const char *a = strstr(t, "\"status\":\"PENDING\""), *b = strstr(t, "\"status\":\"RESERVED\""),
               *c = strstr(t, "\"status\":\"COMPLETED\"");
    cr_expect(a && b && c && a < b && b < c, "PENDING, RESERVED, COMPLETED in order:\n%s", t);
    cr_expect_eq(count(t, "event: order\n"), 3);
    cr_expect(strstr(t, "\"customerId\":\"c-1\"") != NULL);
    free(t);
    char *none = pull_all(s);
    cr_expect_str_eq(none, "", "nothing twice");
    free(none);
    stream_sub_done(s);
}

Test(stream, a_customer_sees_only_its_own_orders)
{
    stream_principal cust = {.all = 0};
    snprintf(cust.customer, sizeof cust.customer, "c-7");
    stream_sub *mine = subscribe(&cust, NULL), *all = subscribe(&everyone, NULL);
    free(pull_all(mine));
    free(pull_all(all));
    order_event("OrderCreated", "o-a", "c-7");
    order_event("OrderCreated", "o-b", "c-8");
    alarm_event("low-stock", "ALARM");
    json_t *row = json_pack("{s:i}", "t", 1);
    stream_hub_push(hub, STREAM_METRICS, "metrics", row);
    json_decref(row);
    char *m = pull_all(mine), *a = pull_all(all);
    cr_expect(strstr(m, "o-a") && !strstr(m, "o-b"), "its own order only:\n%s", m);
    cr_expect(!strstr(m, "event: alarm") && !strstr(m, "event: metrics"), "no alarms or metrics for a customer");
    cr_expect(strstr(a, "o-a") && strstr(a, "o-b") && strstr(a, "event: alarm") && strstr(a, "event: metrics"),
              "everything for the others:\n%s", a);
    free(m);
    free(a);
    stream_sub_done(mine);
    stream_sub_done(all);
}

/* The id of the last event in text ("id: <boot>.<n>"). */
static void last_id(const char *text, char *out, size_t n)
{
    const char *p = NULL;
    for (const char *q = strstr(text, "id: "); q; q = strstr(q + 1, "id: ")) p = q;
    cr_assert(p);
    p += 4;
    size_t k = strcspn(p, "\n");
    cr_assert(k < n);
    memcpy(out, p, k);
    out[k] = 0;
}

Test(stream, last_event_id_resumes_and_unknown_ids_reset)
{
    stream_sub *s = subscribe(&everyone, NULL);
    order_event("OrderCreated", "o-1", "c");
    char *t = pull_all(s), id[64];
    last_id(t, id, sizeof id);
    free(t);
    stream_sub_done(s);
    order_event("OrderCreated", "o-2", "c"); /* while nobody listens: kept (LIMIT_STREAM_RETAIN_S) */
    stream_sub *again = subscribe(&everyone, id);
    t = pull_all(again);
    cr_expect(strstr(t, "o-2") && !strstr(t, "o-1") && !strstr(t, "event: reset"), "resumed after %s:\n%s", id, t);
    free(t);
    stream_sub_done(again);
    const char *bad[] = {"nope", "x.1", "", NULL};
    char future[80];
    snprintf(future, sizeof future, "%.*s.999", (int)strcspn(id, "."), id);
    for (int i = 0; i <= 3; i++) {
        stream_sub *b = subscribe(&everyone, i < 3 ? bad[i] : future);
        t = pull_all(b);
        cr_expect(strstr(t, "event: reset") != NULL, "a reset for Last-Event-ID '%s':\n%s", i < 3 ? bad[i] : future, t);
        free(t);
        stream_sub_done(b);
    }
}

Test(stream, ring_limit)
{
    for (int extra = 0; extra <= 1; extra++) {
        stream_sub *s = subscribe(&everyone, NULL);
        free(pull_all(s));
        char id[32];
        for (int i = 0; i < LIMIT_STREAM_RING + extra; i++) {
            snprintf(id, sizeof id, "r%d-%d", extra, i);
            order_event("OrderCreated", id, "c");
            if (i % 512 == 0) stream_hub_tick(hub); /* the inbox drains into the ring */
        }
        stream_hub_tick(hub);
        char *t = pull_all(s);
        if (extra == 0) {
            cr_expect_eq(count(t, "event: order\n"), LIMIT_STREAM_RING, "exactly the ring behind: every event");
            cr_expect_eq(count(t, "event: reset"), 0);
        } else {
            cr_expect_eq(count(t, "event: reset"), 1, "one past the ring: a reset");
            cr_expect(strstr(t, "fell more than") != NULL);
        }
        free(t);
        stream_sub_done(s);
    }
}

Test(stream, inbox_limit)
{
    for (int extra = 0; extra <= 1; extra++) {
        stream_sub *s = subscribe(&everyone, NULL);
        free(pull_all(s));
        /* nothing drains in between: every event waits in the inbox */
        for (int i = 0; i < LIMIT_STREAM_INBOX + extra; i++) order_event("OrderCreated", "inbox", "c");
        char *t = pull_all(s);
        if (extra == 0) {
            cr_expect_eq(count(t, "event: reset"), 1, "the inbox's events overflow the ring: a reset");
            cr_expect(strstr(t, "fell more than") != NULL, "for the ring, not lost events:\n%.300s", t);
        } else {
            cr_expect_eq(count(t, "event: reset"), 1, "one past the inbox");
            cr_expect(strstr(t, "events were dropped") != NULL, "dropped events are reported:\n%.300s", t);
        }
        free(t);
        stream_sub_done(s);
    }
}

Test(stream, streams_limit)
{
    stream_sub *subs[LIMIT_STREAMS_MAX];
    for (int i = 0; i < LIMIT_STREAMS_MAX; i++) subs[i] = subscribe(&everyone, NULL);
    cr_expect_eq(stream_hub_count(hub), LIMIT_STREAMS_MAX);
    int rc = 0;
    cr_expect_null(stream_hub_subscribe(hub, &everyone, NULL, &rc), "one more is refused");
    cr_expect_eq(rc, ORD_EBUSY);
    stream_sub_done(subs[0]);
    subs[0] = subscribe(&everyone, NULL);
    for (int i = 0; i < LIMIT_STREAMS_MAX; i++) stream_sub_done(subs[i]);
    stream_hub_close(hub);
    cr_expect_null(stream_hub_subscribe(hub, &everyone, NULL, &rc), "closed");
    cr_expect_eq(rc, ORD_ESHUTDOWN);
}

Test(stream, a_closed_hub_ends_its_streams)
{
    stream_sub *s = subscribe(&everyone, NULL);
    stream_hub_close(hub);
    char buf[64];
    cr_expect_eq(stream_sub_pull(s, buf, sizeof buf), -1, "the body ends");
    stream_sub_done(s);
}

Test(stream, heartbeat)
{
    stream_sub *s = subscribe(&everyone, NULL);
    free(pull_all(s));
    clock_set_offset_ms((int64_t)LIMIT_STREAM_HEARTBEAT_S * 1000 - 1000);
    stream_hub_tick(hub);
    char *t = pull_all(s);
    cr_expect_str_eq(t, "", "no heartbeat before LIMIT_STREAM_HEARTBEAT_S");
    free(t);
    clock_set_offset_ms((int64_t)LIMIT_STREAM_HEARTBEAT_S * 1000 + 10);
    stream_hub_tick(hub);
    t = pull_all(s);
    cr_expect_str_eq(t, ": keep-alive\n\n", "a heartbeat after it");
    free(t);
    stream_sub_done(s);
}

Test(stream, events_are_recorded_only_around_streams)
{
    cr_expect_eq(stream_hub_wants(hub), 0, "nothing before the first stream");
    stream_sub *s = subscribe(&everyone, NULL);
    cr_expect_eq(stream_hub_wants(hub), 1);
    stream_sub_done(s);
    clock_set_offset_ms((int64_t)LIMIT_STREAM_RETAIN_S * 1000 - 1000);
    cr_expect_eq(stream_hub_wants(hub), 1, "within LIMIT_STREAM_RETAIN_S of the last stream");
    clock_set_offset_ms((int64_t)LIMIT_STREAM_RETAIN_S * 1000 + 1000);
    cr_expect_eq(stream_hub_wants(hub), 0, "not after it");
}

/* A metrics event whose frame is exactly n bytes ("id: ...\nevent: metrics\ndata: {"x":"aaa"}\n\n"). */
static void push_frame_of(size_t n, size_t head)
{
    size_t k = n - head - strlen("{\"x\":\"\"}") - 2;
    char *a = malloc(k + 1);
    memset(a, 'a', k);
    a[k] = 0;
    json_t *d = json_pack("{s:s}", "x", a);
    stream_hub_push(hub, STREAM_METRICS, "metrics", d);
    json_decref(d);
    free(a);
}

Test(stream, event_bytes_limit)
{
    stream_sub *s = subscribe(&everyone, NULL);
    free(pull_all(s));
    json_t *d = json_pack("{s:i}", "x", 1);
    stream_hub_push(hub, STREAM_METRICS, "metrics", d); /* id 1: measures the frame's head */
    json_decref(d);
    char *t = pull_all(s);
    size_t head = (size_t)(strstr(t, "data: ") + 6 - t);
    free(t);
    push_frame_of(LIMIT_STREAM_EVENT_BYTES, head); /* id 2: the same number of digits */
    t = pull_all(s);
    cr_expect_eq(strlen(t), LIMIT_STREAM_EVENT_BYTES, "a frame of LIMIT_STREAM_EVENT_BYTES is sent");
    free(t);
    push_frame_of(LIMIT_STREAM_EVENT_BYTES + 1, head);
    t = pull_all(s);
    cr_expect_str_eq(t, "", "one byte more is dropped");
    free(t);
    stream_sub_done(s);
}
