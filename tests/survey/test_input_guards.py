"""Text the database cannot store (NUL bytes, lone surrogates) is refused at the door with a
clear 400 in the user's language (JSON for the API), on every way text enters; never a 500."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import Response

URL = "/api/v1/responses"


@pytest.fixture
def units(make_agency, make_field, make_counter):
    agency = make_agency("STP")
    make_counter("STP-Q1", agency=agency, field=make_field("HT"))
    return agency


def body(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "STP-Q1",
        "answers": {"e1_1": 5},
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "path",
    [
        "/s/%00",
        "/k/%00",
        "/s/STP-Q1?f=%00",
        "/k/STP-Q1?f=HT%00",
        "/s/STP-Q1?lang=%00",
        "/d/abc%00def",
        "/admin/login?next=%00",
        "/no-such-page%00",
    ],
)
def test_pages_refuse_nul_in_the_url(client, units, path):
    answer = client.get(path)
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert "Yêu cầu chứa ký tự không được phép" in answer.get_data(as_text=True)


def test_the_refusal_is_in_the_chosen_language(client, units):
    answer = client.get("/s/%00?lang=en")
    assert answer.status_code == 400
    assert "The request contains a character that is not allowed" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides",
    [
        {"counter_code": "STP\u0000Q1"},
        {"agency_code": "\u0000"},
        {"comment": "tốt\u0000"},
        {"answers": {"e1_1\u0000": 5}},
        {"counter_code": "STP-Q1\ud800"},
        {"\u0000": 1},
    ],
)
def test_api_refuses_nul_in_the_json_body(app, client, units, overrides):
    answer = client.post(URL, json=body(**overrides), headers={"Accept-Language": "en"})
    assert answer.status_code == 400, answer.json
    error = answer.json["error"]
    assert error["code"] == "invalid_characters"
    assert "character that is not allowed" in error["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_api_refusal_defaults_to_vietnamese(client, units):
    answer = client.post(URL, json=body(counter_code="\u0000"))
    assert answer.status_code == 400
    assert "ký tự không được phép" in answer.json["error"]["message"]


def test_an_escaped_backslash_is_not_a_nul(app, client, units):
    """``"\\\\u0000"`` in JSON is a backslash and the text ``u0000``: stored as written."""
    raw = json.dumps(body(comment="a\\u0000b"))
    answer = client.post(URL, data=raw, content_type="application/json")
    assert answer.status_code == 201, answer.json
    with app.app_context():
        assert db.session.scalar(select(Response.comment)) == "a\\u0000b"


def test_api_refuses_nul_in_the_query(app, client, units):
    with app.app_context():
        key = repository.create_api_key("portal")
    auth = {"Authorization": f"Bearer {key}"}
    answer = client.get("/api/v1/responses?agency=%00", headers=auth)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_characters"
    assert answer.json["error"]["problems"] == [{"field": "agency", "code": "invalid_characters"}]
    assert client.get("/api/v1/responses?agency=STP", headers=auth).status_code == 200


def test_login_refuses_nul_in_the_name(client):
    answer = client.post("/login", data={"username": "can\x00bo", "password": "x"})
    assert answer.status_code == 400
    assert "ký tự không được phép" in answer.get_data(as_text=True)


def test_citizen_form_post_refuses_nul(app, client, units):
    answer = client.post("/s/STP-Q1", data={"comment": "x\x00y", "e1_1": "5"})
    assert answer.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_files_may_hold_nul_bytes(client):
    """Uploaded files are binary (an XLSX is a ZIP): only the text fields are checked."""
    from io import BytesIO

    answer = client.post(
        "/login",
        data={"username": "canbo", "password": "x", "upload": (BytesIO(b"PK\x00\x00"), "a.xlsx")},
        content_type="multipart/form-data",
    )
    assert answer.status_code != 400
