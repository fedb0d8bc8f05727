"""survey/openapi.yaml: a valid OpenAPI 3.1 document that matches the API blueprint's routes, and
real answers of the app validate against its schemas."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import survey
from survey import repository
from survey.tokens import issue_dossier_token

from .conftest import TEST_SECRET

SPEC_PATH = Path(survey.__file__).parent / "openapi.yaml"
PREFIX = "/api/v1"


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_spec_is_valid_openapi_31(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
            found |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_route_is_documented_and_vice_versa(app, spec):
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert _routes(app) == documented


class Checker:
    """Validate real answers against the schema the spec declares for their status code."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:sipas-openapi", resource)

    def __call__(self, answer, path: str, method: str) -> None:
        operation = self.spec["paths"][path][method]
        declared = operation["responses"].get(str(answer.status_code))
        assert declared is not None, f"{method} {path} answered undocumented {answer.status_code}"
        if "$ref" in declared:
            declared = self._resolve(declared["$ref"])
        schema = declared["content"]["application/json"]["schema"]
        ref = schema["$ref"] if "$ref" in schema else None
        target = {"$ref": "urn:sipas-openapi" + ref} if ref else schema
        validator = Draft202012Validator(
            target, registry=self.registry, format_checker=FormatChecker()
        )
        errors = [e.message for e in validator.iter_errors(answer.json)]
        assert errors == [], f"{method} {path} {answer.status_code}: {errors}"

    def _resolve(self, ref: str) -> dict:
        node = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node


def test_real_answers_match_the_spec(
    app, client, spec, make_agency, make_field, make_counter, make_procedure
):
    check = Checker(spec)
    agency = make_agency("STP", level="department")
    field = make_field("HT")
    make_counter("Q1", agency=agency, field=field)
    make_procedure("1.001", field=field)
    body = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {"e1_1": 5, "e1_2": "4", "e2_1": 0, "e3_1": None},
        "comment": "Tốt",
        "started_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
        "locale": "vi",
    }
    post = "/responses", "post"
    Draft202012Validator(
        {"$ref": "urn:sipas-openapi#/components/schemas/SubmissionRequest"},
        registry=check.registry,
    ).validate(body)
    check(client.post(PREFIX + "/responses", json=body), *post)  # 201
    check(client.post(PREFIX + "/responses", json=body), *post)  # 200 duplicate
    check(client.post(PREFIX + "/responses", json={**body, "answers": {}}), *post)  # 409
    check(client.post(PREFIX + "/responses", json={**body, "id": "x"}), *post)  # 400
    check(client.post(PREFIX + "/responses", data="x", content_type="text/plain"), *post)  # 415
    check(
        client.post(
            PREFIX + "/responses", json={**body, "id": str(uuid.uuid4()), "answers": {"e1_1": 8}}
        ),
        *post,
    )  # 422
    token = issue_dossier_token(
        TEST_SECRET, agency_code="STP", field_code="HT", procedure_code="1.001", dossier_code="HS-1"
    )
    dossier = {**body, "id": str(uuid.uuid4()), "token": token}
    del dossier["counter_code"]
    check(client.post(PREFIX + "/responses", json=dossier), *post)  # 201
    check(
        client.post(PREFIX + "/responses", json={**dossier, "id": str(uuid.uuid4())}), *post
    )  # 409 token used
    big = {**body, "comment": "x" * 70_000}
    check(client.post(PREFIX + "/responses", json=big), *post)  # 413

    with app.app_context():
        key = repository.create_api_key("portal")
    auth = {"Authorization": f"Bearer {key}"}
    one = "/responses/{response_id}", "get"
    check(client.get(f"{PREFIX}/responses/{body['id']}", headers=auth), *one)
    check(client.get(f"{PREFIX}/responses/{body['id']}"), *one)  # 401
    check(client.get(f"{PREFIX}/responses/{uuid.uuid4()}", headers=auth), *one)  # 404

    listing = "/responses", "get"
    check(client.get(PREFIX + "/responses"), *listing)  # 401
    page = client.get(PREFIX + "/responses?limit=1", headers=auth)
    assert page.json["next_after"] is not None
    check(page, *listing)
    check(client.get(PREFIX + "/responses?limit=x", headers=auth), *listing)  # 400

    check(client.get(PREFIX + "/forms/sipas-counter"), "/forms/{form_id}", "get")
    check(client.get(PREFIX + "/forms/nope"), "/forms/{form_id}", "get")
    check(client.get(PREFIX + "/forms/sipas-counter/1"), "/forms/{form_id}/{version}", "get")
    check(client.get(PREFIX + "/forms/sipas-counter/9"), "/forms/{form_id}/{version}", "get")
    check(client.get(PREFIX + "/units"), "/units", "get")


def test_rate_limited_answer_matches_the_spec(make_app, spec, make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))
    app = make_app(RATELIMIT_ENABLED=True, SIPAS_SUBMIT_RATE_LIMIT="1 per minute")
    client = app.test_client()
    body = {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {},
    }
    client.post(PREFIX + "/responses", json=body)
    limited = client.post(PREFIX + "/responses", json=body)
    assert limited.status_code == 429
    Checker(spec)(limited, "/responses", "post")
