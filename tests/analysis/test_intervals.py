"""Interval formulas against statsmodels, scipy and hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.intervals import (
    NOTE_BETA_NCHS,
    asin_interval,
    effective_n,
    korn_graubard_interval,
    logit_interval,
    share_intervals,
    t_quantile,
    wald_interval,
    wilson_interval,
)

P = np.array([0.03, 0.2, 0.5, 0.77, 0.96])
SE = np.array([0.01, 0.04, 0.05, 0.03, 0.012])
N = np.array([150.0, 300.0, 120.0, 900.0, 400.0])


def test_t_quantile_is_normal_at_infinite_df_and_nan_without_df():
    q = t_quantile(np.array([np.inf, 10.0, 0.0, -1.0]), 0.9)
    assert q[0] == pytest.approx(stats.norm.ppf(0.95))
    assert q[1] == pytest.approx(stats.t.ppf(0.95, 10))
    assert np.isnan(q[2:]).all()


def test_wald_is_symmetric_t_interval():
    low, high = wald_interval(P, SE, np.full(5, 12.0), 0.95)
    t = stats.t.ppf(0.975, 12)
    np.testing.assert_allclose(low, P - t * SE, rtol=1e-14)
    np.testing.assert_allclose(high, P + t * SE, rtol=1e-14)


def test_logit_interval_closed_form():
    low, high = logit_interval(P, SE, np.full(5, 20.0), 0.9)
    t = stats.t.ppf(0.95, 20)
    eta, s = np.log(P / (1 - P)), SE / (P * (1 - P))
    np.testing.assert_allclose(low, 1 / (1 + np.exp(-(eta - t * s))), rtol=1e-13)
    np.testing.assert_allclose(high, 1 / (1 + np.exp(-(eta + t * s))), rtol=1e-13)
    assert np.isnan(logit_interval(np.array([0.0, 1.0]), np.zeros(2), 5.0, 0.95)[0]).all()


def test_korn_graubard_equals_statsmodels_beta_on_effective_counts():
    df = np.array([8.0, 30.0, 60.0, 200.0, 15.0])
    low, high = korn_graubard_interval(P, SE, N, df, 0.95, nchs=False)
    half = 0.025
    n_star = P * (1 - P) / SE**2 * (stats.t.isf(half, N - 1) / stats.t.isf(half, df)) ** 2
    ref_low, ref_high = proportion_confint(P * n_star, n_star, alpha=0.05, method="beta")
    np.testing.assert_allclose(low, ref_low, rtol=1e-10)
    np.testing.assert_allclose(high, ref_high, rtol=1e-10)


def test_korn_graubard_nchs_caps_effective_n_and_handles_zero_and_one():
    # a precise estimate: n* * ratio > n, so NCHS uses n (Clopper-Pearson with n)
    low, high = korn_graubard_interval(
        np.array([0.5, 0.0, 1.0]), np.array([0.001, 0.0, 0.0]), 50.0, np.inf, 0.95
    )
    cp_low, cp_high = proportion_confint(np.array([25, 0, 50]), 50, alpha=0.05, method="beta")
    np.testing.assert_allclose(low, cp_low, rtol=1e-10)
    np.testing.assert_allclose(high, cp_high, rtol=1e-10)
    assert low[1] == 0.0 and high[2] == 1.0


def test_korn_graubard_without_degrees_of_freedom_is_nan():
    low, high = korn_graubard_interval(P, SE, N, 0.0, 0.95)
    assert np.isnan(low).all() and np.isnan(high).all()


def test_wilson_at_infinite_df_equals_statsmodels_wilson_on_effective_counts():
    low, high = wilson_interval(P, SE, N, np.inf, 0.95)
    n_star = P * (1 - P) / SE**2
    ref_low, ref_high = proportion_confint(P * n_star, n_star, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, ref_low, rtol=1e-12)
    np.testing.assert_allclose(high, ref_high, rtol=1e-12)


def test_wilson_gives_one_sided_interval_at_zero_with_n():
    low, high = wilson_interval(np.array([0.0]), np.array([0.0]), np.array([40.0]), np.inf, 0.95)
    z = stats.norm.ppf(0.975)
    assert low[0] == pytest.approx(0.0, abs=1e-15)
    assert high[0] == pytest.approx(z**2 / (40 + z**2), rel=1e-12)


def test_asin_interval_closed_form():
    low, high = asin_interval(P, SE, np.inf, 0.95)
    z = stats.norm.ppf(0.975)
    a, s = np.arcsin(np.sqrt(P)), SE / (2 * np.sqrt(P * (1 - P)))
    np.testing.assert_allclose(low, np.sin(a - z * s) ** 2, rtol=1e-13)
    np.testing.assert_allclose(high, np.sin(a + z * s) ** 2, rtol=1e-13)


def test_effective_n_conventions():
    n_eff = effective_n(np.array([0.5, 0.0, 0.5]), np.array([0.05, 0.0, 0.001]), 60.0)
    np.testing.assert_allclose(n_eff, [60.0, 60.0, 60.0])  # 100 and 250000 capped at n
    assert effective_n(np.array([0.5]), np.array([0.1]), 60.0)[0] == pytest.approx(25.0)


@pytest.mark.parametrize("bad", [0.0, 1.0, 95.0, -0.5])
def test_confidence_must_be_a_probability(bad):
    with pytest.raises(ValueError, match="confidence"):
        wald_interval(P, SE, 10.0, bad)


def test_beta_rows_say_where_the_nchs_interval_differs_from_r():
    """n* capped at n (row 0: p(1-p)/V = 2500 > n = 100) and p = 1 (R: NaN) are noted."""
    p = np.array([0.5, 0.5, 1.0, 0.3])
    se = np.array([0.01, 0.1, 0.0, 0.05])
    n = np.full(4, 100.0)
    df = np.array([99.0, 99.0, 99.0, 12.0])
    crit = np.ones(4, dtype=bool)
    low, high, method, note = share_intervals(p, se, n, df, crit, "beta", 0.95)
    assert method.tolist() == ["beta"] * 4
    assert note.tolist() == [NOTE_BETA_NCHS, "", NOTE_BETA_NCHS, ""]
    r_low, r_high = korn_graubard_interval(p, se, n, df, 0.95, nchs=False)
    np.testing.assert_array_equal(low[[1, 3]], r_low[[1, 3]])
    np.testing.assert_array_equal(high[[1, 3]], r_high[[1, 3]])
    assert low[0] < r_low[0] and high[0] > r_high[0]  # the cap widens the interval
    assert np.isnan(r_low[2]) and np.isfinite(low[2]) and high[2] == 1.0
    _, _, _, logit_note = share_intervals(p, se, n, df, crit, "logit", 0.95)
    assert NOTE_BETA_NCHS not in logit_note.tolist()
    assert logit_note[2].startswith("SE 0: Korn-Graubard")
