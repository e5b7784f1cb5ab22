"""t720: the command line against a running server (issue 4, item 4).

`orderly queues | dlq list|replay|purge | events replay | orders get|list|cancel
| seed | loadgen | bench` talk to the server over HTTP (--url).  Each test
checks what the command prints against what the server's API says, and the
exit codes: 0 ok, 1 failure (unreachable, an error answer), 2 usage.

Servers (each with its own data dir, the shipped topology, short backoff):
  live  - everything enabled (dlq flow with FAIL-ME orders)
  idle  - every function disabled: orders stay PENDING (queues, orders, seed)
  rp    - events replay (nothing else runs there, so the window is exact)
  lg    - loadgen (its counts are compared with the server's)
  bn    - bench
"""
import json
import os
import re
import subprocess
import time
from datetime import datetime, timezone
from harness import BIN, SRC, Shared, check, eq, free_port, run, ok, wait_for, shipped_config


def make_config(disable=()):
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    for q in cfg["queues"]:
        attrs = q.setdefault("attributes", {})
        if "RedrivePolicy" in attrs:
            attrs["VisibilityTimeout"] = 2
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 200}
        if fn["name"] in disable:
            fn["enabled"] = False
    return cfg


ALL_FUNCTIONS = ("order-processor", "payment-processor", "notification-processor")
live = Shared(env="live", config=make_config())
idle = Shared(env="idle", config=make_config(disable=ALL_FUNCTIONS))
rp = Shared(env="rp", config=make_config())
lg = Shared(env="lg", config=make_config())
bn = Shared(env="bn", config=make_config())
TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")


# ---- helpers -------------------------------------------------------------------------


def url(srv):
    return "http://127.0.0.1:%d" % srv().port


def cli(srv, *args, want=0, timeout=300, env=None):
    """Runs orderly ARGS --url <srv>; checks the exit code; returns stdout."""
    argv = [BIN] + list(args)
    if srv is not None:
        argv += ["--url", url(srv)]
        env = dict(env or os.environ, ORDERLY_TOKEN=srv().token())   # signed in as the admin
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    eq(p.returncode, want, "exit code of %s (stdout %r, stderr %r)" % (" ".join(args), p.stdout[-2000:],
                                                                        p.stderr[-2000:]))
    return p.stdout if want == 0 else p.stderr


def qstats(srv, name):
    return ok(srv, "GET", "/api/queues/" + name)["stats"]


def order(srv, sku="prod-001", qty=1, customer="c-cli", token=None):
    body = {"customerId": customer, "items": [{"sku": sku, "qty": qty}]}
    if token:
        body["payment"] = {"token": token}
    return ok(srv, "POST", "/api/orders", body, 202)["orderId"]


def status(srv, oid):
    return ok(srv, "GET", "/api/orders/" + oid)["status"]


def wait_terminal(srv, oids, timeout=30):
    wait_for("orders terminal", lambda: all(status(srv, o) in TERMINAL for o in oids), timeout)


def pipeline_idle(srv):
    env = srv().env
    return all(qstats(srv, "%s-%s" % (env, q))["visible"] == 0 and qstats(srv, "%s-%s" % (env, q))["inFlight"] == 0
               and qstats(srv, "%s-%s" % (env, q))["delayed"] == 0
               for q in ("orders", "payments", "notifications"))


def table(out):
    """Rows of a printed table (header first) split on runs of 2+ spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---- usage and reachability ---------------------------------------------------------------


def test_usage_errors_exit_2():
    for args in (["dlq"], ["dlq", "nope"], ["dlq", "replay"], ["dlq", "replay", "q", "--max", "0"],
                 ["dlq", "replay", "q", "--max", "x"], ["dlq", "list", "a", "b"], ["queues", "extra"],
                 ["queues", "--bogus"], ["queues", "--url"], ["queues", "--url", "ftp://x"],
                 ["queues", "--timeout", "0"], ["events"], ["events", "replay"],
                 ["events", "replay", "--from", "yesterday", "--to", "2026-01-01T00:00:00Z"],
                 ["events", "replay", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"],
                 ["orders"], ["orders", "get"], ["orders", "list", "--limit", "0"], ["orders", "cancel"],
                 ["seed"], ["loadgen", "--mix", "bogus=1"], ["loadgen", "--mix", "valid=0"],
                 ["loadgen", "--rate", "0"], ["loadgen", "--duration", "5x"], ["loadgen", "--connections", "9999"],
                 ["bench", "--duration", "0"], ["nosuchcommand"]):
        err = cli(None, *args, want=2)
        check(err.strip() and len(err.strip().splitlines()) <= 12, "usage error text for %s: %r" % (args, err))
    # unreachable is checked after the arguments: still a usage error
    cli(None, "dlq", "replay", "--url", "http://127.0.0.1:1", want=2)


def test_help_exit_0():
    for args in (["queues", "--help"], ["dlq", "--help"], ["dlq", "replay", "--help"], ["events", "replay", "-h"],
                 ["orders", "list", "--help"], ["seed", "--help"], ["loadgen", "--help"], ["bench", "--help"],
                 ["help", "dlq"]):
        out = cli(None, *args)
        check(out.startswith("usage: orderly"), "help of %s: %r" % (args, out[:200]))


def test_unreachable_server_exits_1():
    port = free_port()
    for args in (["queues"], ["dlq", "list"], ["dlq", "replay", "orders"], ["orders", "get", "x"],
                 ["events", "replay", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"],
                 ["seed", os.path.join(SRC, "config", "catalog.json")], ["loadgen", "--duration", "1"],
                 ["bench", "--duration", "1"]):
        err = cli(None, *(args + ["--url", "http://127.0.0.1:%d" % port]), want=1)
        eq(err.strip().splitlines()[-1], "orderly: cannot reach http://127.0.0.1:%d: Connection refused" % port,
           "error of %s" % args)
    # ORDERLY_URL is the default
    env = dict(os.environ, ORDERLY_URL="http://127.0.0.1:%d" % port)
    err = cli(None, "queues", want=1, env=env)
    check("cannot reach http://127.0.0.1:%d" % port in err, err)


# ---- queues ------------------------------------------------------------------------------


def test_queues_table_matches_api():
    ok(idle, "POST", "/api/queues", {"name": "cli-plain"}, 201)
    for i in range(3):
        ok(idle, "POST", "/api/queues/cli-plain/messages", {"body": "m%d" % i})
    ok(idle, "POST", "/api/queues/cli-plain/messages", {"body": "later", "delaySeconds": 600})
    rows = table(cli(idle, "queues"))
    eq(rows[0], ["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST AGE", "DLQ", "DLQ VISIBLE"], "header")
    by = {r[0]: r for r in rows[1:]}
    api = ok(idle, "GET", "/api/queues")["queues"]
    eq(sorted(by), sorted(q["name"] for q in api), "queues listed")
    eq(by["cli-plain"][1:5], ["3", "0", "1", by["cli-plain"][4]], "cli-plain counts")
    check(re.match(r"^\d+s$", by["cli-plain"][4]), by["cli-plain"])
    eq(by["cli-plain"][5:], ["-", "-"], "no DLQ")
    eq(by["idle-orders"][5:], ["idle-orders-dlq", "0"], "orders' DLQ")


# ---- dead-letter queues --------------------------------------------------------------------


def test_dlq_replay_batches_and_max():
    """A queue pair without consumers: 13 messages dead-lettered by receives,
    then replayed (with --max 4 first): exact lines, exact counts.  The
    server's task moves LIMIT_TASK_PAGE_FIRST (10) in its first page and
    then pages sized by their measured cost; the CLI prints what it sees of
    the task's progress each time it looks, so 13 is one batch line or
    several whose totals climb to 13."""
    ok(idle, "POST", "/api/queues", {"name": "cli-dlq"}, 201)
    ok(idle, "POST", "/api/queues", {"name": "cli-src", "attributes": {
        "RedrivePolicy": {"deadLetterTargetArn": "cli-dlq", "maxReceiveCount": 1}}}, 201)
    for i in range(17):
        ok(idle, "POST", "/api/queues/cli-src/messages", {"body": "m%d" % i})
    for _ in range(40):  # a first receive delivers, the next one moves to the DLQ
        if qstats(idle, "cli-dlq")["visible"] == 17:
            break
        ok(idle, "POST", "/api/queues/cli-src/receive", {"maxNumberOfMessages": 10, "visibilityTimeout": 0})
    eq(qstats(idle, "cli-dlq")["visible"], 17, "dead-lettered by receives")
    rows = table(cli(idle, "dlq", "list", "src"))
    eq(rows[1][:4], ["cli-src", "cli-dlq", "17", "0"], "dlq list row")
    eq(rows[1][5:], ["17", "1"], "moved, max receives")

    out = cli(idle, "dlq", "replay", "cli-src", "--max", "4")
    eq(out.splitlines(), ["Replaying messages from DLQ (cli-dlq) to main queue (cli-src)...",
                          "Replayed 4 messages in this batch (total=4)",
                          "Done. Total messages replayed: 4"], "replay --max 4")
    eq((qstats(idle, "cli-dlq")["visible"], qstats(idle, "cli-src")["visible"]), (13, 4), "after --max 4")
    # naming the DLQ: back to its only source
    out = cli(idle, "dlq", "replay", "cli-dlq")
    lines = out.splitlines()
    eq((lines[0], lines[-1]), ("Replaying messages from DLQ (cli-dlq) to main queue (cli-src)...",
                               "Done. Total messages replayed: 13"), "replay all: %r" % lines)
    total = 0
    for line in lines[1:-1]:
        m = re.fullmatch(r"Replayed (\d+) messages in this batch \(total=(\d+)\)", line)
        check(m is not None and int(m.group(1)) > 0 and int(m.group(2)) == total + int(m.group(1)),
              "replay all: a batch line after total=%d: %r" % (total, line))
        total = int(m.group(2))
    eq(total, 13, "replay all: the batches' total (%r)" % lines)
    eq((qstats(idle, "cli-dlq")["visible"], qstats(idle, "cli-src")["visible"]), (0, 17), "after replay")
    out = cli(idle, "dlq", "replay", "cli-src")
    eq(out.splitlines(), ["Replaying messages from DLQ (cli-dlq) to main queue (cli-src)...",
                          "Done. Total messages replayed: 0"], "empty DLQ")
    err = cli(idle, "dlq", "replay", "cli-plain-nope", want=1)
    check("no queue named 'cli-plain-nope'" in err, err)


def test_dlq_fail_me_orders_list_replay_purge():
    """FAIL-ME orders dead-letter; dlq list counts them; replay puts them back
    (they fail again and return); purge removes them and prints how many."""
    n = 3
    before = qstats(live, "live-orders-dlq")["visible"]
    ids = [order(live, sku="FAIL-ME", customer="c-failme") for _ in range(n)]
    wait_for("FAIL-ME orders dead-lettered", lambda: qstats(live, "live-orders-dlq")["visible"] == before + n)
    wait_terminal(live, ids)
    eq([status(live, o) for o in ids], ["FAILED"] * n, "statuses")
    rows = table(cli(live, "dlq", "list"))
    eq(rows[0], ["QUEUE", "DLQ", "VISIBLE", "IN FLIGHT", "OLDEST AGE", "MOVED", "MAX RECEIVES"], "header")
    by = {r[0]: r for r in rows[1:] if not r[0].startswith("total")}
    eq(by["live-orders"][1:4], ["live-orders-dlq", str(before + n), "0"], "orders row")
    eq(by["live-orders"][6], "5", "maxReceiveCount")
    eq(rows[-1], ["total visible in dead-letter queues: %d" % (before + n)], "total line")

    out = cli(live, "dlq", "replay", "orders").splitlines()
    eq((out[0], out[-1]), ("Replaying messages from DLQ (live-orders-dlq) to main queue (live-orders)...",
                           "Done. Total messages replayed: %d" % (before + n)), "replay output")
    batches = [re.match(r"^Replayed (\d+) messages in this batch \(total=(\d+)\)$", l) for l in out[1:-1]]
    check(batches and all(batches), "progress lines: %r" % out)
    eq((sum(int(m.group(1)) for m in batches), int(batches[-1].group(2))), (before + n, before + n), "batches add up")
    # redriven: processed again (and, FAIL-ME, dead-lettered again)
    wait_for("replayed orders back in the DLQ",
             lambda: qstats(live, "live-orders-dlq")["visible"] == before + n and pipeline_idle(live))
    out = cli(live, "dlq", "purge", "live-orders")
    eq(out.strip(), "Purged %d messages from DLQ (live-orders-dlq)" % (before + n), "purge output")
    eq(qstats(live, "live-orders-dlq")["visible"], 0, "DLQ after purge")
    eq([status(live, o) for o in ids], ["FAILED"] * n, "statuses after purge")
    out = cli(live, "dlq", "purge", "live-orders-dlq")
    eq(out.strip(), "Purged 0 messages from DLQ (live-orders-dlq)", "second purge")
    err = cli(live, "dlq", "purge", "live-orders-dlq-nope", want=1)
    check("no queue named" in err, err)


# ---- events replay ---------------------------------------------------------------------------


def same(after, before, what):
    """Equal snapshots, reporting the first difference briefly."""
    orders, timelines, products = after
    for o, b in zip(orders, before[0]):
        eq(o, b, what + ": order " + b["orderId"])
    for t, b in zip(timelines, before[1]):
        eq([e["type"] for e in t["events"]], [e["type"] for e in b["events"]], what + ": events of " + b["orderId"])
        eq(len(t["notifications"]), len(b["notifications"]), what + ": notifications of " + b["orderId"])
        eq(t, b, what + ": timeline of " + b["orderId"])
    for sku, p in before[2].items():
        eq(products.get(sku), p, what + ": product " + sku)
    eq(sorted(products), sorted(before[2]), what + ": products")


def snapshot(srv, ids):
    orders = [ok(srv, "GET", "/api/orders/" + o) for o in ids]
    timelines = [ok(srv, "GET", "/api/orders/%s/events" % o) for o in ids]
    products = {p["sku"]: p for p in ok(srv, "GET", "/api/products")["products"]}
    return orders, timelines, products


def test_events_replay_is_idempotent():
    """Replaying a window of processed orders re-delivers every event to the
    functions, which skip them as duplicates: no order, stock, payment or
    notification changes."""
    t0 = int(time.time() * 1000) - 1
    ids = [order(rp, "prod-002", 1, token="tok_visa") for _ in range(4)]
    ids += [order(rp, "prod-003", 2, token="tok_chargeDeclined"), order(rp, "prod-004", 999)]
    wait_terminal(rp, ids)
    wait_for("pipeline idle", lambda: pipeline_idle(rp))
    t1 = int(time.time() * 1000) + 1
    eq([status(rp, o) for o in ids], ["COMPLETED"] * 4 + ["PAYMENT_FAILED", "REJECTED"], "statuses")
    before = snapshot(rp, ids)
    logged = sum(len(t["events"]) for t in before[1])
    check(logged >= 6 * 3, "timelines: %d events" % logged)
    sent0 = {q: qstats(rp, "rp-" + q)["sent"] for q in ("orders", "payments", "notifications")}

    out = cli(rp, "events", "replay", "--from", iso(t0), "--to", iso(t1), "--name", "cli-test").splitlines()
    m0 = re.match(r"^Replay cli-test started \(task [0-9a-f-]{36}\): (\d+) events from \S+ to \S+ through every rule$",
                  out[0])
    m = re.match(r"^COMPLETED: replayed (\d+) events, (\d+) messages routed$", out[-1])
    check(m0 and m, out)
    eq((int(m0.group(1)), int(m.group(1))), (logged, logged), "events replayed = events in the window")
    check(all(re.match(r"^Replayed \d+ of %d events$" % logged, l) for l in out[1:-1]), "progress: %r" % out)
    routed = int(m.group(2))
    wait_for("replayed events consumed", lambda: pipeline_idle(rp))
    sent1 = {q: qstats(rp, "rp-" + q)["sent"] for q in ("orders", "payments", "notifications")}
    eq(sum(sent1.values()) - sum(sent0.values()), routed, "messages routed by the replay (and nothing else)")
    eq(sent1["orders"] - sent0["orders"], 6, "every OrderCreated re-delivered")
    same(snapshot(rp, ids), before, "after the replay")

    # one rule only: only OrderCreated events are routed
    out = cli(rp, "events", "replay", "--from", iso(t0), "--to", iso(t1), "--rule", "order-created")
    check(re.search(r"started \(task .*\): \d+ events from \S+ to \S+ through rule order-created\n", out), out)
    m = re.search(r"COMPLETED: replayed (\d+) events, (\d+) messages routed", out)
    check(m, out)
    eq((int(m.group(1)), int(m.group(2))), (logged, 6), "replay through order-created")
    wait_for("replayed events consumed", lambda: pipeline_idle(rp))
    same(snapshot(rp, ids), before, "after the second replay")

    err = cli(rp, "events", "replay", "--from", iso(t0), "--to", iso(t1), "--rule", "nope", want=1)
    check("no rule named 'nope'" in err and "404" in err, err)
    # the endpoint's own validation
    st, h, b = rp.request("POST", "/api/events/replay", {"from": "x", "to": iso(t1), "extra": 1})
    eq(st, 422, "bad replay body")
    eq(sorted(e["field"] for e in b["errors"]), ["extra", "from"], "fields named")
    st, h, b = rp.request("POST", "/api/events/replay", {"from": iso(t1), "to": iso(t0)})
    eq((st, b["errors"][0]["field"]), (422, "to"), "from after to")


# ---- orders ------------------------------------------------------------------------------------


def test_orders_get_list_cancel():
    ids = [order(idle, "prod-001", 1, customer="c-cli-orders") for _ in range(3)]
    out = cli(idle, "orders", "get", ids[0])
    eq(json.loads(out), ok(idle, "GET", "/api/orders/" + ids[0]), "orders get = the API's order")
    rows = table(cli(idle, "orders", "list", "--customer", "c-cli-orders"))
    eq(rows[0], ["ORDER ID", "STATUS", "REASON", "CUSTOMER", "UNITS", "TOTAL", "CREATED"], "header")
    eq([r[0] for r in rows[1:]], ids[::-1], "newest first")
    eq(rows[1][1:6], ["PENDING", "-", "c-cli-orders", "1", "19.99"], "row")
    rows = table(cli(idle, "orders", "list", "--customer", "c-cli-orders", "--limit", "2"))
    eq([r[0] for r in rows[1:]], ids[:0:-1], "--limit 2")

    out = cli(idle, "orders", "cancel", ids[1])
    eq(out.strip(), "order %s CANCELLED" % ids[1], "cancel output")
    eq(status(idle, ids[1]), "CANCELLED", "cancelled")
    err = cli(idle, "orders", "cancel", ids[1], want=1)
    check("409" in err and "CANCELLED" in err, err)
    rows = table(cli(idle, "orders", "list", "--status", "CANCELLED", "--customer", "c-cli-orders"))
    eq([r[0] for r in rows[1:]], [ids[1]], "--status CANCELLED")
    eq(cli(idle, "orders", "list", "--customer", "nobody-here").strip(), "no orders", "empty list")
    err = cli(idle, "orders", "get", "no-such-order", want=1)
    eq(err.strip(), "orderly: no order 'no-such-order'", "missing order")
    err = cli(idle, "orders", "list", "--status", "NOPE", want=1)
    check("400" in err or "422" in err, err)


# ---- seed ----------------------------------------------------------------------------------------


def test_seed_catalog_file():
    d = idle().data_dir
    path = os.path.join(d, "cli-catalog.json")
    with open(path, "w") as f:
        json.dump({"products": [{"sku": "cli-seed-1", "name": "Seeded one", "priceCents": 250, "stock": 7},
                                {"sku": "cli-seed-2", "name": "Seeded two", "priceCents": 99, "stock": 0},
                                {"sku": "prod-001", "name": "Test Product", "priceCents": 1999, "stock": 10}]}, f)
    out = cli(idle, "seed", path)
    eq(out.strip(), "seed: %s: 3 products, 2 added, 1 existing" % path, "first seed")
    p = ok(idle, "GET", "/api/products/cli-seed-1")
    eq((p["name"], p["priceCents"], p["stock"], p["reserved"]), ("Seeded one", 250, 7, 0), "seeded product")
    out = cli(idle, "seed", path)
    eq(out.strip(), "seed: %s: 3 products, 0 added, 3 existing" % path, "second seed")
    # the shipped catalog: every product exists already (loaded at start)
    shipped = os.path.join(SRC, "config", "catalog.json")
    n = len(json.load(open(shipped))["products"])
    eq(cli(idle, "seed", shipped).strip(), "seed: %s: %d products, 0 added, %d existing" % (shipped, n, n), "shipped")
    bad = os.path.join(d, "cli-bad.json")
    with open(bad, "w") as f:
        f.write('[{"sku": "cli-seed-3", "name": "ok", "priceCents": 1, "stock": 1}, {"sku": "bad sku"}]')
    err = cli(idle, "seed", bad, want=1)
    check("products[1] (bad sku) refused" in err and "422" in err, err)
    eq(ok(idle, "GET", "/api/products/cli-seed-3")["stock"], 1, "the good entry of a bad file")
    with open(bad, "w") as f:
        f.write('{"products": [')
    err = cli(idle, "seed", bad, want=1)
    check(bad in err and "line" in err, err)
    err = cli(idle, "seed", os.path.join(d, "missing.json"), want=1)
    check("missing.json" in err, err)


# ---- loadgen ---------------------------------------------------------------------------------------


def test_loadgen_summary_matches_server():
    total0 = ok(lg, "GET", "/api/stats")["total_orders"]
    out = cli(lg, "loadgen", "--rate", "20", "--duration", "3", "--mix", "valid=6,fail=1,declined=2,oos=1",
              "--connections", "16")
    progress = [l for l in out.splitlines() if l.startswith("[")]
    check(len(progress) >= 2 and progress[0].startswith("[  1s] sent "), "progress lines: %r" % progress)
    m = re.search(r"summary: [\d.]+ s, sent (\d+), accepted (\d+) \(202\), rejected (\d+) \(4xx\), other (\d+), "
                  r"errors (\d+), not sent in time (\d+)", out)
    check(m, out)
    sent, accepted, rejected, other, errors, unsent = map(int, m.groups())
    eq((sent, accepted, rejected, other, errors, unsent), (60, 60, 0, 0, 0, 0), "summary counts (20/s for 3 s)")
    check(re.search(r"latency: p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms", out), out)
    kinds = {r[0]: [int(x) for x in r[1:]] for r in table(out) if r[0] in ("valid", "fail", "declined", "oos")}
    eq(kinds, {"valid": [36, 36, 0, 0, 0], "fail": [6, 6, 0, 0, 0], "declined": [12, 12, 0, 0, 0],
               "oos": [6, 6, 0, 0, 0]}, "per kind (the mix followed exactly)")
    # the server's counters
    eq(ok(lg, "GET", "/api/stats")["total_orders"] - total0, accepted, "orders created on the server")

    def by_customer(kind):
        return ok(lg, "GET", "/api/orders?limit=100&customerId=loadgen-" + kind)["orders"]

    want = {"valid": ("COMPLETED", None), "declined": ("PAYMENT_FAILED", "card_declined"),
            "oos": ("REJECTED", "out_of_stock"), "fail": ("FAILED", "dead_lettered")}
    for kind, (st, reason) in want.items():
        wait_for("loadgen %s orders %s" % (kind, st),
                 lambda: all(o["status"] == st for o in by_customer(kind)), timeout=60)
        os_ = by_customer(kind)
        eq(len(os_), kinds[kind][1], "orders of kind " + kind)
        eq({o.get("reason") for o in os_}, {reason}, "reasons of kind " + kind)
    p = ok(lg, "GET", "/api/products/loadgen-oos")
    eq((p["stock"], p["sold"]), (0, 0), "the out-of-stock product")
    p = ok(lg, "GET", "/api/products/loadgen-1")
    eq(p["sold"], 36, "units sold by valid orders")


# ---- bench -------------------------------------------------------------------------------------------


def test_bench_prints_its_table():
    out = cli(bn, "bench", "--duration", "0.5", "--connections", "8", timeout=600)
    rows = {r[0]: r for r in table(out) if r[0] in ("P1", "P2", "P3", "P4")}
    eq(sorted(rows), ["P1", "P2", "P3", "P4"], "rows of the table:\n" + out)
    p1 = re.match(r"^(\d+) orders/s$", rows["P1"][2])
    check(p1 and int(p1.group(1)) > 0, rows["P1"])
    check(re.match(r"^\d+ orders/s$", rows["P2"][2]), rows["P2"])
    p3 = re.search(r"p99 (\d+) ms, max (\d+) ms, (\d+) orders", rows["P3"][3])
    check(re.match(r"^p50 \d+ ms$", rows["P3"][2]) and p3 and int(p3.group(3)) > 0, rows["P3"])
    p4 = re.match(r"^(\d+) msgs/s$", rows["P4"][2])
    check(p4 and int(p4.group(1)) > 0, rows["P4"])
    # P3's orders were read back from the server: as many as it completed
    st = ok(bn, "GET", "/api/stats")["orders_by_status"]
    eq(set(st), {"COMPLETED"}, "bench orders all completed")
    eq(ok(bn, "GET", "/api/queues/orderly-bench-p4")["stats"]["visible"], 0, "P4 queue purged")


run(globals())
