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

Limits are written in the ``limits`` notation (``"30 per minute"``, ``"10/minute;200/hour"``).

Why not Flask-Limiter: its ``before_request``, ``after_request`` and ``teardown_request`` hooks are
app-wide, so they run on every request, including the JSON API's, which they do not limit. They
cost 9 % of the instructions of a submission (2.618 against 2.377 M per submission, counted by
``benchmarks/submit_instructions.py``, 2026-11-21). Here a limit costs nothing where it is not
declared: :func:`limit` counts inside the view it decorates, :func:`count` where it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from werkzeug.exceptions import TooManyRequests

__all__ = ["client_address", "count", "init_app", "limit"]

_EXTENSION = "sipas.ratelimits"


@dataclass(frozen=True)
class _Counting:
    strategy: RateLimiter | None  # None: limits are off
    prefix: tuple[str, ...]


def init_app(app: Flask) -> None:
    """Open the configured storage (lazily connected) and strategy for this app."""
    config = app.config
    strategy = None
    if config.get("RATELIMIT_ENABLED", True):
        storage = storage_from_string(config.get("RATELIMIT_STORAGE_URI", "memory://"))
        strategy = STRATEGIES[config.get("RATELIMIT_STRATEGY", "fixed-window")](storage)
    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    app.extensions[_EXTENSION] = _Counting(strategy, (prefix,) if prefix else ())


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
    if counting.strategy is None:
        return
    for item in _parsed(limits_text):
        if not counting.strategy.hit(item, *counting.prefix, scope, key):
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
