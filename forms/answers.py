"""Checks on a respondent's answers, used by `Form.validate_answers` and `Form.validate_comment`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Set

from forms.errors import AnswerProblem, InvalidAnswers

__all__ = ["DEFAULT_COMMENT_MAX_LENGTH", "check_answers", "check_comment"]

DEFAULT_COMMENT_MAX_LENGTH = 2000

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_INT_ONLY = frozenset({int})


def _code(value: object) -> int | str | None:
    """The integer code, ``None`` when skipped, or a string saying why it is not an integer."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "a boolean is not an answer code"
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        if _INTEGER.match(stripped):
            return int(stripped)
        return f"{value!r} is not a whole number"
    return f"a {type(value).__name__} is not an answer code"


def check_answers(
    answers: Mapping[str, object],
    allowed: Mapping[str, Collection[int]],
    ignored: Collection[str] = (),
    valid_pairs: Set[tuple[str, int]] | None = None,
) -> dict[str, int]:
    """Return the clean answer codes of the answered items, in the order given.

    ``allowed`` maps each answerable item key to its valid codes; keys in ``ignored`` are skipped
    silently. ``valid_pairs``, every ``(key, code)`` that ``allowed`` admits, lets the common
    case (every value a valid ``int``) be checked by set operations, without a loop in Python.
    Raises `InvalidAnswers` with every problem.
    """
    if (
        valid_pairs is not None
        and {*map(type, answers.values())} <= _INT_ONLY  # hashable, and no bool or float
        and answers.items() <= valid_pairs
    ):
        return dict(answers)
    problems: list[AnswerProblem] = []
    clean: dict[str, int] = {}
    for key, value in answers.items():
        if key in ignored:
            continue
        if key not in allowed:
            problems.append(AnswerProblem(str(key), "unknown_item", "the form has no such item"))
            continue
        code = _code(value)
        if code is None:
            continue
        if isinstance(code, str):
            problems.append(AnswerProblem(key, "not_an_integer", code))
        elif code not in allowed[key]:
            valid = ", ".join(str(c) for c in sorted(allowed[key]))
            problems.append(AnswerProblem(key, "out_of_range", f"{code} is not one of {valid}"))
        else:
            clean[key] = code
    if problems:
        raise InvalidAnswers(problems)
    return clean


def _bad_character(text: str) -> str | None:
    for char in text:
        if char in "\n\t":
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in "\u2028\u2029":
            return f"U+{ord(char):04X}"
    return None


def check_comment(
    text: object, key: str, max_length: int | None, *, has_comment: bool = True
) -> str | None:
    """Clean a free-text comment; ``None`` when blank. Raises `InvalidAnswers`."""
    if text is None:
        return None
    if not isinstance(text, str):
        detail = f"a {type(text).__name__} is not text"
        raise InvalidAnswers([AnswerProblem(key, "not_text", detail)])
    cleaned = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not cleaned:
        return None
    if not has_comment:
        raise InvalidAnswers([AnswerProblem(key, "unknown_item", "the form has no comment")])
    problems = []
    limit = DEFAULT_COMMENT_MAX_LENGTH if max_length is None else max_length
    if len(cleaned) > limit:
        detail = f"{len(cleaned)} characters, at most {limit} allowed"
        problems.append(AnswerProblem(key, "too_long", detail))
    bad = _bad_character(cleaned)
    if bad is not None:
        detail = f"control character {bad} (only line breaks and tabs are allowed)"
        problems.append(AnswerProblem(key, "invalid_character", detail))
    if problems:
        raise InvalidAnswers(problems)
    return cleaned
