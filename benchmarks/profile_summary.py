"""Summarise a py-spy ``--format raw`` profile: inclusive time of project and key library frames.

Usage::

    .venv/bin/python benchmarks/profile_summary.py \\
        benchmarks/out/submissions/sqlite/0_sync/py-spy.txt \\
        --rate 100 --requests 8265

Prints, for every frame of ``survey/``, ``forms/``, ``analysis/`` and of selected libraries
(Flask, Werkzeug, gunicorn, limits, redis, SQLAlchemy, sqlite3, psycopg, json), the
seconds of samples that include it, its share of all samples and, with ``--requests``, the
milliseconds of CPU per request.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
LIBRARIES = (
    ("flask/app.py", ("wsgi_app", "full_dispatch_request", "dispatch_request")),
    ("flask/wrappers.py", ("get_json", "on_json_loading_failed")),
    ("flask/json/", ("jsonify", "response", "loads", "dumps")),
    ("flask/helpers.py", ("url_for",)),
    ("werkzeug/", ("get_json", "get_data", "__init__")),
    ("gunicorn/workers/sync.py", ("handle", "handle_request", "accept")),
    ("gunicorn/workers/gthread.py", ("handle", "handle_request")),
    ("gunicorn/http/", ("__next__", "parse", "write", "close")),
    ("limits/", ("hit", "incr")),
    ("redis/", ("execute_command", "_execute_command", "pipeline_execute_command")),
    ("flask_babel/", ("force_locale", "get_locale", "gettext")),
    ("flask_sqlalchemy/session.py", ("get_bind",)),
    ("flask_sqlalchemy/extension.py", ("_teardown_session",)),
    ("sqlalchemy/orm/session.py", ("commit", "connection", "close", "remove", "execute")),
    ("sqlalchemy/engine/base.py", ("execute", "_execute_clauseelement", "_commit_impl")),
    ("sqlalchemy/engine/default.py", ("do_execute", "do_executemany", "do_commit")),
    ("sqlalchemy/sql/compiler.py", ("__init__",)),
    ("sqlalchemy/pool/", ("connect", "_checkout", "checkin", "_finalize_fairy")),
    ("json/", ("loads", "dumps")),
)
PROJECT = ("survey/", "forms/", "analysis/")


def _key(func: str, file: str) -> str | None:
    short = file.split("site-packages/")[-1].split("/work/main/")[-1]
    if short.startswith(PROJECT):
        return f"{short}:{func}"
    name = func.rsplit(".", 1)[-1]
    for prefix, funcs in LIBRARIES:
        if prefix in short and name in funcs:
            return f"{short}:{func}"
    return None


def _package(file: str) -> str:
    short = file.split("site-packages/")[-1].split("/work/main/")[-1]
    top = short.split("/", 1)[0]
    return top if "/" in short else f"stdlib:{short.removesuffix('.py')}"


def summarise(path: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Total samples, inclusive samples per key frame, and self samples per package."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        frames = stack.split(";")
        last = FRAME.match(frames[-1])
        if last:
            leaf[_package(last["file"])] += n
        for frame in frames:
            match = FRAME.match(frame)
            if not match:
                continue
            key = _key(match["func"], match["file"])
            if key and key not in seen:
                seen.add(key)
                inclusive[key] += n
    return total, inclusive, leaf


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=float, default=100.0, help="py-spy samples per second")
    parser.add_argument("--requests", type=int, help="requests served while sampling")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args(argv)
    total, inclusive, leaf = summarise(args.profile)
    print(f"{total} samples = {total / args.rate:.1f} CPU-s (all sampled processes)")
    header = "   CPU-s  share" + ("  ms/req" if args.requests else "")

    def row(n: int, label: str) -> str:
        seconds = n / args.rate
        per = f"  {1000 * seconds / args.requests:6.2f}" if args.requests else ""
        return f"{seconds:8.2f} {100 * n / total:5.1f}%{per}  {label}"

    print("\nSelf time by package (the innermost frame of each sample)")
    print(header + "  package")
    for key, n in leaf.most_common(15):
        print(row(n, key))
    print("\nInclusive time of key frames")
    print(header + "  frame")
    for key, n in inclusive.most_common(args.top):
        print(row(n, key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
