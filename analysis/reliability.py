r"""Presentation (reliability) rules: which estimates to flag as unreliable.

The default, :data:`NCHS_2017`, is the NCHS Data Presentation Standard for Proportions
(Parker et al. 2017, *Vital Health Stat* 2(175)), as coded in CDC ``surveytable``:

1. suppress if the effective sample size :math:`n^* < 30`
   (:math:`n^* = \hat p(1-\hat p)/\widehat V`, :math:`n^* = n` at :math:`\hat p\in\{0,1\}`,
   capped at :math:`n`);
2. otherwise show if the Korn–Graubard interval width :math:`\le 0.05`;
3. otherwise suppress if the width :math:`\ge 0.30`, or if the relative width
   :math:`\text{width}/\hat p > 130\%`;
4. flag (not suppress) when the degrees of freedom are below 8, and when the complement's
   relative width :math:`\text{width}/(1-\hat p) > 130\%`.

Rows are never hidden: failing rows get ``suppressed=True`` and a ``suppression_reason``.
For indices (averages of shares) the same thresholds are applied to
:math:`n^* = \min(n, \hat\sigma^2/\widehat V)` (:math:`\hat\sigma^2`: the binomial
:math:`\hat\theta(1-\hat\theta)` for version A, the variance of the respondent scores for
version B; see :func:`analysis.intervals.effective_n`) and the width of the published interval.
:math:`n^*` rests on the with-replacement SRS variance, so it needs no population size and does
not depend on the design-effect reference. Rows without degrees of freedom (``df <= 0``) or
without an interval are suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NCHS_2017", "ReliabilityRule", "assess"]


@dataclass(frozen=True, slots=True)
class ReliabilityRule:
    """Thresholds of a reliability rule (proportion scale, 0–1).

    Attributes
    ----------
    min_n_eff : float
        Suppress below this effective sample size.
    show_width : float
        Always show when the interval width is at most this.
    max_width : float
        Suppress when the width is at least this.
    max_relative_width : float
        Suppress when width / estimate exceeds this.
    flag_df_below : float
        Flag (do not suppress) when df is below this.
    """

    min_n_eff: float = 30.0
    show_width: float = 0.05
    max_width: float = 0.30
    max_relative_width: float = 1.30
    flag_df_below: float = 8.0


NCHS_2017 = ReliabilityRule()


def assess(
    rule: ReliabilityRule,
    estimate: np.ndarray,
    n_eff: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    df: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``rule`` to arrays on the proportion scale.

    Returns
    -------
    suppressed : ndarray of bool
    reason : ndarray of str
        Why a row is suppressed (``""`` when shown).
    flags : ndarray of str
        ``;``-separated cautions that do not suppress (``df<8``, ``complement``).
    """
    p = np.asarray(estimate, dtype=float)
    width = np.asarray(high, dtype=float) - np.asarray(low, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(p > 0, width / p, np.inf)
        rel_c = np.where(p < 1, width / (1 - p), np.inf)
    reasons = [
        (np.isnan(p), "no estimate (no valid answers)"),
        (~(df > 0), "no degrees of freedom (df <= 0)"),
        (~(n_eff >= rule.min_n_eff), f"effective sample size < {rule.min_n_eff:g}"),
        (~np.isfinite(width), "no confidence interval"),
    ]
    wide = width > rule.show_width
    reasons += [
        (wide & (width >= rule.max_width), f"CI width >= {100 * rule.max_width:g} points"),
        (
            wide & (rel > rule.max_relative_width),
            f"relative CI width > {100 * rule.max_relative_width:g}%",
        ),
    ]
    reason = np.full(p.shape, "", dtype=object)
    for mask, text in reversed(reasons):  # the first failing rule wins
        reason = np.where(mask, text, reason)
    suppressed = reason != ""
    flag_df = np.where(df < rule.flag_df_below, f"df<{rule.flag_df_below:g}", "")
    flag_c = np.where(wide & (rel_c > rule.max_relative_width), "complement", "")
    flags = np.array(
        [";".join(f for f in pair if f) for pair in zip(flag_df, flag_c, strict=True)],
        dtype=object,
    )
    return suppressed, reason.astype(object), flags
