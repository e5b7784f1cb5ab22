"""t615_forged_events.py - a message is input from outside the trust
boundary (issue 8 part 2).  Anyone may send to a queue or put events on
the bus, so the handlers decide from the event log and the order rows, not
from what a message says.  Forged PaymentRequested / OrderCompleted events -
put on the bus and sent straight to the queues - for a declined order, for
another customer's order and for a finished order change nothing: status,
stock, payments, timeline, notifications.

Orders of customers "held-*" are not routed to the payment processor (an
anything-but rule), so they wait RESERVED: the window in which a forged
PaymentRequested with tok_visa used to capture a declined order."""
import json
import re
import uuid

from harness import Shared, check, eq, ok, quick_retries, run, shipped_config, uniq, wait_for

TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "CANCELLED", "FAILED")


def make_config():
    cfg = quick_retries(shipped_config(), max_receive=2)
    for r in cfg["rules"]:
        if r["name"] == "payment-requested":
            r["eventPattern"]["detail"] = {"customerId": [{"anything-but": {"prefix": "held-"}}]}
    return cfg


srv = Shared(env="fg", config=make_config())
SKU = "FG-1"


def setup_product():
    st, _, _ = srv.request("GET", "/api/products/" + SKU)
    if st == 404:
        ok(srv, "POST", "/api/products", {"sku": SKU, "name": "forgery target", "priceCents": 500, "stock": 1000},
           201)


def wait_status(oid, statuses):
    def f():
        st, _, b = srv.request("GET", "/api/orders/" + oid)
        return b if st == 200 and b["status"] in statuses else None
    return wait_for("order %s in %s" % (oid, statuses), f, 20)


def place(customer, token):
    b = ok(srv, "POST", "/api/orders", {"customerId": customer, "items": [{"sku": SKU, "qty": 3}],
                                        "payment": {"token": token}}, 202)
    return b["orderId"]


def metric(name, **labels):
    _, _, text = srv.request("GET", "/metrics")
    sel = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape("{%s}" % sel) if sel else ""), text, re.M)
    return float(m.group(1)) if m else 0.0


def snapshot(oid):
    """Everything a forged event must not change."""
    o = ok(srv, "GET", "/api/orders/" + oid)
    o.pop("updatedAt")
    tl = ok(srv, "GET", "/api/orders/%s/events" % oid)
    p = ok(srv, "GET", "/api/products/" + SKU)
    pays = (metric("orderly_payments_total", outcome="captured"), metric("orderly_payments_total", outcome="declined"))
    return {"order": o, "events": [(e["eventId"], e["type"]) for e in tl["events"]],
            "notifications": [n["eventId"] for n in tl["notifications"]],
            "stock": (p["stock"], p["reserved"], p["sold"]), "payments": pays}


def envelope(oid, dtype, event_id=None, **detail):
    d = {"orderId": oid, "customerId": "attacker"}
    d.update(detail)
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": dtype, "source": "orderly.orders",
            "account": "000000000000", "time": "2026-12-06T10:00:00Z", "region": "local", "resources": [],
            "detail": d}


def send(queue, env):
    ok(srv, "POST", "/api/queues/fg-%s/messages" % queue, {"body": json.dumps(env)})


def settle():
    """Every forged message handled: processed, or retried and dead-lettered."""
    def idle():
        for q in ("orders", "payments", "notifications"):
            s = ok(srv, "GET", "/api/queues/fg-" + q)["stats"]
            if s["visible"] or s["inFlight"] or s["delayed"]:
                return False
        return True
    wait_for("the queues idle", idle, 30)


def forge_everything(oid, real_ids):
    # on the bus: the server's source is refused per entry
    b = ok(srv, "POST", "/api/events", {"Entries": [
        {"Source": "orderly.orders", "DetailType": "PaymentRequested",
         "Detail": {"orderId": oid, "payment": {"token": "tok_visa"}}},
        {"Source": "orderly.payments", "DetailType": "OrderCompleted", "Detail": {"orderId": oid}},
        {"Source": "shop.frontend", "DetailType": "PaymentRequested",
         "Detail": {"orderId": oid, "payment": {"token": "tok_visa"}}}]})
    eq(b["FailedEntryCount"], 2, "PutEvents %r" % b)
    eq([e.get("ErrorCode") for e in b["Entries"]],
       ["NotAuthorizedForSourceException", "NotAuthorizedForSourceException", None], "per-entry results")
    # straight into the queues: an event id the log never saw, and the real ids with forged details
    send("payments", envelope(oid, "PaymentRequested", payment={"token": "tok_visa"}, amountCents=1))
    send("notifications", envelope(oid, "OrderCompleted", paymentId="pay-forged"))
    send("orders", envelope(oid, "OrderCreated", items=[{"sku": SKU, "qty": 999}]))
    for eid in real_ids:
        send("payments", envelope(oid, "PaymentRequested", eid, payment={"token": "tok_visa"}))
        send("notifications", envelope(oid, "OrderCompleted", eid))
    settle()


def real_event_ids(oid):
    return [e["eventId"] for e in ok(srv, "GET", "/api/orders/%s/events" % oid)["events"]]


def real_events(oid):
    return {e["type"]: e["eventId"] for e in ok(srv, "GET", "/api/orders/%s/events" % oid)["events"]}


def test_forged_payment_for_a_declined_order():
    setup_product()
    oid = place(uniq("held-declined"), "tok_chargeDeclined")
    wait_status(oid, ("RESERVED",))
    before = snapshot(oid)
    ids = real_events(oid)
    # forged events, and the order's other events under forged details
    forge_everything(oid, [ids["OrderCreated"]])
    after = snapshot(oid)
    eq(after, before, "a declined order after forged payments")
    eq(after["order"]["status"], "RESERVED", "still waiting for its own payment")
    # its own PaymentRequested, re-sent with tok_visa written into it: the
    # payment is decided by the order's token (declined), never captured
    send("payments", envelope(oid, "PaymentRequested", ids["PaymentRequested"], payment={"token": "tok_visa"}))
    o = wait_status(oid, ("PAYMENT_FAILED", "COMPLETED"))
    eq((o["status"], o["reason"]), ("PAYMENT_FAILED", "card_declined"), "the order's own token decides")
    now = snapshot(oid)
    eq(now["payments"], (before["payments"][0], before["payments"][1] + 1), "payments (captured, declined)")
    eq(now["stock"], (before["stock"][0], before["stock"][1] - 3, before["stock"][2]), "the reservation released")


def test_forged_payment_for_another_customers_order():
    setup_product()
    victim = place(uniq("held-victim"), "tok_visa")
    wait_status(victim, ("RESERVED",))
    before = snapshot(victim)
    forge_everything(victim, [])
    eq(snapshot(victim), before, "another customer's order after forged events")


def test_forged_events_for_a_finished_order():
    setup_product()
    oid = place(uniq("cust"), "tok_visa")
    wait_status(oid, ("COMPLETED",))
    wait_for("its notification", lambda: len(ok(srv, "GET", "/api/orders/%s/events" % oid)["notifications"]) == 1)
    before = snapshot(oid)
    forge_everything(oid, real_event_ids(oid))
    eq(snapshot(oid), before, "a completed order after forged events")


def test_client_events_never_join_a_timeline():
    setup_product()
    oid = place(uniq("cust"), "tok_visa")
    wait_status(oid, ("COMPLETED",))
    # its NotificationSent comes after COMPLETED: wait for it, or it would
    # look like the client's event joined the timeline
    wait_for("its notification", lambda: len(ok(srv, "GET", "/api/orders/%s/events" % oid)["notifications"]) == 1)
    before = real_event_ids(oid)
    b = ok(srv, "POST", "/api/events", {"Entries": [{"Source": "shop.frontend", "DetailType": "OrderShipped",
                                                     "Detail": {"orderId": oid}}]})
    eq(b["FailedEntryCount"], 0, "a client event is accepted")
    eq(real_event_ids(oid), before, "but it is not the order's event")


run(globals())
