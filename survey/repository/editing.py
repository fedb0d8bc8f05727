"""Changes to the unit catalogue made on the admin pages: names, and a counter's active flag.

Codes never change here (scripts, QR codes and stored responses rely on them); imports
(:mod:`survey.importing`) create units. Every change clears the write path's unit cache.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from survey.extensions import db
from survey.models import Agency, Counter, Field, Procedure
from survey.repository.units import clear_caches

__all__ = ["CATALOGUE_MODELS", "EditError", "rename_unit", "set_counter_active"]

# kind (as in ``sipas import KIND``) -> model
CATALOGUE_MODELS: dict[str, type[Any]] = {
    "units": Agency,
    "fields": Field,
    "counters": Counter,
    "procedures": Procedure,
}


class EditError(ValueError):
    """A change was refused; ``code`` is stable (``unknown_unit``, ``name_required``,
    ``name_too_long``, ``control_character``) and translated by the web layer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _find(kind: str, code: str) -> Any:
    model = CATALOGUE_MODELS[kind]
    found = None
    if not any(ord(ch) < 32 for ch in code):
        found = db.session.scalar(select(model).where(model.code == code))
    if found is None:
        raise EditError("unknown_unit", f"no {kind} entry with code {code!r}")
    return found


def rename_unit(kind: str, code: str, name_vi: str, name_en: str) -> None:
    """Give the agency, field, counter or procedure ``code`` new names (committed).

    Raises
    ------
    EditError
        Unknown code, blank Vietnamese name, a name longer than its column, or control
        characters in a name.
    """
    row = _find(kind, code)
    limit = row.__table__.c.name_vi.type.length
    names = {"name_vi": name_vi.strip(), "name_en": name_en.strip()}
    if not names["name_vi"]:
        raise EditError("name_required", "the Vietnamese name must not be blank")
    for value in names.values():
        if len(value) > limit:
            raise EditError("name_too_long", f"a name must have at most {limit} characters")
        if any(ord(ch) < 32 for ch in value):
            raise EditError("control_character", "a name must not contain control characters")
    for name, value in names.items():
        setattr(row, name, value)
    db.session.commit()
    clear_caches()


def set_counter_active(code: str, active: bool) -> Counter:
    """Activate or deactivate a counter (committed); an inactive counter accepts no responses."""
    counter: Counter = _find("counters", code)
    counter.active = active
    db.session.commit()
    clear_caches()
    return counter
