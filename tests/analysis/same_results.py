"""Comparing two ``sipas analyze`` result tables (two engines, or two sources of one export)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROUND_OFF = 1e-12
ZERO_SE_COLUMNS = ("ci_method", "ci_note")
"""Chosen by ``se == 0`` exactly: a zero SE that is ±1e-15 after another summation order
(a one-PSU domain) takes the other branch, so these are compared only where SE > round-off."""


def assert_same_results(left: pd.DataFrame, right: pd.DataFrame, tol: float = ROUND_OFF) -> None:
    """Same columns, rows and labels; numbers equal to ``tol`` (relative and absolute)."""
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    zero_se = np.zeros(len(left), dtype=bool)
    if "se" in left.columns:
        zero_se = (left["se"].abs() < tol).to_numpy() & (right["se"].abs() < tol).to_numpy()
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            np.testing.assert_allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=tol, atol=tol, err_msg=column
            )
            continue
        keep = ~zero_se if column in ZERO_SE_COLUMNS else np.ones(len(a), dtype=bool)
        same = _text(a)[keep] == _text(b)[keep]
        assert same.all(), (column, a[keep][~same].head().tolist(), b[keep][~same].head().tolist())


def _text(column: pd.Series) -> np.ndarray:
    """Labels as strings, blanks as ``""``."""
    return np.array(["" if pd.isna(v) else str(v) for v in column], dtype=object)
