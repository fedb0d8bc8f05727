"""How :func:`survey.repository.save_response` talks to the database: the SQL it sends per
submission, and its one retry when a pooled connection has died (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, func, select, text

from survey import repository
from survey.extensions import db
from survey.models import Response
from survey.submissions import Submission
from tests.survey.stored import stored_answer_count
from tests.survey.submitted import NOW, counter_submission

ANSWERS = {"e1_1": 5, "e1_2": 4, "e2_1": 0, "x1": 2, "sex": 1}


def _submission(**overrides: object) -> Submission:
    return counter_submission(ANSWERS, **overrides)


@pytest.fixture
def units(make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))


def _statements_of(app, work) -> list[str]:
    """SQL statements (first word upper-cased, plus COMMIT) sent while ``work()`` runs."""
    sent: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    def on_commit(_conn) -> None:
        sent.append("COMMIT")

    engine = repository.write_engine()
    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
    return sent


def test_a_submission_is_one_statement(app, units):
    with app.app_context():
        repository.save_response(_submission(), now=NOW)  # warms the unit and form caches
        sub = _submission()
        sent = _statements_of(app, lambda: repository.save_response(sub, now=NOW))
        stored = repository.get_response(sub.uuid)
        n_answers = stored_answer_count(stored.row_id)
        dialect = db.engine.dialect.name
    # One INSERT of one row (the answers are its answer_codes array), in autocommit: no BEGIN,
    # no separate COMMIT.
    assert dialect in ("postgresql", "sqlite")
    assert sent == ["INSERT"]
    assert stored.answers == ANSWERS and n_answers == len(ANSWERS)


def test_empty_answers_store_the_response_alone(app, units):
    with app.app_context():
        sub = _submission(answers={})
        assert repository.save_response(sub, now=NOW).created
        assert repository.get_response(sub.uuid).answers == {}
        assert stored_answer_count() == 0
        assert db.session.scalar(select(Response.answer_codes)) == [None] * len(
            repository.load_form("sipas-counter").item_keys
        )


def test_a_dead_pooled_connection_is_replaced_and_the_write_retried(app, units, database_url):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            # SQLite connections cannot be killed from outside; a disposed pool must still serve.
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
            assert repository.save_response(_submission(), now=NOW).created
            return
        repository.save_response(_submission(), now=NOW)  # warms the caches: no session use next
        engine = repository.write_engine()
        engine.dispose()
        repository.save_response(_submission(), now=NOW)  # the pool now holds one connection
        with engine.connect() as connection:
            pid = connection.scalar(text("SELECT pg_backend_pid()"))
        killer = create_engine(database_url)
        try:
            with killer.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            killer.dispose()
        invalidated: list[object] = []
        event.listen(engine.pool, "invalidate", lambda *args: invalidated.append(args))
        sub = _submission()
        assert repository.save_response(sub, now=NOW).created
        assert invalidated, "the dead connection was not detected (nothing was retried)"
        assert repository.get_response(sub.uuid).answers == ANSWERS
        assert db.session.scalar(select(func.count()).select_from(Response)) == 3


def test_writes_use_an_engine_of_their_own_on_the_same_database(app, units):
    with app.app_context():
        write = repository.write_engine()
        assert write is not db.engine
        assert write.url.render_as_string(hide_password=False) == db.engine.url.render_as_string(
            hide_password=False
        )
        sub = _submission()
        repository.save_response(sub, now=NOW)
        # Written in autocommit on the write engine, read back through the app's session.
        assert repository.get_response(sub.uuid).answers == ANSWERS


def test_an_in_memory_sqlite_database_keeps_one_engine_for_writes():
    """Each engine of ``sqlite://`` would be a database of its own: writes use the main one."""
    from survey import create_app
    from survey.models import Agency

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SQLALCHEMY_ENGINE_OPTIONS": {},  # one static connection: no pool size
            "SECRET_KEY": "x",
            "TESTING": True,
        }
    )
    with app.app_context():
        assert list(db.engines) == [None]
        db.metadata.create_all(db.engine)
        db.session.add(Agency(code="STP", name_vi="Sở Tư pháp", level="department"))
        db.session.commit()
        sub = _submission(counter_code=None, agency_code="STP")
        assert repository.save_response(sub, now=NOW).created
        assert repository.get_response(sub.uuid).answers == ANSWERS
        db.session.remove()
        db.engine.dispose()
