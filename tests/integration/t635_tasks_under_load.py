"""t635: a replay and a redrive run while orders flow (issue 11, second
acceptance point, small): both tasks make progress that GET /api/tasks/{id}
shows while intake goes on, every order is accepted (202) meanwhile, and a
cancel stops each task at once (its count no longer moves).  Intake p99
quiet and during is printed; the 2x ratio is a benchmark figure
(bench/tasks_under_load.py with 200,000 events and 50,000 dead letters), not
a timed assertion here.
"""
import json
import os
import sys
import threading
import time

from harness import temp_dir, Server, check, eq, ok, run, shipped_config, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from tasks_under_load import SKUS, Intake, iso, load_dead, load_events  # noqa: E402

EVENTS, DEAD, RATE = 20000, 5000, 2000


def config(data):
    cfg = shipped_config()
    catalog = os.path.join(data, "catalog.json")
    with open(catalog, "w") as f:
        json.dump({"products": [{"sku": s, "name": s, "priceCents": 100, "stock": 10 ** 9} for s in SKUS]}, f)
    cfg["orders"]["catalog"] = catalog
    cfg["queues"] += [{"name": "sink"}, {"name": "dest"}, {"name": "src-dlq"},
                      {"name": "src", "attributes": {"RedrivePolicy": {"deadLetterTargetArn": "src-dlq",
                                                                       "maxReceiveCount": 5}}}]
    cfg["rules"].append({"name": "load", "eventPattern": {"source": ["bench.load"]}, "targets": [{"queue": "sink"}]})
    return cfg


def intake(srv):
    stop = threading.Event()
    ts = [Intake(srv, "t%d-%d" % (k, time.time_ns()), stop) for k in range(2)]
    for t in ts:
        t.start()
    return stop, ts


def finish(stop, ts):
    stop.set()
    for t in ts:
        t.join(60)
    lat = sorted(x for t in ts for x in t.lat)
    eq(sum(t.errors for t in ts), 0, "orders not accepted")
    check(len(lat) > 20, "orders flowed (%d)" % len(lat))
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))], len(lat)


def test_replay_and_redrive_progress_and_cancel_while_orders_flow():
    import tempfile
    data = temp_dir("orderly-it-")
    srv = Server(env="t", config=config(data), data_dir=data)
    try:
        srv.start()
        t0 = time.time()
        eq(load_events(srv, EVENTS), EVENTS, "events loaded")
        eq(load_dead(srv, "t-src-dlq", DEAD), DEAD, "dead letters loaded")
        stop, ts = intake(srv)
        time.sleep(3)
        quiet_p99, quiet_n = finish(stop, ts)

        stop, ts = intake(srv)
        rp = ok(srv, "POST", "/api/events/replay",
                {"from": iso(t0 - 60), "to": iso(time.time() + 60), "ratePerSecond": RATE}, 202)
        rd = ok(srv, "POST", "/api/queues/t-src-dlq/redrive", {"destination": "t-dest", "ratePerSecond": RATE // 4},
                202)
        total = rp["eventsInWindow"]   # the loaded events and the orders' own
        check(total >= EVENTS, "the window holds the loaded events (%d)" % total)
        eq(rd["messagesToMove"], DEAD, "the redrive's total")
        # progress is visible while orders flow
        x = wait_for("replay progress", lambda: (lambda t: t if 0 < t["eventsReplayed"] < total else None)(
            ok(srv, "GET", "/api/tasks/" + rp["id"])), timeout=20)
        y = wait_for("redrive progress", lambda: (lambda t: t if 0 < t["messagesMoved"] < DEAD else None)(
            ok(srv, "GET", "/api/tasks/" + rd["id"])), timeout=20)
        time.sleep(3)    # orders flow beside both tasks for a while
        x2 = wait_for("more replay progress", lambda: (lambda t: t if t["eventsReplayed"] > x["eventsReplayed"]
                                                       else None)(ok(srv, "GET", "/api/tasks/" + rp["id"])),
                      timeout=20)
        eq(x2["state"], "RUNNING", "still running")
        # cancel both mid-way: CANCELLED at once, and the counts stay
        c1 = ok(srv, "POST", "/api/tasks/%s/cancel" % rp["id"])
        c2 = ok(srv, "POST", "/api/tasks/%s/cancel" % rd["id"])
        eq((c1["state"], c2["state"]), ("CANCELLED", "CANCELLED"), "cancelled")
        during_p99, during_n = finish(stop, ts)
        time.sleep(0.5)
        f1 = ok(srv, "GET", "/api/tasks/" + rp["id"])
        f2 = ok(srv, "GET", "/api/tasks/" + rd["id"])
        eq((f1["state"], f1["eventsReplayed"]), ("CANCELLED", c1["eventsReplayed"]), "the replay stopped")
        eq((f2["state"], f2["messagesMoved"]), ("CANCELLED", c2["messagesMoved"]), "the redrive stopped")
        check(f1["eventsReplayed"] < total and f2["messagesMoved"] < DEAD, "cancelled before the end")
        moved = ok(srv, "GET", "/api/queues/t-dest")["stats"]["visible"]
        eq(moved, f2["messagesMoved"], "what the redrive says it moved is in the destination")
        print("replay %d/%d and redrive %d/%d when cancelled; intake p99 %.1f ms quiet (%d orders), %.1f ms "
              "during (%d orders)" % (f1["eventsReplayed"], total, f2["messagesMoved"], DEAD, quiet_p99 * 1e3,
                                      quiet_n, during_p99 * 1e3, during_n))
    finally:
        srv.stop()
        import shutil
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    run(globals())
