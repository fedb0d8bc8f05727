"""Merging population cells that have no responses (for post-stratification)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.weighting._base import WeightingError

__all__ = ["CollapseRule", "collapse_cells"]


@dataclass(frozen=True, slots=True)
class CollapseRule:
    """How population cells without responses are merged with cells that have some.

    An empty cell is only ever merged with cells that share all its other cell columns
    (the same agency, and the same period if periods are cells). For an empty cell whose
    ``by`` value is *f*:

    1. if ``into`` is set and the group's ``into`` cell (e.g. the agency's "other fields"
       cell ``field_code = "KHAC"``) has responses, the empty cell joins it;
    2. otherwise, if ``order`` is set, it joins the nearest cell with responses in that order
       (ties go to the cell earlier in ``order``);
    3. otherwise the whole group (all the agency's cells) becomes one post-stratum.

    A group in which no cell has responses cannot be collapsed: that is an error unless
    ``partial=True``.

    Attributes
    ----------
    by : str
        The cell column whose values are merged (default ``field_code``).
    into : str or None
        A catch-all ``by`` value to merge into first.
    order : tuple of str or None
        The ``by`` values in the order that defines "nearest". Every ``by`` value of an empty
        cell's group must be listed.
    """

    by: str = "field_code"
    into: str | None = None
    order: tuple[str, ...] | None = None


def collapse_cells(
    pop: pd.DataFrame,
    cells: tuple[str, ...],
    responding: np.ndarray,
    rule: CollapseRule | None,
) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """Assign every frame cell to a post-stratum; describe the empty cells.

    Returns the post-stratum id of every frame cell (0..k-1), the label of every post-stratum
    and the table of empty cells.
    """
    n = len(pop)
    root = np.arange(n)
    names = ["/".join(row) for row in pop[list(cells)].itertuples(index=False)]
    empty_g = np.flatnonzero(responding == 0)
    handling = {int(g): "left out" for g in empty_g}
    merged: dict[int, str] = {}
    if rule is not None and len(empty_g):
        if rule.by not in cells:
            raise WeightingError(f"collapse.by={rule.by!r} is not one of the cells {cells}")
        others = [c for c in cells if c != rule.by]
        groups = pop.groupby(others, sort=False).indices if others else {(): np.arange(n)}
        for members in groups.values():
            members = np.asarray(members)
            has = members[responding[members] > 0]
            empties = members[responding[members] == 0]
            if not len(empties) or not len(has):
                continue
            targets = {int(g): _target(pop, rule, int(g), has) for g in empties}
            if any(t is None for t in targets.values()):
                first = int(members.min())
                root[members] = first
                names[first] = "/".join([*(str(pop.at[first, c]) for c in others), "*"])
                targets = dict.fromkeys(targets, first)
            for g, t in targets.items():
                root[g] = t
                handling[g] = "collapsed"
        for g, state in handling.items():
            if state == "collapsed":
                merged[g] = names[root[g]]
    roots, strata = np.unique(root, return_inverse=True)
    empty = pop.iloc[empty_g][[*cells, "population"]].copy()
    empty["handling"] = [handling[int(g)] for g in empty_g]
    empty["merged_into"] = [merged.get(int(g)) for g in empty_g]
    empty["_g"] = empty_g
    return strata, [names[r] for r in roots], empty.reset_index(drop=True)


def _target(pop: pd.DataFrame, rule: CollapseRule, g: int, has: np.ndarray) -> int | None:
    values = pop[rule.by].to_numpy()
    if rule.into is not None:
        hit = has[values[has] == rule.into]
        if len(hit) and values[g] != rule.into:
            return int(hit[0])
    if rule.order is not None:
        position = {v: i for i, v in enumerate(rule.order)}
        unknown = sorted({str(values[k]) for k in (g, *has) if values[k] not in position})
        if unknown:
            raise WeightingError(f"collapse.order does not list {rule.by} value(s) {unknown}")
        here = position[values[g]]
        best = min(has, key=lambda k: (abs(position[values[k]] - here), position[values[k]]))
        return int(best)
    return None
