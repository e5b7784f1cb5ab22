#!/usr/bin/env python3
"""Regenerates the block of configuration keys in docs/operations.md from
`orderly serve --help` (the key table of src/conf/config.c), so the docs
cannot fall behind the binary.
Usage: scripts/config-keys.py [--check]   (--check: exit 1 if the docs differ)
The binary is $ORDERLY_BIN, else build/orderly."""
import os
import subprocess
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("ORDERLY_BIN", os.path.join(SRC, "build", "orderly"))
DOC = os.path.join(SRC, "docs", "operations.md")
HEAD = "configuration keys (precedence:"


def block():
    out = subprocess.check_output([BIN, "serve", "--help"], text=True)
    start = out.index(HEAD)
    return out[start:].rstrip("\n") + "\n"


def main():
    doc = open(DOC).read()
    start = doc.index(HEAD)
    end = doc.index("```", start)
    new = doc[:start] + block() + doc[end:]
    if "--check" in sys.argv:
        sys.exit(0 if new == doc else 1)
    if new != doc:
        open(DOC, "w").write(new)


if __name__ == "__main__":
    main()
