"""Sampling design and calibration descriptions.

A :class:`Design` names the columns of the responses that hold the design variables; it is the
same object for the DataFrame path (:func:`analysis.counts.counts_from_responses`) and for the SQL
path (``survey/`` builds the count table with the same columns).

The default ``Design()`` is R's ``svydesign(ids=~1, weights=~weight)``: each respondent is its own
PSU in a single stratum (simple random sampling with weights, with-replacement variance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from analysis.errors import DesignError

__all__ = ["Calibration", "CalibrationKind", "DfRule", "Design", "LonelyPSU"]

LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]
"""Strata with one PSU, as R's ``options(survey.lonely.psu=)`` (survey 4.1-1 semantics).

``fail``
    Raise :class:`~analysis.errors.LonelyPSUError` naming the strata (R's default).
``remove``, ``certainty``
    The stratum contributes nothing to the variance (identical for one-stage designs).
``adjust``
    The single PSU total is centred at 0 (survey 4.1-1; 4.5 centres at the grand mean of PSU
    totals, which is also 0 for ratio and proportion scores): contribution :math:`(1-f_h)u_h^2`.
``average``
    Lonely strata are dropped and the variance is multiplied by :math:`H/(H-H_1)`, with
    :math:`H` the strata present in the domain and :math:`H_1` the lonely ones among them.
"""

DfRule = Literal["domain", "design"]
"""Degrees of freedom for t-based intervals.

``domain`` (R's ``degf`` of the domain subset, the default)
    PSUs with non-zero-weight rows contributing to the estimate minus strata with such rows.
``design``
    PSUs minus strata of the full design (samplics, Stata ``subpop``).
"""

CalibrationKind = Literal["poststratify", "linear", "raking"]


@dataclass(frozen=True, slots=True)
class Calibration:
    """How the final weights were calibrated, so that the variance can use calibration residuals.

    Produced by :mod:`analysis.weighting` together with the weights.

    Parameters
    ----------
    kind : {"poststratify", "linear", "raking"}
        ``poststratify`` is R's ``postStratify``; ``linear`` and ``raking`` are R's
        ``calibrate(calfun="linear"|"raking")``. The variance is the same for both calfuns: it
        only depends on the calibration model matrix (R stores ``qr(X * sqrt(w0))``).
    cell_columns : tuple of str
        Columns whose crossing defines the weighting cells. The calibration model matrix must
        be constant within a cell (for raking on agency and field margins: the agency × field
        crossing).
    margins : tuple of tuple of str, optional
        For ``linear``/``raking``: the calibration margins, each a tuple of ``cell_columns``
        (``(("agency_code",), ("field_code",))`` is R's ``~agency_code + field_code``; a margin
        with several columns is their interaction). ``None`` means the full crossing of
        ``cell_columns`` (equivalent to post-stratification). Ignored for ``poststratify``.
    base_weight_column : str
        Column of the weights before calibration (R's ``w0``).
    """

    kind: CalibrationKind
    cell_columns: tuple[str, ...]
    margins: tuple[tuple[str, ...], ...] | None
    base_weight_column: str

    def __post_init__(self) -> None:
        if self.kind not in get_args(CalibrationKind):
            raise DesignError(
                f"unknown calibration kind {self.kind!r}; use {list(get_args(CalibrationKind))}"
            )
        if not self.cell_columns:
            raise DesignError("calibration needs at least one cell column")
        if not self.base_weight_column:
            raise DesignError("calibration needs the base (pre-calibration) weight column")
        for margin in self.margins or ():
            unknown = [c for c in margin if c not in self.cell_columns]
            if not margin or unknown:
                raise DesignError(
                    f"calibration margin {margin!r} must be a non-empty tuple of cell columns "
                    f"{self.cell_columns!r}"
                )

    def model_margins(self) -> tuple[tuple[str, ...], ...]:
        """The margins that span the calibration model (the full crossing when none)."""
        if self.kind == "poststratify" or self.margins is None:
            return (self.cell_columns,)
        return self.margins


@dataclass(frozen=True, slots=True)
class Design:
    """A stratified one-stage (ultimate cluster) design with with-replacement variance.

    Parameters
    ----------
    strata : str, optional
        Column of strata (e.g. ``agency_code``). ``None``: one stratum.
    psu : str, optional
        Column of PSU ids (e.g. ``counter_code``); PSU ids are taken within strata (R's
        ``nest=TRUE``). ``None``: every response is its own PSU.
    weight : str, optional
        Column of final weights. ``None``: all weights 1. Weights must be positive.
    fpc : str, optional
        Column holding, per stratum, the sampling fraction of PSUs (a value in (0, 1]) or the
        population number of PSUs (a value > 1), as R's ``fpc``. ``None``: no finite population
        correction.
    lonely_psu : LonelyPSU
        Rule for strata with a single PSU (default ``"fail"``, as R).
    df : DfRule
        Degrees of freedom rule for t-based intervals (default ``"domain"``).
    calibration : Calibration, optional
        How the weights were calibrated. ``None``: the weights are treated as fixed.
    """

    strata: str | None = None
    psu: str | None = None
    weight: str | None = None
    fpc: str | None = None
    lonely_psu: LonelyPSU = "fail"
    df: DfRule = "domain"
    calibration: Calibration | None = None

    def __post_init__(self) -> None:
        if self.lonely_psu not in get_args(LonelyPSU):
            raise DesignError(
                f"unknown lonely_psu rule {self.lonely_psu!r}; use {list(get_args(LonelyPSU))}"
            )
        if self.df not in get_args(DfRule):
            raise DesignError(f"unknown df rule {self.df!r}; use {list(get_args(DfRule))}")
        if self.calibration is not None and self.weight is None:
            raise DesignError("a calibrated design needs the final weight column (weight=...)")

    @property
    def columns(self) -> tuple[str, ...]:
        """Every response column the design refers to."""
        cols = [self.strata, self.psu, self.weight, self.fpc]
        if self.calibration is not None:
            cols += [*self.calibration.cell_columns, self.calibration.base_weight_column]
        return tuple(dict.fromkeys(c for c in cols if c))
