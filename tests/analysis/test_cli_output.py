"""``sipas analyze``: standard output, refused formats, explained flags, --weight with --frame,
--rank and --par (issue 14 §2)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.intervals import ci_notes
from analysis.reliability import explanations

REFERENCE = Path(__file__).parents[1] / "reference"
DOCS = Path(__file__).parents[2] / "docs" / "analysis.md"
CLUSTER = ["--strata", "agency_code", "--psu", "counter_code", "--lonely-psu", "certainty"]


def _responses(dataset: str) -> str:
    return str(REFERENCE / "data" / dataset / "responses.csv")


def _run(*args: str):
    return CliRunner().invoke(analyze, list(args))


def _table(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"agency_code": str})


def test_out_dash_writes_csv_to_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = _run(_responses("base"), "--form", "sipas-2017", "--by", "agency_code", "--out", "-")
    table = _table(res)
    assert len(table) == 31 * 28 and table.columns[0] == "agency_code"  # 30 agencies, total
    assert "868 rows written to standard output" in res.stderr
    assert "written" not in res.stdout
    assert not (tmp_path / "-").exists()
    res = _run(_responses("base"), "--form", "sipas-2017", "--out", str(tmp_path / "r.csv"))
    assert res.exit_code == 0 and (tmp_path / "r.csv").exists()
    assert "28 rows written to" in res.stdout


@pytest.mark.parametrize("name", ["result.parquet", "result.XLS", "r.json"])
def test_formats_that_are_not_written_are_refused(tmp_path, name):
    out = tmp_path / name
    res = _run(_responses("base"), "--form", "sipas-2017", "--out", str(out))
    assert res.exit_code == 2
    assert "output is not available" in res.output
    assert not out.exists()


def test_xlsx_notes_explain_the_run_and_every_flag(tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "ranks.xlsx"
    frame = str(REFERENCE / "data" / "base" / "frame.csv")
    res = _run(_responses("base"), "--form", "sipas-2017", "--by", "agency_code", "--weight",
               "base_weight", "--frame", frame, *CLUSTER, "--ci", "beta", "--rank", "--par",
               "example-linear", "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    workbook = load_workbook(out)
    sheet = workbook["indices"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["agency_code", "level", "indicator"] and "rank_low" in header
    assert sheet.max_row == 31
    p_best = sheet.cell(row=2, column=header.index("p_best") + 1)
    assert p_best.number_format == "0.000"
    notes = dict(workbook["Notes"].iter_rows(min_row=2, values_only=True))
    workbook.close()
    assert notes["design"].startswith("strata=agency_code, PSU=counter_code")
    assert notes["weighting"].startswith("base weights from column base_weight, poststratify")
    assert notes["confidence interval"] == "beta at 95%"
    assert "NCHS" in notes["reliability rule"]
    explained = {key.split(": ", 1)[1] for key in notes if ": " in key}
    assert {"df<8", "complement", "effective sample size < 30"} <= explained
    assert set(ci_notes()) <= explained


@cache
def _emitted() -> dict[str, set[str]]:
    """Every reason, flag and note the engine writes on the sparse and base data."""
    seen: dict[str, set[str]] = {"suppression_reason": set(), "flags": set(), "ci_note": set()}
    for dataset in ("sparse", "base"):
        for ci in ("beta", "logit", "wilson"):
            res = _run(_responses(dataset), "--form", "sipas-2017", "--weight", "weight",
                       "--by", "agency_code", "--by", "field_code", *CLUSTER, "--ci", ci,
                       "--out", "-")  # fmt: skip
            t = _table(res)
            seen["suppression_reason"] |= set(t["suppression_reason"].dropna())
            seen["ci_note"] |= set(t["ci_note"].dropna())
            seen["flags"] |= {f for v in t["flags"].dropna() for f in v.split(";")}
    return seen


def test_every_flag_reason_and_note_is_explained_in_help_and_docs():
    seen = _emitted()
    assert len(seen["suppression_reason"]) >= 4
    assert seen["flags"] == {"df<8", "complement"}
    assert len(seen["ci_note"]) == 4
    known = explanations() | {"ci_note": ci_notes()}
    help_text = " ".join(_run("--help").output.split())
    docs = DOCS.read_text(encoding="utf-8")
    for column, texts in seen.items():
        assert texts <= set(known[column]), f"{column}: unexplained {texts - set(known[column])}"
    for meanings in known.values():
        for text, meaning in meanings.items():
            assert text in help_text, text
            assert " ".join(meaning.split()) in help_text, meaning
            assert f"`{text}`" in docs, f"docs/analysis.md does not explain {text!r}"


@cache
def _r_rows(design: str) -> pd.DataFrame:
    ref = pd.read_csv(
        REFERENCE / "out" / "base" / "criteria.csv.gz",
        dtype={"domain": str, "note": str, "error": str, "via": str},
    )
    keep = (ref["design"] == design) & (ref["method"] == "wald_z") & ref["error"].isna()
    keep &= ref["domain_type"].isin(["overall", "agency"])
    return ref[keep & (ref["lonely"].fillna("certainty") == "certainty")]


@pytest.mark.parametrize(
    ("r_design", "extra"),
    [
        ("srs_poststrat", []),
        ("poststrat", CLUSTER),
        ("cal_raking", [*CLUSTER, "--frame-method", "rake"]),
    ],
)
def test_weight_with_frame_calibrates_the_base_weights_as_r(r_design, extra):
    """R: postStratify / calibrate(calfun="raking") of svydesign(weights=~base_weight)."""
    frame = str(REFERENCE / "data" / "base" / "frame.csv")
    args = [_responses("base"), "--form", "sipas-2017", "--weight", "base_weight",
            "--frame", frame, *extra, "--out", "-"]  # fmt: skip
    ref = _r_rows(r_design)
    assert len(ref) == 22 * 31
    for by, domain_type in (([], "overall"), (["--by", "agency_code"], "agency")):
        t = _table(_run(*args, *by))
        crit = t[t["level"] == "criterion"]
        key = crit["agency_code"] if by else pd.Series("ALL", index=crit.index)
        mine = crit.set_index([key.to_numpy(), crit["indicator"].to_numpy()])
        part = ref[ref["domain_type"] == domain_type]
        got = mine.loc[list(zip(part["domain"], part["item"], strict=True))]
        np.testing.assert_allclose(got["estimate"] / 100, part["est"], rtol=1e-8)
        np.testing.assert_allclose(got["se"] / 100, part["se"], rtol=1e-8, atol=1e-12)


def test_weight_with_frame_equals_hand_post_stratification():
    """w = w0 N_g / sum_g w0 computed here, then the same estimate as the CLI's."""
    df = pd.read_csv(_responses("base"), dtype={"agency_code": str, "field_code": str})
    frame = pd.read_csv(REFERENCE / "data" / "base" / "frame.csv")
    cells = ["agency_code", "field_code"]
    df = df.merge(frame, on=cells)
    w = df["base_weight"] * df["dossiers"] / df.groupby(cells)["base_weight"].transform("sum")
    valid = df["e2_3"].between(1, 5)
    share = 100 * (w * (df["e2_3"] >= 4))[valid].sum() / w[valid].sum()
    base = (
        100 * (df["base_weight"] * (df["e2_3"] >= 4))[valid].sum() / df["base_weight"][valid].sum()
    )
    frame = str(REFERENCE / "data" / "base" / "frame.csv")
    args = ["--weight", "base_weight", "--frame", frame, "--out", "-"]
    t = _table(_run(_responses("base"), "--form", "sipas-2017", *args))
    got = t.set_index("indicator").loc["e2_3", "estimate"]
    assert got == pytest.approx(share, rel=1e-12)
    assert abs(got - base) > 1e-3  # the frame really moved it


@pytest.mark.parametrize("method", ["pairwise", "monte_carlo"])
def test_rank_gives_one_row_per_unit_with_rank_intervals(method):
    args = [_responses("base"), "--form", "sipas-2017", "--by", "agency_code", *CLUSTER,
            "--weight", "weight", "--rank", "--rank-method", method, "--out", "-"]  # fmt: skip
    res = _run(*args)
    t = _table(res)
    assert "30 units written to standard output" in res.stderr
    assert len(t) == 30 and t["agency_code"].is_unique
    assert (t["indicator"] == "SIPAS").all()
    expected = 1 + (t["estimate"].to_numpy()[None, :] > t["estimate"].to_numpy()[:, None]).sum(1)
    np.testing.assert_array_equal(t["rank"], expected)
    assert (t["rank_low"] <= t["rank"]).all() and (t["rank"] <= t["rank_high"]).all()
    assert (t["of"] == 30).all()
    assert (t["rank_high"] - t["rank_low"]).max() > 2  # 30 agencies of ~100: overlapping
    if method == "monte_carlo":
        assert t["p_best"].sum() == pytest.approx(1.0)
        again = _table(_run(*args))
        pd.testing.assert_frame_equal(t, again)
    else:
        assert "p_best" not in t.columns


def test_rank_of_a_factor_and_par_points():
    args = [_responses("base"), "--form", "sipas-2017", "--by", "agency_code", "--out", "-"]
    linear = _table(_run(*args, "--par", "example-linear"))
    assert "rank" not in linear.columns
    np.testing.assert_allclose(linear["par_points"], 10 * linear["estimate"] / 100, rtol=1e-12)
    np.testing.assert_allclose(linear["points_SIPAS"], linear["par_points"], rtol=1e-12)
    assert (linear["par_rule"] == "example-linear").all()
    per_factor = _table(_run(*args, "--par", "example-per-factor", "--rank", "--indicator", "e1"))
    components = [c for c in per_factor.columns if c.startswith("points_")]
    assert len(components) > 1
    np.testing.assert_allclose(per_factor[components].sum(axis=1), per_factor["par_points"])
    assert (per_factor["indicator"] == "e1").all() and per_factor["rank"].notna().all()
    full = _table(_run(*args))
    e1 = full[full["indicator"] == "e1"].set_index("agency_code")["estimate"]
    np.testing.assert_allclose(
        per_factor.set_index("agency_code")["estimate"], e1.loc[per_factor["agency_code"]]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rank"], "exactly one --by"),
        (["--rank", "--by", "agency_code,field_code"], "exactly one --by"),
        (["--par", "example-linear", "--by", "agency_code", "--by", "field_code"], "one --by"),
        (["--par", "no-such-rule", "--by", "agency_code"], "--par no-such-rule"),
        (["--rank", "--by", "agency_code", "--indicator", "nope"], "no 'nope' rows"),
        (["--frame-method", "rake"], "--frame-method needs --frame"),
    ],
)
def test_rank_and_par_usage_errors(args, message):
    res = _run(_responses("base"), "--form", "sipas-2017", *args, "--out", "-")
    assert res.exit_code != 0
    assert message in res.output
