"""The table of weighted counts that every estimator of :mod:`analysis` works on.

Schema
------
One row per ``(stratum, psu, cell, <domain columns...>, item, answer)`` that occurs in the data:

==========  ===========  ==============================================================
column      type         meaning
==========  ===========  ==============================================================
stratum     str          design stratum (``"1"`` when the design has no strata)
psu         str or int   PSU id, unique within its stratum. Under the default design (every
                         response its own PSU) either the response id (response level) or
                         :data:`POOLED_PSU` (``"*"``) in every row: the pooled form below
cell        str          weighting cell: the crossing of ``Calibration.cell_columns``
                         (``""`` without calibration)
<domains>   any          the columns used for ``by=`` groupings (agency, field, period...)
                         and, with calibration, every ``Calibration.cell_columns`` column
item        str          an item key of the form, :data:`RESPONSE_ITEM`, or an index item
                         (``_answered:``, ``_score:``, ``_pair:``; below)
answer      float64      answer code (integer valued), the respondent's score in [0, 1]
                         for score items, 1 for ``_answered:``, 0..3 for ``_pair:``
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
* ``"_answered:<level>:<key>"`` (:func:`answered_item`, ``answer = 1``): the responses with at
  least one valid answer among the criteria of a factor, aspect or the SIPAS index (``n`` and
  :math:`\\hat N` of version-A indices); always built;
* score items ``"_score:<level>:<key>"`` (:func:`score_item`) for the index-B respondent
  scores: ``answer`` is the respondent's score :math:`r_{ie}` for the factor, aspect or SIPAS
  index (see :meth:`analysis.hierarchy.Hierarchy.respondent_scores`); responses without a
  defined score have no row. Built only when version B is asked for (``index_versions``).
  Version A falls back to them when a table has no ``_answered:`` rows.

**Pooled form** (default design only). Every response is its own PSU, but the rows sum the
responses of each ``(stratum, cell, domains)`` group, ``psu`` is ``"*"`` in every row, and
``w2`` carries the squares the variance needs. Version-A indices mix criteria within a
response, so the table adds ``"_pair:<j>:<l>"`` rows (:func:`pair_item`, criteria
:math:`j` before :math:`l` in form order): for the responses of the group that answered both
validly, ``answer = 2 c_j + c_l`` with :math:`c = 1` when satisfied and 0 when valid but not
satisfied, and the usual sums. That is about 1,000 rows per group instead of ~28 rows per
response; :mod:`analysis.variance` gives the same results from either form.

The SQL side builds the same table with one ``GROUP BY stratum, psu, cell, <domains>, item,
answer`` over the answers joined to their responses (``SUM(1), SUM(w), SUM(w*w), SUM(w0)``),
a ``UNION ALL`` of the per-response rows, the ``_answered:`` and score items from a
per-response CTE and, for the pooled form, a self-join of the valid criteria answers of each
response (``a1.item_key < a2.item_key`` in form order) grouped by ``(..., item pair,
2*(a1.code >= 4) + (a2.code >= 4))``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import Design
from analysis.errors import CountTableError, InvalidResponsesError, UnknownItemError
from analysis.hierarchy import Hierarchy, hierarchy_from_form
from analysis.tabulate import (
    AnswerCodes,
    Groups,
    WeightSums,
    answer_index,
    factorize_column,
    first_rows,
    group_constant,
    group_rows,
    sum_by_answer,
    sum_by_group,
    sum_by_masks,
    sum_by_value,
    sum_pairs,
)

__all__ = [
    "ANSWERED_PREFIX",
    "KEY_COLUMNS",
    "PAIR_PREFIX",
    "POOLED_PSU",
    "RESPONSE_ITEM",
    "SCORE_PREFIX",
    "VALUE_COLUMNS",
    "answered_item",
    "pair_item",
    "counts_from_responses",
    "first_rows",
    "domain_columns",
    "score_item",
    "validate_counts",
]

RESPONSE_ITEM = "_response"
KEY_COLUMNS: tuple[str, ...] = ("stratum", "psu", "cell")
VALUE_COLUMNS: tuple[str, ...] = ("item", "answer", "n", "w", "w2")
_OPTIONAL = ("w0", "fpc")
_MAX_LISTED = 5


SCORE_PREFIX = "_score:"
ANSWERED_PREFIX = "_answered:"
PAIR_PREFIX = "_pair:"
POOLED_PSU = "*"
"""The ``psu`` of every row of a pooled table (default design: each response its own PSU)."""


def score_item(level: str, key: str) -> str:
    """Name of the index-B score item of an index (``"_score:factor:e1"``)."""
    return f"{SCORE_PREFIX}{level}:{key}"


def answered_item(level: str, key: str) -> str:
    """Name of the item counting respondents with a valid answer in an index."""
    return f"{ANSWERED_PREFIX}{level}:{key}"


def pair_item(first: str, second: str) -> str:
    """Name of the joint rows of two criteria in a pooled table (``"_pair:e1_1:e1_2"``)."""
    return f"{PAIR_PREFIX}{first}:{second}"


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
    _validate_pooled(counts)
    if "fpc" in counts.columns:
        per_stratum = counts.groupby("stratum", observed=True, sort=False)["fpc"].nunique()
        if (per_stratum > 1).any():
            bad_strata = per_stratum.index[per_stratum > 1][:_MAX_LISTED].tolist()
            raise CountTableError(f"fpc is not constant within strata {bad_strata}")


def _validate_pooled(counts: pd.DataFrame) -> None:
    """Pooled rows (``psu`` = :data:`POOLED_PSU`) are all or nothing; pair rows need them."""
    psu = counts["psu"]
    pooled = np.zeros(len(counts), dtype=bool)
    if psu.dtype.kind not in "iuf":
        pooled = (psu.astype(str) == POOLED_PSU).to_numpy()
    if pooled.any() and not pooled.all():
        raise CountTableError(
            f"count table mixes pooled rows (psu {POOLED_PSU!r}) with PSU ids; use one form"
        )
    item = counts["item"]
    names = item.cat.categories if isinstance(item.dtype, pd.CategoricalDtype) else item.unique()
    pair_names = [str(n) for n in names if str(n).startswith(PAIR_PREFIX)]
    if not pair_names:
        return
    is_pair = item.isin(pair_names).to_numpy()
    if is_pair.any() and not pooled.all():
        raise CountTableError(f"{PAIR_PREFIX} rows belong to pooled tables (psu {POOLED_PSU!r})")
    answers = counts["answer"].to_numpy(dtype=float)[is_pair]
    if not np.isin(answers, (0.0, 1.0, 2.0, 3.0)).all():
        raise CountTableError(f"{PAIR_PREFIX} rows must have answers 0..3 (2 c_first + c_second)")


def counts_from_responses(
    responses: pd.DataFrame,
    form: Any,
    design: Design | None = None,
    *,
    by: Sequence[str] = (),
    items: Sequence[str] | None = None,
    hierarchy: Hierarchy | None = None,
    index_versions: Collection[str] = ("A", "B"),
    pooled: bool = True,
) -> pd.DataFrame:
    """Build the count table from a wide response table (one row per response).

    Parameters
    ----------
    responses : DataFrame
        One row per response, one column per item key (integer codes, blank/NaN when
        skipped), plus the design and ``by`` columns. Integer (``int8``, ``Int8``) item columns
        and categorical id columns, as :func:`analysis.exports.read_export` returns them, are
        the fast path; text and float columns are parsed and checked.
    form : forms.Form
        The questionnaire; its rating items define the criteria and the index items.
    design : Design, optional
        Sampling design (default: every response its own PSU, weights 1 unless
        ``design.weight`` is given).
    by : sequence of str
        Domain columns to keep in the table (every grouping you want to estimate later).
    items : sequence of str, optional
        Item keys to count; default every rating item of the form, plus its expectation and
        profile items that have a column in ``responses``.
    hierarchy : Hierarchy, optional
        Aggregation tree for the index items (default: the form's).
    index_versions : collection of {"A", "B"}
        The index versions the table must serve. The respondent-score rows
        (:func:`score_item`) that only version B reads are built when ``"B"`` is in it; the
        :func:`answered_item` rows are always built.
    pooled : bool
        Only for designs without PSUs (``design.psu is None``: every response its own PSU).
        ``True`` pools the responses of every ``(stratum, cell, domains)`` group into one row
        per answer, with ``psu`` = :data:`POOLED_PSU` and the :func:`pair_item` rows that the
        variance of version-A indices needs (the table is then about 1,000 rows per group
        instead of ~28 rows per response). ``False`` keeps one PSU per response.

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
    unknown_versions = set(index_versions) - {"A", "B"}
    if unknown_versions:
        raise InvalidResponsesError(f"unknown index version(s) {sorted(unknown_versions)}")
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
    w = _weights(responses, design.weight, "weight", negative=_negative_ok(design))
    w0 = _weights(responses, cal.base_weight_column, "base weight") if cal else None
    weights = WeightSums(w, w * w, w0)
    for col in by:
        if responses[col].isna().any():
            raise InvalidResponsesError(
                f"column {col!r} has {int(responses[col].isna().sum())} blank value(s); "
                "fill or filter them before grouping"
            )

    cell_cols = list(cal.cell_columns) if cal else []
    extra = list(dict.fromkeys([*by, *cell_cols]))
    row_level = design.psu is None and not pooled
    groups, labels = _groups(responses, design, cell_cols, extra, row_level)
    if design.fpc:
        labels["fpc"] = _fpc_per_group(responses, design, first_rows(groups.ids))

    codes = {k: answer_index(responses[k], form.item(k)) for k in keys}
    for key in hierarchy.criteria:
        if key not in codes:
            codes[key] = answer_index(responses[key], form.item(key))
    names: list[str] = [RESPONSE_ITEM]
    parts = [sum_by_group(groups.ids, groups.size, weights)]
    stride = max(c.skipped for c in codes.values()) + 1
    base = groups.ids * stride
    constant = _constant_weights(groups, weights, row_level)
    for k in keys:
        names.append(k)
        parts.append(sum_by_answer(base, stride, groups.size, codes[k], weights, constant))
    del base

    valid = _Indicator(codes, hierarchy, satisfied=False)
    answered = hierarchy.answered(valid)
    names.extend(answered_item(level, key) for level, key in answered)
    parts.extend(sum_by_masks(groups.ids, groups.size, weights, list(answered.values())))
    if "B" in index_versions:
        satisfied = _Indicator(codes, hierarchy, satisfied=True)
        for (level, key), r in hierarchy.respondent_scores(satisfied, valid).items():
            defined = ~np.isnan(r)
            names.append(score_item(level, key))
            parts.append(
                sum_by_value(groups.ids[defined], r[defined], _subset(weights, defined), row_level)
            )
    if design.psu is None and pooled and len(hierarchy.criteria) > 1:
        parts.append(_pairs(groups, hierarchy, codes, weights, len(names)))
        crit = hierarchy.criteria
        first, second = np.triu_indices(len(crit), 1)
        names.extend(pair_item(crit[j], crit[m]) for j, m in zip(first, second, strict=True))
    return _assemble(labels, names, parts, extra)


def _pairs(
    groups: Groups,
    tree: Hierarchy,
    codes: dict[str, AnswerCodes],
    weights: WeightSums,
    offset: int,
) -> dict[str, np.ndarray]:
    """The :func:`pair_item` rows; their item codes start at ``offset`` (pairs in triu order)."""
    valid = _Indicator(codes, tree, satisfied=False)
    satisfied = _Indicator(codes, tree, satisfied=True)
    crit = tree.criteria
    pairs = sum_pairs(
        groups.ids,
        groups.size,
        [valid[c] for c in crit],
        [satisfied[c] for c in crit],
        weights,
    )
    k, j, m = len(crit), pairs.pop("first"), pairs.pop("second")
    pairs["item"] = offset + j * k - j * (j + 1) // 2 + (m - j - 1)
    return pairs


class _Indicator(Mapping[str, np.ndarray]):
    """Valid (or satisfied) answer indicators of the criteria, one float column on demand."""

    def __init__(self, codes: dict[str, AnswerCodes], tree: Hierarchy, *, satisfied: bool):
        self._codes = codes
        self._tree = tree
        self._satisfied = satisfied

    def __getitem__(self, key: str) -> np.ndarray:
        answers = self._codes[key]
        valid = np.isin(answers.codes, self._tree.valid_codes)
        if self._satisfied:
            valid &= answers.codes >= self._tree.satisfied_threshold
        where = np.flatnonzero(valid)
        if where.size == 0:
            return np.zeros(answers.index.size, dtype=bool)
        if where[-1] - where[0] == where.size - 1:  # a range of positions: two comparisons
            return (answers.index >= where[0]) & (answers.index <= where[-1])
        return np.append(valid, False)[answers.index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tree.criteria)

    def __len__(self) -> int:
        return len(self._tree.criteria)


def _constant_weights(groups: Groups, weights: WeightSums, row_level: bool) -> WeightSums | None:
    """Per-group weights when they are constant within groups (see ``sum_by_answer``)."""
    if row_level:
        return None
    w = group_constant(groups.ids, groups.size, weights.w)
    if w is None:
        return None
    w0 = None if weights.w0 is None else group_constant(groups.ids, groups.size, weights.w0)
    return WeightSums(w, w * w, w0)


def _subset(weights: WeightSums, mask: np.ndarray) -> WeightSums:
    return WeightSums(
        weights.w[mask], weights.w2[mask], None if weights.w0 is None else weights.w0[mask]
    )


def _groups(
    responses: pd.DataFrame,
    design: Design,
    cell_cols: list[str],
    extra: list[str],
    row_level: bool,
) -> tuple[Groups, pd.DataFrame]:
    """Group ids per ``(stratum, psu, cell, domains)`` and the label columns of every group."""
    n_rows = len(responses)
    sources = list(dict.fromkeys([c for c in (design.strata, design.psu) if c] + extra))
    coded = {c: factorize_column(responses[c]) for c in sources}
    if row_level:
        ids = np.arange(n_rows, dtype=np.int64)
        groups = Groups(ids, tuple(coded[c][0] for c in sources))
    else:
        groups = group_rows(
            [coded[c][0] for c in sources], [len(coded[c][1]) for c in sources], n_rows
        )
    position = {c: i for i, c in enumerate(sources)}

    def label(col: str) -> np.ndarray:
        return np.asarray(coded[col][1].take(groups.codes[position[col]]))

    def text(col: str) -> np.ndarray:
        return pd.Index(label(col)).astype(str).to_numpy(dtype=object)

    labels = pd.DataFrame(index=pd.RangeIndex(groups.size))
    strata = text(design.strata) if design.strata else np.full(groups.size, "1", dtype=object)
    labels["stratum"] = pd.Categorical(strata)
    if design.psu:
        labels["psu"] = text(design.psu)
    else:
        labels["psu"] = np.arange(groups.size) if row_level else POOLED_PSU
    if cell_cols:
        cell = text(cell_cols[0])
        for col in cell_cols[1:]:
            cell = cell + "\x1f" + text(col)
        labels["cell"] = pd.Categorical(cell)
    else:
        labels["cell"] = pd.Categorical([""] * groups.size)
    for col in extra:
        labels[col] = pd.Categorical(label(col))
    return groups, labels


def _assemble(
    labels: pd.DataFrame, names: list[str], parts: list[dict[str, np.ndarray]], extra: list[str]
) -> pd.DataFrame:
    """Stack the per-item sums under the group labels, in schema column order."""
    group = np.concatenate([p["group"] for p in parts])
    out = labels.iloc[group].reset_index(drop=True)
    item_codes = np.concatenate(
        [p["item"] if "item" in p else np.full(p["group"].size, i) for i, p in enumerate(parts)]
    )
    out["item"] = pd.Categorical.from_codes(item_codes, categories=pd.Index(names))
    out["answer"] = np.concatenate([p["answer"] for p in parts]).astype(float)
    out["n"] = np.concatenate([p["n"] for p in parts]).astype(np.int64)
    for col in ("w", "w2", "w0"):
        if col in parts[0]:
            out[col] = np.concatenate([p[col] for p in parts]).astype(float)
    ordered = [*KEY_COLUMNS, *extra, *VALUE_COLUMNS]
    ordered += [c for c in _OPTIONAL if c in out.columns]
    return out[ordered]


def _negative_ok(design: Design) -> bool:
    """Linear (GREG) calibration may give negative final weights, as in R."""
    return design.calibration is not None and design.calibration.kind == "linear"


def _weights(
    responses: pd.DataFrame, column: str | None, what: str, *, negative: bool = False
) -> np.ndarray:
    if column is None:
        return np.ones(len(responses))
    raw = responses[column]
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        raw = pd.to_numeric(raw, errors="coerce")
    values = raw.to_numpy(dtype=float, na_value=np.nan)
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


def _fpc_per_group(responses: pd.DataFrame, design: Design, first: np.ndarray) -> np.ndarray:
    column = design.fpc or ""
    values = pd.to_numeric(responses[column], errors="coerce")
    if values.isna().any() or (values <= 0).any():
        raise InvalidResponsesError(f"fpc column {column!r} must be positive numbers")
    strata = responses[design.strata] if design.strata else pd.Series(0, responses.index)
    if (values.groupby(strata.to_numpy()).nunique() > 1).any():
        raise InvalidResponsesError(f"fpc column {column!r} is not constant within strata")
    return values.to_numpy(dtype=float)[first]
