r"""Coverage: responses against the frame's dossier volumes, and when it is too low to trust.

For a group :math:`g` (a unit, a field, a unit × field, or everything) made of frame cells
:math:`c` (agency × field, in the frame's periods):

.. math::

    \text{coverage}_g = \frac{R_g}{D_g} = \frac{\sum_{c\in g} r_c}{\sum_{c\in g} d_c}

where :math:`r_c` is the number of responses of cell :math:`c` in a framed period and
:math:`d_c` its dossiers in the frame (the response rate: responses per dossier handled).
:math:`R_g` counts every response of the group in a framed period, including those of cells the
frame has no volume for (``cells_no_dossiers`` says how many such cells there are); the
``responses`` column also counts the responses of periods without a frame
(``responses_no_frame``). :math:`D_g` is unknown (NaN, not 0) when the frame has no cell of the
group, and the coverage is then unknown too. Coverage is NaN whenever :math:`D_g = 0`.

Periods
-------
Both tables may carry a ``period`` column spelled as :data:`analysis.frames.PERIOD_FORMATS`.
Both sides are brought to the coarser of their two granularities (month → quarter → half-year →
year; a month rolls up into its quarter, a quarter into its half-year and year) and summed
within it. A coarse period counts as *framed* only when the frame holds every one of its
sub-periods (a year against a monthly frame needs all twelve months); responses of a period
without a frame are counted apart (``responses_no_frame``), never set against zero dossiers.
A frame without a ``period`` column applies to all the responses given. The responses should
cover whole frame periods: a year's dossiers against one month of responses understate the rate
twelvefold (the reports use only frames that tile the report period exactly).

Flag (``coverage_flag``), first that applies
---------------------------------------------
``no_frame``
    The group's responses all fall in periods without a frame: coverage unknown.
``not_in_frame``
    The frame covers the period but has no cell of the group (e.g. a unit missing from it):
    coverage unknown.
``excess``
    More responses than dossiers (:math:`R_g > D_g`, including :math:`D_g = 0`): suspicious,
    the frame or the responses are wrong (a stale frame, ballot stuffing, a unit mix-up).
``low``
    :math:`R_g / D_g <` ``min_rate`` (default 1 %), or fewer than ``min_responses`` responses
    (default 0: off) while the frame has more dossiers than that. Too few of the citizens
    served answered: if those who answer differ from those who do not (non-response bias), a
    larger sample of the same few does not fix it.
``""``
    None of these.

The default ``min_rate`` of 1 % follows the SIPAS methodology's sample size, Slovin's
:math:`n = N / (1 + N e^2)` with :math:`e = 5\%`: it asks :math:`n / N = 1 / (1 + N e^2) \ge 1\%`
for every unit handling up to :math:`N = 39\,600` dossiers in the period, so a rate below 1 %
falls short of the planned sample for all but the very largest units. Small samples as such are
judged by the reliability rule (:mod:`analysis.reliability`), not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.frames import DEFAULT_CELLS, PERIOD_FORMATS, period_granularity

__all__ = [
    "COVERAGE_COLUMNS",
    "COVERAGE_FLAGS",
    "DEFAULT_MIN_RATE",
    "coarsen_periods",
    "coverage",
]

DEFAULT_MIN_RATE = 0.01
"""Coverage below this (responses per dossier) is flagged ``low``."""

COVERAGE_FLAGS: tuple[str, ...] = ("no_frame", "not_in_frame", "excess", "low")
"""Values of ``coverage_flag`` besides ``""`` (in the order they are tested)."""

COVERAGE_COLUMNS: tuple[str, ...] = (
    "responses",
    "dossiers",
    "coverage",
    "cells",
    "cells_no_responses",
    "cells_no_dossiers",
    "responses_no_frame",
    "coverage_flag",
)
"""Columns of :func:`coverage` after the group columns."""

_ORDER = ("month", "quarter", "half", "year")
_MONTHS = {"month": 1, "quarter": 3, "half": 6, "year": 12}


def coarsen_periods(labels: pd.Series, granularity: str) -> pd.Series:
    """Relabel period labels to a coarser (or the same) ``granularity``.

    ``2026-07`` → ``2026-Q3`` (quarter), ``2026-H2`` (half), ``2026`` (year); ``2026-Q3`` →
    ``2026-H2``, ``2026``; ``2026-H1`` → ``2026``.

    Raises
    ------
    ValueError
        A label is not a period, or is coarser than ``granularity``.
    """
    if granularity not in PERIOD_FORMATS:
        raise ValueError(f"unknown period granularity {granularity!r}; use {list(PERIOD_FORMATS)}")
    text = labels.astype(str)
    out = []
    cache: dict[str, str] = {}
    for label in text:
        if label not in cache:
            cache[label] = _coarsen(label, granularity)
        out.append(cache[label])
    return pd.Series(out, index=labels.index, dtype=object)


def _granularity_of(label: str) -> str:
    for name, rx in PERIOD_FORMATS.items():
        if rx.match(label):
            return name
    raise ValueError(f"{label!r} is not a period (use 2026, 2026-H1, 2026-Q3 or 2026-07)")


def _coarsen(label: str, granularity: str) -> str:
    own = _granularity_of(label)
    if _ORDER.index(own) > _ORDER.index(granularity):
        raise ValueError(f"period {label!r} is coarser than {granularity}")
    year = label[:4]
    if own == "year":
        first = 1
    elif own == "half":
        first = 1 + 6 * (int(label[6]) - 1)
    elif own == "quarter":
        first = 1 + 3 * (int(label[6]) - 1)
    else:
        first = int(label[5:7])
    if granularity == "year":
        return year
    if granularity == "half":
        return f"{year}-H{(first - 1) // 6 + 1}"
    if granularity == "quarter":
        return f"{year}-Q{(first - 1) // 3 + 1}"
    return f"{year}-{first:02d}"


def _summed(table: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """One row per key (missing keys, e.g. responses without a field, kept as a group)."""
    if table.empty:
        return pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys}, value: []})
    return table.groupby(keys, dropna=False, sort=False, observed=True)[value].sum().reset_index()


def _ancestors(code: object, parents: Mapping[str, str | None]) -> list[object]:
    found: list[object] = [code]
    seen = {code}
    current = parents.get(code) if isinstance(code, str) else None
    while current is not None and current not in seen:
        found.append(current)
        seen.add(current)
        current = parents.get(current)
    return found


def coverage(
    responses: pd.DataFrame,
    frame: pd.DataFrame | None,
    *,
    by: Sequence[str] = ("agency_code",),
    cells: Sequence[str] = DEFAULT_CELLS,
    min_rate: float = DEFAULT_MIN_RATE,
    min_responses: int = 0,
    parents: Mapping[str, str | None] | None = None,
    rollup_column: str = "agency_code",
) -> pd.DataFrame:
    r"""Responses against dossiers per group, with the flag of the module docstring.

    Parameters
    ----------
    responses : pandas.DataFrame
        Columns ``*cells``, optionally ``period``, and ``responses`` (a count per row; rows of
        the same cell and period are added up). A missing cell code (e.g. no field) is a cell of
        its own, never in the frame.
    frame : pandas.DataFrame or None
        The dossier volumes: ``*cells``, optionally ``period``, ``dossiers`` (as
        :func:`analysis.frames.load_frame` returns). ``None`` or empty: no frame.
    by : sequence of str
        The group columns, a subset of ``cells`` (``[]``: one row for everything).
    cells : sequence of str
        The cell columns of the frame (default ``agency_code, field_code``).
    min_rate : float
        Coverage below this is flagged ``low`` (default 1 %).
    min_responses : int
        Fewer responses than this are flagged ``low`` when the group has more dossiers than
        that (default 0: off).
    parents : mapping, optional
        Parent of each code of ``rollup_column``: a group then also counts the cells of every
        unit under it (a district covers its communes), as the reports' figures do.
    rollup_column : str
        The column ``parents`` applies to.

    Returns
    -------
    pandas.DataFrame
        ``*by`` then :data:`COVERAGE_COLUMNS`: ``responses`` (all, ``responses_no_frame``
        of them in periods without a frame),
        ``dossiers`` (float, NaN when the frame has no cell of the group), ``coverage``
        (:math:`R/D`, NaN when unknown or :math:`D = 0`), ``cells`` (frame cells of the group),
        ``cells_no_responses`` (frame cells without a response), ``cells_no_dossiers`` (cells
        with responses that the frame lacks), ``responses_no_frame`` (responses in periods
        without a frame) and ``coverage_flag``. Sorted by ``by``.

    Raises
    ------
    ValueError
        Missing columns, ``by`` not within ``cells``, a bad period, a frame with periods
        against responses without, or a negative ``min_rate`` / ``min_responses``.
    """
    cells = list(cells)
    by = list(by)
    if not set(by) <= set(cells):
        raise ValueError(f"by {by} must be among the cell columns {cells}")
    if min_rate < 0 or min_responses < 0:
        raise ValueError("min_rate and min_responses must not be negative")
    if parents is not None and rollup_column not in cells:
        raise ValueError(f"rollup_column {rollup_column!r} is not a cell column")
    _require(responses, [*cells, "responses"], "responses")
    if frame is None:
        frame = pd.DataFrame({**{c: pd.Series(dtype=object) for c in cells}, "dossiers": []})
    _require(frame, [*cells, "dossiers"], "frame")

    resp = responses[[*cells, *(["period"] if "period" in responses else []), "responses"]].copy()
    vol = frame[[*cells, *(["period"] if "period" in frame else []), "dossiers"]].copy()
    resp["responses"] = pd.to_numeric(resp["responses"]).astype("int64")
    vol["dossiers"] = pd.to_numeric(vol["dossiers"]).astype(float)
    for table in (resp, vol):
        for column in cells:
            table[column] = table[column].astype(object).where(table[column].notna(), None)

    framed_mask, resp, vol = _align_periods(resp, vol)
    period_key = ["period"] if "period" in vol.columns else []
    keys = [*cells, *period_key]
    inside = _summed(resp[framed_mask], keys, "responses")
    outside = _summed(resp[~framed_mask], cells, "responses").rename(
        columns={"responses": "responses_no_frame"}
    )
    volumes = _summed(vol, keys, "dossiers")
    table = inside.merge(volumes, on=keys, how="outer")
    table["responses"] = table["responses"].fillna(0).astype("int64")
    table["responses_no_frame"] = 0
    outside["responses"] = 0
    outside["dossiers"] = np.nan
    table = pd.concat([table, outside], ignore_index=True) if len(outside) else table
    table["responses_no_frame"] = table["responses_no_frame"].fillna(0).astype("int64")

    if parents is not None and len(table):
        expanded = [
            (i, ancestor)
            for i, code in enumerate(table[rollup_column])
            for ancestor in _ancestors(code, parents)
        ]
        rows = [i for i, _ in expanded]
        table = table.iloc[rows].reset_index(drop=True)
        table[rollup_column] = [ancestor for _, ancestor in expanded]

    has_volume = table["dossiers"].notna()
    table = table.assign(
        _cell=has_volume.astype("int64"),
        _empty=(has_volume & (table["responses"] == 0)).astype("int64"),
        _unframed=(~has_volume & (table["responses"] > 0)).astype("int64"),
    )
    sums = {
        "responses": ("responses", "sum"),
        "dossiers": ("dossiers", lambda s: s.sum(min_count=1)),
        "cells": ("_cell", "sum"),
        "cells_no_responses": ("_empty", "sum"),
        "cells_no_dossiers": ("_unframed", "sum"),
        "responses_no_frame": ("responses_no_frame", "sum"),
    }
    groups = by or ["_all"]
    if not by:
        table = table.assign(_all=0)
    out = table.groupby(groups, dropna=False, sort=True, observed=True).agg(**sums).reset_index()
    if not by and out.empty:
        out = pd.DataFrame({"_all": [0], **{name: [0] for name in sums}})
        out["dossiers"] = np.nan
    out["dossiers"] = out["dossiers"].astype(float)
    out["responses"] += out["responses_no_frame"]
    responses_ = (out["responses"] - out["responses_no_frame"]).to_numpy(dtype=float)
    dossiers = out["dossiers"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dossiers > 0, responses_ / dossiers, np.nan)
    out["coverage"] = rate
    out["coverage_flag"] = _flags(out, rate, min_rate, min_responses)
    for column in ("responses", "cells", "cells_no_responses", "cells_no_dossiers"):
        out[column] = out[column].astype("int64")
    out["responses_no_frame"] = out["responses_no_frame"].astype("int64")
    return out[[*by, *COVERAGE_COLUMNS]].reset_index(drop=True)


def _require(table: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")


def _align_periods(
    resp: pd.DataFrame, vol: pd.DataFrame
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """Bring both sides to the coarser granularity; which responses fall in a framed period."""
    if "period" not in vol.columns:
        resp = resp.drop(columns=["period"], errors="ignore")
        framed = pd.Series(len(vol) > 0, index=resp.index)
        return framed, resp, vol
    if "period" not in resp.columns:
        raise ValueError("the frame has periods: give the responses a period column too")
    if vol.empty:
        vol = vol.drop(columns=["period"])
        return pd.Series(False, index=resp.index), resp.drop(columns=["period"]), vol
    frame_grain = period_granularity(vol["period"].astype(str))
    grains = {_granularity_of(str(p)) for p in resp["period"].unique()}
    coarse = max([frame_grain, *grains], key=_ORDER.index)
    # A coarse period is framed when the frame holds every one of its sub-periods.
    stored = pd.Series(sorted(set(vol["period"].astype(str))))
    parts = stored.groupby(coarsen_periods(stored, coarse)).size()
    needed = _MONTHS[coarse] // _MONTHS[frame_grain]
    complete = set(parts.index[parts == needed])
    vol = vol.assign(period=coarsen_periods(vol["period"], coarse))
    vol = vol[vol["period"].isin(complete)]
    resp = resp.assign(period=coarsen_periods(resp["period"], coarse))
    return resp["period"].isin(complete), resp, vol


def _flags(out: pd.DataFrame, rate: np.ndarray, min_rate: float, min_responses: int) -> list[str]:
    flags = []
    framed = out["responses"] - out["responses_no_frame"]
    for responses, dossiers, cells, unframed, r in zip(
        framed, out["dossiers"], out["cells"], out["responses_no_frame"], rate, strict=True
    ):
        if cells == 0:
            flags.append("not_in_frame" if responses > 0 else ("no_frame" if unframed > 0 else ""))
        elif responses > dossiers:
            flags.append("excess")
        elif dossiers > 0 and (r < min_rate or (responses < min_responses < dossiers)):
            flags.append("low")
        else:
            flags.append("")
    return flags
