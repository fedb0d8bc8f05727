"""Citizen pages: counter QR (``/s/``), dossier QR (``/d/``), kiosk (``/k/``) and thank-you pages.

Every view parses the URL, calls :mod:`survey.citizen.pages` and responds. Pages work without
JavaScript; the only script is the kiosk's idle reset (``static/kiosk.js``). Submissions are
counted against ``SIPAS_SUBMIT_RATE_LIMIT`` in :func:`survey.citizen.pages.handle_post`.
"""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from survey import repository
from survey.citizen import bp, pages, places
from survey.extensions import csrf
from survey.i18n import language_links, remember_locale
from survey.tokens import TokenError, TokenExpired

bp.after_app_request(remember_locale)


@bp.app_context_processor
def _template_helpers() -> dict[str, object]:
    return {"language_links": language_links}


@bp.errorhandler(places.CounterNotInUse)
def _counter_not_in_use(_exc: places.CounterNotInUse) -> ResponseReturnValue:
    return pages.message_page("counter_not_in_use", 404, home=True)


@bp.route("/")
def landing() -> ResponseReturnValue:
    """What this site is, for citizens (scan the QR code at the counter) and for officials."""
    return render_template("citizen/landing.html")


@bp.route("/s/<counter_code>", methods=["GET", "POST"])
@csrf.exempt  # checked in pages.handle_post, so that a stale page keeps its answers
def counter_survey(counter_code: str) -> ResponseReturnValue:
    """The questionnaire reached from a counter's QR code (``?f=`` fixes the field)."""
    place = places.counter_place(counter_code, request.args.get("f"), kiosk=False)
    if request.method == "POST":
        return pages.handle_post(place, url_for(".thanks"))
    return pages.show_form(place)


@bp.route("/k/<counter_code>", methods=["GET", "POST"])
@csrf.exempt
def kiosk_survey(counter_code: str) -> ResponseReturnValue:
    """The questionnaire on a tablet standing at a counter; resets for the next citizen."""
    place = places.counter_place(counter_code, request.args.get("f"), kiosk=True)
    if request.method == "POST":
        return pages.handle_post(place, url_for(".kiosk_thanks", counter_code=counter_code))
    return pages.show_form(place)


@bp.route("/d/<token>", methods=["GET", "POST"])
@csrf.exempt
def dossier_survey(token: str) -> ResponseReturnValue:
    """The questionnaire reached from the single-use QR code on a dossier receipt."""
    try:
        claims = places.verify_token(token)
    except TokenExpired:
        return pages.message_page("token_expired", 410)
    except TokenError:
        return pages.message_page("token_invalid", 400)
    place = places.dossier_place(claims)
    if request.method == "POST":
        return pages.handle_post(place, url_for(".thanks"))
    if repository.token_used(claims.token_id):
        return pages.message_page("token_used", 409, place=place)
    return pages.show_form(place)


@bp.route("/thanks")
def thanks() -> ResponseReturnValue:
    """Thank-you page after a submission."""
    return render_template("citizen/thanks.html", form=pages.default_form(), refresh_url=None)


@bp.route("/k/<counter_code>/thanks")
def kiosk_thanks(counter_code: str) -> ResponseReturnValue:
    """Kiosk thank-you page; it returns to a fresh form (in Vietnamese) after a few seconds."""
    places.counter_place(counter_code, None, kiosk=True)
    refresh_url = url_for(".kiosk_survey", counter_code=counter_code, lang="vi")
    return render_template(
        "citizen/thanks.html", form=pages.default_form(), refresh_url=refresh_url
    )
