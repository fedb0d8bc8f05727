r"""Key drivers: which criteria move satisfaction (Shapley / LMG relative importance).

Derived importance of the criteria on an outcome, from a weighted linear regression, split
among the criteria by the Shapley value of :math:`R^2` (LMG: Lindeman, Merenda & Gold 1980;
Grömping 2006). For predictors :math:`P` (:math:`p` criteria) and a subset :math:`S`,
:math:`R^2(S)` is the weighted coefficient of determination of the regression of the outcome
on :math:`S`, and the importance of criterion :math:`j` is

.. math::

    \phi_j = \sum_{S \subseteq P\setminus\{j\}} \frac{|S|!\,(p-|S|-1)!}{p!}
             \big(R^2(S\cup\{j\}) - R^2(S)\big),
    \qquad \sum_j \phi_j = R^2(P),

the average over all orders of entry of the :math:`R^2` that :math:`j` adds. Every
:math:`R^2(S)` comes from the weighted covariance matrix :math:`C` of the outcome and the
criteria (:math:`C = \sum_i w_i (z_i-\bar z)(z_i-\bar z)^\top / \sum_i w_i`):

.. math::

    R^2(S) = C_{yS}\,C_{SS}^{-1}\,C_{Sy} / C_{yy}.

**Outcome.** Each factor is one model: its criteria (answer codes 1–5) are the predictors. The
outcome is the form's **overall-satisfaction item** (``[overall]``, kind ``overall``: answer
codes 1–5, not applicable and skipped left out) when the form has one; otherwise the
respondent's **score on the remaining criteria**, the share of satisfied answers among their
valid answers to the criteria outside that factor (the outcome never contains a predictor).
``outcome=COLUMN`` (another numeric column of the export) overrides both. The table's
``outcome`` column says which. Respondents need a valid answer to every criterion of the model
and an outcome (listwise deletion; ``n`` says how many). :func:`key_drivers` gives point
estimates; :func:`key_driver_intervals` adds bootstrap SEs and percentile intervals.

**Importance–performance.** :func:`importance_performance` crosses each criterion's importance
with its performance (the criterion index, 0–100) and places it in a quadrant relative to the
means over the criteria (the cross-hairs), as in Martilla & James (1977).

References
----------
Lindeman RH, Merenda PF, Gold RZ (1980). *Introduction to Bivariate and Multivariate
Analysis*. Scott, Foresman. Grömping U (2006). Relative importance for linear regression in R:
the package relaimpo. *Journal of Statistical Software* 17(1). Martilla JA, James JC (1977).
Importance-performance analysis. *Journal of Marketing* 41(1):77–79.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = [
    "DRIVER_COLUMNS",
    "QUADRANTS",
    "importance_performance",
    "key_driver_intervals",
    "key_drivers",
    "shapley_r2",
    "weighted_covariance",
]

DRIVER_COLUMNS: tuple[str, ...] = (
    "model",
    "outcome",
    "criterion",
    "importance",
    "relative_importance",
    "r2",
    "n",
)
"""Columns of :func:`key_drivers`."""

QUADRANTS: dict[tuple[bool, bool], str] = {
    (True, False): "concentrate here",
    (True, True): "keep up the good work",
    (False, False): "low priority",
    (False, True): "possible overkill",
}
"""Quadrant by (importance at or above its mean, performance at or above its mean)."""

MAX_EXACT_PREDICTORS = 16
"""Largest model whose :math:`2^p` subsets :func:`shapley_r2` enumerates."""


def weighted_covariance(data: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    r"""Weighted covariance :math:`\sum_i w_i (z_i - \bar z)(z_i - \bar z)^\top / \sum_i w_i`.

    Parameters
    ----------
    data : ndarray
        Rows = respondents, columns = variables (no missing values).
    weights : ndarray, optional
        Positive weights (default 1).
    """
    z = np.asarray(data, dtype=float)
    w = np.ones(z.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    if z.ndim != 2 or w.shape != (z.shape[0],):
        raise AnalysisError("data must be 2-D with one weight per row")
    total = w.sum()
    if not total > 0:
        raise AnalysisError("the weights sum to zero")
    centred = z - (w @ z) / total
    return (centred * w[:, None]).T @ centred / total


def shapley_r2(covariance: np.ndarray) -> tuple[np.ndarray, float]:
    r"""LMG (Shapley) decomposition of :math:`R^2` from a covariance matrix.

    Parameters
    ----------
    covariance : ndarray
        :math:`(p+1)\times(p+1)`, the outcome first, then the :math:`p` predictors.

    Returns
    -------
    importance : ndarray
        :math:`\phi_j` for each predictor (they sum to the full :math:`R^2`).
    r2 : float
        :math:`R^2` of the full model.

    Notes
    -----
    All :math:`2^p` subsets are evaluated (:math:`p \le` :data:`MAX_EXACT_PREDICTORS`). A
    singular :math:`C_{SS}` (a criterion constant in the sample, or collinear ones) uses the
    pseudo-inverse, i.e. the :math:`R^2` of the least-squares fit.
    """
    c = np.asarray(covariance, dtype=float)
    p = c.shape[0] - 1
    if c.shape != (p + 1, p + 1) or p < 1:
        raise AnalysisError("the covariance must be square, outcome first, with a predictor")
    if p > MAX_EXACT_PREDICTORS:
        raise AnalysisError(
            f"{p} predictors: exact Shapley needs 2^{p} regressions; use at most "
            f"{MAX_EXACT_PREDICTORS}"
        )
    var_y = c[0, 0]
    if not var_y > 0:
        raise AnalysisError("the outcome does not vary: no R^2 to share")
    r2 = np.zeros(1 << p)
    for mask in range(1, 1 << p):
        idx = [j + 1 for j in range(p) if mask >> j & 1]
        c_sy = c[idx, 0]
        r2[mask] = float(c_sy @ np.linalg.pinv(c[np.ix_(idx, idx)]) @ c_sy) / var_y
    sizes = np.array([bin(m).count("1") for m in range(1 << p)])
    coef = np.array(
        [math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p) for k in range(p)]
    )
    masks = np.arange(1 << p)
    importance = np.empty(p)
    for j in range(p):
        without = masks[(masks >> j & 1) == 0]
        importance[j] = float(np.sum(coef[sizes[without]] * (r2[without | (1 << j)] - r2[without])))
    return importance, float(r2[-1])


def key_drivers(
    responses: pd.DataFrame,
    form: Any,
    *,
    outcome: str | None = None,
    weight: str | None = None,
) -> pd.DataFrame:
    r"""Shapley (LMG) importance of every criterion, one model per factor.

    Parameters
    ----------
    responses : DataFrame
        One row per response (the wide export), with the form's rating columns (codes; 0 or
        blank = no valid answer) and ``weight`` / ``outcome`` when named.
    form : forms.Form
        The questionnaire: criteria, factors, scale.
    outcome : str, optional
        Column of an overall outcome (numeric). Default: the form's overall-satisfaction item
        (valid codes 1–5) when it has one, else for each factor the respondent's share of
        satisfied answers on the criteria outside it.
    weight : str, optional
        Column of weights (default: each response once).

    Returns
    -------
    DataFrame
        :data:`DRIVER_COLUMNS`: ``model`` (the factor key), ``outcome`` (what was explained),
        ``criterion``, ``importance`` (:math:`\phi_j`, share of the outcome's variance),
        ``relative_importance`` (:math:`100\,\phi_j/R^2`, summing to 100 in a model), ``r2``
        (the model's :math:`R^2`) and ``n`` (respondents in the model).

    Raises
    ------
    AnalysisError
        Unknown columns, a form with one factor and no ``outcome``, a model without two
        complete respondents, an outcome that does not vary.
    """
    keys = [item.key for item in form.rating_items]
    overall = getattr(form, "overall_item", None) if outcome is None else None
    missing = [c for c in (*keys, outcome, weight) if c and c not in responses.columns]
    if overall is not None and overall.key not in responses.columns:
        missing.append(overall.key)
    if missing:
        raise AnalysisError(f"the responses have no column(s) {missing}")
    if outcome is None and overall is None and len(form.factors) < 2:
        raise AnalysisError("one factor and no outcome column: nothing outside it to explain")
    codes = responses[keys].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    valid = np.isin(codes, np.array(sorted(form.scale.valid_codes), dtype=float))
    satisfied = valid & (codes >= form.scale.satisfied_threshold)
    w = (
        np.ones(len(responses))
        if weight is None
        else pd.to_numeric(responses[weight], errors="coerce").to_numpy(dtype=float)
    )
    if outcome is not None:
        given = pd.to_numeric(responses[outcome], errors="coerce").to_numpy(dtype=float)
    elif overall is not None:  # the overall item: valid answers 1-5 only
        given = pd.to_numeric(responses[overall.key], errors="coerce").to_numpy(dtype=float)
        valid_codes = np.array(sorted(form.scale.valid_codes), dtype=float)
        given = np.where(np.isin(given, valid_codes), given, np.nan)
        outcome = f"overall item {overall.key}"
    position = {key: i for i, key in enumerate(keys)}
    parts = []
    for factor in form.factors:
        cols = [position[k] for k in factor.item_keys]
        if outcome is None:
            rest = np.setdiff1d(np.arange(len(keys)), cols)
            answered = valid[:, rest].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(answered > 0, satisfied[:, rest].sum(axis=1) / answered, np.nan)
            described = f"satisfied share on the criteria outside {factor.key}"
        else:
            y, described = given, outcome
        rows = valid[:, cols].all(axis=1) & np.isfinite(y) & np.isfinite(w) & (w > 0)
        if rows.sum() < 2:
            raise AnalysisError(f"factor {factor.key}: fewer than 2 complete respondents")
        data = np.column_stack([y[rows], codes[np.ix_(rows, cols)]])
        importance, r2 = shapley_r2(weighted_covariance(data, w[rows]))
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = 100 * importance / r2 if r2 > 0 else np.full(len(cols), np.nan)
        parts.append(
            pd.DataFrame(
                {
                    "model": factor.key,
                    "outcome": described,
                    "criterion": list(factor.item_keys),
                    "importance": importance,
                    "relative_importance": relative,
                    "r2": r2,
                    "n": int(rows.sum()),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[list(DRIVER_COLUMNS)]


def importance_performance(
    drivers: pd.DataFrame,
    performance: Mapping[str, float] | pd.Series,
    *,
    importance: str = "importance",
    criteria: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Importance–performance grid: each criterion against the means over the criteria.

    Parameters
    ----------
    drivers : DataFrame
        :func:`key_drivers` output (``criterion`` and the ``importance`` column).
    performance : mapping or Series
        The criterion index (0–100) by criterion key, e.g. the ``criterion`` rows of
        :func:`analysis.satisfaction_indices` for the same responses.
    importance : str
        Which importance column to use (``importance`` or ``relative_importance``).
    criteria : sequence of str, optional
        Restrict to these criteria.

    Returns
    -------
    DataFrame
        ``criterion, importance, performance, importance_mean, performance_mean, quadrant``:
        the cross-hairs are the means over the listed criteria; ``quadrant`` is one of
        :data:`QUADRANTS` (at or above a mean counts as high).

    Raises
    ------
    AnalysisError
        A criterion without a performance value.
    """
    table = drivers[["criterion", importance]].rename(columns={importance: "importance"})
    if criteria is not None:
        table = table[table["criterion"].isin(list(criteria))]
    perf = pd.Series(performance, dtype=float)
    absent = sorted(set(table["criterion"]) - set(perf.dropna().index))
    if absent:
        raise AnalysisError(f"no performance value for criteria {absent}")
    table = table.assign(performance=perf.loc[table["criterion"]].to_numpy())
    table["importance_mean"] = table["importance"].mean()
    table["performance_mean"] = table["performance"].mean()
    high_i = table["importance"] >= table["importance_mean"]
    high_p = table["performance"] >= table["performance_mean"]
    table["quadrant"] = [QUADRANTS[(i, p)] for i, p in zip(high_i, high_p, strict=True)]
    return table.reset_index(drop=True)


def key_driver_intervals(
    responses: pd.DataFrame,
    form: Any,
    *,
    outcome: str | None = None,
    weight: str | None = None,
    strata: str | None = None,
    psu: str | None = None,
    replicates: int = 200,
    confidence: float = 0.95,
    seed: int = 1,
) -> pd.DataFrame:
    r""":func:`key_drivers` with bootstrap SEs and percentile intervals of the importances.

    The design is resampled as R's ``as.svrepdesign(type="subbootstrap")`` (Rao & Wu 1988 with
    :math:`m_h = n_h - 1`, :mod:`analysis.replicates`): in replicate :math:`r` every response
    of PSU :math:`(h,i)` gets the weight :math:`w\,a^{(r)}_{hi}` and the whole analysis
    (listwise deletion, covariance, Shapley decomposition) is redone. The Rao–Wu rescaling
    makes the spread of the replicates estimate the sampling spread without a further
    factor, so

    * ``*_se`` is :math:`\sqrt{\sum_r(\phi^{(r)}-\bar\phi)^2/(R-1)}` and
    * ``*_low``, ``*_high`` are the :math:`\alpha/2` and :math:`1-\alpha/2` percentiles of
      the replicates (percentile intervals: the importances are bounded below by 0 and
      skewed, where :math:`\hat\phi \pm t\,SE` could leave :math:`[0, R^2]`).

    Parameters
    ----------
    responses, form, outcome, weight
        As :func:`key_drivers`.
    strata, psu : str, optional
        Design columns (default: one stratum, every response its own PSU).
    replicates : int
        Bootstrap replicates :math:`R` (at least 2; a few hundred for percentiles).
    confidence : float
        Level of the percentile intervals.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        :data:`DRIVER_COLUMNS`, then ``importance_se, importance_low, importance_high,
        relative_se, relative_low, relative_high``.

    Raises
    ------
    AnalysisError
        As :func:`key_drivers`; unknown design columns; a stratum with a single PSU (the
        Rao–Wu bootstrap needs two); a bad ``confidence`` or ``replicates``.
    """
    from analysis.replicates import generate_replicate_weights

    if not 0 < confidence < 1:
        raise AnalysisError(f"confidence must be in (0, 1), got {confidence!r}")
    missing = [c for c in (strata, psu) if c and c not in responses.columns]
    if missing:
        raise AnalysisError(f"the responses have no column(s) {missing}")
    point = key_drivers(responses, form, outcome=outcome, weight=weight)
    n = len(responses)
    stratum = responses[strata].astype(str).to_numpy() if strata else np.full(n, "1")
    unit = responses[psu].astype(str).to_numpy() if psu else np.arange(n).astype(str)
    labels = pd.DataFrame({"stratum": stratum, "psu": unit})
    psu_index, _ = pd.factorize(labels["stratum"] + "\x1f" + labels["psu"])
    reps = generate_replicate_weights(
        labels,
        psu_index,
        "subbootstrap",
        replicates=replicates,
        rng=np.random.default_rng(seed),
    )
    base = (
        np.ones(n)
        if weight is None
        else pd.to_numeric(responses[weight], errors="coerce").to_numpy(dtype=float)
    )
    column = "_replicate_weight"
    draws = np.empty((len(point), 2, reps.n_replicates))
    for r in range(reps.n_replicates):
        weighted = responses.assign(**{column: base * reps.multipliers[psu_index, r]})
        table = key_drivers(weighted, form, outcome=outcome, weight=column)
        draws[:, 0, r] = table["importance"].to_numpy()
        draws[:, 1, r] = table["relative_importance"].to_numpy()
    alpha = 1 - confidence
    out = point.copy()
    for j, name in enumerate(("importance", "relative")):
        values = draws[:, j, :]
        out[f"{name}_se"] = np.sqrt(
            reps.scale * ((values - values.mean(axis=1)[:, None]) ** 2).sum(axis=1)
        )
        out[f"{name}_low"] = np.quantile(values, alpha / 2, axis=1)
        out[f"{name}_high"] = np.quantile(values, 1 - alpha / 2, axis=1)
    return out
