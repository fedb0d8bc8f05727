"""Generic checks on parsed TOML, used by `forms.validate` (private module).

`Checker` walks plain dicts and lists, records a `Problem` for every deviation with its dotted
location, and returns what it could read so that later checks can go on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from forms.errors import Problem

__all__ = ["RESERVED_KEYS", "Checker", "join", "type_name"]

RESERVED_KEYS = frozenset(
    "response_id submitted_at form_id form_version agency_code counter_code field_code "
    "procedure_code channel flags comment agency_name agency_parent_code agency_parent_name "
    "counter_name field_name procedure_name".split()
)
"""Column names of the wide export that no item, factor or aspect may use (except the comment)."""

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

_LANGUAGES = {"vi": "Vietnamese", "en": "English"}

_HINTS = {
    "items": "rating items go inside their factor, as [[factors.items]]",
    "rating_items": "rating items go inside their factor, as [[factors.items]]",
    "expectation_items": "expectation items are listed as [[expectations]]",
    "profile_items": "profile items are listed as [[profile]]",
}

_MISSING = {"aspect": "missing (the form defines aspects, so every factor belongs to one)"}

_TOML_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a float",
    bool: "a boolean",
    dict: "a table",
    list: "an array",
}


def type_name(value: object) -> str:
    return _TOML_TYPES.get(type(value), f"a {type(value).__name__}")


def join(location: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{location}[{key}]"
    return f"{location}.{key}" if location else key


class Checker:
    """Collects problems while walking one definition."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.keys: dict[str, tuple[str, str]] = {}  # key -> (kind, location of its "key" field)

    def add(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))

    # --- generic shapes -----------------------------------------------------------------------

    def table(
        self,
        value: object,
        loc: str,
        allowed: tuple[str, ...] | list[str],
        required: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(loc, f"expected a table, got {type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                hint = _HINTS.get(join(loc, key), f"expected one of: {', '.join(allowed)}")
                self.add(join(loc, key), f"unknown key ({hint})")
        for key in required:
            if key not in value:
                self.add(join(loc, key), _MISSING.get(key, "missing"))
        return value

    def array(self, value: object, loc: str, *, non_empty: str | None = None) -> list[Any]:
        if not isinstance(value, list):
            self.add(loc, f"expected an array, got {type_name(value)}")
            return []
        if not value and non_empty:
            self.add(loc, non_empty)
        return value

    def integer(
        self, value: object, loc: str, low: int | None = None, high: int | None = None
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(loc, f"expected an integer, got {type_name(value)}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                bounds = f"at least {low}"
            else:
                bounds = str(low) if low == high else f"between {low} and {high}"
            self.add(loc, f"{value} is out of range (must be {bounds})")
            return None
        return value

    def string(self, value: object, loc: str) -> str | None:
        if not isinstance(value, str):
            self.add(loc, f"expected a string, got {type_name(value)}")
            return None
        return value

    def languages(self, table: Mapping[str, Any], loc: str) -> None:
        """The ``vi`` and ``en`` entries of a text table or a choice."""
        for lang, name in _LANGUAGES.items():
            where = join(loc, lang)
            if lang not in table:
                self.add(where, f"missing {name} text")
            elif (text := self.string(table[lang], where)) is not None and not text.strip():
                self.add(where, f"empty {name} text")

    def text(self, value: object, loc: str) -> None:
        table = self.table(value, loc, list(_LANGUAGES))
        if table is not None:
            self.languages(table, loc)

    def key(self, table: Mapping[str, Any], loc: str, kind: str) -> str | None:
        """Check a ``key`` field and register it; kinds: item, factor, aspect."""
        if "key" not in table:
            return None  # reported as missing by `table`
        where = join(loc, "key")
        key = self.string(table["key"], where)
        if key is None:
            return None
        if not _KEY.match(key):
            self.add(
                where,
                f"{key!r} is not a valid key (lower-case letters, digits and _, "
                "starting with a letter, at most 63 characters)",
            )
            return None
        if key in RESERVED_KEYS and not (kind == "comment" and key == "comment"):
            self.add(where, f"{key!r} is reserved (an export column)")
        group = "items" if kind in ("item", "comment") else f"{kind}s"
        if key in self.keys:
            other_kind, other_loc = self.keys[key]
            same = "duplicate key" if other_kind == kind else f"key already used by a {other_kind}"
            self.add(f"{group}.{key}", f"{same} (at {other_loc} and {where})")
            return None
        self.keys[key] = (kind, where)
        return key

    def choices(self, value: object, loc: str, *, minimum_code: int) -> list[int]:
        """An array of ``{code, vi, en}``; returns the valid codes in order."""
        codes: list[int] = []
        for i, raw in enumerate(self.array(value, loc, non_empty="no choices")):
            where = join(loc, i)
            choice = self.table(raw, where, ("code", "vi", "en"), ("code",))
            if choice is None:
                continue
            self.languages(choice, where)
            if "code" not in choice:
                continue
            code = self.integer(choice["code"], join(where, "code"), low=minimum_code)
            if code is None:
                continue
            if code in codes:
                self.add(join(where, "code"), f"duplicate code {code}")
            else:
                codes.append(code)
        return codes

    # --- sections -----------------------------------------------------------------------------

    def keyed_text(self, value: object, loc: str, extra: tuple[str, ...]) -> str | None:
        """A ``{key, text, *extra}`` table (an item); returns its key."""
        item = self.table(value, loc, ("key", "text", *extra), ("key", "text", *extra))
        if item is None:
            return None
        if "text" in item:
            self.text(item["text"], join(loc, "text"))
        return self.key(item, loc, "item")

    def weights(self, value: object, loc: str, known: list[str], what: str) -> None:
        if not isinstance(value, dict):
            self.add(loc, f"expected a table, got {type_name(value)}")
            return
        for key, weight in value.items():
            where = join(loc, key)
            if key not in known:
                self.add(where, f"unknown {what}")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                self.add(where, f"expected a number, got {type_name(weight)}")
            elif not math.isfinite(weight) or weight <= 0:
                self.add(where, f"weight must be a positive number, got {weight}")
