"""Why a count table cannot be built from the database (``ValueError`` subclasses)."""

from __future__ import annotations

__all__ = [
    "NoResponsesError",
    "StatisticsQueryError",
    "UnknownColumnError",
    "UnknownFlagError",
    "UnknownSubtreeError",
    "UnmatchedCellsError",
    "UnsupportedDesignError",
]


class StatisticsQueryError(ValueError):
    """Base class: the request cannot be answered from the stored responses."""


class UnknownColumnError(StatisticsQueryError):
    """A design, ``by`` or weighting-cell column is not one the database can provide."""


class UnsupportedDesignError(StatisticsQueryError):
    """The design needs something the database does not hold (a weight or fpc column)."""


class UnknownSubtreeError(StatisticsQueryError):
    """``agency_subtree`` names no agency."""


class UnknownFlagError(StatisticsQueryError):
    """``exclude_flags`` names a flag that :mod:`survey.quality` does not set."""


class UnmatchedCellsError(StatisticsQueryError):
    """Some responses fall in weighting cells that the weight table does not list."""


class NoResponsesError(StatisticsQueryError):
    """No stored response matches the selection."""
