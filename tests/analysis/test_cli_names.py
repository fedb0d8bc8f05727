"""``sipas analyze``: unit names next to the codes and a total for every grouping (issue 14 §2)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import analyze

BASE = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"
CLUSTER = ["--strata", "agency_code", "--psu", "counter_code", "--lonely-psu", "certainty"]
LABELS = {c: str for c in ("agency_code", "field_code", "agency_parent_code", "period")}


def _run(*args: str):
    return CliRunner().invoke(analyze, list(args))


def _table(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype=LABELS)


def _parent(code: str) -> str:
    return "TINH" if code < "A15" else "HUYEN"


@pytest.fixture
def named(tmp_path: Path) -> Path:
    """The reference export with the name columns that ``sipas export responses`` writes."""
    df = pd.read_csv(BASE, dtype=str, keep_default_na=False)
    df["agency_name"] = "Sở " + df["agency_code"]
    df["agency_parent_code"] = df["agency_code"].map(_parent)
    df["agency_parent_name"] = df["agency_parent_code"].map({"TINH": "Tỉnh", "HUYEN": "Huyện"})
    df["field_name"] = "Lĩnh vực " + df["field_code"]
    df["counter_name"] = ""
    path = tmp_path / "named.csv"
    df.to_csv(path, index=False)
    return path


def test_one_grouping_has_names_and_ends_with_the_total(named: Path):
    t = _table(_run(str(named), "--form", "sipas-2017", "--by", "agency_code", *CLUSTER,
                    "--out", "-"))  # fmt: skip
    assert list(t.columns[:5]) == [
        "agency_code", "agency_name", "agency_parent_code", "agency_parent_name", "level"
    ]  # fmt: skip
    units = t[t["agency_code"] != "(all)"]
    assert (units["agency_name"] == "Sở " + units["agency_code"]).all()
    assert (units["agency_parent_code"] == units["agency_code"].map(_parent)).all()
    parent_names = units["agency_parent_code"].map({"TINH": "Tỉnh", "HUYEN": "Huyện"})
    assert (units["agency_parent_name"] == parent_names).all()
    total = t.iloc[-28:]
    assert (total["agency_code"] == "(all)").all() and total["agency_name"].isna().all()
    assert len(units) == 30 * 28
    # the total is the whole selection estimated from the same count table, not a sum of rows
    whole = _table(_run(str(named), "--form", "sipas-2017", *CLUSTER, "--out", "-"))
    results = list(whole.columns)
    pd.testing.assert_frame_equal(
        total[results].reset_index(drop=True),
        whole,
        check_exact=False,
        rtol=1e-12,
        check_dtype=False,
    )
    sipas = units[units["level"] == "sipas"]
    assert total["n"].iloc[-1] == sipas["n"].sum()
    assert not np.isclose(total["estimate"].iloc[-1], sipas["estimate"].mean())


def test_several_groupings_each_end_with_the_total(named: Path):
    res = _run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--by",
               "field_code,period:quarter", *CLUSTER, "--out", "-")  # fmt: skip
    t = _table(res)
    assert list(t.columns[:8]) == [
        "grouping", "agency_code", "agency_name", "agency_parent_code", "agency_parent_name",
        "field_code", "field_name", "period",
    ]  # fmt: skip
    for grouping, columns in (("agency_code", ["agency_code"]),
                              ("field_code,period", ["field_code", "period"])):  # fmt: skip
        block = t[t["grouping"] == grouping]
        total = block.iloc[-28:]
        assert (total[columns] == "(all)").all().all()
        assert (block.iloc[:-28][columns] != "(all)").all().all()
        others = [c for c in ("agency_code", "field_code", "period") if c not in columns]
        assert total[others].isna().all().all()
    fields = t[(t["grouping"] == "field_code,period") & (t["field_code"] != "(all)")]
    assert (fields["field_name"] == "Lĩnh vực " + fields["field_code"]).all()
    assert fields["agency_name"].isna().all()
    a, b = (t[t["grouping"] == g].iloc[-28:] for g in ("agency_code", "field_code,period"))
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)
    assert f"{len(t)} rows written" in res.stderr


def test_no_total(named: Path):
    t = _table(_run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--no-total",
                    "--out", "-"))  # fmt: skip
    assert len(t) == 30 * 28 and "(all)" not in set(t["agency_code"])


def test_xlsx_has_names_totals_rounded_formats_and_notes(named: Path, tmp_path: Path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    res = _run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--by", "field_code",
               "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    workbook = load_workbook(out)
    sheet = workbook["indices"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["grouping", "agency_code", "agency_name"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    code, name, estimate = (header.index(c) for c in ("agency_code", "agency_name", "estimate"))
    assert {r[name] for r in rows if r[code] == "A07"} == {"Sở A07"}
    totals = [i for i, r in enumerate(rows, start=2) if r[code] == "(all)"]
    assert len(totals) == 28
    cell = sheet.cell(row=totals[0], column=estimate + 1)
    assert (
        isinstance(cell.value, float) and cell.number_format == "0.000"
    )  # full value, shown rounded
    assert sheet.cell(row=totals[0], column=header.index("se") + 1).number_format == "0.0000"
    notes = dict(workbook["Notes"].iter_rows(min_row=2, values_only=True))
    workbook.close()
    assert notes["unit names"] == "from the export's name columns"
    assert "not summed" in notes["totals"]


def test_a_code_with_two_names_takes_the_newest(named: Path, tmp_path: Path):
    df = pd.read_csv(named, dtype=str, keep_default_na=False)
    a07 = df.index[df["agency_code"] == "A07"]
    newest = df.loc[a07, "submitted_at"].idxmax()
    df.loc[a07, "agency_name"] = "Sở cũ"
    df.loc[newest, "agency_name"] = "Sở mới"
    df.to_csv(named, index=False)
    out = tmp_path / "r.xlsx"
    res = _run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "A07: agency_name differs within the export" in res.stderr
    assert "kept 'Sở mới', that of its newest response" in res.stderr
    table = pd.read_excel(out, sheet_name="indices", dtype=str)
    assert set(table.loc[table["agency_code"] == "A07", "agency_name"]) == {"Sở mới"}
    notes = pd.read_excel(out, sheet_name="Notes", header=None, dtype=str)
    assert notes[1].str.contains("kept 'Sở mới'", regex=False).any()


def test_older_exports_without_names_and_the_names_file(tmp_path: Path):
    plain = _table(_run(str(BASE), "--form", "sipas-2017", "--by", "agency_code", "--out", "-"))
    assert list(plain.columns[:2]) == ["agency_code", "level"]
    names = tmp_path / "names.csv"
    pd.DataFrame(
        {"code": ["A01", "A02", "F01", "TINH"], "name": ["Sở Một", "Sở Hai", "Hộ tịch", "Tỉnh"],
         "parent_code": ["TINH", "TINH", "", ""]}
    ).to_csv(names, index=False)  # fmt: skip
    args = [str(BASE), "--form", "sipas-2017", "--by", "agency_code", "--by", "field_code"]
    t = _table(_run(*args, "--names", str(names), "--out", "-"))
    assert "agency_name" in t.columns and "field_name" in t.columns
    first = t[t["agency_code"] == "A01"]
    assert set(first["agency_name"]) == {"Sở Một"}
    assert set(first["agency_parent_name"]) == {"Tỉnh"}
    assert t.loc[t["agency_code"] == "A03", "agency_name"].isna().all()  # not in the file
    assert set(t.loc[t["field_code"] == "F01", "field_name"]) == {"Hộ tịch"}
    pd.DataFrame({"code": ["A01", "A01"], "name": ["x", "y"]}).to_csv(names, index=False)
    res = _run(*args, "--names", str(names), "--out", "-")
    assert res.exit_code == 2 and "codes listed twice" in res.output
    pd.DataFrame({"unit": ["A01"]}).to_csv(names, index=False)
    res = _run(*args, "--names", str(names), "--out", "-")
    assert res.exit_code == 2 and "needs columns code,name" in res.output


def test_rank_rows_carry_the_names(named: Path):
    t = _table(_run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--rank",
                    "--rank-method", "pairwise", "--out", "-"))  # fmt: skip
    assert list(t.columns[:3]) == ["agency_code", "agency_name", "agency_parent_code"]
    assert len(t) == 30 and (t["agency_name"] == "Sở " + t["agency_code"]).all()


def test_help_and_notes_explain_names_totals_and_every_flag(named: Path, tmp_path: Path):
    from analysis.intervals import ci_notes
    from analysis.output import TOTALS_NOTE
    from analysis.reliability import explanations
    from analysis.spreadsheets import neutralize

    help_text = " ".join(_run("--help").output.split())
    for text in ("--names", "--no-total", "agency_parent_code", "(all)", "grouping"):
        assert text in help_text, text
    out = tmp_path / "r.xlsx"
    res = _run(str(named), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out))
    assert res.exit_code == 0, res.output
    notes = pd.read_excel(out, sheet_name="Notes", dtype=str, keep_default_na=False)
    notes = dict(zip(notes.iloc[:, 0], notes.iloc[:, 1], strict=True))
    assert notes["totals"] == TOTALS_NOTE
    for column, meanings in (explanations() | {"ci_note": ci_notes()}).items():
        for text, meaning in meanings.items():
            assert notes[f"{column}: {text}"] == neutralize(meaning)  # "--ci ..." gets a '
