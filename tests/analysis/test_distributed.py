"""``sipas analyze DATASET --engine dask``: the count table built one Parquet file per task on a
real local Dask cluster gives the in-process engine's results (to 1e-12), whatever the design
and groupings; files that lack agencies or answer codes, and empty files, add nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.distributed import add_partials, counts_table, partial_counts
from analysis.exports import dataset_files, read_export
from tests.analysis.same_results import assert_same_results

BASE = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"
SMALL_FIELD = "F01"  # four of its responses make a small file: most agencies, codes absent


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference responses as a dataset partitioned by half-year, with a file of four
    responses (a few agencies and answer codes) and an empty file besides."""
    root = tmp_path_factory.mktemp("dataset")
    text = pacsv.ConvertOptions(column_types={"submitted_at": pa.string()})
    whole = pacsv.read_csv(BASE, convert_options=text)
    small = pc.equal(whole["field_code"], SMALL_FIELD)
    table = whole.filter(pc.invert(small))
    when = pc.strptime(table["submitted_at"], format="%Y-%m-%dT%H:%M:%SZ", unit="s")
    table = table.append_column("half", pc.if_else(pc.less(pc.month(when), 7), "H1", "H2"))
    partitioning = ds.partitioning(pa.schema([("half", pa.string())]), flavor="hive")
    ds.write_dataset(table, root, format="parquet", partitioning=partitioning)
    schema = pq.read_schema(root / "half=H1" / "part-0.parquet")
    few = whole.filter(small).slice(0, 4).select(schema.names).cast(schema)
    pq.write_table(few, root / "half=H1" / "part-few.parquet")
    pq.write_table(schema.empty_table(), root / "half=H2" / "part-empty.parquet")
    return root


def _analyze(dataset: Path, out: Path, *args: str) -> pd.DataFrame:
    result = CliRunner().invoke(
        analyze, [str(dataset), "--form", "sipas-2017", *args, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, encoding="utf-8-sig")


CASES = {
    "default design, several groupings": [
        "--by", "agency_code", "--by", "field_code", "--by", "agency_code,period:quarter",
    ],
    "strata, PSUs, weights, fpc, version B": [
        "--by", "agency_code", "--by", "", "--strata", "agency_code", "--psu", "counter_code",
        "--weight", "weight", "--fpc", "counters_total", "--index-version", "B", "--ci", "beta",
        "--lonely-psu", "adjust",
    ],
    "weights by month and half (the partition column)": [
        "--by", "half,period:month", "--weight", "base_weight", "--df", "design",
    ],
    "pairwise ranks": ["--by", "agency_code", "--rank", "--rank-method", "pairwise"],
}  # fmt: skip


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_dask_equals_local(cluster, dataset: Path, tmp_path: Path, args: list[str]) -> None:
    local = _analyze(dataset, tmp_path / "local.csv", *args)
    dask = _analyze(
        dataset,
        tmp_path / "dask.csv",
        *args,
        "--engine",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
    )
    assert len(local) > 10
    assert_same_results(dask, local)


def test_partial_tables_add_up_to_the_whole(dataset: Path, form17) -> None:
    """Summing the files' tables gives the whole table's rows (as sets of labelled sums)."""
    design = Design(strata="agency_code", psu="counter_code", weight="weight")
    columns = ["agency_code", "counter_code", "weight", "field_code", *form17.item_keys]
    files = dataset_files(dataset)
    parts = [
        partial_counts(dataset, f, columns, form17, design, lambda d: d, ["field_code"], ("A",))
        for f in files
    ]
    assert sum(p is None for p in parts) == 1  # the empty file
    assert len(files) == 4
    small = parts[[i for i, f in enumerate(files) if f.name == "part-few.parquet"][0]]
    assert small["stratum"].nunique() < 5  # lacks most agencies (the strata)
    summed = counts_table(add_partials(*parts), None)
    whole = counts_from_responses(
        read_export(dataset, columns, codes=form17.item_keys),
        form17,
        design,
        by=["field_code"],
        index_versions=("A",),
    )
    keys = [c for c in whole.columns if c not in ("n", "w", "w2")]
    merged = whole.astype({k: object for k in keys}).merge(
        summed.astype({k: object for k in keys}), on=keys, how="outer", indicator=True
    )
    assert (merged["_merge"] == "both").all()
    assert (merged["n_x"] == merged["n_y"]).all()
    np.testing.assert_allclose(merged["w_x"], merged["w_y"], rtol=1e-12)
    np.testing.assert_allclose(merged["w2_x"], merged["w2_y"], rtol=1e-12)
    for column in ("stratum", "cell", "field_code", "item"):
        assert list(summed[column].cat.categories) == list(whole[column].cat.categories)


def test_local_cluster_without_scheduler(dataset: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    args = ["--by", "field_code"]
    local = _analyze(dataset, tmp_path / "local.csv", *args)
    dask = _analyze(dataset, tmp_path / "dask.csv", *args, "--engine", "dask")
    assert_same_results(dask, local)


def test_a_bad_code_in_one_file_is_reported(cluster, dataset: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    for file in dataset_files(dataset):
        target = bad / file.relative_to(dataset)
        target.parent.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(file)
        if file.relative_to(dataset) == Path("half=H2", "part-0.parquet"):
            frame = table.to_pandas()
            frame.loc[0, "e1_1"] = 9
            table = pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)
        pq.write_table(table, target)
    result = CliRunner().invoke(
        analyze,
        [str(bad), "--form", "sipas-2017", "--engine", "dask", "--scheduler",
         cluster.scheduler_address, "--out", str(tmp_path / "r.csv")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "e1_1" in result.output and "9" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "dask", "--frame", str(BASE.parent / "frame.csv")], "--engine local"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler goes with --engine dask"),
    ],
)
def test_refusals(dataset: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(
        analyze, [str(dataset), "--form", "sipas-2017", *extra, "--out", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 2 and message in result.output


def test_csv_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        analyze,
        [str(BASE), "--form", "sipas-2017", "--engine", "dask", "--out", str(tmp_path / "r.csv")],
    )
    assert result.exit_code == 2 and "reads Parquet" in result.output
