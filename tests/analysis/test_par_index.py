"""PAR Index scoring rules: types, validation with locations, shipped examples."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.par_index import (
    RuleError,
    ScoringError,
    example_rules,
    load_rule,
    parse_rule,
    score_components,
    score_par,
)


def rule_data(*components: dict[str, Any], max_points: float | None = None) -> dict[str, Any]:
    comps = list(components) or [{"indicator": "SIPAS", "max_points": 10.0, "type": "linear"}]
    return {
        "id": "test-rule",
        "par_version": "test",
        "official": False,
        "title": {"vi": "Thử", "en": "Test"},
        "max_points": max_points if max_points is not None else sum(c["max_points"] for c in comps),
        "rules": comps,
    }


def sipas(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"unit": list(values), "indicator": "SIPAS", "estimate": list(values.values())}
    )


BANDS = [
    {"min": 0, "max": 50, "points": 0},
    {"min": 50, "max": 70, "points": 4},
    {"min": 70, "max": 90, "points": 7},
    {"min": 90, "max": 100, "points": 10},
]


def test_shipped_rules_are_examples_not_official() -> None:
    ids = example_rules()
    assert set(ids) >= {
        "example-linear",
        "example-ratio-to-best",
        "example-min-max",
        "example-thresholds",
        "example-per-factor",
    }
    folder = resources.files("analysis") / "rules"
    for rule_id in ids:
        rule = load_rule(rule_id)
        assert rule.id == rule_id and rule_id.startswith("example-")
        assert rule.official is False
        text = (folder / f"{rule_id}.toml").read_text(encoding="utf-8")
        assert "1150/QĐ-BNV" in text and "876/QĐ-BNV" in text and "not public" in text


def test_linear_example() -> None:
    out = score_par(sipas({"P1": 84.5, "P2": 100.0, "P3": 0.0}), load_rule("example-linear"))
    np.testing.assert_allclose(out["points"], [8.45, 10.0, 0.0])
    assert out["max_points"].tolist() == [10.0] * 3
    assert out["rule_id"].tolist() == ["example-linear"] * 3
    assert out.loc[0, "detail"] == "SIPAS 84.5 -> 8.45/10 (linear)"


def test_ratio_to_best_and_ties() -> None:
    rule = load_rule("example-ratio-to-best")
    out = score_par(sipas({"A": 90.0, "B": 80.0, "C": 72.0, "D": 80.0}), rule)
    np.testing.assert_allclose(out["points"], [10.0, 80 / 9, 8.0, 80 / 9])


def test_min_max_and_all_equal() -> None:
    rule = load_rule("example-min-max")
    out = score_par(sipas({"A": 90.0, "B": 80.0, "C": 70.0}), rule)
    np.testing.assert_allclose(out["points"], [10.0, 5.0, 0.0])
    same = sipas({"A": 80.0, "B": 80.0})
    np.testing.assert_allclose(score_par(same, rule)["points"], [10.0, 10.0])
    zero_rule = parse_rule(
        rule_data({"indicator": "SIPAS", "max_points": 5.0, "type": "min_max", "all_equal": "zero"})
    )
    np.testing.assert_allclose(score_par(same, zero_rule)["points"], [0.0, 0.0])


def test_thresholds_band_edges() -> None:
    rule = parse_rule(
        rule_data({"indicator": "SIPAS", "max_points": 10.0, "type": "thresholds", "bands": BANDS})
    )
    values = {"a": 0.0, "b": 49.99, "c": 50.0, "d": 89.999, "e": 90.0, "f": 100.0}
    out = score_par(sipas(values), rule)
    assert out["points"].tolist() == [0, 0, 4, 7, 10, 10]
    gappy = copy.deepcopy(BANDS)
    gappy[1]["min"] = 55  # 50..55 is in no band
    rule = parse_rule(
        rule_data({"indicator": "SIPAS", "max_points": 10.0, "type": "thresholds", "bands": gappy})
    )
    with pytest.raises(ScoringError, match="no threshold band"):
        score_par(sipas({"a": 52.0}), rule)


def test_shipped_thresholds_example() -> None:
    out = score_par(sipas({"a": 85.0, "b": 59.9, "c": 100.0}), load_rule("example-thresholds"))
    assert out["points"].tolist() == [8, 2, 10]


def test_per_factor_example_sums_components() -> None:
    rows = []
    estimates = {
        "P1": {"e1": 90, "e2": 80, "e3": 70, "e4": 60, "e5": 50},
        "P2": {"e1": 80, "e2": 80, "e3": 80, "e4": 80, "e5": 70},
        "P3": {"e1": 100, "e2": 0, "e3": 50, "e4": 40},  # no e5: missing = "zero"
    }
    for unit, values in estimates.items():
        rows += [{"unit": unit, "indicator": k, "estimate": v} for k, v in values.items()]
    rows.append({"unit": "P1", "indicator": "SIPAS", "estimate": 70.0})  # ignored
    table = pd.DataFrame(rows)
    out = score_par(table, load_rule("example-per-factor"))
    # linear e1-e3: 2*S/100; e4 ratio to best (80); e5 min-max over P1, P2 (50..70)
    p1 = 2 * (0.9 + 0.8 + 0.7) + 2 * 60 / 80 + 0.0
    p2 = 2 * (0.8 + 0.8 + 0.8) + 2.0 + 2.0
    p3 = 2 * (1.0 + 0.0 + 0.5) + 2 * 40 / 80 + 0.0
    np.testing.assert_allclose(out["points"], [p1, p2, p3])
    assert "e5 missing (0 points)" in out.loc[2, "detail"]
    long = score_components(table, load_rule("example-per-factor"))
    assert len(long) == 15
    assert long.loc[long["unit"] == "P3", "status"].tolist()[-1] == "missing (0 points)"


def test_missing_values_policies() -> None:
    table = pd.concat(
        [sipas({"A": 80.0}), pd.DataFrame([{"unit": "B", "indicator": "e1", "estimate": 1}])]
    )
    with pytest.raises(ScoringError, match=r"no 'SIPAS' estimate for unit\(s\) \['B'\]"):
        score_par(table, load_rule("example-linear"))
    nan_rule = parse_rule(
        rule_data({"indicator": "SIPAS", "max_points": 10.0, "type": "linear", "missing": "nan"})
    )
    out = score_par(table, nan_rule)
    assert out.loc[0, "points"] == pytest.approx(8.0)
    assert np.isnan(out.loc[1, "points"]) and out.loc[1, "detail"] == "SIPAS missing"


def test_engine_shaped_table_and_proportions() -> None:
    table = pd.DataFrame(
        {
            "agency_code": ["A01", "A01", "A02", "A02"],
            "level": ["sipas", "factor", "sipas", "factor"],
            "indicator": ["SIPAS", "e1", "SIPAS", "e1"],
            "estimate": [0.8, 0.9, 0.6, 0.7],
        }
    )
    out = score_par(
        table, load_rule("example-linear"), unit="agency_code", estimate_scale="proportion"
    )
    assert out["unit"].tolist() == ["A01", "A02"]
    np.testing.assert_allclose(out["points"], [8.0, 6.0])
    with pytest.raises(ScoringError, match="outside 0-100"):
        score_par(
            table.assign(estimate=[180.0, 1, 2, 3]), load_rule("example-linear"), unit="agency_code"
        )
    with pytest.raises(ScoringError, match="several 'SIPAS' estimates"):
        score_par(pd.concat([sipas({"A": 1.0}), sipas({"A": 2.0})]), load_rule("example-linear"))
    with pytest.raises(ScoringError, match="no 'unit' column"):
        score_par(table, load_rule("example-linear"))


def test_validation_locates_problems() -> None:
    bands = copy.deepcopy(BANDS)
    bands[1] = {"min": 70, "max": 60, "points": 4}
    data = rule_data(
        {"indicator": "e1", "max_points": 2.0, "type": "linear"},
        {"indicator": "e2", "max_points": 2.0, "type": "linear"},
        {"indicator": "SIPAS", "max_points": 10.0, "type": "thresholds", "bands": bands},
    )
    with pytest.raises(RuleError) as info:
        parse_rule(data)
    assert "rules[2].bands[1].min: must be below max" in str(info.value)
    assert [p.location for p in info.value.problems] == ["rules[2].bands[1].min"]


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        (lambda d: d["rules"][0].update(type="log"), "rules[0].type", "must be one of"),
        (lambda d: d.update(official=True), "source", "must cite"),
        (lambda d: d.pop("official"), "official", "required"),
        (lambda d: d.update(max_points=9.0), "max_points", "sum of the rules"),
        (lambda d: d["rules"].append(dict(d["rules"][0])), "rules[1].indicator", "already"),
        (lambda d: d["rules"][0].update(colour="red"), "rules[0].colour", "unknown key"),
        (lambda d: d["rules"][0].update(max_points=True), "rules[0].max_points", "a number"),
        (lambda d: d["rules"][0].update(bands=BANDS), "rules[0].bands", "only used"),
        (lambda d: d["rules"][0].update(missing="skip"), "rules[0].missing", "must be"),
        (lambda d: d.update(title={"vi": "x"}), "title.en", "required"),
        (lambda d: d.update(rules=[]), "rules", "non-empty"),
    ],
)
def test_validation_messages(change: Any, location: str, message: str) -> None:
    data = rule_data()
    change(data)
    with pytest.raises(RuleError) as info:
        parse_rule(data, source="bad.toml")
    located = {p.location: p.message for p in info.value.problems}
    assert location in located, located
    assert message in located[location]
    assert "bad.toml" in str(info.value)


def test_overlapping_bands_and_points_above_max() -> None:
    bands = [
        {"min": 0, "max": 60, "points": 0},
        {"min": 50, "max": 100, "points": 12},
    ]
    with pytest.raises(RuleError) as info:
        parse_rule(
            rule_data(
                {"indicator": "SIPAS", "max_points": 10.0, "type": "thresholds", "bands": bands}
            )
        )
    located = {p.location: p.message for p in info.value.problems}
    assert "overlaps" in located["rules[0].bands[1].min"]
    assert "max_points" in located["rules[0].bands[1].points"]


def test_load_rule_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "x"\nmax_points = \n', encoding="utf-8")
    with pytest.raises(RuleError, match="TOML syntax error"):
        load_rule(broken)
    with pytest.raises(RuleError, match="no rule 'official-2019'"):
        load_rule("official-2019")
    good = tmp_path / "mine.toml"
    good.write_text(
        'id = "mine"\npar_version = "2024"\nofficial = true\nsource = "QĐ ... Phụ lục ..."\n'
        'max_points = 10\ntitle = { vi = "Của tỉnh", en = "Ours" }\n'
        '[[rules]]\nindicator = "SIPAS"\nmax_points = 10\ntype = "linear"\n',
        encoding="utf-8",
    )
    rule = load_rule(good)
    assert rule.official and rule.source.startswith("QĐ")
