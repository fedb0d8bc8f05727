r"""Confidence intervals for shares and indices from (estimate, SE, n, df).

All functions are vectorised over numpy arrays, work on the proportion scale (0–1) and return
``(low, high)``. ``df`` may be ``np.inf`` (normal quantiles); t-based intervals with
``df <= 0`` are NaN (R gives no interval either). ``confidence`` is the two-sided level.

Methods (survey-stats §4; R: ``survey::svyciprop``):

* :func:`wald_interval` — :math:`\hat p \pm t_{df}\,SE` (``method="mean"``; ``df=inf``:
  ``confint(svymean())``).
* :func:`logit_interval` — ``method="xlogit"``:
  :math:`\mathrm{expit}(\mathrm{logit}\,\hat p \pm t_{df}\,SE/(\hat p(1-\hat p)))`.
* :func:`korn_graubard_interval` — ``method="beta"`` (Korn & Graubard 1998), optionally with
  the NCHS conventions (Parker et al. 2017).
* :func:`wilson_interval` — survey ≥ 4.5 ``method="wilson"`` with the effective sample size.
* :func:`asin_interval` — ``method="asin"``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "NOTE_BETA_NCHS",
    "NOTE_SE_ZERO",
    "ci_notes",
    "asin_interval",
    "share_intervals",
    "effective_n",
    "korn_graubard_interval",
    "logit_interval",
    "t_quantile",
    "t_sf",
    "wald_interval",
    "wilson_interval",
]

Interval = tuple[np.ndarray, np.ndarray]

NOTE_BETA_NCHS = (
    "NCHS Korn-Graubard: n* capped at n (n* = n at 0 or 100); "
    "R svyciprop(method='beta') differs here"
)
"""``ci_note`` of a ``beta`` row where the NCHS adjustment changes R's interval."""

NOTE_SE_ZERO = "SE 0: Korn-Graubard (Clopper-Pearson) with n* = n (no logit interval)"
"""``ci_note`` of a row whose logit interval is undefined (estimate 0 or 100, or SE 0)."""


def ci_notes() -> dict[str, str]:
    """Every ``ci_note`` :func:`share_intervals` can write, with what it means (English)."""
    shares_only = {
        f"{ci} is defined for criterion shares only; logit used": (
            f"--ci {ci} was asked; an index (not a share) gets the logit interval"
        )
        for ci in ("beta", "wilson")
    }
    return shares_only | {
        NOTE_SE_ZERO: (
            "the estimate is 0 or 100 (or its SE is 0), where the logit interval is undefined: "
            "the exact Clopper-Pearson interval with n* = n is shown (ci_method beta; R gives "
            "no interval)"
        ),
        NOTE_BETA_NCHS: (
            "--ci beta follows the NCHS standard: n* (adjusted for df) is capped at n, and "
            "n* = n at 0 or 100; here that changes the interval, so it differs from R's "
            "svyciprop(method='beta'), which does not cap n* (and gives no interval at 0 or 100)"
        ),
    }


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return (1.0 - confidence) / 2.0


def t_quantile(df: np.ndarray | float, confidence: float) -> np.ndarray:
    """Upper (1 + confidence)/2 quantile of t with ``df`` (normal if inf, NaN if ``df <= 0``)."""
    half = _check_confidence(confidence)
    df = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore"):
        finite = -special.stdtrit(np.where(df > 0, df, 1), half)
        q = np.where(np.isinf(df), -special.ndtri(half), finite)
    return np.where(df > 0, q, np.nan)


def t_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Upper tail :math:`P(T_{df} > x)` (normal when ``df`` is inf, NaN when ``df <= 0``)."""
    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    with np.errstate(invalid="ignore"):
        tail = np.where(np.isinf(df), special.ndtr(-x), special.stdtr(np.where(df > 0, df, 1), -x))
    return np.where(df > 0, tail, np.nan)


def wald_interval(est: np.ndarray, se: np.ndarray, df: np.ndarray, confidence: float) -> Interval:
    r"""Wald interval :math:`\hat\theta \pm t_{df,1-\alpha/2} SE` (z when ``df`` is inf)."""
    t = t_quantile(df, confidence)
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    return est - t * se, est + t * se


def logit_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, confidence: float) -> Interval:
    r"""Logit-transformed interval (R ``svyciprop(method="xlogit")``).

    .. math::

        \mathrm{expit}\Big(\log\frac{\hat p}{1-\hat p} \pm
        t_{df}\frac{SE}{\hat p(1-\hat p)}\Big)

    NaN when :math:`\hat p \in \{0, 1\}` (use :func:`korn_graubard_interval` there).
    """
    p, se = np.asarray(p, dtype=float), np.asarray(se, dtype=float)
    t = t_quantile(df, confidence)
    inner = (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(p / (1 - p))
        s = se / (p * (1 - p))
        low = 1 / (1 + np.exp(-(eta - t * s)))
        high = 1 / (1 + np.exp(-(eta + t * s)))
    return np.where(inner, low, np.nan), np.where(inner, high, np.nan)


def asin_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, confidence: float) -> Interval:
    r"""Arcsine-square-root interval (R ``svyciprop(method="asin")``).

    .. math::

        \sin^2\big(\arcsin\sqrt{\hat p} \pm t_{df} SE / (2\sqrt{\hat p(1-\hat p)})\big)
    """
    p, se = np.asarray(p, dtype=float), np.asarray(se, dtype=float)
    t = t_quantile(df, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.arcsin(np.sqrt(p))
        s = se / (2 * np.sqrt(p * (1 - p)))
    return np.sin(a - t * s) ** 2, np.sin(a + t * s) ** 2


def effective_n(
    p: np.ndarray,
    se: np.ndarray,
    n: np.ndarray,
    *,
    cap: bool = True,
    sigma2: np.ndarray | None = None,
) -> np.ndarray:
    r"""Effective sample size :math:`n^* = \hat\sigma^2/\widehat V` (NCHS 2017).

    :math:`\hat\sigma^2` is the with-replacement SRS unit variance: :math:`\hat p(1-\hat p)`
    for a share (the default), or ``sigma2`` for another estimate (e.g. the variance of
    respondent scores). NCHS convention: :math:`n^* = n` when :math:`\hat p \in \{0,1\}` (or
    the variance is 0), and :math:`n^* \le n` when ``cap``. It needs no population size.
    """
    p, se, n = (np.asarray(v, dtype=float) for v in (p, se, n))
    unit = p * (1 - p) if sigma2 is None else np.asarray(sigma2, dtype=float)
    v = se**2
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = unit / v
    raw = np.where((p <= 0) | (p >= 1) | (v == 0), n, raw)
    return np.minimum(raw, n) if cap else raw


def korn_graubard_interval(
    p: np.ndarray,
    se: np.ndarray,
    n: np.ndarray,
    df: np.ndarray,
    confidence: float,
    *,
    nchs: bool = True,
) -> Interval:
    r"""Korn–Graubard (Clopper–Pearson with effective n) interval, R ``svyciprop(method="beta")``.

    .. math::

        n^* = \frac{\hat p(1-\hat p)}{\widehat V}
              \Big(\frac{t_{n-1,\alpha/2}}{t_{df,\alpha/2}}\Big)^2,
        \quad x^* = \hat p n^*,\quad
        [B^{-1}(\alpha/2; x^*, n^*-x^*+1),\; B^{-1}(1-\alpha/2; x^*+1, n^*-x^*)]

    Parameters
    ----------
    n : ndarray
        Respondents answering the item in the domain (R uses ``nrow(design)``).
    nchs : bool
        NCHS convention (CDC ``surveytable::svyciprop_adjusted``): :math:`n^* = n` when
        :math:`\hat p = 0` or the variance is 0, and :math:`n^*` (after the df adjustment)
        capped at :math:`n`. ``False`` reproduces plain R (NaN at :math:`\hat p\in\{0,1\}`).
    """
    half = _check_confidence(confidence)
    p, se, n, df = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (p, se, n, df)))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = p * (1 - p) / se**2
        t_n = -special.stdtrit(np.where(n > 1, n - 1, 1), half)
        t_df = t_quantile(df, 1.0 - 2.0 * half)
        n_eff = raw * (t_n / t_df) ** 2
    if nchs:
        degenerate = (p <= 0) | ~np.isfinite(raw)
        n_eff = np.where(degenerate, n, np.minimum(n_eff, n))
    ok = (df > 0) & (n > 1) & np.isfinite(n_eff) & (n_eff > 0)
    x = p * n_eff
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, special.betaincinv(x, n_eff - x + 1, half), 0.0)
        high = np.where(n_eff - x > 0, special.betainccinv(x + 1, n_eff - x, half), 1.0)
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def wilson_interval(
    p: np.ndarray, se: np.ndarray, n: np.ndarray, df: np.ndarray, confidence: float
) -> Interval:
    r"""Wilson score interval with effective n (survey ≥ 4.5 ``svyciprop(method="wilson")``).

    .. math::

        \frac{\hat p + \frac{t^2}{2n^*} \mp \frac{t}{2n^*}\sqrt{4n^*\hat p(1-\hat p) + t^2}}
             {1 + t^2/n^*},\qquad n^* = \hat p(1-\hat p)/\widehat V,\ t = t_{df}

    At :math:`\hat p \in\{0,1\}` (variance 0) :math:`n^* = n` (NCHS convention), which gives
    a proper one-sided interval; elsewhere :math:`n^*` is not capped (as R).
    """
    p = np.asarray(p, dtype=float)
    n_eff = effective_n(p, se, n, cap=False)
    t = t_quantile(df, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = p + t**2 / (2 * n_eff)
        half = (t / (2 * n_eff)) * np.sqrt(4 * n_eff * p * (1 - p) + t**2)
        scale = 1 + t**2 / n_eff
    return (centre - half) / scale, (centre + half) / scale


def share_intervals(
    p: np.ndarray,
    se: np.ndarray,
    n: np.ndarray,
    df: np.ndarray,
    is_crit: np.ndarray,
    ci: str,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Intervals of many estimates at once, with the method actually used and a note.

    ``ci`` is one of ``logit``, ``beta``, ``wilson``, ``wald`` (t with ``df``) and ``wald_z``.
    Rows not flagged ``is_crit`` (indices) get ``logit`` instead of ``beta``/``wilson``; rows
    with an estimate of 0 or 1 or a zero SE get Korn–Graubard with :math:`n^* = n` instead of
    ``logit``. ``beta`` rows whose NCHS interval (:math:`n^*` capped at :math:`n`, and
    :math:`n^* = n` at 0 or 1) differs from R's ``svyciprop(method="beta")`` get the note
    :data:`NOTE_BETA_NCHS`.

    Returns
    -------
    low, high : ndarray
    method, note : ndarray of str
    """
    size = p.size
    method = np.full(size, ci, dtype=object)
    note = np.full(size, "", dtype=object)
    if ci in ("beta", "wilson"):
        method[~is_crit] = "logit"
        note[~is_crit] = f"{ci} is defined for criterion shares only; logit used"
    kg_low, kg_high = korn_graubard_interval(p, se, n, df, confidence)
    low = np.full(size, np.nan)
    high = np.full(size, np.nan)
    for name, fn in (("logit", logit_interval), ("wald", wald_interval)):
        mask = method == name
        lo, hi = fn(p, se, df, confidence)
        low, high = np.where(mask, lo, low), np.where(mask, hi, high)
    mask = method == "wald_z"
    lo, hi = wald_interval(p, se, np.inf, confidence)
    low, high = np.where(mask, lo, low), np.where(mask, hi, high)
    mask = method == "wilson"
    lo, hi = wilson_interval(p, se, n, df, confidence)
    low, high = np.where(mask, lo, low), np.where(mask, hi, high)
    mask = method == "beta"
    low, high = np.where(mask, kg_low, low), np.where(mask, kg_high, high)
    r_low, r_high = korn_graubard_interval(p, se, n, df, confidence, nchs=False)
    unlike_r = mask & ~np.isnan(p) & ((kg_low != r_low) | (kg_high != r_high))
    note[unlike_r] = NOTE_BETA_NCHS
    degenerate = (method == "logit") & ((p <= 0) | (p >= 1) | (se == 0)) & ~np.isnan(p)
    low, high = np.where(degenerate, kg_low, low), np.where(degenerate, kg_high, high)
    method[degenerate] = "beta"
    note[degenerate] = NOTE_SE_ZERO
    return low, high, method, note
