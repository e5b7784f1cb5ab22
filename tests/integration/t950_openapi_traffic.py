"""t950_openapi_traffic.py - real answers of the server validated against
the API description (GET /api/openapi.json, the embedded
src/http/openapi.json):

1. its own traffic: one or more requests to every operation of the
   document (success and error answers), each answer checked;
2. the traffic the other integration tests recorded under
   $ORDERLY_TRAFFIC_DIR (harness.py writes it when ctest runs them): every
   recorded answer whose path the document describes is checked.

Checked: the status is one the operation declares (or its default), the
content type is the declared one, and a JSON body satisfies the schema
(a JSON Schema subset: type, enum, const, properties, required,
additionalProperties, items, oneOf, anyOf, $ref, minimum, maximum,
minLength, maxLength, pattern, minItems, maxItems, uniqueItems).
"""
import glob
import json
import os
import re
import time

from harness import SRC, Shared, check, eq, ok, run, shipped_config, uniq, wait_for

# ---- a small JSON Schema validator ---------------------------------------------------


class Invalid(Exception):
    pass


def resolve(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def type_ok(v, t):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    raise AssertionError("unknown type " + t)


def validate(doc, schema, v, where="$"):
    schema = resolve(doc, schema)
    if schema is True or schema == {}:
        return
    if schema is False:
        raise Invalid("%s: not allowed" % where)
    if "type" in schema:
        ts = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(v, t) for t in ts):
            raise Invalid("%s: %r is not of type %s" % (where, v, ts))
    if "enum" in schema and v not in schema["enum"]:
        raise Invalid("%s: %r not in %r" % (where, v, schema["enum"]))
    if "const" in schema and v != schema["const"]:
        raise Invalid("%s: %r is not %r" % (where, v, schema["const"]))
    for key in ("oneOf", "anyOf"):
        if key in schema:
            passed = 0
            errs = []
            for sub in schema[key]:
                try:
                    validate(doc, sub, v, where)
                    passed += 1
                except Invalid as e:
                    errs.append(str(e))
            if passed == 0 or (key == "oneOf" and passed > 1):
                raise Invalid("%s: %s matched %d of its schemas: %s" % (where, key, passed, errs))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in v:
                raise Invalid("%s: required %r missing (keys %s)" % (where, r, sorted(v)))
        for k, x in v.items():
            if k in props:
                validate(doc, props[k], x, "%s.%s" % (where, k))
            elif "additionalProperties" in schema:
                validate(doc, schema["additionalProperties"], x, "%s.%s" % (where, k))
    if isinstance(v, list):
        if "items" in schema:
            for i, x in enumerate(v):
                validate(doc, schema["items"], x, "%s[%d]" % (where, i))
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", 1 << 62):
            raise Invalid("%s: %d items" % (where, len(v)))
        if schema.get("uniqueItems") and len(set(json.dumps(x, sort_keys=True) for x in v)) != len(v):
            raise Invalid("%s: items not unique" % where)
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", 1 << 62):
            raise Invalid("%s: length %d" % (where, len(v)))
        if "pattern" in schema and not re.search(schema["pattern"], v):
            raise Invalid("%s: %r does not match %s" % (where, v, schema["pattern"]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and v < schema["minimum"]:
            raise Invalid("%s: %r < %r" % (where, v, schema["minimum"]))
        if "maximum" in schema and v > schema["maximum"]:
            raise Invalid("%s: %r > %r" % (where, v, schema["maximum"]))


# ---- matching answers to operations --------------------------------------------------------


def load_doc():
    with open(os.path.join(SRC, "src", "http", "openapi.json")) as f:
        return json.load(f)


# first segments of the console's pages (src/http/static.c console_pages)
CONSOLE_PAGES = ("orders", "new", "inventory", "queues", "events", "rules", "alarms", "users", "keys", "audit", "login")


def find_operation(doc, method, path):
    """(template, operation) for a concrete path, the most literal template first;
    (template, None) when the path is known but not the method; (None, None)."""
    segs = path.split("?")[0].split("/")
    best = None
    for tpl, item in doc["paths"].items():
        ts = tpl.split("/")
        if len(ts) != len(segs):
            continue
        if all(t == s or (t.startswith("{") and s) for t, s in zip(ts, segs)):
            lit = sum(1 for t in ts if not t.startswith("{"))
            if best is None or lit > best[0]:
                best = (lit, tpl, item)
    if not best:
        return None, None
    m = method.lower()
    if m == "head":
        m = "get"
    return best[1], best[2].get(m)


def check_answer(doc, method, path, status, ctype, body):
    """Raises Invalid when the answer disagrees with the document; returns
    the operation's template (None for a path the document does not have)."""
    tpl, op = find_operation(doc, method, path)
    if tpl is None or op is None:
        # the console's pages other than / and /orders (the server's fallback, not routes)
        if tpl is None and method in ("GET", "HEAD") and status in (200, 304) and \
                (status == 304 or ctype.startswith("text/html")) and \
                path.split("/")[1] in CONSOLE_PAGES:
            return None
        # unknown path or method: the router's problem+json
        if status not in (400, 404, 405, 413, 414, 431):
            raise Invalid("%s %s: %d for an undescribed route" % (method, path, status))
        return None
    responses = op["responses"]
    resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) or responses.get("default")
    if resp is None:
        raise Invalid("%s %s (%s): status %d is not declared" % (method, path, tpl, status))
    resp = resolve(doc, resp)
    content = resp.get("content")
    if not content:
        if body and status != 304:
            raise Invalid("%s %s: %d has a body but declares none" % (method, path, status))
        return tpl
    media = ctype.split(";")[0].strip()
    if media not in content:
        raise Invalid("%s %s: %d answered %s, declared %s" % (method, path, status, media, list(content)))
    if "json" in media and method != "HEAD":  # HEAD: headers only
        try:
            value = json.loads(body) if isinstance(body, str) else body
        except ValueError as e:
            raise Invalid("%s %s: body is not JSON: %s" % (method, path, e))
        try:
            validate(doc, content[media]["schema"], value)
        except Invalid as e:
            raise Invalid("%s %s (%s) %d: %s" % (method, path, tpl, status, e))
    return tpl


# ---- 1. traffic of its own ------------------------------------------------------------------

srv = Shared(env="oa", config=shipped_config())


def exercise(s):
    """One or more requests per operation; returns [(method, path, status, ctype, body)]."""
    out = []

    def go(method, path, body=None, headers=None, raw=None, auth=True):
        st, h, b = s.request(method, path, body, headers=headers, raw=raw, auth=auth)
        out.append((method, path, st, h.get("content-type", ""), b))
        return st, b

    sku = uniq("oa")
    go("GET", "/health")
    go("GET", "/ready")
    go("GET", "/api/health")
    go("GET", "/metrics")
    go("GET", "/api/queues")
    go("POST", "/api/queues", {"name": "oa-q", "attributes": {"VisibilityTimeout": 5}})
    go("POST", "/api/queues", {"name": "oa-q", "attributes": {"VisibilityTimeout": 5}})
    go("POST", "/api/queues", {"name": "oa-q", "attributes": {"VisibilityTimeout": 6}})
    go("POST", "/api/queues", {"name": ""})
    go("GET", "/api/queues/oa-q")
    go("GET", "/api/queues/nope")
    go("GET", "/api/queues/oa-q/attributes")
    go("PUT", "/api/queues/oa-q/attributes", {"attributes": {"DelaySeconds": 0}})
    go("PUT", "/api/queues/oa-q/attributes", {"attributes": {"DelaySeconds": 901}})
    go("POST", "/api/queues/oa-q/messages", {"body": "hello", "messageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}})
    go("POST", "/api/queues/oa-q/messages", {"body": ""})
    go("POST", "/api/queues/oa-q/messages/batch", {"entries": [{"id": "a", "body": "x"}, {"id": "b", "body": "y"}]})
    go("GET", "/api/queues/oa-q/messages?limit=2")
    go("GET", "/api/queues/oa-q/messages?limit=0")
    st, b = go("POST", "/api/queues/oa-q/receive", {"maxNumberOfMessages": 3, "visibilityTimeout": 30})
    rh = [m["receiptHandle"] for m in b["messages"]]
    go("POST", "/api/queues/oa-q/messages/%s/visibility" % rh[0], {"visibilityTimeout": 10})
    go("DELETE", "/api/queues/oa-q/messages/" + rh[0])
    go("DELETE", "/api/queues/oa-q/messages/" + rh[0])
    go("POST", "/api/queues/oa-q/messages/delete", {"entries": [{"id": "1", "receiptHandle": rh[1]}, {"id": "2", "receiptHandle": "x"}]})
    go("POST", "/api/queues/oa-q/receive", raw=b"", headers={"Content-Type": "application/json"})
    go("POST", "/api/queues/oa-q/redrive")
    go("POST", "/api/queues/oa-q/redrive", {"messageIds": ["nope"]})
    go("POST", "/api/queues/oa-q/redrive", {"maxMessages": 0})
    go("POST", "/api/queues/oa-q/purge")
    go("POST", "/api/queues", {"name": "oa-doomed"})
    go("DELETE", "/api/queues/oa-doomed")
    go("DELETE", "/api/queues/oa-doomed")
    go("POST", "/api/events", {"Entries": [{"Source": "oa.test", "DetailType": "T", "Detail": {"a": 1}},
                                           {"Source": "aws.x", "DetailType": "T", "Detail": {}}]})
    go("POST", "/api/events", {"Entries": []})
    go("GET", "/api/events?limit=5")
    go("GET", "/api/events?limit=500")
    st, b = go("POST", "/api/events/replay", {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"})
    go("GET", "/api/tasks?limit=5")
    go("GET", "/api/tasks?cursor=bad")
    go("GET", "/api/tasks/" + b["id"])
    go("GET", "/api/tasks/nope")
    wait_for("the replay finished", lambda: s.request("GET", "/api/tasks/" + b["id"])[2]["state"] != "RUNNING")
    go("POST", "/api/tasks/%s/cancel" % b["id"])  # finished: 409
    go("POST", "/api/tasks/nope/cancel")
    # a redrive slow enough to cancel: 3 messages at 1 a second
    go("POST", "/api/queues", {"name": "oa-dest"})
    for i in range(3):
        go("POST", "/api/queues/oa-q/messages", {"body": "move %d" % i})
    st, b = go("POST", "/api/queues/oa-q/redrive", {"destination": "oa-dest", "ratePerSecond": 1})
    eq(st, 202, "a slow redrive: %r" % b)
    st, b = go("POST", "/api/tasks/%s/cancel" % b["id"])
    eq((st, b["state"]), (200, "CANCELLED"), "cancelled while running")
    go("POST", "/api/events/replay", {"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z", "rule": "nope"})
    go("POST", "/api/events/replay", {"from": "x"})
    go("GET", "/api/rules")
    go("GET", "/api/functions")
    go("POST", "/api/products", {"sku": sku, "name": "OpenAPI", "priceCents": 250, "stock": 50})
    go("POST", "/api/products", {"sku": sku, "name": "OpenAPI", "priceCents": 250, "stock": 50})
    go("POST", "/api/products", {"sku": "", "name": ""})
    go("GET", "/api/products")
    go("GET", "/api/products/" + sku)
    go("GET", "/api/products/nope-" + sku)
    go("PUT", "/api/products/" + sku, {"stock": 60})
    go("PUT", "/api/products/" + sku + "-new", {"name": "n", "priceCents": 1, "stock": 1})
    go("DELETE", "/api/products/" + sku + "-new")
    go("DELETE", "/api/products/" + sku + "-new")
    st, b = go("POST", "/api/orders", {"customerId": "oa-c", "items": [{"sku": sku, "qty": 1}]},
               headers={"Idempotency-Key": uniq("k")})
    oid = b["orderId"]
    go("POST", "/orders", {"customerId": "oa-c", "items": [{"sku": sku, "quantity": 1}], "orderId": oid + "-2"})
    go("POST", "/orders", {"customerId": "oa-c", "items": [{"sku": sku, "quantity": 1}], "orderId": oid + "-2"})
    go("POST", "/api/orders", {"customerId": "", "items": []})
    go("POST", "/api/orders", raw=b"{nope", headers={"Content-Type": "application/json"})
    go("POST", "/api/orders", raw=b"{}", headers={"Content-Type": "text/plain"})
    wait_for("order done", lambda: ok(s, "GET", "/api/orders/" + oid)["status"] == "COMPLETED")
    go("GET", "/api/orders?limit=2")
    go("GET", "/api/orders?status=COMPLETED&customerId=oa-c")
    go("GET", "/api/orders?limit=0")
    go("GET", "/api/orders/" + oid)
    go("GET", "/api/orders/nope")
    go("GET", "/api/orders/%s/events" % oid)
    go("DELETE", "/api/orders/" + oid)
    st, b = go("POST", "/api/orders", {"customerId": "oa-c", "items": [{"sku": sku, "qty": 1}], "payment": {"token": "tok_chargeDeclined"}})
    go("DELETE", "/api/orders/" + b["orderId"])
    go("GET", "/api/stats")
    go("GET", "/api/alarms")
    go("GET", "/api/alarms/dlq-messages-visible")
    go("GET", "/api/alarms/nope")
    go("GET", "/api/openapi.json")
    go("GET", "/api/metrics/history?minutes=5")
    go("GET", "/api/metrics/history?minutes=99")
    go("GET", "/")
    st, b = go("GET", "/orders")
    for a in re.findall(r'(?:src|href)="(/assets/[^"]+)"', b):
        go("GET", a)
    go("GET", "/assets/nope.js")
    # accounts
    name = uniq("oauser").replace("-", "")
    pw = "pw-" + name + "-long-enough"
    st, b = go("POST", "/api/users", {"username": name, "password": pw, "role": "viewer"})
    uid = str(b["id"])
    go("POST", "/api/users", {"username": name, "password": "short", "role": "nope"})
    go("GET", "/api/users")
    go("GET", "/api/users/" + uid)
    go("GET", "/api/users/999999999")
    go("PATCH", "/api/users/" + uid, {"role": "operator"})
    st, b = go("POST", "/api/login", {"username": name, "password": pw}, auth=False)
    refresh = b["refreshToken"]
    go("POST", "/api/login", {"username": name, "password": "wrong-password-x"}, auth=False)
    go("POST", "/api/refresh", {"refreshToken": refresh}, auth=False)
    go("POST", "/api/refresh", {"refreshToken": refresh}, auth=False)
    go("GET", "/api/me")
    st, b = go("POST", "/api/keys", {"name": "oa-key", "role": "viewer"})
    go("GET", "/api/keys")
    go("DELETE", "/api/keys/" + str(b["id"]))
    go("GET", "/api/audit?limit=5")
    go("GET", "/api/customers/oa-c/export")
    go("DELETE", "/api/customers/oa-gone")
    go("DELETE", "/api/users/" + uid)
    go("POST", "/api/logout", {})
    # the stream: only its status and content type (the body does not end)
    c = s.conn(timeout=5)
    c.request("GET", "/api/stream", headers={"Authorization": "Bearer " + s.token()})
    r = c.getresponse()
    out.append(("GET", "/api/stream", r.status, r.getheader("content-type"), ""))
    c.close()
    return out


def test_every_operation_answers_as_described():
    s = srv()
    doc = load_doc()
    answers = exercise(s)
    seen = set()
    errors = []
    for method, path, st, ctype, body in answers:
        try:
            tpl = check_answer(doc, method, path, st, ctype, body)
            if tpl:
                seen.add((method.lower(), tpl))
        except Invalid as e:
            errors.append(str(e))
    check(not errors, "answers that disagree with openapi.json:\n  " + "\n  ".join(errors))
    ops = {(m, p) for p, item in doc["paths"].items() for m in item}
    missing = sorted(ops - seen)
    check(not missing, "operations this test did not call: %s" % missing)


def test_the_validator_can_fail():
    doc = load_doc()
    bad = [("GET", "/api/orders/x", 200, "application/json", {"orderId": "x"}),           # required missing
           ("GET", "/api/queues", 200, "application/json", {"queues": [{"name": 1}]}),     # wrong type
           ("GET", "/api/stats", 299, "application/json", {}),                              # undeclared status
           ("GET", "/api/stats", 200, "text/plain", "x"),                                    # content type
           ("GET", "/api/alarms/x", 200, "application/json", {"state": "MAYBE"})]            # enum
    for method, path, st, ct, body in bad:
        try:
            check_answer(doc, method, path, st, ct, json.dumps(body) if not isinstance(body, str) else body)
        except Invalid:
            continue
        raise AssertionError("validator accepted %s %s %d %r" % (method, path, st, body))


# ---- 2. what the other integration tests recorded -------------------------------------------------


def test_recorded_traffic_of_the_suite():
    d = os.environ.get("ORDERLY_TRAFFIC_DIR")
    if not d:
        print("  (ORDERLY_TRAFFIC_DIR not set: run through ctest to check the suite's traffic)")
        return
    doc = load_doc()
    files = [f for f in sorted(glob.glob(os.path.join(d, "*.jsonl"))) if "t950" not in f]
    total = described = 0
    errors = []
    for f in files:
        with open(f) as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut by a test killed mid-write
                total += 1
                try:
                    if check_answer(doc, rec["method"], rec["path"], rec["status"], rec["contentType"], rec["body"]):
                        described += 1
                except Invalid as e:
                    errors.append("%s: %s" % (os.path.basename(f), e))
    print("  %d recorded answers from %d test files, %d of described operations" % (total, len(files), described))
    check(not errors, "%d recorded answers disagree with openapi.json:\n  %s" % (len(errors), "\n  ".join(errors[:40])))


if __name__ == "__main__":
    run(globals())
