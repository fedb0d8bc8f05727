"""Post-stratification of response weights to dossier volumes per agency × field cell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from analysis.design import Calibration
from analysis.frames import DEFAULT_CELLS, load_frame, period_granularity, period_of
from analysis.weighting._base import (
    POSTSTRATUM_COLUMN,
    EmptyCellsError,
    UnmatchedResponsesError,
    WeightingError,
    WeightingResult,
    base_weight_frame,
    base_weights,
    summarise,
)
from analysis.weighting._coding import code_text, match_cells, sample_cells
from analysis.weighting.collapse import CollapseRule, collapse_cells

__all__ = ["CollapseRule", "poststratify", "poststratify_to_frame", "population_cells"]


def population_cells(
    frame: pd.DataFrame | pd.Series, cells: Sequence[str], value_column: str = "dossiers"
) -> pd.DataFrame:
    """Normalise a frame (DataFrame or Series indexed by the cells) to ``cells + population``."""
    if isinstance(frame, pd.Series):
        table = frame.rename("population").reset_index()
    else:
        if value_column not in frame.columns:
            raise WeightingError(f"the frame has no {value_column!r} column")
        table = frame.rename(columns={value_column: "population"})
    missing = [c for c in cells if c not in table.columns]
    if missing:
        raise WeightingError(f"the frame has no column(s) {missing} (cells are {list(cells)})")
    table = table[[*cells, "population"]].copy()
    for col in cells:
        blank = table[col].isna()
        if blank.any():
            raise WeightingError(f"the frame has {int(blank.sum())} blank {col!r} code(s)")
        table[col] = table[col].map(code_text)
    pop = pd.to_numeric(table["population"], errors="coerce").to_numpy(dtype=float)
    if (~np.isfinite(pop) | (pop < 0)).any():
        raise WeightingError("frame totals must be finite and non-negative (use load_frame)")
    table["population"] = pop
    dup = table.duplicated(list(cells), keep=False)
    if dup.any():
        raise WeightingError(
            f"the frame has {int(dup.sum())} rows for repeated cells "
            f"{table.loc[dup, list(cells)].drop_duplicates().head(5).values.tolist()}; if it has "
            "a period column, include 'period' in cells or select one period"
        )
    return table.reset_index(drop=True)


def poststratify(
    df: pd.DataFrame,
    frame: pd.DataFrame | pd.Series,
    cells: Sequence[str] = DEFAULT_CELLS,
    base_weight: str | pd.Series | np.ndarray | None = None,
    collapse: CollapseRule | None = None,
    *,
    partial: bool = False,
    unmatched: Literal["error", "zero"] = "error",
    value_column: str = "dossiers",
) -> WeightingResult:
    r"""Post-stratify weights so that they sum to the frame volume in every cell.

    .. math::

        w_i = w^0_i \, \frac{N_g}{\sum_{k \in g} w^0_k}, \qquad i \in g,

    where *g* is the post-stratum (cell, or collapsed group of cells) of response *i*,
    :math:`N_g` its dossier volume and :math:`w^0` the base weight (1 by default, giving
    :math:`N_g / n_g`). Equivalent to R ``survey::postStratify(design, ~agency+field, pop)``
    (Lumley 2010, §7.3); ``partial=True`` is R's ``partial=TRUE``.

    Parameters
    ----------
    df : DataFrame
        One row per response, with the ``cells`` columns.
    frame : DataFrame or Series
        Population totals: a DataFrame with the ``cells`` columns and ``value_column`` (as
        returned by :func:`analysis.frames.load_frame`), or a Series indexed by the cells.
        Cells with volume 0 are not populated.
    cells : sequence of str
        The cell columns, present in both tables.
    base_weight : str, Series, array or None
        Column name, or weights aligned to ``df``; ``None`` means 1.
    collapse : CollapseRule or None
        How to merge populated cells without responses. ``None``: no collapsing.
    partial : bool
        Leave out populated cells that have no responses (after collapsing). The weights then
        sum to less than the frame total; ``diagnostics.shortfall`` says by how much.
    unmatched : {"error", "zero"}
        Responses whose cell is absent from the frame (or has volume 0, or a blank code):
        raise :class:`UnmatchedResponsesError` (default) or give them weight 0.
    value_column : str
        The volume column of a DataFrame frame.

    Returns
    -------
    WeightingResult
        ``weights``, ``calibration`` (kind ``poststratify``), ``diagnostics`` and ``strata``
        (post-stratum label per row after collapsing).

    Raises
    ------
    EmptyCellsError
        Populated cells have no responses, and neither ``collapse`` nor ``partial`` deals
        with them.
    UnmatchedResponsesError
        See ``unmatched``.
    WeightingError
        Bad inputs (missing columns, negative base weights, repeated frame cells).

    References
    ----------
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
    """
    cells = tuple(cells)
    if unmatched not in ("error", "zero"):
        raise WeightingError(f"unmatched must be 'error' or 'zero', not {unmatched!r}")
    pop = population_cells(frame, cells, value_column)
    pop = pop[pop["population"] > 0].reset_index(drop=True)
    w0 = base_weights(df, base_weight)

    row_cell, labels = sample_cells(df, cells)
    cell_to_frame = match_cells(labels, pop[list(cells)])
    row_g = np.where(row_cell >= 0, cell_to_frame[np.maximum(row_cell, 0)], -1)
    row_g[row_cell < 0] = -1

    unmatched_table = _unmatched_table(row_cell, row_g, labels, cells, frame, value_column)
    if len(unmatched_table) and unmatched == "error":
        raise UnmatchedResponsesError(unmatched_table, "cell(s)")

    n_frame = len(pop)
    ok = row_g >= 0
    responding = np.bincount(row_g[ok & (w0 > 0)], minlength=n_frame)
    strata, stratum_label, empty = collapse_cells(pop, cells, responding, collapse)

    left_out = empty["handling"] == "left out" if len(empty) else pd.Series(dtype=bool)
    if len(empty) and left_out.any() and not partial:
        hint = (
            "Pass a CollapseRule (collapse=...) to merge them with cells that have responses, "
            "or partial=True to leave them out (the weights then sum to less than the frame)."
            if collapse is None
            else "No cell of their group has responses; pass partial=True to leave them out."
        )
        raise EmptyCellsError(empty.loc[left_out, [*cells, "population"]], hint)

    n_strata = int(strata.max()) + 1 if n_frame else 0
    covered = np.ones(n_frame, dtype=bool)
    if len(empty):
        covered[empty.loc[left_out, "_g"].to_numpy(dtype=int)] = False
    pop_s = np.bincount(strata[covered], pop["population"].to_numpy()[covered], n_strata)
    row_s = np.where(ok, strata[np.maximum(row_g, 0)], -1)
    w0_s = np.bincount(row_s[ok], w0[ok], n_strata)
    factor = np.divide(pop_s, w0_s, out=np.zeros(n_strata), where=w0_s > 0)
    w = np.where(ok, w0 * factor[np.maximum(row_s, 0)], 0.0)

    notes = []
    if len(empty):
        n_col = int((empty["handling"] == "collapsed").sum())
        if n_col:
            notes.append(f"{n_col} empty cell(s) collapsed into cells with responses.")
        if left_out.any():
            notes.append(
                f"{int(left_out.sum())} empty cell(s) left out (partial=True): the weights sum "
                f"to {pop['population'].sum() - pop_s.sum():g} dossiers less than the frame."
            )
    if len(unmatched_table):
        notes.append(
            f"{int(unmatched_table['responses'].sum())} response(s) outside the frame got weight 0."
        )
    diagnostics = summarise(
        "poststratify",
        w,
        population_total=float(pop["population"].sum()),
        n_cells=n_frame,
        n_strata=len(np.unique(strata[covered])),
        empty_cells=empty.drop(columns="_g") if len(empty) else empty,
        unmatched=unmatched_table,
        notes=notes,
    )
    strata_series = pd.Series(
        pd.Categorical.from_codes(row_s, categories=pd.Index(stratum_label, dtype=object)),
        index=df.index,
        name="poststratum",
    )
    weight_col, extra = base_weight_frame(df, base_weight, w0)
    collapsed = bool(len(empty)) and (empty["handling"] == "collapsed").any()
    if collapsed:
        extra[POSTSTRATUM_COLUMN] = strata_series
    calibration = Calibration(
        kind="poststratify",
        cell_columns=(POSTSTRATUM_COLUMN,) if collapsed else cells,
        margins=None,
        base_weight_column=weight_col,
    )
    return WeightingResult(
        weights=pd.Series(w, index=df.index, name="weight"),
        calibration=calibration,
        diagnostics=diagnostics,
        strata=strata_series,
        extra_columns=extra,
    )


def poststratify_to_frame(
    df: pd.DataFrame,
    frame: str | Path | pd.DataFrame,
    cells: Sequence[str] = DEFAULT_CELLS,
    base_weight: str | pd.Series | np.ndarray | None = None,
    collapse: CollapseRule | None = None,
    *,
    partial: bool = False,
    unmatched: Literal["error", "zero"] = "error",
    period_column: str = "submitted_at",
) -> WeightingResult:
    """Load a frame file (if a path) and post-stratify the responses to it.

    This is what ``sipas analyze --frame VOLUMES.csv`` calls. If the frame has a ``period``
    column, each response's period is derived from ``period_column`` (ISO 8601 UTC) at the
    frame's granularity (see :func:`analysis.frames.period_of`) and ``period`` becomes an
    extra cell column, so every period is post-stratified to its own volumes. Responses in
    periods absent from the frame are unmatched.

    Parameters and the result are those of :func:`poststratify`.
    """
    table = load_frame(frame, cells=cells) if isinstance(frame, str | Path) else frame
    cells = tuple(cells)
    if "period" in table.columns and "period" not in cells:
        if period_column not in df.columns:
            raise WeightingError(
                f"the frame has periods but the responses have no {period_column!r} column"
            )
        granularity = period_granularity(table["period"].astype(str))
        df = df.assign(period=period_of(df[period_column], granularity).to_numpy())
        result = poststratify(
            df,
            table,
            (*cells, "period"),
            base_weight,
            collapse,
            partial=partial,
            unmatched=unmatched,
        )
        extra = result.extra_columns.assign(period=df["period"])
        return replace(result, extra_columns=extra)
    return poststratify(
        df, table, cells, base_weight, collapse, partial=partial, unmatched=unmatched
    )


def _unmatched_table(
    row_cell: np.ndarray,
    row_g: np.ndarray,
    labels: pd.DataFrame,
    cells: tuple[str, ...],
    frame: pd.DataFrame | pd.Series,
    value_column: str,
) -> pd.DataFrame:
    bad = row_g < 0
    if not bad.any():
        return pd.DataFrame(columns=[*cells, "responses", "reason"])
    counts = np.bincount(row_cell[bad & (row_cell >= 0)], minlength=len(labels))
    table = labels[counts > 0].copy()
    table["responses"] = counts[counts > 0]
    full = population_cells(frame, cells, value_column)
    in_frame = match_cells(table[list(cells)], full[list(cells)]) >= 0
    table["reason"] = np.where(in_frame, "zero volume", "not in frame")
    n_missing = int((row_cell < 0).sum())
    if n_missing:
        blank = {c: "" for c in cells} | {"responses": n_missing, "reason": "blank code"}
        table = pd.concat([table, pd.DataFrame([blank])], ignore_index=True)
    return table.reset_index(drop=True)
