#!/usr/bin/env python3
"""Regenerates the table of limits in docs/operations.md from src/lib/limits.h
(section headings, names, values, comments), so the docs cannot fall behind.
Usage: scripts/limits-table.py [--check]   (--check: exit 1 if the docs differ)"""
import os
import re
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HDR = os.path.join(SRC, "src", "lib", "limits.h")
DOC = os.path.join(SRC, "docs", "operations.md")


def rows():
    section, out, last = "", [], None
    for line in open(HDR):
        m = re.match(r"/\* ---- (.*?) -+ \*/", line.strip())
        if m:
            section = m.group(1).strip()
            continue
        m = re.match(r"#define (LIMIT_\w+)\s+(.*?)\s*(?:/\*\s*(.*?)\s*(\*/)?)?$", line.rstrip())
        if m:
            comment = (m.group(3) or "").strip()
            last = [section, m.group(1), m.group(2).strip(), comment, bool(m.group(4)) or not m.group(3)]
            out.append(last)
            continue
        if last and not last[4]:  # a comment continued on the next lines
            text = line.strip()
            last[4] = text.endswith("*/")
            last[3] = (last[3] + " " + text.rstrip("*/").strip()).strip()
    return out


def table():
    lines = ["| section | name | value | meaning |", "|---|---|---|---|"]
    for sec, name, value, comment, _ in rows():
        lines.append("| %s | `%s` | %s | %s |" % (sec, name, value, comment.replace("|", "\\|")))
    return "\n".join(lines) + "\n"


def main():
    doc = open(DOC).read()
    start = doc.index("| section | name | value | meaning |")
    end = doc.index("\n\n", start) + 1
    new = doc[:start] + table() + doc[end:]
    if "--check" in sys.argv:
        sys.exit(0 if new == doc else 1)
    if new != doc:
        open(DOC, "w").write(new)


if __name__ == "__main__":
    main()
