r"""Item statistics besides the satisfaction index: mean score, shares, profile breakdowns.

All are domain ratios (:mod:`analysis.estimators`) with linearised SEs from the same design:

``mean_score``
    :math:`\sum w_i q_{ij} a_{ij} / \sum w_i a_{ij}` on the 1–5 scale (rating items), Wald-t
    interval (R: ``svymean(~q_j, subset(design, valid))``).
``satisfied`` / ``dissatisfied``
    Share of valid answers :math:`\ge` the satisfied threshold / :math:`\le`
    ``dissatisfied_max`` (0–100).
``expectation``
    Share of an expectation item's answers at or above the expectation scale's
    ``high_threshold`` (e.g. *Nhiều* or *Rất nhiều*), 0–100.
``profile``
    Weighted share of every choice of every profile item among the item's answers, 0–100.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from analysis.design import Design
from analysis.errors import AnalysisError
from analysis.estimators import RatioSpec, check_nonempty, domains_by, prepare, ratio_estimates
from analysis.intervals import effective_n, share_intervals, wald_interval
from analysis.variance import domain_df, variance

__all__ = ["Statistic", "item_statistics"]

Statistic = Literal["mean_score", "satisfied", "dissatisfied", "expectation", "profile"]


def item_statistics(
    counts: pd.DataFrame,
    form: Any,
    design: Design | None = None,
    *,
    statistic: Statistic = "mean_score",
    by: Sequence[str] = (),
    ci: str = "logit",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One statistic for every item (and choice) of the form, in every group of ``by``.

    Parameters
    ----------
    counts : DataFrame
        The count table (:mod:`analysis.counts`).
    form : forms.Form
        The questionnaire.
    design : Design, optional
        Lonely-PSU, df and calibration settings.
    statistic : Statistic
        See the module docstring.
    by : sequence of str
        Group columns.
    ci : str
        Interval method for shares (as :func:`analysis.indices.satisfaction_indices`); the mean
        score always uses Wald t.
    confidence : float
        Two-sided level.

    Returns
    -------
    DataFrame
        Group columns, then ``statistic, item, category, estimate, se, ci_low, ci_high, n,
        n_eff, df, ci_method``. ``category`` is the choice code for ``profile`` (else blank).
    """
    design = design or Design()
    if statistic not in get_args(Statistic):
        raise AnalysisError(f"unknown statistic {statistic!r}; use {list(get_args(Statistic))}")
    specs, items, categories = _specs(form, statistic)
    if not specs:
        raise AnalysisError(f"form {form.id} has no items for statistic {statistic!r}")
    prep = prepare(counts, design)
    domains = domains_by(counts, by)
    check_nonempty(prep, domains)
    est = ratio_estimates(prep, domains, specs)
    var = variance(prep.structure, est.lin)
    p, se, n = est.lin.estimate, np.sqrt(var), est.n
    if design.df == "design":
        df = np.full(p.size, float(prep.structure.design_df))
    else:
        df = domain_df(prep.structure, est.lin.present)
    scale = 1.0 if statistic == "mean_score" else 100.0
    if statistic == "mean_score":
        low, high = wald_interval(p, se, df, confidence)
        method = np.full(p.size, "wald", dtype=object)
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = np.where(se > 0, n * (est.srs_sum / est.total_x) / (n - 1) / se**2, n)
    else:
        ones = np.ones(p.size, dtype=bool)
        low, high, method, _ = share_intervals(p, se, n, df, ones, ci, confidence)
        n_eff = effective_n(p, se, n)
    k = len(specs)
    labels = domains.labels.reset_index(drop=True)
    out = labels.iloc[np.repeat(np.arange(domains.size), k)].reset_index(drop=True)
    out["statistic"] = statistic
    out["item"] = np.tile(np.array(items, dtype=object), domains.size)
    out["category"] = np.tile(np.array(categories, dtype=object), domains.size)
    out["estimate"] = scale * p
    out["se"] = scale * se
    out["ci_low"] = scale * low
    out["ci_high"] = scale * high
    out["n"] = n.astype(np.int64)
    out["n_eff"] = n_eff
    out["df"] = df
    out["ci_method"] = method
    return out


def _specs(form: Any, statistic: str) -> tuple[list[RatioSpec], list[str], list[str]]:
    scale = form.scale
    valid_codes = np.array(sorted(scale.valid_codes), dtype=float)

    def valid(a: np.ndarray) -> np.ndarray:
        return np.isin(a, valid_codes).astype(float)

    specs: list[RatioSpec] = []
    items: list[str] = []
    cats: list[str] = []
    if statistic in ("mean_score", "satisfied", "dissatisfied"):
        for item in form.rating_items:
            if statistic == "mean_score":
                num = _times(valid)
            elif statistic == "satisfied":
                num = _between(valid_codes, scale.satisfied_threshold, np.inf)
            else:
                num = _between(valid_codes, -np.inf, scale.dissatisfied_max)
            specs.append(RatioSpec(item.key, num, valid))
            items.append(item.key)
            cats.append("")
    elif statistic == "expectation" and form.expectation_scale is not None:
        high = form.expectation_scale.high_threshold
        for item in form.expectation_items:
            codes = np.array(sorted(item.codes), dtype=float)
            specs.append(RatioSpec(item.key, _between(codes, high, np.inf), _member(codes)))
            items.append(item.key)
            cats.append("")
    elif statistic == "profile":
        for item in form.profile_items:
            codes = np.array(sorted(item.codes), dtype=float)
            for code in codes:
                specs.append(RatioSpec(item.key, _between(codes, code, code), _member(codes)))
                items.append(item.key)
                cats.append(str(int(code)))
    return specs, items, cats


def _member(codes: np.ndarray):
    return lambda a: np.isin(a, codes).astype(float)


def _between(codes: np.ndarray, low: float, high: float):
    return lambda a: (np.isin(a, codes) & (a >= low) & (a <= high)).astype(float)


def _times(valid):
    return lambda a: a * valid(a)
