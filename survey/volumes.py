"""Upload a dossier-volume frame (CSV or XLSX) into ``dossier_volumes``, all or nothing.

The file is read like the unit imports (:func:`survey.importing.read_rows`: UTF-8 CSV or the
first sheet of an XLSX workbook, the header on row 1), checked by
:func:`analysis.frames.validate_frame` (columns, blank codes, volumes, periods, duplicate cells),
then its agency and field codes are looked up. Every problem is reported at once as an
:class:`~survey.importing.ImportFailed` whose errors carry the spreadsheet row and column; with
any problem nothing is stored. A valid frame replaces the stored frame of each period it holds
(:func:`survey.repository.frames.replace_volumes`).

A file without a ``period`` column takes the period given with the upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.frames import PERIOD_FORMATS, FrameError, FrameProblem, validate_frame
from survey.importing import ImportFailed, RowError, read_rows
from survey.repository.frames import UnknownFrameCodes, replace_volumes

__all__ = ["StoredFrame", "is_period", "load_volume_file", "store_volume_file"]

_SHOWN = 60


def _shown(text: str) -> str:
    """A value as quoted in a message, cut to a readable length."""
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def is_period(text: str) -> bool:
    """True when ``text`` is spelled as one of :data:`analysis.frames.PERIOD_FORMATS`."""
    return any(rx.match(text) for rx in PERIOD_FORMATS.values())


def load_volume_file(path: Path, *, period: str | None = None) -> tuple[pd.DataFrame, list[int]]:
    """Read and validate a frame file.

    Returns
    -------
    (pandas.DataFrame, list of int)
        The validated frame (``agency_code, field_code, period, dossiers``) and the spreadsheet
        row number of each of its rows.

    Raises
    ------
    ImportFailed
        Every problem of the file, by row and column.
    """
    header, rows = read_rows(path)
    columns = list(dict.fromkeys(name for name in header if name))
    raw = pd.DataFrame([values for _, values in rows], columns=columns, dtype=object)
    numbers = [number for number, _ in rows]
    if "period" not in raw.columns:
        chosen = (period or "").strip()
        if not chosen:
            raise ImportFailed([RowError(1, "period", "period_missing")])
        if not is_period(chosen):
            raise ImportFailed([RowError(0, "period", "bad_period", {"value": _shown(chosen)})])
        raw["period"] = chosen
    try:
        frame = validate_frame(raw)
    except FrameError as exc:
        raise ImportFailed(
            [
                RowError(
                    _row_number(problem, numbers, raw.columns),
                    problem.column,
                    "frame_problem",
                    {"problem": _cut(problem.problem)},
                )
                for problem in exc.problems
            ]
        ) from None
    return frame, numbers


def _row_number(problem: FrameProblem, numbers: list[int], columns: pd.Index) -> int:
    """The spreadsheet row of a problem: validate_frame counts the file's non-blank rows from 2;
    a problem of no row is the header's (a missing column) or the whole file's (0)."""
    if problem.row is None:
        return 1 if problem.column is not None and problem.column not in columns else 0
    index = problem.row - 2
    return numbers[index] if 0 <= index < len(numbers) else problem.row


def _cut(message: str) -> str:
    return message if len(message) <= 4 * _SHOWN else message[: 4 * _SHOWN] + "…"


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """What an upload stored: the number of cells and the periods replaced."""

    cells: int
    periods: tuple[str, ...]


def store_volume_file(path: Path, *, period: str | None = None) -> StoredFrame:
    """Validate a frame file and store it, replacing the frames of its periods.

    Returns
    -------
    StoredFrame
        The number of cells stored and the periods they belong to.

    Raises
    ------
    ImportFailed
        Every problem (file, columns, values, unknown agency or field codes); nothing stored.
    """
    frame, numbers = load_volume_file(path, period=period)
    try:
        cells = replace_volumes(frame)
    except UnknownFrameCodes as exc:
        what = {"agency_code": "unknown_agency", "field_code": "unknown_field"}
        raise ImportFailed(
            [
                RowError(numbers[position], column, what[column], {"code": _shown(code)})
                for position, column, code in exc.problems
            ]
        ) from None
    return StoredFrame(cells, tuple(sorted(set(frame["period"]))))
