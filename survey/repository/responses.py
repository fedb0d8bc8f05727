"""The write path: :func:`save_response` stores a response with its answers in one statement.

The response row carries its closed answers as one array of codes (``answer_codes``, in the order
of its form version's ``item_keys``), so a submission is one row of one ``INSERT``: one round
trip on PostgreSQL, in autocommit (its own transaction, all or nothing), on the engine of
:func:`write_engine`. Rows that the threads of one process store at the same moment share that
``INSERT`` (group commit, :mod:`survey.repository.group_insert`). Idempotency and single use are
enforced by UNIQUE constraints (``uuid``, ``token_id``), never by a check-then-insert, so
concurrent resubmits are safe.
"""

from __future__ import annotations

import threading
import uuid as uuid_lib
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from survey.config import WRITE_BIND
from survey.extensions import db
from survey.models import Response
from survey.privacy import mask_comment
from survey.quality import format_flags, parse_flags, quality_flags
from survey.repository.errors import ConflictingResubmission, SubmissionError, TokenAlreadyUsed
from survey.repository.group_insert import GroupInsert, Outcome, skip_conflicts_insert
from survey.repository.questionnaires import load_form, record_form_version, validate_submission
from survey.repository.units import resolve_units
from survey.submissions import CHANNELS, Submission, content_hash

__all__ = ["SaveResult", "group_insert", "save_response", "token_used", "write_engine"]


@dataclass(frozen=True)
class SaveResult:
    """Outcome of :func:`save_response`.

    Attributes
    ----------
    response_uuid : uuid.UUID
        The response's UUID (the client's).
    created : bool
        False when an identical response with this UUID was already stored (nothing written).
    flags : tuple[str, ...]
        Quality flags stored with the response (``too_fast``, ``straightlining``, ``honeypot``,
        ``empty``).
    """

    response_uuid: uuid_lib.UUID
    created: bool
    flags: tuple[str, ...]


# Built once: constant SQL hits SQLAlchemy's compiled cache (no ORM unit of work).
_INSERT_RESPONSE = insert(Response.__table__)


def save_response(submission: Submission, *, now: datetime | None = None) -> SaveResult:
    """Validate a submission and store it with its answers in one transaction.

    Parameters
    ----------
    submission : Submission
        What the citizen sent.
    now : datetime, optional
        The submission time (timezone-aware UTC); the clock when omitted.

    Returns
    -------
    SaveResult
        ``created=False`` when the same content was already stored under this UUID.

    Raises
    ------
    SubmissionError
        One of its subclasses; nothing is written.

    Notes
    -----
    The write runs on a connection of its own (not the request's ORM session), in the batch of
    :func:`group_insert` that this thread leads or waits for. When that batch fails as a whole
    (a bad row in it, a lost connection), the row is stored by itself; if its pooled connection
    turns out to be dead (the database restarted), that write is retried once on a new
    connection: safe, because the UUID makes it idempotent.
    """
    if submission.channel not in CHANNELS:
        raise SubmissionError(f"unknown channel {submission.channel!r}")
    form = load_form(submission.form_id, submission.form_version)
    answers, comment = validate_submission(form, submission)
    # Phone and ID numbers never reach the database (nor the content hash, which would let
    # them be recovered by trying every number).
    comment, comment_masked = mask_comment(comment)
    units = resolve_units(submission)
    submitted_at = now or datetime.now(UTC)
    rating_keys = form.rating_keys
    flags = quality_flags(
        dict(zip(rating_keys, map(answers.get, rating_keys), strict=True)),
        started_at=submission.started_at,
        submitted_at=submitted_at,
        min_seconds=current_app.config["SIPAS_MIN_SECONDS"],
        honeypot=submission.honeypot,
        not_applicable=form.scale.not_applicable.code,
        empty=not answers and not comment,
    )
    digest = content_hash(
        submission,
        answers,
        agency_code=units.agency_code,
        field_code=units.field_code,
        comment=comment,
    )
    layout = record_form_version(form)
    row = {
        "uuid": submission.uuid,
        "form_version_id": layout.id,
        "form_id": form.id,
        "form_version": form.version,
        "submitted_at": submitted_at,
        "started_at": submission.started_at,
        "agency_id": units.agency_id,
        "counter_id": units.counter_id,
        "field_id": units.field_id,
        "procedure_id": units.procedure_id,
        "channel": submission.channel,
        "flags": format_flags(flags),
        "comment": comment,
        "comment_masked": comment_masked,
        "locale": submission.locale,
        "content_hash": digest,
        "token_id": submission.token_id,
        "dossier_hash": submission.dossier_hash,
        "answer_codes": layout.encode(answers),
    }
    engine = write_engine()
    group = group_insert(engine)
    outcome = group.insert(engine, row) if group is not None else Outcome.ALONE
    if outcome is Outcome.STORED:
        return SaveResult(submission.uuid, True, flags)
    if outcome is Outcome.CONFLICT:
        return _after_conflict(engine, submission, digest)
    for attempt in (1, 2):  # Outcome.ALONE: its batch failed; store the row by itself
        try:
            _store(engine, row)
        except IntegrityError:
            return _after_conflict(engine, submission, digest)
        except DBAPIError as exc:
            if attempt == 1 and exc.connection_invalidated:
                continue  # the pool has dropped its dead connections; try once more
            raise
        break
    return SaveResult(submission.uuid, True, flags)


def write_engine() -> Engine:
    """The engine whose connections are in autocommit: each statement is its own transaction.

    The ``WRITE_BIND`` engine :func:`survey.create_app` declares; for an in-memory SQLite
    database, which exists once per engine, the main engine switched to autocommit.
    """
    engines = db.engines
    if WRITE_BIND in engines:
        return engines[WRITE_BIND]
    return engines[None].execution_options(isolation_level="AUTOCOMMIT")


_GROUPS: weakref.WeakKeyDictionary[Engine, GroupInsert] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def group_insert(engine: Engine) -> GroupInsert | None:
    """The queue through which this process's threads insert responses on ``engine``
    (:mod:`survey.repository.group_insert`; created on first use), or None on a database
    without ``INSERT … ON CONFLICT DO NOTHING RETURNING``."""
    group = _GROUPS.get(engine)
    if group is None:
        statement = skip_conflicts_insert(Response.__table__, engine.dialect.name, "uuid")
        if statement is None:
            return None
        with _GROUPS_LOCK:
            group = _GROUPS.setdefault(engine, GroupInsert(statement, "uuid"))
    return group


def _store(engine: Engine, row: dict[str, object]) -> None:
    """Insert the response row in its own transaction (IntegrityError: nothing written)."""
    with engine.connect() as connection:
        connection.execute(_INSERT_RESPONSE, row)


def _after_conflict(engine: Engine, submission: Submission, digest: str) -> SaveResult:
    """A UNIQUE constraint fired: an identical resubmit, a conflicting one, or a used token."""
    with engine.connect() as connection:
        existing = connection.execute(
            select(Response.content_hash, Response.flags).where(Response.uuid == submission.uuid)
        ).first()
        used = None
        if existing is None and submission.token_id is not None:
            used = connection.scalar(
                select(Response.id).where(Response.token_id == submission.token_id)
            )
    if existing is not None:
        if existing.content_hash == digest:
            return SaveResult(submission.uuid, False, parse_flags(existing.flags))
        raise ConflictingResubmission(
            f"response {submission.uuid} was already stored with different content"
        )
    if used is not None:
        raise TokenAlreadyUsed("this dossier token was already used")
    raise SubmissionError("the response could not be stored (integrity error)")


def token_used(token_id: str) -> bool:
    """True when a stored response already carries this dossier token id (for a kind page
    before the form; the UNIQUE constraint still decides at submission)."""
    found = db.session.scalar(select(Response.id).where(Response.token_id == token_id))
    return found is not None
