"""Group commit on the write path (:mod:`survey.repository.group_insert`), SQLite and PostgreSQL.

Each test holds the first ``INSERT`` on the write engine while other threads queue their rows
behind it, one at a time (so the order inside the next batch is known), then lets it go: the
queued rows are then written by one ``INSERT``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, select

from survey import repository
from survey.extensions import db
from survey.models import Procedure, Response
from survey.repository import ConflictingResubmission, SubmissionError, TokenAlreadyUsed
from survey.repository.group_insert import GroupInsert, Outcome, skip_conflicts_insert
from survey.repository.responses import group_insert
from survey.repository.units import resolve_units
from survey.submissions import Submission
from tests.survey.submitted import NOW, counter_submission

ANSWERS = {"e1_1": 5, "e1_2": 4, "x1": 2}
WAIT_SECONDS = 10.0


def _submission(**overrides: object) -> Submission:
    return counter_submission(ANSWERS, **overrides)


@pytest.fixture
def units(make_agency, make_counter):
    make_counter("Q1", agency=make_agency("STP"))


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.002)


@contextmanager
def _first_insert_held(engine) -> Iterator[tuple[threading.Event, threading.Event, list[str]]]:
    """Hold the first statement on ``engine`` until ``release`` is set; record every statement."""
    entered, release = threading.Event(), threading.Event()
    sent: list[str] = []

    def hold(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement.split(None, 1)[0].upper())
        if not entered.is_set():
            entered.set()
            release.wait(WAIT_SECONDS)

    event.listen(engine, "before_cursor_execute", hold)
    try:
        yield entered, release, sent
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", hold)


def _save_behind_a_held_insert(app, first: Submission, queued: list[Submission]):
    """Save ``first`` (its INSERT held), queue ``queued`` behind it in order, then release.

    Returns the outcome of each submission (a SaveResult or the exception it raised), in the
    order ``[first, *queued]``, and the first words of the statements sent meanwhile.
    """
    with app.app_context():
        engine = repository.write_engine()
        group = group_insert(engine)
    assert group is not None
    outcomes: dict[int, object] = {}

    def save(index: int, submission: Submission) -> None:
        with app.app_context():
            try:
                outcomes[index] = repository.save_response(submission, now=NOW)
            except Exception as exc:  # recorded and asserted by the caller
                outcomes[index] = exc

    threads = []
    with _first_insert_held(engine) as (entered, release, sent):
        threads.append(threading.Thread(target=save, args=(0, first)))
        threads[0].start()
        assert entered.wait(WAIT_SECONDS), "the first INSERT never started"
        for index, submission in enumerate(queued, start=1):
            threads.append(threading.Thread(target=save, args=(index, submission)))
            threads[-1].start()
            _until(lambda n=index: group.queued == n, f"{index} rows are queued")
        release.set()
        for thread in threads:
            thread.join(WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    return [outcomes[i] for i in range(len(threads))], sent


def _warm(app) -> None:
    """One submission first: unit and form caches filled, so only INSERTs reach the engine."""
    with app.app_context():
        repository.save_response(_submission(), now=NOW)


def _stored_uuids(app) -> set[uuid.UUID]:
    with app.app_context():
        return set(db.session.scalars(select(Response.uuid)))


def test_rows_queued_during_a_write_share_the_next_insert(app, units):
    _warm(app)
    first, queued = _submission(), [_submission() for _ in range(6)]
    outcomes, sent = _save_behind_a_held_insert(app, first, queued)
    assert [o.created for o in outcomes] == [True] * 7
    assert sent == ["INSERT", "INSERT"]  # the held row alone, then the six queued ones together
    assert {s.uuid for s in [first, *queued]} <= _stored_uuids(app)
    with app.app_context():
        for submission in [first, *queued]:
            assert repository.get_response(submission.uuid).answers == ANSWERS


def test_conflicts_inside_one_batch_are_told_apart(app, units):
    _warm(app)
    original = _submission()
    same_again = original  # an identical resubmit of the same UUID
    changed = _submission(uuid=original.uuid, answers={"e1_1": 1})
    token = {"channel": "dossier_qr", "token_id": "tok-1", "dossier_hash": "d" * 64}
    with_token, token_reused = _submission(**token), _submission(**token)
    outcomes, sent = _save_behind_a_held_insert(
        app, _submission(), [original, same_again, changed, with_token, token_reused]
    )
    assert sent[:2] == ["INSERT", "INSERT"]  # then the SELECTs that tell the conflicts apart
    held, first, again, conflicting, tokened, reused = outcomes
    assert held.created and first.created and tokened.created
    assert again.created is False and again.response_uuid == original.uuid
    assert isinstance(conflicting, ConflictingResubmission)
    assert isinstance(reused, TokenAlreadyUsed)
    stored = _stored_uuids(app)
    assert original.uuid in stored and with_token.uuid in stored
    assert token_reused.uuid not in stored
    with app.app_context():
        assert repository.get_response(original.uuid).answers == ANSWERS


def test_a_bad_row_fails_alone_and_its_batch_is_stored(app, units, make_procedure):
    _warm(app)
    make_procedure("P9")
    doomed = _submission(procedure_code="P9")
    with app.app_context():
        resolve_units(doomed)  # P9's id is now cached, so its removal is seen only by the INSERT
        db.session.delete(db.session.scalar(select(Procedure).where(Procedure.code == "P9")))
        db.session.commit()
    before, after = _submission(), _submission()
    outcomes, sent = _save_behind_a_held_insert(app, _submission(), [before, doomed, after])
    # The batch of three fails on the foreign key; each row is then stored by itself (and the
    # doomed one's IntegrityError is looked into by SELECTs).
    assert sent[:2] == ["INSERT", "INSERT"] and sent.count("INSERT") == 5
    assert set(sent) == {"INSERT", "SELECT"}
    assert [o.created for o in (outcomes[0], outcomes[1], outcomes[3])] == [True] * 3
    assert isinstance(outcomes[2], SubmissionError)
    stored = _stored_uuids(app)
    assert before.uuid in stored and after.uuid in stored and doomed.uuid not in stored


# --- GroupInsert on a table of its own -----------------------------------------------------------


@pytest.fixture
def scratch_table(database_url) -> Iterator[tuple[object, Table]]:
    """A table ``group_insert_scratch`` with a UNIQUE key and a CHECK, on the test database."""
    from sqlalchemy import CheckConstraint

    metadata = MetaData()
    table = Table(
        "group_insert_scratch",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(16), unique=True, nullable=False),
        Column("size", Integer, CheckConstraint("size >= 0"), nullable=False),
    )
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    metadata.drop_all(engine)
    metadata.create_all(engine)
    try:
        yield engine, table
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_a_batch_reports_each_row(scratch_table):
    engine, table = scratch_table
    statement = skip_conflicts_insert(table, engine.dialect.name, "key")
    assert statement is not None
    group = GroupInsert(statement, "key")
    assert group.insert(engine, {"key": "a", "size": 1}) is Outcome.STORED
    assert group._write(engine, [{"key": "b", "size": 1}, {"key": "a", "size": 2}]) == [
        Outcome.STORED,
        Outcome.CONFLICT,
    ]
    # One row breaks the CHECK: the statement fails and none of its rows is written.
    assert group._write(engine, [{"key": "c", "size": 1}, {"key": "d", "size": -1}]) == [
        Outcome.ALONE,
        Outcome.ALONE,
    ]
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.key, table.c.size).order_by(table.c.key)).all()
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 1)]


def test_no_group_insert_without_on_conflict_support():
    assert skip_conflicts_insert(Response.__table__, "mysql", "uuid") is None
    assert skip_conflicts_insert(Response.__table__, "sqlite", "uuid") is not None
