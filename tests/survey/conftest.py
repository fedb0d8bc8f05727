"""Fixtures for the survey server: an app per test on SQLite and on PostgreSQL, client, CLI runner,
and data factories (``make_agency``, ``make_field``, ``make_counter``, ``make_procedure``).

Every test that uses ``app`` (or ``client``, ``runner``, the factories) runs twice: on a SQLite
file (WAL) and on the PostgreSQL named by ``SIPAS_TEST_POSTGRES_URL`` (skipped with a reason when
the variable is unset). Each database gets the real Alembic migration once per test session;
PostgreSQL runs in a schema of its own per session (and per xdist worker), dropped at the end.
Tables are emptied before each test.

Test apps run with ``TESTING``, a fixed ``SECRET_KEY``, rate limits off, CSRF off and a session
cookie without ``Secure`` (plain HTTP); pass other
settings through ``make_app(**config)`` (e.g. ``make_app(WTF_CSRF_ENABLED=True)``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from survey import create_app, repository
from survey.extensions import db
from survey.migrations import upgrade
from survey.models import Agency, Counter, Field, Procedure

TEST_SECRET = "test-secret-key-not-for-production"
POSTGRES_ENV = "SIPAS_TEST_POSTGRES_URL"

# Children before parents, for DELETE on SQLite.
_TABLES = (
    "summary_cells",
    "summary_months",
    "summary_state",
    "responses",
    "dossier_volumes",
    "agency_lineage",
    "form_versions",
    "users",
    "api_keys",
    "counters",
    "procedures",
    "fields",
    "agencies",
)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database file for this test session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'sipas-test.db'}"
    upgrade(url)
    return url


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema (dropped on exit); skips without PostgreSQL."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://...)")
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    """A migrated PostgreSQL schema for this test session (and xdist worker), dropped at the end."""
    with postgres_schema(f"sipas_test_{worker_id}") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """The xdist worker (``gw0`` …), or ``main`` without xdist."""
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def empty_tables() -> Iterator[Callable[[str], None]]:
    """Delete every row of a test database (DELETE: much faster than TRUNCATE on tiny tables)."""
    engines: dict[str, Engine] = {}

    def clean(url: str) -> None:
        engine = engines.get(url)
        if engine is None:
            engine = engines[url] = create_engine(url)
        with engine.begin() as connection:
            for table in _TABLES:
                connection.execute(text(f"DELETE FROM {table}"))

    yield clean
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, empty_tables: Callable[[str], None]) -> str:
    """The URL of a clean, migrated test database (both kinds, one after the other)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    empty_tables(url)
    return url


def app_config(database_url: str, **config: Any) -> dict[str, Any]:
    """The settings of a test app on ``database_url``, ``config`` applied over them."""
    settings: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,  # tests and the browser tests speak plain HTTP
    }
    settings.update(config)
    return settings


def dispose_engines(app: Flask) -> None:
    """Close the database connections of a test app."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test database with extra configuration (``make_app(KEY=value)``)."""
    apps: list[Flask] = []

    def factory(**config: Any) -> Flask:
        app = create_app(app_config(database_url, **config))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        dispose_engines(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The application on a clean test database."""
    return make_app()


@pytest.fixture
def client(app: Flask):
    """A test client of ``app``."""
    return app.test_client()


class AppCliRunner:
    """Invoke ``sipas`` commands against the test app (``runner.invoke(["export", ...])``)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._runner = CliRunner()

    def invoke(self, args: list[str], **kwargs: Any) -> Result:
        from survey.cli import main

        info = ScriptInfo(create_app=lambda: self.app, set_debug_flag=False)
        result = self._runner.invoke(main, args, obj=info, **kwargs)
        with self.app.app_context():
            repository.clear_caches()
        return result


@pytest.fixture
def runner(app: Flask) -> AppCliRunner:
    """A CLI runner bound to ``app``."""
    return AppCliRunner(app)


def _detached(app: Flask, obj: Any) -> Any:
    """Commit ``obj`` and return it detached, with its columns loaded."""
    with app.app_context():
        db.session.add(obj)
        db.session.commit()
        db.session.refresh(obj)
        db.session.expunge(obj)
    return obj


def _id(app: Flask, model: Any, ref: Any) -> int | None:
    """Accept a model instance, a code or None."""
    if ref is None:
        return None
    if isinstance(ref, str):
        with app.app_context():
            return db.session.query(model.id).filter(model.code == ref).scalar()
    return ref.id


@pytest.fixture
def make_agency(app: Flask) -> Callable[..., Agency]:
    """Create an agency: ``make_agency(code="STP", level="department", parent=province)``."""
    counter = iter(range(1, 10_000))

    def factory(code: str | None = None, **kwargs: Any) -> Agency:
        n = next(counter)
        parent = kwargs.pop("parent", None)
        values = {
            "code": code or f"AG{n}",
            "name_vi": f"Cơ quan {n}",
            "name_en": f"Agency {n}",
            "level": "department",
            "parent_id": _id(app, Agency, parent),
        }
        values.update(kwargs)
        return _detached(app, Agency(**values))

    return factory


@pytest.fixture
def make_field(app: Flask) -> Callable[..., Field]:
    """Create a procedure field: ``make_field(code="HT", name_vi="Hộ tịch")``."""
    counter = iter(range(1, 10_000))

    def factory(code: str | None = None, **kwargs: Any) -> Field:
        n = next(counter)
        values = {"code": code or f"F{n}", "name_vi": f"Lĩnh vực {n}", "name_en": f"Field {n}"}
        values.update(kwargs)
        return _detached(app, Field(**values))

    return factory


@pytest.fixture
def make_counter(app: Flask, make_agency: Callable[..., Agency]) -> Callable[..., Counter]:
    """Create a counter (and an agency when none is given): ``make_counter(field=f)``."""
    counter = iter(range(1, 10_000))

    def factory(code: str | None = None, **kwargs: Any) -> Counter:
        n = next(counter)
        agency = kwargs.pop("agency", None) or make_agency()
        field = kwargs.pop("field", None)
        values = {
            "code": code or f"Q{n}",
            "agency_id": _id(app, Agency, agency),
            "name_vi": f"Quầy số {n}",
            "name_en": f"Counter {n}",
            "field_id": _id(app, Field, field),
            "active": True,
        }
        values.update(kwargs)
        return _detached(app, Counter(**values))

    return factory


@pytest.fixture
def make_procedure(app: Flask) -> Callable[..., Procedure]:
    """Create a procedure: ``make_procedure(code="1.001", field=f)``."""
    counter = iter(range(1, 10_000))

    def factory(code: str | None = None, **kwargs: Any) -> Procedure:
        n = next(counter)
        field = kwargs.pop("field", None)
        values = {
            "code": code or f"P{n}",
            "name_vi": f"Thủ tục {n}",
            "name_en": f"Procedure {n}",
            "field_id": _id(app, Field, field),
        }
        values.update(kwargs)
        return _detached(app, Procedure(**values))

    return factory


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A new, migrated database of its own (a SQLite file in ``tmp_path``, or a PostgreSQL
    schema dropped at the end), for a server process started by the test (both kinds)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        upgrade(url)
        yield url
        return
    with postgres_schema("sipas_fresh") as url:
        upgrade(url)
        yield url
