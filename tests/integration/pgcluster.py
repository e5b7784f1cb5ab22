"""pgcluster.py - a throwaway PostgreSQL cluster for the tests (Python 3
standard library only; PostgreSQL from Debian, see scripts/install-deps.sh).

    c = Cluster().start()     # initdb in a temporary directory, postgres on 127.0.0.1:<free port>
    url = c.database("name")  # CREATE DATABASE (once) -> postgresql://postgres@127.0.0.1:PORT/name
    c.stop()                  # fast shutdown by PID, directory removed

initdb refuses to run as root: as root every PostgreSQL program runs as the
`postgres` user (runuser), in a directory that user owns.  The server
listens on 127.0.0.1 and on a socket in that directory, nowhere else, and
is stopped by the PID in its postmaster.pid.

As a command it wraps another one (ctest runs the PostgreSQL variants of the
unit tests this way):

    python3 pgcluster.py PROGRAM ARGS...

starts a cluster, runs PROGRAM with ORDERLY_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/
in its environment, stops the cluster and exits with PROGRAM's status.
"""
import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def bindir():
    """The newest installed PostgreSQL's bin directory."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if dirs:
        return dirs[-1]
    try:
        return subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise RuntimeError("PostgreSQL is not installed (run scripts/install-deps.sh)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_owner(cmd):
    """cmd run as the postgres user when we are root (initdb refuses root)."""
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class Cluster:
    # a test cluster: durable like production (fsync, synchronous commit),
    # small, and with room for several nodes' connections
    SETTINGS = {
        "listen_addresses": "127.0.0.1",
        "max_connections": "300",
        "shared_buffers": "64MB",
        "fsync": "on",
        "synchronous_commit": "on",
        "log_min_messages": "warning",
        "log_min_error_statement": "panic",
        "autovacuum_naptime": "10s",
    }

    def __init__(self, settings=None):
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="orderly-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.settings = dict(self.SETTINGS)
        self.settings.update(settings or {})
        self.proc = None
        self.dbs = set()
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)

    @property
    def base_url(self):
        return "postgresql://postgres@127.0.0.1:%d/" % self.port

    def url(self, db):
        return self.base_url + db

    def initdb(self):
        """initdb once per machine and PostgreSQL version into a template
        directory (3 s), then a copy of it for each cluster (0.4 s)."""
        tpl = os.path.join(tempfile.gettempdir(), "orderly-pg-template-%s-%d" % (self.bin.split("/")[-2], os.getuid()))
        if not os.path.exists(os.path.join(tpl, "PG_VERSION")):
            tmp = tempfile.mkdtemp(prefix="orderly-pg-initdb-")
            if os.getuid() == 0:
                shutil.chown(tmp, "postgres", "postgres")
            subprocess.run(as_owner([os.path.join(self.bin, "initdb"), "-D", os.path.join(tmp, "data"), "-U",
                                     "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
                           check=True, capture_output=True)
            try:
                os.rename(os.path.join(tmp, "data"), tpl)  # atomic: a concurrent run uses one or the other
            except OSError:
                pass
            shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(as_owner(["cp", "-a", tpl, self.data]), check=True)

    def start(self, timeout=60):
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.initdb()
        args = [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
                "-c", "unix_socket_directories=" + self.dir]
        for k, v in self.settings.items():
            args += ["-c", "%s=%s" % (k, v)]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(as_owner(args), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            r = subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                                str(self.port), "-U", "postgres", "-d", "postgres"])
            if r.returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("postgres not ready after %ss:\n%s" % (timeout, self.log_tail()))

    def pid(self):
        """The postmaster's PID (from postmaster.pid), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self, mode="fast", timeout=60):
        """Stops the server by its PID: fast (SIGINT: disconnects clients,
        clean shutdown) or immediate (SIGQUIT: as `pg_ctl stop -m immediate`,
        crash recovery at the next start)."""
        if not self.proc or self.proc.poll() is not None:
            return
        pid = self.pid()
        sig = signal.SIGQUIT if mode == "immediate" else signal.SIGINT
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if pid:
                os.kill(pid, signal.SIGKILL)
            self.proc.wait()

    def remove(self):
        self.stop("immediate")  # no checkpoint: the directory goes anyway
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=20):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def psql(self, sql, db="postgres", check=True):
        """Runs sql with psql; returns the rows as lists of strings."""
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-F", "\t", "-P", "null=\\N",
                            "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-d", db, "-c", sql], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed (%s): %s" % (sql[:200], r.stderr.strip()))
        return [[None if v == "\\N" else v for v in line.split("\t")] for line in r.stdout.splitlines() if line != ""]

    def database(self, name):
        """Creates database name once; returns its URL."""
        if name not in self.dbs:
            exists = self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % name)
            if not exists:
                self.psql('CREATE DATABASE "%s"' % name)
            self.dbs.add(name)
        return self.url(name)


_shared = None


def shared(at_exit=True):
    """One cluster per process (a test file), started on first use and
    removed at exit (at_exit=False: the caller removes it, remove_shared())."""
    global _shared
    if _shared is None:
        _shared = Cluster().start()
        if at_exit:
            atexit.register(_shared.remove)
    return _shared


def remove_shared():
    if _shared is not None:
        _shared.remove()


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: pgcluster.py PROGRAM ARGS...\n")
        return 2
    c = Cluster().start()
    try:
        env = dict(os.environ, ORDERLY_TEST_PG_URL=c.base_url, ORDERLY_TEST_DB="postgres")
        # nodes on one PostgreSQL sign with one key (the unit tests' auth too)
        env.setdefault("ORDERLY_JWT_KEY", "6f72646572c7792d746573742d6b65792d6f662d7468652d706f737467726573")
        return subprocess.run(argv[1:], env=env).returncode
    finally:
        c.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
