"""The summary of sufficient statistics: the pooled count table kept in the database.

Every estimator of :mod:`analysis` reads additive sums, so the responses can be summed once
and the sums added up again for any report. The summary holds the rows of the pooled count
table (:mod:`analysis.counts`, unweighted: ``n`` only) at the grain

    form × month × agency × counter × field × procedure × channel × form version × flags
    × item × answer

(``month``: first day of the UTC calendar month of ``submitted_at``; ``0`` for a missing
counter, field or procedure): ``_response``, answer, ``_answered:`` and ``_score:`` rows in
``summary_counts``, ``_pair:`` rows in ``summary_pairs``. ``summary_months`` keeps the number
of responses per month and the sum of their ids, ``summary_state`` the definition of the form
(a hash of its item keys and aggregation tree) and the *watermark*: the highest response id
summed. Both row tables also hold roll-ups (:data:`LEVELS`: month × agency × flags, and with
field or counter; ``form_version = -1`` and the dropped unit columns ``-1``, channel ``*``); a
read takes the smallest level that provides its columns (:func:`level_for`). Every design and
``by`` column of :data:`survey.statistics.COLUMNS` is a function of the grain, and weights
are constant per weighting cell, so a count table is

.. math::

    n_{g} = \\sum_{c \\in g} n_c,\\quad w_g = \\sum_{c} n_c\\,\\omega_c,\\quad
    w_{2,g} = \\sum_{c} n_c\\,\\omega_c^2,\\quad w_{0,g} = \\sum_c n_c\\,\\omega^0_c

over the summary rows :math:`c` of each group :math:`g` (:math:`\\omega_c` the weight of the
row's cell). :func:`survey.statistics.build_counts` adds to it, in the same statement, the
responses the summary does not hold: ids above the watermark and responses in the partial
months at the ends of ``since``/``until``.

Maintenance (:func:`rebuild`, :func:`refresh`; ``sipas aggregates rebuild|refresh``): a
refresh sums the responses above the watermark into the grain (``INSERT … ON CONFLICT DO
UPDATE n = n + excluded.n``), and first re-sums the months whose responses changed below the
watermark (deleted, or committed after a higher id): their count or id sum differs from
``summary_months``. A new definition of the form rebuilds its summary. Each runs in one
transaction behind a lock (``pg_advisory_xact_lock`` on PostgreSQL; on SQLite the first
statement is a write, which takes the database's write lock), so concurrent runs wait for
each other and a crash leaves the previous state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from analysis.hierarchy import Hierarchy, hierarchy_from_form
from survey.models import (
    FormVersion,
    Response,
    SummaryCount,
    SummaryMonth,
    SummaryPair,
    SummaryState,
)
from survey.statistics.answer_codes import AnswerCodes
from survey.statistics.scores import index_rows
from survey.statistics.statements import answer_rows, pair_rows, response_rows

__all__ = [
    "COUNTS",
    "LEVELS",
    "PAIRS",
    "RefreshResult",
    "SummaryPlan",
    "definition_of",
    "forget_before",
    "level_for",
    "level_rows",
    "month_start",
    "months_before",
    "plan_summary",
    "rebuild",
    "refresh",
    "summarised_forms",
    "summary_status",
]

COUNTS = SummaryCount.__table__
PAIRS = SummaryPair.__table__
MONTHS = SummaryMonth.__table__
STATE = SummaryState.__table__
_RESPONSES = Response.__table__
_LOCK_KEY = 0x5195A5  # pg_advisory_xact_lock key of summary maintenance
# Selection key -> summary column.
_GRAIN = {
    "month": "month",
    "agency_id": "agency_id",
    "counter_id": "counter_id",
    "field_id": "field_id",
    "procedure_id": "procedure_id",
    "channel": "channel",
    "version": "form_version",
    "flags": "flags",
}
# The levels of the summary: the full grain, and roll-ups that keep fewer unit columns (the
# others hold the constants of _ROLLED_UP; form_version = -1 marks every rolled-up row). The
# overview and unit pages read the roll-ups, other designs and domains the full grain.
LEVELS: dict[str, tuple[str, ...]] = {
    "full": tuple(_GRAIN),
    "agency": ("month", "agency_id", "flags"),
    "field": ("month", "agency_id", "field_id", "flags"),
    "counter": ("month", "agency_id", "counter_id", "flags"),
}
_ROLLED_UP: dict[str, int | str] = {
    "counter_id": -1,
    "field_id": -1,
    "procedure_id": -1,
    "channel": "*",
    "version": -1,
}
# Column of survey.statistics.COLUMNS -> grain key that provides it.
_DIMENSION = {
    "agency_code": "agency_id",
    "counter_code": "counter_id",
    "field_code": "field_id",
    "procedure_code": "procedure_id",
    "channel": "channel",
    "form_version": "version",
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
    """

    source: str
    reason: str
    start: date | None = None
    stop: date | None = None

    def summary_filters(self, table: Any) -> list[ColumnElement[bool]]:
        """The months of ``table`` (a summary table) that the summary serves."""
        out = []
        if self.start is not None:
            out.append(table.c.month >= self.start)
        if self.stop is not None:
            out.append(table.c.month < self.stop)
        return out

    def raw_filter(self, form_id: str) -> ColumnElement[bool]:
        """The responses the summary does not hold: above the watermark or in partial months."""
        watermark = select(STATE.c.watermark).where(STATE.c.form_id == form_id).scalar_subquery()
        outside = [_RESPONSES.c.id > watermark]
        if self.start is not None:
            outside.append(_RESPONSES.c.submitted_at < _midnight(self.start))
        if self.stop is not None:
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
    )


def summary_status(connection: Connection) -> list[dict[str, Any]]:
    """Per summarised form: definition, watermark, rows, and when built and refreshed."""
    rows = connection.execute(select(STATE).order_by(STATE.c.form_id)).mappings().all()
    out = []
    for row in rows:
        counts = connection.execute(
            select(func.count()).where(COUNTS.c.form_id == row["form_id"])
        ).scalar_one()
        pairs = connection.execute(
            select(func.count()).where(PAIRS.c.form_id == row["form_id"])
        ).scalar_one()
        out.append({**row, "count_rows": int(counts), "pair_rows": int(pairs)})
    return out


def _lock(connection: Connection, form_id: str) -> None:
    """Serialise maintenance: the transaction's first statement takes the lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    else:  # a write takes SQLite's write lock (waits for busy_timeout)
        connection.execute(
            STATE.update().where(STATE.c.form_id == form_id).values(form_id=STATE.c.form_id)
        )


def _upsert(
    connection: Connection,
    table: Any,
    names: list[str],
    rows: Select,
    keys: list[str],
    added: list[str],
) -> None:
    insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)
    source = rows.subquery("summed")
    # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT (parsing ambiguity with ON).
    statement = insert.from_select(names, select(*source.c).where(true()))
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: table.c[c] + statement.excluded[c] for c in added},
    )
    connection.execute(statement)


def _add(
    connection: Connection,
    form: Any,
    hierarchy: Hierarchy,
    codes: AnswerCodes,
    filters: Sequence[ColumnElement[bool]],
    level: str = "full",
) -> None:
    """Add the responses matching ``filters`` to the summary rows of ``level`` (and, for the
    full grain, to ``summary_months``)."""
    dialect = connection.dialect.name
    r = _RESPONSES.c
    grain: dict[str, ColumnElement] = {
        "month": month_start(r.submitted_at, dialect),
        "agency_id": r.agency_id,
        "counter_id": func.coalesce(r.counter_id, 0),
        "field_id": func.coalesce(r.field_id, 0),
        "procedure_id": func.coalesce(r.procedure_id, 0),
        "channel": r.channel,
        "version": r.form_version,
        "flags": func.coalesce(r.flags, ""),
    }
    keys = list(LEVELS[level])
    selection = (
        select(
            r.id.label("rid"),
            r.form_version_id.label("layout"),
            r.answer_codes.label("codes"),
            *[grain[k].label(k) for k in keys],
        )
        .where(r.form_id == form.id, *filters)
        .subquery("summary_selection")
    )
    statements = [
        (
            COUNTS,
            union_all(
                response_rows(selection, keys),
                answer_rows(selection, keys, codes, form.item_keys),
                index_rows(selection, keys, hierarchy, codes, grouped=True, scores=True),
            ),
        )
    ]
    if len(hierarchy.criteria) > 1:
        statements.append((PAIRS, pair_rows(selection, keys, codes, hierarchy)))
    unique = ["form_id", *_GRAIN.values(), "item", "answer"]
    for table, statement in statements:
        summed = statement.subquery("summed_rows")
        rows = select(
            literal(form.id).label("form_id"),
            *[_grain_value(summed, k, keys) for k in _GRAIN],
            summed.c.item,
            summed.c.answer,
            summed.c.n,
        )
        _upsert(connection, table, [*unique, "n"], rows, unique, ["n"])
    if level != "full":
        return
    month = grain["month"]
    per_month = (
        select(
            literal(form.id).label("form_id"), month.label("month"), func.count(), func.sum(r.id)
        )
        .where(r.form_id == form.id, *filters)
        .group_by(month)
    )
    names = ["form_id", "month", "responses", "id_sum"]
    _upsert(connection, MONTHS, names, per_month, ["form_id", "month"], ["responses", "id_sum"])


def _grain_value(rows: Any, key: str, kept: Sequence[str]) -> ColumnElement:
    """A grain column of ``rows``, or the constant of a level that leaves it out."""
    if key in kept:
        return rows.c[key]
    value = _ROLLED_UP[key]
    return literal(value, String if isinstance(value, str) else Integer)


def _roll_up(connection: Connection, form_id: str, months: Sequence[date] | None) -> None:
    """Add the rolled-up levels of ``months`` (all: None) from the full-grain rows."""
    for table in (COUNTS, PAIRS):
        where = [table.c.form_id == form_id, table.c.form_version != _ROLLED_UP["version"]]
        if months is not None:
            where.append(table.c.month.in_(list(months)))
        for level, kept in LEVELS.items():
            if level == "full":
                continue
            columns = [
                table.c[_GRAIN[k]] if k in kept else _grain_value(None, k, kept) for k in _GRAIN
            ]
            grouped = [table.c[_GRAIN[k]] for k in _GRAIN if k in kept]
            rows = (
                select(
                    table.c.form_id,
                    *columns,
                    table.c.item,
                    table.c.answer,
                    func.sum(table.c.n),
                )
                .where(*where)
                .group_by(table.c.form_id, *grouped, table.c.item, table.c.answer)
            )
            unique = ["form_id", *_GRAIN.values(), "item", "answer"]
            _upsert(connection, table, [*unique, "n"], rows, unique, ["n"])


def level_rows(table: Any, level: str) -> list[ColumnElement[bool]]:
    """The rows of one level in a summary table."""
    rolled = table.c.form_version == _ROLLED_UP["version"]
    if level == "full":
        return [~rolled]
    counter = table.c.counter_id == _ROLLED_UP["counter_id"]
    field = table.c.field_id == _ROLLED_UP["field_id"]
    return {
        "agency": [rolled, counter, field],
        "field": [rolled, counter, ~field],
        "counter": [rolled, ~counter, field],
    }[level]


def level_for(columns: Sequence[str]) -> str:
    """The smallest level whose grain provides ``columns`` (names of ``COLUMNS``)."""
    dims = {_DIMENSION[c] for c in columns}
    for level in ("agency", "field", "counter"):
        if dims <= set(LEVELS[level]):
            return level
    return "full"


def _max_id(connection: Connection, form_id: str) -> int:
    top = connection.execute(
        select(func.max(_RESPONSES.c.id)).where(_RESPONSES.c.form_id == form_id)
    )
    return int(top.scalar_one() or 0)


def _delete(connection: Connection, form_id: str, months: Sequence[date] | None = None) -> None:
    for table in (COUNTS, PAIRS, MONTHS):
        where = [table.c.form_id == form_id]
        if months is not None:
            where.append(table.c.month.in_(list(months)))
        connection.execute(delete(table).where(*where))


def _save_state(connection: Connection, form: Any, watermark: int, *, built: bool) -> None:
    now = datetime.now(UTC)
    values = {"definition": definition_of(form), "watermark": watermark, "refreshed_at": now}
    if built:
        values["built_at"] = now
    exists = connection.execute(select(STATE.c.form_id).where(STATE.c.form_id == form.id)).first()
    if exists is None:
        connection.execute(STATE.insert().values(form_id=form.id, **{"built_at": now, **values}))
    else:
        connection.execute(STATE.update().where(STATE.c.form_id == form.id).values(**values))


def _rebuild_locked(connection: Connection, form: Any) -> int:
    watermark = _max_id(connection, form.id)
    _delete(connection, form.id)
    codes = AnswerCodes.of_form(connection, form.id)
    _add(connection, form, hierarchy_from_form(form), codes, [_RESPONSES.c.id <= watermark])
    _roll_up(connection, form.id, None)
    _save_state(connection, form, watermark, built=True)
    return watermark


def rebuild(connection: Connection, form: Any) -> int:
    """Replace the summary of ``form`` by the sums of all its stored responses.

    Run inside a transaction (``engine.begin()``); returns the new watermark.
    """
    _lock(connection, form.id)
    return _rebuild_locked(connection, form)


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
    """

    rebuilt: bool
    added: int
    months: tuple[date, ...]
    watermark: int


def refresh(connection: Connection, form: Any) -> RefreshResult:
    """Bring the summary of ``form`` up to date (module docstring); inside a transaction."""
    _lock(connection, form.id)
    state = connection.execute(
        select(STATE.c.definition, STATE.c.watermark).where(STATE.c.form_id == form.id)
    ).first()
    if state is None or state.definition != definition_of(form):
        watermark = _rebuild_locked(connection, form)
        return RefreshResult(True, 0, (), watermark)
    old = int(state.watermark)
    r = _RESPONSES.c
    codes = AnswerCodes.of_form(connection, form.id)
    hierarchy = hierarchy_from_form(form)
    changed = _changed_months(connection, form.id, old)
    if changed:
        _delete(connection, form.id, changed)
        month = month_start(r.submitted_at, connection.dialect.name)
        _add(connection, form, hierarchy, codes, [r.id <= old, month.in_(changed)])
        _roll_up(connection, form.id, changed)
    new = max(_max_id(connection, form.id), old)
    added = connection.execute(
        select(func.count()).where(r.form_id == form.id, r.id > old, r.id <= new)
    ).scalar_one()
    if added:
        for level in LEVELS:
            _add(connection, form, hierarchy, codes, [r.id > old, r.id <= new], level)
    _save_state(connection, form, new, built=False)
    return RefreshResult(False, int(added), tuple(changed), new)


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
    """Remove every summary row of the months before ``month`` (the first day of a month),
    after their responses were deleted (``sipas retention apply``); inside a transaction, behind
    the maintenance lock. The rest of the summary is untouched and stays exact: whole months
    go, with the responses they summed. Returns the form × month rows removed."""
    _lock(connection, "")
    removed = months_before(connection, month)
    for table in (COUNTS, PAIRS, MONTHS):
        connection.execute(delete(table).where(table.c.month < month))
    return removed


def summarised_forms(connection: Connection) -> list[str]:
    """Form ids with a recorded version (those ``sipas aggregates`` maintains)."""
    rows = connection.execute(select(FormVersion.form_id).distinct().order_by(FormVersion.form_id))
    return [row[0] for row in rows]
