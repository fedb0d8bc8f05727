"""Result objects of :func:`analysis.indices.satisfaction_indices`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.intervals import t_quantile, t_sf
from analysis.replicates import ReplicateEstimates, replicate_covariance, replicate_df
from analysis.variance import DesignStructure, Linearized, covariance

__all__ = ["Difference", "IndexResult", "RESULT_COLUMNS"]

RESULT_COLUMNS: tuple[str, ...] = (
    "level",
    "indicator",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n",
    "n_eff",
    "deff",
    "df",
    "suppressed",
    "suppression_reason",
    "flags",
    "ci_method",
    "ci_note",
    "version",
)
"""Columns of :attr:`IndexResult.table` after the group columns."""


@dataclass(frozen=True, slots=True)
class Difference:
    """A difference between two estimates of the same design, on the 0–100 scale.

    Attributes
    ----------
    estimate : float
        :math:`\\hat\\theta_1 - \\hat\\theta_2`.
    se : float
        :math:`\\sqrt{V_1 + V_2 - 2C_{12}}` (joint covariance from the same design).
    ci_low, ci_high : float
        Wald interval with t on ``df`` degrees of freedom.
    df : float
        Degrees of freedom used (``inf``: normal).
    t : float
        Test statistic :math:`(\\hat\\theta_1-\\hat\\theta_2)/SE`.
    p_value : float
        Two-sided p-value.
    confidence : float
        Level of the interval.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    t: float
    p_value: float
    confidence: float


def difference_from(est: np.ndarray, cov: np.ndarray, df: float, confidence: float) -> Difference:
    """:class:`Difference` of ``est[0] - est[1]`` given their 2 × 2 covariance (0–100 scale)."""
    diff = float(est[0] - est[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if df <= 0 or not np.isfinite(se):
        q = t_stat = p = low = high = float("nan")
    else:
        q = float(t_quantile(df, confidence))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_stat = float(np.divide(diff, se)) if se > 0 else float("nan")
        p = float(2 * t_sf(abs(t_stat), df)) if se > 0 else float("nan")
        low, high = diff - q * se, diff + q * se
    return Difference(diff, se, low, high, float(df), t_stat, p, confidence)


@dataclass(frozen=True, slots=True, eq=False)
class IndexResult:
    """Satisfaction indices in long format, with their joint covariance.

    Attributes
    ----------
    table : DataFrame
        One row per group × indicator: the group columns, then :data:`RESULT_COLUMNS`.
        ``estimate``, ``se``, ``ci_low``, ``ci_high`` are on the 0–100 scale.
    by : tuple of str
        The group columns.
    version : {"A", "B"}
        Index version of the factor, aspect and SIPAS rows.
    ci : str
        Interval method asked for (``ci_method`` per row says what was used).
    confidence : float
        Interval level.
    df_rule : {"domain", "design"}
        Degrees of freedom rule.

    With replicate weights (``satisfaction_indices(replicates=...)``) the covariances come
    from the replicates and the design df is the replicate design's.
    """

    table: pd.DataFrame
    by: tuple[str, ...]
    version: Literal["A", "B"]
    ci: str
    confidence: float
    df_rule: str
    _structure: DesignStructure = field(repr=False)
    _lin: Linearized = field(repr=False)
    _replicates: ReplicateEstimates | None = field(default=None, repr=False)

    @property
    def variance_method(self) -> str:
        """``linearization`` or the replicate method (``bootstrap``, ``jkn``...)."""
        return "linearization" if self._replicates is None else self._replicates.weights.kind

    def _covariance(self, rows: np.ndarray) -> np.ndarray:
        if self._replicates is not None:
            return replicate_covariance(self._replicates.select(rows))
        return covariance(self._structure, self._lin.select(rows))

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def _rows(self, level: str, indicator: str | None) -> np.ndarray:
        t = self.table
        if indicator is None:
            keys = t.loc[t["level"] == level, "indicator"].unique()
            if len(keys) != 1:
                raise AnalysisError(f"level {level!r} has indicators {list(keys)}; name one")
            indicator = str(keys[0])
        mask = ((t["level"] == level) & (t["indicator"] == indicator)).to_numpy()
        if not mask.any():
            raise AnalysisError(f"no rows for level={level!r}, indicator={indicator!r}")
        return np.flatnonzero(mask)

    def covariance(self, level: str = "sipas", indicator: str | None = None) -> pd.DataFrame:
        """Covariance matrix (0–100 scale, i.e. ×10⁴) of one indicator across the groups.

        Returns
        -------
        DataFrame
            Indexed and labelled by group (a MultiIndex for several group columns).
        """
        rows = self._rows(level, indicator)
        cov = self._covariance(rows) * 1e4
        index = self._group_index(rows)
        return pd.DataFrame(cov, index=index, columns=index)

    def _group_index(self, rows: np.ndarray) -> pd.Index:
        groups = self.table.iloc[rows][list(self.by)]
        if not self.by:
            return pd.Index(["all"], name="group")
        if len(self.by) == 1:
            return pd.Index(groups[self.by[0]].to_numpy(), name=self.by[0])
        return pd.MultiIndex.from_frame(groups)

    def difference(
        self,
        first: Mapping[str, object] | Sequence[object] | object,
        second: Mapping[str, object] | Sequence[object] | object,
        *,
        level: str = "sipas",
        indicator: str | None = None,
    ) -> Difference:
        """Difference between two groups of this result (same design, joint covariance).

        ``first`` and ``second`` are group labels: a value for one group column, a tuple for
        several, or a mapping ``{column: value}``. The t degrees of freedom follow the
        result's df rule: the design df, or the smaller of the two groups' domain df.
        """
        rows = self._rows(level, indicator)
        index = self._group_index(rows)
        picks = [_locate(index, g) for g in (first, second)]
        sel = rows[picks]
        cov = self._covariance(sel) * 1e4
        est = self.table["estimate"].to_numpy()[sel]
        dfs = self.table["df"].to_numpy()[sel]
        if self.df_rule != "design":
            df = float(np.min(dfs))
        elif self._replicates is not None:
            df = float(replicate_df(self._replicates.weights))
        else:
            df = float(self._structure.design_df)
        return difference_from(est, cov, df, self.confidence)


def _locate(index: pd.Index, group: object) -> int:
    key: object = group
    if isinstance(group, Mapping):
        key = tuple(group[n] for n in index.names) if len(index.names) > 1 else group[index.name]
    matches = np.flatnonzero(index == key) if not isinstance(index, pd.MultiIndex) else None
    if matches is None:
        try:
            pos = index.get_loc(key)
        except KeyError:
            raise AnalysisError(f"unknown group {group!r}") from None
        return int(pos) if isinstance(pos, int | np.integer) else int(np.flatnonzero(pos)[0])
    if matches.size == 0:
        raise AnalysisError(f"unknown group {group!r}")
    return int(matches[0])
