"""The tables of a report page as CSV or XLSX (``format=csv`` / ``format=xlsx``).

CSV is the page's main table in the long format of ``sipas analyze`` (group columns, then
``level, indicator, estimate, se, ci_low, ci_high, n, n_eff, deff, df, suppressed, …``) plus the
unit and field names, so that a page can be checked against ``sipas analyze``. XLSX has one
sheet per table of the page, rounded display formats, and a ``Notes`` sheet with the filters,
design, weighting, interval method, reliability rule, the date and the software version. Every
cell that could start a formula is neutralised (:mod:`analysis.spreadsheets`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

import pandas as pd
from flask import Response

from analysis.spreadsheets import write_csv, write_xlsx

__all__ = ["NUMBER_FORMATS", "download", "software_version"]

NUMBER_FORMATS = {
    "estimate": "0.0",
    "se": "0.00",
    "ci_low": "0.0",
    "ci_high": "0.0",
    "n_eff": "0",
    "deff": "0.00",
    "df": "0",
    "previous": "0.0",
    "change": "0.0",
    "p_province": "0.000",
    "change_p": "0.000",
    "dossiers": "#,##0",
    "responses": "#,##0",
    "coverage": "0.0%",
    "points": "0.00",
}

_MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def software_version() -> str:
    try:
        return version("sipas")
    except PackageNotFoundError:
        return "unknown"


def download(
    fmt: str,
    filename: str,
    tables: Mapping[str, pd.DataFrame],
    notes: Mapping[str, str],
) -> Response:
    """The response for ``format=csv`` (the first table) or ``format=xlsx`` (every table)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    if fmt == "csv":
        stream = io.StringIO()
        stream.write("\ufeff")  # a byte-order mark: Excel then reads Vietnamese text correctly
        write_csv(next(iter(tables.values())), stream)
        body: bytes = stream.getvalue().encode("utf-8")
    else:
        buffer = io.BytesIO()
        full_notes = {**notes, "created": stamp, "software": f"sipas {software_version()}"}
        write_xlsx(tables, buffer, notes=full_notes, number_formats=NUMBER_FORMATS)
        body = buffer.getvalue()
    return Response(
        body,
        mimetype=_MIMETYPES[fmt].split(";")[0],
        headers={
            "Content-Type": _MIMETYPES[fmt],
            "Content-Disposition": f'attachment; filename="{filename}-{stamp}.{fmt}"',
        },
    )
