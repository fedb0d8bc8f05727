"""Raking, calibration and trimming, checked against closed forms and each other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.weighting import (
    MarginError,
    RakingDidNotConverge,
    TrimmingError,
    UnmatchedResponsesError,
    WeightingError,
    calibrate,
    rake,
    trim_weights,
)

CELLS_2X2 = pd.DataFrame({"agency_code": ["A", "A", "B", "B"], "field_code": ["F1", "F2"] * 2})
MARGINS_2X2 = {
    "agency_code": pd.Series({"A": 70.0, "B": 30.0}),
    "field_code": pd.Series({"F1": 60.0, "F2": 40.0}),
}


def random_sample(n: int = 2000, seed: int = 3) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "agency_code": rng.choice(
                ["A1", "A2", "A3", "A4", "A5"], n, p=[0.4, 0.2, 0.2, 0.1, 0.1]
            ),
            "field_code": rng.choice(["F1", "F2", "F3"], n, p=[0.5, 0.3, 0.2]),
            "w0": rng.uniform(5, 20, n),
        }
    )
    margins = {
        "agency_code": pd.Series(
            {"A1": 9000.0, "A2": 7000.0, "A3": 5000.0, "A4": 3000, "A5": 1000}
        ),
        "field_code": pd.Series({"F1": 10000.0, "F2": 10000.0, "F3": 5000.0}),
    }
    return df, margins


def test_rake_2x2_closed_form() -> None:
    # From w0 = 1 (odds ratio 1), IPF converges to the independence table r_i c_j / N.
    res = rake(CELLS_2X2, MARGINS_2X2)
    np.testing.assert_allclose(res.weights.to_numpy(), [42, 28, 18, 12], rtol=1e-12)
    report = res.report
    assert report.converged and report.max_residual <= 1e-10
    assert report.iterations == len(report.history)
    assert res.calibration.kind == "raking"
    assert res.calibration.margins == (("agency_code",), ("field_code",))
    assert set(report.to_frame()["margin"]) == {"agency_code", "field_code"}


def test_linear_calibration_2x2_closed_form() -> None:
    # GREG weights are additive in the categories: 40, 30, 20, 10 meet all four margins.
    res = calibrate(CELLS_2X2, MARGINS_2X2, calfun="linear")
    np.testing.assert_allclose(res.weights.to_numpy(), [40, 30, 20, 10], rtol=1e-12)
    assert res.calibration.kind == "linear"
    res = calibrate(CELLS_2X2, MARGINS_2X2, calfun="raking")
    np.testing.assert_allclose(res.weights.to_numpy(), [42, 28, 18, 12], rtol=1e-12)


def test_rake_meets_margins_and_matches_calibrate_raking() -> None:
    df, margins = random_sample()
    raked = rake(df, margins, base_weight="w0")
    for col, total in margins.items():
        got = raked.weights.groupby(df[col]).sum()
        np.testing.assert_allclose(got[total.index].to_numpy(), total.to_numpy(), rtol=1e-10)
    cal = calibrate(df, margins, calfun="raking", base_weight="w0")
    np.testing.assert_allclose(cal.weights.to_numpy(), raked.weights.to_numpy(), rtol=1e-9)
    # raking preserves the base weights' ratios within an agency x field cell
    ratio = raked.weights / df["w0"]
    spread = ratio.groupby([df["agency_code"], df["field_code"]]).agg(["min", "max"])
    np.testing.assert_allclose(spread["min"], spread["max"], rtol=1e-12)
    assert raked.diagnostics.kish_deff > 1
    assert raked.diagnostics.sum_weights == pytest.approx(25000.0)


def test_linear_calibration_is_greg() -> None:
    df, margins = random_sample()
    res = calibrate(df, margins, calfun="linear", base_weight="w0")
    # g-weights 1 + x'lambda: additive in agency and field, so g is constant within cells
    g = res.weights / df["w0"]
    by_cell = g.groupby([df["agency_code"], df["field_code"]]).agg(["min", "max"])
    np.testing.assert_allclose(by_cell["min"], by_cell["max"], rtol=1e-12)
    table = by_cell["min"].unstack()
    interaction = table.sub(table.iloc[:, 0], axis=0).sub(table.iloc[0] - table.iloc[0, 0])
    np.testing.assert_allclose(interaction.to_numpy(), 0, atol=1e-10)
    for col, total in margins.items():
        got = res.weights.groupby(df[col]).sum()
        np.testing.assert_allclose(got[total.index].to_numpy(), total.to_numpy(), rtol=1e-10)
    assert res.report.iterations == 1


def test_linear_calibration_reports_negative_weights() -> None:
    df = pd.DataFrame(
        {"agency_code": ["A", "A", "A", "B", "B"], "field_code": ["F1", "F2", "F2", "F1", "F2"]}
    )
    margins = {
        "agency_code": pd.Series({"A": 10.0, "B": 90.0}),
        "field_code": pd.Series({"F1": 90.0, "F2": 10.0}),
    }
    res = calibrate(df, margins, calfun="linear")
    assert (res.weights < 0).sum() == res.diagnostics.n_negative > 0
    assert any("negative" in note for note in res.diagnostics.notes)
    with pytest.raises(RakingDidNotConverge):
        calibrate(df, margins, calfun="linear", bounds=(0.5, 2.0))


def test_bounded_calibration_stays_in_bounds() -> None:
    df, margins = random_sample()
    w1 = df["w0"] * 25000 / df["w0"].sum()
    free = calibrate(df, margins, calfun="linear", base_weight=w1.to_numpy())
    assert (free.weights / w1).min() < 0.3  # so the lower bound binds below
    for calfun in ("linear", "logit"):
        res = calibrate(df, margins, calfun=calfun, bounds=(0.3, 3.0), base_weight=w1.to_numpy())
        g = res.weights / w1
        assert g.min() >= 0.3 - 1e-12 and g.max() <= 3.0 + 1e-12
        got = res.weights.groupby(df["agency_code"]).sum()
        np.testing.assert_allclose(got[margins["agency_code"].index], margins["agency_code"])
    with pytest.raises(WeightingError, match="finite bounds"):
        calibrate(df, margins, calfun="logit")
    with pytest.raises(WeightingError, match="lower < 1 < upper"):
        calibrate(df, margins, calfun="linear", bounds=(1.5, 2.0))


def test_rake_structural_zeros_do_not_converge() -> None:
    df = pd.DataFrame({"agency_code": ["A", "B"], "field_code": ["F1", "F2"]})
    margins = {
        "agency_code": pd.Series({"A": 50.0, "B": 50.0}),
        "field_code": pd.Series({"F1": 70.0, "F2": 30.0}),
    }
    with pytest.raises(RakingDidNotConverge) as info:
        rake(df, margins, max_iter=20)
    report = info.value.report
    assert not report.converged and report.iterations == 20
    assert report.max_residual > 0.1
    assert "did not converge" in str(info.value)


def test_margin_category_without_responses_is_listed() -> None:
    margins = dict(MARGINS_2X2)
    margins["agency_code"] = pd.Series({"A": 60.0, "B": 30.0, "C": 10.0})
    with pytest.raises(MarginError, match="agency_code=C"):
        rake(CELLS_2X2, margins)


def test_inconsistent_totals_and_unmatched_categories() -> None:
    margins = dict(MARGINS_2X2)
    margins["field_code"] = pd.Series({"F1": 60.0, "F2": 41.0})
    with pytest.raises(MarginError, match="same grand total"):
        rake(CELLS_2X2, margins)
    df = pd.concat([CELLS_2X2, pd.DataFrame({"agency_code": ["Z"], "field_code": ["F1"]})])
    df.index = range(len(df))
    with pytest.raises(UnmatchedResponsesError, match="Z"):
        rake(df, MARGINS_2X2)
    res = rake(df, MARGINS_2X2, unmatched="zero")
    assert res.weights.iloc[-1] == 0.0
    np.testing.assert_allclose(res.weights.iloc[:4], [42, 28, 18, 12], rtol=1e-12)


def test_calibrate_model_must_match_totals() -> None:
    with pytest.raises(MarginError, match="model"):
        calibrate(CELLS_2X2, MARGINS_2X2, model=("agency_code",))
    with pytest.raises(WeightingError, match="calfun"):
        calibrate(CELLS_2X2, MARGINS_2X2, calfun="logistic")  # type: ignore[arg-type]


def test_trim_hand_calculation_two_rounds() -> None:
    w = pd.Series([1.0, 1.0, 2.0, 10.0], index=list("abcd"))
    res = trim_weights(w, cap=2.5)  # median 1.5 -> cap 3.75
    assert res.upper == pytest.approx(3.75)
    np.testing.assert_allclose(res.weights.to_numpy(), [3.25, 3.25, 3.75, 3.75])
    assert (res.n_trimmed, res.iterations) == (2, 2)
    assert res.weights.sum() == pytest.approx(14.0)
    assert list(res.weights.index) == list("abcd")


def test_trim_preserves_group_totals() -> None:
    rng = np.random.default_rng(11)
    w = pd.Series(rng.lognormal(0, 1, 500))
    groups = rng.choice(["g1", "g2", "g3"], 500)
    res = trim_weights(w, cap=4, groups=groups)
    assert res.weights.max() <= res.upper * (1 + 1e-9)
    np.testing.assert_allclose(
        res.weights.groupby(groups).sum().to_numpy(), w.groupby(groups).sum().to_numpy()
    )
    assert res.n_trimmed > 0
    assert res.diagnostics.kish_deff < 1 + w.var(ddof=0) / w.mean() ** 2


def test_trim_absolute_lower_and_impossible_caps() -> None:
    w = pd.Series([0.5, 4.0, 4.0, 4.0])
    res = trim_weights(w, cap=10.0, relative_to="absolute", lower=1.0)
    assert res.weights.min() == pytest.approx(1.0) and res.n_raised == 1
    assert res.weights.sum() == pytest.approx(12.5)
    with pytest.raises(TrimmingError, match="cannot be trimmed"):
        trim_weights(pd.Series([1.0, 1.0, 10.0]), cap=2.0)
