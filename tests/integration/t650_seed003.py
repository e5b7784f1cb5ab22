"""t650: seed 003's entry points (issue 14, part 3).

  login      POST /api/login {email, password} as seed 003 signs in (a
             customer), and the same user by username; a wrong password 401
  by name    GET /api/products/name/{name}: the products with that name,
             ignoring case (seed 003's NameIndex); no partial matches; a
             customer may read it; ?limit= as the product list
  order      {"items": ["PROD-A", "PROD-B"]} (product ids) is one unit of
             each; the order completes; a product id that names no product
             is a 404 naming the item and creates nothing (seed 003: every
             id must exist; not recorded under an Idempotency-Key, so the
             same request succeeds once the product exists), while an
             unknown {sku, qty} item is still accepted and REJECTED
             unknown_sku; a duplicate id and a bad id are 422 naming the item
"""
import os
from harness import SRC, Server, run, check, eq, ok, wait_for, shipped_config, is_problem, uniq

PW = "a fine password for sam"


def make_config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    return cfg


srv = Server(env="s3", config=make_config())


def login(body):
    return srv.request("POST", "/api/login", body, auth=False)


def setup():
    srv.start()
    ok(srv, "POST", "/api/users", {"username": "sam", "password": PW, "role": "customer",
                                   "email": "sam@example.com"}, 201)
    for sku, name in (("S3-MOUSE", "Mouse Pro"), ("S3-MOUSE2", "mouse pro"), ("S3-PAD", "Mouse Pro Pad"),
                      ("S3-KEY", "Keyboard S3")):
        ok(srv, "POST", "/api/products", {"sku": sku, "name": name, "priceCents": 2999, "stock": 100}, 201)


def customer_headers():
    st, _, b = login({"email": "sam@example.com", "password": PW})
    eq(st, 200, "login by email: %r" % (b,))
    return {"Authorization": "Bearer " + b["accessToken"]}


def test_login_by_email():
    st, _, b = login({"email": "sam@example.com", "password": PW})
    eq(st, 200, "by email")
    check(b["accessToken"] and b["tokenType"] == "Bearer", "a token: %r" % b)
    me = ok(srv, "GET", "/api/me", headers={"Authorization": "Bearer " + b["accessToken"]})
    eq((me["username"], me["role"]), ("sam", "customer"), "who signed in")
    eq(login({"username": "sam", "password": PW})[0], 200, "by username")
    st, h, b = login({"email": "sam@example.com", "password": "not the password"})
    is_problem(st, h, b, 401, "wrong password by email")
    st, h, b = login({"email": "sam@example.com", "username": "sam", "password": PW})
    is_problem(st, h, b, 422, "both email and username")


def test_product_by_name():
    hdr = customer_headers()
    for q in ("Mouse%20Pro", "mouse%20pro", "MOUSE%20PRO"):
        b = ok(srv, "GET", "/api/products/name/" + q, headers=hdr)
        eq([p["sku"] for p in b["products"]], ["S3-MOUSE", "S3-MOUSE2"], "by name " + q)
    eq([p["sku"] for p in ok(srv, "GET", "/api/products/name/keyboard%20s3")["products"]], ["S3-KEY"], "one match")
    eq(ok(srv, "GET", "/api/products/name/Mouse%20Pr")["products"], [], "no partial match")
    eq(ok(srv, "GET", "/api/products/name/nothing-here")["products"], [], "none")
    b = ok(srv, "GET", "/api/products/name/mouse%20pro?limit=1")
    eq(len(b["products"]), 1, "limit")
    st, h, b = srv.request("GET", "/api/products/name/x?limit=0")
    is_problem(st, h, b, 400, "bad limit")
    st, _, _ = srv.request("GET", "/api/products/name/Keyboard%20S3", auth=False)
    eq(st, 401, "needs a token")


def status(oid):
    return ok(srv, "GET", "/api/orders/" + oid)["status"]


def test_seed003_order_shape():
    hdr = customer_headers()
    b = ok(srv, "POST", "/api/orders", {"items": ["S3-MOUSE", "S3-KEY"]}, want=202, headers=hdr)
    oid = b["orderId"]
    wait_for("the order COMPLETED", lambda: status(oid) == "COMPLETED", timeout=20)
    o = ok(srv, "GET", "/api/orders/" + oid, headers=hdr)
    eq(sorted((i["sku"], i["qty"]) for i in o["items"]), [("S3-KEY", 1), ("S3-MOUSE", 1)], "one unit of each")
    check(o["customerId"], "customerId from the token: %r" % o)
    # a product id that names no product: 404 naming the item, nothing created, nothing recorded
    nosuch = uniq("NOSUCH")
    before = ok(srv, "GET", "/api/stats")["total_orders"]
    key = {"Idempotency-Key": uniq("k3")}
    st, h, p = srv.request("POST", "/api/orders", {"items": ["S3-KEY", nosuch]}, headers=dict(hdr, **key))
    is_problem(st, h, p, 404, "an unknown product id")
    eq([e["field"] for e in p["errors"]], ["items[1]"], "the 404 names the item")
    check(nosuch in p["detail"] and nosuch in p["errors"][0]["message"], "and the product id: %r" % p)
    eq(ok(srv, "GET", "/api/stats")["total_orders"], before, "no order created")
    ok(srv, "POST", "/api/products", {"sku": nosuch, "name": "Late", "priceCents": 5, "stock": 3}, 201)
    b = ok(srv, "POST", "/api/orders", {"items": ["S3-KEY", nosuch]}, want=202, headers=dict(hdr, **key))
    wait_for("created once the product exists", lambda: status(b["orderId"]) == "COMPLETED", timeout=20)
    # an unknown {sku, qty} item is accepted and the rejection names it
    nosku = uniq("NOSKU")
    b = ok(srv, "POST", "/api/orders", {"items": ["S3-KEY", {"sku": nosku, "qty": 1}]}, want=202, headers=hdr)
    wait_for("rejected", lambda: status(b["orderId"]) == "REJECTED", timeout=20)
    o = ok(srv, "GET", "/api/orders/" + b["orderId"])
    eq(o["reason"], "unknown_sku", "reason")
    tl = ok(srv, "GET", "/api/orders/%s/events" % b["orderId"])
    rej = [e for e in tl["events"] if e["type"] == "OrderRejected"][0]["detail"]
    eq(rej.get("sku"), nosku, "the rejection names the item")
    # bad items are 422 naming the item, nothing created
    for items, field in ((["S3-KEY", "S3-KEY"], "items[1]"), (["S3-KEY", "bad sku!"], "items[1]"),
                         (["S3-KEY", 7], "items[1]"), ([""], "items[0]")):
        st, h, p = srv.request("POST", "/api/orders", {"items": items}, headers=hdr)
        is_problem(st, h, p, 422, repr(items))
        check(any(e["field"] == field for e in p["errors"]), "%r names %s: %r" % (items, field, p["errors"]))
    # the two shapes mix
    b = ok(srv, "POST", "/api/orders", {"items": ["S3-MOUSE", {"sku": "S3-KEY", "qty": 2}]}, want=202, headers=hdr)
    wait_for("mixed COMPLETED", lambda: status(b["orderId"]) == "COMPLETED", timeout=20)


try:
    setup()
    run(globals())
finally:
    srv.stop()
