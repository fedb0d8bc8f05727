"""Language selection: ``?lang=`` (remembered in a cookie), then the cookie, then Vietnamese."""

from __future__ import annotations

from flask import current_app, request


def select_locale() -> str:
    """Return the locale of the current request."""
    languages: list[str] = current_app.config["SIPAS_LANGUAGES"]
    for candidate in (request.args.get("lang"), request.cookies.get("lang")):
        if candidate in languages:
            return candidate
    return languages[0]
