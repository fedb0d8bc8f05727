"""Time the estimation step of ``sipas analyze`` alone, in one process.

Reads the responses (timed separately; only the columns ``sipas analyze`` reads), builds the
table of weighted counts once for all domain variables (``analysis.counts.counts_from_responses``,
timed as ``counts``), then for each domain variable times
``analysis.indices.satisfaction_indices`` (criterion, factor and SIPAS indices with SEs and
intervals) with the design strata = agency, PSU = counter, weight = ``weight`` — the same calls
as the CLI. ``estimate`` is counts + indices. Prints ``TIMING <step> <seconds>`` lines (read by
``stats.py``).

Usage::

    .venv/bin/python benchmarks/stats_estimate.py benchmarks/out/data/n1000000/responses.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("responses", type=Path)
    parser.add_argument("--form", default="sipas-2017")
    parser.add_argument("--by", action="append", default=None, help="repeatable")
    args = parser.parse_args(argv)
    by_list = args.by or ["agency_code", "field_code"]

    t = time.perf_counter()
    from analysis.cli import read_export
    from analysis.counts import counts_from_responses
    from analysis.design import Design
    from analysis.indices import satisfaction_indices
    from forms import load_form

    form = load_form(args.form)
    design = Design(strata="agency_code", psu="counter_code", weight="weight")
    print(f"TIMING import {time.perf_counter() - t:.3f}")

    t = time.perf_counter()
    columns = ["form_id", *form.item_keys, *design.columns, *by_list]
    data = read_export(args.responses, columns, form, [design.weight or ""])
    print(f"TIMING read {time.perf_counter() - t:.3f}")

    t = time.perf_counter()
    counts = counts_from_responses(data, form, design, by=by_list, index_versions=("A",))
    total_estimate = time.perf_counter() - t
    print(f"TIMING counts {total_estimate:.3f}")
    print(f"ROWS count_table {len(counts)}")
    for by in by_list:
        t = time.perf_counter()
        result = satisfaction_indices(counts, form, design, by=[by])
        t_indices = time.perf_counter() - t
        total_estimate += t_indices
        print(f"TIMING indices_{by} {t_indices:.3f}")
        print(f"ROWS {by} {len(result.table)}")
    print(f"TIMING estimate {total_estimate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
