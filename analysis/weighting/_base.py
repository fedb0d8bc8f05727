"""Shared pieces of the weighting package: errors, results, diagnostics, cell coding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import Calibration

_MAX_LISTED = 20


class WeightingError(ValueError):
    """Base class of the weighting errors (all are ``ValueError``)."""


class EmptyCellsError(WeightingError):
    """Population cells have no responses and were neither collapsed nor allowed (``partial``).

    ``cells`` is a DataFrame of the offending cells with their population totals.
    """

    def __init__(self, cells: pd.DataFrame, hint: str) -> None:
        self.cells = cells
        super().__init__(
            f"{len(cells)} population cell(s) have no responses: {_list_rows(cells)}. {hint}"
        )


class UnmatchedResponsesError(WeightingError):
    """Responses fall in cells or categories that have no population total.

    ``cells`` is a DataFrame of those cells with the number of responses in each.
    """

    def __init__(self, cells: pd.DataFrame, what: str) -> None:
        self.cells = cells
        n = int(cells["responses"].sum()) if "responses" in cells else len(cells)
        super().__init__(
            f"{n} response(s) fall in {len(cells)} {what} absent from the population totals: "
            f"{_list_rows(cells)}. Fix the codes or the frame, or pass unmatched='zero' to give "
            "them weight 0."
        )


class MarginError(WeightingError):
    """Margins or totals are unusable (missing categories, inconsistent grand totals...)."""


def _list_rows(table: pd.DataFrame) -> str:
    rows = ["/".join(str(v) for v in row) for row in table.itertuples(index=False)]
    text = ", ".join(rows[:_MAX_LISTED])
    if len(rows) > _MAX_LISTED:
        text += f", ... ({len(rows) - _MAX_LISTED} more)"
    return text


@dataclass(frozen=True, slots=True)
class WeightingDiagnostics:
    """What a weighting step did to the weights.

    Attributes
    ----------
    method : str
        ``poststratify``, ``rake``, ``calibrate:linear``, ``calibrate:raking``, ``trim``.
    n : int
        Rows (responses) passed in.
    n_weighted : int
        Rows with a non-zero final weight.
    population_total : float
        The total the weights were calibrated to (Σ N over the cells or one margin).
    sum_weights : float
        Σ w of the final weights.
    shortfall : float
        ``population_total − sum_weights``; non-zero only with ``partial=True`` (empty
        cells left out) or when unmatched responses were zero-weighted.
    kish_deff : float
        Kish's design effect due to weighting over the rows with non-zero weight,
        ``n Σw² / (Σw)² = 1 + CV²(w)``.
    min_weight, max_weight : float
        Over the rows with non-zero weight.
    weight_ratio : float
        ``max_weight / min_weight`` (``nan`` if ``min_weight ≤ 0``).
    n_negative : int
        Rows with a negative weight (possible with linear calibration).
    n_cells : int
        Population cells (post-stratification) or margin categories (raking, calibration)
        with a positive total.
    n_strata : int
        Post-strata actually used after collapsing (post-stratification); equals ``n_cells``
        for the other methods.
    empty_cells : pandas.DataFrame
        Population cells without responses: the cell columns, ``population``, ``handling``
        (``collapsed`` or ``left out``) and ``merged_into`` (the post-stratum label).
    unmatched : pandas.DataFrame
        Cells or categories of responses absent from the population totals, with
        ``responses`` (only non-empty when ``unmatched='zero'``).
    notes : tuple of str
        Plain-English remarks (collapsing, partial totals, convergence).
    """

    method: str
    n: int
    n_weighted: int
    population_total: float
    sum_weights: float
    shortfall: float
    kish_deff: float
    min_weight: float
    max_weight: float
    weight_ratio: float
    n_negative: int
    n_cells: int
    n_strata: int
    empty_cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    unmatched: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One-row table of the scalar diagnostics (for reports and exports)."""
        scalars = {
            k: getattr(self, k)
            for k in self.__slots__  # type: ignore[attr-defined]
            if k not in ("empty_cells", "unmatched", "notes")
        }
        scalars["n_empty_cells"] = len(self.empty_cells)
        scalars["n_unmatched"] = (
            int(self.unmatched["responses"].sum()) if len(self.unmatched) else 0
        )
        scalars["notes"] = " ".join(self.notes)
        return pd.DataFrame([scalars])


BASE_WEIGHT_COLUMN = "base_weight"
"""Column that :meth:`WeightingResult.apply` adds for the base weights when they were not a
column of the data (``base_weight=None`` means 1, or an array was passed)."""

POSTSTRATUM_COLUMN = "poststratum"
"""Column that :meth:`WeightingResult.apply` adds for collapsed post-strata."""


@dataclass(frozen=True, slots=True)
class WeightingResult:
    """Weights plus what the variance estimator needs to know about them.

    Attributes
    ----------
    weights : pandas.Series
        Final weights, aligned to the input DataFrame's index. Responses outside the
        population totals get 0 when ``unmatched='zero'``.
    calibration : analysis.design.Calibration
        The description of the calibration for calibration-aware variance (Lumley 2010,
        ch. 7). Its columns may include ones this step derived (``base_weight``, ``period``,
        ``poststratum``): they are in ``extra_columns``, and :meth:`apply` adds them.
    diagnostics : WeightingDiagnostics
    strata : pandas.Series or None
        Post-stratification only: the post-stratum label of each row after collapsing
        (missing for zero-weighted unmatched rows).
    report : RakingReport or None
        Raking and calibration: the convergence report.
    extra_columns : pandas.DataFrame
        Columns (aligned to the input) that ``calibration`` refers to but the input lacks.
    """

    weights: pd.Series
    calibration: Calibration
    diagnostics: WeightingDiagnostics
    strata: pd.Series | None = None
    report: Any = None
    extra_columns: pd.DataFrame = field(default_factory=pd.DataFrame)

    def apply(
        self, df: pd.DataFrame, weight_column: str = "weight", *, drop_unweighted: bool = True
    ) -> pd.DataFrame:
        """Return ``df`` with the final weights in ``weight_column`` and the extra columns.

        The result can be analysed with
        ``Design(weight=weight_column, calibration=result.calibration, ...)``. Rows with
        weight 0 (responses outside the population totals, kept with ``unmatched='zero'``)
        are dropped unless ``drop_unweighted=False``: the estimators need positive weights.
        """
        if not df.index.equals(self.weights.index):
            raise WeightingError("apply() needs the DataFrame the weights were computed from")
        out = df.assign(**{weight_column: self.weights.to_numpy()})
        for col in self.extra_columns.columns:
            out[col] = self.extra_columns[col].to_numpy()
        if drop_unweighted:
            out = out[out[weight_column] != 0]
        return out


# ---------------------------------------------------------------------------------------------
# helpers


def base_weights(df: pd.DataFrame, base_weight: str | pd.Series | np.ndarray | None) -> np.ndarray:
    """Return the base weights as float64 (ones if ``None``); validate them."""
    if base_weight is None:
        return np.ones(len(df))
    if isinstance(base_weight, str):
        if base_weight not in df.columns:
            raise WeightingError(f"base_weight column {base_weight!r} is not in the data")
        w0 = df[base_weight].to_numpy(dtype=float)
    elif isinstance(base_weight, pd.Series):
        w0 = base_weight.reindex(df.index).to_numpy(dtype=float)
    else:
        w0 = np.asarray(base_weight, dtype=float)
    if w0.shape != (len(df),):
        raise WeightingError(f"base weights have shape {w0.shape}, expected ({len(df)},)")
    bad = ~np.isfinite(w0) | (w0 < 0)
    if bad.any():
        raise WeightingError(
            f"{int(bad.sum())} base weight(s) are missing, infinite or negative "
            f"(first at row position {int(np.flatnonzero(bad)[0])})"
        )
    return w0


def base_weight_frame(
    df: pd.DataFrame, base_weight: object, w0: np.ndarray
) -> tuple[str, pd.DataFrame]:
    """The base weight column name for the Calibration, and a frame holding it if new."""
    if isinstance(base_weight, str):
        return base_weight, pd.DataFrame(index=df.index)
    return BASE_WEIGHT_COLUMN, pd.DataFrame({BASE_WEIGHT_COLUMN: w0}, index=df.index)


def summarise(
    method: str,
    w: np.ndarray,
    *,
    population_total: float,
    n_cells: int,
    n_strata: int,
    empty_cells: pd.DataFrame | None = None,
    unmatched: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> WeightingDiagnostics:
    """Build :class:`WeightingDiagnostics` from final weights ``w``."""
    nz = w[w != 0]
    total = float(w.sum())
    if len(nz):
        deff = float(len(nz) * np.dot(nz, nz) / total**2) if total != 0 else float("nan")
        wmin, wmax = float(nz.min()), float(nz.max())
    else:
        deff = wmin = wmax = float("nan")
    return WeightingDiagnostics(
        method=method,
        n=len(w),
        n_weighted=len(nz),
        population_total=float(population_total),
        sum_weights=total,
        shortfall=float(population_total) - total,
        kish_deff=deff,
        min_weight=wmin,
        max_weight=wmax,
        weight_ratio=wmax / wmin if wmin > 0 else float("nan"),
        n_negative=int((w < 0).sum()),
        n_cells=n_cells,
        n_strata=n_strata,
        empty_cells=empty_cells if empty_cells is not None else pd.DataFrame(),
        unmatched=unmatched if unmatched is not None else pd.DataFrame(),
        notes=tuple(notes),
    )
