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

__all__ = ["NCHS_2017", "ReliabilityRule", "assess", "explanations"]


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


_ROUNDING = 1e-9  # relative slack of the thresholds against floating-point rounding


def explanations(rule: ReliabilityRule = NCHS_2017) -> dict[str, dict[str, str]]:
    """What every ``suppression_reason`` and flag that ``rule`` can give means (English).

    Returns
    -------
    dict
        ``{"suppression_reason": {text: meaning}, "flags": {text: meaning}}``, the texts exactly
        as they appear in the result table, in the order the rule checks them.
    """
    texts = _texts(rule)
    return {
        "suppression_reason": {
            texts["no_estimate"]: "nobody in the group gave a valid answer (1-5) to it",
            texts["no_df"]: "the domain has one PSU per stratum or fewer: no variance estimate",
            texts["small_n_eff"]: (
                f"the effective sample size n* (column n_eff) is below {rule.min_n_eff:g}"
            ),
            texts["no_interval"]: "no confidence interval could be computed",
            texts["wide"]: (
                f"the interval is wider than {100 * rule.show_width:g} points and at least "
                f"{100 * rule.max_width:g} points wide"
            ),
            texts["relative_wide"]: (
                f"the interval is wider than {100 * rule.show_width:g} points and its width "
                f"exceeds {100 * rule.max_relative_width:g}% of the estimate"
            ),
        },
        "flags": {
            texts["df"]: (
                f"shown, but the interval rests on fewer than {rule.flag_df_below:g} degrees of "
                "freedom (few PSUs): read it with care"
            ),
            texts["complement"]: (
                "shown, but the complement (100 - estimate, e.g. the share not satisfied) "
                f"would be suppressed: the width exceeds {100 * rule.max_relative_width:g}% "
                "of it"
            ),
        },
    }


def _texts(rule: ReliabilityRule) -> dict[str, str]:
    return {
        "no_estimate": "no estimate (no valid answers)",
        "no_df": "no degrees of freedom (df <= 0)",
        "small_n_eff": f"effective sample size < {rule.min_n_eff:g}",
        "no_interval": "no confidence interval",
        "wide": f"CI width >= {100 * rule.max_width:g} points",
        "relative_wide": f"relative CI width > {100 * rule.max_relative_width:g}%",
        "df": f"df<{rule.flag_df_below:g}",
        "complement": "complement",
    }


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
        Why a row is suppressed (``""`` when shown; texts in :func:`explanations`).
    flags : ndarray of str
        ``;``-separated cautions that do not suppress (``df<8``, ``complement``).
    """
    texts = _texts(rule)
    p = np.asarray(estimate, dtype=float)
    width = np.asarray(high, dtype=float) - np.asarray(low, dtype=float)
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(p > 0, width / p, np.inf)
        rel_c = np.where(p < 1, width / (1 - p), np.inf)
    reasons = [
        (np.isnan(p), texts["no_estimate"]),
        (~(df > 0), texts["no_df"]),
        # n* within a relative 1e-9 of the threshold reaches it: n* = n/deff with deff = 1 in
        # theory (n = 30 respondents) must not flip with the rounding of a sum's order.
        (~(n_eff >= rule.min_n_eff * (1 - _ROUNDING)), texts["small_n_eff"]),
        (~np.isfinite(width), texts["no_interval"]),
    ]
    wide = width > rule.show_width
    reasons += [
        (wide & (width >= rule.max_width), texts["wide"]),
        (wide & (rel > rule.max_relative_width), texts["relative_wide"]),
    ]
    reason = np.full(p.shape, "", dtype=object)
    for mask, text in reversed(reasons):  # the first failing rule wins
        reason = np.where(mask, text, reason)
    suppressed = reason != ""
    flag_df = np.where(df < rule.flag_df_below, texts["df"], "")
    flag_c = np.where(wide & (rel_c > rule.max_relative_width), texts["complement"], "")
    flags = np.array(
        [";".join(f for f in pair if f) for pair in zip(flag_df, flag_c, strict=True)],
        dtype=object,
    )
    return suppressed, reason.astype(object), flags
