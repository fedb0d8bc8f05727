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

from analysis.design import Design
from analysis.errors import AnalysisError, CountTableError, EmptyGroupError
from analysis.estimators import domains_from_masks, prepare
from analysis.hierarchy import hierarchy_from_form
from analysis.indices import estimate_indicators
from analysis.results import Difference, difference_from
from analysis.variance import covariance, domain_df

__all__ = ["DomainSpec", "compare_domains"]

DomainSpec = Mapping[str, object | Sequence[object]] | None
"""A domain as ``{column: value or list of values}``; ``None`` or ``{}`` is the whole sample."""


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
    design = design or Design()
    tree = hierarchy_from_form(form)
    prep = prepare(counts, design)
    masks = [_mask(counts, spec) for spec in (first, second)]
    for spec, mask in zip((first, second), masks, strict=True):
        if not mask.any():
            raise EmptyGroupError(f"domain {dict(spec or {})} has no responses")
    labels = pd.DataFrame({"domain": ["first", "second"]})
    fit = estimate_indicators(prep, domains_from_masks(masks, labels), tree, version)
    pick = np.flatnonzero((fit.level == level) & (fit.indicator == indicator))
    if pick.size != 2:
        raise AnalysisError(f"unknown indicator {indicator!r} at level {level!r}")
    lin = fit.lin.select(pick)
    cov = covariance(prep.structure, lin) * 1e4
    est = 100 * lin.estimate
    if design.df == "design":
        df = float(prep.structure.design_df)
    else:
        union = (lin.present[:, [0]] + lin.present[:, [1]]).astype(bool)
        df = float(domain_df(prep.structure, union)[0])
    return difference_from(est, cov, df, confidence)


def _mask(counts: pd.DataFrame, spec: DomainSpec) -> np.ndarray:
    mask = np.ones(len(counts), dtype=bool)
    for column, value in (spec or {}).items():
        if column not in counts.columns:
            raise CountTableError(f"unknown domain column {column!r}")
        values = value if isinstance(value, list | tuple | set) else [value]
        mask &= counts[column].astype(str).isin([str(v) for v in values]).to_numpy()
    return mask
