"""The public satisfaction_indices / compare_domains API: aggregation, intervals, flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.compare import compare_domains
from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.errors import AnalysisError, CountTableError
from analysis.indices import satisfaction_indices
from tests.analysis.factories import make_responses
from tests.analysis.naive import ratio_scores, stratified_variance

CLUSTER = Design(weight="weight", strata="agency_code", psu="counter_code")


@pytest.fixture
def data(form17):
    df = make_responses(form17, seed=21, n=500)
    return df, counts_from_responses(df, form17, CLUSTER, by=["agency_code", "field_code"])


def test_version_a_aggregates_criteria_then_factors(form17, data):
    _, counts = data
    t = satisfaction_indices(counts, form17, CLUSTER, by=["field_code"]).table
    for _, rows in t.groupby("field_code"):
        est = rows.set_index("indicator")["estimate"]
        factors = []
        for f in form17.factors:
            factor = np.mean([est[k] for k in f.item_keys])
            assert est[f.key] == pytest.approx(factor, rel=1e-13)
            factors.append(factor)
        assert est["SIPAS"] == pytest.approx(np.mean(factors), rel=1e-13)
    assert set(t["level"]) == {"criterion", "factor", "sipas"}
    assert (t["version"] == "A").all()


def test_covariance_diagonal_is_the_squared_se(form17, data):
    _, counts = data
    result = satisfaction_indices(counts, form17, CLUSTER, by=["agency_code"])
    cov = result.covariance(level="sipas")
    se = result.table.query("level == 'sipas'").set_index("agency_code")["se"]
    np.testing.assert_allclose(np.diag(cov), se.loc[cov.index] ** 2, rtol=1e-10)
    # agencies are strata: their estimates are independent
    off = cov.to_numpy() - np.diag(np.diag(cov))
    assert np.abs(off).max() == 0.0
    crit = result.covariance(level="criterion", indicator="e2_2")
    assert crit.shape == (4, 4)


def test_difference_uses_the_joint_covariance(form17, data):
    _, counts = data
    result = satisfaction_indices(counts, form17, CLUSTER, by=["field_code"])
    diff = result.difference("F0", "F1", level="factor", indicator="e3")
    cov = result.covariance(level="factor", indicator="e3")
    t = result.table.query("level == 'factor' and indicator == 'e3'").set_index("field_code")
    assert diff.estimate == pytest.approx(t.loc["F0", "estimate"] - t.loc["F1", "estimate"])
    var = cov.loc["F0", "F0"] + cov.loc["F1", "F1"] - 2 * cov.loc["F0", "F1"]
    assert diff.se == pytest.approx(np.sqrt(var), rel=1e-12)
    assert cov.loc["F0", "F1"] != 0.0  # fields cut across PSUs
    same = compare_domains(
        counts,
        form17,
        {"field_code": "F0"},
        {"field_code": "F1"},
        CLUSTER,
        level="factor",
        indicator="e3",
    )
    assert same.estimate == pytest.approx(diff.estimate, rel=1e-12)
    assert same.se == pytest.approx(diff.se, rel=1e-10)
    assert 0 < same.p_value < 1 and same.ci_low < same.estimate < same.ci_high


def test_unit_against_whole_matches_row_level_contrast(form17, data):
    df, counts = data
    diff = compare_domains(
        counts, form17, {"agency_code": "A2"}, None, CLUSTER, level="criterion", indicator="e1_3"
    )
    code = df["e1_3"].to_numpy(dtype=float, na_value=np.nan)
    valid = (code >= 1) & (code <= 5)
    y, x = (valid & (code >= 4)).astype(float), valid.astype(float)
    w = df["weight"].to_numpy(float)
    r1, z1 = ratio_scores(y, x, w, (df["agency_code"] == "A2").to_numpy())
    r2, z2 = ratio_scores(y, x, w, np.ones(len(df), bool))
    v = stratified_variance(
        w * (z1 - z2), df["agency_code"].to_numpy(), df["counter_code"].to_numpy()
    )
    assert diff.estimate == pytest.approx(100 * (r1 - r2), rel=1e-12)
    assert diff.se == pytest.approx(100 * np.sqrt(v), rel=1e-9)


def test_all_satisfied_group_gets_an_interval_and_a_note(form17):
    df = make_responses(form17, seed=4, n=200)
    df.loc[df["field_code"] == "F2", [i.key for i in form17.rating_items]] = 5
    counts = counts_from_responses(df, form17, CLUSTER, by=["field_code"])
    t = satisfaction_indices(counts, form17, CLUSTER, by=["field_code"]).table
    rows = t[t["field_code"] == "F2"]
    assert (rows["estimate"] == 100).all() and (rows["se"] == 0).all()
    assert (rows["ci_method"] == "beta").all()
    assert rows["ci_note"].str.contains("Korn-Graubard").all()
    assert (rows["ci_high"] == 100).all() and (rows["ci_low"] < 100).all()


def test_beta_and_wilson_fall_back_to_logit_for_indices(form17, data):
    _, counts = data
    for ci in ("beta", "wilson"):
        t = satisfaction_indices(counts, form17, CLUSTER, ci=ci).table
        crit = t["level"] == "criterion"
        assert (t.loc[crit, "ci_method"] == ci).all()
        assert (t.loc[~crit, "ci_method"] == "logit").all()
        assert t.loc[~crit, "ci_note"].str.contains("criterion shares only").all()


def test_small_groups_are_flagged_not_hidden(form17, data):
    _, counts = data
    t = satisfaction_indices(counts, form17, CLUSTER, by=["agency_code", "field_code"]).table
    assert t["estimate"].notna().all()
    assert t["suppressed"].any() and not t["suppressed"].all()
    reasons = t.loc[t["suppressed"], "suppression_reason"]
    assert (reasons != "").all()
    assert (t.loc[~t["suppressed"], "suppression_reason"] == "").all()
    small = t[t["df"] < 8]
    assert small["flags"].str.contains("df<8").all()


def test_design_df_rule_and_confidence_level(form17, data):
    _, counts = data
    design = Design(weight="weight", strata="agency_code", psu="counter_code", df="design")
    t = satisfaction_indices(counts, form17, design, by=["agency_code"], confidence=0.9).table
    n_psu = 3 + 2 + 4 + 3
    assert (t["df"] == n_psu - 4).all()
    wide = satisfaction_indices(counts, form17, design, by=["agency_code"], confidence=0.99).table
    assert ((wide["ci_high"] - wide["ci_low"]) > (t["ci_high"] - t["ci_low"])).all()


def test_rollup_domain_contains_the_subtree(form17):
    df = make_responses(form17, seed=8, n=300)
    design = Design(weight="weight")
    counts = counts_from_responses(df, form17, design, by=["agency_code"])
    parents = {"A0": None, "A1": "A0", "A2": "A0", "A3": None}
    t = satisfaction_indices(counts, form17, design, by=["agency_code"], parents=parents).table
    merged = df.assign(agency_code=df["agency_code"].replace({"A1": "A0", "A2": "A0"}))
    ref_counts = counts_from_responses(merged, form17, design, by=["agency_code"])
    ref = satisfaction_indices(ref_counts, form17, design, by=["agency_code"]).table
    got = t[t["agency_code"] == "A0"].set_index("indicator")
    exp = ref[ref["agency_code"] == "A0"].set_index("indicator")
    np.testing.assert_allclose(got["estimate"], exp["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], exp["se"], rtol=1e-10)
    assert set(t["agency_code"]) == {"A0", "A1", "A2", "A3"}


def test_deff_is_one_for_equal_weights_complete_answers_with_replacement(form17):
    df = make_responses(form17, seed=9, n=120, p_skip=0.0, p_na=0.0)
    design = Design()
    counts = counts_from_responses(df, form17, design)
    t = satisfaction_indices(counts, form17, design, deff="replace").table
    crit = t[t["level"] == "criterion"]
    np.testing.assert_allclose(crit["deff"], 1.0, rtol=1e-12)
    wor = satisfaction_indices(counts, form17, design, deff="without_replacement").table
    assert (wor["deff"] > 1e6).all()  # n = N: the without-replacement reference variance is 0
    auto = satisfaction_indices(counts, form17, design).table  # default: with replacement here
    np.testing.assert_allclose(auto["deff"], t["deff"], rtol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"version": "C"}, "version"),
        ({"ci": "jeffreys"}, "interval"),
        ({"confidence": 95}, "confidence"),
        ({"deff": "kish"}, "deff"),
    ],
)
def test_bad_options_raise(form17, data, kwargs, match):
    _, counts = data
    with pytest.raises(AnalysisError, match=match):
        satisfaction_indices(counts, form17, CLUSTER, **kwargs)


def test_unknown_grouping_column(form17, data):
    _, counts = data
    with pytest.raises(CountTableError, match="region"):
        satisfaction_indices(counts, form17, CLUSTER, by=["region"])
    with pytest.raises(AnalysisError, match="nowhere"):
        compare_domains(counts, form17, None, None, CLUSTER, indicator="nowhere")


def test_table_columns(form17, data):
    _, counts = data
    result = satisfaction_indices(counts, form17, CLUSTER, by=["agency_code"], version="B")
    cols = list(result.to_frame().columns)
    assert cols[:4] == ["agency_code", "level", "indicator", "estimate"]
    assert {"n_eff", "deff", "df", "suppressed", "suppression_reason", "ci_method"} <= set(cols)
    assert result.version == "B" and result.by == ("agency_code",)
    assert isinstance(result.to_frame(), pd.DataFrame)


def test_domain_differences_cover_every_indicator(form17, data):
    from analysis.compare import domain_differences

    df, _ = data
    df = df.assign(period=df["submitted_at"].dt.quarter.map("Q{}".format))
    counts = counts_from_responses(df, form17, CLUSTER, by=["period"])
    table = domain_differences(counts, form17, {"period": "Q1"}, {"period": "Q2"}, CLUSTER)
    assert len(table) == 22 + 5 + 1
    np.testing.assert_allclose(table["estimate"], table["first"] - table["second"], rtol=1e-12)
    one = compare_domains(
        counts, form17, {"period": "Q1"}, {"period": "Q2"}, CLUSTER, level="factor", indicator="e2"
    )
    row = table.set_index("indicator").loc["e2"]
    assert one.estimate == row["estimate"] and one.se == row["se"] and one.p_value == row["p_value"]
    assert ((table["p_value"] > 0) & (table["p_value"] < 1)).all()


@pytest.mark.parametrize("design", [CLUSTER, Design(weight="weight")])
def test_version_a_reads_answered_rows_or_falls_back_to_score_rows(form17, design):
    """Tables without ``_answered:`` rows (older SQL exports) give the same version-A rows."""
    df = make_responses(form17, seed=21, n=260, p_skip=0.3, p_na=0.2)
    full = counts_from_responses(df, form17, design, by=["field_code"])
    items = full["item"].astype(str)
    no_answered = full[~items.str.startswith("_answered:").to_numpy()].reset_index(drop=True)
    a_only = counts_from_responses(df, form17, design, by=["field_code"], index_versions=("A",))
    assert not a_only["item"].astype(str).str.startswith("_score:").any()
    tables = [
        satisfaction_indices(c, form17, design, by=["field_code"]).table
        for c in (full, no_answered, a_only)
    ]
    for other in tables[1:]:
        for col in ("estimate", "se", "n", "deff", "df", "ci_low"):
            np.testing.assert_allclose(other[col], tables[0][col], rtol=1e-12, err_msg=col)
