"""t300: PutEvents over HTTP (POST /api/events) routed by the rules of the
config to queues, with the EventBridge envelope as the message body;
per-entry results with FailedEntryCount; the 10-entry limit; GET /api/rules.
"""
import json
import os
import re
from harness import SRC, Server, run, check, eq, is_problem, Shared

ENV = "ev"
RULES = [
    {"name": "shop-prefix", "description": "everything from shop.*",
     "eventPattern": {"source": [{"prefix": "shop."}]},
     "targets": [{"queue": "shop"}]},
    {"name": "big-amount",
     "eventPattern": {"source": ["shop.orders"], "detail": {"amount": [{"numeric": [">=", 100, "<", 1000]}]}},
     "targets": [{"queue": "big"}]},
    {"name": "not-test",
     "eventPattern": {"source": [{"prefix": "shop."}], "detail-type": [{"anything-but": ["Test", "Debug"]}]},
     "targets": [{"queue": "nontest"}]},
    {"name": "fanout", "eventPattern": {"detail-type": ["Fanout"]},
     "targets": [{"queue": "fan1"}, {"queue": "fan2"}]},
    {"name": "off", "enabled": False, "eventPattern": {"source": ["shop.orders"]},
     "targets": [{"queue": "offq"}]},
    # a target whose MaximumMessageSize is smaller than most envelopes
    {"name": "tiny", "eventPattern": {"detail-type": ["Tiny"]},
     "targets": [{"queue": "roomy"}, {"queue": "tinyq"}]},
]
QUEUES = ["shop", "big", "nontest", "fan1", "fan2", "offq", "roomy"]
CONFIG = {
    "builtinTopology": False,  # these rules alone
    "queues": [{"name": q} for q in QUEUES] + [{"name": "tinyq", "attributes": {"MaximumMessageSize": 1024}}],
    "rules": RULES,
}
ALLQ = QUEUES + ["tinyq"]

srv = Shared(env=ENV, config=CONFIG)


req = srv.request


def put(entries, want=200):
    st, h, b = req("POST", "/api/events", {"Entries": entries})
    eq(st, want, "PutEvents status (body %r)" % (b,))
    return h, b


def drain(q):
    """Receives and deletes everything visible in <env>-q; returns the parsed bodies."""
    out = []
    while True:
        st, _, b = req("POST", "/api/queues/%s-%s/receive" % (ENV, q),
                       {"maxNumberOfMessages": 10, "visibilityTimeout": 60})
        eq(st, 200, "receive %s" % q)
        if not b["messages"]:
            return out
        for m in b["messages"]:
            out.append(json.loads(m["body"]))
            st, _, _ = req("DELETE", "/api/queues/%s-%s/messages/%s" % (ENV, q, m["receiptHandle"]))
            eq(st, 204, "delete from %s" % q)


def snapshot():
    """Durable and counted state: per queue (visible, inFlight, delayed, sent), per rule matched."""
    st, _, b = req("GET", "/api/queues")
    eq(st, 200, "list queues")
    qs = {q["name"]: (q["stats"]["visible"], q["stats"]["inFlight"], q["stats"]["delayed"], q["stats"]["sent"])
          for q in b["queues"]}
    st, _, r = req("GET", "/api/rules")
    eq(st, 200, "list rules")
    return qs, {x["name"]: x["matched"] for x in r["rules"]}


def matched():
    return snapshot()[1]


def ev(source, dtype, detail, **kw):
    e = {"Source": source, "DetailType": dtype, "Detail": json.dumps(detail)}
    e.update(kw)
    return e


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_routing_by_pattern():
    for q in ALLQ:
        drain(q)
    before = matched()
    cases = [
        # (source, detail-type, detail, queues expected)
        ("shop.orders", "OrderCreated", {"amount": 150}, {"shop", "big", "nontest"}),
        ("shop.orders", "Test", {"amount": 50}, {"shop"}),
        ("shop.billing", "Invoice", {"amount": 500}, {"shop", "nontest"}),
        ("other.src", "OrderCreated", {"amount": 150}, set()),
        ("shop.orders", "Debug", {"amount": 1000}, {"shop"}),
        ("shop.orders", "Other", {"amount": "150"}, {"shop", "nontest"}),
        ("shop.orders", "Edge", {"amount": 100}, {"shop", "big", "nontest"}),
        ("shop.orders", "Edge", {"amount": 999.999999}, {"shop", "big", "nontest"}),
        ("shopping", "Fanout", {"x": 1}, {"fan1", "fan2"}),
    ]
    _, b = put([ev(s, d, det) for s, d, det, _ in cases])
    eq(b["FailedEntryCount"], 0, "FailedEntryCount (entries %r)" % b["Entries"])
    eq(len(b["Entries"]), len(cases), "one result per entry")
    ids = [e.get("EventId") for e in b["Entries"]]
    check(all(ids) and len(set(ids)) == len(ids), "event ids %r" % ids)
    got = {q: drain(q) for q in ALLQ}
    for i, (s, d, det, want) in enumerate(cases):
        where = {q for q in ALLQ for env in got[q] if env["id"] == ids[i]}
        eq(where, want, "event %d (%s/%s %r) routed to" % (i, s, d, det))
    for q in ALLQ:
        qids = [env["id"] for env in got[q]]
        eq(len(qids), len(set(qids)), "no duplicates in %s" % q)
    after = matched()
    want_counts = {"shop-prefix": 7, "big-amount": 3, "not-test": 5, "fanout": 1, "off": 0, "tiny": 0}
    eq({k: after[k] - before[k] for k in after}, want_counts, "matched counts")


def test_envelope_is_the_message_body():
    for q in ("shop", "big", "nontest"):
        drain(q)
    detail = {"amount": 150, "nested": {"list": [1, "two", None], "ok": True}, "uni": "\u00e9\u2603"}
    _, b = put([
        {"Source": "shop.orders", "DetailType": "OrderCreated", "Detail": json.dumps(detail),
         "Resources": ["arn:x:1", "arn:x:2"]},
        # Detail as an object (not a string) and camelCase member names work too
        {"source": "shop.orders", "detailType": "OrderCreated", "detail": {"amount": 101},
         "time": "2024-01-02T03:04:05Z"},
    ])
    eq(b["FailedEntryCount"], 0, "FailedEntryCount (%r)" % b)
    id1, id2 = b["Entries"][0]["EventId"], b["Entries"][1]["EventId"]
    envs = {e["id"]: e for e in drain("big")}
    eq(set(envs), {id1, id2}, "both routed to big")
    e1 = envs[id1]
    eq(e1["version"], "0", "version")
    eq(e1["detail-type"], "OrderCreated", "detail-type")
    eq(e1["source"], "shop.orders", "source")
    eq(e1["resources"], ["arn:x:1", "arn:x:2"], "resources")
    eq(e1["detail"], detail, "detail (parsed from the string)")
    check(ISO.match(e1["time"]), "time %r is not RFC 3339 UTC" % e1["time"])
    for k in ("version", "id", "detail-type", "source", "time", "resources", "detail"):
        check(k in e1, "envelope lacks %r: %r" % (k, e1))
    e2 = envs[id2]
    eq(e2["detail"], {"amount": 101}, "detail object")
    eq(e2["resources"], [], "resources default []")
    check(e2["time"].startswith("2024-01-02T03:04:05"), "Time kept: %r" % e2["time"])
    # the same envelope went to the other matching queues
    eq({e["id"]: e for e in drain("shop")}.get(id1), e1, "same envelope in shop")
    drain("nontest")
    # Detail missing -> {}
    _, b = put([{"Source": "shopping", "DetailType": "Fanout"}])
    eq(b["FailedEntryCount"], 0, "no Detail")
    envs = drain("fan1")
    eq([(e["id"], e["detail"]) for e in envs], [(b["Entries"][0]["EventId"], {})], "missing Detail is {}")
    eq([e["id"] for e in drain("fan2")], [b["Entries"][0]["EventId"]], "fan2 too")


def test_time_is_normalised_to_utc():
    for q in ALLQ:
        drain(q)
    _, b = put([{"Source": "shopping", "DetailType": "Fanout", "Time": "2024-01-02T03:04:05+02:00"},
                {"Source": "shopping", "DetailType": "Fanout", "Time": "2024-13-02T03:04:05Z"}])
    eq(b["FailedEntryCount"], 1, "one bad Time (%r)" % b["Entries"])
    eq(b["Entries"][1].get("ErrorCode"), "InvalidArgument", "month 13")
    envs = drain("fan1")
    eq([e["time"][:19] for e in envs], ["2024-01-02T01:04:05"], "offset converted to UTC")
    check(envs[0]["time"].endswith("Z"), "UTC designator: %r" % envs[0]["time"])
    drain("fan2")


def test_bad_entries_fail_alone():
    for q in ALLQ:
        drain(q)
    good = lambda n: ev("shop.orders", "Good", {"amount": n})  # noqa: E731
    entries = [
        good(1),                                                           # 0 ok
        ev("aws.x", "Good", {"amount": 2}),                                # 1 aws. source
        {"Source": "shop.orders", "Detail": "{}"},                         # 2 no DetailType
        {"Source": "shop.orders", "DetailType": "Good", "Detail": 5},      # 3 Detail a number
        {"Source": "shop.orders", "DetailType": "Good", "Detail": "{bad"},  # 4 malformed JSON string
        good(5),                                                           # 5 ok
        {"Source": "shop.orders", "DetailType": "Good", "Detail": "[1]"},  # 6 not an object
        {"Source": "shop.orders", "DetailType": "Good", "Bogus": 1},       # 7 unknown member
        {"Source": "shop.orders", "DetailType": "x" * 257},                # 8 DetailType too long
        {"Source": "shop.orders", "DetailType": "Good", "Time": "yesterday"},  # 9 bad Time
    ]
    before = snapshot()
    _, b = put(entries)
    eq(len(b["Entries"]), 10, "results")
    ok = [i for i, e in enumerate(b["Entries"]) if "EventId" in e]
    eq(ok, [0, 5], "successful entries")
    eq(b["FailedEntryCount"], 8, "FailedEntryCount")
    for i, e in enumerate(b["Entries"]):
        if i in ok:
            check("ErrorCode" not in e, "entry %d has an ErrorCode: %r" % (i, e))
        else:
            check(e.get("ErrorCode") and e.get("ErrorMessage"), "entry %d lacks ErrorCode/Message: %r" % (i, e))
            check("EventId" not in e, "failed entry %d has an EventId" % i)
    eq(b["Entries"][4]["ErrorCode"], "MalformedDetail", "malformed Detail string")
    check("position" in b["Entries"][4]["ErrorMessage"], "position in %r" % b["Entries"][4])
    eq(b["Entries"][3]["ErrorCode"], "MalformedDetail", "Detail number")
    check("aws." in b["Entries"][1]["ErrorMessage"], "aws. message %r" % b["Entries"][1])
    # only the good ones were published
    got = drain("shop")
    eq(sorted(e["detail"]["amount"] for e in got), [1, 5], "published details")
    eq({e["id"] for e in got}, {b["Entries"][0]["EventId"], b["Entries"][5]["EventId"]}, "published ids")
    after = matched()
    eq(after["shop-prefix"] - before[1]["shop-prefix"], 2, "shop-prefix matched only the good ones")
    eq(after["not-test"] - before[1]["not-test"], 2, "not-test matched only the good ones")
    # every entry bad: still 200 with all failed, nothing published
    before = snapshot()
    _, b = put([ev("aws.y", "X", {}), {"Source": "shop.orders"}])
    eq(b["FailedEntryCount"], 2, "all failed")
    eq(snapshot(), before, "nothing changed when every entry failed")


def test_oversized_entry_fails_alone():
    for q in ALLQ:
        drain(q)
    big = "x" * 262144
    _, b = put([ev("shop.orders", "Good", {"amount": 7}), ev("shop.orders", "Good", {"pad": big})])
    eq(b["FailedEntryCount"], 1, "one too large (%r)" % [e.get("ErrorCode") for e in b["Entries"]])
    check("EventId" in b["Entries"][0], "first ok")
    eq(b["Entries"][1].get("ErrorCode"), "EntrySizeTooLarge", "second too large")
    eq([e["detail"] for e in drain("shop")], [{"amount": 7}], "only the small one")


def test_failed_entry_has_no_partial_effects():
    """A rule with two targets where the second refuses the envelope
    (MaximumMessageSize 1024): the entry must fail as a whole, or succeed
    as a whole - never be reported failed while a queue got it."""
    for q in ALLQ:
        drain(q)
    before = snapshot()
    small = {"Source": "tiny.src", "DetailType": "Tiny", "Detail": {"n": 1}}
    large = {"Source": "tiny.src", "DetailType": "Tiny", "Detail": {"pad": "p" * 2000}}
    _, b = put([small, large, dict(small, Detail={"n": 3})])
    res = b["Entries"]
    roomy = drain("roomy")
    tiny = drain("tinyq")
    got_roomy = {e["id"] for e in roomy}
    check("EventId" in res[0] and "EventId" in res[2], "small entries ok: %r" % res)
    eq({e["id"] for e in tiny}, {res[0]["EventId"], res[2]["EventId"]}, "tinyq got the small ones")
    if "EventId" in res[1]:
        eq(b["FailedEntryCount"], 0, "FailedEntryCount")
        check(res[1]["EventId"] in got_roomy, "an accepted event reached its roomy target")
    else:
        eq(b["FailedEntryCount"], 1, "FailedEntryCount")
        eq(len(roomy), 2, "roomy queue got the failed entry anyway: %r" % [str(e["detail"])[:20] for e in roomy])
        eq(got_roomy, {res[0]["EventId"], res[2]["EventId"]}, "roomy ids")
    # the durable state of the untouched queues did not move
    after = snapshot()
    for q in ("shop", "big", "nontest", "fan1", "fan2", "offq"):  # the tiny rule only
        name = "%s-%s" % (ENV, q)
        eq(after[0][name][:3], before[0][name][:3], "%s unchanged" % name)


def test_put_events_limits():
    for q in ALLQ:
        drain(q)
    before = snapshot()
    st, h, b = req("POST", "/api/events", {"Entries": [ev("shop.orders", "Good", {"amount": i}) for i in range(11)]})
    is_problem(st, h, b, 422, "11 entries")
    eq([e.get("field") for e in b.get("errors", [])], ["Entries"], "errors field")
    eq(snapshot(), before, "11 entries published nothing")
    for body in ({"Entries": []}, {"Entries": {}}, {}, {"Entries": "x"},
                 {"Entries": [ev("shop.orders", "Good", {})], "Extra": 1}):
        st, h, b = req("POST", "/api/events", body)
        is_problem(st, h, b, 422, "body %r" % (body,))
        check(b.get("errors"), "validation errors for %r" % (body,))
    eq(snapshot(), before, "rejected requests published nothing")
    _, b = put([ev("shop.orders", "Good", {"amount": i}) for i in range(10)])
    eq(b["FailedEntryCount"], 0, "10 entries")
    eq(len(drain("shop")), 10, "10 published")
    for q in ALLQ:
        drain(q)


def test_disabled_rule_matches_nothing():
    drain("offq")
    put([ev("shop.orders", "OrderCreated", {"amount": 1})])
    eq(drain("offq"), [], "disabled rule routed")
    for q in ALLQ:
        drain(q)


def test_rules_list():
    st, _, b = req("GET", "/api/rules")
    eq(st, 200, "GET /api/rules")
    rules = {r["name"]: r for r in b["rules"]}
    eq([r["name"] for r in b["rules"]], [r["name"] for r in RULES], "rules in config order")
    for cfg in RULES:
        r = rules[cfg["name"]]
        eq(r["eventPattern"], cfg["eventPattern"], "%s pattern" % cfg["name"])
        eq(r["targets"], [{"queue": "%s-%s" % (ENV, t["queue"])} for t in cfg["targets"]],
           "%s targets (prefixed)" % cfg["name"])
        eq(r["state"], "ENABLED" if cfg.get("enabled", True) else "DISABLED", "%s state" % cfg["name"])
        check(isinstance(r["matched"], int) and r["matched"] >= 0, "%s matched %r" % (cfg["name"], r))
        if "description" in cfg:
            eq(r.get("description"), cfg["description"], "%s description" % cfg["name"])
    # matched counts grow by what is routed
    before = {n: r["matched"] for n, r in rules.items()}
    put([ev("shop.orders", "OrderCreated", {"amount": 200}), ev("zzz", "Fanout", {})])
    st, _, b = req("GET", "/api/rules")
    delta = {r["name"]: r["matched"] - before[r["name"]] for r in b["rules"]}
    eq(delta, {"shop-prefix": 1, "big-amount": 1, "not-test": 1, "fanout": 1, "off": 0, "tiny": 0},
       "matched deltas")
    for q in ALLQ:
        drain(q)
    # the shipped config/orderly.json: its three order rules, targets prefixed
    with Server(env="evd", config=os.path.join(SRC, "config", "orderly.json")) as d:
        st, _, b = d.request("GET", "/api/rules")
        eq(st, 200, "shipped config rules")
        eq([(r["name"], [t["queue"] for t in r["targets"]]) for r in b["rules"]],
           [("order-created", ["evd-orders"]), ("payment-requested", ["evd-payments"]),
            ("order-terminal", ["evd-notifications"])], "shipped rules")



def test_results_line_up_when_an_entry_echoes_multibyte_text():
    key = "\u00e9" * 40   # "unknown field '%.64s'" cuts it inside a character
    good = {"Source": "shop.test", "DetailType": "Order", "Detail": {"amount": 1}}
    bad = dict(good, **{key: 1})
    st, _, b = srv.request("POST", "/api/events", {"Entries": [good, bad, good, bad]})
    eq(st, 200, "PutEvents (body %r)" % b)
    eq(len(b["Entries"]), 4, "one result per entry")
    eq([("EventId" in e, e.get("ErrorCode")) for e in b["Entries"]],
       [(True, None), (False, "InvalidArgument"), (True, None), (False, "InvalidArgument")], "in request order")
    eq(b["FailedEntryCount"], 2, "failed count")
    check(b["Entries"][1]["ErrorMessage"].startswith("unknown field '" + "\u00e9" * 10), "message %r" % b["Entries"][1])


def test_the_servers_sources_are_reserved():
    st, _, b = srv.request("POST", "/api/events", {"Entries": [
        {"Source": "orderly.orders", "DetailType": "OrderCompleted", "Detail": {"orderId": "x"}},
        {"Source": "orderly.anything", "DetailType": "X", "Detail": {}},
        {"Source": "orderlyx.orders", "DetailType": "X", "Detail": {}}]})
    eq(st, 200, "PutEvents")
    eq([e.get("ErrorCode") for e in b["Entries"]],
       ["NotAuthorizedForSourceException", "NotAuthorizedForSourceException", None], "orderly.* refused per entry")

run(globals())
