"""The count table of :mod:`analysis.counts`, built by SQL ``GROUP BY`` in SQLite or PostgreSQL.

Three statements, each one ``GROUP BY`` over the selected responses (never row-level data in
Python unless the design makes every response its own PSU, where the table *is* at response
level):

1. ``_response`` rows: ``responses`` (joined to the unit tables the keys need) grouped by
   ``(stratum, psu, <domains>)``;
2. answer rows: the selected responses joined to their unnested ``answer_codes`` and grouped
   by ``(stratum, psu, <domains>, form version, position, code)``; positions become item keys
   on the aggregated rows (:class:`~survey.statistics.answer_codes.AnswerCodes`);
3. index rows: who answered each factor/aspect/SIPAS index (``_answered:``) and, for index
   version B, the per-response scores (``_score:``) of :mod:`survey.statistics.scores`, grouped
   by ``(stratum, psu, <domains>, item, answer)``.

Under the default design (``psu=None``) the PSU is ``responses.id`` and the rows are at response
level (the DataFrame path's ``pooled=False`` table; the pooled ``_pair:`` rows are not built).

Weights come from a :class:`~survey.statistics.weights.CellWeights` table joined in SQL
(``SUM(w)``, ``SUM(w*w)``, ``SUM(w0)``); without it every weight is 1 and ``w = w2 = n``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, false, func, literal, not_, or_, select, true
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from analysis.counts import KEY_COLUMNS, RESPONSE_ITEM, VALUE_COLUMNS, validate_counts
from analysis.design import Design
from analysis.hierarchy import hierarchy_from_form
from survey.models import Agency, Response
from survey.quality import FLAGS
from survey.statistics.answer_codes import AnswerCodes
from survey.statistics.columns import Period, column_expressions
from survey.statistics.errors import (
    NoResponsesError,
    StatisticsQueryError,
    UnknownFlagError,
    UnknownSubtreeError,
    UnmatchedCellsError,
    UnsupportedDesignError,
)
from survey.statistics.scores import index_rows
from survey.statistics.weights import CellWeights

__all__ = ["SelectionSummary", "build_counts", "summarize_selection"]

_RESPONSES = Response.__table__
_AGENCIES = Agency.__table__
_MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class SelectionSummary:
    """How many stored responses a selection holds, and how many the flags excluded.

    Attributes
    ----------
    selected : int
        Responses of the form in the period and subtree, before excluding flagged ones.
    excluded : int
        Of those, responses carrying one of the excluded flags.
    flagged : dict
        ``{flag: responses}`` among the selected responses, for every flag of
        :data:`survey.quality.FLAGS` (whether excluded or not).
    """

    selected: int
    excluded: int
    flagged: dict[str, int]

    @property
    def analysed(self) -> int:
        """Responses that enter the count table."""
        return self.selected - self.excluded


@contextmanager
def _connection(source: Any) -> Iterator[Connection]:
    """A connection from an Engine, a Connection or an ORM Session (Flask-SQLAlchemy's too)."""
    if isinstance(source, Engine):
        with source.connect() as connection:
            yield connection
    elif isinstance(source, Connection):
        yield source
    else:
        yield source.connection()


def _flag_present(flag: str) -> ColumnElement[bool]:
    stored = literal(";") + func.coalesce(_RESPONSES.c.flags, "") + literal(";")
    return stored.contains(f";{flag};", autoescape=True)


def _check_flags(flags: Collection[str]) -> tuple[str, ...]:
    if isinstance(flags, str):
        flags = (flags,)
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise UnknownFlagError(f"unknown quality flag(s) {unknown}; use {list(FLAGS)}")
    return tuple(dict.fromkeys(flags))


def _selection_filters(
    connection: Connection,
    form_id: str,
    since: datetime | None,
    until: datetime | None,
    agency_subtree: str | None,
) -> list[ColumnElement[bool]]:
    """Form, period (``since`` inclusive, ``until`` exclusive) and agency subtree."""
    filters: list[ColumnElement[bool]] = [_RESPONSES.c.form_id == form_id]
    if since is not None:
        filters.append(_RESPONSES.c.submitted_at >= since)
    if until is not None:
        filters.append(_RESPONSES.c.submitted_at < until)
    if agency_subtree is not None:
        root = select(_AGENCIES.c.id).where(_AGENCIES.c.code == agency_subtree)
        if connection.execute(root).first() is None:
            raise UnknownSubtreeError(f"no agency has the code {agency_subtree!r}")
        tree = root.cte("subtree", recursive=True)
        tree = tree.union_all(select(_AGENCIES.c.id).where(_AGENCIES.c.parent_id == tree.c.id))
        filters.append(_RESPONSES.c.agency_id.in_(select(tree.c.id)))
    return filters


def summarize_selection(
    source: Any,
    form: Any,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_subtree: str | None = None,
    exclude_flags: Collection[str] = (),
) -> SelectionSummary:
    """Count the selected, flagged and excluded responses (one aggregate query).

    The arguments mean what they mean for :func:`build_counts`.
    """
    flags = _check_flags(exclude_flags)
    with _connection(source) as connection:
        filters = _selection_filters(connection, form.id, since, until, agency_subtree)
        excluded = or_(*[_flag_present(f) for f in flags]) if flags else false()
        columns = [func.count().label("selected"), _count_if(excluded).label("excluded")]
        columns += [_count_if(_flag_present(f)).label(f) for f in FLAGS]
        row = connection.execute(select(*columns).where(*filters)).one()
    mapping = row._mapping
    return SelectionSummary(
        selected=int(mapping["selected"]),
        excluded=int(mapping["excluded"] or 0),
        flagged={f: int(mapping[f] or 0) for f in FLAGS},
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def build_counts(
    source: Any,
    form: Any,
    design: Design | None = None,
    by: Sequence[str] = (),
    *,
    period: Period | None = None,
    weights: CellWeights | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_subtree: str | None = None,
    exclude_flags: Collection[str] = (),
    index_versions: Collection[str] = ("A", "B"),
) -> pd.DataFrame:
    """Build the count table of ``form``'s stored responses with SQL ``GROUP BY``.

    The result is the table :func:`analysis.counts.counts_from_responses` builds from the wide
    export of the same responses (same rows, ``n``, ``w``, ``w2``, ``w0``; the PSU of a
    response under the default design is its database id instead of its export row).

    Parameters
    ----------
    source : Engine, Connection or Session
        Where the responses are (``db.session`` inside the app, or an ``Engine``).
    form : forms.Form
        The questionnaire; responses with this form id (every version) are counted, for its
        item keys.
    design : Design, optional
        ``strata`` and ``psu`` name columns of :data:`survey.statistics.COLUMNS`
        (``psu=None``: every response is its own PSU). ``weight`` and ``calibration`` need
        ``weights``; ``fpc`` is not available from the database.
    by : sequence of str
        Domain columns (names of :data:`~survey.statistics.COLUMNS`).
    period : {"month", "quarter", "half", "year"}, optional
        Granularity of the ``period`` column, when a key uses it.
    weights : CellWeights, optional
        Final (and base) weight per weighting cell. With ``design.calibration`` its columns
        must be the calibration's ``cell_columns``.
    since, until : datetime, optional
        ``submitted_at`` at or after ``since`` and before ``until`` (UTC).
    agency_subtree : str, optional
        Code of an agency: only responses of this agency and the agencies below it.
    exclude_flags : collection of str
        Quality flags (:data:`survey.quality.FLAGS`) whose responses are left out. Default:
        none, as in the export; :func:`summarize_selection` says how many a choice excludes.
    index_versions : collection of {"A", "B"}
        The index versions the table must serve, as for
        :func:`analysis.counts.counts_from_responses`: the respondent-score rows
        (``_score:<level>:<key>``) only version B reads are built when ``"B"`` is in it; the
        ``_answered:<level>:<key>`` rows are always built.

    Returns
    -------
    DataFrame
        The count table (schema in :mod:`analysis.counts`).

    Raises
    ------
    StatisticsQueryError
        One of its subclasses: unknown column, flag or agency; a design the database cannot
        provide; responses in cells without a weight; no response selected.
    """
    design = design or Design()
    by = list(dict.fromkeys(by))
    flags = _check_flags(exclude_flags)
    cal = design.calibration
    _check_design(design, weights)
    unknown_versions = sorted(set(index_versions) - {"A", "B"})
    if unknown_versions:
        raise StatisticsQueryError(f"unknown index version(s) {unknown_versions}; use A or B")
    cell_cols = list(cal.cell_columns) if cal else []
    extra = list(dict.fromkeys([*by, *cell_cols]))
    key_names = (["stratum"] if design.strata else []) + ["psu"] + extra
    needed = [c for c in (design.strata, design.psu) if c] + extra
    needed += list(weights.columns) if weights else []
    grouped = design.psu is not None

    with _connection(source) as connection:
        dialect = connection.dialect.name
        filters = _selection_filters(connection, form.id, since, until, agency_subtree)
        if flags:
            filters.append(not_(or_(*[_flag_present(f) for f in flags])))
        src, exprs = column_expressions(needed, period=period, dialect=dialect)
        selected = [
            _RESPONSES.c.id.label("rid"),
            _RESPONSES.c.form_version_id.label("form_version"),
            _RESPONSES.c.answer_codes.label("codes"),
        ]
        if design.strata:
            selected.append(exprs[design.strata].label("stratum"))
        selected.append((exprs[design.psu] if design.psu else _RESPONSES.c.id).label("psu"))
        selected += [exprs[c].label(c) for c in extra]
        table = None
        if weights is not None:
            table = weights.cte()
            match = [table.c[f"c{i}"] == exprs[c] for i, c in enumerate(weights.columns)]
            src = src.outerjoin(table, and_(*match))
            selected += [table.c.w.label("w"), table.c.w0.label("w0")]
        selection = select(*selected).select_from(src).where(*filters).subquery("sel")
        carried = key_names + (["w", "w0"] if weights else [])

        responses = _fetch(connection, _response_rows(selection, key_names, grouped))
        if responses.empty:
            raise NoResponsesError(f"no stored response of form {form.id!r} matches")
        if table is not None and weights is not None and responses["w"].isna().any():
            raise UnmatchedCellsError(_unmatched(connection, src, filters, exprs, weights, table))
        responses["item"] = RESPONSE_ITEM
        responses["answer"] = 0.0
        codes = AnswerCodes.of_form(connection, form.id)
        answers = _fetch(connection, _answer_rows(selection, key_names, codes, grouped))
        sums = ["n", *(["w", "w2", "w0"] if weights else [])]
        parts = [responses, codes.to_items(answers, form.item_keys, key_names, sums)]
        statement = index_rows(
            selection,
            carried,
            hierarchy_from_form(form),
            codes,
            grouped=grouped,
            scores="B" in index_versions,
        )
        parts.append(_fetch(connection, statement))
    return _assemble(parts, design, extra, cell_cols, weights is not None)


def _check_design(design: Design, weights: CellWeights | None) -> None:
    if design.fpc:
        raise UnsupportedDesignError(
            "the database holds no fpc column; build the count table from an export with it"
        )
    if design.weight and weights is None:
        raise UnsupportedDesignError(
            f"the database holds no weight column {design.weight!r}; pass the weights per "
            "cell (weights=CellWeights(...))"
        )
    cal = design.calibration
    if cal is not None and weights is not None and tuple(weights.columns) != cal.cell_columns:
        raise UnsupportedDesignError(
            f"the weight cells {weights.columns} are not the calibration cells {cal.cell_columns}"
        )


def _sums(selection: Subquery, grouped: bool) -> list:
    if "w" not in selection.c:
        return [func.count().label("n")] if grouped else [literal(1).label("n")]
    w, w0 = selection.c.w, selection.c.w0
    if not grouped:
        return [literal(1).label("n"), w.label("w"), (w * w).label("w2"), w0.label("w0")]
    return [
        func.count().label("n"),
        func.sum(w).label("w"),
        func.sum(w * w).label("w2"),
        func.sum(w0).label("w0"),
    ]


def _response_rows(selection: Subquery, key_names: list[str], grouped: bool) -> Select:
    keys = [selection.c[k] for k in key_names]
    statement = select(*keys, *_sums(selection, grouped))
    return statement.group_by(*keys) if grouped else statement


def _answer_rows(
    selection: Subquery, key_names: list[str], codes: AnswerCodes, grouped: bool
) -> Select:
    """``(keys…, form_version, position, answer, sums…)``: one row per answered item (grouped
    by keys, version, position and code unless every response is its own PSU)."""
    pairs, position, code = codes.unnest(selection.c.codes)
    keys = [selection.c[k] for k in key_names]
    version = selection.c.form_version
    statement = (
        select(
            *keys,
            version,
            position.label("position"),
            code.label("answer"),
            *_sums(selection, grouped),
        )
        .select_from(selection.join(pairs, true()))
        .where(code.is_not(None))
    )
    return statement.group_by(*keys, version, position, code) if grouped else statement


def _fetch(connection: Connection, statement: Select) -> pd.DataFrame:
    result = connection.execute(statement)
    return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))


def _unmatched(
    connection: Connection,
    src: Any,
    filters: list[ColumnElement[bool]],
    exprs: dict[str, ColumnElement],
    weights: CellWeights,
    table: Any,
) -> str:
    """Which cells lack a weight (``src`` already joins the weight table)."""
    cells = [exprs[c] for c in weights.columns]
    statement = (
        select(*cells, func.count())
        .select_from(src)
        .where(*filters, table.c.w.is_(None))
        .group_by(*cells)
        .order_by(func.count().desc())
    )
    rows = connection.execute(statement).all()
    total = sum(int(r[-1]) for r in rows)
    listed = ", ".join(f"{tuple(r[:-1])}: {r[-1]}" for r in rows[:_MAX_LISTED])
    return (
        f"{total} response(s) in {len(rows)} cell(s) of {weights.columns} without a weight "
        f"(e.g. {listed}); add the cells to the weight table or filter the responses"
    )


def _assemble(
    parts: list[pd.DataFrame],
    design: Design,
    extra: list[str],
    cell_cols: list[str],
    weighted: bool,
) -> pd.DataFrame:
    out = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    if design.strata:
        out["stratum"] = out["stratum"].astype(str)
    else:
        out["stratum"] = "1"
    out["psu"] = out["psu"].astype(str) if design.psu else out["psu"].astype(np.int64)
    if cell_cols:
        label = out[cell_cols[0]].astype(str)
        for col in cell_cols[1:]:
            label = label + "\x1f" + out[col].astype(str)
        out["cell"] = label
    else:
        out["cell"] = ""
    for col in ["stratum", "cell", *extra]:
        out[col] = out[col].astype(str).astype("category")
    out["item"] = pd.Categorical(out["item"].astype(str))
    out["answer"] = out["answer"].astype(float)
    out["n"] = out["n"].astype(np.int64)
    if weighted:
        for col in ("w", "w2", "w0"):
            out[col] = out[col].astype(float)
    else:
        out["w"] = out["n"].astype(float)
        out["w2"] = out["w"]
    ordered = [*KEY_COLUMNS, *extra, *VALUE_COLUMNS]
    if design.calibration is not None:
        ordered.append("w0")
    out = out[ordered]
    try:
        validate_counts(
            out,
            calibrated=design.calibration is not None,
            negative_weights=design.calibration is not None and design.calibration.kind == "linear",
        )
    except ValueError as exc:  # a weight table that cancels out in some group
        raise StatisticsQueryError(f"the database count table is not valid: {exc}") from None
    return out
