"""Load questionnaire definitions: TOML file → validated, immutable `Form`.

A form version is one TOML file in ``forms/definitions/`` named ``<id>.v<version>.toml``.
`load_form_file` parses and validates a file (every problem is reported at once, see
`forms.validate`) and builds a `Form`; `load_form` finds a shipped definition by id and version.
The dataclasses live in `forms.model` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from forms.errors import FormDefinitionError, FormNotFound, Problem
from forms.model import (
    Aggregation,
    Aspect,
    Choice,
    ExpectationScale,
    Factor,
    Form,
    FormSummary,
    Item,
    ItemKind,
    RatingScale,
    Text,
)
from forms.validate import FILE_NAME, check_file, validate_form_data

__all__ = [
    "DEFINITIONS_DIR",
    "Aggregation",
    "Aspect",
    "Choice",
    "ExpectationScale",
    "Factor",
    "Form",
    "FormSummary",
    "Item",
    "ItemKind",
    "RatingScale",
    "Text",
    "form_from_dict",
    "list_forms",
    "load_form",
    "load_form_file",
]

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
"""Folder of the shipped form definitions."""


# --- building ---------------------------------------------------------------------------------


def _text(data: Mapping[str, Any]) -> Text:
    return Text(vi=data["vi"], en=data["en"])


def _choice(data: Mapping[str, Any]) -> Choice:
    return Choice(code=data["code"], label=_text(data))


def _optional_text(data: Mapping[str, Any], key: str) -> Text | None:
    return _text(data[key]) if key in data else None


def _build(data: Mapping[str, Any]) -> Form:
    """Build a `Form` from a definition that `validate_form_data` found clean."""
    s = data["scale"]
    scale = RatingScale(
        points=tuple(_choice(p) for p in s["points"]),
        not_applicable=_choice(s["not_applicable"]),
        satisfied_threshold=s["satisfied_threshold"],
        dissatisfied_max=s["dissatisfied_max"],
        prompt=_optional_text(s, "prompt"),
    )
    factors: list[Factor] = []
    rating_items: list[Item] = []
    for f in data["factors"]:
        for i in f["items"]:
            item = Item(i["key"], "rating", _text(i["text"]), f["key"], scale.choices)
            rating_items.append(item)
        keys = tuple(i["key"] for i in f["items"])
        factors.append(Factor(f["key"], _text(f["label"]), f.get("aspect"), keys))
    aspects = tuple(
        Aspect(
            a["key"],
            _text(a["label"]),
            tuple(f.key for f in factors if f.aspect == a["key"]),
        )
        for a in data.get("aspects", ())
    )
    overall = None
    if "overall" in data:
        o = data["overall"]
        overall = Item(o["key"], "overall", _text(o["text"]), None, scale.choices)
    expectation_scale = None
    if "expectation_scale" in data:
        e = data["expectation_scale"]
        expectation_scale = ExpectationScale(
            choices=tuple(_choice(c) for c in e["choices"]),
            high_threshold=e.get("high_threshold", e["choices"][-1]["code"]),
            prompt=_optional_text(e, "prompt"),
        )
    expectation_items = tuple(
        Item(i["key"], "expectation", _text(i["text"]), None, expectation_scale.choices)
        for i in data.get("expectations", ())
        if expectation_scale is not None
    )
    profile_items = tuple(
        Item(i["key"], "profile", _text(i["text"]), None, tuple(_choice(c) for c in i["choices"]))
        for i in data.get("profile", ())
    )
    comment = None
    if "comment" in data:
        c = data["comment"]
        comment = Item(
            c.get("key", "comment"),
            "comment",
            _text(c["text"]),
            max_length=c.get("max_length", 2000),
        )
    agg = data.get("aggregation", {})
    aggregation = Aggregation(
        top_level=agg.get("top_level", "aspects" if aspects else "factors"),
        item_weights=_weights([i.key for i in rating_items], agg.get("item_weights", {})),
        factor_weights=_weights([f.key for f in factors], agg.get("factor_weights", {})),
        aspect_weights=_weights([a.key for a in aspects], agg.get("aspect_weights", {})),
    )
    return Form(
        id=data["id"],
        version=data["version"],
        title=_text(data["title"]),
        intro=_text(data["intro"]),
        thanks=_text(data["thanks"]),
        scale=scale,
        aspects=aspects,
        factors=tuple(factors),
        rating_items=tuple(rating_items),
        expectation_scale=expectation_scale,
        expectation_items=expectation_items,
        profile_items=profile_items,
        comment=comment,
        aggregation=aggregation,
        overall_item=overall,
    )


def _weights(keys: list[str], given: Mapping[str, Any]) -> Mapping[str, float]:
    return MappingProxyType({k: float(given.get(k, 1.0)) for k in keys})


# --- loading ----------------------------------------------------------------------------------


def form_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Form:
    """Validate a definition given as a dict (e.g. stored JSON) and build the `Form`.

    Raises `FormDefinitionError` listing every problem.
    """
    problems = validate_form_data(data)
    if problems:
        raise FormDefinitionError(source, problems)
    return _build(data)


def load_form_file(path: str | Path) -> Form:
    """Load and validate one TOML definition file.

    Raises `FormDefinitionError` listing every problem (TOML syntax errors included).
    """
    path = Path(path)
    data, problems = check_file(path)
    if problems or data is None:
        raise FormDefinitionError(str(path), problems)
    return _build(data)


def _shipped() -> dict[tuple[str, int], Path]:
    found = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.toml")):
        m = FILE_NAME.match(path.name)
        if m is None:
            raise FormDefinitionError(
                str(path), [Problem("", "file name must be <id>.v<version>.toml")]
            )
        found[(m["id"], int(m["version"]))] = path
    return found


@cache
def _load_shipped(form_id: str, version: int) -> Form:
    # check_file compares the file name with the id and version inside.
    return load_form_file(DEFINITIONS_DIR / f"{form_id}.v{version}.toml")


def load_form(form_id: str, version: int | None = None) -> Form:
    """Load a shipped form by id: the given ``version``, or the newest when ``None``.

    Loaded forms are cached (a `Form` is immutable). Raises `FormNotFound` for an unknown id or
    version, `FormDefinitionError` if the shipped file is invalid.
    """
    versions = sorted(v for (i, v) in _shipped() if i == form_id)
    if not versions or (version is not None and version not in versions):
        raise FormNotFound(form_id, version)
    return _load_shipped(form_id, versions[-1] if version is None else version)


def list_forms() -> list[FormSummary]:
    """Every shipped form version, sorted by id then version."""
    return [
        FormSummary(form.id, form.version, form.title, path)
        for (form_id, version), path in sorted(_shipped().items())
        for form in [_load_shipped(form_id, version)]
    ]
