"""Loading and validating dossier-volume frames (analysis.frames)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.frames import FrameError, load_frame, period_granularity, period_of, validate_frame

DATA = Path(__file__).parent / "data" / "weighting"


def test_load_csv_frame() -> None:
    frame = load_frame(DATA / "frame_ok.csv")
    assert list(frame.columns) == ["agency_code", "field_code", "dossiers"]
    assert frame["dossiers"].tolist() == [100.0, 50.0, 30.0, 20.0]
    assert frame["agency_code"].tolist() == ["A01", "A01", "B02", "B02"]


def test_bad_rows_are_all_reported_with_row_and_column() -> None:
    with pytest.raises(FrameError) as info:
        load_frame(DATA / "frame_bad.csv")
    problems = {(p.row, p.column) for p in info.value.problems}
    # header is row 1: blank field code (row 3), non-numeric (4), negative (5),
    # thousands separator (6), duplicate of row 2 (7 and 2), blank agency and volume (8)
    assert (3, "field_code") in problems
    assert (4, "dossiers") in problems
    assert (5, "dossiers") in problems
    assert (6, "dossiers") in problems
    assert (8, "agency_code") in problems
    assert (8, "dossiers") in problems
    dup_rows = {p.row for p in info.value.problems if "duplicate" in p.problem}
    assert dup_rows == {2, 7}
    message = str(info.value)
    assert "row 4, column 'dossiers': 'abc' is not a number" in message
    assert "1.649" in message and "whole number" in message
    assert "negative" in message
    assert isinstance(info.value, ValueError)


def test_missing_columns_listed() -> None:
    raw = pd.DataFrame({"agency_code": ["A"], "volume": [3]})
    with pytest.raises(FrameError) as info:
        validate_frame(raw)
    missing = {p.column for p in info.value.problems}
    assert missing == {"field_code", "dossiers"}
    assert all(p.row is None for p in info.value.problems)


def test_xlsx_frame_with_numeric_codes(tmp_path: Path) -> None:
    path = tmp_path / "frame.xlsx"
    pd.DataFrame(
        {"agency_code": [1, 2], "field_code": ["F1", "F1"], "dossiers": [12.0, 7]}
    ).to_excel(path, index=False)
    frame = load_frame(path)
    assert frame["agency_code"].tolist() == ["1", "2"]
    assert frame["dossiers"].tolist() == [12.0, 7.0]


def test_fractional_volumes_allowed_when_not_integer() -> None:
    raw = pd.DataFrame({"agency_code": ["A"], "field_code": ["F"], "dossiers": ["12.5"]})
    with pytest.raises(FrameError):
        validate_frame(raw)
    assert validate_frame(raw, integer=False)["dossiers"].iloc[0] == 12.5


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "frame.json"
    path.write_text("{}")
    with pytest.raises(FrameError, match="unsupported file type"):
        load_frame(path)


def test_periods_checked_and_mapped() -> None:
    frame = load_frame(DATA / "frame_periods.csv")
    assert period_granularity(frame["period"]) == "quarter"
    ts = pd.Series(["2024-03-31T23:59:59Z", "2024-04-01T00:00:00+00:00", "2024-12-01T00:00:00Z"])
    assert period_of(ts, "quarter").tolist() == ["2024-Q1", "2024-Q2", "2024-Q4"]
    assert period_of(ts, "month").tolist() == ["2024-03", "2024-04", "2024-12"]
    assert period_of(ts, "half").tolist() == ["2024-H1", "2024-H1", "2024-H2"]
    assert period_of(ts, "year").tolist() == ["2024", "2024", "2024"]
    with pytest.raises(ValueError, match="granularity"):
        period_of(ts, "week")


def test_mixed_or_bad_periods_rejected() -> None:
    raw = pd.DataFrame(
        {
            "agency_code": ["A", "A", "A"],
            "field_code": ["F", "F", "F"],
            "period": ["2024", "2024-Q2", "Q3/2024"],
            "dossiers": [1, 2, 3],
        }
    )
    with pytest.raises(FrameError) as info:
        validate_frame(raw)
    text = str(info.value)
    assert "row 4, column 'period'" in text
    assert "mix granularities" in text


def test_xlsx_blank_cells_reported(tmp_path: Path) -> None:
    path = tmp_path / "frame.xlsx"
    pd.DataFrame(
        {"agency_code": ["A", None], "field_code": ["F1", "F2"], "dossiers": [None, 3]}
    ).to_excel(path, index=False)
    with pytest.raises(FrameError) as info:
        load_frame(path)
    assert [str(p) for p in info.value.problems] == [
        "row 2, column 'dossiers': volume is blank",
        "row 3, column 'agency_code': blank code",
    ]
