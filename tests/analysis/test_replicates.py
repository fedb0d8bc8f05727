"""Replicate-weight variance (analysis.replicates): textbook cases and refusals."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.counts import counts_from_responses
from analysis.design import Calibration, Design
from analysis.errors import AnalysisError, DesignError, LonelyPSUError
from analysis.estimators import prepare
from analysis.indices import satisfaction_indices
from analysis.replicates import (
    ReplicateWeights,
    generate_replicate_weights,
    read_replicate_weights,
    replicate_df,
)
from forms import load_form

DATA = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"


@cache
def _form():
    return load_form("sipas-2017")


@cache
def _data() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"agency_code": str, "counter_code": str, "field_code": str})


def _counts(df: pd.DataFrame, design: Design, by=()):
    counts = counts_from_responses(df, _form(), design, by=list(by), pooled=False)
    return counts, prepare(counts, design).structure.psu


def test_jk1_on_srs_share_is_the_textbook_jackknife():
    df = _data().head(40).assign(rid=lambda d: d["response_id"])
    design = Design(psu="rid")
    counts, psu = _counts(df, design)
    weights = generate_replicate_weights(counts, psu, "jk1")
    row = satisfaction_indices(counts, _form(), design, replicates=weights).table.iloc[0]
    assert row["indicator"] == "e1_1"
    code = df["e1_1"].to_numpy(float)
    valid = (code >= 1) & (code <= 5)
    s = (code >= 4)[valid].astype(float)
    n = s.size
    assert n == row["n"]
    leave_out = (s.sum() - s) / (n - 1)  # the share without respondent i
    # JK1 replicates of the PSUs that did not answer equal the full estimate: they add 0.
    full = s.mean()
    thetas = np.concatenate([leave_out, np.full(len(df) - n, full)])
    m = len(df)
    expected = (m - 1) / m * ((thetas - thetas.mean()) ** 2).sum()
    np.testing.assert_allclose(row["se"] / 100, np.sqrt(expected), rtol=1e-12)
    assert row["df"] == n - 1  # R's degf: rank of the answered rows' replicate weights - 1


def test_multipliers_all_one_give_zero_variance():
    design = Design(strata="agency_code", psu="counter_code", weight="weight")
    counts, psu = _counts(_data(), design)
    base = generate_replicate_weights(counts, psu, "bootstrap", replicates=5)
    ones = ReplicateWeights(
        "bootstrap", base.strata, base.psus, np.ones_like(base.multipliers), 1.0, np.ones(5)
    )
    table = satisfaction_indices(counts, _form(), design, replicates=ones).table
    assert (table["se"] == 0).all()


def test_small_stratified_case_by_hand():
    """Two strata of two PSUs: JKn and BRR of a share, computed by hand."""
    df = pd.DataFrame(
        {
            "stratum": ["a", "a", "a", "b", "b", "b"],
            "psu": ["a1", "a1", "a2", "b1", "b2", "b2"],
            "w": [1.0, 2.0, 1.0, 3.0, 1.0, 1.0],
            "e1_1": [5, 1, 4, 2, 5, 4],
        }
    )
    for item in _form().rating_items:
        if item.key not in df.columns:
            df[item.key] = 0
    design = Design(strata="stratum", psu="psu", weight="w")
    counts, psu = _counts(df, design)
    sat = np.array([1, 0, 1, 0, 1, 1.0])
    w = df["w"].to_numpy()
    members = {p: (df["psu"] == p).to_numpy() for p in ("a1", "a2", "b1", "b2")}

    def share(mult: dict[str, float]) -> float:
        m = np.ones(len(df))
        for p, value in mult.items():
            m[members[p]] = value
        return float((m * w * sat).sum() / (m * w).sum())

    full = share({})
    # JKn: drop one PSU, double its partner; rscale 1/2; centred at the replicate mean.
    jk = [share({"a1": 0, "a2": 2}), share({"a1": 2, "a2": 0})]
    jk += [share({"b1": 0, "b2": 2}), share({"b1": 2, "b2": 0})]
    v_jkn = 0.5 * ((np.array(jk) - np.mean(jk)) ** 2).sum()
    weights = generate_replicate_weights(counts, psu, "jkn")
    row = satisfaction_indices(counts, _form(), design, replicates=weights).table.iloc[0]
    np.testing.assert_allclose(row["estimate"] / 100, full, rtol=1e-14)
    np.testing.assert_allclose(row["se"] / 100, np.sqrt(v_jkn), rtol=1e-12)
    assert row["df"] == 2  # 4 PSUs, 2 full strata: rank 3
    # BRR with mse: half-samples (a-PSU, b-PSU) in the 4 Hadamard rows, scale 1/4.
    brr = generate_replicate_weights(counts, psu, "brr", mse=True)
    assert brr.n_replicates == 4
    reps = [
        share({"a1": ra, "a2": 2 - ra, "b1": rb, "b2": 2 - rb})
        for ra, rb in zip(brr.multipliers[0], brr.multipliers[2], strict=True)
    ]
    v_brr = np.mean((np.array(reps) - full) ** 2)
    row = satisfaction_indices(counts, _form(), design, replicates=brr).table.iloc[0]
    np.testing.assert_allclose(row["se"] / 100, np.sqrt(v_brr), rtol=1e-12)


def test_brr_is_balanced_and_gives_the_linearisation_variance_of_a_total():
    n_strata = 7
    counts = pd.DataFrame(
        {
            "stratum": np.repeat([f"s{h}" for h in range(n_strata)], 2),
            "psu": [f"p{i}" for i in range(2 * n_strata)],
        }
    )
    psu = np.arange(2 * n_strata)
    brr = generate_replicate_weights(counts, psu, "brr")
    assert brr.n_replicates == 8
    u = np.random.default_rng(3).normal(size=2 * n_strata)
    totals = u @ brr.multipliers
    v_brr = brr.scale * ((totals - u.sum()) ** 2).sum()
    v_lin = ((u[0::2] - u[1::2]) ** 2).sum()  # sum_h 2/(2-1) sum_c (u_hc - mean_h)^2
    np.testing.assert_allclose(v_brr, v_lin, rtol=1e-12)


def test_brr_refuses_strata_without_two_psus():
    counts = pd.DataFrame({"stratum": ["a", "a", "a", "b", "b"], "psu": list("12345")})
    with pytest.raises(DesignError, match="exactly 2 PSUs"):
        generate_replicate_weights(counts, np.arange(5), "brr")


def test_refusals():
    counts = pd.DataFrame({"stratum": ["a", "a", "b"], "psu": ["1", "2", "3"]})
    with pytest.raises(DesignError, match="jk1 is for unstratified"):
        generate_replicate_weights(counts, np.arange(3), "jk1")
    with pytest.raises(LonelyPSUError):
        generate_replicate_weights(counts, np.arange(3), "jkn", lonely_psu="fail")
    with pytest.raises(DesignError, match="subbootstrap needs 2 PSUs"):
        generate_replicate_weights(counts, np.arange(3), "subbootstrap")
    with pytest.raises(AnalysisError, match="unknown replicate method"):
        generate_replicate_weights(counts, np.arange(3), "jackknife")  # type: ignore[arg-type]


def test_pooled_tables_and_calibrated_designs_are_refused():
    df = _data().head(200)
    design = Design(weight="weight")
    pooled = counts_from_responses(df, _form(), design)
    counts, psu = _counts(df.assign(rid=df["response_id"]), Design(psu="rid", weight="weight"))
    weights = generate_replicate_weights(counts, psu, "bootstrap", replicates=3)
    with pytest.raises(DesignError, match="pooled=False"):
        satisfaction_indices(pooled, _form(), design, replicates=weights)
    cal = Calibration("poststratify", ("agency_code",), None, "base_weight")
    cal_design = Design(psu="counter_code", weight="weight", calibration=cal)
    cal_counts, cal_psu = _counts(df, cal_design)
    cal_weights = generate_replicate_weights(cal_counts, cal_psu, "jk1")
    with pytest.raises(DesignError, match="calibrated design"):
        satisfaction_indices(cal_counts, _form(), cal_design, replicates=cal_weights)


def test_jkn_rank_closed_form_equals_the_numerical_rank():
    design = Design(strata="agency_code", psu="counter_code", weight="weight")
    counts, psu = _counts(_data(), design)
    jkn = generate_replicate_weights(counts, psu, "jkn")
    numeric = ReplicateWeights(
        jkn.kind, jkn.strata, jkn.psus, jkn.multipliers, jkn.scale, jkn.rscales
    )
    rng = np.random.default_rng(5)
    import scipy.sparse as sp

    n = jkn.multipliers.shape[0]
    present = sp.csr_matrix(rng.random((n, 40)) < np.linspace(0.05, 1.0, 40)[None, :])
    np.testing.assert_array_equal(replicate_df(jkn, present), replicate_df(numeric, present))
    # every stratum fully present: rank = PSUs - (strata - 1), df = PSUs - strata (126 on base)
    assert replicate_df(jkn) == replicate_df(numeric) == n - 30


def test_read_replicate_weights_checks_the_psus(tmp_path):
    design = Design(strata="agency_code", psu="counter_code", weight="weight")
    counts, psu = _counts(_data(), design)
    drawn = generate_replicate_weights(counts, psu, "bootstrap", replicates=4)
    path = tmp_path / "reps.csv"
    drawn.to_frame().to_csv(path, index=False)
    back = read_replicate_weights(path, counts, psu, "bootstrap")
    np.testing.assert_array_equal(back.multipliers, drawn.multipliers)
    assert back.scale == drawn.scale
    drawn.to_frame().iloc[1:].to_csv(path, index=False)
    with pytest.raises(AnalysisError, match="no row for PSU"):
        read_replicate_weights(path, counts, psu, "bootstrap")
    bad = drawn.to_frame().assign(rep_1=-1.0)
    with pytest.raises(AnalysisError, match=">= 0"):
        read_replicate_weights(bad, counts, psu, "bootstrap")
