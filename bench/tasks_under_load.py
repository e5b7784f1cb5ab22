#!/usr/bin/env python3
"""bench/tasks_under_load.py - intake latency while a replay and a redrive run
(issue 11, second acceptance point).

Starts its own server (127.0.0.1, a data directory under /tmp removed at the
end), loads EVENTS events by PutEvents (10 a request, archived and routed to
a sink queue) and DEAD messages into a dead-letter queue, then:
  quiet:  a client POSTs orders (2 connections, kept alive) for SECONDS s;
  during: the same while a replay of every loaded event and a redrive of the
          whole DLQ run as background tasks (their default rate unless
          --rate), their progress read every second;
then cancels whatever still runs and prints intake p50/p99 quiet and during,
and the ratio (the target: p99 during < 2 x p99 quiet).

  python3 bench/tasks_under_load.py [--events 200000] [--dead 50000] [--seconds 20] [--rate N]
Needs build/orderly (ORDERLY_BIN overrides).  Takes a few minutes; not a test.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Server, ok, shipped_config  # noqa: E402

SKUS = ["B-1", "B-2", "B-3"]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parallel(n, fn):
    ts = [threading.Thread(target=fn, args=(k,), daemon=True) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def load_events(srv, total, threads=4):
    per = total // threads

    def worker(k):
        c = srv.conn(timeout=60)
        for i in range(0, per, 10):
            body = json.dumps({"Entries": [{"Source": "bench.load", "DetailType": "Loaded",
                                            "Detail": {"k": k, "n": i + j}} for j in range(10)]})
            c.request("POST", "/api/events", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            b = json.loads(r.read())
            if r.status != 200 or b["FailedEntryCount"]:
                raise RuntimeError("PutEvents: %s %r" % (r.status, b))
        c.close()

    parallel(threads, worker)
    return per * threads


def load_dead(srv, queue, total, threads=4):
    per = total // threads

    def worker(k):
        c = srv.conn(timeout=60)
        for i in range(0, per, 10):
            body = json.dumps({"entries": [{"id": "e%d" % j, "body": "dead %d %d" % (k, i + j)} for j in range(10)]})
            c.request("POST", "/api/queues/%s/messages/batch" % queue, body=body,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            b = json.loads(r.read())
            if r.status != 200 or b["failed"]:
                raise RuntimeError("send batch: %s %r" % (r.status, b))
        c.close()

    parallel(threads, worker)
    return per * threads


class Intake(threading.Thread):
    """POSTs orders on one kept-alive connection until stop is set; times each."""

    def __init__(self, srv, tag, stop):
        super().__init__(daemon=True)
        self.srv, self.tag, self.stop = srv, tag, stop
        self.lat, self.errors = [], 0

    def run(self):
        c = self.srv.conn(timeout=60)
        i = 0
        while not self.stop.is_set():
            body = json.dumps({"customerId": "b-%s-%d" % (self.tag, i), "items": [{"sku": SKUS[i % 3], "qty": 1}]})
            i += 1
            t0 = time.perf_counter()
            try:
                c.request("POST", "/api/orders", body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                c.close()
                c = self.srv.conn(timeout=60)
                continue
            self.lat.append(time.perf_counter() - t0)
            if r.status != 202:
                self.errors += 1
            time.sleep(0.005)
        c.close()


def measure(srv, seconds, tag, during=None):
    stop = threading.Event()
    ts = [Intake(srv, "%s%d" % (tag, k), stop) for k in range(2)]
    for t in ts:
        t.start()
    end = time.time() + seconds
    while time.time() < end:
        if during:
            during()
        time.sleep(1)
    stop.set()
    for t in ts:
        t.join(60)
    lat = sorted(x for t in ts for x in t.lat)
    errs = sum(t.errors for t in ts)
    return {"n": len(lat), "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "errors": errs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--dead", type=int, default=50000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=0, help="ratePerSecond of both tasks (0: the default)")
    ap.add_argument("--log-level", default="warn", help="the server's")
    ap.add_argument("--keep-log", help="copy the server's log here at the end")
    a = ap.parse_args()

    cfg = shipped_config()
    data = "/tmp/orderly-bench-tasks-%d" % os.getpid()
    os.makedirs(data)
    catalog = os.path.join(data, "catalog.json")
    with open(catalog, "w") as f:
        json.dump({"products": [{"sku": s, "name": s, "priceCents": 100, "stock": 10 ** 9} for s in SKUS]}, f)
    cfg["orders"]["catalog"] = catalog
    cfg["queues"] += [{"name": "sink"}, {"name": "dest"}, {"name": "src"}, {"name": "src-dlq"}]
    for q in cfg["queues"]:
        if q["name"] == "src":
            q["attributes"] = {"RedrivePolicy": {"deadLetterTargetArn": "src-dlq", "maxReceiveCount": 5}}
    cfg["rules"].append({"name": "load", "eventPattern": {"source": ["bench.load"]}, "targets": [{"queue": "sink"}]})
    import shutil
    try:
        with Server(env="bench", config=cfg, data_dir=data, log_level=a.log_level) as srv:
            t0 = time.time()
            n_ev = load_events(srv, a.events)
            t1 = time.time()
            n_dead = load_dead(srv, "bench-src-dlq", a.dead)
            t2 = time.time()
            print("loaded %d events in %.1f s, %d dead letters in %.1f s" % (n_ev, t1 - t0, n_dead, t2 - t1),
                  flush=True)
            quiet = measure(srv, a.seconds, "q")
            print("quiet:  %d orders, p50 %.1f ms, p99 %.1f ms, errors %d"
                  % (quiet["n"], quiet["p50"] * 1e3, quiet["p99"] * 1e3, quiet["errors"]), flush=True)
            rate = {"ratePerSecond": a.rate} if a.rate else {}
            rp = ok(srv, "POST", "/api/events/replay",
                    dict({"from": iso(t0 - 60), "to": iso(time.time() + 60)}, **rate), 202)
            rd = ok(srv, "POST", "/api/queues/bench-src-dlq/redrive", dict({"destination": "bench-dest"}, **rate), 202)
            seen = []

            def progress():
                x = ok(srv, "GET", "/api/tasks/" + rp["id"])
                y = ok(srv, "GET", "/api/tasks/" + rd["id"])
                seen.append((x["eventsReplayed"], y["messagesMoved"]))
                print("  replay %s %d/%d, redrive %s %d/%d" % (x["state"], x["eventsReplayed"], x["eventsInWindow"],
                                                            y["state"], y["messagesMoved"], y["messagesToMove"]),
                      flush=True)

            during = measure(srv, a.seconds, "d", progress)
            print("during: %d orders, p50 %.1f ms, p99 %.1f ms, errors %d"
                  % (during["n"], during["p50"] * 1e3, during["p99"] * 1e3, during["errors"]), flush=True)
            for t in (rp, rd):
                st, _, b = srv.request("POST", "/api/tasks/%s/cancel" % t["id"])
                print("cancel %s: %d %s" % (t["kind"], st, b.get("state") if isinstance(b, dict) else b))
            x = ok(srv, "GET", "/api/tasks/" + rp["id"])
            y = ok(srv, "GET", "/api/tasks/" + rd["id"])
            print("final: replay %s %d/%d (rate %d), redrive %s %d/%d (rate %d)"
                  % (x["state"], x["eventsReplayed"], x["eventsInWindow"], x["ratePerSecond"], y["state"],
                     y["messagesMoved"], y["messagesToMove"], y["ratePerSecond"]))
            print("intake p99: quiet %.1f ms, during replay+redrive %.1f ms: ratio %.2f (target < 2)"
                  % (quiet["p99"] * 1e3, during["p99"] * 1e3, during["p99"] / quiet["p99"]))
    finally:
        if a.keep_log:
            shutil.copy(os.path.join(data, "server.log"), a.keep_log)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
