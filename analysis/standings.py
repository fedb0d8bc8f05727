"""Standings of units: one indicator per unit with its rank interval and PAR Index points.

This is the table behind ``sipas analyze --rank`` and ``--par RULE``: for every unit of a
one-column grouping (agencies, provinces) the estimate of one indicator (SIPAS by default),
its rank with a rank interval from the joint design covariance of the units' estimates
(:func:`analysis.ranking.rank_units`), and the points of a PAR Index scoring rule
(:func:`analysis.par_index.score_components`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.par_index import ScoringRule, score_components, score_par
from analysis.ranking import rank_units
from analysis.results import IndexResult

__all__ = ["STANDING_COLUMNS", "unit_standings"]

STANDING_COLUMNS: tuple[str, ...] = (
    "level",
    "indicator",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n",
    "n_eff",
    "suppressed",
)
"""Columns taken from the index table, after the unit column."""


def unit_standings(
    result: IndexResult,
    *,
    indicator: str = "SIPAS",
    rank: bool = True,
    method: Literal["monte_carlo", "pairwise"] = "monte_carlo",
    confidence: float | None = None,
    draws: int = 10_000,
    rng: np.random.Generator | None = None,
    rule: ScoringRule | None = None,
) -> pd.DataFrame:
    r"""One row per unit: an indicator's estimate, rank interval and PAR points.

    Parameters
    ----------
    result : IndexResult
        Indices by exactly one group column (the units).
    indicator : str
        The indicator ranked and reported (``SIPAS``, a factor or aspect key, a criterion).
    rank : bool
        Add ``rank, rank_low, rank_high, of`` (and ``mean_rank, p_best`` for Monte Carlo).
    method : {"monte_carlo", "pairwise"}
        Rank interval method (:func:`analysis.ranking.rank_units`): quantiles of the ranks of
        draws from :math:`N(\hat\theta, \hat V)` with the design covariance :math:`\hat V`
        across units, or the deterministic pairwise-comparison interval.
    confidence : float, optional
        Level of the rank intervals; default the result's level.
    draws : int
        Monte Carlo draws.
    rng : numpy.random.Generator, optional
        Required for Monte Carlo.
    rule : ScoringRule, optional
        A PAR Index rule (:func:`analysis.par_index.load_rule`): adds ``par_points,
        par_max_points, par_rule, par_detail`` and ``points_<indicator>`` per component.
        Relative rule types score the units of this table together.

    Returns
    -------
    DataFrame
        The unit column, :data:`STANDING_COLUMNS`, then the rank and PAR columns; units in
        the order of the index table. Units without an estimate of ``indicator`` are not
        ranked (rank columns blank).

    Raises
    ------
    AnalysisError
        ``result`` is not by one column, or has no ``indicator`` rows.
    analysis.ranking.RankingError, analysis.par_index.ScoringError
        From the ranking or the scoring rule.
    """
    if len(result.by) != 1:
        raise AnalysisError(
            f"standings need indices by one unit column (e.g. agency_code), got {list(result.by)}"
        )
    unit = result.by[0]
    table = result.table
    rows = table[table["indicator"] == indicator]
    if rows.empty:
        known = sorted(set(table["indicator"]))
        raise AnalysisError(f"no {indicator!r} rows; indicators are {known}")
    out = rows[[unit, *STANDING_COLUMNS]].reset_index(drop=True)
    out[unit] = out[unit].astype(object)
    if rank:
        out = out.join(_ranks(result, rows, unit, method, confidence, draws, rng), on=unit)
    if rule is not None:
        out = out.join(_points(table, unit, rule), on=unit)
    return out


def _ranks(
    result: IndexResult,
    rows: pd.DataFrame,
    unit: str,
    method: Literal["monte_carlo", "pairwise"],
    confidence: float | None,
    draws: int,
    rng: np.random.Generator | None,
) -> pd.DataFrame:
    level = str(rows["level"].iloc[0])
    indicator = str(rows["indicator"].iloc[0])
    cov = result.covariance(level=level, indicator=indicator)
    estimates = pd.Series(rows["estimate"].to_numpy(), index=cov.index)
    ranked = estimates[np.isfinite(estimates.to_numpy())]
    ranking = rank_units(
        ranked,
        cov.loc[ranked.index, ranked.index],
        confidence=result.confidence if confidence is None else confidence,
        method=method,
        draws=draws,
        rng=rng,
    )
    frame = ranking.to_frame()
    ranks = pd.DataFrame(
        {
            "rank": frame["rank"],
            "rank_low": frame["ci_low"],
            "rank_high": frame["ci_high"],
            "of": frame["of"],
        }
    ).astype("Int64")
    if "mean_rank" in frame.columns:
        ranks["mean_rank"] = frame["mean_rank"]
        ranks["p_best"] = frame["p_best"]
    ranks.index = ranks.index.astype(object).rename(unit)
    return ranks


def _points(table: pd.DataFrame, unit: str, rule: ScoringRule) -> pd.DataFrame:
    wanted = {component.indicator for component in rule.rules}
    long = table[table["indicator"].isin(wanted)].rename(columns={unit: "unit"})
    total = score_par(long, rule).set_index("unit")
    parts = score_components(long, rule).pivot(index="unit", columns="indicator", values="points")
    points = pd.DataFrame(
        {
            "par_points": total["points"],
            "par_max_points": total["max_points"],
            "par_rule": total["rule_id"],
            "par_detail": total["detail"],
        }
    )
    for component in rule.rules:
        points[f"points_{component.indicator}"] = parts[component.indicator]
    points.index = points.index.astype(object).rename(unit)
    return points
