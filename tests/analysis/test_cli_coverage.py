"""``sipas analyze --frame``: the coverage columns (responses, dossiers, coverage, flag)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.frames import period_of


def _run(*args: str):
    return CliRunner().invoke(analyze, list(args))


def _frame(export: Path, tmp_path: Path, *, low: str, periods: bool = False) -> pd.DataFrame:
    """Dossiers = 37 × responses per cell, 1000 × for agency ``low`` (0.1 %: flagged)."""
    df = pd.read_csv(export)
    cells = ["agency_code", "field_code"]
    if periods:
        df["period"] = period_of(df["submitted_at"], "quarter")
        cells.append("period")
    frame = df.groupby(cells).size().rename("dossiers").reset_index()
    frame["dossiers"] *= frame["agency_code"].map(lambda a: 1000 if a == low else 37)
    frame.to_csv(tmp_path / "frame.csv", index=False)
    return frame


def test_coverage_columns_per_unit(export: Path, tmp_path: Path) -> None:
    df = pd.read_csv(export)
    low = sorted(df["agency_code"].unique())[0]
    frame = _frame(export, tmp_path, low=low)
    out = tmp_path / "r.csv"
    res = _run(
        str(export), "--form", "sipas-2017", "--frame", str(tmp_path / "frame.csv"),
        "--by", "agency_code", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns[-4:]) == ["responses", "dossiers", "coverage", "coverage_flag"]
    sipas = table[table["level"] == "sipas"].set_index("agency_code")
    responses = df.groupby("agency_code").size()
    dossiers = frame.groupby("agency_code")["dossiers"].sum()
    for code in responses.index:
        assert int(sipas.at[code, "responses"]) == responses[code]
        assert float(sipas.at[code, "dossiers"]) == dossiers[code]
        assert float(sipas.at[code, "coverage"]) == pytest.approx(responses[code] / dossiers[code])
        assert sipas.at[code, "coverage_flag"] == ("low" if code == low else "")
    # every indicator row of a unit carries the unit's coverage
    assert set(table.loc[table["agency_code"] == low, "coverage_flag"]) == {"low"}


def test_groupings_that_are_not_frame_cells_stay_blank(export: Path, tmp_path: Path) -> None:
    df = pd.read_csv(export)
    _frame(export, tmp_path, low="none")
    out = tmp_path / "r.csv"
    res = _run(
        str(export), "--form", "sipas-2017", "--frame", str(tmp_path / "frame.csv"),
        "--by", "field_code", "--by", "agency_code,period:quarter", "--by", "",
        "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, keep_default_na=False)
    by_field = table[(table["grouping"] == "field_code") & (table["level"] == "sipas")]
    total = by_field[by_field["field_code"] == "(all)"]  # the grouping's total: every response
    assert int(total["responses"].iloc[0]) == len(df)
    by_field = by_field[by_field["field_code"] != "(all)"]
    want = df.groupby("field_code").size()
    assert dict(zip(by_field["field_code"], by_field["responses"].astype(int), strict=True)) == (
        want.to_dict()
    )
    assert by_field["coverage"].astype(float).round(12).eq(round(1 / 37, 12)).all()
    crossed = table[table["grouping"] == "agency_code,period"]
    assert len(crossed) and (crossed["coverage"] == "").all()
    assert (crossed["coverage_flag"] == "").all()
    whole = table[(table["grouping"] == "(all)") & (table["level"] == "sipas")].iloc[0]
    assert int(whole["responses"]) == len(df)


def test_a_frame_with_periods_counts_each_response_in_its_period(export, tmp_path) -> None:
    df = pd.read_csv(export)
    frame = _frame(export, tmp_path, low="none", periods=True)
    out = tmp_path / "r.xlsx"
    res = _run(
        str(export), "--form", "sipas-2017", "--frame", str(tmp_path / "frame.csv"),
        "--by", "agency_code", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_excel(out, sheet_name="indices")
    sipas = table[table["level"] == "sipas"].set_index("agency_code")
    dossiers = frame.groupby("agency_code")["dossiers"].sum()
    for code, n in df.groupby("agency_code").size().items():
        assert sipas.at[code, "responses"] == n and sipas.at[code, "dossiers"] == dossiers[code]


def test_without_a_frame_there_are_no_coverage_columns(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    res = _run(str(export), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "coverage" not in pd.read_csv(out).columns
