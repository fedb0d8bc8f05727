"""Taylor-linearisation variance for a stratified one-stage design, with calibration residuals.

Notation: PSU :math:`c` of stratum :math:`h` (:math:`m_h` PSUs in the **full** design),
:math:`u_{c,k} = \\sum_{i\\in c} w_i z_{ik}` the PSU total of the linearised score of estimate
:math:`k` (zero for PSUs without rows in the estimate's domain: domains are never separate
designs). The with-replacement ("ultimate cluster") covariance is

.. math::

    \\widehat{C}_{kl} = \\sum_h (1-f_h)\\frac{m_h}{m_h-1}
        \\sum_{c\\in h}(u_{ck}-\\bar u_{hk})(u_{cl}-\\bar u_{hl}),
    \\qquad \\bar u_{hk} = \\frac{1}{m_h}\\sum_{c\\in h} u_{ck},

computed as :math:`\\sum_h a_h \\sum_c u_{ck}u_{cl} - b_h U_{hk}U_{hl}` with
:math:`U_{hk} = \\sum_{c\\in h} u_{ck}`, :math:`a_h=(1-f_h)m_h/(m_h-1)`, :math:`b_h=a_h/m_h`
(R: ``survey:::onestrat``). Strata with one PSU follow ``lonely_psu`` (R 4.1-1 semantics,
see :data:`analysis.design.LonelyPSU`).

**Calibration.** With calibrated weights the scores are replaced by calibration residuals, as
R's ``svyrecvar`` does: :math:`\\tilde u_{c} = u_c - \\sum_g W_{cg} F_g`, where :math:`W_{cg}`
is the final weight total of PSU :math:`c` in weighting cell :math:`g` and :math:`F_g =
x_g^\\top\\hat\\beta` the fitted value of the :math:`w^0`-weighted least-squares regression of
the scores on the calibration model matrix :math:`X` (constant within cells):
:math:`\\hat\\beta = (X^\\top D_0 X)^{+} X^\\top Z_0`, :math:`D_0 = \\mathrm{diag}(W^0_g)`,
:math:`Z_{0,g} = \\sum_{i\\in g} w^0_i z_i`. For post-stratification :math:`X` is the cell
indicator and :math:`F_g = Z_{0,g}/W^0_g` (R's ``postStratify``); for ``calibrate()``
(linear or raking) it is R's ``qr.resid(qr(X*sqrt(w0)), z*sqrt(w0))*g*sqrt(w0)``.
Everything is computed from sparse PSU × estimate score totals, never per respondent.

**Pooled tables** (``psu`` = :data:`analysis.counts.POOLED_PSU`: every response its own PSU,
responses pooled per ``(stratum, cell, domains)`` unit :math:`c`). Then :math:`m_h` counts
responses and the quadratic term needs the per-response squares,

.. math::

    \\sum_{i\\in c} w_i^2 z_{ik} z_{il}
        = \\sum_{r\\in c} w^{(2)}_r z_{rk} z_{rl}
        + \\sum_{j\ne j'} \\zeta_{cjk}^\top M_{c,jj'} \\zeta_{cj'l},

where :math:`r` runs over the count rows of the unit (an answer of one item: a response has
one answer per item, so same-item products are the rows' :math:`\\sum w^2`), and the second
sum couples different criteria through the ``_pair`` rows, :math:`M_{c,jj'}` the
:math:`2\times 2` :math:`\\sum w^2` of the (valid-unsatisfied, satisfied) classes and
:math:`\\zeta_{cjk}` the score of estimate :math:`k` for each class (only version-A indices,
which mix criteria, have it). With calibration the residual :math:`z_i - F_{g(c)}` adds
:math:`-F_{gk}L_{cl} - F_{gl}L_{ck} + F_{gk}F_{gl}S_c` with :math:`L_{ck}=\\sum_{i\\in c}
w_i^2 z_{ik}` and :math:`S_c = \\sum_{i\\in c} w_i^2`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.counts import (
    PAIR_PREFIX,
    POOLED_PSU,
    RESPONSE_ITEM,
    domain_columns,
    first_rows,
    validate_counts,
)
from analysis.design import Calibration, Design
from analysis.errors import CountTableError, DesignError, LonelyPSUError

_DENSE_LIMIT = 20_000_000
"""Above this many PSU × estimate entries, calibration residuals are expanded, not formed."""

__all__ = [
    "DesignStructure",
    "Linearized",
    "PooledMoments",
    "covariance",
    "design_structure",
    "domain_df",
    "presence_union",
    "variance",
]


@dataclass(frozen=True, slots=True, eq=False)
class PooledMoments:
    """What a pooled table adds for the variance (see the module docstring).

    Attributes
    ----------
    row_w2 : ndarray
        :math:`\\sum w^2` of every count-table row.
    unit_w2 : ndarray
        :math:`S_c = \\sum_{i\\in c} w_i^2` of every unit.
    unit_cell : ndarray of int or None
        Weighting cell of every unit (calibrated designs).
    items : dict
        Position of every criterion that has ``_pair`` rows.
    pairs : csr_matrix
        Symmetric, over class rows ``(unit * len(items) + item) * 2 + class`` (class 0:
        valid-unsatisfied, 1: satisfied): the :math:`\\sum w^2` of responses in both classes,
        for different items only.
    """

    row_w2: np.ndarray
    unit_w2: np.ndarray
    unit_cell: np.ndarray | None
    items: dict[str, int]
    pairs: sp.csr_matrix

    def class_row(self, unit: np.ndarray, item: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """Index of the class rows of ``(unit, item position, class)``."""
        return (unit * len(self.items) + item) * 2 + cls

    @property
    def n_class_rows(self) -> int:
        """Number of class rows."""
        return int(self.pairs.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class DesignStructure:
    """PSUs, strata and calibration cells of a count table (built by :func:`design_structure`).

    Attributes
    ----------
    psu : ndarray of int
        PSU index of every count-table row.
    cell : ndarray of int or None
        Weighting-cell index of every row (calibrated designs only).
    stratum_of_psu : ndarray of int
        Stratum index of every PSU.
    strata : ndarray
        Stratum labels.
    m : ndarray of int
        PSUs per stratum in the full design.
    a, b : ndarray of float
        Per-stratum coefficients of :math:`\\sum_c u^2` and :math:`U_h^2` (lonely rule and fpc
        included).
    lonely : ndarray of bool
        Strata with a single PSU.
    lonely_psu : str
        The lonely-PSU rule.
    cell_weights : csr_matrix or None
        :math:`W_{cg}`, final weight totals per PSU × cell.
    projector : ndarray or None
        The :math:`G\\times G` matrix :math:`P` with :math:`F = P Z_0`.
    pooled : PooledMoments or None
        Second moments of a pooled table (see the module docstring); the PSUs above are then
        its units.
    """

    psu: np.ndarray
    cell: np.ndarray | None
    stratum_of_psu: np.ndarray
    strata: np.ndarray
    m: np.ndarray
    a: np.ndarray
    b: np.ndarray
    lonely: np.ndarray
    lonely_psu: str
    cell_weights: sp.csr_matrix | None
    projector: np.ndarray | None
    pooled: PooledMoments | None = None

    @property
    def n_psu(self) -> int:
        """Number of PSUs."""
        return int(self.stratum_of_psu.size)

    @property
    def n_strata(self) -> int:
        """Number of strata."""
        return int(self.m.size)

    @property
    def n_cells(self) -> int:
        """Number of weighting cells (0 without calibration)."""
        return 0 if self.projector is None else int(self.projector.shape[0])

    @property
    def design_df(self) -> int:
        """Degrees of freedom of the full design: PSUs (responses if pooled) minus strata."""
        return int(self.m.sum()) - self.n_strata


@dataclass(frozen=True, slots=True, eq=False)
class Linearized:
    """K estimates with the PSU totals of their linearised scores.

    Attributes
    ----------
    estimate : ndarray, shape (K,)
    scores : csr_matrix, shape (n_psu, K)
        :math:`u_{ck}`.
    cell_scores : ndarray, shape (G, K), or None
        :math:`Z_{0,gk} = \\sum_{i\\in g} w^0_i z_{ik}` (calibrated designs).
    present : csr_matrix, shape (n_psu, K)
        PSUs with non-zero-weight rows in the estimate's domain (for domain df and the
        ``average`` lonely rule): bool, or for pooled tables the number of such responses.
    row_scores : csr_matrix, shape (count rows, K), or None
        Pooled tables: :math:`z_{rk}`, the score of a response in count row :math:`r`.
    class_scores : csr_matrix, shape (class rows, K), or None
        Pooled tables: :math:`\\zeta`, the score per criterion class (estimates that mix
        criteria; see :class:`PooledMoments`).
    """

    estimate: np.ndarray
    scores: sp.csr_matrix
    cell_scores: np.ndarray | None
    present: sp.csr_matrix
    row_scores: sp.csr_matrix | None = None
    class_scores: sp.csr_matrix | None = None

    def combine(self, coef: sp.spmatrix, present: sp.csr_matrix) -> Linearized:
        """Linear combinations :math:`\\theta_l = \\sum_k C_{kl}\\hat R_k` (delta method).

        NaN estimates propagate only through non-zero coefficients.
        """
        coef = sp.csc_matrix(coef)
        return Linearized(
            estimate=np.asarray(coef.T @ self.estimate).ravel(),
            scores=sp.csr_matrix(self.scores @ coef),
            cell_scores=None if self.cell_scores is None else np.asarray(self.cell_scores @ coef),
            present=present,
            row_scores=None if self.row_scores is None else sp.csr_matrix(self.row_scores @ coef),
            class_scores=None
            if self.class_scores is None
            else sp.csr_matrix(self.class_scores @ coef),
        )

    def select(self, columns: np.ndarray) -> Linearized:
        """The estimates of the given columns."""
        return replace(
            self,
            estimate=self.estimate[columns],
            scores=self.scores[:, columns],
            cell_scores=None if self.cell_scores is None else self.cell_scores[:, columns],
            present=self.present[:, columns],
            row_scores=None if self.row_scores is None else self.row_scores[:, columns],
            class_scores=None if self.class_scores is None else self.class_scores[:, columns],
        )


def design_structure(counts: pd.DataFrame, design: Design) -> DesignStructure:
    """Factorise strata, PSUs and cells of a count table and fix the variance coefficients.

    Raises
    ------
    CountTableError, DesignError
        Bad table, fpc smaller than the sampled PSUs, calibration cells inconsistent.
    """
    cal = design.calibration
    validate_counts(
        counts,
        calibrated=cal is not None,
        negative_weights=cal is not None and cal.kind == "linear",
    )
    s_code, strata = pd.factorize(counts["stratum"], sort=True)
    pooled = _is_pooled(counts)
    if pooled:  # units: (stratum, cell, domains); every response its own PSU
        unit_cols = ["cell", *domain_columns(counts)]
        codes = [pd.factorize(counts[c], use_na_sentinel=False)[0] for c in unit_cols]
        p_code = np.zeros(len(counts), dtype=np.int64)
        for c in codes:
            p_code, _ = pd.factorize(p_code * (int(c.max(initial=0)) + 1) + c)
    else:
        p_code, _ = pd.factorize(counts["psu"])
    psu, first = _factorize_pairs(s_code, p_code)
    stratum_of_psu = s_code[first]
    resp = (counts["item"] == RESPONSE_ITEM).to_numpy()
    if pooled:
        unit_n = np.bincount(
            psu[resp], weights=counts["n"].to_numpy(float)[resp], minlength=len(first)
        )
        m = np.rint(np.bincount(stratum_of_psu, weights=unit_n, minlength=len(strata)))
        m = m.astype(np.int64)
    else:
        m = np.bincount(stratum_of_psu, minlength=len(strata))
    f = np.ones(len(strata))
    if "fpc" in counts.columns:
        fpc = np.zeros(len(strata))
        fpc[s_code] = counts["fpc"].to_numpy(dtype=float)
        pop = np.where(fpc <= 1.0, m / fpc, fpc)
        if (pop < m - 1e-9).any():
            bad = np.asarray(strata)[pop < m - 1e-9][:5].tolist()
            raise DesignError(f"fpc gives fewer population PSUs than sampled in strata {bad}")
        f = (pop - m) / pop
        f[f < 1e-7] = 0.0
    lonely = m == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(lonely, 0.0, f * m / (m - 1))
        b = np.where(lonely, 0.0, a / m)
    if design.lonely_psu == "adjust":
        a = np.where(lonely, f, a)
    cell = cell_weights = projector = None
    if cal is not None:
        cell, cell_weights, projector = _calibration(counts, psu, len(first), cal)
    moments = _pooled_moments(counts, psu, first, resp, cell) if pooled else None
    return DesignStructure(
        psu=psu,
        cell=cell,
        stratum_of_psu=stratum_of_psu,
        strata=np.asarray(strata),
        m=m,
        a=a,
        b=b,
        lonely=lonely,
        lonely_psu=design.lonely_psu,
        cell_weights=cell_weights,
        projector=projector,
        pooled=moments,
    )


def _is_pooled(counts: pd.DataFrame) -> bool:
    """Whether ``counts`` is a pooled table (every ``psu`` is :data:`POOLED_PSU`)."""
    psu = counts["psu"]
    if psu.dtype.kind in "iuf" or len(counts) == 0:
        return False
    return bool(psu.iloc[0] == POOLED_PSU)  # validate_counts: all rows or none


def _pooled_moments(
    counts: pd.DataFrame,
    unit: np.ndarray,
    first: np.ndarray,
    resp: np.ndarray,
    cell: np.ndarray | None,
) -> PooledMoments:
    """Per-row and per-unit sums of squared weights and the ``_pair`` matrix of a pooled table."""
    w2 = counts["w2"].to_numpy(dtype=float)
    n_units = len(first)
    unit_w2 = np.bincount(unit[resp], weights=w2[resp], minlength=n_units)
    item = counts["item"]
    if isinstance(item.dtype, pd.CategoricalDtype):
        code = item.cat.codes.to_numpy()
        names = [str(c) for c in item.cat.categories]
    else:
        code, uniques = pd.factorize(item.astype(str))
        names = [str(c) for c in uniques]
    pairs_of_name = [
        n[len(PAIR_PREFIX) :].split(":", 1) if n.startswith(PAIR_PREFIX) else None for n in names
    ]
    keys = list(dict.fromkeys(k for p in pairs_of_name if p for k in p))
    items = {k: i for i, k in enumerate(keys)}
    # per item name (and a last entry for a missing item): position of each criterion, or -1
    first_of = np.array([items[p[0]] if p else -1 for p in pairs_of_name] + [-1])
    second_of = np.array([items[p[-1]] if p else -1 for p in pairs_of_name] + [-1])
    firsts, seconds = first_of[code], second_of[code]
    is_pair = firsts >= 0
    firsts, seconds = firsts[is_pair], seconds[is_pair]
    answer = counts["answer"].to_numpy(dtype=float)[is_pair].astype(np.int64)
    moments = PooledMoments(w2, unit_w2, None, items, sp.csr_matrix((0, 0)))
    u = unit[is_pair]
    rows = moments.class_row(u, firsts, answer // 2)
    cols = moments.class_row(u, seconds, answer % 2)
    size = n_units * len(items) * 2
    value = w2[is_pair]
    pairs = sp.csr_matrix(
        (np.r_[value, value], (np.r_[rows, cols], np.r_[cols, rows])), shape=(size, size)
    )
    unit_cell = None if cell is None else cell[first]
    return PooledMoments(w2, unit_w2, unit_cell, items, pairs)


def _factorize_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ids of (a, b) pairs in order of first appearance, and the first row of each."""
    key = a.astype(np.int64) * (int(b.max(initial=0)) + 1) + b
    ids, _ = pd.factorize(key)
    return ids.astype(np.int64), first_rows(ids)


def _calibration(
    counts: pd.DataFrame, psu: np.ndarray, n_psu: int, cal: Calibration
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    missing = [c for c in cal.cell_columns if c not in counts.columns]
    if missing:
        raise CountTableError(f"calibrated count table lacks the cell column(s) {missing}")
    cell, labels = pd.factorize(counts["cell"])
    resp = (counts["item"] == RESPONSE_ITEM).to_numpy()
    n_cells = len(labels)
    w = counts["w"].to_numpy(dtype=float)
    w0 = counts["w0"].to_numpy(dtype=float)
    cell_weights = sp.csr_matrix(
        (w[resp], (psu[resp], cell[resp])), shape=(n_psu, n_cells), dtype=float
    )
    base_total = np.bincount(cell[resp], weights=w0[resp], minlength=n_cells)
    # The model matrix X: one indicator block per margin, constant within a cell.
    first = first_rows(cell)
    blocks = []
    for margin in cal.model_margins():
        values = counts[list(margin)].astype(str)
        key = values.iloc[:, 0]
        for col in values.columns[1:]:
            key = key + "\x1f" + values[col]
        per_row, levels = pd.factorize(key)
        if (per_row != per_row[first][cell]).any():
            raise DesignError(f"calibration margin {margin} is not constant within cells")
        block = np.zeros((n_cells, len(levels)))
        block[np.arange(n_cells), per_row[first]] = 1.0
        blocks.append(block)
    x = np.hstack(blocks)
    if (base_total <= 0).any():
        raise DesignError("a calibration cell has no base weight")
    return cell.astype(np.int64), cell_weights, _fitted_operator(x, base_total)


def _fitted_operator(x: np.ndarray, base_total: np.ndarray) -> np.ndarray:
    """:math:`P` with :math:`F = P Z_0`, i.e. :math:`P = X (X^\\top D_0 X)^+ X^\\top`.

    With :math:`Q` an orthonormal basis of the columns of :math:`D_0^{1/2}X` (rank-revealing
    QR, as R's ``qr``), :math:`P = D_0^{-1/2} Q Q^\\top D_0^{-1/2}`.
    """
    import scipy.linalg as la  # only calibrated designs need it

    root = np.sqrt(base_total)[:, None]
    q, r, _ = la.qr(root * x, mode="economic", pivoting=True)
    tol = np.abs(r[0, 0]) * max(x.shape) * np.finfo(float).eps if r.size else 0.0
    q = q[:, : int((np.abs(np.diag(r)) > tol).sum())]
    return (q / root) @ (q / root).T


def _lonely_check(structure: DesignStructure, lin: Linearized) -> None:
    if structure.lonely_psu != "fail" or not structure.lonely.any():
        return
    present = _strata_present(structure, lin.present)
    hit = present[structure.lonely].any(axis=1)
    if hit.any():
        raise LonelyPSUError(structure.strata[structure.lonely][hit])


def _strata_present(structure: DesignStructure, present: sp.csr_matrix) -> np.ndarray:
    """Dense (n_strata, K) bool: strata with a present PSU for each estimate."""
    ind = _stratum_indicator(structure)
    return np.asarray((ind @ present.astype(float)).todense()) > 0


def _stratum_indicator(structure: DesignStructure) -> sp.csr_matrix:
    n = structure.n_psu
    return sp.csr_matrix(
        (np.ones(n), (structure.stratum_of_psu, np.arange(n))), shape=(structure.n_strata, n)
    )


def _fitted(structure: DesignStructure, lin: Linearized) -> np.ndarray | None:
    if structure.projector is None:
        return None
    if lin.cell_scores is None:
        raise DesignError("calibrated design but the estimates carry no cell scores")
    return structure.projector @ lin.cell_scores


def variance(structure: DesignStructure, lin: Linearized) -> np.ndarray:
    """Variance of every estimate in ``lin`` (see the module docstring).

    Returns
    -------
    ndarray, shape (K,)
        Clamped at 0; NaN where the estimate is NaN, or for ``average`` when every present
        stratum is lonely.

    Raises
    ------
    LonelyPSUError
        With ``lonely_psu="fail"`` when a single-PSU stratum has rows in an estimate's domain.
    """
    _lonely_check(structure, lin)
    e = lin.scores
    a_psu = structure.a[structure.stratum_of_psu]
    ind = _stratum_indicator(structure)
    if e.shape[0] != len(a_psu):
        raise DesignError("score matrix does not match the design's PSUs")
    fitted = _fitted(structure, lin)
    if structure.pooled is not None:
        quad = _pooled_quad(structure, lin, fitted, full=False)
        strata_sum = np.asarray((ind @ e).todense())
        if fitted is not None:
            strata_sum = strata_sum - np.asarray((ind @ structure.cell_weights).todense()) @ fitted
        v = quad - structure.b @ (strata_sum**2)
        return _finish(structure, lin, v)
    if fitted is not None and e.shape[0] * e.shape[1] <= _DENSE_LIMIT:
        # Few PSUs: form the calibration residuals themselves (no cancellation, as R).
        e = sp.csr_matrix(e.toarray() - structure.cell_weights @ fitted)
        fitted = None
    quad = np.asarray(e.multiply(e).T @ a_psu).ravel()
    strata_sum = np.asarray((ind @ e).todense())
    if fitted is not None:  # many PSUs: expand (u - W F)^2 without a dense PSU x K matrix
        wcell = structure.cell_weights
        d_w = sp.diags(a_psu) @ wcell
        cross = np.asarray((d_w.T @ e).todense())  # G x K: sum_c a_c W_cg u_ck
        wdw = np.asarray((wcell.T @ d_w).todense())  # G x G
        quad = quad - 2 * (fitted * cross).sum(axis=0) + (fitted * (wdw @ fitted)).sum(axis=0)
        strata_sum = strata_sum - np.asarray((ind @ wcell).todense()) @ fitted
    v = quad - structure.b @ (strata_sum**2)
    return _finish(structure, lin, v)


def _finish(structure: DesignStructure, lin: Linearized, v: np.ndarray) -> np.ndarray:
    """Lonely-PSU ``average`` factor, clamping at 0 and NaN for NaN estimates."""
    if structure.lonely_psu == "average" and structure.lonely.any():
        v = v * _average_factor(structure, lin)
    v = np.where(v < 0, 0.0, v)
    return np.where(np.isnan(lin.estimate), np.nan, v)


def _average_factor(structure: DesignStructure, lin: Linearized) -> np.ndarray:
    if structure.projector is not None:  # R keeps every row of a calibrated design
        n_all = np.full(lin.estimate.size, structure.n_strata, dtype=float)
        n_lonely = np.full(lin.estimate.size, structure.lonely.sum(), dtype=float)
    else:
        present = _strata_present(structure, lin.present)
        n_all = present.sum(axis=0).astype(float)
        n_lonely = present[structure.lonely].sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_all > n_lonely, n_all / (n_all - n_lonely), np.nan)


def covariance(structure: DesignStructure, lin: Linearized) -> np.ndarray:
    """Full covariance matrix of the estimates in ``lin`` (keep K small: it is dense K × K)."""
    _lonely_check(structure, lin)
    e = sp.csc_matrix(lin.scores)
    a_psu = structure.a[structure.stratum_of_psu]
    ind = _stratum_indicator(structure)
    fitted = _fitted(structure, lin)
    if structure.pooled is not None:
        cov = _pooled_quad(structure, lin, fitted, full=True)
        strata_sum = np.asarray((ind @ e).todense())
        if fitted is not None:
            strata_sum = strata_sum - np.asarray((ind @ structure.cell_weights).todense()) @ fitted
    else:
        if fitted is not None and e.shape[0] * e.shape[1] <= _DENSE_LIMIT:
            e = sp.csc_matrix(e.toarray() - structure.cell_weights @ fitted)
            fitted = None
        d_e = sp.diags(a_psu) @ e
        cov = np.asarray((e.T @ d_e).todense())
        strata_sum = np.asarray((ind @ e).todense())
        if fitted is not None:
            wcell = structure.cell_weights
            cross = np.asarray((wcell.T @ d_e).todense())  # G x K
            wdw = np.asarray((wcell.T @ (sp.diags(a_psu) @ wcell)).todense())
            ftc = fitted.T @ cross
            cov = cov - ftc - ftc.T + fitted.T @ wdw @ fitted
            strata_sum = strata_sum - np.asarray((ind @ wcell).todense()) @ fitted
    cov = cov - strata_sum.T @ (structure.b[:, None] * strata_sum)
    if structure.lonely_psu == "average" and structure.lonely.any():
        root = np.sqrt(_average_factor(structure, lin))
        cov = cov * root[:, None] * root[None, :]
    return cov


def _pooled_quad(
    structure: DesignStructure, lin: Linearized, fitted: np.ndarray | None, *, full: bool
) -> np.ndarray:
    """:math:`\\sum_c a_c \\sum_{i\\in c} w_i^2 e_{ik} e_{il}` of a pooled table.

    The diagonal (``full=False``, shape K) or the K × K matrix; see the module docstring.
    """
    pooled = structure.pooled
    if pooled is None or lin.row_scores is None:
        raise DesignError("pooled count table but the estimates carry no row scores")
    a_unit = structure.a[structure.stratum_of_psu]
    z = sp.csr_matrix(lin.row_scores)
    a_row = a_unit[structure.psu] * pooled.row_w2
    if full:
        quad = np.asarray((z.T @ (sp.diags(a_row) @ z)).todense())
    else:
        quad = np.asarray(z.multiply(z).T @ a_row).ravel()
    if lin.class_scores is not None and pooled.pairs.nnz:
        zeta = sp.csr_matrix(lin.class_scores)
        a_cls = np.repeat(a_unit, 2 * len(pooled.items))
        m_zeta = sp.diags(a_cls) @ (pooled.pairs @ zeta)
        if full:
            quad = quad + np.asarray((zeta.T @ m_zeta).todense())
        else:
            quad = quad + np.asarray(zeta.multiply(m_zeta).sum(axis=0)).ravel()
    if fitted is not None:
        if pooled.unit_cell is None:
            raise DesignError("calibrated pooled table without weighting cells")
        n_units, n_cells = a_unit.size, fitted.shape[0]
        to_cell = sp.csr_matrix(
            (a_unit, (pooled.unit_cell, np.arange(n_units))), shape=(n_cells, n_units)
        )
        rows_w2 = sp.csr_matrix(
            (pooled.row_w2, (structure.psu, np.arange(structure.psu.size))),
            shape=(n_units, structure.psu.size),
        )
        a_l = np.asarray((to_cell @ (rows_w2 @ z)).todense())  # G x K: sum_c a_c L_ck
        a_s = to_cell @ pooled.unit_w2  # G: sum_c a_c S_c
        if full:
            cross = fitted.T @ a_l
            quad = quad - cross - cross.T + fitted.T @ (a_s[:, None] * fitted)
        else:
            quad = quad - 2 * (fitted * a_l).sum(axis=0) + (a_s[:, None] * fitted**2).sum(axis=0)
    return quad


def presence_union(first: sp.csr_matrix, second: sp.csr_matrix) -> sp.csr_matrix:
    """PSUs present in either of two estimates (for a pooled table: the larger count)."""
    if first.dtype == bool and second.dtype == bool:
        return sp.csr_matrix(first + second).astype(bool)
    return sp.csr_matrix(first.astype(float).maximum(second.astype(float)))


def domain_df(structure: DesignStructure, present: sp.csr_matrix) -> np.ndarray:
    """R's ``degf`` of each domain subset: present PSUs (responses) minus present strata."""
    if present.dtype == bool:
        n_psu = np.asarray(present.sum(axis=0)).ravel()
    else:
        n_psu = np.rint(np.asarray(present.sum(axis=0)).ravel())
    n_strata = _strata_present(structure, present).sum(axis=0)
    return (n_psu - n_strata).astype(float)
