"""t010: the basics of the binary: /health, /ready, the CLI (version, help,
serve --help), fail-fast on a missing ENVIRONMENT or a bad config key, a
clean exit 0 on SIGTERM (also with a long poll in flight) and `migrate`.
"""
import json
import os
import signal
import subprocess
import threading
import time
from harness import temp_dir, BIN, Server, run, check, eq, is_problem, PG, db_rows


def clean_env(**extra):
    """The process environment without anything that configures orderly."""
    env = {k: v for k, v in os.environ.items()
           if k != "ENVIRONMENT" and not k.startswith("ORDERLY_")}
    env.update(extra)
    return env


def cli(*args, env=None, cwd=None, timeout=20):
    p = subprocess.run([BIN] + list(args), env=env if env is not None else clean_env(), cwd=cwd,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_health_and_ready():
    with Server(env="basics") as srv:
        st, h, b = srv.request("GET", "/health")
        eq(st, 200, "/health status")
        eq(b, {"status": "ok"}, "/health body")
        check(h.get("content-type", "").startswith("application/json"), "health ctype %r" % h)
        check(h.get("x-request-id"), "no X-Request-Id on /health: %r" % h)
        st, h, b = srv.request("GET", "/ready")
        eq(st, 200, "/ready status")
        eq(b, {"status": "ready"}, "/ready body")
        # a sane client request id is echoed, a bad one replaced
        st, h, _ = srv.request("GET", "/health", headers={"X-Request-Id": "abc-123.x_y"})
        eq(h.get("x-request-id"), "abc-123.x_y", "echoed X-Request-Id")
        st, h, _ = srv.request("GET", "/health", headers={"X-Request-Id": "bad id/with space"})
        check(h.get("x-request-id") not in (None, "", "bad id/with space"),
              "insane X-Request-Id kept: %r" % h.get("x-request-id"))
        # HEAD answers like GET, without a body
        st, h, b = srv.request("HEAD", "/health")
        eq(st, 200, "HEAD /health")
        eq(b, "", "HEAD body")
        # a wrong method on a builtin is 405 with Allow
        st, h, b = srv.request("POST", "/health", raw=b"")
        is_problem(st, h, b, 405, "POST /health")
        check("GET" in h.get("allow", ""), "Allow header %r" % h.get("allow"))


def test_a_port_taken_by_another_server():
    """A port free_port() gave out can be taken by another test's server
    before this one binds it: orderly exits 1 saying so, and the harness
    does not take the other server's /ready 200 for its own (t736 once
    verified a fault-free node against another run's faulty server)."""
    with Server(env="basics") as a:
        b = Server(env="basics")
        b.port = a.port
        try:
            b.start()
            raise AssertionError("a server that could not listen was taken as ready")
        except RuntimeError as e:
            check("exited with 1" in str(e) and "address already in use" in str(e).lower(), "why: %s" % e)
        finally:
            b.stop()
        eq(a.request("GET", "/ready", auth=False)[0], 200, "the first server is untouched")


def test_version():
    rc, out, err = cli("version")
    eq(rc, 0, "version exit code (stderr %r)" % err)
    check(out.startswith("orderly "), "version output %r" % out)
    eq(len(out.strip().splitlines()), 1, "version lines %r" % out)
    check(any(c.isdigit() for c in out.split()[1]), "no version number in %r" % out)
    rc2, out2, _ = cli("--version")
    eq((rc2, out2), (0, out), "--version = version")
    rc, out, err = cli("version", "extra")
    eq(rc, 2, "version with a stray argument: exit code (out %r err %r)" % (out, err))


def test_help():
    rc, out, err = cli("help")
    eq(rc, 0, "help exit code (stderr %r)" % err)
    for c in ("serve", "migrate", "version", "help"):
        check("  %s " % c in out, "help does not list %r:\n%s" % (c, out))
    rc2, out2, _ = cli("--help")
    eq((rc2, out2), (0, out), "--help = help")
    rc, out, err = cli()
    eq(rc, 2, "no command: exit code")
    check("usage" in out + err, "no usage without a command: %r %r" % (out, err))
    rc, out, err = cli("frobnicate")
    eq(rc, 2, "unknown command: exit code")
    check("frobnicate" in err, "unknown command not named: %r" % err)


def test_serve_help():
    # no ENVIRONMENT needed for --help
    rc, out, err = cli("serve", "--help")
    eq(rc, 0, "serve --help exit code (stderr %r)" % err)
    check(out.startswith("usage: orderly serve"), "serve --help: %r" % out[:200])
    for flag in ("--env", "--listen", "--db", "--config", "--log-level"):
        check(flag in out, "serve --help lacks %s" % flag)
    for key in ("VisibilityTimeout", "maxReceiveCount", "http.bodyBytesMax"):
        check(key in out, "serve --help lacks the key %s" % key)
    rc2, out2, _ = cli("help", "serve")
    eq((rc2, out2), (0, out), "help serve = serve --help")
    rc, out, err = cli("serve", "--no-such-flag", "--env", "x")
    eq(rc, 2, "unknown flag: exit code (out %r err %r)" % (out, err))


def test_missing_environment():
    d = temp_dir("orderly-it-")
    for cmd in ("serve", "migrate"):
        rc, out, err = cli(cmd, "--db", os.path.join(d, "x.db"), cwd=d)
        eq(rc, 2, "%s without ENVIRONMENT: exit code (stderr %r)" % (cmd, err))
        lines = err.splitlines()
        eq(len(lines), 1, "%s: stderr lines %r" % (cmd, err))
        check("ENVIRONMENT is not set" in lines[0], "%s: stderr %r" % (cmd, err))
        eq(out, "", "%s: stdout" % cmd)
        check(not os.path.exists(os.path.join(d, "x.db")), "%s made a db without ENVIRONMENT" % cmd)
    # ENVIRONMENT from the process environment is enough, --env wins over it
    rc, out, err = cli("serve", "--print-config", env=clean_env(ENVIRONMENT="fromenv"), cwd=d)
    eq(rc, 0, "serve --print-config with ENVIRONMENT (stderr %r)" % err)
    eq(json.loads(out).get("env"), "fromenv", "env from ENVIRONMENT")
    rc, out, err = cli("serve", "--print-config", "--env", "fromflag", env=clean_env(ENVIRONMENT="fromenv"))
    eq(rc, 0, "serve --print-config --env (stderr %r)" % err)
    eq(json.loads(out).get("env"), "fromflag", "--env beats ENVIRONMENT")
    # an invalid name is refused too
    rc, out, err = cli("serve", "--env", "Bad_Name", "--print-config")
    eq(rc, 2, "invalid env name: exit code (stderr %r)" % err)


def test_bad_config_key():
    d = temp_dir("orderly-it-")
    cases = [
        ({"queues": [{"name": "a"}, {"name": "b", "attributes": {"VisibiltyTimeout": 3}}]},
         "queues[1].attributes.VisibiltyTimeout"),
        ({"htttp": {"threads": 2}}, "htttp"),
        ({"http": {"threads": 0}}, "http.threads"),
        ({"queues": [{"name": "a", "attributes": {"VisibilityTimeout": 43201}}]},
         "queues[0].attributes.VisibilityTimeout"),
    ]
    for cfg, key in cases:
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        rc, out, err = cli("serve", "--env", "cfg", "--config", path, "--listen", "127.0.0.1:1",
                           "--db", os.path.join(d, "cfg.db"))
        eq(rc, 2, "config %r: exit code (stderr %r)" % (cfg, err))
        check(key in err, "config %r: key path %r not in %r" % (cfg, key, err))
        eq(len(err.splitlines()), 1, "config %r: one line expected: %r" % (cfg, err))
        check(not os.path.exists(os.path.join(d, "cfg.db")), "bad config still made a db")
    # malformed JSON in the config names the position
    path = os.path.join(d, "syntax.json")
    with open(path, "w") as f:
        f.write('{"queues": [}\n')
    rc, out, err = cli("serve", "--env", "cfg", "--config", path)
    eq(rc, 2, "config syntax error: exit code (stderr %r)" % err)
    check("position" in err and "line 1" in err, "config syntax error: %r" % err)


def test_sigterm_exits_zero_quickly():
    srv = Server(env="term")
    srv.start()
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM, timeout=15)
    took = time.time() - t0
    eq(rc, 0, "exit code after SIGTERM (log: %s)" % srv.log_tail())
    check(took < 3, "SIGTERM took %.2fs" % took)
    srv = Server(env="term")
    srv.start()
    rc = srv.stop(signal.SIGINT, timeout=15)
    eq(rc, 0, "exit code after SIGINT")


def test_sigterm_answers_long_poll():
    cfg = {"queues": [{"name": "lp"}]}
    srv = Server(env="term", config=cfg)
    srv.start()
    res = {}

    def poll():
        t0 = time.time()
        try:
            res["r"] = srv.request("POST", "/api/queues/term-lp/receive", {"waitTimeSeconds": 20}, timeout=30)
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            res["r"] = e
        res["t"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    rc = srv.stop(signal.SIGTERM, timeout=25)
    took = time.time() - t0
    th.join(25)
    eq(rc, 0, "exit code with a long poll in flight (log: %s)" % srv.log_tail())
    check(took < 5, "SIGTERM with a long poll took %.2fs" % took)
    r = res.get("r")
    check(isinstance(r, tuple), "long poll did not get an answer: %r" % (r,))
    eq(r[0], 200, "long poll status during shutdown (body %r)" % (r[2],))
    eq(r[2], {"messages": []}, "long poll body during shutdown")
    check(res["t"] < 6, "long poll answered after %.2fs" % res["t"])


def db_tables(srv):
    """The tables of srv's database, either backend."""
    if PG:
        q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    else:
        q = "select name from sqlite_master where type='table'"
    return {r[0] for r in db_rows(srv, q)}


def test_migrate_creates_db():
    d = temp_dir("orderly-it-")
    srv = Server(env="mig", data_dir=os.path.join(d, "sub", "dir"))
    db = srv.db  # a file under sub/dir, or a schema of the test cluster
    rc, out, err = cli("migrate", "--env", "mig", "--db", db)
    eq(rc, 0, "migrate exit code (stderr %r)" % err)
    if not PG:
        check(os.path.exists(db), "migrate did not create %s" % db)
        with open(db, "rb") as f:
            eq(f.read(16), b"SQLite format 3\x00", "db file header")
    check("schema version" in out, "migrate output %r" % out)
    tables = db_tables(srv)
    check({"queues", "messages", "events", "orders", "products", "schema_version"} <= tables,
          "migrate made tables %r" % tables)
    ver = db_rows(srv, "SELECT max(version) FROM schema_version")[0][0]
    check("schema version %s" % ver in out, "migrate output %r names version %s" % (out, ver))
    # idempotent: a second run reports the same version and keeps the tables
    rc, out2, err = cli("migrate", "--env", "mig", "--db", db)
    eq(rc, 0, "second migrate (stderr %r)" % err)
    eq(out2, out, "second migrate output")
    eq(db_tables(srv), tables, "tables after a second migrate")
    eq(db_rows(srv, "SELECT count(*) FROM schema_version")[0][0], ver, "one row per migration")
    # the default path is data/<env>.db under the working directory, from ENVIRONMENT
    rc, out, err = cli("migrate", env=clean_env(ENVIRONMENT="dflt"), cwd=d)
    eq(rc, 0, "migrate with the default db (stderr %r)" % err)
    check(os.path.exists(os.path.join(d, "data", "dflt.db")), "no data/dflt.db in %s" % os.listdir(d))
    # a server on the migrated database starts and serves
    srv.start()
    try:
        st, _, _ = srv.request("GET", "/ready")
        eq(st, 200, "ready on a migrated db")
    finally:
        eq(srv.stop(), 0, "stop")


run(globals())
