"""t350_gdpr.py - a customer's data (issue 9, seed 002): the export has
everything about the customer (orders, items, events, notifications,
accounts, audit rows) and nothing about another; the erasure leaves no
order, event detail, notification or audit row carrying the old
customerId, disables the customer's account, keeps the other customer's
data, and the audit keeps the fact of the erasure."""
import json
import time

from harness import Shared, check, eq, ok, run, shipped_config, wait_for, db_rows

srv = Shared(env="gd", config=shipped_config())
PW = "a password for the customer"


def as_(tok):
    return {"Authorization": "Bearer " + tok}


def setup():
    s = srv()
    toks = {}
    for name in ("alice", "bob"):
        ok(s, "POST", "/api/users", {"username": name, "password": PW, "role": "customer"}, 201)
        toks[name] = ok(s, "POST", "/api/login", {"username": name, "password": PW}, auth=False)["accessToken"]
    ok(s, "POST", "/api/products", {"sku": "GD", "name": "g", "priceCents": 250, "stock": 100}, 201)
    orders = {"alice": [], "bob": []}
    for name in ("alice", "bob"):
        for token in ("tok_visa", "tok_chargeDeclined"):
            b = ok(s, "POST", "/api/orders", {"items": [{"sku": "GD", "qty": 1}], "payment": {"token": token}}, 202,
                   headers=as_(toks[name]))
            orders[name].append(b["orderId"])
    for oid in orders["alice"] + orders["bob"]:
        wait_for("notified " + oid, lambda: len(ok(s, "GET", "/api/orders/%s/events" % oid)["notifications"]) == 1)
    ok(s, "GET", "/api/orders/" + orders["alice"][0])   # a staff read: audited
    # a read's audit row is written after its answer (a unit of its own):
    # wait until it is committed before looking for it in the export
    wait_for("the staff read audited", lambda: any(
        r["method"] == "GET" for r in ok(s, "GET", "/api/audit?target=" + orders["alice"][0])["entries"]))
    return toks, orders


def test_export_then_erase():
    s = srv()
    toks, orders = setup()
    doc = ok(s, "GET", "/api/customers/alice/export", headers=as_(toks["alice"]))
    eq(sorted(o["orderId"] for o in doc["orders"]), sorted(orders["alice"]), "alice's orders")
    for o in doc["orders"]:
        check(o["items"] and o["events"] and o["notifications"], "order, items, events, notifications: %r" % o["orderId"])
        check(all(e["detail"].get("customerId", "alice") == "alice" for e in o["events"]), "its events")
    eq([u["username"] for u in doc["users"]], ["alice"], "the account")
    check(any(r["target"] == orders["alice"][0] and r["method"] == "GET" for r in doc["audit"]),
          "the staff read of alice's order is in the audit rows")
    check(any(r["principal"] == "alice" and r["route"] == "/api/orders" for r in doc["audit"]), "alice's own actions")
    text = json.dumps(doc)
    check("bob" not in text and not any(oid in text for oid in orders["bob"]), "nothing about bob")
    eq(ok(s, "GET", "/api/customers/alice/export")["customerId"], "alice", "the admin exports too")
    eq(s.request("GET", "/api/customers/alice/export", headers=as_(toks["bob"]), auth=False)[0], 404,
       "bob exports alice")
    # the admin's export is a staff read, audited in a unit of its own after
    # the answer: it may land before the erasure (renamed by it) or after it
    # (written with the pseudonym the erasure remembers): alice either way
    # erasure
    res = ok(s, "DELETE", "/api/customers/alice")
    pseud = res["pseudonym"]
    eq((res["erased"]["orders"], res["erased"]["users"]), (2, 1), "erased counts %r" % res)
    check(pseud.startswith("erased-"), "pseudonym %r" % pseud)
    time.sleep(1.1)
    eq(s.request("GET", "/api/me", headers=as_(toks["alice"]), auth=False)[0], 401, "alice's account is disabled")
    left = []
    left += [("order", r[0]) for r in db_rows(s, "SELECT id FROM orders WHERE customer_id='alice'")]
    for seq, env in db_rows(s, "SELECT seq, envelope FROM events"):
        if '"alice"' in env:
            left.append(("event", seq))
    for eid, rec, payload in db_rows(s, "SELECT event_id, recipient, payload FROM notifications"):
        if rec == "alice" or '"alice"' in payload:
            left.append(("notification", eid))
    for seq, p, t in db_rows(s, "SELECT seq, principal, target FROM audit"):
        if "alice" in (p, t):
            left.append(("audit", seq))
    eq(left, [], "rows still carrying alice")
    eq(db_rows(s, "SELECT count(*) FROM orders WHERE customer_id=?", pseud)[0][0], "2",
       "the orders now carry the pseudonym")
    eq(db_rows(s, "SELECT count(*) FROM orders WHERE customer_id='bob'")[0][0], "2", "bob's orders stay")
    fact = db_rows(s, "SELECT method, route, target, detail FROM audit WHERE route='/api/customers/{id}'")
    eq([(m, t) for m, _, t, _ in fact], [("DELETE", pseud)], "the audit keeps the fact, not the id")
    print("export: %d orders, %d audit rows; erasure: %r" % (len(doc["orders"]), len(doc["audit"]), res["erased"]))


run(globals())
