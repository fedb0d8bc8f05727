"""Readiness probe ``/readyz``: can this instance serve citizens right now?

``/healthz`` (liveness) touches nothing; ``/readyz`` asks the database (``SELECT 1``) and the
rate-limit storage (one ``PING``), so call it from a load balancer or monitoring every few
seconds, not per request. It answers JSON::

    {"status": "ready" | "degraded" | "not_ready",
     "database": {"ok": true},
     "rate_limit_store": {"enabled": true, "ok": true, "fallback": false}}

``degraded`` (HTTP 200) means the rate-limit storage is unreachable and limits are counted per
process (:mod:`survey.ratelimits`): submissions still work, so the instance stays in service.
``not_ready`` (HTTP 503) means the database cannot be reached.
"""

from __future__ import annotations

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from survey import ratelimits
from survey.extensions import db

__all__ = ["readyz"]


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        current_app.logger.warning("readyz: the database cannot be reached", exc_info=True)
        return False
    finally:
        db.session.rollback()
    return True


def readyz() -> ResponseReturnValue:
    """Readiness of this instance: database and rate-limit storage (see the module docstring)."""
    database = _database_ok()
    store = ratelimits.store_status(current_app)
    status = "not_ready" if not database else "degraded" if store.fallback else "ready"
    answer = jsonify(
        status=status,
        database={"ok": database},
        rate_limit_store={"enabled": store.enabled, "ok": store.ok, "fallback": store.fallback},
    )
    return answer, 200 if database else 503, {"Cache-Control": "no-store"}
