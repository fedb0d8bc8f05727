"""Unit lookups for pages, the API and the CLI (ORM objects, uncached: not on the write path)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import aliased, joinedload

from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure

__all__ = [
    "get_agency",
    "get_counter",
    "get_field",
    "get_procedure",
    "list_agencies",
    "list_counters",
    "list_fields",
    "list_procedures",
    "unit_names",
]


def get_counter(code: str) -> Counter | None:
    """The counter with this code (active or not), with its agency and field loaded."""
    return db.session.scalar(
        select(Counter)
        .options(joinedload(Counter.agency), joinedload(Counter.field))
        .where(Counter.code == code)
    )


def list_counters(*, agency_code: str | None = None, active_only: bool = False) -> list[Counter]:
    """Counters ordered by agency code then counter code, with agency and field loaded."""
    query = (
        select(Counter)
        .join(Counter.agency)
        .options(joinedload(Counter.agency), joinedload(Counter.field))
        .order_by(Agency.code, Counter.code)
    )
    if agency_code is not None:
        query = query.where(Agency.code == agency_code)
    if active_only:
        query = query.where(Counter.active.is_(True))
    return list(db.session.scalars(query))


def get_agency(code: str) -> Agency | None:
    """The agency with this code."""
    return db.session.scalar(
        select(Agency).options(joinedload(Agency.parent)).where(Agency.code == code)
    )


def list_agencies() -> list[Agency]:
    """All agencies ordered by code, with their parent loaded."""
    return list(
        db.session.scalars(select(Agency).options(joinedload(Agency.parent)).order_by(Agency.code))
    )


def list_fields() -> list[Field]:
    """All procedure fields ordered by code."""
    return list(db.session.scalars(select(Field).order_by(Field.code)))


def get_field(code: str) -> Field | None:
    """The procedure field with this code."""
    return db.session.scalar(select(Field).where(Field.code == code))


def get_procedure(code: str) -> Procedure | None:
    """The procedure with this code, with its field loaded."""
    return db.session.scalar(
        select(Procedure).options(joinedload(Procedure.field)).where(Procedure.code == code)
    )


def list_procedures(*, field_code: str | None = None) -> list[Procedure]:
    """Procedures ordered by code, optionally of one field."""
    query = select(Procedure).options(joinedload(Procedure.field)).order_by(Procedure.code)
    if field_code is not None:
        query = query.join(Procedure.field).where(Field.code == field_code)
    return list(db.session.scalars(query))


def unit_names() -> dict[str, dict[str, tuple[str, str | None]]]:
    """Every unit's Vietnamese name, by kind and code: ``{"agency": {code: (name_vi,
    parent_code)}, "counter": …, "field": …, "procedure": …}`` (parent ``None`` except for
    agencies below another one). Four plain queries, for exports and result tables."""
    parent = aliased(Agency)
    agencies = db.session.execute(
        select(Agency.code, Agency.name_vi, parent.code).outerjoin(
            parent, Agency.parent_id == parent.id
        )
    )
    names: dict[str, dict[str, tuple[str, str | None]]] = {
        "agency": {code: (name, parent_code) for code, name, parent_code in agencies}
    }
    for kind, model in (("counter", Counter), ("field", Field), ("procedure", Procedure)):
        rows = db.session.execute(select(model.code, model.name_vi))
        names[kind] = {code: (name, None) for code, name in rows}
    return names
