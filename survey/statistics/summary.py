"""The summary of sufficient statistics: the pooled count table kept in the database, per cell.

Every estimator of :mod:`analysis` reads additive sums, so the responses can be summed once
and the sums added up again for any report. The summary keeps, for every cell of the grain

    form × month × agency × counter × field × procedure × channel × form version × flags

(``month``: first day of the UTC calendar month of ``submitted_at``; ``0`` for a missing
counter, field or procedure), the cell's whole pooled count table (:mod:`analysis.counts`,
unweighted: ``n`` only) as **one row**: a vector of counts, one per (item, answer) of the
form's *layout* (``summary_state.layout``: the ``_response``, answer, ``_answered:``,
``_score:`` and ``_pair:`` rows). Besides the full grain it holds roll-up cells
(:data:`LEVELS`: month × agency × flags, and with field or counter; ``form_version = -1``, the
dropped unit columns ``-1``, channel ``*``); a read takes the smallest level that provides its
columns (:func:`level_for`). A cell's size does not grow with its responses, so the summary is
bounded by the number of cells (about 13,000 at the full grain and 3,400 roll-up cells for the
demo province's year, at 1 or 10 million responses), where a row per (cell, item, answer) would
hold about 1,500 rows per cell.

Every design and ``by`` column of :data:`survey.statistics.COLUMNS` is a function of the grain,
and weights are constant per weighting cell, so a count table is

.. math::

    n_{g} = \\sum_{c \\in g} n_c,\\quad w_g = \\sum_{c} n_c\\,\\omega_c,\\quad
    w_{2,g} = \\sum_{c} n_c\\,\\omega_c^2,\\quad w_{0,g} = \\sum_c n_c\\,\\omega^0_c

over the summary cells :math:`c` of each group :math:`g` (:math:`\\omega_c` the weight of the
cell's weighting cell): one sparse indicator product per table (:func:`cell_counts`).
:func:`survey.statistics.build_counts` adds the responses the summary does not hold: ids above
the watermark and responses in the partial months at the ends of ``since``/``until``.

Maintenance (:func:`rebuild`, :func:`refresh`; ``sipas aggregates rebuild|refresh``, and the
server's background refresh, :mod:`survey.statistics.background`): the responses are fetched
month by month (:func:`survey.statistics.fetched.fetch_grain`), tabulated per cell by
:func:`analysis.counts.counts_from_responses` and written as cells; a refresh adds the
responses above the watermark to their cells (read, add, write back), and first re-sums the
months whose responses changed below the watermark (deleted, or committed after a higher id):
their count or id sum differs from ``summary_months``. A new definition of the form rebuilds its
summary. Each runs in one transaction behind a lock (``pg_advisory_xact_lock`` on PostgreSQL;
on SQLite the first statement is a write, which takes the database's write lock), so
concurrent runs wait for each other and a crash leaves the previous state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sqlalchemy import (
    Date,
    cast,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from analysis.counts import (
    PAIR_PREFIX,
    RESPONSE_ITEM,
    SCORE_PREFIX,
    counts_from_responses,
)
from analysis.design import Design
from analysis.hierarchy import hierarchy_from_form
from survey.models import (
    FormVersion,
    Response,
    SummaryCell,
    SummaryMonth,
    SummaryState,
)
from survey.statistics.fetched import GRAIN_COLUMNS, fetch_grain

__all__ = [
    "CELLS",
    "LEVELS",
    "CellTable",
    "RefreshResult",
    "SummaryPlan",
    "cell_counts",
    "definition_of",
    "forget_before",
    "level_for",
    "month_start",
    "months_before",
    "plan_summary",
    "read_cells",
    "rebuild",
    "refresh",
    "refresh_in_steps",
    "summarised_forms",
    "summary_status",
]

CELLS = SummaryCell.__table__
MONTHS = SummaryMonth.__table__
STATE = SummaryState.__table__
_RESPONSES = Response.__table__
_LOCK_KEY = 0x5195A5  # pg_advisory_xact_lock key of summary maintenance
_COUNT_TYPE = np.dtype("<i4")  # one count of summary_cells.counts
_WRITE_BATCH = 2_000  # cells per INSERT
_KEYS_PER_READ = 400  # cell keys per SELECT of stored cells (a row-value IN list)
# The levels of the summary: the full grain, and roll-ups that keep fewer unit columns (the
# others hold the constants of _ROLLED_UP; form_version = -1 marks every rolled-up cell). The
# overview and unit pages read the roll-ups, other designs and domains the full grain.
LEVELS: dict[str, tuple[str, ...]] = {
    "full": GRAIN_COLUMNS,
    "agency": ("month", "agency_id", "flags"),
    "field": ("month", "agency_id", "field_id", "flags"),
    "counter": ("month", "agency_id", "counter_id", "flags"),
}
_ROLLED_UP: dict[str, int | str] = {
    "counter_id": -1,
    "field_id": -1,
    "procedure_id": -1,
    "channel": "*",
    "form_version": -1,
}
# Column of survey.statistics.COLUMNS -> grain column that provides it.
_DIMENSION = {
    "agency_code": "agency_id",
    "counter_code": "counter_id",
    "field_code": "field_id",
    "procedure_code": "procedure_id",
    "channel": "channel",
    "form_version": "form_version",
    "period": "month",
}


def definition_of(form: Any) -> str:
    """SHA-256 of what the summary's rows depend on: item keys and aggregation tree."""
    hierarchy = hierarchy_from_form(form)
    return hashlib.sha256(repr((tuple(form.item_keys), hierarchy)).encode()).hexdigest()


def month_start(submitted_at: ColumnElement, dialect: str) -> ColumnElement[date]:
    """First day of the UTC calendar month of a timestamp column."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", submitted_at)
        return cast(func.date_trunc("month", utc), Date)
    return type_coerce(func.strftime("%Y-%m-01", submitted_at), Date)


def _month_floor(moment: datetime) -> date:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return date(utc.year, utc.month, 1)


def _month_ceil(moment: datetime) -> date:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    floor = _month_floor(utc)
    if utc == datetime(floor.year, floor.month, 1, tzinfo=UTC):
        return floor
    return date(floor.year + floor.month // 12, floor.month % 12 + 1, 1)


def _utc(moment: datetime) -> datetime:
    """A timestamp as aware UTC (a naive one is taken as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SummaryPlan:
    """Whether a count table can read the summary, and which months it covers.

    Attributes
    ----------
    source : {"summary", "raw"}
        ``summary``: summary rows of the months ``[start, stop)`` plus the responses it does
        not hold; ``raw``: the responses only.
    reason : str
        Why (for pages and the CLI).
    start, stop : date or None
        First month read from the summary and the month after the last (None: open).
    watermark : int
        The highest response id the summary held when planned.
    """

    source: str
    reason: str
    start: date | None = None
    stop: date | None = None
    watermark: int = 0

    def summary_filters(self, table: Any) -> list[ColumnElement[bool]]:
        """The months of ``table`` (a summary table) that the summary serves."""
        out = []
        if self.start is not None:
            out.append(table.c.month >= self.start)
        if self.stop is not None:
            out.append(table.c.month < self.stop)
        return out

    def raw_filter(
        self, watermark: int, since: datetime | None, until: datetime | None
    ) -> ColumnElement[bool]:
        """The responses of ``[since, until)`` that cells holding the responses up to
        ``watermark`` lack: those above it and those in the partial months at either end
        (each an index range, so the database reads only them)."""
        outside = [_RESPONSES.c.id > watermark]
        if self.start is not None and since is not None and _utc(since) < _midnight(self.start):
            outside.append(_RESPONSES.c.submitted_at < _midnight(self.start))
        if self.stop is not None and (until is None or _utc(until) > _midnight(self.stop)):
            outside.append(_RESPONSES.c.submitted_at >= _midnight(self.stop))
        return or_(*outside)


def plan_summary(
    connection: Connection, form: Any, since: datetime | None, until: datetime | None
) -> SummaryPlan:
    """Decide whether the summary serves ``form`` for ``[since, until)``."""
    state = connection.execute(
        select(STATE.c.definition, STATE.c.watermark).where(STATE.c.form_id == form.id)
    ).first()
    if state is None:
        return SummaryPlan("raw", f"no summary of form {form.id!r} (sipas aggregates rebuild)")
    if state.definition != definition_of(form):
        return SummaryPlan(
            "raw", f"the summary of form {form.id!r} was built for another definition of it"
        )
    start = _month_ceil(since) if since is not None else None
    stop = _month_floor(until) if until is not None else None
    if start is not None and stop is not None and start >= stop:
        return SummaryPlan("raw", "the period holds no whole calendar month")
    return SummaryPlan(
        "summary",
        f"summary up to response id {state.watermark}, plus the responses after it"
        + (" and in partial months" if since or until else ""),
        start,
        stop,
        int(state.watermark),
    )


def summary_status(connection: Connection) -> list[dict[str, Any]]:
    """Per summarised form: definition, watermark, cells, and when built and refreshed."""
    rows = connection.execute(select(STATE).order_by(STATE.c.form_id)).mappings().all()
    out = []
    for row in rows:
        cells = connection.execute(
            select(func.count()).where(CELLS.c.form_id == row["form_id"])
        ).scalar_one()
        out.append({**row, "cells": int(cells), "layout_size": len(row["layout"] or [])})
    return out


def _lock(connection: Connection, form_id: str) -> None:
    """Serialise maintenance: the transaction's first statement takes the lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    else:  # a write takes SQLite's write lock (waits for busy_timeout)
        connection.execute(
            STATE.update().where(STATE.c.form_id == form_id).values(form_id=STATE.c.form_id)
        )


class Layout:
    """The (item, answer) of each position of a summary vector; it only ever grows."""

    def __init__(self, entries: Sequence[Sequence[Any]] = ()) -> None:
        self.entries: list[tuple[str, float]] = [(str(i), float(a)) for i, a in entries]
        self._position = {entry: k for k, entry in enumerate(self.entries)}

    def __len__(self) -> int:
        return len(self.entries)

    def positions(self, items: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """The position of each (item, answer); new pairs are appended."""
        out = np.empty(len(items), dtype=np.int64)
        for k, entry in enumerate(zip(items.tolist(), answers.tolist(), strict=True)):
            key = (str(entry[0]), float(entry[1]))
            if key not in self._position:
                self._position[key] = len(self.entries)
                self.entries.append(key)
            out[k] = self._position[key]
        return out

    def to_json(self) -> list[list[Any]]:
        return [[item, answer] for item, answer in self.entries]


@dataclass
class CellTable:
    """Summary cells: their grain keys (``keys``, the columns of :data:`GRAIN_COLUMNS`,
    ``month`` a date) and their count vectors (``counts``: one row per cell)."""

    keys: pd.DataFrame
    counts: np.ndarray

    @property
    def empty(self) -> bool:
        return len(self.keys) == 0


def _tabulate(selection: pd.DataFrame, form: Any, layout: Layout) -> CellTable:
    """The full-grain cells of a fetched selection (:func:`fetch_grain`)."""
    columns = list(GRAIN_COLUMNS)
    if selection.empty:
        return CellTable(pd.DataFrame(columns=columns), np.zeros((0, len(layout)), np.int64))
    table = counts_from_responses(
        selection,
        form,
        Design(),
        by=columns,
        items=list(form.item_keys),
        index_versions=("A", "B"),
        pooled=True,
    )
    cell_ids, cells = pd.MultiIndex.from_frame(table[columns]).factorize()
    pair_ids, pairs = pd.MultiIndex.from_arrays(
        [table["item"].astype(str).to_numpy(), table["answer"].to_numpy()]
    ).factorize()
    unique_items = pairs.get_level_values(0).to_numpy()
    unique_answers = pairs.get_level_values(1).to_numpy()
    positions = layout.positions(unique_items, unique_answers)[pair_ids]
    width = len(layout)
    flat = cell_ids.astype(np.int64) * width + positions
    n = table["n"].to_numpy(dtype=np.int64)
    counts = np.bincount(flat, weights=n, minlength=len(cells) * width)
    keys = cells.to_frame(index=False, name=columns)
    keys["month"] = [date.fromisoformat(f"{m}-01") for m in keys["month"].astype(str)]
    for name in ("agency_id", "counter_id", "field_id", "procedure_id", "form_version"):
        keys[name] = keys[name].astype(np.int64)
    for name in ("channel", "flags"):
        keys[name] = keys[name].astype(str)
    return CellTable(keys, np.rint(counts).astype(np.int64).reshape(len(cells), width))


def _sum_cells(keys: pd.DataFrame, counts: np.ndarray, by: Sequence[str]) -> CellTable:
    """Cells with equal ``by`` keys added up (``keys`` keeps the ``by`` columns only)."""
    ids, groups = pd.MultiIndex.from_frame(keys[list(by)]).factorize()
    indicator = sparse.csr_matrix(
        (np.ones(len(ids)), (ids, np.arange(len(ids)))), shape=(len(groups), len(ids))
    )
    return CellTable(groups.to_frame(index=False, name=list(by)), np.asarray(indicator @ counts))


def _with_roll_ups(cells: CellTable) -> CellTable:
    """The full-grain cells and the cells of every rolled-up level."""
    if cells.empty:
        return cells
    parts = [cells]
    for level, kept in LEVELS.items():
        if level == "full":
            continue
        rolled = _sum_cells(cells.keys, cells.counts, kept)
        for name, value in _ROLLED_UP.items():
            if name not in kept:
                rolled.keys[name] = value
        parts.append(CellTable(rolled.keys[list(GRAIN_COLUMNS)], rolled.counts))
    keys = pd.concat([p.keys for p in parts], ignore_index=True)
    return CellTable(keys, np.vstack([np.rint(p.counts).astype(np.int64) for p in parts]))


def _vector(blob: bytes, width: int) -> np.ndarray:
    values = np.frombuffer(blob, dtype=_COUNT_TYPE)
    if values.size == width:
        return values
    out = np.zeros(width, dtype=_COUNT_TYPE)
    out[: values.size] = values
    return out


def _blob(values: np.ndarray) -> bytes:
    if values.size and (values.max() > np.iinfo(_COUNT_TYPE).max or values.min() < 0):
        raise OverflowError("a summary count is outside the 32-bit range")
    return values.astype(_COUNT_TYPE).tobytes()


def _write(connection: Connection, form_id: str, cells: CellTable, layout: Layout) -> None:
    """Insert ``cells`` (none of which is in the table yet)."""
    if cells.empty:
        return
    width = len(layout)
    response = layout.positions(np.array([RESPONSE_ITEM]), np.array([0.0]))[0]
    counts = cells.counts
    if counts.shape[1] < width:
        counts = np.pad(counts, ((0, 0), (0, width - counts.shape[1])))
    records = cells.keys.to_dict("records")
    rows = []
    for k, record in enumerate(records):
        record["form_id"] = form_id
        record["responses"] = int(counts[k, response])
        record["counts"] = _blob(counts[k])
        rows.append(record)
        if len(rows) == _WRITE_BATCH:
            connection.execute(insert(CELLS), rows)
            rows = []
    if rows:
        connection.execute(insert(CELLS), rows)


def _cell_rows(
    connection: Connection, form_id: str, where: Sequence[ColumnElement[bool]], width: int
) -> tuple[list[int], CellTable]:
    """The ids and cells of ``summary_cells`` rows of ``form_id`` matching ``where``."""
    c = CELLS.c
    statement = select(c.id, *(c[name] for name in GRAIN_COLUMNS), c.counts).where(
        c.form_id == form_id, *where
    )
    rows = connection.execute(statement).all()
    ids = [row[0] for row in rows]
    keys = pd.DataFrame([row[1:-1] for row in rows], columns=list(GRAIN_COLUMNS))
    if rows:
        keys["month"] = [_as_date(m) for m in keys["month"]]
        counts = np.vstack([_vector(row[-1], width) for row in rows]).astype(np.int64)
    else:
        counts = np.zeros((0, width), np.int64)
    return ids, CellTable(keys, counts)


def _merge(connection: Connection, form_id: str, cells: CellTable, layout: Layout) -> None:
    """Add ``cells`` to the stored cells with the same keys (read, add, delete, insert: under
    the lock); cells not stored yet are inserted."""
    if cells.empty:
        return
    width = len(layout)
    keys = list(cells.keys[list(GRAIN_COLUMNS)].itertuples(index=False, name=None))
    grain = tuple_(*(CELLS.c[name] for name in GRAIN_COLUMNS))
    ids: list[int] = []
    parts = []
    for start in range(0, len(keys), _KEYS_PER_READ):
        batch = keys[start : start + _KEYS_PER_READ]
        found, stored = _cell_rows(connection, form_id, [grain.in_(batch)], width)
        ids += found
        parts.append(stored)
    added = np.pad(cells.counts, ((0, 0), (0, width - cells.counts.shape[1])))
    if ids:
        stored_keys = pd.concat([p.keys for p in parts if not p.empty], ignore_index=True)
        stored_counts = np.vstack([p.counts for p in parts if not p.empty])
        both = pd.concat([stored_keys, cells.keys], ignore_index=True)
        total = _sum_cells(both, np.vstack([stored_counts, added]), GRAIN_COLUMNS)
        for start in range(0, len(ids), _WRITE_BATCH):
            batch_ids = ids[start : start + _WRITE_BATCH]
            connection.execute(delete(CELLS).where(CELLS.c.id.in_(batch_ids)))
        cells = CellTable(total.keys, np.rint(total.counts).astype(np.int64))
    else:
        cells = CellTable(cells.keys, added)
    _write(connection, form_id, cells, layout)


@dataclass
class _MonthCells:
    """The cells of one month's selected responses, and how many they were (and their id
    sum, for ``summary_months``)."""

    month: date
    cells: CellTable
    responses: int
    id_sum: int


def _collect(
    connection: Connection,
    form: Any,
    layout: Layout,
    filters: Sequence[ColumnElement[bool]],
) -> list[_MonthCells]:
    """Tabulate the responses matching ``filters``, month by month (reads only)."""
    r = _RESPONSES.c
    month = month_start(r.submitted_at, connection.dialect.name)
    months = [
        _as_date(m)
        for (m,) in connection.execute(
            select(month).where(r.form_id == form.id, *filters).group_by(month).order_by(month)
        )
    ]
    out = []
    for first in months:
        selected = [r.form_id == form.id, *filters, *_month_range(r.submitted_at, first)]
        cells = _with_roll_ups(_tabulate(fetch_grain(connection, form, selected), form, layout))
        held = connection.execute(
            select(func.count(), func.coalesce(func.sum(r.id), 0)).where(*selected)
        ).one()
        out.append(_MonthCells(first, cells, int(held[0]), int(held[1])))
    return out


def _store(
    connection: Connection, form_id: str, months: list[_MonthCells], layout: Layout, *, fresh: bool
) -> int:
    """Write collected cells (``fresh``: their months hold no cell yet; otherwise added to the
    stored cells) and their months' counts; returns the responses they hold."""
    for month in months:
        (_write if fresh else _merge)(connection, form_id, month.cells, layout)
        _add_month(connection, form_id, month.month, month.responses, month.id_sum)
    return sum(m.responses for m in months)


def _month_range(submitted_at: Any, first: date) -> list[ColumnElement[bool]]:
    stop = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return [submitted_at >= _midnight(first), submitted_at < _midnight(stop)]


def _add_month(connection: Connection, form_id: str, month: date, count: int, id_sum: int) -> None:
    where = [MONTHS.c.form_id == form_id, MONTHS.c.month == month]
    held = connection.execute(select(MONTHS.c.responses, MONTHS.c.id_sum).where(*where)).first()
    if held is None:
        connection.execute(
            insert(MONTHS).values(form_id=form_id, month=month, responses=count, id_sum=id_sum)
        )
    else:
        connection.execute(
            MONTHS.update().where(*where).values(responses=held[0] + count, id_sum=held[1] + id_sum)
        )


def level_for(columns: Sequence[str]) -> str:
    """The smallest level whose grain provides ``columns`` (names of ``COLUMNS``)."""
    dims = {_DIMENSION[c] for c in columns}
    for level in ("agency", "field", "counter"):
        if dims <= set(LEVELS[level]):
            return level
    return "full"


def _level_filter(level: str) -> list[ColumnElement[bool]]:
    """The cells of one level in ``summary_cells``."""
    c = CELLS.c
    rolled = c.form_version == _ROLLED_UP["form_version"]
    if level == "full":
        return [~rolled]
    counter = c.counter_id == _ROLLED_UP["counter_id"]
    field = c.field_id == _ROLLED_UP["field_id"]
    return {
        "agency": [rolled, counter, field],
        "field": [rolled, counter, ~field],
        "counter": [rolled, ~counter, field],
    }[level]


def read_cells(
    connection: Connection,
    form: Any,
    plan: SummaryPlan,
    level: str,
    *,
    agency_ids: Select | None = None,
    exclude: Sequence[ColumnElement[bool]] = (),
) -> tuple[CellTable, Layout, int]:
    """The cells of ``level`` in the months ``plan`` serves (``agency_ids``: a subquery of the
    agencies kept; ``exclude``: conditions on ``summary_cells`` rows left out), the layout of
    their vectors and the watermark they hold.

    The watermark is read in the statement that reads the cells (one snapshot), so that the
    responses above it are exactly those the cells lack even when a refresh commits meanwhile;
    the layout is read afterwards (it only grows, so it covers every vector read).
    """
    c = CELLS.c
    where = [*plan.summary_filters(CELLS), *_level_filter(level)]
    if agency_ids is not None:
        where.append(c.agency_id.in_(agency_ids))
    where += [not_(condition) for condition in exclude]
    watermark = select(STATE.c.watermark).where(STATE.c.form_id == form.id).scalar_subquery()
    statement = select(watermark, *(c[name] for name in GRAIN_COLUMNS), c.counts).where(
        c.form_id == form.id, *where
    )
    rows = connection.execute(statement).all()
    layout = Layout(
        connection.execute(select(STATE.c.layout).where(STATE.c.form_id == form.id)).scalar_one()
    )
    width = len(layout)
    keys = pd.DataFrame([row[1:-1] for row in rows], columns=list(GRAIN_COLUMNS))
    if not rows:
        return CellTable(keys, np.zeros((0, width), np.int64)), layout, plan.watermark
    keys["month"] = [_as_date(m) for m in keys["month"]]
    counts = np.vstack([_vector(row[-1], width) for row in rows]).astype(np.int64)
    return CellTable(keys, counts), layout, int(rows[0][0])


def cell_counts(
    keys: pd.DataFrame,
    counts: np.ndarray,
    layout: Layout,
    group: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray] | None,
    *,
    pooled: bool,
    scores: bool,
) -> pd.DataFrame:
    """The count-table rows of summary cells added up per group.

    ``group`` gives each cell's group (0..G-1); ``weights`` the final and base weight of each
    cell's weighting cell (``None``: unweighted). Returns one row per (group, item, answer)
    with ``n > 0``: columns ``group``, ``item``, ``answer``, ``n`` and, when weighted, ``w``
    (:math:`\\sum_c n_c\\omega_c`), ``w2`` (:math:`\\sum_c n_c\\omega_c^2`) and ``w0``
    (:math:`\\sum_c n_c\\omega^0_c`). ``pooled=False`` leaves out the ``_pair:`` rows,
    ``scores=False`` the ``_score:`` rows.
    """
    items = np.array([item for item, _ in layout.entries], dtype=object)
    answers = np.array([answer for _, answer in layout.entries], dtype=float)
    keep = np.ones(len(items), dtype=bool)
    if not pooled:
        keep &= ~np.char.startswith(items.astype(str), PAIR_PREFIX)
    if not scores:
        keep &= ~np.char.startswith(items.astype(str), SCORE_PREFIX)
    columns = np.flatnonzero(keep)
    counts = counts[:, columns].astype(float)
    groups = int(group.max()) + 1 if group.size else 0
    indicator = sparse.csr_matrix(
        (np.ones(group.size), (group, np.arange(group.size))), shape=(groups, group.size)
    )
    n = np.asarray(indicator @ counts)
    rows, cols = np.nonzero(n)
    out = {
        "group": rows,
        "item": items[columns][cols],
        "answer": answers[columns][cols],
        "n": np.rint(n[rows, cols]).astype(np.int64),
    }
    if weights is not None:
        final, base = weights
        for name, factor in (("w", final), ("w2", final * final), ("w0", base)):
            summed = np.asarray(indicator @ (counts * factor[:, None]))
            out[name] = summed[rows, cols]
    return pd.DataFrame(out)


def _max_id(connection: Connection, form_id: str) -> int:
    top = connection.execute(
        select(func.max(_RESPONSES.c.id)).where(_RESPONSES.c.form_id == form_id)
    )
    return int(top.scalar_one() or 0)


def _delete(connection: Connection, form_id: str, months: Sequence[date] | None = None) -> None:
    for table in (CELLS, MONTHS):
        where = [table.c.form_id == form_id]
        if months is not None:
            where.append(table.c.month.in_(list(months)))
        connection.execute(delete(table).where(*where))


def _save_state(
    connection: Connection, form: Any, watermark: int, layout: Layout, *, built: bool
) -> None:
    now = datetime.now(UTC)
    values = {
        "definition": definition_of(form),
        "watermark": watermark,
        "layout": layout.to_json(),
        "refreshed_at": now,
    }
    if built:
        values["built_at"] = now
    exists = connection.execute(select(STATE.c.form_id).where(STATE.c.form_id == form.id)).first()
    if exists is None:
        connection.execute(STATE.insert().values(form_id=form.id, **{"built_at": now, **values}))
    else:
        connection.execute(STATE.update().where(STATE.c.form_id == form.id).values(**values))


@dataclass
class _Plan:
    """What a rebuild or refresh will write, read and tabulated before any lock is taken."""

    seen: Any  # the summary_state row read (None: no summary yet)
    rebuilt: bool
    changed: list[date]  # months re-summed because their responses changed below the watermark
    watermark: int  # the new one
    above: int  # responses above the previous watermark
    layout: Layout
    fresh: list[_MonthCells]  # cells of months written anew
    added: list[_MonthCells]  # cells added to the stored ones


def _plan(connection: Connection, form: Any, *, rebuild: bool) -> _Plan:
    """Read and tabulate what a rebuild (``rebuild``, a summary of none or of another
    definition) or a refresh writes (module docstring); reads only."""
    r = _RESPONSES.c
    seen = _state(connection, form.id)
    rebuilt = rebuild or seen is None or seen.definition != definition_of(form)
    changed: list[date] = []
    if rebuilt:
        layout, old = Layout(), 0
        new = _max_id(connection, form.id)
        fresh = _collect(connection, form, layout, [r.id <= new])
        added: list[_MonthCells] = []
    else:
        layout, old = Layout(seen.layout), int(seen.watermark)
        changed = _changed_months(connection, form.id, old)
        new = max(_max_id(connection, form.id), old)
        month = month_start(r.submitted_at, connection.dialect.name)
        fresh = _collect(connection, form, layout, [r.id <= new, month.in_(changed)])
        added = _collect(connection, form, layout, [r.id > old, r.id <= new, ~month.in_(changed)])
    above = connection.execute(
        select(func.count()).where(r.form_id == form.id, r.id > old, r.id <= new)
    ).scalar_one()
    return _Plan(seen, rebuilt, changed, new, int(above), layout, fresh, added)


def _apply(connection: Connection, form: Any, plan: _Plan) -> RefreshResult:
    """Write a plan (behind the maintenance lock)."""
    _delete(connection, form.id, None if plan.rebuilt else plan.changed)
    _store(connection, form.id, plan.fresh, plan.layout, fresh=True)
    _store(connection, form.id, plan.added, plan.layout, fresh=False)
    _save_state(connection, form, plan.watermark, plan.layout, built=plan.rebuilt)
    added = 0 if plan.rebuilt else plan.above
    return RefreshResult(plan.rebuilt, added, tuple(plan.changed), plan.watermark)


def rebuild(connection: Connection, form: Any) -> int:
    """Replace the summary of ``form`` by the sums of all its stored responses.

    Run inside a transaction (``engine.begin()``); returns the new watermark.
    """
    _lock(connection, form.id)
    return _apply(connection, form, _plan(connection, form, rebuild=True)).watermark


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What :func:`refresh` did.

    Attributes
    ----------
    rebuilt : bool
        The summary was (re)built from scratch (none yet, or a new definition of the form).
    added : int
        Responses above the previous watermark that were added.
    months : tuple of date
        Months re-summed because their responses changed below the watermark.
    watermark : int
        The highest response id now in the summary.
    skipped : bool
        :func:`refresh_in_steps` only: another refresh committed while this one read, so this
        one wrote nothing (the next round starts from the other's state).
    """

    rebuilt: bool
    added: int
    months: tuple[date, ...]
    watermark: int
    skipped: bool = False


def refresh(connection: Connection, form: Any) -> RefreshResult:
    """Bring the summary of ``form`` up to date (module docstring); inside a transaction, which
    holds the maintenance lock throughout (see :func:`refresh_in_steps`)."""
    _lock(connection, form.id)
    return _apply(connection, form, _plan(connection, form, rebuild=False))


def refresh_in_steps(engine: Engine, form: Any, *, rebuild: bool = False) -> RefreshResult:
    """:func:`refresh` (or, with ``rebuild``, :func:`rebuild`) with the reading and tabulating
    done before the maintenance lock is taken: what ``sipas aggregates`` and the server run.

    On SQLite a transaction that writes holds the database's write lock until it ends, so
    :func:`refresh` in one transaction would make every citizen's submission wait for the whole
    tabulation. Here the responses are read and tabulated in a read-only transaction (WAL
    readers block no writer); then a short write transaction takes the lock, checks that the
    summary's state is still the one read (else another refresh committed meanwhile: nothing is
    written, ``skipped``), and writes the cells. The tabulated cells of every month to write are
    held in memory meanwhile (a few hundred MB for a rebuild at 10 million responses).
    """
    with engine.connect() as connection:
        plan = _plan(connection, form, rebuild=rebuild)
        connection.rollback()
    with engine.begin() as connection:
        _lock(connection, form.id)
        now = _state(connection, form.id)
        if _state_key(now) != _state_key(plan.seen):
            return RefreshResult(False, 0, (), int(now.watermark) if now else 0, skipped=True)
        return _apply(connection, form, plan)


def _state(connection: Connection, form_id: str) -> Any:
    return connection.execute(
        select(STATE.c.definition, STATE.c.watermark, STATE.c.layout).where(
            STATE.c.form_id == form_id
        )
    ).first()


def _state_key(state: Any) -> tuple[Any, ...] | None:
    if state is None:
        return None
    return (state.definition, int(state.watermark), len(state.layout or []))


def _changed_months(connection: Connection, form_id: str, watermark: int) -> list[date]:
    """Months whose responses up to ``watermark`` differ from what the summary holds."""
    r = _RESPONSES.c
    now = connection.execute(
        select(func.count(), func.coalesce(func.sum(r.id), 0)).where(
            r.form_id == form_id, r.id <= watermark
        )
    ).one()
    held = connection.execute(
        select(
            func.coalesce(func.sum(MONTHS.c.responses), 0),
            func.coalesce(func.sum(MONTHS.c.id_sum), 0),
        ).where(MONTHS.c.form_id == form_id)
    ).one()
    if (int(now[0]), int(now[1])) == (int(held[0]), int(held[1])):
        return []
    month = month_start(r.submitted_at, connection.dialect.name)
    current = {
        _as_date(m): (int(c), int(s))
        for m, c, s in connection.execute(
            select(month, func.count(), func.sum(r.id))
            .where(r.form_id == form_id, r.id <= watermark)
            .group_by(month)
        )
    }
    stored = {
        _as_date(m): (int(c), int(s))
        for m, c, s in connection.execute(
            select(MONTHS.c.month, MONTHS.c.responses, MONTHS.c.id_sum).where(
                MONTHS.c.form_id == form_id
            )
        )
    }
    return sorted(m for m in set(current) | set(stored) if current.get(m) != stored.get(m))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def months_before(connection: Connection, month: date) -> int:
    """Form × month rows of ``summary_months`` before ``month`` (a first day of a month)."""
    count = connection.execute(select(func.count()).where(MONTHS.c.month < month)).scalar_one()
    return int(count)


def forget_before(connection: Connection, month: date) -> int:
    """Remove every summary cell of the months before ``month`` (the first day of a month),
    after their responses were deleted (``sipas retention apply``); inside a transaction, behind
    the maintenance lock. The rest of the summary is untouched and stays exact: whole months
    go, with the responses they summed. Returns the form × month rows removed."""
    _lock(connection, "")
    removed = months_before(connection, month)
    for table in (CELLS, MONTHS):
        connection.execute(delete(table).where(table.c.month < month))
    return removed


def summarised_forms(connection: Connection) -> list[str]:
    """Form ids with a recorded version (those ``sipas aggregates`` maintains)."""
    rows = connection.execute(select(FormVersion.form_id).distinct().order_by(FormVersion.form_id))
    return [row[0] for row in rows]
