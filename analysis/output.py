"""Writing result tables of ``sipas analyze`` and ``sipas analyze-db``, and explaining them.

``--out -`` writes CSV to standard output, a ``.xlsx`` name a workbook (rounded display formats
and a ``Notes`` sheet: what was computed, how, and what every flag and note means), any other
name a CSV file (UTF-8 with BOM, full precision). Every writer is from
:mod:`analysis.spreadsheets`, so no text cell can become a formula. The explanations come from
:func:`analysis.reliability.explanations` and :func:`analysis.intervals.ci_notes`, the same
texts the engine writes.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import pandas as pd

from analysis.design import Design
from analysis.intervals import ci_notes
from analysis.reliability import explanations
from analysis.spreadsheets import write_csv, write_xlsx

__all__ = [
    "OUTPUT_REFUSED",
    "RESULT_NUMBER_FORMATS",
    "TOTALS_NOTE",
    "check_out",
    "help_epilog",
    "run_notes",
    "weighting_note",
    "write_table",
]

OUTPUT_REFUSED = (".xlsm", ".xls", ".ods", ".parquet", ".json")
"""``--out`` extensions refused (they would promise a format that is not written)."""


def help_epilog() -> str:
    """``sipas analyze --help``'s explanation of the output columns, flags and notes."""
    reliability = explanations()
    lines = [
        "\b",
        "Output (one row per group x indicator): group columns, level (criterion, factor,",
        "aspect, sipas), indicator, estimate, se, ci_low, ci_high (0-100), n (valid answers;",
        "respondents for an index), n_eff (effective sample size n* = min(n, sigma2/V) on the",
        "with-replacement SRS variance), deff (V over the SRS variance, see --deff), df,",
        "suppressed, suppression_reason, flags, ci_method (method used), ci_note, version.",
        "Rows are never dropped: suppressed rows say why (NCHS 2017 presentation standard).",
        "",
        "\b",
        "Names: a unit code column (agency_code, counter_code, field_code, procedure_code) is",
        "followed by its name (agency_name, ...; agency_code also by agency_parent_code and",
        "agency_parent_name) when the export has name columns or --names gives them.",
        "Totals: every --by grouping ends with the rows of the whole selection, its group",
        "columns (all), estimated from the same count table (--no-total leaves them out).",
        "Several --by: a first column grouping says which rows belong to which.",
        "--variance: se, ci_low, ci_high, deff, n_eff and df come from Taylor linearisation",
        "(default) or from replicate weights (bootstrap, subbootstrap, jk1, jkn, brr; R's",
        "as.svrepdesign). With replicates df is the rank of the replicate weights of the PSUs",
        "in the domain minus 1 (R's degf); estimates and n are unchanged. The Notes sheet's",
        "'variance' line says which was used.",
        "",
        "\b",
        "suppression_reason:",
        *_explained(reliability["suppression_reason"]),
        "",
        "\b",
        "flags (';'-separated, the row is shown):",
        *_explained(reliability["flags"]),
        "",
        "\b",
        "ci_note:",
        *_explained(ci_notes()),
        "",
        "\b",
        "--rank and/or --par RULE write one row per unit instead (one --by with one column):",
        "  the unit, level, indicator, estimate, se, ci_low, ci_high, n, n_eff, suppressed;",
        "  rank, rank_low, rank_high, of (and mean_rank, p_best with --rank-method",
        "  monte_carlo); par_points, par_max_points, par_rule, par_detail, points_<indicator>.",
        "",
        "\b",
        "With --frame, groupings of frame cells (agency_code, field_code, both, or none) also",
        "get responses, dossiers, coverage (responses per dossier; blank when the frame has no",
        "cell of the group or no dossiers) and coverage_flag: low (coverage below 1%),",
        "excess (more responses than dossiers), not_in_frame, no_frame (no frame period), or",
        "blank. Other groupings leave them blank.",
        "",
        "Guide: docs/analysis.md.",
    ]
    return "\n".join(lines)


def _explained(meanings: dict[str, str]) -> list[str]:
    lines = []
    for text, meaning in meanings.items():
        lines.append(f"  {text}")
        lines += textwrap.wrap(meaning, width=84, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return lines


def check_out(out: str) -> None:
    """Refuse an ``--out`` whose extension promises a format these commands do not write.

    Raises
    ------
    click.UsageError
        ``--out result.parquet`` and the like (CSV, ``.xlsx`` and ``-`` are written).
    """
    suffix = Path(out).suffix.lower()
    if out != "-" and suffix in OUTPUT_REFUSED:
        raise click.UsageError(
            f"--out {out}: {suffix} output is not available; write .xlsx, .csv, or - for CSV "
            "on standard output."
        )


TOTALS_NOTE = (
    "every grouping ends with the rows of the whole selection, its group columns (all); they "
    "are estimated from the same count table, not summed from the groups' rows"
)

RESULT_NUMBER_FORMATS: dict[str, str] = {
    "estimate": "0.000",
    "se": "0.0000",
    "ci_low": "0.000",
    "ci_high": "0.000",
    "n_eff": "0.0",
    "deff": "0.00",
    "df": "0",
    "mean_rank": "0.0",
    "p_best": "0.000",
    "par_points": "0.00",
}
"""Excel number formats of the result columns (the stored values keep full precision)."""


def write_table(table: pd.DataFrame, out: str, *, notes: Mapping[str, str] | None = None) -> str:
    """Write a result table: CSV on standard output for ``-``, XLSX for ``.xlsx``, else CSV.

    Every format neutralises text cells (:mod:`analysis.spreadsheets`). The workbook has one
    sheet ``indices`` with rounded display formats (:data:`RESULT_NUMBER_FORMATS`) and, when
    ``notes`` is given, a ``Notes`` sheet. Files keep full precision.

    Returns
    -------
    str
        Where it went, for the summary message.
    """
    if out == "-":
        write_csv(table, sys.stdout)
        sys.stdout.flush()
        return "standard output"
    if Path(out).suffix.lower() == ".xlsx":
        formats = {**RESULT_NUMBER_FORMATS}
        formats.update(
            {f"points_{c[7:]}": "0.00" for c in table.columns if c.startswith("points_")}
        )
        write_xlsx({"indices": table}, out, notes=notes, number_formats=formats)
    else:
        write_csv(table, out)
    return out


def run_notes(
    *,
    source: str,
    form: Any,
    by_specs: Sequence[str],
    design: Design,
    weighting: str,
    settings: Mapping[str, Any],
    names: str | None = None,
    totals: bool = False,
    variance: str = "Taylor linearisation (R svydesign)",
) -> dict[str, str]:
    """The ``Notes`` sheet of an XLSX result: what was computed, how, and what flags mean."""
    notes = {
        "source": source,
        "form": str(form.id),
        "form version": str(form.version),
        "groupings": "; ".join(by_specs) or "(all)",
        **({"totals": TOTALS_NOTE} if totals else {}),
        "design": (
            f"strata={design.strata or 'none'}, PSU={design.psu or 'each response'}, "
            f"fpc={design.fpc or 'none'}, lonely PSU={design.lonely_psu}, df={design.df}"
        ),
        "weighting": weighting,
        **({"unit names": names} if names is not None else {}),
        "variance": variance,
        "index version": str(settings["version"]),
        "confidence interval": f"{settings['ci']} at {100 * float(settings['confidence']):g}%",
        "design effect": f"deff={settings['deff']}",
        "reliability rule": (
            "NCHS Data Presentation Standard for Proportions (2017): n_eff = min(n, "
            "sigma2/V) on the with-replacement SRS variance"
        ),
    }
    reliability = explanations()
    for column, meanings in (
        ("suppression_reason", reliability["suppression_reason"]),
        ("flags", reliability["flags"]),
        ("ci_note", ci_notes()),
    ):
        for text, meaning in meanings.items():
            notes[f"{column}: {text}"] = meaning
    return notes


def weighting_note(weight: str | None, frame: Path | None, method: str) -> str:
    """The ``weighting`` note: fixed weights, none, or base weights calibrated to a frame."""
    if frame is None:
        return f"weights from column {weight} (fixed)" if weight else "none (each response once)"
    base = f"base weights from column {weight}" if weight else "base weights 1"
    return f"{base}, {method} to the dossier volumes of {frame}"
