"""Quality flags: too fast, straightlining, honeypot (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from survey.quality import format_flags, parse_flags, quality_flags

T = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
VARIED = {"a": 5, "b": 4, "c": 5, "d": 3, "e": 4}


def flags(answers=VARIED, *, seconds: float | None = 120, honeypot: str | None = None):
    started = None if seconds is None else T - timedelta(seconds=seconds)
    return quality_flags(
        answers, started_at=started, submitted_at=T, min_seconds=15, honeypot=honeypot
    )


def test_clean_response_has_no_flags():
    assert flags() == ()


@pytest.mark.parametrize(("seconds", "expected"), [(14.9, True), (15, False), (-5, True)])
def test_too_fast(seconds, expected):
    assert ("too_fast" in flags(seconds=seconds)) is expected


def test_unknown_start_is_not_too_fast():
    assert flags(seconds=None) == ()


def test_straightlining_needs_enough_identical_rated_items():
    assert flags({k: 4 for k in "abcde"}) == ("straightlining",)
    assert flags({k: 4 for k in "abcd"}) == ()  # only four items
    # not applicable (0) is ignored, so four rated items are too few
    assert flags({"a": 4, "b": 4, "c": 4, "d": 4, "e": 0}) == ()
    assert flags({"a": 4, "b": 4, "c": 4, "d": 4, "e": 0, "f": 4}) == ("straightlining",)
    # skipped items (None) count neither as rated nor as a different answer
    assert flags({"a": 4, "b": 4, "c": 4, "d": 4, "e": None}) == ()
    assert flags({"a": 4, "b": None, "c": 4, "d": 4, "e": 4, "f": 4}) == ("straightlining",)
    assert flags({"a": 4, "b": 4, "c": 4, "d": 4, "e": 0, "f": 3}) == ()


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ()), ("", ()), ("  ", ()), ("http://spam", ("honeypot",))]
)
def test_honeypot(value, expected):
    assert flags(honeypot=value) == expected


def test_flags_keep_a_fixed_order_and_round_trip():
    found = flags({k: 5 for k in "abcde"}, seconds=1, honeypot="x")
    assert found == ("too_fast", "straightlining", "honeypot")
    assert parse_flags(format_flags(found)) == found
    assert format_flags(()) == "" and parse_flags("") == () and parse_flags(None) == ()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="min_seconds"):
        quality_flags({}, started_at=None, submitted_at=T, min_seconds=-1, honeypot=None)
    with pytest.raises(ValueError, match="straightline_min_items"):
        quality_flags(
            {},
            started_at=None,
            submitted_at=T,
            min_seconds=1,
            honeypot=None,
            straightline_min_items=1,
        )
