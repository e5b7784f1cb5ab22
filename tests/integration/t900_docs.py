"""t900_docs.py - the documentation names everything the code has: every
configuration key (`orderly serve --help`), every limit (src/lib/limits.h),
every metric family a live /metrics exposes, every route, every command and
every error slug.  Docs that fall behind the code fail here.
"""
import os
import re
import subprocess
import sys

from harness import BIN, SRC, Server, check, do_request, run, eq

OPS = open(os.path.join(SRC, "docs", "operations.md")).read()
API = open(os.path.join(SRC, "docs", "api.md")).read()


def missing(names, text):
    return sorted(n for n in set(names) if n not in text)


def test_every_config_key_is_in_operations_md():
    out = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True).stdout
    keys = re.findall(r"^  (\S+)  \(", out, re.M)
    check(len(keys) > 30, "serve --help lists the keys (%d)" % len(keys))
    gone = missing(keys, OPS)
    check(not gone, "config keys missing from docs/operations.md: %s" % gone)


def test_every_limit_is_in_operations_md():
    text = open(os.path.join(SRC, "src", "lib", "limits.h")).read()
    limits = re.findall(r"^#define (LIMIT_[A-Z0-9_]+)", text, re.M)
    check(len(limits) > 50, "limits.h defines the limits (%d)" % len(limits))
    # a table row may name a pair as LIMIT_X_MIN / `_MAX`
    documented = set(re.findall(r"LIMIT_[A-Z0-9_]+", OPS))
    for row in re.findall(r"`(LIMIT_[A-Z0-9_]+?)(_[A-Z]+)` / `(_[A-Z]+)`", OPS):
        documented.add(row[0] + row[2])
    gone = sorted(l for l in limits if l not in documented)
    check(not gone, "limits missing from docs/operations.md: %s" % gone)


def test_every_metric_family_is_in_operations_md():
    s = Server()
    s.start()
    try:
        c = s.conn()
        do_request(c, "POST", "/api/products", {"sku": "doc-1", "name": "d", "priceCents": 100, "stock": 5})
        do_request(c, "POST", "/api/orders", {"customerId": "c", "items": [{"sku": "doc-1", "qty": 1}]})
        st, _, body = do_request(c, "GET", "/metrics")
        check(st == 200, "GET /metrics")
        text = body.decode() if isinstance(body, bytes) else body
        families = re.findall(r"^# TYPE (\S+) ", text, re.M)
    finally:
        s.stop()
    check(len(families) > 30, "families exposed (%d)" % len(families))
    gone = missing(families, OPS)
    check(not gone, "metrics missing from docs/operations.md: %s" % gone)


def test_every_route_is_in_api_md():
    text = open(os.path.join(SRC, "src", "http", "api.c")).read()
    routes = re.findall(r'\{"(GET|POST|PUT|DELETE)", "([^"]+)", api_', text)
    check(len(routes) > 30, "routes found (%d)" % len(routes))
    gone = [m + " " + p for m, p in routes if p not in API]
    check(not gone, "routes missing from docs/api.md: %s" % gone)


def test_every_error_slug_is_in_api_md():
    text = open(os.path.join(SRC, "src", "http", "status.c")).read()
    slugs = re.findall(r'X\(\s*\w+\s*,\s*\d+\s*,\s*"([a-z0-9-]+)"', text)
    check(len(slugs) > 10, "error slugs found (%d)" % len(slugs))
    gone = missing(slugs, API)
    check(not gone, "error slugs missing from docs/api.md: %s" % gone)


def test_every_command_is_in_operations_md_and_readme():
    out = subprocess.run([BIN, "help"], capture_output=True, text=True).stdout
    cmds = re.findall(r"^  (\w+) ", out, re.M)
    check(len(cmds) >= 10, "commands listed (%d)" % len(cmds))
    readme = open(os.path.join(SRC, "README.md")).read()
    gone = [c for c in cmds if c not in ("help", "version") and ("orderly " + c) not in OPS]
    check(not gone, "commands missing from docs/operations.md: %s" % gone)
    check("make run" in readme and "make test" in readme, "README shows the two commands")



def test_generated_tables_are_current():
    for script in ("limits-table.py", "routes-table.py", "config-keys.py"):
        p = subprocess.run([sys.executable, os.path.join(SRC, "scripts", script), "--check"])
        eq(p.returncode, 0, "scripts/%s --check: the docs' table differs from the source (run it)" % script)

if __name__ == "__main__":
    run(globals())
