"""Vectorised building blocks of the count table: codes, group ids and weighted sums.

Everything here works on whole columns with numpy (``np.bincount`` on combined integer
keys); nothing loops over groups, PSUs or responses in Python.
:func:`analysis.counts.counts_from_responses` assembles the table from these pieces.

Answers are handled as small integers: :func:`answer_index` maps every answer of an item to its
position in the item's sorted codes (``int8``; the number of codes means "skipped"), so the sums
per ``(group, item, answer)`` are one ``bincount`` of ``group * stride + index``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InvalidResponsesError

__all__ = [
    "AnswerCodes",
    "Groups",
    "WeightSums",
    "answer_index",
    "factorize_column",
    "first_rows",
    "group_constant",
    "group_rows",
    "sum_by_answer",
    "sum_by_group",
    "sum_by_masks",
    "sum_by_value",
]

_MAX_LISTED = 5
_LUT_SPAN = 4096  # codes spanning at most this range use a lookup table, else searchsorted


@dataclass(frozen=True, slots=True)
class AnswerCodes:
    """The answers of one item as positions in its sorted codes.

    Attributes
    ----------
    index : ndarray of int8 (or int16 for items with more than 126 codes)
        Position of every response's answer in :attr:`codes`; ``len(codes)`` = skipped.
    codes : ndarray of float
        The item's codes, sorted.
    """

    index: np.ndarray
    codes: np.ndarray

    @property
    def skipped(self) -> int:
        """The index value of a skipped answer."""
        return int(self.codes.size)


@dataclass(frozen=True, slots=True)
class WeightSums:
    """Per-response weights the sums are taken of: ``w``, ``w²`` and, with calibration, ``w0``."""

    w: np.ndarray
    w2: np.ndarray
    w0: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Groups:
    """Group id of every response and, for every group, the code of each key column.

    Attributes
    ----------
    ids : ndarray of int64
        Group of every response, ``0 .. size-1``.
    codes : tuple of ndarray
        For every key column (in the order given to :func:`group_rows`), its code in each
        group.
    """

    ids: np.ndarray
    codes: tuple[np.ndarray, ...]

    @property
    def size(self) -> int:
        """Number of groups."""
        return int(self.codes[0].size) if self.codes else int(self.ids.max(initial=-1)) + 1


def answer_index(column: pd.Series, item: Any) -> AnswerCodes:
    """Check one item's answers and return them as positions in the item's codes.

    Integer columns (numpy or pandas nullable, as read from Parquet or by the pyarrow CSV
    reader) take a lookup table; float columns (NaN = skipped) are checked for integrality;
    text columns are parsed (blank = skipped).

    Raises
    ------
    InvalidResponsesError
        Non-numeric answers, or codes that are not among the item's codes.
    """
    codes = np.array(sorted(item.codes), dtype=np.int64)
    skipped = codes.size
    small = np.int8 if skipped < 127 else np.int16
    dtype = column.dtype
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        blank = column.isna().to_numpy() if column.hasnans else None
        native = getattr(dtype, "numpy_dtype", dtype)
        raw = column.to_numpy(dtype=native if native.kind in "iu" else np.int64, na_value=0)
    else:
        values = _numeric(column, item)
        blank = np.isnan(values)
        fractional = ~blank & (values != np.floor(values))
        if fractional.any():
            _raise_outside(item, values[fractional], int(fractional.sum()), codes)
        raw = np.where(blank, 0, values).astype(np.int64)
        blank = blank if blank.any() else None
    contiguous = codes[-1] - codes[0] == skipped - 1
    small_ints = raw.dtype.itemsize <= 2 and skipped < 127
    if small_ints:
        info = np.iinfo(raw.dtype)
        small_ints = info.min <= codes[0] and codes[-1] <= info.max
    if contiguous and small_ints:  # arithmetic on the small integers themselves
        low, high = int(codes[0]), int(codes[-1])
        bad = (raw < low) | (raw > high)
        index = (raw.astype(np.int16) - low).astype(small)
    else:
        index = _positions(raw.astype(np.int64), codes)
        bad = index < 0
        index = index.astype(small)
    if blank is not None:
        index[blank] = skipped
        bad &= ~blank
    if bad.any():
        _raise_outside(item, raw[bad], int(bad.sum()), codes)
    return AnswerCodes(index, codes.astype(float))


def _numeric(column: pd.Series, item: Any) -> np.ndarray:
    raw = column
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.astype("string").str.strip()
        raw = text.mask(text == "")
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad_text = np.isnan(values) & ~pd.isna(raw).to_numpy()
    if bad_text.any():
        examples = column[bad_text].astype(str).unique()[:_MAX_LISTED].tolist()
        raise InvalidResponsesError(
            f"item {item.key!r}: {int(bad_text.sum())} non-numeric answer(s), e.g. {examples}"
        )
    return values


def _positions(raw: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Position of every value in ``codes`` (-1 when absent), via a lookup table if small."""
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(min(raw.min(), codes[0]))
    high = int(max(raw.max(), codes[-1]))
    if high - low <= _LUT_SPAN:
        lut = np.full(high - low + 1, -1, dtype=np.int16)
        lut[codes - low] = np.arange(codes.size)
        return lut[raw - low]
    pos = np.searchsorted(codes, raw)
    pos = np.minimum(pos, codes.size - 1)
    return np.where(codes[pos] == raw, pos, -1).astype(np.int16)


def _raise_outside(item: Any, values: np.ndarray, count: int, codes: np.ndarray) -> None:
    examples = np.unique(values)[:_MAX_LISTED].astype(float).tolist()
    raise InvalidResponsesError(
        f"item {item.key!r}: {count} answer(s) outside its codes {codes.tolist()}, e.g. {examples}"
    )


def factorize_column(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (NA its own value) and the values they stand for.

    Categorical columns (dictionary-encoded strings from Parquet or pyarrow CSV) use their codes
    directly: no hashing of strings.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        labels = pd.Index(column.cat.categories)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(labels), codes)
            labels = labels.append(pd.Index([np.nan]))
        return codes, labels
    codes, labels = pd.factorize(column, use_na_sentinel=False)
    return codes, pd.Index(labels)


def group_rows(codes: Sequence[np.ndarray], sizes: Sequence[int], n_rows: int) -> Groups:
    """Group id of every row for the crossing of several coded columns.

    The ids are dense (``0 .. groups-1``), in the order of the combined key (mixed radix of
    the columns' codes); no columns: one group.
    """
    space = 1
    for size in sizes:
        space *= max(int(size), 1)
    if space > 2**62:  # the combined key would overflow: hash the rows instead
        frame = pd.DataFrame({i: c for i, c in enumerate(codes)})
        ids, _ = pd.factorize(pd.MultiIndex.from_frame(frame))
        ids = ids.astype(np.int64)
        first = first_rows(ids)
        return Groups(ids, tuple(np.asarray(c)[first] for c in codes))
    key = np.zeros(n_rows, dtype=np.int64)
    for c, size in zip(codes, sizes, strict=True):
        key *= max(int(size), 1)
        key += c
    if space <= 4 * n_rows + 1_000_000:
        used = np.zeros(space, dtype=bool)
        used[key] = True
        position = np.cumsum(used) - 1
        ids = position[key]
        uniq = np.flatnonzero(used)
    else:
        uniq, ids = np.unique(key, return_inverse=True)
        ids = ids.astype(np.int64).ravel()
    decoded = []
    for size in reversed(list(sizes)):
        size = max(int(size), 1)
        decoded.append(uniq % size)
        uniq = uniq // size
    if not codes:
        return Groups(ids, ())
    return Groups(ids, tuple(reversed(decoded)))


def first_rows(ids: np.ndarray) -> np.ndarray:
    """Index of the first row of every id ``0..ids.max()``."""
    first = np.full(int(ids.max(initial=-1)) + 1, -1, dtype=np.int64)
    order = np.arange(len(ids))[::-1]
    first[ids[order]] = order
    return first


def group_constant(ids: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray | None:
    """The value of every group if ``values`` is constant within each group, else ``None``."""
    representative = np.zeros(n_groups)
    representative[ids] = values  # any member's value
    return representative if np.array_equal(representative[ids], values) else None


def sum_by_answer(
    base: np.ndarray,
    stride: int,
    n_groups: int,
    answers: AnswerCodes,
    weights: WeightSums,
    constant: WeightSums | None = None,
) -> dict[str, np.ndarray]:
    """Sums per ``(group, answer)`` of one item; skipped answers have no row.

    ``base`` is ``group id * stride`` for every response (``stride`` > every item's number of
    codes), so the key of a response is ``base + answer index``. ``constant``: the weights of
    every group when they are constant within groups (:func:`group_constant`; e.g. weights
    post-stratified by agency × field, and those among the group columns); the weighted sums
    are then :math:`n_g w_g`, one ``bincount`` instead of three or four.

    Returns
    -------
    dict
        ``group``, ``answer`` (the code), ``n``, ``w``, ``w2`` and, with base weights, ``w0``.
    """
    key = base + answers.index
    size = n_groups * stride
    n = np.bincount(key, minlength=size)
    slot = np.flatnonzero(n)
    position = slot % stride
    keep = position < answers.skipped
    slot, position = slot[keep], position[keep]
    group = slot // stride
    out = {"group": group, "answer": answers.codes[position], "n": n[slot]}
    names = ["w", "w2"] + ([] if weights.w0 is None else ["w0"])
    for name in names:
        per_group = None if constant is None else getattr(constant, name)
        if per_group is not None:
            out[name] = out["n"] * per_group[group]
        else:
            values = getattr(weights, name)
            out[name] = np.bincount(key, weights=values, minlength=size)[slot]
    return out


def sum_by_group(
    ids: np.ndarray, n_groups: int, weights: WeightSums, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Sums per group of the responses where ``mask`` holds (all when ``None``); ``answer`` 0/1.

    The ``answer`` column is 0 for all responses (``mask`` is None) and 1 for a masked subset.
    """
    if mask is not None and not mask.all():
        ids = ids[mask]
        weights = WeightSums(
            weights.w[mask],
            weights.w2[mask],
            None if weights.w0 is None else weights.w0[mask],
        )
    n = np.bincount(ids, minlength=n_groups)
    slot = np.flatnonzero(n)
    out = {
        "group": slot,
        "answer": np.full(slot.size, 0.0 if mask is None else 1.0),
        "n": n[slot],
        "w": np.bincount(ids, weights=weights.w, minlength=n_groups)[slot],
        "w2": np.bincount(ids, weights=weights.w2, minlength=n_groups)[slot],
    }
    if weights.w0 is not None:
        out["w0"] = np.bincount(ids, weights=weights.w0, minlength=n_groups)[slot]
    return out


def sum_by_masks(
    ids: np.ndarray, n_groups: int, weights: WeightSums, masks: Sequence[np.ndarray]
) -> list[dict[str, np.ndarray]]:
    """:func:`sum_by_group` for several masks at once (``answer`` 1).

    The masks of up to 8 indices are packed into the bits of one byte per response, so one
    ``bincount`` per weight gives the sums per ``(group, bit pattern)``; the sums per mask are
    those of the patterns with its bit set.
    """
    out = []
    for start in range(0, len(masks), 8):
        batch = masks[start : start + 8]
        pattern = np.zeros(ids.size, dtype=np.uint8)
        for bit, mask in enumerate(batch):
            pattern |= np.asarray(mask, dtype=np.uint8) << np.uint8(bit)
        key = ids * 256 + pattern
        size = n_groups * 256
        names = ["n", "w", "w2"] + (["w0"] if weights.w0 is not None else [])
        sums = {
            "n": np.bincount(key, minlength=size).reshape(n_groups, 256),
            "w": np.bincount(key, weights=weights.w, minlength=size).reshape(n_groups, 256),
            "w2": np.bincount(key, weights=weights.w2, minlength=size).reshape(n_groups, 256),
        }
        if weights.w0 is not None:
            sums["w0"] = np.bincount(key, weights=weights.w0, minlength=size).reshape(-1, 256)
        del key, pattern
        bits = (np.arange(256)[:, None] >> np.arange(len(batch))[None, :]) & 1
        per_mask = {name: sums[name] @ bits for name in names}  # (groups, masks)
        for b in range(len(batch)):
            n = per_mask["n"][:, b]
            slot = np.flatnonzero(n)
            part = {"group": slot, "answer": np.ones(slot.size)}
            part.update({name: per_mask[name][slot, b] for name in names})
            part["n"] = part["n"].astype(np.int64)
            out.append(part)
    return out


def sum_by_value(
    ids: np.ndarray, values: np.ndarray, weights: WeightSums, row_level: bool
) -> dict[str, np.ndarray]:
    """Sums per ``(group, value)`` for a continuous value (index-B respondent scores).

    ``row_level``: every response is its own group, so nothing is summed.
    """
    if row_level:
        out = {
            "group": ids,
            "answer": values,
            "n": np.ones(ids.size, dtype=np.int64),
            "w": weights.w,
            "w2": weights.w2,
        }
        if weights.w0 is not None:
            out["w0"] = weights.w0
        return out
    inverse, uniq = pd.factorize(values, sort=True)
    uniq = np.asarray(uniq, dtype=float)
    pair = ids * uniq.size + inverse
    slots, idx = np.unique(pair, return_inverse=True)
    idx = idx.ravel()
    out = {
        "group": slots // uniq.size,
        "answer": uniq[slots % uniq.size],
        "n": np.bincount(idx, minlength=slots.size),
        "w": np.bincount(idx, weights=weights.w, minlength=slots.size),
        "w2": np.bincount(idx, weights=weights.w2, minlength=slots.size),
    }
    if weights.w0 is not None:
        out["w0"] = np.bincount(idx, weights=weights.w0, minlength=slots.size)
    return out


_PAIR_CHUNK = 32_768


def sum_pairs(
    ids: np.ndarray,
    n_groups: int,
    valid: Sequence[np.ndarray],
    satisfied: Sequence[np.ndarray],
    weights: WeightSums,
) -> dict[str, np.ndarray]:
    r"""Joint sums over pairs of criteria, per group: the second moments of pooled designs.

    For criteria :math:`j < l` and the classes :math:`c_j, c_l \in \{0, 1\}` (valid and not
    satisfied, satisfied) of responses that answered both validly, the sums of 1, :math:`w`,
    :math:`w^2` (and :math:`w^0`) per ``(group, j, l, 2 c_j + c_l)``. With the per-item
    rows they give :math:`M_g = \sum_{i\in g} w_i^2\, y_i y_i^\top` for the 0/1 class
    indicators :math:`y_i` of all criteria (the matrix the variance of a version-A index
    needs when every response is its own PSU).

    Computed as :math:`Y^\top [Y, Y w, Y w^2]` (one matrix product per block of at most
    32,768 responses of a group; rows sorted by group once).

    Returns
    -------
    dict
        ``group``, ``first``, ``second`` (criterion positions), ``answer`` (``2 c_j + c_l``),
        ``n``, ``w``, ``w2`` and ``w0`` with base weights.
    """
    k = len(valid)
    order = np.argsort(ids, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=n_groups))])
    classes = np.empty((ids.size, k), dtype=np.int8)  # 0 none, 1 valid-unsatisfied, 2 satisfied
    for j in range(k):
        classes[:, j] = (valid[j].astype(np.int8) + satisfied[j].astype(np.int8))[order]
    sums = [np.ones(ids.size), weights.w[order], weights.w2[order]]
    if weights.w0 is not None:
        sums.append(weights.w0[order])
    per_row = np.stack(sums, axis=1)
    n_sums = per_row.shape[1]
    moments = np.zeros((n_groups, 2 * k, n_sums, 2 * k))
    for g in range(n_groups):
        for start in range(bounds[g], bounds[g + 1], _PAIR_CHUNK):
            stop = min(start + _PAIR_CHUNK, bounds[g + 1])
            block = classes[start:stop]
            y = np.concatenate([block == 1, block == 2], axis=1).astype(float)
            weighted = (y[:, None, :] * per_row[start:stop, :, None]).reshape(stop - start, -1)
            moments[g] += (y.T @ weighted).reshape(2 * k, n_sums, 2 * k)
    moments = moments.transpose(0, 1, 3, 2)  # (groups, 2k, 2k, sums)
    first, second = np.triu_indices(k, 1)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _pair_columns(n_sums)}
    for c_first in (0, 1):
        for c_second in (0, 1):
            block = moments[:, c_first * k + first, c_second * k + second]  # (G, pairs, sums)
            group, pair = np.nonzero(block[:, :, 0] > 0)
            parts["group"].append(group)
            parts["first"].append(first[pair])
            parts["second"].append(second[pair])
            parts["answer"].append(np.full(group.size, 2.0 * c_first + c_second))
            for s, name in enumerate(_pair_columns(n_sums)[4:]):
                parts[name].append(block[group, pair, s])
    out = {name: np.concatenate(values) for name, values in parts.items()}
    out["n"] = np.rint(out["n"]).astype(np.int64)
    return out


def _pair_columns(n_sums: int) -> list[str]:
    return ["group", "first", "second", "answer", "n", "w", "w2", "w0"][: 4 + n_sums]
