"""Database tables (SQLAlchemy 2 typed models), portable between SQLite and PostgreSQL.

Units: :class:`Agency` (a hierarchy: province → department / district → commune), :class:`Counter`
(a one-stop counter, quầy, under an agency), :class:`Field` (procedure field, lĩnh vực) and
:class:`Procedure`. Responses: :class:`FormVersion` (the exact questionnaire definition answered,
with the order of its answer columns) and :class:`Response`, whose closed answers are one array
of codes in that order (``answer_codes``). Accounts: :class:`User` (officials)
and :class:`ApiKey` (machine clients; only a hash of the key is stored). Statistics: the summary of
sufficient statistics (:class:`SummaryCell`, :class:`SummaryMonth`, :class:`SummaryState`),
maintained by :mod:`survey.statistics.summary`.

The schema is created by the Alembic migrations in ``survey/migrations`` (``sipas db upgrade``);
a test checks that the migrations and these models agree.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.extensions import Base

__all__ = [
    "AGENCY_LEVELS",
    "ROLES",
    "ANSWER_CODES",
    "LINEAGE_KINDS",
    "Agency",
    "AgencyLineage",
    "ApiKey",
    "Counter",
    "DossierVolume",
    "Field",
    "FormVersion",
    "Procedure",
    "Response",
    "SummaryCell",
    "SummaryMonth",
    "SummaryState",
    "User",
]

AgencyLevel = Literal["province", "department", "district", "commune"]
AGENCY_LEVELS: tuple[str, ...] = get_args(AgencyLevel)
LineageKind = Literal["merge", "split", "rename"]
LINEAGE_KINDS: tuple[str, ...] = get_args(LineageKind)
Role = Literal["admin", "analyst", "official"]
ROLES: tuple[str, ...] = get_args(Role)

# A 64-bit key on PostgreSQL; SQLite only auto-increments a plain INTEGER PRIMARY KEY.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class SmallIntArray(TypeDecorator[list[int | None]]):
    """PostgreSQL ``smallint[]``, sent as an array literal (``{4, 5, null}``).

    psycopg dumps a Python list element by element in Python (about 1,800 bytecodes for 32
    codes, 8 % of a submission's Python work); a list of integers and ``None`` encoded by the C
    JSON encoder (``[4, 5, null]``) becomes the literal by swapping its brackets for braces, since
    PostgreSQL reads ``null`` in any case as NULL. The server casts the literal to ``smallint[]``
    and rejects anything else; reading returns a list as before.
    """

    impl = postgresql.ARRAY(SmallInteger(), dimensions=1)
    cache_ok = True

    def bind_processor(self, dialect):  # noqa: ANN001, ANN201 (SQLAlchemy's signature)
        # Replaces the ARRAY processor, which would walk the literal as a sequence.
        return _array_literal


def _array_literal(codes: list[int | None] | None) -> str | None:
    return None if codes is None else "{" + json.dumps(list(codes))[1:-1] + "}"


# The closed answers of a response: one code per answer column of its form version
# (``FormVersion.item_keys``), ``None`` for a skipped item. ``smallint[]`` on PostgreSQL (unnested
# by the statistics ``GROUP BY``), a JSON array on SQLite (``json_each``). One row per response
# instead of one per answer: a submission writes 1 heap row and its index entries, not 1 + 32.
ANSWER_CODES = JSON().with_variant(SmallIntArray(), "postgresql")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Agency(Base):
    """An administrative agency (cơ quan): province, department, district or commune.

    ``valid_from`` / ``valid_until`` bound the days the unit existed (``None``: open); a unit
    that ended is no longer listed among the current units of a later period, its responses
    stay. Who succeeded it is in :class:`AgencyLineage`.
    """

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    parent: Mapped[Agency | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Agency]] = relationship(back_populates="parent")
    counters: Mapped[list[Counter]] = relationship(back_populates="agency")

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class AgencyLineage(Base):
    """On ``effective_on`` the predecessor was merged into, split into or renamed to the
    successor (:mod:`analysis.lineage`; one row per predecessor and successor)."""

    __tablename__ = "agency_lineage"
    # AUTOINCREMENT on SQLite too: a replaced row gets a new id, which the report cache's data
    # stamp sees (SQLite would otherwise give the freed highest id again).
    __table_args__ = (
        UniqueConstraint("predecessor_id", "successor_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    predecessor_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    successor_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    effective_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    predecessor: Mapped[Agency] = relationship(foreign_keys=[predecessor_id])
    successor: Mapped[Agency] = relationship(foreign_keys=[successor_id])


class Field(Base):
    """A procedure field (lĩnh vực), e.g. land use rights, civil status, construction."""

    __tablename__ = "fields"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")

    def __repr__(self) -> str:
        return f"<Field {self.code}>"


class Counter(Base):
    """A one-stop counter (quầy) of an agency, optionally dedicated to one field."""

    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    agency: Mapped[Agency] = relationship(back_populates="counters")
    field: Mapped[Field | None] = relationship()

    def __repr__(self) -> str:
        return f"<Counter {self.code}>"


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) in the catalogue."""

    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str] = mapped_column(String(500), default="")
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"), index=True)

    field: Mapped[Field | None] = relationship()

    def __repr__(self) -> str:
        return f"<Procedure {self.code}>"


class FormVersion(Base):
    """A questionnaire definition as answered: (form id, version, content hash).

    ``item_keys`` lists the answer columns of :attr:`Response.answer_codes` in order: the form's
    closed items (:attr:`forms.Form.item_keys`) when the row is first recorded. The list only ever
    grows (keys are appended, never moved), so stored arrays keep their meaning.
    """

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    item_keys: Mapped[list[str]] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Response(Base):
    """One stored questionnaire response with its closed answers (``answer_codes``)."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_agency_submitted", "agency_id", "submitted_at"),
        Index("ix_responses_field_submitted", "field_id", "submitted_at"),
        Index("ix_responses_form_submitted", "form_id", "form_version", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"), index=True)
    field_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"))
    channel: Mapped[str] = mapped_column(String(16))
    # Quality flags, ';'-separated in a fixed order (too_fast;straightlining;honeypot); '' if clean.
    flags: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str | None] = mapped_column(Text)
    # Phone or ID numbers in the comment were masked before it was stored (survey.privacy).
    comment_masked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    content_hash: Mapped[str] = mapped_column(String(64))
    # A dossier token can be used once: the UNIQUE constraint enforces it in the same transaction.
    token_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    dossier_hash: Mapped[str | None] = mapped_column(String(64))
    answer_codes: Mapped[list[int | None]] = mapped_column(ANSWER_CODES)

    form_definition: Mapped[FormVersion] = relationship()
    agency: Mapped[Agency] = relationship()
    counter: Mapped[Counter | None] = relationship()
    field: Mapped[Field | None] = relationship()
    procedure: Mapped[Procedure | None] = relationship()


class DossierVolume(Base):
    """One cell of a dossier-volume frame: dossiers handled by an agency in a field and period.

    ``period`` is spelled as :data:`analysis.frames.PERIOD_FORMATS` (``2026``, ``2026-H1``,
    ``2026-Q3``, ``2026-07``). The reports post-stratify each agency × field cell of a period to
    these volumes.
    """

    __tablename__ = "dossier_volumes"
    __table_args__ = (UniqueConstraint("period", "agency_id", "field_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    dossiers: Mapped[int] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    agency: Mapped[Agency] = relationship()
    field: Mapped[Field] = relationship()


class User(UserMixin, Base):
    """An account: ``admin``, ``analyst`` (the province) or ``official`` (an agency subtree)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16), default="official")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Signed into each session; raising it (logout, new password) ends every existing session.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    agency: Mapped[Agency | None] = relationship()

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login: the id stored in the session, with the epoch that must still match."""
        return f"{self.id}:{self.session_epoch}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class ApiKey(Base):
    """A key for the read-back API (``Authorization: Bearer …``); only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The agency whose subtree the key may read; None = every agency.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))

    agency: Mapped[Agency | None] = relationship()


# The summary of sufficient statistics (survey.statistics.summary). One row per grain cell
# (form, month, agency, counter, field, procedure, channel, form version, flags) and per
# roll-up cell, holding the cell's whole pooled count table as one vector of counts; 0 stands
# for "no counter / field / procedure" so that the grain is a plain UNIQUE key. The index leads
# with the columns that tell the roll-up levels apart (form_version = -1 and the dropped unit
# ids -1), so that a read of one level scans that level's rows only.
_SUMMARY_GRAIN = (
    "form_id",
    "form_version",
    "counter_id",
    "field_id",
    "month",
    "agency_id",
    "procedure_id",
    "channel",
    "flags",
)


class SummaryCell(Base):
    """One cell of the summary: its responses' pooled count table (:mod:`analysis.counts`,
    unweighted) as a vector of counts, one per (item, answer) of ``summary_state.layout``.

    ``counts`` holds little-endian 32-bit integers; a vector shorter than the layout (written
    before the layout grew) is zero beyond its end.
    """

    __tablename__ = "summary_cells"
    __table_args__ = (UniqueConstraint(*_SUMMARY_GRAIN, name="uq_summary_cells_grain"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    # First day of the UTC calendar month of submitted_at.
    month: Mapped[date] = mapped_column(Date)
    agency_id: Mapped[int] = mapped_column(Integer)
    counter_id: Mapped[int] = mapped_column(Integer)
    field_id: Mapped[int] = mapped_column(Integer)
    procedure_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    form_version: Mapped[int] = mapped_column(Integer)
    flags: Mapped[str] = mapped_column(String(100))
    responses: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[bytes] = mapped_column(LargeBinary)


class SummaryMonth(Base):
    """Per form and month: how many responses (and the sum of their ids) the summary holds,
    to find the months whose responses changed (deleted, committed late)."""

    __tablename__ = "summary_months"

    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    responses: Mapped[int] = mapped_column(BigInteger)
    id_sum: Mapped[int] = mapped_column(BigInteger)


class SummaryState(Base):
    """Per form: the definition the summary was built for and the highest response id in it."""

    __tablename__ = "summary_state"

    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # SHA-256 of the form's item keys and aggregation tree (survey.statistics.summary).
    definition: Mapped[str] = mapped_column(String(64))
    watermark: Mapped[int] = mapped_column(BigInteger)
    # The (item, answer) of each position of summary_cells.counts, as [[item, answer], ...].
    layout: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
