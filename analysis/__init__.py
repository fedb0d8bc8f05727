"""Survey statistics for SIPAS on a table of weighted counts (pure: numpy/pandas/scipy).

>>> from analysis import Design, counts_from_responses, satisfaction_indices
>>> # counts = counts_from_responses(df, form, Design(weight="weight"), by=["agency_code"])
>>> # result = satisfaction_indices(counts, form, Design(weight="weight"), by=["agency_code"])

Modules: :mod:`analysis.design` (Design, Calibration), :mod:`analysis.counts` (the count
table), :mod:`analysis.estimators` (domain ratios), :mod:`analysis.variance` (linearisation),
:mod:`analysis.replicates` (replicate-weight variance), :mod:`analysis.intervals`,
:mod:`analysis.reliability`, :mod:`analysis.indices` (the SIPAS indices),
:mod:`analysis.descriptive` (mean scores, shares), :mod:`analysis.compare`,
:mod:`analysis.results`, :mod:`analysis.funnel` (funnel-plot limits),
:mod:`analysis.drivers` (key drivers), :mod:`analysis.standings`, :mod:`analysis.output`
(writing result tables); weights are in
:mod:`analysis.weighting`; :mod:`analysis.tabulate` (vectorised count-table sums) and
:mod:`analysis.exports` (reading the wide export).
"""

from analysis.compare import compare_domains, domain_differences
from analysis.counts import counts_from_responses, validate_counts
from analysis.descriptive import item_statistics
from analysis.design import Calibration, Design
from analysis.drivers import importance_performance, key_drivers
from analysis.errors import AnalysisError
from analysis.funnel import funnel_limits, funnel_position
from analysis.indices import satisfaction_indices
from analysis.results import Difference, IndexResult

__all__ = [
    "AnalysisError",
    "Calibration",
    "Design",
    "Difference",
    "IndexResult",
    "compare_domains",
    "counts_from_responses",
    "domain_differences",
    "funnel_limits",
    "funnel_position",
    "importance_performance",
    "item_statistics",
    "key_drivers",
    "satisfaction_indices",
    "validate_counts",
]
