"""Page logic of the citizen survey: where a form is shown, what it posts, how outcomes render.

The views in :mod:`survey.citizen.views` only parse the URL, call these helpers and respond.

Decisions worth knowing:

* **Field picker.** When neither the counter nor the QR code fixes the procedure field (lĩnh vực),
  the page asks for it with a ``<select required>``: the browser insists on a choice even without
  JavaScript, but the first real option is "I don't know", which stores the response without a
  field instead of losing it. A POST without the field (an old browser) is stored the same way.
* **Idempotency.** Every form page carries a fresh server-generated UUID; a double tap or a
  browser resubmit sends the same UUID and is stored once. Form pages are ``no-store`` so that no
  cache ever hands the same UUID to two people.
* **Timing.** ``started`` is the UUID signed with a timestamp by the server when the page is
  rendered; its timestamp becomes ``started_at`` (for the ``too_fast`` flag). A missing or forged
  value yields ``started_at=None``, never an error.
* **Form token, no cookie.** The citizen form works in a browser that blocks cookies: instead of
  Flask-WTF's session-bound CSRF token (the admin and report forms keep it), the page carries
  ``csrf_token``, the response UUID signed with the app's key and a timestamp
  (:func:`form_token`), checked on POST (:func:`form_token_problem`): it must be signed by this
  server for the posted UUID and younger than ``SIPAS_FORM_TOKEN_MAX_AGE_HOURS``, and a browser
  that says the post comes from another site (``Sec-Fetch-Site: cross-site``) is refused. The
  form has no signed-in user to protect; the token makes every stored response come from a
  page this server rendered, and the UUID it signs is stored once (a resubmit is recognised, a
  different content under it refused). A refused token re-renders the page with the citizen's
  answers, the same UUID and a fresh token, so pressing "Send" again stores it once.
* **Kiosk.** After a submit, the thank-you page returns to a fresh form with a
  ``<meta http-equiv="refresh">`` (no JavaScript needed). The idle reset after
  ``SIPAS_KIOSK_IDLE_SECONDS`` is a tiny static script: without JavaScript a kiosk does not
  reset on idle, because a meta refresh on the form page would wipe a citizen's half-finished
  answers.
* **Empty forms.** A post with no answer and no comment is asked about once (the form comes
  back with a notice); sent again, it is stored with the quality flag ``empty``, which the
  statistics can leave out.
* **Submission budget.** ``SIPAS_SUBMIT_RATE_LIMIT`` counts per client address *and* counter
  (per channel: phones at a counter and its kiosk have separate budgets; a dossier QR counts per
  token), because every citizen in an office may share the office's public address. The
  trade-off: one address can send that many submissions to each counter, not to the site as a
  whole; a flood through many counters still shows in the per-counter figures and flags. A
  refused submission re-renders the form with the citizen's answers and the same response id
  (status 429), so they can send it again a minute later and it is stored once. Behind a
  reverse proxy, set ``SIPAS_TRUSTED_PROXIES`` so that the address is the citizen's, not the
  proxy's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests

import forms
from survey import ratelimits, repository
from survey.citizen.places import Place, lang, unit_name
from survey.errors import SUBMISSION_MESSAGES
from survey.submissions import Submission

HONEYPOT = "website"
FIELD_UNKNOWN = "unknown"
_STARTED_SALT = "sipas.form-started"
_TOKEN_SALT = "sipas.citizen-form-token"

ANSWER_MESSAGES = {
    "unknown_item": _l("This question is not part of the questionnaire."),
    "not_an_integer": _l("Please choose one of the options."),
    "out_of_range": _l("Please choose one of the options."),
    "not_text": _l("Please write plain text."),
    "too_long": _l("This comment is too long."),
    "invalid_character": _l("This comment contains characters that are not allowed."),
}

MESSAGES = {
    "token_used": (
        _l("You have already given your feedback"),
        _l(
            "The QR code on this receipt was already used to answer the survey. Each receipt "
            "can be used once. Thank you for your feedback!"
        ),
    ),
    "token_expired": (
        _l("This QR code has expired"),
        _l(
            "The survey link on this receipt is no longer valid. You can still give your "
            "feedback by scanning the QR code at the counter."
        ),
    ),
    "token_invalid": (
        _l("This QR code is not valid"),
        _l(
            "We could not read this survey link. Please scan the QR code again, or scan the QR "
            "code at the counter."
        ),
    ),
    "counter_not_in_use": (
        _l("This counter code is not in use"),
        _l(
            "The QR code you scanned may come from an old poster, or the counter has closed. "
            "Please scan the QR code displayed at the counter now, or ask the staff for help."
        ),
    ),
    "already_recorded": (
        _l("Your answers were already recorded"),
        _l(
            "A response from this page has already been received, so nothing was changed. "
            "Thank you!"
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class FormState:
    """Hidden state of one form page: the response UUID and its signed start time."""

    response_uuid: str
    started: str


@dataclass
class Section:
    """A group of questions on the page, numbered continuously across sections."""

    title: str
    kind: str  # "r" rating, "c" expectation, "p" profile
    prompt: str | None
    questions: list[tuple[int, Any]] = field(default_factory=list)


# --- form pages -------------------------------------------------------------------------------


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_STARTED_SALT)


def new_state() -> FormState:
    """A fresh response UUID and its signed start time."""
    response_uuid = str(uuid.uuid4())
    return FormState(response_uuid, str(_signer().dumps(response_uuid)))


def posted_state() -> tuple[uuid.UUID, FormState, datetime | None]:
    """The UUID, state and trusted start time of a POST (a fresh UUID if it is garbled)."""
    try:
        response_uuid = uuid.UUID(request.form.get("response_uuid", ""))
    except ValueError:
        state = new_state()
        return uuid.UUID(state.response_uuid), state, None
    started = request.form.get("started", "")
    state = FormState(str(response_uuid), started)
    try:
        value, signed_at = _signer().loads(started, return_timestamp=True)
    except (BadData, UnicodeError):
        return response_uuid, state, None
    return response_uuid, state, signed_at.astimezone(UTC) if value == str(response_uuid) else None


def form_token(response_uuid: str) -> str:
    """The page's token for ``response_uuid``: the UUID signed with the app's key and the time."""
    signer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)
    return str(signer.dumps(response_uuid))


def form_token_problem(response_uuid: uuid.UUID) -> str | None:
    """Check the posted ``csrf_token`` against the posted UUID: ``None`` when it is good,
    ``"expired"`` when it is older than ``SIPAS_FORM_TOKEN_MAX_AGE_HOURS``, else ``"invalid"``
    (missing, forged, another page's, or a post the browser marks as cross-site)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return "invalid"
    signer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)
    max_age = float(current_app.config["SIPAS_FORM_TOKEN_MAX_AGE_HOURS"]) * 3600
    token = request.form.get("csrf_token", "")
    try:
        value = signer.loads(token, max_age=max_age)
    except SignatureExpired:
        genuine, value = signer.loads_unsafe(token)
        return "expired" if genuine and value == str(response_uuid) else "invalid"
    except (BadData, UnicodeError):
        return "invalid"
    return None if value == str(response_uuid) else "invalid"


def default_form() -> forms.Form:
    """The questionnaire shown at counters (``SIPAS_DEFAULT_FORM``, newest version)."""
    return repository.load_form(current_app.config["SIPAS_DEFAULT_FORM"])


# The time a citizen needs, estimated from the form (answer_minutes): reading every question,
# scale label and profile choice once at 200 Vietnamese words (syllables) a minute, a slow
# reading on a phone, plus 2 seconds per answer (choose, tap, scroll).
READING_WORDS_PER_MINUTE = 200
SECONDS_PER_ANSWER = 2.0


def answer_minutes(form: forms.Form) -> int:
    """About how many minutes answering ``form`` takes (whole minutes, at least 1).

    The estimate reads every question, the rating scale's labels once, each expectation and
    profile choice, then adds :data:`SECONDS_PER_ANSWER` per closed item (comment not counted).
    For ``sipas-counter`` v1 (32 items: 19 ratings, 8 expectations, 5 profile questions): 428
    words, 128 s of reading and 64 s of answering, 3 minutes. The form page and the printed QR
    sheets both say it, so the two agree.
    """
    overall = [] if form.overall_item is None else [form.overall_item]
    items = [*form.rating_items, *overall, *form.expectation_items, *form.profile_items]
    words = sum(len(item.text["vi"].split()) for item in items)
    labels = [*form.scale.points, form.scale.not_applicable]
    if form.expectation_scale is not None:
        labels += list(form.expectation_scale.choices)
    labels += [choice for item in form.profile_items for choice in item.choices]
    words += sum(len(label.label["vi"].split()) for label in labels)
    seconds = words / READING_WORDS_PER_MINUTE * 60 + SECONDS_PER_ANSWER * len(items)
    return max(1, round(seconds / 60))


def sections(form: forms.Form, language: str) -> list[Section]:
    """The form's questions grouped for display: factors, the overall-satisfaction question
    (rated on the same scale), expectations, then the profile."""
    by_key = {item.key: item for item in form.rating_items}
    result: list[Section] = []
    number = 0
    scale_prompt = form.scale.prompt[language] if form.scale.prompt else None
    for factor in form.factors:
        section = Section(factor.label[language], "r", scale_prompt if not result else None)
        for key in factor.item_keys:
            number += 1
            section.questions.append((number, by_key[key]))
        result.append(section)
    if form.overall_item is not None:
        number += 1
        section = Section(_("Overall satisfaction"), "r", None)
        section.questions.append((number, form.overall_item))
        result.append(section)
    if form.expectation_items:
        scale = form.expectation_scale
        prompt = scale.prompt[language] if scale is not None and scale.prompt else None
        section = Section(_("Your expectations"), "c", prompt)
        for item in form.expectation_items:
            number += 1
            section.questions.append((number, item))
        result.append(section)
    if form.profile_items:
        section = Section(_("About you (optional)"), "p", None)
        for item in form.profile_items:
            number += 1
            section.questions.append((number, item))
        result.append(section)
    return result


def render_form(
    place: Place,
    form: forms.Form,
    state: FormState,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
    confirm_empty: bool = False,
) -> ResponseReturnValue:
    """Render the questionnaire page (also when re-shown with the citizen's answers;
    ``confirm_empty``: the next post may be empty, the citizen was asked once)."""
    language = lang()
    fields = []
    if place.field_code is None:
        fields = [(f.code, unit_name(f, language)) for f in repository.list_fields()]
    html = render_template(
        "citizen/form.html",
        form=form,
        lang=language,
        place=place,
        state=state,
        token=form_token(state.response_uuid),
        sections=sections(form, language),
        fields=fields,
        values=values or {},
        errors=errors or {},
        alert=alert,
        honeypot=HONEYPOT,
        field_unknown=FIELD_UNKNOWN,
        idle_seconds=current_app.config["SIPAS_KIOSK_IDLE_SECONDS"],
        confirm_empty=confirm_empty,
        minutes=answer_minutes(form),
    )
    return html, status, {"Cache-Control": "no-store"}


def show_form(place: Place) -> ResponseReturnValue:
    """GET: a fresh form page."""
    return render_form(place, default_form(), new_state())


# --- submission -------------------------------------------------------------------------------


def _posted_form() -> tuple[forms.Form, str | None]:
    """The form version the page showed, or the current one with a notice when it is gone."""
    form_id = request.form.get("form_id") or current_app.config["SIPAS_DEFAULT_FORM"]
    try:
        version = int(request.form.get("form_version", ""))
        return repository.load_form(form_id, version), None
    except (ValueError, repository.SubmissionError):
        return default_form(), _(
            "The questionnaire has changed since this page was opened. "
            "Please check your answers and send them again."
        )


def _posted_values(form: forms.Form) -> dict[str, str]:
    keys = [*form.item_keys]
    if form.comment is not None:
        keys.append(form.comment.key)
    values = {key: request.form.get(key, "") for key in keys}
    values["field"] = request.form.get("field", "")
    return {key: value for key, value in values.items() if value != ""}


def _submission(
    form: forms.Form,
    place: Place,
    values: Mapping[str, str],
    response_uuid: uuid.UUID,
    started_at: datetime | None,
) -> Submission:
    field_code = place.field_code
    if field_code is None and values.get("field") not in (None, FIELD_UNKNOWN):
        field_code = values["field"]
    comment_key = form.comment.key if form.comment is not None else None
    return Submission(
        uuid=response_uuid,
        form_id=form.id,
        form_version=form.version,
        answers={k: v for k, v in values.items() if k in form.item_keys},
        comment=values.get(comment_key) if comment_key else None,
        counter_code=place.counter_code,
        agency_code=place.agency_code,
        field_code=field_code,
        procedure_code=place.procedure_code,
        channel=place.channel,
        token_id=place.token_id,
        dossier_hash=place.dossier_hash,
        started_at=started_at,
        locale=lang(),
        honeypot=request.form.get(HONEYPOT) or None,
    )


def _is_empty(form: forms.Form, values: Mapping[str, str]) -> bool:
    """No answer and no comment (the field picker does not count)."""
    comment_key = form.comment.key if form.comment is not None else None
    return not any(
        key in form.item_keys or (key == comment_key and value.strip())
        for key, value in values.items()
    )


def _item_errors(problems: list[dict[str, str]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in problems:
        message = ANSWER_MESSAGES.get(problem.get("code", ""), ANSWER_MESSAGES["out_of_range"])
        errors.setdefault(problem.get("item_key", ""), str(message))
    return errors


def message_page(
    kind: str, status: int, *, place: Place | None = None, home: bool = False
) -> ResponseReturnValue:
    """A short page for a refused token or submission (``kind`` picks title and text);
    ``home`` adds a link to the landing page."""
    title, text = MESSAGES[kind]
    page = render_template("citizen/message.html", title=title, text=text, place=place, home=home)
    return page, status, {"Cache-Control": "no-store"}


def count_submission(place: Place) -> None:
    """Count one submission against ``SIPAS_SUBMIT_RATE_LIMIT`` for this client address and
    counter (a dossier QR: its token), separately per channel.

    Raises
    ------
    werkzeug.exceptions.TooManyRequests
        The budget is spent.
    """
    unit = place.counter_code or place.token_id or place.agency_code
    key = f"{ratelimits.client_address()}|{unit}"
    limit = current_app.config["SIPAS_SUBMIT_RATE_LIMIT"]
    ratelimits.count(f"citizen.{place.channel}", key, limit)


def handle_post(place: Place, thanks_url: str) -> ResponseReturnValue:
    """POST: check, store and redirect to the thank-you page, or re-render with the answers."""
    form, notice = _posted_form()
    values = _posted_values(form)
    response_uuid, state, started_at = posted_state()
    if notice is not None:
        return render_form(place, form, new_state(), values=values, alert=notice, status=422)
    try:
        count_submission(place)
    except TooManyRequests:
        alert = _(
            "Too many submissions were sent from here in the last minute. Your answers are kept "
            'below: please wait a minute, then press "Send my answers" again.'
        )
        return render_form(place, form, state, values=values, alert=alert, status=429)
    problem = form_token_problem(response_uuid) if current_app.config["WTF_CSRF_ENABLED"] else None
    if problem is not None:
        if problem == "expired":
            alert = _(
                "This page had been open for a long time. Your answers are kept below: "
                'please check them and press "Send my answers" again.'
            )
        else:
            alert = _(
                "We could not confirm that your answers were sent from this survey page. Your "
                'answers are kept below: please check them and press "Send my answers" again.'
            )
        return render_form(place, form, state, values=values, alert=alert, status=400)
    if _is_empty(form, values) and request.form.get("confirm_empty") != "1":
        alert = _(
            "You have not answered any question. Choose your answers below, or press "
            '"Send my answers" again to send the questionnaire empty.'
        )
        return render_form(
            place, form, state, values=values, alert=alert, status=422, confirm_empty=True
        )
    try:
        repository.save_response(_submission(form, place, values, response_uuid, started_at))
    except repository.TokenAlreadyUsed:
        return message_page("token_used", 409, place=place)
    except repository.ConflictingResubmission:
        return message_page("already_recorded", 409, place=place)
    except repository.InvalidAnswers as exc:
        alert = str(SUBMISSION_MESSAGES["invalid_answers"])
        errors = _item_errors(exc.problems)
        return render_form(
            place, form, state, values=values, errors=errors, alert=alert, status=422
        )
    except repository.SubmissionError as exc:
        alert = str(SUBMISSION_MESSAGES.get(exc.code, SUBMISSION_MESSAGES["invalid_answers"]))
        return render_form(place, form, state, values=values, alert=alert, status=exc.http_status)
    return redirect(thanks_url, code=303)
