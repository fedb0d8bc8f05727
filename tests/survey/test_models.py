"""Constraints the database itself enforces (both databases): unique response UUID, single-use
dossier token, answers deleted with their response, agency hierarchy, accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from survey import repository
from survey.extensions import db
from survey.models import Response, User


@pytest.fixture
def response_row(app, make_agency):
    agency = make_agency("STP")
    with app.app_context():
        form_version_id = repository.record_form_version(repository.load_form("sipas-counter")).id

    def row(**overrides: object) -> dict[str, object]:
        values: dict[str, object] = {
            "uuid": uuid.uuid4(),
            "form_version_id": form_version_id,
            "form_id": "sipas-counter",
            "form_version": 1,
            "submitted_at": datetime(2024, 1, 1, tzinfo=UTC),
            "agency_id": agency.id,
            "channel": "api",
            "flags": "",
            "locale": "vi",
            "content_hash": "0" * 64,
            "answer_codes": [],
        }
        values.update(overrides)
        return values

    return row


def test_token_id_is_unique_in_the_database(app, response_row):
    with app.app_context():
        db.session.execute(insert(Response), [response_row(token_id="t1")])
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(insert(Response), [response_row(token_id="t1")])
            db.session.commit()
        db.session.rollback()
        # Responses without a token are not constrained by it.
        db.session.execute(insert(Response), [response_row(), response_row()])
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Response)) == 3


def test_response_uuid_is_unique(app, response_row):
    same = uuid.uuid4()
    with app.app_context():
        db.session.execute(insert(Response), [response_row(uuid=same)])
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(insert(Response), [response_row(uuid=same)])
            db.session.commit()
        db.session.rollback()


def test_answer_codes_round_trip_with_skipped_items(app, response_row):
    """smallint[] on PostgreSQL, a JSON array on SQLite: the same list comes back, None kept."""
    codes = [5, None, 0, 3, None]
    with app.app_context():
        rid = db.session.execute(
            insert(Response).returning(Response.id), [response_row(answer_codes=codes)]
        ).scalar()
        db.session.commit()
        assert db.session.scalar(select(Response.answer_codes).where(Response.id == rid)) == codes
        db.session.execute(delete(Response).where(Response.id == rid))
        db.session.commit()


def test_agency_hierarchy_and_lookups(app, make_agency, make_field, make_counter):
    province = make_agency("DEMO", level="province")
    district = make_agency("H1", level="district", parent=province)
    make_agency("X1", level="commune", parent=district)
    field = make_field("HT")
    make_counter("Q2", agency=district)
    make_counter("Q1", agency=province, field=field, active=False)
    with app.app_context():
        commune = repository.get_agency("X1")
        assert commune.parent.code == "H1" and commune.parent.parent.code == "DEMO"
        assert [c.code for c in repository.get_agency("DEMO").children] == ["H1"]
        assert [c.code for c in repository.list_counters()] == ["Q1", "Q2"]
        assert [c.code for c in repository.list_counters(active_only=True)] == ["Q2"]
        assert [c.code for c in repository.list_counters(agency_code="H1")] == ["Q2"]
        assert repository.get_counter("Q1").field.code == "HT"
        assert repository.get_field("HT").code == "HT" and repository.get_field("ZZ") is None
        assert repository.get_counter("nope") is None and repository.get_agency("nope") is None


def test_token_used_lookup(app, response_row):
    with app.app_context():
        assert not repository.token_used("t9")
        db.session.execute(insert(Response), [response_row(token_id="t9")])
        db.session.commit()
        assert repository.token_used("t9")


def test_user_activity_follows_the_column(app):
    with app.app_context():
        user = repository.create_user("lan", "mat-khau-dai", role="analyst")
        assert user.is_active and user.get_id() == f"{user.id}:0"
        user.active = False
        db.session.commit()
        assert not db.session.scalar(select(User).where(User.username == "lan")).is_active
