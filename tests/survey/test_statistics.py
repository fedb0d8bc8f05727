"""The count table by SQL GROUP BY (``survey.statistics``) equals the one the engine builds from
the wide export, on SQLite and PostgreSQL; so do the indices computed from either."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import event, select, text, update

from analysis import Calibration, Design, counts_from_responses, satisfaction_indices
from analysis.frames import period_of
from analysis.weighting import poststratify
from survey.demo import seed_responses, seed_units
from survey.exporting import export_responses
from survey.extensions import db
from survey.models import Agency, Response
from survey.repository import load_form, save_response
from survey.statistics import (
    CellWeights,
    NoResponsesError,
    StatisticsQueryError,
    UnknownColumnError,
    UnknownFlagError,
    UnknownSubtreeError,
    UnmatchedCellsError,
    UnsupportedDesignError,
    build_counts,
    summarize_selection,
)
from survey.submissions import Submission

NOW = datetime(2024, 12, 20, 9, 0, tzinfo=UTC)
N_RESPONSES = 240
SRS = Design()
STRAT_CLUS = Design(strata="agency_code", psu="counter_code", lonely_psu="adjust")
DESIGNS = {"srs": SRS, "strat_clus": STRAT_CLUS}
GROUPINGS = {
    "whole": [],
    "agency": ["agency_code"],
    "field": ["field_code"],
    "month": ["period"],
    "agency_x_field": ["agency_code", "field_code"],
}


def export_frame(tmp_path: Path, **selection: datetime) -> pd.DataFrame:
    """The wide CSV export read back as text, blanks as "" (needs an app context)."""
    path = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        export_responses(stream, "csv", "sipas-counter", **selection)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.assign(period=period_of(frame["submitted_at"], "month"))


@pytest.fixture
def seeded(app: Flask, tmp_path: Path) -> pd.DataFrame:
    """The demo province with synthetic responses, some flagged; returns its export."""
    with app.app_context():
        seed_units(now=NOW)
        seed_responses(N_RESPONSES, random_seed=11, now=NOW)
        ids = db.session.scalars(select(Response.id).order_by(Response.id)).all()
        for rid in ids[::9]:
            db.session.execute(update(Response).where(Response.id == rid).values(flags="honeypot"))
        for rid in ids[4::13]:
            db.session.execute(
                update(Response).where(Response.id == rid).values(flags="too_fast;honeypot")
            )
        db.session.commit()
        return export_frame(tmp_path)


def comparable(counts: pd.DataFrame) -> pd.DataFrame:
    """Sorted, with text keys."""
    out = counts.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(str)
    keys = [c for c in out.columns if c not in ("n", "w", "w2", "w0")]
    return out.sort_values(keys, ignore_index=True)


def assert_same_counts(sql: pd.DataFrame, reference: pd.DataFrame, design: Design) -> None:
    assert list(sql.columns) == list(reference.columns)
    got = comparable(sql)
    want = comparable(reference)
    keys = [c for c in got.columns if c not in ("w", "w2", "w0")]
    pd.testing.assert_frame_equal(got[keys], want[keys], check_dtype=False)
    for col in ("w", "w2", "w0"):
        if col in want.columns:
            np.testing.assert_allclose(got[col], want[col], rtol=1e-12, atol=0)


# Where an SE is 0 in theory (a lonely PSU, a domain fixed by calibration), the two paths may
# round it to 0 and 1e-15 (sums in another order); the engine then switches interval method
# and the design effect is 0/0. Those rows (SE below 1e-6 points and not identical: a variance
# that cancels to ~1e-14 has a square root of ~1e-7) are compared without the columns that depend
# on the SE's rounding error.
_SE_ZERO = 1e-6
_SE_ZERO_SWITCHES = [
    "n_eff",
    "deff",
    "ci_low",
    "ci_high",
    "suppressed",
    "suppression_reason",
    "flags",
    "ci_method",
    "ci_note",
]


def assert_same_indices(sql_result, reference_result, by: list[str]) -> None:
    assert_same_tables(sql_result.table, reference_result.table, by)


def assert_same_tables(got: pd.DataFrame, want: pd.DataFrame, by: list[str]) -> None:
    """Two result tables (group columns ``by``) agree to 1e-10 (see above for SE 0 rows)."""
    order = [*by, "level", "indicator"]
    got = got.astype({c: str for c in by}).sort_values(order, ignore_index=True)
    want = want.astype({c: str for c in by}).sort_values(order, ignore_index=True)
    tiny = (got["se"].abs() <= _SE_ZERO) | (want["se"].abs() <= _SE_ZERO)
    degenerate = tiny & (got["se"] != want["se"])
    assert (got.loc[degenerate, "se"].abs() <= _SE_ZERO).all()
    assert (want.loc[degenerate, "se"].abs() <= _SE_ZERO).all()
    same = {"check_exact": False, "rtol": 1e-10, "atol": 1e-12}
    pd.testing.assert_frame_equal(got[~degenerate], want[~degenerate], **same)
    steady = [c for c in got.columns if c not in (*_SE_ZERO_SWITCHES, "se")]
    pd.testing.assert_frame_equal(got.loc[degenerate, steady], want.loc[degenerate, steady], **same)


@pytest.mark.parametrize("engine", ["fetch", "sql"])
@pytest.mark.parametrize("grouping", list(GROUPINGS))
@pytest.mark.parametrize("design_name", list(DESIGNS))
def test_counts_and_indices_equal_the_export_path(
    app, seeded, design_name, grouping, engine
) -> None:
    design = DESIGNS[design_name]
    by = GROUPINGS[grouping]
    with app.app_context():
        form = load_form("sipas-counter")
        sql = build_counts(db.session, form, design, by, period="month", engine=engine)
    # Under SRS both paths build the pooled form (psu "*", with the _pair: rows).
    reference = counts_from_responses(seeded, form, design, by=by)
    assert_same_counts(sql, reference, design)
    assert sql.attrs["source"] == "raw"
    for version in ("A", "B"):
        assert_same_indices(
            satisfaction_indices(sql, form, design, by=by, version=version),
            satisfaction_indices(reference, form, design, by=by, version=version),
            by,
        )


def test_clustered_counts_are_aggregated_in_the_database(app, seeded) -> None:
    """One grouped SELECT (plus the lookups of the summary state and of the form's answer
    columns); every row it returns is a row of the count table, and there are far fewer of
    them than the stored answers."""
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    with app.app_context():
        form = load_form("sipas-counter")
        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            counts = build_counts(db.session, form, STRAT_CLUS, ["agency_code"], engine="sql")
        finally:
            event.remove(engine, "before_cursor_execute", record)
        stored = db.session.scalars(select(Response.answer_codes)).all()
        n_answers = sum(code is not None for codes in stored for code in codes)
        selects = [(s, p) for s, p in statements if "GROUP BY" in s.upper()]
        others = [s for s, _ in statements if "GROUP BY" not in s.upper()]
        assert len(selects) == 1
        assert len(others) == 2
        assert any("FROM summary_state" in s for s in others)
        assert any("FROM form_versions" in s for s in others)
        connection = db.session.connection()
        fetched = connection.exec_driver_sql(*selects[0]).all()
    assert len(fetched) == len(counts)
    assert counts.loc[counts["item"] == "_response", "n"].sum() == N_RESPONSES
    answered = counts["item"].isin(form.item_keys)
    assert counts.loc[answered, "n"].sum() == n_answers
    long = seeded.melt(["agency_code", "counter_code"], list(form.item_keys), "item", "answer")
    long = long[long["answer"] != ""]
    assert len(long) == n_answers
    groups = len(long.drop_duplicates())  # (stratum, PSU, domain, item, answer) combinations
    assert answered.sum() == groups < n_answers / 2  # answers arrive grouped, not one row each


def test_poststratified_weights_join_in_sql(app, seeded) -> None:
    cells = ("agency_code", "field_code")
    present = seeded[list(cells)].drop_duplicates().sort_values(list(cells), ignore_index=True)
    frame = present.assign(dossiers=100.0 + 37.0 * np.arange(len(present)))
    weighting = poststratify(seeded, frame, cells)
    data = weighting.apply(seeded, "weight")
    table = data.groupby(list(cells), as_index=False)["weight"].agg(["min", "max"])
    assert np.allclose(table["min"], table["max"])  # post-stratified weights: one per cell
    weights = CellWeights.from_frame(table.rename(columns={"max": "weight"}), cells)
    design = Design(weight="weight", calibration=weighting.calibration, psu="counter_code")
    by = ["channel"]  # not a calibration margin: its SEs are not ~0
    with app.app_context():
        form = load_form("sipas-counter")
        sql = build_counts(db.session, form, design, by, weights=weights)
    reference = counts_from_responses(data, form, design, by=by)
    assert "w0" in sql.columns
    assert_same_counts(sql, reference, design)
    assert sql.loc[sql["item"] == "_response", "w"].sum() == pytest.approx(frame["dossiers"].sum())
    assert_same_indices(
        satisfaction_indices(sql, form, design, by=by),
        satisfaction_indices(reference, form, design, by=by),
        by,
    )


def test_fixed_cell_weights_without_calibration(app, seeded) -> None:
    factor = {"counter_qr": 1.0, "dossier_qr": 2.5, "kiosk": 4.0, "api": 3.0, "portal": 1.5}
    weights = CellWeights(("channel",), factor)
    data = seeded.assign(weight=seeded["channel"].map(factor))
    design = Design(weight="weight", strata="agency_code", psu="counter_code", lonely_psu="remove")
    with app.app_context():
        form = load_form("sipas-counter")
        sql = build_counts(db.session, form, design, ["field_code"], weights=weights)
    reference = counts_from_responses(data, form, design, by=["field_code"])
    assert "w0" not in sql.columns
    assert_same_counts(sql, reference, design)


def test_unmatched_cells_are_named(app, seeded) -> None:
    weights = CellWeights(
        ("channel",), {"counter_qr": 1.0, "kiosk": 2.0, "api": 1.0, "portal": 1.0}
    )
    missing = int((seeded["channel"] == "dossier_qr").sum())
    with app.app_context():
        form = load_form("sipas-counter")
        with pytest.raises(UnmatchedCellsError, match=rf"{missing} response\(s\).*dossier_qr"):
            build_counts(db.session, form, Design(weight="w"), weights=weights)


def subtree_codes(root: str) -> set[str]:
    """Codes of ``root`` and every agency below it (walked in Python, app context)."""
    rows = db.session.execute(select(Agency.id, Agency.code, Agency.parent_id)).all()
    codes = {r.id: r.code for r in rows}
    inside = {r.id for r in rows if r.code == root}
    while True:
        more = {r.id for r in rows if r.parent_id in inside} - inside
        if not more:
            return {codes[i] for i in inside}
        inside |= more


@pytest.mark.parametrize("root", ["STNMT", "DEMO", "STP"])
def test_agency_subtree(app, seeded, root) -> None:
    with app.app_context():
        form = load_form("sipas-counter")
        codes = subtree_codes(root)
        sql = build_counts(db.session, form, STRAT_CLUS, ["agency_code"], agency_subtree=root)
    data = seeded[seeded["agency_code"].isin(codes)]
    assert len(data) > 0
    assert_same_counts(
        sql, counts_from_responses(data, form, STRAT_CLUS, by=["agency_code"]), STRAT_CLUS
    )


def test_period_and_flags_selection(app, seeded, tmp_path) -> None:
    since, until = NOW - timedelta(days=150), NOW - timedelta(days=40)
    excluded = ("honeypot",)
    with app.app_context():
        form = load_form("sipas-counter")
        window = export_frame(tmp_path, since=since, until=until)
        sql = build_counts(
            db.session, form, SRS, ["channel"], since=since, until=until, exclude_flags=excluded
        )
        summary = summarize_selection(
            db.session, form, since=since, until=until, exclude_flags=excluded
        )
    flagged = window["flags"].str.split(";").apply(lambda f: "honeypot" in f).astype(bool)
    kept = window[~flagged]
    assert 0 < len(kept) < len(window) < N_RESPONSES
    reference = counts_from_responses(kept, form, SRS, by=["channel"])
    assert_same_counts(sql, reference, SRS)
    assert summary.selected == len(window)
    assert summary.excluded == int(flagged.sum())
    assert summary.analysed == len(kept)
    too_fast = window["flags"].str.contains("too_fast").sum()
    assert summary.flagged == {
        "too_fast": too_fast,
        "straightlining": window["flags"].str.contains("straightlining").sum(),
        "honeypot": int(flagged.sum()),
        "empty": window["flags"].str.contains("empty").sum(),
    }


def test_summary_without_exclusions_counts_flags_only(app, seeded) -> None:
    with app.app_context():
        summary = summarize_selection(db.session, load_form("sipas-counter"))
    assert (summary.selected, summary.excluded, summary.analysed) == (N_RESPONSES, 0, N_RESPONSES)
    assert summary.flagged["honeypot"] == seeded["flags"].str.contains("honeypot").sum() > 0


BOUNDARIES = [
    datetime(2024, 3, 31, 23, 30, tzinfo=UTC),
    datetime(2024, 4, 1, 0, 10, tzinfo=UTC),
    datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 7, 1, 0, 0, 0, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
]


@pytest.mark.parametrize("granularity", ["month", "quarter", "half", "year"])
def test_periods_are_utc_calendar_periods(app, make_counter, granularity) -> None:
    """Labels as analysis.frames.period_of gives them, at the edges of periods, even when the
    PostgreSQL session runs in Vietnam's time zone."""
    make_counter("Q1")
    with app.app_context():
        form = load_form("sipas-counter")
        for i, moment in enumerate(BOUNDARIES):
            sub = Submission(
                uuid=uuid.UUID(int=i + 1),
                form_id=form.id,
                form_version=form.version,
                answers={"e1_1": 4},
                counter_code="Q1",
                channel="counter_qr",
            )
            save_response(sub, now=moment)
        if db.session.connection().dialect.name == "postgresql":
            db.session.execute(text("SET TIME ZONE 'Asia/Ho_Chi_Minh'"))
        counts = build_counts(db.session, form, by=["period"], period=granularity)
    rows = counts[counts["item"] == "_response"]
    expected = period_of(pd.Series([m.isoformat() for m in BOUNDARIES]), granularity)
    got = dict(zip(rows["period"].astype(str), rows["n"], strict=True))
    assert got == expected.value_counts().to_dict()


def test_errors_are_clear(app, seeded) -> None:
    with app.app_context():
        form = load_form("sipas-counter")
        s = db.session
        with pytest.raises(UnknownColumnError, match="cannot provide.*'procedure'"):
            build_counts(s, form, by=["procedure"])
        with pytest.raises(UnknownColumnError, match="needs a granularity"):
            build_counts(s, form, by=["period"])
        with pytest.raises(UnknownColumnError, match="unknown period 'week'"):
            build_counts(s, form, by=["period"], period="week")  # type: ignore[arg-type]
        with pytest.raises(UnsupportedDesignError, match="no fpc column"):
            build_counts(s, form, Design(fpc="fpc"))
        with pytest.raises(UnsupportedDesignError, match="no weight column 'w'"):
            build_counts(s, form, Design(weight="w"))
        cal = Calibration("poststratify", ("agency_code",), None, "w0")
        with pytest.raises(UnsupportedDesignError, match="not the calibration cells"):
            build_counts(
                s,
                form,
                Design(weight="w", calibration=cal),
                weights=CellWeights(("channel",), {"kiosk": 1.0}),
            )
        with pytest.raises(UnknownFlagError, match="'spam'"):
            build_counts(s, form, exclude_flags=("spam",))
        with pytest.raises(UnknownSubtreeError, match="'NOPE'"):
            build_counts(s, form, agency_subtree="NOPE")
        with pytest.raises(NoResponsesError, match="sipas-counter"):
            build_counts(s, form, until=NOW - timedelta(days=4000))
    assert issubclass(StatisticsQueryError, ValueError)


@pytest.mark.parametrize(
    ("columns", "table", "message"),
    [
        ((), {"a": 1.0}, "at least one cell column"),
        (("nope",), {"a": 1.0}, "unknown cell column"),
        (("channel",), {}, "table is empty"),
        (("channel",), {("a", "b"): 1.0}, "one code per column"),
        (("channel",), {"a": float("nan")}, "finite and non-zero"),
        (("channel",), {"a": 0.0}, "finite and non-zero"),
    ],
)
def test_cell_weights_are_checked(columns, table, message) -> None:
    with pytest.raises(StatisticsQueryError, match=message):
        CellWeights(columns, table)


def test_cell_weights_base_weights_must_be_positive_and_complete() -> None:
    with pytest.raises(StatisticsQueryError, match="finite and positive"):
        CellWeights(("channel",), {"a": 1.0}, {"a": -1.0})
    with pytest.raises(StatisticsQueryError, match="no base weight"):
        CellWeights(("channel",), {"a": 1.0, "b": 2.0}, {"a": 1.0})
    frame = pd.DataFrame({"channel": ["a", "a"], "weight": [1.0, 2.0]})
    with pytest.raises(StatisticsQueryError, match="more than once"):
        CellWeights.from_frame(frame, ("channel",))
    ok = CellWeights.from_frame(frame.iloc[:1].assign(w0=3.0), ("channel",), base_weight="w0")
    assert ok.weights == {("a",): 1.0} and ok.base_weights == {("a",): 3.0}
