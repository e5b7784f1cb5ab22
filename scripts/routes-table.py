#!/usr/bin/env python3
"""Regenerates the table of routes and roles in docs/api.md ("## Access")
from the one route-and-role table of src/http/api.c, so the docs cannot
fall behind.  Usage: scripts/routes-table.py [--check]  (exit 1 if the docs differ)"""
import os
import re
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
API = os.path.join(SRC, "src", "http", "api.c")
DOC = os.path.join(SRC, "docs", "api.md")
BEGIN, END = "<!-- routes-table: begin -->", "<!-- routes-table: end -->"

ROLES = {"ADMIN": ["admin"], "OPS": ["admin", "operator"], "STAFF": ["admin", "operator", "viewer"],
         "CUST": ["customer"], "ANY": ["admin", "operator", "viewer", "customer"]}
NOTES = {"ACCESS_ANON_ORDERS": "anyone when `auth.anonymousOrders`",
         "ACCESS_METRICS": "anyone when `auth.metricsPublic` (default)", "PUBLIC": "anyone"}
ORDER = ["admin", "operator", "viewer", "customer"]


def routes():
    text = open(API).read()
    table = text[text.index("const http_route api_routes[] = {"):]
    table = table[:table.index("};")]
    out = [("GET", "/health", "PUBLIC", "200"), ("GET", "/ready", "PUBLIC", "200")]
    for m in re.finditer(r'\{"(\w+)", "([^"]+)", \w+, ([^,]+), (\d+)\}', table):
        out.append((m.group(1), m.group(2), m.group(3).strip(), m.group(4)))
    return out


def who(access):
    roles, notes = set(), []
    for part in (p.strip() for p in access.split("|")):
        if part in ROLES:
            roles.update(ROLES[part])
        elif part in NOTES:
            notes.append(NOTES[part])
        else:
            raise SystemExit("unknown access bit %r" % part)
    return ", ".join([r for r in ORDER if r in roles] + notes)


def table():
    lines = [BEGIN, "| method and path | who may call it | success |", "|---|---|---|"]
    for method, path, access, status in routes():
        lines.append("| `%s %s` | %s | %s |" % (method, path, who(access), status))
    lines.append(END)
    return "\n".join(lines)


def main():
    doc = open(DOC).read()
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    new = doc[:start] + table() + doc[end:]
    if "--check" in sys.argv:
        sys.exit(0 if new == doc else 1)
    if new != doc:
        open(DOC, "w").write(new)


if __name__ == "__main__":
    main()
