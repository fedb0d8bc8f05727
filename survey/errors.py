"""One catalogue of problems; every error leaves as a clear 4xx/5xx in HTML or JSON.

JSON is returned for the API (``/api/``) and for clients that prefer it; pages otherwise.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def wants_json() -> bool:
    """True for API paths and clients that prefer JSON over HTML."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and (
        request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, code: str, message: str, **extra: object):
    """Render a problem as JSON ``{"error": {"code", "message", ...}}`` or as an HTML page."""
    if wants_json():
        return jsonify(error={"code": code, "message": message, **extra}), status
    return render_template("error.html", status=status, code=code, message=message), status


def init_app(app: Flask) -> None:
    """Install the handlers that turn HTTP errors into problem responses."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {
            400: _("The request could not be understood."),
            404: _("This page does not exist."),
            405: _("This method is not allowed here."),
            413: _("The submission is too large."),
            429: _("Too many submissions from here. Please wait a minute and try again."),
        }
        status = exc.code or 500
        message = messages.get(status, exc.description or "")
        return error_response(status, exc.name.lower().replace(" ", "_"), message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("Unhandled error")
        return error_response(500, "internal_error", _("Something went wrong on our side."))
