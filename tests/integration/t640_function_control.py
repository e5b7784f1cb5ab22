"""t640: function control (issue 14, part 1; seed 003's worker and
process-queue, Lambda's event source mapping Enabled).

  pause      POST /api/functions/order-processor/pause: 20 orders then stay
             PENDING and the orders queue shows 20 visible; /api/functions,
             /api/health, /metrics and the log say paused
  restart    still paused after a restart (the state is in the database)
  resume     all 20 complete
  drain      paused again: drain processes the waiting orders and answers
             {processed, failed, total}; seed 003's POST /api/orders/process-queue
             answers the same counts (and seed 003's {code, msg, data}); the
             function stays paused; maxRecords at its limit and limit + 1
  access     a viewer may read but not pause (403); an unknown function is 404
  cli        orderly functions list|pause|resume|drain NAME against the server
  two nodes  (PostgreSQL) a pause on one node stops the other's consumption
             too: orders placed on the second stay PENDING; a resume on the
             second completes them
"""
import os
import subprocess
import time
from harness import BIN, PG, SRC, Server, run, check, eq, ok, wait_for, shipped_config, is_problem, uniq

FN = "order-processor"
N = 20
DRAIN_MAX = 10000  # LIMIT_FN_DRAIN_RECORDS_MAX


def make_config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    return cfg


def place(srv, n, tag):
    ids = []
    for i in range(n):
        b = ok(srv, "POST", "/api/orders",
               {"customerId": "%s-%d" % (tag, i), "items": [{"sku": "PROD-002", "qty": 1}]}, want=202)
        ids.append(b["orderId"])
    return ids


def statuses(srv, ids):
    return [ok(srv, "GET", "/api/orders/" + i)["status"] for i in ids]


def queue_stats(srv, env):
    return ok(srv, "GET", "/api/queues/%s-orders" % env)


def function(srv):
    return ok(srv, "GET", "/api/functions/" + FN)


def test_pause_restart_resume_drain():
    env = "fc"
    srv = Server(env=env, config=make_config(), log_level="info")
    srv.start()
    try:
        f = function(srv)
        eq((f["name"], f["state"], f["paused"]), (FN, "enabled", False), "before the pause")
        for k in ("batchSize", "maxConcurrency", "inFlight", "stats", "lastError"):
            check(k in f, "GET /api/functions/{name} has %s: %r" % (k, f))
        b = ok(srv, "POST", "/api/functions/%s/pause" % FN)
        eq((b["state"], b["paused"]), ("paused", True), "pause answer")
        eq(b["stateChangedBy"], "admin", "who paused it")

        ids = place(srv, N, uniq("p"))
        time.sleep(1.0)  # pollers and in-process consumption would have taken them by now
        eq(statuses(srv, ids), ["PENDING"] * N, "orders while paused")
        q = queue_stats(srv, env)
        eq(q["stats"]["visible"], N, "visible in the queue (%r)" % q)

        lst = ok(srv, "GET", "/api/functions")["functions"]
        eq({x["name"]: x["state"] for x in lst}[FN], "paused", "the list")
        st, _, h = srv.request("GET", "/api/health")
        eq(st, 200, "health while paused (a pause is on purpose): %r" % h)
        eq(h["components"]["functions"]["status"], "paused", "health functions status")
        eq(h["components"]["functions"]["paused"], [FN], "health names it")
        eq(h["components"]["functions"]["functions"][FN]["paused"], True, "health detail")
        st, _, text = srv.request("GET", "/metrics")
        check('orderly_function_paused{function="%s"} 1' % FN in text, "metric: paused = 1")
        check('orderly_function_paused{function="payment-processor"} 0' in text, "metric: others 0")
        with open(srv.log_path) as lf:
            check('"function paused"' in lf.read(), "the log says paused")

        # restart: still paused, the 20 still wait
        srv.restart()
        eq(function(srv)["state"], "paused", "after the restart")
        time.sleep(1.0)
        eq(statuses(srv, ids), ["PENDING"] * N, "orders after the restart")

        # resume: all complete
        b = ok(srv, "POST", "/api/functions/%s/resume" % FN)
        eq(b["state"], "enabled", "resume answer")
        wait_for("20 orders COMPLETED", lambda: statuses(srv, ids) == ["COMPLETED"] * N, timeout=30)
        eq(queue_stats(srv, env)["stats"]["visible"], 0, "queue empty after resume")

        # drain while paused
        ok(srv, "POST", "/api/functions/%s/pause" % FN)
        ids2 = place(srv, 7, uniq("d"))
        time.sleep(0.5)
        eq(statuses(srv, ids2), ["PENDING"] * 7, "paused again")
        d = ok(srv, "POST", "/api/functions/%s/drain" % FN, {"maxRecords": 3})
        eq((d["processed"], d["failed"], d["total"], d["stoppedBy"]), (3, 0, 3, "limit"), "drain of 3: %r" % d)
        d = ok(srv, "POST", "/api/functions/%s/drain" % FN)
        eq((d["processed"], d["failed"], d["total"], d["stoppedBy"]), (4, 0, 4, "empty"), "drain of the rest: %r" % d)
        wait_for("drained orders COMPLETED", lambda: statuses(srv, ids2) == ["COMPLETED"] * 7, timeout=30)
        eq(function(srv)["state"], "paused", "a drain leaves it paused")

        # seed 003's alias
        ids3 = place(srv, 5, uniq("s"))
        time.sleep(0.3)
        d = ok(srv, "POST", "/api/orders/process-queue")
        eq((d["processed"], d["failed"], d["total"]), (5, 0, 5), "process-queue: %r" % d)
        eq((d["code"], d["data"]), (200, {"processed": 5, "failed": 0, "total": 5}), "seed 003's envelope")
        wait_for("process-queue orders COMPLETED", lambda: statuses(srv, ids3) == ["COMPLETED"] * 5, timeout=30)
        d = ok(srv, "POST", "/api/orders/process-queue")
        eq((d["processed"], d["failed"], d["total"]), (0, 0, 0), "an empty queue")

        # seed 003's worker: status, stop, start
        w = ok(srv, "POST", "/api/orders/worker/status")
        eq((w["status"], w["function"]["state"]), ("stopped", "paused"), "worker status while paused")
        w = ok(srv, "POST", "/api/orders/worker/start")
        eq((w["status"], function(srv)["state"]), ("running", "enabled"), "worker start = resume")
        w = ok(srv, "POST", "/api/orders/worker/stop")
        eq((w["status"], function(srv)["state"]), ("stopped", "paused"), "worker stop = pause")
        st, h, b = srv.request("POST", "/api/orders/worker/reboot")
        is_problem(st, h, b, 400, "an unknown worker action")
        eq(function(srv)["state"], "paused", "unchanged by a bad action")

        # maxRecords: the limit and one past it
        d = ok(srv, "POST", "/api/functions/%s/drain" % FN, {"maxRecords": DRAIN_MAX})
        eq(d["total"], 0, "maxRecords at the limit")
        st, h, b = srv.request("POST", "/api/functions/%s/drain" % FN, {"maxRecords": DRAIN_MAX + 1})
        is_problem(st, h, b, 422, "maxRecords past the limit")
        st, h, b = srv.request("POST", "/api/functions/%s/drain" % FN, {"bogus": 1})
        is_problem(st, h, b, 422, "unknown key")
        ok(srv, "POST", "/api/functions/%s/resume" % FN)
        eq(function(srv)["state"], "enabled", "resumed at the end")
    finally:
        srv.stop()


def test_access_and_not_found():
    srv = Server(env="fa", config=make_config())
    srv.start()
    try:
        ok(srv, "POST", "/api/users", {"username": "vera", "password": "viewer-password-1", "role": "viewer"},
           want=201)
        st, _, b = srv.request("POST", "/api/login", {"username": "vera", "password": "viewer-password-1"},
                               auth=False)
        eq(st, 200, "viewer login")
        hdr = {"Authorization": "Bearer " + b["accessToken"]}
        st, _, _ = srv.request("GET", "/api/functions/" + FN, headers=hdr)
        eq(st, 200, "a viewer reads")
        for action in ("pause", "resume", "drain"):
            st, h, b = srv.request("POST", "/api/functions/%s/%s" % (FN, action), headers=hdr)
            is_problem(st, h, b, 403, "a viewer may not %s" % action)
        st, h, b = srv.request("POST", "/api/orders/process-queue", headers=hdr)
        is_problem(st, h, b, 403, "a viewer may not process the queue")
        for path in ("/api/functions/nope", "/api/functions/nope/pause", "/api/functions/nope/drain"):
            st, h, b = srv.request("GET" if path.count("/") == 3 else "POST", path)
            is_problem(st, h, b, 404, path)
        eq(function(srv)["state"], "enabled", "nothing paused by the refusals")
    finally:
        srv.stop()


def test_two_nodes_share_the_pause():
    if not PG:
        print("  two nodes need PostgreSQL: run with ORDERLY_TEST_DB=postgres (integ-pg.t640_function_control)")
        return
    a = Server(env="f2", config=make_config())
    b = Server(env="f2", config=make_config(), db_key=a.db_key)
    a.start()
    b.start()
    try:
        ok(a, "POST", "/api/functions/%s/pause" % FN)
        wait_for("node b sees the pause", lambda: function(b)["state"] == "paused", timeout=10)
        ids = place(b, 6, uniq("n2"))
        time.sleep(1.0)
        eq(statuses(b, ids), ["PENDING"] * 6, "orders placed on node b while paused on node a")
        ok(b, "POST", "/api/functions/%s/resume" % FN)
        wait_for("node a sees the resume", lambda: function(a)["state"] == "enabled", timeout=10)
        wait_for("orders COMPLETED", lambda: statuses(a, ids) == ["COMPLETED"] * 6, timeout=30)
    finally:
        b.stop()
        a.stop()


def cli(srv, *args, want=0):
    p = subprocess.run([BIN] + list(args) + ["--url", "http://127.0.0.1:%d" % srv.port], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, ORDERLY_TOKEN=srv.token()))
    eq(p.returncode, want, "exit code of %s (stdout %r, stderr %r)" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout if want == 0 else p.stderr


def test_cli():
    srv = Server(env="fl", config=make_config())
    srv.start()
    try:
        out = cli(srv, "functions", "list")
        check(out.splitlines()[0].split()[:3] == ["FUNCTION", "QUEUE", "STATE"], "a table: %r" % out)
        check(any(l.split()[:3] == [FN, "fl-orders", "enabled"] for l in out.splitlines()), "a row: %r" % out)
        eq(cli(srv, "functions", "pause", FN).strip(), FN + ": paused", "pause")
        check(any(l.split()[:3] == [FN, "fl-orders", "paused"] for l in cli(srv, "functions", "list").splitlines()),
              "listed paused")
        ids = place(srv, 4, uniq("c"))
        time.sleep(0.3)
        eq(statuses(srv, ids), ["PENDING"] * 4, "paused by the CLI")
        eq(cli(srv, "functions", "drain", FN, "--max", "3").strip(),
           FN + ": processed=3 failed=0 deferred=0 total=3 (limit)", "drain --max 3")
        eq(cli(srv, "functions", "drain", FN).strip(), FN + ": processed=1 failed=0 deferred=0 total=1 (empty)",
           "drain the rest")
        eq(cli(srv, "functions", "resume", FN).strip(), FN + ": enabled", "resume")
        wait_for("CLI-drained orders COMPLETED", lambda: statuses(srv, ids) == ["COMPLETED"] * 4, timeout=20)
        check("no function named" in cli(srv, "functions", "pause", "nope", want=1), "unknown function")
        cli(srv, "functions", "drain", FN, "--max", "0", want=2)
        cli(srv, "functions", "drain", FN, "--max", "10001", want=2)
        cli(srv, "functions", "pause", want=2)
        cli(srv, "functions", "frobnicate", FN, want=2)
    finally:
        srv.stop()


run(globals())
