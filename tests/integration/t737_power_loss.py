"""t737_power_loss.py - acknowledged work survives a power cut, not only a
kill -9 (issue 11 part 2).

kill -9 keeps the page cache: a write the server never fsync'd still reaches
the disk.  Here the server runs under tests/tools/powerloss.c (LD_PRELOAD),
which keeps beside the data directory the image a power cut would leave:
only what a completed fsync covered.  Each crash point: orders and queue
messages flow, the server is SIGKILLed at a random moment, and the next
server starts on the image.  Then every order and message whose request was
answered 2xx must be there, and no message whose delete was answered 2xx may
come back.  At the end the order flow is let finish and inventory is checked
against the orders: what was sold is what completed, once.

The control run syncs nothing of the WAL (SQLite's synchronous=NORMAL, the
image layer's POWERLOSS_NOSYNC_SUFFIX=-wal): it must lose acknowledged
orders, or the test could not fail.

On PostgreSQL (ORDERLY_TEST_DB=postgres) a node keeps no data of its own: a
power cut of its host loses nothing the database committed, and the
database's own durability is PostgreSQL's (fsync, synchronous_commit on,
which orderly sets; t520 stops it with -m immediate).  Nothing to run here."""
import http.client
import os
import random
import shutil
import subprocess
import threading
import time

from harness import BIN, PG, Server, check, do_request, eq, ok, quick_retries, run, shipped_config, wait_for

SHIM = os.environ.get("ORDERLY_POWERLOSS", os.path.join(os.path.dirname(BIN), "powerloss.so"))
CRASH_POINTS = int(os.environ.get("ORDERLY_POWERLOSS_POINTS", "100"))
CONTROL_POINTS = 5
CLIENTS = 4
STOCK = 1000000


def config():
    """The shipped flow, with what was in flight at a cut redelivered after 2 s."""
    cfg = quick_retries(shipped_config(), visibility=2)
    cfg["queues"].append({"name": "pl", "attributes": {"VisibilityTimeout": 600}})
    return cfg
TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")


class OnImage(Server):
    """A server whose database lives in <data_dir>/disk; with the layer on,
    <data_dir>/image is what a power cut would leave of it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.disk = os.path.join(self.data_dir, "disk")
        self.image = os.path.join(self.data_dir, "image")
        os.makedirs(self.disk)
        os.makedirs(self.image)

    @property
    def db(self):
        return os.path.join(self.data_dir, "disk", self.env + ".db")

    def power_on(self, layer=True, nosync=""):
        """The disk becomes the image (what survived), then the server starts."""
        for name in os.listdir(self.disk):
            os.unlink(os.path.join(self.disk, name))
        for name in os.listdir(self.image):
            shutil.copy2(os.path.join(self.image, name), os.path.join(self.disk, name))
        self.env_vars = {}
        if layer:
            self.env_vars = {"LD_PRELOAD": SHIM, "POWERLOSS_DIR": self.disk, "POWERLOSS_IMAGE": self.image,
                             "POWERLOSS_NOSYNC_SUFFIX": nosync}
        self._token = None  # the signing key may be a new one
        self.start()


class Ledger:
    """What the clients were told: acknowledged orders, sends and deletes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders = []        # acked since the last check
        self.orders_total = 0
        self.sent = set()       # acked sends not yet seen by a drain
        self.deleted = set()    # acked deletes: must never come back
        self.sends_total = 0


def load(srv, ledger, stop, cid):
    conn, n = None, 0
    while not stop.is_set():
        n += 1
        try:
            if conn is None:
                conn = srv.conn(timeout=5)
            if n % 2:
                st, _, b = do_request(conn, "POST", "/api/orders",
                                      {"customerId": "pl-%d" % cid, "items": [{"sku": "PL-1", "qty": 1}]})
                if st == 202:
                    with ledger.lock:
                        ledger.orders.append(b["orderId"])
                        ledger.orders_total += 1
            else:
                body = "m-%d-%d-%d" % (cid, os.getpid(), time.monotonic_ns())
                st, _, b = do_request(conn, "POST", "/api/queues/%s-pl/messages" % srv.env, {"body": body})
                if st == 200:
                    with ledger.lock:
                        ledger.sent.add(body)
                        ledger.sends_total += 1
        except (OSError, http.client.HTTPException, ValueError):
            if conn:
                conn.close()
            conn = None
            time.sleep(0.01)
    if conn:
        conn.close()


def drain(srv, ledger):
    """Receives and deletes every message; returns (seen, resurrected)."""
    seen, back = 0, []
    c = srv.conn()
    while True:
        st, _, b = do_request(c, "POST", "/api/queues/%s-pl/receive" % srv.env,
                              {"maxNumberOfMessages": 10, "waitTimeSeconds": 0})
        eq(st, 200, "receive")
        if not b["messages"]:
            break
        for m in b["messages"]:
            seen += 1
            ledger.sent.discard(m["body"])
            if m["body"] in ledger.deleted:
                back.append(m["body"])
        entries = [{"id": str(i), "receiptHandle": m["receiptHandle"]} for i, m in enumerate(b["messages"])]
        st, _, d = do_request(c, "POST", "/api/queues/%s-pl/messages/delete" % srv.env, {"entries": entries})
        eq((st, d.get("failed") if isinstance(d, dict) else d), (200, []), "delete batch: %r" % (d,))
        ledger.deleted.update(m["body"] for m in b["messages"])
    c.close()
    return seen, back


def missing_orders(srv, ids):
    c = srv.conn()
    gone = []
    for oid in ids:
        st, _, _ = do_request(c, "GET", "/api/orders/" + oid)
        if st != 200:
            gone.append(oid)
    c.close()
    return gone


def crash_points(srv, points, nosync=""):
    """Runs `points` power cuts; returns (acked orders, lost orders, acked
    sends, lost sends, resurrected deletes)."""
    ledger = Ledger()
    lost_orders, resurrected = [], []
    for point in range(points + 1):
        try:
            srv.power_on(layer=point < points, nosync=nosync)
        except RuntimeError as e:
            if not nosync:
                raise
            # a WAL never synced can leave an image SQLite refuses to open
            # ("database disk image is malformed"): everything is lost
            print("control: the image does not open: %s" % str(e).splitlines()[-1][:160])
            with ledger.lock:
                lost_orders += ledger.orders
            return ledger.orders_total, lost_orders, ledger.sends_total, len(ledger.sent), resurrected
        if point == 0 or (nosync and srv.request("GET", "/api/products/PL-1")[0] == 404):  # the control loses it
            ok(srv, "POST", "/api/products", {"sku": "PL-1", "name": "Power", "priceCents": 100, "stock": STOCK}, 201)
        with ledger.lock:
            pending, ledger.orders = ledger.orders, []
        lost_orders += missing_orders(srv, pending)
        _, back = drain(srv, ledger)
        resurrected += back
        lost_sends = len(ledger.sent)
        if lost_sends and not nosync:
            break  # lost already: stop and report
        ledger.sent.clear()
        if point == points:
            break
        stop = threading.Event()
        threads = [threading.Thread(target=load, args=(srv, ledger, stop, i)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.05, 0.6))
        srv.kill9()  # the power goes: the layer's image is what is left
        stop.set()
        for t in threads:
            t.join()
    return ledger.orders_total, lost_orders, ledger.sends_total, lost_sends, resurrected


if PG:
    print("a node on PostgreSQL keeps no data of its own: nothing to cut (see the docstring)")
else:
    def test_power_loss_keeps_acknowledged_work():
        if b"libasan" in subprocess.run(["ldd", BIN], capture_output=True).stdout:
            print("the layer cannot run under ASan (it must be first in the process); the plain build runs it")
            return
        srv = OnImage(env="power", config=config())
        t0 = time.time()
        acked, lost, sends, lost_sends, back = crash_points(srv, CRASH_POINTS)
        print("power cuts %d in %.0f s: orders acked %d, present %d, lost %d; messages acked %d, lost %d; "
              "deleted messages back %d" % (CRASH_POINTS, time.time() - t0, acked, acked - len(lost), len(lost), sends,
                                            lost_sends, len(back)))
        eq(lost, [], "acknowledged orders lost")
        eq(lost_sends, 0, "acknowledged messages lost")
        eq(back, [], "messages deleted (2xx) came back")
        check(acked >= CRASH_POINTS, "enough orders acked to mean something: %d" % acked)

        # the flow finishes on the last image: each completed order sold one unit, once
        def settled():
            s = ok(srv, "GET", "/api/stats")
            by = s["orders_by_status"]
            return s if sum(by.get(k, 0) for k in TERMINAL) == s["total_orders"] else None
        s = wait_for("every order terminal", settled, timeout=120)
        p = ok(srv, "GET", "/api/products/PL-1")
        done = s["orders_by_status"].get("COMPLETED", 0)
        print("orders %d, completed %d; PL-1 sold %d, reserved %d, stock %d" % (s["total_orders"], done, p["sold"],
                                                                                p["reserved"], p["stock"]))
        check(s["total_orders"] >= acked, "orders present >= acknowledged")
        eq((p["sold"], p["reserved"], p["stock"]), (done, 0, STOCK - done), "sold once per completed order")
        eq(srv.stop(), 0, "clean exit")


    def test_control_without_wal_sync_loses_work():
        """The same with the WAL never synced: acknowledged orders are lost -
        proof the image is a power cut and the check can fail."""
        if b"libasan" in subprocess.run(["ldd", BIN], capture_output=True).stdout:
            print("the layer cannot run under ASan; the plain build runs it")
            return
        srv = OnImage(env="control", config=config())
        acked, lost, sends, lost_sends, _ = crash_points(srv, CONTROL_POINTS, nosync="-wal")
        print("control (WAL not synced), power cuts %d: orders acked %d, present %d, lost %d; messages acked %d, "
              "lost %d" % (CONTROL_POINTS, acked, acked - len(lost), len(lost), sends, lost_sends))
        check(len(lost) + lost_sends > 0, "the control lost nothing: the test could not fail")
        srv.stop()


if __name__ == "__main__":
    run(globals())
