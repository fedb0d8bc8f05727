"""API keys limited to an agency read only that agency's subtree; reading back needs a key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from survey import repository
from tests.survey.submitted import counter_submission

URL = "/api/v1/responses"


@pytest.fixture
def province(app, make_agency, make_counter):
    """A province with a district (HAP, with commune XAH) and a department (STP); one counter
    and one stored response at each of XAH, HAP and STP. Returns ``{agency: response uuid}``."""
    root = make_agency("TINH", level="province")
    district = make_agency("HAP", level="district", parent=root)
    commune = make_agency("XAH", level="commune", parent=district)
    department = make_agency("STP", parent=root)
    stored = {}
    for agency in (commune, district, department):
        make_counter(f"Q-{agency.code}", agency=agency)
        submission = counter_submission({}, counter_code=f"Q-{agency.code}")
        with app.app_context():
            repository.save_response(submission, now=datetime(2026, 3, 1, tzinfo=UTC))
        stored[agency.code] = str(submission.uuid)
    return stored


def _auth(app, agency_code: str | None) -> dict[str, str]:
    with app.app_context():
        key = repository.create_api_key("scoped", agency_code=agency_code)
    return {"Authorization": f"Bearer {key}"}


def test_a_scoped_key_reads_its_subtree_only(app, client, province) -> None:
    auth = _auth(app, "HAP")
    for code in ("HAP", "XAH"):
        answer = client.get(f"{URL}/{province[code]}", headers=auth)
        assert answer.status_code == 200 and answer.json["agency_code"] == code
    hidden = client.get(f"{URL}/{province['STP']}", headers=auth)
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
    listed = client.get(URL, headers=auth)
    assert listed.status_code == 200
    assert sorted(item["agency_code"] for item in listed.json["items"]) == ["HAP", "XAH"]
    one = client.get(URL + "?agency=XAH", headers=auth).json["items"]
    assert [item["agency_code"] for item in one] == ["XAH"]
    for other in ("STP", "TINH", "NOPE"):
        answer = client.get(URL + f"?agency={other}", headers=auth)
        assert answer.status_code == 404, other


def test_an_unscoped_key_reads_every_agency(app, client, province) -> None:
    auth = _auth(app, None)
    listed = client.get(URL, headers=auth).json["items"]
    assert sorted(item["agency_code"] for item in listed) == ["HAP", "STP", "XAH"]
    assert client.get(f"{URL}/{province['STP']}", headers=auth).status_code == 200


def test_reading_back_needs_a_valid_active_key(app, client, province) -> None:
    response_url = f"{URL}/{province['STP']}"
    assert client.get(response_url).status_code == 401
    assert client.get(response_url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(response_url, headers={"Authorization": "Basic abc"}).status_code == 401
    auth = _auth(app, "STP")
    assert client.get(response_url, headers=auth).status_code == 200
    with app.app_context():
        repository.revoke_api_key(repository.list_api_keys()[0].id)
    assert client.get(response_url, headers=auth).status_code == 401
    assert client.get(URL, headers=auth).status_code == 401
