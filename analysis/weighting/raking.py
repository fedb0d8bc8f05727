"""Raking (iterative proportional fitting) of weights to agency and field margins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.design import Calibration
from analysis.weighting._base import (
    WeightingError,
    WeightingResult,
    base_weight_frame,
    base_weights,
    summarise,
)
from analysis.weighting._coding import CodedMargins, code_margins, expand, joint_cells

__all__ = ["RakingDidNotConverge", "RakingReport", "margin_residuals", "rake"]


@dataclass(frozen=True, slots=True)
class RakingReport:
    """Convergence of an iterative weighting (raking or calibration).

    Attributes
    ----------
    converged : bool
        Whether ``max_residual <= tol``.
    iterations : int
        Full sweeps (raking) or Newton steps (calibration) done.
    max_residual : float
        :math:`\\max_k |T_k - \\hat t_k| / T_k` over all margin categories *k* with the final
        weights.
    tol : float
        The tolerance asked for.
    history : tuple of float
        ``max_residual`` after each iteration.
    residuals : pandas.DataFrame
        Per margin category: ``margin``, ``category``, ``target``, ``achieved``,
        ``rel_residual``.
    """

    converged: bool
    iterations: int
    max_residual: float
    tol: float
    history: tuple[float, ...]
    residuals: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The per-category residual table."""
        return self.residuals.copy()


class RakingDidNotConverge(WeightingError):
    """Raking or calibration did not reach the tolerance; ``report`` says how far it got."""

    def __init__(self, report: RakingReport, method: str = "raking") -> None:
        self.report = report
        worst = report.residuals.sort_values("rel_residual", ascending=False).head(3)
        listed = ", ".join(
            f"{r.margin}={r.category} ({r.rel_residual:.3g})" for r in worst.itertuples()
        )
        super().__init__(
            f"{method} did not converge in {report.iterations} iterations: max relative margin "
            f"residual {report.max_residual:.3g} > tol {report.tol:.3g}; worst: {listed}. "
            "The margins may be incompatible with the sample's zero cells (an agency that "
            "handles no dossiers of a field), or max_iter is too small."
        )


def margin_residuals(coded: CodedMargins, w: np.ndarray) -> pd.DataFrame:
    """Per-category table of target, achieved total and relative residual |T − t̂| / T."""
    parts = []
    for col, cat, target, code in zip(
        coded.columns, coded.categories, coded.targets, coded.codes, strict=True
    ):
        achieved = np.bincount(code[coded.ok], w[coded.ok], len(cat))
        parts.append(
            pd.DataFrame(
                {
                    "margin": col,
                    "category": np.asarray(cat, dtype=object),
                    "target": target,
                    "achieved": achieved,
                    "rel_residual": np.abs(target - achieved) / target,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def rake(
    df: pd.DataFrame,
    margins: Mapping[str, pd.Series],
    base_weight: str | pd.Series | np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    unmatched: Literal["error", "zero"] = "error",
) -> WeightingResult:
    r"""Rake weights to several margins by iterative proportional fitting (IPF).

    Each sweep adjusts the weights to every margin in turn:

    .. math::

        w_i \leftarrow w_i \, \frac{T_{k(i)}}{\sum_{j:\,k(j)=k(i)} w_j}

    where :math:`T_k` is the population total of margin category *k*. Sweeps stop when the
    largest relative residual over all categories,
    :math:`\max_k |T_k - \hat t_k| / T_k`, is at most ``tol``. This is the fixed point of
    R ``survey::rake`` and of ``calibrate(calfun="raking")`` (Deville & Särndal 1992), but
    with a tolerance on the margins themselves rather than R's default ``epsilon=1``
    weight unit, which stops too early (survey-stats.md §5).

    Parameters
    ----------
    df : DataFrame
        One row per response, with a column per margin.
    margins : mapping of str to Series
        ``{"agency_code": Series(total by agency), "field_code": Series(total by field)}``.
        All margins must have the same grand total.
    base_weight : str, Series, array or None
        Column name, or weights aligned to ``df``; ``None`` means 1.
    tol : float
        Tolerance on the maximum relative margin residual.
    max_iter : int
        Maximum number of sweeps.
    unmatched : {"error", "zero"}
        Responses in categories without a positive total: error, or weight 0.

    Returns
    -------
    WeightingResult
        With ``report`` a :class:`RakingReport`.

    Raises
    ------
    RakingDidNotConverge
        With the report, if the tolerance is not reached in ``max_iter`` sweeps (e.g. the
        sample's structural zeros are incompatible with the margins).
    MarginError
        A category with a positive total has no responses (the list is in the message), the
        grand totals differ, or a margin is malformed.
    UnmatchedResponsesError
        See ``unmatched``.

    References
    ----------
    Deville JC, Särndal CE, Sautory O (1993). Generalized raking procedures in survey
    sampling. *JASA* 88:1013–1020. Lumley T (2010), *Complex Surveys*, §7.4 (R ``rake``).
    """
    if not (tol > 0 and max_iter >= 1):
        raise WeightingError("tol must be positive and max_iter at least 1")
    w0 = base_weights(df, base_weight)
    coded = code_margins(df, margins, w0, unmatched=unmatched)
    # IPF multiplies whole margin categories, so w / w0 is constant within the cells of the
    # crossed margins: iterate on the cell totals and expand to rows once at the end.
    row_cell, codes, cell_w0 = joint_cells(coded, w0)
    w_cell = cell_w0.copy()
    history: list[float] = []
    for _ in range(max_iter):
        for cat, target, code in zip(coded.categories, coded.targets, codes, strict=True):
            current = np.bincount(code, w_cell, len(cat))
            factor = np.divide(target, current, out=np.zeros(len(cat)), where=current > 0)
            w_cell *= factor[code]
        history.append(_max_residual(coded.targets, codes, w_cell))
        if history[-1] <= tol:
            break
    ratio = np.divide(w_cell, cell_w0, out=np.zeros_like(w_cell), where=cell_w0 > 0)
    w = expand(row_cell, w0, ratio)
    residuals = margin_residuals(coded, w)
    report = RakingReport(
        converged=history[-1] <= tol,
        iterations=len(history),
        max_residual=history[-1],
        tol=tol,
        history=tuple(history),
        residuals=residuals,
    )
    if not report.converged:
        raise RakingDidNotConverge(report)
    notes = [f"IPF converged in {report.iterations} sweeps (max rel. residual "]
    notes[0] += f"{report.max_residual:.2e})."
    if len(coded.unmatched):
        notes.append(
            f"{int(coded.unmatched['responses'].sum())} response(s) outside the margins got "
            "weight 0."
        )
    diagnostics = summarise(
        "rake",
        w,
        population_total=float(coded.targets[0].sum()),
        n_cells=sum(len(c) for c in coded.categories),
        n_strata=sum(len(c) for c in coded.categories),
        unmatched=coded.unmatched,
        notes=notes,
    )
    weight_col, extra = base_weight_frame(df, base_weight, w0)
    calibration = Calibration(
        kind="raking",
        cell_columns=coded.columns,
        margins=tuple((c,) for c in coded.columns),
        base_weight_column=weight_col,
    )
    return WeightingResult(
        weights=pd.Series(w, index=df.index, name="weight"),
        calibration=calibration,
        diagnostics=diagnostics,
        report=report,
        extra_columns=extra,
    )


def _max_residual(targets: tuple[np.ndarray, ...], codes: list[np.ndarray], w: np.ndarray) -> float:
    worst = 0.0
    for target, code in zip(targets, codes, strict=True):
        achieved = np.bincount(code, w, len(target))
        worst = max(worst, float(np.max(np.abs(target - achieved) / target)))
    return worst
