"""The Alembic migrations build exactly the schema of the models (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from survey.extensions import Base
from survey.migrations import alembic_config, upgrade
from survey.models import FormVersion
from tests.survey.conftest import postgres_schema


def test_migrated_schema_matches_models(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
            current = context.get_current_revision()
    finally:
        engine.dispose()
    assert diffs == []
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert current == head


def test_one_linear_history():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = [r.revision for r in script.walk_revisions()][::-1]
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert script.get_current_head() == revisions[-1]


def test_0003_renames_the_roles(tmp_path):
    url = f"sqlite:///{tmp_path / 'roles.db'}"
    upgrade(url, "0002")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for name, role in [("a", "admin"), ("m", "manager"), ("v", "viewer")]:
                connection.execute(
                    text(
                        "INSERT INTO users (username, password_hash, display_name, role, active,"
                        " created_at) VALUES (:u, 'x', '', :r, 1, '2026-01-01')"
                    ),
                    {"u": name, "r": role},
                )
        upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT username, role, session_epoch FROM users ORDER BY username")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("a", "admin", 0),
        ("m", "analyst", 0),
        ("v", "official", 0),
    ]


def test_app_does_not_create_tables(tmp_path):
    from survey import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
    with app.app_context():
        from survey.extensions import db

        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_upgrade_on_an_empty_database(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    runner.app.config["SQLALCHEMY_DATABASE_URI"] = url
    result = runner.invoke(["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"responses", "form_versions", "alembic_version"} <= tables
        assert "answers" not in tables  # replaced by responses.answer_codes (revision 0002)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_url(request, tmp_path, worker_id) -> Iterator[str]:
    """An empty database (SQLite file, or a fresh PostgreSQL schema), not migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with postgres_schema(f"sipas_migration_{worker_id}") as url:
        yield url


# Revision 0001 rows, as raw SQL (UUIDs as 32 hex digits: SQLAlchemy's Uuid on SQLite).
_OLD_ROWS = """
INSERT INTO agencies (id, code, name_vi, name_en, level)
VALUES (1, 'T01', 'Tỉnh', 'Province', 'province');
INSERT INTO form_versions (id, form_id, version, content_hash, first_seen_at)
VALUES (1, 'sipas-counter', 1, 'old-hash', '2026-01-01 00:00:00+00');
INSERT INTO responses (id, uuid, form_version_id, form_id, form_version, submitted_at, agency_id,
    channel, flags, locale, content_hash)
VALUES (1, '00000000000040008000000000000001', 1, 'sipas-counter', 1,
        '2026-02-01 00:00:00+00', 1, 'api', '', 'vi', 'h1'),
       (2, '00000000000040008000000000000002', 1, 'sipas-counter', 1,
        '2026-02-02 00:00:00+00', 1, 'api', '', 'vi', 'h2'),
       (3, '00000000000040008000000000000003', 1, 'sipas-counter', 1,
        '2026-02-03 00:00:00+00', 1, 'api', '', 'vi', 'h3');
INSERT INTO answers (response_id, item_key, value)
VALUES (1, 'e1_1', 5), (1, 'e2_1', 0), (1, 'sex', 2), (2, 'e1_1', 3), (2, 'x1', 4);
"""
_OLD_ANSWERS = {1: {"e1_1": 5, "e2_1": 0, "sex": 2}, 2: {"e1_1": 3, "x1": 4}, 3: {}}


def _insert_old_rows(engine) -> None:
    with engine.begin() as connection:
        for statement in _OLD_ROWS.split(";"):
            if statement.strip():
                connection.execute(text(statement))
        if connection.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for table in ("agencies", "form_versions", "responses"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 10)")
                )


def test_answers_move_into_arrays_and_back(unmigrated_url):
    """Revision 0002 turns the answers table into responses.answer_codes without losing an
    answer, the application reads them back, and the downgrade restores the table."""
    from survey import create_app, repository
    from survey.extensions import db

    upgrade(unmigrated_url, "0001")
    engine = create_engine(unmigrated_url)
    try:
        _insert_old_rows(engine)
        upgrade(unmigrated_url, "head")
        with engine.connect() as connection:
            layout = connection.execute(text("SELECT item_keys FROM form_versions")).scalar_one()
        layout = json.loads(layout) if isinstance(layout, str) else layout
        assert layout == ["e1_1", "e2_1", "sex", "x1"]  # answered keys, sorted

        app = create_app({"SQLALCHEMY_DATABASE_URI": unmigrated_url, "SECRET_KEY": "x" * 32})
        with app.app_context():
            for rid, answers in _OLD_ANSWERS.items():
                found = repository.get_response(uuid.UUID(f"00000000-0000-4000-8000-{rid:012d}"))
                assert found is not None and found.answers == answers
            app_engines = list(db.engines.values())
        for app_engine in app_engines:
            app_engine.dispose()

        command.downgrade(alembic_config(unmigrated_url), "0001")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT response_id, item_key, value FROM answers"))
            restored: dict[int, dict[str, int]] = {rid: {} for rid in _OLD_ANSWERS}
            for rid, key, value in rows:
                restored[rid][key] = value
        assert restored == _OLD_ANSWERS
    finally:
        engine.dispose()


def test_new_answer_columns_are_appended_to_a_converted_version(unmigrated_url):
    """A converted version lacks the items nobody had answered: recording an answer to one of
    them appends its column without moving the others."""
    from survey import create_app, repository
    from survey.extensions import db
    from survey.submissions import Submission

    upgrade(unmigrated_url, "0001")
    engine = create_engine(unmigrated_url)
    try:
        _insert_old_rows(engine)
        upgrade(unmigrated_url, "head")
    finally:
        engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": unmigrated_url, "SECRET_KEY": "x" * 32})
    with app.app_context():
        form = repository.load_form("sipas-counter", 1)
        old = db.session.get(FormVersion, 1)
        old.content_hash = form.content_hash  # the converted row is this exact definition
        db.session.commit()
        layout = repository.record_form_version(form)
        assert layout.id == 1
        assert layout.item_keys[:4] == ("e1_1", "e2_1", "sex", "x1")
        assert set(layout.item_keys) == set(form.item_keys)
        answers = {"e1_2": 4, "e1_1": 2, "ethnicity": 1}
        repository.save_response(
            Submission(
                uuid=uuid.uuid4(),
                form_id=form.id,
                form_version=1,
                answers=answers,
                agency_code="T01",
                channel="api",
            )
        )
        stored = repository.list_responses(form_id=form.id)
        assert [r.answers for r in stored] == [*_OLD_ANSWERS.values(), answers]
        app_engines = list(db.engines.values())
    for app_engine in app_engines:
        app_engine.dispose()


def test_0007_adds_validity_and_lineage_and_removes_them(unmigrated_url):
    """Revision 0007: existing units stay valid throughout (NULL dates) and a lineage row can
    link two of them; the downgrade drops both and keeps the units."""
    upgrade(unmigrated_url, "0006")
    engine = create_engine(unmigrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO agencies (id, code, name_vi, name_en, level) VALUES"
                    " (1, 'X_A', 'Xã A', '', 'commune'), (2, 'X_B', 'Xã B', '', 'commune')"
                )
            )
        upgrade(unmigrated_url, "0007")
        with engine.begin() as connection:
            rows = connection.execute(
                text("SELECT code, valid_from, valid_until FROM agencies ORDER BY id")
            ).all()
            assert [tuple(r) for r in rows] == [("X_A", None, None), ("X_B", None, None)]
            connection.execute(
                text(
                    "INSERT INTO agency_lineage (predecessor_id, successor_id, effective_on, kind)"
                    " VALUES (1, 2, '2025-07-01', 'merge')"
                )
            )
            connection.execute(text("UPDATE agencies SET valid_until = '2025-06-30' WHERE id = 1"))
            stored = connection.execute(
                text("SELECT effective_on, kind, note FROM agency_lineage")
            ).one()
            assert str(stored[0]) == "2025-07-01" and stored[1:] == ("merge", "")
        command.downgrade(alembic_config(unmigrated_url), "0006")
        inspector = inspect(engine)
        assert "agency_lineage" not in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("agencies")}
        assert {"valid_from", "valid_until"}.isdisjoint(columns) and "code" in columns
        with engine.connect() as connection:
            codes = connection.execute(text("SELECT code FROM agencies ORDER BY id")).scalars()
            assert list(codes) == ["X_A", "X_B"]
    finally:
        engine.dispose()


def test_0006_replaces_the_summary_rows_by_cells(unmigrated_url):
    """Revision 0006: the row-per-answer summary tables go, with the summary's state (the next
    refresh builds the cells); the downgrade brings back the empty old tables."""
    upgrade(unmigrated_url, "0005")
    engine = create_engine(unmigrated_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO summary_state (form_id, definition, watermark, built_at,"
                    " refreshed_at) VALUES ('f', 'd', 7, '2026-01-01', '2026-01-01')"
                )
            )
        upgrade(unmigrated_url, "0006")
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert "summary_cells" in tables and not {"summary_counts", "summary_pairs"} & tables
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM summary_state")).scalar() == 0
        assert "layout" in {c["name"] for c in inspector.get_columns("summary_state")}
        command.downgrade(alembic_config(unmigrated_url), "0005")
        tables = set(inspect(engine).get_table_names())
        assert {"summary_counts", "summary_pairs"} <= tables and "summary_cells" not in tables
    finally:
        engine.dispose()
