"""Officials' sign-in: Flask-Login session, a CSRF-protected login form, password checks.

Accounts are :class:`survey.models.User` rows created with ``repository.create_user`` (werkzeug
salted password hashes). Login attempts are rate-limited per client address in the admin views.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from survey.extensions import db, login_manager
from survey.models import User

__all__ = ["LoginForm", "authenticate", "safe_next_url"]

# Compared against when the username is unknown, so that both cases take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

login_manager.login_view = "admin.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login: the active user with this id, or ``None``."""
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    """Username and password (CSRF token included by Flask-WTF)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or ``None`` (same work either way)."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def safe_next_url(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site (no scheme, no host), else ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target
