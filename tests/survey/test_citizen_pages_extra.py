"""The citizen path's rough edges: a landing page at ``/``, a clear page for a counter code that
is not in use (an old poster), and an entirely empty submission."""

from __future__ import annotations

import pytest

from survey.quality import parse_flags
from tests.survey.test_citizen import post_form, stored


def test_landing_page_explains_the_site(client):
    answer = client.get("/")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Khảo sát sự hài lòng" in html  # Vietnamese by default
    assert "quét mã QR" in html  # what a citizen does
    assert 'href="/admin/"' in html  # where officials go
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "scan the QR code" in english and "Officials" in english


@pytest.mark.parametrize("path", ["/s/NOPE", "/k/NOPE", "/s/OLD", "/k/OLD", "/k/NOPE/thanks"])
def test_a_code_not_in_use_says_what_to_do(client, make_counter, path):
    make_counter("OLD", active=False)
    answer = client.get(path)
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert "Mã quầy này hiện không được sử dụng" in html
    assert "quét mã QR đang dán tại quầy" in html
    assert 'href="/"' in html
    english = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert "This counter code is not in use" in english


def test_a_post_to_a_code_not_in_use_is_the_same_page(client, make_counter):
    answer = client.post("/s/NOPE", data={"e1_1": "4"})
    assert answer.status_code == 404
    assert "Mã quầy này hiện không được sử dụng" in answer.get_data(as_text=True)


def test_an_empty_submission_is_asked_once_then_stored_flagged(app, client, make_counter):
    make_counter("Q1")
    first = post_form(client, "/s/Q1", {})
    assert first.status_code == 422
    html = first.get_data(as_text=True)
    assert "Anh/Chị chưa trả lời câu hỏi nào" in html
    assert stored(app) == []
    second = post_form(client, "/s/Q1", {}, page=html)
    assert second.status_code == 303
    rows = stored(app)
    assert len(rows) == 1 and "empty" in parse_flags(rows[0].flags)


def test_an_answer_is_not_empty(app, client, make_counter):
    make_counter("Q1")
    assert post_form(client, "/s/Q1", {"comment": "Tốt"}).status_code == 303
    assert post_form(client, "/s/Q1", {"e1_1": "0"}).status_code == 303
    rows = stored(app)
    assert len(rows) == 2
    assert all("empty" not in parse_flags(r.flags) for r in rows)


def test_api_flags_an_empty_response(client, make_counter):
    import uuid

    make_counter("Q1")
    body = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {},
    }
    answer = client.post("/api/v1/responses", json=body)
    assert answer.status_code == 201
    assert answer.json["flags"] == ["empty"]


def test_the_time_estimate_follows_the_form():
    """Reading at 200 words a minute plus 2 s per answer (survey.citizen.pages.answer_minutes):
    the 32 items of sipas-counter v1 take about 3 minutes, the 2017 form's 35 about 4."""
    import forms
    from survey.citizen.pages import answer_minutes

    counter = forms.load_form("sipas-counter", version=1)
    assert len(counter.item_keys) == 32
    assert answer_minutes(counter) == 3
    assert answer_minutes(forms.load_form("sipas-2017", version=1)) == 4


def test_the_form_and_the_printed_sheet_say_the_same_time(app, client, make_counter):
    from survey import qrcodes
    from tests.survey.test_qr import _entry

    make_counter("Q1")
    assert "Thời gian trả lời: khoảng 3 phút." in client.get("/s/Q1").get_data(as_text=True)
    english = client.get("/s/Q1?lang=en").get_data(as_text=True)
    assert "Time to answer: about 3 min." in english
    with app.test_request_context():
        sheet = qrcodes.render_sheet([_entry(1)], "a4")
    assert "chỉ mất khoảng 3 phút" in sheet
    assert "takes about 3 minutes" in sheet
    assert "một phút" not in sheet and "a minute" not in english
