"""Admin pages for the unit catalogue: agencies (units), procedure fields, counters and
procedures. List them, import CSV/XLSX through :mod:`survey.importing` (its row-level errors shown
on the page; nothing written when a row is wrong), rename, and (de)activate counters.
Administrators only."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey import repository
from survey.access import ADMIN, roles_required
from survey.admin import bp
from survey.admin.forms import ActionForm, ImportForm, RenameForm
from survey.admin.messages import edit_message
from survey.admin.uploads import saved_upload
from survey.importing import COLUMNS, ImportFailed, RowError, import_file
from survey.repository.editing import EditError, rename_unit, set_counter_active

KINDS = {
    "units": _l("Units (agencies)"),
    "fields": _l("Procedure fields"),
    "counters": _l("Counters"),
    "procedures": _l("Procedures"),
}
_KIND = "<any(units, fields, counters, procedures):kind>"


def _rows(kind: str) -> list[Any]:
    listing = {
        "units": repository.list_agencies,
        "fields": repository.list_fields,
        "counters": repository.list_counters,
        "procedures": repository.list_procedures,
    }[kind]
    return listing()


def _entry_or_404(kind: str, code: str) -> Any:
    if not code or len(code) > 64 or any(ord(ch) < 32 for ch in code):
        abort(404)
    getter = {
        "units": repository.get_agency,
        "fields": repository.get_field,
        "counters": repository.get_counter,
        "procedures": repository.get_procedure,
    }[kind]
    entry = getter(code)
    if entry is None:
        abort(404)
    return entry


def _page(
    kind: str, form: ImportForm, errors: list[RowError] | None = None, status: int = 200
) -> ResponseReturnValue:
    required, optional = COLUMNS[kind]
    return (
        render_template(
            "admin/catalogue.html",
            kind=kind,
            title=KINDS[kind],
            kinds=KINDS,
            rows=_rows(kind),
            form=form,
            errors=errors or [],
            required=required,
            optional=optional,
            action=ActionForm(),
        ),
        status,
    )


@bp.route(f"/catalogue/{_KIND}")
@roles_required(ADMIN)
def catalogue(kind: str) -> ResponseReturnValue:
    """List one kind of unit, with the import form."""
    return _page(kind, ImportForm())


@bp.route(f"/catalogue/{_KIND}/import", methods=["POST"])
@roles_required(ADMIN)
def catalogue_import(kind: str) -> ResponseReturnValue:
    """Import a CSV or XLSX file: all rows or none, every error listed by row and column."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(kind, form, status=400)
    with saved_upload(form.file.data) as path:
        try:
            summary = import_file(kind, path)
        except ImportFailed as exc:
            return _page(kind, form, exc.errors, status=400)
    flash(
        _(
            "Imported: %(created)d created, %(updated)d updated.",
            created=summary.created,
            updated=summary.updated,
        ),
        "info",
    )
    return redirect(url_for(".catalogue", kind=kind))


@bp.route(f"/catalogue/{_KIND}/edit", methods=["GET", "POST"])
@roles_required(ADMIN)
def catalogue_edit(kind: str) -> ResponseReturnValue:
    """Rename one entry (``?code=``); codes never change."""
    entry = _entry_or_404(kind, request.args.get("code", ""))
    form = RenameForm(obj=entry)
    status = 200
    if form.validate_on_submit():
        try:
            rename_unit(kind, entry.code, form.name_vi.data or "", form.name_en.data or "")
        except EditError as exc:
            flash(edit_message(exc), "error")
            status = 400
        else:
            flash(_("Saved the names of %(code)s.", code=entry.code), "info")
            return redirect(url_for(".catalogue", kind=kind))
    elif request.method == "POST":
        status = 400
    return (
        render_template(
            "admin/catalogue_edit.html", kind=kind, title=KINDS[kind], entry=entry, form=form
        ),
        status,
    )


@bp.route("/catalogue/counters/<any(activate, deactivate):change>", methods=["POST"])
@roles_required(ADMIN)
def counter_active(change: str) -> ResponseReturnValue:
    """Deactivate a counter (its QR code stops taking answers) or activate it again."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    counter = _entry_or_404("counters", form.target.data or "")
    set_counter_active(counter.code, change == "activate")
    if change == "activate":
        flash(_("Counter %(code)s is active again.", code=counter.code), "info")
    else:
        flash(_("Counter %(code)s no longer takes answers.", code=counter.code), "info")
    return redirect(url_for(".catalogue", kind="counters"))
