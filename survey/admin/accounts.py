"""Admin pages for accounts and API keys: create accounts (role and agency), set a new password,
disable; create API keys (optionally limited to an agency's subtree; the key is shown once),
list and revoke them. Administrators only."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from survey import repository
from survey.access import ADMIN, roles_required
from survey.admin import bp
from survey.admin.forms import ActionForm, ApiKeyForm, PasswordForm, UserForm
from survey.admin.messages import account_message
from survey.repository import AccountError


def _agency_choices(blank_label: str) -> list[SelectChoice]:
    return [SelectChoice("", blank_label)] + [
        SelectChoice(a.code, f"{a.name_vi} ({a.code})") for a in repository.list_agencies()
    ]


def _user_form() -> UserForm:
    form = UserForm()
    form.agency.choices = _agency_choices(_("— none (whole province) —"))
    return form


def _users_page(form: UserForm, status: int = 200) -> ResponseReturnValue:
    return (
        render_template(
            "admin/users.html", users=repository.list_users(), form=form, action=ActionForm()
        ),
        status,
    )


@bp.route("/users")
@roles_required(ADMIN)
def users() -> ResponseReturnValue:
    """Every account, and the form to create one."""
    return _users_page(_user_form())


@bp.route("/users", methods=["POST"])
@roles_required(ADMIN)
def users_create() -> ResponseReturnValue:
    """Create an account; an official needs an agency, admins and analysts must have none."""
    form = _user_form()
    if not form.validate_on_submit():
        return _users_page(form, status=400)
    try:
        user = repository.create_user(
            form.login.data or "",
            form.password.data or "",
            role=form.role.data or "",
            display_name=form.display_name.data or "",
            agency_code=form.agency.data or None,
        )
    except AccountError as exc:
        flash(account_message(exc), "error")
        return _users_page(form, status=400)
    flash(_("Account %(login)s created.", login=user.username), "info")
    return redirect(url_for(".users"))


def _account_or_404(login: str) -> object:
    user = repository.get_user(login) if login and len(login) <= 64 else None
    if user is None:
        abort(404)
    return user


@bp.route("/users/password", methods=["GET", "POST"])
@roles_required(ADMIN)
def user_password() -> ResponseReturnValue:
    """Set a new password for ``?login=``; every session of that account ends."""
    login = request.args.get("login", "")
    user = _account_or_404(login)
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            repository.set_password(login, form.password.data or "")
        except AccountError as exc:
            flash(account_message(exc), "error")
            status = 400
        else:
            flash(
                _("New password set for %(login)s; its sessions have ended.", login=login), "info"
            )
            return redirect(url_for(".users"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_password.html", user=user, form=form), status


@bp.route("/users/disable", methods=["POST"])
@roles_required(ADMIN)
def user_disable() -> ResponseReturnValue:
    """Disable an account (not one's own): it can no longer sign in; its sessions end."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    login = form.target.data or ""
    _account_or_404(login)
    if login == current_user.username:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for(".users"))
    repository.disable_user(login)
    flash(_("Account %(login)s disabled; its sessions have ended.", login=login), "info")
    return redirect(url_for(".users"))


def _key_form() -> ApiKeyForm:
    form = ApiKeyForm()
    form.agency.choices = _agency_choices(_("— every agency —"))
    return form


def _keys_page(
    form: ApiKeyForm, new_key: str | None = None, status: int = 200
) -> ResponseReturnValue:
    html = render_template(
        "admin/apikeys.html",
        keys=repository.list_api_keys(),
        form=form,
        action=ActionForm(),
        new_key=new_key,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.route("/apikeys")
@roles_required(ADMIN)
def apikeys() -> ResponseReturnValue:
    """Every API key (never the key itself), and the form to create one."""
    return _keys_page(_key_form())


@bp.route("/apikeys", methods=["POST"])
@roles_required(ADMIN)
def apikeys_create() -> ResponseReturnValue:
    """Create a key and show it once on this answer (it is not stored, only its hash)."""
    form = _key_form()
    if not form.validate_on_submit():
        return _keys_page(form, status=400)
    try:
        key = repository.create_api_key(form.name.data or "", agency_code=form.agency.data or None)
    except AccountError as exc:
        flash(account_message(exc), "error")
        return _keys_page(form, status=400)
    return _keys_page(_key_form(), new_key=key, status=201)


@bp.route("/apikeys/revoke", methods=["POST"])
@roles_required(ADMIN)
def apikeys_revoke() -> ResponseReturnValue:
    """Revoke a key by its number."""
    form = ActionForm()
    if not form.validate_on_submit() or not (form.target.data or "").isdigit():
        abort(400)
    try:
        key = repository.revoke_api_key(int(form.target.data or "0"))
    except AccountError as exc:
        flash(account_message(exc), "error")
    else:
        flash(_("API key %(id)d (%(name)s) revoked.", id=key.id, name=key.name), "info")
    return redirect(url_for(".apikeys"))
