"""``sipas analyze-db``: satisfaction indices from the configured database (no export file).

The count table comes from SQL ``GROUP BY`` (:func:`survey.statistics.build_counts`); the
statistics are those of ``sipas analyze`` (:func:`analysis.satisfaction_indices`), whose
options this command shares (``--form``, ``--by``, ``--strata``, ``--psu``, ``--ci``,
``--level``, ``--index-version``, ``--df``, ``--lonely-psu``, ``--deff``, ``--total``,
``--out``). The
database holds no weights, so the design effect is the with-replacement one (``--deff auto``)
and the reliability rule reads the NCHS effective sample size, which needs no population
size. Example::

    sipas analyze-db --form sipas-counter --by agency_code --by agency_code,period:quarter \\
        --strata agency_code --psu counter_code --since 2024-01-01 --out result.csv

As there, ``--by`` is repeatable and every grouping comes from one count table (one
``GROUP BY`` statement); the output has the same columns as ``sipas analyze``'s, the units'
names (and the agency's parent) taken from the catalogue's ``agencies``, ``counters``,
``fields`` and ``procedures`` tables. The count
table is read from the summary of ``sipas aggregates`` when it holds the form (plus the
responses stored since its last refresh); the command says when it reads the responses
instead (no summary, another definition of the form, or ``--raw``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo

from analysis.cli import analyze as export_analyze
from analysis.cli import indices_by_groupings
from analysis.design import Design
from analysis.errors import AnalysisError
from analysis.names import add_names, catalogue_names
from analysis.output import check_out, run_notes, write_table
from survey.quality import FLAGS
from survey.statistics.columns import COLUMNS, PERIODS
from survey.statistics.counts import build_counts, summarize_selection
from survey.statistics.errors import StatisticsQueryError

__all__ = ["analyze_db", "parse_by", "parse_groupings"]

_SHARED = (
    "form_spec",
    "by_specs",
    "strata",
    "psu",
    "ci",
    "confidence",
    "index_version",
    "df_rule",
    "lonely_psu",
    "deff_kind",
    "total",
    "out",
)


def _shared_params() -> list[click.Parameter]:
    """The options of ``sipas analyze`` that mean the same here (defined once, there)."""
    by_name = {p.name: p for p in export_analyze.params}
    return [by_name[name] for name in _SHARED]


def parse_by(spec: str | None) -> tuple[list[str], str | None]:
    """``--by`` as in ``sipas analyze``: ``col,col,period:month`` → (columns, granularity).

    Raises
    ------
    click.UsageError
        A column the database cannot provide, or an unknown or repeated period.
    """
    by: list[str] = []
    period: str | None = None
    for part in [p.strip() for p in (spec or "").split(",") if p.strip()]:
        name, _, granularity = part.partition(":")
        if name == "period":
            if granularity not in PERIODS or period is not None:
                raise click.UsageError(
                    f"--by {part}: use one of period:{', period:'.join(PERIODS)}, once"
                )
            period = granularity
        elif granularity or name not in COLUMNS:
            raise click.UsageError(f"--by: unknown column {part!r}; use {list(COLUMNS)}")
        by.append(name)
    return by, period


def parse_groupings(specs: tuple[str, ...]) -> tuple[list[list[str]], str | None]:
    """Every ``--by`` (none: the whole sample); one period granularity per run.

    Raises
    ------
    click.UsageError
        As :func:`parse_by`, or two period granularities.
    """
    parsed = [parse_by(spec) for spec in specs or (None,)]
    periods = sorted({period for _, period in parsed if period})
    if len(periods) > 1:
        raise click.UsageError(
            f"--by: one period granularity per run, got {periods}; run once per granularity"
        )
    return [by for by, _ in parsed], (periods[0] if periods else None)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _app() -> Flask:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None:
        return info.load_app()
    from survey import create_app

    return create_app()


def _load_form(spec: str) -> Any:
    from forms import load_form_file
    from survey import repository

    path = Path(spec)
    try:
        if path.suffix == ".toml" and path.exists():
            return load_form_file(path)
        name, _, version = spec.partition("@")
        return repository.load_form(name, int(version) if version else None)
    except (KeyError, ValueError) as exc:
        raise click.UsageError(f"--form {spec}: {exc}") from None


@click.command(
    "analyze-db",
    params=_shared_params(),
    short_help="Satisfaction statistics from the database.",
)
@click.option("--since", type=click.DateTime(), help="Submitted at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Submitted before (UTC).")
@click.option("--agency", default=None, help="Only this agency (code) and the agencies below it.")
@click.option(
    "--exclude-flag",
    "exclude_flags",
    type=click.Choice(FLAGS),
    multiple=True,
    help="Leave out responses with this quality flag (repeatable; default: none).",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Read the stored responses only, not the summary (sipas aggregates).",
)
def analyze_db(
    form_spec: str,
    by_specs: tuple[str, ...],
    strata: str | None,
    psu: str | None,
    ci: str,
    confidence: float,
    index_version: str,
    df_rule: str,
    lonely_psu: str,
    deff_kind: str,
    total: bool,
    out: str,
    since: datetime | None,
    until: datetime | None,
    agency: str | None,
    exclude_flags: tuple[str, ...],
    raw: bool,
) -> None:
    """Compute SIPAS indices from the stored responses, with SEs and intervals.

    Tính chỉ số hài lòng SIPAS từ dữ liệu đã lưu (không cần tệp xuất), kèm sai số chuẩn và
    khoảng tin cậy.
    """
    check_out(out)
    if not 0 < confidence < 1:
        raise click.UsageError("--level must be between 0 and 1, e.g. 0.95")
    groupings, period = parse_groupings(by_specs)
    all_by = list(dict.fromkeys(c for by in groupings for c in by))
    design = Design(
        strata=strata,
        psu=psu,
        lonely_psu=lonely_psu,  # type: ignore[arg-type]
        df=df_rule,  # type: ignore[arg-type]
    )
    selection = {
        "since": _utc(since),
        "until": _utc(until),
        "agency_subtree": agency,
        "exclude_flags": exclude_flags,
    }
    with _app().app_context():
        from survey.extensions import db

        form = _load_form(form_spec)
        try:
            summary = summarize_selection(db.session, form, **selection)
            counts = build_counts(
                db.session,
                form,
                design,
                all_by,
                period=period,  # type: ignore[arg-type]
                index_versions=(index_version,),
                use_summary=not raw,
                **selection,
            )
            table = indices_by_groupings(
                counts,
                form,
                design,
                groupings,
                version=index_version,
                ci=ci,
                confidence=confidence,
                deff=deff_kind,
                total=total,
            )
        except (StatisticsQueryError, AnalysisError) as exc:
            raise click.ClickException(str(exc)) from None
        from survey.repository import unit_names

        table = add_names(table, catalogue_names(unit_names(), all_by))
    notes = run_notes(
        source="database" + (f", agency subtree {agency}" if agency else ""),
        form=form,
        by_specs=by_specs,
        design=design,
        weighting="none (each response once)",
        settings={"version": index_version, "ci": ci, "confidence": confidence, "deff": deff_kind},
        names="from the catalogue (agencies, counters, fields, procedures)",
        totals=total and any(groupings),
    )
    where = write_table(table, out, notes=notes)
    if counts.attrs["source"] == "summary":
        click.echo(
            f"Count table from the summary: {counts.attrs['source_reason']}.", err=out == "-"
        )
    else:
        click.echo(
            "Count table from the stored responses (raw path, slower): "
            f"{counts.attrs['source_reason']}.",
            err=out == "-",
        )
    flagged = ", ".join(f"{f} {n}" for f, n in summary.flagged.items() if n) or "none"
    click.echo(
        f"{summary.analysed} response(s) analysed, {summary.excluded} excluded "
        f"(flags {', '.join(exclude_flags) or 'none excluded'}; flagged: {flagged}).",
        err=out == "-",
    )
    click.echo(
        f"{len(table)} rows written to {where} ({len(groupings)} grouping(s), "
        f"index version {index_version})",
        err=out == "-",
    )
