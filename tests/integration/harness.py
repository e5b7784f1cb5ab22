"""harness.py - starts the real orderly binary on 127.0.0.1 with its own data
directory and talks HTTP to it (Python 3 standard library only).

Each test file is a script: it defines test_* functions, calls run(globals())
at the bottom, and prints 'N passed, N failed' as its last line.

Backends: ORDERLY_TEST_DB=postgres runs every Server on PostgreSQL: the file
starts one throwaway cluster (pgcluster.py) on first use, each Server gets
its own schema in it (the same data_dir and env give the same schema, as they
give the same SQLite file), and the cluster is removed at exit.  Without it
(or with sqlite) each Server has its SQLite file in its data_dir.
"""
import atexit
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("ORDERLY_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("ORDERLY_BIN", os.path.join(SRC, "build", "orderly"))
BACKEND = os.environ.get("ORDERLY_TEST_DB", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise SystemExit("ORDERLY_TEST_DB must be sqlite or postgres, not %r" % BACKEND)
PG = BACKEND == "postgres"


def pg_cluster():
    """The file's PostgreSQL cluster (started on first use; removed at exit,
    after the servers: see _stop_pg)."""
    import pgcluster
    return pgcluster.shared(at_exit=False)


@atexit.register
def _stop_pg():
    """Registered before the servers' cleanup, so it runs after it (atexit
    runs last-registered first): the servers stop while their database is up."""
    if PG:
        import pgcluster
        pgcluster.remove_shared()


def pg_schema_url(key):
    """A schema of the file's cluster named after key (created once) and
    the URL that works in it."""
    c = pg_cluster()
    schema = "s_" + hashlib.sha1(key.encode()).hexdigest()[:20]
    if schema not in c.dbs:
        c.psql('CREATE SCHEMA IF NOT EXISTS "%s"' % schema)
        c.dbs.add(schema)
    return c.url("postgres") + "?options=-csearch_path%3D" + schema, schema


def db_exec(srv, query, *params):
    """Runs a statement that changes srv's database (either backend), as
    db_rows does; the server should be stopped (SQLite has one writer)."""
    if not PG or srv.sqlite:
        import sqlite3
        con = sqlite3.connect(srv.db)
        try:
            with con:
                con.execute(query, params)
        finally:
            con.close()
        return
    db_rows(srv, query, *params)


def logged_envelope(stored):
    """The members of an event-log row's envelope column as a dict: the log
    keeps the envelope without its first members (version, id, detail-type,
    source: the row's columns hold them), or - older and erased rows - the
    whole envelope."""
    return json.loads(stored if stored.startswith("{") else "{" + stored)


def db_rows(srv, query, *params):
    """Rows of query on srv's database (either backend) as lists of strings
    (None for NULL); ? placeholders take params (str or int)."""
    if not PG or srv.sqlite:
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % srv.db, uri=True)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(query, params)]
        finally:
            con.close()
    parts = query.split("?")
    check(len(parts) == len(params) + 1, "placeholders vs params in %r" % query)
    sql = parts[0]
    for v, rest in zip(params, parts[1:]):
        sql += (str(int(v)) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'") + rest
    _, schema = pg_schema_url(srv.db_key)
    return pg_cluster().psql('SET search_path = "%s"; %s' % (schema, sql))


def _limits():
    """The numeric limits of src/lib/limits.h by name (LIMIT_ dropped):
    tests use the named limit, never a copy of its value."""
    import re
    out = {}
    with open(os.path.join(SRC, "src", "lib", "limits.h")) as f:
        for m in re.finditer(r"^#define LIMIT_(\w+)\s+\(?(-?\d+)(?:LL|U|ULL)?\)?\s", f.read(), re.M):
            out[m.group(1)] = int(m.group(2))
    return out


LIMITS = _limits()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _descendants(pid):
    """pid and every process under it (a test may wrap the server)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def listens_on(pid, port):
    """True when pid (or a process under it) holds the listening TCP socket
    of port: a port free_port() gave out can be given out again before its
    server binds it, and then /ready is answered by another test's server."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    col = line.split()
                    if col[3] == "0A" and int(col[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add("socket:[%s]" % col[9])
        except OSError:
            pass
    for p in _descendants(pid):
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (p, fd)) in inodes:
                    return True
            except OSError:
                pass
    return False


def shipped_config():
    """The effective configuration of the shipped config/orderly.json: the
    built-in topology (config/topology.json) plus the file, whole, as
    `orderly serve --print-config` gives it ("builtinTopology": false and every
    queue, rule, function and alarm listed), for a test to adjust.  The
    catalog path is made absolute."""
    out = subprocess.check_output([BIN, "serve", "--env", "shipped", "--config",
                                   os.path.join(SRC, "config", "orderly.json"), "--print-config"])
    cfg = json.loads(out)
    for k in ("env", "db"):
        cfg.pop(k, None)
    cfg["orders"]["catalog"] = os.path.join(SRC, "config", "catalog.json")
    return cfg


def quick_retries(cfg, max_receive=None, visibility=2, backoff=(50, 100), disable=()):
    """Makes a config's failures quick to observe: every queue with a
    RedrivePolicy gets VisibilityTimeout `visibility` (and maxReceiveCount
    `max_receive` when given), every function the backoff (baseMs, maxMs);
    functions named in disable are turned off.  Returns cfg."""
    for q in cfg["queues"]:
        rp = q.get("attributes", {}).get("RedrivePolicy")
        if rp:
            if max_receive is not None:
                rp["maxReceiveCount"] = max_receive
            q["attributes"]["VisibilityTimeout"] = visibility
    for fn in cfg["functions"]:
        fn["backoff"] = {"baseMs": backoff[0], "maxMs": backoff[1]}
        if fn["name"] in disable:
            fn["enabled"] = False
    return cfg


ADMIN_PASSWORD = "test-admin-password-1"   # the first admin of every test server (ORDERLY_ADMIN_PASSWORD)
# nodes sharing a PostgreSQL database sign tokens with one key (ORDERLY_JWT_KEY):
# the tests' servers on PostgreSQL share this one
PG_JWT_KEY = "6f72646572c7792d746573742d6b65792d6f662d7468652d706f737467726573"


class AuthConnection(http.client.HTTPConnection):
    """An HTTPConnection that signs every request in as the server's admin,
    unless the request carries its own Authorization header."""

    def __init__(self, host, port, timeout, server):
        super().__init__(host, port, timeout=timeout)
        self.server = server

    def request(self, method, url, body=None, headers=None, **kw):
        h = dict(headers or {})
        if self.server.auto_auth and not any(k.lower() == "authorization" for k in h):
            tok = self.server.token()
            if tok:
                h["Authorization"] = "Bearer " + tok
        super().request(method, url, body=body, headers=h, **kw)


_made_dirs = []  # (path, server or None): the directories this run created


@atexit.register
def _remove_made_dirs():
    """Removes what the run created, by path, once its server is stopped
    (ORDERLY_KEEP_TEST_DIRS=1 keeps them to look at)."""
    if os.environ.get("ORDERLY_KEEP_TEST_DIRS"):
        return
    import shutil
    for path, srv in _made_dirs:
        if srv:
            srv.stop()
    for path, _ in _made_dirs:
        shutil.rmtree(path, ignore_errors=True)


def temp_dir(prefix="orderly-it-"):
    """A new directory under the system's temporary one, removed by its path
    when the run ends (with the data directories the servers made)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _made_dirs.append((d, None))
    return d


class Server:
    """One orderly process. data_dir persists across restart().

    Accounts are on, as in production: the first admin gets ADMIN_PASSWORD
    and request() / conn() sign in as it (auto_auth; a request with its own
    Authorization header, or auth=False, goes as given)."""

    def __init__(self, env="test", config=None, extra_args=(), data_dir=None, log_level="warn", env_vars=None,
                 db_key=None, sqlite=False):
        """db_key names the database: servers with the same one share it
        (several nodes); default: the data_dir's <env>.db.  sqlite=True
        keeps this server on its SQLite file whatever ORDERLY_TEST_DB says."""
        self.auto_auth = True
        self._token = None
        self._token_lock = threading.Lock()
        self.env_vars = dict(env_vars or {})
        self.env = env
        self._db_key = db_key
        self.sqlite = sqlite
        if not data_dir:
            data_dir = tempfile.mkdtemp(prefix="orderly-it-")
            _made_dirs.append((data_dir, self))
        os.makedirs(data_dir, exist_ok=True)
        self.data_dir = data_dir
        self.port = self._auto_port = free_port()
        self.config = config
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        if isinstance(config, dict):
            path = os.path.join(self.data_dir, "config.json")
            with open(path, "w") as f:
                json.dump(config, f)
            self.config = path

    @property
    def db_key(self):
        return self._db_key or os.path.join(self.data_dir, self.env + ".db")

    @property
    def db(self):
        """The --db of this server: its SQLite file, or its PostgreSQL schema's URL."""
        if PG and not self.sqlite:
            return pg_schema_url(self.db_key)[0]
        return self.db_key

    def args(self):
        a = [BIN, "serve", "--env", self.env, "--listen", "127.0.0.1:%d" % self.port,
             "--db", self.db, "--log-level", self.log_level]
        if self.config:
            a += ["--config", self.config]
        return a + self.extra_args

    def process_env(self):
        e = dict(os.environ)
        e.setdefault("ORDERLY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        e.setdefault("ORDERLY_AUTH_RATE_PER_SECOND", "0")   # load tests; t3xx tests the limits themselves
        if PG and not self.sqlite:
            e.setdefault("ORDERLY_JWT_KEY", PG_JWT_KEY)
        e.update(self.env_vars)
        return e

    def token(self, refresh=False):
        """An access token of the admin (signed in on first use)."""
        with self._token_lock:   # one sign-in, whatever the threads (logins are rate-limited)
            return self._sign_in(refresh)

    def _sign_in(self, refresh):
        if self._token and not refresh:
            return self._token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            st, _, b = do_request(c, "POST", "/api/login",
                                  {"username": "admin", "password": self.process_env()["ORDERLY_ADMIN_PASSWORD"]})
        finally:
            c.close()
        if st != 200:
            raise RuntimeError("cannot sign in as admin: %s %r; the server's log ends:\n%s" % (st, b, self.log_tail(15)))
        self._token = b["accessToken"]
        return self._token

    def auth_line(self):
        """The Authorization header line for raw requests."""
        return ("Authorization: Bearer %s\r\n" % self.token()).encode()

    def start(self, wait=True):
        # free_port() releases the port it found, so a client's ephemeral
        # port can take it before the server binds ("Address already in
        # use"): a first start on the port free_port() gave tries another
        # (a restart keeps its own, a port a test chose is kept)
        for attempt in range(3):
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         env=self.process_env())
            log.close()
            if not wait:
                return self
            try:
                self.wait_ready()
                self._ready_once = True
                return self
            except RuntimeError as e:
                if (getattr(self, "_ready_once", False) or self.port != self._auto_port or attempt == 2
                        or "Address already in use" not in str(e)):
                    raise
                self.port = self._auto_port = free_port()
        return self

    def wait_ready(self, timeout=None):
        # a node on PostgreSQL starts slower: every statement of its start
        # (migrations, topology, a catalog of 100,000 products) is a round trip
        if timeout is None:
            timeout = 60 if PG and not self.sqlite else 15
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                st, _, _ = self.request("GET", "/ready", timeout=1, auth=False)
                if st == 200 and listens_on(self.proc.pid, self.port):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("server not ready after %ss:\n%s" % (timeout, self.log_tail()))

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def restart(self):
        self.kill9()
        self.port = self.port  # same port: clients reconnect
        return self.start()

    def conn(self, timeout=30, auth=True):
        if not auth:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return AuthConnection("127.0.0.1", self.port, timeout, self)

    def request(self, method, path, body=None, headers=None, timeout=30, raw=None, auth=True):
        """Returns (status, headers dict with lowercase keys, parsed JSON or text).
        Signed in as the admin unless auth=False or headers has Authorization."""
        for attempt in range(2):
            c = self.conn(timeout, auth)
            try:
                st, h, b = do_request(c, method, path, body, headers, raw)
            finally:
                c.close()
            expired = st == 401 and auth and self._token and "expired" in h.get("www-authenticate", "")
            if not expired:
                return st, h, b
            self.token(refresh=True)
        return st, h, b

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Shared:
    """One server started on first use and shared by a file's tests;
    stopped at exit.  srv = Shared(env, config); srv().request(...)."""

    def __init__(self, on_start=None, **kw):
        self.kw = kw
        self.on_start = on_start
        self.server = None

    def __call__(self):
        if self.server is None:
            self.server = Server(**self.kw)
            self.server.start()
            atexit.register(self.server.stop)
            if self.on_start:
                self.on_start(self.server)
        return self.server

    def request(self, method, path, body=None, **kw):
        return self().request(method, path, body, **kw)


# Traffic recording for t950_openapi_traffic.py: with ORDERLY_TRAFFIC_DIR set
# (ctest sets it), each test file writes the responses it got, as JSON lines,
# to <dir>/<test file>.jsonl (at most TRAFFIC_MAX of them, bodies up to
# TRAFFIC_BODY_MAX bytes), so that the API description can be checked
# against real answers.
TRAFFIC_MAX = 3000
TRAFFIC_BODY_MAX = 262144
_traffic = {"file": None, "n": 0}


def _record(method, path, status, hdrs, payload):
    d = os.environ.get("ORDERLY_TRAFFIC_DIR")
    if not d or _traffic["n"] >= TRAFFIC_MAX or len(payload) > TRAFFIC_BODY_MAX:
        return
    if _traffic["file"] is None:
        os.makedirs(d, exist_ok=True)
        name = os.path.splitext(os.path.basename(sys.argv[0] or "interactive"))[0]
        _traffic["file"] = open(os.path.join(d, name + ".jsonl"), "w")
    _traffic["n"] += 1
    rec = {"method": method, "path": path, "status": status, "contentType": hdrs.get("content-type", ""),
           "body": payload.decode("utf-8", "replace")}
    _traffic["file"].write(json.dumps(rec) + "\n")
    _traffic["file"].flush()


def do_request(c, method, path, body=None, headers=None, raw=None):
    h = {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if headers:
        h.update(headers)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    payload = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    _record(method, path, r.status, hdrs, payload)
    ctype = hdrs.get("content-type", "")
    if "json" in ctype and payload:
        return r.status, hdrs, json.loads(payload)
    return r.status, hdrs, payload.decode("utf-8", "replace")


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def ok(srv, method, path, body=None, want=200, **kw):
    """srv.request(...), checking the status; returns the body."""
    st, _, b = srv.request(method, path, body, **kw)
    eq(st, want, "%s %s (answer %s)" % (method, path, str(b)[:400]))
    return b


def wait_for(what, fn, timeout=30, interval=0.05):
    """Polls fn() until it returns a truthy value (returned); fails after timeout."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last %r)" % (timeout, what, last))


def task_done(srv, started, timeout=60):
    """Follows a background task (the 202 body of a replay or redrive) until
    it is no longer RUNNING; returns the task."""
    check(started.get("id") and started.get("state"), "a task: %r" % (started,))

    def f():
        st, _, t = srv.request("GET", "/api/tasks/" + started["id"])
        eq(st, 200, "GET the task")
        return t if t["state"] != "RUNNING" else None
    return wait_for("task %s finished" % started["id"], f, timeout, interval=0.02)


def uniq(prefix):
    """A name no earlier run used: prefix-<ms>-<random>."""
    return "%s-%d-%04d" % (prefix, int(time.time() * 1000) % 10 ** 9, random.randrange(10000))


def is_problem(status, hdrs, body, want_status, what=""):
    eq(status, want_status, what + " status (body %r)" % (body,))
    check(hdrs.get("content-type", "").startswith("application/problem+json"),
          "%s: content-type %r" % (what, hdrs.get("content-type")))
    for k in ("type", "title", "status", "detail"):
        check(k in body, "%s: problem lacks %r: %r" % (what, k, body))
    eq(body["status"], want_status, what + " problem.status")


def run(ns):
    tests = [(k, v) for k, v in ns.items() if k.startswith("test_") and callable(v)]
    only = sys.argv[1:]
    passed = failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("PASS %s (%.2fs)" % (name, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.time() - t0), flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
