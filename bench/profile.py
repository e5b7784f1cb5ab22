#!/usr/bin/env python3
"""bench/profile.py - where orderly's CPU goes per order, on one core.

Starts orderly pinned to core 0 (fresh data directory, products SKU-0001..
SKU-1000 seeded), offers orders at a fixed rate from core 1 with the peer's
client (../shared/bench-peer/run-e2e.py --rate), and meanwhile
  - samples the server with `perf record -g` (unless --no-perf),
  - reads its CPU time (utime + stime), per thread too, and its context
    switches (voluntary + involuntary, every thread) before and after.
Prints CPU and context switches per completed order, the share of each
thread, and the perf samples grouped: kernel, SQLite, allocation (tcmalloc,
or malloc and free in libc), JSON (jansson), HTTP (orderly's loop and parser:
src/http/loop.c, parse.c), orderly itself, the
rest of libc, other.  With --callgrind it runs the server under valgrind
--tool=callgrind instead (repeatable instruction counts; slow: use a low
rate) and prints the instructions per order by the same groups.

  bench/profile.py [--rate 1000] [--seconds 10] [--bin build/orderly]
"""
import argparse
import collections
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e  # noqa: E402  (same directory: servers, client runs)

ALLOC = {"malloc", "free", "_int_malloc", "_int_free", "calloc", "realloc", "cfree", "malloc_consolidate",
         "_int_realloc", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc", "tcache_init",
         "unlink_chunk", "_int_free_merge_chunk", "_int_free_create_chunk", "_int_free_maybe_consolidate",
         "__malloc_arena_thread_freeres", "malloc_trim", "sysmalloc", "__default_morecore", "__GI___libc_malloc",
         "__GI___libc_free", "__malloc_usable_size", "malloc_usable_size"}


# the functions of src/http/loop.c and parse.c (static ones as perf names them)
HTTP_LOOP = {"conn_run", "conn_open", "conn_close", "accept_all", "worker_main", "flush_out", "fill",
             "consume", "head_in", "body_in", "request_finished", "resumes_run", "resumes_run_list",
             "http_conn_reply", "http_conn_resume", "stream_next", "date_now", "reason", "wake",
             "http_head_end", "http_head_parse", "http_head_field", "http_list_has",
             "http_chunked_decode"}


def group(dso, sym):
    d = os.path.basename(dso or "")
    if d.startswith("[kernel") or d == "[vdso]" or "vmlinux" in d:
        return "kernel"
    if "sqlite" in d:
        return "SQLite"
    if "jansson" in d:
        return "JSON (jansson)"
    if "microhttpd" in d:  # builds before the tenth pass
        return "HTTP (libmicrohttpd)"
    if "tcmalloc" in d or "jemalloc" in d or "mimalloc" in d:
        return "allocation (malloc/free)"
    if d.startswith("libc.so") or d.startswith("libc-"):
        return "allocation (malloc/free)" if sym in ALLOC else "libc (other)"
    if d.startswith("orderly") or d == "orderly":
        return "HTTP (loop, parse)" if sym in HTTP_LOOP else "orderly"
    return "other (%s)" % d if d else "other"


def io_bytes(pid):
    """Bytes the process wrote to storage (write_bytes of /proc/PID/io)."""
    try:
        for line in open("/proc/%d/io" % pid):
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tasks(pid):
    """{tid: (comm, cpu_ticks, ctx_switches)} of every thread."""
    out = {}
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            comm = open(t + "/comm").read().strip()
            f = open(t + "/stat").read().rsplit(")", 1)[1].split()
            cs = 0
            for line in open(t + "/status"):
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    cs += int(line.split()[1])
            out[int(os.path.basename(t))] = (comm, int(f[11]) + int(f[12]), cs)
        except (OSError, IndexError, ValueError):
            pass
    return out


def scrape(url):
    """The store's counters from /metrics: statements, units, commits, follow-ups."""
    out = collections.Counter()
    try:
        text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        for key, name in (("statements", "orderly_store_statements_total "),
                          ("units", "orderly_store_units_total "),
                          ("commits", "orderly_store_commit_batch_size_count "),
                          ("follow_same", 'orderly_store_follow_ups_total{batch="same"} '),
                          ("follow_next", 'orderly_store_follow_ups_total{batch="next"} ')):
            if line.startswith(name):
                out[key] = float(line.split()[-1])
    return out


def perf_groups(data):
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio",
                          "--percent-limit", "0", "-g", "none"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    groups, syms = collections.Counter(), []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        groups[group(dso, sym)] += pct
        syms.append((pct, dso, sym))
    return groups, syms[:25]


def callgrind_groups(out_file):
    ann = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", out_file],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    groups, total = collections.Counter(), 0
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(\S.*?):(\S+)(?: \[(.*)\])?$", line)
        if m and "???" not in line[:0]:
            n = int(m.group(1).replace(",", ""))
            fn = m.group(3)
            obj = m.group(4) or m.group(2)
            groups[group(obj, fn)] += n
        m = re.match(r"\s*([\d,]+)\s+\(100.0%\)\s+PROGRAM TOTALS", line) or re.match(r"\s*([\d,]+)\s+PROGRAM TOTALS",
                                                                                      line)
        if m:
            total = int(m.group(1).replace(",", ""))
    return groups, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--skus", type=int, default=1000)
    ap.add_argument("--bin", default=os.environ.get("ORDERLY_BIN", os.path.join(e2e.ROOT, "build", "orderly")))
    ap.add_argument("--peer-dir", default=os.path.join(e2e.ROOT, "..", "shared", "bench-peer"))
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--orderly-arg", action="append", default=[])
    ap.add_argument("--http-threads", type=int, default=1)
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--call-graph", default="fp", help="perf's --call-graph (dwarf finds callers inside libc)")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    client = os.path.join(a.peer_dir, "run-e2e.py")
    tmp = tempfile.mkdtemp(prefix="orderly-profile-")
    srv = e2e.Orderly(tmp, a.bin, a.log_level, a.orderly_arg, a.http_threads)
    perf = None
    try:
        if a.callgrind:
            cg = os.path.join(tmp, "callgrind.out")
            srv.bin = "valgrind"
            srv.extra = []
            real = a.bin
            orig_start = srv.start

            def start_cg():
                srv.n += 1
                data = os.path.join(tmp, "orderly-%d" % srv.n)
                os.makedirs(data)
                srv.port = e2e.free_port()
                out = open(os.path.join(tmp, "orderly-%d.log" % srv.n), "w")
                p = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg,
                                      real, "serve", "--env", "bench", "--listen", "127.0.0.1:%d" % srv.port, "--db",
                                      os.path.join(data, "bench.db"), "--log-level", a.log_level] + a.orderly_arg,
                                     stdout=out, stderr=out, env=dict(os.environ, ORDERLY_AUTH_ENABLED="false"))
                srv.procs = [p]
                e2e.wait_http(srv.url + "/ready", "orderly under callgrind", timeout=300, proc=p)
            srv.start = start_cg
            del orig_start
        srv.start()
        pid = srv.procs[0].pid
        e2e.seed(client, srv, a.skus)
        if a.callgrind:
            subprocess.run(["callgrind_control", "-z", str(pid)], stdout=subprocess.DEVNULL)
        elif not a.no_perf:
            perf = subprocess.Popen(["perf", "record", "-F", "997", "--call-graph", a.call_graph, "-p", str(pid), "-o",
                                     os.path.join(tmp, "perf.data")], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        t0 = tasks(pid)
        m0 = scrape(srv.url)
        w0 = io_bytes(pid)
        r = e2e.run_e2e(client, srv.url, ["-n", str(a.rate * a.seconds), "--rate", str(a.rate), "-c", "64",
                                          "--no-seed", "--skus", str(a.skus), "--completion", "stats",
                                          "--timeout", "600"], 1200)
        t1 = tasks(pid)
        m1 = scrape(srv.url)
        w1 = io_bytes(pid)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        n = r["accepted"]
        threads = collections.Counter()
        cs = 0
        for tid, (comm, ticks, c) in t1.items():
            b = t0.get(tid, (comm, 0, 0))
            threads[comm] += (ticks - b[1]) / e2e.TCK
            cs += c - b[2]
        total = sum(threads.values())
        print("orderly at %d orders/s for %d s (%d orders, %s/s completed): CPU %.0f us per order, "
              "%.1f context switches per order" % (a.rate, a.seconds, n, r.get("completed_per_s"),
                                                  total * 1e6 / n, cs / n))
        print("latency submit -> terminal: p50 %s ms, p99 %s ms (server stamp p50 %s, p99 %s)"
              % (r.get("latency_p50_ms"), r.get("latency_p99_ms"), r.get("stamped_p50_ms"), r.get("stamped_p99_ms")))
        if m1:
            print("per order: %s, bytes written %.0f" % (
                ", ".join("%s %.2f" % (k, (m1[k] - m0[k]) / n) for k in
                          ("statements", "units", "commits", "follow_same", "follow_next")), (w1 - w0) / n))
        print("CPU by thread (us per order): " + ", ".join("%s %.0f" % (k, v * 1e6 / n)
                                                          for k, v in threads.most_common()))
        if a.callgrind:
            srv.stop()
            groups, tot = callgrind_groups(cg)
            print("instructions per order: %.0f" % (tot / n))
            for g, v in groups.most_common():
                print("  %-32s %5.1f %%  %8.0f per order" % (g, 100.0 * v / max(1, tot), v / n))
        elif perf:
            groups, syms = perf_groups(os.path.join(tmp, "perf.data"))
            print("perf samples by group:")
            for g, v in groups.most_common():
                print("  %-32s %5.1f %%" % (g, v))
            print("top symbols:")
            for pct, dso, sym in syms:
                print("  %5.2f %%  %-24s %s" % (pct, os.path.basename(dso)[:24], sym[:70]))
    finally:
        if perf and perf.poll() is None:
            perf.kill()
        srv.stop()
        if a.keep:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
