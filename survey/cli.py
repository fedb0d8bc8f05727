"""The ``sipas`` command line.

``sipas --help`` works anywhere; a command builds the application (``survey.create_app``, so the
``SIPAS_*`` environment variables apply, e.g. ``SIPAS_SQLALCHEMY_DATABASE_URI``) only when it
runs. Commands and groups defined in other modules (``forms``, ``qr``, ``analyze``,
``analyze-db``, ``aggregates``, ``retention``, ``demo``, ``serve``) are imported when first
used; one that cannot be imported answers with a clear message instead of breaking the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import ScriptInfo

__all__ = ["main"]

# name -> (module, attribute, help) of commands and groups that live elsewhere.
_MOUNTED = {
    "demo": ("survey.serving", "demo", "A demo province with synthetic responses."),
    "serve": ("survey.serving", "serve", "Serve the application with gunicorn."),
    "forms": ("forms.cli", "forms", "Questionnaire definitions: list, show, validate."),
    "qr": ("survey.qr_cli", "qr", "Counter and dossier QR codes, printable sheets."),
    "analyze": ("analysis.cli", "analyze", "Satisfaction statistics from an export."),
    "analyze-db": ("survey.statistics.cli", "analyze_db", "Statistics from the database."),
    "aggregates": (
        "survey.statistics.aggregates_cli",
        "aggregates",
        "The summary of sufficient statistics: rebuild, refresh, status.",
    ),
    "retention": (
        "survey.retention",
        "retention",
        "Delete responses older than SIPAS_RETENTION_MONTHS.",
    ),
}


class _SipasGroup(click.Group):
    """A group that mounts the commands and groups of other modules lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_MOUNTED})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _MOUNTED:
            return super().get_command(ctx, name)
        module_name, attribute, help_text = _MOUNTED[name]
        try:
            command = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            return _unavailable(name, help_text, f"{module_name}.{attribute}", exc)
        return command


def _unavailable(name: str, help_text: str, where: str, exc: Exception) -> click.Command:
    def callback(**_: object) -> None:
        click.echo(
            f"'sipas {name}' is not available: {where} cannot be imported ({exc}).", err=True
        )
        sys.exit(1)

    return click.Command(
        name,
        callback=callback,
        help=f"{help_text} (not available: {where} cannot be imported)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=_SipasGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """SIPAS: citizen satisfaction surveys at one-stop counters (Chỉ số hài lòng SIPAS)."""
    if ctx.find_object(ScriptInfo) is None:
        ctx.obj = ScriptInfo(create_app=_default_app, set_debug_flag=False)


@contextmanager
def _app_context() -> Iterator[Flask]:
    """Build (or reuse) the application and enter its app context."""
    info = click.get_current_context().find_object(ScriptInfo)
    app = info.load_app() if info is not None else _default_app()
    with app.app_context():
        yield app


def _default_app() -> Flask:
    """The application from the environment; a configuration it refuses is a clear error."""
    from survey import ConfigurationError, create_app

    try:
        return create_app()
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


# --- db ----------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or update the tables of the configured database."""
    from survey.migrations import upgrade

    with _app_context() as app:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    upgrade(url, revision)
    click.echo(f"Database at {_safe_url(url)} is at revision {revision}.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- import ------------------------------------------------------------------------------------


@main.command("import")
@click.argument("kind", type=click.Choice(["units", "fields", "counters", "procedures", "lineage"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(kind: str, file: Path) -> None:
    """Import agencies (units), fields, counters, procedures or lineage from a CSV or XLSX FILE.

    \b
    Columns (first row; order free; * = required):
      units:      code*, name_vi*, name_en, level* (province|department|district|commune),
                  parent_code, valid_from, valid_until (dates; blank = open)
      fields:     code*, name_vi*, name_en
      counters:   code*, agency_code*, name_vi*, name_en, field_code, active (1/0, default 1)
      procedures: code*, name_vi*, name_en, field_code
      lineage:    predecessor_code*, successor_code*, effective_on* (date),
                  kind (merge|split|rename, default merge), note
    Dates are written 2025-07-01 or 01/07/2025. Existing codes (lineage: predecessor and
    successor pairs) are updated, new ones created. All or nothing: on any error nothing is
    written and every error is listed with its row and column.
    """
    from survey.importing import ImportFailed, import_file

    with _app_context():
        try:
            summary = import_file(kind, file)
        except ImportFailed as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            click.echo(f"{len(exc.errors)} error(s); nothing was imported.", err=True)
            sys.exit(1)
    click.echo(f"Imported {kind}: {summary.created} created, {summary.updated} updated.")


# --- export ------------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@main.group()
def export() -> None:
    """Export stored data."""


@export.command("responses")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "parquet"]),
    default="csv",
    show_default=True,
)
@click.option("--form", "form_id", help="Questionnaire id (default: SIPAS_DEFAULT_FORM).")
@click.option("--since", type=click.DateTime(), help="Submitted at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Submitted before (UTC).")
@click.option(
    "--out",
    default="-",
    show_default=True,
    help="Output file, or - for stdout (not for parquet); with --partition-by a directory.",
)
@click.option(
    "--partition-by",
    "partition_by",
    default=None,
    metavar="KEYS",
    help="Parquet only: write a hive-partitioned dataset directory, e.g. year,agency "
    "(keys: year, month, agency, field, form).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="With --partition-by: replace the Parquet dataset already in --out.",
)
def export_responses_command(
    fmt: str,
    form_id: str | None,
    since: datetime | None,
    until: datetime | None,
    out: str,
    partition_by: str | None,
    overwrite: bool,
) -> None:
    """Export responses in the wide format: one row per response, one column per item."""
    from survey.exporting import export_responses
    from survey.parquet_export import ExportTargetError, export_parquet, partition_columns

    keys = [k.strip() for k in (partition_by or "").split(",") if k.strip()]
    if keys and fmt != "parquet":
        raise click.UsageError("--partition-by needs --format parquet")
    if overwrite and not keys:
        raise click.UsageError("--overwrite goes with --partition-by (a dataset directory)")
    if fmt == "parquet" and out == "-":
        raise click.UsageError(
            "--format parquet writes a file or, with --partition-by, a directory: give --out"
        )
    try:
        partition_columns(keys)
    except ExportTargetError as exc:
        raise click.UsageError(str(exc)) from None
    with _app_context() as app:
        form_id = form_id or app.config["SIPAS_DEFAULT_FORM"]
        if fmt == "parquet":
            try:
                count = export_parquet(
                    Path(out),
                    form_id,
                    since=_utc(since),
                    until=_utc(until),
                    partition_by=keys,
                    overwrite=overwrite,
                )
            except ExportTargetError as exc:
                raise click.UsageError(str(exc)) from None
        elif out == "-":
            stream = sys.stdout.buffer if fmt == "xlsx" else sys.stdout
            count = export_responses(stream, fmt, form_id, since=_utc(since), until=_utc(until))
        else:
            mode = "wb" if fmt == "xlsx" else "w"
            kwargs = {} if fmt == "xlsx" else {"encoding": "utf-8", "newline": ""}
            with open(out, mode, **kwargs) as stream:
                count = export_responses(stream, fmt, form_id, since=_utc(since), until=_utc(until))
    click.echo(f"Exported {count} response(s).", err=True)


# --- accounts ----------------------------------------------------------------------------------


def _read_password(from_stdin: bool, given: str | None) -> str:
    """The password: one line of standard input, the ``--password`` value, or a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    if given is not None:
        return given
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
_PASSWORD = click.option(
    "--password",
    help="The password (visible in the shell history: prefer the prompt or --password-stdin).",
)


@main.group()
def users() -> None:
    """Accounts of administrators, analysts and officials."""


@users.command("create")
@click.argument("login")
@click.option(
    "--role",
    type=click.Choice(["admin", "analyst", "official"]),
    required=True,
    help="admin: everything; analyst: every report; official: one agency's reports.",
)
@click.option("--agency", "agency_code", help="The official's agency (required for officials).")
@click.option("--display-name", default="", help="Name shown on the pages.")
@_PASSWORD_STDIN
@_PASSWORD
def users_create(
    login: str,
    role: str,
    agency_code: str | None,
    display_name: str,
    password_stdin: bool,
    password: str | None,
) -> None:
    """Create the account LOGIN (the password is prompted for unless given)."""
    from survey.repository import AccountError, create_user

    secret = _read_password(password_stdin, password)
    with _app_context():
        try:
            user = create_user(
                login, secret, role=role, display_name=display_name, agency_code=agency_code
            )
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        where = f" for agency {user.agency.code}" if user.agency else ""
        click.echo(f"User {user.username!r} created with role {role}{where}.")


@users.command("list")
def users_list() -> None:
    """List every account: login, role, agency, active."""
    from survey.repository import list_users

    with _app_context():
        rows = [
            (u.username, u.role, u.agency.code if u.agency else "-", "yes" if u.active else "no")
            for u in list_users()
        ]
    _echo_table(("login", "role", "agency", "active"), rows)


@users.command("set-password")
@click.argument("login")
@_PASSWORD_STDIN
@_PASSWORD
def users_set_password(login: str, password_stdin: bool, password: str | None) -> None:
    """Give LOGIN a new password; every session of the account ends."""
    from survey.repository import AccountError, set_password

    secret = _read_password(password_stdin, password)
    with _app_context():
        try:
            set_password(login, secret)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"New password set for {login!r}; its sessions have ended.")


@users.command("disable")
@click.argument("login")
def users_disable(login: str) -> None:
    """Disable LOGIN: it can no longer sign in, and its sessions end."""
    from survey.repository import AccountError, disable_user

    with _app_context():
        try:
            disable_user(login)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"User {login!r} disabled; its sessions have ended.")


def _echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print rows in aligned columns under a header."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@main.group()
def apikeys() -> None:
    """Keys for the read-back API (the national portal), optionally limited to one agency."""


@apikeys.command("create")
@click.argument("name")
@click.option("--agency", "agency_code", help="Let the key read only this agency's subtree.")
def apikeys_create(name: str, agency_code: str | None) -> None:
    """Create an API key for NAME and print it (it is shown only once)."""
    from survey.repository import AccountError, create_api_key

    with _app_context():
        try:
            key = create_api_key(name, agency_code=agency_code)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo("Store this key now: only its hash is kept.", err=True)


@apikeys.command("list")
def apikeys_list() -> None:
    """List API keys: id, name, agency scope, created, active (never the keys themselves)."""
    from survey.repository import list_api_keys

    with _app_context():
        rows = [
            (
                str(k.id),
                k.name,
                k.agency.code if k.agency else "(all)",
                k.created_at.strftime("%Y-%m-%d"),
                "yes" if k.active else "revoked",
            )
            for k in list_api_keys()
        ]
    _echo_table(("id", "name", "agency", "created", "active"), rows)


@apikeys.command("revoke")
@click.argument("name_or_id")
def apikeys_revoke(name_or_id: str) -> None:
    """Revoke the API key with this id (see 'apikeys list') or this name."""
    from survey.repository import AccountError, revoke_api_key

    with _app_context():
        try:
            key = revoke_api_key(name_or_id)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"API key {key.id} ({key.name}) revoked.")
