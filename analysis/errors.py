"""Exceptions raised by the statistics engine.

Every error is a :class:`ValueError` subclass with a message that names the offending column,
item, stratum or group, so that the CLI and the web layer can show it as is.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AnalysisError",
    "CountTableError",
    "DesignError",
    "EmptyGroupError",
    "InvalidResponsesError",
    "LonelyPSUError",
    "UnknownItemError",
]


class AnalysisError(ValueError):
    """Base class of every error raised by :mod:`analysis`."""


class CountTableError(AnalysisError):
    """A table of weighted counts does not follow the schema of :mod:`analysis.counts`."""


class DesignError(AnalysisError):
    """The sampling design is inconsistent (bad fpc, PSUs, calibration cells...)."""


class LonelyPSUError(DesignError):
    """A stratum has a single PSU and ``lonely_psu="fail"`` was asked for.

    Attributes
    ----------
    strata : tuple of str
        The strata with one PSU.
    """

    def __init__(self, strata: Iterable[object]) -> None:
        self.strata: tuple[str, ...] = tuple(str(s) for s in strata)
        shown = ", ".join(self.strata[:20]) + (" ..." if len(self.strata) > 20 else "")
        super().__init__(
            f"{len(self.strata)} stratum/strata have only one PSU: {shown}. "
            "Choose lonely_psu='certainty', 'remove', 'adjust' or 'average', "
            "or collapse these strata."
        )


class UnknownItemError(AnalysisError):
    """An item key is not part of the form."""


class InvalidResponsesError(AnalysisError):
    """Response data cannot be analysed (non-numeric answers, bad weights, missing columns)."""


class EmptyGroupError(AnalysisError):
    """A requested group or domain has no responses."""
