"""``sipas export responses --format parquet`` (one file, or a hive-partitioned dataset) on SQLite
and PostgreSQL: the same columns and values as the CSV export, and the same ``sipas analyze``
results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.exports import read_export
from survey.demo import seed_responses, seed_units
from survey.exporting import export_columns
from tests.analysis.same_results import assert_same_results

NOW = datetime(2026, 3, 18, 8, 15, tzinfo=UTC)
N = 1200


@pytest.fixture
def seeded(app, runner, tmp_path: Path) -> Path:
    """Seeded responses and their CSV export (path)."""
    with app.app_context():
        seed_units()
        assert seed_responses(N, random_seed=5, now=NOW) == N
    csv_path = tmp_path / "responses.csv"
    result = runner.invoke(["export", "responses", "--out", str(csv_path)])
    assert result.exit_code == 0, result.output
    return csv_path


def _export(runner, *args: str) -> None:
    result = runner.invoke(["export", "responses", "--format", "parquet", *args])
    assert result.exit_code == 0, result.output
    assert f"Exported {N} response(s)." in result.stderr


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("response_id", key=lambda s: s.astype(str), ignore_index=True)


def _same_values(parquet: pd.DataFrame, csv: pd.DataFrame) -> None:
    """Every cell equal, whatever the dtype (text as strings, codes as numbers, blanks NA)."""
    assert list(parquet.columns) == list(csv.columns)
    for column in csv.columns:
        left, right = parquet[column], csv[column]
        if column == "submitted_at":
            left = left.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert (left.isna().to_numpy() == right.isna().to_numpy()).all(), column
        present = right.notna().to_numpy()
        assert (
            left.astype(str).to_numpy()[present] == right.astype(str).to_numpy()[present]
        ).all(), column


def test_parquet_file_round_trip(app, runner, seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "responses.parquet"
    _export(runner, "--out", str(out))
    schema = pq.read_schema(out)
    with app.app_context():
        assert schema.names == export_columns("sipas-counter")
    assert schema.field("e1_1").type == pa.int16()
    assert pa.types.is_timestamp(schema.field("submitted_at").type)
    assert schema.field("submitted_at").type.tz == "UTC"
    assert pa.types.is_dictionary(schema.field("agency_code").type)
    assert pq.ParquetFile(out).metadata.num_rows == N
    parquet = read_export(out).pipe(_by_id)
    csv = read_export(seeded).pipe(_by_id)
    assert str(parquet["e1_1"].dtype) == "Int16"
    _same_values(parquet, csv)


def test_partitioned_dataset_round_trip(runner, seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _export(runner, "--out", str(out), "--partition-by", "year,agency")
    files = sorted(out.rglob("*.parquet"))
    assert files and all(f.parent.parent.name.startswith("year=") for f in files)
    assert all(f.parent.name.startswith("agency_code=") for f in files)
    assert "agency_code" not in pq.read_schema(files[0]).names  # kept in the directory names
    parquet = read_export(out)
    assert str(parquet["agency_code"].dtype) == "category"
    assert set(parquet["year"].astype(str)) <= {"2025", "2026"}
    csv = read_export(seeded)
    parquet = parquet[csv.columns].pipe(_by_id)
    _same_values(parquet, csv.pipe(_by_id))


def test_dataset_analysis_equals_csv_analysis(runner, seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _export(runner, "--out", str(out), "--partition-by", "month,field")
    for by in ("agency_code", "field_code", "agency_code,period:quarter"):
        tables = []
        for source in (seeded, out):
            result_path = tmp_path / f"result-{source.name}.csv"
            args = [str(source), "--form", "sipas-counter", "--by", by]
            args += ["--strata", "agency_code", "--psu", "counter_code", "--lonely-psu", "adjust"]
            result = CliRunner().invoke(analyze, [*args, "--out", str(result_path)])
            assert result.exit_code == 0, result.output
            tables.append(pd.read_csv(result_path, encoding="utf-8-sig"))
        csv_result, dataset_result = tables
        assert len(csv_result) > 5
        assert_same_results(dataset_result, csv_result)


def test_refusals(runner, seeded: Path, tmp_path: Path) -> None:
    cases = [
        (["--format", "parquet"], "give --out"),
        (["--format", "csv", "--partition-by", "year"], "needs --format parquet"),
        (["--format", "parquet", "--out", "x", "--partition-by", "week"], "unknown key"),
        (["--format", "parquet", "--out", "x.parquet", "--overwrite"], "--overwrite goes with"),
    ]
    for args, message in cases:
        result = runner.invoke(["export", "responses", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me", encoding="utf-8")
    args = ["export", "responses", "--format", "parquet", "--out", str(busy), "--partition-by"]
    result = runner.invoke([*args, "agency"])
    assert result.exit_code == 2 and "not empty" in result.output
    result = runner.invoke([*args, "agency", "--overwrite"])
    assert result.exit_code == 2 and "notes.txt" in result.output
    assert (busy / "notes.txt").exists()


def test_overwrite_replaces_a_dataset(runner, seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    _export(runner, "--out", str(out), "--partition-by", "agency")
    _export(runner, "--out", str(out), "--partition-by", "field", "--overwrite")
    assert {p.name.split("=")[0] for p in out.iterdir()} == {"field_code"}
    data = read_export(out)
    assert len(data) == N and np.isin(data.columns, ["agency_code", "field_code"]).sum() == 2
