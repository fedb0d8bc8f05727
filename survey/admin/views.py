"""Administration pages: an index and the counters list with QR downloads.

Sign-in is at ``/login`` (:mod:`survey.auth`); ``/admin/login`` redirects there. Every role may
list counters and print their QR codes: an official sees those of their agency's subtree only
(:mod:`survey.access`).
A counter's QR downloads and printable sheet take an optional ``?field=`` (a field code) that fixes
the procedure field in the QR code (``?f=``); without it the QR code carries no field and the
counter's default field, if it has one, applies when the code is scanned.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from survey import qrcodes, repository
from survey.access import REPORT_ROLES, roles_required, scope_of
from survey.admin import bp
from survey.errors import error_response
from survey.models import Counter
from survey.qr_cli import sheet_entry


def _base_url() -> str:
    return current_app.config.get("SIPAS_PUBLIC_BASE_URL") or request.host_url.rstrip("/")


def _visible_counters() -> list[Counter]:
    """Counters the signed-in official may see, ordered by agency and code."""
    scope = scope_of(current_user, repository.list_agencies())
    return [c for c in repository.list_counters() if scope.allows(c.agency_id)]


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


@bp.route("/login")
def login() -> ResponseReturnValue:
    """The former sign-in address: the one sign-in page is ``/login``."""
    return redirect(url_for("auth.login", **request.args), code=301)


@bp.route("/")
@roles_required(*REPORT_ROLES)
def index() -> ResponseReturnValue:
    """Officials' start page."""
    return render_template("admin/index.html")


@bp.route("/counters")
@roles_required(*REPORT_ROLES)
def counters() -> ResponseReturnValue:
    """Agencies and their counters, with QR downloads and printable sheets (per field too)."""
    return render_template(
        "admin/counters.html", counters=_visible_counters(), fields=repository.list_fields()
    )


@bp.route("/counters/<code>/qr.<any(png, svg):fmt>")
@roles_required(*REPORT_ROLES)
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
@roles_required(*REPORT_ROLES)
def counter_sheet(code: str) -> ResponseReturnValue:
    """A printable A4 (default) or A6 sheet for one counter (``?size=a6``, ``?field=``)."""
    size = request.args.get("size", "a4")
    if size not in qrcodes.SHEET_SIZES:
        abort(404)
    counter = _counter_or_404(code)
    entry = sheet_entry(counter, _base_url(), _requested_field_code())
    return qrcodes.render_sheet([entry], size)  # type: ignore[arg-type]


@bp.route("/counters/sheet")
@roles_required(*REPORT_ROLES)
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
