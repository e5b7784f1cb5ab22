"""t450: admission control (issue 12).

A server whose admission budget is 1 ms of queued work (store.admissionBacklogMs)
is flooded with new orders from many connections: some are answered 503
overloaded (problem+json, Retry-After), and a refused order does not exist;
every accepted order completes.  The refusals are counted
(orderly_admission_refused_total) and raise the intake-refused alarm.  When
the flood stops the server admits orders again.  A server with the budget
off (0) refuses nothing under the same flood.  Every wait is a poll with a
deadline; nothing is timed for speed.
"""
import json
import os
import threading
import time
from harness import Server, do_request, run, check, eq, is_problem, ok, wait_for, shipped_config

THREADS = 48
FLOOD_S = 20      # at most: the flood stops once refusals were seen
SKUS = ["ADM-%d" % i for i in range(8)]


def make_config(data_dir, budget_ms):
    cfg = shipped_config()
    catalog = os.path.join(data_dir, "catalog.json")
    with open(catalog, "w") as f:
        json.dump({"products": [{"sku": s, "name": s, "priceCents": 100, "stock": 10 ** 9} for s in SKUS]}, f)
    cfg["orders"]["catalog"] = catalog
    cfg.setdefault("store", {})["admissionBacklogMs"] = budget_ms
    cfg["alarmSampleSeconds"] = 1
    # the built-in intake-refused alarm, with a short period to be seen soon
    for a in cfg["alarms"]:
        if a["name"] == "intake-refused":
            a["periodSeconds"] = 5
    return cfg


def flood(srv, stop_when_refused=True):
    """THREADS clients POST orders until refusals were seen (or FLOOD_S);
    returns (accepted order ids, refused (status, headers, body) samples)."""
    accepted, refused, bad = [], [], []
    lock = threading.Lock()
    stop = threading.Event()
    end = time.time() + FLOOD_S

    def client(n):
        c = srv.conn(timeout=30)
        i = 0
        while not stop.is_set() and time.time() < end:
            body = {"customerId": "adm-%d" % n, "items": [{"sku": SKUS[(n + i) % len(SKUS)], "qty": 1}]}
            i += 1
            try:
                st, h, b = do_request(c, "POST", "/api/orders", body)
            except OSError as e:
                with lock:
                    bad.append(repr(e))
                c.close()
                c = srv.conn(timeout=30)
                continue
            with lock:
                if st == 202:
                    accepted.append(b["orderId"])
                elif st == 503:
                    refused.append((st, h, b))
                    if stop_when_refused and len(refused) >= 20:
                        stop.set()
                else:
                    bad.append((st, b))
        c.close()

    ts = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    eq(bad, [], "every answer is 202 or 503")
    return accepted, refused


def metric(srv, name):
    st, _, text = srv.request("GET", "/metrics")
    eq(st, 200, "metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_flood_is_refused_with_503_then_admitted_again():
    srv = Server(env="adm", config=None)
    srv.config = None
    cfg = make_config(srv.data_dir, 1)
    path = os.path.join(srv.data_dir, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    srv.config = path
    with srv:
        accepted, refused = flood(srv)
        check(refused, "a flood over a 1 ms budget gets 503s (accepted %d)" % len(accepted))
        check(accepted, "and some orders were accepted")
        for st, h, b in refused[:5]:
            is_problem(st, h, b, 503, "a refusal")
            eq(b["type"], "https://orderly.dev/problems/overloaded", "problem type")
            eq(h.get("retry-after"), "1", "Retry-After")
            check("ms of work queued" in b.get("detail", ""), "detail says why: %r" % b.get("detail"))
        n = metric(srv, "orderly_admission_refused_total")
        check(n is not None and n >= len(refused), "refusals counted: %r >= %d" % (n, len(refused)))
        check(metric(srv, "orderly_store_backlog_seconds") is not None, "backlog gauge exposed")
        def alarmed():
            st, _, b = srv.request("GET", "/api/alarms/intake-refused")
            return st == 200 and b.get("state") == "ALARM"
        wait_for("the intake-refused alarm", alarmed, timeout=20, interval=0.2)
        # the flood is over: the writer catches up and new orders are admitted
        got = []

        def admitted():
            st, _, b = srv.request("POST", "/api/orders",
                                   {"customerId": "after", "items": [{"sku": SKUS[0], "qty": 1}]})
            if st == 202:
                got.append(b["orderId"])
            return st == 202
        wait_for("an order admitted after the flood", admitted, timeout=30, interval=0.2)
        # accepted orders all complete; refused ones were never created
        everything = accepted + got

        def all_done():
            for oid in everything[-50:] + everything[:50]:
                st, _, o = srv.request("GET", "/api/orders/" + oid)
                if st != 200 or o["status"] != "COMPLETED":
                    return False
            return True
        wait_for("accepted orders completed", all_done, timeout=60, interval=0.2)
        st, _, s = srv.request("GET", "/api/stats")
        eq(st, 200, "stats")
        eq(s["total_orders"], len(everything), "orders = accepted, none from a refusal")

        print("accepted %d, refused %d, admitted again after the flood" % (len(accepted), len(refused)))


def test_budget_off_refuses_nothing():
    srv = Server(env="adm0", config=None)
    cfg = make_config(srv.data_dir, 0)
    path = os.path.join(srv.data_dir, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    srv.config = path
    global FLOOD_S
    saved, FLOOD_S = FLOOD_S, 3
    try:
        with srv:
            accepted, refused = flood(srv, stop_when_refused=False)
            eq(len(refused), 0, "no refusal with admission control off")
            check(accepted, "orders accepted")
            eq(metric(srv, "orderly_admission_refused_total"), 0.0, "nothing counted")
    finally:
        FLOOD_S = saved


run(globals())
