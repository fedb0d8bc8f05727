"""Questionnaire definitions on the write path: loading (cached), answer validation, and the
``form_versions`` row of the exact definition answered."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

import forms
from forms.errors import FormNotFound
from forms.errors import InvalidAnswers as FormInvalidAnswers
from survey.extensions import db
from survey.models import FormVersion
from survey.repository.errors import InvalidAnswers, UnknownForm, WrongFormVersion
from survey.repository.units import unit_cache
from survey.submissions import Submission

__all__ = ["load_form", "record_form_version", "validate_submission"]


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


def record_form_version(form: forms.Form) -> int:
    """Id of the form_versions row of this exact definition, recorded on first use."""
    key = (form.id, form.version, form.content_hash)
    cache = unit_cache()
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
