"""t600: the seeds' flows end to end against the real binary (issue 3).

Seed 000 (post-deploy test: an OrderPlaced event on the bus, forced payment
SUCCESS/FAILURE, stock/reserved arithmetic; the README's failed order), seed
001 (the POST /orders contract, FAIL-ME delivered 5 times then dead-lettered,
redrive, the same event twice), seed 004 (orders list, stats), and the order
system around them: cancel, expiry, payment tokens, business limits,
Idempotency-Key and orderId conflicts, order detail and timeline, products.

Servers (each with its own data dir, the shipped topology with short backoff):
  main   - everything enabled (plus a 'tap' queue that copies OrderCreated)
  nopay  - payment-processor disabled: orders stay RESERVED (cancel, 409s)
  expiry - payment-processor disabled, reservationTimeoutSeconds 1
  idle   - every function disabled: orders stay PENDING (stats queue_depth)
Every wait is a poll with a deadline.
"""
import copy
import json
import os
import random
import re
import time
from datetime import datetime, timezone
from harness import SRC, Shared, run, check, eq, is_problem, uniq, ok, wait_for, shipped_config, task_done

# RFC 9562 UUIDs: orderly issues time-ordered version 7 for ids that key
# indexed tables (orders, events); version 4 is accepted as seed 001 uses it
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")
MAX_UNITS = 500
MAX_VALUE = 2000000


def make_config(disable=(), **orders):
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    cfg["orders"].update(orders)
    for q in cfg["queues"]:
        attrs = q.setdefault("attributes", {})
        if "RedrivePolicy" in attrs:
            eq(attrs["RedrivePolicy"]["maxReceiveCount"], 5, "shipped maxReceiveCount of " + q["name"])
            attrs["VisibilityTimeout"] = 2
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 200}
        if fn["name"] in disable:
            fn["enabled"] = False
    return cfg


MAIN_CFG = make_config(maxUnitsPerOrder=MAX_UNITS, maxOrderValueCents=MAX_VALUE)
MAIN_CFG["queues"].append({"name": "tap"})
MAIN_CFG["rules"].append({"name": "tap-order-created",
                          "eventPattern": {"source": ["orderly.orders"], "detail-type": ["OrderCreated"]},
                          "targets": [{"queue": "tap"}]})

main = Shared(env="sd", config=MAIN_CFG)
nopay = Shared(env="np", config=make_config(disable=("payment-processor",)))
expiry = Shared(env="ex", config=make_config(disable=("payment-processor",), reservationTimeoutSeconds=1))
idle = Shared(env="id", config=make_config(disable=("order-processor", "payment-processor",
                                                    "notification-processor")))
ALL = (main, nopay, expiry, idle)


# ---- helpers -------------------------------------------------------------------------


def get_order(srv, oid):
    return ok(srv, "GET", "/api/orders/" + oid)


def wait_status(srv, oid, statuses=TERMINAL, timeout=15):
    if isinstance(statuses, str):
        statuses = (statuses,)
    last = {}

    def f():
        st, _, b = srv.request("GET", "/api/orders/" + oid)
        if st == 200:
            last["o"] = b
            return b if b["status"] in statuses else None
        return None
    try:
        return wait_for("order %s in %s" % (oid, statuses), f, timeout)
    except AssertionError:
        raise AssertionError("order %s never reached %s: %r" % (oid, statuses, last.get("o")))


def product(srv, sku):
    return ok(srv, "GET", "/api/products/" + sku)


def stock(srv, sku):
    p = product(srv, sku)
    eq(p["available"], p["stock"] - p["reserved"], sku + " available")
    return p["stock"], p["reserved"]


def new_product(srv, sku, price=100, stock_=10, name="test product"):
    b = ok(srv, "POST", "/api/products", {"sku": sku, "name": name, "priceCents": price, "stock": stock_}, 201)
    eq((b["sku"], b["stock"], b["reserved"], b["available"], b["sold"]), (sku, stock_, 0, stock_, 0), "new " + sku)
    return b


def order(srv, items, customer=None, path="/api/orders", token=None, order_id=None, headers=None, want=202):
    body = {"customerId": customer or uniq("cust"), "items": items}
    if token:
        body["payment"] = {"token": token}
    if order_id:
        body["orderId"] = order_id
    return ok(srv, "POST", path, body, want, headers=headers)


def put_events(srv, *entries):
    b = ok(srv, "POST", "/api/events", {"Entries": list(entries)})
    eq(b["FailedEntryCount"], 0, "PutEvents failures: %r" % b)
    return [e["EventId"] for e in b["Entries"]]


def placed(order_id, sku, qty, force=None, customer="customer-1"):
    detail = {"orderId": order_id, "customerId": customer, "items": [{"sku": sku, "quantity": qty}]}
    if force:
        detail.update({"_postDeployTest": True, "_postDeployTestForceResult": force})
    return {"Source": "order.service", "DetailType": "OrderPlaced", "Detail": detail}


def qstats(srv, name):
    return ok(srv, "GET", "/api/queues/%s-%s" % (srv().env, name))["stats"]


def queue_idle(srv, name):
    s = qstats(srv, name)
    return s["visible"] == 0 and s["inFlight"] == 0 and s["delayed"] == 0


def timeline(srv, oid):
    return ok(srv, "GET", "/api/orders/%s/events" % oid)


def types(tl):
    return [e["type"] for e in tl["events"]]


def notified(srv, oid, n=1):
    """Waits for n notifications of the order, then checks no more arrive
    once the notifications queue is idle."""
    wait_for("%d notification(s) for %s" % (n, oid), lambda: len(timeline(srv, oid)["notifications"]) >= n)
    wait_for("notifications queue idle", lambda: queue_idle(srv, "notifications"))
    tl = timeline(srv, oid)
    eq(len(tl["notifications"]), n, "notifications of %s: %r" % (oid, tl["notifications"]))
    return tl


def list_all(srv, query="", limit=100):
    """Every order through keyset pagination; checks the pages."""
    out, cursor, pages = [], None, 0
    while True:
        q = "/api/orders?limit=%d%s" % (limit, query)
        if cursor:
            q += "&cursor=" + cursor
        b = ok(srv, "GET", q)
        check(len(b["orders"]) <= limit, "page larger than limit")
        out += b["orders"]
        pages += 1
        check(pages < 1000, "pagination does not end")
        cursor = b.get("nextCursor")
        if not cursor:
            return out
        check(len(b["orders"]) == limit, "a short page with a nextCursor")


def iso_ms(s):
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", s or ""), "not an ISO UTC time: %r" % s)
    fmt = "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z"
    return datetime.strptime(s.replace("Z", "+0000"), fmt).timestamp() * 1000


# ---- seed 000 ---------------------------------------------------------------------------


def test_seed000_catalog_loaded():
    skus = {p["sku"]: p for p in ok(main, "GET", "/api/products")["products"]}
    for sku, st in (("prod-001", 10), ("prod-002", 15), ("prod-003", 8), ("prod-004", 20)):
        eq((skus[sku]["stock"], skus[sku]["reserved"]), (st, 0), sku + " from the catalog")
    for i in range(1, 6):
        check("PROD-%03d" % i in skus, "seed 004 catalog PROD-%03d missing" % i)


def test_seed000_post_deploy_success_then_failure():
    for force, want, want_stock, reason in (("SUCCESS", "COMPLETED", 98, None),
                                            ("FAILURE", "PAYMENT_FAILED", 100, "card_declined")):
        # 1. reset inventory: prod-001 stock 100, reserved 0
        b = ok(main, "PUT", "/api/products/prod-001", {"stock": 100})
        eq((b["stock"], b["reserved"]), (100, 0), "reset prod-001")
        sold0 = b["sold"]
        # 2. PutEvents OrderPlaced with the post-deploy test fields
        oid = "test-%s-%d-%04d" % (force.lower(), int(time.time() * 1000), random.randrange(10000))
        [event_id] = put_events(main, placed(oid, "prod-001", 2, force, customer="customer-1"))
        check(UUID.match(event_id), "EventId %r" % event_id)
        # 3. the order appears and reaches its end
        o = wait_status(main, oid)
        eq(o["status"], want, force + " order status")
        eq(o.get("reason"), reason, force + " reason")
        eq(o["customerId"], "customer-1", "customerId from the event")
        eq(o["items"], [{"sku": "prod-001", "qty": 2, "unitPriceCents": 1999}], "items from the event")
        # 5. inventory: SUCCESS 98/0, FAILURE 100/0
        eq(stock(main, "prod-001"), (want_stock, 0), force + " prod-001 stock/reserved")
        eq(product(main, "prod-001")["sold"], sold0 + (2 if force == "SUCCESS" else 0), force + " sold")
        t = types(timeline(main, oid))
        want_events = ["PaymentRequested", "OrderCompleted" if force == "SUCCESS" else "PaymentFailed"]
        eq([x for x in t if x in ("PaymentRequested", "OrderCompleted", "PaymentFailed")], want_events,
           force + " timeline %r" % t)
        tl = notified(main, oid)
        eq(tl["notifications"][0]["template"], want_events[1], force + " notification")


def test_seed000_readme_failed_order_out_of_stock():
    ok(main, "PUT", "/api/products/prod-002", {"stock": 15})
    eq(stock(main, "prod-002"), (15, 0), "prod-002 seed stock")
    r = order(main, [{"sku": "prod-002", "quantity": 100}])
    o = wait_status(main, r["orderId"])
    eq((o["status"], o.get("reason")), ("REJECTED", "out_of_stock"), "prod-002 x 100")
    eq(stock(main, "prod-002"), (15, 0), "nothing reserved")
    check("reservedAt" not in o, "a rejected order has no reservedAt: %r" % o)
    tl = notified(main, r["orderId"])
    check("OrderRejected" in types(tl) and "PaymentRequested" not in types(tl), "timeline %r" % types(tl))
    rej = [e for e in tl["events"] if e["type"] == "OrderRejected"][0]["detail"]
    eq((rej["reason"], rej.get("sku")), ("out_of_stock", "prod-002"), "OrderRejected detail")


# ---- seed 001 ---------------------------------------------------------------------------


def test_seed001_post_orders_contract():
    ok(main, "POST", "/api/queues/sd-tap/purge")
    seen_events, seen_orders = set(), set()
    sku = uniq("C001")
    new_product(main, sku, 250, 100)
    created = []
    for path in ("/orders", "/api/orders"):
        for given in (None, uniq("client-order")):
            body = {"customerId": "cust-001", "items": [{"sku": sku, "qty": 1}]}
            if given:
                body["orderId"] = given
            st, h, b = main.request("POST", path, body)
            eq(st, 202, "POST %s (answer %r)" % (path, b))
            check(h.get("content-type", "").startswith("application/json"), "content-type %r" % h)
            eq(sorted(b), ["eventId", "orderId", "status"], "202 body keys")
            eq(b["status"], "PENDING", "202 status")
            check(UUID.match(b["eventId"]), "eventId is a UUID: %r" % b["eventId"])
            if given:
                eq(b["orderId"], given, "a client orderId is kept")
            else:
                check(UUID.match(b["orderId"]), "orderId is a UUID: %r" % b["orderId"])
            eq(h.get("location"), "/api/orders/" + b["orderId"], "Location")
            check(b["eventId"] not in seen_events and b["eventId"] != b["orderId"], "eventId fresh")
            check(b["orderId"] not in seen_orders, "orderId fresh")
            seen_events.add(b["eventId"])
            seen_orders.add(b["orderId"])
            created.append(b)
    # an empty orderId is regenerated (seed 001: body.orderId || uuid)
    b = ok(main, "POST", "/orders", {"orderId": "", "customerId": "cust-001", "items": [{"sku": sku, "qty": 1}]},
           202)
    check(UUID.match(b["orderId"]), "empty orderId -> UUID: %r" % b)
    created.append(b)
    for b in created:
        o = wait_status(main, b["orderId"])
        eq(o["status"], "COMPLETED", "order %s" % b["orderId"])
        eq(o["eventId"], b["eventId"], "the order keeps its OrderCreated eventId")
        tl = timeline(main, b["orderId"])
        first = tl["events"][0]
        eq((first["type"], first["eventId"]), ("OrderCreated", b["eventId"]), "timeline starts with OrderCreated")
        eq(first.get("source"), "orderly.orders", "OrderCreated source in the timeline")
        d = first["detail"]
        eq((d["orderId"], d["eventId"], d["customerId"], d["schemaVersion"]),
           (b["orderId"], b["eventId"], "cust-001", "1.0"), "OrderCreated detail")
        eq(d["items"], [{"sku": sku, "qty": 1}], "OrderCreated items")
    # the envelope as the bus routed it (a tap rule copies OrderCreated to sd-tap)
    want = {b["eventId"]: b["orderId"] for b in created}
    got = {}

    def drain():
        r = ok(main, "POST", "/api/queues/sd-tap/receive", {"maxNumberOfMessages": 10, "waitTimeSeconds": 1})
        for m in r["messages"]:
            env = json.loads(m["body"])
            got[env["id"]] = env
        return all(k in got for k in want)
    wait_for("OrderCreated envelopes on the tap queue", drain, timeout=10)
    for eid, oid in want.items():
        env = got[eid]
        eq((env["version"], env["source"], env["detail-type"]), ("0", "orderly.orders", "OrderCreated"),
           "envelope of " + eid)
        eq((env["detail"]["orderId"], env["detail"]["eventId"]), (oid, eid), "envelope detail")
        iso_ms(env["time"])
    eq(stock(main, sku), (100 - len(created), 0), sku + " after the contract orders")


def test_seed001_fail_me_dead_letter_then_redrive():
    eq(qstats(main, "orders-dlq")["visible"], 0, "orders DLQ empty at the start")
    wait_for("orders queue idle", lambda: queue_idle(main, "orders"))
    q0 = qstats(main, "orders")
    r = order(main, [{"sku": "FAIL-ME", "qty": 1}], customer="fail-customer")
    oid = r["orderId"]
    o = wait_status(main, oid, "FAILED", timeout=20)
    eq((o["reason"], o["attempts"]), ("dead_lettered", 5), "FAILED after exactly 5 deliveries")
    check("FAIL-ME" in o.get("lastError", ""), "lastError mentions FAIL-ME: %r" % o.get("lastError"))
    wait_for("the message in the DLQ", lambda: qstats(main, "orders-dlq")["visible"] == 1)
    q1 = qstats(main, "orders")
    eq(q1["received"] - q0["received"], 5, "orders queue deliveries")
    eq(q1["movedToDlq"] - q0["movedToDlq"], 1, "moved to the DLQ once")
    eq((q1["visible"], q1["inFlight"]), (0, 0), "nothing left on the orders queue")
    tl = notified(main, oid)
    eq(tl["notifications"][0]["template"], "OrderFailed", "FAILED notification")
    fe = [e for e in tl["events"] if e["type"] == "OrderFailed"]
    eq(len(fe), 1, "one OrderFailed event")
    eq((fe[0]["detail"]["reason"], fe[0]["detail"]["queue"]), ("dead_lettered", "sd-orders"), "OrderFailed detail")
    # redrive: back on the orders queue, it fails again 5 times and returns to the DLQ
    b = ok(main, "POST", "/api/queues/sd-orders-dlq/redrive", {}, 202)
    eq(task_done(main, b)["messagesMoved"], 1, "redrive moved")
    wait_for("5 more attempts", lambda: get_order(main, oid)["attempts"] >= 10, timeout=20)
    wait_for("the message back in the DLQ", lambda: qstats(main, "orders-dlq")["visible"] == 1, timeout=20)
    o = wait_status(main, oid, "FAILED")
    eq((o["reason"], o["attempts"]), ("dead_lettered", 10), "FAILED again after 5 more deliveries")
    q2 = qstats(main, "orders")
    eq(q2["received"] - q0["received"], 10, "orders queue deliveries after redrive")
    eq(q2["movedToDlq"] - q0["movedToDlq"], 2, "moved to the DLQ twice")
    # leave the DLQ empty for the other tests
    ok(main, "POST", "/api/queues/sd-orders-dlq/purge")


def test_seed001_same_event_twice_reserves_once():
    sku = uniq("DUP")
    new_product(main, sku, 300, 10)
    q0 = qstats(main, "orders")
    oid = uniq("placed-twice")
    e1 = put_events(main, placed(oid, sku, 3))
    e2 = put_events(main, placed(oid, sku, 3))
    check(e1 != e2, "two distinct events")
    # and the same event twice in one PutEvents call
    oid2 = uniq("placed-pair")
    put_events(main, placed(oid2, sku, 2), placed(oid2, sku, 2))
    for x in (oid, oid2):
        eq(wait_status(main, x)["status"], "COMPLETED", "order " + x)
    wait_for("all four events consumed",
             lambda: qstats(main, "orders")["deleted"] - q0["deleted"] >= 4 and queue_idle(main, "orders"))
    wait_for("payments consumed", lambda: queue_idle(main, "payments"))
    p = product(main, sku)
    eq((p["stock"], p["reserved"], p["sold"]), (5, 0, 5), sku + " reserved and captured once per order")
    for x in (oid, oid2):
        t = types(notified(main, x))
        eq((t.count("PaymentRequested"), t.count("OrderCompleted")), (1, 1), "once each in %r" % t)


# ---- cancel and expiry ------------------------------------------------------------------


def test_cancel_reserved_releases():
    sku = uniq("CAN")
    new_product(nopay, sku, 700, 10)
    oid = order(nopay, [{"sku": sku, "qty": 3}])["orderId"]
    wait_status(nopay, oid, "RESERVED")
    eq(stock(nopay, sku), (10, 3), "reserved before cancel")
    st, h, b = nopay.request("DELETE", "/api/orders/" + oid)
    eq(st, 200, "DELETE a RESERVED order (answer %r)" % b)
    eq((b["status"], b.get("reason")), ("CANCELLED", "cancelled"), "cancelled order")
    eq(stock(nopay, sku), (10, 0), "reservation released")
    eq(get_order(nopay, oid)["status"], "CANCELLED", "GET after cancel")
    is_problem(*nopay.request("DELETE", "/api/orders/" + oid), 409, "cancel twice")
    tl = notified(nopay, oid)
    eq(tl["notifications"][0]["template"], "OrderCancelled", "cancel notification")
    eq(stock(nopay, sku), (10, 0), "still released")


def test_cancel_pending():
    oid = order(idle, [{"sku": "prod-003", "qty": 1}])["orderId"]
    eq(get_order(idle, oid)["status"], "PENDING", "stays PENDING with no order-processor")
    b = ok(idle, "DELETE", "/api/orders/" + oid)
    eq(b["status"], "CANCELLED", "cancel PENDING")
    eq(stock(idle, "prod-003"), (8, 0), "nothing reserved")
    is_problem(*idle.request("DELETE", "/api/orders/" + oid), 409, "cancel a CANCELLED order")


def test_cancel_after_completion_409():
    sku = uniq("DONE")
    new_product(main, sku, 100, 5)
    oid = order(main, [{"sku": sku, "qty": 2}])["orderId"]
    eq(wait_status(main, oid)["status"], "COMPLETED", "completed")
    before = product(main, sku)
    st, h, b = main.request("DELETE", "/api/orders/" + oid)
    is_problem(st, h, b, 409, "DELETE a COMPLETED order")
    check("COMPLETED" in b["detail"], "409 detail names the status: %r" % b["detail"])
    eq(get_order(main, oid)["status"], "COMPLETED", "still COMPLETED")
    eq(product(main, sku), before, "inventory unchanged by a refused cancel")
    rej = order(main, [{"sku": uniq("NOSUCH"), "qty": 1}])["orderId"]
    eq(wait_status(main, rej)["status"], "REJECTED", "rejected")
    is_problem(*main.request("DELETE", "/api/orders/" + rej), 409, "DELETE a REJECTED order")
    is_problem(*main.request("DELETE", "/api/orders/" + uniq("missing")), 404, "DELETE an unknown order")


def test_expiry_releases_reservation():
    sku = uniq("EXP")
    new_product(expiry, sku, 100, 10)
    oid = order(expiry, [{"sku": sku, "qty": 2}])["orderId"]
    o = wait_status(expiry, oid, ("RESERVED", "EXPIRED"))
    if o["status"] == "RESERVED":
        eq(stock(expiry, sku), (10, 2), "reserved")
    o = wait_status(expiry, oid, "EXPIRED", timeout=10)
    eq(o.get("reason"), "reservation_timeout", "expiry reason")
    check("reservedAt" in o, "an expired order was reserved: %r" % o)
    held = iso_ms(o["updatedAt"]) - iso_ms(o["reservedAt"])
    check(held >= 950, "expired after %.0f ms, before the 1 s timeout" % held)
    eq(stock(expiry, sku), (10, 0), "reservation released")
    tl = notified(expiry, oid)
    eq(tl["notifications"][0]["template"], "OrderExpired", "expiry notification")
    is_problem(*expiry.request("DELETE", "/api/orders/" + oid), 409, "cancel an EXPIRED order")


# ---- payment tokens and limits ---------------------------------------------------------------


def test_payment_tokens():
    sku = uniq("TOK")
    new_product(main, sku, 500, 10)
    for token, reason in (("tok_chargeDeclined", "card_declined"), ("tok_insufficientFunds", "insufficient_funds")):
        oid = order(main, [{"sku": sku, "qty": 2}], token=token)["orderId"]
        o = wait_status(main, oid)
        eq((o["status"], o.get("reason")), ("PAYMENT_FAILED", reason), token)
        eq(o["payment"], {"token": token}, token + " kept on the order")
        eq(stock(main, sku), (10, 0), token + ": stock unchanged, nothing reserved")
        eq(notified(main, oid)["notifications"][0]["template"], "PaymentFailed", token + " notification")
    oid = order(main, [{"sku": sku, "qty": 1}], token="tok_processingError")["orderId"]
    o = wait_status(main, oid)
    eq((o["status"], o["attempts"]), ("COMPLETED", 2), "tok_processingError completes on the 3rd attempt")
    check("processing_error" in o.get("lastError", ""), "lastError %r" % o.get("lastError"))
    eq(stock(main, sku), (9, 0), "captured once")
    oid = order(main, [{"sku": sku, "qty": 1}], token="tok_visa")["orderId"]
    o = wait_status(main, oid)
    eq((o["status"], o["attempts"]), ("COMPLETED", 0), "tok_visa")
    p = product(main, sku)
    eq((p["stock"], p["reserved"], p["sold"]), (8, 0, 2), sku + " after the tokens")


def test_business_limits_and_unknown_sku():
    a, b, c = uniq("LIMA"), uniq("LIMB"), uniq("LIMC")
    new_product(main, a, MAX_VALUE // MAX_UNITS, 1000)     # 4000 cents
    new_product(main, b, MAX_VALUE + 1, 5)
    new_product(main, c, 1, 1000)

    def outcome(items):
        o = wait_status(main, order(main, items)["orderId"])
        return o["status"], o.get("reason")
    eq(outcome([{"sku": a, "qty": MAX_UNITS + 1}]), ("REJECTED", "order_limit"), "units over the limit")
    eq(outcome([{"sku": a, "qty": 250}, {"sku": c, "qty": 251}]), ("REJECTED", "order_limit"),
       "units summed over items")
    eq(outcome([{"sku": b, "qty": 1}]), ("REJECTED", "order_limit"), "value over the limit")
    eq(stock(main, a), (1000, 0), "nothing reserved by order_limit")
    eq(stock(main, b), (5, 0), "nothing reserved by order_limit")
    eq(outcome([{"sku": a, "qty": MAX_UNITS}]), ("COMPLETED", None), "exactly at both limits")
    eq(stock(main, a), (1000 - MAX_UNITS, 0), "the order at the limits captured")
    nosuch = uniq("NOSUCH")
    eq(outcome([{"sku": nosuch, "qty": 1}]), ("REJECTED", "unknown_sku"), "unknown sku")
    eq(outcome([{"sku": c, "qty": 1}, {"sku": nosuch, "qty": 1}]), ("REJECTED", "unknown_sku"),
       "one unknown sku rejects the order")
    eq(outcome([{"sku": c, "qty": 5}, {"sku": a, "qty": MAX_UNITS + 1}])[1], "order_limit", "limit first")
    eq(stock(main, c), (1000, 0), "nothing reserved")
    # out_of_stock across items leaves every item untouched
    d = uniq("AON")
    new_product(main, d, 10, 3)
    eq(outcome([{"sku": c, "qty": 2}, {"sku": d, "qty": 4}]), ("REJECTED", "out_of_stock"), "all or nothing")
    eq((stock(main, c), stock(main, d)), ((1000, 0), (3, 0)), "all or nothing: nothing reserved")


# ---- Idempotency-Key and orderId conflicts ----------------------------------------------------


def count_for(srv, customer):
    return len(list_all(srv, "&customerId=" + customer))


def test_idempotency_key_replay_and_mismatch():
    cust = uniq("idem")
    key = uniq("key")
    body = {"customerId": cust, "items": [{"sku": "prod-004", "qty": 1}]}
    st, h1, b1 = main.request("POST", "/api/orders", body, headers={"Idempotency-Key": key})
    eq(st, 202, "first request (answer %r)" % b1)
    check("idempotent-replayed" not in h1, "a first answer is not marked replayed")
    wait_status(main, b1["orderId"])
    for path in ("/api/orders", "/orders"):
        st, h2, b2 = main.request("POST", path, body, headers={"Idempotency-Key": key})
        eq(st, 202, "replay via %s (answer %r)" % (path, b2))
        eq(b2, b1, "the first response replayed")
        eq(h2.get("idempotent-replayed"), "true", "Idempotent-Replayed header")
        eq(h2.get("location"), "/api/orders/" + b1["orderId"], "replayed Location")
    eq(count_for(main, cust), 1, "one order for the key")
    # same key, a different body
    for other in ({"customerId": cust, "items": [{"sku": "prod-004", "qty": 2}]},
                  {"customerId": cust + "x", "items": [{"sku": "prod-004", "qty": 1}]},
                  {"customerId": cust, "items": [{"sku": "prod-004", "qty": 1}], "payment": {"token": "tok_visa"},
                   "orderId": uniq("other-id")}):
        st, h, b = main.request("POST", "/api/orders", other, headers={"Idempotency-Key": key})
        is_problem(st, h, b, 422, "same key, body %r" % other)
    eq(count_for(main, cust), 1, "still one order")
    eq(count_for(main, cust + "x"), 0, "no order for the mismatched body")
    # a key with an explicit orderId, replayed; then another orderId under the same key
    key2 = uniq("key")
    oid = uniq("idem-order")
    b3 = order(main, [{"sku": "prod-004", "qty": 1}], customer=cust, order_id=oid, headers={"Idempotency-Key": key2})
    st, h, b4 = main.request("POST", "/api/orders", {"customerId": cust, "orderId": oid,
                                                     "items": [{"sku": "prod-004", "qty": 1}]},
                             headers={"Idempotency-Key": key2})
    eq((st, b4, h.get("idempotent-replayed")), (202, b3, "true"), "replay with an orderId")
    oid2 = uniq("idem-order")
    st, h, b = main.request("POST", "/api/orders", {"customerId": cust, "orderId": oid2,
                                                    "items": [{"sku": "prod-004", "qty": 1}]},
                            headers={"Idempotency-Key": key2})
    is_problem(st, h, b, 422, "same key, another orderId")
    eq(main.request("GET", "/api/orders/" + oid2)[0], 404, "no order under the other orderId")
    eq(count_for(main, cust), 2, "two orders for two keys")
    wait_status(main, oid)


def test_order_id_conflict():
    oid = uniq("conflict")
    cust = uniq("cc")
    body = {"orderId": oid, "customerId": cust, "items": [{"sku": "prod-004", "qty": 1}]}
    b1 = ok(main, "POST", "/api/orders", body, 202)
    eq(b1["orderId"], oid, "orderId kept")
    for other in ({"orderId": oid, "customerId": cust, "items": [{"sku": "prod-004", "qty": 2}]},
                  {"orderId": oid, "customerId": cust + "x", "items": [{"sku": "prod-004", "qty": 1}]},
                  {"orderId": oid, "customerId": cust, "items": [{"sku": "prod-004", "qty": 1}],
                   "payment": {"token": "tok_chargeDeclined"}}):
        st, h, b = main.request("POST", "/api/orders", other)
        is_problem(st, h, b, 409, "existing orderId, other body %r" % other)
    # the same body (qty spelled quantity, tok_visa explicit: the same request) -> 200 with the order
    for same, path in ((body, "/api/orders"),
                       ({"orderId": oid, "customerId": cust, "items": [{"sku": "prod-004", "quantity": 1}],
                         "payment": {"token": "tok_visa"}}, "/orders")):
        st, h, b = main.request("POST", path, same)
        eq(st, 200, "same orderId and body via %s (answer %r)" % (path, b))
        eq((b["orderId"], b["customerId"], b["eventId"]), (oid, cust, b1["eventId"]), "the existing order")
        eq(b["items"][0]["sku"], "prod-004", "items of the existing order")
    eq(count_for(main, cust), 1, "one order")
    eq(count_for(main, cust + "x"), 0, "no order for the conflicting body")
    eq(len([e for e in timeline(main, oid)["events"] if e["type"] == "OrderCreated"]), 1, "one OrderCreated")
    wait_status(main, oid)


# ---- reading ------------------------------------------------------------------------------------


def test_list_filters_and_pagination():
    sku = uniq("LST")
    new_product(main, sku, 100, 100)
    cust = uniq("lister")
    ids, completed, rejected = [], set(), set()
    for i in range(23):
        if i % 3 == 0:
            oid = order(main, [{"sku": uniq("NOSUCH"), "qty": 1}], customer=cust)["orderId"]
            rejected.add(oid)
        else:
            oid = order(main, [{"sku": sku, "qty": 1}], customer=cust)["orderId"]
            completed.add(oid)
        ids.append(oid)
    for oid in ids:
        wait_status(main, oid)
    newest_first = list(reversed(ids))
    for limit in (1, 5, 23, 100):
        got = [o["orderId"] for o in list_all(main, "&customerId=" + cust, limit)]
        eq(got, newest_first, "customer pages of %d: every order once, newest first" % limit)
    got = list_all(main, "&customerId=%s&status=COMPLETED" % cust, 4)
    eq([o["orderId"] for o in got], [x for x in newest_first if x in completed], "status=COMPLETED")
    check(all(o["status"] == "COMPLETED" and o["customerId"] == cust for o in got), "filtered rows")
    got = list_all(main, "&customerId=%s&status=REJECTED" % cust, 4)
    eq([o["orderId"] for o in got], [x for x in newest_first if x in rejected], "status=REJECTED")
    eq(list_all(main, "&customerId=%s&status=PENDING" % cust), [], "no PENDING")
    eq(list_all(main, "&customerId=" + uniq("nobody")), [], "unknown customer")
    every = list_all(main, "", 7)
    allids = [o["orderId"] for o in every]
    eq(len(allids), len(set(allids)), "no order twice across pages")
    eq(len(allids), ok(main, "GET", "/api/stats")["total_orders"], "pages cover every order")
    created = [iso_ms(o["createdAt"]) for o in every]
    eq(created, sorted(created, reverse=True), "newest first")
    every_st = list_all(main, "&status=COMPLETED", 9)
    check(all(o["status"] == "COMPLETED" for o in every_st), "status filter alone")
    check(completed <= {o["orderId"] for o in every_st}, "status filter alone covers ours")
    b = ok(main, "GET", "/api/orders")
    check(len(b["orders"]) <= 100, "default limit")
    eq(len(ok(main, "GET", "/api/orders?limit=100")["orders"]), min(100, len(allids)), "limit 100")
    for q in ("limit=0", "limit=101", "limit=-1", "limit=abc", "limit=", "status=BOGUS", "status=completed",
              "cursor=abc", "cursor=0", "cursor=-5"):
        is_problem(*main.request("GET", "/api/orders?" + q), 400, "GET /api/orders?" + q)


def test_order_detail_and_timeline():
    a, b = uniq("DETA"), uniq("DETB")
    new_product(main, a, 1234, 10)
    new_product(main, b, 99, 10)
    cust = uniq("detail")
    r = order(main, [{"sku": a, "qty": 3}, {"sku": b, "qty": 1}], customer=cust)
    oid = r["orderId"]
    o = wait_status(main, oid)
    eq(o["status"], "COMPLETED", "status")
    eq(o["items"], [{"sku": a, "qty": 3, "unitPriceCents": 1234}, {"sku": b, "qty": 1, "unitPriceCents": 99}],
       "items with price snapshots")
    eq((o["totalCents"], o["units"], o["attempts"]), (3 * 1234 + 99, 4, 0), "totals")
    eq((o["customerId"], o["payment"], o["eventId"]), (cust, {"token": "tok_visa"}, r["eventId"]), "fields")
    check("reason" not in o and "lastError" not in o, "no reason on a completed order: %r" % o)
    t = [iso_ms(o[k]) for k in ("createdAt", "reservedAt", "completedAt")]
    eq(t, sorted(t), "createdAt <= reservedAt <= completedAt")
    check(iso_ms(o["updatedAt"]) >= t[-1], "updatedAt last")
    check(abs(t[0] / 1000 - time.time()) < 60, "createdAt is now: %r" % o["createdAt"])
    # the price snapshot does not follow later price changes
    ok(main, "PUT", "/api/products/" + a, {"priceCents": 9999})
    eq(get_order(main, oid)["items"][0]["unitPriceCents"], 1234, "snapshot kept after a price change")
    eq(get_order(main, oid)["totalCents"], 3 * 1234 + 99, "total kept")
    tl = notified(main, oid)
    eq((tl["orderId"], tl["status"]), (oid, "COMPLETED"), "timeline head")
    eq(types(tl), ["OrderCreated", "PaymentRequested", "OrderCompleted", "NotificationSent"], "timeline")
    times = [iso_ms(e["time"]) for e in tl["events"]]
    eq(times, sorted(times), "timeline in time order")
    pr = tl["events"][1]["detail"]
    eq((pr["orderId"], pr["amountCents"]), (oid, 3 * 1234 + 99), "PaymentRequested detail")
    eq(len({e["eventId"] for e in tl["events"]}), 4, "distinct event ids")
    n = tl["notifications"][0]
    eq((n["channel"], n["template"], n["recipient"]), ("email", "OrderCompleted", cust), "notification row")
    eq(n["payload"]["orderId"], oid, "notification payload")
    eq(n["eventId"], tl["events"][2]["eventId"], "notification of the OrderCompleted event")
    is_problem(*main.request("GET", "/api/orders/" + uniq("missing")), 404, "unknown order")
    is_problem(*main.request("GET", "/api/orders/%s/events" % uniq("missing")), 404, "unknown order timeline")


def test_stats():
    def stats(srv):
        s = ok(srv, "GET", "/api/stats")
        eq(sorted(s), ["ordersByStatus", "orders_by_hour", "orders_by_status", "orders_today", "processing_rate",
                       "queue_depth", "total_orders"], "stats keys")
        eq(s["ordersByStatus"], s["orders_by_status"], "ordersByStatus is orders_by_status")
        for k in ("orders_today", "queue_depth", "total_orders"):
            check(isinstance(s[k], int) and s[k] >= 0, "%s %r" % (k, s[k]))
        check(isinstance(s["processing_rate"], (int, float)), "processing_rate %r" % s["processing_rate"])
        check(abs(s["processing_rate"] - round(s["orders_today"] / 24.0, 1)) < 0.051,
              "processing_rate %r for %d orders today" % (s["processing_rate"], s["orders_today"]))
        hours = s["orders_by_hour"]
        for h in hours:
            eq(sorted(h), ["count", "hour"], "orders_by_hour entry")
            check(re.match(r"^([01]\d|2[0-3]):00$", h["hour"]) and h["count"] > 0, "hour entry %r" % h)
        eq(sum(h["count"] for h in hours), s["orders_today"], "orders_by_hour sums to orders_today")
        check(s["orders_today"] <= s["total_orders"], "today <= total")
        return s
    # idle: every function off, so the orders stay on the queue
    s0 = stats(idle)
    n = 7
    for i in range(n):
        order(idle, [{"sku": "PROD-00%d" % (i % 5 + 1), "qty": 1}])
    s1 = stats(idle)
    eq(s1["total_orders"] - s0["total_orders"], n, "idle total_orders")
    eq(s1["orders_today"] - s0["orders_today"], n, "idle orders_today")
    eq(s1["queue_depth"] - s0["queue_depth"], n, "idle queue_depth counts waiting orders")
    eq(s1["total_orders"], len(list_all(idle)), "idle total = list")
    now_hour = datetime.now(timezone.utc).strftime("%H:00")
    check(now_hour in [h["hour"] for h in s1["orders_by_hour"]], "%s in %r" % (now_hour, s1["orders_by_hour"]))
    # main: orders are consumed, so the depth returns to 0
    s0 = stats(main)
    ids = [order(main, [{"sku": "PROD-002", "qty": 1}])["orderId"] for _ in range(30)]
    for oid in ids:
        wait_status(main, oid)
    wait_for("orders queue idle", lambda: queue_idle(main, "orders"))
    s1 = stats(main)
    eq(s1["total_orders"] - s0["total_orders"], 30, "main total_orders")
    eq(s1["orders_today"] - s0["orders_today"], 30, "main orders_today")
    eq(s1["queue_depth"], 0, "main queue_depth once consumed")
    eq(s1["total_orders"], len(list_all(main)), "main total = list")


# ---- products -------------------------------------------------------------------------------------


def test_products_crud():
    sku = uniq("NEWP")
    st, h, b = main.request("POST", "/api/products", {"sku": sku, "name": "Gizmo", "priceCents": 1500, "stock": 7})
    eq(st, 201, "POST product (answer %r)" % b)
    eq(h.get("location"), "/api/products/" + sku, "Location")
    eq(b, {"sku": sku, "name": "Gizmo", "priceCents": 1500, "stock": 7, "reserved": 0, "available": 7, "sold": 0},
       "created product")
    is_problem(*main.request("POST", "/api/products", {"sku": sku, "name": "Again", "priceCents": 1, "stock": 1}),
               409, "POST duplicate")
    eq(product(main, sku)["name"], "Gizmo", "duplicate did not overwrite")
    listed = {p["sku"]: p for p in ok(main, "GET", "/api/products")["products"]}
    eq(listed.get(sku), b, "listed")
    b = ok(main, "PUT", "/api/products/" + sku, {"stock": 50})
    eq((b["stock"], b["reserved"], b["available"], b["name"], b["priceCents"]), (50, 0, 50, "Gizmo", 1500),
       "restock")
    b = ok(main, "PUT", "/api/products/" + sku, {"name": "Gizmo 2", "priceCents": 1600})
    eq((b["stock"], b["name"], b["priceCents"]), (50, "Gizmo 2", 1600), "rename, reprice")
    for ro in ({"reserved": 3}, {"available": 1}, {"sold": 2}, {"stock": -1}, {"stock": "5"}, {}):
        st, h, e = main.request("PUT", "/api/products/" + sku, ro)
        is_problem(st, h, e, 422, "PUT %r" % ro)
    eq(product(main, sku)["stock"], 50, "unchanged by refused PUTs")
    st, h, _ = main.request("PUT", "/api/products/" + uniq("PUTNEW"), {"name": "n", "priceCents": 5, "stock": 2})
    eq(st, 201, "PUT creates")
    st, h, e = main.request("PUT", "/api/products/" + uniq("PUTNEW"), {"stock": 2})
    is_problem(st, h, e, 422, "PUT a new product without every field")
    # a sale through an order shows in stock and sold
    oid = order(main, [{"sku": sku, "qty": 4}])["orderId"]
    eq(wait_status(main, oid)["status"], "COMPLETED", "order")
    b = product(main, sku)
    eq((b["stock"], b["reserved"], b["sold"]), (46, 0, 4), "after a sale")
    st, _, body = main.request("DELETE", "/api/products/" + sku)
    eq(st, 204, "DELETE (answer %r)" % body)
    is_problem(*main.request("GET", "/api/products/" + sku), 404, "GET deleted")
    is_problem(*main.request("DELETE", "/api/products/" + sku), 404, "DELETE twice")
    check(sku not in {p["sku"] for p in ok(main, "GET", "/api/products")["products"]}, "gone from the list")


def test_products_reserved_conflicts():
    sku = uniq("RSV")
    new_product(nopay, sku, 100, 10)
    oid = order(nopay, [{"sku": sku, "qty": 4}])["orderId"]
    wait_status(nopay, oid, "RESERVED")
    b = product(nopay, sku)
    eq((b["stock"], b["reserved"], b["available"]), (10, 4, 6), "reserved is shown")
    st, h, e = nopay.request("PUT", "/api/products/" + sku, {"stock": 3})
    is_problem(st, h, e, 409, "stock below reserved")
    eq(stock(nopay, sku), (10, 4), "unchanged by the refused PUT")
    eq(ok(nopay, "PUT", "/api/products/" + sku, {"stock": 4})["available"], 0, "stock == reserved is allowed")
    # no availability left: another order is out of stock
    o2 = order(nopay, [{"sku": sku, "qty": 1}])["orderId"]
    eq(wait_status(nopay, o2)["reason"], "out_of_stock", "nothing available")
    is_problem(*nopay.request("DELETE", "/api/products/" + sku), 409, "DELETE while reserved")
    eq(stock(nopay, sku), (4, 4), "still there")
    ok(nopay, "PUT", "/api/products/" + sku, {"stock": 20})
    eq(stock(nopay, sku), (20, 4), "restock while reserved")
    ok(nopay, "DELETE", "/api/orders/" + oid)
    eq(stock(nopay, sku), (20, 0), "released by the cancel")
    eq(nopay.request("DELETE", "/api/products/" + sku)[0], 204, "DELETE once released")


def test_zy_late_payment_after_cancel_changes_nothing():
    """nopay's payments queue still holds the PaymentRequested of the orders
    cancelled above; restarted with the payment-processor on, those late
    messages change nothing, while a still RESERVED order completes."""
    sku = uniq("LATE")
    new_product(nopay, sku, 100, 10)
    live = order(nopay, [{"sku": sku, "qty": 2}])["orderId"]
    dead = order(nopay, [{"sku": sku, "qty": 3}])["orderId"]
    wait_status(nopay, live, "RESERVED")
    wait_status(nopay, dead, "RESERVED")
    ok(nopay, "DELETE", "/api/orders/" + dead)
    eq(stock(nopay, sku), (10, 2), "one reservation left")
    check(qstats(nopay, "payments")["visible"] >= 2, "payments waiting")
    cancelled = [o for o in list_all(nopay, "&status=CANCELLED")]
    check(len(cancelled) >= 2, "cancelled orders %r" % cancelled)
    products0 = {p["sku"]: p for p in ok(nopay, "GET", "/api/products")["products"]}
    old = nopay.server
    old.stop()
    nopay.server = None
    nopay.kw["config"] = make_config()
    nopay.kw["data_dir"] = old.data_dir
    wait_for("payments consumed", lambda: queue_idle(nopay, "payments"))
    eq(wait_status(nopay, live)["status"], "COMPLETED", "the RESERVED order completes")
    for o in cancelled:
        o2 = get_order(nopay, o["orderId"])
        eq(o2["status"], "CANCELLED", "late payment for %s" % o["orderId"])
        t = types(timeline(nopay, o["orderId"]))
        check("OrderCompleted" not in t and "PaymentFailed" not in t, "timeline %r" % t)
    products1 = {p["sku"]: p for p in ok(nopay, "GET", "/api/products")["products"]}
    want = dict(products0)
    w = dict(want[sku])
    w.update(stock=8, reserved=0, available=8, sold=2)
    want[sku] = w
    eq(products1, want, "only the live order changed the inventory")


# ---- last: the invariant everywhere ------------------------------------------------------------------


def test_zz_inventory_invariant_everywhere():
    for srv in ALL:
        if srv.server is None:
            continue
        for p in ok(srv, "GET", "/api/products")["products"]:
            check(p["stock"] >= p["reserved"] >= 0, "%s %s: %r" % (srv.server.env, p["sku"], p))
            eq(p["available"], p["stock"] - p["reserved"], "%s available" % p["sku"])
            check(p["sold"] >= 0, "sold %r" % p)
    # main: nothing is left reserved once every order is terminal
    wait_for("main queues idle", lambda: all(queue_idle(main, q) for q in ("orders", "payments", "notifications")))
    for o in list_all(main):
        check(o["status"] in TERMINAL, "main order not terminal: %r" % o)
    for p in ok(main, "GET", "/api/products")["products"]:
        eq(p["reserved"], 0, "main %s reserved at rest" % p["sku"])


run(globals())
