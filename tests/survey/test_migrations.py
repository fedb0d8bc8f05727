"""The Alembic migrations build exactly the schema of the models (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from survey.extensions import Base
from survey.migrations import alembic_config


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
    assert [r.revision for r in script.walk_revisions()][-1] == "0001"


def test_app_does_not_create_tables(tmp_path):
    from survey import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x"})
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
        assert {"responses", "answers", "alembic_version"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
