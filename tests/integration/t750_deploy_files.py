"""t750: the files under deploy/ (issue 4 item 3).

  alerts.yml            promtool check rules; promtool test rules
                        (t750_alerts_test.yml: each alert fires on a breach
                        and clears after it)
  prometheus.yml        promtool check config; scrapes /metrics, loads alerts.yml
  grafana-dashboard.json  parses; has the panels of seed 001's dashboard
                        plus orders, throughput, latency and inventory
  metric names          every metric named by a dashboard expression or an
                        alert rule is one a live /metrics exposes (with
                        samples) after a little traffic: an order that
                        completes, a queue message sent, received, deleted
  orderly.service       systemd-analyze verify is silent (when available);
                        TimeoutStopSec above http.drainSeconds; hardening
  nginx-orderly.conf    nginx -t in a temporary prefix, also with every node
                        enabled; then a real nginx proxies to a live orderly
  cluster/              the multi-node example (issue 13): nginx -t of the
                        upstream over three nodes; systemd-analyze verify of
                        the node unit and its environment file; every
                        setting of postgresql-orderly.conf accepted by a real
                        PostgreSQL; setup-db.sql run on it, after which a node
                        migrates as role orderly into schema prod; on
                        PostgreSQL (integ-pg) a real nginx over three live
                        nodes of one database: an order taken through it
                        reads the same on every node

promtool and nginx come from scripts/install-deps.sh (prometheus,
nginx-light): missing ones fail the test under CI=true, else are skipped.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from harness import temp_dir, BIN, PG, SRC, Server, run, check, eq, free_port, pg_cluster, shipped_config, wait_for

DEPLOY = os.path.join(SRC, "deploy")
HERE = os.path.dirname(os.path.abspath(__file__))
CI = os.environ.get("CI", "").lower() == "true"

# PromQL words that are not metric names
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group",
    "count_values", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "rate", "irate", "increase", "delta", "idelta", "histogram_quantile",
    "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "label_values", "abs", "clamp_min", "clamp_max", "time", "vector", "scalar", "absent",
}


def tool(name):
    path = shutil.which(name)
    if path is None:
        if CI:
            raise AssertionError("%s is missing (run scripts/install-deps.sh)" % name)
        print("SKIP: %s not installed" % name)
    return path


def sh(*args, **kw):
    p = subprocess.run(list(args), capture_output=True, timeout=60, stdin=subprocess.DEVNULL, **kw)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def metric_names(expr):
    """Metric names in a PromQL expression: what is left after string
    literals, label matchers, ranges, grouping clauses, function calls,
    keywords and numbers are taken out.  An unknown word is returned too,
    so a typo fails the comparison."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if e[m.end():].lstrip().startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the exponent or unit of a number (1e3)
        names.add(word)
    return names


def test_metric_name_extraction():
    eq(metric_names('histogram_quantile(0.99, sum by (le, route) (rate(a_b_bucket{x=~"$i",c="5.."}[$__rate_interval]))) > 1'),
       {"a_b_bucket"}, "names")
    eq(metric_names("sum(rate(x_total[1m])) / sum by (code) (increase(y_total{code=~\"5..\"}[5m])) > 0.05"),
       {"x_total", "y_total"}, "names")
    eq(metric_names("label_values(orderly_build_info, instance)"), {"orderly_build_info", "instance"},
       "label_values keeps the label word (the caller drops it)")


def alert_exprs():
    """(alert, expr) of deploy/alerts.yml (our own YAML: 'expr:' inline or a | block)."""
    out, alert = [], None
    lines = open(os.path.join(DEPLOY, "alerts.yml")).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*- alert:\s*(\S+)", line)
        if m:
            alert = m.group(1)
        m = re.match(r"(\s*)expr:\s*(.*)$", line)
        if m:
            indent, val = len(m.group(1)), m.group(2).strip()
            if val in ("|", ">", "|-", ">-"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                out.append((alert, " ".join(block)))
                continue
            out.append((alert, val))
        i += 1
    return out


def dashboard():
    with open(os.path.join(DEPLOY, "grafana-dashboard.json")) as f:
        return json.load(f)


def dashboard_exprs(d):
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query" and q:
            out.append(("variable " + v["name"], q))
    return out


def test_alert_rules():
    promtool = tool("promtool")
    if not promtool:
        return
    rc, out, err = sh(promtool, "check", "rules", os.path.join(DEPLOY, "alerts.yml"))
    eq(rc, 0, "promtool check rules: %s %s" % (out, err))
    check("SUCCESS: 8 rules found" in out, "promtool check rules: %r" % out)
    rc, out, err = sh(promtool, "test", "rules", os.path.join(HERE, "t750_alerts_test.yml"))
    eq(rc, 0, "promtool test rules: %s %s" % (out, err))
    check("SUCCESS" in out, "promtool test rules: %r" % out)
    # one rule per built-in alarm, each saying which
    alarms = sorted(re.findall(r"^\s*alarm:\s*(\S+)", open(os.path.join(DEPLOY, "alerts.yml")).read(), re.M))
    eq(alarms, sorted(["dlq-messages-visible", "function-errors", "queue-oldest-age", "http-5xx-rate",
                       "http-p99-latency", "low-stock", "intake-refused", "payment-circuit-open"]),
       "alarms covered")


def test_prometheus_config():
    text = open(os.path.join(DEPLOY, "prometheus.yml")).read()
    check(re.search(r"metrics_path:\s*/metrics", text), "metrics_path")
    check('"127.0.0.1:8080"' in text, "target 127.0.0.1:8080")
    check(re.search(r"rule_files:\s*\n\s*-\s*alerts\.yml", text), "rule_files: alerts.yml")
    promtool = tool("promtool")
    if not promtool:
        return
    rc, out, err = sh(promtool, "check", "config", os.path.join(DEPLOY, "prometheus.yml"))
    eq(rc, 0, "promtool check config: %s %s" % (out, err))
    check("SUCCESS: 8 rules found" in out, "the rule file is loaded: %r" % out)


def test_dashboard_panels():
    d = dashboard()
    titles = [p["title"] for p in d["panels"] if p["type"] != "row"]
    for want in ("API invocations", "API errors", "Function invocations and errors", "Function duration",
                 "Messages visible", "Age of the oldest message", "DLQ messages visible", "Orders by status",
                 "Order throughput", "latency", "Stock and reserved"):
        check(any(want in t for t in titles), "no panel %r in %r" % (want, titles))
    ids = [p["id"] for p in d["panels"]]
    eq(len(ids), len(set(ids)), "panel ids unique")
    for p in d["panels"]:
        if p["type"] != "row":
            check(p.get("targets"), "panel %r has no query" % p["title"])


def make_traffic(srv):
    st, _, b = srv.request("POST", "/api/orders", {"customerId": "t750", "items": [{"sku": "PROD-001", "qty": 1}]})
    eq(st, 202, "order (body %r)" % b)
    oid = b["orderId"]
    end = time.time() + 20
    while time.time() < end and srv.request("GET", "/api/orders/" + oid)[2]["status"] != "COMPLETED":
        time.sleep(0.05)
    eq(srv.request("GET", "/api/orders/" + oid)[2]["status"], "COMPLETED", "the order completes")
    st, _, _ = srv.request("POST", "/api/queues", {"name": "t750-scratch"})
    check(st in (200, 201), "queue create %d" % st)
    st, _, _ = srv.request("POST", "/api/queues/t750-scratch/messages", {"body": "hello"})
    eq(st, 200, "send")
    st, _, b = srv.request("POST", "/api/queues/t750-scratch/receive", {"maxNumberOfMessages": 1})
    eq((st, len(b["messages"])), (200, 1), "receive")
    st, _, _ = srv.request("DELETE", "/api/queues/t750-scratch/messages/" + b["messages"][0]["receiptHandle"])
    eq(st, 204, "delete")
    srv.request("GET", "/metrics")


def exposed_names(text):
    """Names of the samples in a Prometheus text exposition."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def config():
    cfg = shipped_config()
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    return cfg


def test_every_metric_name_is_exposed():
    srv = Server(env="dep", config=config())
    srv.start()
    try:
        make_traffic(srv)
        st, h, text = srv.request("GET", "/metrics")
        eq(st, 200, "/metrics")
    finally:
        eq(srv.stop(), 0, "exit code")
    exposed = exposed_names(text)
    check(len(exposed) > 30, "only %d names exposed" % len(exposed))
    used = {}
    for where, expr in [("alerts.yml " + a, e) for a, e in alert_exprs()] + \
                        [("dashboard " + t, e) for t, e in dashboard_exprs(dashboard())]:
        for n in metric_names(expr):
            used.setdefault(n, where)
    used.pop("instance", None)  # label_values(metric, instance): a label name
    eq(len(alert_exprs()), 8, "alert expressions found")
    missing = {n: w for n, w in used.items() if n not in exposed}
    eq(missing, {}, "metric names used but not exposed by /metrics")
    print("%d metric names used by deploy/, all exposed" % len(used))


def test_systemd_unit():
    text = open(os.path.join(DEPLOY, "orderly.service")).read()
    keys = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    eq(keys["ExecStart"], ["/usr/local/bin/orderly serve --env prod --config /etc/orderly/orderly.json"], "ExecStart")
    eq(keys["User"], ["orderly"], "User")
    eq(keys["Restart"], ["on-failure"], "Restart")
    eq(keys["KillSignal"], ["SIGTERM"], "KillSignal")
    drain = config()["http"]["drainSeconds"]
    check(int(keys["TimeoutStopSec"][0]) > drain, "TimeoutStopSec %s <= drain %d" % (keys["TimeoutStopSec"], drain))
    for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ReadWritePaths", "/var/lib/orderly"),
                 ("PrivateTmp", "yes"), ("ProtectHome", "yes")):
        eq(keys.get(k), [v], k)
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze not installed")
        return
    d = temp_dir("orderly-unit-")
    path = os.path.join(d, "orderly.service")
    with open(path, "w") as f:  # the built binary stands in for /usr/local/bin/orderly
        f.write(text.replace("/usr/local/bin/orderly", os.environ.get("ORDERLY_BIN", "/bin/true")))
    rc, out, err = sh(analyze, "verify", "--man=no", path)
    eq((rc, out + err), (0, ""), "systemd-analyze verify")


def nginx_conf(prefix, port=None, upstream=None, all_nodes=False, cluster=None):
    """A main config including deploy/nginx-orderly.conf (rewritten for the
    test when port/upstream are given), everything under prefix; with
    cluster (a list of HOST:PORT, or [] to keep the file's), the cluster
    example instead."""
    if cluster is not None:
        text = open(os.path.join(DEPLOY, "cluster", "nginx-orderly-cluster.conf")).read()
        for i, addr in enumerate(cluster):
            text = text.replace("server 10.0.0.1%d:8080" % (i + 1), "server " + addr)
    else:
        text = open(os.path.join(DEPLOY, "nginx-orderly.conf")).read()
    if all_nodes:
        text = re.sub(r"^(\s*)# (server \S+ max_fails)", r"\1\2", text, flags=re.M)
    if port:
        text = text.replace("listen 80;", "listen 127.0.0.1:%d;" % port)
    if upstream:
        text = text.replace("server 127.0.0.1:8080", "server " + upstream)
    inc = os.path.join(prefix, "orderly.conf")
    with open(inc, "w") as f:
        f.write(text)
    main = os.path.join(prefix, "nginx.conf")
    with open(main, "w") as f:
        f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\ndaemon off;\nevents {}\nhttp {\n"
                "  access_log %s/access.log;\n" % (prefix, prefix, prefix))
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            f.write("  %s_temp_path %s/%s;\n" % (t, prefix, t))
        f.write("  include %s;\n}\n" % inc)
    return main


def test_nginx_config():
    nginx = tool("nginx")
    if not nginx:
        return
    for all_nodes in (False, True):
        d = temp_dir("orderly-nginx-")
        main = nginx_conf(d, all_nodes=all_nodes)
        rc, out, err = sh(nginx, "-t", "-p", d, "-c", main, "-e", os.path.join(d, "error.log"))
        eq(rc, 0, "nginx -t (all nodes %s): %s" % (all_nodes, err))
        check("test is successful" in err, "nginx -t: %r" % err)
    text = open(os.path.join(DEPLOY, "nginx-orderly.conf")).read()
    eq(len(re.findall(r"^\s*server \S+:\d+", text, re.M)), 1, "one active node (SQLite)")
    check(len(re.findall(r"^\s*# server \S+:\d+", text, re.M)) >= 2, "the other nodes, commented")
    check("keepalive" in text and "deploy/cluster" in text, "keepalive and the note on the cluster example")


def start_nginx(nginx, upstream_port, cluster=None):
    """nginx from the example on a free port in front of upstream_port (or
    the cluster example over the ports in cluster): (process, port, None)
    once it answers, or (None, port, why)."""
    d = temp_dir("orderly-nginx-")
    port = free_port()
    if cluster:
        main = nginx_conf(d, port=port, cluster=["127.0.0.1:%d" % p for p in cluster])
    else:
        main = nginx_conf(d, port=port, upstream="127.0.0.1:%d" % upstream_port)
    out = open(os.path.join(d, "nginx.out"), "wb")
    proc = subprocess.Popen([nginx, "-p", d, "-c", main, "-e", os.path.join(d, "error.log")],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    out.close()
    end = time.time() + 20
    while time.time() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port, None
        except OSError:
            time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    logs = ""
    for f in ("nginx.out", "error.log"):
        try:
            logs += open(os.path.join(d, f)).read()[-1000:]
        except OSError:
            pass
    return None, port, "exit %s: %s" % (proc.returncode, logs)


def test_nginx_proxies_to_orderly():
    nginx = tool("nginx")
    if not nginx:
        return
    srv = Server(env="ngx", config=config())
    srv.start()
    proc, port = None, None
    try:
        for attempt in range(3):  # another process may take the free port first: pick again
            proc, port, why = start_nginx(nginx, srv.port)
            if proc:
                break
        check(proc, "nginx did not start: %s" % why)
        front = Server(env="ngx")
        front.port = port
        st, _, _ = front.request("GET", "/health")
        eq(st, 200, "/health through nginx")
        st, h, b = front.request("POST", "/api/orders", {"customerId": "ngx", "items": [{"sku": "PROD-001", "qty": 1}]},
                                 headers={"X-Request-Id": "t750-through-nginx"})
        eq(st, 202, "order through nginx (body %r)" % b)
        eq(h.get("x-request-id"), "t750-through-nginx", "the client's X-Request-Id reaches orderly")
        st, _, b = srv.request("GET", "/api/orders/" + b["orderId"])
        eq(st, 200, "the order is in orderly")
        st, _, text = front.request("GET", "/metrics")
        eq(st, 200, "/metrics from 127.0.0.1 through nginx")
        check("orderly_build_info" in text, "metrics body")
        st, _, _ = front.request("GET", "/ready")
        eq(st, 200, "/ready through nginx")
        st, _, _ = front.request("GET", "/not-proxied")
        eq(st, 404, "other paths stay at nginx")
    finally:
        if proc:
            proc.send_signal(signal.SIGQUIT)  # graceful nginx stop
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        eq(srv.stop(), 0, "exit code")


# ---- the cluster example (deploy/cluster/) ----------------------------------------

CLUSTER = os.path.join(DEPLOY, "cluster")


def test_cluster_nginx_config():
    nginx = tool("nginx")
    if not nginx:
        return
    d = temp_dir("orderly-nginx-")
    main = nginx_conf(d, cluster=[])
    rc, out, err = sh(nginx, "-t", "-p", d, "-c", main, "-e", os.path.join(d, "error.log"))
    eq(rc, 0, "nginx -t of the cluster example: %s" % err)
    text = open(os.path.join(CLUSTER, "nginx-orderly-cluster.conf")).read()
    eq(len(re.findall(r"^\s*server \S+:\d+", text, re.M)), 3, "three active nodes")
    check("proxy_next_upstream error timeout http_503" in text, "a draining node's 503 goes to the next node")


def test_cluster_systemd_unit():
    text = open(os.path.join(CLUSTER, "orderly-node.service")).read()
    keys = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    eq(keys["EnvironmentFile"], ["/etc/orderly/node.env"], "EnvironmentFile")
    check(keys["ExecStart"][0].startswith("/usr/local/bin/orderly serve --env prod"), "ExecStart %r" % keys["ExecStart"])
    check("ReadWritePaths" not in keys and "StateDirectory" not in keys, "a cluster node keeps no local state")
    env = dict(l.split("=", 1) for l in open(os.path.join(CLUSTER, "orderly-node.env")).read().splitlines()
               if l and not l.startswith("#"))
    check(env["ORDERLY_DB"].startswith("postgres://"), "ORDERLY_DB %r" % env)
    check(env["ORDERLY_MODE"] in ("all", "api", "worker"), "ORDERLY_MODE %r" % env)
    drain = config()["http"]["drainSeconds"]
    check(int(keys["TimeoutStopSec"][0]) > drain, "TimeoutStopSec above the drain")
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze not installed")
        return
    d = temp_dir("orderly-unit-")
    shutil.copy(os.path.join(CLUSTER, "orderly-node.env"), os.path.join(d, "node.env"))
    path = os.path.join(d, "orderly.service")
    with open(path, "w") as f:
        f.write(text.replace("/usr/local/bin/orderly", os.environ.get("ORDERLY_BIN", "/bin/true"))
                .replace("/etc/orderly/node.env", os.path.join(d, "node.env")))
    rc, out, err = sh(analyze, "verify", "--man=no", path)
    eq((rc, out + err), (0, ""), "systemd-analyze verify")


def pg_settings():
    """The settings of deploy/cluster/postgresql-orderly.conf."""
    out = {}
    for line in open(os.path.join(CLUSTER, "postgresql-orderly.conf")):
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("archive_command") else line.strip()
        m = re.match(r"^(\w+)\s*=\s*(.+?)\s*$", line)
        if m:
            v = m.group(2)
            if v.startswith("'") and v.endswith("'"):
                v = v[1:-1]
            out[m.group(1)] = v
    return out


def test_cluster_postgresql_settings():
    try:
        import pgcluster
        pgcluster.bindir()
    except (ImportError, RuntimeError) as e:
        if CI:
            raise
        print("SKIP: %s" % e)
        return
    want = pg_settings()
    check(len(want) >= 10 and want.get("synchronous_commit") == "on", "settings read: %r" % want)
    # everything as written, but on loopback only and archiving into the test's directory
    run_with = dict(want)
    run_with.pop("listen_addresses")
    c = pgcluster.Cluster(settings=run_with)
    arch = os.path.join(c.dir, "wal-archive")
    run_with["archive_command"] = "test ! -f %s/%%f && cp %%p %s/%%f" % (arch, arch)
    c.settings.update(run_with)
    os.makedirs(arch)
    if os.getuid() == 0:
        shutil.chown(arch, "postgres", "postgres")
    c.start()
    try:
        units = {"shared_buffers": "1GB", "deadlock_timeout": "100ms", "autovacuum_naptime": "10s",
                 "wal_compression": "pglz", "log_min_duration_statement": "1s"}  # how SHOW spells them
        for k, v in want.items():
            if k in ("listen_addresses", "archive_command"):
                continue
            got = c.psql("SHOW %s" % k)[0][0]
            eq(got, units.get(k, v), "SHOW %s" % k)
        # the role and database of setup-db.sql, then a node's migration as that role
        r = subprocess.run([os.path.join(c.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v",
                            "password='t750'", "-h", "127.0.0.1", "-p", str(c.port), "-U", "postgres", "-d",
                            "postgres", "-f", os.path.join(CLUSTER, "setup-db.sql")],
                           capture_output=True, text=True)
        eq(r.returncode, 0, "setup-db.sql: %s" % r.stderr)
        url = "postgresql://orderly@127.0.0.1:%d/orderly?options=-csearch_path%%3Dprod" % c.port
        r = subprocess.run([BIN, "migrate", "--env", "prod", "--db", url], capture_output=True, text=True)
        eq(r.returncode, 0, "a node migrates as orderly into prod: %s" % r.stderr[-500:])
        owner = c.psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'prod' AND tablename = 'orders'",
                       db="orderly")
        eq(owner, [["orderly"]], "prod.orders belongs to orderly")
    finally:
        c.remove()


if PG:
    def test_cluster_nginx_over_three_live_nodes():
        nginx = tool("nginx")
        if not nginx:
            return
        base = Server(env="ngc")
        nodes = [Server(env="ngc", config=config(), db_key=base.db_key) for _ in range(3)]
        for n in nodes:
            n.start(wait=False)
        proc = None
        try:
            for n in nodes:
                n.wait_ready(timeout=60)
            for attempt in range(3):
                proc, port, why = start_nginx(nginx, None, cluster=[n.port for n in nodes])
                if proc:
                    break
            check(proc, "nginx did not start: %s" % why)
            front = Server(env="ngc")
            front.port = port
            ids = []
            for i in range(6):  # least_conn spreads them
                st, _, b = front.request("POST", "/api/orders", {"customerId": "ngc-%d" % i,
                                                                 "items": [{"sku": "PROD-001", "qty": 1}]})
                eq(st, 202, "order %d through nginx (body %r)" % (i, b))
                ids.append(b["orderId"])
            for i in ids:
                wait_for("order %s completes" % i, lambda: front.request("GET", "/api/orders/" + i)[2]
                         .get("status") == "COMPLETED", timeout=30)
                views = [n.request("GET", "/api/orders/" + i)[2] for n in nodes]
                eq(views[1], views[0], "node 2 reads order %s as node 1" % i)
                eq(views[2], views[0], "node 3 reads order %s as node 1" % i)
            # a node down: nginx takes the others
            nodes[0].kill9()
            for i in range(4):
                st, _, b = front.request("GET", "/api/orders/" + ids[i])
                eq(st, 200, "GET through nginx with a node down")
        finally:
            if proc:
                proc.send_signal(signal.SIGQUIT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for n in nodes:
                n.stop() if n.proc and n.proc.poll() is None else None


run(globals())
