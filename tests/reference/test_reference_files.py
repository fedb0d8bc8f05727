"""The committed R reference files are present, well-formed and reproducible.

Checks the outputs of ``oracle.R`` under ``out/`` (columns, unique keys, basic coherence) and
that ``make_data.py`` regenerates the committed data sets byte for byte. R is not needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).parent
DATA = HERE / "data"
OUT = HERE / "out"
DATASETS = ("base", "lonely", "sparse", "extreme")
DATA_FILES = ("responses.csv", "frame.csv", "margins_agency.csv", "margins_field.csv")
Z975 = 1.959963984540054

COLUMNS: dict[str, tuple[str, ...]] = {
    "criteria.csv.gz": (
        "design", "lonely", "domain_type", "domain", "item", "method", "est", "se", "ci_low",
        "ci_high", "n", "df", "df_used", "deff", "deff_replace", "n_used_by_beta", "via",
        "error", "note",
    ),
    "indices.csv": (
        "design", "domain_type", "domain", "index", "version", "est", "se", "n", "df", "error",
        "note",
    ),
    "contrasts.csv": (
        "design", "comparison", "domain_1", "domain_2", "quantity", "method", "est", "se",
        "error", "note",
    ),
    "design_summary.csv": (
        "design", "n", "sum_w", "n_strata", "n_psu", "degf", "kish_deff", "min_w", "max_w",
        "note",
    ),
    "lonely_psu.csv": (
        "lonely", "adjust_domain_lonely", "domain_type", "domain", "quantity", "est", "se", "n",
        "df", "error", "note",
    ),
}  # fmt: skip
KEYS: dict[str, list[str]] = {
    "criteria.csv.gz": ["design", "lonely", "domain_type", "domain", "item", "method"],
    "indices.csv": ["design", "domain_type", "domain", "index", "version"],
    "contrasts.csv": ["design", "comparison", "domain_1", "domain_2", "quantity", "method"],
    "design_summary.csv": ["design"],
    "lonely_psu.csv": ["lonely", "adjust_domain_lonely", "domain_type", "domain", "quantity"],
}
DESIGNS = {
    "srs",
    "strat_clus",
    "strat_clus_fpc",
    "poststrat",
    "srs_poststrat",
    "rake",
    "cal_linear",
    "cal_raking",
}


def _load_make_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sipas_reference_make_data", HERE / "make_data.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("cannot load make_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(dataset: str, name: str) -> pd.DataFrame:
    path = OUT / dataset / name
    assert path.exists(), f"missing {path}: run oracle.R (see tests/reference/README.md)"
    text = {"domain": str, "domain_1": str, "domain_2": str, "error": str, "note": str}
    return pd.read_csv(path, dtype=text, low_memory=False)


def _files(dataset: str) -> list[str]:
    return [n for n in COLUMNS if n != "lonely_psu.csv" or dataset == "lonely"]


def test_data_sets_regenerate_byte_identically(tmp_path: Path) -> None:
    make_data = _load_make_data()
    make_data.main(["--out", str(tmp_path)])
    for dataset in DATASETS:
        for name in DATA_FILES:
            committed = DATA / dataset / name
            assert committed.exists(), f"missing {committed}"
            assert _sha256(tmp_path / dataset / name) == _sha256(committed), f"{dataset}/{name}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_responses_follow_the_export_format(dataset: str) -> None:
    make_data = _load_make_data()
    df = pd.read_csv(DATA / dataset / "responses.csv", dtype=str, keep_default_na=False)
    assert tuple(df.columns) == make_data.COLUMNS
    assert df["response_id"].is_unique
    codes = df[list(make_data.ITEM_KEYS)]
    assert set(np.unique(codes.to_numpy())) <= {"", "0", "1", "2", "3", "4", "5"}
    assert (df["form_id"] == "sipas-2017").all()
    assert df["submitted_at"].str.fullmatch(r"2025-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert (df["counter_code"].str.split("-").str[0] == df["agency_code"]).all()
    weights = df["weight"].astype(float)
    assert (weights > 0).all()


@pytest.mark.parametrize("dataset", DATASETS)
def test_outputs_have_the_documented_columns_and_unique_keys(dataset: str) -> None:
    for name in _files(dataset):
        table = _read(dataset, name)
        assert tuple(table.columns) == COLUMNS[name], f"{dataset}/{name}"
        assert len(table) > 0, f"{dataset}/{name} is empty"
        dup = table.duplicated(KEYS[name], keep=False)
        assert not dup.any(), f"{dataset}/{name}: duplicated keys\n{table[dup].head()}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_design_is_present(dataset: str) -> None:
    summary = _read(dataset, "design_summary.csv")
    assert set(summary["design"]) == DESIGNS
    criteria = _read(dataset, "criteria.csv.gz")
    assert set(criteria["design"]) == DESIGNS


@pytest.mark.parametrize("dataset", DATASETS)
def test_criteria_are_coherent(dataset: str) -> None:
    c = _read(dataset, "criteria.csv.gz")
    ok = c["error"].isna()
    # Linear calibration may give negative weights, and then shares outside [0, 1].
    summary = _read(dataset, "design_summary.csv").set_index("design")
    positive = c["design"].map(summary["min_w"] >= 0)
    est = c.loc[ok & positive, "est"].dropna()
    assert ((est >= -1e-12) & (est <= 1 + 1e-12)).all()  # rounding: 1 + 2e-16 occurs
    assert (c.loc[ok, "se"].dropna() >= 0).all()
    # asin intervals can come out inverted (README, quirk 5); the others are ordered up to
    # rounding (p-hat = 1 with SE ~ 1e-32 in calibrated designs gives [1 + 1ulp, 1]).
    both = ok & c["ci_low"].notna() & c["ci_high"].notna() & (c["method"] != "asin")
    assert (c.loc[both, "ci_low"] <= c.loc[both, "ci_high"] + 1e-12).all()
    # Wald-z rows are est -/+ z * se: catches swapped or shifted columns.
    wz = c[ok & (c["method"] == "wald_z") & c["se"].notna()]
    np.testing.assert_allclose(wz["ci_low"], wz["est"] - Z975 * wz["se"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(wz["ci_high"], wz["est"] + Z975 * wz["se"], rtol=1e-12, atol=1e-15)
    # n counts answered rows; the overall n of an item can be recounted from the data.
    responses = pd.read_csv(DATA / dataset / "responses.csv")
    overall = c[
        (c["design"] == "srs") & (c["domain_type"] == "overall") & (c["method"] == "wald_z")
    ]
    answered = responses[overall["item"]].isin([1, 2, 3, 4, 5]).sum()
    np.testing.assert_array_equal(overall["n"].to_numpy(), answered.to_numpy())


@pytest.mark.parametrize("dataset", DATASETS)
def test_weights_cover_every_response(dataset: str) -> None:
    weights = pd.read_csv(OUT / dataset / "weights.csv")
    responses = pd.read_csv(DATA / dataset / "responses.csv")
    assert list(weights.columns) == [
        "response_id",
        "weight",
        "base_weight",
        "w_poststrat",
        "w_rake",
        "w_cal_linear",
        "w_cal_raking",
        "w_srs_poststrat",
    ]
    assert weights["response_id"].tolist() == responses["response_id"].tolist()
    np.testing.assert_allclose(weights["weight"], responses["weight"], rtol=1e-15)
    frame = pd.read_csv(DATA / dataset / "frame.csv")
    total = frame["dossiers"].sum()
    for column in ("w_rake", "w_cal_linear", "w_cal_raking"):
        assert weights[column].notna().all(), column
        assert weights[column].sum() == pytest.approx(total, rel=1e-9), column


def test_versions_are_recorded() -> None:
    text = (OUT / "VERSIONS.txt").read_text(encoding="utf-8")
    assert "R version" in text
    assert "survey" in text
