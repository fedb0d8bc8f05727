"""The write path: :func:`save_response` stores a response and its answers in one transaction.

The response row (with its unique ``uuid`` and, for dossier QR codes, its unique ``token_id``) and
all its answers go in one transaction: on PostgreSQL one ``INSERT`` statement (a data-modifying
CTE) in one round trip, on SQLite two statements. Answers stay one row per (response, item) in
``answers``, the long table the statistics ``GROUP BY`` reads. Idempotency and single use are
enforced by UNIQUE constraints, never by a check-then-insert, so concurrent resubmits are safe.
"""

from __future__ import annotations

import json
import uuid as uuid_lib
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Integer, SmallInteger, String, bindparam, func, insert, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from survey.extensions import db
from survey.models import Answer, Response
from survey.quality import format_flags, parse_flags, quality_flags
from survey.repository.errors import ConflictingResubmission, SubmissionError, TokenAlreadyUsed
from survey.repository.questionnaires import load_form, record_form_version, validate_submission
from survey.repository.units import resolve_units
from survey.submissions import CHANNELS, Submission, content_hash

__all__ = ["SaveResult", "save_response", "token_used"]


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
        Quality flags stored with the response (``too_fast``, ``straightlining``, ``honeypot``).
    """

    response_uuid: uuid_lib.UUID
    created: bool
    flags: tuple[str, ...]


_RESPONSES = Response.__table__
_ANSWERS = Answer.__table__
_ANSWER_COLUMNS = ["response_id", "item_key", "value"]

# Core statements built once (constant SQL hits the compiled cache; no ORM unit of work).
# PostgreSQL: the response and its answers in ONE statement, run in autocommit (one round trip,
# its own implicit transaction: all or nothing). The answers travel as two arrays.
_NEW_RESPONSE = (
    insert(_RESPONSES)
    .values({c.name: bindparam(c.name, type_=c.type) for c in _RESPONSES.c if c.name != "id"})
    .returning(_RESPONSES.c.id)
    .cte("new_response")
)
_PAIRS = (
    func.unnest(
        bindparam("item_keys", type_=postgresql.ARRAY(String)),
        bindparam("codes", type_=postgresql.ARRAY(SmallInteger)),
    )
    .table_valued("item_key", "value")
    .render_derived(name="a")
)
_INSERT_ALL_POSTGRES = insert(_ANSWERS).from_select(
    _ANSWER_COLUMNS,
    select(_NEW_RESPONSE.c.id, _PAIRS.c.item_key, _PAIRS.c.value)
    .select_from(_NEW_RESPONSE)
    .join(_PAIRS, true()),
)
# SQLite (in process, no round trips): the response row, then its answers from one JSON object.
_INSERT_RESPONSE = insert(_RESPONSES).returning(_RESPONSES.c.id)
_JSON_PAIRS = func.json_each(bindparam("answers_json", type_=String)).table_valued("key", "value")
_INSERT_ANSWERS_SQLITE = insert(_ANSWERS).from_select(
    _ANSWER_COLUMNS,
    select(bindparam("response_id", type_=Integer), _JSON_PAIRS.c.key, _JSON_PAIRS.c.value),
)


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
    The write runs on a connection of its own (not the request's ORM session). If that pooled
    connection turns out to be dead (the database restarted), the write is retried once on a new
    connection: safe, because the UUID makes it idempotent.
    """
    if submission.channel not in CHANNELS:
        raise SubmissionError(f"unknown channel {submission.channel!r}")
    form = load_form(submission.form_id, submission.form_version)
    answers, comment = validate_submission(form, submission)
    units = resolve_units(submission)
    submitted_at = now or datetime.now(UTC)
    flags = quality_flags(
        {item.key: answers[item.key] for item in form.rating_items if item.key in answers},
        started_at=submission.started_at,
        submitted_at=submitted_at,
        min_seconds=current_app.config["SIPAS_MIN_SECONDS"],
        honeypot=submission.honeypot,
        not_applicable=form.scale.not_applicable.code,
    )
    digest = content_hash(
        submission, answers, agency_code=units.agency_code, field_code=units.field_code
    )
    row = {
        "uuid": submission.uuid,
        "form_version_id": record_form_version(form),
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
        "locale": submission.locale,
        "content_hash": digest,
        "token_id": submission.token_id,
        "dossier_hash": submission.dossier_hash,
    }
    engine = db.engine
    for attempt in (1, 2):
        try:
            _store(engine, row, answers)
        except IntegrityError:
            return _after_conflict(engine, submission, digest)
        except DBAPIError as exc:
            if attempt == 1 and exc.connection_invalidated:
                continue  # the pool has dropped its dead connections; try once more
            raise
        break
    return SaveResult(submission.uuid, True, flags)


def _store(engine: Engine, row: dict[str, object], answers: dict[str, int]) -> None:
    """Insert the response and its answers atomically (IntegrityError: nothing written)."""
    if engine.dialect.name == "postgresql":
        params = {**row, "item_keys": list(answers), "codes": list(answers.values())}
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(_INSERT_ALL_POSTGRES, params)
        return
    with engine.begin() as connection:
        response_id = connection.execute(_INSERT_RESPONSE, row).scalar_one()
        if answers:
            connection.execute(
                _INSERT_ANSWERS_SQLITE,
                {"response_id": response_id, "answers_json": json.dumps(answers)},
            )


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
