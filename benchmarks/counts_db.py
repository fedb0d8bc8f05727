"""Report count tables from the summary of sufficient statistics (``sipas aggregates``), timed.

Creates a scratch PostgreSQL database (dropped afterwards) or a SQLite file, seeds the demo
province and N synthetic ``sipas-counter`` responses over the 12 months before a fixed date
(``survey.demo.seed_responses``, in batches), or, with ``--db-url``, uses a database that ``sipas
demo --db-url URL --responses N --no-serve`` seeded (the benchmark adds ``--tail`` responses to
it), then measures:

* ``rebuild``: the full build of the summary (``survey.statistics.summary.rebuild``), and the
  summary's size (cells, and bytes on PostgreSQL);
* the count tables of the reports, read from the summary (``build_counts``, best of
  ``--repeat``; wall time including the DataFrame the caller receives):
  ``overview`` (strata = agency, each response its own PSU, by agency, one year of whole
  months), ``unit:month`` / ``unit:field`` / ``unit:counter`` (the same design for one
  department's subtree, by agency and month, field or counter), ``clustered`` (strata =
  agency, PSU = counter, by agency, one year);
* ``overview+tail``: the overview with ``--tail`` new responses not yet summarised (merged on
  read), then ``refresh`` (adding them) and the refresh cost per 1,000 responses;
* with ``--raw``: each table once from the responses alone (``use_summary=False``), for
  comparison.

Usage::

    .venv/bin/python benchmarks/counts_db.py --db postgres --n 1000000
    .venv/bin/sipas demo --db-url postgresql+psycopg://postgres@127.0.0.1:5432/bench10m \
        --responses 10000000 --no-serve
    .venv/bin/python benchmarks/counts_db.py --db postgres \
        --db-url postgresql+psycopg://postgres@127.0.0.1:5432/bench10m --raw
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine, scratch_database  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # seeded here: the data cover 2025 (12 whole months)
BATCH = 100_000


def _best(work, repeat: int) -> tuple[float, int, str]:
    best, rows, source = float("inf"), 0, ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = work()
        best = min(best, time.perf_counter() - t0)
        rows, source = len(table), table.attrs.get("source", "")
    return best, rows, source


def _size(db, kind: str) -> str:
    from sqlalchemy import text

    cells = db.session.execute(text("SELECT count(*) FROM summary_cells")).scalar_one()
    out = f"{cells:,} cells"
    if kind == "postgres":
        size = db.session.execute(
            text(
                "SELECT pg_total_relation_size('summary_cells'), "
                "pg_total_relation_size('responses')"
            )
        ).one()
        out += f"; {size[0] / 2**20:,.0f} MiB with indexes (responses: {size[1] / 2**20:,.0f} MiB)"
    return out


def _last_whole_year(db) -> dict[str, datetime]:
    """The 12 whole calendar months before the month of the newest response."""
    from sqlalchemy import text

    newest = db.session.execute(text("SELECT max(submitted_at) FROM responses")).scalar_one()
    newest = datetime.fromisoformat(str(newest)) if isinstance(newest, str) else newest
    until = datetime(newest.year, newest.month, 1, tzinfo=UTC)
    return {"since": until.replace(year=until.year - 1), "until": until}


def _raw(work):
    """``work`` (a ``build_counts`` call) on the responses alone."""
    from survey.statistics import counts as counts_module

    original = counts_module.plan_summary

    def raw_plan(*args, **kwargs):
        return counts_module.SummaryPlan("raw", "timed without the summary")

    counts_module.plan_summary = raw_plan
    try:
        return work()
    finally:
        counts_module.plan_summary = original


@contextmanager
def _database(args):
    if args.db_url:
        yield args.db_url
    else:
        with scratch_database(args.db, "countsdb") as url:
            yield url


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--n", type=int, default=100_000, help="responses")
    parser.add_argument("--tail", type=int, default=1000, help="responses added after")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--db-url", help="a database seeded by sipas demo (not dropped)")
    parser.add_argument("--raw", action="store_true", help="also time the raw path once")
    args = parser.parse_args(argv)

    from sqlalchemy import text

    from analysis.design import Design
    from survey import create_app
    from survey.demo import seed_responses, seed_units
    from survey.extensions import db
    from survey.repository import load_form
    from survey.statistics import build_counts
    from survey.statistics.summary import rebuild, refresh

    facts = machine()
    print(f"# {facts['date']}, git {facts['git']}, {facts['nproc']} CPUs, {facts['cpu']}")
    with _database(args) as url:
        app = create_app({"SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            if args.db_url is None:
                seed_units()
                t0 = time.perf_counter()
                for start in range(0, args.n, BATCH):
                    seed_responses(min(BATCH, args.n - start), random_seed=start + 1, now=NOW)
                print(f"seeded {args.n:,} responses in {time.perf_counter() - t0:.0f} s")
            held = db.session.execute(text("SELECT count(*) FROM responses")).scalar_one()
            print(f"responses: {held:,}")
            if args.db == "postgres":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            form = load_form("sipas-counter")
            t0 = time.perf_counter()
            with db.engine.begin() as connection:
                rebuild(connection, form)
            print(f"rebuild: {time.perf_counter() - t0:.1f} s; summary: {_size(db, args.db)}")
            if args.db == "postgres":
                db.session.execute(text("ANALYZE summary_cells"))
                db.session.commit()

            default = Design(strata="agency_code")
            clustered = Design(strata="agency_code", psu="counter_code", lonely_psu="adjust")
            YEAR = _last_whole_year(db)  # noqa: N806 (the period of every table)
            print(f"period: {YEAR['since']:%Y-%m-%d} to {YEAR['until']:%Y-%m-%d} (exclusive)")
            unit = {"agency_subtree": "STP", "period": "month", **YEAR}
            cases = {
                "overview": lambda: build_counts(
                    db.session, form, default, ["agency_code"], **YEAR
                ),
                "unit:month": lambda: build_counts(
                    db.session, form, default, ["agency_code", "period"], **unit
                ),
                "unit:field": lambda: build_counts(
                    db.session, form, default, ["agency_code", "field_code"], **unit
                ),
                "unit:counter": lambda: build_counts(
                    db.session, form, default, ["agency_code", "counter_code"], **unit
                ),
                "clustered": lambda: build_counts(
                    db.session, form, clustered, ["agency_code"], **YEAR
                ),
            }
            for label, work in cases.items():
                wall, rows, source = _best(work, args.repeat)
                print(f"{label:14s} {rows:8,d} rows  {1000 * wall:8.1f} ms  ({source})")
            if args.raw:
                for label, work in cases.items():
                    wall, rows, source = _best(lambda w=work: _raw(w), 1)
                    print(f"{label:14s} {rows:8,d} rows  {1000 * wall:8.1f} ms  ({source})")
            seed_responses(args.tail, random_seed=held + 999_999, now=YEAR["until"])
            wall, rows, source = _best(cases["overview"], args.repeat)
            print(
                f"{'overview+tail':14s} {rows:8,d} rows  {1000 * wall:8.1f} ms  "
                f"({source}, {args.tail} responses not yet summarised)"
            )
            t0 = time.perf_counter()
            with db.engine.begin() as connection:
                result = refresh(connection, form)
            cost = time.perf_counter() - t0
            print(
                f"refresh: {result.added} responses in {cost:.2f} s "
                f"({1000 * cost / max(result.added, 1):.2f} s per 1,000)"
            )
            db.session.remove()
            engine = db.engine
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
