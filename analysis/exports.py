"""Reading the wide response export (CSV, Parquet, Excel) for :func:`analysis.counts`.

A Parquet export may also be a hive-partitioned dataset directory
(``year=2025/agency_code=STP/part-0.parquet``, as ``sipas export responses --partition-by``
writes it): its files are read as one table, and the partition columns come back as text
columns (categoricals) of their directory names, so ``agency_code`` is the same column whether
it was partitioned on or not. :func:`dataset_files` lists the files, and ``files=`` reads some
of them only (one partition per Dask task, :mod:`analysis.distributed`).

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
from typing import Any

import pandas as pd

from analysis.errors import InvalidResponsesError

__all__ = ["dataset_files", "export_columns", "read_export"]


def dataset_files(root: Path) -> list[Path]:
    """The Parquet files of a dataset directory, sorted (hidden and ``_`` files skipped).

    Raises
    ------
    InvalidResponsesError
        The directory holds no Parquet file.
    """
    files = sorted(
        p
        for p in root.rglob("*.parquet")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    )
    if not files:
        raise InvalidResponsesError(f"{root} holds no .parquet file")
    return files


def _partition_names(root: Path, files: Sequence[Path]) -> list[str]:
    """The hive partition columns (``key=value`` directories) of the dataset, outermost first.

    Raises
    ------
    InvalidResponsesError
        Files at different depths or with different keys.
    """
    layouts = {
        tuple(part.split("=", 1)[0] for part in f.relative_to(root).parts[:-1]) for f in files
    }
    if len(layouts) != 1:
        raise InvalidResponsesError(
            f"{root}: the files are not in one hive layout (key=value directories); found "
            f"{sorted('/'.join(layout) or '(top level)' for layout in layouts)[:3]}"
        )
    (layout,) = layouts
    if any("=" not in part for f in files for part in f.relative_to(root).parts[:-1]):
        raise InvalidResponsesError(f"{root}: a directory is not a key=value partition")
    return list(layout)


def _dataset(root: Path, files: Sequence[Path] | None = None):  # -> pyarrow.dataset.Dataset
    """``files`` (default: all) of the dataset at ``root`` (schema: the first file's)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    every = dataset_files(root)
    text = pa.dictionary(pa.int32(), pa.string())
    names = _partition_names(root, every)
    options = {
        "format": "parquet",
        "partitioning": ds.HivePartitioning.discover(schema=pa.schema([(n, text) for n in names])),
        "partition_base_dir": str(root),
    }
    chosen = every if files is None else files
    return ds.dataset([str(f) for f in chosen], **options)


def _nullable(kind: Any) -> Any:
    """pandas dtype of an Arrow type, as ``pd.read_parquet(dtype_backend="numpy_nullable")``."""
    import pyarrow as pa

    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    return mapping.get(kind)


def export_columns(path: Path) -> list[str]:
    """The column names of an export file or dataset directory, without reading its rows."""
    if path.is_dir():
        return list(_dataset(path).schema.names)
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
    files: Sequence[Path] | None = None,
) -> pd.DataFrame:
    """Read a wide export; only ``columns`` (those present in the file) when given.

    Parameters
    ----------
    path : Path
        ``.csv``, ``.parquet``, ``.xlsx`` or ``.xlsm``, or a Parquet dataset directory.
    columns : sequence of str, optional
        Columns to read (absent ones are ignored, so that the caller reports them).
    codes : sequence of str
        Integer answer-code columns (CSV: read as ``Int16``, blank = ``<NA>``).
    numbers : sequence of str
        Numeric columns such as weights (CSV: ``float64``). Every other CSV column is read as
        text (categorical), so ``"007"`` stays ``"007"``.
    files : sequence of Path, optional
        Dataset directory only: read these of its files (:func:`dataset_files`), not all.

    Raises
    ------
    InvalidResponsesError
        Unsupported file type, a CSV that cannot be parsed, a directory that is not a
        Parquet dataset.
    """
    available = export_columns(path)
    wanted = available if columns is None else [c for c in dict.fromkeys(columns) if c in available]
    if path.is_dir():
        table = _dataset(path, files).to_table(columns=wanted)
        return table.to_pandas(types_mapper=_nullable)
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
