"""The ``forms`` click group: validate, show and list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forms import DEFINITIONS_DIR, load_form
from forms.cli import forms

DATA = Path(__file__).parent / "data"


@pytest.fixture
def runner():
    return CliRunner()


def test_validate_ok(runner):
    paths = [str(p) for p in sorted(DEFINITIONS_DIR.glob("*.toml"))]
    result = runner.invoke(forms, ["validate", *paths])
    assert result.exit_code == 0, result.output
    assert "OK: sipas-2017 v1" in result.output
    assert "OK: sipas-counter v1" in result.output


def test_validate_bad_prints_every_problem_and_exits_1(runner):
    good = str(DATA / "minimal.v1.toml")
    bad = str(DATA / "unknown_references.toml")
    syntax = str(DATA / "syntax_error.toml")
    result = runner.invoke(forms, ["validate", good, bad, syntax])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "OK: minimal v1 (" + good + ")"
    assert f"{bad}:aggregation.factor_weights.e9: unknown factor" in lines
    assert f"{bad}:factors[1].aspect: unknown aspect 'servises'" in lines
    assert sum(line.startswith(bad + ":") for line in lines) == 9
    assert any(line.startswith(f"{syntax}:3:36: TOML syntax error") for line in lines)


def test_validate_needs_a_file(runner):
    assert runner.invoke(forms, ["validate"]).exit_code == 2


def test_show_json(runner):
    result = runner.invoke(forms, ["show", "sipas-counter", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    form = load_form("sipas-counter")
    assert (data["id"], data["version"], data["content_hash"]) == (
        "sipas-counter",
        1,
        form.content_hash,
    )
    assert [f["key"] for f in data["factors"]] == ["e1", "e2", "e3", "e4", "e5"]
    assert data["factors"][2]["items"] == ["e3_1", "e3_2", "e3_3", "e3_4", "e3_5"]
    assert sum(len(f["items"]) for f in data["factors"]) == 19
    assert data["aspects"][0]["factors"] == ["e1", "e2", "e3", "e4", "e5"]
    assert data["expectation_items"] == [i.key for i in form.expectation_items]
    assert [p["key"] for p in data["profile_items"]][:2] == ["sex", "age_band"]
    assert data["scale"]["satisfied_threshold"] == 4
    assert data["aggregation"]["top_level"] == "aspects"
    assert data["item_keys"] == list(form.item_keys)


def test_show_text_outline_is_bilingual(runner):
    result = runner.invoke(forms, ["show", "sipas-2017", "--version", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sipas-2017 v1")
    assert "Yếu tố và tiêu chí / Factors and criteria:" in result.output
    assert "e2_5: Thời hạn giải quyết" in result.output
    assert "The civil servant communicates politely" in result.output
    assert "all weights 1 (plain means)" in result.output


def test_show_a_file_with_weights(runner):
    result = runner.invoke(forms, ["show", str(DATA / "minimal.v1.toml")])
    assert result.exit_code == 0, result.output
    assert "item weights: a_1=2" in result.output
    assert "factor weights: c=0.5" in result.output


def test_show_unknown_form_or_version(runner):
    result = runner.invoke(forms, ["show", "nope"])
    assert result.exit_code == 1
    assert "no form definition 'nope'" in result.output
    result = runner.invoke(forms, ["show", "sipas-counter", "--version", "9"])
    assert result.exit_code == 1
    assert "version 9" in result.output
    result = runner.invoke(forms, ["show", str(DATA / "duplicate_keys.toml")])
    assert result.exit_code == 1
    assert "items.e3_1: duplicate key" in result.output


def test_list(runner):
    result = runner.invoke(forms, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["sipas-2017", "v1"],
        ["sipas-counter", "v1"],
    ]
    assert "Phiếu khảo sát" in lines[0]
