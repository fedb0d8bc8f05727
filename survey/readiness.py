"""Readiness probe ``/readyz``: can this instance serve citizens right now?

``/healthz`` (liveness) touches nothing; ``/readyz`` asks the database (``SELECT 1``) and the
rate-limit storage (one ``PING``), so call it from a load balancer or monitoring every few
seconds, not per request. It answers JSON::

    {"status": "ready" | "degraded" | "not_ready",
     "database": {"ok": true},
     "rate_limit_store": {"enabled": true, "ok": true, "fallback": false},
     "aggregates": [{"form": "sipas-counter", "behind": 12,
                     "refreshed_at": "2026-12-03T10:00:00+00:00"}]}

``aggregates`` says, for every form with a summary of sufficient statistics (``sipas aggregates``,
read by ``sipas analyze-db``), how many stored responses it does not hold yet (``behind``) and
when it was last refreshed: a figure to alert on when the serving workers' background refresh
(:mod:`survey.statistics.background`) or a scheduled ``sipas aggregates refresh`` stops. It
does not change the status (the report pages read the responses themselves).

``degraded`` (HTTP 200) means the rate-limit storage is unreachable and limits are counted per
process (:mod:`survey.ratelimits`): submissions still work, so the instance stays in service.
``not_ready`` (HTTP 503) means the database cannot be reached.
"""

from __future__ import annotations

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from survey import ratelimits
from survey.extensions import db
from survey.models import Response, SummaryState

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


def _aggregates() -> list[dict[str, object]]:
    """Freshness of each form's summary (empty when there is none or the database is down)."""
    state, responses = SummaryState.__table__, Response.__table__
    behind = (
        select(func.count())
        .where(responses.c.form_id == state.c.form_id, responses.c.id > state.c.watermark)
        .scalar_subquery()
    )
    try:
        rows = db.session.execute(
            select(state.c.form_id, state.c.refreshed_at, behind).order_by(state.c.form_id)
        ).all()
    except SQLAlchemyError:
        return []
    finally:
        db.session.rollback()
    return [
        {
            "form": form,
            "behind": int(count),
            "refreshed_at": refreshed.isoformat() if refreshed is not None else None,
        }
        for form, refreshed, count in rows
    ]


def readyz() -> ResponseReturnValue:
    """Readiness of this instance: database and rate-limit storage (see the module docstring)."""
    database = _database_ok()
    store = ratelimits.store_status(current_app)
    status = "not_ready" if not database else "degraded" if store.fallback else "ready"
    answer = jsonify(
        status=status,
        database={"ok": database},
        rate_limit_store={"enabled": store.enabled, "ok": store.ok, "fallback": store.fallback},
        aggregates=_aggregates() if database else [],
    )
    return answer, 200 if database else 503, {"Cache-Control": "no-store"}
