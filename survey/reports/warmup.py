"""Build the default overview's figures when a worker starts, before anyone asks.

The first view of a period in a worker reads that period's responses (about 4 s per million on
PostgreSQL, :mod:`survey.reports.cache`). A serving worker therefore starts, at its first
request of any kind (a load balancer's ``/healthz`` included; command-line uses of the app serve
none), a background thread that builds the figures of the overview with the default filters
(the current period, and the previous one for the changes) as the province sees them, so that
the first official who opens the reports gets them from the cache. ``SIPAS_REPORTS_WARMUP =
false`` turns it off; testing apps never warm up.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from flask import Flask

from survey import repository
from survey.access import Scope
from survey.reports.context import load_context
from survey.reports.figures import unit_figures
from survey.reports.params import parse_params

__all__ = ["install", "start_warmup", "warm_default_overview"]


def warm_default_overview(app: Flask) -> None:
    """Build (into this worker's report cache) the default overview's figures."""
    with app.app_context():
        if not repository.list_agencies():
            return
        params = parse_params({}, today=datetime.now(UTC).date())
        context = load_context(params, Scope(agency_ids=None))
        unit_figures(context, params)


def start_warmup(app: Flask) -> threading.Thread:
    """Warm the default overview in a daemon thread (errors are logged, never raised); the
    thread is also ``app.extensions["sipas_report_warmup"]``."""

    def run() -> None:
        try:
            warm_default_overview(app)
        except Exception:  # a missing table before migrations, a database not up yet
            app.logger.warning("warming the reports' default overview failed", exc_info=True)

    thread = threading.Thread(target=run, name="report-warmup", daemon=True)
    app.extensions["sipas_report_warmup"] = thread
    thread.start()
    return thread


def install(app: Flask) -> None:
    """Start :func:`start_warmup` at the worker's first request (once per process)."""
    started = threading.Event()

    @app.before_request
    def _warm_once() -> None:
        if not started.is_set():
            started.set()
            start_warmup(app)
