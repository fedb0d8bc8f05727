"""The admin pages' forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

# WTForms has no Vietnamese messages: every validator gets its message from our catalog.
_REQUIRED = _l("This field is required.")
_TOO_LONG = _l("This value is too long.")


def _required() -> DataRequired:
    return DataRequired(message=_REQUIRED)


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=_TOO_LONG)


__all__ = [
    "ActionForm",
    "ApiKeyForm",
    "FrameForm",
    "ImportForm",
    "PasswordForm",
    "RenameForm",
    "UserForm",
]


class ActionForm(FlaskForm):
    """A button that changes one thing (deactivate, disable, revoke): only the CSRF token and
    the target."""

    target = HiddenField(validators=[_required(), _at_most(200)])


class ImportForm(FlaskForm):
    """A CSV or XLSX file for ``sipas import``'s checks."""

    file = FileField(
        _l("CSV or XLSX file"), validators=[FileRequired(message=_l("Choose a CSV or XLSX file."))]
    )


class FrameForm(FlaskForm):
    """A dossier-volume frame file, with the period for files without a period column."""

    file = FileField(
        _l("CSV or XLSX file"), validators=[FileRequired(message=_l("Choose a CSV or XLSX file."))]
    )
    period = StringField(_l("Period"), validators=[Optional(), _at_most(16)])


class RenameForm(FlaskForm):
    """The Vietnamese and English names of a unit, field, counter or procedure."""

    name_vi = StringField(_l("Name (Vietnamese)"), validators=[_required(), _at_most(500)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), _at_most(500)])


class UserForm(FlaskForm):
    """A new account."""

    login = StringField(_l("Login"), validators=[_required(), _at_most(64)])
    display_name = StringField(_l("Display name"), validators=[Optional(), _at_most(255)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("official", _l("Official (one agency)")),
            SelectChoice("analyst", _l("Analyst (whole province)")),
            SelectChoice("admin", _l("Administrator")),
        ],
        validate_choice=False,  # create_user refuses an unknown role in the user's language
    )
    agency = SelectField(_l("Agency (officials only)"), choices=[], validate_choice=False)
    password = PasswordField(_l("Password"), validators=[_required(), _at_most(256)])


class PasswordForm(FlaskForm):
    """A new password for an account."""

    password = PasswordField(_l("New password"), validators=[_required(), _at_most(256)])


class ApiKeyForm(FlaskForm):
    """A new API key, optionally limited to an agency's subtree."""

    name = StringField(_l("Name (who uses the key)"), validators=[_required(), _at_most(100)])
    agency = SelectField(_l("Agency scope"), choices=[], validate_choice=False)
