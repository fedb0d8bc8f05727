r"""The figures of the report pages, computed by the statistics engine from the count table.

Nothing here re-implements an estimator: indices, SEs and intervals are
:func:`analysis.satisfaction_indices` (with the unit tree, so a unit's figure covers the units
under it), ranks are :func:`analysis.ranking.rank_units`, item statistics
:func:`analysis.item_statistics`. This module adds the comparisons a page shows:

* against the province, with the joint covariance of the two domains of one design:
  :math:`t = (\hat\theta_u - \hat\theta_p) / \sqrt{V_u + V_p - 2C_{up}}` on
  :math:`\min(df_u, df_p)` degrees of freedom; "above" or "below" when the two-sided p-value is
  below :math:`1 - \text{level}`;
* against the previous period of the same length, two independent samples:
  :math:`z = (\hat\theta_1 - \hat\theta_0) / \sqrt{SE_1^2 + SE_0^2}`.

Coverage (responses per dossier of the frame, and its flag) is :func:`analysis.coverage.coverage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis import item_statistics, satisfaction_indices
from analysis.coverage import coverage
from analysis.drivers import key_drivers
from analysis.errors import AnalysisError
from analysis.intervals import t_sf
from analysis.ranking import Ranking, rank_change, rank_units
from analysis.results import IndexResult
from survey.reports.context import (
    ReportContext,
    cache_key,
    counts_for,
    domain_columns,
    frame_volumes,
    report_cache,
    select_domain,
    selected_responses,
    weighted_design,
    within_units,
)
from survey.reports.params import ReportParams

__all__ = [
    "INDEX_LEVELS",
    "UnitFigures",
    "breakdown",
    "key_driver_table",
    "item_table",
    "unit_coverage",
    "unit_figures",
]

INDEX_LEVELS = ("sipas", "aspect", "factor")
RANK_DRAWS = 4000
RANK_SEED = 20260701


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """Every indicator of every unit (its subtree) for one request, with the comparisons.

    ``table`` has the columns of :class:`analysis.IndexResult` for ``agency_code`` plus
    ``vs_province`` (``above``, ``same``, ``below``, or ``""`` for the province itself or when
    not testable), ``p_province``, ``previous``, ``change``, ``change_p``,
    ``change_significant``, and for the ``sipas`` rows ``rank``, ``rank_low``, ``rank_high``,
    ``rank_of``, ``rank_band``, ``rank_previous``, ``places``, ``places_real``.
    """

    table: pd.DataFrame
    root: str

    def unit(self, code: str) -> pd.DataFrame:
        return self.table[self.table["agency_code"] == code]

    def province(self) -> pd.DataFrame:
        return self.unit(self.root)

    def headline(self, level: str = "sipas") -> pd.DataFrame:
        """One row per unit for ``level`` (``sipas``, ``aspect`` or ``factor``)."""
        return self.table[self.table["level"] == level]


def _indices(
    context: ReportContext, params: ReportParams, by: Sequence[str], **selection: object
) -> IndexResult | None:
    counts = counts_for(context, params, by, **selection)  # type: ignore[arg-type]
    if counts is None:
        return None
    rollup = "agency_code" in by
    return satisfaction_indices(
        counts,
        context.form,
        weighted_design(context, params),
        by=[*by, *domain_columns(params)],
        ci=params.ci,  # type: ignore[arg-type]
        confidence=params.level,
        parents=context.parents if rollup else None,
        rollup_column="agency_code",
    )


def _versus_province(
    result: IndexResult, table: pd.DataFrame, root: str, alpha: float
) -> pd.DataFrame:
    """Add ``vs_province`` and ``p_province`` to the domain rows of ``table``."""
    out = table.assign(vs_province="", p_province=np.nan)
    full = result.table
    for (level, indicator), rows in full.groupby(["level", "indicator"], sort=False):
        positions = np.flatnonzero(
            (full["level"] == level).to_numpy() & (full["indicator"] == indicator).to_numpy()
        )
        wanted = [i for i in rows.index if i in out.index]
        root_rows = [i for i in wanted if full.at[i, "agency_code"] == root]
        if not root_rows:
            continue
        cov = result.covariance(level, indicator).to_numpy()
        where = {row: k for k, row in enumerate(full.index[positions])}
        r = where[root_rows[0]]
        est = full["estimate"].to_numpy()[positions]
        dfs = full["df"].to_numpy()[positions]
        for i in wanted:
            if i == root_rows[0]:
                continue
            k = where[i]
            var = cov[k, k] + cov[r, r] - 2 * cov[k, r]
            diff = est[k] - est[r]
            df = min(dfs[k], dfs[r])
            if not (np.isfinite(diff) and var > 0 and df > 0):
                continue
            p = float(2 * t_sf(abs(diff) / np.sqrt(var), df))
            out.at[i, "p_province"] = p
            out.at[i, "vs_province"] = ("above" if diff > 0 else "below") if p < alpha else "same"
    return out


def _versus_previous(
    table: pd.DataFrame, previous: pd.DataFrame | None, alpha: float
) -> pd.DataFrame:
    keys = ["agency_code", "level", "indicator"]
    if previous is None or previous.empty:
        return table.assign(
            previous=np.nan, change=np.nan, change_p=np.nan, change_significant=False
        )
    prev = previous[[*keys, "estimate", "se"]].rename(
        columns={"estimate": "previous", "se": "_se_prev"}
    )
    out = table.merge(prev, on=keys, how="left")
    out.index = table.index
    out["change"] = out["estimate"] - out["previous"]
    se = np.sqrt(out["se"] ** 2 + out["_se_prev"] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (out["change"] / se).where(se > 0)
    out["change_p"] = 2 * stats.norm.sf(np.abs(z))
    out["change_significant"] = (out["change_p"] < alpha).fillna(False).astype(bool)
    return out.drop(columns=["_se_prev"])


def _peer_groups(context: ReportContext, codes: Sequence[str]) -> dict[str, list[str]]:
    """Units ranked together: the same administrative level, the province left out."""
    levels = {a.code: a.level for a in context.agencies}
    groups: dict[str, list[str]] = {}
    for code in codes:
        if code != context.root and code in levels:
            groups.setdefault(levels[code], []).append(code)
    return groups


def _rankings(
    result: IndexResult, table: pd.DataFrame, context: ReportContext, confidence: float
) -> dict[str, Ranking]:
    """Rank intervals of the SIPAS index among peers, with the design covariance."""
    rows = table[(table["level"] == "sipas") & table["estimate"].notna()]
    if rows.empty:
        return {}
    full = result.table
    positions = np.flatnonzero((full["level"] == "sipas").to_numpy())
    where = {row: k for k, row in enumerate(full.index[positions])}
    cov = result.covariance("sipas").to_numpy()
    by_code = dict(zip(rows["agency_code"], rows.index, strict=True))
    rankings = {}
    for level, codes in _peer_groups(context, list(by_code)).items():
        if len(codes) < 2:
            continue
        picks = [where[by_code[c]] for c in codes]
        estimates = pd.Series(full["estimate"].to_numpy()[positions][picks], index=codes)
        rankings[level] = rank_units(
            estimates,
            cov[np.ix_(picks, picks)],
            confidence=confidence,
            draws=RANK_DRAWS,
            rng=np.random.default_rng(RANK_SEED),
        )
    return rankings


def _band(low: int, high: int, of: int) -> str:
    """Top, middle or bottom third when the whole rank interval lies in it; else ``""``."""
    third = of / 3
    if high <= np.ceil(third):
        return "top"
    if low > np.floor(2 * third):
        return "bottom"
    if low > np.floor(third) and high <= np.ceil(2 * third):
        return "middle"
    return ""


def _add_ranks(
    table: pd.DataFrame, current: dict[str, Ranking], previous: dict[str, Ranking]
) -> pd.DataFrame:
    out = table.assign(
        rank=np.nan,
        rank_low=np.nan,
        rank_high=np.nan,
        rank_of=np.nan,
        rank_band="",
        rank_previous=np.nan,
        places=np.nan,
        places_real=False,
    )
    sipas = out["level"] == "sipas"
    index_of = dict(zip(out.loc[sipas, "agency_code"], out.index[sipas], strict=True))
    for level, ranking in current.items():
        frame = ranking.to_frame()
        for code, row in frame.iterrows():
            i = index_of[code]
            out.loc[i, ["rank", "rank_low", "rank_high", "rank_of"]] = [
                row["rank"],
                row["ci_low"],
                row["ci_high"],
                row["of"],
            ]
            out.at[i, "rank_band"] = _band(int(row["ci_low"]), int(row["ci_high"]), int(row["of"]))
        if level in previous:
            moves = rank_change(previous[level], ranking).to_frame()
            for code, row in moves.iterrows():
                i = index_of[code]
                out.at[i, "rank_previous"] = row["rank_prev"]
                out.at[i, "places"] = row["places"]
                out.at[i, "places_real"] = bool(row["real"])
    return out


def unit_figures(context: ReportContext, params: ReportParams) -> UnitFigures | None:
    """Every indicator of every unit with its comparisons (``None``: no responses at all)."""
    key = cache_key(context, params, "unit_figures")
    figures = report_cache().get(key, lambda: _unit_figures(context, params))
    return None if figures is None else UnitFigures(figures.table.copy(), figures.root)


def _unit_figures(context: ReportContext, params: ReportParams) -> UnitFigures | None:
    alpha = 1 - params.level
    result = _indices(context, params, ["agency_code"])
    if result is None:
        return None
    table = select_domain(result.table, params)
    table = _versus_province(result, table, context.root, alpha)
    rankings = _rankings(result, table, context, params.level)

    prev_params = params.previous()
    previous = _indices(context, prev_params, ["agency_code"])
    prev_table = select_domain(previous.table, prev_params) if previous is not None else None
    prev_rankings = (
        _rankings(previous, prev_table, context, params.level)
        if previous is not None and prev_table is not None
        else {}
    )
    table = _versus_previous(table, prev_table, alpha)
    table = _add_ranks(table, rankings, prev_rankings)
    return UnitFigures(table.reset_index(drop=True), context.root)


def breakdown(
    context: ReportContext,
    params: ReportParams,
    by: Sequence[str],
    *,
    unit: str | None = None,
    period: str | None = None,
) -> pd.DataFrame:
    """Indices of ``unit`` (its subtree; ``None``: the province) broken down by ``by``.

    ``by`` are columns such as ``["field_code"]``, ``["counter_code"]`` or ``["period"]``
    (with ``period`` = ``month`` or ``quarter``). The rows carry those columns, not
    ``agency_code``.
    """
    key = cache_key(context, params, "breakdown", tuple(by), unit, period)
    return report_cache().get(key, lambda: _breakdown(context, params, by, unit, period)).copy()


def _breakdown(
    context: ReportContext,
    params: ReportParams,
    by: Sequence[str],
    unit: str | None,
    period: str | None,
) -> pd.DataFrame:
    rollup = unit is not None
    columns = ["agency_code", *by] if rollup else list(by)
    result = _indices(context, params, columns, agency_subtree=unit, period=period)
    if result is None:
        return pd.DataFrame()
    table = select_domain(result.table, params)
    if rollup:
        table = table[table["agency_code"] == unit].drop(columns=["agency_code"])
    return table.reset_index(drop=True)


def item_table(
    context: ReportContext, params: ReportParams, statistic: str, *, unit: str | None = None
) -> pd.DataFrame:
    """Expectation shares or the respondents' profile of ``unit``'s subtree (or the province)."""
    key = cache_key(context, params, "item_table", statistic, unit)
    return report_cache().get(key, lambda: _item_table(context, params, statistic, unit)).copy()


def _item_table(
    context: ReportContext, params: ReportParams, statistic: str, unit: str | None
) -> pd.DataFrame:
    counts = counts_for(context, params, [], agency_subtree=unit)
    if counts is None:
        return pd.DataFrame()
    table = item_statistics(
        counts,
        context.form,
        weighted_design(context, params),
        statistic=statistic,  # type: ignore[arg-type]
        by=domain_columns(params),
        ci=params.ci if params.ci != "wald" else "logit",
        confidence=params.level,
    )
    return select_domain(table, params).reset_index(drop=True)


# Fewer complete respondents than this give no key drivers (a regression on 4–7 criteria).
MIN_DRIVER_RESPONDENTS = 30


def key_driver_table(context: ReportContext, params: ReportParams, unit: str) -> pd.DataFrame:
    """Key drivers (:func:`analysis.drivers.key_drivers`: Shapley importance of each criterion,
    one model per factor) among the responses of ``unit``'s subtree that the filters keep;
    unweighted. Empty when too few respondents answered every criterion of a factor."""
    key = cache_key(context, params, "drivers", unit)
    return report_cache().get(key, lambda: _key_drivers(context, params, unit)).copy()


def _key_drivers(context: ReportContext, params: ReportParams, unit: str) -> pd.DataFrame:
    selection = within_units(selected_responses(context, params), context.subtree(unit))
    selection = select_domain(selection, params)  # the field, channel and version filters
    if len(selection) < MIN_DRIVER_RESPONDENTS:
        return pd.DataFrame()
    try:
        drivers = key_drivers(selection, context.form)
    except AnalysisError:
        return pd.DataFrame()
    return drivers[drivers["n"] >= MIN_DRIVER_RESPONDENTS].reset_index(drop=True)


def unit_coverage(context: ReportContext, params: ReportParams) -> pd.DataFrame | None:
    """Responses the filters keep against the frame's dossiers, per unit with the units under
    it (:func:`analysis.coverage.coverage`, ``agency_code`` rows); ``None`` when no stored frame
    tiles the report period, so that coverage is unknown.

    The field filter keeps that field's dossiers; the channel and version filters keep only
    responses (dossiers are not counted by channel). Not cached: a new frame shows at once.
    """
    volumes = frame_volumes(params)
    if volumes is None:
        return None
    selection = select_domain(selected_responses(context, params), params)
    if params.field_code is not None:
        selection = selection.assign(field_code=params.field_code)
        volumes = volumes[volumes["field_code"] == params.field_code]
    cells = ["agency_code", "field_code"]
    responses = (
        selection[cells]
        .astype(object)
        .groupby(cells, dropna=False, sort=False)
        .size()
        .rename("responses")
        .reset_index()
    )
    return coverage(responses, volumes, parents=context.parents)
