"""The admin pages' problems in the user's language.

The domain raises errors with stable codes and the values their messages name
(:class:`survey.importing.RowError`, :class:`survey.repository.AccountError`,
:class:`survey.repository.editing.EditError`); this module holds their translatable texts.
A frame's own checks (:mod:`analysis.frames`) report English sentences; :func:`frame_problem`
translates the sentences it knows and shows any other one as it is.
"""

from __future__ import annotations

import re

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from survey.importing import RowError
from survey.repository import AccountError
from survey.repository.editing import EditError

__all__ = ["account_message", "edit_message", "frame_problem", "row_error_message"]

IMPORT_MESSAGES: dict[str, LazyString] = {
    "unsupported_type": _l("Unsupported file type %(suffix)s: upload a .csv or .xlsx file."),
    "empty_file": _l("The file is empty (no header row)."),
    "not_utf8": _l("The file is not UTF-8 text (%(reason)s); save it as UTF-8 (CSV UTF-8)."),
    "unreadable_csv": _l("Cannot read the CSV file: %(reason)s."),
    "unreadable_workbook": _l("Cannot read the workbook: %(reason)s."),
    "missing_column": _l("This required column is missing."),
    "unknown_column": _l("Unknown column (expected: %(expected)s)."),
    "repeated_column": _l("This column appears twice."),
    "value_required": _l("A value is required."),
    "too_long": _l("Longer than %(limit)s characters."),
    "control_character": _l("Contains a control character (such as NUL); remove it."),
    "repeated_code": _l("Code %(code)s already appears on row %(first_row)s."),
    "unknown_level": _l("Unknown level %(level)s (expected one of %(expected)s)."),
    "unknown_agency": _l("Unknown agency %(code)s."),
    "unknown_field": _l("Unknown procedure field %(code)s."),
    "own_ancestor": _l("Agency %(code)s would be its own parent."),
    "bad_active": _l("Expected 1 or 0, got %(value)s."),
    "bad_date": _l("%(value)s is not a date (write 2025-07-01 or 01/07/2025)."),
    "bad_validity": _l("valid_from %(valid_from)s is after valid_until %(valid_until)s."),
    "period_missing": _l(
        "The file has no period column: add one, or choose the period in the form."
    ),
    "bad_period": _l("%(value)s is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-07)."),
}

# analysis.frames' sentences -> their translation (named groups fill the placeholders).
_FRAME_SENTENCES: tuple[tuple[re.Pattern[str], LazyString], ...] = (
    (re.compile(r"^required column is missing$"), _l("This required column is missing.")),
    (re.compile(r"^blank code$"), _l("The code is blank.")),
    (
        re.compile(r"^(?P<value>.+) is not a period \(.*\)$", re.S),
        _l("%(value)s is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-07)."),
    ),
    (
        re.compile(r"^periods mix granularities: (?P<kinds>.+)$", re.S),
        _l("The periods mix years, halves, quarters or months: %(kinds)s."),
    ),
    (re.compile(r"^volume is blank$"), _l("The number of dossiers is blank.")),
    (
        re.compile(r"^(?P<value>.+) is not a whole number of dossiers.*$", re.S),
        _l("%(value)s is not a whole number of dossiers (write 1649, not 1.649 or 1,649)."),
    ),
    (re.compile(r"^(?P<value>.+) is not a number$", re.S), _l("%(value)s is not a number.")),
    (re.compile(r"^(?P<value>.+) is not finite$", re.S), _l("%(value)s is not a finite number.")),
    (
        re.compile(r"^volume (?P<value>.+) is negative$", re.S),
        _l("The number of dossiers %(value)s is negative."),
    ),
    (
        re.compile(r"^duplicate cell (?P<cell>.+) \(rows (?P<rows>[\d, ]+)\)$", re.S),
        _l("The cell %(cell)s appears more than once (rows %(rows)s)."),
    ),
)

ACCOUNT_MESSAGES: dict[str, LazyString] = {
    "blank_username": _l("The login must not be blank."),
    "invalid_username": _l(
        "The login must have at most 64 characters, without spaces or control characters."
    ),
    "short_password": _l("The password must have at least 8 characters."),
    "invalid_password": _l("The password must have at most 256 characters and no NUL character."),
    "unknown_role": _l("Unknown role “%(role)s”."),
    "unknown_agency": _l("Unknown agency “%(agency)s”."),
    "agency_required": _l("An official needs an agency: choose the agency whose reports they see."),
    "agency_not_allowed": _l(
        "Administrators and analysts see the whole province: leave the agency empty."
    ),
    "invalid_display_name": _l("The display name must have at most 255 printable characters."),
    "username_taken": _l("The login “%(username)s” is already taken."),
    "unknown_user": _l("There is no account “%(username)s”."),
    "blank_key_name": _l("Give the key a name (who uses it)."),
    "invalid_key_name": _l("The key's name must have at most 100 printable characters."),
    "unknown_key": _l("There is no active API key “%(key)s”."),
    "ambiguous_key": _l("Several active keys are named “%(key)s”; revoke one by its number."),
}

EDIT_MESSAGES: dict[str, LazyString] = {
    "unknown_unit": _l("Nothing in the catalogue has this code."),
    "name_required": _l("The Vietnamese name must not be blank."),
    "name_too_long": _l("A name is too long."),
    "control_character": _l("A name must not contain control characters."),
}


def _fill(template: LazyString, params: dict[str, str]) -> str:
    return str(template) % params if params else str(template)


def frame_problem(sentence: str) -> str:
    """A problem sentence of :mod:`analysis.frames` in the user's language (if known)."""
    for pattern, template in _FRAME_SENTENCES:
        match = pattern.match(sentence)
        if match:
            return _fill(template, match.groupdict())
    return sentence


def row_error_message(error: RowError) -> str:
    """The message of an import or frame error in the user's language."""
    if error.code == "frame_problem":
        return frame_problem(error.params["problem"])
    template = IMPORT_MESSAGES.get(error.code)
    return error.message if template is None else _fill(template, dict(error.params))


def account_message(error: AccountError) -> str:
    """Why an account or key change was refused, in the user's language."""
    template = ACCOUNT_MESSAGES.get(error.code)
    return str(error) if template is None else _fill(template, dict(error.params))


def edit_message(error: EditError) -> str:
    """Why a catalogue change was refused, in the user's language."""
    template = EDIT_MESSAGES.get(error.code)
    return str(error) if template is None else str(template)
