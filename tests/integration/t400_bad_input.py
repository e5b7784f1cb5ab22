"""t400: the bad-input table.  Every bad request gets a 4xx
application/problem+json with type/title/status/detail (and errors[] of
{field, message} for validation) AND changes nothing: queue stats, queue
attributes, the queue list and the rules' matched counts are compared before
and after each case.  Each limit is tried at the limit (accepted) and one
past it (rejected).
"""
import json
import select
import socket
import time
from harness import Server, run, check, eq, is_problem, Shared

ENV = "bi"
CONFIG = {
    "queues": [
        {"name": "q"},        # holds messages in every state; the target of bad requests
        {"name": "ok"},       # where accepted (at-the-limit) requests go
        {"name": "dlq"},
        {"name": "src", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "dlq", "maxReceiveCount": 2}}},
        {"name": "evq"},
    ],
    "rules": [{"name": "bi-rule", "eventPattern": {"source": ["bi.src"]}, "targets": [{"queue": "evq"}]}],
}
Q = "/api/queues/bi-q"
OK = "/api/queues/bi-ok"
JSON = {"Content-Type": "application/json"}

_receipt = []


def seed(server):
    # bi-q: two visible, one in flight, one delayed; bi-dlq: one dead letter
    for b in ("v1", "v2", "f1"):
        eq(server.request("POST", Q + "/messages", {"body": b})[0], 200, "seed send")
    st, _, r = server.request("POST", Q + "/receive", {"visibilityTimeout": 3600})
    eq(st, 200, "seed receive")
    _receipt.append(r["messages"][0]["receiptHandle"])
    eq(server.request("POST", Q + "/messages", {"body": "d1", "delaySeconds": 900})[0], 200, "seed delayed")
    eq(server.request("POST", "/api/queues/bi-src/messages", {"body": "dead"})[0], 200, "seed src")
    for _ in range(3):
        server.request("POST", "/api/queues/bi-src/receive", {"visibilityTimeout": 0})
    eq(state()[0]["bi-q"][:3], (2, 1, 1), "seeded bi-q")
    eq(state()[0]["bi-dlq"][:3], (1, 0, 0), "seeded bi-dlq")


srv = Shared(env=ENV, config=CONFIG, on_start=seed)
req = srv.request


def state():
    """Everything a bad request could change (oldestAgeSeconds moves with time)."""
    st, _, b = srv().request("GET", "/api/queues")
    eq(st, 200, "list queues")
    qs = {}
    for q in b["queues"]:
        s = q["stats"]
        qs[q["name"]] = (s["visible"], s["inFlight"], s["delayed"], s["sent"], s["received"], s["deleted"],
                         s["movedToDlq"], json.dumps(q["attributes"], sort_keys=True))
    st, _, r = srv().request("GET", "/api/rules")
    eq(st, 200, "list rules")
    return qs, {x["name"]: x["matched"] for x in r["rules"]}


def check_problem(st, h, b, want, what, field=None, path=None):
    is_problem(st, h, b, want, what)
    check(isinstance(b, dict), "%s: body %r" % (what, b))
    check(b["type"].startswith("https://") and len(b["type"]) > 10, "%s: type %r" % (what, b["type"]))
    check(isinstance(b["title"], str) and b["title"], "%s: title %r" % (what, b["title"]))
    check(isinstance(b["detail"], str) and b["detail"], "%s: detail %r" % (what, b["detail"]))
    eq(b.get("requestId"), h.get("x-request-id"), what + ": requestId = X-Request-Id")
    if path is not None:
        eq(b.get("instance"), path, what + ": instance")
    if want == 422:
        errs = b.get("errors")
        check(isinstance(errs, list) and errs, "%s: no errors[]: %r" % (what, b))
        for e in errs:
            check(isinstance(e, dict) and isinstance(e.get("field"), str) and e.get("message"),
                  "%s: malformed error entry %r" % (what, e))
        if field is not None:
            fields = [e["field"] for e in errs]
            check(field in fields, "%s: field %r not in %r" % (what, field, fields))


def bad(method, path, want, body=None, raw=None, headers=None, field=None, what=None):
    """One bad request: the problem, and no change."""
    srv()
    what = what or "%s %s %r" % (method, path, (body if raw is None else raw[:60]))
    before = state()
    h = dict(JSON) if (raw is not None and headers is None) else {}
    h.update(headers or {})
    st, rh, b = req(method, path, body, raw=raw, headers=h)
    check_problem(st, rh, b, want, what, field, path=path.split("?")[0])
    eq(state(), before, what + ": state changed")
    return b


def good(method, path, body=None, want=200, **kw):
    st, _, b = req(method, path, body, **kw)
    eq(st, want, "%s %s (body %r)" % (method, path, str(b)[:300]))
    return b


# ---- raw sockets ------------------------------------------------------------------


def raw_exchange(data, chunks=(), timeout=5):
    """Sends data (then each of chunks while the server has not answered) and
    returns (status, headers, body bytes, closed)."""
    c = socket.create_connection(("127.0.0.1", srv().port), timeout=timeout)
    if b"\r\n" in data and b"Authorization:" not in data:   # signed in as the admin, as every test
        data = data.replace(b"\r\n", b"\r\n" + srv().auth_line(), 1)
    try:
        c.sendall(data)
        for ch in chunks:
            r, _, _ = select.select([c], [], [], 0)
            if r:
                break
            try:
                c.sendall(ch)
            except OSError:
                break
        buf = b""
        end = time.time() + timeout
        closed = False
        while time.time() < end:
            try:
                d = c.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not d:
                closed = True
                break
            buf += d
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                hs = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:])
                hs = {k.lower(): v for k, v in hs.items()}
                if len(body) >= int(hs.get("content-length", "0")):
                    # wait briefly for the close, if any
                    c.settimeout(1)
                    try:
                        closed = c.recv(1) == b""
                    except (socket.timeout, OSError):
                        pass
                    break
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else None
        hs = {}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            hs[k.lower()] = v
        return status, hs, body, closed
    finally:
        c.close()


def raw_problem(status, hs, body, want, what):
    parsed = json.loads(body) if body else None
    check_problem(status, hs, parsed, want, what)
    return parsed


# ---- malformed JSON, content types, wrong types --------------------------------------


def test_malformed_json_reports_byte_position():
    # (body, first byte of the offending token, the byte after it): jansson
    # reports the position at the end of the token it choked on
    cases = [
        (b'{"body": "x",}', 13, 14),          # '}' after a comma
        (b'{"body":"x"]', 11, 12),            # ']' closes an object
        (b'{\n  "body": "x"\n  "d": 1}', 18, 21),  # missing comma before "d" on line 3
        (b'{"body": tru}', 9, 13),
        (b'', 0, 0),
        (b'   ', 3, 3),
    ]
    for raw, start, end in cases:
        b = bad("POST", Q + "/messages", 400, raw=raw)
        pos = b.get("position")
        check(isinstance(pos, int), "%r: no integer position member: %r" % (raw, b))
        check(start <= pos <= end, "%r: position %r, the offending token is at bytes %d..%d" % (raw, pos, start, end))
        check("position %d" % pos in b["detail"], "%r: detail does not give the byte position: %r" % (raw, b["detail"]))
        check(isinstance(b.get("line"), int) and isinstance(b.get("column"), int), "%r: line/column %r" % (raw, b))
    b = bad("POST", Q + "/messages", 400, raw=b'{\n  "body": "x"\n  "d": 1}')
    eq(b["line"], 3, "line of the error")


def test_wrong_content_type_415():
    for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json", "text/json"):
        b = bad("POST", Q + "/messages", 415, raw=b'{"body":"x"}', headers={"Content-Type": ct})
        check(ct in b["detail"], "415 detail names the type: %r" % b["detail"])
    bad("POST", Q + "/messages", 415, raw=b'{"body":"x"}', headers={"Content-Type": ""}, what="empty content type")
    st, h, b = req("POST", Q + "/messages", raw=b'{"body":"x"}')  # no Content-Type at all
    check_problem(st, h, b, 415, "no Content-Type")
    for path, body in ((Q + "/messages/batch", b'{"entries":[{"id":"a","body":"x"}]}'),
                       (Q + "/receive", b'{"maxNumberOfMessages":1}'),
                       ("/api/events", b'{"Entries":[{"Source":"bi.src","DetailType":"x"}]}'),
                       ("/api/queues", b'{"name":"bi-new"}'),
                       ("/api/queues/bi-dlq/redrive", b'{}'),
                       ("/api/queues/bi-q/purge", b'{}')):
        bad("POST", path, 415, raw=body, headers={"Content-Type": "text/plain"})
    # parameters and +json are fine
    good("POST", OK + "/messages", raw=b'{"body":"x"}', headers={"Content-Type": "application/json; charset=utf-8"})
    good("POST", OK + "/messages", raw=b'{"body":"x"}', headers={"Content-Type": "Application/JSON"})
    good("POST", OK + "/messages", raw=b'{"body":"x"}', headers={"Content-Type": "application/vnd.x+json"})


def test_non_object_bodies():
    for raw in (b'5', b'[]', b'"str"', b'null', b'true', b'[{"body":"x"}]'):
        bad("POST", Q + "/messages", 400, raw=raw)
        bad("POST", "/api/events", 400, raw=raw)


def test_wrong_types_422():
    cases = [
        (Q + "/messages", {"body": 5}, "body"),
        (Q + "/messages", {"body": None}, "body"),
        (Q + "/messages", {"body": ["x"]}, "body"),
        (Q + "/messages", {}, "body"),
        (Q + "/messages", {"body": ""}, "body"),
        (Q + "/messages", {"body": "x", "delaySeconds": 1.5}, "delaySeconds"),
        (Q + "/messages", {"body": "x", "delaySeconds": "5"}, "delaySeconds"),
        (Q + "/messages", {"body": "x", "delaySeconds": True}, "delaySeconds"),
        (Q + "/messages", {"body": "x", "delaySeconds": None}, "delaySeconds"),
        (Q + "/messages", {"body": "x", "delaySeconds": -1}, "delaySeconds"),
        (Q + "/messages", {"body": "x", "messageAttributes": "a=b"}, "messageAttributes"),
        (Q + "/messages", {"body": "x", "messageAttributes": {"k": "v" * 8200}}, "messageAttributes"),
        (Q + "/receive", {"maxNumberOfMessages": "5"}, "maxNumberOfMessages"),
        (Q + "/receive", {"maxNumberOfMessages": 5.0}, "maxNumberOfMessages"),
        (Q + "/receive", {"waitTimeSeconds": "1"}, "waitTimeSeconds"),
        (Q + "/receive", {"visibilityTimeout": [1]}, "visibilityTimeout"),
        (Q + "/messages/batch", {"entries": "x"}, "entries"),
        (Q + "/messages/batch", {"entries": {"id": "a", "body": "x"}}, "entries"),
        (Q + "/messages/batch", {"entries": [5]}, "entries[0]"),
        (Q + "/messages/batch", {"entries": [{"id": "a", "body": "x"}, {"id": 7, "body": "y"}]}, "entries[1].id"),
        (Q + "/messages/batch", {"entries": [{"id": "", "body": "x"}]}, "entries[0].id"),
        (Q + "/messages/batch", {"entries": [{"id": "i" * 81, "body": "x"}]}, "entries[0].id"),
        (Q + "/messages/batch", {"entries": [{"id": "a", "body": "x"}, {"id": "a", "body": "y"}]}, "entries[1].id"),
        (Q + "/messages/batch", {"entries": [{"id": "a"}]}, "entries[0].body"),
        (Q + "/messages/delete", {"entries": [{"id": "a"}]}, "entries[0].receiptHandle"),
        (Q + "/messages/delete", {"entries": [7]}, "entries[0]"),
        (Q + "/messages/delete", {"entries": [{"id": "a", "receiptHandle": _receipt_or("x")},
                                              {"id": "a", "receiptHandle": "y"}]}, "entries[1].id"),
        (Q + "/messages/%s/visibility" % "x", {}, "visibilityTimeout"),
        (Q + "/messages/%s/visibility" % "x", {"visibilityTimeout": "0"}, "visibilityTimeout"),
        ("/api/queues/bi-dlq/redrive", {"maxMessages": 0}, "maxMessages"),
        ("/api/queues/bi-dlq/redrive", {"maxMessages": "1"}, "maxMessages"),
        ("/api/queues/bi-dlq/redrive", {"destination": "bi-nope"}, "destination"),
        ("/api/queues/bi-dlq/redrive", {"destination": 5}, "destination"),
        ("/api/events", {"Entries": "x"}, "Entries"),
        ("/api/queues", {"name": 5}, "name"),
        ("/api/queues", {}, "name"),
        ("/api/queues", {"name": "bad name"}, "name"),
        ("/api/queues", {"name": "bi-" + "n" * 78}, "name"),
        ("/api/queues", {"name": ""}, "name"),
        ("/api/queues", {"name": "bi-new", "attributes": "x"}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"VisibilityTimeout": "abc"}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"Bogus": 1}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "bi-none",
                                                                           "maxReceiveCount": 2}}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "bi-new",
                                                                           "maxReceiveCount": 2}}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "bi-dlq",
                                                                           "maxReceiveCount": 0}}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "bi-dlq",
                                                                           "maxReceiveCount": 1001}}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"MessageRetentionPeriod": 59}}, "attributes"),
        ("/api/queues", {"name": "bi-new", "attributes": {"MaximumMessageSize": 1023}}, "attributes"),
    ]
    for path, body, field in cases:
        bad("POST", path, 422, body=body, field=field)
    # the names at the limit are accepted
    good("POST", "/api/queues", {"name": "bi-" + "n" * 77}, want=201)
    good("GET", "/api/queues/bi-" + "n" * 77)


def _receipt_or(dflt):
    srv()
    return _receipt[0] if _receipt else dflt


def test_unknown_fields_422():
    cases = [
        (Q + "/messages", {"body": "x", "bodyy": 1}, "bodyy"),
        (Q + "/messages", {"body": "x", "id": "a"}, "id"),
        (Q + "/receive", {"maxMessages": 1}, "maxMessages"),
        (Q + "/receive", {"MaxNumberOfMessages": 1}, "MaxNumberOfMessages"),
        (Q + "/messages/batch", {"entries": [{"id": "a", "body": "x", "foo": 1}]}, "entries[0].foo"),
        (Q + "/messages/batch", {"entries": [{"id": "a", "body": "x"}], "extra": 1}, "extra"),
        (Q + "/messages/delete", {"entries": [{"id": "a", "receiptHandle": "x", "foo": 1}]}, "entries[0].foo"),
        (Q + "/messages/x/visibility", {"visibilityTimeout": 1, "foo": 1}, "foo"),
        ("/api/queues/bi-dlq/redrive", {"max": 1}, "max"),
        ("/api/queues", {"name": "bi-new", "attrs": {}}, "attrs"),
        ("/api/events", {"Entries": [{"Source": "bi.src", "DetailType": "x"}], "Extra": 1}, "Extra"),
        ("/api/queues/bi-q/purge", {"force": True}, "force"),
    ]
    for path, body, field in cases:
        bad("POST", path, 422, body=body, field=field)
    bad("PUT", Q + "/attributes", 422, body={"VisibilityTimeout": 5, "Bogus": 1})
    bad("PUT", Q + "/attributes", 422, body={"attributes": {"VisibiltyTimeout": 5}})
    bad("PUT", Q + "/attributes", 422, body={"attributes": {"VisibilityTimeout": 5}, "x": 1})
    # an unknown PutEvents entry member fails that entry, not the request: nothing published
    before = state()
    b = good("POST", "/api/events", {"Entries": [{"Source": "bi.src", "DetailType": "x", "Foo": 1}]})
    eq(b["FailedEntryCount"], 1, "unknown entry member")
    eq(state(), before, "failed entry published something")


def test_duplicate_keys_400():
    bad("POST", Q + "/messages", 400, raw=b'{"body":"x","body":"y"}')
    bad("POST", Q + "/messages", 400, raw=b'{"body":"x","messageAttributes":{"a":1,"a":2}}')
    bad("POST", "/api/events", 400, raw=b'{"Entries":[{"Source":"bi.src","Source":"bi.src","DetailType":"x"}]}')
    bad("PUT", Q + "/attributes", 400, raw=b'{"VisibilityTimeout":1,"VisibilityTimeout":2}')
    # inside a Detail string, the entry fails alone
    before = state()
    b = good("POST", "/api/events", {"Entries": [{"Source": "bi.src", "DetailType": "x",
                                                   "Detail": '{"a":1,"a":2}'}]})
    eq(b["FailedEntryCount"], 1, "duplicate key in Detail")
    eq(state(), before, "duplicate-key Detail published")


# ---- the limits: at the limit and one past ---------------------------------------------


def test_max_number_of_messages_limits():
    for n in (11, 0, -1, 1000):
        bad("POST", Q + "/receive", 422, body={"maxNumberOfMessages": n}, field="maxNumberOfMessages")
    for i in range(12):
        good("POST", OK + "/messages", {"body": "m%d" % i})
    b = good("POST", OK + "/receive", {"maxNumberOfMessages": 10, "visibilityTimeout": 0})
    check(1 <= len(b["messages"]) <= 10, "maxNumberOfMessages 10 gave %d" % len(b["messages"]))
    good("POST", OK + "/purge")


def test_wait_time_seconds_limits():
    for n in (21, -1):
        bad("POST", Q + "/receive", 422, body={"waitTimeSeconds": n}, field="waitTimeSeconds")
    good("POST", OK + "/messages", {"body": "w"})
    t0 = time.time()
    b = good("POST", OK + "/receive", {"waitTimeSeconds": 20, "visibilityTimeout": 0})
    eq(len(b["messages"]), 1, "waitTimeSeconds 20 accepted")
    check(time.time() - t0 < 5, "a visible message did not end the poll")
    good("POST", OK + "/purge")


def test_delay_seconds_limits():
    bad("POST", Q + "/messages", 422, body={"body": "x", "delaySeconds": 901}, field="delaySeconds")
    bad("POST", Q + "/messages/batch", 422, body={"entries": [{"id": "a", "body": "x"},
                                                               {"id": "b", "body": "x", "delaySeconds": 901}]},
        field="entries[1].delaySeconds")
    bad("PUT", Q + "/attributes", 422, body={"DelaySeconds": 901})
    before = state()[0]["bi-ok"]
    good("POST", OK + "/messages", {"body": "x", "delaySeconds": 900})
    eq(state()[0]["bi-ok"][2], before[2] + 1, "delaySeconds 900 accepted and delayed")
    good("POST", OK + "/purge")


def test_visibility_timeout_limits():
    bad("POST", Q + "/receive", 422, body={"visibilityTimeout": 43201}, field="visibilityTimeout")
    bad("POST", Q + "/receive", 422, body={"visibilityTimeout": -1}, field="visibilityTimeout")
    bad("POST", Q + "/messages/%s/visibility" % _receipt_or("x"), 422, body={"visibilityTimeout": 43201},
        field="visibilityTimeout")
    bad("PUT", Q + "/attributes", 422, body={"VisibilityTimeout": 43201})
    bad("PUT", Q + "/attributes", 422, body={"attributes": {"VisibilityTimeout": -1}})
    good("POST", OK + "/messages", {"body": "v"})
    b = good("POST", OK + "/receive", {"visibilityTimeout": 43200})
    eq(len(b["messages"]), 1, "visibilityTimeout 43200 accepted")
    good("POST", OK + "/messages/%s/visibility" % b["messages"][0]["receiptHandle"],
         {"visibilityTimeout": 43200}, want=204)
    eq(state()[0]["bi-ok"][1], 1, "in flight")
    st, _, a = req("PUT", OK + "/attributes", {"VisibilityTimeout": 43200})
    eq((st, a["attributes"]["VisibilityTimeout"]), (200, 43200), "VisibilityTimeout attribute 43200")
    good("PUT", OK + "/attributes", {"VisibilityTimeout": 30})
    good("POST", OK + "/purge")


def test_message_size_limits():
    b = bad("POST", Q + "/messages", 413, body={"body": "x" * 262145})
    check("262145" in b["detail"] and "262144" in b["detail"], "413 detail %r" % b["detail"])
    # bytes, not characters: 131072 two-byte characters are 262144 bytes
    bad("POST", Q + "/messages", 413, body={"body": "\u00e9" * 131072 + "x"})
    r = good("POST", OK + "/messages", {"body": "x" * 262144})
    check(r.get("messageId"), "262144 bytes accepted")
    r = good("POST", OK + "/messages", {"body": "\u00e9" * 131072})
    m = good("POST", OK + "/receive", {"maxNumberOfMessages": 10})["messages"]
    eq(sorted(len(x["body"].encode()) for x in m), [262144, 262144], "bodies at the limit round-trip")
    # in a batch the oversized entry fails alone; the batch is accepted
    before = state()[0]["bi-ok"]
    b = good("POST", OK + "/messages/batch", {"entries": [{"id": "ok", "body": "y" * 262144},
                                                          {"id": "big", "body": "y" * 262145}]})
    eq([e["id"] for e in b["successful"]], ["ok"], "batch successful")
    eq([e["id"] for e in b["failed"]], ["big"], "batch failed")
    eq(state()[0]["bi-ok"][0], before[0] + 1, "only the entry at the limit was sent")
    # a queue's smaller MaximumMessageSize
    good("PUT", OK + "/attributes", {"MaximumMessageSize": 1024})
    bad("POST", OK + "/messages", 413, body={"body": "z" * 1025})
    good("POST", OK + "/messages", {"body": "z" * 1024})
    good("PUT", OK + "/attributes", {"MaximumMessageSize": 262144})
    good("POST", OK + "/purge")


def test_batch_entry_limits():
    eleven = [{"id": "e%d" % i, "body": "x"} for i in range(11)]
    bad("POST", Q + "/messages/batch", 422, body={"entries": eleven}, field="entries")
    bad("POST", Q + "/messages/batch", 422, body={"entries": []}, field="entries")
    dels = [{"id": "e%d" % i, "receiptHandle": "x"} for i in range(11)]
    bad("POST", Q + "/messages/delete", 422, body={"entries": dels}, field="entries")
    bad("POST", Q + "/messages/delete", 422, body={"entries": []}, field="entries")
    b = good("POST", OK + "/messages/batch", {"entries": eleven[:10]})
    eq(len(b["successful"]), 10, "batch of 10 accepted")
    got = []
    while len(got) < 10:
        ms = good("POST", OK + "/receive", {"maxNumberOfMessages": 10})["messages"]
        check(ms, "received only %d" % len(got))
        got += ms
    b = good("POST", OK + "/messages/delete",
             {"entries": [{"id": "d%d" % i, "receiptHandle": m["receiptHandle"]} for i, m in enumerate(got)]})
    eq((len(b["successful"]), len(b["failed"])), (10, 0), "delete batch of 10")


def test_put_events_limits():
    entries = [{"Source": "bi.src", "DetailType": "x", "Detail": {"i": i}} for i in range(11)]
    bad("POST", "/api/events", 422, body={"Entries": entries}, field="Entries")
    bad("POST", "/api/events", 422, body={"Entries": []}, field="Entries")
    bad("POST", "/api/events", 422, body={}, field="Entries")
    before = state()
    b = good("POST", "/api/events", {"Entries": entries[:10]})
    eq(b["FailedEntryCount"], 0, "10 entries accepted")
    after = state()
    eq(after[1]["bi-rule"] - before[1]["bi-rule"], 10, "10 matched")
    eq(after[0]["bi-evq"][0] - before[0]["bi-evq"][0], 10, "10 routed")
    good("POST", "/api/queues/bi-evq/purge")


def test_event_field_limits():
    before = state()
    b = good("POST", "/api/events", {"Entries": [
        {"Source": "s" * 256, "DetailType": "x"},
        {"Source": "s" * 257, "DetailType": "x"},
        {"Source": "bi.x", "DetailType": "d" * 257},
        {"Source": "bi.x", "DetailType": "x", "Resources": ["r"] * 33},
        {"Source": "bi.x", "DetailType": "x", "Resources": [1]},
        {"Source": "", "DetailType": "x"},
        {"Source": "bi.x", "DetailType": "x", "Detail": None},
    ]})
    eq([("EventId" in e) for e in b["Entries"]], [True, False, False, False, False, False, False],
       "which entries passed (%r)" % b["Entries"])
    eq(state()[0], before[0], "no queue changed (no rule matches these sources)")


def test_json_depth_limit():
    def nested(depth):  # depth levels in all: the outer object is level 1
        inner = "1"
        for _ in range(depth - 1):
            inner = '{"a":' + inner + "}"
        return ('{"body":"x","messageAttributes":' + inner + "}").encode()
    b = bad("POST", Q + "/messages", 400, raw=nested(65))
    check(isinstance(b.get("position"), int), "depth problem has a position: %r" % b)
    good("POST", OK + "/messages", raw=nested(64), headers=JSON)
    # inside a Detail string the same limit applies
    def detail(depth):
        d = "1"
        for _ in range(depth):
            d = '{"a":' + d + "}"
        return d
    before = state()
    b = good("POST", "/api/events", {"Entries": [{"Source": "bi.src", "DetailType": "x", "Detail": detail(65)}]})
    eq(b["FailedEntryCount"], 1, "Detail string nested 65 deep (%r)" % b["Entries"])
    eq(state(), before, "a too deep Detail was published")
    b = good("POST", "/api/events", {"Entries": [{"Source": "bi.src", "DetailType": "x", "Detail": detail(64)}]})
    eq(b["FailedEntryCount"], 0, "Detail string nested 64 deep")
    good("POST", "/api/queues/bi-evq/purge")
    good("POST", OK + "/purge")


def test_request_body_limit():
    # exactly 1 MiB (a small JSON object padded with spaces) is accepted
    small = b'{"body":"x"}'
    good("POST", OK + "/messages", raw=small + b" " * (1048576 - len(small)), headers=JSON)
    before = state()
    st, hs, body, closed = raw_exchange(
        b"POST /api/queues/bi-q/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1048577\r\n\r\n")
    b = raw_problem(st, hs, body, 413, "Content-Length 1 MiB + 1")
    check("1048576" in b["detail"], "413 detail %r" % b["detail"])
    check(closed, "connection not closed after an early 413")
    # chunked: the limit holds mid-stream
    chunk = b'{"body":"x"}' + b" " * (65536 - 12)
    first = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    rest = [b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n" for _ in range(20)]
    st, hs, body, closed = raw_exchange(
        b"POST /api/queues/bi-q/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + first, chunks=rest)
    raw_problem(st, hs, body, 413, "chunked body over 1 MiB")
    eq(state(), before, "oversized bodies changed something")
    # a chunked body under the limit works
    body = b'{"body":"chunked"}'
    st, hs, rb, _ = raw_exchange(
        b"POST /api/queues/bi-ok/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    eq(st, 200, "small chunked send (%r)" % rb)
    good("POST", OK + "/purge")


def test_big_integers_and_reals():
    for raw in (b'{"body":"x","delaySeconds":9223372036854775808}',
                b'{"body":"x","delaySeconds":-9223372036854775809}',
                b'{"body":"x","delaySeconds":1e309}',
                b'{"body":"x","delaySeconds":-1e309}',
                b'{"maxNumberOfMessages":18446744073709551616}'):
        path = Q + ("/receive" if b"maxNumber" in raw else "/messages")
        bad("POST", path, 400, raw=raw)
    for raw, field in ((b'{"body":"x","delaySeconds":9223372036854775807}', "delaySeconds"),
                       (b'{"body":"x","delaySeconds":-9223372036854775808}', "delaySeconds"),
                       (b'{"body":"x","delaySeconds":1e308}', "delaySeconds"),
                       (b'{"body":"x","delaySeconds":4294967297}', "delaySeconds"),
                       (b'{"body":"x","delaySeconds":1e2}', "delaySeconds")):
        bad("POST", Q + "/messages", 422, raw=raw, field=field)
    bad("POST", Q + "/receive", 422, raw=b'{"maxNumberOfMessages":4294967297}', field="maxNumberOfMessages")
    bad("POST", "/api/queues/bi-dlq/redrive", 422, raw=b'{"maxMessages":9223372036854775807}', field="maxMessages")
    bad("PUT", Q + "/attributes", 422, raw=b'{"VisibilityTimeout":4294967326}')
    bad("PUT", Q + "/attributes", 400, raw=b'{"VisibilityTimeout":9223372036854775808}')


def test_invalid_utf8():
    for raw in (b'{"body":"\xff"}', b'{"body":"\xc0\xaf"}', b'{"body":"\xed\xa0\x80"}', b'{"body":"abc\xe2\x82"}',
                b'{"body":"\\ud800"}', b'{"body":"\\u0000"}', b'{"b\xffdy":"x"}'):
        bad("POST", Q + "/messages", 400, raw=raw)
    bad("POST", "/api/events", 400, raw=b'{"Entries":[{"Source":"bi.src\xff","DetailType":"x"}]}')
    # an invalid byte in an echoed header still gives valid JSON
    before = state()
    st, hs, body, _ = raw_exchange(
        b"POST /api/queues/bi-q/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/pl\xffin\r\n"
        b"Content-Length: 12\r\nConnection: close\r\n\r\n{\"body\":\"x\"}")
    raw_problem(st, hs, body, 415, "invalid UTF-8 in Content-Type")
    eq(state(), before, "changed")


def test_message_attributes_size_limit():
    # the server measures the compact JSON: {"k":"..."} is 8 bytes + the value
    bad("POST", Q + "/messages", 422, body={"body": "x", "messageAttributes": {"k": "v" * 8185}},
        field="messageAttributes")
    good("POST", OK + "/messages", {"body": "x", "messageAttributes": {"k": "v" * 8184}})
    m = good("POST", OK + "/receive", {})["messages"]
    eq(len(m[0]["messageAttributes"]["k"]), 8184, "attributes at the limit round-trip")
    good("POST", OK + "/purge")


def test_queue_count_limit():
    srv()
    n = len(state()[0])
    for i in range(256 - n):
        good("POST", "/api/queues", {"name": "bi-lim-%d" % i}, want=201)
    eq(len(state()[0]), 256, "queues at the limit")
    b = bad("POST", "/api/queues", 400, body={"name": "bi-one-too-many"})
    # an existing queue is still "created" idempotently at the limit
    good("POST", "/api/queues", {"name": "bi-lim-0"}, want=200)
    eq(req("GET", "/api/queues/bi-one-too-many")[0], 404, "the 257th queue exists")


# ---- HTTP framing ---------------------------------------------------------------------


def test_content_length_with_chunked_rejected():
    before = state()
    body = b'{"body":"smuggled"}'
    st, hs, rb, closed = raw_exchange(
        b"POST /api/queues/bi-q/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body)
        + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    b = raw_problem(st, hs, rb, 400, "Content-Length + Transfer-Encoding")
    check("Transfer-Encoding" in b["detail"], "detail %r" % b["detail"])
    check(closed, "connection left open after a smuggling attempt")
    eq(state(), before, "the smuggled request had an effect")


def test_headers_too_large():
    before = state()
    st, h, b = req("POST", Q + "/messages", {"body": "x"}, headers={"X-Big": "a" * 17000})
    check_problem(st, h, b, 431, "17 KB header")
    st, h, b = req("GET", "/health", headers={"X-A": "a" * 9000, "X-B": "b" * 9000})
    check_problem(st, h, b, 431, "two 9 KB headers")
    eq(state(), before, "changed")
    st, _, _ = req("GET", "/health", headers={"X-Big": "a" * 15000})
    eq(st, 200, "15 KB of headers are fine")


def test_unknown_route_and_method():
    for path in ("/nope", "/api", "/api/queue", "/api/queues/bi-q/nope", "/api/queues/bi-q/messages/x/y/z",
                 "/" + "/".join(["s"] * 20), "/api/events/extra"):
        b = bad("GET", path, 404)
    for method, path, allow in (("DELETE", "/api/queues", {"GET", "POST"}),
                                ("PUT", "/api/events", {"GET", "POST"}),
                                ("DELETE", "/api/events", {"GET", "POST"}),
                                ("POST", "/api/rules", {"GET"}),
                                ("POST", Q, {"GET", "DELETE"}),  # DELETE deletes the queue (SQS DeleteQueue)
                                ("GET", Q + "/purge", {"POST"}),
                                ("PATCH", Q + "/attributes", {"GET", "PUT"}),
                                ("GET", Q + "/messages/x", {"DELETE"})):
        st, h, b = req(method, path, raw=b"" if method in ("POST", "PUT", "PATCH") else None)
        check_problem(st, h, b, 405, "%s %s" % (method, path))
        got = {m.strip() for m in h.get("allow", "").split(",")} - {"HEAD"}
        eq(got, allow, "Allow of %s %s" % (method, path))
    b = bad("GET", "/api/queues/" + "a" * 2100, 414)
    bad("GET", "/api/queues/bi-q%00x", 400)


def test_purge_with_bad_body_purges_nothing():
    bad("POST", Q + "/purge", 400, raw=b"{garbage")
    bad("POST", Q + "/purge", 400, raw=b"[]")
    bad("POST", "/api/queues/bi-dlq/redrive", 400, raw=b"{garbage")


def test_stale_and_malformed_receipts():
    live = _receipt_or("x")
    forged = live[:-1] + ("1" if live[-1] != "1" else "2")
    for rh in ("x", "0" * 32, "zz" * 16, "f" * 64, "%25", "..", forged):
        st, h, b = req("DELETE", Q + "/messages/" + rh)
        check(400 <= st < 500, "receipt %r status %r" % (rh, st))
        before = state()
        b = bad("DELETE", Q + "/messages/" + rh, st)
        bad("POST", Q + "/messages/%s/visibility" % rh, st, body={"visibilityTimeout": 0})
        eq(state(), before, "changed")
    eq(state()[0]["bi-q"][:3], (2, 1, 1), "bi-q keeps its seeded state")


run(globals())
