"""Survey weights: post-stratification, raking, calibration and trimming.

Every function takes one row per response and returns a :class:`WeightingResult`: the weights
aligned to the input, the :class:`analysis.design.Calibration` the variance estimator needs
(weights from calibration are not fixed sampling weights; Lumley 2010, ch. 7) and
:class:`WeightingDiagnostics` (Kish deff, weight range, empty and unmatched cells).

All computations are vectorised (``numpy.bincount`` over integer cell codes), so they scale to
millions of rows.
"""

from analysis.weighting._base import (
    EmptyCellsError,
    MarginError,
    UnmatchedResponsesError,
    WeightingDiagnostics,
    WeightingError,
    WeightingResult,
)
from analysis.weighting.calibration import calibrate
from analysis.weighting.poststratify import CollapseRule, poststratify, poststratify_to_frame
from analysis.weighting.raking import RakingDidNotConverge, RakingReport, rake
from analysis.weighting.trimming import TrimmingError, TrimResult, trim_weights

__all__ = [
    "CollapseRule",
    "EmptyCellsError",
    "MarginError",
    "RakingDidNotConverge",
    "RakingReport",
    "TrimResult",
    "TrimmingError",
    "UnmatchedResponsesError",
    "WeightingDiagnostics",
    "WeightingError",
    "WeightingResult",
    "calibrate",
    "poststratify",
    "poststratify_to_frame",
    "rake",
    "trim_weights",
]
