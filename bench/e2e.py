#!/usr/bin/env python3
"""bench/e2e.py - orderly beside the peer of ../shared/bench-peer (Express +
BullMQ + Redis with appendfsync always), the targets of issue 12, one command
(`make bench-e2e` or bench/e2e.sh).

Each server runs pinned to core 0 (the peer: node and its redis together),
the load generators (the peer's own run-e2e.py client, wrk) on core 1.  Rounds
are interleaved (odd rounds the peer first, even rounds orderly first), each
phase on a fresh data directory, and the table gives the medians with every
round's figure.  Phases, per server and round:

  e2e      run-e2e.py -n ORDERS -c 64 (closed loop), completion from GET
           /api/stats; completed/s, and the server's CPU (utime + stime of
           its processes) over the run divided by the orders completed
  latency  run-e2e.py --rate (half the e2e rate of that server and round) for
           about 10 s: submit -> terminal p50/p99, observed by the client's
           pollers and by the server's own updatedAt stamp
  intake   wrk -t1 -c64 10 s POST /api/orders (random orders, functions
           running): orders accepted (2xx) per second
  flood    wrk -t1 -c256 10 s POST /api/orders while run-e2e.py samples the
           latency of 50 orders/s: completed/s during the flood, latency of
           the sample, 429/503 answers; then the time the backlog takes to
           drain
and once a round the load generators' own ceiling against nginx `return 200`.

Everything it starts it stops by PID; everything it writes is under one
temporary directory, removed at the end (--keep keeps it).
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TCK = os.sysconf("SC_CLK_TCK")
TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED", "FAILED", "EXPIRED", "CANCELLED")


def log(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_s(pids):
    """utime + stime (seconds) of the processes, threads included."""
    t = 0
    for p in pids:
        try:
            f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except OSError:
            pass
    return t / TCK


def hwm_kb(pids):
    n = 0
    for p in pids:
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmHWM:"):
                    n += int(line.split()[1])
        except OSError:
            pass
    return n


def get_json(url, timeout=10, tries=20):
    """GET a JSON document; under a flood the server may close a new
    connection unanswered (its connection limit) or answer 503: try again."""
    for i in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return json.loads(r.read())
        except (OSError, http.client.HTTPException) as e:
            if i == tries - 1:
                raise
            time.sleep(0.25)


def wait_http(url, what, timeout=60, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("%s exited (rc %s) before it answered" % (what, proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("%s did not answer %s within %d s" % (what, url, timeout))


def stop(proc, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """A server under test: start() on core 0 with a fresh data directory."""
    name = "?"

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.port = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        for p in reversed(self.procs):
            stop(p)
        self.procs = []

    def by_status(self):
        return get_json(self.url + "/api/stats").get("ordersByStatus", {})


class Peer(Server):
    name = "peer"

    def __init__(self, tmp, peer_dir):
        super().__init__(tmp)
        self.dir = os.path.join(tmp, "peer")
        os.makedirs(self.dir)
        for f in ("server.js", "package.json", "package-lock.json", "run-e2e.py"):
            shutil.copy(os.path.join(peer_dir, f), self.dir)
        log("peer: npm ci into %s (from the committed package-lock.json)" % self.dir)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=self.dir, check=True,
                       stdout=subprocess.DEVNULL)
        self.n = 0

    def start(self):
        self.n += 1
        data = os.path.join(self.tmp, "redis-%d" % self.n)
        os.makedirs(data)
        rport, self.port = free_port(), free_port()
        out = open(os.path.join(self.tmp, "peer-%d.log" % self.n), "w")
        redis = subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                  "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", data],
                                 stdout=out, stderr=out)
        self.procs = [redis]
        end = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", rport), 1).close()
                break
            except OSError:
                if time.time() > end or redis.poll() is not None:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
        env = dict(os.environ, PORT=str(self.port), REDIS_PORT=str(rport))
        node = subprocess.Popen(["taskset", "-c", "0", "node", "server.js"], cwd=self.dir, env=env, stdout=out,
                                stderr=out)
        self.procs.append(node)
        wait_http(self.url + "/ready", "the peer", proc=node)


class Orderly(Server):
    name = "orderly"

    def __init__(self, tmp, binary, log_level, extra, http_threads=1):
        super().__init__(tmp)
        self.http_threads = http_threads
        self.bin = binary
        self.log_level = log_level
        self.extra = extra
        self.n = 0

    def start(self):
        self.n += 1
        data = os.path.join(self.tmp, "orderly-%d" % self.n)
        os.makedirs(data)
        self.port = free_port()
        out = open(os.path.join(self.tmp, "orderly-%d.log" % self.n), "w")
        args = ["taskset", "-c", "0", self.bin, "serve", "--env", "bench", "--listen", "127.0.0.1:%d" % self.port,
                "--db", os.path.join(data, "bench.db"), "--log-level", self.log_level] + self.extra
        # accounts off (loopback only): the peer has none, and their cost is
        # bench/auth.sh's to measure; one HTTP thread for the one core
        env = dict(os.environ, ORDERLY_AUTH_ENABLED="false", ORDERLY_HTTP_THREADS=str(self.http_threads))
        p = subprocess.Popen(args, stdout=out, stderr=out, env=env)
        self.procs = [p]
        wait_http(self.url + "/ready", "orderly", proc=p)


class Nginx:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:%d;
    location / { default_type application/json; return 200 '{"orderId":"x","status":"COMPLETED"}'; }
  }
}
""" % (self.dir, self.dir, self.port))
        subprocess.run(["taskset", "-c", "0", "nginx", "-c", conf, "-p", self.dir], check=True)
        self.pid = int(open(os.path.join(self.dir, "nginx.pid")).read())

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except OSError:
            pass


# ---- load generators (core 1) ---------------------------------------------------------

def run_e2e(client, url, args, timeout):
    cmd = ["taskset", "-c", "1", sys.executable, client, url] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    res = None
    for line in p.stdout.splitlines():
        if line.startswith("E2E_RESULT "):
            res = {}
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                try:
                    res[k] = float(v)
                except ValueError:
                    res[k] = None if v == "None" else v
    if res is None:
        raise SystemExit("run-e2e.py gave no result:\n" + p.stdout[-3000:])
    res["_out"] = p.stdout
    return res


def wrk(url, conns, secs, script=None):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency"]
    if script:
        cmd += ["-s", script]
    p = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=secs + 60)
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                res[k] = float(v)
        elif line.startswith("Requests/sec:"):
            res["rps"] = float(line.split()[1])
    if not res:
        raise SystemExit("wrk gave no result:\n" + p.stdout[-2000:])
    return res


# ---- phases -----------------------------------------------------------------------------

def seed(client, srv, skus):
    p = subprocess.run(["taskset", "-c", "1", sys.executable, client, srv.url, "--seed-only", "--skus", str(skus)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if p.returncode:
        raise SystemExit("seeding %s failed:\n%s" % (srv.name, p.stdout[-2000:]))


def phase_e2e(a, srv):
    srv.start()
    try:
        seed(a.client, srv, a.skus)
        c0 = cpu_s(srv.pids())
        r = run_e2e(a.client, srv.url, ["-n", str(a.orders), "-c", "64", "--no-seed", "--skus", str(a.skus),
                                        "--completion", "stats", "--timeout", "600"], 900)
        cpu = cpu_s(srv.pids()) - c0
        done = r.get("completed_per_s") and r["accepted"]
        out = {"completed_per_s": r.get("completed_per_s"), "submitted_per_s": r.get("submitted_per_s"),
               "cpu_us_per_order": cpu * 1e6 / r["accepted"] if done else None, "cpu_s": cpu,
               "hwm_mb": hwm_kb(srv.pids()) / 1024.0, "errors": r.get("errors")}
        # latency at half the rate this server just sustained, ~10 s
        rate = max(10, int((r.get("completed_per_s") or 20) / 2))
        lr = run_e2e(a.client, srv.url, ["-n", str(rate * a.latency_s), "--rate", str(rate), "-c", "64",
                                         "--no-seed", "--skus", str(a.skus), "--completion", "stats",
                                         "--timeout", "300"], 600)
        out.update({"lat_rate": rate, "lat_p50": lr.get("latency_p50_ms"), "lat_p99": lr.get("latency_p99_ms"),
                    "stamp_p50": lr.get("stamped_p50_ms"), "stamp_p99": lr.get("stamped_p99_ms"),
                    "lat_completed_per_s": lr.get("completed_per_s")})
        return out
    finally:
        srv.stop()


def drain(srv, limit_s):
    """Seconds until nothing is PENDING or RESERVED (None past limit_s)."""
    t0 = time.time()
    while time.time() - t0 < limit_s:
        by = srv.by_status()
        if not by.get("PENDING") and not by.get("RESERVED"):
            return time.time() - t0
        time.sleep(0.1)
    return None


def phase_intake(a, srv):
    srv.start()
    try:
        seed(a.client, srv, a.skus)
        w = wrk(srv.url + "/api/orders", 64, a.wrk_s, os.path.join(HERE, "e2e_order.lua"))
        return {"intake_per_s": w["ok"] / w["duration_s"], "intake_pushed": w["pushed_back"],
                "intake_other": w["other"], "intake_p99": w["p99_ms"]}
    finally:
        srv.stop()


def phase_flood(a, srv):
    srv.start()
    try:
        seed(a.client, srv, a.skus)
        by0 = srv.by_status()
        t0 = time.time()
        sample = subprocess.Popen(["taskset", "-c", "1", sys.executable, a.client, srv.url, "-n",
                                   str(50 * a.wrk_s), "--rate", "50", "-c", "8", "--no-seed", "--skus",
                                   str(a.skus), "--completion", "stats", "--timeout", "300", "--sample",
                                   str(50 * a.wrk_s)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        w = wrk(srv.url + "/api/orders", 256, a.wrk_s, os.path.join(HERE, "e2e_order.lua"))
        by1 = srv.by_status()
        span = time.time() - t0
        done = sum(by1.get(s, 0) - by0.get(s, 0) for s in TERMINAL)
        backlog = by1.get("PENDING", 0) + by1.get("RESERVED", 0)
        d = drain(srv, a.drain_s)
        so, _ = sample.communicate(timeout=600)
        res = {}
        for line in so.splitlines():
            if line.startswith("E2E_RESULT "):
                for kv in line.split()[1:]:
                    k, _, v = kv.partition("=")
                    res[k] = v
        num = lambda k: float(res[k]) if res.get(k) not in (None, "None") else None  # noqa: E731
        return {"flood_completed_per_s": done / span, "flood_accepted_per_s": w["ok"] / w["duration_s"],
                "flood_pushed": w["pushed_back"], "flood_other": w["other"], "flood_backlog": backlog,
                "flood_drain_s": d, "flood_lat_p50": num("latency_p50_ms"), "flood_lat_p99": num("latency_p99_ms"),
                "flood_stamp_p50": num("stamped_p50_ms"), "flood_stamp_p99": num("stamped_p99_ms"),
                "flood_sample_retries": num("retries")}
    finally:
        srv.stop()


def ceiling(a, ngx):
    url = "http://127.0.0.1:%d" % ngx.port
    r = run_e2e(a.client, url, ["-n", str(a.orders), "-c", "64", "--submit-only", "--no-seed"], 600)
    w = wrk(url + "/", 64, 5)
    return {"client_submit_per_s": r["submitted_per_s"], "wrk_nginx_per_s": w["rps"]}


# ---- report ---------------------------------------------------------------------------

def med(rounds, srv, key):
    v = [r[srv].get(key) for r in rounds if r[srv].get(key) is not None]
    return statistics.median(v) if v else None


def every(rounds, srv, key, fmt="%.0f"):
    return " / ".join((fmt % r[srv][key]) if r[srv].get(key) is not None else "-" for r in rounds)


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def report(rounds, a):
    o = lambda k: med(rounds, "orderly", k)  # noqa: E731
    p = lambda k: med(rounds, "peer", k)  # noqa: E731
    ratio = lambda x, y: (x / y) if (x and y) else None  # noqa: E731
    rows = []

    def row(what, ok_, pe, rat, target, met, key, f="%.0f"):
        rows.append((what, fmt(ok_, f), fmt(pe, f), fmt(rat, "%.2f x") if rat is not None else "", target,
                     "" if met is None else ("yes" if met else "NO"),
                     every(rounds, "orderly", key, f) + "  |  " + every(rounds, "peer", key, f)))

    e2e_r = ratio(o("completed_per_s"), p("completed_per_s"))
    row("end to end completed/s (%d orders, c64)" % a.orders, o("completed_per_s"), p("completed_per_s"), e2e_r,
        ">= 6 x and >= 3,000/s",
        e2e_r is not None and e2e_r >= 6 and o("completed_per_s") >= 3000, "completed_per_s")
    cpu = o("cpu_us_per_order")
    row("server CPU per completed order (us)", cpu, p("cpu_us_per_order"),
        ratio(p("cpu_us_per_order"), cpu), "<= 200 us", cpu is not None and cpu <= 200, "cpu_us_per_order")
    row("latency at half rate, p50 (ms, server stamp)", o("stamp_p50"), p("stamp_p50"), None, "<= 3 ms",
        o("stamp_p50") is not None and o("stamp_p50") <= 3, "stamp_p50", "%.1f")
    row("latency at half rate, p99 (ms, server stamp)", o("stamp_p99"), p("stamp_p99"), None, "<= 15 ms",
        o("stamp_p99") is not None and o("stamp_p99") <= 15, "stamp_p99", "%.1f")
    row("latency at half rate, p50 (ms, client polls)", o("lat_p50"), p("lat_p50"), None, "", None, "lat_p50",
        "%.1f")
    row("latency at half rate, p99 (ms, client polls)", o("lat_p99"), p("lat_p99"), None, "", None, "lat_p99",
        "%.1f")
    in_r = ratio(o("intake_per_s"), p("intake_per_s"))
    row("intake: orders accepted/s (wrk c64, functions running)", o("intake_per_s"), p("intake_per_s"), in_r,
        ">= 8 x", in_r is not None and in_r >= 8, "intake_per_s")
    fl = o("flood_completed_per_s")
    fl_r = ratio(fl, o("completed_per_s"))
    row("flood (wrk c256): completed/s", fl, p("flood_completed_per_s"), None,
        "within 20 % of e2e", fl_r is not None and fl_r >= 0.8, "flood_completed_per_s")
    row("flood: accepted/s", o("flood_accepted_per_s"), p("flood_accepted_per_s"), None, "", None,
        "flood_accepted_per_s")
    # the bound: intake pushes back (429/503) or keeps pace (fair
    # scheduling) before the backlog passes about 1 s of work
    row("flood: 429/503 answers", o("flood_pushed"), p("flood_pushed"), None, "", None, "flood_pushed")
    bl, rate = o("flood_backlog"), o("completed_per_s")
    row("flood: backlog when it ends (orders)", bl, p("flood_backlog"), None, "<= 1 s of work",
        bl is not None and rate is not None and bl <= rate, "flood_backlog")
    row("flood: sample latency p99 (ms, server stamp)", o("flood_stamp_p99"), p("flood_stamp_p99"), None,
        "bounded", None, "flood_stamp_p99", "%.1f")
    row("flood: backlog drained after (s)", o("flood_drain_s"), p("flood_drain_s"), None, "", None,
        "flood_drain_s", "%.1f")
    row("peak RSS during e2e (MiB)", o("hwm_mb"), p("hwm_mb"), None, "", None, "hwm_mb", "%.0f")

    w = [max(len(r[i]) for r in rows + [("what", "orderly", "peer", "ratio", "target", "met", "")]) for i in range(6)]
    line = lambda c: "| " + " | ".join(c[i].ljust(w[i]) for i in range(6)) + " | " + c[6]  # noqa: E731
    log("")
    log("medians of %d rounds; last column: every round, orderly | peer" % len(rounds))
    log(line(("what", "orderly", "peer", "ratio", "target", "met", "rounds")))
    log("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        log(line(r))
    cl = [r["ceiling"] for r in rounds]
    log("load generators' ceiling (nginx return 200 on core 0): run-e2e.py submits %s orders/s, wrk %s req/s"
        % (" / ".join("%.0f" % c["client_submit_per_s"] for c in cl),
           " / ".join("%.0f" % c["wrk_nginx_per_s"] for c in cl)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--skus", type=int, default=1000)
    ap.add_argument("--wrk-seconds", dest="wrk_s", type=int, default=10)
    ap.add_argument("--latency-seconds", dest="latency_s", type=int, default=10)
    ap.add_argument("--drain-seconds", dest="drain_s", type=int, default=120)
    ap.add_argument("--peer-dir", default=os.path.join(ROOT, "..", "shared", "bench-peer"))
    ap.add_argument("--bin", default=os.environ.get("ORDERLY_BIN", os.path.join(ROOT, "build", "orderly")))
    ap.add_argument("--log-level", default="warn", help="orderly's log level (the peer logs nothing per order)")
    ap.add_argument("--orderly-arg", action="append", default=[], help="extra argument to orderly serve")
    ap.add_argument("--http-threads", type=int, default=1, help="orderly's http.threads (one core: 1)")
    ap.add_argument("--only", choices=["orderly", "peer"], help="measure one server only (no ratios)")
    ap.add_argument("--phases", default="e2e,intake,flood")
    ap.add_argument("--json", help="write every round's figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    a = ap.parse_args()
    for tool in ("taskset", "wrk", "nginx") + (() if a.only == "orderly" else ("node", "npm", "redis-server")):
        if not shutil.which(tool):
            raise SystemExit("bench/e2e.py needs %s (scripts/install-deps.sh installs it)" % tool)
    if os.cpu_count() < 2:
        raise SystemExit("bench/e2e.py needs two cores (server on 0, load on 1)")
    tmp = tempfile.mkdtemp(prefix="orderly-bench-e2e-")
    a.client = os.path.join(a.peer_dir, "run-e2e.py")
    servers, ngx, rounds = {}, None, []
    try:
        if a.only != "orderly":
            servers["peer"] = Peer(tmp, a.peer_dir)
            a.client = os.path.join(servers["peer"].dir, "run-e2e.py")
        if a.only != "peer":
            servers["orderly"] = Orderly(tmp, a.bin, a.log_level, a.orderly_arg, a.http_threads)
        ngx = Nginx(tmp)
        phases = a.phases.split(",")
        for k in range(a.rounds):
            order = sorted(servers, reverse=(k % 2 == 1))  # odd rounds orderly first, even rounds peer first
            rd = {s: {} for s in ("orderly", "peer")}
            log("== round %d (%s)" % (k + 1, " then ".join(order)))
            rd["ceiling"] = ceiling(a, ngx)
            for ph in phases:
                for s in order:
                    fn = {"e2e": phase_e2e, "intake": phase_intake, "flood": phase_flood}[ph]
                    r = fn(a, servers[s])
                    rd[s].update(r)
                    log("  %-7s %-6s %s" % (s, ph, " ".join("%s=%s" % (kk, fmt(v, "%.1f") if isinstance(v, float)
                                                                       else v) for kk, v in r.items())))
            rounds.append(rd)
        report(rounds, a)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rounds, f, indent=1)
    finally:
        for s in servers.values():
            s.stop()
        if ngx:
            ngx.stop()
        if a.keep:
            log("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
