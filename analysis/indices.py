r"""Satisfaction indices (SIPAS): criterion shares, factor, aspect and overall indices.

For item :math:`j` and respondent :math:`i` with weight :math:`w_i`: :math:`a_{ij}=1` when the
answer is valid (1–5), :math:`s_{ij}=1` when valid and at least the form's satisfied threshold.

* Criterion index :math:`R_j = 100\,\sum_i w_i s_{ij} / \sum_i w_i a_{ij}` (a ratio estimator;
  R: ``svyratio(~s0_j, ~a_j, design)``).
* Version A (default): factor index = weighted mean of its criterion indices, aspect = of its
  factors, SIPAS = of the factors or aspects (``form.aggregation``); linearised score
  :math:`z_i=\sum_j c_j\,\delta_i (s_{ij}-\hat P_j a_{ij})/\hat T_{a_j}`
  (R: ``svycontrast(svytotal(~s0_1+...+a_1+...), quote((s0_1/a_1+...)/k))``).
* Version B: the domain mean of each respondent's score :math:`r_{ie}` (share of satisfied
  answers within the index; R: ``svymean(~r_e, subset(design, !is.na(r_e)))``).

Every estimate gets an SE (Taylor linearisation, :mod:`analysis.variance`), an interval
(:mod:`analysis.intervals`), :math:`n`, :math:`n^*`, a design effect, degrees of freedom and a
reliability verdict (:mod:`analysis.reliability`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.counts import RESPONSE_ITEM, answered_item, score_item
from analysis.design import Design
from analysis.errors import AnalysisError, CountTableError
from analysis.estimators import (
    Domains,
    PreparedCounts,
    RatioSpec,
    check_nonempty,
    domains_by,
    prepare,
    ratio_estimates,
    response_presence,
)
from analysis.hierarchy import Hierarchy, hierarchy_from_form
from analysis.intervals import effective_n, share_intervals
from analysis.reliability import NCHS_2017, ReliabilityRule, assess
from analysis.replicates import (
    ReplicateWeights,
    replicate_df,
    replicate_estimates,
    replicate_variance,
)
from analysis.results import RESULT_COLUMNS, IndexResult
from analysis.variance import Linearized, domain_df, variance

__all__ = [
    "CIMethod",
    "DeffKind",
    "IndicatorFit",
    "design_effects",
    "estimate_indicators",
    "satisfaction_indices",
]

CIMethod = Literal["logit", "beta", "wilson", "wald", "wald_z"]
DeffKind = Literal["auto", "without_replacement", "replace"]
"""Reference variance of the design effect (see :func:`design_effects`)."""

_SAMPLE_IS_POPULATION = 1e-9
"""Relative margin under which :math:`\\hat N` counts as equal to :math:`n` (rounding of Σw)."""


def satisfaction_indices(
    counts: pd.DataFrame,
    form: Any,
    design: Design | None = None,
    *,
    by: Sequence[str] = (),
    version: Literal["A", "B"] = "A",
    ci: CIMethod = "logit",
    confidence: float = 0.95,
    deff: DeffKind = "auto",
    reliability: ReliabilityRule | None = NCHS_2017,
    parents: Mapping[str, str | None] | None = None,
    rollup_column: str = "agency_code",
    hierarchy: Hierarchy | None = None,
    replicates: ReplicateWeights | None = None,
) -> IndexResult:
    r"""Criterion, factor, aspect and SIPAS indices for every group of ``by``.

    Parameters
    ----------
    counts : DataFrame
        The count table (:mod:`analysis.counts`), built with the ``by`` columns.
    form : forms.Form
        The questionnaire (criteria, factors, aspects, aggregation weights, threshold).
    design : Design, optional
        Lonely-PSU rule, df rule, calibration (the count table already carries strata, PSUs
        and weights). Default ``Design()``.
    by : sequence of str
        Group columns; ``()`` is the whole sample. Groups are domains of one design.
    version : {"A", "B"}
        Factor/aspect/SIPAS definition: A = mean of criterion indices, B = mean respondent
        score.
    ci : {"logit", "beta", "wilson", "wald", "wald_z"}
        Interval method. ``beta`` (Korn–Graubard, NCHS conventions) and ``wilson`` apply to
        criterion shares; index rows then use ``logit`` (see ``ci_method``). ``wald`` uses t
        with the df rule, ``wald_z`` the normal quantile. At an estimate of 0 or 100 (SE 0) the
        logit interval is replaced by Korn–Graubard with :math:`n^*=n` (noted in ``ci_note``).
    confidence : float
        Two-sided level, e.g. 0.95.
    deff : {"auto", "without_replacement", "replace"}
        Reference variance of the design effect (:func:`design_effects`): R's
        ``svymean(deff=TRUE)`` (:math:`(1-n/\hat N)s^2/n`), R's ``deff="replace"``
        (:math:`s^2/n`), or ``auto`` (the default): R's without-replacement reference where the
        weights estimate a population larger than the sample (:math:`\hat N > n`), the
        with-replacement one elsewhere (no weights: the population size is unknown and R's
        deff is Inf). The design effect never enters the reliability rule.
    reliability : ReliabilityRule or None
        Presentation rule (default NCHS 2017); ``None`` flags nothing.
    parents : mapping, optional
        ``{unit: parent}``; with it, the domain of a ``rollup_column`` unit is its subtree.
    rollup_column : str
        Column the parent map applies to.
    hierarchy : Hierarchy, optional
        Override the form's aggregation tree.
    replicates : ReplicateWeights, optional
        Replicate weights (:mod:`analysis.replicates`) for the PSUs of ``counts``: the SEs,
        covariances and df then come from the replicates (R's ``as.svrepdesign``) instead of
        Taylor linearisation; the estimates, ``n``, and the reference variance of the design
        effect and of :math:`n^*` do not change. ``counts`` must not be pooled and the design
        not calibrated.

    Returns
    -------
    IndexResult
        Long table (group columns + ``level, indicator, estimate, se, ci_low, ci_high, n,
        n_eff, deff, df, suppressed, suppression_reason, flags, ci_method, ci_note,
        version``) and the joint covariance (:meth:`IndexResult.covariance`).

    Notes
    -----
    ``n`` is the number of valid answers for a criterion and the number of respondents with at
    least one valid answer in the index for an index. ``df`` follows ``design.df``: R's
    ``degf`` of the domain subset (criterion: answered rows in the group; index A: the group;
    index B: respondents with a score) or the full-design df. The design effect of a share
    or of a version-B index is R's ``svymean`` deff; for a version-A index (not a mean of a
    variable) the reference variance is the binomial one,
    :math:`(1-n/\hat N)\,\hat\theta(1-\hat\theta)/(n-1)`. An index is NaN in a group where
    one of its criteria has no valid answer.

    The effective sample size of every row, which the reliability rule reads, rests on the
    with-replacement SRS variance (NCHS 2017), whatever ``deff`` says:

    .. math::

        n^* = \min\Big(n,\ \frac{\hat\sigma^2}{\widehat V}\Big),\qquad
        \hat\sigma^2 = \frac{\sum_i w_i (y_i - \hat\theta x_i)^2}{\sum_i w_i x_i}

    (:math:`n^* = n` when :math:`\widehat V = 0` or :math:`\hat\theta\in\{0,1\}`), so
    :math:`\hat\sigma^2 = \hat p(1-\hat p)` for a share (the NCHS :math:`n^*`), the binomial
    :math:`\hat\theta(1-\hat\theta)` for a version-A index and the weighted variance of the
    respondent scores for a version-B index; :math:`n^* = (n-1)/\text{deff}_{\text{replace}}`
    before the cap. **Deviation from R:** without weights R's default deff is Inf
    (:math:`\hat N = n`: the without-replacement reference variance is 0); ``deff="auto"``
    reports the with-replacement deff there, and :math:`n^*` does not depend on it.
    """
    design = design or Design()
    if version not in ("A", "B"):
        raise AnalysisError(f"unknown index version {version!r}; use 'A' or 'B'")
    if ci not in get_args(CIMethod):
        raise AnalysisError(f"unknown interval method {ci!r}; use {list(get_args(CIMethod))}")
    if deff not in get_args(DeffKind):
        raise AnalysisError(f"unknown deff kind {deff!r}; use {list(get_args(DeffKind))}")
    if not 0.0 < confidence < 1.0:
        raise AnalysisError(f"confidence must be in (0, 1), got {confidence!r}")
    tree = hierarchy or hierarchy_from_form(form)
    prep = prepare(counts, design)
    domains = domains_by(counts, by, parents=parents, rollup_column=rollup_column)
    check_nonempty(prep, domains)
    structure = prep.structure

    fit = estimate_indicators(prep, domains, tree, version)
    lin = fit.lin
    p = lin.estimate
    reps = None
    if replicates is None:
        var = variance(structure, lin)
        if design.df == "design":
            df = np.full(p.size, float(structure.design_df))
        else:
            df = domain_df(structure, lin.present)
    else:
        reps = replicate_estimates(prep, domains, fit, replicates)
        var = replicate_variance(reps)
        if design.df == "design":
            df = np.full(p.size, float(replicate_df(replicates)))
        else:
            df = np.asarray(replicate_df(replicates, lin.present), dtype=float)
    se = np.sqrt(var)
    n, total_x, is_crit = fit.n, fit.total_x, fit.is_criterion
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = fit.srs_sum / total_x
    design_effect = design_effects(var, sigma2, n, total_x, deff)
    low, high, method, note = share_intervals(p, se, n, df, is_crit, ci, confidence)
    n_eff = effective_n(p, se, n, sigma2=sigma2)
    if reliability is not None:
        suppressed, reason, flags = assess(reliability, p, n_eff, low, high, df)
    else:
        suppressed = np.zeros(p.size, dtype=bool)
        reason = flags = np.full(p.size, "", dtype=object)

    labels = domains.labels.reset_index(drop=True)
    table = labels.iloc[fit.domain].reset_index(drop=True)
    table["level"] = fit.level
    table["indicator"] = fit.indicator
    table["estimate"] = 100 * p
    table["se"] = 100 * se
    table["ci_low"] = 100 * low
    table["ci_high"] = 100 * high
    table["n"] = n.astype(np.int64)
    table["n_eff"] = n_eff
    table["deff"] = design_effect
    table["df"] = df
    table["suppressed"] = suppressed
    table["suppression_reason"] = reason
    table["flags"] = flags
    table["ci_method"] = method
    table["ci_note"] = note
    table["version"] = version
    table = table[[*labels.columns, *RESULT_COLUMNS]]
    return IndexResult(
        table=table,
        by=tuple(labels.columns),
        version=version,
        ci=ci,
        confidence=confidence,
        df_rule=design.df,
        _structure=structure,
        _lin=lin,
        _replicates=reps,
    )


def design_effects(
    variance: np.ndarray,
    sigma2: np.ndarray,
    n: np.ndarray,
    population: np.ndarray,
    kind: DeffKind = "auto",
) -> np.ndarray:
    r"""Design effects :math:`\widehat V / V_{\text{SRS}}` of many estimates.

    .. math::

        V_{\text{SRS,wr}} = \frac{s^2}{n},\quad
        V_{\text{SRS,wor}} = \Big(1 - \frac{n}{\hat N}\Big)\frac{s^2}{n},\quad
        s^2 = \frac{n}{n-1}\hat\sigma^2

    Parameters
    ----------
    variance : ndarray
        Design-based variances :math:`\widehat V`.
    sigma2 : ndarray
        Unit variances :math:`\hat\sigma^2 = \sum w(y-\hat\theta x)^2/\sum w x`.
    n : ndarray
        Sample sizes (rows with a non-zero weight in the domain).
    population : ndarray
        Estimated population sizes :math:`\hat N = \sum w x`.
    kind : {"auto", "without_replacement", "replace"}
        ``without_replacement`` is R's ``svymean(deff=TRUE)``: Inf where :math:`\hat N = n`
        (unit weights) and NaN where :math:`\hat N < n`, as R. ``replace`` is R's
        ``deff="replace"``. ``auto`` takes ``without_replacement`` where :math:`\hat N > n`
        (the weights estimate a larger population) and ``replace`` elsewhere, where R's
        reference variance is 0 or negative (no weights, unit or normalised weights: the
        population size is unknown, and an unknown population is not a census).

    Returns
    -------
    ndarray
        The design effects (NaN where :math:`\widehat V` or :math:`s^2` is undefined).
    """
    if kind not in get_args(DeffKind):
        raise AnalysisError(f"unknown deff kind {kind!r}; use {list(get_args(DeffKind))}")
    n = np.asarray(n, dtype=float)
    population = np.asarray(population, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_wr = n / (n - 1) * np.asarray(sigma2, dtype=float) / n
        replace_deff = variance / v_wr
        wor_deff = variance / (v_wr * (1 - n / population))
    wor_deff = np.where(population < n, np.nan, wor_deff)  # as R: no SRS reference
    if kind == "replace":
        return replace_deff
    if kind == "without_replacement":
        return wor_deff
    larger = population > n * (1 + _SAMPLE_IS_POPULATION)
    return np.where(larger, wor_deff, replace_deff)


@dataclass(frozen=True, slots=True, eq=False)
class IndicatorFit:
    """All criteria and indices of every domain, criteria first (domain-major in each part).

    ``srs_sum`` is :math:`\\sum w (y-\\hat R x)^2` for shares and version-B indices and the
    binomial :math:`\\hat N\\hat\\theta(1-\\hat\\theta)` for version-A indices.

    ``specs``, ``combine`` and ``norm`` say how the estimates follow from domain totals, for
    re-estimation under other weights (:mod:`analysis.replicates`): with :math:`\\hat R` the
    ratios of :func:`~analysis.estimators.ratio_estimates` for ``specs``, the estimates are
    ``(combine.T @ R) / norm`` (``combine`` sparse: a NaN ratio only reaches the estimates
    whose coefficient on it is stored).
    """

    lin: Linearized
    domain: np.ndarray
    level: np.ndarray
    indicator: np.ndarray
    n: np.ndarray
    total_x: np.ndarray
    srs_sum: np.ndarray
    is_criterion: np.ndarray
    specs: tuple[RatioSpec, ...] = ()
    combine: sp.csc_matrix | None = None
    norm: np.ndarray | None = None


def estimate_indicators(
    prep: PreparedCounts, domains: Domains, tree: Hierarchy, version: str
) -> IndicatorFit:
    """Estimates and linearised scores of every criterion and index in every domain."""
    valid_codes = np.array(tree.valid_codes, dtype=float)

    def _valid(a: np.ndarray) -> np.ndarray:
        return np.isin(a, valid_codes).astype(float)

    def _satisfied(a: np.ndarray) -> np.ndarray:
        return _valid(a) * (a >= tree.satisfied_threshold)

    crit = [RatioSpec(j, _satisfied, _valid) for j in tree.criteria]
    nodes = list(tree.nodes)
    scores = [RatioSpec(_index_item(prep, n, version), _identity, np.ones_like) for n in nodes]
    est = ratio_estimates(prep, domains, crit + scores)
    n_c, n_s, n_d = len(crit), len(scores), domains.size
    width = n_c + n_s
    if prep.structure.pooled is not None and version == "A":
        est = replace(est, lin=_with_class_scores(est, prep, domains, tree, width))
    crit_cols = (np.arange(n_d)[:, None] * width + np.arange(n_c)[None, :]).ravel()
    score_cols = (np.arange(n_d)[:, None] * width + n_c + np.arange(n_s)[None, :]).ravel()
    lin_c = est.lin.select(crit_cols)
    n_est = est.lin.estimate.size
    if version == "A":
        lin_i, coef_i, norm_i = _version_a(
            est.lin, tree, nodes, n_d, width, response_presence(prep, domains)
        )
    else:
        lin_i = est.lin.select(score_cols)
        coef_i, norm_i = _selection(score_cols, n_est), np.ones(score_cols.size)
    lin = Linearized(
        estimate=np.concatenate([lin_c.estimate, lin_i.estimate]),
        scores=sp.hstack([lin_c.scores, lin_i.scores], format="csr"),
        cell_scores=None
        if lin_c.cell_scores is None or lin_i.cell_scores is None
        else np.hstack([lin_c.cell_scores, lin_i.cell_scores]),
        present=sp.hstack([lin_c.present, lin_i.present], format="csr"),
        row_scores=_hstack(lin_c.row_scores, lin_i.row_scores),
        class_scores=_hstack(lin_c.class_scores, lin_i.class_scores),
    )
    total_x = np.concatenate([est.total_x[crit_cols], est.total_x[score_cols]])
    srs_sum = np.concatenate([est.srs_sum[crit_cols], est.srs_sum[score_cols]])
    if version == "A":  # binomial reference for version-A indices (not means of a variable)
        p_i = lin_i.estimate
        srs_sum[crit_cols.size :] = p_i * (1 - p_i) * est.total_x[score_cols]
    node_level = np.array([nd.level for nd in nodes], dtype=object)
    return IndicatorFit(
        lin=lin,
        domain=np.concatenate([np.repeat(np.arange(n_d), n_c), np.repeat(np.arange(n_d), n_s)]),
        level=np.concatenate(
            [np.full(n_d * n_c, "criterion", dtype=object), np.tile(node_level, n_d)]
        ),
        indicator=np.concatenate(
            [
                np.tile(np.array(tree.criteria, dtype=object), n_d),
                np.tile(np.array([nd.key for nd in nodes], dtype=object), n_d),
            ]
        ),
        n=np.concatenate([est.n[crit_cols], est.n[score_cols]]),
        total_x=total_x,
        srs_sum=srs_sum,
        is_criterion=np.arange(lin.estimate.size) < crit_cols.size,
        specs=tuple(crit + scores),
        combine=sp.hstack([_selection(crit_cols, n_est), coef_i], format="csc"),
        norm=np.concatenate([np.ones(crit_cols.size), norm_i]),
    )


def _selection(columns: np.ndarray, n_rows: int) -> sp.csc_matrix:
    """The 0/1 matrix whose column ``i`` picks row ``columns[i]``."""
    return sp.csc_matrix(
        (np.ones(columns.size), (columns, np.arange(columns.size))), shape=(n_rows, columns.size)
    )


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def _hstack(first: sp.csr_matrix | None, second: sp.csr_matrix | None) -> sp.csr_matrix | None:
    if first is None and second is None:
        return None
    if first is None or second is None:
        raise AnalysisError("inconsistent pooled scores")
    return sp.hstack([first, second], format="csr")


def _with_class_scores(
    est: Any, prep: PreparedCounts, domains: Domains, tree: Hierarchy, width: int
) -> Linearized:
    r"""Criterion scores per (unit, criterion, class) of a pooled table, for index-A variances.

    For criterion :math:`j` in domain :math:`d`: :math:`\\zeta = -\\hat P/\\hat T` for a
    valid unsatisfied answer and :math:`(1-\\hat P)/\\hat T` for a satisfied one, in every
    unit of the domain.
    """
    pooled = prep.structure.pooled
    lin = est.lin
    if pooled is None:
        return lin
    if len(tree.criteria) > 1 and not pooled.items:
        raise CountTableError(
            "the pooled count table has no _pair rows, which the variance of version-A "
            "indices needs; build it with analysis.counts.counts_from_responses"
        )
    resp = prep.item_rows[RESPONSE_ITEM]
    unit = prep.structure.psu[resp]
    pairs = np.unique(
        np.concatenate(
            [
                unit[layer[resp] >= 0] * domains.size + layer[resp][layer[resp] >= 0]
                for layer in domains.layers
            ]
        )
    )
    c, d = pairs // domains.size, pairs % domains.size
    crit = [(j, pooled.items[key]) for j, key in enumerate(tree.criteria) if key in pooled.items]
    j_idx = np.array([j for j, _ in crit], dtype=np.int64)
    j_pos = np.array([p for _, p in crit], dtype=np.int64)
    col = (d[:, None] * width + j_idx[None, :]).ravel()
    row_u = pooled.class_row(np.repeat(c, j_idx.size), np.tile(j_pos, c.size), 0)
    p, t = lin.estimate[col], est.total_x[col]
    with np.errstate(divide="ignore", invalid="ignore"):
        zeta_u = np.where((t != 0) & np.isfinite(p), -p / t, 0.0)
        zeta_s = np.where((t != 0) & np.isfinite(p), (1 - p) / t, 0.0)
    class_scores = sp.csr_matrix(
        (np.r_[zeta_u, zeta_s], (np.r_[row_u, row_u + 1], np.r_[col, col])),
        shape=(pooled.n_class_rows, lin.estimate.size),
    )
    return replace(lin, class_scores=class_scores)


def _index_item(prep: PreparedCounts, node: Any, version: str) -> str:
    """The count-table item of an index: its respondent scores (B) or answered rows (A).

    Version A reads only who answered (``n`` and :math:`\\hat N` of the index); tables built
    without :func:`~analysis.counts.answered_item` rows (older SQL exports) use the score rows.
    """
    scores = score_item(node.level, node.key)
    has_scores = prep.item_rows.get(scores, np.zeros(0)).size > 0
    if version == "B":
        if not has_scores:
            raise CountTableError(
                f"the count table has no {scores!r} rows, which index version B needs; "
                "build it with index_versions including 'B'"
            )
        return scores
    answered = answered_item(node.level, node.key)
    has_answered = prep.item_rows.get(answered, np.zeros(0)).size > 0
    return answered if has_answered or not has_scores else scores


def _version_a(
    lin: Linearized,
    tree: Hierarchy,
    nodes: list[Any],
    n_d: int,
    width: int,
    presence: sp.csr_matrix,
) -> tuple[Linearized, sp.csc_matrix, np.ndarray]:
    """Index A as linear combinations of the criterion columns of every domain.

    Also returns the coefficient matrix and the coefficient sums the estimates are divided by.
    """
    coefs = tree.coefficients()
    crit_pos = {key: j for j, key in enumerate(tree.criteria)}
    rows, cols, vals = [], [], []
    for l_idx, node in enumerate(nodes):
        for item, c in coefs[(node.level, node.key)].items():
            rows.append(crit_pos[item])
            cols.append(l_idx)
            vals.append(c)
    base_r, base_c, base_v = (np.array(v) for v in (rows, cols, vals))
    d = np.repeat(np.arange(n_d), base_r.size)
    coef = sp.csc_matrix(
        (
            np.tile(base_v, n_d),
            (d * width + np.tile(base_r, n_d), d * len(nodes) + np.tile(base_c, n_d)),
        ),
        shape=(lin.estimate.size, n_d * len(nodes)),
    )
    # R's degf for index A is that of the whole group (svycontrast on the group's totals).
    present = sp.csr_matrix(presence[:, np.repeat(np.arange(n_d), len(nodes))])
    combined = lin.combine(coef, present)
    # Divide by the coefficient sums (1 up to rounding) so that an index of equal shares is
    # exactly that share (e.g. 100 when every answer is satisfied).
    norm = np.asarray(coef.T @ np.ones(coef.shape[0])).ravel()
    return replace(combined, estimate=combined.estimate / norm), coef, norm
