"""What a report request is computed from: the form, the design, the units, the weights, the counts.

The reports' default design treats each response as its own sampling unit, stratified by
agency (counters are not sampled: every counter collects), unweighted or post-stratified to the
period's dossier volumes. ``SIPAS_REPORT_DESIGN`` changes it (a mapping with ``strata``, ``psu``,
``lonely_psu``, ``df``). Every count table comes from :func:`survey.statistics.build_counts`;
this module only chooses its arguments.

Units that merged (:mod:`analysis.lineage`) are reported under their successor: the responses
of a merged or renamed unit count as the successor's in every period of a report whose
reference day (:attr:`ReportParams.lineage_date`, the last day of the period) falls on or after
the change, before any count table is built. Strata follow the reported unit: the successor's
stratum holds its predecessors' responses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from flask import current_app
from werkzeug.exceptions import NotFound

from analysis import Calibration, Design
from analysis.errors import AnalysisError
from analysis.lineage import absorbed_units, attribution, map_codes, successors
from survey import repository
from survey.access import Scope
from survey.extensions import db
from survey.models import Agency, Field
from survey.reports.cache import ReportCache
from survey.reports.params import BadParameter, ReportParams
from survey.statistics import (
    CellWeights,
    NoResponsesError,
    counts_from_selection,
    select_responses,
)

__all__ = [
    "PROVINCE",
    "ReportContext",
    "design_sentence",
    "load_context",
    "report_design",
]

# The label of the whole province when the agencies have more than one root.
PROVINCE = "*"
_DESIGN_KEYS = ("strata", "psu", "lonely_psu", "df")
# Each response its own PSU, strata = agencies; an agency with a single response in the period
# is centred on the grand mean (R's options(survey.lonely.psu = "adjust")).
DEFAULT_DESIGN = {"strata": "agency_code", "psu": None, "lonely_psu": "adjust"}
_FILTER_COLUMNS = (("field_code", "field_code"), ("channel", "channel"))


def report_design(config: Mapping[str, Any]) -> Design:
    """The design of the reports from ``SIPAS_REPORT_DESIGN`` (default: strata = agency).

    Raises
    ------
    ValueError
        An unknown key or a value the engine refuses.
    """
    settings = dict(config.get("SIPAS_REPORT_DESIGN") or DEFAULT_DESIGN)
    unknown = sorted(set(settings) - set(_DESIGN_KEYS))
    if unknown:
        raise ValueError(f"SIPAS_REPORT_DESIGN: unknown key(s) {unknown}; use {_DESIGN_KEYS}")
    try:
        return Design(**settings)
    except (AnalysisError, TypeError) as exc:
        raise ValueError(f"SIPAS_REPORT_DESIGN: {exc}") from None


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a report computation needs besides the parameters."""

    form: Any
    design: Design
    agencies: tuple[Agency, ...]
    fields: Mapping[str, Field]
    scope: Scope
    root: str
    parents: Mapping[str, str | None]
    lineage: pd.DataFrame | None = None

    @property
    def by_code(self) -> dict[str, Agency]:
        return {a.code: a for a in self.agencies}

    def attribution(self, on: date) -> dict[str, str]:
        """``{merged unit: unit its responses count under}`` on ``on``
        (:func:`analysis.lineage.attribution`)."""
        if self.lineage is None or self.lineage.empty:
            return {}
        return attribution(self.lineage, on)

    def absorbed(self, on: date) -> pd.DataFrame:
        """``successor_code``, ``predecessor_code``, ``effective_on`` of the merged units
        reported under another unit on ``on``."""
        if self.lineage is None or self.lineage.empty:
            return pd.DataFrame(columns=["successor_code", "predecessor_code", "effective_on"])
        return absorbed_units(self.lineage, on)

    def successors(self, on: date) -> dict[str, tuple[str, ...]]:
        """The current unit(s) on ``on`` of every unit succeeded by then."""
        if self.lineage is None or self.lineage.empty:
            return {}
        return successors(self.lineage, on)

    def valid_during(self, code: str, first: date, last: date) -> bool:
        """Whether the unit existed on some day of ``[first, last]`` (open dates: always)."""
        agency = self.by_code.get(code)
        if agency is None:
            return True
        starts, ends = agency.valid_from, agency.valid_until
        return (starts is None or starts <= last) and (ends is None or ends >= first)

    def visible(self, code: str) -> bool:
        agency = self.by_code.get(code)
        return agency is not None and self.scope.allows(agency.id)

    def children(self, code: str) -> list[str]:
        return sorted(c for c, parent in self.parents.items() if parent == code)

    def subtree(self, code: str) -> list[str]:
        found, stack = [], [code]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children(current))
        return found


def load_context(params: ReportParams, scope: Scope) -> ReportContext:
    """Load the form, design and units of a request.

    Raises
    ------
    BadParameter
        An unknown form, version or field.
    NotFound
        A ``unit`` that does not exist or lies outside the account's scope.
    """
    form_id = params.form_id or current_app.config["SIPAS_DEFAULT_FORM"]
    try:
        form = repository.load_form(form_id, None)
    except (KeyError, ValueError):
        raise BadParameter("form", f"no questionnaire {form_id!r}") from None
    if params.form_version is not None and params.form_version > form.version:
        raise BadParameter("form", f"{form_id} has no version {params.form_version}")
    agencies = tuple(repository.list_agencies())
    fields = {f.code: f for f in repository.list_fields()}
    if params.field_code is not None and params.field_code not in fields:
        raise BadParameter("field", f"no procedure field {params.field_code!r}")
    codes = {a.id: a.code for a in agencies}
    parents: dict[str, str | None] = {a.code: codes.get(a.parent_id) for a in agencies}
    roots = [code for code, parent in parents.items() if parent is None]
    root = roots[0] if len(roots) == 1 else PROVINCE
    if root == PROVINCE:
        parents = {
            code: (PROVINCE if parent is None else parent) for code, parent in parents.items()
        }
        parents[PROVINCE] = None
    context = ReportContext(
        form=form,
        design=report_design(current_app.config),
        agencies=agencies,
        fields=fields,
        scope=scope,
        root=root,
        parents=parents,
        lineage=_lineage(),
    )
    if params.unit is not None and not context.visible(params.unit):
        raise NotFound()  # unknown and outside the account's subtree alike
    return context


def _lineage() -> pd.DataFrame:
    """The lineage table (kept in the report cache; its rows are part of the data stamp)."""
    from survey.repository.lineage import lineage_table

    return report_cache().get(("lineage",), lineage_table)


def domain_columns(params: ReportParams) -> list[str]:
    """The count-table columns that the filters select on (as domains, not as subsets)."""
    columns = [column for column, attr in _FILTER_COLUMNS if getattr(params, attr)]
    if params.form_version is not None:
        columns.append("form_version")
    return columns


def select_domain(table: pd.DataFrame, params: ReportParams) -> pd.DataFrame:
    """The rows of a result table that belong to the filtered domain, filter columns dropped."""
    mask = pd.Series(True, index=table.index)
    chosen = {"field_code": params.field_code, "channel": params.channel}
    if params.form_version is not None:
        chosen["form_version"] = str(params.form_version)
    for column, value in chosen.items():
        if value is not None and column in table.columns:
            mask &= table[column].astype(str) == value
    dropped = [c for c in chosen if chosen[c] is not None and c in table.columns]
    return table[mask].drop(columns=dropped)


def counts_for(
    context: ReportContext,
    params: ReportParams,
    by: Sequence[str],
    *,
    period: str | None = None,
    agency_subtree: str | None = None,
) -> pd.DataFrame | None:
    """The count table of the request (``None`` when no response is selected)."""
    design, weights = _weighting(context, params, agency_subtree)
    by = list(dict.fromkeys([*by, *domain_columns(params)]))
    subtree = None if agency_subtree == PROVINCE else agency_subtree
    form = context.form

    def build() -> pd.DataFrame | None:
        selection = selected_responses(context, params)
        if subtree is not None:
            selection = within_units(selection, context.subtree(subtree))
        try:
            return counts_from_selection(
                selection,
                form,
                design,
                by,
                period=period,  # type: ignore[arg-type]
                weights=weights,
                index_versions=("A",),
            )
        except NoResponsesError:
            return None

    key = (
        form.id,
        form.version,
        design,
        tuple(by),
        period,
        _weights_key(weights),
        params.since,
        params.until,
        params.lineage_date,
        subtree,
        tuple(params.exclude),
    )
    counts = report_cache().get(("counts", *key), build)
    return None if counts is None else counts.copy()


def selected_responses(context: ReportContext, params: ReportParams) -> pd.DataFrame:
    """Every response of the period that the filters keep, province-wide, one row each, with
    merged units' responses under their successor on ``params.lineage_date``.

    Fetched once per period and flag choice (and kept in the report cache): every count table
    of every page of that period is built from it.
    """
    form = context.form
    key = ("selection", form.id, form.version, params.since, params.until, params.exclude)
    selection = report_cache().get(
        key,
        lambda: select_responses(
            db.session,
            form,
            since=params.since,
            until=params.until,
            exclude_flags=params.exclude,
        ),
    )
    mapping = context.attribution(params.lineage_date)
    present = set(selection["agency_code"].cat.categories) if len(selection) else set()
    mapping = {code: to for code, to in mapping.items() if code in present}
    if not mapping:
        return selection
    return report_cache().get(
        ("mapped", *key, tuple(sorted(mapping.items()))),
        lambda: selection.assign(agency_code=map_codes(selection["agency_code"], mapping)),
    )


def within_units(selection: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """The rows of agencies ``codes``, with categories that no row uses dropped."""
    kept = selection[selection["agency_code"].isin(codes)]
    categorical = [c for c in kept.columns if isinstance(kept[c].dtype, pd.CategoricalDtype)]
    return kept.assign(**{c: kept[c].cat.remove_unused_categories() for c in categorical})


def report_cache() -> ReportCache:
    """This app's cache of count tables and figures (one per worker process)."""
    cache = current_app.extensions.get("sipas_report_cache")
    if cache is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def in_background(work: Callable[[], None]) -> None:
            def run() -> None:
                with app.app_context():
                    work()

            threading.Thread(target=run, name="report-cache-rebuild", daemon=True).start()

        cache = current_app.extensions.setdefault(
            "sipas_report_cache", ReportCache(background=in_background)
        )
    return cache


def cache_key(context: ReportContext, params: ReportParams, *parts: Hashable) -> tuple:
    """What defines a figure of the request: the design, the root and every filter."""
    filters = (
        params.first,
        params.last,
        params.unit,
        params.field_code,
        params.channel,
        params.form_id,
        params.form_version,
        params.weights,
        params.ci,
        params.level,
        params.exclude,
    )
    return (context.form.id, context.form.version, context.design, context.root, filters, *parts)


def _weights_key(weights: CellWeights | None) -> tuple | None:
    if weights is None:
        return None
    base = weights.base_weights
    return (
        weights.columns,
        tuple(sorted(weights.weights.items())),
        None if base is None else tuple(sorted(base.items())),
    )


def weighted_design(context: ReportContext, params: ReportParams) -> Design:
    """The design the estimates use (with the calibration when weighted to a frame)."""
    return _weighting(context, params, None)[0]


_CELLS = ("agency_code", "field_code")


def _weighting(
    context: ReportContext, params: ReportParams, agency_subtree: str | None
) -> tuple[Design, CellWeights | None]:
    """The design and cell weights: post-stratified to the frame when ``weights=frame``."""
    if params.weights == "none":
        return context.design, None
    volumes = _frame_volumes(params)
    mapping = context.attribution(params.lineage_date)
    if mapping:  # a merged unit's dossiers are its successor's, as its responses are
        volumes = volumes.assign(agency_code=volumes["agency_code"].replace(mapping))
        volumes = volumes.groupby(list(_CELLS), as_index=False)["dossiers"].sum()
    selection = selected_responses(context, params)
    if selection.empty:  # nothing to weight: the page says that no response is selected
        return context.design, None
    responses = selection.groupby(list(_CELLS), observed=True).size().rename("responses")
    joined = responses.reset_index().merge(volumes, on=list(_CELLS), how="left")
    unmatched = joined[joined["dossiers"].isna() | (joined["dossiers"] <= 0)]
    if len(unmatched):
        cells = ", ".join(
            f"{r.agency_code}/{r.field_code or '-'}" for r in unmatched.head(5).itertuples()
        )
        raise BadParameter(
            "weights",
            f"the dossier-volume frame has no volume for {len(unmatched)} cell(s) with responses "
            f"({cells}); upload a complete frame for this period or use weights=none",
        )
    joined["weight"] = joined["dossiers"] / joined["responses"]
    weights = CellWeights.from_frame(joined, _CELLS)
    calibration = Calibration("poststratify", _CELLS, None, "w0")
    design = Design(
        strata=context.design.strata,
        psu=context.design.psu,
        weight="weight",
        lonely_psu=context.design.lonely_psu,
        df=context.design.df,
        calibration=calibration,
    )
    return design, weights


def frame_volumes(params: ReportParams) -> pd.DataFrame | None:
    """Dossiers per agency × field for the report period, from the frame periods that tile it
    exactly (months, quarters or years); ``None`` when no stored frame does."""
    from survey.repository import frames

    for candidates in _frame_periods(params):
        table = frames.volumes(candidates)
        if len(table) and set(table["period"]) == set(candidates):
            return table.groupby(list(_CELLS), as_index=False)["dossiers"].sum()
    return None


def _frame_volumes(params: ReportParams) -> pd.DataFrame:
    """Dossiers per agency × field for the period: one frame period must cover it exactly."""
    volumes = frame_volumes(params)
    if volumes is not None:
        return volumes
    raise BadParameter(
        "weights",
        "no dossier-volume frame covers this period exactly (by month, quarter or year); "
        "upload one on the administration pages or use weights=none",
    )


def _frame_periods(params: ReportParams) -> list[list[str]]:
    """The frame periods that tile the report period, for each granularity that can."""
    months = []
    year, month = params.first
    for _ in range(params.months):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    options = [[f"{y}-{m:02d}" for y, m in months]]
    quarters = sorted({(y, (m - 1) // 3 + 1) for y, m in months})
    if len(months) == 3 * len(quarters) and params.first[1] % 3 == 1:
        options.append([f"{y}-Q{q}" for y, q in quarters])
    years = sorted({y for y, _ in months})
    if len(months) == 12 * len(years) and params.first[1] == 1:
        options.append([str(y) for y in years])
    return options


def design_sentence(context: ReportContext, params: ReportParams, translate: Any) -> str:
    """One plain sentence saying which design and weighting produced the figures."""
    _ = translate
    words = {
        "agency_code": _("agency"),
        "counter_code": _("counter"),
        "field_code": _("procedure field"),
        "channel": _("channel"),
    }
    strata = words.get(context.design.strata or "", context.design.strata)
    psu = words.get(context.design.psu or "", context.design.psu)
    parts = []
    if psu is None:
        parts.append(_("each response counts as its own sampling unit"))
    else:
        parts.append(_("responses are clustered by %(psu)s", psu=psu))
    if strata:
        parts.append(_("stratified by %(strata)s", strata=strata))
    if params.weights == "frame":
        parts.append(
            _("weighted to the dossier volumes of the period (post-stratified by agency and field)")
        )
    else:
        parts.append(_("unweighted (no dossier-volume weighting)"))
    excluded = ", ".join(params.exclude) or _("none")
    return _(
        "Design: %(parts)s; %(level)s%% intervals (%(ci)s); "
        "flagged responses left out: %(excluded)s.",
        parts="; ".join(parts),
        level=f"{100 * params.level:g}",
        ci=params.ci,
        excluded=excluded,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
