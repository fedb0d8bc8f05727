"""The submission budget of the JSON API, counted without Flask-Limiter's per-request machinery.

``POST /api/v1/responses`` is limited per client address *and* counter
(``SIPAS_SUBMIT_RATE_LIMIT``), because all citizens in one office share the office's public
address; each counter (or kiosk) gets its own budget.

The count goes to the rate-limit strategy and storage that Flask-Limiter set up from the
configuration (``RATELIMIT_STORAGE_URI``, ``RATELIMIT_STRATEGY``; fixed-window by default: one
Redis ``EVALSHA`` doing ``INCR`` + ``EXPIRE``, on a pooled connection), but is called directly.
Flask-Limiter's decorator and its before-request hook cost about 0.15 ms of CPU per submission
on their own (limit resolution, exemption checks, request-context bookkeeping: measured in
``docs/benchmarks.md``, section A), as much as the Redis round trip. The blueprint is therefore
exempt from Flask-Limiter (:func:`_counted_here`) and :func:`check_submission_budget` does the
one thing needed.
"""

from __future__ import annotations

from functools import lru_cache

from flask import current_app, request
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from survey.extensions import limiter

__all__ = ["SUBMIT_SCOPE", "check_submission_budget", "submission_key"]

# The namespace of the submission counters in the rate-limit storage.
SUBMIT_SCOPE = "api.submit_response"


@limiter.request_filter
def _counted_here() -> bool:
    """Flask-Limiter skips the API blueprint: its only limit is counted by this module."""
    return request.blueprint == "api"


@lru_cache(maxsize=16)
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


def submission_key() -> str:
    """Client address plus the counter named in the body (``-`` when there is none)."""
    try:
        body = request.get_json(silent=True)
    except RequestEntityTooLarge:
        body = None
    counter = body.get("counter_code") if isinstance(body, dict) else None
    return f"{request.remote_addr or '-'}|{counter if isinstance(counter, str) else '-'}"


def check_submission_budget() -> None:
    """Count one submission against its budget.

    Raises
    ------
    werkzeug.exceptions.TooManyRequests
        The budget of this address and counter is spent (the app answers 429 in JSON).
    """
    if not limiter.enabled:
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    identifiers = (*([prefix] if prefix else []), SUBMIT_SCOPE, submission_key())
    strategy = limiter.limiter
    for item in _limits(current_app.config["SIPAS_SUBMIT_RATE_LIMIT"]):
        if not strategy.hit(item, *identifiers):
            raise TooManyRequests()
