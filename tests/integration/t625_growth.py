"""t625_growth.py - nothing grows without a bound a client can push
(issue 11 part 1): the catalog has a most (LIMIT_PRODUCTS_MAX) and
GET /api/products pages; an order's timeline pages; the event log keeps
events.retentionDays (at least LIMIT_EVENT_RETENTION_DAYS_MIN, longer than a
message lives) and the sweep deletes what is older - at start and every 30 s.
Each limit at the limit and one past it."""
import datetime
import json
import os
import shutil
import subprocess
import threading
import time

from harness import logged_envelope, temp_dir, BIN, LIMITS, Server, check, db_rows, eq, is_problem, ok, run, uniq, wait_for


def product(sku, stock=10):
    return {"sku": sku, "name": "Thing " + sku, "priceCents": 100, "stock": stock}


def page_all(srv, path, key, limit, field):
    """Follows nextCursor from the first page to the last; the items' field."""
    got, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        url = "%s%slimit=%d" % (path, sep, limit) + ("&cursor=" + cursor if cursor else "")
        b = ok(srv, "GET", url)
        got += [x[field] for x in b[key]]
        pages += 1
        check(len(b[key]) <= limit, "a page holds at most limit")
        cursor = b.get("nextCursor")
        if not cursor:
            return got, pages
        check(pages < 10000, "paging ends")


def test_products_page():
    with Server() as srv:
        skus = sorted("PG-%03d" % i for i in range(25))
        for s in skus:
            ok(srv, "POST", "/api/products", product(s), 201)
        everything = ok(srv, "GET", "/api/products")["products"]
        check(len(everything) <= LIMITS["PRODUCT_PAGE_DEFAULT"], "the default page")
        want = sorted(p["sku"] for p in everything)
        for limit in (1, 7, 25, LIMITS["PRODUCT_PAGE_MAX"]):
            got, pages = page_all(srv, "/api/products", "products", limit, "sku")
            eq(got, want, "every product once, by sku, limit %d" % limit)
            check(pages >= (len(want) + limit - 1) // limit, "pages for limit %d" % limit)
        for bad in ("0", str(LIMITS["PRODUCT_PAGE_MAX"] + 1), "x", "", "-1"):
            st, h, b = srv.request("GET", "/api/products?limit=" + bad)
            is_problem(st, h, b, 400, "limit=%r" % bad)
        st, h, b = srv.request("GET", "/api/products?cursor=" + "A" * (LIMITS["ORDER_SKU_MAX"] + 1))
        is_problem(st, h, b, 400, "a cursor longer than a sku")
        eq(ok(srv, "GET", "/api/products?cursor=" + want[-1])["products"], [], "past the last sku: nothing")


def test_catalog_most():
    """LIMIT_PRODUCTS_MAX products: the last one is taken, one more is 400
    limit-exceeded (POST and a creating PUT); changing a product still works;
    a catalog file past the most refuses to start."""
    most = LIMITS["PRODUCTS_MAX"]
    d = temp_dir("orderly-it-")
    catalog = os.path.join(d, "big-catalog.json")
    with open(catalog, "w") as f:
        json.dump({"products": [product("C%06d" % i) for i in range(most - 1)]}, f)
    with Server(env="most", data_dir=d, extra_args=["--catalog", catalog]) as srv:
        ok(srv, "POST", "/api/products", product("LAST"), 201)  # the most-th
        for method, path, body in (("POST", "/api/products", product("ONE-MORE")),
                                   ("PUT", "/api/products/ONE-MORE", product("ONE-MORE"))):
            st, h, b = srv.request(method, path, body)
            is_problem(st, h, b, 400, "%s past the most" % method)
            eq(b["type"].rsplit("/", 1)[-1], "limit-exceeded", "slug")
            check(str(most) in b["detail"], "the detail names the most: %r" % b["detail"])
        eq(srv.request("GET", "/api/products/ONE-MORE")[0], 404, "nothing was created")
        ok(srv, "PUT", "/api/products/LAST", {"stock": 99})
        ok(srv, "DELETE", "/api/products/C000000", want=204)
        ok(srv, "POST", "/api/products", product("ONE-MORE"), 201)  # room again
        eq(srv.stop(), 0, "exit")
        # a catalog that would pass the most: the node does not start, the database is unchanged
        with open(catalog, "w") as f:
            json.dump([product("NEW-%d" % i) for i in range(2)], f)
        srv.proc = subprocess.Popen(srv.args(), env=srv.process_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        _, err = srv.proc.communicate(timeout=60)
        check(srv.proc.returncode != 0, "refused to start")
        check(b"the most it may" in err, "says why: %r" % err[-300:])
        srv.proc = None
        n = db_rows(srv, "SELECT count(*) FROM products WHERE sku LIKE 'NEW-%'")[0][0]
        eq(int(n), 0, "no product of the refused catalog")
    shutil.rmtree(d)


def test_timeline_pages():
    with Server(env="tl") as srv:
        ok(srv, "POST", "/api/products", product("TL-1", 100), 201)
        oid = ok(srv, "POST", "/api/orders", {"customerId": "c-tl", "items": [{"sku": "TL-1", "qty": 1}]}, 202)["orderId"]
        wait_for("completed", lambda: ok(srv, "GET", "/api/orders/" + oid)["status"] == "COMPLETED")
        # its NotificationSent comes after COMPLETED
        wait_for("notified", lambda: len(ok(srv, "GET", "/api/orders/%s/events" % oid)["notifications"]) == 1)
        whole = ok(srv, "GET", "/api/orders/%s/events" % oid)
        ids = [e["eventId"] for e in whole["events"]]
        check(len(ids) >= 4 and "nextCursor" not in whole, "a whole timeline: %d events" % len(ids))
        for limit in (1, 2, 3):
            got, pages = page_all(srv, "/api/orders/%s/events" % oid, "events", limit, "eventId")
            eq(got, ids, "the timeline paged by %d" % limit)
        got, _ = page_all(srv, "/api/orders/%s/events" % oid, "events", LIMITS["TIMELINE_PAGE_MAX"], "eventId")
        eq(got, ids, "at the most")
        for bad in ("limit=0", "limit=%d" % (LIMITS["TIMELINE_PAGE_MAX"] + 1), "cursor=x", "cursor=-5", "cursor="):
            st, h, b = srv.request("GET", "/api/orders/%s/events?%s" % (oid, bad))
            is_problem(st, h, b, 400, bad)


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_event_retention():
    lo = LIMITS["EVENT_RETENTION_DAYS_MIN"]
    for days, good in ((lo - 1, False), (lo, True), (LIMITS["EVENT_RETENTION_DAYS_MAX"], True),
                       (LIMITS["EVENT_RETENTION_DAYS_MAX"] + 1, False)):
        p = subprocess.run([BIN, "serve", "--env", "r", "--print-config"], capture_output=True,
                           env=dict(os.environ, ORDERLY_EVENTS_RETENTION_DAYS=str(days)))
        eq(p.returncode == 0, good, "events.retentionDays %d" % days)
        if good:
            eq(json.loads(p.stdout)["events"]["retentionDays"], days, "printed")
    with Server(env="ret", config={"events": {"retentionDays": lo}}) as srv:
        now = int(time.time() * 1000)
        day = 86400000
        tag = uniq("ret")
        entries = [{"Source": "shop.test", "DetailType": tag, "Detail": {"n": i}, "Time": iso(now - d * day)}
                   for i, d in enumerate((lo + 5, lo + 1, lo - 1, 1))]
        b = ok(srv, "POST", "/api/events", {"Entries": entries})
        eq(b["FailedEntryCount"], 0, "put")
        ok(srv, "POST", "/api/products", product("RET-1", 100), 201)
        oid = ok(srv, "POST", "/api/orders", {"customerId": "c-ret", "items": [{"sku": "RET-1", "qty": 1}]},
                 202)["orderId"]
        wait_for("completed", lambda: ok(srv, "GET", "/api/orders/" + oid)["status"] == "COMPLETED")
        before = ok(srv, "GET", "/api/orders/%s/events" % oid)["events"]
        srv.restart()  # the sweep runs at start (just after the node answers /ready: wait for it)

        def left():
            return sorted(logged_envelope(r[0])["detail"]["n"] for r in
                          db_rows(srv, "SELECT envelope FROM events WHERE detail_type=?", tag))
        try:
            wait_for("the start-up sweep", lambda: len(left()) <= 2, timeout=10)
        except AssertionError:
            pass  # the check below says what is left
        eq(left(), [2, 3], "events older than %d days deleted, younger kept" % lo)
        eq(ok(srv, "GET", "/api/orders/%s/events" % oid)["events"], before, "a young order's timeline whole")


def test_queue_depth_most():
    """store.queueDepthMax: a queue holding the most messages refuses the next
    send (503 queue-full, Retry-After), per entry in a batch; a delete makes
    room again within about a second; after a restart the bound holds from the
    first send (the queues are counted before serving)."""
    most = 5
    data = temp_dir("orderly-t625-depth-")
    try:
        env = {"ORDERLY_STORE_QUEUE_DEPTH_MAX": str(most)}
        with Server(env_vars=env, data_dir=data) as srv:
            ok(srv, "POST", "/api/queues", {"name": "deep"}, 201)
            q = "/api/queues/deep"
            for i in range(most):
                ok(srv, "POST", q + "/messages", {"body": "m%d" % i})
            st, h, b = srv.request("POST", q + "/messages", {"body": "one past"})
            is_problem(st, h, b, 503, "a send past the most")
            eq(b["type"].rsplit("/", 1)[-1], "queue-full", "the problem type")
            check(h.get("retry-after"), "Retry-After on queue-full")
            b = ok(srv, "POST", q + "/messages/batch", {"entries": [{"id": "a", "body": "x"}, {"id": "b", "body": "y"}]})
            eq([f["code"] for f in b.get("failed", [])], ["queue-full", "queue-full"], "batch entries refused")
            s = ok(srv, "GET", q)["stats"]
            eq(s["visible"] + s["inFlight"] + s["delayed"], most, "the queue holds the most, no more")
            got = ok(srv, "POST", q + "/receive", {"maxNumberOfMessages": 1, "waitTimeSeconds": 0})["messages"]
            eq(len(got), 1, "one received")
            st, _, _ = srv.request("DELETE", q + "/messages/" + got[0]["receiptHandle"])
            check(st in (200, 204), "delete: %d" % st)
            wait_for("a delete makes room again",
                     lambda: srv.request("POST", q + "/messages", {"body": "room again"})[0] == 200, timeout=5)
            st, h, b = srv.request("POST", q + "/messages", {"body": "full again"})
            is_problem(st, h, b, 503, "full again at the most")
        with Server(env_vars=env, data_dir=data) as srv:
            q = "/api/queues/deep"
            st, h, b = srv.request("POST", q + "/messages", {"body": "after restart"})
            is_problem(st, h, b, 503, "the bound holds from the first send after a restart")
        print("queue depth: %d held, the next refused, room again after a delete, and after a restart" % most)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_delete_queue():
    """DELETE /api/queues/{name} (SQS DeleteQueue): 204, gone at once (404
    for reads and sends, a long poll on it ends), its messages removed by the
    sweep (at the next start here), the same name created again starts empty
    with a new id; refused (409) for a queue of the configured topology and
    for another queue's DLQ; nothing changes on a refusal."""
    with Server() as srv:
        ok(srv, "POST", "/api/queues", {"name": "doomed"}, 201)
        for i in range(3):
            ok(srv, "POST", "/api/queues/doomed/messages", {"body": "m%d" % i})
        qid = int(db_rows(srv, "SELECT id FROM queues WHERE name=?", "doomed")[0][0])
        ok(srv, "POST", "/api/queues", {"name": "doomed-empty"}, 201)
        result = {}

        def poll():
            result["st"] = srv.request("POST", "/api/queues/doomed-empty/receive", {"waitTimeSeconds": 20},
                                       timeout=30)[0]
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        t0 = time.time()
        st, _, _ = srv.request("DELETE", "/api/queues/doomed-empty")
        eq(st, 204, "delete the polled queue")
        t.join(25)
        check(not t.is_alive() and time.time() - t0 < 5, "the long poll ended with the queue")
        eq(result.get("st"), 404, "the long poll's answer")
        st, _, _ = srv.request("DELETE", "/api/queues/doomed")
        eq(st, 204, "delete")
        for m, path, body in (("GET", "/api/queues/doomed", None),
                              ("POST", "/api/queues/doomed/messages", {"body": "late"}),
                              ("POST", "/api/queues/doomed/receive", {"waitTimeSeconds": 0}),
                              ("DELETE", "/api/queues/doomed", None)):
            st, h, b = srv.request(m, path, body)
            is_problem(st, h, b, 404, "%s %s after the delete" % (m, path))
        check("doomed" not in [q["name"] for q in ok(srv, "GET", "/api/queues")["queues"]], "not listed")
        ok(srv, "POST", "/api/queues", {"name": "doomed"}, 201)
        s = ok(srv, "GET", "/api/queues/doomed")["stats"]
        eq(s["visible"] + s["inFlight"] + s["delayed"], 0, "the same name again starts empty")
        nid = int(db_rows(srv, "SELECT id FROM queues WHERE name=?", "doomed")[0][0])
        check(nid != qid, "a new id (%d, the old %d)" % (nid, qid))
        # refused: the topology's queues, another queue's DLQ
        ok(srv, "POST", "/api/queues", {"name": "dl-target"}, 201)
        ok(srv, "POST", "/api/queues", {"name": "dl-source", "attributes": {
            "RedrivePolicy": {"deadLetterTargetArn": "dl-target", "maxReceiveCount": 3}}}, 201)
        st, h, b = srv.request("DELETE", "/api/queues/dl-target")
        is_problem(st, h, b, 409, "the DLQ of another queue")
        check("dl-source" in b.get("detail", ""), "the detail names the queue: %r" % b)
        topo = [q["name"] for q in ok(srv, "GET", "/api/queues")["queues"] if q["name"].endswith("-orders")]
        check(topo, "a queue of the built-in topology")
        st, h, b = srv.request("DELETE", "/api/queues/" + topo[0])
        is_problem(st, h, b, 409, "a queue of the configured topology")
        ok(srv, "GET", "/api/queues/" + topo[0])
        ok(srv, "GET", "/api/queues/dl-target")
        left = int(db_rows(srv, "SELECT count(*) FROM messages WHERE queue_id=?", qid)[0][0])
        srv.restart()
        wait_for("the deleted queue's messages removed",
                 lambda: int(db_rows(srv, "SELECT count(*) FROM messages WHERE queue_id=?", qid)[0][0]) == 0, timeout=20)
        wait_for("its tombstone dropped",
                 lambda: int(db_rows(srv, "SELECT count(*) FROM queues_deleted", )[0][0]) == 0, timeout=20)
        print("delete queue: 204, long poll ended, 404 after, re-created empty (id %d -> %d), %d messages left "
              "before the sweep, 0 after; 409 for a DLQ and the topology" % (qid, nid, left))


if __name__ == "__main__":
    run(globals())
