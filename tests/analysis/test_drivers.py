"""Key drivers (analysis.drivers): Shapley / LMG importance against brute force."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import importance_performance, key_drivers
from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.drivers import QUADRANTS, shapley_r2, weighted_covariance
from analysis.errors import AnalysisError
from analysis.indices import satisfaction_indices

BASE = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"


def _wls_r2(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """R^2 of a weighted least-squares fit with an intercept, from the raw rows."""
    design = np.column_stack([np.ones(len(y)), x])
    root = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)
    resid = y - design @ beta
    mean = np.average(y, weights=w)
    return 1 - np.sum(w * resid**2) / np.sum(w * (y - mean) ** 2)


def _brute_shapley(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average over all p! orders of the R^2 each predictor adds when it enters."""
    p = x.shape[1]
    total = np.zeros(p)
    for order in itertools.permutations(range(p)):
        before = 0.0
        for k, j in enumerate(order):
            after = _wls_r2(y, x[:, list(order[: k + 1])], w)
            total[j] += after - before
            before = after
    return total / math.factorial(p)


@pytest.mark.parametrize(("p", "seed"), [(2, 1), (3, 2), (4, 3), (5, 4)])
def test_shapley_equals_brute_force_over_all_orders(p, seed):
    rng = np.random.default_rng(seed)
    n = 300
    mix = rng.normal(size=(p, p))
    x = rng.normal(size=(n, p)) @ mix  # correlated predictors
    y = x @ rng.normal(size=p) + rng.normal(scale=2.0, size=n)
    w = rng.uniform(0.2, 5.0, n)
    got, r2 = shapley_r2(weighted_covariance(np.column_stack([y, x]), w))
    np.testing.assert_allclose(got, _brute_shapley(y, x, w), rtol=1e-9, atol=1e-12)
    assert r2 == pytest.approx(_wls_r2(y, x, w), rel=1e-10)
    assert got.sum() == pytest.approx(r2, rel=1e-10)


def test_orthogonal_predictors_get_their_squared_correlation():
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(200, 3))
    x, _ = np.linalg.qr(raw - raw.mean(axis=0))  # centred, orthonormal columns
    y = x @ np.array([3.0, 1.0, 0.0]) + 0.5 * rng.normal(size=200)
    got, _ = shapley_r2(weighted_covariance(np.column_stack([y, x])))
    r = [np.corrcoef(y, x[:, j])[0, 1] ** 2 for j in range(3)]
    np.testing.assert_allclose(got, r, rtol=1e-10)
    assert got[0] > got[1] > got[2]


def test_key_drivers_without_an_outcome_item_use_the_rest_of_the_form(form17):
    df = pd.read_csv(BASE)
    drivers = key_drivers(df, form17, weight="weight")
    assert list(drivers["criterion"]) == [i.key for i in form17.rating_items]
    e4 = drivers[drivers["model"] == "e4"]
    assert (e4["outcome"] == "satisfied share on the criteria outside e4").all()
    keys = [i.key for i in form17.rating_items]
    inside = list(next(f for f in form17.factors if f.key == "e4").item_keys)
    rest = [k for k in keys if k not in inside]
    valid = df[keys].isin([1, 2, 3, 4, 5])
    y = (df[rest] >= 4).astype(float).where(valid[rest]).mean(axis=1)  # valid answers only
    rows = valid[inside].all(axis=1) & y.notna()
    assert (e4["n"] == rows.sum()).all()
    brute = _brute_shapley(
        y[rows].to_numpy(), df.loc[rows, inside].to_numpy(float), df.loc[rows, "weight"].to_numpy()
    )
    np.testing.assert_allclose(e4["importance"], brute, rtol=1e-9)
    np.testing.assert_allclose(e4["relative_importance"].sum(), 100.0)
    assert ((drivers["importance"] > 0) & (drivers["r2"] < 1)).all()


def test_key_drivers_with_an_outcome_column(form17):
    df = pd.read_csv(BASE)
    rng = np.random.default_rng(8)
    df["overall"] = 2.0 * df["e1_3"].where(df["e1_3"] > 0) + rng.normal(size=len(df))
    drivers = key_drivers(df, form17, outcome="overall")
    e1 = drivers[drivers["model"] == "e1"].set_index("criterion")
    assert (e1["outcome"] == "overall").all()
    assert e1["importance"].idxmax() == "e1_3"
    assert e1.loc["e1_3", "relative_importance"] > 50


def test_importance_performance_quadrants(form17):
    df = pd.read_csv(BASE)
    drivers = key_drivers(df, form17, weight="weight")
    design = Design(weight="weight")
    table = satisfaction_indices(counts_from_responses(df, form17, design), form17, design).table
    performance = table[table["level"] == "criterion"].set_index("indicator")["estimate"]
    grid = importance_performance(drivers, performance)
    assert len(grid) == 22
    assert grid["importance_mean"].iloc[0] == pytest.approx(drivers["importance"].mean())
    assert grid["performance_mean"].iloc[0] == pytest.approx(performance.mean())
    for row in grid.itertuples():
        key = (row.importance >= row.importance_mean, row.performance >= row.performance_mean)
        assert row.quadrant == QUADRANTS[key]
    assert grid["quadrant"].nunique() >= 3


def test_importance_performance_by_hand():
    drivers = pd.DataFrame({"criterion": ["a", "b", "c", "d"], "importance": [4, 3, 2, 1.0]})
    grid = importance_performance(drivers, {"a": 10.0, "b": 90.0, "c": 20.0, "d": 80.0})
    assert grid["quadrant"].tolist() == [
        "concentrate here",
        "keep up the good work",
        "low priority",
        "possible overkill",
    ]
    with pytest.raises(AnalysisError, match="no performance value"):
        importance_performance(drivers, {"a": 1.0})


def test_errors(form17):
    with pytest.raises(AnalysisError, match="does not vary"):
        shapley_r2(weighted_covariance(np.column_stack([np.ones(10), np.arange(10.0)])))
    with pytest.raises(AnalysisError, match="at most"):
        shapley_r2(np.eye(18))
    with pytest.raises(AnalysisError, match="no column"):
        key_drivers(pd.read_csv(BASE), form17, outcome="nope")
