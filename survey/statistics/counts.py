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

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, false, func, literal, not_, or_, select, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from analysis.counts import (
    KEY_COLUMNS,
    POOLED_PSU,
    RESPONSE_ITEM,
    VALUE_COLUMNS,
    validate_counts,
)
from analysis.design import Design
from analysis.hierarchy import hierarchy_from_form
from analysis.lineage import map_codes
from survey.models import Agency, Counter, Field, Procedure, Response
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
from survey.statistics.fetched import (
    cell_weights,
    counts_from_selection,
    fetch_selection,
    period_of_month,
    unit_codes,
)
from survey.statistics.scores import index_rows
from survey.statistics.statements import answer_rows, pair_rows, response_rows
from survey.statistics.summary import (
    CELLS,
    SummaryPlan,
    cell_counts,
    level_for,
    plan_summary,
    read_cells,
)
from survey.statistics.weights import CellWeights

__all__ = ["SelectionSummary", "build_counts", "select_responses", "summarize_selection"]

Engine_ = Literal["fetch", "sql"]

_RESPONSES = Response.__table__
_AGENCIES = Agency.__table__
_MAX_LISTED = 5
_UNIT_ID = {
    "agency_code": "agency_id",
    "counter_code": "counter_id",
    "field_code": "field_id",
    "procedure_code": "procedure_id",
}
_UNIT_TABLE = {
    "agency_code": Agency.__table__,
    "counter_code": Counter.__table__,
    "field_code": Field.__table__,
    "procedure_code": Procedure.__table__,
}


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


def _flag_present(flag: str, flags: ColumnElement | None = None) -> ColumnElement[bool]:
    """``flag`` is among the ``;``-separated ``flags`` (default: ``responses.flags``)."""
    flags = _RESPONSES.c.flags if flags is None else flags
    stored = literal(";") + func.coalesce(flags, "") + literal(";")
    return stored.contains(f";{flag};", autoescape=True)


def _check_flags(flags: Collection[str]) -> tuple[str, ...]:
    if isinstance(flags, str):
        flags = (flags,)
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise UnknownFlagError(f"unknown quality flag(s) {unknown}; use {list(FLAGS)}")
    return tuple(dict.fromkeys(flags))


def _selection_filters(
    form_id: str,
    since: datetime | None,
    until: datetime | None,
    subtree: Select | None,
) -> list[ColumnElement[bool]]:
    """Form, period (``since`` inclusive, ``until`` exclusive) and agency subtree."""
    filters: list[ColumnElement[bool]] = [_RESPONSES.c.form_id == form_id]
    if since is not None:
        filters.append(_RESPONSES.c.submitted_at >= since)
    if until is not None:
        filters.append(_RESPONSES.c.submitted_at < until)
    if subtree is not None:
        filters.append(_RESPONSES.c.agency_id.in_(subtree))
    return filters


def _subtree_ids(connection: Connection, agency_subtree: str | None) -> Select | None:
    """The ids of an agency and every agency below it (a recursive CTE), or None."""
    if agency_subtree is None:
        return None
    root = select(_AGENCIES.c.id).where(_AGENCIES.c.code == agency_subtree)
    if connection.execute(root).first() is None:
        raise UnknownSubtreeError(f"no agency has the code {agency_subtree!r}")
    tree = root.cte("subtree", recursive=True)
    tree = tree.union_all(select(_AGENCIES.c.id).where(_AGENCIES.c.parent_id == tree.c.id))
    return select(tree.c.id)


def _kept(
    connection: Connection,
    form_id: str,
    since: datetime | None,
    until: datetime | None,
    agency_subtree: str | None,
    flags: tuple[str, ...],
) -> tuple[Select | None, list[ColumnElement[bool]]]:
    """The subtree's ids and the filters of the selection, flagged responses left out."""
    subtree = _subtree_ids(connection, agency_subtree)
    filters = _selection_filters(form_id, since, until, subtree)
    if flags:
        filters.append(not_(or_(*[_flag_present(f) for f in flags])))
    return subtree, filters


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
        _, filters = _kept(connection, form.id, since, until, agency_subtree, ())
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


def select_responses(
    source: Any,
    form: Any,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agency_subtree: str | None = None,
    exclude_flags: Collection[str] = (),
    successors: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The selected responses, one row each (:func:`survey.statistics.fetched.fetch_selection`).

    The arguments mean what they mean for :func:`build_counts`; any count table of the
    selection is then :func:`survey.statistics.fetched.counts_from_selection` of it.
    ``successors`` (``{agency code: code it is reported under}``, e.g.
    :func:`analysis.lineage.attribution`) reports merged units' responses under their
    successor: ``agency_code`` is mapped before any table is built.
    """
    flags = _check_flags(exclude_flags)
    with _connection(source) as connection:
        _subtree, filters = _kept(connection, form.id, since, until, agency_subtree, flags)
        selection = fetch_selection(connection, form, filters)
    if successors:
        selection["agency_code"] = map_codes(selection["agency_code"], successors)
    return selection


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
    use_summary: bool = True,
    engine: Engine_ = "fetch",
) -> pd.DataFrame:
    """Build the count table of ``form``'s stored responses with SQL ``GROUP BY``.

    The result is the table :func:`analysis.counts.counts_from_responses` builds from the wide
    export of the same responses (same rows, ``n``, ``w``, ``w2``, ``w0``); under the default
    design (``psu=None``) it is the pooled form (``psu = "*"``, with the ``_pair:`` rows).
    It is read from the summary of :mod:`survey.statistics.summary` plus the responses the
    summary does not hold, or from the responses alone (no summary of this definition of the
    form, or ``use_summary=False``); ``counts.attrs["source"]`` says which (``"summary"`` or
    ``"raw"``) and ``counts.attrs["source_reason"]`` why.

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
    use_summary : bool
        Read the summary when it serves the form (default); ``False``: the responses only.
    engine : {"fetch", "sql"}
        How the responses (those the summary does not hold) are summed: ``"fetch"`` (default)
        selects one row per response and tabulates it with :mod:`analysis`
        (:mod:`survey.statistics.fetched`; far faster, one row per response on the wire);
        ``"sql"`` sums them in the database (:mod:`survey.statistics.statements`; nothing at
        response level leaves the database except under the default design's row level).
        Both give the same table.

    Returns
    -------
    DataFrame
        The count table (schema in :mod:`analysis.counts`), with ``attrs["source"]`` and
        ``attrs["source_reason"]``.

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
    if engine not in ("fetch", "sql"):
        raise StatisticsQueryError(f"unknown engine {engine!r}; use 'fetch' or 'sql'")
    unknown_versions = sorted(set(index_versions) - {"A", "B"})
    if unknown_versions:
        raise StatisticsQueryError(f"unknown index version(s) {unknown_versions}; use A or B")
    cell_cols = list(cal.cell_columns) if cal else []
    extra = list(dict.fromkeys([*by, *cell_cols]))
    pooled = design.psu is None
    key_names = (["stratum"] if design.strata else []) + ([] if pooled else ["psu"]) + extra
    needed = [c for c in (design.strata, design.psu) if c] + extra
    needed += list(weights.columns) if weights else []
    table = weights.cte() if weights is not None else None
    query = _Query(form, design, key_names, needed, period, weights, table, flags, index_versions)

    with _connection(source) as connection:
        subtree, filters = _kept(connection, form.id, since, until, agency_subtree, flags)
        if use_summary:
            plan = plan_summary(connection, form, since, until)
        else:
            plan = SummaryPlan("raw", "the summary was not asked for (use_summary=False)")
        parts: list[pd.DataFrame] = []
        raw_filters = filters
        if plan.source == "summary":
            table, watermark = _summary_table(connection, query, plan, subtree, extra, cell_cols)
            parts.append(table)
            raw_filters = [*filters, plan.raw_filter(watermark, since, until)]
        try:
            if engine == "fetch":
                parts.append(_fetched(connection, query, raw_filters, by))
            else:
                parts.append(_sql_table(connection, query, raw_filters, extra, cell_cols))
        except NoResponsesError:
            if plan.source != "summary" or parts[0].empty:
                raise
    out = parts[0] if len(parts) == 1 else _added(parts, design, extra, cell_cols)
    out.attrs["source"] = plan.source
    out.attrs["source_reason"] = plan.reason
    if plan.source == "summary":
        out.attrs["source_reason"] += f" (level {level_for(needed)!r})"
    return out


def _sql_table(
    connection: Connection,
    query: _Query,
    filters: list[ColumnElement[bool]],
    extra: list[str],
    cell_cols: list[str],
) -> pd.DataFrame:
    """The count table of the selected responses summed by SQL statements."""
    codes = AnswerCodes.of_form(connection, query.form.id)
    parts = _raw_parts(connection, query, codes, filters)
    frame = _fetch(connection, union_all(*parts))
    if frame.empty:
        raise NoResponsesError(f"no stored response of form {query.form.id!r} matches")
    weighted = query.weights is not None
    if weighted and frame["missing"].sum() > 0:
        dialect = connection.dialect.name
        src, exprs = column_expressions(query.needed, period=query.period, dialect=dialect)
        src, table = query.weight_join(src, exprs)
        raise UnmatchedCellsError(_unmatched(connection, src, filters, exprs, query.weights, table))
    frame = frame.drop(columns="missing", errors="ignore")
    return _assemble([frame], query.design, extra, cell_cols, weighted)


def _summary_table(
    connection: Connection,
    query: _Query,
    plan: SummaryPlan,
    subtree: Select | None,
    extra: list[str],
    cell_cols: list[str],
) -> tuple[pd.DataFrame, int]:
    """The count table of the summary cells the plan serves (empty: no cell selected), and the
    watermark of the cells read."""
    level = level_for(query.needed)
    excluded = [_flag_present(f, CELLS.c.flags) for f in query.flags]
    cells, layout, watermark = read_cells(
        connection, query.form, plan, level, agency_ids=subtree, exclude=excluded
    )
    if cells.empty:
        return pd.DataFrame(), watermark
    frame = _cell_columns(connection, cells.keys, query.needed, query.period)
    weights = None
    if query.weights is not None:
        responses = cells.counts[:, layout.positions(np.array([RESPONSE_ITEM]), np.array([0]))[0]]
        weights = cell_weights(frame, query.weights, responses)
    names = [
        {"stratum": query.design.strata, "psu": query.design.psu}.get(n, n) for n in query.key_names
    ]
    if names:
        group, groups = pd.MultiIndex.from_frame(frame[names]).factorize()
        keys = groups.to_frame(index=False, name=query.key_names)
    else:  # one group: the whole selection
        group, keys = np.zeros(len(cells.keys), dtype=np.int64), pd.DataFrame(index=[0])
    rows = cell_counts(
        cells.keys,
        cells.counts,
        layout,
        group.astype(np.int64),
        weights,
        pooled=query.design.psu is None,
        scores="B" in query.index_versions,
    )
    table = keys.iloc[rows.pop("group").to_numpy()].reset_index(drop=True)
    table = pd.concat([table, rows], axis=1)
    weighted = query.weights is not None
    return _assemble([table], query.design, extra, cell_cols, weighted), watermark


def _cell_columns(
    connection: Connection, keys: pd.DataFrame, needed: Sequence[str], period: Period | None
) -> pd.DataFrame:
    """The :data:`~survey.statistics.COLUMNS` that ``needed`` names, for each summary cell."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(needed):
        if name == "period":
            months = pd.Categorical([f"{m:%Y-%m}" for m in keys["month"]])
            out[name] = period_of_month(pd.Series(months), period or "month")
        elif name in ("channel", "form_version"):
            out[name] = keys[name].astype(str).to_numpy()
        else:
            ids = keys[_UNIT_ID[name]].to_numpy(dtype=np.int64)
            out[name] = unit_codes(connection, _UNIT_TABLE[name], np.where(ids > 0, ids, -1))
    return pd.DataFrame(out)


def _added(
    parts: list[pd.DataFrame], design: Design, extra: list[str], cell_cols: list[str]
) -> pd.DataFrame:
    """Count tables of disjoint responses added up per (keys, item, answer)."""
    tables = [p for p in parts if not p.empty]
    if len(tables) == 1:
        return tables[0]
    keys = [*KEY_COLUMNS, *extra, "item"]
    stacked = pd.concat([t.astype({k: str for k in keys}) for t in tables], ignore_index=True)
    if "w0" not in stacked.columns:  # no calibration: w0 is not part of the table
        stacked["w0"] = stacked["w"]
    summed = stacked.groupby([*keys, "answer"], sort=False, observed=True)[
        ["n", "w", "w2", "w0"]
    ].sum()
    return _assemble([summed.reset_index()], design, extra, cell_cols, weighted=True)


def _fetched(
    connection: Connection,
    query: _Query,
    filters: list[ColumnElement[bool]],
    by: list[str],
) -> pd.DataFrame:
    """The count table from the selected responses fetched once (:mod:`.fetched`)."""
    selection = fetch_selection(connection, query.form, filters)
    return counts_from_selection(
        selection,
        query.form,
        query.design,
        by,
        period=query.period,
        weights=query.weights,
        index_versions=query.index_versions,
    )


@dataclass(frozen=True)
class _Query:
    """What one count table needs, shared by its raw and summary statements."""

    form: Any
    design: Design
    key_names: list[str]
    needed: list[str]
    period: Period | None
    weights: CellWeights | None
    weight_table: Any  # weights.cte(), one object for every statement that joins it
    flags: tuple[str, ...]
    index_versions: Collection[str]

    def key_columns(self, exprs: dict[str, ColumnElement]) -> list[ColumnElement]:
        """The keys as labelled expressions (``stratum``, ``psu``, domains)."""
        design = self.design
        out = []
        for name in self.key_names:
            column = {"stratum": design.strata, "psu": design.psu}.get(name, name)
            out.append(exprs[column].label(name))
        return out

    def weight_join(self, src: Any, exprs: dict[str, ColumnElement]) -> tuple[Any, Any]:
        """``src`` outer-joined to the weight table (``None`` when unweighted)."""
        if self.weights is None:
            return src, None
        table = self.weight_table
        match = [table.c[f"c{i}"] == exprs[c] for i, c in enumerate(self.weights.columns)]
        return src.outerjoin(table, and_(*match)), table


def _raw_parts(
    connection: Connection, query: _Query, codes: AnswerCodes, filters: list[ColumnElement[bool]]
) -> list[Select]:
    """The grouped statements over the selected responses (:mod:`.statements`)."""
    dialect = connection.dialect.name
    src, exprs = column_expressions(query.needed, period=query.period, dialect=dialect)
    src, table = query.weight_join(src, exprs)
    selected = [
        _RESPONSES.c.id.label("rid"),
        _RESPONSES.c.form_version_id.label("layout"),
        _RESPONSES.c.answer_codes.label("codes"),
        *query.key_columns(exprs),
    ]
    if table is not None:
        selected += [table.c.w.label("w"), table.c.w0.label("w0")]
    selection = select(*selected).select_from(src).where(*filters).subquery("sel")
    keys = query.key_names
    weighted = table is not None
    carried = keys + (["w", "w0"] if weighted else [])
    hierarchy = hierarchy_from_form(query.form)
    index = index_rows(
        selection,
        carried,
        hierarchy,
        codes,
        grouped=True,
        scores="B" in query.index_versions,
    ).subquery("index_rows")
    parts = [
        response_rows(selection, keys),
        answer_rows(selection, keys, codes, query.form.item_keys),
        select(*index.c, *([literal(0).label("missing")] if weighted else [])),
    ]
    if query.design.psu is None and len(hierarchy.criteria) > 1:
        parts.append(pair_rows(selection, keys, codes, hierarchy))
    return parts


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
    out["psu"] = out["psu"].astype(str) if design.psu else POOLED_PSU
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
