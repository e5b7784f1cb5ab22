"""t700: GET /metrics on a live server (issue 4, item 1).

One server with the shipped topology (short backoff) gets known traffic:
orders that complete, are declined, run out of stock and fail (FAIL-ME, five
deliveries then the DLQ), queue sends/receives/deletes and a 404.  Then
/metrics must pass `promtool check metrics` without a single problem and its
series must hold exactly the values that traffic implies.  promtool comes
from the Debian package prometheus (scripts/install-deps.sh); without it the
promtool test is skipped, except under CI=true, where it fails.
"""
import json
import os
import re
import shutil
import subprocess
import time
from harness import SRC, Shared, run, check, eq, shipped_config

SKU = "mx-sku"
QUEUE = "t700"
CONTRACT = """
orderly_build_info orderly_uptime_seconds process_resident_memory_bytes process_start_time_seconds
orderly_http_connections_open orderly_http_requests_total orderly_http_request_duration_seconds
orderly_orders_created_total orderly_orders_finished_total orderly_orders
orderly_events_published_total orderly_events_matched_total
orderly_queue_messages_visible orderly_queue_messages_in_flight orderly_queue_messages_delayed
orderly_queue_oldest_message_age_seconds orderly_queue_messages_sent_total orderly_queue_messages_received_total
orderly_queue_messages_deleted_total orderly_queue_messages_moved_to_dlq_total orderly_queue_dlq_messages_visible
orderly_function_invocations_total orderly_function_errors_total orderly_function_duplicates_total
orderly_function_duration_seconds orderly_function_batch_size
orderly_payments_total orderly_inventory_stock orderly_inventory_reserved orderly_inventory_available
orderly_stock_reservations_total orderly_inventory_operations_total
orderly_store_commit_batch_size orderly_store_commit_seconds orderly_store_units_total
orderly_metrics_series_dropped_total
""".split()


def make_config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    for q in cfg["queues"]:
        if "RedrivePolicy" in q.get("attributes", {}):
            q["attributes"]["VisibilityTimeout"] = 2
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 200}
    cfg["queues"].append({"name": QUEUE})
    return cfg


state = {}


def traffic(srv):
    """The known traffic, once, before any test looks at /metrics."""
    def ok(method, path, body=None, want=200):
        st, _, b = srv.request(method, path, body)
        eq(st, want, "%s %s (answer %s)" % (method, path, str(b)[:300]))
        return b

    ok("POST", "/api/products", {"sku": SKU, "name": "metrics", "priceCents": 100, "stock": 10}, 201)
    orders = {}

    def order(items, token=None):
        body = {"customerId": "mx-customer", "items": items}
        if token:
            body["payment"] = {"token": token}
        return ok("POST", "/api/orders", body, 202)["orderId"]

    for i in range(3):
        orders["ok%d" % i] = order([{"sku": SKU, "qty": 2}])
    orders["declined"] = order([{"sku": SKU, "qty": 1}], token="tok_chargeDeclined")
    orders["short"] = order([{"sku": SKU, "qty": 100}])
    orders["failme"] = order([{"sku": "FAIL-ME", "qty": 1}])
    want = {"ok0": "COMPLETED", "ok1": "COMPLETED", "ok2": "COMPLETED", "declined": "PAYMENT_FAILED",
            "short": "REJECTED", "failme": "FAILED"}
    end = time.time() + 30
    for k, oid in orders.items():
        while True:
            st = ok("GET", "/api/orders/" + oid)["status"]
            if st == want[k]:
                break
            check(time.time() < end, "order %s (%s) stuck in %s" % (k, oid, st))
            time.sleep(0.05)

    # every function queue idle: the function counters are final
    for name in ("orders", "payments", "notifications"):
        while True:
            s = ok("GET", "/api/queues/mx-%s" % name)["stats"]
            if s["visible"] == 0 and s["inFlight"] == 0 and s["delayed"] == 0:
                break
            check(time.time() < end, "queue %s not idle: %r" % (name, s))
            time.sleep(0.05)

    q = "/api/queues/mx-%s" % QUEUE
    for i in range(3):
        ok("POST", q + "/messages", {"body": "m%d" % i})
    got = ok("POST", q + "/receive", {"maxNumberOfMessages": 10, "visibilityTimeout": 600})["messages"]
    eq(len(got), 3, "received")
    for m in got[:2]:
        ok("DELETE", q + "/messages/" + m["receiptHandle"], want=204)
    st, _, _ = srv.request("GET", "/api/no-such-thing")
    eq(st, 404, "unknown path")
    state["orders"] = orders


srv = Shared(env="mx", config=make_config(), on_start=traffic)


# ---- the exposition ----------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse(text):
    """{name: [(labels dict, value)]} and {name: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, "unparsable line %r" % line)
        labels = {}
        if m.group(2):
            pos = 0
            for lm in LABEL.finditer(m.group(2)):
                eq(lm.start(), pos, "label syntax in %r" % line)
                labels[lm.group(1)] = unescape(lm.group(2))
                pos = lm.end()
            eq(pos, len(m.group(2)), "labels of %r" % line)
        samples.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return samples, types


def scrape():
    st, h, body = srv.request("GET", "/metrics")
    eq(st, 200, "GET /metrics")
    eq(h.get("content-type"), "text/plain; version=0.0.4; charset=utf-8", "content type")
    eq(h.get("cache-control"), "no-cache", "cache control")
    return body


def value(samples, name, **labels):
    found = [v for l, v in samples.get(name, []) if l == labels]
    eq(len(found), 1, "series %s%r (have %r)" % (name, labels, [l for l, _ in samples.get(name, [])][:20]))
    return found[0]


def total(samples, name, **match):
    return sum(v for l, v in samples.get(name, []) if all(l.get(k) == w for k, w in match.items()))


# ---- tests -------------------------------------------------------------------------


def test_promtool_check_metrics():
    promtool = shutil.which("promtool")
    if not promtool:
        check(os.environ.get("CI") != "true", "promtool is missing (install-deps.sh installs prometheus)")
        print("SKIP promtool is not installed")
        return
    text = scrape()
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode()
    eq(p.returncode, 0, "promtool exit status (output %r)" % out)
    eq(out.strip(), "", "promtool reports problems")


def test_every_contract_metric_is_exposed():
    samples, types = parse(scrape())
    missing = [n for n in CONTRACT if n not in types]
    eq(missing, [], "metrics of the shared contract not exposed")
    for n in ("orderly_http_request_duration_seconds", "orderly_function_duration_seconds",
              "orderly_function_batch_size", "orderly_store_commit_batch_size", "orderly_store_commit_seconds"):
        eq(types[n], "histogram", n + " type")
    for n in CONTRACT:
        if n.endswith("_total"):
            eq(types[n], "counter", n + " type")
    eq(value(samples, "orderly_metrics_series_dropped_total"), 0, "series dropped")


def test_order_series():
    s, _ = parse(scrape())
    eq(value(s, "orderly_orders_created_total"), 6, "orders created")
    fin = {(l["status"], l["reason"]): v for l, v in s["orderly_orders_finished_total"]}
    eq({k: v for k, v in fin.items() if v}, {("COMPLETED", ""): 3, ("PAYMENT_FAILED", "card_declined"): 1,
                                             ("REJECTED", "out_of_stock"): 1, ("FAILED", "dead_lettered"): 1},
       "orders finished")
    by = {l["status"]: v for l, v in s["orderly_orders"]}
    eq({k: v for k, v in by.items() if v}, {"COMPLETED": 3, "PAYMENT_FAILED": 1, "REJECTED": 1, "FAILED": 1},
       "orders by status")
    eq(by.get("PENDING"), 0, "orders PENDING series present and zero")
    pay = {l["outcome"]: v for l, v in s["orderly_payments_total"]}
    eq(pay, {"captured": 3, "declined": 1, "failed_transient": 0}, "payments")
    res = {l["status"]: v for l, v in s["orderly_stock_reservations_total"]}
    eq(res, {"success": 4, "insufficient_stock": 1}, "stock reservations")
    ops = {(l["operation_type"], l["status"]): v for l, v in s["orderly_inventory_operations_total"]}
    eq(ops, {("reserve", "success"): 4, ("reserve", "failure"): 1, ("release", "success"): 1,
             ("release", "failure"): 0, ("decrement_stock", "success"): 3, ("decrement_stock", "failure"): 0},
       "inventory operations")
    # 10 - 3 x 2 sold; the declined order's unit was released
    eq(value(s, "orderly_inventory_stock", sku=SKU), 4, "stock")
    eq(value(s, "orderly_inventory_reserved", sku=SKU), 0, "reserved")
    eq(value(s, "orderly_inventory_available", sku=SKU), 4, "available")
    # the LIMIT_METRICS_SKUS_MAX least available skus are listed (here: every product); the
    # series keep the order of their first collection, which the alarm evaluator may do early
    st, _, products = srv.request("GET", "/api/products")
    eq(st, 200, "GET /api/products")
    plist = products["products"] if isinstance(products, dict) else products
    eq(sorted(l["sku"] for l, _ in s["orderly_inventory_available"]), sorted(p["sku"] for p in plist),
       "every sku listed (fewer than the bound)")
    eq(value(s, "orderly_events_matched_total", rule="order-created"), 6, "rule order-created matched")
    check(value(s, "orderly_events_published_total") >= 6 + 4 + 6, "events published")


def test_queue_series():
    s, _ = parse(scrape())
    q = "mx-" + QUEUE
    eq(value(s, "orderly_queue_messages_sent_total", queue=q), 3, "sent")
    eq(value(s, "orderly_queue_messages_received_total", queue=q), 3, "received")
    eq(value(s, "orderly_queue_messages_deleted_total", queue=q), 2, "deleted")
    eq(value(s, "orderly_queue_messages_in_flight", queue=q), 1, "in flight")
    eq(value(s, "orderly_queue_messages_visible", queue=q), 0, "visible")
    eq(value(s, "orderly_queue_messages_delayed", queue=q), 0, "delayed")
    check(value(s, "orderly_queue_oldest_message_age_seconds", queue=q) >= 0, "oldest age")
    # FAIL-ME: 5 deliveries, then moved to the DLQ
    eq(value(s, "orderly_queue_messages_moved_to_dlq_total", queue="mx-orders"), 1, "moved to DLQ")
    eq(value(s, "orderly_queue_messages_received_total", queue="mx-orders"), 6 + 5 - 1, "orders deliveries")
    eq(value(s, "orderly_queue_messages_visible", queue="mx-orders-dlq"), 1, "DLQ visible")
    eq(value(s, "orderly_queue_dlq_messages_visible", queue="mx-orders", dlq="mx-orders-dlq"), 1, "DLQ of orders")
    eq(value(s, "orderly_queue_dlq_messages_visible", queue="mx-payments", dlq="mx-payments-dlq"), 0, "DLQ of payments")
    eq(value(s, "orderly_function_errors_total", function="order-processor"), 5, "order-processor errors")
    eq(value(s, "orderly_function_errors_total", function="payment-processor"), 0, "payment-processor errors")
    eq(value(s, "orderly_function_duplicates_total", function="order-processor"), 0, "duplicates")
    for fn in ("order-processor", "payment-processor", "notification-processor"):
        inv = value(s, "orderly_function_invocations_total", function=fn)
        check(inv >= 1, fn + " invoked")
        eq(value(s, "orderly_function_duration_seconds_count", function=fn), inv, fn + " duration count")
        eq(value(s, "orderly_function_batch_size_count", function=fn), inv, fn + " batch size count")
    # records handed to order-processor: 6 orders + 4 failed retries of FAIL-ME
    eq(value(s, "orderly_function_batch_size_sum", function="order-processor"), 10, "order-processor records")


def test_http_series():
    s, _ = parse(scrape())
    eq(value(s, "orderly_http_requests_total", route="/api/orders", method="POST", code="202"), 6, "orders posted")
    eq(value(s, "orderly_http_requests_total", route="/api/products", method="POST", code="201"), 1, "product")
    eq(value(s, "orderly_http_requests_total", route="unmatched", method="GET", code="404"), 1, "404")
    eq(value(s, "orderly_http_requests_total", route="/api/queues/{name}/messages", method="POST", code="200"), 3,
       "queue sends")
    eq(value(s, "orderly_http_requests_total", route="/api/queues/{name}/messages/{receipt}", method="DELETE",
             code="204"), 2, "queue deletes")
    # each route's latency count = its requests, every method and code
    for route in ("/api/orders", "/api/orders/{id}", "/api/queues/{name}", "unmatched"):
        eq(value(s, "orderly_http_request_duration_seconds_count", route=route),
           total(s, "orderly_http_requests_total", route=route), route + " duration count")
    check(value(s, "orderly_http_connections_open") >= 1, "the scrape's own connection is open")
    # HEAD answers like GET, without a body; and is counted as HEAD
    st, h, body = srv.request("HEAD", "/metrics")
    eq((st, body), (200, ""), "HEAD /metrics")
    s, _ = parse(scrape())
    eq(value(s, "orderly_http_requests_total", route="/metrics", method="HEAD", code="200"), 1, "HEAD counted")


def test_histograms_cumulative():
    s, types = parse(scrape())
    n = 0
    for name, typ in types.items():
        if typ != "histogram":
            continue
        series = {}
        for l, v in s.get(name + "_bucket", []):
            key = tuple(sorted((k, w) for k, w in l.items() if k != "le"))
            series.setdefault(key, []).append((float(l["le"]), v))
        for key, buckets in series.items():
            les = [le for le, _ in buckets]
            eq(les, sorted(les), "%s%r bucket order" % (name, key))
            eq(les[-1], float("inf"), "%s%r ends with +Inf" % (name, key))
            counts = [v for _, v in buckets]
            eq(counts, sorted(counts), "%s%r buckets cumulative" % (name, key))
            labels = dict(key)
            eq(counts[-1], value(s, name + "_count", **labels), "%s%r +Inf = _count" % (name, key))
            check(value(s, name + "_sum", **labels) >= 0, "%s%r sum" % (name, key))
            n += 1
    check(n > 10, "histogram series checked: %d" % n)
    eq(value(s, "orderly_store_commit_batch_size_count"), value(s, "orderly_store_commit_seconds_count"),
       "one batch size and one commit time per commit")
    eq(value(s, "orderly_store_commit_batch_size_sum"), value(s, "orderly_store_units_total"), "units in batches")


def test_process_series():
    s, _ = parse(scrape())
    builds = s["orderly_build_info"]
    eq(len(builds), 1, "one build_info series")
    eq(builds[0][1], 1, "build_info value")
    check(re.match(r"^\d+\.\d+\.\d+", builds[0][0]["version"]), "version label %r" % builds[0][0])
    check(value(s, "process_resident_memory_bytes") > 1 << 20, "RSS above 1 MiB")
    up = value(s, "orderly_uptime_seconds")
    check(0 < up < 3600, "uptime %r" % up)
    start = value(s, "process_start_time_seconds")
    check(abs(start + up - time.time()) < 60, "start time %r + uptime %r is now" % (start, up))


run(globals())
