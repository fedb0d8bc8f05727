r"""Differences between two domains of the same design: periods, units, a unit against the whole.

The two domains may overlap (an agency and the whole province): both estimates are computed
from the same design with their joint covariance (survey-stats §3.2),

.. math::

    \widehat{V}(\hat\theta_1-\hat\theta_2) = \widehat V_{11} + \widehat V_{22} - 2\widehat C_{12},

and the two-sided test uses t with the df rule of the design (``design``: the full-design df;
``domain``: PSUs minus strata with rows in either domain). R equivalent:
``svycontrast(svytotal(~y1 + x1 + y2 + x2, design), quote(y1/x1 - y2/x2))`` with
``y1 = y * in_domain_1`` etc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.design import Design
from analysis.errors import AnalysisError, CountTableError, EmptyGroupError
from analysis.estimators import domains_from_masks, prepare
from analysis.hierarchy import hierarchy_from_form
from analysis.indices import estimate_indicators
from analysis.intervals import t_sf, wald_interval
from analysis.results import Difference
from analysis.variance import domain_df, presence_union, variance

__all__ = ["DomainSpec", "compare_domains", "domain_differences"]

DomainSpec = Mapping[str, object | Sequence[object]] | None
"""A domain as ``{column: value or list of values}``; ``None`` or ``{}`` is the whole sample."""


def domain_differences(
    counts: pd.DataFrame,
    form: Any,
    first: DomainSpec,
    second: DomainSpec,
    design: Design | None = None,
    *,
    version: Literal["A", "B"] = "A",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every criterion and index of ``first`` minus the same of ``second`` (0–100 scale).

    Parameters are those of :func:`compare_domains`.

    Returns
    -------
    DataFrame
        One row per indicator: ``level, indicator, first, second, estimate`` (the difference),
        ``se, ci_low, ci_high, df, t, p_value``.
    """
    design = design or Design()
    tree = hierarchy_from_form(form)
    prep = prepare(counts, design)
    masks = [_mask(counts, spec) for spec in (first, second)]
    for spec, mask in zip((first, second), masks, strict=True):
        if not mask.any():
            raise EmptyGroupError(f"domain {dict(spec or {})} has no responses")
    labels = pd.DataFrame({"domain": ["first", "second"]})
    fit = estimate_indicators(prep, domains_from_masks(masks, labels), tree, version)
    one = np.flatnonzero(fit.domain == 0)
    two = np.flatnonzero(fit.domain == 1)
    size = fit.lin.estimate.size
    coef = sp.csc_matrix(
        (
            np.r_[np.ones(one.size), -np.ones(two.size)],
            (np.r_[one, two], np.r_[np.arange(one.size), np.arange(two.size)]),
        ),
        shape=(size, one.size),
    )
    union = presence_union(fit.lin.present[:, one], fit.lin.present[:, two])
    diff = fit.lin.combine(coef, union)
    se = 100 * np.sqrt(variance(prep.structure, diff))
    if design.df == "design":
        df = np.full(one.size, float(prep.structure.design_df))
    else:
        df = domain_df(prep.structure, union)
    est = 100 * diff.estimate
    low, high = wald_interval(est, se, df, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, est / se, np.nan)
        p = 2 * t_sf(np.abs(t), df)
    return pd.DataFrame(
        {
            "level": fit.level[one],
            "indicator": fit.indicator[one],
            "first": 100 * fit.lin.estimate[one],
            "second": 100 * fit.lin.estimate[two],
            "estimate": est,
            "se": se,
            "ci_low": low,
            "ci_high": high,
            "df": df,
            "t": t,
            "p_value": p,
        }
    )


def compare_domains(
    counts: pd.DataFrame,
    form: Any,
    first: DomainSpec,
    second: DomainSpec,
    design: Design | None = None,
    *,
    level: Literal["criterion", "factor", "aspect", "sipas"] = "sipas",
    indicator: str = "SIPAS",
    version: Literal["A", "B"] = "A",
    confidence: float = 0.95,
) -> Difference:
    """Estimate :math:`\\theta(\\text{first}) - \\theta(\\text{second})` with SE, CI and p-value.

    Parameters
    ----------
    counts : DataFrame
        Count table holding the columns used in ``first`` and ``second``.
    form : forms.Form
        The questionnaire.
    first, second : DomainSpec
        The two domains, e.g. ``{"period": "2025-Q1"}`` and ``{"period": "2025-Q2"}``, or
        ``{"agency_code": "A01"}`` and ``None`` (the whole sample).
    design : Design, optional
        Lonely-PSU, df and calibration settings.
    level, indicator : str
        The estimate compared: a criterion item key, a factor/aspect key, or ``SIPAS``.
    version : {"A", "B"}
        Index version.
    confidence : float
        Level of the interval.

    Returns
    -------
    Difference
        On the 0–100 scale.

    Raises
    ------
    CountTableError
        Unknown column. :class:`EmptyGroupError` if a domain has no responses.
    """
    table = domain_differences(
        counts, form, first, second, design, version=version, confidence=confidence
    )
    row = table[(table["level"] == level) & (table["indicator"] == indicator)]
    if len(row) != 1:
        raise AnalysisError(f"unknown indicator {indicator!r} at level {level!r}")
    r = row.iloc[0]
    return Difference(
        estimate=float(r["estimate"]),
        se=float(r["se"]),
        ci_low=float(r["ci_low"]),
        ci_high=float(r["ci_high"]),
        df=float(r["df"]),
        t=float(r["t"]),
        p_value=float(r["p_value"]),
        confidence=confidence,
    )


def _mask(counts: pd.DataFrame, spec: DomainSpec) -> np.ndarray:
    mask = np.ones(len(counts), dtype=bool)
    for column, value in (spec or {}).items():
        if column not in counts.columns:
            raise CountTableError(f"unknown domain column {column!r}")
        values = value if isinstance(value, list | tuple | set) else [value]
        mask &= counts[column].astype(str).isin([str(v) for v in values]).to_numpy()
    return mask
