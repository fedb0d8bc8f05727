"""Group commit: the responses that threads of one process store at the same moment share one
``INSERT``, one transaction and one WAL flush.

A thread that finds no write under way becomes the *leader*: it takes every row queued so far
(at most :data:`MAX_ROWS`) and inserts them with one
``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING RETURNING uuid`` in autocommit. Threads that
arrive meanwhile queue their row and wait; when the leader is done it gives each row of its batch
its outcome, and one of the threads still waiting leads the next batch. Without concurrency a
batch is one row, as before.

Each row keeps its own outcome:

* ``STORED``: its UUID came back, so it was inserted and committed;
* ``CONFLICT``: a UNIQUE constraint (``uuid`` or ``token_id``) skipped it, or an earlier row of
  the same batch has its key; the caller sorts it out (identical resubmit, conflicting resubmit
  or a used token), as after an ``IntegrityError``;
* ``ALONE``: the batch failed as a whole (one bad row, a lost connection), so the caller stores
  the row by itself, and a row's own error reaches only its own request. A failed statement
  wrote nothing; a batch that did commit before its connection was lost is found again by the
  UUIDs (an identical resubmit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

__all__ = ["MAX_ROWS", "GroupInsert", "Outcome", "skip_conflicts_insert"]

# Rows of one batch at most: more than the threads of any worker, well under the bind-parameter
# limits of SQLite (32,766) and PostgreSQL (65,535) at 19 columns a row.
MAX_ROWS = 64


class Outcome(Enum):
    """What became of one row of a batch (see the module's docstring)."""

    STORED = "stored"
    CONFLICT = "conflict"
    ALONE = "alone"


def skip_conflicts_insert(table: Table, dialect_name: str, key: str) -> Insert | None:
    """``INSERT INTO table … ON CONFLICT DO NOTHING RETURNING key`` for this dialect, or None
    where SQLAlchemy has no such construct (the caller then stores rows one by one)."""
    dialects: dict[str, Callable[[Table], Any]] = {
        "postgresql": postgresql.insert,
        "sqlite": sqlite.insert,
    }
    make = dialects.get(dialect_name)
    if make is None:
        return None
    return make(table).on_conflict_do_nothing().returning(table.c[key])


@dataclass(eq=False)
class _Slot:
    row: Mapping[str, Any]
    outcome: Outcome | None = None


@dataclass(eq=False)
class GroupInsert:
    """Rows of concurrent threads inserted together by ``statement`` (one process's queue).

    Parameters
    ----------
    statement
        From :func:`skip_conflicts_insert`: it must return the ``key`` column of the rows it
        inserted and skip (not fail on) rows that break a UNIQUE constraint.
    key
        The column that tells rows apart (the response's UUID).
    """

    statement: Insert
    key: str
    max_rows: int = MAX_ROWS
    _ready: threading.Condition = field(default_factory=threading.Condition, init=False)
    _queue: list[_Slot] = field(default_factory=list, init=False)
    _writing: bool = field(default=False, init=False)

    @property
    def queued(self) -> int:
        """Rows waiting for the next batch (not yet taken by a leader)."""
        with self._ready:
            return len(self._queue)

    def insert(self, engine: Engine, row: Mapping[str, Any]) -> Outcome:
        """Store ``row`` in the next batch; return its :class:`Outcome` once that batch is done."""
        slot = _Slot(row)
        with self._ready:
            self._queue.append(slot)
            while slot.outcome is None and self._writing:
                self._ready.wait()
            if slot.outcome is not None:  # a leader wrote it while this thread waited
                return slot.outcome
            self._writing = True
            batch, self._queue[: self.max_rows] = self._queue[: self.max_rows], []
        outcomes: Sequence[Outcome] = [Outcome.ALONE] * len(batch)
        try:
            outcomes = self._write(engine, [s.row for s in batch])
        finally:
            with self._ready:
                for member, outcome in zip(batch, outcomes, strict=True):
                    member.outcome = outcome
                self._writing = False
                self._ready.notify_all()
        return slot.outcome  # type: ignore[return-value]  (set just above)

    def _write(self, engine: Engine, rows: list[Mapping[str, Any]]) -> list[Outcome]:
        """Insert the first row of each key; a later row with the same key is a CONFLICT with
        it (what the database would say of it a moment later)."""
        first: dict[Any, int] = {}
        for index, row in enumerate(rows):
            first.setdefault(row[self.key], index)
        try:
            with engine.connect() as connection:
                result = connection.execute(self.statement, [rows[i] for i in first.values()])
                stored = set(result.scalars())
        except SQLAlchemyError:  # the batch failed as a whole: Outcome.ALONE for every row
            return [Outcome.ALONE] * len(rows)
        return [
            Outcome.STORED
            if first[row[self.key]] == index and row[self.key] in stored
            else Outcome.CONFLICT
            for index, row in enumerate(rows)
        ]
