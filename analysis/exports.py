"""Reading the wide response export (CSV, Parquet, Excel) for :func:`analysis.counts`.

Only the columns the analysis needs are read. Item codes come back as small nullable integers
(blank = ``<NA>``), identifier columns as categoricals (dictionary-encoded strings: no Python
string per row), weights as floats. CSV goes through pyarrow's multithreaded reader with
``newlines_in_values`` on, because the export's free-text ``comment`` column may hold quoted
commas, quotes and line breaks (pandas' ``engine="pyarrow"`` leaves that option off and then
fails on a quoted line break that falls on a block boundary). A UTF-8 byte-order mark is
skipped. If a code or number column holds text that is not a number, the file is read again
with those columns as text, so that :func:`analysis.counts.counts_from_responses` can name the
offending values.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.errors import InvalidResponsesError

__all__ = ["export_columns", "read_export"]


def export_columns(path: Path) -> list[str]:
    """The column names of an export file, without reading its rows."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), [])
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if suffix in (".xlsx", ".xlsm"):
        return [str(c) for c in pd.read_excel(path, nrows=0, engine="openpyxl").columns]
    raise InvalidResponsesError(
        f"unsupported responses file type {suffix!r} (use csv, parquet, xlsx)"
    )


def read_export(
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    codes: Sequence[str] = (),
    numbers: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a wide export; only ``columns`` (those present in the file) when given.

    Parameters
    ----------
    path : Path
        ``.csv``, ``.parquet``, ``.xlsx`` or ``.xlsm``.
    columns : sequence of str, optional
        Columns to read (absent ones are ignored, so that the caller reports them).
    codes : sequence of str
        Integer answer-code columns (CSV: read as ``Int16``, blank = ``<NA>``).
    numbers : sequence of str
        Numeric columns such as weights (CSV: ``float64``). Every other CSV column is read as
        text (categorical), so ``"007"`` stays ``"007"``.

    Raises
    ------
    InvalidResponsesError
        Unsupported file type, or a CSV that cannot be parsed.
    """
    available = export_columns(path)
    wanted = available if columns is None else [c for c in dict.fromkeys(columns) if c in available]
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path, columns=wanted, dtype_backend="numpy_nullable")
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=object, engine="openpyxl", usecols=wanted)
    return _read_csv(path, wanted, codes, numbers)


def _read_csv(
    path: Path, wanted: list[str], codes: Sequence[str], numbers: Sequence[str]
) -> pd.DataFrame:
    import pyarrow as pa

    try:
        return _arrow_csv(path, wanted, set(codes), set(numbers))
    except pa.ArrowInvalid:  # a code or number that is not one: read as text, check later
        return _arrow_csv(path, wanted, set(), set())


def _arrow_csv(path: Path, wanted: list[str], codes: set[str], numbers: set[str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    text = pa.dictionary(pa.int32(), pa.string())
    types = {
        c: pa.int16() if c in codes else pa.float64() if c in numbers else text for c in wanted
    }
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        if codes or numbers:
            raise
        raise InvalidResponsesError(f"cannot read {path.name} as CSV: {exc}") from None
    mapping = {pa.int16(): pd.Int16Dtype(), pa.float64(): pd.Float64Dtype()}
    frame = table.to_pandas(types_mapper=mapping.get)
    for column in wanted:  # text columns come back categorical; strip stray spaces
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories
            stripped = categories.astype(str).str.strip()
            if not stripped.equals(categories.astype(str)):
                frame[column] = (
                    series.astype(str).str.strip().where(series.notna()).astype("category")
                )
    return frame
