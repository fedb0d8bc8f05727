"""A database restart costs no request: after PostgreSQL drops every connection of the app
(``pg_terminate_backend``, as a restart or a failover does), the next page, lookup and
submission all succeed."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture
def database_url(postgres_url, empty_tables):
    """PostgreSQL only (SQLite has no server connections to drop), so no SQLite case is skipped."""
    empty_tables(postgres_url)
    return postgres_url


@pytest.fixture
def named_app(make_app, database_url, make_agency, make_counter):
    """An app whose PostgreSQL connections carry a name of their own (to end only them)."""
    make_counter("Q1", agency=make_agency("STP"))
    name = f"sipas-restart-{secrets.token_hex(4)}"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"{database_url}&application_name={name}")
    return app, name, database_url


def terminate(database_url: str, name: str) -> int:
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


def submission() -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "form_id": "sipas-counter",
        "form_version": 1,
        "counter_code": "Q1",
        "answers": {"e1_1": 5},
        "started_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }


@pytest.mark.parametrize(
    "first", ["/s/Q1", "/k/Q1", "/api/v1/units", "/api/v1/forms/sipas-counter", "/readyz"]
)
def test_first_request_after_the_connections_were_dropped(named_app, first):
    app, name, database_url = named_app
    client = app.test_client()
    assert client.get("/s/Q1").status_code == 200
    assert client.post("/api/v1/responses", json=submission()).status_code == 201
    assert terminate(database_url, name) >= 1
    answer = client.get(first)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert client.post("/api/v1/responses", json=submission()).status_code == 201


def test_a_submission_whose_unit_lookup_runs_first(named_app):
    """A counter not yet in the unit cache is looked up on the main engine before the write."""
    from survey import repository

    app, name, database_url = named_app
    client = app.test_client()
    assert client.get("/s/Q1").status_code == 200
    assert terminate(database_url, name) >= 1
    with app.app_context():
        repository.clear_caches()
    answer = client.post("/api/v1/responses", json=submission())
    assert answer.status_code == 201, answer.json


def test_pool_settings_of_the_two_engines(app):
    """Pages and lookups ping a pooled connection before use; the write path does not (it
    retries its idempotent write instead), and otherwise shares the configured pool settings."""
    from survey import repository
    from survey.extensions import db

    with app.app_context():
        main, write = db.engine, repository.write_engine()
        if write is main:
            pytest.skip("one engine (in-memory SQLite)")
        assert main.pool._pre_ping is True
        assert write.pool._pre_ping is False
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert write.pool.size() == main.pool.size() == options["pool_size"]
        assert write.pool._recycle == main.pool._recycle == options["pool_recycle"]
