"""Every database query of the survey server lives here (views and the CLI call these functions).

The write path, :func:`save_response`, is one transaction: the response row (with its unique
``uuid`` and, for dossier QR codes, its unique ``token_id``) and all its answers in one
``executemany``. Idempotency and single use are enforced by UNIQUE constraints, never by a
check-then-insert, so concurrent resubmits are safe.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid as uuid_lib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.security import generate_password_hash

import forms
from forms.errors import FormNotFound
from forms.errors import InvalidAnswers as FormInvalidAnswers
from survey.extensions import db
from survey.models import (
    ROLES,
    Agency,
    Answer,
    ApiKey,
    Counter,
    Field,
    FormVersion,
    Procedure,
    Response,
    User,
)
from survey.quality import format_flags, parse_flags, quality_flags
from survey.submissions import CHANNELS, Submission, content_hash

__all__ = [
    "AccountError",
    "ConflictingResubmission",
    "InvalidAnswers",
    "SaveResult",
    "SubmissionError",
    "TokenAlreadyUsed",
    "UnknownAgency",
    "UnknownCounter",
    "UnknownField",
    "UnknownForm",
    "UnknownProcedure",
    "WrongFormVersion",
    "StoredResponse",
    "clear_caches",
    "create_api_key",
    "create_user",
    "get_agency",
    "get_counter",
    "get_field",
    "get_procedure",
    "get_response",
    "list_agencies",
    "list_counters",
    "list_fields",
    "list_procedures",
    "list_responses",
    "load_form",
    "record_form_version",
    "save_response",
    "token_used",
    "verify_api_key",
]

# Unit lookups on the write path are cached per application for this many seconds (units change
# rarely; an import or edit is visible everywhere after at most this delay).
UNIT_CACHE_SECONDS = 60.0


class SubmissionError(ValueError):
    """A submission was refused. ``code`` is stable (messages are translated by the caller)."""

    code: str = "invalid_submission"
    http_status: int = 422

    def __init__(self, detail: str, *, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems: list[dict[str, str]] = problems or []


class UnknownForm(SubmissionError):
    """No questionnaire with this id exists."""

    code = "unknown_form"


class WrongFormVersion(SubmissionError):
    """The questionnaire exists, but not in the version the submission names."""

    code = "wrong_form_version"


class InvalidAnswers(SubmissionError):
    """The answers do not fit the form; ``problems`` lists ``{"item_key", "code"}`` pairs."""

    code = "invalid_answers"


class UnknownCounter(SubmissionError):
    """No active counter has this code."""

    code = "unknown_counter"


class UnknownField(SubmissionError):
    """No procedure field (lĩnh vực) has this code."""

    code = "unknown_field"


class UnknownAgency(SubmissionError):
    """No agency has this code, or the submission names no agency at all."""

    code = "unknown_agency"


class UnknownProcedure(SubmissionError):
    """No procedure has this code."""

    code = "unknown_procedure"


class ConflictingResubmission(SubmissionError):
    """A response with this UUID was already stored with different content."""

    code = "conflicting_resubmission"
    http_status = 409


class TokenAlreadyUsed(SubmissionError):
    """The dossier token was already used for another response."""

    code = "token_already_used"
    http_status = 409


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


# --- forms ------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def load_form(form_id: str, version: int | None = None) -> forms.Form:
    """Load a shipped questionnaire (cached: definitions are immutable).

    Raises
    ------
    UnknownForm
        No form has this id.
    WrongFormVersion
        The form exists but not in this version.
    """
    try:
        return forms.load_form(form_id, version)
    except FormNotFound:
        pass
    try:
        newest = forms.load_form(form_id)
    except FormNotFound:
        raise UnknownForm(f"no questionnaire {form_id!r}") from None
    raise WrongFormVersion(
        f"questionnaire {form_id!r} has no version {version} (newest is {newest.version})"
    )


def _validate(form: forms.Form, submission: Submission) -> tuple[dict[str, int], str | None]:
    """Clean answers and comment through the form, collecting every problem."""
    problems = []
    answers: dict[str, int] = {}
    comment = None
    if not isinstance(submission.answers, Mapping):
        raise InvalidAnswers("answers must be a mapping of item keys to codes")
    try:
        answers = form.validate_answers(submission.answers)
    except FormInvalidAnswers as exc:
        problems.extend(exc.problems)
    try:
        comment = form.validate_comment(submission.comment)
    except FormInvalidAnswers as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidAnswers(
            f"{len(problems)} invalid answer(s)",
            problems=[{"item_key": p.item_key, "code": p.code} for p in problems],
        )
    return answers, comment


# --- units ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CounterRef:
    id: int
    agency_id: int
    agency_code: str
    field_id: int | None
    field_code: str | None


@dataclass(frozen=True)
class _ProcedureRef:
    id: int
    field_id: int | None
    field_code: str | None


@dataclass
class _UnitCache:
    """Positive lookups by code (misses are never cached), reset every UNIT_CACHE_SECONDS."""

    loaded_at: float = field(default_factory=time.monotonic)
    counters: dict[str, _CounterRef] = field(default_factory=dict)
    agencies: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    procedures: dict[str, _ProcedureRef] = field(default_factory=dict)
    form_versions: dict[tuple[str, int, str], int] = field(default_factory=dict)


_CACHE_KEY = "sipas.unit_cache"


def _cache() -> _UnitCache:
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None or time.monotonic() - cache.loaded_at > UNIT_CACHE_SECONDS:
        cache = current_app.extensions[_CACHE_KEY] = _UnitCache()
    return cache


def clear_caches() -> None:
    """Forget cached unit lookups (after an import, or between tests)."""
    current_app.extensions.pop(_CACHE_KEY, None)


def _counter_ref(code: str) -> _CounterRef:
    cache = _cache()
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
    cache = _cache()
    if code not in cache.agencies:
        row_id = db.session.scalar(select(Agency.id).where(Agency.code == code))
        if row_id is None:
            raise UnknownAgency(f"no agency {code!r}")
        cache.agencies[code] = row_id
    return cache.agencies[code]


def _field_id(code: str) -> int:
    cache = _cache()
    if code not in cache.fields:
        row_id = db.session.scalar(select(Field.id).where(Field.code == code))
        if row_id is None:
            raise UnknownField(f"no procedure field {code!r}")
        cache.fields[code] = row_id
    return cache.fields[code]


def _procedure_ref(code: str) -> _ProcedureRef:
    cache = _cache()
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


@dataclass(frozen=True)
class _Units:
    agency_id: int
    agency_code: str
    counter_id: int | None
    field_id: int | None
    field_code: str | None
    procedure_id: int | None


def _resolve_units(submission: Submission) -> _Units:
    """Codes to ids: a counter implies its agency; the field defaults to the procedure's field,
    then to the counter's default field."""
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
    return _Units(
        agency_id=agency_id,
        agency_code=agency_code,
        counter_id=counter.id if counter else None,
        field_id=field_id,
        field_code=field_code,
        procedure_id=procedure.id if procedure else None,
    )


def record_form_version(form: forms.Form) -> int:
    """Id of the form_versions row of this exact definition, recorded on first use."""
    key = (form.id, form.version, form.content_hash)
    cache = _cache()
    if key not in cache.form_versions:
        where = (
            FormVersion.form_id == form.id,
            FormVersion.version == form.version,
            FormVersion.content_hash == form.content_hash,
        )
        row_id = db.session.scalar(select(FormVersion.id).where(*where))
        if row_id is None:
            try:
                row_id = db.session.execute(
                    insert(FormVersion)
                    .values(form_id=form.id, version=form.version, content_hash=form.content_hash)
                    .returning(FormVersion.id)
                ).scalar_one()
                db.session.commit()
            except IntegrityError:  # recorded concurrently by another process
                db.session.rollback()
                row_id = db.session.scalar(select(FormVersion.id).where(*where))
        cache.form_versions[key] = row_id
    return cache.form_versions[key]


# --- the write path ---------------------------------------------------------------------------

# Core statements built once: constant SQL hits the compiled cache, parameters travel separately,
# and the answers go in as one executemany (no ORM unit of work on the hot path).
_INSERT_RESPONSE = insert(Response.__table__).returning(Response.__table__.c.id)
_INSERT_ANSWERS = insert(Answer.__table__)


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
    """
    if submission.channel not in CHANNELS:
        raise SubmissionError(f"unknown channel {submission.channel!r}")
    form = load_form(submission.form_id, submission.form_version)
    answers, comment = _validate(form, submission)
    units = _resolve_units(submission)
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
    session = db.session
    try:
        connection = session.connection()
        response_id = connection.execute(_INSERT_RESPONSE, row).scalar_one()
        if answers:
            connection.execute(
                _INSERT_ANSWERS,
                [
                    {"response_id": response_id, "item_key": k, "value": v}
                    for k, v in answers.items()
                ],
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        return _after_conflict(submission, digest)
    except BaseException:
        session.rollback()
        raise
    return SaveResult(submission.uuid, True, flags)


def _after_conflict(submission: Submission, digest: str) -> SaveResult:
    """A UNIQUE constraint fired: an identical resubmit, a conflicting one, or a used token."""
    session = db.session
    existing = session.execute(
        select(Response.content_hash, Response.flags).where(Response.uuid == submission.uuid)
    ).first()
    if existing is not None:
        if existing.content_hash == digest:
            return SaveResult(submission.uuid, False, parse_flags(existing.flags))
        raise ConflictingResubmission(
            f"response {submission.uuid} was already stored with different content"
        )
    if submission.token_id is not None:
        used = session.scalar(select(Response.id).where(Response.token_id == submission.token_id))
        if used is not None:
            raise TokenAlreadyUsed("this dossier token was already used")
    raise SubmissionError("the response could not be stored (integrity error)")


# --- lookups for pages and the API ------------------------------------------------------------


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


def token_used(token_id: str) -> bool:
    """True when a stored response already carries this dossier token id (for a kind page
    before the form; the UNIQUE constraint still decides at submission)."""
    found = db.session.scalar(select(Response.id).where(Response.token_id == token_id))
    return found is not None


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


# --- read-back --------------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _response_query():
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
        )
        .join(FormVersion, Response.form_version_id == FormVersion.id)
        .join(Agency, Response.agency_id == Agency.id)
        .outerjoin(counter, Response.counter_id == counter.c.id)
        .outerjoin(field_, Response.field_id == field_.c.id)
        .outerjoin(procedure, Response.procedure_id == procedure.c.id)
    )


def _stored(rows: Sequence, answers: dict[int, dict[str, int]]) -> list[StoredResponse]:
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
            answers=answers.get(r[0], {}),
            row_id=r[0],
        )
        for r in rows
    ]


def _answers_of(response_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {rid: {} for rid in response_ids}
    if response_ids:
        rows = db.session.execute(
            select(Answer.response_id, Answer.item_key, Answer.value).where(
                Answer.response_id.in_(response_ids)
            )
        )
        for response_id, key, value in rows:
            found[response_id][key] = value
    return found


def get_response(response_uuid: uuid_lib.UUID) -> StoredResponse | None:
    """One stored response with its answers, or ``None``."""
    row = db.session.execute(_response_query().where(Response.uuid == response_uuid)).first()
    if row is None:
        return None
    return _stored([row], _answers_of([row[0]]))[0]


def list_responses(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_code: str | None = None,
    form_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[StoredResponse]:
    """A page of responses in storage order (keyset paging: pass the last ``row_id`` as
    ``after``). ``since`` is inclusive, ``until`` exclusive."""
    query = _response_query().order_by(Response.id).limit(limit)
    if since is not None:
        query = query.where(Response.submitted_at >= since)
    if until is not None:
        query = query.where(Response.submitted_at < until)
    if agency_code is not None:
        query = query.where(Agency.code == agency_code)
    if form_id is not None:
        query = query.where(Response.form_id == form_id)
    if after is not None:
        query = query.where(Response.id > after)
    rows = db.session.execute(query).all()
    return _stored(rows, _answers_of([r[0] for r in rows]))


# --- accounts ---------------------------------------------------------------------------------


class AccountError(ValueError):
    """A user or API key cannot be created as asked."""


def create_user(
    username: str,
    password: str,
    *,
    role: str = "viewer",
    display_name: str = "",
    agency_code: str | None = None,
) -> User:
    """Create an official's account (the password is stored as a salted hash)."""
    if not username.strip():
        raise AccountError("the username must not be blank")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    agency = None
    if agency_code is not None:
        agency = get_agency(agency_code)
        if agency is None:
            raise AccountError(f"unknown agency {agency_code!r}")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"a user {username!r} already exists")
    user = User(
        username=username.strip(),
        password_hash=generate_password_hash(password),
        display_name=display_name,
        role=role,
        agency=agency,
        active=True,
    )
    db.session.add(user)
    db.session.commit()
    return user


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(name: str) -> str:
    """Create an API key and return it; it is shown once, only its SHA-256 is stored."""
    if not name.strip():
        raise AccountError("the key needs a name (who uses it)")
    key = "sipas_" + secrets.token_urlsafe(32)
    db.session.add(ApiKey(name=name.strip(), key_hash=_key_digest(key), active=True))
    db.session.commit()
    return key


def verify_api_key(key: str) -> bool:
    """True when ``key`` is an active API key."""
    if not key or len(key) > 200:
        return False
    found = db.session.scalar(
        select(ApiKey.id).where(ApiKey.key_hash == _key_digest(key), ApiKey.active.is_(True))
    )
    return found is not None
