"""Calibration estimators (Deville & Särndal 1992) on categorical margins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.design import Calibration
from analysis.weighting._base import (
    MarginError,
    WeightingError,
    WeightingResult,
    base_weight_frame,
    base_weights,
    summarise,
)
from analysis.weighting._coding import code_margins, expand, joint_cells
from analysis.weighting.raking import RakingDidNotConverge, RakingReport, margin_residuals

__all__ = ["calibrate"]

CalFun = Literal["linear", "raking", "logit"]


def calibrate(
    df: pd.DataFrame,
    totals: Mapping[str, pd.Series],
    model: Sequence[str] = ("agency_code", "field_code"),
    calfun: CalFun = "linear",
    bounds: tuple[float, float] | None = None,
    base_weight: str | pd.Series | np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 50,
    unmatched: Literal["error", "zero"] = "error",
) -> WeightingResult:
    r"""Calibrate weights to category totals of a main-effects model (GREG / raking / logit).

    The calibrated weights :math:`w_i = w^0_i F(x_i^\top \lambda)` meet the constraints
    :math:`\sum_i w_i x_i = T`, where :math:`x_i` holds the indicators of response *i*'s
    category on every ``model`` column and *T* the population totals. The multipliers
    :math:`\lambda` are found by Newton's method, as in R ``survey::grake``:

    .. math::

        \lambda \leftarrow \lambda + \Big(\sum_i w^0_i F'(x_i^\top\lambda)\, x_i x_i^\top
        \Big)^{-1} \Big(T - \sum_i w^0_i F(x_i^\top\lambda)\, x_i\Big)

    (with the first category of every margin but the first dropped, as in R's model matrix
    ``~a + b``, since the indicators of two margins are collinear). The calibration
    function is

    * ``linear`` (GREG, chi-square distance): :math:`F(u) = 1 + u`; with ``bounds`` (L, U)
      truncated to [L, U] like R's ``cal.linear``. **Weights can be negative**: their count
      is in ``diagnostics.n_negative``.
    * ``raking`` (multiplicative): :math:`F(u) = e^u`; the fixed point of :func:`rake`.
    * ``logit``: R's ``cal.logit``, which keeps :math:`w_i / w^0_i` inside ``bounds``
      (required, with L < 1 < U).

    Iteration stops when :math:`\max_k |T_k - \hat t_k| / T_k \le` ``tol``.

    Parameters
    ----------
    df : DataFrame
        One row per response.
    totals : mapping of str to Series
        Population total per category for each ``model`` column, e.g.
        ``{"agency_code": N_by_agency, "field_code": N_by_field}`` (same grand total).
    model : sequence of str
        The categorical columns of the calibration model (main effects, like R's
        ``~agency_code + field_code``).
    calfun : {"linear", "raking", "logit"}
    bounds : (float, float) or None
        Bounds on the g-weights :math:`w_i / w^0_i` (``linear`` and ``logit`` only).
    base_weight : str, Series, array or None
        Column name, or weights aligned to ``df``; ``None`` means 1.
    tol : float
        Tolerance on the maximum relative margin residual.
    max_iter : int
        Maximum Newton steps.
    unmatched : {"error", "zero"}
        Responses in categories without a positive total: error, or weight 0.

    Returns
    -------
    WeightingResult
        With ``report`` a :class:`~analysis.weighting.RakingReport` of the Newton steps.

    Raises
    ------
    RakingDidNotConverge
        If the tolerance is not reached (e.g. bounds too tight).
    MarginError, UnmatchedResponsesError, WeightingError
        As for :func:`~analysis.weighting.rake`; also for bad ``calfun`` or ``bounds``.

    References
    ----------
    Deville JC, Särndal CE (1992). Calibration estimators in survey sampling. *JASA*
    87:376–382. Lumley T (2010), *Complex Surveys*, §7.5 (R ``calibrate``).
    """
    model = tuple(model)
    if calfun not in ("linear", "raking", "logit"):
        raise WeightingError(f"calfun must be 'linear', 'raking' or 'logit', not {calfun!r}")
    if set(model) != set(totals):
        raise MarginError(f"totals are given for {sorted(totals)} but the model is {list(model)}")
    fun, dfun = _calfun(calfun, bounds)
    w0 = base_weights(df, base_weight)
    coded = code_margins(df, {c: totals[c] for c in model}, w0, unmatched=unmatched)
    # g-weights depend on a row only through its cell of the crossed margins: run Newton on
    # the cell totals of w0 and expand to rows once at the end.
    row_cell, codes, w0_ok = joint_cells(coded, w0)
    sizes = [len(c) for c in coded.categories]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    target = np.concatenate(coded.targets)

    lam = np.zeros(int(offsets[-1]))
    # The indicators of two margins are collinear (each sums to 1): like R's model matrix
    # ~a + b, fix the multiplier of the first category of every margin after the first at 0.
    free = np.ones(len(lam), dtype=bool)
    free[offsets[1:-1]] = False
    if calfun == "raking":
        # Start from the first margin's ratio adjustment: Newton on exp() from g = 1 moves u by
        # about 1 per step when the weights must grow a lot (here typically N / n ≫ 1).
        first = np.bincount(codes[0], w0_ok, sizes[0])
        lam[: sizes[0]] = np.log(coded.targets[0] / first)
    history: list[float] = []
    w_ok = w0_ok.copy()
    g = np.ones_like(w0_ok)
    for _ in range(max_iter):
        u = sum(lam[offsets[m] + codes[m]] for m in range(len(codes)))
        g, dg = fun(u), dfun(u)
        w_ok = w0_ok * g
        achieved = _totals(codes, w_ok, sizes)
        history.append(float(np.max(np.abs(target - achieved) / target)))
        if history[-1] <= tol:
            break
        hessian = _cross(codes, w0_ok * dg, sizes)[np.ix_(free, free)]
        step = np.zeros_like(lam)
        step[free] = _solve(hessian, (target - achieved)[free])
        lam = _damped(lam, step, codes, offsets, w0_ok, fun, target, sizes)
    w = expand(row_cell, w0, g)
    report = RakingReport(
        converged=history[-1] <= tol,
        iterations=len(history) - 1,
        max_residual=history[-1],
        tol=tol,
        history=tuple(history),
        residuals=margin_residuals(coded, w),
    )
    if not report.converged:
        what = f"calibration ({calfun}" + (f", bounds {bounds}: too tight?)" if bounds else ")")
        raise RakingDidNotConverge(report, what)
    notes = [f"Newton converged in {report.iterations} steps."]
    if (w < 0).any():
        notes.append(
            f"{int((w < 0).sum())} negative weight(s): linear calibration does not keep "
            "weights positive; use calfun='raking' or bounds."
        )
    diagnostics = summarise(
        f"calibrate:{calfun}",
        w,
        population_total=float(coded.targets[0].sum()),
        n_cells=int(offsets[-1]),
        n_strata=int(offsets[-1]),
        unmatched=coded.unmatched,
        notes=notes,
    )
    weight_col, extra = base_weight_frame(df, base_weight, w0)
    # The calibration variance depends only on the model matrix, not on calfun
    # (Deville & Särndal 1992): bounded logit calibration shares the linear residuals.
    calibration = Calibration(
        kind="raking" if calfun == "raking" else "linear",
        cell_columns=model,
        margins=tuple((c,) for c in model),
        base_weight_column=weight_col,
    )
    return WeightingResult(
        weights=pd.Series(w, index=df.index, name="weight"),
        calibration=calibration,
        diagnostics=diagnostics,
        report=report,
        extra_columns=extra,
    )


def _totals(codes: Sequence[np.ndarray], w: np.ndarray, sizes: list[int]) -> np.ndarray:
    return np.concatenate([np.bincount(c, w, k) for c, k in zip(codes, sizes, strict=True)])


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:  # structural zeros can make the model rank-deficient
        return np.linalg.lstsq(matrix, rhs, rcond=None)[0]


def _cross(codes: Sequence[np.ndarray], v: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Σ v_i x_i x_iᵀ for one-hot x over several margins, by (2-D) bincounts."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.zeros((offsets[-1], offsets[-1]))
    for a, (ca, ka) in enumerate(zip(codes, sizes, strict=True)):
        sa = slice(offsets[a], offsets[a + 1])
        out[sa, sa] = np.diag(np.bincount(ca, v, ka))
        for b in range(a + 1, len(codes)):
            cb, kb = codes[b], sizes[b]
            block = np.bincount(ca.astype(np.int64) * kb + cb, v, ka * kb).reshape(ka, kb)
            sb = slice(offsets[b], offsets[b + 1])
            out[sa, sb] = block
            out[sb, sa] = block.T
    return out


def _damped(
    lam: np.ndarray,
    step: np.ndarray,
    codes: Sequence[np.ndarray],
    offsets: np.ndarray,
    w0: np.ndarray,
    fun: Callable[[np.ndarray], np.ndarray],
    target: np.ndarray,
    sizes: list[int],
) -> np.ndarray:
    """Newton step, halved while it produces non-finite g-weights (as R's grake does)."""
    for _ in range(30):
        new = lam + step
        u = sum(new[offsets[m] + codes[m]] for m in range(len(codes)))
        with np.errstate(over="ignore", invalid="ignore"):
            g = fun(u)
        if np.all(np.isfinite(g)):
            return new
        step = step / 2
    raise WeightingError("calibration diverged (non-finite weights); check the totals")


def _calfun(
    calfun: str, bounds: tuple[float, float] | None
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    if bounds is not None:
        lo, hi = (float(b) for b in bounds)
        if not lo < 1 < hi:
            raise WeightingError(f"bounds must satisfy lower < 1 < upper, got {bounds}")
    if calfun == "raking":
        if bounds is not None:
            raise WeightingError("bounds are only supported with calfun='linear' or 'logit'")
        return np.exp, np.exp
    if calfun == "linear":
        if bounds is None:
            return (lambda u: 1.0 + u), (lambda u: np.ones_like(u))
        return (
            lambda u: np.clip(1.0 + u, lo, hi),
            lambda u: ((u > lo - 1) & (u < hi - 1)).astype(float),
        )
    if bounds is None or not (np.isfinite(lo) and np.isfinite(hi)):
        raise WeightingError("calfun='logit' needs finite bounds (lower < 1 < upper)")
    a = (hi - lo) / ((1 - lo) * (hi - 1))

    def logit(u: np.ndarray) -> np.ndarray:
        e = np.exp(np.clip(a * u, -700, 700))
        return (lo * (hi - 1) + hi * (1 - lo) * e) / (hi - 1 + (1 - lo) * e)

    def dlogit(u: np.ndarray) -> np.ndarray:
        e = np.exp(np.clip(a * u, -700, 700))
        den = hi - 1 + (1 - lo) * e
        return a * (1 - lo) * e * (hi * den - (lo * (hi - 1) + hi * (1 - lo) * e)) / den**2

    return logit, dlogit
