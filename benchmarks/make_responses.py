"""Generate N synthetic SIPAS responses in the wide export format, fast (vectorised numpy).

The output is the wide export of ``docs/architecture.md`` for the ``sipas-2017`` form (22
rating items ``e1_1 … e5_4``; codes 1..5, 0 = not applicable, blank = skipped) plus a ``weight``
column, written as Parquet (dictionary-encoded string columns, ``int8`` item codes) and/or CSV.

Design of the synthetic province: 30 agencies (the strata), each with 2..8 counters (the PSUs)
and handling a subset of the 16 procedure fields; responses spread over the 12 months of 2025.
Each populated agency × field cell has a dossier volume N_hf; the weight of a response is
N_hf / n_hf (n_hf = responses in the cell), as after post-stratification. Answers come from an
ordered-logit model with agency, counter, item and respondent effects (≈ 80-90 % satisfied);
``e5_*`` (feedback handling) is often not applicable.

The output depends only on (seed, n). Rows are generated in chunks, so 10 million rows need
about 2 GB of RAM. Usage::

    .venv/bin/python benchmarks/make_responses.py --n 1000000 --out benchmarks/out/data/n1000000
    .venv/bin/python benchmarks/make_responses.py --n 10000000 --format parquet
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["Province", "generate", "item_keys", "make_province", "main"]

FORM_ID = "sipas-2017"
FORM_VERSION = 1
FACTOR_SIZES: dict[str, int] = {"e1": 4, "e2": 5, "e3": 6, "e4": 3, "e5": 4}
N_AGENCIES = 30
N_FIELDS = 16
CHANNELS = ("counter_qr", "dossier_qr", "kiosk", "api", "portal")
CHANNEL_P = np.array([0.55, 0.25, 0.12, 0.03, 0.05])
FLAG_VALUES = ("too_fast", "straightlining", "too_fast;straightlining")
COMMENTS = (
    "Cán bộ nhiệt tình, hướng dẫn rõ ràng",
    "Thời gian chờ hơi lâu",
    'Phải đi lại nhiều lần; "hẹn" trả kết quả trễ',
    "Phòng chờ chật, thiếu ghế ngồi",
    "Good service, thank you",
)
CUTS = np.array([-2.8, -1.6, -0.2, 2.2])  # ordered-logit cut points 1|2, 2|3, 3|4, 4|5
INTERCEPT = 1.9  # puts ≈ 85 % of valid answers at 4 or 5
YEAR_START = 1735689600  # 2025-01-01T00:00:00Z
YEAR_SECONDS = 365 * 86400
CHUNK_ROWS = 1_000_000


def item_keys() -> tuple[str, ...]:
    """Return the 22 rating item keys of ``sipas-2017`` in form order.

    Taken from the form definition when ``forms`` can load it, else from the fixed 4/5/6/3/4
    layout of QĐ 2640/QĐ-BNV (``e1_1 … e5_4``).
    """
    try:
        from forms import load_form  # noqa: PLC0415 (optional: the form may not exist yet)

        form = load_form(FORM_ID)
        keys = tuple(item.key for item in form.rating_items)
        if keys:
            return keys
    except Exception:  # noqa: BLE001 (any failure: fall back to the fixed layout)
        pass
    return tuple(f"{f}_{k}" for f, size in FACTOR_SIZES.items() for k in range(1, size + 1))


@dataclass(frozen=True)
class Province:
    """The fixed population frame (independent of n).

    Attributes
    ----------
    agency_codes, counter_codes, field_codes : tuple[str, ...]
        Unit codes; ``counter_agency[c]`` is the agency index of counter ``c``.
    counter_agency : numpy.ndarray
        Agency index per counter.
    agency_first_counter, agency_n_counters : numpy.ndarray
        Counters of agency h are ``first[h] .. first[h] + n[h] - 1``.
    cell_dossiers : numpy.ndarray
        Dossier volume per agency × field cell, shape (30, 16); 0 = the agency does not handle
        the field.
    agency_effect, counter_effect, item_effect, field_na : numpy.ndarray
        Parameters of the answer model.
    """

    agency_codes: tuple[str, ...]
    counter_codes: tuple[str, ...]
    field_codes: tuple[str, ...]
    counter_agency: np.ndarray
    agency_first_counter: np.ndarray
    agency_n_counters: np.ndarray
    cell_dossiers: np.ndarray
    agency_effect: np.ndarray
    counter_effect: np.ndarray
    item_effect: np.ndarray
    field_na: np.ndarray


def make_province(seed: int, n_items: int) -> Province:
    """Build the population frame and the answer-model parameters from ``seed``."""
    rng = np.random.default_rng([seed, 1])
    n_counters = rng.integers(2, 9, size=N_AGENCIES)
    first = np.concatenate([[0], np.cumsum(n_counters)[:-1]])
    counter_agency = np.repeat(np.arange(N_AGENCIES), n_counters)
    agency_codes = tuple(f"A{h + 1:02d}" for h in range(N_AGENCIES))
    counter_codes = tuple(
        f"{agency_codes[h]}-Q{k + 1}" for h in range(N_AGENCIES) for k in range(n_counters[h])
    )
    field_codes = tuple(f"F{f + 1:02d}" for f in range(N_FIELDS))
    handles = rng.random((N_AGENCIES, N_FIELDS)) < 0.55
    handles[np.arange(N_AGENCIES), rng.integers(0, N_FIELDS, N_AGENCIES)] = True
    dossiers = np.where(handles, rng.lognormal(6.5, 1.0, (N_AGENCIES, N_FIELDS)), 0.0)
    cell_dossiers = np.ceil(dossiers).astype(np.int64)
    return Province(
        agency_codes=agency_codes,
        counter_codes=counter_codes,
        field_codes=field_codes,
        counter_agency=counter_agency,
        agency_first_counter=first,
        agency_n_counters=n_counters,
        cell_dossiers=cell_dossiers,
        agency_effect=rng.normal(0.0, 0.45, N_AGENCIES),
        counter_effect=rng.normal(0.0, 0.35, len(counter_codes)),
        item_effect=rng.normal(0.0, 0.3, n_items),
        field_na=rng.uniform(0.05, 0.6, N_FIELDS),
    )


def _uuid_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """Return ``n`` random version-4 UUIDs as an Arrow string array (no Python objects)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = hexdigits[raw >> 4]
    nibbles[:, 1::2] = hexdigits[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((0, 0), (8, 9), (12, 14), (16, 19), (20, 24)):
        width = {0: 8, 8: 4, 12: 4, 16: 4, 20: 12}[src]
        text[:, dst : dst + width] = nibbles[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.reshape(-1))]
    )


def _dictionary(indices: np.ndarray, values: tuple[str, ...], mask: np.ndarray | None = None):
    """Return a dictionary-encoded Arrow string column."""
    idx = pa.array(indices.astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, type=pa.string()))


def _assign_cells(
    province: Province, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw agency, field and counter per response, and the weight N_hf / n_hf."""
    cells = province.cell_dossiers.reshape(-1).astype(np.float64)
    p = np.where(cells > 0, cells**0.6, 0.0)
    cell = rng.choice(cells.size, size=n, p=p / p.sum()).astype(np.int32)
    agency = (cell // N_FIELDS).astype(np.int16)
    field = (cell % N_FIELDS).astype(np.int16)
    within = np.floor(rng.random(n) * province.agency_n_counters[agency]).astype(np.int32)
    counter = (province.agency_first_counter[agency] + within).astype(np.int32)
    n_cell = np.bincount(cell, minlength=cells.size)
    weight = cells[cell] / n_cell[cell]
    return agency, field, counter, weight


def _answers(
    province: Province,
    agency: np.ndarray,
    counter: np.ndarray,
    field: np.ndarray,
    keys: tuple[str, ...],
    rng: np.random.Generator,
) -> list[pa.Array]:
    """Draw the item codes of one chunk (int8; 0 = not applicable; null = skipped)."""
    n = agency.size
    base = INTERCEPT + province.agency_effect[agency] + province.counter_effect[counter]
    base = base + rng.normal(0.0, 0.8, n)  # respondent effect
    straight = rng.random(n) < 0.03  # straightliners answer every item the same
    straight_code = rng.integers(3, 6, n).astype(np.int8)
    na_feedback = province.field_na[field]
    columns = []
    for j, key in enumerate(keys):
        latent = base + province.item_effect[j] + rng.logistic(0.0, 1.0, n)
        codes = (1 + np.searchsorted(CUTS, latent)).astype(np.int8)
        codes = np.where(straight, straight_code, codes)
        p_na = na_feedback if key.startswith("e5") else 0.03
        codes[rng.random(n) < p_na] = 0
        skipped = rng.random(n) < 0.02
        columns.append(pa.array(codes, mask=skipped, type=pa.int8()))
    return columns


def _chunk_table(
    province: Province,
    keys: tuple[str, ...],
    seed: int,
    n: int,
    start: int,
    stop: int,
    units: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    flag_rate: float,
) -> pa.Table:
    """Build rows ``start:stop`` as an Arrow table (deterministic per chunk)."""
    rng = np.random.default_rng([seed, 3, n, start])
    m = stop - start
    agency, field, counter, weight = (u[start:stop] for u in units)
    seconds = YEAR_START + np.sort(rng.integers(0, YEAR_SECONDS, m))
    procedure = field.astype(np.int32) * 10 + rng.integers(0, 10, m)
    procedure_codes = tuple(f"P{f + 1:02d}{k}" for f in range(N_FIELDS) for k in range(10))
    flagged = rng.random(m) >= flag_rate
    commented = rng.random(m) >= 0.03
    columns: dict[str, pa.Array] = {
        "response_id": _uuid_strings(rng, m),
        "submitted_at": pa.array(seconds, type=pa.timestamp("s", tz="UTC")),
        "form_id": _dictionary(np.zeros(m, np.int32), (FORM_ID,)),
        "form_version": pa.array(np.full(m, FORM_VERSION, np.int16)),
        "agency_code": _dictionary(agency, province.agency_codes),
        "counter_code": _dictionary(counter, province.counter_codes),
        "field_code": _dictionary(field, province.field_codes),
        "procedure_code": _dictionary(procedure, procedure_codes, mask=rng.random(m) < 0.4),
        "channel": _dictionary(rng.choice(len(CHANNELS), m, p=CHANNEL_P), CHANNELS),
        "flags": _dictionary(rng.integers(0, len(FLAG_VALUES), m), FLAG_VALUES, mask=flagged),
    }
    answers = _answers(province, agency, counter, field, keys, rng)
    columns.update(zip(keys, answers, strict=True))
    columns["comment"] = _dictionary(rng.integers(0, len(COMMENTS), m), COMMENTS, mask=commented)
    columns["weight"] = pa.array(weight)
    return pa.table(columns)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Decode dictionaries and format ``submitted_at`` as ISO 8601 UTC for the CSV export."""
    arrays = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name == "submitted_at":
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def generate(
    n: int,
    out: Path,
    *,
    seed: int = 20261121,
    formats: tuple[str, ...] = ("parquet", "csv"),
    flag_rate: float = 0.0,
) -> dict[str, object]:
    """Write ``responses.parquet`` and/or ``responses.csv`` and ``meta.json`` under ``out``.

    Returns the metadata written to ``meta.json`` (sizes, timings, units).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    unknown = set(formats) - {"parquet", "csv"}
    if unknown:
        raise ValueError(f"unknown format(s): {sorted(unknown)}; use parquet and/or csv")
    t0 = time.perf_counter()
    keys = item_keys()
    province = make_province(seed, len(keys))
    units = _assign_cells(province, n, np.random.default_rng([seed, 2, n]))
    out.mkdir(parents=True, exist_ok=True)
    pq_writer: pq.ParquetWriter | None = None
    csv_writer: pacsv.CSVWriter | None = None
    for start in range(0, n, CHUNK_ROWS):
        table = _chunk_table(
            province, keys, seed, n, start, min(n, start + CHUNK_ROWS), units, flag_rate
        )
        if "parquet" in formats:
            if pq_writer is None:
                pq_writer = pq.ParquetWriter(out / "responses.parquet", table.schema)
            pq_writer.write_table(table, row_group_size=CHUNK_ROWS)
        if "csv" in formats:
            csv_table = _csv_ready(table)
            if csv_writer is None:
                csv_writer = pacsv.CSVWriter(
                    out / "responses.csv",
                    csv_table.schema,
                    write_options=pacsv.WriteOptions(quoting_style="needed"),
                )
            csv_writer.write_table(csv_table)
    for writer in (pq_writer, csv_writer):
        if writer is not None:
            writer.close()
    meta: dict[str, object] = {
        "n": n,
        "seed": seed,
        "form_id": FORM_ID,
        "form_version": FORM_VERSION,
        "items": list(keys),
        "agencies": len(province.agency_codes),
        "counters": len(province.counter_codes),
        "fields": len(province.field_codes),
        "populated_cells": int((province.cell_dossiers > 0).sum()),
        "flag_rate": flag_rate,
        "seconds": round(time.perf_counter() - t0, 2),
        "files": {p.name: p.stat().st_size for p in sorted(out.glob("responses.*"))},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of responses")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/out/data/nN)")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument(
        "--format", default="parquet,csv", help="comma-separated: parquet, csv (default both)"
    )
    parser.add_argument(
        "--flag-rate",
        type=float,
        default=0.0,
        help="share of responses with quality flags (default 0: every row is reportable)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path(__file__).parent / "out" / "data" / f"n{args.n}"
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    meta = generate(args.n, out, seed=args.seed, formats=formats, flag_rate=args.flag_rate)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
