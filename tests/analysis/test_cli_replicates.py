"""``sipas analyze --variance``: replicate-weight SEs from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner
from openpyxl import load_workbook

from analysis.cli import analyze

DATA = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"
DESIGN = ("--weight", "weight", "--strata", "agency_code", "--psu", "counter_code")


def _run(*args: str):
    return CliRunner().invoke(analyze, [str(DATA), "--form", "sipas-2017", *args])


def _csv(tmp_path: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "out.csv"
    result = _run(*DESIGN, "--lonely-psu", "certainty", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, encoding="utf-8-sig")


def test_jkn_and_bootstrap_change_the_ses_not_the_estimates(tmp_path):
    lin = _csv(tmp_path)
    jkn = _csv(tmp_path, "--variance", "jkn")
    boot = _csv(tmp_path, "--variance", "bootstrap", "--replicates", "30", "--seed", "3")
    again = _csv(tmp_path, "--variance", "bootstrap", "--replicates", "30", "--seed", "3")
    np.testing.assert_allclose(jkn["estimate"], lin["estimate"], rtol=1e-12)
    np.testing.assert_allclose(boot["estimate"], lin["estimate"], rtol=1e-12)
    assert not np.allclose(jkn["se"], lin["se"])
    assert (boot["df"] <= 29).all()  # a bootstrap's df is at most replicates - 1
    pd.testing.assert_frame_equal(boot, again)


def test_replicate_weights_file_and_notes(tmp_path):
    weights = pd.DataFrame({"psu": ["A01-C1"], "rep_1": [1.0], "rep_2": [0.0]})
    path = tmp_path / "reps.csv"
    weights.to_csv(path, index=False)
    result = _run(
        *DESIGN, "--variance", "bootstrap", "--replicate-weights", str(path), "--out", "-"
    )
    assert result.exit_code != 0
    assert "no row for PSU" in result.output
    out = tmp_path / "out.xlsx"
    result = _run(*DESIGN, "--lonely-psu", "certainty", "--variance", "jkn", "--out", str(out))
    assert result.exit_code == 0, result.output
    notes = {row[0]: row[1] for row in load_workbook(out)["Notes"].iter_rows(values_only=True)}
    assert notes["variance"].startswith("replicate weights: jkn, 156 replicates")


def test_refusals_are_clear(tmp_path):
    result = _run(*DESIGN, "--variance", "brr", "--out", "-")
    assert result.exit_code != 0
    assert "exactly 2 PSUs in every stratum" in result.output
    frame = str(DATA.parent / "frame.csv")
    result = _run(*DESIGN, "--frame", frame, "--variance", "jkn", "--out", "-")
    assert result.exit_code != 0
    assert "not available with --frame" in result.output
    result = _run("--replicate-mse", "--out", "-")
    assert result.exit_code != 0
    assert "need --variance" in result.output
