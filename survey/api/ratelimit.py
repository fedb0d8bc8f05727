"""The submission budget of the JSON API.

``POST /api/v1/responses`` is limited per client address *and* counter
(``SIPAS_SUBMIT_RATE_LIMIT``), because all citizens in one office share the office's public
address; each counter (or kiosk) gets its own budget. The counter is keyed as the lookup reads
it (:func:`survey.api.parsing.normalize_text`), so padding a code with spaces does not open a
fresh budget; a code too long to exist counts with the submissions that name no counter.
Counted by :func:`survey.ratelimits.count` in the shared storage (Redis in production).
"""

from __future__ import annotations

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from survey import ratelimits
from survey.api.parsing import CODE_MAX, normalize_text

__all__ = ["SUBMIT_SCOPE", "check_submission_budget", "submission_key"]

# The namespace of the submission counters in the rate-limit storage.
SUBMIT_SCOPE = "api.submit_response"


def submission_key() -> str:
    """Client address plus the counter named in the body (``-`` when there is none)."""
    try:
        body = request.get_json(silent=True)
    except RequestEntityTooLarge:
        body = None
    counter = body.get("counter_code") if isinstance(body, dict) else None
    code = normalize_text(counter) if isinstance(counter, str) else ""
    if not code or len(code) > CODE_MAX:
        code = "-"
    return f"{ratelimits.client_address()}|{code}"


def check_submission_budget() -> None:
    """Count one submission against its budget.

    Raises
    ------
    werkzeug.exceptions.TooManyRequests
        The budget of this address and counter is spent (the app answers 429 in JSON).
    """
    ratelimits.count(SUBMIT_SCOPE, submission_key(), current_app.config["SIPAS_SUBMIT_RATE_LIMIT"])
