"""SIPAS points inside the PAR Index (Chỉ số CCHC), by a configurable scoring rule.

The PAR Index decisions (QĐ 1150/QĐ-BNV for 2019, QĐ 876/QĐ-BNV for 2022–2030, ...) give the
SIPAS survey a number of points, but the conversion from a SIPAS percentage to points is **not
public in the material this project has** (docs: sipas-methodology.md §5). So this module ships
the rule *types* and example rule files clearly marked ``official = false``; a province that
holds the official annex writes its own rule file.

A rule file (TOML) lists one or more components, each scoring one indicator of the index table
(``SIPAS``, or a factor key such as ``e1``) with its own formula; the points are summed::

    id = "example-linear"
    par_version = "example"
    official = false
    max_points = 10.0
    title = { vi = "Ví dụ: tuyến tính", en = "Example: linear" }

    [[rules]]
    indicator = "SIPAS"
    max_points = 10.0
    type = "linear"

Formula types, for an estimate *S* in percent (0–100) and the component's maximum *M*:

``linear``
    :math:`M \\cdot S / 100`.
``ratio_to_best``
    :math:`M \\cdot S / S_{max}`, with :math:`S_{max}` the best unit's *S* (0 if
    :math:`S_{max} = 0`).
``min_max``
    :math:`M \\cdot (S - S_{min}) / (S_{max} - S_{min})`; when every unit has the same *S*,
    all get *M* (``all_equal = "max"``, the default) or 0 (``all_equal = "zero"``).
``thresholds``
    The points of the band with ``min ≤ S < max`` (the highest band also includes its
    ``max``). A value in no band is an error: the bands should cover 0–100.

**Ties** need no rule: every formula is a function of *S* (and of the minimum and maximum over
the units scored together), so units with equal estimates get equal points. The relative
types (``ratio_to_best``, ``min_max``) depend on which units are scored together: pass all
units of the comparison (e.g. all 63 provinces) in one call.

**Missing values** (a unit without an estimate for a component's indicator) follow the
component's ``missing`` key: ``error`` (default: raise, listing the units), ``zero`` (0 points
for that component) or ``nan`` (the unit's total is NaN). Missing units do not enter
:math:`S_{max}` or :math:`S_{min}`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "RULE_TYPES",
    "Band",
    "ComponentRule",
    "RuleError",
    "RuleProblem",
    "ScoringError",
    "ScoringRule",
    "example_rules",
    "load_rule",
    "parse_rule",
    "score_components",
    "score_par",
]

RULE_TYPES = ("linear", "ratio_to_best", "min_max", "thresholds")
RuleType = Literal["linear", "ratio_to_best", "min_max", "thresholds"]
Missing = Literal["error", "zero", "nan"]

_TOP_KEYS = ("id", "par_version", "official", "title", "description", "source", "max_points")
_RULE_KEYS = ("indicator", "max_points", "type", "label", "missing", "bands", "all_equal")
_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One problem in a rule file: a dotted location (0-based indices) and a message."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class RuleError(ValueError):
    """A scoring rule file is invalid; ``problems`` lists every problem with its location."""

    def __init__(self, problems: Sequence[RuleProblem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        head = f"invalid scoring rule {source}" if source else "invalid scoring rule"
        body = "\n  ".join(str(p) for p in self.problems)
        super().__init__(f"{head} ({len(self.problems)} problems):\n  {body}")


class _Problems(list[RuleProblem]):
    """Collects problems; ``add(location, message)``."""

    def __call__(self, location: str, message: str) -> None:
        self.append(RuleProblem(location, message))


class ScoringError(ValueError):
    """Estimates cannot be scored (missing values with ``missing = "error"``, out of range)."""


@dataclass(frozen=True, slots=True)
class Band:
    """Points for estimates with ``min ≤ S < max`` (the top band includes its max)."""

    min: float
    max: float
    points: float


@dataclass(frozen=True, slots=True)
class ComponentRule:
    """How one indicator is converted to points."""

    indicator: str
    max_points: float
    type: RuleType
    bands: tuple[Band, ...] = ()
    missing: Missing = "error"
    all_equal: Literal["max", "zero"] = "max"
    label: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoringRule:
    """A complete scoring rule: metadata plus components whose points are summed.

    ``official`` is ``True`` only for a rule transcribed from a published decision, with that
    decision cited in ``source``.
    """

    id: str
    par_version: str
    official: bool
    title: Mapping[str, str]
    max_points: float
    rules: tuple[ComponentRule, ...]
    description: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


# ---------------------------------------------------------------------------------------------
# loading and validation


def load_rule(path_or_id: str | Path) -> ScoringRule:
    """Load a rule file, or a shipped example by id (``load_rule("example-linear")``).

    Raises
    ------
    RuleError
        With every problem located (``rules[2].bands[1].min: must be below max``), or a TOML
        syntax error, or an unknown id.
    """
    path = Path(path_or_id)
    if path.suffix != ".toml":
        shipped = resources.files("analysis") / "rules" / f"{path_or_id}.toml"
        if not shipped.is_file():
            known = ", ".join(example_rules())
            raise RuleError([RuleProblem("", f"no rule {path_or_id!r} (shipped: {known})")])
        text, source = shipped.read_text(encoding="utf-8"), f"{path_or_id}.toml"
    else:
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError([RuleProblem("", f"TOML syntax error: {exc}")], source) from exc
    return parse_rule(data, source=source)


def example_rules() -> list[str]:
    """Ids of the rule files shipped in ``analysis/rules`` (all examples, not official)."""
    folder = resources.files("analysis") / "rules"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def parse_rule(data: Mapping[str, Any], source: str | None = None) -> ScoringRule:
    """Validate parsed TOML and build a :class:`ScoringRule`; raise :class:`RuleError`."""
    problems = add = _Problems()
    for key in data:
        if key not in (*_TOP_KEYS, "rules"):
            add(key, f"unknown key (allowed: {', '.join((*_TOP_KEYS, 'rules'))})")
    rule_id = _string(data, "id", "", add)
    version = _string(data, "par_version", "", add)
    official = data.get("official")
    if not isinstance(official, bool):
        add("official", "required: true only for a rule transcribed from a published decision")
    source_text = data.get("source", "")
    if not isinstance(source_text, str):
        add("source", "must be a string")
        source_text = ""
    if official is True and not source_text.strip():
        add("source", "an official rule must cite the decision and annex it comes from")
    title = _texts(data.get("title"), "title", add, required=True)
    description = _texts(data.get("description"), "description", add, required=False)
    total = _number(data, "max_points", "", add, positive=True)

    components: list[ComponentRule] = []
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        add("rules", "required: a non-empty array of [[rules]] tables")
        raw_rules = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        component = _component(raw, f"rules[{i}]", add)
        if component is None:
            continue
        if component.indicator in seen:
            add(
                f"rules[{i}].indicator",
                f"{component.indicator!r} is already scored by rules[{seen[component.indicator]}]",
            )
        seen[component.indicator] = i
        components.append(component)
    if total is not None and components and len(components) == len(raw_rules):
        parts = sum(c.max_points for c in components)
        if abs(parts - total) > _TOL * max(1.0, total):
            add("max_points", f"must equal the sum of the rules' max_points ({parts:g})")
    if problems:
        raise RuleError(problems, source)
    return ScoringRule(
        id=rule_id or "",
        par_version=version or "",
        official=bool(official),
        title=title,
        max_points=float(total or 0.0),
        rules=tuple(components),
        description=description,
        source=source_text,
    )


def _component(raw: object, loc: str, add: _Problems) -> ComponentRule | None:
    if not isinstance(raw, dict):
        add(loc, "must be a table")
        return None
    n_before = len(add)
    for key in raw:
        if key not in _RULE_KEYS:
            add(f"{loc}.{key}", f"unknown key (allowed: {', '.join(_RULE_KEYS)})")
    indicator = _string(raw, "indicator", loc, add)
    top = _number(raw, "max_points", loc, add, positive=True)
    kind = raw.get("type")
    if kind not in RULE_TYPES:
        add(f"{loc}.type", f"must be one of {', '.join(RULE_TYPES)}, got {kind!r}")
    missing = raw.get("missing", "error")
    if missing not in ("error", "zero", "nan"):
        add(f"{loc}.missing", f"must be 'error', 'zero' or 'nan', got {missing!r}")
    all_equal = raw.get("all_equal", "max")
    if all_equal not in ("max", "zero"):
        add(f"{loc}.all_equal", f"must be 'max' or 'zero', got {all_equal!r}")
    elif "all_equal" in raw and kind != "min_max":
        add(f"{loc}.all_equal", "only used by type = 'min_max'")
    label = _texts(raw.get("label"), f"{loc}.label", add, required=False)
    bands: list[Band] = []
    if kind == "thresholds":
        bands = _bands(raw.get("bands"), f"{loc}.bands", top, add)
    elif "bands" in raw:
        add(f"{loc}.bands", "only used by type = 'thresholds'")
    if len(add) != n_before or indicator is None or top is None or kind not in RULE_TYPES:
        return None
    return ComponentRule(
        indicator=indicator,
        max_points=top,
        type=kind,
        bands=tuple(bands),
        missing=missing,
        all_equal=all_equal,
        label=label,
    )


def _bands(raw: object, loc: str, top: float | None, add: _Problems) -> list[Band]:
    if not isinstance(raw, list) or not raw:
        add(loc, "required for type = 'thresholds': a non-empty array of {min, max, points}")
        return []
    bands: list[Band] = []
    previous: Band | None = None
    for j, item in enumerate(raw):
        here = f"{loc}[{j}]"
        if not isinstance(item, dict):
            add(here, "must be a table with min, max and points")
            continue
        for key in item:
            if key not in ("min", "max", "points"):
                add(f"{here}.{key}", "unknown key (allowed: min, max, points)")
        lo = _number(item, "min", here, add)
        hi = _number(item, "max", here, add)
        pts = _number(item, "points", here, add)
        if lo is None or hi is None or pts is None:
            continue
        ok = True
        if not lo < hi:
            add(f"{here}.min", "must be below max")
            ok = False
        if pts < 0 or (top is not None and pts > top + _TOL):
            add(f"{here}.points", f"must be between 0 and the rule's max_points ({top:g})")
            ok = False
        if previous is not None and lo < previous.max - _TOL:
            add(f"{here}.min", f"overlaps {loc}[{j - 1}] (bands must ascend without overlap)")
            ok = False
        if ok:
            band = Band(lo, hi, pts)
            bands.append(band)
            previous = band
    return bands


def _string(raw: Mapping[str, Any], key: str, loc: str, add: _Problems) -> str | None:
    where = f"{loc}.{key}" if loc else key
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        add(where, "required: a non-empty string")
        return None
    return value


def _number(
    raw: Mapping[str, Any], key: str, loc: str, add: _Problems, *, positive: bool = False
) -> float | None:
    where = f"{loc}.{key}" if loc else key
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        add(where, "required: a number")
        return None
    if positive and value <= 0:
        add(where, "must be positive")
        return None
    return float(value)


def _texts(value: object, loc: str, add: _Problems, *, required: bool) -> dict[str, str]:
    if value is None:
        if required:
            add(loc, "required: a table with vi and en texts")
        return {}
    if not isinstance(value, dict):
        add(loc, "must be a table with vi and en texts")
        return {}
    out = {}
    for lang in ("vi", "en"):
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            add(f"{loc}.{lang}", "required: a non-empty string")
        else:
            out[lang] = text
    for key in value:
        if key not in ("vi", "en"):
            add(f"{loc}.{key}", "unknown language (use vi and en)")
    return out


# ---------------------------------------------------------------------------------------------
# scoring


def score_components(
    indices: pd.DataFrame,
    rule: ScoringRule,
    *,
    unit: str = "unit",
    indicator: str = "indicator",
    estimate: str = "estimate",
    estimate_scale: Literal["percent", "proportion"] = "percent",
) -> pd.DataFrame:
    """Points per unit and rule component (long table); see :func:`score_par`.

    Returns
    -------
    DataFrame
        ``unit, indicator, estimate, points, max_points, type, status`` with ``status``
        ``scored``, ``missing (0 points)`` or ``missing``, one row per unit × component, units
        in order of first appearance.
    """
    for col in (unit, indicator, estimate):
        if col not in indices.columns:
            raise ScoringError(f"the index table has no {col!r} column")
    if estimate_scale not in ("percent", "proportion"):
        raise ScoringError(
            f"estimate_scale must be 'percent' or 'proportion', not {estimate_scale!r}"
        )
    factor = 100.0 if estimate_scale == "proportion" else 1.0
    units = pd.unique(indices[unit])
    parts = []
    for component in rule.rules:
        rows = indices[indices[indicator].astype(str) == component.indicator]
        dup = rows[unit].duplicated(keep=False)
        if dup.any():
            raise ScoringError(
                f"several {component.indicator!r} estimates for unit(s) "
                f"{sorted(map(str, rows.loc[dup, unit].unique()))}: filter the table first"
            )
        s = pd.to_numeric(rows.set_index(unit)[estimate], errors="coerce").reindex(units) * factor
        values = s.to_numpy(dtype=float)
        present = np.isfinite(values)
        outside = present & ((values < -_TOL) | (values > 100 + _TOL))
        if outside.any():
            raise ScoringError(
                f"{component.indicator} estimates outside 0-100 for {list(units[outside])}; "
                "pass estimate_scale='proportion' for shares in 0-1"
            )
        if not present.all() and component.missing == "error":
            raise ScoringError(
                f"no {component.indicator!r} estimate for unit(s) {list(units[~present])} "
                f"(rule {rule.id}; set missing = 'zero' or 'nan' in the rule to allow this)"
            )
        points = np.full(len(units), np.nan)
        points[present] = _points(component, values[present])
        status = np.where(present, "scored", "missing")
        if component.missing == "zero":
            points[~present] = 0.0
            status = np.where(present, "scored", "missing (0 points)")
        parts.append(
            pd.DataFrame(
                {
                    "unit": units,
                    "indicator": component.indicator,
                    "estimate": values,
                    "points": points,
                    "max_points": component.max_points,
                    "type": component.type,
                    "status": status,
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    order = {u: i for i, u in enumerate(units)}
    key = table["unit"].map(order)
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def score_par(
    indices: pd.DataFrame,
    rule: ScoringRule,
    *,
    unit: str = "unit",
    indicator: str = "indicator",
    estimate: str = "estimate",
    estimate_scale: Literal["percent", "proportion"] = "percent",
) -> pd.DataFrame:
    """Convert SIPAS (or factor) estimates of several units to PAR Index points.

    Parameters
    ----------
    indices : DataFrame
        Long table with a unit column, an indicator column and an estimate column (as the
        index tables of :mod:`analysis` produce, estimates in percent). Other indicators are
        ignored. Pass every unit of the comparison at once (relative rule types).
    rule : ScoringRule
        From :func:`load_rule` (or :func:`parse_rule`).
    unit, indicator, estimate : str
        Column names.
    estimate_scale : {"percent", "proportion"}
        Whether estimates are 0–100 or 0–1.

    Returns
    -------
    DataFrame
        ``unit, points, max_points, rule_id, detail``: the summed points (NaN when a component
        with ``missing = "nan"`` had no estimate), the rule's maximum, its id, and a readable
        breakdown such as ``SIPAS 84.5 -> 8.45/10 (linear)``.

    Raises
    ------
    ScoringError
        Missing estimates with ``missing = "error"``, estimates outside 0–100, a value in no
        threshold band, duplicated unit × indicator rows, or missing columns.
    """
    long = score_components(
        indices,
        rule,
        unit=unit,
        indicator=indicator,
        estimate=estimate,
        estimate_scale=estimate_scale,
    )
    long["detail"] = [
        f"{r.indicator} {r.estimate:.6g} -> {r.points:.6g}/{r.max_points:g} ({r.type})"
        if r.status == "scored"
        else f"{r.indicator} {r.status}"
        for r in long.itertuples()
    ]
    grouped = long.groupby("unit", sort=False)
    out = pd.DataFrame(
        {
            "points": grouped["points"].sum(min_count=len(rule.rules)),
            "max_points": rule.max_points,
            "rule_id": rule.id,
            "detail": grouped["detail"].agg("; ".join),
        }
    )
    return out.rename_axis("unit").reset_index()


def _points(component: ComponentRule, s: np.ndarray) -> np.ndarray:
    top = component.max_points
    if component.type == "linear":
        return top * s / 100.0
    if component.type == "ratio_to_best":
        best = float(s.max()) if len(s) else 0.0
        return top * s / best if best > 0 else np.zeros_like(s)
    if component.type == "min_max":
        lo, hi = (float(s.min()), float(s.max())) if len(s) else (0.0, 0.0)
        if hi - lo <= 0:
            return np.full_like(s, top if component.all_equal == "max" else 0.0)
        return top * (s - lo) / (hi - lo)
    points = np.full(len(s), np.nan)
    last = len(component.bands) - 1
    for i, band in enumerate(component.bands):
        inside = (s >= band.min) & ((s < band.max) | ((i == last) & (s <= band.max)))
        points[inside & np.isnan(points)] = band.points
    if np.isnan(points).any():
        raise ScoringError(
            f"{component.indicator} value(s) {sorted(set(s[np.isnan(points)].tolist()))} fall in "
            "no threshold band; the bands should cover 0-100"
        )
    return points
