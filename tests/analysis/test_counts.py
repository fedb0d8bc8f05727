"""The count table: schema, sums, score items and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.counts import (
    POOLED_PSU,
    RESPONSE_ITEM,
    answered_item,
    counts_from_responses,
    domain_columns,
    pair_item,
    score_item,
    validate_counts,
)
from analysis.design import Calibration, Design
from analysis.errors import CountTableError, InvalidResponsesError, UnknownItemError
from analysis.indices import satisfaction_indices
from tests.analysis.factories import make_responses

CLUSTER = Design(weight="weight", strata="agency_code", psu="counter_code")


@pytest.mark.parametrize("design", [Design(weight="weight"), CLUSTER])
def test_counts_reproduce_weighted_totals(form17, design):
    df = make_responses(form17, seed=5, n=200)
    counts = counts_from_responses(df, form17, design, by=["field_code"])
    validate_counts(counts)
    assert domain_columns(counts) == ("field_code",)
    resp = counts[counts["item"] == RESPONSE_ITEM]
    assert resp["n"].sum() == len(df)
    assert resp["w"].sum() == pytest.approx(df["weight"].sum(), rel=1e-12)
    assert resp["w2"].sum() == pytest.approx((df["weight"] ** 2).sum(), rel=1e-12)
    rows = counts[counts["item"] == "e2_4"]
    by_answer = rows.groupby("answer")["w"].sum()
    expected = df.groupby(df["e2_4"].astype("float"))["weight"].sum()
    pd.testing.assert_series_equal(by_answer, expected, check_names=False, rtol=1e-12)


def test_cluster_counts_are_aggregated_per_psu(form17):
    df = make_responses(form17, seed=5, n=300)
    counts = counts_from_responses(df, form17, CLUSTER)
    resp = counts[counts["item"] == RESPONSE_ITEM]
    assert len(resp) == df.groupby(["agency_code", "counter_code"]).ngroups
    assert not counts.duplicated(["stratum", "psu", "cell", "item", "answer"]).any()


def test_score_items_hold_respondent_scores(form17):
    df = make_responses(form17, seed=2, n=50)
    counts = counts_from_responses(df, form17, Design(weight="weight"), pooled=False)
    rows = counts[counts["item"] == score_item("factor", "e4")].set_index("psu")
    codes = df[["e4_1", "e4_2", "e4_3"]].to_numpy(dtype=float, na_value=np.nan)
    valid = (codes >= 1) & (codes <= 5)
    with np.errstate(invalid="ignore"):
        r = (valid & (codes >= 4)).sum(1) / valid.sum(1)
    defined = np.flatnonzero(valid.sum(1) > 0)
    np.testing.assert_allclose(rows.loc[defined, "answer"].to_numpy(), r[defined])
    assert set(rows.index) == set(defined)


def test_calibrated_counts_carry_base_weights_and_cells(form17):
    df = make_responses(form17, seed=2, n=80)
    cal = Calibration("poststratify", ("agency_code", "field_code"), None, "base_weight")
    counts = counts_from_responses(df, form17, Design(weight="weight", calibration=cal))
    validate_counts(counts, calibrated=True)
    resp = counts[counts["item"] == RESPONSE_ITEM]
    assert resp["w0"].sum() == pytest.approx(df["base_weight"].sum())
    assert counts["cell"].nunique() == df.groupby(["agency_code", "field_code"]).ngroups


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("e1_1", "abc", "non-numeric"),
        ("e1_1", 7, "outside its codes"),
        ("e1_1", 2.5, "outside its codes"),
        ("weight", -1.0, "positive"),
        ("weight", 0.0, "positive"),
        ("weight", np.nan, "positive"),
    ],
)
def test_bad_inputs_raise_clear_errors(form17, column, value, match):
    df = make_responses(form17, seed=1, n=30)
    df[column] = df[column].astype(object)
    df.loc[3, column] = value
    with pytest.raises(InvalidResponsesError, match=match):
        counts_from_responses(df, form17, Design(weight="weight"))


def test_missing_and_unknown_columns(form17):
    df = make_responses(form17, seed=1, n=30)
    with pytest.raises(InvalidResponsesError, match="e3_2"):
        counts_from_responses(df.drop(columns="e3_2"), form17)
    with pytest.raises(InvalidResponsesError, match="region"):
        counts_from_responses(df, form17, by=["region"])
    with pytest.raises(UnknownItemError, match="q99"):
        counts_from_responses(df, form17, items=["e1_1", "q99"])
    df.loc[0, "field_code"] = None
    with pytest.raises(InvalidResponsesError, match="blank"):
        counts_from_responses(df, form17, by=["field_code"])


def test_validate_counts_rejects_broken_tables(form17):
    counts = counts_from_responses(make_responses(form17, n=20), form17)
    with pytest.raises(CountTableError, match="w2"):
        validate_counts(counts.drop(columns="w2"))
    broken = counts.copy()
    broken.loc[0, "w"] = -2.0
    with pytest.raises(CountTableError, match="'w'"):
        validate_counts(broken)
    with pytest.raises(CountTableError, match="w0"):
        validate_counts(counts, calibrated=True)


def _classes(df, key):
    """0 skipped/not applicable, 1 valid and not satisfied, 2 satisfied (row level)."""
    codes = df[key].to_numpy(dtype=float, na_value=np.nan)
    valid = (codes >= 1) & (codes <= 5)
    return np.where(valid, np.where(codes >= 4, 2, 1), 0)


def test_pooled_table_holds_joint_sums_of_criteria_pairs(form17):
    df = make_responses(form17, seed=8, n=300)
    counts = counts_from_responses(df, form17, Design(weight="weight"), by=["agency_code"])
    assert (counts["psu"] == POOLED_PSU).all()
    resp = counts[counts["item"] == RESPONSE_ITEM]
    assert len(resp) == df["agency_code"].nunique()
    w2 = df["weight"] ** 2
    first, second = _classes(df, "e1_2"), _classes(df, "e3_4")
    rows = counts[counts["item"] == pair_item("e1_2", "e3_4")]
    assert len(rows) > 0
    for row in rows.itertuples():
        c_first, c_second = int(row.answer) // 2 + 1, int(row.answer) % 2 + 1
        mask = (df["agency_code"] == row.agency_code).to_numpy()
        mask = mask & (first == c_first) & (second == c_second)
        assert row.n == mask.sum()
        assert row.w2 == pytest.approx(w2[mask].sum(), rel=1e-12)
        assert row.w == pytest.approx(df["weight"][mask].sum(), rel=1e-12)
    expected = df.groupby("agency_code")["weight"].apply(lambda w: (w**2).sum())
    np.testing.assert_allclose(
        resp.set_index("agency_code")["w2"].sort_index(), expected.sort_index(), rtol=1e-12
    )


def test_answered_rows_count_respondents_with_a_valid_answer(form17):
    df = make_responses(form17, seed=4, n=120, p_skip=0.3, p_na=0.3)
    counts = counts_from_responses(df, form17, CLUSTER, index_versions=("A",))
    assert not counts["item"].astype(str).str.startswith("_score:").any()
    rows = counts[counts["item"] == answered_item("factor", "e4")]
    valid = np.stack([_classes(df, k) > 0 for k in ("e4_1", "e4_2", "e4_3")]).any(axis=0)
    assert rows["n"].sum() == valid.sum()
    assert rows["w"].sum() == pytest.approx(df["weight"][valid].sum(), rel=1e-12)
    with pytest.raises(CountTableError, match="version B"):
        satisfaction_indices(counts, form17, CLUSTER, version="B")


@pytest.mark.parametrize("dtype", ["Int8", "int8-filled", "float", "text"])
def test_answer_columns_of_any_dtype_give_the_same_table(form17, dtype):
    df = make_responses(form17, seed=6, n=150)
    keys = [i.key for i in form17.rating_items]
    other = df.copy()
    for key in keys:
        if dtype == "Int8":
            other[key] = df[key].astype("Int8")
        elif dtype == "int8-filled":  # no skipped answers: a plain numpy int8 column
            df[key] = df[key].fillna(0)
            other[key] = df[key].to_numpy(dtype=np.int8)
        elif dtype == "float":
            other[key] = df[key].to_numpy(dtype=float, na_value=np.nan)
        else:
            other[key] = df[key].astype(str).replace("<NA>", " ")
    expected = counts_from_responses(df, form17, CLUSTER, by=["field_code"])
    actual = counts_from_responses(other, form17, CLUSTER, by=["field_code"])
    pd.testing.assert_frame_equal(actual, expected)


def test_cell_constant_weights_take_the_shortcut_and_agree(form17):
    """Weights post-stratified by agency × field: group sums are n × w (one bincount)."""
    df = make_responses(form17, seed=9, n=400)
    df["weight"] = df.groupby(["agency_code", "field_code"])["weight"].transform("first")
    counts = counts_from_responses(df, form17, CLUSTER, by=["field_code"])
    rows = counts[counts["item"] == "e3_1"].set_index(["psu", "field_code", "answer"])
    expected = (
        df.assign(answer=df["e3_1"].astype("float"), sq=df["weight"] ** 2)
        .groupby(["counter_code", "field_code", "answer"])[["weight", "sq"]]
        .sum()
    )
    expected.index.names = ["psu", "field_code", "answer"]
    joined = rows[["w", "w2"]].join(expected, how="outer")
    assert len(joined) == len(rows) == len(expected)
    np.testing.assert_allclose(joined["w"], joined["weight"], rtol=1e-12)
    np.testing.assert_allclose(joined["w2"], joined["sq"], rtol=1e-12)


def test_validate_counts_checks_the_pooled_form(form17):
    pooled = counts_from_responses(make_responses(form17, n=40), form17, Design(weight="weight"))
    validate_counts(pooled)
    mixed = pooled.copy()
    mixed["psu"] = mixed["psu"].astype(object)
    mixed.loc[0, "psu"] = "C1"
    with pytest.raises(CountTableError, match="mixes pooled rows"):
        validate_counts(mixed)
    bad_pair = pooled.copy()
    bad_pair.loc[(bad_pair["item"] == pair_item("e1_1", "e1_2")).to_numpy(), "answer"] = 7.0
    with pytest.raises(CountTableError, match="answers 0..3"):
        validate_counts(bad_pair)
