"""t730: the demo producer (issue 4, seed 004's order-producer).

With `--demo-producer 1s` the server creates 1-5 orders a second from the
sample catalog PROD-001..PROD-005 with seed 004's formats (orderId "ORD-" + 8
uppercase hex, customerId "CUST-" + 1000..9999, 1-3 distinct items, qty
1-5, tok_visa); they go through the API's path (an OrderCreated event in
their timeline) and complete.  Every batch is logged ("Sent N orders" with
the orderIds) and the logged ids are exactly the orders in the database.
The config file form sets the batch size; without the flag no order
appears; a long interval does not delay SIGTERM; a bad duration is a usage
error.
"""
import json
import os
import re
import signal
import subprocess
import time
from harness import BIN, SRC, Server, run, check, eq, wait_for, shipped_config

ORDER_ID = re.compile(r"^ORD-[0-9A-F]{8}$")
CUSTOMER = re.compile(r"^CUST-[1-9][0-9]{3}$")
SKUS = {"PROD-001", "PROD-002", "PROD-003", "PROD-004", "PROD-005"}


def make_config(data_dir, **demo):
    """The shipped topology with a catalog of the five sample products in
    large stock (so no demo order is rejected for stock)."""
    cfg = shipped_config()
    catalog = os.path.join(data_dir, "catalog.json")
    with open(catalog, "w") as f:
        json.dump({"products": [{"sku": s, "name": s, "priceCents": 1000, "stock": 1000000}
                                for s in sorted(SKUS)]}, f)
    cfg["orders"]["catalog"] = catalog
    if demo:
        cfg["orders"]["demoProducer"] = demo
    return cfg


def server(env, extra_args=(), **demo):
    srv = Server(env=env, extra_args=extra_args, log_level="info")
    cfg = make_config(srv.data_dir, **demo)
    srv.config = os.path.join(srv.data_dir, "config.json")
    with open(srv.config, "w") as f:
        json.dump(cfg, f)
    return srv


def all_orders(srv):
    out, cursor = [], None
    while True:
        path = "/api/orders?limit=100" + ("&cursor=" + cursor if cursor else "")
        st, _, body = srv.request("GET", path)
        eq(st, 200, "GET %s" % path)
        out += body["orders"]
        cursor = body.get("nextCursor")
        if not cursor:
            return out


def batches(srv):
    """[(count, [orderIds])] of the 'Sent N orders' log lines."""
    out = []
    with open(srv.log_path) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("component") == "demo" and rec.get("msg", "").startswith("Sent "):
                ids = rec["orderIds"].split(",") if rec["orderIds"] else []
                eq(rec["msg"], "Sent %d orders" % rec["count"], "batch message")
                eq(len(ids), rec["count"], "orderIds of %r" % rec)
                out.append((rec["count"], ids))
    return out


def check_format(o):
    check(ORDER_ID.match(o["orderId"]), "orderId %r" % o["orderId"])
    check(CUSTOMER.match(o["customerId"]), "customerId %r" % o["customerId"])
    check(1000 <= int(o["customerId"][5:]) <= 9999, "customerId %r" % o["customerId"])
    skus = [i["sku"] for i in o["items"]]
    check(1 <= len(skus) <= 3, "%s has %d items" % (o["orderId"], len(skus)))
    eq(len(set(skus)), len(skus), "distinct skus of %s" % o["orderId"])
    check(set(skus) <= SKUS, "skus of %s: %r" % (o["orderId"], skus))
    for i in o["items"]:
        check(1 <= i["qty"] <= 5, "qty of %s: %r" % (o["orderId"], i))
    eq(o["payment"]["token"], "tok_visa", "token of " + o["orderId"])


def test_demo_producer_every_second():
    srv = server("demo", ["--demo-producer", "1s"])
    srv.start()
    try:
        orders = wait_for("8 demo orders", lambda: (lambda o: o if len(o) >= 8 else None)(all_orders(srv)))
        for o in orders:
            check_format(o)

        def done():
            got = [srv.request("GET", "/api/orders/" + o["orderId"])[2] for o in orders]
            return got if all(g["status"] == "COMPLETED" for g in got) else None
        for o in wait_for("the demo orders to complete", done):
            eq(o["status"], "COMPLETED", o["orderId"])
        # the API's path: the order's timeline starts with OrderCreated
        st, _, tl = srv.request("GET", "/api/orders/%s/events" % orders[0]["orderId"])
        eq(st, 200, "timeline")
        types = [e["type"] for e in tl["events"]]
        eq(types[0], "OrderCreated", "first event of %s (%r)" % (orders[0]["orderId"], types))
        check("OrderCompleted" in types, "timeline %r" % types)
    finally:
        rc = srv.stop()
    eq(rc, 0, "exit code")
    got = batches(srv)
    check(len(got) >= 2, "batches logged: %r" % got)
    for n, _ in got:
        check(1 <= n <= 5, "batch of %d orders" % n)
    logged = [i for _, ids in got for i in ids]
    # the same data without the producer: exactly the logged orders exist
    quiet = Server(env="demo", data_dir=srv.data_dir, config=srv.config)
    quiet.start()
    try:
        eq(sorted(o["orderId"] for o in all_orders(quiet)), sorted(logged), "orders vs logged orderIds")
    finally:
        quiet.stop()
    print("batches %s, %d orders, all COMPLETED" % ([n for n, _ in got], len(logged)))


def test_config_file_sets_the_batch_size():
    srv = server("democfg", interval="1s", minOrders=2, maxOrders=2)
    srv.start()
    try:
        wait_for("3 batches", lambda: len(batches(srv)) >= 3)
        eq({n for n, _ in batches(srv)}, {2}, "batch sizes with minOrders = maxOrders = 2")
        for o in all_orders(srv):
            check_format(o)
    finally:
        eq(srv.stop(), 0, "exit code")


def test_off_by_default():
    srv = server("nodemo")
    srv.start()
    try:
        time.sleep(2.5)
        eq(all_orders(srv), [], "orders without the producer")
        eq(batches(srv), [], "batches without the producer")
    finally:
        eq(srv.stop(), 0, "exit code")


def test_long_interval_does_not_hold_sigterm():
    srv = server("demolong", ["--demo-producer", "1h"])
    srv.start()
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM, timeout=15)
    took = time.time() - t0
    eq(rc, 0, "exit code")
    check(took < 5, "SIGTERM with a 1 h producer interval took %.1fs" % took)
    eq(batches(srv), [], "no batch before the first interval")


def test_bad_durations_are_usage_errors():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_") and k != "ENVIRONMENT"}
    for bad in ("5x", "-1s", "1.5m", "25h", "86401"):
        p = subprocess.run([BIN, "serve", "--env", "x", "--demo-producer", bad], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        err = p.stderr.decode()
        eq(p.returncode, 2, "--demo-producer %s: exit code (stderr %r)" % (bad, err))
        check("--demo-producer" in err and "duration" in err, "--demo-producer %s: %r" % (bad, err))


run(globals())
