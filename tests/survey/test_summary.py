"""The summary of sufficient statistics (``survey.statistics.summary``): count tables read from
it equal those built from the responses, for the designs and filters the reports offer, and
stay equal as responses are added, deleted or committed late (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update

from analysis import Design, satisfaction_indices
from survey.demo import seed_responses
from survey.extensions import db
from survey.models import Response, SummaryCell, SummaryState
from survey.repository import load_form
from survey.statistics import CellWeights, NoResponsesError, build_counts
from survey.statistics.summary import definition_of, level_for, rebuild, refresh
from tests.survey import test_statistics as base
from tests.survey.test_statistics import (
    N_RESPONSES,
    NOW,
    assert_same_counts,
    assert_same_indices,
    assert_same_tables,
)

seeded = base.seeded  # the demo province, synthetic responses, some flagged

DESIGNS = {
    "default": Design(strata="agency_code"),
    "srs": Design(),
    "clustered": Design(strata="agency_code", psu="counter_code", lonely_psu="adjust"),
    "psu_only": Design(psu="counter_code"),
}
# The groupings of the overview and unit pages, with the extra domain columns they filter on.
GROUPINGS = [
    ["agency_code"],
    ["agency_code", "period"],
    ["agency_code", "field_code"],
    ["agency_code", "counter_code"],
    ["field_code"],
    ["agency_code", "channel", "form_version"],
]


def both(form, design, by, **options):
    """The count table from the summary and from the responses only."""
    summary = build_counts(db.session, form, design, by, **options)
    raw = build_counts(db.session, form, design, by, use_summary=False, **options)
    return summary, raw


def assert_same(form, design, by, **options) -> None:
    summary, raw = both(form, design, by, **options)
    assert summary.attrs["source"] == "summary", summary.attrs
    assert raw.attrs["source"] == "raw"
    assert_same_counts(summary, raw, design)
    groups = [c for c in by if c not in ("channel", "form_version")]
    for version in ("A", "B"):
        assert_same_indices(
            satisfaction_indices(summary, form, design, by=groups, version=version),
            satisfaction_indices(raw, form, design, by=groups, version=version),
            groups,
        )


def build(app) -> int:
    with app.app_context(), db.engine.begin() as connection:
        return rebuild(connection, load_form("sipas-counter"))


def refreshed(app):
    with app.app_context(), db.engine.begin() as connection:
        return refresh(connection, load_form("sipas-counter"))


@pytest.mark.parametrize("design_name", list(DESIGNS))
def test_report_groupings_equal_the_raw_path(app, seeded, design_name) -> None:
    assert build(app) > 0
    design = DESIGNS[design_name]
    with app.app_context():
        form = load_form("sipas-counter")
        for by in GROUPINGS:
            assert_same(form, design, by, period="month")
        assert_same(form, design, ["agency_code", "period"], period="quarter")
        assert_same(form, design, ["period"], period="year")


def test_poststratified_weights_apply_per_cell(app, seeded) -> None:
    cells = ("agency_code", "field_code")
    present = seeded[list(cells)].drop_duplicates().reset_index(drop=True)
    weight = 1.0 + 0.37 * np.arange(len(present))
    table = present.assign(weight=weight, base=2.0)
    weights = CellWeights.from_frame(table, cells, base_weight="base")
    design = Design(strata="agency_code", weight="weight")
    build(app)
    with app.app_context():
        form = load_form("sipas-counter")
        for by in (["agency_code"], ["agency_code", "period"], ["field_code"]):
            assert_same(form, design, by, weights=weights, period="month")
        clustered = Design(
            strata="agency_code", psu="counter_code", weight="weight", lonely_psu="adjust"
        )
        assert_same(form, clustered, ["agency_code"], weights=weights)


months = st.integers(min_value=0, max_value=14)
moments = st.one_of(
    st.none(),
    months.map(lambda m: datetime(2023, 11, 1, tzinfo=UTC) + timedelta(days=31 * m)),
    st.integers(0, 420 * 24).map(lambda h: datetime(2023, 11, 1, tzinfo=UTC) + timedelta(hours=h)),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    design_name=st.sampled_from(list(DESIGNS)),
    by=st.sampled_from(GROUPINGS),
    since=moments,
    until=moments,
    subtree=st.sampled_from([None, "DEMO", "STP", "STNMT"]),
    flags=st.sets(st.sampled_from(["too_fast", "straightlining", "honeypot"])),
)
def test_random_filters_equal_the_raw_path(
    app, seeded, design_name, by, since, until, subtree, flags
) -> None:
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(SummaryState)) == 0:
            build(app)
        form = load_form("sipas-counter")
        options = {
            "period": "month",
            "since": since,
            "until": until,
            "agency_subtree": subtree,
            "exclude_flags": tuple(sorted(flags)),
        }
        try:
            summary, raw = both(form, DESIGNS[design_name], by, **options)
        except NoResponsesError:
            with pytest.raises(NoResponsesError):
                build_counts(db.session, form, DESIGNS[design_name], by, **options)
            return
    if summary.attrs["source"] == "raw":  # a period without a whole calendar month
        assert summary.attrs["source_reason"] == "the period holds no whole calendar month"
    assert_same_counts(summary, raw, DESIGNS[design_name])


def test_tail_is_read_until_a_refresh_adds_it(app, seeded) -> None:
    watermark = build(app)
    design = DESIGNS["default"]
    with app.app_context():
        form = load_form("sipas-counter")
        added = seed_responses(37, random_seed=5, now=NOW + timedelta(days=20))
        summary, raw = both(form, design, ["agency_code", "period"], period="month")
        assert_same_counts(summary, raw, design)  # the tail merged on read
        assert raw.loc[raw["item"] == "_response", "n"].sum() == N_RESPONSES + added
    result = refreshed(app)
    assert (result.rebuilt, result.added, result.months) == (False, added, ())
    assert result.watermark > watermark
    with app.app_context():
        assert_same(form, design, ["agency_code", "period"], period="month")
        assert refreshed(app).added == 0


def test_deleted_and_late_responses_resum_their_months(app, seeded) -> None:
    with app.app_context():
        ids = db.session.scalars(select(Response.id).order_by(Response.id)).all()
        late = db.session.execute(select(Response).where(Response.id == ids[10])).scalar_one()
        row = {c.name: getattr(late, c.key) for c in Response.__table__.columns}
        db.session.execute(delete(Response).where(Response.id == ids[10]))
        db.session.commit()
    build(app)
    with app.app_context():
        # Retention deletes old responses; a transaction with a lower id commits late.
        old = db.session.scalars(select(Response.id).order_by(Response.submitted_at).limit(15))
        db.session.execute(delete(Response).where(Response.id.in_(list(old))))
        db.session.execute(insert(Response), [row])
        db.session.commit()
    result = refreshed(app)
    assert result.added == 0 and len(result.months) >= 1
    with app.app_context():
        form = load_form("sipas-counter")
        for design in (DESIGNS["default"], DESIGNS["clustered"]):
            assert_same(form, design, ["agency_code", "period"], period="month")


def test_another_definition_reads_the_responses_until_rebuilt(app, seeded) -> None:
    build(app)
    with app.app_context():
        db.session.execute(update(SummaryState).values(definition="0" * 64))
        db.session.commit()
        form = load_form("sipas-counter")
        counts = build_counts(db.session, form, DESIGNS["default"], ["agency_code"])
    assert counts.attrs["source"] == "raw"
    assert "another definition" in counts.attrs["source_reason"]
    assert refreshed(app).rebuilt
    with app.app_context():
        state = db.session.execute(select(SummaryState)).scalar_one()
        assert state.definition == definition_of(form)
        assert build_counts(db.session, form).attrs["source"] == "summary"


def test_without_summary_the_responses_are_read(app, seeded) -> None:
    with app.app_context():
        counts = build_counts(db.session, load_form("sipas-counter"), by=["agency_code"])
    assert counts.attrs["source"] == "raw"
    assert "sipas aggregates rebuild" in counts.attrs["source_reason"]


def test_concurrent_refreshes_add_the_tail_once(app, seeded) -> None:
    build(app)
    with app.app_context():
        seed_responses(25, random_seed=6, now=NOW)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(refreshed(app))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.added for r in results) == [0, 0, 25]
    with app.app_context():
        form = load_form("sipas-counter")
        assert_same(form, DESIGNS["default"], ["agency_code"])
        assert_same(form, DESIGNS["clustered"], ["agency_code"])


def test_a_failed_refresh_leaves_the_previous_summary(app, seeded) -> None:
    build(app)
    with app.app_context():
        before = db.session.scalar(select(func.sum(SummaryCell.responses)))
        cells = db.session.scalar(select(func.count()).select_from(SummaryCell))
        seed_responses(10, random_seed=7, now=NOW)
        with pytest.raises(RuntimeError), db.engine.begin() as connection:
            refresh(connection, load_form("sipas-counter"))
            raise RuntimeError("crash after the refresh's statements, before its commit")
        assert db.session.scalar(select(func.sum(SummaryCell.responses))) == before
        assert db.session.scalar(select(func.count()).select_from(SummaryCell)) == cells
    assert refreshed(app).added == 10


def test_aggregates_cli(runner, seeded, tmp_path) -> None:
    result = runner.invoke(["aggregates", "refresh"])
    assert result.exit_code == 0, result.output
    assert "sipas-counter: rebuilt (no summary of this definition yet)" in result.output
    result = runner.invoke(["aggregates", "rebuild", "--form", "sipas-counter"])
    assert result.exit_code == 0, result.output
    assert "sipas-counter: rebuilt up to response id" in result.output
    result = runner.invoke(["aggregates", "status"])
    assert result.exit_code == 0 and " cells" in result.output, result.output
    options = ["analyze-db", "--form", "sipas-counter", "--by", "agency_code"]
    result = runner.invoke([*options, "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 0, result.output
    assert "Count table from the summary" in result.output
    result = runner.invoke([*options, "--raw", "--out", str(tmp_path / "b.csv")])
    assert "Count table from the stored responses (raw path" in result.output
    got, want = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(got) > 0
    assert_same_tables(got, want, ["agency_code"])


@pytest.mark.parametrize(
    ("columns", "level"),
    [
        (["agency_code", "period"], "agency"),
        (["agency_code", "field_code"], "field"),
        (["agency_code", "counter_code", "period"], "counter"),
        (["field_code", "counter_code"], "full"),
        (["agency_code", "channel"], "full"),
        (["form_version"], "full"),
        (["procedure_code"], "full"),
    ],
)
def test_reads_take_the_smallest_level_that_provides_the_columns(columns, level) -> None:
    assert level_for(columns) == level


def test_readyz_says_how_far_each_summary_is_behind(app, seeded) -> None:
    client = app.test_client()
    assert client.get("/readyz").json["aggregates"] == []  # no summary yet
    build(app)
    ready = client.get("/readyz").json
    assert ready["status"] == "ready"
    (summary,) = ready["aggregates"]
    assert summary["form"] == "sipas-counter" and summary["behind"] == 0
    assert summary["refreshed_at"]
    with app.app_context():
        added = seed_responses(5, random_seed=9, now=NOW + timedelta(days=3))
    assert client.get("/readyz").json["aggregates"][0]["behind"] == added
    refreshed(app)
    assert client.get("/readyz").json["aggregates"][0]["behind"] == 0


def test_a_stepwise_refresh_equals_the_responses(app, seeded) -> None:
    from survey.statistics.summary import refresh_in_steps

    with app.app_context():
        form = load_form("sipas-counter")
        first = refresh_in_steps(db.engine, form)
        assert first.rebuilt and not first.skipped
        added = seed_responses(19, random_seed=8, now=NOW + timedelta(days=3))
        again = refresh_in_steps(db.engine, form)
        assert (again.rebuilt, again.added, again.skipped) == (False, added, False)
        for design in (DESIGNS["default"], DESIGNS["clustered"]):
            assert_same(form, design, ["agency_code", "period"], period="month")


def test_a_stepwise_refresh_that_lost_the_race_writes_nothing(app, seeded, monkeypatch) -> None:
    from survey.statistics import summary as summary_module

    build(app)
    with app.app_context():
        form = load_form("sipas-counter")
        seed_responses(11, random_seed=9, now=NOW)
        collect = summary_module._collect

        def racing(*args, **kwargs):  # another refresher commits while this one reads
            out = collect(*args, **kwargs)
            if not racing.done:
                racing.done = True
                refreshed(app)
            return out

        racing.done = False
        monkeypatch.setattr(summary_module, "_collect", racing)
        result = summary_module.refresh_in_steps(db.engine, form)
        assert result.skipped and result.added == 0
        monkeypatch.undo()
        assert refreshed(app).added == 0  # the other refresh added the responses once
        assert_same(form, DESIGNS["default"], ["agency_code"])
