"""The wide export as Parquet: one file, or a hive-partitioned dataset directory.

Same columns, in the same order, as the CSV export (:mod:`survey.exporting`, which builds the
rows; comments are masked the same way). Types: ``submitted_at`` a UTC timestamp (whole
seconds, as in the CSV), ``form_version`` an integer, item codes nullable ``int16`` (null when
skipped), the identifier columns (form, agency, counter, field, procedure, channel, flags)
dictionary-encoded strings (read back as categoricals), ``response_id`` and ``comment``
strings; blank text is null. Unlike the CSV, no cell gets the spreadsheet-formula apostrophe:
Parquet is not opened by spreadsheets, so the values stay as stored.

Rows are read page by page and written in row groups of :data:`ROW_GROUP` rows, so memory does
not grow with the number of responses. ``partition_by`` (keys of :data:`PARTITION_KEYS`) writes
a dataset directory instead: ``year=2025/agency_code=STP/part-0.parquet``, the partition columns
taken out of the files and kept in the directory names, as hive-partitioned readers (pyarrow,
pandas, DuckDB, Spark, ``sipas analyze``) expect. ``year`` (``2025``) and ``month``
(``2025-07``, the labels of ``--by period:month``) come from ``submitted_at``. Each partition
buffers at most :data:`DATASET_ROW_GROUP` rows before writing them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from survey.exporting import META_COLUMNS, NAME_COLUMNS, iter_rows

__all__ = [
    "PARTITION_KEYS",
    "ExportTargetError",
    "export_parquet",
    "export_schema",
    "partition_columns",
]

PARTITION_KEYS: dict[str, str] = {
    "year": "year",
    "month": "month",
    "agency": "agency_code",
    "field": "field_code",
    "form": "form_id",
}
"""``--partition-by`` key → the dataset's partition column."""
ROW_GROUP = 65_536
DATASET_ROW_GROUP = 10_000
PAGE_ROWS = 2_000
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
"""Directory value of a null partition key (``field_code=__HIVE_DEFAULT_PARTITION__``)."""
_TEXT = pa.dictionary(pa.int32(), pa.string())
_DICTIONARY_COLUMNS = frozenset((*META_COLUMNS, *NAME_COLUMNS)) - {
    "response_id",
    "submitted_at",
    "form_version",
}


class ExportTargetError(ValueError):
    """The ``--out`` target or ``--partition-by`` keys cannot be used."""


def export_schema(columns: Sequence[str]) -> pa.Schema:
    """Arrow schema of the export with these columns (:func:`survey.exporting.export_columns`)."""
    fields = []
    for name in columns:
        if name == "submitted_at":
            kind: pa.DataType = pa.timestamp("s", tz="UTC")
        elif name == "form_version":
            kind = pa.int32()
        elif name in _DICTIONARY_COLUMNS:
            kind = _TEXT
        elif name in ("response_id", "comment"):
            kind = pa.string()
        else:
            kind = pa.int16()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def partition_columns(keys: Sequence[str]) -> list[str]:
    """Partition columns of ``--partition-by`` keys (``agency`` → ``agency_code``), in order.

    Raises
    ------
    ExportTargetError
        An unknown or repeated key.
    """
    unknown = [k for k in keys if k not in PARTITION_KEYS]
    if unknown:
        raise ExportTargetError(
            f"--partition-by: unknown key(s) {unknown}; use {', '.join(PARTITION_KEYS)}"
        )
    if len(set(keys)) != len(keys):
        raise ExportTargetError(f"--partition-by: a key is repeated in {list(keys)}")
    return [PARTITION_KEYS[k] for k in keys]


def _batches(rows: Iterator[list[Any]], schema: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
    """Record batches of ``size`` rows from the rows of :func:`survey.exporting.iter_rows`."""
    page: list[list[Any]] = []
    for row in rows:
        page.append(row)
        if len(page) == size:
            yield _batch(page, schema)
            page = []
    if page:
        yield _batch(page, schema)


def _batch(page: list[list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field, values in zip(schema, zip(*page, strict=True), strict=True):
        if field.name == "submitted_at":
            arrays.append(pa.array(values, pa.string()).cast(field.type))
        elif pa.types.is_dictionary(field.type) or pa.types.is_string(field.type):
            text = pa.array([v if v != "" else None for v in values], pa.string())
            arrays.append(text.dictionary_encode() if pa.types.is_dictionary(field.type) else text)
        else:
            arrays.append(pa.array(values, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _partition_values(batch: pa.RecordBatch, columns: list[str]) -> list[tuple[str | None, ...]]:
    """The partition values of every row (``year``/``month`` from submitted_at)."""
    import pyarrow.compute as pc

    values = []
    for column in columns:
        if column in ("year", "month"):
            fmt = "%Y" if column == "year" else "%Y-%m"
            value = pc.strftime(batch.column("submitted_at"), format=fmt)
        else:
            value = batch.column(column).cast(pa.string())
        values.append(value.to_pylist())
    return list(zip(*values, strict=True))


def _directory(columns: list[str], values: tuple[str | None, ...]) -> str:
    """``year=2025/agency_code=STP`` (values URI-encoded; null as Hive's default partition)."""
    return "/".join(
        f"{c}={HIVE_NULL if v is None else quote(v, safe='')}"
        for c, v in zip(columns, values, strict=True)
    )


class _DatasetWriter:
    """One open Parquet file per partition; rows buffered up to ``DATASET_ROW_GROUP`` each."""

    def __init__(self, root: Path, schema: pa.Schema, columns: list[str]) -> None:
        self.root = root
        self.columns = columns
        self.kept = [n for n in schema.names if n not in columns]
        self.schema = pa.schema([schema.field(n) for n in self.kept])
        self.writers: dict[tuple[str | None, ...], Any] = {}
        self.pending: dict[tuple[str | None, ...], list[pa.RecordBatch]] = {}

    def write(self, batch: pa.RecordBatch) -> None:
        rows: dict[tuple[str | None, ...], list[int]] = {}
        for i, key in enumerate(_partition_values(batch, self.columns)):
            rows.setdefault(key, []).append(i)
        kept = batch.select(self.kept)
        for key, where in rows.items():
            part = kept.take(pa.array(where, pa.int64()))
            pending = self.pending.setdefault(key, [])
            pending.append(part)
            if sum(b.num_rows for b in pending) >= DATASET_ROW_GROUP:
                self._flush(key)

    def _flush(self, key: tuple[str | None, ...]) -> None:
        import pyarrow.parquet as pq

        batches = self.pending.pop(key, [])
        if not batches:
            return
        if key not in self.writers:
            directory = self.root / _directory(self.columns, key)
            directory.mkdir(parents=True, exist_ok=True)
            self.writers[key] = pq.ParquetWriter(directory / "part-0.parquet", self.schema)
        self.writers[key].write_table(pa.Table.from_batches(batches, self.schema))

    def close(self) -> None:
        for key in list(self.pending):
            self._flush(key)
        for writer in self.writers.values():
            writer.close()


def _prepare_directory(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty directory unless ``overwrite`` and it holds only a dataset."""
    if out.exists() and not out.is_dir():
        raise ExportTargetError(f"--out {out}: exists and is not a directory")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return
    if not overwrite:
        raise ExportTargetError(
            f"--out {out}: the directory is not empty; choose a new one or add --overwrite"
        )
    foreign = [
        p
        for p in out.rglob("*")
        if not (p.is_dir() and "=" in p.name) and not (p.is_file() and p.suffix == ".parquet")
    ]
    if foreign:
        raise ExportTargetError(
            f"--out {out}: --overwrite replaces only a Parquet dataset, but the directory holds "
            f"{foreign[0].relative_to(out)}"
        )
    shutil.rmtree(out)
    out.mkdir(parents=True)


def export_parquet(
    out: Path,
    form_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    partition_by: Sequence[str] = (),
    overwrite: bool = False,
) -> int:
    """Write the export of ``form_id`` to ``out`` (a file, or a dataset directory with
    ``partition_by`` keys); return the number of responses. Needs an application context.

    Raises
    ------
    ExportTargetError
        Unknown partition keys; ``out`` a non-empty directory without ``overwrite``, or one
        holding other files than a dataset.
    """
    import pyarrow.parquet as pq

    columns = partition_columns(partition_by)
    if columns:
        _prepare_directory(out, overwrite)
    rows = iter_rows(form_id, since=since, until=until)
    schema = export_schema(next(rows))
    count = 0

    def counted(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in batches:
            count += batch.num_rows
            yield batch

    if not columns:
        with pq.ParquetWriter(out, schema) as writer:
            for batch in counted(_batches(rows, schema, ROW_GROUP)):
                writer.write_batch(batch)
            if count == 0:
                writer.write_table(schema.empty_table())
        return count

    writer = _DatasetWriter(out, schema, columns)
    try:
        for batch in counted(_batches(rows, schema, PAGE_ROWS)):
            writer.write(batch)
    finally:
        writer.close()
    return count
