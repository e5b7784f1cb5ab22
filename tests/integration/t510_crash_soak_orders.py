"""t510: crash soak of the order flow (issue 3, acceptance "Crash soak").

Eight clients submit at least 20,000 orders over POST /api/orders, each with
its own Idempotency-Key, while the server is SIGKILLed at random moments at
least 25 times and restarted (on PostgreSQL, ORDERLY_TEST_DB=postgres: 6,000
orders and 15 kills, see TARGET).  A client that gets no answer (connection
error, timeout, 5xx) retries with the SAME key and body until it gets a 2xx
or 4xx, as a real client would.  The mix: mostly tok_visa, some
tok_chargeDeclined (PAYMENT_FAILED), some tok_processingError (retried by the
payment processor), multi-item orders, a scarce sku that runs out
(REJECTED out_of_stock), unknown skus (REJECTED unknown_sku), orders over the
unit limit (REJECTED order_limit) and a few cancels.  A few times during the
run the stock is raised (PUT /api/products/{sku}) in a quiet window: clients
paused, no order PENDING or RESERVED, so stock only moves by the restock;
the PUT sets an absolute value computed from the value just read, so a retry
after a lost answer (one restock is deliberately followed by a kill before
its answer is read) is idempotent, and the value is read back.

After the last restart (no more kills) every order must become terminal,
then:
  acknowledged orders lost   every orderId a client got a 2xx for exists
  orders never requested     every order was created by a client request,
                             one order per Idempotency-Key (customerId names
                             the key), with the items that key sent
  payments captured twice    no order has two PaymentRequested, two
                             OrderCompleted, or both OrderCompleted and
                             PaymentFailed in its timeline; COMPLETED orders
                             have exactly one OrderCompleted; units of
                             COMPLETED orders = sold, per sku
  inventory                  initial + acknowledged restocks = stock + sold,
                             reserved = 0, for every sku
"""
import http.client
import json
import os
import random
import shutil
import threading
import time
from harness import PG, Server, run, check, eq, do_request, SRC, shipped_config

# one node on PostgreSQL is slower and restarts slower than on SQLite: its
# soak is shorter by default (t520_pg_cluster_faults runs the 20,000 orders
# on three PostgreSQL nodes); SOAK_ORDERS / SOAK_KILLS set either
TARGET = int(os.environ.get("SOAK_ORDERS", "6000" if PG else "20000"))
KILLS = int(os.environ.get("SOAK_KILLS", "15" if PG else "25"))
CLIENTS = 8
BUDGET_S = 600          # the whole test
DRAIN_S = 120           # after the last restart, all orders terminal within
BIG_STOCK = 1000000
BIG_SKUS = ["SOAK-A", "SOAK-B", "SOAK-C", "SOAK-D", "SOAK-E"]
SCARCE = "SOAK-SCARCE"  # runs out: out_of_stock rejections
SCARCE_STOCK = 300
UNKNOWN = "SOAK-NOPE"   # never in the catalog: unknown_sku
TERMINAL = {"COMPLETED", "REJECTED", "PAYMENT_FAILED", "FAILED", "EXPIRED", "CANCELLED"}
T0 = time.time()
DEADLINE = T0 + BUDGET_S


class Abort(Exception):
    pass


def left():
    if time.time() > DEADLINE:
        raise Abort("test budget of %ds exceeded" % BUDGET_S)
    return DEADLINE - time.time()


def make_config(dir_):
    cfg = shipped_config()
    catalog = {"products": [{"sku": s, "name": "Soak " + s, "priceCents": 100 + 10 * i, "stock": BIG_STOCK}
                            for i, s in enumerate(BIG_SKUS)]}
    catalog["products"].append({"sku": SCARCE, "name": "Scarce", "priceCents": 999, "stock": SCARCE_STOCK})
    path = os.path.join(dir_, "soak-catalog.json")
    with open(path, "w") as f:
        json.dump(catalog, f)
    cfg["orders"]["catalog"] = path
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 500}
    for q in cfg["queues"]:
        if "RedrivePolicy" in q["attributes"]:
            q["attributes"]["VisibilityTimeout"] = 5
            # a kill can make a message be received without completing:
            # crashes alone must not dead-letter anything
            q["attributes"]["RedrivePolicy"]["maxReceiveCount"] = 20
    return cfg, {p["sku"]: p["stock"] for p in catalog["products"]}


def make_order(rnd, cid, seq, run_id):
    """(key, body, cancel?) for one order; the customerId names the key."""
    key = "soak-%s-%d-%d" % (run_id, cid, seq)
    r = rnd.random()
    token = "tok_visa"
    if r < 0.80:
        n = 1 if rnd.random() < 0.7 else rnd.randint(2, 3)
        items = [{"sku": s, "qty": rnd.randint(1, 5)} for s in rnd.sample(BIG_SKUS, n)]
    elif r < 0.87:
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 5)}]
        token = "tok_chargeDeclined"
    elif r < 0.92:
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 5)}]
        token = "tok_processingError"
    elif r < 0.96:  # scarce: completes until sold out, then out_of_stock
        items = [{"sku": SCARCE, "qty": rnd.randint(1, 4)}]
        if rnd.random() < 0.5:
            items.append({"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 3)})
    elif r < 0.975:  # unknown sku (all or nothing: the known item is not reserved)
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": 1}, {"sku": UNKNOWN, "qty": 1}]
    elif r < 0.985:  # over the business limit (maxUnitsPerOrder 1000)
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1001, 10000)}]
    else:            # cancelled right after creation
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 5)}]
        body = {"customerId": "c-" + key, "items": items, "payment": {"token": token}}
        return key, body, True
    body = {"customerId": "c-" + key, "items": items}
    if token != "tok_visa" or rnd.random() < 0.5:
        body["payment"] = {"token": token}
    return key, body, False


class Client:
    """One keep-alive connection; call() retries until it gets a 2xx/4xx."""

    def __init__(self, srv, stats):
        self.srv = srv
        self.conn = None
        self.stats = stats

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        while True:
            left()
            try:
                if self.conn is None:
                    self.conn = self.srv.conn(timeout=10)
                st, h, b = do_request(self.conn, method, path, body, headers)
                if st < 500:
                    return st, h, b
                self.stats["5xx"] += 1
                time.sleep(0.02)
            except (OSError, http.client.HTTPException, ValueError):
                self.stats["conn_errors"] += 1
                self.close()
                time.sleep(0.02)
            self.stats["retries"] += 1


def get_json(cl, path):
    st, _, b = cl.call("GET", path)
    eq(st, 200, "GET " + path)
    return b


def count_status(cl, status):
    return len(get_json(cl, "/api/orders?status=%s&limit=100" % status)["orders"])


def list_all_orders(cl):
    out, cursor = [], None
    while True:
        path = "/api/orders?limit=100" + ("&cursor=" + cursor if cursor else "")
        b = get_json(cl, path)
        out.extend(b["orders"])
        cursor = b.get("nextCursor")
        if not cursor:
            return out


def products(cl):
    return {p["sku"]: p for p in get_json(cl, "/api/products")["products"]}


def test_crash_soak_orders():
    srv = Server(env="soak")
    cfg, initial = make_config(srv.data_dir)
    with open(os.path.join(srv.data_dir, "config.json"), "w") as f:
        json.dump(cfg, f)
    srv.config = os.path.join(srv.data_dir, "config.json")
    run_id = "%x" % random.getrandbits(32)
    seed = int(os.environ.get("SOAK_SEED", str(random.getrandbits(32))))
    print("seed %d, data %s" % (seed, srv.data_dir), flush=True)
    master = random.Random(seed)

    # watchdog: whatever happens, the process ends within the budget
    def watchdog():
        while time.time() < DEADLINE + 30:
            time.sleep(1)
        print("ABORT: watchdog after %ds" % (BUDGET_S + 30), flush=True)
        srv.kill9()
        os._exit(2)
    threading.Thread(target=watchdog, daemon=True).start()

    srv.start()
    ctl_stats = {"5xx": 0, "conn_errors": 0, "retries": 0}
    ctl = Client(srv, ctl_stats)
    p0 = products(ctl)
    for sku, stock in initial.items():
        eq(p0[sku]["stock"], stock, sku + " initial stock")
        eq(p0[sku]["sold"], 0, sku + " initial sold")

    lock = threading.Lock()
    stop = threading.Event()
    running = threading.Event()
    running.set()
    parked = [0]
    answered = [0]
    per_client = [None] * CLIENTS
    failures = []

    def client(cid):
        rnd = random.Random(seed * 100 + cid)
        st_ = {"5xx": 0, "conn_errors": 0, "retries": 0}
        cl = Client(srv, st_)
        mine = {"keys": {}, "acked": {}, "status": {}, "replayed": 0, "bad": [], "cancels": {}, "stats": st_}
        per_client[cid] = mine
        seq = 0
        try:
            while not stop.is_set():
                if not running.is_set():
                    with lock:
                        parked[0] += 1
                    while not running.wait(0.05) and not stop.is_set():
                        pass
                    with lock:
                        parked[0] -= 1
                    continue
                key, body, cancel = make_order(rnd, cid, seq, run_id)
                seq += 1
                mine["keys"][key] = body
                st, h, b = cl.call("POST", "/api/orders", body, {"Idempotency-Key": key})
                mine["status"][key] = st
                if st in (200, 202):
                    mine["acked"][key] = b["orderId"]
                    if h.get("idempotent-replayed") == "true":
                        mine["replayed"] += 1
                else:
                    mine["bad"].append((key, st, b))
                with lock:
                    answered[0] += 1
                if cancel and st in (200, 202):
                    cst, _, cb = cl.call("DELETE", "/api/orders/" + b["orderId"])
                    mine["cancels"][b["orderId"]] = cst
                    if cst not in (200, 409):
                        mine["bad"].append((key, "cancel", cst, cb))
        except Exception as e:  # surfaces in the main thread
            failures.append("client %d: %r" % (cid, e))
        finally:
            cl.close()

    restocks = []  # (sku, delta) answered 2xx and read back

    def quiet_restock(n):
        """Pause clients, wait for no PENDING/RESERVED order, raise stock."""
        running.clear()
        while True:
            with lock:
                if parked[0] == sum(1 for t in threads if t.is_alive()):
                    break
            left()
            time.sleep(0.02)
        t_q = time.time()
        while count_status(ctl, "PENDING") or count_status(ctl, "RESERVED"):
            left()
            time.sleep(0.05)
        quiet = time.time() - t_q
        for sku in (master.choice(BIG_SKUS), SCARCE):
            cur = get_json(ctl, "/api/products/" + sku)
            eq(cur["reserved"], 0, "reserved in a quiet window")
            delta = master.randint(100, 500) if sku == SCARCE else master.randint(1000, 50000)
            want = cur["stock"] + delta
            body = {"stock": want}
            kill_mid = n == 1 and sku == SCARCE
            if kill_mid:  # answer lost: the retry must not restock twice
                c = srv.conn(timeout=5)
                c.request("PUT", "/api/products/" + sku, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})
                srv.kill9()
                c.close()
                srv.start()
            st, _, b = ctl.call("PUT", "/api/products/" + sku, body)
            eq(st, 200, "restock %s (%r)" % (sku, b))
            after = get_json(ctl, "/api/products/" + sku)
            eq(after["stock"], want, "stock after restock of " + sku)
            restocks.append((sku, delta))
        running.set()
        return quiet, kill_mid

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()

    kills = 0
    quiet_times = []
    restock_at = [TARGET * f for f in (0.25, 0.5, 0.75)]
    t_run = time.time()
    try:
        while kills < KILLS or answered[0] < TARGET:
            left()
            if failures:
                raise AssertionError(failures[0])
            time.sleep(master.choice([master.uniform(0.02, 0.3), master.uniform(0.3, 1.2)]))
            if restock_at and answered[0] >= restock_at[0]:
                restock_at.pop(0)
                q, extra_kill = quiet_restock(3 - len(restock_at) - 1)
                quiet_times.append(q)
                kills += extra_kill
            srv.kill9()
            kills += 1
            srv.start()
    finally:
        stop.set()
        running.set()
        for t in threads:
            t.join(max(1, DEADLINE - time.time()))
    t_intake = time.time() - t_run
    if failures:
        raise AssertionError(failures[0])
    check(kills >= KILLS, "only %d kills" % kills)

    # the last restart: no more kills from here on
    srv.kill9()
    srv.start()
    t_drain0 = time.time()
    drain_end = min(t_drain0 + DRAIN_S, DEADLINE)
    while True:
        busy = count_status(ctl, "PENDING") + count_status(ctl, "RESERVED")
        if not busy:
            break
        if time.time() > drain_end:
            raise AssertionError("orders still PENDING/RESERVED after %ds: %d+ (%s)" % (
                DRAIN_S, busy, srv.log_tail(10)))
        time.sleep(0.2)
    t_drain = time.time() - t_drain0

    # ---- figures ------------------------------------------------------------
    keys, acked, status_of_key = {}, {}, {}
    bad, replayed = [], 0
    cstats = {"5xx": 0, "conn_errors": 0, "retries": 0}
    cancels = {}
    for m in per_client:
        keys.update(m["keys"])
        acked.update(m["acked"])
        status_of_key.update(m["status"])
        bad.extend(m["bad"])
        replayed += m["replayed"]
        cancels.update(m["cancels"])
        for k in cstats:
            cstats[k] += m["stats"][k]
    answered_keys = set(status_of_key)
    orders = list_all_orders(ctl)
    by_id = {o["orderId"]: o for o in orders}
    by_customer = {}
    for o in orders:
        by_customer.setdefault(o["customerId"], []).append(o)
    statuses = {}
    for o in orders:
        statuses[o["status"]] = statuses.get(o["status"], 0) + 1
    not_terminal = [o["orderId"] for o in orders if o["status"] not in TERMINAL]

    lost = [(k, i) for k, i in acked.items() if i not in by_id]
    acked_ids = set(acked.values())
    never = [o["orderId"] for o in orders if o["orderId"] not in acked_ids]
    twice = [c for c, l in by_customer.items() if len(l) > 1]
    extra = set(never)  # each order no request accounts for, counted once
    for l in by_customer.values():
        if len(l) > 1:
            extra.update(o["orderId"] for o in l if o["orderId"] not in acked_ids)
            if all(o["orderId"] in acked_ids for o in l):  # two acked orders for one key
                extra.update(o["orderId"] for o in l[1:])
    never_count = len(extra)
    mismatched = []  # an order whose content is not what its key sent
    for k, i in acked.items():
        o = by_id.get(i)
        if not o:
            continue
        want = [(it["sku"], it["qty"]) for it in keys[k]["items"]]
        got = [(it["sku"], it["qty"]) for it in o["items"]]
        if o["customerId"] != "c-" + k or got != want:
            mismatched.append((k, i))
    n_created_keys = sum(1 for k in answered_keys if k in acked)

    # timelines: all of them (8 threads, keep-alive)
    ids = list(by_id)
    tl_bad = []
    tl_lock = threading.Lock()

    def timelines(part):
        cl = Client(srv, {"5xx": 0, "conn_errors": 0, "retries": 0})
        try:
            for i in part:
                tl = get_json(cl, "/api/orders/%s/events" % i)
                n = {}
                for e in tl["events"]:
                    n[e["type"]] = n.get(e["type"], 0) + 1
                o = by_id[i]
                problem = (n.get("PaymentRequested", 0) > 1 or n.get("OrderCompleted", 0) > 1 or
                           n.get("PaymentFailed", 0) > 1 or n.get("OrderCreated", 0) != 1 or
                           (n.get("OrderCompleted") and n.get("PaymentFailed")) or
                           (o["status"] == "COMPLETED") != (n.get("OrderCompleted", 0) == 1) or
                           (o["status"] == "PAYMENT_FAILED") != (n.get("PaymentFailed", 0) == 1))
                if problem:
                    with tl_lock:
                        tl_bad.append((i, o["status"], n))
        except Exception as e:
            with tl_lock:
                tl_bad.append(("error", repr(e), {}))
        finally:
            cl.close()
    t_tl = time.time()
    tts = [threading.Thread(target=timelines, args=(ids[j::CLIENTS],)) for j in range(CLIENTS)]
    for t in tts:
        t.start()
    for t in tts:
        t.join()
    t_tl = time.time() - t_tl

    units_completed = {}
    for o in orders:
        if o["status"] == "COMPLETED":
            for it in o["items"]:
                units_completed[it["sku"]] = units_completed.get(it["sku"], 0) + it["qty"]
    prods = products(ctl)
    sold_mismatch = [(s, units_completed.get(s, 0), p["sold"]) for s, p in prods.items()
                     if units_completed.get(s, 0) != p["sold"]]
    captured_twice = len(tl_bad) + len(sold_mismatch)

    restocked = {}
    for sku, d in restocks:
        restocked[sku] = restocked.get(sku, 0) + d
    inv, inv_bad = [], []
    for sku in sorted(initial):
        p = prods[sku]
        a = initial[sku] + restocked.get(sku, 0)
        b = p["stock"] + p["sold"]
        inv.append("%s initial+restocks=%d stock+sold=%d reserved=%d" % (sku, a, b, p["reserved"]))
        if a != b or p["reserved"] != 0:
            inv_bad.append(sku)
    unexpected_products = sorted(set(prods) - set(initial))

    srv.stop()
    print("kills %d, orders answered %d (created %d, replayed answers %d, other answers %d), cancels %d, "
          "client retries %d (connection errors %d, 5xx %d), restocks %d, quiet windows %s s" % (
              kills, len(answered_keys), n_created_keys, replayed, len(bad), len(cancels), cstats["retries"],
              cstats["conn_errors"], cstats["5xx"], len(restocks), ["%.1f" % q for q in quiet_times]))
    print("statuses %s" % json.dumps(statuses, sort_keys=True))
    print("intake %.1fs, drain after last restart %.1fs, %d timelines checked in %.1fs, total %.1fs" % (
        t_intake, t_drain, len(ids), t_tl, time.time() - T0))
    print("acknowledged orders lost %d, orders never requested %d, payments captured twice %d, inventory: %s" % (
        len(lost), never_count, captured_twice, " ".join(inv)), flush=True)

    eq(not_terminal, [], "orders not terminal")
    eq(bad, [], "answers other than 200/202 to valid orders (or cancels other than 200/409)")
    eq(lost, [], "acknowledged orders lost")
    eq(never_count, 0, "orders never requested (not acked %r, created twice for a key %r)" % (never[:5], twice[:5]))
    eq(len(orders), n_created_keys, "orders = distinct Idempotency-Keys answered 2xx")
    eq(mismatched, [], "orders whose items/customer differ from their key's request")
    eq(tl_bad[:5], [], "timelines with a double payment or inconsistent events")
    eq(sold_mismatch, [], "units of COMPLETED orders vs sold, per sku")
    eq(inv_bad, [], "inventory invariant broken")
    eq(unexpected_products, [], "products nobody created")
    check(len(answered_keys) >= TARGET, "only %d orders answered" % len(answered_keys))
    check(statuses.get("COMPLETED", 0) > 0 and statuses.get("PAYMENT_FAILED", 0) > 0
          and statuses.get("REJECTED", 0) > 0, "the mix did not reach every outcome: %r" % statuses)
    eq(statuses.get("FAILED", 0), 0, "orders dead-lettered by crashes alone")
    shutil.rmtree(srv.data_dir, ignore_errors=True)  # kept when a check fails


run(globals())
