"""The grouped SQL statements of the count table, over a selection of responses.

Every statement reads a *selection*: a subquery with one row per response and the columns
``rid`` (``responses.id``), ``layout`` (``responses.form_version_id``), ``codes``
(``responses.answer_codes``), the key columns and, when weighted, ``w`` and ``w0`` (final and
base weight of the response's cell). Each returns rows

``(keys…, item, answer, n[, w, w2, w0, missing])``

grouped by ``(keys…, item, answer)``, with :math:`n = \\sum 1`, :math:`w = \\sum w_i`,
:math:`w_2 = \\sum w_i^2`, :math:`w_0 = \\sum w^0_i` and ``missing`` the responses without a
weight (only counted on the ``_response`` rows). The keys are whatever the caller groups by:
``(stratum, psu, domains…)`` for a count table, the summary's grain for
:mod:`survey.statistics.summary`.

* :func:`response_rows`: one ``_response`` row per key (``answer = 0``);
* :func:`answer_rows`: the unnested ``answer_codes`` joined to the item at each position of
  the response's form version (``VALUES`` table), grouped by item and code;
* :func:`pair_rows`: the pooled form's ``_pair:<j>:<l>`` rows. The valid criterion answers of
  each response (a materialized CTE ``(rid, keys…, j, s)`` with :math:`s = [c \\ge` threshold])
  are joined to themselves on the response for :math:`j < l`, and grouped by
  ``(keys…, j, l, 2 s_j + s_l)``;
* the ``_answered:`` and ``_score:`` rows are :func:`survey.statistics.scores.index_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    select,
    true,
    values,
)
from sqlalchemy.sql.selectable import Select, Subquery

from analysis.counts import RESPONSE_ITEM, pair_item
from analysis.hierarchy import Hierarchy
from survey.statistics.answer_codes import AnswerCodes

__all__ = ["answer_rows", "pair_rows", "response_rows", "value_columns"]


def value_columns(weighted: bool) -> list[str]:
    """The summed columns of every statement."""
    return ["n", "w", "w2", "w0", "missing"] if weighted else ["n"]


def _sums(w, w0, weighted: bool, *, missing: bool = False) -> list:  # noqa: ANN001
    out = [func.count().label("n")]
    if weighted:
        absent = func.sum(case((w.is_(None), 1), else_=0)) if missing else literal(0)
        out += [
            func.sum(w).label("w"),
            func.sum(w * w).label("w2"),
            func.sum(w0).label("w0"),
            absent.label("missing"),
        ]
    return out


def _weights(selection: Subquery) -> tuple:
    weighted = "w" in selection.c
    return (selection.c.w, selection.c.w0) if weighted else (None, None)


def response_rows(selection: Subquery, keys: Sequence[str]) -> Select:
    """One ``_response`` row per key: every selected response, whatever it answered."""
    group = [selection.c[k] for k in keys]
    w, w0 = _weights(selection)
    return (
        select(
            *group,
            literal(RESPONSE_ITEM, String).label("item"),
            literal(0.0, Float).label("answer"),
            *_sums(w, w0, w is not None, missing=True),
        )
        .select_from(selection)
        .group_by(*group)
        .having(func.count() > 0)
    )


def answer_rows(
    selection: Subquery, keys: Sequence[str], codes: AnswerCodes, item_keys: Sequence[str]
) -> Select:
    """One row per ``(keys…, item, code)`` of the answers to ``item_keys`` (skipped: no row)."""
    pairs, position, code = codes.unnest(selection.c.codes)
    items = codes.positions(item_keys, "answer_items")
    located = and_(items.c.form_version == selection.c.layout, items.c.position == position)
    group = [selection.c[k] for k in keys]
    w, w0 = _weights(selection)
    return (
        select(
            *group, items.c.item, cast(code, Float).label("answer"), *_sums(w, w0, w is not None)
        )
        .select_from(selection.join(pairs, true()).join(items, located))
        .where(code.is_not(None))
        .group_by(*group, items.c.item, code)
    )


def pair_rows(
    selection: Subquery, keys: Sequence[str], codes: AnswerCodes, hierarchy: Hierarchy
) -> Select:
    """The ``_pair:<j>:<l>`` rows of the pooled form (module docstring)."""
    criteria = hierarchy.criteria
    pairs, position, code = codes.unnest(selection.c.codes)
    where = codes.positions(criteria, "criterion_positions")
    located = and_(where.c.form_version == selection.c.layout, where.c.position == position)
    w, w0 = _weights(selection)
    weighted = w is not None
    satisfied = case((code >= hierarchy.satisfied_threshold, 1), else_=0)
    carried = [selection.c[k] for k in keys] + ([w, w0] if weighted else [])
    long = (
        select(selection.c.rid, *carried, where.c.k.label("j"), satisfied.label("s"))
        .select_from(selection.join(pairs, true()).join(where, located))
        .where(code.in_(list(hierarchy.valid_codes)))
        .cte("criterion_answers")
        .prefix_with("MATERIALIZED")
    )
    first, second = long.alias("first_answer"), long.alias("second_answer")
    answer = literal(2) * first.c.s + second.c.s
    group = [first.c[k] for k in keys]
    sums = _sums(first.c.w, first.c.w0, True) if weighted else _sums(None, None, False)
    grouped = (
        select(*group, first.c.j, second.c.j.label("l"), answer.label("answer"), *sums)
        .select_from(first.join(second, and_(first.c.rid == second.c.rid, first.c.j < second.c.j)))
        .group_by(*group, first.c.j, second.c.j, answer)
        .subquery("pair_sums")
    )
    names = values(
        column("j", Integer), column("l", Integer), column("item", String), name="pair_items"
    )
    rows = [
        (j, m, pair_item(criteria[j], criteria[m]))
        for j in range(len(criteria))
        for m in range(j + 1, len(criteria))
    ]
    table = names.data(rows or [(-1, -1, "")]).cte("pair_items")
    return select(
        *[grouped.c[k] for k in keys],
        table.c.item,
        cast(grouped.c.answer, Float).label("answer"),
        *[grouped.c[c] for c in value_columns(weighted)],
    ).select_from(grouped.join(table, and_(table.c.j == grouped.c.j, table.c.l == grouped.c.l)))
