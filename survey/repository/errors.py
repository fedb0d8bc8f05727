"""Why a submission is refused: one exception per stable code (messages are translated by the
web layer from ``survey.errors.SUBMISSION_MESSAGES``)."""

from __future__ import annotations

__all__ = [
    "ConflictingResubmission",
    "InvalidAnswers",
    "SubmissionError",
    "TokenAlreadyUsed",
    "UnknownAgency",
    "UnknownCounter",
    "UnknownField",
    "UnknownForm",
    "UnknownProcedure",
    "WrongFormVersion",
]


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
