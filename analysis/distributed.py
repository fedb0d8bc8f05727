"""The count table of a Parquet dataset built on a Dask cluster (``sipas analyze --engine dask``).

The count table (:mod:`analysis.counts`) is a sum over responses: every row is
``(stratum, psu, cell, domains, item, answer)`` with the sums ``n``, ``w``, ``w2`` (and ``w0``)
of the responses that fall in it. So the table of a dataset is the sum of the tables of its
files. Each Dask task reads one file of the dataset (only the columns the analysis needs, the
partition columns from its directory names), derives the ``period`` column when a ``--by``
asks for it, and runs :func:`analysis.counts.counts_from_responses` on it; the partial tables
are then added in a tree (:data:`FAN_IN` at a time) on the workers, and only the final table
comes back to the client, which estimates exactly as the in-process engine does. A worker
holds one file's columns and partial tables, never the dataset.

What must be the same in every task is fixed before: the form (its item keys, answer codes
and hierarchy: the item names of every partial table are the same), the design and the
domain columns. Domain levels, strata and PSUs are not: a file that lacks an agency or an
answer code has no rows for it, and the sum aligns rows on their labels. Labels are kept as
plain values in the partial tables and made categorical at the end, as the in-process build
makes them (categories sorted). The fpc must be constant within a stratum across files; that
is checked on the summed table. A file without rows adds nothing.

Calibration to a frame (``--frame``) is not served: the calibrated weights of a response
depend on totals over the whole dataset, so the in-process engine is needed for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.errors import InvalidResponsesError
from analysis.exports import dataset_files, read_export

__all__ = ["FAN_IN", "add_partials", "counts_on_cluster", "dask_client", "partial_counts"]

FAN_IN = 8
"""Partial tables added together by one reduction task."""
_SUMS = ("n", "w", "w2", "w0")


def partial_counts(
    root: Path,
    file: Path | None,
    columns: list[str] | None,
    form: Any,
    design: Design,
    prepare: Callable[[pd.DataFrame], pd.DataFrame],
    by: list[str],
    index_versions: tuple[str, ...],
) -> pd.DataFrame | None:
    """The count table of one file of the dataset at ``root`` as plain columns (or ``None``
    when the file has no rows).

    ``file`` ``None`` reads ``root`` itself (a single Parquet file). ``prepare`` checks the
    rows and adds derived columns (``period``) before counting. The ``item`` column holds the
    item's position in the table's item names (the same in every partial table).
    """
    codes = list(form.item_keys)
    files = None if file is None else [file]
    data = read_export(root, columns, codes=codes, files=files)
    if len(data) == 0:
        return None
    data = prepare(data)
    counts = counts_from_responses(data, form, design, by=by, index_versions=index_versions)
    del data
    plain = {}
    for column in counts.columns:
        values = counts[column]
        if column == "item":
            plain[column] = values.cat.codes.to_numpy(np.int32)
        elif isinstance(values.dtype, pd.CategoricalDtype):
            plain[column] = np.asarray(values.astype(object))
        else:
            plain[column] = values.to_numpy()
    partial = pd.DataFrame(plain)
    partial.attrs["items"] = list(counts["item"].cat.categories)
    return partial


def add_partials(*parts: pd.DataFrame | None) -> pd.DataFrame | None:
    """Sum partial count tables row by row of equal labels (``None`` parts add nothing)."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    items = present[0].attrs["items"]
    if any(p.attrs["items"] != items for p in present[1:]):
        raise InvalidResponsesError("partial count tables of different item lists")
    if len(present) == 1:
        return present[0]
    stacked = pd.concat(present, ignore_index=True)
    keys = [c for c in stacked.columns if c not in _SUMS]
    summed = stacked.groupby(keys, sort=False, dropna=False).sum().reset_index()
    summed = summed[list(stacked.columns)]
    summed.attrs["items"] = items
    return summed


def counts_table(partial: pd.DataFrame | None, fpc: str | None) -> pd.DataFrame:
    """The count table from the summed partial tables, typed as the in-process build types it.

    Raises
    ------
    InvalidResponsesError
        No rows at all; the fpc is not constant within a stratum.
    """
    if partial is None:
        raise InvalidResponsesError("there are no responses to analyse")
    table = partial.copy()
    items = partial.attrs["items"]
    for column in table.columns:
        if column == "item":
            table[column] = pd.Categorical.from_codes(table[column], categories=pd.Index(items))
        elif column in ("stratum", "cell") or (
            column not in _SUMS and column not in ("psu", "answer", "fpc")
        ):
            table[column] = pd.Categorical(table[column])
    table["n"] = table["n"].astype(np.int64)
    if "fpc" in table.columns:
        per_stratum = table.groupby("stratum", observed=True)["fpc"].nunique()
        if (per_stratum > 1).any():
            raise InvalidResponsesError(f"fpc column {fpc!r} is not constant within strata")
    table.attrs = {}
    return table


@contextmanager
def dask_client(scheduler: str | None):  # -> Iterator[distributed.Client]
    """A client of the scheduler at ``scheduler``, or of a new local cluster (one process and
    one thread per CPU) closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InvalidResponsesError("--engine dask needs Dask: pip install 'sipas[dask]'") from None
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    workers = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def counts_on_cluster(
    client: Any,
    path: Path,
    columns: list[str] | None,
    form: Any,
    design: Design,
    prepare: Callable[[pd.DataFrame], pd.DataFrame],
    by: Sequence[str],
    index_versions: tuple[str, ...],
) -> pd.DataFrame:
    """The count table of the Parquet file or dataset directory ``path``, built on ``client``'s
    workers one file per task and summed in a tree; the same table as
    :func:`analysis.counts.counts_from_responses` on the whole dataset (up to row order and
    summation round-off)."""
    files: list[Path | None] = list(dataset_files(path)) if path.is_dir() else [None]
    common = (columns, form, design, prepare, list(by), tuple(index_versions))
    futures = client.map(lambda f: partial_counts(path, f, *common), files, pure=False)
    while len(futures) > 1:
        futures = [
            client.submit(add_partials, *futures[i : i + FAN_IN], pure=False)
            for i in range(0, len(futures), FAN_IN)
        ]
    return counts_table(futures[0].result(), design.fpc)
