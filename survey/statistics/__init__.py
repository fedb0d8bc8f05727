"""Survey statistics straight from the database: the count table by SQL ``GROUP BY``.

Every estimator of :mod:`analysis` needs only weighted sums per ``(stratum, psu, cell,
domains…, item, answer)`` (:mod:`analysis.counts`). :func:`build_counts` computes that table in
SQLite or PostgreSQL, so a large database never loads row-level data into Python::

    from analysis import Design, satisfaction_indices
    from survey.statistics import build_counts

    design = Design(strata="agency_code", psu="counter_code", lonely_psu="adjust")
    counts = build_counts(db.session, form, design, by=["agency_code", "period"], period="month")
    result = satisfaction_indices(counts, form, design, by=["agency_code", "period"])

Modules: :mod:`~survey.statistics.columns` (the columns the database provides),
:mod:`~survey.statistics.counts` (:func:`build_counts`, :func:`select_responses`,
:func:`summarize_selection`), :mod:`~survey.statistics.fetched` (one row per selected
response, and :func:`counts_from_selection`),
:mod:`~survey.statistics.scores` (index-B respondent scores in SQL),
:mod:`~survey.statistics.weights` (:class:`CellWeights`), :mod:`~survey.statistics.errors`;
``sipas analyze-db`` is in :mod:`~survey.statistics.cli`.
"""

from survey.statistics.columns import COLUMNS, PERIODS, Period
from survey.statistics.counts import (
    SelectionSummary,
    build_counts,
    select_responses,
    summarize_selection,
)
from survey.statistics.errors import (
    NoResponsesError,
    StatisticsQueryError,
    UnknownColumnError,
    UnknownFlagError,
    UnknownSubtreeError,
    UnmatchedCellsError,
    UnsupportedDesignError,
)
from survey.statistics.fetched import counts_from_selection
from survey.statistics.weights import CellWeights

__all__ = [
    "COLUMNS",
    "PERIODS",
    "CellWeights",
    "NoResponsesError",
    "Period",
    "SelectionSummary",
    "StatisticsQueryError",
    "UnknownColumnError",
    "UnknownFlagError",
    "UnknownSubtreeError",
    "UnmatchedCellsError",
    "UnsupportedDesignError",
    "build_counts",
    "counts_from_selection",
    "select_responses",
    "summarize_selection",
]
