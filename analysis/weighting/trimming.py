"""Weight trimming with redistribution of the trimmed excess."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.weighting._base import WeightingDiagnostics, WeightingError, summarise

__all__ = ["TrimResult", "TrimmingError", "trim_weights"]


class TrimmingError(WeightingError):
    """The cap cannot be met while preserving the totals (cap × rows < group total)."""


@dataclass(frozen=True, slots=True)
class TrimResult:
    """Trimmed weights.

    Attributes
    ----------
    weights : pandas.Series
        The trimmed weights, aligned to the input.
    upper, lower : float
        The caps applied, in weight units.
    n_trimmed : int
        Rows set to the upper cap (weights that exceeded it at some iteration).
    n_raised : int
        Rows raised to the lower cap.
    iterations : int
        Trim-and-redistribute rounds.
    diagnostics : WeightingDiagnostics
        Kish deff and weight range after trimming (compare with the input's).
    """

    weights: pd.Series
    upper: float
    lower: float
    n_trimmed: int
    n_raised: int
    iterations: int
    diagnostics: WeightingDiagnostics


def trim_weights(
    weights: pd.Series,
    cap: float = 3.5,
    *,
    relative_to: str = "median",
    lower: float | None = None,
    groups: pd.Series | np.ndarray | None = None,
    max_iter: int = 100,
) -> TrimResult:
    r"""Cap large weights and give the trimmed excess to the other rows, preserving totals.

    With cap :math:`C` (``cap × median(w)`` over the non-zero weights, or ``cap`` itself if
    ``relative_to="absolute"``), each round sets :math:`w_i = C` for every :math:`w_i > C`
    and spreads the excess :math:`E_g = \sum_{i \in g,\, w_i > C} (w_i - C)` over the rows
    of the same group *g* that have never been capped, in proportion to their weights:

    .. math::

        w_j \leftarrow w_j \Big(1 + \frac{E_g}{\sum_{k \in g,\ \text{free}} w_k}\Big).

    Rounds repeat until no weight exceeds the cap (redistribution can push new rows over
    it). A ``lower`` cap works the same way, taking the shortfall from the free rows. The
    total of every group (or the grand total) is preserved exactly. Caps are computed once,
    from the input weights. Like R ``survey::trimWeights(strict=TRUE)``, except that R
    spreads the excess equally rather than proportionally.

    Trimming weights that came from post-stratification or raking breaks their calibration
    (the cell or margin totals move unless ``groups`` are the cells): re-check the
    diagnostics, and use ``groups`` to keep cell totals.

    Parameters
    ----------
    weights : Series
        Non-negative weights.
    cap : float
        Upper cap: a multiple of the median non-zero weight, or an absolute value.
    relative_to : {"median", "absolute"}
        How ``cap`` and ``lower`` are read.
    lower : float or None
        Optional lower cap, read like ``cap``.
    groups : Series or array or None
        Group label per row (e.g. the post-stratification cells); totals are preserved
        within each group. ``None``: one group.
    max_iter : int
        Maximum rounds.

    Returns
    -------
    TrimResult

    Raises
    ------
    TrimmingError
        If a group's total exceeds ``cap × rows`` (or falls below ``lower × rows``), or the
        rounds do not settle in ``max_iter``.
    WeightingError
        For negative or non-finite weights, or bad caps.
    """
    if relative_to not in ("median", "absolute"):
        raise WeightingError(f"relative_to must be 'median' or 'absolute', not {relative_to!r}")
    w = np.asarray(weights, dtype=float).copy()
    if (~np.isfinite(w) | (w < 0)).any():
        raise WeightingError("weights must be finite and non-negative to be trimmed")
    scale = float(np.median(w[w > 0])) if relative_to == "median" and (w > 0).any() else 1.0
    upper = cap * scale
    low = lower * scale if lower is not None else 0.0
    if not (upper > 0 and low < upper):
        raise WeightingError(f"need 0 ≤ lower < cap, got lower={low:g}, cap={upper:g}")
    if groups is None:
        g = np.zeros(len(w), dtype=np.int64)
    else:
        g = np.asarray(pd.factorize(np.asarray(groups), use_na_sentinel=False)[0], dtype=np.int64)
    k = int(g.max()) + 1 if len(g) else 0
    active = w > 0
    totals = np.bincount(g, w, k)
    size = np.bincount(g[active], minlength=k)
    if (totals > upper * size * (1 + 1e-12)).any() or (totals < low * size * (1 - 1e-12)).any():
        bad = np.flatnonzero((totals > upper * size) | (totals < low * size))
        raise TrimmingError(
            f"{len(bad)} group(s) cannot be trimmed to [{low:g}, {upper:g}] without changing "
            "their total (too few rows for the cap)"
        )
    capped = np.zeros(len(w), dtype=bool)
    raised = np.zeros(len(w), dtype=bool)
    iterations = 0
    tol = 1e-12 * upper
    while True:
        hi = active & (w > upper + tol)
        lo = active & (w < low - tol)
        if not (hi.any() or lo.any()):
            break
        iterations += 1
        if iterations > max_iter:
            raise TrimmingError(f"trimming did not settle in {max_iter} rounds")
        excess = np.bincount(g[hi], w[hi] - upper, k) - np.bincount(g[lo], low - w[lo], k)
        w[hi], w[lo] = upper, low
        capped |= hi
        raised |= lo
        free = active & ~capped & ~raised
        room = np.bincount(g[free], w[free], k)
        if ((room <= 0) & (np.abs(excess) > tol)).any():
            raise TrimmingError("no untrimmed rows left to take the excess in some group")
        factor = np.divide(excess, room, out=np.zeros(k), where=room > 0)
        w[free] *= 1 + factor[g[free]]
    diagnostics = summarise(
        "trim",
        w,
        population_total=float(totals.sum()),
        n_cells=k,
        n_strata=k,
        notes=[f"{int(capped.sum())} weight(s) capped at {upper:g} in {iterations} round(s)."],
    )
    index = weights.index if isinstance(weights, pd.Series) else None
    return TrimResult(
        weights=pd.Series(w, index=index, name="weight"),
        upper=upper,
        lower=low,
        n_trimmed=int(capped.sum()),
        n_raised=int(raised.sum()),
        iterations=iterations,
        diagnostics=diagnostics,
    )
