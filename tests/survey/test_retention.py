"""Retention (issue #13, defect 10): ``sipas retention apply`` deletes responses older than
``SIPAS_RETENTION_MONTHS`` whole months, in batches, with their summary rows, and the summary
stays exact (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from analysis import Design
from survey.extensions import db
from survey.models import Response, SummaryCell, SummaryMonth
from survey.repository import load_form
from survey.retention import RetentionError, apply_retention, cutoff
from tests.survey import test_statistics as base
from tests.survey.test_statistics import NOW
from tests.survey.test_summary import assert_same, build, refreshed

seeded = base.seeded  # the demo province: 240 responses over the 12 months before NOW


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.mark.parametrize(
    ("months", "now", "first_kept"),
    [
        (6, datetime(2024, 12, 20, 9, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
        (12, datetime(2024, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)),
        (13, datetime(2024, 1, 31, 23, tzinfo=UTC), datetime(2022, 12, 1, tzinfo=UTC)),
    ],
)
def test_cutoff_is_the_first_day_of_the_month_n_months_ago(months, now, first_kept):
    assert cutoff(months, now) == first_kept


def test_old_responses_and_their_summary_months_are_deleted(app, seeded):
    build(app)
    before = datetime(2024, 6, 1, tzinfo=UTC)
    with app.app_context():
        old = _count(Response, Response.submitted_at < before)
        kept = _count(Response, Response.submitted_at >= before)
        assert old > 0 and kept > 0
        assert _count(SummaryMonth, SummaryMonth.month < date(2024, 6, 1)) > 0
        dry = apply_retention(6, now=NOW, dry_run=True)
        assert (dry.cutoff, dry.responses) == (before, old) and dry.summary_months > 0
        assert _count(Response) == old + kept  # a dry run deletes nothing
        done = apply_retention(6, now=NOW, batch=7)  # several batches
        assert done.responses == old and done.summary_months == dry.summary_months
        assert _count(Response) == kept
        assert _count(Response, Response.submitted_at < before) == 0
        for model in (SummaryCell, SummaryMonth):
            assert _count(model, model.month < date(2024, 6, 1)) == 0
        assert _count(SummaryMonth) > 0
    # The summary is the sum of what is left: a refresh finds no month to re-sum, and count
    # tables read from it equal those of the responses.
    result = refreshed(app)
    assert not result.rebuilt and result.months == () and result.added == 0
    with app.app_context():
        form = load_form("sipas-counter")
        assert_same(form, Design(strata="agency_code"), ["agency_code", "period"], period="month")
        again = apply_retention(6, now=NOW)
    assert (again.responses, again.summary_months) == (0, 0)


def test_a_cutoff_within_token_validity_is_refused(app):
    with app.app_context(), pytest.raises(RetentionError, match="SIPAS_TOKEN_MAX_AGE_DAYS=60"):
        apply_retention(1, now=NOW)  # 1 November: 49 days ago, tokens live 60
    with app.app_context(), pytest.raises(RetentionError, match="whole number"):
        apply_retention(0, now=NOW)


def test_the_command_says_how_many_it_deleted(make_app, seeded, runner):
    unset = runner.invoke(["retention", "apply"])
    assert unset.exit_code == 0, unset.output
    assert "SIPAS_RETENTION_MONTHS is not set" in unset.output
    app = make_app(SIPAS_RETENTION_MONTHS=3)
    first_kept = cutoff(3, datetime.now(UTC))
    with app.app_context():
        old = _count(Response, Response.submitted_at < first_kept)
    from tests.survey.conftest import AppCliRunner

    dry = AppCliRunner(app).invoke(["retention", "apply", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"Dry run: {old} response(s) submitted before {first_kept:%Y-%m-%d}" in dry.output
    done = AppCliRunner(app).invoke(["retention", "apply"])
    assert done.exit_code == 0, done.output
    assert f"Deleted {old} response(s) submitted before {first_kept:%Y-%m-%d}" in done.output
    with app.app_context():
        assert _count(Response, Response.submitted_at < first_kept) == 0
