"""t200: the queue HTTP API end to end against the real binary: create,
list/get with stats, attributes, send (single and batch), receive (max,
visibility per receive, receive counts), delete (single, stale receipt,
batch), change visibility, delay, long poll, dead-letter queues, redrive,
purge and 404s.
"""
import json
import threading
import time
from harness import Server, run, check, eq, is_problem, Shared, task_done

ENV = "qa"
CONFIG = {
    "queues": [
        {"name": "cfg", "attributes": {"VisibilityTimeout": 45, "DelaySeconds": 0}},
        {"name": "cfg-dlq"},
        {"name": "cfg-src", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "cfg-dlq",
                                                             "maxReceiveCount": 3}}},
    ]
}

srv = Shared(env=ENV, config=CONFIG)


req = srv.request


def qpath(name):
    return "/api/queues/" + name


def create(name, attrs=None, want=201):
    body = {"name": name}
    if attrs is not None:
        body["attributes"] = attrs
    st, h, b = req("POST", "/api/queues", body)
    eq(st, want, "create %s (body %r)" % (name, b))
    return b


def send(q, body, **kw):
    m = {"body": body}
    m.update(kw)
    st, _, b = req("POST", qpath(q) + "/messages", m)
    eq(st, 200, "send to %s (body %r)" % (q, b))
    check(b.get("messageId"), "send: no messageId: %r" % b)
    return b


def recv(q, **kw):
    kw.setdefault("waitTimeSeconds", 0)
    st, _, b = req("POST", qpath(q) + "/receive", kw, timeout=40)
    eq(st, 200, "receive from %s (body %r)" % (q, b))
    return b["messages"]


def stats(q):
    st, _, b = req("GET", qpath(q))
    eq(st, 200, "get %s (body %r)" % (q, b))
    return b["stats"]


def counts(q):
    s = stats(q)
    return (s["visible"], s["inFlight"], s["delayed"])


def delete(q, receipt):
    return req("DELETE", qpath(q) + "/messages/" + receipt)


# ---- create / list / get / attributes -------------------------------------------------


def test_config_queues_are_prefixed():
    st, _, b = req("GET", "/api/queues")
    eq(st, 200, "list")
    names = [q["name"] for q in b["queues"]]
    for n in ("qa-cfg", "qa-cfg-dlq", "qa-cfg-src"):
        check(n in names, "%s not listed in %r" % (n, names))
    eq(req("GET", qpath("cfg"))[0], 404, "unprefixed config name")
    st, _, b = req("GET", qpath("qa-cfg"))
    eq(st, 200, "get qa-cfg")
    eq(b["attributes"]["VisibilityTimeout"], 45, "config VisibilityTimeout")
    st, _, b = req("GET", qpath("qa-cfg-src"))
    eq(b["attributes"].get("RedrivePolicy"), {"deadLetterTargetArn": "qa-cfg-dlq", "maxReceiveCount": 3},
       "config RedrivePolicy (prefixed target)")
    eq(b["deadLetterQueue"], False, "source is not a DLQ")
    eq(req("GET", qpath("qa-cfg-dlq"))[2]["deadLetterQueue"], True, "cfg-dlq is a DLQ")


def test_create_idempotent_and_conflict():
    attrs = {"VisibilityTimeout": 17, "DelaySeconds": 0}
    st, h, b = req("POST", "/api/queues", {"name": "qa-c1", "attributes": attrs})
    eq(st, 201, "create (body %r)" % b)
    eq(b["name"], "qa-c1", "created name")
    eq(b["created"], True, "created flag")
    eq(b["attributes"]["VisibilityTimeout"], 17, "created VisibilityTimeout")
    eq(b["attributes"]["DelaySeconds"], 0, "created DelaySeconds")
    eq(b["attributes"]["MessageRetentionPeriod"], 345600, "default retention")
    eq(b["attributes"]["MaximumMessageSize"], 262144, "default MaximumMessageSize")
    eq(h.get("location"), "/api/queues/qa-c1", "Location")
    # the same attributes again: 200, nothing changes
    st, _, b2 = req("POST", "/api/queues", {"name": "qa-c1", "attributes": attrs})
    eq(st, 200, "create again, same attrs (body %r)" % b2)
    eq(b2["created"], False, "created flag on repeat")
    eq(b2["attributes"], b["attributes"], "attrs on repeat")
    # string values as SQS clients send them are the same attributes
    st, _, b3 = req("POST", "/api/queues", {"name": "qa-c1", "attributes": {"VisibilityTimeout": "17"}})
    eq(st, 200, "create again with \"17\" (body %r)" % b3)
    # other attributes: 409 and the queue keeps its own
    st, h, b4 = req("POST", "/api/queues", {"name": "qa-c1", "attributes": {"VisibilityTimeout": 18}})
    is_problem(st, h, b4, 409, "create with other attrs")
    eq(req("GET", qpath("qa-c1") + "/attributes")[2]["attributes"]["VisibilityTimeout"], 17,
       "attrs after the 409")
    # without attributes = defaults, which differ from 17: 409 as well
    st, h, b5 = req("POST", "/api/queues", {"name": "qa-c1"})
    is_problem(st, h, b5, 409, "create with default attrs")
    # listed once, with stats
    st, _, lst = req("GET", "/api/queues")
    found = [q for q in lst["queues"] if q["name"] == "qa-c1"]
    eq(len(found), 1, "qa-c1 listed once")
    for k in ("visible", "inFlight", "delayed", "oldestAgeSeconds", "sent", "received", "deleted", "movedToDlq"):
        check(k in found[0]["stats"], "stats lack %r: %r" % (k, found[0]["stats"]))
    eq(counts("qa-c1"), (0, 0, 0), "fresh queue counts")


def test_concurrent_creates():
    """Creates that land in one transaction (a store window batches them):
    identical ones give one 201 and 200s (never 409); at the queue limit the
    server neither exceeds LIMIT_QUEUES_MAX nor crashes."""
    other = Server(env="lim", config={"http": {"threads": 8}, "store": {"windowMicros": 10000}})
    other.start()

    def together(bodies):
        res = []
        lock = threading.Lock()

        def c(body):
            try:
                st = other.request("POST", "/api/queues", body)[0]
            except Exception as e:  # noqa: BLE001 - a dropped connection is the failure shown below
                st = repr(e)[:80]
            with lock:
                res.append(st)

        ts = [threading.Thread(target=c, args=(b,)) for b in bodies]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return sorted(map(str, res))

    try:
        for rnd in range(3):
            name = "race%d" % rnd
            got = together([{"name": name, "attributes": {"VisibilityTimeout": 5}}] * 6)
            eq(got, ["200"] * 5 + ["201"], "statuses of 6 concurrent identical creates")
            lst = other.request("GET", "/api/queues")[2]["queues"]
            eq([q["name"] for q in lst].count(name), 1, "%s listed once" % name)
        # other attributes in the same batch still conflict
        got = together([{"name": "race-x", "attributes": {"VisibilityTimeout": 5}},
                        {"name": "race-x", "attributes": {"VisibilityTimeout": 6}}])
        eq(got, ["201", "409"], "concurrent creates with different attributes")
        n = len(other.request("GET", "/api/queues")[2]["queues"])
        for i in range(255 - n):
            eq(other.request("POST", "/api/queues", {"name": "l%d" % i})[0], 201, "create l%d" % i)
        got = together([{"name": "c%d" % i} for i in range(16)])
        time.sleep(0.2)
        eq(other.proc.poll(), None, "server still running (log: %s)" % other.log_tail(3))
        eq(got, ["201"] + ["400"] * 15, "statuses of 16 concurrent creates at 255 queues")
        eq(len(other.request("GET", "/api/queues")[2]["queues"]), 256, "queues")
    finally:
        other.stop()


def test_redrive_policy_forms():
    create("qa-rpdlq")
    b = create("qa-rp1", {"RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:qa-rpdlq",
                                            "maxReceiveCount": 4}})
    eq(b["attributes"]["RedrivePolicy"], {"deadLetterTargetArn": "qa-rpdlq", "maxReceiveCount": 4}, "ARN form")
    b = create("qa-rp2", {"RedrivePolicy": json.dumps({"deadLetterTargetArn": "qa-rpdlq", "maxReceiveCount": 4})})
    eq(b["attributes"]["RedrivePolicy"], {"deadLetterTargetArn": "qa-rpdlq", "maxReceiveCount": 4},
       "JSON string form")
    eq(req("GET", qpath("qa-rpdlq"))[2]["deadLetterQueue"], True, "target marked as DLQ")
    st, _, b = req("PUT", qpath("qa-rp1") + "/attributes", {"RedrivePolicy": ""})
    eq(st, 200, "remove RedrivePolicy (body %r)" % b)
    check("RedrivePolicy" not in b["attributes"], "RedrivePolicy still set: %r" % b)
    # without a policy a message is delivered any number of times
    send("qa-rp1", "forever")
    for i in range(6):
        eq(len(recv("qa-rp1", visibilityTimeout=0)), 1, "receive %d without a RedrivePolicy" % (i + 1))


def test_stats_track_messages():
    create("qa-st")
    send("qa-st", "a")
    send("qa-st", "b")
    send("qa-st", "c", delaySeconds=60)
    eq(counts("qa-st"), (2, 0, 1), "after 2 sends + 1 delayed")
    s = stats("qa-st")
    eq(s["sent"], 3, "sent counter")
    time.sleep(1.1)
    check(stats("qa-st")["oldestAgeSeconds"] >= 1, "oldestAgeSeconds %r" % stats("qa-st"))
    ms = recv("qa-st", maxNumberOfMessages=1, visibilityTimeout=60)
    eq(len(ms), 1, "received")
    eq(counts("qa-st"), (1, 1, 1), "after receiving one")
    st, _, _ = delete("qa-st", ms[0]["receiptHandle"])
    eq(st, 204, "delete")
    eq(counts("qa-st"), (1, 0, 1), "after delete")
    s = stats("qa-st")
    eq((s["received"], s["deleted"]), (1, 1), "received/deleted counters")


def test_attributes_get_put_take_effect():
    create("qa-attr", {"VisibilityTimeout": 30})
    st, _, b = req("GET", qpath("qa-attr") + "/attributes")
    eq(st, 200, "get attrs")
    eq(b["attributes"]["VisibilityTimeout"], 30, "initial VisibilityTimeout")
    send("qa-attr", "x")
    ms = recv("qa-attr")
    eq(len(ms), 1, "first receive")
    time.sleep(1.2)
    eq(recv("qa-attr"), [], "still invisible with VisibilityTimeout 30")
    # change it to 1 s; the new value governs new receives
    st, _, b = req("PUT", qpath("qa-attr") + "/attributes", {"attributes": {"VisibilityTimeout": 1}})
    eq(st, 200, "put attrs (body %r)" % b)
    eq(b["attributes"]["VisibilityTimeout"], 1, "put answer")
    eq(req("GET", qpath("qa-attr") + "/attributes")[2]["attributes"]["VisibilityTimeout"], 1, "get after put")
    eq(req("GET", qpath("qa-attr"))[2]["attributes"]["VisibilityTimeout"], 1, "queue get after put")
    # make the message visible now, then receive with the new timeout
    st, _, _ = req("POST", qpath("qa-attr") + "/messages/%s/visibility" % ms[0]["receiptHandle"],
                   {"visibilityTimeout": 0})
    eq(st, 204, "visibility 0")
    ms = recv("qa-attr")
    eq(len(ms), 1, "receive after put")
    eq(recv("qa-attr"), [], "invisible right after receive")
    time.sleep(1.3)
    ms2 = recv("qa-attr")
    eq(len(ms2), 1, "visible again after the new 1 s VisibilityTimeout")
    eq(ms2[0]["attributes"]["ApproximateReceiveCount"], "3", "receive count")
    # the bare map form works too and other attributes are kept
    st, _, b = req("PUT", qpath("qa-attr") + "/attributes", {"DelaySeconds": 5})
    eq(st, 200, "put bare map (body %r)" % b)
    eq((b["attributes"]["DelaySeconds"], b["attributes"]["VisibilityTimeout"]), (5, 1), "bare map put")
    send("qa-attr", "delayed-by-queue")
    eq(counts("qa-attr")[2], 1, "queue DelaySeconds delays new sends")


def test_attributes_survive_restart():
    create("qa-persist", {"VisibilityTimeout": 7})
    st, _, _ = req("PUT", qpath("qa-persist") + "/attributes", {"attributes": {"VisibilityTimeout": 9}})
    eq(st, 200, "put")
    send("qa-persist", "kept")
    s = srv()
    s.stop()
    s.start()
    eq(req("GET", qpath("qa-persist") + "/attributes")[2]["attributes"]["VisibilityTimeout"], 9,
       "VisibilityTimeout after restart")
    ms = recv("qa-persist")
    eq([m["body"] for m in ms], ["kept"], "message after restart")


# ---- send / receive ----------------------------------------------------------------


def test_send_single_and_receive_roundtrip():
    create("qa-rt")
    body = "héllo \u2603 {\"json\": true}"
    r = send("qa-rt", body, messageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    import hashlib
    eq(r["md5OfBody"], hashlib.md5(body.encode()).hexdigest(), "md5OfBody")
    ms = recv("qa-rt", maxNumberOfMessages=10)
    eq(len(ms), 1, "one message")
    m = ms[0]
    eq(m["body"], body, "body round trip")
    eq(m["messageId"], r["messageId"], "messageId")
    eq(m["md5OfBody"], r["md5OfBody"], "md5 on receive")
    eq(m["messageAttributes"], {"k": {"DataType": "String", "StringValue": "v"}}, "messageAttributes")
    eq(m["attributes"]["ApproximateReceiveCount"], "1", "first receive count")
    sent = int(m["attributes"]["SentTimestamp"])
    check(abs(sent / 1000 - time.time()) < 60, "SentTimestamp %r" % sent)
    check(int(m["attributes"]["ApproximateFirstReceiveTimestamp"]) >= sent, "first receive >= sent")
    check(m["receiptHandle"], "receipt")


def test_send_batch_per_entry_results():
    create("qa-batch", {"MaximumMessageSize": 1024})
    entries = [{"id": "e%d" % i, "body": "m%d" % i} for i in range(9)]
    entries.append({"id": "big", "body": "x" * 1025})
    st, _, b = req("POST", qpath("qa-batch") + "/messages/batch", {"entries": entries})
    eq(st, 200, "batch (body %r)" % b)
    eq(sorted(e["id"] for e in b["successful"]), sorted("e%d" % i for i in range(9)), "successful ids")
    eq(len(b["failed"]), 1, "one failed")
    f = b["failed"][0]
    eq(f["id"], "big", "failed id")
    eq(f["senderFault"], True, "senderFault")
    check(f.get("code") and f.get("message"), "failed entry lacks code/message: %r" % f)
    for e in b["successful"]:
        check(e.get("messageId") and e.get("md5OfBody"), "successful entry %r" % e)
    eq(counts("qa-batch"), (9, 0, 0), "9 of 10 sent")
    got = []
    for _ in range(5):
        got += [m["body"] for m in recv("qa-batch", maxNumberOfMessages=10)]
        if len(got) >= 9:
            break
    eq(sorted(got), sorted("m%d" % i for i in range(9)), "batch bodies received")
    # per-entry delay
    create("qa-batch2")
    st, _, b = req("POST", qpath("qa-batch2") + "/messages/batch",
                   {"entries": [{"id": "now", "body": "n"}, {"id": "later", "body": "l", "delaySeconds": 60}]})
    eq(st, 200, "batch with delay")
    eq(len(b["successful"]), 2, "both sent")
    eq(counts("qa-batch2"), (1, 0, 1), "one visible one delayed")


def test_receive_max_number_of_messages():
    create("qa-max")
    for i in range(15):
        send("qa-max", "m%d" % i)
    eq(len(recv("qa-max")), 1, "default maxNumberOfMessages is 1")
    ms = recv("qa-max", maxNumberOfMessages=3, visibilityTimeout=60)
    eq(len(ms), 3, "maxNumberOfMessages 3")
    seen = set()
    got = 4
    while got < 15:
        ms = recv("qa-max", maxNumberOfMessages=10, visibilityTimeout=60)
        check(0 < len(ms) <= 10, "receive of up to 10 got %d" % len(ms))
        for m in ms:
            check(m["messageId"] not in seen, "a message was delivered twice while invisible")
            seen.add(m["messageId"])
        got += len(ms)
    eq(got, 15, "all received")
    eq(recv("qa-max", maxNumberOfMessages=10), [], "nothing left visible")
    eq(counts("qa-max"), (0, 15, 0), "all 15 in flight")


def test_visibility_timeout_per_receive():
    create("qa-vis", {"VisibilityTimeout": 60})
    send("qa-vis", "v")
    ms = recv("qa-vis", visibilityTimeout=1)
    eq(len(ms), 1, "receive")
    eq(recv("qa-vis"), [], "invisible")
    time.sleep(1.3)
    ms2 = recv("qa-vis")
    eq(len(ms2), 1, "visible again after the per-receive 1 s")
    eq(ms2[0]["attributes"]["ApproximateReceiveCount"], "2", "receive count 2")
    check(ms2[0]["receiptHandle"] != ms[0]["receiptHandle"], "a new receipt per receive")
    time.sleep(1.3)
    eq(recv("qa-vis"), [], "the queue's 60 s applies without a per-receive value")
    # visibilityTimeout 0 on receive: visible at once
    create("qa-vis0")
    send("qa-vis0", "z")
    eq(len(recv("qa-vis0", visibilityTimeout=0)), 1, "receive vis 0")
    ms = recv("qa-vis0")
    eq(len(ms), 1, "visible at once after vis 0")
    eq(ms[0]["attributes"]["ApproximateReceiveCount"], "2", "count after vis 0")


# ---- delete / visibility ---------------------------------------------------------------


def test_delete_by_receipt_and_stale_receipt():
    create("qa-del")
    send("qa-del", "d")
    m1 = recv("qa-del", visibilityTimeout=1)[0]
    time.sleep(1.3)
    m2 = recv("qa-del", visibilityTimeout=60)[0]
    eq(m2["messageId"], m1["messageId"], "same message re-received")
    # the first receipt is stale now: 4xx problem and the message stays
    st, h, b = delete("qa-del", m1["receiptHandle"])
    check(400 <= st < 500, "stale delete status %r" % st)
    is_problem(st, h, b, st, "stale delete")
    eq(counts("qa-del"), (0, 1, 0), "message still there after the stale delete")
    st, h, b = req("POST", qpath("qa-del") + "/messages/%s/visibility" % m1["receiptHandle"],
                   {"visibilityTimeout": 0})
    check(400 <= st < 500, "stale visibility change status %r" % st)
    is_problem(st, h, b, st, "stale visibility change")
    eq(counts("qa-del"), (0, 1, 0), "still in flight after the stale visibility change")
    # the latest receipt deletes: 204, empty body
    st, h, b = delete("qa-del", m2["receiptHandle"])
    eq(st, 204, "delete with the latest receipt (body %r)" % b)
    eq(b, "", "204 body")
    eq(counts("qa-del"), (0, 0, 0), "gone")
    # deleting again: the message is gone -> 4xx problem
    st, h, b = delete("qa-del", m2["receiptHandle"])
    check(400 <= st < 500, "second delete status %r" % st)
    is_problem(st, h, b, st, "second delete")
    # garbage receipt
    st, h, b = delete("qa-del", "not-a-receipt")
    check(400 <= st < 500, "garbage receipt status %r" % st)
    is_problem(st, h, b, st, "garbage receipt")
    time.sleep(1.3)
    eq(recv("qa-del"), [], "a deleted message never comes back")


def test_delete_after_visibility_expired_not_received_again():
    # SQS: the latest receipt still deletes once the timeout passed, if nobody received it since
    create("qa-del2")
    send("qa-del2", "late delete")
    m = recv("qa-del2", visibilityTimeout=1)[0]
    time.sleep(1.3)
    eq(counts("qa-del2"), (1, 0, 0), "visible again")
    st, _, b = delete("qa-del2", m["receiptHandle"])
    eq(st, 204, "late delete with the latest receipt (body %r)" % (b,))
    eq(counts("qa-del2"), (0, 0, 0), "deleted")


def test_change_visibility_of_visible_message():
    create("qa-chv2")
    send("qa-chv2", "c")
    m = recv("qa-chv2")[0]
    path = qpath("qa-chv2") + "/messages/%s/visibility" % m["receiptHandle"]
    eq(req("POST", path, {"visibilityTimeout": 0})[0], 204, "make visible")
    st, h, b = req("POST", path, {"visibilityTimeout": 60})
    check(400 <= st < 500, "changing a message that is not in flight: status %r" % st)
    is_problem(st, h, b, st, "not in flight")
    eq(counts("qa-chv2"), (1, 0, 0), "still visible")


def test_delete_batch():
    create("qa-delb")
    for i in range(4):
        send("qa-delb", "b%d" % i)
    ms = recv("qa-delb", maxNumberOfMessages=10, visibilityTimeout=60)
    eq(len(ms), 4, "received 4")
    entries = [{"id": "d%d" % i, "receiptHandle": m["receiptHandle"]} for i, m in enumerate(ms[:3])]
    entries.append({"id": "bad", "receiptHandle": "0000"})
    st, _, b = req("POST", qpath("qa-delb") + "/messages/delete", {"entries": entries})
    eq(st, 200, "delete batch (body %r)" % b)
    eq(sorted(e["id"] for e in b["successful"]), ["d0", "d1", "d2"], "successful")
    eq([e["id"] for e in b["failed"]], ["bad"], "failed")
    eq(b["failed"][0]["senderFault"], True, "senderFault")
    eq(counts("qa-delb"), (0, 1, 0), "one left in flight")


def test_change_visibility():
    create("qa-chv", {"VisibilityTimeout": 60})
    send("qa-chv", "c")
    m = recv("qa-chv")[0]
    eq(recv("qa-chv"), [], "invisible")
    path = qpath("qa-chv") + "/messages/%s/visibility" % m["receiptHandle"]
    st, _, b = req("POST", path, {"visibilityTimeout": 0})
    eq(st, 204, "change visibility to 0 (body %r)" % b)
    eq(counts("qa-chv"), (1, 0, 0), "visible after vis 0")
    m2 = recv("qa-chv")[0]
    eq(m2["messageId"], m["messageId"], "same message")
    # extend: a 1 s visibility becomes 60 s
    m3_path = qpath("qa-chv") + "/messages/%s/visibility" % m2["receiptHandle"]
    st, _, _ = req("POST", m3_path, {"visibilityTimeout": 1})
    eq(st, 204, "shorten to 1")
    st, _, _ = req("POST", m3_path, {"visibilityTimeout": 60})
    eq(st, 204, "extend to 60")
    time.sleep(1.3)
    eq(recv("qa-chv"), [], "extended visibility holds")
    # the old receipt cannot change visibility any more
    st, h, b = req("POST", path, {"visibilityTimeout": 0})
    check(400 <= st < 500, "old receipt visibility status %r" % st)
    is_problem(st, h, b, st, "old receipt visibility")
    eq(counts("qa-chv"), (0, 1, 0), "unchanged after the stale change")


def test_delay_seconds():
    create("qa-delay")
    send("qa-delay", "later", delaySeconds=2)
    send("qa-delay", "now")
    eq(counts("qa-delay"), (1, 0, 1), "one delayed")
    eq([m["body"] for m in recv("qa-delay", maxNumberOfMessages=10, visibilityTimeout=60)], ["now"],
       "only the undelayed one")
    t0 = time.time()
    ms = recv("qa-delay", waitTimeSeconds=5)
    took = time.time() - t0
    eq([m["body"] for m in ms], ["later"], "the delayed one after its delay")
    check(0.8 < took < 3.5, "delayed message arrived after %.2fs" % took)
    # DelaySeconds 0 overrides the queue's delay
    create("qa-delay2", {"DelaySeconds": 60})
    send("qa-delay2", "q")
    send("qa-delay2", "z", delaySeconds=0)
    eq(counts("qa-delay2"), (1, 0, 1), "queue delay vs explicit 0")


def test_long_poll_returns_early_on_send():
    create("qa-lp")
    res = {}

    def poll():
        t0 = time.time()
        res["m"] = recv("qa-lp", waitTimeSeconds=10)
        res["t"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    check(th.is_alive(), "long poll returned before any send")
    send("qa-lp", "wake")
    th.join(15)
    check("t" in res, "long poll did not return")
    eq([m["body"] for m in res["m"]], ["wake"], "long poll got the message")
    check(0.4 < res["t"] < 3, "long poll returned after %.2fs" % res["t"])


def test_long_poll_times_out_empty():
    create("qa-lp2")
    t0 = time.time()
    ms = recv("qa-lp2", waitTimeSeconds=2)
    took = time.time() - t0
    eq(ms, [], "empty after the wait")
    check(1.8 <= took < 3.5, "waitTimeSeconds 2 took %.2fs" % took)
    # the queue's ReceiveMessageWaitTimeSeconds is the default wait
    create("qa-lp3", {"ReceiveMessageWaitTimeSeconds": 1})
    t0 = time.time()
    eq(_recv_nowait_field("qa-lp3"), [], "empty")
    took = time.time() - t0
    check(0.8 <= took < 2.5, "queue default wait 1 s took %.2fs" % took)
    t0 = time.time()
    eq(recv("qa-lp3", waitTimeSeconds=0), [], "explicit 0 overrides the queue wait")
    check(time.time() - t0 < 0.5, "explicit waitTimeSeconds 0 waited")


def _recv_nowait_field(q):
    st, _, b = req("POST", qpath(q) + "/receive", {"maxNumberOfMessages": 1})
    eq(st, 200, "receive without waitTimeSeconds (body %r)" % b)
    return b["messages"]


def test_long_poll_other_queue_does_not_wake():
    create("qa-lp4")
    create("qa-lp5")
    res = {}

    def poll():
        t0 = time.time()
        res["m"] = recv("qa-lp4", waitTimeSeconds=2)
        res["t"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.3)
    send("qa-lp5", "elsewhere")
    th.join(10)
    eq(res.get("m"), [], "a send to another queue is not received")
    check(res["t"] >= 1.8, "poll returned after %.2fs" % res["t"])


def test_long_poll_one_send_wakes_one_winner():
    create("qa-lp6")
    out = []
    lock = threading.Lock()

    def poll():
        t0 = time.time()
        ms = recv("qa-lp6", waitTimeSeconds=2, visibilityTimeout=60)
        with lock:
            out.append((len(ms), time.time() - t0))

    ts = [threading.Thread(target=poll) for _ in range(3)]
    for t in ts:
        t.start()
    time.sleep(0.4)
    send("qa-lp6", "only one")
    for t in ts:
        t.join(10)
    out.sort()
    eq([n for n, _ in out], [0, 0, 1], "messages per poller")
    check(out[2][1] < 1.5, "the winner waited %.2fs" % out[2][1])
    for n, t in out[:2]:
        check(1.8 <= t < 3.5, "a loser returned after %.2fs instead of at its 2 s timeout" % t)


def test_long_poll_woken_when_visibility_expires():
    create("qa-lp7")
    send("qa-lp7", "comes back")
    eq(len(recv("qa-lp7", visibilityTimeout=1)), 1, "first receive")
    t0 = time.time()
    ms = recv("qa-lp7", waitTimeSeconds=5)
    took = time.time() - t0
    eq([m["body"] for m in ms], ["comes back"], "received after the visibility timeout")
    check(0.7 < took < 2.5, "woken %.2fs after the poll began (visibility 1 s)" % took)


def test_client_gone_during_long_poll():
    import socket
    create("qa-lp8", {"VisibilityTimeout": 1})
    body = b'{"waitTimeSeconds": 5}'
    c = socket.create_connection(("127.0.0.1", srv().port))
    c.sendall(b"POST /api/queues/qa-lp8/receive HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              + srv().auth_line() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.3)
    c.close()
    time.sleep(0.2)
    send("qa-lp8", "nobody listens")
    eq(req("GET", "/health")[0], 200, "server alive")
    # at worst the dead poll took it for one VisibilityTimeout
    ms = recv("qa-lp8", waitTimeSeconds=3)
    eq([m["body"] for m in ms], ["nobody listens"], "message still receivable")


# ---- dead letters, redrive, purge ---------------------------------------------------------


def make_dlq_pair(src, dlq, max_receive=2):
    create(dlq)
    create(src, {"VisibilityTimeout": 1,
                 "RedrivePolicy": {"deadLetterTargetArn": dlq, "maxReceiveCount": max_receive}})


def exhaust(src, n_msgs, max_receive=2):
    """Receives every message max_receive times, then once more (moves them)."""
    for rnd in range(max_receive):
        got = 0
        deadline = time.time() + 10
        while got < n_msgs and time.time() < deadline:
            ms = recv(src, maxNumberOfMessages=10, waitTimeSeconds=2)
            for m in ms:
                eq(m["attributes"]["ApproximateReceiveCount"], str(rnd + 1), "receive count round %d" % rnd)
            got += len(ms)
        eq(got, n_msgs, "round %d received" % rnd)
        time.sleep(1.2)
    eq(recv(src, maxNumberOfMessages=10, waitTimeSeconds=0), [], "moved instead of delivered")


def test_dlq_move_after_max_receive_count():
    make_dlq_pair("qa-src", "qa-dlq")
    st, _, b = req("GET", qpath("qa-dlq"))
    eq(b["deadLetterQueue"], True, "qa-dlq marked as DLQ")
    r = send("qa-src", "poison")
    exhaust("qa-src", 1)
    eq(counts("qa-src"), (0, 0, 0), "source empty")
    eq(stats("qa-src")["movedToDlq"], 1, "movedToDlq")
    eq(counts("qa-dlq"), (1, 0, 0), "DLQ holds it")
    m = recv("qa-dlq", visibilityTimeout=0)[0]
    eq(m["body"], "poison", "DLQ body")
    eq(m["messageId"], r["messageId"], "DLQ keeps the messageId")
    check(m["attributes"].get("DeadLetterQueueSourceArn", "").endswith(":qa-src"),
          "DeadLetterQueueSourceArn %r" % m["attributes"])
    # the config queue: maxReceiveCount 3
    send("qa-cfg-src", "cfg-poison")
    for i in range(3):
        ms = recv("qa-cfg-src", visibilityTimeout=0)
        eq(len(ms), 1, "cfg receive %d" % (i + 1))
    eq(recv("qa-cfg-src", visibilityTimeout=0), [], "cfg 4th receive moves it")
    eq(counts("qa-cfg-dlq")[0], 1, "cfg DLQ holds it")


def test_redrive_all_and_n():
    make_dlq_pair("qa-src2", "qa-dlq2")
    for i in range(5):
        send("qa-src2", "r%d" % i)
    exhaust("qa-src2", 5)
    eq(counts("qa-dlq2"), (5, 0, 0), "5 in the DLQ")
    st, h, b = req("POST", qpath("qa-dlq2") + "/redrive", {"maxMessages": 2})
    eq((st, b["kind"], b["sourceQueue"], b["messagesToMove"]), (202, "redrive", "qa-dlq2", 2),
       "redrive 2 starts a task (body %r)" % b)
    eq(h["location"], "/api/tasks/" + b["id"], "Location")
    t = task_done(srv(), b)
    eq((t["state"], t["messagesMoved"]), ("COMPLETED", 2), "moved 2")
    eq(counts("qa-dlq2"), (3, 0, 0), "3 left in the DLQ")
    eq(counts("qa-src2"), (2, 0, 0), "2 back in the source")
    ms = recv("qa-src2", maxNumberOfMessages=10, visibilityTimeout=60)
    eq(len(ms), 2, "redriven received")
    for m in ms:
        eq(m["attributes"]["ApproximateReceiveCount"], "1", "redriven receive count restarts")
    # all (no body)
    st, _, b = req("POST", qpath("qa-dlq2") + "/redrive", raw=b"")
    eq(st, 202, "redrive all (body %r)" % b)
    eq(task_done(srv(), b)["messagesMoved"], 3, "moved the rest")
    eq(counts("qa-dlq2"), (0, 0, 0), "DLQ empty")
    eq(counts("qa-src2"), (3, 2, 0), "source: 3 visible + 2 in flight")
    bodies = {m["body"] for m in recv("qa-src2", maxNumberOfMessages=10, visibilityTimeout=60)}
    eq(bodies | {m["body"] for m in ms}, {"r%d" % i for i in range(5)}, "every message came back")
    st, _, b = req("POST", qpath("qa-dlq2") + "/redrive", {})
    eq((st, b.get("messagesToMove")), (202, 0), "redrive of an empty DLQ")
    t = task_done(srv(), b)
    eq((t["state"], t["messagesMoved"]), ("COMPLETED", 0), "nothing to move")


def test_redrive_to_destination():
    make_dlq_pair("qa-src3", "qa-dlq3")
    create("qa-other")
    send("qa-src3", "elsewhere")
    exhaust("qa-src3", 1)
    st, _, b = req("POST", qpath("qa-dlq3") + "/redrive", {"destination": "qa-other"})
    eq(st, 202, "redrive to destination (body %r)" % b)
    eq(task_done(srv(), b)["messagesMoved"], 1, "moved")
    eq([m["body"] for m in recv("qa-other")], ["elsewhere"], "in the destination")
    eq(counts("qa-src3"), (0, 0, 0), "not in the source")


def test_purge():
    create("qa-purge")
    for i in range(3):
        send("qa-purge", "p%d" % i)
    send("qa-purge", "delayed", delaySeconds=60)
    recv("qa-purge", visibilityTimeout=60)
    eq(counts("qa-purge"), (2, 1, 1), "before purge")
    st, _, b = req("POST", qpath("qa-purge") + "/purge", raw=b"")
    eq(st, 200, "purge (body %r)" % b)
    eq(b["purged"], 4, "purged count")
    eq(b["queue"], "qa-purge", "purged queue")
    eq(counts("qa-purge"), (0, 0, 0), "after purge")
    eq(recv("qa-purge", maxNumberOfMessages=10), [], "nothing to receive")
    send("qa-purge", "after")
    eq([m["body"] for m in recv("qa-purge")], ["after"], "usable after purge")


def test_purge_of_a_deep_queue_goes_in_chunks():
    """A purge deletes LIMIT_SWEEP_ROWS (1000) messages a unit: 2,001
    messages take three units (1000, 1000, 1), and exactly 1,000 two (the
    second finds none); the answer counts them all, and what is sent after
    the purge answered stays."""
    for name, n in (("qa-purge-deep", 2001), ("qa-purge-1000", 1000)):
        create(name)
        for k in range(0, n, 10):
            entries = [{"id": "e%d" % i, "body": "m%d" % (k + i)} for i in range(min(10, n - k))]
            st, _, b = req("POST", qpath(name) + "/messages/batch", {"entries": entries})
            eq(st, 200, "batch send")
        eq(counts(name)[0], n, "sent")
        st, _, b = req("POST", qpath(name) + "/purge", raw=b"")
        eq(st, 200, "purge (body %r)" % b)
        eq(b["purged"], n, "purged count of %d" % n)
        eq(counts(name), (0, 0, 0), "after purge")
        send(name, "after")
        eq([m["body"] for m in recv(name)], ["after"], "usable after purge")


def test_unknown_queue_404():
    cases = [
        ("GET", "", None),
        ("GET", "/attributes", None),
        ("PUT", "/attributes", {"VisibilityTimeout": 1}),
        ("POST", "/messages", {"body": "x"}),
        ("POST", "/messages/batch", {"entries": [{"id": "a", "body": "x"}]}),
        ("POST", "/receive", {}),
        ("DELETE", "/messages/00000000000000010000000000000001", None),
        ("POST", "/messages/delete", {"entries": [{"id": "a", "receiptHandle": "x"}]}),
        ("POST", "/messages/abc/visibility", {"visibilityTimeout": 1}),
        ("POST", "/redrive", {}),
        ("POST", "/purge", {}),
    ]
    st, h, b = req("HEAD", "/api/queues")
    eq((st, b), (200, ""), "HEAD /api/queues")
    for method, suffix, body in cases:
        st, h, b = req(method, qpath("qa-nope") + suffix, body)
        is_problem(st, h, b, 404, "%s %s" % (method, suffix))
        check("qa-nope" in b["detail"], "404 detail names the queue: %r" % b["detail"])
    st, _, lst = req("GET", "/api/queues")
    check("qa-nope" not in [q["name"] for q in lst["queues"]], "404 calls created a queue")



def test_attributes_that_would_break_a_consumer_or_loop_are_refused():
    # qa-orders is consumed by the built-in order-processor (timeoutSeconds 1)
    before = req("GET", qpath("qa-orders") + "/attributes")[2]["attributes"]
    st, h, b = req("PUT", qpath("qa-orders") + "/attributes", {"attributes": {"VisibilityTimeout": 0}})
    is_problem(st, h, b, 422, "VisibilityTimeout 0 under a function")
    check("VisibilityTimeout 0 is below the timeoutSeconds (1) of function 'order-processor'" in
          b["errors"][0]["message"], "message %r" % b)
    st, _, b = req("PUT", qpath("qa-orders") + "/attributes", {"attributes": {"VisibilityTimeout": 1}})
    eq(st, 200, "VisibilityTimeout 1 is enough (body %r)" % b)
    st, _, _ = req("PUT", qpath("qa-orders") + "/attributes",
                   {"attributes": {"VisibilityTimeout": before["VisibilityTimeout"]}})
    eq(st, 200, "restore")
    # qa-orders dead-letters to qa-orders-dlq: the reverse would be a cycle
    st, h, b = req("PUT", qpath("qa-orders-dlq") + "/attributes",
                   {"attributes": {"RedrivePolicy": {"deadLetterTargetArn": "qa-orders", "maxReceiveCount": 3}}})
    is_problem(st, h, b, 422, "a redrive cycle")
    check("a cycle" in b["errors"][0]["message"], "message %r" % b)
    eq(req("GET", qpath("qa-orders-dlq") + "/attributes")[2]["attributes"].get("RedrivePolicy"), None,
       "nothing changed")
    # a longer cycle: qa-cfg-src -> qa-cfg-dlq -> qa-cyc-x -> qa-cfg-src
    create("qa-cyc-x", {"RedrivePolicy": {"deadLetterTargetArn": "qa-cfg-src", "maxReceiveCount": 2}})
    st, h, b = req("PUT", qpath("qa-cfg-dlq") + "/attributes",
                   {"attributes": {"RedrivePolicy": {"deadLetterTargetArn": "qa-cyc-x", "maxReceiveCount": 2}}})
    is_problem(st, h, b, 422, "a three-queue cycle")

run(globals())
