"""Bootstrap intervals of key-driver importances (analysis.drivers.key_driver_intervals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.drivers import DRIVER_COLUMNS, key_driver_intervals, key_drivers
from analysis.errors import AnalysisError
from forms import load_form

DATA = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"agency_code": str, "counter_code": str})


def test_intervals_surround_the_estimates_and_repeat_with_the_seed(data):
    form = load_form("sipas-2017")
    kwargs = {"weight": "weight", "strata": "agency_code", "psu": "counter_code"}
    table = key_driver_intervals(data, form, replicates=40, seed=7, **kwargs)
    point = key_drivers(data, form, weight="weight")
    pd.testing.assert_frame_equal(table[list(DRIVER_COLUMNS)], point)
    assert (table["importance_se"] > 0).all()
    assert (table["importance_low"] <= table["importance"]).all()
    assert (table["importance"] <= table["importance_high"]).all()
    assert (table["relative_low"] < table["relative_high"]).all()
    again = key_driver_intervals(data, form, replicates=40, seed=7, **kwargs)
    pd.testing.assert_frame_equal(table, again)
    other = key_driver_intervals(data, form, replicates=40, seed=8, **kwargs)
    assert not np.allclose(other["importance_se"], table["importance_se"])


def test_bad_options_are_refused(data):
    form = load_form("sipas-2017")
    with pytest.raises(AnalysisError, match="no column"):
        key_driver_intervals(data, form, psu="nope", replicates=3)
    with pytest.raises(AnalysisError, match="confidence"):
        key_driver_intervals(data, form, confidence=1.5, replicates=3)
