"""t736_faults.py - the fault-injection loops of issue 11 part 2 (SQLite's
test_malloc / test_vfs method on the real server): for each kind - SQLite's
Nth allocation, Nth file write, Nth sync - and N = 1, 2, ... a scripted
workload runs against orderly-faults with that one call failing; the loop
ends at the first N the workload never reaches.  After each run:

- no crash: the faulty server stops on SIGTERM with exit 0 (under `make
  asan` the same binary is built with ASan/LSan, so a leak fails it too);
- nothing answered 2xx is missing after a restart on a fault-free server:
  orders (and an acknowledged cancel), a product, a queue message (present
  until its delete was acknowledged, never after), a PutEvents event;
- the inventory invariants hold once the flow has settled: every completed
  order sold its unit once, nothing stays reserved;
- a failed sync is never retried as if the data were safe (PostgreSQL's
  "fsyncgate"): from the failure on, writes answer 503 storage-unavailable,
  /ready answers 503 and reads go on, until the node is restarted."""
import concurrent.futures
import json
import os
import shutil
import sqlite3
import subprocess
import time

from harness import (temp_dir, ADMIN_PASSWORD, BIN, PG, Server, check, do_request, eq, ok, quick_retries, run,
                     shipped_config, wait_for)

FAULTS_BIN = os.environ.get("ORDERLY_FAULTS_BIN", os.path.join(os.path.dirname(BIN), "orderly-faults"))
MAX_N = int(os.environ.get("ORDERLY_FAULT_MAX_N", "20000"))  # a loop longer than this is a failure
WORKERS = 3
# SQLite allocates some 4,000 times in the workload: make test fails every
# allocation up to MALLOC_EVERY_FROM and every MALLOC_STRIDE-th after it
# (about 180 runs); ORDERLY_FAULT_MALLOC_ALL=1 (make faults) fails each one.
MALLOC_EVERY_FROM = 100
MALLOC_STRIDE = 1 if os.environ.get("ORDERLY_FAULT_MALLOC_ALL") else 47
TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")
STOCK = 1000


def config():
    cfg = quick_retries(shipped_config(), visibility=2)
    cfg["queues"].append({"name": "fq", "attributes": {"VisibilityTimeout": 600}})
    cfg["orders"]["catalog"] = ""
    return cfg


class Node(Server):
    def __init__(self, data_dir, faults=None):
        super().__init__(env="f", config=os.path.join(data_dir, "config.json"), data_dir=data_dir)
        self.faults = faults
        self.env_vars = {"ORDERLY_FAULT": faults} if faults else {}
        self.log_path = os.path.join(data_dir, "faulty.log" if faults else "server.log")

    def args(self):
        a = super().args()
        if self.faults:
            a[0] = FAULTS_BIN
        return a


def template():
    """A data directory with the schema, the admin, an API key and product F-1."""
    d = temp_dir("orderly-it-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(), f)
    srv = Node(d).start()
    ok(srv, "POST", "/api/products", {"sku": "F-1", "name": "Fault", "priceCents": 100, "stock": STOCK}, 201)
    key = ok(srv, "POST", "/api/keys", {"name": "fault loop", "role": "admin"}, 201)["key"]
    eq(srv.stop(), 0, "template exit")
    return d, key


class Acks:
    def __init__(self):
        self.orders = {}      # id -> status it must at least have reached ("CANCELLED" when the cancel was acked)
        self.products = []
        self.events = []
        self.message = None   # body of the acked send
        self.deleted = False  # its delete acked


def workload(srv, key, acks):
    """The scripted requests; what was answered 2xx goes into acks.  Returns
    the statuses in order (for the sync check)."""
    h = {"Authorization": "Bearer " + key}
    c = srv.conn(timeout=10, auth=False)
    statuses = []

    def req(method, path, body=None):
        st, _, b = do_request(c, method, path, body, h)
        statuses.append((method, path, st))
        return st, b

    st, b = req("POST", "/api/orders", {"customerId": "c-f", "items": [{"sku": "F-1", "qty": 1}]})
    if st == 202:
        acks.orders[b["orderId"]] = "PENDING"
    st, b = req("POST", "/api/queues/f-fq/messages", {"body": "fault-message"})
    if st == 200:
        acks.message = "fault-message"
    st, b = req("POST", "/api/products", {"sku": "F-NEW", "name": "New", "priceCents": 5, "stock": 3})
    if st == 201:
        acks.products.append("F-NEW")
    st, b = req("POST", "/api/events", {"Entries": [{"Source": "shop.fault", "DetailType": "FaultProbe",
                                                     "Detail": {"n": 1}}]})
    if st == 200 and b["FailedEntryCount"] == 0:
        acks.events.append(b["Entries"][0]["EventId"])
    if acks.message:
        st, b = req("POST", "/api/queues/f-fq/receive", {"maxNumberOfMessages": 1, "waitTimeSeconds": 0})
        if st == 200 and b["messages"]:
            st, _ = req("POST", "/api/queues/f-fq/messages/delete",
                        {"entries": [{"id": "1", "receiptHandle": b["messages"][0]["receiptHandle"]}]})
            acks.deleted = st == 200
    st, b = req("POST", "/api/orders", {"customerId": "c-f", "items": [{"sku": "F-1", "qty": 2}]})
    if st == 202:
        oid = b["orderId"]
        acks.orders[oid] = "PENDING"
        st, b = req("DELETE", "/api/orders/" + oid)
        if st == 200:
            acks.orders[oid] = "CANCELLED"
    c.close()
    return statuses


def settled(srv):
    s = ok(srv, "GET", "/api/stats")
    return s if sum(s["orders_by_status"].get(k, 0) for k in TERMINAL) == s["total_orders"] else None


def verify(d, acks):
    """A fault-free server on the directory: every acknowledged effect is
    there, the flow settles, the inventory adds up."""
    srv = Node(d).start()
    for oid, least in acks.orders.items():
        st, _, o = srv.request("GET", "/api/orders/" + oid)
        eq(st, 200, "acknowledged order %s present" % oid)
        if least == "CANCELLED":
            eq(o["status"], "CANCELLED", "acknowledged cancel of %s" % oid)
    for sku in acks.products:
        eq(srv.request("GET", "/api/products/" + sku)[0], 200, "acknowledged product %s" % sku)
    _, _, b = srv.request("POST", "/api/queues/f-fq/receive", {"maxNumberOfMessages": 10, "waitTimeSeconds": 0,
                                                               "visibilityTimeout": 0})
    bodies = [m["body"] for m in b["messages"]]
    if acks.deleted:
        check("fault-message" not in bodies, "a message whose delete was acknowledged came back")
    elif acks.message:
        # received before the fault but not deleted: it is back after its visibility timeout (600 s) at the
        # latest; visible now unless the receive committed
        st, _, q = srv.request("GET", "/api/queues/f-fq")
        n = q["stats"]["visible"] + q["stats"]["inFlight"]
        check(n >= 1, "the acknowledged message is in the queue: %r" % q["stats"])
    s = wait_for("the flow settles", lambda: settled(srv), timeout=30)
    p = ok(srv, "GET", "/api/products/F-1")
    done = ok(srv, "GET", "/api/orders?status=COMPLETED&limit=100")["orders"]
    sold = sum(i.get("qty", i.get("quantity", 0)) for o in done for i in o["items"])
    eq((p["sold"], p["reserved"], p["stock"]), (sold, 0, STOCK - sold), "F-1 adds up (%d orders)" % s["total_orders"])
    eq(srv.stop(), 0, "fault-free exit")
    if acks.events:
        db = sqlite3.connect(os.path.join(d, "f.db"))
        for eid in acks.events:
            n = db.execute("SELECT count(*) FROM events WHERE id=?", (eid,)).fetchone()[0]
            eq(n, 1, "acknowledged event %s in the log" % eid)
        db.close()


def sync_latched(srv, key, statuses):
    """After a failed sync: no 2xx write from it on; /ready 503; reads work
    (signed in with the API key: a login writes)."""
    h = {"Authorization": "Bearer " + key}
    writes = [s for s in statuses if s[0] != "GET"]
    first = next((i for i, s in enumerate(writes) if s[2] == 503), None)  # None: it failed in the background
    if first is not None:
        eq([s for s in writes[first:] if 200 <= s[2] < 300], [], "2xx writes after the failed sync")
    eq(srv.request("GET", "/ready", auth=False)[0], 503, "/ready after a failed sync")
    st, _, b = srv.request("POST", "/api/products", {"sku": "F-LATE", "name": "x", "priceCents": 1, "stock": 1},
                           headers=h)
    eq(st, 503, "a write after a failed sync: %r" % b)
    eq(srv.request("GET", "/api/products/F-1", headers=h)[0], 200, "reads go on")
    st, _, hb = srv.request("GET", "/api/health", headers=h)
    eq((st, hb["components"]["database"]["status"]), (503, "sync-failed"), "/api/health says why")
    check("orderly_store_sync_failed 1" in srv.request("GET", "/metrics", headers=h)[2], "the metric")


def one_run(tmpl, key, kind, n):
    """The workload with fault kind:n, then the checks; True when the fault
    was injected (the workload reached call n)."""
    d = temp_dir("orderly-it-")
    for name in os.listdir(tmpl):
        if name.startswith("f.") or name == "config.json":
            shutil.copy2(os.path.join(tmpl, name), os.path.join(d, name))
    srv = Node(d, faults="%s:%d" % (kind, n))
    srv.start()
    acks = Acks()
    statuses = workload(srv, key, acks)
    injected = b"fault injected: %s %d" % (kind.encode(), n) in open(srv.log_path, "rb").read()
    if injected and kind == "sync":
        sync_latched(srv, key, statuses)
    time.sleep(0.05)  # the flow runs on with the fault behind it
    code = srv.stop()
    eq(code, 0, "%s:%d: the faulty server's exit (log: %s)" % (kind, n, srv.log_tail(5)))
    verify(d, acks)
    shutil.rmtree(d)
    return injected


def numbers(stride_from, stride):
    n = 0
    while True:
        n += 1 if n < stride_from else stride
        yield n


def loop(kind, stride_from=10 ** 9, stride=1):
    """N = 1, 2, ... (past stride_from every stride-th) until a run never
    reaches its N; WORKERS runs at a time."""
    tmpl, key = template()
    t0 = time.time()
    results, pending, ns = {}, {}, numbers(stride_from, stride)
    end = None
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        while True:
            while end is None and len(pending) < WORKERS:
                n = next(ns)
                check(n <= MAX_N, "%s: the workload still reaches fault %d" % (kind, n))
                pending[pool.submit(one_run, tmpl, key, kind, n)] = n
            if not pending:
                break
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for f in done:
                n = pending.pop(f)
                results[n] = f.result()  # a failed check raises here
                if not results[n] and (end is None or n < end):
                    end = n
    shutil.rmtree(tmpl)
    runs = sorted(n for n, inj in results.items() if inj)
    print("%s faults: %d runs, each failing one call (N = %s), every check held; the workload ends before N = %d "
          "(%.0f s)" % (kind, len(runs), "1..%d" % runs[-1] + (", every %d past %d" % (stride, stride_from)
                                                                 if runs[-1] > stride_from else ""), end,
                        time.time() - t0))
    return len(runs)


if PG:
    # the faults are SQLite's (its allocator and VFS under the node); on
    # PostgreSQL the node keeps no data of its own and the server's own
    # fsync failure is a PANIC and crash recovery (t520 stops it mid-load)
    print("the faults are SQLite's allocations, writes and syncs: nothing to inject on PostgreSQL")
else:
    def test_sync_faults():
        check(loop("sync") >= 1, "some sync was failed")

    def test_write_faults():
        check(loop("write") >= 1, "some write was failed")

    def test_malloc_faults():
        check(loop("malloc", MALLOC_EVERY_FROM, MALLOC_STRIDE) >= 1, "some allocation was failed")


if __name__ == "__main__":
    run(globals())
