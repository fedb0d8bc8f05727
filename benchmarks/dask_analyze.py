"""``sipas analyze --engine dask`` against the in-process engine on one partitioned dataset.

1. Writes N synthetic responses of the ``sipas-2017`` form (the model of
   ``make_responses.py``: 30 agencies, their counters and fields, weights N_hf / n_hf) as a
   hive-partitioned Parquet dataset ``year=2025/agency_code=A01/part-0.parquet``, one chunk of
   ``--chunk`` rows at a time: the cell counts n_hf are drawn first (multinomial), each chunk
   then draws its cells from the counts left (multivariate hypergeometric), so no array of N
   rows is ever held. Skipped when the dataset of this N and seed is already there.
2. Runs ``sipas analyze DATASET --engine dask --scheduler ADDRESS`` under ``/usr/bin/time -v``
   against a new ``LocalCluster`` of ``--workers`` worker processes (one thread each), and
   reads every worker's peak RSS (``VmHWM``) before and after the run.
3. Runs ``sipas analyze DATASET`` (the in-process engine) under ``/usr/bin/time -v``: wall time
   and the whole process's peak RSS.

Both runs estimate the same thing (by agency, strata = agency, PSU = counter, weights =
``weight``), and the script checks that the results agree to 1e-9 (relative). Figures are
printed as JSON and written to ``benchmarks/out/dask_analyze/nN/result.json``. Usage::

    .venv/bin/python benchmarks/dask_analyze.py --n 2000000
    .venv/bin/python benchmarks/dask_analyze.py --n 30000000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import OUT_DIR, REPO, machine, run_timed  # noqa: E402
from make_responses import N_FIELDS, _chunk_table, item_keys, make_province  # noqa: E402

ANALYSIS = [
    "--form", "sipas-2017", "--by", "agency_code", "--strata", "agency_code",
    "--psu", "counter_code", "--weight", "weight",
]  # fmt: skip


def _cell_counts(province, n: int, seed: int) -> np.ndarray:
    """Responses per agency × field cell (sum n), drawn once for the whole dataset."""
    cells = province.cell_dossiers.reshape(-1).astype(np.float64)
    p = np.where(cells > 0, cells**0.6, 0.0)
    return np.random.default_rng([seed, 2, n]).multinomial(n, p / p.sum())


def write_dataset(root: Path, n: int, seed: int, chunk: int) -> dict[str, object]:
    """Write the dataset under ``root``; return its size."""
    t0 = time.perf_counter()
    keys = item_keys()
    province = make_province(seed, len(keys))
    counts = _cell_counts(province, n, seed)
    cells = province.cell_dossiers.reshape(-1).astype(np.float64)
    cell_weight = np.divide(cells, counts, out=np.zeros_like(cells), where=counts > 0)
    left = counts.copy()
    rng = np.random.default_rng([seed, 4, n])
    writers: dict[str, pq.ParquetWriter] = {}
    for index, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        drawn = rng.multivariate_hypergeometric(left, m)
        left -= drawn
        cell = rng.permutation(np.repeat(np.arange(cells.size), drawn)).astype(np.int32)
        agency = (cell // N_FIELDS).astype(np.int16)
        field = (cell % N_FIELDS).astype(np.int16)
        within = np.floor(rng.random(m) * province.agency_n_counters[agency]).astype(np.int32)
        counter = (province.agency_first_counter[agency] + within).astype(np.int32)
        units = (agency, field, counter, cell_weight[cell])
        table = _chunk_table(province, keys, seed + 1 + index, n, 0, m, units, 0.0)
        order = np.argsort(agency, kind="stable")
        table = table.take(pa.array(order))
        bounds = np.searchsorted(agency[order], np.arange(len(province.agency_codes) + 1))
        year = pc.strftime(table["submitted_at"], format="%Y")
        for h, code in enumerate(province.agency_codes):
            lo, hi = int(bounds[h]), int(bounds[h + 1])
            if lo == hi:
                continue
            part = table.slice(lo, hi - lo).drop_columns(["agency_code"])
            for value in set(year.slice(lo, hi - lo).to_pylist()):
                rows = part.filter(pc.equal(year.slice(lo, hi - lo), value))
                where = f"year={value}/agency_code={code}"
                if where not in writers:
                    (root / where).mkdir(parents=True, exist_ok=True)
                    writers[where] = pq.ParquetWriter(root / where / "part-0.parquet", rows.schema)
                writers[where].write_table(rows)
        del table
    for writer in writers.values():
        writer.close()
    files = sorted(root.rglob("*.parquet"))
    return {
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "largest_file_rows": max(pq.ParquetFile(f).metadata.num_rows for f in files),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _high_water_kib() -> int:
    """This process's peak resident memory in KiB (``VmHWM``: of this address space only, unlike
    ``getrusage``, whose maximum a spawned worker inherits from the process that started it)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _worker_peaks(client) -> dict[str, float]:
    """Peak resident memory of every worker process in MiB."""
    peaks = client.run(_high_water_kib)
    return {address: round(kib / 1024, 1) for address, kib in peaks.items()}


def _command(dataset: Path, out: Path, *extra: str) -> list[str]:
    run = "import sys; from survey.cli import main; sys.exit(main())"
    return [sys.executable, "-c", run, "analyze", str(dataset), *ANALYSIS, *extra,
            "--out", str(out)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of responses")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows generated at a time")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--skip-local", action="store_true", help="only the Dask engine")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    out = OUT_DIR / "dask_analyze" / f"n{args.n}"
    dataset = out / f"dataset-seed{args.seed}"
    result: dict[str, object] = {"n": args.n, "workers": args.workers, "machine": machine()}
    if not (dataset / "_done").exists():
        result["dataset"] = write_dataset(dataset, args.n, args.seed, args.chunk)
        (dataset / "_done").write_text(json.dumps(result["dataset"]), encoding="utf-8")
    else:
        result["dataset"] = json.loads((dataset / "_done").read_text(encoding="utf-8"))
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        baseline = _worker_peaks(client)
        command = _command(
            dataset, out / "dask.csv", "--engine", "dask", "--scheduler", cluster.scheduler_address
        )
        timed = run_timed(command, cwd=REPO, log=out / "dask.log")
        if timed.returncode != 0:
            raise SystemExit(f"sipas analyze --engine dask failed:\n{timed.stderr[-3000:]}")
        result["dask"] = {
            "command": shlex.join(command),
            "wall_s": timed.wall_s,
            "client_peak_rss_mb": round(timed.peak_rss_mb, 1),
            "worker_peak_rss_mb": _worker_peaks(client),
            "worker_rss_before_mb": baseline,
        }
    if not args.skip_local:
        command = _command(dataset, out / "local.csv")
        timed = run_timed(command, cwd=REPO, log=out / "local.log")
        if timed.returncode != 0:
            raise SystemExit(f"sipas analyze (local) failed:\n{timed.stderr[-3000:]}")
        result["local"] = {
            "command": shlex.join(command),
            "wall_s": timed.wall_s,
            "peak_rss_mb": round(timed.peak_rss_mb, 1),
        }
        dask_table = pd.read_csv(out / "dask.csv", encoding="utf-8-sig")
        local_table = pd.read_csv(out / "local.csv", encoding="utf-8-sig")
        worst = float(
            (
                (dask_table["estimate"] - local_table["estimate"]).abs()
                / local_table["estimate"].abs().clip(lower=1e-300)
            ).max()
        )
        result["max_relative_difference_of_estimates"] = worst
        if not worst < 1e-9:
            raise SystemExit(f"the engines disagree: relative difference {worst}")
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
