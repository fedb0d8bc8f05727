"""The shipped form definitions load, validate clean and have the documented structure."""

from __future__ import annotations

import re
import unicodedata

import pytest

from forms import (
    DEFINITIONS_DIR,
    Form,
    FormNotFound,
    Text,
    list_forms,
    load_form,
    validate_form_file,
)
from forms.validate import RESERVED_KEYS

SHIPPED = sorted(DEFINITIONS_DIR.glob("*.toml"))
VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]"
)


def all_texts(form: Form) -> list[tuple[str, Text]]:
    """Every bilingual text of a form, with a name saying where it is."""
    texts = [("title", form.title), ("intro", form.intro), ("thanks", form.thanks)]
    if form.scale.prompt is not None:
        texts.append(("scale.prompt", form.scale.prompt))
    texts += [(f"scale.{c.code}", c.label) for c in form.scale.choices]
    texts += [(f"aspect {a.key}", a.label) for a in form.aspects]
    texts += [(f"factor {f.key}", f.label) for f in form.factors]
    items = [*form.rating_items, *form.expectation_items, *form.profile_items]
    if form.comment is not None:
        items.append(form.comment)
    for item in items:
        texts.append((f"item {item.key}", item.text))
        texts += [(f"item {item.key} choice {c.code}", c.label) for c in item.choices]
    if form.expectation_scale is not None and form.expectation_scale.prompt is not None:
        texts.append(("expectation_scale.prompt", form.expectation_scale.prompt))
    return texts


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_file_validates_clean(path):
    assert validate_form_file(path) == []


def test_two_forms_are_shipped_with_matching_file_names():
    summaries = list_forms()
    assert [(s.id, s.version) for s in summaries] == [("sipas-2017", 1), ("sipas-counter", 1)]
    for s in summaries:
        assert s.path.name == f"{s.id}.v{s.version}.toml"


@pytest.mark.parametrize(
    ("form_id", "n_items", "per_factor"),
    [("sipas-counter", 19, [4, 4, 5, 3, 3]), ("sipas-2017", 22, [4, 5, 6, 3, 4])],
)
def test_rating_items_and_factors(form_id, n_items, per_factor):
    form = load_form(form_id)
    assert len(form.rating_items) == n_items
    assert [f.key for f in form.factors] == ["e1", "e2", "e3", "e4", "e5"]
    assert [len(f.item_keys) for f in form.factors] == per_factor
    # Keys follow the criterion IDs: e<factor>_<n>, numbered from 1 within each factor.
    for number, factor in enumerate(form.factors, start=1):
        expected = tuple(f"e{number}_{j}" for j in range(1, len(factor.item_keys) + 1))
        assert factor.item_keys == expected
        for key in factor.item_keys:
            assert form.item(key).factor == factor.key
            assert form.item(key).kind == "rating"


def test_counter_form_has_one_aspect_holding_all_factors():
    form = load_form("sipas-counter")
    assert [a.key for a in form.aspects] == ["admin_services"]
    assert form.aspects[0].factor_keys == tuple(f.key for f in form.factors)
    assert form.aggregation.top_level == "aspects"


def test_2017_form_aggregates_over_factors():
    form = load_form("sipas-2017")
    assert form.aspects == ()
    assert form.aggregation.top_level == "factors"
    assert set(form.aggregation.factor_weights.values()) == {1.0}
    assert list(form.aggregation.item_weights) == [i.key for i in form.rating_items]


@pytest.mark.parametrize("form_id", ["sipas-counter", "sipas-2017"])
def test_scale_expectations_profile_and_comment(form_id):
    form = load_form(form_id)
    scale = form.scale
    assert [p.code for p in scale.points] == [1, 2, 3, 4, 5]
    assert [p.label.vi for p in scale.points] == [
        "Rất không hài lòng",
        "Không hài lòng",
        "Bình thường",
        "Hài lòng",
        "Rất hài lòng",
    ]
    assert (scale.not_applicable.code, scale.not_applicable.label.vi) == (0, "Không áp dụng")
    assert scale.not_applicable.label.en == "Not applicable"
    assert (scale.satisfied_threshold, scale.dissatisfied_max) == (4, 2)
    assert form.expectation_scale is not None
    assert [c.label.vi for c in form.expectation_scale.choices] == ["Ít", "Nhiều", "Rất nhiều"]
    assert len(form.expectation_items) >= 5
    assert [i.key for i in form.profile_items] == [
        "sex",
        "age_band",
        "ethnicity",
        "education",
        "occupation",
    ]
    assert form.comment is not None and form.comment.key == "comment"
    assert form.item_keys == tuple(
        i.key for i in (*form.rating_items, *form.expectation_items, *form.profile_items)
    )


@pytest.mark.parametrize("form_id", ["sipas-counter", "sipas-2017"])
def test_no_identifying_profile_fields(form_id):
    keys = " ".join(load_form(form_id).item_keys)
    for word in ("name", "phone", "mail", "address", "ten", "dien_thoai"):
        assert word not in keys


@pytest.mark.parametrize("form_id", ["sipas-counter", "sipas-2017"])
def test_every_text_has_vietnamese_and_english(form_id):
    form = load_form(form_id)
    texts = all_texts(form)
    assert len(texts) > 60
    for where, text in texts:
        assert text.vi.strip() and text.en.strip(), where
        assert unicodedata.normalize("NFC", text.vi) == text.vi, where
        assert text.vi != text.en or where.endswith("choice 1") and text.vi == "Kinh", where
    # The Vietnamese is written with its diacritics, not as plain ASCII.
    for item in form.rating_items:
        assert VIETNAMESE_LETTERS.search(item.text.vi.lower()), item.key
        assert item.text.en.isascii(), item.key


@pytest.mark.parametrize("form_id", ["sipas-counter", "sipas-2017"])
def test_keys_are_unique_and_not_reserved(form_id):
    form = load_form(form_id)
    keys = [*form.item_keys, *(f.key for f in form.factors), *(a.key for a in form.aspects)]
    assert len(keys) == len(set(keys))
    assert RESERVED_KEYS.isdisjoint(form.item_keys)


def test_load_form_newest_and_explicit_version():
    assert load_form("sipas-counter") is load_form("sipas-counter", 1)
    with pytest.raises(FormNotFound, match="version 7"):
        load_form("sipas-counter", 7)
    with pytest.raises(FormNotFound, match="nope"):
        load_form("nope")


def test_item_lookup():
    form = load_form("sipas-counter")
    assert form.item("sex").kind == "profile"
    assert form.item("comment").kind == "comment"
    assert form.item("e3_1").codes == frozenset(range(6))
    assert form.item("x1").codes == frozenset({1, 2, 3})
    with pytest.raises(KeyError, match="zz"):
        form.item("zz")
