"""The write path: validation through the form, unit resolution, idempotency, single-use tokens,
quality flags, and nothing partially written on any error (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import FormVersion, Response
from survey.repository import (
    ConflictingResubmission,
    InvalidAnswers,
    TokenAlreadyUsed,
    UnknownAgency,
    UnknownCounter,
    UnknownField,
    UnknownForm,
    UnknownProcedure,
    WrongFormVersion,
    save_response,
)
from survey.submissions import Submission
from tests.survey.stored import stored_answer_count
from tests.survey.submitted import NOW, counter_submission

ANSWERS = {"e1_1": 5, "e1_2": 4, "e2_1": 0, "e3_1": "3", "x1": 2, "sex": 1}


def _submission(**overrides: object) -> Submission:
    return counter_submission(ANSWERS, **overrides)


def _counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Response)),
        stored_answer_count(),
    )


@pytest.fixture
def units(make_agency, make_field, make_counter, make_procedure):
    agency = make_agency("STP", name_vi="Sở Tư pháp")
    field = make_field("HT", name_vi="Hộ tịch")
    other_field = make_field("LLTP", name_vi="Lý lịch tư pháp")
    make_counter("Q1", agency=agency, field=field)
    make_counter("Q2", agency=agency)
    make_counter("OLD", agency=agency, active=False)
    make_procedure("1.001", field=other_field)
    return agency


def test_save_stores_response_and_answers(app, units):
    with app.app_context():
        sub = _submission(comment="  Cán bộ nhiệt tình  ")
        result = save_response(sub, now=NOW)
        assert result.created and result.response_uuid == sub.uuid and result.flags == ()
        stored = repository.get_response(sub.uuid)
        assert stored is not None
        assert stored.answers == {"e1_1": 5, "e1_2": 4, "e2_1": 0, "e3_1": 3, "x1": 2, "sex": 1}
        assert (stored.agency_code, stored.counter_code, stored.field_code) == ("STP", "Q1", "HT")
        assert stored.comment == "Cán bộ nhiệt tình"
        assert stored.submitted_at == NOW
        assert stored.form_content_hash == repository.load_form("sipas-counter", 1).content_hash
        assert _counts() == (1, 6)


def test_field_defaults_to_procedure_then_counter(app, units):
    with app.app_context():
        a = _submission(procedure_code="1.001")
        b = _submission(counter_code="Q2")
        c = _submission(counter_code="Q2", field_code="HT")
        for sub in (a, b, c):
            save_response(sub, now=NOW)
        assert repository.get_response(a.uuid).field_code == "LLTP"
        assert repository.get_response(b.uuid).field_code is None
        assert repository.get_response(c.uuid).field_code == "HT"


def test_identical_resubmit_is_stored_once(app, units):
    with app.app_context():
        sub = _submission()
        first = save_response(sub, now=NOW)
        again = save_response(sub, now=NOW + timedelta(seconds=5))
        assert first.created and not again.created
        assert again.flags == first.flags
        assert _counts() == (1, 6)


def test_same_uuid_different_content_is_refused(app, units):
    with app.app_context():
        sub = _submission()
        save_response(sub, now=NOW)
        changed = _submission(uuid=sub.uuid, answers={**ANSWERS, "e1_1": 1})
        with pytest.raises(ConflictingResubmission) as info:
            save_response(changed, now=NOW)
        assert info.value.http_status == 409
        assert repository.get_response(sub.uuid).answers["e1_1"] == 5
        assert _counts() == (1, 6)


def test_token_is_single_use(app, units):
    with app.app_context():
        first = _submission(token_id="tok-1", agency_code="STP", counter_code=None)
        save_response(first, now=NOW)
        second = _submission(token_id="tok-1", agency_code="STP", counter_code=None)
        with pytest.raises(TokenAlreadyUsed) as info:
            save_response(second, now=NOW)
        assert info.value.http_status == 409
        assert _counts() == (1, 6)
        # The same response sent again with its token is a duplicate, not a reuse.
        assert save_response(first, now=NOW).created is False


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"form_id": "no-such-form"}, UnknownForm),
        ({"form_version": 99}, WrongFormVersion),
        ({"answers": {"e1_1": 9}}, InvalidAnswers),
        ({"answers": {"nope": 1}}, InvalidAnswers),
        ({"answers": {"e1_1": "abc"}}, InvalidAnswers),
        ({"comment": "bad\x00text"}, InvalidAnswers),
        ({"counter_code": "NOPE"}, UnknownCounter),
        ({"counter_code": "OLD"}, UnknownCounter),
        ({"counter_code": None}, UnknownAgency),
        ({"counter_code": None, "agency_code": "NOPE"}, UnknownAgency),
        ({"agency_code": "OTHER"}, UnknownCounter),
        ({"field_code": "NOPE"}, UnknownField),
        ({"procedure_code": "NOPE"}, UnknownProcedure),
    ],
)
def test_bad_submissions_write_nothing(app, units, make_agency, overrides, error):
    make_agency("OTHER")
    with app.app_context():
        before = _counts()
        with pytest.raises(error) as info:
            save_response(_submission(**overrides), now=NOW)
        assert info.value.code == error.code and info.value.http_status == 422
        assert _counts() == before == (0, 0)


def test_invalid_answers_lists_every_problem(app, units):
    with app.app_context():
        with pytest.raises(InvalidAnswers) as info:
            save_response(_submission(answers={"e1_1": 7, "zz": 1, "sex": "x"}), now=NOW)
    problems = {(p["item_key"], p["code"]) for p in info.value.problems}
    assert problems == {("e1_1", "out_of_range"), ("zz", "unknown_item"), ("sex", "not_an_integer")}


def test_quality_flags_are_stored(app, units):
    rating = {f"e{f}_{i}": 5 for f, i in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]}
    with app.app_context():
        sub = _submission(answers=rating, started_at=NOW - timedelta(seconds=4), honeypot="x")
        result = save_response(sub, now=NOW)
        assert result.flags == ("too_fast", "straightlining", "honeypot")
        assert repository.get_response(sub.uuid).flags == result.flags
        assert db.session.scalar(select(Response.flags)) == "too_fast;straightlining;honeypot"


def test_form_version_recorded_once(app, units):
    with app.app_context():
        for _ in range(3):
            save_response(_submission(), now=NOW)
        rows = db.session.execute(select(FormVersion.form_id, FormVersion.version)).all()
        assert rows == [("sipas-counter", 1)]


def test_empty_answers_are_allowed(app, units):
    with app.app_context():
        sub = _submission(answers={})
        assert save_response(sub, now=NOW).created
        assert repository.get_response(sub.uuid).answers == {}


def test_concurrent_identical_resubmits_store_one_row(app, units):
    sub = _submission()
    outcomes: list[object] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(save_response(sub, now=NOW).created)
            except Exception as exc:  # recorded and asserted below
                outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [False] * 5 + [True]
    with app.app_context():
        assert _counts() == (1, 6)
