"""Admin pages for dossier-volume frames: upload a period's frame (CSV/XLSX, checked row by row;
a new upload replaces the period's frame), list the stored frames, and the coverage of a period:
responses against dossiers per unit and field. Administrators only."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey.access import ADMIN, roles_required
from survey.admin import bp
from survey.admin.forms import FrameForm
from survey.admin.uploads import saved_upload
from survey.errors import error_response
from survey.importing import ImportFailed, RowError
from survey.repository.frames import coverage, list_frames
from survey.volumes import is_period, store_volume_file


def _page(
    form: FrameForm, errors: list[RowError] | None = None, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template("admin/frames.html", form=form, errors=errors or [], frames=list_frames()),
        status,
    )


@bp.route("/frames")
@roles_required(ADMIN)
def frames() -> ResponseReturnValue:
    """The stored frames by period, and the upload form."""
    return _page(FrameForm())


@bp.route("/frames", methods=["POST"])
@roles_required(ADMIN)
def frames_upload() -> ResponseReturnValue:
    """Store an uploaded frame (replacing its periods' frames), then show its coverage."""
    form = FrameForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    with saved_upload(form.file.data) as path:
        try:
            stored = store_volume_file(path, period=form.period.data)
        except ImportFailed as exc:
            return _page(form, exc.errors, status=400)
    flash(
        _(
            "Stored %(cells)d cells for %(periods)s.",
            cells=stored.cells,
            periods=", ".join(stored.periods),
        ),
        "info",
    )
    if len(stored.periods) == 1:
        return redirect(url_for(".frames_coverage", period=stored.periods[0]))
    return redirect(url_for(".frames"))


@bp.route("/frames/coverage")
@roles_required(ADMIN)
def frames_coverage() -> ResponseReturnValue:
    """Responses against dossiers per unit and field for ``?period=``."""
    period = request.args.get("period", "").strip()
    if not is_period(period):
        message = _("Choose a period such as 2026, 2026-H1, 2026-Q3 or 2026-07.")
        return error_response(400, "bad_period", message)
    return render_template("admin/coverage.html", period=period, units=coverage(period))
