"""Count tables and figures of recent report requests, reused while their data is unchanged.

A report page builds one to a few count tables and the figures derived from them; officials
open the same few views (the overview of the current year, their unit) again and again. Each
worker process keeps what it built, keyed by everything that defines it (form, design,
groupings, period, filters, weights), together with the *data stamp* it was built at: the
number and the highest id of the stored responses and of the unit tables (agencies, counters,
fields, procedures, and the agencies' lineage: a changed lineage row is stored under a new id).

An entry is reused without a question for :data:`FRESH_SECONDS` after its stamp was last
checked, so a burst of page views costs one stamp query; after that the stamp is read again
(one cheap aggregate query) and the entry is rebuilt only if it changed, or if it is older than
:data:`MAX_AGE_SECONDS` (an edited unit code leaves the counts and ids unchanged). The rebuild
runs in the background while the old value is still answered ("stale while revalidate"): a page
never waits for new responses to be counted, and they reach the pages within
:data:`FRESH_SECONDS` plus the time of one rebuild. Only a view nobody opened yet in this worker
is built while its request waits.

The cache holds copies of derived data only: a restarted or added worker rebuilds what it
needs, so the app stays stateless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Agency, AgencyLineage, Counter, Field, Procedure, Response

__all__ = ["FRESH_SECONDS", "MAX_AGE_SECONDS", "ReportCache", "data_stamp"]

FRESH_SECONDS = 30.0
MAX_AGE_SECONDS = 600.0
STAMP_SECONDS = 1.0
_MAX_ROWS = 5_000_000  # table rows held per worker: about 0.5 GB at most
_OTHER_ROWS = 1_000  # what a cached value that is not a table counts as


def data_stamp() -> tuple[int, ...]:
    """``(count, max id)`` of the responses and of every unit table, in one query."""
    parts = []
    for model in (Response, Agency, Counter, Field, Procedure, AgencyLineage):
        table = model.__table__
        parts += [
            select(func.count()).select_from(table).scalar_subquery(),
            select(func.coalesce(func.max(table.c.id), 0)).scalar_subquery(),
        ]
    row = db.session.execute(select(*parts)).one()
    return tuple(int(v) for v in row)


logger = logging.getLogger(__name__)
_local = threading.local()


def _refreshing() -> bool:
    """Whether this thread is rebuilding an entry in the background."""
    return bool(getattr(_local, "refreshing", False))


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, ...]
    built: float
    checked: float
    value: Any
    rows: int


def _rows(value: Any) -> int:
    """The size a cached value is counted at (rows of the table it holds)."""
    table = value if isinstance(value, pd.DataFrame) else getattr(value, "table", None)
    return len(table) if isinstance(table, pd.DataFrame) else _OTHER_ROWS


class ReportCache:
    """A small LRU of derived report data (thread-safe; one per worker process)."""

    def __init__(
        self,
        *,
        max_rows: int = _MAX_ROWS,
        clock: Callable[[], float] = time.monotonic,
        stamp: Callable[[], tuple[int, ...]] = data_stamp,
        background: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._max_rows = max_rows
        self._clock = clock
        self._stamp = stamp
        self._background = background
        self._rebuilding: set[Hashable] = set()
        self._building: dict[Hashable, threading.Event] = {}
        self._last_stamp: tuple[float, tuple[int, ...]] | None = None
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value for ``key``: a cached one, or ``build()`` (then cached).

        A value whose data stamp has changed (or that is older than :data:`MAX_AGE_SECONDS`)
        is still answered while ``build()`` runs again in the background (when the cache has a
        ``background`` runner), so a page never waits for new responses to be counted; only a
        key seen for the first time is built while the request waits. ``None`` (e.g. no
        response selected) is cached like any value. Callers must not modify what they get.
        """
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry.checked <= FRESH_SECONDS:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.value
        stamp = self._current_stamp(now)
        if entry is not None:
            current = entry.stamp == stamp and now - entry.built <= MAX_AGE_SECONDS
            if current or (self._background is not None and not _refreshing()):
                with self._lock:
                    entry.checked = now
                    self._entries.move_to_end(key)
                    self.hits += 1
                if not current:
                    self._rebuild_behind(key, build, stamp)
                return entry.value
        return self._build_once(key, build, stamp, now)

    def _build_once(
        self, key: Hashable, build: Callable[[], Any], stamp: tuple[int, ...], now: float
    ) -> Any:
        """``build()`` and store it; a request for a key that another thread is building (the
        warm-up, another request) waits for that build instead of repeating it."""
        with self._lock:
            running = self._building.get(key)
            if running is None:
                done = self._building[key] = threading.Event()
        if running is not None:
            running.wait()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                return entry.value
            return self._build_once(key, build, stamp, now)  # that build failed: try it here
        try:
            value = build()
            self._store(key, stamp, now, value)
            return value
        finally:
            with self._lock:
                del self._building[key]
            done.set()

    def _current_stamp(self, now: float) -> tuple[int, ...]:
        """The data stamp, read at most once per :data:`STAMP_SECONDS` (a page checks several
        entries at once)."""
        with self._lock:
            if self._last_stamp is not None and now - self._last_stamp[0] < STAMP_SECONDS:
                return self._last_stamp[1]
        stamp = self._stamp()
        with self._lock:
            self._last_stamp = (now, stamp)
        return stamp

    def _store(self, key: Hashable, stamp: tuple[int, ...], now: float, value: Any) -> None:
        with self._lock:
            self.misses += 1
            self._entries[key] = _Entry(stamp, now, now, value, _rows(value))
            self._entries.move_to_end(key)
            self._evict()

    def _rebuild_behind(self, key: Hashable, build: Callable[[], Any], stamp: tuple) -> None:
        """Run ``build()`` in the background (once per key at a time) and store its value."""
        assert self._background is not None
        with self._lock:
            if key in self._rebuilding:
                return
            self._rebuilding.add(key)

        def rebuild() -> None:
            _local.refreshing = True  # what the build reads from the cache is built, not stale
            try:
                value = build()
            except Exception:  # the next request builds it and meets the error itself
                logger.exception("rebuilding a report cache entry failed")
                with self._lock:
                    self._entries.pop(key, None)
            else:
                self._store(key, stamp, self._clock(), value)
            finally:
                _local.refreshing = False
                with self._lock:
                    self._rebuilding.discard(key)

        self._background(rebuild)

    def clear(self) -> None:
        """Forget everything (after an edit in this process)."""
        with self._lock:
            self._entries.clear()

    def _evict(self) -> None:
        rows = sum(e.rows for e in self._entries.values())
        while rows > self._max_rows and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            rows -= oldest.rows
