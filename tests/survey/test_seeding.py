"""Bulk synthetic responses (``survey.seeding``, ``sipas demo --db-url``) on SQLite and PostgreSQL:
the rows are those the write path would store, realistic for reports, and written fast."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, text

from survey import cli, repository
from survey.demo import DEMO_PROFILE, seed_responses, seed_units
from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure, Response, User
from survey.quality import format_flags, quality_flags
from survey.seeding import CHANNELS
from survey.submissions import Submission, content_hash

NOW = datetime(2026, 3, 18, 8, 15, tzinfo=UTC)
VIETNAM = timedelta(hours=7)


def _stored_rows() -> list:
    """Every response with its unit codes (app context)."""
    return db.session.execute(
        select(
            Response,
            Agency.code.label("agency_code"),
            Counter.code.label("counter_code"),
            Counter.agency_id.label("counter_agency_id"),
            Counter.field_id.label("counter_field_id"),
            Field.code.label("field_code"),
            Procedure.code.label("procedure_code"),
            Procedure.field_id.label("procedure_field_id"),
        )
        .join(Agency, Response.agency_id == Agency.id)
        .outerjoin(Counter, Response.counter_id == Counter.id)
        .join(Field, Response.field_id == Field.id)
        .outerjoin(Procedure, Response.procedure_id == Procedure.id)
        .order_by(Response.id)
    ).all()


def test_seeded_rows_are_what_the_write_path_stores(app: Flask, runner) -> None:
    with app.app_context():
        seed_units(now=NOW)
        assert seed_responses(1500, random_seed=3, now=NOW) == 1500
        form = repository.load_form("sipas-counter")
        layout = repository.record_form_version(form)
        rows = _stored_rows()
        assert len(rows) == 1500
        rating_keys = [item.key for item in form.rating_items]
        for row in rows:
            response = row.Response
            answers = repository.decode_answers(layout.item_keys, response.answer_codes)
            assert form.validate_answers(answers) == answers
            assert form.validate_comment(response.comment) == response.comment
            submission = Submission(
                uuid=response.uuid,
                form_id=response.form_id,
                form_version=response.form_version,
                answers=answers,
                comment=response.comment,
                counter_code=row.counter_code,
                field_code=row.field_code,
                procedure_code=row.procedure_code,
                channel=response.channel,
            )
            expected_hash = content_hash(
                submission, answers, agency_code=row.agency_code, field_code=row.field_code
            )
            assert response.content_hash == expected_hash
            expected_flags = quality_flags(
                {key: answers.get(key) for key in rating_keys},
                started_at=response.started_at,
                submitted_at=response.submitted_at,
                min_seconds=app.config["SIPAS_MIN_SECONDS"],
                honeypot=None,
            )
            assert response.flags == format_flags(expected_flags)
            assert response.uuid.version == 4 and response.form_version_id == layout.id
            # Units hang together: the counter belongs to the agency, the procedure to the
            # field, a counter's own field is the response's field (online answers too: the
            # counter that received the dossier).
            assert row.counter_agency_id == response.agency_id
            assert row.counter_field_id in (None, response.field_id)
            assert row.procedure_field_id in (None, response.field_id)
            assert row.field_code in DEMO_PROFILE.agency_fields[row.agency_code]
            submitted = response.submitted_at.astimezone(UTC)
            assert NOW - timedelta(days=365) <= submitted < NOW
            local = submitted + VIETNAM
            assert local.weekday() < 5 and 7.5 <= local.hour + local.minute / 60 < 17
        ids = [row.Response.id for row in rows]
        times = [row.Response.submitted_at for row in rows]
        assert times == sorted(times) and ids == sorted(ids)
        assert {row.Response.channel for row in rows} == set(CHANNELS)
        flags = Tally(row.Response.flags for row in rows)
        assert flags["too_fast"] > 0 and flags["straightlining"] > 0
        comments = [row.Response for row in rows if row.Response.comment]
        # Phone numbers are stored masked, as the write path stores them, and flagged so.
        phoned = [r for r in comments if re.search(r"•••• ••• •\d\d", r.comment)]
        assert phoned and all(r.comment_masked for r in phoned)
        assert not any(re.search(r"09\d\d \d{3} \d{3}", r.comment) for r in comments)
        assert sum(r.comment_masked for r in comments) == len(phoned)
        assert {row.Response.locale for row in rows} == {"vi", "en"}
        assert any(row.procedure_code is None for row in rows)
    exported = runner.invoke(["export", "responses"])
    assert exported.exit_code == 0, exported.output
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(table) == 1500
    for line in table:
        answers = {key: line[key] for key in form.item_keys if line[key] != ""}
        assert form.validate_answers(answers) == {k: int(v) for k, v in answers.items()}
    assert Tally(line["flags"] for line in table) == flags


def _satisfied_share(rows: list, keep) -> float:
    form = repository.load_form("sipas-counter")
    positions = range(len(form.rating_items))
    valid = satisfied = 0
    for row in rows:
        if keep(row):
            codes = [row.Response.answer_codes[i] for i in positions]
            valid += sum(c is not None and c >= 1 for c in codes)
            satisfied += sum(c is not None and c >= 4 for c in codes)
    return satisfied / valid


def test_demo_data_differs_by_unit_and_over_time(app: Flask) -> None:
    with app.app_context():
        seed_units(now=NOW)
        seed_responses(20_000, random_seed=5, now=NOW)
        rows = _stored_rows()
        overall = _satisfied_share(rows, lambda r: True)
        assert 0.75 <= overall <= 0.92
        by_agency = {
            code: _satisfied_share(rows, lambda r, code=code: r.agency_code == code)
            for code in ("STNMT", "X_AN_HOA", "STP", "SKHDT")
        }
        assert by_agency["STNMT"] < overall - 0.05  # clearly worse
        assert by_agency["X_AN_HOA"] > overall + 0.03  # clearly better
        assert abs(by_agency["STP"] - by_agency["SKHDT"]) < 0.04  # alike
        middle = NOW - timedelta(days=182)
        rising = [
            _satisfied_share(
                rows,
                lambda r, late=late: (
                    r.agency_code == "P_BINH_MINH"
                    and (r.Response.submitted_at.astimezone(UTC) >= middle) == late
                ),
            )
            for late in (False, True)
        ]
        assert rising[1] > rising[0] + 0.04
        months = {r.Response.submitted_at.astimezone(UTC).strftime("%Y-%m") for r in rows}
        assert len(months) == 13  # 12 months back from mid-March: March to March

        def pool(row) -> str:
            text = (row.Response.comment or "").split(" Nếu cần")[0]
            if text in DEMO_PROFILE.comments_negative:
                return "negative"
            return "positive" if text in DEMO_PROFILE.comments_positive else "none"

        assert {pool(r) for r in rows} == {"negative", "positive", "none"}
        negative = _satisfied_share(rows, lambda r: pool(r) == "negative")
        assert negative < 0.75 < _satisfied_share(rows, lambda r: pool(r) == "positive")
        share = Tally(r.Response.channel for r in rows)
        assert share["counter_qr"] > share["dossier_qr"] > share["kiosk"] > share["api"] > 0


@pytest.mark.postgres
def test_bulk_load_rebuilds_indexes_and_rolls_back_whole(postgres_url: str, empty_tables) -> None:
    """PostgreSQL's bulk path drops and rebuilds the table's indexes and constraints inside the
    transaction: a failure leaves the schema and the table as they were."""
    from survey import create_app
    from survey.seeding import seed_responses as bulk

    empty_tables(postgres_url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url, "SECRET_KEY": "x" * 32})
    structures = text(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'responses'::regclass UNION ALL "
        "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'responses'::regclass ORDER BY 1"
    )
    with app.app_context():
        seed_units(now=NOW)
        before = db.session.scalars(structures).all()
        assert len(before) >= 12
        form = repository.load_form("sipas-counter")
        layout = repository.record_form_version(form)

        def fail(done: int) -> None:
            if done > 300:
                raise RuntimeError("stop")

        with pytest.raises(RuntimeError):
            bulk(
                db.session.connection(),
                1000,
                form=form,
                layout=layout,
                profile=DEMO_PROFILE,
                now=NOW,
                chunk_rows=200,
                rebuild_indexes=True,
                progress=fail,
            )
        db.session.rollback()
        assert db.session.scalars(structures).all() == before
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        written = bulk(
            db.session.connection(),
            1000,
            form=form,
            layout=layout,
            profile=DEMO_PROFILE,
            now=NOW,
            chunk_rows=300,
            rebuild_indexes=True,
        )
        db.session.commit()
        assert written == 1000
        assert db.session.scalars(structures).all() == before
        assert db.session.scalar(select(func.count(func.distinct(Response.uuid)))) == 1000
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def _demo(*args: str):
    return CliRunner().invoke(cli.main, ["demo", "--no-serve", *args])


def test_demo_db_url_seeds_then_reuses(database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("SIPAS_SECRET_KEY", "demo-test-secret-" + "0" * 32)
    first = _demo("--db-url", database_url, "--responses", "250")
    assert first.exit_code == 0, first.output
    assert "Added 250 responses" in first.output
    again = _demo("--db-url", database_url, "--responses", "900")
    assert again.exit_code == 0, again.output
    assert "Using the existing demo database" in again.output and "250 responses" in again.output
    assert "Added" not in again.output
    from survey import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 250
        assert db.session.scalar(select(func.count()).select_from(Agency)) == 18
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_demo_refuses_a_database_with_other_data(app: Flask, database_url: str, monkeypatch):
    monkeypatch.setenv("SIPAS_SECRET_KEY", "demo-test-secret-" + "0" * 32)
    with app.app_context():
        db.session.add(Agency(code="HN", name_vi="UBND TP Hà Nội", level="province"))
        db.session.commit()
    result = _demo("--db-url", database_url, "--responses", "50")
    assert result.exit_code != 0
    assert "not the demo province" in result.output and "nothing written" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Agency)) == 1
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_fresh_needs_a_sqlite_file() -> None:
    result = _demo("--db-url", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--fresh")
    assert result.exit_code == 2 and "--fresh" in result.output
    both = _demo("--db-url", "sqlite://", "--database", "x.db")
    assert both.exit_code == 2 and "either --database or --db-url" in both.output
