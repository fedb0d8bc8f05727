"""Unit codes to row ids on the write path, cached per application.

A submission names units by code (counter, agency, field, procedure). The lookups here are cached
by code for :data:`UNIT_CACHE_SECONDS` (units change rarely; an import calls
:func:`clear_caches`), so a steady stream of submissions sends no lookup query at all. Misses are
never cached: an unknown code is looked up again next time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select

from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure
from survey.repository.errors import UnknownAgency, UnknownCounter, UnknownField, UnknownProcedure
from survey.submissions import Submission

if TYPE_CHECKING:  # questionnaires imports this module
    from survey.repository.questionnaires import FormLayout

__all__ = ["UNIT_CACHE_SECONDS", "ResolvedUnits", "clear_caches", "resolve_units", "unit_cache"]

# Unit lookups on the write path are cached per application for this many seconds (units change
# rarely; an import or edit is visible everywhere after at most this delay).
UNIT_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _CounterRef:
    id: int
    agency_id: int
    agency_code: str
    field_id: int | None
    field_code: str | None


@dataclass(frozen=True, slots=True)
class _ProcedureRef:
    id: int
    field_id: int | None
    field_code: str | None


@dataclass
class UnitCache:
    """Positive lookups by code (misses are never cached), reset every UNIT_CACHE_SECONDS."""

    loaded_at: float = field(default_factory=time.monotonic)
    counters: dict[str, _CounterRef] = field(default_factory=dict)
    agencies: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    procedures: dict[str, _ProcedureRef] = field(default_factory=dict)
    form_versions: dict[tuple[str, int, str], FormLayout] = field(default_factory=dict)


_CACHE_KEY = "sipas.unit_cache"


def unit_cache() -> UnitCache:
    """The current application's cache (a fresh one after UNIT_CACHE_SECONDS)."""
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None or time.monotonic() - cache.loaded_at > UNIT_CACHE_SECONDS:
        cache = current_app.extensions[_CACHE_KEY] = UnitCache()
    return cache


def clear_caches() -> None:
    """Forget cached unit lookups (after an import, or between tests)."""
    current_app.extensions.pop(_CACHE_KEY, None)


def _counter_ref(code: str) -> _CounterRef:
    cache = unit_cache()
    if code not in cache.counters:
        row = db.session.execute(
            select(Counter.id, Counter.agency_id, Agency.code, Counter.field_id, Field.code)
            .join(Agency, Counter.agency_id == Agency.id)
            .outerjoin(Field, Counter.field_id == Field.id)
            .where(Counter.code == code, Counter.active.is_(True))
        ).first()
        if row is None:
            raise UnknownCounter(f"no active counter {code!r}")
        cache.counters[code] = _CounterRef(*row)
    return cache.counters[code]


def _agency_id(code: str) -> int:
    cache = unit_cache()
    if code not in cache.agencies:
        row_id = db.session.scalar(select(Agency.id).where(Agency.code == code))
        if row_id is None:
            raise UnknownAgency(f"no agency {code!r}")
        cache.agencies[code] = row_id
    return cache.agencies[code]


def _field_id(code: str) -> int:
    cache = unit_cache()
    if code not in cache.fields:
        row_id = db.session.scalar(select(Field.id).where(Field.code == code))
        if row_id is None:
            raise UnknownField(f"no procedure field {code!r}")
        cache.fields[code] = row_id
    return cache.fields[code]


def _procedure_ref(code: str) -> _ProcedureRef:
    cache = unit_cache()
    if code not in cache.procedures:
        row = db.session.execute(
            select(Procedure.id, Procedure.field_id, Field.code)
            .outerjoin(Field, Procedure.field_id == Field.id)
            .where(Procedure.code == code)
        ).first()
        if row is None:
            raise UnknownProcedure(f"no procedure {code!r}")
        cache.procedures[code] = _ProcedureRef(*row)
    return cache.procedures[code]


@dataclass(frozen=True, slots=True)
class ResolvedUnits:
    """The row ids (and codes) a submission is attributed to."""

    agency_id: int
    agency_code: str
    counter_id: int | None
    field_id: int | None
    field_code: str | None
    procedure_id: int | None


def resolve_units(submission: Submission) -> ResolvedUnits:
    """Codes to ids: a counter implies its agency; the field defaults to the procedure's field,
    then to the counter's default field.

    Raises
    ------
    UnknownCounter, UnknownAgency, UnknownField, UnknownProcedure
        A code names no (active) unit, or the counter belongs to another agency.
    """
    counter = _counter_ref(submission.counter_code) if submission.counter_code else None
    agency_code = submission.agency_code or (counter.agency_code if counter else None)
    if agency_code is None:
        raise UnknownAgency("the submission names no counter, agency or dossier token")
    if counter is not None and counter.agency_code != agency_code:
        raise UnknownCounter(
            f"counter {submission.counter_code!r} does not belong to agency {agency_code!r}"
        )
    agency_id = counter.agency_id if counter else _agency_id(agency_code)
    procedure = _procedure_ref(submission.procedure_code) if submission.procedure_code else None
    field_code = submission.field_code
    if field_code is None and procedure is not None:
        field_code = procedure.field_code
    if field_code is None and counter is not None:
        field_code = counter.field_code
    field_id = _field_id(field_code) if field_code else None
    return ResolvedUnits(
        agency_id=agency_id,
        agency_code=agency_code,
        counter_id=counter.id if counter else None,
        field_id=field_id,
        field_code=field_code,
        procedure_id=procedure.id if procedure else None,
    )
