"""``sipas qr``: render counter and dossier QR codes and printable sheets.

The group is mounted by :mod:`survey.cli`. Commands need the application (unit names, the signing
key): they use the current app context when there is one (``FlaskGroup``), otherwise they build the
app with :func:`survey.create_app`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context
from flask.cli import ScriptInfo

from survey import qrcodes, tokens
from survey.models import Counter

__all__ = ["qr"]

DEFAULT_BASE_URL = "http://127.0.0.1:5000"


@contextmanager
def _app() -> Iterator[Flask]:
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    if info is not None and (info.create_app is not None or info.app_import_path):
        app = info.load_app()
    else:
        from survey import create_app

        app = create_app()
    with app.app_context():
        yield app


def _base_url(option: str | None, app: Flask) -> str:
    return option or app.config.get("SIPAS_PUBLIC_BASE_URL") or DEFAULT_BASE_URL


def _image_format(fmt: str | None, out: Path) -> str:
    if fmt:
        return fmt
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise click.UsageError("give --format png|svg or an --out file ending in .png or .svg")
    return suffix


def _write_image(url: str, fmt: str, out: Path) -> None:
    if fmt == "png":
        out.write_bytes(qrcodes.qr_png(url))
    else:
        out.write_text(qrcodes.qr_svg(url), encoding="utf-8")


def sheet_entry(
    counter: Counter, base_url: str, field_code: str | None = None
) -> qrcodes.SheetEntry:
    """Build a :class:`~survey.qrcodes.SheetEntry` for a counter model (and optional field)."""
    agency = counter.agency
    field = counter.field
    field_name = None
    if field_code is not None:
        from survey import repository

        chosen = repository.get_field(field_code)
        field_name = chosen.name_vi if chosen is not None else None
    elif field is not None:
        field_name = field.name_vi
    return qrcodes.SheetEntry(
        agency_name_vi=agency.name_vi,
        agency_name_en=agency.name_en or "",
        counter_name_vi=counter.name_vi,
        counter_name_en=counter.name_en or "",
        url=qrcodes.counter_url(base_url, counter.code, field_code),
        field_name_vi=field_name,
    )


_base_option = click.option(
    "--base-url",
    help="Public base URL encoded in the QR code (default: SIPAS_PUBLIC_BASE_URL, "
    f"else {DEFAULT_BASE_URL}).",
)
_format_option = click.option(
    "--format", "fmt", type=click.Choice(["png", "svg"]), help="Image format (default: from --out)."
)
_out_option = click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write."
)


@click.group("qr")
def qr() -> None:
    """Render QR codes for counters and dossier receipts, and printable sheets."""


@qr.command("counter")
@click.argument("code")
@click.option("--field", "field_code", help="Fix the procedure field (lĩnh vực) in the QR code.")
@_format_option
@_out_option
@_base_option
def counter_command(
    code: str, field_code: str | None, fmt: str | None, out: Path, base_url: str | None
) -> None:
    """Write the QR code of counter CODE and print its URL."""
    from survey import repository

    fmt = _image_format(fmt, out)
    with _app() as app:
        if repository.get_counter(code) is None:
            raise click.ClickException(f"no counter with code {code!r}")
        if field_code is not None and repository.get_field(field_code) is None:
            raise click.ClickException(f"no field with code {field_code!r}")
        url = qrcodes.counter_url(_base_url(base_url, app), code, field_code)
    _write_image(url, fmt, out)
    click.echo(url)


@qr.command("dossier")
@click.option("--agency", "agency_code", required=True, help="Agency code.")
@click.option("--field", "field_code", required=True, help="Procedure field code.")
@click.option("--procedure", "procedure_code", help="Procedure code (optional).")
@click.option("--dossier", "dossier_code", required=True, help="Dossier receipt number.")
@_format_option
@_out_option
@_base_option
def dossier_command(
    agency_code: str,
    field_code: str,
    procedure_code: str | None,
    dossier_code: str,
    fmt: str | None,
    out: Path,
    base_url: str | None,
) -> None:
    """Issue a signed single-use dossier token, write its QR code and print its URL.

    Only a keyed hash of the dossier number enters the token.
    """
    from survey import repository

    fmt = _image_format(fmt, out)
    with _app() as app:
        if repository.get_agency(agency_code) is None:
            raise click.ClickException(f"no agency with code {agency_code!r}")
        if repository.get_field(field_code) is None:
            raise click.ClickException(f"no field with code {field_code!r}")
        if procedure_code is not None and repository.get_procedure(procedure_code) is None:
            raise click.ClickException(f"no procedure with code {procedure_code!r}")
        try:
            token = tokens.issue_dossier_token(
                app.config["SECRET_KEY"],
                agency_code=agency_code,
                field_code=field_code,
                procedure_code=procedure_code,
                dossier_code=dossier_code,
                issued_at=datetime.now(UTC),
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        url = qrcodes.dossier_url(_base_url(base_url, app), token)
    _write_image(url, fmt, out)
    click.echo(url)


@qr.command("sheet")
@click.option("--counter", "counter_codes", multiple=True, help="Counter code (repeatable).")
@click.option("--all", "all_counters", is_flag=True, help="Every active counter.")
@click.option("--size", type=click.Choice(qrcodes.SHEET_SIZES), default="a4", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="HTML file."
)
@_base_option
def sheet_command(
    counter_codes: tuple[str, ...],
    all_counters: bool,
    size: str,
    out: Path,
    base_url: str | None,
) -> None:
    """Write a printable HTML sheet (one page per counter) with QR code and instructions."""
    from survey import repository

    if bool(counter_codes) == all_counters:
        raise click.UsageError("give either --counter CODE (one or more) or --all")
    with _app() as app:
        base = _base_url(base_url, app)
        if all_counters:
            counters = [c for c in repository.list_counters() if c.active]
        else:
            counters = []
            for code in counter_codes:
                counter = repository.get_counter(code)
                if counter is None:
                    raise click.ClickException(f"no counter with code {code!r}")
                counters.append(counter)
        if not counters:
            raise click.ClickException("there are no active counters to print")
        html = qrcodes.render_sheet([sheet_entry(c, base) for c in counters], size)
    out.write_text(html, encoding="utf-8")
    click.echo(f"{len(counters)} page(s) written to {out}")
