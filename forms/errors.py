"""Problems and exceptions raised by the `forms` package.

Two families:

* definition problems (`Problem`, `FormDefinitionError`, `FormNotFound`): a questionnaire
  definition file is malformed or missing;
* answer problems (`AnswerProblem`, `InvalidAnswers`): a respondent's answers do not fit the form.
  The web layer translates them by their stable ``code``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AnswerProblem",
    "AnswerProblemCode",
    "FormDefinitionError",
    "FormNotFound",
    "InvalidAnswers",
    "Problem",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a form definition.

    Attributes
    ----------
    location : str
        Where the problem is, as a dotted path into the definition
        (``factors[2].items[1].text.en``, 0-based indices), ``items.<key>`` for key clashes,
        ``<line>:<column>`` for a TOML syntax error, or ``""`` for the file as a whole.
    message : str
        What is wrong, in English.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class FormDefinitionError(ValueError):
    """A form definition failed validation; ``.problems`` lists every problem found."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: list[Problem] = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''} in form definition:\n{lines}"
        )


class FormNotFound(ValueError):
    """No shipped form definition has the requested id (and version)."""

    def __init__(self, form_id: str, version: int | None = None) -> None:
        self.form_id = form_id
        self.version = version
        what = f"{form_id!r}" if version is None else f"{form_id!r} version {version}"
        super().__init__(f"no form definition {what}")


AnswerProblemCode = Literal[
    "unknown_item",
    "not_an_integer",
    "out_of_range",
    "not_text",
    "too_long",
    "invalid_character",
]


@dataclass(frozen=True, slots=True)
class AnswerProblem:
    """One problem in a respondent's answers.

    Attributes
    ----------
    item_key : str
        The item (answer column) concerned, or the unknown key that was submitted.
    code : str
        Stable problem code: ``unknown_item``, ``not_an_integer``, ``out_of_range`` for answer
        codes; ``not_text``, ``too_long``, ``invalid_character`` for the free-text comment.
    detail : str
        An English explanation for logs and developers (the web layer translates ``code``).
    """

    item_key: str
    code: AnswerProblemCode
    detail: str


class InvalidAnswers(ValueError):
    """Answers do not fit the form; ``.problems`` lists every problem at once."""

    def __init__(self, problems: Iterable[AnswerProblem]) -> None:
        self.problems: list[AnswerProblem] = list(problems)
        summary = "; ".join(f"{p.item_key}: {p.code} ({p.detail})" for p in self.problems)
        super().__init__(f"invalid answers: {summary}")
