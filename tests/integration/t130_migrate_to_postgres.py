"""t130: moving from SQLite to PostgreSQL (issue 13): `orderly migrate
--from FILE --to URL`.

A node on SQLite takes orders to every kind of end (COMPLETED, PAYMENT_FAILED,
REJECTED unknown_sku and out_of_stock, CANCELLED), keeps messages in a queue
of its own (unicode and binary-ish bodies, a delayed one, a DLQ's) and
idempotency keys; it is stopped and its file copied into an empty
PostgreSQL schema; a node started there answers exactly what the old one
did: the same orders (ids, statuses, reasons, items, totals), inventory,
order timelines (the event log), queue depths and message bodies and ids,
and an Idempotency-Key replays its first answer.  New orders go on after
the old ones.  A second copy into the (now full) target is refused and
changes nothing.  A SQLite file is never a valid --to, nor a URL a --from.

Needs PostgreSQL: under ORDERLY_TEST_DB=sqlite there is nothing to run
(integ-pg.t130_migrate_to_postgres runs it).
"""
import json
import os
import subprocess
import time
from harness import BIN, PG, SRC, Server, check, db_rows, eq, ok, run, shipped_config, wait_for

TERMINAL = {"COMPLETED", "REJECTED", "PAYMENT_FAILED", "FAILED", "EXPIRED", "CANCELLED"}


def make_config(d):
    cfg = shipped_config()
    cat = os.path.join(d, "catalog.json")
    with open(cat, "w") as f:
        json.dump({"products": [{"sku": "M-1", "name": "Mig one", "priceCents": 250, "stock": 100},
                                {"sku": "M-2", "name": "Mig two", "priceCents": 1999, "stock": 3}]}, f)
    cfg["orders"]["catalog"] = cat
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def snapshot(srv):
    """What a client sees: orders with their timelines, products, queues."""
    orders = ok(srv, "GET", "/api/orders?limit=100")["orders"]
    timelines = {}
    for o in orders:
        tl = ok(srv, "GET", "/api/orders/%s/events" % o["orderId"])
        timelines[o["orderId"]] = [(e["eventId"], e["type"], e["time"]) for e in tl["events"]]
    products = ok(srv, "GET", "/api/products")["products"]
    queues = {q["name"]: (q["attributes"], q["stats"]["visible"], q["stats"]["inFlight"], q["stats"]["delayed"])
              for q in ok(srv, "GET", "/api/queues")["queues"]}
    return orders, timelines, products, queues


def migrate(*args):
    return subprocess.run([BIN, "migrate"] + list(args), capture_output=True, text=True, timeout=120)


if not PG:
    print("moving to PostgreSQL needs one: run with ORDERLY_TEST_DB=postgres (ctest: integ-pg.t130_migrate_to_postgres)")
else:
    def test_migrate_sqlite_to_postgres():
        old = Server(env="mig", sqlite=True)
        cfg = make_config(old.data_dir)
        old.config = cfg
        old.start()
        try:
            ids = []
            for body in ({"customerId": "c-ok", "items": [{"sku": "M-1", "qty": 2}, {"sku": "M-2", "qty": 1}]},
                         {"customerId": "c-declined", "items": [{"sku": "M-1", "qty": 1}],
                          "payment": {"token": "tok_chargeDeclined"}},
                         {"customerId": "c-unknown", "items": [{"sku": "NOPE", "qty": 1}]},
                         {"customerId": "c-oos", "items": [{"sku": "M-2", "qty": 3}]}):
                ids.append(ok(old, "POST", "/api/orders", body, want=202,
                              headers={"Idempotency-Key": "key-" + body["customerId"]})["orderId"])
            wait_for("orders terminal", lambda: all(
                ok(old, "GET", "/api/orders/" + i)["status"] in TERMINAL for i in ids), timeout=30)
            # a cancelled one (stays RESERVED only briefly: cancel as soon as it exists)
            cid = ok(old, "POST", "/api/orders", {"customerId": "c-cancel", "items": [{"sku": "M-1", "qty": 1}]},
                     want=202)["orderId"]
            old.request("DELETE", "/api/orders/" + cid)
            wait_for("cancelled or completed", lambda: ok(old, "GET", "/api/orders/" + cid)["status"] in TERMINAL)
            # a queue of our own with messages kept
            ok(old, "POST", "/api/queues", {"name": "mig-box"}, want=201)
            bodies = ["plain", "ünïcødé ✓ \u2603", "{\"json\": [1, 2, 3]}", "x" * 5000]
            sent = {}
            for b in bodies:
                r = ok(old, "POST", "/api/queues/mig-box/messages", {"body": b})
                sent[r["messageId"]] = b
            ok(old, "POST", "/api/queues/mig-box/messages", {"body": "later", "delaySeconds": 900})
            before = snapshot(old)
            eq(before[3]["mig-box"][1:], (4, 0, 1), "mig-box: 4 visible, 1 delayed")
            statuses = sorted(o["status"] for o in before[0])
            check({"COMPLETED", "PAYMENT_FAILED", "REJECTED"} <= set(statuses), "outcomes before: %r" % statuses)
        finally:
            eq(old.stop(), 0, "the SQLite node stops")

        new = Server(env="mig", config=cfg)
        r = migrate("--from", old.db, "--to", new.db)
        eq(r.returncode, 0, "migrate --from --to (stderr %s)" % r.stderr[-2000:])
        check(r.stdout.startswith("copied "), "output %r" % r.stdout)
        n_rows = int(r.stdout.split()[1])
        check(n_rows > 20, "rows copied: %r" % r.stdout)

        new.start()
        try:
            after = snapshot(new)
            eq(after[0], before[0], "orders (ids, statuses, reasons, items, totals, timestamps)")
            eq(after[1], before[1], "order timelines (event ids, types, times)")
            eq(after[2], before[2], "products and inventory")
            eq(after[3], before[3], "queue depths (visible, in flight, delayed)")
            # the messages themselves: same ids, same bodies
            got = {}
            for _ in range(10):
                for m in ok(new, "POST", "/api/queues/mig-box/receive", {"maxNumberOfMessages": 10})["messages"]:
                    got[m["messageId"]] = m["body"]
                if len(got) == len(sent):
                    break
            eq(got, sent, "messages received after the move")
            # an Idempotency-Key replays its first answer
            st, h, b = new.request("POST", "/api/orders", {"customerId": "c-ok", "items": [
                {"sku": "M-1", "qty": 2}, {"sku": "M-2", "qty": 1}]}, headers={"Idempotency-Key": "key-c-ok"})
            eq((st, h.get("idempotent-replayed"), b.get("orderId")), (202, "true", ids[0]), "replayed answer")
            # new orders go on after the old ones (sequences moved past the copied ids)
            nid = ok(new, "POST", "/api/orders", {"customerId": "c-new", "items": [{"sku": "M-1", "qty": 1}]},
                     want=202)["orderId"]
            wait_for("the new order completes", lambda: ok(new, "GET", "/api/orders/" + nid)["status"] == "COMPLETED")
            eq(ok(new, "GET", "/api/orders?limit=1")["orders"][0]["orderId"], nid, "the new order is the newest")
            p1 = {p["sku"]: p for p in ok(new, "GET", "/api/products")["products"]}["M-1"]
            old_m1 = {p["sku"]: p for p in before[2]}["M-1"]
            eq((p1["stock"], p1["sold"], p1["reserved"]), (old_m1["stock"] - 1, old_m1["sold"] + 1, 0),
               "inventory goes on from the copied figures")
        finally:
            eq(new.stop(), 0, "the PostgreSQL node stops")
        # the target is not empty any more: a second copy is refused, changes nothing
        n_orders = db_rows(new, "SELECT count(*) FROM orders")[0][0]
        r = migrate("--from", old.db, "--to", new.db)
        eq(r.returncode, 1, "a copy into a database with rows (stdout %r)" % r.stdout)
        check("not empty" in r.stderr, "why: %r" % r.stderr[-500:])
        eq(db_rows(new, "SELECT count(*) FROM orders")[0][0], n_orders, "orders after the refused copy")

    def test_migrate_refuses_wrong_directions():
        d = Server(env="mig2", sqlite=True)
        r = migrate("--from", d.db)
        eq(r.returncode, 2, "--from alone (stderr %r)" % r.stderr)
        r = migrate("--from", d.db, "--to", os.path.join(d.data_dir, "other.db"))
        eq(r.returncode, 2, "a SQLite --to (stderr %r)" % r.stderr)
        check("postgres" in r.stderr, "why: %r" % r.stderr)
        pg = Server(env="mig2")
        r = migrate("--from", pg.db, "--to", pg.db)
        eq(r.returncode, 2, "a URL --from (stderr %r)" % r.stderr)
        r = migrate("--from", d.db, "--to", pg.db, "--bogus")
        eq(r.returncode, 2, "unknown option (stderr %r)" % r.stderr)
        r = migrate("--from", d.db, "--to", pg.db, "--help")
        eq(r.returncode, 0, "--help")
        check("--from FILE --to URL" in r.stdout, "usage: %r" % r.stdout)


run(globals())
