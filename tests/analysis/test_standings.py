"""analysis.standings.unit_standings: ranks and PAR points of the units of one grouping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.errors import AnalysisError
from analysis.indices import satisfaction_indices
from analysis.par_index import load_rule
from analysis.ranking import rank_units
from analysis.standings import STANDING_COLUMNS, unit_standings

SPARSE = Path(__file__).parents[1] / "reference" / "data" / "sparse" / "responses.csv"
DESIGN = Design(weight="weight")


@pytest.fixture(scope="module")
def sparse_result(form17):
    df = pd.read_csv(SPARSE, dtype={"agency_code": str, "field_code": str})
    counts = counts_from_responses(df, form17, DESIGN, by=["agency_code", "field_code"])
    return counts, satisfaction_indices(counts, form17, DESIGN, by=["agency_code"])


def test_units_without_an_estimate_are_listed_but_not_ranked(sparse_result):
    _, result = sparse_result
    t = unit_standings(result, indicator="e5", method="pairwise")
    assert list(t.columns[: 1 + len(STANDING_COLUMNS)]) == ["agency_code", *STANDING_COLUMNS]
    assert len(t) == 10
    missing = t["estimate"].isna()
    assert t.loc[missing, "agency_code"].tolist() == ["A04"]  # every e5 answer not applicable
    assert t.loc[missing, "rank"].isna().all()
    assert (t.loc[~missing, "of"] == 9).all()
    ranked = t[~missing].set_index("agency_code")
    cov = result.covariance(level="factor", indicator="e5")
    keep = [u for u in cov.index if u != "A04"]
    direct = rank_units(
        ranked["estimate"], cov.loc[keep, keep], method="pairwise", confidence=0.95
    ).to_frame()
    np.testing.assert_array_equal(ranked["rank"], direct.loc[ranked.index, "rank"])
    np.testing.assert_array_equal(ranked["rank_low"], direct.loc[ranked.index, "ci_low"])
    np.testing.assert_array_equal(ranked["rank_high"], direct.loc[ranked.index, "ci_high"])


def test_par_points_per_component(sparse_result):
    _, result = sparse_result
    rule = load_rule("example-per-factor")
    t = unit_standings(result, rank=False, rule=rule)
    assert "rank" not in t.columns
    wanted = [f"points_{c.indicator}" for c in rule.rules]
    assert [c for c in t.columns if c.startswith("points_")] == wanted
    full = t[t[wanted].notna().all(axis=1)]
    np.testing.assert_allclose(full[wanted].sum(axis=1), full["par_points"], rtol=1e-12)


def test_one_unit_column_is_required(sparse_result, form17):
    counts, _ = sparse_result
    crossed = satisfaction_indices(counts, form17, DESIGN, by=["agency_code", "field_code"])
    with pytest.raises(AnalysisError, match="one unit column"):
        unit_standings(crossed, method="pairwise")
    with pytest.raises(AnalysisError, match="no 'X9' rows"):
        unit_standings(sparse_result[1], indicator="X9", method="pairwise")
