"""Reading stored responses back (the API's read-back, the portal's pages, exports)."""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Select, select

from survey.extensions import db
from survey.models import Agency, Counter, Field, FormVersion, Procedure, Response
from survey.quality import parse_flags
from survey.repository.questionnaires import decode_answers

__all__ = ["StoredResponse", "get_response", "list_responses"]


@dataclass(frozen=True)
class StoredResponse:
    """A stored response as read back (no personal data: the dossier code is only a hash)."""

    uuid: uuid_lib.UUID
    form_id: str
    form_version: int
    form_content_hash: str
    submitted_at: datetime
    agency_code: str
    counter_code: str | None
    field_code: str | None
    procedure_code: str | None
    channel: str
    flags: tuple[str, ...]
    locale: str
    comment: str | None
    answers: dict[str, int] = field(default_factory=dict)
    row_id: int = 0


def _as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _response_query() -> Select:
    counter = Counter.__table__.alias("c")
    field_ = Field.__table__.alias("f")
    procedure = Procedure.__table__.alias("p")
    return (
        select(
            Response.id,
            Response.uuid,
            Response.form_id,
            Response.form_version,
            FormVersion.content_hash,
            Response.submitted_at,
            Agency.code,
            counter.c.code,
            field_.c.code,
            procedure.c.code,
            Response.channel,
            Response.flags,
            Response.locale,
            Response.comment,
            FormVersion.item_keys,
            Response.answer_codes,
        )
        .join(FormVersion, Response.form_version_id == FormVersion.id)
        .join(Agency, Response.agency_id == Agency.id)
        .outerjoin(counter, Response.counter_id == counter.c.id)
        .outerjoin(field_, Response.field_id == field_.c.id)
        .outerjoin(procedure, Response.procedure_id == procedure.c.id)
    )


def _stored(rows: Sequence) -> list[StoredResponse]:
    return [
        StoredResponse(
            uuid=r[1],
            form_id=r[2],
            form_version=r[3],
            form_content_hash=r[4],
            submitted_at=_as_utc(r[5]),
            agency_code=r[6],
            counter_code=r[7],
            field_code=r[8],
            procedure_code=r[9],
            channel=r[10],
            flags=parse_flags(r[11]),
            locale=r[12],
            comment=r[13],
            answers=decode_answers(r[14], r[15]),
            row_id=r[0],
        )
        for r in rows
    ]


def get_response(response_uuid: uuid_lib.UUID) -> StoredResponse | None:
    """One stored response with its answers, or ``None``."""
    row = db.session.execute(_response_query().where(Response.uuid == response_uuid)).first()
    if row is None:
        return None
    return _stored([row])[0]


def list_responses(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_code: str | None = None,
    agency_codes: Collection[str] | None = None,
    form_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[StoredResponse]:
    """A page of responses in storage order (keyset paging: pass the last ``row_id`` as
    ``after``). ``since`` is inclusive, ``until`` exclusive; ``agency_code`` keeps one agency,
    ``agency_codes`` (an API key's scope) any of several."""
    query = _response_query().order_by(Response.id).limit(limit)
    if since is not None:
        query = query.where(Response.submitted_at >= since)
    if until is not None:
        query = query.where(Response.submitted_at < until)
    if agency_code is not None:
        query = query.where(Agency.code == agency_code)
    if agency_codes is not None:
        query = query.where(Agency.code.in_(sorted(agency_codes)))
    if form_id is not None:
        query = query.where(Response.form_id == form_id)
    if after is not None:
        query = query.where(Response.id > after)
    rows = db.session.execute(query).all()
    return _stored(rows)
