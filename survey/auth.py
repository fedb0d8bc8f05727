"""Sign-in for every account (``/login``, ``/logout``): Flask-Login sessions and password checks.

Accounts are :class:`survey.models.User` rows (werkzeug salted password hashes) created with
``sipas users create`` or on the admin pages. The session cookie carries the user's id and
``session_epoch`` (:meth:`User.get_id`); signing out and changing the password raise the epoch,
so every cookie issued before stops working, even one copied from the browser. Sign-in attempts
are rate-limited per client address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from survey import ratelimits
from survey.extensions import db, login_manager
from survey.models import User

__all__ = ["LoginForm", "authenticate", "bp", "end_sessions", "home_url", "safe_next_url"]

bp = Blueprint("auth", __name__)

# Compared against when the username is unknown, so that both cases take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Flask-Login: the active user of ``"<id>:<epoch>"`` while the epoch still matches."""
    user_id, _, epoch = session_id.partition(":")
    try:
        user = db.session.get(User, int(user_id))
        epoch_number = int(epoch)
    except (TypeError, ValueError):
        return None
    if user is None or not user.active or user.session_epoch != epoch_number:
        return None
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session cookie issued to ``user`` so far (the caller commits)."""
    user.session_epoch = (user.session_epoch or 0) + 1


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


def home_url() -> str:
    """Where a signed-in account starts: the reports."""
    return url_for("reports.overview")


@bp.route("/login", methods=["GET", "POST"])
@ratelimits.limit("SIPAS_LOGIN_RATE_LIMIT")
def login() -> ResponseReturnValue:
    """The one sign-in page for administrators, analysts and officials."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next_url(request.args.get("next"), home_url()))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(safe_next_url(request.args.get("next"), home_url()))
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """Sign out (POST with the CSRF token); every session of the account ends."""
    if current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        if user is not None:
            end_sessions(user)
            db.session.commit()
    logout_user()
    return redirect(url_for(".login"))
