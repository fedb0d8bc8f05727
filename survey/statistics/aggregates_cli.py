"""``sipas aggregates``: build and refresh the summary of sufficient statistics.

``rebuild`` replaces the summary of every form (or of ``--form``) by the sums of all stored
responses; ``refresh`` adds the responses stored since the last run and re-sums the months
whose responses changed (:func:`survey.statistics.summary.refresh`); ``status`` lists what
the summary holds. Run ``refresh`` every minute or so (cron, systemd timer); reports add the
responses above the watermark on read, so they are exact in any case and fast when the tail
is short. Both read and tabulate the responses before taking the maintenance lock and write in
one short transaction (:func:`survey.statistics.summary.refresh_in_steps`), so citizens'
submissions never wait for them, even on SQLite. Both commands are safe to run concurrently and
to interrupt::

    sipas aggregates rebuild
    sipas aggregates refresh --form sipas-counter
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo

from survey.statistics import summary

__all__ = ["aggregates"]


def _app() -> Flask:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    from survey import create_app

    return create_app()


def _forms(connection: Any, wanted: tuple[str, ...]) -> list[Any]:
    from survey import repository

    ids = list(wanted) or summary.summarised_forms(connection)
    out = []
    for form_id in ids:
        try:
            out.append(repository.load_form(form_id))
        except (KeyError, ValueError) as exc:  # stored responses of a form no longer shipped
            click.echo(f"{form_id}: skipped ({exc})", err=True)
    return out


def _each_form(wanted: tuple[str, ...], work: Callable[[Any, Any], str]) -> None:
    with _app().app_context():
        from survey.extensions import db

        with db.engine.connect() as connection:
            forms = _forms(connection, wanted)
        for form in forms:
            started = time.perf_counter()
            message = work(db.engine, form)  # reads first, then one short write transaction
            click.echo(f"{form.id}: {message} in {time.perf_counter() - started:.2f} s")


_FORM = click.option(
    "--form", "form_ids", multiple=True, help="Only this form id (repeatable; default: all)."
)


@click.group()
def aggregates() -> None:
    """The summary of sufficient statistics that reports read (rebuild, refresh, status)."""


@aggregates.command("rebuild")
@_FORM
def rebuild_command(form_ids: tuple[str, ...]) -> None:
    """Sum every stored response into the summary again."""

    def work(engine: Any, form: Any) -> str:
        result = summary.refresh_in_steps(engine, form, rebuild=True)
        if result.skipped:
            return "not rebuilt: another refresh ran meanwhile (run it again)"
        return f"rebuilt up to response id {result.watermark}"

    _each_form(form_ids, work)


@aggregates.command("refresh")
@_FORM
def refresh_command(form_ids: tuple[str, ...]) -> None:
    """Add the responses stored since the last run; re-sum months that changed."""

    def work(engine: Any, form: Any) -> str:
        result = summary.refresh_in_steps(engine, form)
        if result.skipped:
            return f"another refresh ran meanwhile; up to response id {result.watermark}"
        if result.rebuilt:
            return f"rebuilt (no summary of this definition yet) up to id {result.watermark}"
        months = ", ".join(m.strftime("%Y-%m") for m in result.months) or "none"
        return (
            f"{result.added} response(s) added, months re-summed: {months}; "
            f"up to response id {result.watermark}"
        )

    _each_form(form_ids, work)


@aggregates.command("status")
def status_command() -> None:
    """What the summary holds, per form."""
    with _app().app_context():
        from survey.extensions import db

        with db.engine.connect() as connection:
            rows = summary.summary_status(connection)
    if not rows:
        click.echo("no summary yet (sipas aggregates rebuild)")
    for row in rows:
        click.echo(
            f"{row['form_id']}: up to response id {row['watermark']}, "
            f"{row['cells']} cells of {row['layout_size']} counts each, "
            f"built {row['built_at']:%Y-%m-%d %H:%M}, "
            f"refreshed {row['refreshed_at']:%Y-%m-%d %H:%M}"
        )
