"""t735: health endpoints (issue 4, seed 004's GET /api/health).

  healthy    200 {status:"healthy", database:{status:"connected"},
             queue:{status:"connected"}, components:{database, queues,
             functions, http}} with real figures
  draining   after SIGTERM, while a slow request holds the drain: on a
             kept-alive connection /api/health answers 503 degraded
             (http: draining) and /ready 503; the slow request still
             completes (202) and its order exists after a restart
  disk full  (SQLite) the database on a real tmpfs that is filled up:
             writes answer 503, /api/health 503 with database disconnected,
             /ready 503, /health (liveness) 200; space freed: /ready and
             /api/health recover without a restart; nothing acknowledged is
             lost across a kill -9 (see test_degraded_when_the_disk_is_full).
  db down    (PostgreSQL) the test's PostgreSQL is stopped with -m immediate:
             the same checks (an order answered 503, never 202; health and
             ready 503, liveness 200); PostgreSQL started again: /ready and
             /api/health recover without a restart of orderly.
"""
import json
import os
import resource
import signal
import socket
import subprocess
import shutil
import time
import http.client
from harness import temp_dir, SRC, PG, Server, run, check, eq, do_request, shipped_config, pg_cluster

FUNCTIONS = {"order-processor", "payment-processor", "notification-processor"}


def make_config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    return cfg


def order(cid):
    return {"customerId": cid, "items": [{"sku": "PROD-002", "qty": 1}]}


def check_shape(body, want):
    eq(body["status"], want, "status (body %r)" % body)
    for k in ("timestamp", "version", "database", "queue", "components"):
        check(k in body, "no %r in %r" % (k, body))
    comps = body["components"]
    eq(sorted(comps), ["database", "functions", "http", "payments", "pipeline", "queues"], "components")
    eq(body["database"]["status"], comps["database"]["status"], "seed 004's database.status")
    eq(body["queue"]["status"], comps["queues"]["status"], "seed 004's queue.status")
    return comps


def test_healthy():
    srv = Server(env="hl", config=make_config())
    srv.start()
    try:
        st, h, b = srv.request("POST", "/api/orders", order("h-1"))
        eq(st, 202, "order")
        st, h, b = srv.request("GET", "/api/health")
        eq(st, 200, "healthy status (body %r)" % b)
        check(h["content-type"].startswith("application/json"), "ctype")
        comps = check_shape(b, "healthy")
        db = comps["database"]
        eq((db["status"], db["writable"], db["readable"]), ("connected", True, True), "database")
        check(db["schemaVersion"] >= 3, "schemaVersion %r" % db)
        q = comps["queues"]
        eq(q["status"], "connected", "queues")
        eq(q["count"], len(make_config()["queues"]), "queue count")
        fns = comps["functions"]
        eq(fns["status"], "running", "functions")
        eq(set(fns["functions"]), FUNCTIONS, "functions")
        for name, f in fns["functions"].items():
            check(f["enabled"] and f["pollers"] >= 1, "%s: %r" % (name, f))
            eq(f["pollersRunning"], f["pollers"], name + " pollers running")
        eq(comps["http"]["status"], "serving", "http")
        # a disabled function is not a degradation: it has no pollers to run
        st, _, _ = srv.request("GET", "/ready")
        eq(st, 200, "/ready")
    finally:
        eq(srv.stop(), 0, "exit code")
    cfg = make_config()
    for f in cfg["functions"]:
        if f["name"] == "notification-processor":
            f["enabled"] = False
    srv = Server(env="hl2", config=cfg)
    srv.start()
    try:
        st, _, b = srv.request("GET", "/api/health")
        eq(st, 200, "health with a disabled function (body %r)" % b)
        eq(b["components"]["functions"]["functions"]["notification-processor"],
           {"enabled": False, "paused": False, "pollers": 0, "pollersRunning": 0}, "disabled function")
    finally:
        eq(srv.stop(), 0, "exit code")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def raw_get(s, path, auth=b""):
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path).encode() + auth + b"\r\n")
    return read_response(s)


def read_response(s):
    f = s.makefile("rb")
    r = http.client.HTTPResponse(s)
    r.fp = f
    r.begin()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    body = json.loads(data) if data and "json" in hdrs.get("content-type", "") else data
    return r.status, hdrs, body


def new_connection_refused(port):
    """True when a connection made now gets no answer: refused by the kernel,
    or accepted and closed by the server's accept policy before it reads."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return True
    try:
        s.settimeout(2)
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return s.recv(1) == b""
    except OSError:
        return True
    finally:
        s.close()


def test_degraded_while_draining():
    srv = Server(env="hd", config=make_config())
    srv.start()
    try:
        body = json.dumps(order("drain-1")).encode()
        slow = connect(srv.port)        # a POST whose body is still on its way
        slow.sendall(b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + srv.auth_line() + b"Idempotency-Key: drain-1\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body[:10])
        health = connect(srv.port)      # kept-alive connections opened before SIGTERM
        ready = connect(srv.port)
        st, _, b = raw_get(health, "/api/health", srv.auth_line())
        eq(st, 200, "health before SIGTERM")
        st, _, _ = raw_get(ready, "/ready")
        eq(st, 200, "ready before SIGTERM")
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        t0 = time.time()
        end = t0 + 10                   # new connections are refused, or closed unanswered at accept
        while time.time() < end:
            if new_connection_refused(srv.port):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("new connections were still served after SIGTERM")
        st, h, b = raw_get(health, "/api/health", srv.auth_line())
        eq(st, 503, "health while draining (body %r)" % b)
        comps = check_shape(b, "degraded")
        eq(comps["http"]["status"], "draining", "http component")
        check(comps["http"]["inFlight"] >= 2, "in flight: %r" % comps["http"])
        eq(comps["database"]["status"], "connected", "the store still takes writes")
        eq(h.get("connection", "").lower(), "close", "replies while draining close their connection")
        st, _, b = raw_get(ready, "/ready")
        eq(st, 503, "ready while draining")
        check(srv.proc.poll() is None, "the slow request holds the drain")
        slow.sendall(body[10:])
        st, _, b = read_response(slow)
        eq(st, 202, "the in-flight order completes during the drain (body %r)" % b)
        oid = b["orderId"]
        rc = srv.proc.wait(timeout=15)
        eq(rc, 0, "exit code")
        print("drain with a slow request: exit 0 in %.2fs" % (time.time() - t0))
    finally:
        srv.stop()
    srv.start()
    try:
        st, _, b = srv.request("GET", "/api/orders/" + oid)
        eq(st, 200, "the order acknowledged during the drain exists after restart")
    finally:
        eq(srv.stop(), 0, "exit code")


class SmallDisk:
    """A real, size-limited filesystem (tmpfs) over a server's data directory,
    in a mount namespace of its own that a holder process keeps alive across
    server restarts; gone when the holder is killed (nothing to unmount)."""

    def __init__(self, directory, size_mb=16):
        self.dir = directory
        root = os.geteuid() == 0
        self.ns = ["--mount"] if root else ["--user", "--mount", "--preserve-credentials"]
        unshare = ["unshare", "--mount", "--propagation", "private"] if root else \
            ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
        script = "mount -t tmpfs -o size=%dm tmpfs '%s' && echo mounted && exec sleep 600" % (size_mb, directory)
        self.holder = subprocess.Popen(unshare + ["sh", "-c", script], stdout=subprocess.PIPE)
        line = self.holder.stdout.readline()
        if line.strip() != b"mounted":
            self.holder.kill()
            raise RuntimeError("cannot mount a tmpfs in a mount namespace (root or user namespaces needed)")

    def wrap(self, args):
        return ["nsenter", "-t", str(self.holder.pid)] + self.ns + ["--"] + args

    def path(self, name):
        """name inside the small filesystem, as this process reaches it."""
        return "/proc/%d/root%s/%s" % (self.holder.pid, self.dir, name)

    def fill(self):
        """Takes every free block; returns the filler's size."""
        n = 0
        with open(self.path("filler"), "wb", buffering=0) as f:
            for size in (65536, 4096, 512):   # the last partial blocks too
                try:
                    while True:
                        n += f.write(b"\0" * size)
                except OSError:
                    pass
        return n

    def free(self):
        os.unlink(self.path("filler"))

    def close(self):
        self.holder.kill()
        self.holder.wait()


class OnSmallDisk(Server):
    """The database on the small filesystem; config and log beside it."""

    def __init__(self, disk, **kw):
        super().__init__(data_dir=os.path.dirname(disk.dir), **kw)
        self.disk = disk

    @property
    def db(self):
        return os.path.join(self.disk.dir, self.env + ".db")

    def args(self):
        return self.disk.wrap(super().args())


def check_degraded(srv, oid):
    """While writes fail: the order is refused, health and ready say so."""
    st, _, b = srv.request("POST", "/api/orders", dict(order(oid), orderId=oid))
    check(st >= 500, "an order while the database cannot write: %d %r" % (st, b))
    st, _, b = srv.request("GET", "/api/health")
    eq(st, 503, "health while the database cannot write (body %r)" % b)
    comps = check_shape(b, "degraded")
    db = comps["database"]
    eq((db["status"], db["writable"]), ("disconnected", False), "database %r" % db)
    eq(b["database"], {"status": "disconnected"}, "seed 004's database")
    st, _, _ = srv.request("GET", "/ready")
    eq(st, 503, "ready while the database cannot write")
    st, _, b = srv.request("GET", "/health")
    eq(st, 200, "liveness while the database cannot write")


def check_recovered(srv, oid, timeout=15):
    end = time.time() + timeout  # no write happens: /ready's probe finds the recovery
    while time.time() < end and srv.request("GET", "/ready")[0] != 200:
        time.sleep(0.05)
    st, _, _ = srv.request("GET", "/ready")
    eq(st, 200, "ready after the database recovered")
    st, _, b = srv.request("GET", "/api/health")
    eq(st, 200, "health after (body %r)" % b)
    st, _, b = srv.request("GET", "/api/orders/" + oid)
    eq(st, 404, "the order refused meanwhile does not exist")
    st, _, b = srv.request("POST", "/api/orders", dict(order(oid + "-after"), orderId=oid + "-after"))
    eq(st, 202, "an order after the recovery (body %r)" % b)


if not PG:
    def test_degraded_when_the_disk_is_full():
        """A real full filesystem (not a file-size limit): writes that cannot
        reach the disk answer 503, never 2xx; reads, /health and /api/health keep
        answering; /ready is 503 until a probe write commits again; when space
        returns the node recovers by itself; every acknowledged order survives a
        restart.  (Writes that fit in blocks SQLite already owns - the WAL it
        reuses after a checkpoint - still commit on a full disk, durably: the
        test counts them as acknowledged and checks them like the others.)"""
        d = temp_dir("orderly-it-disk-")
        os.mkdir(os.path.join(d, "disk"))
        disk = SmallDisk(os.path.join(d, "disk"))
        srv = OnSmallDisk(disk, env="hf", config=make_config())
        acked = []
        try:
            srv.start()
            st, _, b = srv.request("GET", "/api/health")
            eq(st, 200, "health before (body %r)" % b)
            filled = disk.fill()
            check(filled > 0, "the filesystem took a filler")
            refused = None
            for i in range(5000):
                oid = "full-%d" % i
                st, _, b = srv.request("POST", "/api/orders", dict(order(oid), orderId=oid))
                if st == 202:
                    acked.append(oid)
                    continue
                eq(st, 503, "a refused write on a full disk: %d %r" % (st, b))
                refused = oid
                break
            check(refused, "a write was refused within 5000 orders on a full disk")
            print("full disk: %d orders still fit in blocks SQLite owned, then 503" % len(acked))
            st, _, _ = srv.request("GET", "/ready")
            eq(st, 503, "ready after a failed commit")
            st, _, b = srv.request("GET", "/health")
            eq(st, 200, "liveness on a full disk")
            st, _, b = srv.request("GET", "/api/health")
            eq(st, 503, "health on a full disk (body %r)" % b)
            comps = check_shape(b, "degraded")
            eq((comps["database"]["status"], comps["database"]["writable"]), ("disconnected", False),
               "database %r" % comps["database"])
            eq(b["database"], {"status": "disconnected"}, "seed 004's database")
            for oid in acked[-3:]:
                eq(srv.request("GET", "/api/orders/" + oid)[0], 200, "reads on a full disk")
            disk.free()
            end = time.time() + 10          # no write happens: /ready's probe finds the recovery
            while time.time() < end and srv.request("GET", "/ready")[0] != 200:
                time.sleep(0.05)
            eq(srv.request("GET", "/ready")[0], 200, "ready after the disk has room again")
            st, _, b = srv.request("GET", "/api/health")
            eq(st, 200, "health after (body %r)" % b)
            st, _, b = srv.request("POST", "/api/orders", dict(order("after"), orderId="after"))
            eq(st, 202, "an order after the recovery (body %r)" % b)
            acked.append("after")
            srv.restart()   # kill -9, same filesystem
            for oid in acked:
                eq(srv.request("GET", "/api/orders/" + oid)[0], 200, "acknowledged %s after a restart" % oid)
            eq(srv.request("GET", "/api/orders/" + refused)[0], 404, "the refused order does not exist")
            print("acked %d, present %d, lost 0" % (len(acked), len(acked)))
        finally:
            eq(srv.stop(), 0, "exit code (log %s)" % srv.log_tail())
            disk.close()
            shutil.rmtree(d, ignore_errors=True)
else:
    def test_degraded_when_the_database_is_down():
        srv = Server(env="hf", config=make_config())
        srv.start()
        pg = pg_cluster()
        try:
            st, _, b = srv.request("GET", "/api/health")
            eq(st, 200, "health before (body %r)" % b)
            pg.stop("immediate")
            try:
                check_degraded(srv, "down-1")
            finally:
                pg.start()
            check_recovered(srv, "down-1")
        finally:
            eq(srv.stop(), 0, "exit code (log %s)" % srv.log_tail())


run(globals())
