"""Where a citizen answers: a counter (QR code or kiosk) or a dossier receipt (signed token).

A :class:`Place` carries the channel and the unit codes a response is attributed to, with the unit
names in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import get_locale
from werkzeug.exceptions import NotFound

from survey import repository, tokens


class CounterNotInUse(NotFound):
    """The code of no active counter: unknown, or retired (an old poster). The citizen views
    answer it with a page that says what to do (404)."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a form is answered and what the response is attributed to (names localised)."""

    channel: str
    agency_code: str
    agency_name: str
    counter_code: str | None = None
    counter_name: str | None = None
    field_code: str | None = None
    field_name: str | None = None
    procedure_code: str | None = None
    procedure_name: str | None = None
    token_id: str | None = None
    dossier_hash: str | None = None

    @property
    def kiosk(self) -> bool:
        return self.channel == "kiosk"


def lang() -> str:
    """The language of the current page (``vi`` or ``en``)."""
    return str(get_locale())


def unit_name(unit: Any, language: str) -> str:
    """A unit's name in ``language``, the Vietnamese one when there is no translation."""
    return unit.name_en if language == "en" and unit.name_en else unit.name_vi


def counter_place(counter_code: str, field_arg: str | None, *, kiosk: bool) -> Place:
    """The place of a counter QR (or kiosk); :class:`CounterNotInUse` for an unknown or inactive
    counter.

    ``field_arg`` (``?f=``) fixes the field; an unknown code falls back to the counter's default.
    """
    counter = repository.get_counter(counter_code)
    if counter is None or not counter.active:
        raise CounterNotInUse()
    language = lang()
    chosen = repository.get_field(field_arg) if field_arg else None
    chosen = chosen or counter.field
    return Place(
        channel="kiosk" if kiosk else "counter_qr",
        agency_code=counter.agency.code,
        agency_name=unit_name(counter.agency, language),
        counter_code=counter.code,
        counter_name=unit_name(counter, language),
        field_code=chosen.code if chosen is not None else None,
        field_name=unit_name(chosen, language) if chosen is not None else None,
    )


def verify_token(token: str) -> tokens.DossierClaims:
    """Verify a dossier token with the app's key; raises :class:`survey.tokens.TokenError`."""
    max_age = timedelta(days=current_app.config["SIPAS_TOKEN_MAX_AGE_DAYS"])
    return tokens.verify_dossier_token(current_app.config["SECRET_KEY"], token, max_age)


def dossier_place(claims: tokens.DossierClaims) -> Place:
    """The place named by a verified dossier token (unit names looked up, codes as fallback)."""
    language = lang()
    agency = repository.get_agency(claims.agency_code)
    chosen = repository.get_field(claims.field_code)
    procedure = repository.get_procedure(claims.procedure_code) if claims.procedure_code else None
    procedure_name = claims.procedure_code
    if procedure is not None:
        procedure_name = unit_name(procedure, language)
    return Place(
        channel="dossier_qr",
        agency_code=claims.agency_code,
        agency_name=unit_name(agency, language) if agency is not None else claims.agency_code,
        field_code=claims.field_code,
        field_name=unit_name(chosen, language) if chosen is not None else claims.field_code,
        procedure_code=claims.procedure_code,
        procedure_name=procedure_name,
        token_id=claims.token_id,
        dossier_hash=claims.dossier_hash,
    )
