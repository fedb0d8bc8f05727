"""Citizens' comments for the officials' reports: newest first, searchable, limited to a subtree."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Agency, Field, Response

__all__ = ["Comment", "list_comments"]


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment as a report lists it (the text as stored)."""

    submitted_at: datetime
    agency_code: str
    field_code: str | None
    channel: str
    text: str


def list_comments(
    form_id: str,
    *,
    agency_codes: Collection[str],
    since: datetime,
    until: datetime,
    field_code: str | None = None,
    channel: str | None = None,
    search: str | None = None,
    exclude_flags: Collection[str] = (),
    limit: int = 50,
) -> tuple[list[Comment], int]:
    """The newest comments of the agencies ``agency_codes`` in ``[since, until)``.

    ``search`` keeps comments containing the text (case-insensitive). Returns the comments
    (at most ``limit``) and how many match in all.
    """
    filters = [
        Response.form_id == form_id,
        Response.submitted_at >= since,
        Response.submitted_at < until,
        Response.comment.is_not(None),
        Response.comment != "",
        Agency.code.in_(list(agency_codes)),
    ]
    if field_code is not None:
        filters.append(Field.code == field_code)
    if channel is not None:
        filters.append(Response.channel == channel)
    for flag in exclude_flags:
        stored = ";" + func.coalesce(Response.flags, "") + ";"
        filters.append(~stored.contains(f";{flag};", autoescape=True))
    if search:
        filters.append(func.lower(Response.comment).contains(search.lower(), autoescape=True))
    base = (
        select(Response.id)
        .join(Agency, Response.agency_id == Agency.id)
        .outerjoin(Field, Response.field_id == Field.id)
    )
    total = db.session.scalar(select(func.count()).select_from(base.where(*filters).subquery()))
    rows = db.session.execute(
        select(Response.submitted_at, Agency.code, Field.code, Response.channel, Response.comment)
        .join(Agency, Response.agency_id == Agency.id)
        .outerjoin(Field, Response.field_id == Field.id)
        .where(*filters)
        .order_by(Response.submitted_at.desc(), Response.id.desc())
        .limit(limit)
    ).all()
    comments = [
        Comment(
            submitted_at=when.replace(tzinfo=UTC) if when.tzinfo is None else when,
            agency_code=agency,
            field_code=field,
            channel=channel_,
            text=text,
        )
        for when, agency, field, channel_, text in rows
    ]
    return comments, int(total or 0)
