"""Mean scores, dissatisfied/expectation shares and profile breakdowns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.counts import counts_from_responses
from analysis.descriptive import item_statistics
from analysis.design import Design
from analysis.errors import AnalysisError
from forms import load_form
from tests.analysis.naive import ratio_scores, stratified_variance

DESIGN = Design(weight="weight", strata="agency_code", psu="counter_code")


@pytest.fixture(scope="module")
def counter_data():
    form = load_form("sipas-counter")
    rng = np.random.default_rng(42)
    n = 300
    agency = rng.integers(0, 3, n)
    df = pd.DataFrame(
        {
            "agency_code": [f"A{a}" for a in agency],
            "counter_code": [
                f"A{a}-C{c}" for a, c in zip(agency, rng.integers(0, 3, n), strict=True)
            ],
            "weight": rng.uniform(1, 4, n),
        }
    )
    for item in form.rating_items:
        df[item.key] = pd.array(rng.choice([0, 1, 2, 3, 4, 5, None], n), dtype="Int64")
    for item in (*form.expectation_items, *form.profile_items):
        codes = sorted(item.codes)
        df[item.key] = pd.array(rng.choice([*codes, None], n), dtype="Int64")
    counts = counts_from_responses(df, form, DESIGN, by=["agency_code"])
    return form, df, counts


def test_mean_score_matches_weighted_mean_and_row_level_se(counter_data):
    form, df, counts = counter_data
    t = item_statistics(counts, form, DESIGN, statistic="mean_score", by=["agency_code"])
    key = form.rating_items[2].key
    code = df[key].to_numpy(dtype=float, na_value=np.nan)
    valid = (code >= 1) & (code <= 5)
    w = df["weight"].to_numpy()
    dom = (df["agency_code"] == "A1").to_numpy()
    est, z = ratio_scores(np.where(valid, code, 0.0), valid.astype(float), w, dom)
    v = stratified_variance(w * z, df["agency_code"].to_numpy(), df["counter_code"].to_numpy())
    row = t[(t["agency_code"] == "A1") & (t["item"] == key)].iloc[0]
    assert row["estimate"] == pytest.approx(est, rel=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(v), rel=1e-9)
    assert row["ci_low"] < est < row["ci_high"]
    assert 1 <= t["estimate"].min() and t["estimate"].max() <= 5


def test_dissatisfied_and_expectation_shares(counter_data):
    form, df, counts = counter_data
    dis = item_statistics(counts, form, DESIGN, statistic="dissatisfied")
    key = form.rating_items[0].key
    code = df[key].to_numpy(dtype=float, na_value=np.nan)
    valid = (code >= 1) & (code <= 5)
    w = df["weight"].to_numpy()
    expected = 100 * w[valid & (code <= 2)].sum() / w[valid].sum()
    assert dis.set_index("item").loc[key, "estimate"] == pytest.approx(expected, rel=1e-12)
    exp = item_statistics(counts, form, DESIGN, statistic="expectation")
    x = form.expectation_items[1].key
    code = df[x].to_numpy(dtype=float, na_value=np.nan)
    answered = ~np.isnan(code)
    expected = 100 * w[answered & (code >= 2)].sum() / w[answered].sum()
    assert exp.set_index("item").loc[x, "estimate"] == pytest.approx(expected, rel=1e-12)


def test_profile_shares_sum_to_100_per_item(counter_data):
    form, _, counts = counter_data
    t = item_statistics(counts, form, DESIGN, statistic="profile", by=["agency_code"])
    sums = t.groupby(["agency_code", "item"])["estimate"].sum()
    np.testing.assert_allclose(sums, 100.0, rtol=1e-12)
    assert set(t["item"]) == {i.key for i in form.profile_items}
    assert (t["category"] != "").all()


def test_unknown_statistic(counter_data):
    form, _, counts = counter_data
    with pytest.raises(AnalysisError, match="statistic"):
        item_statistics(counts, form, DESIGN, statistic="median")  # type: ignore[arg-type]
