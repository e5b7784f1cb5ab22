"""t645: the circuit breaker around the payment provider (issue 14, part 2;
seed 002's "circuit breakers prevent cascading failures").

  breaker on   outage mode (PUT /api/simulator/payment): after
               failureThreshold failures the circuit opens; from then on
               every provider call is a half-open trial that re-opens it
               (orderly_payment_provider_calls_total rises by exactly the
               re-openings: otherwise flat); the outage lasts several times
               what maxReceiveCount x backoff allows, yet no order is
               dead-lettered; the alarm payment-circuit-open goes to ALARM,
               /api/health is degraded; mode ok: the circuit closes, every
               order completes exactly once (one payment row, one
               OrderCompleted), the alarm returns to OK, CircuitOpened and
               CircuitClosed are in the event log (source orderly.payments)
  breaker off  the same outage dead-letters the orders (the control: the
               test above can fail)
  simulator    PUT /api/simulator/payment validation: latencyMs at its limit
               and limit + 1, mode, unknown keys; latency mode still
               completes orders (on the pollers)
"""
import os
import time
from harness import (SRC, Server, run, check, eq, ok, wait_for, shipped_config, quick_retries, db_rows,
                     is_problem, uniq)

N = 8
THRESHOLD = 3
OUTAGE_S = 8          # maxReceiveCount 5 x backoff <= 0.2 s: ~1 s would dead-letter everything
LATENCY_MAX = 10000   # LIMIT_PAYMENT_LATENCY_MS_MAX


def make_config(breaker):
    cfg = quick_retries(shipped_config(), max_receive=5, visibility=2, backoff=(100, 200))
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    cfg["payments"] = {"circuitBreaker": {"enabled": breaker, "failureThreshold": THRESHOLD, "windowSeconds": 60,
                                          "coolDownSeconds": 2, "retryDelaySeconds": 1}}
    cfg["alarmSampleSeconds"] = 1
    for a in cfg["alarms"]:
        if a["name"] == "payment-circuit-open":
            a["periodSeconds"] = 1
    return cfg


def place(srv, n, tag):
    return [ok(srv, "POST", "/api/orders", {"customerId": "%s-%d" % (tag, i),
                                            "items": [{"sku": "PROD-002", "qty": 1}]}, want=202)["orderId"]
            for i in range(n)]


def statuses(srv, ids):
    return [ok(srv, "GET", "/api/orders/" + i)["status"] for i in ids]


def sim(srv):
    return ok(srv, "GET", "/api/simulator/payment")


def alarm_state(srv):
    return ok(srv, "GET", "/api/alarms/payment-circuit-open")["state"]


def dlq_visible(srv, env):
    return ok(srv, "GET", "/api/queues/%s-payments-dlq" % env)["stats"]["visible"]


def test_breaker_holds_the_payments_through_an_outage():
    env = "cb"
    srv = Server(env=env, config=make_config(True), log_level="info")
    srv.start()
    try:
        s = sim(srv)
        eq((s["mode"], s["circuit"]["state"], s["circuit"]["enabled"]), ("ok", "closed", True), "at start")
        wait_for("alarm OK", lambda: alarm_state(srv) == "OK", timeout=10)
        ok(srv, "PUT", "/api/simulator/payment", {"mode": "outage"})
        t0 = time.time()
        ids = place(srv, N, uniq("o"))
        wait_for("the circuit open", lambda: sim(srv)["circuit"]["opened"] >= 1, timeout=10)
        s1 = sim(srv)
        eq(s1["providerCalls"], THRESHOLD + s1["circuit"]["opened"] - 1,
           "calls: the threshold, then one trial per re-opening (%r)" % s1)
        wait_for("alarm ALARM", lambda: alarm_state(srv) == "ALARM", timeout=10)
        st, _, h = srv.request("GET", "/api/health")
        check(st == 503 and h["status"] == "degraded", "health degraded while open: %s %r" % (st, h))
        eq(h["components"]["payments"]["status"], "circuit-open", "health names the circuit")
        # the outage goes on: only trials reach the provider
        while time.time() - t0 < OUTAGE_S:
            time.sleep(0.5)
            s2 = sim(srv)
            eq(s2["providerCalls"] - s1["providerCalls"], s2["circuit"]["opened"] - s1["circuit"]["opened"],
               "provider calls while open: one per trial, each re-opened it (%r -> %r)" % (s1, s2))
            eq(dlq_visible(srv, env), 0, "nothing dead-lettered during the outage")
        check(s2["providerCalls"] < N * 5, "far fewer calls than the retries without a breaker: %r" % s2)
        check(all(x == "RESERVED" for x in statuses(srv, ids)), "orders wait, RESERVED")
        text = ok(srv, "GET", "/metrics")
        check('orderly_circuit_state{circuit="payment-provider"}' in text, "circuit state metric")
        check("orderly_payment_provider_calls_total %d" % s2["providerCalls"] in text
              or "orderly_payment_provider_calls_total" in text, "provider calls metric")

        ok(srv, "PUT", "/api/simulator/payment", {"mode": "ok"})
        wait_for("every order COMPLETED", lambda: statuses(srv, ids) == ["COMPLETED"] * N, timeout=30)
        s3 = sim(srv)
        eq(s3["circuit"]["state"], "closed", "closed after the outage")
        check(s3["circuit"]["closed"] >= 1, "closed once at least: %r" % s3)
        eq(dlq_visible(srv, env), 0, "nothing dead-lettered")
        for oid in ids:  # exactly once
            eq(db_rows(srv, "SELECT outcome FROM payments WHERE order_id=?", oid), [["captured"]], "one payment of " + oid)
            ev = ok(srv, "GET", "/api/orders/%s/events" % oid)
            done = [e for e in ev["events"] if e["type"] == "OrderCompleted"]
            eq(len(done), 1, "one OrderCompleted of " + oid)
        print("  breaker on: %d orders, outage %ds: provider calls %d (opened %d times, closed %d), dead-lettered 0, "
              "all COMPLETED once" % (N, OUTAGE_S, s3["providerCalls"], s3["circuit"]["opened"], s3["circuit"]["closed"]))
        wait_for("alarm back to OK", lambda: alarm_state(srv) == "OK", timeout=15)
        evs = ok(srv, "GET", "/api/events?source=orderly.payments&limit=100")["events"]
        types = {e["detailType"] for e in evs}
        check({"CircuitOpened", "CircuitClosed"} <= types, "circuit events on the bus: %r" % types)
        st, _, h = srv.request("GET", "/api/health")
        eq((st, h["components"]["payments"]["status"]), (200, "available"), "health after")
        with open(srv.log_path) as lf:
            log = lf.read()
        check("circuit opened" in log and "circuit closed" in log, "transitions in the log")
    finally:
        srv.stop()


def test_without_the_breaker_the_outage_dead_letters():
    env = "cn"
    srv = Server(env=env, config=make_config(False))
    srv.start()
    try:
        eq(sim(srv)["circuit"]["enabled"], False, "breaker off")
        ok(srv, "PUT", "/api/simulator/payment", {"mode": "outage"})
        ids = place(srv, N, uniq("n"))
        wait_for("all dead-lettered", lambda: dlq_visible(srv, env) == N, timeout=OUTAGE_S)
        eq(statuses(srv, ids), ["FAILED"] * N, "orders FAILED (dead_lettered)")
        eq(sim(srv)["circuit"]["opened"], 0, "no circuit")
        calls = sim(srv)["providerCalls"]
        check(calls >= N * 5, "every attempt called the provider")
        print("  breaker off: %d orders dead-lettered, provider calls %d" % (N, calls))
    finally:
        srv.stop()


def test_simulator_put_validation_and_latency():
    srv = Server(env="cs", config=make_config(True))
    srv.start()
    try:
        b = ok(srv, "PUT", "/api/simulator/payment", {"latencyMs": LATENCY_MAX})
        eq(b["latencyMs"], LATENCY_MAX, "latencyMs at the limit")
        for body, field in (({"latencyMs": LATENCY_MAX + 1}, "latencyMs"), ({"mode": "down"}, "mode"),
                            ({"latencyMs": -1}, "latencyMs"), ({"bogus": 1}, "bogus")):
            st, h, p = srv.request("PUT", "/api/simulator/payment", body)
            is_problem(st, h, p, 422, repr(body))
            check(any(e["field"] == field for e in p.get("errors", [])), "%r names %s: %r" % (body, field, p))
        eq(sim(srv)["latencyMs"], LATENCY_MAX, "bad input changed nothing")
        ok(srv, "PUT", "/api/simulator/payment", {"latencyMs": 300, "mode": "ok"})
        ids = place(srv, 3, uniq("l"))
        wait_for("orders COMPLETED with latency", lambda: statuses(srv, ids) == ["COMPLETED"] * 3, timeout=30)
        eq(sim(srv)["providerCalls"], 3, "one call each")
    finally:
        srv.stop()


run(globals())
