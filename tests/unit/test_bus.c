/* test_bus.c - publishing inside a unit (outbox), routing by rules, replay. */
#include <criterion/criterion.h>
#include <string.h>
#include "bus/bus.h"
#include "bus/pattern.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "testutil.h"

static store *st;
static queue_sys *qs;
static bus *b;
static queue *qa, *qb;

static void setup(void)
{
    id_init();
    store_opts o = {.path = test_db_path("bus.db")};
    cr_assert_eq(store_open(&st, &o), 0);
    cr_assert_eq(queue_sys_open(st, &qs), 0);
    cr_assert_eq(bus_open(qs, &b), 0);
    queue_attrs a;
    queue_attrs_init(&a);
    cr_assert_eq(queue_declare(qs, "a", &a, 0), 0);
    cr_assert_eq(queue_declare(qs, "b", &a, 0), 0);
    qa = queue_find(qs, "a");
    qb = queue_find(qs, "b");
    char err[200];
    const char *ta[] = {"a"}, *tb[] = {"b"}, *both[] = {"a", "b"};
    json_t *p1 = json_loads("{\"source\":[\"orderly.orders\"],\"detail-type\":[\"OrderCreated\"]}", 0, NULL);
    json_t *p2 = json_loads("{\"detail\":{\"amount\":[{\"numeric\":[\">\",100]}]}}", 0, NULL);
    json_t *p3 = json_loads("{\"source\":[{\"prefix\":\"fan.\"}]}", 0, NULL);
    cr_assert_eq(bus_rule_add(b, "created", NULL, p1, ta, 1, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bus_rule_add(b, "big", "amount > 100", p2, tb, 1, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bus_rule_add(b, "fan", NULL, p3, both, 2, 1, err, sizeof err), 0, "%s", err);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
}

static void teardown(void)
{
    bus_close(b);
    queue_sys_close(qs);
    store_close(st);
}

TestSuite(bus, .init = setup, .fini = teardown, .timeout = 30);

struct pub {
    bus_event ev;
    char id[40];
    int routed;
    int fail_after; /* the caller's unit fails after publishing */
};

static int pub_unit(store_conn *tx, void *arg)
{
    struct pub *p = arg;
    int rc = bus_publish_tx(tx, b, &p->ev, p->id, &p->routed);
    if (rc) return rc;
    return p->fail_after ? ORD_ECONDITION : 0;
}

static int64_t visible(queue *q)
{
    queue_stats s;
    cr_assert_eq(queue_stats_get(qs, q, &s), 0);
    return s.visible;
}

static int64_t logged(void)
{
    store_stmt *s = store_prep(store_reader(st), ST_EVENT_COUNT);
    cr_assert_eq(store_step(s), STORE_ROW);
    int64_t n = store_col_i64(s, 0);
    store_reset(s);
    return n;
}

Test(bus, publish_routes_to_matching_rules)
{
    json_t *d = json_pack("{s:i}", "amount", 150);
    struct pub p = {.ev = {.source = "orderly.orders", .detail_type = "OrderCreated", .detail = d}};
    cr_assert_eq(store_run(st, pub_unit, &p), 0);
    cr_expect(id_is_uuid(p.id));
    cr_expect_eq(p.routed, 2, "created + big");
    cr_expect_eq(visible(qa), 1);
    cr_expect_eq(visible(qb), 1);
    cr_expect_eq(logged(), 1);
    /* the message body is the whole envelope */
    queue_msg m[1];
    int n;
    cr_assert_eq(queue_receive_wait(qs, qa, 1, -1, 0, m, &n), 0);
    cr_assert_eq(n, 1);
    json_t *env = json_loads(m[0].body, 0, NULL);
    cr_assert_not_null(env);
    cr_expect_str_eq(json_string_value(json_object_get(env, "id")), p.id);
    cr_expect_str_eq(json_string_value(json_object_get(env, "version")), "0");
    cr_expect_str_eq(json_string_value(json_object_get(env, "detail-type")), "OrderCreated");
    cr_expect(json_is_array(json_object_get(env, "resources")));
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(env, "detail"), "amount")), 150);
    json_decref(env);
    queue_msg_release(&m[0]);
    json_decref(d);
}

Test(bus, no_match_is_logged_not_routed)
{
    struct pub p = {.ev = {.source = "other", .detail_type = "X"}};
    cr_assert_eq(store_run(st, pub_unit, &p), 0);
    cr_expect_eq(p.routed, 0);
    cr_expect_eq(logged(), 1);
    cr_expect_eq(visible(qa) + visible(qb), 0);
}

Test(bus, outbox_rolls_back_with_the_caller)
{
    struct pub p = {.ev = {.source = "fan.out", .detail_type = "X"}, .fail_after = 1};
    cr_assert_eq(store_run(st, pub_unit, &p), ORD_ECONDITION);
    cr_expect_eq(logged(), 0, "no event without the caller's commit");
    cr_expect_eq(visible(qa) + visible(qb), 0, "no routed message either");
}

Test(bus, duplicate_id_refused)
{
    struct pub p = {.ev = {.source = "s", .detail_type = "X", .id = "fixed-id"}};
    cr_assert_eq(store_run(st, pub_unit, &p), 0);
    cr_expect_eq(store_run(st, pub_unit, &p), ORD_EEXISTS);
}

Test(bus, event_checks)
{
    char err[200];
    bus_event e = {.source = "aws.ec2", .detail_type = "X"};
    cr_expect_eq(bus_event_check(&e, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "aws.") != NULL, "%s", err);
    e.source = "";
    cr_expect_eq(bus_event_check(&e, err, sizeof err), ORD_EVALIDATION);
    char longs[LIMIT_EVENT_FIELD_MAX + 2];
    memset(longs, 's', sizeof longs);
    longs[LIMIT_EVENT_FIELD_MAX] = 0;
    e.source = longs;
    cr_expect_eq(bus_event_check(&e, err, sizeof err), 0, "source at the limit");
    longs[LIMIT_EVENT_FIELD_MAX] = 's';
    longs[LIMIT_EVENT_FIELD_MAX + 1] = 0;
    cr_expect_eq(bus_event_check(&e, err, sizeof err), ORD_EVALIDATION, "source past the limit");
    json_t *arr = json_array();
    e.source = "ok";
    e.detail = arr;
    cr_expect_eq(bus_event_check(&e, err, sizeof err), ORD_EVALIDATION, "detail must be an object");
    json_decref(arr);
}

Test(bus, invalid_rules)
{
    char err[200];
    const char *t[] = {"a"}, *missing[] = {"zzz"};
    json_t *bad = json_loads("{\"detail\":{\"n\":[{\"numeric\":[\">\",\"x\"]}]}}", 0, NULL);
    cr_expect_eq(bus_rule_add(b, "bad", NULL, bad, t, 1, 1, err, sizeof err), ORD_EVALIDATION);
    cr_expect(strstr(err, "detail.n") != NULL, "message says where: %s", err);
    json_t *ok = json_loads("{\"source\":[\"x\"]}", 0, NULL);
    cr_expect_eq(bus_rule_add(b, "tgt", NULL, ok, missing, 1, 1, err, sizeof err), ORD_EVALIDATION);
    cr_expect_eq(bus_rule_add(b, "created", NULL, ok, t, 1, 1, err, sizeof err), ORD_EEXISTS);
    cr_expect_eq(bus_rule_add(b, "bad name!", NULL, ok, t, 1, 1, err, sizeof err), ORD_EVALIDATION);
    json_decref(bad);
    json_decref(ok);
    cr_expect_eq(bus_rule_count(b), 3);
}

Test(bus, replay_window_through_rules)
{
    int64_t t0 = clock_wall_ms();
    for (int i = 0; i < 5; i++) {
        struct pub p = {.ev = {.source = "orderly.orders", .detail_type = "OrderCreated", .time_ms = t0 + i * 1000, .has_time = 1}};
        cr_assert_eq(store_run(st, pub_unit, &p), 0);
    }
    struct pub late = {.ev = {.source = "orderly.orders", .detail_type = "OrderCreated", .time_ms = t0 + 60000, .has_time = 1}};
    cr_assert_eq(store_run(st, pub_unit, &late), 0);
    cr_assert_eq(visible(qa), 6);
    int64_t ev, routed;
    cr_assert_eq(bus_replay(b, t0 + 1000, t0 + 4000, NULL, "r1", &ev, &routed), 0);
    cr_expect_eq(ev, 3, "events at +1,+2,+3 s");
    cr_expect_eq(routed, 3);
    cr_expect_eq(visible(qa), 9);
    cr_expect_eq(logged(), 6, "replays are not archived again");
    cr_expect_eq(bus_replay(b, t0, t0 + 1, "nope", "r2", &ev, &routed), ORD_ENOTFOUND);
    cr_assert_eq(bus_replay(b, t0, t0 + 100000, "big", "r3", &ev, &routed), 0);
    cr_expect_eq(routed, 0, "rule filter: 'big' matches none of them");
    /* replayed copies carry replay-name and the original id */
    queue_msg m[10];
    int n, seen = 0;
    while (queue_receive_wait(qs, qa, 10, -1, 0, m, &n) == 0 && n) {
        for (int i = 0; i < n; i++) {
            json_t *env = json_loads(m[i].body, 0, NULL);
            if (json_object_get(env, "replay-name")) seen++;
            json_decref(env);
            queue_msg_release(&m[i]);
        }
    }
    cr_expect_eq(seen, 3);
}

/* A unit that fails after a page ran must not move the replay on: the
 * position only advances after the commit (bus_replay_advance). */
static int page_then_fail(store_conn *tx, void *arg)
{
    int rc = bus_replay_page_tx(tx, arg);
    return rc ? rc : ORD_ECONDITION;
}

Test(bus, replay_paged_by_the_caller)
{
    int64_t t0 = clock_wall_ms();
    for (int i = 0; i < 300; i++) {
        struct pub p = {.ev = {.source = "orderly.orders", .detail_type = "OrderCreated", .time_ms = t0 + i, .has_time = 1}};
        cr_assert_eq(store_run(st, pub_unit, &p), 0);
    }
    bus_replay_state rs;
    cr_expect_eq(bus_replay_begin(b, t0, t0, NULL, NULL, &rs), ORD_EVALIDATION, "empty window");
    cr_expect_eq(bus_replay_begin(b, t0, t0 + 1, "nope", NULL, &rs), ORD_ENOTFOUND);
    char longname[LIMIT_REPLAY_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    cr_expect_eq(bus_replay_begin(b, t0, t0 + 1, NULL, longname, &rs), ORD_EVALIDATION, "name too long");
    cr_assert_eq(bus_replay_begin(b, t0, t0 + 300, "created", "paged", &rs), 0);
    int64_t before = visible(qa);
    cr_assert_eq(store_run(st, page_then_fail, &rs), ORD_ECONDITION);
    cr_expect_eq(visible(qa), before, "the failed page's messages rolled back");
    int pages = 0;
    do {
        cr_assert_eq(store_run(st, bus_replay_page_tx, &rs), 0);
        pages++;
    } while (bus_replay_advance(&rs));
    cr_expect_eq(pages, 2, "256 + 44");
    cr_expect_eq(rs.events, 300, "every event once, the failed page included");
    cr_expect_eq(rs.routed, 300);
    cr_expect_eq(visible(qa) - before, 300);
    cr_expect_eq(rs.truncated, 0);
}

/* Publishes n events at time_ms in one unit. */
struct many {
    int n;
    int64_t time_ms;
};

static int many_unit(store_conn *tx, void *arg)
{
    struct many *m = arg;
    for (int i = 0; i < m->n; i++) {
        bus_event ev = {.source = "orderly.orders", .detail_type = "OrderCreated", .time_ms = m->time_ms, .has_time = 1};
        int rc = bus_publish_tx(tx, b, &ev, NULL, NULL);
        if (rc) return rc;
    }
    return 0;
}

/* A page reads at most LIMIT_REPLAY_SCAN_ROWS positions of the log: a small
 * window deep in a large log, its events apart, is found whole by pages
 * that step over what lies outside it (some finding nothing). */
Test(bus, replay_pages_step_through_a_large_log)
{
    int64_t t0 = clock_wall_ms();
    struct many parts[] = {{2 * LIMIT_REPLAY_SCAN_ROWS + 100, t0 - 100000}, {50, t0},
                           {LIMIT_REPLAY_SCAN_ROWS + 7, t0 - 100000}, {30, t0 + 5}, {20, t0 + 100000}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) cr_assert_eq(store_run(st, many_unit, &parts[i]), 0);
    int64_t before = visible(qa);
    bus_replay_state rs;
    cr_assert_eq(bus_replay_begin(b, t0, t0 + 10, "created", "deep", &rs), 0);
    int pages = 0;
    do {
        cr_assert_eq(store_run(st, bus_replay_page_tx, &rs), 0);
        cr_assert_leq(rs.page_n, rs.page);
        pages++;
    } while (bus_replay_advance(&rs) && pages < 1000);
    cr_expect_eq(rs.events, 80, "the window's 50 + 30, once each");
    cr_expect_eq(visible(qa) - before, 80);
    cr_expect_geq(pages, (3 * LIMIT_REPLAY_SCAN_ROWS + 207) / LIMIT_REPLAY_SCAN_ROWS, "bounded pages: %d", pages);
    cr_expect_lt(pages, 10, "and not many more: %d", pages);
}

Test(bus, prepared_add_int_extends_detail)
{
    json_t *d = json_pack("{s:i}", "a", 1);
    bus_event ev = {.source = "s", .detail_type = "T", .detail = d};
    bus_prepared p;
    cr_assert_eq(bus_prepare(b, &ev, &p), 0);
    cr_assert_eq(bus_prepared_add_int(&p, "amountCents", 3801), 0);
    json_t *env = json_loadb(p.text, p.len, 0, NULL);
    cr_assert_not_null(env, "not JSON: %s", p.text);
    json_t *det = json_object_get(env, "detail");
    cr_expect_eq(json_integer_value(json_object_get(det, "a")), 1);
    cr_expect_eq(json_integer_value(json_object_get(det, "amountCents")), 3801, "%s", p.text);
    json_decref(env);
    bus_prepared_release(&p);
    json_decref(d);
    bus_event empty = {.source = "s", .detail_type = "T"};
    cr_assert_eq(bus_prepare(b, &empty, &p), 0);
    cr_assert_eq(bus_prepared_add_int(&p, "n", -5), 0);
    env = json_loadb(p.text, p.len, 0, NULL);
    cr_assert_not_null(env, "not JSON: %s", p.text);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(env, "detail"), "n")), -5, "%s", p.text);
    json_decref(env);
    bus_prepared_release(&p);
}

/* The detail's text is read out of an envelope the bus wrote without
 * parsing it (in-process records, notifications): the same text a parse
 * and a compact dump give, whatever the strings before it hold. */
Test(bus, envelope_detail_is_the_detail_text)
{
    json_t *d = json_pack("{s:s,s:{s:s},s:[i,i]}", "detail", "x\",\"detail\":{", "n", "detail", "}}", "a", 1, 2);
    json_t *res = json_pack("[s]", ",\"detail\":{\"forged\":1}}");
    bus_event ev = {.source = "src,\"detail\":{}", .detail_type = "T", .detail = d, .resources = res};
    bus_prepared p;
    cr_assert_eq(bus_prepare(b, &ev, &p), 0);
    const char *text;
    size_t n;
    cr_assert_eq(bus_envelope_detail(p.text, p.len, &text, &n), 0, "%s", p.text);
    char *want = json_dumps(d, JSON_COMPACT);
    cr_expect_eq(n, strlen(want), "%.*s vs %s", (int)n, text, want);
    cr_expect(!strncmp(text, want, n), "%.*s vs %s", (int)n, text, want);
    free(want);
    bus_prepared_release(&p);
    json_decref(d);
    json_decref(res);
    /* not the bus's layout (a replay adds replay-name after the detail): refused */
    const char *replay = "{\"id\":\"1\",\"detail\":{\"a\":1},\"replay-name\":\"r\"}";
    cr_expect_eq(bus_envelope_detail(replay, strlen(replay), &text, &n), ORD_EINVAL);
    const char *none = "{\"id\":\"1\"}}";
    cr_expect_eq(bus_envelope_detail(none, strlen(none), &text, &n), ORD_EINVAL);
}

/* The envelope is written as text, member by member: byte for byte what
 * the jansson object of those members dumps to, whatever its strings hold. */
Test(bus, envelope_text_is_the_objects_dump)
{
    json_t *d = json_pack("{s:s,s:[i,f,b,n]}", "q", "\"\\\x01 é 😀", "a", 1, 2.5, 1);
    json_t *res = json_pack("[s,s]", "arn:x", "y\"z");
    bus_event evs[] = {
        {.source = "my.src", .detail_type = "Detail type é", .detail = d, .resources = res},
        {.source = "orderly.orders", .detail_type = "OrderCreated"}, /* no detail, no resources */
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        bus_prepared p;
        cr_assert_eq(bus_prepare(b, &evs[i], &p), 0);
        char ts[40];
        json_t *env = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:O}", "version", "0", "id", p.id, "detail-type",
                                evs[i].detail_type, "source", evs[i].source, "account", BUS_ACCOUNT, "time",
                                clock_fmt_iso(p.time_ms, 0, ts, sizeof ts), "region", BUS_REGION, "resources",
                                evs[i].resources ? evs[i].resources : json_array(), "detail",
                                evs[i].detail ? evs[i].detail : json_object());
        cr_assert_not_null(env);
        char *want = json_dumps(env, JSON_COMPACT);
        cr_expect_str_eq(p.text, want);
        cr_expect_eq(p.len, strlen(want));
        free(want);
        json_decref(env);
        bus_prepared_release(&p);
    }
    json_decref(d);
    json_decref(res);
}

/* When every enabled rule looks at source and detail-type only, they are
 * matched on those two members, not on the envelope: the same rules match. */
/* Adds a rule with the pattern of this text to bb, which must take it. */
static void rule_add(bus *bb, const char *name, const char *pattern_text, const char *target, int enabled)
{
    char err[200];
    const char *t[] = {target};
    json_t *p = json_loads(pattern_text, 0, NULL);
    cr_assert_not_null(p, "%s", pattern_text);
    cr_assert_eq(bus_rule_add(bb, name, NULL, p, t, 1, enabled, err, sizeof err), 0, "%s", err);
    json_decref(p);
}

Test(bus, rules_on_source_and_type_match_as_on_the_envelope)
{
    bus *b2;
    cr_assert_eq(bus_open(qs, &b2), 0);
    rule_add(b2, "created", "{\"source\":[\"orderly.orders\"],\"detail-type\":[\"OrderCreated\"]}", "a", 1);
    rule_add(b2, "fan-or-ping", "{\"$or\":[{\"source\":[{\"prefix\":\"fan.\"}]},{\"detail-type\":[\"Ping\"]}]}", "b", 1);
    rule_add(b2, "not-ping", "{\"detail-type\":[{\"anything-but\":\"Ping\"}]}", "a", 1);
    json_t *d = json_pack("{s:s}", "source", "fan.x"); /* a detail member of the same name changes nothing */
    struct {
        bus_event ev;
        int want[3];
    } cases[] = {
        {{.source = "orderly.orders", .detail_type = "OrderCreated", .detail = d}, {1, 0, 1}},
        {{.source = "fan.y", .detail_type = "Ping"}, {0, 1, 0}},
        {{.source = "other", .detail_type = "Ping", .detail = d}, {0, 1, 0}},
        {{.source = "other", .detail_type = "X"}, {0, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bus_prepared p;
        cr_assert_eq(bus_prepare(b2, &cases[i].ev, &p), 0);
        int got[3] = {0};
        for (int k = 0; k < p.nrules; k++) got[p.rules[k]] = 1;
        for (int k = 0; k < 3; k++) cr_expect_eq(got[k], cases[i].want[k], "case %zu rule %d", i, k);
        /* and what the whole envelope gives */
        json_t *env = json_loadb(p.text, p.len, 0, NULL);
        cr_assert_not_null(env);
        bus_rule_info ri;
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(bus_rule_get(b2, k, &ri), 0);
            pattern *pat;
            char perr[200];
            cr_assert_eq(pattern_compile(ri.pattern, &pat, perr, sizeof perr), 0, "%s", perr);
            cr_expect_eq(pattern_match(pat, env), cases[i].want[k], "case %zu rule %d on the envelope", i, k);
            pattern_free(pat);
        }
        json_decref(env);
        bus_prepared_release(&p);
    }
    json_decref(d);
    bus_close(b2);
}

/* The rules bus_prepare gives for ev, as a bitmap, and what the bus's
 * patterns say of {source, detail-type} when compiled afresh. */
static uint64_t prepared_rules(bus *bb, const bus_event *ev)
{
    bus_prepared p;
    cr_assert_eq(bus_prepare(bb, ev, &p), 0);
    uint64_t got = 0;
    for (int k = 0; k < p.nrules; k++) got |= 1ull << p.rules[k];
    bus_prepared_release(&p);
    return got;
}

static uint64_t reference_rules(bus *bb, const bus_event *ev)
{
    json_t *obj = json_pack("{s:s,s:s}", "source", ev->source, "detail-type", ev->detail_type);
    uint64_t want = 0;
    for (int k = 0; k < bus_rule_count(bb); k++) {
        bus_rule_info ri;
        cr_assert_eq(bus_rule_get(bb, k, &ri), 0);
        pattern *pat;
        char perr[200];
        cr_assert_eq(pattern_compile(ri.pattern, &pat, perr, sizeof perr), 0, "%s", perr);
        if (ri.enabled && pattern_match(pat, obj)) want |= 1ull << k;
        pattern_free(pat);
    }
    json_decref(obj);
    return want;
}

/* The thread's memo of which rules a (source, detail-type) matches: right
 * for more pairs than it has slots (evictions), for two buses with other
 * rules asked in turn about the same pairs, and after a rule is added. */
Test(bus, rule_matches_kept_per_pair_stay_right)
{
    bus *b2, *b3;
    cr_assert_eq(bus_open(qs, &b2), 0);
    cr_assert_eq(bus_open(qs, &b3), 0);
    const char *not_s2 = "{\"source\":[{\"anything-but\":\"s2\"}]}", *t3_only = "{\"detail-type\":[\"T3\"]}";
    rule_add(b2, "r1", "{\"source\":[\"s1\"],\"detail-type\":[\"T1\",\"T2\"]}", "a", 1);
    rule_add(b2, "r2", "{\"detail-type\":[{\"prefix\":\"T1\"}]}", "b", 1);
    rule_add(b2, "off", not_s2, "b", 0);
    rule_add(b3, "r3", not_s2, "a", 1);
    bus_event t3 = {.source = "s0", .detail_type = "T3"};
    cr_expect_eq(prepared_rules(b3, &t3), 1ull << 0, "before");
    cr_expect_eq(prepared_rules(b3, &t3), 1ull << 0, "before, kept");
    rule_add(b3, "r5", t3_only, "b", 1);
    cr_expect_eq(prepared_rules(b3, &t3), 1ull << 0 | 1ull << 1, "a rule added after the pair was kept");
    char src[24][8], type[24][8];
    for (int round = 0; round < 4; round++) {
        if (round == 2) /* a rule added after the pairs were kept */
            rule_add(b2, "r4", t3_only, "a", 1);
        for (int i = 0; i < 24; i++) {
            snprintf(src[i], sizeof src[i], "s%d", i % 3);
            snprintf(type[i], sizeof type[i], "T%d%s", i % 5, i % 2 ? "x" : "");
            bus_event ev = {.source = src[i], .detail_type = type[i]};
            bus *bb = i % 2 ? b2 : b3;
            for (int twice = 0; twice < 2; twice++) {
                cr_expect_eq(prepared_rules(bb, &ev), reference_rules(bb, &ev), "round %d %s/%s on bus %d", round,
                             src[i], type[i], i % 2 ? 2 : 3);
                bb = bb == b2 ? b3 : b2;
            }
        }
    }
    cr_expect_eq(prepared_rules(b2, &(bus_event){.source = "s0", .detail_type = "T3"}), 1ull << 3, "the added rule");
    bus_close(b2);
    bus_close(b3);
}

static void keep_row(void *arg, const bus_event_row *ev)
{
    char **out = arg;
    if (!*out) *out = strndup(ev->envelope, ev->len);
}

static int publish_prepared(store_conn *tx, void *arg)
{
    int routed;
    return bus_publish_prepared_tx(tx, b, arg, &routed);
}

/* The log keeps an envelope without the members its columns hold; every
 * reader gets the envelope back byte for byte (escapes included), and a
 * whole envelope in the column (older rows, erased ones) is read as is. */
Test(bus, log_keeps_the_envelope_without_its_columns)
{
    json_t *d = json_pack("{s:s}", "q", "x");
    bus_event ev = {.source = "my.\"src\\", .detail_type = "Type \u00e9 \"q\"", .detail = d};
    bus_prepared p;
    cr_assert_eq(bus_prepare(b, &ev, &p), 0);
    cr_assert_eq(store_run(st, publish_prepared, &p), 0);

    /* the column holds the text from the member after source on */
    store_stmt *s = store_prep(store_reader(st), ST_EVENT_GET);
    store_bind_str(s, 1, p.id);
    cr_assert_eq(store_step(s), STORE_ROW);
    size_t n = 0, len = 0;
    const char *stored = store_col_text(s, 4, &n);
    const char *tail = strstr(p.text, ",\"account\":");
    cr_assert_not_null(tail);
    cr_expect_str_eq(stored, tail + 1);
    cr_expect_lt(n + 100, p.len, "stored %zu of %zu bytes", n, p.len);
    char *text = bus_envelope_of_row(p.id, ev.source, ev.detail_type, stored, n, &len);
    store_reset(s);
    cr_assert_not_null(text);
    cr_expect_str_eq(text, p.text, "rebuilt from the columns");
    cr_expect_eq(len, p.len);
    free(text);

    /* the search reads it whole */
    char *found = NULL;
    bus_search q = {.from_ms = 0, .to_ms = INT64_MAX, .source = ev.source, .limit = 1};
    cr_assert_eq(bus_events_search(b, &q, keep_row, &found), 1);
    cr_expect_str_eq(found, p.text);
    free(found);
    bus_prepared_release(&p);
    json_decref(d);

    /* a whole envelope in the column */
    const char *whole = "{\"version\":\"0\",\"id\":\"x\",\"detail\":{}}";
    text = bus_envelope_of_row("ignored", "ignored", "ignored", whole, strlen(whole), &len);
    cr_assert_not_null(text);
    cr_expect_str_eq(text, whole);
    cr_expect_eq(len, strlen(whole));
    free(text);
}
