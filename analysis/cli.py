"""``sipas analyze``: satisfaction indices from a wide response export.

The lead mounts :data:`analyze` on the ``sipas`` command group. Example::

    sipas analyze responses.csv --form sipas-counter --by agency_code,period:quarter \\
        --frame volumes.csv --strata agency_code --psu counter_code --ci beta --out result.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import click
import pandas as pd

from analysis.counts import counts_from_responses
from analysis.design import Design, LonelyPSU
from analysis.errors import AnalysisError
from analysis.frames import period_of
from analysis.indices import CIMethod, satisfaction_indices

__all__ = ["analyze", "read_export", "resolve_by"]

PERIOD_GRANULARITIES = ("month", "quarter", "year")


def read_export(path: Path) -> pd.DataFrame:
    """Read a wide export (``.csv``, ``.parquet`` or ``.xlsx``) with codes kept as text."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=object, engine="openpyxl")
    raise click.UsageError(f"unsupported responses file type {suffix!r} (use csv, parquet, xlsx)")


def resolve_by(responses: pd.DataFrame, spec: str | None) -> tuple[pd.DataFrame, list[str]]:
    """Parse ``--by`` (``col,col`` and ``period:month|quarter|year``); add period columns."""
    by: list[str] = []
    for part in [p.strip() for p in (spec or "").split(",") if p.strip()]:
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


@click.command("analyze")
@click.argument("responses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--form", "form_spec", required=True, help="Form id (id@version) or TOML file.")
@click.option("--by", "by_spec", default=None, help="Group columns, e.g. agency_code,period:month.")
@click.option("--weight", default=None, help="Column of final weights (treated as fixed).")
@click.option(
    "--frame",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Dossier volumes per agency × field: post-stratify to them.",
)
@click.option("--strata", default=None, help="Column of design strata.")
@click.option("--psu", default=None, help="Column of PSUs (default: each response).")
@click.option("--fpc", default=None, help="Column: PSU sampling fraction or population count.")
@click.option("--ci", type=click.Choice(get_args(CIMethod)), default="logit", show_default=True)
@click.option("--level", "confidence", type=float, default=0.95, show_default=True)
@click.option("--index-version", type=click.Choice(["A", "B"]), default="A", show_default=True)
@click.option("--df", "df_rule", type=click.Choice(["domain", "design"]), default="domain")
@click.option("--lonely-psu", type=click.Choice(get_args(LonelyPSU)), default="fail")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def analyze(
    responses: Path,
    form_spec: str,
    by_spec: str | None,
    weight: str | None,
    frame: Path | None,
    strata: str | None,
    psu: str | None,
    fpc: str | None,
    ci: str,
    confidence: float,
    index_version: str,
    df_rule: str,
    lonely_psu: str,
    out: Path,
) -> None:
    """Compute SIPAS indices (criteria, factors, aspects, overall) with SEs and intervals.

    Tính chỉ số hài lòng SIPAS (tiêu chí, yếu tố, khía cạnh, tổng hợp) kèm sai số chuẩn và
    khoảng tin cậy.
    """
    if weight and frame:
        raise click.UsageError("use either --weight or --frame, not both")
    if not 0 < confidence < 1:
        raise click.UsageError("--level must be between 0 and 1, e.g. 0.95")
    form = _load_form(form_spec)
    data = read_export(responses)
    if "form_id" in data.columns and (data["form_id"].astype(str) != form.id).any():
        others = sorted(set(data["form_id"].astype(str)) - {form.id})[:5]
        raise click.UsageError(f"the export holds responses of other forms {others}")
    data, by = resolve_by(data, by_spec)
    for name, col in (("--strata", strata), ("--psu", psu), ("--fpc", fpc), ("--weight", weight)):
        if col and col not in data.columns:
            raise click.UsageError(f"{name}: unknown column {col!r}")
    calibration = None
    if frame is not None:
        data, weight, calibration = _poststratify(data, frame)
    design = Design(
        strata=strata,
        psu=psu,
        weight=weight,
        fpc=fpc,
        lonely_psu=lonely_psu,  # type: ignore[arg-type]
        df=df_rule,  # type: ignore[arg-type]
        calibration=calibration,
    )
    try:
        counts = counts_from_responses(data, form, design, by=by)
        result = satisfaction_indices(
            counts,
            form,
            design,
            by=by,
            version=index_version,  # type: ignore[arg-type]
            ci=ci,  # type: ignore[arg-type]
            confidence=confidence,
        )
    except AnalysisError as exc:
        raise click.ClickException(str(exc)) from None
    result.table.to_csv(out, index=False)
    click.echo(f"{len(result.table)} rows written to {out} (index version {index_version})")


def _poststratify(data: pd.DataFrame, frame: Path) -> tuple[pd.DataFrame, str, Any]:
    try:
        from analysis.weighting import poststratify_to_frame
    except ImportError:
        raise click.ClickException(
            "--frame needs analysis.weighting.poststratify_to_frame, which is not available "
            "in this version"
        ) from None
    try:
        result = poststratify_to_frame(data, frame)
    except ValueError as exc:
        raise click.ClickException(f"--frame {frame}: {exc}") from None
    return result.apply(data, "_weight"), "_weight", result.calibration
