"""Typed, immutable model of a questionnaire definition (frozen, slotted dataclasses).

Build a `Form` with `forms.load_form` or `forms.load_form_file` (see `forms.schema`), never by
hand: the loader validates the definition first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from forms.answers import check_answers, check_comment

__all__ = [
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
    "TopLevel",
]

ItemKind = Literal["rating", "overall", "expectation", "profile", "comment"]
TopLevel = Literal["factors", "aspects"]


@dataclass(frozen=True, slots=True)
class Text:
    """A text in Vietnamese and English; ``text["vi"]`` and ``text["en"]`` also work."""

    vi: str
    en: str

    def __getitem__(self, language: str) -> str:
        if language == "vi":
            return self.vi
        if language == "en":
            return self.en
        raise KeyError(language)

    def get(self, language: str, default: str | None = None) -> str | None:
        """The text in ``language``, or ``default`` for another language."""
        return self[language] if language in ("vi", "en") else default

    def to_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer option: its integer ``code`` and its ``label``."""

    code: int
    label: Text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.label.to_dict()}


@dataclass(frozen=True, slots=True)
class RatingScale:
    """The satisfaction scale shared by all rating items.

    ``points`` are the valid answers (codes 1..5, low to high); ``not_applicable`` has code 0.
    An answer is *satisfied* when ``code >= satisfied_threshold`` and *dissatisfied* when
    ``1 <= code <= dissatisfied_max``; not applicable and skipped answers are neither.
    """

    points: tuple[Choice, ...]
    not_applicable: Choice
    satisfied_threshold: int
    dissatisfied_max: int
    prompt: Text | None = None

    @property
    def valid_codes(self) -> frozenset[int]:
        """Codes that count in the statistics' denominators (1..5)."""
        return frozenset(p.code for p in self.points)

    @property
    def choices(self) -> tuple[Choice, ...]:
        """All answer options in display order: the points, then not applicable."""
        return (*self.points, self.not_applicable)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.prompt is not None:
            data["prompt"] = self.prompt.to_dict()
        data["points"] = [p.to_dict() for p in self.points]
        data["not_applicable"] = self.not_applicable.to_dict()
        data["satisfied_threshold"] = self.satisfied_threshold
        data["dissatisfied_max"] = self.dissatisfied_max
        return data


@dataclass(frozen=True, slots=True)
class ExpectationScale:
    """The answer scale of the expectation items (e.g. 1 Ít, 2 Nhiều, 3 Rất nhiều).

    ``high_threshold``: codes at or above it count as a high expectation.
    """

    choices: tuple[Choice, ...]
    high_threshold: int
    prompt: Text | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.prompt is not None:
            data["prompt"] = self.prompt.to_dict()
        data["choices"] = [c.to_dict() for c in self.choices]
        data["high_threshold"] = self.high_threshold
        return data


@dataclass(frozen=True, slots=True)
class Item:
    """One question of the form.

    ``key`` is the stable answer-column name. ``factor`` is set for rating items only.
    ``choices`` are the valid answer codes: the rating scale including not applicable (0) for
    rating items and the overall-satisfaction item, the expectation scale, or the profile
    item's own choices; empty for the comment. ``max_length`` is set for the comment only.
    """

    key: str
    kind: ItemKind
    text: Text
    factor: str | None = None
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None

    @property
    def codes(self) -> frozenset[int]:
        """The answer codes this item accepts."""
        return frozenset(c.code for c in self.choices)


@dataclass(frozen=True, slots=True)
class Factor:
    """A factor (yếu tố): a group of rating items, optionally inside an aspect."""

    key: str
    label: Text
    aspect: str | None
    item_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Aspect:
    """An aspect (khía cạnh): a group of factors."""

    key: str
    label: Text
    factor_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Aggregation:
    """How criterion indices combine into factor, aspect and overall indices.

    The weights are complete (every rating item, factor and aspect is present; 1.0 unless the
    definition says otherwise) and read-only.

    Notes
    -----
    With criterion indices :math:`CSI_j`, item weights :math:`w_j`, factor weights :math:`v_k`
    and aspect weights :math:`u_m`:

    .. math::

        F_k = \\frac{\\sum_{j \\in k} w_j CSI_j}{\\sum_{j \\in k} w_j}, \\qquad
        A_m = \\frac{\\sum_{k \\in m} v_k F_k}{\\sum_{k \\in m} v_k}

    and the overall index is :math:`\\sum_m u_m A_m / \\sum_m u_m` when ``top_level`` is
    ``"aspects"``, :math:`\\sum_k v_k F_k / \\sum_k v_k` over all factors when it is
    ``"factors"``.
    """

    top_level: TopLevel
    item_weights: Mapping[str, float]
    factor_weights: Mapping[str, float]
    aspect_weights: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_level": self.top_level,
            "item_weights": dict(self.item_weights),
            "factor_weights": dict(self.factor_weights),
            "aspect_weights": dict(self.aspect_weights),
        }


@dataclass(frozen=True, slots=True)
class FormSummary:
    """One entry of `list_forms`."""

    id: str
    version: int
    title: Text
    path: Path


@dataclass(frozen=True, slots=True, eq=False)
class Form:
    """One version of a questionnaire. Build it with `load_form` or `load_form_file`.

    Attributes
    ----------
    id, version : str, int
        Identify the definition (``"sipas-counter"``, 1).
    title, intro, thanks : Text
        Texts shown to the respondent.
    scale : RatingScale
        The satisfaction scale of every rating item.
    aspects, factors : tuple
        The item → factor → aspect tree; ``aspects`` may be empty.
    rating_items, expectation_items, profile_items : tuple[Item, ...]
        The items with answer codes, in form order. The rating items are the criteria of the
        indices.
    overall_item : Item or None
        The optional overall-satisfaction question (kind ``"overall"``): answered on the rating
        scale like a criterion but not a criterion, so it enters no index; key drivers take it
        as their outcome (:func:`analysis.key_drivers`).
    expectation_scale : ExpectationScale or None
        The answer scale of the expectation items.
    comment : Item or None
        The free-text item.
    aggregation : Aggregation
        How the statistics combine criterion indices.
    content_hash : str
        sha256 (hex) of the canonical JSON of `to_dict`; two forms are equal when their hashes
        are. TOML comments and layout do not change it.
    rating_keys : tuple[str, ...]
        Keys of the rating items, in form order.
    """

    id: str
    version: int
    title: Text
    intro: Text
    thanks: Text
    scale: RatingScale
    aspects: tuple[Aspect, ...]
    factors: tuple[Factor, ...]
    rating_items: tuple[Item, ...]
    expectation_scale: ExpectationScale | None
    expectation_items: tuple[Item, ...]
    profile_items: tuple[Item, ...]
    comment: Item | None
    aggregation: Aggregation
    overall_item: Item | None = None
    content_hash: str = field(init=False)
    rating_keys: tuple[str, ...] = field(init=False, repr=False)
    _items: Mapping[str, Item] = field(init=False, repr=False)
    # Valid codes per answerable item (closed items, form order), built once: validation runs
    # on every submission.
    _allowed: Mapping[str, frozenset[int]] = field(init=False, repr=False)
    _valid_pairs: frozenset[tuple[str, int]] = field(init=False, repr=False)
    _ignored: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rating_keys", tuple(i.key for i in self.rating_items))
        overall = () if self.overall_item is None else (self.overall_item,)
        items = {i.key: i for i in (*self.rating_items, *overall, *self.expectation_items)}
        items.update({i.key: i for i in self.profile_items})
        object.__setattr__(
            self, "_allowed", MappingProxyType({k: i.codes for k, i in items.items()})
        )
        pairs = frozenset((k, code) for k, codes in self._allowed.items() for code in codes)
        object.__setattr__(self, "_valid_pairs", pairs)
        ignored = frozenset({self.comment.key} if self.comment is not None else ())
        object.__setattr__(self, "_ignored", ignored)
        if self.comment is not None:
            items[self.comment.key] = self.comment
        object.__setattr__(self, "_items", MappingProxyType(items))
        canonical = json.dumps(
            self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        object.__setattr__(self, "content_hash", digest)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Form):
            return NotImplemented
        return self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickle and deepcopy through the definition: the read-only mappings inside cannot be
        # pickled directly, and rebuilding re-validates the definition.
        from forms.schema import form_from_dict  # noqa: PLC0415 (schema imports this module)

        return form_from_dict, (self.to_dict(), f"{self.id} v{self.version}")

    @property
    def item_keys(self) -> tuple[str, ...]:
        """Answer columns in form order: rating, overall, expectation, then profile items."""
        overall = () if self.overall_item is None else (self.overall_item,)
        return tuple(
            i.key
            for i in (*self.rating_items, *overall, *self.expectation_items, *self.profile_items)
        )

    def item(self, key: str) -> Item:
        """Any item (including the comment) by key; raises `KeyError` for an unknown key."""
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"form {self.id} v{self.version} has no item {key!r}") from None

    def factor(self, key: str) -> Factor:
        """A factor by key; raises `KeyError` for an unknown key."""
        for f in self.factors:
            if f.key == key:
                return f
        raise KeyError(f"form {self.id} v{self.version} has no factor {key!r}")

    def validate_answers(self, answers: Mapping[str, object]) -> dict[str, int]:
        """Check a respondent's answer codes and return the clean ones.

        Parameters
        ----------
        answers : Mapping[str, object]
            Item key to answer code, as an ``int`` or a decimal string (``"4"``). ``None`` or a
            blank string means skipped. The comment key, if present, is ignored (use
            `validate_comment`).

        Returns
        -------
        dict[str, int]
            The answered items, in the order given; skipped items are left out.

        Raises
        ------
        InvalidAnswers
            With every problem found: ``unknown_item``, ``not_an_integer``, ``out_of_range``.
        """
        return check_answers(answers, self._allowed, self._ignored, self._valid_pairs)

    def validate_comment(self, text: object) -> str | None:
        """Clean the free-text comment: ``None`` when blank, else NFC-normalised stripped text.

        Line breaks are normalised to ``\\n``. Raises `InvalidAnswers` (``not_text``,
        ``too_long``, ``invalid_character``, or ``unknown_item`` when the form has no comment).
        """
        key = self.comment.key if self.comment is not None else "comment"
        max_length = self.comment.max_length if self.comment is not None else None
        return check_comment(text, key, max_length, has_comment=self.comment is not None)

    def to_dict(self) -> dict[str, Any]:
        """The definition as a JSON-able dict, in the same structure as the TOML file.

        ``form_from_dict(form.to_dict())`` rebuilds an equal form.
        """
        data: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "title": self.title.to_dict(),
            "intro": self.intro.to_dict(),
            "thanks": self.thanks.to_dict(),
            "scale": self.scale.to_dict(),
        }
        if self.aspects:
            data["aspects"] = [{"key": a.key, "label": a.label.to_dict()} for a in self.aspects]
        factors = []
        for f in self.factors:
            entry: dict[str, Any] = {"key": f.key, "label": f.label.to_dict()}
            if f.aspect is not None:
                entry["aspect"] = f.aspect
            entry["items"] = [
                {"key": k, "text": self._items[k].text.to_dict()} for k in f.item_keys
            ]
            factors.append(entry)
        data["factors"] = factors
        if self.overall_item is not None:
            data["overall"] = {
                "key": self.overall_item.key,
                "text": self.overall_item.text.to_dict(),
            }
        if self.expectation_scale is not None:
            data["expectation_scale"] = self.expectation_scale.to_dict()
        if self.expectation_items:
            data["expectations"] = [
                {"key": i.key, "text": i.text.to_dict()} for i in self.expectation_items
            ]
        if self.profile_items:
            data["profile"] = [
                {
                    "key": i.key,
                    "text": i.text.to_dict(),
                    "choices": [c.to_dict() for c in i.choices],
                }
                for i in self.profile_items
            ]
        if self.comment is not None:
            data["comment"] = {
                "key": self.comment.key,
                "text": self.comment.text.to_dict(),
                "max_length": self.comment.max_length,
            }
        data["aggregation"] = self.aggregation.to_dict()
        return data
