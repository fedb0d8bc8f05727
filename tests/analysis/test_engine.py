"""The engine against a plain row-level implementation of the formulas (``naive.py``).

Designs: SRS with weights, stratified cluster, fpc, lonely PSUs, post-stratification and
regression calibration; domains: whole sample, agency (= stratum), field (cuts across strata).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.counts import counts_from_responses
from analysis.design import Calibration, Design
from analysis.indices import satisfaction_indices
from tests.analysis.factories import make_responses
from tests.analysis.naive import calibration_residuals, ratio_scores, stratified_variance

RTOL = 1e-10

POST = Calibration("poststratify", ("agency_code", "field_code"), None, "base_weight")
RAKE = Calibration(
    "raking", ("agency_code", "field_code"), (("agency_code",), ("field_code",)), "base_weight"
)
DESIGNS = {
    "srs": Design(weight="weight"),
    "strat_clus": Design(weight="weight", strata="agency_code", psu="counter_code"),
    "fpc": Design(weight="weight", strata="agency_code", psu="counter_code", fpc="pop_psu"),
    "poststrat": Design(
        weight="weight", strata="agency_code", psu="counter_code", calibration=POST
    ),
    "raking": Design(weight="weight", strata="agency_code", psu="counter_code", calibration=RAKE),
    "srs_raking": Design(weight="weight", calibration=RAKE),
}


def _naive_variance(df: pd.DataFrame, design: Design, z: np.ndarray) -> float:
    w = df["weight"].to_numpy(float)
    if design.calibration is not None:
        cols = design.calibration.model_margins()
        model = np.hstack(
            [
                pd.get_dummies(df[list(m)].astype(str).agg("|".join, axis=1)).to_numpy(float)
                for m in cols
            ]
        )
        z = calibration_residuals(z, df["base_weight"].to_numpy(float), model)
    strata = df[design.strata].to_numpy() if design.strata else np.zeros(len(df))
    psu = df[design.psu].to_numpy() if design.psu else np.arange(len(df))
    fpc = None
    if design.fpc:
        fpc = dict(zip(df[design.strata], df[design.fpc], strict=True))
    return stratified_variance(w * z, strata, psu, design.lonely_psu, fpc)


def _share_inputs(df, item, threshold=4):
    code = df[item].to_numpy(dtype=float, na_value=np.nan)
    valid = (code >= 1) & (code <= 5)
    return (valid & (code >= threshold)).astype(float), valid.astype(float)


@pytest.mark.parametrize("name", list(DESIGNS))
@pytest.mark.parametrize("by", [(), ("agency_code",), ("field_code",)])
def test_criteria_and_index_a_match_row_level(form17, tree17, name, by):
    df = make_responses(form17, seed=7)
    design = DESIGNS[name]
    counts = counts_from_responses(df, form17, design, by=["agency_code", "field_code"])
    table = satisfaction_indices(counts, form17, design, by=by).table
    w = df["weight"].to_numpy(float)
    groups = [()] if not by else sorted(df[by[0]].unique())
    for g in groups:
        dom = np.ones(len(df), bool) if not by else (df[by[0]] == g).to_numpy()
        rows = table if not by else table[table[by[0]] == g]
        index_z = np.zeros(len(df))
        index_est = 0.0
        coef = tree17.coefficients()[("sipas", "SIPAS")]
        for item in ("e1_1", "e3_4", "e5_2"):
            y, x = _share_inputs(df, item)
            r, z = ratio_scores(y, x, w, dom)
            got = rows[rows["indicator"] == item].iloc[0]
            assert got["estimate"] == pytest.approx(100 * r, rel=RTOL)
            v = _naive_variance(df, design, z)
            assert got["se"] == pytest.approx(100 * np.sqrt(v), rel=1e-8, abs=1e-12)
            assert got["n"] == int((dom & (x > 0)).sum())
        for item, c in coef.items():
            y, x = _share_inputs(df, item)
            r, z = ratio_scores(y, x, w, dom)
            index_z += c * z
            index_est += c * r
        got = rows[rows["level"] == "sipas"].iloc[0]
        assert got["estimate"] == pytest.approx(100 * index_est, rel=RTOL)
        v = _naive_variance(df, design, index_z)
        assert got["se"] == pytest.approx(100 * np.sqrt(v), rel=1e-8)


@pytest.mark.parametrize("name", ["srs", "strat_clus", "poststrat"])
def test_index_b_is_domain_mean_of_respondent_scores(form17, tree17, name):
    df = make_responses(form17, seed=11)
    design = DESIGNS[name]
    counts = counts_from_responses(df, form17, design, by=["agency_code", "field_code"])
    table = satisfaction_indices(counts, form17, design, by=["field_code"], version="B").table
    s = np.column_stack([_share_inputs(df, k)[0] for k in tree17.criteria])
    a = np.column_stack([_share_inputs(df, k)[1] for k in tree17.criteria])
    # e3 by hand: share of satisfied answers among the respondent's valid e3 answers
    cols = [i for i, k in enumerate(tree17.criteria) if k.startswith("e3_")]
    with np.errstate(invalid="ignore"):
        r_e3 = s[:, cols].sum(1) / a[:, cols].sum(1)
    w = df["weight"].to_numpy(float)
    for g in sorted(df["field_code"].unique()):
        dom = (df["field_code"] == g).to_numpy() & ~np.isnan(r_e3)
        est, z = ratio_scores(np.nan_to_num(r_e3), np.ones(len(df)), w, dom)
        got = table[(table["field_code"] == g) & (table["indicator"] == "e3")].iloc[0]
        assert got["estimate"] == pytest.approx(100 * est, rel=RTOL)
        assert got["se"] == pytest.approx(100 * np.sqrt(_naive_variance(df, design, z)), rel=1e-8)
        assert got["n"] == int(dom.sum())
        assert got["version"] == "B"


@pytest.mark.parametrize("rule", ["certainty", "remove", "adjust"])
def test_lonely_psu_rules_match_row_level(form17, rule):
    df = make_responses(form17, seed=3, psu_per_stratum=(3, 1, 4, 2))
    design = Design(weight="weight", strata="agency_code", psu="counter_code", lonely_psu=rule)
    counts = counts_from_responses(df, form17, design, by=["field_code"])
    table = satisfaction_indices(counts, form17, design, by=["field_code"]).table
    w = df["weight"].to_numpy(float)
    y, x = _share_inputs(df, "e2_3")
    for g in sorted(df["field_code"].unique()):
        dom = (df["field_code"] == g).to_numpy()
        _, z = ratio_scores(y, x, w, dom)
        v = stratified_variance(
            w * z, df["agency_code"].to_numpy(), df["counter_code"].to_numpy(), rule
        )
        got = table[(table["field_code"] == g) & (table["indicator"] == "e2_3")].iloc[0]
        assert got["se"] == pytest.approx(100 * np.sqrt(v), rel=1e-9)


def test_lonely_psu_average_scales_by_present_strata(form17):
    df = make_responses(form17, seed=3, psu_per_stratum=(3, 1, 4, 2))
    base = Design(weight="weight", strata="agency_code", psu="counter_code")
    counts = counts_from_responses(df, form17, base, by=[])
    rows = {}
    for rule in ("certainty", "average"):
        design = Design(weight="weight", strata="agency_code", psu="counter_code", lonely_psu=rule)
        rows[rule] = satisfaction_indices(counts, form17, design).table.set_index("indicator")
    ratio = (rows["average"]["se"] / rows["certainty"]["se"]) ** 2
    np.testing.assert_allclose(ratio.to_numpy(), 4 / 3, rtol=1e-12)


def test_lonely_psu_fail_names_the_stratum(form17):
    from analysis.errors import LonelyPSUError

    df = make_responses(form17, seed=3, psu_per_stratum=(3, 1, 4, 2))
    design = Design(weight="weight", strata="agency_code", psu="counter_code")
    counts = counts_from_responses(df, form17, design)
    with pytest.raises(LonelyPSUError, match="A1"):
        satisfaction_indices(counts, form17, design)


@pytest.mark.parametrize("name", ["poststrat", "raking", "srs_raking"])
def test_expanded_calibration_variance_equals_formed_residuals(form17, name, monkeypatch):
    """Large designs expand (u - W F)^2 instead of forming the residuals: same numbers."""
    import analysis.variance as variance_module

    df = make_responses(form17, seed=5)
    design = DESIGNS[name]
    counts = counts_from_responses(df, form17, design, by=["field_code"])
    formed = satisfaction_indices(counts, form17, design, by=["field_code"])
    monkeypatch.setattr(variance_module, "_DENSE_LIMIT", 0)
    expanded = satisfaction_indices(counts, form17, design, by=["field_code"])
    np.testing.assert_allclose(expanded.table["se"], formed.table["se"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        expanded.covariance().to_numpy(), formed.covariance().to_numpy(), rtol=1e-9, atol=1e-14
    )
