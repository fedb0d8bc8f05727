"""``sipas analyze-db``: the same result table as ``sipas analyze`` on the export, on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survey.extensions import db
from survey.statistics.cli import parse_by, parse_groupings
from tests.survey import test_statistics as base
from tests.survey.test_statistics import N_RESPONSES, assert_same_tables

seeded = base.seeded  # the same fixture: demo province, synthetic responses, some flagged

DESIGN = ["--strata", "agency_code", "--psu", "counter_code", "--lonely-psu", "adjust"]


def export_file(runner, tmp_path: Path) -> Path:
    path = tmp_path / "responses.csv"
    result = runner.invoke(["export", "responses", "--form", "sipas-counter", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("version", ["A", "B"])
def test_one_grouping_matches_analyze_on_the_export(runner, seeded, tmp_path, version) -> None:
    options = ["--form", "sipas-counter", "--by", "field_code", "--index-version", version]
    options += ["--ci", "beta", *DESIGN]
    out_db, out_export = tmp_path / "db.csv", tmp_path / "export.csv"
    result = runner.invoke(["analyze-db", *options, "--out", str(out_db)])
    assert result.exit_code == 0, result.output
    assert f"{N_RESPONSES} response(s) analysed, 0 excluded" in result.output
    assert f"index version {version}" in result.output
    path = export_file(runner, tmp_path)
    reference = runner.invoke(["analyze", str(path), *options, "--out", str(out_export)])
    assert reference.exit_code == 0, reference.output
    got, want = pd.read_csv(out_db), pd.read_csv(out_export)
    assert list(got.columns) == list(want.columns)
    assert len(got) > 0
    assert_same_tables(got, want, ["field_code"])


def test_several_groupings_stack_like_analyze(app, runner, seeded, tmp_path) -> None:
    options = ["--form", "sipas-counter", "--by", "agency_code", "--by", "period:month", *DESIGN]
    out_db, out_export = tmp_path / "db.csv", tmp_path / "export.csv"
    result = runner.invoke(["analyze-db", *options, "--out", str(out_db)])
    assert result.exit_code == 0, result.output
    assert "2 grouping(s)" in result.output
    reference = runner.invoke(
        ["analyze", str(export_file(runner, tmp_path)), *options, "--out", str(out_export)]
    )
    assert reference.exit_code == 0, reference.output
    got, want = pd.read_csv(out_db), pd.read_csv(out_export)
    assert list(got.columns) == list(want.columns)
    assert set(got["grouping"]) == {"agency_code", "period"}
    assert list(got.columns[1:5]) == [
        "agency_code", "agency_name", "agency_parent_code", "agency_parent_name"
    ]  # fmt: skip
    with app.app_context():
        from survey.repository import list_agencies

        catalogue = {
            a.code: (a.name_vi, a.parent.code if a.parent else None) for a in list_agencies()
        }
    units = got[got["agency_code"].notna() & (got["agency_code"] != "(all)")]
    assert len(units) > 0
    for code, name, parent in units[
        ["agency_code", "agency_name", "agency_parent_code"]
    ].itertuples(index=False):
        assert (name, None if pd.isna(parent) else parent) == catalogue[code]
    assert (got.groupby("grouping").tail(1)[["agency_code", "period"]] == "(all)").sum().sum() == 2
    for grouping in ("agency_code", "period"):
        assert_same_tables(
            got[got["grouping"] == grouping].drop(columns="grouping"),
            want[want["grouping"] == grouping].drop(columns="grouping"),
            ["agency_code", "period"],
        )


def test_selection_options_and_flag_report(runner, seeded, tmp_path) -> None:
    flagged = int(seeded["flags"].str.contains("honeypot").sum())
    out = tmp_path / "db.csv"
    result = runner.invoke(
        [
            "analyze-db",
            "--form",
            "sipas-counter@1",
            "--by",
            "agency_code",
            "--agency",
            "STNMT",
            "--since",
            "2024-01-01",
            "--exclude-flag",
            "honeypot",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    inside = seeded["agency_code"].isin(["STNMT", "VPDKDD"])
    in_subtree = seeded[inside & (seeded["submitted_at"] >= "2024-01-01")]
    excluded = int(in_subtree["flags"].str.contains("honeypot").sum())
    assert 0 < excluded < flagged
    assert (
        f"{len(in_subtree) - excluded} response(s) analysed, {excluded} excluded "
        "(flags honeypot" in result.output
    )
    table = pd.read_csv(out)
    assert set(table["agency_code"]) == set(in_subtree["agency_code"]) | {"(all)"}
    whole = table[(table["level"] == "sipas") & (table["agency_code"] == "(all)")]
    assert whole["n"].iloc[0] == len(in_subtree) - excluded  # the total: the whole selection
    sipas = table[(table["level"] == "sipas") & (table["agency_code"] == "STNMT")]
    assert sipas["n"].iloc[0] <= (in_subtree["agency_code"] == "STNMT").sum()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "nope"], "unknown column 'nope'"),
        (["--by", "period:week"], "period:month"),
        (["--by", "period:month", "--by", "period:year"], "one period granularity"),
        (["--level", "1.5"], "--level must be between 0 and 1"),
        (["--agency", "NOPE"], "no agency has the code 'NOPE'"),
        (["--form", "no-such-form"], "no-such-form"),
    ],
)
def test_usage_errors(runner, seeded, tmp_path, args, message) -> None:
    base = ["analyze-db", "--form", "sipas-counter", "--out", str(tmp_path / "x.csv")]
    result = runner.invoke([*base, *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "x.csv").exists()


def test_empty_selection_is_an_error(runner, app, tmp_path) -> None:
    with app.app_context():
        assert db.session.connection() is not None
    result = runner.invoke(
        ["analyze-db", "--form", "sipas-counter", "--out", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 1
    assert "no stored response of form 'sipas-counter' matches" in result.output


def test_parse_by() -> None:
    assert parse_by("agency_code, period:quarter") == (["agency_code", "period"], "quarter")
    assert parse_by(None) == ([], None)
    assert parse_groupings(()) == ([[]], None)
    assert parse_groupings(("field_code", "period:half")) == ([["field_code"], ["period"]], "half")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_output_neutralizes_formulas(app, runner, seeded, tmp_path, suffix) -> None:
    """A unit code that reads as a formula is written with an apostrophe, CSV and XLSX."""
    from sqlalchemy import update

    from survey.models import Agency

    with app.app_context():
        db.session.execute(
            update(Agency).where(Agency.code == "STNMT").values(code='=HYPERLINK("http://x")')
        )
        db.session.commit()
    out = tmp_path / f"out{suffix}"
    result = runner.invoke(
        ["analyze-db", "--form", "sipas-counter", "--by", "agency_code", *DESIGN, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        table = pd.read_csv(out, dtype={"agency_code": str})
    else:
        table = pd.read_excel(out, sheet_name="indices", dtype={"agency_code": str})
    codes = set(table["agency_code"])
    assert '\'=HYPERLINK("http://x")' in codes
    assert not any(str(code).startswith("=") for code in codes)


def test_no_weights_gives_finite_deff_and_shows_the_whole_province(runner, seeded, tmp_path):
    """The database has no weights: with-replacement deff, NCHS n* (issue 14 §1)."""
    out = tmp_path / "db.csv"
    result = runner.invoke(["analyze-db", "--form", "sipas-counter", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    inner = table[(table["estimate"] > 0) & (table["estimate"] < 100)]
    assert len(inner) > 0.9 * len(table)
    assert np.isfinite(inner["deff"]).all() and (inner["deff"] > 0).all()
    indices = table[table["level"] != "criterion"]
    assert (indices["n"] >= 200).all()
    assert (indices["n_eff"] >= 30).all()
    assert not indices["suppressed"].any(), indices["suppression_reason"].tolist()
    wor = tmp_path / "wor.csv"
    args = ["analyze-db", "--form", "sipas-counter", "--deff", "without_replacement"]
    result = runner.invoke([*args, "--out", str(wor)])
    assert result.exit_code == 0, result.output
    r_like = pd.read_csv(wor)
    assert not np.isfinite(r_like.loc[inner.index, "deff"]).any()  # R: Inf
    np.testing.assert_allclose(r_like["n_eff"], table["n_eff"], rtol=1e-12)


def test_out_dash_is_standard_output_and_parquet_is_refused(runner, seeded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(["analyze-db", "--form", "sipas-counter", "--out", "-"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns[:2]) == ["level", "indicator"] and len(table) > 20
    assert "rows written to standard output" in result.stderr
    assert not (tmp_path / "-").exists()
    refused = runner.invoke(["analyze-db", "--form", "sipas-counter", "--out", "r.parquet"])
    assert refused.exit_code == 2 and "output is not available" in refused.output
    assert not (tmp_path / "r.parquet").exists()
