"""Turn a JSON submission body into a :class:`~survey.submissions.Submission` (pure checks).

Every structural problem is collected at once and raised as :class:`BodyError` with a list of
``{"field", "code"}`` problems; the view turns it into a 400 answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from survey.submissions import CHANNELS, Submission

__all__ = [
    "ALLOWED_KEYS",
    "CODE_MAX",
    "BodyError",
    "DateTimeOutOfRange",
    "SubmissionBody",
    "normalize_text",
    "parse_datetime",
    "parse_submission",
]

ALLOWED_KEYS = frozenset(
    {
        "id",
        "form_id",
        "form_version",
        "counter_code",
        "agency_code",
        "token",
        "field_code",
        "procedure_code",
        "channel",
        "answers",
        "comment",
        "started_at",
        "locale",
    }
)
CODE_MAX = 64
"""Longest unit code (agency, counter, field, procedure) or form id accepted."""


def normalize_text(value: str) -> str:
    """A text field as the server reads it: surrounding whitespace removed, Unicode spaces
    (U+00A0, U+3000 …) and line breaks included. Codes are looked up in this form, and the
    submission budget is keyed on it (:mod:`survey.api.ratelimit`)."""
    return value.strip()


# ``started_at`` is accepted from this moment up to a day after the server's clock (a device
# clock that runs a little fast must not cost the citizen's answers).
EARLIEST_STARTED_AT = datetime(2000, 1, 1, tzinfo=UTC)
STARTED_AT_CLOCK_SKEW = timedelta(days=1)


class DateTimeOutOfRange(ValueError):
    """A well-formed date-time that cannot be meant (year 1, year 9999 after its offset)."""


class BodyError(ValueError):
    """The body is not a well-formed submission; ``problems`` lists ``{"field", "code"}``."""

    def __init__(self, code: str, problems: list[dict[str, str]]) -> None:
        super().__init__(f"{code}: {problems}")
        self.code = code
        self.problems = problems


@dataclass(frozen=True)
class SubmissionBody:
    """A structurally valid body: the submission plus the dossier token still to verify."""

    submission: Submission
    token: str | None


def parse_submission(body: object, languages: list[str]) -> SubmissionBody:
    """Check the body's structure and types (the form checks the answers themselves)."""
    if not isinstance(body, Mapping):
        raise BodyError("invalid_json", [{"field": "", "code": "not_an_object"}])
    problems: list[dict[str, str]] = []

    def problem(field: str, code: str) -> None:
        problems.append({"field": field, "code": code})

    for key in sorted(set(body) - ALLOWED_KEYS):
        problem(str(key), "unknown_field")
    for key in ("id", "form_id", "form_version", "answers"):
        if key not in body or body[key] is None:
            problem(key, "missing")

    response_id = _uuid(body.get("id"), problem)
    form_id = _text(body, "form_id", problem, max_length=CODE_MAX)
    version = body.get("form_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        problem("form_version", "not_an_integer")
    answers = body.get("answers")
    if answers is not None and not isinstance(answers, Mapping):
        problem("answers", "not_an_object")
    codes = {
        name: _text(body, name, problem, max_length=CODE_MAX)
        for name in ("counter_code", "agency_code", "field_code", "procedure_code")
    }
    token = _text(body, "token", problem, max_length=512)
    comment = body.get("comment")  # the form checks the text (type, length, characters)
    channel = _text(body, "channel", problem, max_length=16)
    if channel is not None and channel not in CHANNELS:
        problem("channel", "not_allowed")
    locale = _text(body, "locale", problem, max_length=8)
    if locale is not None and locale not in languages:
        problem("locale", "not_allowed")
    started_at = _datetime(body.get("started_at"), problem)
    if problems:
        code = "missing_field" if all(p["code"] == "missing" for p in problems) else "invalid_field"
        raise BodyError(code, problems)
    submission = Submission(
        uuid=response_id,  # type: ignore[arg-type]
        form_id=form_id,  # type: ignore[arg-type]
        form_version=version,  # type: ignore[arg-type]
        answers=dict(answers),  # type: ignore[arg-type]
        comment=comment,  # type: ignore[arg-type]
        channel=channel or ("dossier_qr" if token else "api"),
        started_at=started_at,
        locale=locale or languages[0],
        **codes,
    )
    return SubmissionBody(submission, token)


def _text(body: Mapping[str, Any], name: str, problem: Any, *, max_length: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problem(name, "not_a_string")
        return None
    value = normalize_text(value)
    if len(value) > max_length:
        problem(name, "too_long")
        return None
    return value or None


def _uuid(value: object, problem: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problem("id", "not_a_uuid")
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        problem("id", "not_a_uuid")
        return None


def parse_datetime(value: object) -> datetime:
    """Parse ISO 8601 (``Z`` allowed) to aware UTC; a time without an offset is taken as UTC.

    Raises
    ------
    DateTimeOutOfRange
        A date-time that has no UTC equivalent in years 1–9999 (``9999-12-31T23:59:59-23:59``).
    ValueError
        When ``value`` is not such a string.
    """
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise DateTimeOutOfRange(f"{value!r} is out of range in UTC") from None


def _datetime(value: object, problem: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
    except DateTimeOutOfRange:
        problem("started_at", "out_of_range")
        return None
    except ValueError:
        problem("started_at", "not_a_datetime")
        return None
    if not EARLIEST_STARTED_AT <= moment <= datetime.now(UTC) + STARTED_AT_CLOCK_SKEW:
        problem("started_at", "out_of_range")
        return None
    return moment
