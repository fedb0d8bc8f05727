r"""Replicate-weight variance: bootstrap, jackknife (JK1, JKn) and BRR, as R's ``as.svrepdesign``.

Every replicate method of a stratified one-stage design reweights whole PSUs. Replicate
:math:`r` multiplies the weight of every response of PSU :math:`(h,i)` by
:math:`a^{(r)}_{hi} \ge 0`, so the count table (:mod:`analysis.counts`), whose rows belong to
one PSU, is reweighted row by row and no response-level data are needed. Every estimate of
the engine is a smooth function of domain totals :math:`\hat T = \sum_{hi} U_{hi}`
(:math:`U_{hi}` the PSU totals of :math:`w y` and :math:`w x` of the ratios, see
:class:`analysis.indices.IndicatorFit`), so replicate :math:`r` is

.. math::

    \hat T^{(r)} = \sum_{hi} a^{(r)}_{hi} U_{hi},\qquad
    \hat\theta^{(r)} = g\big(\hat T^{(r)}\big)

(one sparse × dense product for all replicates), and the variance is R's ``svrVar``:

.. math::

    \widehat V(\hat\theta) = c \sum_{r=1}^{R} \rho_r\,(\hat\theta^{(r)} - \bar\theta)^2,
    \qquad \bar\theta = \frac1R\sum_r \hat\theta^{(r)}
    \quad(\text{or } \bar\theta = \hat\theta \text{ with } \texttt{mse=True}),

with the overall scale :math:`c` and the replicate scales :math:`\rho_r` of each method.
Replicates whose estimate is undefined (a domain with no weight left in the replicate, e.g.
a domain inside the one PSU that a jackknife replicate drops) are left out, as R's
``na.action`` does, without changing :math:`c`.

Methods (:math:`n_h` PSUs in stratum :math:`h`, :math:`f_h` the sampling fraction of fpc)

``jk1`` (R ``jk1weights``; unstratified designs)
    Replicate :math:`j` drops PSU :math:`j`: :math:`a = n/(n-1)` elsewhere, 0 for :math:`j`;
    :math:`c = (1-f)(n-1)/n`, :math:`\rho_r = 1`. :math:`R = n`.
``jkn`` (R ``jknweights``)
    One replicate per PSU :math:`j` of a stratum :math:`h` with :math:`n_h \ge 2`: PSU
    :math:`j` gets 0, the other PSUs of :math:`h` get :math:`n_h/(n_h-1)`, other strata 1;
    :math:`\rho_r = (1-f_h)(n_h-1)/n_h`, :math:`c = 1`. Single-PSU strata follow the design's
    ``lonely_psu`` as R 4.1-1: ``fail`` raises, ``remove``/``certainty`` give no replicate,
    ``average`` gives none and multiplies :math:`c` by (PSUs) / (replicates), ``adjust`` adds a
    replicate with that PSU at 0 and every PSU of the other strata at :math:`H/(H-1)`,
    :math:`\rho = (H-1)/H`. Census strata (:math:`f_h = 1`) give no replicate.
``bootstrap`` (R ``bootweights``, Canty & Davison 1999)
    In each stratum, :math:`n_h` PSUs are drawn with replacement (without fpc) and
    :math:`a_{hi}` is the number of times PSU :math:`i` was drawn; with fpc, :math:`n_h` of the
    :math:`N_h` copies of a pseudo-population of the PSUs are drawn without replacement, as R.
    :math:`c = \bar n/((\bar n-1)(R-1))` with :math:`\bar n` the harmonic mean of the
    :math:`n_h`; :math:`\rho_r = 1`.
``subbootstrap`` (R ``subbootweights``, Rao & Wu 1988 with :math:`m_h = n_h - 1`)
    :math:`n_h - 1` PSUs drawn with replacement; :math:`a_{hi} = \#\text{draws}\cdot
    n_h/(n_h-1)`; :math:`c = 1/(R-1)`, :math:`\rho_r=1`. Needs :math:`n_h \ge 2`; fpc ignored.
``brr`` (R ``brrweights``; every stratum exactly 2 PSUs)
    Balanced half-samples from the rows 2…H+1 of a Sylvester Hadamard matrix
    (``scipy.linalg.hadamard``) of order :math:`R`, the smallest power of 2 above :math:`H`:
    one PSU of each stratum gets 2, the other 0; :math:`c = 1/R`. R picks a smaller Hadamard
    matrix (a multiple of 4) when it has one, so R's BRR can have fewer replicates: any
    fully balanced set gives the same variance for linear statistics. The fpc is dropped, as
    R does (with a warning).

Replicates drawn by the engine use ``numpy.random.default_rng(seed)``; R's own replicates
(``weights(rdes)`` / ``rdes$repweights``) can be read from a file
(:func:`read_replicate_weights`) so that both sides use the same draws.

**Degrees of freedom** are R's ``degf`` of the replicate design: the rank of the replicate
weight matrix over the PSUs present (rows with weight in the estimate's domain) minus 1
(:func:`replicate_df`); for the full design, rank − 1 over all PSUs. This is not the
linearisation df (PSUs − strata): for a field domain spanning several strata the JKn df is
larger, and a bootstrap df is at most :math:`R - 1`.

**Calibrated designs** are refused: R re-calibrates every replicate (``postStratify`` /
``calibrate`` on the replicate design), and on designs where a weighting cell lies inside
one PSU that breaks down (the replicate that drops the PSU has no weight in the cell; R stops
with NaN weights). Use the linearisation variance (calibration residuals) there.

References: Lumley T (2010), *Complex Surveys*, ch. 2.4; Canty AJ, Davison AC (1999),
*Resampling-based variance estimation for labour force surveys*, The Statistician 48;
Rao JNK, Wu CFJ (1988), JASA 83:231–241; Wolter KM (2007), *Introduction to Variance
Estimation*, ch. 3–5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.counts import first_rows
from analysis.errors import AnalysisError, DesignError, LonelyPSUError

__all__ = [
    "ReplicateEstimates",
    "ReplicateKind",
    "ReplicateWeights",
    "design_psus",
    "generate_replicate_weights",
    "read_replicate_weights",
    "replicate_covariance",
    "replicate_df",
    "replicate_estimates",
    "replicate_variance",
]

ReplicateKind = Literal["bootstrap", "subbootstrap", "jk1", "jkn", "brr"]
"""Replicate methods (R ``as.svrepdesign(type=)``: bootstrap, subbootstrap, JK1, JKn, BRR)."""

_CHUNK = 4_000_000
"""Largest estimates × replicates block computed at once."""


@dataclass(frozen=True, slots=True, eq=False)
class ReplicateWeights:
    """PSU multipliers of every replicate and the variance scales (module docstring).

    Attributes
    ----------
    kind : ReplicateKind
    strata, psus : ndarray of str
        Stratum and PSU label of each row of ``multipliers`` (the count table's labels).
    multipliers : ndarray, shape (n_psu, R)
        :math:`a^{(r)}_{hi}`.
    scale : float
        :math:`c`.
    rscales : ndarray, shape (R,)
        :math:`\\rho_r`.
    mse : bool
        Centre at the full-sample estimate instead of the replicate mean (R's ``mse=TRUE``).
    rank_rule : {"jk1", "jkn", "numeric"}
        How :func:`replicate_df` gets the rank (closed forms for the jackknives the engine
        generates).
    """

    kind: ReplicateKind
    strata: np.ndarray
    psus: np.ndarray
    multipliers: np.ndarray
    scale: float
    rscales: np.ndarray
    mse: bool = False
    rank_rule: str = "numeric"

    @property
    def n_replicates(self) -> int:
        """Number of replicates :math:`R`."""
        return int(self.multipliers.shape[1])

    def with_mse(self, mse: bool) -> ReplicateWeights:
        """The same replicates centred at the full-sample estimate (``True``) or their mean."""
        return replace(self, mse=bool(mse))

    def to_frame(self) -> pd.DataFrame:
        """``stratum, psu, rep_1 … rep_R``: the file format of :func:`read_replicate_weights`."""
        cols = {f"rep_{r + 1}": self.multipliers[:, r] for r in range(self.n_replicates)}
        return pd.DataFrame({"stratum": self.strata, "psu": self.psus, **cols})

    def describe(self) -> str:
        """One line for the notes of a result."""
        centre = "full-sample estimate" if self.mse else "replicate mean"
        return (
            f"replicate weights: {self.kind}, {self.n_replicates} replicates, scale "
            f"{self.scale:.6g}, centred at the {centre}; df = rank of the replicate weights - 1"
        )


def design_psus(counts: pd.DataFrame, psu_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratum and PSU labels (text) of the PSUs of a count table, in ``psu_index`` order.

    ``psu_index`` is :attr:`analysis.variance.DesignStructure.psu` (PSU index of each row).
    """
    first = first_rows(psu_index)
    strata = counts["stratum"].astype(str).to_numpy(dtype=object)[first]
    psus = counts["psu"].astype(str).to_numpy(dtype=object)[first]
    return strata, psus


def _sampling_fractions(counts: pd.DataFrame, psu_index: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per PSU, the sampling fraction :math:`f_h` of its stratum (0 without fpc)."""
    first = first_rows(psu_index)
    if "fpc" not in counts.columns:
        return np.zeros(first.size)
    fpc = counts["fpc"].to_numpy(dtype=float)[first]
    return np.where(fpc <= 1.0, fpc, m / fpc)


def generate_replicate_weights(
    counts: pd.DataFrame,
    psu_index: np.ndarray,
    kind: ReplicateKind,
    *,
    replicates: int = 200,
    rng: np.random.Generator | None = None,
    lonely_psu: str = "fail",
    mse: bool = False,
) -> ReplicateWeights:
    """Replicate weights of ``kind`` for the PSUs of a count table.

    Parameters
    ----------
    counts : DataFrame
        The count table (its ``stratum``, ``psu`` and optional ``fpc`` columns are read).
    psu_index : ndarray of int
        PSU index of every row (:attr:`analysis.variance.DesignStructure.psu`).
    kind : ReplicateKind
    replicates : int
        Number of bootstrap replicates (``bootstrap``, ``subbootstrap``).
    rng : numpy Generator, optional
        Source of the bootstrap draws (default ``default_rng(1)``).
    lonely_psu : str
        Single-PSU strata under ``jkn`` (see the module docstring).
    mse : bool
        Centre at the full-sample estimate.

    Raises
    ------
    DesignError
        ``jk1`` on a stratified design, ``brr`` without exactly 2 PSUs in every stratum,
        ``subbootstrap`` with a single-PSU stratum, fewer than 2 replicates.
    LonelyPSUError
        ``jkn`` with ``lonely_psu="fail"`` and a single-PSU stratum.
    """
    _check_kind(kind)
    strata, psus = design_psus(counts, psu_index)
    s_code, s_labels = pd.factorize(strata)
    m = np.bincount(s_code)
    f = _sampling_fractions(counts, psu_index, m[s_code])
    rng = rng if rng is not None else np.random.default_rng(1)
    if kind == "jk1":
        a, scale, rscales, rule = _jk1(s_labels, m, f)
    elif kind == "jkn":
        a, scale, rscales, rule = _jkn(s_code, s_labels, m, f, lonely_psu)
    elif kind == "brr":
        a, scale, rscales, rule = _brr(s_code, s_labels, m)
    else:
        if replicates < 2:
            raise DesignError("the bootstrap needs at least 2 replicates")
        if kind == "bootstrap":
            a, scale, rscales, rule = _bootstrap(s_code, m, f, replicates, rng)
        else:
            a, scale, rscales, rule = _subbootstrap(s_code, s_labels, m, replicates, rng)
    return ReplicateWeights(kind, strata, psus, a, float(scale), rscales, mse, rule)


def _check_kind(kind: str) -> None:
    if kind not in get_args(ReplicateKind):
        raise AnalysisError(
            f"unknown replicate method {kind!r}; use {list(get_args(ReplicateKind))}"
        )


def _jk1(s_labels: Any, m: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, str]:
    if len(s_labels) != 1:
        raise DesignError("jk1 is for unstratified designs; use jkn (or bootstrap) with strata")
    n = int(m[0])
    if n < 2:
        raise DesignError("jk1 needs at least 2 PSUs")
    a = np.full((n, n), n / (n - 1))
    np.fill_diagonal(a, 0.0)
    return a, (1 - f[0]) * (n - 1) / n, np.ones(n), "jk1"


def _jkn(
    s_code: np.ndarray, s_labels: Any, m: np.ndarray, f: np.ndarray, lonely_psu: str
) -> tuple[np.ndarray, float, np.ndarray, str]:
    n_psu, n_strata = s_code.size, m.size
    columns, rscales = [], []
    lonely = [h for h in range(n_strata) if m[h] == 1 and f[s_code == h][0] < 1]
    if lonely and lonely_psu == "fail":
        raise LonelyPSUError(np.asarray(s_labels)[lonely])
    for h in range(n_strata):
        members = np.flatnonzero(s_code == h)
        f_h = f[members[0]]
        if f_h >= 1:  # census stratum: no replicate (R's survey.drop.replicates)
            continue
        if m[h] == 1:
            if lonely_psu == "adjust":
                col = np.full(n_psu, n_strata / (n_strata - 1))
                col[members] = 0.0
                columns.append(col)
                rscales.append((n_strata - 1) / n_strata)
            continue
        n_h = m[h]
        for j in members:
            col = np.ones(n_psu)
            col[members] = n_h / (n_h - 1)
            col[j] = 0.0
            columns.append(col)
            rscales.append((1 - f_h) * (n_h - 1) / n_h)
    if not columns:
        raise DesignError("no stratum has two PSUs (or every stratum is a census): no jackknife")
    scale = 1.0
    if lonely_psu == "average" and len(columns) < n_psu:
        scale = n_psu / len(columns)  # R 4.1-1 jknweights
    census = any(f[s_code == h][0] >= 1 and m[h] > 1 for h in range(n_strata))
    rule = "numeric" if census or (lonely_psu == "adjust" and lonely) else "jkn"
    return np.column_stack(columns), scale, np.asarray(rscales), rule


def _brr(
    s_code: np.ndarray, s_labels: Any, m: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray, str]:
    from scipy.linalg import hadamard

    if (m != 2).any():
        bad = np.asarray(s_labels)[m != 2][:5].tolist()
        raise DesignError(
            f"brr needs exactly 2 PSUs in every stratum; strata {bad} have "
            f"{m[m != 2][:5].tolist()} PSUs (use jkn or bootstrap)"
        )
    n_strata = m.size
    order = 1 << int(np.ceil(np.log2(n_strata + 1)))
    signs = hadamard(order)[1 : n_strata + 1]  # rows 2..H+1: balanced, orthogonal
    a = np.zeros((s_code.size, order))
    for h in range(n_strata):
        first, second = np.flatnonzero(s_code == h)
        a[first] = np.where(signs[h] > 0, 2.0, 0.0)
        a[second] = 2.0 - a[first]
    return a, 1.0 / order, np.ones(order), "numeric"


def _bootstrap(
    s_code: np.ndarray, m: np.ndarray, f: np.ndarray, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray, str]:
    a = np.zeros((s_code.size, replicates))
    for h in range(m.size):
        members = np.flatnonzero(s_code == h)
        n_h = members.size
        f_h = f[members[0]]
        for r in range(replicates):
            if f_h > 0:  # R's bootstratum(popsize=): n_h of N_h pseudo-population copies
                population = np.resize(np.arange(n_h), int(round(n_h / f_h)))
                draw = rng.choice(population, n_h, replace=False)
            else:
                draw = rng.integers(0, n_h, n_h)
            a[members, r] = np.bincount(draw, minlength=n_h)
    harmonic = 1.0 / np.mean(1.0 / m)
    if harmonic <= 1:
        raise DesignError("the bootstrap needs strata with more than one PSU")
    return a, harmonic / ((harmonic - 1) * (replicates - 1)), np.ones(replicates), "numeric"


def _subbootstrap(
    s_code: np.ndarray, s_labels: Any, m: np.ndarray, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray, str]:
    if (m < 2).any():
        bad = np.asarray(s_labels)[m < 2][:5].tolist()
        raise DesignError(f"subbootstrap needs 2 PSUs per stratum; strata {bad} have one")
    a = np.zeros((s_code.size, replicates))
    for h in range(m.size):
        members = np.flatnonzero(s_code == h)
        n_h = members.size
        draws = rng.integers(0, n_h, (replicates, n_h - 1))
        for r in range(replicates):
            a[members, r] = np.bincount(draws[r], minlength=n_h) * n_h / (n_h - 1)
    return a, 1.0 / (replicates - 1), np.ones(replicates), "numeric"


def read_replicate_weights(
    source: str | Path | pd.DataFrame,
    counts: pd.DataFrame,
    psu_index: np.ndarray,
    kind: ReplicateKind,
    *,
    mse: bool = False,
) -> ReplicateWeights:
    """Replicate multipliers from a file (CSV) or table: one row per PSU.

    Columns: ``psu`` (the design's PSU ids), ``stratum`` (needed when PSU ids repeat across
    strata), then one numeric column per replicate holding :math:`a^{(r)}_{hi}`, the
    replicate weight divided by the full-sample weight (R: ``rdes$repweights`` of
    ``as.svrepdesign(..., compress=TRUE)``, or ``weights(rdes, "analysis") / weights(des)``
    on one row per PSU). The scales are R's for ``kind`` on this design, as
    ``svrepdesign(combined.weights=FALSE)`` sets them: ``bootstrap`` :math:`\\bar n/((\\bar
    n-1)(R-1))`, ``subbootstrap`` :math:`1/(R-1)`, ``jk1`` :math:`(n-1)/n`, ``jkn``
    :math:`\\rho_r = 1/\\max_{hi} a^{(r)}_{hi}`, ``brr`` :math:`1/R`. An fpc is not applied.

    Raises
    ------
    AnalysisError
        No ``psu`` column, non-numeric or negative multipliers, a PSU of the data absent from
        the file or listed twice, a PSU of the file absent from the data.
    """
    _check_kind(kind)
    if isinstance(source, pd.DataFrame):
        table = source
    else:
        try:
            table = pd.read_csv(source, dtype={"psu": str, "stratum": str})
        except (OSError, ValueError) as exc:
            raise AnalysisError(f"cannot read the replicate weights {source}: {exc}") from None
    if "psu" not in table.columns:
        raise AnalysisError("the replicate weights need a 'psu' column (and 'stratum')")
    rep_cols = [c for c in table.columns if c not in ("psu", "stratum")]
    if len(rep_cols) < 2:
        raise AnalysisError("the replicate weights need at least 2 replicate columns")
    values = table[rep_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise AnalysisError("replicate multipliers must be finite numbers >= 0")
    strata, psus = design_psus(counts, psu_index)
    by_stratum = "stratum" in table.columns
    file_keys = table["psu"].astype(str).str.strip()
    data_keys = pd.Series(psus, dtype=object)
    if by_stratum:
        file_keys = table["stratum"].astype(str).str.strip() + "\x1f" + file_keys
        data_keys = pd.Series(strata, dtype=object) + "\x1f" + data_keys
    elif data_keys.duplicated().any():
        raise AnalysisError("PSU ids repeat across strata: add a 'stratum' column")
    if file_keys.duplicated().any():
        dup = file_keys[file_keys.duplicated()].str.replace("\x1f", "/").head(5).tolist()
        raise AnalysisError(f"the replicate weights list PSU(s) {dup} twice")
    position = pd.Index(file_keys).get_indexer(data_keys)
    if (position < 0).any():
        absent = data_keys[position < 0].str.replace("\x1f", "/").head(5).tolist()
        raise AnalysisError(f"the replicate weights have no row for PSU(s) {absent}")
    extra = np.setdiff1d(np.arange(len(table)), position)
    if extra.size:
        shown = file_keys.iloc[extra].str.replace("\x1f", "/").head(5).tolist()
        raise AnalysisError(f"the replicate weights list PSU(s) {shown} that are not in the data")
    a = values[position]
    n_rep = a.shape[1]
    rscales = np.ones(n_rep)
    if kind == "bootstrap":
        m = np.bincount(pd.factorize(strata)[0])
        harmonic = 1.0 / np.mean(1.0 / m)
        if harmonic <= 1:
            raise DesignError("the bootstrap needs strata with more than one PSU")
        scale = harmonic / ((harmonic - 1) * (n_rep - 1))
    elif kind == "subbootstrap":
        scale = 1.0 / (n_rep - 1)
    elif kind == "jk1":
        scale = (a.shape[0] - 1) / a.shape[0]
    elif kind == "jkn":
        scale, rscales = 1.0, 1.0 / a.max(axis=0)
    else:
        scale = 1.0 / n_rep
    return ReplicateWeights(kind, strata, psus, a, float(scale), rscales, mse, "numeric")


@dataclass(frozen=True, slots=True, eq=False)
class ReplicateEstimates:
    """Replicate estimates of E estimates (see :func:`replicate_estimates`).

    Attributes
    ----------
    estimate : ndarray, shape (E,)
        Full-sample estimates.
    thetas : ndarray, shape (E, R)
        :math:`\\hat\\theta^{(r)}` (NaN where undefined in a replicate).
    weights : ReplicateWeights
    """

    estimate: np.ndarray
    thetas: np.ndarray
    weights: ReplicateWeights

    def select(self, rows: np.ndarray) -> ReplicateEstimates:
        """The estimates of the given rows."""
        return ReplicateEstimates(self.estimate[rows], self.thetas[rows], self.weights)


def replicate_estimates(
    prep: Any, domains: Any, fit: Any, weights: ReplicateWeights
) -> ReplicateEstimates:
    """Re-estimate every estimate of ``fit`` under every replicate.

    Parameters
    ----------
    prep : analysis.estimators.PreparedCounts
    domains : analysis.estimators.Domains
    fit : analysis.indices.IndicatorFit
        Its ``specs``, ``combine`` and ``norm`` give the estimates from the domain ratios.
    weights : ReplicateWeights
        Aligned to ``prep.structure``'s PSUs (as :func:`generate_replicate_weights` and
        :func:`read_replicate_weights` return them).

    Raises
    ------
    DesignError
        A pooled count table (no PSU rows to reweight) or a calibrated design.
    """
    from analysis.estimators import ratio_terms

    structure = prep.structure
    if structure.pooled is not None:
        raise DesignError(
            "replicate weights need a count table with one PSU per row group; build it with "
            "counts_from_responses(..., pooled=False)"
        )
    if structure.projector is not None:
        raise DesignError(
            "replicate variance of a calibrated design (post-stratified, raked, calibrated) "
            "is not available: R re-calibrates every replicate, which fails where a weighting "
            "cell lies inside one PSU. Use the linearisation variance (calibration residuals)."
        )
    if fit.combine is None or fit.norm is None:
        raise AnalysisError("the estimates carry no map from domain totals")
    a = weights.multipliers
    if a.shape[0] != structure.n_psu:
        raise DesignError("the replicate weights do not match the design's PSUs")
    terms = ratio_terms(prep, domains, fit.specs)
    w = prep.w[terms.rows]
    psu = structure.psu[terms.rows]
    shape = (structure.n_psu, terms.n_estimates)
    u_y = sp.csr_matrix((w * terms.y, (psu, terms.k)), shape=shape).T.tocsr()
    u_x = sp.csr_matrix((w * terms.x, (psu, terms.k)), shape=shape).T.tocsr()
    combine_t = sp.csr_matrix(fit.combine.T)
    n_rep = a.shape[1]
    thetas = np.empty((combine_t.shape[0], n_rep))
    step = max(1, _CHUNK // max(1, terms.n_estimates))
    for start in range(0, n_rep, step):
        block = a[:, start : start + step]
        t_y = u_y @ block
        t_x = u_x @ block
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(t_x > 0, t_y / t_x, np.nan)
        thetas[:, start : start + step] = (combine_t @ ratio) / fit.norm[:, None]
    return ReplicateEstimates(fit.lin.estimate, thetas, weights)


def _centred(rep: ReplicateEstimates) -> tuple[np.ndarray, np.ndarray]:
    """Deviations :math:`\\hat\\theta^{(r)} - \\bar\\theta` (0 where undefined) and validity."""
    valid = np.isfinite(rep.thetas)
    rscales = rep.weights.rscales
    dev = np.where(valid, rep.thetas - rep.estimate[:, None], 0.0)
    if not rep.weights.mse:  # centre at the mean of the (valid, rscale > 0) replicates
        use = valid & (rscales > 0)[None, :]
        count = use.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(use, dev, 0.0).sum(axis=1) / count
        dev = np.where(valid, dev - shift[:, None], 0.0)
    return dev, valid


def replicate_variance(rep: ReplicateEstimates) -> np.ndarray:
    """:math:`c\\sum_r \\rho_r(\\hat\\theta^{(r)}-\\bar\\theta)^2` per estimate (NaN if undefined).

    Replicates where an estimate is undefined are left out of its variance (R's
    ``na.action = na.omit``); an estimate undefined in every replicate, or NaN itself, has a
    NaN variance.
    """
    dev, valid = _centred(rep)
    v = rep.weights.scale * (dev**2 @ rep.weights.rscales)
    undefined = np.isnan(rep.estimate) | ~valid.any(axis=1)
    return np.where(undefined, np.nan, v)


def replicate_covariance(rep: ReplicateEstimates) -> np.ndarray:
    """Covariance of the estimates (K × K); replicates undefined for any of them are left out."""
    keep = np.isfinite(rep.thetas).all(axis=0)
    if not keep.any():
        return np.full((rep.estimate.size, rep.estimate.size), np.nan)
    sub = ReplicateEstimates(
        rep.estimate,
        rep.thetas[:, keep],
        replace(rep.weights, rscales=rep.weights.rscales[keep]),
    )
    dev, _ = _centred(sub)
    cov = sub.weights.scale * (dev * sub.weights.rscales[None, :]) @ dev.T
    nan = np.isnan(rep.estimate)
    cov[nan, :] = np.nan
    cov[:, nan] = np.nan
    return cov


def replicate_df(
    weights: ReplicateWeights, present: sp.csr_matrix | None = None
) -> np.ndarray | float:
    """R's ``degf`` of a replicate design: rank of the multipliers of the present PSUs − 1.

    Parameters
    ----------
    weights : ReplicateWeights
    present : csr_matrix (n_psu × E) of bool, optional
        PSUs with weight in each estimate's domain. ``None``: the full design (a float).

    Notes
    -----
    For the jackknives the engine generates the rank has a closed form, used instead of a
    numerical rank: JK1, :math:`|P|` (the rows :math:`\\tfrac{n}{n-1}(\\mathbf 1 - e_i)` are
    independent); JKn, :math:`|P| - \\max(0, k - 1)` with :math:`k` the strata whose PSUs are
    all present (each such stratum's rows sum to :math:`n_h\\mathbf 1`), single-PSU strata
    without a replicate counting as fully present. Other replicates use the numerical rank
    (SVD, relative tolerance 1e-9).
    """
    a = weights.multipliers
    if present is None:
        return float(_rank(weights, np.arange(a.shape[0])) - 1)
    present = sp.csc_matrix(present)
    out = np.empty(present.shape[1])
    cache: dict[bytes, float] = {}
    for e in range(present.shape[1]):
        rows = present.indices[present.indptr[e] : present.indptr[e + 1]]
        rows = np.sort(rows[present.data[present.indptr[e] : present.indptr[e + 1]] != 0])
        key = rows.tobytes()
        if key not in cache:
            cache[key] = float(_rank(weights, rows) - 1) if rows.size else np.nan
        out[e] = cache[key]
    return out


def _rank(weights: ReplicateWeights, rows: np.ndarray) -> int:
    if weights.rank_rule == "jk1":
        return int(rows.size)
    if weights.rank_rule == "jkn":
        s_code, _ = pd.factorize(weights.strata)
        size = np.bincount(s_code)
        here = np.bincount(s_code[rows], minlength=size.size)
        full = int(((here == size) & (size > 0)).sum())
        return int(rows.size - max(0, full - 1))
    sub = weights.multipliers[rows]
    if sub.size == 0:
        return 0
    s = np.linalg.svd(sub, compute_uv=False)
    return int((s > s[0] * 1e-9).sum()) if s[0] > 0 else 0
