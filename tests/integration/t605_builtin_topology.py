"""t605_builtin_topology.py - `orderly serve` with no config file runs the
seeds' flow (issue 8 part 1): the binary is started exactly as
`orderly serve --env x --listen ... --db ...` and passes seed 000's
post-deploy scenario and seed 001's FAIL-ME -> DLQ scenario.  The test
hooks those scenarios use are off unless asked for (issue 11): here by the
environment (ORDERLY_ORDERS_FAILURE_INJECTION_SKU, ORDERLY_ORDERS_TEST_HOOKS),
the command line stays the bare one; without them FAIL-ME is just an unknown
sku and the forced result is ignored.  A node that
serves the order API while nothing consumes a stage of the flow says so: a
warning at start, /api/health's pipeline component and a metric."""
import json
import os
import re
import subprocess
import time

from harness import BIN, SRC, Server, check, eq, ok, run, uniq, wait_for

TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")


class Bare(Server):
    """No config file, no other flag: the command a user types from --help."""

    def args(self):
        return [BIN, "serve", "--env", self.env, "--listen", "127.0.0.1:%d" % self.port, "--db", self.db]


def wait_status(srv, oid, statuses=TERMINAL, timeout=20):
    def f():
        st, _, b = srv.request("GET", "/api/orders/" + oid)
        return b if st == 200 and b["status"] in statuses else None
    return wait_for("order %s in %s" % (oid, statuses), f, timeout)


def qstats(srv, name):
    return ok(srv, "GET", "/api/queues/%s-%s" % (srv.env, name))["stats"]


HOOKS = {"ORDERLY_ORDERS_FAILURE_INJECTION_SKU": "FAIL-ME", "ORDERLY_ORDERS_TEST_HOOKS": "true"}


def test_no_config_file_runs_the_seeds_flow():
    with Bare(env="x", env_vars=HOOKS) as srv:
        eq(sorted(q["name"] for q in ok(srv, "GET", "/api/queues")["queues"]),
           sorted("x-" + n for n in ("orders", "orders-dlq", "payments", "payments-dlq", "notifications",
                                     "notifications-dlq")), "the built-in queues")
        eq([r["name"] for r in ok(srv, "GET", "/api/rules")["rules"]],
           ["order-created", "payment-requested", "order-terminal"], "the built-in rules")
        st, _, h = srv.request("GET", "/api/health")
        eq((st, h["components"]["pipeline"]), (200, {"status": "consumed", "unconsumed": []}), "pipeline %r" % h)
        check("no enabled function consumes" not in srv.log_tail(200), "no warning at start")
        # seed 000's inventory (put-item in the seed): prod-001 100 units
        ok(srv, "POST", "/api/products", {"sku": "prod-001", "name": "Widget", "priceCents": 1999, "stock": 100},
           201)
        for force, want, want_stock in (("SUCCESS", "COMPLETED", 98), ("FAILURE", "PAYMENT_FAILED", 100)):
            ok(srv, "PUT", "/api/products/prod-001", {"stock": 100})
            oid = "test-%s-%d" % (force.lower(), int(time.time() * 1000))
            detail = {"orderId": oid, "customerId": "customer-1", "items": [{"sku": "prod-001", "quantity": 2}],
                      "_postDeployTest": True, "_postDeployTestForceResult": force}
            b = ok(srv, "POST", "/api/events",
                   {"Entries": [{"Source": "order.service", "DetailType": "OrderPlaced", "Detail": detail}]})
            eq(b["FailedEntryCount"], 0, "PutEvents %r" % b)
            o = wait_status(srv, oid)
            eq(o["status"], want, force)
            p = ok(srv, "GET", "/api/products/prod-001")
            eq((p["stock"], p["reserved"]), (want_stock, 0), force + " prod-001 stock/reserved")
        # seed 001: FAIL-ME is delivered 5 times, then dead-lettered; the order is FAILED
        r = ok(srv, "POST", "/orders", {"customerId": "fail-customer", "items": [{"sku": "FAIL-ME", "qty": 1}]},
               202)
        o = wait_status(srv, r["orderId"], ("FAILED",), timeout=60)
        eq((o["reason"], o["attempts"]), ("dead_lettered", 5), "FAILED after 5 deliveries")
        wait_for("the message in the DLQ", lambda: qstats(srv, "orders-dlq")["visible"] == 1)
        eq(srv.stop(), 0, "exit code")


def test_test_hooks_are_off_by_default():
    with Bare(env="nohooks") as srv:
        ok(srv, "POST", "/api/products", {"sku": "prod-001", "name": "Widget", "priceCents": 1999, "stock": 100}, 201)
        r = ok(srv, "POST", "/api/orders", {"customerId": "c", "items": [{"sku": "FAIL-ME", "qty": 1}]}, 202)
        o = wait_status(srv, r["orderId"])
        eq((o["status"], o["reason"], o["attempts"]), ("REJECTED", "unknown_sku", 0), "FAIL-ME is an unknown sku")
        detail = {"orderId": "forced-1", "customerId": "c", "items": [{"sku": "prod-001", "quantity": 1}],
                  "_postDeployTest": True, "_postDeployTestForceResult": "FAILURE"}
        ok(srv, "POST", "/api/events",
           {"Entries": [{"Source": "order.service", "DetailType": "OrderPlaced", "Detail": detail}]})
        eq(wait_status(srv, "forced-1")["status"], "COMPLETED", "the forced result is ignored")


def test_a_stage_nobody_consumes_is_reported():
    cfg = {"exclude": {"functions": ["order-processor"]}}
    with Server(env="gap", config=cfg, log_level="info") as srv:
        wait_for("the start-up warning", lambda: "no enabled function consumes" in srv.log_tail(200))
        line = [json.loads(l) for l in srv.log_tail(200).splitlines() if "no enabled function consumes" in l]
        eq([(l["level"], l["stage"]) for l in line], [("warn", "OrderCreated")], "warning lines")
        st, _, h = srv.request("GET", "/api/health")
        eq(st, 503, "health with an unconsumed stage")
        eq(h["components"]["pipeline"], {"status": "unconsumed", "unconsumed": ["OrderCreated"]}, "pipeline")
        _, _, text = srv.request("GET", "/metrics")
        m = re.search(r"^orderly_pipeline_unconsumed_stages (\S+)$", text, re.M)
        check(m and float(m.group(1)) == 1, "metric: %r" % (m and m.group(0)))


def test_an_empty_topology_on_purpose():
    with Server(env="empty", config={"builtinTopology": False}, log_level="info") as srv:
        eq(ok(srv, "GET", "/api/queues")["queues"], [], "no queues")
        eq(ok(srv, "GET", "/api/rules")["rules"], [], "no rules")
        _, _, h = srv.request("GET", "/api/health")
        eq(h["components"]["pipeline"]["unconsumed"], ["OrderCreated", "PaymentRequested"], "both stages")


def test_print_config_is_the_builtin_topology_and_the_shipped_file_extends_it():
    def printed(*extra):
        return json.loads(subprocess.check_output([BIN, "serve", "--env", "p", "--print-config"] + list(extra)))
    bare = printed()
    shipped = printed("--config", os.path.join(SRC, "config", "orderly.json"))
    with open(os.path.join(SRC, "config", "topology.json")) as f:
        topo = json.load(f)
    for k in ("queues", "rules", "functions", "alarms"):
        eq(shipped[k], bare[k], k + ": the shipped file and the built-in default")
        eq([e["name"] for e in bare[k]], [e["name"] for e in topo[k]], k + ": config/topology.json")
    eq(bare["builtinTopology"], False, "printed whole, standing alone")


run(globals())
