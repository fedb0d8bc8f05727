"""The item → factor → aspect → SIPAS tree of a form, with its aggregation weights.

This is the only place where :mod:`analysis` reads the structure of a :class:`forms.Form`; the
estimators work on the plain :class:`Hierarchy` below.

Version A (the default) combines criterion indices; with item weights :math:`w_j`, factor
weights :math:`v_k` and aspect weights :math:`u_m`:

.. math::

    F_k = \\frac{\\sum_{j\\in k} w_j P_j}{\\sum_{j\\in k} w_j},\\quad
    A_m = \\frac{\\sum_{k\\in m} v_k F_k}{\\sum_{k\\in m} v_k},\\quad
    \\mathrm{SIPAS} = \\frac{\\sum_m u_m A_m}{\\sum_m u_m}
    \\ \\text{(or the weighted mean of all factors)}

so every index is a fixed linear combination :math:`\\sum_j c_j P_j` of criterion shares
(:meth:`Hierarchy.coefficients`). Version B applies the same weighted means to each
respondent's answers (:meth:`Hierarchy.respondent_scores`), over the parts the respondent
answered, then takes the weighted mean of the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["SIPAS_KEY", "Hierarchy", "IndexLevel", "IndexNode", "hierarchy_from_form"]

IndexLevel = Literal["factor", "aspect", "sipas"]
SIPAS_KEY = "SIPAS"


@dataclass(frozen=True, slots=True)
class IndexNode:
    """One index: its key, level, children (item, factor or aspect keys) and their weights."""

    key: str
    level: IndexLevel
    children: tuple[str, ...]
    weights: tuple[float, ...]
    child_level: Literal["criterion", "factor", "aspect"]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """The aggregation tree of a form.

    Attributes
    ----------
    criteria : tuple of str
        Rating item keys, in form order.
    nodes : tuple of IndexNode
        Factors, then aspects, then the SIPAS node (children of a node come before it).
    valid_codes : tuple of int
        Rating codes that count in denominators (1..5).
    satisfied_threshold, dissatisfied_max : int
        A valid answer is satisfied when ``>= satisfied_threshold`` and dissatisfied when
        ``<= dissatisfied_max``.
    """

    criteria: tuple[str, ...]
    nodes: tuple[IndexNode, ...]
    valid_codes: tuple[int, ...] = (1, 2, 3, 4, 5)
    satisfied_threshold: int = 4
    dissatisfied_max: int = 2

    def node(self, level: IndexLevel, key: str) -> IndexNode:
        """The node of ``level`` called ``key``."""
        for n in self.nodes:
            if n.level == level and n.key == key:
                return n
        raise KeyError(f"no {level} index {key!r}")

    def coefficients(self) -> dict[tuple[IndexLevel, str], dict[str, float]]:
        """Version A: each index as ``{criterion: c_j}`` with :math:`\\theta = \\sum_j c_j P_j`."""
        out: dict[tuple[str, str], dict[str, float]] = {}
        for node in self.nodes:
            total = float(sum(node.weights))
            coef: dict[str, float] = {}
            for child, weight in zip(node.children, node.weights, strict=True):
                share = weight / total
                if node.child_level == "criterion":
                    coef[child] = coef.get(child, 0.0) + share
                    continue
                for item, c in out[(node.child_level, child)].items():
                    coef[item] = coef.get(item, 0.0) + share * c
            out[(node.level, node.key)] = coef
        return out  # type: ignore[return-value]

    def respondent_scores(
        self,
        satisfied: np.ndarray | Mapping[str, np.ndarray],
        valid: np.ndarray | Mapping[str, np.ndarray],
    ) -> dict[tuple[IndexLevel, str], np.ndarray]:
        """Version B: each respondent's score for every index (NaN when undefined).

        Parameters
        ----------
        satisfied, valid : ndarray of shape (n_respondents, n_criteria), or mapping
            0/1 indicators in the order of :attr:`criteria`, or ``{criterion: column}``
            (any mapping that yields a column per criterion key, so that callers need not
            hold an n × criteria matrix).

        Returns
        -------
        dict
            ``{(level, key): r}``: for a factor,
            :math:`r_{ik} = \\sum_{j\\in k} w_j s_{ij} / \\sum_{j\\in k} w_j a_{ij}`; for an
            aspect or SIPAS, the weighted mean of the respondent's defined child scores.
        """
        col = {key: i for i, key in enumerate(self.criteria)}

        def column(values: np.ndarray | Mapping[str, np.ndarray], key: str) -> np.ndarray:
            if isinstance(values, Mapping):
                return np.asarray(values[key])
            return values[:, col[key]]

        n_rows = len(column(valid, self.criteria[0])) if self.criteria else 0
        out: dict[tuple[str, str], np.ndarray] = {}
        for node in self.nodes:
            num = np.zeros(n_rows)
            den = np.zeros(n_rows)
            for child, weight in zip(node.children, node.weights, strict=True):
                if node.child_level == "criterion":
                    num += weight * column(satisfied, child)
                    den += weight * column(valid, child)
                    continue
                score = out[(node.child_level, child)]
                defined = ~np.isnan(score)
                num += weight * np.where(defined, score, 0.0)
                den += weight * defined
            with np.errstate(invalid="ignore", divide="ignore"):
                out[(node.level, node.key)] = np.where(den > 0, num / den, np.nan)
        return out  # type: ignore[return-value]

    def answered(self, valid: Mapping[str, np.ndarray]) -> dict[tuple[IndexLevel, str], np.ndarray]:
        """Respondents with at least one valid answer among the criteria of every index.

        ``valid`` maps each criterion key to a boolean column. An index is defined for a
        respondent (version B) exactly where this is true.
        """
        out: dict[tuple[str, str], np.ndarray] = {}
        for node in self.nodes:
            parts = [
                np.asarray(valid[c], dtype=bool)
                if node.child_level == "criterion"
                else out[(node.child_level, c)]
                for c in node.children
            ]
            out[(node.level, node.key)] = np.logical_or.reduce(parts)
        return out  # type: ignore[return-value]


def hierarchy_from_form(form: Any) -> Hierarchy:
    """Build the :class:`Hierarchy` of a :class:`forms.Form` (its factors, aspects, aggregation)."""
    agg = form.aggregation
    item_w: Mapping[str, float] = agg.item_weights
    factor_w: Mapping[str, float] = agg.factor_weights
    aspect_w: Mapping[str, float] = agg.aspect_weights
    nodes: list[IndexNode] = []
    for f in form.factors:
        nodes.append(
            IndexNode(
                f.key,
                "factor",
                tuple(f.item_keys),
                tuple(float(item_w.get(k, 1.0)) for k in f.item_keys),
                "criterion",
            )
        )
    for a in form.aspects:
        nodes.append(
            IndexNode(
                a.key,
                "aspect",
                tuple(a.factor_keys),
                tuple(float(factor_w.get(k, 1.0)) for k in a.factor_keys),
                "factor",
            )
        )
    if agg.top_level == "aspects" and form.aspects:
        keys = tuple(a.key for a in form.aspects)
        weights = tuple(float(aspect_w.get(k, 1.0)) for k in keys)
        top: Literal["factor", "aspect"] = "aspect"
    else:
        keys = tuple(f.key for f in form.factors)
        weights = tuple(float(factor_w.get(k, 1.0)) for k in keys)
        top = "factor"
    nodes.append(IndexNode(SIPAS_KEY, "sipas", keys, weights, top))
    scale = form.scale
    return Hierarchy(
        criteria=tuple(i.key for i in form.rating_items),
        nodes=tuple(nodes),
        valid_codes=tuple(sorted(scale.valid_codes)),
        satisfied_threshold=int(scale.satisfied_threshold),
        dissatisfied_max=int(scale.dissatisfied_max),
    )
