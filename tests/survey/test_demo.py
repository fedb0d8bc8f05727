"""The demo province: units, synthetic responses with realistic satisfaction, export."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from survey import cli, create_app, repository
from survey.demo import DEMO_ACCOUNTS, FIELDS, seed_responses, seed_units
from survey.extensions import db
from survey.models import Response, User
from tests.survey.stored import stored_answer_count


def test_seed_then_export(app, runner):
    with app.app_context():
        counts = seed_units()
        assert counts["fields"] == len(FIELDS) == 16 and counts["counters"] > 10
        assert seed_responses(300, random_seed=7) == 300
        assert db.session.scalar(select(func.count()).select_from(Response)) == 300
        assert stored_answer_count() > 300 * 15
        levels = {a.level for a in repository.list_agencies()}
        assert levels == {"province", "department", "commune"}  # two levels: no districts
    result = runner.invoke(["export", "responses"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 300
    rated = [int(r[k]) for r in rows for k in r if k.startswith("e") and r[k] not in ("", "0")]
    satisfied = sum(code >= 4 for code in rated) / len(rated)
    assert 0.75 <= satisfied <= 0.95
    assert any(r["e5_1"] == "0" for r in rows)  # some "not applicable"
    assert any(r["comment"] for r in rows)
    assert {r["channel"] for r in rows} <= {"counter_qr", "dossier_qr", "kiosk", "api", "portal"}


def test_demo_command_seeds_a_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SIPAS_SECRET_KEY", raising=False)
    database = tmp_path / "demo.db"
    args = ["demo", "--no-serve", "--database", str(database), "--responses", "40"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "Added 40 responses (" in result.output
    assert "/login with a demo account" in result.output
    assert "/s/" in result.output  # a counter QR link
    again = CliRunner().invoke(cli.main, args)
    assert again.exit_code == 0 and "existing demo database" in again.output
    fresh = CliRunner().invoke(cli.main, [*args, "--fresh"])
    assert fresh.exit_code == 0 and "Added 40 responses (" in fresh.output


def _printed_logins(output: str) -> dict[str, str | None]:
    """``{login: password or None}`` from the demo's account lines."""
    found = {}
    for login, *_ in DEMO_ACCOUNTS:
        line = re.search(rf"^  {re.escape(login)} +password (\S+)", output, re.MULTILINE)
        assert line is not None, output
        found[login] = None if line.group(1) == "as" else line.group(1)
    return found


def _accounts(database: Path) -> dict[str, tuple[str, str | None, str, int]]:
    """``{login: (role, agency code, password hash, session epoch)}`` in the demo database."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "x" * 32})
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        found = {
            u.username: (
                u.role,
                u.agency.code if u.agency else None,
                u.password_hash,
                u.session_epoch,
            )
            for u in users
        }
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return found


def test_demo_accounts_one_per_role_printed_every_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SIPAS_SECRET_KEY", raising=False)
    database = tmp_path / "demo.db"
    args = ["demo", "--no-serve", "--database", str(database), "--responses", "30"]
    first = CliRunner().invoke(cli.main, args)
    assert first.exit_code == 0, first.output
    assert "Sign in at http://127.0.0.1:5000/login" in first.output
    passwords = _printed_logins(first.output)
    stored = _accounts(database)
    assert set(stored) == {login for login, *_ in DEMO_ACCOUNTS}
    assert sorted(role for role, *_ in stored.values()) == [
        "admin",
        "analyst",
        "official",
        "official",
    ]
    assert stored["official.anphu"][1] == "X_AN_PHU" and stored["official.stnmt"][1] == "STNMT"
    assert stored["admin"][1] is None and stored["analyst"][1] is None
    for login, password in passwords.items():
        assert password is not None and check_password_hash(stored[login][2], password)

    # A restart on the same database lists the logins and says how to get passwords.
    again = CliRunner().invoke(cli.main, args)
    assert again.exit_code == 0, again.output
    assert set(_printed_logins(again.output).values()) == {None}
    assert f"sipas demo --reset-logins --database {database}" in again.output
    assert _accounts(database) == stored

    # --reset-logins: new passwords, printed; the old ones stop working, sessions end.
    reset = CliRunner().invoke(cli.main, [*args, "--reset-logins"])
    assert reset.exit_code == 0, reset.output
    new = _printed_logins(reset.output)
    after = _accounts(database)
    for login, password in new.items():
        assert password is not None and password != passwords[login]
        assert check_password_hash(after[login][2], password)
        assert not check_password_hash(after[login][2], passwords[login])
        assert after[login][3] == stored[login][3] + 1
        assert after[login][:2] == stored[login][:2]
