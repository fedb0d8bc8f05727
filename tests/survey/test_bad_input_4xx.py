"""Inputs that used to raise inside the server (RecursionError, OverflowError, an integer too
large for the database) get a clear 4xx in JSON instead of a 500."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import Response

URL = "/api/v1/responses"


@pytest.fixture
def units(make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))


def body(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {"e1_1": 5},
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }
    data.update(overrides)
    return data


@pytest.fixture
def auth(app) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {repository.create_api_key('portal')}"}


@pytest.mark.parametrize("depth", [1_000, 30_000])  # 30,000: just under the 64 kB body limit
def test_deeply_nested_json_is_invalid_json(app, client, units, depth):
    raw = '{"answers": ' + "[" * depth + "]" * depth + "}"
    answer = client.post(URL, data=raw, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_json"


def test_deep_json_with_rate_limits_on(make_app, units):
    """The budget key reads the body first: it must not fail on it either."""
    app = make_app(RATELIMIT_ENABLED=True)
    depth = 30_000
    raw = '{"counter_code": "Q1", "x": ' + "[" * depth + "]" * depth + "}"
    answer = app.test_client().post(URL, data=raw, content_type="application/json")
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "started_at",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+07:00",
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-23:59",
        "1899-12-31T00:00:00Z",
        "2999-01-01T00:00:00Z",
    ],
)
def test_started_at_out_of_range(app, client, units, started_at):
    answer = client.post(URL, json=body(started_at=started_at))
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["problems"] == [{"field": "started_at", "code": "out_of_range"}]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_started_at_a_little_ahead_is_accepted(client, units):
    """A device clock a few minutes fast must not cost the citizen's answers."""
    ahead = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert client.post(URL, json=body(started_at=ahead)).status_code == 201


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("after=9223372036854775808", "after", "out_of_range"),
        ("after=99999999999999999999999", "after", "out_of_range"),
        ("after=%C2%B2", "after", "not_an_integer"),  # "²".isdigit() is True
        ("after=-1", "after", "not_an_integer"),
        ("limit=%D9%A1", "limit", "out_of_range"),  # Arabic-Indic digit one
        ("since=9999-12-31T23:59:59-23:59", "since", "out_of_range"),
        ("until=0001-01-01T00:00:00%2B23:59", "until", "out_of_range"),
        ("since=yesterday", "since", "not_a_datetime"),
    ],
)
def test_list_query_out_of_range(client, units, auth, query, field, code):
    answer = client.get(f"{URL}?{query}", headers=auth)
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert answer.json["error"]["problems"] == [{"field": field, "code": code}]


def test_largest_after_is_accepted(client, units, auth):
    answer = client.get(f"{URL}?after=9223372036854775807", headers=auth)
    assert answer.status_code == 200
    assert answer.json["items"] == []
