"""Coverage (responses per dossier of the frame) on small frames computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.coverage import COVERAGE_COLUMNS, coarsen_periods, coverage


def _responses(rows: list[tuple]) -> pd.DataFrame:
    columns = ["agency_code", "field_code", "period", "responses"][: len(rows[0])]
    if len(rows[0]) == 3:
        columns = ["agency_code", "field_code", "responses"]
    return pd.DataFrame(rows, columns=columns)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    columns = ["agency_code", "field_code", "period", "dossiers"]
    if len(rows[0]) == 3:
        columns = ["agency_code", "field_code", "dossiers"]
    return pd.DataFrame(rows, columns=columns)


def _row(table: pd.DataFrame, **keys: object) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for column, value in keys.items():
        mask &= (table[column] == value).to_numpy()
    assert mask.sum() == 1, (keys, table)
    return table[mask].iloc[0]


FRAME = _frame(
    [
        ("A", "F1", 1000),
        ("A", "F2", 500),
        ("B", "F1", 200),
        ("B", "F2", 0),
        ("C", "F1", 300),  # C: no responses at all
    ]
)
RESPONSES = _responses(
    [
        ("A", "F1", 20),
        ("A", "F2", 10),
        ("B", "F1", 150),
        ("B", "F2", 60),  # more responses than B's 200 dossiers in total
        ("D", "F1", 5),  # D is missing from the frame
    ]
)


def test_coverage_per_unit_is_responses_over_dossiers() -> None:
    table = coverage(RESPONSES, FRAME)
    assert list(table.columns) == ["agency_code", *COVERAGE_COLUMNS]
    assert list(table["agency_code"]) == ["A", "B", "C", "D"]
    a = _row(table, agency_code="A")
    assert (a["responses"], a["dossiers"], a["cells"]) == (30, 1500.0, 2)
    assert a["coverage"] == pytest.approx(30 / 1500)  # 2 %: not low
    assert a["coverage_flag"] == ""
    b = _row(table, agency_code="B")
    assert (b["responses"], b["dossiers"]) == (210, 200.0)
    assert b["coverage"] == pytest.approx(1.05)
    assert b["coverage_flag"] == "excess"
    c = _row(table, agency_code="C")
    assert (c["responses"], c["dossiers"], c["coverage"]) == (0, 300.0, 0.0)
    assert c["cells_no_responses"] == 1 and c["coverage_flag"] == "low"
    d = _row(table, agency_code="D")
    assert d["responses"] == 5 and np.isnan(d["dossiers"]) and np.isnan(d["coverage"])
    assert d["cells_no_dossiers"] == 1 and d["coverage_flag"] == "not_in_frame"


def test_coverage_per_field_and_per_cell() -> None:
    by_field = coverage(RESPONSES, FRAME, by=["field_code"])
    f1 = _row(by_field, field_code="F1")
    # F1: (20 + 150 + 5) responses; dossiers 1000 + 200 + 300; D/F1 has no volume
    assert (f1["responses"], f1["dossiers"]) == (175, 1500.0)
    assert f1["coverage"] == pytest.approx(175 / 1500)
    assert (f1["cells"], f1["cells_no_responses"], f1["cells_no_dossiers"]) == (3, 1, 1)
    f2 = _row(by_field, field_code="F2")
    assert f2["coverage"] == pytest.approx(70 / 500)
    cells = coverage(RESPONSES, FRAME, by=["agency_code", "field_code"])
    assert len(cells) == 6
    empty = _row(cells, agency_code="B", field_code="F2")
    # zero dossiers: no rate, and 60 responses against 0 dossiers is suspicious
    assert empty["dossiers"] == 0 and np.isnan(empty["coverage"])
    assert empty["coverage_flag"] == "excess"
    low = _row(cells, agency_code="A", field_code="F1")
    assert low["coverage"] == pytest.approx(0.02) and low["coverage_flag"] == ""
    total = coverage(RESPONSES, FRAME, by=[])
    assert len(total) == 1 and list(total.columns) == list(COVERAGE_COLUMNS)
    assert (total.loc[0, "responses"], total.loc[0, "dossiers"]) == (245, 2000.0)
    assert total.loc[0, "coverage"] == pytest.approx(245 / 2000)  # D's 5 count in R


def test_the_threshold_is_a_parameter_and_applies_strictly_below() -> None:
    frame = _frame([("A", "F1", 1000)])
    at = coverage(_responses([("A", "F1", 10)]), frame)
    assert at.loc[0, "coverage"] == pytest.approx(0.01) and at.loc[0, "coverage_flag"] == ""
    below = coverage(_responses([("A", "F1", 9)]), frame)
    assert below.loc[0, "coverage_flag"] == "low"
    assert (
        coverage(_responses([("A", "F1", 9)]), frame, min_rate=0.005).loc[0, "coverage_flag"] == ""
    )
    assert (
        coverage(_responses([("A", "F1", 20)]), frame, min_rate=0.05).loc[0, "coverage_flag"]
        == "low"
    )
    # a minimum number of responses, only when the frame has more dossiers than that
    assert (
        coverage(_responses([("A", "F1", 20)]), frame, min_responses=30).loc[0, "coverage_flag"]
        == "low"
    )
    small = _frame([("A", "F1", 12)])
    assert (
        coverage(_responses([("A", "F1", 11)]), small, min_responses=30).loc[0, "coverage_flag"]
        == ""
    )


def test_without_a_frame_coverage_is_unknown_not_zero() -> None:
    for frame in (None, FRAME.iloc[0:0]):
        table = coverage(RESPONSES, frame)
        assert table["dossiers"].isna().all() and table["coverage"].isna().all()
        assert set(table["coverage_flag"]) == {"no_frame"}
        assert list(table["responses"]) == [30, 210, 5]
        assert list(table["responses_no_frame"]) == [30, 210, 5]


def test_a_quarter_frame_against_monthly_responses() -> None:
    frame = _frame([("A", "F1", "2026-Q1", 900), ("A", "F1", "2026-Q2", 600)])
    responses = _responses(
        [
            ("A", "F1", "2026-01", 3),
            ("A", "F1", "2026-02", 4),
            ("A", "F1", "2026-03", 2),
            ("A", "F1", "2026-04", 12),
            ("A", "F1", "2026-07", 50),  # Q3 has no frame
        ]
    )
    table = coverage(responses, frame)
    row = table.iloc[0]
    # Q1 + Q2: 21 responses, 1500 dossiers; July counted apart
    assert (row["responses"], row["responses_no_frame"], row["dossiers"]) == (71, 50, 1500.0)
    assert row["coverage"] == pytest.approx(21 / 1500) and row["coverage_flag"] == ""


def test_a_monthly_frame_frames_a_quarter_only_when_every_month_is_there() -> None:
    responses = _responses([("A", "F1", "2026-Q1", 30)])
    full = _frame([("A", "F1", f"2026-0{m}", 1000) for m in (1, 2, 3)])
    row = coverage(responses, full).iloc[0]
    assert row["dossiers"] == 3000 and row["coverage"] == pytest.approx(0.01)
    partial = _frame([("A", "F1", f"2026-0{m}", 1000) for m in (1, 2)])
    row = coverage(responses, partial).iloc[0]
    assert np.isnan(row["dossiers"]) and row["coverage_flag"] == "no_frame"


def test_a_frame_without_periods_covers_every_response() -> None:
    responses = _responses([("A", "F1", "2026-01", 5), ("A", "F1", "2026-05", 5)])
    row = coverage(responses, _frame([("A", "F1", 100)])).iloc[0]
    assert row["responses"] == 10 and row["coverage"] == pytest.approx(0.1)


def test_units_roll_up_to_their_parents() -> None:
    parents = {"P": None, "A": "P", "B": "P", "C": None, "D": "A"}
    table = coverage(RESPONSES, FRAME, parents=parents)
    p = _row(table, agency_code="P")
    # A, B and D (under A): 30 + 210 + 5 responses; A's and B's 1700 dossiers
    assert (p["responses"], p["dossiers"]) == (245, 1700.0)
    assert p["coverage"] == pytest.approx(245 / 1700) and p["cells_no_dossiers"] == 1
    assert p["coverage_flag"] == ""
    a = _row(table, agency_code="A")
    assert (a["responses"], a["dossiers"]) == (35, 1500.0)


def test_responses_without_a_field_are_a_cell_the_frame_lacks() -> None:
    responses = _responses([("A", None, 4), ("A", "F1", 10)])
    row = coverage(responses, _frame([("A", "F1", 100)])).iloc[0]
    assert row["responses"] == 14 and row["cells_no_dossiers"] == 1
    assert row["coverage"] == pytest.approx(0.14)


def test_repeated_cells_are_added_up() -> None:
    responses = _responses([("A", "F1", 4), ("A", "F1", 6)])
    cells = coverage(responses, _frame([("A", "F1", 100)]), by=["agency_code", "field_code"])
    assert len(cells) == 1 and cells.loc[0, "responses"] == 10


def test_coarsen_periods() -> None:
    labels = pd.Series(["2026-07", "2026-Q3", "2026-H2", "2026-12"])
    assert list(coarsen_periods(labels, "year")) == ["2026"] * 4
    assert list(coarsen_periods(labels, "half")) == ["2026-H2"] * 4
    assert list(coarsen_periods(labels[[0, 1, 3]], "quarter")) == ["2026-Q3", "2026-Q3", "2026-Q4"]
    with pytest.raises(ValueError, match="coarser"):
        coarsen_periods(pd.Series(["2026"]), "month")
    with pytest.raises(ValueError, match="not a period"):
        coarsen_periods(pd.Series(["July"]), "year")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": ["channel"]}, "cell columns"),
        ({"min_rate": -0.1}, "negative"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coverage(RESPONSES, FRAME, **kwargs)


def test_missing_columns_and_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="responses lacks"):
        coverage(RESPONSES.drop(columns=["responses"]), FRAME)
    with pytest.raises(ValueError, match="frame lacks"):
        coverage(RESPONSES, FRAME.drop(columns=["dossiers"]))
    with pytest.raises(ValueError, match="period column"):
        coverage(RESPONSES, FRAME.assign(period="2026"))
