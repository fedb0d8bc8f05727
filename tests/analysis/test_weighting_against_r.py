"""Weights agree with R survey's postStratify / rake / calibrate to 1e-8 relative.

Two sources of R numbers:

* ``data/weighting/r_small/`` — 395 responses made and weighted by ``make_reference.R`` in that
  folder (R 4.2.2, survey 4.1-1): partial post-stratification, raking, and calibration with
  the linear, raking, bounded logit and bounded linear calibration functions.
* ``tests/reference/out/<dataset>/weights.csv`` — the project's R oracle
  (``tests/reference/oracle.R``) on the reference data sets in ``tests/reference/data/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.frames import load_frame
from analysis.weighting import calibrate, poststratify, rake

HERE = Path(__file__).parent
SMALL = HERE / "data" / "weighting" / "r_small"
REFERENCE = HERE.parent / "reference"
RTOL = 1e-8


def read_codes(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"agency_code": str, "field_code": str, "response_id": str})


def margins(folder: Path) -> dict[str, pd.Series]:
    agency = read_codes(folder / "margins_agency.csv").set_index("agency_code")["dossiers"]
    field = read_codes(folder / "margins_field.csv").set_index("field_code")["dossiers"]
    return {"agency_code": agency.astype(float), "field_code": field.astype(float)}


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = read_codes(SMALL / "responses.csv")
    weights = read_codes(SMALL / "weights.csv").set_index("response_id").loc[df["response_id"]]
    return df, weights


def test_poststratify_partial_matches_r(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    df, r = small
    res = poststratify(df, load_frame(SMALL / "frame.csv"), base_weight="base_weight", partial=True)
    np.testing.assert_allclose(res.weights.to_numpy(), r["w_poststrat"].to_numpy(), rtol=RTOL)
    empty = res.diagnostics.empty_cells
    assert empty[["agency_code", "field_code"]].values.tolist() == [["A5", "F4"]]
    assert res.diagnostics.shortfall == pytest.approx(float(empty["population"].iloc[0]))


@pytest.mark.parametrize(
    ("column", "kwargs"),
    [
        ("w_cal_linear", {"calfun": "linear"}),
        ("w_cal_raking", {"calfun": "raking"}),
        ("w_cal_logit", {"calfun": "logit", "bounds": (0.3, 3.0)}),
        ("w_cal_linear_bounded", {"calfun": "linear", "bounds": (0.4, 2.5)}),
    ],
)
def test_calibrate_matches_r(
    small: tuple[pd.DataFrame, pd.DataFrame], column: str, kwargs: dict[str, object]
) -> None:
    df, r = small
    res = calibrate(df, margins(SMALL), base_weight="base_weight", **kwargs)  # type: ignore[arg-type]
    np.testing.assert_allclose(res.weights.to_numpy(), r[column].to_numpy(), rtol=RTOL)


def test_bounds_bind_in_the_bounded_reference(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # otherwise the bounded cases above would not test the bounds
    df, r = small
    g_free = r["w_cal_linear"] / df["base_weight"].to_numpy()
    assert g_free.min() < 0.4 or g_free.max() > 2.5


def test_rake_matches_r(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    df, r = small
    res = rake(df, margins(SMALL), base_weight="base_weight")
    np.testing.assert_allclose(res.weights.to_numpy(), r["w_rake"].to_numpy(), rtol=RTOL)


# --- the project's R oracle ------------------------------------------------------------------

ORACLE = sorted(p.parent.name for p in (REFERENCE / "out").glob("*/weights.csv")) or [
    pytest.param(
        "none",
        marks=pytest.mark.skip(reason="no R oracle output yet: run tests/reference/oracle.R"),
    )
]


def rake_note(dataset: str) -> str:
    summary = pd.read_csv(REFERENCE / "out" / dataset / "design_summary.csv")
    notes = summary.loc[summary["design"] == "rake", "note"].fillna("")
    return " ".join(notes)


@pytest.mark.parametrize("dataset", ORACLE)
def test_oracle_weights(dataset: str) -> None:
    data = REFERENCE / "data" / dataset
    r = read_codes(REFERENCE / "out" / dataset / "weights.csv")
    df = read_codes(data / "responses.csv")
    r = r.set_index("response_id").loc[df["response_id"]]
    frame = load_frame(data / "frame.csv")
    checked = 0
    if r["w_poststrat"].notna().all():
        res = poststratify(df, frame, base_weight="base_weight", partial=True)
        np.testing.assert_allclose(res.weights, r["w_poststrat"].astype(float), rtol=RTOL)
        checked += 1
    sampled = {c: set(df[c]) for c in ("agency_code", "field_code")}
    tot = {c: s[s.index.isin(sampled[c])] for c, s in margins(data).items()}
    if "w_rake" in r and r["w_rake"].notna().all():
        res = rake(df, tot, base_weight="base_weight")
        # R's rake(maxit=200) stops short on tables with structural zeros (sparse: 200 sweeps
        # reach a residual of 3.5e-9, ours needs ~240 for 1e-10); its note says so. The fixed
        # point is then checked against calibrate(calfun="raking"), which converged.
        column = "w_cal_raking" if "did not converge" in rake_note(dataset) else "w_rake"
        np.testing.assert_allclose(res.weights, r[column].astype(float), rtol=RTOL)
        checked += 1
    for calfun in ("linear", "raking"):
        col = f"w_cal_{calfun}"
        if col in r and r[col].notna().all():
            res = calibrate(df, tot, calfun=calfun, base_weight="base_weight")
            np.testing.assert_allclose(res.weights, r[col].astype(float), rtol=RTOL)
            checked += 1
    assert checked > 0
