"""The cheap paths of the HTTP stack: ``GET /healthz`` (no database, no session),
the JSON API without session cookies, and the API's own per-counter submission budget."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey import create_app
from survey.extensions import db
from survey.models import Response

from .conftest import TEST_SECRET

URL = "/api/v1/responses"


def _body(counter: str = "Q1") -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": counter,
        "answers": {"e1_1": 5, "sex": 2},
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }


@pytest.fixture
def units(make_agency, make_counter):
    agency = make_agency("STP")
    make_counter("Q1", agency=agency)
    make_counter("Q2", agency=agency)
    return agency


def test_healthz_needs_no_database_and_no_session(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            # A database that cannot be opened: the probe must not touch it.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'no.db'}",
            # Rate limiting on: the probe is never counted.
            "RATELIMIT_ENABLED": True,
        }
    )
    client = app.test_client()
    answers = [client.get("/healthz") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].data == b"ok" and answers[0].mimetype == "text/plain"
    assert "Set-Cookie" not in answers[0].headers and "Vary" not in answers[0].headers
    assert client.post("/healthz").status_code == 405
    # The database really is unusable: a view that needs it fails.
    assert client.get("/api/v1/units").status_code == 500


def test_api_answers_carry_no_session_cookie(client, units):
    client.set_cookie("session", "not-even-a-valid-signature")
    answer = client.post(URL, json=_body())
    assert answer.status_code == 201, answer.json
    assert "Set-Cookie" not in answer.headers
    assert "Cookie" not in answer.headers.get("Vary", "")


def test_pages_still_have_sessions(client, units):
    page = client.get("/s/Q1")
    assert page.status_code == 200
    assert "Cookie" in page.headers.get("Vary", "")


def test_submission_budget_is_per_counter_and_refusals_write_nothing(make_app, units):
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    q1 = [client.post(URL, json=_body("Q1")).status_code for _ in range(3)]
    q2 = [client.post(URL, json=_body("Q2")).status_code for _ in range(2)]
    assert q1 == [201, 201, 429] and q2 == [201, 201]
    refused = client.post(URL, json=_body("Q2"))
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_requests"
    assert refused.json["error"]["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 4


def test_budget_is_not_counted_when_rate_limits_are_off(client, units):
    # conftest apps run with RATELIMIT_ENABLED=False and the default 30 per minute.
    codes = {client.post(URL, json=_body()).status_code for _ in range(35)}
    assert codes == {201}


def test_padding_the_counter_code_does_not_open_a_new_budget(make_app, units):
    """The budget is keyed on the counter code as the lookup reads it (stripped, Unicode
    spaces such as U+3000 included), so padded spellings of one counter share its budget."""
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="3 per minute")
    client = app.test_client()
    spellings = ["Q1", " Q1", "Q1  ", "\u3000Q1\u3000", "\tQ1\n", "\u00a0Q1", "\u2003Q1"]
    codes = [client.post(URL, json=_body(code)).status_code for code in spellings]
    assert codes == [201, 201, 201, 429, 429, 429, 429]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 3
