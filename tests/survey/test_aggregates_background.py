"""The serving workers keep the summary fresh (``survey.statistics.background``): one process
at a time refreshes it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from survey import ConfigurationError, create_app
from survey.extensions import db
from survey.models import SummaryState
from survey.statistics.background import refresh_in_child, refresh_once, refresher_gate
from tests.survey import test_statistics as base

seeded = base.seeded


def test_a_round_builds_then_refreshes_the_summary(app, seeded) -> None:
    assert refresh_once(app) == ["sipas-counter: rebuilt"]
    assert refresh_once(app) == ["sipas-counter: 0 added"]
    with app.app_context():
        state = db.session.execute(select(SummaryState)).scalar_one()
        assert state.watermark > 0 and len(state.layout) > 100


def test_only_one_process_is_the_refresher(app, seeded) -> None:
    inside, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def hold() -> None:
        with app.app_context(), refresher_gate(db.engine) as held:
            seen.append(held)
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    try:
        assert refresh_once(app) == []  # another holder: this round is skipped
    finally:
        release.set()
        holder.join()
    assert seen == [True]
    assert refresh_once(app) == ["sipas-counter: rebuilt"]


def test_a_serving_app_starts_the_refresher_at_its_first_request(app, seeded) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    serving = create_app(
        {"SECRET_KEY": "s" * 32, "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}
        | {"SIPAS_AGGREGATES_REFRESH_SECONDS": 0.2, "SIPAS_REPORTS_WARMUP": False}
    )
    assert "sipas_aggregates_refresher" not in serving.extensions
    serving.test_client().get("/healthz")
    thread = serving.extensions["sipas_aggregates_refresher"]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with serving.app_context():
                if db.session.execute(select(SummaryState)).first() is not None:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the background refresher built no summary within 60 s")
    finally:
        thread.stop.set()
        thread.join(30)
        with serving.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("value", ["often", -5])
def test_a_bad_interval_is_refused(value, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="SIPAS_AGGREGATES_REFRESH_SECONDS"):
        create_app(
            {"SECRET_KEY": "s" * 32, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"}
            | {"SIPAS_AGGREGATES_REFRESH_SECONDS": value}
        )


def test_a_round_refreshes_in_a_child_process(app, seeded) -> None:
    assert refresh_in_child(app) is True
    with app.app_context():
        state = db.session.execute(select(SummaryState)).scalar_one()
        assert state.watermark > 0
        db.session.rollback()
    with app.app_context(), refresher_gate(db.engine) as held:
        assert held
        assert refresh_in_child(app) is False  # the gate is taken: this round is skipped
