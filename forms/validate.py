"""Schema check of a form definition: report every problem with its location.

The checks are plain Python over the parsed TOML (no JSON-Schema engine): they need
cross-references (factor ↔ aspect, weights ↔ items, unique keys across sections) that a schema
language expresses badly, and they produce messages an official can act on.

Locations are dotted paths with 0-based indices, e.g. ``factors[2].items[1].text.en``;
key clashes are reported at ``items.<key>``, ``factors.<key>`` or ``aspects.<key>``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forms._checker import RESERVED_KEYS, Checker, join
from forms.errors import Problem

__all__ = [
    "FILE_NAME",
    "RESERVED_KEYS",
    "check_file",
    "read_toml",
    "validate_form_data",
    "validate_form_file",
]

_TOP_KEYS = (
    "id version title intro thanks scale aspects factors expectation_scale expectations "
    "profile comment aggregation overall"
).split()

_REQUIRED_TOP = ("id", "version", "title", "intro", "thanks", "scale", "factors")

_FORM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

FILE_NAME = re.compile(r"^(?P<id>[a-z0-9][a-z0-9-]*)\.v(?P<version>[1-9][0-9]*)\.toml$")
"""File names of shipped definitions: ``<id>.v<version>.toml``."""
_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class _FormChecker(Checker):
    """The sections of a form definition."""

    def scale(self, value: object) -> None:
        allowed = ("prompt", "points", "not_applicable", "satisfied_threshold", "dissatisfied_max")
        scale = self.table(value, "scale", allowed, allowed[1:])
        if scale is None:
            return
        if "prompt" in scale:
            self.text(scale["prompt"], "scale.prompt")
        if "points" in scale:
            codes = self.choices(scale["points"], "scale.points", minimum_code=1)
            if (
                codes != [1, 2, 3, 4, 5]
                and isinstance(scale["points"], list)
                and len(codes) == len(scale["points"])
            ):
                self.add("scale.points", f"codes must be 1, 2, 3, 4, 5 in this order, got {codes}")
        if "not_applicable" in scale:
            na = self.table(
                scale["not_applicable"], "scale.not_applicable", ("code", "vi", "en"), ("code",)
            )
            if na is not None:
                self.languages(na, "scale.not_applicable")
                if "code" in na:
                    self.integer(na["code"], "scale.not_applicable.code", 0, 0)
        threshold = maximum = None
        if "satisfied_threshold" in scale:
            threshold = self.integer(
                scale["satisfied_threshold"], "scale.satisfied_threshold", 2, 5
            )
        if "dissatisfied_max" in scale:
            maximum = self.integer(scale["dissatisfied_max"], "scale.dissatisfied_max", 1, 4)
        if threshold is not None and maximum is not None and maximum >= threshold:
            self.add(
                "scale.dissatisfied_max",
                f"must be below satisfied_threshold ({maximum} >= {threshold})",
            )

    def aspects(self, value: object) -> list[str]:
        keys = []
        for i, raw in enumerate(self.array(value, "aspects")):
            loc = join("aspects", i)
            aspect = self.table(raw, loc, ("key", "label"), ("key", "label"))
            if aspect is None:
                continue
            key = self.key(aspect, loc, "aspect")
            if key is not None:
                keys.append(key)
            if "label" in aspect:
                self.text(aspect["label"], join(loc, "label"))
        return keys

    def factors(
        self, value: object, aspects: list[str], has_aspects: bool
    ) -> tuple[list[str], list[str], set[str]]:
        """Returns factor keys, rating item keys and the aspects that have a factor."""
        factor_keys: list[str] = []
        item_keys: list[str] = []
        used_aspects: set[str] = set()
        for i, raw in enumerate(self.array(value, "factors", non_empty="the form has no factors")):
            loc = join("factors", i)
            required = (
                ("key", "label", "aspect", "items") if has_aspects else ("key", "label", "items")
            )
            factor = self.table(raw, loc, ("key", "label", "aspect", "items"), required)
            if factor is None:
                continue
            key = self.key(factor, loc, "factor")
            if key is not None:
                factor_keys.append(key)
            if "label" in factor:
                self.text(factor["label"], join(loc, "label"))
            if "aspect" in factor:
                where = join(loc, "aspect")
                aspect = self.string(factor["aspect"], where)
                if aspect is not None and not has_aspects:
                    self.add(where, f"unknown aspect {aspect!r} (the form defines no aspects)")
                elif aspect is not None and aspect not in aspects:
                    self.add(where, f"unknown aspect {aspect!r}")
                elif aspect is not None:
                    used_aspects.add(aspect)
            if "items" not in factor:
                continue
            items = self.array(factor["items"], join(loc, "items"), non_empty="factor has no items")
            for j, raw_item in enumerate(items):
                item_key = self.keyed_text(raw_item, join(join(loc, "items"), j), ())
                if item_key is not None:
                    item_keys.append(item_key)
        return factor_keys, item_keys, used_aspects

    def expectation_scale(self, value: object) -> None:
        allowed = ("prompt", "choices", "high_threshold")
        scale = self.table(value, "expectation_scale", allowed, ("choices",))
        if scale is None:
            return
        if "prompt" in scale:
            self.text(scale["prompt"], "expectation_scale.prompt")
        codes = []
        if "choices" in scale:
            codes = self.choices(scale["choices"], "expectation_scale.choices", minimum_code=1)
            if codes and len(codes) < 2:
                self.add("expectation_scale.choices", "needs at least 2 choices")
        if "high_threshold" in scale:
            where = "expectation_scale.high_threshold"
            high = self.integer(scale["high_threshold"], where)
            if high is not None and codes and high not in codes:
                self.add(where, f"{high} is not one of the choice codes {codes}")

    def overall(self, value: object) -> None:
        """The overall-satisfaction item: one table ``[overall]`` with ``key`` and ``text``."""
        if isinstance(value, list):
            self.add(
                "overall",
                f"{len(value)} overall-satisfaction items: a form has at most one, written as "
                "one [overall] table",
            )
            return
        self.keyed_text(value, "overall", ())

    def comment(self, value: object) -> None:
        comment = self.table(value, "comment", ("key", "text", "max_length"), ("text",))
        if comment is None:
            return
        if "text" in comment:
            self.text(comment["text"], "comment.text")
        if "key" in comment:
            self.key(comment, "comment", "comment")
        if "max_length" in comment:
            self.integer(comment["max_length"], "comment.max_length", 1, 100_000)

    def aggregation(
        self,
        value: object,
        items: list[str],
        factors: list[str],
        aspects: list[str],
        has_aspects: bool,
    ) -> None:
        allowed = ("top_level", "item_weights", "factor_weights", "aspect_weights")
        agg = self.table(value, "aggregation", allowed)
        if agg is None:
            return
        if "top_level" in agg:
            top = self.string(agg["top_level"], "aggregation.top_level")
            if top is not None and top not in ("factors", "aspects"):
                self.add("aggregation.top_level", f"{top!r} is not 'factors' or 'aspects'")
            elif top == "aspects" and not has_aspects:
                self.add("aggregation.top_level", "'aspects' but the form defines no aspects")
        if "item_weights" in agg:
            self.weights(agg["item_weights"], "aggregation.item_weights", items, "rating item")
        if "factor_weights" in agg:
            self.weights(agg["factor_weights"], "aggregation.factor_weights", factors, "factor")
        if "aspect_weights" in agg:
            self.weights(agg["aspect_weights"], "aggregation.aspect_weights", aspects, "aspect")


def validate_form_data(data: Mapping[str, Any]) -> list[Problem]:
    """Every problem in a parsed form definition (empty list when the definition is clean)."""
    c = _FormChecker()
    top = c.table(dict(data) if isinstance(data, Mapping) else data, "", _TOP_KEYS, _REQUIRED_TOP)
    if top is None:
        return c.problems
    if "id" in top and (form_id := c.string(top["id"], "id")) is not None:
        if not _FORM_ID.match(form_id):
            c.add("id", f"{form_id!r} is not a valid form id (lower-case letters, digits and -)")
    if "version" in top:
        c.integer(top["version"], "version", low=1)
    for name in ("title", "intro", "thanks"):
        if name in top:
            c.text(top[name], name)
    if "scale" in top:
        c.scale(top["scale"])
    aspects = c.aspects(top["aspects"]) if "aspects" in top else []
    has_aspects = bool(top.get("aspects"))
    if top.get("aspects") == []:
        c.add("aspects", "empty array (leave 'aspects' out when the form has none)")
    factors: list[str] = []
    items: list[str] = []
    used: set[str] = set()
    if "factors" in top:
        factors, items, used = c.factors(top["factors"], aspects, has_aspects)
    for i, key in enumerate(aspects):
        if key not in used:
            c.add(join("aspects", i), f"aspect {key!r} has no factors")
    if "overall" in top:
        c.overall(top["overall"])
    if "expectation_scale" in top:
        c.expectation_scale(top["expectation_scale"])
    if "expectations" in top:
        if "expectation_scale" not in top:
            c.add("expectation_scale", "missing (the form has expectation items)")
        for i, raw in enumerate(c.array(top["expectations"], "expectations")):
            c.keyed_text(raw, join("expectations", i), ())
    if "profile" in top:
        for i, raw in enumerate(c.array(top["profile"], "profile")):
            loc = join("profile", i)
            c.keyed_text(raw, loc, ("choices",))
            if isinstance(raw, dict) and "choices" in raw:
                c.choices(raw["choices"], join(loc, "choices"), minimum_code=1)
    if "comment" in top:
        c.comment(top["comment"])
    if "aggregation" in top:
        c.aggregation(top["aggregation"], items, factors, aspects, has_aspects)
    return c.problems


def read_toml(path: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse a TOML file; a read or syntax error is returned as one `Problem`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem("", f"cannot read file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem("", f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")]
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _SYNTAX_POSITION.search(message)
        location = f"{match[1]}:{match[2]}" if match else ""
        if match:
            message = message[: match.start()]
        return None, [Problem(location, f"TOML syntax error: {message}")]


def check_file(path: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The parsed definition (``None`` if unreadable) and every problem in it."""
    data, problems = read_toml(path)
    if data is None:
        return None, problems
    problems = validate_form_data(data)
    named = FILE_NAME.match(path.name)
    if named is not None:
        for field, expected in (("id", named["id"]), ("version", int(named["version"]))):
            found = data.get(field)
            if type(found) is type(expected) and found != expected:
                message = f"the file name says {expected!r} but the definition says {found!r}"
                problems.append(Problem(field, message))
    return data, problems


def validate_form_file(path: str | Path) -> list[Problem]:
    """Every problem in a TOML form definition file (empty list when it is clean).

    When the file name has the shipped pattern ``<id>.v<version>.toml``, it must agree with the
    ``id`` and ``version`` inside (a copied file whose version was not bumped is caught here).
    """
    return check_file(Path(path))[1]
