"""The count table from the selected responses, fetched once and tabulated by :mod:`analysis`.

:func:`fetch_selection` runs one ``SELECT`` that returns one row per selected response: every
column of :data:`SELECTION_COLUMNS` (text, as :mod:`survey.statistics.columns` spells them;
``month`` is the UTC calendar month ``YYYY-MM``), the response's form version and its
``answer_codes`` as text. The codes become one nullable integer column per item key.
:func:`counts_from_selection` then builds any count table of that selection, for any design,
grouping, period granularity and cell weights, with
:func:`analysis.counts.counts_from_responses`, exactly as from ``sipas export responses``
(same rows, ``n``, ``w``, ``w2``, ``w0``).

The database filters and joins; the sums are numpy's ``bincount`` and, for the pooled form of
the default design, one matrix product per group (:func:`analysis.tabulate.sum_pairs`), where
the pure SQL path (:mod:`survey.statistics.statements`) joins every response's answers to
themselves. One selection serves every table of a report page (overview, trend, breakdowns),
so the reports fetch it once and keep it (:mod:`survey.reports.cache`).
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import SmallInteger, String, cast, func, literal, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.errors import AnalysisError
from survey.models import Agency, Counter, Field, Procedure, Response
from survey.statistics.answer_codes import AnswerCodes
from survey.statistics.columns import COLUMNS, Period, check_columns, period_expression
from survey.statistics.errors import (
    NoResponsesError,
    StatisticsQueryError,
    UnmatchedCellsError,
)
from survey.statistics.weights import CellWeights

__all__ = [
    "GRAIN_COLUMNS",
    "SELECTION_COLUMNS",
    "cell_weights",
    "counts_from_selection",
    "fetch_grain",
    "fetch_selection",
    "period_of_month",
    "unit_codes",
]

_RESPONSES = Response.__table__
SELECTION_COLUMNS: tuple[str, ...] = (*(c for c in COLUMNS if c != "period"), "month")
"""The key columns of a fetched selection (``period`` is derived from ``month``)."""
_WEIGHT = "_w"
_BASE_WEIGHT = "_w0"
_CODE_DTYPE = "Int16"  # every stored code fits (profile items may exceed 127)
_MAX_LISTED = 5
_CHUNK = 50_000  # responses per text value read from PostgreSQL


def fetch_selection(
    connection: Connection,
    form: Any,
    filters: Sequence[ColumnElement[bool]],
) -> pd.DataFrame:
    """One row per selected response of ``form``, in id order.

    Parameters
    ----------
    filters
        The selection on ``responses`` (form, period, subtree, flags).

    Returns
    -------
    DataFrame
        :data:`SELECTION_COLUMNS` (categorical text) and one ``Int16`` column per item key of
        ``form`` (blank where skipped or absent from the response's version). No rows when
        nothing is selected.
    """
    item_keys = list(form.item_keys)
    keys, size, items = _fetch_columns(connection, form, filters)
    if not size:
        empty = {n: pd.Categorical([]) for n in SELECTION_COLUMNS}
        return pd.DataFrame(empty | items)
    frame: dict[str, Any] = {}
    for (name, table), id_column in zip(_UNIT_CODES.items(), _KEYS, strict=False):
        frame[name] = unit_codes(connection, table, keys[id_column])
    frame["channel"] = _labels(keys["channel"])
    frame["form_version"] = _labels([str(v) for v in keys["form_version"]])
    frame["month"] = _labels(keys["month"])
    frame |= items
    return pd.DataFrame(frame)[[*SELECTION_COLUMNS, *item_keys]]


GRAIN_COLUMNS: tuple[str, ...] = (
    "month",
    "agency_id",
    "counter_id",
    "field_id",
    "procedure_id",
    "channel",
    "form_version",
    "flags",
)
"""The key columns of :func:`fetch_grain`: the grain of :mod:`survey.statistics.summary`."""


def fetch_grain(
    connection: Connection,
    form: Any,
    filters: Sequence[ColumnElement[bool]],
) -> pd.DataFrame:
    """One row per selected response of ``form`` with the summary's grain keys.

    Returns
    -------
    DataFrame
        :data:`GRAIN_COLUMNS` (``month`` as ``YYYY-MM`` text; unit ids as integers, ``0`` for
        none; ``channel`` and ``flags`` text; ``form_version`` integer) and one ``Int16``
        column per item key, as :func:`fetch_selection`.
    """
    keys, size, items = _fetch_columns(connection, form, filters)
    frame: dict[str, Any] = {}
    for name in GRAIN_COLUMNS:
        values = keys.get(name, ())
        if name.endswith("_id"):
            frame[name] = _unit_ids(values)
        elif name == "form_version":
            frame[name] = np.asarray(values, dtype=np.int64)
        else:
            frame[name] = _labels([str(v) for v in values]) if size else pd.Categorical([])
    return pd.DataFrame(frame | items)


def _unit_ids(values: Any) -> np.ndarray:
    """Unit ids (-1 or ``None`` for none) as an int64 array with ``0`` for none."""
    if isinstance(values, np.ndarray):
        return np.where(values < 0, 0, values).astype(np.int64)
    return np.fromiter((0 if v is None else v for v in values), np.int64, count=len(values))


def _fetch_columns(
    connection: Connection, form: Any, filters: Sequence[ColumnElement[bool]]
) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """The key values, the number of rows and the item columns of the selected responses."""
    codes = AnswerCodes.of_form(connection, form.id)
    item_keys = list(form.item_keys)
    if connection.dialect.name == "postgresql":
        keys, layouts, answers = _text_rows(connection, codes, filters)
    else:
        keys, layouts, answers = _fetch_rows(connection, filters)
    if not layouts.size:
        return {}, 0, {k: pd.array([], dtype=_CODE_DTYPE) for k in item_keys}
    return keys, int(layouts.size), _item_columns(layouts, answers, codes, item_keys)


_KEYS = ("agency_id", "counter_id", "field_id", "procedure_id", "channel", "form_version", "flags")


def _key_columns(dialect: str) -> list[ColumnElement]:
    r = _RESPONSES.c
    month = period_expression(r.submitted_at, "month", dialect).label("month")
    flags = func.coalesce(r.flags, literal("")).label("flags")
    return [*(r[name] for name in _KEYS[:-1]), flags, month, r.form_version_id]


def _fetch_rows(
    connection: Connection, filters: Sequence[ColumnElement[bool]]
) -> tuple[dict[str, Sequence[Any]], np.ndarray, Any]:
    """SQLite: the rows as the DBAPI's tuples; the codes are the stored JSON text."""
    r = _RESPONSES.c
    columns = [*_key_columns("sqlite"), r.answer_codes.cast(String)]
    statement = select(*columns).where(*filters).order_by(r.id)
    rows = connection.execute(statement).cursor.fetchall()  # plain tuples: ints and str
    if not rows:
        return {}, np.empty(0, dtype=np.int64), None
    fields = list(zip(*rows, strict=True))
    names = [*_KEYS, "month"]
    keys = {name: fields[i] for i, name in enumerate(names)}
    layouts = np.asarray(fields[len(names)], dtype=np.int64)
    lines = [
        text.strip("[] ").replace("null", "").replace(" ", "") if text else ""
        for text in fields[len(names) + 1]
    ]
    return keys, layouts, _parse_codes(lines)


def _parse_codes(lines: Sequence[str]) -> pd.DataFrame:
    """Lines of comma-separated codes as a table of positions (blank = skipped)."""
    width = max((line.count(",") + 1 for line in lines if line), default=0)
    table = pd.read_csv(
        io.StringIO("\n".join(lines)),
        header=None,
        names=range(max(width, 1)),
        dtype=_CODE_DTYPE,
        skip_blank_lines=False,
        keep_default_na=False,
        na_values=[""],
    )
    return table.reindex(range(len(lines)))  # a last blank line is dropped by the reader


def _text_rows(
    connection: Connection, codes: AnswerCodes, filters: Sequence[ColumnElement[bool]]
) -> tuple[dict[str, Sequence[Any]], np.ndarray, Any]:
    """PostgreSQL: the rows as CSV text built by the server (``string_agg`` of one line per
    response, in chunks of :data:`_CHUNK` responses), read by pandas' C parser in one pass: no
    Python object per value."""
    r = _RESPONSES.c
    width = max((len(keys) for keys in codes.layouts.values()), default=0)
    fields = [func.coalesce(cast(c, String), literal("")) for c in _key_columns("postgresql")]
    answers = func.array_to_string(
        type_coerce(r.answer_codes, postgresql.ARRAY(SmallInteger)), literal(","), literal("")
    )
    line = func.concat_ws(literal(","), *fields, answers).label("line")
    chunk = ((func.row_number().over(order_by=r.id) - 1) // _CHUNK).label("chunk")
    rows = select(r.id, chunk, line).where(*filters).subquery("selected_lines")
    statement = (
        select(func.string_agg(rows.c.line, aggregate_order_by(literal("\n"), rows.c.id)))
        .group_by(rows.c.chunk)
        .order_by(rows.c.chunk)
    )
    names = [*_KEYS, "month", "layout", *range(width)]
    types: dict[Any, Any] = {n: "Int64" for n in ("agency_id", "counter_id", "field_id")}
    types |= {"procedure_id": "Int64", "channel": object, "month": object, "flags": object}
    types |= {"form_version": np.int64, "layout": np.int64}
    types |= {i: _CODE_DTYPE for i in range(width)}
    blanks = {n: [""] for n in names if n not in ("channel", "month", "flags")}
    parts = [
        pd.read_csv(
            io.StringIO(text),
            header=None,
            names=names,
            dtype=types,
            keep_default_na=False,
            na_values=blanks,
        )
        for text in connection.execute(statement).scalars()  # chunk by chunk: less memory
    ]
    if not parts:
        return {}, np.empty(0, dtype=np.int64), None
    table = pd.concat(parts, ignore_index=True)
    del parts
    keys: dict[str, Any] = {}
    for name in (*_KEYS, "month"):
        column = table[name]
        if name.endswith("_id"):
            keys[name] = column.to_numpy(dtype=np.int64, na_value=-1)
        else:
            keys[name] = column.to_numpy()
    return keys, table["layout"].to_numpy(), table[list(range(width))]


_UNIT_CODES = {
    "agency_code": Agency.__table__,
    "counter_code": Counter.__table__,
    "field_code": Field.__table__,
    "procedure_code": Procedure.__table__,
}


def _labels(values: Sequence[str]) -> pd.Categorical:
    """Text values as a categorical (factorized once, as plain objects)."""
    ids, uniques = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return pd.Categorical.from_codes(ids, categories=pd.Index(uniques, dtype=object))


def unit_codes(connection: Connection, table: Any, ids: Any) -> pd.Categorical:
    """Unit ids (an int array with -1 for none, or ints and ``None``) as their codes (``""`` for
    none, as :mod:`.columns` spells a blank unit)."""
    if isinstance(ids, np.ndarray):
        numbers = ids
    else:
        numbers = np.fromiter((-1 if i is None else i for i in ids), np.int64, count=len(ids))
    present, inverse = np.unique(numbers, return_inverse=True)
    wanted = [int(i) for i in present if i >= 0]
    code_of = (
        dict(
            connection.execute(select(table.c.id, table.c.code).where(table.c.id.in_(wanted))).all()
        )
        if wanted
        else {}
    )
    labels = [code_of.get(int(i), "") for i in present]
    order = np.argsort(labels, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    categories = pd.Index(np.asarray(labels, dtype=object)[order], dtype=object)
    if categories.has_duplicates:  # "" for none and a unit coded "" cannot both occur
        return _labels(np.asarray(labels, dtype=object)[inverse])
    return pd.Categorical.from_codes(rank[inverse], categories=categories)


def _item_columns(
    layouts: np.ndarray,
    answers: pd.DataFrame,
    codes: AnswerCodes,
    item_keys: Sequence[str],
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """One column per item key from the positions of every form version."""
    n = layouts.size
    out = {key: np.zeros(n, dtype=np.int16) for key in item_keys}
    blank = {key: np.ones(n, dtype=bool) for key in item_keys}
    for layout in np.unique(layouts):
        rows = np.flatnonzero(layouts == layout)
        keys = codes.layouts.get(int(layout), ())
        for pos, key in enumerate(keys):
            if key not in out or pos not in answers.columns:
                continue
            column = answers[pos].array[rows]
            out[key][rows] = column.to_numpy(dtype=np.int16, na_value=0)
            blank[key][rows] = column.isna()
    return {key: pd.arrays.IntegerArray(out[key], blank[key]) for key in item_keys}


def counts_from_selection(
    selection: pd.DataFrame,
    form: Any,
    design: Design,
    by: Sequence[str],
    *,
    period: Period | None = None,
    weights: CellWeights | None = None,
    index_versions: Collection[str] = ("A", "B"),
) -> pd.DataFrame:
    """The count table of a fetched selection (:func:`fetch_selection`).

    The arguments mean what they mean for :func:`survey.statistics.build_counts`; the result is
    the table it returns.

    Raises
    ------
    NoResponsesError
        An empty selection.
    UnmatchedCellsError
        Responses in cells that ``weights`` has no weight for.
    StatisticsQueryError
        A table the engine refuses (e.g. weights that cancel out in some group).
    """
    cal = design.calibration
    names = [c for c in (design.strata, design.psu) if c]
    names += [*by, *(cal.cell_columns if cal else ()), *(weights.columns if weights else ())]
    check_columns(names, period)
    if selection.empty:
        raise NoResponsesError(f"no stored response of form {form.id!r} matches")
    frame = selection
    if period is not None:
        frame = frame.assign(period=period_of_month(frame["month"], period))
    if weights is not None:
        frame = _with_weights(frame, weights)
        design = replace(
            design,
            weight=_WEIGHT,
            calibration=None if cal is None else replace(cal, base_weight_column=_BASE_WEIGHT),
        )
    extra = list(dict.fromkeys([*by, *(cal.cell_columns if cal else ())]))
    try:
        return counts_from_responses(
            frame,
            form,
            design,
            by=extra,
            items=list(form.item_keys),
            index_versions=tuple(sorted(index_versions)),
            pooled=True,
        )
    except AnalysisError as exc:
        raise StatisticsQueryError(f"the count table is not valid: {exc}") from None


def period_of_month(month: pd.Series, granularity: Period) -> pd.Categorical:
    """``YYYY-MM`` labels as labels of ``granularity`` (as :func:`analysis.frames.period_of`)."""
    labels = month.cat.categories
    mapped = []
    for label in labels:
        year, number = label[:4], int(label[5:7])
        mapped.append(
            {
                "month": label,
                "quarter": f"{year}-Q{(number + 2) // 3}",
                "half": f"{year}-H{1 if number <= 6 else 2}",
                "year": year,
            }[granularity]
        )
    return pd.Categorical(np.asarray(mapped, dtype=object)[month.cat.codes.to_numpy()])


def _with_weights(frame: pd.DataFrame, weights: CellWeights) -> pd.DataFrame:
    """``frame`` with the final and base weight of each response's cell."""
    final, base = cell_weights(frame, weights, np.ones(len(frame), dtype=np.int64))
    return frame.assign(**{_WEIGHT: final, _BASE_WEIGHT: base})


def cell_weights(
    frame: pd.DataFrame, weights: CellWeights, responses: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The final and base weight of each row's weighting cell (``responses``: how many
    responses each row stands for, for the error message).

    Raises
    ------
    UnmatchedCellsError
        Rows in cells that ``weights`` has no weight for.
    """
    columns = list(weights.columns)
    cells = pd.MultiIndex.from_frame(frame[columns].astype(str))
    known = pd.MultiIndex.from_tuples(list(weights.weights), names=columns)
    position = known.get_indexer(cells)
    unmatched = position < 0
    if unmatched.any():
        missing = (
            pd.Series(responses[unmatched], index=cells[unmatched])
            .groupby(level=list(range(len(columns))))
            .sum()
            .sort_values(ascending=False, kind="stable")
        )
        listed = ", ".join(
            f"{k if isinstance(k, tuple) else (k,)}: {v}"
            for k, v in missing.head(_MAX_LISTED).items()
        )
        raise UnmatchedCellsError(
            f"{int(missing.sum())} response(s) in {len(missing)} cell(s) of "
            f"{weights.columns} without a weight (e.g. {listed}); add the cells to the weight "
            "table or filter the responses"
        )
    final = np.fromiter(weights.weights.values(), dtype=float)
    base_map = weights.base_weights
    base = (
        np.fromiter((base_map[c] for c in weights.weights), dtype=float)
        if base_map is not None
        else np.ones(final.size)
    )
    return final[position], base[position]
