"""Import units from CSV or XLSX: agencies, procedure fields, counters, procedures, lineage.

The first row names the columns (any order). Rows are numbered as in a spreadsheet: the header is
row 1. A file is checked completely before anything is written; with any error nothing is
written and :class:`ImportFailed` lists every error, e.g.
``row 7, column parent_code: unknown agency 'X'``. Existing codes are updated, new ones created.

CSV files are read as UTF-8 (a byte-order mark, as Excel writes it, is tolerated); XLSX files are
read from their first sheet. Every error has a stable ``code`` and the values its message names
(``params``): :attr:`RowError.message` is the English text (the command line prints it), the
admin pages translate the code.

Agencies may carry their validity period (``valid_from``, ``valid_until``: ``2025-07-01`` or
``01/07/2025``; blank = open). The ``lineage`` file says which unit succeeded which
(:mod:`analysis.lineage`): one row per predecessor and successor, keyed by the pair, so a file
imported again changes nothing; a row whose date, kind or note changed is replaced.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from numbers import Integral
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from analysis.lineage import MESSAGES as LINEAGE_MESSAGES
from analysis.lineage import lineage_problems
from survey import repository
from survey.extensions import db
from survey.models import (
    AGENCY_LEVELS,
    LINEAGE_KINDS,
    Agency,
    AgencyLineage,
    Counter,
    Field,
    Procedure,
)

__all__ = [
    "COLUMNS",
    "MESSAGES",
    "RowError",
    "ImportFailed",
    "ImportSummary",
    "import_file",
    "read_rows",
]

# kind -> (required columns, optional columns)
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "units": (
        ("code", "name_vi", "level"),
        ("name_en", "parent_code", "valid_from", "valid_until"),
    ),
    "fields": (("code", "name_vi"), ("name_en",)),
    "counters": (("code", "agency_code", "name_vi"), ("name_en", "field_code", "active")),
    "procedures": (("code", "name_vi"), ("name_en", "field_code")),
    "lineage": (("predecessor_code", "successor_code", "effective_on"), ("kind", "note")),
}
_MAX_LENGTH = {"code": 64, "name_vi": 255, "name_en": 255, "note": 1000}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: 00:00:00)?$")
_VN_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_TRUE = {"1", "true", "yes", "y", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "không", "khong"}

# code -> English message (``%(name)s`` placeholders are filled from RowError.params).
MESSAGES: dict[str, str] = {
    "unsupported_type": "unsupported file type %(suffix)s",
    "empty_file": "the file is empty (no header row)",
    "not_utf8": "the file is not UTF-8 text (%(reason)s); save it as UTF-8",
    "unreadable_csv": "cannot read the CSV file: %(reason)s",
    "unreadable_workbook": "cannot read the workbook: %(reason)s",
    "missing_column": "required column is missing",
    "unknown_column": "unknown column (expected: %(expected)s)",
    "repeated_column": "column appears twice",
    "value_required": "a value is required",
    "too_long": "longer than %(limit)s characters",
    "control_character": "contains a control character (such as NUL); remove it",
    "repeated_code": "code %(code)s already appears on row %(first_row)s",
    "unknown_level": "unknown level %(level)s (expected one of %(expected)s)",
    "unknown_agency": "unknown agency %(code)s",
    "unknown_field": "unknown field %(code)s",
    "own_ancestor": "agency %(code)s would be its own ancestor",
    "bad_active": "expected 1 or 0, got %(value)s",
    "bad_date": "%(value)s is not a date (use 2025-07-01 or 01/07/2025)",
    "bad_validity": "valid_from %(valid_from)s is after valid_until %(valid_until)s",
    "repeated_pair": "%(predecessor)s → %(successor)s already appears on row %(first_row)s",
    # lineage (analysis.lineage)
    **{f"lineage_{code}": text for code, text in LINEAGE_MESSAGES.items()},
    # dossier-volume frames (survey.volumes)
    "period_missing": "the file has no period column: add one, or give the period with the upload",
    "bad_period": "%(value)s is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-07)",
    "frame_problem": "%(problem)s",
}


@dataclass(frozen=True)
class RowError:
    """One problem in an import file (``row`` 1 is the header; 0 is the file as a whole).

    ``code`` is a key of :data:`MESSAGES`; ``params`` fills its placeholders.
    """

    row: int
    column: str | None
    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The English message."""
        return MESSAGES[self.code] % dict(self.params)

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return (
            f"{where}, column {self.column}: {self.message}"
            if self.column
            else (f"{where}: {self.message}")
        )


class ImportFailed(ValueError):
    """The file has errors; nothing was written. ``errors`` lists them all."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class ImportSummary:
    """How many rows were created and updated."""

    created: int
    updated: int


Row = tuple[int, dict[str, str]]


def read_rows(path: Path) -> tuple[list[str], list[Row]]:
    """Read the header and the non-blank rows (with their spreadsheet row numbers)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = list(_csv_rows(path))
    elif suffix in (".xlsx", ".xlsm"):
        raw = list(_xlsx_rows(path))
    else:
        raise ImportFailed([RowError(0, None, "unsupported_type", {"suffix": repr(suffix)})])
    if not raw:
        raise ImportFailed([RowError(0, None, "empty_file")])
    header = [cell.strip().lower() for cell in raw[0]]
    rows = []
    for number, cells in enumerate(raw[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "")
            for i, name in enumerate(header)
            if name
        }
        rows.append((number, values))
    return header, rows


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            yield from reader
        except UnicodeDecodeError as exc:
            raise ImportFailed([RowError(0, None, "not_utf8", {"reason": exc.reason})]) from None
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
            row = reader.line_num
            raise ImportFailed(
                [RowError(row, None, "unreadable_csv", {"reason": str(exc)})]
            ) from None


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFailed(
            [RowError(0, None, "unreadable_workbook", {"reason": str(exc)})]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_header(kind: str, header: list[str]) -> list[RowError]:
    required, optional = COLUMNS[kind]
    errors = [RowError(1, name, "missing_column") for name in required if name not in header]
    known = set(required) | set(optional)
    expected = {"expected": ", ".join((*required, *optional))}
    errors += [
        RowError(1, name[: _MAX_LENGTH["code"]], "unknown_column", expected)
        for name in header
        if name and name not in known
    ]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            errors.append(RowError(1, name, "repeated_column"))
        seen.add(name)
    return errors


def _check_cells(kind: str, rows: list[Row]) -> list[RowError]:
    """Required values present, no control characters, lengths, codes unique within the file."""
    required, optional = COLUMNS[kind]
    errors = []
    first_row: dict[str, int] = {}
    for number, values in rows:
        for name in required:
            if not values.get(name):
                errors.append(RowError(number, name, "value_required"))
        for name in (*required, *optional):
            if any(ord(ch) < 32 for ch in values.get(name, "")):
                errors.append(RowError(number, name, "control_character"))
        for name, limit in _MAX_LENGTH.items():
            if len(values.get(name, "")) > limit:
                errors.append(RowError(number, name, "too_long", {"limit": str(limit)}))
        code = values.get("code", "")
        if code and code in first_row:
            errors.append(
                RowError(
                    number,
                    "code",
                    "repeated_code",
                    {"code": repr(code), "first_row": str(first_row[code])},
                )
            )
        first_row.setdefault(code, number)
    return errors


def _existing(model: type[Any]) -> dict[str, Any]:
    return {obj.code: obj for obj in db.session.scalars(select(model))}


def import_file(kind: str, path: Path) -> ImportSummary:
    """Import ``path`` as ``kind`` (``units``, ``fields``, ``counters``, ``procedures``,
    ``lineage``).

    Needs an application context. Raises :class:`ImportFailed` (nothing written) on any error.
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown import kind {kind!r}; choose one of {', '.join(COLUMNS)}")
    header, rows = read_rows(Path(path))
    errors = _check_header(kind, header)
    if errors:
        raise ImportFailed(errors)
    errors = _check_cells(kind, rows)
    builder = {
        "units": _import_units,
        "fields": _import_fields,
        "counters": _import_counters,
        "procedures": _import_procedures,
        "lineage": _import_lineage,
    }[kind]
    try:
        summary = builder(rows, errors)
        if errors:
            raise ImportFailed(sorted(errors, key=lambda e: (e.row, e.column or "")))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    repository.clear_caches()
    return summary


def _upsert(model: type[Any], existing: dict[str, Any], code: str, values: dict[str, Any]) -> bool:
    """Update the row with this code or add a new one; True when created."""
    obj = existing.get(code)
    created = obj is None
    if created:
        obj = model(code=code)
        db.session.add(obj)
        existing[code] = obj
    for name, value in values.items():
        setattr(obj, name, value)
    return created


def _import_fields(rows: list[Row], errors: list[RowError]) -> ImportSummary:
    existing = _existing(Field)
    created = 0
    for _number, v in rows:
        created += _upsert(
            Field, existing, v["code"], {"name_vi": v["name_vi"], "name_en": v.get("name_en", "")}
        )
    return ImportSummary(created, len(rows) - created)


def _import_units(rows: list[Row], errors: list[RowError]) -> ImportSummary:
    existing = _existing(Agency)
    in_file = {v["code"] for _, v in rows}
    parents: dict[str, str] = {
        code: agency.parent.code for code, agency in existing.items() if agency.parent
    }
    for number, v in rows:
        if v["level"] and v["level"] not in AGENCY_LEVELS:
            errors.append(
                RowError(
                    number,
                    "level",
                    "unknown_level",
                    {"level": repr(v["level"]), "expected": ", ".join(AGENCY_LEVELS)},
                )
            )
        parent = v.get("parent_code", "")
        if parent and parent not in in_file and parent not in existing:
            errors.append(RowError(number, "parent_code", "unknown_agency", {"code": repr(parent)}))
        if parent:
            parents[v["code"]] = parent
        else:
            parents.pop(v["code"], None)
    for number, v in rows:
        if _has_cycle(v["code"], parents):
            errors.append(
                RowError(number, "parent_code", "own_ancestor", {"code": repr(v["code"])})
            )
    validity = {v["code"]: _validity(number, v, errors) for number, v in rows}
    if errors:
        return ImportSummary(0, 0)
    created = 0
    for _, v in rows:
        values: dict[str, Any] = {
            "name_vi": v["name_vi"],
            "name_en": v.get("name_en", ""),
            "level": v["level"],
        }
        values |= validity[v["code"]]
        created += _upsert(Agency, existing, v["code"], values)
    for _, v in rows:
        parent = v.get("parent_code", "")
        existing[v["code"]].parent = existing[parent] if parent else None
    return ImportSummary(created, len(rows) - created)


def parse_date(text: str) -> date | None:
    """``2025-07-01`` or ``01/07/2025`` (as officials write it) as a date; None if neither."""
    iso, vietnamese = _ISO_DATE.match(text), _VN_DATE.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if vietnamese:
            return date(int(vietnamese[3]), int(vietnamese[2]), int(vietnamese[1]))
    except ValueError:  # 2025-02-30
        return None
    return None


def _date_cell(number: int, v: dict[str, str], column: str, errors: list[RowError]) -> Any:
    """The date in ``column`` (None when blank; an error when not a date)."""
    text = v.get(column, "")
    if not text:
        return None
    found = parse_date(text)
    if found is None:
        errors.append(RowError(number, column, "bad_date", {"value": repr(text)}))
    return found


def _validity(number: int, v: dict[str, str], errors: list[RowError]) -> dict[str, Any]:
    """The validity columns present in the file, as values to set."""
    out = {c: _date_cell(number, v, c, errors) for c in ("valid_from", "valid_until") if c in v}
    start, end = out.get("valid_from"), out.get("valid_until")
    if start is not None and end is not None and start > end:
        params = {"valid_from": start.isoformat(), "valid_until": end.isoformat()}
        errors.append(RowError(number, "valid_until", "bad_validity", params))
    return out


def _has_cycle(code: str, parents: dict[str, str]) -> bool:
    seen = {code}
    current = parents.get(code)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _lookup(
    existing: dict[str, Any],
    number: int,
    column: str,
    code: str,
    what: str,
    errors: list[RowError],
) -> Any:
    if not code:
        return None
    found = existing.get(code)
    if found is None:
        errors.append(RowError(number, column, f"unknown_{what}", {"code": repr(code)}))
    return found


def _import_counters(rows: list[Row], errors: list[RowError]) -> ImportSummary:
    agencies, fields, existing = _existing(Agency), _existing(Field), _existing(Counter)
    planned = []
    for number, v in rows:
        agency = _lookup(agencies, number, "agency_code", v["agency_code"], "agency", errors)
        field = _lookup(fields, number, "field_code", v.get("field_code", ""), "field", errors)
        active_text = v.get("active", "").lower()
        if active_text and active_text not in _TRUE | _FALSE:
            errors.append(RowError(number, "active", "bad_active", {"value": repr(v["active"])}))
        active = active_text not in _FALSE
        planned.append((v, agency, field, active))
    if errors:
        return ImportSummary(0, 0)
    created = 0
    for v, agency, field, active in planned:
        created += _upsert(
            Counter,
            existing,
            v["code"],
            {
                "agency": agency,
                "name_vi": v["name_vi"],
                "name_en": v.get("name_en", ""),
                "field": field,
                "active": active,
            },
        )
    return ImportSummary(created, len(rows) - created)


def _import_procedures(rows: list[Row], errors: list[RowError]) -> ImportSummary:
    fields, existing = _existing(Field), _existing(Procedure)
    planned = []
    for number, v in rows:
        field = _lookup(fields, number, "field_code", v.get("field_code", ""), "field", errors)
        planned.append((v, field))
    if errors:
        return ImportSummary(0, 0)
    created = 0
    for v, field in planned:
        created += _upsert(
            Procedure,
            existing,
            v["code"],
            {"name_vi": v["name_vi"], "name_en": v.get("name_en", ""), "field": field},
        )
    return ImportSummary(created, len(rows) - created)


def _import_lineage(rows: list[Row], errors: list[RowError]) -> ImportSummary:
    """Predecessor → successor rows, checked together with the stored ones: no unit succeeds
    itself, no cycle, one date and kind per predecessor
    (:func:`analysis.lineage.lineage_problems`)."""
    agencies = _existing(Agency)
    planned: dict[tuple[str, str], tuple[int, date, str, str]] = {}
    first_row: dict[tuple[str, str], int] = {}
    for number, v in rows:
        for column in ("predecessor_code", "successor_code"):
            _lookup(agencies, number, column, v[column], "agency", errors)
        effective = _date_cell(number, v, "effective_on", errors)
        kind = v.get("kind", "").lower() or "merge"
        if kind not in LINEAGE_KINDS:
            params = {"kind": repr(v["kind"]), "expected": ", ".join(LINEAGE_KINDS)}
            errors.append(RowError(number, "kind", "lineage_unknown_kind", params))
        pair = (v["predecessor_code"], v["successor_code"])
        if pair in first_row:
            params = {
                "predecessor": pair[0],
                "successor": pair[1],
                "first_row": str(first_row[pair]),
            }
            errors.append(RowError(number, "successor_code", "repeated_pair", params))
        first_row.setdefault(pair, number)
        if effective is not None:
            planned[pair] = (number, effective, kind, v.get("note", ""))
    if errors:
        return ImportSummary(0, 0)
    stored = {
        (r.predecessor.code, r.successor.code): r for r in db.session.scalars(select(AgencyLineage))
    }
    table = [
        (f"stored:{p}→{s}", p, s, r.effective_on, r.kind)
        for (p, s), r in stored.items()
        if (p, s) not in planned
    ]
    table += [(number, p, s, day, kind) for (p, s), (number, day, kind, _n) in planned.items()]
    frame = pd.DataFrame(
        [t[1:] for t in table],
        index=[t[0] for t in table],
        columns=["predecessor_code", "successor_code", "effective_on", "kind"],
    )
    for problem in lineage_problems(frame):
        row = int(problem.row) if isinstance(problem.row, Integral) else 0
        column = "successor_code" if row else None
        errors.append(RowError(row, column, f"lineage_{problem.code}", dict(problem.params)))
    if errors:
        return ImportSummary(0, 0)
    created = 0
    for (p, s), (_number, day, kind, note) in planned.items():
        old = stored.get((p, s))
        if old is not None and (old.effective_on, old.kind, old.note) == (day, kind, note):
            continue
        if old is not None:  # replaced, not edited: the new id tells the report cache
            db.session.delete(old)
            db.session.flush()
        else:
            created += 1
        db.session.add(
            AgencyLineage(
                predecessor=agencies[p],
                successor=agencies[s],
                effective_on=day,
                kind=kind,
                note=note,
            )
        )
    return ImportSummary(created, len(planned) - created)
