"""WSGI entry point of the submission benchmark: the real app, plus ``GET /healthz`` if missing.

The ceiling measurement needs a trivial endpoint served by the same app (same extensions,
rate limiter, Babel, CSRF, login manager, same gunicorn). If ``survey.create_app()`` already
routes ``/healthz`` it is used as is; otherwise an equivalent trivial view is registered here
(never in ``survey/``), and ``submissions.py`` says so in its report.
"""

from __future__ import annotations

from flask import Flask

from survey import create_app

__all__ = ["HEALTHZ_ADDED", "app"]


def _with_healthz(flask_app: Flask) -> tuple[Flask, bool]:
    if any(rule.rule == "/healthz" for rule in flask_app.url_map.iter_rules()):
        return flask_app, False

    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain"}

    flask_app.add_url_rule("/healthz", "bench_healthz", healthz, methods=["GET"])
    return flask_app, True


app, HEALTHZ_ADDED = _with_healthz(create_app())
