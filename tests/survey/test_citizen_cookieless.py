"""The citizen form works without cookies: its token is the response UUID signed by the server
(not Flask-WTF's session-bound token), checked on POST with an expiry. Every test runs with CSRF
checks on, as in production, and a client that keeps no cookies unless it says otherwise."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.survey.test_citizen import TEST_SECRET, dossier_units, hidden_fields, post_form, stored
from tests.survey.test_citizen import _token as dossier_token

__all__ = ["dossier_units"]  # a fixture, used by name

TOKEN_SALT = "sipas.citizen-form-token"  # survey.citizen.pages._TOKEN_SALT


@pytest.fixture
def csrf_app(make_app, make_counter):
    app = make_app(WTF_CSRF_ENABLED=True)
    make_counter("Q1")
    return app


@pytest.fixture
def cookieless(csrf_app):
    """A client without a cookie jar: a browser that blocks every cookie."""
    return csrf_app.test_client(use_cookies=False)


def _old_token(response_uuid: str, hours: float) -> str:
    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - hours * 3600)

    return URLSafeTimedSerializer(TEST_SECRET, salt=TOKEN_SALT, signer=Earlier).dumps(response_uuid)


@pytest.mark.parametrize("path", ["/s/Q1", "/k/Q1"])
def test_the_form_page_sets_no_cookie(csrf_app, cookieless, path):
    answer = cookieless.get(path)
    assert answer.status_code == 200
    assert answer.headers.getlist("Set-Cookie") == []
    assert "csrf_token" in hidden_fields(answer.get_data(as_text=True))


def test_a_browser_without_cookies_submits_once(csrf_app, cookieless):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    first = post_form(cookieless, "/s/Q1", {"e1_1": "4"}, page=page)
    assert first.status_code == 303 and first.headers["Location"].endswith("/thanks")
    assert first.headers.getlist("Set-Cookie") == []
    again = post_form(cookieless, "/s/Q1", {"e1_1": "4"}, page=page)  # a double tap
    assert again.status_code == 303
    rows = stored(csrf_app)
    assert len(rows) == 1
    assert str(rows[0].uuid) == hidden_fields(page)["response_uuid"]


def test_the_kiosk_and_the_dossier_form_work_without_cookies(csrf_app, cookieless, dossier_units):
    token = dossier_token()
    assert post_form(cookieless, "/k/Q1", {"e1_1": "5"}).status_code == 303
    assert post_form(cookieless, f"/d/{token}", {"e1_1": "3"}).status_code == 303
    assert sorted(row.channel for row in stored(csrf_app)) == ["dossier_qr", "kiosk"]


@pytest.mark.parametrize(
    "change",
    [
        {"csrf_token": ""},
        {"csrf_token": "forged.value.here"},
        {"csrf_token": None},  # left out
        {"response_uuid": str(uuid.uuid4())},  # another page's UUID under this token
    ],
    ids=["empty", "forged", "missing", "other-uuid"],
)
def test_a_bad_token_keeps_the_answers_and_stores_nothing(csrf_app, cookieless, change):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    data = {**hidden_fields(page), "e1_1": "5", "comment": "Cảm ơn", **change}
    data = {key: value for key, value in data.items() if value is not None}
    result = cookieless.post("/s/Q1", data=data)
    assert result.status_code == 400
    html = result.get_data(as_text=True)
    assert "Chúng tôi chưa xác nhận được" in html
    assert re.search(r'name="e1_1" value="5" checked', html)
    assert "Cảm ơn</textarea>" in html
    assert stored(csrf_app) == []
    resent = post_form(cookieless, "/s/Q1", {"e1_1": "5", "comment": "Cảm ơn"}, page=html)
    assert resent.status_code == 303
    assert len(stored(csrf_app)) == 1


def test_an_expired_page_keeps_its_uuid_and_is_stored_once(csrf_app, cookieless):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    fields = hidden_fields(page)
    fields["csrf_token"] = _old_token(fields["response_uuid"], hours=25)  # default limit: 24 h
    result = cookieless.post("/s/Q1", data={**fields, "e1_1": "2"})
    assert result.status_code == 400
    html = result.get_data(as_text=True)
    assert "Trang này đã được mở quá lâu" in html
    assert hidden_fields(html)["response_uuid"] == fields["response_uuid"]
    assert stored(csrf_app) == []
    assert post_form(cookieless, "/s/Q1", {"e1_1": "2"}, page=html).status_code == 303
    rows = stored(csrf_app)
    assert len(rows) == 1 and str(rows[0].uuid) == fields["response_uuid"]


def test_a_page_within_the_limit_is_accepted(csrf_app, cookieless):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    fields = hidden_fields(page)
    fields["csrf_token"] = _old_token(fields["response_uuid"], hours=23)
    assert cookieless.post("/s/Q1", data={**fields, "e1_1": "2"}).status_code == 303


def test_a_token_signed_with_another_key_is_refused(csrf_app, cookieless):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    fields = hidden_fields(page)
    other = URLSafeTimedSerializer("another-key", salt=TOKEN_SALT)
    fields["csrf_token"] = other.dumps(fields["response_uuid"])
    assert cookieless.post("/s/Q1", data={**fields, "e1_1": "2"}).status_code == 400
    assert stored(csrf_app) == []


def test_a_post_the_browser_marks_cross_site_is_refused(csrf_app, cookieless):
    page = cookieless.get("/s/Q1").get_data(as_text=True)
    headers = {"Sec-Fetch-Site": "cross-site"}
    refused = post_form(cookieless, "/s/Q1", {"e1_1": "4"}, page=page, headers=headers)
    assert refused.status_code == 400
    assert stored(csrf_app) == []
    same = {"Sec-Fetch-Site": "same-origin"}
    assert post_form(cookieless, "/s/Q1", {"e1_1": "4"}, page=page, headers=same).status_code == 303


def test_the_officials_sign_in_form_keeps_the_session_csrf_token(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    answer = client.post("/login", data={"login": "x", "password": "y", "csrf_token": "forged"})
    assert answer.status_code == 400
