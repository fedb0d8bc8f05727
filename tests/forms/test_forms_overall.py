"""The optional overall-satisfaction item (``[overall]``, item kind ``overall``)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from forms import (
    FormDefinitionError,
    form_from_dict,
    load_form,
    load_form_file,
    validate_form_data,
    validate_form_file,
)

DATA = Path(__file__).parent / "data"
OVERALL = DATA / "overall.v1.toml"


@pytest.fixture
def data() -> dict:
    return tomllib.loads(OVERALL.read_text(encoding="utf-8"))


def _problems(data: dict) -> dict[str, str]:
    return {p.location: p.message for p in validate_form_data(data)}


def test_the_overall_item_is_read_and_round_trips():
    form = load_form_file(OVERALL)
    item = form.overall_item
    assert item is not None and (item.key, item.kind, item.factor) == ("overall", "overall", None)
    assert item.text.en == "Overall, how satisfied are you?"
    assert item.choices == form.scale.choices  # the rating scale, not applicable included
    assert form.item_keys == ("a_1", "a_2", "b_1", "b_2", "c_1", "overall", "x1", "sex")
    assert "overall" not in form.rating_keys
    assert form.item("overall") is item
    assert form.validate_answers({"overall": "5", "a_1": 4}) == {"overall": 5, "a_1": 4}
    rebuilt = form_from_dict(form.to_dict())
    assert rebuilt == form and rebuilt.overall_item == item


def test_forms_without_it_keep_their_definition_and_hash():
    for form_id in ("sipas-counter", "sipas-2017"):
        form = load_form(form_id)
        assert form.overall_item is None and "overall" not in form.to_dict()
    plain = load_form_file(DATA / "minimal.v1.toml")
    assert load_form_file(OVERALL).content_hash != plain.content_hash


def test_two_overall_items_are_refused(data, tmp_path):
    two = copy.deepcopy(data)
    two["overall"] = [data["overall"], {**data["overall"], "key": "overall_2"}]
    assert "at most one" in _problems(two)["overall"]
    text = OVERALL.read_text(encoding="utf-8").replace("[overall]", "[[overall]]")
    again = '[[overall]]\nkey = "again"\ntext = { vi = "Lần nữa", en = "Again" }\n\n'
    text = text.replace("[expectation_scale]", again + "[expectation_scale]")
    path = tmp_path / "overall.v1.toml"
    path.write_text(text, encoding="utf-8")
    problems = {p.location: p.message for p in validate_form_file(path)}
    assert problems == {
        "overall": "2 overall-satisfaction items: a form has at most one, written as one "
        "[overall] table"
    }
    with pytest.raises(FormDefinitionError, match="at most one"):
        load_form_file(path)


@pytest.mark.parametrize(
    ("change", "location", "message"),
    [
        ({"key": "a_1"}, "items.a_1", "duplicate key"),
        ({"key": "flags"}, "overall.key", "reserved"),
        ({"key": "agency_name"}, "overall.key", "reserved"),
        ({"text": {"vi": "Chung"}}, "overall.text.en", "missing English text"),
        ({"label": {"vi": "x", "en": "x"}}, "overall.label", "unknown"),
    ],
)
def test_a_broken_overall_item_is_reported(data, change, location, message):
    data["overall"] = {**data["overall"], **change}
    problems = _problems(data)
    assert location in problems, problems
    assert message in problems[location]


def test_it_takes_no_index_weight(data):
    data["aggregation"]["item_weights"]["overall"] = 2
    assert "unknown rating item" in _problems(data)["aggregation.item_weights.overall"]
