"""Language selection: ``?lang=`` (remembered in a cookie), then the cookie, then Vietnamese.

Pages offer a link to the other language(s) that keeps the current URL (:func:`language_links`);
following it sets the ``lang`` cookie (:func:`remember_locale`), so the choice sticks.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, current_app, request

LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """Return the locale of the current request."""
    languages: list[str] = current_app.config["SIPAS_LANGUAGES"]
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate in languages:
            return candidate
    return languages[0]


def remember_locale(response: Response) -> Response:
    """Store a valid ``?lang=`` choice in the ``lang`` cookie (an ``after_request`` hook)."""
    chosen = request.args.get("lang")
    if chosen in current_app.config["SIPAS_LANGUAGES"] and chosen != request.cookies.get("lang"):
        response.set_cookie(
            "lang", chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True, path="/"
        )
    return response


def language_links() -> list[tuple[str, str, str]]:
    """``(code, name, url)`` for every language except the current one, keeping path and query.

    Only GET pages keep their URL; after a POST the link points at the same path without a body.
    """
    current = select_locale()
    links = []
    for lang in current_app.config["SIPAS_LANGUAGES"]:
        if lang == current:
            continue
        args = {k: v for k, v in request.args.items() if k != "lang"}
        args["lang"] = lang
        links.append((lang, LANGUAGE_NAMES.get(lang, lang), f"{request.path}?{urlencode(args)}"))
    return links
