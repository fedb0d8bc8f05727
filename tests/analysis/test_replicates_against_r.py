"""Replicate-weight variance against R's ``as.svrepdesign`` (tests/reference/oracle_replicates.R).

Reads ``tests/reference/out/<dataset>/replicates.csv.gz`` and the replicate multipliers R drew
(``bootstrap_repweights.csv.gz``, ``brr_repweights.csv.gz``) and checks that
``satisfaction_indices(replicates=...)`` reproduces R's estimates, SEs and ``degf`` to
``rtol=1e-8``: JK1 (unstratified cluster design) and JKn (stratified, also ``mse=TRUE``) with
replicates the engine generates, the bootstrap and BRR with R's own replicates. Criterion
shares (``svymean(~s_j)`` of the answered subset), index A (``svycontrast`` of the replicate
totals) and index B (``svymean(~r_k)``) in the overall, agency and field domains.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.estimators import prepare
from analysis.indices import satisfaction_indices
from analysis.replicates import generate_replicate_weights, read_replicate_weights
from forms import load_form

REFERENCE = Path(__file__).parents[1] / "reference"
OUT = Path(os.environ.get("SIPAS_ORACLE_OUT", REFERENCE / "out"))
DATASETS = ("base", "lonely")
RTOL, ATOL = 1e-8, 1e-12
DOMAIN_BY = {"overall": [], "agency": ["agency_code"], "field": ["field_code"]}


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"R reference {path} is not there yet (run oracle_replicates.R)")
    return path


@cache
def _form():
    return load_form("sipas-2017")


@cache
def _responses(dataset: str, pairs: bool) -> pd.DataFrame:
    df = pd.read_csv(
        _require(REFERENCE / "data" / dataset / "responses.csv"),
        dtype={"agency_code": str, "counter_code": str, "field_code": str},
    )
    if pairs:  # oracle_replicates.R's two_psu_subset: first two counters of agencies with 2+
        firsts = df.groupby("agency_code")["counter_code"].agg(lambda c: sorted(set(c))[:2])
        keep = {c for cs in firsts if len(cs) == 2 for c in cs}
        df = df[df["counter_code"].isin(keep)].reset_index(drop=True)
    return df


def _design(name: str) -> Design:
    if name == "clus":
        return Design(psu="counter_code", weight="weight")
    return Design(strata="agency_code", psu="counter_code", weight="weight", lonely_psu="certainty")


@cache
def _counts(dataset: str, design_name: str):
    design = _design(design_name)
    df = _responses(dataset, design_name == "pairs")
    counts = counts_from_responses(df, _form(), design, by=["agency_code", "field_code"])
    return counts, design, prepare(counts, design).structure.psu


@cache
def _weights(dataset: str, kind: str, design_name: str, mse: bool):
    counts, design, psu = _counts(dataset, design_name)
    if kind in ("jk1", "jkn"):
        weights = generate_replicate_weights(counts, psu, kind, lonely_psu=design.lonely_psu)
    else:
        path = _require(OUT / dataset / f"{kind}_repweights.csv.gz")
        weights = read_replicate_weights(path, counts, psu, kind)
    return weights.with_mse(mse)


@cache
def _ours(dataset, kind, design_name, mse, domain_type, version):
    counts, design, _ = _counts(dataset, design_name)
    by = DOMAIN_BY[domain_type]
    table = satisfaction_indices(
        counts,
        _form(),
        design,
        by=by,
        version=version,
        replicates=_weights(dataset, kind, design_name, mse),
    ).table
    key = table[by[0]].astype(str) if by else pd.Series("ALL", index=table.index)
    return table.assign(domain=key.to_numpy()).set_index(["domain", "indicator"])


def _reference(dataset: str) -> pd.DataFrame:
    return pd.read_csv(
        _require(OUT / dataset / "replicates.csv.gz"),
        dtype={"domain": str, "version": str, "error": str, "note": str},
    )


def _close(actual, desired, what):
    np.testing.assert_allclose(
        np.asarray(actual, float), np.asarray(desired, float), rtol=RTOL, atol=ATOL, err_msg=what
    )


@pytest.mark.parametrize("dataset", DATASETS)
def test_replicate_ses_match_r(dataset):
    ref = _reference(dataset)
    crit = ref["quantity"].str.startswith("s_")
    ref = ref.assign(
        version=np.where(crit, "A", ref["version"]),
        indicator=np.where(
            crit, ref["quantity"].str[2:], ref["quantity"].replace({"OVERALL": "SIPAS"})
        ),
    )
    keys = ["type", "mse", "design", "domain_type", "version"]
    checked: dict[str, int] = {}
    for (kind, mse, design_name, domain_type, version), block in ref.groupby(keys):
        mine = _ours(dataset, kind, design_name, bool(mse), domain_type, version)
        mine = mine.loc[list(zip(block["domain"], block["indicator"], strict=True))]
        what = f"{dataset}/{kind}/mse={mse}/{design_name}/{domain_type}/{version}"
        # No answer in the domain (R's n = 0), or every replicate undefined (R: "All replicates
        # contained NAs"): the engine's SE is NaN there.
        failed = block["error"].notna().to_numpy()
        assert np.isnan(mine["se"].to_numpy()[failed]).all(), what
        block, mine = block[~failed], mine[~failed]
        _close(mine["estimate"] / 100, block["est"], f"{what} est")
        _close(mine["se"] / 100, block["se"], f"{what} se")
        _close(mine["df"], block["df"], f"{what} df")
        is_crit = (mine.reset_index()["indicator"].str.contains("_")).to_numpy()
        _close(mine["n"].to_numpy()[is_crit], block["n"].to_numpy()[is_crit], f"{what} n")
        checked[kind] = checked.get(kind, 0) + len(block)
    assert set(checked) == {"jk1", "jkn", "bootstrap", "brr"}, checked
    assert min(checked.values()) > 100, checked
