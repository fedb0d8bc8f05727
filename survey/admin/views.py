"""Officials' pages: sign in/out, an index, and the counters list with QR downloads.

An official scoped to an agency sees that agency's counters and those of the agencies under it.
A counter's QR downloads and printable sheet take an optional ``?field=`` (a field code) that fixes
the procedure field in the QR code (``?f=``); without it the QR code carries no field and the
counter's default field, if it has one, applies when the code is scanned.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from survey import qrcodes, ratelimits, repository
from survey.admin import bp
from survey.auth import LoginForm, authenticate, safe_next_url
from survey.errors import error_response
from survey.models import Counter
from survey.qr_cli import sheet_entry


def _base_url() -> str:
    return current_app.config.get("SIPAS_PUBLIC_BASE_URL") or request.host_url.rstrip("/")


def _visible_counters() -> list[Counter]:
    """Counters the signed-in official may see, ordered by agency and code."""
    counters = repository.list_counters()
    scope = current_user.agency_id
    if scope is None:
        return counters
    allowed = {scope}
    agencies = repository.list_agencies()
    grew = True
    while grew:
        before = len(allowed)
        allowed |= {a.id for a in agencies if a.parent_id in allowed}
        grew = len(allowed) > before
    return [c for c in counters if c.agency_id in allowed]


def _counter_or_404(code: str) -> Counter:
    for counter in _visible_counters():
        if counter.code == code:
            return counter
    abort(404)


def _requested_field_code() -> str | None:
    """The field code of ``?field=``, or None when it is absent or blank.

    Returns
    -------
    str or None
        A code that exists in the catalogue.

    Raises
    ------
    werkzeug.exceptions.HTTPException
        A 404 page (or JSON) saying, in the user's language, that the field is unknown.
    """
    field_code = request.args.get("field", "").strip()
    if not field_code:
        return None
    if repository.get_field(field_code) is None:
        message = _("No procedure field has the code “%(code)s”.", code=field_code)
        abort(make_response(error_response(404, "unknown_field", message)))
    return field_code


@bp.route("/login", methods=["GET", "POST"])
@ratelimits.limit("SIPAS_LOGIN_RATE_LIMIT")
def login() -> ResponseReturnValue:
    """Sign-in form for officials."""
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(safe_next_url(request.args.get("next"), url_for(".index")))
        flash(_("Wrong username or password."), "error")
        return render_template("admin/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("admin/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """Sign out (POST with the CSRF token)."""
    logout_user()
    return redirect(url_for(".login"))


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    """Officials' start page."""
    return render_template("admin/index.html")


@bp.route("/counters")
@login_required
def counters() -> ResponseReturnValue:
    """Agencies and their counters, with QR downloads and printable sheets (per field too)."""
    return render_template(
        "admin/counters.html", counters=_visible_counters(), fields=repository.list_fields()
    )


@bp.route("/counters/<code>/qr.<any(png, svg):fmt>")
@login_required
def counter_qr(code: str, fmt: str) -> ResponseReturnValue:
    """Download a counter's QR code as PNG or SVG (``?field=`` fixes the procedure field)."""
    counter = _counter_or_404(code)
    field_code = _requested_field_code()
    url = qrcodes.counter_url(_base_url(), counter.code, field_code)
    filename = qrcodes.download_name(counter.code, fmt, field_code)
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "png":
        return Response(qrcodes.qr_png(url), mimetype="image/png", headers=disposition)
    return Response(qrcodes.qr_svg(url), mimetype="image/svg+xml", headers=disposition)


@bp.route("/counters/<code>/sheet")
@login_required
def counter_sheet(code: str) -> ResponseReturnValue:
    """A printable A4 (default) or A6 sheet for one counter (``?size=a6``, ``?field=``)."""
    size = request.args.get("size", "a4")
    if size not in qrcodes.SHEET_SIZES:
        abort(404)
    counter = _counter_or_404(code)
    entry = sheet_entry(counter, _base_url(), _requested_field_code())
    return qrcodes.render_sheet([entry], size)  # type: ignore[arg-type]


@bp.route("/counters/sheet")
@login_required
def all_sheets() -> ResponseReturnValue:
    """Printable sheets for every active counter the official can see."""
    size = request.args.get("size", "a4")
    if size not in qrcodes.SHEET_SIZES:
        abort(404)
    active = [c for c in _visible_counters() if c.active]
    if not active:
        abort(404)
    entries = [sheet_entry(c, _base_url()) for c in active]
    return qrcodes.render_sheet(entries, size)  # type: ignore[arg-type]
