"""What each report page shows: rows for the templates, tables for the downloads, chart inputs.

The figures come from :mod:`survey.reports.figures`; this module chooses the units the account
may see, names things in the page's language and shapes rows. It holds no statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from analysis.drivers import QUADRANTS, importance_performance
from analysis.funnel import funnel_limits, funnel_position
from analysis.par_index import RuleError, ScoringError, load_rule, score_par
from analysis.reliability import NCHS_2017
from analysis.results import RESULT_COLUMNS
from survey.privacy import mask_personal_numbers
from survey.reports import charts
from survey.reports.context import ReportContext
from survey.reports.figures import (
    INDEX_LEVELS,
    UnitFigures,
    breakdown,
    item_table,
    key_driver_table,
    unit_coverage,
    unit_figures,
)
from survey.reports.params import BadParameter, ReportParams
from survey.repository.comments import list_comments

__all__ = [
    "LEVEL_ORDER",
    "Coverage",
    "Estimate",
    "Page",
    "UnitRow",
    "estimate_of",
    "field_page",
    "indicator_labels",
    "lineage_notes",
    "long_table",
    "overview_page",
    "par_page",
    "reliability_of",
    "unit_page",
    "unit_rows",
    "visible_units",
]

LEVEL_ORDER = ("province", "department", "district", "commune")
COMPARISON_COLUMNS = [
    "vs_province",
    "p_province",
    "previous",
    "change",
    "change_p",
    "change_significant",
    "rank",
    "rank_low",
    "rank_high",
    "rank_of",
    "rank_band",
    "rank_previous",
    "places",
    "places_real",
]


def reliability_of(row: Any) -> str:
    """``suppressed``, ``caution`` (shown with a flag) or ``shown``."""
    if bool(row["suppressed"]):
        return "suppressed"
    if isinstance(row["flags"], str) and row["flags"]:
        return "caution"
    return "shown"


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimate as a page shows it (numbers on the 0–100 scale)."""

    estimate: float
    low: float
    high: float
    n: int
    reliability: str
    reason: str
    flags: str
    vs_province: str = ""
    change: float = float("nan")
    change_significant: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return bool(np.isfinite(self.estimate))


def estimate_of(row: Any) -> Estimate:
    """An :class:`Estimate` from a row of a result table (with or without comparisons)."""
    get = row.get if hasattr(row, "get") else lambda k, d=None: getattr(row, k, d)
    return Estimate(
        estimate=float(row["estimate"]),
        low=float(row["ci_low"]),
        high=float(row["ci_high"]),
        n=int(row["n"]),
        reliability=reliability_of(row),
        reason=str(row["suppression_reason"] or ""),
        flags=str(row["flags"] or ""),
        vs_province=str(get("vs_province", "") or ""),
        change=float(get("change", np.nan)),
        change_significant=bool(get("change_significant", False)),
        extra={
            k: get(k)
            for k in ("rank", "rank_low", "rank_high", "rank_of", "rank_band", "places")
            if k in row
        }
        | {"places_real": bool(get("places_real", False))},
    )


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit in a table of units: its SIPAS and factor estimates (``None``: no responses)."""

    code: str
    name: str
    level: str
    sipas: Estimate | None
    factors: dict[str, Estimate]


@dataclass(frozen=True, slots=True)
class Coverage:
    """A unit's responses against its dossiers (:func:`analysis.coverage.coverage`): ``rate``
    is NaN when unknown; ``flag`` is ``""``, ``low``, ``excess`` or ``not_in_frame``."""

    responses: int
    dossiers: float
    rate: float
    flag: str

    @property
    def known(self) -> bool:
        return bool(np.isfinite(self.rate))


COVERAGE_COLUMNS = ["responses", "dossiers", "coverage", "coverage_flag"]


def coverage_by_unit(table: pd.DataFrame | None) -> dict[str, Coverage] | None:
    """Each unit's :class:`Coverage` (``None``: no frame covers the period)."""
    if table is None:
        return None
    return {
        str(row.agency_code): Coverage(
            int(row.responses), float(row.dossiers), float(row.coverage), str(row.coverage_flag)
        )
        for row in table.itertuples()
    }


def with_coverage(main: pd.DataFrame, table: pd.DataFrame | None) -> pd.DataFrame:
    """``main`` (rows of units) with each unit's coverage columns (blank when unknown)."""
    if "agency_code" not in main.columns:
        return main
    if table is None:
        return main.assign(responses=np.nan, dossiers=np.nan, coverage=np.nan, coverage_flag="")
    own = table[["agency_code", *COVERAGE_COLUMNS]].astype({"agency_code": str})
    out = main.merge(own, on="agency_code", how="left")
    out["coverage_flag"] = out["coverage_flag"].fillna("")
    return out


def indicator_labels(form: Any, lang: str) -> dict[str, str]:
    """The label of every indicator of the form in ``lang`` (criteria, factors, aspects, SIPAS)."""
    labels = {"SIPAS": "SIPAS"}
    for aspect in form.aspects:
        labels[aspect.key] = aspect.label[lang]
    for factor in form.factors:
        labels[factor.key] = factor.label[lang]
    for item in form.rating_items:
        labels[item.key] = item.text[lang]
    return labels


def unit_name(context: ReportContext, code: str, lang: str) -> str:
    agency = context.by_code.get(code)
    if agency is None:
        return code
    return (agency.name_en or agency.name_vi) if lang == "en" else agency.name_vi


def unit_rows(
    context: ReportContext,
    figures: UnitFigures | None,
    codes: Sequence[str],
    lang: str,
) -> list[UnitRow]:
    """Rows for ``codes`` (every one listed, with or without responses)."""
    table = figures.table if figures is not None else pd.DataFrame(columns=["agency_code"])
    by_unit = {code: part for code, part in table.groupby("agency_code")} if len(table) else {}
    factor_keys = [f.key for f in context.form.factors]
    rows = []
    for code in codes:
        agency = context.by_code.get(code)
        part = by_unit.get(code)
        sipas = None
        factors: dict[str, Estimate] = {}
        if part is not None:
            top = part[part["level"] == "sipas"]
            if len(top) and np.isfinite(top.iloc[0]["estimate"]):
                sipas = estimate_of(top.iloc[0])
            for _i, r in part[part["level"] == "factor"].iterrows():
                if r["indicator"] in factor_keys:
                    factors[r["indicator"]] = estimate_of(r)
        rows.append(
            UnitRow(
                code=code,
                name=unit_name(context, code, lang),
                level=agency.level if agency is not None else "province",
                sipas=sipas,
                factors=factors,
            )
        )
    return rows


def sort_rows(rows: list[UnitRow], key: str) -> list[UnitRow]:
    """Sort units: ``sipas`` (highest first, the default), ``name``, ``n``, ``change``."""

    def value(row: UnitRow) -> tuple[int, Any]:
        if key == "name":
            return (0, row.name)
        if row.sipas is None:
            return (1, 0)
        number = {
            "sipas": -row.sipas.estimate,
            "n": -row.sipas.n,
            "change": -(row.sipas.change if np.isfinite(row.sipas.change) else -1e9),
        }[key]
        return (0, number)

    return sorted(rows, key=value)


def long_table(
    table: pd.DataFrame,
    names: Callable[[str], str],
    group: Sequence[str] = ("agency_code",),
    *,
    comparisons: bool = True,
) -> pd.DataFrame:
    """A result table in the long format of ``sipas analyze``, with names after the codes."""
    columns = [c for c in group if c in table.columns]
    out = table[columns].copy()
    if "agency_code" in columns:
        out.insert(columns.index("agency_code") + 1, "agency_name", table["agency_code"].map(names))
    for column in RESULT_COLUMNS:
        if column in table.columns:
            out[column] = table[column]
    if comparisons:
        for column in COMPARISON_COLUMNS:
            if column in table.columns:
                out[column] = table[column]
    return out.reset_index(drop=True)


def is_index(level: str) -> bool:
    return level in INDEX_LEVELS


def reliability_rule_text() -> str:
    rule = NCHS_2017
    return (
        f"NCHS 2017: suppressed when n_eff < {rule.min_n_eff:g}, CI width >= "
        f"{100 * rule.max_width:g} points or relative width > {100 * rule.max_relative_width:g}%; "
        f"caution when df < {rule.flag_df_below:g}"
    )


# --------------------------------------------------------------------------------------------
# Pages


@dataclass(frozen=True, slots=True)
class Page:
    """What a template renders and a download writes: ``tables`` (first = the main table)."""

    filename: str
    tables: dict[str, pd.DataFrame]
    data: dict[str, Any] = field(default_factory=dict)


SORTS = ("sipas", "name", "n", "change")
TRENDS = ("month", "quarter")


def visible_units(context: ReportContext, params: ReportParams) -> list[str]:
    """The units a page lists: the account's scope (and ``unit``'s subtree), province left out;
    not the units that did not exist during the period, nor the merged units whose responses
    this period reports under their successor."""
    if context.scope.whole_province:
        codes = [a.code for a in context.agencies if a.code != context.root]
    else:
        own = next(a.code for a in context.agencies if a.id == context.scope.root_id)
        codes = context.subtree(own)
    if params.unit is not None:
        allowed = set(context.subtree(params.unit))
        codes = [c for c in codes if c in allowed]
    merged = context.attribution(params.lineage_date)
    first, last = params.since.date(), (params.until - timedelta(days=1)).date()
    return [c for c in codes if c not in merged and context.valid_during(c, first, last)]


def lineage_notes(
    context: ReportContext, params: ReportParams, codes: Sequence[str], lang: str
) -> list[dict[str, str]]:
    """For each of ``codes`` that includes merged units' responses in this report: its
    ``code``, ``name``, the merged ``units`` (names) and the ``date`` they merged (dd/mm/yyyy),
    one entry per successor and date."""
    absorbed = context.absorbed(params.lineage_date)
    wanted = set(codes)
    notes = []
    for (successor, day), group in absorbed.groupby(["successor_code", "effective_on"]):
        if successor not in wanted:
            continue
        notes.append(
            {
                "code": str(successor),
                "name": unit_name(context, str(successor), lang),
                "units": ", ".join(unit_name(context, c, lang) for c in group["predecessor_code"]),
                "date": day.strftime("%d/%m/%Y"),
            }
        )
    return notes


def merged_into(
    context: ReportContext, params: ReportParams, code: str, lang: str
) -> dict[str, str] | None:
    """The unit whose figures include ``code``'s responses in this report (``None``: its own)."""
    target = context.attribution(params.lineage_date).get(code)
    if target is None:
        return None
    absorbed = context.absorbed(params.lineage_date)
    day = absorbed.loc[absorbed["predecessor_code"] == code, "effective_on"].iloc[0]
    return {
        "code": target,
        "name": unit_name(context, target, lang),
        "date": day.strftime("%d/%m/%Y"),
    }


def _names(context: ReportContext, lang: str) -> Callable[[str], str]:
    def name(code: str) -> str:
        if code == "*":
            return _("Whole province")
        return unit_name(context, code, lang)

    return name


def _tooltip(name: str, est: Estimate) -> str:
    return f"{name}: {est.estimate:.1f} ({est.low:.1f}–{est.high:.1f}), n = {est.n}"


def _mark_labels() -> dict[str, str]:
    return {
        "above": _("Significantly above the province"),
        "same": _("Not significantly different from the province"),
        "below": _("Significantly below the province"),
    }


def _ranked_chart(rows: Sequence[UnitRow], province: Estimate | None, title: str, lang: str):
    points = [
        charts.IntervalPoint(
            label=row.name,
            estimate=row.sipas.estimate,
            low=row.sipas.low,
            high=row.sipas.high,
            tooltip=_tooltip(row.name, row.sipas),
            mark=row.sipas.vs_province or "none",  # type: ignore[arg-type]
            muted=row.sipas.reliability == "suppressed",
            href=None,
        )
        for row in sorted((r for r in rows if r.sipas is not None), key=lambda r: -r.sipas.estimate)
        if np.isfinite(row.sipas.low) and np.isfinite(row.sipas.high)
    ]
    if not points:
        return None
    return charts.ranked_intervals_svg(
        points,
        center=province.estimate if province else None,
        center_label=_("Province %(value)s", value=f"{province.estimate:.1f}") if province else "",
        title=title,
        description=_(
            "Each unit's SIPAS index (dot) with its confidence interval (bar); the vertical line "
            "is the province. Units whose bar crosses the line are not clearly different from it."
        ),
        axis_label=_("SIPAS index (%)"),
        mark_labels=_mark_labels(),
        muted_label=_("Suppressed: too uncertain to publish"),
        lang=lang,
    )


def _funnel_chart(rows: Sequence[UnitRow], n_eff: dict[str, float], province: Estimate, lang: str):
    present = [r for r in rows if r.sipas is not None and n_eff.get(r.code, 0) > 0]
    if len(present) < 2:
        return None
    sizes = np.array([n_eff[r.code] for r in present])
    estimates = np.array([r.sipas.estimate for r in present])
    positions = funnel_position(estimates, sizes, province.estimate)
    grid = np.unique(np.geomspace(max(sizes.min() / 2, 5), sizes.max() * 1.5, 60))
    limits = funnel_limits(province.estimate, grid)
    scale = charts.suggested_x_scale(sizes)
    points = [
        charts.FunnelPoint(
            label=r.name,
            n=float(size),
            estimate=r.sipas.estimate,
            tooltip=_tooltip(r.name, r.sipas) + f", n* = {size:.0f}",
            position=str(pos),  # type: ignore[arg-type]
            muted=r.sipas.reliability == "suppressed",
        )
        for r, size, pos in zip(present, sizes, positions, strict=True)
    ]
    return charts.funnel_svg(
        points,
        [
            charts.FunnelLimit(float(x.n), float(x.level), float(x.low), float(x.high))
            for x in limits.itertuples()
        ],
        center=province.estimate,
        title=_("Funnel plot: SIPAS index against effective sample size"),
        description=_(
            "Units inside the funnel do not differ from the province by more than chance "
            "would allow at their sample size; the funnel narrows as the sample grows."
        ),
        x_label=_("Effective sample size (%(scale)s scale)", scale=scale),
        y_label=_("SIPAS index (%)"),
        limit_labels={
            0.95: _("%(level)s limits", level="95%"),
            0.998: _("%(level)s limits", level="99.8%"),
        },
        center_label=_("Province %(value)s", value=f"{province.estimate:.1f}"),
        x_scale=scale,
        lang=lang,
    )


def _province_estimate(figures: UnitFigures | None) -> Estimate | None:
    if figures is None:
        return None
    rows = figures.province()
    top = rows[rows["level"] == "sipas"]
    return estimate_of(top.iloc[0]) if len(top) and np.isfinite(top.iloc[0]["estimate"]) else None


def _grouped(rows: Sequence[UnitRow]) -> list[tuple[str, list[UnitRow]]]:
    groups: dict[str, list[UnitRow]] = {}
    for row in rows:
        groups.setdefault(row.level, []).append(row)
    return [(level, groups[level]) for level in LEVEL_ORDER if level in groups] + [
        (level, group) for level, group in groups.items() if level not in LEVEL_ORDER
    ]


def _sort_key(params: ReportParams) -> str:
    key = params.extra.get("sort", "sipas")
    if key not in SORTS:
        raise BadParameter("sort", f"use one of {', '.join(SORTS)}")
    return key


def _n_eff(figures: UnitFigures | None) -> dict[str, float]:
    if figures is None:
        return {}
    top = figures.headline()
    return dict(zip(top["agency_code"], top["n_eff"].astype(float), strict=True))


def overview_page(context: ReportContext, params: ReportParams, lang: str) -> Page:
    """Every visible unit: SIPAS and factors with intervals, marks, changes and ranks."""
    sort = _sort_key(params)
    figures = unit_figures(context, params)
    codes = visible_units(context, params)
    rows = sort_rows(unit_rows(context, figures, codes, lang), sort)
    province = _province_estimate(figures)
    groups = _grouped(rows)
    level_names = level_labels()
    ranked = [
        (level, _ranked_chart(group, province, level_names.get(level, level), lang))
        for level, group in groups
    ]
    funnel = _funnel_chart(rows, _n_eff(figures), province, lang) if province else None
    names = _names(context, lang)
    table = figures.table if figures is not None else pd.DataFrame(columns=["agency_code"])
    shown = table[table["agency_code"].isin([context.root, *codes])]
    covered = unit_coverage(context, params)
    main = with_coverage(long_table(shown, names), covered)
    return Page(
        filename="sipas-overview",
        tables={"indices": main},
        data={
            "groups": groups,
            "province": province,
            "coverage": coverage_by_unit(covered),
            "root": context.root,
            "factors": [(f.key, f.label[lang]) for f in context.form.factors],
            "ranked_charts": [(level, chart) for level, chart in ranked if chart is not None],
            "funnel": funnel,
            "level_names": level_names,
            "sort": sort,
            "empty": figures is None,
            "lineage_notes": lineage_notes(context, params, codes, lang),
        },
    )


def level_labels() -> dict[str, str]:
    return {
        "province": _("Province"),
        "department": _("Departments and agencies"),
        "district": _("Districts"),
        "commune": _("Communes and wards"),
    }


def _trend_chart(table: pd.DataFrame, title: str, lang: str):
    top = table[table["level"] == "sipas"] if len(table) else table
    if len(top) < 2:
        return None
    points = []
    for _i, row in top.sort_values("period").iterrows():
        est = estimate_of(row)
        ok = np.isfinite(est.estimate)
        points.append(
            charts.TrendPoint(
                label=str(row["period"]),
                estimate=est.estimate if ok else None,
                low=est.low if ok and np.isfinite(est.low) else None,
                high=est.high if ok and np.isfinite(est.high) else None,
                tooltip=_tooltip(str(row["period"]), est) if ok else str(row["period"]),
                muted=est.reliability == "suppressed",
            )
        )
    if not hasattr(charts, "trend_svg"):
        return None
    return charts.trend_svg(
        points,
        title=title,
        description=_("The SIPAS index by period (line) with its confidence interval (band)."),
        y_label=_("SIPAS index (%)"),
    )


def _trend_key(params: ReportParams) -> str:
    trend = params.extra.get("trend", "month")
    if trend not in TRENDS:
        raise BadParameter("trend", f"use one of {', '.join(TRENDS)}")
    return trend


def _estimates_by(table: pd.DataFrame, column: str, names: Callable[[str], str]) -> list[dict]:
    """Rows ``{code, name, sipas: Estimate}`` of a breakdown table (SIPAS level)."""
    if table.empty:
        return []
    out = []
    for _i, row in table[table["level"] == "sipas"].iterrows():
        est = estimate_of(row)
        if not np.isfinite(est.estimate):
            continue
        code = str(row[column])
        out.append({"code": code, "name": names(code), "sipas": est})
    return sorted(out, key=lambda r: -r["sipas"].estimate)


def _criteria(part: pd.DataFrame, labels: dict[str, str], form: Any) -> list[dict]:
    """Criteria of a unit grouped under their factor, in form order."""
    by_key = {r["indicator"]: r for _i, r in part[part["level"] == "criterion"].iterrows()}
    out = []
    for factor in form.factors:
        for key in factor.item_keys:
            if key in by_key:
                out.append(
                    {
                        "factor": factor.label,
                        "key": key,
                        "label": labels.get(key, key),
                        "estimate": estimate_of(by_key[key]),
                    }
                )
    return out


def _comments(context: ReportContext, params: ReportParams, codes: Sequence[str], lang: str):
    search = params.extra.get("q")
    comments, total = list_comments(
        context.form.id,
        agency_codes=codes,
        since=params.since,
        until=params.until,
        field_code=params.field_code,
        channel=params.channel,
        search=search,
        exclude_flags=params.exclude,
    )
    fields = context.fields
    rows = [
        {
            "date": c.submitted_at.strftime("%d/%m/%Y"),
            "unit": unit_name(context, c.agency_code, lang),
            "field": (
                (fields[c.field_code].name_en or fields[c.field_code].name_vi)
                if lang == "en"
                else fields[c.field_code].name_vi
            )
            if c.field_code in fields
            else "",
            "text": mask_personal_numbers(c.text),
        }
        for c in comments
    ]
    return rows, total


def _field_name(context: ReportContext, code: str, lang: str) -> str:
    found = context.fields.get(code)
    if found is None:
        return code
    return (found.name_en or found.name_vi) if lang == "en" else found.name_vi


def _counter_names(context: ReportContext, lang: str, unit: str) -> Callable[[str], str]:
    """Counter names; a counter of a unit below ``unit`` also names its unit (every unit has
    its own "Quầy số 1")."""
    from survey import repository

    counters = {c.code: c for c in repository.list_counters()}
    agencies = {a.id: a for a in context.agencies}

    def own(found: Any) -> str:
        return (found.name_en or found.name_vi) if lang == "en" else found.name_vi

    def name(code: str) -> str:
        found = counters.get(code)
        if found is None:
            return code or _("No counter")
        agency = agencies.get(found.agency_id)
        if agency is None or agency.code == unit:
            return own(found)
        return f"{own(found)} · {own(agency)}"

    return name


def unit_page(context: ReportContext, params: ReportParams, code: str, lang: str) -> Page:
    """One unit (with its subtree): every indicator, trend, breakdowns, comments, improvements."""
    trend_key = _trend_key(params)
    figures = unit_figures(context, params)
    names = _names(context, lang)
    labels = indicator_labels(context.form, lang)
    part = figures.unit(code) if figures is not None else pd.DataFrame()
    header = unit_rows(context, figures, [code], lang)[0]
    children = [c for c in context.children(code) if context.visible(c)]
    sub_rows = sort_rows(unit_rows(context, figures, children, lang), "sipas")
    province = _province_estimate(figures)

    trend = breakdown(context, params, ["period"], unit=code, period=trend_key)
    by_field = (
        breakdown(context, params, ["field_code"], unit=code)
        if params.field_code is None
        else pd.DataFrame()
    )
    by_counter = breakdown(context, params, ["counter_code"], unit=code)
    expectation = item_table(context, params, "expectation", unit=code)
    profile = item_table(context, params, "profile", unit=code)
    criteria = _criteria(part, labels, context.form) if len(part) else []
    shown = [c for c in criteria if c["estimate"].reliability != "suppressed"]
    weakest = sorted(shown, key=lambda c: c["estimate"].estimate)[:5]
    absorbed = context.absorbed(params.lineage_date)
    subtree = context.subtree(code)
    merged = absorbed.loc[absorbed["successor_code"].isin(subtree), "predecessor_code"]
    comments, comment_total = _comments(context, params, [*subtree, *merged], lang)
    drivers = key_driver_table(context, params, code)
    grid = _importance_performance(drivers, criteria, lang)

    field_names = {code_: _field_name(context, code_, lang) for code_ in context.fields}
    counter_name = _counter_names(context, lang, code)
    covered = unit_coverage(context, params)
    tables = {
        "indices": with_coverage(long_table(part, names), covered),
        "trend": long_table(trend, names, ("period",), comparisons=False),
        "by_field": long_table(by_field, names, ("field_code",), comparisons=False),
        "by_counter": long_table(by_counter, names, ("counter_code",), comparisons=False),
        "expectations": expectation,
        "profile": profile,
        "key_drivers": grid["table"],
    }
    if len(tables["by_field"]):
        tables["by_field"].insert(
            1, "field_name", tables["by_field"]["field_code"].map(field_names)
        )
    if len(tables["by_counter"]):
        tables["by_counter"].insert(
            1, "counter_name", tables["by_counter"]["counter_code"].map(counter_name)
        )
    return Page(
        filename=f"sipas-unit-{code}",
        tables=tables,
        data={
            "unit": header,
            "code": code,
            "province": province,
            "coverage": coverage_by_unit(covered),
            "indices": [
                (r["level"], labels.get(r["indicator"], r["indicator"]), estimate_of(r))
                for _i, r in part[part["level"].isin(INDEX_LEVELS)].iterrows()
            ]
            if len(part)
            else [],
            "criteria": criteria,
            "weakest": weakest,
            "below": [c for c in criteria if c["estimate"].vs_province == "below"],
            "sub_rows": sub_rows,
            "sub_chart": _ranked_chart(sub_rows, province, _("Units under this unit"), lang)
            if len(sub_rows) > 1
            else None,
            "trend_chart": _trend_chart(trend, _("Trend of the SIPAS index"), lang),
            "trend_rows": _estimates_by(trend, "period", str),
            "trend_key": trend_key,
            "by_field": _estimates_by(by_field, "field_code", lambda c: field_names.get(c, c)),
            "by_counter": _estimates_by(by_counter, "counter_code", counter_name),
            "expectation": _item_rows(expectation, context.form, lang),
            "profile": _item_rows(profile, context.form, lang),
            "comments": comments,
            "comment_total": comment_total,
            "ipa_chart": grid["chart"],
            "priorities": grid["priorities"],
            "driver_n": grid["n"],
            "search": params.extra.get("q", ""),
            "factors": [(f.key, f.label[lang]) for f in context.form.factors],
            "lineage_notes": lineage_notes(context, params, [code], lang),
            "merged_into": merged_into(context, params, code, lang),
        },
    )


def _importance_performance(drivers: pd.DataFrame, criteria: list[dict], lang: str) -> dict:
    """The importance–performance grid of the criteria that have an importance and a shown
    estimate: its table (for downloads), its chart and the criteria to concentrate on."""
    empty = {"table": pd.DataFrame(), "chart": None, "priorities": [], "n": 0}
    shown = {
        c["key"]: c
        for c in criteria
        if c["estimate"].reliability != "suppressed" and c["estimate"].estimate is not None
    }
    if drivers.empty:
        return empty
    drivers = drivers[drivers["criterion"].isin(list(shown))]
    if len(drivers) < 2:
        return empty
    performance = {key: float(shown[key]["estimate"].estimate) for key in drivers["criterion"]}
    table = importance_performance(drivers, performance)
    table = table.merge(drivers[["criterion", "model", "r2", "n"]], on="criterion")
    table.insert(1, "label", table["criterion"].map(lambda k: shown[k]["label"]))
    points = [
        charts.IpaPoint(
            label=row.label,
            performance=row.performance,
            importance=row.importance,
            tooltip=_("%(label)s: %(performance).1f%% satisfied; importance %(importance).3f")
            % {"label": row.label, "performance": row.performance, "importance": row.importance},
        )
        for row in table.itertuples()
    ]
    chart = charts.importance_performance_svg(
        points,
        x_cross=float(table["performance_mean"].iloc[0]),
        y_cross=float(table["importance_mean"].iloc[0]),
        title=_("Importance and performance of the criteria"),
        description=_(
            "Each point is a criterion: across, the share of satisfied citizens; up, how much "
            "the criterion moves satisfaction with the other services."
        ),
        x_label=_("Satisfied (%)"),
        y_label=_("Importance"),
        quadrant_labels=(
            _("Concentrate here"),
            _("Keep up the good work"),
            _("Low priority"),
            _("Possible overkill"),
        ),
        lang=lang,
    )
    focus = table[table["quadrant"] == QUADRANTS[(True, False)]]
    return {
        "table": table,
        "chart": chart,
        "priorities": list(focus["label"]),
        "n": int(table["n"].min()),
    }


def _item_rows(table: pd.DataFrame, form: Any, lang: str) -> list[dict]:
    """Item statistics as rows ``{item, category, estimate}`` with the form's labels."""
    if table.empty:
        return []
    out = []
    for _i, row in table.iterrows():
        item = form.item(row["item"])
        category = row.get("category", "")
        label = str(category)
        if item is not None and str(category) not in ("", "nan"):
            for choice in item.choices:
                if str(choice.code) == str(int(float(category))):
                    label = choice.label[lang]
        elif form.expectation_scale is not None and "category" in row:
            label = ""
        out.append(
            {
                "item": item.text[lang] if item is not None else row["item"],
                "category": label,
                "estimate": float(row["estimate"]),
                "low": float(row["ci_low"]),
                "high": float(row["ci_high"]),
                "n": int(row["n"]),
            }
        )
    return out


def field_page(context: ReportContext, params: ReportParams, code: str, lang: str) -> Page:
    """One procedure field across the units that handle it."""
    sort = _sort_key(params)
    trend_key = _trend_key(params)
    scoped = replace(params, field_code=code)
    figures = unit_figures(context, scoped)
    codes = visible_units(context, params)
    present = set(figures.headline()["agency_code"]) if figures is not None else set()
    rows = sort_rows(
        [
            r
            for r in unit_rows(context, figures, [c for c in codes if c in present], lang)
            if r.sipas is not None
        ],
        sort,
    )
    province = _province_estimate(figures)
    own = (
        None
        if context.scope.whole_province
        else next(a.code for a in context.agencies if a.id == context.scope.root_id)
    )
    trend = breakdown(context, scoped, ["period"], unit=own, period=trend_key)
    names = _names(context, lang)
    table = figures.table if figures is not None else pd.DataFrame(columns=["agency_code"])
    shown = table[table["agency_code"].isin([context.root, *codes])]
    main = long_table(shown, names)
    main.insert(0, "field_code", code)
    main.insert(1, "field_name", _field_name(context, code, lang))
    return Page(
        filename=f"sipas-field-{code}",
        tables={"indices": main, "trend": long_table(trend, names, ("period",), comparisons=False)},
        data={
            "code": code,
            "name": _field_name(context, code, lang),
            "rows": rows,
            "province": province,
            "factors": [(f.key, f.label[lang]) for f in context.form.factors],
            "chart": _ranked_chart(rows, province, _field_name(context, code, lang), lang),
            "trend_chart": _trend_chart(trend, _("Trend of the SIPAS index"), lang),
            "trend_key": trend_key,
            "sort": sort,
            "empty": figures is None,
        },
    )


def par_page(
    context: ReportContext, params: ReportParams, lang: str, rule_spec: str | None
) -> Page:
    """SIPAS value, interval, n, PAR points under the configured rule, and rank, per unit."""
    figures = unit_figures(context, params)
    codes = visible_units(context, params)
    rows = unit_rows(context, figures, codes, lang)
    rule, rule_error = None, None
    if rule_spec:
        try:
            rule = load_rule(rule_spec)
        except (RuleError, OSError, ValueError) as exc:
            rule_error = str(exc)
    points: dict[str, dict[str, Any]] = {}
    groups = _grouped([r for r in rows if r.sipas is not None])
    if rule is not None:
        for _level, group in groups:
            frame = pd.DataFrame(
                {
                    "unit": [r.code for r in group],
                    "indicator": "SIPAS",
                    "estimate": [r.sipas.estimate for r in group],
                }
            )
            try:
                scored = score_par(frame, rule)
            except ScoringError as exc:
                rule_error = str(exc)
                break
            for rec in scored.itertuples():
                points[str(rec.unit)] = {"points": rec.points, "max": rec.max_points}
    names = _names(context, lang)
    table_rows = []
    for level, group in groups:
        for r in sorted(group, key=lambda r: -r.sipas.estimate):
            extra = r.sipas.extra
            table_rows.append(
                {
                    "agency_code": r.code,
                    "agency_name": names(r.code),
                    "level": level,
                    "sipas": r.sipas.estimate,
                    "ci_low": r.sipas.low,
                    "ci_high": r.sipas.high,
                    "n": r.sipas.n,
                    "suppressed": r.sipas.reliability == "suppressed",
                    "points": points.get(r.code, {}).get("points", np.nan),
                    "max_points": points.get(r.code, {}).get("max", np.nan),
                    "rule": rule.id if rule is not None else "",
                    "rank": extra.get("rank"),
                    "rank_low": extra.get("rank_low"),
                    "rank_high": extra.get("rank_high"),
                    "rank_of": extra.get("rank_of"),
                }
            )
    table = pd.DataFrame(table_rows)
    return Page(
        filename="sipas-par",
        tables={"par": table},
        data={
            "groups": groups,
            "points": points,
            "rule": rule,
            "rule_error": rule_error,
            "rule_spec": rule_spec,
            "level_names": level_labels(),
            "province": _province_estimate(figures),
            "empty": figures is None,
        },
    )
