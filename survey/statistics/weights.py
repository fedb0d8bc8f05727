"""Weights per weighting cell, joined to the responses in SQL.

Post-stratified (and raked or calibrated) weights are constant within the cells the
calibration model is built on: :math:`w_i = w^0_i\\,g_c` for every response :math:`i` of cell
:math:`c`. With base weights :math:`w^0` that are also constant within cells (1 by default),
the final weight is a function of the cell, so a small table ``cell → (w, w0)`` joined to the
responses gives every weighted total in one ``GROUP BY``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Float, String, column, values
from sqlalchemy.sql.selectable import CTE

from survey.statistics.columns import COLUMNS
from survey.statistics.errors import StatisticsQueryError, UnknownColumnError

__all__ = ["CellWeights"]

CellKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CellWeights:
    """The final (and base) weight of the responses of every weighting cell.

    Parameters
    ----------
    columns : tuple of str
        The cell columns (names of :data:`survey.statistics.COLUMNS`), e.g.
        ``("agency_code", "field_code")``.
    weights : mapping
        ``{(code, ...): final weight}``, one key per cell (a plain string for one column).
    base_weights : mapping, optional
        ``{(code, ...): base weight}`` (:math:`w^0`, before calibration); ``None``: 1.

    Raises
    ------
    StatisticsQueryError
        Empty columns, keys of the wrong length, weights that are not finite and non-zero, or
        base weights that are not finite and positive.
    UnknownColumnError
        A column the database cannot provide.
    """

    columns: tuple[str, ...]
    weights: Mapping[CellKey, float]
    base_weights: Mapping[CellKey, float] | None = field(default=None)

    def __post_init__(self) -> None:
        columns = tuple(self.columns)
        object.__setattr__(self, "columns", columns)
        if not columns:
            raise StatisticsQueryError("cell weights need at least one cell column")
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown:
            raise UnknownColumnError(f"unknown cell column(s) {unknown}; use {list(COLUMNS)}")
        object.__setattr__(self, "weights", self._normalise(self.weights, "weight", False))
        if self.base_weights is not None:
            base = self._normalise(self.base_weights, "base weight", True)
            missing = sorted(set(self.weights) - set(base))[:5]
            if missing:
                raise StatisticsQueryError(f"cells {missing} have a weight but no base weight")
            object.__setattr__(self, "base_weights", base)

    def _normalise(
        self, table: Mapping[CellKey, float], what: str, positive: bool
    ) -> dict[CellKey, float]:
        if not table:
            raise StatisticsQueryError(f"the {what} table is empty")
        out: dict[CellKey, float] = {}
        for key, value in table.items():
            cell = (key,) if isinstance(key, str) else tuple(str(k) for k in key)
            if len(cell) != len(self.columns):
                raise StatisticsQueryError(
                    f"{what} cell {key!r} does not have one code per column {self.columns}"
                )
            number = float(value)
            if not math.isfinite(number) or number == 0 or (positive and number < 0):
                kind = "positive" if positive else "non-zero"
                raise StatisticsQueryError(f"{what} of cell {key!r} must be finite and {kind}")
            out[cell] = number
        return out

    @classmethod
    def from_frame(
        cls,
        table: pd.DataFrame,
        columns: Sequence[str],
        *,
        weight: str = "weight",
        base_weight: str | None = None,
    ) -> CellWeights:
        """Read the weights from a table with one row per cell (``columns`` + ``weight``).

        Raises
        ------
        StatisticsQueryError
            Missing columns or a cell listed twice.
        """
        needed = [*columns, weight, *([base_weight] if base_weight else [])]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise StatisticsQueryError(f"the weight table lacks column(s) {missing}")
        if table.duplicated(list(columns)).any():
            raise StatisticsQueryError("the weight table lists a cell more than once")
        keys = [tuple(str(v) for v in row) for row in table[list(columns)].itertuples(False)]
        weights = dict(zip(keys, table[weight].astype(float), strict=True))
        base = (
            dict(zip(keys, table[base_weight].astype(float), strict=True)) if base_weight else None
        )
        return cls(tuple(columns), weights, base)

    def cte(self) -> CTE:
        """The table as a ``VALUES`` common table expression ``cell_weights(columns…, w, w0)``."""
        cols = [column(f"c{i}", String) for i in range(len(self.columns))]
        base = self.base_weights
        rows = [(*cell, w, base[cell] if base else 1.0) for cell, w in self.weights.items()]
        table = values(*cols, column("w", Float), column("w0", Float), name="cell_weights")
        return table.data(rows).cte("cell_weights")
