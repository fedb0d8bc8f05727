"""Quality flags kept with each response (pure: no Flask, no database).

A flagged response is stored like any other; the flags travel with it into exports and reports,
which decide whether to exclude it. Nothing is ever silently dropped.

Flags, in the fixed order they are stored (``;``-separated):

``too_fast``
    The questionnaire was submitted less than ``min_seconds`` after it was opened
    (``submitted_at - started_at < min_seconds``), or ``started_at`` lies after ``submitted_at``.
``straightlining``
    At least ``straightline_min_items`` rating items were answered on the 1..5 scale and all got
    the same code ("not applicable" and skipped items are ignored).
``honeypot``
    The hidden field that people never see (and bots fill in) is not blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

__all__ = ["FLAGS", "format_flags", "parse_flags", "quality_flags"]

FLAGS: tuple[str, ...] = ("too_fast", "straightlining", "honeypot", "empty")


def quality_flags(
    rating_answers: Mapping[str, int | None],
    *,
    started_at: datetime | None,
    submitted_at: datetime,
    min_seconds: float,
    honeypot: str | None,
    not_applicable: int = 0,
    straightline_min_items: int = 5,
    empty: bool = False,
) -> tuple[str, ...]:
    """Return the quality flags of one response, in the order of :data:`FLAGS`.

    Parameters
    ----------
    rating_answers : Mapping[str, int or None]
        Validated codes of the rating items only (skipped items absent or ``None``).
    started_at, submitted_at : datetime
        When the form was opened (``None`` if unknown: no ``too_fast`` check) and submitted.
        Both timezone-aware.
    min_seconds : float
        Shortest plausible answering time.
    honeypot : str or None
        Content of the hidden honeypot field.
    not_applicable : int
        The "not applicable" code of the rating scale (ignored by the straightlining check).
    straightline_min_items : int
        Fewest answered rating items for the straightlining check to apply.
    empty : bool
        The response has no answer at all and no comment (flagged ``empty``, so that
        statistics can leave it out with ``--exclude-flag empty``).

    Raises
    ------
    ValueError
        If ``min_seconds`` is negative or ``straightline_min_items`` is below 2.
    """
    if min_seconds < 0:
        raise ValueError(f"min_seconds must be >= 0, got {min_seconds}")
    if straightline_min_items < 2:
        raise ValueError(f"straightline_min_items must be >= 2, got {straightline_min_items}")
    found: set[str] = set()
    if started_at is not None:
        if (submitted_at - started_at).total_seconds() < min_seconds:
            found.add("too_fast")
    codes = [*rating_answers.values()]
    n_rated = len(codes) - codes.count(None) - codes.count(not_applicable)
    if n_rated >= straightline_min_items and len({*codes} - {None, not_applicable}) == 1:
        found.add("straightlining")
    if honeypot is not None and honeypot.strip():
        found.add("honeypot")
    if empty:
        found.add("empty")
    return tuple(flag for flag in FLAGS if flag in found)


def format_flags(flags: Iterable[str]) -> str:
    """Join flags for storage and export: ``"too_fast;honeypot"``, ``""`` when clean."""
    return ";".join(flags)


def parse_flags(stored: str | None) -> tuple[str, ...]:
    """Split a stored flag string back into a tuple (``()`` for blank)."""
    return tuple(flag for flag in (stored or "").split(";") if flag)
