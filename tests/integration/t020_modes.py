"""t020: node modes (issue 13): --mode all|api|worker.

  api     serves the whole API but polls no queue: an order stays PENDING,
          /api/health shows the functions with 0 pollers, /ready is 200
  worker  polls the queues and serves only /health, /ready, /metrics and
          /api/health: /api/orders is 404 there
  both    (on PostgreSQL, where nodes share a database) an api node and a
          worker node together: the order taken by the api node is
          processed by the worker node, read back COMPLETED on either
  bad     --mode both: exit 2 with a one-line reason
"""
import json
import os
import subprocess
from harness import BIN, PG, SRC, Server, check, eq, ok, run, shipped_config, wait_for


def config(d):
    cfg = shipped_config()
    path = os.path.join(d, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


ORDER = {"customerId": "c-mode", "items": [{"sku": "PROD-001", "qty": 1}]}


def pollers(srv):
    comps = ok(srv, "GET", "/api/health")["components"]
    return {k: v["pollersRunning"] for k, v in comps["functions"]["functions"].items()}


def test_api_mode_polls_nothing():
    srv = Server(env="mapi", extra_args=["--mode", "api"])
    srv.config = config(srv.data_dir)
    srv.start()
    try:
        oid = ok(srv, "POST", "/api/orders", ORDER, want=202)["orderId"]
        eq(set(pollers(srv).values()), {0}, "pollers of an api node")
        comps = ok(srv, "GET", "/api/health")["components"]
        eq(comps["pipeline"]["status"], "consumed", "an api node counts on the workers to consume the flow")
        st, _, _ = srv.request("GET", "/ready")
        eq(st, 200, "an api node is ready without pollers")
        import time
        time.sleep(1.0)  # nobody processes it here
        eq(ok(srv, "GET", "/api/orders/" + oid)["status"], "PENDING", "the order on an api node alone")
        metrics = srv.request("GET", "/metrics")[2]
        check("orderly_store_leader 1" in metrics, "a lone node leads")
    finally:
        eq(srv.stop(), 0, "exit")


def test_worker_mode_serves_no_api():
    """A worker has no sign-in of its own: a token from any node of the
    cluster (one key) or an API key opens its /metrics and /api/health;
    here /metrics is public (auth.metricsPublic) and /api/health is refused
    without a token (401: the route is there), while the API is not (404)."""
    srv = Server(env="mwrk", extra_args=["--mode", "worker"],
                 env_vars={"ORDERLY_AUTH_METRICS_PUBLIC": "true"})
    srv.auto_auth = False
    srv.config = config(srv.data_dir)
    srv.start()
    try:
        for path in ("/health", "/ready", "/metrics"):
            st, _, _ = srv.request("GET", path)
            eq(st, 200, "worker GET " + path)
        st, _, _ = srv.request("GET", "/api/health")
        eq(st, 401, "worker GET /api/health without a token")
        for method, path in (("GET", "/api/orders"), ("POST", "/api/orders"), ("GET", "/api/queues"),
                             ("GET", "/api/products"), ("POST", "/api/login")):
            st, _, _ = srv.request(method, path, ORDER if method == "POST" else None)
            eq(st, 404, "worker %s %s" % (method, path))
        m = srv.request("GET", "/metrics")[2]
        check('orderly_function_invocations_total{function="order-processor"}' in m, "a worker's metrics")
    finally:
        eq(srv.stop(), 0, "exit")


if PG:
    def test_api_and_worker_nodes_share_the_work():
        base = Server(env="mboth")
        cfg = config(base.data_dir)
        api = Server(env="mboth", config=cfg, db_key=base.db_key, extra_args=["--mode", "api"])
        worker = Server(env="mboth", config=cfg, db_key=base.db_key, extra_args=["--mode", "worker"])
        worker.auto_auth = False  # no sign-in on a worker: the api node's token serves
        api.start(wait=False)
        worker.start(wait=False)
        try:
            api.wait_ready(60)
            worker.wait_ready(60)
            ids = [ok(api, "POST", "/api/orders", ORDER, want=202)["orderId"] for _ in range(5)]
            for i in ids:
                wait_for("order %s completed by the worker" % i,
                         lambda: ok(api, "GET", "/api/orders/" + i)["status"] == "COMPLETED", timeout=30)
            # the api node's token opens the worker (one signing key for the cluster)
            st, _, h = worker.request("GET", "/api/health", headers={"Authorization": "Bearer " + api.token()})
            eq(st, 200, "the worker's /api/health with the api node's token (%r)" % h)
            m = worker.request("GET", "/metrics", headers={"Authorization": "Bearer " + api.token()})[2]
            check('orderly_function_invocations_total{function="order-processor"}' in m, "the worker's metrics")
        finally:
            codes = (api.stop(), worker.stop())  # both, whatever happened
            eq(codes, (0, 0), "exit codes of the api and the worker node")


def test_bad_mode_is_a_usage_error():
    r = subprocess.run([BIN, "serve", "--env", "mbad", "--mode", "both"], capture_output=True, text=True, timeout=30)
    eq(r.returncode, 2, "exit code (stderr %r)" % r.stderr)
    check("mode" in r.stderr and "all|api|worker" in r.stderr, "reason: %r" % r.stderr)
    eq(len(r.stderr.strip().splitlines()), 1, "one line")


run(globals())
