"""The admin pages' forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

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

    target = HiddenField(validators=[DataRequired(), Length(max=200)])


class ImportForm(FlaskForm):
    """A CSV or XLSX file for ``sipas import``'s checks."""

    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired()])


class FrameForm(FlaskForm):
    """A dossier-volume frame file, with the period for files without a period column."""

    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired()])
    period = StringField(_l("Period"), validators=[Optional(), Length(max=16)])


class RenameForm(FlaskForm):
    """The Vietnamese and English names of a unit, field, counter or procedure."""

    name_vi = StringField(_l("Name (Vietnamese)"), validators=[DataRequired(), Length(max=500)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=500)])


class UserForm(FlaskForm):
    """A new account."""

    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=255)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("official", _l("Official (one agency)")),
            SelectChoice("analyst", _l("Analyst (whole province)")),
            SelectChoice("admin", _l("Administrator")),
        ],
    )
    agency = SelectField(_l("Agency (officials only)"), choices=[], validate_choice=False)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    """A new password for an account."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])


class ApiKeyForm(FlaskForm):
    """A new API key, optionally limited to an agency's subtree."""

    name = StringField(_l("Name (who uses the key)"), validators=[DataRequired(), Length(max=100)])
    agency = SelectField(_l("Agency scope"), choices=[], validate_choice=False)
