"""t760_console_api.py - the server side of the web console, over HTTP:

- GET /api/stream (Server-Sent Events): an order's status changes arrive in
  order, metrics samples arrive, Last-Event-ID resumes where a client
  stopped (and an unknown or too old id gets a reset event), the number of
  streams is bounded (64 open, the 65th gets 503 and a freed slot serves
  again), parked streams hold no thread (requests are served with 64 streams
  open on 2 HTTP threads), SIGTERM ends every stream and the drain finishes.
- GET /api/metrics/history: columnar samples, minutes 1..60.
- GET /api/queues/{name}/messages: browse a DLQ without receiving (nothing
  changes), the order each message concerns, paging, limit 1..100.
- POST /api/queues/{name}/redrive {"messageIds"}: only those move; notMoved;
  1..1000 distinct ids.
- GET /api/events: search by order id, detail-type, source, time window;
  limit 1..200; paging.
- GET /api/functions.
- Console files: security headers, gzip, ETag/304, SPA fallback, 404s.
"""
import json
import os
import signal
import socket
import time

from harness import Server, Shared, check, eq, ok, run, shipped_config, uniq, wait_for


def fast_config():
    cfg = shipped_config()
    for q in cfg["queues"]:
        if "RedrivePolicy" in q.get("attributes", {}):
            q["attributes"]["VisibilityTimeout"] = 2
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 200}
    return cfg


srv = Shared(env="cs", config=fast_config())


# ---- a small SSE client -----------------------------------------------------------


class Sse:
    """A raw HTTP/1.1 GET /api/stream; events() parses what arrived."""

    def __init__(self, server, last_event_id=None, timeout=10, auth=True):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        hdr = "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n" % server.port
        if auth:
            hdr += "Authorization: Bearer %s\r\n" % (auth if isinstance(auth, str) else server.token())
        if last_event_id:
            hdr += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.status = None
        self.headers = {}
        self.body = b""
        self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("stream closed before headers: %r" % self.buf)
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for l in lines[1:]:
            k, v = l.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    def _dechunk(self):
        # chunked transfer: size CRLF data CRLF
        while True:
            if b"\r\n" not in self.buf:
                return
            size_s, rest = self.buf.split(b"\r\n", 1)
            size = int(size_s.split(b";")[0], 16)
            if size == 0:
                self.closed = True
                self.buf = b""
                return
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.buf = rest[size + 2:]

    def pump(self, seconds):
        """Reads for up to seconds (or until the server closes)."""
        end = time.time() + seconds
        self.closed = getattr(self, "closed", False)
        self._dechunk()
        while time.time() < end and not self.closed:
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
            self._dechunk()
        return self

    def events(self):
        out = []
        for block in self.body.decode().split("\n\n"):
            ev = {"comments": []}
            for line in block.split("\n"):
                if line.startswith(":"):
                    ev["comments"].append(line[1:].strip())
                elif ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
            if len(ev) > 1 or ev["comments"]:
                out.append(ev)
        return out

    def wait(self, what, pred, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            got = [e for e in self.events() if pred(e)]
            if got:
                return got
            self.pump(0.2)
            if self.closed:
                break
        raise AssertionError("stream: timed out waiting for %s; got %r" % (what, self.events()[-5:]))

    def close(self):
        self.sock.close()


def product(s, stock=1000000):
    sku = uniq("cs")
    ok(s, "POST", "/api/products", {"sku": sku, "name": "console test", "priceCents": 100, "stock": stock}, want=201)
    return sku


def order(s, items, customer="c-1", token=None):
    body = {"customerId": customer, "items": items}
    if token:
        body["payment"] = {"token": token}
    return ok(s, "POST", "/api/orders", body, want=202)["orderId"]


def order_events(stream, oid):
    return [e["json"] for e in stream.events() if e.get("event") == "order" and e["json"]["orderId"] == oid]


# ---- stream -------------------------------------------------------------------------


def test_stream_carries_an_orders_status_changes_in_order():
    s = srv()
    st = Sse(s)
    eq(st.status, 200, "status")
    check(st.headers["content-type"].startswith("text/event-stream"), st.headers)
    eq(st.headers.get("cache-control"), "no-cache, no-store", "cache-control")
    st.pump(0.3)
    check(st.body.startswith(b"retry: 3000\n"), "stream starts with retry: %r" % st.body[:40])
    oid = order(s, [{"sku": product(s), "qty": 1}], customer="stream-c")
    st.wait("COMPLETED", lambda e: e.get("event") == "order" and e["json"]["orderId"] == oid
            and e["json"]["status"] == "COMPLETED")
    got = order_events(st, oid)
    eq([e["status"] for e in got if e["status"]], ["PENDING", "RESERVED", "COMPLETED"], "statuses in order")
    eq([e["type"] for e in got][:3], ["OrderCreated", "PaymentRequested", "OrderCompleted"], "types")
    check(all(e["customerId"] == "stream-c" for e in got[:3]), "customerId carried: %r" % got)
    ids = [e["id"] for e in st.events() if "id" in e]
    nums = [int(i.split(".")[1]) for i in ids]
    eq(nums, sorted(nums), "ids increase")
    eq(len(set(i.split(".")[0] for i in ids)), 1, "one boot prefix")
    st.close()


def test_stream_sends_metrics_samples():
    st = Sse(srv())
    got = st.wait("a metrics event", lambda e: e.get("event") == "metrics", timeout=12)
    row = got[0]["json"]
    for k in ("t", "ordersPerSec", "completionsPerSec", "latencyP99Ms", "dlqDepth", "commitBatchSize",
              "queueVisible", "queueInFlight"):
        check(k in row, "metrics row has %s: %r" % (k, row))
    eq(len(row["queueVisible"]), len(ok(srv(), "GET", "/api/queues")["queues"]), "a depth per queue")
    st.close()


def test_last_event_id_resumes_and_unknown_ids_reset():
    s = srv()
    st = Sse(s)
    sku = product(s)
    first = order(s, [{"sku": sku, "qty": 1}], customer="resume-1")
    st.wait("first order", lambda e: e.get("event") == "order" and e["json"]["orderId"] == first
            and e["json"]["status"] == "COMPLETED")
    last_id = [e for e in st.events() if e.get("event") == "order"][-1]["id"]
    st.close()
    # events while nobody listens are still kept (LIMIT_STREAM_RETAIN_S)
    second = order(s, [{"sku": sku, "qty": 1}], customer="resume-2")
    wait_for("second completed", lambda: ok(s, "GET", "/api/orders/" + second)["status"] == "COMPLETED")
    again = Sse(s, last_event_id=last_id)
    again.wait("missed events", lambda e: e.get("event") == "order" and e["json"]["orderId"] == second
               and e["json"]["status"] == "COMPLETED")
    check(not order_events(again, first), "nothing before Last-Event-ID is repeated")
    eq([e.get("event") for e in again.events() if e.get("event") == "reset"], [], "no reset")
    again.close()
    for bad in ("nope", "zzz.1", last_id.split(".")[0] + ".999999999"):
        b = Sse(s, last_event_id=bad)
        got = b.wait("reset for %s" % bad, lambda e: e.get("event") == "reset", timeout=5)
        check("reason" in got[0]["json"], got[0])
        b.close()


def test_a_client_more_than_the_ring_behind_gets_reset():
    s = srv()
    st = Sse(s)
    mark = order(s, [{"sku": product(s), "qty": 1}], customer="ring-mark")
    st.wait("mark", lambda e: e.get("event") == "order" and e["json"]["orderId"] == mark)
    old_id = [e for e in st.events() if e.get("event") == "order"][0]["id"]
    st.close()
    # > LIMIT_STREAM_RING (1024) events: each order makes 4 or more
    sku = product(s)
    c = s.conn()
    from harness import do_request
    last = None
    for i in range(300):
        stt, _, b = do_request(c, "POST", "/api/orders", {"customerId": "ring", "items": [{"sku": sku, "qty": 1}]})
        eq(stt, 202, "order %d" % i)
        last = b["orderId"]
    c.close()
    wait_for("last completed", lambda: ok(s, "GET", "/api/orders/" + last)["status"] == "COMPLETED", timeout=60)
    late = Sse(s, last_event_id=old_id)
    got = late.wait("reset", lambda e: e.get("event") == "reset", timeout=5)
    check("behind" in got[0]["json"]["reason"], got[0]["json"])
    late.close()


def test_streams_are_bounded_and_hold_no_thread():
    # its own server: 2 HTTP threads, the default
    with Server(env="sl", config=fast_config()) as s:
        streams = [Sse(s) for _ in range(64)]
        for st in streams:
            eq(st.status, 200, "stream within the limit")
        # 64 parked streams on 2 threads: ordinary requests are still served at once
        t0 = time.time()
        for _ in range(20):
            ok(s, "GET", "/api/queues")
        check(time.time() - t0 < 10, "requests served while 64 streams are open")
        st, h, b = s.request("GET", "/api/stream", timeout=5)
        eq(st, 503, "65th stream refused")
        eq(b["type"].rsplit("/", 1)[1], "overloaded", "problem type")
        check("retry-after" in h, "Retry-After: %r" % h)
        streams[0].close()
        # the closed stream's slot is freed when the server next writes to it (any event)
        order(s, [{"sku": "prod-001", "qty": 1}])
        def slot_free():
            try:
                x = Sse(s, timeout=3)
            except OSError:
                return None
            if x.status == 200:
                return x
            x.close()
            return None
        extra = wait_for("a freed stream slot", slot_free, timeout=20, interval=0.3)
        # SIGTERM: every stream ends, the drain finishes, exit 0
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        code = s.proc.wait(timeout=30)
        eq(code, 0, "exit code")
        check(time.time() - t0 < 10, "drained within http.drainSeconds (%.1fs)" % (time.time() - t0))
        for st in streams[1:] + [extra]:
            st.pump(1)
            check(st.closed, "stream ended by the drain")


def test_stream_needs_credentials_and_filters_a_customers_events():
    s = srv()
    anon = Sse(s, auth=False)
    eq(anon.status, 401, "a stream without credentials")
    anon.close()
    name = uniq("cust").replace("-", "")
    ok(s, "POST", "/api/users", {"username": name, "password": "pw-" + name + "-long", "role": "customer"}, want=201)
    st, _, b = s.request("POST", "/api/login", {"username": name, "password": "pw-" + name + "-long"}, auth=False)
    eq(st, 200, "customer login")
    cust = Sse(s, auth=b["accessToken"])
    staff = Sse(s)
    eq((cust.status, staff.status), (200, 200), "streams open")
    sku = product(s)
    mine = ok(s, "POST", "/api/orders", {"customerId": name, "items": [{"sku": sku, "qty": 1}]}, want=202)["orderId"]
    other = order(s, [{"sku": sku, "qty": 1}], customer="someone-else")
    staff.wait("the other order completed", lambda e: e.get("event") == "order" and e["json"]["orderId"] == other
               and e["json"]["status"] == "COMPLETED")
    staff.wait("a metrics event", lambda e: e.get("event") == "metrics", timeout=12)
    cust.wait("its order completed", lambda e: e.get("event") == "order" and e["json"]["orderId"] == mine
              and e["json"]["status"] == "COMPLETED")
    cust.pump(1)
    kinds = {e.get("event") for e in cust.events() if "event" in e}
    eq(kinds, {"order"}, "a customer gets order events only")
    eq({e["json"]["customerId"] for e in cust.events() if e.get("event") == "order"}, {name}, "its own orders only")
    cust.close()
    staff.close()


# ---- history ---------------------------------------------------------------------------


def test_metrics_history():
    s = srv()
    order(s, [{"sku": "prod-002", "qty": 1}])
    h = wait_for("two samples", lambda: (lambda j: j if len(j["series"]["t"]) >= 2 else None)(
        ok(s, "GET", "/api/metrics/history")), timeout=15)
    eq(h["intervalSeconds"], 5, "interval")
    eq(h["minutes"], 15, "default minutes")
    n = len(h["series"]["t"])
    for k, v in h["series"].items():
        eq(len(v), n, "series %s length" % k)
    names = [q["name"] for q in ok(s, "GET", "/api/queues")["queues"]]
    eq([q["name"] for q in h["queues"]], names, "queues")
    for q in h["queues"]:
        eq(len(q["visible"]), n, "queue series length")
    check(h["series"]["t"] == sorted(h["series"]["t"]), "time ordered")
    check(any(v is not None for v in h["series"]["commitsPerSec"]), "rates computed")
    eq(ok(s, "GET", "/api/metrics/history?minutes=60")["minutes"], 60, "minutes 60")
    eq(ok(s, "GET", "/api/metrics/history?minutes=1")["minutes"], 1, "minutes 1")
    for bad in ("0", "61", "x", ""):
        st, _, b = s.request("GET", "/api/metrics/history?minutes=" + bad)
        eq(st, 400, "minutes=%r" % bad)
        check("minutes" in b["detail"], b)


# ---- browse and selective redrive ------------------------------------------------------------


def dead_letters(s, n):
    ids = [order(s, [{"sku": "FAIL-ME", "qty": 1}], customer="dlq-c") for _ in range(n)]
    for oid in ids:
        wait_for("FAILED " + oid, lambda: ok(s, "GET", "/api/orders/" + oid)["status"] == "FAILED", timeout=30)
    return ids


def browse(s, q, qs=""):
    return ok(s, "GET", "/api/queues/%s/messages%s" % (q, qs))


def test_browse_dlq_without_receiving_then_redrive_selected():
    s = srv()
    ok(s, "POST", "/api/queues/cs-orders-dlq/purge")
    ids = dead_letters(s, 3)
    before = ok(s, "GET", "/api/queues/cs-orders-dlq")["stats"]
    page = browse(s, "cs-orders-dlq")
    eq(page["deadLetterQueue"], True, "is a DLQ")
    msgs = page["messages"]
    eq(sorted(m["orderId"] for m in msgs), sorted(ids), "the orders they concern")
    for m in msgs:
        eq(m["state"], "visible", "state")
        eq(m["sourceQueue"], "cs-orders", "source queue")
        eq(m["receiveCount"], 0, "receive count in the DLQ")
        check(m["movedAt"] and m["sentAt"], m)
        env = json.loads(m["body"])
        eq(env["detail-type"], "OrderCreated", "body is the envelope")
        eq(m["bodyTruncated"], False, "not cut")
    # browsing changed nothing
    again = browse(s, "cs-orders-dlq")
    eq([(m["messageId"], m["receiveCount"]) for m in again["messages"]],
       [(m["messageId"], m["receiveCount"]) for m in msgs], "browse is repeatable")
    after = ok(s, "GET", "/api/queues/cs-orders-dlq")["stats"]
    eq((after["visible"], after["inFlight"], after["received"]),
       (before["visible"], before["inFlight"], before["received"]), "stats unchanged")
    # paging
    p1 = browse(s, "cs-orders-dlq", "?limit=2")
    eq(len(p1["messages"]), 2, "page 1")
    p2 = browse(s, "cs-orders-dlq", "?limit=2&cursor=" + p1["nextCursor"])
    eq([m["messageId"] for m in p1["messages"] + p2["messages"]], [m["messageId"] for m in msgs], "pages")
    check("nextCursor" not in p2, "last page")
    eq(len(browse(s, "cs-orders-dlq", "?limit=100")["messages"]), 3, "limit 100")
    for bad in ("?limit=101", "?limit=0", "?limit=x", "?cursor=x", "?cursor=-1"):
        st, _, b = s.request("GET", "/api/queues/cs-orders-dlq/messages" + bad)
        eq(st, 400, bad)
    st, _, _ = s.request("GET", "/api/queues/no-such-queue/messages")
    eq(st, 404, "unknown queue")
    # redrive one of them by id
    pick = msgs[0]
    r = ok(s, "POST", "/api/queues/cs-orders-dlq/redrive", {"messageIds": [pick["messageId"], "not-a-message"]})
    eq((r["moved"], r["notMoved"]), (1, ["not-a-message"]), "selected redrive")
    left = [m["messageId"] for m in browse(s, "cs-orders-dlq")["messages"]]
    check(pick["messageId"] not in left and len(left) == 2, "the others stay: %r" % left)
    # the redriven order fails again (FAIL-ME) after 5 more attempts
    wait_for("attempts 10", lambda: ok(s, "GET", "/api/orders/" + pick["orderId"])["attempts"] == 10, timeout=30)
    # and its message is back in the DLQ (the move follows the last attempt):
    # the next test compares the DLQ before and after
    wait_for("back in the DLQ", lambda: len(browse(s, "cs-orders-dlq")["messages"]) == 3, timeout=30)


def test_redrive_ids_validation_changes_nothing():
    s = srv()
    q = "/api/queues/cs-orders-dlq"
    before = [m["messageId"] for m in browse(s, "cs-orders-dlq", "?limit=100")["messages"]]
    for body, field in (({"messageIds": []}, "messageIds"),
                        ({"messageIds": ["a"] * 2}, "messageIds[1]"),
                        ({"messageIds": "a"}, "messageIds"),
                        ({"messageIds": [1]}, "messageIds[0]"),
                        ({"messageIds": ["x%d" % i for i in range(1001)]}, "messageIds"),
                        ({"messageIds": ["a"], "maxMessages": 1}, "messageIds")):
        st, _, b = s.request("POST", q + "/redrive", body)
        eq(st, 422, "body %s" % str(body)[:60])
        check(any(e["field"] == field for e in b["errors"]), "field %s in %r" % (field, b["errors"]))
    r = ok(s, "POST", q + "/redrive", {"messageIds": ["x%d" % i for i in range(1000)]})
    eq((r["moved"], len(r["notMoved"])), (0, 1000), "1000 ids are accepted")
    eq([m["messageId"] for m in browse(s, "cs-orders-dlq", "?limit=100")["messages"]], before, "nothing moved")


def test_browse_cuts_bodies_at_64_kib():
    s = srv()
    q = uniq("cs-big")
    ok(s, "POST", "/api/queues", {"name": q}, want=201)
    limit = 65536  # LIMIT_BROWSE_BODY_BYTES
    ok(s, "POST", "/api/queues/%s/messages" % q, {"body": "a" * limit})
    ok(s, "POST", "/api/queues/%s/messages" % q, {"body": "b" * (limit + 1)})
    m = browse(s, q)["messages"]
    eq((len(m[0]["body"]), m[0]["bodySize"], m[0]["bodyTruncated"]), (limit, limit, False), "a body of 64 KiB")
    eq((len(m[1]["body"]), m[1]["bodySize"], m[1]["bodyTruncated"]), (limit, limit + 1, True), "64 KiB + 1 is cut")
    eq(m[1]["orderId"], None, "no order")


def test_history_keeps_the_first_16_queues():
    # its own server: the shipped topology has 6 queues; 10 more make 16, one more 17
    with Server(env="hq", config=fast_config()) as s:
        for i in range(10):
            ok(s, "POST", "/api/queues", {"name": "hq-extra-%02d" % i}, want=201)
        wait_for("a sample with 16 queues", lambda: len(ok(s, "GET", "/api/metrics/history")["queues"]) == 16, timeout=15)
        ok(s, "POST", "/api/queues", {"name": "hq-extra-17"}, want=201)
        time.sleep(0.2)
        names = [q["name"] for q in ok(s, "GET", "/api/metrics/history")["queues"]]
        eq(len(names), 16, "LIMIT_HISTORY_QUEUES_MAX")
        check("hq-extra-17" not in names, "the 17th queue is left out")


# ---- events search ---------------------------------------------------------------------------------


def test_events_search():
    s = srv()
    t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    oid = order(s, [{"sku": product(s), "qty": 1}], customer="ev-c")
    wait_for("completed", lambda: ok(s, "GET", "/api/orders/" + oid)["status"] == "COMPLETED")
    tl = ok(s, "GET", "/api/events?orderId=" + oid)["events"]
    types = [e["detailType"] for e in tl]
    eq(types[-1], "OrderCreated", "oldest last (newest first)")
    check({"OrderCreated", "PaymentRequested", "OrderCompleted"} <= set(types), types)
    for e in tl:
        eq(e["orderId"], oid, "orderId")
        eq(e["event"]["id"], e["id"], "envelope")
    only = ok(s, "GET", "/api/events?orderId=%s&detailType=OrderCompleted" % oid)["events"]
    eq([e["detailType"] for e in only], ["OrderCompleted"], "detailType filter")
    alarms = ok(s, "GET", "/api/events?source=orderly.alarms&limit=5")["events"]
    check(all(e["source"] == "orderly.alarms" for e in alarms), "source filter")
    win = ok(s, "GET", "/api/events?from=%s&limit=200" % t0)["events"]
    check(oid in {e["orderId"] for e in win}, "time window holds the order")
    future = ok(s, "GET", "/api/events?from=2099-01-01T00:00:00Z&to=2099-01-02T00:00:00Z")["events"]
    eq(future, [], "empty window")
    # paging: newest first, keyset
    p1 = ok(s, "GET", "/api/events?limit=2")
    p2 = ok(s, "GET", "/api/events?limit=2&cursor=" + p1["nextCursor"])
    check(p1["events"][1]["position"] > p2["events"][0]["position"], "pages continue")
    for bad in ("limit=0", "limit=201", "from=yesterday", "to=x", "from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
                "cursor=0", "source=", "detailType="):
        st, _, b = s.request("GET", "/api/events?" + bad)
        eq(st, 400, bad)
    eq(len(ok(s, "GET", "/api/events?limit=200")["events"]) <= 200, True, "limit 200")


def test_functions_list():
    fns = ok(srv(), "GET", "/api/functions")["functions"]
    eq([f["name"] for f in fns], ["order-processor", "payment-processor", "notification-processor"], "names")
    f = fns[0]
    eq((f["queue"], f["backoff"]["baseMs"], f["enabled"]), ("cs-orders", 50, True), "settings")
    for k in ("invocations", "records", "errors", "duplicates", "averageDurationMs", "pollers", "pollersRunning"):
        check(k in f["stats"], "stats.%s" % k)


# ---- console files -------------------------------------------------------------------------------------

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def check_security(h, what):
    csp = h.get("content-security-policy", "")
    for d in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
              "base-uri 'none'"):
        check(d in csp, "%s: CSP has %s: %r" % (what, d, csp))
    check("unsafe-inline" not in csp and "unsafe-eval" not in csp, what + ": no unsafe-*")
    for k, v in SECURITY.items():
        eq(h.get(k), v, what + " " + k)
    check("camera=()" in h.get("permissions-policy", ""), what + " permissions-policy")


def test_console_files_and_headers():
    s = srv()
    st, h, body = s.request("GET", "/")
    eq(st, 200, "GET /")
    check(h["content-type"].startswith("text/html"), h["content-type"])
    eq(h["cache-control"], "no-cache", "index not cached")
    check_security(h, "index")
    import re
    check(not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "no inline script in index.html")
    st, h2, _ = s.request("GET", "/", headers={"If-None-Match": h["etag"]})
    eq(st, 304, "ETag revalidation")
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', body)
    check(assets, "index names assets")
    for a in assets:
        st, ah, data = s.request("GET", a, headers={"Accept-Encoding": "gzip"})
        eq(st, 200, a)
        eq(ah["cache-control"], "public, max-age=31536000, immutable", a + " cache")
        check_security(ah, a)
        if a.endswith(".js") and ah.get("content-encoding"):
            eq(ah["content-encoding"], "gzip", a)
            eq(ah.get("vary"), "Accept-Encoding", "vary")
    for page in ("/orders", "/orders/abc", "/inventory", "/queues/cs-orders-dlq", "/events", "/new"):
        st, ph, pb = s.request("GET", page)
        eq(st, 200, "page " + page)
        eq(pb, body, "page %s is index.html" % page)
        check_security(ph, page)
    for nope in ("/nope", "/assets/nope.js", "/orders/a/b/c", "/inventory.txt", "/api/nope"):
        st, _, _ = s.request("GET", nope)
        eq(st, 404, nope)
    st, h, doc = s.request("GET", "/api/openapi.json")
    eq(st, 200, "openapi")
    check(doc["openapi"].startswith("3.1"), "openapi 3.1")


if __name__ == "__main__":
    run(globals())
