"""`Form.content_hash` and `Form.to_dict`: stable, canonical, sensitive to content."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from pathlib import Path

import pytest

from forms import form_from_dict, load_form, load_form_file

DATA = Path(__file__).parent / "data"
MINIMAL = DATA / "minimal.v1.toml"


def test_hash_is_sha256_of_the_canonical_json():
    form = load_form("sipas-counter")
    canonical = json.dumps(
        form.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    assert form.content_hash == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert len(form.content_hash) == 64


def test_hash_is_stable_across_loads_and_round_trips():
    first = load_form_file(MINIMAL)
    second = load_form_file(MINIMAL)
    assert first is not second
    assert first.content_hash == second.content_hash
    rebuilt = form_from_dict(json.loads(json.dumps(first.to_dict())))
    assert rebuilt.content_hash == first.content_hash
    assert rebuilt == first
    assert rebuilt.item_keys == first.item_keys


def test_layout_and_comments_do_not_change_the_hash(tmp_path):
    text = MINIMAL.read_text("utf-8")
    edited = tmp_path / "minimal.v1.toml"
    edited.write_text("# a new comment\n\n" + text.replace("version = 1", "version   =   1  # v1"))
    assert load_form_file(edited).content_hash == load_form_file(MINIMAL).content_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"Câu B1"', '"Câu B1 đã sửa"'),  # Vietnamese item text
        ('"Item A1"', '"Item A1 edited"'),  # English item text
        ("item_weights = { a_1 = 2 }", "item_weights = { a_1 = 3 }"),
        ('{ code = 2, vi = "Nữ", en = "Female" }', '{ code = 3, vi = "Nữ", en = "Female" }'),
        ("max_length = 50", "max_length = 60"),
    ],
)
def test_any_content_change_changes_the_hash(tmp_path, old, new):
    text = MINIMAL.read_text("utf-8")
    assert old in text
    edited = tmp_path / "minimal.v1.toml"
    edited.write_text(text.replace(old, new, 1), "utf-8")
    changed = load_form_file(edited)
    assert changed.content_hash != load_form_file(MINIMAL).content_hash
    assert changed != load_form_file(MINIMAL)


def test_defaults_are_written_out_by_to_dict():
    data = load_form("sipas-2017").to_dict()
    assert data["aggregation"]["top_level"] == "factors"
    assert len(data["aggregation"]["item_weights"]) == 22
    assert data["comment"] == {
        "key": "comment",
        "text": {"vi": "Ý kiến khác của Anh/Chị (nếu có)", "en": "Any other comments (optional)"},
        "max_length": 2000,
    }
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_form_pickles_and_deep_copies_to_an_equal_form():
    form = load_form("sipas-counter")
    for copied in (pickle.loads(pickle.dumps(form)), copy.deepcopy(form)):
        assert copied == form
        assert copied.content_hash == form.content_hash
        assert copied.aggregation.item_weights == form.aggregation.item_weights
        assert copied.item_keys == form.item_keys
