"""Rank intervals and rank changes (analysis.ranking)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.ranking import RankingError, rank_change, rank_units

THREE = pd.Series([0.80, 0.75, 0.70], index=["P1", "P2", "P3"])
THREE_COV = np.diag([0.01, 0.01, 0.03]) ** 2


@pytest.mark.parametrize("method", ["monte_carlo", "pairwise"])
def test_well_separated_units_get_point_intervals(method: str) -> None:
    est = pd.Series([0.9, 0.6, 0.8, 0.7], index=list("abcd"))
    res = rank_units(est, np.eye(4) * 1e-6, method=method, rng=np.random.default_rng(1))
    assert res.rank.tolist() == [1, 4, 2, 3]
    assert res.ci_low.tolist() == res.rank.tolist()
    assert res.ci_high.tolist() == res.rank.tolist()


@pytest.mark.parametrize("method", ["monte_carlo", "pairwise"])
def test_identical_estimates_with_big_se_get_wide_intervals(method: str) -> None:
    est = pd.Series([0.8] * 5, index=[f"u{i}" for i in range(5)])
    res = rank_units(est, np.eye(5) * 0.1**2, method=method, rng=np.random.default_rng(2))
    assert res.rank.tolist() == [1] * 5  # ties share the best rank
    assert res.ci_low.tolist() == [1] * 5
    assert res.ci_high.tolist() == [5] * 5


def test_pairwise_closed_form_three_units() -> None:
    # z = 1.96: P1-P2 differ by 0.05 > 1.96*sqrt(2)*0.01; P1-P3 by 0.10 > 1.96*0.0316;
    # P2-P3 by 0.05 < 1.96*0.0316 = 0.062, so P2 and P3 cannot be ordered.
    res = rank_units(THREE, THREE_COV, method="pairwise")
    assert res.ci_low.tolist() == [1, 2, 2]
    assert res.ci_high.tolist() == [1, 3, 3]
    # a positive covariance of P2 and P3 shrinks var(P2 - P3) to 0.0006: now 0.05 > 0.048
    cov = THREE_COV.copy()
    cov[1, 2] = cov[2, 1] = 0.0002
    assert 1.96 * np.sqrt(0.0006) < 0.05
    res = rank_units(THREE, cov, method="pairwise")
    assert res.ci_low.tolist() == [1, 2, 3]
    assert res.ci_high.tolist() == [1, 2, 3]
    np.testing.assert_allclose(res.se, [0.01, 0.01, 0.03])


def test_pairwise_bonferroni_is_wider() -> None:
    cov = np.diag([0.02, 0.02, 0.02]) ** 2
    est = pd.Series([0.80, 0.74, 0.68], index=list("abc"))
    plain = rank_units(est, cov, method="pairwise")
    bonf = rank_units(est, cov, method="pairwise", adjust="bonferroni")
    z_plain = stats.norm.ppf(0.975) * np.sqrt(2) * 0.02
    z_bonf = stats.norm.ppf(1 - 0.05 / 4) * np.sqrt(2) * 0.02
    assert z_plain < 0.06 < z_bonf
    assert plain.ci_high.tolist() == [1, 2, 3]
    assert bonf.ci_low.tolist() == [1, 1, 2]
    assert bonf.ci_high.tolist() == [2, 3, 3]


def test_monte_carlo_matches_normal_probability() -> None:
    est = pd.Series([1.0, 0.0], index=["a", "b"])
    res = rank_units(est, np.eye(2), draws=20_000, rng=np.random.default_rng(5))
    p = stats.norm.cdf(1 / np.sqrt(2))  # P(a beats b)
    assert res.p_best[0] == pytest.approx(p, abs=0.015)
    assert res.p_best[1] == pytest.approx(1 - p, abs=0.015)
    assert res.ci_low.tolist() == [1, 1] and res.ci_high.tolist() == [2, 2]
    assert res.mean_rank[0] == pytest.approx(2 - p, abs=0.015)


def test_monte_carlo_reproducible_with_seeded_rng() -> None:
    est = pd.Series(np.linspace(0.7, 0.9, 10), index=[f"P{i}" for i in range(10)])
    cov = np.eye(10) * 0.03**2
    one = rank_units(est, cov, draws=2000, rng=np.random.default_rng(42)).to_frame()
    two = rank_units(est, cov, draws=2000, rng=np.random.default_rng(42)).to_frame()
    pd.testing.assert_frame_equal(one, two)
    assert (one["ci_low"] <= one["rank"]).all() and (one["rank"] <= one["ci_high"]).all()
    assert one.index[0] == "P9" and one["of"].iloc[0] == 10


def test_lower_is_better_and_dataframe_covariance_aligned_by_label() -> None:
    est = pd.Series([3.0, 1.0, 2.0], index=["x", "y", "z"])
    cov = pd.DataFrame(np.eye(3) * 1e-8, index=["z", "y", "x"], columns=["z", "y", "x"])
    cov.loc["x", "x"] = 4.0  # x is very uncertain
    res = rank_units(est, cov, method="pairwise", higher_is_better=False)
    assert res.rank.tolist() == [3, 1, 2]
    assert res.se[0] == pytest.approx(2.0)
    assert (res.ci_low[0], res.ci_high[0]) == (1, 3)


def test_zero_variance_unit_is_ranked() -> None:
    est = pd.Series([0.9, 0.5], index=["a", "b"])
    res = rank_units(est, np.diag([0.0, 0.01]), rng=np.random.default_rng(0))
    assert res.ci_low.tolist() == [1, 2] and res.ci_high.tolist() == [1, 2]


def test_ranking_input_errors() -> None:
    with pytest.raises(RankingError, match="rng"):
        rank_units(THREE, THREE_COV)
    with pytest.raises(RankingError, match="non-finite"):
        rank_units(pd.Series([0.1, np.nan], index=["a", "b"]), np.eye(2), method="pairwise")
    with pytest.raises(RankingError, match="shape"):
        rank_units(THREE, np.eye(2), method="pairwise")
    with pytest.raises(RankingError, match="semi-definite"):
        rank_units(THREE, -np.eye(3), rng=np.random.default_rng(0))
    with pytest.raises(RankingError, match="no row/column"):
        rank_units(THREE, pd.DataFrame(np.eye(2), index=["P1", "P2"], columns=["P1", "P2"]))
    with pytest.raises(RankingError, match="confidence"):
        rank_units(THREE, THREE_COV, method="pairwise", confidence=95)


def test_rank_change_real_and_noise() -> None:
    units = ["a", "b", "c", "d"]
    prev = rank_units(
        pd.Series([0.9, 0.8, 0.7, 0.6], index=units), np.eye(4) * 1e-6, method="pairwise"
    )
    curr = rank_units(
        pd.Series([0.6, 0.8, 0.7, 0.9], index=units), np.eye(4) * 1e-6, method="pairwise"
    )
    table = rank_change(prev, curr).to_frame()
    assert table["places"].tolist() == [-3, 0, 0, 3]
    assert table["verdict"].tolist() == ["down", "unchanged", "unchanged", "up"]
    assert table.loc["d", "summary_vi"] == "Hạng 1/4, tăng 3 bậc (thay đổi có ý nghĩa thống kê)"
    assert table.loc["a", "summary_en"] == "Rank 4/4, down 3 places (a real change)"
    assert bool(table.loc["d", "diff_significant"])

    noisy_prev = rank_units(
        pd.Series([0.80, 0.79, 0.78], index=units[:3]), np.eye(3) * 0.05**2, method="pairwise"
    )
    noisy_curr = rank_units(
        pd.Series([0.78, 0.79, 0.80], index=units[:3]), np.eye(3) * 0.05**2, method="pairwise"
    )
    change = rank_change(noisy_prev, noisy_curr, criterion="both")
    table = change.to_frame()
    assert table.loc["c", "places"] == 2
    assert table.loc["c", "verdict"] == "noise" and bool(table.loc["c", "intervals_overlap"])
    assert table.loc["c", "summary_en"] == "Rank 1/3, up 2 places (within sampling noise)"
    se = np.sqrt(2) * 0.05
    assert table.loc["c", "p_value"] == pytest.approx(2 * stats.norm.sf(0.02 / se))
    with pytest.raises(RankingError, match="criterion"):
        rank_change(prev, curr, criterion="vibes")  # type: ignore[arg-type]


def test_rank_change_by_estimates_needs_direction() -> None:
    units = ["a", "b"]
    prev = rank_units(pd.Series([0.5, 0.6], index=units), np.eye(2) * 1e-4, method="pairwise")
    curr = rank_units(pd.Series([0.9, 0.6], index=units), np.eye(2) * 1e-4, method="pairwise")
    table = rank_change(prev, curr, criterion="estimates").to_frame()
    assert table.loc["a", "verdict"] == "up"
    assert table.loc["b", "verdict"] == "noise"  # b fell a place without changing its estimate
