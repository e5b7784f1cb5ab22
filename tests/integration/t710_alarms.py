"""t710: the alarms against the real binary (issue 4).

Every default alarm of config/orderly.json is taken as shipped and given
1-second periods (alarmSampleSeconds 1) and, where the shipped threshold needs
minutes of traffic, a smaller threshold; each is driven into ALARM and back to
OK by real traffic:

  ops  - the shipped topology (orders dead-letter after 2 receives), a rule
         routing source orderly.alarms to the queue 'alarm-events' (the
         AlarmStateChanged events the tests read), an 'idle' queue;
         alarms dlq-messages-visible, function-errors, low-stock,
         http-p99-latency (all routes, threshold 0.5 s) and
         http-p99-shipped-routes (the shipped route pattern, which leaves
         long polls out)
  age  - a queue nobody consumes; queue-oldest-age with threshold 2 s
  busy - store.pendingMax 1: concurrent sends are refused with 503 (the
         store's backpressure); http-5xx-rate

Every wait is a poll with a deadline.
"""
import json
import os
import threading
import time
from harness import logged_envelope, SRC, Shared, do_request, run, check, eq, is_problem, ok, wait_for, shipped_config, quick_retries, db_rows

SHIPPED = shipped_config()
DEFAULTS = {a["name"]: a for a in SHIPPED["alarms"]}


def short(shipped, **over):
    """A shipped alarm with 1-second periods (and overrides)."""
    a = dict(DEFAULTS[shipped])
    a["periodSeconds"] = 1
    a.update(over)
    return a


def base_config(alarms, disable=(), **top):
    cfg = quick_retries(json.loads(json.dumps(SHIPPED)), max_receive=2, disable=disable)
    cfg["orders"]["catalog"] = ""
    cfg["alarmSampleSeconds"] = 1
    cfg["alarms"] = alarms
    cfg.update(top)
    return cfg


OPS_CFG = base_config([short("dlq-messages-visible"), short("function-errors"), short("low-stock"),
                       short("http-p99-latency", threshold=0.5, labels={}),
                       short("http-p99-latency", name="http-p99-shipped-routes", threshold=0.5)])
OPS_CFG["queues"] += [{"name": "idle"}, {"name": "alarm-events"}]
OPS_CFG["rules"].append({"name": "alarms-tap", "eventPattern": {"source": ["orderly.alarms"],
                                                                "detail-type": ["AlarmStateChanged"]},
                         "targets": [{"queue": "alarm-events"}]})
AGE_CFG = base_config([short("queue-oldest-age", threshold=2)],
                      disable=("order-processor", "payment-processor", "notification-processor"))
AGE_CFG["queues"].append({"name": "idle"})
BUSY_CFG = base_config([short("http-5xx-rate")], store={"pendingMax": 1},
                       disable=("order-processor", "payment-processor", "notification-processor"))
BUSY_CFG["queues"].append({"name": "q"})

ops = Shared(env="al", config=OPS_CFG, log_level="info")
age = Shared(env="ag", config=AGE_CFG)
busy = Shared(env="bz", config=BUSY_CFG)


# ---- helpers -------------------------------------------------------------------------


def alarm(srv, name):
    return ok(srv, "GET", "/api/alarms/" + name)


def wait_state(srv, name, state, timeout=20):
    last = {}

    def f():
        a = alarm(srv, name)
        last["a"] = a
        return a if a["state"] == state else None
    try:
        return wait_for("%s to be %s" % (name, state), f, timeout)
    except AssertionError:
        raise AssertionError("%s never %s; last: %s" % (name, state, json.dumps(last.get("a"))[:1500]))


EVENTS = []  # every AlarmStateChanged envelope read from the tap queue, in order


def drain_tap(srv):
    q = "/api/queues/%s-alarm-events" % srv().env
    while True:
        msgs = ok(srv, "POST", q + "/receive", {"maxNumberOfMessages": 10, "waitTimeSeconds": 0})["messages"]
        if not msgs:
            return
        for m in msgs:
            EVENTS.append(json.loads(m["body"]))
            ok(srv, "DELETE", q + "/messages/" + m["receiptHandle"], want=204)


def wait_event(srv, name, value, previous, timeout=20):
    """The AlarmStateChanged event of alarm name from previous to value."""
    def f():
        drain_tap(srv)
        for e in EVENTS:
            d = e["detail"]
            if d["alarmName"] == name and d["state"]["value"] == value and d["previousState"]["value"] == previous:
                return e
        return None
    return wait_for("AlarmStateChanged %s %s -> %s" % (name, previous, value), f, timeout)


def check_transition(a, frm, to):
    eq((a["lastTransition"]["from"], a["lastTransition"]["to"]), (frm, to), a["name"] + " lastTransition")
    eq(a["stateUpdatedTimestamp"], a["lastTransition"]["timestamp"], a["name"] + " state time")


def qstats(srv, name):
    return ok(srv, "GET", "/api/queues/%s-%s" % (srv().env, name))["stats"]


# ---- the API ----------------------------------------------------------------------------


def test_list_and_get():
    b = ok(ops, "GET", "/api/alarms")
    names = [a["name"] for a in b["alarms"]]
    eq(names, ["dlq-messages-visible", "function-errors", "low-stock", "http-p99-latency",
               "http-p99-shipped-routes"], "alarms in config order")
    a = alarm(ops, "dlq-messages-visible")
    for k in ("name", "description", "metric", "labels", "statistic", "periodSeconds", "evaluationPeriods",
              "datapointsToAlarm", "threshold", "comparisonOperator", "treatMissingData", "state", "stateReason",
              "stateReasonData", "stateUpdatedTimestamp", "lastTransition", "recentDatapoints"):
        check(k in a, "alarm lacks %r: %r" % (k, a))
    eq((a["metric"], a["statistic"], a["threshold"], a["comparisonOperator"]),
       ("orderly_queue_dlq_messages_visible", "Maximum", 0, "GreaterThanThreshold"), "definition")
    check(a["state"] in ("INSUFFICIENT_DATA", "OK"), "initial state %r" % a["state"])
    is_problem(*ops.request("GET", "/api/alarms/no-such-alarm"), 404, "unknown alarm")
    # the state gauge
    text = ok(ops, "GET", "/metrics")
    check('orderly_alarm_state{alarm="low-stock",state="ALARM"}' in text, "state gauge in /metrics")


def test_shipped_server_has_the_default_alarms():
    st, _, b = age.request("GET", "/api/alarms")
    eq(st, 200, "GET /api/alarms")
    eq([a["name"] for a in b["alarms"]], ["queue-oldest-age"], "test config declares one")
    eq(b["alarms"][0]["labels"], {"queue": "!*-dlq"}, "shipped label pattern kept")


# ---- dlq-messages-visible and function-errors: a FAIL-ME order ------------------------------


def test_fail_me_drives_dlq_and_function_errors_alarms():
    wait_state(ops, "dlq-messages-visible", "OK")
    wait_state(ops, "function-errors", "OK")
    r = ok(ops, "POST", "/api/orders", {"customerId": "c-fail", "items": [{"sku": "FAIL-ME", "qty": 1}]}, 202)
    oid = r["orderId"]
    wait_for("the order FAILED", lambda: ok(ops, "GET", "/api/orders/" + oid)["status"] == "FAILED")
    eq(qstats(ops, "orders-dlq")["visible"], 1, "the message in the DLQ")

    a = wait_state(ops, "dlq-messages-visible", "ALARM")
    check_transition(a, "OK", "ALARM")
    check(a["stateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0 ("), a["stateReason"])
    check("was greater than the threshold (0.0)" in a["stateReason"], a["stateReason"])
    eq(a["stateReasonData"]["recentDatapoints"], [1.0], "reason data")

    # function-errors: at least 1 error in the period, then a period without
    e = wait_event(ops, "function-errors", "ALARM", "OK")
    check("was greater than or equal to the threshold (1.0)" in e["detail"]["state"]["reason"],
          e["detail"]["state"]["reason"])
    wait_event(ops, "function-errors", "OK", "ALARM")

    # the AlarmStateChanged event: routed by the rule, in the event log, logged
    e = wait_event(ops, "dlq-messages-visible", "ALARM", "OK")
    eq((e["source"], e["detail-type"]), ("orderly.alarms", "AlarmStateChanged"), "envelope")
    d = e["detail"]
    eq(d["state"]["reason"], a["stateReason"], "event reason = API reason")
    eq(json.loads(d["state"]["reasonData"])["statistic"], "Maximum", "reasonData is JSON text")
    eq(d["state"]["timestamp"], a["stateUpdatedTimestamp"], "event time = API time")
    eq(d["configuration"]["metric"], "orderly_queue_dlq_messages_visible", "configuration")
    rows = db_rows(ops(), "SELECT envelope FROM events WHERE id = ?", e["id"])
    eq(len(rows), 1, "the event in the event log")
    eq(logged_envelope(rows[0][0])["detail"]["alarmName"], "dlq-messages-visible", "logged envelope")
    with open(ops().log_path) as f:
        lines = [json.loads(l) for l in f if '"alarm state changed"' in l]
    check(any(l["component"] == "alarms" and l["alarm"] == "dlq-messages-visible" and l["oldState"] == "OK"
              and l["newState"] == "ALARM" and l["reason"] == a["stateReason"] for l in lines),
          "structured log line: %r" % lines)

    # a purge empties the DLQ: back to OK
    ok(ops, "POST", "/api/queues/al-orders-dlq/purge")
    a = wait_state(ops, "dlq-messages-visible", "OK")
    check_transition(a, "ALARM", "OK")
    check("was not greater than the threshold (0.0)" in a["stateReason"], a["stateReason"])
    wait_event(ops, "dlq-messages-visible", "OK", "ALARM")


# ---- low-stock -------------------------------------------------------------------------------


def test_low_stock_and_restock():
    wait_state(ops, "low-stock", "OK")  # no product yet: missing data, not breaching
    ok(ops, "POST", "/api/products", {"sku": "LOW-1", "name": "Scarce", "priceCents": 100, "stock": 50}, 201)
    a = wait_state(ops, "low-stock", "OK")
    time.sleep(1.5)
    eq(alarm(ops, "low-stock")["state"], "OK", "50 units is not low")
    ok(ops, "PUT", "/api/products/LOW-1", {"stock": 3})
    a = wait_state(ops, "low-stock", "ALARM")
    check_transition(a, "OK", "ALARM")
    check("[3.0 (" in a["stateReason"] and "was less than the threshold (10.0)" in a["stateReason"], a["stateReason"])
    wait_event(ops, "low-stock", "ALARM", "OK")
    ok(ops, "PUT", "/api/products/LOW-1", {"stock": 10})  # the restock
    a = wait_state(ops, "low-stock", "OK")
    check_transition(a, "ALARM", "OK")
    wait_event(ops, "low-stock", "OK", "ALARM")


# ---- http-p99-latency: a long poll ------------------------------------------------------------


def test_p99_latency_from_a_long_poll():
    wait_state(ops, "http-p99-latency", "OK")
    t0 = time.time()
    b = ok(ops, "POST", "/api/queues/al-idle/receive", {"waitTimeSeconds": 1})
    eq(b["messages"], [], "nothing to receive")
    check(time.time() - t0 >= 0.9, "the long poll waited")
    a = wait_state(ops, "http-p99-latency", "ALARM")
    check_transition(a, "OK", "ALARM")
    v = a["stateReasonData"]["recentDatapoints"][0]
    check(0.5 < v <= 2.5, "p99 from the histogram: %r" % v)
    wait_event(ops, "http-p99-latency", "ALARM", "OK")
    a = wait_state(ops, "http-p99-latency", "OK")  # later periods: only fast requests
    check_transition(a, "ALARM", "OK")
    wait_event(ops, "http-p99-latency", "OK", "ALARM")
    # the shipped route pattern leaves long polls out: it never went to ALARM
    drain_tap(ops)
    s = alarm(ops, "http-p99-shipped-routes")
    check(s["lastTransition"] is None or s["lastTransition"]["to"] != "ALARM", "shipped routes: %r" % s)
    check(not [e for e in EVENTS if e["detail"]["alarmName"] == "http-p99-shipped-routes"
               and e["detail"]["state"]["value"] == "ALARM"], "no ALARM event for the shipped route pattern")


# ---- queue-oldest-age: a message nobody receives ------------------------------------------------


def test_queue_oldest_age():
    wait_state(age, "queue-oldest-age", "OK")
    ok(age, "POST", "/api/queues/ag-idle/messages", {"body": "waits"})
    a = wait_state(age, "queue-oldest-age", "ALARM")
    check_transition(a, "OK", "ALARM")
    check(a["stateReasonData"]["recentDatapoints"][-1] > 2, "age above 2 s: %r" % a["stateReasonData"])
    m = ok(age, "POST", "/api/queues/ag-idle/receive", {})["messages"]
    eq(len(m), 1, "the waiting message")
    ok(age, "DELETE", "/api/queues/ag-idle/messages/" + m[0]["receiptHandle"], want=204)
    a = wait_state(age, "queue-oldest-age", "OK")
    check_transition(a, "ALARM", "OK")


# ---- http-5xx-rate: the store refuses work (503) ----------------------------------------------------


def test_5xx_rate_from_store_backpressure():
    wait_state(busy, "http-5xx-rate", "OK")  # GETs only so far: 0 % of them 5xx
    codes = {}
    lock = threading.Lock()

    def sender():
        c = busy().conn()
        try:
            for _ in range(20):
                st, _, _ = do_request(c, "POST", "/api/queues/bz-q/messages", {"body": "x"})
                with lock:
                    codes[st] = codes.get(st, 0) + 1
        finally:
            c.close()

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(codes.get(503, 0) > 0, "the store refused some sends: %r" % codes)
    eq(sorted(codes), sorted(k for k in codes if k in (200, 503)), "only 200 and 503: %r" % codes)
    a = wait_state(busy, "http-5xx-rate", "ALARM")
    check_transition(a, "OK", "ALARM")
    v = a["stateReasonData"]["recentDatapoints"][-1]
    check(0.05 < v <= 1, "5xx ratio above 5 %%: %r (sent %r)" % (v, codes))
    a = wait_state(busy, "http-5xx-rate", "OK")  # then only the test's GETs
    check_transition(a, "ALARM", "OK")


run(globals())
