"""Instructions per submission, counted by valgrind's callgrind: a measure of the app's cost that
the host's speed does not move.

On this shared machine the CPU time of the same submission drifts by 2× within minutes (see
``docs/benchmarks.md``, section A), so a 5 % saving cannot be shown in seconds. Callgrind counts
the user-space instructions the process executes instead: the same code, inputs and environment
give the same count within about 1 % (the rest is how often psycopg and redis-py poll a socket
that is not ready yet), whatever else the machine is doing.

It runs ``submit_inprocess.py`` (``POST /api/v1/responses`` through the app's WSGI callable, with
the rate-limit count in Redis and the write to PostgreSQL or SQLite) under callgrind twice, with
``--n`` and ``3 × --n`` submissions in parallel, and divides the difference of the two totals by
the difference in submissions, so start-up and migrations cancel out. Kernel work (system calls)
and gunicorn are not counted: through gunicorn, one sync worker added 11 % to the in-process
count (2026-11-21).

Usage::

    .venv/bin/python benchmarks/submit_instructions.py --db postgres
    # another checkout of the code, e.g. ``git worktree add /tmp/old <commit>``:
    .venv/bin/python benchmarks/submit_instructions.py --db postgres --code /tmp/old
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def count(db: str, n: int, code: Path, work: Path) -> int:
    """Instructions of one ``submit_inprocess.py`` run of ``n`` measured submissions."""
    out = work / f"callgrind.{n}.out"
    cmd = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, str(REPO / "benchmarks" / "submit_inprocess.py"),
        "--db", db, "--rounds", "1", "--n", str(n),
    ]  # fmt: skip
    # A fixed hash seed: dict and set layouts (and so the instruction count) repeat run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(code)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    match = re.search(r"^summary: (\d+)$", out.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--n", type=int, default=200, help="submissions of the smaller run")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose code runs")
    args = parser.parse_args(argv)
    code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="sipas-callgrind-") as tmp:
        with ThreadPoolExecutor(2) as pool:
            runs = pool.map(lambda n: count(args.db, n, code, Path(tmp)), (args.n, 3 * args.n))
            small, large = runs
    per_submission = (large - small) / (2 * args.n)
    print(
        f"{args.db}, code {args.code}: {per_submission / 1e6:.3f} M instructions per submission "
        f"({large:,} - {small:,} instructions over {2 * args.n} submissions)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
