"""Units that merge, split or are renamed (:mod:`analysis.lineage`)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analysis.lineage import (
    LineageError,
    absorbed_units,
    attribution,
    lineage_problems,
    map_codes,
    successors,
)

JULY = date(2025, 7, 1)


def _lineage(*rows: tuple[str, str, str, str], start: int = 2) -> pd.DataFrame:
    """Rows ``(predecessor, successor, effective_on, kind)`` indexed like spreadsheet rows."""
    frame = pd.DataFrame(
        rows, columns=["predecessor_code", "successor_code", "effective_on", "kind"]
    )
    frame.index = range(start, start + len(rows))
    return frame


MERGER = _lineage(
    ("X_A", "X_NEW", "2025-07-01", "merge"),
    ("X_B", "X_NEW", "2025-07-01", "merge"),
    ("X_C", "X_NEW", "2025-07-01", "merge"),
)


def test_a_merger_maps_every_predecessor_to_the_successor_from_its_date() -> None:
    assert successors(MERGER, JULY) == {c: ("X_NEW",) for c in ("X_A", "X_B", "X_C")}
    assert attribution(MERGER, JULY) == {c: "X_NEW" for c in ("X_A", "X_B", "X_C")}
    # a report whose period ended before the merger sees the units as they were
    assert attribution(MERGER, date(2025, 6, 30)) == {}
    assert successors(MERGER, date(2025, 6, 30)) == {}


def test_succession_is_transitive() -> None:
    chain = _lineage(
        ("A", "B", "2025-07-01", "merge"),
        ("B", "C", "2026-01-01", "rename"),
        ("D", "B", "2025-07-01", "merge"),
    )
    assert attribution(chain, date(2026, 1, 1)) == {"A": "C", "B": "C", "D": "C"}
    assert successors(chain, date(2026, 1, 1)) == {"A": ("C",), "B": ("C",), "D": ("C",)}
    # before the rename, only the merger counts
    assert attribution(chain, date(2025, 12, 31)) == {"A": "B", "D": "B"}
    absorbed = absorbed_units(chain, date(2026, 1, 1))
    assert list(absorbed.itertuples(index=False, name=None)) == [
        ("C", "A", JULY),
        ("C", "D", JULY),
        ("C", "B", date(2026, 1, 1)),
    ]


def test_a_split_names_every_successor_but_keeps_its_responses() -> None:
    split = _lineage(
        ("OLD", "EAST", "2025-07-01", "split"),
        ("OLD", "WEST", "2025-07-01", "split"),
        ("WEST", "WEST2", "2026-01-01", "rename"),
        ("SMALL", "OLD", "2025-01-01", "merge"),
    )
    on = date(2026, 6, 1)
    assert successors(split, on)["OLD"] == ("EAST", "WEST2")
    assert successors(split, on)["SMALL"] == ("EAST", "WEST2")
    # the split unit's respondents cannot be divided: they stay with it (and what merged into
    # it before the split stays with it too); a rename after the split maps as usual
    assert attribution(split, on) == {"SMALL": "OLD", "WEST": "WEST2"}


@pytest.mark.parametrize(
    ("rows", "code", "row"),
    [
        ((("A", "A", "2025-07-01", "merge"),), "own_successor", 2),
        ((("A", "B", "2025-07-01", "merge"), ("B", "A", "2025-08-01", "merge")), "cycle", 3),
        (
            (
                ("A", "B", "2025-07-01", "merge"),
                ("B", "C", "2025-07-01", "merge"),
                ("C", "A", "2025-07-01", "rename"),
            ),
            "cycle",
            4,
        ),
        ((("A", "B", "2025-07-01", "fusion"),), "unknown_kind", 2),
        (
            (("A", "B", "2025-07-01", "merge"), ("A", "C", "2025-07-01", "merge")),
            "two_successors",
            3,
        ),
        ((("A", "B", "2025-07-01", "split"), ("A", "C", "2025-08-01", "split")), "two_dates", 3),
        ((("A", "B", "2025-07-01", "split"), ("A", "C", "2025-07-01", "merge")), "mixed_kinds", 3),
    ],
)
def test_inconsistent_lineage_is_refused_with_the_row(rows, code, row) -> None:
    lineage = _lineage(*rows)
    problems = lineage_problems(lineage)
    assert [(p.code, p.row) for p in problems] == [(code, row)]
    with pytest.raises(LineageError, match=f"row {row}: "):
        attribution(lineage, date(2030, 1, 1))


def test_a_cycle_message_names_the_path() -> None:
    lineage = _lineage(("A", "B", "2025-07-01", "merge"), ("B", "A", "2025-08-01", "merge"))
    (problem,) = lineage_problems(lineage)
    assert problem.message == "the succession A → B → A goes round in a circle"


def test_map_codes_merges_categories_and_keeps_blanks() -> None:
    values = pd.Categorical(["X_A", "STP", "X_NEW", None, "X_B", "X_A"])
    mapped = map_codes(values, {"X_A": "X_NEW", "X_B": "X_NEW"})
    assert list(mapped.categories) == ["STP", "X_NEW"]
    assert list(mapped.codes) == [1, 0, 1, -1, 1, 1]
    unchanged = map_codes(values, {})
    assert list(unchanged.categories) == ["STP", "X_A", "X_B", "X_NEW"]
    assert list(unchanged.astype(object)[[0, 1, 2, 4]]) == ["X_A", "STP", "X_NEW", "X_B"]
