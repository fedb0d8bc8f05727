"""Questionnaire definitions on the write path: loading (cached), answer validation, and the
``form_versions`` row of the exact definition answered, with the order of its answer columns
(:class:`FormLayout`: how a response's answers become its ``answer_codes`` array and back)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

import forms
from forms.errors import FormNotFound
from forms.errors import InvalidAnswers as FormInvalidAnswers
from survey.extensions import db
from survey.models import FormVersion, Response
from survey.repository.errors import InvalidAnswers, UnknownForm, WrongFormVersion
from survey.repository.units import unit_cache
from survey.submissions import Submission

__all__ = [
    "FormLayout",
    "FormVersionUse",
    "decode_answers",
    "form_versions_in_use",
    "load_form",
    "record_form_version",
    "validate_submission",
]


@dataclass(frozen=True, slots=True)
class FormLayout:
    """A ``form_versions`` row: its id and the answer columns of ``Response.answer_codes``."""

    id: int
    item_keys: tuple[str, ...]

    def encode(self, answers: Mapping[str, int]) -> list[int | None]:
        """The codes in column order, ``None`` for a skipped item (every key must be a column)."""
        return [*map(answers.get, self.item_keys)]


def decode_answers(item_keys: Sequence[str], codes: Sequence[int | None] | None) -> dict[str, int]:
    """``{item_key: code}`` of the answered items of an ``answer_codes`` array.

    The array may be shorter than ``item_keys`` (columns appended after it was stored).
    """
    return {
        key: code for key, code in zip(item_keys, codes or (), strict=False) if code is not None
    }


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


def validate_submission(
    form: forms.Form, submission: Submission
) -> tuple[dict[str, int], str | None]:
    """Clean answers and comment through the form, collecting every problem.

    Raises
    ------
    InvalidAnswers
        With every ``{"item_key", "code"}`` problem of the answers and the comment.
    """
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


def record_form_version(form: forms.Form) -> FormLayout:
    """The form_versions row of this exact definition, recorded on first use (cached).

    A row converted from the former ``answers`` table may lack columns of the form (items
    nobody had answered); they are appended, never reordered, so stored arrays keep their
    meaning.
    """
    key = (form.id, form.version, form.content_hash)
    cache = unit_cache()
    if key not in cache.form_versions:
        lookup = select(FormVersion.id, FormVersion.item_keys).where(
            FormVersion.form_id == form.id,
            FormVersion.version == form.version,
            FormVersion.content_hash == form.content_hash,
        )
        row = db.session.execute(lookup).first()
        if row is None:
            try:
                row_id = db.session.execute(
                    insert(FormVersion)
                    .values(
                        form_id=form.id,
                        version=form.version,
                        content_hash=form.content_hash,
                        item_keys=list(form.item_keys),
                    )
                    .returning(FormVersion.id)
                ).scalar_one()
                db.session.commit()
                row = (row_id, list(form.item_keys))
            except IntegrityError:  # recorded concurrently by another process
                db.session.rollback()
                row = db.session.execute(lookup).one()
        row_id, stored = row[0], list(row[1])
        missing = [k for k in form.item_keys if k not in stored]
        if missing:
            db.session.execute(
                update(FormVersion)
                .where(FormVersion.id == row_id)
                .values(item_keys=[*stored, *missing])
            )
            db.session.commit()
            stored += missing
        cache.form_versions[key] = FormLayout(row_id, tuple(stored))
    return cache.form_versions[key]


@dataclass(frozen=True, slots=True)
class FormVersionUse:
    """A recorded questionnaire definition and how many responses answered it."""

    form_id: str
    version: int
    content_hash: str
    first_seen_at: datetime
    responses: int


def form_versions_in_use() -> list[FormVersionUse]:
    """Every recorded definition (form id, version, content hash), newest version first."""
    counts = (
        select(Response.form_version_id, func.count().label("n"))
        .group_by(Response.form_version_id)
        .subquery()
    )
    query = (
        select(
            FormVersion.form_id,
            FormVersion.version,
            FormVersion.content_hash,
            FormVersion.first_seen_at,
            func.coalesce(counts.c.n, 0),
        )
        .outerjoin(counts, counts.c.form_version_id == FormVersion.id)
        .order_by(FormVersion.form_id, FormVersion.version.desc(), FormVersion.first_seen_at)
    )
    return [
        FormVersionUse(
            form_id,
            version,
            content_hash,
            seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen.astimezone(UTC),
            int(n),
        )
        for form_id, version, content_hash, seen, n in db.session.execute(query)
    ]
