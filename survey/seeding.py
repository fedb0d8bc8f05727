"""Synthetic responses in bulk: millions of realistic SIPAS responses, written in minutes.

:func:`seed_responses` generates responses to one form for the units already in the database
(counters, their agencies and fields, procedures) in numpy-vectorised chunks of bounded size and
writes each chunk with the fastest path of the database: PostgreSQL ``COPY … FROM STDIN``
(psycopg 3 ``cursor.copy``; the text is built from numpy byte matrices, and a large load into
an empty table drops the table's secondary indexes and foreign keys first and builds them again
after it), SQLite large ``executemany`` batches. All chunks go into the caller's transaction.
The rows are what the write path would have stored: the same ``answer_codes`` layout, quality
flags by the rule of :mod:`survey.quality` and the ``content_hash`` of
:func:`survey.submissions.content_hash`.

The model (:class:`SeedProfile`) gives each response a time in office hours (Monday to Friday,
07:30-11:30 and 13:30-17:00 in Viet Nam, UTC+7) over the year before ``now``, a counter (drawn
by its agency's share of the volume among the agencies that exist on that day: a unit with a
validity period, such as a commune merged into another, answers only while it exists), a field,
a procedure and a channel, then answers from a latent satisfaction level: a province-wide base,
plus the agency's, the field's and the counter's effects, plus a linear trend over the year for
some agencies, plus respondent and answer noise. Some respondents answer too fast or give every
item the same answer; some write a comment (a few with a phone number in it, masked as the write
path stores it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select, text

import forms
from survey.models import Agency, Counter, Field, Procedure, Response
from survey.privacy import mask_comment
from survey.repository import FormLayout

__all__ = ["CHANNELS", "COLUMNS", "SeedProfile", "count_responses", "seed_responses"]

# Columns written, in this order (``id`` comes from the table's sequence / rowid).
COLUMNS: tuple[str, ...] = (
    "uuid",
    "form_version_id",
    "form_id",
    "form_version",
    "submitted_at",
    "started_at",
    "agency_id",
    "counter_id",
    "field_id",
    "procedure_id",
    "channel",
    "flags",
    "comment",
    "comment_masked",
    "locale",
    "content_hash",
    "answer_codes",
)
CHANNELS: tuple[str, ...] = ("counter_qr", "dossier_qr", "kiosk", "api", "portal")
_CHANNEL_SHARES = np.array([0.50, 0.25, 0.12, 0.05, 0.08])
_FLAG_TEXT = np.array(["", "too_fast", "straightlining", "too_fast;straightlining"], dtype=object)
_LOCAL_OFFSET = timedelta(hours=7)  # Viet Nam, no daylight saving time
# Office hours, local time, as (start, end) in seconds after midnight.
_OFFICE_WINDOWS = ((7 * 3600 + 1800, 11 * 3600 + 1800), (13 * 3600 + 1800, 17 * 3600))
_SKIPPED = -1  # in the generated code matrix: a skipped item (NULL)


@dataclass(frozen=True)
class SeedProfile:
    """How the synthetic responses of a province behave (every mapping is keyed by unit code).

    Attributes
    ----------
    agency_fields : Mapping[str, tuple[str, ...]]
        Fields an agency handles; a response at a counter without a field of its own gets one
        of them at random.
    agency_volume : Mapping[str, float]
        Relative number of responses per agency (split evenly over its counters); agencies
        absent or without counters get none.
    agency_effect, agency_trend, field_effect, counter_effect : Mapping[str, float]
        Shifts of the latent satisfaction (on the 1-5 scale); ``agency_trend`` is the change
        over the whole year (half of it before the middle of the year, half after).
    base_level : float
        Latent satisfaction of a respondent of an average unit (≈ 85 % satisfied answers).
    factor_effect : Mapping[str, float]
        Shift per factor key of the form.
    not_applicable : Mapping[str, float]
        Share of "not applicable" answers per factor key (default ``default_not_applicable``).
    default_not_applicable : float
        Share of "not applicable" answers of the other factors.
    comments_positive, comments_negative : tuple[str, ...]
        Comments of respondents satisfied with at least three quarters of the items they
        rated, and of the others.
    respondent_sd, answer_sd : float
        Standard deviations of the respondent's level and of each answer around it.
    skip_share : float
        Share of rating items skipped.
    expectation_share, profile_share : float
        Share of respondents answering the expectation items (then 90 % of them each), and share
        of each profile item answered.
    comment_share, phone_share : float
        Share of respondents writing a comment, and of comments ending with a phone number.
    procedure_share : float
        Share of responses that name their procedure.
    too_fast_share, straightlining_share : float
        Share of respondents answering in under ``min_seconds``, and giving every rating item
        the same answer (others straight-line by chance).
    english_share : float
        Share of respondents answering in English.
    """

    agency_fields: Mapping[str, tuple[str, ...]]
    agency_volume: Mapping[str, float]
    agency_effect: Mapping[str, float] = field(default_factory=dict)
    agency_trend: Mapping[str, float] = field(default_factory=dict)
    field_effect: Mapping[str, float] = field(default_factory=dict)
    counter_effect: Mapping[str, float] = field(default_factory=dict)
    base_level: float = 4.3
    factor_effect: Mapping[str, float] = field(default_factory=dict)
    not_applicable: Mapping[str, float] = field(default_factory=dict)
    default_not_applicable: float = 0.04
    comments_positive: tuple[str, ...] = ("Cán bộ hướng dẫn nhiệt tình, chu đáo.",)
    comments_negative: tuple[str, ...] = ("Thời gian chờ đợi hơi lâu.",)
    respondent_sd: float = 0.45
    answer_sd: float = 0.55
    skip_share: float = 0.02
    expectation_share: float = 0.6
    profile_share: float = 0.9
    comment_share: float = 0.06
    phone_share: float = 0.2
    procedure_share: float = 0.85
    too_fast_share: float = 0.02
    straightlining_share: float = 0.015
    english_share: float = 0.05


@dataclass(frozen=True)
class _Units:
    """The units of the database as arrays (one entry per counter, field, procedure)."""

    counter_id: np.ndarray
    counter_code: tuple[str, ...]
    counter_agency: np.ndarray  # index into agency_*
    counter_field: np.ndarray  # index into field_*, -1 when the counter has no field
    counter_p: np.ndarray
    agency_id: np.ndarray
    agency_code: tuple[str, ...]
    agency_fields: np.ndarray  # (agencies, max fields) field indices, -1 padded
    agency_n_fields: np.ndarray
    field_id: np.ndarray
    field_code: tuple[str, ...]
    field_procedures: np.ndarray  # (fields, max procedures) procedure indices, -1 padded
    field_n_procedures: np.ndarray
    procedure_id: np.ndarray
    procedure_code: tuple[str, ...]
    counter_level: np.ndarray  # agency + counter effect, per counter
    counter_trend: np.ndarray
    field_level: np.ndarray
    # POSIX seconds at which the counter's agency starts and stops existing (±inf: open), and
    # the moments at which the set of existing agencies changes.
    counter_start: np.ndarray
    counter_end: np.ndarray
    changes: np.ndarray


def _padded(groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(g) for g in groups), default=0) or 1
    table = np.full((len(groups), width), -1, dtype=np.int64)
    for row, members in enumerate(groups):
        table[row, : len(members)] = members
    return table, np.array([len(g) for g in groups], dtype=np.int64)


def _load_units(connection: Connection, profile: SeedProfile) -> _Units:
    agencies = connection.execute(
        select(Agency.id, Agency.code, Agency.valid_from, Agency.valid_until).order_by(Agency.id)
    ).all()
    fields = connection.execute(select(Field.id, Field.code).order_by(Field.id)).all()
    procedures = connection.execute(
        select(Procedure.id, Procedure.code, Procedure.field_id).order_by(Procedure.id)
    ).all()
    counters = connection.execute(
        select(Counter.id, Counter.code, Counter.agency_id, Counter.field_id)
        .where(Counter.active.is_(True))
        .order_by(Counter.id)
    ).all()
    agency_index = {row.id: i for i, row in enumerate(agencies)}
    field_index = {row.id: i for i, row in enumerate(fields)}
    field_by_code = {row.code: i for i, row in enumerate(fields)}
    counters_of = np.bincount(
        [agency_index[c.agency_id] for c in counters], minlength=len(agencies)
    )
    volume = np.array(
        [
            profile.agency_volume.get(agencies[agency_index[c.agency_id]].code, 0.0)
            / counters_of[agency_index[c.agency_id]]
            for c in counters
        ]
    )
    if not counters or volume.sum() <= 0:
        raise ValueError("no active counter of an agency with a volume: seed the units first")
    agency_fields, agency_n_fields = _padded(
        [[field_by_code[f] for f in profile.agency_fields.get(a.code, ())] for a in agencies]
    )
    field_procedures, field_n_procedures = _padded(
        [[i for i, p in enumerate(procedures) if p.field_id == f.id] for f in fields]
    )
    counter_agency = np.array([agency_index[c.agency_id] for c in counters], dtype=np.int64)
    counter_field = np.array(
        [field_index[c.field_id] if c.field_id is not None else -1 for c in counters],
        dtype=np.int64,
    )
    without_field = (counter_field < 0) & (agency_n_fields[counter_agency] == 0) & (volume > 0)
    if without_field.any():
        codes = sorted({agencies[counter_agency[i]].code for i in np.flatnonzero(without_field)})
        raise ValueError(f"agencies without fields in the profile: {', '.join(codes)}")
    return _Units(
        counter_id=np.array([c.id for c in counters], dtype=np.int64),
        counter_code=tuple(c.code for c in counters),
        counter_agency=counter_agency,
        counter_field=counter_field,
        counter_p=volume / volume.sum(),
        agency_id=np.array([a.id for a in agencies], dtype=np.int64),
        agency_code=tuple(a.code for a in agencies),
        agency_fields=agency_fields,
        agency_n_fields=agency_n_fields,
        field_id=np.array([f.id for f in fields], dtype=np.int64),
        field_code=tuple(f.code for f in fields),
        field_procedures=field_procedures,
        field_n_procedures=field_n_procedures,
        procedure_id=np.array([p.id for p in procedures], dtype=np.int64),
        procedure_code=tuple(p.code for p in procedures),
        counter_level=np.array(
            [
                profile.agency_effect.get(agencies[agency_index[c.agency_id]].code, 0.0)
                + profile.counter_effect.get(c.code, 0.0)
                for c in counters
            ]
        ),
        counter_trend=np.array(
            [
                profile.agency_trend.get(agencies[agency_index[c.agency_id]].code, 0.0)
                for c in counters
            ]
        ),
        field_level=np.array([profile.field_effect.get(f.code, 0.0) for f in fields]),
        **_validity(agencies, counter_agency),
    )


def _local_midnight(day: date | None, default: float) -> float:
    """POSIX seconds of midnight in Viet Nam at the start of ``day`` (``default`` if None)."""
    if day is None:
        return default
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) - _LOCAL_OFFSET).timestamp()


def _validity(agencies: Sequence[Any], counter_agency: np.ndarray) -> dict[str, np.ndarray]:
    """When each counter's agency exists: from its first day to the end of its last day."""
    start = np.array([_local_midnight(a.valid_from, -np.inf) for a in agencies])
    end = np.array(
        [
            _local_midnight(a.valid_until + timedelta(days=1) if a.valid_until else None, np.inf)
            for a in agencies
        ]
    )
    changes = np.unique(np.concatenate([start[np.isfinite(start)], end[np.isfinite(end)]]))
    return {
        "counter_start": start[counter_agency] if len(start) else np.empty(0),
        "counter_end": end[counter_agency] if len(end) else np.empty(0),
        "changes": changes,
    }


class _OfficeClock:
    """Office hours of the working days in ``[now - 365 days, now)`` laid end to end: a uniform
    draw on ``[0, total)`` maps to a uniform moment of office time."""

    def __init__(self, now: datetime) -> None:
        now = now.astimezone(UTC)
        start = now - timedelta(days=365)
        local_day = (start + _LOCAL_OFFSET).date()
        starts, lengths = [], []
        while True:
            midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC)
            midnight -= _LOCAL_OFFSET
            if midnight >= now:
                break
            if local_day.weekday() < 5:
                for begin, end in _OFFICE_WINDOWS:
                    lo = max(midnight + timedelta(seconds=begin), start)
                    hi = min(midnight + timedelta(seconds=end), now)
                    if hi > lo:
                        starts.append(lo.timestamp())
                        lengths.append((hi - lo).total_seconds())
            local_day += timedelta(days=1)
        self.starts = np.array(starts)
        self.ends = np.cumsum(lengths)
        self.total = float(self.ends[-1])
        self.first, self.last = start.timestamp(), now.timestamp()

    def moments(self, positions: np.ndarray) -> np.ndarray:
        """POSIX seconds of the office-time ``positions`` (in ``[0, total)``)."""
        window = np.searchsorted(self.ends, positions, side="right")
        window = np.minimum(window, len(self.ends) - 1)
        before = np.concatenate([[0.0], self.ends[:-1]])[window]
        return self.starts[window] + (positions - before)


@dataclass(frozen=True)
class _Items:
    """The form's answer columns, by kind, as positions in ``FormLayout.item_keys``."""

    rating: np.ndarray
    rating_factor: np.ndarray  # factor index per rating position
    factor_keys: tuple[str, ...]
    expectation: tuple[tuple[int, tuple[int, ...]], ...]
    profile: tuple[tuple[int, tuple[int, ...], np.ndarray], ...]


def _items(form: forms.Form, layout: FormLayout) -> _Items:
    position = {key: i for i, key in enumerate(layout.item_keys)}
    factor_of = {key: f.key for f in form.factors for key in f.item_keys}
    factor_keys = tuple(f.key for f in form.factors)
    rating = [position[item.key] for item in form.rating_items]
    profile = []
    for item in form.profile_items:
        codes = tuple(sorted(item.codes))
        weights = np.ones(len(codes))
        if item.key == "ethnicity" and len(codes) == 2:
            weights = np.array([0.88, 0.12])  # Kinh, other ethnic groups
        profile.append((position[item.key], codes, weights / weights.sum()))
    return _Items(
        rating=np.array(rating, dtype=np.int64),
        rating_factor=np.array(
            [factor_keys.index(factor_of[i.key]) for i in form.rating_items], dtype=np.int64
        ),
        factor_keys=factor_keys,
        expectation=tuple(
            (position[i.key], tuple(sorted(i.codes))) for i in form.expectation_items
        ),
        profile=tuple(profile),
    )


@dataclass
class _Chunk:
    """One chunk of generated responses, as columns."""

    uuid_hex: np.ndarray  # (rows, 32) hex digits
    submitted: np.ndarray  # POSIX microseconds
    started: np.ndarray
    counter: np.ndarray  # counter index
    agency: np.ndarray
    field_: np.ndarray
    procedure: np.ndarray  # -1 = none
    channel: np.ndarray
    flags: np.ndarray
    comment: list[str | None]  # as stored: phone numbers masked (survey.privacy)
    comment_masked: np.ndarray
    english: np.ndarray
    codes: np.ndarray  # (rows, answer columns), -1 = skipped


class _Generator:
    """Draws chunks of responses; the chunks of one run follow each other in time."""

    def __init__(
        self,
        units: _Units,
        items: _Items,
        profile: SeedProfile,
        n_columns: int,
        rng: np.random.Generator,
        clock: _OfficeClock,
        min_seconds: float,
    ) -> None:
        self.units, self.items, self.profile = units, items, profile
        self.n_columns, self.rng, self.clock = n_columns, rng, clock
        self.min_seconds = min_seconds
        self.factor_level = np.array([profile.factor_effect.get(k, 0.0) for k in items.factor_keys])
        self.factor_na = np.array(
            [
                profile.not_applicable.get(k, profile.default_not_applicable)
                for k in items.factor_keys
            ]
        )

    def chunk(self, begin: float, end: float, rows: int) -> _Chunk:
        """``rows`` responses at sorted office-time positions in ``[begin, end)``."""
        rng, units, profile = self.rng, self.units, self.profile
        positions = np.sort(rng.uniform(begin, end, size=rows))
        submitted = np.round(self.clock.moments(positions) * 1e6).astype(np.int64)
        counter = self._counters(submitted)
        agency = units.counter_agency[counter]
        channel = rng.choice(len(CHANNELS), size=rows, p=_CHANNEL_SHARES)
        field_ = units.counter_field[counter]
        free = field_ < 0
        pick = (rng.random(rows) * units.agency_n_fields[agency]).astype(np.int64)
        field_ = np.where(free, units.agency_fields[agency, pick], field_)
        n_proc = units.field_n_procedures[field_]
        proc_pick = (rng.random(rows) * np.maximum(n_proc, 1)).astype(np.int64)
        procedure = np.where(
            (n_proc > 0) & (rng.random(rows) < profile.procedure_share),
            units.field_procedures[field_, proc_pick],
            -1,
        )
        # Time on the questionnaire: about two minutes; a few answer in a few seconds.
        seconds = rng.gamma(4.0, 30.0, size=rows)
        hasty = rng.random(rows) < profile.too_fast_share
        seconds[hasty] = rng.uniform(3.0, self.min_seconds, size=int(hasty.sum()))
        started = submitted - np.round(seconds * 1e6).astype(np.int64)
        # Latent satisfaction: units, trend over the year, respondent.
        year_position = (submitted / 1e6 - self.clock.first) / (self.clock.last - self.clock.first)
        level = (
            profile.base_level
            + units.counter_level[counter]
            + units.field_level[field_]
            + units.counter_trend[counter] * (year_position - 0.5)
            + rng.normal(0.0, profile.respondent_sd, size=rows)
        )
        codes = np.full((rows, self.n_columns), _SKIPPED, dtype=np.int16)
        rating = self._ratings(level, rows)
        straight = rng.random(rows) < profile.straightlining_share
        same = np.clip(np.rint(level[straight]), 1, 5).astype(np.int16)
        rating[straight] = np.where(rating[straight] >= 0, same[:, None], rating[straight])
        codes[:, self.items.rating] = rating
        self._expectations(codes, rows)
        self._profile(codes, rows)
        too_fast = (submitted - started) / 1e6 < self.min_seconds
        flags = too_fast.astype(np.int64) + 2 * _straightlining(rating)
        comments, masked = self._comments(rating, rows)
        return _Chunk(
            uuid_hex=_uuid4_hex(rng, rows),
            submitted=submitted,
            started=started,
            counter=counter,
            agency=agency,
            field_=field_,
            procedure=procedure,
            channel=channel,
            flags=flags,
            comment=comments,
            comment_masked=masked,
            english=rng.random(rows) < profile.english_share,
            codes=codes,
        )

    def _counters(self, submitted: np.ndarray) -> np.ndarray:
        """A counter per response, by volume among the counters whose agency exists at the
        response's moment (``submitted`` is sorted)."""
        rng, units = self.rng, self.units
        rows = len(submitted)
        if not units.changes.size:
            return rng.choice(len(units.counter_id), size=rows, p=units.counter_p)
        seconds = submitted / 1e6
        segment = np.searchsorted(units.changes, seconds, side="right")
        counter = np.empty(rows, dtype=np.int64)
        bounds = np.flatnonzero(np.diff(segment)) + 1
        for lo, hi in zip([0, *bounds], [*bounds, rows], strict=True):
            if lo == hi:
                continue
            moment = seconds[lo]
            alive = (units.counter_start <= moment) & (moment < units.counter_end)
            p = np.where(alive, units.counter_p, 0.0)
            if p.sum() <= 0:
                raise ValueError("no counter of an existing agency with a volume on some day")
            counter[lo:hi] = rng.choice(len(units.counter_id), size=hi - lo, p=p / p.sum())
        return counter

    def _ratings(self, level: np.ndarray, rows: int) -> np.ndarray:
        rng, items = self.rng, self.items
        k = len(items.rating)
        latent = (
            level[:, None]
            + self.factor_level[items.rating_factor][None, :]
            + rng.normal(0.0, self.profile.answer_sd, size=(rows, k))
        )
        rating = np.clip(np.rint(latent), 1, 5).astype(np.int16)
        draw = rng.random((rows, k))
        na = draw < self.factor_na[items.rating_factor][None, :]
        rating[na] = 0
        rating[rng.random((rows, k)) < self.profile.skip_share] = _SKIPPED
        return rating

    def _expectations(self, codes: np.ndarray, rows: int) -> None:
        answered = self.rng.random(rows) < self.profile.expectation_share
        for position, choices in self.items.expectation:
            values = self.rng.choice(np.array(choices, dtype=np.int16), size=rows)
            keep = answered & (self.rng.random(rows) < 0.9)
            codes[:, position] = np.where(keep, values, _SKIPPED)

    def _profile(self, codes: np.ndarray, rows: int) -> None:
        for position, choices, weights in self.items.profile:
            values = self.rng.choice(np.array(choices, dtype=np.int16), size=rows, p=weights)
            keep = self.rng.random(rows) < self.profile.profile_share
            codes[:, position] = np.where(keep, values, _SKIPPED)

    def _comments(self, rating: np.ndarray, rows: int) -> tuple[list[str | None], np.ndarray]:
        """The comments as the write path stores them (phone numbers masked), and which ones
        were masked."""
        rng, profile = self.rng, self.profile
        writes = np.flatnonzero(rng.random(rows) < profile.comment_share)
        comments: list[str | None] = [None] * rows
        masked = np.zeros(rows, dtype=bool)
        valid = (rating >= 1).sum(axis=1)
        satisfied = (rating >= 4).sum(axis=1)
        for row in writes:
            pool = (
                profile.comments_positive
                if satisfied[row] >= 0.75 * valid[row]
                else profile.comments_negative
            )
            text = pool[int(rng.integers(len(pool)))]
            if rng.random() < profile.phone_share:
                digits = f"09{int(rng.integers(10**8)):08d}"
                phone = f"{digits[:4]} {digits[4:7]} {digits[7:]}"
                text += f" Nếu cần, xin gọi lại cho tôi theo số {phone}."
            comments[row], masked[row] = mask_comment(text)
        return comments, masked


def _straightlining(rating: np.ndarray) -> np.ndarray:
    """The ``straightlining`` rule of :func:`survey.quality.quality_flags`: at least 5 rating
    items answered on 1..5, all with the same code."""
    valid = rating >= 1
    high = np.where(valid, rating, -1).max(axis=1)
    low = np.where(valid, rating, 99).min(axis=1)
    return ((valid.sum(axis=1) >= 5) & (high == low)).astype(np.int64)


# Text is built as byte matrices, one row per response: each column of the output is a block of
# fixed width, left-aligned and padded with NUL bytes, which :func:`_compact` then drops. The
# content never holds a NUL byte (PostgreSQL text cannot), so the padding is unambiguous.


def _words(words: Sequence[bytes]) -> np.ndarray:
    """A vocabulary as a matrix: row ``i`` holds ``words[i]``, NUL-padded."""
    table = np.zeros((len(words), max((len(w) for w in words), default=0) or 1), dtype=np.uint8)
    for i, word in enumerate(words):
        table[i, : len(word)] = np.frombuffer(word, dtype=np.uint8)
    return table


def _constant(word: bytes, rows: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(word, dtype=np.uint8), (rows, len(word)))


def _texts(values: Sequence[bytes | None], null: bytes) -> np.ndarray:
    """Variable texts (``null`` for ``None``) as a NUL-padded matrix."""
    width = max((len(v) for v in values if v is not None), default=0)
    matrix = np.zeros((len(values), max(width, len(null))), dtype=np.uint8)
    matrix[:, : len(null)] = np.frombuffer(null, dtype=np.uint8)
    for row, value in enumerate(values):
        if value is not None:
            matrix[row] = 0
            matrix[row, : len(value)] = np.frombuffer(value, dtype=np.uint8)
    return matrix


def _compact(blocks: Sequence[np.ndarray]) -> tuple[bytes, np.ndarray]:
    """The rows of the blocks side by side without their padding: the bytes, and the offset at
    which each row ends."""
    matrix = np.hstack(blocks)
    keep = matrix != 0
    return matrix[keep].tobytes(), np.cumsum(keep.sum(axis=1))


def _uuid4_hex(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Random version-4 UUIDs as 32 hex digits (the text both databases accept)."""
    raw = np.frombuffer(rng.bytes(16 * rows), dtype=np.uint8).reshape(rows, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((rows, 32), dtype=np.uint8)
    text[:, 0::2] = digits[raw >> 4]
    text[:, 1::2] = digits[raw & 0x0F]
    return text


def _code_list(codes: np.ndarray, null: bytes, brackets: bytes) -> np.ndarray:
    """Each row's codes as an array literal: ``{4,5,NULL}`` or ``[4,5,null]``."""
    top = int(codes.max(initial=0))
    first = _words([null, *(str(c).encode() for c in range(top + 1))])
    rest = _words([b"," + null, *(b",%d" % c for c in range(top + 1))])
    index = codes.astype(np.int64) + 1
    rows = len(codes)
    blocks = [_constant(brackets[:1], rows), first[index[:, 0]]]
    blocks += [rest[index[:, j]] for j in range(1, codes.shape[1])]
    return np.hstack([*blocks, _constant(brackets[1:], rows)])


def _json(value: str | None) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _content_hashes(
    chunk: _Chunk, units: _Units, keys: Sequence[str], form: forms.Form
) -> list[str]:
    """:func:`survey.submissions.content_hash` of each row: the SHA-256 of the same canonical
    JSON (``sort_keys``, no spaces, answers sorted by key, skipped items left out)."""
    rows = len(chunk.counter)
    top = int(chunk.codes.max(initial=0))
    answers = []
    for j in sorted(range(len(keys)), key=lambda j: keys[j]):
        token = b',["' + keys[j].encode() + b'",%d]'
        answers.append(_words([b"", *(token % c for c in range(top + 1))])[chunk.codes[:, j] + 1])
    # Drop the comma before each row's first answer.
    widths = np.cumsum([0, *(block.shape[1] for block in answers)])[:-1]
    answer_block = np.hstack(answers)
    present = chunk.codes[:, sorted(range(len(keys)), key=lambda j: keys[j])] >= 0
    some = np.flatnonzero(present.any(axis=1))
    answer_block[some, widths[present[some].argmax(axis=1)]] = 0

    def spelled(values: Sequence[str], index: np.ndarray, present: np.ndarray) -> np.ndarray:
        return _words([*(_json(v) for v in values), b"null"])[np.where(present, index, len(values))]

    everyone = np.ones(rows, dtype=bool)
    data, ends = _compact(
        [
            _constant(b'{"answers":[', rows),
            answer_block,
            _constant(b'],"channel":', rows),
            spelled(CHANNELS, chunk.channel, everyone),
            _constant(b',"comment":', rows),
            _texts([None if c is None else _json(c) for c in chunk.comment], b"null"),
            _constant(
                b',"dossier":null,"form":[%s,%d],"token":null,"units":['
                % (_json(form.id), form.version),
                rows,
            ),
            spelled(units.agency_code, chunk.agency, everyone),
            _constant(b",", rows),
            spelled(units.counter_code, chunk.counter, everyone),
            _constant(b",", rows),
            spelled(units.field_code, chunk.field_, everyone),
            _constant(b",", rows),
            spelled(units.procedure_code, np.maximum(chunk.procedure, 0), chunk.procedure >= 0),
            _constant(b"]}", rows),
        ]
    )
    starts = np.concatenate([[0], ends[:-1]]).tolist()
    return [
        hashlib.sha256(data[start:end]).hexdigest()
        for start, end in zip(starts, ends.tolist(), strict=True)
    ]


def _moments(micros: np.ndarray, separator: bytes, suffix: bytes) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC) with ``separator`` between date and time."""
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").astype("S26")
    matrix = text.view(np.uint8).reshape(len(micros), 26).copy()
    matrix[:, 10] = ord(separator)
    return np.hstack([matrix, _constant(suffix, len(micros))]) if suffix else matrix


def _integers(values: np.ndarray, present: np.ndarray | None, null: bytes) -> np.ndarray:
    """Integers (unit ids) as text, ``null`` where not ``present``."""
    distinct, index = np.unique(values, return_inverse=True)
    table = _words([*(str(v).encode() for v in distinct.tolist()), null])
    return table[index if present is None else np.where(present, index, len(distinct))]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(chunk: _Chunk, units: _Units, layout: FormLayout, form: forms.Form) -> bytes:
    """The chunk as rows of ``COPY … FROM STDIN`` text format, in the order of :data:`COLUMNS`."""
    rows = len(chunk.counter)
    tab = _constant(b"\t", rows)
    comments = [
        None if c is None else c.translate(_COPY_ESCAPES).encode("utf-8") for c in chunk.comment
    ]
    hashes = "".join(_content_hashes(chunk, units, layout.item_keys, form)).encode("ascii")
    blocks = [
        chunk.uuid_hex,
        _constant(b"%d\t%s\t%d" % (layout.id, form.id.encode(), form.version), rows),
        _moments(chunk.submitted, b" ", b"+00"),
        _moments(chunk.started, b" ", b"+00"),
        _integers(units.agency_id[chunk.agency], None, b""),
        _integers(units.counter_id[chunk.counter], None, b""),
        _integers(units.field_id[chunk.field_], None, b""),
        _integers(units.procedure_id[np.maximum(chunk.procedure, 0)], chunk.procedure >= 0, b"\\N"),
        _words([c.encode() for c in CHANNELS])[chunk.channel],
        _words([f.encode() for f in _FLAG_TEXT])[chunk.flags],
        _texts(comments, b"\\N"),
        _words([b"f", b"t"])[chunk.comment_masked.astype(np.int64)],
        _words([b"vi", b"en"])[chunk.english.astype(np.int64)],
        np.frombuffer(hashes, dtype=np.uint8).reshape(rows, 64),
        _code_list(chunk.codes, b"NULL", b"{}"),
    ]
    spaced = [blocks[0]]
    for block in blocks[1:]:
        spaced += [tab, block]
    data, _ends = _compact([*spaced, _constant(b"\n", rows)])
    return data


def _sqlite_rows(
    chunk: _Chunk, units: _Units, layout: FormLayout, form: forms.Form
) -> list[tuple[object, ...]]:
    """The chunk as parameter tuples in the order of :data:`COLUMNS` (SQLAlchemy's SQLite
    spelling: UUIDs as 32 hex digits, naive UTC times, JSON arrays)."""
    rows = len(chunk.counter)

    def texts(matrix: np.ndarray) -> list[str]:
        data, ends = _compact([matrix])
        starts = np.concatenate([[0], ends[:-1]]).tolist()
        return [data[a:b].decode() for a, b in zip(starts, ends.tolist(), strict=True)]

    def nullable(values: np.ndarray, present: np.ndarray) -> list[int | None]:
        return [v if p else None for v, p in zip(values.tolist(), present.tolist(), strict=True)]

    columns: list[list[object]] = [
        [bytes(u).decode() for u in chunk.uuid_hex.view("S32").ravel()],
        [layout.id] * rows,
        [form.id] * rows,
        [form.version] * rows,
        texts(_moments(chunk.submitted, b" ", b"")),
        texts(_moments(chunk.started, b" ", b"")),
        units.agency_id[chunk.agency].tolist(),
        units.counter_id[chunk.counter].tolist(),
        units.field_id[chunk.field_].tolist(),
        nullable(units.procedure_id[np.maximum(chunk.procedure, 0)], chunk.procedure >= 0),
        [CHANNELS[c] for c in chunk.channel.tolist()],
        _FLAG_TEXT[chunk.flags].tolist(),
        chunk.comment,
        chunk.comment_masked.astype(np.int64).tolist(),
        np.where(chunk.english, "en", "vi").tolist(),
        _content_hashes(chunk, units, layout.item_keys, form),
        texts(_code_list(chunk.codes, b"null", b"[]")),
    ]
    return list(zip(*columns, strict=True))


def _write_postgresql(connection: Connection, data: bytes) -> None:
    """``COPY`` one chunk of :func:`_copy_text` into ``responses``."""
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY responses ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        with memoryview(data) as view:
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])


def _write_sqlite(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert one chunk of :func:`_sqlite_rows` into ``responses``."""
    statement = (
        f"INSERT INTO responses ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    connection.connection.driver_connection.cursor().executemany(statement, rows)


_SECONDARY_STRUCTURES = text(
    """
    SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
     WHERE conrelid = 'responses'::regclass AND contype IN ('f', 'u')
    UNION ALL
    SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
     WHERE indrelid = 'responses'::regclass AND NOT indisprimary
       AND indexrelid NOT IN (SELECT conindid FROM pg_constraint
                               WHERE conrelid = 'responses'::regclass)
    """
)


@contextmanager
def _without_secondary_structures(connection: Connection) -> Iterator[None]:
    """Drop the foreign keys, unique constraints and secondary indexes of ``responses`` and
    create them again on exit, in the caller's transaction (PostgreSQL).

    Loading an empty table and then building each index in one pass is many times faster than
    maintaining seven indexes and five foreign-key checks row by row. DDL is transactional in
    PostgreSQL: if anything fails, the rollback restores the table as it was. The table is
    locked (ACCESS EXCLUSIVE) until the transaction ends.
    """
    found = connection.execute(_SECONDARY_STRUCTURES).all()
    for kind, name, _definition in found:
        if kind == "constraint":
            connection.exec_driver_sql(f'ALTER TABLE responses DROP CONSTRAINT "{name}"')
        else:
            connection.exec_driver_sql(f"DROP INDEX {name}")
    yield
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for kind, name, definition in found:
        if kind == "constraint":
            connection.exec_driver_sql(
                f'ALTER TABLE responses ADD CONSTRAINT "{name}" {definition}'
            )
        else:
            connection.exec_driver_sql(definition)
    connection.exec_driver_sql("ANALYZE responses")


def seed_responses(
    connection: Connection,
    n: int,
    *,
    form: forms.Form,
    layout: FormLayout,
    profile: SeedProfile,
    random_seed: int = 2024,
    now: datetime | None = None,
    min_seconds: float = 15.0,
    chunk_rows: int = 100_000,
    rebuild_indexes: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Generate ``n`` responses to ``form`` and write them in the connection's transaction.

    Parameters
    ----------
    connection : sqlalchemy.Connection
        A connection to a SQLite or PostgreSQL database migrated to the newest schema, with
        the units of ``profile`` in it; the caller commits.
    n : int
        Number of responses.
    form : forms.Form
        The questionnaire answered.
    layout : survey.repository.FormLayout
        Its ``form_versions`` row (:func:`survey.repository.record_form_version`).
    profile : SeedProfile
        The model of the responses.
    random_seed : int
        Seed of the generator: the same seed, ``n``, ``now`` and units give the same rows.
    now : datetime, optional
        End of the year of responses (default: the current time).
    min_seconds : float
        The server's ``SIPAS_MIN_SECONDS``: responses faster than this are flagged ``too_fast``.
    chunk_rows : int
        Rows generated and written at a time (memory grows with it: about 1 kB per row).
    rebuild_indexes : bool, optional
        PostgreSQL: drop the secondary indexes, unique constraints and foreign keys of
        ``responses`` before writing and build them again afterwards, in the same transaction.
        By default only when the table is empty and ``n`` is at least 100,000.
    progress : callable, optional
        Called with the number of rows written so far after each chunk.

    Returns
    -------
    int
        The number of rows written.

    Raises
    ------
    ValueError
        ``n`` or ``chunk_rows`` out of range, or no counter with a volume in ``profile``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    dialect = connection.dialect.name
    units = _load_units(connection, profile)
    generator = _Generator(
        units,
        _items(form, layout),
        profile,
        len(layout.item_keys),
        np.random.default_rng(random_seed),
        _OfficeClock(now or datetime.now(UTC)),
        min_seconds,
    )
    total = generator.clock.total
    Payload = bytes | list[tuple[object, ...]]

    def prepare(start: int) -> tuple[int, Payload]:
        rows = min(chunk_rows, n - start)
        chunk = generator.chunk(total * start / n, total * (start + rows) / n, rows)
        if dialect == "postgresql":
            return rows, _copy_text(chunk, units, layout, form)
        return rows, _sqlite_rows(chunk, units, layout, form)

    def write(payload: Payload) -> None:
        if isinstance(payload, bytes):
            _write_postgresql(connection, payload)
        else:
            _write_sqlite(connection, payload)

    if rebuild_indexes is None:
        rebuild_indexes = n >= 100_000 and count_responses(connection) == 0
    rebuilding = dialect == "postgresql" and rebuild_indexes
    written = 0
    # One thread prepares the next chunk while this one is written (two chunks in memory at
    # most): the database parses and stores a chunk while Python and numpy build the next.
    starts = iter(range(0, n, chunk_rows))
    with (
        _without_secondary_structures(connection) if rebuilding else nullcontext(),
        ThreadPoolExecutor(max_workers=1) as preparer,
    ):
        first = next(starts, None)
        pending = None if first is None else preparer.submit(prepare, first)
        while pending is not None:
            rows, payload = pending.result()
            start = next(starts, None)
            pending = None if start is None else preparer.submit(prepare, start)
            write(payload)
            written += rows
            if progress is not None:
                progress(written)
    return written


def count_responses(connection: Connection) -> int:
    """The number of rows in ``responses``."""
    return int(connection.scalar(select(func.count()).select_from(Response)) or 0)
