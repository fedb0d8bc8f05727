"""Writing tables that people open in a spreadsheet, safe from formula injection.

Free text in SIPAS tables comes from citizens (comments) and from imported files (names,
codes). A spreadsheet program runs text that looks like a formula: ``=HYPERLINK("http://x","y")``
in a CSV cell becomes a live link, and Excel and LibreOffice drop leading spaces and line breaks
before deciding, so ``"  =2+2"`` is a formula too. Every writer here passes each text cell
through :func:`neutralize`, which follows the OWASP guidance on CSV injection: a text cell whose
first character that is not whitespace or a control/format character is ``=``, ``+``, ``-`` or
``@``, or that starts with a tab, carriage return or line feed, gets a leading apostrophe ``'``.
The text is otherwise unchanged, so it stays readable and removing the apostrophe gives it back.
Numbers (including negative numbers), dates, booleans and blanks are not text and pass through.

CSV files written to a path are UTF-8 with a byte-order mark (``utf-8-sig``), so that Excel
shows Vietnamese text correctly; pandas, pyarrow and :func:`analysis.exports.read_export` skip
the mark. Written to an open text stream, the stream's own encoding applies and no mark is
added. XLSX files store every text cell as a string (never a formula); characters that XML
cannot hold (control characters other than tab, line feed and carriage return) are replaced by
U+FFFD, and XML reads a carriage return back as a line feed.
"""

from __future__ import annotations

import csv
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

__all__ = [
    "FORMULA_PREFIXES",
    "neutralize",
    "write_csv",
    "write_csv_rows",
    "write_xlsx",
    "write_xlsx_rows",
]

FORMULA_PREFIXES: frozenset[str] = frozenset("=+-@")
"""Characters that make a spreadsheet read a text cell as a formula."""

_LEADING_BREAKS = ("\t", "\r", "\n")
_MAX_WIDTH = 60
_MIN_WIDTH = 6
_WIDTH_SAMPLE = 1000


def _skippable(char: str) -> bool:
    """Whitespace, control and format characters, which spreadsheets may drop before parsing."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def neutralize(value: object) -> object:
    """Make a cell value safe to open in a spreadsheet program.

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    object
        ``"'" + value`` for text that a spreadsheet would read as a formula (its first
        character that is not whitespace or a control/format character is one of ``= + - @``)
        or that starts with a tab, carriage return or line feed; any other value unchanged
        (numbers, negative numbers included, dates, booleans, ``None``).

    Examples
    --------
    >>> neutralize('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> neutralize("  =2+2")
    "'  =2+2"
    >>> neutralize("Tốt - nhanh"), neutralize(-1)
    ('Tốt - nhanh', -1)
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_LEADING_BREAKS):
        return "'" + value
    for char in value:
        if _skippable(char):
            continue
        return "'" + value if char in FORMULA_PREFIXES else value
    return value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [
        c
        for c in frame.columns
        if not (
            pd.api.types.is_numeric_dtype(frame[c])
            or pd.api.types.is_datetime64_any_dtype(frame[c])
            or pd.api.types.is_bool_dtype(frame[c])
        )
    ]


def _neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and the header) neutralised."""
    out = frame.copy()
    for column in _text_columns(out):
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series.cat.rename_categories(
                [neutralize(c) for c in series.cat.categories]
            )
        else:
            out[column] = series.astype(object).map(neutralize)
    out.columns = [neutralize(c) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """Write ``frame`` as CSV (no index), every text cell neutralised.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; the header is its column names.
    target : str, Path or text stream
        A path is written as UTF-8 with a byte-order mark (Excel then reads Vietnamese text
        correctly); an open text stream is written in its own encoding, without a mark.
        Rows end in ``\\r\\n`` (RFC 4180), so that a field holding a line break or a
        carriage return is quoted and reads back whole; missing values are blank.
    """
    safe = _neutralized(frame)
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8-sig", newline="") as stream:
            safe.to_csv(stream, index=False, lineterminator="\r\n")
    else:
        safe.to_csv(target, index=False, lineterminator="\r\n")


def write_csv_rows(rows: Iterable[Sequence[object]], stream: IO[str]) -> int:
    """Stream rows (the first one the header) to a CSV text stream, every text cell neutralised.

    For tables too large to hold as a DataFrame. ``None`` is written blank; rows end in
    ``\\r\\n`` as in :func:`write_csv`; the stream's encoding applies (open it with
    ``newline=""``).

    Returns
    -------
    int
        The number of rows written after the header.
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    count = -1
    for row in rows:
        writer.writerow(["" if v is None else neutralize(v) for v in row])
        count += 1
    return max(count, 0)


def _xml_safe(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def _plain(value: object) -> object:
    """A value openpyxl can store: blanks to ``None``, numpy/pandas scalars to Python ones, and
    anything that is not a number, boolean or date to its text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | bool | int | float | date | time | timedelta):
        return value
    return str(value)


def _cell(sheet: Any, value: object, number_format: str | None = None, bold: bool = False) -> Any:
    """A write-only cell holding ``value``; text is neutralised and stored as a string."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    value = _plain(value)
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet)
        cell._value = _xml_safe(str(neutralize(value)))  # set directly: never read as a formula
        cell.data_type = "s"
    else:
        cell = WriteOnlyCell(sheet, value=value)
        if number_format and isinstance(value, int | float) and not isinstance(value, bool):
            cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _display_width(value: object) -> int:
    if value is None:
        return 0
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def _column_widths(header: Sequence[object], rows: Sequence[Sequence[object]]) -> list[float]:
    widths = [_display_width(h) for h in header]
    for row in rows[:_WIDTH_SAMPLE]:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _display_width(value))
    return [min(max(w + 2, _MIN_WIDTH), _MAX_WIDTH) for w in widths]


def _add_sheet(
    workbook: Any,
    title: str,
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    widths: Sequence[float],
    number_formats: Mapping[str, str] | None,
) -> int:
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    formats = [(number_formats or {}).get(str(h)) for h in header]
    sheet.append([_cell(sheet, h, bold=True) for h in header])
    count = 0
    for row in rows:
        sheet.append([_cell(sheet, v, f) for v, f in zip(row, formats, strict=False)])
        count += 1
    return count


def write_xlsx(
    sheets: Mapping[str, pd.DataFrame],
    target: str | Path | IO[bytes],
    *,
    notes: Mapping[str, str] | None = None,
    number_formats: Mapping[str, str] | None = None,
) -> None:
    """Write tables to an XLSX workbook, one sheet per table.

    Each sheet has a bold header row that stays in view (frozen), column widths fitted to the
    content (between 6 and 60 characters), and number formats by column name. Every text cell
    is neutralised (:func:`neutralize`) and stored as a string, never as a formula.

    Parameters
    ----------
    sheets : mapping of str to pandas.DataFrame
        Sheet name (at most 31 characters, as Excel requires) to table (no index written).
    target : str, Path or binary stream
        Where to save the workbook.
    notes : mapping of str to str, optional
        When given, a last sheet ``Notes`` with one ``key``/``value`` row per entry (for
        example the command, the design and the date of a result table).
    number_formats : mapping of str to str, optional
        Excel number format per column name, e.g. ``{"estimate": "0.0", "se": "0.00"}``;
        applied to the numeric cells of every sheet's column of that name.

    Raises
    ------
    ValueError
        No sheet, or a sheet name Excel does not accept.
    """
    from openpyxl import Workbook

    if not sheets:
        raise ValueError("write_xlsx needs at least one sheet")
    workbook = Workbook(write_only=True)
    for name, frame in sheets.items():
        rows = list(frame.itertuples(index=False, name=None))
        header = [str(c) for c in frame.columns]
        _add_sheet(
            workbook,
            name,
            header,
            rows,
            widths=_column_widths(header, rows),
            number_formats=number_formats,
        )
    if notes:
        items = [(str(k), str(v)) for k, v in notes.items()]
        _add_sheet(
            workbook,
            "Notes",
            ["key", "value"],
            items,
            widths=_column_widths(["key", "value"], items),
            number_formats=None,
        )
    workbook.save(target)


def write_xlsx_rows(
    rows: Iterable[Sequence[object]],
    target: str | Path | IO[bytes],
    *,
    sheet: str = "Sheet1",
    number_formats: Mapping[str, str] | None = None,
) -> int:
    """Stream rows (the first one the header) to a one-sheet XLSX workbook, safely.

    The streaming form of :func:`write_xlsx` for tables too large to hold as a DataFrame
    (openpyxl's write-only mode): the same neutralised string cells, bold frozen header and
    number formats; column widths are fitted to the header only.

    Returns
    -------
    int
        The number of rows written after the header.
    """
    from openpyxl import Workbook

    iterator = iter(rows)
    header = list(next(iterator, []))
    workbook = Workbook(write_only=True)
    count = _add_sheet(
        workbook,
        sheet,
        header,
        iterator,
        widths=_column_widths(header, []),
        number_formats=number_formats,
    )
    workbook.save(target)
    return count
