"""Post-stratification to dossier volumes, checked against hand calculations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.design import Calibration
from analysis.weighting import (
    CollapseRule,
    EmptyCellsError,
    UnmatchedResponsesError,
    WeightingError,
    poststratify,
    poststratify_to_frame,
)

DATA = Path(__file__).parent / "data" / "weighting"


def frame_4cells() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_code": ["A", "A", "B", "B"],
            "field_code": ["F1", "F2", "F1", "F2"],
            "dossiers": [100.0, 50.0, 30.0, 20.0],
        }
    )


def responses(cells: list[tuple[str, str]], w0: list[float] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(cells, columns=["agency_code", "field_code"])
    df.index = [f"r{i}" for i in range(len(df))]
    if w0 is not None:
        df["w0"] = w0
    return df


def test_poststratify_hand_calculation() -> None:
    df = responses(
        [("A", "F1"), ("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F2"), ("B", "F2")],
        w0=[1.0, 3.0, 2.0, 5.0, 1.0, 1.0],
    )
    res = poststratify(df, frame_4cells(), base_weight="w0")
    # w_i = w0_i * N_g / sum_g w0: A/F1 100/4, A/F2 50/2, B/F1 30/5, B/F2 20/2
    expected = [25.0, 75.0, 50.0, 30.0, 10.0, 10.0]
    np.testing.assert_allclose(res.weights.to_numpy(), expected, rtol=1e-14)
    assert list(res.weights.index) == list(df.index)
    d = res.diagnostics
    assert d.sum_weights == pytest.approx(200.0)
    assert d.population_total == 200.0 and d.shortfall == pytest.approx(0.0)
    w = np.array(expected)
    assert d.kish_deff == pytest.approx(6 * (w**2).sum() / w.sum() ** 2)
    assert (d.min_weight, d.max_weight) == (10.0, 75.0)
    assert d.weight_ratio == pytest.approx(7.5)
    assert d.n_cells == 4 and d.n_strata == 4 and len(d.empty_cells) == 0
    assert res.calibration == Calibration(
        kind="poststratify",
        cell_columns=("agency_code", "field_code"),
        margins=None,
        base_weight_column="w0",
    )
    assert res.strata.astype(str).tolist() == ["A/F1", "A/F1", "A/F2", "B/F1", "B/F2", "B/F2"]


def test_default_base_weight_gives_n_over_n() -> None:
    df = responses([("A", "F1"), ("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F2")])
    res = poststratify(df, frame_4cells())
    np.testing.assert_allclose(res.weights.to_numpy(), [50, 50, 50, 30, 20])
    assert res.calibration.base_weight_column == "base_weight"
    applied = res.apply(df)
    assert applied["base_weight"].tolist() == [1.0] * 5
    assert applied["weight"].sum() == pytest.approx(200.0)


def test_series_frame_and_int_codes_match_strings() -> None:
    df = pd.DataFrame({"agency_code": [1, 1, 2], "field_code": ["F1", "F1", "F1"]})
    frame = pd.Series(
        [10.0, 6.0],
        index=pd.MultiIndex.from_tuples([("1", "F1"), ("2", "F1")], names=df.columns),
    )
    res = poststratify(df, frame)
    np.testing.assert_allclose(res.weights.to_numpy(), [5.0, 5.0, 6.0])


def test_empty_cell_is_an_error_listing_the_cell() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1")])
    with pytest.raises(EmptyCellsError) as info:
        poststratify(df, frame_4cells())
    assert info.value.cells[["agency_code", "field_code"]].values.tolist() == [["B", "F2"]]
    assert "B/F2" in str(info.value) and "partial=True" in str(info.value)


def test_partial_leaves_total_short_and_says_so() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1")])
    res = poststratify(df, frame_4cells(), partial=True)
    np.testing.assert_allclose(res.weights.to_numpy(), [100, 50, 30])
    d = res.diagnostics
    assert d.shortfall == pytest.approx(20.0)
    assert d.empty_cells["handling"].tolist() == ["left out"]
    assert any("left out" in note for note in d.notes)


def test_collapse_pools_the_agency_by_default() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F1")], w0=[1, 1, 1, 3])
    res = poststratify(df, frame_4cells(), base_weight="w0", collapse=CollapseRule())
    # B's cells pooled: N = 50 over sum w0 = 4
    np.testing.assert_allclose(res.weights.to_numpy(), [100, 50, 12.5, 37.5])
    d = res.diagnostics
    assert d.shortfall == pytest.approx(0.0)
    assert d.n_strata == 3
    row = d.empty_cells.iloc[0]
    assert (row["handling"], row["merged_into"]) == ("collapsed", "B/*")
    assert res.calibration.cell_columns == ("poststratum",)
    applied = res.apply(df)
    assert applied["poststratum"].astype(str).tolist() == ["A/F1", "A/F2", "B/*", "B/*"]


def test_collapse_into_catch_all_and_nearest_in_order() -> None:
    frame = pd.DataFrame(
        {
            "agency_code": ["A"] * 4,
            "field_code": ["F1", "F2", "F3", "KHAC"],
            "dossiers": [40.0, 10.0, 30.0, 20.0],
        }
    )
    df = responses([("A", "F1"), ("A", "F3"), ("A", "KHAC")])
    into = poststratify(df, frame, collapse=CollapseRule(into="KHAC"))
    np.testing.assert_allclose(into.weights.to_numpy(), [40, 30, 30])  # F2 -> KHAC
    assert into.diagnostics.empty_cells["merged_into"].tolist() == ["A/KHAC"]
    order = ("F1", "F2", "F3", "KHAC")
    near = poststratify(df, frame, collapse=CollapseRule(order=order))
    # F2 is equally near F1 and F3: ties go to the earlier code, F1
    np.testing.assert_allclose(near.weights.to_numpy(), [50, 30, 20])
    assert near.diagnostics.empty_cells["merged_into"].tolist() == ["A/F1"]
    with pytest.raises(WeightingError, match="does not list"):
        poststratify(df, frame, collapse=CollapseRule(order=("F1", "F2")))


def test_group_without_any_response_cannot_be_collapsed() -> None:
    df = responses([("A", "F1"), ("A", "F2")])
    with pytest.raises(EmptyCellsError, match="No cell of their group"):
        poststratify(df, frame_4cells(), collapse=CollapseRule())
    res = poststratify(df, frame_4cells(), collapse=CollapseRule(), partial=True)
    assert res.diagnostics.shortfall == pytest.approx(50.0)


def test_responses_outside_frame() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F2"), ("C", "F9"), ("C", "F9")])
    df.loc["r5", "field_code"] = None
    with pytest.raises(UnmatchedResponsesError) as info:
        poststratify(df, frame_4cells())
    table = info.value.cells
    assert table["reason"].tolist() == ["not in frame", "blank code"]
    assert table["responses"].tolist() == [1, 1]
    res = poststratify(df, frame_4cells(), unmatched="zero")
    np.testing.assert_allclose(res.weights.to_numpy(), [100, 50, 30, 20, 0, 0])
    assert res.diagnostics.n_weighted == 4
    assert int(res.diagnostics.unmatched["responses"].sum()) == 2


def test_zero_volume_cell_counts_as_unmatched() -> None:
    frame = frame_4cells()
    frame.loc[3, "dossiers"] = 0.0
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F2")])
    with pytest.raises(UnmatchedResponsesError, match="zero volume|absent"):
        poststratify(df, frame)


def test_bad_inputs() -> None:
    df = responses([("A", "F1")], w0=[-1.0])
    with pytest.raises(WeightingError, match="negative"):
        poststratify(df, frame_4cells(), base_weight="w0", partial=True)
    with pytest.raises(WeightingError, match="no column"):
        poststratify(df.drop(columns="field_code"), frame_4cells())
    with pytest.raises(WeightingError, match="repeated cells"):
        poststratify(df, pd.concat([frame_4cells(), frame_4cells()]))


def test_poststratify_to_frame_uses_periods() -> None:
    df = pd.DataFrame(
        {
            "agency_code": ["A01"] * 5,
            "field_code": ["F01", "F01", "F01", "F02", "F02"],
            "submitted_at": [
                "2024-01-05T02:00:00Z",
                "2024-02-05T02:00:00Z",
                "2024-05-05T02:00:00Z",
                "2024-03-30T02:00:00Z",
                "2024-06-30T02:00:00Z",
            ],
        }
    )
    res = poststratify_to_frame(df, DATA / "frame_periods.csv")
    # Q1/F01: 40 over 2; Q2/F01: 60; Q1/F02: 10; Q2/F02: 30
    np.testing.assert_allclose(res.weights.to_numpy(), [20, 20, 60, 10, 30])
    assert res.calibration.cell_columns == ("agency_code", "field_code", "period")
    assert res.apply(df)["period"].tolist() == [
        "2024-Q1",
        "2024-Q1",
        "2024-Q2",
        "2024-Q1",
        "2024-Q2",
    ]


def test_poststratify_to_frame_path_without_periods() -> None:
    df = responses([("A01", "F01"), ("A01", "F02"), ("B02", "F01"), ("B02", "F02")])
    res = poststratify_to_frame(df, str(DATA / "frame_ok.csv"))
    np.testing.assert_allclose(res.weights.to_numpy(), [100, 50, 30, 20])


def test_diagnostics_to_frame() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1")])
    table = poststratify(df, frame_4cells(), partial=True).diagnostics.to_frame()
    assert table.shape[0] == 1
    assert table.loc[0, "n_empty_cells"] == 1
    assert table.loc[0, "shortfall"] == pytest.approx(20.0)


def test_scales_vectorised_on_many_rows() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    agencies = np.array([f"A{i:02d}" for i in range(30)])
    fields = np.array([f"F{j:02d}" for j in range(12)])
    df = pd.DataFrame({"agency_code": rng.choice(agencies, n), "field_code": rng.choice(fields, n)})
    cells = df.drop_duplicates().reset_index(drop=True)
    cells["dossiers"] = rng.integers(10, 10_000, len(cells)).astype(float)
    res = poststratify(df, cells)
    got = res.weights.groupby([df["agency_code"], df["field_code"]]).sum()
    want = cells.set_index(["agency_code", "field_code"])["dossiers"]
    np.testing.assert_allclose(got.reindex(want.index).to_numpy(), want.to_numpy(), rtol=1e-12)


def test_apply_drops_zero_weighted_rows_by_default() -> None:
    df = responses([("A", "F1"), ("A", "F2"), ("B", "F1"), ("B", "F2"), ("C", "F9")])
    res = poststratify(df, frame_4cells(), unmatched="zero")
    assert res.apply(df).index.tolist() == ["r0", "r1", "r2", "r3"]
    kept = res.apply(df, "w", drop_unweighted=False)
    assert kept["w"].tolist() == [100.0, 50.0, 30.0, 20.0, 0.0]
    with pytest.raises(WeightingError, match="apply"):
        res.apply(df.iloc[:2])
