"""Two small read queries the citizen pages need beyond :mod:`survey.repository`.

They belong with the other queries; they sit here until the repository offers them.
"""

from __future__ import annotations

from sqlalchemy import select

from survey.extensions import db
from survey.models import Field, Response


def get_field(code: str) -> Field | None:
    """The procedure field with this code."""
    return db.session.scalar(select(Field).where(Field.code == code))


def token_used(token_id: str) -> bool:
    """True when a response already carries this dossier token id."""
    return db.session.scalar(select(Response.id).where(Response.token_id == token_id)) is not None
