"""t340_audit.py - the audit log (issue 9): an audited change and its audit
row commit together or not at all - the server is killed (-9) at random
moments between changes and their replies, and after each restart every
order has its row and every row its order; rows past auth.auditRetentionDays
are swept; GET /api/audit filters and pages."""
import os
import random
import threading
import time

from harness import Server, check, eq, ok, run, db_rows, db_exec

KILLS = 5
CLIENTS = 4


def test_change_and_audit_row_commit_together_under_kill9():
    s = Server(env="au", config={"builtinTopology": False, "auth": {"auditRetentionDays": 30}}).start()
    ok(s, "POST", "/api/products", {"sku": "AU", "name": "a", "priceCents": 1, "stock": 10 ** 9}, 201)
    token = s.token()
    stop = threading.Event()
    sent = []

    def client(n):
        i = 0
        while not stop.is_set():
            oid = "au-%d-%d" % (n, i)
            i += 1
            sent.append(oid)
            try:
                s.request("POST", "/api/orders", {"orderId": oid, "customerId": "c", "items": [{"sku": "AU", "qty": 1}]},
                          headers={"Authorization": "Bearer " + token}, timeout=5, auth=False)
            except OSError:
                time.sleep(0.05)
    ts = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    [t.start() for t in ts]
    try:
        for k in range(KILLS):
            time.sleep(random.uniform(0.3, 0.8))
            s.kill9()
            s.start()
        stop.set()
        [t.join(10) for t in ts]
        s.stop()
        orders = {r[0] for r in db_rows(s, "SELECT id FROM orders")}
        rows = {r[0] for r in db_rows(s, "SELECT target FROM audit WHERE route='/api/orders' AND method='POST'")}
        check(len(orders) > 50, "orders were created: %d" % len(orders))
        eq(sorted(orders - rows), [], "orders without an audit row")
        eq(sorted(rows - orders), [], "audit rows without their order")
        print("kills %d, orders %d, audit rows %d, mismatched 0" % (KILLS, len(orders), len(rows)))
    finally:
        stop.set()
        s.stop()


def test_retention_sweep_and_filters():
    s = Server(env="ttl", config={"builtinTopology": False, "auth": {"auditRetentionDays": 1}}).start()
    try:
        ok(s, "POST", "/api/products", {"sku": "T1", "name": "t", "priceCents": 1, "stock": 1}, 201)
        ok(s, "PUT", "/api/products/T1", {"stock": 2})
        s.stop()
        old = int((time.time() - 2 * 86400) * 1000)
        db_exec(s, "INSERT INTO audit(time_ms,principal,method,route,status,ip,request_id) "
                   "VALUES(?,?,?,?,?,?,?)", old, "ghost", "POST", "/api/products", 201, "127.0.0.1", "r-old")
        s.start()   # the sweep runs at start, then every 30 s
        def swept():
            rows = ok(s, "GET", "/api/audit?principal=ghost")["entries"]
            return not rows
        end = time.time() + 10
        while not swept() and time.time() < end:
            time.sleep(0.2)
        check(swept(), "the row past retention is gone")
        rows = ok(s, "GET", "/api/audit?target=T1")["entries"]
        eq([(r["method"], r["status"]) for r in rows], [("PUT", 200), ("POST", 201)], "recent rows stay, newest first")
        r = rows[0]
        for k in ("id", "time", "principal", "role", "method", "route", "target", "status", "ip", "requestId"):
            check(k in r, "row has %s: %r" % (k, r))
        eq((r["principal"], r["role"], r["route"], r["ip"]), ("admin", "admin", "/api/products/{sku}", "127.0.0.1"),
           "who, what, from where")
        page = ok(s, "GET", "/api/audit?limit=1")
        check(page.get("nextCursor") and len(page["entries"]) == 1, "paged")
        nxt = ok(s, "GET", "/api/audit?limit=1&cursor=" + page["nextCursor"])["entries"]
        check(nxt and nxt[0]["id"] < page["entries"][0]["id"], "the next page is older")
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        eq(ok(s, "GET", "/api/audit?from=" + future)["entries"], [], "time filter")
    finally:
        s.stop()


run(globals())
