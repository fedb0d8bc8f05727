"""The demo province: units, synthetic responses with realistic satisfaction, export."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner
from sqlalchemy import func, select

from survey import cli, repository
from survey.demo import FIELDS, seed_responses, seed_units
from survey.extensions import db
from survey.models import Response
from tests.survey.stored import stored_answer_count


def test_seed_then_export(app, runner):
    with app.app_context():
        counts = seed_units()
        assert counts["fields"] == len(FIELDS) == 16 and counts["counters"] > 10
        assert seed_responses(300, random_seed=7) == 300
        assert db.session.scalar(select(func.count()).select_from(Response)) == 300
        assert stored_answer_count() > 300 * 15
        levels = {a.level for a in repository.list_agencies()}
        assert levels == {"province", "department", "district", "commune"}
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
    assert "Admin login: admin / " in result.output
    assert "/s/" in result.output  # a counter QR link
    again = CliRunner().invoke(cli.main, args)
    assert again.exit_code == 0 and "existing demo database" in again.output
    fresh = CliRunner().invoke(cli.main, [*args, "--fresh"])
    assert fresh.exit_code == 0 and "Added 40 responses (" in fresh.output
