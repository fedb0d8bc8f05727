"""Dossier-volume frames: the population counts (số hồ sơ) that weights are calibrated to.

A frame is a table with one row per agency × field (× period) cell and the number of dossiers
handled in that cell::

    agency_code,field_code,period,dossiers
    A01,F01,2024,1520
    A01,F02,2024,310

``period`` is optional. When present, every value must use one of the granularities in
:data:`PERIOD_FORMATS` (year ``2024``, half-year ``2024-H1``, quarter ``2024-Q3`` or month
``2024-07``), and all rows must use the same one, so that a response's ``submitted_at`` can be
mapped to its period (:func:`period_of`).

:func:`load_frame` checks every row and raises one :class:`FrameError` listing all problems,
each located by its spreadsheet row number (the header is row 1) and column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_CELLS",
    "PERIOD_FORMATS",
    "FrameError",
    "FrameProblem",
    "load_frame",
    "period_of",
    "period_granularity",
    "validate_frame",
]

DEFAULT_CELLS: tuple[str, ...] = ("agency_code", "field_code")
"""The default cell columns of a frame (and of the responses it weights)."""

PERIOD_FORMATS: dict[str, re.Pattern[str]] = {
    "year": re.compile(r"^\d{4}$"),
    "half": re.compile(r"^\d{4}-H[12]$"),
    "quarter": re.compile(r"^\d{4}-Q[1-4]$"),
    "month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
}
"""Accepted period spellings, by granularity."""

_MAX_LISTED = 50
_MAX_WHOLE_VOLUME = 2.0**63  # the first whole volume a signed 64-bit integer cannot hold


@dataclass(frozen=True, slots=True)
class FrameProblem:
    """One problem found in a frame.

    Attributes
    ----------
    row : int or None
        Spreadsheet row number (the header is row 1, the first data row is row 2);
        ``None`` for problems of the whole table (e.g. a missing column).
    column : str or None
        The column concerned, if any.
    problem : str
        What is wrong, in English.
    """

    row: int | None
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'frame'}: {self.problem}"


class FrameError(ValueError):
    """A frame file or table is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[FrameProblem], source: str | None = None) -> None:
        self.problems: tuple[FrameProblem, ...] = tuple(problems)
        self.source = source
        head = f"invalid frame {source}" if source else "invalid frame"
        lines = [str(p) for p in self.problems[:_MAX_LISTED]]
        if len(self.problems) > _MAX_LISTED:
            lines.append(f"... and {len(self.problems) - _MAX_LISTED} more problems")
        super().__init__(f"{head} ({len(self.problems)} problems):\n  " + "\n  ".join(lines))


def load_frame(
    path: str | Path,
    *,
    cells: Sequence[str] = DEFAULT_CELLS,
    value_column: str = "dossiers",
    sheet: str | int = 0,
    integer: bool = True,
) -> pd.DataFrame:
    """Load and validate a dossier-volume frame from a CSV or XLSX file.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (UTF-8, with or without BOM) or ``.xlsx`` file with a header row.
        Column names are matched case-insensitively, surrounding spaces ignored; extra columns
        (e.g. ``agency_name``) are ignored.
    cells : sequence of str
        The required code columns (default ``agency_code, field_code``).
    value_column : str
        The column of volumes (default ``dossiers``).
    sheet : str or int
        Sheet name or index for XLSX files.
    integer : bool
        Require whole numbers (dossier counts). This also catches Vietnamese thousands
        separators such as ``1.649``, which would otherwise be read as 1.649.

    Returns
    -------
    pandas.DataFrame
        Columns ``*cells``, ``period`` (only if the file has one) and ``value_column``
        (float64), with codes as stripped strings, in file order.

    Raises
    ------
    FrameError
        Listing every problem: missing columns, blank codes, non-numeric, negative,
        non-finite or fractional volumes, bad or mixed period spellings, duplicate cells.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
        )
    elif suffix in (".xlsx", ".xlsm"):
        raw = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl")
    else:
        raise FrameError([FrameProblem(None, None, f"unsupported file type {suffix!r}")], str(path))
    return validate_frame(raw, cells=cells, value_column=value_column, integer=integer, source=path)


def validate_frame(
    raw: pd.DataFrame,
    *,
    cells: Sequence[str] = DEFAULT_CELLS,
    value_column: str = "dossiers",
    integer: bool = True,
    source: str | Path | None = None,
) -> pd.DataFrame:
    """Validate an in-memory frame table; see :func:`load_frame` for the rules.

    Row numbers in problems count the header as row 1, so they match a spreadsheet view of
    ``raw``.
    """
    src = str(source) if source is not None else None
    frame = raw.rename(columns=lambda c: str(c).strip().lower())
    problems: list[FrameProblem] = []
    for col in dict.fromkeys((*cells, value_column)):
        if col not in frame.columns:
            problems.append(FrameProblem(None, col, "required column is missing"))
    if problems:
        raise FrameError(problems, src)

    key_cols = list(cells) + (["period"] if "period" in frame.columns else [])
    rows = np.arange(len(frame)) + 2
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in key_cols:
        codes = frame[col].map(_as_code)
        blank = codes.isna().to_numpy()
        problems += [FrameProblem(int(r), col, "blank code") for r in rows[blank]]
        out[col] = codes.astype(object)

    if "period" in key_cols:
        problems += _check_periods(out["period"], rows)

    values, value_problems = _parse_volumes(frame[value_column], rows, value_column, integer)
    problems += value_problems
    out[value_column] = values

    keys = out[key_cols]
    complete = keys.notna().all(axis=1).to_numpy()
    dup = keys.duplicated(keep=False).to_numpy() & complete
    if dup.any():
        groups = keys[dup].groupby(key_cols, sort=False).groups
        for key, idx in groups.items():
            where = ", ".join(str(int(r)) for r in rows[np.asarray(idx)])
            label = "/".join(map(str, key if isinstance(key, tuple) else (key,)))
            for r in rows[np.asarray(idx)]:
                problems.append(
                    FrameProblem(int(r), None, f"duplicate cell {label} (rows {where})")
                )
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        raise FrameError(problems, src)
    for col in key_cols:
        out[col] = out[col].astype(str)
    return out


def period_granularity(periods: pd.Series) -> str:
    """Return the granularity (``year``, ``half``, ``quarter``, ``month``) shared by ``periods``.

    Raises
    ------
    FrameError
        If a value matches no format, or the values mix granularities.
    """
    problems = _check_periods(periods.astype(object), np.arange(len(periods)) + 2)
    if problems:
        raise FrameError(problems)
    first = str(periods.iloc[0]) if len(periods) else "0000"
    return next(name for name, rx in PERIOD_FORMATS.items() if rx.match(first))


def period_of(submitted_at: pd.Series, granularity: str) -> pd.Series:
    """Map ISO 8601 timestamps to period labels of the given granularity.

    Timestamps are converted to UTC first (the export writes UTC); naive timestamps are taken
    as UTC. Examples: ``2024-07-15T03:00:00Z`` → ``2024`` (year), ``2024-H2``, ``2024-Q3``,
    ``2024-07`` (month).

    Raises
    ------
    ValueError
        For an unknown granularity or unparseable timestamps.
    """
    if granularity not in PERIOD_FORMATS:
        raise ValueError(f"unknown period granularity {granularity!r}; use {list(PERIOD_FORMATS)}")
    ts = pd.to_datetime(submitted_at, utc=True, format="ISO8601")
    year = ts.dt.year.astype("Int64").astype(str)
    if granularity == "year":
        return year
    if granularity == "half":
        return year + "-H" + ((ts.dt.month - 1) // 6 + 1).astype("Int64").astype(str)
    if granularity == "quarter":
        return year + "-Q" + ts.dt.quarter.astype("Int64").astype(str)
    return year + "-" + ts.dt.month.astype("Int64").astype(str).str.zfill(2)


def _as_code(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores numeric codes as floats
    text = str(value).strip()
    return text or None


def _check_periods(periods: pd.Series, rows: np.ndarray) -> list[FrameProblem]:
    problems: list[FrameProblem] = []
    kinds: dict[str, int] = {}
    for row, value in zip(rows, periods, strict=True):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue  # reported as blank code
        kind = next((k for k, rx in PERIOD_FORMATS.items() if rx.match(str(value))), None)
        if kind is None:
            problems.append(
                FrameProblem(
                    int(row),
                    "period",
                    f"{value!r} is not a period (use 2024, 2024-H1, 2024-Q3 or 2024-07)",
                )
            )
        else:
            kinds.setdefault(kind, int(row))
    if len(kinds) > 1:
        first = ", ".join(f"{k} (row {r})" for k, r in kinds.items())
        problems.append(FrameProblem(None, "period", f"periods mix granularities: {first}"))
    return problems


def _parse_volumes(
    col: pd.Series, rows: np.ndarray, name: str, integer: bool
) -> tuple[np.ndarray, list[FrameProblem]]:
    text = col.map(lambda v: "" if _as_code(v) is None else str(v).strip())
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
    problems: list[FrameProblem] = []
    for i in np.flatnonzero(~np.isfinite(values) | (values < 0)):
        raw = text.iloc[i]
        if raw == "":
            msg = "volume is blank"
        elif np.isnan(values[i]):
            msg = f"{raw!r} is not a number"
        elif not np.isfinite(values[i]):
            msg = f"{raw!r} is not finite"
        else:
            msg = f"volume {raw} is negative"
        problems.append(FrameProblem(int(rows[i]), name, msg))
    if integer:
        # Whole counts are stored as 64-bit integers (dossier_volumes.dossiers is a BIGINT).
        huge = np.isfinite(values) & (values >= _MAX_WHOLE_VOLUME)
        for i in np.flatnonzero(huge):
            problems.append(FrameProblem(int(rows[i]), name, f"volume {text.iloc[i]} is too large"))
        frac = np.isfinite(values) & (values >= 0) & (values != np.floor(values))
        for i in np.flatnonzero(frac):
            problems.append(
                FrameProblem(
                    int(rows[i]),
                    name,
                    f"{text.iloc[i]!r} is not a whole number of dossiers "
                    "(write 1649, not 1.649 or 1,649)",
                )
            )
    return values, problems
