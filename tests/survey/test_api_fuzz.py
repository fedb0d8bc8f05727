"""Schemathesis against the JSON API, in process: every operation of survey/openapi.yaml gets
generated requests (valid and invalid ones) and every answer must be no 5xx, have a documented
status code and content type, documented headers, and a body that matches the response schema.

Bounded for CI: 100 examples per operation (``SIPAS_FUZZ_EXAMPLES``), on SQLite only (the API
code is the same on both engines; the PostgreSQL paths of bad input are in
test_bad_input_4xx.py). The database holds a small province (agencies, a field, counters, a
procedure), one stored response and an API key, which every request sends (schemathesis's
invalid cases drop or spoil it, which covers the 401s).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import survey
from forms import load_form
from survey import create_app, repository
from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure
from tests.survey.submitted import counter_submission

from .conftest import app_config, dispose_engines

SPEC_PATH = Path(survey.__file__).parent / "openapi.yaml"
# Per operation (valid and invalid cases together): about 20 s for the file on SQLite. A deeper
# hunt: SIPAS_FUZZ_EXAMPLES=2000 pytest tests/survey/test_api_fuzz.py
MAX_EXAMPLES = int(os.environ.get("SIPAS_FUZZ_EXAMPLES", "100"))

FORM_IDS = ["sipas-counter", "sipas-2017"]
STORED_ID = "0b5e0d6e-3a4b-4c7e-9a51-5b0c2f9f6a11"
_KEYS = load_form("sipas-counter").item_keys
ANSWERS = st.dictionaries(
    st.sampled_from(_KEYS),
    st.none()
    | st.integers(-2, 8)
    | st.integers()
    | st.text(max_size=4)
    | st.from_regex(r"[0-9]{1,3}", fullmatch=True),
    max_size=len(_KEYS),
)
REAL_TARGETS = [
    {"counter_code": "Q1"},
    {"counter_code": "Q2"},
    {"agency_code": "STP", "field_code": "HT", "procedure_code": "1.001"},
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _seed(app: Flask) -> str:
    """A province with a department and a district, a field, counters, a procedure, one stored
    response; returns a new API key."""
    with app.app_context():
        province = Agency(code="TINH", name_vi="Tỉnh", name_en="Province", level="province")
        db.session.add(province)
        db.session.flush()
        department = Agency(
            code="STP", name_vi="Sở Tư pháp", name_en="Justice", level="department",
            parent_id=province.id,
        )  # fmt: skip
        district = Agency(
            code="HAP", name_vi="Huyện", name_en="District", level="district",
            parent_id=province.id,
        )  # fmt: skip
        field = Field(code="HT", name_vi="Hộ tịch", name_en="Civil status")
        db.session.add_all([department, district, field])
        db.session.flush()
        db.session.add_all(
            [
                Counter(code="Q1", agency_id=department.id, name_vi="Quầy 1", name_en="Desk 1",
                        field_id=field.id, active=True),
                Counter(code="Q2", agency_id=district.id, name_vi="Quầy 2", name_en="Desk 2",
                        field_id=None, active=False),
                Procedure(code="1.001", name_vi="Khai sinh", name_en="Birth", field_id=field.id),
            ]
        )  # fmt: skip
        db.session.commit()
        repository.save_response(
            counter_submission({"e1_1": 5}, uuid=uuid.UUID(STORED_ID), comment="Tốt"),
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
        return repository.create_api_key("fuzz")


@pytest.fixture(scope="module")
def seeded(sqlite_url: str, empty_tables: Callable[[str], None]) -> Iterator[tuple[Flask, str]]:
    """The app on a clean, seeded SQLite database, and an API key."""
    empty_tables(sqlite_url)
    app = create_app(app_config(sqlite_url))
    key = _seed(app)
    yield app, key
    dispose_engines(app)


# Loaded from the file, not through `schemathesis.pytest.from_fixture`, whose lazy loader reads
# `request.node._nodeid`, gone in pytest 9; the test passes its app to each call (`app=`: the
# WSGI transport, in process).
schema = schemathesis.openapi.from_path(SPEC_PATH)


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_spec(case, seeded, data):
    app, key = seeded
    if data.draw(st.booleans()):
        _steer(case, data)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)


def _steer(case, data) -> None:
    """Random codes almost never name a seeded unit, a form or a stored response: half of the
    cases are steered onto real ones (keeping the rest of what was generated), so the paths past
    the look-ups (answer checks, quality flags, storing, duplicates, reading back) get fuzzed."""
    if case.method == "POST" and isinstance(case.body, dict):
        case.body.update(
            form_id="sipas-counter", form_version=1, **data.draw(st.sampled_from(REAL_TARGETS))
        )
        case.body.pop("token", None)
        if data.draw(st.booleans()):
            case.body["answers"] = data.draw(ANSWERS)
    elif "form_id" in (case.path_parameters or {}):
        case.path_parameters["form_id"] = data.draw(st.sampled_from(FORM_IDS))
    elif "response_id" in (case.path_parameters or {}):
        case.path_parameters["response_id"] = STORED_ID


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/units", "/units"),
        ("/forms/{form_id}", "/forms/sipas-counter"),
        ("/forms/{form_id}/{version}", "/forms/sipas-counter/1"),
        ("/responses/{response_id}", f"/responses/{STORED_ID}"),
        ("/responses", "/responses"),
    ],
)
def test_a_nul_in_the_query_is_a_documented_400(seeded, template, path):
    """Found by schemathesis: every operation answers 400 ``invalid_characters`` for a NUL in
    the query (survey.guards), which the spec listed for some operations only; and a parameter
    name holding the NUL was echoed with it (now shown with U+FFFD)."""
    app, key = seeded
    answer = app.test_client().get(
        f"/api/v1{path}?a%00b=1", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 400
    assert answer.json["error"]["problems"] == [{"field": "a\ufffdb", "code": "invalid_characters"}]
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert "400" in spec["paths"][template]["get"]["responses"]
