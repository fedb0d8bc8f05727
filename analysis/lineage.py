"""Units that merge, split or are renamed: who succeeds whom, and under which unit data counts.

A lineage row says that on ``effective_on`` the unit ``predecessor_code`` was succeeded by
``successor_code``, by a ``kind`` of change:

* ``merge``: the predecessor was merged into the successor (several predecessors may merge into
  one successor, each with its own row);
* ``rename``: the same unit under a new code or name (one successor);
* ``split``: the predecessor was divided among its successors (one row per successor).

Succession is transitive: ``A → B`` on 1 July 2025 and ``B → C`` later make ``C`` the current
unit of ``A``. Only rows effective on or before the reference date count: a report of a period
that ended before a merger shows the units as they were.

Responses are attributed (:func:`attribution`) along merges and renames: a merged unit's
responses are counted under the unit it was merged into, so that the successor's trend and its
comparison with earlier periods cover the same population. A split stops the attribution: the
respondents of the divided unit cannot be divided, so its responses stay under the predecessor
(reachable by choosing a period before the split) and the successors start afresh.

Every function takes the lineage as a DataFrame with the columns of :data:`LINEAGE_COLUMNS`;
nothing here reads a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = [
    "KINDS",
    "LINEAGE_COLUMNS",
    "LineageError",
    "LineageProblem",
    "absorbed_units",
    "attribution",
    "check_lineage",
    "lineage_problems",
    "map_codes",
    "successors",
]

KINDS: tuple[str, ...] = ("merge", "split", "rename")
LINEAGE_COLUMNS: tuple[str, ...] = ("predecessor_code", "successor_code", "effective_on", "kind")

# code -> English message (``%(name)s`` placeholders filled from LineageProblem.params).
MESSAGES: dict[str, str] = {
    "own_successor": "unit %(code)s cannot succeed itself",
    "missing_columns": "the lineage lacks the column(s) %(columns)s",
    "cycle": "the succession %(path)s goes round in a circle",
    "unknown_kind": "unknown kind %(kind)s (expected one of %(expected)s)",
    "two_dates": "unit %(code)s has successors on two dates (%(dates)s)",
    "mixed_kinds": "unit %(code)s is both %(kinds)s; use one kind for all its rows",
    "two_successors": (
        "unit %(code)s is merged into or renamed to several units (%(successors)s); "
        "a unit divided among several units is a split"
    ),
}


@dataclass(frozen=True)
class LineageProblem:
    """One inconsistent lineage row: ``row`` is its index label in the lineage table."""

    row: object
    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return MESSAGES[self.code] % dict(self.params)


class LineageError(AnalysisError):
    """The lineage is inconsistent (a unit succeeding itself, a cycle, ...); ``problems``."""

    def __init__(self, problems: list[LineageProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"row {p.row}: {p.message}" for p in problems))


def _rows(lineage: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in LINEAGE_COLUMNS if c not in lineage.columns]
    if missing:
        raise LineageError(
            [LineageProblem("-", "missing_columns", {"columns": ", ".join(missing)})]
        )
    out = lineage[list(LINEAGE_COLUMNS)].copy()
    for column in ("predecessor_code", "successor_code", "kind"):
        out[column] = out[column].astype(str)
    out["effective_on"] = pd.to_datetime(out["effective_on"]).dt.date
    return out


def lineage_problems(lineage: pd.DataFrame) -> list[LineageProblem]:
    """Every inconsistency of ``lineage`` (empty when it is consistent), in row order.

    A row is a problem when its unit succeeds itself or its kind is unknown; a predecessor's
    rows are a problem when they have two dates, mix kinds, or merge / rename it into more than
    one unit; a chain of successions that returns to where it started is a cycle (reported on
    the row that closes it).
    """
    rows = _rows(lineage)
    problems: list[LineageProblem] = []
    for index, row in rows.iterrows():
        if row["predecessor_code"] == row["successor_code"]:
            problems.append(LineageProblem(index, "own_successor", {"code": row.predecessor_code}))
        if row["kind"] not in KINDS:
            problems.append(
                LineageProblem(
                    index, "unknown_kind", {"kind": repr(row.kind), "expected": ", ".join(KINDS)}
                )
            )
    for code, group in rows.groupby("predecessor_code", sort=False):
        last = group.index[-1]
        dates = sorted(set(group["effective_on"]))
        if len(dates) > 1:
            shown = ", ".join(d.isoformat() for d in dates)
            problems.append(LineageProblem(last, "two_dates", {"code": code, "dates": shown}))
        kinds = sorted(set(group["kind"]))
        if len(kinds) > 1:
            problems.append(
                LineageProblem(last, "mixed_kinds", {"code": code, "kinds": " and ".join(kinds)})
            )
        targets = sorted(set(group["successor_code"]))
        if kinds[0] != "split" and len(kinds) == 1 and len(targets) > 1:
            problems.append(
                LineageProblem(
                    last, "two_successors", {"code": code, "successors": ", ".join(targets)}
                )
            )
    problems += _cycles(rows)
    return sorted(problems, key=lambda p: (str(p.row), p.code))


def _cycles(rows: pd.DataFrame) -> list[LineageProblem]:
    """A cycle of the succession graph (self-successions are reported on their own)."""
    edges: dict[str, list[tuple[str, object]]] = {}
    for index, row in rows.iterrows():
        if row["predecessor_code"] != row["successor_code"]:
            edges.setdefault(row["predecessor_code"], []).append((row["successor_code"], index))
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    found: list[LineageProblem] = []

    def visit(code: str, path: list[str]) -> None:
        state[code] = 1
        for target, index in edges.get(code, ()):
            if state.get(target) == 1:
                loop = [*path[path.index(target) :], target] if target in path else [code, target]
                found.append(LineageProblem(index, "cycle", {"path": " → ".join(loop)}))
            elif target not in state:
                visit(target, [*path, target])
        state[code] = 2

    for code in edges:
        if code not in state:
            visit(code, [code])
    return found


def check_lineage(lineage: pd.DataFrame) -> None:
    """Raise :class:`LineageError` listing every problem of :func:`lineage_problems`."""
    problems = lineage_problems(lineage)
    if problems:
        raise LineageError(problems)


def _effective(lineage: pd.DataFrame, on: date) -> dict[str, tuple[str, list[str]]]:
    """``{predecessor: (kind, successors)}`` of the rows effective on ``on``."""
    check_lineage(lineage)
    rows = _rows(lineage)
    rows = rows[rows["effective_on"] <= on]
    out: dict[str, tuple[str, list[str]]] = {}
    for code, group in rows.groupby("predecessor_code", sort=True):
        out[str(code)] = (str(group["kind"].iloc[0]), sorted(set(group["successor_code"])))
    return out


def successors(lineage: pd.DataFrame, on: date) -> dict[str, tuple[str, ...]]:
    """The current unit(s) on ``on`` of every unit succeeded by then (transitively).

    ``A → B → C`` gives ``{"A": ("C",), "B": ("C",)}``; a split gives every current unit it
    led to, sorted. Units without a successor effective on ``on`` are absent.

    Raises
    ------
    LineageError
        The lineage is inconsistent (:func:`lineage_problems`).
    """
    step = _effective(lineage, on)
    memo: dict[str, tuple[str, ...]] = {}

    def current(code: str) -> tuple[str, ...]:
        if code not in step:
            return (code,)
        if code not in memo:
            found = {c for target in step[code][1] for c in current(target)}
            memo[code] = tuple(sorted(found))
        return memo[code]

    return {code: current(code) for code in step}


def attribution(lineage: pd.DataFrame, on: date) -> dict[str, str]:
    """The unit each merged or renamed unit's responses are counted under on ``on``.

    Follows merges and renames transitively and stops at a split (the split unit keeps its
    responses). Only units counted under another unit are keys.

    Raises
    ------
    LineageError
        The lineage is inconsistent (:func:`lineage_problems`).
    """
    step = _effective(lineage, on)
    out: dict[str, str] = {}
    for code in step:
        current = code
        while current in step and step[current][0] != "split":
            current = step[current][1][0]
        if current != code:
            out[code] = current
    return out


def absorbed_units(lineage: pd.DataFrame, on: date) -> pd.DataFrame:
    """Which units' responses each unit includes on ``on``: ``successor_code``,
    ``predecessor_code`` and ``effective_on`` (the day the predecessor ceased), sorted."""
    mapped = attribution(lineage, on)
    rows = _rows(lineage)
    ceased = rows.groupby("predecessor_code")["effective_on"].first()
    table = pd.DataFrame(
        {
            "successor_code": list(mapped.values()),
            "predecessor_code": list(mapped),
            "effective_on": [ceased[code] for code in mapped],
        },
        columns=["successor_code", "predecessor_code", "effective_on"],
    )
    return table.sort_values(["successor_code", "effective_on", "predecessor_code"]).reset_index(
        drop=True
    )


def map_codes(values: pd.Series | pd.Categorical, mapping: Mapping[str, str]) -> pd.Categorical:
    """Unit codes with each code of ``mapping`` replaced by its value (a categorical whose
    categories are the sorted codes that remain). Only the categories are mapped, then the
    codes are renumbered: the cost does not grow with the mapping."""
    categorical = pd.Categorical(values)
    labels = np.asarray(categorical.categories, dtype=object)
    mapped = np.asarray([mapping.get(str(c), c) for c in labels], dtype=object)
    categories, renumber = np.unique(mapped.astype(str), return_inverse=True)
    codes = categorical.codes
    if not len(labels):
        return categorical
    new_codes = np.where(codes < 0, -1, renumber[np.maximum(codes, 0)]).astype(codes.dtype)
    return pd.Categorical.from_codes(
        new_codes, categories=pd.Index(categories.tolist(), dtype=object)
    )
