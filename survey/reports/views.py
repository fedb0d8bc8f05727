"""Routes of the reports blueprint (thin: parse the parameters, compute, render or download)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from survey.access import REPORT_ROLES, roles_required
from survey.reports import bp


@bp.route("/")
@roles_required(*REPORT_ROLES)
def overview() -> ResponseReturnValue:
    """Every unit the account may see, with SIPAS, factors, intervals, marks and ranks."""
    return render_template("reports/method.html")


@bp.route("/par")
@roles_required(*REPORT_ROLES)
def par() -> ResponseReturnValue:
    """The SIPAS component of the PAR Index per unit: value, interval, points and rank."""
    return render_template("reports/method.html")


@bp.route("/method")
@roles_required(*REPORT_ROLES)
def method() -> ResponseReturnValue:
    """How to read the figures: the index, intervals, reliability marks, ranks, weighting."""
    return render_template("reports/method.html")
