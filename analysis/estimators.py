"""Ratio estimators on the count table, for all domains of a grouping in one vectorised pass.

Every statistic of the engine is a domain ratio of two weighted totals of per-answer values:

.. math::

    \\hat R_{dj} = \\frac{\\hat T_{y}}{\\hat T_{x}}
        = \\frac{\\sum_i \\delta_{id} w_i y_j(q_{ij})}{\\sum_i \\delta_{id} w_i x_j(q_{ij})},
    \\qquad
    z_{idj} = \\delta_{id}\\,\\frac{y_j(q_{ij}) - \\hat R_{dj}\\,x_j(q_{ij})}{\\hat T_x}

(criterion share: :math:`y = 1[q \\ge 4]`, :math:`x = 1[1 \\le q \\le 5]`; mean score:
:math:`y = q`; index B: :math:`y = r_{ie}`, :math:`x = 1`). R equivalent:
``svyratio(~y, ~x, design)`` per domain, or ``svymean(~y, subset(design, x == 1))``.

Domains are given as *layers*: integer arrays over the count-table rows holding a domain id or
``-1``. A grouping is one layer; overlapping domains (agency subtrees, a unit against the whole)
use several layers. All domains × statistics are estimated with ``bincount`` and one sparse
matrix, never a loop over groups or PSUs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.counts import RESPONSE_ITEM
from analysis.design import Design
from analysis.errors import CountTableError, EmptyGroupError
from analysis.variance import DesignStructure, Linearized, design_structure

__all__ = [
    "Domains",
    "PreparedCounts",
    "RatioEstimates",
    "RatioSpec",
    "RatioTerms",
    "domains_by",
    "domains_from_masks",
    "prepare",
    "ratio_estimates",
    "ratio_terms",
]

ValueFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class RatioSpec:
    """A statistic: the item whose rows it reads and the per-answer values y and x."""

    item: str
    numerator: ValueFn
    denominator: ValueFn


@dataclass(frozen=True, slots=True, eq=False)
class PreparedCounts:
    """A count table as arrays, with its design structure and the row indices of every item."""

    counts: pd.DataFrame
    structure: DesignStructure
    answer: np.ndarray
    n: np.ndarray
    w: np.ndarray
    w0: np.ndarray | None
    item_rows: Mapping[str, np.ndarray]


@dataclass(frozen=True, slots=True, eq=False)
class Domains:
    """Domains as layers over the count-table rows (see the module docstring)."""

    layers: tuple[np.ndarray, ...]
    labels: pd.DataFrame

    @property
    def size(self) -> int:
        """Number of domains."""
        return len(self.labels)


@dataclass(frozen=True, slots=True, eq=False)
class RatioEstimates:
    """Estimates of ``n_specs`` statistics in ``n_domains`` domains (column ``d * n_specs + j``).

    Attributes
    ----------
    lin : Linearized
        Estimates and PSU score totals.
    total_x : ndarray
        :math:`\\hat T_x` (the weighted denominator, :math:`\\hat N` of the domain subset).
    n : ndarray
        Responses with a non-zero denominator value (the item's valid answers).
    srs_sum : ndarray
        :math:`\\sum_i w_i (y_i - \\hat R x_i)^2`, for the design effect.
    """

    lin: Linearized
    total_x: np.ndarray
    n: np.ndarray
    srs_sum: np.ndarray
    n_domains: int
    n_specs: int


def prepare(counts: pd.DataFrame, design: Design) -> PreparedCounts:
    """Validate a count table and index it for estimation."""
    structure = design_structure(counts, design)
    item = counts["item"]
    if isinstance(item.dtype, pd.CategoricalDtype):
        codes = item.cat.codes.to_numpy(dtype=np.int64)
        names = [str(c) for c in item.cat.categories]
    else:
        codes, names = pd.factorize(item.astype(str))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    item_rows = {str(name): order[bounds[i] : bounds[i + 1]] for i, name in enumerate(names)}
    return PreparedCounts(
        counts=counts,
        structure=structure,
        answer=counts["answer"].to_numpy(dtype=float),
        n=counts["n"].to_numpy(dtype=float),
        w=counts["w"].to_numpy(dtype=float),
        w0=counts["w0"].to_numpy(dtype=float) if design.calibration else None,
        item_rows=item_rows,
    )


def domains_by(
    counts: pd.DataFrame,
    by: Sequence[str],
    *,
    parents: Mapping[str, str | None] | None = None,
    rollup_column: str | None = None,
) -> Domains:
    """The domains of a grouping (``by=[]``: one domain, the whole sample).

    Parameters
    ----------
    by : sequence of str
        Domain columns of the count table.
    parents : mapping, optional
        ``{unit: parent unit or None}``. With ``rollup_column`` (one of ``by``), the domain of a
        unit contains its whole subtree.
    rollup_column : str, optional
        The column the parent map applies to (e.g. ``agency_code``).

    Raises
    ------
    CountTableError
        Unknown column, or a parent map with a cycle.
    """
    by = list(by)
    missing = [c for c in by if c not in counts.columns]
    if missing:
        raise CountTableError(f"unknown grouping column(s) {missing}")
    n_rows = len(counts)
    if not by:
        return Domains((np.zeros(n_rows, dtype=np.int64),), pd.DataFrame(index=range(1)))
    frame = counts[by]
    if parents is None or rollup_column is None:
        ids, labels = _group_ids(frame)
        return Domains((ids,), labels)
    if rollup_column not in by:
        raise CountTableError(f"rollup column {rollup_column!r} is not one of by={by}")
    codes, units = pd.factorize(frame[rollup_column].astype(str))
    chains = _ancestor_chains(list(units), parents)
    depth = max(len(c) for c in chains.values())
    layers_frames = []
    for level in range(depth):
        per_unit = np.array(
            [chains[u][level] if level < len(chains[u]) else "" for u in units], dtype=object
        )
        anc = per_unit[codes]
        sub = frame.copy()
        sub[rollup_column] = anc
        layers_frames.append((anc != "", sub))
    all_keys = pd.concat([f[m] for m, f in layers_frames], ignore_index=True)
    ids_all, labels = _group_ids(all_keys)
    layers, start = [], 0
    for mask, _ in layers_frames:
        layer = np.full(n_rows, -1, dtype=np.int64)
        layer[mask] = ids_all[start : start + mask.sum()]
        start += int(mask.sum())
        layers.append(layer)
    return Domains(tuple(layers), labels)


def domains_from_masks(masks: Sequence[np.ndarray], labels: pd.DataFrame) -> Domains:
    """One domain per boolean mask over the count-table rows (domains may overlap)."""
    layers = []
    for i, mask in enumerate(masks):
        layer = np.full(len(mask), -1, dtype=np.int64)
        layer[np.asarray(mask, dtype=bool)] = i
        layers.append(layer)
    return Domains(tuple(layers), labels.reset_index(drop=True))


def _group_ids(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Sorted group ids of the rows of ``frame`` and the label table."""
    codes = []
    uniques = []
    for col in frame.columns:
        c, u = pd.factorize(frame[col], sort=True)
        if (c < 0).any():
            raise CountTableError(f"grouping column {col!r} has blank values")
        codes.append(c.astype(np.int64))
        uniques.append(np.asarray(u, dtype=object))
    key = np.zeros(len(frame), dtype=np.int64)
    for c, u in zip(codes, uniques, strict=True):
        key = key * len(u) + c
    ids, uniq = pd.factorize(key, sort=True)  # hashing: no sort of the rows
    uniq = np.asarray(uniq)
    labels = {}
    rest = uniq.copy()
    for col, u in reversed(list(zip(frame.columns, uniques, strict=True))):
        labels[col] = u[rest % len(u)]
        rest //= len(u)
    out = pd.DataFrame({col: labels[col] for col in frame.columns})
    return ids.astype(np.int64), out


def _ancestor_chains(
    units: Sequence[str], parents: Mapping[str, str | None]
) -> dict[str, list[str]]:
    """For every unit: itself and its ancestors (nearest first)."""
    chains: dict[str, list[str]] = {}
    for unit in units:
        chain, seen, cur = [], set(), unit
        while cur is not None and cur != "":
            if cur in seen:
                raise CountTableError(f"the parent map has a cycle through {cur!r}")
            seen.add(cur)
            chain.append(cur)
            nxt = parents.get(cur)
            cur = None if nxt is None else str(nxt)
        chains[unit] = chain
    return chains


@dataclass(frozen=True, slots=True, eq=False)
class RatioTerms:
    """The count-table rows that enter every (domain, spec) ratio, with their values.

    Row ``rows[i]`` adds :math:`w\\,y_i` to the numerator and :math:`w\\,x_i` to the
    denominator of estimate ``k[i]`` (column ``d * n_specs + j``).
    """

    rows: np.ndarray
    k: np.ndarray
    y: np.ndarray
    x: np.ndarray
    n_estimates: int


def ratio_terms(prep: PreparedCounts, domains: Domains, specs: Sequence[RatioSpec]) -> RatioTerms:
    """The rows, estimate columns and values of every spec in every domain.

    Rows whose numerator and denominator values are both 0 are left out.
    """
    n_specs = len(specs)
    rows_l, k_l, y_l, x_l = [], [], [], []
    empty = np.zeros(0, dtype=np.int64)
    for j, spec in enumerate(specs):
        rows = prep.item_rows.get(spec.item, empty)
        values_y = spec.numerator(prep.answer[rows])
        values_x = spec.denominator(prep.answer[rows])
        keep = (values_y != 0) | (values_x != 0)
        rows, values_y, values_x = rows[keep], values_y[keep], values_x[keep]
        for layer in domains.layers:
            d = layer[rows]
            inside = d >= 0
            rows_l.append(rows[inside])
            k_l.append(d[inside] * n_specs + j)
            y_l.append(values_y[inside])
            x_l.append(values_x[inside])
    return RatioTerms(
        rows=np.concatenate(rows_l) if rows_l else empty,
        k=np.concatenate(k_l) if k_l else empty,
        y=np.concatenate(y_l).astype(float) if y_l else np.zeros(0),
        x=np.concatenate(x_l).astype(float) if x_l else np.zeros(0),
        n_estimates=domains.size * n_specs,
    )


def ratio_estimates(
    prep: PreparedCounts, domains: Domains, specs: Sequence[RatioSpec]
) -> RatioEstimates:
    """Estimate every spec in every domain, with linearised PSU score totals.

    Raises
    ------
    CountTableError
        A spec names an item absent from the count table (an item nobody answered is simply
        absent: its estimates are NaN, so pass only items of the form).
    """
    n_specs = len(specs)
    n_dom = domains.size
    terms = ratio_terms(prep, domains, specs)
    n_est = terms.n_estimates
    rows, k, y, x = terms.rows, terms.k, terms.y, terms.x
    w = prep.w[rows]
    total_y = np.bincount(k, weights=w * y, minlength=n_est)
    total_x = np.bincount(k, weights=w * x, minlength=n_est)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = total_y / total_x
        z = (y - ratio[k] * x) / total_x[k]
    ratio = np.where(total_x > 0, ratio, np.nan)
    z = np.where(np.isfinite(z), z, 0.0)
    structure = prep.structure
    psu = structure.psu[rows]
    shape = (structure.n_psu, n_est)
    scores = sp.csr_matrix((w * z, (psu, k)), shape=shape)
    valid = x != 0
    row_scores = None
    if structure.pooled is None:
        present = sp.csr_matrix(
            (np.ones(int(valid.sum())), (psu[valid], k[valid])), shape=shape
        ).astype(bool)
    else:  # pooled: responses present per unit; per-row scores for the second moments
        present = sp.csr_matrix((prep.n[rows][valid], (psu[valid], k[valid])), shape=shape)
        row_scores = sp.csr_matrix((z, (rows, k)), shape=(len(prep.counts), n_est))
    cell_scores = None
    if structure.cell is not None and prep.w0 is not None:
        n_cells = structure.n_cells
        flat = np.bincount(
            structure.cell[rows] * n_est + k, weights=prep.w0[rows] * z, minlength=n_cells * n_est
        )
        cell_scores = flat.reshape(n_cells, n_est)
    n = np.bincount(k[valid], weights=prep.n[rows][valid], minlength=n_est)
    resid = y - np.where(np.isfinite(ratio), ratio, 0.0)[k] * x
    srs_sum = np.bincount(k, weights=w * resid**2, minlength=n_est)
    lin = Linearized(ratio, scores, cell_scores, present, row_scores=row_scores)
    return RatioEstimates(lin, total_x, n, srs_sum, n_dom, n_specs)


def response_presence(prep: PreparedCounts, domains: Domains) -> sp.csr_matrix:
    """PSUs with at least one response in each domain (n_psu × n_domains, bool).

    For a pooled table: the number of responses of every unit in each domain.
    """
    rows = prep.item_rows.get(RESPONSE_ITEM)
    if rows is None:
        raise CountTableError(f"count table has no {RESPONSE_ITEM!r} rows")
    psu_l, d_l = [], []
    for layer in domains.layers:
        d = layer[rows]
        psu_l.append(prep.structure.psu[rows][d >= 0])
        d_l.append(d[d >= 0])
    psu, d = np.concatenate(psu_l), np.concatenate(d_l)
    shape = (prep.structure.n_psu, domains.size)
    if prep.structure.pooled is not None:  # responses per unit
        n = np.concatenate([prep.n[rows][layer[rows] >= 0] for layer in domains.layers])
        return sp.csr_matrix((n, (psu, d)), shape=shape)
    return sp.csr_matrix((np.ones(len(psu)), (psu, d)), shape=shape).astype(bool)


def check_nonempty(prep: PreparedCounts, domains: Domains) -> None:
    """Raise :class:`EmptyGroupError` if a domain has no response."""
    present = response_presence(prep, domains)
    empty = np.flatnonzero(np.asarray(present.sum(axis=0)).ravel() == 0)
    if empty.size:
        shown = domains.labels.iloc[empty[:5]].to_dict("records")
        raise EmptyGroupError(f"{empty.size} group(s) have no responses, e.g. {shown}")
