"""Dossier-volume frames in the database (``dossier_volumes``): store, read, and coverage.

A frame gives, per period × agency × procedure field, the number of dossiers handled
(:mod:`analysis.frames` validates the table). :func:`replace_volumes` stores a validated frame,
replacing every stored cell of the periods it contains; :func:`volumes` reads the frames of some
periods back in the frame's own columns, which is what the reports' weighting takes;
:func:`coverage` sets the responses of a period against its dossiers, per unit and field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import delete, func, insert, select

from survey.extensions import db
from survey.models import Agency, DossierVolume, Field, Response

__all__ = [
    "FRAME_COLUMNS",
    "CoverageCell",
    "CoverageUnit",
    "FrameSummary",
    "UnknownFrameCodes",
    "coverage",
    "list_frames",
    "period_bounds",
    "replace_volumes",
    "volumes",
]

FRAME_COLUMNS = ("agency_code", "field_code", "period", "dossiers")

_PERIOD = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$")


class UnknownFrameCodes(ValueError):
    """Codes of a frame that name no agency or field; nothing was stored.

    ``problems`` lists ``(position, column, code)``: the row's position in the frame (0-based),
    ``agency_code`` or ``field_code``, and the unknown code.
    """

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} unknown code(s) in the frame")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC interval ``[start, end)`` of a period label (``2026``, ``2026-H1``, ``2026-Q3``,
    ``2026-07``).

    Raises
    ------
    ValueError
        The label is not spelled as :data:`analysis.frames.PERIOD_FORMATS`.
    """
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"{period!r} is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-07)")
    year, part = int(match.group(1)), match.group(2)
    if part is None:
        first, months = 1, 12
    elif part[0] == "H":
        first, months = 1 + 6 * (int(part[1]) - 1), 6
    elif part[0] == "Q":
        first, months = 1 + 3 * (int(part[1]) - 1), 3
    else:
        first, months = int(part), 1
    start = datetime(year, first, 1, tzinfo=UTC)
    end_month = first + months
    end = datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=UTC)
    return start, end


def replace_volumes(frame: pd.DataFrame) -> int:
    """Store a validated frame, replacing every stored cell of the periods it contains.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``agency_code, field_code, period, dossiers`` (as returned by
        :func:`analysis.frames.validate_frame` on a table with a ``period`` column): one row per
        cell, whole non-negative dossier counts.

    Returns
    -------
    int
        The number of cells stored.

    Raises
    ------
    UnknownFrameCodes
        Some agency or field codes are not in the catalogue (nothing is written).
    ValueError
        A column is missing.
    """
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks the column(s) {', '.join(missing)}")
    agencies: dict[str, int] = {
        code: id_ for code, id_ in db.session.execute(select(Agency.code, Agency.id))
    }
    fields: dict[str, int] = {
        code: id_ for code, id_ in db.session.execute(select(Field.code, Field.id))
    }
    problems: list[tuple[int, str, str]] = []
    rows = []
    for position, (agency_code, field_code, period, dossiers) in enumerate(
        frame[list(FRAME_COLUMNS)].itertuples(index=False, name=None)
    ):
        agency_id, field_id = agencies.get(str(agency_code)), fields.get(str(field_code))
        if agency_id is None:
            problems.append((position, "agency_code", str(agency_code)))
        if field_id is None:
            problems.append((position, "field_code", str(field_code)))
        rows.append(
            {
                "period": str(period),
                "agency_id": agency_id,
                "field_id": field_id,
                "dossiers": int(dossiers),
            }
        )
    if problems:
        raise UnknownFrameCodes(problems)
    periods = sorted({row["period"] for row in rows})
    now = datetime.now(UTC)
    try:
        db.session.execute(delete(DossierVolume).where(DossierVolume.period.in_(periods)))
        if rows:
            db.session.execute(insert(DossierVolume), [{**r, "uploaded_at": now} for r in rows])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(rows)


def volumes(periods: Sequence[str]) -> pd.DataFrame:
    """The stored frames of ``periods``: columns ``agency_code, field_code, period, dossiers``.

    One row per stored cell, ordered by period, agency code and field code; ``dossiers`` is
    int64. Periods without a frame contribute no rows.
    """
    query = (
        select(Agency.code, Field.code, DossierVolume.period, DossierVolume.dossiers)
        .join(Agency, DossierVolume.agency_id == Agency.id)
        .join(Field, DossierVolume.field_id == Field.id)
        .where(DossierVolume.period.in_(list(periods)))
        .order_by(DossierVolume.period, Agency.code, Field.code)
    )
    table = pd.DataFrame(db.session.execute(query).all(), columns=list(FRAME_COLUMNS))
    return table.astype(
        {"agency_code": object, "field_code": object, "period": object, "dossiers": "int64"}
    )


@dataclass(frozen=True, slots=True)
class FrameSummary:
    """One stored frame: its period, number of cells and agencies, dossiers, upload time."""

    period: str
    cells: int
    agencies: int
    dossiers: int
    uploaded_at: datetime


def list_frames() -> list[FrameSummary]:
    """The stored frames, newest period label first."""
    query = (
        select(
            DossierVolume.period,
            func.count(),
            func.count(func.distinct(DossierVolume.agency_id)),
            func.sum(DossierVolume.dossiers),
            func.max(DossierVolume.uploaded_at),
        )
        .group_by(DossierVolume.period)
        .order_by(DossierVolume.period.desc())
    )
    return [
        FrameSummary(period, cells, agencies, int(dossiers or 0), _as_utc(uploaded))
        for period, cells, agencies, dossiers, uploaded in db.session.execute(query)
    ]


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rate(responses: int, dossiers: int | None) -> float | None:
    return responses / dossiers if dossiers else None


@dataclass(frozen=True, slots=True)
class CoverageCell:
    """Responses against dossiers for one unit and field (``field_code`` None: no field)."""

    field_code: str | None
    field_name: str
    dossiers: int | None
    responses: int

    @property
    def rate(self) -> float | None:
        """Responses per dossier, or None without dossiers."""
        return _rate(self.responses, self.dossiers)


@dataclass(frozen=True, slots=True)
class CoverageUnit:
    """A unit's responses against its dossiers in a period, in total and per field."""

    agency_code: str
    agency_name: str
    cells: list[CoverageCell] = field(default_factory=list)

    @property
    def dossiers(self) -> int:
        """Dossiers of every field of the unit in the frame."""
        return sum(c.dossiers or 0 for c in self.cells)

    @property
    def responses(self) -> int:
        """Responses of the unit in the period (every field, and none)."""
        return sum(c.responses for c in self.cells)

    @property
    def rate(self) -> float | None:
        """All responses per dossier, or None without dossiers."""
        return _rate(self.responses, self.dossiers)


def coverage(period: str) -> list[CoverageUnit]:
    """Responses of ``period`` against its frame, per unit (agency code order) and field.

    Every cell of the frame appears (with 0 responses when none came), and every unit × field
    with responses (with ``dossiers`` None when the frame has no such cell). Responses are
    counted by ``submitted_at`` in the period's UTC interval, flagged ones included.

    Raises
    ------
    ValueError
        ``period`` is not a period label.
    """
    start, end = period_bounds(period)
    counted: dict[tuple[int, int | None], int] = {
        (agency_id, field_id): n
        for agency_id, field_id, n in db.session.execute(
            select(Response.agency_id, Response.field_id, func.count())
            .where(Response.submitted_at >= start, Response.submitted_at < end)
            .group_by(Response.agency_id, Response.field_id)
        )
    }
    framed: dict[tuple[int, int | None], int] = {
        (agency_id, field_id): dossiers
        for agency_id, field_id, dossiers in db.session.execute(
            select(DossierVolume.agency_id, DossierVolume.field_id, DossierVolume.dossiers).where(
                DossierVolume.period == period
            )
        )
    }
    agencies = {a.id: a for a in db.session.scalars(select(Agency))}
    fields = {f.id: f for f in db.session.scalars(select(Field))}
    units: dict[int, CoverageUnit] = {}
    for agency_id, field_id in framed.keys() | counted.keys():
        agency = agencies[agency_id]
        unit = units.setdefault(agency_id, CoverageUnit(agency.code, agency.name_vi))
        field_row = fields.get(field_id) if field_id is not None else None
        unit.cells.append(
            CoverageCell(
                field_row.code if field_row else None,
                field_row.name_vi if field_row else "",
                framed.get((agency_id, field_id)),
                counted.get((agency_id, field_id), 0),
            )
        )
    for unit in units.values():
        unit.cells.sort(key=lambda c: (c.field_code is None, c.field_code or ""))
    return sorted(units.values(), key=lambda u: u.agency_code)
