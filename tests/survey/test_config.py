"""Configuration traps (issue #13, defect 11): setting names, unknown variables, short secret
keys, and what ``sipas serve`` says it uses."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from click.testing import CliRunner
from flask import Flask

from survey import ConfigurationError, cli, create_app, serving
from survey.config import environment_settings

LONG_KEY = "k" * 48


@pytest.fixture
def clean_env(monkeypatch):
    """No SIPAS_* variable of the environment this test runs in leaks into it."""
    import os

    for name in list(os.environ):
        if name.startswith("SIPAS_") and not name.startswith("SIPAS_TEST_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _app(tmp_path, **config):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'c.db'}", **config})


def test_submit_rate_limit_is_read_under_its_documented_name(clean_env, tmp_path):
    clean_env.setenv("SIPAS_SUBMIT_RATE_LIMIT", "5 per minute")
    clean_env.setenv("SIPAS_TOKEN_MAX_AGE_DAYS", "7")
    app = _app(tmp_path, SECRET_KEY=LONG_KEY)
    assert app.config["SIPAS_SUBMIT_RATE_LIMIT"] == "5 per minute"
    assert app.config["SIPAS_TOKEN_MAX_AGE_DAYS"] == 7
    assert "SUBMIT_RATE_LIMIT" not in app.config


def test_the_doubled_name_still_works_with_a_deprecation_warning():
    settings, warnings = environment_settings({"SIPAS_SIPAS_SUBMIT_RATE_LIMIT": "9 per minute"})
    assert settings == [(["SIPAS_SUBMIT_RATE_LIMIT"], "9 per minute")]
    assert warnings == [
        "SIPAS_SIPAS_SUBMIT_RATE_LIMIT is deprecated: name it SIPAS_SUBMIT_RATE_LIMIT "
        "(it is read for now)"
    ]
    # With both names set, the documented one wins (applied last).
    settings, _ = environment_settings(
        {"SIPAS_SUBMIT_RATE_LIMIT": "1 per second", "SIPAS_SIPAS_SUBMIT_RATE_LIMIT": "9/minute"}
    )
    assert settings[-1] == (["SIPAS_SUBMIT_RATE_LIMIT"], "1 per second")


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("SIPAS_SUBMIT_RATELIMIT", "SIPAS_SUBMIT_RATE_LIMIT"),
        ("SIPAS_SQLALCHEMY_DATABASE_URL", "SIPAS_SQLALCHEMY_DATABASE_URI"),
        ("SIPAS_SECRETKEY", "SIPAS_SECRET_KEY"),
        ("SIPAS_TRUSTED_PROXY", "SIPAS_TRUSTED_PROXIES"),
    ],
)
def test_unknown_variables_are_named_with_the_closest_known_one(name, closest):
    settings, warnings = environment_settings({name: "x", "SIPAS_TEST_POSTGRES_URL": "y"})
    assert settings == []
    assert warnings == [f"{name} is not a SIPAS setting and is ignored; did you mean {closest}?"]


def test_known_and_nested_variables_give_no_warning():
    settings, warnings = environment_settings(
        {
            "SIPAS_SECRET_KEY": "s",
            "SIPAS_RATELIMIT_STORAGE_URI": "redis://r/0",
            "SIPAS_SQLALCHEMY_ENGINE_OPTIONS__pool_size": "3",
            "SIPAS_RETENTION_MONTHS": "24",
            "PATH": "/bin",
        }
    )
    assert warnings == []
    assert (["SQLALCHEMY_ENGINE_OPTIONS", "pool_size"], 3) in settings
    assert (["SIPAS_RETENTION_MONTHS"], 24) in settings


def test_an_unknown_variable_is_logged_at_startup(clean_env, tmp_path, caplog):
    clean_env.setenv("SIPAS_KIOSK_IDLE_SECOND", "30")
    with caplog.at_level(logging.WARNING, logger="survey"):
        _app(tmp_path, SECRET_KEY=LONG_KEY)
    assert (
        "SIPAS_KIOSK_IDLE_SECOND is not a SIPAS setting and is ignored; "
        "did you mean SIPAS_KIOSK_IDLE_SECONDS?"
    ) in caplog.text


@pytest.mark.parametrize("key", ["a", "x" * 31])
def test_short_secret_keys_are_refused_in_production(clean_env, tmp_path, key):
    with pytest.raises(ConfigurationError, match=r"at least 32") as refused:
        _app(tmp_path, SECRET_KEY=key)
    assert "secrets.token_urlsafe(48)" in str(refused.value)
    clean_env.setenv("SIPAS_SECRET_KEY", key)
    with pytest.raises(ConfigurationError, match="SIPAS_SECRET_KEY environment variable"):
        _app(tmp_path)


def test_short_secret_keys_are_tolerated_in_tests_debug_and_the_demo(clean_env, tmp_path):
    for extra in ({"TESTING": True}, {"DEBUG": True}, {"SIPAS_DEMO": True}):
        assert _app(tmp_path, SECRET_KEY="a", **extra).config["SECRET_KEY"] == "a"
    assert _app(tmp_path, SECRET_KEY="x" * 32).config["SECRET_KEY"] == "x" * 32


def _demo_sqlite(path):
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE agencies (id INTEGER PRIMARY KEY, code TEXT)")
        connection.execute("INSERT INTO agencies (code) VALUES ('DEMO')")
    connection.close()


def test_serve_says_it_uses_the_demos_database_and_key(clean_env, tmp_path):
    clean_env.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path))
    (tmp_path / "secret_key").write_text("d" * 64, encoding="utf-8")
    _demo_sqlite(tmp_path / "sipas.db")
    database, key = serving.describe_setup()
    assert database == (
        f"Database: sqlite:///{tmp_path / 'sipas.db'} - the DEMO database of `sipas demo` "
        "(Tỉnh Demo, synthetic responses); set SIPAS_SQLALCHEMY_DATABASE_URI to serve a real one"
    )
    assert key == (
        f"Secret key: the key file {tmp_path / 'secret_key'} (written by `sipas demo`) - the "
        "DEMO's key; set SIPAS_SECRET_KEY to a key of your own for production"
    )


def test_serve_says_which_database_and_key_it_uses_password_hidden(clean_env, tmp_path):
    clean_env.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path))
    clean_env.setenv("SIPAS_SECRET_KEY", LONG_KEY)
    clean_env.setenv("SIPAS_SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://sipas:hunter2@db/s")
    ran = []
    clean_env.setattr(serving.os, "execvp", lambda *argv: ran.append(argv))
    result = CliRunner().invoke(cli.main, ["serve"])
    assert result.exit_code == 0, result.output
    assert "Database: postgresql+psycopg://sipas:***@db/s\n" in result.output
    assert "hunter2" not in result.output
    assert "Secret key: the SIPAS_SECRET_KEY environment variable\n" in result.output
    assert ran


def test_serve_refuses_a_short_key_before_starting_gunicorn(clean_env, tmp_path):
    clean_env.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path))
    clean_env.setenv("SIPAS_SECRET_KEY", "a")
    clean_env.setattr(serving.os, "execvp", lambda *_: pytest.fail("gunicorn started"))
    result = CliRunner().invoke(cli.main, ["serve"])
    assert result.exit_code == 1
    assert "at least 32" in result.output and "token_urlsafe(48)" in result.output
