"""Small synthetic response tables for the statistics tests (sipas-2017 form, 22 items)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_responses(
    form,
    *,
    seed: int = 1,
    n: int = 400,
    strata: int = 4,
    psu_per_stratum: tuple[int, ...] = (3, 2, 4, 3),
    fields: int = 3,
    p_skip: float = 0.08,
    p_na: float = 0.05,
) -> pd.DataFrame:
    """A wide response table with skips, "not applicable" codes, strata, PSUs and weights."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, strata, n)
    psu_n = np.asarray(psu_per_stratum)[stratum]
    psu = rng.integers(0, 10_000, n) % psu_n
    df = pd.DataFrame(
        {
            "response_id": [f"R{i:04d}" for i in range(n)],
            "submitted_at": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "agency_code": [f"A{s}" for s in stratum],
            "counter_code": [f"A{s}-C{c}" for s, c in zip(stratum, psu, strict=True)],
            "field_code": [f"F{f}" for f in rng.integers(0, fields, n)],
        }
    )
    level = rng.normal(0, 0.7, n)
    for item in form.rating_items:
        code = np.clip(np.round(3.6 + level + rng.normal(0, 0.9, n)), 1, 5)
        code[rng.random(n) < p_na] = 0
        col = pd.array(code.astype(int), dtype="Int64")
        col[rng.random(n) < p_skip] = pd.NA
        df[item.key] = col
    df["base_weight"] = rng.uniform(5, 15, n)
    df["weight"] = df["base_weight"] * rng.uniform(0.7, 1.4, n)
    df["pop_psu"] = (np.asarray(psu_per_stratum) * 3)[stratum]
    return df
