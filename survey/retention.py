"""Retention: responses older than ``SIPAS_RETENTION_MONTHS`` whole calendar months are deleted.

``sipas retention apply`` deletes the responses submitted before the first day of the month
``N`` months ago (UTC; ``N`` = ``SIPAS_RETENTION_MONTHS`` or ``--months``), in batches of
:data:`BATCH` rows, each batch its own transaction, then the summary rows of those months
(:func:`survey.statistics.summary.forget_before`), so that the summary stays the sum of the
stored responses. ``--dry-run`` counts without deleting. Unset, responses are kept forever.

Run it from cron (e.g. monthly). The cutoff must lie beyond the validity of dossier tokens
(``SIPAS_TOKEN_MAX_AGE_DAYS``): a token whose response was deleted could otherwise be used again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo
from sqlalchemy import delete, func, select

from survey.extensions import db
from survey.models import Response
from survey.statistics import summary

__all__ = ["BATCH", "RetentionError", "RetentionResult", "apply_retention", "cutoff", "retention"]

BATCH = 10_000


class RetentionError(ValueError):
    """The retention setting cannot be applied."""


@dataclass(frozen=True)
class RetentionResult:
    """What :func:`apply_retention` did (or, in a dry run, would do).

    Attributes
    ----------
    cutoff : datetime
        Responses submitted before this moment (00:00 UTC on the first day of a month).
    responses : int
        Responses deleted (or to delete).
    summary_months : int
        Form × month rows of the summary removed with them (or to remove).
    """

    cutoff: datetime
    responses: int
    summary_months: int


def cutoff(months: int, now: datetime) -> datetime:
    """00:00 UTC on the first day of the month ``months`` months before ``now``'s month."""
    utc = now.astimezone(UTC)
    index = utc.year * 12 + utc.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _months(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RetentionError(f"SIPAS_RETENTION_MONTHS must be a whole number >= 1, not {value!r}")
    return value


def apply_retention(
    months: int, *, now: datetime | None = None, dry_run: bool = False, batch: int = BATCH
) -> RetentionResult:
    """Delete the responses older than ``months`` whole months and their summary rows (app
    context). Raises :class:`RetentionError` for a bad ``months`` or a cutoff within the
    validity of dossier tokens."""
    months = _months(months)
    now = now or datetime.now(UTC)
    before = cutoff(months, now)
    token_days = int(current_app.config["SIPAS_TOKEN_MAX_AGE_DAYS"])
    if before > now - timedelta(days=token_days):
        raise RetentionError(
            f"keeping {months} month(s) would delete responses of dossier tokens that are still "
            f"valid (SIPAS_TOKEN_MAX_AGE_DAYS={token_days}), which could then be used again; "
            "keep more months"
        )
    old = Response.submitted_at < before
    first_month = date(before.year, before.month, 1)
    if dry_run:
        with db.engine.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(Response).where(old))
            held = summary.months_before(connection, first_month)
        return RetentionResult(before, int(count or 0), held)
    deleted = 0
    while True:
        with db.engine.begin() as connection:
            oldest = select(Response.id).where(old).order_by(Response.id).limit(batch)
            done = connection.execute(delete(Response).where(Response.id.in_(oldest))).rowcount
        deleted += done
        if done < batch:
            break
    with db.engine.begin() as connection:
        removed = summary.forget_before(connection, first_month)
    return RetentionResult(before, deleted, removed)


def _app() -> Flask:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    from survey import create_app

    return create_app()


@click.group()
def retention() -> None:
    """Delete responses older than SIPAS_RETENTION_MONTHS (and their summary rows)."""


@retention.command("apply")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--months",
    type=click.IntRange(min=1),
    help="Keep this many whole months instead of SIPAS_RETENTION_MONTHS.",
)
def apply_command(dry_run: bool, months: int | None) -> None:
    """Delete the responses submitted before the first day of the month N months ago."""
    with _app().app_context():
        months = months or current_app.config.get("SIPAS_RETENTION_MONTHS")
        if months is None:
            click.echo("SIPAS_RETENTION_MONTHS is not set: responses are kept; nothing deleted.")
            return
        try:
            result = apply_retention(months, dry_run=dry_run)
        except RetentionError as exc:
            raise click.ClickException(str(exc)) from None
    day = result.cutoff.strftime("%Y-%m-%d")
    if dry_run:
        click.echo(
            f"Dry run: {result.responses} response(s) submitted before {day} (UTC) and "
            f"{result.summary_months} summary month(s) would be deleted."
        )
    else:
        click.echo(
            f"Deleted {result.responses} response(s) submitted before {day} (UTC) and "
            f"{result.summary_months} summary month(s) with them."
        )
