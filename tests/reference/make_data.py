"""Deterministic synthetic SIPAS survey data for the R ``survey`` reference (the "oracle").

Every data set is written as ``<out>/<name>/responses.csv`` (the wide export of
``docs/architecture.md`` for the ``sipas-2017`` form, plus the columns ``weight``,
``base_weight`` and ``counters_total``), ``frame.csv`` (dossier volumes per agency x field),
``margins_agency.csv`` and ``margins_field.csv``. The output depends only on this file: the
generator uses ``numpy.random.default_rng`` with fixed seeds and writes floats with ``repr``
(shortest round-trip form), so two runs give byte-identical files.

Run with the project venv::

    .venv/bin/python tests/reference/make_data.py            # writes tests/reference/data/
    .venv/bin/python tests/reference/make_data.py --out /tmp/x
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORM_ID = "sipas-2017"
FORM_VERSION = 1
FACTOR_SIZES: dict[str, int] = {"e1": 4, "e2": 5, "e3": 6, "e4": 3, "e5": 4}
ITEM_KEYS: tuple[str, ...] = tuple(
    f"{factor}_{k}" for factor, size in FACTOR_SIZES.items() for k in range(1, size + 1)
)
HEAD_COLUMNS: tuple[str, ...] = (
    "response_id",
    "submitted_at",
    "form_id",
    "form_version",
    "agency_code",
    "counter_code",
    "field_code",
    "procedure_code",
    "channel",
    "flags",
)
EXTRA_COLUMNS: tuple[str, ...] = ("weight", "base_weight", "counters_total")
COLUMNS: tuple[str, ...] = HEAD_COLUMNS + ITEM_KEYS + ("comment",) + EXTRA_COLUMNS
CHANNELS: tuple[str, ...] = ("counter_qr", "dossier_qr", "kiosk", "portal", "api")
CHANNEL_P = np.array([0.6, 0.2, 0.1, 0.07, 0.03])
FLAGS: tuple[str, ...] = ("", "too_fast", "straightlining", "too_fast;straightlining")
FLAGS_P = np.array([0.93, 0.04, 0.02, 0.01])
COMMENTS: tuple[str, ...] = (
    "Cán bộ nhiệt tình, hướng dẫn rõ ràng",
    "Thời gian chờ lâu",
    'Phải đi lại nhiều lần; "hẹn" trả kết quả trễ',
    "Good service, thank you",
)
# Ordered-logit cut points between codes 1|2, 2|3, 3|4, 4|5.
CUTS = np.array([-2.6, -1.3, 0.0, 2.0])
YEAR = 2025


@dataclass(frozen=True)
class Spec:
    """Parameters of one synthetic data set."""

    name: str
    seed: int
    n_rows: int
    n_agencies: int
    n_fields: int
    counters_min: int = 2
    counters_max: int = 8
    fields_min: int = 4
    fields_max: int = 9
    dossiers_sigma: float = 1.0
    agency_sd: float = 0.4
    counter_sd: float = 0.5
    respondent_sd: float = 0.8
    structural_na_fields: tuple[str, ...] = ("F01", "F02", "F03", "F04")
    weight_noise_sd: float = 0.0
    lonely_agencies: tuple[str, ...] = ()
    tweaks: tuple[Callable[[Data, np.random.Generator], None], ...] = field(default=())


@dataclass
class Data:
    """Row-level arrays of one data set, before writing (mutable while tweaks run)."""

    agency: np.ndarray
    counter: np.ndarray
    field: np.ndarray
    codes: np.ndarray  # (n, 22) int; 0 = not applicable, -1 = skipped
    seconds: np.ndarray  # seconds since 2025-01-01T00:00:00Z
    frame: dict[tuple[str, str], int]
    counters_total: dict[str, int]
    weight_noise: np.ndarray


def _codes(i: int, prefix: str) -> list[str]:
    return [f"{prefix}{k:02d}" for k in range(1, i + 1)]


def _month_bounds() -> np.ndarray:
    start = dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC)
    bounds = [dt.datetime(YEAR, m, 1, tzinfo=dt.UTC) for m in range(1, 13)]
    bounds.append(dt.datetime(YEAR + 1, 1, 1, tzinfo=dt.UTC))
    return np.array([int((b - start).total_seconds()) for b in bounds])


def _simulate(spec: Spec) -> Data:
    rng = np.random.default_rng([spec.seed, 1])
    agencies = _codes(spec.n_agencies, "A")
    fields = _codes(spec.n_fields, "F")

    # Population frame: each agency handles a subset of fields; every field is handled.
    frame: dict[tuple[str, str], int] = {}
    for h, agency in enumerate(agencies):
        k = int(rng.integers(spec.fields_min, spec.fields_max + 1))
        chosen = set(rng.choice(spec.n_fields, size=min(k, spec.n_fields), replace=False))
        chosen.add(h % spec.n_fields)
        for f in sorted(chosen):
            frame[(agency, fields[f])] = int(round(np.exp(rng.normal(6.0, spec.dossiers_sigma))))
    cells = sorted(frame)

    n_counters = {
        a: (
            1
            if a in spec.lonely_agencies
            else int(rng.integers(spec.counters_min, spec.counters_max + 1))
        )
        for a in agencies
    }
    counters_total = {a: n_counters[a] + int(rng.integers(0, 4)) for a in agencies}
    agency_effect = {a: rng.normal(0.0, spec.agency_sd) for a in agencies}
    counter_effect = {
        (a, c): rng.normal(0.0, spec.counter_sd) for a in agencies for c in range(n_counters[a])
    }
    counter_share = {a: rng.dirichlet(np.full(n_counters[a], 2.0)) for a in agencies}
    item_offset = rng.normal(0.0, 0.5, size=len(ITEM_KEYS))
    item_offset[0] = 2.6  # e1_1: almost everybody satisfied (p-hat near 1 in small domains)

    # Sample allocation: at least 2 rows per populated cell, the rest proportional to sqrt(N).
    rng = np.random.default_rng([spec.seed, 2, spec.n_rows])
    size = np.sqrt(np.array([frame[c] for c in cells], dtype=float))
    extra = spec.n_rows - 2 * len(cells)
    if extra < 0:
        raise ValueError(f"{spec.name}: n_rows {spec.n_rows} < 2 x {len(cells)} cells")
    alloc = 2 + rng.multinomial(extra, size / size.sum())
    cell_idx = np.repeat(np.arange(len(cells)), alloc)
    rng.shuffle(cell_idx)
    n = len(cell_idx)
    agency = np.array([cells[c][0] for c in cell_idx], dtype=object)
    fld = np.array([cells[c][1] for c in cell_idx], dtype=object)
    counter_no = np.array([rng.choice(n_counters[a], p=counter_share[a]) for a in agency])
    counter = np.array(
        [f"{a}-C{c + 1}" for a, c in zip(agency, counter_no, strict=True)], dtype=object
    )

    theta = (
        0.9
        + np.array([agency_effect[a] for a in agency])
        + np.array([counter_effect[(a, c)] for a, c in zip(agency, counter_no, strict=True)])
        + rng.normal(0.0, spec.respondent_sd, size=n)
    )
    latent = theta[:, None] + item_offset[None, :] + rng.logistic(size=(n, len(ITEM_KEYS)))
    codes = 1 + (latent[:, :, None] > CUTS[None, None, :]).sum(axis=2)

    e5 = [j for j, k in enumerate(ITEM_KEYS) if k.startswith("e5_")]
    e45 = [j for j, k in enumerate(ITEM_KEYS) if k.startswith(("e4_", "e5_"))]
    structural = np.isin(fld, spec.structural_na_fields) & (rng.random(n) < 0.85)
    codes[np.ix_(structural, e5)] = 0
    codes[rng.random(codes.shape) < 0.02] = 0
    codes[rng.random(codes.shape) < 0.03] = -1
    dropout = rng.random(n) < 0.03
    codes[np.ix_(dropout, e45)] = -1

    bounds = _month_bounds()
    month = rng.integers(0, 12, size=n)
    seconds = bounds[month] + rng.integers(0, bounds[month + 1] - bounds[month])
    noise = (
        np.exp(rng.normal(0.0, spec.weight_noise_sd, size=n))
        if spec.weight_noise_sd
        else (np.ones(n))
    )
    return Data(agency, counter, fld, codes, seconds, frame, counters_total, noise)


def _weights(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """Cell weights N_hf / n_hf (times the noise) and agency weights N_h / n_h."""
    n_cell: dict[tuple[str, str], int] = {}
    n_agency: dict[str, int] = {}
    big_n_agency: dict[str, int] = {}
    for a, f in zip(data.agency, data.field, strict=True):
        n_cell[(a, f)] = n_cell.get((a, f), 0) + 1
        n_agency[a] = n_agency.get(a, 0) + 1
    for (a, _f), dossiers in data.frame.items():
        big_n_agency[a] = big_n_agency.get(a, 0) + dossiers
    weight = np.array(
        [data.frame[(a, f)] / n_cell[(a, f)] for a, f in zip(data.agency, data.field, strict=True)]
    )
    base = np.array([big_n_agency[a] / n_agency[a] for a in data.agency])
    return weight * data.weight_noise, base


# --- data-set specific tweaks -------------------------------------------------------------


def _single_counter_in_field(data: Data, rng: np.random.Generator) -> None:
    """Agencies A04-A06: every response in their lowest field goes to counter C1."""
    for agency in ("A04", "A05", "A06"):
        in_agency = data.agency == agency
        first_field = sorted(set(data.field[in_agency]))[0]
        data.counter[in_agency & (data.field == first_field)] = f"{agency}-C1"


def _sparse_cells(data: Data, rng: np.random.Generator) -> None:
    """Empty cells, p-hat in {0, 1}, unanswered items, tiny domains, an empty month."""
    keep = np.ones(len(data.agency), dtype=bool)
    # No response in July.
    bounds = _month_bounds()
    keep &= ~((data.seconds >= bounds[6]) & (data.seconds < bounds[7]))
    # Empty agency x field cells that exist in the frame (partial post-stratification).
    for agency in ("A01", "A05", "A07"):
        cells = sorted(f for (a, f) in data.frame if a == agency)
        keep &= ~((data.agency == agency) & (data.field == cells[-1]))
    # Tiny field F08: 3 rows; tiny agency A10: 4 rows over 2 counters.
    idx = np.flatnonzero((data.field == "F08") & (data.agency != "A10") & keep)
    keep[idx[3:]] = False
    idx = np.flatnonzero((data.agency == "A10") & keep)
    keep[idx[4:]] = False
    data.counter[idx[:4]] = np.array(["A10-C1", "A10-C2", "A10-C1", "A10-C2"], dtype=object)
    _subset(data, keep)
    codes = data.codes
    j = {k: i for i, k in enumerate(ITEM_KEYS)}
    a02 = data.agency == "A02"
    codes[a02, j["e1_1"]] = np.where(codes[a02, j["e1_1"]] >= 1, 5, codes[a02, j["e1_1"]])
    a03 = data.agency == "A03"
    codes[a03, j["e2_1"]] = np.where(codes[a03, j["e2_1"]] >= 1, 2, codes[a03, j["e2_1"]])
    e5 = [i for k, i in j.items() if k.startswith("e5_")]
    codes[np.ix_(data.agency == "A04", e5)] = 0
    codes[data.field == "F07", j["e3_6"]] = -1
    # Everyone in field F06 is satisfied with e4_1 (p-hat = 1 for a whole field).
    f06 = data.field == "F06"
    codes[f06, j["e4_1"]] = np.where(codes[f06, j["e4_1"]] >= 1, 4, codes[f06, j["e4_1"]])


def _extreme_weights(data: Data, rng: np.random.Generator) -> None:
    """Five rows get 100 x the median weight (applied through the noise multiplier)."""
    w, _ = _weights(data)
    idx = rng.choice(len(w), size=5, replace=False)
    data.weight_noise[idx] *= 100.0 * np.median(w) / w[idx]


def _subset(data: Data, keep: np.ndarray) -> None:
    data.agency = data.agency[keep]
    data.counter = data.counter[keep]
    data.field = data.field[keep]
    data.codes = data.codes[keep]
    data.seconds = data.seconds[keep]
    data.weight_noise = data.weight_noise[keep]


SPECS: tuple[Spec, ...] = (
    Spec(name="base", seed=20250101, n_rows=3000, n_agencies=30, n_fields=12),
    Spec(
        name="lonely",
        seed=20250202,
        n_rows=1800,
        n_agencies=12,
        n_fields=8,
        counters_max=5,
        lonely_agencies=("A01", "A02", "A03"),
        tweaks=(_single_counter_in_field,),
    ),
    Spec(
        name="sparse",
        seed=20250303,
        n_rows=1500,
        n_agencies=10,
        n_fields=8,
        counters_max=4,
        fields_min=3,
        fields_max=6,
        tweaks=(_sparse_cells,),
    ),
    Spec(
        name="extreme",
        seed=20250404,
        n_rows=2000,
        n_agencies=12,
        n_fields=8,
        counters_max=5,
        dossiers_sigma=2.0,
        weight_noise_sd=1.0,
        tweaks=(_extreme_weights,),
    ),
)


def build(spec: Spec) -> Data:
    """Simulate one data set and apply its tweaks."""
    data = _simulate(spec)
    rng = np.random.default_rng([spec.seed, 3])
    for tweak in spec.tweaks:
        tweak(data, rng)
    order = np.lexsort((data.seconds,))
    _subset(data, order)
    return data


def _iso(seconds: int) -> str:
    t = dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(seconds))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(spec: Spec, out: Path) -> None:
    """Write one data set to ``out/<name>/``."""
    data = build(spec)
    weight, base = _weights(data)
    rng = np.random.default_rng([spec.seed, 4])
    n = len(data.agency)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)
    flags = rng.choice(len(FLAGS), size=n, p=FLAGS_P)
    procedure = rng.integers(1, 6, size=n)
    comment = np.where(rng.random(n) < 0.1, rng.integers(0, len(COMMENTS), size=n), -1)
    folder = out / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "responses.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(n):
            items = ["" if c < 0 else str(int(c)) for c in data.codes[i]]
            writer.writerow(
                [
                    f"R{i + 1:05d}",
                    _iso(data.seconds[i]),
                    FORM_ID,
                    FORM_VERSION,
                    data.agency[i],
                    data.counter[i],
                    data.field[i],
                    f"{data.field[i]}.P{procedure[i]}",
                    CHANNELS[channel[i]],
                    FLAGS[flags[i]],
                    *items,
                    "" if comment[i] < 0 else COMMENTS[comment[i]],
                    repr(float(weight[i])),
                    repr(float(base[i])),
                    data.counters_total[data.agency[i]],
                ]
            )
    _write_rows(
        folder / "frame.csv",
        ("agency_code", "field_code", "dossiers"),
        [(a, f, d) for (a, f), d in sorted(data.frame.items())],
    )
    by_agency: dict[str, int] = {}
    by_field: dict[str, int] = {}
    for (a, f), d in data.frame.items():
        by_agency[a] = by_agency.get(a, 0) + d
        by_field[f] = by_field.get(f, 0) + d
    _write_rows(
        folder / "margins_agency.csv", ("agency_code", "dossiers"), sorted(by_agency.items())
    )
    _write_rows(folder / "margins_field.csv", ("field_code", "dossiers"), sorted(by_field.items()))


def _write_rows(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    """Write every data set (or the ones named with ``--only``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--only", nargs="*", default=None, help="data set names")
    args = parser.parse_args(argv)
    for spec in SPECS:
        if args.only is None or spec.name in args.only:
            write(spec, args.out)


if __name__ == "__main__":
    main()
