"""One catalogue of problems; every error leaves as a clear 4xx/5xx in HTML or JSON.

JSON is returned for the API (``/api/``) and for clients that prefer it; pages otherwise.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from survey.guards import UnstorableText

# Messages for the stable codes of ``survey.repository.SubmissionError`` and of the JSON API's own
# input checks; the one place they are written (translations live in the message catalog).
SUBMISSION_MESSAGES = {
    "invalid_submission": _l("The submission could not be accepted."),
    "unknown_form": _l("This questionnaire does not exist."),
    "wrong_form_version": _l(
        "This version of the questionnaire is no longer accepted. Please reload the page."
    ),
    "invalid_answers": _l("Some answers are not valid. Please check them and try again."),
    "unknown_counter": _l("This counter is not known. Please scan the QR code again."),
    "unknown_field": _l("This procedure field is not known."),
    "unknown_agency": _l("This agency is not known."),
    "unknown_procedure": _l("This procedure is not known."),
    "conflicting_resubmission": _l(
        "A different response with this identifier was already received."
    ),
    "token_already_used": _l(
        "This receipt's QR code was already used to give feedback. Thank you!"
    ),
    "token_invalid": _l("This QR code is not valid. Please ask the counter for a new one."),
    "token_expired": _l("This QR code has expired. Please ask the counter for a new one."),
    "invalid_json": _l("The request body must be a JSON object."),
    "unsupported_media_type": _l("Send the submission as application/json."),
    "missing_field": _l("A required field is missing."),
    "invalid_field": _l("A field has the wrong type or value."),
    "unauthorized": _l("A valid API key is required (Authorization: Bearer <key>)."),
    "not_found": _l("Nothing was found with this identifier."),
    "request_too_large": _l("The submission is too large."),
    "invalid_characters": _l("The request contains a character that is not allowed."),
}


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

    @app.errorhandler(UnstorableText)
    def _unstorable(exc: UnstorableText):
        problems = [{"field": exc.field, "code": "invalid_characters"}]
        message = str(SUBMISSION_MESSAGES["invalid_characters"])
        if wants_json():
            return error_response(400, "invalid_characters", message, problems=problems)
        return error_response(400, "invalid_characters", message)

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
