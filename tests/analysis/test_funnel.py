"""Funnel-plot limits (analysis.funnel) against a brute-force binomial computation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from analysis import funnel_limits, funnel_position

CENTERS = (3.0, 50.0, 72.5, 95.0)
SIZES = (1, 7, 10, 37, 120)


def _brute_lower(n: int, theta: Fraction, p: Fraction) -> float:
    """(r_p - alpha)/n from exact rational binomial probabilities, scanning r = 0, 1, ..."""
    cdf, previous = Fraction(0), Fraction(0)
    for r in range(n + 1):
        previous = cdf
        cdf += math.comb(n, r) * theta**r * (1 - theta) ** (n - r)
        if cdf >= p:
            alpha = (cdf - p) / (cdf - previous)
            return float((r - alpha) / n)
    raise AssertionError("the binomial CDF never reached p")


def _brute(center: float, n: int, level: float) -> tuple[float, float]:
    theta = Fraction(center).limit_denominator(1000) / 100
    p = (1 - Fraction(level).limit_denominator(1000)) / 2
    low = _brute_lower(n, theta, p)
    high = 1 - _brute_lower(n, 1 - theta, p)
    return 100 * min(max(low, 0.0), 1.0), 100 * min(max(high, 0.0), 1.0)


@pytest.mark.parametrize("center", CENTERS)
def test_limits_equal_a_brute_force_binomial_computation(center):
    got = funnel_limits(center, SIZES)
    assert list(got.columns) == ["n", "level", "low", "high"]
    assert len(got) == len(SIZES) * 2
    for row in got.itertuples():
        low, high = _brute(center, int(row.n), row.level)
        assert row.low == pytest.approx(low, abs=1e-9), (row.n, row.level)
        assert row.high == pytest.approx(high, abs=1e-9), (row.n, row.level)


def test_spiegelhalter_example_values():
    """theta = 0.5, n = 10: r = 2, alpha = (0.0546875 - 0.025)/0.0439453125."""
    row = funnel_limits(50.0, [10], levels=[0.95]).iloc[0]
    alpha = (56 / 1024 - 0.025) / (45 / 1024)
    assert row["low"] == pytest.approx(100 * (2 - alpha) / 10, rel=1e-12)
    assert row["high"] == pytest.approx(100 - row["low"], rel=1e-12)


@pytest.mark.parametrize("center", CENTERS)
def test_limits_are_conservative_on_both_sides(center):
    """Under the target, P(Y/n < low) <= p and P(Y/n > high) <= p for every integer n."""
    theta = center / 100
    for level in (0.95, 0.998):
        p = (1 - level) / 2
        t = funnel_limits(center, np.arange(1, 300), levels=[level])
        n = t["n"].to_numpy()
        below = stats.binom.cdf(np.ceil(n * t["low"] / 100 - 1e-9) - 1, n, theta)
        above = stats.binom.sf(np.floor(n * t["high"] / 100 + 1e-9), n, theta)
        assert (below <= p + 1e-12).all() and (above <= p + 1e-12).all()


@pytest.mark.parametrize("center", CENTERS)
def test_symmetry_around_the_center(center):
    sizes = [1, 4.5, 10, 33.3, 100, 1000]
    mine = funnel_limits(center, sizes)
    mirror = funnel_limits(100 - center, sizes)
    np.testing.assert_allclose(mine["low"], 100 - mirror["high"], atol=1e-9)
    np.testing.assert_allclose(mine["high"], 100 - mirror["low"], atol=1e-9)


@pytest.mark.parametrize("center", [20.0, 50.0, 72.5, 90.0])
def test_limits_narrow_with_n_and_approach_the_normal_ones(center):
    sizes = 10 * 4.0 ** np.arange(7)  # 10 ... 40,960
    t = funnel_limits(center, sizes)
    for level in (0.95, 0.998):
        part = t[t["level"] == level]
        width = (part["high"] - part["low"]).to_numpy()
        assert (np.diff(width) < 0).all()
        assert (part["low"] <= center).all() and (part["high"] >= center).all()
    wide, narrow = t[t["level"] == 0.998], t[t["level"] == 0.95]
    assert (wide["low"].to_numpy() <= narrow["low"].to_numpy()).all()
    assert (wide["high"].to_numpy() >= narrow["high"].to_numpy()).all()
    big = funnel_limits(center, [200_000], levels=[0.95]).iloc[0]
    theta = center / 100
    half = 100 * stats.norm.ppf(0.975) * math.sqrt(theta * (1 - theta) / 200_000)
    assert big["high"] - center == pytest.approx(half, abs=100 / 200_000 + 0.01 * half)
    assert center - big["low"] == pytest.approx(half, abs=100 / 200_000 + 0.01 * half)


def test_non_integer_sizes_continue_the_integer_limits():
    """The incomplete-beta continuation is continuous at integer n, and in between."""
    at = funnel_limits(72.5, [50, 50 + 1e-9, 51 - 1e-9, 51], levels=[0.95])
    np.testing.assert_allclose(at[["low", "high"]].iloc[1], at[["low", "high"]].iloc[0], atol=1e-6)
    np.testing.assert_allclose(at[["low", "high"]].iloc[2], at[["low", "high"]].iloc[3], atol=1e-6)
    half = funnel_limits(72.5, [50.5], levels=[0.95]).iloc[0]
    ends = at.iloc[[0, 3]]
    assert ends["low"].min() <= half["low"] <= ends["low"].max()
    assert ends["high"].min() <= half["high"] <= ends["high"].max()


def test_limits_are_clipped_to_the_scale():
    t = funnel_limits(99.0, [3, 20])
    assert (t["low"] >= 0).all() and (t["high"] <= 100).all()
    assert (t["high"] == 100).any()
    edge = funnel_limits(0.0, [10])
    assert (edge["low"] == 0).all()


def test_positions():
    center, n = 80.0, np.array([100.0, 100, 100, 100, 100, 40.5])
    limits = funnel_limits(center, [100]).set_index("level")
    lo95, hi95 = limits.loc[0.95, "low"], limits.loc[0.95, "high"]
    lo998, hi998 = limits.loc[0.998, "low"], limits.loc[0.998, "high"]
    estimate = [hi998 + 0.01, (hi95 + hi998) / 2, center, (lo95 + lo998) / 2, lo998 - 0.01, 80.0]
    got = funnel_position(estimate, n, center)
    assert got.tolist() == ["above_998", "above_95", "within", "below_95", "below_998", "within"]
    on_the_limit = funnel_position([hi95, lo95], [100, 100], center)
    assert on_the_limit.tolist() == ["within", "within"]
    missing = funnel_position([np.nan, 70.0, 70.0], [50, 0, np.nan], center)
    assert missing.tolist() == ["", "", ""]
    assert funnel_position([99.0], [100], center, levels=[0.9]).tolist() == ["above_90"]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((101.0, [10]), {}, "0-100"),
        ((50.0, [0]), {}, "positive"),
        ((50.0, [np.inf]), {}, "positive"),
        ((50.0, [10]), {"levels": [95]}, r"\(0, 1\)"),
        ((50.0, [10]), {"levels": []}, r"\(0, 1\)"),
    ],
)
def test_bad_input_raises(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        funnel_limits(*args, **kwargs)
    with pytest.raises(ValueError, match="same length"):
        funnel_position([1.0, 2.0], [10], 50.0)
