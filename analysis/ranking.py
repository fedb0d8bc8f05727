"""Ranks of units (provinces, agencies) with their uncertainty, and rank changes.

Officials read SIPAS and PAR results as ranks ("xếp hạng 24/63, tăng 22 bậc"). A rank computed
from estimates inherits their sampling error: :func:`rank_units` gives every unit a rank
interval, and :func:`rank_change` says whether a move of places between two periods is larger
than that noise.

References
----------
Goldstein H, Spiegelhalter DJ (1996). League tables and their limitations. *JRSS A*
159:385–443. Wright T, Klein M, Wieczorek J (2019). A primer on visualizations for comparing
populations, including the issue of overlapping confidence intervals. *The American
Statistician* 73:165–178 (the pairwise rank interval used by the US Census Bureau).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["RankingError", "RankChange", "Ranking", "rank_change", "rank_units"]


class RankingError(ValueError):
    """Estimates or covariance cannot be ranked (missing units, non-PSD covariance...)."""


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ranks of units with rank intervals.

    Attributes
    ----------
    units : tuple of str
    estimate, se : ndarray
        The estimates and their standard errors (square roots of the covariance diagonal).
    rank : ndarray of int
        1 = best; ties share the smallest rank (``min`` method): 1, 2, 2, 4.
    ci_low, ci_high : ndarray of int
        The rank interval at ``confidence``.
    method : {"monte_carlo", "pairwise"}
    confidence : float
    higher_is_better : bool
    covariance : ndarray
        The covariance matrix used (units × units).
    mean_rank, p_best : ndarray or None
        Monte Carlo only: the mean simulated rank and the probability of ranking first.
    draws : int or None
        Monte Carlo draws.
    """

    units: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    rank: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    method: str
    confidence: float
    higher_is_better: bool
    covariance: np.ndarray
    mean_rank: np.ndarray | None = None
    p_best: np.ndarray | None = None
    draws: int | None = None

    def to_frame(self) -> pd.DataFrame:
        """Table indexed by unit: estimate, se, rank, ci_low, ci_high, of (number of units),
        and for Monte Carlo mean_rank and p_best; sorted by rank."""
        table = pd.DataFrame(
            {
                "estimate": self.estimate,
                "se": self.se,
                "rank": self.rank,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "of": len(self.units),
            },
            index=pd.Index(self.units, name="unit"),
        )
        if self.mean_rank is not None and self.p_best is not None:
            table["mean_rank"] = self.mean_rank
            table["p_best"] = self.p_best
        return table.sort_values(["rank", "estimate"], ascending=[True, not self.higher_is_better])


def rank_units(
    estimates: pd.Series,
    covariance: pd.DataFrame | np.ndarray,
    *,
    confidence: float = 0.95,
    method: Literal["monte_carlo", "pairwise"] = "monte_carlo",
    draws: int = 10_000,
    rng: np.random.Generator | None = None,
    higher_is_better: bool = True,
    adjust: Literal["none", "bonferroni"] = "none",
) -> Ranking:
    r"""Rank units by their estimates, with a rank interval for each unit.

    The point rank is :math:`r_i = 1 + \#\{j : \hat\theta_j > \hat\theta_i\}` (ties share
    the best rank; reversed when ``higher_is_better=False``).

    ``method="monte_carlo"`` draws :math:`\theta^{(b)} \sim N(\hat\theta, \hat V)` from the
    joint distribution of the estimates (with the design covariance, so correlated units
    are handled), ranks each draw, and reports the :math:`\alpha/2` and :math:`1-\alpha/2`
    quantiles (``inverted_cdf``) of each unit's simulated ranks, with :math:`\alpha =
    1 -` ``confidence``.

    ``method="pairwise"`` is deterministic: unit *i* is significantly below *j* when

    .. math::

        \hat\theta_j - \hat\theta_i > z_{1-\alpha/2}
        \sqrt{\hat V_{ii} + \hat V_{jj} - 2 \hat V_{ij}},

    and its interval is :math:`[1 + A_i,\; K - B_i]`, where :math:`A_i` (:math:`B_i`) counts
    the units significantly above (below) *i* among the *K* units. ``adjust="bonferroni"``
    uses :math:`\alpha / (K - 1)` for the comparisons.

    Parameters
    ----------
    estimates : Series
        One estimate per unit, indexed by unit (e.g. province code).
    covariance : DataFrame or ndarray
        Their covariance: a DataFrame indexed and columned by the units (aligned by label),
        or a K × K array in the order of ``estimates``. For independent estimates pass
        ``np.diag(se**2)``.
    confidence : float
        In (0, 1).
    method : {"monte_carlo", "pairwise"}
    draws : int
        Monte Carlo draws.
    rng : numpy.random.Generator
        Required for Monte Carlo (no global seeding): the result is reproducible given the
        generator's state.
    higher_is_better : bool
        Whether rank 1 is the largest estimate (satisfaction) or the smallest.
    adjust : {"none", "bonferroni"}
        Multiplicity adjustment of the pairwise comparisons.

    Returns
    -------
    Ranking

    Raises
    ------
    RankingError
        Missing or non-finite estimates, a covariance that does not match the units or is
        not positive semi-definite, bad options, or no ``rng`` for Monte Carlo.
    """
    if not 0 < confidence < 1:
        raise RankingError(f"confidence must be in (0, 1), got {confidence}")
    if method not in ("monte_carlo", "pairwise"):
        raise RankingError(f"method must be 'monte_carlo' or 'pairwise', not {method!r}")
    if adjust not in ("none", "bonferroni"):
        raise RankingError(f"adjust must be 'none' or 'bonferroni', not {adjust!r}")
    units, est, cov = _inputs(estimates, covariance)
    k = len(units)
    sign = 1.0 if higher_is_better else -1.0
    score = sign * est
    rank = 1 + (score[None, :] > score[:, None]).sum(axis=1)
    alpha = 1 - confidence
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    if method == "pairwise":
        a = alpha / max(k - 1, 1) if adjust == "bonferroni" else alpha
        z = stats.norm.ppf(1 - a / 2)
        var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2 * cov
        half = z * np.sqrt(np.clip(var, 0, None))
        diff = score[None, :] - score[:, None]  # [i, j] = theta_j - theta_i
        above = (diff > half).sum(axis=1)
        below = (-diff > half).sum(axis=1)
        return Ranking(
            units, est, se, rank, 1 + above, k - below, method, confidence, higher_is_better, cov
        )
    if rng is None:
        raise RankingError("method='monte_carlo' needs rng=np.random.default_rng(seed)")
    if draws < 1:
        raise RankingError("draws must be at least 1")
    root = _psd_root(cov)
    sims = sign * (est[None, :] + rng.standard_normal((draws, k)) @ root.T)
    ranks = stats.rankdata(-sims, method="min", axis=1).astype(np.int64)
    low = np.quantile(ranks, alpha / 2, axis=0, method="inverted_cdf").astype(np.int64)
    high = np.quantile(ranks, 1 - alpha / 2, axis=0, method="inverted_cdf").astype(np.int64)
    return Ranking(
        units,
        est,
        se,
        rank,
        low,
        high,
        method,
        confidence,
        higher_is_better,
        cov,
        mean_rank=ranks.mean(axis=0),
        p_best=(ranks == 1).mean(axis=0),
        draws=draws,
    )


@dataclass(frozen=True, slots=True)
class RankChange:
    """Rank moves between two rankings; see :func:`rank_change`."""

    table: pd.DataFrame
    criterion: str
    confidence: float

    def to_frame(self) -> pd.DataFrame:
        """The per-unit table (a copy)."""
        return self.table.copy()


def rank_change(
    prev: Ranking,
    curr: Ranking,
    *,
    criterion: Literal["intervals", "estimates", "both"] = "intervals",
    confidence: float | None = None,
) -> RankChange:
    r"""Say whether each unit's move of places between two periods is real or noise.

    For every unit ranked in both periods: ``places = rank_prev − rank_curr`` (positive =
    up, as in "tăng 22 bậc"), whether the two rank intervals overlap, and a z-test of the
    change in estimate, taking the periods as independent samples:

    .. math::

        z = \frac{\hat\theta_{curr} - \hat\theta_{prev}}
        {\sqrt{\mathrm{SE}_{prev}^2 + \mathrm{SE}_{curr}^2}}.

    A move is ``real`` when, by ``criterion``: the rank intervals do not overlap
    (``intervals``, the default, conservative); the change of estimate is significant in the
    direction of the move (``estimates``); or both. ``verdict`` is ``up``, ``down``,
    ``unchanged`` (same rank) or ``noise``.

    Units in only one ranking are left out. Ranks out of different numbers of units are
    compared as they are: check ``of_prev`` and ``of_curr``.

    Returns
    -------
    RankChange
        ``table`` indexed by unit with ``rank_prev, rank_curr, of_prev, of_curr, places,
        ci_prev_low, ci_prev_high, ci_curr_low, ci_curr_high, intervals_overlap, est_prev,
        est_curr, diff, se_diff, p_value, diff_significant, real, verdict, summary_vi,
        summary_en``.
    """
    if criterion not in ("intervals", "estimates", "both"):
        raise RankingError(
            f"criterion must be 'intervals', 'estimates' or 'both', not {criterion!r}"
        )
    level = curr.confidence if confidence is None else confidence
    if not 0 < level < 1:
        raise RankingError(f"confidence must be in (0, 1), got {level}")
    a, b = prev.to_frame(), curr.to_frame()
    common = [u for u in curr.units if u in a.index]
    a, b = a.loc[common], b.loc[common]
    t = pd.DataFrame(index=pd.Index(common, name="unit"))
    t["rank_prev"], t["rank_curr"] = a["rank"], b["rank"]
    t["of_prev"], t["of_curr"] = len(prev.units), len(curr.units)
    t["places"] = t["rank_prev"] - t["rank_curr"]
    t["ci_prev_low"], t["ci_prev_high"] = a["ci_low"], a["ci_high"]
    t["ci_curr_low"], t["ci_curr_high"] = b["ci_low"], b["ci_high"]
    t["intervals_overlap"] = (a["ci_low"] <= b["ci_high"]) & (b["ci_low"] <= a["ci_high"])
    t["est_prev"], t["est_curr"] = a["estimate"], b["estimate"]
    t["diff"] = b["estimate"] - a["estimate"]
    t["se_diff"] = np.sqrt(a["se"] ** 2 + b["se"] ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = t["diff"] / t["se_diff"]
    z = z.where(t["se_diff"] > 0, np.sign(t["diff"]) * np.inf)
    t["p_value"] = np.where(t["diff"] == 0, 1.0, 2 * stats.norm.sf(np.abs(z)))
    better = t["diff"] * (1 if curr.higher_is_better else -1)
    t["diff_significant"] = t["p_value"] < 1 - level
    direction_ok = np.sign(better) == np.sign(t["places"])
    by_estimates = t["diff_significant"] & direction_ok
    by_intervals = ~t["intervals_overlap"]
    real = {
        "intervals": by_intervals,
        "estimates": by_estimates,
        "both": by_intervals & by_estimates,
    }[criterion]
    t["real"] = real & (t["places"] != 0)
    t["verdict"] = np.select(
        [t["places"] == 0, t["real"] & (t["places"] > 0), t["real"]],
        ["unchanged", "up", "down"],
        default="noise",
    )
    rows = list(zip(t["rank_curr"], t["of_curr"], t["places"], t["real"], strict=True))
    for lang in ("vi", "en"):
        t[f"summary_{lang}"] = [
            _summary(lang, int(r), int(o), int(p), bool(x)) for r, o, p, x in rows
        ]
    return RankChange(t, criterion, level)


def _summary(lang: str, rank: int, of: int, places: int, real: bool) -> str:
    """One-line reading of a rank move, e.g. "Hạng 24/63, tăng 22 bậc (...)"."""
    if lang == "vi":
        head = f"Hạng {rank}/{of}"
        if places == 0:
            return f"{head}, giữ nguyên thứ hạng"
        move = f"tăng {places} bậc" if places > 0 else f"giảm {-places} bậc"
        tail = "thay đổi có ý nghĩa thống kê" if real else "trong phạm vi sai số"
        return f"{head}, {move} ({tail})"
    head = f"Rank {rank}/{of}"
    if places == 0:
        return f"{head}, unchanged"
    unit = "place" if abs(places) == 1 else "places"
    move = f"up {places} {unit}" if places > 0 else f"down {-places} {unit}"
    tail = "a real change" if real else "within sampling noise"
    return f"{head}, {move} ({tail})"


def _inputs(
    estimates: pd.Series, covariance: pd.DataFrame | np.ndarray
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    if not isinstance(estimates, pd.Series):
        raise RankingError("estimates must be a Series indexed by unit")
    if estimates.index.has_duplicates:
        raise RankingError(
            f"units listed twice: {list(estimates.index[estimates.index.duplicated()])}"
        )
    est = pd.to_numeric(estimates, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(est)
    if bad.any():
        raise RankingError(f"missing or non-finite estimates for {list(estimates.index[bad])}")
    if len(est) == 0:
        raise RankingError("no units to rank")
    if isinstance(covariance, pd.DataFrame):
        missing = [
            u for u in estimates.index if u not in covariance.index or u not in covariance.columns
        ]
        if missing:
            raise RankingError(f"the covariance has no row/column for {missing}")
        cov = covariance.loc[estimates.index, estimates.index].to_numpy(dtype=float)
    else:
        cov = np.asarray(covariance, dtype=float)
    k = len(est)
    if cov.shape != (k, k):
        raise RankingError(f"covariance has shape {cov.shape}, expected ({k}, {k})")
    if not np.all(np.isfinite(cov)):
        raise RankingError("covariance has missing or infinite entries")
    scale = max(float(np.abs(cov).max()), 1e-300)
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12 * scale):
        raise RankingError("covariance is not symmetric")
    return tuple(str(u) for u in estimates.index), est, (cov + cov.T) / 2


def _psd_root(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L Lᵀ = cov, allowing singular covariances (units with SE 0)."""
    values, vectors = np.linalg.eigh(cov)
    top = max(float(values.max()), 0.0)
    if values.min() < -1e-8 * max(top, 1e-300):
        raise RankingError(
            f"covariance is not positive semi-definite (eigenvalue {values.min():.3g})"
        )
    return vectors * np.sqrt(np.clip(values, 0, None))
