"""Rate limits, counted by the ``limits`` library in the storage every app instance shares.

Configuration (``SIPAS_`` environment prefix as everywhere):

``RATELIMIT_ENABLED``
    ``False`` turns every limit off (the test suite's default).
``RATELIMIT_STORAGE_URI``
    ``redis://host:port/db`` in production, so that all gunicorn workers and servers share one
    count; ``memory://`` (per process) for the demo and tests.
``RATELIMIT_STRATEGY``
    A ``limits`` strategy; ``fixed-window`` is the cheapest correct one (one Redis ``EVALSHA``
    doing ``INCR`` + ``EXPIRE`` per counted request).
``RATELIMIT_KEY_PREFIX``
    Prepended to every key, when several deployments share one Redis database.
``RATELIMIT_STORAGE_OPTIONS``
    Options for the storage client; for Redis the default connect and read timeouts are 1 s,
    so that an unreachable host costs at most that long.
``RATELIMIT_FALLBACK_RETRY_SECONDS``
    While the shared storage is unreachable, how often one request tries it again.

If the shared storage cannot be reached, a citizen's submission must not fail: counting
switches to a per-process (memory) storage, so each worker process enforces the limits on its
own; a warning is logged once when that starts and once when the shared storage is back, and
``/readyz`` reports it (:func:`store_status`). While on the fallback, one request every
``RATELIMIT_FALLBACK_RETRY_SECONDS`` tries the shared storage again; the others do not touch it.

Limits are written in the ``limits`` notation (``"30 per minute"``, ``"10/minute;200/hour"``).

Why not Flask-Limiter: its ``before_request``, ``after_request`` and ``teardown_request`` hooks are
app-wide, so they run on every request, including the JSON API's, which they do not limit. They
cost 9 % of the instructions of a submission (2.618 against 2.377 M per submission, counted by
``benchmarks/submit_instructions.py``, 2026-11-21). Here a limit costs nothing where it is not
declared: :func:`limit` counts inside the view it decorates, :func:`count` where it is called.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from werkzeug.exceptions import TooManyRequests

__all__ = ["StoreStatus", "client_address", "count", "init_app", "limit", "store_status"]

_EXTENSION = "sipas.ratelimits"
_REDIS_DEFAULT_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreStatus:
    """The rate-limit storage as ``/readyz`` reports it."""

    enabled: bool
    ok: bool  # the configured storage answers
    fallback: bool  # counting per process because it does not


class _FallbackLimiter:
    """The configured strategy on the shared storage, and the same strategy on a per-process
    memory storage that takes over while the shared one raises :class:`StorageError`."""

    def __init__(self, strategy: type[RateLimiter], storage: Storage, retry_seconds: float):
        self.storage = storage
        self.strategy = strategy
        self.shared = strategy(storage)
        self._local: RateLimiter | None = None  # made on first use (its storage runs a timer)
        self.retry_seconds = retry_seconds
        self.down = False
        self._next_try = 0.0
        self._lock = threading.Lock()

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one request; on the shared storage unless it is down."""
        if not self.down or self._may_try():
            try:
                allowed = self.shared.hit(item, *identifiers)
            except StorageError as exc:
                self._mark_down(exc)
            else:
                if self.down:
                    self._mark_up()
                return allowed
        return self._local_limiter().hit(item, *identifiers)

    def _local_limiter(self) -> RateLimiter:
        if self._local is None:
            with self._lock:
                if self._local is None:
                    self._local = self.strategy(MemoryStorage())
        return self._local

    def probe(self) -> bool:
        """Ask the shared storage directly (``/readyz``); switch over or back as it answers."""
        ok = bool(self.storage.check())
        if ok and self.down:
            self._mark_up()
        elif not ok and not self.down:
            self._mark_down(None)
        return ok

    def _may_try(self) -> bool:
        """While down: True for one caller every ``retry_seconds``."""
        now = time.monotonic()
        if now < self._next_try or not self._lock.acquire(blocking=False):
            return False
        try:
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_seconds
            return True
        finally:
            self._lock.release()

    def _mark_down(self, exc: Exception | None) -> None:
        with self._lock:
            self._next_try = time.monotonic() + self.retry_seconds
            if self.down:
                return
            self.down = True
        logger.warning(
            "The rate-limit store %s cannot be reached (%s); counting per-process until it is "
            "back (each worker enforces the limits on its own).",
            _safe_uri(self.storage),
            exc.__cause__ or exc if exc else "no answer",
        )

    def _mark_up(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
        logger.warning(
            "The rate-limit store %s is reachable again; counting there.", _safe_uri(self.storage)
        )


def _safe_uri(storage: Storage) -> str:
    """The storage's scheme and host, without a password."""
    from urllib.parse import urlsplit

    uri = getattr(storage, "storage_uri", "") or getattr(storage, "uri", "") or ""
    parts = urlsplit(str(uri))
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


@dataclass(frozen=True)
class _Counting:
    limiter: _FallbackLimiter | None  # None: limits are off
    prefix: tuple[str, ...]
    shared: bool  # the storage is not this process's memory


def init_app(app: Flask) -> None:
    """Open the configured storage (lazily connected) and strategy for this app."""
    config = app.config
    limiter = None
    uri = config.get("RATELIMIT_STORAGE_URI", "memory://")
    if config.get("RATELIMIT_ENABLED", True):
        options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
        if uri.startswith("redis"):
            options = {**_REDIS_DEFAULT_OPTIONS, **options}
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
        limiter = _FallbackLimiter(
            STRATEGIES[config.get("RATELIMIT_STRATEGY", "fixed-window")],
            storage,
            float(config.get("RATELIMIT_FALLBACK_RETRY_SECONDS", 10)),
        )
    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    app.extensions[_EXTENSION] = _Counting(
        limiter, (prefix,) if prefix else (), not uri.startswith("memory")
    )


def store_status(app: Flask) -> StoreStatus:
    """Probe the shared rate-limit storage (one round trip; for ``/readyz``, not per request)."""
    counting: _Counting = app.extensions[_EXTENSION]
    if counting.limiter is None:
        return StoreStatus(enabled=False, ok=True, fallback=False)
    ok = counting.limiter.probe() if counting.shared else True
    return StoreStatus(enabled=True, ok=ok, fallback=counting.limiter.down)


@lru_cache(maxsize=32)
def _parsed(limits_text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limits_text))


def count(scope: str, key: str, limits_text: str) -> None:
    """Count one request of ``key`` in ``scope`` against every limit of ``limits_text``.

    Raises
    ------
    werkzeug.exceptions.TooManyRequests
        A limit is spent (the app answers 429 in the user's language, JSON for the API).
    """
    counting: _Counting = current_app.extensions[_EXTENSION]
    if counting.limiter is None:
        return
    for item in _parsed(limits_text):
        if not counting.limiter.hit(item, *counting.prefix, scope, key):
            raise TooManyRequests()


def client_address() -> str:
    """The client's address as the WSGI server (or a trusted proxy fix) reports it."""
    return request.remote_addr or "-"


def limit(config_key: str, *, methods: tuple[str, ...] = ("POST",)) -> Callable[[Any], Any]:
    """Decorate a view: its requests of ``methods`` count per client address against the limit
    in ``app.config[config_key]`` (read at each request, so tests and deployments can change it).
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        scope = f"{view.__module__}.{view.__name__}"

        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method in methods:
                count(scope, client_address(), current_app.config[config_key])
            return view(*args, **kwargs)

        return limited

    return decorate
