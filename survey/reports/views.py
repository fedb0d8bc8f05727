"""Routes of the reports blueprint: parse the parameters, compute, render or download.

Every route checks the role first (:func:`survey.access.roles_required`) and then the unit: an
official asking for a unit outside their subtree gets 404, the same as for a unit that does
not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn

from flask import abort, current_app, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from analysis.coverage import DEFAULT_MIN_RATE
from survey import repository
from survey.access import REPORT_ROLES, roles_required, scope_of
from survey.errors import error_response
from survey.i18n import language_links
from survey.reports import bp, builders
from survey.reports.context import ReportContext, design_sentence, load_context
from survey.reports.downloads import download
from survey.reports.params import BadParameter, ReportParams, parse_params


@bp.app_template_global()
def report_url(endpoint: str, params: ReportParams, **changes: object) -> str:
    """A report URL that keeps the page's filters (``changes`` set or drop parameters)."""
    from flask import url_for

    path_args = {k: changes.pop(k) for k in ("code",) if k in changes}
    return url_for(endpoint, **path_args, **params.query(**changes))


@bp.context_processor
def _helpers() -> dict[str, object]:
    return {"language_links": language_links}


def _refuse(name: str, message: str) -> NoReturn:
    """Answer 400 ``bad_parameter`` naming the parameter (JSON or page)."""
    abort(make_response(error_response(400, "bad_parameter", message, parameter=name)))


def _bad_parameter(exc: BadParameter) -> NoReturn:
    _refuse(
        exc.name, _("Bad parameter “%(name)s”: %(message)s", name=exc.name, message=exc.message)
    )


def _request(page_params: tuple[str, ...] = ()) -> tuple[ReportParams, ReportContext]:
    """The checked parameters and the context of this request (400 on a bad parameter)."""
    repeated = [name for name, values in request.args.lists() if len(values) > 1]
    try:
        if repeated:
            raise BadParameter(repeated[0], "give this parameter once")
        params = parse_params(
            request.args.to_dict(flat=True),
            today=datetime.now(UTC).date(),
            page_params=page_params,
        )
        scope = scope_of(current_user, repository.list_agencies())
        context = load_context(params, scope)
    except BadParameter as exc:
        _bad_parameter(exc)
    return params, context


def _build(builder: Callable[..., builders.Page], *args: object) -> builders.Page:
    """Run a page builder; a parameter it refuses (sort, trend, a missing frame) is a 400."""
    try:
        return builder(*args)
    except BadParameter as exc:
        _bad_parameter(exc)


def _respond(template: str, page: builders.Page, params: ReportParams, context: ReportContext):
    """Render the page, its print view, or its tables as CSV / XLSX."""
    notes = {
        "period": params.period_label,
        "filters": ", ".join(f"{k}={v}" for k, v in params.query().items()) or "-",
        "design": design_sentence(context, params, _),
        "reliability rule": builders.reliability_rule_text(),
        "interval method": f"{params.ci}, {100 * params.level:g}%",
        "form": f"{context.form.id}@{context.form.version}",
    }
    absorbed = context.absorbed(params.lineage_date)
    if len(absorbed):
        notes["merged units"] = "; ".join(
            f"{row.predecessor_code} → {row.successor_code} ({row.effective_on:%d/%m/%Y})"
            for row in absorbed.itertuples()
        )
    if params.format in ("csv", "xlsx"):
        return download(params.format, page.filename, page.tables, notes)
    return render_template(
        template,
        page=page,
        params=params,
        context=context,
        design=notes["design"],
        printing=params.format == "print",
        lang=str(get_locale()),
        fields=sorted(context.fields.values(), key=lambda f: f.code),
        visible_units=builders.visible_units(context, params),
        min_rate=f"{100 * DEFAULT_MIN_RATE:g}%",
    )


@bp.route("/")
@roles_required(*REPORT_ROLES)
def overview() -> ResponseReturnValue:
    """Every unit the account may see, with SIPAS, factors, intervals, marks and ranks."""
    params, context = _request(page_params=("sort",))
    page = _build(builders.overview_page, context, params, str(get_locale()))
    return _respond("reports/overview.html", page, params, context)


@bp.route("/units/<code>")
@roles_required(*REPORT_ROLES)
def unit(code: str) -> ResponseReturnValue:
    """One unit: SIPAS, factors and criteria, trend, breakdowns, comments, where to improve."""
    params, context = _request(page_params=("trend", "q"))
    if not context.visible(code):
        abort(404)
    if params.unit is not None and params.unit != code:
        _refuse("unit", _("This page is about one unit: leave out the “unit” parameter."))
    page = _build(builders.unit_page, context, params, code, str(get_locale()))
    return _respond("reports/unit.html", page, params, context)


@bp.route("/fields/<code>")
@roles_required(*REPORT_ROLES)
def field(code: str) -> ResponseReturnValue:
    """One procedure field across the units that handle it."""
    params, context = _request(page_params=("sort", "trend"))
    if code not in context.fields:
        abort(404)
    if params.field_code is not None and params.field_code != code:
        _refuse("field", _("This page is about one field: leave out the “field” parameter."))
    page = _build(builders.field_page, context, params, code, str(get_locale()))
    return _respond("reports/field.html", page, params, context)


@bp.route("/par")
@roles_required(*REPORT_ROLES)
def par() -> ResponseReturnValue:
    """The SIPAS component of the PAR Index per unit: value, interval, points and rank."""
    params, context = _request()
    rule = current_app.config.get("SIPAS_PAR_RULE")
    page = _build(builders.par_page, context, params, str(get_locale()), rule)
    return _respond("reports/par.html", page, params, context)


@bp.route("/method")
@roles_required(*REPORT_ROLES)
def method() -> ResponseReturnValue:
    """How to read the figures: the index, intervals, reliability marks, ranks, weighting."""
    return render_template(
        "reports/method.html", lang=str(get_locale()), min_rate=f"{100 * DEFAULT_MIN_RATE:g}%"
    )
