"""The overall-satisfaction item (``[overall]``, kind ``overall``): the key drivers' outcome,
never a criterion of an index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import key_drivers
from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.hierarchy import hierarchy_from_form
from analysis.indices import satisfaction_indices
from forms import load_form_file
from tests.analysis.factories import make_responses
from tests.analysis.test_drivers import _brute_shapley

FORMS = Path(__file__).parents[1] / "forms" / "data"


@pytest.fixture(scope="module")
def overall_form():
    return load_form_file(FORMS / "overall.v1.toml")


@pytest.fixture(scope="module")
def plain_form():
    return load_form_file(FORMS / "minimal.v1.toml")  # the same form without the overall item


@pytest.fixture(scope="module")
def responses(overall_form) -> pd.DataFrame:
    df = make_responses(overall_form, seed=8, n=500)
    rng = np.random.default_rng(9)
    criteria = df[list(overall_form.rating_keys)].astype(float).where(lambda x: x > 0)
    level = criteria.mean(axis=1).fillna(3.5).to_numpy()
    code = np.clip(np.round(level + rng.normal(0, 0.6, len(df))), 1, 5)
    code[rng.random(len(df)) < 0.05] = 0  # not applicable: not an outcome
    overall = pd.array(code.astype(int), dtype="Int64")
    overall[rng.random(len(df)) < 0.05] = pd.NA
    df["overall"] = overall
    return df


def test_the_overall_item_is_no_criterion(overall_form, plain_form):
    assert overall_form.overall_item is not None and overall_form.overall_item.kind == "overall"
    assert overall_form.rating_keys == plain_form.rating_keys
    assert "overall" in overall_form.item_keys
    assert overall_form.overall_item.codes == {0, 1, 2, 3, 4, 5}
    assert hierarchy_from_form(overall_form) == hierarchy_from_form(plain_form)


@pytest.mark.parametrize("version", ["A", "B"])
def test_indices_ignore_the_overall_item(responses, overall_form, plain_form, version):
    design = Design(weight="weight", strata="agency_code", psu="counter_code")
    tables = []
    for form, data in ((overall_form, responses), (plain_form, responses.drop(columns="overall"))):
        counts = counts_from_responses(
            data, form, design, by=["agency_code"], index_versions=(version,)
        )
        result = satisfaction_indices(counts, form, design, by=["agency_code"], version=version)
        tables.append(result.table)
    with_item, without = tables
    assert "overall" not in set(with_item["indicator"])
    pd.testing.assert_frame_equal(with_item, without)
    # a different overall answer changes no index
    shuffled = responses.assign(overall=responses["overall"].sample(frac=1, random_state=1).values)
    counts = counts_from_responses(shuffled, overall_form, design, by=["agency_code"],
                                   index_versions=(version,))  # fmt: skip
    again = satisfaction_indices(counts, overall_form, design, by=["agency_code"], version=version)
    pd.testing.assert_frame_equal(again.table, with_item)


def test_drivers_explain_the_overall_item(responses, overall_form):
    drivers = key_drivers(responses, overall_form, weight="weight")
    assert (drivers["outcome"] == "overall item overall").all()
    assert list(drivers["criterion"]) == list(overall_form.rating_keys)
    codes = responses[list(overall_form.rating_keys)].astype(float).to_numpy()
    y = responses["overall"].astype(float).to_numpy()
    w = responses["weight"].to_numpy()
    for factor in overall_form.factors:
        model = drivers[drivers["model"] == factor.key]
        cols = [overall_form.rating_keys.index(k) for k in factor.item_keys]
        x = codes[:, cols]
        rows = np.isin(x, [1, 2, 3, 4, 5]).all(axis=1) & np.isin(y, [1, 2, 3, 4, 5])
        assert (model["n"] == rows.sum()).all() and rows.sum() < len(y)
        expected = _brute_shapley(y[rows], x[rows], w[rows])
        np.testing.assert_allclose(model["importance"], expected, rtol=1e-9, atol=1e-12)
    # an explicit outcome column still wins
    other = key_drivers(responses.assign(score=y), overall_form, outcome="score")
    assert (other["outcome"] == "score").all()


def test_drivers_need_the_overall_column(responses, overall_form):
    from analysis.errors import AnalysisError

    with pytest.raises(AnalysisError, match="overall"):
        key_drivers(responses.drop(columns="overall"), overall_form)
