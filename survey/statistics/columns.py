"""The response columns the database provides to the count table, as SQL expressions.

The names are those of the wide export (``docs/architecture.md``, "The wide export"), so a
:class:`analysis.Design` or a ``by=`` list means the same on both paths, plus ``period``: the
calendar period of ``submitted_at`` (UTC) at one granularity, spelled as
:func:`analysis.frames.period_of` spells it (``2024``, ``2024-H2``, ``2024-Q3``, ``2024-07``).
Blank codes (a response without counter, field or procedure) are ``""``, as in the CSV export.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from sqlalchemy import Integer, String, case, cast, extract, func, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Table
from sqlalchemy.sql.selectable import FromClause

from survey.models import Agency, Counter, Field, Procedure, Response
from survey.statistics.errors import UnknownColumnError

__all__ = [
    "COLUMNS",
    "PERIODS",
    "Period",
    "check_columns",
    "column_expressions",
    "period_expression",
]

Period = Literal["month", "quarter", "half", "year"]
PERIODS: tuple[str, ...] = get_args(Period)
COLUMNS: tuple[str, ...] = (
    "agency_code",
    "counter_code",
    "field_code",
    "procedure_code",
    "channel",
    "form_version",
    "period",
)
"""Column names a design, a ``by=`` grouping or a weighting cell may use."""

_RESPONSES = Response.__table__
_AGENCIES = Agency.__table__
_OPTIONAL_UNITS = {
    "counter_code": (Counter.__table__, "counter_id"),
    "field_code": (Field.__table__, "field_id"),
    "procedure_code": (Procedure.__table__, "procedure_id"),
}


def period_expression(
    submitted_at: ColumnElement, granularity: Period, dialect: str, *, date: bool = False
) -> ColumnElement[str]:
    """The period label of a UTC timestamp column, in SQLite or PostgreSQL.

    ``date``: the column is a calendar date already in UTC (the summary's ``month``).

    Raises
    ------
    UnknownColumnError
        For an unknown granularity or another database.
    """
    if granularity not in PERIODS:
        raise UnknownColumnError(f"unknown period {granularity!r}; use one of {list(PERIODS)}")
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
        year = func.strftime("%Y", submitted_at)
        month = cast(func.strftime("%m", submitted_at), Integer)
        if granularity == "month":
            return func.strftime("%Y-%m", submitted_at)
    elif dialect == "postgresql":
        utc = submitted_at if date else func.timezone("UTC", submitted_at)
        year = func.to_char(utc, "YYYY")
        month = cast(extract("month", utc), Integer)
        if granularity == "month":
            return func.to_char(utc, "YYYY-MM")
    else:
        raise UnknownColumnError(f"period columns need SQLite or PostgreSQL, not {dialect!r}")
    if granularity == "year":
        return year
    if granularity == "quarter":
        return year + literal("-Q") + cast((month + 2) // 3, String)
    return year + literal("-H") + case((month <= 6, literal("1")), else_=literal("2"))


def check_columns(names: Iterable[str], period: str | None) -> list[str]:
    """``names`` without repeats, after checking that the database provides each of them.

    Raises
    ------
    UnknownColumnError
        A name outside :data:`COLUMNS`, ``period`` without a granularity, or an unknown
        granularity.
    """
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise UnknownColumnError(
            f"the database cannot provide column(s) {unknown}; use {list(COLUMNS)}"
        )
    if period is not None and period not in PERIODS:
        raise UnknownColumnError(f"unknown period {period!r}; use one of {list(PERIODS)}")
    if "period" in names and period is None:
        raise UnknownColumnError(
            "the column 'period' needs a granularity: period='month', 'quarter', 'half' or 'year'"
        )
    return names


def column_expressions(
    names: Iterable[str], *, period: Period | None, dialect: str, table: Table = _RESPONSES
) -> tuple[FromClause, dict[str, ColumnElement]]:
    """``table`` joined to the unit tables that ``names`` need, and one text expression per
    name.

    ``table`` is ``responses`` or a summary table of :mod:`survey.statistics.summary` (same
    unit id columns, ``0`` for none; a ``month`` date instead of ``submitted_at``).

    Raises
    ------
    UnknownColumnError
        A name outside :data:`COLUMNS`, or ``period`` without a granularity.
    """
    names = check_columns(names, period)
    source: FromClause = table
    exprs: dict[str, ColumnElement] = {}
    for name in names:
        if name == "agency_code":
            source = source.join(_AGENCIES, table.c.agency_id == _AGENCIES.c.id)
            exprs[name] = _AGENCIES.c.code
        elif name in _OPTIONAL_UNITS:
            units, key = _OPTIONAL_UNITS[name]
            source = source.outerjoin(units, table.c[key] == units.c.id)
            exprs[name] = func.coalesce(units.c.code, literal(""))
        elif name == "channel":
            exprs[name] = table.c.channel
        elif name == "form_version":
            exprs[name] = cast(table.c.form_version, String)
        else:
            assert period is not None  # checked
            if "month" in table.c:
                exprs[name] = period_expression(table.c.month, period, dialect, date=True)
            else:
                exprs[name] = period_expression(table.c.submitted_at, period, dialect)
    return source, exprs
