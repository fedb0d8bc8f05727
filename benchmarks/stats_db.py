"""The count table built in the database (``survey.statistics.build_counts``), timed.

Creates a fresh database (a new PostgreSQL database on 127.0.0.1:5432, dropped afterwards, or a
SQLite file), migrates it, seeds the demo province (``survey.demo``: 60 agencies, their counters
and fields) and N synthetic ``sipas-counter`` responses, then times ``build_counts`` (wall and
CPU of this process; the database's own CPU is in the wall time) from the responses (the raw
path, ``use_summary=False``; ``benchmarks/counts_db.py`` times the summary) for:

* ``clustered``: strata = agency, PSU = counter, by agency (the grouped statements);
* ``default``: every response its own PSU, by agency (the pooled form with ``_pair:`` rows);
* ``indices``: the clustered table plus ``satisfaction_indices`` (version A, logit intervals).

Usage::

    .venv/bin/python benchmarks/stats_db.py --db postgres --n 60000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import scratch_database  # noqa: E402


def _timed(label: str, work, repeat: int) -> None:
    best_wall, best_cpu, rows = float("inf"), float("inf"), 0
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        rows = len(work())
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print(f"{label:10s} {rows:8d} rows  wall {best_wall:6.2f} s  client CPU {best_cpu:6.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--n", type=int, default=60000, help="responses")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument(
        "--engines", nargs="+", choices=["fetch", "sql"], default=["fetch", "sql"],
        help="build_counts engines to time",
    )  # fmt: skip
    args = parser.parse_args(argv)

    from analysis.design import Design
    from analysis.indices import satisfaction_indices
    from survey import create_app
    from survey.demo import seed_responses, seed_units
    from survey.extensions import db
    from survey.repository import load_form
    from survey.statistics import build_counts

    with scratch_database(args.db, "statsdb") as url:
        app = create_app({"SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            seed_units()
            t0 = time.perf_counter()
            seed_responses(args.n, random_seed=1)
            print(f"{args.db}: seeded {args.n} responses in {time.perf_counter() - t0:.1f} s")
            if args.db == "postgres":
                db.session.execute(db.text("ANALYZE"))
                db.session.commit()
            form = load_form("sipas-counter")
            clustered = Design(strata="agency_code", psu="counter_code", lonely_psu="adjust")
            by = ["agency_code"]
            for name in args.engines:

                def counts(design: Design, name: str = name) -> object:
                    return build_counts(
                        db.session, form, design, by, use_summary=False, engine=name
                    )

                _timed(f"{name}: clustered", lambda: counts(clustered), args.repeat)
                _timed(f"{name}: default", lambda: counts(Design()), args.repeat)
                _timed(
                    f"{name}: indices",
                    lambda: satisfaction_indices(counts(clustered), form, clustered, by=by).table,
                    args.repeat,
                )
            engine = db.engine
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
