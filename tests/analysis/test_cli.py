"""``sipas analyze`` (analysis.cli.analyze) on small exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import analyze


def _run(*args: str):
    return CliRunner().invoke(analyze, list(args))


def test_analyze_writes_long_table(export: Path, tmp_path: Path):
    out = tmp_path / "result.csv"
    res = _run(
        str(export), "--form", "sipas-2017", "--by", "agency_code,period:quarter",
        "--weight", "weight", "--strata", "agency_code", "--psu", "counter_code",
        "--ci", "beta", "--index-version", "B", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns[:3]) == ["agency_code", "period", "level"]
    groups = table[["agency_code", "period"]].drop_duplicates()
    assert len(table) == len(groups) * (22 + 5 + 1)
    total = table[table["agency_code"] == "(all)"]
    assert len(total) == 28 and (total["period"] == "(all)").all()
    assert table.index[-28:].equals(total.index)  # the grouping ends with its total
    assert set(table["period"].str[-2:]) <= {"Q1", "Q2", "Q3", "Q4", "l)"}
    assert (table["version"] == "B").all()
    assert "index version B" in res.output


def test_analyze_with_frame_poststratifies(export: Path, tmp_path: Path):
    df = pd.read_csv(export)
    frame = (
        df.groupby(["agency_code", "field_code"]).size().mul(37).rename("dossiers").reset_index()
    )
    frame_path = tmp_path / "frame.csv"
    frame.to_csv(frame_path, index=False)
    out = tmp_path / "r.csv"
    res = _run(str(export), "--form", "sipas-2017", "--frame", str(frame_path), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out)["se"].gt(0).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "region"], "unknown column 'region'"),
        (["--by", "period:week"], "period:month"),
        (["--weight", "nope"], "unknown column 'nope'"),
        (["--level", "95"], "between 0 and 1"),
    ],
)
def test_usage_errors(export: Path, tmp_path: Path, args, message):
    args = [a.replace("{export}", str(export)) for a in args]
    res = _run(str(export), "--form", "sipas-2017", *args, "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2
    assert message in res.output


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("e1_2", "x", "non-numeric"),
        ("e1_2", "9", "outside its codes"),
        ("weight", "-3", "positive"),
    ],
)
def test_data_errors_are_reported(export: Path, tmp_path: Path, column, value, message):
    df = pd.read_csv(export, dtype=str)
    df.loc[5, column] = value
    df.to_csv(export, index=False)
    res = _run(
        str(export), "--form", "sipas-2017", "--weight", "weight", "--out", str(tmp_path / "o.csv")
    )
    assert res.exit_code == 1
    assert message in res.output


def test_other_forms_in_export_are_rejected(export: Path, tmp_path: Path):
    df = pd.read_csv(export, dtype=str)
    df.loc[0, "form_id"] = "sipas-counter"
    df.to_csv(export, index=False)
    res = _run(str(export), "--form", "sipas-2017", "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and "other forms" in res.output


def test_unknown_form(export: Path, tmp_path: Path):
    res = _run(str(export), "--form", "no-such-form", "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and "--form" in res.output


@pytest.mark.parametrize(("value", "message"), [("yesterday", "ISO 8601"), ("", "blank")])
def test_bad_timestamps_for_periods(export: Path, tmp_path: Path, value, message):
    df = pd.read_csv(export, dtype=str)
    df.loc[2, "submitted_at"] = value
    df.to_csv(export, index=False)
    res = _run(
        str(export),
        "--form",
        "sipas-2017",
        "--by",
        "period:month",
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert res.exit_code == 2 and message in res.output


def test_several_groupings_in_one_run(export: Path, tmp_path: Path):
    out = tmp_path / "both.csv"
    common = ["--form", "sipas-2017", "--weight", "weight", "--strata", "agency_code"]
    common += ["--psu", "counter_code"]
    res = _run(str(export), *common, "--by", "agency_code", "--by", "field_code,period:quarter",
               "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    labels = {"agency_code": str, "field_code": str, "period": str}
    table = pd.read_csv(out, dtype=labels)
    assert list(table.columns[:5]) == ["grouping", "agency_code", "field_code", "period", "level"]
    assert set(table["grouping"]) == {"agency_code", "field_code,period"}
    agency = table[table["grouping"] == "agency_code"]
    assert agency["field_code"].isna().all() and agency["period"].isna().all()
    single = tmp_path / "agency.csv"
    res = _run(str(export), *common, "--by", "agency_code", "--out", str(single))
    assert res.exit_code == 0, res.output
    alone = pd.read_csv(single, dtype=labels)
    together = agency.drop(columns=["grouping", "field_code", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, alone, check_exact=False, rtol=1e-10, check_dtype=False)


def test_two_period_granularities_are_refused(export: Path, tmp_path: Path):
    res = _run(str(export), "--form", "sipas-2017", "--by", "period:month", "--by",
               "period:year", "--out", str(tmp_path / "o.csv"))  # fmt: skip
    assert res.exit_code == 2 and "one period granularity" in res.output


def test_csv_with_bom_quoted_newlines_and_leading_zeros(export: Path, tmp_path: Path):
    """The pyarrow reader must cope with the export's free text across its 1 MB blocks."""
    df = pd.read_csv(export, dtype=str)
    df["agency_code"] = df["agency_code"].str.replace("A", "00", regex=False)
    long_text = 'Phải đi lại "nhiều" lần,\nchờ lâu\r\n' * 400  # ~16 kB per comment
    df["comment"] = [long_text if i % 2 else "" for i in range(len(df))]
    tricky = tmp_path / "tricky.csv"
    df.to_csv(tricky, index=False, encoding="utf-8-sig")
    assert tricky.stat().st_size > 2_000_000
    outs = []
    for path in (export, tricky):
        out = tmp_path / f"{path.stem}.out.csv"
        res = _run(str(path), "--form", "sipas-2017", "--weight", "weight", "--by",
                   "agency_code", "--out", str(out))  # fmt: skip
        assert res.exit_code == 0, res.output
        outs.append(pd.read_csv(out, dtype={"agency_code": str}))
    plain, odd = outs
    assert set(odd["agency_code"]) == {a.replace("A", "00") for a in plain["agency_code"]}
    np.testing.assert_allclose(odd["estimate"], plain["estimate"], rtol=1e-12)
    np.testing.assert_allclose(odd["se"], plain["se"], rtol=1e-12)


PAYLOADS = ['=HYPERLINK("http://x","y")', "  =2+2", "\t=3+3", "\r\n=4+4", "+1", "-1+2", "@SUM(A1)"]


@pytest.fixture
def injected_export(export: Path, tmp_path: Path) -> Path:
    """The export with its agency codes replaced by formula payloads."""
    df = pd.read_csv(export, dtype=str, keep_default_na=False)
    codes = sorted(df["agency_code"].unique())
    df["agency_code"] = df["agency_code"].map(
        {code: PAYLOADS[i % len(PAYLOADS)] for i, code in enumerate(codes)}
    )
    path = tmp_path / "injected.csv"
    df.to_csv(path, index=False)
    return path


def test_analyze_csv_output_neutralizes_formulas(injected_export: Path, tmp_path: Path):
    out = tmp_path / "out.csv"
    res = _run(
        str(injected_export), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out)
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM for Excel
    import csv

    with out.open(encoding="utf-8-sig", newline="") as handle:
        labels = {row["agency_code"] for row in csv.DictReader(handle)} - {"(all)"}
    # the reader strips stray spaces around text values, as it always has
    assert labels <= {"'" + p.strip() for p in PAYLOADS} | {"'" + p for p in PAYLOADS}
    assert all(label.startswith("'") for label in labels) and len(labels) >= 3


def test_analyze_xlsx_output(injected_export: Path, tmp_path: Path):
    import zipfile

    from openpyxl import load_workbook

    out = tmp_path / "out.xlsx"
    res = _run(
        str(injected_export), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out)
    )
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["indices", "Notes"]
    sheet = workbook["indices"]
    header = [c.value for c in sheet[1]]
    labels = {
        row[header.index("agency_code")] for row in sheet.iter_rows(min_row=2, values_only=True)
    } - {"(all)"}
    assert all(label.startswith("'") for label in labels)
    estimate = sheet.cell(row=2, column=header.index("estimate") + 1)
    assert isinstance(estimate.value, float) and estimate.number_format == "0.000"
    notes = dict(workbook["Notes"].iter_rows(min_row=2, values_only=True))
    assert notes["form"] == "sipas-2017"
    workbook.close()
