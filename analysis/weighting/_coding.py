"""Coding rows by cell or margin category with integer codes (vectorised, for 10M rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.weighting._base import (
    MarginError,
    UnmatchedResponsesError,
    WeightingError,
)

_MAX_LISTED = 20


def factor_column(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (−1 for missing) and the distinct values as strings."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = pd.Index([code_text(u) for u in uniques], dtype=object)
    if labels.has_duplicates:  # e.g. 1 and "1" in an object column: merge them
        merged, labels2 = pd.factorize(labels)
        codes = np.where(codes >= 0, merged[np.maximum(codes, 0)], -1)
        labels = pd.Index(labels2, dtype=object)
    return np.asarray(codes, dtype=np.int64), labels


def code_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def sample_cells(df: pd.DataFrame, cells: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Code each row by its cell.

    Returns
    -------
    codes : ndarray of int64
        Index into ``labels`` per row; −1 when a cell column is missing for the row.
    labels : DataFrame
        One row per distinct observed cell, columns ``cells`` (strings).
    """
    missing = [c for c in cells if c not in df.columns]
    if missing:
        raise WeightingError(f"the data has no column(s) {missing}")
    combined = np.zeros(len(df), dtype=np.int64)
    any_na = np.zeros(len(df), dtype=bool)
    level_sets = []
    for col in cells:
        codes, labels = factor_column(df[col])
        any_na |= codes < 0
        combined = combined * max(len(labels), 1) + np.maximum(codes, 0)
        level_sets.append(labels)
    combined[any_na] = -1
    cell_codes, uniq = pd.factorize(combined, use_na_sentinel=False)
    cell_codes = np.asarray(cell_codes, dtype=np.int64)
    uniq = np.asarray(uniq, dtype=np.int64)
    keep = uniq >= 0
    # unravel the observed combined codes back to labels
    sizes = [max(len(levels), 1) for levels in level_sets]
    parts = np.unravel_index(np.where(keep, uniq, 0), sizes) if sizes else ()
    labels = pd.DataFrame(
        {
            col: np.asarray(levels, dtype=object)[part] if len(levels) else []
            for col, levels, part in zip(cells, level_sets, parts, strict=True)
        }
    )
    # renumber so that missing cells are −1 and the others index `labels[keep]`
    new_index = np.full(len(uniq), -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    labels = labels[keep].reset_index(drop=True)
    return new_index[cell_codes], labels


def match_cells(labels: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Position of each row of ``labels`` in ``keys`` (−1 if absent); both small tables."""
    if len(labels.columns) == 1:
        col = labels.columns[0]
        return pd.Index(keys[col].astype(str)).get_indexer(labels[col].astype(str))
    left = pd.MultiIndex.from_frame(keys.astype(str))
    return left.get_indexer(pd.MultiIndex.from_frame(labels.astype(str)))


@dataclass(frozen=True, slots=True)
class CodedMargins:
    """Rows coded against a set of margins (internal to raking and calibration)."""

    columns: tuple[str, ...]
    categories: tuple[pd.Index, ...]  # margin categories with a positive total, as strings
    targets: tuple[np.ndarray, ...]  # their totals
    codes: tuple[np.ndarray, ...]  # per row, index into categories (−1 when unmatched)
    ok: np.ndarray  # rows matched on every margin
    unmatched: pd.DataFrame  # margin, category, responses, reason


def code_margins(
    df: pd.DataFrame,
    margins: Mapping[str, pd.Series],
    w0: np.ndarray,
    *,
    unmatched: str,
    check_totals: bool = True,
) -> CodedMargins:
    """Code each row's category on every margin and check the margins against the sample.

    Raises
    ------
    MarginError
        Missing columns, bad totals, populated categories absent from the sample, or
        margins whose grand totals disagree.
    UnmatchedResponsesError
        Responses in categories without a positive total, when ``unmatched='error'``.
    """
    if unmatched not in ("error", "zero"):
        raise WeightingError(f"unmatched must be 'error' or 'zero', not {unmatched!r}")
    if not margins:
        raise MarginError("no margins given")
    columns = tuple(margins)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MarginError(f"the data has no column(s) {missing} for the margins")
    cats, targets, codes, bad_rows = [], [], [], []
    ok = np.ones(len(df), dtype=bool)
    for col in columns:
        total = margins[col]
        if not isinstance(total, pd.Series):
            raise MarginError(f"margin {col!r} must be a Series indexed by category")
        values = pd.to_numeric(total, errors="coerce").to_numpy(dtype=float)
        if (~np.isfinite(values) | (values < 0)).any():
            raise MarginError(f"margin {col!r} has missing, infinite or negative totals")
        index = pd.Index([code_text(v) for v in total.index], dtype=object)
        if index.has_duplicates:
            twice = list(index[index.duplicated()])
            raise MarginError(f"margin {col!r} lists categories twice: {twice}")
        keep = values > 0
        cat = index[keep]
        row_code, labels = factor_column(df[col])
        where = cat.get_indexer(labels)
        rc = np.where(row_code >= 0, where[np.maximum(row_code, 0)], -1)
        rc[row_code < 0] = -1
        miss = rc < 0
        if miss.any():
            listed = set(index)
            counts = np.bincount(row_code[miss & (row_code >= 0)], minlength=len(labels))
            for j in np.flatnonzero(counts):
                reason = "zero total" if labels[j] in listed else "not in margin"
                bad_rows.append((col, labels[j], int(counts[j]), reason))
            if (row_code < 0).any():
                bad_rows.append((col, "", int((row_code < 0).sum()), "blank code"))
        ok &= ~miss
        cats.append(cat)
        targets.append(values[keep])
        codes.append(rc)
    table = pd.DataFrame(bad_rows, columns=["margin", "category", "responses", "reason"])
    if len(table) and unmatched == "error":
        raise UnmatchedResponsesError(table, "margin categories")
    absent = []
    for col, cat, rc in zip(columns, cats, codes, strict=True):
        present = np.bincount(rc[ok & (w0 > 0)], minlength=len(cat)) > 0
        absent += [f"{col}={c}" for c in cat[~present]]
    if absent:
        shown = ", ".join(absent[:_MAX_LISTED]) + (" ..." if len(absent) > _MAX_LISTED else "")
        raise MarginError(
            f"{len(absent)} margin categor{'y has' if len(absent) == 1 else 'ies have'} a "
            f"positive total but no responses: {shown}. Merge them with other categories."
        )
    if check_totals and len(columns) > 1:
        sums = [float(t.sum()) for t in targets]
        if max(sums) - min(sums) > 1e-9 * max(sums):
            listed_sums = ", ".join(f"{c}: {s:.10g}" for c, s in zip(columns, sums, strict=True))
            raise MarginError(f"the margins do not have the same grand total ({listed_sums})")
    return CodedMargins(
        columns, tuple(cats), tuple(targets), tuple(codes), ok, table.reset_index(drop=True)
    )


def joint_cells(
    coded: CodedMargins, w0: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Collapse the matched rows to the cells of the crossed margins.

    Raking and calibration weights are ``w0 × g(cell)``: the g-weight depends on a row only
    through its category on every margin, so the iterations can run on the (few hundred)
    cells instead of the rows.

    Returns
    -------
    row_cell : ndarray of int64
        Cell of every row (−1 for unmatched rows).
    cell_codes : tuple of ndarray
        Per margin, the category of every cell.
    cell_w0 : ndarray
        Σ w0 per cell.
    """
    ok = coded.ok
    combined = np.zeros(int(ok.sum()), dtype=np.int64)
    for cat, code in zip(coded.categories, coded.codes, strict=True):
        combined = combined * max(len(cat), 1) + code[ok]
    cell_ok, uniq = pd.factorize(combined)
    uniq = np.asarray(uniq, dtype=np.int64)
    sizes = [max(len(cat), 1) for cat in coded.categories]
    cell_codes = tuple(np.asarray(c, dtype=np.int64) for c in np.unravel_index(uniq, sizes))
    row_cell = np.full(len(ok), -1, dtype=np.int64)
    row_cell[ok] = cell_ok
    cell_w0 = np.bincount(np.asarray(cell_ok, dtype=np.int64), w0[ok], len(uniq))
    return row_cell, cell_codes, cell_w0


def expand(row_cell: np.ndarray, w0: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Row weights ``w0 × ratio[cell]`` (0 for unmatched rows)."""
    w = np.zeros(len(w0))
    ok = row_cell >= 0
    w[ok] = w0[ok] * ratio[row_cell[ok]]
    return w
