"""``sipas analyze``: satisfaction indices from a wide response export.

The lead mounts :data:`analyze` on the ``sipas`` command group. Example::

    sipas analyze responses.csv --form sipas-counter --by agency_code --by field_code \\
        --by agency_code,period:quarter --strata agency_code --psu counter_code --out result.csv

``--by`` is repeatable: every grouping is estimated from one read of the file and one count
table. With one ``--by`` the output has that grouping's columns, then the result columns. With
several, the first column is ``grouping`` (the grouping's columns joined by ``,``; ``(all)``
for the whole sample), then every group column of every grouping, blank where that grouping
does not use it, then the result columns. Every grouping ends with its total: the rows of the
whole selection, estimated from the same count table, whose group columns say ``(all)``
(``--no-total`` leaves them out). A unit code column (``agency_code``, ``field_code``, …) is
followed by the unit's name (and the agency's parent) when the export has name columns or
``--names FILE`` gives them (:mod:`analysis.names`).

``--out`` ending in ``.xlsx`` writes a workbook (sheet ``indices``, rounded number formats,
a ``Notes`` sheet with the options and what every flag and note means); ``--out -`` writes CSV
to standard output; any other name writes CSV, UTF-8 with a byte-order mark. All go through
:mod:`analysis.spreadsheets`, so no text cell can become a formula. ``--rank`` and ``--par``
write one row per unit instead (:func:`analysis.standings.unit_standings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import click
import numpy as np
import pandas as pd

from analysis.counts import counts_from_responses
from analysis.design import Design, LonelyPSU
from analysis.errors import AnalysisError
from analysis.exports import export_columns as _export_columns
from analysis.exports import read_export as _read
from analysis.frames import period_of
from analysis.indices import CIMethod, DeffKind, satisfaction_indices
from analysis.names import (
    NAMED_COLUMNS,
    PARENT_CODE,
    PARENT_NAME,
    UnitNames,
    add_names,
    names_from_export,
    names_from_file,
)
from analysis.output import check_out, help_epilog, run_notes, weighting_note, write_table
from analysis.par_index import ScoringError, load_rule
from analysis.ranking import RankingError
from analysis.replicates import (
    ReplicateKind,
    ReplicateWeights,
    generate_replicate_weights,
    read_replicate_weights,
)
from analysis.standings import unit_standings

__all__ = [
    "analyze",
    "indices_by_groupings",
    "read_export",
    "resolve_by",
    "stack_groupings",
    "with_total",
]

PERIOD_GRANULARITIES = ("month", "quarter", "year")
ALL_GROUPS = "(all)"
FRAME_METHODS = ("poststratify", "rake")
ENGINES = ("local", "dask")
VARIANCE_METHODS = ("linearization", *get_args(ReplicateKind))


def read_export(
    path: Path,
    columns: Sequence[str] | None = None,
    form: Any = None,
    numbers: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a wide export (``.csv``, ``.parquet`` or ``.xlsx``): ``columns`` only, when given.

    With ``form``, its item columns are read as integer codes; ``numbers`` (weights, fpc) as
    floats; other CSV columns as text (see :func:`analysis.exports.read_export`).
    """
    codes = list(form.item_keys) if form is not None else []
    try:
        return _read(path, columns, codes=codes, numbers=numbers)
    except AnalysisError as exc:
        raise click.UsageError(str(exc)) from None


def resolve_by(responses: pd.DataFrame, spec: str | None) -> tuple[pd.DataFrame, list[str]]:
    """Parse one ``--by`` (``col,col`` and ``period:month|quarter|year``); add period columns."""
    by: list[str] = []
    for part in _parts(spec):
        if part.startswith("period:"):
            granularity = part.split(":", 1)[1]
            if granularity not in PERIOD_GRANULARITIES:
                raise click.UsageError(
                    f"--by {part}: use period:month, period:quarter or period:year"
                )
            if "submitted_at" not in responses.columns:
                raise click.UsageError("--by period:... needs a submitted_at column")
            responses = responses.assign(period=_period(responses["submitted_at"], granularity))
            by.append("period")
        else:
            if part not in responses.columns:
                raise click.UsageError(f"--by: unknown column {part!r}")
            by.append(part)
    return responses, by


def _parts(spec: str | None) -> list[str]:
    return [p.strip() for p in (spec or "").split(",") if p.strip()]


def _groupings(
    responses: pd.DataFrame, specs: Sequence[str]
) -> tuple[pd.DataFrame, list[list[str]]]:
    """Resolve every ``--by``; at most one period granularity per run (one ``period`` column)."""
    periods = {p for spec in specs for p in _parts(spec) if p.startswith("period:")}
    if len(periods) > 1:
        raise click.UsageError(
            f"--by: one period granularity per run, got {sorted(periods)}; run once per granularity"
        )
    groupings: list[list[str]] = []
    for spec in specs or [None]:
        responses, by = resolve_by(responses, spec)
        groupings.append(by)
    return responses, groupings


def _columns_needed(
    form: Any, specs: Sequence[str], options: Sequence[str | None], frame: Path | None
) -> list[str] | None:
    """Columns ``sipas analyze`` reads (``None``: all, which ``--frame`` needs)."""
    if frame is not None:
        return None
    cols = ["form_id", *form.item_keys, *(c for c in options if c)]
    for spec in specs:
        for part in _parts(spec):
            cols.append("submitted_at" if part.startswith("period:") else part)
            if part in NAMED_COLUMNS:  # read when the export has them
                cols.append(NAMED_COLUMNS[part])
            if part == "agency_code":
                cols += [PARENT_CODE, PARENT_NAME]
    return list(dict.fromkeys(cols))


def _period(submitted_at: pd.Series, granularity: str) -> pd.Series:
    if submitted_at.isna().any() or (submitted_at.astype(str).str.strip() == "").any():
        raise click.UsageError("submitted_at is blank in some rows; cannot derive periods")
    try:
        return period_of(submitted_at, granularity)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(f"submitted_at has values that are not ISO 8601: {exc}") from None


def _load_form(spec: str) -> Any:
    from forms import load_form, load_form_file

    path = Path(spec)
    try:
        if path.suffix == ".toml" and path.exists():
            return load_form_file(path)
        name, _, version = spec.partition("@")
        return load_form(name, version=int(version)) if version else load_form(name)
    except (KeyError, ValueError) as exc:
        raise click.UsageError(f"--form {spec}: {exc}") from None


@click.command("analyze", epilog=help_epilog())
@click.argument("responses", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--form", "form_spec", required=True, help="Form id (id@version) or TOML file.")
@click.option(
    "--by",
    "by_specs",
    multiple=True,
    help="Group columns, e.g. agency_code,period:month (a crossing). Repeat for several "
    "groupings in one run.",
)
@click.option(
    "--weight",
    default=None,
    help="Column of weights: final weights (treated as fixed), or with --frame the base "
    "weights that are calibrated to the frame.",
)
@click.option(
    "--frame",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Dossier volumes per agency x field (CSV or XLSX): calibrate the weights (--weight, "
    "or 1) to them, see --frame-method.",
)
@click.option(
    "--frame-method",
    type=click.Choice(FRAME_METHODS),
    default="poststratify",
    show_default=True,
    help="poststratify to the agency x field cells (R postStratify), or rake to the agency "
    "and field margins (R calibrate(calfun='raking')).",
)
@click.option("--strata", default=None, help="Column of design strata.")
@click.option("--psu", default=None, help="Column of PSUs (default: each response).")
@click.option("--fpc", default=None, help="Column: PSU sampling fraction or population count.")
@click.option("--ci", type=click.Choice(get_args(CIMethod)), default="logit", show_default=True)
@click.option("--level", "confidence", type=float, default=0.95, show_default=True)
@click.option("--index-version", type=click.Choice(["A", "B"]), default="A", show_default=True)
@click.option("--df", "df_rule", type=click.Choice(["domain", "design"]), default="domain")
@click.option("--lonely-psu", type=click.Choice(get_args(LonelyPSU)), default="fail")
@click.option(
    "--deff",
    "deff_kind",
    type=click.Choice(get_args(DeffKind)),
    default="auto",
    show_default=True,
    help="Reference variance of the design effect: R's without-replacement one where the "
    "weights estimate a population larger than the sample and with replacement elsewhere "
    "(auto), or always one of them (without_replacement is Inf without weights).",
)
@click.option(
    "--rank",
    "rank",
    is_flag=True,
    help="Write the units' ranks with rank intervals (one --by column) instead of all indices.",
)
@click.option(
    "--par",
    "par_rule",
    default=None,
    metavar="RULE",
    help="PAR Index scoring rule (id of a shipped example, or a TOML file): write the units' "
    "points per component and in total.",
)
@click.option(
    "--indicator",
    default="SIPAS",
    show_default=True,
    help="Indicator that --rank ranks and reports.",
)
@click.option(
    "--rank-method",
    type=click.Choice(["monte_carlo", "pairwise"]),
    default="monte_carlo",
    show_default=True,
)
@click.option("--draws", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Monte Carlo and bootstrap seed."
)
@click.option(
    "--variance",
    "variance_method",
    type=click.Choice(VARIANCE_METHODS),
    default="linearization",
    show_default=True,
    help="Standard errors by Taylor linearisation, or by replicate weights as R's "
    "as.svrepdesign: bootstrap (Canty-Davison, R type='bootstrap'), subbootstrap (Rao-Wu "
    "n-1), jk1 (no strata), jkn (stratified jackknife), brr (exactly 2 PSUs per stratum). "
    "Not with --frame.",
)
@click.option(
    "--replicates",
    "n_replicates",
    type=click.IntRange(min=2),
    default=200,
    show_default=True,
    help="Number of bootstrap replicates (bootstrap, subbootstrap).",
)
@click.option(
    "--replicate-weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of replicate multipliers instead of drawing them: columns psu (and stratum), "
    "then one column per replicate (replicate weight / full-sample weight).",
)
@click.option(
    "--replicate-mse",
    is_flag=True,
    help="Centre the replicates at the full-sample estimate (R mse=TRUE), not at their mean.",
)
@click.option(
    "--total/--no-total",
    default=True,
    show_default=True,
    help="End every --by grouping with the rows of the whole selection (group columns (all)).",
)
@click.option(
    "--names",
    "names_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of code,name[,parent_code]: unit names for exports without name columns "
    "(default: the export's agency_name, field_name, ... columns).",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="local",
    show_default=True,
    help="local: read the export into this process. dask: build the count table on a Dask "
    "cluster, one Parquet file of the dataset per task (Parquet file or dataset directory "
    "only; not with --frame).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="With --engine dask: the scheduler to use, e.g. tcp://10.0.0.5:8786 (default: a "
    "local cluster of one worker process per CPU).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True),
    required=True,
    help="Result table: .xlsx for a workbook (rounded figures, a Notes sheet), - for CSV on "
    "standard output, otherwise a CSV file (UTF-8 with BOM, full precision).",
)
def analyze(
    responses: Path,
    form_spec: str,
    by_specs: tuple[str, ...],
    weight: str | None,
    frame: Path | None,
    frame_method: str,
    strata: str | None,
    psu: str | None,
    fpc: str | None,
    ci: str,
    confidence: float,
    index_version: str,
    df_rule: str,
    lonely_psu: str,
    deff_kind: str,
    rank: bool,
    par_rule: str | None,
    indicator: str,
    rank_method: str,
    draws: int,
    seed: int,
    total: bool,
    names_file: Path | None,
    engine: str,
    scheduler: str | None,
    variance_method: str,
    n_replicates: int,
    replicate_weights: Path | None,
    replicate_mse: bool,
    out: str,
) -> None:
    """Compute SIPAS indices (criteria, factors, aspects, overall) with SEs and intervals.

    Tính chỉ số hài lòng SIPAS (tiêu chí, yếu tố, khía cạnh, tổng hợp) kèm sai số chuẩn và
    khoảng tin cậy.
    """
    check_out(out)
    if frame is None and frame_method != "poststratify":
        raise click.UsageError("--frame-method needs --frame")
    replicated = variance_method != "linearization"
    if replicated and frame is not None:
        raise click.UsageError(
            "--variance with replicates is not available with --frame (calibrated weights): "
            "use --variance linearization"
        )
    if replicated and engine == "dask":
        raise click.UsageError(
            "--variance with replicates needs the PSU-level count table: use --engine local"
        )
    if not replicated and (replicate_weights is not None or replicate_mse):
        raise click.UsageError("--replicate-weights and --replicate-mse need --variance")
    if not 0 < confidence < 1:
        raise click.UsageError("--level must be between 0 and 1, e.g. 0.95")
    standings = rank or par_rule is not None
    rule = _load_rule(par_rule) if par_rule is not None else None
    form = _load_form(form_spec)
    options = (strata, psu, fpc, weight)
    numbers = [c for c in (weight, fpc) if c]
    columns = _columns_needed(form, by_specs, options, frame)
    if engine == "dask":
        _check_dask(responses, frame, scheduler)
        data = _no_rows(responses, columns)
    else:
        if scheduler is not None:
            raise click.UsageError("--scheduler goes with --engine dask")
        data = read_export(responses, columns, form, numbers)
        _check_form_ids(data, form.id)
    data, groupings = _groupings(data, by_specs)
    if standings and (len(groupings) != 1 or len(groupings[0]) != 1):
        raise click.UsageError("--rank and --par need exactly one --by with one unit column")
    for name, col in (("--strata", strata), ("--psu", psu), ("--fpc", fpc), ("--weight", weight)):
        if col and col not in data.columns:
            raise click.UsageError(f"{name}: unknown column {col!r}")
    calibration, weight_column = None, weight
    cell_responses, volumes = None, None
    if frame is not None:
        cell_responses, volumes = _coverage_inputs(data, frame)
        data, weight, calibration = _calibrate(data, frame, frame_method, weight)
    design = Design(
        strata=strata,
        psu=psu,
        weight=weight,
        fpc=fpc,
        lonely_psu=lonely_psu,  # type: ignore[arg-type]
        df=df_rule,  # type: ignore[arg-type]
        calibration=calibration,
    )
    all_by = list(dict.fromkeys(c for by in groupings for c in by))
    names = _unit_names(data, all_by, responses, names_file)
    settings: dict[str, Any] = {
        "version": index_version,
        "ci": ci,
        "confidence": confidence,
        "deff": deff_kind,
    }
    try:
        if engine == "dask":
            del data
            counts = _counts_on_dask(
                responses, scheduler, columns, form, design, by_specs, all_by, index_version
            )
        else:
            counts = counts_from_responses(
                data,
                form,
                design,
                by=all_by,
                index_versions=(index_version,),
                pooled=not replicated,
            )
            del data
        reps = None
        if replicated:
            reps = _replicate_weights(
                counts, design, variance_method, n_replicates, seed, replicate_weights
            ).with_mse(replicate_mse)
        if standings:
            result = satisfaction_indices(
                counts, form, design, by=groupings[0], replicates=reps, **settings
            )
            table = unit_standings(
                result,
                indicator=indicator,
                rank=rank,
                method=rank_method,  # type: ignore[arg-type]
                draws=draws,
                rng=np.random.default_rng(seed),
                rule=rule,
            )
        else:
            table = indices_by_groupings(
                counts, form, design, groupings, total=total, replicates=reps, **settings
            )
            if volumes is not None:
                table = with_coverage(table, groupings, cell_responses, volumes)
    except (AnalysisError, RankingError, ScoringError) as exc:
        raise click.ClickException(str(exc)) from None
    notes = run_notes(
        source=str(responses),
        form=form,
        by_specs=by_specs,
        design=design,
        weighting=weighting_note(weight_column, frame, frame_method),
        settings=settings,
        names=_names_note(names, names_file),
        totals=total and not standings and any(groupings),
        variance=_variance_note(reps, seed, replicate_weights),
    )
    for note in names.notes:
        notes[f"names: {note.split(':', 1)[0]}"] = note
        click.echo(f"Note: {note}", err=True)
    where = write_table(add_names(table, names), out, notes=notes)
    what = "units" if standings else "rows"
    click.echo(
        f"{len(table)} {what} written to {where} ({len(groupings)} grouping(s), "
        f"index version {index_version}, variance: {variance_method})",
        err=out == "-",
    )


def _check_form_ids(data: pd.DataFrame, form_id: str) -> None:
    """Refuse rows of other forms than ``form_id`` (when the export has a form_id column)."""
    if "form_id" in data.columns:
        present = {str(v) for v in data["form_id"].unique()}  # categorical: no per-row strings
        if present - {form_id}:
            others = sorted(present - {form_id})[:5]
            raise click.UsageError(f"the export holds responses of other forms {others}")


def _no_rows(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """The export's columns (those of ``columns`` it has) without rows, for the checks."""
    try:
        available = _export_columns(path)
    except AnalysisError as exc:
        raise click.UsageError(str(exc)) from None
    wanted = available if columns is None else [c for c in columns if c in available]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})


def _check_dask(responses: Path, frame: Path | None, scheduler: str | None) -> None:
    if not (responses.is_dir() or responses.suffix.lower() == ".parquet"):
        raise click.UsageError(
            "--engine dask reads Parquet (a file or a dataset directory); write one with "
            "sipas export responses --format parquet [--partition-by ...]"
        )
    if frame is not None:
        raise click.UsageError(
            "--frame needs the whole dataset's cell totals before any response's weight is "
            "known; use --engine local for calibrated weights"
        )
    if scheduler is not None and not scheduler.strip():
        raise click.UsageError("--scheduler: give an address such as tcp://10.0.0.5:8786")


def _prepare_partition(data: pd.DataFrame, form_id: str, by_specs: tuple[str, ...]) -> pd.DataFrame:
    """What the in-process engine does to the whole export, on one file of a dataset."""
    _check_form_ids(data, form_id)
    data, _ = _groupings(data, by_specs)
    return data


def _counts_on_dask(
    responses: Path,
    scheduler: str | None,
    columns: list[str] | None,
    form: Any,
    design: Design,
    by_specs: tuple[str, ...],
    by: list[str],
    index_version: str,
) -> pd.DataFrame:
    """The count table built on a Dask cluster (:mod:`analysis.distributed`)."""
    from functools import partial

    try:
        from distributed import CancelledError, KilledWorker
    except ImportError:
        raise click.UsageError("--engine dask needs Dask: pip install 'sipas[dask]'") from None

    from analysis.distributed import counts_on_cluster, dask_client

    prepare = partial(_prepare_partition, form_id=form.id, by_specs=by_specs)
    try:
        with dask_client(scheduler) as client:
            return counts_on_cluster(
                client, responses, columns, form, design, prepare, by, (index_version,)
            )
    except KilledWorker as exc:  # a worker died on a task, e.g. out of memory
        raise click.ClickException(
            f"--engine dask: a worker died while counting ({exc}); if it ran out of memory, "
            "partition the export into smaller files (e.g. --partition-by year,month,agency)"
        ) from None
    except CancelledError as exc:
        raise click.ClickException(
            f"--engine dask: the cluster cancelled the run ({exc})"
        ) from None
    except OSError as exc:  # no scheduler at that address, a timeout
        raise click.ClickException(f"--scheduler {scheduler}: {exc}") from None


def indices_by_groupings(
    counts: pd.DataFrame,
    form: Any,
    design: Design,
    groupings: list[list[str]],
    *,
    version: str,
    ci: str,
    confidence: float,
    deff: str = "auto",
    total: bool = False,
    replicates: ReplicateWeights | None = None,
) -> pd.DataFrame:
    """Estimate every grouping from one count table; stack them when there are several.

    With ``total``, every grouping that has group columns ends with the rows of the whole
    selection (``by=()``, estimated once from the same count table), its group columns set to
    :data:`ALL_GROUPS`. With ``replicates`` the SEs come from the replicate weights
    (:mod:`analysis.replicates`).
    """

    def estimate(by: Sequence[str]) -> pd.DataFrame:
        return satisfaction_indices(
            counts,
            form,
            design,
            by=by,
            version=version,  # type: ignore[arg-type]
            ci=ci,  # type: ignore[arg-type]
            confidence=confidence,
            deff=deff,  # type: ignore[arg-type]
            replicates=replicates,
        ).table

    tables = [estimate(by) for by in groupings]
    if total and any(groupings):
        whole = estimate(())
        pairs = zip(tables, groupings, strict=True)
        tables = [with_total(t, whole, by) if by else t for t, by in pairs]
    return tables[0] if len(tables) == 1 else stack_groupings(tables, groupings)


def with_total(table: pd.DataFrame, whole: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """``table`` (one grouping's rows) followed by ``whole`` with ``by`` set to ``(all)``."""
    part = table.copy()
    for col in by:  # categorical group labels would refuse the new label
        part[col] = part[col].astype(object)
    total = whole.assign(**{col: ALL_GROUPS for col in by})
    return pd.concat([part, total[list(part.columns)]], ignore_index=True)


def stack_groupings(tables: list[pd.DataFrame], groupings: list[list[str]]) -> pd.DataFrame:
    """One table for several groupings: ``grouping``, all group columns (blank if unused).

    ``grouping`` is the grouping's columns joined by ``,`` (``(all)`` for the whole sample).
    """
    group_cols = list(dict.fromkeys(c for by in groupings for c in by))
    parts = []
    for table, by in zip(tables, groupings, strict=True):
        part = table.copy()
        for col in by:  # categorical labels of different groupings do not concatenate well
            part[col] = part[col].astype(object)
        part.insert(0, "grouping", ",".join(by) or ALL_GROUPS)
        parts.append(part)
    stacked = pd.concat(parts, ignore_index=True)
    rest = [c for c in stacked.columns if c != "grouping" and c not in group_cols]
    return stacked[["grouping", *group_cols, *rest]]


COVERAGE_OUTPUT = ("responses", "dossiers", "coverage", "coverage_flag")
"""Columns ``--frame`` adds to groupings of frame cells (:func:`analysis.coverage.coverage`)."""


def _coverage_inputs(data: pd.DataFrame, frame: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Responses per frame cell (and frame period) and the frame, for :func:`with_coverage`."""
    from analysis.frames import DEFAULT_CELLS, load_frame, period_granularity, period_of

    try:
        table = load_frame(frame)
        missing = [c for c in DEFAULT_CELLS if c not in data.columns]
        if missing:
            raise ValueError(f"the responses have no {', '.join(missing)} column")
        cells = data[list(DEFAULT_CELLS)].astype(object)
        if "period" in table.columns:
            if "submitted_at" not in data.columns:
                raise ValueError("the frame has periods but the responses have no submitted_at")
            granularity = period_granularity(table["period"].astype(str))
            cells = cells.assign(period=period_of(data["submitted_at"], granularity).to_numpy())
    except ValueError as exc:
        raise click.ClickException(f"--frame {frame}: {exc}") from None
    counted = cells.groupby(list(cells.columns), dropna=False, sort=False).size()
    return counted.rename("responses").reset_index(), table


def with_coverage(
    table: pd.DataFrame,
    groupings: Sequence[Sequence[str]],
    responses: pd.DataFrame,
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Add :data:`COVERAGE_OUTPUT` to the rows of every grouping made of frame cell columns
    (``agency_code``, ``field_code``, both, or none); other groupings' rows stay blank."""
    from analysis.coverage import coverage
    from analysis.frames import DEFAULT_CELLS

    usable = [list(by) for by in groupings if set(by) <= set(DEFAULT_CELLS)]
    if not usable:
        return table
    out = table.assign(
        responses=pd.Series(pd.NA, index=table.index, dtype="Int64"),
        dossiers=np.nan,
        coverage=np.nan,
        coverage_flag="",
    )
    for by in usable:
        if len(groupings) > 1:
            rows = out["grouping"] == (",".join(by) or ALL_GROUPS)
        else:
            rows = pd.Series(True, index=out.index)
        covered = coverage(responses, frame, by=by)
        if by:
            keys = out.loc[rows, by].astype(str)
            covered = covered.assign(**{c: covered[c].astype(str) for c in by})
            found = keys.merge(covered, on=by, how="left")
            totals = (keys == ALL_GROUPS).all(axis=1).to_numpy()
            if totals.any():  # the grouping's total rows: the whole selection's coverage
                whole = coverage(responses, frame, by=[])
                for column in COVERAGE_OUTPUT:
                    found.loc[totals, column] = whole[column].iloc[0]
        else:
            found = pd.concat([covered] * int(rows.sum()), ignore_index=True)
        for column in COVERAGE_OUTPUT:
            values = found[column].to_numpy()
            out.loc[rows, column] = (
                values if column != "coverage_flag" else pd.Series(values).fillna("").to_numpy()
            )
    return out


def _unit_names(
    data: pd.DataFrame, by: Sequence[str], path: Path, names_file: Path | None
) -> UnitNames:
    """Names of the ``by`` unit codes: from ``--names`` if given, else the export's columns."""
    try:
        if names_file is not None:
            return names_from_file(names_file, by)
        return names_from_export(data, by, lambda: _submitted_at(path, len(data)))
    except AnalysisError as exc:
        raise click.UsageError(str(exc)) from None


def _submitted_at(path: Path, rows: int) -> pd.Series:
    """The export's ``submitted_at`` column (blank if it has none), read only when needed."""
    column = read_export(path, ["submitted_at"])
    return column["submitted_at"] if "submitted_at" in column else pd.Series([None] * rows)


def _names_note(names: UnitNames, names_file: Path | None) -> str:
    if not names:
        return "none (the export has no name columns; see --names)"
    return f"from {names_file}" if names_file is not None else "from the export's name columns"


def _calibrate(
    data: pd.DataFrame, frame: Path, method: str, base_weight: str | None
) -> tuple[pd.DataFrame, str, Any]:
    """Weights calibrated to ``frame`` from ``base_weight`` (or 1), and their Calibration."""
    from analysis.frames import DEFAULT_CELLS, load_frame
    from analysis.weighting import poststratify_to_frame, rake

    try:
        if method == "poststratify":
            result = poststratify_to_frame(data, frame, base_weight=base_weight)
        else:
            table = load_frame(frame)
            if "period" in table.columns:
                raise click.UsageError(
                    "--frame-method rake: the frame has periods; rake one period's frame, or "
                    "use --frame-method poststratify"
                )
            margins = {col: table.groupby(col)["dossiers"].sum() for col in DEFAULT_CELLS}
            result = rake(data, margins, base_weight=base_weight)
    except ValueError as exc:
        raise click.ClickException(f"--frame {frame}: {exc}") from None
    return result.apply(data, "_weight"), "_weight", result.calibration


def _load_rule(spec: str) -> Any:
    try:
        return load_rule(spec)
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"--par {spec}: {exc}") from None


def _replicate_weights(
    counts: pd.DataFrame,
    design: Design,
    method: str,
    replicates: int,
    seed: int,
    path: Path | None,
) -> ReplicateWeights:
    """The replicate weights of ``--variance``: read from ``path`` or drawn with ``seed``."""
    from analysis.estimators import prepare

    psu_index = prepare(counts, design).structure.psu
    kind: Any = method
    if path is not None:
        return read_replicate_weights(path, counts, psu_index, kind)
    return generate_replicate_weights(
        counts,
        psu_index,
        kind,
        replicates=replicates,
        rng=np.random.default_rng(seed),
        lonely_psu=design.lonely_psu,
    )


def _variance_note(reps: ReplicateWeights | None, seed: int, path: Path | None) -> str:
    """The ``variance`` note of the workbook."""
    if reps is None:
        return "Taylor linearisation (R svydesign); df = PSUs - strata with rows in the domain"
    source = f"read from {path}" if path is not None else f"drawn with seed {seed}"
    if reps.kind not in ("bootstrap", "subbootstrap") and path is None:
        source = "one per PSU (jackknife) or Hadamard half-sample (brr)"
    return f"{reps.describe()}; {source}"
