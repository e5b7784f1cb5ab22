#!/usr/bin/env python3
"""bench/cluster.py - orders on several nodes of one PostgreSQL beside one
node on SQLite, in one run on one machine (issue 13).

  python3 bench/cluster.py [--duration D] [--setups sqlite:1,pg:1,pg:2,pg:3] [--backlog N]

For each setup (a backend and a number of nodes, each a fresh database):
  P1  durable intake: closed-loop POST /api/orders, wrk on every node at once
      (64 connections in all), orders/s summed, p99 of the slowest node
  P2  end to end: offered rates P1*k/8 (k = 1..8), split evenly over the
      nodes with `orderly loadgen`, each step D seconds; a step is sustained
      when, right after it, fewer than rate/2 of its orders are not yet
      COMPLETED; P2 = completions per second of the highest sustained step
Then the cost of a large queue (bench_backlog): receive + delete with 30,000
messages queued against 1,000,000, on PostgreSQL and on SQLite.

The PostgreSQL cluster is a throwaway one (tests/integration/pgcluster.py:
fsync and synchronous_commit on, as in production), on this machine, as
the nodes and the load generators: the figures are the machine's, shared.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import pgcluster  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "orderly")
SKUS = ["b-%d" % i for i in range(5)]


def free_port():
    return pgcluster.free_port()


class Node:
    def __init__(self, db, cfg, d, i):
        self.port = free_port()
        self.log = os.path.join(d, "node-%d.log" % i)
        # accounts off: this measures the store (bench/auth.sh measures what accounts cost)
        env = dict(os.environ, ORDERLY_AUTH_ENABLED="false")
        self.proc = subprocess.Popen([BIN, "serve", "--env", "bench", "--listen", "127.0.0.1:%d" % self.port,
                                      "--db", db, "--config", cfg, "--log-level", "warn"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"), env=env)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("node exited: %s" % open(self.log).read()[-2000:])
            r = subprocess.run(["curl", "-sf", "-o", "/dev/null", self.url + "/ready"])
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("node not ready")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_config(d):
    """The shipped configuration in full (the built-in topology and
    config/orderly.json, as --print-config gives it), adjusted."""
    cfg = json.loads(subprocess.check_output([BIN, "serve", "--env", "bench", "--config",
                                              os.path.join(ROOT, "config", "orderly.json"), "--print-config"]))
    for k in ("env", "db"):
        cfg.pop(k, None)
    cat = os.path.join(d, "catalog.json")
    with open(cat, "w") as f:
        json.dump({"products": [{"sku": s, "name": s, "priceCents": 100, "stock": 10 ** 9} for s in SKUS]}, f)
    cfg["orders"]["catalog"] = cat
    cfg["orders"]["maxUnitsPerOrder"] = 500000
    for fn in cfg["functions"]:
        fn["maxConcurrency"] = 4
    path = os.path.join(d, "orderly.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


class Setup:
    def __init__(self, backend, n, pg, d):
        self.backend, self.n, self.pg = backend, n, pg
        self.dir = tempfile.mkdtemp(prefix="orderly-bench-%s%d-" % (backend, n), dir=d)
        if backend == "pg":
            schema = "b_%s_%d_%d" % (backend, n, int(time.time() * 1000) % 10 ** 8)
            pg.psql("CREATE SCHEMA %s" % schema)
            self.schema = schema
            self.db = pg.url("postgres") + "?options=-csearch_path%3D" + schema
        else:
            self.db = os.path.join(self.dir, "bench.db")
        cfg = make_config(self.dir)
        self.nodes = [Node(self.db, cfg, self.dir, i) for i in range(n)]
        for node in self.nodes:
            node.ready()

    def sql(self, q):
        if self.backend == "pg":
            return self.pg.psql("SET search_path = %s; %s" % (self.schema, q))
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            return [[str(v) for v in r] for r in con.execute(q)]
        finally:
            con.close()

    def count(self, where):
        return int(self.sql("SELECT count(*) FROM orders WHERE " + where)[0][0])

    def stop(self):
        for node in self.nodes:
            node.stop()


def p1(s, duration):
    """Closed-loop intake over every node at once."""
    conns = max(1, 64 // s.n)
    procs = [subprocess.Popen(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency", "-s",
                               os.path.join(HERE, "post_order.lua"), n.url + "/api/orders"],
                              stdout=subprocess.PIPE, text=True)
             for n in s.nodes]
    rate, p99 = 0.0, 0.0
    for p in procs:
        out = p.communicate()[0]
        m = re.search(r"(\d+) requests in ([\d.]+)s", out)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if m:  # accepted orders only: an error answer is not intake
            rate += (int(m.group(1)) - (int(bad.group(1)) if bad else 0)) / float(m.group(2))
        m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
        if m:
            v = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
            p99 = max(p99, v)
    return rate, p99


def drain(s, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if s.count("status IN ('PENDING', 'RESERVED')") == 0:
            return True
        time.sleep(0.5)
    return False


def p2(s, p1_rate, duration):
    best = (0, 0.0)
    drain(s)
    for k in range(1, 9):
        rate = int(p1_rate * k / 8)
        if rate < s.n:
            continue
        t0 = int(time.time() * 1000)
        per = max(1, rate // s.n)
        procs = [subprocess.Popen([BIN, "loadgen", "--rate", str(per), "--duration", "%ds" % duration, "--mix",
                                   "valid=1", "--connections", "32", "--customer", "p2k%d" % k, "--url", n.url],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in s.nodes]
        for p in procs:
            p.wait()
        created = s.count("created_ms >= %d" % t0)
        left = s.count("created_ms >= %d AND status <> 'COMPLETED'" % t0)
        done = created - left
        sustained = left < rate / 2
        print("    P2 step %d: offered %d/s, created %d, completed %d right after, backlog %d -> %s" % (
            k, per * s.n, created, done, left, "sustained" if sustained else "behind"), flush=True)
        if sustained:
            best = (per * s.n, done / duration)
        else:
            break
        if not drain(s):
            break
    return best


def backlog_bench(pg, tmp, large):
    out = []
    schema = "b_backlog_%d" % (int(time.time()) % 10 ** 6)
    pg.psql("CREATE SCHEMA %s" % schema)
    for db in (pg.url("postgres") + "?options=-csearch_path%3D" + schema, os.path.join(tmp, "backlog.db")):
        r = subprocess.run([os.path.join(BUILD, "bench_backlog"), "--db", db, "--large", str(large)],
                           capture_output=True, text=True)
        out += [l for l in r.stdout.splitlines() if l.startswith("backend=")]
        if r.returncode:
            out.append("bench_backlog failed: %s" % r.stderr[-500:])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--setups", default="sqlite:1,pg:1,pg:2,pg:3")
    ap.add_argument("--backlog", type=int, default=1000000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="orderly-bench-cluster-")
    pg = pgcluster.Cluster().start()
    rows = []
    try:
        for spec in a.setups.split(","):
            backend, n = spec.split(":")
            print("== %s, %s node(s)" % (backend, n), flush=True)
            s = Setup(backend, int(n), pg, tmp)
            try:
                r1, l99 = p1(s, a.duration)
                print("    P1 %.0f orders/s, p99 %.1f ms" % (r1, l99), flush=True)
                offered, r2 = p2(s, r1, a.duration)
                rows.append((backend, int(n), r1, l99, offered, r2))
            finally:
                s.stop()
        print("== receive with a backlog (bench_backlog)", flush=True)
        bl = backlog_bench(pg, tmp, a.backlog)
    finally:
        pg.remove()
    print()
    print("%-8s %5s %12s %10s %16s %14s" % ("backend", "nodes", "P1 orders/s", "P1 p99 ms", "P2 offered/s", "P2 completed/s"))
    for b, n, r1, l99, off, r2 in rows:
        print("%-8s %5d %12.0f %10.1f %16d %14.0f" % (b, n, r1, l99, off, r2))
    print()
    for l in bl:
        print(l)


if __name__ == "__main__":
    main()
