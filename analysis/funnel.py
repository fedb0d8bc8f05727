r"""Funnel-plot control limits for shares and indices (Spiegelhalter 2005).

A funnel plot draws each unit's estimate against its (effective) sample size, with control
limits around a target :math:`\theta_0` (a province value or a goal) that narrow as :math:`n`
grows. A unit outside the 95 % limits is an "alert", outside the 99.8 % limits an "alarm"
(about 2 and 3 standard deviations). Unlike a league table, it ranks nobody.

Limits are exact binomial quantiles around :math:`\theta_0` with Spiegelhalter's
interpolation, so that they are smooth in :math:`n` (Appendix A.1.1 of the reference). For a
lower-tail probability :math:`p = (1 - \text{level})/2` and :math:`Y \sim \text{Bin}(n,\theta_0)`:

.. math::

    r_p = \min\{r : F(r) \ge p\},\qquad
    \alpha = \frac{F(r_p) - p}{F(r_p) - F(r_p - 1)},\qquad
    \text{low} = \frac{r_p - \alpha}{n}

and the upper limit is the same computation on the count of the complement,
:math:`n - Y \sim \text{Bin}(n, 1-\theta_0)`: :math:`\text{high}(\theta_0) = 1 -
\text{low}(1-\theta_0)`. Both limits are then conservative (a unit is outside with probability
at most :math:`p` on each side under :math:`\theta_0`) and mirror images of each other.
(Spiegelhalter's formula applied to the upper quantile directly lies :math:`1/n` lower and
puts :math:`Y = r_{1-p}` above the limit, with a probability that can exceed :math:`p`.)

For a non-integer :math:`n` (an effective sample size :math:`n^*`), :math:`F` is the binomial
CDF continued in :math:`n` through the regularised incomplete beta function, as Korn–Graubard
intervals do for :math:`n^*` (:mod:`analysis.intervals`):

.. math::

    F(r) = P(Y \le r) = I_{1-\theta_0}(n - r,\ r + 1)\quad (0 \le r < n),\qquad
    F(r) = 1\quad (r \ge n),

which is the binomial CDF when :math:`n` is an integer. Limits are clipped to [0, 100].

References
----------
Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance. *Statistics in
Medicine* 24:1185–1202 (Appendix A.1.1: binomial limits and their interpolation).
Verburg IWM, Holman R, Peek N, Abu-Hanna A, de Keizer NF (2018). Guidelines on constructing
funnel plots for quality indicators. *Statistical Methods in Medical Research* 27:3350–3366.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

__all__ = ["FUNNEL_POSITIONS", "funnel_limits", "funnel_position"]

FUNNEL_POSITIONS: tuple[str, ...] = ("above_998", "above_95", "within", "below_95", "below_998")
"""Values of :func:`funnel_position` with the default levels (95 % and 99.8 %)."""


def funnel_limits(
    center: float,
    sizes: ArrayLike,
    *,
    levels: Sequence[float] = (0.95, 0.998),
) -> pd.DataFrame:
    r"""Control limits of a funnel plot around ``center`` at every sample size of ``sizes``.

    Parameters
    ----------
    center : float
        The target :math:`\theta_0` on the 0–100 scale (e.g. the province's index).
    sizes : array_like
        Positive sample sizes at which to draw the limits; effective sample sizes
        :math:`n^*` (``n_eff`` of :func:`analysis.satisfaction_indices`) may be non-integer.
    levels : sequence of float
        Two-sided control levels in (0, 1); default 95 % ("alert") and 99.8 % ("alarm").

    Returns
    -------
    DataFrame
        Long format, one row per size × level (sizes in the given order, then levels):
        ``n, level, low, high`` with ``low`` and ``high`` on the 0–100 scale.

    Raises
    ------
    ValueError
        ``center`` outside [0, 100], a size that is not positive and finite, or a level
        outside (0, 1).

    Notes
    -----
    See the module docstring for the formula:
    :math:`\text{low} = (r_p - \alpha)/n` with Spiegelhalter's interpolation,
    :math:`\text{high}(\theta_0) = 1 - \text{low}(1 - \theta_0)`.

    Examples
    --------
    >>> limits = funnel_limits(80.0, [50, 200])
    >>> list(limits.columns)
    ['n', 'level', 'low', 'high']
    >>> bool((limits["low"] < 80).all() and (limits["high"] > 80).all())
    True
    """
    theta = _center(center)
    n = np.asarray(sizes, dtype=float).ravel()
    if n.size and not (np.isfinite(n).all() and (n > 0).all()):
        raise ValueError("funnel sizes must be positive and finite")
    lv = _levels(levels)
    nn = np.repeat(n, lv.size)
    ll = np.tile(lv, n.size)
    tail = (1.0 - ll) / 2.0
    low = _lower_limit(nn, theta, tail)
    high = 1.0 - _lower_limit(nn, 1.0 - theta, tail)
    return pd.DataFrame(
        {
            "n": nn,
            "level": ll,
            "low": 100.0 * np.clip(low, 0.0, 1.0),
            "high": 100.0 * np.clip(high, 0.0, 1.0),
        }
    )


def funnel_position(
    estimate: ArrayLike,
    n_eff: ArrayLike,
    center: float,
    *,
    levels: Sequence[float] = (0.95, 0.998),
) -> np.ndarray:
    r"""Where each unit lies on the funnel plot around ``center``.

    Parameters
    ----------
    estimate : array_like
        The units' estimates on the 0–100 scale.
    n_eff : array_like
        Their (effective) sample sizes, at which their limits are taken.
    center : float
        The target on the 0–100 scale.
    levels : sequence of float
        Control levels (default 95 % and 99.8 %).

    Returns
    -------
    ndarray of str
        ``"above_<L>"`` when the estimate is strictly above the upper limit at level L (the
        widest such level; ``L`` is the level in percent without its point: ``95``, ``998``),
        ``"below_<L>"`` likewise, otherwise ``"within"``. With the default levels:
        ``"above_998" | "above_95" | "within" | "below_95" | "below_998"``. A unit without an
        estimate or with ``n_eff`` not positive gets ``""``.

    Examples
    --------
    >>> funnel_position([80.0, 99.0, 40.0], [100, 100, 100], 80.0).tolist()
    ['within', 'above_998', 'below_998']
    """
    est = np.asarray(estimate, dtype=float).ravel()
    n = np.asarray(n_eff, dtype=float).ravel()
    if est.shape != n.shape:
        raise ValueError("estimate and n_eff must have the same length")
    lv = _levels(levels)
    usable = np.isfinite(est) & np.isfinite(n) & (n > 0)
    out = np.full(est.size, "", dtype=object)
    out[usable] = "within"
    if not usable.any():
        return out
    limits = funnel_limits(center, n[usable], levels=lv)
    low = limits["low"].to_numpy().reshape(-1, lv.size)
    high = limits["high"].to_numpy().reshape(-1, lv.size)
    e = est[usable]
    position = out[usable]
    for k in np.argsort(lv):  # the widest level exceeded wins
        label = _label(lv[k])
        position = np.where(e > high[:, k], f"above_{label}", position)
        position = np.where(e < low[:, k], f"below_{label}", position)
    out[usable] = position
    return out


def _lower_limit(n: np.ndarray, theta: float, p: np.ndarray) -> np.ndarray:
    r"""Spiegelhalter's interpolated lower quantile :math:`(r_p - \alpha)/n` (0–1 scale)."""
    r = _quantile(n, theta, p)
    upper = _cdf(r, n, theta)
    below = _cdf(r - 1, n, theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(upper > below, (upper - p) / (upper - below), 0.0)
    return (r - alpha) / n


def _quantile(n: np.ndarray, theta: float, p: np.ndarray) -> np.ndarray:
    """Smallest integer r with F(r) >= p, by bisection on [-1, ceil(n)] (F(-1) = 0)."""
    lo = np.full(n.shape, -1.0)  # F(lo) < p
    hi = np.ceil(n)  # F(hi) = 1 >= p
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        ok = _cdf(mid, n, theta) >= p
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi


def _cdf(r: np.ndarray, n: np.ndarray, theta: float) -> np.ndarray:
    r"""Binomial CDF :math:`P(Y \le r)` continued to real ``n``: :math:`I_{1-\theta}(n-r, r+1)`."""
    inside = (r >= 0) & (r < n)
    a = np.where(inside, n - r, 1.0)
    b = np.where(inside, r + 1, 1.0)
    value = special.betainc(a, b, 1.0 - theta)
    return np.where(r < 0, 0.0, np.where(r >= n, 1.0, value))


def _center(center: float) -> float:
    theta = float(center)
    if not 0.0 <= theta <= 100.0:
        raise ValueError(f"the funnel center must be on the 0-100 scale, got {center!r}")
    return theta / 100.0


def _levels(levels: Sequence[float]) -> np.ndarray:
    lv = np.asarray(levels, dtype=float).ravel()
    if lv.size == 0 or not ((lv > 0) & (lv < 1)).all():
        raise ValueError(f"funnel levels must be in (0, 1), got {list(levels)!r}")
    return lv


def _label(level: float) -> str:
    return f"{100 * level:g}".replace(".", "")
