"""A deliberately plain, row-level implementation of the survey formulas, for cross-checks.

Written from the textbook formulas (survey-stats §2–3), one respondent per row, with explicit
loops over strata and PSUs: slow, but independent of the engine's count table and sparse
algebra.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ratio_scores(y: np.ndarray, x: np.ndarray, w: np.ndarray, in_domain: np.ndarray):
    """Ratio estimate and per-respondent linearised scores z_i (0 outside the domain)."""
    d = in_domain.astype(float)
    ty, tx = np.sum(d * w * y), np.sum(d * w * x)
    r = ty / tx
    return r, d * (y - r * x) / tx


def calibration_residuals(z: np.ndarray, w0: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Residual of the w0-weighted least-squares regression of z on the model matrix."""
    root = np.sqrt(w0)
    beta, *_ = np.linalg.lstsq(model * root[:, None], z * root, rcond=None)
    return z - model @ beta


def stratified_variance(
    wz: np.ndarray,
    strata: np.ndarray,
    psu: np.ndarray,
    lonely: str = "certainty",
    fpc: dict | None = None,
) -> float:
    """With-replacement variance of sum(wz) for a stratified one-stage design (R onestrat)."""
    total = 0.0
    for h in pd.unique(strata):
        in_h = strata == h
        labels = pd.unique(psu[in_h])
        u = np.array([wz[in_h & (psu == c)].sum() for c in labels])
        m = len(labels)
        f = 1.0
        if fpc is not None:
            pop = fpc[h] if fpc[h] > 1 else m / fpc[h]
            f = (pop - m) / pop
        if m == 1:
            if lonely == "adjust":
                total += f * u[0] ** 2
            continue
        total += f * m / (m - 1) * np.sum((u - u.mean()) ** 2)
    return float(total)
