"""JSON API: submissions (created, duplicate, conflict, every bad input), dossier tokens,
read-back, the portal's list behind an API key, forms and units."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey import repository
from survey.extensions import db
from survey.models import Response
from survey.tokens import issue_dossier_token
from tests.survey.stored import stored_answer_count

from .conftest import TEST_SECRET

URL = "/api/v1/responses"


def body(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {"e1_1": 5, "e1_2": 4, "e2_1": 0, "sex": 2},
        "comment": "Rất tốt",
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Response)),
            stored_answer_count(),
        )


@pytest.fixture
def units(make_agency, make_field, make_counter, make_procedure):
    agency = make_agency("STP", name_vi="Sở Tư pháp", level="department")
    field = make_field("HT", name_vi="Hộ tịch", name_en="Civil status")
    make_counter("Q1", agency=agency, field=field)
    make_procedure("1.001", field=field)
    return agency


def token(**overrides: object) -> str:
    values: dict[str, object] = {
        "agency_code": "STP",
        "field_code": "HT",
        "procedure_code": "1.001",
        "dossier_code": "000.00.12.H56-240101-0001",
    }
    values.update(overrides)
    return issue_dossier_token(TEST_SECRET, **values)  # type: ignore[arg-type]


def test_submit_created_then_duplicate_then_conflict(app, client, units):
    data = body()
    first = client.post(URL, json=data)
    assert first.status_code == 201, first.json
    assert first.json == {"id": data["id"], "status": "created", "flags": []}
    assert first.headers["Location"].endswith(f"/api/v1/responses/{data['id']}")
    again = client.post(URL, json=data)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    changed = client.post(URL, json={**data, "answers": {"e1_1": 1}})
    assert changed.status_code == 409
    assert changed.json["error"]["code"] == "conflicting_resubmission"
    assert counts(app) == (1, 4)


def test_location_leads_to_the_stored_response_under_a_mount_prefix(app, client, units):
    data = body()
    mounted = {"SCRIPT_NAME": "/sipas"}
    created = client.post(URL, json=data, environ_overrides=mounted)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location == f"/sipas/api/v1/responses/{data['id']}"
    got = client.get(
        location.removeprefix("/sipas"), environ_overrides=mounted, headers=api_key(app)
    )
    assert got.status_code == 200 and got.json["id"] == data["id"]


def api_key(app) -> dict[str, str]:
    """The header of a new API key that reads every agency."""
    with app.app_context():
        return {"Authorization": f"Bearer {repository.create_api_key('portal')}"}


def test_read_back_one_response(app, client, units):
    data = body()
    client.post(URL, json=data)
    unauthorized = client.get(f"{URL}/{data['id']}")  # profile answers: never without a key
    assert unauthorized.status_code == 401 and unauthorized.json["error"]["code"] == "unauthorized"
    auth = api_key(app)
    got = client.get(f"{URL}/{data['id']}", headers=auth)
    assert got.status_code == 200
    assert got.json["answers"] == {"e1_1": 5, "e1_2": 4, "e2_1": 0, "sex": 2}
    assert got.json["agency_code"] == "STP" and got.json["field_code"] == "HT"
    assert got.json["channel"] == "api" and got.json["comment"] == "Rất tốt"
    missing = client.get(f"{URL}/{uuid.uuid4()}", headers=auth)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_dossier_token_is_single_use(app, client, units):
    tok = token()
    first = client.post(URL, json=body(counter_code=None, token=tok))
    assert first.status_code == 201, first.json
    stored = client.get(f"{URL}/{first.json['id']}", headers=api_key(app)).json
    assert stored["channel"] == "dossier_qr" and stored["procedure_code"] == "1.001"
    reused = client.post(URL, json=body(counter_code=None, token=tok))
    assert reused.status_code == 409
    assert reused.json["error"]["code"] == "token_already_used"
    assert counts(app) == (1, 4)


def test_forged_and_expired_tokens_are_refused(app, client, units):
    forged = token()[:-3] + "AAA"
    old = token(issued_at=datetime.now(UTC) - timedelta(days=400))
    foreign = issue_dossier_token(
        "another-secret",
        agency_code="STP",
        field_code="HT",
        procedure_code=None,
        dossier_code="X",
    )
    for tok, code in (
        (forged, "token_invalid"),
        (foreign, "token_invalid"),
        (old, "token_expired"),
    ):
        answer = client.post(URL, json=body(counter_code=None, token=tok))
        assert answer.status_code == 422 and answer.json["error"]["code"] == code
    assert counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (body(id="not-a-uuid"), 400, "invalid_field"),
        ({k: v for k, v in body().items() if k != "form_id"}, 400, "missing_field"),
        (body(form_version="1"), 400, "invalid_field"),
        (body(form_version=True), 400, "invalid_field"),
        (body(answers=[5, 4]), 400, "invalid_field"),
        (body(surprise=1), 400, "invalid_field"),
        (body(channel="fax"), 400, "invalid_field"),
        (body(started_at="yesterday"), 400, "invalid_field"),
        (body(counter_code=12), 400, "invalid_field"),
        (body(counter_code="Q" * 65), 400, "invalid_field"),
        (body(locale="fr"), 400, "invalid_field"),
        (body(form_id="nope"), 422, "unknown_form"),
        (body(form_version=7), 422, "wrong_form_version"),
        (body(answers={"e1_1": 6}), 422, "invalid_answers"),
        (body(answers={"zz_9": 1}), 422, "invalid_answers"),
        (body(answers={"e1_1": 4.5}), 422, "invalid_answers"),
        (body(comment=["x"]), 422, "invalid_answers"),
        (body(comment="x" * 5000), 422, "invalid_answers"),
        (body(counter_code="NOPE"), 422, "unknown_counter"),
        (body(field_code="NOPE"), 422, "unknown_field"),
        (body(procedure_code="NOPE"), 422, "unknown_procedure"),
        (body(counter_code=None), 422, "unknown_agency"),
        ([1, 2, 3], 400, "invalid_json"),
    ],
)
def test_bad_bodies_get_clean_4xx_and_write_nothing(app, client, units, data, status, code):
    answer = client.post(URL, json=data)
    assert answer.status_code == status, answer.json
    error = answer.json["error"]
    assert error["code"] == code
    assert error["message"] and isinstance(error["problems"], list)
    assert counts(app) == (0, 0)


def test_invalid_answers_name_each_problem(client, units):
    answer = client.post(URL, json=body(answers={"e1_1": 6, "zz": 1}))
    assert {(p["item_key"], p["code"]) for p in answer.json["error"]["problems"]} == {
        ("e1_1", "out_of_range"),
        ("zz", "unknown_item"),
    }


def test_malformed_json_wrong_type_and_too_large(app, client, units):
    broken = client.post(URL, data="{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.json["error"]["code"] == "invalid_json"
    form = client.post(URL, data={"id": "x"})
    assert form.status_code == 415
    assert form.json["error"]["code"] == "unsupported_media_type"
    huge = body(comment="x" * (app.config["MAX_CONTENT_LENGTH"] + 10))
    too_large = client.post(URL, json=huge)
    assert too_large.status_code == 413 and too_large.is_json
    assert counts(app) == (0, 0)


def test_error_messages_follow_the_language(client, units):
    vi = client.post(URL, json=body(counter_code="NOPE"))
    en = client.post(URL, json=body(counter_code="NOPE"), headers={"Accept-Language": "en"})
    en_query = client.post(URL + "?lang=en", json=body(counter_code="NOPE"))
    assert (
        en.json["error"]["message"] == "This counter is not known. Please scan the QR code again."
    )
    assert en_query.json["error"]["message"] == en.json["error"]["message"]
    assert vi.json["error"]["code"] == en.json["error"]["code"] == "unknown_counter"


def test_quality_flags_in_the_answer(client, units):
    rating = {key: 5 for key in ("e1_1", "e1_2", "e1_3", "e1_4", "e2_1")}
    now = datetime.now(UTC).isoformat()
    answer = client.post(URL, json=body(answers=rating, started_at=now))
    assert answer.status_code == 201
    assert answer.json["flags"] == ["too_fast", "straightlining"]


def test_list_needs_an_api_key_and_pages(app, client, units):
    ids = []
    for _ in range(3):
        data = body()
        ids.append(data["id"])
        assert client.post(URL, json=data).status_code == 201
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with app.app_context():
        key = repository.create_api_key("national portal")
    auth = {"Authorization": f"Bearer {key}"}
    page1 = client.get(URL + "?limit=2", headers=auth)
    assert page1.status_code == 200 and len(page1.json["items"]) == 2
    assert page1.json["items"][0]["comment"] == "Rất tốt"
    page2 = client.get(URL + f"?limit=2&after={page1.json['next_after']}", headers=auth)
    assert page2.json["next_after"] is None
    got = [item["id"] for item in page1.json["items"] + page2.json["items"]]
    assert got == ids
    assert client.get(URL + "?agency=OTHER", headers=auth).json["items"] == []
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert client.get(URL, query_string={"since": future}, headers=auth).json["items"] == []
    bad = client.get(URL + "?limit=0&since=never", headers=auth)
    assert bad.status_code == 400
    assert {p["field"] for p in bad.json["error"]["problems"]} == {"limit", "since"}


def test_forms_and_units(client, units):
    form = client.get("/api/v1/forms/sipas-counter")
    assert form.status_code == 200 and form.json["version"] == 1
    assert len(form.json["content_hash"]) == 64
    assert client.get("/api/v1/forms/sipas-counter/1").json == form.json
    assert client.get("/api/v1/forms/sipas-counter/9").status_code == 404
    assert client.get("/api/v1/forms/nope").status_code == 404
    got = client.get("/api/v1/units").json
    assert [a["code"] for a in got["agencies"]] == ["STP"]
    assert got["counters"][0] == {
        "code": "Q1",
        "agency_code": "STP",
        "name_vi": "Quầy số 1",
        "name_en": "Counter 1",
        "field_code": "HT",
        "active": True,
    }
    assert got["fields"][0]["name_en"] == "Civil status"
    assert got["procedures"][0]["field_code"] == "HT"


def test_submissions_are_rate_limited_per_counter(make_app, units):
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [client.post(URL, json=body()).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    limited = client.post(URL, json=body())
    assert limited.is_json and limited.json["error"]["code"]
