"""The count table: schema, sums, score items and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.counts import (
    RESPONSE_ITEM,
    counts_from_responses,
    domain_columns,
    score_item,
    validate_counts,
)
from analysis.design import Calibration, Design
from analysis.errors import CountTableError, InvalidResponsesError, UnknownItemError
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
    counts = counts_from_responses(df, form17, Design(weight="weight"))
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
