"""Admin page: the questionnaire versions that responses were given on. Administrators only."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from survey.access import ADMIN, roles_required
from survey.admin import bp
from survey.repository.questionnaires import form_versions_in_use


@bp.route("/forms")
@roles_required(ADMIN)
def form_versions() -> ResponseReturnValue:
    """Form id, version, content hash, first seen, responses."""
    return render_template("admin/versions.html", versions=form_versions_in_use())
