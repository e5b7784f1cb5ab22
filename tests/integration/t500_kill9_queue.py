"""t500: durability under kill -9. Eight clients send at least 20,000
messages over HTTP while the server is SIGKILLed at random moments at least 10
times and restarted. Every message answered 2xx must be present afterwards;
once received and deleted (2xx), none may come back, even after another kill.
"""
import http.client
import random
import threading
import time
from harness import Server, run, check, eq, do_request

TARGET = 20000
KILLS = 10
CLIENTS = 8
CONFIG = {"queues": [{"name": "soak", "attributes": {"VisibilityTimeout": 300}}]}


def test_kill9_acked_messages_survive():
    srv = Server(env="crash", config=CONFIG)
    srv.start()
    qpath = "/api/queues/crash-soak/messages"
    acked = set()
    lock = threading.Lock()
    stop = threading.Event()
    errors = [0]

    def client(cid):
        seq = 0
        conn = None
        while not stop.is_set():
            body = "m-%d-%d" % (cid, seq)
            seq += 1
            try:
                if conn is None:
                    conn = srv.conn(timeout=5)
                st, _, _ = do_request(conn, "POST", qpath, {"body": body})
                if st == 200:
                    with lock:
                        acked.add(body)
                elif st >= 500:
                    time.sleep(0.01)
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    kills = 0
    deadline = time.time() + 240
    while (kills < KILLS or len(acked) < TARGET) and time.time() < deadline:
        time.sleep(random.uniform(0.2, 1.2))
        srv.kill9()
        kills += 1
        srv.start()
    stop.set()
    for t in threads:
        t.join()
    check(kills >= KILLS, "only %d kills" % kills)
    check(len(acked) >= TARGET, "only %d acked in time" % len(acked))

    srv.kill9()
    srv.start()
    present = {}
    receipts = []
    c = srv.conn()
    while True:
        st, _, b = do_request(c, "POST", "/api/queues/crash-soak/receive",
                              {"maxNumberOfMessages": 10, "waitTimeSeconds": 0, "visibilityTimeout": 600})
        eq(st, 200, "receive")
        if not b["messages"]:
            break
        for m in b["messages"]:
            present[m["body"]] = present.get(m["body"], 0) + 1
            receipts.append(m["receiptHandle"])
        entries = [{"id": str(i), "receiptHandle": m["receiptHandle"]} for i, m in enumerate(b["messages"])]
        st, _, d = do_request(c, "POST", "/api/queues/crash-soak/messages/delete", {"entries": entries})
        eq(st, 200, "delete batch")
        eq(len(d["failed"]), 0, "delete failures")
    c.close()
    lost = [m for m in acked if m not in present]
    dup_in_drain = sum(1 for v in present.values() if v > 1)

    # deleted means gone, also across another crash
    srv.kill9()
    srv.start()
    st, _, b = srv.request("POST", "/api/queues/crash-soak/receive",
                           {"maxNumberOfMessages": 10, "waitTimeSeconds": 0})
    eq(st, 200, "receive after delete")
    back = len(b["messages"])
    st, _, s = srv.request("GET", "/api/queues/crash-soak")
    left = s["stats"]["visible"] + s["stats"]["inFlight"] + s["stats"]["delayed"]
    srv.stop()
    print("kills %d, client errors %d, acked %d, present %d, unacked-but-present %d, "
          "lost %d, duplicated-after-delete %d" % (
              kills, errors[0], len(acked), sum(1 for m in acked if m in present),
              len(present) - sum(1 for m in acked if m in present), len(lost), back + left))
    print("acked %d, present %d, lost %d, duplicated-after-delete %d" % (
        len(acked), sum(1 for m in acked if m in present), len(lost), back + left))
    eq(len(lost), 0, "acknowledged messages lost (e.g. %r)" % lost[:5])
    eq(dup_in_drain, 0, "messages delivered twice within one drain")
    eq(back + left, 0, "deleted messages came back")


run(globals())
