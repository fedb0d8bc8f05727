"""`Form.validate_answers` and `Form.validate_comment`."""

from __future__ import annotations

import pytest

from forms import InvalidAnswers, load_form


@pytest.fixture(scope="module")
def form():
    return load_form("sipas-counter")


def problems_of(form, answers):
    with pytest.raises(InvalidAnswers) as info:
        form.validate_answers(answers)
    return [(p.item_key, p.code) for p in info.value.problems]


def test_clean_answers_come_back_as_ints(form):
    answers = {"sex": "2", "e1_2": 0, "e1_1": " 5 ", "x3": 3, "age_band": 1}
    assert form.validate_answers(answers) == {
        "e1_1": 5,
        "e1_2": 0,
        "x3": 3,
        "sex": 2,
        "age_band": 1,
    }
    assert list(form.validate_answers(answers)) == ["sex", "e1_2", "e1_1", "x3", "age_band"]


def test_valid_int_answers_take_the_set_check_and_come_back_equal(form):
    answers = {"e1_1": 5, "e1_2": 0, "x3": 3, "sex": 2}
    clean = form.validate_answers(answers)
    assert clean == answers and clean is not answers
    # Values equal to a valid code but not an int never pass as one: True == 1, 4.0 == 4.
    assert problems_of(form, {"e1_1": True, "e1_2": 4}) == [("e1_1", "not_an_integer")]
    assert problems_of(form, {"e1_1": 4.0}) == [("e1_1", "not_an_integer")]
    # Unhashable values get their problem, not a TypeError from the set check.
    assert problems_of(form, {"e1_1": [4], "sex": {"a": 1}}) == [
        ("e1_1", "not_an_integer"),
        ("sex", "not_an_integer"),
    ]


def test_skipped_answers_are_left_out(form):
    assert form.validate_answers({"e1_1": None, "e1_2": "", "e1_3": "  ", "sex": 1}) == {"sex": 1}
    assert form.validate_answers({}) == {}


def test_comment_key_is_ignored(form):
    assert form.validate_answers({"comment": "Tốt", "e2_1": 4}) == {"e2_1": 4}


def test_every_item_accepts_its_full_code_range(form):
    for item in form.rating_items:
        for code in range(6):
            assert form.validate_answers({item.key: code}) == {item.key: code}
    for item in (*form.expectation_items, *form.profile_items):
        for choice in item.choices:
            assert form.validate_answers({item.key: str(choice.code)}) == {item.key: choice.code}


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("e1_1", 6, "out_of_range"),
        ("e1_1", -1, "out_of_range"),
        ("e1_1", "9", "out_of_range"),
        ("x1", 0, "out_of_range"),  # no "not applicable" on the expectation scale
        ("x1", 4, "out_of_range"),
        ("sex", 3, "out_of_range"),
        ("occupation", 0, "out_of_range"),
        ("e1_1", "4.0", "not_an_integer"),
        ("e1_1", 4.0, "not_an_integer"),
        ("e1_1", "bốn", "not_an_integer"),
        ("e1_1", True, "not_an_integer"),
        ("e1_1", [4], "not_an_integer"),
        ("q99", 4, "unknown_item"),
    ],
)
def test_refused_answer(form, key, value, code):
    assert problems_of(form, {key: value}) == [(key, code)]


def test_all_problems_are_reported_at_once(form):
    answers = {"e1_1": 4, "e1_2": 7, "name": "Nguyễn Văn A", "sex": "x", "x2": 2, "e5_3": 0}
    problems = problems_of(form, answers)
    assert problems == [
        ("e1_2", "out_of_range"),
        ("name", "unknown_item"),
        ("sex", "not_an_integer"),
    ]


def test_problem_detail_names_the_valid_codes(form):
    with pytest.raises(InvalidAnswers) as info:
        form.validate_answers({"sex": 5})
    assert "1, 2" in info.value.problems[0].detail
    assert isinstance(info.value, ValueError)


def test_comment_is_stripped_and_normalised(form):
    decomposed = "Cán bo\u0323\u0302 nhiệt tình"  # "ộ" typed as o + dot below + circumflex
    assert form.validate_comment(f"  {decomposed}\r\nCảm ơn\t!  ") == "Cán bộ nhiệt tình\nCảm ơn\t!"
    assert form.validate_comment("   ") is None
    assert form.validate_comment(None) is None


def comment_problems(form, text):
    with pytest.raises(InvalidAnswers) as info:
        form.validate_comment(text)
    return [(p.item_key, p.code) for p in info.value.problems]


def test_comment_refusals(form):
    assert comment_problems(form, "a" * 2001) == [("comment", "too_long")]
    assert form.validate_comment("a" * 2000) == "a" * 2000
    assert comment_problems(form, "xin\x00chào") == [("comment", "invalid_character")]
    assert comment_problems(form, "bell\x07") == [("comment", "invalid_character")]
    assert comment_problems(form, 42) == [("comment", "not_text")]
    both = comment_problems(form, "\x1b" + "a" * 2001)
    assert both == [("comment", "too_long"), ("comment", "invalid_character")]
