"""The schema check reports every problem of a broken definition, with its location."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from forms import (
    DEFINITIONS_DIR,
    FormDefinitionError,
    Problem,
    form_from_dict,
    load_form_file,
    validate_form_data,
    validate_form_file,
)

DATA = Path(__file__).parent / "data"


def locations(path: Path) -> dict[str, str]:
    return {p.location: p.message for p in validate_form_file(path)}


def test_minimal_fixture_is_valid_and_reads_weights():
    form = load_form_file(DATA / "minimal.v1.toml")
    assert [a.factor_keys for a in form.aspects] == [("a",), ("b", "c")]
    assert dict(form.aggregation.item_weights) == {
        "a_1": 2.0,
        "a_2": 1.0,
        "b_1": 1.0,
        "b_2": 1.0,
        "c_1": 1.0,
    }
    assert dict(form.aggregation.factor_weights) == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert dict(form.aggregation.aspect_weights) == {"policy": 1.0, "services": 1.0}
    assert form.comment is not None and form.comment.key == "comment"
    assert form.comment.max_length == 50
    with pytest.raises(TypeError):
        form.aggregation.item_weights["a_1"] = 3.0  # read-only


def test_syntax_error_is_one_problem_with_line_and_column():
    problems = validate_form_file(DATA / "syntax_error.toml")
    assert len(problems) == 1
    assert problems[0].location == "3:36"
    assert problems[0].message.startswith("TOML syntax error:")


def test_missing_file_is_one_problem(tmp_path):
    problems = validate_form_file(tmp_path / "absent.toml")
    assert [p.location for p in problems] == [""]
    assert "cannot read file" in problems[0].message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('id = "phiếu"'.encode("cp1258", errors="replace") + b"\xff")
    assert "UTF-8" in validate_form_file(path)[0].message


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        (
            "missing_english.toml",
            {
                "title.en": "missing English text",
                "thanks.vi": "empty Vietnamese text",
                "scale.points[2].en": "missing English text",
                "factors[1].items[1].text.en": "missing English text",
                "factors[1].items[1].text.fr": "unknown key",
                "profile[0].choices[1].en": "missing English text",
            },
        ),
        (
            "duplicate_keys.toml",
            {
                "items.e3_1": "duplicate key (at factors[0].items[0].key and factors[1].items[0]",
                "items.e3": "key already used by a factor",
                "factors.e4": "duplicate key",
                "items.sex": "duplicate key (at profile[0].key and profile[1].key)",
            },
        ),
        (
            "unknown_references.toml",
            {
                "factors[1].aspect": "unknown aspect 'servises'",
                "factors[2].aspect": "missing",
                "aspects[1]": "aspect 'policy' has no factors",
                "aggregation.top_level": "'overall' is not 'factors' or 'aspects'",
                "aggregation.item_weights.zz_9": "unknown rating item",
                "aggregation.item_weights.e2_1": "weight must be a positive number",
                "aggregation.factor_weights.e9": "unknown factor",
                "aggregation.factor_weights.e2": "expected a number, got a string",
                "aggregation.aspect_weights.nowhere": "unknown aspect",
            },
        ),
        (
            "bad_types_and_codes.toml",
            {
                "titel": "unknown key",
                "title": "missing",
                "id": "not a valid form id",
                "version": "expected an integer, got a string",
                "intro": "expected a table, got a string",
                "scale.points": "codes must be 1, 2, 3, 4, 5 in this order, got [1, 2, 3, 5]",
                "scale.not_applicable.code": "9 is out of range (must be 0)",
                "scale.satisfied_threshold": "expected an integer, got a float",
                "factors[0].items[0].key": "'E1-1' is not a valid key",
                "factors[0].items[1].key": "'channel' is reserved",
                "factors[0].items[2].weight": "unknown key",
                "factors[1].items": "factor has no items",
                "expectation_scale.high_threshold": "3 is not one of the choice codes [1, 2]",
                "profile[0].choices[1].code": "duplicate code 1",
                "profile[0].choices[2].code": "-2 is out of range (must be at least 1)",
                "profile[0].choices[3].code": "expected an integer, got a string",
                "comment.max_length": "0 is out of range",
            },
        ),
        (
            "expectations_without_scale.toml",
            {
                "scale.dissatisfied_max": "must be below satisfied_threshold (3 >= 2)",
                "aspects": "empty array",
                "expectation_scale": "missing (the form has expectation items)",
            },
        ),
    ],
)
def test_broken_fixture_reports_every_problem(file_name, expected):
    found = locations(DATA / file_name)
    assert set(found) == set(expected), found
    for location, message in expected.items():
        assert message in found[location], (location, found[location])


def test_load_form_file_raises_with_all_problems():
    with pytest.raises(FormDefinitionError) as info:
        load_form_file(DATA / "unknown_references.toml")
    assert len(info.value.problems) == 9
    assert all(isinstance(p, Problem) for p in info.value.problems)
    assert "aggregation.factor_weights.e9: unknown factor" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.fixture(scope="module")
def counter_data():
    return tomllib.loads((DEFINITIONS_DIR / "sipas-counter.v1.toml").read_text("utf-8"))


def test_rating_items_outside_factors_are_refused(counter_data):
    data = copy.deepcopy(counter_data)
    data["items"] = [{"key": "e9_1", "text": {"vi": "Câu", "en": "Item"}}]
    (problem,) = validate_form_data(data)
    assert problem.location == "items"
    assert "inside their factor" in problem.message


def test_aspects_top_level_needs_aspects(counter_data):
    data = copy.deepcopy(counter_data)
    del data["aspects"]
    for factor in data["factors"]:
        del factor["aspect"]
    assert [str(p) for p in validate_form_data(data)] == [
        "aggregation.top_level: 'aspects' but the form defines no aspects"
    ]
    data["aggregation"]["top_level"] = "factors"
    assert validate_form_data(data) == []


def node_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from node_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from node_paths(value, (*prefix, index))


@pytest.mark.parametrize("replacement", [3.5, "x", [], {}, True, -1, [1], "<delete>"])
def test_any_broken_node_gives_problems_never_a_crash(counter_data, replacement):
    """Replace each node of a shipped definition in turn: report problems, never raise."""
    checked = 0
    for path in node_paths(counter_data):
        if not path:
            continue
        data = copy.deepcopy(counter_data)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        original = parent[path[-1]]
        if replacement == "<delete>":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(replacement)
        problems = validate_form_data(data)
        if replacement != "<delete>" and type(replacement) is not type(original):
            assert problems, (path, replacement)
        if not problems:  # still valid (an optional part removed, e.g.): it must build
            form_from_dict(data)
        checked += 1
    assert checked > 300


def test_file_name_must_agree_with_id_and_version(tmp_path):
    copied = tmp_path / "minimal.v2.toml"  # copied to make version 2, version not bumped
    copied.write_text((DATA / "minimal.v1.toml").read_text("utf-8"), "utf-8")
    assert [str(p) for p in validate_form_file(copied)] == [
        "version: the file name says 2 but the definition says 1"
    ]
    with pytest.raises(FormDefinitionError, match="file name says 2"):
        load_form_file(copied)
    renamed = tmp_path / "other.v1.toml"
    renamed.write_text((DATA / "minimal.v1.toml").read_text("utf-8"), "utf-8")
    assert [p.location for p in validate_form_file(renamed)] == ["id"]
    draft = tmp_path / "draft.toml"  # not the shipped pattern: not checked
    draft.write_text((DATA / "minimal.v1.toml").read_text("utf-8"), "utf-8")
    assert validate_form_file(draft) == []
