"""Per-index rows in SQL: who answered an index (``_answered:``) and index-B scores (``_score:``).

For every selected response the rating codes are read from its ``answer_codes`` into one column
per criterion, then,
in the order of :class:`analysis.hierarchy.Hierarchy` (factors, aspects, SIPAS):

.. math::

    r_{ik} = \\frac{\\sum_{j\\in k} w_j s_{ij}}{\\sum_{j\\in k} w_j a_{ij}}
    \\ \\text{(factor)},\\qquad
    r_{im} = \\frac{\\sum_{k\\in m} v_k r_{ik}}{\\sum_{k\\in m} v_k [r_{ik}\\ \\text{defined}]}
    \\ \\text{(aspect, SIPAS)},

with :math:`a_{ij}` = valid answer (1–5), :math:`s_{ij}` = valid and at least the satisfied
threshold; no score row when the denominator is 0. The sums are written out term by term in the
order of :meth:`analysis.hierarchy.Hierarchy.respondent_scores`, in double precision, so that
both paths give bit-identical scores (they are grouping keys of the count table). A response
*answered* an index (:meth:`analysis.hierarchy.Hierarchy.answered`) when one of the index's
criteria has a valid answer; those rows have ``answer = 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    true,
    values,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE, Select, Subquery

from analysis.counts import answered_item, score_item
from analysis.hierarchy import Hierarchy
from survey.statistics.answer_codes import AnswerCodes

__all__ = ["index_rows"]


def _float(value: float) -> ColumnElement[float]:
    return literal(float(value), Float)


def _weighted_sum(terms: Sequence[tuple[float, ColumnElement]]) -> ColumnElement[float]:
    return reduce(lambda acc, term: acc + term, [_float(w) * x for w, x in terms])


def _defined(score: ColumnElement) -> ColumnElement[float]:
    return case((score.is_(None), _float(0.0)), else_=_float(1.0))


def _ratio(num: ColumnElement, den: ColumnElement) -> ColumnElement[float]:
    return case((den > _float(0.0), num / den), else_=None)


def index_rows(
    selection: Subquery,
    carried: Sequence[str],
    hierarchy: Hierarchy,
    codes: AnswerCodes,
    *,
    grouped: bool,
    scores: bool,
) -> Select:
    """Rows ``(keys…, item, answer, n, w?, w2?, w0?)`` of the answered (and score) items.

    Parameters
    ----------
    selection : Subquery
        One row per selected response: ``rid``, ``layout`` (``form_version_id``), ``codes`` (its
        ``answer_codes``), the ``carried`` columns.
    carried : sequence of str
        Columns of ``selection`` to keep: the keys of the count table, then ``w``, ``w0`` when
        weighted (those two are summed, not grouped).
    hierarchy : Hierarchy
        The aggregation tree.
    codes : AnswerCodes
        Where each criterion's code sits in ``answer_codes`` (per form version).
    grouped : bool
        Group by (keys, item, answer); ``False`` when every response is its own PSU (the rows
        are then at response level already).
    scores : bool
        Also the index-B respondent scores (:func:`analysis.counts.score_item`).
    """
    sums = [c for c in ("w", "w0") if c in carried]
    keys = [c for c in carried if c not in sums]
    layer: CTE = _codes(selection, carried, hierarchy, codes)
    valid = list(hierarchy.valid_codes)
    satisfied: dict[str, ColumnElement] = {}
    answered: dict[str, ColumnElement] = {}
    for j, key in enumerate(hierarchy.criteria):
        code = layer.c[f"c{j}"]
        answered[key] = case((code.in_(valid), _float(1.0)), else_=_float(0.0))
        satisfied[key] = case(
            (and_(code.in_(valid), code >= hierarchy.satisfied_threshold), _float(1.0)),
            else_=_float(0.0),
        )
    # One layer per level: factors read criteria, aspects read factors, SIPAS reads either.
    names: dict[tuple[str, str], int] = {}
    for level in ("factor", "aspect", "sipas"):
        nodes = [(i, n) for i, n in enumerate(hierarchy.nodes) if n.level == level]
        if not nodes:
            continue
        new = []
        for i, node in nodes:
            pairs = list(zip(node.weights, node.children, strict=True))
            if node.child_level == "criterion":
                num = _weighted_sum([(w, satisfied[c]) for w, c in pairs])
                den = _weighted_sum([(w, answered[c]) for w, c in pairs])
                any_valid = reduce(lambda x, y: x + y, [answered[c] for _, c in pairs])
                done = any_valid > _float(0.0)
            else:
                child = [names[(node.child_level, c)] for _, c in pairs]
                defined = [(w, layer.c[f"s{k}"]) for (w, _), k in zip(pairs, child, strict=True)]
                num = _weighted_sum([(w, func.coalesce(x, _float(0.0))) for w, x in defined])
                den = _weighted_sum([(w, _defined(x)) for w, x in defined])
                done = or_(*[layer.c[f"d{k}"].is_not(None) for k in child])
            names[(node.level, node.key)] = i
            new.append(_ratio(num, den).label(f"s{i}"))
            new.append(case((done, _float(1.0)), else_=None).label(f"d{i}"))
        previous = [layer.c[c] for c in ["rid", *carried, *_index_columns(layer)]]
        layer = _materialized(select(*previous, *new), f"index_{level}")
    return _long_rows(layer, carried, keys, sums, hierarchy, grouped=grouped, scores=scores)


def _materialized(statement: Select, name: str) -> CTE:
    """A CTE computed once (``AS MATERIALIZED``, PostgreSQL ≥ 12 and SQLite ≥ 3.35): each
    per-response layer is stored, not inlined, so the next layer reads plain columns instead of
    repeating the whole expression tree of the layers below."""
    return statement.cte(name).prefix_with("MATERIALIZED")


def _codes(
    selection: Subquery, carried: Sequence[str], hierarchy: Hierarchy, codes: AnswerCodes
) -> CTE:
    """One row per selected response: its criterion codes as columns ``c0, c1, …``."""
    columns = [
        codes.code(selection.c.codes, selection.c.layout, key).label(f"c{j}")
        for j, key in enumerate(hierarchy.criteria)
    ]
    kept = [selection.c[c] for c in ["rid", *carried]]
    return _materialized(select(*kept, *columns), "codes")


def _long_rows(
    layer: CTE,
    carried: Sequence[str],
    keys: Sequence[str],
    sums: Sequence[str],
    hierarchy: Hierarchy,
    *,
    grouped: bool,
    scores: bool,
) -> Select:
    """Unpivot the per-response columns (``d<i>``, ``s<i>``) to (item, answer) and group."""
    index = _items_cte(hierarchy, scores=scores)
    n_nodes = len(hierarchy.nodes)
    branches = [(index.c.k == i, layer.c[f"d{i}"]) for i in range(n_nodes)]
    if scores:
        branches += [(index.c.k == n_nodes + i, layer.c[f"s{i}"]) for i in range(n_nodes)]
    value = case(*branches, else_=None)
    long = (
        select(*[layer.c[c] for c in carried], index.c.item, value.label("value"))
        .select_from(layer.join(index, true()))
        .subquery("index_long")
    )
    group = [long.c[c] for c in keys]
    present = long.c.value.is_not(None)
    answer = long.c.value.label("answer")
    if not grouped:
        weights = [long.c.w, (long.c.w * long.c.w).label("w2"), long.c.w0] if sums else []
        return select(*group, long.c.item, answer, literal(1).label("n"), *weights).where(present)
    aggregates = (
        [
            func.sum(long.c.w).label("w"),
            func.sum(long.c.w * long.c.w).label("w2"),
            func.sum(long.c.w0).label("w0"),
        ]
        if sums
        else []
    )
    return (
        select(*group, long.c.item, answer, func.count().label("n"), *aggregates)
        .where(present)
        .group_by(*group, long.c.item, long.c.value)
    )


def _index_columns(layer: CTE) -> list[str]:
    return [c.name for c in layer.c if c.name[:1] in ("s", "d") and c.name[1:].isdigit()]


def _items_cte(hierarchy: Hierarchy, *, scores: bool) -> CTE:
    """``(k, item)``: 0…N-1 the answered items of the N indices, N…2N-1 their score items."""
    nodes = hierarchy.nodes
    rows = [(i, answered_item(n.level, n.key)) for i, n in enumerate(nodes)]
    if scores:
        rows += [(len(nodes) + i, score_item(n.level, n.key)) for i, n in enumerate(nodes)]
    table = values(column("k", Integer), column("item", String), name="index_items")
    return table.data(rows).cte("index_items")
