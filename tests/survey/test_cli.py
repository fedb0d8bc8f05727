"""The ``sipas`` command line: help without a database, accounts, API keys, mounted groups."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

from survey import cli, repository
from survey.extensions import db
from survey.models import ApiKey, User


def test_help_needs_no_database(tmp_path):
    env = {"PATH": "", "SIPAS_SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
    done = subprocess.run(
        [sys.executable, "-c", "from survey.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("db", "import", "export", "users", "apikeys", "demo", "serve", "forms", "qr"):
        assert f"  {command}" in done.stdout


def test_users_create(app, runner):
    result = runner.invoke(
        ["users", "create", "lan", "--role", "admin", "--password", "mật-khẩu-dài"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "lan"))
        assert user.role == "admin" and user.is_active
        assert check_password_hash(user.password_hash, "mật-khẩu-dài")
        assert "mật-khẩu-dài" not in user.password_hash
    again = runner.invoke(
        ["users", "create", "lan", "--role", "analyst", "--password", "another-password"]
    )
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(["users", "create", "minh", "--role", "analyst", "--password", "short"])
    assert short.exit_code == 1 and "at least 8" in short.output
    unknown = runner.invoke(
        [
            "users",
            "create",
            "an",
            "--role",
            "official",
            "--password",
            "long-enough",
            "--agency",
            "X",
        ]
    )
    assert unknown.exit_code == 1 and "unknown agency 'X'" in unknown.output


def test_apikeys_create_stores_only_a_hash(app, runner):
    result = runner.invoke(["apikeys", "create", "Cổng DVC quốc gia"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("sipas_") and len(key) > 30
    with app.app_context():
        stored = db.session.scalar(select(ApiKey))
        assert stored.name == "Cổng DVC quốc gia" and key not in stored.key_hash
        assert repository.verify_api_key(key) and not repository.verify_api_key(key + "x")


def test_unavailable_group_gives_a_clear_message(monkeypatch):
    monkeypatch.setitem(cli._MOUNTED, "analyze", ("no_such_module_xyz", "analyze", "Stats."))
    result = CliRunner().invoke(cli.main, ["analyze", "anything"])
    assert result.exit_code == 1
    assert "'sipas analyze' is not available" in result.output


def test_a_refused_configuration_is_a_clear_error_not_a_traceback(tmp_path) -> None:
    env = {
        "SIPAS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
        "SIPAS_SECRET_KEY": "short",
    }
    result = CliRunner().invoke(cli.main, ["export", "responses", "--out", "-"], env=env)
    assert result.exit_code == 1
    assert "configuration: the secret key" in result.output and "at least 32" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
