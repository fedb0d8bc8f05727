"""Agreement with R's survey package (the oracle in tests/reference/oracle.R).

Reads the committed reference CSVs under ``tests/reference/out/<dataset>/`` (schema in
``tests/reference/README.md``) and asserts that the engine reproduces every row to
``rtol=1e-8``. R's weights (``weights.csv``) are used as given, so these tests check the
estimators and variances, not the weighting. Set ``SIPAS_ORACLE_OUT`` to read another output
folder. Tests skip, naming the missing file, until the references are there.

Known, documented differences that are not compared:

* ``rake`` SEs: R's ``rake()`` variance uses 10 rounds of unweighted backfitting; the engine
  uses the calibration (GREG) residuals of ``calibrate(calfun="raking")`` (survey-stats §3.5),
  which the ``cal_raking`` rows check. ``rake`` estimates are compared.
* ``logit`` intervals (R fits a quasibinomial GLM; equal to ``xlogit`` up to IRLS tolerance).
* index A ``n``: R reports all respondents in the domain, the engine those with at least one
  valid answer in the index (index A ``df`` is R's domain df and is compared).
* Intervals of shares outside [0, 1] (linear calibration's negative weights can produce them),
  and Wilson at :math:`\\hat p \\in \\{0, 1\\}` (the engine uses :math:`n^* = n`).
* KG ``beta`` uses R's own ``n`` (``n_used_by_beta``: the full sample for calibrated designs)
  and no NCHS adjustment here; the NCHS variant is tested in test_intervals.py.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.compare import domain_differences
from analysis.counts import counts_from_responses
from analysis.design import Calibration, Design
from analysis.hierarchy import Hierarchy, IndexNode, hierarchy_from_form
from analysis.indices import satisfaction_indices
from analysis.intervals import (
    asin_interval,
    korn_graubard_interval,
    logit_interval,
    wald_interval,
    wilson_interval,
)
from forms import load_form

REFERENCE = Path(__file__).parents[1] / "reference"
OUT = Path(os.environ.get("SIPAS_ORACLE_OUT", REFERENCE / "out"))
DATASETS = ("base", "lonely", "sparse", "extreme")
RTOL, ATOL = 1e-8, 1e-12
CELLS = ("agency_code", "field_code")
MARGINS = (("agency_code",), ("field_code",))
DOMAIN_BY = {
    "overall": [],
    "agency": ["agency_code"],
    "field": ["field_code"],
    "month": ["month"],
    "agency_field": ["agency_code", "field_code"],
}


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"R reference {path} is not there yet (run tests/reference/oracle.R)")
    return path


@cache
def _form():
    return load_form("sipas-2017")


@cache
def _flat_tree() -> Hierarchy:
    """The oracle's FLAT index: the mean of all 22 criteria (one factor holding them all)."""
    tree = hierarchy_from_form(_form())
    n = len(tree.criteria)
    nodes = (
        IndexNode("FLAT", "factor", tree.criteria, (1.0,) * n, "criterion"),
        IndexNode("SIPAS", "sipas", ("FLAT",), (1.0,), "factor"),
    )
    return Hierarchy(tree.criteria, nodes)


@cache
def _responses(dataset: str) -> pd.DataFrame:
    df = pd.read_csv(
        _require(REFERENCE / "data" / dataset / "responses.csv"),
        dtype={"agency_code": str, "counter_code": str, "field_code": str},
    )
    weights = pd.read_csv(_require(OUT / dataset / "weights.csv"))
    df = df.merge(weights.drop(columns=["weight", "base_weight"]), on="response_id")
    return df.assign(month=df["submitted_at"].str[:7])


def _design(name: str, lonely: str = "certainty") -> Design:
    clus = {"strata": "agency_code", "psu": "counter_code", "lonely_psu": lonely}
    if name == "srs":
        return Design(weight="weight", lonely_psu=lonely)
    if name == "srs_poststrat":
        cal = Calibration("poststratify", CELLS, None, "base_weight")
        return Design(weight="w_srs_poststrat", calibration=cal, lonely_psu=lonely)
    if name == "strat_clus":
        return Design(weight="weight", **clus)
    if name == "strat_clus_fpc":
        return Design(weight="weight", fpc="counters_total", **clus)
    if name == "poststrat":
        cal = Calibration("poststratify", CELLS, None, "base_weight")
        return Design(weight="w_poststrat", calibration=cal, **clus)
    if name == "rake":  # weights only: R's rake() variance is not the calibration variance
        return Design(weight="w_rake", **clus)
    kind = "linear" if name == "cal_linear" else "raking"
    return Design(
        weight=f"w_{name}", calibration=Calibration(kind, CELLS, MARGINS, "base_weight"), **clus
    )


@cache
def _counts(dataset: str, design_name: str, lonely: str = "certainty", flat: bool = False):
    design = _design(design_name, lonely)
    df = _responses(dataset)
    if df[design.weight].isna().any():
        pytest.skip(f"R has no {design.weight} weights for {dataset}")
    tree = _flat_tree() if flat else None
    counts = counts_from_responses(
        df, _form(), design, by=["agency_code", "field_code", "month"], hierarchy=tree
    )
    return counts, design


@cache
def _ours(
    dataset,
    design_name,
    domain_type,
    version="A",
    deff="without_replacement",
    lonely="certainty",
    flat=False,
):
    counts, design = _counts(dataset, design_name, lonely, flat)
    by = DOMAIN_BY[domain_type]
    tree = _flat_tree() if flat else None
    t = satisfaction_indices(
        counts, _form(), design, by=by, version=version, deff=deff, hierarchy=tree
    ).table
    if by:
        key = t[by[0]].astype(str)
        for col in by[1:]:
            key = key + ":" + t[col].astype(str)
    else:
        key = pd.Series("ALL", index=t.index)
    return t.assign(domain=key.to_numpy()).set_index(["domain", "indicator"])


def _criteria(dataset: str) -> pd.DataFrame:
    path = _require(OUT / dataset / "criteria.csv.gz")
    ref = pd.read_csv(path, dtype={"domain": str, "note": str, "error": str, "via": str})
    return ref[ref["error"].isna()]


def _assert_close(actual, desired, what):
    np.testing.assert_allclose(
        np.asarray(actual, float),
        np.asarray(desired, float),
        rtol=RTOL,
        atol=ATOL,
        err_msg=what,
    )


INTERVALS = {
    "wald_z": lambda r: wald_interval(r.est, r.se, np.inf, 0.95),
    "mean": lambda r: wald_interval(r.est, r.se, r.df, 0.95),
    "xlogit": lambda r: logit_interval(r.est, r.se, r.df, 0.95),
    "xlogit_dffull": lambda r: logit_interval(r.est, r.se, r.df_used, 0.95),
    "asin": lambda r: asin_interval(r.est, r.se, r.df, 0.95),
    "wilson": lambda r: wilson_interval(r.est, r.se, r.n, r.df, 0.95),
    "beta": lambda r: korn_graubard_interval(r.est, r.se, r.n_beta, r.df, 0.95, nchs=False),
}


@pytest.mark.parametrize("dataset", DATASETS)
def test_criteria_estimates_ses_intervals(dataset):
    ref = _criteria(dataset)
    ref = ref[(ref["lonely"].fillna("certainty") == "certainty") & (ref["method"] != "logit")]
    checked = 0
    for (design_name, domain_type), block in ref.groupby(["design", "domain_type"]):
        if domain_type not in DOMAIN_BY:
            continue
        ours = _ours(dataset, design_name, domain_type)
        mine = ours.loc[list(zip(block["domain"], block["item"], strict=True))]
        what = f"{dataset}/{design_name}/{domain_type}"
        # Nobody answered the item in the domain: R's svymean of an empty subset says 0 (SE 0);
        # the share is undefined and the engine says NaN.
        empty = (block["n"] == 0).to_numpy()
        assert mine["estimate"].to_numpy()[empty].size == 0 or mine["estimate"][empty].isna().all()
        block, mine = block[~empty], mine[~empty]
        _assert_close(mine["estimate"] / 100, block["est"], f"{what} est")
        _assert_close(mine["n"], block["n"], f"{what} n")
        _assert_close(mine["df"], block["df"], f"{what} df")
        if design_name == "rake":
            checked += len(block)
            continue
        _assert_close(mine["se"] / 100, block["se"], f"{what} se")
        # Where the true SE is 0 (an estimate of 0 or 1) R's SE is rounding noise (~1e-17), so its
        # deff and intervals are noise too: compare those only where the SE is really positive.
        positive = (block["se"] > 1e-12).to_numpy()
        block, mine = block[positive], mine[positive]
        wz = (block["method"] == "wald_z").to_numpy()
        has_deff = wz & block["deff"].notna().to_numpy()
        _assert_close(mine["deff"].to_numpy()[has_deff], block["deff"][has_deff], f"{what} deff")
        has_rep = wz & block["deff_replace"].notna().to_numpy()
        if has_rep.any():
            rep = _ours(dataset, design_name, domain_type, deff="replace")
            rep = rep.loc[list(zip(block["domain"][has_rep], block["item"][has_rep], strict=True))]
            _assert_close(rep["deff"], block["deff_replace"][has_rep], f"{what} deff_replace")
        rows = pd.DataFrame(
            {
                "est": mine["estimate"].to_numpy() / 100,
                "se": mine["se"].to_numpy() / 100,
                "n": mine["n"].to_numpy(float),
                "df": mine["df"].to_numpy(float),
                "n_beta": block["n_used_by_beta"].to_numpy(float),
                "df_used": block["df_used"].to_numpy(float)
                if "df_used" in block
                else np.full(len(block), np.nan),
            }
        )
        for method, fn in INTERVALS.items():
            sel = (block["method"] == method).to_numpy()
            if not sel.any():
                continue
            # Linear calibration's negative weights can put a share outside [0, 1]; there
            # no share interval means anything (and the engine's conventions differ).
            p = rows["est"][sel].to_numpy()
            inside = (p >= 0) & (p <= 1)
            low, high = fn(rows[sel])
            low, high = low[inside], high[inside]
            has = block["ci_low"][sel].notna().to_numpy()[inside]
            if method == "wilson":  # the engine's n* = n convention at p = 0 or 1
                has = has & (p[inside] > 0) & (p[inside] < 1)
            else:  # R's interval is NaN exactly where ours is
                assert np.array_equal(np.isnan(low), ~has), f"{what} {method} NaN pattern"
            ref_low = block["ci_low"][sel].to_numpy()[inside]
            ref_high = block["ci_high"][sel].to_numpy()[inside]
            _assert_close(low[has], ref_low[has], f"{what} {method} low")
            _assert_close(high[has], ref_high[has], f"{what} {method} high")
        checked += len(block)
    assert checked > 0


@pytest.mark.parametrize("dataset", DATASETS)
def test_indices_a_and_b(dataset):
    ref = pd.read_csv(_require(OUT / dataset / "indices.csv"), dtype={"domain": str})
    ref = ref[ref["error"].isna()]
    names = {"OVERALL": "SIPAS"}
    for (design_name, domain_type, version), block in ref.groupby(
        ["design", "domain_type", "version"]
    ):
        for flat in (False, True):
            part = block[(block["index"] == "FLAT") == flat]
            if part.empty:
                continue
            ours = _ours(dataset, design_name, domain_type, version=version, flat=flat)
            keys = ["FLAT" if flat else names.get(k, k) for k in part["index"]]
            mine = ours.loc[list(zip(part["domain"], keys, strict=True))]
            what = f"{dataset}/{design_name}/{domain_type}/{version}/flat={flat}"
            if version == "B":  # nobody with a score: R says 0, the engine NaN
                empty = (part["n"] == 0).to_numpy()
                assert mine["estimate"][empty].isna().all(), what
                part, mine = part[~empty], mine[~empty]
            _assert_close(mine["estimate"] / 100, part["est"], f"{what} est")
            _assert_close(mine["df"], part["df"], f"{what} df")
            if version == "B":
                _assert_close(mine["n"], part["n"], f"{what} n")
            if design_name != "rake":
                _assert_close(mine["se"] / 100, part["se"], f"{what} se")


@pytest.mark.parametrize("dataset", ["lonely"])
def test_lonely_psu_options(dataset):
    ref = pd.read_csv(_require(OUT / dataset / "lonely_psu.csv"), dtype={"domain": str})
    ref = ref[~ref["adjust_domain_lonely"].astype(bool) & ref["error"].isna()]
    ref = ref[ref["lonely"] != "fail"]
    assert not ref.empty
    for (lonely, domain_type), block in ref.groupby(["lonely", "domain_type"]):
        crit = block[block["quantity"].str.startswith("s_")]
        ours = _ours(dataset, "strat_clus", domain_type, lonely=lonely)
        mine = ours.loc[list(zip(crit["domain"], crit["quantity"].str[2:], strict=True))]
        what = f"{lonely}/{domain_type}"
        _assert_close(mine["estimate"] / 100, crit["est"], f"{what} est")
        has = crit["se"].notna().to_numpy()
        _assert_close(mine["se"].to_numpy()[has] / 100, crit["se"][has], f"{what} se")
        assert mine["se"].to_numpy()[~has].size == 0 or np.isnan(mine["se"].to_numpy()[~has]).all()
        overall = block[block["quantity"] == "r_OVERALL"]
        mine_b = _ours(dataset, "strat_clus", domain_type, version="B", lonely=lonely)
        mine_b = mine_b.loc[[(d, "SIPAS") for d in overall["domain"]]]
        has = overall["se"].notna().to_numpy()
        _assert_close(mine_b["se"].to_numpy()[has] / 100, overall["se"][has], f"{what} B se")


@pytest.mark.parametrize("dataset", DATASETS)
def test_contrasts(dataset):
    ref = pd.read_csv(
        _require(OUT / dataset / "contrasts.csv"), dtype={"domain_1": str, "domain_2": str}
    )
    ref = ref[ref["error"].isna() & (ref["design"] != "rake")]
    quantity = ref["quantity"]
    ref = ref.assign(
        version=np.where(quantity.str.startswith("r_"), "B", "A"),
        indicator=np.where(quantity.str.startswith("s_"), quantity.str[2:], "SIPAS"),
    )
    ref = ref[quantity != "r_FLAT"]  # FLAT is covered by test_indices_a_and_b
    checked = 0
    keys = ["design", "comparison", "domain_1", "domain_2", "version"]
    for (design_name, comparison, d1, d2, version), block in ref.groupby(keys):
        counts, design = _counts(dataset, design_name)
        column = "month" if comparison == "month_pair" else "agency_code"
        second = None if d2 == "ALL" else {column: d2}
        table = domain_differences(
            counts, _form(), {column: d1}, second, design, version=version
        ).set_index("indicator")
        mine = table.loc[block["indicator"]]
        what = f"{dataset}/{design_name}/{comparison}/{version}"
        _assert_close(mine["estimate"] / 100, block["est"], f"{what} est")
        _assert_close(mine["se"] / 100, block["se"], f"{what} se")
        checked += len(block)
    assert checked > 0
