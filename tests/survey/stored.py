"""What the database holds, read directly (for assertions; call inside an app context)."""

from __future__ import annotations

from sqlalchemy import select

from survey.extensions import db
from survey.models import Response


def stored_answer_count(response_id: int | None = None) -> int:
    """Answered items (non-null codes) over every stored response, or over one response."""
    query = select(Response.answer_codes)
    if response_id is not None:
        query = query.where(Response.id == response_id)
    return sum(code is not None for codes in db.session.scalars(query) for code in codes)
