"""Time the estimation step of ``sipas analyze`` alone, in one process.

Reads the responses (timed separately), then for each domain variable times
``analysis.counts.counts_from_responses`` (the table of weighted counts) and
``analysis.indices.satisfaction_indices`` (criterion, factor and SIPAS indices with SEs and
intervals) with the design strata = agency, PSU = counter, weight = ``weight`` — the same calls
as the CLI. Prints ``TIMING <step> <seconds>`` lines (read by ``stats.py``).

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
    data = read_export(args.responses)
    print(f"TIMING read {time.perf_counter() - t:.3f}")

    total_estimate = 0.0
    for by in by_list:
        t = time.perf_counter()
        counts = counts_from_responses(data, form, design, by=[by])
        t_counts = time.perf_counter() - t
        t = time.perf_counter()
        result = satisfaction_indices(counts, form, design, by=[by])
        t_indices = time.perf_counter() - t
        total_estimate += t_counts + t_indices
        print(f"TIMING counts_{by} {t_counts:.3f}")
        print(f"TIMING indices_{by} {t_indices:.3f}")
        print(f"ROWS {by} {len(result.table)} count_rows {len(counts)}")
    print(f"TIMING estimate {total_estimate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
