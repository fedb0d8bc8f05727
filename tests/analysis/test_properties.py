"""Invariances of the estimators (hypothesis draws the data-set parameters)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.compare import domain_differences
from analysis.counts import RESPONSE_ITEM, counts_from_responses
from analysis.design import Calibration, Design
from analysis.indices import satisfaction_indices
from tests.analysis.factories import make_responses

SETTINGS = settings(max_examples=15, deadline=None)
CLUSTER = Design(weight="weight", strata="agency_code", psu="counter_code", lonely_psu="adjust")
DESIGNS = st.sampled_from([Design(weight="weight"), CLUSTER])
DATA = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "n": st.integers(30, 90),
        "p_skip": st.floats(0.0, 0.4),
        "p_na": st.floats(0.0, 0.3),
        "psu_per_stratum": st.tuples(*[st.integers(1, 4)] * 4),
    }
)


def _table(df, form, design, by=("agency_code",), **kwargs):
    counts = counts_from_responses(df, form, design, by=list(by))
    t = satisfaction_indices(counts, form, design, by=list(by), **kwargs).table
    return t.sort_values([*by, "level", "indicator"]).reset_index(drop=True)


# An SE that is 0 in theory (a domain where every answer is the same) comes out as 0 or as the
# square root of a variance that cancels to ~1e-14, i.e. ~1e-7 points, depending on the order of
# the sums: SEs agree to a millionth of a point.
_ATOL = {"se": 1e-6}


def _close(a, b, cols=("estimate", "se", "deff", "n", "df")):
    for col in cols:
        atol = _ATOL.get(col, 1e-12)
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=atol, err_msg=col)


@SETTINGS
@given(params=DATA, design=DESIGNS, version=st.sampled_from(["A", "B"]))
def test_row_order_does_not_matter(form17, params, design, version):
    df = make_responses(form17, **params)
    shuffled = df.sample(frac=1.0, random_state=params["seed"]).reset_index(drop=True)
    _close(
        _table(df, form17, design, version=version),
        _table(shuffled, form17, design, version=version),
    )


@SETTINGS
@given(params=DATA, design=DESIGNS, scale=st.floats(1e-3, 1e3))
def test_scaling_all_weights_changes_nothing(form17, params, design, scale):
    df = make_responses(form17, **params)
    scaled = df.assign(weight=df["weight"] * scale)
    # deff without replacement depends on N = sum of weights (1 - n/N): compare "replace"
    _close(
        _table(df, form17, design, deff="replace"), _table(scaled, form17, design, deff="replace")
    )


@SETTINGS
@given(params=DATA, design=DESIGNS)
def test_all_satisfied_is_100_with_zero_variance(form17, params, design):
    df = make_responses(form17, **params)
    items = [i.key for i in form17.rating_items]
    answered = df[items].notna() & (df[items] != 0)
    df[items] = df[items].mask(answered, 4)
    t = _table(df, form17, design, by=())
    defined = t["estimate"].notna()
    assert (t.loc[defined, "estimate"] == 100).all()
    assert (t.loc[defined, "se"] == 0).all()
    with_df = defined & (t["df"] > 0)  # no interval without degrees of freedom
    assert (t.loc[with_df, "ci_high"] == 100).all()
    assert t.loc[defined & ~with_df, "ci_high"].isna().all()


@SETTINGS
@given(params=DATA, design=DESIGNS, frac=st.floats(0.1, 1.0), code=st.sampled_from([None, 0]))
def test_skipping_one_item_leaves_other_items_alone(form17, params, design, frac, code):
    df = make_responses(form17, **params)
    changed = df.copy()
    rng = np.random.default_rng(params["seed"])
    rows = rng.random(len(df)) < frac
    changed.loc[rows, "e2_2"] = code if code is not None else None
    a, b = _table(df, form17, design), _table(changed, form17, design)
    other = (a["level"] == "criterion") & (a["indicator"] != "e2_2")
    _close(a[other], b[other])


@SETTINGS
@given(params=DATA, design=DESIGNS)
def test_not_applicable_is_the_same_as_skipped(form17, params, design):
    df = make_responses(form17, **params)
    items = [i.key for i in form17.rating_items]
    skipped = df.copy()
    skipped[items] = skipped[items].mask(skipped[items] == 0)
    _close(_table(df, form17, design), _table(skipped, form17, design))


@SETTINGS
@given(params=DATA, design=DESIGNS)
def test_domains_partition_the_whole(form17, params, design):
    df = make_responses(form17, **params)
    counts = counts_from_responses(df, form17, design, by=["field_code"])
    whole = satisfaction_indices(counts, form17, design).table.set_index("indicator")
    parts = satisfaction_indices(counts, form17, design, by=["field_code"]).table
    crit = parts[parts["level"] == "criterion"]
    n = crit.groupby("indicator")["n"].sum()
    np.testing.assert_array_equal(n.loc[whole.index[:22]], whole["n"].iloc[:22])
    answered = counts[(counts["item"] != RESPONSE_ITEM) & counts["answer"].between(1, 5)]
    weight = answered.groupby(["item", "field_code"], observed=True)["w"].sum()
    for item in ("e1_1", "e4_2", "e5_3"):
        rows = crit[crit["indicator"] == item].set_index("field_code")
        wd = weight.loc[item].reindex(rows.index)
        pooled = (rows["estimate"] * wd).sum() / wd.sum()
        assert pooled == pytest.approx(whole.loc[item, "estimate"], rel=1e-12)


POOLABLE = st.sampled_from(
    [
        Design(weight="weight"),
        Design(weight="weight", strata="agency_code", lonely_psu="adjust"),
        Design(
            weight="weight",
            calibration=Calibration("poststratify", ("agency_code",), None, "base_weight"),
        ),
    ]
)


@SETTINGS
@given(params=DATA, design=POOLABLE, version=st.sampled_from(["A", "B"]))
def test_pooled_table_gives_the_response_level_results(form17, params, design, version):
    """Every response its own PSU: pooling responses per unit changes nothing (SEs included)."""
    df = make_responses(form17, **params)
    by = ["agency_code", "field_code"]
    pooled = counts_from_responses(df, form17, design, by=by)
    rows = counts_from_responses(df, form17, design, by=by, pooled=False)
    assert (pooled["psu"] == "*").all() and rows["psu"].nunique() == len(df)
    for grouping in (["field_code"], []):
        a = satisfaction_indices(pooled, form17, design, by=grouping, version=version)
        b = satisfaction_indices(rows, form17, design, by=grouping, version=version)
        _close(a.table, b.table)
        np.testing.assert_allclose(
            a.covariance("sipas").to_numpy(), b.covariance("sipas").to_numpy(), rtol=1e-9, atol=1e-9
        )
    first, second = {"agency_code": "A1"}, None
    diff_a = domain_differences(pooled, form17, first, second, design, version=version)
    diff_b = domain_differences(rows, form17, first, second, design, version=version)
    _close(diff_a, diff_b, cols=("estimate", "se", "df"))
