"""The table of weighted counts that every estimator of :mod:`analysis` works on.

Schema
------
One row per ``(stratum, psu, cell, <domain columns...>, item, answer)`` that occurs in the data:

==========  ===========  ==============================================================
column      type         meaning
==========  ===========  ==============================================================
stratum     str          design stratum (``"1"`` when the design has no strata)
psu         str or int   PSU id, unique within its stratum; under the default design every
                         response is its own PSU (the table is then at response level)
cell        str          weighting cell: the crossing of ``Calibration.cell_columns``
                         (``""`` without calibration)
<domains>   any          the columns used for ``by=`` groupings (agency, field, period...)
                         and, with calibration, every ``Calibration.cell_columns`` column
item        str          an item key of the form, :data:`RESPONSE_ITEM` or a score item
answer      float64      answer code (integer valued), or the respondent's score in [0, 1]
                         for score items
n           int64        number of responses
w           float64      :math:`\\sum w_i` (final weights)
w2          float64      :math:`\\sum w_i^2`
w0          float64      :math:`\\sum w^{0}_i` (base weights; only with calibration)
fpc         float64      optional: per stratum, sampling fraction of PSUs (<= 1) or the
                         population number of PSUs (> 1); constant within a stratum
==========  ===========  ==============================================================

Rows with a skipped answer are absent. Besides the answer rows, the table has

* one :data:`RESPONSE_ITEM` row (``answer = 0``) per ``(stratum, psu, cell, domains)``
  counting **all** responses, whatever they answered: it fixes the PSUs of the design (the
  :math:`m_h`), the domain degrees of freedom of indices, and the calibration cell totals;
* score items ``"_score:<level>:<key>"`` (:func:`score_item`) for the index-B respondent
  scores: ``answer`` is the respondent's score :math:`r_{ie}` for the factor, aspect or SIPAS
  index (see :meth:`analysis.hierarchy.Hierarchy.respondent_scores`); responses without a
  defined score have no row.

The SQL side builds the same table with one ``GROUP BY stratum, psu, cell, <domains>, item,
answer`` over the answers joined to their responses (``SUM(1), SUM(w), SUM(w*w), SUM(w0)``),
a ``UNION ALL`` of the per-response rows, and the score items from a per-response CTE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import Design
from analysis.errors import CountTableError, InvalidResponsesError, UnknownItemError
from analysis.hierarchy import Hierarchy, hierarchy_from_form

__all__ = [
    "KEY_COLUMNS",
    "RESPONSE_ITEM",
    "VALUE_COLUMNS",
    "counts_from_responses",
    "domain_columns",
    "score_item",
    "validate_counts",
]

RESPONSE_ITEM = "_response"
KEY_COLUMNS: tuple[str, ...] = ("stratum", "psu", "cell")
VALUE_COLUMNS: tuple[str, ...] = ("item", "answer", "n", "w", "w2")
_OPTIONAL = ("w0", "fpc")
_MAX_LISTED = 5


def score_item(level: str, key: str) -> str:
    """Name of the index-B score item of an index (``"_score:factor:e1"``)."""
    return f"_score:{level}:{key}"


def domain_columns(counts: pd.DataFrame) -> tuple[str, ...]:
    """The domain (grouping) columns of a count table: every non-schema column."""
    fixed = set(KEY_COLUMNS) | set(VALUE_COLUMNS) | set(_OPTIONAL)
    return tuple(c for c in counts.columns if c not in fixed)


def validate_counts(
    counts: pd.DataFrame, *, calibrated: bool = False, negative_weights: bool = False
) -> None:
    """Check that ``counts`` follows the schema above.

    ``negative_weights`` allows negative (never zero) final weight sums, which linear (GREG)
    calibration can produce.

    Raises
    ------
    CountTableError
        Naming the missing column or the first offending rows.
    """
    required = list(KEY_COLUMNS) + list(VALUE_COLUMNS) + (["w0"] if calibrated else [])
    missing = [c for c in required if c not in counts.columns]
    if missing:
        raise CountTableError(f"count table lacks column(s) {missing}; see analysis.counts")
    for col in ("answer", "n", "w", "w2") + (("w0",) if calibrated else ()):
        if not pd.api.types.is_numeric_dtype(counts[col]):
            raise CountTableError(f"count table column {col!r} must be numeric")
        values = counts[col].to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if col in ("n", "w0") or (col == "w" and not negative_weights):
            bad |= values <= 0
        elif col == "w":
            bad |= values == 0
        if col == "w2":
            bad |= values < 0
        if bad.any():
            rows = np.flatnonzero(bad)[:_MAX_LISTED].tolist()
            raise CountTableError(
                f"count table column {col!r} has {int(bad.sum())} invalid value(s) "
                f"(must be finite{' and positive' if col != 'answer' else ''}), rows {rows}"
            )
    if (counts["item"] == RESPONSE_ITEM).sum() == 0 and len(counts):
        raise CountTableError(f"count table has no {RESPONSE_ITEM!r} rows (one per PSU group)")
    if "fpc" in counts.columns:
        per_stratum = counts.groupby("stratum", observed=True, sort=False)["fpc"].nunique()
        if (per_stratum > 1).any():
            bad_strata = per_stratum.index[per_stratum > 1][:_MAX_LISTED].tolist()
            raise CountTableError(f"fpc is not constant within strata {bad_strata}")


def counts_from_responses(
    responses: pd.DataFrame,
    form: Any,
    design: Design | None = None,
    *,
    by: Sequence[str] = (),
    items: Sequence[str] | None = None,
    hierarchy: Hierarchy | None = None,
) -> pd.DataFrame:
    """Build the count table from a wide response table (one row per response).

    Parameters
    ----------
    responses : DataFrame
        One row per response, one column per item key (integer codes, blank/NaN when
        skipped), plus the design and ``by`` columns.
    form : forms.Form
        The questionnaire; its rating items define the criteria and the score items.
    design : Design, optional
        Sampling design (default: every response its own PSU, weights 1 unless
        ``design.weight`` is given).
    by : sequence of str
        Domain columns to keep in the table (every grouping you want to estimate later).
    items : sequence of str, optional
        Item keys to count; default every rating item of the form, plus its expectation and
        profile items that have a column in ``responses``.
    hierarchy : Hierarchy, optional
        Aggregation tree for the score items (default: the form's).

    Returns
    -------
    DataFrame
        The count table (schema in the module docstring).

    Raises
    ------
    InvalidResponsesError
        Missing columns, non-numeric or non-integer answers, codes outside the item's
        choices, missing/non-positive/non-finite weights, blank domain values, fpc not constant
        within strata.
    UnknownItemError
        An entry of ``items`` is not an item of the form.
    """
    design = design or Design()
    hierarchy = hierarchy or hierarchy_from_form(form)
    if items is None:  # rating items are required; other items when the export has them
        rating = {i.key for i in form.rating_items}
        keys = [k for k in form.item_keys if k in rating or k in responses.columns]
    else:
        keys = list(items)
    known = set(form.item_keys)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise UnknownItemError(f"unknown item key(s) {unknown} for form {form.id}")
    by = list(dict.fromkeys(by))
    needed = list(dict.fromkeys([*design.columns, *by, *keys, *hierarchy.criteria]))
    missing = [c for c in needed if c not in responses.columns]
    if missing:
        raise InvalidResponsesError(f"responses lack column(s) {missing}")
    n_rows = len(responses)
    if n_rows == 0:
        raise InvalidResponsesError("there are no responses to analyse")

    cal = design.calibration
    weight = _weights(responses, design.weight, "weight", negative=_negative_ok(design))
    base = _weights(responses, cal.base_weight_column, "base weight") if cal else None
    for col in by:
        if responses[col].isna().any():
            raise InvalidResponsesError(
                f"column {col!r} has {int(responses[col].isna().sum())} blank value(s); "
                "fill or filter them before grouping"
            )

    # One group id per (stratum, psu, cell, domains): the rows of the count table come from it.
    key_frame = pd.DataFrame(index=responses.index)
    key_frame["stratum"] = (
        responses[design.strata].astype(str) if design.strata else pd.Series("1", responses.index)
    )
    key_frame["psu"] = responses[design.psu].astype(str) if design.psu else np.arange(n_rows)
    cell_cols = list(cal.cell_columns) if cal else []
    if cal:
        label = responses[cell_cols[0]].astype(str)
        for col in cell_cols[1:]:
            label = label + "\x1f" + responses[col].astype(str)
        key_frame["cell"] = label
    else:
        key_frame["cell"] = ""
    extra = list(dict.fromkeys([*by, *cell_cols]))
    for col in extra:
        key_frame[col] = responses[col].to_numpy()
    if design.psu is None:
        gid = np.arange(n_rows)
        first = gid
    else:
        gid, first = _factorize_rows(key_frame)
    groups = key_frame.iloc[first].reset_index(drop=True)
    for col in ["stratum", "cell", *extra]:
        groups[col] = groups[col].astype("category")
    if design.fpc:
        groups["fpc"] = _fpc_per_group(responses, design, first)

    codes = {k: _codes(responses[k], form.item(k)) for k in keys}
    row_level = design.psu is None
    parts = [_aggregate(gid, np.zeros(n_rows), RESPONSE_ITEM, weight, base, row_level)]
    for k in keys:
        c = codes[k]
        answered = ~np.isnan(c)
        parts.append(
            _aggregate(
                gid[answered], c[answered], k, weight[answered], _sub(base, answered), row_level
            )
        )

    crit = np.empty((n_rows, len(hierarchy.criteria)))
    for col, key in enumerate(hierarchy.criteria):
        crit[:, col] = codes[key] if key in codes else _codes(responses[key], form.item(key))
    valid = np.isin(crit, hierarchy.valid_codes)
    satisfied = valid & (crit >= hierarchy.satisfied_threshold)
    for (level, key), r in hierarchy.respondent_scores(satisfied * 1.0, valid * 1.0).items():
        defined = ~np.isnan(r)
        parts.append(
            _aggregate(
                gid[defined],
                r[defined],
                score_item(level, key),
                weight[defined],
                _sub(base, defined),
                row_level,
            )
        )

    long = pd.concat(parts, ignore_index=True)
    out = groups.iloc[long.pop("gid").to_numpy()].reset_index(drop=True)
    out = pd.concat([out, long], axis=1)
    out["item"] = pd.Categorical(out["item"])
    ordered = [*KEY_COLUMNS, *extra, *VALUE_COLUMNS]
    ordered += [c for c in _OPTIONAL if c in out.columns]
    return out[ordered]


def _sub(values: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[mask]


def _negative_ok(design: Design) -> bool:
    """Linear (GREG) calibration may give negative final weights, as in R."""
    return design.calibration is not None and design.calibration.kind == "linear"


def _weights(
    responses: pd.DataFrame, column: str | None, what: str, *, negative: bool = False
) -> np.ndarray:
    if column is None:
        return np.ones(len(responses))
    values = pd.to_numeric(responses[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | ((values == 0) if negative else (values <= 0))
    if bad.any():
        rows = responses.index[bad][:_MAX_LISTED].tolist()
        kind = "zero" if negative else "zero or negative"
        raise InvalidResponsesError(
            f"{what} column {column!r} has {int(bad.sum())} missing, non-numeric or {kind} "
            f"value(s) (rows {rows}); weights must be {'non-zero' if negative else 'positive'} "
            "numbers"
        )
    return values


def _codes(column: pd.Series, item: Any) -> np.ndarray:
    """Answer codes as float (NaN = skipped), checked against the item's choices."""
    raw = column
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.astype("string").str.strip()
        raw = text.mask(text == "")
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    blank = pd.isna(raw).to_numpy()
    bad_text = np.isnan(values) & ~blank
    if bad_text.any():
        examples = column[bad_text].astype(str).unique()[:_MAX_LISTED].tolist()
        raise InvalidResponsesError(
            f"item {item.key!r}: {int(bad_text.sum())} non-numeric answer(s), e.g. {examples}"
        )
    answered = ~np.isnan(values)
    allowed = np.array(sorted(item.codes), dtype=float)
    bad = answered & ~np.isin(values, allowed)
    if bad.any():
        examples = np.unique(values[bad])[:_MAX_LISTED].tolist()
        raise InvalidResponsesError(
            f"item {item.key!r}: {int(bad.sum())} answer(s) outside its codes "
            f"{sorted(item.codes)}, e.g. {examples}"
        )
    return values


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Group id per row (in order of first appearance) and the first row of every group."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for col in frame.columns:
        c, uniq = pd.factorize(frame[col], use_na_sentinel=False)
        codes = codes * (len(uniq) + 1) + c
        codes, _ = pd.factorize(codes)
    gid, _ = pd.factorize(codes)
    return gid.astype(np.int64), first_rows(gid)


def first_rows(ids: np.ndarray) -> np.ndarray:
    """Index of the first row of every id ``0..ids.max()``."""
    first = np.full(int(ids.max(initial=-1)) + 1, -1, dtype=np.int64)
    order = np.arange(len(ids))[::-1]
    first[ids[order]] = order
    return first


def _aggregate(
    gid: np.ndarray,
    answer: np.ndarray,
    item: str,
    w: np.ndarray,
    w0: np.ndarray | None,
    row_level: bool,
) -> pd.DataFrame:
    """Sum n, w, w2 (and w0) per (group, answer); ``row_level``: groups are already unique."""
    if row_level:
        key_g, key_a = gid, answer
        n = np.ones(len(gid), dtype=np.int64)
        sw, sw2, sw0 = w, w * w, w0
    else:
        inverse, values = pd.factorize(answer, sort=True)
        values = np.asarray(values, dtype=float)
        pair = gid * len(values) + inverse
        space = (int(gid.max(initial=-1)) + 1) * len(values)
        if space <= 4 * len(pair) + 1_000_000:  # dense key space: bincount, no sort
            n_all = np.bincount(pair, minlength=space)
            uniq = np.flatnonzero(n_all)
            position = np.zeros(space, dtype=np.int64)
            position[uniq] = np.arange(len(uniq))
            idx = position[pair]
            n = n_all[uniq].astype(np.int64)
        else:
            uniq, idx = np.unique(pair, return_inverse=True)
            n = np.bincount(idx, minlength=len(uniq)).astype(np.int64)
        key_g, key_a = uniq // len(values), values[uniq % len(values)]
        sw = np.bincount(idx, weights=w, minlength=len(uniq))
        sw2 = np.bincount(idx, weights=w * w, minlength=len(uniq))
        sw0 = None if w0 is None else np.bincount(idx, weights=w0, minlength=len(uniq))
    out = pd.DataFrame({"gid": key_g, "item": item, "answer": key_a, "n": n, "w": sw, "w2": sw2})
    if sw0 is not None:
        out["w0"] = sw0
    return out


def _fpc_per_group(responses: pd.DataFrame, design: Design, first: np.ndarray) -> np.ndarray:
    column = design.fpc or ""
    values = pd.to_numeric(responses[column], errors="coerce")
    if values.isna().any() or (values <= 0).any():
        raise InvalidResponsesError(f"fpc column {column!r} must be positive numbers")
    strata = responses[design.strata] if design.strata else pd.Series(0, responses.index)
    if (values.groupby(strata.to_numpy()).nunique() > 1).any():
        raise InvalidResponsesError(f"fpc column {column!r} is not constant within strata")
    return values.to_numpy(dtype=float)[first]
