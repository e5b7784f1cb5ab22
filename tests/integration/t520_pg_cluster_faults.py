"""t520: several nodes on one PostgreSQL, under faults (issue 13).

Three orderly nodes share one PostgreSQL (this file's throwaway cluster).
Eight clients submit at least 20,000 orders over POST /api/orders, each with
its own Idempotency-Key, to the nodes in turn; a client that gets no answer
(connection error, timeout, 5xx) retries with the SAME key and body on the
next node until it gets a 2xx or 4xx.  Meanwhile:

  kills      a random node is SIGKILLed every 20-30 s and restarted
  stop       one node is SIGSTOPped past the queues' visibility timeout
             (and short of the writer's idle-in-transaction timeout), then
             SIGCONTed: the completions it had in hand are late, another node
             may have received their messages again, and the receipt fence
             must refuse them ("commit refused: receipt expired").  A node
             stopped between two receives holds nothing: the stop is tried
             again (up to STOP_TRIES times, on a polling node each time)
             until the stopped node's fence refused something
  database   once, PostgreSQL itself is stopped with -m immediate (crash
             recovery at the next start) and started again a few seconds later

Node 0 runs --mode api: the orders it takes are published without an
in-process consumer, so nodes 1 and 2 take their messages through the
function pollers (receive with a receipt and a visibility timeout).  With
every node in mode all, each node's order functions run to completion on
its own writer (issue 12): a completion is then in the same transaction as
the lease, nothing is in hand outside a transaction, and the fence has
nothing to refuse.  The SIGSTOP goes to a polling node (1 or 2).

The order mix is t510's: mostly tok_visa, declined and processing-error
payments, multi-item orders, a scarce sku that runs out, unknown skus,
orders over the unit limit, a few cancels.  When every order is terminal:

  acknowledged lost     every orderId a client got a 2xx for exists
  never requested       every order was created by a client request, one per
                        Idempotency-Key, with the items that key sent
  captured twice        no order has two PaymentRequested / OrderCompleted /
                        PaymentFailed, or both of the last two; units of
                        COMPLETED orders = sold, per sku
  zombie completions    refused by the fence: N > 0 (from the nodes' logs)
  inventory             initial stock = stock + sold and reserved = 0, per sku

Several nodes need PostgreSQL: under ORDERLY_TEST_DB=sqlite this file has
nothing to run (integ-pg.t520_pg_cluster_faults runs it).  Figures can be
raised or lowered with FAULT_ORDERS, FAULT_NODES, FAULT_SEED.
"""
import http.client
import json
import os
import random
import shutil
import signal
import threading
import time
from harness import PG, SRC, Server, check, db_rows, do_request, eq, pg_cluster, run, shipped_config

TARGET = int(os.environ.get("FAULT_ORDERS", "20000"))
NODES = int(os.environ.get("FAULT_NODES", "3"))
CLIENTS = 8
KILL_EVERY = (20, 30)    # seconds between kills
VISIBILITY_S = 3         # the function queues' VisibilityTimeout
STOP_S = 4.3             # SIGSTOP: past the visibility, short of LIMIT_PG_IDLE_TX_MS (5 s)
STOP_TRIES = 4           # SIGSTOP episodes at most, until one leaves a late completion to refuse
DB_DOWN_S = 3            # PostgreSQL stopped this long
BUDGET_S = 1200          # the whole test
DRAIN_S = 180            # after the faults, all orders terminal within
BIG_STOCK = 1000000
BIG_SKUS = ["FLT-A", "FLT-B", "FLT-C", "FLT-D", "FLT-E"]
SCARCE = "FLT-SCARCE"
SCARCE_STOCK = 300
UNKNOWN = "FLT-NOPE"
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
    catalog = {"products": [{"sku": s, "name": "Fault " + s, "priceCents": 100 + 10 * i, "stock": BIG_STOCK}
                            for i, s in enumerate(BIG_SKUS)]}
    catalog["products"].append({"sku": SCARCE, "name": "Scarce", "priceCents": 999, "stock": SCARCE_STOCK})
    path = os.path.join(dir_, "fault-catalog.json")
    with open(path, "w") as f:
        json.dump(catalog, f)
    cfg["orders"]["catalog"] = path
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": 50, "maxMs": 500}
        fn["maxConcurrency"] = 4
    for q in cfg["queues"]:
        if "RedrivePolicy" in q["attributes"]:
            q["attributes"]["VisibilityTimeout"] = VISIBILITY_S
            # kills, the stop and the database restart make messages be
            # received without completing: faults alone must dead-letter nothing
            q["attributes"]["RedrivePolicy"]["maxReceiveCount"] = 50
    path = os.path.join(dir_, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path, {p["sku"]: p["stock"] for p in catalog["products"]}


def make_order(rnd, cid, seq, run_id):
    """(key, body, cancel?) for one order; the customerId names the key."""
    key = "flt-%s-%d-%d" % (run_id, cid, seq)
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
    elif r < 0.96:
        items = [{"sku": SCARCE, "qty": rnd.randint(1, 4)}]
        if rnd.random() < 0.5:
            items.append({"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 3)})
    elif r < 0.975:
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": 1}, {"sku": UNKNOWN, "qty": 1}]
    elif r < 0.985:
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1001, 10000)}]
    else:
        items = [{"sku": rnd.choice(BIG_SKUS), "qty": rnd.randint(1, 5)}]
        body = {"customerId": "c-" + key, "items": items, "payment": {"token": token}}
        return key, body, True
    body = {"customerId": "c-" + key, "items": items}
    if token != "tok_visa" or rnd.random() < 0.5:
        body["payment"] = {"token": token}
    return key, body, False


class Client:
    """Keep-alive connections to the nodes; call() moves to the next node
    after a failure and retries until it gets a 2xx/4xx."""

    def __init__(self, nodes, first, stats):
        self.nodes = nodes
        self.i = first % len(nodes)
        self.conn = None
        self.stats = stats

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None

    def next_node(self):
        self.close()
        self.i = (self.i + 1) % len(self.nodes)

    def call(self, method, path, body=None, headers=None):
        while True:
            left()
            try:
                if self.conn is None:
                    self.conn = self.nodes[self.i].conn(timeout=10)
                st, h, b = do_request(self.conn, method, path, body, headers)
                if st < 500:
                    return st, h, b
                self.stats["5xx"] += 1
                self.next_node()
                time.sleep(0.02)
            except (OSError, http.client.HTTPException, ValueError):
                self.stats["conn_errors"] += 1
                self.next_node()
                time.sleep(0.02)
            self.stats["retries"] += 1


def count_busy(node):
    rows = db_rows(node, "SELECT count(*) FROM orders WHERE status IN ('PENDING', 'RESERVED')")
    return int(rows[0][0])


def fenced(node):
    """Commits the receipt fence refused, from the node's log (all its lives)."""
    try:
        with open(node.log_path) as f:
            return sum(1 for line in f if '"commit refused: receipt expired"' in line)
    except OSError:
        return 0


def restart(node):
    node.kill9()
    node.start(wait=False)
    node.wait_ready(timeout=60)


if not PG:
    print("several nodes need PostgreSQL: run with ORDERLY_TEST_DB=postgres (ctest: integ-pg.t520_pg_cluster_faults)")
else:
    def test_pg_cluster_faults():
        run_id = "%x" % random.getrandbits(32)
        seed = int(os.environ.get("FAULT_SEED", str(random.getrandbits(32))))
        master = random.Random(seed)
        base = Server(env="fault")
        cfg, initial = make_config(base.data_dir)
        db_key = base.db_key
        nodes = [Server(env="fault", config=cfg, db_key=db_key, extra_args=["--mode", "api"] if k == 0 else [])
                 for k in range(NODES)]
        pg = pg_cluster()
        print("seed %d, %d nodes, db %s, logs %s" % (seed, NODES, nodes[0].db,
                                                    " ".join(n.log_path for n in nodes)), flush=True)

        def watchdog():
            while time.time() < DEADLINE + 30:
                time.sleep(1)
            print("ABORT: watchdog after %ds" % (BUDGET_S + 30), flush=True)
            for n in nodes:
                n.kill9()
            os._exit(2)
        threading.Thread(target=watchdog, daemon=True).start()

        # all nodes start at once: migrations and the declared topology must
        # come out the same whoever goes first
        for n in nodes:
            n.start(wait=False)
        for n in nodes:
            n.wait_ready(timeout=60)
        want = len(shipped_config()["queues"])
        eq(int(db_rows(nodes[0], "SELECT count(*) FROM queues")[0][0]), want, "the declared queues, once each")

        lock = threading.Lock()
        stop = threading.Event()
        answered = [0]
        per_client = [None] * CLIENTS
        failures = []

        def client(cid):
            rnd = random.Random(seed * 100 + cid)
            st_ = {"5xx": 0, "conn_errors": 0, "retries": 0}
            cl = Client(nodes, cid, st_)
            mine = {"keys": {}, "acked": {}, "status": {}, "replayed": 0, "bad": [], "cancels": {}, "stats": st_}
            per_client[cid] = mine
            seq = 0
            try:
                while not stop.is_set():
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
                    cl.next_node()  # spread the load: the next order goes to the next node
            except Exception as e:
                failures.append("client %d: %r" % (cid, e))
            finally:
                cl.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()

        events = []  # (time since start, what)
        kills = 0
        stopped = db_restarted = False
        stopped_node = None
        stop_tries, next_stop = 0, 0.0
        t_run = time.time()
        next_kill = t_run + master.uniform(*KILL_EVERY)

        def note(what):
            events.append("%5.1fs %s" % (time.time() - t_run, what))
            print(events[-1], flush=True)

        try:
            while answered[0] < TARGET or kills < 2 or not stopped or not db_restarted:
                left()
                if failures:
                    raise AssertionError(failures[0])
                time.sleep(0.1)
                now = time.time()
                if not stopped and answered[0] >= TARGET * 0.3 and now >= next_stop:
                    i = master.randrange(1, NODES)  # a node whose pollers hold messages
                    stopped_node = nodes[i]
                    before = fenced(stopped_node)
                    note("SIGSTOP node %d for %.1fs (answered %d)" % (i, STOP_S, answered[0]))
                    os.kill(stopped_node.proc.pid, signal.SIGSTOP)
                    time.sleep(STOP_S)
                    os.kill(stopped_node.proc.pid, signal.SIGCONT)
                    time.sleep(1.0)  # its late commits, refused or not
                    stop_tries += 1
                    refused = fenced(stopped_node) - before
                    note("SIGCONT node %d: %d late completions refused" % (i, refused))
                    stopped = refused > 0 or stop_tries >= STOP_TRIES
                    next_stop = time.time() + 3
                elif not db_restarted and answered[0] >= TARGET * 0.6:
                    note("PostgreSQL stop -m immediate (answered %d)" % answered[0])
                    pg.stop("immediate")
                    time.sleep(DB_DOWN_S)
                    pg.start()
                    note("PostgreSQL started")
                    db_restarted = True
                    next_kill = max(next_kill, time.time() + 5)
                elif now >= next_kill:
                    i = master.randrange(NODES)
                    note("SIGKILL node %d and restart (answered %d)" % (i, answered[0]))
                    restart(nodes[i])
                    kills += 1
                    next_kill = time.time() + master.uniform(*KILL_EVERY)
        finally:
            stop.set()
            for t in threads:
                t.join(max(1, DEADLINE - time.time()))
        t_intake = time.time() - t_run
        if failures:
            raise AssertionError(failures[0])

        # no more faults: every node up, every order terminal
        for n in nodes:
            if n.proc.poll() is not None:
                n.start()
        t_drain0 = time.time()
        while True:
            busy = count_busy(nodes[0])
            if not busy:
                break
            if time.time() > min(t_drain0 + DRAIN_S, DEADLINE):
                raise AssertionError("orders still PENDING/RESERVED after %ds: %d" % (DRAIN_S, busy))
            time.sleep(0.5)
        t_drain = time.time() - t_drain0

        # ---- figures, from the database --------------------------------------
        keys, acked, status_of_key, bad, replayed, cancels = {}, {}, {}, [], 0, {}
        cstats = {"5xx": 0, "conn_errors": 0, "retries": 0}
        for m in per_client:
            keys.update(m["keys"])
            acked.update(m["acked"])
            status_of_key.update(m["status"])
            bad.extend(m["bad"])
            replayed += m["replayed"]
            cancels.update(m["cancels"])
            for k in cstats:
                cstats[k] += m["stats"][k]
        orders = {r[0]: {"customer": r[1], "status": r[2], "items": []}
                  for r in db_rows(nodes[0], "SELECT id, customer_id, status FROM orders")}
        for oid, sku, qty in db_rows(nodes[0], "SELECT o.id, i.sku, i.qty FROM orders o JOIN order_items i "
                                               "ON i.order_seq = o.seq ORDER BY o.seq, i.line"):
            orders[oid]["items"].append((sku, int(qty)))
        statuses = {}
        for o in orders.values():
            statuses[o["status"]] = statuses.get(o["status"], 0) + 1
        not_terminal = [i for i, o in orders.items() if o["status"] not in TERMINAL]

        lost = [(k, i) for k, i in acked.items() if i not in orders]
        acked_ids = set(acked.values())
        by_customer = {}
        for i, o in orders.items():
            by_customer.setdefault(o["customer"], []).append(i)
        never = sorted(i for i in orders if i not in acked_ids)
        twice = [c for c, l in by_customer.items() if len(l) > 1]
        unrequested = [i for i, o in orders.items() if o["customer"][2:] not in keys]
        never_count = len(set(never) | set(unrequested) | {i for c in twice for i in by_customer[c][1:]})
        mismatched = []
        for k, i in acked.items():
            o = orders.get(i)
            if o and (o["customer"] != "c-" + k or o["items"] != [(it["sku"], it["qty"]) for it in keys[k]["items"]]):
                mismatched.append((k, i))

        counts = {}
        for subject, typ, n in db_rows(nodes[0], "SELECT subject, detail_type, count(*) FROM events "
                                                 "WHERE subject IS NOT NULL GROUP BY 1, 2"):
            counts.setdefault(subject, {})[typ] = int(n)
        tl_bad = []
        for i, o in orders.items():
            n = counts.get(i, {})
            if (n.get("PaymentRequested", 0) > 1 or n.get("OrderCompleted", 0) > 1 or n.get("PaymentFailed", 0) > 1
                    or n.get("OrderCreated", 0) != 1 or (n.get("OrderCompleted") and n.get("PaymentFailed"))
                    or (o["status"] == "COMPLETED") != (n.get("OrderCompleted", 0) == 1)
                    or (o["status"] == "PAYMENT_FAILED") != (n.get("PaymentFailed", 0) == 1)):
                tl_bad.append((i, o["status"], n))
        pays = {r[0]: r[1] for r in db_rows(nodes[0], "SELECT order_id, outcome FROM payments")}
        pay_bad = [i for i, o in orders.items() if (o["status"] == "COMPLETED") != (pays.get(i) == "captured")]
        units_completed = {}
        for o in orders.values():
            if o["status"] == "COMPLETED":
                for sku, qty in o["items"]:
                    units_completed[sku] = units_completed.get(sku, 0) + qty
        prods = {r[0]: {"stock": int(r[1]), "reserved": int(r[2]), "sold": int(r[3])}
                 for r in db_rows(nodes[0], "SELECT sku, stock, reserved, sold FROM products")}
        sold_mismatch = [(s, units_completed.get(s, 0), p["sold"]) for s, p in prods.items()
                         if units_completed.get(s, 0) != p["sold"]]
        captured_twice = len(tl_bad) + len(pay_bad) + len(sold_mismatch)
        inv, inv_bad = [], []
        for sku in sorted(initial):
            p = prods[sku]
            inv.append("%s initial=%d stock+sold=%d reserved=%d" % (sku, initial[sku], p["stock"] + p["sold"],
                                                                   p["reserved"]))
            if initial[sku] != p["stock"] + p["sold"] or p["reserved"] != 0:
                inv_bad.append(sku)
        zombies = [fenced(n) for n in nodes]

        for n in nodes:
            n.stop()
        print("faults: %s" % "; ".join(events))
        print("orders answered %d (created %d, replayed answers %d, other answers %d), cancels %d, client retries "
              "%d (connection errors %d, 5xx %d)" % (len(status_of_key), len(orders), replayed, len(bad),
                                                     len(cancels), cstats["retries"], cstats["conn_errors"],
                                                     cstats["5xx"]))
        print("statuses %s" % json.dumps(statuses, sort_keys=True))
        print("intake %.1fs (%.0f orders/s), drain %.1fs, total %.1fs" % (
            t_intake, len(status_of_key) / t_intake, t_drain, time.time() - T0))
        print("fence refusals per node %s (node %d was stopped)" % (zombies, nodes.index(stopped_node)))
        print("acknowledged lost %d, never requested %d, payments captured twice %d, zombie completions refused %d"
              % (len(lost), never_count, captured_twice, sum(zombies)))
        print("inventory: %s" % " ".join(inv), flush=True)

        eq(not_terminal, [], "orders not terminal")
        eq(bad, [], "answers other than 200/202 to valid orders (or cancels other than 200/409)")
        eq(lost, [], "acknowledged orders lost")
        eq(never_count, 0, "orders never requested (not acked %r, twice for a key %r)" % (never[:5], twice[:5]))
        eq(mismatched, [], "orders whose items/customer differ from their key's request")
        eq(tl_bad[:5], [], "timelines with a double payment or inconsistent events")
        eq(pay_bad[:5], [], "COMPLETED orders without exactly their captured payment")
        eq(sold_mismatch, [], "units of COMPLETED orders vs sold, per sku")
        eq(inv_bad, [], "inventory not conserved")
        check(sum(zombies) > 0, "no completion was refused by the receipt fence")
        check(len(status_of_key) >= TARGET, "only %d orders answered" % len(status_of_key))
        check(kills >= 2, "only %d kills" % kills)
        check(statuses.get("COMPLETED", 0) > 0 and statuses.get("PAYMENT_FAILED", 0) > 0
              and statuses.get("REJECTED", 0) > 0, "the mix did not reach every outcome: %r" % statuses)
        eq(statuses.get("FAILED", 0), 0, "orders dead-lettered by faults alone")
        for n in nodes:
            shutil.rmtree(n.data_dir, ignore_errors=True)  # kept when a check fails


run(globals())
