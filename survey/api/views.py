"""JSON API (``/api/v1``) for kiosks, tablets at counters and the national portal.

Documented in ``survey/openapi.yaml`` (a test checks the spec against these routes and real
answers). Errors are ``{"error": {"code", "message", "problems"}}`` with the message in the
language of ``?lang=`` or ``Accept-Language`` (Vietnamese by default).

Rate limit: ``POST /responses`` is limited per client address *and* counter
(``SIPAS_SUBMIT_RATE_LIMIT``), because all citizens in one office share the office's public
address; each counter (or kiosk) gets its own budget (:mod:`survey.api.ratelimit`).

Reading responses back needs an API key (``Authorization: Bearer <key>``). A key limited to an
agency (``sipas apikeys create NAME --agency CODE``) reads only that agency and the agencies
under it: any other response or ``?agency=`` answers 404, as if it did not exist.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import current_app, jsonify, request
from flask_babel import force_locale
from werkzeug.exceptions import RequestEntityTooLarge

from survey import repository, tokens
from survey.access import subtree_ids
from survey.api import bp
from survey.api.parsing import BodyError, DateTimeOutOfRange, parse_datetime, parse_submission
from survey.api.ratelimit import check_submission_budget
from survey.errors import SUBMISSION_MESSAGES
from survey.guards import UnstorableText
from survey.privacy import mask_personal_numbers
from survey.repository import ApiKeyAccess, StoredResponse, SubmissionError
from survey.submissions import Submission

MAX_PAGE = 1000
MAX_ROW_ID = 2**63 - 1  # row ids are 64-bit integers in the database
_DIGITS = re.compile(r"[0-9]{1,30}")  # ASCII only: str.isdigit() also accepts "²" and "١"


def _api_locale() -> str:
    languages: list[str] = current_app.config["SIPAS_LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages, default=languages[0]) or languages[0]


def api_error(status: int, code: str, problems: list[dict[str, str]] | None = None):
    """A JSON problem answer whose message is in the client's language."""
    with force_locale(_api_locale()):
        message = str(SUBMISSION_MESSAGES.get(code, code))
    return jsonify(error={"code": code, "message": message, "problems": problems or []}), status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):
    return api_error(413, "request_too_large")


@bp.errorhandler(UnstorableText)
def _unstorable(exc: UnstorableText):
    return api_error(
        400, "invalid_characters", [{"field": exc.field, "code": "invalid_characters"}]
    )


@bp.post("/responses")
def submit_response():
    """Store one response: 201 created, 200 duplicate (same id, same content), or a problem."""
    check_submission_budget()
    if not request.is_json:
        return api_error(415, "unsupported_media_type")
    body = request.get_json(silent=True)
    if body is None:
        return api_error(400, "invalid_json")
    try:
        parsed = parse_submission(body, current_app.config["SIPAS_LANGUAGES"])
        submission = _with_token(parsed.submission, parsed.token)
        result = repository.save_response(submission)
    except BodyError as exc:
        return api_error(400, exc.code, exc.problems)
    except tokens.TokenError as exc:
        return api_error(422, exc.code)
    except SubmissionError as exc:
        return api_error(exc.http_status, exc.code, exc.problems)
    payload = {
        "id": str(result.response_uuid),
        "status": "created" if result.created else "duplicate",
        "flags": list(result.flags),
    }
    if not result.created:
        return jsonify(payload), 200
    # The new response lives under the collection it was posted to (as `get_response` routes
    # it); built from the request path, not `url_for`, which costs 3 % of a submission.
    location = f"{request.script_root}{request.path}/{result.response_uuid}"
    return jsonify(payload), 201, {"Location": location}


def _with_token(submission: Submission, token: str | None) -> Submission:
    """Fill agency, field, procedure and the single-use token id from a dossier token."""
    if token is None:
        return submission
    claims = tokens.verify_dossier_token(
        current_app.config["SECRET_KEY"],
        token,
        timedelta(days=current_app.config["SIPAS_TOKEN_MAX_AGE_DAYS"]),
    )
    return replace(
        submission,
        agency_code=claims.agency_code,
        field_code=claims.field_code,
        procedure_code=claims.procedure_code,
        token_id=claims.token_id,
        dossier_hash=claims.dossier_hash,
    )


def _response_json(stored: StoredResponse, *, with_comment: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(stored.uuid),
        "form_id": stored.form_id,
        "form_version": stored.form_version,
        "form_content_hash": stored.form_content_hash,
        "submitted_at": stored.submitted_at.isoformat().replace("+00:00", "Z"),
        "agency_code": stored.agency_code,
        "counter_code": stored.counter_code,
        "field_code": stored.field_code,
        "procedure_code": stored.procedure_code,
        "channel": stored.channel,
        "flags": list(stored.flags),
        "locale": stored.locale,
        "answers": stored.answers,
    }
    if with_comment:
        # Stored masked since revision 0005; older rows are masked here.
        comment = stored.comment
        data["comment"] = None if comment is None else mask_personal_numbers(comment)
    return data


def _api_access() -> ApiKeyAccess | None:
    """The access of the request's bearer key, or None without a valid key."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return repository.api_key_access(key.strip())


def _readable_agency_codes(access: ApiKeyAccess) -> frozenset[str] | None:
    """The agency codes a key may read: None for every agency, else the subtree of its agency."""
    if access.agency_id is None:
        return None
    agencies = repository.list_agencies()
    allowed = subtree_ids([access.agency_id], agencies)
    return frozenset(a.code for a in agencies if a.id in allowed)


@bp.get("/responses/<uuid:response_id>")
def get_response(response_id):
    """Read back one response (API key required; within the key's agency scope)."""
    access = _api_access()
    if access is None:
        return api_error(401, "unauthorized")
    stored = repository.get_response(response_id)
    readable = _readable_agency_codes(access)
    if stored is None or (readable is not None and stored.agency_code not in readable):
        return api_error(404, "not_found")
    return jsonify(_response_json(stored, with_comment=True))


@bp.get("/responses")
def list_responses():
    """A page of responses for the national portal (API key required; within its scope)."""
    access = _api_access()
    if access is None:
        return api_error(401, "unauthorized")
    problems = []
    filters: dict[str, Any] = {}
    for name in ("since", "until"):
        if request.args.get(name):
            try:
                filters[name] = parse_datetime(request.args[name])
            except DateTimeOutOfRange:
                problems.append({"field": name, "code": "out_of_range"})
            except ValueError:
                problems.append({"field": name, "code": "not_a_datetime"})
    limit = request.args.get("limit", "100")
    after = request.args.get("after")
    if not _DIGITS.fullmatch(limit) or not 1 <= int(limit) <= MAX_PAGE:
        problems.append({"field": "limit", "code": "out_of_range"})
    if after is not None and not _DIGITS.fullmatch(after):
        problems.append({"field": "after", "code": "not_an_integer"})
    elif after is not None and int(after) > MAX_ROW_ID:
        problems.append({"field": "after", "code": "out_of_range"})
    if problems:
        return api_error(400, "invalid_field", problems)
    agency_code = request.args.get("agency") or None
    readable = _readable_agency_codes(access)
    if readable is not None and agency_code is not None and agency_code not in readable:
        return api_error(404, "not_found")
    page = repository.list_responses(
        agency_code=agency_code,
        agency_codes=readable,
        form_id=request.args.get("form") or None,
        after=int(after) if after else None,
        limit=int(limit),
        **filters,
    )
    cursor = str(page[-1].row_id) if len(page) == int(limit) else None
    return jsonify(
        items=[_response_json(s, with_comment=True) for s in page],
        next_after=cursor,
    )


@bp.get("/forms/<form_id>")
@bp.get("/forms/<form_id>/<int:version>")
def get_form(form_id: str, version: int | None = None):
    """A questionnaire definition (the newest version, or the one asked for)."""
    try:
        form = repository.load_form(form_id, version)
    except SubmissionError as exc:
        return api_error(404, exc.code)
    return jsonify({**form.to_dict(), "content_hash": form.content_hash})


@bp.get("/units")
def list_units():
    """Agencies, counters, procedure fields and procedures, for kiosks and tablets."""
    agencies = [
        {
            "code": a.code,
            "name_vi": a.name_vi,
            "name_en": a.name_en,
            "level": a.level,
            "parent_code": a.parent.code if a.parent else None,
        }
        for a in repository.list_agencies()
    ]
    counters = [
        {
            "code": c.code,
            "agency_code": c.agency.code,
            "name_vi": c.name_vi,
            "name_en": c.name_en,
            "field_code": c.field.code if c.field else None,
            "active": c.active,
        }
        for c in repository.list_counters()
    ]
    fields = [
        {"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en}
        for f in repository.list_fields()
    ]
    procedures = [
        {
            "code": p.code,
            "name_vi": p.name_vi,
            "name_en": p.name_en,
            "field_code": p.field.code if p.field else None,
        }
        for p in repository.list_procedures()
    ]
    return jsonify(agencies=agencies, counters=counters, fields=fields, procedures=procedures)
